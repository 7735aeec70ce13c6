//! The fields each kind lets clients select on (`fieldSelector`), as
//! Kubernetes registers them per kind, and reading them off an object.

use crate::resources::Resource;
use serde_json::Value;

const META: &[&str] = &["metadata.name", "metadata.namespace"];

/// The selectable fields of a resource.
pub fn selectable(resource: &Resource) -> &'static [&'static str] {
    match (resource.group, resource.plural) {
        ("", "pods") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "services") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.clusterIP",
            "spec.type",
        ],
        ("", "events") => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "nodes") => &["metadata.name", "spec.unschedulable"],
        ("", "namespaces") => &["metadata.name", "status.phase"],
        ("", "secrets") => &["metadata.name", "metadata.namespace", "type"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => {
            &["metadata.name", "metadata.namespace", "status.replicas"]
        }
        ("batch", "jobs") => &["metadata.name", "metadata.namespace", "status.successful"],
        ("certificates.k8s.io", _) => &["metadata.name", "spec.signerName"],
        _ if resource.namespaced => META,
        _ => &["metadata.name"],
    }
}

/// Field labels a selector may name (Kubernetes' field label conversion
/// accepts them) that are never part of an object's field set, so they
/// read as "" and nothing is kept for them.
const ACCEPTED_ONLY: &[&str] = &["status.podIPs"];

fn text(v: &Value, path: &str) -> String {
    let mut cur = v;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(next) => cur = next,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The values of a resource's selectable fields in `obj`. Missing fields
/// read as `""`, except booleans Kubernetes renders as `"false"` and
/// counts it renders as `"0"`; fields
/// that always read `""` are left out (a selector reads them as `""`).
pub fn values(resource: &Resource, obj: &Value) -> FieldValues {
    selectable(resource)
        .iter()
        .filter(|f| !ACCEPTED_ONLY.contains(f))
        .map(|f| {
            let v = match *f {
                "spec.hostNetwork" | "spec.unschedulable" => {
                    let t = text(obj, f);
                    if t.is_empty() {
                        "false".to_owned()
                    } else {
                        t
                    }
                }
                // Kubernetes reads the first of podIPs (which mirrors podIP).
                "status.podIP" => obj
                    .pointer("/status/podIPs/0/ip")
                    .or_else(|| obj.pointer("/status/podIP"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                "source" => text(obj, "source.component"),
                // Counts Kubernetes renders from an int32 field: unset is 0.
                // A Job's is named after `status.succeeded`.
                "status.successful" | "status.replicas" => {
                    let path = if *f == "status.successful" {
                        "status.succeeded"
                    } else {
                        f
                    };
                    let t = text(obj, path);
                    if t.is_empty() {
                        "0".to_owned()
                    } else {
                        t
                    }
                }
                _ => text(obj, f),
            };
            (*f, v.into_boxed_str())
        })
        .collect()
}

/// The values of a resource's selectable fields, as the watch cache keeps
/// them for every object (boxed: no spare capacity).
pub type FieldValues = Box<[(&'static str, Box<str>)]>;

/// An object's labels, sorted by key. The watch cache keeps one per
/// object: a boxed slice costs a fraction of a `BTreeMap`'s nodes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Labels(Box<[(Box<str>, Box<str>)]>);

impl Labels {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
        let mut v: Vec<(Box<str>, Box<str>)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        Labels(v.into_boxed_slice())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The object's labels.
pub fn labels(obj: &Value) -> Labels {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            Labels::from_pairs(
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))),
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn pod_fields() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "a", "namespace": "d"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let v = values(pods, &pod);
        assert!(v.contains(&("spec.nodeName", "n1".into())));
        assert!(v.contains(&("status.phase", "Running".into())));
        assert!(v.contains(&("spec.hostNetwork", "false".into())));
        assert!(v.contains(&("status.nominatedNodeName", "".into())));
        let dual = json!({"status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}});
        assert!(values(pods, &dual).contains(&("status.podIP", "10.0.0.1".into())));
        let v = values(pods, &dual);
        let ips =
            crate::selectors::FieldSelector::parse("status.podIPs=", selectable(pods)).unwrap();
        assert!(ips.matches(&v), "status.podIPs reads empty");
        // status.podIP is computed from podIPs, which the cache must read.
        assert!(selectable(pods).contains(&"status.podIPs"));
    }

    #[test]
    fn counts_read_zero_when_unset() {
        let jobs = find("batch", "v1", "jobs").unwrap();
        assert!(values(jobs, &json!({})).contains(&("status.successful", "0".into())));
        let done = json!({"status": {"succeeded": 2}});
        assert!(values(jobs, &done).contains(&("status.successful", "2".into())));
        let rs = find("apps", "v1", "replicasets").unwrap();
        assert!(values(rs, &json!({"status": {}})).contains(&("status.replicas", "0".into())));
    }

    #[test]
    fn service_fields() {
        let svc = find("", "v1", "services").unwrap();
        let s = json!({"metadata": {"name": "a"}, "spec": {"clusterIP": "10.96.0.9", "type": "NodePort"}});
        let v = values(svc, &s);
        assert!(v.contains(&("spec.clusterIP", "10.96.0.9".into())));
        assert!(v.contains(&("spec.type", "NodePort".into())));
    }
}
