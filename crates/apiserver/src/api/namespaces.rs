//! Namespace lifecycle: the built-in namespaces exist from the start;
//! nothing is created in a missing or terminating namespace; deleting a
//! namespace marks it Terminating, removes its contents, then removes it.

use super::meta;
use super::ApiServer;
use crate::resources::{self, Resource, RESOURCES};
use crate::status::{from_store, ApiError};
use cuttle_store::{Error as StoreError, Txn, TxnOp};
use serde_json::{json, Value};
use std::sync::Arc;

/// Namespaces every cluster has, which cannot be deleted.
pub const BUILT_IN: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];
/// Namespaces whose deletion is refused.
const PROTECTED: &[&str] = &["default", "kube-system", "kube-public"];

fn namespaces() -> &'static Resource {
    resources::find("", "v1", "namespaces").expect("namespaces are served")
}

/// A fresh namespace object (its uid and creation time are stamped when
/// stored).
pub fn new_namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

/// Creates the built-in namespaces that are missing.
pub async fn bootstrap(store: &dyn cuttle_store::Store) -> Result<(), StoreError> {
    for name in BUILT_IN {
        let key = namespaces().key(None, name);
        super::stored::create_missing(store, &key, &new_namespace(name)).await?;
    }
    Ok(())
}

/// Refuses writes of new content into a missing or terminating namespace.
pub async fn check_writable(
    api: &ApiServer,
    resource: &Resource,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    let ns = namespaces();
    // The cache answers for the namespaces it holds that are not being
    // deleted; the store is read only otherwise (a namespace created a
    // moment ago, or a terminating one).
    if let Some(cached) = api.cache.get(ns, &ns.key(None, namespace)) {
        let marker: &[u8] = b"\"deletionTimestamp\"";
        if !cached.json.windows(marker.len()).any(|w| w == marker) {
            return Ok(());
        }
    }
    let (kv, _) = api
        .store
        .get(&ns.key(None, namespace))
        .await
        .map_err(|e| from_store(e, ns, namespace))?;
    let Some(kv) = kv else {
        return Err(ApiError::not_found(ns, namespace));
    };
    let obj: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::Forbidden {
            message: format!(
                "{} {name:?} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                resource.plural
            ),
        });
    }
    Ok(())
}

/// Refuses the deletion of the namespaces a cluster cannot do without.
pub fn check_deletable(name: &str) -> Result<(), ApiError> {
    if PROTECTED.contains(&name) {
        return Err(ApiError::Forbidden {
            message: format!("namespaces {name:?} is forbidden: this namespace may not be deleted"),
        });
    }
    Ok(())
}

/// Marks a namespace Terminating (the caller stores it).
pub fn mark_terminating(obj: &mut Value) {
    let m = meta::meta_mut(obj);
    if !m.contains_key("deletionTimestamp") {
        m.insert("deletionTimestamp".into(), json!(meta::now()));
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    obj["status"] = json!({"phase": "Terminating"});
}

/// Removes everything in a terminating namespace, then the namespace.
/// Runs in the background; a restart leaves a Terminating namespace that
/// the next delete request finishes.
pub fn finalize(api: Arc<ApiServer>, name: String) {
    tokio::spawn(async move {
        for r in RESOURCES.iter().filter(|r| r.namespaced && r.is_stored()) {
            let prefix = format!("{}{name}/", r.key_prefix());
            let txn = Txn {
                success: vec![TxnOp::Delete {
                    key: prefix,
                    prefix: true,
                }],
                ..Default::default()
            };
            if let Err(e) = api.store.txn(txn).await {
                tracing::warn!(namespace = %name, resource = r.plural, error = %e, "namespace cleanup failed");
                return;
            }
        }
        let key = namespaces().key(None, &name);
        match api.store.delete(&key, None).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => tracing::warn!(namespace = %name, error = %e, "namespace removal failed"),
        }
    });
}
