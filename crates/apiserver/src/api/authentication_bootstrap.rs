//! `kube-system/extension-apiserver-authentication`: the ConfigMap in which
//! Kubernetes' apiserver publishes the CA that signs its clients'
//! certificates. kube-scheduler, kube-controller-manager and aggregated
//! API servers read it to authenticate the clients of their own endpoints
//! (delegated authentication); without it they log that they cannot.

use super::meta;
use crate::resources;
use cuttle_store::Error as StoreError;
use serde_json::json;

const NAME: &str = "extension-apiserver-authentication";

/// Creates the ConfigMap with `client-ca-file` when it is missing (the CA
/// lives with the data directory and does not change).
pub async fn bootstrap(store: &dyn cuttle_store::Store, ca_pem: &str) -> Result<(), StoreError> {
    let config_maps = resources::find("", "v1", "configmaps").expect("configmaps are served");
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": NAME,
            "namespace": "kube-system",
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": meta::now(),
        },
        "data": {"client-ca-file": ca_pem},
    });
    let bytes = serde_json::to_vec(&cm).unwrap_or_default();
    match store
        .create(&config_maps.key(Some("kube-system"), NAME), bytes, None)
        .await
    {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
