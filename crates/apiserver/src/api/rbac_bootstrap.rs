//! The default RBAC objects every Kubernetes cluster starts with:
//! `cluster-admin` for the `system:masters` group, and the discovery,
//! basic-user and public-info roles every client is bound to, with
//! Kubernetes' rules, labels and annotations. Created when missing and
//! at each start given back the rules and subjects they lack, as
//! Kubernetes' `rbac/bootstrap-roles` step does for objects not marked
//! `autoupdate: "false"`. RBAC is stored, not yet enforced: these make
//! `kubectl get clusterroles` and tools that look for them see what a
//! cluster has.

use super::stored;
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

const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// The metadata Kubernetes gives its bootstrap objects.
fn bootstrap_meta(name: &str) -> Value {
    json!({
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {AUTOUPDATE: "true"},
    })
}

/// Creates the default ClusterRoles and ClusterRoleBindings that are
/// missing.
pub async fn bootstrap(store: &dyn cuttle_store::Store) -> Result<(), StoreError> {
    let roles = resources::find("rbac.authorization.k8s.io", "v1", "clusterroles")
        .expect("clusterroles are served");
    let bindings = resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
        .expect("clusterrolebindings are served");
    let mut objects = Vec::new();
    for (name, rules) in cluster_roles() {
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": bootstrap_meta(name),
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
            "metadata": bootstrap_meta(role),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects,
        });
        objects.push((bindings.key(None, role), binding));
    }
    for (key, obj) in objects {
        if !stored::create_missing(store, &key, &obj).await? {
            stored::amend(store, &key, |existing| reconcile(existing, &obj)).await?;
        }
    }
    Ok(())
}

/// Adds back to an existing bootstrap object the rules or subjects of the
/// default it lacks, with the default's label and annotation, unless its
/// annotation says `autoupdate: "false"`; what an administrator added
/// stays. Kubernetes' bootstrap-roles step does the same at each start.
fn reconcile(existing: &mut Value, default: &Value) {
    let annotation = existing
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTOUPDATE))
        .and_then(Value::as_str);
    if annotation == Some("false") {
        return;
    }
    for list in ["rules", "subjects"] {
        let Some(wanted) = default.get(list).and_then(Value::as_array) else {
            continue;
        };
        let mut merged = existing[list].as_array().cloned().unwrap_or_default();
        for w in wanted {
            if !merged.contains(w) {
                merged.push(w.clone());
            }
        }
        existing[list] = Value::Array(merged);
    }
    let label = ["metadata", "labels", "kubernetes.io/bootstrapping"];
    stored::set_at(existing, &label, json!("rbac-defaults"));
    stored::set_at(
        existing,
        &["metadata", "annotations", AUTOUPDATE],
        json!("true"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_rules_and_subjects_come_back_unless_autoupdate_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = cuttle_store::open(&dir.path().display().to_string())
            .await
            .unwrap();
        bootstrap(store.as_ref()).await.unwrap();
        let roles = resources::find("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        let bindings =
            resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings").unwrap();
        let read = |key: String| {
            let store = store.clone();
            async move { stored::read(store.as_ref(), &key).await }
        };
        // An administrator empties a role, adds a subject to a binding, and
        // turns updates off for another role.
        let role_key = roles.key(None, "system:discovery");
        let (mut role, rev) = read(role_key.clone()).await;
        let wanted_rules = role["rules"].clone();
        role["rules"] = json!([{"nonResourceURLs": ["/extra"], "verbs": ["get"]}]);
        store
            .update(&role_key, serde_json::to_vec(&role).unwrap(), rev, None)
            .await
            .unwrap();
        let binding_key = bindings.key(None, "system:basic-user");
        let (mut binding, rev) = read(binding_key.clone()).await;
        binding["subjects"] =
            json!([{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]);
        store
            .update(
                &binding_key,
                serde_json::to_vec(&binding).unwrap(),
                rev,
                None,
            )
            .await
            .unwrap();
        let frozen_key = roles.key(None, "system:basic-user");
        let (mut frozen, rev) = read(frozen_key.clone()).await;
        frozen["rules"] = json!([]);
        frozen["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] =
            json!("false");
        store
            .update(&frozen_key, serde_json::to_vec(&frozen).unwrap(), rev, None)
            .await
            .unwrap();

        bootstrap(store.as_ref()).await.unwrap();
        let (role, _) = read(role_key).await;
        let rules = role["rules"].as_array().unwrap();
        assert_eq!(
            rules.len(),
            1 + wanted_rules.as_array().unwrap().len(),
            "{role}"
        );
        assert_eq!(rules[0]["nonResourceURLs"], json!(["/extra"]));
        let (binding, _) = read(binding_key).await;
        let names: Vec<&str> = binding["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, ["alice", "system:authenticated"]);
        let (frozen, _) = read(frozen_key).await;
        assert_eq!(frozen["rules"], json!([]));
    }
}
