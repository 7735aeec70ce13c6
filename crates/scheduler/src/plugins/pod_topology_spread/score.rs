//! PodTopologySpread's PreScore and Score (Kubernetes' scoring.go).

use super::{has_all_keys, Constraint, DomainCounts, PodTopologySpread, Sel};
use crate::framework::{Cluster, CycleState, PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::{PodInfo, LABEL_HOSTNAME, LABEL_ZONE};

/// How a constraint finds the count of its node's domain.
#[derive(Debug, Clone)]
enum Domains {
    /// The domain is the node (the hostname key): count on the node.
    PerNode,
    /// Counts by zone id (owner counts kept by the cache).
    ByZoneId(Vec<i64>),
    /// Counts by label value.
    ByValue(DomainCounts),
}

#[derive(Debug, Clone)]
struct ScoreState {
    constraints: Vec<Constraint>,
    domains: Vec<Domains>,
    weights: Vec<f64>,
    require_all: bool,
    /// Per feasible node (in PreScore order): left out of scoring.
    ignored: Vec<bool>,
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        cluster: &Cluster<'_>,
        feasible: &[u32],
    ) -> Status {
        let cache = cluster.cache;
        let (constraints, system_defaulted) = self.constraints(pod, cache, false);
        if constraints.is_empty() || feasible.is_empty() {
            return Status::skip();
        }
        let require_all = !pod.spread.is_empty() || !system_defaulted;
        let mut ignored = vec![false; feasible.len()];
        let mut domains = Vec::with_capacity(constraints.len());
        let mut sizes = vec![0usize; constraints.len()];
        let mut zone_seen: Vec<bool> = Vec::new();
        for (i, c) in constraints.iter().enumerate() {
            let owner_zone = matches!(c.sel, Sel::Owner(_)) && c.key == LABEL_ZONE;
            domains.push(if c.key == LABEL_HOSTNAME {
                Domains::PerNode
            } else if owner_zone {
                zone_seen = vec![false; cache.num_zone_ids()];
                Domains::ByZoneId(vec![0; cache.num_zone_ids()])
            } else {
                Domains::ByValue(DomainCounts::new())
            });
            let _ = i;
        }
        let mut scored = 0usize;
        for (k, &slot) in feasible.iter().enumerate() {
            if require_all && !has_all_keys(&constraints, cache.node(slot)) {
                ignored[k] = true;
                continue;
            }
            scored += 1;
            for (i, c) in constraints.iter().enumerate() {
                match &mut domains[i] {
                    Domains::PerNode => {}
                    Domains::ByZoneId(_) => {
                        let z = cache.topology(slot).zone_id as usize;
                        if z < zone_seen.len() && !zone_seen[z] {
                            zone_seen[z] = true;
                            sizes[i] += 1;
                        }
                    }
                    Domains::ByValue(m) => {
                        if let Some(v) = cache.node(slot).labels().get(&c.key) {
                            if !m.contains_key(v) {
                                m.insert(v.clone(), 0);
                                sizes[i] += 1;
                            }
                        }
                    }
                }
            }
        }
        for (i, c) in constraints.iter().enumerate() {
            match &mut domains[i] {
                Domains::PerNode => sizes[i] = scored,
                Domains::ByZoneId(counts) => {
                    if let (Sel::Owner(Some(_)), Some(oc)) = (
                        &c.sel,
                        pod.owner.as_ref().and_then(|o| cache.owner_counts(&o.uid)),
                    ) {
                        for (z, n) in &oc.per_zone {
                            if let Some(slot) = counts.get_mut(*z as usize) {
                                *slot = i64::from(*n);
                            }
                        }
                    }
                }
                Domains::ByValue(m) => {
                    for &slot in cache.nodes() {
                        let node = cache.node(slot);
                        if require_all && !has_all_keys(&constraints, node) {
                            continue;
                        }
                        if !c.includes(pod, node) {
                            continue;
                        }
                        if let Some(cnt) = node.labels().get(&c.key).and_then(|v| m.get_mut(v)) {
                            *cnt += c.count(pod, node);
                        }
                    }
                }
            }
        }
        let weights = sizes.iter().map(|s| ((*s + 2) as f64).ln()).collect();
        state.write(ScoreState {
            constraints,
            domains,
            weights,
            require_all,
            ignored,
        });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<ScoreState>() else {
            return 0;
        };
        if s.require_all && !has_all_keys(&s.constraints, node) {
            return 0;
        }
        let mut score = 0f64;
        for (i, c) in s.constraints.iter().enumerate() {
            let count = match &s.domains[i] {
                // PerNode is only used for the hostname key.
                Domains::PerNode => {
                    if !node.has_hostname {
                        continue;
                    }
                    c.count(pod, node)
                }
                Domains::ByZoneId(v) => match v.get(node.zone_id as usize) {
                    Some(n) => *n,
                    None if node.zone_id == u32::MAX => continue,
                    None => 0,
                },
                Domains::ByValue(m) => match node.labels().get(&c.key) {
                    Some(value) => m.get(value).copied().unwrap_or(0),
                    None => continue,
                },
            };
            score += count as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        // Scores are never negative: rounding half up is `round`.
        (score + 0.5) as i64
    }

    fn score_all(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        cluster: &Cluster<'_>,
        feasible: &[u32],
        out: &mut [i64],
    ) {
        let Some(s) = state.read::<ScoreState>() else {
            out.iter_mut().for_each(|o| *o = 0);
            return;
        };
        // The fast path: system-default constraints (owner counts by node and zone) read
        // only the cache's packed topology, not the nodes.
        let fast = !s.require_all
            && s.constraints.iter().zip(&s.domains).all(|(c, d)| match d {
                Domains::PerNode => matches!(c.sel, Sel::Owner(_)),
                Domains::ByZoneId(_) => true,
                Domains::ByValue(_) => false,
            });
        if !fast {
            for (o, &slot) in out.iter_mut().zip(feasible) {
                *o = self.score(state, pod, cluster.cache.node(slot));
            }
            return;
        }
        for (o, &slot) in out.iter_mut().zip(feasible) {
            let topo = cluster.cache.topology(slot);
            let mut score = 0f64;
            for (i, c) in s.constraints.iter().enumerate() {
                let count = match &s.domains[i] {
                    Domains::PerNode => {
                        if !topo.has_hostname {
                            continue;
                        }
                        match (&c.sel, topo.owner_count(owner_id(&c.sel))) {
                            (Sel::Owner(None), _) => 0,
                            (_, Some(n)) => i64::from(n),
                            (_, None) => c.count(pod, cluster.cache.node(slot)),
                        }
                    }
                    Domains::ByZoneId(v) => match v.get(topo.zone_id as usize) {
                        Some(n) => *n,
                        None if topo.zone_id == u32::MAX => continue,
                        None => 0,
                    },
                    // Excluded by `fast`.
                    Domains::ByValue(_) => continue,
                };
                score += count as f64 * s.weights[i] + (c.max_skew - 1) as f64;
            }
            *o = (score + 0.5) as i64;
        }
    }

    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) {
        let Some(s) = state.read::<ScoreState>() else {
            return;
        };
        let ignored = |i: usize| s.ignored.get(i).copied().unwrap_or(false);
        let mut min = i64::MAX;
        let mut max = 0i64;
        for (i, v) in scores.iter().enumerate() {
            if !ignored(i) {
                min = min.min(*v);
                max = max.max(*v);
            }
        }
        for (i, v) in scores.iter_mut().enumerate() {
            *v = if ignored(i) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *v) / max
            };
        }
    }

    fn node_local(&self) -> bool {
        false
    }
}

/// The owner id a constraint counts (0, which no owner has, for "none yet").
fn owner_id(sel: &Sel) -> u32 {
    match sel {
        Sel::Owner(Some(id)) => *id,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::PodTopologySpreadArgs;
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::cache::Cache;
    use crate::labels::NamespaceLabels;
    use std::sync::Arc;

    fn scores(cache: &Cache, pod: &PodInfo) -> Option<Vec<i64>> {
        let ns = NamespaceLabels::new();
        let cl = Cluster {
            cache,
            namespaces: &ns,
        };
        let plugin = PodTopologySpread::new(PodTopologySpreadArgs::default());
        let mut st = CycleState::new();
        if plugin.pre_score(&mut st, pod, &cl, cache.nodes()).is_skip() {
            return None;
        }
        let mut s: Vec<i64> = cache
            .nodes()
            .iter()
            .map(|n| plugin.score(&st, pod, cache.node(*n)))
            .collect();
        let mut batch = vec![0; s.len()];
        plugin.score_all(&st, pod, &cl, cache.nodes(), &mut batch);
        assert_eq!(s, batch, "score_all agrees with score");
        plugin.normalize(&st, pod, &mut s);
        Some(s)
    }

    fn cluster() -> Cache {
        let mut c = Cache::new();
        for (n, z) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
            c.upsert_node(&NodeBuilder::new(n).zone(z).build());
        }
        c
    }

    #[test]
    fn system_defaults_spread_an_owners_replicas_over_nodes_and_zones() {
        let mut c = cluster();
        let replica = |n: &str| Arc::new(PodBuilder::new(n).owner("rs").build_info());
        c.add_pod(replica("r1"), "a", false).unwrap();
        c.add_pod(replica("r2"), "a", false).unwrap();
        let s = scores(&c, &PodBuilder::new("p").owner("rs").build_info()).unwrap();
        // a is crowded (2 here, 2 in its zone); b shares a's zone; c is empty in an empty zone.
        assert!(s[2] > s[1] && s[1] > s[0], "{s:?}");
        assert_eq!(s[2], MAX_NODE_SCORE);
        assert_eq!(scores(&c, &PodBuilder::new("orphan").build_info()), None);
    }

    #[test]
    fn soft_constraints_score_by_label_selector_and_ignore_nodes_without_keys() {
        let mut c = cluster();
        c.upsert_node(&NodeBuilder::new("nozone").build());
        c.add_pod(
            Arc::new(PodBuilder::new("w").label("app", "web").build_info()),
            "a",
            false,
        )
        .unwrap();
        let pod = PodBuilder::new("p")
            .label("app", "web")
            .spread(1, LABEL_ZONE, false, &[("app", "web")])
            .build_info();
        let s = scores(&c, &pod).unwrap();
        // z1 has one matching pod, z2 none; nozone is ignored (0).
        assert_eq!(s[3], 0);
        assert!(s[2] > s[0] && s[0] == s[1], "{s:?}");
    }
}
