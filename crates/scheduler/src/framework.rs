//! The scheduling framework's extension points, after Kubernetes'.
//!
//! Each extension point is a tiny trait (PreFilter, Filter, PostFilter,
//! PreScore, Score, Reserve, Bind); a plugin implements the ones it needs and
//! the [`registry`](crate::registry) lists them. Results are a [`Status`]: a
//! [`Code`] and reasons. Data computed in PreFilter or PreScore for the rest of
//! a cycle goes through the typed [`CycleState`].

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::sync::Arc;

use crate::cache::Cache;
use crate::labels::NamespaceLabels;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::preemption::{Pdb, Victim};

/// Highest score a Score plugin gives after normalization.
pub const MAX_NODE_SCORE: i64 = 100;

/// Outcome class of a plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The pod may go on (passes the filter).
    Success,
    /// An unexpected failure inside the plugin.
    Error,
    /// The pod does not fit, but preempting pods on the node could change that.
    Unschedulable,
    /// The pod does not fit, and preemption cannot change that.
    UnschedulableAndUnresolvable,
    /// The plugin has nothing to do for this pod (PreFilter/PreScore only); its
    /// Filter or Score is skipped for the cycle.
    Skip,
}

/// A plugin's result: a code and human-readable reasons.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status {
    /// The outcome.
    pub code: Code,
    /// Why (each reason is counted separately in the "0/N nodes are available" message).
    pub reasons: Vec<Cow<'static, str>>,
    /// The plugin that returned it (empty for success).
    pub plugin: &'static str,
}

impl Status {
    /// Success (allocation-free).
    pub const fn success() -> Self {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// Skip (allocation-free).
    pub const fn skip() -> Self {
        Status {
            code: Code::Skip,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with one reason.
    pub fn new(code: Code, plugin: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin,
        }
    }

    /// `Unschedulable` with one reason.
    pub fn unschedulable(plugin: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::Unschedulable, plugin, reason)
    }

    /// `UnschedulableAndUnresolvable` with one reason.
    pub fn unresolvable(plugin: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::UnschedulableAndUnresolvable, plugin, reason)
    }

    /// Whether the code is `Success`.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Whether the code is `Skip`.
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// Whether the code rejects the pod (`Unschedulable`, `UnschedulableAndUnresolvable` or `Error`).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable | Code::Error
        )
    }

    /// The reasons joined with ", ".
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

/// A value kept in [`CycleState`]: any `Clone + Send + Sync` type.
pub trait StateData: Any + Send + Sync {
    /// A boxed copy (preemption's dry runs work on copies of the state).
    fn clone_data(&self) -> Box<dyn StateData>;
    /// As `Any`, to downcast.
    fn as_any(&self) -> &dyn Any;
    /// As mutable `Any`, to downcast.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_data(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Typed per-cycle data: at most one value of each type, written in PreFilter or
/// PreScore and read by later extension points of the same cycle.
#[derive(Default)]
pub struct CycleState {
    entries: Vec<(TypeId, Box<dyn StateData>)>,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            entries: self
                .entries
                .iter()
                .map(|(t, v)| (*t, (**v).clone_data()))
                .collect(),
        }
    }
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl CycleState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing any earlier value of its type.
    pub fn write<T: Any + Clone + Send + Sync>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        match self.entries.iter_mut().find(|(t, _)| *t == id) {
            Some(slot) => slot.1 = Box::new(value),
            None => self.entries.push((id, Box::new(value))),
        }
    }

    /// The stored value of type `T`, if any.
    pub fn read<T: Any>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, v)| v.as_ref().as_any().downcast_ref::<T>())
    }

    /// The stored value of type `T`, mutably, if any.
    pub fn read_mut<T: Any>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter_mut()
            .find(|(t, _)| *t == id)
            .and_then(|(_, v)| v.as_mut().as_any_mut().downcast_mut::<T>())
    }

    /// Removes everything (the start of a new cycle).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Cluster-wide state that PreFilter and PreScore plugins may read.
#[derive(Clone, Copy)]
pub struct Cluster<'a> {
    /// All nodes and their pods.
    pub cache: &'a Cache,
    /// Labels of known namespaces.
    pub namespaces: &'a NamespaceLabels,
}

/// Kind of object a cluster event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventResource {
    /// A Node.
    Node,
    /// A Pod already assigned to a node.
    AssignedPod,
}

/// What happened to the object, as bits so a plugin can register several at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionType(pub u32);

impl ActionType {
    /// Object added.
    pub const ADD: ActionType = ActionType(1);
    /// Object deleted.
    pub const DELETE: ActionType = ActionType(2);
    /// A node's allocatable changed.
    pub const UPDATE_NODE_ALLOCATABLE: ActionType = ActionType(4);
    /// A node's labels changed.
    pub const UPDATE_NODE_LABEL: ActionType = ActionType(8);
    /// A node's taints or unschedulable flag changed.
    pub const UPDATE_NODE_TAINT: ActionType = ActionType(16);
    /// A pod's labels changed.
    pub const UPDATE_POD_LABEL: ActionType = ActionType(32);
    /// Any other update.
    pub const UPDATE_OTHER: ActionType = ActionType(64);
    /// Every action.
    pub const ALL: ActionType = ActionType(127);

    /// Union of two sets of actions.
    pub const fn or(self, other: ActionType) -> ActionType {
        ActionType(self.0 | other.0)
    }

    /// Whether the sets share an action.
    pub const fn intersects(self, other: ActionType) -> bool {
        self.0 & other.0 != 0
    }
}

/// A change in the cluster that may make unschedulable pods schedulable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterEvent {
    /// What kind of object.
    pub resource: EventResource,
    /// What happened to it.
    pub actions: ActionType,
}

impl ClusterEvent {
    /// A node was added.
    pub const NODE_ADD: ClusterEvent = ClusterEvent {
        resource: EventResource::Node,
        actions: ActionType::ADD,
    };
    /// An assigned pod was deleted.
    pub const POD_DELETE: ClusterEvent = ClusterEvent {
        resource: EventResource::AssignedPod,
        actions: ActionType::DELETE,
    };
    /// An assigned pod was added.
    pub const POD_ADD: ClusterEvent = ClusterEvent {
        resource: EventResource::AssignedPod,
        actions: ActionType::ADD,
    };

    /// Whether `self` (an interest registered by a plugin) covers `event` (what happened).
    pub fn covers(&self, event: &ClusterEvent) -> bool {
        self.resource == event.resource && self.actions.intersects(event.actions)
    }
}

/// Every plugin has a name and says which cluster events may undo its rejections.
pub trait Plugin: Send + Sync {
    /// The plugin's name as the configuration spells it.
    fn name(&self) -> &'static str;

    /// Events after which a pod this plugin rejected is worth retrying (Kubernetes'
    /// EnqueueExtensions). Empty means any event.
    fn events(&self) -> &'static [ClusterEvent] {
        &[]
    }
}

/// Runs once per cycle before the filters; may skip its plugin's Filter or reject the pod.
pub trait PreFilterPlugin: Plugin {
    /// Computes per-cycle state. `Skip` skips this plugin's Filter; a rejection makes
    /// every node infeasible.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, cluster: &Cluster<'_>) -> Status;

    /// Updates the state as if `added` were placed on `node` (Kubernetes'
    /// PreFilterExtensions; preemption's dry runs use it). Default: nothing to update.
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _cluster: &Cluster<'_>,
        _pod: &PodInfo,
        _added: &PodInfo,
        _node: &NodeInfo,
    ) {
    }

    /// Updates the state as if `removed` left `node`. Default: nothing to update.
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _cluster: &Cluster<'_>,
        _pod: &PodInfo,
        _removed: &PodInfo,
        _node: &NodeInfo,
    ) {
    }
}

/// Decides whether the pod may run on one node.
pub trait FilterPlugin: Plugin {
    /// `Success` when the node is feasible for the pod.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;

    /// Whether the result depends only on the pod and this node (and so may be cached
    /// per equivalence class and node generation). Plugins that count pods on other
    /// nodes return false.
    fn node_local(&self) -> bool {
        true
    }
}

/// Runs once per cycle before the scores, over the feasible nodes.
pub trait PreScorePlugin: Plugin {
    /// Computes per-cycle state. `Skip` skips this plugin's Score.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        cluster: &Cluster<'_>,
        feasible: &[u32],
    ) -> Status;
}

/// Ranks feasible nodes.
pub trait ScorePlugin: Plugin {
    /// A raw score for the node.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64;

    /// Raw scores of all `feasible` nodes into `out` (same order). The default calls
    /// [`ScorePlugin::score`] per node; plugins override it to read their state once and
    /// use the cache's packed per-node data.
    fn score_all(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        cluster: &Cluster<'_>,
        feasible: &[u32],
        out: &mut [i64],
    ) {
        for (o, &slot) in out.iter_mut().zip(feasible) {
            *o = self.score(state, pod, cluster.cache.node(slot));
        }
    }

    /// Rescales the raw scores of all feasible nodes to `0..=MAX_NODE_SCORE`.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [i64]) {}

    /// Whether the raw score depends only on the pod's score signature and this node (and
    /// so may be cached per node generation).
    fn node_local(&self) -> bool {
        true
    }
}

/// What a PostFilter plugin may look at: the cluster, the cycle's state, why each
/// node rejected the pod, and a way to re-run the profile's filters on a changed node.
pub struct PostFilterContext<'a> {
    /// All nodes and their pods.
    pub cluster: Cluster<'a>,
    /// The cycle's state after PreFilter.
    pub state: &'a CycleState,
    /// Each rejecting node's slot and the status of the filter that rejected it.
    pub statuses: &'a [(u32, Arc<Status>)],
    /// Runs every enabled filter for the pod on a (hypothetical) node, with a state.
    pub run_filters: &'a dyn Fn(&CycleState, &PodInfo, &NodeInfo) -> Status,
    /// Runs every PreFilter plugin's `add_pod` (`true`) or `remove_pod` (`false`) for a
    /// pod added to or removed from a node: `(state, preemptor, other pod, node, added)`.
    pub update_state: &'a dyn Fn(&mut CycleState, &PodInfo, &PodInfo, &NodeInfo, bool),
    /// PodDisruptionBudgets known to the scheduler.
    pub pdbs: &'a [Pdb],
    /// Where to start among candidate nodes (rotates between cycles).
    pub offset: usize,
}

/// What a PostFilter plugin decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostFilterResult {
    /// The pod should wait for `victims` to be deleted and then go to `node`.
    Nominated {
        /// The nominated node's name.
        node: String,
        /// Pods to delete (by the caller, through the API), most important first.
        victims: Vec<Victim>,
    },
    /// Nothing can be done; the message explains why (appended to the FitError message).
    Unresolved(String),
}

/// Runs when no node fits the pod (preemption).
pub trait PostFilterPlugin: Plugin {
    /// Tries to make room for the pod.
    fn post_filter(&self, ctx: &PostFilterContext<'_>, pod: &PodInfo) -> PostFilterResult;
}

/// Reserves resources for the pod on the chosen node before binding.
pub trait ReservePlugin: Plugin {
    /// Reserves; a rejection aborts the placement.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    /// Undoes `reserve` when a later step fails.
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// Binds the pod to the node (through the API's `binding` subresource in a full scheduler).
pub trait BindPlugin: Plugin {
    /// Binds; `Skip` lets the next bind plugin try.
    fn bind(&self, pod: &PodInfo, node: &str) -> Status;
}

/// Kubernetes' default score normalization: scale to `0..=MAX_NODE_SCORE` by the
/// highest score, reversed (higher raw score → lower final score) when `reverse`.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max <= 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - v } else { v };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_state_is_typed() {
        #[derive(Debug, PartialEq, Clone)]
        struct A(u32);
        #[derive(Debug, PartialEq, Clone)]
        struct B(&'static str);
        let mut s = CycleState::new();
        s.write(A(1));
        s.write(B("x"));
        s.write(A(2));
        assert_eq!(s.read::<A>(), Some(&A(2)));
        assert_eq!(s.read::<B>(), Some(&B("x")));
        let copy = s.clone();
        s.read_mut::<A>().unwrap().0 = 9;
        assert_eq!(copy.read::<A>(), Some(&A(2)), "copies are independent");
        assert_eq!(s.read::<A>(), Some(&A(9)));
        s.clear();
        assert_eq!(s.read::<A>(), None);
    }

    #[test]
    fn default_normalize_scales_and_reverses() {
        let mut s = [0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut s = [0, 5, 10];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 50, 0]);
        let mut s = [0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
    }

    #[test]
    fn events_cover_by_resource_and_action() {
        let interest = ClusterEvent {
            resource: EventResource::Node,
            actions: ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
        };
        assert!(interest.covers(&ClusterEvent::NODE_ADD));
        assert!(!interest.covers(&ClusterEvent::POD_DELETE));
        let taint = ClusterEvent {
            resource: EventResource::Node,
            actions: ActionType::UPDATE_NODE_TAINT,
        };
        assert!(!interest.covers(&taint));
    }
}
