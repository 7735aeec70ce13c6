use super::*;

fn causes_of(spec: Value) -> Vec<String> {
    let mut spec = spec;
    apply_defaults(&mut spec);
    apply_pod_defaults(&mut spec);
    let mut causes = Vec::new();
    validate(&spec, "spec", &mut causes);
    causes.iter().map(Cause::line).collect()
}

fn one_container(c: Value) -> Value {
    let mut c = c;
    c["name"] = json!("c");
    c["image"] = json!("busybox");
    json!({"containers": [c]})
}

#[test]
fn a_plain_pod_is_valid_and_defaulted() {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox",
        "livenessProbe": {"httpGet": {"port": 80}},
        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "data"}, {"name": "cfg", "configMap": {"name": "x"}}]});
    apply_defaults(&mut spec);
    apply_pod_defaults(&mut spec);
    let c = &spec["containers"][0];
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
               "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "1", "memory": "1Gi"}),
        "requests come from limits in a pod"
    );
    assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
    assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
    let mut causes = Vec::new();
    validate(&spec, "spec", &mut causes);
    assert!(causes.is_empty(), "{causes:?}");
}

#[test]
fn templates_get_no_requests_from_limits() {
    let mut spec = one_container(json!({"resources": {"limits": {"cpu": "1"}}}));
    apply_defaults(&mut spec);
    assert!(spec["containers"][0]["resources"].get("requests").is_none());
}

#[test]
fn ports_are_checked_as_kubernetes_checks_them() {
    let causes = causes_of(one_container(json!({"ports": [
        {"containerPort": 0}, {"containerPort": 70000, "hostPort": -1, "protocol": "ICMP"},
        {"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"},
        {"containerPort": 82, "name": "Bad--Name-that-is-too-long"}]})));
    assert_eq!(
        causes,
        vec![
            "spec.containers[0].ports[0].containerPort: Required value",
            "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].ports[3].name: Duplicate value: \"http\"",
            "spec.containers[0].ports[4].name: Invalid value: \"Bad--Name-that-is-too-long\": must be no more than 15 characters",
            "spec.containers[0].ports[4].name: Invalid value: \"Bad--Name-that-is-too-long\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.containers[0].ports[4].name: Invalid value: \"Bad--Name-that-is-too-long\": must not contain consecutive hyphens",
        ]
    );
}

#[test]
fn requests_may_not_exceed_limits() {
    let causes = causes_of(one_container(json!({"resources": {
        "requests": {"cpu": "2", "memory": "-1", "example.com/gpu": "1"},
        "limits": {"cpu": "1", "foo": "1"}}})));
    let mut expected = vec![
        "spec.containers[0].resources.limits[foo]: Invalid value: foo: must be a standard resource type or fully qualified",
        "spec.containers[0].resources.limits[foo]: Invalid value: foo: must be a standard resource for containers",
        "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
        "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
        // The request defaulted from the limit is checked too.
        "spec.containers[0].resources.requests[foo]: Invalid value: foo: must be a standard resource type or fully qualified",
        "spec.containers[0].resources.requests[foo]: Invalid value: foo: must be a standard resource for containers",
    ];
    let mut causes = causes;
    causes.sort();
    expected.sort_unstable();
    assert_eq!(causes, expected);
}

#[test]
fn volumes_and_mounts_must_agree() {
    let mut spec = one_container(json!({"volumeMounts": [
        {"name": "missing", "mountPath": "/a"}, {"name": "v", "mountPath": "/a"},
        {"name": "v", "mountPath": "/b", "subPath": "../x"}]}));
    spec["volumes"] = json!([{"name": "v", "emptyDir": {}},
        {"name": "v", "secret": {}}, {"name": "Bad_Name", "configMap": {"name": "c"}},
        {"name": "two", "hostPath": {"path": "/tmp"}, "downwardAPI": {}}]);
    let causes = causes_of(spec);
    for expected in [
        "spec.volumes[3].downwarAPI: Forbidden: may not specify more than 1 volume type",
        "spec.volumes[1].secret.secretName: Required value",
        "spec.volumes[1].name: Duplicate value: \"v\"",
        "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
        "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
        "spec.containers[0].volumeMounts.subPath: Invalid value: \"../x\": must not contain '..'",
    ] {
        assert!(
            causes.iter().any(|c| c == expected),
            "{expected}\n{causes:#?}"
        );
    }
    assert!(causes.iter().any(|c| c.starts_with(
        "spec.volumes[2].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label"
    )));
}

#[test]
fn probes_need_one_handler() {
    let causes = causes_of(one_container(json!({
        "livenessProbe": {"periodSeconds": 5},
        "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}},
        "startupProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}})));
    assert_eq!(
        causes,
        vec![
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
            "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            "spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1",
        ]
    );
}

#[test]
fn env_tolerations_and_pod_fields() {
    let mut spec = one_container(json!({"env": [{"name": ""}, {"name": "A=B"},
        {"name": "X", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "a"}, "secretKeyRef": {"key": "k"}}}]}));
    spec["tolerations"] = json!([{"operator": "Equal"}, {"key": "k", "operator": "Exists", "value": "v"},
        {"key": "k", "operator": "In", "effect": "Sometimes"}, {"key": "k", "tolerationSeconds": 5}]);
    spec["dnsPolicy"] = json!("None");
    spec["activeDeadlineSeconds"] = json!(0);
    spec["nodeSelector"] = json!({"bad key": "v"});
    let causes = causes_of(spec);
    for expected in [
        "spec.containers[0].env[0].name: Required value",
        "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
        "spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
        "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        "spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
        "spec.tolerations[2].operator: Unsupported value: \"In\": supported values: \"Equal\", \"Exists\"",
        "spec.tolerations[2].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
        "spec.tolerations[3].effect: Invalid value: \"\": effect must be 'NoExecute' when `tolerationSeconds` is set",
        "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
        "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
    ] {
        assert!(causes.iter().any(|c| c == expected), "{expected}\n{causes:#?}");
    }
    assert!(causes
        .iter()
        .any(|c| c.starts_with("spec.nodeSelector: Invalid value: \"bad key\"")));
}

#[test]
fn template_restart_policies() {
    let mut causes = Vec::new();
    validate_template_restart(
        &json!({"restartPolicy": "Always"}),
        "spec.template.spec",
        true,
        &mut causes,
    );
    validate_template_restart(
        &json!({"restartPolicy": "Never"}),
        "spec.template.spec",
        false,
        &mut causes,
    );
    let lines: Vec<String> = causes.iter().map(Cause::line).collect();
    assert_eq!(
        lines,
        vec![
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
        ]
    );
}

#[test]
fn host_ports_are_taken_once_and_match_on_the_host_network() {
    let mut spec = json!({"hostNetwork": true, "containers": [
        {"name": "a", "image": "i", "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 82}]},
        {"name": "b", "image": "i", "ports": [{"containerPort": 80}]}]});
    let causes = causes_of(spec.clone());
    assert_eq!(
        causes,
        vec![
            "spec.containers[0].ports[1].hostPort: Invalid value: 82: must match `containerPort` when `hostNetwork` is true",
            "spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//80\"",
        ]
    );
    apply_pod_defaults(&mut spec);
    assert_eq!(spec["containers"][0]["ports"][0]["hostPort"], 80);
}
