//! `cuttle bench scheduler --mode algorithm`: the scheduling core on in-memory
//! objects.
//!
//! Builds a cluster of `nodes` nodes, queues `pods` pods of one workload, and
//! drives queue → `schedule_pod` → assume (or preemption: delete the victims,
//! retry) until the queue holds nothing it can place. Backoff runs on a
//! simulated clock, so waiting costs no wall time. The report has pods/s, the
//! p50/p99 latency of one scheduling attempt, the final packing, the hit rates
//! of Borg's caches and a checksum of the placement (equal for equal seeds).

pub mod workloads;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{KubeSchedulerConfiguration, PluginConfig, PluginRef, Profile};
use crate::queue::SchedulingQueue;
use crate::scheduler::{ScheduleError, Scheduler, Stats};
pub use workloads::Workload;

/// The placement policy the benchmark configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Worst fit: NodeResourcesFit `LeastAllocated` (Kubernetes' default), plus balanced allocation.
    Worst,
    /// Best fit: NodeResourcesFit `MostAllocated`, plus balanced allocation.
    Best,
    /// Hybrid: pack by `RequestedToCapacityRatio` (0% → 0, 100% → 10) while balanced
    /// allocation, at weight 3, keeps cpu and memory even so neither is stranded.
    Hybrid,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "worst" => Ok(Policy::Worst),
            "best" => Ok(Policy::Best),
            "hybrid" => Ok(Policy::Hybrid),
            _ => Err(format!("unknown policy {s:?} (worst, best, hybrid)")),
        }
    }
}

impl Policy {
    /// The scheduler configuration for this policy and these switches.
    pub fn config(
        self,
        equivalence: bool,
        score_cache: bool,
        sampling: bool,
    ) -> KubeSchedulerConfiguration {
        let mut profile = Profile::default();
        profile.cuttle.equivalence_classes = equivalence;
        profile.cuttle.score_cache = score_cache;
        profile.cuttle.relaxed_randomization = sampling;
        let strategy = match self {
            Policy::Worst => serde_json::json!({"type": "LeastAllocated"}),
            Policy::Best => serde_json::json!({"type": "MostAllocated"}),
            Policy::Hybrid => serde_json::json!({"type": "RequestedToCapacityRatio",
                "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}}),
        };
        profile.plugin_config.push(PluginConfig {
            name: "NodeResourcesFit".into(),
            args: serde_json::json!({ "scoringStrategy": strategy }),
        });
        if self == Policy::Hybrid {
            profile.plugins.score.enabled.push(PluginRef {
                name: "NodeResourcesBalancedAllocation".into(),
                weight: Some(3),
            });
        }
        KubeSchedulerConfiguration {
            profiles: vec![profile],
            ..Default::default()
        }
    }
}

/// Options of `cuttle bench scheduler --mode algorithm` (clap-free; the CLI maps its
/// flags onto this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgorithmBenchOptions {
    /// `--nodes N`.
    pub nodes: usize,
    /// `--pods M`.
    pub pods: usize,
    /// `--policy worst|best|hybrid`.
    pub policy: Policy,
    /// Not `--no-equivalence`.
    pub equivalence: bool,
    /// Not `--no-score-cache`.
    pub score_cache: bool,
    /// Not `--no-sampling`.
    pub sampling: bool,
    /// `--workload ...`.
    pub workload: Workload,
    /// `--seed S`.
    pub seed: u64,
}

impl Default for AlgorithmBenchOptions {
    fn default() -> Self {
        AlgorithmBenchOptions {
            nodes: 5000,
            pods: 10_000,
            policy: Policy::Worst,
            equivalence: true,
            score_cache: true,
            sampling: true,
            workload: Workload::Basic,
            seed: 1,
        }
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// `--nodes 0`.
    #[error("the benchmark needs at least one node")]
    NoNodes,
    /// The generated configuration was rejected (a bug).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A generated object was rejected (a bug).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// Final packing of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Packing {
    /// Nodes with at least one pod.
    pub nodes_used: usize,
    /// Mean requested/allocatable cpu over the used nodes.
    pub mean_cpu_utilisation: f64,
    /// Mean requested/allocatable memory over the used nodes.
    pub mean_memory_utilisation: f64,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The options it ran with.
    pub options: AlgorithmBenchOptions,
    /// Pods placed.
    pub scheduled: usize,
    /// Pods left pending at the end.
    pub unschedulable: usize,
    /// Scheduling attempts (more than pods when pods are retried).
    pub attempts: usize,
    /// Preemptions (nominations).
    pub preemptions: usize,
    /// Pods deleted by preemption.
    pub victims: usize,
    /// Wall time of the scheduling loop, in seconds.
    pub duration_secs: f64,
    /// Pods placed per second of wall time.
    pub pods_per_sec: f64,
    /// Median latency of one attempt, in microseconds.
    pub latency_p50_us: f64,
    /// 99th percentile latency of one attempt, in microseconds.
    pub latency_p99_us: f64,
    /// Slowest attempt, in microseconds.
    pub latency_max_us: f64,
    /// The final packing.
    pub packing: Packing,
    /// Borg caches' counters.
    pub stats: Stats,
    /// Hash of every (pod, node) decision in order: equal seeds give equal checksums.
    pub placement_checksum: String,
}

impl Report {
    /// The report as pretty-printed JSON (`--json`).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A human-readable summary.
    pub fn to_text(&self) -> String {
        let o = &self.options;
        let s = &self.stats;
        let rate = |h: u64, m: u64| {
            if h + m == 0 {
                0.0
            } else {
                100.0 * h as f64 / (h + m) as f64
            }
        };
        format!(
            "scheduler algorithm benchmark: workload {} policy {:?}, {} nodes, {} pods, seed {}\n\
             optimisations: equivalence {} score-cache {} sampling {}\n\
             scheduled {} unschedulable {} attempts {} preemptions {} victims {}\n\
             throughput {:.0} pods/s ({:.3} s); latency p50 {:.1} us p99 {:.1} us\n\
             packing: {} nodes used, mean cpu {:.1}%, mean memory {:.1}%\n\
             caches: equivalence hits {:.1}%, score cache hits {:.1}%, nodes evaluated/cycle {:.0}\n\
             placement checksum {}\n",
            o.workload.name(),
            o.policy,
            o.nodes,
            o.pods,
            o.seed,
            o.equivalence,
            o.score_cache,
            o.sampling,
            self.scheduled,
            self.unschedulable,
            self.attempts,
            self.preemptions,
            self.victims,
            self.pods_per_sec,
            self.duration_secs,
            self.latency_p50_us,
            self.latency_p99_us,
            self.packing.nodes_used,
            100.0 * self.packing.mean_cpu_utilisation,
            100.0 * self.packing.mean_memory_utilisation,
            rate(s.equivalence_hits, s.equivalence_misses),
            rate(s.score_cache_hits, s.score_cache_misses),
            s.nodes_evaluated as f64 / s.cycles.max(1) as f64,
            self.placement_checksum,
        )
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e6
}

/// The packing of the pods in a scheduler's cache (nodes used, mean utilisation).
pub fn packing(s: &Scheduler) -> Packing {
    let cache = s.cache();
    let (mut used, mut cpu, mut mem) = (0usize, 0f64, 0f64);
    for &slot in cache.nodes() {
        let n = cache.node(slot);
        if n.pods.is_empty() {
            continue;
        }
        used += 1;
        let a = &n.node.allocatable;
        cpu += if a.milli_cpu > 0 {
            n.requested.milli_cpu as f64 / a.milli_cpu as f64
        } else {
            0.0
        };
        mem += if a.memory > 0 {
            n.requested.memory as f64 / a.memory as f64
        } else {
            0.0
        };
    }
    let d = used.max(1) as f64;
    Packing {
        nodes_used: used,
        mean_cpu_utilisation: cpu / d,
        mean_memory_utilisation: mem / d,
    }
}

/// Runs the benchmark.
pub fn run_algorithm_bench(opts: &AlgorithmBenchOptions) -> Result<Report, BenchError> {
    if opts.nodes == 0 {
        return Err(BenchError::NoNodes);
    }
    let cfg = opts
        .policy
        .config(opts.equivalence, opts.score_cache, opts.sampling);
    let mut sched = Scheduler::from_config(&cfg, opts.seed)?;
    let nodes = workloads::nodes(opts.nodes);
    for n in &nodes {
        sched.add_node(n);
    }
    for (pod, _) in workloads::prefill(opts.workload, &nodes) {
        sched.add_pod(&pod)?;
    }
    let pods = workloads::pods(opts.workload, opts.pods, opts.seed);
    let mut queue = SchedulingQueue::new(sched.event_interests());

    let mut now = Instant::now();
    let mut latencies = Vec::with_capacity(pods.len());
    let (mut scheduled, mut attempts, mut preemptions, mut victims) = (0, 0, 0, 0);
    let mut checksum = DefaultHasher::new();
    let started = Instant::now();
    for p in &pods {
        queue.add(Arc::new(sched.pod_info(p)?), now);
    }
    loop {
        queue.flush_backoff(now);
        let Some(qp) = queue.pop() else {
            match queue.next_backoff_expiry() {
                Some(t) => {
                    now = now.max(t);
                    continue;
                }
                None => break,
            }
        };
        attempts += 1;
        let t0 = Instant::now();
        let outcome = sched.schedule_pod(&qp.info);
        match outcome {
            Ok(r) => {
                sched
                    .assume(qp.info.clone(), &r.node)
                    .map_err(ScheduleError::from)?;
                latencies.push(t0.elapsed());
                queue.done(&qp.info.key);
                (&qp.info.key, &r.node).hash(&mut checksum);
                scheduled += 1;
            }
            Err(ScheduleError::Unschedulable(fe)) => {
                if let Some(nom) = &fe.nomination {
                    preemptions += 1;
                    for v in &nom.victims {
                        if let Ok(ev) = sched.remove_pod(&v.key) {
                            victims += 1;
                            queue.on_event(&ev, now);
                        }
                    }
                    (&qp.info.key, &nom.node, "nominated").hash(&mut checksum);
                }
                latencies.push(t0.elapsed());
                queue.add_unschedulable(&qp.info.key, fe.unschedulable_plugins.clone(), now);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(Report {
        options: opts.clone(),
        scheduled,
        unschedulable: queue.len(),
        attempts,
        preemptions,
        victims,
        duration_secs: elapsed,
        pods_per_sec: if elapsed > 0.0 {
            scheduled as f64 / elapsed
        } else {
            0.0
        },
        latency_p50_us: percentile(&latencies, 0.50),
        latency_p99_us: percentile(&latencies, 0.99),
        latency_max_us: percentile(&latencies, 1.0),
        packing: packing(&sched),
        stats: sched.stats(),
        placement_checksum: format!("{:016x}", checksum.finish()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(workload: Workload) -> AlgorithmBenchOptions {
        AlgorithmBenchOptions {
            nodes: 60,
            pods: 200,
            workload,
            ..Default::default()
        }
    }

    #[test]
    fn every_workload_runs_and_places_pods() {
        for w in Workload::ALL {
            let r = run_algorithm_bench(&small(w)).unwrap();
            assert!(r.scheduled > 0, "{w:?}: {}", r.to_text());
            if w == Workload::Preemption {
                assert!(r.preemptions > 0 && r.victims > 0, "{}", r.to_text());
            }
        }
    }

    #[test]
    fn placement_is_deterministic_for_a_seed() {
        let a = run_algorithm_bench(&small(Workload::Mixed)).unwrap();
        let b = run_algorithm_bench(&small(Workload::Mixed)).unwrap();
        assert_eq!(a.placement_checksum, b.placement_checksum);
        let c = run_algorithm_bench(&AlgorithmBenchOptions {
            seed: 2,
            ..small(Workload::Mixed)
        })
        .unwrap();
        assert_ne!(a.placement_checksum, c.placement_checksum);
    }

    #[test]
    fn optimisations_do_not_change_feasibility() {
        let on = run_algorithm_bench(&small(Workload::NodeAffinity)).unwrap();
        let off = run_algorithm_bench(&AlgorithmBenchOptions {
            equivalence: false,
            score_cache: false,
            ..small(Workload::NodeAffinity)
        })
        .unwrap();
        assert_eq!(on.scheduled, off.scheduled);
        // Same decisions: the caches only skip recomputing identical answers.
        assert_eq!(on.placement_checksum, off.placement_checksum);
        assert!(on.stats.equivalence_hits > 0 && on.stats.score_cache_hits > 0);
        assert_eq!(off.stats.equivalence_hits + off.stats.score_cache_hits, 0);
    }

    #[test]
    fn best_fit_packs_tighter_than_worst_fit() {
        let worst = run_algorithm_bench(&small(Workload::Basic)).unwrap();
        let best = run_algorithm_bench(&AlgorithmBenchOptions {
            policy: Policy::Best,
            ..small(Workload::Basic)
        })
        .unwrap();
        assert!(
            best.packing.nodes_used < worst.packing.nodes_used,
            "{} vs {}",
            best.packing.nodes_used,
            worst.packing.nodes_used
        );
        let json = serde_json::to_string(&best).unwrap();
        assert!(json.contains("\"pods_per_sec\""));
    }
}
