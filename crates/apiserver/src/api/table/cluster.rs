//! Printers of the cluster's other kinds: Nodes and Namespaces, config
//! and storage (ConfigMap, Secret, ServiceAccount, PersistentVolume(Claim),
//! ResourceQuota), Events, Leases, PriorityClasses, RBAC bindings,
//! RuntimeClasses, CertificateSigningRequests and the admission kinds.

use super::{age, human_duration, list, n, name, none_if_empty, object, s, since, Col, AGE, NAME};
use serde_json::{json, Value};

pub(super) const NODE: &[Col] = &[
    NAME,
    ("Status", "string", 0),
    ("Roles", "string", 0),
    AGE,
    ("Version", "string", 0),
    ("Internal-IP", "string", 1),
    ("External-IP", "string", 1),
    ("OS-Image", "string", 1),
    ("Kernel-Version", "string", 1),
    ("Container-Runtime", "string", 1),
];

/// `findNodeRoles`: `node-role.kubernetes.io/<role>` labels and the value
/// of `kubernetes.io/role`, sorted and deduplicated.
fn node_roles(v: &Value) -> String {
    let mut roles: Vec<&str> = object(v, "/metadata/labels")
        .into_iter()
        .flatten()
        .filter_map(
            |(k, val)| match k.strip_prefix("node-role.kubernetes.io/") {
                Some(role) => Some(role),
                None if k == "kubernetes.io/role" => val.as_str(),
                None => None,
            },
        )
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort_unstable();
    roles.dedup();
    none_if_empty(roles.join(","))
}

pub(super) fn node_row(v: &Value) -> Vec<Value> {
    let ready = list(v, "/status/conditions")
        .iter()
        .rfind(|c| s(c, "/type") == "Ready");
    let mut status = match ready {
        Some(c) if s(c, "/status") == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if v.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let address = |ty: &str| {
        list(v, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == ty)
            .map_or("<none>", |a| s(a, "/address"))
            .to_owned()
    };
    let info = |field: &str| match s(v, &format!("/status/nodeInfo/{field}")) {
        "" => "<unknown>".to_owned(),
        x => x.to_owned(),
    };
    vec![
        name(v),
        json!(status),
        json!(node_roles(v)),
        age(v),
        json!(s(v, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

pub(super) const NAMESPACE: &[Col] = &[NAME, ("Status", "string", 0), AGE];

pub(super) fn namespace_row(v: &Value) -> Vec<Value> {
    vec![name(v), json!(s(v, "/status/phase")), age(v)]
}

/// The number of keys of the object at `ptr`.
fn count(v: &Value, ptr: &str) -> usize {
    object(v, ptr).map_or(0, |m| m.len())
}

pub(super) const CONFIG_MAP: &[Col] = &[NAME, ("Data", "string", 0), AGE];

pub(super) fn config_map_row(v: &Value) -> Vec<Value> {
    let data = count(v, "/data") + count(v, "/binaryData");
    vec![name(v), json!(data), age(v)]
}

pub(super) const SECRET: &[Col] = &[NAME, ("Type", "string", 0), ("Data", "string", 0), AGE];

pub(super) fn secret_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        json!(s(v, "/type")),
        json!(count(v, "/data")),
        age(v),
    ]
}

pub(super) const SERVICE_ACCOUNT: &[Col] = &[NAME, ("Secrets", "string", 0), AGE];

pub(super) fn service_account_row(v: &Value) -> Vec<Value> {
    vec![name(v), json!(list(v, "/secrets").len()), age(v)]
}

/// `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
fn access_modes(v: &Value, ptr: &str) -> String {
    let modes = list(v, ptr);
    let has = |m: &str| modes.iter().any(|x| x.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The beta storage-class annotation, else `spec.storageClassName`.
fn storage_class(v: &Value) -> String {
    object(v, "/metadata/annotations")
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(v, "/spec/storageClassName"))
        .to_owned()
}

/// The phase, or Terminating once deletion started.
fn volume_phase(v: &Value) -> String {
    match v.pointer("/metadata/deletionTimestamp") {
        Some(d) if !d.is_null() => "Terminating".to_owned(),
        _ => s(v, "/status/phase").to_owned(),
    }
}

/// The string at `ptr`, or `<unset>`.
fn or_unset(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
        .to_owned()
}

/// A quantity as stored (Kubernetes prints it canonicalized), "0" when
/// missing.
fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(q)) => q.to_string(),
        _ => "0".to_owned(),
    }
}

pub(super) const PERSISTENT_VOLUME: &[Col] = &[
    NAME,
    ("Capacity", "string", 0),
    ("Access Modes", "string", 0),
    ("Reclaim Policy", "string", 0),
    ("Status", "string", 0),
    ("Claim", "string", 0),
    ("StorageClass", "string", 0),
    ("VolumeAttributesClass", "string", 0),
    ("Reason", "string", 0),
    AGE,
    ("VolumeMode", "string", 1),
];

pub(super) fn persistent_volume_row(v: &Value) -> Vec<Value> {
    let claim = match v.pointer("/spec/claimRef") {
        Some(c) if c.is_object() => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        _ => String::new(),
    };
    vec![
        name(v),
        json!(quantity(v.pointer("/spec/capacity/storage"))),
        json!(access_modes(v, "/spec/accessModes")),
        json!(s(v, "/spec/persistentVolumeReclaimPolicy")),
        json!(volume_phase(v)),
        json!(claim),
        json!(storage_class(v)),
        json!(or_unset(v, "/spec/volumeAttributesClassName")),
        json!(s(v, "/status/reason")),
        age(v),
        json!(or_unset(v, "/spec/volumeMode")),
    ]
}

pub(super) const PERSISTENT_VOLUME_CLAIM: &[Col] = &[
    NAME,
    ("Status", "string", 0),
    ("Volume", "string", 0),
    ("Capacity", "string", 0),
    ("Access Modes", "string", 0),
    ("StorageClass", "string", 0),
    ("VolumeAttributesClass", "string", 0),
    AGE,
    ("VolumeMode", "string", 1),
];

pub(super) fn pvc_row(v: &Value) -> Vec<Value> {
    let volume = s(v, "/spec/volumeName");
    // Capacity and access modes are shown once the claim is bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(v.pointer("/status/capacity/storage")),
            access_modes(v, "/status/accessModes"),
        )
    };
    vec![
        name(v),
        json!(volume_phase(v)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(v)),
        json!(or_unset(v, "/spec/volumeAttributesClassName")),
        age(v),
        json!(or_unset(v, "/spec/volumeMode")),
    ]
}

/// Kubernetes 1.33 order (Age last since kubernetes#129419).
pub(super) const RESOURCE_QUOTA: &[Col] =
    &[NAME, ("Request", "string", 0), ("Limit", "string", 0), AGE];

/// `resource: used/hard` for each hard limit sorted by name; `limits.*`
/// in LIMIT, the rest in REQUEST.
pub(super) fn resource_quota_row(v: &Value) -> Vec<Value> {
    let mut hard: Vec<(&String, &Value)> =
        object(v, "/status/hard").into_iter().flatten().collect();
    hard.sort_by(|a, b| a.0.cmp(b.0));
    let used = object(v, "/status/used");
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (res, h) in hard {
        let entry = format!(
            "{res}: {}/{}",
            quantity(used.and_then(|u| u.get(res))),
            quantity(Some(h))
        );
        match res.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name(v),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        age(v),
    ]
}

pub(super) const EVENT: &[Col] = &[
    ("Last Seen", "string", 0),
    ("Type", "string", 0),
    ("Reason", "string", 0),
    ("Object", "string", 0),
    ("Subobject", "string", 1),
    ("Source", "string", 1),
    ("Message", "string", 0),
    ("First Seen", "string", 1),
    ("Count", "string", 1),
    ("Name", "string", 1),
];

/// The first of `ptrs` holding a non-empty string in `v`.
fn first_set<'a>(v: &'a Value, ptrs: &[&str]) -> &'a str {
    ptrs.iter()
        .map(|p| s(v, p))
        .find(|x| !x.is_empty())
        .unwrap_or("")
}

/// Events are read in core/v1 shape; events.k8s.io/v1 field names are
/// accepted too.
pub(super) fn event_row(v: &Value) -> Vec<Value> {
    let first_ts = first_set(v, &["/firstTimestamp", "/deprecatedFirstTimestamp"]);
    let first = match first_ts {
        "" => since(s(v, "/eventTime")),
        t => since(t),
    };
    let last = match first_set(v, &["/lastTimestamp", "/deprecatedLastTimestamp"]) {
        "" => first.clone(),
        t => since(t),
    };
    let (last, count) = match v.get("series").filter(|x| x.is_object()) {
        Some(series) => (since(s(series, "/lastObservedTime")), n(series, "/count")),
        None => {
            let count = n(v, "/count").max(n(v, "/deprecatedCount"));
            (last, if count == 0 { 1 } else { count })
        }
    };
    let involved = v
        .get("involvedObject")
        .or_else(|| v.get("regarding"))
        .unwrap_or(&Value::Null);
    let kind = s(involved, "/kind").to_lowercase();
    let target = match s(involved, "/name") {
        "" => kind,
        obj => format!("{kind}/{obj}"),
    };
    let component = first_set(
        v,
        &[
            "/source/component",
            "/deprecatedSource/component",
            "/reportingComponent",
            "/reportingController",
        ],
    );
    let host = first_set(
        v,
        &[
            "/source/host",
            "/deprecatedSource/host",
            "/reportingInstance",
        ],
    );
    let source = match host {
        "" => component.to_owned(),
        h => format!("{component}, {h}"),
    };
    vec![
        json!(last),
        json!(s(v, "/type")),
        json!(s(v, "/reason")),
        json!(target),
        json!(s(involved, "/fieldPath")),
        json!(source),
        json!(first_set(v, &["/message", "/note"]).trim()),
        json!(first),
        json!(count),
        name(v),
    ]
}

pub(super) const LEASE: &[Col] = &[NAME, ("Holder", "string", 0), AGE];

pub(super) fn lease_row(v: &Value) -> Vec<Value> {
    vec![name(v), json!(s(v, "/spec/holderIdentity")), age(v)]
}

/// PREEMPTIONPOLICY is a priority-0 column in Kubernetes too.
pub(super) const PRIORITY_CLASS: &[Col] = &[
    NAME,
    ("Value", "integer", 0),
    ("Global-Default", "boolean", 0),
    AGE,
    ("PreemptionPolicy", "string", 0),
];

pub(super) fn priority_class_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        json!(n(v, "/value")),
        json!(v["globalDefault"] == json!(true)),
        age(v),
        json!(s(v, "/preemptionPolicy")),
    ]
}

/// RoleBindings and ClusterRoleBindings print alike.
pub(super) const ROLE_BINDING: &[Col] = &[
    NAME,
    ("Role", "string", 0),
    AGE,
    ("Users", "string", 1),
    ("Groups", "string", 1),
    ("ServiceAccounts", "string", 1),
];

/// `Kind/name` of the role; users, groups and `namespace/name` of service
/// accounts among the subjects, each joined by ", ".
pub(super) fn role_binding_row(v: &Value) -> Vec<Value> {
    let subjects = list(v, "/subjects");
    let of_kind = |kind: &str| {
        subjects
            .iter()
            .filter(|x| s(x, "/kind") == kind)
            .map(|x| match kind {
                "ServiceAccount" => format!("{}/{}", s(x, "/namespace"), s(x, "/name")),
                _ => s(x, "/name").to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let role = format!("{}/{}", s(v, "/roleRef/kind"), s(v, "/roleRef/name"));
    vec![
        name(v),
        json!(role),
        age(v),
        json!(of_kind("User")),
        json!(of_kind("Group")),
        json!(of_kind("ServiceAccount")),
    ]
}

pub(super) const RUNTIME_CLASS: &[Col] = &[NAME, ("Handler", "string", 0), AGE];

pub(super) fn runtime_class_row(v: &Value) -> Vec<Value> {
    vec![name(v), json!(s(v, "/handler")), age(v)]
}

/// Age comes second in Kubernetes' CSR printer.
pub(super) const CERTIFICATE_SIGNING_REQUEST: &[Col] = &[
    NAME,
    AGE,
    ("SignerName", "string", 0),
    ("Requestor", "string", 0),
    ("RequestedDuration", "string", 0),
    ("Condition", "string", 0),
];

/// `extractCSRStatus`: Denied, Approved or Pending, then ",Failed" and
/// ",Issued".
fn csr_condition(v: &Value) -> String {
    let has = |ty: &str| {
        list(v, "/status/conditions")
            .iter()
            .any(|c| s(c, "/type") == ty)
    };
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_owned();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !s(v, "/status/certificate").is_empty() {
        status.push_str(",Issued");
    }
    status
}

pub(super) fn csr_row(v: &Value) -> Vec<Value> {
    let signer = none_if_empty(s(v, "/spec/signerName").to_owned());
    let duration = match v.pointer("/spec/expirationSeconds").and_then(Value::as_i64) {
        Some(secs) => human_duration(secs),
        None => "<none>".to_owned(),
    };
    vec![
        name(v),
        age(v),
        json!(signer),
        json!(s(v, "/spec/username")),
        json!(duration),
        json!(csr_condition(v)),
    ]
}

/// Validating and mutating webhook configurations.
pub(super) const WEBHOOK_CONFIGURATION: &[Col] = &[NAME, ("Webhooks", "integer", 0), AGE];

pub(super) fn webhook_configuration_row(v: &Value) -> Vec<Value> {
    vec![name(v), json!(list(v, "/webhooks").len()), age(v)]
}

pub(super) const VALIDATING_ADMISSION_POLICY: &[Col] = &[
    NAME,
    ("Validations", "integer", 0),
    ("ParamKind", "string", 0),
    AGE,
];

pub(super) fn validating_admission_policy_row(v: &Value) -> Vec<Value> {
    let param_kind = match v.pointer("/spec/paramKind") {
        None | Some(Value::Null) => "<unset>".to_owned(),
        Some(k) => format!("{}/{}", s(k, "/apiVersion"), s(k, "/kind")),
    };
    vec![
        name(v),
        json!(list(v, "/spec/validations").len()),
        json!(param_kind),
        age(v),
    ]
}

pub(super) const VALIDATING_ADMISSION_POLICY_BINDING: &[Col] = &[
    NAME,
    ("PolicyName", "string", 0),
    ("ParamRef", "string", 0),
    AGE,
];

/// The ParamRef cell: `namespace/name` (`*/name` without a namespace), or
/// the selector, or `<unset>`.
pub(super) fn validating_admission_policy_binding_row(v: &Value) -> Vec<Value> {
    let param = match v.pointer("/spec/paramRef") {
        None | Some(Value::Null) => "<unset>".to_owned(),
        Some(r) if !s(r, "/name").is_empty() => match s(r, "/namespace") {
            "" => format!("*/{}", s(r, "/name")),
            ns => format!("{ns}/{}", s(r, "/name")),
        },
        Some(r) => match r.get("selector") {
            Some(sel) => super::selector_string(Some(sel)),
            None => "<unset>".to_owned(),
        },
    };
    vec![
        name(v),
        json!(s(v, "/spec/policyName")),
        json!(param),
        age(v),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{print, priorities};
    use serde_json::{json, Value};

    fn with_meta(mut v: Value) -> Value {
        v["metadata"] = json!({"name": "x", "creationTimestamp": "2020-01-01T00:00:00Z"});
        v
    }

    #[test]
    fn node_row() {
        let mut node = with_meta(json!({"spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0"}}}));
        node["metadata"]["labels"] =
            json!({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"});
        let (names, cells) = print("", "Node", node);
        assert_eq!(names[..5], ["Name", "Status", "Roles", "Age", "Version"]);
        assert_eq!(
            &cells[1..3],
            &[
                json!("NotReady,SchedulingDisabled"),
                json!("control-plane,worker")
            ]
        );
        assert_eq!(
            &cells[5..],
            &[
                json!("10.0.0.1"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        assert_eq!(print("", "Node", with_meta(json!({}))).1[1], "Unknown");
    }

    #[test]
    fn config_rows() {
        let cm = with_meta(json!({"data": {"a": "1"}, "binaryData": {"b": "AA=="}}));
        let (names, cells) = print("", "ConfigMap", cm);
        assert_eq!(names, ["Name", "Data", "Age"]);
        assert_eq!(cells[1], 2);
        let secret = with_meta(json!({"type": "Opaque", "data": {"a": "MQ=="}}));
        let (names, cells) = print("", "Secret", secret);
        assert_eq!(names, ["Name", "Type", "Data", "Age"]);
        assert_eq!(&cells[1..3], &[json!("Opaque"), json!(1)]);
        let sa = with_meta(json!({"secrets": [{"name": "token"}]}));
        let (names, cells) = print("", "ServiceAccount", sa);
        assert_eq!(names, ["Name", "Secrets", "Age"]);
        assert_eq!(cells[1], 1);
    }

    #[test]
    fn persistent_volume_rows() {
        let pv = with_meta(json!({"spec": {"capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "manual", "claimRef": {"namespace": "default", "name": "data"}},
            "status": {"phase": "Bound"}}));
        let (names, cells) = print("", "PersistentVolume", pv);
        assert_eq!(
            names,
            [
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
                "VolumeMode"
            ]
        );
        assert_eq!(
            &cells[1..9],
            &[
                json!("1Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("manual"),
                json!("<unset>"),
                json!("")
            ]
        );
        assert_eq!(cells[10], "<unset>");
        assert_eq!(priorities("", "PersistentVolume").iter().sum::<i32>(), 1);

        let pending = with_meta(
            json!({"spec": {"storageClassName": "fast", "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": "5Gi"}}}, "status": {"phase": "Pending"}}),
        );
        let (names, cells) = print("", "PersistentVolumeClaim", pending);
        assert_eq!(
            names,
            [
                "Name",
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age",
                "VolumeMode"
            ]
        );
        assert_eq!(
            &cells[1..7],
            &[
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("fast"),
                json!("<unset>")
            ]
        );
        assert_eq!(cells[8], "Filesystem");
        let bound = with_meta(json!({"spec": {"volumeName": "pv1"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}));
        let (_, cells) = print("", "PersistentVolumeClaim", bound);
        assert_eq!(&cells[2..5], &[json!("pv1"), json!("1Gi"), json!("RWO")]);
    }

    #[test]
    fn resource_quota_row() {
        let quota = with_meta(json!({"status": {
            "hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
            "used": {"pods": "0", "limits.cpu": "500m"}}}));
        let (names, cells) = print("", "ResourceQuota", quota);
        assert_eq!(names, ["Name", "Request", "Limit", "Age"]);
        assert_eq!(cells[1], "pods: 0/10, requests.memory: 0/1Gi");
        assert_eq!(cells[2], "limits.cpu: 500m/2");
    }

    #[test]
    fn event_row() {
        let ev = with_meta(
            json!({"type": "Normal", "reason": "Scheduled", "message": "assigned ",
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{c}"},
            "source": {"component": "kubelet", "host": "n1"}, "count": 3,
            "firstTimestamp": "2020-01-01T00:00:00Z", "lastTimestamp": "2020-01-01T00:00:00Z"}),
        );
        let (names, cells) = print("", "Event", ev);
        assert_eq!(
            names,
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
        assert_eq!(
            &cells[1..7],
            &[
                json!("Normal"),
                json!("Scheduled"),
                json!("pod/web"),
                json!("spec.containers{c}"),
                json!("kubelet, n1"),
                json!("assigned")
            ]
        );
        assert_eq!(&cells[8..], &[json!(3), json!("x")]);
        assert_eq!(priorities("", "Event"), [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]);
        let new = with_meta(json!({"type": "Normal", "reason": "R", "note": "hi",
            "regarding": {"kind": "Node", "name": "n1"}, "reportingController": "ctl",
            "eventTime": "2020-01-01T00:00:00.000000Z"}));
        let (_, cells) = print("events.k8s.io", "Event", new);
        assert_eq!(
            &cells[3..7],
            &[json!("node/n1"), json!(""), json!("ctl"), json!("hi")]
        );
        assert_eq!(cells[8], 1);
        assert_ne!(cells[0], "<unknown>");
    }

    #[test]
    fn lease_and_priority_class_rows() {
        let lease = with_meta(json!({"spec": {"holderIdentity": "node-1"}}));
        let (names, cells) = print("coordination.k8s.io", "Lease", lease);
        assert_eq!(names, ["Name", "Holder", "Age"]);
        assert_eq!(cells[1], "node-1");
        let pc =
            with_meta(json!({"value": 1000, "globalDefault": true, "preemptionPolicy": "Never"}));
        let (names, cells) = print("scheduling.k8s.io", "PriorityClass", pc);
        assert_eq!(
            names,
            ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
        );
        assert_eq!(&cells[1..3], &[json!(1000), json!(true)]);
        assert_eq!(cells[4], "Never");
        assert_eq!(priorities("scheduling.k8s.io", "PriorityClass"), [0; 5]);
    }

    #[test]
    fn role_binding_rows() {
        let rb = with_meta(json!({"roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                         {"kind": "Group", "name": "devs"},
                         {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]}));
        for kind in ["RoleBinding", "ClusterRoleBinding"] {
            let (names, cells) = print("rbac.authorization.k8s.io", kind, rb.clone());
            assert_eq!(
                names,
                ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
            );
            assert_eq!(cells[1], "ClusterRole/view");
            assert_eq!(
                &cells[3..],
                &[json!("alice, bob"), json!("devs"), json!("build/ci")]
            );
            assert_eq!(
                priorities("rbac.authorization.k8s.io", kind),
                [0, 0, 0, 1, 1, 1]
            );
        }
    }

    #[test]
    fn runtime_class_and_csr_rows() {
        let rc = with_meta(json!({"handler": "runc"}));
        let (names, cells) = print("node.k8s.io", "RuntimeClass", rc);
        assert_eq!(names, ["Name", "Handler", "Age"]);
        assert_eq!(cells[1], "runc");
        let csr = with_meta(
            json!({"spec": {"signerName": "example.com/signer", "username": "alice",
            "expirationSeconds": 7200, "request": "AA=="},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "AA=="}}),
        );
        let (names, cells) = print("certificates.k8s.io", "CertificateSigningRequest", csr);
        assert_eq!(
            names,
            [
                "Name",
                "Age",
                "SignerName",
                "Requestor",
                "RequestedDuration",
                "Condition"
            ]
        );
        assert_eq!(
            &cells[2..],
            &[
                json!("example.com/signer"),
                json!("alice"),
                json!("120m"),
                json!("Approved,Issued")
            ]
        );
        let pending = print(
            "certificates.k8s.io",
            "CertificateSigningRequest",
            with_meta(json!({})),
        );
        assert_eq!(&pending.1[4..], &[json!("<none>"), json!("Pending")]);
    }
}
