//! PodTopologySpread's PreFilter and Filter (Kubernetes' filtering.go).

use super::{Constraint, DomainCounts, PodTopologySpread, NAME};
use crate::framework::{Cluster, CycleState, FilterPlugin, PreFilterPlugin, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::{PodInfo, LABEL_ZONE};

/// Reason for a node whose domain would be too crowded.
pub const REASON_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
/// Reason for a node without a constraint's topology label.
pub const REASON_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// Matching pods per domain of one constraint.
#[derive(Debug, Clone)]
enum Counts {
    /// The zone label: counts by zone id (`None`: not an eligible domain).
    Zone(Vec<Option<i64>>),
    /// Any other key: counts by label value.
    Value(DomainCounts),
}

impl Counts {
    fn for_key(key: &str, zones: usize) -> Self {
        if key == LABEL_ZONE {
            Counts::Zone(vec![None; zones])
        } else {
            Counts::Value(DomainCounts::new())
        }
    }

    /// Adds `n` to the node's domain (making it eligible).
    fn add(&mut self, key: &str, node: &NodeInfo, n: i64) {
        match self {
            Counts::Zone(v) => {
                if let Some(slot) = v.get_mut(node.zone_id as usize) {
                    *slot.get_or_insert(0) += n;
                }
            }
            Counts::Value(m) => {
                if let Some(value) = node.labels().get(key) {
                    match m.get_mut(value) {
                        Some(c) => *c += n,
                        None => {
                            m.insert(value.clone(), n);
                        }
                    }
                }
            }
        }
    }

    /// The count of the node's domain, or `None` when the node lacks the key.
    fn get(&self, key: &str, node: &NodeInfo) -> Option<i64> {
        match self {
            Counts::Zone(v) => (node.zone_id != u32::MAX)
                .then(|| v.get(node.zone_id as usize).copied().flatten().unwrap_or(0)),
            Counts::Value(m) => node
                .labels()
                .get(key)
                .map(|v| m.get(v).copied().unwrap_or(0)),
        }
    }

    fn domains(&self) -> usize {
        match self {
            Counts::Zone(v) => v.iter().filter(|c| c.is_some()).count(),
            Counts::Value(m) => m.len(),
        }
    }

    fn min(&self) -> Option<i64> {
        match self {
            Counts::Zone(v) => v.iter().flatten().copied().min(),
            Counts::Value(m) => m.values().copied().min(),
        }
    }
}

/// Whether the node has the constraint's key (the zone from the node's zone id).
fn has_key(c: &Constraint, node: &NodeInfo) -> bool {
    if c.key == LABEL_ZONE {
        node.zone_id != u32::MAX
    } else {
        node.labels().contains_key(&c.key)
    }
}

#[derive(Debug, Clone)]
struct FilterState {
    constraints: Vec<Constraint>,
    counts: Vec<Counts>,
    /// Global minimum per constraint (over eligible domains).
    min: Vec<i64>,
    /// Number of eligible domains per constraint.
    domains: Vec<usize>,
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, cluster: &Cluster<'_>) -> Status {
        let (constraints, _) = self.constraints(pod, cluster.cache, true);
        if constraints.is_empty() {
            return Status::skip();
        }
        let zones = cluster.cache.num_zone_ids();
        let mut counts: Vec<Counts> = constraints
            .iter()
            .map(|c| Counts::for_key(&c.key, zones))
            .collect();
        for &slot in cluster.cache.nodes() {
            let node = cluster.cache.node(slot);
            if !constraints.iter().all(|c| has_key(c, node)) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes(pod, node) {
                    continue;
                }
                let n = if node.pods.is_empty() {
                    0
                } else {
                    c.count(pod, node)
                };
                counts[i].add(&c.key, node, n);
            }
        }
        let min = counts
            .iter()
            .map(|m| m.min().unwrap_or(i64::from(i32::MAX)))
            .collect();
        let domains = counts.iter().map(Counts::domains).collect();
        state.write(FilterState {
            constraints,
            counts,
            min,
            domains,
        });
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
    if other.namespace != pod.namespace || !s.constraints.iter().all(|c| has_key(c, node)) {
        return;
    }
    for i in 0..s.constraints.len() {
        let c = &s.constraints[i];
        if !c.counts_pod(cluster, other) || !c.includes(pod, node) {
            continue;
        }
        let key = c.key.clone();
        s.counts[i].add(&key, node, delta);
        s.min[i] = s.counts[i].min().unwrap_or(i64::from(i32::MAX));
        s.domains[i] = s.counts[i].domains();
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<FilterState>() else {
            return Status::success();
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(matching) = s.counts[i].get(&c.key, node) else {
                return Status::unresolvable(NAME, REASON_LABEL);
            };
            let mut min = s.min[i];
            if c.min_domains
                .is_some_and(|m| (s.domains[i] as i64) < i64::from(m))
            {
                min = 0;
            }
            let skew = matching + i64::from(c.self_match) - min;
            if skew > c.max_skew {
                return Status::unschedulable(NAME, REASON_CONSTRAINTS);
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
    use super::super::PodTopologySpreadArgs;
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::cache::Cache;
    use crate::framework::Code;
    use crate::labels::NamespaceLabels;
    use crate::pod_info::LABEL_ZONE;
    use std::sync::Arc;

    fn feasible(cache: &Cache, pod: &PodInfo) -> Vec<String> {
        let ns = NamespaceLabels::new();
        let cl = Cluster {
            cache,
            namespaces: &ns,
        };
        let plugin = PodTopologySpread::new(PodTopologySpreadArgs::default());
        let mut st = CycleState::new();
        if plugin.pre_filter(&mut st, pod, &cl).is_skip() {
            return vec!["skip".into()];
        }
        cache
            .nodes()
            .iter()
            .map(|s| cache.node(*s))
            .filter(|n| plugin.filter(&st, pod, n).is_success())
            .map(|n| n.name().to_string())
            .collect()
    }

    fn cluster(zones: &[(&str, &str)]) -> Cache {
        let mut c = Cache::new();
        for (n, z) in zones {
            c.upsert_node(&NodeBuilder::new(n).zone(z).build());
        }
        c
    }

    fn web(name: &str) -> Arc<PodInfo> {
        Arc::new(PodBuilder::new(name).label("app", "web").build_info())
    }

    #[test]
    fn max_skew_keeps_zones_even() {
        let mut c = cluster(&[("a", "z1"), ("b", "z1"), ("c", "z2")]);
        c.add_pod(web("w1"), "a", false).unwrap();
        let pod = PodBuilder::new("p")
            .label("app", "web")
            .spread(1, LABEL_ZONE, true, &[("app", "web")])
            .build_info();
        assert_eq!(feasible(&c, &pod), vec!["c"]);
        c.add_pod(web("w2"), "c", false).unwrap();
        assert_eq!(feasible(&c, &pod), vec!["a", "b", "c"]);
        // Soft constraints do not filter.
        let soft = PodBuilder::new("s")
            .label("app", "web")
            .spread(1, LABEL_ZONE, false, &[("app", "web")])
            .build_info();
        assert_eq!(feasible(&c, &soft), vec!["skip"]);
    }

    #[test]
    fn nodes_without_the_key_are_unresolvable() {
        let mut c = cluster(&[("a", "z1")]);
        c.upsert_node(&NodeBuilder::new("nozone").build());
        let pod = PodBuilder::new("p")
            .label("app", "web")
            .spread(1, LABEL_ZONE, true, &[("app", "web")])
            .build_info();
        let ns = NamespaceLabels::new();
        let plugin = PodTopologySpread::new(PodTopologySpreadArgs::default());
        let mut st = CycleState::new();
        plugin.pre_filter(
            &mut st,
            &pod,
            &Cluster {
                cache: &c,
                namespaces: &ns,
            },
        );
        let st = plugin.filter(&st, &pod, c.node(c.slot_of("nozone").unwrap()));
        assert_eq!(
            (st.code, st.reasons[0].as_ref()),
            (Code::UnschedulableAndUnresolvable, REASON_LABEL)
        );
    }

    #[test]
    fn min_domains_treats_missing_domains_as_empty() {
        let mut c = cluster(&[("a", "z1"), ("b", "z2")]);
        c.add_pod(web("w1"), "a", false).unwrap();
        c.add_pod(web("w2"), "b", false).unwrap();
        let plain = PodBuilder::new("p")
            .label("app", "web")
            .spread(1, LABEL_ZONE, true, &[("app", "web")])
            .build_info();
        assert_eq!(feasible(&c, &plain), vec!["a", "b"]);
        // With minDomains 3 and only 2 zones, the global minimum is 0: 1 + 1 - 0 > 1.
        let wants3 = PodBuilder::new("p")
            .label("app", "web")
            .spread(1, LABEL_ZONE, true, &[("app", "web")])
            .min_domains(3)
            .build_info();
        assert!(feasible(&c, &wants3).is_empty());
    }

    #[test]
    fn node_affinity_policy_honor_ignores_excluded_nodes() {
        let mut c = cluster(&[("a", "z1"), ("b", "z2")]);
        c.upsert_node(
            &NodeBuilder::new("x")
                .zone("z3")
                .label("pool", "other")
                .build(),
        );
        c.add_pod(web("w1"), "a", false).unwrap();
        // z3 is outside the pod's node selector, so its 0 does not count as the minimum.
        let pod = PodBuilder::new("p")
            .label("app", "web")
            .node_affinity("pool", "DoesNotExist", &[])
            .spread(1, LABEL_ZONE, true, &[("app", "web")])
            .build_info();
        assert_eq!(feasible(&c, &pod), vec!["b", "x"]);
    }
}
