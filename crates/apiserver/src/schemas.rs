//! The JSON schemas of the served kinds, generated from k8s-openapi's types
//! (the Kubernetes 1.33 definitions with their descriptions). They feed the
//! OpenAPI v3 documents (`kubectl explain`) and the server-side field
//! validation that rejects unknown fields under `fieldValidation=Strict`.

use crate::resources::Resource;
use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates,
    coordination, core, discovery, events, networking, node, policy, rbac, scheduling, storage,
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
    (
        "authentication.k8s.io",
        "TokenReview",
        authentication::v1::TokenReview
    ),
    (
        "authentication.k8s.io",
        "SelfSubjectReview",
        authentication::v1::SelfSubjectReview
    ),
    (
        "authorization.k8s.io",
        "LocalSubjectAccessReview",
        authorization::v1::LocalSubjectAccessReview
    ),
    (
        "authorization.k8s.io",
        "SelfSubjectAccessReview",
        authorization::v1::SelfSubjectAccessReview
    ),
    (
        "authorization.k8s.io",
        "SelfSubjectRulesReview",
        authorization::v1::SelfSubjectRulesReview
    ),
    (
        "authorization.k8s.io",
        "SubjectAccessReview",
        authorization::v1::SubjectAccessReview
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

/// Follows `$ref`s (and `allOf` wrappers of one) to the schema they name;
/// returns it with the name of the definition it ended in, if any.
fn resolve_named<'a>(
    defs: &'a Map<String, Value>,
    schema: &'a Value,
) -> (&'a Value, Option<&'a str>) {
    let mut s = schema;
    let mut name = None;
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.rsplit('/').next().and_then(|n| defs.get_key_value(n)) {
                Some((n, next)) => {
                    s = next;
                    name = Some(n.as_str());
                }
                None => return (s, name),
            },
            None => {
                // `allOf: [{$ref}]` wraps a reference with a description.
                match s
                    .get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                {
                    Some(inner) if s.get("properties").is_none() => s = inner,
                    _ => return (s, name),
                }
            }
        }
    }
    (s, name)
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
    /// A scalar of one JSON type.
    Scalar(Scalar),
    /// Anything goes below (`x-kubernetes-preserve-unknown-fields`, an
    /// object of no declared fields): nothing to check.
    Open,
}

/// The scalars the schemas declare, with the Go type each decodes into.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    String,
    /// `integer`, with its format (`int32`, `int64`).
    Integer(&'static str),
    Number,
    Boolean,
    /// `x-kubernetes-int-or-string` (IntOrString): either.
    IntOrString,
    /// A resource quantity: a string or a number that must read as one,
    /// stored in its canonical form.
    Quantity,
    /// A `metav1.Time`: RFC 3339, stored in UTC to the second.
    Time,
    /// A `metav1.MicroTime`: RFC 3339, stored in UTC to the microsecond.
    MicroTime,
}

impl Scalar {
    fn of(schema: &Value) -> Option<Scalar> {
        if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            return Some(Scalar::IntOrString);
        }
        match schema.get("type").and_then(Value::as_str)? {
            "string" => Some(Scalar::String),
            "integer" => Some(Scalar::Integer(
                match schema.get("format").and_then(Value::as_str) {
                    Some("int32") => "int32",
                    _ => "int64",
                },
            )),
            "number" => Some(Scalar::Number),
            "boolean" => Some(Scalar::Boolean),
            _ => None,
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) => true,
            (Scalar::String, Value::String(_)) | (Scalar::Boolean, Value::Bool(_)) => true,
            (Scalar::Integer(_), Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Scalar::Number, Value::Number(_)) => true,
            (Scalar::IntOrString, Value::String(_)) => true,
            (Scalar::IntOrString, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Scalar::Quantity, Value::String(_) | Value::Number(_)) => true,
            (Scalar::Time | Scalar::MicroTime, Value::String(_)) => true,
            _ => false,
        }
    }

    fn go_type(self) -> &'static str {
        match self {
            Scalar::String => "string",
            Scalar::Integer(format) => format,
            Scalar::Number => "float64",
            Scalar::Boolean => "bool",
            Scalar::IntOrString => "intstr.IntOrString",
            Scalar::Quantity => "resource.Quantity",
            Scalar::Time => "v1.Time",
            Scalar::MicroTime => "v1.MicroTime",
        }
    }
}

/// A value of the wrong JSON type, worded as Go's decoder words it (the
/// message Kubernetes answers with 400): `cannot unmarshal number into Go
/// struct field ConfigMap.data of type string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// What was found: `number`, `string`, `bool`, `array`, `object`
    /// (`number 1.5` for a fraction where an integer belongs).
    pub found: String,
    /// The innermost struct holding the field, then the field's path
    /// without list indices, as Go names it.
    pub field: String,
    /// The Go type the field decodes into.
    pub go_type: String,
}

impl std::fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "json: cannot unmarshal {} into Go struct field {} of type {}",
            self.found, self.field, self.go_type
        )
    }
}

/// A group's schemas compiled into [`Shape`]s, the definitions its kinds
/// share (ObjectMeta, PodSpec, ...) compiled once.
#[derive(Debug)]
struct Compiled {
    nodes: Vec<Shape>,
    /// The definition each struct node came from (`PodSpec`), for messages.
    names: Vec<Option<String>>,
    /// Each kind's node.
    kinds: HashMap<&'static str, usize>,
}

impl Compiled {
    fn new(group: &str) -> Compiled {
        let schemas = for_group(group);
        let mut c = Compiled {
            nodes: Vec::new(),
            names: Vec::new(),
            kinds: HashMap::new(),
        };
        let mut seen = HashMap::new();
        for (_, kind, _) in KINDS.iter().filter(|(g, _, _)| *g == group) {
            let root = schemas
                .kinds
                .get(kind)
                .and_then(|name| schemas.definitions.get_key_value(name));
            if let Some((name, root)) = root {
                let node = compile(&schemas.definitions, root, &mut seen, &mut c);
                if c.names[node].is_none() {
                    c.names[node] = Some(short_name(name));
                }
                c.kinds.insert(*kind, node);
            }
        }
        c
    }
}

/// Adds the node of `schema` (and those below it) to `nodes`; `seen` maps
/// a resolved schema's address to its node, which ends recursive schemas.
fn compile(
    defs: &Map<String, Value>,
    schema: &Value,
    seen: &mut HashMap<*const Value, usize>,
    c: &mut Compiled,
) -> usize {
    let (schema, name) = resolve_named(defs, schema);
    if let Some(&id) = seen.get(&(schema as *const Value)) {
        return id;
    }
    let id = c.nodes.len();
    c.nodes.push(Shape::Open);
    c.names.push(name.map(short_name));
    seen.insert(schema, id);
    let shape = if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        Shape::Open
    } else if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        Shape::Struct(
            props
                .iter()
                .map(|(k, v)| (k.clone(), compile(defs, v, seen, c)))
                .collect(),
        )
    } else if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        Shape::Map(compile(defs, extra, seen, c))
    } else if let Some(items) = schema.get("items") {
        Shape::List(compile(defs, items, seen, c))
    } else if name.is_some_and(|n| n.ends_with(".api.resource.Quantity")) {
        Shape::Scalar(Scalar::Quantity)
    } else if name.is_some_and(|n| n.ends_with(".meta.v1.Time")) {
        Shape::Scalar(Scalar::Time)
    } else if name.is_some_and(|n| n.ends_with(".meta.v1.MicroTime")) {
        Shape::Scalar(Scalar::MicroTime)
    } else if let Some(scalar) = Scalar::of(schema) {
        Shape::Scalar(scalar)
    } else {
        Shape::Open
    };
    c.nodes[id] = shape;
    id
}

/// `io.k8s.api.core.v1.PodSpec` → `PodSpec`.
fn short_name(definition: &str) -> String {
    definition
        .rsplit('.')
        .next()
        .unwrap_or(definition)
        .to_owned()
}

impl Compiled {
    /// The Go type node `node` decodes into (`[]v1.Container`), as Go's
    /// decoder names it in its errors.
    fn go_type(&self, node: usize) -> String {
        match &self.nodes[node] {
            Shape::Struct(_) => match &self.names[node] {
                Some(n) => format!("v1.{n}"),
                None => "struct".into(),
            },
            Shape::Map(child) => format!("map[string]{}", self.go_type(*child)),
            Shape::List(child) => format!("[]{}", self.go_type(*child)),
            Shape::Scalar(s) => s.go_type().into(),
            Shape::Open => "interface {}".into(),
        }
    }

    /// Whether `value` has the JSON type node `node` wants (below it is
    /// the walk's to check); `null` always does, as Go decodes it to the
    /// zero value.
    fn fits(&self, node: usize, value: &Value) -> bool {
        match (&self.nodes[node], value) {
            (_, Value::Null) | (Shape::Open, _) => true,
            (Shape::Struct(_) | Shape::Map(_), Value::Object(_)) => true,
            (Shape::List(_), Value::Array(_)) => true,
            (Shape::Scalar(s), v) => s.accepts(v),
            _ => false,
        }
    }
}

/// Go's word for the JSON type of `v`.
fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) if n.is_f64() => format!("number {n}"),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// Walks `value` against node `node`, recording unknown fields under `path`
/// (one buffer, extended and cut back as the walk descends: no string is
/// built for a known field).
/// What one walk found: the unknown fields' paths, and the first value of
/// the wrong type.
#[derive(Default)]
struct Found {
    unknown: Vec<String>,
    mismatch: Option<DecodeError>,
}

/// Why a body cannot be decoded into its kind (a 400 in Kubernetes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A value of the wrong JSON type.
    Type(TypeMismatch),
    /// A quantity that does not read as one.
    Quantity,
    /// A time that does not read as RFC 3339.
    Time(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Type(m) => m.fmt(f),
            DecodeError::Quantity => write!(
                f,
                "quantities must match the regular expression '{}'",
                cuttle_quantity::PATTERN
            ),
            DecodeError::Time(text) => write!(
                f,
                "parsing time {text:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {text:?} as \"2006\""
            ),
        }
    }
}

/// Walks `value` against node `node`, recording unknown fields under `path`
/// (one buffer, extended and cut back as the walk descends: no string is
/// built for a known field) and the first value of a wrong type. `owner`
/// is the innermost struct node, which Go names in its type errors.
fn walk(
    c: &Compiled,
    node: usize,
    owner: usize,
    value: &mut Value,
    path: &mut String,
    found: &mut Found,
) {
    let len = path.len();
    if found.mismatch.is_none() && !c.fits(node, value) {
        found.mismatch = Some(DecodeError::Type(TypeMismatch {
            found: json_kind(value),
            field: go_field(c.names[owner].as_deref(), path),
            go_type: c.go_type(node),
        }));
        return;
    }
    match (&c.nodes[node], value) {
        (Shape::Scalar(Scalar::Quantity), v) => store_quantity(v, false, found),
        (Shape::Scalar(Scalar::Time), v) => store_time(v, false, found),
        (Shape::Scalar(Scalar::MicroTime), v) => store_time(v, true, found),
        (Shape::Struct(fields), Value::Object(map)) => {
            let mut unknown = Vec::new();
            for (k, v) in map.iter_mut() {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match fields.get(k.as_str()) {
                    Some(&child) => walk(c, child, node, v, path, found),
                    None => {
                        found.unknown.push(path.clone());
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
            // A map of quantities is a resource list, whose amounts
            // Kubernetes rounds up to milli units.
            let resource_list = matches!(c.nodes[*child], Shape::Scalar(Scalar::Quantity));
            // A map's key in brackets, as a list's index: Go's type errors
            // name neither.
            for (k, v) in map.iter_mut() {
                path.push('[');
                path.push_str(k);
                path.push(']');
                if resource_list && c.fits(*child, v) {
                    store_quantity(v, true, found);
                } else {
                    walk(c, *child, owner, v, path, found);
                }
                path.truncate(len);
            }
        }
        (Shape::List(child), Value::Array(items)) => {
            for (i, v) in items.iter_mut().enumerate() {
                use std::fmt::Write;
                let _ = write!(path, "[{i}]");
                walk(c, *child, owner, v, path, found);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Reads a time into the form Kubernetes writes it: UTC, whole seconds
/// (`metav1.Time`) or microseconds (`metav1.MicroTime`).
fn store_time(v: &mut Value, micro: bool, found: &mut Found) {
    let Some(text) = v.as_str() else { return };
    if text.is_empty() {
        return;
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => {
            let utc = t.with_timezone(&chrono::Utc);
            let format = if micro {
                chrono::SecondsFormat::Micros
            } else {
                chrono::SecondsFormat::Secs
            };
            let stored = utc.to_rfc3339_opts(format, true);
            if stored != text {
                *v = Value::String(stored);
            }
        }
        Err(_) => {
            found
                .mismatch
                .get_or_insert_with(|| DecodeError::Time(text.to_owned()));
        }
    }
}

/// Reads a quantity (a string, or a number as its text) into the form
/// Kubernetes stores; an unreadable one is the walk's decode error.
fn store_quantity(v: &mut Value, in_resource_list: bool, found: &mut Found) {
    let stored = match &*v {
        Value::String(text) => cuttle_quantity::serialize(text, in_resource_list),
        Value::Number(n) => cuttle_quantity::serialize(&n.to_string(), in_resource_list),
        _ => return,
    };
    match stored {
        Ok(text) => {
            if v.as_str() != Some(text.as_str()) {
                *v = Value::String(text);
            }
        }
        Err(_) => {
            found.mismatch.get_or_insert(DecodeError::Quantity);
        }
    }
}

/// Go's name of a field in a type error: the innermost struct, then the
/// path from the top without list indices or map keys
/// (`ContainerPort.spec.containers.ports.containerPort`).
fn go_field(owner: Option<&str>, path: &str) -> String {
    let mut depth = 0;
    let plain: String = path
        .chars()
        .filter(|&ch| {
            match ch {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ => return depth == 0,
            }
            false
        })
        .collect();
    let owner = owner.unwrap_or("Object");
    if plain.is_empty() {
        owner.to_owned()
    } else {
        format!("{owner}.{plain}")
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

/// Checks `obj` as decoding it into its Kubernetes type would: the first
/// value of the wrong JSON type or unreadable quantity is an error (a 400
/// in Kubernetes); quantities take their canonical form (`0.5` → `500m`); the
/// fields its kind's schema does not know are removed (as decoding into
/// the Kubernetes type drops them) and their paths returned
/// (`spec.containers[0].imagePullPolice`).
pub fn decode(resource: &Resource, obj: &mut Value) -> Result<Vec<String>, DecodeError> {
    let Some((compiled, root)) = compiled(resource) else {
        return Ok(Vec::new());
    };
    let mut found = Found::default();
    walk(compiled, root, root, obj, &mut String::new(), &mut found);
    match found.mismatch {
        Some(m) => Err(m),
        None => Ok(found.unknown),
    }
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
    fn values_of_the_wrong_type_are_named_as_go_names_them() {
        let cms = find("", "v1", "configmaps").unwrap();
        let err = decode(cms, &mut json!({"data": {"a": 1}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
        );
        let pods = find("", "v1", "pods").unwrap();
        let mut pod =
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1.5}]}]}});
        assert_eq!(
            decode(pods, &mut pod).unwrap_err().to_string(),
            "json: cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"
        );
        let mut pod = json!({"spec": {"containers": {"name": "c"}}});
        assert_eq!(
            decode(pods, &mut pod).unwrap_err().to_string(),
            "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container"
        );
        // Quantities and int-or-strings take either; null is anything's zero.
        let mut pod = json!({"metadata": {"labels": null}, "spec": {"containers": [{"name": "c",
            "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
            "livenessProbe": {"httpGet": {"port": "http"}}, "readinessProbe": {"httpGet": {"port": 80}}}]}});
        assert_eq!(decode(pods, &mut pod), Ok(Vec::new()));
    }

    #[test]
    fn times_are_stored_as_kubernetes_writes_them() {
        let pods = find("", "v1", "pods").unwrap();
        let mut pod = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
            "lastTransitionTime": "2026-12-02T08:58:59.646235212+01:00"}], "startTime": "2026-12-02T07:00:00Z"}});
        assert_eq!(decode(pods, &mut pod), Ok(Vec::new()));
        assert_eq!(
            pod["status"]["conditions"][0]["lastTransitionTime"],
            "2026-12-02T07:58:59Z"
        );
        let leases = find("coordination.k8s.io", "v1", "leases").unwrap();
        let mut lease = json!({"spec": {"renewTime": "2026-12-02T07:58:59.646235212Z"}});
        assert_eq!(decode(leases, &mut lease), Ok(Vec::new()));
        assert_eq!(lease["spec"]["renewTime"], "2026-12-02T07:58:59.646235Z");
        let mut bad = json!({"status": {"startTime": "yesterday"}});
        assert!(decode(pods, &mut bad)
            .unwrap_err()
            .to_string()
            .starts_with("parsing time \"yesterday\""));
    }

    #[test]
    fn quantities_are_read_and_stored_canonical() {
        let pods = find("", "v1", "pods").unwrap();
        let mut pod = json!({"spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": 0.5, "memory": "1024Mi"}, "limits": {"cpu": "1000m"}}}]}});
        assert_eq!(decode(pods, &mut pod), Ok(Vec::new()));
        let resources = &pod["spec"]["containers"][0]["resources"];
        assert_eq!(
            resources,
            &json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}})
        );
        let mut bad = json!({"spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "abc"}}}]}});
        assert_eq!(
            decode(pods, &mut bad).unwrap_err().to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        let nodes = find("", "v1", "nodes").unwrap();
        let mut node = json!({"status": {"capacity": {"memory": "2048Ki", "pods": 110}}});
        assert_eq!(decode(nodes, &mut node), Ok(Vec::new()));
        assert_eq!(
            node["status"]["capacity"],
            json!({"memory": "2Mi", "pods": "110"})
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
            decode(pods, &mut pod).unwrap(),
            vec!["metadata.bogus", "spec.containers[0].imagePullPolice"]
        );
        let cms = find("", "v1", "configmaps").unwrap();
        assert!(pod["metadata"].get("bogus").is_none(), "pruned");
        assert!(decode(cms, &mut json!({"data": {"k": "v"}}))
            .unwrap()
            .is_empty());
    }
}
