//! cuttle's store: a key-value store with etcd's data model, the ground the
//! apiserver stands on.
//!
//! Every write advances one global revision; each key carries its value,
//! create and mod revisions, version and lease. Writes are guarded by
//! compares on those revisions (the optimistic concurrency behind
//! Kubernetes' `resourceVersion`), watches deliver every change after a
//! revision exactly once and in order, leases expire keys, and compaction
//! drops history. Two backends implement the one [`Store`] trait: the
//! embedded [`SqliteStore`] (the default) and [`EtcdStore`] for a real etcd
//! cluster. [`open`] picks one from an endpoint string.

mod compactor;
mod error;
mod etcd;
mod limits;
mod sqlite;
mod types;

#[cfg(feature = "test-util")]
pub mod testing;

pub use compactor::Compactor;
pub use error::{Error, Result};
pub use etcd::EtcdStore;
pub use limits::{validate_key, validate_range, validate_txn, validate_value, MAX_VALUE_BYTES};
pub use sqlite::SqliteStore;
pub use types::*;

use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;

/// The store's operations: etcd's KV, Watch and Lease services.
///
/// The core methods mirror etcd's API; the convenience methods on top
/// ([`Store::get`], [`Store::create`], [`Store::update`], [`Store::delete`])
/// are what the apiserver uses and are built on [`Store::txn`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads one key or a key range, at the current revision or an older one.
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse>;

    /// Applies `success` if every compare holds, `failure` otherwise, as one
    /// atomic step that advances the revision once if it writes anything.
    async fn txn(&self, txn: Txn) -> Result<TxnResponse>;

    /// Streams every change to a key or range from `start_revision`
    /// (inclusive, as in etcd; `0` means "from now on").
    async fn watch(&self, req: WatchRequest) -> Result<WatchStream>;

    /// Grants a lease that expires `ttl_seconds` after its last keep-alive.
    async fn lease_grant(&self, ttl_seconds: i64) -> Result<LeaseId>;

    /// Renews a lease; returns its TTL in seconds.
    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64>;

    /// Revokes a lease and deletes every key attached to it.
    async fn lease_revoke(&self, lease: LeaseId) -> Result<()>;

    /// Drops all history older than `revision`; reads and watches below it
    /// then fail with [`Error::Compacted`].
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The current revision and the compacted one.
    async fn revisions(&self) -> Result<Revisions>;

    /// Reads one key at the current revision.
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision)> {
        let resp = self.range(RangeRequest::key(key)).await?;
        Ok((resp.kvs.into_iter().next(), resp.revision))
    }

    /// Creates a key that must not exist; returns its revision.
    async fn create(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision> {
        let resp = self
            .txn(Txn {
                compares: vec![Compare::mod_revision(key, CompareOp::Equal, 0)],
                success: vec![TxnOp::put_with_lease(key, value, lease)],
                failure: vec![TxnOp::get(key)],
            })
            .await?;
        if resp.succeeded {
            Ok(resp.revision)
        } else {
            Err(Error::AlreadyExists {
                key: key.to_owned(),
            })
        }
    }

    /// Replaces a key's value if its mod revision is still `expected`.
    /// On a conflict the error carries the current value, so that the caller
    /// can retry without another read.
    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Revision,
        lease: Option<LeaseId>,
    ) -> Result<Revision> {
        let resp = self
            .txn(Txn {
                compares: vec![Compare::mod_revision(key, CompareOp::Equal, expected)],
                success: vec![TxnOp::put_with_lease(key, value, lease)],
                failure: vec![TxnOp::get(key)],
            })
            .await?;
        if resp.succeeded {
            return Ok(resp.revision);
        }
        let current = first_get(resp.responses);
        match current {
            None => Err(Error::NotFound {
                key: key.to_owned(),
            }),
            Some(current) => Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                current: Box::new(current),
            }),
        }
    }

    /// Deletes a key, if `expected` is given only while its mod revision is
    /// still that. Returns the deleted value and the revision of the delete.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        let compares = match expected {
            Some(rev) => vec![Compare::mod_revision(key, CompareOp::Equal, rev)],
            None => vec![Compare::mod_revision(key, CompareOp::Greater, 0)],
        };
        let resp = self
            .txn(Txn {
                compares,
                success: vec![TxnOp::Delete {
                    key: key.to_owned(),
                    prefix: false,
                }],
                failure: vec![TxnOp::get(key)],
            })
            .await?;
        if resp.succeeded {
            let prev = match resp.responses.into_iter().next() {
                Some(TxnOpResponse::Delete { mut prev_kvs, .. }) if !prev_kvs.is_empty() => {
                    prev_kvs.swap_remove(0)
                }
                _ => {
                    return Err(Error::NotFound {
                        key: key.to_owned(),
                    })
                }
            };
            return Ok((prev, resp.revision));
        }
        match (first_get(resp.responses), expected) {
            (Some(current), Some(expected)) => Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                current: Box::new(current),
            }),
            _ => Err(Error::NotFound {
                key: key.to_owned(),
            }),
        }
    }
}

fn first_get(responses: Vec<TxnOpResponse>) -> Option<KeyValue> {
    responses.into_iter().find_map(|r| match r {
        TxnOpResponse::Get(range) => range.kvs.into_iter().next(),
        _ => None,
    })
}

/// Opens the store an endpoint names: `etcd://host:port[,host:port...]` for
/// an etcd cluster, anything else is the SQLite data directory.
pub async fn open(endpoint_or_dir: &str) -> Result<Arc<dyn Store>> {
    if let Some(endpoints) = endpoint_or_dir.strip_prefix("etcd://") {
        let endpoints: Vec<String> = endpoints
            .split(',')
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(|e| e.trim_start_matches("etcd://").to_owned())
            .collect();
        Ok(Arc::new(EtcdStore::connect(&endpoints).await?))
    } else {
        Ok(Arc::new(
            SqliteStore::open(Path::new(endpoint_or_dir)).await?,
        ))
    }
}
