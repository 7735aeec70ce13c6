//! get and list. A get reads the store (the latest state, as Kubernetes
//! does for an unset resourceVersion) unless `resourceVersion=0` allows
//! the cache; a list is served from the watch cache once the cache has
//! caught up with the store, or page by page from the store when the
//! client asks for `limit` (so `continue` tokens hold a consistent view).

use super::body::{json_response, json_typed, wants_table, Body};
use super::{partial, table, ApiServer};
use crate::fields;
use crate::request::{Query, ResourceRequest};
use crate::resources::{Resource, Subresource};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{from_store, ApiError};
use crate::watch_cache::{decode, CachedObject};
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use cuttle_store::{prefix_end, RangeRequest, Revision};
use http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long a read waits for the cache to reach the revision it needs.
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// The selectors of a list or watch.
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn parse(resource: &Resource, query: &Query) -> Result<Selectors, ApiError> {
        Ok(Selectors {
            labels: LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(
                query.get("fieldSelector").unwrap_or(""),
                fields::selectable(resource),
            )?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, o: &CachedObject) -> bool {
        self.labels.matches(&o.labels) && self.fields.matches(&o.fields)
    }

    fn matches_value(&self, resource: &Resource, v: &Value) -> bool {
        self.labels.matches(&fields::labels(v)) && self.fields.matches(&fields::values(resource, v))
    }
}

/// Reads one object from the store, with its resourceVersion set.
pub async fn read_object(
    api: &ApiServer,
    resource: &Resource,
    key: &str,
    name: &str,
) -> Result<(Value, Revision), ApiError> {
    let (kv, _) = api
        .store
        .get(key)
        .await
        .map_err(|e| from_store(e, resource, name))?;
    let kv = kv.ok_or_else(|| ApiError::not_found(resource, name))?;
    let obj = decode(&kv.value, kv.mod_revision)
        .map_err(|e| ApiError::internal(format!("stored object {key} is not JSON: {e}")))?;
    Ok((obj, kv.mod_revision))
}

fn parse_rv(query: &Query) -> Result<Option<Revision>, ApiError> {
    match query.get("resourceVersion") {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<Revision>()
            .ok()
            .filter(|r| *r >= 0)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("invalid resourceVersion {s:?}"))),
    }
}

/// `GET .../<resource>/<name>[/status|/scale]`.
pub async fn get(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let name = r.name.as_deref().unwrap_or_default();
    let key = r.resource.key(r.namespace.as_deref(), name);
    let obj = if parse_rv(query)? == Some(0) {
        let o = api
            .cache
            .get(r.resource, &key)
            .ok_or_else(|| ApiError::not_found(r.resource, name))?;
        serde_json::from_slice(&o.json).map_err(ApiError::internal)?
    } else {
        read_object(api, r.resource, &key, name).await?.0
    };
    let obj = match r.subresource {
        Some(Subresource::Scale) => super::write::scale_of(&obj),
        _ => obj,
    };
    if let Some(version) = partial::wanted(headers).filter(|_| r.subresource.is_none()) {
        let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
        let body =
            serde_json::to_vec(&partial::object(version, meta)).map_err(ApiError::internal)?;
        return Ok(json_typed(
            StatusCode::OK,
            Bytes::from(body),
            &partial::content_type(version, false),
        ));
    }
    // The status subresource prints as its object does; a Scale has its own columns.
    let table_of = match r.subresource {
        None | Some(Subresource::Status) => Some(false),
        Some(Subresource::Scale) => Some(true),
        _ => None,
    };
    if let Some(scale) = table_of.filter(|_| wants_table(headers)) {
        let rv = obj["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let t = if scale {
            table::scale_table(&obj, &rv)
        } else {
            table::table(
                r.resource,
                &[obj],
                &rv,
                table::RowObject::from_query(query.get("includeObject")),
            )
        };
        return Ok(table::response(&t));
    }
    Ok(super::body::value_response(StatusCode::OK, &obj))
}

/// Continue tokens, as Kubernetes encodes them: base64 of
/// `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after the prefix>"}`.
fn encode_continue(rv: Revision, start: &str) -> String {
    let j = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(j.to_string())
}

fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_i64().filter(|r| *r > 0).ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?.to_owned();
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rv, start))
}

/// `GET .../<resource>` (without `watch`).
pub async fn list(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let selectors = Selectors::parse(r.resource, query)?;
    let rv = parse_rv(query)?;
    let limit: i64 = match query.get("limit") {
        None | Some("") => 0,
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {s:?}")))?,
    };
    let cont = query.get("continue").filter(|c| !c.is_empty());
    let exact = query.get("resourceVersionMatch") == Some("Exact");
    let from_store = cont.is_some() || (limit > 0 && rv != Some(0)) || exact;
    let (items, list_rv, next) = if from_store {
        list_from_store(api, r, &selectors, limit, rv, cont).await?
    } else {
        let (items, list_rv) = list_from_cache(api, r, &selectors, rv).await?;
        (items, list_rv, None)
    };
    if let Some(version) = partial::wanted(headers) {
        let partials: Vec<Bytes> = items
            .iter()
            .map(|b| partial::from_json(version, b))
            .collect();
        let api_version = format!("meta.k8s.io/{version}");
        let body = list_body(
            "PartialObjectMetadataList",
            &api_version,
            &partials,
            list_rv,
            next.as_ref(),
        );
        return Ok(json_typed(
            StatusCode::OK,
            body,
            &partial::content_type(version, true),
        ));
    }
    if wants_table(headers) {
        let values: Vec<Value> = items
            .iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect();
        let mut t = table::table(
            r.resource,
            &values,
            &list_rv.to_string(),
            table::RowObject::from_query(query.get("includeObject")),
        );
        if let Some((token, _)) = &next {
            t["metadata"]["continue"] = json!(token);
        }
        return Ok(table::response(&t));
    }
    Ok(json_response(
        StatusCode::OK,
        list_body(
            &r.resource.list_kind(),
            &r.resource.api_version(),
            &items,
            list_rv,
            next.as_ref(),
        ),
    ))
}

/// A list's JSON, built by concatenating the items' bytes.
fn list_body(
    kind: &str,
    api_version: &str,
    items: &[Bytes],
    rv: Revision,
    next: Option<&(String, Option<i64>)>,
) -> Bytes {
    let size: usize = items.iter().map(|i| i.len() + 1).sum::<usize>() + 256;
    let mut out = BytesMut::with_capacity(size);
    out.put_slice(b"{\"kind\":\"");
    out.put_slice(kind.as_bytes());
    out.put_slice(b"\",\"apiVersion\":\"");
    out.put_slice(api_version.as_bytes());
    out.put_slice(b"\",\"metadata\":{\"resourceVersion\":\"");
    out.put_slice(rv.to_string().as_bytes());
    out.put_slice(b"\"");
    if let Some((token, remaining)) = next {
        out.put_slice(b",\"continue\":");
        out.put_slice(json!(token).to_string().as_bytes());
        if let Some(n) = remaining {
            out.put_slice(format!(",\"remainingItemCount\":{n}").as_bytes());
        }
    }
    out.put_slice(b"},\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(item);
    }
    out.put_slice(b"]}");
    out.freeze()
}

/// Waits until the cache has what a read needs: for an unset
/// resourceVersion, everything the store has committed; for `N`, N.
pub async fn wait_fresh(api: &ApiServer, rv: Option<Revision>) -> Result<(), ApiError> {
    let needed = match rv {
        Some(0) => return Ok(()),
        Some(n) => n,
        None => {
            api.store
                .revisions()
                .await
                .map_err(|e| ApiError::Unavailable {
                    message: e.to_string(),
                })?
                .current
        }
    };
    if api.cache.revision() >= needed || api.cache.wait_for(needed, FRESHNESS_WAIT).await {
        return Ok(());
    }
    Err(ApiError::Timeout {
        message: format!(
            "Too large resource version: {needed}, current: {}",
            api.cache.revision()
        ),
    })
}

async fn list_from_cache(
    api: &ApiServer,
    r: &ResourceRequest,
    selectors: &Selectors,
    rv: Option<Revision>,
) -> Result<(Vec<Bytes>, Revision), ApiError> {
    wait_fresh(api, rv).await?;
    let (objects, list_rv) = api.cache.list(r.resource, r.namespace.as_deref());
    let items = objects
        .iter()
        .filter(|o| selectors.matches(o))
        .map(|o| o.json.clone())
        .collect();
    Ok((items, list_rv))
}

#[allow(clippy::type_complexity)]
async fn list_from_store(
    api: &ApiServer,
    r: &ResourceRequest,
    selectors: &Selectors,
    limit: i64,
    rv: Option<Revision>,
    cont: Option<&str>,
) -> Result<(Vec<Bytes>, Revision, Option<(String, Option<i64>)>), ApiError> {
    let prefix = match &r.namespace {
        Some(ns) if r.resource.namespaced => format!("{}{ns}/", r.resource.key_prefix()),
        _ => r.resource.key_prefix(),
    };
    let (mut at, mut start) = match cont {
        Some(token) => {
            let (rv, start) = decode_continue(token)?;
            (rv, format!("{prefix}{start}"))
        }
        None => (rv.filter(|r| *r > 0).unwrap_or(0), prefix.clone()),
    };
    let end = prefix_end(&prefix);
    let mut items = Vec::new();
    loop {
        let mut req = RangeRequest::between(start.clone(), end.clone()).at_revision(at);
        if limit > 0 {
            req = req.with_limit(limit - items.len() as i64).without_count();
        }
        let resp = api.store.range(req).await.map_err(|e| match e {
            cuttle_store::Error::Compacted { .. } if cont.is_some() => ApiError::Gone {
                message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".into(),
            },
            other => from_store(other, r.resource, ""),
        })?;
        at = resp.revision;
        let last_key = resp.kvs.last().map(|kv| kv.key.clone());
        for kv in &resp.kvs {
            let obj = decode(&kv.value, kv.mod_revision).map_err(|e| {
                ApiError::internal(format!("stored object {} is not JSON: {e}", kv.key))
            })?;
            if selectors.is_empty() || selectors.matches_value(r.resource, &obj) {
                items.push(Bytes::from(
                    serde_json::to_vec(&obj).map_err(ApiError::internal)?,
                ));
            }
        }
        if !resp.more {
            return Ok((items, at, None));
        }
        let Some(last) = last_key else {
            return Ok((items, at, None));
        };
        start = format!("{last}\0");
        if limit > 0 && items.len() as i64 >= limit {
            // remainingItemCount is optional; counting the rest of a large
            // range on every page would cost a pass over it.
            let token = encode_continue(at, &start[prefix.len()..]);
            return Ok((items, at, Some((token, None))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, "web-3\0");
        assert_eq!(decode_continue(&t).unwrap(), (42, "web-3\0".to_owned()));
        assert_eq!(decode_continue("garbage!").unwrap_err().code(), 400);
        let evil = base64::engine::general_purpose::URL_SAFE
            .encode(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"../secrets/"}"#);
        assert_eq!(decode_continue(&evil).unwrap_err().code(), 400);
    }
}
