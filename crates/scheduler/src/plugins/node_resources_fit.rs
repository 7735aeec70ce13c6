//! NodeResourcesFit: the pod's requests must fit in what the node has left, and
//! the node is scored by a placement policy: worst fit (`LeastAllocated`), best
//! fit (`MostAllocated`) or a `RequestedToCapacityRatio` shape.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::resource_scoring::{
    allocatable_and_requested, least_requested, most_requested, ResourceWeight, Shape, Usage,
};
use crate::framework::{
    ActionType, ClusterEvent, Code, CycleState, EventResource, FilterPlugin, Plugin, ScorePlugin,
    Status,
};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "NodeResourcesFit";

/// How NodeResourcesFit scores nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StrategyType {
    /// Worst fit: prefer the emptiest node.
    #[default]
    LeastAllocated,
    /// Best fit: prefer the fullest node that fits.
    MostAllocated,
    /// A configurable utilization → score shape.
    RequestedToCapacityRatio,
}

/// One point of a `requestedToCapacityRatio` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UtilizationShapePoint {
    /// Utilization in percent (0..=100).
    pub utilization: i64,
    /// Score at that utilization (0..=10).
    pub score: i64,
}

/// `requestedToCapacityRatio` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestedToCapacityRatioParam {
    /// The shape's points.
    #[serde(default)]
    pub shape: Vec<UtilizationShapePoint>,
}

/// `scoringStrategy` of the plugin's args.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScoringStrategy {
    /// The policy.
    #[serde(rename = "type", default)]
    pub kind: StrategyType,
    /// Resources and weights (default cpu and memory, weight 1).
    #[serde(default = "ResourceWeight::defaults")]
    pub resources: Vec<ResourceWeight>,
    /// Shape for `RequestedToCapacityRatio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        ScoringStrategy {
            kind: StrategyType::LeastAllocated,
            resources: ResourceWeight::defaults(),
            requested_to_capacity_ratio: None,
        }
    }
}

/// The plugin's args (`NodeResourcesFitArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeResourcesFitArgs {
    /// Extended resources the filter ignores.
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    /// Extended resource groups (the part before `/`) the filter ignores.
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
    /// How nodes are scored.
    #[serde(default)]
    pub scoring_strategy: ScoringStrategy,
}

/// Checks and scores resource fit.
#[derive(Debug)]
pub struct NodeResourcesFit {
    args: NodeResourcesFitArgs,
    weights: Vec<ResourceWeight>,
    shape: Shape,
}

impl NodeResourcesFit {
    /// Builds the plugin from its args.
    pub fn new(args: NodeResourcesFitArgs) -> Self {
        let weights = args
            .scoring_strategy
            .resources
            .iter()
            .map(|r| ResourceWeight {
                name: r.name.clone(),
                weight: r.weight.max(1),
            })
            .collect();
        let points: Vec<(i64, i64)> = match &args.scoring_strategy.requested_to_capacity_ratio {
            Some(p) if !p.shape.is_empty() => {
                p.shape.iter().map(|p| (p.utilization, p.score)).collect()
            }
            // Kubernetes' default shape favours packing: 0% → 0, 100% → 10.
            _ => vec![(0, 0), (100, 10)],
        };
        NodeResourcesFit {
            shape: Shape::new(&points),
            weights,
            args,
        }
    }

    fn ignored(&self, name: &str) -> bool {
        self.args.ignored_resources.iter().any(|r| r == name)
            || name.split_once('/').is_some_and(|(group, _)| {
                self.args.ignored_resource_groups.iter().any(|g| g == group)
            })
    }
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent {
                resource: EventResource::Node,
                actions: ActionType::ADD.or(ActionType::UPDATE_NODE_ALLOCATABLE),
            },
            ClusterEvent {
                resource: EventResource::AssignedPod,
                actions: ActionType::DELETE,
            },
        ];
        EVENTS
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let alloc = &node.node.allocatable;
        let used = &node.requested;
        let want = &pod.requests.requests;
        let mut reasons: Vec<Cow<'static, str>> = Vec::new();
        let mut unresolvable = false;
        if node.pods.len() as i64 + 1 > alloc.pods {
            reasons.push("Too many pods".into());
            unresolvable |= alloc.pods < 1;
        }
        let mut check = |name: &'static str, want: i64, alloc: i64, used: i64| {
            if want > 0 && want > alloc.saturating_sub(used) {
                reasons.push(Cow::Borrowed(name));
                unresolvable |= want > alloc;
            }
        };
        check(
            "Insufficient cpu",
            want.milli_cpu,
            alloc.milli_cpu,
            used.milli_cpu,
        );
        check(
            "Insufficient memory",
            want.memory,
            alloc.memory,
            used.memory,
        );
        check(
            "Insufficient ephemeral-storage",
            want.ephemeral_storage,
            alloc.ephemeral_storage,
            used.ephemeral_storage,
        );
        for (name, q) in &want.scalar {
            if *q > 0 && !self.ignored(name) {
                let a = alloc.scalar(name);
                if *q > a.saturating_sub(used.scalar(name)) {
                    reasons.push(Cow::Owned(format!("Insufficient {name}")));
                    unresolvable |= *q > a;
                }
            }
        }
        if reasons.is_empty() {
            return Status::success();
        }
        let code = if unresolvable {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        };
        Status {
            code,
            reasons,
            plugin: NAME,
        }
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let kind = self.args.scoring_strategy.kind;
        let mut total = 0i64;
        let mut weights = 0i64;
        for rw in &self.weights {
            let Some((alloc, req)) = allocatable_and_requested(node, pod, &rw.name, Usage::NonZero)
            else {
                continue;
            };
            if alloc == 0 {
                continue;
            }
            let s = match kind {
                StrategyType::LeastAllocated => least_requested(req, alloc),
                StrategyType::MostAllocated => most_requested(req, alloc),
                StrategyType::RequestedToCapacityRatio => self.shape.score(req, alloc),
            };
            total += s * rw.weight;
            weights += rw.weight;
        }
        if weights == 0 {
            return 0;
        }
        if kind == StrategyType::RequestedToCapacityRatio {
            // Kubernetes rounds this one to nearest.
            (total + weights / 2) / weights
        } else {
            total / weights
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::plugins::{node_from, node_with_pods};

    fn fit() -> NodeResourcesFit {
        NodeResourcesFit::new(NodeResourcesFitArgs::default())
    }

    #[test]
    fn filter_reports_each_insufficient_resource() {
        let s = CycleState::new();
        let node = node_with_pods(
            NodeBuilder::new("n").cpu("2").memory("4Gi"),
            &[PodBuilder::new("a").cpu("1500m").memory("1Gi")],
        );
        assert!(fit()
            .filter(&s, &PodBuilder::new("p").cpu("500m").build_info(), &node)
            .is_success());
        let st = fit().filter(
            &s,
            &PodBuilder::new("p").cpu("600m").memory("4Gi").build_info(),
            &node,
        );
        assert_eq!(st.code, Code::Unschedulable);
        assert_eq!(st.reasons, vec!["Insufficient cpu", "Insufficient memory"]);
        let huge = fit().filter(&s, &PodBuilder::new("p").cpu("3").build_info(), &node);
        assert_eq!(
            huge.code,
            Code::UnschedulableAndUnresolvable,
            "more than the whole node"
        );
    }

    #[test]
    fn filter_counts_pods_storage_and_extended_resources() {
        let s = CycleState::new();
        let node = node_with_pods(
            NodeBuilder::new("n")
                .allocatable("pods", "1")
                .allocatable("example.com/gpu", "2")
                .allocatable("ephemeral-storage", "1Gi"),
            &[PodBuilder::new("a")],
        );
        let st = fit().filter(
            &s,
            &PodBuilder::new("p")
                .request("example.com/gpu", "3")
                .request("ephemeral-storage", "2Gi")
                .build_info(),
            &node,
        );
        assert_eq!(
            st.reasons,
            vec![
                "Too many pods",
                "Insufficient ephemeral-storage",
                "Insufficient example.com/gpu"
            ]
        );
        let ignoring = NodeResourcesFit::new(NodeResourcesFitArgs {
            ignored_resource_groups: vec!["example.com".into()],
            ..Default::default()
        });
        let roomy = node_from(NodeBuilder::new("m"));
        assert!(ignoring
            .filter(
                &s,
                &PodBuilder::new("p")
                    .request("example.com/gpu", "3")
                    .build_info(),
                &roomy
            )
            .is_success());
        assert!(!fit()
            .filter(
                &s,
                &PodBuilder::new("p")
                    .request("example.com/gpu", "3")
                    .build_info(),
                &roomy
            )
            .is_success());
    }

    #[test]
    fn filter_uses_effective_request_with_init_containers_and_overhead() {
        let s = CycleState::new();
        let node = node_from(NodeBuilder::new("n").cpu("1"));
        let pod = PodBuilder::new("p")
            .cpu("100m")
            .init_container(&[("cpu", "900m")])
            .overhead("cpu", "200m")
            .build_info();
        assert_eq!(
            fit().filter(&s, &pod, &node).reasons,
            vec!["Insufficient cpu"]
        );
    }

    fn strategy(kind: StrategyType, shape: Option<Vec<(i64, i64)>>) -> NodeResourcesFit {
        NodeResourcesFit::new(NodeResourcesFitArgs {
            scoring_strategy: ScoringStrategy {
                kind,
                resources: ResourceWeight::defaults(),
                requested_to_capacity_ratio: shape.map(|s| RequestedToCapacityRatioParam {
                    shape: s
                        .into_iter()
                        .map(|(utilization, score)| UtilizationShapePoint { utilization, score })
                        .collect(),
                }),
            },
            ..Default::default()
        })
    }

    #[test]
    fn worst_fit_best_fit_and_ratio_scores() {
        let s = CycleState::new();
        // 4 cpu / 16Gi node with 1 cpu / 4Gi used; pod asks 1 cpu / 4Gi.
        let node = node_with_pods(
            NodeBuilder::new("n"),
            &[PodBuilder::new("a").cpu("1").memory("4Gi")],
        );
        let pod = PodBuilder::new("p").cpu("1").memory("4Gi").build_info();
        assert_eq!(
            strategy(StrategyType::LeastAllocated, None).score(&s, &pod, &node),
            50
        );
        assert_eq!(
            strategy(StrategyType::MostAllocated, None).score(&s, &pod, &node),
            50
        );
        let pod = PodBuilder::new("p").cpu("2").memory("4Gi").build_info();
        // cpu 75% used, memory 50%.
        assert_eq!(
            strategy(StrategyType::LeastAllocated, None).score(&s, &pod, &node),
            (25 + 50) / 2
        );
        assert_eq!(
            strategy(StrategyType::MostAllocated, None).score(&s, &pod, &node),
            (75 + 50) / 2
        );
        assert_eq!(
            strategy(StrategyType::RequestedToCapacityRatio, None).score(&s, &pod, &node),
            63
        );
        let spread_shape = strategy(
            StrategyType::RequestedToCapacityRatio,
            Some(vec![(0, 10), (100, 0)]),
        );
        assert_eq!(spread_shape.score(&s, &pod, &node), 38);
    }

    #[test]
    fn scores_assume_default_requests_for_containers_without_any() {
        let s = CycleState::new();
        let node = node_from(NodeBuilder::new("n").cpu("1").memory("1Gi"));
        let pod = PodBuilder::new("p").build_info();
        // 100m of 1 cpu → 90 free; 200Mi of 1Gi → 80 free (integer math).
        assert_eq!(
            strategy(StrategyType::LeastAllocated, None).score(&s, &pod, &node),
            (90 + 80) / 2
        );
    }
}
