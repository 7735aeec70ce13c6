//! Defaults and validation of a pod spec, in pods and in every template
//! that holds one, after Kubernetes' `SetDefaults_*` of the core types and
//! `ValidatePodSpec`: containers (ports, resources, env, probes, volume
//! mounts), volumes, tolerations, node selector and the pod-level fields,
//! each cause at the field path and with the words Kubernetes uses.

use super::{items, items_mut, one_of, present, set_default, text};
use crate::object_meta::{label_errors, label_value_errors, qualified_name_errors};
use crate::status::Cause;
use serde_json::{json, Value};
use std::collections::HashSet;

const CONTAINER_LISTS: [&str; 2] = ["initContainers", "containers"];
const PROBES: [&str; 3] = ["livenessProbe", "readinessProbe", "startupProbe"];
const HANDLERS: [&str; 4] = ["exec", "httpGet", "tcpSocket", "grpc"];
/// The volume sources of `VolumeSource` in the order Kubernetes checks
/// them, with the name its errors give each (two differ from the JSON
/// field: `cephFS`, and the misspelt `downwarAPI`).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];
/// 0644, the mode of files projected from ConfigMaps, Secrets and the
/// downward API unless the volume says otherwise.
const DEFAULT_FILE_MODE: i64 = 0o644;

// ---------------------------------------------------------------- defaults

/// `SetDefaults_Container` and the defaults of the types a container holds.
fn default_container(c: &mut Value) {
    let image = text(c, "image").to_owned();
    set_default(
        c,
        "imagePullPolicy",
        json!(super::image_pull_policy(&image)),
    );
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    for p in items_mut(c, "ports") {
        set_default(p, "protocol", json!("TCP"));
    }
    for probe in PROBES {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            default_probe(p);
        }
    }
    if let Some(lifecycle) = c.get_mut("lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lifecycle.get_mut(hook).and_then(|h| h.get_mut("httpGet")) {
                default_http_get(h);
            }
        }
    }
    for env in items_mut(c, "env") {
        if let Some(field_ref) = env.pointer_mut("/valueFrom/fieldRef") {
            set_default(field_ref, "apiVersion", json!("v1"));
        }
    }
}

/// `SetDefaults_Probe` and its handler's.
fn default_probe(p: &mut Value) {
    set_default(p, "timeoutSeconds", json!(1));
    set_default(p, "periodSeconds", json!(10));
    set_default(p, "successThreshold", json!(1));
    set_default(p, "failureThreshold", json!(3));
    if let Some(h) = p.get_mut("httpGet") {
        default_http_get(h);
    }
}

/// `SetDefaults_HTTPGetAction`.
fn default_http_get(h: &mut Value) {
    if text(h, "path").is_empty() {
        h["path"] = json!("/");
    }
    if text(h, "scheme").is_empty() {
        h["scheme"] = json!("HTTP");
    }
}

/// `SetDefaults_Volume` (an empty directory when no source is named) and
/// the file modes of the projecting sources.
fn default_volume(v: &mut Value) {
    if !VOLUME_SOURCES.iter().any(|(s, _)| present(v, s)) {
        v["emptyDir"] = json!({});
    }
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(s) = v.get_mut(source).filter(|s| s.is_object()) {
            set_default(s, "defaultMode", json!(DEFAULT_FILE_MODE));
        }
    }
    if let Some(h) = v.get_mut("hostPath").filter(|h| h.is_object()) {
        set_default(h, "type", json!(""));
    }
    if let Some(items) = v
        .pointer_mut("/downwardAPI/items")
        .and_then(Value::as_array_mut)
    {
        for item in items {
            if let Some(field_ref) = item.get_mut("fieldRef") {
                set_default(field_ref, "apiVersion", json!("v1"));
            }
        }
    }
}

/// Defaults of a pod spec, in a pod or a template (`SetDefaults_PodSpec`
/// and those of the types below it).
pub(super) fn apply_defaults(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    for list in CONTAINER_LISTS.into_iter().chain(["ephemeralContainers"]) {
        items_mut(spec, list).for_each(default_container);
    }
    items_mut(spec, "volumes").for_each(default_volume);
    sync_service_account(spec);
}

/// The deprecated `serviceAccount` mirrors `serviceAccountName`, as
/// Kubernetes' conversion writes both (and reads the old one when the new
/// one is missing).
pub(super) fn sync_service_account(spec: &mut Value) {
    let name = match text(spec, "serviceAccountName") {
        "" => text(spec, "serviceAccount").to_owned(),
        name => name.to_owned(),
    };
    if name.is_empty() {
        return;
    }
    spec["serviceAccountName"] = json!(name);
    spec["serviceAccount"] = json!(name);
}

/// What `SetDefaults_Pod` adds for a pod and not for a template: requests
/// copied from limits where a container sets only the limit, and host
/// ports equal to container ports on the host network.
pub(super) fn apply_pod_defaults(spec: &mut Value) {
    let host_network = spec.get("hostNetwork") == Some(&Value::Bool(true));
    for list in CONTAINER_LISTS {
        for c in items_mut(spec, list) {
            if let Some(resources) = c.get_mut("resources").and_then(Value::as_object_mut) {
                let limits = resources.get("limits").and_then(Value::as_object).cloned();
                if let Some(limits) = limits.filter(|l| !l.is_empty()) {
                    let requests = resources.entry("requests").or_insert_with(|| json!({}));
                    if requests.is_null() {
                        *requests = json!({});
                    }
                    if let Some(requests) = requests.as_object_mut() {
                        for (name, q) in limits {
                            requests.entry(name).or_insert(q);
                        }
                    }
                }
            }
            if host_network {
                for p in items_mut(c, "ports") {
                    let port = p.get("containerPort").cloned().unwrap_or(Value::Null);
                    if p.get("hostPort").is_none_or(|h| h.is_null() || h == 0) {
                        p["hostPort"] = port;
                    }
                }
            }
        }
    }
}

// -------------------------------------------------------------- validation

/// One cause at `at` for each way `value` is not a DNS-1123 label.
pub(super) fn check_label(value: &str, at: String, causes: &mut Vec<Cause>) {
    for msg in label_errors(value) {
        causes.push(Cause::invalid(&at, &json!(value), msg));
    }
}

/// Kubernetes' `InclusiveRangeError` for ports.
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

fn valid_port(n: i64) -> bool {
    (1..=65535).contains(&n)
}

/// Kubernetes' `IsValidPortName`: why `name` is not an IANA service name.
pub(super) fn port_name_errors(name: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen");
    }
    errs
}

/// A port given as a number or a name (probes, lifecycle handlers).
fn validate_port_num_or_name(port: Option<&Value>, at: String, causes: &mut Vec<Cause>) {
    match port {
        Some(Value::Number(n)) => {
            if !n.as_i64().is_some_and(valid_port) {
                causes.push(Cause::invalid(at, &Value::Number(n.clone()), PORT_RANGE));
            }
        }
        Some(Value::String(s)) if !s.is_empty() => {
            for msg in port_name_errors(s) {
                causes.push(Cause::invalid(&at, &json!(s), msg));
            }
        }
        _ => causes.push(Cause::required(at)),
    }
}

fn validate_ports(c: &Value, at: &str, causes: &mut Vec<Cause>) {
    let mut names = HashSet::new();
    for (i, p) in items(c, "ports").iter().enumerate() {
        let path = format!("{at}.ports[{i}]");
        let name = text(p, "name");
        if !name.is_empty() {
            let errs = port_name_errors(name);
            for msg in &errs {
                causes.push(Cause::invalid(format!("{path}.name"), &json!(name), msg));
            }
            if errs.is_empty() && !names.insert(name) {
                causes.push(Cause::duplicate(format!("{path}.name"), &json!(name)));
            }
        }
        match p.get("containerPort").and_then(Value::as_i64) {
            None | Some(0) => causes.push(Cause::required(format!("{path}.containerPort"))),
            Some(n) if !valid_port(n) => {
                causes.push(Cause::invalid(
                    format!("{path}.containerPort"),
                    &json!(n),
                    PORT_RANGE,
                ));
            }
            Some(_) => {}
        }
        if let Some(n) = p.get("hostPort").and_then(Value::as_i64) {
            if n != 0 && !valid_port(n) {
                causes.push(Cause::invalid(
                    format!("{path}.hostPort"),
                    &json!(n),
                    PORT_RANGE,
                ));
            }
        }
        one_of(
            Some(p.get("protocol").unwrap_or(&Value::Null)),
            &["SCTP", "TCP", "UDP"],
            || format!("{path}.protocol"),
            causes,
        );
    }
}

/// Whether a resource is counted in whole units (all but cpu, memory,
/// ephemeral storage and huge pages).
fn is_integer_resource(name: &str) -> bool {
    !matches!(name, "cpu" | "memory" | "ephemeral-storage")
        && !name.starts_with("hugepages-")
        && !name.starts_with("requests.hugepages-")
}

/// Native resources are unprefixed or in the `kubernetes.io/` domain.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Requests of native resources other than huge pages may be below their
/// limits; the rest must equal them.
fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !name.starts_with("hugepages-")
}

/// Resource names Kubernetes knows without a domain (`IsStandardResourceName`).
fn is_standard_resource(name: &str) -> bool {
    let base = name
        .strip_prefix("requests.")
        .or_else(|| name.strip_prefix("limits."))
        .unwrap_or(name);
    matches!(
        name,
        "cpu"
            | "memory"
            | "ephemeral-storage"
            | "storage"
            | "pods"
            | "services"
            | "replicationcontrollers"
            | "resourcequotas"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || (base != name && matches!(base, "cpu" | "memory" | "ephemeral-storage" | "storage"))
        || base.starts_with("hugepages-")
}

/// `validateContainerResourceName`.
fn resource_name_errors(name: &str) -> Vec<String> {
    // The names nearly every pod uses, answered without the general checks.
    if matches!(name, "cpu" | "memory" | "ephemeral-storage") {
        return Vec::new();
    }
    let errs = qualified_name_errors(name);
    if !errs.is_empty() {
        return errs;
    }
    let mut errs = Vec::new();
    if !name.contains('/') {
        if !is_standard_resource(name) {
            errs.push("must be a standard resource type or fully qualified".into());
        }
        let for_containers = matches!(name, "cpu" | "memory" | "ephemeral-storage")
            || name.starts_with("hugepages-");
        if !for_containers {
            errs.push("must be a standard resource for containers".into());
        }
    } else if !is_native_resource(name)
        && (name.starts_with("requests.")
            || !qualified_name_errors(&format!("requests.{name}")).is_empty())
    {
        errs.push("doesn't follow extended resource name standard".into());
    }
    errs
}

/// Checks one quantity list (`limits`, `requests`) and returns its
/// readable amounts by resource.
fn check_resource_list<'a>(
    list: Option<&'a Value>,
    at: &str,
    causes: &mut Vec<Cause>,
) -> Vec<(&'a str, &'a str, cuttle_quantity::Quantity)> {
    let mut out = Vec::new();
    for (name, q) in list.and_then(Value::as_object).into_iter().flatten() {
        // Paths are made for causes only: this runs on every pod create.
        let path = || format!("{at}[{name}]");
        for msg in resource_name_errors(name) {
            causes.push(Cause::invalid_unquoted(path(), name, &msg));
        }
        let Some(shown) = q.as_str() else { continue };
        let Ok(parsed) = cuttle_quantity::parse(shown) else {
            continue;
        };
        if parsed.is_negative() {
            causes.push(Cause::invalid(
                path(),
                &json!(shown),
                "must be greater than or equal to 0",
            ));
        } else if is_integer_resource(name)
            && parsed.milli_value() != parsed.value().saturating_mul(1000)
        {
            causes.push(Cause::invalid_unquoted(path(), shown, "must be an integer"));
        }
        out.push((name.as_str(), shown, parsed));
    }
    out
}

/// `ValidateContainerResourceRequirements`: valid names and amounts, each
/// request at most its limit (equal for resources that cannot be
/// overcommitted, which also need a limit).
fn validate_resources(c: &Value, at: &str, causes: &mut Vec<Cause>) {
    let Some(resources) = c.get("resources") else {
        return;
    };
    if resources.as_object().is_none_or(|r| r.is_empty()) {
        return;
    }
    let limits_at = format!("{at}.resources.limits");
    let requests_at = format!("{at}.resources.requests");
    let limits = check_resource_list(resources.get("limits"), &limits_at, causes);
    let requests = check_resource_list(resources.get("requests"), &requests_at, causes);
    for (name, shown, request) in requests {
        match limits.iter().find(|(n, _, _)| *n == name) {
            Some((_, limit_shown, limit)) => {
                let order = request.cmp_value(limit);
                if order.is_ne() && !overcommit_allowed(name) {
                    causes.push(Cause::invalid(
                        &requests_at,
                        &json!(shown),
                        format!("must be equal to {name} limit of {limit_shown}"),
                    ));
                } else if order.is_gt() {
                    causes.push(Cause::invalid(
                        &requests_at,
                        &json!(shown),
                        format!("must be less than or equal to {name} limit of {limit_shown}"),
                    ));
                }
            }
            None if !overcommit_allowed(name) => causes.push(Cause::required_because(
                &limits_at,
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
    }
}

/// `ValidateEnv`: names, and at most one source of each value.
fn validate_env(c: &Value, at: &str, causes: &mut Vec<Cause>) {
    for (i, env) in items(c, "env").iter().enumerate() {
        let path = format!("{at}.env[{i}]");
        let name = text(env, "name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{path}.name")));
        } else if name.contains('=') || !name.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            causes.push(Cause::invalid(
                format!("{path}.name"),
                &json!(name),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        let Some(from) = env.get("valueFrom").filter(|f| !f.is_null()) else {
            continue;
        };
        let sources = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ]
        .iter()
        .filter(|s| present(from, s))
        .count();
        let from_at = format!("{path}.valueFrom");
        if sources == 0 {
            causes.push(Cause::invalid(
                &from_at,
                &json!(""),
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !text(env, "value").is_empty() {
            causes.push(Cause::invalid(
                &from_at,
                &json!(""),
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            causes.push(Cause::invalid(
                &from_at,
                &json!(""),
                "may not have more than one field specified at a time",
            ));
        } else {
            for source in ["configMapKeyRef", "secretKeyRef"] {
                if let Some(r) = from.get(source).filter(|r| r.is_object()) {
                    if text(r, "key").is_empty() {
                        causes.push(Cause::required(format!("{from_at}.{source}.key")));
                    }
                }
            }
            if let Some(f) = from.get("fieldRef").filter(|f| f.is_object()) {
                if text(f, "fieldPath").is_empty() {
                    causes.push(Cause::required(format!("{from_at}.fieldRef.fieldPath")));
                }
            }
        }
    }
}

/// `validateHandler`: exactly one handler, each with what it needs.
/// `grace` is the pod's termination grace period, which a sleep may not
/// outlast.
fn validate_handler(h: &Value, at: &str, handlers: &[&str], grace: i64, causes: &mut Vec<Cause>) {
    let mut count = 0;
    for kind in handlers {
        let Some(action) = h.get(*kind).filter(|a| !a.is_null()) else {
            continue;
        };
        let path = format!("{at}.{kind}");
        if count > 0 {
            causes.push(Cause::forbidden(
                path,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        match *kind {
            "exec"
                if action
                    .get("command")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty) =>
            {
                causes.push(Cause::required(format!("{path}.command")));
            }
            "httpGet" => {
                validate_port_num_or_name(action.get("port"), format!("{path}.port"), causes);
                one_of(
                    Some(action.get("scheme").unwrap_or(&Value::Null)),
                    &["HTTP", "HTTPS"],
                    || format!("{path}.scheme"),
                    causes,
                );
            }
            "tcpSocket" => {
                validate_port_num_or_name(action.get("port"), format!("{path}.port"), causes)
            }
            "grpc" => {
                let port = action.get("port").and_then(Value::as_i64).unwrap_or(0);
                if !valid_port(port) {
                    causes.push(Cause::invalid(
                        format!("{path}.port"),
                        &json!(port),
                        PORT_RANGE,
                    ));
                }
            }
            "sleep" => {
                let seconds = action.get("seconds").and_then(Value::as_i64).unwrap_or(0);
                if seconds < 0 || seconds > grace {
                    causes.push(Cause::invalid(
                        path,
                        &json!(seconds),
                        format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
                    ));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        causes.push(Cause::required_because(at, "must specify a handler type"));
    }
}

fn validate_probes(c: &Value, at: &str, grace: i64, causes: &mut Vec<Cause>) {
    for probe in PROBES {
        let Some(p) = c.get(probe).filter(|p| !p.is_null()) else {
            continue;
        };
        let path = format!("{at}.{probe}");
        validate_handler(p, &path, &HANDLERS, grace, causes);
        super::non_negative(
            p,
            &[
                "initialDelaySeconds",
                "timeoutSeconds",
                "periodSeconds",
                "successThreshold",
                "failureThreshold",
            ],
            &path,
            causes,
        );
        if probe != "readinessProbe" {
            if let Some(n) = p.get("successThreshold").and_then(Value::as_i64) {
                if n != 1 {
                    causes.push(Cause::invalid(
                        format!("{path}.successThreshold"),
                        &json!(n),
                        "must be 1",
                    ));
                }
            }
        }
    }
    if let Some(lifecycle) = c.get("lifecycle").filter(|l| !l.is_null()) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lifecycle.get(hook).filter(|h| !h.is_null()) {
                validate_handler(
                    h,
                    &format!("{at}.lifecycle.{hook}"),
                    &["exec", "httpGet", "tcpSocket", "sleep"],
                    grace,
                    causes,
                );
            }
        }
    }
}

/// `ValidateVolumeMounts`: each names a volume of the pod, at a path of
/// its own.
fn validate_mounts(c: &Value, at: &str, volumes: &HashSet<&str>, causes: &mut Vec<Cause>) {
    let mut paths = HashSet::new();
    for (i, m) in items(c, "volumeMounts").iter().enumerate() {
        let path = format!("{at}.volumeMounts[{i}]");
        let name = text(m, "name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{path}.name")));
        }
        if !volumes.contains(name) {
            causes.push(Cause::not_found(format!("{path}.name"), &json!(name)));
        }
        let mount_path = text(m, "mountPath");
        if mount_path.is_empty() {
            causes.push(Cause::required(format!("{path}.mountPath")));
        }
        if !paths.insert(mount_path) {
            causes.push(Cause::invalid(
                format!("{path}.mountPath"),
                &json!(mount_path),
                "must be unique",
            ));
        }
        let sub_path = text(m, "subPath");
        if sub_path.starts_with('/') {
            causes.push(Cause::invalid(
                format!("{at}.volumeMounts.subPath"),
                &json!(sub_path),
                "must be a relative path",
            ));
        } else if sub_path.split('/').any(|part| part == "..") {
            causes.push(Cause::invalid(
                format!("{at}.volumeMounts.subPath"),
                &json!(sub_path),
                "must not contain '..'",
            ));
        }
    }
}

fn validate_container(
    c: &Value,
    at: &str,
    init: bool,
    volumes: &HashSet<&str>,
    grace: i64,
    causes: &mut Vec<Cause>,
) {
    if text(c, "image").is_empty() {
        causes.push(Cause::required(format!("{at}.image")));
    }
    one_of(
        c.get("imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        || format!("{at}.imagePullPolicy"),
        causes,
    );
    one_of(
        c.get("terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
        || format!("{at}.terminationMessagePolicy"),
        causes,
    );
    let restart = c.get("restartPolicy").filter(|r| !r.is_null());
    let sidecar = restart.and_then(Value::as_str) == Some("Always");
    match restart {
        None => {}
        Some(_) if init && sidecar => {}
        Some(r) if init => causes.push(Cause::not_supported(
            format!("{at}.restartPolicy"),
            r,
            &["Always"],
        )),
        Some(_) => causes.push(Cause::forbidden(
            format!("{at}.restartPolicy"),
            "may not be set for non-init containers",
        )),
    }
    validate_ports(c, at, causes);
    validate_env(c, at, causes);
    validate_resources(c, at, causes);
    validate_mounts(c, at, volumes, causes);
    if init && !sidecar {
        for field in [
            "lifecycle",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
        ] {
            if present(c, field) {
                causes.push(Cause::forbidden(
                    format!("{at}.{field}"),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            }
        }
    } else {
        validate_probes(c, at, grace, causes);
    }
}

/// `ValidateVolumes`: DNS-label names, each once, one source each with
/// what that source needs. Returns the names of the valid volumes (a
/// mount of any other is not found, as in Kubernetes).
fn validate_volumes<'a>(spec: &'a Value, base: &str, causes: &mut Vec<Cause>) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    for (i, v) in items(spec, "volumes").iter().enumerate() {
        let path = format!("{base}.volumes[{i}]");
        let mut found = Vec::new();
        let sources: Vec<&str> = VOLUME_SOURCES
            .iter()
            .filter(|(field, _)| present(v, field))
            .map(|(_, shown)| *shown)
            .collect();
        match sources.as_slice() {
            [] => found.push(Cause::required_because(&path, "must specify a volume type")),
            [_, rest @ ..] => {
                for extra in rest {
                    found.push(Cause::forbidden(
                        format!("{path}.{extra}"),
                        "may not specify more than 1 volume type",
                    ));
                }
            }
        }
        for (source, required) in [
            ("configMap", "name"),
            ("secret", "secretName"),
            ("persistentVolumeClaim", "claimName"),
            ("hostPath", "path"),
            ("nfs", "server"),
            ("nfs", "path"),
        ] {
            if let Some(s) = v.get(source).filter(|s| s.is_object()) {
                if text(s, required).is_empty() {
                    found.push(Cause::required(format!("{path}.{source}.{required}")));
                }
            }
        }
        for source in ["configMap", "secret", "downwardAPI", "projected"] {
            if let Some(mode) = v
                .get(source)
                .and_then(|s| s.get("defaultMode"))
                .and_then(Value::as_i64)
            {
                if !(0..=0o777).contains(&mode) {
                    found.push(Cause::invalid(
                        format!("{path}.{source}.defaultMode"),
                        &json!(mode),
                        "must be a number between 0 and 0777 (octal), both inclusive",
                    ));
                }
            }
        }
        let name = text(v, "name");
        if name.is_empty() {
            found.push(Cause::required(format!("{path}.name")));
        } else {
            check_label(name, format!("{path}.name"), &mut found);
        }
        if names.contains(name) {
            found.push(Cause::duplicate(format!("{path}.name"), &json!(name)));
        }
        if found.is_empty() {
            names.insert(name);
        }
        causes.append(&mut found);
    }
    names
}

/// `ValidateTolerations`.
fn validate_tolerations(spec: &Value, base: &str, causes: &mut Vec<Cause>) {
    for (i, t) in items(spec, "tolerations").iter().enumerate() {
        let key = text(t, "key");
        let operator = text(t, "operator");
        let effect = text(t, "effect");
        let value = text(t, "value");
        // The two every pod gets (DefaultTolerationSeconds) are valid.
        let defaulted = operator == "Exists"
            && effect == "NoExecute"
            && value.is_empty()
            && matches!(
                key,
                "node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable"
            );
        if defaulted {
            continue;
        }
        let path = format!("{base}.tolerations[{i}]");
        if !key.is_empty() {
            for msg in qualified_name_errors(key) {
                causes.push(Cause::invalid(format!("{path}.key"), &json!(key), msg));
            }
        }
        if key.is_empty() && operator != "Exists" {
            causes.push(Cause::invalid(
                format!("{path}.operator"),
                &json!(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if present(t, "tolerationSeconds") && effect != "NoExecute" {
            causes.push(Cause::invalid(
                format!("{path}.effect"),
                &json!(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "" | "Equal" => {
                let errs = label_value_errors(value);
                if !errs.is_empty() {
                    causes.push(Cause::invalid(
                        format!("{path}.operator"),
                        &json!(value),
                        errs.join(";"),
                    ));
                }
            }
            "Exists" if !value.is_empty() => causes.push(Cause::invalid(
                format!("{path}.operator"),
                &json!(value),
                "value must be empty when `operator` is 'Exists'",
            )),
            "Exists" => {}
            other => causes.push(Cause::not_supported(
                format!("{path}.operator"),
                &json!(other),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            causes.push(Cause::not_supported(
                format!("{path}.effect"),
                &json!(effect),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

/// The pod-level fields: restart and DNS policies, deadlines, names.
fn validate_pod_fields(spec: &Value, base: &str, causes: &mut Vec<Cause>) {
    one_of(
        spec.get("restartPolicy"),
        &["Always", "OnFailure", "Never"],
        || format!("{base}.restartPolicy"),
        causes,
    );
    let dns = spec.get("dnsPolicy");
    let dns_known = one_of(
        dns,
        &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        || format!("{base}.dnsPolicy"),
        causes,
    );
    if let Some(p) = dns.filter(|_| dns_known) {
        if p == "None" && !present(spec, "dnsConfig") {
            causes.push(Cause::required_because(
                format!("{base}.dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
        }
    }
    if let Some(n) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if !(1..=i64::from(i32::MAX)).contains(&n) {
            causes.push(Cause::invalid(
                format!("{base}.activeDeadlineSeconds"),
                &json!(n),
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    for field in ["hostname", "subdomain"] {
        let value = text(spec, field);
        if !value.is_empty() {
            check_label(value, format!("{base}.{field}"), causes);
        }
    }
    for field in ["serviceAccountName", "priorityClassName"] {
        let value = text(spec, field);
        if !value.is_empty() {
            for msg in crate::object_meta::subdomain_errors(value) {
                causes.push(Cause::invalid(
                    format!("{base}.{field}"),
                    &json!(value),
                    msg,
                ));
            }
        }
    }
    if let Some(selector) = spec.get("nodeSelector").filter(|s| !s.is_null()) {
        crate::object_meta::validate_labels(
            Some(selector),
            &format!("{base}.nodeSelector"),
            causes,
        );
    }
    validate_tolerations(spec, base, causes);
}

/// `ValidatePodSpec` at `base` (`spec`, `spec.template.spec`).
pub(super) fn validate(spec: &Value, base: &str, causes: &mut Vec<Cause>) {
    if spec
        .get("containers")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        causes.push(Cause::required(format!("{base}.containers")));
    }
    let volumes = validate_volumes(spec, base, causes);
    let grace = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    let mut names = HashSet::new();
    for list in CONTAINER_LISTS {
        for (i, c) in items(spec, list).iter().enumerate() {
            let path = format!("{base}.{list}[{i}]");
            match c.get("name").and_then(Value::as_str) {
                None | Some("") => causes.push(Cause::required(format!("{path}.name"))),
                Some(n) => {
                    check_label(n, format!("{path}.name"), causes);
                    if !names.insert(n) {
                        causes.push(Cause::duplicate(format!("{path}.name"), &json!(n)));
                    }
                }
            }
            validate_container(c, &path, list == "initContainers", &volumes, grace, causes);
        }
    }
    validate_ephemeral_containers(spec, base, &volumes, names, causes);
    validate_host_ports(spec, base, causes);
    validate_pod_fields(spec, base, causes);
}

/// What an ephemeral (debugging) container may not have: what would make
/// the pod's work depend on it.
const NOT_FOR_EPHEMERAL: [&str; 7] = [
    "ports",
    "lifecycle",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "resizePolicy",
    "restartPolicy",
];

/// `validateEphemeralContainers`: names unique among all the pod's
/// containers, a target that is one of the others, and none of the fields
/// a workload container relies on.
fn validate_ephemeral_containers<'a>(
    spec: &'a Value,
    base: &str,
    volumes: &HashSet<&str>,
    mut names: HashSet<&'a str>,
    causes: &mut Vec<Cause>,
) {
    if items(spec, "ephemeralContainers").is_empty() {
        return;
    }
    let others = names.clone();
    for (i, c) in items(spec, "ephemeralContainers").iter().enumerate() {
        let path = format!("{base}.ephemeralContainers[{i}]");
        let name = text(c, "name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{path}.name")));
        } else {
            check_label(name, format!("{path}.name"), causes);
        }
        if !names.insert(name) {
            causes.push(Cause::duplicate(format!("{path}.name"), &json!(name)));
        }
        let target = text(c, "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            causes.push(Cause::not_found(
                format!("{path}.targetContainerName"),
                &json!(target),
            ));
        }
        for field in NOT_FOR_EPHEMERAL {
            if present(c, field) {
                causes.push(Cause::forbidden(
                    format!("{path}.{field}"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        let resources_set = c
            .get("resources")
            .and_then(Value::as_object)
            .is_some_and(|r| r.values().any(|v| !v.is_null()));
        if resources_set {
            causes.push(Cause::forbidden(
                format!("{path}.resources"),
                "cannot be set for an Ephemeral Container",
            ));
        }
        for (j, m) in items(c, "volumeMounts").iter().enumerate() {
            if !text(m, "subPath").is_empty() {
                causes.push(Cause::forbidden(
                    format!("{path}.volumeMounts[{j}].subPath"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        if text(c, "image").is_empty() {
            causes.push(Cause::required(format!("{path}.image")));
        }
        validate_env(c, &path, causes);
        validate_mounts(c, &path, volumes, causes);
    }
}

/// `ValidatePodEphemeralContainersUpdate`: ephemeral containers are only
/// ever added.
pub(super) fn validate_ephemeral_update(new: &Value, old: &Value, causes: &mut Vec<Cause>) {
    let listed = |pod: &Value| -> Vec<Value> {
        pod.pointer("/spec/ephemeralContainers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let now = listed(new);
    for before in listed(old) {
        let name = text(&before, "name");
        match now.iter().find(|c| text(c, "name") == name) {
            None => causes.push(Cause::forbidden(
                "spec.ephemeralContainers",
                format!("existing ephemeral containers {name:?} may not be removed\n"),
            )),
            Some(c) if *c != before => causes.push(Cause::forbidden(
                "spec.ephemeralContainers",
                format!("existing ephemeral containers {name:?} may not be changed\n"),
            )),
            Some(_) => {}
        }
    }
}

/// `checkHostPortConflicts` and `validatePodHostNetworkDeps`: a host port
/// is taken once per protocol and address among the regular containers,
/// and on the host network equals its container port.
fn validate_host_ports(spec: &Value, base: &str, causes: &mut Vec<Cause>) {
    let host_network = spec.get("hostNetwork") == Some(&Value::Bool(true));
    let mut taken = HashSet::new();
    for (i, c) in items(spec, "containers").iter().enumerate() {
        for (j, p) in items(c, "ports").iter().enumerate() {
            let at = format!("{base}.containers[{i}].ports[{j}].hostPort");
            let host_port = p.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
            let container_port = p.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
            if host_port != 0 {
                let key = format!("{}/{}/{host_port}", text(p, "protocol"), text(p, "hostIP"));
                if !taken.insert(key.clone()) {
                    causes.push(Cause::duplicate(&at, &json!(key)));
                }
            }
            if host_network && host_port != container_port {
                causes.push(Cause::invalid(
                    at,
                    &json!(host_port),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

/// What a controller's template must say of restarts: `Always` for the
/// apps kinds, `OnFailure` or `Never` for a Job's pods.
pub(super) fn validate_template_restart(
    spec: &Value,
    base: &str,
    for_job: bool,
    causes: &mut Vec<Cause>,
) {
    let policy = spec.get("restartPolicy").unwrap_or(&Value::Null);
    if for_job {
        match policy.as_str() {
            Some("OnFailure" | "Never") => {}
            None | Some("" | "Always") => causes.push(Cause::required_because(
                format!("{base}.restartPolicy"),
                "valid values: \"OnFailure\", \"Never\"",
            )),
            Some(_) => causes.push(Cause::not_supported(
                format!("{base}.restartPolicy"),
                policy,
                &["OnFailure", "Never"],
            )),
        }
    } else {
        if policy.as_str() != Some("Always") {
            causes.push(Cause::not_supported(
                format!("{base}.restartPolicy"),
                policy,
                &["Always"],
            ));
        }
        if let Some(deadline) = spec.get("activeDeadlineSeconds").filter(|d| !d.is_null()) {
            causes.push(Cause::invalid(
                format!("{base}.activeDeadlineSeconds"),
                deadline,
                "must not be specified",
            ));
        }
    }
}

#[cfg(test)]
mod tests;
