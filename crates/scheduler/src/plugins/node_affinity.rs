//! NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes
//! (operators In, NotIn, Exists, DoesNotExist, Gt, Lt; `matchFields` on
//! `metadata.name`); preferred node affinity terms score them.

use serde::{Deserialize, Serialize};

use crate::framework::{
    default_normalize, ActionType, Cluster, ClusterEvent, CycleState, EventResource, FilterPlugin,
    Plugin, PreScorePlugin, ScorePlugin, Status,
};
use crate::labels::NodeTerm;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "NodeAffinity";
/// Kubernetes' reason for a node the pod's selector or affinity excludes.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// The plugin's args (`NodeAffinityArgs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeAffinityArgs {
    /// Node affinity added to every pod of the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_affinity: Option<k8s_openapi::api::core::v1::NodeAffinity>,
}

/// Filters and scores by node affinity.
#[derive(Debug, Default)]
pub struct NodeAffinity {
    added_required: Option<Vec<NodeTerm>>,
    added_preferred: Vec<(i32, NodeTerm)>,
}

impl NodeAffinity {
    /// Builds the plugin from its args.
    pub fn new(args: NodeAffinityArgs) -> Self {
        let added = args.added_affinity.unwrap_or_default();
        NodeAffinity {
            added_required: added
                .required_during_scheduling_ignored_during_execution
                .map(|s| {
                    s.node_selector_terms
                        .iter()
                        .map(NodeTerm::from_api)
                        .collect()
                }),
            added_preferred: added
                .preferred_during_scheduling_ignored_during_execution
                .unwrap_or_default()
                .iter()
                .map(|t| (t.weight, NodeTerm::from_api(&t.preference)))
                .collect(),
        }
    }
}

/// Whether a node satisfies `nodeSelector` and the required node affinity of `pod`.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let labels = node.labels();
    if !pod
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    match &pod.required_node_terms {
        None => true,
        Some(terms) => terms.iter().any(|t| t.matches(labels, node.name())),
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[ClusterEvent {
            resource: EventResource::Node,
            actions: ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
        }];
        EVENTS
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let added_ok = match &self.added_required {
            None => true,
            Some(terms) => terms.iter().any(|t| t.matches(node.labels(), node.name())),
        };
        if added_ok && required_matches(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(NAME, REASON)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        _state: &mut CycleState,
        pod: &PodInfo,
        _cluster: &Cluster<'_>,
        _feasible: &[u32],
    ) -> Status {
        if pod.preferred_node_terms.is_empty() && self.added_preferred.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        pod.preferred_node_terms
            .iter()
            .chain(self.added_preferred.iter())
            .filter(|(_, t)| t.matches(node.labels(), node.name()))
            .map(|(w, _)| i64::from(*w))
            .sum()
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::framework::Code;
    use crate::plugins::node_from;

    #[test]
    fn node_selector_and_required_terms() {
        let s = CycleState::new();
        let ssd = node_from(
            NodeBuilder::new("a")
                .label("disk", "ssd")
                .label("cores", "32"),
        );
        let hdd = node_from(NodeBuilder::new("b").label("disk", "hdd"));
        let p = NodeAffinity::default();
        let sel = PodBuilder::new("p")
            .node_selector("disk", "ssd")
            .build_info();
        assert!(p.filter(&s, &sel, &ssd).is_success());
        let st = p.filter(&s, &sel, &hdd);
        assert_eq!(
            (st.code, st.reasons),
            (Code::UnschedulableAndUnresolvable, vec![REASON.into()])
        );
        // Terms are OR-ed.
        let either = PodBuilder::new("p")
            .node_affinity("cores", "Gt", &["16"])
            .node_affinity("disk", "In", &["hdd"])
            .build_info();
        assert!(p.filter(&s, &either, &ssd).is_success());
        assert!(p.filter(&s, &either, &hdd).is_success());
        let not_in = PodBuilder::new("p")
            .node_affinity("disk", "NotIn", &["ssd"])
            .build_info();
        assert!(!p.filter(&s, &not_in, &ssd).is_success());
        let absent = PodBuilder::new("p")
            .node_affinity("gpu", "DoesNotExist", &[])
            .build_info();
        assert!(p.filter(&s, &absent, &hdd).is_success());
        let exists = PodBuilder::new("p")
            .node_affinity("gpu", "Exists", &[])
            .build_info();
        assert!(!p.filter(&s, &exists, &hdd).is_success());
        let lt = PodBuilder::new("p")
            .node_affinity("cores", "Lt", &["8"])
            .build_info();
        assert!(!p.filter(&s, &lt, &ssd).is_success());
        let field = PodBuilder::new("p").node_affinity_field("b").build_info();
        assert!(p.filter(&s, &field, &hdd).is_success());
        assert!(!p.filter(&s, &field, &ssd).is_success());
    }

    #[test]
    fn added_affinity_applies_to_every_pod() {
        let args: NodeAffinityArgs = serde_json::from_value(serde_json::json!({"addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}]}}}))
        .unwrap();
        let p = NodeAffinity::new(args);
        let s = CycleState::new();
        let pod = PodBuilder::new("p").build_info();
        assert!(p
            .filter(
                &s,
                &pod,
                &node_from(NodeBuilder::new("a").label("pool", "batch"))
            )
            .is_success());
        assert!(!p
            .filter(&s, &pod, &node_from(NodeBuilder::new("b")))
            .is_success());
    }

    #[test]
    fn preferred_terms_score_and_normalize() {
        let s = CycleState::new();
        let p = NodeAffinity::default();
        let pod = PodBuilder::new("p")
            .preferred_node_affinity(80, "disk", "In", &["ssd"])
            .preferred_node_affinity(20, "zone", "In", &["z1"])
            .build_info();
        let nodes = [
            node_from(
                NodeBuilder::new("a")
                    .label("disk", "ssd")
                    .label("zone", "z1"),
            ),
            node_from(NodeBuilder::new("b").label("disk", "ssd")),
            node_from(NodeBuilder::new("c")),
        ];
        let mut scores: Vec<i64> = nodes.iter().map(|n| p.score(&s, &pod, n)).collect();
        assert_eq!(scores, vec![100, 80, 0]);
        p.normalize(&s, &pod, &mut scores);
        assert_eq!(scores, vec![100, 80, 0]);
        let plain = PodBuilder::new("q").build_info();
        let cache = crate::cache::Cache::new();
        let ns = Default::default();
        let cluster = Cluster {
            cache: &cache,
            namespaces: &ns,
        };
        assert!(p
            .pre_score(&mut CycleState::new(), &plain, &cluster, &[])
            .is_skip());
    }
}
