//! The client cuttle's components reach an apiserver with: kube-rs' layers
//! (base URI, authentication, extra headers) and its timeouts, over a
//! connector of our own that does what client-go does and kube-rs'
//! default does not: Nagle's algorithm off (Go sets TCP_NODELAY on every
//! connection) and HTTP/2 offered, so that requests share one connection
//! instead of one connection per request in flight.

use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use kube::client::{Body, ConfigExt};
use kube::{Client, Config};

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig's TLS or authentication settings.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// The kubeconfig's `tls-server-name` is no valid name.
    #[error("tls-server-name {name:?}: {reason}")]
    ServerName { name: String, reason: String },
    /// The kubeconfig names an HTTP proxy, which this client cannot use.
    #[error("proxy-url {0:?}: connecting through a proxy is not supported")]
    Proxy(String),
}

/// A client for `config`; with `http2`, HTTP/2 is offered (ALPN `h2`, with
/// HTTP/1.1 as the fallback), otherwise HTTP/1.1 only.
pub fn build(config: &Config, http2: bool) -> Result<Client, ClientError> {
    Ok(Client::new(
        service(config, http2)?,
        config.default_namespace.clone(),
    ))
}

/// [`build`]'s stack as a bare [`Service`].
pub fn service(config: &Config, http2: bool) -> Result<Service, ClientError> {
    if let Some(proxy) = &config.proxy_url {
        return Err(ClientError::Proxy(proxy.to_string()));
    }
    let mut tls = config.rustls_client_config()?;
    // The connector below offers the protocols it is enabled for.
    tls.alpn_protocols.clear();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    // As kube-rs does: the kubeconfig may name the server's certificate
    // differently from its address.
    if let Some(name) = &config.tls_server_name {
        let server = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
            ClientError::ServerName {
                name: name.clone(),
                reason: e.to_string(),
            }
        })?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(server));
    }
    let https = if http2 {
        https.enable_http1().enable_http2().wrap_connector(http)
    } else {
        https.enable_http1().wrap_connector(http)
    };
    let mut connector = TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    // Pings find a dead connection (client-go's 30 s / 15 s): with HTTP/2
    // one connection carries every watch and write, and a half-open one
    // would otherwise stall them all for good.
    let hyper: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .http2_keep_alive_interval(Some(std::time::Duration::from_secs(30)))
            .http2_keep_alive_timeout(std::time::Duration::from_secs(15))
            .http2_keep_alive_while_idle(true)
            .build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(hyper);
    Ok(tower::util::BoxCloneSyncService::new(service))
}

/// The HTTP stack of [`build`] without kube-rs' [`Client`] around it: a
/// request goes straight to the connection pool, with no hop through the
/// client's buffer task. For load generators, whose own CPU is taken from
/// the server they measure.
pub type Service = tower::util::BoxCloneSyncService<
    http::Request<Body>,
    http::Response<hyper::body::Incoming>,
    tower::BoxError,
>;
