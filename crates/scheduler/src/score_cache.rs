//! Borg's score caching.
//!
//! The node-local score parts (resource fit, balanced allocation, node
//! affinity preference, taint preference, recent failures) depend only on the
//! node and on the pod's score signature. The cache keeps one block per
//! signature, holding every node slot's `(generation, parts)` in slot order;
//! a part is reused while the node's generation, bumped on any change to the
//! node or its pods, is the one it was computed at.
//!
//! A scheduling cycle looks its pod's block up once and then reads it in the
//! order it visits nodes, which is slot order: one stream of consecutive
//! memory. Up to [`MAX_SIGNATURES`] signatures keep a block each, whatever
//! order their pods come in; past that, a new signature takes the block of
//! one picked at random. (Least recently used would be the worse choice:
//! pods of more owners than blocks, coming round in turn, would each find
//! their block just taken, and never hit.)
//!
//! (The cache this replaced kept eight entries per node in sets of two ways
//! chosen by the signature. Pods of ten ReplicaSets arriving interleaved, as
//! they do from concurrent clients, put three signatures in one set and
//! evicted each other at every visit: 30% of lookups missed in the e2e
//! benchmark, 63% in the algorithm benchmark with 4,999 nodes.)

use std::collections::HashMap;

/// Signatures with a block of their own: 56 bytes per node each with the
/// default plugins, 1.8 KB per node when all are in use.
pub const MAX_SIGNATURES: usize = 32;

/// One signature's entries: `[epoch, generation, parts...]` per slot.
#[derive(Debug)]
struct Block {
    sig: u64,
    /// Entries written under another epoch belong to a signature that had
    /// this block before.
    epoch: u64,
    data: Vec<u64>,
}

/// A signature's block, valid until the next [`ScoreCache::block_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockId(usize);

/// Score parts per signature and node slot.
#[derive(Debug)]
pub struct ScoreCache {
    parts: usize,
    /// Slots each block has room for.
    slots: usize,
    blocks: Vec<Block>,
    by_sig: HashMap<u64, usize>,
    /// The last epoch handed out.
    epoch: u64,
    /// xorshift state that picks the block a new signature takes.
    pick: u64,
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
            blocks: Vec::new(),
            by_sig: HashMap::new(),
            epoch: 0,
            pick: 0x2545_f491_4f6c_dd1d,
            hits: 0,
            misses: 0,
        }
    }

    fn stride(&self) -> usize {
        2 + self.parts
    }

    /// The block of `sig`: its own, a new one, or another signature's,
    /// emptied.
    pub fn block_of(&mut self, sig: u64) -> BlockId {
        if let Some(&b) = self.by_sig.get(&sig) {
            return BlockId(b);
        }
        // Epochs start at 1: a zeroed entry never matches.
        self.epoch += 1;
        let b = if self.blocks.len() < MAX_SIGNATURES {
            self.blocks.push(Block {
                sig,
                epoch: self.epoch,
                data: vec![0; self.slots * self.stride()],
            });
            self.blocks.len() - 1
        } else {
            self.pick ^= self.pick << 13;
            self.pick ^= self.pick >> 7;
            self.pick ^= self.pick << 17;
            let b = (self.pick % MAX_SIGNATURES as u64) as usize;
            let block = &mut self.blocks[b];
            self.by_sig.remove(&block.sig);
            block.sig = sig;
            block.epoch = self.epoch;
            b
        };
        self.by_sig.insert(sig, b);
        BlockId(b)
    }

    /// Makes room for `slot` in every block.
    fn ensure(&mut self, slot: usize) {
        if slot < self.slots {
            return;
        }
        // A quarter more at a time: blocks are per signature, so doubling
        // could leave a whole cluster's worth of room unused in each.
        self.slots = (slot + 1).max(self.slots + self.slots / 4).max(64);
        let len = self.slots * self.stride();
        for b in &mut self.blocks {
            b.data.resize(len, 0);
        }
    }

    /// The parts cached in `block` for `slot` at generation `gen`, copied into `out`.
    #[inline]
    pub fn get_into(&self, block: BlockId, slot: u32, gen: u64, out: &mut [i64]) -> bool {
        let slot = slot as usize;
        if slot >= self.slots {
            return false;
        }
        let b = &self.blocks[block.0];
        let stride = self.stride();
        let entry = &b.data[slot * stride..(slot + 1) * stride];
        if entry[0] != b.epoch || entry[1] != gen {
            return false;
        }
        for (o, v) in out.iter_mut().zip(&entry[2..]) {
            *o = *v as i64;
        }
        true
    }

    /// Stores the parts of `slot` at `gen` in `block`.
    pub fn put(&mut self, block: BlockId, slot: u32, gen: u64, parts: &[i64]) {
        let s = slot as usize;
        self.ensure(s);
        let stride = self.stride();
        let b = &mut self.blocks[block.0];
        let entry = &mut b.data[s * stride..(s + 1) * stride];
        entry[0] = b.epoch;
        entry[1] = gen;
        for (d, p) in entry[2..].iter_mut().zip(parts) {
            *d = *p as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(c: &mut ScoreCache, slot: u32, sig: u64, gen: u64) -> Option<Vec<i64>> {
        let b = c.block_of(sig);
        let mut out = vec![0; c.parts];
        c.get_into(b, slot, gen, &mut out).then_some(out)
    }

    fn put(c: &mut ScoreCache, slot: u32, sig: u64, gen: u64, parts: &[i64]) {
        let b = c.block_of(sig);
        c.put(b, slot, gen, parts);
    }

    #[test]
    fn hit_only_for_same_signature_and_generation() {
        let mut c = ScoreCache::new(2);
        assert_eq!(get(&mut c, 5, 1, 1), None);
        assert_eq!(get(&mut c, 5, 1, 0), None, "a zeroed entry is no hit");
        put(&mut c, 5, 1, 10, &[7, 8]);
        assert_eq!(get(&mut c, 5, 1, 10), Some(vec![7, 8]));
        assert_eq!(get(&mut c, 5, 1, 11), None);
        assert_eq!(get(&mut c, 5, 2, 10), None);
        put(&mut c, 5, 2, 10, &[1, 2]);
        assert_eq!(get(&mut c, 5, 1, 10), Some(vec![7, 8]), "two signatures");
        put(&mut c, 5, 1, 12, &[-5, 6]);
        assert_eq!(get(&mut c, 5, 1, 12), Some(vec![-5, 6]), "negative parts");
        // Growing past the first slots keeps what the blocks held.
        put(&mut c, 1000, 1, 3, &[9, 9]);
        assert_eq!(get(&mut c, 5, 1, 12), Some(vec![-5, 6]));
        assert_eq!(get(&mut c, 5, 2, 10), Some(vec![1, 2]));
        assert_eq!(get(&mut c, 1000, 1, 3), Some(vec![9, 9]));
        assert_eq!(get(&mut c, 5000, 1, 3), None);
    }

    #[test]
    fn every_signature_up_to_the_limit_keeps_its_parts_in_any_order() {
        let mut c = ScoreCache::new(1);
        let sigs: Vec<u64> = (0..MAX_SIGNATURES as u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for round in 0..3u64 {
            for (i, &sig) in sigs.iter().enumerate().rev() {
                for slot in 0..100 {
                    if round == 0 {
                        put(&mut c, slot, sig, 1, &[i as i64]);
                    } else {
                        assert_eq!(get(&mut c, slot, sig, 1), Some(vec![i as i64]));
                    }
                }
            }
        }
    }

    #[test]
    fn signatures_past_the_limit_take_blocks_and_keep_hitting_in_turn() {
        let mut c = ScoreCache::new(1);
        for sig in 0..MAX_SIGNATURES as u64 {
            put(&mut c, 0, sig, 1, &[sig as i64]);
        }
        let new = 1_000;
        assert_eq!(get(&mut c, 0, new, 1), None, "a new signature starts empty");
        put(&mut c, 0, new, 1, &[42]);
        assert_eq!(get(&mut c, 0, new, 1), Some(vec![42]));
        let kept = (0..MAX_SIGNATURES as u64)
            .filter(|&sig| get(&mut c, 0, sig, 1) == Some(vec![sig as i64]))
            .count();
        assert_eq!(kept, MAX_SIGNATURES - 1, "one signature gave its block up");
        // More signatures than blocks, coming round in turn, still hit often.
        let sigs = (MAX_SIGNATURES + MAX_SIGNATURES / 4) as u64;
        let (mut hits, mut looks) = (0, 0);
        for round in 0..50 {
            for sig in 0..sigs {
                let sig = 10_000 + sig;
                looks += u32::from(round > 0);
                if get(&mut c, 0, sig, 1).is_some() {
                    hits += u32::from(round > 0);
                } else {
                    put(&mut c, 0, sig, 1, &[0]);
                }
            }
        }
        assert!(hits * 2 > looks, "{hits} hits in {looks} looks");
    }
}
