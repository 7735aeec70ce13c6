//! RecentFailurePenalty (a cuttle plugin, after Borg): nodes where pods of the
//! same owner recently failed score lower, so a failing task@machine pairing is
//! not repeated. Failures are recorded with `Scheduler::record_failure`.

use crate::framework::{
    default_normalize, Cluster, CycleState, Plugin, PreScorePlugin, ScorePlugin, Status,
};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The plugin's name.
pub const NAME: &str = "RecentFailurePenalty";

/// Scores nodes by how often pods of the pod's owner recently failed there (fewer is better).
#[derive(Debug, Default)]
pub struct RecentFailurePenalty;

impl Plugin for RecentFailurePenalty {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScorePlugin for RecentFailurePenalty {
    fn pre_score(
        &self,
        _state: &mut CycleState,
        pod: &PodInfo,
        _cluster: &Cluster<'_>,
        _feasible: &[u32],
    ) -> Status {
        if pod.owner.is_some() {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl ScorePlugin for RecentFailurePenalty {
    fn score(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        pod.owner
            .as_ref()
            .map_or(0, |o| i64::from(node.failures_of(&o.uid)))
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::plugins::node_from;

    #[test]
    fn nodes_with_failures_of_the_same_owner_score_lower() {
        let s = CycleState::new();
        let mut bad = node_from(NodeBuilder::new("bad"));
        bad.failures.push(("rs".into(), 3));
        bad.failures.push(("other".into(), 9));
        let good = node_from(NodeBuilder::new("good"));
        let pod = PodBuilder::new("p").owner("rs").build_info();
        let mut scores = vec![
            RecentFailurePenalty.score(&s, &pod, &bad),
            RecentFailurePenalty.score(&s, &pod, &good),
        ];
        assert_eq!(scores, vec![3, 0]);
        RecentFailurePenalty.normalize(&s, &pod, &mut scores);
        assert_eq!(scores, vec![0, 100]);
        let orphan = PodBuilder::new("o").build_info();
        assert_eq!(RecentFailurePenalty.score(&s, &orphan, &bad), 0);
    }
}
