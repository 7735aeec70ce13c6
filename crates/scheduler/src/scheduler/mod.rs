//! The in-memory scheduling core.
//!
//! [`Scheduler`] holds the cache of nodes and pods, the profiles, the
//! PriorityClasses, PodDisruptionBudgets and namespace labels it needs, and
//! Borg's caches. `schedule_one` runs one scheduling cycle (PreFilter, Filter,
//! PostFilter, PreScore, Score, select) for one pod; `assume`, `forget` and the
//! `add_*`/`update_*`/`remove_*` methods let an informer layer keep the cache
//! in step with the API. Cache mutations return the [`ClusterEvent`] to hand
//! to the [`SchedulingQueue`](crate::queue::SchedulingQueue).

mod cycle;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;

use crate::cache::{Cache, CacheError};
use crate::config::{ConfigError, KubeSchedulerConfiguration};
use crate::equivalence::EquivalenceCache;
use crate::fit_error::{FitError, Nomination};
use crate::framework::{ActionType, ClusterEvent, CycleState, EventResource};
use crate::labels::NamespaceLabels;
use crate::node_info::NodeStatic;
use crate::pod_info::{PodInfo, PodInfoError};
use crate::preemption::Pdb;
use crate::registry::{build_profiles, SchedulingProfile};
use crate::sampling::Rng;
use crate::score_cache::ScoreCache;

/// Priority of the built-in `system-cluster-critical` class.
pub const SYSTEM_CLUSTER_CRITICAL: i32 = 2_000_000_000;
/// Priority of the built-in `system-node-critical` class.
pub const SYSTEM_NODE_CRITICAL: i32 = 2_000_001_000;

/// Why a pod was not placed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScheduleError {
    /// No node fits; the message is kube-scheduler's and goes into `PodScheduled=False`.
    #[error("{0}")]
    Unschedulable(Box<FitError>),
    /// The pod names a PriorityClass that does not exist.
    #[error("pod {pod}: no PriorityClass with name {class} was found")]
    PriorityClassNotFound {
        /// The pod.
        pod: String,
        /// The missing class.
        class: String,
    },
    /// The pod cannot be read (an unreadable quantity).
    #[error(transparent)]
    InvalidPod(#[from] PodInfoError),
    /// The cache refused an update (e.g. a pod for a node it does not know).
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// No profile has the pod's `schedulerName`.
    #[error("pod {pod}: no scheduler profile named {scheduler_name}")]
    NoProfile {
        /// The pod.
        pod: String,
        /// The name it asked for.
        scheduler_name: String,
    },
}

/// Where a pod should go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// Nodes the filters ran on (or were answered from the equivalence cache).
    pub evaluated_nodes: usize,
    /// Feasible nodes found among them.
    pub feasible_nodes: usize,
}

/// Counters of Borg's optimisations, summed over all profiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Scheduling cycles run.
    pub cycles: u64,
    /// Node-local filter results answered by the equivalence cache.
    pub equivalence_hits: u64,
    /// Node-local filter evaluations computed.
    pub equivalence_misses: u64,
    /// Node-local score parts answered by the score cache.
    pub score_cache_hits: u64,
    /// Node-local score parts computed.
    pub score_cache_misses: u64,
    /// Nodes the filters looked at, summed over cycles.
    pub nodes_evaluated: u64,
}

/// A profile with its Borg caches.
struct ProfileState {
    profile: SchedulingProfile,
    equivalence: EquivalenceCache,
    score_cache: ScoreCache,
    /// Indices into `profile.filter` of node-local and other filters.
    local_filters: Vec<usize>,
    other_filters: Vec<usize>,
    /// Indices into `profile.score` of node-local and other scores.
    local_scores: Vec<usize>,
    other_scores: Vec<usize>,
}

impl ProfileState {
    fn new(profile: SchedulingProfile) -> Self {
        let (local_filters, other_filters) =
            (0..profile.filter.len()).partition(|i| profile.filter[*i].node_local());
        let (local_scores, other_scores): (Vec<usize>, Vec<usize>) =
            (0..profile.score.len()).partition(|i| profile.score[*i].0.node_local());
        ProfileState {
            equivalence: EquivalenceCache::new(1024),
            score_cache: ScoreCache::new(local_scores.len()),
            profile,
            local_filters,
            other_filters,
            local_scores,
            other_scores,
        }
    }
}

/// Reusable per-cycle buffers (no allocation on the hot path once warm).
#[derive(Default)]
struct Buffers {
    feasible: Vec<u32>,
    rejected: Vec<(u32, Arc<crate::framework::Status>)>,
    scores: Vec<i64>,
    totals: Vec<i64>,
    parts: Vec<i64>,
    skipped: Vec<&'static str>,
}

/// The scheduling core.
pub struct Scheduler {
    cache: Cache,
    profiles: Vec<ProfileState>,
    priority_classes: HashMap<String, (i32, bool)>,
    global_default: Option<String>,
    pdbs: BTreeMap<String, Pdb>,
    pdb_list: Vec<Pdb>,
    namespaces: NamespaceLabels,
    rng: Rng,
    next_start: usize,
    state: CycleState,
    bufs: Buffers,
    stats: Stats,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("nodes", &self.cache.num_nodes())
            .field("pods", &self.cache.num_pods())
            .field(
                "profiles",
                &self.profiles.iter().map(|p| &p.profile).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Scheduler {
    /// A scheduler with the default profile; `seed` fixes every random choice.
    ///
    /// # Panics
    /// Never: the default configuration is valid (a test checks it).
    pub fn new(seed: u64) -> Self {
        Self::from_config(&KubeSchedulerConfiguration::default(), seed)
            .expect("the default configuration is valid")
    }

    /// A scheduler for a configuration; `seed` fixes every random choice.
    pub fn from_config(cfg: &KubeSchedulerConfiguration, seed: u64) -> Result<Self, ConfigError> {
        Ok(Self::from_profiles(build_profiles(cfg)?, seed))
    }

    /// A scheduler with already built profiles.
    pub fn from_profiles(profiles: Vec<SchedulingProfile>, seed: u64) -> Self {
        Scheduler {
            cache: Cache::new(),
            profiles: profiles.into_iter().map(ProfileState::new).collect(),
            priority_classes: HashMap::new(),
            global_default: None,
            pdbs: BTreeMap::new(),
            pdb_list: Vec::new(),
            namespaces: NamespaceLabels::new(),
            rng: Rng::new(seed),
            next_start: 0,
            state: CycleState::new(),
            bufs: Buffers::default(),
            stats: Stats::default(),
        }
    }

    /// The cache (read-only).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Counters of Borg's optimisations.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        for p in &self.profiles {
            s.equivalence_hits += p.equivalence.hits;
            s.equivalence_misses += p.equivalence.misses;
            s.score_cache_hits += p.score_cache.hits;
            s.score_cache_misses += p.score_cache.misses;
        }
        s
    }

    /// The profiles.
    pub fn profiles(&self) -> impl Iterator<Item = &SchedulingProfile> {
        self.profiles.iter().map(|p| &p.profile)
    }

    /// For each plugin of every profile, the events that may undo its rejections (what
    /// [`SchedulingQueue::new`](crate::queue::SchedulingQueue::new) takes).
    pub fn event_interests(&self) -> HashMap<&'static str, &'static [ClusterEvent]> {
        let mut m = HashMap::new();
        for p in &self.profiles {
            m.extend(p.profile.events.iter().map(|(k, v)| (*k, *v)));
        }
        m
    }

    // ---- priority -------------------------------------------------------------------

    /// Adds or updates a PriorityClass.
    pub fn upsert_priority_class(&mut self, pc: &PriorityClass) {
        let name = pc.metadata.name.clone().unwrap_or_default();
        if pc.global_default == Some(true) {
            self.global_default = Some(name.clone());
        } else if self.global_default.as_deref() == Some(&name) {
            self.global_default = None;
        }
        self.priority_classes.insert(
            name,
            (pc.value, pc.preemption_policy.as_deref() == Some("Never")),
        );
    }

    /// Removes a PriorityClass.
    pub fn remove_priority_class(&mut self, name: &str) {
        self.priority_classes.remove(name);
        if self.global_default.as_deref() == Some(name) {
            self.global_default = None;
        }
    }

    fn class(&self, name: &str) -> Option<(i32, bool)> {
        self.priority_classes.get(name).copied().or(match name {
            "system-cluster-critical" => Some((SYSTEM_CLUSTER_CRITICAL, false)),
            "system-node-critical" => Some((SYSTEM_NODE_CRITICAL, false)),
            _ => None,
        })
    }

    /// Resolves a pod's priority: `spec.priority` and `spec.preemptionPolicy` as the
    /// apiserver's Priority admission set them from the pod's class, as kube-scheduler
    /// reads them; for a pod that has none (an apiserver without that admission), its
    /// PriorityClass's value when it names one, else the global default class, else 0.
    /// Also says whether the pod may not preempt.
    pub fn resolve_priority(&self, pod: &Pod) -> Result<(i32, bool), ScheduleError> {
        let spec = pod.spec.as_ref();
        if let Some(priority) = spec.and_then(|s| s.priority) {
            let never = spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never");
            return Ok((priority, never));
        }
        let class_name = spec
            .and_then(|s| s.priority_class_name.as_deref())
            .filter(|n| !n.is_empty());
        let class = match class_name {
            Some(name) => {
                Some(
                    self.class(name)
                        .ok_or_else(|| ScheduleError::PriorityClassNotFound {
                            pod: format!(
                                "{}/{}",
                                pod.metadata.namespace.as_deref().unwrap_or("default"),
                                pod.metadata.name.as_deref().unwrap_or("")
                            ),
                            class: name.to_string(),
                        })?,
                )
            }
            None => self.global_default.as_deref().and_then(|n| self.class(n)),
        };
        let never = class.is_some_and(|c| c.1);
        Ok((class.map_or(0, |c| c.0), never))
    }

    /// Compiles a pod with its resolved priority.
    pub fn pod_info(&self, pod: &Pod) -> Result<PodInfo, ScheduleError> {
        let (priority, never) = self.resolve_priority(pod)?;
        let mut info = PodInfo::new(pod, priority)?;
        let explicit = pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_ref())
            .is_some();
        if never && !explicit {
            info.preempt_never = true;
        }
        Ok(info)
    }

    // ---- other objects --------------------------------------------------------------

    /// Adds or updates a PodDisruptionBudget (preemption avoids violating it).
    pub fn upsert_pdb(&mut self, pdb: &PodDisruptionBudget) {
        let p = Pdb::from_api(pdb);
        self.pdbs.insert(format!("{}/{}", p.namespace, p.name), p);
        self.pdb_list = self.pdbs.values().cloned().collect();
    }

    /// Removes a PodDisruptionBudget.
    pub fn remove_pdb(&mut self, namespace: &str, name: &str) {
        self.pdbs.remove(&format!("{namespace}/{name}"));
        self.pdb_list = self.pdbs.values().cloned().collect();
    }

    /// Adds or updates a Namespace (for affinity terms' namespace selectors).
    pub fn upsert_namespace(&mut self, ns: &Namespace) {
        let name = ns.metadata.name.clone().unwrap_or_default();
        self.namespaces
            .insert(name, ns.metadata.labels.clone().unwrap_or_default());
    }

    /// Removes a Namespace.
    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    // ---- nodes ----------------------------------------------------------------------

    /// Adds a node.
    pub fn add_node(&mut self, node: &Node) -> ClusterEvent {
        self.update_node(node)
    }

    /// Adds or updates a node; the event says what changed.
    pub fn update_node(&mut self, node: &Node) -> ClusterEvent {
        let name = node.metadata.name.as_deref().unwrap_or("");
        let before = self
            .cache
            .slot_of(name)
            .map(|s| self.cache.node(s).node.clone());
        self.cache.upsert_node(node);
        let Some(old) = before else {
            return ClusterEvent::NODE_ADD;
        };
        let new = NodeStatic::from_node(node);
        let mut actions = ActionType(0);
        if old.allocatable != new.allocatable {
            actions = actions.or(ActionType::UPDATE_NODE_ALLOCATABLE);
        }
        if old.labels != new.labels {
            actions = actions.or(ActionType::UPDATE_NODE_LABEL);
        }
        if old.taints != new.taints || old.unschedulable != new.unschedulable {
            actions = actions.or(ActionType::UPDATE_NODE_TAINT);
        }
        if actions.0 == 0 {
            actions = ActionType::UPDATE_OTHER;
        }
        ClusterEvent {
            resource: EventResource::Node,
            actions,
        }
    }

    /// Removes a node.
    pub fn remove_node(&mut self, name: &str) -> Result<ClusterEvent, CacheError> {
        self.cache.remove_node(name)?;
        Ok(ClusterEvent {
            resource: EventResource::Node,
            actions: ActionType::DELETE,
        })
    }

    // ---- pods -----------------------------------------------------------------------

    /// Adds a pod bound to a node (`spec.nodeName` set), or confirms one the scheduler
    /// assumed. Pods that are not bound, or have finished (Succeeded/Failed), are ignored.
    /// A missing PriorityClass counts as priority 0 here: the pod already runs.
    pub fn add_pod(&mut self, pod: &Pod) -> Result<Option<ClusterEvent>, ScheduleError> {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            let info = PodInfo::new(pod, 0)?;
            return Ok(self.remove_pod(&info.key).ok());
        }
        let info = match self.pod_info(pod) {
            Err(ScheduleError::PriorityClassNotFound { .. }) => {
                PodInfo::new(pod, pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0))?
            }
            other => other?,
        };
        let Some(node) = info.node_name.clone() else {
            return Ok(None);
        };
        let key = info.key.clone();
        if self.cache.pod(&key).is_some_and(|e| !e.assumed) {
            // An update of a bound pod: replace it.
            self.cache.remove_pod(&key)?;
            self.cache.add_pod(Arc::new(info), &node, false)?;
            return Ok(Some(ClusterEvent {
                resource: EventResource::AssignedPod,
                actions: ActionType::UPDATE_POD_LABEL,
            }));
        }
        self.cache.add_pod(Arc::new(info), &node, false)?;
        Ok(Some(ClusterEvent::POD_ADD))
    }

    /// Removes a pod (deleted, or finished).
    pub fn remove_pod(&mut self, key: &str) -> Result<ClusterEvent, CacheError> {
        self.cache.remove_pod(key)?;
        Ok(ClusterEvent::POD_DELETE)
    }

    /// Assumes `pod` runs on `node` until the binding is confirmed by [`Scheduler::add_pod`]
    /// or undone by [`Scheduler::forget`].
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        self.cache.add_pod(pod, node, true)
    }

    /// Forgets an assumed pod whose binding failed.
    pub fn forget(&mut self, key: &str) -> Result<(), CacheError> {
        self.cache.forget_pod(key).map(|_| ())
    }

    /// Records that a pod of this owner failed on this node: the owner's next pods will
    /// prefer other nodes (RecentFailurePenalty).
    pub fn record_failure(&mut self, owner_uid: &str, node: &str) -> Result<(), CacheError> {
        self.cache.record_failure(owner_uid, node)
    }

    /// Forgets recorded failures (call when they are no longer recent).
    pub fn clear_failures(&mut self) {
        self.cache.clear_failures();
    }

    /// Records that `pod` is nominated to `node` (preemption); filters of pods with lower
    /// or equal priority then count it on that node.
    pub fn nominate(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        self.cache.nominate(pod, node)
    }

    /// Drops a pod's nomination (the pod was deleted, or bound elsewhere).
    pub fn clear_nomination(&mut self, key: &str) {
        self.cache.clear_nomination(key);
    }

    // ---- scheduling -----------------------------------------------------------------

    /// Runs one scheduling cycle for `pod`. On success nothing changes yet: the caller
    /// assumes the pod on the node and binds it. When no node fits, preemption may
    /// nominate a node (the pod is then recorded as nominated) and name victims for the
    /// caller to delete.
    pub fn schedule_one(&mut self, pod: &Pod) -> Result<ScheduleResult, ScheduleError> {
        let info = Arc::new(self.pod_info(pod)?);
        self.schedule_pod(&info)
    }

    /// [`Scheduler::schedule_one`] for an already compiled pod.
    pub fn schedule_pod(&mut self, pod: &Arc<PodInfo>) -> Result<ScheduleResult, ScheduleError> {
        let idx = self
            .profiles
            .iter()
            .position(|p| p.profile.scheduler_name == pod.scheduler_name)
            .ok_or_else(|| ScheduleError::NoProfile {
                pod: pod.key.clone(),
                scheduler_name: pod.scheduler_name.clone(),
            })?;
        let result = self.run_cycle(idx, pod);
        if let Err(ScheduleError::Unschedulable(fe)) = &result {
            if let Some(Nomination { node, .. }) = &fe.nomination {
                let _ = self.cache.nominate(pod.clone(), node);
            }
        }
        result
    }
}
