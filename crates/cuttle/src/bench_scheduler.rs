//! `cuttle bench scheduler`: the scheduler's throughput, latency and packing,
//! on the core alone (`--mode algorithm`) or through an apiserver with hollow
//! nodes (`--mode e2e`), with each of Borg's optimisations switchable off.

use anyhow::Context;
use clap::{Args, ValueEnum};
use cuttle_bench::scheduler::{run_e2e_bench, E2eOptions};
use cuttle_scheduler::bench::{run_algorithm_bench, AlgorithmBenchOptions, Policy, Workload};
use std::path::PathBuf;
use std::time::Duration;

/// How the scheduler is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// The scheduling core on in-memory nodes and pods.
    Algorithm,
    /// Through a real apiserver with hollow nodes, pods created and bound
    /// through the API.
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
    /// With --mode e2e: create the nodes and pods on this apiserver and
    /// measure whichever scheduler binds them (cuttle's is not started).
    #[arg(long, value_name = "FILE", requires = "scheduler_name")]
    kubeconfig: Option<PathBuf>,
    /// With --mode e2e: the pods' schedulerName.
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    scheduler_name: Option<String>,
    /// With --mode e2e: concurrent clients creating nodes and pods.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    clients: u64,
    /// With --mode e2e: stop waiting when no pod was bound for this many seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    stall_timeout: u64,
    /// With --mode e2e: create every pod before cuttle's scheduler starts,
    /// to measure its binding rate rather than the rate of creates (latency
    /// then counts from the scheduler's start).
    #[arg(long, conflicts_with = "kubeconfig")]
    create_first: bool,
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

fn algorithm_options(args: &SchedulerArgs) -> AlgorithmBenchOptions {
    AlgorithmBenchOptions {
        nodes: args.nodes as usize,
        pods: args.pods as usize,
        policy: args.policy,
        equivalence: !args.no_equivalence,
        score_cache: !args.no_score_cache,
        sampling: !args.no_sampling,
        workload: args.workload,
        seed: args.seed,
    }
}

/// Runs the scheduler benchmark and prints its report.
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let opts = algorithm_options(&args);
    if args.mode == Mode::E2e {
        return e2e(&args, opts).await;
    }
    if args.kubeconfig.is_some() || args.scheduler_name.is_some() {
        anyhow::bail!("--kubeconfig and --scheduler-name need --mode e2e");
    }
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

async fn e2e(args: &SchedulerArgs, run: AlgorithmBenchOptions) -> anyhow::Result<()> {
    let opts = E2eOptions {
        run,
        kubeconfig: args.kubeconfig.clone(),
        scheduler_name: args
            .scheduler_name
            .clone()
            .unwrap_or_else(|| "default-scheduler".into()),
        clients: args.clients as usize,
        stall_timeout: Duration::from_secs(args.stall_timeout),
        create_first: args.create_first,
    };
    let report = run_e2e_bench(opts)
        .await
        .context("scheduler e2e benchmark failed")?;
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::bench::BenchCommand;
    use crate::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<super::SchedulerArgs, clap::Error> {
        match Cli::try_parse_from(args)?.command {
            Command::Bench(BenchCommand::Scheduler(a)) => Ok(a),
            other => panic!("not a scheduler bench: {other:?}"),
        }
    }

    #[test]
    fn e2e_flags_go_together() {
        let base = ["cuttle", "bench", "scheduler", "--mode", "e2e"];
        let a =
            parse(&[&base[..], &["--kubeconfig", "k", "--scheduler-name", "s"]].concat()).unwrap();
        assert_eq!(a.scheduler_name.as_deref(), Some("s"));
        assert!(
            parse(&[&base[..], &["--create-first"]].concat())
                .unwrap()
                .create_first
        );
        for bad in [
            &["--kubeconfig", "k"][..],
            &["--scheduler-name", "s"],
            &[
                "--kubeconfig",
                "k",
                "--scheduler-name",
                "s",
                "--create-first",
            ],
        ] {
            assert!(parse(&[&base[..], bad].concat()).is_err(), "{bad:?}");
        }
    }
}
