//! What the service registry makes at startup, as kube-apiserver's
//! controllers do: the `kubernetes` Service with the endpoints of this
//! apiserver, and the default ServiceCIDR `kubernetes` for
//! `--service-cluster-ip-range`, marked Ready.

use super::services;
use crate::allocators::ServiceNetwork;
use crate::api::{meta, stored};
use crate::resources::{self, Resource};
use cuttle_store::{Error as StoreError, Store};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};

/// The address clients reach this apiserver at: the bind address, or for
/// a wildcard bind the address of the default route's interface.
pub(crate) fn advertise_address(bind: IpAddr) -> IpAddr {
    if !bind.is_unspecified() {
        return bind;
    }
    // Connecting a UDP socket sends nothing; it only picks the route.
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:1")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Creates `desired` at its key, or brings the `fields` of the stored
/// object to `desired`'s (keeping its metadata).
async fn ensure(
    store: &dyn Store,
    resource: &Resource,
    desired: Value,
    fields: &[&str],
) -> Result<(), StoreError> {
    // Namespaced ones live in `default`; the key ignores it for the others.
    let key = resource.key(Some("default"), "kubernetes");
    if stored::create_missing(store, &key, &desired).await? {
        return Ok(());
    }
    stored::amend(store, &key, |current| {
        for f in fields {
            let (parent, leaf) = f.rsplit_once('/').unwrap_or(("", f));
            if let (Some(p), Some(v)) = (
                current.pointer_mut(parent).and_then(Value::as_object_mut),
                desired.pointer(f),
            ) {
                p.insert(leaf.to_owned(), v.clone());
            }
        }
    })
    .await
}

/// Creates the `kubernetes` service in `default` (the first address of the
/// service network, port 443 to the secure port) and its Endpoints and
/// EndpointSlice pointing at this apiserver, as kube-apiserver's bootstrap
/// controller does; on a restart, brings the port and address up to date.
pub async fn bootstrap(
    store: &dyn Store,
    network: &ServiceNetwork,
    bind: IpAddr,
    port: u16,
) -> Result<(), StoreError> {
    let ip = network.cluster_ip_range.first().to_string();
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
        "status": {"loadBalancer": {}},
    });
    ensure(store, services(), service, &["/spec/ports"]).await?;
    let address = advertise_address(bind);
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": [{"ip": address.to_string()}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }],
    });
    if let Some(r) = resources::find("", "v1", "endpoints") {
        ensure(store, r, endpoints, &["/subsets"]).await?;
    }
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "kubernetes"},
        },
        "addressType": if address.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{"addresses": [address.to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    if let Some(r) = resources::find("discovery.k8s.io", "v1", "endpointslices") {
        ensure(store, r, slice, &["/addressType", "/endpoints", "/ports"]).await?;
    }
    let cidr = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": "kubernetes"},
        "spec": {"cidrs": [network.cluster_ip_range.to_string()]},
        "status": {"conditions": [{
            "type": "Ready",
            "status": "True",
            "lastTransitionTime": meta::now(),
            "message": "Kubernetes default Service CIDR is ready",
        }]},
    });
    if let Some(r) = resources::find("networking.k8s.io", "v1", "servicecidrs") {
        ensure(store, r, cidr, &["/spec/cidrs"]).await?;
    }
    Ok(())
}
