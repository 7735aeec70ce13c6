//! The API itself: routes a request to discovery or to the verb handlers,
//! after authentication. Reads are served from the watch cache; writes go
//! to the store with a compare on the object's resourceVersion.

mod authentication_bootstrap;
pub mod body;
mod connect;
mod discovery;
pub mod event_ttl;
mod events;
mod limit_ranger;
pub mod meta;
mod namespaces;
mod openapi;
mod partial;
mod priority;
mod rbac_bootstrap;
mod read;
mod reviews;
mod services;
mod stored;
mod table;
mod watch;
mod write;

use crate::allocators::Allocators;
use crate::auth::User;
use crate::request::{self, Query, Target, Verb};
use crate::status::ApiError;
use crate::watch_cache::WatchCache;
use body::{error_response, full, Body};
use bytes::Bytes;
use cuttle_store::Store;
use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use authentication_bootstrap::bootstrap as authentication_bootstrap;
pub use namespaces::bootstrap as namespaces_bootstrap;
pub use priority::bootstrap as priority_classes_bootstrap;
pub use rbac_bootstrap::bootstrap as rbac_bootstrap;
pub(crate) use services::advertise_address;
pub use services::bootstrap as services_bootstrap;

/// The Kubernetes version whose API cuttle serves.
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "33";
pub const KUBE_GIT_VERSION: &str = "v1.33.0-cuttle";

/// The apiserver's state, shared by every connection.
pub struct ApiServer {
    /// Signs and checks service account tokens.
    pub tokens: crate::tokens::TokenSigner,
    pub store: Arc<dyn Store>,
    pub cache: Arc<WatchCache>,
    /// Cluster IPs and node ports of Services.
    pub allocators: Arc<Allocators>,
    /// The lease Event writes take (`--event-ttl`).
    pub event_leases: event_ttl::EventLeases,
    /// Where clients reach this server (`host:port`), as `/api` tells them.
    pub advertise: String,
    requests: AtomicU64,
    errors: AtomicU64,
}

/// Paths anyone may read without credentials, as Kubernetes'
/// `system:public-info-viewer` role allows.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/version/"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

impl ApiServer {
    pub fn new(
        store: Arc<dyn Store>,
        cache: Arc<WatchCache>,
        allocators: Arc<Allocators>,
        tokens: crate::tokens::TokenSigner,
        event_ttl: std::time::Duration,
        advertise: std::net::SocketAddr,
    ) -> Arc<ApiServer> {
        Arc::new(ApiServer {
            event_leases: event_ttl::EventLeases::new(event_ttl),
            advertise: advertise.to_string(),
            store,
            cache,
            allocators,
            tokens,
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }

    /// The service account a bearer token names, if it verifies and the
    /// account still exists (with the uid the token was issued for).
    pub(crate) fn token_user(&self, token: &str) -> Option<User> {
        let claims = self.tokens.verify(token, chrono::Utc::now().timestamp())?;
        let accounts = crate::resources::find("", "v1", "serviceaccounts")?;
        let key = accounts.key(Some(&claims.namespace), &claims.service_account);
        let account = self.cache.get(accounts, &key)?;
        if !claims.uid.is_empty() {
            // The account's own uid, not any uid its JSON mentions.
            let account: serde_json::Value = serde_json::from_slice(&account.json).ok()?;
            if meta::meta_str(&account, "uid") != Some(claims.uid.as_str()) {
                return None;
            }
        }
        // A bound token lives only as long as the object it is bound to
        // (a pod-bound token's node claim is information only).
        if let Some(b) = claims.bound.first() {
            let (resource, namespace) = match b.claim {
                "pod" => (
                    crate::resources::find("", "v1", "pods")?,
                    Some(claims.namespace.as_str()),
                ),
                "secret" => (
                    crate::resources::find("", "v1", "secrets")?,
                    Some(claims.namespace.as_str()),
                ),
                _ => (crate::resources::find("", "v1", "nodes")?, None),
            };
            let cached = self
                .cache
                .get(resource, &resource.key(namespace, &b.name))?;
            let obj: serde_json::Value = serde_json::from_slice(&cached.json).ok()?;
            if meta::meta_str(&obj, "uid") != Some(b.uid.as_str()) {
                return None;
            }
        }
        Some(User {
            name: claims.username(),
            groups: claims.groups(),
        })
    }

    /// Serves one request from an (authenticated or anonymous) user.
    pub async fn handle(
        self: &Arc<Self>,
        req: Request<Incoming>,
        user: Option<User>,
    ) -> Response<Body> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let path = req.uri().path().to_owned();
        // Without a client certificate, a bearer token may name the user.
        let bearer = if user.is_none() {
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| self.token_user(t.trim()))
        } else {
            None
        };
        let user = match bearer {
            Some(Some(u)) => Some(u),
            // A token that does not verify is refused, even on public paths.
            Some(None) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                return error_response(&ApiError::Unauthorized);
            }
            None => user,
        };
        let resp = if user.is_none() && !is_public(&path) {
            Err(ApiError::Unauthorized)
        } else {
            self.route(req, &path, user.as_ref()).await
        };
        match resp {
            Ok(r) => r,
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                error_response(&e)
            }
        }
    }

    async fn route(
        self: &Arc<Self>,
        req: Request<Incoming>,
        path: &str,
        user: Option<&User>,
    ) -> Result<Response<Body>, ApiError> {
        match path {
            p if cuttle_health::endpoint(p).is_some() => {
                return Ok(self.health(p, req.uri().query()).await)
            }
            "/version" | "/version/" => return Ok(version()),
            "/metrics" => return Ok(self.metrics()),
            "/openapi/v3" | "/openapi/v3/" => return Ok(openapi::index()),
            "/openapi/v2" | "/openapi/v2/" => return openapi::v2(req.headers()),
            p if p.starts_with("/openapi/v3/") => {
                return openapi::group_version(&p["/openapi/v3/".len()..])
            }
            _ => {}
        }
        let query = Query::parse(req.uri().query());
        let target = request::parse(req.method(), path, &query)?;
        match target {
            Target::CoreVersions => discovery::core_versions(req.headers(), &self.advertise),
            Target::Groups => discovery::groups(req.headers()),
            Target::Group { group } => discovery::group(&group),
            Target::ResourceList { group, version } => discovery::resource_list(&group, &version),
            Target::Resource(r) if !r.resource.is_stored() => {
                let (parts, body) = req.into_parts();
                let bytes = body::read_limited(body, &parts.headers).await?;
                reviews::create(self, &r, &parts.headers, &bytes, user)
            }
            Target::Resource(mut r) => {
                r.user = user.cloned();
                // events.k8s.io Events are core Events, converted.
                if r.resource.group == "events.k8s.io" {
                    r.resource = crate::resources::find("", "v1", "events")
                        .ok_or(ApiError::NoSuchResource)?;
                    let watch = r.verb == Verb::Watch;
                    let mut query = query.clone();
                    if let Some(selector) = query.get("fieldSelector") {
                        let core = events::field_selector_to_core(selector)
                            .map_err(ApiError::bad_request)?;
                        query.0.insert("fieldSelector".into(), vec![core]);
                    }
                    let resp = self.serve_resource(req, &r, &query, true).await?;
                    return Ok(convert_events_response(resp, watch).await);
                }
                let resp = self.serve_resource(req, &r, &query, false).await?;
                Ok(with_deprecation(r.resource, resp))
            }
        }
    }

    /// Serves a verb on a resource; with `new_events` the request body is
    /// an events.k8s.io Event, converted to core first.
    async fn serve_resource(
        self: &Arc<Self>,
        req: Request<Incoming>,
        r: &request::ResourceRequest,
        query: &Query,
        new_events: bool,
    ) -> Result<Response<Body>, ApiError> {
        if r.subresource.is_some_and(|s| s.connects()) {
            return connect::serve(self, r, query, req.method()).await;
        }
        if req.method() == Method::GET || req.method() == Method::HEAD {
            match r.verb {
                Verb::Get => read::get(self, r, query, req.headers()).await,
                Verb::List => read::list(self, r, query, req.headers()).await,
                Verb::Watch => watch::watch(self, r, query, req.headers()).await,
                _ => Err(ApiError::MethodNotAllowed),
            }
        } else {
            let (mut parts, body) = req.into_parts();
            let mut bytes = body::read_limited(body, &parts.headers).await?;
            if new_events && !bytes.iter().all(u8::is_ascii_whitespace) {
                let media = body::content_type(&parts.headers);
                let mut v = match media.as_str() {
                    "application/json-patch+json" => body::decode_json(&bytes)?,
                    "application/vnd.kubernetes.protobuf" => {
                        // Re-encoded as JSON below, and said so.
                        parts.headers.insert(
                            header::CONTENT_TYPE,
                            header::HeaderValue::from_static("application/json"),
                        );
                        body::decode(&bytes, &media)?
                    }
                    _ => body::decode_yaml(&bytes)?,
                };
                if media == "application/json-patch+json" {
                    events::json_patch_to_core(&mut v);
                } else {
                    events::to_core(&mut v);
                }
                bytes = Bytes::from(serde_json::to_vec(&v).map_err(ApiError::internal)?);
            }
            write::handle(self, r, query, &parts.headers, bytes).await
        }
    }

    fn metrics(&self) -> Response<Body> {
        let text_body = format!(
            "# HELP apiserver_request_total Requests served.\n# TYPE apiserver_request_total counter\napiserver_request_total {}\n# HELP apiserver_request_errors_total Requests answered with an error status.\n# TYPE apiserver_request_errors_total counter\napiserver_request_errors_total {}\n# HELP apiserver_watch_cache_revision Revision the watch cache has applied.\n# TYPE apiserver_watch_cache_revision gauge\napiserver_watch_cache_revision {}\n# HELP apiserver_watch_cache_object_bytes Bytes of object JSON held by the watch cache.\n# TYPE apiserver_watch_cache_object_bytes gauge\napiserver_watch_cache_object_bytes {}\n",
            self.requests.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.cache.revision(),
            self.cache.stored_bytes(),
        );
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(full(text_body))
            .unwrap_or_else(|_| Response::new(full(Bytes::new())))
    }
}

/// Converts a core Event response (object, list or watch stream) to
/// events.k8s.io/v1.
async fn convert_events_response(resp: Response<Body>, watch: bool) -> Response<Body> {
    use http_body_util::BodyExt;
    // Tables and metadata-only objects read the same in both versions.
    let rendered = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("as=Table") || v.contains("as=PartialObjectMetadata"));
    if rendered {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    if watch {
        let mapped = body.map_frame(|f| match f.into_data() {
            Ok(d) => hyper::body::Frame::data(events::watch_line_from_core(&d)),
            Err(f) => f,
        });
        return Response::from_parts(parts, BodyExt::boxed(mapped));
    }
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(never) => match never {},
    };
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, full(events::response_from_core(&bytes)))
}

/// The warning Kubernetes sends with every request to a deprecated API
/// version (shown by kubectl as `Warning: ...`).
fn with_deprecation(
    resource: &crate::resources::Resource,
    mut resp: Response<Body>,
) -> Response<Body> {
    if (resource.group, resource.plural) == ("", "endpoints") {
        resp.headers_mut().append(
            header::WARNING,
            header::HeaderValue::from_static(
                "299 - \"v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\"",
            ),
        );
    }
    resp
}

/// How long the `etcd` health check waits for the store, as
/// kube-apiserver's `--etcd-healthcheck-timeout` (2 s).
const STORE_HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl ApiServer {
    /// `/healthz`, `/livez`, `/readyz` and their single checks, with
    /// kube-apiserver's `ping`, `log` and `etcd` checks; `etcd` asks the
    /// store (embedded or etcd) for its revisions.
    async fn health(&self, path: &str, query: Option<&str>) -> Response<Body> {
        let Some((endpoint, check)) = cuttle_health::endpoint(path) else {
            return text(StatusCode::NOT_FOUND, "404 page not found\n");
        };
        let store = match tokio::time::timeout(STORE_HEALTH_TIMEOUT, self.store.revisions()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "no answer from the store in {STORE_HEALTH_TIMEOUT:?}"
            )),
        };
        let checks = [
            cuttle_health::Check::passing("ping"),
            cuttle_health::Check::passing("log"),
            cuttle_health::Check::new("etcd", move || store.clone()),
        ];
        let answer = cuttle_health::answer(endpoint, check, query, &checks);
        Response::builder()
            .status(answer.status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header("x-content-type-options", "nosniff")
            .body(full(answer.body))
            .unwrap_or_else(|_| Response::new(full(Bytes::new())))
    }
}

fn text(code: StatusCode, s: &'static str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(full(s))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

fn version() -> Response<Body> {
    let v = serde_json::json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": KUBE_GIT_VERSION,
        "gitCommit": "cuttle",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": "linux/amd64",
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": "32",
    });
    body::value_response(StatusCode::OK, &v)
}
