//! One scheduling cycle: PreFilter, Filter (with equivalence classes and
//! relaxed randomization), PostFilter, PreScore, Score (with the score cache),
//! normalization, weighting and the choice of a host.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Buffers, ProfileState, ScheduleError, ScheduleResult, Scheduler};
use crate::equivalence::PASS;
use crate::fit_error::{histogram, FitError, Nomination};
use crate::framework::{Cluster, CycleState, PostFilterContext, PostFilterResult, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::registry::SchedulingProfile;
use crate::sampling::{num_feasible_nodes_to_find, Rng};

/// Runs the filters at `idxs` not in `skip` (a bitmask of filter indices).
#[inline]
fn run_filters(
    profile: &SchedulingProfile,
    idxs: &[usize],
    skip: u64,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
) -> Status {
    for &i in idxs {
        if skip & (1u64 << (i % 64)) != 0 {
            continue;
        }
        let st = profile.filter[i].filter(state, pod, node);
        if !st.is_success() {
            return st;
        }
    }
    Status::success()
}

/// Whether pods nominated to this node must be counted for `pod` (equal or higher priority).
fn nominated_count(node: &NodeInfo, pod: &PodInfo) -> bool {
    node.nominated
        .iter()
        .any(|p| p.priority >= pod.priority && !std::ptr::eq(p.as_ref(), pod) && p.key != pod.key)
}

/// Runs `filters` on the node with the nominated pods of equal or higher priority
/// added, building that node in `scratch` (created on first use, then reused).
fn with_nominated(
    scratch: &RefCell<Option<NodeInfo>>,
    node: &NodeInfo,
    pod: &PodInfo,
    filters: impl Fn(&PodInfo, &NodeInfo) -> Status,
) -> Status {
    let Ok(mut guard) = scratch.try_borrow_mut() else {
        // Re-entered (cannot happen today): fall back to a fresh copy.
        let mut n = node.clone();
        add_nominated(&mut n, node, pod);
        return filters(pod, &n);
    };
    let n = guard.get_or_insert_with(NodeInfo::default);
    n.copy_from(node);
    add_nominated(n, node, pod);
    filters(pod, n)
}

fn add_nominated(n: &mut NodeInfo, node: &NodeInfo, pod: &PodInfo) {
    for p in &node.nominated {
        if p.priority >= pod.priority && !std::ptr::eq(p.as_ref(), pod) && p.key != pod.key {
            n.add_pod(p.clone());
        }
    }
}

/// Kubernetes' `selectHost`: the highest total, ties broken uniformly at random.
fn select_host(feasible: &[u32], totals: &[i64], rng: &mut Rng) -> u32 {
    let mut best = 0;
    let mut ties = 1u64;
    for i in 1..feasible.len() {
        if totals[i] > totals[best] {
            best = i;
            ties = 1;
        } else if totals[i] == totals[best] {
            ties += 1;
            if rng.below(ties) == 0 {
                best = i;
            }
        }
    }
    feasible[best]
}

impl Scheduler {
    pub(super) fn run_cycle(
        &mut self,
        idx: usize,
        pod: &Arc<PodInfo>,
    ) -> Result<ScheduleResult, ScheduleError> {
        let Scheduler {
            cache,
            profiles,
            namespaces,
            rng,
            next_start,
            state,
            bufs,
            stats,
            pdb_list,
            ..
        } = self;
        let ProfileState {
            profile,
            equivalence,
            score_cache,
            local_filters,
            other_filters,
            local_scores,
            other_scores,
        } = &mut profiles[idx];
        let cluster = Cluster { cache, namespaces };
        stats.cycles += 1;
        state.clear();
        let n = cache.num_nodes();
        let fit_error = |num_all_nodes: usize| FitError {
            pod: pod.key.clone(),
            num_all_nodes,
            reasons: Default::default(),
            unschedulable_plugins: BTreeSet::new(),
            pre_filter_message: None,
            post_filter_message: None,
            nomination: None,
        };
        if n == 0 {
            let mut fe = fit_error(0);
            fe.pre_filter_message = Some("no nodes available to schedule pods".into());
            return Err(ScheduleError::Unschedulable(Box::new(fe)));
        }

        // PreFilter.
        let Buffers {
            feasible,
            rejected,
            scores,
            totals,
            parts,
            skipped,
        } = bufs;
        skipped.clear();
        for p in &profile.pre_filter {
            let st = p.pre_filter(state, pod, &cluster);
            if st.is_skip() {
                skipped.push(p.name());
            } else if !st.is_success() {
                let mut fe = fit_error(n);
                fe.pre_filter_message = Some(st.message());
                fe.unschedulable_plugins.insert(p.name());
                return Err(ScheduleError::Unschedulable(Box::new(fe)));
            }
        }
        let skip: u64 = profile
            .filter
            .iter()
            .enumerate()
            .filter(|(_, f)| skipped.contains(&f.name()))
            .fold(0, |m, (i, _)| m | (1u64 << (i % 64)));
        let all_filters = |pod: &PodInfo, node: &NodeInfo| -> Status {
            let st = run_filters(profile, local_filters, skip, state, pod, node);
            if !st.is_success() {
                return st;
            }
            run_filters(profile, other_filters, skip, state, pod, node)
        };
        let scratch: RefCell<Option<NodeInfo>> = RefCell::new(None);

        // A pod nominated by an earlier preemption tries its node first.
        let nominated = pod.nominated_node_name.as_deref().or_else(|| {
            cache
                .has_nominations()
                .then(|| cache.nominated_node(&pod.key))
                .flatten()
        });
        if let Some(slot) = nominated.and_then(|name| cache.slot_of(name)) {
            let node = cache.node(slot);
            let fits = all_filters(pod, node).is_success()
                && (!nominated_count(node, pod)
                    || with_nominated(&scratch, node, pod, all_filters).is_success());
            if fits {
                return Ok(ScheduleResult {
                    node: node.name().to_string(),
                    evaluated_nodes: 1,
                    feasible_nodes: 1,
                });
            }
        }

        // Filter, from a rotating offset, until enough feasible nodes are found.
        let to_find = if profile.borg.relaxed_randomization {
            num_feasible_nodes_to_find(n, profile.percentage_of_nodes_to_score)
        } else {
            n
        };
        let class = pod
            .equivalence_class
            .filter(|_| profile.borg.equivalence_classes);
        equivalence.reset_if_full();
        let mut entry = class.map(|c| equivalence.take(c));
        feasible.clear();
        rejected.clear();
        let nodes = cache.nodes();
        let start = *next_start % n;
        let mut processed = 0;
        let any_nominated = cache.has_nominations();
        for i in 0..n {
            let slot = nodes[if start + i < n {
                start + i
            } else {
                start + i - n
            }];
            let gen = cache.generation(slot);
            processed = i + 1;
            // Kubernetes runs the filters without and, when pods of equal or higher
            // priority are nominated to the node, with them: the node must pass both.
            let failed: Option<Arc<Status>> = {
                let local = match entry.as_mut() {
                    Some(e) => {
                        let cached = e.get(slot, gen).and_then(|o| {
                            if o == PASS {
                                Some(None)
                            } else {
                                equivalence.status(o).map(|st| Some(st.clone()))
                            }
                        });
                        match cached {
                            Some(outcome) => {
                                equivalence.hits += 1;
                                outcome
                            }
                            None => {
                                equivalence.misses += 1;
                                let st = run_filters(
                                    profile,
                                    local_filters,
                                    skip,
                                    state,
                                    pod,
                                    cache.node(slot),
                                );
                                if st.is_success() {
                                    e.put(slot, gen, PASS);
                                    None
                                } else {
                                    match equivalence.intern(st) {
                                        Ok(id) => {
                                            e.put(slot, gen, id);
                                            equivalence.status(id).cloned()
                                        }
                                        // Table full: answer without caching.
                                        Err(st) => Some(st),
                                    }
                                }
                            }
                        }
                    }
                    None => {
                        let st =
                            run_filters(profile, local_filters, skip, state, pod, cache.node(slot));
                        (!st.is_success()).then(|| Arc::new(st))
                    }
                };
                local.or_else(|| {
                    if other_filters.iter().all(|i| skip & (1u64 << (i % 64)) != 0) {
                        return None;
                    }
                    let st =
                        run_filters(profile, other_filters, skip, state, pod, cache.node(slot));
                    (!st.is_success()).then(|| Arc::new(st))
                })
            };
            let failed = match failed {
                None if any_nominated && nominated_count(cache.node(slot), pod) => {
                    let st = with_nominated(&scratch, cache.node(slot), pod, all_filters);
                    (!st.is_success()).then(|| Arc::new(st))
                }
                other => other,
            };
            match failed {
                None => {
                    feasible.push(slot);
                    if feasible.len() >= to_find {
                        break;
                    }
                }
                Some(st) => rejected.push((slot, st)),
            }
        }
        *next_start = (start + processed) % n;
        stats.nodes_evaluated += processed as u64;
        if let (Some(c), Some(e)) = (class, entry) {
            equivalence.put_back(c, e);
        }

        if feasible.is_empty() {
            // Preemption's dry runs count nominated pods too, as kube-scheduler's
            // RunFilterPluginsWithNominatedPods does, and run on copies of the state.
            let filters_with_state = |st: &CycleState, pod: &PodInfo, node: &NodeInfo| -> Status {
                let r = run_filters(profile, local_filters, skip, st, pod, node);
                if !r.is_success() {
                    return r;
                }
                run_filters(profile, other_filters, skip, st, pod, node)
            };
            let filters_with_nominated =
                |st: &CycleState, pod: &PodInfo, node: &NodeInfo| -> Status {
                    let r = filters_with_state(st, pod, node);
                    if r.is_success() && nominated_count(node, pod) {
                        with_nominated(&scratch, node, pod, |p, n| filters_with_state(st, p, n))
                    } else {
                        r
                    }
                };
            let update_state = |st: &mut CycleState,
                                pod: &PodInfo,
                                other: &PodInfo,
                                node: &NodeInfo,
                                added: bool| {
                for p in &profile.pre_filter {
                    if skipped.contains(&p.name()) {
                        continue;
                    }
                    if added {
                        p.add_pod(st, &cluster, pod, other, node);
                    } else {
                        p.remove_pod(st, &cluster, pod, other, node);
                    }
                }
            };
            let mut fe = fit_error(n);
            fe.reasons = histogram(rejected.iter().map(|(_, s)| s.as_ref()));
            fe.unschedulable_plugins = rejected
                .iter()
                .map(|(_, s)| s.plugin)
                .filter(|p| !p.is_empty())
                .collect();
            for pf in &profile.post_filter {
                let ctx = PostFilterContext {
                    cluster,
                    state,
                    statuses: rejected,
                    run_filters: &filters_with_nominated,
                    update_state: &update_state,
                    pdbs: pdb_list,
                    offset: rng.below(n as u64) as usize,
                };
                match pf.post_filter(&ctx, pod) {
                    PostFilterResult::Nominated { node, victims } => {
                        fe.post_filter_message = None;
                        fe.nomination = Some(Nomination { node, victims });
                        break;
                    }
                    PostFilterResult::Unresolved(msg) => fe.post_filter_message = Some(msg),
                }
            }
            return Err(ScheduleError::Unschedulable(Box::new(fe)));
        }
        let nf = feasible.len();
        let result = |slot: u32| ScheduleResult {
            node: cache.node(slot).name().to_string(),
            evaluated_nodes: processed,
            feasible_nodes: nf,
        };
        if nf == 1 {
            return Ok(result(feasible[0]));
        }

        // PreScore.
        skipped.clear();
        for p in &profile.pre_score {
            let st = p.pre_score(state, pod, &cluster, feasible);
            if !st.is_success() {
                skipped.push(p.name());
            }
        }
        let np = profile.score.len();
        let skip: u64 = profile
            .score
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| skipped.contains(&s.name()))
            .fold(0, |m, (i, _)| m | (1u64 << (i % 64)));
        let skipped_score = |i: usize| skip & (1u64 << (i % 64)) != 0;

        // Score: node-local parts from the score cache when the node is unchanged.
        scores.clear();
        scores.resize(np * nf, 0);
        let block = (profile.borg.score_cache && !local_scores.is_empty())
            .then(|| score_cache.block_of(pod.score_signature));
        parts.clear();
        parts.resize(local_scores.len(), 0);
        for (k, &slot) in feasible.iter().enumerate() {
            let gen = cache.generation(slot);
            let hit = block.is_some_and(|b| score_cache.get_into(b, slot, gen, parts));
            if block.is_some() {
                if hit {
                    score_cache.hits += 1;
                } else {
                    score_cache.misses += 1;
                }
            }
            if !hit {
                let node = cache.node(slot);
                for (j, &pi) in local_scores.iter().enumerate() {
                    parts[j] = if skipped_score(pi) {
                        0
                    } else {
                        profile.score[pi].0.score(state, pod, node)
                    };
                }
                if let Some(b) = block {
                    score_cache.put(b, slot, gen, parts);
                }
            }
            for (j, &pi) in local_scores.iter().enumerate() {
                scores[pi * nf + k] = parts[j];
            }
        }
        for &pi in other_scores.iter() {
            if skipped_score(pi) {
                continue;
            }
            let plugin = &profile.score[pi].0;
            plugin.score_all(
                state,
                pod,
                &cluster,
                feasible,
                &mut scores[pi * nf..(pi + 1) * nf],
            );
        }

        // Normalize, weight, sum, select.
        totals.clear();
        totals.resize(nf, 0);
        for (pi, (plugin, weight)) in profile.score.iter().enumerate() {
            if skipped_score(pi) {
                continue;
            }
            let slice = &mut scores[pi * nf..(pi + 1) * nf];
            plugin.normalize(state, pod, slice);
            for (t, s) in totals.iter_mut().zip(slice.iter()) {
                *t += s * weight;
            }
        }
        Ok(result(select_host(feasible, totals, rng)))
    }
}
