//! End-to-end tests of the scheduling core: pods in, decisions and messages out.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::bench::Policy;
use crate::builders::{NodeBuilder, PodBuilder};

fn cluster(nodes: &[NodeBuilder]) -> Scheduler {
    let mut s = Scheduler::new(7);
    for n in nodes {
        s.add_node(&n.clone().build());
    }
    s
}

fn place(s: &mut Scheduler, pod: PodBuilder) -> Result<String, ScheduleError> {
    let pod = pod.build();
    let info = Arc::new(s.pod_info(&pod)?);
    let r = s.schedule_pod(&info)?;
    s.assume(info, &r.node).unwrap();
    Ok(r.node)
}

fn fit_error(r: Result<String, ScheduleError>) -> FitError {
    match r {
        Err(ScheduleError::Unschedulable(fe)) => *fe,
        other => panic!("expected a FitError, got {other:?}"),
    }
}

#[test]
fn message_names_each_filter_and_its_node_count() {
    let mut s = cluster(&[
        NodeBuilder::new("a").cpu("1").label("disk", "ssd"),
        NodeBuilder::new("b").cpu("1").label("disk", "ssd"),
        NodeBuilder::new("c").label("disk", "hdd"),
        NodeBuilder::new("d").label("disk", "hdd"),
        NodeBuilder::new("e").label("disk", "hdd"),
    ]);
    let fe = fit_error(place(
        &mut s,
        PodBuilder::new("p").cpu("2").node_selector("disk", "ssd"),
    ));
    assert_eq!(
        fe.message(),
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.."
    );
    assert_eq!(fe.condition().status, "False");
    assert!(
        fe.unschedulable_plugins.contains("NodeResourcesFit")
            && fe.unschedulable_plugins.contains("NodeAffinity")
    );
}

#[test]
fn never_overcommits_with_or_without_borg_caches() {
    for switches in [(true, true, true), (false, false, false)] {
        let cfg = Policy::Best.config(switches.0, switches.1, switches.2);
        let mut s = Scheduler::from_config(&cfg, 1).unwrap();
        for i in 0..20 {
            s.add_node(
                &NodeBuilder::new(&format!("n{i}"))
                    .cpu("2")
                    .memory("4Gi")
                    .build(),
            );
        }
        let mut placed = 0;
        for i in 0..100 {
            if place(
                &mut s,
                PodBuilder::new(&format!("p{i}"))
                    .owner("rs")
                    .cpu("300m")
                    .memory("512Mi"),
            )
            .is_ok()
            {
                placed += 1;
            }
        }
        // 2000m / 300m = 6 per node.
        // 2000m / 300m = 6 per node, 20 nodes: room for 120, so all 100 fit.
        assert_eq!(placed, 100, "switches {switches:?}");
        for &slot in s.cache().nodes() {
            let n = s.cache().node(slot);
            assert!(n.requested.milli_cpu <= n.node.allocatable.milli_cpu);
        }
    }
    let mut s = cluster(&[NodeBuilder::new("only").cpu("1")]);
    for i in 0..3 {
        let r = place(
            &mut s,
            PodBuilder::new(&format!("p{i}")).owner("rs").cpu("400m"),
        );
        assert_eq!(r.is_ok(), i < 2, "pod {i}: {r:?}");
    }
}

#[test]
fn equivalence_cache_notices_node_changes() {
    let mut s = cluster(&[
        NodeBuilder::new("a").label("pool", "x"),
        NodeBuilder::new("b").label("pool", "y"),
    ]);
    let pod = |n: &str| PodBuilder::new(n).owner("rs").node_selector("pool", "x");
    assert_eq!(place(&mut s, pod("p1")).unwrap(), "a");
    s.update_node(&NodeBuilder::new("a").label("pool", "y").build());
    assert!(place(&mut s, pod("p2")).is_err(), "a no longer matches");
    s.update_node(&NodeBuilder::new("b").label("pool", "x").build());
    assert_eq!(place(&mut s, pod("p3")).unwrap(), "b");
    assert!(s.stats().equivalence_hits > 0);
}

#[test]
fn relaxed_randomization_visits_a_rotating_window() {
    let nodes: Vec<NodeBuilder> = (0..1000)
        .map(|i| NodeBuilder::new(&format!("n{i:04}")))
        .collect();
    let mut s = cluster(&nodes);
    let info = Arc::new(PodBuilder::new("p").build_info());
    let r1 = s.schedule_pod(&info).unwrap();
    assert_eq!((r1.evaluated_nodes, r1.feasible_nodes), (420, 420));
    let r2 = s.schedule_pod(&info).unwrap();
    assert_eq!(r2.evaluated_nodes, 420);
    assert!(
        r2.node.as_str() >= "n0420" && r2.node.as_str() < "n0840",
        "second window starts after the first: {}",
        r2.node
    );
    let mut off = Scheduler::from_config(&Policy::Worst.config(true, true, false), 7).unwrap();
    for n in &nodes {
        off.add_node(&n.clone().build());
    }
    assert_eq!(off.schedule_pod(&info).unwrap().evaluated_nodes, 1000);
}

#[test]
fn placement_is_deterministic_for_a_seed() {
    let run = |seed| {
        let mut s = Scheduler::new(seed);
        for i in 0..30 {
            s.add_node(&NodeBuilder::new(&format!("n{i}")).build());
        }
        (0..50)
            .map(|i| {
                place(
                    &mut s,
                    PodBuilder::new(&format!("p{i}")).owner("rs").cpu("100m"),
                )
                .unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn worst_fit_spreads_and_best_fit_packs() {
    for (policy, expect_same) in [(Policy::Worst, false), (Policy::Best, true)] {
        let mut s = Scheduler::from_config(&policy.config(true, true, true), 1).unwrap();
        s.add_node(&NodeBuilder::new("a").build());
        s.add_node(&NodeBuilder::new("b").build());
        let first = place(&mut s, PodBuilder::new("p1").cpu("1").memory("1Gi")).unwrap();
        let second = place(&mut s, PodBuilder::new("p2").cpu("1").memory("1Gi")).unwrap();
        assert_eq!(first == second, expect_same, "{policy:?}");
    }
}

fn priority_class(name: &str, value: i32, global_default: bool) -> PriorityClass {
    PriorityClass {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        value,
        global_default: Some(global_default),
        ..Default::default()
    }
}

#[test]
fn priority_classes_resolve_and_missing_ones_are_clear_errors() {
    let mut s = cluster(&[NodeBuilder::new("a")]);
    let err = place(&mut s, PodBuilder::new("p").priority_class("gold")).unwrap_err();
    assert!(matches!(err, ScheduleError::PriorityClassNotFound { .. }));
    assert_eq!(
        err.to_string(),
        "pod default/p: no PriorityClass with name gold was found"
    );
    s.upsert_priority_class(&priority_class("gold", 1000, false));
    s.upsert_priority_class(&priority_class("standard", 10, true));
    let pod = |b: PodBuilder| b.build();
    assert_eq!(
        s.resolve_priority(&pod(PodBuilder::new("p").priority_class("gold")))
            .unwrap()
            .0,
        1000
    );
    assert_eq!(
        s.resolve_priority(&pod(PodBuilder::new("p"))).unwrap().0,
        10,
        "globalDefault"
    );
    assert_eq!(
        s.resolve_priority(&pod(PodBuilder::new("p").priority(5)))
            .unwrap()
            .0,
        5,
        "spec.priority wins over the global default"
    );
    assert_eq!(
        s.resolve_priority(&pod(PodBuilder::new("p")
            .priority_class("gold")
            .priority(1000)))
            .unwrap()
            .0,
        1000,
        "spec.priority as priority admission set it from the class"
    );
    assert_eq!(
        s.resolve_priority(&pod(
            PodBuilder::new("p").priority_class("system-node-critical")
        ))
        .unwrap()
        .0,
        SYSTEM_NODE_CRITICAL
    );
    s.remove_priority_class("standard");
    assert_eq!(s.resolve_priority(&pod(PodBuilder::new("p"))).unwrap().0, 0);
}

#[test]
fn never_panics_on_odd_objects() {
    let mut s = Scheduler::new(1);
    s.add_node(&Node::default());
    s.add_node(&Node {
        metadata: ObjectMeta {
            name: Some("bare".into()),
            ..Default::default()
        },
        spec: None,
        status: None,
    });
    s.add_node(
        &NodeBuilder::new("weird")
            .cpu("1e3")
            .memory("1.5Gi")
            .allocatable("pods", "0.5")
            .build(),
    );
    s.add_node(&NodeBuilder::new("half").cpu("0.5").memory("100m").build());
    assert!(s.schedule_one(&Pod::default()).is_ok());
    for (cpu, mem) in [
        ("100m", "1.5Gi"),
        ("1e3", "0.5"),
        ("0.5", "1e3"),
        ("0", "0"),
    ] {
        let r = s.schedule_one(&PodBuilder::new("q").cpu(cpu).memory(mem).build());
        assert!(
            matches!(r, Ok(_) | Err(ScheduleError::Unschedulable(_))),
            "{cpu} {mem}: {r:?}"
        );
    }
    let bad = s
        .schedule_one(&PodBuilder::new("bad").cpu("lots").build())
        .unwrap_err();
    assert!(matches!(bad, ScheduleError::InvalidPod(_)), "{bad}");
    let mut empty = Scheduler::new(1);
    let fe = fit_error(empty.schedule_one(&Pod::default()).map(|r| r.node));
    assert_eq!(fe.message(), "no nodes available to schedule pods");
    let other = s
        .schedule_one(&PodBuilder::new("x").scheduler_name("other").build())
        .unwrap_err();
    assert!(matches!(other, ScheduleError::NoProfile { .. }));
}

#[test]
fn preemption_nominates_a_node_and_the_pod_lands_there_after_the_victims_go() {
    let mut s = cluster(&[
        NodeBuilder::new("a").cpu("2"),
        NodeBuilder::new("b").cpu("2"),
    ]);
    for (name, node, prio) in [("low-a", "a", 1), ("low-b", "b", 5)] {
        s.add_pod(
            &PodBuilder::new(name)
                .cpu("2")
                .priority(prio)
                .node_name(node)
                .build(),
        )
        .unwrap();
    }
    let hi = Arc::new(PodBuilder::new("hi").cpu("2").priority(100).build_info());
    let fe = match s.schedule_pod(&hi) {
        Err(ScheduleError::Unschedulable(fe)) => fe,
        other => panic!("{other:?}"),
    };
    let nom = fe.nomination.clone().unwrap();
    assert_eq!(nom.node, "a");
    assert_eq!(
        nom.victims
            .iter()
            .map(|v| v.key.as_str())
            .collect::<Vec<_>>(),
        vec!["default/low-a"]
    );
    assert_eq!(s.cache().nominated_node("default/hi"), Some("a"));
    s.remove_pod("default/low-a").unwrap();
    // A lower-priority pod cannot take the room reserved for the nominated pod.
    let mid = Arc::new(PodBuilder::new("mid").cpu("1").priority(50).build_info());
    assert!(s.schedule_pod(&mid).is_err());
    let r = s.schedule_pod(&hi).unwrap();
    assert_eq!(r.node, "a");
    s.assume(hi, &r.node).unwrap();
    assert_eq!(s.cache().nominated_node("default/hi"), None);
}

#[test]
fn a_nominated_pod_waits_for_its_terminating_victims_instead_of_preempting_again() {
    let mut s = cluster(&[
        NodeBuilder::new("a").cpu("2"),
        NodeBuilder::new("b").cpu("2"),
    ]);
    for (name, node) in [("low-a", "a"), ("low-b", "b")] {
        s.add_pod(
            &PodBuilder::new(name)
                .cpu("2")
                .priority(1)
                .node_name(node)
                .build(),
        )
        .unwrap();
    }
    let hi = Arc::new(PodBuilder::new("hi").cpu("2").priority(100).build_info());
    let nom = match s.schedule_pod(&hi) {
        Err(ScheduleError::Unschedulable(fe)) => fe.nomination.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    // The victim is being deleted gracefully: it is still there, terminating.
    let victim = nom.victims[0]
        .key
        .trim_start_matches("default/")
        .to_string();
    let mut terminating = PodBuilder::new(&victim)
        .cpu("2")
        .priority(1)
        .node_name(&nom.node)
        .build();
    terminating.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
    );
    s.add_pod(&terminating).unwrap();
    let fe = match s.schedule_pod(&hi) {
        Err(ScheduleError::Unschedulable(fe)) => fe,
        other => panic!("{other:?}"),
    };
    assert_eq!(fe.nomination, None, "no second node is preempted");
    assert!(
        fe.message()
            .contains("not eligible due to a terminating pod"),
        "{}",
        fe.message()
    );
    assert_eq!(
        s.cache().nominated_node("default/hi"),
        Some(nom.node.as_str())
    );
}

#[test]
fn recent_failures_steer_an_owner_away() {
    let mut s = cluster(&[NodeBuilder::new("a"), NodeBuilder::new("b")]);
    s.record_failure("rs", "a").unwrap();
    for i in 0..5 {
        let info = Arc::new(PodBuilder::new(&format!("p{i}")).owner("rs").build_info());
        assert_eq!(s.schedule_pod(&info).unwrap().node, "b");
    }
    s.clear_failures();
}

#[test]
fn node_and_pod_updates_report_cluster_events() {
    let mut s = Scheduler::new(1);
    assert_eq!(
        s.add_node(&NodeBuilder::new("a").build()),
        ClusterEvent::NODE_ADD
    );
    let ev = s.update_node(
        &NodeBuilder::new("a")
            .label("x", "y")
            .taint("k", "", "NoSchedule")
            .build(),
    );
    assert!(
        ev.actions.intersects(ActionType::UPDATE_NODE_LABEL)
            && ev.actions.intersects(ActionType::UPDATE_NODE_TAINT)
    );
    assert!(!ev.actions.intersects(ActionType::UPDATE_NODE_ALLOCATABLE));
    let bound = PodBuilder::new("p").node_name("a").build();
    assert_eq!(s.add_pod(&bound).unwrap(), Some(ClusterEvent::POD_ADD));
    assert_eq!(
        s.add_pod(&PodBuilder::new("pending").build()).unwrap(),
        None
    );
    assert_eq!(s.remove_pod("default/p").unwrap(), ClusterEvent::POD_DELETE);
    assert!(s.remove_node("a").is_ok());
    assert!(s.forget("default/none").is_err());
}

#[test]
fn preemption_can_remove_the_pod_an_anti_affinity_term_objects_to() {
    let mut s = cluster(&[
        NodeBuilder::new("a").cpu("4"),
        NodeBuilder::new("b").cpu("4"),
    ]);
    s.add_pod(
        &PodBuilder::new("x")
            .label("app", "x")
            .cpu("1")
            .priority(0)
            .node_name("a")
            .build(),
    )
    .unwrap();
    s.add_pod(
        &PodBuilder::new("filler")
            .cpu("4")
            .priority(5)
            .node_name("b")
            .build(),
    )
    .unwrap();
    let hi = Arc::new(
        PodBuilder::new("hi")
            .cpu("1")
            .priority(100)
            .pod_anti_affinity(&[("app", "x")], "kubernetes.io/hostname")
            .build_info(),
    );
    let fe = match s.schedule_pod(&hi) {
        Err(ScheduleError::Unschedulable(fe)) => fe,
        other => panic!("{other:?}"),
    };
    // Removing x from a (priority 0) beats removing filler from b (priority 5): the dry run
    // must see that x's departure satisfies the anti-affinity term.
    let nom = fe.nomination.expect("a nomination");
    assert_eq!(nom.node, "a");
    assert_eq!(
        nom.victims
            .iter()
            .map(|v| v.key.as_str())
            .collect::<Vec<_>>(),
        vec!["default/x"]
    );
}

#[test]
fn the_core_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<Scheduler>();
    send::<crate::queue::SchedulingQueue>();
}
