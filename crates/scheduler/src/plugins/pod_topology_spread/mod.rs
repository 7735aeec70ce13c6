//! PodTopologySpread: `whenUnsatisfiable: DoNotSchedule` constraints filter
//! nodes whose domain would exceed `maxSkew` (with `minDomains`,
//! `nodeAffinityPolicy` and `nodeTaintsPolicy`); `ScheduleAnyway` constraints
//! score. Pods without constraints get the system defaults (hostname maxSkew 3,
//! zone maxSkew 5, ScheduleAnyway): this is how one owner's replicas are spread
//! over failure domains. cuttle counts "the same owner" by controller owner
//! reference, from counts the cache keeps per node and per zone.

mod filter;
mod score;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::framework::{ActionType, ClusterEvent, EventResource, Plugin};
use crate::labels::{tolerated, Effect, Selector};
use crate::node_info::NodeInfo;
use crate::plugins::node_affinity::required_matches;
use crate::pod_info::{PodInfo, SpreadConstraint, LABEL_HOSTNAME, LABEL_ZONE};

pub use filter::{REASON_CONSTRAINTS, REASON_LABEL};

/// The plugin's name.
pub const NAME: &str = "PodTopologySpread";

/// How constraints are defaulted for pods without any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DefaultingType {
    /// Kubernetes' built-in defaults (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway).
    #[default]
    System,
    /// The args' `defaultConstraints`.
    List,
}

/// The plugin's args (`PodTopologySpreadArgs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods without any (with `defaultingType: List`); their selector is
    /// "pods of the same owner".
    #[serde(default)]
    pub default_constraints: Vec<k8s_openapi::api::core::v1::TopologySpreadConstraint>,
    /// System or List.
    #[serde(default)]
    pub defaulting_type: DefaultingType,
}

/// Filters and scores by topology spread.
#[derive(Debug)]
pub struct PodTopologySpread {
    defaults: Vec<(i64, String, bool)>,
    system_defaulted: bool,
}

impl PodTopologySpread {
    /// Builds the plugin from its args.
    pub fn new(args: PodTopologySpreadArgs) -> Self {
        match args.defaulting_type {
            DefaultingType::System => PodTopologySpread {
                defaults: vec![
                    (3, LABEL_HOSTNAME.into(), false),
                    (5, LABEL_ZONE.into(), false),
                ],
                system_defaulted: true,
            },
            DefaultingType::List => PodTopologySpread {
                defaults: args
                    .default_constraints
                    .iter()
                    .map(|c| {
                        (
                            i64::from(c.max_skew.max(1)),
                            c.topology_key.clone(),
                            c.when_unsatisfiable != "ScheduleAnyway",
                        )
                    })
                    .collect(),
                system_defaulted: false,
            },
        }
    }

    /// The constraints that apply to `pod`, hard (`DoNotSchedule`) or soft, and whether
    /// they came from the system defaults.
    fn constraints(&self, pod: &PodInfo, cache: &Cache, hard: bool) -> (Vec<Constraint>, bool) {
        if !pod.spread.is_empty() {
            let cs = pod
                .spread
                .iter()
                .filter(|c| c.hard == hard)
                .map(|c| Constraint::from_pod(c, pod))
                .collect();
            return (cs, false);
        }
        let Some(owner) = &pod.owner else {
            return (Vec::new(), false);
        };
        let id = cache.owner_counts(&owner.uid).map(|c| c.id);
        let cs = self
            .defaults
            .iter()
            .filter(|(_, _, h)| *h == hard)
            .map(|(skew, key, _)| Constraint {
                max_skew: *skew,
                key: key.clone(),
                sel: Sel::Owner(id),
                min_domains: None,
                honor_affinity: true,
                honor_taints: false,
                self_match: true,
            })
            .collect();
        (cs, self.system_defaulted)
    }
}

impl Plugin for PodTopologySpread {
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
                actions: ActionType::ADD
                    .or(ActionType::DELETE)
                    .or(ActionType::UPDATE_NODE_LABEL)
                    .or(ActionType::UPDATE_NODE_TAINT),
            },
        ];
        EVENTS
    }
}

/// Which pods a constraint counts.
#[derive(Debug, Clone)]
enum Sel {
    /// Pods in the incoming pod's namespace matching a label selector.
    Labels(Selector),
    /// Pods of the same controller owner (`None`: the owner has no pods yet).
    Owner(Option<u32>),
}

/// A constraint as one cycle uses it.
#[derive(Debug, Clone)]
struct Constraint {
    max_skew: i64,
    key: String,
    sel: Sel,
    min_domains: Option<i32>,
    honor_affinity: bool,
    honor_taints: bool,
    /// The incoming pod is counted by its own constraint.
    self_match: bool,
}

impl Constraint {
    fn from_pod(c: &SpreadConstraint, pod: &PodInfo) -> Self {
        Constraint {
            max_skew: i64::from(c.max_skew),
            key: c.topology_key.clone(),
            self_match: c.selector.matches(&pod.labels),
            sel: Sel::Labels(c.selector.clone()),
            min_domains: c.min_domains,
            honor_affinity: c.honor_node_affinity,
            honor_taints: c.honor_taints,
        }
    }

    /// Pods on `node` this constraint counts.
    fn count(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        match &self.sel {
            Sel::Owner(None) => 0,
            Sel::Owner(Some(id)) => i64::from(node.owner_count(*id)),
            Sel::Labels(sel) => node
                .pods
                .iter()
                .filter(|p| {
                    !p.terminating && p.namespace == pod.namespace && sel.matches(&p.labels)
                })
                .count() as i64,
        }
    }

    /// Whether this constraint counts `other` (a pod in the incoming pod's namespace).
    fn counts_pod(&self, cluster: &crate::framework::Cluster<'_>, other: &PodInfo) -> bool {
        match &self.sel {
            Sel::Labels(sel) => !other.terminating && sel.matches(&other.labels),
            Sel::Owner(None) => false,
            Sel::Owner(Some(id)) => other
                .owner
                .as_ref()
                .and_then(|o| cluster.cache.owner_counts(&o.uid))
                .is_some_and(|c| c.id == *id),
        }
    }

    /// Whether the node counts for this constraint (`nodeAffinityPolicy`, `nodeTaintsPolicy`).
    fn includes(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        if self.honor_affinity && !required_matches(pod, node) {
            return false;
        }
        if self.honor_taints {
            let untolerated = node.node.taints.iter().any(|t| {
                matches!(t.effect, Effect::NoSchedule | Effect::NoExecute)
                    && !tolerated(&pod.tolerations, t)
            });
            if untolerated {
                return false;
            }
        }
        true
    }
}

/// Whether the node has every constraint's topology key.
fn has_all_keys(constraints: &[Constraint], node: &NodeInfo) -> bool {
    constraints
        .iter()
        .all(|c| node.labels().contains_key(&c.key))
}

type DomainCounts = HashMap<String, i64>;
