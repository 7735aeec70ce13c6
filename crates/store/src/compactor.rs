//! Periodic compaction, as kube-apiserver does it: at each tick, compact
//! history up to the revision observed at the previous tick, so that every
//! change stays watchable for at least one interval.

use crate::error::Error;
use crate::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Compacts a store every `interval` until the returned task is aborted.
pub struct Compactor;

impl Compactor {
    /// Spawns the compaction loop on the current tokio runtime.
    pub fn spawn(store: Arc<dyn Store>, interval: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            let mut seen = None;
            loop {
                tick.tick().await;
                match Self::once(store.as_ref(), seen).await {
                    Ok(next) => seen = Some(next),
                    Err(Error::Closed) => return,
                    Err(e) => tracing::warn!(error = %e, "compaction failed"),
                }
            }
        })
    }

    /// One step: compacts to `previous` (if any and not yet compacted) and
    /// returns the current revision, the target of the next step.
    pub async fn once(store: &dyn Store, previous: Option<i64>) -> crate::Result<i64> {
        let revs = store.revisions().await?;
        if let Some(target) = previous {
            if target > revs.compacted {
                match store.compact(target).await {
                    Ok(()) | Err(Error::Compacted { .. }) => {}
                    Err(e) => return Err(e),
                }
                tracing::debug!(revision = target, "compacted");
            }
        }
        Ok(revs.current)
    }
}
