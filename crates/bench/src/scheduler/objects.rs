//! The benchmark's objects as an apiserver accepts them: hollow Nodes (status
//! with capacity, allocatable and a Ready condition, and no kubelet behind
//! them), and the algorithm benchmark's pods in the run's namespace with an
//! image, the measured scheduler's name and a PriorityClass instead of a bare
//! `spec.priority` (as the Priority admission plugin requires).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The image every container gets (never pulled: the nodes are hollow).
pub const IMAGE: &str = "registry.k8s.io/pause:3.10";

/// A Node the apiserver accepts, from a workload node: capacity = allocatable, Ready.
pub fn hollow_node(mut node: Node) -> Node {
    let status = node.status.get_or_insert_with(Default::default);
    status.capacity = status.allocatable.clone();
    status.conditions = Some(vec![NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: Some("KubeletReady".into()),
        message: Some("hollow node of cuttle bench".into()),
        ..Default::default()
    }]);
    node
}

/// The name of the benchmark's PriorityClass for a priority value.
pub fn class_name(value: i32) -> String {
    format!("cuttle-bench-{value}")
}

/// The PriorityClasses the pods name.
pub fn priority_classes<'a>(pods: impl Iterator<Item = &'a Pod>) -> Vec<PriorityClass> {
    let values: BTreeSet<i32> = pods
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.priority))
        .collect();
    values
        .into_iter()
        .map(|value| PriorityClass {
            metadata: ObjectMeta {
                name: Some(class_name(value)),
                ..Default::default()
            },
            value,
            description: Some("cuttle bench scheduler".into()),
            ..Default::default()
        })
        .collect()
}

/// A workload pod ready to create in `namespace` for `scheduler_name`.
pub fn api_pod(mut pod: Pod, namespace: &str, scheduler_name: &str) -> Pod {
    pod.metadata.namespace = Some(namespace.to_string());
    pod.metadata.uid = None;
    if let Some(spec) = pod.spec.as_mut() {
        spec.scheduler_name = Some(scheduler_name.to_string());
        if let Some(value) = spec.priority.take() {
            spec.priority_class_name = Some(class_name(value));
        }
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            c.image.get_or_insert_with(|| IMAGE.to_string());
        }
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuttle_scheduler::bench::workloads::{self, Workload};

    #[test]
    fn pods_name_classes_and_nodes_are_ready() {
        let nodes = workloads::nodes(2);
        let prefill = workloads::prefill(Workload::Preemption, &nodes);
        let classes = priority_classes(prefill.iter().map(|(p, _)| p));
        let names: Vec<_> = classes
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["cuttle-bench-0", "cuttle-bench-10"]);
        let pod = api_pod(prefill[1].0.clone(), "ns", "s");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.priority, None);
        assert_eq!(spec.priority_class_name.as_deref(), Some("cuttle-bench-10"));
        assert_eq!(spec.scheduler_name.as_deref(), Some("s"));
        assert_eq!(spec.containers[0].image.as_deref(), Some(IMAGE));
        let node = hollow_node(nodes[0].clone());
        let status = node.status.unwrap();
        assert_eq!(status.capacity, status.allocatable);
        assert_eq!(status.conditions.unwrap()[0].type_, "Ready");
    }
}
