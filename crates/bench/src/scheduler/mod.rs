//! `cuttle bench scheduler --mode e2e`: scheduling through a real apiserver,
//! as Kubernetes' scheduler_perf measures it.
//!
//! The run creates hollow Nodes, then (for the preemption workload) the
//! low-priority pods already bound to them, starts cuttle's scheduler in
//! process (unless another scheduler is measured) and waits until its caches
//! have synced, then creates the measured pods through the API with
//! concurrent clients while the scheduler runs. A watch on the run's
//! namespace (field selector `spec.nodeName!=`) records when each pod is first
//! seen bound. Throughput is the bound pods over the time from the first to
//! the last binding; a pod's latency is from the moment its create request
//! was sent to the moment the bench saw it bound. The packing comes from the
//! pods' requests and nodes at the end.

pub mod objects;
mod report;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{DeleteParams, ListParams, PartialObjectMeta, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};

use cuttle_apiserver::ApiServerConfig;
use cuttle_scheduler::bench::workloads::{self, Workload};
use cuttle_scheduler::bench::{packing, AlgorithmBenchOptions};
use cuttle_scheduler::runner::client::Service;
use cuttle_scheduler::runner::{self, RunnerConfig};
use cuttle_scheduler::Scheduler;

pub use report::E2eReport;

/// Options of `cuttle bench scheduler --mode e2e`.
#[derive(Debug, Clone)]
pub struct E2eOptions {
    /// Nodes, pods, workload, policy, Borg switches and seed, as in `--mode algorithm`.
    pub run: AlgorithmBenchOptions,
    /// Create the objects on this apiserver and measure whichever scheduler binds them
    /// (cuttle's is then not started); default: an in-process cuttle apiserver and
    /// scheduler.
    pub kubeconfig: Option<PathBuf>,
    /// The pods' `schedulerName`.
    pub scheduler_name: String,
    /// Concurrent clients creating nodes and pods.
    pub clients: usize,
    /// Stop waiting when no pod was bound for this long.
    pub stall_timeout: Duration,
    /// Create every pod before cuttle's scheduler starts, so that its binding rate
    /// rather than the rate of creates is measured (latency then counts from the
    /// scheduler's start). In-process only.
    pub create_first: bool,
}

impl Default for E2eOptions {
    fn default() -> Self {
        E2eOptions {
            run: AlgorithmBenchOptions::default(),
            kubeconfig: None,
            scheduler_name: "default-scheduler".into(),
            clients: 32,
            stall_timeout: Duration::from_secs(30),
            create_first: false,
        }
    }
}

/// Why the end-to-end benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    /// The in-process apiserver did not start.
    #[error("starting the in-process apiserver")]
    Start(#[source] cuttle_apiserver::StartError),
    /// The temporary data directory could not be created.
    #[error("creating a temporary data directory: {0}")]
    TempDir(#[source] std::io::Error),
    /// cuttle's scheduler did not start (or the kubeconfig was unusable).
    #[error(transparent)]
    Scheduler(#[from] runner::RunnerError),
    /// An API request failed.
    #[error("{what}: {source}")]
    Api {
        /// What the benchmark was doing.
        what: String,
        /// The client's error.
        source: kube::Error,
    },
    /// `create_first` with an external scheduler.
    #[error("--create-first needs cuttle's in-process scheduler (no --kubeconfig)")]
    CreateFirstExternal,
    /// `--nodes 0` or `--pods 0`.
    #[error("the benchmark needs at least one node and one pod")]
    Empty,
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> E2eError {
    let what = what.into();
    move |source| E2eError::Api { what, source }
}

/// Ignores AlreadyExists (a PriorityClass left by an earlier run).
fn exists_ok<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs the benchmark.
pub async fn run_e2e_bench(opts: E2eOptions) -> Result<E2eReport, E2eError> {
    if opts.run.nodes == 0 || opts.run.pods == 0 {
        return Err(E2eError::Empty);
    }
    if opts.create_first && opts.kubeconfig.is_some() {
        return Err(E2eError::CreateFirstExternal);
    }
    // cuttle's scheduler, when it runs, gets a client (a connection) of its
    // own, as a scheduler process would have.
    let (apiserver, dir, (client, service), scheduler_client) = match &opts.kubeconfig {
        Some(path) => (None, None, runner::connect(path).await?, None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("cuttle-bench-sched-")
                .tempdir()
                .map_err(E2eError::TempDir)?;
            let running = cuttle_apiserver::start(ApiServerConfig::loopback(dir.path().to_owned()))
                .await
                .map_err(E2eError::Start)?;
            let connection = runner::connect(&running.kubeconfig).await?;
            let scheduler_client = runner::client_from_kubeconfig(&running.kubeconfig).await?;
            (Some(running), Some(dir), connection, Some(scheduler_client))
        }
    };
    let result = measure(&opts, &client, &service, scheduler_client).await;
    if let Some(api) = apiserver {
        api.stop().await;
    }
    drop(dir);
    result
}

async fn measure(
    opts: &E2eOptions,
    client: &Client,
    service: &Service,
    scheduler_client: Option<Client>,
) -> Result<E2eReport, E2eError> {
    let o = &opts.run;
    let namespace = format!(
        "bench-sched-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    );
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}
    }))
    .expect("a namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map_err(api_err("creating the namespace"))?;
    crate::cluster::wait_for_default_service_account(client, &namespace).await;

    let nodes = workloads::nodes(o.nodes);
    let prefill: Vec<Pod> = workloads::prefill(o.workload, &nodes)
        .into_iter()
        .map(|(p, _)| objects::api_pod(p, &namespace, &opts.scheduler_name))
        .collect();
    let raw_pods = workloads::pods(o.workload, o.pods, o.seed);
    let classes = objects::priority_classes(
        workloads::prefill(o.workload, &nodes)
            .iter()
            .map(|(p, _)| p)
            .chain(raw_pods.iter()),
    );
    let pods: Vec<Pod> = raw_pods
        .into_iter()
        .map(|p| objects::api_pod(p, &namespace, &opts.scheduler_name))
        .collect();
    let pcs: Api<PriorityClass> = Api::all(client.clone());
    for pc in &classes {
        exists_ok(pcs.create(&PostParams::default(), pc).await)
            .map_err(api_err("creating a PriorityClass"))?;
    }

    let t = Instant::now();
    let node_api: Api<Node> = Api::all(client.clone());
    futures::stream::iter(nodes.iter().cloned().map(objects::hollow_node))
        .map(|n| {
            let api = node_api.clone();
            async move { api.create(&PostParams::default(), &n).await }
        })
        .buffer_unordered(opts.clients)
        .try_for_each(|_| async { Ok(()) })
        .await
        .map_err(api_err("creating a node"))?;
    let nodes_secs = t.elapsed().as_secs_f64();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    create_all(service, &pod_api, prefill.clone(), opts.clients, None)
        .await
        .map_err(api_err("creating a prefill pod"))?;
    let kubelet = (o.workload == Workload::Preemption).then(|| hollow_kubelet(pod_api.clone()));

    let bound = Arc::new(Mutex::new(HashMap::<String, Instant>::with_capacity(
        pods.len(),
    )));
    let count = Arc::new(AtomicUsize::new(0));
    let watch = tokio::spawn(watch_bound(
        Api::namespaced(client.clone(), &namespace),
        bound.clone(),
        count.clone(),
        prefill
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect(),
    ));
    // Let the watch start before the first pod is created.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let created = Arc::new(Mutex::new(HashMap::<String, Instant>::with_capacity(
        pods.len(),
    )));
    let mut pods_secs = 0.0;
    if opts.create_first {
        pods_secs = create_measured(service, &pod_api, &pods, opts.clients, &created).await?;
    }
    let scheduler = match scheduler_client {
        None => None,
        Some(scheduler_client) => {
            let running = runner::start(
                scheduler_client,
                RunnerConfig {
                    config: o.policy.config(o.equivalence, o.score_cache, o.sampling),
                    seed: o.seed,
                    max_concurrent_binds: 0,
                },
            )?;
            if !opts.create_first {
                running.synced().await;
            }
            Some(running)
        }
    };
    if opts.create_first {
        // Latency counts from the scheduler's start.
        let start = Instant::now();
        for t in created.lock().expect("creation times").values_mut() {
            *t = start;
        }
    } else {
        pods_secs = create_measured(service, &pod_api, &pods, opts.clients, &created).await?;
    }

    // Wait for every pod to be bound, or for progress to stop.
    let mut last = (count.load(Ordering::Relaxed), Instant::now());
    while last.0 < pods.len() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = count.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() >= opts.stall_timeout {
            break;
        }
    }
    watch.abort();
    if let Some(s) = scheduler {
        s.stop().await;
    }
    if let Some(k) = kubelet {
        k.abort();
    }

    let prefill_names: std::collections::HashSet<&str> = prefill
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    let final_pods = pod_api
        .list(&ListParams::default())
        .await
        .map_err(api_err("listing the pods at the end"))?
        .items;
    let report = report::build(report::Inputs {
        opts,
        bound: &bound.lock().expect("bound times").clone(),
        created: &created.lock().expect("creation times").clone(),
        nodes_secs,
        pods_secs,
        prefill: prefill.len(),
        prefill_left: final_pods
            .iter()
            .filter(|p| {
                p.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| prefill_names.contains(n))
            })
            .count(),
        packing: {
            let mut s = Scheduler::new(0);
            for n in &nodes {
                s.add_node(n);
            }
            for p in &final_pods {
                let _ = s.add_pod(p);
            }
            packing(&s)
        },
    });

    if opts.kubeconfig.is_some() {
        cleanup(client, &namespace, &nodes, &classes).await;
    }
    Ok(report)
}

/// Creates the measured pods; returns the seconds it took.
async fn create_measured(
    service: &Service,
    api: &Api<Pod>,
    pods: &[Pod],
    clients: usize,
    created: &Arc<Mutex<HashMap<String, Instant>>>,
) -> Result<f64, E2eError> {
    let t = Instant::now();
    create_all(service, api, pods.to_vec(), clients, Some(created.clone()))
        .await
        .map_err(api_err("creating a pod"))?;
    Ok(t.elapsed().as_secs_f64())
}

/// Creates pods with `clients` concurrent requests, noting when each request was sent.
///
/// Each pod is encoded before it is sent and its answer is read, not
/// decoded, and the requests go to the connection without kube-rs' buffer
/// task: the bench shares the machine with the apiserver and scheduler it
/// measures, and decoding every answer into a typed Pod was a share of that.
async fn create_all(
    service: &Service,
    api: &Api<Pod>,
    pods: Vec<Pod>,
    clients: usize,
    sent: Option<Arc<Mutex<HashMap<String, Instant>>>>,
) -> Result<(), kube::Error> {
    let url = api.resource_url().to_owned();
    let bodies = pods
        .into_iter()
        .map(|p| {
            let body = serde_json::to_vec(&p).map_err(kube::Error::SerdeError)?;
            Ok((p.metadata.name.unwrap_or_default(), body))
        })
        .collect::<Result<Vec<_>, kube::Error>>()?;
    futures::stream::iter(bodies)
        .map(|(name, body)| {
            let sent = sent.clone();
            let url = url.clone();
            async move {
                let req = http::Request::post(&url)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(kube::client::Body::from(body))
                    .map_err(kube::Error::HttpError)?;
                if let Some(sent) = &sent {
                    sent.lock()
                        .expect("creation times")
                        .insert(name, Instant::now());
                }
                let (code, body) = crate::raw::send(service, req).await?;
                if code.is_success() {
                    return Ok(());
                }
                let text = String::from_utf8_lossy(&body);
                Err(kube::Error::Api(
                    serde_json::from_str::<kube::core::Status>(&text)
                        .unwrap_or_else(|_| {
                            kube::core::Status::failure(text.trim(), "").with_code(code.as_u16())
                        })
                        .boxed(),
                ))
            }
        })
        .buffer_unordered(clients.max(1))
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// Records when each measured pod is first seen with a node. The watch asks
/// for metadata only: the field selector already says the pod is bound, and
/// whole pods would cost the machine decoding them.
async fn watch_bound(
    api: Api<PartialObjectMeta<Pod>>,
    bound: Arc<Mutex<HashMap<String, Instant>>>,
    count: Arc<AtomicUsize>,
    prefill: std::collections::HashSet<String>,
) {
    let cfg = watcher::Config::default().fields("spec.nodeName!=");
    let mut stream = watcher::watcher(api, cfg).boxed();
    while let Some(ev) = stream.next().await {
        let pod = match ev {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
            _ => continue,
        };
        let name = pod.metadata.name.unwrap_or_default();
        if prefill.contains(&name) {
            continue;
        }
        let now = Instant::now();
        let mut b = bound.lock().expect("bound times");
        if b.insert(name, now).is_none() {
            count.store(b.len(), Ordering::Relaxed);
        }
    }
}

/// Plays the kubelets of the hollow nodes in one respect: a terminating pod (a
/// preemption victim) is removed at once, as a kubelet confirms a deletion.
fn hollow_kubelet(api: Api<Pod>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
        while let Some(ev) = stream.next().await {
            let pod = match ev {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            if pod.metadata.deletion_timestamp.is_none() {
                continue;
            }
            let api = api.clone();
            tokio::spawn(async move {
                let name = pod.metadata.name.unwrap_or_default();
                let dp = DeleteParams {
                    grace_period_seconds: Some(0),
                    ..Default::default()
                };
                let _ = api.delete(&name, &dp).await;
            });
        }
    })
}

/// Removes what a run against an external apiserver created.
async fn cleanup(client: &Client, namespace: &str, nodes: &[Node], classes: &[PriorityClass]) {
    let dp = DeleteParams::default();
    let _ = Api::<Namespace>::all(client.clone())
        .delete(namespace, &dp)
        .await;
    let node_api: Api<Node> = Api::all(client.clone());
    futures::stream::iter(nodes.iter().filter_map(|n| n.metadata.name.clone()))
        .map(|name| {
            let api = node_api.clone();
            async move { api.delete(&name, &DeleteParams::default()).await }
        })
        .buffer_unordered(32)
        .for_each(|_| async {})
        .await;
    let pcs: Api<PriorityClass> = Api::all(client.clone());
    for pc in classes {
        if let Some(name) = &pc.metadata.name {
            let _ = pcs.delete(name, &dp).await;
        }
    }
}
