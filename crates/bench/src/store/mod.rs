//! The store benchmark behind `cuttle bench store`: concurrent clients
//! against a fresh embedded store, a throwaway etcd or a given etcd cluster.
//!
//! For each backend and client count it measures put, compare-and-swap and
//! get throughput and the delay from a put to its watch event; once per
//! backend, the latency of reading a 10,000-key range. [`run_store_bench`]
//! returns a [`StoreBenchReport`] that renders as a table with one column
//! per backend, or as one line of JSON.

mod error;
mod phases;
mod report;

pub use error::BenchError;
pub use report::{BackendReport, ClientsReport, PutRatio, RangeReport, StoreBenchReport};

use cuttle_store::testing::{Backend, TestStore};
use cuttle_store::{Store, Txn, TxnOp};
use std::sync::Arc;
use std::time::Duration;

/// The client counts measured when none is given.
pub const DEFAULT_CLIENTS: [usize; 3] = [1, 16, 64];

/// The store to measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A fresh embedded (SQLite) store in a temporary directory.
    Sqlite,
    /// etcd: the cluster at `endpoint` (`etcd://host:port[,host:port...]`),
    /// or a throwaway etcd process when there is none.
    Etcd {
        /// The cluster to use instead of a throwaway process.
        endpoint: Option<String>,
    },
}

impl Target {
    /// The backend's name, as the report's column header.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Sqlite => "sqlite",
            Target::Etcd { .. } => "etcd",
        }
    }
}

/// What to measure and how hard.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreBenchOptions {
    /// The stores to measure, in the report's column order.
    pub targets: Vec<Target>,
    /// The numbers of concurrent clients to measure each operation with.
    pub clients: Vec<usize>,
    /// How long each throughput and watch measurement runs.
    pub duration: Duration,
    /// Size of every value written.
    pub value_bytes: usize,
    /// Keys in the range that is read whole.
    pub range_keys: usize,
    /// Timed reads of that range (after one untimed one).
    pub range_runs: usize,
}

impl StoreBenchOptions {
    /// The defaults for `targets`: 1, 16 and 64 clients, 2 s per
    /// measurement, 256-byte values, 11 reads of a 10,000-key range.
    pub fn new(targets: Vec<Target>) -> StoreBenchOptions {
        StoreBenchOptions {
            targets,
            clients: DEFAULT_CLIENTS.to_vec(),
            duration: Duration::from_secs(2),
            value_bytes: 256,
            range_keys: 10_000,
            range_runs: 11,
        }
    }

    /// Checks the options before anything is started.
    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |msg: String| Err(BenchError::InvalidOptions(msg));
        if self.targets.is_empty() {
            return invalid("no backend to measure".into());
        }
        if self.clients.is_empty() || self.clients.contains(&0) {
            return invalid("client counts must be at least 1".into());
        }
        if self.duration.is_zero() {
            return invalid("duration must be positive".into());
        }
        if self.value_bytes < phases::STAMP_BYTES
            || self.value_bytes > cuttle_store::MAX_VALUE_BYTES
        {
            return invalid(format!(
                "value size {} must be between {} and {} bytes",
                self.value_bytes,
                phases::STAMP_BYTES,
                cuttle_store::MAX_VALUE_BYTES
            ));
        }
        if self.range_keys == 0 || self.range_runs == 0 {
            return invalid("the range needs at least one key and one read".into());
        }
        for target in &self.targets {
            if let Target::Etcd {
                endpoint: Some(endpoint),
            } = target
            {
                let hosts = endpoint.strip_prefix("etcd://").unwrap_or_default();
                if hosts.trim_matches(|c| c == ',' || c == ' ').is_empty() {
                    return invalid(format!(
                        "etcd endpoint {endpoint:?} must look like etcd://host:port"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Measures every target in turn, one after the other so that they do not
/// compete for the machine.
pub async fn run_store_bench(opts: StoreBenchOptions) -> Result<StoreBenchReport, BenchError> {
    opts.validate()?;
    let mut backends = Vec::with_capacity(opts.targets.len());
    for target in &opts.targets {
        backends.push(bench_target(target, &opts).await?);
    }
    Ok(StoreBenchReport::new(&opts, backends))
}

/// A store under test and what keeps it alive.
struct Opened {
    store: Arc<dyn Store>,
    /// Where it lives, for the report.
    location: String,
    /// Owned temporary stores are dropped (and removed) after the run.
    owned: Option<TestStore>,
}

async fn open(target: &Target) -> Result<Opened, BenchError> {
    let backend = target.name();
    match target {
        Target::Etcd {
            endpoint: Some(endpoint),
        } => {
            let store = cuttle_store::open(endpoint)
                .await
                .map_err(|source| BenchError::Open {
                    endpoint: endpoint.clone(),
                    source,
                })?;
            Ok(Opened {
                store,
                location: endpoint.clone(),
                owned: None,
            })
        }
        Target::Sqlite | Target::Etcd { endpoint: None } => {
            let kind = match target {
                Target::Sqlite => Backend::Sqlite,
                _ => Backend::Etcd,
            };
            let test = TestStore::new(kind)
                .await
                .map_err(|source| BenchError::Start { backend, source })?;
            let location = match (&test.etcd, &test.sqlite) {
                (Some(etcd), _) => format!("{} (throwaway etcd process)", etcd.url()),
                (None, Some(sqlite)) => format!("{} (temporary)", sqlite.path()),
                (None, None) => String::new(),
            };
            Ok(Opened {
                store: test.store.clone(),
                location,
                owned: Some(test),
            })
        }
    }
}

async fn bench_target(
    target: &Target,
    opts: &StoreBenchOptions,
) -> Result<BackendReport, BenchError> {
    let backend = target.name();
    tracing::info!(backend, "opening store");
    let opened = open(target).await?;
    let run = phases::Run::new(backend, opened.store.clone(), opts);
    let result = phases::measure(&run, opts).await;
    if opened.owned.is_none() {
        // A shared cluster: take the run's keys away again.
        let cleanup = Txn {
            success: vec![TxnOp::Delete {
                key: run.prefix().to_owned(),
                prefix: true,
            }],
            ..Default::default()
        };
        if let Err(error) = opened.store.txn(cleanup).await {
            tracing::warn!(backend, %error, prefix = run.prefix(), "could not delete the benchmark's keys");
        }
    }
    if let Some(sqlite) = opened.owned.as_ref().and_then(|t| t.sqlite.as_ref()) {
        sqlite.close().await;
    }
    let (range, by_clients) = result?;
    Ok(BackendReport {
        backend: backend.to_owned(),
        location: opened.location,
        range,
        by_clients,
    })
}
