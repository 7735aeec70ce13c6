//! The watch cache: every object of every resource in memory, fed by one
//! store watch on `/registry/`, so that lists and watches never read the
//! store. Objects are held as their serialized JSON (resourceVersion
//! included) plus the labels and selectable fields that selectors need:
//! serving a list copies bytes instead of re-encoding objects, and memory
//! stays close to the stored size. A bounded history of recent events lets
//! a watch resume from an older resourceVersion; older ones get 410 Gone.

use crate::fields;
use crate::resources::{Resource, RESOURCES};
use crate::sparse::Paths;
use bytes::Bytes;
use cuttle_store::{EventKind, RangeRequest, Revision, Store, WatchRequest};
use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Events kept per resource for watches that resume from the past.
const HISTORY: usize = 5_000;
/// Events a watcher may have queued before it is closed as too slow.
const WATCHER_QUEUE: usize = 2_048;

/// One object as the cache holds it.
#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    pub namespace: Option<String>,
    pub name: String,
    pub rev: Revision,
    /// The object's JSON, `metadata.resourceVersion` set to `rev`.
    pub json: Bytes,
    pub labels: fields::Labels,
    pub fields: fields::FieldValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change of one object.
#[derive(Debug)]
pub struct CacheEvent {
    pub kind: EventType,
    /// The object after the change (for deletes: its last state, at the
    /// delete's resourceVersion).
    pub object: Arc<CachedObject>,
    /// The object before the change, for selector transitions.
    pub prev: Option<Arc<CachedObject>>,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
pub enum WatchFrom {
    /// From now; with `initial`, every current object first as `ADDED`.
    Now { initial: bool },
    /// Every change after this resourceVersion.
    After(Revision),
}

/// Why a watch cannot start.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("too old resource version: {requested} ({oldest})")]
    TooOld {
        requested: Revision,
        oldest: Revision,
    },
}

struct Watcher {
    namespace: Option<String>,
    tx: mpsc::Sender<Arc<CacheEvent>>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<CacheEvent>>,
    /// Every event after this revision is in `history`.
    oldest: Revision,
    /// The revision the cache has applied up to.
    rev: Revision,
    watchers: Vec<Watcher>,
}

struct ResourceCache {
    resource: &'static Resource,
    prefix: String,
    /// What the cache reads off each object: labels and selectable fields.
    paths: Paths,
    state: RwLock<State>,
}

/// The cache of every resource.
pub struct WatchCache {
    caches: Vec<ResourceCache>,
    /// Each cache's index by its key prefix.
    by_prefix: HashMap<String, usize>,
    rev: watch::Sender<Revision>,
    /// The task following the store; it holds the store open.
    follower: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Parses a stored value and sets its resourceVersion.
pub fn decode(value: &[u8], rev: Revision) -> Result<Value, serde_json::Error> {
    let mut obj: Value = serde_json::from_slice(value)?;
    set_resource_version(&mut obj, rev);
    Ok(obj)
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(obj: &mut Value, rev: Revision) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rev.to_string()));
    }
}

/// Inserts `"resourceVersion":"<rev>"` at the start of the top-level
/// `metadata` object of serialized JSON that has none. `None` when the
/// bytes have no top-level metadata object or already carry a version.
pub fn splice_resource_version(json: &[u8], rev: Revision) -> Option<Vec<u8>> {
    let value = format!("\"{rev}\"");
    crate::splice::into_metadata(json, "resourceVersion", value.as_bytes())
}

fn name_of(key: &str, prefix: &str) -> (Option<String>, String) {
    let rest = &key[prefix.len()..];
    match rest.split_once('/') {
        Some((ns, name)) => (Some(ns.to_owned()), name.to_owned()),
        None => (None, rest.to_owned()),
    }
}

fn cached(c: &ResourceCache, key: &str, value: &[u8], rev: Revision) -> Option<Arc<CachedObject>> {
    let (resource, prefix) = (c.resource, c.prefix.as_str());
    // Only labels and selectable fields are read; the object stays bytes.
    let obj: Value = match c.paths.parse(value) {
        Ok(obj) => obj,
        Err(e) => {
            tracing::error!(key, error = %e, "stored object is not JSON; left out of the cache");
            return None;
        }
    };
    // The stored bytes with the resourceVersion spliced in, exactly sized;
    // re-encoding the whole parsed object is the fallback.
    let json = match splice_resource_version(value, rev) {
        Some(bytes) => Bytes::from(bytes),
        None => {
            let mut obj: Value = serde_json::from_slice(value).ok()?;
            set_resource_version(&mut obj, rev);
            let mut buf = serde_json::to_vec(&obj).ok()?;
            buf.shrink_to_fit();
            Bytes::from(buf)
        }
    };
    let (namespace, name) = name_of(key, prefix);
    Some(Arc::new(CachedObject {
        key: key.to_owned(),
        namespace,
        name,
        rev,
        labels: fields::labels(&obj),
        fields: fields::values(resource, &obj),
        json,
    }))
}

impl WatchCache {
    /// Loads every object and follows the store from there. The returned
    /// task ends when the store's watch ends for good.
    pub async fn start(store: Arc<dyn Store>) -> Result<Arc<WatchCache>, cuttle_store::Error> {
        let cache = Arc::new(WatchCache::empty());
        let rev = cache.load(store.as_ref()).await?;
        let follower = cache.clone();
        let task = tokio::spawn(async move { follower.follow(store, rev).await });
        *cache.follower.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(cache)
    }

    /// A cache of every stored resource, holding nothing yet.
    fn empty() -> WatchCache {
        let caches = RESOURCES
            .iter()
            .filter(|r| r.is_stored())
            .map(|r| ResourceCache {
                resource: r,
                prefix: r.key_prefix(),
                paths: Paths::new(
                    fields::selectable(r)
                        .iter()
                        .copied()
                        .chain(["metadata.labels"]),
                ),
                state: RwLock::new(State::default()),
            })
            .collect::<Vec<_>>();
        let by_prefix = caches
            .iter()
            .enumerate()
            .map(|(i, c)| (c.prefix.clone(), i))
            .collect();
        let (rev_tx, _) = watch::channel(0);
        WatchCache {
            caches,
            by_prefix,
            rev: rev_tx,
            follower: std::sync::Mutex::new(None),
        }
    }

    /// Stops following the store (and so releases it): the apiserver is
    /// shutting down.
    pub fn stop(&self) {
        if let Some(task) = self
            .follower
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }

    /// Replaces the contents with the store's state; returns its revision.
    async fn load(&self, store: &dyn Store) -> Result<Revision, cuttle_store::Error> {
        let all = store.range(RangeRequest::prefix("/registry/")).await?;
        let rev = all.revision;
        for c in &self.caches {
            let mut st = c.state.write().unwrap_or_else(|e| e.into_inner());
            st.objects.clear();
            st.history.clear();
            st.oldest = rev;
            st.rev = rev;
            // Watchers of the old contents cannot follow the new: close them.
            st.watchers.clear();
        }
        for kv in all.kvs {
            if let Some(c) = self.cache_for(&kv.key) {
                if let Some(obj) = cached(c, &kv.key, &kv.value, kv.mod_revision) {
                    let mut st = c.state.write().unwrap_or_else(|e| e.into_inner());
                    st.objects.insert(kv.key.clone(), obj);
                }
            }
        }
        self.rev.send_replace(rev);
        Ok(rev)
    }

    /// Applies store events forever; on a broken watch, reloads and goes on.
    async fn follow(self: Arc<Self>, store: Arc<dyn Store>, mut rev: Revision) {
        loop {
            let stream = store
                .watch(WatchRequest::prefix("/registry/").from_revision(rev + 1))
                .await;
            let mut stream = match stream {
                Ok(s) => s,
                Err(cuttle_store::Error::Closed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "watch cache: store watch failed; reloading");
                    rev = self.reload(store.as_ref()).await;
                    continue;
                }
            };
            while let Some(item) = stream.next().await {
                match item {
                    Ok(ev) => {
                        rev = rev.max(ev.kv.mod_revision);
                        self.apply(ev);
                        // Batches of one revision arrive together; publish
                        // the revision once the stream has nothing queued.
                        self.rev.send_if_modified(|r| {
                            let changed = *r < rev;
                            *r = (*r).max(rev);
                            changed
                        });
                    }
                    Err(cuttle_store::Error::Closed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "watch cache: store watch broke; reloading");
                        break;
                    }
                }
            }
            rev = self.reload(store.as_ref()).await;
        }
    }

    async fn reload(&self, store: &dyn Store) -> Revision {
        loop {
            match self.load(store).await {
                Ok(rev) => return rev,
                Err(e) => {
                    tracing::warn!(error = %e, "watch cache: reload failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// The cache of a key: `/registry/<plural>/...` for the core group,
    /// `/registry/<group>/<plural>/...` for the others (no core plural is
    /// also a group's name).
    fn cache_for(&self, key: &str) -> Option<&ResourceCache> {
        const ROOT: &str = "/registry/";
        let rest = key.strip_prefix(ROOT)?;
        let first = ROOT.len() + rest.find('/')? + 1;
        if let Some(&i) = self.by_prefix.get(&key[..first]) {
            return Some(&self.caches[i]);
        }
        let second = first + key[first..].find('/')? + 1;
        self.by_prefix.get(&key[..second]).map(|&i| &self.caches[i])
    }

    fn cache_of(&self, resource: &Resource) -> &ResourceCache {
        self.caches
            .iter()
            .find(|c| std::ptr::eq(c.resource, resource))
            .expect("every served resource has a cache")
    }

    fn apply(&self, ev: cuttle_store::Event) {
        let Some(c) = self.cache_for(&ev.kv.key) else {
            return;
        };
        let rev = ev.kv.mod_revision;
        // The object is parsed before the lock is taken: lists and gets
        // read the cache meanwhile.
        let obj = match ev.kind {
            EventKind::Put => cached(c, &ev.kv.key, &ev.kv.value, rev),
            // The deleted object is its last state at the delete's revision.
            EventKind::Delete => ev
                .prev_kv
                .as_ref()
                .and_then(|p| cached(c, &ev.kv.key, &p.value, rev)),
        };
        let mut st = c.state.write().unwrap_or_else(|e| e.into_inner());
        let event = match ev.kind {
            EventKind::Put => {
                let Some(obj) = obj else {
                    return;
                };
                let prev = st.objects.insert(ev.kv.key, obj.clone());
                CacheEvent {
                    kind: if prev.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    },
                    object: obj,
                    prev,
                }
            }
            EventKind::Delete => {
                let prev = st.objects.remove(&ev.kv.key);
                let Some(last) = obj else {
                    return;
                };
                CacheEvent {
                    kind: EventType::Deleted,
                    object: last,
                    prev,
                }
            }
        };
        let event = Arc::new(event);
        st.rev = rev;
        if st.history.len() >= HISTORY {
            if let Some(dropped) = st.history.pop_front() {
                st.oldest = dropped.object.rev;
            }
        }
        st.history.push_back(event.clone());
        let ns = event.object.namespace.clone();
        st.watchers.retain(|w| {
            if w.namespace.is_some() && w.namespace != ns {
                return !w.tx.is_closed();
            }
            // A full queue means a consumer too slow to follow: close it;
            // the client resumes from its last resourceVersion.
            w.tx.try_send(event.clone()).is_ok()
        });
    }

    /// The revision the cache has applied.
    pub fn revision(&self) -> Revision {
        *self.rev.borrow()
    }

    /// Waits until the cache has applied `rev`; false on timeout.
    pub async fn wait_for(&self, rev: Revision, timeout: Duration) -> bool {
        let mut rx = self.rev.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r >= rev))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The objects of a resource (in one namespace, or all), in key order,
    /// and the revision they are current at.
    pub fn list(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
    ) -> (Vec<Arc<CachedObject>>, Revision) {
        let c = self.cache_of(resource);
        let st = c.state.read().unwrap_or_else(|e| e.into_inner());
        let items = match namespace {
            Some(ns) if resource.namespaced => {
                let prefix = format!("{}{ns}/", c.prefix);
                st.objects
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, o)| o.clone())
                    .collect()
            }
            _ => st.objects.values().cloned().collect(),
        };
        (items, self.revision().max(st.rev))
    }

    /// One object, if present.
    pub fn get(&self, resource: &Resource, key: &str) -> Option<Arc<CachedObject>> {
        let c = self.cache_of(resource);
        let st = c.state.read().unwrap_or_else(|e| e.into_inner());
        st.objects.get(key).cloned()
    }

    /// Starts a watch: the events to send first, and the queue of the rest.
    #[allow(clippy::type_complexity)]
    pub fn watch(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        from: WatchFrom,
    ) -> Result<(Vec<Arc<CacheEvent>>, mpsc::Receiver<Arc<CacheEvent>>), CacheError> {
        let c = self.cache_of(resource);
        let mut st = c.state.write().unwrap_or_else(|e| e.into_inner());
        let in_ns = |o: &CachedObject| namespace.is_none() || o.namespace.as_deref() == namespace;
        let first: Vec<Arc<CacheEvent>> = match from {
            WatchFrom::Now { initial: false } => Vec::new(),
            WatchFrom::Now { initial: true } => st
                .objects
                .values()
                .filter(|o| in_ns(o))
                .map(|o| {
                    Arc::new(CacheEvent {
                        kind: EventType::Added,
                        object: o.clone(),
                        prev: None,
                    })
                })
                .collect(),
            WatchFrom::After(rv) => {
                let global = self.revision();
                if rv < st.oldest && rv < global {
                    return Err(CacheError::TooOld {
                        requested: rv,
                        oldest: st.oldest,
                    });
                }
                st.history
                    .iter()
                    .filter(|e| e.object.rev > rv && in_ns(&e.object))
                    .cloned()
                    .collect()
            }
        };
        let (tx, rx) = mpsc::channel(WATCHER_QUEUE);
        st.watchers.push(Watcher {
            namespace: namespace.map(str::to_owned),
            tx,
        });
        Ok((first, rx))
    }

    /// Bytes held for objects (their JSON), for memory accounting.
    pub fn stored_bytes(&self) -> usize {
        self.caches
            .iter()
            .map(|c| {
                let st = c.state.read().unwrap_or_else(|e| e.into_inner());
                st.objects.values().map(|o| o.json.len()).sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_stored_key_finds_its_resources_cache() {
        let cache = WatchCache::empty();
        for r in RESOURCES.iter().filter(|r| r.is_stored()) {
            for key in [r.key(Some("ns"), "x"), r.key(None, "x")] {
                let found = cache.cache_for(&key).map(|c| c.resource);
                assert!(found.is_some_and(|f| std::ptr::eq(f, r)), "{key}");
            }
        }
        for odd in [
            "/registry/",
            "/registry/nothing/x",
            "/other/pods/x",
            "/registry/pods",
        ] {
            assert!(cache.cache_for(odd).is_none(), "{odd}");
        }
    }

    #[test]
    fn splices_the_top_level_metadata_only() {
        let obj = json!({"apiVersion": "apps/v1", "data": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}},
                         "kind": "ControllerRevision", "metadata": {"name": "x", "note": "\"metadata\":{"}});
        let bytes = serde_json::to_vec(&obj).unwrap();
        let spliced = splice_resource_version(&bytes, 42).unwrap();
        let back: Value = serde_json::from_slice(&spliced).unwrap();
        assert_eq!(back["metadata"]["resourceVersion"], "42");
        assert!(back["data"]["spec"]["template"]["metadata"]
            .get("resourceVersion")
            .is_none());
        let mut expected = obj.clone();
        set_resource_version(&mut expected, 42);
        assert_eq!(back, expected);
        let empty = serde_json::to_vec(&json!({"kind": "X", "metadata": {}})).unwrap();
        let back: Value =
            serde_json::from_slice(&splice_resource_version(&empty, 7).unwrap()).unwrap();
        assert_eq!(back["metadata"]["resourceVersion"], "7");
        assert!(splice_resource_version(b"{\"kind\":\"X\"}", 1).is_none());
        let has = serde_json::to_vec(&json!({"metadata": {"resourceVersion": "3"}})).unwrap();
        assert!(splice_resource_version(&has, 4).is_none());
    }
}
