//! The apiserver over a real etcd (Debian's etcd-server, started on free
//! loopback ports): the same kubectl workflow as on the embedded store.

mod common;
use common::Cluster;
use cuttle_store::testing::EtcdProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_workflow_on_etcd() {
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start)
        .await
        .unwrap()
        .expect("etcd starts");
    let c = Cluster::start_on(Some(etcd.url())).await;
    let ns = c.ok(&["get", "ns", "-o", "name"]).await;
    assert!(ns.contains("namespace/kube-system"), "{ns}");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: on-etcd\ndata:\n  a: \"1\"\n";
    assert_eq!(
        c.apply_stdin(&["apply", "-f", "-"], cm).await.trim(),
        "configmap/on-etcd created"
    );
    c.ok(&["label", "cm", "on-etcd", "x=y"]).await;
    assert_eq!(
        c.ok(&["get", "cm", "-l", "x=y", "-o", "name"]).await.trim(),
        "configmap/on-etcd"
    );
    assert_eq!(
        c.ok(&["delete", "cm", "on-etcd"]).await.trim(),
        "configmap \"on-etcd\" deleted"
    );
    c.fails(&["get", "cm", "on-etcd"]).await;
    drop(c);
    drop(etcd);
}
