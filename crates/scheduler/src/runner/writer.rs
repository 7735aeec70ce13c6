//! What the scheduler writes to the API, off the scheduling thread.
//!
//! Each write is a task on the runtime, so the next pod is scheduled while
//! earlier ones bind: bindings (`POST pods/{name}/binding`, at most
//! `max_concurrent_binds` at once) report back to the driver as
//! [`Message::Bound`]; the `PodScheduled=False` condition and
//! `status.nominatedNodeName` go through `pods/{name}/status` (a strategic
//! merge patch, keyed on the condition type); preemption victims are deleted
//! gracefully with a uid precondition.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, Client};
use serde_json::json;
use std::sync::mpsc::Sender;
use tokio::sync::Semaphore;

use super::driver::Message;
use super::recorder::{PodEvent, PodRef, Recorder};
use crate::preemption::Victim;

/// Writes bindings, conditions, nominations, deletions and events.
pub struct Writer {
    client: Client,
    recorder: Recorder,
    tx: Sender<Message>,
    binds: Arc<Semaphore>,
}

/// The `PodScheduled=False` condition a failed attempt writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    /// `Unschedulable` (no node fits) or `SchedulerError` (the pod cannot be scheduled as it is).
    pub reason: &'static str,
    /// The message (kube-scheduler's "0/3 nodes are available: ..." for `Unschedulable`).
    pub message: String,
    /// The node preemption nominated, if any.
    pub nominated_node: Option<String>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("binds_available", &self.binds.available_permits())
            .finish()
    }
}

impl Writer {
    /// A writer; bindings report back on `tx`.
    pub fn new(
        client: Client,
        recorder: Recorder,
        tx: Sender<Message>,
        max_concurrent_binds: usize,
    ) -> Self {
        Writer {
            client,
            recorder,
            tx,
            binds: Arc::new(Semaphore::new(max_concurrent_binds.max(1))),
        }
    }

    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Binds `pod` to `node`; the outcome comes back as [`Message::Bound`], and a
    /// `Scheduled` event is recorded on success.
    pub fn bind(&self, pod: PodRef, node: String) {
        let api = self.pods(&pod.namespace);
        let tx = self.tx.clone();
        let binds = self.binds.clone();
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            let Ok(_permit) = binds.acquire_owned().await else {
                return;
            };
            let binding = json!({
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            let result = api
                .create_subresource::<_, serde_json::Value>(
                    "binding",
                    &pod.name,
                    &PostParams::default(),
                    &binding,
                )
                .await;
            let error = match result {
                Ok(_) => {
                    recorder.record(PodEvent {
                        type_: "Normal",
                        reason: "Scheduled",
                        message: format!(
                            "Successfully assigned {}/{} to {node}",
                            pod.namespace, pod.name
                        ),
                        pod: pod.clone(),
                    });
                    None
                }
                Err(e) => Some(e.to_string()),
            };
            let _ = tx.send(Message::Bound {
                key: format!("{}/{}", pod.namespace, pod.name),
                node,
                error,
            });
        });
    }

    /// Writes `PodScheduled=False` (and the nominated node) into the pod's status and
    /// records a `FailedScheduling` event.
    pub fn unschedulable(&self, pod: PodRef, u: Unschedulable) {
        let api = self.pods(&pod.namespace);
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            let mut status = json!({
                "conditions": [{
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": u.reason,
                    "message": u.message,
                    "lastProbeTime": null,
                    // Whole seconds, as Kubernetes' metav1.Time is written.
                    "lastTransitionTime": whole_seconds_now(),
                }],
            });
            if let Some(node) = &u.nominated_node {
                status["nominatedNodeName"] = json!(node);
            }
            let patch = Patch::Strategic(json!({ "status": status }));
            if let Err(e) = api
                .patch_status(&pod.name, &PatchParams::default(), &patch)
                .await
            {
                tracing::debug!("scheduler: status of {}/{}: {e}", pod.namespace, pod.name);
            }
            recorder.record(PodEvent {
                pod,
                type_: "Warning",
                reason: "FailedScheduling",
                message: u.message,
            });
        });
    }

    /// Deletes preemption victims gracefully (each with its uid as a precondition) and
    /// records a `Preempted` event on each.
    pub fn delete_victims(&self, preemptor: &PodRef, node: &str, victims: &[Victim]) {
        for v in victims {
            let Some((namespace, name)) = v.key.split_once('/') else {
                continue;
            };
            let victim = PodRef {
                namespace: namespace.to_string(),
                name: name.to_string(),
                uid: v.uid.clone(),
            };
            let api = self.pods(namespace);
            let recorder = self.recorder.clone();
            let message = format!("Preempted by pod {} on node {node}", preemptor.uid);
            tokio::spawn(async move {
                let dp = DeleteParams {
                    preconditions: (!victim.uid.is_empty()).then(|| Preconditions {
                        uid: Some(victim.uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match api.delete(&victim.name, &dp).await {
                    Ok(_) => recorder.record(PodEvent {
                        pod: victim,
                        type_: "Normal",
                        reason: "Preempted",
                        message,
                    }),
                    Err(e) => tracing::debug!(
                        "scheduler: deleting victim {}/{}: {e}",
                        victim.namespace,
                        victim.name
                    ),
                }
            });
        }
    }
}

/// Now, to the second (`2026-01-02T03:04:05Z`).
fn whole_seconds_now() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}
