//! Integration: `cuttle bench api` at a tiny size against an in-process
//! apiserver and, through its kubeconfig, a second apiserver standing in
//! for a reference Kubernetes. Needs nothing but loopback.

use cuttle_apiserver::{start, ApiServerConfig};
use cuttle_bench::api::{run_api_bench, ApiBenchOptions, Target};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use std::time::Duration;

fn tiny(targets: Vec<Target>) -> ApiBenchOptions {
    let mut opts = ApiBenchOptions::new(targets);
    opts.clients = vec![2];
    opts.duration = Duration::from_millis(200);
    opts.levels = vec![10, 20];
    opts.load_clients = 4;
    opts.list_runs = 2;
    opts.page_limit = 5;
    opts.page_runs = 2;
    opts.watchers = 6;
    opts.watch_connections = 2;
    opts.watch_events = 5;
    opts.watch_rate = 200.0;
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measures_in_process_and_through_a_kubeconfig_side_by_side() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let external = start(ApiServerConfig::loopback(dir.path().to_owned()))
        .await
        .expect("apiserver starts");

    let opts = tiny(vec![
        Target::Embedded,
        Target::Kubeconfig(external.kubeconfig.clone()),
    ]);
    let report = run_api_bench(opts).await.expect("the benchmark runs");

    let names: Vec<&str> = report.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(names, ["cuttle", "kubeconfig"]);
    for t in &report.targets {
        assert_eq!(t.creates.len(), 1);
        assert!(t.creates[0].creates_per_sec > 0.0);
        let pods: Vec<usize> = t.levels.iter().map(|l| l.pods).collect();
        assert_eq!(pods, [10, 20]);
        assert!(t
            .levels
            .iter()
            .all(|l| l.list_bytes > 0 && l.get.samples > 0));
        assert_eq!(t.levels[0].memory.is_some(), t.in_process);
        let watch = t.watch.as_ref().expect("a watch fan-out");
        assert_eq!(watch.protocol, "HTTP/2");
        assert_eq!((watch.delivered, watch.expected), (30, 30));
        assert_eq!(watch.ended_early, 0);
        assert!(t.cpu.is_some());
    }
    let memory = report.targets[0].levels[1].memory.as_ref().expect("memory");
    assert!(memory.marginal_rss_per_pod.is_some());
    assert!(memory.json_per_pod > 1000.0, "{memory:?}");

    // The namespaces on the outside server were deleted.
    let kubeconfig = kube::config::Kubeconfig::read_from(&external.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let namespaces: Api<Namespace> = Api::all(kube::Client::try_from(config).expect("client"));
    let ns = format!("bench-api-{}", std::process::id());
    if let Some(left) = namespaces.get_opt(&ns).await.expect("get") {
        let phase = left.status.and_then(|s| s.phase);
        assert_eq!(phase.as_deref(), Some("Terminating"));
    }

    let text = report.to_text();
    assert!(text.contains("creates/s, 2 clients"), "{text}");
    assert!(report.to_json().expect("json").starts_with('{'));
    external.stop().await;
}
