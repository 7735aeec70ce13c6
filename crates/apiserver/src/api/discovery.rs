//! Discovery: aggregated (`apidiscovery.k8s.io` v2 and v2beta1, chosen from
//! the Accept header, with the Content-Type parameters kubectl requires)
//! and legacy (`APIVersions`, `APIGroupList`, `APIGroup`, `APIResourceList`).

use super::body::{json_typed, value_response, Body};
use crate::resources::{groups as served_groups, Resource, RESOURCES};
use crate::status::ApiError;
use http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Value};

/// The aggregated discovery version a client accepts, if any.
fn aggregated_version(headers: &HeaderMap) -> Option<&'static str> {
    // Offers are tried in the client's order of preference.
    super::body::accept_offers(headers)
        .iter()
        .filter(|o| o.group == "apidiscovery.k8s.io" && o.as_ == "APIGroupDiscoveryList")
        .find_map(|o| match o.version {
            "v2beta1" => Some("v2beta1"),
            "v2" => Some("v2"),
            _ => None,
        })
}

fn scope(r: &Resource) -> &'static str {
    if r.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

fn aggregated_resource(r: &Resource) -> Value {
    let mut v = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": scope(r),
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    let subs: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            let (g, ver, k) = s.kind(r);
            json!({
                "subresource": s.name(),
                "responseKind": {"group": g, "version": ver, "kind": k},
                "verbs": s.verbs(),
            })
        })
        .collect();
    if !subs.is_empty() {
        v["subresources"] = Value::Array(subs);
    }
    v
}

fn aggregated_group(group: &str) -> Value {
    let mut versions: Vec<Value> = Vec::new();
    for (g, version) in served_groups() {
        if g != group {
            continue;
        }
        let resources: Vec<Value> = RESOURCES
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .map(aggregated_resource)
            .collect();
        versions.push(json!({"version": version, "resources": resources, "freshness": "Current"}));
    }
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

fn aggregated(version: &str, groups: Vec<Value>) -> Response<Body> {
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": groups,
    });
    let ct = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    json_typed(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default().into(),
        &ct,
    )
}

/// `GET /api`.
pub fn core_versions(headers: &HeaderMap, advertise: &str) -> Result<Response<Body>, ApiError> {
    if let Some(v) = aggregated_version(headers) {
        return Ok(aggregated(v, vec![aggregated_group("")]));
    }
    Ok(value_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": advertise}],
        }),
    ))
}

fn group_entry(group: &str) -> Option<Value> {
    let versions: Vec<Value> = served_groups()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({"name": group, "versions": versions, "preferredVersion": preferred}))
}

fn named_groups() -> Vec<&'static str> {
    let mut names: Vec<&str> = Vec::new();
    for (g, _) in served_groups() {
        if !g.is_empty() && !names.contains(&g) {
            names.push(g);
        }
    }
    names
}

/// `GET /apis`.
pub fn groups(headers: &HeaderMap) -> Result<Response<Body>, ApiError> {
    if let Some(v) = aggregated_version(headers) {
        let items = named_groups().into_iter().map(aggregated_group).collect();
        return Ok(aggregated(v, items));
    }
    let groups: Vec<Value> = named_groups().into_iter().filter_map(group_entry).collect();
    Ok(value_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    ))
}

/// `GET /apis/<group>`.
pub fn group(group: &str) -> Result<Response<Body>, ApiError> {
    let entry = group_entry(group).ok_or(ApiError::NoSuchResource)?;
    let mut v = json!({"kind": "APIGroup", "apiVersion": "v1"});
    if let (Some(map), Some(e)) = (v.as_object_mut(), entry.as_object()) {
        map.extend(e.clone());
    }
    Ok(value_response(StatusCode::OK, &v))
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`.
pub fn resource_list(group: &str, version: &str) -> Result<Response<Body>, ApiError> {
    let served: Vec<&Resource> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return Err(ApiError::NoSuchResource);
    }
    let mut resources = Vec::new();
    for r in served {
        let mut v = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            v["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            v["categories"] = json!(r.categories);
        }
        resources.push(v);
        for s in r.subresources {
            let (g, ver, k) = s.kind(r);
            let mut sv = json!({
                "name": format!("{}/{}", r.plural, s.name()),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": k,
                "verbs": s.verbs(),
            });
            if (g, ver) != (r.group, r.version) {
                sv["group"] = json!(g);
                sv["version"] = json!(ver);
            }
            resources.push(sv);
        }
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Ok(value_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn negotiates_aggregated_versions() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(&accept(kubectl)), Some("v2"));
        let old = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(&accept(old)), Some("v2beta1"));
        assert_eq!(aggregated_version(&accept("application/json, */*")), None);
    }

    #[test]
    fn aggregated_core_lists_pods_with_subresources() {
        let g = aggregated_group("");
        let pods = g["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .unwrap()
            .clone();
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert!(pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["subresource"] == "binding"));
    }

    #[test]
    fn aggregated_lists_status_scale_and_approval_subresources() {
        let subresources = |group: &str, plural: &str| -> Vec<String> {
            let g = aggregated_group(group);
            let r = g["versions"][0]["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["resource"] == plural)
                .unwrap_or_else(|| panic!("{plural} served"))
                .clone();
            r["subresources"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .map(|s| s["subresource"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            subresources("", "replicationcontrollers"),
            ["status", "scale"]
        );
        assert_eq!(
            subresources("certificates.k8s.io", "certificatesigningrequests"),
            ["status", "approval"]
        );
        assert_eq!(subresources("networking.k8s.io", "ingresses"), ["status"]);
        assert!(subresources("storage.k8s.io", "storageclasses").is_empty());
        let hpa = aggregated_group("autoscaling");
        assert_eq!(hpa["versions"][0]["version"], "v2");
    }
}
