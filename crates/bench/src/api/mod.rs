//! The apiserver benchmark behind `cuttle bench api`: Kubernetes clients
//! (kube-rs, over TLS) against an in-process cuttle apiserver on a fresh
//! embedded store, or against any Kubernetes-compatible apiserver a
//! kubeconfig names, or both side by side.
//!
//! For each server it measures pod creates at several client counts; gets,
//! whole lists and first pages with growing numbers of pods stored; the
//! delivery of watch events to many watchers; and, in-process only, the
//! resident memory per stored pod against the pods' JSON.
//! [`run_api_bench`] returns an [`ApiBenchReport`] that renders as a table
//! with one column per server, or as one line of JSON.

mod client;
mod cpu;
mod error;
mod memory;
mod phases;
mod pod;
mod report;
mod watch;

pub use error::ApiBenchError;
pub use report::{
    ApiBenchReport, CpuReport, CreatesReport, Goal, LevelReport, MemoryReport, TargetReport,
    WatchReport,
};

use client::Conn;
use cuttle_apiserver::{ApiServerConfig, Running};
use memory::Snapshot;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The client counts creates are measured at when none is given.
pub const DEFAULT_CLIENTS: [usize; 3] = [1, 16, 64];
/// The first level reads are measured at; the last is `--max-pods`.
pub const FIRST_LEVEL: usize = 10_000;
/// The most pods one run may store (pod names have six digits).
pub const MAX_PODS: usize = 999_999;

/// The apiserver to measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// cuttle's apiserver, started inside this process on a fresh
    /// embedded store in a temporary directory; its memory is measured
    /// too.
    Embedded,
    /// The apiserver the kubeconfig at this path names (its current
    /// context), measured from outside.
    Kubeconfig(PathBuf),
}

impl Target {
    /// The column the target is reported under.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Embedded => "cuttle",
            Target::Kubeconfig(_) => "kubeconfig",
        }
    }
}

/// What to measure and how hard.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiBenchOptions {
    /// The servers to measure, in the report's column order.
    pub targets: Vec<Target>,
    /// The numbers of concurrent clients creates are measured with.
    pub clients: Vec<usize>,
    /// How long each create measurement, and each series of gets, runs.
    pub duration: Duration,
    /// The numbers of stored pods gets and lists are measured at, rising.
    pub levels: Vec<usize>,
    /// Concurrent clients creating the pods of the levels.
    pub load_clients: usize,
    /// Timed whole lists at each level (after one untimed one).
    pub list_runs: usize,
    /// Pods per page of the paged lists.
    pub page_limit: usize,
    /// Timed first pages at each level.
    pub page_runs: usize,
    /// Watches of the namespace in the fan-out (0 skips it).
    pub watchers: usize,
    /// Connections the watches share (HTTP/2 streams when the server
    /// offers it).
    pub watch_connections: usize,
    /// Pods created while the watchers watch.
    pub watch_events: usize,
    /// How many of them are created per second.
    pub watch_rate: f64,
}

/// The levels for a largest level of `max_pods`: 10,000 pods and
/// `max_pods`, or `max_pods` alone when it is not more than 10,000.
pub fn levels_up_to(max_pods: usize) -> Vec<usize> {
    if max_pods > FIRST_LEVEL {
        vec![FIRST_LEVEL, max_pods]
    } else {
        vec![max_pods]
    }
}

impl ApiBenchOptions {
    /// The defaults for `targets`: creates at 1, 16 and 64 clients for 2 s
    /// each; reads at 10,000 and 100,000 pods (loaded by 64 clients), 10
    /// whole lists and 20 pages of 500; 1000 watchers over 8 connections
    /// told of 200 pods created at 100 per second.
    pub fn new(targets: Vec<Target>) -> ApiBenchOptions {
        ApiBenchOptions {
            targets,
            clients: DEFAULT_CLIENTS.to_vec(),
            duration: Duration::from_secs(2),
            levels: levels_up_to(100_000),
            load_clients: 64,
            list_runs: 10,
            page_limit: 500,
            page_runs: 20,
            watchers: 1000,
            watch_connections: 8,
            watch_events: 200,
            watch_rate: 100.0,
        }
    }

    /// Checks the options before anything is started.
    pub fn validate(&self) -> Result<(), ApiBenchError> {
        let invalid = |msg: &str| Err(ApiBenchError::InvalidOptions(msg.to_owned()));
        if self.targets.is_empty() {
            return invalid("no apiserver to measure");
        }
        if self.clients.is_empty() || self.clients.contains(&0) || self.load_clients == 0 {
            return invalid("client counts must be at least 1");
        }
        if self.duration.is_zero() {
            return invalid("duration must be positive");
        }
        if self.levels.is_empty()
            || self.levels.contains(&0)
            || self.levels.windows(2).any(|w| w[0] >= w[1])
        {
            return invalid("levels must be rising numbers of pods, at least 1");
        }
        if self.levels.iter().any(|l| *l > MAX_PODS) {
            return Err(ApiBenchError::InvalidOptions(format!(
                "at most {MAX_PODS} pods"
            )));
        }
        if self.list_runs == 0 || self.page_runs == 0 || self.page_limit == 0 {
            return invalid("lists need at least one run and a page of at least one pod");
        }
        if self.watchers > 0 {
            if self.watch_connections == 0 || self.watch_events == 0 {
                return invalid("a watch fan-out needs a connection and an event");
            }
            if !(self.watch_rate > 0.0 && self.watch_rate <= 100_000.0) {
                return invalid("the watch event rate must be more than 0 and at most 100000/s");
            }
        }
        Ok(())
    }
}

/// Measures every target in turn, one after the other so that they do not
/// compete for the machine.
pub async fn run_api_bench(opts: ApiBenchOptions) -> Result<ApiBenchReport, ApiBenchError> {
    opts.validate()?;
    let mut targets = Vec::with_capacity(opts.targets.len());
    for target in &opts.targets {
        targets.push(bench_target(target, &opts).await?);
    }
    Ok(ApiBenchReport {
        duration_secs: opts.duration.as_secs_f64(),
        pod_bytes: pod::pod_body(&phases::pod_name(0), None).len(),
        clients: opts.clients.clone(),
        levels: opts.levels.clone(),
        load_clients: opts.load_clients,
        targets,
    })
}

async fn bench_target(
    target: &Target,
    opts: &ApiBenchOptions,
) -> Result<TargetReport, ApiBenchError> {
    let name = target.name().to_owned();
    match target {
        Target::Embedded => {
            let dir = tempfile::Builder::new()
                .prefix("cuttle-bench-api-")
                .tempdir()
                .map_err(ApiBenchError::TempDir)?;
            let running = cuttle_apiserver::start(ApiServerConfig::loopback(dir.path().to_owned()))
                .await
                .map_err(ApiBenchError::Start)?;
            let result = match Conn::open(&running.kubeconfig, name).await {
                Ok(conn) => measure(Arc::new(conn), Some(&running), opts).await,
                Err(e) => Err(e),
            };
            running.stop().await;
            result
        }
        Target::Kubeconfig(path) => {
            let conn = Conn::open(path, name).await?;
            measure(Arc::new(conn), None, opts).await
        }
    }
}

/// Every measurement of one server, in namespaces of its own that are
/// deleted afterwards (an in-process server is simply stopped).
async fn measure(
    conn: Arc<Conn>,
    running: Option<&Running>,
    opts: &ApiBenchOptions,
) -> Result<TargetReport, ApiBenchError> {
    let version = conn.version().await?;
    tracing::info!(target = %conn.target, url = %conn.url, version, "measuring");
    let namespace = format!("bench-api-{}", std::process::id());
    let creates_namespace = format!("{namespace}-creates");
    let external = running.is_none();
    let cpu_before = cpu::CpuSample::now();
    conn.create_namespace(&namespace, external).await?;
    let result = match conn.create_namespace(&creates_namespace, external).await {
        Ok(()) => {
            let result = phases_of(&conn, running, opts, &namespace, &creates_namespace)
                .await
                .map(|measured| (measured, cpu::CpuSample::now()));
            if external {
                conn.delete_namespace(&creates_namespace).await;
            }
            result
        }
        Err(e) => Err(e),
    };
    if external {
        conn.delete_namespace(&namespace).await;
    }
    let ((creates, levels, watch), cpu_after) = result?;
    let cpu = cpu_before.zip(cpu_after).and_then(|(a, b)| a.until(&b));
    let mut report = TargetReport {
        target: conn.target.clone(),
        url: conn.url.clone(),
        version,
        in_process: running.is_some(),
        creates,
        levels,
        watch,
        cpu,
        goals: Vec::new(),
    };
    report.goals = report.check_goals();
    Ok(report)
}

type Measured = (Vec<CreatesReport>, Vec<LevelReport>, Option<WatchReport>);

async fn phases_of(
    conn: &Arc<Conn>,
    running: Option<&Running>,
    opts: &ApiBenchOptions,
    namespace: &str,
    creates_namespace: &str,
) -> Result<Measured, ApiBenchError> {
    let target = conn.target.as_str();
    let baseline = match running {
        Some(r) => Some(Snapshot::take(r, target).await?),
        None => None,
    };

    let mut creates = Vec::with_capacity(opts.clients.len());
    for &clients in &opts.clients {
        let c = phases::creates(conn, creates_namespace, clients, opts.duration).await?;
        tracing::info!(
            target,
            clients,
            creates_per_sec = c.creates_per_sec,
            p99_ms = c.latency.p99_ms,
            "creates measured"
        );
        creates.push(c);
    }
    let created: usize = creates.iter().map(|c| c.latency.samples).sum();

    let mut levels = Vec::with_capacity(opts.levels.len());
    let mut stored = 0;
    let mut previous: Option<(Snapshot, usize)> = None;
    for &pods in &opts.levels {
        tracing::info!(target, from = stored, to = pods, "loading pods");
        let load_per_sec = phases::load(conn, namespace, stored, pods, opts.load_clients).await?;
        stored = pods;
        tracing::info!(target, pods, load_per_sec, "pods loaded");
        let memory = match (running, baseline) {
            (Some(r), Some(baseline)) => {
                let now = Snapshot::take(r, target).await?;
                let m = memory::report(baseline, previous, now, created + pods);
                tracing::info!(
                    target,
                    pods,
                    rss_per_pod = m.rss_per_pod,
                    rss_over_json = m.rss_over_json,
                    "memory measured"
                );
                previous = Some((now, created + pods));
                Some(m)
            }
            _ => None,
        };
        let get = phases::gets(conn, namespace, pods, opts.duration).await?;
        tracing::info!(
            target,
            pods,
            p50_ms = get.p50_ms,
            p99_ms = get.p99_ms,
            "gets measured"
        );
        let (list, list_bytes) = phases::lists(conn, namespace, pods, opts.list_runs).await?;
        tracing::info!(
            target,
            pods,
            p50_ms = list.p50_ms,
            p99_ms = list.p99_ms,
            "lists measured"
        );
        let page = phases::pages(conn, namespace, pods, opts.page_limit, opts.page_runs).await?;
        tracing::info!(target, pods, p50_ms = page.p50_ms, "pages measured");
        levels.push(LevelReport {
            pods,
            load_per_sec,
            get,
            list,
            list_bytes,
            page_limit: opts.page_limit,
            page,
            memory,
        });
    }

    let watch = if opts.watchers > 0 {
        let w = watch::fan_out(conn, namespace, opts).await?;
        tracing::info!(
            target,
            watchers = w.watchers,
            p50_ms = w.latency.p50_ms,
            p99_ms = w.latency.p99_ms,
            delivered = w.delivered,
            expected = w.expected,
            "watch fan-out measured"
        );
        Some(w)
    } else {
        None
    };
    Ok((creates, levels, watch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_end_at_the_largest() {
        assert_eq!(levels_up_to(100_000), [10_000, 100_000]);
        assert_eq!(levels_up_to(10_001), [10_000, 10_001]);
        assert_eq!(levels_up_to(10_000), [10_000]);
        assert_eq!(levels_up_to(20), [20]);
    }

    #[test]
    fn defaults_are_valid_and_bad_options_are_not() {
        let good = ApiBenchOptions::new(vec![Target::Embedded]);
        good.validate().expect("defaults are valid");
        let bad: [fn(&mut ApiBenchOptions); 9] = [
            |o| o.targets.clear(),
            |o| o.clients = vec![0],
            |o| o.duration = Duration::ZERO,
            |o| o.levels = vec![100, 10],
            |o| o.levels = vec![0],
            |o| o.levels = vec![MAX_PODS + 1],
            |o| o.list_runs = 0,
            |o| o.watch_rate = f64::NAN,
            |o| o.watch_connections = 0,
        ];
        for (i, spoil) in bad.iter().enumerate() {
            let mut o = good.clone();
            spoil(&mut o);
            assert!(o.validate().is_err(), "case {i} was accepted");
        }
        let mut no_watch = good.clone();
        no_watch.watchers = 0;
        no_watch.watch_connections = 0;
        no_watch.validate().expect("no fan-out needs no connection");
    }
}
