//! Pods as the scheduler's watch decodes them: without managedFields.
//!
//! kube-scheduler drops managedFields from what its informers keep
//! (`TransformStripManagedFields`); here they are never decoded at all.
//! They were half the cost of decoding each pod the watch delivers: one
//! when the pod is created and one when it is bound, for every pod.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::NamespaceResourceScope;
use serde::{Deserialize, Deserializer};

/// A Pod decoded without its `metadata.managedFields`.
#[derive(Clone, Debug, Default)]
pub struct LeanPod(pub Pod);

/// The wire form: fields not named here (apiVersion, kind, managedFields)
/// are skipped unread.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    metadata: Meta,
    spec: Option<PodSpec>,
    status: Option<PodStatus>,
}

/// ObjectMeta's fields but managedFields.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Meta {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

impl<'de> Deserialize<'de> for LeanPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Wire {
            metadata: m,
            spec,
            status,
        } = Wire::deserialize(d)?;
        Ok(LeanPod(Pod {
            metadata: ObjectMeta {
                annotations: m.annotations,
                creation_timestamp: m.creation_timestamp,
                deletion_grace_period_seconds: m.deletion_grace_period_seconds,
                deletion_timestamp: m.deletion_timestamp,
                finalizers: m.finalizers,
                generate_name: m.generate_name,
                generation: m.generation,
                labels: m.labels,
                managed_fields: None,
                name: m.name,
                namespace: m.namespace,
                owner_references: m.owner_references,
                resource_version: m.resource_version,
                self_link: m.self_link,
                uid: m.uid,
            },
            spec,
            status,
        }))
    }
}

impl kube::Resource for LeanPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Pod::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        Pod::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        Pod::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Pod::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.0.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_a_pod_but_its_managed_fields() {
        let wire = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "5",
                "labels": {"app": "a"}, "annotations": {"k": "v"},
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "deletionTimestamp": null, "finalizers": ["f"], "generation": 2,
                "generateName": "p-", "deletionGracePeriodSeconds": 30, "selfLink": "",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                     "name": "rs", "uid": "r", "controller": true}],
                "managedFields": [{"manager": "m", "operation": "Update",
                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
            },
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n"},
            "status": {"phase": "Running"}
        });
        let lean: LeanPod = serde_json::from_value(wire.clone()).unwrap();
        let mut full: Pod = serde_json::from_value(wire).unwrap();
        full.metadata.managed_fields = None;
        assert_eq!(lean.0, full);
        let bare: LeanPod = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(bare.0.metadata.name.as_deref(), Some("x"));
        assert!(bare.0.spec.is_none());
    }
}
