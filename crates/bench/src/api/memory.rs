//! Resident memory of this process, as `/proc/self/status` reports it: the
//! in-process apiserver's memory is measured as the growth of the
//! process's resident set while pods are stored.

use super::error::ApiBenchError;
use super::report::MemoryReport;
use std::time::Duration;

/// How long the watch cache may take to apply the last writes before
/// memory is read.
const CACHE_WAIT: Duration = Duration::from_secs(30);

/// The process's resident memory at one moment, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Rss {
    /// `VmRSS`: every resident page.
    pub total: u64,
    /// `RssAnon`: resident anonymous pages (the heap), without mapped
    /// files.
    pub anon: u64,
}

impl Rss {
    /// Reads this process's resident memory.
    pub(super) fn now() -> Result<Rss, ApiBenchError> {
        let status = std::fs::read_to_string("/proc/self/status").map_err(ApiBenchError::Memory)?;
        parse_status(&status).ok_or_else(|| {
            ApiBenchError::Memory(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no VmRSS line",
            ))
        })
    }
}

/// The process's memory and the object JSON its apiserver holds, at one
/// moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    /// Resident memory.
    pub rss: Rss,
    /// Bytes of object JSON in the watch cache.
    pub json: u64,
}

impl Snapshot {
    /// Waits for the watch cache to have applied every write the store has
    /// committed, then reads the process's memory.
    pub(super) async fn take(
        running: &cuttle_apiserver::Running,
        target: &str,
    ) -> Result<Snapshot, ApiBenchError> {
        let unexpected = |detail: String| ApiBenchError::Unexpected {
            target: target.to_owned(),
            phase: "memory",
            detail,
        };
        let rev = running
            .api
            .store
            .revisions()
            .await
            .map_err(|e| unexpected(format!("reading the store's revision: {e}")))?
            .current;
        if !running.api.cache.wait_for(rev, CACHE_WAIT).await {
            return Err(unexpected(format!(
                "the watch cache did not reach revision {rev} within {} s",
                CACHE_WAIT.as_secs()
            )));
        }
        Ok(Snapshot {
            rss: Rss::now()?,
            json: running.api.cache.stored_bytes() as u64,
        })
    }
}

/// Memory with `pods` pods stored since `baseline`; `previous` is the
/// snapshot of the level before and its pod count.
pub(super) fn report(
    baseline: Snapshot,
    previous: Option<(Snapshot, usize)>,
    now: Snapshot,
    pods: usize,
) -> MemoryReport {
    let rss_delta = now.rss.total.saturating_sub(baseline.rss.total);
    let json = now.json.saturating_sub(baseline.json);
    let per = |bytes: u64, n: usize| if n == 0 { 0.0 } else { bytes as f64 / n as f64 };
    MemoryReport {
        pods,
        rss_bytes: now.rss.total,
        rss_delta_bytes: rss_delta,
        rss_anon_delta_bytes: now.rss.anon.saturating_sub(baseline.rss.anon),
        json_bytes: json,
        rss_per_pod: per(rss_delta, pods),
        json_per_pod: per(json, pods),
        rss_over_json: if json == 0 {
            0.0
        } else {
            rss_delta as f64 / json as f64
        },
        marginal_rss_per_pod: previous
            .filter(|(_, n)| *n < pods)
            .map(|(before, n)| per(now.rss.total.saturating_sub(before.rss.total), pods - n)),
    }
}

/// The resident sizes in the text of `/proc/<pid>/status`; `None` without
/// a `VmRSS` line. A missing `RssAnon` (kernels before 4.5) reads as the
/// total.
pub(super) fn parse_status(status: &str) -> Option<Rss> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kb: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
            Some(kb * 1024)
        })
    };
    let total = field("VmRSS")?;
    Some(Rss {
        total,
        anon: field("RssAnon").unwrap_or(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resident_sizes() {
        let status = "Name:\tcuttle\nVmHWM:\t  99999 kB\nVmRSS:\t   20480 kB\nRssAnon:\t   16384 kB\nRssFile:\t    4096 kB\n";
        assert_eq!(
            parse_status(status),
            Some(Rss {
                total: 20480 * 1024,
                anon: 16384 * 1024
            })
        );
        assert_eq!(
            parse_status("VmRSS:\t 10 kB\n"),
            Some(Rss {
                total: 10240,
                anon: 10240
            })
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
        assert_eq!(parse_status("VmRSS:\tlots\n"), None);
    }

    fn snapshot(rss_mb: u64, json_mb: u64) -> Snapshot {
        Snapshot {
            rss: Rss {
                total: rss_mb << 20,
                anon: (rss_mb << 20) - 4096,
            },
            json: json_mb << 20,
        }
    }

    #[test]
    fn memory_per_pod_against_json() {
        let baseline = snapshot(100, 1);
        let at_10k = snapshot(150, 21);
        let m = report(baseline, None, at_10k, 10_000);
        assert_eq!(m.rss_delta_bytes, 50 << 20);
        assert_eq!(m.json_bytes, 20 << 20);
        assert_eq!(m.rss_over_json, 2.5);
        assert_eq!(m.rss_per_pod, (50 << 20) as f64 / 10_000.0);
        assert_eq!(m.marginal_rss_per_pod, None);
        let at_20k = snapshot(170, 41);
        let m = report(baseline, Some((at_10k, 10_000)), at_20k, 20_000);
        assert_eq!(m.marginal_rss_per_pod, Some((20 << 20) as f64 / 10_000.0));
        // Memory that shrank, and no pods, give zeros rather than nonsense.
        let m = report(at_10k, None, baseline, 0);
        assert_eq!(
            (m.rss_delta_bytes, m.rss_per_pod, m.rss_over_json),
            (0, 0.0, 0.0)
        );
    }

    #[test]
    fn reads_this_process() {
        let rss = Rss::now().expect("/proc/self/status");
        assert!(rss.total > 0 && rss.anon <= rss.total);
    }
}
