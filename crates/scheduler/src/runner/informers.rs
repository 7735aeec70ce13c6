//! Watches that keep the scheduler's cache in step with the API.
//!
//! One task per kind follows a kube-runtime [`watcher`] (list once, then
//! watch, re-listing after a 410 Gone) and forwards each change to the
//! scheduling thread as a [`Message`]. After a re-list, objects that were
//! known before and are missing from the new list are reported deleted, so
//! the cache never keeps a ghost. The first complete list of each kind is
//! reported as [`Message::Synced`]: the driver schedules nothing before every
//! kind has synced.

use std::collections::HashSet;
use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::sync::mpsc::Sender;
use tokio::task::JoinHandle;

use super::driver::{Kind, Message, Watched};
use super::lean_pod::LeanPod;

/// Starts one watch per kind the scheduler needs.
pub fn spawn(client: Client, tx: Sender<Message>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(inform(
            Api::<Node>::all(client.clone()),
            tx.clone(),
            Kind::Node,
            |w| Message::Node(Box::new(w)),
        )),
        tokio::spawn(inform(
            Api::<LeanPod>::all(client.clone()),
            tx.clone(),
            Kind::Pod,
            |w| {
                Message::Pod(Box::new(match w {
                    Watched::Apply(p) => Watched::Apply(p.0),
                    Watched::Delete(key, uid) => Watched::Delete(key, uid),
                }))
            },
        )),
        tokio::spawn(inform(
            Api::<PriorityClass>::all(client.clone()),
            tx.clone(),
            Kind::PriorityClass,
            Message::PriorityClass,
        )),
        tokio::spawn(inform(
            Api::<PodDisruptionBudget>::all(client.clone()),
            tx.clone(),
            Kind::PodDisruptionBudget,
            Message::PodDisruptionBudget,
        )),
        tokio::spawn(inform(
            Api::<Namespace>::all(client),
            tx,
            Kind::Namespace,
            Message::Namespace,
        )),
    ]
}

/// `namespace/name`, or `name` for cluster-scoped objects.
pub fn key_of<K: Resource>(o: &K) -> String {
    let name = o.meta().name.as_deref().unwrap_or("");
    match o.meta().namespace.as_deref() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

async fn inform<K>(api: Api<K>, tx: Sender<Message>, kind: Kind, wrap: fn(Watched<K>) -> Message)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut known: HashSet<String> = HashSet::new();
    let mut listed: HashSet<String> = HashSet::new();
    let mut synced = false;
    while let Some(event) = stream.next().await {
        let msg = match event {
            Ok(Event::Init) => {
                listed.clear();
                continue;
            }
            Ok(Event::InitApply(o)) => {
                let key = key_of(&o);
                listed.insert(key.clone());
                known.insert(key);
                wrap(Watched::Apply(o))
            }
            Ok(Event::Apply(o)) => {
                known.insert(key_of(&o));
                wrap(Watched::Apply(o))
            }
            Ok(Event::Delete(o)) => {
                let key = key_of(&o);
                known.remove(&key);
                wrap(Watched::Delete(key, Some(o.uid().unwrap_or_default())))
            }
            Ok(Event::InitDone) => {
                let gone: Vec<String> = known.difference(&listed).cloned().collect();
                for key in gone {
                    known.remove(&key);
                    if tx.send(wrap(Watched::Delete(key, None))).is_err() {
                        return;
                    }
                }
                listed.clear();
                if synced {
                    continue;
                }
                synced = true;
                Message::Synced(kind)
            }
            Err(e) => {
                tracing::warn!("scheduler: watching {kind:?}: {e}");
                continue;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}
