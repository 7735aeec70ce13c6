//! Object metadata as the apiserver manages it: names and generateName,
//! uid, timestamps, generation, and what clients may not change.

use crate::resources::Resource;
use crate::status::{ApiError, Cause};
use serde_json::{json, Map, Value};

/// Characters Kubernetes uses for generated name suffixes (no vowels, no
/// look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str()
}

/// Which name rules a resource's objects follow.
fn name_rule(resource: &Resource) -> NameRule {
    match (resource.group, resource.plural) {
        ("", "namespaces") | ("", "services") => NameRule::Label,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        ("networking.k8s.io", "ipaddresses") => NameRule::Ip,
        _ => NameRule::Subdomain,
    }
}

enum NameRule {
    Label,
    Subdomain,
    PathSegment,
    /// An IPAddress is named by its address, in canonical form.
    Ip,
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

/// Checks a name; returns the cause if it is not valid for the resource.
pub fn check_name(resource: &Resource, name: &str, field: &str) -> Option<Cause> {
    let v = Value::String(name.to_owned());
    match name_rule(resource) {
        NameRule::Label if !is_label(name) => Some(Cause::invalid(
            field,
            &v,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        )),
        // The first of Kubernetes' messages: the length's, when too long.
        NameRule::Subdomain if !is_subdomain(name) => crate::object_meta::subdomain_errors(name)
            .into_iter()
            .next()
            .map(|why| Cause::invalid(field, &v, why)),
        NameRule::PathSegment
            if name == "." || name == ".." || name.contains('/') || name.contains('%') =>
        {
            Some(Cause::invalid(field, &v, "may not contain '/' or '%', and may not be '.' or '..'"))
        }
        NameRule::Ip => {
            crate::addresses::ip_error(name).map(|why| Cause::invalid(field, &v, why))
        }
        _ => None,
    }
}

/// A random suffix of `n` characters for generateName.
fn suffix(n: usize) -> String {
    let id = uuid::Uuid::new_v4();
    id.as_bytes()
        .iter()
        .take(n)
        .map(|b| SUFFIX_ALPHABET[*b as usize % SUFFIX_ALPHABET.len()] as char)
        .collect()
}

/// Whether Kubernetes tracks `metadata.generation` for this resource.
pub fn tracks_generation(resource: &Resource) -> bool {
    matches!(
        (resource.group, resource.plural),
        ("apps", _)
            | ("batch", _)
            | ("policy", "poddisruptionbudgets")
            | ("", "persistentvolumes")
            | ("", "persistentvolumeclaims")
            // Pods since 1.33 (KEP-5067, not behind a gate).
            | ("", "pods")
            | ("", "replicationcontrollers")
            | ("networking.k8s.io", "ingresses" | "networkpolicies")
            | ("admissionregistration.k8s.io", _)
    )
}

/// Checks apiVersion and kind of a body against the resource it is sent
/// to, filling them in when the client left them out (as Kubernetes
/// defaults them from the URL).
pub fn check_type(
    resource: &Resource,
    obj: &mut Value,
    expected_kind: &str,
) -> Result<(), ApiError> {
    let expected_version = if expected_kind == resource.kind {
        resource.api_version()
    } else {
        String::new()
    };
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body is not a JSON object",
        ));
    };
    if let Some(m) = map.get("metadata") {
        if !m.is_object() && !m.is_null() {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
    }
    let kind = match map.get("kind") {
        None | Some(Value::Null) => expected_kind.to_owned(),
        Some(Value::String(k)) if k.is_empty() => expected_kind.to_owned(),
        Some(Value::String(k)) => k.clone(),
        Some(_) => return Err(ApiError::bad_request("kind must be a string")),
    };
    let api_version = match map.get("apiVersion") {
        None | Some(Value::Null) => expected_version.clone(),
        Some(Value::String(v)) if v.is_empty() => expected_version.clone(),
        Some(Value::String(v)) => v.clone(),
        Some(_) => return Err(ApiError::bad_request("apiVersion must be a string")),
    };
    if kind != expected_kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({expected_kind})"
        )));
    }
    if !expected_version.is_empty() && api_version != expected_version {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected_version})"
        )));
    }
    map.insert("kind".into(), Value::String(kind));
    if !api_version.is_empty() {
        map.insert("apiVersion".into(), Value::String(api_version));
    }
    Ok(())
}

/// Fills the metadata of a new object: name (from generateName), namespace,
/// uid, creationTimestamp, generation; clears what clients may not set.
/// Returns the name and what is wrong with it: Kubernetes reports a bad
/// name together with the rest of the object's invalid fields, so the
/// caller adds these causes to its validation's.
pub fn prepare_create(
    resource: &Resource,
    obj: &mut Value,
    namespace: Option<&str>,
) -> Result<(String, Vec<Cause>), ApiError> {
    let tracks = tracks_generation(resource);
    let m = meta_mut(obj);
    let mut causes = Vec::new();
    let name = match m.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => match m.get("generateName").and_then(Value::as_str) {
            Some(g) if !g.is_empty() => {
                // Kubernetes trims the prefix so the name fits 63 characters.
                let base: String = g.chars().take(58).collect();
                format!("{base}{}", suffix(5))
            }
            _ => {
                causes.push(Cause::required_because(
                    "metadata.name",
                    "name or generateName is required",
                ));
                String::new()
            }
        },
    };
    if !name.is_empty() {
        if let Some(c) = check_name(resource, &name, "metadata.name") {
            causes.push(c);
        }
    }
    match (resource.namespaced, namespace) {
        (true, Some(ns)) => {
            if let Some(body_ns) = m.get("namespace").and_then(Value::as_str) {
                if !body_ns.is_empty() && body_ns != ns {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            }
            m.insert("namespace".into(), json!(ns));
        }
        (true, None) => {
            return Err(ApiError::bad_request(
                "the namespace of the object is required: send it in the path",
            ))
        }
        (false, _) => {
            m.remove("namespace");
        }
    }
    if m.get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    m.insert("name".into(), json!(name));
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(now()));
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    m.remove("selfLink");
    if tracks {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    Ok((name, causes))
}

/// The outcome of validating a new object whose metadata had `meta_causes`
/// wrong: one 422 listing the metadata's causes first, then the rest.
pub fn with_meta_causes(
    resource: &Resource,
    name: &str,
    meta_causes: Vec<Cause>,
    validated: Result<(), ApiError>,
) -> Result<(), ApiError> {
    if meta_causes.is_empty() {
        return validated;
    }
    let mut causes = meta_causes;
    match validated {
        Ok(()) => {}
        Err(ApiError::Invalid { causes: more, .. }) => causes.extend(more),
        Err(other) => return Err(other),
    }
    Err(ApiError::invalid(resource, name, causes))
}

/// Carries over what an update may not change (uid, creation time,
/// deletion state), and bumps the generation when the spec changed.
pub fn prepare_update(resource: &Resource, new: &mut Value, old: &Value) {
    let old_meta = meta(old).cloned().unwrap_or_default();
    let spec_changed = strip_meta_and_status(new) != strip_meta_and_status(old);
    let m = meta_mut(new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "namespace",
        "name",
    ] {
        match old_meta.get(field) {
            Some(v) => {
                m.insert(field.into(), v.clone());
            }
            None => {
                m.remove(field);
            }
        }
    }
    m.remove("selfLink");
    if tracks_generation(resource) {
        let old_gen = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let gen = if spec_changed { old_gen + 1 } else { old_gen };
        m.insert("generation".into(), json!(gen));
    } else {
        m.remove("generation");
    }
}

/// The object without metadata and status: what counts as its spec for
/// the generation (any top-level field, as Kubernetes compares them).
fn strip_meta_and_status(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    o
}

/// The resourceVersion a write is conditioned on, if the client set one.
pub fn precondition_rv(obj: &Value) -> Result<Option<i64>, ApiError> {
    match meta_str(obj, "resourceVersion") {
        None | Some("") => Ok(None),
        Some(rv) => rv
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn names() {
        assert!(is_subdomain("a.b-c.d"));
        assert!(!is_subdomain("A"));
        assert!(!is_subdomain("-a"));
        assert!(!is_subdomain(""));
        let ns = find("", "v1", "namespaces").unwrap();
        assert!(check_name(ns, "a.b", "metadata.name").is_some());
        let roles = find("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        assert!(check_name(roles, "system:controller:x", "metadata.name").is_none());
    }

    #[test]
    fn create_fills_metadata() {
        let deps = find("apps", "v1", "deployments").unwrap();
        let mut obj = json!({"metadata": {"generateName": "web-"}, "spec": {}});
        let (name, causes) = prepare_create(deps, &mut obj, Some("default")).unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        assert!(causes.is_empty());
        assert_eq!(obj["metadata"]["namespace"], "default");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert!(obj["metadata"]["uid"].is_string());
        let mut bad = json!({"metadata": {"name": "Bad_Name"}});
        let (_, causes) = prepare_create(deps, &mut bad, Some("default")).unwrap();
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "metadata.name");
        let mut other_ns = json!({"metadata": {"name": "x", "namespace": "other"}});
        assert_eq!(
            prepare_create(deps, &mut other_ns, Some("default"))
                .unwrap_err()
                .code(),
            400
        );
    }

    #[test]
    fn update_bumps_generation_on_spec_change() {
        let deps = find("apps", "v1", "deployments").unwrap();
        let old = json!({"metadata": {"name": "x", "uid": "u", "generation": 3}, "spec": {"replicas": 1}});
        let mut same = json!({"metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"x": 1}});
        prepare_update(deps, &mut same, &old);
        assert_eq!(same["metadata"]["generation"], 3);
        assert_eq!(same["metadata"]["uid"], "u");
        let mut changed = json!({"metadata": {"name": "x"}, "spec": {"replicas": 2}});
        prepare_update(deps, &mut changed, &old);
        assert_eq!(changed["metadata"]["generation"], 4);
    }
}
