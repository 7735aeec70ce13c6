//! NodeResourcesBalancedAllocation: the hybrid policy. Prefers nodes where the
//! pod leaves cpu and memory used in equal shares, so neither is stranded.

use serde::{Deserialize, Serialize};

use super::resource_scoring::{allocatable_and_requested, balanced, ResourceWeight, Usage};
use crate::framework::{ActionType, ClusterEvent, CycleState, EventResource, Plugin, ScorePlugin};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// The plugin's args (`NodeResourcesBalancedAllocationArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BalancedAllocationArgs {
    /// Resources to balance (weights are ignored, as in Kubernetes).
    #[serde(default = "ResourceWeight::defaults")]
    pub resources: Vec<ResourceWeight>,
}

impl Default for BalancedAllocationArgs {
    fn default() -> Self {
        BalancedAllocationArgs {
            resources: ResourceWeight::defaults(),
        }
    }
}

/// Scores 100 × (1 − standard deviation of the requested fractions).
#[derive(Debug)]
pub struct BalancedAllocation {
    resources: Vec<String>,
}

impl BalancedAllocation {
    /// Builds the plugin from its args.
    pub fn new(args: BalancedAllocationArgs) -> Self {
        BalancedAllocation {
            resources: args.resources.into_iter().map(|r| r.name).collect(),
        }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent {
                resource: EventResource::Node,
                actions: ActionType::ADD.or(ActionType::UPDATE_NODE_ALLOCATABLE),
            },
            ClusterEvent {
                resource: EventResource::AssignedPod,
                actions: ActionType::DELETE,
            },
        ];
        EVENTS
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let mut fractions = [0f64; 8];
        let mut n = 0;
        for r in &self.resources {
            let Some((alloc, req)) = allocatable_and_requested(node, pod, r, Usage::Requested)
            else {
                continue;
            };
            if alloc == 0 || n == fractions.len() {
                continue;
            }
            fractions[n] = (req as f64 / alloc as f64).min(1.0);
            n += 1;
        }
        balanced(&fractions[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::plugins::{node_from, node_with_pods};

    #[test]
    fn prefers_nodes_left_balanced() {
        let s = CycleState::new();
        let plugin = BalancedAllocation::new(BalancedAllocationArgs::default());
        let pod = PodBuilder::new("p").cpu("1").memory("4Gi").build_info();
        // Empty 4 cpu / 16Gi node: 25% / 25% → perfectly balanced.
        assert_eq!(
            plugin.score(&s, &pod, &node_from(NodeBuilder::new("a"))),
            100
        );
        // Node already cpu heavy: 75% cpu, 25% memory → std 0.25.
        let cpu_heavy = node_with_pods(NodeBuilder::new("b"), &[PodBuilder::new("x").cpu("2")]);
        assert_eq!(plugin.score(&s, &pod, &cpu_heavy), 75);
    }
}
