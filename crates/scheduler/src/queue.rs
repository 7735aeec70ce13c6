//! The scheduling queue, as kube-scheduler's `PriorityQueue`.
//!
//! Three places a pending pod can be: `active` (popped by priority, then by
//! the time it was queued), `backoff` (failed recently; waits
//! `initial * 2^(attempts-1)`, at most `max`: 1s and 10s by default), and
//! `unschedulable` (no node fits; waits for a cluster event that one of the
//! plugins that rejected it cares about, or 5 minutes at most). Pods with
//! scheduling gates wait in `gated` (the SchedulingGates plugin). Time is
//! passed in by the caller, so tests and benchmarks control it.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::framework::ClusterEvent;
use crate::pod_info::PodInfo;

/// Longest a pod stays unschedulable without an event before it is retried.
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(5 * 60);

/// A pod waiting in the queue.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// When it entered its current place in the queue.
    pub timestamp: Instant,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// Plugins that rejected it in its last attempt.
    pub unschedulable_plugins: BTreeSet<&'static str>,
    /// The scheduling cycle in which it was last popped.
    pub cycle: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

/// An `active` heap entry: priority, then earlier queue time, then arrival order.
type ActiveEntry = (i32, Reverse<Instant>, Reverse<u64>, u64, String);
/// A `backoff` heap entry: earliest expiry first.
type BackoffEntry = (Reverse<Instant>, Reverse<u64>, u64, String);

#[derive(Debug)]
struct Slot {
    qp: QueuedPod,
    place: Place,
    version: u64,
}

/// The queue.
#[derive(Debug)]
pub struct SchedulingQueue {
    pods: HashMap<String, Slot>,
    /// Keys of the pods in `unschedulable` (events scan only these).
    unschedulable: HashSet<String>,
    active: BinaryHeap<ActiveEntry>,
    backoff: BinaryHeap<BackoffEntry>,
    seq: u64,
    version: u64,
    cycle: u64,
    move_request_cycle: u64,
    initial_backoff: Duration,
    max_backoff: Duration,
    interests: HashMap<&'static str, &'static [ClusterEvent]>,
}

impl SchedulingQueue {
    /// A queue with kube-scheduler's default backoff (1s initial, 10s max). `interests`
    /// maps each plugin to the events that may undo its rejections
    /// ([`crate::Scheduler::event_interests`]).
    pub fn new(interests: HashMap<&'static str, &'static [ClusterEvent]>) -> Self {
        Self::with_backoff(interests, Duration::from_secs(1), Duration::from_secs(10))
    }

    /// A queue with the backoff bounds of a configuration (`podInitialBackoffSeconds`,
    /// `podMaxBackoffSeconds`).
    pub fn from_config(
        cfg: &crate::config::KubeSchedulerConfiguration,
        interests: HashMap<&'static str, &'static [ClusterEvent]>,
    ) -> Self {
        let secs = |s: i64| Duration::from_secs(s.max(0) as u64);
        Self::with_backoff(
            interests,
            secs(cfg.initial_backoff_seconds()),
            secs(cfg.max_backoff_seconds()),
        )
    }

    /// A queue with the given backoff bounds (each capped at one day, so deadlines never
    /// overflow).
    pub fn with_backoff(
        interests: HashMap<&'static str, &'static [ClusterEvent]>,
        initial: Duration,
        max: Duration,
    ) -> Self {
        let day = Duration::from_secs(24 * 3600);
        let (initial, max) = (initial.min(day), max.min(day));
        SchedulingQueue {
            pods: HashMap::new(),
            unschedulable: HashSet::new(),
            active: BinaryHeap::new(),
            backoff: BinaryHeap::new(),
            seq: 0,
            version: 0,
            cycle: 0,
            move_request_cycle: 0,
            initial_backoff: initial,
            max_backoff: max.max(initial),
            interests,
        }
    }

    /// The backoff after `attempts` failed attempts.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << shift)
            .min(self.max_backoff)
    }

    fn place(&mut self, key: String, mut qp: QueuedPod, place: Place, now: Instant) {
        self.version += 1;
        self.seq += 1;
        qp.timestamp = now;
        match place {
            Place::Active => self.active.push((
                qp.info.priority,
                Reverse(now),
                Reverse(self.seq),
                self.version,
                key.clone(),
            )),
            Place::Backoff => {
                let expiry = now + self.backoff_duration(qp.attempts);
                self.backoff.push((
                    Reverse(expiry),
                    Reverse(self.seq),
                    self.version,
                    key.clone(),
                ));
            }
            Place::Unschedulable => {
                self.unschedulable.insert(key.clone());
            }
            _ => {}
        }
        if place != Place::Unschedulable {
            self.unschedulable.remove(&key);
        }
        self.pods.insert(
            key,
            Slot {
                qp,
                place,
                version: self.version,
            },
        );
    }

    /// Adds a new pending pod (to `gated` if it has scheduling gates, else `active`).
    pub fn add(&mut self, pod: Arc<PodInfo>, now: Instant) {
        let key = pod.key.clone();
        let place = if pod.gated {
            Place::Gated
        } else {
            Place::Active
        };
        let qp = QueuedPod {
            info: pod,
            timestamp: now,
            attempts: 0,
            unschedulable_plugins: BTreeSet::new(),
            cycle: 0,
        };
        self.place(key, qp, place, now);
    }

    /// Replaces a queued pod's object. A gated pod whose gates are gone, or an
    /// unschedulable pod whose spec changed, becomes active (or backs off).
    pub fn update(&mut self, pod: Arc<PodInfo>, now: Instant) {
        let Some(slot) = self.pods.remove(&pod.key) else {
            return self.add(pod, now);
        };
        let mut qp = slot.qp;
        qp.info = pod;
        let key = qp.info.key.clone();
        let place = match slot.place {
            Place::Gated if qp.info.gated => Place::Gated,
            Place::Gated => Place::Active,
            Place::Unschedulable | Place::Backoff => self.active_or_backoff(&qp, now),
            other => other,
        };
        if place == Place::InFlight || place == Place::Unschedulable {
            self.pods.insert(
                key,
                Slot {
                    qp,
                    place,
                    version: slot.version,
                },
            );
        } else {
            self.place(key, qp, place, now);
        }
    }

    /// Removes a pod (deleted, or bound by someone else).
    pub fn delete(&mut self, key: &str) {
        self.pods.remove(key);
        self.unschedulable.remove(key);
    }

    /// Pops the most important active pod; it is in flight until [`SchedulingQueue::done`]
    /// or [`SchedulingQueue::add_unschedulable`].
    pub fn pop(&mut self) -> Option<QueuedPod> {
        while let Some((_, _, _, version, key)) = self.active.pop() {
            let Some(slot) = self.pods.get_mut(&key) else {
                continue;
            };
            if slot.version != version || slot.place != Place::Active {
                continue;
            }
            self.cycle += 1;
            slot.place = Place::InFlight;
            slot.qp.attempts += 1;
            slot.qp.cycle = self.cycle;
            return Some(slot.qp.clone());
        }
        None
    }

    /// The pod was placed: forget it.
    pub fn done(&mut self, key: &str) {
        if self
            .pods
            .get(key)
            .is_some_and(|s| s.place == Place::InFlight)
        {
            self.pods.remove(key);
        }
    }

    fn active_or_backoff(&self, qp: &QueuedPod, now: Instant) -> Place {
        if qp.attempts > 0 && now < qp.timestamp + self.backoff_duration(qp.attempts) {
            Place::Backoff
        } else {
            Place::Active
        }
    }

    /// A popped pod did not fit. It waits in `unschedulable` for a relevant event, unless
    /// an event already arrived while it was in flight (or no plugin rejected it: an
    /// error), in which case it backs off.
    pub fn add_unschedulable(&mut self, key: &str, plugins: BTreeSet<&'static str>, now: Instant) {
        let Some(slot) = self.pods.remove(key) else {
            return;
        };
        let mut qp = slot.qp;
        qp.unschedulable_plugins = plugins;
        let place = if self.move_request_cycle >= qp.cycle || qp.unschedulable_plugins.is_empty() {
            Place::Backoff
        } else {
            Place::Unschedulable
        };
        self.place(key.to_string(), qp, place, now);
    }

    /// Moves backoff pods whose time is up to `active`.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some((Reverse(expiry), _, version, key)) = self.backoff.peek().cloned() {
            if expiry > now {
                break;
            }
            self.backoff.pop();
            let Some(slot) = self.pods.remove(&key) else {
                continue;
            };
            if slot.version != version || slot.place != Place::Backoff {
                self.pods.insert(key, slot);
                continue;
            }
            self.place(key, slot.qp, Place::Active, now);
        }
    }

    /// Retries pods that have been unschedulable for longer than [`MAX_IN_UNSCHEDULABLE`].
    pub fn flush_unschedulable_leftover(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.pods.get(*k).is_some_and(|s| {
                    s.place == Place::Unschedulable
                        && now.duration_since(s.qp.timestamp) >= MAX_IN_UNSCHEDULABLE
                })
            })
            .cloned()
            .collect();
        for key in stale {
            if let Some(slot) = self.pods.remove(&key) {
                let place = self.active_or_backoff(&slot.qp, now);
                self.place(key, slot.qp, place, now);
            }
        }
    }

    fn interested(&self, plugins: &BTreeSet<&'static str>, event: &ClusterEvent) -> bool {
        plugins.is_empty()
            || plugins.iter().any(|p| match self.interests.get(p) {
                None => true,
                Some(evs) => evs.is_empty() || evs.iter().any(|e| e.covers(event)),
            })
    }

    /// A cluster event happened: unschedulable pods rejected by a plugin that cares about
    /// it move to `active` (or `backoff`, if still backing off). Returns how many moved.
    pub fn on_event(&mut self, event: &ClusterEvent, now: Instant) -> usize {
        self.move_request_cycle = self.cycle;
        let movers: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.pods.get(*k).is_some_and(|s| {
                    s.place == Place::Unschedulable
                        && self.interested(&s.qp.unschedulable_plugins, event)
                })
            })
            .cloned()
            .collect();
        for key in &movers {
            if let Some(slot) = self.pods.remove(key) {
                let place = self.active_or_backoff(&slot.qp, now);
                self.place(key.clone(), slot.qp, place, now);
            }
        }
        movers.len()
    }

    /// When the next backoff ends, if any pod is backing off.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.peek().map(|(Reverse(e), ..)| *e)
    }

    fn count(&self, place: Place) -> usize {
        self.pods.values().filter(|s| s.place == place).count()
    }

    /// Pods in `active`.
    pub fn active_len(&self) -> usize {
        self.count(Place::Active)
    }

    /// Pods in `backoff`.
    pub fn backoff_len(&self) -> usize {
        self.count(Place::Backoff)
    }

    /// Pods in `unschedulable`.
    pub fn unschedulable_len(&self) -> usize {
        self.unschedulable.len()
    }

    /// Pods waiting on scheduling gates.
    pub fn gated_len(&self) -> usize {
        self.count(Place::Gated)
    }

    /// Every pod the queue holds (any place, including in flight).
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether the queue holds no pod.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::PodBuilder;
    use crate::framework::{ActionType, EventResource};
    use crate::plugins::{node_affinity, node_resources_fit};

    fn pod(name: &str, priority: i32) -> Arc<PodInfo> {
        Arc::new(PodBuilder::new(name).priority(priority).build_info())
    }

    fn queue() -> SchedulingQueue {
        let mut interests: HashMap<&'static str, &'static [ClusterEvent]> = HashMap::new();
        const FIT: &[ClusterEvent] = &[
            ClusterEvent {
                resource: EventResource::Node,
                actions: ActionType::ADD.or(ActionType::UPDATE_NODE_ALLOCATABLE),
            },
            ClusterEvent::POD_DELETE,
        ];
        const AFFINITY: &[ClusterEvent] = &[ClusterEvent {
            resource: EventResource::Node,
            actions: ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
        }];
        interests.insert(node_resources_fit::NAME, FIT);
        interests.insert(node_affinity::NAME, AFFINITY);
        SchedulingQueue::new(interests)
    }

    fn pop_names(q: &mut SchedulingQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop())
            .map(|p| p.info.name.clone())
            .collect()
    }

    #[test]
    fn active_pops_by_priority_then_age() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("old-low", 1), t);
        q.add(pod("high", 10), t + Duration::from_millis(2));
        q.add(pod("new-low", 1), t + Duration::from_millis(1));
        assert_eq!(pop_names(&mut q), vec!["high", "old-low", "new-low"]);
    }

    #[test]
    fn backoff_bounds_come_from_the_config() {
        let cfg = crate::config::KubeSchedulerConfiguration {
            pod_initial_backoff_seconds: Some(2),
            pod_max_backoff_seconds: Some(5),
            ..Default::default()
        };
        let q = SchedulingQueue::from_config(&cfg, HashMap::new());
        let secs: Vec<u64> = (1..=4).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 5, 5]);
    }

    #[test]
    fn backoff_doubles_up_to_the_max() {
        let q = queue();
        let secs: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn unschedulable_pods_wait_for_a_relevant_event() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        let p = q.pop().unwrap();
        q.add_unschedulable(&p.info.key, [node_affinity::NAME].into(), t);
        assert_eq!(q.unschedulable_len(), 1);
        // A pod deletion does not help a node-affinity rejection.
        assert_eq!(
            q.on_event(&ClusterEvent::POD_DELETE, t + Duration::from_secs(5)),
            0
        );
        // A new node might: it moves, straight to active since its 1s backoff is over.
        assert_eq!(
            q.on_event(&ClusterEvent::NODE_ADD, t + Duration::from_secs(5)),
            1
        );
        assert_eq!(q.active_len(), 1);
        assert_eq!(q.pop().unwrap().attempts, 2);
    }

    #[test]
    fn moved_pods_still_backing_off_wait_in_backoff() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        let p = q.pop().unwrap();
        q.add_unschedulable(&p.info.key, [node_resources_fit::NAME].into(), t);
        q.on_event(&ClusterEvent::POD_DELETE, t + Duration::from_millis(100));
        assert_eq!(q.backoff_len(), 1);
        assert!(q.pop().is_none());
        q.flush_backoff(t + Duration::from_millis(500));
        assert_eq!(q.backoff_len(), 1, "1s backoff not over");
        q.flush_backoff(t + Duration::from_secs(2));
        assert_eq!(pop_names(&mut q), vec!["p"]);
    }

    #[test]
    fn an_event_during_the_attempt_sends_the_pod_to_backoff() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        let p = q.pop().unwrap();
        q.on_event(&ClusterEvent::NODE_ADD, t);
        q.add_unschedulable(&p.info.key, [node_affinity::NAME].into(), t);
        assert_eq!((q.unschedulable_len(), q.backoff_len()), (0, 1));
    }

    #[test]
    fn leftover_unschedulable_pods_are_retried_after_five_minutes() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        let p = q.pop().unwrap();
        q.add_unschedulable(&p.info.key, [node_affinity::NAME].into(), t);
        q.flush_unschedulable_leftover(t + Duration::from_secs(60));
        assert_eq!(q.unschedulable_len(), 1);
        q.flush_unschedulable_leftover(t + MAX_IN_UNSCHEDULABLE);
        assert_eq!(q.active_len(), 1);
    }

    #[test]
    fn gated_pods_wait_until_their_gates_are_removed() {
        let mut q = queue();
        let t = Instant::now();
        let gated = Arc::new(PodBuilder::new("g").gate("wait").build_info());
        q.add(gated, t);
        assert!(q.pop().is_none());
        assert_eq!(q.gated_len(), 1);
        q.update(Arc::new(PodBuilder::new("g").build_info()), t);
        assert_eq!(pop_names(&mut q), vec!["g"]);
        q.done("default/g");
        assert!(q.is_empty());
    }

    #[test]
    fn deleted_pods_are_never_popped() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("a", 0), t);
        q.add(pod("b", 0), t);
        q.delete("default/a");
        assert_eq!(pop_names(&mut q), vec!["b"]);
    }
}
