//! InterPodAffinity's PreScore and Score (Kubernetes' scoring.go).

use super::{InterPodAffinity, TopologyCounts};
use crate::framework::{Cluster, CycleState, PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::{AffinityTerm, PodInfo};

/// Weighted counts per topology pair, summed over all existing pods.
#[derive(Debug, Default, Clone)]
struct ScoreState(TopologyCounts);

fn process(
    terms: &[AffinityTerm],
    target: &PodInfo,
    node: &NodeInfo,
    sign: i64,
    cluster: &Cluster<'_>,
    out: &mut TopologyCounts,
) {
    for t in terms {
        if t.matches(target, cluster.namespaces) {
            out.add(&t.topology_key, node.labels(), sign * i64::from(t.weight));
        }
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        cluster: &Cluster<'_>,
        _feasible: &[u32],
    ) -> Status {
        let a = &pod.affinity;
        let has_constraints = !a.preferred.is_empty() || !a.preferred_anti.is_empty();
        if !has_constraints
            && (self.args.ignore_preferred_terms_of_existing_pods
                || cluster.cache.pods_with_affinity() == 0)
        {
            return Status::skip();
        }
        let hard = i64::from(self.args.hard_pod_affinity_weight);
        let mut counts = TopologyCounts::default();
        for &slot in cluster.cache.nodes() {
            let node = cluster.cache.node(slot);
            if node.labels().is_empty() || (!has_constraints && node.pods_with_affinity == 0) {
                continue;
            }
            for existing in &node.pods {
                if !has_constraints && existing.affinity.is_empty() {
                    continue;
                }
                process(&a.preferred, existing, node, 1, cluster, &mut counts);
                process(&a.preferred_anti, existing, node, -1, cluster, &mut counts);
                if hard > 0 {
                    for t in &existing.affinity.required {
                        if t.matches(pod, cluster.namespaces) {
                            counts.add(&t.topology_key, node.labels(), hard);
                        }
                    }
                }
                process(
                    &existing.affinity.preferred,
                    pod,
                    node,
                    1,
                    cluster,
                    &mut counts,
                );
                process(
                    &existing.affinity.preferred_anti,
                    pod,
                    node,
                    -1,
                    cluster,
                    &mut counts,
                );
            }
        }
        if counts.is_empty() {
            return Status::skip();
        }
        state.write(ScoreState(counts));
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(ScoreState(counts)) = state.read::<ScoreState>() else {
            return 0;
        };
        counts
            .0
            .iter()
            .map(|(key, values)| {
                node.labels()
                    .get(key)
                    .and_then(|v| values.get(v))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) {
        let (Some(&min), Some(&max)) = (scores.iter().min(), scores.iter().max()) else {
            return;
        };
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 {
                MAX_NODE_SCORE * (*s - min) / diff
            } else {
                0
            };
        }
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
    use crate::labels::NamespaceLabels;
    use crate::pod_info::LABEL_ZONE;
    use std::sync::Arc;

    fn scores(cache: &Cache, pod: &PodInfo) -> Option<Vec<i64>> {
        let ns = NamespaceLabels::new();
        let cl = Cluster {
            cache,
            namespaces: &ns,
        };
        let plugin = InterPodAffinity::new(InterPodAffinityArgs::default());
        let mut st = CycleState::new();
        if plugin.pre_score(&mut st, pod, &cl, cache.nodes()).is_skip() {
            return None;
        }
        let mut s: Vec<i64> = cache
            .nodes()
            .iter()
            .map(|n| plugin.score(&st, pod, cache.node(*n)))
            .collect();
        plugin.normalize(&st, pod, &mut s);
        Some(s)
    }

    fn cluster() -> Cache {
        let mut c = Cache::new();
        for (n, z) in [("a", "z1"), ("b", "z2"), ("c", "z3")] {
            c.upsert_node(&NodeBuilder::new(n).zone(z).build());
        }
        c
    }

    #[test]
    fn preferred_affinity_and_anti_affinity_of_the_incoming_pod() {
        let mut c = cluster();
        c.add_pod(
            Arc::new(PodBuilder::new("cache").label("app", "cache").build_info()),
            "a",
            false,
        )
        .unwrap();
        c.add_pod(
            Arc::new(PodBuilder::new("batch").label("app", "batch").build_info()),
            "b",
            false,
        )
        .unwrap();
        let pod = PodBuilder::new("p")
            .preferred_pod_affinity(10, &[("app", "cache")], LABEL_ZONE)
            .preferred_pod_affinity(-10, &[("app", "batch")], LABEL_ZONE)
            .build_info();
        // raw: a=10, b=-10, c=0 → normalized by (s-min)/(max-min).
        assert_eq!(scores(&c, &pod), Some(vec![100, 0, 50]));
        assert_eq!(scores(&c, &PodBuilder::new("plain").build_info()), None);
    }

    #[test]
    fn existing_pods_terms_attract_and_repel_the_incoming_pod() {
        let mut c = cluster();
        let wants_web = PodBuilder::new("x")
            .pod_affinity(&[("app", "web")], LABEL_ZONE)
            .build_info();
        c.add_pod(Arc::new(wants_web), "a", false).unwrap();
        let hates_web = PodBuilder::new("y")
            .preferred_pod_affinity(-5, &[("app", "web")], LABEL_ZONE)
            .build_info();
        c.add_pod(Arc::new(hates_web), "b", false).unwrap();
        let web = PodBuilder::new("w").label("app", "web").build_info();
        // a: hard weight 1; b: -5; c: 0.
        assert_eq!(scores(&c, &web), Some(vec![100, 0, 83]));
    }
}
