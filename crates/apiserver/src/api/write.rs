//! create, update, patch, delete and deletecollection, and the writable
//! subresources (status, scale, binding, eviction). Every update is a
//! read-modify-write guarded by the store's compare on the object's
//! revision: a client's stale resourceVersion is a 409 Conflict; without
//! one, the server retries on its own.

use super::body::{content_type, decode, decode_json, json_response, value_response, Body};
use super::meta::{self, meta_str};
use super::read::read_object;
use super::{namespaces, ApiServer};
use crate::kinds;
use crate::patch;
use crate::request::{Query, ResourceRequest, Verb};
use crate::resources::{Resource, Subresource};
use crate::status::{from_store, ApiError};
use crate::watch_cache::{set_resource_version, splice_resource_version};
use bytes::Bytes;
use cuttle_store::Revision;
use http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

mod binding;
mod eviction;
mod subresources;
use binding::bind;
use eviction::evict;
pub use subresources::scale_of;
use subresources::{token_request, update_scale};

/// Retries of a read-modify-write that lost a race it may retry.
const MAX_RETRIES: usize = 16;

/// The stored form of an object: everything but its resourceVersion.
fn encode(obj: &Value) -> Result<Vec<u8>, ApiError> {
    if obj.pointer("/metadata/resourceVersion").is_none() {
        return serde_json::to_vec(obj).map_err(ApiError::internal);
    }
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    serde_json::to_vec(&o).map_err(ApiError::internal)
}

/// Applies `fieldValidation` to an object: unknown fields are dropped (as
/// decoding into the Kubernetes type drops them); `Strict` refuses them,
/// `Warn` (the default) reports them as warnings, `Ignore` says nothing.
fn field_validation(
    resource: &Resource,
    query: &Query,
    obj: &mut Value,
) -> Result<Vec<String>, ApiError> {
    let unknown = decode_fields(resource, obj)?;
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let listed: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    match query.get("fieldValidation").unwrap_or("Warn") {
        "Strict" => Err(ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
            listed.join(", "),
            kind = resource.kind,
            version = resource.version,
        ))),
        "Ignore" => Ok(Vec::new()),
        "Warn" => Ok(listed),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
        ))),
    }
}

/// Decodes `obj` as Kubernetes decodes a body into its kind: a value of
/// the wrong JSON type is a 400 worded as kube-apiserver words it; the
/// unknown fields are dropped and returned.
fn decode_fields(resource: &Resource, obj: &mut Value) -> Result<Vec<String>, ApiError> {
    crate::schemas::decode(resource, obj).map_err(|m| {
        ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {m}",
            kind = resource.kind,
            version = resource.version,
        ))
    })
}

/// Adds `Warning` headers, as Kubernetes reports warnings to clients.
fn with_warnings(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let text = format!("299 - {}", serde_json::Value::String(w.clone()));
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}

/// Refuses a body that names another object than the URL does.
fn check_body_name(obj: &Value, name: &str) -> Result<(), ApiError> {
    match meta_str(obj, "name") {
        Some(body_name) if body_name != name => Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

/// [`check_body_name`], and the same for the namespace: what an update's
/// body, or a patch's result, must agree with the URL on.
fn check_body_names(obj: &Value, name: &str, namespace: Option<&str>) -> Result<(), ApiError> {
    check_body_name(obj, name)?;
    match (namespace, meta_str(obj, "namespace")) {
        (Some(ns), Some(body_ns)) if !body_ns.is_empty() && body_ns != ns => {
            Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ))
        }
        _ => Ok(()),
    }
}

fn dry_run(query: &Query) -> bool {
    query.all("dryRun").iter().any(|v| v == "All")
}

/// The field manager of a write: `fieldManager`, or the client's user
/// agent up to its first `/` (as Kubernetes defaults it).
fn manager(query: &Query, headers: &HeaderMap) -> String {
    if let Some(m) = query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.chars().take(128).collect();
    }
    headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .chars()
        .take(128)
        .collect()
}

pub async fn handle(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let mut query = query.clone();
    query
        .0
        .insert("fieldManager".into(), vec![manager(&query, headers)]);
    let query = &query;
    // The body is freed once decoded, on the thread that read it (see
    // `create`): a write's handler awaits the store.
    let decoded = |body: Bytes| decode(&body, &content_type(headers));
    let written = match (r.verb, r.subresource) {
        (Verb::Create, None) => create(api, r, query, decoded(body)?).await,
        (Verb::Create, Some(Subresource::Binding)) => bind(api, r, query, decoded(body)?).await,
        (Verb::Create, Some(Subresource::Token)) => token_request(api, r, decoded(body)?).await,
        (Verb::Create, Some(Subresource::Eviction)) => evict(api, r, query, decoded(body)?).await,
        (Verb::Update, sub) => update(api, r, query, sub, decoded(body)?).await,
        (Verb::Patch, sub) => patch_object(api, r, query, headers, &body, sub).await,
        (Verb::Delete, None) => {
            let opts = if body.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                decoded(body)?
            };
            delete(api, r, query, &opts).await
        }
        (Verb::DeleteCollection, None) if r.resource.verbs.contains(&"deletecollection") => {
            delete_collection(api, r, query).await
        }
        _ => Err(ApiError::MethodNotAllowed),
    }?;
    let changed = matches!(r.verb, Verb::Create | Verb::Update | Verb::Patch);
    match kinds::not_enforced(r.resource) {
        Some(note) if changed && r.subresource.is_none() => {
            Ok(with_warnings(written, &[note.to_owned()]))
        }
        _ => Ok(written),
    }
}

fn is_priority_class(resource: &Resource) -> bool {
    (resource.group, resource.kind) == ("scheduling.k8s.io", "PriorityClass")
}

async fn create(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    mut obj: Value,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    meta::check_type(resource, &mut obj, resource.kind)?;
    let warnings = field_validation(resource, query, &mut obj)?;
    kinds::convert(resource, &mut obj)?;
    let (name, name_causes) = meta::prepare_create(resource, &mut obj, r.namespace.as_deref())?;
    kinds::apply_defaults(resource, &mut obj);
    kinds::on_create(resource, &mut obj);
    if resource.kind == "CertificateSigningRequest" {
        set_requestor(&mut obj, r.user.as_ref());
    }
    let managed = created_managed_fields(resource, query, &mut obj);
    if let Some(ns) = &r.namespace {
        super::limit_ranger::admit_create(api, resource, &mut obj, ns, &name)?;
    }
    if resource.group.is_empty() && resource.kind == "Pod" {
        super::priority::admit(api, &mut obj, &name).await?;
    }
    if is_priority_class(resource) {
        super::priority::admit_class(api, &obj, &name, true)?;
    }
    kinds::initial_status(resource, &mut obj);
    meta::with_meta_causes(
        resource,
        &name,
        name_causes,
        kinds::validate(resource, &obj, &name),
    )?;
    if let Some(ns) = &r.namespace {
        namespaces::check_writable(api, resource, ns, &name).await?;
    }
    if resource.plural == "namespaces" && resource.group.is_empty() {
        let labels = &mut meta::meta_mut(&mut obj);
        let l = labels.entry("labels").or_insert_with(|| json!({}));
        l["kubernetes.io/metadata.name"] = json!(name);
        obj["spec"] = json!({"finalizers": ["kubernetes"]});
    }
    let held = super::services::allocate_create(api, resource, &mut obj, dry_run(query)).await?;
    let key = resource.key(r.namespace.as_deref(), &name);
    let stored = encode_created(&obj, managed)?;
    // Freed here, on the thread that parsed it: after the store's await
    // the task may resume on another worker, and mimalloc's frees of
    // another thread's memory cost several times a local one (the tree
    // is a few hundred allocations).
    drop(obj);
    if dry_run(query) {
        // As the real write would: an object already there is a conflict.
        let (existing, _) = api
            .store
            .get(&key)
            .await
            .map_err(|e| from_store(e, resource, &name))?;
        if existing.is_some() {
            return Err(ApiError::already_exists(resource, &name));
        }
        return Ok(with_warnings(
            json_response(StatusCode::CREATED, Bytes::from(stored)),
            &warnings,
        ));
    }
    let rev = write_leased(api, resource, stored.clone(), |value, lease| {
        api.store.create(&key, value, lease)
    })
    .await?
    .map_err(|e| from_store(e, resource, &name))?;
    held.commit(rev);
    Ok(with_warnings(
        stored_response(StatusCode::CREATED, &stored, rev)?,
        &warnings,
    ))
}

/// Runs the store write `write` of `value` with the lease objects of
/// `resource` take: Events expire (`--event-ttl`), nothing else does. A
/// write that finds the events' lease gone (revoked by hand on an etcd
/// backend) forgets it and is tried once more with a new one.
async fn write_leased<T, F, Fut>(
    api: &ApiServer,
    resource: &Resource,
    value: Vec<u8>,
    write: F,
) -> Result<Result<T, cuttle_store::Error>, ApiError>
where
    F: Fn(Vec<u8>, Option<cuttle_store::LeaseId>) -> Fut,
    Fut: std::future::Future<Output = Result<T, cuttle_store::Error>>,
{
    if !super::event_ttl::expires(resource) {
        return Ok(write(value, None).await);
    }
    match write(value.clone(), event_lease(api).await?).await {
        Err(cuttle_store::Error::LeaseNotFound(id)) => {
            api.event_leases.forget(id).await;
            Ok(write(value, event_lease(api).await?).await)
        }
        written => Ok(written),
    }
}

/// The lease Events are written with now.
async fn event_lease(api: &ApiServer) -> Result<Option<cuttle_store::LeaseId>, ApiError> {
    api.event_leases
        .lease(api.store.as_ref())
        .await
        .map_err(|e| ApiError::internal(format!("granting the events' lease: {e}")))
}

/// A CertificateSigningRequest names who asked for it: the server fills
/// `spec.username`, `groups` and `uid` from the requesting user, whatever
/// the body said, as Kubernetes does.
fn set_requestor(csr: &mut Value, user: Option<&crate::auth::User>) {
    let Some(spec) = csr.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let (name, groups) = user.map_or((String::new(), Vec::new()), |u| {
        (u.name.clone(), u.groups.clone())
    });
    spec.insert("username".into(), json!(name));
    spec.insert("groups".into(), json!(groups));
    spec.remove("uid");
    spec.remove("extra");
}

/// The managedFields of a create, serialized: the creating manager owns
/// every field it set (defaults included, admission and initial status
/// not), as Kubernetes' field manager records a create. `None` when a body
/// brings its own (server-side apply's create), which `obj` keeps.
fn created_managed_fields(resource: &Resource, query: &Query, obj: &mut Value) -> Option<Vec<u8>> {
    let manager = query.get("fieldManager").filter(|m| !m.is_empty())?;
    let meta = obj.get_mut("metadata")?.as_object_mut()?;
    match meta.get("managedFields") {
        Some(Value::Array(brought)) if !brought.is_empty() => return None,
        Some(_) => drop(meta.remove("managedFields")),
        None => {}
    }
    crate::created_fields::managed_fields(
        resource.kind,
        &resource.api_version(),
        obj,
        manager,
        &crate::apply::now(),
    )
}

/// The stored form of a created object: `obj` with its managedFields
/// spliced into the serialized metadata.
fn encode_created(obj: &Value, managed: Option<Vec<u8>>) -> Result<Vec<u8>, ApiError> {
    let encoded = encode(obj)?;
    let Some(managed) = managed else {
        return Ok(encoded);
    };
    // `created_managed_fields` took any managedFields out of the object.
    match crate::splice::prepend_to_metadata(&encoded, "managedFields", &managed) {
        Some(stored) => Ok(stored),
        None => Err(ApiError::internal(
            "a created object has no metadata to record its managedFields in",
        )),
    }
}

/// The answer to a write: the bytes just stored with their
/// resourceVersion spliced in, which spares serializing the object again.
fn stored_response(
    code: StatusCode,
    stored: &[u8],
    rev: Revision,
) -> Result<Response<Body>, ApiError> {
    if let Some(bytes) = splice_resource_version(stored, rev) {
        return Ok(json_response(code, Bytes::from(bytes)));
    }
    let mut obj: Value = serde_json::from_slice(stored).map_err(ApiError::internal)?;
    set_resource_version(&mut obj, rev);
    Ok(value_response(code, &obj))
}

/// What a read-modify-write produced.
enum Outcome {
    /// Store this object.
    Write(Value),
    /// Nothing changed: answer with the current object.
    Unchanged,
    /// Finalization done: remove the object.
    Remove,
}

/// Reads the object, lets `change` compute the next state, and writes it
/// if the object did not move in between. `precondition` is the
/// resourceVersion the client based its change on (a mismatch is a 409,
/// never retried).
///
/// The first guess at the current state comes from the watch cache, as
/// kube-apiserver's GuaranteedUpdate does: the write's compare on the
/// revision catches a stale guess, and anything decided on a guess (a
/// precondition mismatch, an error, "unchanged") is decided again on the
/// store's state before it is answered.
async fn guaranteed_update<F>(
    api: &ApiServer,
    resource: &Resource,
    key: &str,
    name: &str,
    precondition: Option<Revision>,
    dry: bool,
    mut change: F,
) -> Result<Value, ApiError>
where
    F: FnMut(&Value) -> Result<Outcome, ApiError>,
{
    let mut guess = !dry;
    for _ in 0..MAX_RETRIES {
        let cached = if guess {
            cached_object(api, resource, key)
        } else {
            None
        };
        let fresh = cached.is_none();
        guess = false;
        let (current, rev) = match cached {
            Some(state) => state,
            None => read_object(api, resource, key, name).await?,
        };
        if precondition.is_some_and(|p| p != rev) {
            if !fresh {
                continue;
            }
            return Err(ApiError::conflict(resource, name));
        }
        let outcome = match change(&current) {
            Ok(outcome) => outcome,
            Err(_) if !fresh => continue,
            Err(e) => return Err(e),
        };
        let mut next = match outcome {
            Outcome::Unchanged if !fresh => continue,
            Outcome::Unchanged => return Ok(current),
            Outcome::Remove => {
                if dry {
                    return Ok(current);
                }
                match api.store.delete(key, Some(rev)).await {
                    Ok((_, del_rev)) => {
                        let mut gone = current;
                        set_resource_version(&mut gone, del_rev);
                        return Ok(gone);
                    }
                    Err(cuttle_store::Error::Conflict { .. }) if precondition.is_none() => continue,
                    Err(e) => return Err(from_store(e, resource, name)),
                }
            }
            Outcome::Write(v) => v,
        };
        if is_priority_class(resource) {
            super::priority::admit_class(api, &next, name, false)?;
        }
        let held = super::services::allocate_update(api, resource, &mut next, &current, dry)?;
        // Freed before the store's await, on this thread (see `create`).
        drop(current);
        if dry {
            // Nothing is written: the object keeps the version it has.
            set_resource_version(&mut next, rev);
            return Ok(next);
        }
        let written = write_leased(api, resource, encode(&next)?, |value, lease| {
            api.store.update(key, value, rev, lease)
        })
        .await?;
        match written {
            Ok(new_rev) => {
                held.commit(new_rev);
                set_resource_version(&mut next, new_rev);
                return Ok(next);
            }
            Err(cuttle_store::Error::Conflict { .. }) if precondition.is_none() => continue,
            Err(e) => return Err(from_store(e, resource, name)),
        }
    }
    Err(ApiError::conflict(resource, name))
}

/// The watch cache's copy of an object and its revision, if it holds one.
fn cached_object(api: &ApiServer, resource: &Resource, key: &str) -> Option<(Value, Revision)> {
    let cached = api.cache.get(resource, key)?;
    let obj = serde_json::from_slice(&cached.json).ok()?;
    Some((obj, cached.rev))
}

/// The next state of an object after a client sent `new` for it (through
/// the main resource or a subresource), with metadata, status and
/// deletion rules applied.
fn next_state(
    resource: &Resource,
    sub: Option<Subresource>,
    new: &Value,
    old: &Value,
    name: &str,
    manager: Option<&str>,
) -> Result<Outcome, ApiError> {
    let mut next = match sub {
        Some(Subresource::Status) => {
            // Only status changes through the status subresource.
            let mut n = old.clone();
            n["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if resource.plural == "namespaces" {
                // namespaces/finalize: spec.finalizers change there.
                if let Some(f) = new.pointer("/spec/finalizers") {
                    n["spec"]["finalizers"] = f.clone();
                }
            }
            n
        }
        Some(Subresource::EphemeralContainers) => {
            // Only the ephemeral containers change there.
            let mut n = old.clone();
            let given = new.pointer("/spec/ephemeralContainers").cloned();
            if let Some(spec) = n.get_mut("spec").and_then(Value::as_object_mut) {
                match given {
                    Some(list) => spec.insert("ephemeralContainers".into(), list),
                    None => spec.remove("ephemeralContainers"),
                };
            }
            n
        }
        Some(Subresource::Approval) => {
            // Only the conditions change through a CSR's approval.
            let mut n = old.clone();
            match new.pointer("/status/conditions") {
                Some(c) => {
                    n["status"]["conditions"] = c.clone();
                    kinds::stamp_conditions(&mut n["status"]["conditions"], old);
                }
                None => {
                    if let Some(s) = n.get_mut("status").and_then(Value::as_object_mut) {
                        s.remove("conditions");
                    }
                }
            }
            n
        }
        _ => {
            let mut n = new.clone();
            if resource.kind == "CertificateSigningRequest" {
                // A request's spec is what was asked: never changed.
                n["spec"] = old.get("spec").cloned().unwrap_or(Value::Null);
            }
            if resource.has(Subresource::EphemeralContainers) {
                // Ephemeral containers change only through their subresource.
                let kept = old.pointer("/spec/ephemeralContainers").cloned();
                if let Some(spec) = n.get_mut("spec").and_then(Value::as_object_mut) {
                    match kept {
                        Some(list) => spec.insert("ephemeralContainers".into(), list),
                        None => spec.remove("ephemeralContainers"),
                    };
                }
            }
            if resource.has(Subresource::Status) && resource.kind != "Node" {
                // Status changes only through its subresource.
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            n
        }
    };
    // Updates and patches are decoded as creates are (their unknown
    // fields dropped, without the warnings a create's field validation
    // gives).
    decode_fields(resource, &mut next)?;
    kinds::convert(resource, &mut next)?;
    meta::prepare_update(resource, &mut next, old);
    kinds::apply_defaults(resource, &mut next);
    super::services::prepare_update(resource, &mut next, old)?;
    kinds::validate_update(resource, &next, old, name)?;
    let mut old_cmp = old.clone();
    if let Some(m) = old_cmp.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    if let Some(m) = next.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    let deleting = next
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    let finalizers_left = next
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let ns_finalizers_left = resource.plural == "namespaces"
        && next
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    if deleting && !finalizers_left && !ns_finalizers_left {
        return Ok(Outcome::Remove);
    }
    if next == old_cmp || only_managed_times_differ(&mut next, &old_cmp) {
        return Ok(Outcome::Unchanged);
    }
    if let Some(m) = manager {
        let sub_name = sub.map(Subresource::name).unwrap_or("");
        crate::apply::record_update(
            resource.kind,
            &resource.api_version(),
            old,
            &mut next,
            m,
            sub_name,
        );
    }
    Ok(Outcome::Write(next))
}

/// Whether `next` differs from `old` in nothing but the times of its
/// managedFields entries: an apply that changes nothing renews its entry's
/// time, and Kubernetes keeps the object as it was rather than writing a
/// new version for a timestamp. When so, `next` takes `old`'s entries.
/// Every real update asks, so the entries are compared in place first and
/// the object only once they match.
fn only_managed_times_differ(next: &mut Value, old: &Value) -> bool {
    let (Some(mine), Some(theirs)) = (
        next.pointer("/metadata/managedFields")
            .and_then(Value::as_array),
        old.pointer("/metadata/managedFields")
            .and_then(Value::as_array),
    ) else {
        return false;
    };
    let same_but_time = |x: &Value, y: &Value| match (x.as_object(), y.as_object()) {
        (Some(x), Some(y)) => {
            let untimed =
                |m: &serde_json::Map<String, Value>| m.keys().filter(|k| *k != "time").count();
            untimed(x) == untimed(y) && x.iter().all(|(k, v)| k == "time" || y.get(k) == Some(v))
        }
        _ => x == y,
    };
    // The same entries, times included: the difference is elsewhere.
    if mine == theirs
        || mine.len() != theirs.len()
        || !mine.iter().zip(theirs).all(|(x, y)| same_but_time(x, y))
    {
        return false;
    }
    let old_entries = Value::Array(theirs.clone());
    let own = std::mem::replace(&mut next["metadata"]["managedFields"], old_entries);
    if next == old {
        return true;
    }
    next["metadata"]["managedFields"] = own;
    false
}

async fn update(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    sub: Option<Subresource>,
    mut obj: Value,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    let name = r.name.as_deref().unwrap_or_default();
    if sub == Some(Subresource::Scale) {
        return update_scale(api, r, query, obj).await;
    }
    meta::check_type(resource, &mut obj, resource.kind)?;
    check_body_names(&obj, name, r.namespace.as_deref())?;
    let precondition = meta::precondition_rv(&obj)?;
    let key = resource.key(r.namespace.as_deref(), name);
    let result = guaranteed_update(
        api,
        resource,
        &key,
        name,
        precondition,
        dry_run(query),
        |old| next_state(resource, sub, &obj, old, name, query.get("fieldManager")),
    )
    .await?;
    Ok(value_response(StatusCode::OK, &result))
}

async fn patch_object(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
    sub: Option<Subresource>,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    let name = r.name.as_deref().unwrap_or_default().to_owned();
    let media = content_type(headers);
    let apply = media == "application/apply-patch+yaml" || media == "application/apply-patch+cbor";
    let patch_doc = match media.as_str() {
        "application/json-patch+json" | "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            decode_json(body)?
        }
        "application/apply-patch+yaml" => super::body::decode_yaml(body)?,
        other => {
            return Err(ApiError::UnsupportedMediaType {
                accepted: format!(
                    "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other:?})"
                ),
            })
        }
    };
    if sub == Some(Subresource::Scale) {
        let (obj, _) = read_object(
            api,
            resource,
            &resource.key(r.namespace.as_deref(), &name),
            &name,
        )
        .await?;
        let scale = scale_of(&obj);
        let patched = apply_patch(&media, "Scale", &scale, &patch_doc)?;
        return update_scale(api, r, query, patched).await;
    }
    let key = resource.key(r.namespace.as_deref(), &name);
    if apply {
        return server_side_apply(api, r, query, patch_doc, &name).await;
    }
    let precondition = if media == "application/json-patch+json" {
        None
    } else {
        meta::precondition_rv(&patch_doc)?
    };
    let result = guaranteed_update(
        api,
        resource,
        &key,
        &name,
        precondition,
        dry_run(query),
        |old| {
            let mut patched = apply_patch(&media, resource.kind, old, &patch_doc)?;
            // A patch may not rename or move the object (Kubernetes' checkName).
            check_body_names(&patched, &name, r.namespace.as_deref())?;
            if let Some(m) = patched.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            next_state(
                resource,
                sub,
                &patched,
                old,
                &name,
                query.get("fieldManager"),
            )
        },
    )
    .await?;
    Ok(value_response(StatusCode::OK, &result))
}

/// `PATCH` with `application/apply-patch+yaml`: server-side apply, which
/// creates the object when it does not exist.
async fn server_side_apply(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    mut applied: Value,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    let manager = query.get("fieldManager").unwrap_or("").to_owned();
    if manager.is_empty() || manager == "unknown" {
        return Err(ApiError::bad_request(
            "PATCH /apply requires fieldManager to be set",
        ));
    }
    let force = query.flag("force");
    meta::check_type(resource, &mut applied, resource.kind)?;
    check_body_name(&applied, name)?;
    let warnings = field_validation(resource, query, &mut applied)?;
    let key = resource.key(r.namespace.as_deref(), name);
    let (existing, _) = api
        .store
        .get(&key)
        .await
        .map_err(|e| from_store(e, resource, name))?;
    if existing.is_none() {
        let mut obj = crate::apply::apply(
            resource.kind,
            &resource.api_version(),
            None,
            &applied,
            &manager,
            force,
        )?;
        meta::meta_mut(&mut obj).insert("name".into(), json!(name));
        let resp = create(api, r, query, obj).await?;
        return Ok(with_warnings(resp, &warnings));
    }
    let api_version = resource.api_version();
    let result = guaranteed_update(api, resource, &key, name, None, dry_run(query), |old| {
        let merged = crate::apply::apply(
            resource.kind,
            &api_version,
            Some(old),
            &applied,
            &manager,
            force,
        )?;
        next_state(resource, None, &merged, old, name, None)
    })
    .await?;
    Ok(with_warnings(
        value_response(StatusCode::OK, &result),
        &warnings,
    ))
}

fn apply_patch(media: &str, kind: &str, target: &Value, doc: &Value) -> Result<Value, ApiError> {
    match media {
        "application/json-patch+json" => patch::json_patch(target, doc),
        "application/merge-patch+json" => patch::merge_patch(target, doc),
        // Server-side apply without field ownership tracking yet: the
        // applied configuration merges like a strategic patch.
        _ => patch::strategic_merge(kind, target, doc),
    }
}

/// Resources whose DELETE answers with the object rather than a Status.
fn returns_deleted_object(resource: &Resource) -> bool {
    resource.group.is_empty() && matches!(resource.plural, "pods" | "services" | "namespaces")
}

fn grace_period(resource: &Resource, obj: &Value, opts: &Value, query: &Query) -> i64 {
    let requested = opts
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| query.get("gracePeriodSeconds").and_then(|s| s.parse().ok()));
    if !(resource.group.is_empty() && resource.plural == "pods") {
        return 0;
    }
    let unscheduled = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    let finished = matches!(
        obj.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if unscheduled || finished {
        return 0;
    }
    requested
        .or_else(|| {
            obj.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0)
}

async fn delete(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    opts: &Value,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    let name = r.name.as_deref().unwrap_or_default();
    let is_namespace = resource.group.is_empty() && resource.plural == "namespaces";
    if is_namespace {
        namespaces::check_deletable(name)?;
    }
    let policy = opts
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or_else(|| query.get("propagationPolicy"))
        .map(str::to_owned);
    let orphan = opts.get("orphanDependents").and_then(Value::as_bool);
    let pre_uid = opts
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let pre_rv = match opts
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(s) => Some(
            s.parse::<Revision>()
                .map_err(|_| ApiError::bad_request("invalid preconditions.resourceVersion"))?,
        ),
        None => None,
    };
    let dry = dry_run(query)
        || opts
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    let key = resource.key(r.namespace.as_deref(), name);
    let mut removed = false;
    let mut became_terminating = false;
    let result = guaranteed_update(api, resource, &key, name, pre_rv, dry, |old| {
        if let Some(uid) = &pre_uid {
            if meta_str(old, "uid") != Some(uid.as_str()) {
                return Err(ApiError::Conflict {
                    group: resource.group,
                    resource: resource.qualified(),
                    name: name.to_owned(),
                    detail: format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(old, "uid").unwrap_or("")
                    ),
                });
            }
        }
        let mut next = old.clone();
        if let Some(m) = next.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        if is_namespace {
            if old
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null())
            {
                became_terminating = true;
                return Ok(Outcome::Unchanged);
            }
            namespaces::mark_terminating(&mut next);
            became_terminating = true;
            return Ok(Outcome::Write(next));
        }
        // Finalizers the garbage collector acts on, recorded as Kubernetes does.
        let mut finalizers: Vec<Value> = next
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let gc_finalizer = match (policy.as_deref(), orphan) {
            (Some("Orphan"), _) | (None, Some(true)) => Some("orphan"),
            (Some("Foreground"), _) => Some("foregroundDeletion"),
            _ => None,
        };
        if let Some(f) = gc_finalizer {
            if !finalizers.iter().any(|v| v == f) {
                finalizers.push(json!(f));
            }
        }
        let already_deleting = old
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null());
        let grace = grace_period(resource, old, opts, query);
        if finalizers.is_empty() && grace == 0 {
            removed = true;
            return Ok(Outcome::Remove);
        }
        let m = meta::meta_mut(&mut next);
        if !finalizers.is_empty() {
            m.insert("finalizers".into(), Value::Array(finalizers));
        }
        if already_deleting {
            // Only a shorter grace period changes a deletion under way.
            let current = m
                .get("deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if grace >= current {
                return Ok(if gc_finalizer.is_some() {
                    Outcome::Write(next)
                } else {
                    Outcome::Unchanged
                });
            }
        }
        let when = chrono::Utc::now() + chrono::Duration::seconds(grace);
        m.insert(
            "deletionTimestamp".into(),
            json!(when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        m.insert("deletionGracePeriodSeconds".into(), json!(grace));
        Ok(Outcome::Write(next))
    })
    .await?;
    if is_namespace && became_terminating && !dry {
        namespaces::finalize(api.clone(), name.to_owned());
    }
    let code = StatusCode::OK;
    if removed && !returns_deleted_object(resource) {
        let mut details =
            json!({"name": name, "kind": resource.plural, "uid": meta_str(&result, "uid")});
        if !resource.group.is_empty() {
            details["group"] = json!(resource.group);
        }
        return Ok(value_response(
            code,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
        ));
    }
    Ok(value_response(code, &result))
}

async fn delete_collection(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let selectors = super::read::Selectors::parse(r.resource, query)?;
    super::read::wait_fresh(api, None).await?;
    let (objects, rev) = api.cache.list(r.resource, r.namespace.as_deref());
    let mut deleted = Vec::new();
    for o in objects.iter().filter(|o| selectors.matches(o)) {
        let one = ResourceRequest {
            resource: r.resource,
            verb: Verb::Delete,
            namespace: o.namespace.clone(),
            name: Some(o.name.clone()),
            subresource: None,
            user: r.user.clone(),
        };
        match delete(api, &one, query, &json!({})).await {
            Ok(_) => deleted.push(o.json.clone()),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let items: Vec<Value> = deleted
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    Ok(value_response(
        StatusCode::OK,
        &json!({
            "kind": r.resource.list_kind(),
            "apiVersion": r.resource.api_version(),
            "metadata": {"resourceVersion": rev.to_string()},
            "items": items,
        }),
    ))
}
