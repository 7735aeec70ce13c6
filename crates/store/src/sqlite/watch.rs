//! Watches of the SQLite store.
//!
//! The writer publishes each committed batch to the [`Hub`], which hands the
//! events to every registered watcher's bounded queue. A watch first catches
//! up from the history table (from its start revision to the revision the hub
//! had published when it registered) and then follows the live queue. A
//! watcher too slow to keep its queue from filling is dropped by the hub
//! instead of stalling the writer; it then catches up from the table again,
//! from the last event it delivered. Every event is thus delivered exactly
//! once and in commit order, however slow the consumer.

use super::reads::ReadPool;
use crate::error::{Error, Result};
use crate::types::{Event, Revision, WatchRequest, WatchStream};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Live events a watcher may have queued before it counts as lagging.
const LIVE_QUEUE: usize = 4096;
/// Events read from history per query while catching up.
const CATCH_UP_PAGE: usize = 1024;
/// Events the consumer may not yet have taken from the stream.
const OUT_QUEUE: usize = 256;

/// One committed change as the writer publishes it.
pub(crate) struct Published {
    /// Its row in the history table: the watch's position.
    pub id: i64,
    pub event: Event,
}

struct Live {
    req: WatchRequest,
    tx: mpsc::Sender<Arc<Published>>,
}

#[derive(Default)]
struct HubState {
    published_rev: Revision,
    compacted: Revision,
    next_id: u64,
    watchers: HashMap<u64, Live>,
    closed: bool,
}

/// Fans committed events out to the live watchers.
pub(crate) struct Hub {
    state: Mutex<HubState>,
}

impl Hub {
    pub(crate) fn new(current: Revision, compacted: Revision) -> Hub {
        Hub {
            state: Mutex::new(HubState {
                published_rev: current,
                compacted,
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        // A panic while holding the lock cannot leave the map half-changed
        // in a way that matters: keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a committed batch to the watchers; `rev` is the revision after it.
    pub(crate) fn publish(&self, rev: Revision, events: Vec<Published>) {
        let mut state = self.lock();
        state.published_rev = rev;
        if events.is_empty() || state.watchers.is_empty() {
            return;
        }
        let events: Vec<Arc<Published>> = events.into_iter().map(Arc::new).collect();
        state.watchers.retain(|_, w| {
            for e in &events {
                if w.req.matches(&e.event.kv.key) && w.tx.try_send(e.clone()).is_err() {
                    // Full (lagging) or closed (gone): either way, drop it.
                    return false;
                }
            }
            true
        });
    }

    pub(crate) fn set_compacted(&self, rev: Revision) {
        self.lock().compacted = rev;
    }

    /// Ends every watch: the store is closing.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.watchers.clear();
    }

    pub(crate) fn revisions(&self) -> (Revision, Revision) {
        let s = self.lock();
        (s.published_rev, s.compacted)
    }

    /// Registers a live queue; returns it with the revision already
    /// published (everything after it arrives on the queue).
    fn register(&self, req: &WatchRequest) -> Option<(mpsc::Receiver<Arc<Published>>, Revision)> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let (tx, rx) = mpsc::channel(LIVE_QUEUE);
        let id = state.next_id;
        state.next_id += 1;
        state.watchers.insert(
            id,
            Live {
                req: req.clone(),
                tx,
            },
        );
        Some((rx, state.published_rev))
    }
}

/// Starts a watch; fails at once if its start is already compacted.
pub(crate) fn start(hub: Arc<Hub>, reads: Arc<ReadPool>, req: WatchRequest) -> Result<WatchStream> {
    crate::limits::validate_key(&req.key)?;
    if req.start_revision < 0 {
        return Err(Error::InvalidRequest(format!(
            "start revision {} must not be negative",
            req.start_revision
        )));
    }
    let (published, compacted) = hub.revisions();
    let start = if req.start_revision == 0 {
        published + 1
    } else {
        req.start_revision
    };
    if start < compacted {
        return Err(Error::Compacted {
            requested: start,
            compacted,
        });
    }
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    tokio::spawn(
        Follower {
            hub,
            reads,
            req,
            out: tx,
            next_rev: start,
            last_id: 0,
        }
        .run(),
    );
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}

/// One watch's task: catches up from history, then follows the hub.
struct Follower {
    hub: Arc<Hub>,
    reads: Arc<ReadPool>,
    req: WatchRequest,
    out: mpsc::Sender<Result<Event>>,
    /// No event below this revision is delivered.
    next_rev: Revision,
    /// Row id of the last delivered event (events at one revision share it).
    last_id: i64,
}

impl Follower {
    async fn run(mut self) {
        loop {
            let Some((mut live, upto)) = self.hub.register(&self.req) else {
                return;
            };
            match self.catch_up(upto).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    let _ = self.out.send(Err(e)).await;
                    return;
                }
            }
            while let Some(p) = live.recv().await {
                if !self.deliver(&p).await {
                    return;
                }
            }
            // The hub dropped us: we lagged (catch up again) or it closed.
            if self.hub.lock().closed {
                return;
            }
        }
    }

    /// Sends one event unless it was already sent; false once the consumer
    /// is gone.
    async fn deliver(&mut self, p: &Published) -> bool {
        let rev = p.event.kv.mod_revision;
        if p.id <= self.last_id || rev < self.next_rev {
            return true;
        }
        self.last_id = p.id;
        self.next_rev = rev;
        self.out.send(Ok(p.event.clone())).await.is_ok()
    }

    /// Delivers history up to `upto`; false once the consumer is gone.
    async fn catch_up(&mut self, upto: Revision) -> Result<bool> {
        while self.next_rev <= upto {
            let page = self
                .reads
                .events(&self.req, self.last_id, self.next_rev, upto, CATCH_UP_PAGE)
                .await?;
            let full = page.len() == CATCH_UP_PAGE;
            for p in &page {
                if !self.deliver(p).await {
                    return Ok(false);
                }
            }
            if !full {
                break;
            }
        }
        Ok(true)
    }
}
