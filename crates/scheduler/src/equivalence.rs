//! Borg's equivalence classes.
//!
//! Pods with one controlling owner and an identical spec (as far as the
//! node-local filters can tell: requests, ports, node name, node selector and
//! required affinity, tolerations) form a class. The class remembers, per node,
//! whether the node passed the node-local filters and at which node generation;
//! the next pod of the class reuses that answer for every node that has not
//! changed since. Failures are interned so a cached answer is one `u32`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::Status;

/// Outcome id of a node that passed.
pub const PASS: u32 = 0;

/// Cached outcomes of one class, indexed by node slot.
#[derive(Debug, Default)]
pub struct ClassEntry {
    results: Vec<(u64, u32)>,
    last_used: u64,
}

impl ClassEntry {
    /// The cached outcome for `slot`, if computed at generation `gen`.
    #[inline]
    pub fn get(&self, slot: u32, gen: u64) -> Option<u32> {
        match self.results.get(slot as usize) {
            Some(&(g, outcome)) if g == gen => Some(outcome),
            _ => None,
        }
    }

    /// Remembers the outcome for `slot` at generation `gen`.
    #[inline]
    pub fn put(&mut self, slot: u32, gen: u64, outcome: u32) {
        let i = slot as usize;
        if i >= self.results.len() {
            self.results.resize(i + 1, (0, PASS));
        }
        self.results[i] = (gen, outcome);
    }
}

/// All classes, with least-recently-used eviction.
#[derive(Debug)]
pub struct EquivalenceCache {
    classes: HashMap<u64, ClassEntry>,
    statuses: Vec<Arc<Status>>,
    index: HashMap<Arc<Status>, u32>,
    tick: u64,
    capacity: usize,
    /// Node evaluations answered from the cache.
    pub hits: u64,
    /// Node evaluations that ran the filters.
    pub misses: u64,
}

/// Interned failures kept before the whole cache is reset.
const MAX_STATUSES: usize = 1 << 16;

impl EquivalenceCache {
    /// A cache holding up to `capacity` classes.
    pub fn new(capacity: usize) -> Self {
        EquivalenceCache {
            classes: HashMap::new(),
            statuses: Vec::new(),
            index: HashMap::new(),
            tick: 0,
            capacity: capacity.max(1),
            hits: 0,
            misses: 0,
        }
    }

    /// Takes a class's entry out for one cycle (a fresh one if unknown).
    pub fn take(&mut self, class: u64) -> ClassEntry {
        self.classes.remove(&class).unwrap_or_default()
    }

    /// Puts a class's entry back after the cycle, evicting the least recently used class
    /// when over capacity.
    pub fn put_back(&mut self, class: u64, mut entry: ClassEntry) {
        self.tick += 1;
        entry.last_used = self.tick;
        if self.classes.len() >= self.capacity {
            if let Some(oldest) = self
                .classes
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            {
                self.classes.remove(&oldest);
            }
        }
        self.classes.insert(class, entry);
    }

    /// Interns a failure; returns its outcome id (never [`PASS`]), or the status itself
    /// when the table is full (then it is not cached; [`EquivalenceCache::reset_if_full`]
    /// empties the table between cycles).
    pub fn intern(&mut self, status: Status) -> Result<u32, Arc<Status>> {
        if let Some(id) = self.index.get(&status) {
            return Ok(*id);
        }
        let st = Arc::new(status);
        if self.statuses.len() >= MAX_STATUSES {
            return Err(st);
        }
        self.statuses.push(st.clone());
        let id = self.statuses.len() as u32;
        self.index.insert(st, id);
        Ok(id)
    }

    /// The failure behind an outcome id from [`EquivalenceCache::intern`].
    pub fn status(&self, outcome: u32) -> Option<&Arc<Status>> {
        self.statuses.get((outcome as usize).checked_sub(1)?)
    }

    /// Drops everything when the failure table is full. Call between cycles only (no
    /// class entry taken out), since it invalidates outcome ids.
    pub fn reset_if_full(&mut self) {
        if self.statuses.len() >= MAX_STATUSES {
            self.clear();
        }
    }

    /// Number of classes held.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether no class is held.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.classes.clear();
        self.statuses.clear();
        self.index.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_valid_only_at_their_generation() {
        let mut e = ClassEntry::default();
        assert_eq!(e.get(3, 1), None);
        e.put(3, 7, PASS);
        assert_eq!(e.get(3, 7), Some(PASS));
        assert_eq!(e.get(3, 8), None, "node changed since");
        assert_eq!(e.get(2, 7), None);
    }

    #[test]
    fn failures_are_interned_and_classes_evicted_lru() {
        let mut c = EquivalenceCache::new(2);
        let a = c
            .intern(Status::unschedulable("X", "Insufficient cpu"))
            .unwrap();
        let b = c
            .intern(Status::unschedulable("X", "Insufficient cpu"))
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, PASS);
        assert_eq!(c.status(a).unwrap().reasons, vec!["Insufficient cpu"]);
        assert!(c.status(PASS).is_none());
        for class in [1, 2, 3] {
            let e = c.take(class);
            c.put_back(class, e);
        }
        assert_eq!(c.len(), 2);
        let mut e = c.take(1);
        assert_eq!(e.get(0, 1), None, "class 1 was evicted");
        e.put(0, 1, PASS);
    }
}
