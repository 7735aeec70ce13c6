//! Printers of the older and the autoscaling controllers' kinds:
//! ReplicationController, PodTemplate and HorizontalPodAutoscaler.

use super::workloads::{containers_images, with_template};
use super::{age, format_labels, list, n, name, object, s, Col, AGE, NAME};
use serde_json::{json, Value};

/// The same columns as a ReplicaSet's.
pub(super) const REPLICATION_CONTROLLER: &[Col] = super::workloads::REPLICA_SET;

pub(super) fn replication_controller_row(v: &Value) -> Vec<Value> {
    let head = vec![
        name(v),
        json!(n(v, "/spec/replicas")),
        json!(n(v, "/status/replicas")),
        json!(n(v, "/status/readyReplicas")),
        age(v),
    ];
    // A plain label map, not a label selector.
    let selector = format_labels(object(v, "/spec/selector"));
    with_template(v, "/spec/template/spec", head, selector)
}

/// PodTemplates have no Age column in Kubernetes.
pub(super) const POD_TEMPLATE: &[Col] = &[
    NAME,
    ("Containers", "string", 0),
    ("Images", "string", 0),
    ("Pod Labels", "string", 0),
];

pub(super) fn pod_template_row(v: &Value) -> Vec<Value> {
    let (names, images) = containers_images(v, "/template/spec");
    vec![
        name(v),
        json!(names),
        json!(images),
        json!(format_labels(object(v, "/template/metadata/labels"))),
    ]
}

pub(super) const HORIZONTAL_POD_AUTOSCALER: &[Col] = &[
    NAME,
    ("Reference", "string", 0),
    ("Targets", "string", 0),
    ("MinPods", "string", 0),
    ("MaxPods", "string", 0),
    ("Replicas", "string", 0),
    AGE,
];

/// A quantity as stored (Kubernetes prints it canonicalized).
fn quantity(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(q) => Some(q.clone()),
        Value::Number(q) => Some(q.to_string()),
        _ => None,
    }
}

/// `formatHPAMetrics`: `current/target` of each metric (at most two, then
/// "+ N more..."), `<unknown>` for a current value not yet observed.
fn hpa_metrics(v: &Value) -> String {
    let specs = list(v, "/spec/metrics");
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    let statuses = list(v, "/status/currentMetrics");
    let unknown = || "<unknown>".to_owned();
    let texts: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let status = statuses.get(i);
            // The current value of the status's `source`, at `field`.
            let current = |source: &str, field: &str| {
                quantity(status.and_then(|st| st.pointer(&format!("/{source}/current/{field}"))))
                    .unwrap_or_else(unknown)
            };
            let target = |source: &str, field: &str| {
                quantity(spec.pointer(&format!("/{source}/target/{field}"))).unwrap_or_default()
            };
            let has_average = |source: &str| {
                spec.pointer(&format!("/{source}/target/averageValue"))
                    .is_some_and(|a| !a.is_null())
            };
            match s(spec, "/type") {
                source @ ("External" | "Object") => {
                    let key = source.to_lowercase();
                    if has_average(&key) {
                        format!(
                            "{}/{} (avg)",
                            current(&key, "averageValue"),
                            target(&key, "averageValue")
                        )
                    } else {
                        format!("{}/{}", current(&key, "value"), target(&key, "value"))
                    }
                }
                "Pods" => format!(
                    "{}/{}",
                    current("pods", "averageValue"),
                    target("pods", "averageValue")
                ),
                source @ ("Resource" | "ContainerResource") => {
                    let key = if source == "Resource" {
                        "resource"
                    } else {
                        "containerResource"
                    };
                    let resource = s(spec, &format!("/{key}/name"));
                    if has_average(key) {
                        let (c, t) = (current(key, "averageValue"), target(key, "averageValue"));
                        format!("{resource}: {c}/{t}")
                    } else {
                        let percent =
                            |x: Option<&Value>| x.and_then(Value::as_i64).map(|p| format!("{p}%"));
                        let c = percent(status.and_then(|st| {
                            st.pointer(&format!("/{key}/current/averageUtilization"))
                        }))
                        .unwrap_or_else(unknown);
                        let t = percent(spec.pointer(&format!("/{key}/target/averageUtilization")))
                            .unwrap_or_else(|| "<auto>".to_owned());
                        format!("{resource}: {c}/{t}")
                    }
                }
                _ => "<unknown type>".to_owned(),
            }
        })
        .collect();
    let shown = texts.iter().take(2).cloned().collect::<Vec<_>>().join(", ");
    if texts.len() > 2 {
        format!("{shown} + {} more...", texts.len() - 2)
    } else {
        shown
    }
}

pub(super) fn hpa_row(v: &Value) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        s(v, "/spec/scaleTargetRef/kind"),
        s(v, "/spec/scaleTargetRef/name")
    );
    let min_pods = match v.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        Some(m) => m.to_string(),
        None => "<unset>".to_owned(),
    };
    vec![
        name(v),
        json!(reference),
        json!(hpa_metrics(v)),
        json!(min_pods),
        json!(n(v, "/spec/maxReplicas")),
        json!(n(v, "/status/currentReplicas")),
        age(v),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{meta, print, priorities};
    use serde_json::json;

    #[test]
    fn replication_controller_row() {
        let rc = json!({"metadata": meta(), "spec": {"replicas": 3, "selector": {"app": "web"},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1}});
        let (names, cells) = print("", "ReplicationController", rc);
        assert_eq!(
            names,
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(&cells[1..4], &[json!(3), json!(2), json!(1)]);
        assert_eq!(
            &cells[5..],
            &[json!("nginx"), json!("nginx:1"), json!("app=web")]
        );
        assert_eq!(
            priorities("", "ReplicationController"),
            [0, 0, 0, 0, 0, 1, 1, 1]
        );
    }

    #[test]
    fn pod_template_row() {
        let pt = json!({"metadata": meta(), "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d", "image": "j"}]}}});
        let (names, cells) = print("", "PodTemplate", pt);
        assert_eq!(names, ["Name", "Containers", "Images", "Pod Labels"]);
        assert_eq!(&cells[1..], &[json!("c,d"), json!("i,j"), json!("a=1,b=2")]);
    }

    #[test]
    fn hpa_row() {
        let hpa = json!({"metadata": meta(), "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}});
        let (names, cells) = print("autoscaling", "HorizontalPodAutoscaler", hpa);
        assert_eq!(
            names,
            [
                "Name",
                "Reference",
                "Targets",
                "MinPods",
                "MaxPods",
                "Replicas",
                "Age"
            ]
        );
        assert_eq!(
            &cells[1..6],
            &[
                json!("Deployment/web"),
                json!("cpu: 12%/80%, <unknown>/10 + 1 more..."),
                json!("1"),
                json!(5),
                json!(2)
            ]
        );
    }
}
