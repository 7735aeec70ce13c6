//! The measurements themselves: each phase starts its clients together,
//! lets them work until a deadline, and turns what they did into figures.

use super::error::BenchError;
use super::report::{ClientsReport, RangeReport};
use super::StoreBenchOptions;
use crate::stats::{per_second, Latencies};
use cuttle_store::{RangeRequest, Store, Txn, TxnOp, WatchRequest};
use futures::StreamExt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Bytes at the start of a watched value that carry its send time.
pub(super) const STAMP_BYTES: usize = 8;
/// Puts per transaction when loading the range (etcd allows 128 by default).
const LOAD_BATCH: usize = 100;
/// Load transactions in flight at once.
const LOAD_CONCURRENCY: usize = 8;
/// How long the watch may take to deliver the last events after the
/// writers stopped.
const WATCH_GRACE: Duration = Duration::from_secs(30);

/// One backend's run: the store and the key prefix that isolates the run.
pub(super) struct Run {
    backend: &'static str,
    store: Arc<dyn Store>,
    prefix: String,
    value_bytes: usize,
    duration: Duration,
}

impl Run {
    pub(super) fn new(
        backend: &'static str,
        store: Arc<dyn Store>,
        opts: &StoreBenchOptions,
    ) -> Run {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Run {
            backend,
            store,
            prefix: format!(
                "/bench/store/{}-{}/",
                since_epoch.as_millis(),
                std::process::id()
            ),
            value_bytes: opts.value_bytes,
            duration: opts.duration,
        }
    }

    /// Every key of the run starts with this.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A value of the configured size, its bytes derived from `tag`.
    fn value(&self, tag: usize) -> Vec<u8> {
        vec![b'a' + (tag % 26) as u8; self.value_bytes]
    }

    fn range_key(&self, j: usize) -> String {
        range_key(&self.prefix, j)
    }

    fn store_err(
        &self,
        phase: &'static str,
    ) -> impl Fn(cuttle_store::Error) -> BenchError + Send + Sync + 'static {
        let backend = self.backend;
        move |source| BenchError::Store {
            backend,
            phase,
            source,
        }
    }

    fn unexpected(&self, phase: &'static str, detail: String) -> BenchError {
        BenchError::Unexpected {
            backend: self.backend,
            phase,
            detail,
        }
    }
}

/// Every measurement of one backend: the range once, then each phase at
/// each client count.
pub(super) async fn measure(
    run: &Run,
    opts: &StoreBenchOptions,
) -> Result<(RangeReport, Vec<ClientsReport>), BenchError> {
    let range = range(run, opts.range_keys, opts.range_runs).await?;
    tracing::info!(
        backend = run.backend,
        keys = range.keys,
        p50_ms = range.p50_ms,
        "range measured"
    );
    let mut by_clients = Vec::with_capacity(opts.clients.len());
    for &clients in &opts.clients {
        let puts_per_sec = puts(run, clients).await?;
        tracing::info!(
            backend = run.backend,
            clients,
            puts_per_sec,
            "puts measured"
        );
        let (cas_per_sec, cas_conflicts) = cas(run, clients).await?;
        tracing::info!(backend = run.backend, clients, cas_per_sec, "CAS measured");
        let gets_per_sec = gets(run, clients, opts.range_keys).await?;
        tracing::info!(
            backend = run.backend,
            clients,
            gets_per_sec,
            "gets measured"
        );
        let (watch, watch_delivery) = watch(run, clients).await?;
        tracing::info!(
            backend = run.backend,
            clients,
            p50_ms = watch.p50_ms,
            p99_ms = watch.p99_ms,
            delivery_p99_ms = watch_delivery.p99_ms,
            "watch measured"
        );
        by_clients.push(ClientsReport {
            clients,
            puts_per_sec,
            cas_per_sec,
            cas_conflicts,
            gets_per_sec,
            watch,
            watch_delivery,
        });
    }
    Ok((range, by_clients))
}

/// [`crate::drive::drive`] with this module's error type.
async fn drive<T, F, Fut>(
    clients: usize,
    duration: Duration,
    work: F,
) -> Result<(Vec<T>, Duration), BenchError>
where
    T: Send + 'static,
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = Result<T, BenchError>> + Send + 'static,
{
    crate::drive::drive(clients, duration, work).await
}

/// Writes `keys` keys in batched transactions, then times whole reads of them.
async fn range(run: &Run, keys: usize, reads: usize) -> Result<RangeReport, BenchError> {
    const PHASE: &str = "range";
    let err = run.store_err(PHASE);
    let value = run.value(0);
    let load_start = Instant::now();
    let mut loads = futures::stream::iter((0..keys).step_by(LOAD_BATCH).map(|first| {
        let store = run.store.clone();
        let success = (first..(first + LOAD_BATCH).min(keys))
            .map(|j| TxnOp::put(run.range_key(j), value.clone()))
            .collect();
        async move {
            store
                .txn(Txn {
                    success,
                    ..Default::default()
                })
                .await
        }
    }))
    .buffer_unordered(LOAD_CONCURRENCY);
    while let Some(result) = loads.next().await {
        result.map_err(&err)?;
    }
    let load = load_start.elapsed();

    let req = RangeRequest::prefix(format!("{}range/", run.prefix));
    let mut samples = Vec::with_capacity(reads);
    // One untimed read first, to warm caches and connections.
    for i in 0..=reads {
        let start = Instant::now();
        let resp = run.store.range(req.clone()).await.map_err(&err)?;
        let took = start.elapsed();
        if resp.kvs.len() != keys || resp.count != keys as i64 {
            return Err(run.unexpected(
                PHASE,
                format!(
                    "read {} keys (count {}) of {keys}",
                    resp.kvs.len(),
                    resp.count
                ),
            ));
        }
        if i > 0 {
            samples.push(took);
        }
    }
    let latencies = Latencies::from_samples(samples)
        .ok_or_else(|| run.unexpected(PHASE, "no timed reads".into()))?;
    Ok(RangeReport {
        keys,
        reads,
        p50_ms: latencies.p50_ms,
        max_ms: latencies.max_ms,
        load_keys_per_sec: per_second(keys as u64, load),
    })
}

/// Puts of new keys, one per transaction.
async fn puts(run: &Run, clients: usize) -> Result<f64, BenchError> {
    let (counts, elapsed) = drive(clients, run.duration, |i, deadline| {
        let store = run.store.clone();
        let prefix = format!("{}puts/{clients}/{i}/", run.prefix);
        let value = run.value(i);
        let err = run.store_err("puts");
        async move {
            let mut n = 0u64;
            loop {
                let put = TxnOp::put(format!("{prefix}{n}"), value.clone());
                store
                    .txn(Txn {
                        success: vec![put],
                        ..Default::default()
                    })
                    .await
                    .map_err(&err)?;
                n += 1;
                if Instant::now() >= deadline {
                    return Ok(n);
                }
            }
        }
    })
    .await?;
    Ok(per_second(counts.iter().sum(), elapsed))
}

/// Read-modify-write cycles (get, then update guarded by the mod revision
/// read), each client on its own key. Returns the successful updates per
/// second and the conflicts, which should not happen on a client's own key.
async fn cas(run: &Run, clients: usize) -> Result<(f64, u64), BenchError> {
    const PHASE: &str = "CAS updates";
    let keys: Vec<String> = (0..clients)
        .map(|i| format!("{}cas/{clients}/{i}", run.prefix))
        .collect();
    let value = run.value(0);
    futures::future::try_join_all(
        keys.iter()
            .map(|key| run.store.create(key, value.clone(), None)),
    )
    .await
    .map_err(run.store_err(PHASE))?;

    let (counts, elapsed) = drive(clients, run.duration, |i, deadline| {
        let store = run.store.clone();
        let key = keys[i].clone();
        let value = run.value(i);
        let err = run.store_err(PHASE);
        let backend = run.backend;
        async move {
            let (mut updated, mut conflicts) = (0u64, 0u64);
            loop {
                let (kv, _) = store.get(&key).await.map_err(&err)?;
                let Some(kv) = kv else {
                    return Err(BenchError::Unexpected {
                        backend,
                        phase: PHASE,
                        detail: format!("key {key} vanished"),
                    });
                };
                match store
                    .update(&key, value.clone(), kv.mod_revision, None)
                    .await
                {
                    Ok(_) => updated += 1,
                    Err(cuttle_store::Error::Conflict { .. }) => conflicts += 1,
                    Err(e) => return Err(err(e)),
                }
                if Instant::now() >= deadline {
                    return Ok((updated, conflicts));
                }
            }
        }
    })
    .await?;
    let updated = counts.iter().map(|c| c.0).sum();
    let conflicts = counts.iter().map(|c| c.1).sum();
    Ok((per_second(updated, elapsed), conflicts))
}

/// Reads of single keys picked at random among the range's keys.
async fn gets(run: &Run, clients: usize, keys: usize) -> Result<f64, BenchError> {
    const PHASE: &str = "gets";
    let (counts, elapsed) = drive(clients, run.duration, |i, deadline| {
        let store = run.store.clone();
        let run_prefix = run.prefix.clone();
        let err = run.store_err(PHASE);
        let backend = run.backend;
        let mut rng = SplitMix64(i as u64 ^ 0x5eed);
        async move {
            let mut n = 0u64;
            loop {
                let j = rng.below(keys);
                let key = range_key(&run_prefix, j);
                let (kv, _) = store.get(&key).await.map_err(&err)?;
                if kv.is_none() {
                    return Err(BenchError::Unexpected {
                        backend,
                        phase: PHASE,
                        detail: format!("key {key} is missing"),
                    });
                }
                n += 1;
                if Instant::now() >= deadline {
                    return Ok(n);
                }
            }
        }
    })
    .await?;
    Ok(per_second(counts.iter().sum(), elapsed))
}

/// Watch latencies under the load of `clients` writers: end to end (from
/// just before a put is issued to the moment one watcher of the prefix
/// receives its event) and delivery (from the put's acknowledgement, when
/// it is durable, to the event; zero when the event came first).
async fn watch(run: &Run, clients: usize) -> Result<(Latencies, Latencies), BenchError> {
    const PHASE: &str = "watch";
    let err = run.store_err(PHASE);
    let prefix = format!("{}watch/{clients}/", run.prefix);
    // Watch from an explicit revision, so that no write can slip in before
    // the watch is established.
    let revs = run.store.revisions().await.map_err(&err)?;
    let mut req = WatchRequest::prefix(prefix.clone()).from_revision(revs.current + 1);
    req.prev_kv = false;
    let mut events = run.store.watch(req).await.map_err(&err)?;

    let base = Instant::now();
    let received = Arc::new(AtomicUsize::new(0));
    let (expected_tx, mut expected_rx) = oneshot::channel::<usize>();
    let backend = run.backend;
    let mut watcher = tokio::spawn({
        let received = received.clone();
        let err = run.store_err(PHASE);
        async move {
            let mut latencies = Vec::new();
            let mut expected = None;
            loop {
                if expected.is_some_and(|e| latencies.len() >= e) {
                    return Ok(latencies);
                }
                tokio::select! {
                    event = events.next() => {
                        let now = Instant::now();
                        let event = match event {
                            Some(event) => event.map_err(&err)?,
                            None => return Err(BenchError::Unexpected {
                                backend,
                                phase: PHASE,
                                detail: "the watch ended".into(),
                            }),
                        };
                        let Some(sent) = read_stamp(&event.kv.value) else {
                            return Err(BenchError::Unexpected {
                                backend,
                                phase: PHASE,
                                detail: format!("event for {} without a send time", event.kv.key),
                            });
                        };
                        latencies.push((event.kv.key.clone(), now.saturating_duration_since(base + sent), now - base));
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    n = &mut expected_rx, if expected.is_none() => {
                        // No count means the writers failed: stop at once.
                        expected = Some(n.unwrap_or(0));
                    }
                }
            }
        }
    });

    let (counts, _) = drive(clients, run.duration, |i, deadline| {
        let store = run.store.clone();
        let prefix = format!("{prefix}{i}/");
        let value = run.value(i);
        let err = run.store_err(PHASE);
        async move {
            let mut acks = Vec::new();
            loop {
                let mut value = value.clone();
                write_stamp(&mut value, base.elapsed());
                let key = format!("{prefix}{}", acks.len());
                let put = TxnOp::put(key.clone(), value);
                store
                    .txn(Txn {
                        success: vec![put],
                        ..Default::default()
                    })
                    .await
                    .map_err(&err)?;
                acks.push((key, base.elapsed()));
                if Instant::now() >= deadline {
                    return Ok(acks);
                }
            }
        }
    })
    .await?;
    let expected = counts.iter().map(Vec::len).sum::<usize>();
    // The watcher only stops early on an error, which it reports below.
    let _ = expected_tx.send(expected);
    let latencies = match tokio::time::timeout(WATCH_GRACE, &mut watcher).await {
        Ok(joined) => joined??,
        Err(_) => {
            watcher.abort();
            return Err(BenchError::WatchIncomplete {
                backend,
                received: received.load(Ordering::Relaxed),
                expected,
                grace_secs: WATCH_GRACE.as_secs(),
            });
        }
    };
    let acked: std::collections::HashMap<String, Duration> = counts.into_iter().flatten().collect();
    let delivery: Vec<Duration> = latencies
        .iter()
        .filter_map(|(key, _, received_at)| {
            acked.get(key).map(|ack| received_at.saturating_sub(*ack))
        })
        .collect();
    let end_to_end: Vec<Duration> = latencies.into_iter().map(|(_, d, _)| d).collect();
    let end_to_end = Latencies::from_samples(end_to_end)
        .ok_or_else(|| run.unexpected(PHASE, "no events".into()))?;
    let delivery = Latencies::from_samples(delivery)
        .ok_or_else(|| run.unexpected(PHASE, "no events".into()))?;
    Ok((end_to_end, delivery))
}

/// The `j`th key of the range read whole.
fn range_key(run_prefix: &str, j: usize) -> String {
    format!("{run_prefix}range/{j:06}")
}

/// Puts the time since the phase's base instant at the start of a value.
fn write_stamp(value: &mut [u8], since_base: Duration) {
    let nanos = u64::try_from(since_base.as_nanos()).unwrap_or(u64::MAX);
    if let Some(head) = value.get_mut(..STAMP_BYTES) {
        head.copy_from_slice(&nanos.to_le_bytes());
    }
}

/// The time a value was sent, relative to the phase's base instant.
fn read_stamp(value: &[u8]) -> Option<Duration> {
    let head: [u8; STAMP_BYTES] = value.get(..STAMP_BYTES)?.try_into().ok()?;
    Some(Duration::from_nanos(u64::from_le_bytes(head)))
}

/// A small, fast, seedable generator (SplitMix64) for picking keys; the
/// benchmark needs spread, not cryptographic quality.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let mut value = vec![b'x'; 32];
        write_stamp(&mut value, Duration::from_micros(1234));
        assert_eq!(read_stamp(&value), Some(Duration::from_micros(1234)));
        assert_eq!(&value[STAMP_BYTES..], &[b'x'; 24]);
        assert_eq!(read_stamp(b"short"), None);
    }

    #[test]
    fn picks_stay_in_bounds_and_spread() {
        let mut rng = SplitMix64(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[rng.below(10)] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(rng.below(0), 0);
    }
}
