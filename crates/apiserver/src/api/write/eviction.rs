//! `pods/eviction`, as Kubernetes' eviction REST does it: a pod that is
//! not running (or already going) is deleted at once; a running one only
//! when the one PodDisruptionBudget selecting it allows a disruption,
//! which the eviction takes from the budget's status. Either way the pod
//! is marked `DisruptionTarget` before it is deleted. A budget its
//! controller has not yet processed, or that allows nothing, answers 429
//! so that clients (kubectl drain) retry.

use super::*;
use crate::status::Cause;

const BUDGET_CAUSE: &str = "DisruptionBudget";
const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn budgets() -> &'static Resource {
    crate::resources::find("policy", "v1", "poddisruptionbudgets").expect("served")
}

fn too_many_requests(detail: String, retry_after_seconds: u32) -> ApiError {
    ApiError::TooManyRequests {
        message: REFUSED.into(),
        causes: vec![Cause {
            reason: BUDGET_CAUSE,
            field: String::new(),
            message: detail,
        }],
        retry_after_seconds,
    }
}

/// `canIgnorePDB`: a pod that is not running, or is already being deleted,
/// disrupts nothing more by going.
fn can_ignore_budget(pod: &Value) -> bool {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    matches!(phase, Some("Succeeded" | "Failed" | "Pending"))
        || pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Whether a budget's selector selects a pod's labels; an empty one
/// selects nothing here (Kubernetes' eviction skips such budgets).
fn selects(selector: &Value, labels: &crate::fields::Labels) -> bool {
    let selector = crate::selectors::LabelSelector::from_object(selector);
    !selector.is_empty() && selector.matches(labels)
}

/// The budgets of the pod's namespace that select it.
fn budgets_of(api: &ApiServer, pod: &Value, namespace: &str) -> Vec<(Value, Revision)> {
    let labels = crate::fields::labels(pod);
    let (cached, _) = api.cache.list(budgets(), Some(namespace));
    cached
        .iter()
        .filter_map(|o| Some((serde_json::from_slice::<Value>(&o.json).ok()?, o.rev)))
        .filter(|(b, _)| {
            b.pointer("/spec/selector")
                .is_some_and(|s| selects(s, &labels))
        })
        .collect()
}

fn int_at(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// `checkAndDecrement`: takes one disruption from the budget's status
/// (noting the pod as disrupted), or says why it cannot.
async fn take_disruption(
    api: &ApiServer,
    budget: &Value,
    rev: Revision,
    namespace: &str,
    pod: &str,
    dry: bool,
) -> Result<(), ApiError> {
    let name = budget
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if int_at(budget, "/status/observedGeneration") < int_at(budget, "/metadata/generation") {
        return Err(too_many_requests(
            format!("The disruption budget {name} is still being processed by the server."),
            10,
        ));
    }
    let allowed = int_at(budget, "/status/disruptionsAllowed");
    if allowed < 0 {
        return Err(ApiError::Forbidden {
            message: format!(
                "poddisruptionbudgets.policy {name:?} is forbidden: pdb disruptions allowed is negative"
            ),
        });
    }
    if allowed == 0 {
        return Err(too_many_requests(
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                int_at(budget, "/status/desiredHealthy"),
                int_at(budget, "/status/currentHealthy")
            ),
            0,
        ));
    }
    if dry {
        return Ok(());
    }
    let mut next = budget.clone();
    next["status"]["disruptionsAllowed"] = json!(allowed - 1);
    let status = &mut next["status"];
    if !status.get("disruptedPods").is_some_and(Value::is_object) {
        status["disruptedPods"] = json!({});
    }
    status["disruptedPods"][pod] = json!(crate::apply::now());
    let key = budgets().key(Some(namespace), name);
    match api.store.update(&key, encode(&next)?, rev, None).await {
        Ok(_) => Ok(()),
        // Another eviction took from the budget first: the client retries.
        Err(cuttle_store::Error::Conflict { .. }) => Err(too_many_requests(
            format!("The disruption budget {name} is still being processed by the server."),
            10,
        )),
        Err(e) => Err(from_store(e, budgets(), name)),
    }
}

/// Marks the pod `DisruptionTarget` (the eviction API is taking it), as
/// Kubernetes does before it deletes an evicted pod.
async fn mark_disruption_target(
    api: &ApiServer,
    r: &ResourceRequest,
    pod: &Value,
    rev: Revision,
) -> Result<(), ApiError> {
    let mut next = pod.clone();
    let condition = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
        "lastProbeTime": null,
        "lastTransitionTime": crate::apply::now(),
    });
    if !next.get("status").is_some_and(Value::is_object) {
        next["status"] = json!({});
    }
    let conditions = next["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    if let Some(Value::Array(list)) = conditions {
        list.retain(|c| c["type"] != "DisruptionTarget");
        list.push(condition);
    }
    let name = r.name.as_deref().unwrap_or_default();
    let key = r.resource.key(r.namespace.as_deref(), name);
    match api.store.update(&key, encode(&next)?, rev, None).await {
        // A pod that changed meanwhile is still deleted; the mark is best effort.
        Ok(_) | Err(cuttle_store::Error::Conflict { .. }) => Ok(()),
        Err(e) => Err(from_store(e, r.resource, name)),
    }
}

pub(super) async fn evict(
    api: &Arc<ApiServer>,
    r: &ResourceRequest,
    query: &Query,
    eviction: Value,
) -> Result<Response<Body>, ApiError> {
    let opts = eviction
        .get("deleteOptions")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let dry = dry_run(query)
        || opts
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| !d.is_empty());
    let name = r.name.as_deref().unwrap_or_default();
    let namespace = r.namespace.as_deref().unwrap_or_default();
    let key = r.resource.key(r.namespace.as_deref(), name);
    let (pod, rev) = read_object(api, r.resource, &key, name).await?;
    if !can_ignore_budget(&pod) {
        let selecting = budgets_of(api, &pod, namespace);
        match selecting.as_slice() {
            [] => {}
            [(budget, budget_rev)] => {
                let unhealthy_may_go = !is_ready(&pod)
                    && (budget.pointer("/spec/unhealthyPodEvictionPolicy")
                        == Some(&json!("AlwaysAllow"))
                        || (int_at(budget, "/status/currentHealthy")
                            >= int_at(budget, "/status/desiredHealthy")
                            && int_at(budget, "/status/desiredHealthy") > 0));
                if !unhealthy_may_go {
                    take_disruption(api, budget, *budget_rev, namespace, name, dry).await?;
                }
            }
            _ => {
                return Err(ApiError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ))
            }
        }
    }
    if !dry {
        mark_disruption_target(api, r, &pod, rev).await?;
    }
    let mut delete_query = query.clone();
    if dry {
        delete_query.0.insert("dryRun".into(), vec!["All".into()]);
    }
    delete(api, r, &delete_query, &opts).await?;
    Ok(value_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_of_budgets() {
        let labels = crate::fields::Labels::from_pairs([("app", "web"), ("tier", "front")]);
        let labels = &labels;
        assert!(selects(&json!({"matchLabels": {"app": "web"}}), labels));
        assert!(!selects(&json!({"matchLabels": {"app": "db"}}), labels));
        assert!(selects(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]},
                                         {"key": "gone", "operator": "DoesNotExist"}]}),
            labels
        ));
        assert!(
            !selects(&json!({}), labels),
            "an empty selector selects nothing"
        );
    }

    #[test]
    fn running_pods_go_only_through_their_budget() {
        assert!(can_ignore_budget(&json!({"status": {"phase": "Pending"}})));
        assert!(!can_ignore_budget(&json!({"status": {"phase": "Running"}})));
        assert!(can_ignore_budget(
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}})
        ));
    }
}
