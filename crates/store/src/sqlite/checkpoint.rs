//! The checkpoint thread: copies the WAL back into the database file in
//! the background, paced so that it keeps out of the way of writes.

use super::schema;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How often the checkpoint thread looks at the WAL.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL frames (pages) above which the writer is asked to copy the rest
/// itself, so that its next commit starts the WAL over: 1 GiB of WAL. That
/// copy holds writes up for a few milliseconds (measured 3-14 ms under
/// create load), so it is kept rare: under a steady 10k creates/s about
/// once every 10-20 seconds.
#[cfg(not(test))]
const RESTART_WAL_FRAMES: i64 = 262_144;
#[cfg(test)]
const RESTART_WAL_FRAMES: i64 = 256;
/// Copies the checkpoint thread makes of the WAL's tail before it asks the
/// writer for the last one.
const CATCH_UP_PASSES: usize = 3;
/// The checkpoint thread's nice value. Its copy takes a core for 40-60 ms
/// every half second under create load (a read and a write per page), and
/// at the same priority as the request threads it made them late in bursts:
/// nearly all creates slower than 10 ms (64 clients) came in the 50 ms after
/// a checkpoint. Niced, it copies in their gaps (alternated, 64 clients:
/// p99 7.9-8.8 ms against 9.4-9.9 ms, creates over 10 ms 167-322 against
/// 427-714 of about 70k).
pub(crate) const CHECKPOINT_NICE: i32 = 19;
/// Batches the writer commits in one [`CHECKPOINT_EVERY`] above which
/// writes count as busy (200 commits a second; a quiet cluster's leases,
/// events and status updates stay well below).
const BUSY_BATCHES: u64 = 100;
/// Looks in a row a copy waits at most for busy writes to calm down: 10 s
/// of WAL, some 600 MB under the heaviest create load measured. None in
/// test builds, whose tests of the WAL's restarts keep writes busy.
#[cfg(not(test))]
const MAX_DEFERRED: u32 = 20;
#[cfg(test)]
const MAX_DEFERRED: u32 = 0;

/// What the writer and the checkpoint thread tell each other.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// Set by the checkpoint thread when the WAL is long: the writer then
    /// copies the last frames between two batches.
    pub(crate) wal_long: AtomicBool,
    /// Batches the writer committed, ever.
    pub(crate) batches: AtomicU64,
}

/// Decides at each look whether the copy runs now. Even niced, a copy
/// during a burst of writes made the creates around it slow: its page
/// writes to the database file were flushed along with the WAL's fsyncs.
/// So while writes are busy the copy waits, up to `max_deferred` looks, and
/// runs when they calm down. Alternated, 64 clients creating pods: p99
/// 8.9-11.9 ms against 12.2-12.6 ms in three runs of three against the
/// build before, and 6.7-12.9 ms against 9.4-14.7 ms in six of six with
/// the same rule behind a switch.
#[derive(Debug)]
struct Pacer {
    /// The writer's batch count at the last look.
    seen: u64,
    /// Looks in a row the copy waited.
    deferred: u32,
    /// Looks in a row the copy may wait.
    max_deferred: u32,
}

impl Pacer {
    fn new(max_deferred: u32) -> Pacer {
        Pacer {
            seen: 0,
            deferred: 0,
            max_deferred,
        }
    }

    /// Whether to copy now, given the writer's batch count.
    fn due(&mut self, batches: u64) -> bool {
        let busy = batches.wrapping_sub(self.seen) > BUSY_BATCHES;
        self.seen = batches;
        if busy && self.deferred < self.max_deferred {
            self.deferred += 1;
            return false;
        }
        self.deferred = 0;
        true
    }
}

/// Copies the WAL into the database file in the background (PASSIVE: it
/// never blocks the writer's commits or readers; a copy the writer tries
/// meanwhile gives up) until `stop`'s sender is dropped.
///
/// Under a steady stream of writes this copy never catches up with the
/// writer, and SQLite starts a WAL over only once all of it is copied: the
/// WAL grew without end (1 GB after 90k pod creates), and each commit
/// extended the file. So once the WAL is long, this thread sets `wal_long`
/// and the writer, between two batches, copies the few frames written
/// since (see `Writer::finish_checkpoint`).
pub(crate) fn spawn(db: std::path::PathBuf, stop: mpsc::Receiver<()>, signals: Arc<Signals>) {
    let spawned = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            // On Linux a nice value is the calling thread's own.
            if let Err(e) = rustix::process::setpriority_process(None, CHECKPOINT_NICE) {
                tracing::debug!(error = %e, "the checkpoint thread keeps its priority");
            }
            let conn = match schema::open_connection(&db) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint connection failed; the WAL will only grow until restart");
                    return;
                }
            };
            let mut pacer = Pacer::new(MAX_DEFERRED);
            while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
                if !pacer.due(signals.batches.load(Ordering::Relaxed)) {
                    continue;
                }
                match schema::checkpoint(&conn) {
                    Ok(frames) if frames > RESTART_WAL_FRAMES => {
                        // Each pass copies what was written during the one
                        // before, a shrinking tail: the writer's own pass
                        // then holds writes up for little.
                        for _ in 0..CATCH_UP_PASSES {
                            if let Err(e) = schema::checkpoint(&conn) {
                                tracing::debug!(error = %e, "checkpoint skipped");
                                break;
                            }
                        }
                        signals.wal_long.store(true, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "checkpoint skipped"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the checkpoint thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_waits_for_busy_writes_but_not_for_long() {
        let max = 3;
        let mut pacer = Pacer::new(max);
        assert!(pacer.due(10), "quiet writes: the copy runs");
        let mut batches = 10 + BUSY_BATCHES;
        assert!(pacer.due(batches), "as many as the limit is still quiet");
        for look in 0..max {
            batches += BUSY_BATCHES + 1;
            assert!(
                !pacer.due(batches),
                "busy writes, look {look}: the copy waits"
            );
        }
        batches += BUSY_BATCHES + 1;
        assert!(pacer.due(batches), "the copy waited its longest: it runs");
        batches += BUSY_BATCHES + 1;
        assert!(!pacer.due(batches), "and waits again");
        assert!(pacer.due(batches), "writes calmed down: the copy runs");
        // A quiet look in the middle of a wait starts the count over.
        batches += BUSY_BATCHES + 1;
        assert!(!pacer.due(batches));
        assert!(pacer.due(batches));
        for _ in 0..max {
            batches += BUSY_BATCHES + 1;
            assert!(
                !pacer.due(batches),
                "a full wait again after the quiet look"
            );
        }
    }

    #[test]
    fn with_no_wait_allowed_the_copy_always_runs() {
        let mut pacer = Pacer::new(0);
        assert!(pacer.due(BUSY_BATCHES * 10));
        assert!(pacer.due(BUSY_BATCHES * 20));
    }
}
