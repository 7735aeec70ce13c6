//! The scheduler's cache: every node with the pods bound or assumed on it.
//!
//! Nodes live in slots that keep their index for the node's lifetime, so the
//! equivalence and score caches can be plain vectors indexed by slot. Each
//! change to a node or its pods gives the node a fresh generation from one
//! global counter; a cached result is valid while the generation it was
//! computed at is still the node's. Per-owner counts of pods per node and per
//! zone are kept up to date here, so spreading an owner's replicas costs a
//! lookup per node instead of a walk over all pods.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use crate::node_info::{NodeInfo, NodeStatic};
use crate::pod_info::PodInfo;

/// Errors of cache operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The pod is already in the cache (bound or assumed).
    #[error("pod {0} is already in the scheduler cache")]
    PodExists(String),
    /// No node with this name is in the cache.
    #[error("node {0} is not in the scheduler cache")]
    UnknownNode(String),
    /// The pod is not in the cache.
    #[error("pod {0} is not in the scheduler cache")]
    UnknownPod(String),
    /// The pod is in the cache but bound, not assumed.
    #[error("pod {0} is bound, not assumed")]
    NotAssumed(String),
}

/// Where a cached pod is.
#[derive(Debug, Clone)]
pub struct PodEntry {
    /// Slot of the node it is on.
    pub slot: u32,
    /// The pod.
    pub info: Arc<PodInfo>,
    /// Assumed by the scheduler, binding not yet confirmed by the API.
    pub assumed: bool,
}

/// How many pods of one owner there are, in total and per zone.
#[derive(Debug, Clone, Default)]
pub struct OwnerCounts {
    /// The owner's interned id (what [`NodeInfo::owner_count`] takes).
    pub id: u32,
    /// Pods of the owner in the cache.
    pub total: u32,
    /// Pods per zone id (see [`NodeInfo::zone_id`]).
    pub per_zone: HashMap<u32, u32>,
}

/// What spreading needs to know about a node, packed (24 bytes per slot) so a scan
/// over hundreds of nodes stays in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeTopology {
    /// Zone id (`u32::MAX` without a zone label).
    pub zone_id: u32,
    /// The node has the hostname label.
    pub has_hostname: bool,
    /// More owners than fit in `owners`: look at [`NodeInfo::owner_count`].
    pub spilled: bool,
    /// The first owners' `(id, pod count)` (id 0: empty).
    pub owners: [(u32, u32); 2],
}

impl Default for NodeTopology {
    fn default() -> Self {
        NodeTopology {
            zone_id: u32::MAX,
            has_hostname: false,
            spilled: false,
            owners: [(0, 0); 2],
        }
    }
}

impl NodeTopology {
    /// Pods of owner `id` on the node, or `None` when the answer is only in the
    /// [`NodeInfo`] (more owners than fit here).
    #[inline]
    pub fn owner_count(&self, id: u32) -> Option<u32> {
        for (o, n) in self.owners {
            if o == id && n > 0 {
                return Some(n);
            }
        }
        if self.spilled {
            None
        } else {
            Some(0)
        }
    }

    fn of(info: &NodeInfo) -> Self {
        let mut t = NodeTopology {
            zone_id: info.zone_id,
            has_hostname: info.has_hostname,
            ..Default::default()
        };
        for (i, e) in info.owner_counts.iter().enumerate() {
            if i < t.owners.len() {
                t.owners[i] = e;
            } else {
                t.spilled = true;
                break;
            }
        }
        t
    }
}

#[derive(Debug, Clone, Default)]
struct Slot {
    info: NodeInfo,
    /// The Node object exists (a slot can outlive its node while pods remain).
    present: bool,
    in_use: bool,
}

/// Nodes and the pods on them.
#[derive(Debug, Default)]
pub struct Cache {
    slots: Vec<Slot>,
    /// Each slot's generation, packed (the filter loop reads only this on cache hits).
    generations: Vec<u64>,
    /// Each slot's topology, packed (see [`NodeTopology`]).
    topology: Vec<NodeTopology>,
    free: Vec<u32>,
    nodes: Vec<u32>,
    by_name: HashMap<String, u32>,
    pods: HashMap<String, PodEntry>,
    nominations: HashMap<String, u32>,
    generation: u64,
    owners: HashMap<String, OwnerCounts>,
    next_owner_id: u32,
    pods_with_required_anti_affinity: usize,
    pods_with_affinity: usize,
    zones: HashMap<String, u32>,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Slots of the nodes that exist, in the order they were added.
    pub fn nodes(&self) -> &[u32] {
        &self.nodes
    }

    /// Number of nodes that exist.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Upper bound of slot indices (for vectors indexed by slot).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The node in `slot`.
    ///
    /// # Panics
    /// If `slot` was never handed out by this cache.
    pub fn node(&self, slot: u32) -> &NodeInfo {
        &self.slots[slot as usize].info
    }

    /// The slot of the node named `name`, if the node exists.
    pub fn slot_of(&self, name: &str) -> Option<u32> {
        self.by_name
            .get(name)
            .copied()
            .filter(|s| self.slots[*s as usize].present)
    }

    /// A cached pod.
    pub fn pod(&self, key: &str) -> Option<&PodEntry> {
        self.pods.get(key)
    }

    /// Number of pods in the cache.
    pub fn num_pods(&self) -> usize {
        self.pods.len()
    }

    /// Total and per-zone pod counts of one owner (by owner uid); per-node counts are
    /// in [`NodeInfo::owner_count`].
    pub fn owner_counts(&self, owner_uid: &str) -> Option<&OwnerCounts> {
        self.owners.get(owner_uid)
    }

    /// Number of placed pods with required anti-affinity terms, cluster-wide.
    pub fn pods_with_required_anti_affinity(&self) -> usize {
        self.pods_with_required_anti_affinity
    }

    /// Number of placed pods with any inter-pod affinity term, cluster-wide.
    pub fn pods_with_affinity(&self) -> usize {
        self.pods_with_affinity
    }

    fn touch(&mut self, slot: u32) {
        self.generation += 1;
        self.slots[slot as usize].info.generation = self.generation;
        let i = slot as usize;
        if i >= self.generations.len() {
            self.generations.resize(i + 1, 0);
            self.topology.resize(i + 1, NodeTopology::default());
        }
        self.generations[i] = self.generation;
        self.topology[i] = NodeTopology::of(&self.slots[i].info);
    }

    /// The packed topology of the node in `slot`.
    #[inline]
    pub fn topology(&self, slot: u32) -> &NodeTopology {
        &self.topology[slot as usize]
    }

    /// The generation of the node in `slot` (same as `node(slot).generation`, from a
    /// packed array).
    #[inline]
    pub fn generation(&self, slot: u32) -> u64 {
        self.generations[slot as usize]
    }

    /// Whether any pod is nominated anywhere.
    #[inline]
    pub fn has_nominations(&self) -> bool {
        !self.nominations.is_empty()
    }

    /// Number of distinct zone ids handed out (zone ids are below this).
    pub fn num_zone_ids(&self) -> usize {
        self.zones.len()
    }

    fn zone_id(&mut self, zone: Option<&String>) -> u32 {
        let Some(z) = zone else { return u32::MAX };
        let next = self.zones.len() as u32;
        *self.zones.entry(z.clone()).or_insert(next)
    }

    fn alloc_slot(&mut self, node: NodeStatic, present: bool) -> u32 {
        let name = node.name.clone();
        let zone_id = self.zone_id(node.zone.as_ref());
        let mut info = NodeInfo::new(Arc::new(node));
        info.zone_id = zone_id;
        let slot = Slot {
            info,
            present,
            in_use: true,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[idx as usize].info.slot = idx;
        self.by_name.insert(name, idx);
        if present {
            self.nodes.push(idx);
        }
        self.touch(idx);
        idx
    }

    /// Adds a node, or updates it when a node of that name exists. Returns its slot.
    pub fn upsert_node(&mut self, node: &Node) -> u32 {
        let compiled = NodeStatic::from_node(node);
        match self.by_name.get(&compiled.name).copied() {
            None => self.alloc_slot(compiled, true),
            Some(slot) => {
                let zone_id = self.zone_id(compiled.zone.as_ref());
                let s = &mut self.slots[slot as usize];
                let old_zone = s.info.zone_id;
                s.info.set_node(Arc::new(compiled));
                s.info.zone_id = zone_id;
                if !s.present {
                    s.present = true;
                    self.nodes.push(slot);
                }
                if old_zone != zone_id {
                    self.move_owner_zones(slot, old_zone, zone_id);
                }
                self.touch(slot);
                slot
            }
        }
    }

    fn move_owner_zones(&mut self, slot: u32, old: u32, new: u32) {
        let counts: Vec<(u32, u32)> = self.slots[slot as usize].info.owner_counts.iter().collect();
        for (id, n) in counts {
            let Some(c) = self.owners.values_mut().find(|c| c.id == id) else {
                continue;
            };
            if old != u32::MAX {
                dec_zone(&mut c.per_zone, old, n);
            }
            if new != u32::MAX {
                *c.per_zone.entry(new).or_default() += n;
            }
        }
    }

    /// Removes a node. Pods still on it keep its slot (as Kubernetes does) until they
    /// are removed; filters no longer see the node.
    pub fn remove_node(&mut self, name: &str) -> Result<(), CacheError> {
        let slot = self
            .slot_of(name)
            .ok_or_else(|| CacheError::UnknownNode(name.to_string()))?;
        self.nodes.retain(|s| *s != slot);
        let s = &mut self.slots[slot as usize];
        s.present = false;
        for p in std::mem::take(&mut s.info.nominated) {
            self.nominations.remove(&p.key);
        }
        self.touch(slot);
        self.release_if_empty(slot);
        Ok(())
    }

    fn release_if_empty(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if !s.present && s.info.pods.is_empty() && s.in_use {
            s.in_use = false;
            let name = std::mem::take(&mut s.info.node);
            s.info = NodeInfo::default();
            self.by_name.remove(&name.name);
            self.free.push(slot);
        }
    }

    /// Places a pod on a node: `assumed` for the scheduler's own decision before the
    /// binding is confirmed, bound otherwise. A bound pod that is already assumed
    /// confirms the assumption (moving it if it landed elsewhere).
    pub fn add_pod(
        &mut self,
        pod: Arc<PodInfo>,
        node_name: &str,
        assumed: bool,
    ) -> Result<(), CacheError> {
        if let Some(existing) = self.pods.get(&pod.key) {
            if assumed || !existing.assumed {
                return Err(CacheError::PodExists(pod.key.clone()));
            }
            // The API confirms our own placement: the node keeps its pods,
            // sums and generation, and the caches keyed on that generation
            // their entries (taking the pod out and in again changed it
            // twice: 18k of the e2e bench's 163k equivalence-cache misses;
            // the rest come from the assumptions and the first visits).
            let slot = existing.slot;
            if self.by_name.get(node_name) == Some(&slot) && existing.info.is_confirmed_by(&pod) {
                self.clear_nomination(&pod.key);
                if self.slots[slot as usize].info.replace_pod(pod.clone()) {
                    self.pods.insert(
                        pod.key.clone(),
                        PodEntry {
                            slot,
                            info: pod,
                            assumed: false,
                        },
                    );
                    return Ok(());
                }
            }
            self.remove_pod(&pod.key)?;
        }
        let slot = match self.by_name.get(node_name).copied() {
            Some(s) if !assumed || self.slots[s as usize].present => s,
            _ if assumed => return Err(CacheError::UnknownNode(node_name.to_string())),
            Some(s) => s,
            // A bound pod may arrive before its node: keep it on a placeholder.
            None => self.alloc_slot(
                NodeStatic {
                    name: node_name.to_string(),
                    ..Default::default()
                },
                false,
            ),
        };
        self.clear_nomination(&pod.key);
        if let Some(owner) = &pod.owner {
            let next = &mut self.next_owner_id;
            let counts = self.owners.entry(owner.uid.clone()).or_insert_with(|| {
                *next = next.wrapping_add(1);
                OwnerCounts {
                    id: *next,
                    ..Default::default()
                }
            });
            counts.total += 1;
            let info = &mut self.slots[slot as usize].info;
            if info.zone_id != u32::MAX {
                *counts.per_zone.entry(info.zone_id).or_default() += 1;
            }
            info.owner_counts.add(counts.id, 1);
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity += 1;
        }
        if !pod.affinity.is_empty() {
            self.pods_with_affinity += 1;
        }
        self.slots[slot as usize].info.add_pod(pod.clone());
        self.pods.insert(
            pod.key.clone(),
            PodEntry {
                slot,
                info: pod,
                assumed,
            },
        );
        self.touch(slot);
        Ok(())
    }

    /// Removes a pod (bound or assumed).
    pub fn remove_pod(&mut self, key: &str) -> Result<Arc<PodInfo>, CacheError> {
        self.clear_nomination(key);
        let entry = self
            .pods
            .remove(key)
            .ok_or_else(|| CacheError::UnknownPod(key.to_string()))?;
        let slot = entry.slot;
        let pod = self.slots[slot as usize]
            .info
            .remove_pod(key)
            .unwrap_or(entry.info);
        if let Some(owner) = &pod.owner {
            if let Some(counts) = self.owners.get_mut(&owner.uid) {
                let info = &mut self.slots[slot as usize].info;
                if info.zone_id != u32::MAX {
                    dec_zone(&mut counts.per_zone, info.zone_id, 1);
                }
                info.owner_counts.dec(counts.id);
                counts.total = counts.total.saturating_sub(1);
                if counts.total == 0 {
                    self.owners.remove(&owner.uid);
                }
            }
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity =
                self.pods_with_required_anti_affinity.saturating_sub(1);
        }
        if !pod.affinity.is_empty() {
            self.pods_with_affinity = self.pods_with_affinity.saturating_sub(1);
        }
        self.touch(slot);
        self.release_if_empty(slot);
        Ok(pod)
    }

    /// Forgets an assumed pod (its binding failed).
    pub fn forget_pod(&mut self, key: &str) -> Result<Arc<PodInfo>, CacheError> {
        match self.pods.get(key) {
            None => Err(CacheError::UnknownPod(key.to_string())),
            Some(e) if !e.assumed => Err(CacheError::NotAssumed(key.to_string())),
            Some(_) => self.remove_pod(key),
        }
    }

    /// Records that a pod of `owner_uid` failed on `node_name` (Borg: steer the owner's
    /// next pods away from this node).
    pub fn record_failure(&mut self, owner_uid: &str, node_name: &str) -> Result<(), CacheError> {
        let slot = self
            .slot_of(node_name)
            .ok_or_else(|| CacheError::UnknownNode(node_name.to_string()))?;
        let failures = &mut self.slots[slot as usize].info.failures;
        match failures.iter_mut().find(|(o, _)| o == owner_uid) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => failures.push((owner_uid.to_string(), 1)),
        }
        self.touch(slot);
        Ok(())
    }

    /// Forgets all recorded failures (the driver calls this when they are no longer recent).
    pub fn clear_failures(&mut self) {
        for i in 0..self.slots.len() {
            if !self.slots[i].info.failures.is_empty() {
                self.slots[i].info.failures.clear();
                self.touch(i as u32);
            }
        }
    }

    /// Records that `pod` is nominated to `node_name` by preemption.
    pub fn nominate(&mut self, pod: Arc<PodInfo>, node_name: &str) -> Result<(), CacheError> {
        let slot = self
            .slot_of(node_name)
            .ok_or_else(|| CacheError::UnknownNode(node_name.to_string()))?;
        self.clear_nomination(&pod.key);
        self.nominations.insert(pod.key.clone(), slot);
        self.slots[slot as usize].info.nominated.push(pod);
        Ok(())
    }

    /// Drops the nomination of the pod with this key, if any.
    pub fn clear_nomination(&mut self, key: &str) {
        if let Some(slot) = self.nominations.remove(key) {
            self.slots[slot as usize]
                .info
                .nominated
                .retain(|p| p.key != key);
        }
    }

    /// The node a pod is nominated to, if any.
    pub fn nominated_node(&self, key: &str) -> Option<&str> {
        self.nominations
            .get(key)
            .map(|s| self.slots[*s as usize].info.name())
    }
}

fn dec_zone(map: &mut HashMap<u32, u32>, zone: u32, n: u32) {
    if let Some(v) = map.get_mut(&zone) {
        *v = v.saturating_sub(n);
        if *v == 0 {
            map.remove(&zone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};

    fn pod(name: &str, owner: &str) -> Arc<PodInfo> {
        Arc::new(PodBuilder::new(name).owner(owner).cpu("1").build_info())
    }

    #[test]
    fn generations_change_on_every_node_or_pod_change() {
        let mut c = Cache::new();
        let a = c.upsert_node(&NodeBuilder::new("a").build());
        let b = c.upsert_node(&NodeBuilder::new("b").build());
        let (ga, gb) = (c.node(a).generation, c.node(b).generation);
        c.add_pod(pod("p", "rs"), "a", true).unwrap();
        assert!(c.node(a).generation > ga);
        assert_eq!(c.node(b).generation, gb);
        let g = c.node(a).generation;
        c.upsert_node(&NodeBuilder::new("a").label("x", "y").build());
        assert!(c.node(a).generation > g);
        assert_eq!(c.node(a).requested.milli_cpu, 1000, "update keeps pods");
    }

    #[test]
    fn confirming_an_assumed_pod_as_it_was_leaves_its_node_alone() {
        let mut c = Cache::new();
        let a = c.upsert_node(&NodeBuilder::new("a").build());
        c.add_pod(pod("p", "rs"), "a", true).unwrap();
        let g = c.node(a).generation;
        // The API's copy carries the node name the binding set, and so
        // another equivalence class.
        let mut bound = (*pod("p", "rs")).clone();
        bound.node_name = Some("a".into());
        bound.equivalence_class = bound.equivalence_class.map(|c| c ^ 1);
        c.add_pod(Arc::new(bound.clone()), "a", false).unwrap();
        assert_eq!(c.node(a).generation, g, "nothing changed on the node");
        assert!(!c.pod("default/p").unwrap().assumed, "confirmed");
        assert_eq!(
            c.pod("default/p").unwrap().info.node_name.as_deref(),
            Some("a")
        );
        assert_eq!(c.node(a).pods.len(), 1);
        assert_eq!(c.node(a).requested.milli_cpu, 1000);
        // A pod that changed meanwhile is taken out and put back.
        c.add_pod(pod("q", "rs"), "a", true).unwrap();
        let g = c.node(a).generation;
        let mut relabelled = (*pod("q", "rs")).clone();
        relabelled.node_name = Some("a".into());
        relabelled.labels.insert("tier".into(), "web".into());
        c.add_pod(Arc::new(relabelled), "a", false).unwrap();
        assert!(c.node(a).generation > g);
        assert_eq!(c.node(a).pods.len(), 2);
        assert_eq!(c.node(a).requested.milli_cpu, 2000);
        // A confirmed pod's update is no confirmation.
        assert_eq!(
            c.add_pod(Arc::new(bound), "a", false),
            Err(CacheError::PodExists("default/p".into()))
        );
    }

    #[test]
    fn assume_confirm_forget() {
        let mut c = Cache::new();
        c.upsert_node(&NodeBuilder::new("a").build());
        c.upsert_node(&NodeBuilder::new("b").build());
        c.add_pod(pod("p", "rs"), "a", true).unwrap();
        assert_eq!(
            c.add_pod(pod("p", "rs"), "a", true),
            Err(CacheError::PodExists("default/p".into()))
        );
        // The binding landed on b after all: confirmation moves it.
        c.add_pod(pod("p", "rs"), "b", false).unwrap();
        assert_eq!(c.node(c.slot_of("a").unwrap()).pods.len(), 0);
        assert_eq!(c.node(c.slot_of("b").unwrap()).pods.len(), 1);
        assert_eq!(
            c.forget_pod("default/p").unwrap_err(),
            CacheError::NotAssumed("default/p".into())
        );
        c.add_pod(pod("q", "rs"), "a", true).unwrap();
        c.forget_pod("default/q").unwrap();
        assert_eq!(c.num_pods(), 1);
        assert_eq!(
            c.add_pod(pod("r", "rs"), "nowhere", true),
            Err(CacheError::UnknownNode("nowhere".into()))
        );
    }

    #[test]
    fn owner_counts_follow_pods_and_zone_changes() {
        let mut c = Cache::new();
        let a = c.upsert_node(&NodeBuilder::new("a").zone("z1").build());
        c.add_pod(pod("p1", "rs"), "a", false).unwrap();
        c.add_pod(pod("p2", "rs"), "a", false).unwrap();
        let counts = c.owner_counts("rs").unwrap();
        assert_eq!(c.node(a).owner_count(counts.id), 2);
        assert_eq!(c.topology(a).owner_count(counts.id), Some(2));
        assert_eq!(c.topology(a).owner_count(counts.id + 100), Some(0));
        let z1 = c.node(a).zone_id;
        assert_eq!(counts.per_zone[&z1], 2);
        c.upsert_node(&NodeBuilder::new("a").zone("z2").build());
        let z2 = c.node(a).zone_id;
        assert_ne!(z1, z2);
        let counts = c.owner_counts("rs").unwrap();
        assert_eq!(counts.per_zone.get(&z1), None);
        assert_eq!(counts.per_zone[&z2], 2);
        c.remove_pod("default/p1").unwrap();
        c.remove_pod("default/p2").unwrap();
        assert!(c.owner_counts("rs").is_none());
    }

    #[test]
    fn removed_node_keeps_pods_until_they_go_and_slot_is_reused() {
        let mut c = Cache::new();
        let a = c.upsert_node(&NodeBuilder::new("a").build());
        c.add_pod(pod("p", "rs"), "a", false).unwrap();
        c.remove_node("a").unwrap();
        assert_eq!(c.num_nodes(), 0);
        assert_eq!(c.slot_of("a"), None);
        let g = c.node(a).generation;
        c.remove_pod("default/p").unwrap();
        let b = c.upsert_node(&NodeBuilder::new("b").build());
        assert_eq!(a, b, "slot reused");
        assert!(
            c.node(b).generation > g,
            "a reused slot never looks unchanged"
        );
        // A bound pod for an unknown node waits on a placeholder.
        c.add_pod(pod("q", "rs"), "later", false).unwrap();
        assert_eq!(c.num_nodes(), 1);
        let l = c.upsert_node(&NodeBuilder::new("later").build());
        assert_eq!(c.node(l).pods.len(), 1);
    }

    #[test]
    fn failures_and_nominations() {
        let mut c = Cache::new();
        let a = c.upsert_node(&NodeBuilder::new("a").build());
        c.record_failure("rs", "a").unwrap();
        c.record_failure("rs", "a").unwrap();
        assert_eq!(c.node(a).failures_of("rs"), 2);
        c.clear_failures();
        assert_eq!(c.node(a).failures_of("rs"), 0);
        c.nominate(pod("p", "rs"), "a").unwrap();
        assert_eq!(c.nominated_node("default/p"), Some("a"));
        c.add_pod(pod("p", "rs"), "a", true).unwrap();
        assert_eq!(c.nominated_node("default/p"), None);
        assert!(c.node(a).nominated.is_empty());
    }
}
