//! The embedded backend: SQLite (bundled) in WAL mode under a data
//! directory, with `synchronous=FULL` so that an acknowledged write survives
//! a crash. One writer thread group-commits concurrent writes; readers read
//! snapshots beside it; a hub fans committed events out to watches.

mod checkpoint;
mod index;
mod lease;
mod reads;
mod schema;
mod watch;
mod writer;

use crate::error::{Error, Result};
use crate::types::*;
use crate::Store;
use async_trait::async_trait;
use reads::ReadPool;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::oneshot;
use watch::Hub;
use writer::{Request, Writer};

/// The file the store keeps under its data directory.
pub const DB_FILE: &str = "state.db";

/// How often expired leases are looked for.
const LEASE_CHECK: Duration = Duration::from_millis(250);

/// The embedded store. Cheap to share behind an `Arc`; dropping the last
/// handle (or [`SqliteStore::close`]) stops its writer and ends its watches.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: String,
    /// Dropped with the store: stops the checkpoint thread.
    _stop_checkpoints: mpsc::Sender<()>,
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    reads: Arc<ReadPool>,
    hub: Arc<Hub>,
    leases: Arc<lease::Leases>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store under `data_dir`. Must be called
    /// inside a tokio runtime: lease expiry and watches run as tasks.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore> {
        let dir = data_dir.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir))
            .await
            .map_err(|_| Error::Closed)?
    }

    fn open_blocking(data_dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            path: data_dir.display().to_string(),
            source,
        })?;
        let db = data_dir.join(DB_FILE);
        let path = db.display().to_string();
        let Opened {
            writer,
            hub,
            index,
            leases,
            signals,
        } = open_writer(&db, &path)?;
        let (tx, rx) = mpsc::channel();
        let writer_hub = hub.clone();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                writer.run(rx);
                writer_hub.close();
            })
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        let (stop_checkpoints, checkpoint_rx) = mpsc::channel::<()>();
        checkpoint::spawn(db.clone(), checkpoint_rx, signals);
        let inner = Arc::new(Inner {
            path,
            _stop_checkpoints: stop_checkpoints,
            requests: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            reads: ReadPool::new(db, index),
            hub,
            leases,
        });
        tokio::spawn(expire_leases(Arc::downgrade(&inner)));
        Ok(SqliteStore { inner })
    }

    /// Stops the writer after the writes already queued and waits for it,
    /// so that the data directory can be reopened at once.
    pub async fn close(&self) {
        let sender = self.inner.lock_requests().take();
        drop(sender);
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }

    /// The database file's path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }
}

/// What opening the database gives the store: its writer, and what the
/// writer shares with the readers, watches and the checkpoint thread.
struct Opened {
    writer: Writer,
    hub: Arc<Hub>,
    index: Arc<RwLock<index::KeyIndex>>,
    leases: Arc<lease::Leases>,
    signals: Arc<checkpoint::Signals>,
}

/// Opens the database at `db` (its display form `path`) for the writer:
/// makes the schema, loads the key index and the leases.
fn open_writer(db: &Path, path: &str) -> Result<Opened> {
    let sql = schema::sql_err(path);
    let conn = schema::open_connection(db).map_err(&sql)?;
    conn.execute_batch(schema::SCHEMA).map_err(&sql)?;
    // Checkpoints run on their own thread (`checkpoint.rs`), never in a
    // commit, so that writes do not wait for the database file's fsync
    // (but for the rare last copy that lets a long WAL start over).
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(&sql)?;
    let revs = schema::read_revisions(&conn).map_err(&sql)?;
    let index = Arc::new(RwLock::new(schema::load_index(&conn).map_err(&sql)?));
    let leases = Arc::new(lease::Leases::default());
    {
        let mut stmt = conn.prepare("SELECT id, ttl FROM lease").map_err(&sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(&sql)?;
        for row in rows {
            let (id, ttl) = row.map_err(&sql)?;
            leases.track(id, ttl);
        }
    }
    let hub = Arc::new(Hub::new(revs.current, revs.compacted));
    let signals = Arc::new(checkpoint::Signals::default());
    let writer = Writer::new(
        conn,
        path.to_owned(),
        hub.clone(),
        leases.clone(),
        signals.clone(),
        index.clone(),
    )?;
    Ok(Opened {
        writer,
        hub,
        index,
        leases,
        signals,
    })
}

impl Inner {
    fn lock_requests(&self) -> std::sync::MutexGuard<'_, Option<mpsc::Sender<Request>>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a request for the writer and waits for its answer.
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        {
            let guard = self.lock_requests();
            let sender = guard.as_ref().ok_or(Error::Closed)?;
            sender.send(make(tx)).map_err(|_| Error::Closed)?;
        }
        rx.await.map_err(|_| Error::Closed)?
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Let the writer finish what is queued and exit; it closes the hub.
        self.lock_requests().take();
    }
}

/// Revokes leases whose deadline passed, until the store is dropped.
async fn expire_leases(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(LEASE_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        for id in inner.leases.expired() {
            match inner.call(|tx| Request::LeaseRevoke(id, tx)).await {
                Ok(()) | Err(Error::LeaseNotFound(_)) => {}
                Err(Error::Closed) => return,
                Err(e) => tracing::warn!(lease = id, error = %e, "lease expiry failed"),
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        crate::limits::validate_range(&req)?;
        self.inner.reads.range(req).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        crate::limits::validate_txn(&txn)?;
        self.inner.call(|tx| Request::Txn(txn, tx)).await
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        watch::start(self.inner.hub.clone(), self.inner.reads.clone(), req)
    }

    async fn lease_grant(&self, ttl_seconds: i64) -> Result<LeaseId> {
        if ttl_seconds < 1 {
            return Err(Error::InvalidTtl(ttl_seconds));
        }
        self.inner
            .call(|tx| Request::LeaseGrant(ttl_seconds, tx))
            .await
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64> {
        self.inner
            .leases
            .keep_alive(lease)
            .ok_or(Error::LeaseNotFound(lease))
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.inner.call(|tx| Request::LeaseRevoke(lease, tx)).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.call(|tx| Request::Compact(revision, tx)).await
    }

    async fn revisions(&self) -> Result<Revisions> {
        self.inner.reads.revisions().await
    }
}

#[cfg(test)]
mod tests {
    use super::checkpoint::{CHECKPOINT_EVERY, CHECKPOINT_NICE};
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The checkpoint thread's copy yields to the threads serving requests;
    /// the writer keeps its priority.
    #[tokio::test]
    async fn the_checkpoint_thread_runs_niced() {
        let dir = tempfile::tempdir().unwrap();
        let _store = SqliteStore::open(dir.path()).await.unwrap();
        // A thread's name and nice value from its /proc stat: "pid (comm)
        // state ...", the nice value being the 19th field.
        let name_and_nice = |stat: &str| {
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            Some((
                comm.to_owned(),
                rest.split(' ').nth(16)?.parse::<i32>().ok()?,
            ))
        };
        // The nice value of this process's thread named `name` (cut to 15
        // bytes, as the kernel keeps it).
        let nice_of = |name: &str| {
            std::fs::read_dir("/proc/self/task").unwrap().find_map(|t| {
                let stat = std::fs::read_to_string(t.ok()?.path().join("stat")).ok()?;
                name_and_nice(&stat)
                    .filter(|(comm, _)| comm == name)
                    .map(|(_, n)| n)
            })
        };
        let own = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let own_nice = name_and_nice(&own).unwrap().1;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let nice = loop {
            match nice_of("store-checkpoin") {
                Some(n) if n == CHECKPOINT_NICE => break n,
                _ if std::time::Instant::now() > deadline => break i32::MIN,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        assert_eq!(nice, CHECKPOINT_NICE, "the checkpoint thread's nice value");
        assert_eq!(
            nice_of("store-writer"),
            Some(own_nice),
            "the writer's nice value"
        );
    }

    /// The WAL header's checkpoint sequence number, which each restart of
    /// the WAL from its beginning increments.
    fn wal_restarts(wal: &Path) -> u32 {
        let bytes = std::fs::read(wal).unwrap();
        u32::from_be_bytes(bytes[12..16].try_into().unwrap())
    }

    /// With no checkpoint thread to copy it (as when one is starved of CPU),
    /// the writer copies a WAL whose file passed its hard limit itself: the
    /// WAL starts over and its file is cut back.
    #[test]
    fn the_writer_bounds_a_wal_nobody_copies() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE);
        let writer = open_writer(&db, &db.display().to_string()).unwrap().writer;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || writer.run(rx));
        let wal = dir.path().join(format!("{DB_FILE}-wal"));
        let first = wal_restarts(&wal);
        let (mut longest, mut cut_back) = (0, false);
        // About 12 KiB of WAL a write: the 4 MiB test limit is passed
        // after some 350 batches, and looked at every 256.
        for n in 0..2_000 {
            let (reply, answer) = oneshot::channel();
            let txn = Txn {
                compares: Vec::new(),
                success: vec![TxnOp::put(format!("/k/{n}"), vec![7; 3000])],
                failure: Vec::new(),
            };
            tx.send(Request::Txn(txn, reply)).unwrap();
            answer.blocking_recv().unwrap().unwrap();
            let len = std::fs::metadata(&wal).unwrap().len();
            cut_back |= len < longest;
            longest = longest.max(len);
        }
        // Read before the writer's connection closes, which removes the WAL.
        let restarts = wal_restarts(&wal);
        drop(tx);
        thread.join().unwrap();
        assert!(restarts > first, "the WAL never started over");
        assert!(cut_back, "the WAL file was never cut back");
        // Passed, then held to the limit and the batches between two looks.
        let limit = writer::WAL_HARD_LIMIT;
        assert!(
            longest > limit,
            "the test never passed the limit ({longest} bytes)"
        );
        assert!(longest < 2 * limit, "the WAL file reached {longest} bytes");
    }

    /// Under writes that never pause, the WAL still starts over from its
    /// beginning (the test build asks for it above 256 frames), so its file
    /// is reused instead of growing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let wal = dir.path().join(format!("{DB_FILE}-wal"));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..16)
            .map(|w| {
                let (store, stop) = (store.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("/k/{w}/{n}");
                        store.create(&key, vec![7; 3000], None).await.unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let first = wal_restarts(&wal);
        tokio::time::sleep(CHECKPOINT_EVERY * 6).await;
        let last = wal_restarts(&wal);
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        assert!(
            last > first,
            "the WAL started over {} times in {:?} of writes",
            last - first,
            CHECKPOINT_EVERY * 6
        );
    }

    /// Everything the in-memory key index answers survives a reopen, which
    /// rebuilds it from `kv`: current reads, reads at older revisions,
    /// compaction's cut, and the keys attached to a lease.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reopened_store_reads_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let lease = store.lease_grant(60).await.unwrap();
        let a1 = store.create("/k/a", b"a1".to_vec(), None).await.unwrap();
        let early = store
            .create("/k/b", b"b1".to_vec(), Some(lease))
            .await
            .unwrap();
        store.create("/k/c", b"c1".to_vec(), None).await.unwrap();
        let a2 = store
            .update("/k/a", b"a2".to_vec(), a1, None)
            .await
            .unwrap();
        let (_, cut) = store.delete("/k/c", None).await.unwrap();
        store
            .update("/k/a", b"a3".to_vec(), a2, None)
            .await
            .unwrap();
        store.compact(cut).await.unwrap();
        let read = |store: &SqliteStore, rev: Revision| {
            let req = RangeRequest::prefix("/k/").at_revision(rev);
            let store = store.inner.reads.clone();
            async move {
                let resp = store.range(req).await.unwrap();
                resp.kvs
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, String::from_utf8_lossy(&kv.value)))
                    .collect::<Vec<_>>()
            }
        };
        let now = store.revisions().await.unwrap().current;
        let before = (read(&store, cut).await, read(&store, now).await);
        assert_eq!(before.0, vec!["/k/a=a2", "/k/b=b1"]);
        assert_eq!(before.1, vec!["/k/a=a3", "/k/b=b1"]);
        store.close().await;
        drop(store);

        let store = SqliteStore::open(dir.path()).await.unwrap();
        assert_eq!((read(&store, cut).await, read(&store, now).await), before);
        let below = store
            .range(RangeRequest::prefix("/k/").at_revision(early))
            .await;
        assert!(matches!(below, Err(Error::Compacted { .. })), "{below:?}");
        store.lease_revoke(lease).await.unwrap();
        assert_eq!(read(&store, 0).await, vec!["/k/a=a3"]);
    }

    /// A request that fails after one of its writes leaves nothing behind,
    /// in `kv` or in the index.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_request_leaves_no_key_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let txn = Txn {
            compares: Vec::new(),
            success: vec![
                TxnOp::put("/k/a", b"a".to_vec()),
                TxnOp::put_with_lease("/k/b", b"b".to_vec(), Some(999)),
            ],
            failure: Vec::new(),
        };
        assert!(matches!(
            store.txn(txn).await,
            Err(Error::LeaseNotFound(999))
        ));
        let (kv, _) = store.get("/k/a").await.unwrap();
        assert!(kv.is_none(), "{kv:?}");
        store.create("/k/a", b"a".to_vec(), None).await.unwrap();
        let (kv, _) = store.get("/k/a").await.unwrap();
        assert_eq!(kv.map(|kv| kv.version), Some(1));
    }
}
