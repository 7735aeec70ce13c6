//! The scheduler against an apiserver: informers in, bindings and status out.
//!
//! [`start`] runs the in-memory core on a thread of its own, fed by watches
//! ([`informers`]) of Nodes, Pods, PriorityClasses, PodDisruptionBudgets and
//! Namespaces, so nothing is listed on the hot path. Pods whose
//! `spec.schedulerName` names one of the profiles and that have no node enter
//! the queue; the [`driver`] pops them one at a time, assumes each placement
//! in the cache and hands it to the [`writer`], which binds through
//! `pods/{name}/binding` concurrently while the next pod is scheduled (as
//! kube-scheduler's binding cycle does). Failures become a `PodScheduled=False`
//! condition and a `FailedScheduling` Event ([`recorder`]); preemption sets
//! `status.nominatedNodeName` and deletes the victims gracefully.

pub mod client;
pub mod driver;
pub mod failures;
pub mod informers;
pub mod leader;
pub mod lean_pod;
pub mod recorder;
pub mod secure_port;
pub mod writer;

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use kube::Client;
use std::sync::mpsc;

use crate::config::{ConfigError, KubeSchedulerConfiguration};
use crate::registry::build_profiles;

pub use driver::Message;

/// Why the scheduler could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The configuration was refused (unknown field, unknown plugin, bad args).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The configuration file could not be read.
    #[error("reading scheduler configuration {path}: {source}")]
    ReadConfig {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The scheduling thread could not be started.
    #[error("starting the scheduling thread: {0}")]
    Thread(std::io::Error),
}

/// Bindings in flight at once by default: enough to keep the apiserver's group commit
/// full (16 gave 3,600 binds/s and 64 gave 4,500-5,200 on the 2-core machine, 128 to
/// 256 the most; each one is an HTTP/1.1 connection).
pub const DEFAULT_CONCURRENT_BINDS: usize = 128;

/// What [`start`] needs besides a client.
#[derive(Debug, Clone, Default)]
pub struct RunnerConfig {
    /// The KubeSchedulerConfiguration (its profiles name the schedulerNames served).
    pub config: KubeSchedulerConfiguration,
    /// Seed of the tie-breaking randomness.
    pub seed: u64,
    /// Bindings in flight at once (0: [`DEFAULT_CONCURRENT_BINDS`]).
    pub max_concurrent_binds: usize,
}

/// Reads a KubeSchedulerConfiguration file, refusing unknown fields and plugins.
pub fn read_config(path: &Path) -> Result<KubeSchedulerConfiguration, RunnerError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunnerError::ReadConfig {
        path: path.display().to_string(),
        source,
    })?;
    let cfg = KubeSchedulerConfiguration::from_yaml(&text)?;
    // Building the profiles checks plugin names and args too.
    build_profiles(&cfg)?;
    Ok(cfg)
}

/// A client for the current context of a kubeconfig file, over HTTP/2 as
/// client-go's (see [`client`]): one connection carries the watches and
/// the bindings, which measured 7% more pods/s and a 40% lower p99 in
/// `cuttle bench scheduler --mode e2e` than kube-rs' default stack.
pub async fn client_from_kubeconfig(path: &Path) -> Result<Client, RunnerError> {
    connect(path).await.map(|(client, _)| client)
}

/// [`client_from_kubeconfig`], with its HTTP stack as a bare
/// [`client::Service`] beside it: both send over the same connections.
pub async fn connect(path: &Path) -> Result<(Client, client::Service), RunnerError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| RunnerError::Kubeconfig {
        path: path.display().to_string(),
        source: e,
    };
    let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(Box::new(e)))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| err(Box::new(e)))?;
    let service = client::service(&config, true).map_err(|e| err(Box::new(e)))?;
    let client = Client::new(service.clone(), config.default_namespace.clone());
    Ok((client, service))
}

/// A running scheduler.
#[derive(Debug)]
pub struct Running {
    tx: mpsc::Sender<Message>,
    informers: Vec<tokio::task::JoinHandle<()>>,
    thread: Option<JoinHandle<()>>,
    ready: tokio::sync::watch::Receiver<bool>,
    /// The schedulerNames this scheduler serves.
    pub scheduler_names: Vec<String>,
}

impl Running {
    /// Returns once every watch has delivered its first complete list, i.e. when
    /// scheduling starts (or never, if the scheduler stopped before).
    pub async fn synced(&self) {
        self.on_synced().await
    }

    /// [`Running::synced`] as a future that does not borrow the scheduler.
    pub fn on_synced(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.ready.clone();
        async move {
            let _ = rx.wait_for(|r| *r).await;
        }
    }

    /// Stops watching and scheduling; bindings in flight finish on their own.
    pub async fn stop(mut self) {
        for t in &self.informers {
            t.abort();
        }
        let _ = self.tx.send(Message::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Waits until the scheduler stops (after [`Running::stop`] or when its thread ends).
    pub async fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.informers {
            t.abort();
        }
        let _ = self.tx.send(Message::Shutdown);
    }
}

/// Starts the scheduler against the apiserver `client` talks to. Must be called inside a
/// tokio runtime; the scheduling loop runs on a thread of its own, the watches and the
/// API writes on the runtime.
pub fn start(client: Client, cfg: RunnerConfig) -> Result<Running, RunnerError> {
    let profiles = build_profiles(&cfg.config)?;
    let scheduler_names: Vec<String> = profiles.iter().map(|p| p.scheduler_name.clone()).collect();
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready) = tokio::sync::watch::channel(false);
    let handle = tokio::runtime::Handle::current();
    let component = scheduler_names
        .first()
        .cloned()
        .unwrap_or_else(|| "default-scheduler".into());
    let recorder = recorder::Recorder::start(client.clone(), component);
    let writer = Arc::new(writer::Writer::new(
        client.clone(),
        recorder,
        tx.clone(),
        if cfg.max_concurrent_binds == 0 {
            DEFAULT_CONCURRENT_BINDS
        } else {
            cfg.max_concurrent_binds
        },
    ));
    let informers = informers::spawn(client, tx.clone());
    let driver_cfg = cfg.clone();
    let names = scheduler_names.clone();
    let thread = std::thread::Builder::new()
        .name("cuttle-scheduler".into())
        .spawn(move || {
            let _guard = handle.enter();
            match driver::Driver::new(&driver_cfg, names, writer, ready_tx) {
                Ok(mut d) => d.run(rx),
                Err(e) => tracing::error!("scheduler: {e}"),
            }
        })
        .map_err(RunnerError::Thread)?;
    Ok(Running {
        tx,
        informers,
        thread: Some(thread),
        ready,
        scheduler_names,
    })
}
