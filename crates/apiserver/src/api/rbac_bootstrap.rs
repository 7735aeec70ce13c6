//! The default RBAC objects every Kubernetes cluster starts with:
//! `cluster-admin` for the `system:masters` group, and the discovery,
//! basic-user and public-info roles every client is bound to, with
//! Kubernetes' rules, labels and annotations. Created when missing and
//! never touched again: Kubernetes' `rbac/bootstrap-roles` step also adds
//! back rules and subjects missing from objects marked for auto-update,
//! which this does not do yet. RBAC is stored, not yet enforced: these make
//! `kubectl get clusterroles` and tools that look for them see what a
//! cluster has.

use crate::resources;
use cuttle_store::Error as StoreError;
use serde_json::{json, Value};

/// The paths anyone may read to find out what the server serves.
const DISCOVERY_PATHS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
];
/// The paths anyone, signed in or not, may read.
const PUBLIC_INFO_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

/// `(name, rules)` of each default ClusterRole.
fn cluster_roles() -> Vec<(&'static str, Value)> {
    vec![
        (
            "cluster-admin",
            json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ]),
        ),
        (
            "system:discovery",
            json!([{"nonResourceURLs": DISCOVERY_PATHS, "verbs": ["get"]}]),
        ),
        (
            "system:public-info-viewer",
            json!([{"nonResourceURLs": PUBLIC_INFO_PATHS, "verbs": ["get"]}]),
        ),
        (
            "system:basic-user",
            json!([
                {"apiGroups": ["authorization.k8s.io"],
                 "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                 "verbs": ["create"]},
                {"apiGroups": ["authentication.k8s.io"],
                 "resources": ["selfsubjectreviews"],
                 "verbs": ["create"]},
            ]),
        ),
    ]
}

/// `(role, groups)` of each default ClusterRoleBinding (named as its role).
const BINDINGS: &[(&str, &[&str])] = &[
    ("cluster-admin", &["system:masters"]),
    ("system:discovery", &["system:authenticated"]),
    (
        "system:public-info-viewer",
        &["system:authenticated", "system:unauthenticated"],
    ),
    ("system:basic-user", &["system:authenticated"]),
];

/// The metadata Kubernetes gives its bootstrap objects.
fn bootstrap_meta(name: &str, now: &str) -> Value {
    json!({
        "name": name,
        "uid": uuid::Uuid::new_v4().to_string(),
        "creationTimestamp": now,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    })
}

/// Creates the default ClusterRoles and ClusterRoleBindings that are
/// missing.
pub async fn bootstrap(store: &dyn cuttle_store::Store) -> Result<(), StoreError> {
    let now = super::meta::now();
    let roles = resources::find("rbac.authorization.k8s.io", "v1", "clusterroles")
        .expect("clusterroles are served");
    let bindings = resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
        .expect("clusterrolebindings are served");
    let mut objects = Vec::new();
    for (name, rules) in cluster_roles() {
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": bootstrap_meta(name, &now),
            "rules": rules,
        });
        objects.push((roles.key(None, name), role));
    }
    for (role, groups) in BINDINGS {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
            .collect();
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": bootstrap_meta(role, &now),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects,
        });
        objects.push((bindings.key(None, role), binding));
    }
    for (key, obj) in objects {
        let bytes = serde_json::to_vec(&obj).unwrap_or_default();
        match store.create(&key, bytes, None).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
