//! Test doubles and harnesses, behind the `test-util` feature: a throwaway
//! etcd, fresh stores of either backend, and the conformance suite that
//! every backend must pass.

pub mod conformance;
mod etcd_process;

pub use etcd_process::{EtcdProcess, EtcdProcessError};

use crate::{EtcdStore, SqliteStore, Store};
use std::sync::Arc;

/// Which backend a fresh store uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Etcd,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sqlite" => Ok(Backend::Sqlite),
            "etcd" => Ok(Backend::Etcd),
            other => Err(format!(
                "unknown backend {other:?}: expected sqlite or etcd"
            )),
        }
    }
}

/// A fresh, empty store and what keeps it alive (its temporary directory or
/// its etcd process), released on drop.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    /// The SQLite store itself, to close and reopen it.
    pub sqlite: Option<Arc<SqliteStore>>,
    pub dir: Option<tempfile::TempDir>,
    pub etcd: Option<EtcdProcess>,
}

/// Why a fresh store could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestStoreError {
    #[error(transparent)]
    Etcd(#[from] EtcdProcessError),
    #[error(transparent)]
    Store(#[from] crate::Error),
    #[error("temporary directory: {0}")]
    Io(#[from] std::io::Error),
}

impl TestStore {
    /// A fresh store of `backend`: a new SQLite store in a temporary
    /// directory, or a new etcd process.
    pub async fn new(backend: Backend) -> Result<TestStore, TestStoreError> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new().prefix("cuttle-store-").tempdir()?;
                let sqlite = Arc::new(SqliteStore::open(dir.path()).await?);
                Ok(TestStore {
                    store: sqlite.clone(),
                    sqlite: Some(sqlite),
                    dir: Some(dir),
                    etcd: None,
                })
            }
            Backend::Etcd => {
                let etcd = tokio::task::spawn_blocking(EtcdProcess::start)
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))??;
                let store = EtcdStore::connect(&[etcd.endpoint()]).await?;
                Ok(TestStore {
                    store: Arc::new(store),
                    sqlite: None,
                    dir: None,
                    etcd: Some(etcd),
                })
            }
        }
    }
}
