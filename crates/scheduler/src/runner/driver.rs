//! The scheduling thread: the only owner of the core's cache and queue.
//!
//! It takes [`Message`]s from the informers and the writer, keeps the cache
//! and queue in step (kube-scheduler's event handlers: assigned pods go into
//! the cache, pending pods of our profiles into the queue, cluster events move
//! unschedulable pods back), and between messages pops one pod at a time,
//! runs a scheduling cycle and hands the outcome to the
//! [`Writer`](super::writer::Writer). A placement is assumed in the cache at
//! once, so the next cycle sees it while the binding is still in flight.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};

use super::failures::FailureTracker;
use super::informers::key_of;
use super::recorder::PodRef;
use super::writer::{Unschedulable, Writer};
use super::RunnerConfig;
use crate::config::ConfigError;
use crate::queue::{QueuedPod, SchedulingQueue};
use crate::scheduler::{ScheduleError, Scheduler};

/// The kinds the scheduler watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Nodes.
    Node,
    /// Pods.
    Pod,
    /// PriorityClasses.
    PriorityClass,
    /// PodDisruptionBudgets.
    PodDisruptionBudget,
    /// Namespaces.
    Namespace,
}

/// Kinds that must have synced before anything is scheduled.
const ALL_KINDS: usize = 5;

/// A change to one watched object.
#[derive(Debug)]
pub enum Watched<K> {
    /// Added or modified.
    Apply(K),
    /// Deleted: its key (`namespace/name` or `name`) and uid when known.
    Delete(String, Option<String>),
}

/// What the scheduling thread is told.
#[derive(Debug)]
pub enum Message {
    /// A Node changed.
    Node(Box<Watched<Node>>),
    /// A Pod changed.
    Pod(Box<Watched<Pod>>),
    /// A PriorityClass changed.
    PriorityClass(Watched<PriorityClass>),
    /// A PodDisruptionBudget changed.
    PodDisruptionBudget(Watched<PodDisruptionBudget>),
    /// A Namespace changed.
    Namespace(Watched<Namespace>),
    /// The first complete list of a kind has been delivered.
    Synced(Kind),
    /// A binding finished (`error` is `None` on success).
    Bound {
        /// The pod's `namespace/name`.
        key: String,
        /// The node.
        node: String,
        /// Why it failed.
        error: Option<String>,
    },
    /// Stop.
    Shutdown,
}

/// A pending pod of one of our profiles.
#[derive(Debug)]
struct Pending {
    uid: String,
    /// Hash of what scheduling depends on (labels, spec): status-only updates, such as
    /// our own condition, leave it unchanged and do not requeue the pod.
    fingerprint: u64,
    pod: PodRef,
    /// The last condition message written, so an unchanged one is not written again.
    reported: Option<String>,
}

/// The scheduling loop's state.
pub struct Driver {
    sched: Scheduler,
    queue: SchedulingQueue,
    names: HashSet<String>,
    pending: HashMap<String, Pending>,
    /// Pods waiting for the PriorityClass they name.
    parked: HashMap<String, Pod>,
    synced: HashSet<Kind>,
    writer: Arc<Writer>,
    last_leftover_flush: Instant,
    /// Recent failures of owners' pods on nodes (Borg's task@machine).
    failures: FailureTracker,
    ready_tx: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("names", &self.names)
            .field("pending", &self.pending.len())
            .field("queue", &self.queue.len())
            .finish()
    }
}

/// Most messages handled before the next pod is popped.
const DRAIN_LIMIT: usize = 10_000;
/// Failures one pod update may record (a restart count can jump).
const MAX_FAILURES_PER_UPDATE: u32 = 16;
/// How often pods left unschedulable for too long are retried.
const LEFTOVER_FLUSH: Duration = Duration::from_secs(30);

impl Driver {
    /// A driver for these profiles.
    pub fn new(
        cfg: &RunnerConfig,
        names: Vec<String>,
        writer: Arc<Writer>,
        ready_tx: tokio::sync::watch::Sender<bool>,
    ) -> Result<Self, ConfigError> {
        let sched = Scheduler::from_config(&cfg.config, cfg.seed)?;
        let queue = SchedulingQueue::from_config(&cfg.config, sched.event_interests());
        Ok(Driver {
            sched,
            queue,
            names: names.into_iter().collect(),
            pending: HashMap::new(),
            parked: HashMap::new(),
            synced: HashSet::new(),
            writer,
            last_leftover_flush: Instant::now(),
            failures: FailureTracker::new(Instant::now()),
            ready_tx,
        })
    }

    fn ready(&self) -> bool {
        self.synced.len() == ALL_KINDS
    }

    /// Runs until [`Message::Shutdown`] or until every sender is gone.
    pub fn run(&mut self, rx: Receiver<Message>) {
        loop {
            for _ in 0..DRAIN_LIMIT {
                match rx.try_recv() {
                    Ok(Message::Shutdown) | Err(TryRecvError::Disconnected) => return,
                    Ok(m) => self.handle(m),
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            let mut wait = LEFTOVER_FLUSH;
            if self.ready() {
                self.queue.flush_backoff(now);
                if now.duration_since(self.last_leftover_flush) >= LEFTOVER_FLUSH {
                    self.queue.flush_unschedulable_leftover(now);
                    self.last_leftover_flush = now;
                }
                if self.failures.expired(now) {
                    self.sched.clear_failures();
                }
                if let Some(qp) = self.queue.pop() {
                    self.schedule(qp);
                    continue;
                }
                if let Some(t) = self.queue.next_backoff_expiry() {
                    wait = wait.min(t.saturating_duration_since(now));
                }
            }
            match rx.recv_timeout(wait) {
                Ok(Message::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(m) => self.handle(m),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Applies one message to the cache and queue.
    pub fn handle(&mut self, m: Message) {
        let now = Instant::now();
        match m {
            Message::Node(w) => match *w {
                Watched::Apply(n) => {
                    let ev = self.sched.update_node(&n);
                    self.queue.on_event(&ev, now);
                }
                Watched::Delete(name, _) => {
                    if let Ok(ev) = self.sched.remove_node(&name) {
                        self.queue.on_event(&ev, now);
                    }
                }
            },
            Message::Pod(w) => match *w {
                Watched::Apply(p) => self.pod_applied(p, now),
                Watched::Delete(key, _) => self.pod_deleted(&key, now),
            },
            Message::PriorityClass(w) => {
                match w {
                    Watched::Apply(pc) => self.sched.upsert_priority_class(&pc),
                    Watched::Delete(name, _) => self.sched.remove_priority_class(&name),
                }
                self.retry_parked(now);
            }
            Message::PodDisruptionBudget(w) => match w {
                Watched::Apply(pdb) => self.sched.upsert_pdb(&pdb),
                Watched::Delete(key, _) => {
                    if let Some((ns, name)) = key.split_once('/') {
                        self.sched.remove_pdb(ns, name);
                    }
                }
            },
            Message::Namespace(w) => match w {
                Watched::Apply(ns) => self.sched.upsert_namespace(&ns),
                Watched::Delete(name, _) => self.sched.remove_namespace(&name),
            },
            Message::Synced(kind) => {
                self.synced.insert(kind);
                if self.ready() {
                    let _ = self.ready_tx.send(true);
                    tracing::info!(
                        "scheduler {:?}: caches synced ({} nodes, {} pods pending)",
                        self.names,
                        self.sched.cache().num_nodes(),
                        self.queue.len()
                    );
                }
            }
            Message::Bound { key, node, error } => match error {
                None => {
                    self.queue.done(&key);
                    self.pending.remove(&key);
                }
                Some(e) => {
                    tracing::warn!("scheduler: binding {key} to {node}: {e}");
                    let _ = self.sched.forget(&key);
                    if self.pending.contains_key(&key) {
                        // Back off and retry, as kube-scheduler does after a failed bind.
                        self.queue.add_unschedulable(&key, BTreeSet::new(), now);
                    } else {
                        self.queue.done(&key);
                    }
                }
            },
            Message::Shutdown => {}
        }
    }

    fn pod_applied(&mut self, pod: Pod, now: Instant) {
        let key = key_of(&pod);
        let spec = pod.spec.as_ref();
        let assigned = spec
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        if assigned {
            if self.pending.remove(&key).is_some() {
                self.queue.delete(&key);
            }
            self.parked.remove(&key);
            if let Some((owner, node, n)) = self.failures.observe(&key, &pod) {
                for _ in 0..n.min(MAX_FAILURES_PER_UPDATE) {
                    // An unknown node has no score to lower.
                    let _ = self.sched.record_failure(&owner, &node);
                }
            }
            match self.sched.add_pod(&pod) {
                Ok(Some(ev)) => {
                    self.queue.on_event(&ev, now);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("scheduler: pod {key}: {e}"),
            }
            return;
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if pod.metadata.deletion_timestamp.is_some()
            || matches!(phase, Some("Succeeded" | "Failed"))
        {
            self.forget_pending(&key);
            return;
        }
        let name = spec
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or("default-scheduler");
        if !self.names.contains(name) {
            return;
        }
        if self.sched.cache().pod(&key).is_some_and(|e| e.assumed) {
            // Our binding is in flight; its outcome decides.
            return;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let fp = fingerprint(&pod);
        if self
            .pending
            .get(&key)
            .is_some_and(|p| p.uid == uid && p.fingerprint == fp)
        {
            return;
        }
        self.admit(pod, key, uid, fp, now);
    }

    /// Queues a pending pod, or reports why it cannot be scheduled as it is.
    fn admit(&mut self, pod: Pod, key: String, uid: String, fingerprint: u64, now: Instant) {
        let pref = PodRef {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: uid.clone(),
        };
        let result = self.sched.pod_info(&pod);
        self.pending.insert(
            key.clone(),
            Pending {
                uid,
                fingerprint,
                pod: pref.clone(),
                reported: None,
            },
        );
        match result {
            Ok(info) => {
                self.parked.remove(&key);
                let info = Arc::new(info);
                if let Some(node) = &info.nominated_node_name {
                    if self.sched.cache().nominated_node(&key).is_none() {
                        let _ = self.sched.nominate(info.clone(), node);
                    }
                }
                self.queue.update(info, now);
            }
            Err(e) => {
                // Wait for an update of the pod (or, for a missing PriorityClass, its creation).
                self.queue.delete(&key);
                if matches!(e, ScheduleError::PriorityClassNotFound { .. }) {
                    self.parked.insert(key.clone(), pod);
                }
                tracing::info!("scheduler: {e}");
                self.report_error(&key, &e);
            }
        }
    }

    fn retry_parked(&mut self, now: Instant) {
        if self.parked.is_empty() {
            return;
        }
        for (key, pod) in std::mem::take(&mut self.parked) {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let fp = fingerprint(&pod);
            self.admit(pod, key, uid, fp, now);
        }
    }

    fn forget_pending(&mut self, key: &str) {
        if self.pending.remove(key).is_some() {
            self.queue.delete(key);
        }
        self.parked.remove(key);
    }

    fn pod_deleted(&mut self, key: &str, now: Instant) {
        self.forget_pending(key);
        self.failures.forget(key);
        self.sched.clear_nomination(key);
        if self.sched.cache().pod(key).is_some() {
            if let Ok(ev) = self.sched.remove_pod(key) {
                self.queue.on_event(&ev, now);
            }
        }
    }

    /// Writes a failed attempt's condition and event, unless the same was written last.
    fn report(&mut self, key: &str, u: Unschedulable) {
        let Some(p) = self.pending.get_mut(key) else {
            return;
        };
        if u.nominated_node.is_none() && p.reported.as_deref() == Some(u.message.as_str()) {
            return;
        }
        p.reported = Some(u.message.clone());
        self.writer.unschedulable(p.pod.clone(), u);
    }

    /// Reports a pod the scheduler cannot handle at all (not a fit failure).
    fn report_error(&mut self, key: &str, e: &ScheduleError) {
        self.report(
            key,
            Unschedulable {
                reason: "SchedulerError",
                message: e.to_string(),
                nominated_node: None,
            },
        );
    }

    fn schedule(&mut self, qp: QueuedPod) {
        let info = qp.info;
        let key = info.key.clone();
        let Some(pref) = self.pending.get(&key).map(|p| p.pod.clone()) else {
            self.queue.done(&key);
            return;
        };
        let now = Instant::now();
        match self.sched.schedule_pod(&info) {
            Ok(r) => match self.sched.assume(info.clone(), &r.node) {
                Ok(()) => self.writer.bind(pref, r.node),
                Err(e) => {
                    tracing::warn!("scheduler: assuming {key} on {}: {e}", r.node);
                    self.queue.add_unschedulable(&key, BTreeSet::new(), now);
                }
            },
            Err(ScheduleError::Unschedulable(fe)) => {
                let nominated = fe.nomination.as_ref().map(|n| n.node.clone());
                if let Some(nom) = &fe.nomination {
                    tracing::info!(
                        "scheduler: {key} preempts {} pod(s) on {}",
                        nom.victims.len(),
                        nom.node
                    );
                    self.writer.delete_victims(&pref, &nom.node, &nom.victims);
                }
                self.report(
                    &key,
                    Unschedulable {
                        reason: "Unschedulable",
                        message: fe.message(),
                        nominated_node: nominated,
                    },
                );
                self.queue
                    .add_unschedulable(&key, fe.unschedulable_plugins.clone(), now);
            }
            Err(e) => {
                self.report_error(&key, &e);
                self.queue.add_unschedulable(&key, BTreeSet::new(), now);
            }
        }
    }
}

/// Hash of the parts of a pod that scheduling reads (labels and spec).
fn fingerprint(pod: &Pod) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(&pod.metadata.labels)
        .unwrap_or_default()
        .hash(&mut h);
    serde_json::to_string(&pod.spec)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}
