//! The apiserver benchmark's report: its figures, the goals, a
//! text table with one column per server, and one line of JSON.

use super::error::ApiBenchError;
use crate::stats::Latencies;
use crate::table;
use serde::{Deserialize, Serialize};

/// Everything one `cuttle bench api` run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiBenchReport {
    /// How long each create measurement (and each series of gets) ran, in
    /// seconds.
    pub duration_secs: f64,
    /// Size of one pod's JSON as sent (the server adds defaults and
    /// metadata to what it stores).
    pub pod_bytes: usize,
    /// The client counts creates were measured at, in order.
    pub clients: Vec<usize>,
    /// The numbers of stored pods gets and lists were measured at.
    pub levels: Vec<usize>,
    /// Concurrent clients loading pods up to each level.
    pub load_clients: usize,
    /// One entry per server, in the order they were measured.
    pub targets: Vec<TargetReport>,
}

/// The figures of one server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The column it is reported under: `cuttle` for the in-process
    /// apiserver, `kubeconfig` for the server a kubeconfig named.
    pub target: String,
    /// The server's URL.
    pub url: String,
    /// The server's `gitVersion`.
    pub version: String,
    /// Whether the apiserver ran inside the benchmark's process (and its
    /// memory was measured).
    pub in_process: bool,
    /// Creates at each client count, in the order of
    /// [`ApiBenchReport::clients`].
    pub creates: Vec<CreatesReport>,
    /// Gets and lists at each level, in the order of
    /// [`ApiBenchReport::levels`].
    pub levels: Vec<LevelReport>,
    /// Watch fan-out, unless it was skipped.
    pub watch: Option<WatchReport>,
    /// How busy the machine was while this server was measured.
    pub cpu: Option<CpuReport>,
    /// The goals this run could check.
    pub goals: Vec<Goal>,
}

/// Creates at one client count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatesReport {
    /// Concurrent clients, each waiting for its create's answer before
    /// sending the next.
    pub clients: usize,
    /// Pods created per second, all clients together.
    pub creates_per_sec: f64,
    /// From sending a create to reading its whole answer.
    pub latency: Latencies,
}

/// Reads with a number of pods stored in the namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelReport {
    /// Pods in the namespace read.
    pub pods: usize,
    /// How fast the pods were created to get here (pods per second).
    pub load_per_sec: f64,
    /// Gets of random pods by name, by one client.
    pub get: Latencies,
    /// Whole lists of the namespace (no limit), each until its last byte.
    pub list: Latencies,
    /// Size of one whole list.
    pub list_bytes: u64,
    /// The page size of the paged lists.
    pub page_limit: usize,
    /// First pages of `page_limit` pods.
    pub page: Latencies,
    /// The in-process apiserver's memory with these pods stored.
    pub memory: Option<MemoryReport>,
}

/// Resident memory against the JSON of the stored objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryReport {
    /// Pods stored since the baseline (every namespace of the run).
    pub pods: usize,
    /// The process's resident memory (`VmRSS`).
    pub rss_bytes: u64,
    /// Growth of `VmRSS` since the baseline, taken before the first pod.
    pub rss_delta_bytes: u64,
    /// Growth of the anonymous resident memory (`RssAnon`, the heap).
    pub rss_anon_delta_bytes: u64,
    /// Growth of the object JSON the watch cache holds.
    pub json_bytes: u64,
    /// `rss_delta_bytes` per pod.
    pub rss_per_pod: f64,
    /// `json_bytes` per pod.
    pub json_per_pod: f64,
    /// `rss_delta_bytes / json_bytes`.
    pub rss_over_json: f64,
    /// Growth of `VmRSS` per pod since the previous level, free of the
    /// run's fixed costs (connections, caches warming up).
    pub marginal_rss_per_pod: Option<f64>,
}

/// Watch fan-out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchReport {
    /// Watches of the namespace.
    pub watchers: usize,
    /// Connections they shared.
    pub connections: usize,
    /// `HTTP/2`, or `HTTP/1.1` when the server did not offer it.
    pub protocol: String,
    /// Pods created while they watched.
    pub events: usize,
    /// Pods created per second.
    pub rate_per_sec: f64,
    /// Time to start every watch.
    pub setup_ms: f64,
    /// Events every watcher should have received (`events * watchers`).
    pub expected: u64,
    /// Events received.
    pub delivered: u64,
    /// Watches that ended (or stalled) before their last event.
    pub ended_early: usize,
    /// From a create's send to its event's arrival, over every delivery.
    pub latency: Latencies,
}

/// The cores in use while a server was measured, on average.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuReport {
    /// CPUs of the machine.
    pub cpus: usize,
    /// Cores this process used (the clients, and an in-process server).
    pub process_cores: f64,
    /// Cores every other process used (an outside server, and anything
    /// else running on the machine).
    pub other_cores: f64,
}

/// Cores other processes may use during an in-process run before the
/// report warns that its figures are skewed.
const BUSY_NEIGHBOURS: f64 = 0.25;

/// One of the goals, checked against this run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// What is measured, as the table labels it.
    pub figure: String,
    /// The figure measured.
    pub value: f64,
    /// It must be under this.
    pub limit: f64,
    /// Whether it was.
    pub met: bool,
}

impl ApiBenchReport {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> Result<String, ApiBenchError> {
        Ok(serde_json::to_string(self)?)
    }

    /// The report as a table with one column per server, then the goals.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "cuttle bench api: {} s per create measurement, {}-byte pods, levels loaded by {} clients\n",
            self.duration_secs, self.pod_bytes, self.load_clients
        );
        for t in &self.targets {
            let kind = if t.in_process {
                ", in-process, embedded store"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {}: {} ({}{kind})\n",
                t.target, t.url, t.version
            ));
        }
        out.push('\n');
        let header: Vec<String> = self.targets.iter().map(|t| t.target.clone()).collect();
        let mut rows = Vec::new();
        self.creates_rows(&mut rows);
        rows.push((String::new(), Vec::new()));
        self.level_rows(&mut rows);
        if self.targets.iter().any(|t| t.in_process) {
            rows.push((String::new(), Vec::new()));
            self.memory_rows(&mut rows);
        }
        if self.targets.iter().any(|t| t.watch.is_some()) {
            rows.push((String::new(), Vec::new()));
            self.watch_rows(&mut rows);
        }
        if self.targets.iter().any(|t| t.cpu.is_some()) {
            rows.push((String::new(), Vec::new()));
            rows.push(self.row("CPU cores used, this process".into(), |t| {
                t.cpu.as_ref().map(|c| format!("{:.2}", c.process_cores))
            }));
            rows.push(self.row("CPU cores used, other processes".into(), |t| {
                t.cpu.as_ref().map(|c| format!("{:.2}", c.other_cores))
            }));
        }
        out.push_str(&table::render(&header, &rows));
        for t in &self.targets {
            match &t.cpu {
                Some(c) if t.in_process && c.other_cores > BUSY_NEIGHBOURS => {
                    out.push_str(&format!(
                        "\nwarning: other processes used {:.2} of {} cores while {} was measured: its figures are skewed\n",
                        c.other_cores, c.cpus, t.target
                    ));
                }
                _ => {}
            }
        }
        for t in self.targets.iter().filter(|t| !t.goals.is_empty()) {
            out.push_str(&format!("\ngoals ({}):\n", t.target));
            for g in &t.goals {
                out.push_str(&format!(
                    "  {} under {}: {:.2}  {}\n",
                    g.figure,
                    g.limit,
                    g.value,
                    if g.met { "met" } else { "MISSED" }
                ));
            }
        }
        out
    }

    /// A row with a value per target; `-` where `figure` has none.
    fn row(&self, label: String, figure: impl Fn(&TargetReport) -> Option<String>) -> Row {
        let values = self
            .targets
            .iter()
            .map(|t| figure(t).unwrap_or_else(|| "-".into()))
            .collect();
        (label, values)
    }

    fn creates_rows(&self, rows: &mut Vec<Row>) {
        type Figure = fn(&CreatesReport) -> String;
        let figures: [(&str, Figure); 3] = [
            ("creates/s", |c| format!("{:.0}", c.creates_per_sec)),
            ("create p50 ms", |c| format!("{:.2}", c.latency.p50_ms)),
            ("create p99 ms", |c| format!("{:.2}", c.latency.p99_ms)),
        ];
        for (name, figure) in figures {
            for (i, &clients) in self.clients.iter().enumerate() {
                let label = format!("{name}, {clients} client{}", plural(clients));
                rows.push(self.row(label, |t| t.creates.get(i).map(figure)));
            }
        }
    }

    fn level_rows(&self, rows: &mut Vec<Row>) {
        type Figure = fn(&LevelReport) -> String;
        let figures: [(&str, Figure); 7] = [
            ("load creates/s", |l| format!("{:.0}", l.load_per_sec)),
            ("get p50 ms", |l| format!("{:.2}", l.get.p50_ms)),
            ("get p99 ms", |l| format!("{:.2}", l.get.p99_ms)),
            ("list p50 ms", |l| format!("{:.1}", l.list.p50_ms)),
            ("list p99 ms", |l| format!("{:.1}", l.list.p99_ms)),
            ("list MB", |l| format!("{:.1}", l.list_bytes as f64 / 1e6)),
            ("list limit=500 p50 ms", |l| format!("{:.2}", l.page.p50_ms)),
        ];
        for (i, &pods) in self.levels.iter().enumerate() {
            for (name, figure) in figures {
                let name = if name.contains("limit=") {
                    format!("list limit={} p50 ms", self.page_limit())
                } else {
                    name.to_owned()
                };
                rows.push(self.row(format!("{name}, {pods} pods"), |t| {
                    t.levels.get(i).map(figure)
                }));
            }
        }
    }

    fn page_limit(&self) -> usize {
        self.targets
            .iter()
            .flat_map(|t| t.levels.first())
            .map(|l| l.page_limit)
            .next()
            .unwrap_or(500)
    }

    fn memory_rows(&self, rows: &mut Vec<Row>) {
        type Figure = fn(&MemoryReport) -> Option<String>;
        let figures: [(&str, Figure); 4] = [
            ("RSS growth per pod B", |m| {
                Some(format!("{:.0}", m.rss_per_pod))
            }),
            ("JSON per pod B", |m| Some(format!("{:.0}", m.json_per_pod))),
            ("RSS growth / JSON", |m| {
                Some(format!("{:.2}", m.rss_over_json))
            }),
            ("RSS growth per pod B, since the previous level", |m| {
                m.marginal_rss_per_pod.map(|b| format!("{b:.0}"))
            }),
        ];
        for (i, &pods) in self.levels.iter().enumerate() {
            for (name, figure) in figures {
                if i == 0 && name.contains("previous") {
                    continue;
                }
                rows.push(self.row(format!("{name}, {pods} pods"), |t| {
                    t.levels.get(i)?.memory.as_ref().and_then(figure)
                }));
            }
        }
    }

    fn watch_rows(&self, rows: &mut Vec<Row>) {
        let Some(w) = self.targets.iter().find_map(|t| t.watch.as_ref()) else {
            return;
        };
        let n = w.watchers;
        let watch = |t: &TargetReport| t.watch.clone();
        rows.push(
            self.row(format!("watch delivery p50 ms, {n} watchers"), |t| {
                watch(t).map(|w| format!("{:.2}", w.latency.p50_ms))
            }),
        );
        rows.push(
            self.row(format!("watch delivery p99 ms, {n} watchers"), |t| {
                watch(t).map(|w| format!("{:.2}", w.latency.p99_ms))
            }),
        );
        rows.push(
            self.row(format!("watch delivery max ms, {n} watchers"), |t| {
                watch(t).map(|w| format!("{:.2}", w.latency.max_ms))
            }),
        );
        rows.push(self.row("watch events delivered".into(), |t| {
            watch(t).map(|w| format!("{}/{}", w.delivered, w.expected))
        }));
        rows.push(self.row("watches ended early".into(), |t| {
            watch(t).map(|w| w.ended_early.to_string())
        }));
        rows.push(self.row("watch setup ms".into(), |t| {
            watch(t).map(|w| format!("{:.0}", w.setup_ms))
        }));
        rows.push(self.row("watch connections".into(), |t| {
            watch(t).map(|w| format!("{} {}", w.connections, w.protocol))
        }));
    }
}

type Row = (String, Vec<String>);

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Create p99 with this many clients must be under [`CREATE_P99_MS`].
pub const GOAL_CREATE_CLIENTS: usize = 64;
/// The goal for create p99 at [`GOAL_CREATE_CLIENTS`] clients.
pub const CREATE_P99_MS: f64 = 10.0;
/// A whole list of this many pods must take under [`LIST_MS`].
pub const GOAL_LIST_PODS: usize = 10_000;
/// The goal for a list of [`GOAL_LIST_PODS`] pods (its p99).
pub const LIST_MS: f64 = 100.0;
/// Watch delivery p99 to at least this many watchers must be under
/// [`WATCH_P99_MS`].
pub const GOAL_WATCHERS: usize = 1000;
/// The goal for watch delivery p99.
pub const WATCH_P99_MS: f64 = 100.0;
/// Resident memory growth must stay under this many times the stored JSON
/// (checked from [`GOAL_MEMORY_PODS`] pods on, where the run's fixed costs
/// no longer dominate).
pub const RSS_OVER_JSON: f64 = 2.0;
/// The fewest pods the memory goal is checked at.
pub const GOAL_MEMORY_PODS: usize = 10_000;

impl TargetReport {
    /// The goals that this target's figures can check: those
    /// measured at the goal's size.
    pub fn check_goals(&self) -> Vec<Goal> {
        let goal = |figure: String, value: f64, limit: f64| Goal {
            figure,
            value,
            limit,
            met: value < limit,
        };
        let mut goals = Vec::new();
        if let Some(c) = self
            .creates
            .iter()
            .find(|c| c.clients == GOAL_CREATE_CLIENTS)
        {
            goals.push(goal(
                format!("create p99 ms, {GOAL_CREATE_CLIENTS} clients"),
                c.latency.p99_ms,
                CREATE_P99_MS,
            ));
        }
        if let Some(l) = self.levels.iter().find(|l| l.pods == GOAL_LIST_PODS) {
            goals.push(goal(
                format!("list p99 ms, {GOAL_LIST_PODS} pods"),
                l.list.p99_ms,
                LIST_MS,
            ));
        }
        if let Some(w) = self.watch.as_ref().filter(|w| w.watchers >= GOAL_WATCHERS) {
            let mut g = goal(
                format!("watch delivery p99 ms, {} watchers", w.watchers),
                w.latency.p99_ms,
                WATCH_P99_MS,
            );
            // Events never delivered have no latency: they fail the goal.
            g.met &= w.delivered == w.expected;
            goals.push(g);
        }
        if let Some((pods, m)) = self
            .levels
            .iter()
            .rev()
            .filter(|l| l.pods >= GOAL_MEMORY_PODS)
            .find_map(|l| Some((l.pods, l.memory.as_ref()?)))
        {
            goals.push(goal(
                format!("RSS growth / JSON, {pods} pods"),
                m.rss_over_json,
                RSS_OVER_JSON,
            ));
        }
        goals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lat(p50: f64, p99: f64) -> Latencies {
        Latencies {
            samples: 10,
            p50_ms: p50,
            p99_ms: p99,
            max_ms: p99 * 2.0,
        }
    }

    fn target(name: &str, in_process: bool) -> TargetReport {
        let mut t = TargetReport {
            target: name.into(),
            url: "https://127.0.0.1:6443/".into(),
            version: "v1.33.0".into(),
            in_process,
            creates: [1, 64]
                .iter()
                .map(|&clients| CreatesReport {
                    clients,
                    creates_per_sec: 1000.0 * clients as f64,
                    latency: lat(1.0, 4.5),
                })
                .collect(),
            levels: [10_000, 100_000]
                .iter()
                .map(|&pods| LevelReport {
                    pods,
                    load_per_sec: 5000.0,
                    get: lat(0.5, 1.0),
                    list: lat(pods as f64 / 400.0, pods as f64 / 200.0),
                    list_bytes: pods as u64 * 2000,
                    page_limit: 500,
                    page: lat(3.0, 4.0),
                    memory: in_process.then(|| MemoryReport {
                        pods,
                        rss_bytes: 1 << 30,
                        rss_delta_bytes: pods as u64 * 3000,
                        rss_anon_delta_bytes: pods as u64 * 2900,
                        json_bytes: pods as u64 * 2000,
                        rss_per_pod: 3000.0,
                        json_per_pod: 2000.0,
                        rss_over_json: 1.5,
                        marginal_rss_per_pod: (pods > 10_000).then_some(2900.0),
                    }),
                })
                .collect(),
            watch: Some(WatchReport {
                watchers: 1000,
                connections: 8,
                protocol: "HTTP/2".into(),
                events: 200,
                rate_per_sec: 100.0,
                setup_ms: 350.0,
                expected: 200_000,
                delivered: 199_999,
                ended_early: 1,
                latency: lat(5.0, 40.0),
            }),
            cpu: Some(CpuReport {
                cpus: 2,
                process_cores: 1.5,
                other_cores: if in_process { 0.5 } else { 1.0 },
            }),
            goals: Vec::new(),
        };
        t.goals = t.check_goals();
        t
    }

    fn report(targets: Vec<TargetReport>) -> ApiBenchReport {
        ApiBenchReport {
            duration_secs: 2.0,
            pod_bytes: 1700,
            clients: vec![1, 64],
            levels: vec![10_000, 100_000],
            load_clients: 64,
            targets,
        }
    }

    #[test]
    fn goals_are_checked_at_their_sizes() {
        let t = target("cuttle", true);
        let figures: Vec<(&str, bool)> =
            t.goals.iter().map(|g| (g.figure.as_str(), g.met)).collect();
        assert_eq!(
            figures,
            [
                ("create p99 ms, 64 clients", true),
                ("list p99 ms, 10000 pods", true),
                // p99 is under the limit, but one event never arrived.
                ("watch delivery p99 ms, 1000 watchers", false),
                ("RSS growth / JSON, 100000 pods", true),
            ]
        );
        let external = target("kubeconfig", false);
        assert!(!external.goals.iter().any(|g| g.figure.starts_with("RSS")));
        // A few pods say more about fixed costs than about memory per pod.
        let mut small = target("cuttle", true);
        small.levels.truncate(1);
        small.levels[0].pods = 50;
        assert!(!small
            .check_goals()
            .iter()
            .any(|g| g.figure.starts_with("RSS")));
    }

    #[test]
    fn text_has_a_column_per_server_and_the_goals() {
        let r = report(vec![target("cuttle", true), target("kubeconfig", false)]);
        let text = r.to_text();
        let row = |label: &str| -> Vec<String> {
            let line = text
                .lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("row {label:?} in\n{text}"));
            line[label.len()..]
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(row("creates/s, 64 clients"), ["64000", "64000"]);
        assert_eq!(row("create p99 ms, 1 client"), ["4.50", "4.50"]);
        assert_eq!(row("list p50 ms, 100000 pods"), ["250.0", "250.0"]);
        assert_eq!(row("list limit=500 p50 ms, 10000 pods"), ["3.00", "3.00"]);
        assert_eq!(row("RSS growth / JSON, 100000 pods"), ["1.50", "-"]);
        assert_eq!(
            row("RSS growth per pod B, since the previous level, 100000 pods"),
            ["2900", "-"]
        );
        assert_eq!(
            row("watch events delivered"),
            ["199999/200000", "199999/200000"]
        );
        assert_eq!(row("CPU cores used, other processes"), ["0.50", "1.00"]);
        // Only an in-process run is skewed by other processes.
        assert!(text
            .contains("warning: other processes used 0.50 of 2 cores while cuttle was measured"));
        assert!(!text.contains("while kubeconfig was measured"));
        assert!(text.contains("goals (cuttle):"));
        assert!(text.contains("watch delivery p99 ms, 1000 watchers under 100: 40.00  MISSED"));
        assert!(text.contains("create p99 ms, 64 clients under 10: 4.50  met"));
    }

    #[test]
    fn json_is_one_line_that_reads_back() {
        let r = report(vec![target("cuttle", true)]);
        let json = r.to_json().expect("json");
        assert!(!json.contains('\n'));
        let back: ApiBenchReport = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, r);
    }
}
