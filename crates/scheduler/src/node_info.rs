//! A node as the scheduler sees it: its static part and what its pods use.
//!
//! [`NodeStatic`] is compiled once per node update (labels, taints,
//! allocatable); [`NodeInfo`] adds the pods placed there, their summed
//! requests and host ports, and a generation number that changes whenever any
//! of it changes. Borg's caches key their entries by that generation.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use crate::labels::{Labels, Taint};
use crate::pod_info::{HostPort, PodInfo, LABEL_HOSTNAME, LABEL_ZONE};
use crate::resources::Resources;

/// The part of a node that only changes when the Node object changes.
#[derive(Debug, Clone, Default)]
pub struct NodeStatic {
    /// Node name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// `status.allocatable` (unreadable quantities count as zero).
    pub allocatable: Resources,
    /// The zone label's value, if any.
    pub zone: Option<String>,
    /// The node has the hostname label.
    pub has_hostname: bool,
}

impl NodeStatic {
    /// Compiles a Node object. Missing fields mean an empty node with no capacity.
    pub fn from_node(node: &Node) -> Self {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        NodeStatic {
            name: node.metadata.name.clone().unwrap_or_default(),
            zone: labels.get(LABEL_ZONE).cloned(),
            has_hostname: labels.contains_key(LABEL_HOSTNAME),
            labels,
            taints: spec
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .map(Taint::from_api)
                .collect(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            allocatable: node
                .status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .map(Resources::from_list_lossy)
                .unwrap_or_default(),
        }
    }
}

/// A node and the pods on it.
///
/// `repr(C)` keeps the fields the per-node hot loops read (generation, zone, owner
/// counts) together at the start, in one or two cache lines.
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub struct NodeInfo {
    /// Changes whenever the node or its pods change; unique across all nodes.
    pub generation: u64,
    /// Interned id of the node's zone (`u32::MAX` without a zone label).
    pub zone_id: u32,
    /// Copy of `node.has_hostname`, kept inline for the spreading score's hot loop.
    pub has_hostname: bool,
    /// Pods per owner id (ids from [`crate::cache::OwnerCounts::id`]).
    pub owner_counts: OwnerTally,
    /// The node's slot in the cache.
    pub slot: u32,
    /// Sum of the scoring requests (cpu) of the pods on the node.
    pub non_zero_milli_cpu: i64,
    /// Sum of the scoring requests (memory) of the pods on the node.
    pub non_zero_memory: i64,
    /// The node's static part.
    pub node: Arc<NodeStatic>,
    /// Sum of the effective requests of the pods on the node.
    pub requested: Resources,
    /// The pods on the node (bound and assumed).
    pub pods: Vec<Arc<PodInfo>>,
    /// Host ports in use (one entry per pod port).
    pub used_ports: Vec<HostPort>,
    /// Pods on the node with any inter-pod affinity term.
    pub pods_with_affinity: u32,
    /// Pods on the node with required anti-affinity terms.
    pub pods_with_required_anti_affinity: u32,
    /// Pods nominated to this node by preemption, not yet placed.
    pub nominated: Vec<Arc<PodInfo>>,
    /// Recent failures of pods per owner uid on this node (Borg's task@machine penalty).
    pub failures: Vec<(String, u32)>,
}

/// Pod counts per owner id, the first few inline (most nodes run pods of few owners,
/// and the spreading score reads this for every node it scores).
#[derive(Debug, Clone, Default)]
pub struct OwnerTally {
    inline: [(u32, u32); 3],
    len: u8,
    spill: Vec<(u32, u32)>,
}

impl OwnerTally {
    /// Count for `id` (0 when absent).
    #[inline]
    pub fn get(&self, id: u32) -> u32 {
        for e in &self.inline[..self.len as usize] {
            if e.0 == id {
                return e.1;
            }
        }
        if self.spill.is_empty() {
            return 0;
        }
        self.spill.iter().find(|e| e.0 == id).map_or(0, |e| e.1)
    }

    /// Adds `n` to the count of `id`.
    pub fn add(&mut self, id: u32, n: u32) {
        if let Some(e) = self.inline[..self.len as usize]
            .iter_mut()
            .chain(self.spill.iter_mut())
            .find(|e| e.0 == id)
        {
            e.1 += n;
        } else if (self.len as usize) < self.inline.len() {
            self.inline[self.len as usize] = (id, n);
            self.len += 1;
        } else {
            self.spill.push((id, n));
        }
    }

    /// Subtracts one from the count of `id`, dropping it at zero.
    pub fn dec(&mut self, id: u32) {
        let len = self.len as usize;
        if let Some(i) = self.inline[..len].iter().position(|e| e.0 == id) {
            self.inline[i].1 -= 1;
            if self.inline[i].1 == 0 {
                self.inline[i] = self.inline[len - 1];
                self.len -= 1;
                if let Some(e) = self.spill.pop() {
                    self.inline[self.len as usize] = e;
                    self.len += 1;
                }
            }
        } else if let Some(i) = self.spill.iter().position(|e| e.0 == id) {
            self.spill[i].1 -= 1;
            if self.spill[i].1 == 0 {
                self.spill.swap_remove(i);
            }
        }
    }

    /// All `(id, count)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.inline[..self.len as usize]
            .iter()
            .chain(self.spill.iter())
            .copied()
    }
}

impl NodeInfo {
    /// A node with no pods.
    pub fn new(node: Arc<NodeStatic>) -> Self {
        NodeInfo {
            has_hostname: node.has_hostname,
            node,
            zone_id: u32::MAX,
            ..Default::default()
        }
    }

    /// Makes `self` a copy of `other`, reusing `self`'s allocations (preemption's dry
    /// runs copy thousands of nodes).
    pub fn copy_from(&mut self, other: &NodeInfo) {
        self.generation = other.generation;
        self.zone_id = other.zone_id;
        self.has_hostname = other.has_hostname;
        self.owner_counts.clone_from(&other.owner_counts);
        self.slot = other.slot;
        self.non_zero_milli_cpu = other.non_zero_milli_cpu;
        self.non_zero_memory = other.non_zero_memory;
        self.node.clone_from(&other.node);
        self.requested.clone_from(&other.requested);
        self.pods.clone_from(&other.pods);
        self.used_ports.clone_from(&other.used_ports);
        self.pods_with_affinity = other.pods_with_affinity;
        self.pods_with_required_anti_affinity = other.pods_with_required_anti_affinity;
        self.nominated.clone_from(&other.nominated);
        self.failures.clone_from(&other.failures);
    }

    /// Replaces the node's static part (a Node update), keeping its pods.
    pub fn set_node(&mut self, node: Arc<NodeStatic>) {
        self.has_hostname = node.has_hostname;
        self.node = node;
    }

    /// Node name.
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// Node labels.
    pub fn labels(&self) -> &Labels {
        &self.node.labels
    }

    /// Adds a pod's usage.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests.requests);
        self.non_zero_milli_cpu = self
            .non_zero_milli_cpu
            .saturating_add(pod.requests.non_zero_milli_cpu);
        self.non_zero_memory = self
            .non_zero_memory
            .saturating_add(pod.requests.non_zero_memory);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if !pod.affinity.is_empty() {
            self.pods_with_affinity += 1;
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pod);
    }

    /// Removes the pod with this key; returns it if it was there.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        self.remove_at(i)
    }

    /// Puts `pod` in the place of the pod with its key, leaving the sums as
    /// they are: for a pod whose footprint is unchanged.
    pub fn replace_pod(&mut self, pod: Arc<PodInfo>) -> bool {
        match self.pods.iter_mut().find(|p| p.key == pod.key) {
            Some(p) => {
                *p = pod;
                true
            }
            None => false,
        }
    }

    /// Removes this very pod (same allocation, or failing that same key).
    pub fn remove_pod_info(&mut self, pod: &Arc<PodInfo>) -> Option<Arc<PodInfo>> {
        match self.pods.iter().position(|p| Arc::ptr_eq(p, pod)) {
            Some(i) => self.remove_at(i),
            None => self.remove_pod(&pod.key),
        }
    }

    fn remove_at(&mut self, i: usize) -> Option<Arc<PodInfo>> {
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests.requests);
        self.non_zero_milli_cpu = self
            .non_zero_milli_cpu
            .saturating_sub(pod.requests.non_zero_milli_cpu)
            .max(0);
        self.non_zero_memory = self
            .non_zero_memory
            .saturating_sub(pod.requests.non_zero_memory)
            .max(0);
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        if !pod.affinity.is_empty() {
            self.pods_with_affinity = self.pods_with_affinity.saturating_sub(1);
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity =
                self.pods_with_required_anti_affinity.saturating_sub(1);
        }
        Some(pod)
    }

    /// Pods of the owner with this id on the node.
    pub fn owner_count(&self, owner_id: u32) -> u32 {
        self.owner_counts.get(owner_id)
    }

    /// Recent failures of pods of `owner_uid` on this node.
    pub fn failures_of(&self, owner_uid: &str) -> u32 {
        self.failures
            .iter()
            .find(|(o, _)| o == owner_uid)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};

    #[test]
    fn compiles_node_and_tolerates_missing_fields() {
        let n = NodeStatic::from_node(
            &NodeBuilder::new("n1")
                .zone("z1")
                .taint("k", "v", "NoSchedule")
                .build(),
        );
        assert_eq!(n.name, "n1");
        assert_eq!(n.zone.as_deref(), Some("z1"));
        assert_eq!(n.allocatable.milli_cpu, 4000);
        assert_eq!(n.allocatable.pods, 110);
        assert_eq!(n.taints.len(), 1);
        let empty = NodeStatic::from_node(&Node::default());
        assert_eq!(empty.allocatable, Resources::default());
        let weird = NodeStatic::from_node(
            &NodeBuilder::new("w")
                .cpu("1e3")
                .memory("1.5Gi")
                .allocatable("example.com/x", "junk")
                .build(),
        );
        assert_eq!(weird.allocatable.milli_cpu, 1_000_000);
        assert_eq!(weird.allocatable.memory, 1_610_612_736);
        assert_eq!(weird.allocatable.scalar("example.com/x"), 0);
    }

    #[test]
    fn owner_tally_spills_and_shrinks() {
        let mut t = OwnerTally::default();
        for id in 1..=5 {
            t.add(id, id);
        }
        assert_eq!((t.get(1), t.get(5), t.get(9)), (1, 5, 0));
        t.dec(1);
        assert_eq!(t.get(1), 0);
        assert_eq!(t.get(5), 5, "spilled entry moved inline");
        assert_eq!(t.iter().count(), 4);
    }

    #[test]
    fn add_and_remove_pods_keep_sums() {
        let mut n = NodeInfo::new(Arc::new(NodeStatic::from_node(
            &NodeBuilder::new("n").build(),
        )));
        let a = Arc::new(PodBuilder::new("a").cpu("1").host_port(80).build_info());
        let b = Arc::new(
            PodBuilder::new("b")
                .cpu("500m")
                .pod_anti_affinity(&[("x", "y")], "kubernetes.io/hostname")
                .build_info(),
        );
        n.add_pod(a);
        n.add_pod(b);
        assert_eq!(n.requested.milli_cpu, 1500);
        assert_eq!(n.used_ports.len(), 1);
        assert_eq!(n.pods_with_required_anti_affinity, 1);
        assert!(n.remove_pod("default/a").is_some());
        assert!(n.remove_pod("default/a").is_none());
        assert_eq!(n.requested.milli_cpu, 500);
        assert!(n.used_ports.is_empty());
        n.remove_pod("default/b");
        assert_eq!(n.pods_with_required_anti_affinity, 0);
        assert_eq!(n.non_zero_memory, 0);
    }
}
