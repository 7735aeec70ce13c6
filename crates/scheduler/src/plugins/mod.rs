//! The in-tree plugins, one module each, with their tests beside them.
//!
//! Filters: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
//! NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity. Scores:
//! NodeResourcesFit (worst fit, best fit, requested-to-capacity ratio),
//! NodeResourcesBalancedAllocation (hybrid), NodeAffinity, TaintToleration,
//! PodTopologySpread, InterPodAffinity and cuttle's RecentFailurePenalty.
//! PostFilter: DefaultPreemption.

pub mod balanced_allocation;
pub mod default_preemption;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod recent_failures;
pub mod resource_scoring;
pub mod taint_toleration;

#[cfg(test)]
pub(crate) use test_helpers::{node_from, node_with_pods, test_node};

#[cfg(test)]
mod test_helpers {
    use std::sync::Arc;

    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::node_info::{NodeInfo, NodeStatic};

    /// A default node (4 cpu, 16Gi) with no pods.
    pub(crate) fn test_node(name: &str) -> NodeInfo {
        node_from(NodeBuilder::new(name))
    }

    /// A node from a builder, with no pods.
    pub(crate) fn node_from(b: NodeBuilder) -> NodeInfo {
        NodeInfo::new(Arc::new(NodeStatic::from_node(&b.build())))
    }

    /// A node from a builder with these pods on it.
    pub(crate) fn node_with_pods(b: NodeBuilder, pods: &[PodBuilder]) -> NodeInfo {
        let mut n = node_from(b);
        for p in pods {
            n.add_pod(Arc::new(p.clone().build_info()));
        }
        n
    }
}
