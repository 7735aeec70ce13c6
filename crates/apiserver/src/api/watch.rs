//! Watches over HTTP: a chunked stream of `{"type":..., "object":...}`
//! lines from the watch cache. Selectors are applied with Kubernetes'
//! transitions (an object that stops matching is sent as DELETED, one that
//! starts matching as ADDED); bookmarks are sent when asked for; the stream
//! ends after `timeoutSeconds`.

use super::body::{wants_table, Body};
use super::read::{wait_fresh, Selectors};
use super::{partial, table, ApiServer};
use crate::request::{Query, ResourceRequest};
use crate::resources::Resource;
use crate::status::ApiError;
use crate::watch_cache::{CacheError, CacheEvent, EventType, WatchFrom};
use bytes::{BufMut, Bytes, BytesMut};
use http::{header, HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The bytes of event lines gathered into one chunk at most. The events
/// a commit publishes arrive together: sent as one chunk they cost one
/// write to the connection instead of one each (a tenth of the writes in
/// the scheduler's end-to-end bench, whose commits carry ten writes).
const CHUNK: usize = 256 * 1024;
/// Events taken from the queue for one chunk at most, so that a watch
/// whose selector passes few of them still yields now and then.
const CHUNK_EVENTS: usize = 512;
/// Interval of bookmarks for clients that allow them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);
/// The longest a watch lasts without `timeoutSeconds` (Kubernetes picks a
/// random 30 to 60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Encoder {
    resource: &'static Resource,
    table: bool,
    /// What a Table row carries (`includeObject`).
    rows: table::RowObject,
    /// The meta.k8s.io version, when objects go out as
    /// PartialObjectMetadata.
    partial: Option<&'static str>,
}

impl Encoder {
    /// Appends one event's line to `out`.
    fn put_line(&self, out: &mut BytesMut, kind: &str, object: &[u8]) {
        out.reserve(object.len() + 32);
        out.put_slice(b"{\"type\":\"");
        out.put_slice(kind.as_bytes());
        out.put_slice(b"\",\"object\":");
        if let Some(version) = self.partial {
            out.put_slice(&partial::from_json(version, object));
        } else if self.table {
            let v = serde_json::from_slice(object).unwrap_or(serde_json::Value::Null);
            let rv = v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let t = table::table(self.resource, &[v], &rv, self.rows);
            out.put_slice(&serde_json::to_vec(&t).unwrap_or_default());
        } else {
            out.put_slice(object);
        }
        out.put_slice(b"}\n");
    }

    fn bookmark(&self, rv: i64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = match self.partial {
            Some(version) => partial::object(version, meta),
            None => {
                json!({"kind": self.resource.kind, "apiVersion": self.resource.api_version(), "metadata": meta})
            }
        };
        let line = json!({"type": "BOOKMARK", "object": obj});
        let mut v = serde_json::to_vec(&line).unwrap_or_default();
        v.push(b'\n');
        Bytes::from(v)
    }
}

/// What to send for one cache event under the watch's selectors.
fn filtered(sel: &Selectors, ev: &CacheEvent) -> Option<EventType> {
    if sel.is_empty() {
        return Some(ev.kind);
    }
    let now = sel.matches(&ev.object);
    let before = ev.prev.as_ref().is_some_and(|p| sel.matches(p));
    match ev.kind {
        EventType::Added => now.then_some(EventType::Added),
        EventType::Deleted => (now || before).then_some(EventType::Deleted),
        EventType::Modified => match (before, now) {
            (true, true) => Some(EventType::Modified),
            (false, true) => Some(EventType::Added),
            (true, false) => Some(EventType::Deleted),
            (false, false) => None,
        },
    }
}

/// `GET .../<resource>?watch=true`.
pub async fn watch(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let selectors = Selectors::parse(r.resource, query)?;
    let mut selectors = selectors;
    // A watch of one named object is a watch with a name selector.
    if let Some(name) = &r.name {
        let s = format!("metadata.name={name}");
        selectors.fields =
            crate::selectors::FieldSelector::parse(&s, crate::fields::selectable(r.resource))?;
    }
    let rv = match query.get("resourceVersion") {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
        ),
    };
    let send_initial = query.get("sendInitialEvents") == Some("true");
    let bookmarks = query.flag("allowWatchBookmarks");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let from = match rv {
        // Unset: "from the latest", with the current state first (as
        // Kubernetes' consistent watch behaves for rv="" and for "0").
        None | Some(0) => WatchFrom::Now { initial: true },
        Some(_) if send_initial => WatchFrom::Now { initial: true },
        Some(n) => WatchFrom::After(n),
    };
    if let WatchFrom::After(n) = from {
        if n > api.cache.revision() {
            wait_fresh(api, Some(n)).await?;
        }
    } else if rv.is_none() || (send_initial && rv == Some(0)) {
        // A streaming list from "0" may be served from any state, but
        // client-go and kube-rs send "0" for their initial list, and their
        // users expect their own acknowledged writes in it: the cache
        // catches up with the store first (a wait of a commit or two).
        wait_fresh(api, None).await?;
    }
    let (first, mut live) = api
        .cache
        .watch(r.resource, r.namespace.as_deref(), from)
        .map_err(|e| match e {
            CacheError::TooOld { .. } => ApiError::Gone {
                message: e.to_string(),
            },
        })?;
    let enc = Encoder {
        resource: r.resource,
        table: wants_table(headers),
        rows: table::RowObject::from_query(query.get("includeObject")),
        partial: partial::wanted(headers),
    };
    let ct = match enc.partial {
        Some(version) => partial::content_type(version, false),
        None if enc.table => "application/json;as=Table;v=v1;g=meta.k8s.io".into(),
        None => "application/json".into(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let start_rv = api.cache.revision();
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut last_rv = start_rv;
        let mut chunk = BytesMut::new();
        for ev in &first {
            if let Some(kind) = filtered(&selectors, ev) {
                last_rv = last_rv.max(ev.object.rev);
                enc.put_line(&mut chunk, kind.as_str(), &ev.object.json);
                if chunk.len() >= CHUNK && tx.send(chunk.split().freeze()).await.is_err() {
                    return;
                }
            }
        }
        if !chunk.is_empty() && tx.send(chunk.split().freeze()).await.is_err() {
            return;
        }
        if send_initial && bookmarks && tx.send(enc.bookmark(last_rv, true)).await.is_err() {
            return;
        }
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                ev = live.recv() => {
                    let Some(ev) = ev else { return };
                    // This event and those queued behind it, in one chunk.
                    let mut next = Some(ev);
                    let mut taken = 0;
                    while let Some(ev) = next.take() {
                        taken += 1;
                        last_rv = last_rv.max(ev.object.rev);
                        if let Some(kind) = filtered(&selectors, &ev) {
                            enc.put_line(&mut chunk, kind.as_str(), &ev.object.json);
                        }
                        if chunk.len() < CHUNK && taken < CHUNK_EVENTS {
                            next = live.try_recv().ok();
                        }
                    }
                    if !chunk.is_empty() && tx.send(chunk.split().freeze()).await.is_err() {
                        return;
                    }
                }
                _ = tick.tick(), if bookmarks => {
                    if tx.send(enc.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let body = StreamBody::new(futures::StreamExt::map(stream, |b| {
        Ok::<_, Infallible>(Frame::data(b))
    }));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, ct)
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(BodyExt::boxed(body))
        .map_err(ApiError::internal)
}
