//! Events expire, as kube-apiserver's `--event-ttl` makes them (default one
//! hour): each write of an Event (core/v1 or events.k8s.io/v1, one storage)
//! attaches it to a store lease, and the store deletes it when the lease
//! runs out, with a DELETED event to watchers.
//!
//! As kube-apiserver's lease manager does, writes share a lease: one is
//! granted for the TTL plus a reuse window (5% of the TTL, at most a
//! minute) and taken by every event written while it still has the full
//! TTL ahead of it. An event thus lives between the TTL and the TTL plus
//! the window after its last write, and a busy cluster grants a lease a
//! minute rather than one per event.

use std::time::{Duration, Instant};

use cuttle_store::{LeaseId, Store};

/// kube-apiserver's `--event-ttl` default.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);
/// Share of the TTL a lease is reused for...
const REUSE_SHARE: f64 = 0.05;
/// ...and the longest reuse window.
const MAX_REUSE: Duration = Duration::from_secs(60);

/// The lease Event writes take.
#[derive(Debug)]
pub struct EventLeases {
    ttl: Duration,
    /// The lease being reused and when it runs out.
    current: tokio::sync::Mutex<Option<(LeaseId, Instant)>>,
}

impl EventLeases {
    /// Leases for events that live `ttl` (whole seconds, at least one).
    pub fn new(ttl: Duration) -> EventLeases {
        EventLeases {
            ttl: Duration::from_secs(ttl.as_secs().max(1)),
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// How long a lease is reused for.
    fn reuse(&self) -> Duration {
        self.ttl.mul_f64(REUSE_SHARE).min(MAX_REUSE)
    }

    /// A lease with at least the TTL left: the current one, or a new one.
    pub async fn lease(&self, store: &dyn Store) -> Result<LeaseId, cuttle_store::Error> {
        let now = Instant::now();
        let mut current = self.current.lock().await;
        if let Some((id, ends)) = *current {
            if now + self.ttl < ends {
                return Ok(id);
            }
        }
        // Whole seconds, rounded down as kube-apiserver's are.
        let secs = (self.ttl + self.reuse()).as_secs();
        let id = store
            .lease_grant(i64::try_from(secs).unwrap_or(i64::MAX))
            .await?;
        *current = Some((id, now + Duration::from_secs(secs)));
        Ok(id)
    }
}

/// Whether writes to `resource` take an event lease.
pub fn expires(resource: &crate::resources::Resource) -> bool {
    resource.plural == "events" && matches!(resource.group, "" | "events.k8s.io")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reuse_window_is_five_percent_of_the_ttl_up_to_a_minute() {
        assert_eq!(
            EventLeases::new(DEFAULT_EVENT_TTL).reuse(),
            Duration::from_secs(60)
        );
        assert_eq!(
            EventLeases::new(Duration::from_secs(600)).reuse(),
            Duration::from_secs(30)
        );
        assert_eq!(
            EventLeases::new(Duration::from_secs(2)).reuse(),
            Duration::from_millis(100)
        );
        assert_eq!(EventLeases::new(Duration::ZERO).ttl, Duration::from_secs(1));
    }

    #[tokio::test]
    async fn writes_share_a_lease_while_it_has_the_ttl_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let store = cuttle_store::SqliteStore::open(dir.path()).await.unwrap();
        let leases = EventLeases::new(Duration::from_secs(600));
        let a = leases.lease(&store).await.unwrap();
        let b = leases.lease(&store).await.unwrap();
        assert_eq!(a, b, "reused within the window");
        // The window is over once less than the TTL is left.
        let ends = Instant::now() + Duration::from_secs(599);
        *leases.current.lock().await = Some((a, ends));
        let c = leases.lease(&store).await.unwrap();
        assert_ne!(a, c, "a new lease once the old one has less than the TTL");
    }
}
