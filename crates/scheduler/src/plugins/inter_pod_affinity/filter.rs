//! InterPodAffinity's PreFilter and Filter (Kubernetes' filtering.go).

use super::{InterPodAffinity, TopologyCounts, NAME};
use crate::framework::{Cluster, CycleState, FilterPlugin, PreFilterPlugin, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::{AffinityTerm, PodInfo};

/// Reason for a node outside every domain with pods the pod must be with.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Reason for a node in a domain with pods the pod must not be with.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Reason for a node in a domain whose pods must not be with the incoming pod.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// What PreFilter computed for Filter.
#[derive(Debug, Default, Clone)]
struct FilterState {
    /// Domains where an existing pod's required anti-affinity matches the incoming pod.
    existing_anti: TopologyCounts,
    /// Domains with pods matching all of the incoming pod's required affinity terms.
    affinity: TopologyCounts,
    /// Domains with pods matching one of the incoming pod's required anti-affinity terms.
    anti: TopologyCounts,
    /// The incoming pod matches all its own affinity terms.
    self_match: bool,
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, cluster: &Cluster<'_>) -> bool {
    terms.iter().all(|t| t.matches(pod, cluster.namespaces))
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, cluster: &Cluster<'_>) -> Status {
        let req = &pod.affinity.required;
        let req_anti = &pod.affinity.required_anti;
        let has_own = !req.is_empty() || !req_anti.is_empty();
        if !has_own && cluster.cache.pods_with_required_anti_affinity() == 0 {
            return Status::skip();
        }
        let mut s = FilterState::default();
        for &slot in cluster.cache.nodes() {
            let node = cluster.cache.node(slot);
            let labels = node.labels();
            if node.pods_with_required_anti_affinity > 0 {
                for existing in node.pods.iter().filter(|p| p.has_required_anti_affinity()) {
                    for t in &existing.affinity.required_anti {
                        if t.matches(pod, cluster.namespaces) {
                            s.existing_anti.add(&t.topology_key, labels, 1);
                        }
                    }
                }
            }
            if !has_own {
                continue;
            }
            for existing in &node.pods {
                if !req.is_empty() && matches_all(req, existing, cluster) {
                    for t in req {
                        s.affinity.add(&t.topology_key, labels, 1);
                    }
                }
                for t in req_anti {
                    if t.matches(existing, cluster.namespaces) {
                        s.anti.add(&t.topology_key, labels, 1);
                    }
                }
            }
        }
        s.self_match = matches_all(req, pod, cluster);
        state.write(s);
        Status::success()
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        cluster: &Cluster<'_>,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
    ) {
        update_with_pod(state, cluster, pod, added, node, 1);
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        cluster: &Cluster<'_>,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) {
        update_with_pod(state, cluster, pod, removed, node, -1);
    }
}

/// Kubernetes' `updateWithPod`: account for `other` appearing on (or leaving) `node`.
fn update_with_pod(
    state: &mut CycleState,
    cluster: &Cluster<'_>,
    pod: &PodInfo,
    other: &PodInfo,
    node: &NodeInfo,
    delta: i64,
) {
    let Some(s) = state.read_mut::<FilterState>() else {
        return;
    };
    let labels = node.labels();
    for t in &other.affinity.required_anti {
        if t.matches(pod, cluster.namespaces) {
            s.existing_anti.add(&t.topology_key, labels, delta);
        }
    }
    let req = &pod.affinity.required;
    if !req.is_empty() && matches_all(req, other, cluster) {
        for t in req {
            s.affinity.add(&t.topology_key, labels, delta);
        }
    }
    for t in &pod.affinity.required_anti {
        if t.matches(other, cluster.namespaces) {
            s.anti.add(&t.topology_key, labels, delta);
        }
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<FilterState>() else {
            return Status::success();
        };
        let labels = node.labels();
        // The pod's own required affinity.
        let mut pods_exist = true;
        for t in &pod.affinity.required {
            match labels.get(&t.topology_key) {
                None => return Status::unresolvable(NAME, REASON_AFFINITY),
                Some(v) if s.affinity.get(&t.topology_key, v) <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        // The first pod of a group with affinity to itself may go anywhere.
        if !(pods_exist || s.affinity.is_empty() && s.self_match) {
            return Status::unresolvable(NAME, REASON_AFFINITY);
        }
        // The pod's own required anti-affinity.
        for t in &pod.affinity.required_anti {
            if let Some(v) = labels.get(&t.topology_key) {
                if s.anti.get(&t.topology_key, v) > 0 {
                    return Status::unschedulable(NAME, REASON_ANTI_AFFINITY);
                }
            }
        }
        // Existing pods' anti-affinity against this pod.
        for (key, values) in &s.existing_anti.0 {
            if let Some(v) = labels.get(key) {
                if values.get(v).is_some_and(|c| *c > 0) {
                    return Status::unschedulable(NAME, REASON_EXISTING_ANTI_AFFINITY);
                }
            }
        }
        Status::success()
    }

    fn node_local(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::InterPodAffinityArgs;
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::cache::Cache;
    use crate::framework::Code;
    use crate::labels::NamespaceLabels;
    use crate::pod_info::LABEL_ZONE;
    use std::sync::Arc;

    const HOST: &str = "kubernetes.io/hostname";

    fn cluster() -> Cache {
        let mut c = Cache::new();
        for (n, z) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
            c.upsert_node(&NodeBuilder::new(n).zone(z).build());
        }
        c
    }

    fn run(cache: &Cache, pod: &PodInfo) -> Vec<(String, Status)> {
        let ns = NamespaceLabels::new();
        let cl = Cluster {
            cache,
            namespaces: &ns,
        };
        let plugin = InterPodAffinity::new(InterPodAffinityArgs::default());
        let mut st = CycleState::new();
        if plugin.pre_filter(&mut st, pod, &cl).is_skip() {
            return cache
                .nodes()
                .iter()
                .map(|s| (cache.node(*s).name().to_string(), Status::success()))
                .collect();
        }
        cache
            .nodes()
            .iter()
            .map(|s| {
                (
                    cache.node(*s).name().to_string(),
                    plugin.filter(&st, pod, cache.node(*s)),
                )
            })
            .collect()
    }

    fn feasible(results: &[(String, Status)]) -> Vec<&str> {
        results
            .iter()
            .filter(|(_, s)| s.is_success())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    #[test]
    fn required_affinity_follows_matching_pods_by_zone() {
        let mut c = cluster();
        c.add_pod(
            Arc::new(PodBuilder::new("db").label("app", "db").build_info()),
            "c",
            false,
        )
        .unwrap();
        let pod = PodBuilder::new("p")
            .pod_affinity(&[("app", "db")], LABEL_ZONE)
            .build_info();
        let r = run(&c, &pod);
        assert_eq!(feasible(&r), vec!["c"]);
        assert_eq!(r[0].1.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(r[0].1.reasons, vec![REASON_AFFINITY]);
    }

    #[test]
    fn first_pod_of_a_self_affine_group_goes_anywhere() {
        let c = cluster();
        let pod = PodBuilder::new("p")
            .label("app", "web")
            .pod_affinity(&[("app", "web")], LABEL_ZONE)
            .build_info();
        assert_eq!(feasible(&run(&c, &pod)), vec!["a", "b", "c"]);
        let other = PodBuilder::new("q")
            .pod_affinity(&[("app", "web")], LABEL_ZONE)
            .build_info();
        assert!(feasible(&run(&c, &other)).is_empty());
    }

    #[test]
    fn required_anti_affinity_avoids_domains_with_matching_pods() {
        let mut c = cluster();
        c.add_pod(
            Arc::new(PodBuilder::new("w1").label("app", "web").build_info()),
            "a",
            false,
        )
        .unwrap();
        let by_host = PodBuilder::new("p")
            .pod_anti_affinity(&[("app", "web")], HOST)
            .build_info();
        let r = run(&c, &by_host);
        assert_eq!(feasible(&r), vec!["b", "c"]);
        assert_eq!(
            (r[0].1.code, r[0].1.reasons[0].as_ref()),
            (Code::Unschedulable, REASON_ANTI_AFFINITY)
        );
        let by_zone = PodBuilder::new("p")
            .pod_anti_affinity(&[("app", "web")], LABEL_ZONE)
            .build_info();
        assert_eq!(feasible(&run(&c, &by_zone)), vec!["c"]);
    }

    #[test]
    fn existing_pods_anti_affinity_repels_the_incoming_pod() {
        let mut c = cluster();
        let loner = PodBuilder::new("loner")
            .pod_anti_affinity(&[("app", "noisy")], LABEL_ZONE)
            .build_info();
        c.add_pod(Arc::new(loner), "a", false).unwrap();
        let noisy = PodBuilder::new("n").label("app", "noisy").build_info();
        let r = run(&c, &noisy);
        assert_eq!(feasible(&r), vec!["c"]);
        assert_eq!(r[1].1.reasons, vec![REASON_EXISTING_ANTI_AFFINITY]);
        // Other namespaces are out of the term's scope.
        let elsewhere = PodBuilder::new("n")
            .namespace("other")
            .label("app", "noisy")
            .build_info();
        assert_eq!(feasible(&run(&c, &elsewhere)).len(), 3);
        // A pod that matches nothing skips the plugin.
        assert_eq!(
            feasible(&run(&c, &PodBuilder::new("x").build_info())).len(),
            3
        );
    }
}
