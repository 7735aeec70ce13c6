//! `cuttle bench`: load generators that measure a component and print a
//! report (a table, or one line of JSON with `--json`).

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use cuttle_bench::api::{self, run_api_bench, ApiBenchOptions};
use cuttle_bench::store::{run_store_bench, StoreBenchOptions, Target};
use std::path::PathBuf;
use std::time::Duration;

/// What to benchmark.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Throughput and latency of the key-value store.
    Store(StoreArgs),
    /// Throughput, latency, watch fan-out and memory of the apiserver.
    Api(ApiArgs),
    /// Pods per second, latency and packing of the scheduler.
    Scheduler(crate::bench_scheduler::SchedulerArgs),
}

/// Flags of `cuttle bench store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store to measure: a fresh embedded store in a temporary
    /// directory, or etcd (a throwaway process unless --endpoint is given).
    #[arg(long, value_enum, default_value_t = BackendArg::Sqlite, conflicts_with = "compare")]
    backend: BackendArg,

    /// The etcd cluster to measure instead of a throwaway etcd process.
    #[arg(long, value_name = "etcd://HOST:PORT", value_parser = parse_etcd_endpoint)]
    endpoint: Option<String>,

    /// Measure with this many concurrent clients only (default: 1, 16 and 64).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: Option<u32>,

    /// Seconds each throughput and watch measurement runs.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_duration)]
    duration: Duration,

    /// Measure the embedded store and etcd one after the other and show them
    /// side by side.
    #[arg(long)]
    compare: bool,

    /// Print the report as one line of JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `cuttle bench api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Measure the apiserver this kubeconfig's current context names
    /// instead of an in-process cuttle apiserver (memory is then not
    /// measured).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,

    /// With --kubeconfig: measure the in-process cuttle apiserver too, and
    /// show both side by side.
    #[arg(long, requires = "kubeconfig")]
    compare: bool,

    /// Measure creates with this many concurrent clients only (default: 1,
    /// 16 and 64).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: Option<u32>,

    /// Seconds each create measurement, and each series of gets, runs.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_duration)]
    duration: Duration,

    /// The most pods stored: reads are measured at 10000 pods and at this
    /// many (or at this many alone, when it is 10000 or fewer).
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..=api::MAX_PODS as i64))]
    max_pods: u32,

    /// Watches in the fan-out measurement (0 skips it).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    watchers: u32,

    /// Connections the watches share (as HTTP/2 streams).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    watch_connections: u32,

    /// Pods created while the watchers watch.
    #[arg(long, value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    watch_events: u32,

    /// Pods created per second while the watchers watch.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    watch_rate: u32,

    /// Print the report as one line of JSON.
    #[arg(long)]
    json: bool,
}

/// The backends `--backend` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    /// The embedded SQLite store.
    Sqlite,
    /// etcd.
    Etcd,
}

/// Runs a `cuttle bench` subcommand.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Store(args) => store(args).await,
        BenchCommand::Api(args) => api_bench(args).await,
        BenchCommand::Scheduler(args) => crate::bench_scheduler::run(args).await,
    }
}

async fn api_bench(args: ApiArgs) -> anyhow::Result<()> {
    let report = run_api_bench(api_options(&args))
        .await
        .context("apiserver benchmark failed")?;
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// The benchmark's options from the flags.
fn api_options(args: &ApiArgs) -> ApiBenchOptions {
    let targets = match &args.kubeconfig {
        Some(path) if args.compare => {
            vec![api::Target::Embedded, api::Target::Kubeconfig(path.clone())]
        }
        Some(path) => vec![api::Target::Kubeconfig(path.clone())],
        None => vec![api::Target::Embedded],
    };
    let mut opts = ApiBenchOptions::new(targets);
    if let Some(clients) = args.clients {
        opts.clients = vec![clients as usize];
    }
    opts.duration = args.duration;
    opts.levels = api::levels_up_to(args.max_pods as usize);
    opts.watchers = args.watchers as usize;
    opts.watch_connections = args.watch_connections as usize;
    opts.watch_events = args.watch_events as usize;
    opts.watch_rate = f64::from(args.watch_rate);
    opts
}

async fn store(args: StoreArgs) -> anyhow::Result<()> {
    let opts = store_options(&args).unwrap_or_else(|e| e.exit());
    let report = run_store_bench(opts)
        .await
        .context("store benchmark failed")?;
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// The benchmark's options from the flags; a usage error for flags that
/// only make sense together.
fn store_options(args: &StoreArgs) -> Result<StoreBenchOptions, clap::Error> {
    if args.endpoint.is_some() && args.backend != BackendArg::Etcd && !args.compare {
        let mut cli = <crate::Cli as clap::CommandFactory>::command();
        cli.build();
        let mut cmd = cli
            .find_subcommand_mut("bench")
            .and_then(|bench| bench.find_subcommand_mut("store"))
            .cloned()
            .unwrap_or(cli);
        return Err(cmd.error(
            clap::error::ErrorKind::ArgumentConflict,
            "--endpoint names an etcd cluster: use it with --backend etcd or --compare",
        ));
    }
    let etcd = Target::Etcd {
        endpoint: args.endpoint.clone(),
    };
    let targets = if args.compare {
        vec![Target::Sqlite, etcd]
    } else if args.backend == BackendArg::Etcd {
        vec![etcd]
    } else {
        vec![Target::Sqlite]
    };
    let mut opts = StoreBenchOptions::new(targets);
    if let Some(clients) = args.clients {
        opts.clients = vec![clients as usize];
    }
    opts.duration = args.duration;
    Ok(opts)
}

fn parse_etcd_endpoint(s: &str) -> Result<String, String> {
    match s.strip_prefix("etcd://") {
        Some(hosts) if !hosts.trim_matches(|c| c == ',' || c == ' ').is_empty() => Ok(s.to_owned()),
        _ => Err("expected etcd://HOST:PORT[,HOST:PORT...]".into()),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err("must be more than 0 and at most 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cli, Command};
    use clap::Parser;

    fn options(args: &[&str]) -> Result<StoreBenchOptions, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Bench(BenchCommand::Store(args)) => store_options(&args),
            other => panic!("not a store bench: {other:?}"),
        }
    }

    fn api(args: &[&str]) -> Result<ApiBenchOptions, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Bench(BenchCommand::Api(args)) => Ok(api_options(&args)),
            other => panic!("not an api bench: {other:?}"),
        }
    }

    #[test]
    fn api_defaults_measure_the_in_process_apiserver() {
        let opts = api(&["cuttle", "bench", "api"]).expect("options");
        assert_eq!(opts.targets, vec![api::Target::Embedded]);
        assert_eq!(opts.clients, vec![1, 16, 64]);
        assert_eq!(opts.levels, vec![10_000, 100_000]);
        assert_eq!(opts.watchers, 1000);
        opts.validate().expect("valid");
    }

    #[test]
    fn api_kubeconfig_alone_or_compared() {
        let opts = api(&[
            "cuttle",
            "bench",
            "api",
            "--kubeconfig",
            "/k.yaml",
            "--max-pods",
            "2000",
            "--clients",
            "8",
            "--watchers",
            "0",
        ])
        .expect("options");
        assert_eq!(
            opts.targets,
            vec![api::Target::Kubeconfig("/k.yaml".into())]
        );
        assert_eq!(opts.levels, vec![2000]);
        assert_eq!(opts.clients, vec![8]);
        assert_eq!(opts.watchers, 0);
        let opts = api(&[
            "cuttle",
            "bench",
            "api",
            "--kubeconfig",
            "/k.yaml",
            "--compare",
        ])
        .expect("options");
        assert_eq!(
            opts.targets,
            vec![
                api::Target::Embedded,
                api::Target::Kubeconfig("/k.yaml".into())
            ]
        );
    }

    #[test]
    fn api_bad_flags_are_usage_errors() {
        for args in [
            &["cuttle", "bench", "api", "--compare"][..],
            &["cuttle", "bench", "api", "--max-pods", "0"],
            &["cuttle", "bench", "api", "--max-pods", "1000000"],
            &["cuttle", "bench", "api", "--watch-rate", "0"],
            &["cuttle", "bench", "api", "--duration", "0"],
            &["cuttle", "bench", "api", "--clients", "-3"],
        ] {
            assert!(api(args).is_err(), "{args:?} was accepted");
        }
    }

    #[test]
    fn defaults_measure_sqlite_at_three_client_counts() {
        let opts = options(&["cuttle", "bench", "store"]).expect("options");
        assert_eq!(opts.targets, vec![Target::Sqlite]);
        assert_eq!(opts.clients, vec![1, 16, 64]);
        assert_eq!(opts.duration, Duration::from_secs(2));
    }

    #[test]
    fn compare_measures_both_with_the_endpoint_for_etcd() {
        let opts = options(&[
            "cuttle",
            "bench",
            "store",
            "--compare",
            "--endpoint",
            "etcd://h:2379",
            "--clients",
            "8",
            "--duration",
            "0.5",
        ])
        .expect("options");
        assert_eq!(
            opts.targets,
            vec![
                Target::Sqlite,
                Target::Etcd {
                    endpoint: Some("etcd://h:2379".into())
                }
            ]
        );
        assert_eq!(opts.clients, vec![8]);
        assert_eq!(opts.duration, Duration::from_millis(500));
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for args in [
            &["cuttle", "bench", "store", "--backend", "mysql"][..],
            &["cuttle", "bench", "store", "--clients", "0"],
            &["cuttle", "bench", "store", "--duration", "-1"],
            &["cuttle", "bench", "store", "--duration", "NaN"],
            &["cuttle", "bench", "store", "--endpoint", "http://h:2379"],
            &["cuttle", "bench", "store", "--backend", "etcd", "--compare"],
            &["cuttle", "bench", "store", "--endpoint", "etcd://h:2379"],
        ] {
            assert!(options(args).is_err(), "{args:?} was accepted");
        }
    }
}
