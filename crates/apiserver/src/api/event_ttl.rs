//! Events expire, as kube-apiserver's `--event-ttl` makes them (default one
//! hour): each write of an Event (core/v1 or events.k8s.io/v1, one storage)
//! attaches it to a store lease, and the store deletes it when the lease
//! runs out, with a DELETED event to watchers.
//!
//! As kube-apiserver's lease manager does, writes share a lease: one is
//! granted for the TTL plus a reuse window (5% of the TTL, at most a
//! minute) and taken by every event written while it still has the full
//! TTL ahead of it, up to 1000 of them (so that no expiry deletes more at
//! once). An event thus lives between the TTL and the TTL plus the window
//! after its last write, and a busy cluster grants a lease a minute rather
//! than one per event. A TTL of zero, as in kube-apiserver, keeps events
//! for good.

use std::time::{Duration, Instant};

use cuttle_store::{LeaseId, Store};

/// kube-apiserver's `--event-ttl` default.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);
/// Share of the TTL a lease is reused for...
const REUSE_SHARE: f64 = 0.05;
/// ...and the longest reuse window.
const MAX_REUSE: Duration = Duration::from_secs(60);
/// Objects attached to one lease at most.
const MAX_OBJECTS: u32 = 1000;
/// The longest TTL taken (some 30 years): past it a deadline would overflow.
const MAX_TTL: Duration = Duration::from_secs(1 << 30);

/// The lease being reused.
#[derive(Debug, Clone, Copy)]
struct Current {
    id: LeaseId,
    ends: Instant,
    objects: u32,
}

/// The lease Event writes take.
#[derive(Debug)]
pub struct EventLeases {
    /// Whole seconds; zero keeps events for good.
    ttl: Duration,
    current: tokio::sync::Mutex<Option<Current>>,
}

impl EventLeases {
    /// Leases for events that live `ttl` (whole seconds; zero: no lease).
    pub fn new(ttl: Duration) -> EventLeases {
        EventLeases {
            ttl: Duration::from_secs(ttl.min(MAX_TTL).as_secs()),
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// How long a lease is reused for.
    fn reuse(&self) -> Duration {
        self.ttl.mul_f64(REUSE_SHARE).min(MAX_REUSE)
    }

    /// A lease with at least the TTL left for one more object: the current
    /// one, or a new one. `None` when events do not expire.
    pub async fn lease(&self, store: &dyn Store) -> Result<Option<LeaseId>, cuttle_store::Error> {
        if self.ttl.is_zero() {
            return Ok(None);
        }
        let now = Instant::now();
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_mut() {
            if now + self.ttl < c.ends && c.objects < MAX_OBJECTS {
                c.objects += 1;
                return Ok(Some(c.id));
            }
        }
        // Whole seconds, rounded down as kube-apiserver's are.
        let secs = (self.ttl + self.reuse()).as_secs();
        let id = store
            .lease_grant(i64::try_from(secs).unwrap_or(i64::MAX))
            .await?;
        *current = Some(Current {
            id,
            ends: now + Duration::from_secs(secs),
            objects: 1,
        });
        Ok(Some(id))
    }

    /// Stops reusing `id`, which the store no longer has (revoked by hand
    /// on an etcd backend, or lost with a restored snapshot).
    pub async fn forget(&self, id: LeaseId) {
        let mut current = self.current.lock().await;
        if current.is_some_and(|c| c.id == id) {
            *current = None;
        }
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
        assert_eq!(
            EventLeases::new(Duration::from_millis(1500)).ttl,
            Duration::from_secs(1),
            "whole seconds"
        );
        assert_eq!(EventLeases::new(Duration::MAX).ttl, MAX_TTL);
    }

    #[tokio::test]
    async fn a_zero_ttl_keeps_events_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let store = cuttle_store::SqliteStore::open(dir.path()).await.unwrap();
        let leases = EventLeases::new(Duration::ZERO);
        assert_eq!(leases.lease(&store).await.unwrap(), None);
    }

    #[tokio::test]
    async fn writes_share_a_lease_while_it_has_the_ttl_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let store = cuttle_store::SqliteStore::open(dir.path()).await.unwrap();
        let leases = EventLeases::new(Duration::from_secs(600));
        let a = leases.lease(&store).await.unwrap().unwrap();
        let b = leases.lease(&store).await.unwrap().unwrap();
        assert_eq!(a, b, "reused within the window");
        // The window is over once less than the TTL is left.
        leases.current.lock().await.as_mut().unwrap().ends =
            Instant::now() + Duration::from_secs(599);
        let c = leases.lease(&store).await.unwrap().unwrap();
        assert_ne!(a, c, "a new lease once the old one has less than the TTL");
        // A lease takes MAX_OBJECTS objects at most.
        for _ in 1..MAX_OBJECTS {
            assert_eq!(leases.lease(&store).await.unwrap(), Some(c));
        }
        let d = leases.lease(&store).await.unwrap().unwrap();
        assert_ne!(c, d, "a new lease after {MAX_OBJECTS} objects");
        // A lease the store lost is not taken again.
        leases.forget(d).await;
        assert_ne!(leases.lease(&store).await.unwrap(), Some(d));
    }
}
