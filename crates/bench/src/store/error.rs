//! Why a store benchmark could not run to the end. Each variant's message
//! says what failed; the underlying error is its `source`.

use cuttle_store::testing::TestStoreError;

/// Why a store benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The options cannot be measured (no backend, zero clients, a bad endpoint).
    #[error("invalid benchmark options: {0}")]
    InvalidOptions(String),

    /// A fresh store (temporary SQLite directory or etcd process) did not start.
    #[error("starting a {backend} store")]
    Start {
        backend: &'static str,
        #[source]
        source: TestStoreError,
    },

    /// The given etcd endpoint could not be opened.
    #[error("opening {endpoint}")]
    Open {
        endpoint: String,
        #[source]
        source: cuttle_store::Error,
    },

    /// A store operation failed while measuring.
    #[error("{backend} store, {phase}")]
    Store {
        backend: &'static str,
        phase: &'static str,
        #[source]
        source: cuttle_store::Error,
    },

    /// The store answered, but not as it should have (a missing key, a
    /// short range): the figures would be meaningless.
    #[error("{backend} store, {phase}: {detail}")]
    Unexpected {
        backend: &'static str,
        phase: &'static str,
        detail: String,
    },

    /// The watch did not deliver every write within the grace period.
    #[error("{backend} store: the watch delivered {received} of {expected} events within {grace_secs} s")]
    WatchIncomplete {
        backend: &'static str,
        received: usize,
        expected: usize,
        grace_secs: u64,
    },

    /// A load-generating task panicked or was cancelled.
    #[error("benchmark task failed")]
    Task(#[from] tokio::task::JoinError),

    /// The report could not be encoded as JSON.
    #[error("encoding the report as JSON")]
    Json(#[from] serde_json::Error),
}
