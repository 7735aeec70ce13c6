//! Priority admission, as Kubernetes' `Priority` admission plugin does it
//! on pod creation: `spec.priority` and `spec.preemptionPolicy` come from
//! the PriorityClass the pod names, or from the global default class, or
//! are 0 and PreemptLowerPriority when there is none. A pod naming a
//! missing class, or stating a priority its class contradicts, is
//! forbidden. The two system classes exist from the start.

use super::ApiServer;
use crate::resources::{self, Resource};
use crate::status::ApiError;
use cuttle_store::Error as StoreError;
use serde_json::{json, Value};

/// The classes kube-apiserver creates at startup.
const SYSTEM_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

const DEFAULT_POLICY: &str = "PreemptLowerPriority";

fn priority_classes() -> &'static Resource {
    resources::find("scheduling.k8s.io", "v1", "priorityclasses").expect("served")
}

/// Creates the system PriorityClasses that are missing.
pub async fn bootstrap(store: &dyn cuttle_store::Store) -> Result<(), StoreError> {
    for (name, value, description) in SYSTEM_CLASSES {
        let class = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name, "generation": 1},
            "value": value,
            "description": description,
            "preemptionPolicy": DEFAULT_POLICY,
        });
        super::stored::create_missing(store, &priority_classes().key(None, name), &class).await?;
    }
    Ok(())
}

/// A class's name, value and preemption policy.
struct Class {
    name: String,
    value: i64,
    policy: String,
}

impl Class {
    fn of(obj: &Value) -> Class {
        Class {
            name: obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            value: obj.get("value").and_then(Value::as_i64).unwrap_or(0),
            policy: obj
                .get("preemptionPolicy")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_POLICY)
                .to_owned(),
        }
    }
}

/// The named class: from the watch cache, or from the store when the
/// cache has not seen it yet (a class created a moment ago).
async fn find(api: &ApiServer, name: &str) -> Result<Option<Class>, ApiError> {
    let resource = priority_classes();
    let key = resource.key(None, name);
    let bytes = match api.cache.get(resource, &key) {
        Some(cached) => cached.json.to_vec(),
        None => match api.store.get(&key).await {
            Ok((Some(kv), _)) => kv.value.to_vec(),
            Ok((None, _)) => return Ok(None),
            Err(e) => return Err(crate::status::from_store(e, resource, name)),
        },
    };
    Ok(serde_json::from_slice::<Value>(&bytes)
        .ok()
        .map(|v| Class::of(&v)))
}

/// The global default class, if one is marked; the lowest value wins when
/// several are (as Kubernetes picks).
fn global_default(api: &ApiServer) -> Option<Class> {
    const MARK: &[u8] = b"\"globalDefault\":true";
    let (items, _) = api.cache.list(priority_classes(), None);
    items
        .iter()
        // Only a class that says so is parsed (this runs on every pod create).
        .filter(|o| memchr::memmem::find(&o.json, MARK).is_some())
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .filter(|v| v.get("globalDefault") == Some(&Value::Bool(true)))
        .map(|v| Class::of(&v))
        .min_by_key(|c| c.value)
}

/// The Priority admission plugin's rule for classes: only one may be the
/// global default (403 for a second, as Kubernetes answers).
pub fn admit_class(
    api: &ApiServer,
    class: &Value,
    name: &str,
    creating: bool,
) -> Result<(), ApiError> {
    if class.get("globalDefault") != Some(&Value::Bool(true)) {
        return Ok(());
    }
    match global_default(api) {
        Some(existing) if creating || existing.name != name => Err(ApiError::Forbidden {
            message: format!(
                "priorityclasses.scheduling.k8s.io {name:?} is forbidden: PriorityClass {} is already marked as default. Only one default can exist",
                existing.name
            ),
        }),
        _ => Ok(()),
    }
}

/// Sets a new pod's priority and preemption policy from its class.
pub async fn admit(api: &ApiServer, pod: &mut Value, name: &str) -> Result<(), ApiError> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let forbidden = |why: String| ApiError::Forbidden {
        message: format!("pods {name:?} is forbidden: {why}"),
    };
    let named = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let class = match named {
        Some(n) => Some(
            find(api, &n)
                .await?
                .ok_or_else(|| forbidden(format!("no PriorityClass with name {n} was found")))?,
        ),
        None => global_default(api),
    };
    let (value, policy) = match &class {
        Some(c) => (c.value, c.policy.as_str()),
        None => (0, DEFAULT_POLICY),
    };
    if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
        if given != value {
            return Err(forbidden(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
            )));
        }
    }
    if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if given != policy {
            return Err(forbidden(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            )));
        }
    }
    if let Some(c) = &class {
        spec.insert("priorityClassName".into(), json!(c.name));
    }
    spec.insert("priority".into(), json!(value));
    spec.insert("preemptionPolicy".into(), json!(policy));
    Ok(())
}
