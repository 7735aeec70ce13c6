//! `kube-system/extension-apiserver-authentication`: the ConfigMap in which
//! Kubernetes' apiserver publishes the CA that signs its clients'
//! certificates. kube-scheduler, kube-controller-manager and aggregated
//! API servers read it to authenticate the clients of their own endpoints
//! (delegated authentication); without it they log that they cannot.

use super::stored;
use crate::resources;
use cuttle_store::Error as StoreError;
use serde_json::{json, Value};

const NAME: &str = "extension-apiserver-authentication";

/// Creates the ConfigMap with `client-ca-file`, or adds the CA to the
/// bundle an existing one holds when it is not in it (a store that outlived
/// its data directory's certificates), as Kubernetes' trust controller
/// keeps the bundle current.
pub async fn bootstrap(store: &dyn cuttle_store::Store, ca_pem: &str) -> Result<(), StoreError> {
    let config_maps = resources::find("", "v1", "configmaps").expect("configmaps are served");
    let key = config_maps.key(Some("kube-system"), NAME);
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": "kube-system"},
        "data": {"client-ca-file": ca_pem},
    });
    if stored::create_missing(store, &key, &cm).await? {
        return Ok(());
    }
    stored::amend(store, &key, |existing| {
        let bundle = existing
            .pointer("/data/client-ca-file")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if bundle.contains(ca_pem.trim()) {
            return;
        }
        let joined = if bundle.trim().is_empty() {
            ca_pem.to_owned()
        } else {
            format!("{}\n{ca_pem}", bundle.trim_end())
        };
        stored::set_at(existing, &["data", "client-ca-file"], Value::String(joined));
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn bundle(store: &dyn cuttle_store::Store) -> String {
        let key = resources::find("", "v1", "configmaps")
            .unwrap()
            .key(Some("kube-system"), NAME);
        let (cm, _) = stored::read(store, &key).await;
        cm["data"]["client-ca-file"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn the_bundle_gets_the_ca_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = cuttle_store::open(&dir.path().display().to_string())
            .await
            .unwrap();
        let ca = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n";
        bootstrap(store.as_ref(), ca).await.unwrap();
        assert_eq!(bundle(store.as_ref()).await, ca);
        // Started again with another CA (a store that outlived its
        // certificates): both are trusted, each once.
        let other = ca.replace("AAA", "BBB");
        bootstrap(store.as_ref(), &other).await.unwrap();
        bootstrap(store.as_ref(), &other).await.unwrap();
        let both = bundle(store.as_ref()).await;
        assert_eq!(both.matches("BEGIN CERTIFICATE").count(), 2, "{both}");
        assert!(both.contains("AAA") && both.contains("BBB"));
    }
}
