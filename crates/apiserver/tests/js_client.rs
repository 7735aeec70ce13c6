//! The official JavaScript client (`@kubernetes/client-node` from npm,
//! installed under tests/js by scripts/install-deps) against an in-process
//! apiserver.

mod common;
use common::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_client_works_unchanged() {
    let c = Cluster::start().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let out = tokio::process::Command::new("node")
        .arg("client_check.mjs")
        .current_dir(dir)
        .env("KUBECONFIG", &c.kubeconfig)
        .output()
        .await
        .expect("node runs (scripts/install-deps installs it)");
    assert!(
        out.status.success(),
        "javascript client check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
