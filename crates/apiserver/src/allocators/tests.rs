use super::*;
use crate::watch_cache::CachedObject;
use bytes::Bytes;

fn network(cidr: &str, ports: &str) -> Arc<Allocators> {
    Allocators::new(ServiceNetwork {
        cluster_ip_range: cidr.parse().unwrap(),
        node_port_range: ports.parse().unwrap(),
    })
}

fn stored(name: &str, rev: Revision, spec: serde_json::Value) -> Arc<CachedObject> {
    let json =
        serde_json::json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec});
    Arc::new(CachedObject {
        key: format!("/registry/services/specs/default/{name}"),
        namespace: Some("default".into()),
        name: name.into(),
        rev,
        json: Bytes::from(serde_json::to_vec(&json).unwrap()),
        labels: Default::default(),
        fields: Default::default(),
    })
}

fn nothing() -> (Vec<Arc<CachedObject>>, Revision) {
    (Vec::new(), 1)
}

#[test]
fn default_network_is_kubernetes_default() {
    let n = ServiceNetwork::default();
    assert_eq!(n.cluster_ip_range.to_string(), "10.96.0.0/12");
    assert_eq!(n.node_port_range.to_string(), "30000-32767");
}

#[test]
fn exhausting_the_ip_range_is_a_clear_error() {
    // A /28 has 14 usable addresses; the first is the kubernetes service's.
    let a = network("10.0.0.0/28", "30000-30009");
    let mut txn = a.begin(nothing);
    let mut seen = HashSet::new();
    for _ in 0..13 {
        let ip = txn.ip(None).unwrap();
        assert_ne!(ip, Ipv4Addr::new(10, 0, 0, 1), "first address handed out");
        assert_ne!(ip, Ipv4Addr::new(10, 0, 0, 0), "network address handed out");
        assert_ne!(ip, Ipv4Addr::new(10, 0, 0, 15), "broadcast handed out");
        assert!(seen.insert(ip), "{ip} handed out twice");
    }
    let err = txn.ip(None).unwrap_err();
    assert_eq!(err, AllocError::IpRangeFull);
    assert_eq!(err.to_string(), "range is full");
    // Only a request by value gets the first address.
    assert_eq!(
        txn.ip(Some(Ipv4Addr::new(10, 0, 0, 1))).unwrap(),
        Ipv4Addr::new(10, 0, 0, 1)
    );
}

#[test]
fn exhausting_the_port_range_is_a_clear_error() {
    let a = network("10.0.0.0/24", "30000-30009");
    let mut txn = a.begin(nothing);
    let ports: HashSet<u16> = (0..10).map(|_| txn.port(None).unwrap()).collect();
    assert_eq!(ports.len(), 10);
    assert_eq!(txn.port(None).unwrap_err(), AllocError::PortRangeFull);
}

#[test]
fn requested_values_must_be_in_range_and_free() {
    let a = network("10.96.0.0/12", "30000-32767");
    let mut txn = a.begin(|| {
        (
            vec![stored(
                "web",
                5,
                serde_json::json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "ports": [{"port": 80, "nodePort": 30080}]}),
            )],
            5,
        )
    });
    assert_eq!(
        txn.ip(Some(Ipv4Addr::new(10, 96, 0, 10))),
        Err(AllocError::IpAllocated)
    );
    let out = txn.ip(Some(Ipv4Addr::new(10, 0, 0, 5))).unwrap_err();
    assert_eq!(
        out.to_string(),
        "the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
    );
    // The broadcast address is outside too.
    assert!(txn.ip(Some(Ipv4Addr::new(10, 111, 255, 255))).is_err());
    assert_eq!(txn.port(Some(30080)), Err(AllocError::PortAllocated));
    assert_eq!(
        txn.port(Some(80)).unwrap_err().to_string(),
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
    assert_eq!(txn.port(Some(30081)), Ok(30081));
    // Within one transaction a value is handed out once.
    assert_eq!(txn.port(Some(30081)), Err(AllocError::PortAllocated));
}

#[test]
fn reservations_hold_until_the_cache_shows_the_write() {
    let a = network("10.96.0.0/12", "30000-32767");
    let ip = Ipv4Addr::new(10, 96, 0, 20);
    let mut txn = a.begin(nothing);
    txn.ip(Some(ip)).unwrap();
    let held = txn.finish(false);
    // In flight: taken.
    assert_eq!(a.begin(nothing).ip(Some(ip)), Err(AllocError::IpAllocated));
    held.commit(7);
    // Stored at 7 but the cache is at 6: still taken.
    assert_eq!(
        a.begin(|| (Vec::new(), 6)).ip(Some(ip)),
        Err(AllocError::IpAllocated)
    );
    // The cache applied 7 and holds the service: taken through it.
    let svc = stored("s", 7, serde_json::json!({"clusterIP": "10.96.0.20"}));
    assert_eq!(
        a.begin(|| (vec![svc], 7)).ip(Some(ip)),
        Err(AllocError::IpAllocated)
    );
    // The service was deleted: free again.
    assert_eq!(a.begin(|| (Vec::new(), 9)).ip(Some(ip)), Ok(ip));
}

#[test]
fn failed_and_dry_run_writes_keep_nothing() {
    let a = network("10.96.0.0/12", "30000-32767");
    let ip = Ipv4Addr::new(10, 96, 0, 30);
    let mut txn = a.begin(nothing);
    txn.ip(Some(ip)).unwrap();
    txn.port(Some(30100)).unwrap();
    drop(txn.finish(false));
    let mut txn = a.begin(nothing);
    assert_eq!(txn.ip(Some(ip)), Ok(ip));
    assert_eq!(txn.port(Some(30100)), Ok(30100));
    let dry = txn.finish(true);
    let mut txn = a.begin(nothing);
    assert_eq!(txn.ip(Some(ip)), Ok(ip));
    drop(txn);
    drop(dry);
}

#[test]
fn stored_services_parse() {
    let json = br#"{"spec":{"clusterIP":"10.96.0.7","clusterIPs":["10.96.0.7"],
        "ports":[{"port":80,"nodePort":30001},{"port":81}],"healthCheckNodePort":30002}}"#;
    let a = Allocated::of_service(json);
    assert_eq!(a.ips, vec![Ipv4Addr::new(10, 96, 0, 7)]);
    assert_eq!(a.ports, vec![30001, 30002]);
    let headless = Allocated::of_service(br#"{"spec":{"clusterIP":"None","clusterIPs":["None"]}}"#);
    assert_eq!(headless, Allocated::default());
    assert_eq!(Allocated::of_service(b"not json"), Allocated::default());
}

#[test]
fn concurrent_allocations_never_collide() {
    // 8 threads take 30 addresses each from a /24 (253 free): 240 distinct.
    let a = network("10.0.0.0/24", "30000-30300");
    let mut threads = Vec::new();
    for _ in 0..8 {
        let a = a.clone();
        threads.push(std::thread::spawn(move || {
            let mut mine = Vec::new();
            for _ in 0..30 {
                let mut txn = a.begin(nothing);
                let ip = txn.ip(None).unwrap();
                let port = txn.port(None).unwrap();
                mine.push((ip, port, txn.finish(false)));
                std::thread::yield_now();
            }
            mine
        }));
    }
    let all: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let ips: HashSet<_> = all.iter().map(|(ip, _, _)| *ip).collect();
    let ports: HashSet<_> = all.iter().map(|(_, p, _)| *p).collect();
    assert_eq!(ips.len(), 240);
    assert_eq!(ports.len(), 240);
}
