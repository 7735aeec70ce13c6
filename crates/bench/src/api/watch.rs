//! Watch fan-out: many watchers of one namespace, multiplexed over a few
//! HTTP/2 connections, while a writer creates pods at a steady rate, each
//! stamped with its send time. Each watcher records, for every pod it is
//! told of, the time from the send to the arrival of the event.

use super::client::{get, pods_path, Conn};
use super::error::ApiBenchError;
use super::pod::{parse_watch_line, pod_body, WatchLine};
use super::report::WatchReport;
use super::ApiBenchOptions;
use crate::stats::Latencies;
use http_body_util::BodyExt;
use kube::client::Body;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

const PHASE: &str = "watch fan-out";
/// How long the watches may take to start.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the watchers may take to receive the last events after the
/// writer stopped.
const GRACE: Duration = Duration::from_secs(30);
/// How long a watch may last, as the server is told.
const WATCH_TIMEOUT_SECS: u64 = 600;

/// What the watchers are told once the writer is done.
#[derive(Clone, Copy, Debug)]
struct Finish {
    /// Pods created (each watcher should see every one).
    sent: usize,
    /// When to give up on the events still missing.
    deadline: Instant,
}

/// What one watcher saw.
#[derive(Debug, Default)]
struct Seen {
    /// From send to arrival, one per stamped pod received.
    latencies: Vec<Duration>,
    /// Why the watch ended before its last event, if it did.
    ended_early: Option<String>,
}

/// Watches `namespace` with `opts.watchers` watchers from its current
/// resourceVersion while `opts.watch_events` pods are created in it.
pub(super) async fn fan_out(
    conn: &Arc<Conn>,
    namespace: &str,
    opts: &ApiBenchOptions,
) -> Result<WatchReport, ApiBenchError> {
    let connections = opts.watch_connections.min(opts.watchers).max(1);
    let (clients, protocol) = connect(conn, connections).await?;
    let rv = resource_version(conn, namespace).await?;
    tracing::info!(target = %conn.target, watchers = opts.watchers, connections, protocol, rv, "starting watches");

    let path = format!(
        "{}?watch=true&resourceVersion={rv}&allowWatchBookmarks=false&timeoutSeconds={WATCH_TIMEOUT_SECS}",
        pods_path(namespace)
    );
    let base = Instant::now();
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), ApiBenchError>>(opts.watchers);
    let (finish_tx, finish_rx) = watch::channel(None::<Finish>);
    let setup_start = Instant::now();
    let watchers: Vec<_> = (0..opts.watchers)
        .map(|i| {
            let conn = conn.clone();
            let client = clients[i % clients.len()].clone();
            let path = path.clone();
            let ready = ready_tx.clone();
            let finish = finish_rx.clone();
            let expected = opts.watch_events;
            tokio::spawn(async move {
                let started = match get(&path) {
                    Ok(req) => conn.send(&client, PHASE, req).await,
                    Err(e) => Err(e),
                };
                match started {
                    Ok(resp) => {
                        let _ = ready.send(Ok(())).await;
                        drop(ready);
                        receive(resp.into_body(), base, expected, finish).await
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e)).await;
                        Seen::default()
                    }
                }
            })
        })
        .collect();
    drop(ready_tx);

    // Every watch must be established before the first pod is written.
    let setup = async {
        for _ in 0..opts.watchers {
            match ready_rx.recv().await {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(conn.unexpected(PHASE, "a watcher ended before it started".into()))
                }
            }
        }
        Ok(())
    };
    let started = match tokio::time::timeout(SETUP_TIMEOUT, setup).await {
        Ok(r) => r,
        Err(_) => Err(conn.unexpected(
            PHASE,
            format!(
                "the watches did not all start within {} s",
                SETUP_TIMEOUT.as_secs()
            ),
        )),
    };
    if let Err(e) = started {
        watchers.iter().for_each(|w| w.abort());
        return Err(e);
    }
    let setup_time = setup_start.elapsed();
    tracing::info!(target = %conn.target, setup_ms = setup_time.as_millis() as u64, "watches started");

    let written = write(conn, namespace, base, opts).await;
    let sent = *written.as_ref().unwrap_or(&0);
    let _ = finish_tx.send(Some(Finish {
        sent,
        deadline: Instant::now() + GRACE,
    }));
    let mut latencies = Vec::with_capacity(sent * opts.watchers);
    let mut ended_early = Vec::new();
    for w in watchers {
        let seen = w.await?;
        latencies.extend(seen.latencies);
        ended_early.extend(seen.ended_early);
    }
    written?;
    if let Some(reason) = ended_early.first() {
        tracing::warn!(target = %conn.target, watches = ended_early.len(), reason, "watches ended early");
    }
    let delivered = latencies.len() as u64;
    Ok(WatchReport {
        watchers: opts.watchers,
        connections,
        protocol: protocol.to_owned(),
        events: sent,
        rate_per_sec: opts.watch_rate,
        setup_ms: crate::stats::millis(setup_time),
        expected: (sent * opts.watchers) as u64,
        delivered,
        ended_early: ended_early.len(),
        latency: Latencies::from_samples(latencies).unwrap_or_default(),
    })
}

/// `n` clients, each on a connection of its own (opened here, with a
/// request, so that later requests share it); and the protocol the server
/// chose.
async fn connect(
    conn: &Arc<Conn>,
    n: usize,
) -> Result<(Vec<kube::Client>, &'static str), ApiBenchError> {
    let mut clients = Vec::with_capacity(n);
    let mut protocol = "HTTP/1.1";
    for _ in 0..n {
        let client = conn.http2_client()?;
        let resp = conn.send(&client, PHASE, get("/version")?).await?;
        if resp.version() == http::Version::HTTP_2 {
            protocol = "HTTP/2";
        }
        resp.into_body()
            .collect()
            .await
            .map_err(conn.request_err(PHASE))?;
        clients.push(client);
    }
    Ok((clients, protocol))
}

/// The namespace's current resourceVersion, from a list of one pod.
async fn resource_version(conn: &Arc<Conn>, namespace: &str) -> Result<String, ApiBenchError> {
    #[derive(serde::Deserialize)]
    struct List {
        metadata: Meta,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "resourceVersion")]
        resource_version: String,
    }
    let page = conn
        .get_bytes(PHASE, &format!("{}?limit=1", pods_path(namespace)))
        .await?;
    let list: List = serde_json::from_slice(&page)
        .map_err(|e| conn.unexpected(PHASE, format!("a list without a resourceVersion: {e}")))?;
    Ok(list.metadata.resource_version)
}

/// Creates `opts.watch_events` pods at `opts.watch_rate` per second, each
/// stamped just before it is sent; each create is its own task, so that a
/// slow one does not hold back the next. Returns how many were created.
async fn write(
    conn: &Arc<Conn>,
    namespace: &str,
    base: Instant,
    opts: &ApiBenchOptions,
) -> Result<usize, ApiBenchError> {
    let path = Arc::new(pods_path(namespace));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / opts.watch_rate));
    // A late tick delays the next ones rather than bursting to catch up.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut creates = Vec::with_capacity(opts.watch_events);
    for i in 0..opts.watch_events {
        tick.tick().await;
        let conn = conn.clone();
        let path = path.clone();
        creates.push(tokio::spawn(async move {
            let sent = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            conn.post(PHASE, &path, pod_body(&format!("watch-{i:06}"), Some(sent)))
                .await
        }));
    }
    for c in creates {
        c.await??;
    }
    Ok(opts.watch_events)
}

/// Reads one watch stream until it has every expected event, the grace
/// period after the writer's end runs out, or the stream ends.
async fn receive(
    mut body: Body,
    base: Instant,
    expected: usize,
    mut finish: watch::Receiver<Option<Finish>>,
) -> Seen {
    let mut seen = Seen {
        latencies: Vec::with_capacity(expected),
        ended_early: None,
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut done: Option<Finish> = None;
    loop {
        if done.is_some_and(|f| seen.latencies.len() >= f.sent) {
            return seen;
        }
        let deadline = done.map(|f| f.deadline);
        tokio::select! {
            frame = body.frame() => {
                let now = Instant::now();
                let frame = match frame {
                    Some(Ok(frame)) => frame,
                    Some(Err(e)) => {
                        seen.ended_early = Some(format!("the stream broke: {e}"));
                        return seen;
                    }
                    None => {
                        seen.ended_early = Some("the server ended the watch".into());
                        return seen;
                    }
                };
                let Some(data) = frame.data_ref() else { continue };
                if let Err(reason) = take_lines(&mut pending, data, |line| {
                    match parse_watch_line(line) {
                        WatchLine::Added { sent_ns } => {
                            let sent = base + Duration::from_nanos(sent_ns);
                            seen.latencies.push(now.saturating_duration_since(sent));
                            Ok(())
                        }
                        WatchLine::Error(status) => Err(format!("an ERROR event: {status}")),
                        WatchLine::Other => Ok(()),
                    }
                }) {
                    seen.ended_early = Some(reason);
                    return seen;
                }
            }
            changed = finish.changed(), if done.is_none() => {
                match changed {
                    Ok(()) => done = *finish.borrow(),
                    // The phase is gone: nothing waits for this watcher.
                    Err(_) => return seen,
                }
            }
            _ = sleep_until(deadline) => {
                let missing = done.map_or(0, |f| f.sent.saturating_sub(seen.latencies.len()));
                seen.ended_early = Some(format!("{missing} events missing after the grace period"));
                return seen;
            }
        }
    }
}

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Hands each complete line of `pending` followed by `data` to `each`;
/// leaves a trailing partial line in `pending`. Stops at the first error
/// `each` returns. Servers usually send a line per frame: such a frame is
/// read where it is, without a copy.
fn take_lines(
    pending: &mut Vec<u8>,
    data: &[u8],
    mut each: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut data = data;
    if !pending.is_empty() {
        // Finish the partial line first.
        let Some(end) = memchr::memchr(b'\n', data) else {
            pending.extend_from_slice(data);
            return Ok(());
        };
        pending.extend_from_slice(&data[..end]);
        data = &data[end + 1..];
        let line = std::mem::take(pending);
        if !line.trim_ascii().is_empty() {
            each(&line)?;
        }
    }
    let mut lines = data;
    while let Some(end) = memchr::memchr(b'\n', lines) {
        let line = &lines[..end];
        lines = &lines[end + 1..];
        if !line.trim_ascii().is_empty() {
            each(line)?;
        }
    }
    pending.extend_from_slice(lines);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(frames: &[&[u8]]) -> (Vec<String>, Vec<u8>) {
        let mut pending = Vec::new();
        let mut lines = Vec::new();
        for frame in frames {
            take_lines(&mut pending, frame, |l| {
                lines.push(String::from_utf8_lossy(l).into_owned());
                Ok(())
            })
            .expect("no error");
        }
        (lines, pending)
    }

    #[test]
    fn lines_split_across_frames() {
        let (lines, pending) = lines_of(&[b"one\ntw", b"o", b"\n\nthree\nfo"]);
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(pending, b"fo");
        let (lines, pending) = lines_of(&[b"a\n", b"b\n", b"\n"]);
        assert_eq!(lines, ["a", "b"]);
        assert!(pending.is_empty());
    }

    #[test]
    fn an_error_line_stops_the_reading() {
        let mut pending = b"a".to_vec();
        let mut seen = 0;
        let r = take_lines(&mut pending, b"\nb\nc\n", |l| {
            seen += 1;
            if l == b"b" {
                Err("b".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err("b".into()));
        assert_eq!(seen, 2);
    }
}
