//! Defaulting and validation of the built-in kinds, after Kubernetes'
//! (the observable defaults: restartPolicy, dnsPolicy,
//! terminationGracePeriodSeconds, imagePullPolicy from the tag, ...; the
//! required fields; the immutable ones). Causes carry field paths so the
//! 422 Status lists each.

mod admission;
mod batch;
mod cluster;
mod controllers;
mod cron;
mod platform;
mod pod_spec;
mod service;

use crate::resources::Resource;
use crate::status::{ApiError, Cause};
use serde_json::{json, Value};

/// The items of a list field (none when it is missing or not a list).
fn items<'a>(obj: &'a Value, field: &str) -> &'a [Value] {
    obj.get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn items_mut<'a>(obj: &'a mut Value, field: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(field)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// Whether a field is set (to anything but null).
fn present(obj: &Value, field: &str) -> bool {
    obj.get(field).is_some_and(|v| !v.is_null())
}

/// A string field, `""` when missing or not a string.
fn text<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get(field).and_then(Value::as_str).unwrap_or("")
}

/// A NotSupported cause unless `value`, when there is one, is one of
/// `supported`; `at` makes the field path, for the cause only (this runs
/// on every pod create). Returns whether the value is supported.
fn one_of(
    value: Option<&Value>,
    supported: &[&str],
    at: impl FnOnce() -> String,
    causes: &mut Vec<Cause>,
) -> bool {
    let Some(v) = value else { return true };
    if v.as_str().is_some_and(|s| supported.contains(&s)) {
        return true;
    }
    causes.push(Cause::not_supported(at(), v, supported));
    false
}

/// Kubernetes' `ValidateImmutableField`: an Invalid "field is immutable"
/// cause at `field` (with the new value) when the value at `ptr` changed.
fn immutable(new: &Value, old: &Value, ptr: &str, field: &str, causes: &mut Vec<Cause>) {
    if new.pointer(ptr) != old.pointer(ptr) {
        causes.push(Cause::invalid(
            field,
            new.pointer(ptr).unwrap_or(&Value::Null),
            "field is immutable",
        ));
    }
}

fn set_default(obj: &mut Value, field: &str, v: Value) {
    if let Some(m) = obj.as_object_mut() {
        if m.get(field).is_none_or(Value::is_null) {
            m.insert(field.to_owned(), v);
        }
    }
}

/// Kubernetes' `ValidateNonnegativeField` for each of `fields` of `obj`
/// that is set, the cause at `base.field`.
fn non_negative(obj: &Value, fields: &[&str], base: &str, causes: &mut Vec<Cause>) {
    for field in fields {
        if let Some(n) = obj.get(*field).and_then(Value::as_i64).filter(|n| *n < 0) {
            causes.push(Cause::invalid(
                format!("{base}.{field}"),
                &json!(n),
                "must be greater than or equal to 0",
            ));
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

/// Kubernetes' `populateConditionTimestamps` for a CSR's conditions: a
/// condition without times gets now, or keeps the transition time it had
/// while its status stays.
pub fn stamp_conditions(conditions: &mut Value, old: &Value) {
    let now = crate::api::meta::now();
    let before = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in conditions.as_array_mut().into_iter().flatten() {
        let previous = before.iter().find(|o| o["type"] == c["type"]);
        if c.get("lastUpdateTime").is_none_or(Value::is_null) {
            c["lastUpdateTime"] = json!(now);
        }
        if c.get("lastTransitionTime").is_none_or(Value::is_null) {
            let kept = previous
                .filter(|o| o["status"] == c["status"])
                .and_then(|o| o.get("lastTransitionTime"))
                .filter(|t| !t.is_null())
                .cloned();
            c["lastTransitionTime"] = kept.unwrap_or_else(|| json!(now));
        }
    }
}

/// A pod status's single address and its list agree, as Kubernetes'
/// conversion makes them: the single one (older clients write only it)
/// wins, and is the list's first otherwise.
fn sync_ip_lists(status: &mut Value, single: &str, list: &str) {
    let one = status
        .get(single)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let first = status
        .pointer(&format!("/{list}/0/ip"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (one, first) {
        (Some(ip), first) if first.as_deref() != Some(ip.as_str()) => {
            status[list] = json!([{ "ip": ip }]);
        }
        (None, Some(ip)) => status[single] = json!(ip),
        _ => {}
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
                pod_spec::apply_defaults(spec);
                // Pods only, not templates (SetDefaults_Pod). Priority and
                // preemptionPolicy come from priority admission on create.
                set_default(spec, "enableServiceLinks", json!(true));
                pod_spec::apply_pod_defaults(spec);
                set_default(spec, "serviceAccountName", json!("default"));
                pod_spec::sync_service_account(spec);
                add_default_tolerations(spec);
            }
            if let Some(status) = obj.get_mut("status") {
                sync_ip_lists(status, "podIP", "podIPs");
                sync_ip_lists(status, "hostIP", "hostIPs");
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
                    pod_spec::apply_defaults(t);
                }
            }
        }
        ("batch", "Job") => {
            if let Some(spec) = obj.get_mut("spec") {
                default_job_spec(spec);
            }
        }
        ("batch", "CronJob") => {
            if let Some(spec) = obj.get_mut("spec") {
                set_default(spec, "concurrencyPolicy", json!("Allow"));
                set_default(spec, "suspend", json!(false));
                set_default(spec, "successfulJobsHistoryLimit", json!(3));
                set_default(spec, "failedJobsHistoryLimit", json!(1));
                if let Some(t) = spec.pointer_mut("/jobTemplate/spec/template/spec") {
                    pod_spec::apply_defaults(t);
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
                        // An unset, zero or empty target is the port itself.
                        let port = p.get("port").cloned().unwrap_or(Value::Null);
                        let target = p.get("targetPort").unwrap_or(&Value::Null);
                        if target.is_null() || target == 0 || target == "" {
                            p["targetPort"] = port;
                        }
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
    cluster::apply_defaults(resource.group, resource.kind, obj);
}

/// Kubernetes' `SetDefaults_Job`: both counts 1 when neither is set (a
/// work queue has parallelism alone), the backoff limit, the completion
/// mode, suspend, and the pod replacement policy.
fn default_job_spec(spec: &mut Value) {
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        set_default(spec, "completions", json!(1));
    }
    set_default(spec, "parallelism", json!(1));
    let per_index = spec
        .get("backoffLimitPerIndex")
        .is_some_and(|v| !v.is_null());
    set_default(
        spec,
        "backoffLimit",
        json!(if per_index { i32::MAX as i64 } else { 6 }),
    );
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    let replacement = if spec.get("podFailurePolicy").is_some_and(|v| !v.is_null()) {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_default(spec, "podReplacementPolicy", json!(replacement));
    if let Some(t) = spec.pointer_mut("/template/spec") {
        pod_spec::apply_defaults(t);
    }
}

/// What Kubernetes' registry sets on a new object only (not on updates):
/// a Job without `manualSelector` selects its pods by its uid, and its
/// template carries the labels that selector and `kubectl` use.
pub fn on_create(resource: &Resource, obj: &mut Value) {
    if (resource.group, resource.kind) != ("batch", "Job") {
        return;
    }
    if obj.pointer("/spec/manualSelector") != Some(&Value::Bool(true)) {
        generate_job_selector(obj);
    }
    // A Job without labels of its own shows its template's, the generated
    // ones included (Kubernetes defaults them so on every decode).
    let template_labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.is_object())
        .cloned();
    let unlabelled = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .is_none_or(|l| l.is_empty());
    if let (Some(labels), true) = (template_labels, unlabelled) {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("labels".into(), labels);
        }
    }
}

/// Kubernetes' `generateSelector`: the job's name and uid as template
/// labels (legacy and `batch.kubernetes.io/` keys), the uid as selector.
fn generate_job_selector(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let uid = obj.pointer("/metadata/uid").cloned().unwrap_or(json!(""));
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let template = spec.entry("template").or_insert_with(|| json!({}));
    if let Some(t) = template.as_object_mut() {
        let meta = t.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            let labels = m.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                for (key, value) in [
                    ("job-name", &name),
                    ("batch.kubernetes.io/job-name", &name),
                    ("controller-uid", &uid),
                    ("batch.kubernetes.io/controller-uid", &uid),
                ] {
                    l.entry(key).or_insert_with(|| value.clone());
                }
            }
        }
    }
    let selector = spec.entry("selector").or_insert_with(|| json!({}));
    if let Some(sel) = selector.as_object_mut() {
        let ml = sel.entry("matchLabels").or_insert_with(|| json!({}));
        if let Some(ml) = ml.as_object_mut() {
            ml.entry("batch.kubernetes.io/controller-uid")
                .or_insert(uid);
        }
    }
}

/// What Kubernetes does while decoding an object into its internal form,
/// before defaults: a Secret's `data` must be base64 (a 400, as a failed
/// decode is), and its write-only `stringData` is merged into `data`
/// (its keys winning) and dropped.
pub fn convert(resource: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    if (resource.group, resource.kind) != ("", "Secret") {
        return Ok(());
    }
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for v in data.values() {
            let Some(text) = v.as_str() else { continue };
            if let Err(e) = engine.decode(text) {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: {}",
                    base64_error(&e)
                )));
            }
        }
    }
    let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|m| m.remove("stringData"))
    else {
        return Ok(());
    };
    if strings.is_empty() {
        return Ok(());
    }
    let data = obj
        .as_object_mut()
        .map(|m| m.entry("data").or_insert_with(|| json!({})));
    if let Some(Value::Object(data)) = data {
        for (k, v) in strings {
            let text = v.as_str().unwrap_or_default();
            data.insert(k, Value::String(engine.encode(text)));
        }
    } else if let Some(m) = obj.as_object_mut() {
        // `data` was not an object: leave it for validation to refuse.
        m.insert("stringData".into(), Value::Object(strings));
    }
    Ok(())
}

/// Go's wording for a bad base64 string (`illegal base64 data at input
/// byte N`).
fn base64_error(e: &base64::DecodeError) -> String {
    use base64::DecodeError as D;
    let at = match e {
        D::InvalidByte(i, _) | D::InvalidLastSymbol(i, _) => *i,
        D::InvalidLength(n) => *n,
        D::InvalidPadding => 0,
    };
    format!("illegal base64 data at input byte {at}")
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
            // A new object's status is its kind's empty status: the
            // fields Kubernetes always writes, zero.
            match zero_status(resource.group, resource.kind) {
                Some(status) => obj["status"] = status,
                None => {
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        _ => {}
    }
}

/// The status a new object of a kind starts with, as Kubernetes serializes
/// an empty one (its fields without `omitempty`).
fn zero_status(group: &str, kind: &str) -> Option<Value> {
    Some(match (group, kind) {
        ("apps", "Deployment") | ("batch", "Job" | "CronJob") | ("", "ResourceQuota") => json!({}),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => json!({"replicas": 0}),
        ("apps", "StatefulSet") => json!({"replicas": 0, "availableReplicas": 0}),
        ("apps", "DaemonSet") => json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        }),
        ("policy", "PodDisruptionBudget") => json!({
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        }),
        ("autoscaling", "HorizontalPodAutoscaler") => json!({"desiredReplicas": 0}),
        ("networking.k8s.io", "Ingress") => json!({"loadBalancer": {}}),
        _ => return None,
    })
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

fn validate_selector_template(obj: &Value, causes: &mut Vec<Cause>) {
    crate::object_meta::validate_labels(
        obj.pointer("/spec/template/metadata/labels"),
        "spec.template.metadata.labels",
        causes,
    );
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
        pod_spec::validate(t, "spec.template.spec", causes);
        pod_spec::validate_template_restart(t, "spec.template.spec", false, causes);
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

/// The keys a Secret of a built-in type must hold, as Kubernetes checks them.
fn validate_secret_type(obj: &Value, causes: &mut Vec<Cause>) {
    let has = |key: &str| obj.pointer(&format!("/data/{key}")).is_some();
    let required: &[&str] = match obj.get("type").and_then(Value::as_str) {
        Some("kubernetes.io/tls") => &["tls.crt", "tls.key"],
        Some("kubernetes.io/dockerconfigjson") => &[".dockerconfigjson"],
        Some("kubernetes.io/dockercfg") => &[".dockercfg"],
        Some("kubernetes.io/ssh-auth") => &["ssh-privatekey"],
        Some("kubernetes.io/service-account-token") => {
            let annotated = obj
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if !annotated {
                causes.push(Cause::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                ));
            }
            &[]
        }
        Some("kubernetes.io/basic-auth") => {
            if !has("username") && !has("password") {
                causes.push(Cause::required("data[username]"));
                causes.push(Cause::required("data[password]"));
            }
            &[]
        }
        _ => &[],
    };
    for key in required {
        if !has(key) {
            causes.push(Cause::required(format!("data[{key}]")));
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
    crate::object_meta::validate(obj, &mut causes);
    match (resource.group, resource.kind) {
        ("", "Pod") => match obj.get("spec") {
            Some(spec) => pod_spec::validate(spec, "spec", &mut causes),
            None => causes.push(Cause::required("spec.containers")),
        },
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "StatefulSet")
        | ("apps", "DaemonSet") => validate_selector_template(obj, &mut causes),
        ("", "ConfigMap") | ("", "Secret") => {
            if resource.kind == "Secret" {
                validate_secret_type(obj, &mut causes);
            }
            for field in ["data", "binaryData", "stringData"] {
                if let Some(d) = obj.get(field).and_then(Value::as_object) {
                    for k in d.keys() {
                        let ok = !k.is_empty()
                            && k.len() <= 253
                            && k.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
                        if !ok {
                            causes.push(Cause::invalid(format!("{field}[{k}]"), &json!(k), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                        }
                    }
                }
            }
        }
        ("", "ReplicationController") => {
            controllers::validate_replication_controller(obj, &mut causes)
        }
        ("", "PodTemplate") => controllers::validate_pod_template(obj, &mut causes),
        ("", "Service") => service::validate(obj, &mut causes),
        ("batch", "Job") => batch::validate_job(obj, &mut causes),
        ("batch", "CronJob") => {
            batch::validate_cron_job_name(obj, &mut causes);
            batch::validate_cron_job(obj, &mut causes);
        }
        ("autoscaling", "HorizontalPodAutoscaler") => controllers::validate_hpa(obj, &mut causes),
        (group, kind) => platform::validate(group, kind, obj, &mut causes),
    }
    cluster::validate(resource.group, resource.kind, obj, &mut causes);
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
                    // Changed through their subresource, by its own rule.
                    m.remove("ephemeralContainers");
                    m.remove("activeDeadlineSeconds");
                    m.remove("tolerations");
                    m.remove("terminationGracePeriodSeconds");
                }
                s
            };
            let fixed = strip(new);
            let mut ephemeral = Vec::new();
            pod_spec::validate_ephemeral_update(new, old, &mut ephemeral);
            let mut changed = fixed != strip(old);
            if changed || !ephemeral.is_empty() {
                // Perhaps only what this version defaults differs: read the
                // stored pod as this version does (defaults added since it
                // was written, quantities in today's form) and compare
                // again. Only then: pods are updated often.
                let mut read = old.clone();
                let _ = crate::schemas::decode(resource, &mut read);
                apply_defaults(resource, &mut read);
                ephemeral.clear();
                pod_spec::validate_ephemeral_update(new, &read, &mut ephemeral);
                changed = fixed != strip(&read);
            }
            causes.append(&mut ephemeral);
            if changed {
                causes.push(Cause::forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                ));
            }
        }
        ("apps", _) | ("batch", "Job") if resource.kind != "ControllerRevision" => {
            immutable(new, old, "/spec/selector", "spec.selector", &mut causes);
        }
        ("", "ConfigMap") | ("", "Secret") => {
            if old.get("immutable") == Some(&Value::Bool(true)) {
                for field in ["data", "binaryData", "immutable"] {
                    if new.get(field) != old.get(field) {
                        causes.push(Cause::forbidden(
                            field,
                            "field is immutable when `immutable` is set",
                        ));
                    }
                }
            }
            if resource.kind == "Secret" {
                immutable(new, old, "/type", "type", &mut causes);
            }
        }
        (group, kind) => platform::validate_update(group, kind, new, old, &mut causes),
    }
    cluster::validate_update(resource.group, resource.kind, new, old, &mut causes);
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
    fn pod_addresses_agree_with_their_lists() {
        let pods = find("", "v1", "pods").unwrap();
        let mut pod = json!({"spec": {"containers": []}, "status": {"podIP": "10.0.0.5", "hostIPs": [{"ip": "192.168.0.2"}]}});
        apply_defaults(pods, &mut pod);
        assert_eq!(pod["status"]["podIPs"], json!([{"ip": "10.0.0.5"}]));
        assert_eq!(pod["status"]["hostIP"], "192.168.0.2");
    }

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
        // The stored pod as an older version wrote it, without today's
        // defaults; updates arrive defaulted.
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a:1"}]}});
        let mut image = json!({"spec": {"containers": [{"name": "c", "image": "a:2"}]}});
        apply_defaults(pods, &mut image);
        validate_update(pods, &image, &old, "p").unwrap();
        let mut renamed = json!({"spec": {"containers": [{"name": "d", "image": "a:1"}]}});
        apply_defaults(pods, &mut renamed);
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
