//! Printers of Services, Endpoints, EndpointSlices and the
//! networking.k8s.io kinds: Ingress, IngressClass, NetworkPolicy,
//! ServiceCIDR and IPAddress.

use super::{
    age, format_label_selector, format_labels, list, n, name, none_if_empty, object, s, Col, AGE,
    NAME,
};
use serde_json::{json, Value};

pub(super) const SERVICE: &[Col] = &[
    NAME,
    ("Type", "string", 0),
    ("Cluster-IP", "string", 0),
    ("External-IP", "string", 0),
    ("Port(s)", "string", 0),
    AGE,
    ("Selector", "string", 1),
];

/// The EXTERNAL-IP cell (`getServiceExternalIP`, wide as the server
/// prints it: load-balancer addresses are never clipped).
fn external_ip(v: &Value) -> String {
    let external: Vec<&str> = list(v, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match s(v, "/spec/type") {
        "ClusterIP" | "NodePort" => none_if_empty(external.join(",")),
        "LoadBalancer" => {
            let mut ingress = load_balancer_addresses(v);
            ingress.extend(external);
            if ingress.is_empty() {
                "<pending>".to_owned()
            } else {
                ingress.join(",")
            }
        }
        "ExternalName" => s(v, "/spec/externalName").to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// The load balancer's IPs or hostnames in `status.loadBalancer.ingress`
/// (Services and Ingresses), sorted and deduplicated; the server prints
/// wide, so they are never clipped.
fn load_balancer_addresses(v: &Value) -> Vec<&str> {
    let mut addresses: Vec<&str> = list(v, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| match s(i, "/ip") {
            "" => s(i, "/hostname"),
            ip => ip,
        })
        .filter(|a| !a.is_empty())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    addresses
}

/// `makePortString`: `port/proto` or `port:nodePort/proto`, comma-joined.
fn service_ports(v: &Value) -> String {
    let parts: Vec<String> = list(v, "/spec/ports")
        .iter()
        .map(|p| {
            let (port, proto) = (n(p, "/port"), s(p, "/protocol"));
            match n(p, "/nodePort") {
                0 => format!("{port}/{proto}"),
                node_port => format!("{port}:{node_port}/{proto}"),
            }
        })
        .collect();
    none_if_empty(parts.join(","))
}

pub(super) fn service_row(v: &Value) -> Vec<Value> {
    // clusterIPs[0]; clusterIP holds the same address.
    let cluster_ip = match s(v, "/spec/clusterIPs/0") {
        "" => s(v, "/spec/clusterIP"),
        ip => ip,
    };
    vec![
        name(v),
        json!(s(v, "/spec/type")),
        json!(none_if_empty(cluster_ip.to_owned())),
        json!(external_ip(v)),
        json!(service_ports(v)),
        age(v),
        json!(format_labels(object(v, "/spec/selector"))),
    ]
}

pub(super) const ENDPOINTS: &[Col] = &[NAME, ("Endpoints", "string", 0), AGE];

/// At most three entries of `items` (of `count` in all), then
/// "+ N more...".
fn first_three(items: Vec<String>, count: usize) -> String {
    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if count > 3 {
        format!("{shown} + {} more...", count - 3)
    } else {
        shown
    }
}

/// `formatEndpoints`: `ip:port` for each address and port (bare `ip` for
/// a subset without ports).
pub(super) fn endpoints_row(v: &Value) -> Vec<Value> {
    let subsets = list(v, "/subsets");
    let text = if subsets.is_empty() {
        "<none>".to_owned()
    } else {
        let mut entries = Vec::new();
        for ss in subsets {
            let ips: Vec<&str> = list(ss, "/addresses").iter().map(|a| s(a, "/ip")).collect();
            let ports = list(ss, "/ports");
            if ports.is_empty() {
                entries.extend(ips.iter().map(|ip| (*ip).to_owned()));
            }
            for p in ports {
                let port = n(p, "/port");
                entries.extend(ips.iter().map(|ip| match ip.contains(':') {
                    true => format!("[{ip}]:{port}"),
                    false => format!("{ip}:{port}"),
                }));
            }
        }
        let count = entries.len();
        first_three(entries, count)
    };
    vec![name(v), json!(text), age(v)]
}

pub(super) const ENDPOINT_SLICE: &[Col] = &[
    NAME,
    ("AddressType", "string", 0),
    ("Ports", "string", 0),
    ("Endpoints", "string", 0),
    AGE,
];

/// `listWithMoreString`: as [`first_three`], `<unset>` when empty.
fn unset_if_empty(items: Vec<String>) -> String {
    let count = items.len();
    match first_three(items, count) {
        text if text.is_empty() => "<unset>".to_owned(),
        text => text,
    }
}

pub(super) fn endpoint_slice_row(v: &Value) -> Vec<Value> {
    let ports = list(v, "/ports")
        .iter()
        .map(|p| match p.get("port").and_then(Value::as_i64) {
            Some(port) => port.to_string(),
            None => p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_owned(),
        })
        .collect();
    let addresses = list(v, "/endpoints")
        .iter()
        .flat_map(|e| list(e, "/addresses"))
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    vec![
        name(v),
        json!(s(v, "/addressType")),
        json!(unset_if_empty(ports)),
        json!(unset_if_empty(addresses)),
        age(v),
    ]
}

pub(super) const INGRESS: &[Col] = &[
    NAME,
    ("Class", "string", 0),
    ("Hosts", "string", 0),
    ("Address", "string", 0),
    ("Ports", "string", 0),
    AGE,
];

/// `formatHosts`: the rules' hosts (at most three, then "+ N more..."),
/// `*` when no rule names one.
fn ingress_hosts(v: &Value) -> String {
    let rules = list(v, "/spec/rules");
    let hosts: Vec<&str> = rules
        .iter()
        .take(3)
        .map(|r| s(r, "/host"))
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() {
        return "*".to_owned();
    }
    let shown = hosts.join(",");
    if rules.len() > 3 {
        format!("{shown} + {} more...", rules.len() - 3)
    } else {
        shown
    }
}

pub(super) fn ingress_row(v: &Value) -> Vec<Value> {
    let class = v
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let addresses = load_balancer_addresses(v);
    let ports = if list(v, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(v),
        json!(class),
        json!(ingress_hosts(v)),
        json!(addresses.join(",")),
        json!(ports),
        age(v),
    ]
}

pub(super) const INGRESS_CLASS: &[Col] = &[
    NAME,
    ("Controller", "string", 0),
    ("Parameters", "string", 0),
    AGE,
];

/// PARAMETERS: `Kind[.apiGroup]/name`, or `<none>`.
pub(super) fn ingress_class_row(v: &Value) -> Vec<Value> {
    let parameters = match v.pointer("/spec/parameters").filter(|p| p.is_object()) {
        Some(p) => {
            let mut text = s(p, "/kind").to_owned();
            if let Some(group) = p.get("apiGroup").and_then(Value::as_str) {
                text = format!("{text}.{group}");
            }
            format!("{text}/{}", s(p, "/name"))
        }
        None => "<none>".to_owned(),
    };
    vec![
        name(v),
        json!(s(v, "/spec/controller")),
        json!(parameters),
        age(v),
    ]
}

pub(super) const NETWORK_POLICY: &[Col] = &[NAME, ("Pod-Selector", "string", 0), AGE];

pub(super) fn network_policy_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        json!(format_label_selector(v.pointer("/spec/podSelector"))),
        age(v),
    ]
}

pub(super) const SERVICE_CIDR: &[Col] = &[NAME, ("CIDRs", "string", 0), AGE];

pub(super) fn service_cidr_row(v: &Value) -> Vec<Value> {
    let cidrs: Vec<&str> = list(v, "/spec/cidrs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    vec![name(v), json!(cidrs.join(",")), age(v)]
}

/// Kubernetes' IPAddress printer defines these two columns only.
pub(super) const IP_ADDRESS: &[Col] = &[NAME, ("ParentRef", "string", 0)];

/// `resource.group/namespace/name` (lowercased group-resource; the
/// namespace only when set), or `<none>`.
pub(super) fn ip_address_row(v: &Value) -> Vec<Value> {
    let parent = match v.pointer("/spec/parentRef") {
        None | Some(Value::Null) => "<none>".to_owned(),
        Some(r) => {
            let mut gr = s(r, "/resource").to_lowercase();
            if !s(r, "/group").is_empty() {
                gr = format!("{gr}.{}", s(r, "/group").to_lowercase());
            }
            match s(r, "/namespace") {
                "" => format!("{gr}/{}", s(r, "/name")),
                ns => format!("{gr}/{ns}/{}", s(r, "/name")),
            }
        }
    };
    vec![name(v), json!(parent)]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{meta, print, priorities};
    use serde_json::json;

    #[test]
    fn service_rows() {
        let svc = json!({"metadata": meta(), "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"], "selector": {"app": "web"},
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}});
        let (names, cells) = print("", "Service", svc);
        assert_eq!(
            names,
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        assert_eq!(
            &cells[1..5],
            &[
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP")
            ]
        );
        assert_eq!(cells[6], "app=web");
        assert_eq!(priorities("", "Service"), [0, 0, 0, 0, 0, 0, 1]);
        let lb = json!({"metadata": meta(), "spec": {"type": "LoadBalancer", "externalIPs": ["1.2.3.4"]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}});
        let (_, cells) = print("", "Service", lb);
        assert_eq!(cells[2], "<none>");
        assert_eq!(cells[3], "lb.example.com,1.2.3.4");
        assert_eq!(cells[4], "<none>");
        let pending = json!({"metadata": meta(), "spec": {"type": "LoadBalancer"}});
        assert_eq!(print("", "Service", pending).1[3], "<pending>");
        let ext = json!({"metadata": meta(), "spec": {"type": "ExternalName", "externalName": "example.com"}});
        assert_eq!(print("", "Service", ext).1[3], "example.com");
    }

    #[test]
    fn endpoints_row() {
        let ep = json!({"metadata": meta(), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
            "ports": [{"port": 80}, {"port": 443}]}]});
        let (names, cells) = print("", "Endpoints", ep);
        assert_eq!(names, ["Name", "Endpoints", "Age"]);
        assert_eq!(cells[1], "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...");
        let empty = json!({"metadata": meta()});
        assert_eq!(print("", "Endpoints", empty).1[1], "<none>");
    }

    #[test]
    fn endpoint_slice_row() {
        let slice = json!({"metadata": meta(), "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80}, {"name": "metrics"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]});
        let (names, cells) = print("discovery.k8s.io", "EndpointSlice", slice);
        assert_eq!(names, ["Name", "AddressType", "Ports", "Endpoints", "Age"]);
        assert_eq!(
            &cells[1..4],
            &[
                json!("IPv4"),
                json!("80,metrics"),
                json!("10.0.0.1,10.0.0.2")
            ]
        );
        let empty = json!({"metadata": meta(), "addressType": "IPv4"});
        assert_eq!(
            print("discovery.k8s.io", "EndpointSlice", empty).1[2..4],
            [json!("<unset>"), json!("<unset>")]
        );
    }

    #[test]
    fn ingress_rows() {
        let ing = json!({"metadata": meta(), "spec": {"ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example.com"]}],
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "d.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example.com"}, {"ip": "10.0.0.2"}]}}});
        let (names, cells) = print("networking.k8s.io", "Ingress", ing);
        assert_eq!(names, ["Name", "Class", "Hosts", "Address", "Ports", "Age"]);
        assert_eq!(
            &cells[1..5],
            &[
                json!("nginx"),
                json!("a.example.com,b.example.com + 1 more..."),
                json!("10.0.0.2,lb.example.com"),
                json!("80, 443")
            ]
        );
        let bare = json!({"metadata": meta(), "spec": {"defaultBackend": {}}});
        let cells = print("networking.k8s.io", "Ingress", bare).1;
        assert_eq!(
            &cells[1..5],
            &[json!("<none>"), json!("*"), json!(""), json!("80")]
        );
    }

    #[test]
    fn ingress_class_and_network_policy_rows() {
        let ic = json!({"metadata": meta(), "spec": {"controller": "example.com/ingress",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"}}});
        let (names, cells) = print("networking.k8s.io", "IngressClass", ic);
        assert_eq!(names, ["Name", "Controller", "Parameters", "Age"]);
        assert_eq!(
            &cells[1..3],
            &[
                json!("example.com/ingress"),
                json!("Params.k8s.example.com/p")
            ]
        );
        let np =
            json!({"metadata": meta(), "spec": {"podSelector": {"matchLabels": {"app": "web"}}}});
        let (names, cells) = print("networking.k8s.io", "NetworkPolicy", np);
        assert_eq!(names, ["Name", "Pod-Selector", "Age"]);
        assert_eq!(cells[1], "app=web");
        let all = json!({"metadata": meta(), "spec": {"podSelector": {}}});
        assert_eq!(
            print("networking.k8s.io", "NetworkPolicy", all).1[1],
            "<none>"
        );
    }
}
