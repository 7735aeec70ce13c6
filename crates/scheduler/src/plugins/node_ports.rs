//! NodePorts: a pod's host ports must be free on the node.

use crate::framework::{
    ActionType, Cluster, ClusterEvent, CycleState, EventResource, FilterPlugin, Plugin,
    PreFilterPlugin, Status,
};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "NodePorts";
/// Kubernetes' reason for a node whose host ports are taken.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Filters out nodes where a requested host port (protocol, IP, port) is in use.
#[derive(Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent {
                resource: EventResource::AssignedPod,
                actions: ActionType::DELETE,
            },
            ClusterEvent {
                resource: EventResource::Node,
                actions: ActionType::ADD,
            },
        ];
        EVENTS
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, _state: &mut CycleState, pod: &PodInfo, _cluster: &Cluster<'_>) -> Status {
        if pod.host_ports.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let conflict = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| want.conflicts(used)));
        if conflict {
            Status::unschedulable(NAME, REASON)
        } else {
            Status::success()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::framework::Code;
    use crate::plugins::node_with_pods;

    #[test]
    fn taken_host_ports_filter() {
        let s = CycleState::new();
        let node = node_with_pods(
            NodeBuilder::new("n"),
            &[PodBuilder::new("web").host_port(80)],
        );
        let st = NodePorts.filter(&s, &PodBuilder::new("p").host_port(80).build_info(), &node);
        assert_eq!(
            (st.code, st.reasons),
            (Code::Unschedulable, vec![REASON.into()])
        );
        assert!(NodePorts
            .filter(
                &s,
                &PodBuilder::new("p").host_port(8080).build_info(),
                &node
            )
            .is_success());
        let cache = crate::cache::Cache::new();
        let ns = Default::default();
        let cluster = Cluster {
            cache: &cache,
            namespaces: &ns,
        };
        assert!(NodePorts
            .pre_filter(
                &mut CycleState::new(),
                &PodBuilder::new("q").build_info(),
                &cluster
            )
            .is_skip());
    }
}
