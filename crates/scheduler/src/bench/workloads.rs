//! The benchmark's clusters and pods.
//!
//! Nodes come in two sizes (32 cpu / 128Gi and 16 cpu / 64Gi), spread over
//! three zones, with pool and disk labels. Each workload is a list of Pod
//! objects built with the same builders the tests use, from a seeded PRNG.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde::{Deserialize, Serialize};

use crate::builders::{NodeBuilder, PodBuilder};
use crate::pod_info::{LABEL_HOSTNAME, LABEL_ZONE};
use crate::sampling::Rng;

/// Which pods the benchmark schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Identical pods from a few (10) ReplicaSets.
    Basic,
    /// Pods of many sizes from 50 ReplicaSets (few identical specs in a row).
    Mixed,
    /// Groups of 10 pods with required pod affinity to their group, per zone.
    Affinity,
    /// Groups of 50 pods with required anti-affinity to their group, per node.
    AntiAffinity,
    /// Pods that require a node pool and prefer SSD nodes.
    NodeAffinity,
    /// ReplicaSets of 100 pods with a zone spread constraint (maxSkew 1, DoNotSchedule)
    /// and a node one (ScheduleAnyway).
    Spread,
    /// A cluster full of low-priority pods, then high-priority pods that must preempt.
    Preemption,
}

impl Workload {
    /// Every workload, in the order the report lists them.
    pub const ALL: [Workload; 7] = [
        Workload::Basic,
        Workload::Mixed,
        Workload::Affinity,
        Workload::AntiAffinity,
        Workload::NodeAffinity,
        Workload::Spread,
        Workload::Preemption,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Basic => "basic",
            Workload::Mixed => "mixed",
            Workload::Affinity => "affinity",
            Workload::AntiAffinity => "anti-affinity",
            Workload::NodeAffinity => "node-affinity",
            Workload::Spread => "spread",
            Workload::Preemption => "preemption",
        }
    }
}

impl std::str::FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| format!("unknown workload {s:?} (basic, mixed, affinity, anti-affinity, node-affinity, spread, preemption)"))
    }
}

/// Zones the nodes are spread over.
pub const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
/// Node pools (label `cuttle.dev/pool`).
pub const POOLS: [&str; 4] = ["pool-0", "pool-1", "pool-2", "pool-3"];

/// The cluster: `n` nodes, alternating 32 cpu / 128Gi and 16 cpu / 64Gi.
pub fn nodes(n: usize) -> Vec<Node> {
    (0..n)
        .map(|i| {
            let name = format!("node-{i:05}");
            let (cpu, mem) = if i % 2 == 0 {
                ("32", "128Gi")
            } else {
                ("16", "64Gi")
            };
            NodeBuilder::new(&name)
                .cpu(cpu)
                .memory(mem)
                .allocatable("pods", "110")
                .label(LABEL_HOSTNAME, &name)
                .label(LABEL_ZONE, ZONES[i % ZONES.len()])
                .label("cuttle.dev/pool", POOLS[(i / 3) % POOLS.len()])
                .label("disktype", if i % 5 == 0 { "ssd" } else { "hdd" })
                .build()
        })
        .collect()
}

fn replica(rs: usize, i: usize) -> PodBuilder {
    PodBuilder::new(&format!("rs{rs}-{i}"))
        .owner(&format!("rs-{rs}"))
        .label("app", &format!("rs-{rs}"))
}

/// Pods bound before the measurement starts (the preemption workload's low-priority
/// fill), as `(pod, node name)`.
pub fn prefill(workload: Workload, nodes: &[Node]) -> Vec<(Pod, String)> {
    if workload != Workload::Preemption {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let name = node.metadata.name.clone().unwrap_or_default();
        // Fill every node: 4 cpu / 16Gi each, 8 on big nodes and 4 on small ones.
        let count = if i % 2 == 0 { 8 } else { 4 };
        for j in 0..count {
            let pod = PodBuilder::new(&format!("low-{i}-{j}"))
                .owner(&format!("batch-{}", i % 20))
                .label("app", &format!("batch-{}", i % 20))
                .cpu("4")
                .memory("16Gi")
                .priority(if j % 2 == 0 { 0 } else { 10 })
                .node_name(&name)
                .build();
            out.push((pod, name.clone()));
        }
    }
    out
}

/// The pods to schedule, in arrival order.
pub fn pods(workload: Workload, count: usize, seed: u64) -> Vec<Pod> {
    let mut rng = Rng::new(seed ^ 0x005e_ed0f_90d5);
    (0..count)
        .map(|i| match workload {
            Workload::Basic => {
                let rs = i % 10;
                let cpu = ["250m", "500m", "750m", "1"][rs % 4];
                let mem = ["512Mi", "1Gi", "1536Mi"][rs % 3];
                replica(rs, i).cpu(cpu).memory(mem).build()
            }
            Workload::Mixed => {
                let rs = rng.below(50) as usize;
                let cpu = ["100m", "250m", "500m", "1", "2", "4"][rng.below(6) as usize];
                let mem = ["128Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi"][rng.below(6) as usize];
                replica(rs, i).cpu(cpu).memory(mem).build()
            }
            Workload::Affinity => {
                let g = i / 10;
                replica(g, i)
                    .cpu("250m")
                    .memory("512Mi")
                    .pod_affinity(&[("app", &format!("rs-{g}"))], LABEL_ZONE)
                    .build()
            }
            Workload::AntiAffinity => {
                let g = i / 50;
                replica(g, i)
                    .cpu("250m")
                    .memory("512Mi")
                    .pod_anti_affinity(&[("app", &format!("rs-{g}"))], LABEL_HOSTNAME)
                    .build()
            }
            Workload::NodeAffinity => {
                let rs = i % 20;
                replica(rs, i)
                    .cpu("500m")
                    .memory("1Gi")
                    .node_affinity("cuttle.dev/pool", "In", &[POOLS[rs % POOLS.len()]])
                    .preferred_node_affinity(50, "disktype", "In", &["ssd"])
                    .build()
            }
            Workload::Spread => {
                let rs = i / 100;
                let app = format!("rs-{rs}");
                replica(rs, i)
                    .cpu("500m")
                    .memory("1Gi")
                    .spread(1, LABEL_ZONE, true, &[("app", &app)])
                    .spread(1, LABEL_HOSTNAME, false, &[("app", &app)])
                    .build()
            }
            Workload::Preemption => PodBuilder::new(&format!("high-{i}"))
                .owner(&format!("prod-{}", i % 10))
                .label("app", &format!("prod-{}", i % 10))
                .cpu("4")
                .memory("16Gi")
                .priority(1000)
                .build(),
        })
        .collect()
}
