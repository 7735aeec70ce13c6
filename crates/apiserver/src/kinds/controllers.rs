//! Defaults and validation of the core/v1 ReplicationController and
//! PodTemplate and of the autoscaling/v2 HorizontalPodAutoscaler, after
//! Kubernetes' `SetDefaults_*` and `Validate*` functions.

use super::pod_spec;
use super::set_default;
use crate::status::Cause;
use serde_json::{json, Value};

/// `SetDefaults_ReplicationController`: the selector and the labels come
/// from the template's labels when missing, one replica.
pub(super) fn default_replication_controller(obj: &mut Value) {
    let template_labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = template_labels {
        let empty = |v: Option<&Value>| v.and_then(Value::as_object).is_none_or(|m| m.is_empty());
        if empty(obj.pointer("/spec/selector")) {
            obj["spec"]["selector"] = labels.clone();
        }
        if empty(obj.pointer("/metadata/labels")) && obj.get("metadata").is_some() {
            obj["metadata"]["labels"] = labels;
        }
    }
    if let Some(spec) = obj.get_mut("spec") {
        set_default(spec, "replicas", json!(1));
        if let Some(t) = spec.pointer_mut("/template/spec") {
            pod_spec::apply_defaults(t);
        }
    }
}

/// `ValidateReplicationController`: a non-empty selector matching the
/// template's labels, a template whose pods restart Always.
pub(super) fn validate_replication_controller(obj: &Value, causes: &mut Vec<Cause>) {
    let selector = obj
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty());
    if selector.is_none() {
        causes.push(Cause::required("spec.selector"));
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
    let Some(template) = obj.pointer("/spec/template").filter(|t| t.is_object()) else {
        causes.push(Cause::required("spec.template"));
        return;
    };
    let labels = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object);
    if let Some(sel) = selector {
        if !sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            causes.push(Cause::invalid(
                "spec.template.metadata.labels",
                &json!(labels.cloned().unwrap_or_default()),
                "`selector` does not match template `labels`",
            ));
        }
    }
    match template.get("spec") {
        Some(spec) => {
            pod_spec::validate(spec, "spec.template.spec", causes);
            pod_spec::validate_template_restart(spec, "spec.template.spec", false, causes);
        }
        None => causes.push(Cause::required("spec.template.spec.containers")),
    }
}

/// A PodTemplate's pod spec gets the pod-spec defaults.
pub(super) fn default_pod_template(obj: &mut Value) {
    if let Some(t) = obj.pointer_mut("/template/spec") {
        pod_spec::apply_defaults(t);
    }
}

pub(super) fn validate_pod_template(obj: &Value, causes: &mut Vec<Cause>) {
    match obj.pointer("/template/spec") {
        Some(spec) => pod_spec::validate(spec, "template.spec", causes),
        None => causes.push(Cause::required("template.spec.containers")),
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` (autoscaling/v2): one replica at
/// least, 80% CPU utilization when no metric is given, and the scaling
/// rules of a behavior that is set.
pub(super) fn default_hpa(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec") else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    if spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}]);
    }
    let Some(behavior) = spec.get_mut("behavior").filter(|b| b.is_object()) else {
        return;
    };
    let scale_up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    let scale_down = json!({"selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    for (field, defaults) in [("scaleUp", scale_up), ("scaleDown", scale_down)] {
        set_default(behavior, field, json!({}));
        if let (Some(rules), Value::Object(defaults)) = (behavior.get_mut(field), defaults) {
            for (k, v) in defaults {
                set_default(rules, &k, v);
            }
        }
    }
}

/// `ValidateHorizontalPodAutoscaler`: a target, at least one replica and a
/// maximum no lower than the minimum.
pub(super) fn validate_hpa(obj: &Value, causes: &mut Vec<Cause>) {
    for field in ["kind", "name"] {
        if obj
            .pointer(&format!("/spec/scaleTargetRef/{field}"))
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(Cause::required(format!("spec.scaleTargetRef.{field}")));
        }
    }
    let min = obj.pointer("/spec/minReplicas").and_then(Value::as_i64);
    if let Some(m) = min.filter(|m| *m < 1) {
        causes.push(Cause::invalid(
            "spec.minReplicas",
            &json!(m),
            "must be greater than or equal to 1",
        ));
    }
    let max = obj
        .pointer("/spec/maxReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if max < 1 {
        causes.push(Cause::invalid(
            "spec.maxReplicas",
            &json!(max),
            "must be greater than 0",
        ));
    } else if min.is_some_and(|m| max < m) {
        causes.push(Cause::invalid(
            "spec.maxReplicas",
            &json!(max),
            "must be greater than or equal to `minReplicas`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_controller_takes_selector_and_labels_from_template() {
        let mut rc = json!({"metadata": {"name": "web"}, "spec": {"template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}});
        default_replication_controller(&mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(rc["spec"]["replicas"], 1);
        assert_eq!(rc["spec"]["template"]["spec"]["restartPolicy"], "Always");
        let mut causes = Vec::new();
        validate_replication_controller(&rc, &mut causes);
        assert!(causes.is_empty(), "{causes:?}");
        rc["spec"]["selector"] = json!({"app": "other"});
        validate_replication_controller(&rc, &mut causes);
        assert_eq!(causes.len(), 1);
    }

    #[test]
    fn hpa_defaults() {
        let mut hpa = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        default_hpa(&mut hpa);
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        let b = &hpa["spec"]["behavior"];
        assert_eq!(b["scaleDown"]["stabilizationWindowSeconds"], 60);
        assert_eq!(b["scaleDown"]["selectPolicy"], "Max");
        assert_eq!(b["scaleUp"]["policies"][0]["value"], 4);
        let mut causes = Vec::new();
        validate_hpa(&hpa, &mut causes);
        assert!(causes.is_empty(), "{causes:?}");
        hpa["spec"]["minReplicas"] = json!(9);
        validate_hpa(&hpa, &mut causes);
        assert_eq!(causes[0].field, "spec.maxReplicas");
    }
}
