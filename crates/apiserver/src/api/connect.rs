//! The pod subresources a node's kubelet answers: `log`, `exec`, `attach`
//! and `portforward` (`kubectl logs`, `exec`, `attach`, `port-forward`).
//!
//! The apiserver checks such a request as Kubernetes does before it would
//! connect to the kubelet: the pod exists, the container named (or the
//! only one) is the pod's, the log options are valid, and the pod has a
//! node. A pod without a node has empty logs and refuses the streams with
//! Kubernetes' "does not have a host assigned". Reaching a node's kubelet
//! is the kubelet's part of cuttle, which does not exist yet: until then a
//! pod with a node gets a 503 that says so, never a silent success.

use super::body::{full, Body};
use super::read::read_object;
use super::ApiServer;
use crate::request::{Query, ResourceRequest};
use crate::resources::{self, Subresource};
use crate::status::{ApiError, Cause};
use hyper::{header, Method, Response, StatusCode};
use serde_json::Value;
use std::sync::Arc;

/// Answers a `log`, `exec`, `attach` or `portforward` request.
pub async fn serve(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    method: &Method,
) -> Result<Response<Body>, ApiError> {
    let Some(sub) = r.subresource.filter(|s| s.connects()) else {
        return Err(ApiError::NoSuchResource);
    };
    let allowed = match sub {
        Subresource::Log => method == Method::GET || method == Method::HEAD,
        _ => method == Method::GET || method == Method::POST,
    };
    if !allowed {
        return Err(ApiError::MethodNotAllowed);
    }
    let name = r.name.as_deref().unwrap_or_default();
    if sub == Subresource::Log {
        check_log_options(query, name)?;
    }
    let key = r.resource.key(r.namespace.as_deref(), name);
    let (pod, _) = read_object(api, r.resource, &key, name).await?;
    if matches!(
        sub,
        Subresource::Log | Subresource::Exec | Subresource::Attach
    ) {
        container(&pod, name, query.get("container"))?;
    }
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() {
        if sub == Subresource::Log {
            // Kubernetes streams nothing for a pod no node runs yet.
            return Ok(Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/plain")
                .body(full(Vec::new()))
                .unwrap_or_else(|_| Response::new(full(Vec::new()))));
        }
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let nodes = resources::find("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("the nodes resource is not served"))?;
    read_object(api, nodes, &nodes.key(None, node), node).await?;
    Err(ApiError::Unavailable {
        message: format!(
            "cannot reach the kubelet of node {node:?} for pods/{}: this cuttle server does not connect to kubelets",
            sub.name()
        ),
    })
}

/// The container a request is about: the one named, or the pod's only one.
fn container<'a>(pod: &'a Value, name: &str, asked: Option<&'a str>) -> Result<&'a str, ApiError> {
    let names = |list: &str| -> Vec<&'a str> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    };
    let regular = names("containers");
    match asked.filter(|c| !c.is_empty()) {
        Some(c) => {
            let known = regular.contains(&c)
                || names("initContainers").contains(&c)
                || names("ephemeralContainers").contains(&c);
            if known {
                Ok(c)
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None => match regular.as_slice() {
            [only] => Ok(only),
            [] => Err(ApiError::bad_request(format!(
                "pod {name} does not have a container"
            ))),
            _ => {
                let mut message = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    regular.join(" ")
                );
                let init = names("initContainers");
                if !init.is_empty() {
                    message.push_str(&format!(
                        " or one of the init containers: [{}]",
                        init.join(" ")
                    ));
                }
                Err(ApiError::bad_request(message))
            }
        },
    }
}

/// PodLogOptions validation, with Kubernetes' messages.
fn check_log_options(query: &Query, name: &str) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let number = |key: &str| -> Result<Option<i64>, ApiError> {
        match query.get(key) {
            None | Some("") => Ok(None),
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {s:?} for query parameter {key}"))
            }),
        }
    };
    for (key, least, words) in [
        ("tailLines", 0, "must be greater than or equal to 0"),
        ("limitBytes", 1, "must be greater than 0"),
    ] {
        if let Some(n) = number(key)?.filter(|n| *n < least) {
            causes.push(Cause::invalid(key, &Value::from(n), words));
        }
    }
    let given = |key: &str| query.get(key).is_some_and(|s| !s.is_empty());
    if let Some(t) = query.get("sinceTime").filter(|t| !t.is_empty()) {
        if chrono::DateTime::parse_from_rfc3339(t).is_err() {
            return Err(ApiError::bad_request(format!(
                "invalid value {t:?} for query parameter sinceTime: not an RFC 3339 time"
            )));
        }
    }
    // As Kubernetes' switch: both is one Forbidden, and nothing else.
    if given("sinceSeconds") && given("sinceTime") {
        causes.push(Cause::forbidden(
            "",
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    } else if let Some(n) = number("sinceSeconds")?.filter(|n| *n < 1) {
        causes.push(Cause::invalid(
            "sinceSeconds",
            &Value::from(n),
            "must be greater than 0",
        ));
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::Invalid {
        group: "",
        kind: "PodLogOptions".into(),
        name: name.to_owned(),
        causes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "app"}, {"name": "sidecar"}],
        }})
    }

    #[test]
    fn the_container_is_the_named_one_or_the_only_one() {
        let p = pod();
        assert_eq!(container(&p, "p", Some("sidecar")).unwrap(), "sidecar");
        assert_eq!(container(&p, "p", Some("init")).unwrap(), "init");
        let one = json!({"spec": {"containers": [{"name": "c"}]}});
        assert_eq!(container(&one, "p", None).unwrap(), "c");
    }

    #[test]
    fn a_missing_or_ambiguous_container_is_a_bad_request() {
        let p = pod();
        let e = container(&p, "p", None).unwrap_err();
        assert_eq!(e.code(), 400);
        assert_eq!(
            e.to_string(),
            "a container name must be specified for pod p, choose one of: [app sidecar] or one of the init containers: [init]"
        );
        let e = container(&p, "p", Some("nope")).unwrap_err();
        assert_eq!(e.to_string(), "container nope is not valid for pod p");
        let none = json!({"spec": {"containers": []}});
        assert_eq!(
            container(&none, "p", None).unwrap_err().to_string(),
            "pod p does not have a container"
        );
    }

    #[test]
    fn log_options_are_checked_as_kubernetes_does() {
        let q = |s: &str| Query::parse(Some(s));
        assert!(check_log_options(&q("tailLines=0&limitBytes=1&sinceSeconds=5"), "p").is_ok());
        let e = check_log_options(&q("tailLines=-1"), "p").unwrap_err();
        assert_eq!(e.code(), 422);
        assert_eq!(
            e.to_string(),
            "PodLogOptions \"p\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
        );
        let e = check_log_options(&q("sinceSeconds=3&sinceTime=2024-01-01T00:00:00Z"), "p");
        assert_eq!(e.unwrap_err().code(), 422);
        assert_eq!(
            check_log_options(&q("tailLines=x"), "p")
                .unwrap_err()
                .code(),
            400
        );
    }
}
