//! Integration: kube-rs (the Rust client library) against an in-process
//! apiserver: typed CRUD, conflicts, selectors, pagination and watches.

mod common;
use common::Cluster;
use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Config};

async fn client(c: &Cluster) -> Client {
    let kc = kube::config::Kubeconfig::read_from(&c.kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()},
        "data": {"k": "v"},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_crud_and_conflicts() {
    let c = Cluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&c).await, "default");
    let created = api
        .create(&PostParams::default(), &cm("a", &[("app", "x")]))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let err = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("{other}"),
    }

    let mut changed = created.clone();
    changed.data = Some([("k".to_owned(), "v2".to_owned())].into());
    let updated = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );

    // The stale resourceVersion of `created` is refused.
    let err = api
        .replace("a", &PostParams::default(), &created)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
        other => panic!("{other}"),
    }

    let patched = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"extra": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.data.unwrap().get("extra").map(String::as_str),
        Some("1")
    );

    api.delete("a", &DeleteParams::default()).await.unwrap();
    match api.get("a").await.unwrap_err() {
        kube::Error::Api(s) => assert_eq!(s.code, 404),
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_and_pagination() {
    let c = Cluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&c).await, "default");
    for i in 0..25 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        api.create(
            &PostParams::default(),
            &cm(&format!("cm-{i:02}"), &[("tier", tier)]),
        )
        .await
        .unwrap();
    }
    let even = api
        .list(&ListParams::default().labels("tier=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 13);
    let named = api
        .list(&ListParams::default().fields("metadata.name=cm-07"))
        .await
        .unwrap();
    assert_eq!(named.items.len(), 1);

    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(10);
    loop {
        let page = api.list(&params).await.unwrap();
        seen.extend(page.items.iter().map(|i| i.metadata.name.clone().unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = ListParams::default().limit(10).continue_token(&token),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);

    let err = api
        .list(&ListParams::default().fields("spec.nope=1"))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(s.code, 400),
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_changes_and_deployments_scale() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let stream = watcher(pods.clone(), watcher::Config::default()).applied_objects();
    let mut stream = Box::pin(stream);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "w"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), stream.try_next())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(seen.metadata.name.as_deref(), Some("w"));
    assert_eq!(seen.spec.unwrap().restart_policy.as_deref(), Some("Always"));

    let deps: Api<Deployment> = Api::namespaced(client, "default");
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
    }))
    .unwrap();
    deps.create(&PostParams::default(), &d).await.unwrap();
    let scale = deps.get_scale("d").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    deps.patch_scale(
        "d",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    assert_eq!(deps.get("d").await.unwrap().spec.unwrap().replicas, Some(4));
    let status = deps
        .patch_status(
            "d",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"replicas": 4, "readyReplicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(status.status.unwrap().ready_replicas, Some(2));
    assert_eq!(
        deps.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_watch_gets_initial_events_then_changes() {
    let c = Cluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&c).await, "default");
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("s-{i}"), &[]))
            .await
            .unwrap();
    }
    // The watch-list protocol: sendInitialEvents, then a bookmark marking
    // the end of the initial state.
    let cfg = watcher::Config::default().streaming_lists();
    let mut stream = Box::pin(watcher(api.clone(), cfg));
    let mut initial = Vec::new();
    loop {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), stream.try_next())
            .await
            .expect("events within 10 s")
            .unwrap()
            .unwrap();
        match ev {
            watcher::Event::InitApply(o) => initial.push(o.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    initial.sort();
    assert_eq!(initial, ["s-0", "s-1", "s-2"]);
    api.create(&PostParams::default(), &cm("s-3", &[]))
        .await
        .unwrap();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(10), stream.try_next())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    match ev {
        watcher::Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some("s-3")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_one_storage_in_two_api_versions() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event as NewEvent;
    let c = Cluster::start().await;
    let client = client(&c).await;
    let new_api: Api<NewEvent> = Api::namespaced(client.clone(), "default");
    let core_api: Api<CoreEvent> = Api::namespaced(client, "default");
    let ev: NewEvent = serde_json::from_value(serde_json::json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "pod-started"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "cuttle.io/kubelet", "reportingInstance": "node-1",
        "action": "Start", "reason": "Started", "type": "Normal", "note": "container started",
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
    }))
    .unwrap();
    let created = new_api.create(&PostParams::default(), &ev).await.unwrap();
    assert_eq!(created.note.as_deref(), Some("container started"));
    // The same object through core/v1.
    let core = core_api.get("pod-started").await.unwrap();
    assert_eq!(core.message.as_deref(), Some("container started"));
    assert_eq!(core.involved_object.name.as_deref(), Some("web"));
    let by_field = core_api
        .list(&ListParams::default().fields("involvedObject.name=web"))
        .await
        .unwrap();
    assert_eq!(by_field.items.len(), 1);
    let listed = new_api.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        listed.items[0].regarding.as_ref().unwrap().kind.as_deref(),
        Some("Pod")
    );
    new_api
        .patch(
            "pod-started",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"note": "patched"})),
        )
        .await
        .unwrap();
    assert_eq!(
        core_api
            .get("pod-started")
            .await
            .unwrap()
            .message
            .as_deref(),
        Some("patched")
    );
}

/// Events expire `--event-ttl` after their last write (kube-apiserver's
/// event lease), and watchers see them go; other kinds never expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_expire_after_the_event_ttl_from_their_last_write() {
    use cuttle_apiserver::ApiServerConfig;
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use std::time::{Duration, Instant};
    let c = Cluster::start_config(|config| ApiServerConfig {
        event_ttl: Duration::from_secs(3),
        ..config
    })
    .await;
    let client = client(&c).await;
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let event = |name: &str| -> CoreEvent {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Started", "message": "started", "type": "Normal",
        }))
        .unwrap()
    };
    let mut watch = Box::pin(
        events
            .watch(&kube::api::WatchParams::default(), "0")
            .await
            .unwrap(),
    );
    let t0 = Instant::now();
    events
        .create(&PostParams::default(), &event("once"))
        .await
        .unwrap();
    events
        .create(&PostParams::default(), &event("again"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("stays", &[]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // A write (kubectl's event recorder patches the count) renews the TTL.
    events
        .patch(
            "again",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"count": 2})),
        )
        .await
        .unwrap();
    // "once" goes about 3 s after its create; "again" 3 s after its patch.
    let gone = |name: &'static str| {
        let events = events.clone();
        async move {
            while events.get_opt(name).await.unwrap().is_some() {
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "{name} never expired"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    gone("once").await;
    assert!(t0.elapsed() >= Duration::from_secs(3), "expired early");
    assert!(
        events.get_opt("again").await.unwrap().is_some(),
        "the patched event keeps its later lease"
    );
    gone("again").await;
    assert!(
        cms.get_opt("stays").await.unwrap().is_some(),
        "only events expire"
    );
    let mut deleted = Vec::new();
    while deleted.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(10), watch.try_next())
            .await
            .expect("the watch hears of the expiry")
            .unwrap()
            .unwrap();
        if let kube::api::WatchEvent::Deleted(e) = ev {
            deleted.push(e.metadata.name.unwrap());
        }
    }
    assert_eq!(deleted, ["once", "again"]);
}

/// client-go's metadata informers (the garbage collector's, the namespace
/// controller's) and kube-rs' metadata API ask for PartialObjectMetadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_only_reads_lists_and_watches() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(&PostParams::default(), &cm("meta-a", &[("app", "x")]))
        .await
        .unwrap();
    let one = cms.get_metadata("meta-a").await.unwrap();
    assert_eq!(one.metadata.name.as_deref(), Some("meta-a"));
    assert_eq!(
        one.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let list = cms.list_metadata(&ListParams::default()).await.unwrap();
    assert!(list
        .items
        .iter()
        .any(|m| m.metadata.name.as_deref() == Some("meta-a")));
    assert!(list.metadata.resource_version.is_some());

    // A metadata watcher lists, then sees a new object.
    let metas: Api<kube::core::PartialObjectMeta<ConfigMap>> =
        Api::namespaced(cms.clone().into_client(), "default");
    let seen = watcher(metas, watcher::Config::default())
        .applied_objects()
        .try_filter(|m| futures::future::ready(m.metadata.name.as_deref() == Some("meta-b")));
    let create = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cms.create(&PostParams::default(), &cm("meta-b", &[]))
            .await
            .unwrap();
    };
    let (first, ()) = tokio::join!(
        tokio::time::timeout(std::time::Duration::from_secs(20), async {
            futures::pin_mut!(seen);
            seen.try_next().await
        }),
        create
    );
    let m = first
        .expect("the watcher saw meta-b in time")
        .unwrap()
        .unwrap();
    assert_eq!(m.metadata.name.as_deref(), Some("meta-b"));
}

/// A create records its manager's fields and answers with what it stored,
/// whatever the object's labels are called (the answer is the stored bytes
/// with fields spliced into the metadata) and whether or not it is a dry
/// run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_record_their_fields_whatever_the_labels_say() {
    let c = Cluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&c).await, "default");
    let odd = cm(
        "odd",
        &[
            ("managedFields", "1"),
            ("resourceVersion", "2"),
            ("metadata", "3"),
        ],
    );
    let pp = PostParams {
        field_manager: Some("tester".into()),
        ..Default::default()
    };
    let dry = PostParams {
        dry_run: true,
        ..pp.clone()
    };
    for (params, stored) in [(&dry, false), (&pp, true)] {
        let created = api.create(params, &odd).await.unwrap();
        let meta = &created.metadata;
        assert_eq!(meta.labels, odd.metadata.labels);
        let managed = meta.managed_fields.as_ref().expect("managedFields");
        assert_eq!(managed.len(), 1);
        assert_eq!(managed[0].manager.as_deref(), Some("tester"));
        let fields = &managed[0].fields_v1.as_ref().unwrap().0;
        assert!(fields["f:metadata"]["f:labels"]["f:managedFields"].is_object());
        assert!(fields["f:data"]["f:k"].is_object());
        assert_eq!(meta.resource_version.is_some(), stored);
    }
    let got = api.get("odd").await.unwrap();
    assert_eq!(got.metadata.labels, odd.metadata.labels);
    assert_eq!(got.metadata.managed_fields.unwrap().len(), 1);
}
