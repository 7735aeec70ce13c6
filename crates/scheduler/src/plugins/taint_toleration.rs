//! TaintToleration: taints with effect NoSchedule or NoExecute that the pod does
//! not tolerate filter the node out; untolerated PreferNoSchedule taints lower
//! its score.

use crate::framework::{
    default_normalize, ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, Plugin,
    ScorePlugin, Status,
};
use crate::labels::{tolerated, Effect};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "TaintToleration";

/// Filters and scores by taints and tolerations.
#[derive(Debug, Default)]
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[ClusterEvent {
            resource: EventResource::Node,
            actions: ActionType::ADD.or(ActionType::UPDATE_NODE_TAINT),
        }];
        EVENTS
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let untolerated = node
            .node
            .taints
            .iter()
            .filter(|t| matches!(t.effect, Effect::NoSchedule | Effect::NoExecute))
            .find(|t| !tolerated(&pod.tolerations, t));
        match untolerated {
            None => Status::success(),
            Some(t) => Status::unresolvable(
                NAME,
                format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value),
            ),
        }
    }
}

impl ScorePlugin for TaintToleration {
    /// The number of PreferNoSchedule taints not tolerated by a toleration that covers
    /// that effect.
    fn score(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        node.node
            .taints
            .iter()
            .filter(|t| t.effect == Effect::PreferNoSchedule)
            .filter(|t| {
                !pod.tolerations
                    .iter()
                    .any(|tol| tol.covers_effect(Effect::PreferNoSchedule) && tol.tolerates(t))
            })
            .count() as i64
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::framework::Code;
    use crate::plugins::node_from;

    #[test]
    fn no_schedule_and_no_execute_taints_filter() {
        let s = CycleState::new();
        let tainted = node_from(NodeBuilder::new("a").taint("dedicated", "gpu", "NoSchedule"));
        let evicting = node_from(NodeBuilder::new("b").taint("broken", "", "NoExecute"));
        let soft = node_from(NodeBuilder::new("c").taint("meh", "", "PreferNoSchedule"));
        let pod = PodBuilder::new("p").build_info();
        let st = TaintToleration.filter(&s, &pod, &tainted);
        assert_eq!(st.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            st.reasons,
            vec!["node(s) had untolerated taint {dedicated: gpu}"]
        );
        assert_eq!(
            TaintToleration.filter(&s, &pod, &evicting).reasons,
            vec!["node(s) had untolerated taint {broken: }"]
        );
        assert!(TaintToleration.filter(&s, &pod, &soft).is_success());
        let tolerant = PodBuilder::new("t")
            .toleration("dedicated", "Equal", "gpu", "NoSchedule")
            .build_info();
        assert!(TaintToleration.filter(&s, &tolerant, &tainted).is_success());
        assert!(!TaintToleration
            .filter(&s, &tolerant, &evicting)
            .is_success());
    }

    #[test]
    fn prefer_no_schedule_lowers_the_score() {
        let s = CycleState::new();
        let nodes = [
            node_from(NodeBuilder::new("a")),
            node_from(NodeBuilder::new("b").taint("x", "", "PreferNoSchedule")),
            node_from(
                NodeBuilder::new("c")
                    .taint("x", "", "PreferNoSchedule")
                    .taint("y", "", "PreferNoSchedule"),
            ),
        ];
        let pod = PodBuilder::new("p").build_info();
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| TaintToleration.score(&s, &pod, n))
            .collect();
        assert_eq!(scores, vec![0, 1, 2]);
        TaintToleration.normalize(&s, &pod, &mut scores);
        assert_eq!(scores, vec![100, 50, 0]);
        let tolerant = PodBuilder::new("t")
            .toleration("x", "Exists", "", "PreferNoSchedule")
            .build_info();
        assert_eq!(TaintToleration.score(&s, &tolerant, &nodes[2]), 1);
        let wrong_effect = PodBuilder::new("w")
            .toleration("x", "Exists", "", "NoSchedule")
            .build_info();
        assert_eq!(TaintToleration.score(&s, &wrong_effect, &nodes[1]), 1);
    }
}
