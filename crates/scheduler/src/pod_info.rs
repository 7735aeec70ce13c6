//! A pod as the scheduler sees it, computed once per pod.
//!
//! [`PodInfo`] holds everything the filters and scores read, already compiled:
//! effective requests, host ports, node selector and affinity terms,
//! tolerations, pod (anti-)affinity terms, spread constraints, the controller
//! owner, and the two hashes behind Borg's optimisations (the equivalence class
//! and the score signature). Building it never panics on a pod the apiserver
//! accepts; missing fields take their API defaults.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, TopologySpreadConstraint};

use crate::labels::{
    pair_hash, Labels, NamespaceLabels, NodeTerm, Op, Requirement, Selector, Toleration,
};
use crate::resources::{pod_requests, PodRequests, QuantityError};

/// Label of a node's hostname, the topology key of per-node spreading.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// Label of a node's zone, the topology key of per-zone spreading.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// Why a pod cannot be turned into a [`PodInfo`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PodInfoError {
    /// A resource request or overhead is not a valid quantity.
    #[error("pod {pod}: resource {resource}: {error}")]
    InvalidQuantity {
        /// The pod's namespace/name.
        pod: String,
        /// The resource name.
        resource: String,
        /// What is wrong with the quantity.
        error: QuantityError,
    },
}

/// A host port a container asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Protocol (TCP when unset).
    pub protocol: String,
    /// Host IP ("0.0.0.0" when unset).
    pub ip: String,
    /// Port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports conflict (Kubernetes' `HostPortInfo.CheckConflict`).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// The namespaces an affinity term looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceScope {
    /// Namespaces named in the term (or the pod's own when neither list nor selector is set).
    pub names: Vec<String>,
    /// The term's namespace selector, if any (`{}` selects all namespaces).
    pub selector: Option<Selector>,
}

impl NamespaceScope {
    /// Whether `ns` is in scope; `ns_labels` holds the labels of the namespaces known.
    pub fn contains(&self, ns: &str, ns_labels: &NamespaceLabels) -> bool {
        if self.names.iter().any(|n| n == ns) {
            return true;
        }
        match &self.selector {
            None => false,
            Some(sel) if sel.is_everything() => true,
            Some(sel) => ns_labels.get(ns).is_some_and(|l| sel.matches(l)),
        }
    }
}

/// A compiled pod (anti-)affinity term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AffinityTerm {
    /// Which pods the term selects.
    pub selector: Selector,
    /// Which namespaces those pods may be in.
    pub namespaces: NamespaceScope,
    /// The topology key that defines "together".
    pub topology_key: String,
    /// Weight (preferred terms only; 0 for required terms).
    pub weight: i32,
    /// [`Selector::required_pair`]: a pod without that label is not
    /// selected, which settles most pods without comparing strings (the
    /// affinity plugins test every existing pod against every term).
    pub label_hint: Option<u64>,
}

impl AffinityTerm {
    fn from_api(term: &PodAffinityTerm, weight: i32, pod_ns: &str, pod_labels: &Labels) -> Self {
        let mut selector = Selector::from_api(term.label_selector.as_ref());
        if term.label_selector.is_some() {
            for key in term.match_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(key) {
                    selector = selector.with_requirement(Requirement {
                        key: key.clone(),
                        op: Op::In(vec![v.clone()]),
                    });
                }
            }
            for key in term.mismatch_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(key) {
                    selector = selector.with_requirement(Requirement {
                        key: key.clone(),
                        op: Op::NotIn(vec![v.clone()]),
                    });
                }
            }
        }
        let names = term.namespaces.clone().unwrap_or_default();
        let ns_selector = term
            .namespace_selector
            .as_ref()
            .map(|s| Selector::from_api(Some(s)));
        let names = if names.is_empty() && ns_selector.is_none() {
            vec![pod_ns.to_string()]
        } else {
            names
        };
        AffinityTerm {
            label_hint: selector.required_pair(),
            selector,
            namespaces: NamespaceScope {
                names,
                selector: ns_selector,
            },
            topology_key: term.topology_key.clone(),
            weight,
        }
    }

    /// Whether `pod` is selected by this term.
    pub fn matches(&self, pod: &PodInfo, ns_labels: &NamespaceLabels) -> bool {
        if let Some(hint) = self.label_hint {
            if !pod.label_pairs.contains(&hint) {
                return false;
            }
        }
        self.selector.matches(&pod.labels) && self.namespaces.contains(&pod.namespace, ns_labels)
    }
}

/// A pod's compiled inter-pod affinity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PodAffinityInfo {
    /// Required affinity terms.
    pub required: Vec<AffinityTerm>,
    /// Required anti-affinity terms.
    pub required_anti: Vec<AffinityTerm>,
    /// Preferred affinity terms (with weights).
    pub preferred: Vec<AffinityTerm>,
    /// Preferred anti-affinity terms (with weights).
    pub preferred_anti: Vec<AffinityTerm>,
}

impl PodAffinityInfo {
    /// Whether the pod has any inter-pod affinity or anti-affinity term.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
            && self.required_anti.is_empty()
            && self.preferred.is_empty()
            && self.preferred_anti.is_empty()
    }
}

/// A compiled topology spread constraint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpreadConstraint {
    /// Largest allowed difference between a domain's count and the global minimum.
    pub max_skew: i32,
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// `whenUnsatisfiable: DoNotSchedule` (a filter) rather than `ScheduleAnyway` (a score).
    pub hard: bool,
    /// The pods counted.
    pub selector: Selector,
    /// Minimum number of domains (`minDomains`).
    pub min_domains: Option<i32>,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes the pod could go to count.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default Ignore): only nodes whose taints the pod tolerates count.
    pub honor_taints: bool,
}

impl SpreadConstraint {
    fn from_api(c: &TopologySpreadConstraint, pod_labels: &Labels) -> Self {
        let mut selector = Selector::from_api(c.label_selector.as_ref());
        if c.label_selector.is_some() {
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(key) {
                    selector = selector.with_requirement(Requirement {
                        key: key.clone(),
                        op: Op::In(vec![v.clone()]),
                    });
                }
            }
        }
        SpreadConstraint {
            max_skew: c.max_skew.max(1),
            topology_key: c.topology_key.clone(),
            hard: c.when_unsatisfiable != "ScheduleAnyway",
            selector,
            min_domains: c.min_domains.filter(|m| *m > 0),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }
}

/// A pod's controlling owner (the `ownerReferences` entry with `controller: true`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The owner's uid.
    pub uid: String,
    /// The owner's kind, e.g. ReplicaSet.
    pub kind: String,
    /// The owner's name.
    pub name: String,
}

/// Everything the scheduler needs to know about one pod.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// `namespace/name`, the pod's identity in the cache and the queue.
    pub key: String,
    /// Namespace (`default` when unset).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (empty when unset).
    pub uid: String,
    /// Labels.
    pub labels: Labels,
    /// The [`pair_hash`] of each label, for [`AffinityTerm::label_hint`].
    pub label_pairs: Vec<u64>,
    /// Resolved priority.
    pub priority: i32,
    /// `preemptionPolicy: Never`.
    pub preempt_never: bool,
    /// `spec.schedulerName` (`default-scheduler` when unset).
    pub scheduler_name: String,
    /// `spec.nodeName`, when set.
    pub node_name: Option<String>,
    /// `status.nominatedNodeName`, when set.
    pub nominated_node_name: Option<String>,
    /// Effective requests.
    pub requests: PodRequests,
    /// Host ports of containers and sidecars.
    pub host_ports: Vec<HostPort>,
    /// `spec.nodeSelector` (empty when unset).
    pub node_selector: Labels,
    /// Required node affinity terms (OR-ed), `None` when the pod has none.
    pub required_node_terms: Option<Vec<NodeTerm>>,
    /// Preferred node affinity terms with their weights.
    pub preferred_node_terms: Vec<(i32, NodeTerm)>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Inter-pod affinity and anti-affinity.
    pub affinity: PodAffinityInfo,
    /// Topology spread constraints.
    pub spread: Vec<SpreadConstraint>,
    /// Controlling owner, if any.
    pub owner: Option<Owner>,
    /// The pod has a deletion timestamp.
    pub terminating: bool,
    /// The pod has scheduling gates.
    pub gated: bool,
    /// Start time (or creation time) in milliseconds since the epoch, when known.
    pub start_time_ms: Option<i64>,
    /// Borg's equivalence class: owner plus everything the node-local filters read.
    /// `None` for pods without a controlling owner.
    pub equivalence_class: Option<u64>,
    /// Hash of everything the node-local scores read.
    pub score_signature: u64,
}

impl PodInfo {
    /// Compiles `pod` with an already resolved `priority`.
    pub fn new(pod: &Pod, priority: i32) -> Result<Self, PodInfoError> {
        let meta = &pod.metadata;
        let namespace = meta
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let name = meta.name.clone().unwrap_or_default();
        let key = format!("{namespace}/{name}");
        let labels = meta.labels.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let requests =
            pod_requests(&spec).map_err(|(resource, error)| PodInfoError::InvalidQuantity {
                pod: key.clone(),
                resource,
                error,
            })?;

        let mut host_ports = Vec::new();
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for c in spec.containers.iter().chain(sidecars) {
            for p in c.ports.iter().flatten() {
                if let Some(port) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort {
                        protocol: p
                            .protocol
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "TCP".into()),
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        port,
                    });
                }
            }
        }

        let affinity = spec.affinity.as_ref();
        let node_affinity = affinity.and_then(|a| a.node_affinity.as_ref());
        let required_node_terms = node_affinity
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|sel| {
                sel.node_selector_terms
                    .iter()
                    .map(NodeTerm::from_api)
                    .collect()
            });
        let preferred_node_terms = node_affinity
            .and_then(|n| {
                n.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|terms| {
                terms
                    .iter()
                    .filter(|t| t.weight != 0)
                    .map(|t| (t.weight, NodeTerm::from_api(&t.preference)))
                    .collect()
            })
            .unwrap_or_default();

        let mut pod_affinity = PodAffinityInfo::default();
        if let Some(a) = affinity.and_then(|a| a.pod_affinity.as_ref()) {
            for t in a
                .required_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                pod_affinity
                    .required
                    .push(AffinityTerm::from_api(t, 0, &namespace, &labels));
            }
            for t in a
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                pod_affinity.preferred.push(AffinityTerm::from_api(
                    &t.pod_affinity_term,
                    t.weight,
                    &namespace,
                    &labels,
                ));
            }
        }
        if let Some(a) = affinity.and_then(|a| a.pod_anti_affinity.as_ref()) {
            for t in a
                .required_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                pod_affinity
                    .required_anti
                    .push(AffinityTerm::from_api(t, 0, &namespace, &labels));
            }
            for t in a
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                pod_affinity.preferred_anti.push(AffinityTerm::from_api(
                    &t.pod_affinity_term,
                    t.weight,
                    &namespace,
                    &labels,
                ));
            }
        }

        let owner = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| Owner {
                uid: o.uid.clone(),
                kind: o.kind.clone(),
                name: o.name.clone(),
            });
        let start = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .or(meta.creation_timestamp.as_ref());

        let mut info = PodInfo {
            key,
            uid: meta.uid.clone().unwrap_or_default(),
            label_pairs: labels.iter().map(|(k, v)| pair_hash(k, v)).collect(),
            labels,
            priority,
            preempt_never: spec.preemption_policy.as_deref() == Some("Never"),
            scheduler_name: spec
                .scheduler_name
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "default-scheduler".into()),
            node_name: spec.node_name.clone().filter(|s| !s.is_empty()),
            nominated_node_name: pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .filter(|s| !s.is_empty()),
            requests,
            host_ports,
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required_node_terms,
            preferred_node_terms,
            tolerations: spec
                .tolerations
                .iter()
                .flatten()
                .map(Toleration::from_api)
                .collect(),
            affinity: pod_affinity,
            spread: Vec::new(),
            owner,
            terminating: meta.deletion_timestamp.is_some(),
            gated: spec
                .scheduling_gates
                .as_ref()
                .is_some_and(|g| !g.is_empty()),
            start_time_ms: start.map(|t| t.0.as_millisecond()),
            equivalence_class: None,
            score_signature: 0,
            namespace,
            name,
        };
        info.spread = spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|c| SpreadConstraint::from_api(c, &info.labels))
            .collect();
        info.equivalence_class = info.owner.as_ref().map(|o| {
            let mut h = DefaultHasher::new();
            o.uid.hash(&mut h);
            info.namespace.hash(&mut h);
            info.requests.requests.hash(&mut h);
            info.host_ports.hash(&mut h);
            info.node_name.hash(&mut h);
            info.node_selector.hash(&mut h);
            info.required_node_terms.hash(&mut h);
            info.tolerations.hash(&mut h);
            h.finish()
        });
        let mut h = DefaultHasher::new();
        info.owner.as_ref().map(|o| &o.uid).hash(&mut h);
        info.requests.hash(&mut h);
        info.preferred_node_terms.hash(&mut h);
        info.tolerations.hash(&mut h);
        info.score_signature = h.finish();
        Ok(info)
    }

    /// Whether `bound` is this pod (assumed on a node) as the API confirms
    /// it: equal but for the node name and the nomination, which binding
    /// sets and clears, and the equivalence class, which hashes the node
    /// name and matters only while a pod waits.
    pub fn is_confirmed_by(&self, bound: &PodInfo) -> bool {
        // Every field is named (no `..`), so that a new one must be placed
        // here; compared in place, as this runs for every bound pod.
        let PodInfo {
            key,
            namespace,
            name,
            uid,
            labels,
            label_pairs,
            priority,
            preempt_never,
            scheduler_name,
            node_name: _,
            nominated_node_name: _,
            requests,
            host_ports,
            node_selector,
            required_node_terms,
            preferred_node_terms,
            tolerations,
            affinity,
            spread,
            owner,
            terminating,
            gated,
            start_time_ms,
            equivalence_class: _,
            score_signature,
        } = self;
        *key == bound.key
            && *namespace == bound.namespace
            && *name == bound.name
            && *uid == bound.uid
            && *labels == bound.labels
            && *label_pairs == bound.label_pairs
            && *priority == bound.priority
            && *preempt_never == bound.preempt_never
            && *scheduler_name == bound.scheduler_name
            && *requests == bound.requests
            && *host_ports == bound.host_ports
            && *node_selector == bound.node_selector
            && *required_node_terms == bound.required_node_terms
            && *preferred_node_terms == bound.preferred_node_terms
            && *tolerations == bound.tolerations
            && *affinity == bound.affinity
            && *spread == bound.spread
            && *owner == bound.owner
            && *terminating == bound.terminating
            && *gated == bound.gated
            && *start_time_ms == bound.start_time_ms
            && *score_signature == bound.score_signature
    }

    /// Whether the pod has any required anti-affinity term (other pods must check it).
    pub fn has_required_anti_affinity(&self) -> bool {
        !self.affinity.required_anti.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::PodBuilder;

    #[test]
    fn the_bound_copy_of_a_pending_pod_confirms_it() {
        let pending = PodBuilder::new("p").owner("rs").cpu("1").build();
        let mut bound = pending.clone();
        bound.spec.as_mut().unwrap().node_name = Some("a".into());
        // What the binding subresource adds to the status.
        bound.status = Some(k8s_openapi::api::core::v1::PodStatus {
            conditions: Some(vec![k8s_openapi::api::core::v1::PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let assumed = PodInfo::new(&pending, 0).unwrap();
        assert!(assumed.is_confirmed_by(&PodInfo::new(&bound, 0).unwrap()));
        let relabelled = PodBuilder::new("p")
            .owner("rs")
            .cpu("1")
            .label("x", "y")
            .node_name("a")
            .build();
        assert!(!assumed.is_confirmed_by(&PodInfo::new(&relabelled, 0).unwrap()));
        let bigger = PodBuilder::new("p")
            .owner("rs")
            .cpu("2")
            .node_name("a")
            .build();
        assert!(!assumed.is_confirmed_by(&PodInfo::new(&bigger, 0).unwrap()));
    }

    #[test]
    fn empty_pod_gets_api_defaults() {
        let info = PodInfo::new(&Pod::default(), 0).unwrap();
        assert_eq!(info.key, "default/");
        assert_eq!(info.scheduler_name, "default-scheduler");
        assert!(info.owner.is_none());
        assert!(info.equivalence_class.is_none());
        assert_eq!(info.requests.requests.milli_cpu, 0);
    }

    #[test]
    fn replicas_share_an_equivalence_class_and_other_specs_do_not() {
        let a = PodBuilder::new("a").owner("rs-1").cpu("500m").build_info();
        let b = PodBuilder::new("b").owner("rs-1").cpu("500m").build_info();
        let c = PodBuilder::new("c").owner("rs-1").cpu("600m").build_info();
        let d = PodBuilder::new("d").owner("rs-2").cpu("500m").build_info();
        assert!(a.equivalence_class.is_some());
        assert_eq!(a.equivalence_class, b.equivalence_class);
        assert_ne!(a.equivalence_class, c.equivalence_class);
        assert_ne!(a.equivalence_class, d.equivalence_class);
        assert_eq!(a.score_signature, b.score_signature);
        assert_ne!(a.score_signature, c.score_signature);
    }

    #[test]
    fn host_ports_default_protocol_and_ip_and_conflict() {
        let p = PodBuilder::new("a").host_port(80).build_info();
        assert_eq!(
            p.host_ports,
            vec![HostPort {
                protocol: "TCP".into(),
                ip: "0.0.0.0".into(),
                port: 80
            }]
        );
        let specific = HostPort {
            protocol: "TCP".into(),
            ip: "10.0.0.1".into(),
            port: 80,
        };
        let other_ip = HostPort {
            protocol: "TCP".into(),
            ip: "10.0.0.2".into(),
            port: 80,
        };
        let udp = HostPort {
            protocol: "UDP".into(),
            ip: "0.0.0.0".into(),
            port: 80,
        };
        assert!(p.host_ports[0].conflicts(&specific));
        assert!(!specific.conflicts(&other_ip));
        assert!(!p.host_ports[0].conflicts(&udp));
    }

    #[test]
    fn invalid_quantity_is_a_clear_error() {
        let pod = PodBuilder::new("a").cpu("a lot").build();
        let err = PodInfo::new(&pod, 0).unwrap_err();
        assert!(err.to_string().contains("resource cpu"), "{err}");
    }
}
