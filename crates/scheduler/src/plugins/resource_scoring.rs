//! Resource-based scoring shared by NodeResourcesFit (worst fit, best fit,
//! requested-to-capacity ratio) and NodeResourcesBalancedAllocation (hybrid).

use serde::{Deserialize, Serialize};

use crate::framework::MAX_NODE_SCORE;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::resources::{CPU, EPHEMERAL_STORAGE, MEMORY};

/// A resource and its weight in a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceWeight {
    /// Resource name (cpu, memory, ephemeral-storage or an extended resource).
    pub name: String,
    /// Weight (at least 1; 0 means the default of 1).
    #[serde(default)]
    pub weight: i64,
}

impl ResourceWeight {
    /// `cpu` and `memory` with weight 1 each: Kubernetes' default.
    pub fn defaults() -> Vec<ResourceWeight> {
        vec![
            ResourceWeight {
                name: CPU.into(),
                weight: 1,
            },
            ResourceWeight {
                name: MEMORY.into(),
                weight: 1,
            },
        ]
    }
}

/// Which of a node's summed requests a score uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Requests with 100m cpu / 200Mi memory assumed for containers that request none
    /// (what Kubernetes' fit scores use).
    NonZero,
    /// The actual requests (what balanced allocation uses).
    Requested,
}

/// `(allocatable, requested after placing the pod)` of one resource on a node, or `None`
/// when the resource should not count (an extended resource the pod does not request).
pub fn allocatable_and_requested(
    node: &NodeInfo,
    pod: &PodInfo,
    resource: &str,
    usage: Usage,
) -> Option<(i64, i64)> {
    let alloc = &node.node.allocatable;
    let pr = &pod.requests;
    let (a, r) = match (resource, usage) {
        (CPU, Usage::NonZero) => (
            alloc.milli_cpu,
            node.non_zero_milli_cpu
                .saturating_add(pr.non_zero_milli_cpu),
        ),
        (CPU, Usage::Requested) => (
            alloc.milli_cpu,
            node.requested
                .milli_cpu
                .saturating_add(pr.requests.milli_cpu),
        ),
        (MEMORY, Usage::NonZero) => (
            alloc.memory,
            node.non_zero_memory.saturating_add(pr.non_zero_memory),
        ),
        (MEMORY, Usage::Requested) => (
            alloc.memory,
            node.requested.memory.saturating_add(pr.requests.memory),
        ),
        (EPHEMERAL_STORAGE, _) => (
            alloc.ephemeral_storage,
            node.requested
                .ephemeral_storage
                .saturating_add(pr.requests.ephemeral_storage),
        ),
        _ => {
            let want = pr.requests.scalar(resource);
            if want == 0 {
                return None;
            }
            (
                alloc.scalar(resource),
                node.requested.scalar(resource).saturating_add(want),
            )
        }
    };
    Some((a, r))
}

/// Worst fit: the share of the node left free, 0..=100.
pub fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested).saturating_mul(MAX_NODE_SCORE) / capacity
}

/// Best fit: the share of the node in use, 0..=100.
pub fn most_requested(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 {
        return 0;
    }
    requested
        .min(capacity)
        .max(0)
        .saturating_mul(MAX_NODE_SCORE)
        / capacity
}

/// A piecewise-linear function of utilization (0..=100) to score (0..=100), from a
/// `requestedToCapacityRatio` shape whose points are sorted by utilization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    points: Vec<(i64, i64)>,
}

impl Shape {
    /// Builds the function from `(utilization 0..=100, score 0..=10)` points, scaling scores
    /// to 0..=100 as Kubernetes does.
    pub fn new(points: &[(i64, i64)]) -> Self {
        let mut pts: Vec<(i64, i64)> = points
            .iter()
            .map(|(u, s)| (*u, s * (MAX_NODE_SCORE / 10)))
            .collect();
        pts.sort_by_key(|p| p.0);
        Shape { points: pts }
    }

    /// The score at utilization `u` (percent).
    pub fn at(&self, u: i64) -> i64 {
        let pts = &self.points;
        if pts.is_empty() {
            return 0;
        }
        for i in 0..pts.len() {
            if u <= pts[i].0 {
                if i == 0 {
                    return pts[0].1;
                }
                let (u0, s0) = pts[i - 1];
                let (u1, s1) = pts[i];
                return s0 + (s1 - s0) * (u - u0) / (u1 - u0).max(1);
            }
        }
        pts[pts.len() - 1].1
    }

    /// The score of one resource.
    pub fn score(&self, requested: i64, capacity: i64) -> i64 {
        if capacity <= 0 || requested > capacity {
            return self.at(100);
        }
        self.at(requested.saturating_mul(100) / capacity)
    }
}

/// Kubernetes' balanced allocation: 100 times one minus the standard deviation of the
/// requested fractions of the resources.
pub fn balanced(fractions: &[f64]) -> i64 {
    let std = match fractions.len() {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            (fractions
                .iter()
                .map(|f| (f - mean) * (f - mean))
                .sum::<f64>()
                / n as f64)
                .sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_and_most_requested() {
        assert_eq!(least_requested(1000, 4000), 75);
        assert_eq!(least_requested(5000, 4000), 0);
        assert_eq!(least_requested(0, 0), 0);
        assert_eq!(most_requested(1000, 4000), 25);
        assert_eq!(most_requested(5000, 4000), 100);
        assert_eq!(most_requested(1, 0), 0);
    }

    #[test]
    fn shape_interpolates() {
        let s = Shape::new(&[(0, 0), (100, 10)]);
        assert_eq!(s.at(0), 0);
        assert_eq!(s.at(50), 50);
        assert_eq!(s.at(100), 100);
        let spread = Shape::new(&[(100, 0), (0, 10)]);
        assert_eq!(spread.at(25), 75);
        assert_eq!(spread.score(1, 0), 0, "no capacity scores as full");
    }

    #[test]
    fn balanced_allocation_prefers_even_fractions() {
        assert_eq!(balanced(&[0.5, 0.5]), 100);
        assert_eq!(balanced(&[1.0, 0.0]), 50);
        assert_eq!(balanced(&[0.2, 0.4, 0.6]), 83);
    }
}
