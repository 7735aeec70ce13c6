//! End-to-end: the real kubectl against an in-process apiserver.

mod common;
use common::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_health() {
    let c = Cluster::start().await;
    let out = c.ok(&["version", "-o", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");
    assert_eq!(c.ok(&["get", "--raw", "/healthz"]).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_exist_and_get_shows_table() {
    let c = Cluster::start().await;
    let out = c.ok(&["get", "namespaces"]).await;
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("STATUS"), "{out}");
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(out.contains(ns), "{out}");
    }
}
