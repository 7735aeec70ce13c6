//! The store's errors. Every bad input gets its own variant, so that the
//! apiserver can map it to the right Kubernetes status.

use crate::types::{KeyValue, LeaseId, Revision};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key is empty or not a key the store accepts.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },

    /// A value larger than [`crate::MAX_VALUE_BYTES`].
    #[error("value of key {key:?} is {size} bytes, over the limit of {limit} bytes")]
    ValueTooLarge {
        key: String,
        size: usize,
        limit: usize,
    },

    /// A create found the key already there.
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },

    /// An update or guarded delete found the key missing.
    #[error("key {key:?} not found")]
    NotFound { key: String },

    /// An update or guarded delete found the key at another mod revision.
    #[error("key {key:?} was modified: expected mod revision {expected}, found {}", current.mod_revision)]
    Conflict {
        key: String,
        expected: Revision,
        current: Box<KeyValue>,
    },

    /// A read or watch asked for history that compaction dropped.
    #[error("revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },

    /// A read asked for a revision the store has not reached.
    #[error("revision {requested} is in the future (current revision {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },

    /// A write or keep-alive named a lease that does not exist (or expired).
    #[error("lease {0} not found")]
    LeaseNotFound(LeaseId),

    /// A lease was granted with a TTL that is not positive.
    #[error("invalid lease TTL {0}: must be at least 1 second")]
    InvalidTtl(i64),

    /// The request itself is malformed (other than key and value).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The embedded database failed.
    #[error("sqlite store at {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },

    /// A batch of writes could not be committed; none of it was applied.
    #[error("sqlite store at {path}: commit failed, nothing written: {reason}")]
    CommitFailed { path: String, reason: String },

    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The etcd cluster failed or could not be reached. (Not a `#[source]`:
    /// the message already carries etcd's, and chains would repeat it.)
    #[error("etcd: {0}")]
    Etcd(etcd_client::Error),

    /// The store is shutting down or its writer stopped.
    #[error("store is closed")]
    Closed,
}

impl Error {
    /// Whether retrying the same request may succeed (transient failures).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Etcd(_) | Error::Closed)
    }
}

impl From<etcd_client::Error> for Error {
    fn from(e: etcd_client::Error) -> Self {
        Error::Etcd(e)
    }
}
