//! The LimitRanger admission plugin: a new pod's containers get the
//! default requests and limits of their namespace's LimitRanges (noted in
//! the `kubernetes.io/limit-ranger` annotation), then the pod and its
//! containers, and a new claim, must keep to the ranges' minimums,
//! maximums and limit-to-request ratios, or the write is forbidden (403)
//! with Kubernetes' words.

use super::ApiServer;
use crate::resources::{self, Resource};
use crate::status::ApiError;
use cuttle_quantity::Quantity;
use serde_json::{Map, Value};
use std::cmp::Ordering;

const ANNOTATION: &str = "kubernetes.io/limit-ranger";
const CONTAINER_LISTS: [(&str, &str); 2] = [
    ("initContainers", "init container"),
    ("containers", "container"),
];

fn limit_ranges() -> &'static Resource {
    resources::find("", "v1", "limitranges").expect("served")
}

/// The `spec.limits` items of each LimitRange in `namespace`, one list per
/// range (defaults are merged range by range, as Kubernetes does).
fn ranges(api: &ApiServer, namespace: &str) -> Vec<Vec<Value>> {
    let (objects, _) = api.cache.list(limit_ranges(), Some(namespace));
    objects
        .iter()
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .map(|v| {
            v.pointer("/spec/limits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

type List = Map<String, Value>;

fn list_of<'a>(v: &'a Value, field: &str) -> Option<&'a List> {
    v.get(field).and_then(Value::as_object)
}

fn quantity(v: &Value) -> Option<Quantity> {
    v.as_str().and_then(|s| cuttle_quantity::parse(s).ok())
}

/// `mergeContainerResources`: the defaults a container lacks, and the
/// notes saying which were set.
fn merge_defaults(
    container: &mut Value,
    limits: &List,
    requests: &List,
    prefix: &str,
    notes: &mut Vec<String>,
) {
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(c) = container.as_object_mut() else {
        return;
    };
    let resources = c
        .entry("resources")
        .or_insert_with(|| Value::Object(Map::new()));
    if !resources.is_object() {
        *resources = Value::Object(Map::new());
    }
    let Some(resources) = resources.as_object_mut() else {
        return;
    };
    let mut fill = |field: &str, defaults: &List| -> Vec<String> {
        let list = resources
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        if !list.is_object() {
            *list = Value::Object(Map::new());
        }
        let mut set = Vec::new();
        if let Some(list) = list.as_object_mut() {
            for (k, v) in defaults {
                if !list.contains_key(k) {
                    list.insert(k.clone(), v.clone());
                    set.push(k.clone());
                }
            }
        }
        set.sort();
        set
    };
    let set_limits = fill("limits", limits);
    let set_requests = fill("requests", requests);
    if !set_requests.is_empty() {
        notes.push(format!(
            "{} request for {prefix} {name}",
            set_requests.join(", ")
        ));
    }
    if !set_limits.is_empty() {
        notes.push(format!(
            "{} limit for {prefix} {name}",
            set_limits.join(", ")
        ));
    }
}

/// Applies each range's container defaults to a new pod.
fn default_pod(pod: &mut Value, ranges: &[Vec<Value>]) {
    let mut notes = Vec::new();
    for items in ranges {
        let mut limits = List::new();
        let mut requests = List::new();
        for item in items.iter().filter(|i| i["type"] == "Container") {
            limits.extend(list_of(item, "default").cloned().unwrap_or_default());
            requests.extend(list_of(item, "defaultRequest").cloned().unwrap_or_default());
        }
        if limits.is_empty() && requests.is_empty() {
            continue;
        }
        for (list, prefix) in CONTAINER_LISTS {
            for c in pod
                .pointer_mut(&format!("/spec/{list}"))
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                merge_defaults(c, &limits, &requests, prefix, &mut notes);
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let text = format!("LimitRanger plugin set: {}", notes.join("; "));
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(ANNOTATION.into(), Value::String(text));
        }
    }
}

/// The observed request or limit of one resource, as written.
struct Observed<'a> {
    request: Option<(&'a str, Quantity)>,
    limit: Option<(&'a str, Quantity)>,
}

fn observed<'a>(requests: Option<&'a List>, limits: Option<&'a List>, name: &str) -> Observed<'a> {
    let read = |l: Option<&'a List>| {
        let v = l?.get(name)?;
        Some((v.as_str()?, quantity(v)?))
    };
    Observed {
        request: read(requests),
        limit: read(limits),
    }
}

/// `minConstraint`, `maxConstraint` and `limitRequestRatioConstraint` of
/// one range item over one set of requests and limits.
fn check(
    item: &Value,
    kind: &str,
    requests: Option<&List>,
    limits: Option<&List>,
    errors: &mut Vec<String>,
) {
    for (name, bound) in list_of(item, "min").into_iter().flatten() {
        let (Some(shown), Some(bound)) = (bound.as_str(), quantity(bound)) else {
            continue;
        };
        let o = observed(requests, limits, name);
        match o.request {
            None => errors.push(format!(
                "minimum {name} usage per {kind} is {shown}.  No request is specified"
            )),
            Some((req, q)) if q.cmp_value(&bound) == Ordering::Less => errors.push(format!(
                "minimum {name} usage per {kind} is {shown}, but request is {req}"
            )),
            Some(_) => match o.limit {
                Some((lim, q)) if q.cmp_value(&bound) == Ordering::Less => errors.push(format!(
                    "minimum {name} usage per {kind} is {shown}, but limit is {lim}"
                )),
                _ => {}
            },
        }
    }
    for (name, bound) in list_of(item, "max").into_iter().flatten() {
        let (Some(shown), Some(bound)) = (bound.as_str(), quantity(bound)) else {
            continue;
        };
        let o = observed(requests, limits, name);
        match o.limit {
            None => errors.push(format!(
                "maximum {name} usage per {kind} is {shown}.  No limit is specified"
            )),
            Some((lim, q)) if q.cmp_value(&bound) == Ordering::Greater => errors.push(format!(
                "maximum {name} usage per {kind} is {shown}, but limit is {lim}"
            )),
            Some(_) => match o.request {
                Some((req, q)) if q.cmp_value(&bound) == Ordering::Greater => errors.push(format!(
                    "maximum {name} usage per {kind} is {shown}, but request is {req}"
                )),
                _ => {}
            },
        }
    }
    for (name, bound) in list_of(item, "maxLimitRequestRatio").into_iter().flatten() {
        let (Some(shown), Some(bound)) = (bound.as_str(), quantity(bound)) else {
            continue;
        };
        let o = observed(requests, limits, name);
        let request = o.request.map(|(_, q)| q.milli_value()).unwrap_or(0);
        let limit = o.limit.map(|(_, q)| q.milli_value()).unwrap_or(0);
        if request == 0 {
            errors.push(format!("{name} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"));
        } else if limit == 0 {
            errors.push(format!("{name} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"));
        } else {
            let ratio = limit as f64 / request as f64;
            if ratio * 1000.0 > bound.milli_value() as f64 {
                errors.push(format!("{name} max limit to request ratio per {kind} is {shown}, but provided ratio is {ratio:.6}"));
            }
        }
    }
}

/// A pod's total of one list (`requests`, `limits`): the containers'
/// sum, or an init container's amount where that is larger.
fn pod_total(pod: &Value, field: &str) -> List {
    let mut totals: std::collections::BTreeMap<String, Quantity> = Default::default();
    for (list, summed) in [("containers", true), ("initContainers", false)] {
        let amounts = pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.pointer(&format!("/resources/{field}")))
            .filter_map(Value::as_object)
            .flatten();
        for (name, v) in amounts {
            let Some(q) = quantity(v) else { continue };
            let next = match totals.get(name) {
                Some(have) if summed => have.plus(&q),
                Some(have) if have.cmp_value(&q) != Ordering::Less => *have,
                _ => q,
            };
            totals.insert(name.clone(), next);
        }
    }
    totals
        .into_iter()
        .map(|(k, q)| (k, Value::String(q.canonical())))
        .collect()
}

/// Kubernetes' aggregate of errors: one alone, several in brackets, each
/// once.
fn aggregate(errors: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<String> = errors
        .into_iter()
        .filter(|e| seen.insert(e.clone()))
        .collect();
    match unique.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn validate_pod(pod: &Value, ranges: &[Vec<Value>]) -> Vec<String> {
    let mut errors = Vec::new();
    for item in ranges.iter().flatten() {
        match item["type"].as_str() {
            Some("Container") => {
                for (list, _) in CONTAINER_LISTS {
                    for c in pod
                        .pointer(&format!("/spec/{list}"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
                        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
                        check(item, "Container", requests, limits, &mut errors);
                    }
                }
            }
            Some("Pod") => {
                let requests = pod_total(pod, "requests");
                let limits = pod_total(pod, "limits");
                check(item, "Pod", Some(&requests), Some(&limits), &mut errors);
            }
            _ => {}
        }
    }
    errors
}

/// `PersistentVolumeClaimValidateLimitFunc`: a claim's requests against
/// the minimums, and (its limits aside) against the maximums.
fn validate_claim(claim: &Value, ranges: &[Vec<Value>]) -> Vec<String> {
    let mut errors = Vec::new();
    let requests = claim
        .pointer("/spec/resources/requests")
        .and_then(Value::as_object);
    let kind = "PersistentVolumeClaim";
    for item in ranges.iter().flatten().filter(|i| i["type"] == kind) {
        let minimums = serde_json::json!({"min": item.get("min")});
        check(&minimums, kind, requests, None, &mut errors);
        for (name, bound) in list_of(item, "max").into_iter().flatten() {
            let (Some(shown), Some(bound)) = (bound.as_str(), quantity(bound)) else {
                continue;
            };
            match observed(requests, None, name).request {
                None => errors.push(format!(
                    "maximum {name} usage per {kind} is {shown}.  No request is specified"
                )),
                Some((req, q)) if q.cmp_value(&bound) == Ordering::Greater => errors.push(format!(
                    "maximum {name} usage per {kind} is {shown}, but request is {req}"
                )),
                Some(_) => {}
            }
        }
    }
    errors
}

/// The plugin's part in a create of `resource` in `namespace`: defaults
/// for a pod, then the ranges' checks of a pod or a claim.
pub fn admit_create(
    api: &ApiServer,
    resource: &Resource,
    obj: &mut Value,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    let pod = (resource.group, resource.kind) == ("", "Pod");
    let claim = (resource.group, resource.kind) == ("", "PersistentVolumeClaim");
    if !pod && !claim {
        return Ok(());
    }
    let ranges = ranges(api, namespace);
    if ranges.iter().all(Vec::is_empty) {
        return Ok(());
    }
    let errors = if pod {
        default_pod(obj, &ranges);
        validate_pod(obj, &ranges)
    } else {
        validate_claim(obj, &ranges)
    };
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        message: format!(
            "{} {name:?} is forbidden: {}",
            resource.qualified(),
            aggregate(errors)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn range(item: Value) -> Vec<Vec<Value>> {
        vec![vec![item]]
    }

    #[test]
    fn containers_get_the_range_defaults_and_a_note() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}}},
            {"name": "b"}]}});
        let ranges = range(
            json!({"type": "Container", "default": {"cpu": "1", "memory": "512Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}),
        );
        default_pod(&mut pod, &ranges);
        assert_eq!(
            pod["spec"]["containers"][1]["resources"],
            json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}})
        );
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: memory request for container a; memory limit for container a; cpu, memory request for container b; cpu, memory limit for container b"
        );
    }

    #[test]
    fn bounds_are_enforced_with_kubernetes_words() {
        let ranges = range(
            json!({"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"},
            "maxLimitRequestRatio": {"cpu": "2"}}),
        );
        let pod = json!({"spec": {"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "2", "memory": "32Mi"}, "requests": {"cpu": "500m", "memory": "32Mi"}}}]}});
        assert_eq!(
            validate_pod(&pod, &ranges),
            vec![
                "minimum memory usage per Container is 64Mi, but request is 32Mi",
                "maximum cpu usage per Container is 1, but limit is 2",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000",
            ]
        );
        let bare = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(
            aggregate(validate_pod(
                &bare,
                &range(json!({"type": "Container", "max": {"cpu": "1"}}))
            )),
            "maximum cpu usage per Container is 1.  No limit is specified"
        );
        let two = json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "700m"}}},
            {"name": "b", "resources": {"limits": {"cpu": "700m"}}}]}});
        assert_eq!(
            validate_pod(&two, &range(json!({"type": "Pod", "max": {"cpu": "1"}}))),
            vec!["maximum cpu usage per Pod is 1, but limit is 1400m"]
        );
    }

    #[test]
    fn claims_keep_to_their_storage_range() {
        let ranges = range(
            json!({"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}),
        );
        let claim = |size: &str| json!({"spec": {"resources": {"requests": {"storage": size}}}});
        assert!(validate_claim(&claim("5Gi"), &ranges).is_empty());
        assert_eq!(
            validate_claim(&claim("500Mi"), &ranges),
            vec!["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
        );
        assert_eq!(
            validate_claim(&claim("20Gi"), &ranges),
            vec!["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]
        );
    }
}
