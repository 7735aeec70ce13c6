//! `meta.k8s.io/v1` Tables: the columns `kubectl get` prints for each kind
//! (wide columns at priority 1), computed by the server as Kubernetes'
//! printers do.

use super::body::{json_typed, Body};
use crate::resources::Resource;
use http::{Response, StatusCode};
use serde_json::{json, Value};

fn col(name: &str, ty: &str, priority: i32) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": name, "priority": priority})
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn none_if_empty(x: String) -> String {
    if x.is_empty() {
        "<none>".to_owned()
    } else {
        x
    }
}

/// Kubernetes' short human duration ("45s", "5m3s", "3h", "2d4h").
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        let rem = secs % 60;
        if rem == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rem}s")
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        let rem = m % 60;
        if rem == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{rem}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        let rem = h % 24;
        if rem == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{rem}h")
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y{}d", d / 365, d % 365)
    }
}

fn age(v: &Value, ptr: &str) -> String {
    let ts = s(v, ptr);
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()),
        Err(_) => "<unknown>".to_owned(),
    }
}

fn containers_images(spec: Option<&Value>) -> (String, String) {
    let cs = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs.iter().filter_map(|c| c["name"].as_str()).collect();
    let images: Vec<&str> = cs.iter().filter_map(|c| c["image"].as_str()).collect();
    (names.join(","), images.join(","))
}

fn selector_string(v: &Value) -> String {
    v.pointer("/spec/selector/matchLabels")
        .or_else(|| v.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The STATUS column of a pod, as kubectl computes it.
fn pod_status(p: &Value) -> String {
    let mut reason = s(p, "/status/reason").to_owned();
    if reason.is_empty() {
        reason = s(p, "/status/phase").to_owned();
    }
    let inits = p
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array);
    let mut initializing = false;
    if let Some(inits) = inits {
        let total = inits.len();
        for (i, c) in inits.iter().enumerate() {
            if c.pointer("/state/terminated/exitCode")
                .and_then(Value::as_i64)
                == Some(0)
            {
                continue;
            }
            initializing = true;
            reason = if let Some(r) = c
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
            {
                format!("Init:{r}")
            } else if let Some(r) = c
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .filter(|r| *r != "PodInitializing")
            {
                format!("Init:{r}")
            } else {
                format!("Init:{i}/{total}")
            };
            break;
        }
    }
    if !initializing {
        let statuses = p
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut has_running = false;
        for c in statuses.iter().rev() {
            if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
                reason = r.to_owned();
            } else if let Some(r) = c
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
            {
                reason = r.to_owned();
            } else if c.pointer("/state/terminated").is_some() {
                let code = n(c, "/state/terminated/exitCode");
                reason = format!("ExitCode:{code}");
            } else if c.pointer("/state/running").is_some() && c["ready"] == json!(true) {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if p.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        reason = if s(p, "/status/reason") == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    reason
}

fn pod_row(p: &Value) -> Vec<Value> {
    let total = p
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let statuses = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ready = statuses
        .iter()
        .filter(|c| c["ready"] == json!(true))
        .count();
    let restarts: i64 = statuses
        .iter()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum();
    let ip = none_if_empty(s(p, "/status/podIP").to_owned());
    let node = none_if_empty(s(p, "/spec/nodeName").to_owned());
    let nominated = none_if_empty(s(p, "/status/nominatedNodeName").to_owned());
    vec![
        json!(s(p, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(pod_status(p)),
        json!(restarts.to_string()),
        json!(age(p, "/metadata/creationTimestamp")),
        json!(ip),
        json!(node),
        json!(nominated),
        json!("<none>"),
    ]
}

fn node_row(v: &Value) -> Vec<Value> {
    let conds = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ready = conds.iter().find(|c| c["type"] == "Ready");
    let mut status = match ready.and_then(|c| c["status"].as_str()) {
        Some("True") => "Ready".to_owned(),
        _ => "NotReady".to_owned(),
    };
    if v.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<String> = v
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let addr = |t: &str| {
        v.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| x["type"] == t))
            .and_then(|x| x["address"].as_str())
            .unwrap_or("<none>")
            .to_owned()
    };
    vec![
        json!(s(v, "/metadata/name")),
        json!(status),
        json!(none_if_empty(roles.join(","))),
        json!(age(v, "/metadata/creationTimestamp")),
        json!(s(v, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(none_if_empty(s(v, "/status/nodeInfo/osImage").to_owned())),
        json!(none_if_empty(
            s(v, "/status/nodeInfo/kernelVersion").to_owned()
        )),
        json!(none_if_empty(
            s(v, "/status/nodeInfo/containerRuntimeVersion").to_owned()
        )),
    ]
}

fn service_ports(v: &Value) -> String {
    let ports = v
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let parts: Vec<String> = ports
        .iter()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(np) => format!("{}:{np}/{proto}", p["port"]),
                None => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    none_if_empty(parts.join(","))
}

type Columns = Vec<Value>;

fn columns_and_rows(resource: &Resource, items: &[Value]) -> (Columns, Vec<Vec<Value>>) {
    let name = |v: &Value| json!(s(v, "/metadata/name"));
    let created = |v: &Value| json!(age(v, "/metadata/creationTimestamp"));
    match (resource.group, resource.kind) {
        ("", "Pod") => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "string", 0),
                col("Age", "string", 0),
                col("IP", "string", 1),
                col("Node", "string", 1),
                col("Nominated Node", "string", 1),
                col("Readiness Gates", "string", 1),
            ],
            items.iter().map(pod_row).collect(),
        ),
        ("", "Node") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Roles", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
                col("Internal-IP", "string", 1),
                col("External-IP", "string", 1),
                col("OS-Image", "string", 1),
                col("Kernel-Version", "string", 1),
                col("Container-Runtime", "string", 1),
            ],
            items.iter().map(node_row).collect(),
        ),
        ("", "Namespace") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ],
            items
                .iter()
                .map(|v| vec![name(v), json!(s(v, "/status/phase")), created(v)])
                .collect(),
        ),
        ("", "Service") => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                col("Age", "string", 0),
                col("Selector", "string", 1),
            ],
            items
                .iter()
                .map(|v| {
                    vec![
                        name(v),
                        json!(s(v, "/spec/type")),
                        json!(none_if_empty(s(v, "/spec/clusterIP").to_owned())),
                        json!("<none>"),
                        json!(service_ports(v)),
                        created(v),
                        json!(none_if_empty(selector_string(v))),
                    ]
                })
                .collect(),
        ),
        ("", "ConfigMap") | ("", "Secret") => {
            let secret = resource.kind == "Secret";
            let mut cols = vec![col("Name", "string", 0)];
            if secret {
                cols.push(col("Type", "string", 0));
            }
            cols.push(col("Data", "integer", 0));
            cols.push(col("Age", "string", 0));
            let rows = items
                .iter()
                .map(|v| {
                    let data = ["data", "binaryData"]
                        .iter()
                        .filter_map(|f| v.get(*f).and_then(Value::as_object))
                        .map(|m| m.len())
                        .sum::<usize>();
                    let mut row = vec![name(v)];
                    if secret {
                        row.push(json!(s(v, "/type")));
                    }
                    row.push(json!(data));
                    row.push(created(v));
                    row
                })
                .collect();
            (cols, rows)
        }
        ("apps", "Deployment") => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Age", "string", 0),
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            items
                .iter()
                .map(|v| {
                    let (c, i) = containers_images(v.pointer("/spec/template/spec"));
                    vec![
                        name(v),
                        json!(format!(
                            "{}/{}",
                            n(v, "/status/readyReplicas"),
                            n(v, "/spec/replicas")
                        )),
                        json!(n(v, "/status/updatedReplicas")),
                        json!(n(v, "/status/availableReplicas")),
                        created(v),
                        json!(c),
                        json!(i),
                        json!(selector_string(v)),
                    ]
                })
                .collect(),
        ),
        ("apps", "ReplicaSet") => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            items
                .iter()
                .map(|v| {
                    let (c, i) = containers_images(v.pointer("/spec/template/spec"));
                    vec![
                        name(v),
                        json!(n(v, "/spec/replicas")),
                        json!(n(v, "/status/replicas")),
                        json!(n(v, "/status/readyReplicas")),
                        created(v),
                        json!(c),
                        json!(i),
                        json!(selector_string(v)),
                    ]
                })
                .collect(),
        ),
        ("apps", "StatefulSet") => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Age", "string", 0),
                col("Containers", "string", 1),
                col("Images", "string", 1),
            ],
            items
                .iter()
                .map(|v| {
                    let (c, i) = containers_images(v.pointer("/spec/template/spec"));
                    vec![
                        name(v),
                        json!(format!(
                            "{}/{}",
                            n(v, "/status/readyReplicas"),
                            n(v, "/spec/replicas")
                        )),
                        created(v),
                        json!(c),
                        json!(i),
                    ]
                })
                .collect(),
        ),
        ("batch", "Job") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Completions", "string", 0),
                col("Duration", "string", 0),
                col("Age", "string", 0),
            ],
            items
                .iter()
                .map(|v| {
                    let done = n(v, "/status/succeeded");
                    let want = v
                        .pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    let status = if done >= want { "Complete" } else { "Running" };
                    vec![
                        name(v),
                        json!(status),
                        json!(format!("{done}/{want}")),
                        json!(""),
                        created(v),
                    ]
                })
                .collect(),
        ),
        ("", "Event") => (
            vec![
                col("Last Seen", "string", 0),
                col("Type", "string", 0),
                col("Reason", "string", 0),
                col("Object", "string", 0),
                col("Message", "string", 0),
                col("Name", "string", 1),
            ],
            items
                .iter()
                .map(|v| {
                    let last = if s(v, "/lastTimestamp").is_empty() {
                        "/eventTime"
                    } else {
                        "/lastTimestamp"
                    };
                    let obj = format!(
                        "{}/{}",
                        s(v, "/involvedObject/kind").to_lowercase(),
                        s(v, "/involvedObject/name")
                    );
                    vec![
                        json!(age(v, last)),
                        json!(s(v, "/type")),
                        json!(s(v, "/reason")),
                        json!(obj),
                        json!(s(v, "/message")),
                        name(v),
                    ]
                })
                .collect(),
        ),
        _ => (
            vec![col("Name", "string", 0), col("Age", "string", 0)],
            items.iter().map(|v| vec![name(v), created(v)]).collect(),
        ),
    }
}

/// A Table of `items`, each row carrying the object's metadata (or the
/// whole object with `includeObject=Object`).
pub fn table(resource: &Resource, items: &[Value], rv: &str, _include_full: bool) -> Value {
    let (columns, rows) = columns_and_rows(resource, items);
    let rows: Vec<Value> = rows
        .into_iter()
        .zip(items)
        .map(|(cells, obj)| {
            json!({
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

pub fn response(table: &Value) -> Response<Body> {
    json_typed(
        StatusCode::OK,
        serde_json::to_vec(table).unwrap_or_default().into(),
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn durations_like_kubernetes() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(4 * 3600 + 120), "4h2m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
    }

    #[test]
    fn pod_columns() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [{"ready": true, "restartCount": 2, "state": {"running": {}}}]}});
        let t = table(pods, &[pod], "7", false);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names[..5], &["Name", "Ready", "Status", "Restarts", "Age"]);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "1/1");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "2");
        assert_eq!(cells[5], "10.0.0.5");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");
    }
}
