use super::*;

fn lines(group: &str, kind: &str, obj: Value) -> Vec<String> {
    let mut obj = obj;
    apply_defaults(group, kind, &mut obj);
    let mut causes = Vec::new();
    validate(group, kind, &obj, &mut causes);
    causes.iter().map(Cause::line).collect()
}

fn update_lines(group: &str, kind: &str, new: Value, old: Value) -> Vec<String> {
    let mut causes = Vec::new();
    validate_update(group, kind, &new, &old, &mut causes);
    causes.iter().map(Cause::line).collect()
}

#[test]
fn priority_classes_keep_to_the_user_range() {
    let pc = |name: &str, value: i64| json!({"metadata": {"name": name}, "value": value});
    assert!(lines(
        "scheduling.k8s.io",
        "PriorityClass",
        pc("high", 1_000_000_000)
    )
    .is_empty());
    assert!(lines(
        "scheduling.k8s.io",
        "PriorityClass",
        pc("system-node-critical", 2_000_001_000)
    )
    .is_empty());
    assert_eq!(
        lines(
            "scheduling.k8s.io",
            "PriorityClass",
            pc("huge", 1_000_000_001)
        ),
        vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    );
    assert_eq!(
        lines("scheduling.k8s.io", "PriorityClass", pc("system-mine", 5)),
        vec!["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"]
    );
    assert_eq!(
        update_lines("scheduling.k8s.io", "PriorityClass", pc("a", 2), pc("a", 1)),
        vec!["value: Forbidden: may not be changed in an update."]
    );
}

#[test]
fn bindings_name_a_role_and_keep_it() {
    let binding = |kind: &str, role: &str| {
        json!({"roleRef": {"kind": kind, "name": role},
               "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default"}, {"kind": "Robot", "name": "r"}]})
    };
    assert_eq!(
        lines(RBAC_GROUP, "ClusterRoleBinding", binding("Role", "view")),
        vec![
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
            "subjects[1].namespace: Required value",
            "subjects[2].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
        ]
    );
    let mut defaulted = binding("ClusterRole", "view");
    apply_defaults(RBAC_GROUP, "RoleBinding", &mut defaulted);
    assert_eq!(defaulted["roleRef"]["apiGroup"], RBAC_GROUP);
    assert_eq!(defaulted["subjects"][0]["apiGroup"], RBAC_GROUP);
    let mut changed = defaulted.clone();
    changed["roleRef"]["name"] = json!("edit");
    assert_eq!(
        update_lines(RBAC_GROUP, "RoleBinding", changed, defaulted),
        vec!["roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"]
    );
}

#[test]
fn claims_and_volumes_need_modes_and_sizes() {
    assert_eq!(
        lines("", "PersistentVolumeClaim", json!({"spec": {"accessModes": ["ReadWriteSometimes"]}})),
        vec![
            "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec.resources[storage]: Required value",
        ]
    );
    assert_eq!(
        lines("", "PersistentVolumeClaim", json!({"spec": {}})),
        vec![
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value",
        ]
    );
    let good_claim = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    assert!(lines("", "PersistentVolumeClaim", good_claim).is_empty());
    assert_eq!(
        lines(
            "",
            "PersistentVolume",
            json!({"spec": {"accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/x"}, "nfs": {"server": "s", "path": "/"}}})
        ),
        vec!["spec.nfs: Forbidden: may not specify more than 1 volume type"]
    );
    let mut pv = json!({"spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/x"}}});
    apply_defaults("", "PersistentVolume", &mut pv);
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
}

#[test]
fn deployment_strategies() {
    let deployment = |strategy: Value| json!({"spec": {"strategy": strategy}});
    assert_eq!(
        lines("apps", "Deployment", deployment(json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}))),
        vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
    );
    assert_eq!(
        lines("apps", "Deployment", deployment(json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}))),
        vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0"]
    );
}

#[test]
fn fixed_fields_of_stateful_sets_claims_volumes_and_jobs() {
    let sts = |service: &str, replicas: i64| json!({"spec": {"serviceName": service, "replicas": replicas}});
    assert!(update_lines("apps", "StatefulSet", sts("a", 3), sts("a", 1)).is_empty());
    assert_eq!(
        update_lines("apps", "StatefulSet", sts("b", 1), sts("a", 1)),
        vec![format!("spec: Forbidden: {STATEFUL_SET_FORBIDDEN}")]
    );
    let claim = |size: &str, phase: &str| {
        json!({"spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}}}, "status": {"phase": phase}})
    };
    assert!(update_lines(
        "",
        "PersistentVolumeClaim",
        claim("2Gi", "Bound"),
        claim("1Gi", "Bound")
    )
    .is_empty());
    assert_eq!(
        update_lines("", "PersistentVolumeClaim", claim("2Gi", "Pending"), claim("1Gi", "Pending")),
        vec!["spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"]
    );
    assert_eq!(
        update_lines(
            "",
            "PersistentVolumeClaim",
            claim("1Gi", "Bound"),
            claim("2Gi", "Bound")
        ),
        vec![
            "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
        ]
    );
    let job = |image: &str, suspend: bool| {
        json!({"spec": {"suspend": suspend, "completions": 1,
        "template": {"spec": {"containers": [{"name": "c", "image": image}], "nodeSelector": {"a": image}}}}})
    };
    assert_eq!(
        update_lines("batch", "Job", job("x", false), job("y", false)).len(),
        1
    );
    let mut moved = job("y", true);
    moved["spec"]["template"]["spec"]["nodeSelector"] = json!({"a": "elsewhere"});
    assert!(update_lines("batch", "Job", moved, job("y", true)).is_empty());
}

#[test]
fn budgets_and_quotas() {
    assert_eq!(
        lines("policy", "PodDisruptionBudget", json!({"spec": {"minAvailable": 1, "maxUnavailable": "120%"}})),
        vec![
            "spec: Invalid value: {\"maxUnavailable\":\"120%\",\"minAvailable\":1}: minAvailable and maxUnavailable cannot be both set",
            "spec.maxUnavailable: Invalid value: 120%: must not be greater than 100%",
        ]
    );
    assert_eq!(
        lines(
            "",
            "ResourceQuota",
            json!({"spec": {"hard": {"foo": "1", "pods": "-1", "count/deployments.apps": "2"}, "scopes": ["Foo"]}})
        ),
        vec![
            "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota",
            "spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0",
            "spec.scopes[0]: Invalid value: \"Foo\": unsupported scope",
        ]
    );
}

#[test]
fn signing_request_conditions_are_exclusive_and_kept() {
    let csr = |types: &[&str]| {
        let conditions: Vec<Value> = types
            .iter()
            .map(|t| json!({"type": t, "status": "True"}))
            .collect();
        json!({"status": {"conditions": conditions}})
    };
    let group = "certificates.k8s.io";
    let kind = "CertificateSigningRequest";
    assert_eq!(
        lines(group, kind, csr(&["Approved", "Denied"])),
        vec!["status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive"]
    );
    assert_eq!(
        update_lines(group, kind, csr(&[]), csr(&["Approved"])),
        vec![
            "status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""
        ]
    );
}
