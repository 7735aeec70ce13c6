//! Cluster IP and node port allocation for Services. There is no bitmap of
//! its own to persist: what is taken is read from the stored Services (the
//! watch cache holds every one) plus the reservations of writes still in
//! flight, all under one mutex, so two concurrent creates never get the same
//! address and a restart loses nothing.
//!
//! A write takes a [`Txn`], allocates, and turns it into a [`Reservation`]
//! that it holds across the store write. A reservation dropped without
//! [`Reservation::commit`] (the write failed) frees its values at once; a
//! committed one lasts until the watch cache has applied the write, from
//! when the stored Service itself holds the values.

pub mod range;

use crate::watch_cache::CachedObject;
use cuttle_store::Revision;
pub use range::{Ipv4Cidr, PortRange, RangeError};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where Services get their addresses and node ports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceNetwork {
    /// `--service-cluster-ip-range`; its first address is the `kubernetes`
    /// service's.
    pub cluster_ip_range: Ipv4Cidr,
    /// `--service-node-port-range`.
    pub node_port_range: PortRange,
}

impl Default for ServiceNetwork {
    /// kube-apiserver's defaults: 10.96.0.0/12 and 30000-32767.
    fn default() -> ServiceNetwork {
        ServiceNetwork {
            cluster_ip_range: Ipv4Cidr::new(Ipv4Addr::new(10, 96, 0, 0), 12)
                .expect("a valid default range"),
            node_port_range: PortRange::new(30000, 32767).expect("a valid default range"),
        }
    }
}

/// Why an address or port could not be allocated. The messages are
/// kube-apiserver's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// A requested cluster IP outside the service network.
    #[error("the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}")]
    IpNotInRange { ip: Ipv4Addr, range: Ipv4Cidr },
    /// A requested cluster IP another Service holds.
    #[error("provided IP is already allocated")]
    IpAllocated,
    /// Every address of the service network is taken.
    #[error("range is full")]
    IpRangeFull,
    /// A requested node port outside the node port range.
    #[error("provided port is not in the valid range. The range of valid ports is {range}")]
    PortNotInRange { range: PortRange },
    /// A requested node port another Service holds.
    #[error("provided port is already allocated")]
    PortAllocated,
    /// Every node port is taken.
    #[error("range is full")]
    PortRangeFull,
}

/// The addresses and ports one Service (or one reservation) holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocated {
    pub ips: Vec<Ipv4Addr>,
    pub ports: Vec<u16>,
}

impl Allocated {
    /// What a stored Service holds: its cluster IPs and its node ports
    /// (health check node port included).
    pub fn of_service(json: &[u8]) -> Allocated {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Svc {
            spec: Option<Spec>,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Spec {
            #[serde(rename = "clusterIP")]
            cluster_ip: Option<String>,
            #[serde(rename = "clusterIPs")]
            cluster_ips: Option<Vec<String>>,
            ports: Option<Vec<Port>>,
            health_check_node_port: Option<u32>,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Port {
            node_port: Option<u32>,
        }
        let Some(spec) = serde_json::from_slice::<Svc>(json)
            .ok()
            .and_then(|s| s.spec)
        else {
            return Allocated::default();
        };
        let mut ips: Vec<Ipv4Addr> = spec
            .cluster_ips
            .unwrap_or_default()
            .iter()
            .chain(spec.cluster_ip.iter())
            .filter_map(|s| s.parse().ok())
            .collect();
        ips.dedup();
        let ports = spec
            .ports
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.node_port)
            .chain(spec.health_check_node_port)
            .filter_map(|p| u16::try_from(p).ok().filter(|p| *p > 0))
            .collect();
        Allocated { ips, ports }
    }

    fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.ports.is_empty()
    }
}

/// A reservation's values, and the revision of the write that stored them.
struct Held {
    values: Allocated,
    committed: Option<Revision>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    reservations: HashMap<u64, Held>,
    /// What each stored Service holds, by key, at the revision it was read.
    parsed: HashMap<String, (Revision, Arc<Allocated>)>,
}

/// The allocators of one apiserver.
pub struct Allocators {
    network: ServiceNetwork,
    state: Mutex<State>,
}

impl Allocators {
    pub fn new(network: ServiceNetwork) -> Arc<Allocators> {
        Arc::new(Allocators {
            network,
            state: Mutex::new(State::default()),
        })
    }

    /// The ranges allocated from.
    pub fn network(&self) -> &ServiceNetwork {
        &self.network
    }

    /// Starts allocating; the lock taken here is held until the [`Txn`]
    /// ends. `list` gives the stored Services and the revision they are
    /// current at (the watch cache's `list`); it is called under the lock,
    /// so that no reservation is dropped for a write the listed state does
    /// not show yet.
    pub fn begin<'a>(
        self: &'a Arc<Self>,
        list: impl FnOnce() -> (Vec<Arc<CachedObject>>, Revision),
    ) -> Txn<'a> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (services, applied) = list();
        let mut used = Used::default();
        let mut parsed = HashMap::with_capacity(services.len());
        for s in &services {
            let values = match state.parsed.get(&s.key) {
                Some((rev, v)) if *rev == s.rev => v.clone(),
                _ => Arc::new(Allocated::of_service(&s.json)),
            };
            used.add(&values);
            parsed.insert(s.key.clone(), (s.rev, values));
        }
        state.parsed = parsed;
        state
            .reservations
            .retain(|_, h| h.committed.is_none_or(|rev| rev > applied));
        for h in state.reservations.values() {
            used.add(&h.values);
        }
        Txn {
            allocators: self,
            state,
            used,
            taken: Allocated::default(),
        }
    }
}

/// What is taken, while a [`Txn`] runs.
#[derive(Default)]
struct Used {
    ips: HashSet<Ipv4Addr>,
    ports: HashSet<u16>,
}

impl Used {
    fn add(&mut self, a: &Allocated) {
        self.ips.extend(a.ips.iter().copied());
        self.ports.extend(a.ports.iter().copied());
    }
}

/// Allocation in progress: holds the allocators' lock.
pub struct Txn<'a> {
    allocators: &'a Arc<Allocators>,
    state: MutexGuard<'a, State>,
    used: Used,
    taken: Allocated,
}

impl Txn<'_> {
    /// The ranges allocated from.
    pub fn network(&self) -> &ServiceNetwork {
        &self.allocators.network
    }

    /// Allocates `requested` if it is in range and free, or a random free
    /// address. The first address of the range is left to the `kubernetes`
    /// service: only a request by value gets it.
    pub fn ip(&mut self, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr, AllocError> {
        let range = self.allocators.network.cluster_ip_range;
        let ip = match requested {
            Some(ip) => {
                if range.offset(ip).is_none() {
                    return Err(AllocError::IpNotInRange { ip, range });
                }
                if self.used.ips.contains(&ip) {
                    return Err(AllocError::IpAllocated);
                }
                ip
            }
            None => {
                let band = range::static_band(range.len(), 16, 256, 16);
                let used = &self.used.ips;
                let offset = range::pick_free(range.len(), band, &mut rand::rng(), |o| {
                    o == 0 || used.contains(&range.addr(o))
                })
                .ok_or(AllocError::IpRangeFull)?;
                range.addr(offset)
            }
        };
        self.used.ips.insert(ip);
        self.taken.ips.push(ip);
        Ok(ip)
    }

    /// Allocates `requested` if it is in range and free, or a random free
    /// node port.
    pub fn port(&mut self, requested: Option<u16>) -> Result<u16, AllocError> {
        let range = self.allocators.network.node_port_range;
        let port = match requested {
            Some(p) => {
                if range.offset(p).is_none() {
                    return Err(AllocError::PortNotInRange { range });
                }
                if self.used.ports.contains(&p) {
                    return Err(AllocError::PortAllocated);
                }
                p
            }
            None => {
                let band = range::static_band(range.len(), 16, 128, 32);
                let used = &self.used.ports;
                let offset = range::pick_free(range.len(), band, &mut rand::rng(), |o| {
                    used.contains(&range.port(o))
                })
                .ok_or(AllocError::PortRangeFull)?;
                range.port(offset)
            }
        };
        self.used.ports.insert(port);
        self.taken.ports.push(port);
        Ok(port)
    }

    /// Ends allocation, releasing the lock. Unless `dry_run`, what was
    /// allocated stays reserved while the returned reservation lives.
    pub fn finish(mut self, dry_run: bool) -> Reservation {
        let taken = std::mem::take(&mut self.taken);
        if dry_run || taken.is_empty() {
            return Reservation::none();
        }
        let id = self.state.next_id;
        self.state.next_id += 1;
        self.state.reservations.insert(
            id,
            Held {
                values: taken,
                committed: None,
            },
        );
        Reservation {
            held: Some((self.allocators.clone(), id)),
        }
    }
}

/// Values reserved for a write in flight. Dropped uncommitted, it frees
/// them; committed, they stay reserved until the watch cache shows the write.
#[must_use = "a reservation dropped at once frees what it holds"]
pub struct Reservation {
    held: Option<(Arc<Allocators>, u64)>,
}

impl Reservation {
    /// A reservation of nothing.
    pub fn none() -> Reservation {
        Reservation { held: None }
    }

    /// The write stored the values at `rev`.
    pub fn commit(mut self, rev: Revision) {
        if let Some((allocators, id)) = self.held.take() {
            let mut state = allocators.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = state.reservations.get_mut(&id) {
                h.committed = Some(rev);
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some((allocators, id)) = self.held.take() {
            let mut state = allocators.state.lock().unwrap_or_else(|e| e.into_inner());
            state.reservations.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests;
