//! `cuttle bench scheduler`: the scheduling core's throughput, latency and
//! packing, with each of Borg's optimisations switchable off.

use anyhow::Context;
use clap::{Args, ValueEnum};
use cuttle_scheduler::bench::{run_algorithm_bench, AlgorithmBenchOptions, Policy, Workload};

/// How the scheduler is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// The scheduling core on in-memory nodes and pods.
    Algorithm,
    /// Through a real apiserver with hollow nodes (not built yet).
    E2e,
}

/// Flags of `cuttle bench scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    #[arg(long, value_enum, default_value_t = Mode::Algorithm)]
    mode: Mode,
    /// Nodes in the simulated cluster.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    nodes: u64,
    /// Pods to schedule.
    #[arg(long, default_value_t = 10000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pods: u64,
    /// Placement policy: worst (least allocated), best (most allocated),
    /// hybrid (balanced).
    #[arg(long, default_value = "worst", value_parser = parse_policy)]
    policy: Policy,
    /// basic, mixed, affinity, anti-affinity, node-affinity, spread or preemption.
    #[arg(long, default_value = "basic", value_parser = parse_workload)]
    workload: Workload,
    /// Turn off equivalence classes.
    #[arg(long)]
    no_equivalence: bool,
    /// Turn off score caching.
    #[arg(long)]
    no_score_cache: bool,
    /// Turn off relaxed randomization (score every feasible node).
    #[arg(long)]
    no_sampling: bool,
    /// Seed of the tie-breaking randomness (placements repeat for a seed).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object on the last line instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    s.parse::<Policy>().map_err(|e| e.to_string())
}

fn parse_workload(s: &str) -> Result<Workload, String> {
    s.parse::<Workload>().map_err(|e| e.to_string())
}

/// Runs the scheduler benchmark and prints its report.
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    if args.mode == Mode::E2e {
        anyhow::bail!("--mode e2e needs the scheduler's apiserver wiring and hollow nodes, which are not built yet; use --mode algorithm");
    }
    let opts = AlgorithmBenchOptions {
        nodes: args.nodes as usize,
        pods: args.pods as usize,
        policy: args.policy,
        equivalence: !args.no_equivalence,
        score_cache: !args.no_score_cache,
        sampling: !args.no_sampling,
        workload: args.workload,
        seed: args.seed,
    };
    let report = tokio::task::spawn_blocking(move || run_algorithm_bench(&opts))
        .await
        .context("the benchmark thread failed")?
        .context("scheduler benchmark failed")?;
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
