//! The review resources: questions answered at once and never stored.
//! `kubectl auth can-i` creates a SelfSubjectAccessReview, `auth can-i
//! --list` a SelfSubjectRulesReview and `auth whoami` a SelfSubjectReview;
//! components and webhooks ask (Local)SubjectAccessReviews, and
//! TokenReviews to authenticate a bearer token.
//!
//! cuttle stores RBAC objects but does not evaluate them yet: every
//! authenticated request is allowed. The reviews answer exactly that, so
//! they never claim a denial the server would not enforce.

use super::body::{content_type, decode, value_response, Body};
use crate::auth::User;
use crate::request::{ResourceRequest, Verb};
use crate::status::{ApiError, Cause};
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Map, Value};

const ALLOWED_REASON: &str =
    "cuttle does not enforce authorization yet: every authenticated request is allowed";

/// Answers a create of a review resource; any other verb is refused.
pub fn create(
    api: &super::ApiServer,
    r: &ResourceRequest,
    headers: &HeaderMap,
    body: &Bytes,
    user: Option<&User>,
) -> Result<Response<Body>, ApiError> {
    if r.verb != Verb::Create || r.subresource.is_some() {
        return Err(ApiError::MethodNotAllowed);
    }
    let mut review = decode(body, &content_type(headers))?;
    let Some(obj) = review.as_object_mut() else {
        return Err(ApiError::bad_request("the review must be a JSON object"));
    };
    let resource = r.resource;
    match obj.get("kind").and_then(Value::as_str) {
        Some(kind) if kind != resource.kind => {
            return Err(ApiError::bad_request(format!(
                "the body is a {kind}, not a {}",
                resource.kind
            )))
        }
        _ => {}
    }
    obj.insert("apiVersion".into(), resource.api_version().into());
    obj.insert("kind".into(), resource.kind.into());
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        meta.entry("creationTimestamp").or_insert(Value::Null);
        if resource.kind == "LocalSubjectAccessReview" {
            meta.insert("namespace".into(), r.namespace.clone().into());
        }
    }
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    let status = match resource.kind {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            access_review_status(resource, &spec, r.namespace.as_deref())?
        }
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        "TokenReview" => {
            let token = spec
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match api.token_user(token) {
                Some(u) => json!({
                    "authenticated": true,
                    "user": {"username": u.name, "groups": u.groups},
                    "audiences": spec.get("audiences").cloned().unwrap_or_else(|| json!([crate::tokens::ISSUER])),
                }),
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        "SelfSubjectReview" => {
            let user = user.ok_or(ApiError::Unauthorized)?;
            json!({"userInfo": {"username": user.name, "groups": user.groups}})
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "{other} is not a review resource"
            )))
        }
    };
    obj.insert("status".into(), status);
    Ok(value_response(StatusCode::CREATED, &review))
}

/// Validates an access review's spec as Kubernetes does and allows it.
fn access_review_status(
    resource: &'static crate::resources::Resource,
    spec: &Value,
    namespace: Option<&str>,
) -> Result<Value, ApiError> {
    let has = |field: &str| spec.get(field).is_some_and(|v| !v.is_null());
    let mut causes = Vec::new();
    if has("resourceAttributes") == has("nonResourceAttributes") {
        causes.push(Cause::invalid(
            "spec.resourceAttributes",
            spec.get("resourceAttributes").unwrap_or(&Value::Null),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    }
    if resource.kind != "SelfSubjectAccessReview"
        && !has("user")
        && spec
            .get("groups")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    {
        causes.push(Cause::invalid(
            "spec.user",
            &Value::String(String::new()),
            "at least one of user or group must be specified",
        ));
    }
    if resource.kind == "LocalSubjectAccessReview" {
        let attrs_ns = spec
            .pointer("/resourceAttributes/namespace")
            .and_then(Value::as_str);
        if attrs_ns != namespace {
            causes.push(Cause::invalid(
                "spec.resourceAttributes.namespace",
                &attrs_ns.map_or(Value::Null, Value::from),
                "must match metadata.namespace",
            ));
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(resource, "", causes));
    }
    Ok(json!({"allowed": true, "reason": ALLOWED_REASON}))
}
