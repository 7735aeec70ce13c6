//! The single writer thread and its group commit.
//!
//! All writes go through one thread that owns the write connection. It takes
//! every request waiting in its queue, applies each inside its own savepoint
//! (so one failing request does not undo the others), and commits them as one
//! SQLite transaction: one fsync for the whole batch. Throughput therefore
//! grows with the number of concurrent writers. Only after the commit is on
//! disk are the changes published to watchers and the callers answered.

use super::checkpoint::Signals;
use super::index::{KeyIndex, Row};
use super::schema::{self, sql_err, Stored};
use super::watch::{Hub, Published};
use crate::error::{Error, Result};
use crate::types::*;
use rusqlite::{params, Connection};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The most requests committed in one transaction while commits are
/// quick. A cap keeps the writer and the request threads working side by
/// side instead of in turns (all clients' writes in one batch, then all
/// their answers): with 512, 64 clients creating pods saw a p99 of
/// 11.8-14.0 ms against 10.8-12.4 ms with 32. Since the key index moved to
/// memory a batch costs half as much, and 64 did better than 32 in
/// alternating runs (64 clients: p99 9.0-10.9 ms against 10.1-12.7 ms,
/// creates/s 3-29% higher; the scheduler's end-to-end bench unchanged).
const QUICK_BATCH: usize = 64;
/// The most requests committed in one transaction when a commit (its
/// fsync) is slow: a slow disk makes one fsync for many writes the thing
/// that matters, and 64 per fsync would cap a 10 ms disk at 6,400 writes/s.
const MAX_BATCH: usize = 512;
/// A commit slower than this makes the next batch take up to [`MAX_BATCH`].
const SLOW_COMMIT: Duration = Duration::from_millis(3);
/// Rows compaction deletes per transaction, so that writers never wait long.
const COMPACT_CHUNK: usize = 2_000;
/// WAL file length above which the writer copies the WAL into the database
/// file itself. The checkpoint thread runs niced and asks for that copy at
/// 1 GiB; on a machine kept busy without a pause it may get too little CPU
/// to get there. The writer's copy is a last resort: it holds every write up
/// while it copies the WAL (seconds, at this size), and it gives up at once
/// while the checkpoint thread is copying (it is tried again
/// [`WAL_SIZE_EVERY`] batches later).
#[cfg(not(test))]
pub(crate) const WAL_HARD_LIMIT: u64 = 4 << 30;
#[cfg(test)]
pub(crate) const WAL_HARD_LIMIT: u64 = 4 << 20;
/// What SQLite cuts the WAL file back to when the WAL starts over
/// (`journal_size_limit`): above the length a WAL reaches between the
/// checkpoint thread's restarts, so that those reuse the file, and below
/// [`WAL_HARD_LIMIT`], so that a WAL the writer had to copy does not keep
/// the file over that limit.
#[cfg(not(test))]
const WAL_KEEP_BYTES: i64 = 2 << 30;
#[cfg(test)]
const WAL_KEEP_BYTES: i64 = 2 << 20;
/// Batches between two looks at the WAL file's length.
const WAL_SIZE_EVERY: u32 = 256;

pub(crate) enum Request {
    Txn(Txn, oneshot::Sender<Result<TxnResponse>>),
    LeaseGrant(i64, oneshot::Sender<Result<LeaseId>>),
    LeaseRevoke(LeaseId, oneshot::Sender<Result<()>>),
    Compact(Revision, oneshot::Sender<Result<()>>),
}

/// The answer of one request, sent once the batch is committed.
enum Reply {
    Txn(oneshot::Sender<Result<TxnResponse>>, Result<TxnResponse>),
    Lease(oneshot::Sender<Result<LeaseId>>, Result<LeaseId>),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
}

impl Reply {
    fn fail(self, err: impl Fn() -> Error) -> Reply {
        match self {
            Reply::Txn(tx, Ok(_)) => Reply::Txn(tx, Err(err())),
            Reply::Lease(tx, Ok(_)) => Reply::Lease(tx, Err(err())),
            Reply::Unit(tx, Ok(_)) => Reply::Unit(tx, Err(err())),
            other => other,
        }
    }

    fn send(self) {
        // A caller that stopped waiting is no error of ours.
        match self {
            Reply::Txn(tx, r) => drop(tx.send(r)),
            Reply::Lease(tx, r) => drop(tx.send(r)),
            Reply::Unit(tx, r) => drop(tx.send(r)),
        }
    }
}

pub(crate) struct Writer {
    conn: Connection,
    /// Shared, so that the steps that need `&mut self` while reporting
    /// errors with the path take a cheap copy of it.
    path: Arc<str>,
    rev: Revision,
    compacted: Revision,
    /// Compaction target not yet taken out of the index.
    compacting: Option<Revision>,
    /// Rows compaction took out of the index, still to delete from `kv`.
    victims: Vec<i64>,
    index: Arc<RwLock<KeyIndex>>,
    /// Keys whose newest index row this batch added, in order: taken back
    /// when their request or the commit fails.
    pushed: Vec<String>,
    hub: Arc<Hub>,
    leases: Arc<super::lease::Leases>,
    /// Shared with the checkpoint thread.
    signals: Arc<Signals>,
    /// The lease deadlines this batch changed, as they were before: put
    /// back if its commit fails, as the lease table is.
    lease_undo: Vec<(LeaseId, Option<(i64, Instant)>)>,
    /// How long the last COMMIT (with its fsync) took.
    last_commit: Duration,
    /// The WAL file, whose length the writer watches.
    wal: std::path::PathBuf,
    /// Batches since the WAL file's length was last looked at.
    batches_unchecked: u32,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        path: String,
        hub: Arc<Hub>,
        leases: Arc<super::lease::Leases>,
        signals: Arc<Signals>,
        index: Arc<RwLock<KeyIndex>>,
    ) -> Result<Writer> {
        let revs = schema::read_revisions(&conn).map_err(sql_err(&path))?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)
            .map_err(sql_err(&path))?;
        // Finish a compaction a crash interrupted: its rows may remain.
        let compacting = (revs.compacted > 0).then_some(revs.compacted);
        let wal = format!("{path}-wal").into();
        Ok(Writer {
            conn,
            path: path.into(),
            rev: revs.current,
            compacted: revs.compacted,
            compacting,
            victims: Vec::new(),
            index,
            pushed: Vec::new(),
            hub,
            leases,
            signals,
            lease_undo: Vec::new(),
            last_commit: Duration::ZERO,
            wal,
            batches_unchecked: 0,
        })
    }

    /// Serves requests until every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<Request>) {
        loop {
            let first = if self.compaction_pending() {
                match rx.try_recv() {
                    Ok(r) => r,
                    Err(TryRecvError::Empty) => {
                        self.compact_chunk();
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match rx.recv() {
                    Ok(r) => r,
                    Err(_) => return,
                }
            };
            let mut batch = vec![first];
            let cap = if self.last_commit > SLOW_COMMIT {
                MAX_BATCH
            } else {
                QUICK_BATCH
            };
            while batch.len() < cap {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
            self.finish_checkpoint();
            if self.compaction_pending() {
                self.compact_chunk();
            }
        }
    }

    /// When the checkpoint thread found the WAL long, copies the frames it
    /// left (those written since it ran) into the database file, so that
    /// the next commit starts the WAL over and reuses its file. SQLite
    /// restarts a WAL only once all of it is copied, which the background
    /// copy never reaches while writes keep coming. A checkpoint already
    /// running makes this one give up at once; it is asked again later.
    /// Does the same, unasked, when the WAL file outgrew [`WAL_HARD_LIMIT`].
    fn finish_checkpoint(&mut self) {
        self.batches_unchecked += 1;
        let over_limit = self.batches_unchecked >= WAL_SIZE_EVERY && {
            self.batches_unchecked = 0;
            wal_over(&self.wal, WAL_HARD_LIMIT)
        };
        if !self.signals.wal_long.swap(false, Ordering::Relaxed) && !over_limit {
            return;
        }
        if let Err(e) = schema::checkpoint(&self.conn) {
            tracing::debug!(error = %e, "writer's checkpoint skipped");
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let start_rev = self.rev;
        // A compaction the batch starts counts once the batch is committed.
        let (compacted_before, compacting_before) = (self.compacted, self.compacting);
        let mut replies = Vec::with_capacity(batch.len());
        let mut published = Vec::new();
        self.pushed.clear();
        self.lease_undo.clear();
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            for req in batch {
                self.reply_for(req, Err(self.commit_failed(&e))).send();
            }
            return;
        }
        for req in batch {
            let reply = self.apply_in_savepoint(req, &mut published);
            replies.push(reply);
        }
        let committed = (|| {
            if self.rev != start_rev {
                schema::write_meta(&self.conn, "rev", self.rev)?;
            }
            let started = Instant::now();
            let done = self.conn.execute_batch("COMMIT");
            self.last_commit = started.elapsed();
            done
        })();
        if let Err(e) = committed {
            tracing::error!(path = %self.path, error = %e, "store commit failed");
            let _ = self.conn.execute_batch("ROLLBACK");
            self.rev = start_rev;
            self.compacted = compacted_before;
            self.compacting = compacting_before;
            self.take_back_index_rows(0);
            for (id, before) in self.lease_undo.drain(..).rev() {
                self.leases.restore(id, before);
            }
            for reply in replies {
                reply.fail(|| self.commit_failed(&e)).send();
            }
            return;
        }
        self.signals.batches.fetch_add(1, Ordering::Relaxed);
        self.pushed.clear();
        if self.compacted != compacted_before {
            self.hub.set_compacted(self.compacted);
        }
        self.hub.publish(self.rev, published);
        for reply in replies {
            reply.send();
        }
    }

    fn commit_failed(&self, e: &rusqlite::Error) -> Error {
        Error::CommitFailed {
            path: self.path.to_string(),
            reason: e.to_string(),
        }
    }

    /// An error reply of the request's own kind.
    fn reply_for(&self, req: Request, err: Result<()>) -> Reply {
        let err = err.err().unwrap_or(Error::Closed);
        match req {
            Request::Txn(_, tx) => Reply::Txn(tx, Err(err)),
            Request::LeaseGrant(_, tx) => Reply::Lease(tx, Err(err)),
            Request::LeaseRevoke(_, tx) | Request::Compact(_, tx) => Reply::Unit(tx, Err(err)),
        }
    }

    fn apply_in_savepoint(&mut self, req: Request, published: &mut Vec<Published>) -> Reply {
        let rev_before = self.rev;
        let events_before = published.len();
        let pushed_before = self.pushed.len();
        if let Err(e) = self.exec_cached("SAVEPOINT req") {
            let path = self.path.clone();
            return self.reply_for(req, Err(sql_err(&path)(e)));
        }
        let reply = match req {
            Request::Txn(txn, tx) => {
                let r = self.apply_txn(&txn, published);
                let ok = r.is_ok();
                (Reply::Txn(tx, r), ok)
            }
            Request::LeaseGrant(ttl, tx) => {
                let r = self.lease_grant(ttl);
                let ok = r.is_ok();
                (Reply::Lease(tx, r), ok)
            }
            Request::LeaseRevoke(id, tx) => {
                let r = self.lease_revoke(id, published);
                let ok = r.is_ok();
                (Reply::Unit(tx, r), ok)
            }
            Request::Compact(rev, tx) => {
                let r = self.start_compaction(rev);
                let ok = r.is_ok();
                (Reply::Unit(tx, r), ok)
            }
        };
        let (reply, ok) = reply;
        let ended = if ok {
            self.exec_cached("RELEASE req")
        } else {
            self.rev = rev_before;
            published.truncate(events_before);
            self.take_back_index_rows(pushed_before);
            self.exec_cached("ROLLBACK TO req")
                .and_then(|()| self.exec_cached("RELEASE req"))
        };
        if let Err(e) = ended {
            return reply.fail(|| self.commit_failed(&e));
        }
        reply
    }

    /// Takes the index rows pushed since the `from`th back out, newest first.
    fn take_back_index_rows(&mut self, from: usize) {
        if self.pushed.len() <= from {
            return;
        }
        let mut index = schema::write(&self.index);
        for key in self.pushed.drain(from..).rev() {
            index.pop(&key);
        }
    }

    /// Adds a row to the index, to be taken back if its request fails.
    fn push_index_row(&mut self, key: &str, row: Row) {
        schema::write(&self.index).push(key, row);
        self.pushed.push(key.to_owned());
    }

    /// Runs a statement without parameters from the statement cache: the
    /// savepoint around each request would otherwise be parsed twice per
    /// request.
    fn exec_cached(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    fn apply_txn(&mut self, txn: &Txn, published: &mut Vec<Published>) -> Result<TxnResponse> {
        crate::limits::validate_txn(txn)?;
        let path = self.path.clone();
        let sql = sql_err(&path);
        let mut succeeded = true;
        for cmp in &txn.compares {
            let current = schema::current(&self.conn, &self.index, &cmp.key).map_err(&sql)?;
            if !cmp.holds(current.as_ref().map(|s| &s.kv)) {
                succeeded = false;
                break;
            }
        }
        let ops = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        let new_rev = self.rev + 1;
        let mut wrote = false;
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let resp = match op {
                TxnOp::Put { key, value, lease } => {
                    let lease = lease.unwrap_or(0);
                    // The deadlines in memory follow the lease table (loaded
                    // with it, changed with it): no query per leased put.
                    if lease != 0 && !self.leases.exists(lease) {
                        return Err(Error::LeaseNotFound(lease));
                    }
                    let prev = schema::current(&self.conn, &self.index, key).map_err(&sql)?;
                    self.put_row(key, value, lease, new_rev, prev.as_ref(), published)?;
                    wrote = true;
                    TxnOpResponse::Put {
                        prev_kv: prev.map(|p| p.kv),
                    }
                }
                TxnOp::Delete { key, prefix } => {
                    let end = prefix.then(|| prefix_end(key));
                    let victims = schema::live_keys(&self.conn, &self.index, key, end.as_deref())
                        .map_err(&sql)?;
                    for victim in &victims {
                        self.delete_row(victim, new_rev, published)?;
                    }
                    wrote |= !victims.is_empty();
                    TxnOpResponse::Delete {
                        deleted: victims.len() as i64,
                        prev_kvs: victims.into_iter().map(|v| v.kv).collect(),
                    }
                }
                TxnOp::Get(req) => {
                    // Reads inside a transaction see its earlier writes.
                    let revs = Revisions {
                        current: if wrote { new_rev } else { self.rev },
                        compacted: self.compacted,
                    };
                    let resp = schema::range(&self.conn, &self.index, req, revs)
                        .map_err(|e| e.into_error(&path, req.revision))?;
                    TxnOpResponse::Get(resp)
                }
            };
            responses.push(resp);
        }
        if wrote {
            self.rev = new_rev;
        }
        Ok(TxnResponse {
            succeeded,
            revision: self.rev,
            responses,
        })
    }

    fn put_row(
        &mut self,
        key: &str,
        value: &[u8],
        lease: LeaseId,
        rev: Revision,
        prev: Option<&Stored>,
        published: &mut Vec<Published>,
    ) -> Result<()> {
        let (create_rev, version) = match prev {
            Some(p) => (p.kv.create_revision, p.kv.version + 1),
            None => (rev, 1),
        };
        let path = self.path.clone();
        let sql = sql_err(&path);
        self.conn
            .prepare_cached(
                "INSERT INTO kv (rev, key, deleted, create_rev, version, lease, value, prev_id)
                 VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    rev,
                    key,
                    create_rev,
                    version,
                    lease,
                    value,
                    prev.map(|p| p.id)
                ])
            })
            .map_err(&sql)?;
        let id = self.conn.last_insert_rowid();
        self.push_index_row(
            key,
            Row {
                id,
                rev,
                lease,
                deleted: false,
            },
        );
        let kv = KeyValue {
            key: key.to_owned(),
            value: bytes::Bytes::copy_from_slice(value),
            create_revision: create_rev,
            mod_revision: rev,
            version,
            lease,
        };
        published.push(Published {
            id,
            event: schema::event_from(kv, false, prev.map(|p| p.kv.clone())),
        });
        Ok(())
    }

    fn delete_row(
        &mut self,
        victim: &Stored,
        rev: Revision,
        published: &mut Vec<Published>,
    ) -> Result<()> {
        let path = self.path.clone();
        let sql = sql_err(&path);
        let key = &victim.kv.key;
        self.conn
            .prepare_cached(
                "INSERT INTO kv (rev, key, deleted, create_rev, version, lease, value, prev_id)
                 VALUES (?1, ?2, 1, 0, 0, 0, x'', ?3)",
            )
            .and_then(|mut s| s.execute(params![rev, key, victim.id]))
            .map_err(&sql)?;
        let id = self.conn.last_insert_rowid();
        self.push_index_row(
            key,
            Row {
                id,
                rev,
                lease: 0,
                deleted: true,
            },
        );
        let tomb = KeyValue {
            key: key.clone(),
            value: bytes::Bytes::new(),
            create_revision: 0,
            mod_revision: rev,
            version: 0,
            lease: 0,
        };
        published.push(Published {
            id,
            event: schema::event_from(tomb, true, Some(victim.kv.clone())),
        });
        Ok(())
    }

    fn lease_grant(&mut self, ttl: i64) -> Result<LeaseId> {
        let sql = sql_err(&self.path);
        let id = schema::read_meta(&self.conn, "lease_seq").map_err(&sql)? + 1;
        schema::write_meta(&self.conn, "lease_seq", id).map_err(&sql)?;
        self.conn
            .execute(
                "INSERT INTO lease (id, ttl) VALUES (?1, ?2)",
                params![id, ttl],
            )
            .map_err(&sql)?;
        self.lease_undo.push((id, self.leases.entry(id)));
        self.leases.track(id, ttl);
        Ok(id)
    }

    fn lease_revoke(&mut self, id: LeaseId, published: &mut Vec<Published>) -> Result<()> {
        let path = self.path.clone();
        let sql = sql_err(&path);
        let removed = self
            .conn
            .execute("DELETE FROM lease WHERE id = ?1", [id])
            .map_err(&sql)?;
        if removed == 0 {
            return Err(Error::LeaseNotFound(id));
        }
        let keys = schema::read(&self.index).leased(id);
        if !keys.is_empty() {
            let rev = self.rev + 1;
            for key in &keys {
                if let Some(victim) = schema::current(&self.conn, &self.index, key).map_err(&sql)? {
                    self.delete_row(&victim, rev, published)?;
                }
            }
            self.rev = rev;
        }
        self.lease_undo.push((id, self.leases.entry(id)));
        self.leases.forget(id);
        Ok(())
    }

    fn start_compaction(&mut self, rev: Revision) -> Result<()> {
        if rev > self.rev {
            return Err(Error::FutureRevision {
                requested: rev,
                current: self.rev,
            });
        }
        if rev <= self.compacted {
            return Err(Error::Compacted {
                requested: rev,
                compacted: self.compacted,
            });
        }
        schema::write_meta(&self.conn, "compacted", rev).map_err(sql_err(&self.path))?;
        self.compacted = rev;
        self.compacting = Some(rev);
        Ok(())
    }

    fn compaction_pending(&self) -> bool {
        self.compacting.is_some() || !self.victims.is_empty()
    }

    /// Deletes one chunk of the history below the compaction target. The
    /// first chunk after a compaction started takes the rows from the index
    /// (see [`KeyIndex::compact`]); each chunk is its own transaction, so
    /// that writers never wait long.
    fn compact_chunk(&mut self) {
        if let Some(rev) = self.compacting.take() {
            // Oldest first (ids ascend), so that a crash between chunks never
            // leaves a tombstone deleted while a row it hides remains: the
            // reopened index would bring the key back.
            let victims = schema::write(&self.index).compact(rev);
            self.victims.extend(victims);
        }
        let n = self.victims.len().min(COMPACT_CHUNK);
        let chunk: Vec<i64> = self.victims.drain(..n).collect();
        let deleted = (|| {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut stmt = self.conn.prepare_cached("DELETE FROM kv WHERE id = ?1")?;
            for id in &chunk {
                stmt.execute([id])?;
            }
            drop(stmt);
            self.conn.execute_batch("COMMIT")
        })();
        match deleted {
            Ok(()) if self.victims.is_empty() => tracing::debug!("compaction finished"),
            Ok(()) => {}
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // The rows stay in `kv`, out of the index; the next open
                // rebuilds the index with them and deletes them then.
                tracing::error!(path = %self.path, error = %e, "compaction failed");
                self.victims.clear();
            }
        }
    }
}

/// Whether the WAL at `path` is longer than `limit` bytes (a WAL that cannot
/// be looked at is not).
fn wal_over(path: &std::path::Path, limit: u64) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wal_is_over_the_limit_only_once_longer() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db-wal");
        assert!(!wal_over(&wal, 10), "a missing WAL is not over");
        std::fs::write(&wal, [0u8; 10]).unwrap();
        assert!(!wal_over(&wal, 10));
        std::fs::write(&wal, [0u8; 11]).unwrap();
        assert!(wal_over(&wal, 10));
    }
}
