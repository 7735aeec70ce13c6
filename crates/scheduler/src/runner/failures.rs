//! Borg's "do not repeat a failing task@machine pairing", fed from the
//! API: which pods of which owner failed on which node lately.
//!
//! A pod counts as a failure of its controlling owner on its node when it
//! turns `Failed`, and once for every container restart, after the
//! scheduler first saw it: what a pod shows at first sight (on a restart
//! of the scheduler, a failover, an evicted pod kept around) is history,
//! not a recent failure.
//! The RecentFailurePenalty score reads the counts; they are forgotten
//! every [`FAILURE_MEMORY`], so "recent" means the last few minutes.

use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long recorded failures count.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(600);

/// What was last seen of an assigned pod with an owner.
#[derive(Debug, Clone, Copy)]
struct Seen {
    failed: bool,
    restarts: i64,
}

/// Turns pod updates into (owner uid, node, failures) records.
#[derive(Debug)]
pub struct FailureTracker {
    seen: HashMap<String, Seen>,
    since: Instant,
}

impl FailureTracker {
    /// An empty tracker whose memory starts now.
    pub fn new(now: Instant) -> Self {
        FailureTracker {
            seen: HashMap::new(),
            since: now,
        }
    }

    /// Looks at an assigned pod; returns its owner's uid, its node and
    /// how many new failures it shows there.
    pub fn observe(&mut self, key: &str, pod: &Pod) -> Option<(String, String, u32)> {
        let owner = pod
            .metadata
            .owner_references
            .as_ref()?
            .iter()
            .find(|o| o.controller == Some(true))?
            .uid
            .clone();
        let node = pod
            .spec
            .as_ref()?
            .node_name
            .clone()
            .filter(|n| !n.is_empty())?;
        let status = pod.status.as_ref();
        let now = Seen {
            failed: status.and_then(|s| s.phase.as_deref()) == Some("Failed"),
            restarts: status
                .and_then(|s| s.container_statuses.as_ref())
                .map_or(0, |cs| cs.iter().map(|c| i64::from(c.restart_count)).sum()),
        };
        // Every update of every owned, placed pod comes here: the key is
        // copied only the first time.
        let Some(seen) = self.seen.get_mut(key) else {
            self.seen.insert(key.to_owned(), now);
            return None;
        };
        let before = std::mem::replace(seen, now);
        let restarts = now.restarts.saturating_sub(before.restarts).max(0);
        let new = u32::try_from(restarts)
            .unwrap_or(u32::MAX)
            .saturating_add(u32::from(now.failed && !before.failed));
        (new > 0).then_some((owner, node, new))
    }

    /// The pod is gone.
    pub fn forget(&mut self, key: &str) {
        self.seen.remove(key);
    }

    /// Whether the recorded failures are no longer recent (then the memory
    /// starts again from `now`).
    pub fn expired(&mut self, now: Instant) -> bool {
        if now.duration_since(self.since) < FAILURE_MEMORY {
            return false;
        }
        self.since = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(phase: &str, restarts: i32) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1", "controller": true}
            ]},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": restarts}
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn failures_are_counted_once_and_restarts_from_the_first_sight() {
        let mut t = FailureTracker::new(Instant::now());
        assert_eq!(t.observe("d/p", &pod("Running", 7)), None);
        assert_eq!(
            t.observe("d/p", &pod("Running", 9)),
            Some(("rs-1".into(), "n1".into(), 2))
        );
        assert_eq!(
            t.observe("d/p", &pod("Failed", 9)),
            Some(("rs-1".into(), "n1".into(), 1))
        );
        assert_eq!(t.observe("d/p", &pod("Failed", 9)), None);
        t.forget("d/p");
        // A pod already failed when first seen is history.
        assert_eq!(t.observe("d/p", &pod("Failed", 0)), None);
    }

    #[test]
    fn pods_without_a_controller_or_a_node_are_ignored() {
        let mut t = FailureTracker::new(Instant::now());
        let mut orphan = pod("Running", 0);
        orphan.metadata.owner_references = None;
        t.observe("d/o", &orphan);
        orphan.status.as_mut().unwrap().phase = Some("Failed".into());
        assert_eq!(t.observe("d/o", &orphan), None);
        let mut unplaced = pod("Running", 0);
        unplaced.spec.as_mut().unwrap().node_name = None;
        t.observe("d/u", &unplaced);
        unplaced.status.as_mut().unwrap().phase = Some("Failed".into());
        assert_eq!(t.observe("d/u", &unplaced), None);
    }

    #[test]
    fn the_memory_expires() {
        let start = Instant::now();
        let mut t = FailureTracker::new(start);
        assert!(!t.expired(start + Duration::from_secs(1)));
        assert!(t.expired(start + FAILURE_MEMORY));
        assert!(!t.expired(start + FAILURE_MEMORY + Duration::from_secs(1)));
    }
}
