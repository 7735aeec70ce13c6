//! The conformance suite: what every [`Store`] backend must do, written once
//! and run against each (see `tests/conformance.rs`). Each case takes a
//! fresh, empty store and panics with a message when the backend deviates
//! from etcd's semantics.

use crate::{
    Compare, CompareOp, Error, Event, EventKind, RangeRequest, Store, Txn, TxnOp, TxnOpResponse,
    WatchRequest, WatchStream, MAX_VALUE_BYTES,
};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// How long a case waits for an event before failing.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits for the next event of a watch; fails the test on timeout or error.
pub async fn next_event(stream: &mut WatchStream) -> Event {
    match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(ev))) => ev,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no event within {EVENT_TIMEOUT:?}"),
    }
}

/// Asserts that no event arrives within `wait`.
pub async fn no_event(stream: &mut WatchStream, wait: Duration) {
    if let Ok(item) = tokio::time::timeout(wait, stream.next()).await {
        panic!("unexpected watch item: {item:?}");
    }
}

fn value(kv: &crate::KeyValue) -> &[u8] {
    kv.value.as_ref()
}

/// Writes advance the global revision by one; each key keeps its create
/// revision, mod revision and version.
pub async fn revisions_advance(store: &dyn Store) {
    let start = store.revisions().await.unwrap().current;
    let r1 = store.create("/a", b"1".to_vec(), None).await.unwrap();
    assert!(r1 > start, "create must advance the revision");
    let r2 = store.update("/a", b"2".to_vec(), r1, None).await.unwrap();
    assert_eq!(r2, r1 + 1);
    let r3 = store.create("/b", b"x".to_vec(), None).await.unwrap();
    assert_eq!(r3, r2 + 1);
    let (kv, rev) = store.get("/a").await.unwrap();
    let kv = kv.expect("/a exists");
    assert_eq!(rev, r3, "a read reports the current revision");
    assert_eq!(value(&kv), b"2");
    assert_eq!(kv.create_revision, r1);
    assert_eq!(kv.mod_revision, r2);
    assert_eq!(kv.version, 2);
    assert_eq!(kv.lease, 0);
    assert_eq!(store.revisions().await.unwrap().current, r3);
    let (missing, _) = store.get("/nope").await.unwrap();
    assert!(missing.is_none());
}

/// Create refuses an existing key; update and delete compare the mod
/// revision and report the current value on a conflict.
pub async fn compare_and_swap(store: &dyn Store) {
    let r1 = store.create("/k", b"1".to_vec(), None).await.unwrap();
    match store.create("/k", b"again".to_vec(), None).await {
        Err(Error::AlreadyExists { key }) => assert_eq!(key, "/k"),
        other => panic!("second create: {other:?}"),
    }
    let r2 = store.update("/k", b"2".to_vec(), r1, None).await.unwrap();
    match store.update("/k", b"stale".to_vec(), r1, None).await {
        Err(Error::Conflict {
            expected, current, ..
        }) => {
            assert_eq!(expected, r1);
            assert_eq!(current.mod_revision, r2);
            assert_eq!(value(&current), b"2");
        }
        other => panic!("stale update: {other:?}"),
    }
    match store.update("/missing", b"x".to_vec(), 5, None).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("update of a missing key: {other:?}"),
    }
    match store.delete("/k", Some(r1)).await {
        Err(Error::Conflict { current, .. }) => assert_eq!(current.mod_revision, r2),
        other => panic!("stale delete: {other:?}"),
    }
    let (prev, r3) = store.delete("/k", Some(r2)).await.unwrap();
    assert_eq!(value(&prev), b"2");
    assert_eq!(r3, r2 + 1, "a delete advances the revision");
    assert!(store.get("/k").await.unwrap().0.is_none());
    match store.delete("/k", None).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("delete of a missing key: {other:?}"),
    }
    // A key created again starts a new life: new create revision, version 1.
    let r4 = store.create("/k", b"new".to_vec(), None).await.unwrap();
    let kv = store.get("/k").await.unwrap().0.unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (r4, r4, 1)
    );
    // Failed writes do not advance the revision.
    assert_eq!(store.revisions().await.unwrap().current, r4);
}

/// Prefix ranges with limit (and `more`), count, keys-only, count-only, and
/// pagination by start key, in key order.
pub async fn range_queries(store: &dyn Store) {
    for i in 0..25 {
        store
            .create(&format!("/p/{i:02}"), format!("v{i}").into_bytes(), None)
            .await
            .unwrap();
    }
    store
        .create("/pz", b"outside".to_vec(), None)
        .await
        .unwrap();
    store.create("/o", b"outside".to_vec(), None).await.unwrap();

    let all = store.range(RangeRequest::prefix("/p/")).await.unwrap();
    assert_eq!(all.count, 25);
    assert!(!all.more);
    let keys: Vec<_> = all.kvs.iter().map(|kv| kv.key.clone()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "ranges come back in key order");
    assert_eq!(value(&all.kvs[3]), b"v3");

    let page = store
        .range(RangeRequest::prefix("/p/").with_limit(10))
        .await
        .unwrap();
    assert_eq!(page.kvs.len(), 10);
    assert_eq!(page.count, 25, "count ignores the limit");
    assert!(page.more);

    // Continue after the last key of the page, as the apiserver paginates.
    let next_start = format!("{}\0", page.kvs[9].key);
    let rest = store
        .range(RangeRequest::between(next_start, crate::prefix_end("/p/")).with_limit(100))
        .await
        .unwrap();
    assert_eq!(rest.kvs.len(), 15);
    assert_eq!(rest.kvs[0].key, "/p/10");
    assert!(!rest.more);

    let uncounted = store
        .range(RangeRequest::prefix("/p/").with_limit(10).without_count())
        .await
        .unwrap();
    assert_eq!(uncounted.kvs, page.kvs);
    assert!(uncounted.more);
    assert!(uncounted.count >= 10 && uncounted.count <= 25);
    let last = store
        .range(RangeRequest::prefix("/p/").with_limit(25).without_count())
        .await
        .unwrap();
    assert_eq!(last.kvs.len(), 25);
    assert!(!last.more, "exactly the range's size: nothing more");

    let keys_only = store
        .range(RangeRequest::prefix("/p/").keys_only())
        .await
        .unwrap();
    assert_eq!(keys_only.kvs.len(), 25);
    assert!(keys_only.kvs.iter().all(|kv| kv.value.is_empty()));
    assert!(keys_only.kvs.iter().all(|kv| kv.mod_revision > 0));

    let count = store
        .range(RangeRequest::prefix("/p/").count_only())
        .await
        .unwrap();
    assert_eq!(count.count, 25);
    assert!(count.kvs.is_empty());

    let single = store.range(RangeRequest::key("/pz")).await.unwrap();
    assert_eq!(single.kvs.len(), 1);
}

/// A read at an older, uncompacted revision sees the store as it was.
pub async fn read_at_revision(store: &dyn Store) {
    let ra = store.create("/h/a", b"a1".to_vec(), None).await.unwrap();
    let rb = store.create("/h/b", b"b1".to_vec(), None).await.unwrap();
    let snapshot = rb;
    store
        .update("/h/a", b"a2".to_vec(), ra, None)
        .await
        .unwrap();
    store.delete("/h/b", None).await.unwrap();
    store.create("/h/c", b"c1".to_vec(), None).await.unwrap();

    let then = store
        .range(RangeRequest::prefix("/h/").at_revision(snapshot))
        .await
        .unwrap();
    let seen: Vec<_> = then
        .kvs
        .iter()
        .map(|kv| (kv.key.as_str(), value(kv)))
        .collect();
    assert_eq!(seen, vec![("/h/a", &b"a1"[..]), ("/h/b", &b"b1"[..])]);
    assert_eq!(then.revision, snapshot);
    assert_eq!(then.count, 2);

    // Paging through the past: one key per page, in key order.
    let first = store
        .range(
            RangeRequest::prefix("/h/")
                .at_revision(snapshot)
                .with_limit(1)
                .without_count(),
        )
        .await
        .unwrap();
    assert_eq!((first.kvs[0].key.as_str(), first.more), ("/h/a", true));
    assert_eq!(value(&first.kvs[0]), b"a1");
    let second = store
        .range(
            RangeRequest::between("/h/a\0", crate::prefix_end("/h/"))
                .at_revision(snapshot)
                .with_limit(1)
                .without_count(),
        )
        .await
        .unwrap();
    assert_eq!((second.kvs[0].key.as_str(), second.more), ("/h/b", false));

    let before_any = store
        .range(RangeRequest::prefix("/h/").at_revision(ra))
        .await
        .unwrap();
    assert_eq!(before_any.kvs.len(), 1);

    let now = store.range(RangeRequest::prefix("/h/")).await.unwrap();
    let seen: Vec<_> = now.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(seen, vec!["/h/a", "/h/c"]);
}

/// Transactions: compares pick the branch; all writes of a transaction share
/// one revision; gets inside see earlier writes of the same transaction.
pub async fn transactions(store: &dyn Store) {
    let r1 = store.create("/t/x", b"1".to_vec(), None).await.unwrap();
    let resp = store
        .txn(Txn {
            compares: vec![Compare::mod_revision("/t/x", CompareOp::Equal, r1 + 100)],
            success: vec![TxnOp::put("/t/y", "never")],
            failure: vec![TxnOp::get("/t/x")],
        })
        .await
        .unwrap();
    assert!(!resp.succeeded);
    assert_eq!(resp.revision, r1, "a failed compare writes nothing");
    match &resp.responses[..] {
        [TxnOpResponse::Get(r)] => assert_eq!(value(&r.kvs[0]), b"1"),
        other => panic!("failure branch responses: {other:?}"),
    }
    assert!(store.get("/t/y").await.unwrap().0.is_none());

    let resp = store
        .txn(Txn {
            compares: vec![
                Compare::mod_revision("/t/x", CompareOp::Equal, r1),
                Compare::value("/t/x", CompareOp::Equal, "1"),
                Compare::version("/t/y", CompareOp::Equal, 0),
            ],
            success: vec![
                TxnOp::put("/t/x", "2"),
                TxnOp::put("/t/y", "new"),
                TxnOp::get("/t/y"),
            ],
            failure: vec![],
        })
        .await
        .unwrap();
    assert!(resp.succeeded);
    assert_eq!(resp.revision, r1 + 1, "one transaction, one revision");
    match &resp.responses[..] {
        [TxnOpResponse::Put {
            prev_kv: Some(prev),
        }, TxnOpResponse::Put { prev_kv: None }, TxnOpResponse::Get(got)] => {
            assert_eq!(value(prev), b"1");
            assert_eq!(value(&got.kvs[0]), b"new");
        }
        other => panic!("success branch responses: {other:?}"),
    }
    let x = store.get("/t/x").await.unwrap().0.unwrap();
    let y = store.get("/t/y").await.unwrap().0.unwrap();
    assert_eq!(x.mod_revision, y.mod_revision);

    // Prefix delete: every key under it, at one revision.
    let resp = store
        .txn(Txn {
            success: vec![TxnOp::Delete {
                key: "/t/".into(),
                prefix: true,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    match &resp.responses[..] {
        [TxnOpResponse::Delete { deleted: 2, .. }] => {}
        other => panic!("prefix delete: {other:?}"),
    }
    assert_eq!(resp.revision, r1 + 2);

    // The same key written twice in one transaction is refused.
    let dup = store
        .txn(Txn {
            success: vec![TxnOp::put("/t/d", "1"), TxnOp::put("/t/d", "2")],
            ..Default::default()
        })
        .await;
    assert!(matches!(dup, Err(Error::InvalidRequest(_))), "{dup:?}");
}

/// A watch delivers every change in order, with the previous value on
/// updates and deletes, and nothing outside its range.
pub async fn watch_order_and_prev_kv(store: &dyn Store) {
    let mut w = store.watch(WatchRequest::prefix("/w/")).await.unwrap();
    let r1 = store.create("/w/a", b"1".to_vec(), None).await.unwrap();
    store.create("/other", b"x".to_vec(), None).await.unwrap();
    let r2 = store.update("/w/a", b"2".to_vec(), r1, None).await.unwrap();
    let (_, r3) = store.delete("/w/a", None).await.unwrap();
    let r4 = store.create("/w/b", b"b".to_vec(), None).await.unwrap();

    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.kv.mod_revision), (EventKind::Put, r1));
    assert_eq!(value(&e.kv), b"1");
    assert!(e.prev_kv.is_none(), "a create has no previous value");
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.kv.mod_revision), (EventKind::Put, r2));
    assert_eq!(e.kv.version, 2);
    assert_eq!(
        value(e.prev_kv.as_ref().expect("update carries prev_kv")),
        b"1"
    );
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.kv.mod_revision), (EventKind::Delete, r3));
    assert_eq!(e.kv.key, "/w/a");
    assert_eq!(
        value(e.prev_kv.as_ref().expect("delete carries prev_kv")),
        b"2"
    );
    let e = next_event(&mut w).await;
    assert_eq!((e.kv.key.as_str(), e.kv.mod_revision), ("/w/b", r4));
    no_event(&mut w, Duration::from_millis(200)).await;

    // A single-key watch sees only that key.
    let mut one = store.watch(WatchRequest::key("/w/b")).await.unwrap();
    store.create("/w/c", b"c".to_vec(), None).await.unwrap();
    let r = store
        .update("/w/b", b"b2".to_vec(), r4, None)
        .await
        .unwrap();
    let e = next_event(&mut one).await;
    assert_eq!((e.kv.key.as_str(), e.kv.mod_revision), ("/w/b", r));
}

/// A watch from an older revision replays history from it (inclusive)
/// exactly once, then continues live: a client resumes where it stopped.
pub async fn watch_resume(store: &dyn Store) {
    let mut revs = Vec::new();
    for i in 0..10 {
        revs.push(
            store
                .create(&format!("/r/{i}"), vec![i as u8], None)
                .await
                .unwrap(),
        );
    }
    let mut w = store
        .watch(WatchRequest::prefix("/r/").from_revision(revs[4]))
        .await
        .unwrap();
    for (i, rev) in revs.iter().enumerate().skip(4) {
        let e = next_event(&mut w).await;
        assert_eq!(e.kv.mod_revision, *rev);
        assert_eq!(e.kv.key, format!("/r/{i}"));
    }
    let live = store.create("/r/live", b"l".to_vec(), None).await.unwrap();
    let e = next_event(&mut w).await;
    assert_eq!(e.kv.mod_revision, live);
    no_event(&mut w, Duration::from_millis(200)).await;
}

/// A consumer that reads nothing while thousands of events pile up still
/// gets every one of them, in order, exactly once.
pub async fn watch_slow_consumer(store: &dyn Store) {
    let mut w = store.watch(WatchRequest::prefix("/slow/")).await.unwrap();
    let n = 6_000;
    let mut last = 0;
    for chunk in 0..(n / 100) {
        let ops = (0..100)
            .map(|i| TxnOp::put(format!("/slow/{chunk}/{i}"), vec![1u8; 16]))
            .collect();
        last = store
            .txn(Txn {
                success: ops,
                ..Default::default()
            })
            .await
            .unwrap()
            .revision;
    }
    // Singles too, so that revisions differ between events.
    for i in 0..n {
        last = store
            .txn(Txn {
                success: vec![TxnOp::put(format!("/slow/s/{i}"), "x")],
                ..Default::default()
            })
            .await
            .unwrap()
            .revision;
    }
    let mut seen = 0;
    let mut prev_rev = 0;
    let mut keys_at_rev = std::collections::HashSet::new();
    loop {
        let e = next_event(&mut w).await;
        assert!(e.kv.mod_revision >= prev_rev, "events out of order");
        if e.kv.mod_revision != prev_rev {
            keys_at_rev.clear();
        }
        assert!(
            keys_at_rev.insert(e.kv.key.clone()),
            "event delivered twice"
        );
        prev_rev = e.kv.mod_revision;
        seen += 1;
        if e.kv.mod_revision == last {
            break;
        }
    }
    assert_eq!(seen, 2 * n);
}

/// Compaction drops history: reads and watches below the compacted revision
/// fail with `Compacted`; the present and the compacted revision itself
/// stay readable.
pub async fn compaction(store: &dyn Store) {
    let r1 = store.create("/c/a", b"1".to_vec(), None).await.unwrap();
    let r2 = store.update("/c/a", b"2".to_vec(), r1, None).await.unwrap();
    store.create("/c/gone", b"g".to_vec(), None).await.unwrap();
    store.delete("/c/gone", None).await.unwrap();
    let r3 = store.update("/c/a", b"3".to_vec(), r2, None).await.unwrap();
    let r4 = store.create("/c/b", b"b".to_vec(), None).await.unwrap();

    store.compact(r3).await.unwrap();
    let revs = store.revisions().await.unwrap();
    assert_eq!(revs.compacted, r3);
    assert_eq!(revs.current, r4);

    match store.range(RangeRequest::key("/c/a").at_revision(r2)).await {
        Err(Error::Compacted { compacted, .. }) => assert_eq!(compacted, r3),
        other => panic!("read below the compacted revision: {other:?}"),
    }
    let at = store
        .range(RangeRequest::prefix("/c/").at_revision(r3))
        .await
        .unwrap();
    assert_eq!(at.kvs.len(), 1);
    assert_eq!(value(&at.kvs[0]), b"3");
    let now = store.range(RangeRequest::prefix("/c/")).await.unwrap();
    assert_eq!(now.kvs.len(), 2);

    expect_compacted_watch(store, WatchRequest::prefix("/c/").from_revision(r1)).await;

    // Watching from the compacted revision itself works.
    let mut w = store
        .watch(WatchRequest::prefix("/c/").from_revision(r3))
        .await
        .unwrap();
    assert_eq!(next_event(&mut w).await.kv.mod_revision, r3);
    assert_eq!(next_event(&mut w).await.kv.mod_revision, r4);

    match store.compact(r2).await {
        Err(Error::Compacted { .. }) => {}
        other => panic!("compacting to an older revision: {other:?}"),
    }
    match store.compact(r4 + 10).await {
        Err(Error::FutureRevision { .. }) => {}
        other => panic!("compacting to a future revision: {other:?}"),
    }
}

/// A watch of compacted history fails with `Compacted`, either at once or
/// as its first item (etcd reports it on the stream).
pub async fn expect_compacted_watch(store: &dyn Store, req: WatchRequest) {
    match store.watch(req).await {
        Err(Error::Compacted { .. }) => {}
        Err(e) => panic!("watch of compacted history: {e}"),
        Ok(mut stream) => match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
            Ok(Some(Err(Error::Compacted { .. }))) => {}
            other => panic!("watch of compacted history: {other:?}"),
        },
    }
}

/// Keys attached to a lease disappear when it expires, and the deletes are
/// watched like any other; keep-alives hold a lease; revoke deletes at once.
pub async fn leases(store: &dyn Store) {
    let short = store.lease_grant(1).await.unwrap();
    let held = store.lease_grant(2).await.unwrap();
    assert_ne!(short, held);
    let mut w = store.watch(WatchRequest::prefix("/l/")).await.unwrap();
    store
        .create("/l/short", b"s".to_vec(), Some(short))
        .await
        .unwrap();
    store
        .create("/l/held", b"h".to_vec(), Some(held))
        .await
        .unwrap();
    store.create("/l/plain", b"p".to_vec(), None).await.unwrap();
    let kv = store.get("/l/short").await.unwrap().0.unwrap();
    assert_eq!(kv.lease, short);
    for _ in 0..3 {
        next_event(&mut w).await;
    }

    // Keep `held` alive while `short` expires.
    let mut expired = None;
    for _ in 0..16 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(store.lease_keep_alive(held).await.unwrap(), 2);
        if store.get("/l/short").await.unwrap().0.is_none() {
            expired = Some(());
            break;
        }
    }
    assert!(
        expired.is_some(),
        "a key of an expired lease must be deleted"
    );
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.kv.key.as_str()), (EventKind::Delete, "/l/short"));
    assert!(store.get("/l/held").await.unwrap().0.is_some());
    match store.lease_keep_alive(short).await {
        Err(Error::LeaseNotFound(id)) => assert_eq!(id, short),
        other => panic!("keep-alive of an expired lease: {other:?}"),
    }

    store.lease_revoke(held).await.unwrap();
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.kv.key.as_str()), (EventKind::Delete, "/l/held"));
    assert!(store.get("/l/held").await.unwrap().0.is_none());
    assert!(store.get("/l/plain").await.unwrap().0.is_some());
    match store.lease_revoke(held).await {
        Err(Error::LeaseNotFound(_)) => {}
        other => panic!("revoking a revoked lease: {other:?}"),
    }
}

/// Values up to 1.5 MiB are stored whole; anything larger is refused with
/// `ValueTooLarge` and nothing is written.
pub async fn large_values(store: &dyn Store) {
    let big: Vec<u8> = (0..MAX_VALUE_BYTES).map(|i| (i % 251) as u8).collect();
    let rev = store.create("/big/ok", big.clone(), None).await.unwrap();
    let kv = store.get("/big/ok").await.unwrap().0.unwrap();
    assert_eq!(kv.value.len(), MAX_VALUE_BYTES);
    assert_eq!(value(&kv), &big[..]);
    let mut w = store
        .watch(WatchRequest::key("/big/ok").from_revision(rev))
        .await
        .unwrap();
    assert_eq!(next_event(&mut w).await.kv.value.len(), MAX_VALUE_BYTES);

    let too_big = vec![0u8; MAX_VALUE_BYTES + 1];
    match store.create("/big/no", too_big, None).await {
        Err(Error::ValueTooLarge { size, limit, .. }) => {
            assert_eq!((size, limit), (MAX_VALUE_BYTES + 1, MAX_VALUE_BYTES))
        }
        other => panic!("oversized value: {other:?}"),
    }
    assert!(store.get("/big/no").await.unwrap().0.is_none());
    assert_eq!(store.revisions().await.unwrap().current, rev);
}

/// Thousands of keys, written in transactions, range and count correctly.
pub async fn many_keys(store: &dyn Store) {
    let total = 5_000;
    for batch in 0..(total / 100) {
        let ops = (0..100)
            .map(|i| TxnOp::put(format!("/many/{:05}", batch * 100 + i), vec![7u8; 100]))
            .collect();
        store
            .txn(Txn {
                success: ops,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let all = store.range(RangeRequest::prefix("/many/")).await.unwrap();
    assert_eq!(all.kvs.len(), total);
    assert_eq!(all.kvs[1234].key, "/many/01234");
    let count = store
        .range(RangeRequest::prefix("/many/").count_only())
        .await
        .unwrap();
    assert_eq!(count.count, total as i64);
}

/// Concurrent read-modify-write loops on one key lose no update: the
/// compare on the mod revision makes all but one writer retry.
pub async fn concurrent_writers(store: Arc<dyn Store>) {
    store.create("/counter", b"0".to_vec(), None).await.unwrap();
    let (writers, increments) = (16, 25);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..increments {
                loop {
                    let kv = store.get("/counter").await.unwrap().0.unwrap();
                    let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                    let next = (n + 1).to_string().into_bytes();
                    match store.update("/counter", next, kv.mod_revision, None).await {
                        Ok(_) => break,
                        Err(Error::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("update failed: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let kv = store.get("/counter").await.unwrap().0.unwrap();
    assert_eq!(value(&kv), (writers * increments).to_string().as_bytes());
    assert_eq!(kv.version, (writers * increments + 1) as i64);
}

/// Bad input gets a typed error, never a panic, and changes nothing.
pub async fn bad_input(store: &dyn Store) {
    let rev = store.create("/ok", b"1".to_vec(), None).await.unwrap();
    assert!(matches!(store.get("").await, Err(Error::InvalidKey { .. })));
    assert!(matches!(
        store.create("", b"x".to_vec(), None).await,
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        store.watch(WatchRequest::key("")).await,
        Err(Error::InvalidKey { .. })
    ));
    match store
        .range(RangeRequest::key("/ok").at_revision(rev + 1000))
        .await
    {
        Err(Error::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (rev + 1000, rev))
        }
        other => panic!("read at a future revision: {other:?}"),
    }
    assert!(matches!(
        store.range(RangeRequest::prefix("/").with_limit(-1)).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        store
            .create("/leased", b"x".to_vec(), Some(987_654_321))
            .await,
        Err(Error::LeaseNotFound(987_654_321))
    ));
    assert!(matches!(
        store.lease_keep_alive(987_654_321).await,
        Err(Error::LeaseNotFound(987_654_321))
    ));
    assert!(matches!(
        store.lease_grant(0).await,
        Err(Error::InvalidTtl(0))
    ));
    assert!(matches!(
        store.compact(rev + 1000).await,
        Err(Error::FutureRevision { .. })
    ));
    assert!(store.get("/leased").await.unwrap().0.is_none());
    assert_eq!(store.revisions().await.unwrap().current, rev);
}
