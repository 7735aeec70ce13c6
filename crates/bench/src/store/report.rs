//! The store benchmark's report: its figures, a text table with one column
//! per backend, and one line of JSON.

use super::{BenchError, StoreBenchOptions};
use crate::stats::Latencies;
use crate::table;
use serde::{Deserialize, Serialize};

/// Everything one `cuttle bench store` run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreBenchReport {
    /// How long each throughput and watch measurement ran, in seconds.
    pub duration_secs: f64,
    /// Size of every value written.
    pub value_bytes: usize,
    /// The client counts measured, in order.
    pub clients: Vec<usize>,
    /// One entry per backend, in the order they were measured.
    pub backends: Vec<BackendReport>,
    /// Embedded against etcd put throughput, when both were measured.
    pub put_ratio: Option<PutRatio>,
}

/// The figures of one backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendReport {
    /// `sqlite` or `etcd`.
    pub backend: String,
    /// Where the store lived: its database file or its endpoint.
    pub location: String,
    /// Whole reads of a large range.
    pub range: RangeReport,
    /// The figures at each client count, in the order of
    /// [`StoreBenchReport::clients`].
    pub by_clients: Vec<ClientsReport>,
}

/// Reads of a whole range of keys, by one client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeReport {
    /// Keys in the range.
    pub keys: usize,
    /// Timed reads.
    pub reads: usize,
    /// Median time of one read, in milliseconds.
    pub p50_ms: f64,
    /// Slowest read, in milliseconds.
    pub max_ms: f64,
    /// How fast the range was written, in batched transactions.
    pub load_keys_per_sec: f64,
}

/// The figures at one client count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientsReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Single-key put transactions per second, all clients together.
    pub puts_per_sec: f64,
    /// Successful get-then-update cycles per second.
    pub cas_per_sec: f64,
    /// Updates that lost their compare (each client has its own key, so
    /// anything but 0 is a store bug).
    pub cas_conflicts: u64,
    /// Single-key reads per second.
    pub gets_per_sec: f64,
    /// From issuing a put to a watcher receiving its event, with `clients`
    /// writers.
    pub watch: Latencies,
    /// From a put's acknowledgement (the write is durable) to a watcher
    /// receiving its event; zero when the event arrived first.
    #[serde(default)]
    pub watch_delivery: Latencies,
}

/// How the embedded store's put throughput compares with etcd's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PutRatio {
    /// The client count compared (the largest measured).
    pub clients: usize,
    /// Embedded puts per second divided by etcd's.
    pub embedded_over_etcd: f64,
}

impl StoreBenchReport {
    pub(super) fn new(opts: &StoreBenchOptions, backends: Vec<BackendReport>) -> StoreBenchReport {
        let put_ratio = put_ratio(&backends);
        StoreBenchReport {
            duration_secs: opts.duration.as_secs_f64(),
            value_bytes: opts.value_bytes,
            clients: opts.clients.clone(),
            backends,
            put_ratio,
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> Result<String, BenchError> {
        Ok(serde_json::to_string(self)?)
    }

    /// The report as a table with one column per backend, a row per figure
    /// and client count.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "cuttle bench store: {} s per measurement, {}-byte values\n",
            self.duration_secs, self.value_bytes
        );
        for b in &self.backends {
            out.push_str(&format!("  {}: {}\n", b.backend, b.location));
        }
        out.push('\n');
        let header: Vec<String> = self.backends.iter().map(|b| b.backend.clone()).collect();
        let mut rows = Vec::new();
        let mut per_clients = |name: &str, figure: &dyn Fn(&ClientsReport) -> String| {
            for (i, &clients) in self.clients.iter().enumerate() {
                let label = format!(
                    "{name}, {clients} client{}",
                    if clients == 1 { "" } else { "s" }
                );
                let values = self
                    .backends
                    .iter()
                    .map(|b| b.by_clients.get(i).map_or_else(|| "-".into(), figure))
                    .collect();
                rows.push((label, values));
            }
        };
        per_clients("puts/s", &|c| format!("{:.0}", c.puts_per_sec));
        per_clients("CAS updates/s", &|c| format!("{:.0}", c.cas_per_sec));
        per_clients("gets/s", &|c| format!("{:.0}", c.gets_per_sec));
        per_clients("watch p50 ms", &|c| format!("{:.2}", c.watch.p50_ms));
        per_clients("watch p99 ms", &|c| format!("{:.2}", c.watch.p99_ms));
        per_clients("watch delivery p50 ms", &|c| {
            format!("{:.2}", c.watch_delivery.p50_ms)
        });
        per_clients("watch delivery p99 ms", &|c| {
            format!("{:.2}", c.watch_delivery.p99_ms)
        });
        let keys = self.backends.first().map_or(0, |b| b.range.keys);
        rows.push((
            format!("range of {keys} keys p50 ms"),
            self.backends
                .iter()
                .map(|b| format!("{:.2}", b.range.p50_ms))
                .collect(),
        ));
        rows.push((
            "CAS conflicts (all runs)".into(),
            self.backends
                .iter()
                .map(|b| {
                    let n: u64 = b.by_clients.iter().map(|c| c.cas_conflicts).sum();
                    n.to_string()
                })
                .collect(),
        ));
        out.push_str(&table::render(&header, &rows));
        if let Some(ratio) = &self.put_ratio {
            out.push_str(&format!(
                "\nembedded/etcd put throughput at {} clients: {:.2}x\n",
                ratio.clients, ratio.embedded_over_etcd
            ));
        }
        out
    }
}

/// The ratio at the largest client count both backends were measured at.
fn put_ratio(backends: &[BackendReport]) -> Option<PutRatio> {
    let find = |name: &str| backends.iter().find(|b| b.backend == name);
    let (embedded, etcd) = (find("sqlite")?, find("etcd")?);
    let clients = etcd.by_clients.iter().map(|c| c.clients).max()?;
    let at = |b: &BackendReport| {
        b.by_clients
            .iter()
            .find(|c| c.clients == clients)
            .map(|c| c.puts_per_sec)
    };
    let (embedded, etcd) = (at(embedded)?, at(etcd)?);
    (etcd > 0.0).then(|| PutRatio {
        clients,
        embedded_over_etcd: embedded / etcd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(name: &str, puts: &[(usize, f64)]) -> BackendReport {
        BackendReport {
            backend: name.into(),
            location: format!("/tmp/{name}"),
            range: RangeReport {
                keys: 10_000,
                reads: 11,
                p50_ms: 12.345,
                max_ms: 20.0,
                load_keys_per_sec: 50_000.0,
            },
            by_clients: puts
                .iter()
                .map(|&(clients, puts_per_sec)| ClientsReport {
                    clients,
                    puts_per_sec,
                    cas_per_sec: puts_per_sec / 2.0,
                    cas_conflicts: 0,
                    gets_per_sec: puts_per_sec * 10.0,
                    watch: Latencies {
                        samples: 100,
                        p50_ms: 1.5,
                        p99_ms: 9.25,
                        max_ms: 12.0,
                    },
                    watch_delivery: Latencies::default(),
                })
                .collect(),
        }
    }

    fn report(backends: Vec<BackendReport>) -> StoreBenchReport {
        let put_ratio = put_ratio(&backends);
        StoreBenchReport {
            duration_secs: 2.0,
            value_bytes: 256,
            clients: vec![1, 64],
            backends,
            put_ratio,
        }
    }

    #[test]
    fn ratio_is_taken_at_the_largest_client_count() {
        let r = report(vec![
            backend("sqlite", &[(1, 100.0), (64, 9000.0)]),
            backend("etcd", &[(1, 50.0), (64, 3000.0)]),
        ]);
        assert_eq!(
            r.put_ratio,
            Some(PutRatio {
                clients: 64,
                embedded_over_etcd: 3.0
            })
        );
        assert_eq!(
            report(vec![backend("sqlite", &[(64, 1.0)])]).put_ratio,
            None
        );
    }

    #[test]
    fn text_has_a_column_per_backend() {
        let r = report(vec![
            backend("sqlite", &[(1, 100.0), (64, 9000.0)]),
            backend("etcd", &[(1, 50.0), (64, 3000.0)]),
        ]);
        let text = r.to_text();
        let header = text
            .lines()
            .find(|l| l.trim_start().starts_with("sqlite") && l.contains("etcd"))
            .expect("header row");
        assert!(header.find("sqlite") < header.find("etcd"));
        let row = |label: &str| {
            text.lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("row {label:?} in\n{text}"))
                .split_whitespace()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
        };
        assert_eq!(row("puts/s, 64 clients"), ["3000", "9000"]);
        assert_eq!(row("puts/s, 1 client"), ["50", "100"]);
        assert_eq!(row("watch p99 ms, 1 client"), ["9.25", "9.25"]);
        assert_eq!(row("range of 10000 keys p50 ms"), ["12.35", "12.35"]);
        assert!(text.contains("embedded/etcd put throughput at 64 clients: 3.00x"));
    }

    #[test]
    fn json_is_one_line_that_reads_back() {
        let r = report(vec![backend("sqlite", &[(1, 100.0), (64, 9000.0)])]);
        let json = r.to_json().expect("json");
        assert!(!json.contains('\n'));
        let back: StoreBenchReport = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, r);
    }
}
