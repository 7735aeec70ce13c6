//! NodeUnschedulable: cordoned nodes take no new pods, unless the pod tolerates
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, Plugin, Status,
};
use crate::labels::{tolerated, Effect, Taint};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "NodeUnschedulable";
/// Kubernetes' reason for a cordoned node.
pub const REASON: &str = "node(s) were unschedulable";
/// The taint key a pod tolerates to land on cordoned nodes.
pub const TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

/// Filters out nodes with `spec.unschedulable: true`.
#[derive(Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
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

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.node.unschedulable {
            return Status::success();
        }
        let taint = Taint {
            key: TAINT_KEY.into(),
            value: String::new(),
            effect: Effect::NoSchedule,
        };
        if tolerated(&pod.tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable(NAME, REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::plugins::node_from;

    #[test]
    fn cordoned_nodes_reject_unless_tolerated() {
        let s = CycleState::new();
        let cordoned = node_from(NodeBuilder::new("a").unschedulable());
        let pod = PodBuilder::new("p").build_info();
        assert_eq!(
            NodeUnschedulable.filter(&s, &pod, &cordoned).reasons,
            vec![REASON]
        );
        assert!(NodeUnschedulable
            .filter(&s, &pod, &node_from(NodeBuilder::new("b")))
            .is_success());
        let tolerant = PodBuilder::new("t")
            .toleration(TAINT_KEY, "Exists", "", "NoSchedule")
            .build_info();
        assert!(NodeUnschedulable
            .filter(&s, &tolerant, &cordoned)
            .is_success());
    }
}
