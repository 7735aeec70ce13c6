//! The scheduler must never panic on a pod or node the apiserver could
//! hand it. This test builds thousands of random objects from odd pieces
//! (extreme and malformed quantities, unknown operators and effects, empty
//! and exotic topology keys, huge weights and skews, missing sections)
//! and drives the whole scheduler with them: nodes come and go and change,
//! pods are placed, assumed, preempted for and removed. Any object serde
//! accepts as a Pod or Node is fair game, which is more than the apiserver
//! accepts. Seeds are fixed, so a failure repeats; `CUTTLE_TEST_SEED` picks
//! another.

use cuttle_scheduler::{ScheduleError, Scheduler};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::sync::Arc;

const QUANTITIES: &[&str] = &[
    "0",
    "1",
    "100m",
    "2",
    "1e3",
    "1.5Gi",
    "-1",
    "0.000001",
    "1Ei",
    "999999999999999999999",
    "9223372036854775807",
    "1Ki",
    "500Mi",
];
/// Quantities no parser accepts, drawn now and then.
const BAD_QUANTITIES: &[&str] = &["x", "", "1.2.3", "--1", "Gi"];
const KEYS: &[&str] = &[
    "zone",
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "app",
    "",
    "x/y/z",
    "tier",
];
const VALUES: &[&str] = &["", "a", "b", "web", "1", "10", "-3", "zone-1"];
const OPERATORS: &[&str] = &[
    "In",
    "NotIn",
    "Exists",
    "DoesNotExist",
    "Gt",
    "Lt",
    "Bogus",
    "",
];
const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute", "", "Bad"];
const NUMBERS: &[i64] = &[
    -1,
    0,
    1,
    2,
    5,
    100,
    65535,
    65536,
    i32::MAX as i64,
    i32::MIN as i64,
];
const OWNERS: &[&str] = &["owner-a", "owner-b", ""];
const CLASSES: &[&str] = &["high", "low", "missing", ""];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn quantity(rng: &mut StdRng) -> &'static str {
    if rng.random_bool(0.03) {
        BAD_QUANTITIES[rng.random_range(0..BAD_QUANTITIES.len())]
    } else {
        QUANTITIES[rng.random_range(0..QUANTITIES.len())]
    }
}

fn maybe(rng: &mut StdRng) -> bool {
    rng.random_bool(0.5)
}

fn labels(rng: &mut StdRng) -> Value {
    let mut m = serde_json::Map::new();
    for _ in 0..rng.random_range(0..4) {
        m.insert(pick(rng, KEYS).to_string(), json!(pick(rng, VALUES)));
    }
    Value::Object(m)
}

fn values(rng: &mut StdRng) -> Value {
    let n = rng.random_range(0..3);
    json!((0..n).map(|_| *pick(rng, VALUES)).collect::<Vec<_>>())
}

fn selector(rng: &mut StdRng) -> Value {
    let mut s = json!({});
    if maybe(rng) {
        s["matchLabels"] = labels(rng);
    }
    if maybe(rng) {
        s["matchExpressions"] = json!([{
            "key": pick(rng, KEYS), "operator": pick(rng, OPERATORS), "values": values(rng)
        }]);
    }
    s
}

fn node_selector_term(rng: &mut StdRng) -> Value {
    let mut t = json!({"matchExpressions": [{
        "key": pick(rng, KEYS), "operator": pick(rng, OPERATORS), "values": values(rng)
    }]});
    if maybe(rng) {
        t["matchFields"] = json!([{
            "key": if maybe(rng) { "metadata.name" } else { "spec.bogus" },
            "operator": pick(rng, OPERATORS), "values": values(rng)
        }]);
    }
    t
}

fn resources(rng: &mut StdRng) -> Value {
    let mut r = serde_json::Map::new();
    for name in [
        "cpu",
        "memory",
        "ephemeral-storage",
        "pods",
        "example.com/gpu",
        "hugepages-2Mi",
    ] {
        if rng.random_bool(0.4) {
            r.insert(name.into(), json!(quantity(rng)));
        }
    }
    Value::Object(r)
}

fn container(rng: &mut StdRng, name: &str) -> Value {
    let mut c = json!({"name": name, "image": "busybox"});
    if maybe(rng) {
        c["resources"] = json!({"requests": resources(rng), "limits": resources(rng)});
    }
    if rng.random_bool(0.3) {
        c["ports"] = json!([{
            "containerPort": pick(rng, NUMBERS),
            "hostPort": pick(rng, NUMBERS),
            "protocol": pick(rng, &["TCP", "UDP", "SCTP", "X", ""]),
            "hostIP": pick(rng, &["", "0.0.0.0", "127.0.0.1", "::", "bogus"]),
        }]);
    }
    c
}

fn affinity_term(rng: &mut StdRng) -> Value {
    let mut t = json!({"labelSelector": selector(rng), "topologyKey": pick(rng, KEYS)});
    if maybe(rng) {
        t["namespaces"] = json!([pick(rng, &["default", "other", ""])]);
    }
    if rng.random_bool(0.3) {
        t["namespaceSelector"] = selector(rng);
    }
    if rng.random_bool(0.2) {
        t["matchLabelKeys"] = json!([pick(rng, KEYS)]);
    }
    t
}

fn affinity(rng: &mut StdRng) -> Value {
    let mut a = json!({});
    if maybe(rng) {
        let mut na = json!({});
        if maybe(rng) {
            na["requiredDuringSchedulingIgnoredDuringExecution"] =
                json!({"nodeSelectorTerms": [node_selector_term(rng)]});
        }
        if maybe(rng) {
            na["preferredDuringSchedulingIgnoredDuringExecution"] =
                json!([{"weight": pick(rng, NUMBERS), "preference": node_selector_term(rng)}]);
        }
        a["nodeAffinity"] = na;
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        if maybe(rng) {
            let mut pa = json!({});
            if maybe(rng) {
                pa["requiredDuringSchedulingIgnoredDuringExecution"] = json!([affinity_term(rng)]);
            }
            if maybe(rng) {
                pa["preferredDuringSchedulingIgnoredDuringExecution"] =
                    json!([{"weight": pick(rng, NUMBERS), "podAffinityTerm": affinity_term(rng)}]);
            }
            a[kind] = pa;
        }
    }
    a
}

fn pod(rng: &mut StdRng, i: usize, nodes: &[String]) -> Value {
    let mut spec = json!({"containers": [container(rng, "c")]});
    if rng.random_bool(0.3) {
        spec["initContainers"] = json!([container(rng, "init")]);
    }
    if rng.random_bool(0.2) {
        spec["overhead"] = resources(rng);
    }
    if maybe(rng) {
        spec["nodeSelector"] = labels(rng);
    }
    if maybe(rng) {
        spec["affinity"] = affinity(rng);
    }
    if maybe(rng) {
        spec["tolerations"] = json!([{
            "key": pick(rng, KEYS), "operator": pick(rng, &["Exists", "Equal", "", "Weird"]),
            "value": pick(rng, VALUES), "effect": pick(rng, EFFECTS),
            "tolerationSeconds": pick(rng, NUMBERS),
        }]);
    }
    if maybe(rng) {
        let mut c = json!({
            "maxSkew": pick(rng, NUMBERS), "topologyKey": pick(rng, KEYS),
            "whenUnsatisfiable": pick(rng, &["DoNotSchedule", "ScheduleAnyway", "X"]),
            "labelSelector": selector(rng),
        });
        if maybe(rng) {
            c["minDomains"] = json!(pick(rng, NUMBERS));
        }
        if maybe(rng) {
            c["nodeAffinityPolicy"] = json!(pick(rng, &["Honor", "Ignore", "X"]));
            c["nodeTaintsPolicy"] = json!(pick(rng, &["Honor", "Ignore", "X"]));
        }
        if maybe(rng) {
            c["matchLabelKeys"] = json!([pick(rng, KEYS)]);
        }
        spec["topologySpreadConstraints"] = json!([c]);
    }
    if maybe(rng) {
        spec["priority"] = json!(pick(rng, NUMBERS));
    }
    if maybe(rng) {
        spec["priorityClassName"] = json!(pick(rng, CLASSES));
    }
    if rng.random_bool(0.2) {
        spec["preemptionPolicy"] = json!(pick(rng, &["Never", "PreemptLowerPriority", "X"]));
    }
    if rng.random_bool(0.3) && !nodes.is_empty() {
        spec["nodeName"] = json!(if maybe(rng) {
            pick(rng, nodes).as_str()
        } else {
            "ghost"
        });
    }
    if rng.random_bool(0.1) {
        spec["schedulerName"] = json!("someone-else");
    }
    let mut meta = json!({
        "name": format!("p{i}"),
        "namespace": pick(rng, &["default", "other", ""]),
        "uid": format!("uid-{i}"),
        "labels": labels(rng),
    });
    if maybe(rng) {
        meta["ownerReferences"] = json!([{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
            "uid": pick(rng, OWNERS), "controller": maybe(rng),
        }]);
    }
    if rng.random_bool(0.1) {
        meta["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    }
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
    if rng.random_bool(0.1) {
        p.as_object_mut().map(|o| o.remove("spec"));
    }
    if rng.random_bool(0.1) {
        p["status"] = json!({"phase": pick(rng, &["Succeeded", "Failed", "Running", "Pending"])});
    }
    p
}

fn node(rng: &mut StdRng, name: &str) -> Value {
    let mut n = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels(rng)},
    });
    if rng.random_bool(0.9) {
        n["status"] = json!({"allocatable": resources(rng), "capacity": resources(rng)});
    }
    let mut spec = json!({});
    if rng.random_bool(0.2) {
        spec["unschedulable"] = json!(true);
    }
    if maybe(rng) {
        spec["taints"] = json!([{
            "key": pick(rng, KEYS), "value": pick(rng, VALUES), "effect": pick(rng, EFFECTS)
        }]);
    }
    n["spec"] = spec;
    n
}

/// Serde's verdict decides what counts as an object at all.
fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Option<T> {
    serde_json::from_value(v).ok()
}

fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = Scheduler::new(seed);
    for (name, value, default) in [("high", 1000, false), ("low", -5, maybe(&mut rng))] {
        let pc: PriorityClass = typed(json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "globalDefault": default,
        }))
        .expect("a priority class");
        s.upsert_priority_class(&pc);
    }
    let pdb: PodDisruptionBudget = typed(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "pdb", "namespace": "default"},
        "spec": {"selector": selector(&mut rng), "minAvailable": pick(&mut rng, &[json!(1), json!("50%"), json!("bad%")])},
        "status": {"disruptionsAllowed": pick(&mut rng, NUMBERS)},
    }))
    .expect("a pdb");
    s.upsert_pdb(&pdb);
    let ns: Namespace = typed(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "other", "labels": labels(&mut rng)},
    }))
    .expect("a namespace");
    s.upsert_namespace(&ns);

    let mut nodes: Vec<String> = Vec::new();
    for i in 0..rng.random_range(0..12) {
        let name = format!("n{i}");
        if let Some(n) = typed::<Node>(node(&mut rng, &name)) {
            s.add_node(&n);
            nodes.push(name);
        }
    }
    let mut placed: Vec<String> = Vec::new();
    for i in 0..300 {
        match rng.random_range(0..10) {
            // A node appears, changes or goes.
            0 => {
                let name = format!("n{}", rng.random_range(0..14));
                if let Some(n) = typed::<Node>(node(&mut rng, &name)) {
                    s.update_node(&n);
                    if !nodes.contains(&name) {
                        nodes.push(name);
                    }
                }
            }
            1 if !nodes.is_empty() => {
                let name = nodes.swap_remove(rng.random_range(0..nodes.len()));
                let _ = s.remove_node(&name);
            }
            // A pod is removed, or one whose binding failed is forgotten.
            2 if !placed.is_empty() => {
                let key = placed.swap_remove(rng.random_range(0..placed.len()));
                if maybe(&mut rng) {
                    let _ = s.remove_pod(&key);
                } else {
                    let _ = s.forget(&key);
                }
            }
            _ => {
                let Some(p) = typed::<Pod>(pod(&mut rng, i, &nodes)) else {
                    continue;
                };
                let assigned = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty());
                if assigned {
                    if let Ok(Some(_)) | Ok(None) = s.add_pod(&p) {
                        placed.push(key_of(&p));
                    }
                    continue;
                }
                let Ok(info) = s.pod_info(&p) else { continue };
                let info = Arc::new(info);
                match s.schedule_pod(&info) {
                    Ok(r) => {
                        assert!(nodes.contains(&r.node), "placed on unknown node {}", r.node);
                        if s.assume(info.clone(), &r.node).is_ok() {
                            placed.push(info.key.clone());
                        }
                    }
                    Err(ScheduleError::Unschedulable(fe)) => {
                        let _ = fe.message();
                        if let Some(nom) = fe.nomination {
                            for v in nom.victims {
                                let _ = s.remove_pod(&v.key);
                            }
                            s.clear_nomination(&info.key);
                        }
                    }
                    Err(_) => {}
                }
            }
        }
    }
    let _ = s.stats();
}

fn key_of(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default()
    )
}

#[test]
fn never_panics_on_random_odd_objects() {
    let seeds: Vec<u64> = match std::env::var("CUTTLE_TEST_SEED") {
        Ok(s) => vec![s.parse().expect("CUTTLE_TEST_SEED is a number")],
        Err(_) => (0..40).collect(),
    };
    for seed in seeds {
        let outcome = std::panic::catch_unwind(|| run(seed));
        assert!(
            outcome.is_ok(),
            "the scheduler panicked; repeat with CUTTLE_TEST_SEED={seed}"
        );
    }
}
