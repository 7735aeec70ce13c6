//! `POST pods/<name>/binding`: the scheduler's write, one per pod.
//!
//! A binding changes three small parts of a pod: `spec.nodeName`, the
//! `PodScheduled` condition and (rarely) annotations. The new state is
//! made by editing the stored JSON member by member, so the rest of the
//! pod (its containers, volumes, managedFields) is copied as bytes rather
//! than parsed into a tree, cloned, serialized and dropped: that was as
//! costly as creating the pod. Kubernetes' rules are kept
//! (`BindingREST.setPodNodeAndMetadata`): a pod being deleted, already
//! assigned or with scheduling gates is refused with 409, and the
//! binding's uid and resourceVersion, when given, are preconditions.

use super::*;
use crate::splice::{member, members, rewrite};
use std::collections::BTreeMap;

/// What a binding asks for.
struct Binding {
    node: String,
    annotations: BTreeMap<String, String>,
    uid: Option<String>,
    /// Compared as text, as Kubernetes compares preconditions.
    resource_version: Option<String>,
}

/// Why a pod cannot take a binding.
#[derive(Debug)]
enum Refusal {
    /// A Kubernetes rule (409 on `pods/binding`, or a failed precondition).
    Rule(ApiError),
    /// The stored bytes are not the JSON object a pod is.
    NotAPod,
}

pub(in crate::api) async fn bind(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    body: Value,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    let name = r.name.as_deref().unwrap_or_default();
    let binding = parse_binding(resource, name, &body)?;
    let key = resource.key(r.namespace.as_deref(), name);
    let dry = dry_run(query);
    // The first guess comes from the watch cache; a refusal or a conflict
    // decided on it is decided again on the store's state. A dry run
    // writes nothing that would catch a stale guess: it reads the store.
    let mut guess = !dry;
    for _ in 0..MAX_RETRIES {
        let cached = guess
            .then(|| api.cache.get(resource, &key))
            .flatten()
            .map(|c| (c.json.clone(), c.rev));
        let fresh = cached.is_none();
        guess = false;
        let (current, rev) = match cached {
            Some(state) => state,
            None => {
                let (kv, _) = api
                    .store
                    .get(&key)
                    .await
                    .map_err(|e| from_store(e, resource, name))?;
                let kv = kv.ok_or_else(|| ApiError::not_found(resource, name))?;
                (kv.value, kv.mod_revision)
            }
        };
        let next = match bound(&current, rev, &binding, (&key, name), &meta::now()) {
            Ok(next) => next,
            Err(_) if !fresh => continue,
            Err(Refusal::Rule(e)) => return Err(e),
            Err(Refusal::NotAPod) => {
                return Err(ApiError::internal(format!(
                    "stored object {key} is not a JSON object"
                )))
            }
        };
        if dry {
            return Ok(success());
        }
        match api.store.update(&key, next, rev, None).await {
            Ok(_) => return Ok(success()),
            Err(cuttle_store::Error::Conflict { .. }) => continue,
            Err(e) => return Err(from_store(e, resource, name)),
        }
    }
    Err(ApiError::conflict(resource, name))
}

fn success() -> Response<Body> {
    value_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

fn parse_binding(resource: &Resource, name: &str, body: &Value) -> Result<Binding, ApiError> {
    let node = body
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                resource,
                name,
                vec![crate::status::Cause::required("target.name")],
            )
        })?
        .to_owned();
    if let Some(named) = body.pointer("/metadata/name").and_then(Value::as_str) {
        if !named.is_empty() && named != name {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Binding object",
            ));
        }
    }
    if let Some(kind) = body.pointer("/target/kind").filter(|k| !k.is_null()) {
        if kind.as_str().is_some_and(|k| !k.is_empty() && k != "Node") || !kind.is_string() {
            return Err(ApiError::invalid(
                resource,
                name,
                vec![crate::status::Cause::not_supported(
                    "target.kind",
                    kind,
                    &["Node", "<empty>"],
                )],
            ));
        }
    }
    let annotations = match body.pointer("/metadata/annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(a) => serde_json::from_value(a.clone()).map_err(|e| {
            ApiError::bad_request(format!(
                "the Binding's metadata.annotations must map strings to strings: {e}"
            ))
        })?,
    };
    let text = |field: &str| {
        body.pointer(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(Binding {
        node,
        annotations,
        uid: text("/metadata/uid"),
        resource_version: text("/metadata/resourceVersion"),
    })
}

/// A 409 on `pods/binding`, as Kubernetes words a refused binding.
fn refused(name: &str, detail: String) -> Refusal {
    Refusal::Rule(ApiError::Conflict {
        group: "",
        resource: "pods/binding".into(),
        name: name.to_owned(),
        detail,
    })
}

/// A binding's uid or resourceVersion that does not match the pod: a 409
/// on `pods` worded as Kubernetes' storage layer words it.
fn precondition_failed(key: &str, name: &str, detail: String) -> Refusal {
    Refusal::Rule(ApiError::Conflict {
        group: "",
        resource: "pods".into(),
        name: name.to_owned(),
        detail: format!(
            "StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, \
             AdditionalErrorMsg: Precondition failed: {detail}"
        ),
    })
}

/// The pod's stored bytes after the binding: `current` is the pod as the
/// cache or store holds it (`rev` its version), `now` the condition's
/// transition time.
fn bound(
    current: &[u8],
    rev: Revision,
    b: &Binding,
    (key, name): (&str, &str),
    now: &str,
) -> Result<Vec<u8>, Refusal> {
    let top = members(current).ok_or(Refusal::NotAPod)?;
    let meta =
        members(member(&top, b"metadata").ok_or(Refusal::NotAPod)?).ok_or(Refusal::NotAPod)?;
    if let Some(want) = &b.uid {
        let uid: String = member(&meta, b"uid")
            .and_then(|v| serde_json::from_slice(v).ok())
            .unwrap_or_default();
        if *want != uid {
            return Err(precondition_failed(
                key,
                name,
                format!("UID in precondition: {want}, UID in object meta: {uid}"),
            ));
        }
    }
    if let Some(want) = b
        .resource_version
        .as_ref()
        .filter(|want| **want != rev.to_string())
    {
        return Err(precondition_failed(
            key,
            name,
            format!(
                "ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rev}"
            ),
        ));
    }
    if member(&meta, b"deletionTimestamp").is_some_and(|v| v != b"null") {
        return Err(refused(
            name,
            format!("pod {name} is being deleted, cannot be assigned to a host"),
        ));
    }
    let spec = match member(&top, b"spec") {
        Some(v) => members(v).ok_or(Refusal::NotAPod)?,
        None => Vec::new(),
    };
    let assigned: String = member(&spec, b"nodeName")
        .and_then(|v| serde_json::from_slice::<Option<String>>(v).ok().flatten())
        .unwrap_or_default();
    if !assigned.is_empty() {
        return Err(refused(
            name,
            format!("pod {name} is already assigned to node {assigned:?}"),
        ));
    }
    let gated = member(&spec, b"schedulingGates")
        .and_then(|v| {
            serde_json::from_slice::<Option<Vec<Value>>>(v)
                .ok()
                .flatten()
        })
        .is_some_and(|g| !g.is_empty());
    if gated {
        return Err(refused(
            name,
            format!("pod {name} has non-empty .spec.schedulingGates"),
        ));
    }

    // The stored form has no resourceVersion (the cache's copy does).
    let mut meta_changes: Vec<(&[u8], Option<&[u8]>)> = vec![(b"resourceVersion", None)];
    let annotations = (!b.annotations.is_empty()).then(|| {
        let mut all: BTreeMap<String, String> = member(&meta, b"annotations")
            .and_then(|v| serde_json::from_slice::<Option<_>>(v).ok().flatten())
            .unwrap_or_default();
        all.extend(b.annotations.clone());
        serde_json::to_vec(&all).unwrap_or_else(|_| b"{}".to_vec())
    });
    if let Some(a) = &annotations {
        meta_changes.push((b"annotations", Some(a)));
    }
    let meta_out = rewrite(&meta, &meta_changes);
    let node = serde_json::to_vec(&b.node).unwrap_or_default();
    let spec_out = rewrite(&spec, &[(b"nodeName", Some(&node))]);
    let status = match member(&top, b"status") {
        Some(v) if v != b"null" => members(v).ok_or(Refusal::NotAPod)?,
        _ => Vec::new(),
    };
    let conditions = scheduled_conditions(member(&status, b"conditions"), now);
    let status_out = rewrite(&status, &[(b"conditions", Some(&conditions))]);
    Ok(rewrite(
        &top,
        &[
            (b"metadata", Some(&meta_out)),
            (b"spec", Some(&spec_out)),
            (b"status", Some(&status_out)),
        ],
    ))
}

/// The pod's conditions with `PodScheduled` set to True, as Kubernetes'
/// `UpdatePodCondition` does: in place when the pod has the condition
/// (keeping its transition time if it was True already), else appended.
fn scheduled_conditions(current: Option<&[u8]>, now: &str) -> Vec<u8> {
    let mut conditions: Vec<Value> = current
        .and_then(|v| {
            serde_json::from_slice::<Option<Vec<Value>>>(v)
                .ok()
                .flatten()
        })
        .unwrap_or_default();
    let mut scheduled = json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    match conditions.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(old) => {
            if old["status"] == "True" {
                // Kept, even when unset (Kubernetes copies the zero time).
                scheduled["lastTransitionTime"] = old
                    .get("lastTransitionTime")
                    .cloned()
                    .unwrap_or(Value::Null);
            }
            *old = scheduled;
        }
        None => conditions.push(scheduled),
    }
    serde_json::to_vec(&conditions).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(node: &str) -> Binding {
        Binding {
            node: node.into(),
            annotations: BTreeMap::new(),
            uid: None,
            resource_version: None,
        }
    }

    fn bind_json(pod: &Value, b: &Binding) -> Result<Value, Refusal> {
        let bytes = serde_json::to_vec(pod).unwrap();
        bound(
            &bytes,
            7,
            b,
            ("/registry/pods/ns/p", "p"),
            "2026-12-01T00:00:00Z",
        )
        .map(|out| serde_json::from_slice(&out).unwrap())
    }

    fn refusal(r: Result<Value, Refusal>) -> String {
        match r {
            Err(Refusal::Rule(e)) => e.to_string(),
            Err(Refusal::NotAPod) => "not a pod".into(),
            Ok(v) => panic!("bound: {v}"),
        }
    }

    #[test]
    fn a_binding_sets_the_node_and_the_condition_and_keeps_the_rest() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "uid": "u1", "resourceVersion": "7",
                         "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": ""},
            "status": {"phase": "Pending", "conditions": [
                {"type": "Other", "status": "True"},
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}
        });
        let got = bind_json(&pod, &binding("n1")).unwrap();
        let mut want = pod.clone();
        want["spec"]["nodeName"] = json!("n1");
        want["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        want["status"]["conditions"][1] = json!({"type": "PodScheduled", "status": "True",
            "lastProbeTime": null, "lastTransitionTime": "2026-12-01T00:00:00Z"});
        assert_eq!(got, want);
        // No status at all: one is made.
        let bare = json!({"metadata": {"name": "p"}, "spec": {}});
        let got = bind_json(&bare, &binding("n1")).unwrap();
        assert_eq!(got["status"]["conditions"][0]["type"], "PodScheduled");
        assert_eq!(got["spec"]["nodeName"], "n1");
    }

    #[test]
    fn a_true_condition_keeps_its_transition_time_and_annotations_merge() {
        let pod = json!({
            "metadata": {"name": "p", "annotations": {"a": "1", "b": "2"}},
            "spec": {},
            "status": {"conditions": [{"type": "PodScheduled", "status": "True",
                                        "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
        });
        let mut b = binding("n1");
        b.annotations.insert("b".into(), "x".into());
        b.annotations.insert("c".into(), "3".into());
        let got = bind_json(&pod, &b).unwrap();
        assert_eq!(
            got["status"]["conditions"][0]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(
            got["metadata"]["annotations"],
            json!({"a": "1", "b": "x", "c": "3"})
        );
    }

    #[test]
    fn a_binding_body_is_checked() {
        let r = &crate::resources::RESOURCES
            .iter()
            .find(|r| r.plural == "pods" && r.group.is_empty())
            .unwrap();
        let ok = json!({"metadata": {"name": "p", "annotations": {"a": "1"}, "resourceVersion": "x"},
                        "target": {"kind": "Node", "name": "n"}});
        let b = parse_binding(r, "p", &ok).unwrap();
        assert_eq!(b.resource_version.as_deref(), Some("x"));
        assert_eq!(b.annotations.get("a").map(String::as_str), Some("1"));
        let code = |body: Value| parse_binding(r, "p", &body).err().map(|e| e.code());
        assert_eq!(code(json!({"target": {"name": "n"}})), None);
        assert_eq!(code(json!({"target": {}})), Some(422));
        assert_eq!(
            code(json!({"target": {"kind": "Pod", "name": "n"}})),
            Some(422)
        );
        assert_eq!(
            code(json!({"metadata": {"name": "q"}, "target": {"name": "n"}})),
            Some(400)
        );
        assert_eq!(
            code(json!({"metadata": {"annotations": {"a": 1}}, "target": {"name": "n"}})),
            Some(400)
        );
    }

    #[test]
    fn kubernetes_refusals() {
        let assigned = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n0"}});
        assert_eq!(
            refusal(bind_json(&assigned, &binding("n1"))),
            "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"n0\""
        );
        let deleting = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}});
        assert!(refusal(bind_json(&deleting, &binding("n1"))).contains("is being deleted"));
        let gated =
            json!({"metadata": {"name": "p"}, "spec": {"schedulingGates": [{"name": "g"}]}});
        assert!(refusal(bind_json(&gated, &binding("n1"))).contains("schedulingGates"));
        let pod = json!({"metadata": {"name": "p", "uid": "u1"}, "spec": {}});
        let mut b = binding("n1");
        b.uid = Some("u2".into());
        assert!(
            refusal(bind_json(&pod, &b)).contains("Precondition failed: UID in precondition: u2")
        );
        let mut b = binding("n1");
        b.resource_version = Some("6".into());
        assert!(refusal(bind_json(&pod, &b))
            .contains("ResourceVersion in precondition: 6, ResourceVersion in object meta: 7"));
        b.resource_version = Some("7".into());
        b.uid = Some("u1".into());
        assert!(bind_json(&pod, &b).is_ok());
        assert_eq!(
            refusal(bound(b"[1]", 7, &b, ("k", "p"), "t").map(|_| Value::Null)),
            "not a pod"
        );
    }
}
