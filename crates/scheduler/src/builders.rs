//! Builders of `Pod` and `Node` objects, for tests and the benchmark's workloads.
//!
//! They write the same API objects a client would send, so everything below
//! them (quantity parsing, compilation into [`PodInfo`]) is exercised too.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, NodeSpec, NodeStatus, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity,
    PodSpec, PreferredSchedulingTerm, ResourceRequirements, Taint, Toleration,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use crate::pod_info::{PodInfo, LABEL_HOSTNAME, LABEL_ZONE};

fn selector(labels: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        match_expressions: None,
    }
}

fn term(labels: &[(&str, &str)], topology_key: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(selector(labels)),
        topology_key: topology_key.into(),
        ..Default::default()
    }
}

/// Builds a [`Pod`] in namespace `default` with one container.
#[derive(Debug, Clone)]
pub struct PodBuilder {
    pod: Pod,
}

impl PodBuilder {
    /// A pod named `name` with one container and no requests.
    pub fn new(name: &str) -> Self {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "main".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        };
        PodBuilder { pod }
    }

    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.get_or_insert_with(Default::default)
    }

    fn affinity(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_with(Default::default)
    }

    /// Sets the namespace.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.pod.metadata.namespace = Some(ns.into());
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.pod
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Makes a ReplicaSet with uid `uid` (and name `uid`) the controlling owner.
    pub fn owner(mut self, uid: &str) -> Self {
        self.pod.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: uid.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        self
    }

    /// Adds a request to the first container.
    pub fn request(mut self, resource: &str, quantity: &str) -> Self {
        let c = &mut self.spec().containers[0];
        c.resources
            .get_or_insert_with(ResourceRequirements::default)
            .requests
            .get_or_insert_with(BTreeMap::new)
            .insert(resource.into(), Quantity(quantity.into()));
        self
    }

    /// Requests cpu in the first container.
    pub fn cpu(self, quantity: &str) -> Self {
        self.request("cpu", quantity)
    }

    /// Requests memory in the first container.
    pub fn memory(self, quantity: &str) -> Self {
        self.request("memory", quantity)
    }

    /// Adds a container with these requests.
    pub fn container(mut self, requests: &[(&str, &str)]) -> Self {
        let n = self.spec().containers.len();
        self.spec()
            .containers
            .push(container(&format!("c{n}"), requests));
        self
    }

    /// Adds an init container with these requests.
    pub fn init_container(mut self, requests: &[(&str, &str)]) -> Self {
        self.spec()
            .init_containers
            .get_or_insert_with(Vec::new)
            .push(container("init", requests));
        self
    }

    /// Sets `spec.overhead`.
    pub fn overhead(mut self, resource: &str, quantity: &str) -> Self {
        self.spec()
            .overhead
            .get_or_insert_with(BTreeMap::new)
            .insert(resource.into(), Quantity(quantity.into()));
        self
    }

    /// Adds a TCP host port to the first container.
    pub fn host_port(mut self, port: i32) -> Self {
        self.spec().containers[0]
            .ports
            .get_or_insert_with(Vec::new)
            .push(ContainerPort {
                container_port: port,
                host_port: Some(port),
                ..Default::default()
            });
        self
    }

    /// Sets `spec.nodeName`.
    pub fn node_name(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.into());
        self
    }

    /// Adds a `spec.nodeSelector` entry.
    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Adds a required node affinity term with one requirement (terms are OR-ed).
    pub fn node_affinity(mut self, key: &str, operator: &str, values: &[&str]) -> Self {
        let req = node_req(key, operator, values);
        self.required_node_term(NodeSelectorTerm {
            match_expressions: Some(vec![req]),
            match_fields: None,
        });
        self
    }

    /// Adds a required node affinity term pinning the node name with `matchFields`.
    pub fn node_affinity_field(mut self, node_name: &str) -> Self {
        let req = node_req("metadata.name", "In", &[node_name]);
        self.required_node_term(NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req]),
        });
        self
    }

    fn required_node_term(&mut self, term: NodeSelectorTerm) {
        let na = self
            .affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default);
        na.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(|| NodeSelector {
                node_selector_terms: Vec::new(),
            })
            .node_selector_terms
            .push(term);
    }

    /// Adds a preferred node affinity term.
    pub fn preferred_node_affinity(
        mut self,
        weight: i32,
        key: &str,
        operator: &str,
        values: &[&str],
    ) -> Self {
        let req = node_req(key, operator, values);
        let na = self
            .affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default);
        na.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(PreferredSchedulingTerm {
                weight,
                preference: NodeSelectorTerm {
                    match_expressions: Some(vec![req]),
                    match_fields: None,
                },
            });
        self
    }

    /// Adds a toleration (`operator` "Equal" or "Exists"; `effect` may be empty).
    pub fn toleration(mut self, key: &str, operator: &str, value: &str, effect: &str) -> Self {
        self.spec()
            .tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration {
                key: (!key.is_empty()).then(|| key.into()),
                operator: Some(operator.into()),
                value: (!value.is_empty()).then(|| value.into()),
                effect: (!effect.is_empty()).then(|| effect.into()),
                toleration_seconds: None,
            });
        self
    }

    /// Adds a required pod affinity term selecting pods with these labels.
    pub fn pod_affinity(mut self, labels: &[(&str, &str)], topology_key: &str) -> Self {
        let pa = self
            .affinity()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default);
        pa.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(term(labels, topology_key));
        self
    }

    /// Adds a required pod anti-affinity term selecting pods with these labels.
    pub fn pod_anti_affinity(mut self, labels: &[(&str, &str)], topology_key: &str) -> Self {
        let pa = self
            .affinity()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default);
        pa.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(term(labels, topology_key));
        self
    }

    /// Adds a preferred pod affinity term (negative weight: anti-affinity).
    pub fn preferred_pod_affinity(
        mut self,
        weight: i32,
        labels: &[(&str, &str)],
        topology_key: &str,
    ) -> Self {
        let t = WeightedPodAffinityTerm {
            weight: weight.abs(),
            pod_affinity_term: term(labels, topology_key),
        };
        if weight >= 0 {
            let pa = self
                .affinity()
                .pod_affinity
                .get_or_insert_with(PodAffinity::default);
            pa.preferred_during_scheduling_ignored_during_execution
                .get_or_insert_with(Vec::new)
                .push(t);
        } else {
            let pa = self
                .affinity()
                .pod_anti_affinity
                .get_or_insert_with(PodAntiAffinity::default);
            pa.preferred_during_scheduling_ignored_during_execution
                .get_or_insert_with(Vec::new)
                .push(t);
        }
        self
    }

    /// Adds a topology spread constraint over pods with these labels.
    pub fn spread(
        mut self,
        max_skew: i32,
        topology_key: &str,
        hard: bool,
        labels: &[(&str, &str)],
    ) -> Self {
        self.spec()
            .topology_spread_constraints
            .get_or_insert_with(Vec::new)
            .push(TopologySpreadConstraint {
                max_skew,
                topology_key: topology_key.into(),
                when_unsatisfiable: if hard {
                    "DoNotSchedule"
                } else {
                    "ScheduleAnyway"
                }
                .into(),
                label_selector: Some(selector(labels)),
                ..Default::default()
            });
        self
    }

    /// Sets `minDomains` on the last spread constraint.
    pub fn min_domains(mut self, n: i32) -> Self {
        if let Some(c) = self
            .spec()
            .topology_spread_constraints
            .as_mut()
            .and_then(|v| v.last_mut())
        {
            c.min_domains = Some(n);
        }
        self
    }

    /// Sets `spec.priority`.
    pub fn priority(mut self, p: i32) -> Self {
        self.spec().priority = Some(p);
        self
    }

    /// Sets `spec.priorityClassName`.
    pub fn priority_class(mut self, name: &str) -> Self {
        self.spec().priority_class_name = Some(name.into());
        self
    }

    /// Sets `preemptionPolicy: Never`.
    pub fn never_preempt(mut self) -> Self {
        self.spec().preemption_policy = Some("Never".into());
        self
    }

    /// Sets `spec.schedulerName`.
    pub fn scheduler_name(mut self, name: &str) -> Self {
        self.spec().scheduler_name = Some(name.into());
        self
    }

    /// Adds a scheduling gate.
    pub fn gate(mut self, name: &str) -> Self {
        self.spec()
            .scheduling_gates
            .get_or_insert_with(Vec::new)
            .push(k8s_openapi::api::core::v1::PodSchedulingGate { name: name.into() });
        self
    }

    /// The pod.
    pub fn build(self) -> Pod {
        self.pod
    }

    /// The compiled pod, with `spec.priority` (or 0) as its priority.
    ///
    /// # Panics
    /// When a request is not a valid quantity (a bug in the test that built it).
    pub fn build_info(self) -> PodInfo {
        let priority = self.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
        PodInfo::new(&self.pod, priority).expect("builder pods have valid quantities")
    }
}

fn container(name: &str, requests: &[(&str, &str)]) -> Container {
    Container {
        name: name.into(),
        resources: Some(ResourceRequirements {
            requests: Some(
                requests
                    .iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node_req(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: operator.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

/// Builds a [`Node`] with a hostname label, 4 cpus, 16Gi of memory and room for 110 pods.
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    node: Node,
}

impl NodeBuilder {
    /// A node named `name`.
    pub fn new(name: &str) -> Self {
        let node = Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([(LABEL_HOSTNAME.to_string(), name.to_string())].into()),
                ..Default::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus::default()),
        };
        NodeBuilder { node }
            .allocatable("cpu", "4")
            .allocatable("memory", "16Gi")
            .allocatable("pods", "110")
    }

    /// Sets an allocatable amount.
    pub fn allocatable(mut self, resource: &str, quantity: &str) -> Self {
        self.node
            .status
            .get_or_insert_with(Default::default)
            .allocatable
            .get_or_insert_with(BTreeMap::new)
            .insert(resource.into(), Quantity(quantity.into()));
        self
    }

    /// Sets allocatable cpu.
    pub fn cpu(self, quantity: &str) -> Self {
        self.allocatable("cpu", quantity)
    }

    /// Sets allocatable memory.
    pub fn memory(self, quantity: &str) -> Self {
        self.allocatable("memory", quantity)
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.node
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets the zone label.
    pub fn zone(self, zone: &str) -> Self {
        self.label(LABEL_ZONE, zone)
    }

    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.node
            .spec
            .get_or_insert_with(Default::default)
            .taints
            .get_or_insert_with(Vec::new)
            .push(Taint {
                key: key.into(),
                value: (!value.is_empty()).then(|| value.into()),
                effect: effect.into(),
                time_added: None,
            });
        self
    }

    /// Marks the node unschedulable (cordoned).
    pub fn unschedulable(mut self) -> Self {
        self.node
            .spec
            .get_or_insert_with(Default::default)
            .unschedulable = Some(true);
        self
    }

    /// The node.
    pub fn build(self) -> Node {
        self.node
    }
}
