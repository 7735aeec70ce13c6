//! Reads of the SQLite store. WAL lets readers run beside the writer, each
//! on a snapshot; a small pool of connections serves them on tokio's
//! blocking threads.

use super::index::KeyIndex;
use super::schema::{self, sql_err, RangeError};
use super::watch::Published;
use crate::error::{Error, Result};
use crate::types::{RangeRequest, RangeResponse, Revision, Revisions, WatchRequest};
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// New snapshots a range read takes when a compaction overtook its
/// snapshot. A compaction reaches the index only after its commit, so a
/// snapshot taken then sees it: one retry is enough unless compactions
/// follow each other closely.
const STALE_RETRIES: usize = 3;

/// Reads run at once (and connections kept open): more readers wait for
/// a turn instead of opening and closing connections under load.
const MAX_READERS: usize = 16;

pub(crate) struct ReadPool {
    db: PathBuf,
    path: String,
    index: Arc<RwLock<KeyIndex>>,
    idle: Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
}

impl ReadPool {
    pub(crate) fn new(db: PathBuf, index: Arc<RwLock<KeyIndex>>) -> Arc<ReadPool> {
        Arc::new(ReadPool {
            path: db.display().to_string(),
            db,
            index,
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(MAX_READERS),
        })
    }

    /// Runs `f` in a read transaction (one snapshot) on a pooled connection.
    async fn with_snapshot<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection, Revisions, &str) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let permit = self.permits.acquire().await.map_err(|_| Error::Closed)?;
        let pool = self.clone();
        let join = tokio::task::spawn_blocking(move || {
            let taken = pool.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut conn = match taken {
                Some(c) => c,
                None => schema::open_connection(&pool.db).map_err(sql_err(&pool.path))?,
            };
            let result = (|| {
                let tx = conn.transaction().map_err(sql_err(&pool.path))?;
                let revs = schema::read_revisions(&tx).map_err(sql_err(&pool.path))?;
                let r = f(&tx, revs, &pool.path)?;
                tx.finish().map_err(sql_err(&pool.path))?;
                Ok(r)
            })();
            pool.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
            result
        });
        let result = join.await.map_err(|_| Error::Closed)?;
        drop(permit);
        result
    }

    pub(crate) async fn range(self: &Arc<Self>, req: RangeRequest) -> Result<RangeResponse> {
        let req = Arc::new(req);
        let mut attempt = 0;
        loop {
            let (req, index) = (req.clone(), self.index.clone());
            let read = self
                .with_snapshot(move |conn, revs, path| {
                    match schema::range(conn, &index, &req, revs) {
                        Err(RangeError::Stale(_)) if attempt < STALE_RETRIES => Ok(None),
                        r => r.map(Some).map_err(|e| e.into_error(path, req.revision)),
                    }
                })
                .await?;
            if let Some(resp) = read {
                return Ok(resp);
            }
            attempt += 1;
        }
    }

    pub(crate) async fn revisions(self: &Arc<Self>) -> Result<Revisions> {
        self.with_snapshot(|_, revs, _| Ok(revs)).await
    }

    /// History for a watch catching up; fails if `from_rev` is compacted.
    pub(crate) async fn events(
        self: &Arc<Self>,
        req: &WatchRequest,
        after_id: i64,
        from_rev: Revision,
        to_rev: Revision,
        limit: usize,
    ) -> Result<Vec<Published>> {
        let req = req.clone();
        self.with_snapshot(move |conn, revs, path| {
            if from_rev < revs.compacted {
                return Err(Error::Compacted {
                    requested: from_rev,
                    compacted: revs.compacted,
                });
            }
            schema::events(conn, &req, after_id, from_rev, to_rev, limit).map_err(sql_err(path))
        })
        .await
    }
}
