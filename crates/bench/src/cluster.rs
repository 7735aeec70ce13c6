//! What a benchmark must wait for on a real cluster before it can create
//! pods, shared by the API and scheduler benchmarks.

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::{Api, Client};
use std::time::Duration;

/// How long a new namespace of a real cluster may take to get its
/// `default` service account (pods cannot be created before).
const SERVICE_ACCOUNT_WAIT: Duration = Duration::from_secs(15);

/// Waits until the new `namespace` has its `default` service account, on a
/// cluster that makes them (Kubernetes' ServiceAccount admission refuses
/// pods until the controller-manager made it). Returns at once on a
/// cluster without one in `default`, which will not make one here either;
/// gives up with a warning after 15 s, letting the creates say what is wrong.
pub async fn wait_for_default_service_account(client: &Client, namespace: &str) {
    let in_default: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    if !matches!(in_default.get_opt("default").await, Ok(Some(_))) {
        return;
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let deadline = tokio::time::Instant::now() + SERVICE_ACCOUNT_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(_)) = accounts.get_opt("default").await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tracing::warn!(
        namespace,
        "no default service account appeared; creating pods anyway"
    );
}
