use super::*;
use crate::allocators::{Allocators, ServiceNetwork};

fn svc(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn spec_of(v: &Value) -> &Spec {
    v["spec"].as_object().unwrap()
}

/// Runs create's checks and allocation against an empty cluster.
fn create(spec: Value) -> Result<Value, ApiError> {
    let allocators = Allocators::new(ServiceNetwork::default());
    let mut obj = svc(spec);
    let s = spec_mut(&mut obj).unwrap();
    set_default(s, "type", json!("ClusterIP"));
    let mut causes = Vec::new();
    check_cluster_ip_fields(s, &mut causes);
    check_node_port_fields(s, &mut causes);
    default_type_fields(s, &mut causes);
    if !causes.is_empty() {
        return Err(invalid("web", causes));
    }
    let mut txn = allocators.begin(|| (Vec::new(), 1));
    allocate(&mut txn, "web", s, None)?;
    Ok(obj)
}

fn message(e: &ApiError) -> String {
    e.to_status()["message"].as_str().unwrap().to_owned()
}

#[test]
fn cluster_ip_service_gets_an_address_and_its_fields() {
    let s = create(json!({"ports": [{"port": 80}]})).unwrap();
    let ip: Ipv4Addr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
    assert!(
        ServiceNetwork::default()
            .cluster_ip_range
            .offset(ip)
            .unwrap()
            > 0
    );
    assert_eq!(s["spec"]["clusterIPs"], json!([ip.to_string()]));
    assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(s["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(s["spec"]["internalTrafficPolicy"], "Cluster");
    assert!(s["spec"].get("externalTrafficPolicy").is_none());
    assert!(s["spec"]["ports"][0].get("nodePort").is_none());
}

#[test]
fn node_port_service_gets_node_ports() {
    let s = create(json!({"type": "NodePort", "ports": [
        {"port": 80}, {"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP", "nodePort": 30053}
    ]}))
    .unwrap();
    let np = s["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np));
    // TCP and UDP 53 share the node port asked for.
    assert_eq!(s["spec"]["ports"][1]["nodePort"], 30053);
    assert_eq!(s["spec"]["ports"][2]["nodePort"], 30053);
    assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
}

#[test]
fn headless_and_external_name_get_no_address() {
    let s = create(json!({"clusterIP": "None", "selector": {"app": "x"}})).unwrap();
    assert_eq!(s["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(s["spec"]["ipFamilyPolicy"], "SingleStack");
    let s = create(json!({"clusterIP": "None"})).unwrap();
    assert_eq!(s["spec"]["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    let s = create(json!({"type": "ExternalName", "externalName": "example.com"})).unwrap();
    let spec = spec_of(&s);
    for f in [
        "clusterIP",
        "clusterIPs",
        "ipFamilies",
        "ipFamilyPolicy",
        "internalTrafficPolicy",
    ] {
        assert!(!spec.contains_key(f), "{f} set on an ExternalName service");
    }
}

#[test]
fn bad_requests_are_invalid_with_kubernetes_messages() {
    let e = create(json!({"clusterIP": "10.0.0.5"})).unwrap_err();
    assert_eq!(e.code(), 422);
    assert!(
        message(&e).contains("spec.clusterIPs: Invalid value: [\"10.0.0.5\"]: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12"),
        "{}",
        message(&e)
    );
    let e =
        create(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]})).unwrap_err();
    assert!(
        message(&e).contains("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
        "{}",
        message(&e)
    );
    let e = create(json!({"ports": [{"port": 80, "nodePort": 30080}]})).unwrap_err();
    assert!(
        message(&e).contains("may not be used when `type` is 'ClusterIP'"),
        "{}",
        message(&e)
    );
    let e = create(json!({"clusterIP": "bogus"})).unwrap_err();
    assert!(
        message(&e).contains("must be a valid IP address"),
        "{}",
        message(&e)
    );
    let e = create(json!({"type": "NodePort", "clusterIP": "None"})).unwrap_err();
    assert!(message(&e).contains("may not be set to 'None' for NodePort services"));
    let e = create(json!({"type": "ExternalName"})).unwrap_err();
    assert!(message(&e).contains("spec.externalName: Required value"));
}

fn update(old: &Value, new: Value) -> Result<Value, ApiError> {
    let services = services();
    let mut next = svc(new);
    prepare_update(services, &mut next, old)?;
    Ok(next)
}

#[test]
fn cluster_ip_is_immutable_but_kept_when_left_out() {
    let old = create(json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]})).unwrap();
    let ip = old["spec"]["clusterIP"].clone();
    let np = old["spec"]["ports"][0]["nodePort"].clone();
    // A client resubmitting its manifest keeps what was allocated.
    let next = update(
        &old,
        json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]}),
    )
    .unwrap();
    assert_eq!(next["spec"]["clusterIP"], ip);
    assert_eq!(next["spec"]["clusterIPs"], json!([ip]));
    assert_eq!(next["spec"]["ports"][0]["nodePort"], np);
    let e = update(
        &old,
        json!({"type": "NodePort", "clusterIP": "10.96.0.99", "ports": [{"port": 80}]}),
    )
    .unwrap_err();
    assert_eq!(e.code(), 422);
    assert!(
        message(&e).contains("spec.clusterIP: Invalid value: \"10.96.0.99\": field is immutable"),
        "{}",
        message(&e)
    );
}

#[test]
fn type_changes_drop_what_the_new_type_does_not_use() {
    let old = create(json!({"type": "NodePort", "ports": [{"port": 80}]})).unwrap();
    let mut back = old.clone();
    back["spec"]["type"] = json!("ClusterIP");
    let next = update(&old, back["spec"].clone()).unwrap();
    assert!(next["spec"]["ports"][0].get("nodePort").is_none());
    assert!(next["spec"].get("externalTrafficPolicy").is_none());
    assert_eq!(next["spec"]["clusterIP"], old["spec"]["clusterIP"]);

    let mut external = old.clone();
    external["spec"]["type"] = json!("ExternalName");
    external["spec"]["externalName"] = json!("example.com");
    let next = update(&old, external["spec"].clone()).unwrap();
    let spec = spec_of(&next);
    for f in [
        "clusterIP",
        "clusterIPs",
        "ipFamilies",
        "ipFamilyPolicy",
        "externalTrafficPolicy",
    ] {
        assert!(!spec.contains_key(f), "{f} kept: {next}");
    }
}

#[test]
fn becoming_node_port_allocates_node_ports() {
    let allocators = Allocators::new(ServiceNetwork::default());
    let old = create(json!({"ports": [{"port": 80}]})).unwrap();
    let mut next = old.clone();
    next["spec"]["type"] = json!("NodePort");
    prepare_update(services(), &mut next, &old).unwrap();
    let mut txn = allocators.begin(|| (Vec::new(), 1));
    allocate(
        &mut txn,
        "web",
        spec_mut(&mut next).unwrap(),
        Some(spec_of(&old)),
    )
    .unwrap();
    assert!(next["spec"]["ports"][0]["nodePort"].as_i64().is_some());
    assert_eq!(next["spec"]["clusterIP"], old["spec"]["clusterIP"]);
    assert_eq!(next["spec"]["externalTrafficPolicy"], "Cluster");
}
