//! InterPodAffinity: required pod affinity and anti-affinity filter nodes by the
//! pods already running in each topology domain (including existing pods'
//! anti-affinity against the incoming pod); preferred terms score them.

mod filter;
mod score;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::framework::{ActionType, ClusterEvent, EventResource, Plugin};
use crate::labels::Labels;

pub use filter::{REASON_AFFINITY, REASON_ANTI_AFFINITY, REASON_EXISTING_ANTI_AFFINITY};

/// The plugin's name.
pub const NAME: &str = "InterPodAffinity";

/// The plugin's args (`InterPodAffinityArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InterPodAffinityArgs {
    /// Score weight of existing pods' required affinity terms that the incoming pod matches.
    #[serde(default = "default_hard_weight")]
    pub hard_pod_affinity_weight: i32,
    /// Skip existing pods' preferred terms when the incoming pod has none.
    #[serde(default)]
    pub ignore_preferred_terms_of_existing_pods: bool,
}

fn default_hard_weight() -> i32 {
    1
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false,
        }
    }
}

/// Filters and scores by inter-pod affinity.
#[derive(Debug, Default)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
}

impl InterPodAffinity {
    /// Builds the plugin from its args.
    pub fn new(args: InterPodAffinityArgs) -> Self {
        InterPodAffinity { args }
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent {
                resource: EventResource::AssignedPod,
                actions: ActionType::ADD
                    .or(ActionType::DELETE)
                    .or(ActionType::UPDATE_POD_LABEL),
            },
            ClusterEvent {
                resource: EventResource::Node,
                actions: ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
            },
        ];
        EVENTS
    }
}

/// Counts per topology pair: topology key → value → count.
#[derive(Debug, Default, Clone)]
pub(crate) struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    fn add(&mut self, key: &str, labels: &Labels, value: i64) {
        if let Some(v) = labels.get(key) {
            let m = self.0.entry(key.to_string()).or_default();
            let c = m.entry(v.clone()).or_default();
            *c += value;
            if *c == 0 {
                m.remove(v);
            }
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|m| m.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.values().all(|m| m.is_empty())
    }
}
