//! Integration: the scheduler against an in-process apiserver (free loopback
//! port, temporary data directory), through kube-rs only. Needs nothing
//! outside the workspace. Waits are bounded (60 s) and only for correctness;
//! nothing here measures speed.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::watcher;
use kube::Client;
use serde_json::json;

use cuttle_apiserver::{start as start_apiserver, ApiServerConfig, Running as ApiServer};
use cuttle_scheduler::runner::{self, RunnerConfig};
use cuttle_scheduler::KubeSchedulerConfiguration;

const WAIT: Duration = Duration::from_secs(60);

struct Cluster {
    api: Option<ApiServer>,
    _dir: tempfile::TempDir,
    client: Client,
}

impl Cluster {
    async fn start() -> Cluster {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::Builder::new()
            .prefix("cuttle-sched-")
            .tempdir()
            .unwrap();
        let api = start_apiserver(ApiServerConfig::loopback(dir.path().to_owned()))
            .await
            .expect("apiserver starts");
        let client = runner::client_from_kubeconfig(&api.kubeconfig)
            .await
            .unwrap();
        Cluster {
            api: Some(api),
            _dir: dir,
            client,
        }
    }

    /// Starts a scheduler whose one profile is `name`.
    fn scheduler(&self, name: &str) -> runner::Running {
        let yaml = format!(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: {name}\n"
        );
        let config = KubeSchedulerConfiguration::from_yaml(&yaml).unwrap();
        runner::start(
            self.client.clone(),
            RunnerConfig {
                config,
                seed: 1,
                max_concurrent_binds: 0,
            },
        )
        .unwrap()
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    async fn node(&self, name: &str, cpu: &str) {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {
                "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }))
        .unwrap();
        Api::<Node>::all(self.client.clone())
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
    }

    async fn priority_class(&self, name: &str, value: i32) {
        let pc: PriorityClass = serde_json::from_value(json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value,
        }))
        .unwrap();
        Api::<PriorityClass>::all(self.client.clone())
            .create(&PostParams::default(), &pc)
            .await
            .unwrap();
    }

    async fn pod(&self, name: &str, cpu: &str, scheduler: &str, class: Option<&str>) -> Pod {
        let mut spec = json!({
            "schedulerName": scheduler,
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": cpu}}}],
        });
        if let Some(c) = class {
            spec["priorityClassName"] = json!(c);
        }
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "test"}},
            "spec": spec,
        }))
        .unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
    }

    async fn wait_bound(&self, name: &str) -> String {
        let pod = tokio::time::timeout(
            WAIT,
            await_condition(self.pods(), name, |p: Option<&Pod>| node_of(p).is_some()),
        )
        .await
        .unwrap_or_else(|_| panic!("pod {name} was not bound within {WAIT:?}"))
        .unwrap();
        node_of(pod.as_ref()).unwrap()
    }

    async fn wait_condition(&self, name: &str, reason: &str) -> String {
        let pod = tokio::time::timeout(
            WAIT,
            await_condition(self.pods(), name, |p: Option<&Pod>| {
                scheduled_condition(p).is_some_and(|(s, r, _)| s == "False" && r == reason)
            }),
        )
        .await
        .unwrap_or_else(|_| panic!("pod {name} got no PodScheduled=False {reason}"))
        .unwrap();
        scheduled_condition(pod.as_ref()).unwrap().2
    }

    /// Waits for an event with `reason` about pod `name`; returns (message, source component).
    async fn wait_event(&self, name: &str, reason: &str) -> (String, String) {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let list = events.list(&ListParams::default()).await.unwrap();
            if let Some(e) = list.items.iter().find(|e| {
                e.involved_object.name.as_deref() == Some(name)
                    && e.reason.as_deref() == Some(reason)
            }) {
                return (
                    e.message.clone().unwrap_or_default(),
                    e.source
                        .as_ref()
                        .and_then(|s| s.component.clone())
                        .unwrap_or_default(),
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {reason} event for {name}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(api) = self.api.take() {
            api.stop().await;
        }
    }
}

fn node_of(p: Option<&Pod>) -> Option<String> {
    p.and_then(|p| p.spec.as_ref())
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty())
}

fn scheduled_condition(p: Option<&Pod>) -> Option<(String, String, String)> {
    p?.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

/// Plays the kubelet's part in deletion: pods that are terminating are removed at once.
fn fake_kubelet(client: Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<Pod> = Api::all(client.clone());
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        while let Some(ev) = stream.next().await {
            let pod = match ev {
                Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            if pod.metadata.deletion_timestamp.is_none() {
                continue;
            }
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let _ = Api::<Pod>::namespaced(client.clone(), &ns)
                .delete(
                    &name,
                    &DeleteParams {
                        grace_period_seconds: Some(0),
                        ..Default::default()
                    },
                )
                .await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_pods_get_bound_with_a_scheduled_event() {
    let c = Cluster::start().await;
    c.node("n1", "4").await;
    c.node("n2", "4").await;
    let sched = c.scheduler("default-scheduler");
    for i in 0..6 {
        c.pod(&format!("p{i}"), "1", "default-scheduler", None)
            .await;
    }
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        *per_node
            .entry(c.wait_bound(&format!("p{i}")).await)
            .or_default() += 1;
    }
    // Least allocated spreads them: both nodes are used, neither is over capacity.
    assert_eq!(per_node.len(), 2, "{per_node:?}");
    assert!(per_node.values().all(|n| *n <= 4), "{per_node:?}");
    let pod = c.pods().get("p0").await.unwrap();
    assert_eq!(
        scheduled_condition(Some(&pod)).map(|c| c.0).as_deref(),
        Some("True")
    );
    let node = node_of(Some(&pod)).unwrap();
    let (message, source) = c.wait_event("p0", "Scheduled").await;
    assert_eq!(
        message,
        format!("Successfully assigned default/p0 to {node}")
    );
    assert_eq!(source, "default-scheduler");
    sched.stop().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_pod_is_reported_then_placed_when_a_node_fits() {
    let c = Cluster::start().await;
    c.node("small-1", "1").await;
    c.node("small-2", "1").await;
    c.node("small-3", "1").await;
    let sched = c.scheduler("default-scheduler");
    c.pod("big", "2", "default-scheduler", None).await;
    let message = c.wait_condition("big", "Unschedulable").await;
    assert!(
        message.starts_with("0/3 nodes are available: 3 Insufficient cpu."),
        "{message}"
    );
    let (event, _) = c.wait_event("big", "FailedScheduling").await;
    assert_eq!(event, message);
    assert_eq!(node_of(Some(&c.pods().get("big").await.unwrap())), None);

    // A node that fits is a cluster event that sends the pod back to the active queue.
    c.node("large", "4").await;
    assert_eq!(c.wait_bound("big").await, "large");
    sched.stop().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_naming_a_missing_priority_class_is_refused_and_others_are_placed() {
    let c = Cluster::start().await;
    c.node("n1", "4").await;
    let sched = c.scheduler("default-scheduler");
    // As in Kubernetes, priority admission refuses the pod outright.
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "orphan"},
        "spec": {"priorityClassName": "nope",
                 "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    }))
    .unwrap();
    let err = c
        .pods()
        .create(&PostParams::default(), &pod)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no PriorityClass with name nope was found"),
        "{err}"
    );
    c.priority_class("nope", 5).await;
    c.pod("orphan", "1", "default-scheduler", Some("nope"))
        .await;
    assert_eq!(c.wait_bound("orphan").await, "n1");
    sched.stop().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_priority_pod_preempts_a_low_priority_one() {
    let c = Cluster::start().await;
    c.priority_class("low", 100).await;
    c.priority_class("high", 1000).await;
    c.node("only", "2").await;
    let kubelet = fake_kubelet(c.client.clone());
    let sched = c.scheduler("default-scheduler");
    c.pod("low-1", "1", "default-scheduler", Some("low")).await;
    c.pod("low-2", "1", "default-scheduler", Some("low")).await;
    c.wait_bound("low-1").await;
    c.wait_bound("low-2").await;

    // Watch the preemptor from its creation, to see its nominated node.
    let nominated = {
        let api = c.pods();
        tokio::spawn(async move {
            let cfg = watcher::Config::default().fields("metadata.name=urgent");
            let mut stream = watcher::watcher(api, cfg).boxed();
            while let Some(ev) = stream.next().await {
                if let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = ev {
                    if let Some(n) = p
                        .status
                        .as_ref()
                        .and_then(|s| s.nominated_node_name.clone())
                    {
                        return n;
                    }
                }
            }
            String::new()
        })
    };
    c.pod("urgent", "1", "default-scheduler", Some("high"))
        .await;
    let node = c.wait_bound("urgent").await;
    assert_eq!(node, "only");
    let nominated = tokio::time::timeout(WAIT, nominated)
        .await
        .expect("nominatedNodeName was set")
        .unwrap();
    assert_eq!(nominated, "only");
    let left = c
        .pods()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .filter(|n| n.starts_with("low-"))
        .count();
    assert_eq!(left, 1, "exactly one victim was deleted");
    let victim = if c.pods().get_opt("low-1").await.unwrap().is_none() {
        "low-1"
    } else {
        "low-2"
    };
    let (message, _) = c.wait_event(victim, "Preempted").await;
    assert!(message.contains("on node only"), "{message}");
    sched.stop().await;
    kubelet.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_each_bind_only_their_own_pods() {
    let c = Cluster::start().await;
    c.node("n1", "8").await;
    let a = c.scheduler("sched-a");
    let b = c.scheduler("sched-b");
    c.pod("for-a", "1", "sched-a", None).await;
    c.pod("for-b", "1", "sched-b", None).await;
    c.pod("for-nobody", "1", "sched-c", None).await;
    c.wait_bound("for-a").await;
    c.wait_bound("for-b").await;
    assert_eq!(c.wait_event("for-a", "Scheduled").await.1, "sched-a");
    assert_eq!(c.wait_event("for-b", "Scheduled").await.1, "sched-b");
    let nobody = c.pods().get("for-nobody").await.unwrap();
    assert_eq!(node_of(Some(&nobody)), None);
    assert_eq!(scheduled_condition(Some(&nobody)), None);
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

/// Borg's task@machine rule through the API: after a pod of an owner
/// failed on a node, that owner's next pods go elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_s_pods_avoid_the_node_where_one_of_them_failed() {
    let c = Cluster::start().await;
    c.node("a", "8").await;
    c.node("b", "8").await;
    // Only the failure penalty scores, so that nothing else separates the
    // nodes: without it every placement would be a coin toss.
    let yaml = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: borg\n  plugins:\n    score:\n      disabled: [{name: \"*\"}]\n      enabled: [{name: RecentFailurePenalty, weight: 1}]\n";
    let sched = runner::start(
        c.client.clone(),
        RunnerConfig {
            config: KubeSchedulerConfiguration::from_yaml(yaml).unwrap(),
            seed: 7,
            max_concurrent_binds: 0,
        },
    )
    .unwrap();
    let owned = |name: &str, node: Option<&str>| -> Pod {
        let mut spec = json!({
            "schedulerName": "borg",
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}],
        });
        if let Some(n) = node {
            spec["nodeName"] = json!(n);
        }
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                "uid": "rs-web", "controller": true,
            }]},
            "spec": spec,
        }))
        .unwrap()
    };
    let pods = c.pods();
    pods.create(&PostParams::default(), &owned("crashed", Some("a")))
        .await
        .unwrap();
    let failed = json!({"status": {"phase": "Failed"}});
    pods.patch_status(
        "crashed",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&failed),
    )
    .await
    .unwrap();
    // Let the scheduler see the failure before the owner's next pods.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..6 {
        let name = format!("web-{i}");
        pods.create(&PostParams::default(), &owned(&name, None))
            .await
            .unwrap();
        assert_eq!(c.wait_bound(&name).await, "b", "{name}");
    }
    sched.stop().await;
    c.stop().await;
}

/// Two candidates for one Lease: one leads; the other takes over when the
/// leader releases the Lease, or when it stops renewing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_candidates_leads_and_the_other_takes_over() {
    use cuttle_scheduler::runner::leader::Elector;
    use cuttle_scheduler::LeaderElection;
    let c = Cluster::start().await;
    let cfg = LeaderElection {
        namespace: "kube-system".into(),
        name: "cuttle-test".into(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
    };
    let mut a = Elector::new(c.client.clone(), cfg.clone(), "a".into());
    let mut b = Elector::new(c.client.clone(), cfg.clone(), "b".into());
    tokio::time::timeout(WAIT, a.acquire())
        .await
        .expect("a leads");
    let a_keeps = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(3), a.keep())
            .await
            .expect_err("a keeps the lead");
        a
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(3), b.acquire())
            .await
            .is_err(),
        "b must not lead while a renews"
    );
    let mut a = a_keeps.await.unwrap();
    a.release().await;
    tokio::time::timeout(Duration::from_secs(2), b.acquire())
        .await
        .expect("b leads at once after a released");
    let lease = Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(
        c.client.clone(),
        "kube-system",
    )
    .get("cuttle-test")
    .await
    .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));

    // b stops renewing (a crash): a takes over once the lease expired.
    let started = std::time::Instant::now();
    let mut a2 = Elector::new(c.client.clone(), cfg, "a".into());
    tokio::time::timeout(WAIT, a2.acquire())
        .await
        .expect("a leads again");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "took over before the lease expired"
    );
    drop(b);
    c.stop().await;
}
