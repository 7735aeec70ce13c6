//! Printers of the storage.k8s.io kinds: StorageClass, CSIDriver,
//! CSINode, CSIStorageCapacity and VolumeAttachment.

use super::{age, list, name, object, s, Col, AGE, NAME};
use serde_json::{json, Value};

/// The boolean at `ptr`, or `default` when unset.
fn flag(v: &Value, ptr: &str, default: bool) -> bool {
    v.pointer(ptr).and_then(Value::as_bool).unwrap_or(default)
}

pub(super) const STORAGE_CLASS: &[Col] = &[
    NAME,
    ("Provisioner", "string", 0),
    ("ReclaimPolicy", "string", 0),
    ("VolumeBindingMode", "string", 0),
    ("AllowVolumeExpansion", "string", 0),
    AGE,
];

/// `storageutil.IsDefaultAnnotation`: the GA or the beta annotation.
fn is_default_class(v: &Value) -> bool {
    let annotations = object(v, "/metadata/annotations");
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|k| annotations.and_then(|a| a.get(*k)).and_then(Value::as_str) == Some("true"))
}

pub(super) fn storage_class_row(v: &Value) -> Vec<Value> {
    let mut class = s(v, "/metadata/name").to_owned();
    if is_default_class(v) {
        class.push_str(" (default)");
    }
    let or = |ptr: &str, default: &'static str| match s(v, ptr) {
        "" => default,
        x => x,
    };
    vec![
        json!(class),
        json!(s(v, "/provisioner")),
        json!(or("/reclaimPolicy", "Delete")),
        json!(or("/volumeBindingMode", "Immediate")),
        json!(flag(v, "/allowVolumeExpansion", false)),
        age(v),
    ]
}

pub(super) const CSI_DRIVER: &[Col] = &[
    NAME,
    ("AttachRequired", "boolean", 0),
    ("PodInfoOnMount", "boolean", 0),
    ("StorageCapacity", "boolean", 0),
    ("TokenRequests", "string", 0),
    ("RequiresRepublish", "boolean", 0),
    ("Modes", "string", 0),
    AGE,
];

pub(super) fn csi_driver_row(v: &Value) -> Vec<Value> {
    let token_requests = match v.pointer("/spec/tokenRequests").and_then(Value::as_array) {
        Some(t) => t
            .iter()
            .map(|t| s(t, "/audience"))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".to_owned(),
    };
    let modes: Vec<&str> = list(v, "/spec/volumeLifecycleModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let modes = if modes.is_empty() {
        "<none>".to_owned()
    } else {
        modes.join(",")
    };
    vec![
        name(v),
        json!(flag(v, "/spec/attachRequired", true)),
        json!(flag(v, "/spec/podInfoOnMount", false)),
        json!(flag(v, "/spec/storageCapacity", false)),
        json!(token_requests),
        json!(flag(v, "/spec/requiresRepublish", false)),
        json!(modes),
        age(v),
    ]
}

pub(super) const CSI_NODE: &[Col] = &[NAME, ("Drivers", "integer", 0), AGE];

pub(super) fn csi_node_row(v: &Value) -> Vec<Value> {
    vec![name(v), json!(list(v, "/spec/drivers").len()), age(v)]
}

/// CSIStorageCapacities have no Age column in Kubernetes.
pub(super) const CSI_STORAGE_CAPACITY: &[Col] = &[
    NAME,
    ("StorageClassName", "string", 0),
    ("Capacity", "string", 0),
];

pub(super) fn csi_storage_capacity_row(v: &Value) -> Vec<Value> {
    let capacity = match v.get("capacity") {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(q)) => q.to_string(),
        _ => "<unset>".to_owned(),
    };
    vec![name(v), json!(s(v, "/storageClassName")), json!(capacity)]
}

pub(super) const VOLUME_ATTACHMENT: &[Col] = &[
    NAME,
    ("Attacher", "string", 0),
    ("PV", "string", 0),
    ("Node", "string", 0),
    ("Attached", "boolean", 0),
    AGE,
];

pub(super) fn volume_attachment_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        json!(s(v, "/spec/attacher")),
        json!(s(v, "/spec/source/persistentVolumeName")),
        json!(s(v, "/spec/nodeName")),
        json!(flag(v, "/status/attached", false)),
        age(v),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::print;
    use serde_json::json;

    const G: &str = "storage.k8s.io";

    fn meta() -> serde_json::Value {
        json!({"name": "fast", "creationTimestamp": "2020-01-01T00:00:00Z"})
    }

    #[test]
    fn storage_class_row_marks_the_default() {
        let mut sc = json!({"metadata": meta(), "provisioner": "example.com/disk",
            "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true});
        sc["metadata"]["annotations"] =
            json!({"storageclass.kubernetes.io/is-default-class": "true"});
        let (names, cells) = print(G, "StorageClass", sc);
        assert_eq!(
            names,
            [
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age"
            ]
        );
        assert_eq!(
            &cells[..5],
            &[
                json!("fast (default)"),
                json!("example.com/disk"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(true)
            ]
        );
    }

    #[test]
    fn csi_rows() {
        let driver = json!({"metadata": meta(), "spec": {"attachRequired": false,
            "tokenRequests": [{"audience": "a"}, {"audience": "b"}], "volumeLifecycleModes": ["Persistent", "Ephemeral"]}});
        let (names, cells) = print(G, "CSIDriver", driver);
        assert_eq!(names.len(), 8);
        assert_eq!(
            &cells[1..7],
            &[
                json!(false),
                json!(false),
                json!(false),
                json!("a,b"),
                json!(false),
                json!("Persistent,Ephemeral")
            ]
        );
        let node = json!({"metadata": meta(), "spec": {"drivers": [{"name": "a", "nodeID": "n"}]}});
        assert_eq!(print(G, "CSINode", node).1[1], 1);
        let cap = json!({"metadata": meta(), "storageClassName": "fast"});
        let (names, cells) = print(G, "CSIStorageCapacity", cap);
        assert_eq!(names, ["Name", "StorageClassName", "Capacity"]);
        assert_eq!(&cells[1..], &[json!("fast"), json!("<unset>")]);
        let va = json!({"metadata": meta(), "spec": {"attacher": "csi.example.com", "nodeName": "n1",
            "source": {"persistentVolumeName": "pv1"}}, "status": {"attached": true}});
        let (names, cells) = print(G, "VolumeAttachment", va);
        assert_eq!(names, ["Name", "Attacher", "PV", "Node", "Attached", "Age"]);
        assert_eq!(
            &cells[1..5],
            &[
                json!("csi.example.com"),
                json!("pv1"),
                json!("n1"),
                json!(true)
            ]
        );
    }
}
