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

/// Raw score parts per node slot: `WAYS` entries of `[signature, generation, parts...]`
/// laid out together, so a lookup touches one or two cache lines.
#[derive(Debug)]
pub struct ScoreCache {
    parts: usize,
    /// Per slot: `WAYS` entries of `2 + parts` words.
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
            data: Vec::new(),
            next: Vec::new(),
            hits: 0,
            misses: 0,
        }
    }

    fn stride(&self) -> usize {
        2 + self.parts
    }

    fn ensure(&mut self, slot: usize) {
        if slot >= self.next.len() {
            let n = slot + 1;
            self.next.resize(n, 0);
            self.data.resize(n * WAYS * self.stride(), 0);
        }
    }

    /// The cached parts of `slot` for signature `sig` at generation `gen`, copied into `out`.
    /// Returns false on a miss.
    #[inline]
    pub fn get_into(&self, slot: u32, sig: u64, gen: u64, out: &mut [i64]) -> bool {
        let stride = self.stride();
        let base = (slot as usize * WAYS + set_of(sig) * SET_WAYS) * stride;
        let Some(block) = self.data.get(base..base + SET_WAYS * stride) else {
            return false;
        };
        for entry in block.chunks_exact(stride) {
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
        let base = (s * WAYS + set_of(sig) * SET_WAYS) * stride;
        let way = match (0..SET_WAYS).find(|w| self.data[base + w * stride + 1] != gen) {
            Some(stale) => stale,
            None => {
                let w = self.next[s] as usize % SET_WAYS;
                self.next[s] = self.next[s].wrapping_add(1);
                w
            }
        };
        let e = base + way * stride;
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
    }
}
