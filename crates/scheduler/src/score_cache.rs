//! Borg's score caching.
//!
//! The node-local score parts (resource fit, balanced allocation, node
//! affinity preference, taint preference, recent failures) depend only on the
//! node and on the pod's score signature. Each node slot keeps a small
//! set-associative table of `(signature, generation) → parts` entries (the
//! signature picks a set of two ways), so a dozen different pod shapes can be
//! cached per node without evicting each other in turn; a part is reused while
//! the node's generation, bumped on any change to the node or its pods, is the
//! one it was computed at.

/// Sets per node (the signature picks one).
const SETS: usize = 4;
/// Ways per set.
const SET_WAYS: usize = 2;
/// Entries per node.
const WAYS: usize = SETS * SET_WAYS;

/// Raw score parts: `WAYS` blocks (one per way of each set), each holding
/// every slot's entry `[signature, generation, parts...]` in slot order.
/// One pod's signature picks one set, so the lookups of a scheduling cycle,
/// which visits nodes in slot order, read consecutive memory in two blocks.
/// (With each slot's eight entries side by side, those lookups strode 450
/// bytes per node and missed the cache at nearly every node: three
/// quarters of the scheduling thread's own time with 5,000 nodes.)
#[derive(Debug)]
pub struct ScoreCache {
    parts: usize,
    /// Slots each block has room for.
    slots: usize,
    data: Vec<u64>,
    next: Vec<u8>,
    /// Nodes whose parts came from the cache.
    pub hits: u64,
    /// Nodes whose parts were computed.
    pub misses: u64,
}

impl ScoreCache {
    /// A cache for `parts` node-local score plugins.
    pub fn new(parts: usize) -> Self {
        ScoreCache {
            parts,
            slots: 0,
            data: Vec::new(),
            next: Vec::new(),
            hits: 0,
            misses: 0,
        }
    }

    fn stride(&self) -> usize {
        2 + self.parts
    }

    /// Where the entry of `way` (of all `WAYS`) for `slot` starts.
    #[inline]
    fn entry(&self, way: usize, slot: usize) -> usize {
        (way * self.slots + slot) * self.stride()
    }

    /// Makes room for `slot`, doubling the blocks (and moving what they hold).
    fn ensure(&mut self, slot: usize) {
        if slot < self.slots {
            return;
        }
        let stride = self.stride();
        let slots = (slot + 1).next_power_of_two().max(64);
        let mut data = vec![0; WAYS * slots * stride];
        let used = self.slots * stride;
        for way in 0..WAYS {
            let (from, to) = (way * used, way * slots * stride);
            data[to..to + used].copy_from_slice(&self.data[from..from + used]);
        }
        self.data = data;
        self.slots = slots;
        self.next.resize(slots, 0);
    }

    /// The cached parts of `slot` for signature `sig` at generation `gen`, copied into `out`.
    /// Returns false on a miss.
    #[inline]
    pub fn get_into(&self, slot: u32, sig: u64, gen: u64, out: &mut [i64]) -> bool {
        let slot = slot as usize;
        if slot >= self.slots {
            return false;
        }
        let stride = self.stride();
        for way in 0..SET_WAYS {
            let e = self.entry(set_of(sig) * SET_WAYS + way, slot);
            let entry = &self.data[e..e + stride];
            if entry[0] == sig && entry[1] == gen {
                for (o, v) in out.iter_mut().zip(&entry[2..]) {
                    *o = *v as i64;
                }
                return true;
            }
        }
        false
    }

    /// The cached parts of `slot` for signature `sig` at generation `gen`.
    pub fn get(&self, slot: u32, sig: u64, gen: u64) -> Option<Vec<i64>> {
        let mut out = vec![0; self.parts];
        self.get_into(slot, sig, gen, &mut out).then_some(out)
    }

    /// Stores the parts of `slot` for `sig` at `gen`, replacing a stale entry first.
    pub fn put(&mut self, slot: u32, sig: u64, gen: u64, parts: &[i64]) {
        let s = slot as usize;
        self.ensure(s);
        let stride = self.stride();
        let first = set_of(sig) * SET_WAYS;
        let way = match (0..SET_WAYS).find(|w| self.data[self.entry(first + w, s) + 1] != gen) {
            Some(stale) => stale,
            None => {
                let w = self.next[s] as usize % SET_WAYS;
                self.next[s] = self.next[s].wrapping_add(1);
                w
            }
        };
        let e = self.entry(first + way, s);
        self.data[e] = sig;
        self.data[e + 1] = gen;
        for (d, p) in self.data[e + 2..e + stride].iter_mut().zip(parts) {
            *d = *p as u64;
        }
    }
}

/// The set a signature maps to.
#[inline]
fn set_of(sig: u64) -> usize {
    (sig >> 59) as usize % SETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_only_for_same_signature_and_generation() {
        let mut c = ScoreCache::new(2);
        assert_eq!(c.get(5, 1, 1), None);
        c.put(5, 1, 10, &[7, 8]);
        assert_eq!(c.get(5, 1, 10), Some(vec![7, 8]));
        assert_eq!(c.get(5, 1, 11), None);
        assert_eq!(c.get(5, 2, 10), None);
        c.put(5, 2, 10, &[1, 2]);
        assert_eq!(
            c.get(5, 1, 10),
            Some(vec![7, 8]),
            "two signatures side by side"
        );
        // A new generation replaces stale entries first.
        c.put(5, 1, 11, &[3, 4]);
        assert_eq!(c.get(5, 1, 11), Some(vec![3, 4]));
        c.put(5, 1, 12, &[-5, 6]);
        assert_eq!(c.get(5, 1, 12), Some(vec![-5, 6]), "negative parts survive");
        // Signatures in different sets never evict each other.
        let sigs: Vec<u64> = (0..SETS as u64).map(|i| i << 59).collect();
        for &sig in &sigs {
            c.put(7, sig, 1, &[sig as i64, 0]);
        }
        assert!(sigs.iter().all(|&sig| c.get(7, sig, 1).is_some()));
        // Growing past the first blocks keeps what they held.
        c.put(1000, 1, 3, &[9, 9]);
        assert_eq!(c.get(5, 1, 12), Some(vec![-5, 6]));
        assert!(sigs.iter().all(|&sig| c.get(7, sig, 1).is_some()));
        assert_eq!(c.get(1000, 1, 3), Some(vec![9, 9]));
        assert_eq!(c.get(5000, 1, 3), None);
    }
}
