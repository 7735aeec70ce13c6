//! `meta.k8s.io/v1` Tables: the columns `kubectl get` prints for each kind,
//! computed by the server as Kubernetes' printers
//! (`pkg/printers/internalversion`) compute them.
//!
//! Like Kubernetes' server-side printers, every row carries the wide cells
//! too; the wide columns are marked priority 1 and kubectl shows them only
//! with `-o wide`. Kinds without a printer get Kubernetes' default
//! convertor: NAME and CREATED AT. The printers live by concern:
//! [`workloads`] (pods and their controllers), [`controllers`]
//! (ReplicationControllers, PodTemplates, HorizontalPodAutoscalers),
//! [`network`] (services, endpoints, ingresses and network policies),
//! [`storage`] (storage.k8s.io) and [`cluster`] (everything else).

mod cluster;
mod controllers;
mod network;
mod storage;
mod workloads;

use super::body::{json_typed, Body};
use crate::resources::Resource;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

/// A column: name, type and priority (0 always shown, 1 with `-o wide`).
type Col = (&'static str, &'static str, i32);

/// The Name column every printer starts with.
const NAME: Col = ("Name", "string", 0);
/// The Age column (time since creation).
const AGE: Col = ("Age", "string", 0);

/// Computes the cells of one object's row.
type RowFn = fn(&Value) -> Vec<Value>;

/// How one kind is printed: its columns and one row per object.
struct Printer {
    columns: &'static [Col],
    row: RowFn,
}

/// The printer of `(group, kind)`, as Kubernetes registers them.
fn printer(group: &str, kind: &str) -> Printer {
    use cluster::*;
    use controllers::*;
    use network::*;
    use storage::*;
    use workloads::*;
    let (columns, row): (&'static [Col], RowFn) = match (group, kind) {
        ("", "Pod") => (POD, pod_row),
        ("apps", "Deployment") => (DEPLOYMENT, deployment_row),
        ("apps", "ReplicaSet") => (REPLICA_SET, replica_set_row),
        ("apps", "StatefulSet") => (STATEFUL_SET, stateful_set_row),
        ("apps", "DaemonSet") => (DAEMON_SET, daemon_set_row),
        ("apps", "ControllerRevision") => (CONTROLLER_REVISION, controller_revision_row),
        ("batch", "Job") => (JOB, job_row),
        ("batch", "CronJob") => (CRON_JOB, cron_job_row),
        ("policy", "PodDisruptionBudget") => (POD_DISRUPTION_BUDGET, pdb_row),
        ("", "Service") => (SERVICE, service_row),
        ("", "Endpoints") => (ENDPOINTS, endpoints_row),
        ("discovery.k8s.io", "EndpointSlice") => (ENDPOINT_SLICE, endpoint_slice_row),
        ("", "Node") => (NODE, node_row),
        ("", "Namespace") => (NAMESPACE, namespace_row),
        ("", "ConfigMap") => (CONFIG_MAP, config_map_row),
        ("", "Secret") => (SECRET, secret_row),
        ("", "ServiceAccount") => (SERVICE_ACCOUNT, service_account_row),
        ("", "PersistentVolume") => (PERSISTENT_VOLUME, persistent_volume_row),
        ("", "PersistentVolumeClaim") => (PERSISTENT_VOLUME_CLAIM, pvc_row),
        ("", "ResourceQuota") => (RESOURCE_QUOTA, resource_quota_row),
        ("", "Event") | ("events.k8s.io", "Event") => (EVENT, event_row),
        ("coordination.k8s.io", "Lease") => (LEASE, lease_row),
        ("scheduling.k8s.io", "PriorityClass") => (PRIORITY_CLASS, priority_class_row),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            (ROLE_BINDING, role_binding_row)
        }
        ("", "ReplicationController") => (REPLICATION_CONTROLLER, replication_controller_row),
        ("", "PodTemplate") => (POD_TEMPLATE, pod_template_row),
        ("autoscaling", "HorizontalPodAutoscaler") => (HORIZONTAL_POD_AUTOSCALER, hpa_row),
        ("networking.k8s.io", "Ingress") => (INGRESS, ingress_row),
        ("networking.k8s.io", "IngressClass") => (INGRESS_CLASS, ingress_class_row),
        ("networking.k8s.io", "NetworkPolicy") => (NETWORK_POLICY, network_policy_row),
        ("storage.k8s.io", "StorageClass") => (STORAGE_CLASS, storage_class_row),
        ("storage.k8s.io", "CSIDriver") => (CSI_DRIVER, csi_driver_row),
        ("storage.k8s.io", "CSINode") => (CSI_NODE, csi_node_row),
        ("storage.k8s.io", "CSIStorageCapacity") => {
            (CSI_STORAGE_CAPACITY, csi_storage_capacity_row)
        }
        ("storage.k8s.io", "VolumeAttachment") => (VOLUME_ATTACHMENT, volume_attachment_row),
        ("node.k8s.io", "RuntimeClass") => (RUNTIME_CLASS, runtime_class_row),
        ("networking.k8s.io", "ServiceCIDR") => (SERVICE_CIDR, service_cidr_row),
        ("networking.k8s.io", "IPAddress") => (IP_ADDRESS, ip_address_row),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration",
        ) => (WEBHOOK_CONFIGURATION, webhook_configuration_row),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            (VALIDATING_ADMISSION_POLICY, validating_admission_policy_row)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => (
            VALIDATING_ADMISSION_POLICY_BINDING,
            validating_admission_policy_binding_row,
        ),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            (CERTIFICATE_SIGNING_REQUEST, csr_row)
        }
        // The `scale` subresource's object, whatever it scales.
        ("autoscaling", "Scale") => (SCALE, scale_row),
        // LimitRange, Role and ClusterRole have no printer in Kubernetes.
        _ => (DEFAULT, default_row),
    };
    Printer { columns, row }
}

/// The `scale` subresource's columns, as Kubernetes prints a Scale.
const SCALE: &[Col] = &[
    NAME,
    ("Desired", "integer", 0),
    ("Available", "integer", 0),
    AGE,
];

fn scale_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        json!(n(v, "/spec/replicas")),
        json!(n(v, "/status/replicas")),
        age(v),
    ]
}

/// A Table of one Scale object (`kubectl get --subresource=scale`).
pub fn scale_table(scale: &Value, rv: &str) -> Value {
    let p = printer("autoscaling", "Scale");
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": column_definitions(p.columns),
        "rows": [{
            "cells": (p.row)(scale),
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": scale.get("metadata").cloned().unwrap_or_else(|| json!({})),
            },
        }],
    })
}

/// Kubernetes' default table convertor, for kinds without a printer.
const DEFAULT: &[Col] = &[NAME, ("Created At", "date", 0)];

fn default_row(v: &Value) -> Vec<Value> {
    let created = chrono::DateTime::parse_from_rfc3339(s(v, "/metadata/creationTimestamp"))
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_else(|_| "0001-01-01T00:00:00Z".to_owned());
    vec![name(v), json!(created)]
}

fn column_definitions(cols: &[Col]) -> Vec<Value> {
    cols.iter()
        .map(|(name, ty, priority)| {
            let format = if *name == "Name" { "name" } else { "" };
            json!({"name": name, "type": ty, "format": format, "description": name, "priority": priority})
        })
        .collect()
}

/// The string at `ptr`, or "".
fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The integer at `ptr`, or 0 (Go's zero value).
fn n(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// The array at `ptr`, or an empty slice.
fn list<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The object at `ptr`, if any.
fn object<'a>(v: &'a Value, ptr: &str) -> Option<&'a Map<String, Value>> {
    v.pointer(ptr).and_then(Value::as_object)
}

fn none_if_empty(x: String) -> String {
    if x.is_empty() {
        "<none>".to_owned()
    } else {
        x
    }
}

/// The object's name as a cell.
fn name(v: &Value) -> Value {
    json!(s(v, "/metadata/name"))
}

/// The object's age as a cell.
fn age(v: &Value) -> Value {
    json!(since(s(v, "/metadata/creationTimestamp")))
}

/// Kubernetes' `duration.HumanDuration` ("45s", "5m3s", "3h", "2d4h", "3y10d").
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_owned();
    }
    let secs = secs.max(0);
    let (m, h) = (secs / 60, secs / 3600);
    let d = h / 24;
    let with = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small}{small_unit}")
        }
    };
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        with(m, "m", secs % 60, "s")
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        with(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        with(d, "d", h % 24, "h")
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        with(d / 365, "y", d % 365, "d")
    } else {
        format!("{}y", d / 365)
    }
}

/// The seconds from `from` to `to` (RFC 3339 timestamps), if both parse.
fn seconds_between(from: &str, to: &str) -> Option<i64> {
    let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    Some((to - from).num_seconds())
}

/// Time since an RFC 3339 timestamp, as `translateTimestampSince` prints
/// it: `<unknown>` for a missing one.
fn since(ts: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()),
        Err(_) => "<unknown>".to_owned(),
    }
}

/// `labels.FormatLabels`: `k=v` sorted by key, or `<none>`.
fn format_labels(map: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> = map
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    none_if_empty(pairs.join(","))
}

/// A `metav1.LabelSelector` as `LabelSelectorAsSelector(..).String()`:
/// requirements sorted by key, `k=v`, `k in (a,b)`, `k notin (a)`, `k`,
/// `!k`. Empty for a missing or empty selector.
fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return String::new();
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in object(sel, "/matchLabels").into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
    }
    for e in list(sel, "/matchExpressions") {
        let key = s(e, "/key");
        let mut values: Vec<&str> = list(e, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        reqs.push((key.to_owned(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

/// `metav1.FormatLabelSelector`: the selector string, or `<none>`.
fn format_label_selector(sel: Option<&Value>) -> String {
    none_if_empty(selector_string(sel))
}

/// An IntOrString as Go prints it.
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

type Columns = Vec<Value>;

fn columns_and_rows(resource: &Resource, items: &[Value]) -> (Columns, Vec<Vec<Value>>) {
    let p = printer(resource.group, resource.kind);
    (
        column_definitions(p.columns),
        items.iter().map(|v| (p.row)(v)).collect(),
    )
}

/// What each row of a Table carries (`includeObject`): the object's
/// metadata (the default), the whole object (`Object`, which kubectl asks
/// for to sort by any field), or nothing (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowObject {
    #[default]
    Metadata,
    Object,
    Nothing,
}

impl RowObject {
    pub fn from_query(value: Option<&str>) -> RowObject {
        match value {
            Some("Object") => RowObject::Object,
            Some("None") => RowObject::Nothing,
            _ => RowObject::Metadata,
        }
    }
}

/// A Table of `items`, each row carrying what `include` asks for.
pub fn table(resource: &Resource, items: &[Value], rv: &str, include: RowObject) -> Value {
    let (columns, rows) = columns_and_rows(resource, items);
    let rows: Vec<Value> = rows
        .into_iter()
        .zip(items)
        .map(|(cells, obj)| match include {
            RowObject::Metadata => json!({
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                },
            }),
            RowObject::Object => {
                let mut full = obj.clone();
                if let Some(m) = full.as_object_mut() {
                    m.entry("apiVersion")
                        .or_insert_with(|| json!(resource.api_version()));
                    m.entry("kind").or_insert_with(|| json!(resource.kind));
                }
                json!({"cells": cells, "object": full})
            }
            RowObject::Nothing => json!({ "cells": cells }),
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
    use crate::resources::RESOURCES;

    /// The column names and the cells of `obj`'s row, for `group`/`kind`.
    pub(super) fn print(group: &str, kind: &str, obj: Value) -> (Vec<String>, Vec<Value>) {
        let resource = RESOURCES
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .expect("served kind");
        let t = table(resource, &[obj], "1", RowObject::Metadata);
        let cols = t["columnDefinitions"].as_array().unwrap();
        let names = cols
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        let cells = t["rows"][0]["cells"].as_array().unwrap().clone();
        assert_eq!(cells.len(), cols.len(), "one cell per column");
        (names, cells)
    }

    /// Metadata of a namespaced object `web`, created in 2020.
    pub(super) fn meta() -> Value {
        json!({"name": "web", "namespace": "default", "creationTimestamp": "2020-01-01T00:00:00Z"})
    }

    /// The priorities of the columns of `group`/`kind`.
    pub(super) fn priorities(group: &str, kind: &str) -> Vec<i32> {
        printer(group, kind).columns.iter().map(|c| c.2).collect()
    }

    #[test]
    fn durations_like_kubernetes() {
        assert_eq!(human_duration(-5), "<invalid>");
        assert_eq!(human_duration(-1), "0s");
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(4 * 3600 + 120), "4h2m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(3 * 365 * 86400), "3y");
        assert_eq!(human_duration((3 * 365 + 10) * 86400), "3y10d");
        assert_eq!(human_duration(9 * 365 * 86400 + 86400), "9y");
    }

    #[test]
    fn selectors_like_kubernetes() {
        let sel = json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]});
        assert_eq!(
            selector_string(Some(&sel)),
            "a=1,b=2,!canary,tier in (api,web)"
        );
        assert_eq!(selector_string(None), "");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn kinds_without_a_printer_get_name_and_created_at() {
        for (group, kind) in [
            ("", "LimitRange"),
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
        ] {
            let obj =
                json!({"metadata": {"name": "x", "creationTimestamp": "2020-01-02T03:04:05Z"}});
            let (names, cells) = print(group, kind, obj);
            assert_eq!(names, ["Name", "Created At"]);
            assert_eq!(cells, [json!("x"), json!("2020-01-02T03:04:05Z")]);
        }
    }

    #[test]
    fn rows_carry_what_include_object_asks_for() {
        let pod =
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"nodeName": "n"}});
        let pods = crate::resources::find("", "v1", "pods").unwrap();
        let t = table(pods, std::slice::from_ref(&pod), "7", RowObject::Metadata);
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        // kubectl get --sort-by asks for whole objects.
        let t = table(
            pods,
            std::slice::from_ref(&pod),
            "7",
            RowObject::from_query(Some("Object")),
        );
        assert_eq!(t["rows"][0]["object"]["spec"]["nodeName"], "n");
        assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
        let t = table(pods, &[pod], "7", RowObject::from_query(Some("None")));
        assert!(t["rows"][0].get("object").is_none());
    }
}
