//! What one end-to-end run measured, as text or JSON.

use std::collections::HashMap;
use std::time::Instant;

use cuttle_scheduler::bench::{AlgorithmBenchOptions, Packing};
use serde::{Deserialize, Serialize};

use super::E2eOptions;
use crate::stats::Latencies;

/// The report of `cuttle bench scheduler --mode e2e`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct E2eReport {
    /// Always `e2e`.
    pub mode: String,
    /// Nodes, pods, workload, policy, switches and seed.
    pub options: AlgorithmBenchOptions,
    /// The apiserver and scheduler measured.
    pub target: String,
    /// The pods' schedulerName.
    pub scheduler_name: String,
    /// Concurrent clients that created nodes and pods.
    pub clients: usize,
    /// Seconds to create the hollow nodes.
    pub nodes_create_secs: f64,
    /// Seconds to create the measured pods (the scheduler runs meanwhile, unless
    /// `create_first`).
    pub pods_create_secs: f64,
    /// Whether every pod was created before the scheduler started.
    pub create_first: bool,
    /// Measured pods seen bound.
    pub bound: usize,
    /// Measured pods not bound when the run ended.
    pub unbound: usize,
    /// Low-priority pods deleted by preemption (preemption workload).
    pub victims: usize,
    /// Seconds from the first binding to the last.
    pub duration_secs: f64,
    /// Bound pods per second over that time.
    pub pods_per_sec: f64,
    /// Median time from sending a pod's create to seeing it bound, in milliseconds.
    pub latency_p50_ms: f64,
    /// 99th percentile of that time, in milliseconds.
    pub latency_p99_ms: f64,
    /// The slowest pod, in milliseconds.
    pub latency_max_ms: f64,
    /// Nodes used and mean utilisation at the end.
    pub packing: Packing,
}

impl E2eReport {
    /// The report as pretty-printed JSON (`--json`).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A human-readable summary.
    pub fn to_text(&self) -> String {
        let o = &self.options;
        format!(
            "scheduler e2e benchmark: workload {} policy {:?}, {} nodes, {} pods, seed {}\n\
             target: {} (schedulerName {}); {} clients created nodes in {:.1} s, pods in {:.1} s{}\n\
             optimisations (cuttle's scheduler only): equivalence {} score-cache {} sampling {}\n\
             bound {} unbound {} victims {}\n\
             throughput {:.0} pods/s (first to last binding: {:.2} s)\n\
             latency ({}): p50 {:.1} ms p99 {:.1} ms max {:.1} ms\n\
             packing: {} nodes used, mean cpu {:.1}%, mean memory {:.1}%\n",
            o.workload.name(),
            o.policy,
            o.nodes,
            o.pods,
            o.seed,
            self.target,
            self.scheduler_name,
            self.clients,
            self.nodes_create_secs,
            self.pods_create_secs,
            if self.create_first {
                " before the scheduler started"
            } else {
                " while it scheduled"
            },
            o.equivalence,
            o.score_cache,
            o.sampling,
            self.bound,
            self.unbound,
            self.victims,
            self.pods_per_sec,
            self.duration_secs,
            if self.create_first {
                "scheduler start -> seen bound"
            } else {
                "create sent -> seen bound"
            },
            self.latency_p50_ms,
            self.latency_p99_ms,
            self.latency_max_ms,
            self.packing.nodes_used,
            100.0 * self.packing.mean_cpu_utilisation,
            100.0 * self.packing.mean_memory_utilisation,
        )
    }
}

/// What [`build`] summarises.
pub(super) struct Inputs<'a> {
    pub opts: &'a E2eOptions,
    pub bound: &'a HashMap<String, Instant>,
    pub created: &'a HashMap<String, Instant>,
    pub nodes_secs: f64,
    pub pods_secs: f64,
    pub prefill: usize,
    pub prefill_left: usize,
    pub packing: Packing,
}

pub(super) fn build(i: Inputs<'_>) -> E2eReport {
    let first = i.bound.values().min().copied();
    let last = i.bound.values().max().copied();
    let duration = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let latencies = Latencies::from_samples(
        i.bound
            .iter()
            .filter_map(|(name, at)| {
                i.created
                    .get(name)
                    .map(|c| at.saturating_duration_since(*c))
            })
            .collect(),
    )
    .unwrap_or_default();
    let bound = i.bound.len();
    let target = match &i.opts.kubeconfig {
        Some(p) => format!(
            "the apiserver of {}, whichever scheduler binds",
            p.display()
        ),
        None => "in-process cuttle apiserver and cuttle scheduler".into(),
    };
    E2eReport {
        mode: "e2e".into(),
        options: i.opts.run.clone(),
        target,
        scheduler_name: i.opts.scheduler_name.clone(),
        clients: i.opts.clients,
        nodes_create_secs: i.nodes_secs,
        pods_create_secs: i.pods_secs,
        create_first: i.opts.create_first,
        bound,
        unbound: i.opts.run.pods.saturating_sub(bound),
        victims: i.prefill.saturating_sub(i.prefill_left),
        duration_secs: duration,
        pods_per_sec: if duration > 0.0 {
            bound as f64 / duration
        } else {
            0.0
        },
        latency_p50_ms: latencies.p50_ms,
        latency_p99_ms: latencies.p99_ms,
        latency_max_ms: latencies.max_ms,
        packing: i.packing,
    }
}
