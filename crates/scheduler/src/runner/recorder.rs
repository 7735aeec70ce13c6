//! Events about pods, as `kubectl describe pod` shows them.
//!
//! [`Recorder::record`] never blocks the scheduler: events go into a bounded
//! queue that a few tasks write to the API (core/v1 Events), and an event that
//! finds the queue full is dropped, as client-go's broadcaster drops them
//! (`DropIfChannelFull`). Events are informative; scheduling never depends on
//! them.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};

/// Events waiting to be written at most (more are dropped).
pub const QUEUE_LEN: usize = 1000;
/// Tasks writing events.
const WRITERS: usize = 4;

/// The pod an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
}

/// One event to write.
#[derive(Debug, Clone)]
pub struct PodEvent {
    /// The pod.
    pub pod: PodRef,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// `Scheduled`, `FailedScheduling`, `Preempted`.
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

/// Writes events in the background.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<PodEvent>,
}

impl Recorder {
    /// Starts the writer tasks; `component` is the event's source (the schedulerName).
    pub fn start(client: Client, component: String) -> Self {
        let (tx, rx) = mpsc::channel::<PodEvent>(QUEUE_LEN);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WRITERS {
            let rx = rx.clone();
            let client = client.clone();
            let component = component.clone();
            tokio::spawn(async move {
                loop {
                    let Some(ev) = rx.lock().await.recv().await else {
                        return;
                    };
                    let api: Api<Event> = Api::namespaced(client.clone(), &ev.pod.namespace);
                    let event = to_event(&ev, &component);
                    if let Err(e) = api.create(&PostParams::default(), &event).await {
                        tracing::debug!("scheduler: writing event {}: {e}", ev.reason);
                    }
                }
            });
        }
        Recorder { tx }
    }

    /// Queues an event; drops it when the queue is full.
    pub fn record(&self, ev: PodEvent) {
        let _ = self.tx.try_send(ev);
    }
}

/// The core/v1 Event for a pod event.
pub fn to_event(ev: &PodEvent, component: &str) -> Event {
    let now = Timestamp::now();
    Event {
        metadata: ObjectMeta {
            name: Some(format!(
                "{}.{:x}",
                ev.pod.name,
                now.as_nanosecond().unsigned_abs()
            )),
            namespace: Some(ev.pod.namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(ev.pod.namespace.clone()),
            name: Some(ev.pod.name.clone()),
            uid: Some(ev.pod.uid.clone()),
            ..Default::default()
        },
        reason: Some(ev.reason.into()),
        message: Some(ev.message.clone()),
        type_: Some(ev.type_.into()),
        source: Some(EventSource {
            component: Some(component.into()),
            host: None,
        }),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        action: Some(
            match ev.reason {
                "Scheduled" => "Binding",
                "Preempted" => "Preempting",
                _ => "Scheduling",
            }
            .into(),
        ),
        reporting_component: Some(component.into()),
        reporting_instance: Some(component.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_the_pod_as_describe_shows_it() {
        let ev = PodEvent {
            pod: PodRef {
                namespace: "ns".into(),
                name: "p".into(),
                uid: "u".into(),
            },
            type_: "Warning",
            reason: "FailedScheduling",
            message: "0/1 nodes are available: 1 Insufficient cpu.".into(),
        };
        let e = to_event(&ev, "default-scheduler");
        assert_eq!(e.involved_object.name.as_deref(), Some("p"));
        assert_eq!(e.involved_object.kind.as_deref(), Some("Pod"));
        assert_eq!(e.metadata.namespace.as_deref(), Some("ns"));
        assert!(e.metadata.name.unwrap().starts_with("p."));
        assert_eq!(e.reason.as_deref(), Some("FailedScheduling"));
        assert_eq!(
            e.source.and_then(|s| s.component).as_deref(),
            Some("default-scheduler")
        );
    }
}
