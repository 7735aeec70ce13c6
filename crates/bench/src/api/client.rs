//! The benchmark's side of the wire: kube-rs clients built from a
//! kubeconfig, and the few raw requests the phases time. Requests are
//! sent pre-encoded and their answers are not decoded into objects, so
//! that the client spends as little of the machine as it can and holds no
//! pods in memory.

use super::error::ApiBenchError;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kube::client::Body;
use kube::{Client, Config};
use std::path::Path;

/// A connection to the apiserver under test.
pub(super) struct Conn {
    /// The column the target is reported under.
    pub target: String,
    /// The server's URL.
    pub url: String,
    config: Config,
    /// kube-rs' own stack (HTTP/1.1, a connection per request in flight),
    /// without its retries, which would hide errors in the latencies.
    pub client: Client,
    /// The same stack without kube-rs' client around it, for the timed
    /// creates: no hop through the client's buffer task per request.
    raw: cuttle_scheduler::runner::client::Service,
}

impl Conn {
    /// Connects with the kubeconfig at `path`; `target` names the column.
    pub async fn open(path: &Path, target: String) -> Result<Conn, ApiBenchError> {
        let kubeconfig_err = |source| ApiBenchError::Kubeconfig {
            path: path.to_owned(),
            source,
        };
        let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(kubeconfig_err)?;
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(kubeconfig_err)?;
        config.default_retry = false;
        let client = client_of(&config, &target, false)?;
        let raw = cuttle_scheduler::runner::client::service(&config, false)
            .map_err(|e| client_err(&target, e))?;
        Ok(Conn {
            target,
            url: config.cluster_url.to_string(),
            config,
            client,
            raw,
        })
    }

    /// A client of its own connections that offers HTTP/2 (ALPN `h2`,
    /// falling back to HTTP/1.1), so that many requests share one
    /// connection as client-go's do. kube-rs' default stack offers only
    /// HTTP/1.1.
    pub fn http2_client(&self) -> Result<Client, ApiBenchError> {
        client_of(&self.config, &self.target, true)
    }
    /// The server's version (`gitVersion`), for the report.
    pub async fn version(&self) -> Result<String, ApiBenchError> {
        let info = self
            .client
            .apiserver_version()
            .await
            .map_err(self.request_err("version"))?;
        Ok(info.git_version)
    }

    /// Creates `namespace`; with `wait_for_service_account`, on a cluster
    /// that makes service accounts, waits for its `default` one (a real
    /// cluster refuses pods until it is there).
    pub async fn create_namespace(
        &self,
        namespace: &str,
        wait_for_service_account: bool,
    ) -> Result<(), ApiBenchError> {
        const PHASE: &str = "creating the namespace";
        let api: Api<Namespace> = Api::all(self.client.clone());
        let mut ns = Namespace::default();
        ns.metadata.name = Some(namespace.to_owned());
        api.create(&PostParams::default(), &ns)
            .await
            .map_err(self.request_err(PHASE))?;
        if !wait_for_service_account {
            return Ok(());
        }
        crate::cluster::wait_for_default_service_account(&self.client, namespace).await;
        Ok(())
    }

    /// Deletes `namespace` (and so everything in it), without waiting for
    /// it to go.
    pub async fn delete_namespace(&self, namespace: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        if let Err(error) = api.delete(namespace, &DeleteParams::background()).await {
            tracing::warn!(target = %self.target, namespace, %error, "could not delete the benchmark's namespace");
        }
    }

    /// Sends `body` as JSON to `path` with POST; its answer must be a
    /// success, whose body is read and dropped.
    pub async fn post(
        &self,
        phase: &'static str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(), ApiBenchError> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Body::from(body))
            .map_err(|e| self.unexpected(phase, format!("building the request: {e}")))?;
        let (code, body) = crate::raw::send(&self.raw, req)
            .await
            .map_err(self.request_err(phase))?;
        if code.is_success() {
            return Ok(());
        }
        Err(self.failed(phase, "POST".into(), path.to_owned(), code, &body))
    }

    /// The [`ApiBenchError::Status`] of an answer that is not a success.
    fn failed(
        &self,
        phase: &'static str,
        method: String,
        path: String,
        code: StatusCode,
        body: &[u8],
    ) -> ApiBenchError {
        ApiBenchError::Status {
            target: self.target.clone(),
            phase,
            method,
            path,
            code: code.as_u16(),
            message: status_message(code, body),
        }
    }

    /// GETs `path` and reads the whole answer, which must be a success;
    /// returns how many bytes it had.
    pub async fn get_len(&self, phase: &'static str, path: &str) -> Result<u64, ApiBenchError> {
        let resp = self.send(&self.client, phase, get(path)?).await?;
        self.drain(phase, resp).await
    }

    /// GETs `path` and returns the whole answer, which must be a success.
    pub async fn get_bytes(&self, phase: &'static str, path: &str) -> Result<Bytes, ApiBenchError> {
        let resp = self.send(&self.client, phase, get(path)?).await?;
        resp.into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(self.request_err(phase))
    }

    /// Sends `req` with `client`; an answer that is not a success becomes
    /// a [`ApiBenchError::Status`] with the server's message.
    pub async fn send(
        &self,
        client: &Client,
        phase: &'static str,
        req: Request<Body>,
    ) -> Result<Response<Body>, ApiBenchError> {
        let method = req.method().to_string();
        let path = req.uri().to_string();
        let resp = client.send(req).await.map_err(self.request_err(phase))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let code = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Err(self.failed(phase, method, path, code, &body))
    }

    /// Reads a successful answer's body to the end; returns its length.
    async fn drain(&self, phase: &'static str, resp: Response<Body>) -> Result<u64, ApiBenchError> {
        let mut body = resp.into_body();
        let mut len = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(self.request_err(phase))?;
            if let Some(data) = frame.data_ref() {
                len += data.len() as u64;
            }
        }
        Ok(len)
    }

    /// Maps a client error of `phase` to [`ApiBenchError::Request`].
    pub fn request_err(&self, phase: &'static str) -> impl Fn(kube::Error) -> ApiBenchError + '_ {
        move |source| ApiBenchError::Request {
            target: self.target.clone(),
            phase,
            source,
        }
    }

    /// An [`ApiBenchError::Unexpected`] of `phase`.
    pub fn unexpected(&self, phase: &'static str, detail: String) -> ApiBenchError {
        ApiBenchError::Unexpected {
            target: self.target.clone(),
            phase,
            detail,
        }
    }
}

/// A GET of `path` asking for JSON.
pub(super) fn get(path: &str) -> Result<Request<Body>, ApiBenchError> {
    Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(http::header::ACCEPT, "application/json")
        .body(Body::empty())
        .map_err(|e| ApiBenchError::InvalidOptions(format!("bad request path {path:?}: {e}")))
}

/// The path of the pods of `namespace`.
pub(super) fn pods_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

/// The message of an error answer: its `Status` message, or its start.
fn status_message(code: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(default)]
        reason: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(s) if !s.message.is_empty() => format!("{} ({})", s.message, s.reason),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(300).collect();
            if text.trim().is_empty() {
                code.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            }
        }
    }
}

/// A client as cuttle's components build it (Nagle off, as client-go),
/// offering HTTP/2 when `http2`; without kube-rs' retries, which would
/// hide errors in the latencies.
fn client_of(config: &Config, target: &str, http2: bool) -> Result<Client, ApiBenchError> {
    cuttle_scheduler::runner::client::build(config, http2).map_err(|e| client_err(target, e))
}

fn client_err(target: &str, e: cuttle_scheduler::runner::client::ClientError) -> ApiBenchError {
    use cuttle_scheduler::runner::client::ClientError;
    match e {
        ClientError::Kube(source) => ApiBenchError::Client {
            target: target.to_owned(),
            source,
        },
        other => ApiBenchError::Unexpected {
            target: target.to_owned(),
            phase: "connecting",
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_status_or_body() {
        let status = br#"{"kind":"Status","status":"Failure","message":"pods \"a\" already exists","reason":"AlreadyExists","code":409}"#;
        assert_eq!(
            status_message(StatusCode::CONFLICT, status),
            "pods \"a\" already exists (AlreadyExists)"
        );
        assert_eq!(
            status_message(StatusCode::BAD_GATEWAY, b"upstream down"),
            "upstream down"
        );
        assert_eq!(
            status_message(StatusCode::SERVICE_UNAVAILABLE, b""),
            "Service Unavailable"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(pods_path("bench-1"), "/api/v1/namespaces/bench-1/pods");
        assert!(get("/api/v1/namespaces/x/pods?limit=500").is_ok());
        assert!(get("not a path\n").is_err());
    }
}
