//! Why a pod fits no node, in Kubernetes' words.
//!
//! [`FitError`] counts the reasons the filters gave over all nodes and renders
//! them as kube-scheduler does: `0/5 nodes are available: 2 Insufficient cpu,
//! 3 node(s) didn't match Pod's node affinity/selector. preemption: ...`. The
//! message goes into the pod's `PodScheduled=False` condition.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodCondition;

use crate::framework::Status;
use crate::preemption::Victim;

/// The start of every FitError message.
fn header(num_all_nodes: usize) -> String {
    format!("0/{num_all_nodes} nodes are available:")
}

/// Counts reasons over the statuses of rejecting nodes.
pub fn histogram<'a>(statuses: impl Iterator<Item = &'a Status>) -> BTreeMap<String, usize> {
    // Count by borrowed reason first: thousands of nodes share a handful of reasons.
    let mut counts: std::collections::HashMap<&'a str, usize> = std::collections::HashMap::new();
    let mut last: Option<(&'a Status, usize)> = None;
    for st in statuses {
        // Runs of the same interned status are common; count them in one go.
        match &mut last {
            Some((prev, n)) if std::ptr::eq(*prev, st) => *n += 1,
            _ => {
                if let Some((prev, n)) = last.take() {
                    for r in &prev.reasons {
                        *counts.entry(r.as_ref()).or_insert(0) += n;
                    }
                }
                last = Some((st, 1));
            }
        }
    }
    if let Some((prev, n)) = last {
        for r in &prev.reasons {
            *counts.entry(r.as_ref()).or_insert(0) += n;
        }
    }
    counts
        .into_iter()
        .map(|(r, n)| (r.to_string(), n))
        .collect()
}

/// Renders `0/N nodes are available: <count reason, ...>.` with the entries sorted as
/// strings, as kube-scheduler sorts them.
pub fn render(num_all_nodes: usize, reasons: &BTreeMap<String, usize>) -> String {
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    let mut msg = header(num_all_nodes);
    if !parts.is_empty() {
        msg.push(' ');
        msg.push_str(&parts.join(", "));
        msg.push('.');
    }
    msg
}

/// The node a preempting pod was nominated to and the pods to delete for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nomination {
    /// The nominated node (to write into `status.nominatedNodeName`).
    pub node: String,
    /// Pods the caller must delete through the API.
    pub victims: Vec<Victim>,
}

/// No node fits the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    /// The pod (`namespace/name`).
    pub pod: String,
    /// Number of nodes considered.
    pub num_all_nodes: usize,
    /// Reason → number of nodes that gave it.
    pub reasons: BTreeMap<String, usize>,
    /// Plugins that rejected at least one node (the queue retries the pod on events they care about).
    pub unschedulable_plugins: BTreeSet<&'static str>,
    /// Set when a PreFilter plugin rejected the pod outright.
    pub pre_filter_message: Option<String>,
    /// What preemption said, when it ran.
    pub post_filter_message: Option<String>,
    /// Set when preemption found room on a node.
    pub nomination: Option<Nomination>,
}

impl FitError {
    /// The kube-scheduler message.
    pub fn message(&self) -> String {
        // An empty cluster is kube-scheduler's ErrNoNodesAvailable, said
        // alone rather than as a count of nodes.
        if let (0, Some(pre)) = (self.num_all_nodes, &self.pre_filter_message) {
            return pre.clone();
        }
        let mut msg = header(self.num_all_nodes);
        if let Some(pre) = &self.pre_filter_message {
            msg.push_str(&format!(" {pre}."));
        } else {
            let mut parts: Vec<String> = self
                .reasons
                .iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect();
            parts.sort();
            if !parts.is_empty() {
                msg.push_str(&format!(" {}.", parts.join(", ")));
            }
        }
        if let Some(post) = &self.post_filter_message {
            msg.push_str(&format!(" {post}."));
        }
        msg
    }

    /// The `PodScheduled=False` condition to write into the pod's status.
    pub fn condition(&self) -> PodCondition {
        PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("Unschedulable".into()),
            message: Some(self.message()),
            ..Default::default()
        }
    }
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FitError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Status;

    #[test]
    fn message_matches_kube_scheduler() {
        let statuses = [
            Status::unschedulable("NodeResourcesFit", "Insufficient cpu"),
            Status::unschedulable("NodeResourcesFit", "Insufficient cpu"),
            Status::unresolvable(
                "NodeAffinity",
                "node(s) didn't match Pod's node affinity/selector",
            ),
            Status::unresolvable(
                "NodeAffinity",
                "node(s) didn't match Pod's node affinity/selector",
            ),
            Status::unresolvable(
                "NodeAffinity",
                "node(s) didn't match Pod's node affinity/selector",
            ),
        ];
        let e = FitError {
            pod: "default/p".into(),
            num_all_nodes: 5,
            reasons: histogram(statuses.iter()),
            unschedulable_plugins: BTreeSet::new(),
            pre_filter_message: None,
            post_filter_message: Some(
                "preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
                    .into(),
            ),
            nomination: None,
        };
        assert_eq!(
            e.message(),
            "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.."
        );
        let c = e.condition();
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_deref()),
            ("PodScheduled", "False", Some("Unschedulable"))
        );
    }

    #[test]
    fn render_sorts_as_strings() {
        let h: BTreeMap<String, usize> = [("b".to_string(), 10), ("a".to_string(), 2)].into();
        assert_eq!(render(12, &h), "0/12 nodes are available: 10 b, 2 a.");
    }
}
