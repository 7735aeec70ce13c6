//! Services as kube-apiserver's service registry treats them: cluster IPs
//! and node ports allocated on create and on type changes (through
//! [`crate::allocators`]), the fields that follow from the type defaulted
//! or dropped, and a set cluster IP immutable. What exists at startup (the
//! `kubernetes` service, its endpoints, the default ServiceCIDR) is made in
//! `services/bootstrap.rs`.

use super::meta::meta_str;
use super::ApiServer;
use crate::allocators::{AllocError, Reservation, Txn};
use crate::resources::{self, Resource};
use crate::status::{ApiError, Cause};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

type Spec = Map<String, Value>;

fn is_service(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.kind == "Service"
}

fn services() -> &'static Resource {
    resources::find("", "v1", "services").expect("services are served")
}

fn str_of<'a>(spec: &'a Spec, field: &str) -> &'a str {
    spec.get(field).and_then(Value::as_str).unwrap_or("")
}

fn service_type(spec: &Spec) -> &str {
    match str_of(spec, "type") {
        "" => "ClusterIP",
        t => t,
    }
}

fn needs_cluster_ip(spec: &Spec) -> bool {
    service_type(spec) != "ExternalName"
}

fn needs_node_ports(spec: &Spec) -> bool {
    matches!(service_type(spec), "NodePort" | "LoadBalancer")
}

fn needs_health_check_port(spec: &Spec) -> bool {
    service_type(spec) == "LoadBalancer" && str_of(spec, "externalTrafficPolicy") == "Local"
}

/// NodePort services always get node ports; LoadBalancers unless
/// `allocateLoadBalancerNodePorts` is false.
fn allocates_node_ports(spec: &Spec) -> bool {
    match service_type(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec
            .get("allocateLoadBalancerNodePorts")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        _ => false,
    }
}

fn cluster_ip(spec: &Spec) -> &str {
    str_of(spec, "clusterIP")
}

fn cluster_ips(spec: &Spec) -> Vec<&str> {
    spec.get("clusterIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn is_headless(spec: &Spec) -> bool {
    cluster_ip(spec) == "None" || cluster_ips(spec).first() == Some(&"None")
}

fn selectorless(spec: &Spec) -> bool {
    spec.get("selector")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
}

fn ports(spec: &Spec) -> &[Value] {
    spec.get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A port's `nodePort`, when set (0 counts as unset).
fn node_port_of(port: &Value) -> Option<i64> {
    port.get("nodePort")
        .and_then(Value::as_i64)
        .filter(|p| *p != 0)
}

fn node_ports(spec: &Spec) -> HashSet<i64> {
    ports(spec).iter().filter_map(node_port_of).collect()
}

fn health_check_port(spec: &Spec) -> Option<i64> {
    spec.get("healthCheckNodePort")
        .and_then(Value::as_i64)
        .filter(|p| *p != 0)
}

fn set_default(spec: &mut Spec, field: &str, v: Value) {
    if spec.get(field).is_none_or(Value::is_null) {
        spec.insert(field.to_owned(), v);
    }
}

fn spec_mut(obj: &mut Value) -> Option<&mut Spec> {
    let o = obj.as_object_mut()?;
    o.entry("spec").or_insert_with(|| json!({})).as_object_mut()
}

/// Checks and completes the cluster IP fields of a service being created:
/// `clusterIPs` follows `clusterIP`, requested addresses must be IPv4
/// addresses, headless services cannot be NodePort or LoadBalancer.
fn check_cluster_ip_fields(spec: &mut Spec, causes: &mut Vec<Cause>) {
    if !needs_cluster_ip(spec) {
        if !cluster_ip(spec).is_empty() || !cluster_ips(spec).is_empty() {
            causes.push(Cause::forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services",
            ));
        }
        if str_of(spec, "externalName").is_empty() {
            causes.push(Cause::required("spec.externalName"));
        }
        return;
    }
    let single = cluster_ip(spec).to_owned();
    let plural: Vec<String> = cluster_ips(spec).into_iter().map(str::to_owned).collect();
    match (single.is_empty(), plural.first()) {
        (false, None) => {
            spec.insert("clusterIPs".into(), json!([single]));
        }
        (true, Some(first)) => {
            spec.insert("clusterIP".into(), json!(first));
        }
        (false, Some(first)) if *first != single => causes.push(Cause::invalid(
            "spec.clusterIPs[0]",
            &json!(plural),
            "must match `clusterIP` when both are specified",
        )),
        _ => {}
    }
    let plural: Vec<String> = cluster_ips(spec).into_iter().map(str::to_owned).collect();
    if plural.len() > 1 {
        causes.push(Cause::invalid(
            "spec.clusterIPs",
            &json!(plural),
            "this cluster is not configured for dual-stack services",
        ));
    }
    if let Some(ip) = plural.first() {
        match ip.parse::<IpAddr>() {
            _ if ip == "None" => {
                if needs_node_ports(spec) {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs[0]",
                        &json!(ip),
                        format!(
                            "may not be set to 'None' for {} services",
                            service_type(spec)
                        ),
                    ));
                }
            }
            Ok(IpAddr::V4(_)) => {}
            Ok(IpAddr::V6(_)) => causes.push(Cause::invalid(
                "spec.clusterIPs[0]",
                &json!(plural),
                "IPv6 is not configured on this cluster",
            )),
            Err(_) => causes.push(Cause::invalid(
                "spec.clusterIPs[0]",
                &json!(ip),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            )),
        }
    }
}

/// Node ports only go with NodePort and LoadBalancer services.
fn check_node_port_fields(spec: &Spec, causes: &mut Vec<Cause>) {
    if needs_node_ports(spec) {
        return;
    }
    for (i, p) in ports(spec).iter().enumerate() {
        if node_port_of(p).is_some() {
            causes.push(Cause::forbidden(
                format!("spec.ports[{i}].nodePort"),
                format!("may not be used when `type` is '{}'", service_type(spec)),
            ));
        }
    }
}

/// The fields that follow from the type: IP family fields and the traffic
/// policies (a single-stack IPv4 cluster), LoadBalancer node port allocation.
fn default_type_fields(spec: &mut Spec, causes: &mut Vec<Cause>) {
    if !needs_cluster_ip(spec) {
        return;
    }
    let headless_selectorless = is_headless(spec) && selectorless(spec);
    set_default(
        spec,
        "ipFamilyPolicy",
        json!(if headless_selectorless {
            "RequireDualStack"
        } else {
            "SingleStack"
        }),
    );
    let policy = str_of(spec, "ipFamilyPolicy").to_owned();
    if !matches!(
        policy.as_str(),
        "SingleStack" | "PreferDualStack" | "RequireDualStack"
    ) {
        causes.push(Cause::not_supported(
            "spec.ipFamilyPolicy",
            &json!(policy),
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let families_empty = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if families_empty {
        let families = if headless_selectorless && policy != "SingleStack" {
            json!(["IPv4", "IPv6"])
        } else {
            json!(["IPv4"])
        };
        spec.insert("ipFamilies".into(), families);
    } else if !headless_selectorless {
        let families = spec["ipFamilies"].as_array().cloned().unwrap_or_default();
        for (i, f) in families.iter().enumerate() {
            if f != "IPv4" {
                causes.push(Cause::invalid(
                    format!("spec.ipFamilies[{i}]"),
                    f,
                    "not configured on this cluster",
                ));
            }
        }
    }
    if !headless_selectorless && policy == "RequireDualStack" {
        causes.push(Cause::invalid(
            "spec.ipFamilyPolicy",
            &json!(policy),
            "this cluster is not configured for dual-stack services",
        ));
    }
    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    if needs_node_ports(spec) {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if service_type(spec) == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn invalid(name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::invalid(services(), name, causes)
}

fn ip_error(name: &str, shown: &Value, ip: &str, e: AllocError) -> ApiError {
    match e {
        AllocError::IpRangeFull => ApiError::internal(format!(
            "Internal error occurred: failed to allocate a serviceIP: {e}"
        )),
        e => invalid(
            name,
            vec![Cause::invalid(
                "spec.clusterIPs",
                shown,
                format!("failed to allocate IP {ip}: {e}"),
            )],
        ),
    }
}

fn port_error(name: &str, field: String, value: i64, e: AllocError) -> ApiError {
    match e {
        AllocError::PortRangeFull => ApiError::internal(format!(
            "Internal error occurred: failed to allocate a nodePort: {e}"
        )),
        e => invalid(
            name,
            vec![Cause::invalid(field, &json!(value), e.to_string())],
        ),
    }
}

/// Allocates what `spec` lacks and reserves what it asks for by value;
/// `old` is the stored spec on an update (its values are this service's
/// already).
fn allocate(
    txn: &mut Txn<'_>,
    name: &str,
    spec: &mut Spec,
    old: Option<&Spec>,
) -> Result<(), ApiError> {
    if needs_cluster_ip(spec) && !is_headless(spec) {
        let old_ip = old
            .filter(|o| needs_cluster_ip(o))
            .map(cluster_ip)
            .unwrap_or("");
        let wanted = cluster_ip(spec).to_owned();
        if old_ip.is_empty() || old_ip != wanted {
            let requested = match wanted.as_str() {
                "" => None,
                ip => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
                    invalid(
                        name,
                        vec![Cause::invalid(
                            "spec.clusterIPs[0]",
                            &json!(ip),
                            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                        )],
                    )
                })?),
            };
            let shown = spec.get("clusterIPs").cloned().unwrap_or(json!([]));
            let ip = txn
                .ip(requested)
                .map_err(|e| ip_error(name, &shown, &wanted, e))?;
            spec.insert("clusterIP".into(), json!(ip.to_string()));
            spec.insert("clusterIPs".into(), json!([ip.to_string()]));
        }
    }
    if needs_node_ports(spec) {
        let old_ports = old.map(node_ports).unwrap_or_default();
        let auto = allocates_node_ports(spec);
        // Ports sharing a number (TCP and UDP 53) share a node port.
        let mut by_number: HashMap<i64, i64> = HashMap::new();
        for p in ports(spec) {
            if let (Some(n), Some(np)) = (p.get("port").and_then(Value::as_i64), node_port_of(p)) {
                by_number.entry(n).or_insert(np);
            }
        }
        let mut mine: HashSet<i64> = HashSet::new();
        let list = spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(list.len());
        let mut failed = None;
        for (i, mut p) in list.into_iter().enumerate() {
            if failed.is_some() {
                out.push(p);
                continue;
            }
            let number = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let requested = node_port_of(&p)
                .or_else(|| auto.then(|| by_number.get(&number).copied()).flatten());
            let field = format!("spec.ports[{i}].nodePort");
            let result = match requested {
                Some(np) if old_ports.contains(&np) || mine.contains(&np) => Ok(np),
                Some(np) => match u16::try_from(np) {
                    Ok(port) => txn.port(Some(port)).map(i64::from),
                    Err(_) => Err(AllocError::PortNotInRange {
                        range: txn_range(txn),
                    }),
                }
                .map_err(|e| port_error(name, field, np, e)),
                None if auto => txn
                    .port(None)
                    .map(i64::from)
                    .map_err(|e| port_error(name, field, 0, e)),
                None => {
                    out.push(p);
                    continue;
                }
            };
            match result {
                Ok(np) => {
                    mine.insert(np);
                    by_number.entry(number).or_insert(np);
                    p["nodePort"] = json!(np);
                }
                Err(e) => failed = Some(e),
            }
            out.push(p);
        }
        spec.insert("ports".into(), Value::Array(out));
        if let Some(e) = failed {
            return Err(e);
        }
    }
    if needs_health_check_port(spec) {
        let old_port = old.and_then(health_check_port);
        let field = "spec.healthCheckNodePort".to_owned();
        match health_check_port(spec) {
            Some(np) if Some(np) == old_port => {}
            Some(np) => {
                let port = u16::try_from(np).map_err(|_| {
                    port_error(
                        name,
                        field.clone(),
                        np,
                        AllocError::PortNotInRange {
                            range: txn_range(txn),
                        },
                    )
                })?;
                txn.port(Some(port))
                    .map_err(|e| port_error(name, field, np, e))?;
            }
            None => {
                let port = txn.port(None).map_err(|e| port_error(name, field, 0, e))?;
                spec.insert("healthCheckNodePort".into(), json!(port));
            }
        }
    }
    Ok(())
}

fn txn_range(txn: &Txn<'_>) -> crate::allocators::PortRange {
    txn.network().node_port_range
}

/// On create: defaults the fields that follow from the type, checks the
/// requested cluster IP and node ports and allocates the rest. The caller
/// holds the reservation across the store write and commits it with the
/// write's revision; with `dry_run` the values are shown but not kept.
pub async fn allocate_create(
    api: &ApiServer,
    resource: &Resource,
    obj: &mut Value,
    dry_run: bool,
) -> Result<Reservation, ApiError> {
    if !is_service(resource) {
        return Ok(Reservation::none());
    }
    let name = meta_str(obj, "name").unwrap_or_default().to_owned();
    let Some(spec) = spec_mut(obj) else {
        return Ok(Reservation::none());
    };
    set_default(spec, "type", json!("ClusterIP"));
    let mut causes = Vec::new();
    check_cluster_ip_fields(spec, &mut causes);
    check_node_port_fields(spec, &mut causes);
    default_type_fields(spec, &mut causes);
    if !causes.is_empty() {
        return Err(invalid(&name, causes));
    }
    // A value asked for by number may have been freed by a delete the
    // cache has not applied yet.
    let requested = (!cluster_ip(spec).is_empty() && !is_headless(spec))
        || !node_ports(spec).is_empty()
        || health_check_port(spec).is_some();
    if requested {
        super::read::wait_fresh(api, None).await?;
    }
    let mut txn = api.allocators.begin(|| api.cache.list(services(), None));
    allocate(&mut txn, &name, spec, None)?;
    Ok(txn.finish(dry_run))
}

/// On update, before the change is compared and validated: keeps the
/// values allocated before that the client left out, drops those the new
/// type has no use for, refuses a changed cluster IP, and defaults the
/// fields that follow from the type. Pure: allocation comes after
/// ([`allocate_update`]).
pub fn prepare_update(resource: &Resource, next: &mut Value, old: &Value) -> Result<(), ApiError> {
    if !is_service(resource) {
        return Ok(());
    }
    let Some(old) = old.get("spec").and_then(Value::as_object) else {
        return Ok(());
    };
    let name = meta_str(next, "name").unwrap_or_default().to_owned();
    let Some(spec) = spec_mut(next) else {
        return Ok(());
    };
    set_default(spec, "type", json!("ClusterIP"));
    normalize_cluster_ips(spec, old);
    patch_allocated_values(spec, old);
    drop_type_dependent_fields(spec, old);
    let mut causes = Vec::new();
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        let old_ip = cluster_ip(old);
        if !old_ip.is_empty() && cluster_ip(spec) != old_ip {
            causes.push(Cause::invalid(
                "spec.clusterIP",
                &json!(cluster_ip(spec)),
                "field is immutable",
            ));
        }
        let old_ips = cluster_ips(old);
        let new_ips = cluster_ips(spec);
        if let Some(first) = old_ips.first() {
            match new_ips.first() {
                None => causes.push(Cause::required_because(
                    "spec.clusterIPs[0]",
                    "primary clusterIP can not be unset",
                )),
                Some(now) if now != first => causes.push(Cause::invalid(
                    "spec.clusterIPs[0]",
                    &json!(new_ips),
                    "may not change once set",
                )),
                Some(_) => {}
            }
        }
    }
    if causes.is_empty() {
        check_cluster_ip_fields(spec, &mut causes);
        check_node_port_fields(spec, &mut causes);
        default_type_fields(spec, &mut causes);
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(&name, causes))
    }
}

/// `clusterIPs` follows a `clusterIP` an older client changed or cleared.
fn normalize_cluster_ips(spec: &mut Spec, old: &Spec) {
    let same_plural = cluster_ips(spec) == cluster_ips(old);
    if !cluster_ips(old).is_empty()
        && cluster_ips(spec).is_empty()
        && cluster_ip(old) == cluster_ip(spec)
    {
        spec.insert("clusterIPs".into(), old["clusterIPs"].clone());
    }
    if cluster_ip(old) != cluster_ip(spec) && same_plural {
        if cluster_ip(spec).is_empty() {
            spec.remove("clusterIPs");
        } else {
            let ip = cluster_ip(spec).to_owned();
            spec.insert("clusterIPs".into(), json!([ip]));
        }
    }
}

/// Values the server allocated that a client resubmitting its own manifest
/// left out.
fn patch_allocated_values(spec: &mut Spec, old: &Spec) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if cluster_ip(spec).is_empty() && !cluster_ip(old).is_empty() {
            spec.insert("clusterIP".into(), old["clusterIP"].clone());
        }
        if cluster_ips(spec).is_empty() && !cluster_ips(old).is_empty() {
            spec.insert("clusterIPs".into(), old["clusterIPs"].clone());
        }
    }
    if needs_node_ports(old) && needs_node_ports(spec) {
        let kept: HashSet<i64> = node_ports(old)
            .intersection(&node_ports(spec))
            .copied()
            .collect();
        let by_name: HashMap<String, i64> = ports(old)
            .iter()
            .filter_map(|p| {
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                Some((name.to_owned(), node_port_of(p)?))
            })
            .collect();
        if let Some(list) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in list {
                if node_port_of(p).is_some() {
                    continue;
                }
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                if let Some(np) = by_name.get(name).filter(|np| !kept.contains(np)) {
                    p["nodePort"] = json!(np);
                }
            }
        }
    }
    if needs_health_check_port(old)
        && needs_health_check_port(spec)
        && health_check_port(spec).is_none()
    {
        if let Some(p) = health_check_port(old) {
            spec.insert("healthCheckNodePort".into(), json!(p));
        }
    }
}

/// Fields the new type has no use for, when the client did not change
/// them; allocated values so dropped are freed with the write.
fn drop_type_dependent_fields(spec: &mut Spec, old: &Spec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if cluster_ip(spec) == cluster_ip(old) && cluster_ips(spec) == cluster_ips(old) {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        for field in ["ipFamilies", "ipFamilyPolicy"] {
            if spec.get(field) == old.get(field) {
                spec.remove(field);
            }
        }
    }
    if needs_node_ports(old)
        && !needs_node_ports(spec)
        && node_ports(spec).is_subset(&node_ports(old))
    {
        if let Some(list) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in list.iter_mut().filter_map(Value::as_object_mut) {
                p.remove("nodePort");
            }
        }
    }
    if needs_health_check_port(old)
        && !needs_health_check_port(spec)
        && health_check_port(spec) == health_check_port(old)
    {
        spec.remove("healthCheckNodePort");
    }
    if service_type(old) == "LoadBalancer"
        && service_type(spec) != "LoadBalancer"
        && spec.get("allocateLoadBalancerNodePorts") == old.get("allocateLoadBalancerNodePorts")
    {
        spec.remove("allocateLoadBalancerNodePorts");
    }
    if needs_node_ports(old)
        && !needs_node_ports(spec)
        && str_of(spec, "externalTrafficPolicy") == str_of(old, "externalTrafficPolicy")
        && spec
            .get("externalIPs")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    {
        spec.remove("externalTrafficPolicy");
    }
}

/// On update, after [`prepare_update`]: allocates what the new spec lacks
/// (a cluster IP when leaving ExternalName, node ports when becoming
/// NodePort) and reserves what it newly asks for. The caller commits the
/// reservation with the write's revision.
pub fn allocate_update(
    api: &ApiServer,
    resource: &Resource,
    next: &mut Value,
    old: &Value,
    dry_run: bool,
) -> Result<Reservation, ApiError> {
    if !is_service(resource) || next.get("spec") == old.get("spec") {
        return Ok(Reservation::none());
    }
    let Some(old) = old.get("spec").and_then(Value::as_object) else {
        return Ok(Reservation::none());
    };
    let name = meta_str(next, "name").unwrap_or_default().to_owned();
    let Some(spec) = spec_mut(next) else {
        return Ok(Reservation::none());
    };
    let mut txn = api.allocators.begin(|| api.cache.list(services(), None));
    allocate(&mut txn, &name, spec, Some(old))?;
    Ok(txn.finish(dry_run))
}

mod bootstrap;
pub(crate) use bootstrap::advertise_address;
pub use bootstrap::bootstrap;

#[cfg(test)]
mod tests;
