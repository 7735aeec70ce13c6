//! OpenAPI v3 discovery: `/openapi/v3` lists a document per group-version,
//! each declaring the paths and operations of its resources with their
//! group-version-kind and the `fieldValidation` parameter. That is what
//! kubectl's `apply`, `create -f` and `edit` check before they send
//! `fieldValidation=Strict` and leave validation to the server.
//! The component schemas are the Kubernetes definitions (see
//! [`crate::schemas`]), which `kubectl explain` reads.

use super::body::{value_response, Body};
use crate::resources::{groups, Resource, RESOURCES};
use crate::status::ApiError;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The URL path segment of a group-version: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A content hash, so clients cache each document until it changes.
fn hash(s: &str) -> String {
    // FNV-1a, 64 bit: stable across runs and builds.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

fn schema_name(r: &Resource) -> String {
    crate::schemas::definition_name(r)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("io.k8s.api.{}.{}", r.version, r.kind))
}

fn params() -> Value {
    json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
    ])
}

fn operation(r: &Resource, action: &str) -> Value {
    json!({
        "operationId": format!("{action}{}", r.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
        "parameters": params(),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", schema_name(r))}}}}},
    })
}

fn document(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Resource> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let base = format!("/{}", gv_path(group, version));
    for r in served {
        let (collection, item) = if r.namespaced {
            (
                format!("{base}/namespaces/{{namespace}}/{}", r.plural),
                format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural),
            )
        } else {
            (
                format!("{base}/{}", r.plural),
                format!("{base}/{}/{{name}}", r.plural),
            )
        };
        if !r.is_stored() {
            // A review is only created (and answered), never stored.
            paths.insert(collection, json!({"post": operation(r, "post")}));
            continue;
        }
        paths.insert(
            collection,
            json!({"post": operation(r, "post"), "get": operation(r, "list")}),
        );
        paths.insert(
            item,
            json!({"get": operation(r, "get"), "put": operation(r, "put"), "patch": operation(r, "patch"), "delete": operation(r, "delete")}),
        );
    }
    let group_schemas = crate::schemas::for_group(group);
    for (name, def) in &group_schemas.definitions {
        schemas.insert(name.clone(), def.clone());
    }
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        if let Some(Value::Object(def)) = schemas.get_mut(&schema_name(r)) {
            def.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": r.group, "version": r.version, "kind": r.kind}]),
            );
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::KUBE_GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// Every group-version's document, serialized once: they never change
/// while the server runs, and kubectl fetches the index and a document
/// before each apply. Keyed by the URL path (`apis/apps/v1`), with the
/// content hash the index advertises.
fn documents() -> &'static BTreeMap<String, (bytes::Bytes, String)> {
    static DOCS: std::sync::OnceLock<BTreeMap<String, (bytes::Bytes, String)>> =
        std::sync::OnceLock::new();
    DOCS.get_or_init(|| {
        groups()
            .into_iter()
            // The review groups have no stored kinds and no document.
            .filter_map(|(g, v)| {
                let text = document(g, v)?.to_string();
                let h = hash(&text);
                Some((gv_path(g, v), (bytes::Bytes::from(text), h)))
            })
            .collect()
    })
}

/// `GET /openapi/v3`.
pub fn index() -> Response<Body> {
    let paths: Map<String, Value> = documents()
        .iter()
        .map(|(p, (_, h))| {
            let url = format!("/openapi/v3/{p}?hash={h}");
            (p.clone(), json!({ "serverRelativeURL": url }))
        })
        .collect();
    value_response(StatusCode::OK, &json!({"paths": paths}))
}

/// `GET /openapi/v3/<api/v1 | apis/group/version>`.
pub fn group_version(rest: &str) -> Result<Response<Body>, ApiError> {
    let (doc, _) = documents()
        .get(rest.trim_matches('/'))
        .ok_or(ApiError::NoSuchResource)?;
    Ok(super::body::json_response(StatusCode::OK, doc.clone()))
}

/// `GET /openapi/v2` as JSON (Swagger 2.0), for clients that read it.
/// kubectl asks for v2 only as protobuf, which is not served: it takes the
/// 404 and uses v3, whereas JSON in a protobuf answer would break it.
pub fn v2(headers: &http::HeaderMap) -> Result<Response<Body>, ApiError> {
    let accepts_json = super::body::accept_offers(headers)
        .iter()
        .any(super::body::Offer::is_json);
    let asked = headers.contains_key(http::header::ACCEPT);
    if asked && !accepts_json {
        return Err(ApiError::NoSuchResource);
    }
    static DOC: std::sync::OnceLock<bytes::Bytes> = std::sync::OnceLock::new();
    let doc =
        DOC.get_or_init(|| bytes::Bytes::from(serde_json::to_vec(&swagger()).unwrap_or_default()));
    Ok(super::body::json_response(StatusCode::OK, doc.clone()))
}

/// The v3 documents of every group-version as one Swagger 2.0 document.
fn swagger() -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for (g, v) in groups() {
        let Some(mut doc) = document(g, v) else {
            continue;
        };
        v3_refs_to_v2(&mut doc);
        if let Some(Value::Object(p)) = doc.get_mut("paths").map(Value::take) {
            for (path, mut ops) in p {
                if let Some(ops) = ops.as_object_mut() {
                    ops.values_mut().for_each(v3_operation_to_v2);
                }
                paths.insert(path, ops);
            }
        }
        if let Some(Value::Object(s)) = doc.pointer_mut("/components/schemas").map(Value::take) {
            definitions.extend(s);
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": super::KUBE_GIT_VERSION},
        "paths": paths,
        "definitions": definitions,
    })
}

/// Points `$ref`s at `#/definitions/` instead of `#/components/schemas/`.
fn v3_refs_to_v2(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                match child {
                    Value::String(s) if k == "$ref" => {
                        if let Some(name) = s.strip_prefix("#/components/schemas/") {
                            *s = format!("#/definitions/{name}");
                        }
                    }
                    _ => v3_refs_to_v2(child),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(v3_refs_to_v2),
        _ => {}
    }
}

/// v2 keeps a parameter's type on the parameter and a response's schema
/// on the response.
fn v3_operation_to_v2(op: &mut Value) {
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params {
            if let Some(Value::Object(schema)) = p.as_object_mut().and_then(|m| m.remove("schema"))
            {
                if let Some(m) = p.as_object_mut() {
                    m.extend(schema);
                }
            }
        }
    }
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        for r in responses.values_mut() {
            let schema = r
                .pointer_mut("/content/application~1json/schema")
                .map(Value::take);
            if let Some(m) = r.as_object_mut() {
                m.remove("content");
                if let Some(s) = schema {
                    m.insert("schema".into(), s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_is_json_only_for_clients_that_accept_json() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
                .parse()
                .unwrap(),
        );
        assert!(
            v2(&headers).is_err(),
            "kubectl's protobuf request gets a 404"
        );
        headers.insert(http::header::ACCEPT, "application/json".parse().unwrap());
        assert!(v2(&headers).is_ok());
        let doc = swagger();
        assert_eq!(doc["swagger"], "2.0");
        let pod = &doc["definitions"]["io.k8s.api.core.v1.Pod"];
        assert!(pod["properties"]["spec"].is_object(), "{pod}");
        let text = doc.to_string();
        assert!(!text.contains("#/components/schemas/"));
        let op = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["get"];
        assert_eq!(
            op["responses"]["200"]["schema"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.Pod"
        );
        assert_eq!(op["parameters"][0]["type"], "string");
    }

    #[test]
    fn patch_operations_declare_field_validation() {
        let doc = document("", "v1").unwrap();
        let op = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Pod");
        assert!(op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        let apps = document("apps", "v1").unwrap();
        assert!(apps["paths"]
            .get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
            .is_some());
        assert!(document("nope", "v1").is_none());
    }
}
