//! The checks `ValidateService` makes of a Service's type, ports,
//! selector and policies (its addresses and node ports are checked where
//! they are allocated, `api/services.rs`).

use super::text;
use crate::status::Cause;
use serde_json::{json, Value};
use std::collections::HashSet;

const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

/// Go's `%#v` of the protocol-and-port key two ports may not share.
fn port_key(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{protocol:?}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"
    )
}

/// A port number or an IANA service name (`targetPort`).
fn check_port_or_name(v: Option<&Value>, at: String, causes: &mut Vec<Cause>) {
    match v {
        Some(Value::Number(n)) if !n.as_i64().is_some_and(|p| (1..=65535).contains(&p)) => {
            causes.push(Cause::invalid_unquoted(
                at,
                &n.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        Some(Value::String(s)) => {
            for msg in super::pod_spec::port_name_errors(s) {
                causes.push(Cause::invalid_unquoted(&at, s, msg));
            }
        }
        _ => {}
    }
}

fn validate_ports(spec: &Value, causes: &mut Vec<Cause>) {
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let headless = text(spec, "clusterIP") == "None";
    if ports.is_empty() && !headless && text(spec, "type") != "ExternalName" {
        causes.push(Cause::required("spec.ports"));
    }
    let named = ports.len() > 1;
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = text(p, "name");
        if name.is_empty() {
            if named {
                causes.push(Cause::required(format!("{at}.name")));
            }
        } else {
            super::pod_spec::check_label(name, format!("{at}.name"), causes);
            if !names.insert(name) {
                causes.push(Cause::duplicate(format!("{at}.name"), &json!(name)));
            }
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&port) {
            causes.push(Cause::invalid(
                format!("{at}.port"),
                &json!(port),
                "must be between 1 and 65535, inclusive",
            ));
        }
        let protocol = p.get("protocol").unwrap_or(&Value::Null);
        let protocol_text = protocol.as_str().unwrap_or("");
        if !matches!(protocol_text, "TCP" | "UDP" | "SCTP") {
            causes.push(Cause::not_supported(
                format!("{at}.protocol"),
                protocol,
                &["SCTP", "TCP", "UDP"],
            ));
        }
        check_port_or_name(p.get("targetPort"), format!("{at}.targetPort"), causes);
        if !keys.insert((protocol_text, port)) {
            causes.push(Cause {
                reason: "FieldValueDuplicate",
                field: at,
                message: format!("Duplicate value: {}", port_key(protocol_text, port)),
            });
        }
    }
}

/// `ValidateService`, the parts not about addresses.
pub(super) fn validate(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let service_type = spec.get("type").unwrap_or(&Value::Null);
    if !service_type.as_str().is_some_and(|t| TYPES.contains(&t)) {
        causes.push(Cause::not_supported("spec.type", service_type, &TYPES));
    }
    validate_ports(spec, causes);
    crate::object_meta::validate_labels(spec.get("selector"), "spec.selector", causes);
    for (field, supported) in [
        ("sessionAffinity", &["ClientIP", "None"][..]),
        ("externalTrafficPolicy", &["Cluster", "Local"][..]),
        ("internalTrafficPolicy", &["Cluster", "Local"][..]),
    ] {
        if let Some(v) = spec.get(field).filter(|v| !v.is_null()) {
            if !v.as_str().is_some_and(|s| supported.contains(&s)) {
                causes.push(Cause::not_supported(format!("spec.{field}"), v, supported));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(spec: Value) -> Vec<String> {
        let mut causes = Vec::new();
        validate(&json!({ "spec": spec }), &mut causes);
        causes.iter().map(Cause::line).collect()
    }

    #[test]
    fn ports_are_numbered_named_and_distinct() {
        assert!(lines(json!({"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]})).is_empty());
        assert_eq!(
            lines(json!({"type": "Weird", "ports": [
                {"port": 0, "protocol": "TCP", "targetPort": 0},
                {"port": 80, "protocol": "ICMP", "name": "a", "targetPort": "http"},
                {"port": 80, "protocol": "ICMP", "name": "a", "targetPort": 80}]})),
            vec![
                "spec.type: Unsupported value: \"Weird\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.ports[2].name: Duplicate value: \"a\"",
                "spec.ports[2].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"ICMP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
            ]
        );
        assert_eq!(
            lines(json!({"type": "ClusterIP"})),
            vec!["spec.ports: Required value"]
        );
        assert!(lines(json!({"type": "ClusterIP", "clusterIP": "None"})).is_empty());
    }
}
