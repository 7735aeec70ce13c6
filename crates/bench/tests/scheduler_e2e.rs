//! Integration: `cuttle bench scheduler --mode e2e` on a small cluster, with
//! the in-process apiserver and scheduler (free port, temporary directory).
//! Checks what the run did, never how fast.

use cuttle_bench::scheduler::{run_e2e_bench, E2eOptions};
use cuttle_scheduler::bench::{AlgorithmBenchOptions, Workload};

fn small(workload: Workload, nodes: usize, pods: usize) -> E2eOptions {
    E2eOptions {
        run: AlgorithmBenchOptions {
            nodes,
            pods,
            workload,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pod_is_bound_through_the_api() {
    let r = run_e2e_bench(small(Workload::Basic, 10, 40)).await.unwrap();
    assert_eq!((r.bound, r.unbound), (40, 0), "{}", r.to_text());
    assert_eq!(r.packing.nodes_used, 10);
    assert!(r.latency_p50_ms <= r.latency_p99_ms);
    let json = r.to_json().unwrap();
    assert!(json.contains("\"pods_per_sec\""), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_priority_pods_preempt_the_prefill() {
    let r = run_e2e_bench(small(Workload::Preemption, 4, 3))
        .await
        .unwrap();
    assert_eq!(r.bound, 3, "{}", r.to_text());
    assert!(r.victims >= 3, "{}", r.to_text());
}
