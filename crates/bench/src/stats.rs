//! Statistics over measured samples: percentiles of latencies and
//! throughput over a wall-clock interval.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// How many samples the percentiles are drawn from.
    pub samples: usize,
    /// The median.
    pub p50_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The slowest sample.
    pub max_ms: f64,
}

impl Latencies {
    /// Summarises `samples`; `None` if there are none.
    pub fn from_samples(mut samples: Vec<Duration>) -> Option<Latencies> {
        samples.sort_unstable();
        Some(Latencies {
            samples: samples.len(),
            p50_ms: millis(percentile(&samples, 50.0)?),
            p99_ms: millis(percentile(&samples, 99.0)?),
            max_ms: millis(*samples.last()?),
        })
    }
}

/// The `p`th percentile (0 < p <= 100) of `sorted` by the nearest-rank
/// method: the smallest sample that at least `p` percent of the samples do
/// not exceed. `None` for no samples or a `p` out of range.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// A duration in (fractional) milliseconds.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Operations per second for `ops` operations done in `elapsed`.
pub fn per_second(ops: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        ops as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(ms(50)));
        assert_eq!(percentile(&sorted, 99.0), Some(ms(99)));
        assert_eq!(percentile(&sorted, 100.0), Some(ms(100)));
        assert_eq!(percentile(&sorted, 0.5), Some(ms(1)));
    }

    #[test]
    fn percentile_of_few_samples() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[ms(7)], 50.0), Some(ms(7)));
        assert_eq!(percentile(&[ms(7)], 99.0), Some(ms(7)));
        assert_eq!(percentile(&[ms(1), ms(2)], 50.0), Some(ms(1)));
        assert_eq!(percentile(&[ms(1), ms(2)], 99.0), Some(ms(2)));
        assert_eq!(percentile(&[ms(1)], 0.0), None);
        assert_eq!(percentile(&[ms(1)], f64::NAN), None);
    }

    #[test]
    fn latencies_sort_their_samples() {
        let samples = vec![ms(30), ms(10), ms(20), ms(40)];
        let l = Latencies::from_samples(samples).expect("samples");
        assert_eq!(l.samples, 4);
        assert_eq!(l.p50_ms, 20.0);
        assert_eq!(l.p99_ms, 40.0);
        assert_eq!(l.max_ms, 40.0);
        assert_eq!(Latencies::from_samples(Vec::new()), None);
    }

    #[test]
    fn throughput() {
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }
}
