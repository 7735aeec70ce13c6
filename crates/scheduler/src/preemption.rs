//! Preemption, after Kubernetes' DefaultPreemption.
//!
//! For a pod that fits nowhere: on each node where removing pods could help,
//! remove every lower-priority pod, check the pod fits, then give back as many
//! of them as still lets it fit (PodDisruptionBudget-protected ones first, most
//! important first). Among the candidate nodes pick the one with the fewest
//! budget violations, then the lowest highest victim priority, the smallest
//! priority sum, the fewest victims, and the latest start of its most
//! important victims. The caller deletes the victims through the API and
//! records the nominated node.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::fit_error::render;
use crate::framework::{Code, PostFilterContext, PostFilterResult, Status};
use crate::labels::Selector;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// Reason for a node without lower-priority pods.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// Reason for a node where removing pods cannot help.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// A pod to delete so that the preemptor fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Victim {
    /// `namespace/name`.
    pub key: String,
    /// The pod's uid (for a delete precondition).
    pub uid: String,
    /// Its priority.
    pub priority: i32,
}

/// A PodDisruptionBudget as preemption uses it.
#[derive(Debug, Clone)]
pub struct Pdb {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Pods it protects (an empty or missing selector protects none here, as in kube-scheduler).
    pub selector: Selector,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
    /// Names of pods already being disrupted (`status.disruptedPods`).
    pub disrupted_pods: Vec<String>,
}

impl Pdb {
    /// Compiles a PodDisruptionBudget.
    pub fn from_api(pdb: &PodDisruptionBudget) -> Self {
        let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
        let empty = sel.is_none_or(|s| {
            s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
        });
        let status = pdb.status.as_ref();
        Pdb {
            namespace: pdb
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pdb.metadata.name.clone().unwrap_or_default(),
            selector: if empty {
                Selector::nothing()
            } else {
                Selector::from_api(sel)
            },
            disruptions_allowed: status.map_or(0, |s| s.disruptions_allowed),
            disrupted_pods: status
                .and_then(|s| s.disrupted_pods.as_ref())
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

/// Kubernetes' `MoreImportantPod`: higher priority, then earlier start.
fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority.cmp(&a.priority).then_with(|| {
        a.start_time_ms
            .unwrap_or(i64::MAX)
            .cmp(&b.start_time_ms.unwrap_or(i64::MAX))
    })
}

/// Splits pods (kept in order) into those whose eviction would violate a budget and the rest.
fn split_by_pdb(pods: Vec<Arc<PodInfo>>, pdbs: &[Pdb]) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violated = false;
        if !pod.labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.namespace != pod.namespace
                    || !pdb.selector.matches(&pod.labels)
                    || pdb.disrupted_pods.contains(&pod.name)
                {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(pod);
        } else {
            ok.push(pod);
        }
    }
    (violating, ok)
}

struct Candidate {
    slot: u32,
    victims: Vec<Arc<PodInfo>>,
    violations: usize,
}

/// Victims on one node, or the status saying why there are none.
fn select_victims(
    ctx: &PostFilterContext<'_>,
    pod: &PodInfo,
    slot: u32,
    node: &mut NodeInfo,
) -> Result<(Vec<Arc<PodInfo>>, usize), Status> {
    let original = ctx.cluster.cache.node(slot);
    if !original.pods.iter().any(|p| p.priority < pod.priority) {
        return Err(Status::unresolvable("DefaultPreemption", NO_VICTIMS));
    }
    node.copy_from(original);
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status::unresolvable("DefaultPreemption", NO_VICTIMS));
    }
    // The dry run works on copies of the node and of the cycle state, updated for each
    // removed or reprieved pod (inter-pod affinity and spread counts move with them).
    let mut state = ctx.state.clone();
    for p in &potential {
        node.remove_pod_info(p);
        (ctx.update_state)(&mut state, pod, p, node, false);
    }
    let st = (ctx.run_filters)(&state, pod, node);
    if !st.is_success() {
        return Err(st);
    }
    potential.sort_by(|a, b| more_important(a, b));
    let (violating, ok) = split_by_pdb(potential, ctx.pdbs);
    let mut victims = Vec::new();
    let mut violations = 0;
    let had_both = !violating.is_empty() && !ok.is_empty();
    for (group, is_violating) in [(violating, true), (ok, false)] {
        for p in group {
            node.add_pod(p.clone());
            (ctx.update_state)(&mut state, pod, &p, node, true);
            if !(ctx.run_filters)(&state, pod, node).is_success() {
                node.remove_pod_info(&p);
                (ctx.update_state)(&mut state, pod, &p, node, false);
                victims.push(p);
                violations += usize::from(is_violating);
            }
        }
    }
    if had_both {
        victims.sort_by(|a, b| more_important(a, b));
    }
    Ok((victims, violations))
}

/// Picks the candidate Kubernetes' `pickOneNodeForPreemption` would.
fn pick(candidates: &[Candidate]) -> usize {
    let highest = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN)
    };
    let sum = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| i64::from(i32::MAX) + i64::from(v.priority) + 1)
            .sum::<i64>()
    };
    // Latest "earliest start among the most important victims" wins the last tie.
    let earliest_top = |c: &Candidate| {
        let top = highest(c);
        c.victims
            .iter()
            .filter(|v| v.priority == top)
            .filter_map(|v| v.start_time_ms)
            .min()
            .unwrap_or(i64::MIN)
    };
    let mut best = 0;
    for i in 1..candidates.len() {
        let (a, b) = (&candidates[i], &candidates[best]);
        let key_a = (a.violations, highest(a), sum(a), a.victims.len());
        let key_b = (b.violations, highest(b), sum(b), b.victims.len());
        if key_a < key_b || (key_a == key_b && earliest_top(a) > earliest_top(b)) {
            best = i;
        }
    }
    best
}

/// Kubernetes' `PodEligibleToPreemptOthers`: a pod already nominated to a node where a
/// lower-priority pod is terminating waits for it to go rather than preempting again.
fn waiting_for_victims(ctx: &PostFilterContext<'_>, pod: &PodInfo) -> bool {
    let cache = ctx.cluster.cache;
    let nominated = cache
        .nominated_node(&pod.key)
        .or(pod.nominated_node_name.as_deref());
    let Some(slot) = nominated.and_then(|n| cache.slot_of(n)) else {
        return false;
    };
    cache
        .node(slot)
        .pods
        .iter()
        .any(|p| p.terminating && p.priority < pod.priority)
}

/// Runs preemption for `pod`, evaluating up to `max_candidates` candidate nodes.
pub fn preempt(
    ctx: &PostFilterContext<'_>,
    pod: &PodInfo,
    max_candidates: usize,
) -> PostFilterResult {
    if pod.preempt_never {
        return PostFilterResult::Unresolved(
            "preemption: not eligible due to preemptionPolicy=Never.".into(),
        );
    }
    let cache = ctx.cluster.cache;
    let total = cache.num_nodes();
    if waiting_for_victims(ctx, pod) {
        return PostFilterResult::Unresolved(
            "preemption: not eligible due to a terminating pod on the nominated node.".into(),
        );
    }
    // Nodes that only failed for resolvable reasons may be helped by removing pods.
    let potential: Vec<u32> = ctx
        .statuses
        .iter()
        .filter(|(_, s)| s.code == Code::Unschedulable)
        .map(|(slot, _)| *slot)
        .collect();
    let mut statuses: Vec<Status> = Vec::new();
    let not_helpful =
        ctx.statuses.len() - potential.len() + total.saturating_sub(ctx.statuses.len());
    let mut candidates: Vec<Candidate> = Vec::new();
    if !potential.is_empty() {
        let n = potential.len();
        let offset = ctx.offset % n;
        let mut non_violating = 0;
        let mut scratch = NodeInfo::default();
        for i in 0..n {
            let slot = potential[(offset + i) % n];
            match select_victims(ctx, pod, slot, &mut scratch) {
                Ok((victims, violations)) if !victims.is_empty() => {
                    non_violating += usize::from(violations == 0);
                    candidates.push(Candidate {
                        slot,
                        victims,
                        violations,
                    });
                    if non_violating > 0 && candidates.len() >= max_candidates {
                        break;
                    }
                }
                // The pod fits with nothing removed (e.g. nominated pods moved): no victims needed.
                Ok(_) => statuses.push(Status::unresolvable("DefaultPreemption", NO_VICTIMS)),
                Err(st) => statuses.push(st),
            }
        }
    }
    if candidates.is_empty() {
        let mut h: BTreeMap<String, usize> = crate::fit_error::histogram(statuses.iter());
        if not_helpful > 0 {
            *h.entry(NOT_HELPFUL.to_string()).or_insert(0) += not_helpful;
        }
        return PostFilterResult::Unresolved(format!("preemption: {}", render(total, &h)));
    }
    let best = &candidates[pick(&candidates)];
    PostFilterResult::Nominated {
        node: cache.node(best.slot).name().to_string(),
        victims: best
            .victims
            .iter()
            .map(|v| Victim {
                key: v.key.clone(),
                uid: v.uid.clone(),
                priority: v.priority,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{NodeBuilder, PodBuilder};
    use crate::cache::Cache;
    use crate::framework::{Cluster, CycleState, FilterPlugin};
    use crate::labels::NamespaceLabels;
    use crate::plugins::node_resources_fit::{NodeResourcesFit, NodeResourcesFitArgs};

    fn low(name: &str, cpu: &str, priority: i32) -> Arc<PodInfo> {
        Arc::new(
            PodBuilder::new(name)
                .cpu(cpu)
                .priority(priority)
                .label("app", name)
                .build_info(),
        )
    }

    fn run(cache: &Cache, pod: &PodInfo, pdbs: &[Pdb]) -> PostFilterResult {
        let fit = NodeResourcesFit::new(NodeResourcesFitArgs::default());
        let state = CycleState::new();
        let run_filters = |st: &CycleState, p: &PodInfo, n: &NodeInfo| fit.filter(st, p, n);
        let update_state = |_: &mut CycleState, _: &PodInfo, _: &PodInfo, _: &NodeInfo, _: bool| {};
        let statuses: Vec<(u32, Arc<Status>)> = cache
            .nodes()
            .iter()
            .map(|s| (*s, Arc::new(run_filters(&state, pod, cache.node(*s)))))
            .filter(|(_, st)| !st.is_success())
            .collect();
        let ns = NamespaceLabels::new();
        let ctx = PostFilterContext {
            cluster: Cluster {
                cache,
                namespaces: &ns,
            },
            state: &state,
            statuses: &statuses,
            run_filters: &run_filters,
            update_state: &update_state,
            pdbs,
            offset: 0,
        };
        preempt(&ctx, pod, 100)
    }

    fn victims(r: &PostFilterResult) -> (String, Vec<String>) {
        match r {
            PostFilterResult::Nominated { node, victims } => (
                node.clone(),
                victims.iter().map(|v| v.key.clone()).collect(),
            ),
            PostFilterResult::Unresolved(m) => panic!("no nomination: {m}"),
        }
    }

    #[test]
    fn picks_the_node_with_the_lowest_priority_victims_and_reprieves_what_it_can() {
        let mut c = Cache::new();
        c.upsert_node(&NodeBuilder::new("a").cpu("4").build());
        c.upsert_node(&NodeBuilder::new("b").cpu("4").build());
        c.add_pod(low("a1", "2", 10), "a", false).unwrap();
        c.add_pod(low("a2", "2", 10), "a", false).unwrap();
        c.add_pod(low("b1", "2", 5), "b", false).unwrap();
        c.add_pod(low("b2", "1", 1), "b", false).unwrap();
        c.add_pod(low("b3", "1", 1), "b", false).unwrap();
        let pod = PodBuilder::new("hi").cpu("2").priority(100).build_info();
        // b's victims have lower priorities; b1 (priority 5) is reprieved first and b2+b3 make room.
        assert_eq!(
            victims(&run(&c, &pod, &[])),
            ("b".into(), vec!["default/b2".into(), "default/b3".into()])
        );
    }

    #[test]
    fn avoids_violating_disruption_budgets() {
        let mut c = Cache::new();
        c.upsert_node(&NodeBuilder::new("a").cpu("2").build());
        c.upsert_node(&NodeBuilder::new("b").cpu("2").build());
        c.add_pod(low("x", "2", 1), "a", false).unwrap();
        c.add_pod(low("y", "2", 5), "b", false).unwrap();
        let pod = PodBuilder::new("hi").cpu("2").priority(100).build_info();
        assert_eq!(
            victims(&run(&c, &pod, &[])).0,
            "a",
            "lowest priority victim"
        );
        let pdb = Pdb {
            namespace: "default".into(),
            name: "protect-x".into(),
            selector: Selector::from_api(Some(
                &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                    match_labels: Some([("app".to_string(), "x".to_string())].into()),
                    match_expressions: None,
                },
            )),
            disruptions_allowed: 0,
            disrupted_pods: vec![],
        };
        assert_eq!(
            victims(&run(&c, &pod, &[pdb])).0,
            "b",
            "budget respected where possible"
        );
    }

    #[test]
    fn explains_why_preemption_cannot_help() {
        let mut c = Cache::new();
        c.upsert_node(&NodeBuilder::new("a").cpu("2").build());
        c.upsert_node(&NodeBuilder::new("small").cpu("1").build());
        c.add_pod(low("peer", "2", 100), "a", false).unwrap();
        let pod = PodBuilder::new("hi").cpu("2").priority(100).build_info();
        match run(&c, &pod, &[]) {
            PostFilterResult::Unresolved(m) => assert_eq!(
                m,
                "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, \
                 1 Preemption is not helpful for scheduling."
            ),
            other => panic!("{other:?}"),
        }
        let never = PodBuilder::new("n")
            .cpu("2")
            .priority(100)
            .never_preempt()
            .build_info();
        assert_eq!(
            run(&c, &never, &[]),
            PostFilterResult::Unresolved(
                "preemption: not eligible due to preemptionPolicy=Never.".into()
            )
        );
    }
}
