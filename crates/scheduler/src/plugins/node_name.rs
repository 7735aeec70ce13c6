//! NodeName: a pod with `spec.nodeName` set fits only that node.

use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, Plugin, Status,
};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "NodeName";
/// Kubernetes' reason for a node that is not the one the pod names.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// Filters out every node but the one in `spec.nodeName`.
#[derive(Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[ClusterEvent {
            resource: EventResource::Node,
            actions: ActionType::ADD,
        }];
        EVENTS
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match &pod.node_name {
            Some(n) if n != node.name() => Status::unresolvable(NAME, REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::PodBuilder;
    use crate::framework::Code;
    use crate::plugins::test_node;

    #[test]
    fn only_the_named_node_fits() {
        let pod = PodBuilder::new("p").node_name("a").build_info();
        let s = CycleState::new();
        assert!(NodeName.filter(&s, &pod, &test_node("a")).is_success());
        let st = NodeName.filter(&s, &pod, &test_node("b"));
        assert_eq!(st.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(st.reasons, vec![REASON]);
        let free = PodBuilder::new("q").build_info();
        assert!(NodeName.filter(&s, &free, &test_node("b")).is_success());
    }
}
