//! DefaultPreemption: when a pod fits nowhere, find one node where evicting
//! lower-priority pods makes it fit (see [`crate::preemption`] for the algorithm).

use serde::{Deserialize, Serialize};

use crate::framework::{Plugin, PostFilterContext, PostFilterPlugin, PostFilterResult};
use crate::pod_info::PodInfo;
use crate::preemption;

/// The plugin's name.
pub const NAME: &str = "DefaultPreemption";

/// The plugin's args (`DefaultPreemptionArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultPreemptionArgs {
    /// Candidate nodes to evaluate, as a percentage of all nodes (default 10).
    #[serde(default = "default_percentage")]
    pub min_candidate_nodes_percentage: i32,
    /// Candidate nodes to evaluate at least (default 100).
    #[serde(default = "default_absolute")]
    pub min_candidate_nodes_absolute: i32,
}

fn default_percentage() -> i32 {
    10
}

fn default_absolute() -> i32 {
    100
}

impl Default for DefaultPreemptionArgs {
    fn default() -> Self {
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

/// Preempts lower-priority pods on one node.
#[derive(Debug, Default)]
pub struct DefaultPreemption {
    args: DefaultPreemptionArgs,
}

impl DefaultPreemption {
    /// Builds the plugin from its args.
    pub fn new(args: DefaultPreemptionArgs) -> Self {
        DefaultPreemption { args }
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(&self, ctx: &PostFilterContext<'_>, pod: &PodInfo) -> PostFilterResult {
        let n = ctx.cluster.cache.num_nodes();
        let pct = self.args.min_candidate_nodes_percentage.clamp(0, 100) as usize;
        let candidates = (n * pct / 100)
            .max(self.args.min_candidate_nodes_absolute.max(0) as usize)
            .min(n);
        preemption::preempt(ctx, pod, candidates)
    }
}
