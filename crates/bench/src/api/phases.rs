//! The request phases: creates at each client count, loading a namespace
//! up to a number of pods, and timed gets, whole lists and first pages of
//! that namespace. Each phase starts its clients together and turns what
//! they did into figures.

use super::client::{pods_path, Conn};
use super::error::ApiBenchError;
use super::pod::pod_body;
use super::report::CreatesReport;
use crate::stats::{per_second, Latencies};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The name of the `i`th pod of the loaded namespace.
pub(super) fn pod_name(i: usize) -> String {
    format!("pod-{i:06}")
}

/// [`crate::drive::drive`] with this module's error type.
pub(super) async fn drive<T, F, Fut>(
    clients: usize,
    duration: Duration,
    work: F,
) -> Result<(Vec<T>, Duration), ApiBenchError>
where
    T: Send + 'static,
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = Result<T, ApiBenchError>> + Send + 'static,
{
    crate::drive::drive(clients, duration, work).await
}

/// `clients` clients creating pods in `namespace` for `duration`, each
/// waiting for its create to be answered before sending the next.
pub(super) async fn creates(
    conn: &Arc<Conn>,
    namespace: &str,
    clients: usize,
    duration: Duration,
) -> Result<CreatesReport, ApiBenchError> {
    const PHASE: &str = "creates";
    let path = Arc::new(pods_path(namespace));
    // One untimed create per client first, so that every client has its
    // connection (TCP and TLS handshakes) before the clock starts, as a
    // long-running client of a real cluster has.
    drive(clients, Duration::ZERO, |i, _| {
        let conn = conn.clone();
        let path = path.clone();
        async move {
            conn.post(
                PHASE,
                &path,
                pod_body(&format!("c{clients}-{i}-warm"), None),
            )
            .await
        }
    })
    .await?;
    let (samples, elapsed) = drive(clients, duration, |i, deadline| {
        let conn = conn.clone();
        let path = path.clone();
        async move {
            let mut latencies = Vec::new();
            loop {
                let body = pod_body(&format!("c{clients}-{i}-{}", latencies.len()), None);
                let start = Instant::now();
                conn.post(PHASE, &path, body).await?;
                latencies.push(start.elapsed());
                if Instant::now() >= deadline {
                    return Ok(latencies);
                }
            }
        }
    })
    .await?;
    let samples: Vec<Duration> = samples.into_iter().flatten().collect();
    let created = samples.len() as u64;
    let latency = Latencies::from_samples(samples)
        .ok_or_else(|| conn.unexpected(PHASE, "no create finished".into()))?;
    Ok(CreatesReport {
        clients,
        creates_per_sec: per_second(created, elapsed),
        latency,
    })
}

/// Creates pods `from..to` of the loaded namespace with `clients` clients;
/// returns pods created per second.
pub(super) async fn load(
    conn: &Arc<Conn>,
    namespace: &str,
    from: usize,
    to: usize,
    clients: usize,
) -> Result<f64, ApiBenchError> {
    const PHASE: &str = "loading pods";
    if to <= from {
        return Ok(0.0);
    }
    let path = Arc::new(pods_path(namespace));
    let next = Arc::new(AtomicUsize::new(from));
    let clients = clients.min(to - from);
    // The deadline is not used: each client takes the next pod until none
    // is left.
    let (_, elapsed) = drive(clients, Duration::ZERO, |_, _| {
        let conn = conn.clone();
        let path = path.clone();
        let next = next.clone();
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return Ok(());
                }
                conn.post(PHASE, &path, pod_body(&pod_name(i), None))
                    .await?;
            }
        }
    })
    .await?;
    Ok(per_second((to - from) as u64, elapsed))
}

/// One client getting random pods of the `pods` in `namespace` by name,
/// one after the other, for `duration`.
pub(super) async fn gets(
    conn: &Arc<Conn>,
    namespace: &str,
    pods: usize,
    duration: Duration,
) -> Result<Latencies, ApiBenchError> {
    const PHASE: &str = "gets";
    let base = pods_path(namespace);
    let deadline = Instant::now() + duration;
    let mut samples = Vec::new();
    loop {
        let path = format!("{base}/{}", pod_name(rand::random_range(0..pods)));
        let start = Instant::now();
        conn.get_len(PHASE, &path).await?;
        samples.push(start.elapsed());
        if Instant::now() >= deadline {
            break;
        }
    }
    Latencies::from_samples(samples).ok_or_else(|| conn.unexpected(PHASE, "no get finished".into()))
}

/// Items in a list's JSON, without decoding them.
fn count_items(body: &[u8]) -> Result<usize, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct List {
        items: Vec<serde::de::IgnoredAny>,
    }
    Ok(serde_json::from_slice::<List>(body)?.items.len())
}

/// Whole lists of `namespace` (which holds `pods` pods), without a limit:
/// one untimed list that checks the count, then `runs` timed ones, each
/// until its last byte arrived. Returns their latencies and the size of
/// a list in bytes.
pub(super) async fn lists(
    conn: &Arc<Conn>,
    namespace: &str,
    pods: usize,
    runs: usize,
) -> Result<(Latencies, u64), ApiBenchError> {
    const PHASE: &str = "lists";
    let path = pods_path(namespace);
    let body = conn.get_bytes(PHASE, &path).await?;
    let listed = count_items(&body)
        .map_err(|e| conn.unexpected(PHASE, format!("the list is not a list: {e}")))?;
    if listed != pods {
        return Err(conn.unexpected(PHASE, format!("listed {listed} of {pods} pods")));
    }
    let bytes = body.len() as u64;
    drop(body);
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        conn.get_len(PHASE, &path).await?;
        samples.push(start.elapsed());
    }
    let latencies = Latencies::from_samples(samples)
        .ok_or_else(|| conn.unexpected(PHASE, "no list finished".into()))?;
    Ok((latencies, bytes))
}

/// First pages of `limit` pods of `namespace`, as `kubectl get` asks for
/// them: one untimed page that checks the count, then `runs` timed ones.
pub(super) async fn pages(
    conn: &Arc<Conn>,
    namespace: &str,
    pods: usize,
    limit: usize,
    runs: usize,
) -> Result<Latencies, ApiBenchError> {
    const PHASE: &str = "paged lists";
    let path = format!("{}?limit={limit}", pods_path(namespace));
    let body = conn.get_bytes(PHASE, &path).await?;
    let listed = count_items(&body)
        .map_err(|e| conn.unexpected(PHASE, format!("the page is not a list: {e}")))?;
    if listed != pods.min(limit) {
        return Err(conn.unexpected(
            PHASE,
            format!("a page of limit {limit} had {listed} of {pods} pods"),
        ));
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        conn.get_len(PHASE, &path).await?;
        samples.push(start.elapsed());
    }
    Latencies::from_samples(samples)
        .ok_or_else(|| conn.unexpected(PHASE, "no page finished".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_list_items_without_decoding_them() {
        let list = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a"}},{"spec":{"x":[1,2]}},{}]}"#;
        assert_eq!(count_items(list).expect("a list"), 3);
        assert_eq!(count_items(br#"{"items":[]}"#).expect("a list"), 0);
        assert!(count_items(br#"{"kind":"Status"}"#).is_err());
        assert!(count_items(b"[").is_err());
    }

    #[test]
    fn pod_names_sort_in_creation_order() {
        assert_eq!(pod_name(7), "pod-000007");
        assert!(pod_name(99_999) < pod_name(100_000));
    }

    #[tokio::test]
    async fn drive_reports_the_first_failure() {
        let result = drive(3, Duration::ZERO, |i, _| async move {
            if i == 1 {
                Err(ApiBenchError::InvalidOptions("client 1".into()))
            } else {
                Ok(i)
            }
        })
        .await;
        assert!(matches!(result, Err(ApiBenchError::InvalidOptions(m)) if m == "client 1"));
        let (done, _) = drive(3, Duration::ZERO, |i, _| async move { Ok(i) })
            .await
            .expect("no failure");
        assert_eq!(done, vec![0, 1, 2]);
    }
}
