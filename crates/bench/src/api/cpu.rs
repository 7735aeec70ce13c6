//! How busy the machine was while a server was measured: the cores this
//! process used and those every other process used, from `/proc/stat` and
//! `/proc/self/stat`. On a shared machine, a busy neighbour skews every
//! figure; the report says so rather than leaving it to be guessed.

use super::report::CpuReport;

/// CPU time counters at one moment, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct CpuSample {
    /// Ticks of every CPU, busy or idle.
    total: u64,
    /// Ticks of every CPU spent busy (not idle nor waiting for I/O).
    busy: u64,
    /// Ticks this process spent running (user and system).
    process: u64,
    /// CPUs of the machine.
    cpus: usize,
}

impl CpuSample {
    /// Reads the counters; `None` where `/proc` does not have them.
    pub(super) fn now() -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        let (total, busy, cpus) = parse_machine(&stat)?;
        Some(CpuSample {
            total,
            busy,
            process: parse_process(&own)?,
            cpus,
        })
    }

    /// The average cores used between `self` and `later`.
    pub(super) fn until(&self, later: &CpuSample) -> Option<CpuReport> {
        let total = later.total.checked_sub(self.total)?;
        if total == 0 || later.cpus == 0 {
            return None;
        }
        let busy = later.busy.saturating_sub(self.busy);
        let process = later.process.saturating_sub(self.process);
        let cores = |ticks: u64| ticks as f64 / total as f64 * later.cpus as f64;
        Some(CpuReport {
            cpus: later.cpus,
            process_cores: cores(process.min(busy)),
            other_cores: cores(busy.saturating_sub(process)),
        })
    }
}

/// Total and busy ticks of all CPUs, and the number of CPUs, from the text
/// of `/proc/stat`.
fn parse_machine(stat: &str) -> Option<(u64, u64, usize)> {
    let mut lines = stat.lines();
    let all = lines.next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = all
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]:
    // guest time is already counted in user.
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    let cpus = lines
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    Some((total, total.saturating_sub(idle), cpus))
}

/// User and system ticks of a process, from the text of its
/// `/proc/<pid>/stat`.
fn parse_process(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses: count fields after
    // the last `)`. utime and stime are fields 14 and 15, the 12th and 13th
    // after the name.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 12345\n";

    #[test]
    fn reads_the_machine_and_a_process() {
        assert_eq!(parse_machine(STAT), Some((1000, 150, 2)));
        assert_eq!(parse_machine("intr 1\n"), None);
        let own =
            "4242 (cuttle (bench)) S 1 4242 4242 0 -1 4194560 100 0 0 0 70 30 0 0 20 0 8 0 5 0 0";
        assert_eq!(parse_process(own), Some(100));
        assert_eq!(parse_process("4242 (x) S 1"), None);
    }

    #[test]
    fn cores_of_this_process_and_of_others() {
        let before = CpuSample {
            total: 1000,
            busy: 100,
            process: 50,
            cpus: 2,
        };
        // 1000 ticks later on 2 CPUs: 600 busy, 400 of them this process'.
        let after = CpuSample {
            total: 2000,
            busy: 700,
            process: 450,
            cpus: 2,
        };
        let r = before.until(&after).expect("a report");
        assert_eq!((r.process_cores, r.other_cores), (0.8, 0.4));
        assert_eq!(after.until(&before), None);
    }

    #[test]
    fn reads_this_machine() {
        let Some(now) = CpuSample::now() else {
            return; // Not Linux.
        };
        assert!(now.cpus >= 1 && now.busy <= now.total);
    }
}
