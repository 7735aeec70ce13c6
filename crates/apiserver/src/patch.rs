//! The patch types: JSON patch (RFC 6902) and merge patch (RFC 7386)
//! through the `json-patch` crate, and strategic merge patch, ours, with
//! the list merge keys of the built-in kinds (containers by name, ports by
//! containerPort, ...) and its directives (`$patch`, `$setElementOrder`,
//! `$retainKeys`, `$deleteFromPrimitiveList`).

use crate::status::ApiError;
use serde_json::{Map, Value};

/// How a list field merges under a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListMerge {
    /// Items are objects merged by this key.
    ByKey(&'static str),
    /// Items are scalars merged as a set (finalizers).
    Set,
    /// The patch's list replaces the object's.
    Replace,
}

/// The merge strategy of the list at `field` under `path` (the names of
/// the enclosing fields, outermost first), after the built-in kinds' Go
/// struct tags.
pub(crate) fn list_merge<S: AsRef<str>>(kind: &str, path: &[S], field: &str) -> ListMerge {
    let in_container = path.iter().any(|p| {
        matches!(
            p.as_ref(),
            "containers" | "initContainers" | "ephemeralContainers"
        )
    });
    let spec_only = path.len() == 1 && path[0].as_ref() == "spec";
    match field {
        "containers" | "initContainers" | "ephemeralContainers" => ListMerge::ByKey("name"),
        "ports" if in_container => ListMerge::ByKey("containerPort"),
        "ports" if kind == "Service" && spec_only => ListMerge::ByKey("port"),
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" => ListMerge::ByKey("name"),
        "volumeMounts" => ListMerge::ByKey("mountPath"),
        "volumeDevices" => ListMerge::ByKey("devicePath"),
        "conditions" => ListMerge::ByKey("type"),
        "hostAliases" => ListMerge::ByKey("ip"),
        "ownerReferences" => ListMerge::ByKey("uid"),
        "topologySpreadConstraints" => ListMerge::ByKey("topologyKey"),
        "finalizers" => ListMerge::Set,
        _ => ListMerge::Replace,
    }
}

/// Applies a JSON patch.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    // A body that is no list of objects is a bad request; an operation
    // that is not one (an unknown op, a missing path) fails to apply, as
    // Kubernetes decodes operations only when it applies them.
    let is_list_of_objects = patch
        .as_array()
        .is_some_and(|ops| ops.iter().all(Value::is_object));
    if !is_list_of_objects {
        return Err(ApiError::bad_request(
            "invalid JSON patch: the body must be a list of operations",
        ));
    }
    // Kubernetes' limit on the operations of one JSON patch.
    const MAX_OPERATIONS: usize = 10_000;
    let count = patch.as_array().map_or(0, Vec::len);
    if count > MAX_OPERATIONS {
        return Err(ApiError::TooManyPatchOperations {
            ops: count,
            limit: MAX_OPERATIONS,
        });
    }
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|_| ApiError::PatchNotApplied)?;
    let mut out = target.clone();
    json_patch::patch(&mut out, &ops).map_err(|_| ApiError::PatchNotApplied)?;
    Ok(out)
}

/// Applies a merge patch.
pub fn merge_patch(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request("a merge patch must be a JSON object"));
    }
    let mut out = target.clone();
    json_patch::merge(&mut out, patch);
    Ok(out)
}

/// Applies a strategic merge patch to an object of `kind`.
pub fn strategic_merge(kind: &str, target: &Value, patch: &Value) -> Result<Value, ApiError> {
    let (Some(t), Some(p)) = (target.as_object(), patch.as_object()) else {
        return Err(ApiError::bad_request(
            "a strategic merge patch must be a JSON object",
        ));
    };
    let merged = merge_map(kind, &mut Vec::new(), t, p)?;
    Ok(Value::Object(merged))
}

fn merge_map(
    kind: &str,
    path: &mut Vec<String>,
    target: &Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut m = patch.clone();
            m.remove("$patch");
            return Ok(strip_directives(m));
        }
        Some("delete") => return Ok(Map::new()),
        Some("merge") | None => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type {other:?}"
            )));
        }
    }
    let mut out = target.clone();
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, pv) in patch {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Value::Array(del)) = (out.get_mut(field), pv) {
                cur.retain(|v| !del.contains(v));
            }
            continue;
        }
        match pv {
            Value::Null => {
                out.remove(k);
            }
            Value::Object(pm) => {
                let merged = match out.get(k) {
                    Some(Value::Object(tm)) => {
                        path.push(k.clone());
                        let m = merge_map(kind, path, tm, pm);
                        path.pop();
                        m?
                    }
                    _ => strip_directives(pm.clone()),
                };
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    out.remove(k);
                } else {
                    out.insert(k.clone(), Value::Object(merged));
                }
            }
            Value::Array(pl) => {
                let strategy = list_merge(kind, path, k);
                let cur = out
                    .get(k)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                path.push(k.clone());
                let merged = merge_list(kind, path, strategy, &cur, pl);
                path.pop();
                let mut merged = merged?;
                if let Some(Value::Array(order)) = patch.get(&format!("$setElementOrder/{k}")) {
                    merged = apply_order(strategy, merged, order);
                }
                out.insert(k.clone(), Value::Array(merged));
            }
            scalar => {
                out.insert(k.clone(), scalar.clone());
            }
        }
    }
    Ok(out)
}

fn merge_list(
    kind: &str,
    path: &mut Vec<String>,
    strategy: ListMerge,
    target: &[Value],
    patch: &[Value],
) -> Result<Vec<Value>, ApiError> {
    match strategy {
        ListMerge::Replace => Ok(patch
            .iter()
            .map(|v| match v {
                Value::Object(m) => Value::Object(strip_directives(m.clone())),
                other => other.clone(),
            })
            .collect()),
        ListMerge::Set => {
            let mut out = target.to_vec();
            for v in patch {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(out)
        }
        ListMerge::ByKey(key) => {
            let mut out = target.to_vec();
            for item in patch {
                let Some(pm) = item.as_object() else {
                    return Err(ApiError::bad_request(format!(
                        "strategic merge patch: list items of {} must be objects",
                        path.join(".")
                    )));
                };
                if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
                    // The whole list is replaced by the patch's items.
                    return Ok(patch
                        .iter()
                        .filter(|v| v.get("$patch").is_none())
                        .cloned()
                        .collect());
                }
                let id = pm.get(key);
                let pos = id.and_then(|id| out.iter().position(|t| t.get(key) == Some(id)));
                let delete = pm.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(i), true) => {
                        out.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => {
                        let merged = match out[i].as_object() {
                            Some(tm) => merge_map(kind, path, tm, pm)?,
                            None => strip_directives(pm.clone()),
                        };
                        out[i] = Value::Object(merged);
                    }
                    (None, false) => out.push(Value::Object(strip_directives(pm.clone()))),
                }
            }
            Ok(out)
        }
    }
}

/// Orders merged items as `$setElementOrder` lists them; items it does not
/// name keep their relative order after the named ones.
fn apply_order(strategy: ListMerge, items: Vec<Value>, order: &[Value]) -> Vec<Value> {
    let id_of = |v: &Value| -> Value {
        match strategy {
            ListMerge::ByKey(k) => v.get(k).cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(&id_of).collect();
    let (mut named, rest): (Vec<Value>, Vec<Value>) =
        items.into_iter().partition(|v| wanted.contains(&id_of(v)));
    named.sort_by_key(|v| {
        wanted
            .iter()
            .position(|w| *w == id_of(v))
            .unwrap_or(usize::MAX)
    });
    named.extend(rest);
    named
}

/// Removes directive keys (`$patch`, `$setElementOrder/...`) recursively.
fn strip_directives(mut m: Map<String, Value>) -> Map<String, Value> {
    m.retain(|k, _| !k.starts_with('$'));
    for v in m.values_mut() {
        match v {
            Value::Object(inner) => *inner = strip_directives(std::mem::take(inner)),
            Value::Array(items) => {
                for i in items.iter_mut() {
                    if let Value::Object(inner) = i {
                        *inner = strip_directives(std::mem::take(inner));
                    }
                }
            }
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_json_patch_that_does_not_apply_is_a_bare_422() {
        let obj = json!({"spec": {"replicas": 3}});
        for ops in [
            json!([{"op": "test", "path": "/spec/replicas", "value": 4}]),
            json!([{"op": "remove", "path": "/spec/affinity"}]),
            json!([{"op": "add", "path": "/no/such/parent", "value": 1}]),
        ] {
            let err = json_patch(&obj, &ops).unwrap_err();
            let status = err.to_status();
            assert_eq!(status["code"], 422, "{ops}");
            assert_eq!(status["reason"], "Invalid");
            assert_eq!(
                status["message"],
                "the server rejected our request due to an error in our request"
            );
            assert_eq!(status["details"], json!({}));
        }
        // An operation that is none fails to apply; a body that is no list
        // of operations is a 400.
        let unknown = json_patch(&obj, &json!([{"op": "bogus", "path": "/a"}])).unwrap_err();
        assert_eq!(unknown.code(), 422);
        let bad = json_patch(&obj, &json!({"op": "test"})).unwrap_err();
        assert_eq!(bad.code(), 400);
        assert_eq!(json_patch(&obj, &json!([1])).unwrap_err().code(), 400);
        let many = vec![json!({"op": "test", "path": "/spec/replicas", "value": 3}); 10_001];
        let err = json_patch(&obj, &Value::Array(many)).unwrap_err();
        assert_eq!(err.code(), 413);
        assert_eq!(
            err.to_status()["message"],
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }

    #[test]
    fn containers_merge_by_name() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "image": "x:1", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "y:1"}
        ]}});
        // What `kubectl set resources` and `apply` send.
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "y:2", "resources": {"limits": {"cpu": "500m"}}}]
        }});
        let out = strategic_merge("Pod", &pod, &patch).unwrap();
        let cs = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["image"], "x:1");
        assert_eq!(cs[1]["image"], "y:2");
        assert_eq!(cs[1]["resources"]["limits"]["cpu"], "500m");
        assert!(out["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn directives() {
        let obj = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
                         "spec": {"containers": [{"name": "a"}, {"name": "b"}], "tolerations": [{"key": "k"}]}});
        let patch = json!({"metadata": {"finalizers": ["b"], "labels": {"x": null}},
                           "spec": {"containers": [{"name": "a", "$patch": "delete"}], "tolerations": [{"key": "n"}]}});
        let out = strategic_merge("Pod", &obj, &patch).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(out["metadata"]["labels"], json!({"y": "2"}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "b"}]));
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "n"}]),
            "no merge key: replaced"
        );
        let del = json!({"$deleteFromPrimitiveList/finalizers": ["a"], "metadata": {}});
        let out2 = strategic_merge("Pod", &json!({"finalizers": ["a", "b"]}), &del).unwrap();
        assert_eq!(out2["finalizers"], json!(["b"]));
    }

    #[test]
    fn service_ports_merge_by_port() {
        let svc = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}});
        let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        let out = strategic_merge("Service", &svc, &patch).unwrap();
        assert_eq!(
            out["spec"]["ports"][0],
            json!({"port": 80, "name": "http", "targetPort": 8080})
        );
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn json_and_merge_patches() {
        let obj = json!({"a": {"b": 1}, "l": [1, 2]});
        let out = json_patch(&obj, &json!([{"op": "replace", "path": "/a/b", "value": 2}, {"op": "add", "path": "/l/-", "value": 3}])).unwrap();
        assert_eq!(out, json!({"a": {"b": 2}, "l": [1, 2, 3]}));
        assert_eq!(
            json_patch(&obj, &json!([{"op": "remove", "path": "/nope"}]))
                .unwrap_err()
                .code(),
            422
        );
        assert_eq!(
            json_patch(&obj, &json!({"not": "a list"}))
                .unwrap_err()
                .code(),
            400
        );
        let out = merge_patch(&obj, &json!({"a": {"b": null, "c": 3}})).unwrap();
        assert_eq!(out, json!({"a": {"c": 3}, "l": [1, 2]}));
    }
}
