//! Defaulting and validation of the built-in kinds, after Kubernetes'
//! (the observable defaults: restartPolicy, dnsPolicy,
//! terminationGracePeriodSeconds, imagePullPolicy from the tag, ...; the
//! required fields; the immutable ones). Causes carry field paths so the
//! 422 Status lists each.

mod admission;
mod controllers;
mod platform;

use crate::resources::Resource;
use crate::status::{ApiError, Cause};
use serde_json::{json, Value};

fn set_default(obj: &mut Value, field: &str, v: Value) {
    if let Some(m) = obj.as_object_mut() {
        if m.get(field).is_none_or(Value::is_null) {
            m.insert(field.to_owned(), v);
        }
    }
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise.
pub fn image_pull_policy(image: &str) -> &'static str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    if image.contains('@') {
        return "IfNotPresent";
    }
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn default_container(c: &mut Value) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    set_default(c, "imagePullPolicy", json!(image_pull_policy(&image)));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
        }
    }
}

/// Defaults of a pod spec (also used in templates).
fn default_pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(default_container);
        }
    }
}

/// What the DefaultTolerationSeconds admission plugin adds: tolerate a
/// not-ready or unreachable node for 300 s, unless the pod already says how
/// long it tolerates that taint.
fn add_default_tolerations(spec: &mut Value) {
    set_default(spec, "tolerations", json!([]));
    let Some(tolerations) = spec.get_mut("tolerations").and_then(Value::as_array_mut) else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let covered = tolerations.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let operator = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
            let matches_key = t.get("key").and_then(Value::as_str) == Some(key)
                || (operator == "Exists"
                    && t.get("key")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty));
            matches_key && (effect.is_empty() || effect == "NoExecute")
        });
        if !covered {
            tolerations.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

/// A RollingUpdate strategy unless another type is set, with its
/// maxUnavailable and maxSurge defaults (Deployment, DaemonSet).
fn default_rolling_update(
    strategy: &mut Value,
    max_unavailable: impl Into<Value>,
    max_surge: impl Into<Value>,
) {
    set_default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        set_default(strategy, "rollingUpdate", json!({}));
        if let Some(rolling) = strategy.get_mut("rollingUpdate") {
            set_default(rolling, "maxUnavailable", max_unavailable.into());
            set_default(rolling, "maxSurge", max_surge.into());
        }
    }
}

/// Applies the defaults of `resource` to a new or updated object.
pub fn apply_defaults(resource: &Resource, obj: &mut Value) {
    match (resource.group, resource.kind) {
        ("", "Pod") => {
            if let Some(spec) = obj.get_mut("spec") {
                default_pod_spec(spec);
                // Pods only, not templates (SetDefaults_Pod). Priority and
                // preemptionPolicy come from priority admission on create.
                set_default(spec, "enableServiceLinks", json!(true));
                set_default(spec, "serviceAccountName", json!("default"));
                add_default_tolerations(spec);
            }
        }
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "StatefulSet")
        | ("apps", "DaemonSet") => {
            if let Some(spec) = obj.get_mut("spec") {
                if resource.kind != "DaemonSet" {
                    set_default(spec, "replicas", json!(1));
                }
                set_default(spec, "revisionHistoryLimit", json!(10));
                match resource.kind {
                    "Deployment" => {
                        set_default(spec, "progressDeadlineSeconds", json!(600));
                        set_default(spec, "strategy", json!({}));
                        if let Some(s) = spec.get_mut("strategy") {
                            default_rolling_update(s, "25%", "25%");
                        }
                    }
                    "DaemonSet" => {
                        set_default(spec, "updateStrategy", json!({}));
                        if let Some(s) = spec.get_mut("updateStrategy") {
                            default_rolling_update(s, 1, 0);
                        }
                    }
                    "StatefulSet" => {
                        set_default(spec, "podManagementPolicy", json!("OrderedReady"));
                        set_default(spec, "updateStrategy", json!({}));
                        if let Some(strategy) = spec.get_mut("updateStrategy") {
                            set_default(strategy, "type", json!("RollingUpdate"));
                            if strategy["type"] == "RollingUpdate" {
                                set_default(strategy, "rollingUpdate", json!({}));
                                if let Some(rolling) = strategy.get_mut("rollingUpdate") {
                                    set_default(rolling, "partition", json!(0));
                                }
                            }
                        }
                        set_default(
                            spec,
                            "persistentVolumeClaimRetentionPolicy",
                            json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                        );
                    }
                    _ => {}
                }
                if let Some(t) = spec.pointer_mut("/template/spec") {
                    default_pod_spec(t);
                }
            }
        }
        ("batch", "Job") => {
            if let Some(spec) = obj.get_mut("spec") {
                set_default(spec, "backoffLimit", json!(6));
                set_default(spec, "completions", json!(1));
                set_default(spec, "parallelism", json!(1));
                if let Some(t) = spec.pointer_mut("/template/spec") {
                    default_pod_spec(t);
                }
            }
        }
        ("batch", "CronJob") => {
            if let Some(spec) = obj.get_mut("spec") {
                set_default(spec, "concurrencyPolicy", json!("Allow"));
                set_default(spec, "suspend", json!(false));
                set_default(spec, "successfulJobsHistoryLimit", json!(3));
                set_default(spec, "failedJobsHistoryLimit", json!(1));
                if let Some(t) = spec.pointer_mut("/jobTemplate/spec/template/spec") {
                    default_pod_spec(t);
                }
            }
        }
        ("", "Service") => {
            if let Some(spec) = obj.get_mut("spec") {
                set_default(spec, "type", json!("ClusterIP"));
                set_default(spec, "sessionAffinity", json!("None"));
                if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                    for p in ports {
                        set_default(p, "protocol", json!("TCP"));
                        let port = p.get("port").cloned().unwrap_or(Value::Null);
                        set_default(p, "targetPort", port);
                    }
                }
            }
        }
        ("", "Secret") => set_default(obj, "type", json!("Opaque")),
        ("scheduling.k8s.io", "PriorityClass") => {
            set_default(obj, "preemptionPolicy", json!("PreemptLowerPriority"))
        }
        ("", "ReplicationController") => controllers::default_replication_controller(obj),
        ("", "PodTemplate") => controllers::default_pod_template(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => controllers::default_hpa(obj),
        (group, kind) => platform::apply_defaults(group, kind, obj),
    }
}

/// Status a new object starts with, where Kubernetes sets one.
pub fn initial_status(resource: &Resource, obj: &mut Value) {
    match (resource.group, resource.kind) {
        ("", "Pod") => {
            let qos = qos_class(obj);
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        ("", "Namespace") => obj["status"] = json!({"phase": "Active"}),
        // Nodes register with their status; services keep theirs.
        ("", "Node") | ("", "Service") => {}
        ("", "PersistentVolumeClaim") | ("", "PersistentVolume") => {
            obj["status"] = json!({"phase": "Pending"});
        }
        _ if resource.has(crate::resources::Subresource::Status) => {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        _ => {}
    }
}

/// Guaranteed, Burstable or BestEffort, from the containers' requests and
/// limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|l| pod.pointer(&format!("/spec/{l}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        if req.is_some_and(|r| !r.is_empty()) || lim.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let l = lim.and_then(|l| l.get(res));
            let r = req.and_then(|r| r.get(res)).or(l);
            if l.is_none() || r != l {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed && !containers.is_empty() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn validate_containers(spec: &Value, base: &str, causes: &mut Vec<Cause>) {
    let containers = spec.get("containers").and_then(Value::as_array);
    match containers {
        None => causes.push(Cause::required(format!("{base}.containers"))),
        Some(cs) if cs.is_empty() => causes.push(Cause::required(format!("{base}.containers"))),
        Some(_) => {}
    }
    let mut names = std::collections::HashSet::new();
    for list in ["initContainers", "containers"] {
        let Some(cs) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in cs.iter().enumerate() {
            let path = format!("{base}.{list}[{i}]");
            match c.get("name").and_then(Value::as_str) {
                None | Some("") => causes.push(Cause::required(format!("{path}.name"))),
                Some(n) => {
                    if !crate::api::meta::is_subdomain(n) || n.contains('.') {
                        causes.push(Cause::invalid(format!("{path}.name"), &json!(n), "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"));
                    }
                    if !names.insert(n.to_owned()) {
                        causes.push(Cause::duplicate(format!("{path}.name"), &json!(n)));
                    }
                }
            }
            if c.get("image")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                causes.push(Cause::required(format!("{path}.image")));
            }
            if let Some(p) = c.get("imagePullPolicy") {
                if !matches!(p.as_str(), Some("Always" | "IfNotPresent" | "Never")) {
                    causes.push(Cause::not_supported(
                        format!("{path}.imagePullPolicy"),
                        p,
                        &["Always", "IfNotPresent", "Never"],
                    ));
                }
            }
        }
    }
    if let Some(p) = spec.get("restartPolicy") {
        if !matches!(p.as_str(), Some("Always" | "OnFailure" | "Never")) {
            causes.push(Cause::not_supported(
                format!("{base}.restartPolicy"),
                p,
                &["Always", "OnFailure", "Never"],
            ));
        }
    }
    if let Some(p) = spec.get("dnsPolicy") {
        if !matches!(
            p.as_str(),
            Some("ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None")
        ) {
            causes.push(Cause::not_supported(
                format!("{base}.dnsPolicy"),
                p,
                &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
            ));
        }
    }
}

fn validate_selector_template(obj: &Value, causes: &mut Vec<Cause>) {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object);
    let has_exprs = obj.pointer("/spec/selector/matchExpressions").is_some();
    if selector.is_none() && !has_exprs {
        causes.push(Cause::required("spec.selector"));
    }
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    if let Some(sel) = selector {
        let matches = sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !matches {
            causes.push(Cause::invalid(
                "spec.template.metadata.labels",
                &json!(labels.cloned().unwrap_or_default()),
                "`selector` does not match template `labels`",
            ));
        }
    }
    if let Some(t) = obj.pointer("/spec/template/spec") {
        validate_containers(t, "spec.template.spec", causes);
    } else {
        causes.push(Cause::required("spec.template.spec"));
    }
    if let Some(r) = obj.pointer("/spec/replicas") {
        if r.as_i64().is_none_or(|n| n < 0) {
            causes.push(Cause::invalid(
                "spec.replicas",
                r,
                "must be greater than or equal to 0",
            ));
        }
    }
}

/// Checks an object of `resource`; 422 with every cause found.
/// What a client is told on writing a kind cuttle stores but does not act
/// on yet, so that storing it is never a silent success.
pub fn not_enforced(resource: &Resource) -> Option<&'static str> {
    (resource.group == "admissionregistration.k8s.io").then_some(
        "cuttle stores admission webhooks and policies but does not call or enforce them yet",
    )
}

pub fn validate(resource: &Resource, obj: &Value, name: &str) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    match (resource.group, resource.kind) {
        ("", "Pod") => match obj.get("spec") {
            Some(spec) => validate_containers(spec, "spec", &mut causes),
            None => causes.push(Cause::required("spec.containers")),
        },
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "StatefulSet")
        | ("apps", "DaemonSet") => validate_selector_template(obj, &mut causes),
        ("", "ConfigMap") | ("", "Secret") => {
            for field in ["data", "binaryData", "stringData"] {
                if let Some(d) = obj.get(field).and_then(Value::as_object) {
                    for k in d.keys() {
                        let ok = !k.is_empty()
                            && k.len() <= 253
                            && k.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
                        if !ok {
                            causes.push(Cause::invalid(format!("{field}[{k}]"), &json!(k), "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
                        }
                    }
                }
            }
        }
        ("", "ReplicationController") => {
            controllers::validate_replication_controller(obj, &mut causes)
        }
        ("", "PodTemplate") => controllers::validate_pod_template(obj, &mut causes),
        ("autoscaling", "HorizontalPodAutoscaler") => controllers::validate_hpa(obj, &mut causes),
        (group, kind) => platform::validate(group, kind, obj, &mut causes),
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(resource, name, causes))
    }
}

/// Checks that an update leaves immutable fields alone.
pub fn validate_update(
    resource: &Resource,
    new: &Value,
    old: &Value,
    name: &str,
) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    match (resource.group, resource.kind) {
        ("", "Pod") => {
            let strip = |v: &Value| {
                let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
                for list in ["containers", "initContainers"] {
                    if let Some(cs) = s.get_mut(list).and_then(Value::as_array_mut) {
                        for c in cs {
                            if let Some(m) = c.as_object_mut() {
                                m.remove("image");
                            }
                        }
                    }
                }
                if let Some(m) = s.as_object_mut() {
                    m.remove("activeDeadlineSeconds");
                    m.remove("tolerations");
                    m.remove("terminationGracePeriodSeconds");
                }
                s
            };
            if strip(new) != strip(old) {
                causes.push(Cause::forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                ));
            }
        }
        ("apps", _) | ("batch", "Job")
            if resource.kind != "ControllerRevision"
                && new.pointer("/spec/selector") != old.pointer("/spec/selector") =>
        {
            causes.push(Cause::invalid(
                "spec.selector",
                new.pointer("/spec/selector").unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
        (group, kind) => platform::validate_update(group, kind, new, old, &mut causes),
    }
    if causes.is_empty() {
        validate(resource, new, name)
    } else {
        Err(ApiError::invalid(resource, name, causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn pull_policy_from_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(image_pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(image_pull_policy("localhost:5000/nginx:1"), "IfNotPresent");
        assert_eq!(image_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn pod_defaults_and_validation() {
        let pods = find("", "v1", "pods").unwrap();
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        apply_defaults(pods, &mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
        validate(pods, &pod, "p").unwrap();
        let bad = json!({"spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x"}], "restartPolicy": "Sometimes"}});
        let err = validate(pods, &bad, "p").unwrap_err();
        let status = err.to_status();
        let fields: Vec<&str> = status["details"]["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            vec![
                "spec.containers[0].image",
                "spec.containers[1].name",
                "spec.restartPolicy"
            ]
        );
    }

    #[test]
    fn pod_spec_is_mostly_immutable() {
        let pods = find("", "v1", "pods").unwrap();
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a:1"}]}});
        let image = json!({"spec": {"containers": [{"name": "c", "image": "a:2"}]}});
        validate_update(pods, &image, &old, "p").unwrap();
        let renamed = json!({"spec": {"containers": [{"name": "d", "image": "a:1"}]}});
        assert_eq!(
            validate_update(pods, &renamed, &old, "p")
                .unwrap_err()
                .code(),
            422
        );
    }

    #[test]
    fn qos() {
        let g = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&b), "Burstable");
        assert_eq!(
            qos_class(&json!({"spec": {"containers": [{}]}})),
            "BestEffort"
        );
    }
}
