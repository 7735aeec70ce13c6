//! Borg's relaxed randomization, as Kubernetes' `percentageOfNodesToScore`.
//!
//! The scheduler visits nodes from a rotating offset and stops once it has
//! found enough feasible nodes: by default `50% - nodes/125` of the cluster,
//! at least 5%, and never fewer than 100 nodes. A small deterministic PRNG
//! breaks ties between equally scored nodes, so a fixed seed gives a fixed
//! placement.

/// Never look for fewer feasible nodes than this (unless the cluster is smaller).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes to find before scoring. `percentage` is the configured
/// `percentageOfNodesToScore` (`None` or 0: adaptive).
pub fn num_feasible_nodes_to_find(num_all_nodes: usize, percentage: Option<u32>) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let pct = match percentage {
        Some(p) if p >= 100 => return num_all_nodes,
        Some(p) if p > 0 => p as usize,
        _ => 50usize
            .saturating_sub(num_all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND),
    };
    (num_all_nodes * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// SplitMix64: a tiny, fast, seedable generator (not for cryptography).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_default_rule() {
        assert_eq!(num_feasible_nodes_to_find(50, None), 50);
        assert_eq!(num_feasible_nodes_to_find(100, None), 100);
        // 1000 nodes: 50 - 8 = 42%.
        assert_eq!(num_feasible_nodes_to_find(1000, None), 420);
        // 5000 nodes: 50 - 40 = 10%.
        assert_eq!(num_feasible_nodes_to_find(5000, None), 500);
        // 10000 nodes: floor at 5%.
        assert_eq!(num_feasible_nodes_to_find(10000, None), 500);
        assert_eq!(
            num_feasible_nodes_to_find(5000, Some(1)),
            100,
            "never fewer than 100"
        );
        assert_eq!(num_feasible_nodes_to_find(5000, Some(100)), 5000);
        assert_eq!(num_feasible_nodes_to_find(5000, Some(30)), 1500);
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            let x = a.below(7);
            assert_eq!(x, b.below(7));
            assert!(x < 7);
        }
    }
}
