//! Lease deadlines of the SQLite store. The lease table holds which leases
//! exist and their TTLs; the deadlines live in memory, as in etcd: after a
//! restart every lease gets its full TTL again.

use crate::types::LeaseId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct Leases {
    deadlines: Mutex<HashMap<LeaseId, (i64, Instant)>>,
}

impl Leases {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LeaseId, (i64, Instant)>> {
        self.deadlines.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts (or restarts) a lease's countdown.
    pub(crate) fn track(&self, id: LeaseId, ttl: i64) {
        let deadline = Instant::now() + Duration::from_secs(ttl.max(1) as u64);
        self.lock().insert(id, (ttl, deadline));
    }

    /// A lease's TTL and deadline, to put back with [`Leases::restore`].
    pub(crate) fn entry(&self, id: LeaseId) -> Option<(i64, Instant)> {
        self.lock().get(&id).copied()
    }

    /// Puts a lease back as [`Leases::entry`] found it (absent: forgotten).
    pub(crate) fn restore(&self, id: LeaseId, entry: Option<(i64, Instant)>) {
        let mut map = self.lock();
        match entry {
            Some(e) => map.insert(id, e),
            None => map.remove(&id),
        };
    }

    /// Whether a lease is granted and not revoked (expired or not).
    pub(crate) fn exists(&self, id: LeaseId) -> bool {
        self.lock().contains_key(&id)
    }

    pub(crate) fn forget(&self, id: LeaseId) {
        self.lock().remove(&id);
    }

    /// Renews a lease that has not expired; returns its TTL.
    pub(crate) fn keep_alive(&self, id: LeaseId) -> Option<i64> {
        let mut map = self.lock();
        let now = Instant::now();
        let (ttl, deadline) = map.get_mut(&id)?;
        if *deadline <= now {
            return None;
        }
        *deadline = now + Duration::from_secs(*ttl as u64);
        Some(*ttl)
    }

    /// Leases whose deadline has passed.
    pub(crate) fn expired(&self) -> Vec<LeaseId> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_batch_puts_the_deadlines_back() {
        let leases = Leases::default();
        leases.track(1, 60);
        // The batch revokes 1 and grants 2, then its commit fails.
        let undo = [(1, leases.entry(1)), (2, leases.entry(2))];
        leases.forget(1);
        leases.track(2, 30);
        assert!(!leases.exists(1) && leases.exists(2));
        for (id, before) in undo.into_iter().rev() {
            leases.restore(id, before);
        }
        assert!(leases.exists(1), "the revoked lease is back");
        assert!(!leases.exists(2), "the granted lease is gone");
        assert_eq!(leases.keep_alive(1), Some(60));
    }
}
