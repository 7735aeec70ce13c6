//! The JSON schemas of the served kinds, generated from k8s-openapi's types
//! (the Kubernetes 1.33 definitions with their descriptions). They feed the
//! OpenAPI v3 documents (`kubectl explain`) and the server-side field
//! validation that rejects unknown fields under `fieldValidation=Strict`.

use crate::resources::Resource;
use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, certificates, coordination, core, discovery,
    events, networking, node, policy, rbac, scheduling, storage,
};
use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The definition name of a kind's schema, and a generator call adding it.
type Adder = fn(&mut SchemaGenerator) -> String;

macro_rules! adders {
    ($(($group:literal, $kind:literal, $ty:ty)),* $(,)?) => {
        &[$(($group, $kind, (|g: &mut SchemaGenerator| {
            g.subschema_for::<$ty>();
            <$ty as schemars::JsonSchema>::schema_name().into_owned()
        }) as Adder)),*]
    };
}

static KINDS: &[(&str, &str, Adder)] = adders![
    ("", "Namespace", core::v1::Namespace),
    ("", "Node", core::v1::Node),
    ("", "Pod", core::v1::Pod),
    ("", "Service", core::v1::Service),
    ("", "Endpoints", core::v1::Endpoints),
    ("", "ConfigMap", core::v1::ConfigMap),
    ("", "Secret", core::v1::Secret),
    ("", "ServiceAccount", core::v1::ServiceAccount),
    ("", "Event", core::v1::Event),
    ("", "PersistentVolume", core::v1::PersistentVolume),
    ("", "PersistentVolumeClaim", core::v1::PersistentVolumeClaim),
    ("", "LimitRange", core::v1::LimitRange),
    ("", "ResourceQuota", core::v1::ResourceQuota),
    ("", "ReplicationController", core::v1::ReplicationController),
    ("", "PodTemplate", core::v1::PodTemplate),
    ("apps", "Deployment", apps::v1::Deployment),
    ("apps", "ReplicaSet", apps::v1::ReplicaSet),
    ("apps", "StatefulSet", apps::v1::StatefulSet),
    ("apps", "DaemonSet", apps::v1::DaemonSet),
    ("apps", "ControllerRevision", apps::v1::ControllerRevision),
    ("batch", "Job", batch::v1::Job),
    ("batch", "CronJob", batch::v1::CronJob),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        autoscaling::v2::HorizontalPodAutoscaler
    ),
    ("coordination.k8s.io", "Lease", coordination::v1::Lease),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        scheduling::v1::PriorityClass
    ),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        discovery::v1::EndpointSlice
    ),
    ("events.k8s.io", "Event", events::v1::Event),
    (
        "policy",
        "PodDisruptionBudget",
        policy::v1::PodDisruptionBudget
    ),
    ("rbac.authorization.k8s.io", "Role", rbac::v1::Role),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        rbac::v1::ClusterRole
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        rbac::v1::RoleBinding
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        rbac::v1::ClusterRoleBinding
    ),
    (
        "certificates.k8s.io",
        "CertificateSigningRequest",
        certificates::v1::CertificateSigningRequest
    ),
    (
        "networking.k8s.io",
        "IngressClass",
        networking::v1::IngressClass
    ),
    ("networking.k8s.io", "Ingress", networking::v1::Ingress),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        networking::v1::NetworkPolicy
    ),
    ("node.k8s.io", "RuntimeClass", node::v1::RuntimeClass),
    (
        "networking.k8s.io",
        "ServiceCIDR",
        networking::v1::ServiceCIDR
    ),
    ("networking.k8s.io", "IPAddress", networking::v1::IPAddress),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        admissionregistration::v1::ValidatingWebhookConfiguration
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        admissionregistration::v1::MutatingWebhookConfiguration
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        admissionregistration::v1::ValidatingAdmissionPolicy
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        admissionregistration::v1::ValidatingAdmissionPolicyBinding
    ),
    ("storage.k8s.io", "CSIDriver", storage::v1::CSIDriver),
    ("storage.k8s.io", "CSINode", storage::v1::CSINode),
    (
        "storage.k8s.io",
        "CSIStorageCapacity",
        storage::v1::CSIStorageCapacity
    ),
    ("storage.k8s.io", "StorageClass", storage::v1::StorageClass),
    (
        "storage.k8s.io",
        "VolumeAttachment",
        storage::v1::VolumeAttachment
    ),
];

/// The schemas of one group: every definition its kinds reach, and the
/// definition name of each kind.
pub struct GroupSchemas {
    pub definitions: Map<String, Value>,
    pub kinds: HashMap<&'static str, String>,
}

fn build(group: &str) -> GroupSchemas {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds = HashMap::new();
    for (g, kind, add) in KINDS {
        if *g == group {
            kinds.insert(*kind, add(&mut generator));
        }
    }
    GroupSchemas {
        definitions: generator.take_definitions(true),
        kinds,
    }
}

/// The groups of the served kinds, each once.
fn groups() -> impl Iterator<Item = &'static str> {
    let mut groups: Vec<&'static str> = KINDS.iter().map(|(g, _, _)| *g).collect();
    groups.sort_unstable();
    groups.dedup();
    groups.into_iter()
}

/// The schemas of a group, generated once.
pub fn for_group(group: &str) -> &'static GroupSchemas {
    static CACHE: OnceLock<HashMap<&'static str, GroupSchemas>> = OnceLock::new();
    let all = CACHE.get_or_init(|| groups().map(|g| (g, build(g))).collect());
    static EMPTY: OnceLock<GroupSchemas> = OnceLock::new();
    all.get(group).unwrap_or_else(|| {
        EMPTY.get_or_init(|| GroupSchemas {
            definitions: Map::new(),
            kinds: HashMap::new(),
        })
    })
}

/// The definition name of a resource's kind.
pub fn definition_name(resource: &Resource) -> Option<&'static str> {
    for_group(resource.group)
        .kinds
        .get(resource.kind)
        .map(String::as_str)
}

fn resolve<'a>(defs: &'a Map<String, Value>, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.rsplit('/').next().and_then(|name| defs.get(name)) {
                Some(next) => s = next,
                None => return s,
            },
            None => {
                // `allOf: [{$ref}]` wraps a reference with a description.
                match s
                    .get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                {
                    Some(inner) if s.get("properties").is_none() => s = inner,
                    _ => return s,
                }
            }
        }
    }
    s
}

/// What the field walk needs of a schema node, compiled once per kind from
/// the JSON schemas: looking fields up in the schema's own JSON (through
/// `$ref`s by name, then `properties`) cost a twentieth of a create's CPU.
#[derive(Debug)]
enum Shape {
    /// An object with these fields (their node ids).
    Struct(HashMap<String, usize>),
    /// An object of any keys, each value of one node.
    Map(usize),
    /// A list whose items are of one node.
    List(usize),
    /// Anything goes below (`x-kubernetes-preserve-unknown-fields`), or a
    /// scalar: nothing to check.
    Open,
}

/// A group's schemas compiled into [`Shape`]s, the definitions its kinds
/// share (ObjectMeta, PodSpec, ...) compiled once.
#[derive(Debug)]
struct Compiled {
    nodes: Vec<Shape>,
    /// Each kind's node.
    kinds: HashMap<&'static str, usize>,
}

impl Compiled {
    fn new(group: &str) -> Compiled {
        let schemas = for_group(group);
        let (mut nodes, mut seen) = (Vec::new(), HashMap::new());
        let mut kinds = HashMap::new();
        for (_, kind, _) in KINDS.iter().filter(|(g, _, _)| *g == group) {
            let root = schemas
                .kinds
                .get(kind)
                .and_then(|name| schemas.definitions.get(name));
            if let Some(root) = root {
                let node = compile(&schemas.definitions, root, &mut seen, &mut nodes);
                kinds.insert(*kind, node);
            }
        }
        Compiled { nodes, kinds }
    }
}

/// Adds the node of `schema` (and those below it) to `nodes`; `seen` maps
/// a resolved schema's address to its node, which ends recursive schemas.
fn compile(
    defs: &Map<String, Value>,
    schema: &Value,
    seen: &mut HashMap<*const Value, usize>,
    nodes: &mut Vec<Shape>,
) -> usize {
    let schema = resolve(defs, schema);
    if let Some(&id) = seen.get(&(schema as *const Value)) {
        return id;
    }
    let id = nodes.len();
    nodes.push(Shape::Open);
    seen.insert(schema, id);
    let shape = if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        Shape::Open
    } else if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        Shape::Struct(
            props
                .iter()
                .map(|(k, v)| (k.clone(), compile(defs, v, seen, nodes)))
                .collect(),
        )
    } else if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        Shape::Map(compile(defs, extra, seen, nodes))
    } else if let Some(items) = schema.get("items") {
        Shape::List(compile(defs, items, seen, nodes))
    } else {
        Shape::Open
    };
    nodes[id] = shape;
    id
}

/// Walks `value` against node `node`, recording unknown fields under `path`
/// (one buffer, extended and cut back as the walk descends: no string is
/// built for a known field).
fn walk(c: &Compiled, node: usize, value: &mut Value, path: &mut String, out: &mut Vec<String>) {
    let len = path.len();
    match (&c.nodes[node], value) {
        (Shape::Struct(fields), Value::Object(map)) => {
            let mut unknown = Vec::new();
            for (k, v) in map.iter_mut() {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match fields.get(k.as_str()) {
                    Some(&child) => walk(c, child, v, path, out),
                    None => {
                        out.push(path.clone());
                        unknown.push(k.clone());
                    }
                }
                path.truncate(len);
            }
            for k in unknown {
                map.remove(&k);
            }
        }
        (Shape::Map(child), Value::Object(map)) => {
            for (k, v) in map.iter_mut() {
                path.push('.');
                path.push_str(k);
                walk(c, *child, v, path, out);
                path.truncate(len);
            }
        }
        (Shape::List(child), Value::Array(items)) => {
            for (i, v) in items.iter_mut().enumerate() {
                use std::fmt::Write;
                let _ = write!(path, "[{i}]");
                walk(c, *child, v, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The compiled schemas of a resource's group and its kind's node, made
/// once.
fn compiled(resource: &Resource) -> Option<(&'static Compiled, usize)> {
    static CACHE: OnceLock<HashMap<&'static str, Compiled>> = OnceLock::new();
    let all = CACHE.get_or_init(|| groups().map(|g| (g, Compiled::new(g))).collect());
    let group = all.get(resource.group)?;
    Some((group, *group.kinds.get(resource.kind)?))
}

/// Removes the fields of `obj` that its kind's schema does not know (as
/// decoding into the Kubernetes type drops them) and returns their paths
/// (`spec.containers[0].imagePullPolice`).
pub fn prune_unknown(resource: &Resource, obj: &mut Value) -> Vec<String> {
    let Some((compiled, root)) = compiled(resource) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(compiled, root, obj, &mut String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{find, RESOURCES};
    use serde_json::json;

    #[test]
    fn every_resource_has_a_schema() {
        for r in RESOURCES.iter().filter(|r| r.is_stored()) {
            let name = definition_name(r).unwrap_or_else(|| panic!("{} has no schema", r.kind));
            assert!(for_group(r.group).definitions.contains_key(name), "{name}");
        }
        assert_eq!(
            definition_name(find("", "v1", "pods").unwrap()),
            Some("io.k8s.api.core.v1.Pod")
        );
    }

    #[test]
    fn finds_unknown_fields() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "labels": {"any": "thing"}, "bogus": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolice": "Always",
                                     "resources": {"limits": {"cpu": "1"}}}], "nodeSelector": {"a": "b"}}});
        let mut pod = pod;
        assert_eq!(
            prune_unknown(pods, &mut pod),
            vec!["metadata.bogus", "spec.containers[0].imagePullPolice"]
        );
        let cms = find("", "v1", "configmaps").unwrap();
        assert!(pod["metadata"].get("bogus").is_none(), "pruned");
        assert!(prune_unknown(cms, &mut json!({"data": {"k": "v"}})).is_empty());
    }
}
