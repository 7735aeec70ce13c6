//! The official Python client (`kubernetes` on PyPI, installed by
//! scripts/install-deps) against an in-process apiserver.

mod common;
use common::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_works_unchanged() {
    let c = Cluster::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_check.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .env("KUBECONFIG", &c.kubeconfig)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python client check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
