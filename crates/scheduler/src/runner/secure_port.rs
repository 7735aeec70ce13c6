//! kube-scheduler's secure port (10259 by default): `/healthz`, `/livez`
//! and `/readyz` over HTTPS, so that the probes and scripts written for
//! kube-scheduler work unchanged. As kube-scheduler does when it is given
//! no certificate, the port serves a self-signed one made at start, and the
//! health paths need no credentials (its `--authorization-always-allow-paths`).
//!
//! The checks are kube-scheduler's: `/healthz` runs `leaderElection` with
//! leader election on and `ping` otherwise; `/livez` runs `ping`; `/readyz`
//! runs `leaderElection` (with leader election on), `shutdown` (failing once
//! the process is stopping) and `sched-handler-sync` (failing until the
//! scheduler's watches have delivered their first lists). A scheduler
//! waiting to lead has not started its watches yet, so it is not ready
//! (kube-scheduler syncs its informers before the election). Losing the
//! lead ends the process, so `leaderElection` passes while it runs.
//! Other paths, `/metrics` among them, answer 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// kube-scheduler's `--secure-port` default.
pub const DEFAULT_SECURE_PORT: u16 = 10259;
/// A client that does not finish its TLS handshake or its headers in this
/// time loses its connection.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the secure port could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SecurePortError {
    /// The address could not be bound (in use, or not ours).
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The IO error.
        source: std::io::Error,
    },
    /// The self-signed certificate could not be made.
    #[error("making the secure port's self-signed certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the certificate.
    #[error("the secure port's TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// What the health checks look at, shared with whoever changes it.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Leader election is on (adds the `leaderElection` check).
    pub leader_election: bool,
    synced: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
}

impl Health {
    /// Checks for a scheduler with or without leader election.
    pub fn new(leader_election: bool) -> Health {
        Health {
            leader_election,
            ..Health::default()
        }
    }

    /// The scheduler's watches have delivered their first lists.
    pub fn set_synced(&self) {
        self.synced.store(true, Ordering::Relaxed);
    }

    /// The process is stopping: `/readyz` fails from now on.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn checks(&self, endpoint: &str) -> Vec<cuttle_health::Check<'static>> {
        use cuttle_health::Check;
        let mut checks = Vec::new();
        match endpoint {
            "healthz" if self.leader_election => checks.push(Check::passing("leaderElection")),
            "readyz" => {
                if self.leader_election {
                    checks.push(Check::passing("leaderElection"));
                }
                let stopping = self.stopping.clone();
                checks.push(Check::new("shutdown", move || {
                    if stopping.load(Ordering::Relaxed) {
                        Err("process is shutting down".into())
                    } else {
                        Ok(())
                    }
                }));
                let synced = self.synced.clone();
                checks.push(Check::new("sched-handler-sync", move || {
                    if synced.load(Ordering::Relaxed) {
                        Ok(())
                    } else {
                        Err("waiting for handlers to sync".into())
                    }
                }));
            }
            _ => checks.push(Check::passing("ping")),
        }
        checks
    }

    /// The answer to one request: status and plain-text body.
    pub fn answer(&self, path: &str, query: Option<&str>) -> cuttle_health::Answer {
        match cuttle_health::endpoint(path) {
            Some((endpoint, check)) => {
                cuttle_health::answer(endpoint, check, query, &self.checks(endpoint))
            }
            None => cuttle_health::Answer {
                status: 404,
                body: "404 page not found\n".into(),
            },
        }
    }
}

/// The running secure port; dropping it stops it.
#[derive(Debug)]
pub struct SecurePort {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SecurePort {
    /// The address it listens on (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SecurePort {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves the health endpoints on it until the returned
/// [`SecurePort`] is dropped.
pub async fn serve(addr: SocketAddr, health: Health) -> Result<SecurePort, SecurePortError> {
    let tls = self_signed(addr)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SecurePortError::Listen { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SecurePortError::Listen { addr, source })?;
    let task = tokio::spawn(accept_loop(listener, TlsAcceptor::from(tls), health));
    Ok(SecurePort { addr, task })
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, health: Health) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tracing::warn!(error = %e, "scheduler secure port: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, health) = (acceptor.clone(), health.clone());
        tokio::spawn(async move {
            let Ok(Ok(tls)) = tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(move |req: http::Request<_>| {
                let answer = health.answer(req.uri().path(), req.uri().query());
                let resp = http::Response::builder()
                    .status(answer.status)
                    .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .header("x-content-type-options", "nosniff")
                    .body(Full::new(Bytes::from(answer.body)))
                    .unwrap_or_default();
                async move { Ok::<_, Infallible>(resp) }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(CLIENT_TIMEOUT);
            if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
                tracing::debug!(error = %e, "scheduler secure port: connection ended");
            }
        });
    }
}

/// A self-signed serving certificate for `localhost`, `127.0.0.1` and the
/// bound address, as kube-scheduler makes when it has none.
fn self_signed(addr: SocketAddr) -> Result<Arc<rustls::ServerConfig>, SecurePortError> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !addr.ip().is_unspecified() && !names.contains(&addr.ip().to_string()) {
        names.push(addr.ip().to_string());
    }
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost@cuttle-scheduler");
    let cert = params.self_signed(&key)?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(h: &Health, path: &str) -> (u16, String) {
        let a = h.answer(path, Some("verbose"));
        (a.status, a.body)
    }

    #[test]
    fn checks_follow_kube_scheduler() {
        let h = Health::new(false);
        assert_eq!(
            listing(&h, "/healthz"),
            (200, "[+]ping ok\nhealthz check passed\n".into())
        );
        assert_eq!(
            listing(&h, "/livez"),
            (200, "[+]ping ok\nlivez check passed\n".into())
        );
        assert_eq!(
            listing(&h, "/readyz"),
            (
                500,
                "[+]shutdown ok\n[-]sched-handler-sync failed: reason withheld\nreadyz check failed\n"
                    .into()
            )
        );
        h.set_synced();
        assert_eq!(
            listing(&h, "/readyz"),
            (
                200,
                "[+]shutdown ok\n[+]sched-handler-sync ok\nreadyz check passed\n".into()
            )
        );
        h.set_stopping();
        assert_eq!(h.answer("/readyz", None).status, 500);
        assert_eq!(h.answer("/readyz/shutdown", None).status, 500);
        assert_eq!(
            h.answer("/livez", None).status,
            200,
            "stopping is no liveness failure"
        );
        assert_eq!(h.answer("/metrics", None).status, 404);
    }

    #[test]
    fn leader_election_adds_its_check() {
        let h = Health::new(true);
        assert_eq!(
            listing(&h, "/healthz"),
            (200, "[+]leaderElection ok\nhealthz check passed\n".into())
        );
        h.set_synced();
        assert_eq!(
            listing(&h, "/readyz"),
            (
                200,
                "[+]leaderElection ok\n[+]shutdown ok\n[+]sched-handler-sync ok\nreadyz check passed\n"
                    .into()
            )
        );
    }
}
