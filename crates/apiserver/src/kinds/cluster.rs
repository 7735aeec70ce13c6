//! Defaults and validation of PriorityClasses, RBAC bindings, persistent
//! volumes and their claims, and a Deployment's strategy, after
//! Kubernetes' `Validate*` functions of those kinds and their update rules.

use super::{immutable, one_of, set_default};
use crate::status::Cause;
use serde_json::{json, Value};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// The highest priority a class outside the `system-` names may have.
const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;
/// The system classes Kubernetes creates, with their values.
const SYSTEM_CLASSES: [(&str, i64); 2] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];
const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn text_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// `SetDefaults_*` of these kinds.
pub(super) fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        (RBAC_GROUP, "RoleBinding" | "ClusterRoleBinding") => {
            if let Some(role_ref) = obj.get_mut("roleRef").filter(|r| r.is_object()) {
                if text_at(role_ref, "/apiGroup").is_empty() {
                    role_ref["apiGroup"] = json!(RBAC_GROUP);
                }
            }
            for subject in obj
                .get_mut("subjects")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let kind = text_at(subject, "/kind");
                if matches!(kind, "User" | "Group") && text_at(subject, "/apiGroup").is_empty() {
                    subject["apiGroup"] = json!(RBAC_GROUP);
                }
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = obj.get_mut("spec") {
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        ("", "LimitRange") => {
            for item in obj
                .pointer_mut("/spec/limits")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                default_limit_range_item(item);
            }
        }
        ("", "PersistentVolume") => {
            if let Some(spec) = obj.get_mut("spec") {
                set_default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        _ => {}
    }
}

/// `SetDefaults_LimitRangeItem`: a container's default limit is the
/// maximum where unset, its default request the default limit, else the
/// minimum.
fn default_limit_range_item(item: &mut Value) {
    if item.get("type").and_then(Value::as_str) != Some("Container") {
        return;
    }
    let list = |item: &Value, field: &str| {
        item.get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut default = list(item, "default");
    for (k, v) in list(item, "max") {
        default.entry(k).or_insert(v);
    }
    let mut request = list(item, "defaultRequest");
    for (k, v) in default.iter().chain(list(item, "min").iter()) {
        request.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if !default.is_empty() {
        item["default"] = Value::Object(default);
    }
    if !request.is_empty() {
        item["defaultRequest"] = Value::Object(request);
    }
}

/// Checks an object of these kinds (nothing for others).
pub(super) fn validate(group: &str, kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match (group, kind) {
        ("scheduling.k8s.io", "PriorityClass") => validate_priority_class(obj, causes),
        (RBAC_GROUP, "RoleBinding" | "ClusterRoleBinding") => {
            validate_binding(obj, kind == "ClusterRoleBinding", causes)
        }
        ("", "PersistentVolumeClaim") => validate_claim(obj, causes),
        ("", "PersistentVolume") => validate_volume(obj, causes),
        ("apps", "Deployment") => validate_strategy(obj, causes),
        ("policy", "PodDisruptionBudget") => validate_disruption_budget(obj, causes),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            validate_request_conditions(obj, causes)
        }
        ("", "ResourceQuota") => validate_quota(obj, causes),
        _ => {}
    }
}

/// `ValidatePodDisruptionBudgetSpec`: one of the two bounds, each a count
/// or a percentage of at most 100.
fn validate_disruption_budget(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let set = |f: &str| spec.get(f).is_some_and(|v| !v.is_null());
    if set("minAvailable") && set("maxUnavailable") {
        causes.push(Cause::invalid(
            "spec",
            spec,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for field in ["minAvailable", "maxUnavailable"] {
        let at = format!("spec.{field}");
        match spec.get(field) {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n < 0) => {
                causes.push(Cause::invalid_unquoted(
                    at,
                    &n.to_string(),
                    "must be greater than or equal to 0",
                ))
            }
            Some(Value::String(text)) => match text.strip_suffix('%').map(str::parse::<i64>) {
                Some(Ok(p)) if p > 100 => {
                    causes.push(Cause::invalid_unquoted(at, text, "must not be greater than 100%"))
                }
                Some(Ok(_)) => {}
                _ => causes.push(Cause::invalid_unquoted(
                    at,
                    text,
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )),
            },
            _ => {}
        }
    }
}

/// Resources a quota may limit without a domain (`IsStandardQuotaResourceName`).
const QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];
const QUOTA_SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
    "VolumeAttributesClass",
];

/// `ValidateResourceQuota`: known resources, amounts not below zero,
/// known scopes.
fn validate_quota(obj: &Value, causes: &mut Vec<Cause>) {
    for (name, amount) in obj
        .pointer("/spec/hard")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let at = format!("spec.hard[{name}]");
        let standard = QUOTA_RESOURCES.contains(&name.as_str())
            || name.contains('/')
            || name.starts_with("hugepages-")
            || name.starts_with("requests.hugepages-");
        if !standard {
            causes.push(Cause::invalid(
                &at,
                &json!(name),
                "must be a standard resource for quota",
            ));
        }
        let negative = amount
            .as_str()
            .and_then(|q| cuttle_quantity::parse(q).ok())
            .is_some_and(|q| q.is_negative());
        if negative {
            causes.push(Cause::invalid(
                &at,
                amount,
                "must be greater than or equal to 0",
            ));
        }
    }
    for (i, scope) in obj
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !scope.as_str().is_some_and(|s| QUOTA_SCOPES.contains(&s)) {
            causes.push(Cause::invalid(
                format!("spec.scopes[{i}]"),
                scope,
                "unsupported scope",
            ));
        }
    }
}

/// The update rules of these kinds: a class's value, a binding's role.
pub(super) fn validate_update(
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
    causes: &mut Vec<Cause>,
) {
    match (group, kind) {
        ("scheduling.k8s.io", "PriorityClass") => {
            if new.get("value") != old.get("value") {
                causes.push(Cause::forbidden(
                    "value",
                    "may not be changed in an update.",
                ));
            }
            immutable(new, old, "/preemptionPolicy", "preemptionPolicy", causes);
        }
        ("apps", "StatefulSet") => {
            let fixed = |obj: &Value| without(obj.get("spec"), STATEFUL_SET_MUTABLE);
            if fixed(new) != fixed(old) {
                causes.push(Cause::forbidden("spec", STATEFUL_SET_FORBIDDEN));
            }
        }
        ("", "PersistentVolumeClaim") => validate_claim_update(new, old, causes),
        ("", "PersistentVolume") => {
            let source = |obj: &Value| {
                PV_SOURCES
                    .iter()
                    .map(|s| obj.pointer(&format!("/spec/{s}")).cloned())
                    .collect::<Vec<_>>()
            };
            if source(new) != source(old) {
                causes.push(Cause::forbidden(
                    "spec.persistentvolumesource",
                    "spec.persistentvolumesource is immutable after creation",
                ));
            }
            // Kubernetes names the field without its `spec.`.
            immutable(new, old, "/spec/volumeMode", "volumeMode", causes);
        }
        ("batch", "Job") => validate_job_update(new, old, causes),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            for kind in ["Approved", "Denied", "Failed"] {
                let of = |obj: &Value| -> Vec<Value> {
                    obj.pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|c| c["type"] == kind)
                        .map(|c| c["status"].clone())
                        .collect()
                };
                let (now, before) = (of(new), of(old));
                if now.len() < before.len() {
                    causes.push(Cause::forbidden(
                        "status.conditions",
                        format!("updates may not remove a condition of type {kind:?}"),
                    ));
                } else if now.iter().zip(&before).any(|(a, b)| a != b) {
                    causes.push(Cause::forbidden(
                        "status.conditions",
                        format!(
                            "updates may not change the status of a condition of type {kind:?}"
                        ),
                    ));
                }
            }
        }
        (RBAC_GROUP, "RoleBinding" | "ClusterRoleBinding")
            if new.get("roleRef") != old.get("roleRef") =>
        {
            let shown = format!(
                "rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}",
                text_at(new, "/roleRef/apiGroup"),
                text_at(new, "/roleRef/kind"),
                text_at(new, "/roleRef/name"),
            );
            causes.push(Cause::invalid_unquoted(
                "roleRef",
                &shown,
                "cannot change roleRef",
            ));
        }
        _ => {}
    }
}

/// The StatefulSet spec fields an update may change.
const STATEFUL_SET_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];
const STATEFUL_SET_FORBIDDEN: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// An object without the named fields, for comparing the rest.
fn without(obj: Option<&Value>, fields: &[&str]) -> Value {
    let mut copy = obj.cloned().unwrap_or(Value::Null);
    if let Some(m) = copy.as_object_mut() {
        for f in fields {
            m.remove(*f);
        }
    }
    copy
}

/// `ValidatePersistentVolumeClaimUpdate`: a claim's spec is fixed but
/// for its volume's name (set once, on binding) and, once bound, a larger
/// storage request.
fn validate_claim_update(new: &Value, old: &Value, causes: &mut Vec<Cause>) {
    let bound = text_at(old, "/status/phase") == "Bound";
    let comparable = |obj: &Value, volume_name_free: bool| {
        let mut spec = without(obj.get("spec"), &["volumeAttributesClassName"]);
        if volume_name_free {
            if let Some(m) = spec.as_object_mut() {
                m.remove("volumeName");
            }
        }
        if bound {
            if let Some(r) = spec
                .pointer_mut("/resources/requests")
                .and_then(Value::as_object_mut)
            {
                r.remove("storage");
            }
        }
        spec
    };
    let name_free = text_at(old, "/spec/volumeName").is_empty();
    if comparable(new, name_free) != comparable(old, name_free) {
        causes.push(Cause::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    let storage = |obj: &Value| {
        obj.pointer("/spec/resources/requests/storage")
            .and_then(Value::as_str)
            .and_then(|s| cuttle_quantity::parse(s).ok())
    };
    if let (Some(now), Some(before)) = (storage(new), storage(old)) {
        if now.cmp_value(&before).is_lt() {
            causes.push(Cause::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            ));
        }
    }
}

/// The scheduling fields of a suspended Job's template that never started,
/// which Kubernetes lets change (so a queue can place the Job).
const SUSPENDED_JOB_MUTABLE: &[&str] =
    &["nodeSelector", "affinity", "tolerations", "schedulingGates"];

/// `ValidateJobSpecUpdate`: the template and completions are fixed (a
/// suspended Job that never started may move its pods elsewhere).
fn validate_job_update(new: &Value, old: &Value, causes: &mut Vec<Cause>) {
    let placeable = old.pointer("/spec/suspend") == Some(&Value::Bool(true))
        && old.pointer("/status/startTime").is_none_or(Value::is_null);
    let template = |obj: &Value| {
        let mut t = obj
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        if placeable {
            if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
                for f in SUSPENDED_JOB_MUTABLE {
                    spec.remove(*f);
                }
            }
            if let Some(meta) = t.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("labels");
                meta.remove("annotations");
            }
        }
        t
    };
    if template(new) != template(old) {
        causes.push(Cause::invalid(
            "spec.template",
            new.pointer("/spec/template").unwrap_or(&Value::Null),
            "field is immutable",
        ));
    }
    let indexed = text_at(new, "/spec/completionMode") == "Indexed";
    let elastic = indexed && new.pointer("/spec/completions") == new.pointer("/spec/parallelism");
    if !elastic {
        immutable(new, old, "/spec/completions", "spec.completions", causes);
    }
}

/// A CSR's conditions: each type once, with a status, and Approved and
/// Denied never both.
fn validate_request_conditions(obj: &Value, causes: &mut Vec<Cause>) {
    let mut seen = std::collections::HashSet::new();
    let (mut approved, mut denied) = (false, false);
    for (i, c) in obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = c["type"].as_str().unwrap_or("");
        let at = format!("status.conditions[{i}]");
        if kind.is_empty() {
            causes.push(Cause::required(format!("{at}.type")));
        }
        let status = c["status"].as_str().unwrap_or("");
        let allowed: &[&str] = if matches!(kind, "Approved" | "Denied") {
            &["True"]
        } else {
            &["False", "True", "Unknown"]
        };
        if status.is_empty() {
            causes.push(Cause::required(format!("{at}.status")));
        } else if !allowed.contains(&status) {
            causes.push(Cause::not_supported(
                format!("{at}.status"),
                &c["status"],
                allowed,
            ));
        }
        match kind {
            "Approved" => approved = true,
            "Denied" => denied = true,
            _ => {}
        }
        if (kind == "Approved" && denied) || (kind == "Denied" && approved) {
            causes.push(Cause::invalid(
                format!("{at}.type"),
                &c["type"],
                "Approved and Denied conditions are mutually exclusive",
            ));
        }
        if !seen.insert(kind) {
            causes.push(Cause::duplicate(format!("{at}.type"), &c["type"]));
        }
    }
}

/// `ValidatePriorityClass`.
fn validate_priority_class(obj: &Value, causes: &mut Vec<Cause>) {
    let name = text_at(obj, "/metadata/name");
    let value = obj.get("value").and_then(Value::as_i64).unwrap_or(0);
    if name.starts_with("system-") {
        let why = match SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, v)) if *v != value => {
                Some(format!("value of {name} PriorityClass must be {v}"))
            }
            Some(_) if obj.get("globalDefault") == Some(&Value::Bool(true)) => Some(format!(
                "globalDefault of {name} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(why) = why {
            causes.push(Cause::forbidden(
                "metadata.name",
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {why}"),
            ));
        }
    } else if value > HIGHEST_USER_PRIORITY {
        causes.push(Cause::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    one_of(
        obj.get("preemptionPolicy").filter(|p| !p.is_null()),
        &["PreemptLowerPriority", "Never"],
        || "preemptionPolicy".into(),
        causes,
    );
}

/// Kubernetes' `ValidateRBACName` (path segment rules).
fn rbac_name_errors(name: &str) -> Vec<&'static str> {
    match name {
        "." => vec!["may not be '.'"],
        ".." => vec!["may not be '..'"],
        _ => {
            let mut errs = Vec::new();
            if name.contains('/') {
                errs.push("may not contain '/'");
            }
            if name.contains('%') {
                errs.push("may not contain '%'");
            }
            errs
        }
    }
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding`.
fn validate_binding(obj: &Value, cluster: bool, causes: &mut Vec<Cause>) {
    let group = obj.pointer("/roleRef/apiGroup").unwrap_or(&Value::Null);
    if group.as_str() != Some(RBAC_GROUP) {
        causes.push(Cause::not_supported(
            "roleRef.apiGroup",
            group,
            &[RBAC_GROUP],
        ));
    }
    let kind = obj.pointer("/roleRef/kind").unwrap_or(&Value::Null);
    let kinds: &[&str] = if cluster {
        &["ClusterRole"]
    } else {
        &["Role", "ClusterRole"]
    };
    if !kind.as_str().is_some_and(|k| kinds.contains(&k)) {
        causes.push(Cause::not_supported("roleRef.kind", kind, kinds));
    }
    let role = text_at(obj, "/roleRef/name");
    if role.is_empty() {
        causes.push(Cause::required("roleRef.name"));
    } else {
        for msg in rbac_name_errors(role) {
            causes.push(Cause::invalid("roleRef.name", &json!(role), msg));
        }
    }
    for (i, subject) in obj
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("subjects[{i}]");
        let name = text_at(subject, "/name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{at}.name")));
        }
        let api_group = subject.get("apiGroup").unwrap_or(&Value::Null);
        match text_at(subject, "/kind") {
            "ServiceAccount" => {
                if !name.is_empty() {
                    for msg in crate::object_meta::subdomain_errors(name) {
                        causes.push(Cause::invalid(format!("{at}.name"), &json!(name), msg));
                    }
                }
                if !text_at(subject, "/apiGroup").is_empty() {
                    causes.push(Cause::not_supported(
                        format!("{at}.apiGroup"),
                        api_group,
                        &[""],
                    ));
                }
                if cluster && text_at(subject, "/namespace").is_empty() {
                    causes.push(Cause::required(format!("{at}.namespace")));
                }
            }
            "User" | "Group" => {
                if api_group.as_str() != Some(RBAC_GROUP) {
                    causes.push(Cause::not_supported(
                        format!("{at}.apiGroup"),
                        api_group,
                        &[RBAC_GROUP],
                    ));
                }
            }
            _ => causes.push(Cause::not_supported(
                format!("{at}.kind"),
                subject.get("kind").unwrap_or(&Value::Null),
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

/// The access modes of a claim or volume: at least one, each known,
/// `ReadWriteOncePod` alone.
fn validate_access_modes(spec: &Value, required_detail: Option<&str>, causes: &mut Vec<Cause>) {
    let modes = spec
        .get("accessModes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if modes.is_empty() {
        causes.push(match required_detail {
            Some(detail) => Cause::required_because("spec.accessModes", detail),
            None => Cause::required("spec.accessModes"),
        });
    }
    for mode in modes {
        if !mode.as_str().is_some_and(|m| ACCESS_MODES.contains(&m)) {
            causes.push(Cause::not_supported(
                "spec.accessModes",
                mode,
                &ACCESS_MODES,
            ));
        }
    }
    if modes.len() > 1 && modes.iter().any(|m| m == "ReadWriteOncePod") {
        causes.push(Cause::forbidden(
            "spec.accessModes",
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn validate_volume_mode(spec: &Value, causes: &mut Vec<Cause>) {
    one_of(
        spec.get("volumeMode").filter(|m| !m.is_null()),
        &["Block", "Filesystem"],
        || "spec.volumeMode".into(),
        causes,
    );
}

/// Whether a stored quantity is above zero.
fn positive(q: &Value) -> bool {
    q.as_str()
        .and_then(|s| cuttle_quantity::parse(s).ok())
        .is_some_and(|q| q.scaled(9) > 0)
}

/// `ValidatePersistentVolumeClaimSpec`.
fn validate_claim(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    validate_access_modes(spec, Some("at least 1 access mode is required"), causes);
    match spec.pointer("/resources/requests/storage") {
        None => causes.push(Cause::required("spec.resources[storage]")),
        Some(q) if !positive(q) => causes.push(Cause::invalid(
            "spec.resources[storage]",
            q,
            "must be greater than zero",
        )),
        Some(_) => {}
    }
    validate_volume_mode(spec, causes);
    let class = text_at(spec, "/storageClassName");
    if !class.is_empty() {
        for msg in crate::object_meta::subdomain_errors(class) {
            causes.push(Cause::invalid("spec.storageClassName", &json!(class), msg));
        }
    }
}

/// The sources a persistent volume may have, in Kubernetes' check order.
const PV_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

/// `ValidatePersistentVolumeSpec`.
fn validate_volume(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    validate_access_modes(spec, None, causes);
    let capacity = spec.get("capacity").and_then(Value::as_object);
    if capacity.is_none_or(|c| c.is_empty()) {
        causes.push(Cause::required("spec.capacity"));
    }
    let only_storage = capacity.is_some_and(|c| c.len() == 1 && c.contains_key("storage"));
    if !only_storage {
        causes.push(Cause::not_supported(
            "spec.capacity",
            spec.get("capacity").unwrap_or(&Value::Null),
            &["storage"],
        ));
    }
    if let Some(q) = capacity.and_then(|c| c.get("storage")) {
        if !positive(q) {
            causes.push(Cause::invalid(
                "spec.capacity[storage]",
                q,
                "must be greater than zero",
            ));
        }
    }
    one_of(
        spec.get("persistentVolumeReclaimPolicy"),
        &["Delete", "Recycle", "Retain"],
        || "spec.persistentVolumeReclaimPolicy".into(),
        causes,
    );
    let sources: Vec<&str> = PV_SOURCES
        .iter()
        .copied()
        .filter(|s| spec.get(*s).is_some_and(|v| !v.is_null()))
        .collect();
    match sources.as_slice() {
        [] => causes.push(Cause::required_because(
            "spec",
            "must specify a volume type",
        )),
        [_, rest @ ..] => {
            for extra in rest {
                causes.push(Cause::forbidden(
                    format!("spec.{extra}"),
                    "may not specify more than 1 volume type",
                ));
            }
        }
    }
    if spec.get("local").is_some_and(|l| !l.is_null())
        && spec.get("nodeAffinity").is_none_or(Value::is_null)
    {
        causes.push(Cause::required_because(
            "spec.nodeAffinity",
            "Local volume requires node affinity",
        ));
    }
    validate_volume_mode(spec, causes);
}

/// An int-or-percent's amount, for the "both zero" rule.
fn int_or_percent_is_zero(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(Value::String(s)) => s.trim_end_matches('%').parse::<i64>() == Ok(0),
        _ => false,
    }
}

/// `ValidateDeploymentStrategy`.
fn validate_strategy(obj: &Value, causes: &mut Vec<Cause>) {
    let Some(strategy) = obj.pointer("/spec/strategy").filter(|s| !s.is_null()) else {
        return;
    };
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match strategy.get("type").and_then(Value::as_str) {
        Some("Recreate") => {
            if rolling.is_some() {
                causes.push(Cause::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        Some("RollingUpdate") => {
            let Some(rolling) = rolling else { return };
            let unavailable = rolling.get("maxUnavailable");
            if int_or_percent_is_zero(unavailable)
                && int_or_percent_is_zero(rolling.get("maxSurge"))
            {
                let shown = match unavailable {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => "0".into(),
                };
                causes.push(Cause::invalid_unquoted(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    &shown,
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        _ => causes.push(Cause::not_supported(
            "spec.strategy.type",
            strategy.get("type").unwrap_or(&Value::Null),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

#[cfg(test)]
mod tests;
