//! Why an apiserver benchmark could not run to the end. Each variant's
//! message says what failed; the underlying error is its `source`.

use std::path::PathBuf;

/// Why an apiserver benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiBenchError {
    /// The options cannot be measured (no target, zero clients or pods).
    #[error("invalid benchmark options: {0}")]
    InvalidOptions(String),

    /// The temporary data directory of the in-process apiserver could not
    /// be made.
    #[error("creating a temporary data directory")]
    TempDir(#[source] std::io::Error),

    /// The in-process apiserver did not start.
    #[error("starting the in-process apiserver")]
    Start(#[source] cuttle_apiserver::StartError),

    /// The kubeconfig could not be read or does not describe a usable
    /// cluster.
    #[error("reading the kubeconfig {}", path.display())]
    Kubeconfig {
        /// The file given.
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// No client could be built from the kubeconfig (TLS material, auth).
    #[error("building a client for {target}")]
    Client {
        /// The column the target is reported under.
        target: String,
        #[source]
        source: kube::Error,
    },

    /// A request could not be sent or its answer not read.
    #[error("{target}, {phase}: request failed")]
    Request {
        /// The column the target is reported under.
        target: String,
        /// What was being measured or prepared.
        phase: &'static str,
        #[source]
        source: kube::Error,
    },

    /// The server answered a request with an error status.
    #[error("{target}, {phase}: {method} {path} answered {code}: {message}")]
    Status {
        /// The column the target is reported under.
        target: String,
        /// What was being measured or prepared.
        phase: &'static str,
        /// The request's method.
        method: String,
        /// The request's path (with its query).
        path: String,
        /// The HTTP status code.
        code: u16,
        /// The server's message (a `Status` message, or the body).
        message: String,
    },

    /// The server answered, but not as it should have (a short list, a
    /// watch that never started): the figures would be meaningless.
    #[error("{target}, {phase}: {detail}")]
    Unexpected {
        /// The column the target is reported under.
        target: String,
        /// What was being measured or prepared.
        phase: &'static str,
        /// What was wrong.
        detail: String,
    },

    /// The process's resident memory could not be read.
    #[error("reading /proc/self/status")]
    Memory(#[source] std::io::Error),

    /// A load-generating task panicked or was cancelled.
    #[error("benchmark task failed")]
    Task(#[from] tokio::task::JoinError),

    /// The report could not be encoded as JSON.
    #[error("encoding the report as JSON")]
    Json(#[from] serde_json::Error),
}
