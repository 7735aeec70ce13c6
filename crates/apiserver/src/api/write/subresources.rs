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
    let now = chrono::Utc::now();
    let claims = crate::tokens::TokenClaims {
        namespace: namespace.clone(),
        service_account: name.to_owned(),
        uid: meta_str(&account, "uid").unwrap_or_default().to_owned(),
        audiences: audiences.clone(),
        issued_at: now.timestamp(),
        expires_at: now.timestamp() + seconds,
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
