//! cuttle's apiserver: the Kubernetes REST API over cuttle's store, for the
//! real kubectl and the Kubernetes client libraries. It is the only
//! component that touches the store; everything else talks to it.
//!
//! [`ApiServerConfig`] and [`start`] wire the pieces: certificates and the
//! admin kubeconfig ([`pki`]), the HTTPS server and authentication
//! ([`server`], [`auth`]), request parsing ([`request`]), the served
//! resources ([`resources`]), the verb handlers ([`api`]) over the store
//! and the in-memory [`watch_cache`]; Services get cluster IPs and node
//! ports from the [`allocators`].

pub mod addresses;
pub mod allocators;
pub mod api;
pub mod apply;
pub mod auth;
pub mod created_fields;
pub mod fields;
pub mod kinds;
pub mod object_meta;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod request;
pub mod resources;
pub mod schemas;
pub mod selectors;
pub mod server;
pub mod sparse;
pub mod splice;
pub mod status;
pub mod tokens;
pub mod watch_cache;

pub use allocators::ServiceNetwork;
use cuttle_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often store history is compacted (kube-apiserver's default).
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// What `cuttle apiserver` is started with.
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    pub data_dir: PathBuf,
    /// `etcd://host:port[,...]` for an etcd cluster; the embedded store
    /// under `data_dir` otherwise.
    pub etcd_servers: Option<String>,
    pub bind_address: std::net::IpAddr,
    pub secure_port: u16,
    /// `--service-cluster-ip-range` and `--service-node-port-range`.
    pub service_network: ServiceNetwork,
    /// `--event-ttl`: how long Events are kept after their last write.
    pub event_ttl: std::time::Duration,
}

impl ApiServerConfig {
    /// An apiserver for tests and benchmarks: the embedded store under
    /// `data_dir`, 127.0.0.1, a free port, the default service ranges.
    pub fn loopback(data_dir: impl Into<PathBuf>) -> ApiServerConfig {
        ApiServerConfig {
            data_dir: data_dir.into(),
            etcd_servers: None,
            bind_address: std::net::Ipv4Addr::LOCALHOST.into(),
            secure_port: 0,
            service_network: ServiceNetwork::default(),
            event_ttl: api::event_ttl::DEFAULT_EVENT_TTL,
        }
    }
}

/// Why the apiserver could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("store: {0}")]
    Store(#[from] cuttle_store::Error),
    #[error("certificates: {0}")]
    Pki(#[from] pki::PkiError),
    #[error("TLS: {0}")]
    Tls(#[from] server::TlsError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A started apiserver.
pub struct Running {
    pub addr: SocketAddr,
    pub kubeconfig: PathBuf,
    pub api: Arc<api::ApiServer>,
    pub pki: pki::Pki,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    compactor: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops serving and waits for the server task.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
        self.compactor.abort();
        self.api.cache.stop();
    }

    /// The HTTPS URL clients reach the server at.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// Opens the store, prepares certificates and the admin kubeconfig, loads
/// the watch cache and starts serving.
pub async fn start(config: ApiServerConfig) -> Result<Running, StartError> {
    let store: Arc<dyn Store> = match &config.etcd_servers {
        Some(endpoints) => cuttle_store::open(endpoints).await?,
        None => cuttle_store::open(&config.data_dir.join("store").display().to_string()).await?,
    };
    start_with_store(config, store).await
}

/// As [`start`], over a store the caller opened.
pub async fn start_with_store(
    config: ApiServerConfig,
    store: Arc<dyn Store>,
) -> Result<Running, StartError> {
    let addr = SocketAddr::new(config.bind_address, config.secure_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let host = hostname();
    let mut names = vec![config.bind_address.to_string()];
    names.extend(host);
    let pki = pki::Pki::load_or_create(&config.data_dir, &names)?;
    let connect_host = if config.bind_address.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        config.bind_address.to_string()
    };
    let kubeconfig = config.data_dir.join("kubeconfig.yaml");
    pki.write_admin_kubeconfig(
        &kubeconfig,
        &format!("https://{connect_host}:{}", addr.port()),
    )?;
    api::namespaces_bootstrap(store.as_ref()).await?;
    api::priority_classes_bootstrap(store.as_ref()).await?;
    api::rbac_bootstrap(store.as_ref()).await?;
    api::authentication_bootstrap(store.as_ref(), &pki.ca_cert_pem).await?;
    api::services_bootstrap(
        store.as_ref(),
        &config.service_network,
        config.bind_address,
        addr.port(),
    )
    .await?;
    let cache = watch_cache::WatchCache::start(store.clone()).await?;
    let allocators = allocators::Allocators::new(config.service_network);
    let signer = tokens::TokenSigner::new(&pki.service_account_secret);
    let advertise = SocketAddr::new(api::advertise_address(config.bind_address), addr.port());
    let api = api::ApiServer::new(
        store.clone(),
        cache,
        allocators,
        signer,
        config.event_ttl,
        advertise,
    );
    let tls = server::tls_config(&pki)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, tls, api.clone(), async {
        let _ = rx.await;
    }));
    let compactor = cuttle_store::Compactor::spawn(store, COMPACTION_INTERVAL);
    tracing::info!(%addr, kubeconfig = %kubeconfig.display(), "apiserver serving");
    Ok(Running {
        addr,
        kubeconfig,
        api,
        pki,
        shutdown: tx,
        task,
        compactor,
    })
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
