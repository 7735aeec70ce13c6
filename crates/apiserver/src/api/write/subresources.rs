//! The writable subresources other than status, binding and eviction:
//! scale and service accounts' token.

use super::*;

/// The `autoscaling/v1` Scale of a scalable object.
pub fn scale_of(obj: &Value) -> Value {
    let m = meta::meta(obj).cloned().unwrap_or_default();
    // A label selector, or a ReplicationController's plain label map.
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .or_else(|| {
            obj.pointer("/spec/selector")
                .filter(|s| s.get("matchLabels").is_none() && s.get("matchExpressions").is_none())
        })
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m.get("name").cloned().unwrap_or(Value::Null),
            "namespace": m.get("namespace").cloned().unwrap_or(Value::Null),
            "uid": m.get("uid").cloned().unwrap_or(Value::Null),
            "resourceVersion": m.get("resourceVersion").cloned().unwrap_or(Value::Null),
            "creationTimestamp": m.get("creationTimestamp").cloned().unwrap_or(Value::Null),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

pub(super) async fn update_scale(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    scale: Value,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    let name = r.name.as_deref().unwrap_or_default();
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                resource,
                name,
                vec![crate::status::Cause::invalid(
                    "spec.replicas",
                    scale.pointer("/spec/replicas").unwrap_or(&Value::Null),
                    "must be greater than or equal to 0",
                )],
            )
        })?;
    let precondition = meta::precondition_rv(&scale)?;
    let key = resource.key(r.namespace.as_deref(), name);
    let result = guaranteed_update(
        api,
        resource,
        &key,
        name,
        precondition,
        dry_run(query),
        |old| {
            let mut next = old.clone();
            next["spec"]["replicas"] = json!(replicas);
            next_state(resource, None, &next, old, name, query.get("fieldManager"))
        },
    )
    .await?;
    Ok(value_response(StatusCode::OK, &scale_of(&result)))
}

/// `POST serviceaccounts/<name>/token`: a TokenRequest answered with a
/// signed token for the account (`kubectl create token`), valid for
/// `spec.expirationSeconds` (one hour by default, ten minutes at least).
/// The objects a TokenRequest binds its token to (`spec.boundObjectRef`):
/// a pod of the account (and the node it runs on), a secret, or a node,
/// each of which must exist (with the uid the request names, if any).
async fn bound_objects(
    api: &Arc<ApiServer>,
    request: &Value,
    namespace: &str,
    account: &str,
) -> Result<Vec<crate::tokens::BoundObject>, ApiError> {
    let Some(reference) = request
        .pointer("/spec/boundObjectRef")
        .filter(|r| r.is_object())
    else {
        return Ok(Vec::new());
    };
    let text = |f: &str| reference.get(f).and_then(Value::as_str).unwrap_or("");
    let (kind, api_version, name) = (text("kind"), text("apiVersion"), text("name"));
    let core = api_version.is_empty() || api_version == "v1";
    let (claim, plural, scoped) = match (core, kind) {
        (true, "Pod") => ("pod", "pods", true),
        (true, "Secret") => ("secret", "secrets", true),
        (true, "Node") => ("node", "nodes", false),
        _ => {
            let group_version = if api_version.is_empty() {
                "/v1"
            } else {
                api_version
            };
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {group_version}, Kind={kind}"
            )));
        }
    };
    let resource = crate::resources::find("", "v1", plural).ok_or(ApiError::NoSuchResource)?;
    let key = resource.key(scoped.then_some(namespace), name);
    let (obj, _) = read_object(api, resource, &key, name).await?;
    let uid = meta_str(&obj, "uid").unwrap_or_default().to_owned();
    let wanted = text("uid");
    if !wanted.is_empty() && wanted != uid {
        return Err(ApiError::Conflict {
            group: "",
            resource: kind.to_owned(),
            name: name.to_owned(),
            detail: format!("the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"),
        });
    }
    let mut bound = vec![crate::tokens::BoundObject {
        claim,
        name: name.to_owned(),
        uid,
    }];
    if claim == "pod" {
        let runs_as = obj
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if runs_as != account {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount {account:?} to pod running with different serviceaccount name."
            )));
        }
        // The pod's node is named too, as Kubernetes does (1.32+).
        let node = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(nodes) = crate::resources::find("", "v1", "nodes").filter(|_| !node.is_empty())
        {
            if let Some(cached) = api.cache.get(nodes, &nodes.key(None, node)) {
                let node_obj: Value = serde_json::from_slice(&cached.json).unwrap_or_default();
                bound.push(crate::tokens::BoundObject {
                    claim: "node",
                    name: node.to_owned(),
                    uid: meta_str(&node_obj, "uid").unwrap_or_default().to_owned(),
                });
            }
        }
    }
    Ok(bound)
}

pub(super) async fn token_request(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    mut request: Value,
) -> Result<Response<Body>, ApiError> {
    let resource = r.resource;
    let name = r.name.as_deref().unwrap_or_default();
    let namespace = r.namespace.clone().unwrap_or_default();
    let (account, _) =
        read_object(api, resource, &resource.key(Some(&namespace), name), name).await?;
    let seconds = match request.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => 3600,
        Some(v) => {
            let why = match v.as_i64() {
                Some(s) if s < 600 => Some("may not specify a duration less than 10 minutes"),
                Some(s) if s > 1 << 32 => {
                    Some("may not specify a duration larger than 2^32 seconds")
                }
                Some(_) => None,
                None => Some("must be an integer"),
            };
            if let Some(why) = why {
                // The request's kind, as kube-apiserver names it.
                return Err(ApiError::Invalid {
                    group: "authentication.k8s.io",
                    kind: "TokenRequest".into(),
                    name: name.to_owned(),
                    causes: vec![crate::status::Cause::invalid(
                        "spec.expirationSeconds",
                        v,
                        why,
                    )],
                });
            }
            v.as_i64().unwrap_or(3600)
        }
    };
    let audiences: Vec<String> = request
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec![crate::tokens::ISSUER.to_owned()]);
    let bound = bound_objects(api, &request, &namespace, name).await?;
    let now = chrono::Utc::now();
    let claims = crate::tokens::TokenClaims {
        namespace: namespace.clone(),
        service_account: name.to_owned(),
        uid: meta_str(&account, "uid").unwrap_or_default().to_owned(),
        audiences: audiences.clone(),
        issued_at: now.timestamp(),
        expires_at: now.timestamp() + seconds,
        bound,
    };
    let token = api.tokens.issue(&claims);
    let expires = chrono::DateTime::from_timestamp(claims.expires_at, 0).unwrap_or(now);
    let Some(obj) = request.as_object_mut() else {
        return Err(ApiError::bad_request(
            "a TokenRequest must be a JSON object",
        ));
    };
    obj.insert("apiVersion".into(), json!("authentication.k8s.io/v1"));
    obj.insert("kind".into(), json!("TokenRequest"));
    obj.insert(
        "metadata".into(),
        json!({"name": name, "namespace": namespace, "creationTimestamp": meta::now()}),
    );
    let spec = obj.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        spec.insert("audiences".into(), json!(audiences));
        spec.insert("expirationSeconds".into(), json!(seconds));
        spec.entry("boundObjectRef").or_insert(Value::Null);
    }
    obj.insert(
        "status".into(),
        json!({"token": token, "expirationTimestamp": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
    );
    Ok(value_response(StatusCode::CREATED, &request))
}
