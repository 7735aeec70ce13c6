//! Kubernetes quantities and resource vectors.
//!
//! [`parse_quantity`] reads any Kubernetes `Quantity` string ("100m", "1.5Gi",
//! "1e3", "0.5", "+2k") without panicking, and [`Resources`] is the vector of
//! cpu (milli-cores), memory, ephemeral storage (bytes), pod count and
//! extended resources that the fit filter and the scores compare. A pod's
//! effective request is computed once per pod by [`pod_requests`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Name of the cpu resource.
pub const CPU: &str = "cpu";
/// Name of the memory resource.
pub const MEMORY: &str = "memory";
/// Name of the ephemeral-storage resource.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Name of the pod-count resource.
pub const PODS: &str = "pods";
/// cpu that scoring assumes for a container without a cpu request (kube-scheduler's 100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory that scoring assumes for a container without a memory request (200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

pub use cuttle_quantity::{parse as parse_quantity, Quantity as ParsedQuantity, QuantityError};

/// A vector of resource amounts: cpu in milli-cores, memory and ephemeral storage in
/// bytes, a pod count, and extended resources (sorted by name) in whole units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    /// cpu in milli-cores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Number of pods (meaningful for a node's allocatable).
    pub pods: i64,
    /// Extended and other scalar resources, sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resources {
    /// Reads a resource list (`requests`, `allocatable`, `overhead`). Negative amounts count
    /// as zero. Returns the first unreadable quantity as an error, with its resource name.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Result<Self, (String, QuantityError)> {
        let mut r = Resources::default();
        for (name, q) in list {
            let parsed = parse_quantity(&q.0).map_err(|e| (name.clone(), e))?;
            match name.as_str() {
                CPU => r.milli_cpu = parsed.milli_value().max(0),
                MEMORY => r.memory = parsed.value().max(0),
                EPHEMERAL_STORAGE => r.ephemeral_storage = parsed.value().max(0),
                PODS => r.pods = parsed.value().max(0),
                _ => {
                    let v = parsed.value().max(0);
                    if v > 0 {
                        r.scalar.push((name.clone(), v));
                    }
                }
            }
        }
        // BTreeMap iteration keeps scalar sorted by name.
        Ok(r)
    }

    /// Like [`Resources::from_list`] but an unreadable quantity counts as zero.
    pub fn from_list_lossy(list: &BTreeMap<String, Quantity>) -> Self {
        let mut r = Resources::default();
        for (name, q) in list {
            let mut one = BTreeMap::new();
            one.insert(name.clone(), q.clone());
            if let Ok(x) = Resources::from_list(&one) {
                r.add(&x);
            }
        }
        r
    }

    /// Amount of a scalar resource (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Adds `other` to `self` (saturating).
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.pods = self.pods.saturating_add(other.pods);
        for (name, v) in &other.scalar {
            self.merge_scalar(name, *v, i64::saturating_add);
        }
    }

    /// Subtracts `other` from `self` (saturating, never below zero).
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu).max(0);
        self.memory = self.memory.saturating_sub(other.memory).max(0);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage)
            .max(0);
        self.pods = self.pods.saturating_sub(other.pods).max(0);
        for (name, v) in &other.scalar {
            self.merge_scalar(name, *v, |a, b| a.saturating_sub(b).max(0));
        }
        self.scalar.retain(|(_, v)| *v != 0);
    }

    /// Sets each amount of `self` to the larger of `self` and `other`.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.pods = self.pods.max(other.pods);
        for (name, v) in &other.scalar {
            self.merge_scalar(name, *v, i64::max);
        }
    }

    fn merge_scalar(&mut self, name: &str, v: i64, f: impl Fn(i64, i64) -> i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = f(self.scalar[i].1, v),
            Err(i) => self.scalar.insert(i, (name.to_string(), f(0, v))),
        }
    }
}

/// A pod's effective requests, computed once per pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PodRequests {
    /// What the fit filter checks: max(sum of containers and sidecars, max of init
    /// containers) plus pod overhead.
    pub requests: Resources,
    /// cpu for scoring, with 100m assumed for each container that requests none.
    pub non_zero_milli_cpu: i64,
    /// Memory for scoring, with 200 MiB assumed for each container that requests none.
    pub non_zero_memory: i64,
}

/// Computes a pod's effective requests like Kubernetes' `resource.PodRequests`: regular
/// containers and restartable (sidecar) init containers add up; each regular init
/// container needs its own request plus the sidecars started before it; the pod needs
/// the larger of the two, plus `spec.overhead`.
pub fn pod_requests(spec: &PodSpec) -> Result<PodRequests, (String, QuantityError)> {
    let (requests, non_zero) =
        effective(spec, false).and_then(|r| Ok((r, effective(spec, true)?)))?;
    Ok(PodRequests {
        requests,
        non_zero_milli_cpu: non_zero.milli_cpu,
        non_zero_memory: non_zero.memory,
    })
}

fn container_requests(c: &Container, non_zero: bool) -> Result<Resources, (String, QuantityError)> {
    let mut r = match c.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        Some(list) => Resources::from_list(list)?,
        None => Resources::default(),
    };
    if non_zero {
        let has = |name: &str| {
            c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|l| l.contains_key(name))
        };
        if !has(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    Ok(r)
}

fn effective(spec: &PodSpec, non_zero: bool) -> Result<Resources, (String, QuantityError)> {
    let mut sum = Resources::default();
    for c in &spec.containers {
        sum.add(&container_requests(c, non_zero)?);
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, non_zero)?;
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            // A sidecar keeps running next to every later init container.
            init_max.max_with(&sidecars);
        } else {
            let mut with_sidecars = r;
            with_sidecars.add(&sidecars);
            init_max.max_with(&with_sidecars);
        }
    }
    sum.add(&sidecars);
    sum.max_with(&init_max);
    if let Some(overhead) = &spec.overhead {
        sum.add(&Resources::from_list(overhead)?);
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;

    fn container(requests: &[(&str, &str)], sidecar: bool) -> Container {
        Container {
            name: "c".into(),
            restart_policy: sidecar.then(|| "Always".to_string()),
            resources: Some(ResourceRequirements {
                requests: Some(
                    requests
                        .iter()
                        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn effective_request_is_max_of_sum_and_init_plus_overhead() {
        let spec = PodSpec {
            containers: vec![
                container(&[("cpu", "200m"), ("memory", "1Gi")], false),
                container(&[("cpu", "300m")], false),
            ],
            init_containers: Some(vec![container(&[("cpu", "1"), ("memory", "100Mi")], false)]),
            overhead: Some([("cpu".to_string(), Quantity("10m".into()))].into()),
            ..Default::default()
        };
        let r = pod_requests(&spec).unwrap();
        assert_eq!(r.requests.milli_cpu, 1010);
        assert_eq!(r.requests.memory, 1 << 30);
        // Scoring assumes 200Mi for the container without a memory request.
        assert_eq!(r.non_zero_memory, (1 << 30) + DEFAULT_MEMORY_REQUEST);
        assert_eq!(r.non_zero_milli_cpu, 1010);
    }

    #[test]
    fn sidecars_add_to_the_sum_and_to_later_init_containers() {
        let spec = PodSpec {
            containers: vec![container(&[("cpu", "100m")], false)],
            init_containers: Some(vec![
                container(&[("cpu", "50m")], true),
                container(&[("cpu", "500m")], false),
            ]),
            ..Default::default()
        };
        let r = pod_requests(&spec).unwrap();
        // init phase: 50m sidecar + 500m init = 550m; run phase: 100m + 50m = 150m.
        assert_eq!(r.requests.milli_cpu, 550);
    }

    #[test]
    fn extended_resources_are_summed_and_bad_quantities_reported() {
        let spec = PodSpec {
            containers: vec![
                container(&[("example.com/gpu", "1")], false),
                container(&[("example.com/gpu", "2")], false),
            ],
            ..Default::default()
        };
        assert_eq!(
            pod_requests(&spec)
                .unwrap()
                .requests
                .scalar("example.com/gpu"),
            3
        );
        let bad = PodSpec {
            containers: vec![container(&[("cpu", "lots")], false)],
            ..Default::default()
        };
        assert_eq!(pod_requests(&bad).unwrap_err().0, "cpu");
    }

    #[test]
    fn resource_arithmetic() {
        let mut a = Resources {
            milli_cpu: 100,
            scalar: vec![("b".into(), 1)],
            ..Default::default()
        };
        let b = Resources {
            milli_cpu: 300,
            scalar: vec![("a".into(), 2), ("b".into(), 1)],
            ..Default::default()
        };
        a.add(&b);
        assert_eq!(a.milli_cpu, 400);
        assert_eq!(a.scalar, vec![("a".into(), 2), ("b".into(), 2)]);
        a.sub(&b);
        a.sub(&b);
        assert_eq!(a.milli_cpu, 0);
        assert!(a.scalar.is_empty());
    }
}
