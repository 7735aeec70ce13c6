//! Running N concurrent clients against a shared deadline, the shape of
//! every throughput measurement.

use std::future::Future;
use tokio::time::{Duration, Instant};

/// Starts `clients` copies of `work` at once, each told its index and the
/// common deadline; returns what each did and the wall time until the last
/// one finished (each finishes the operation it has in flight at the
/// deadline). The first failure is returned after every client stopped.
pub async fn drive<T, E, F, Fut>(
    clients: usize,
    duration: Duration,
    work: F,
) -> Result<(Vec<T>, Duration), E>
where
    T: Send + 'static,
    E: From<tokio::task::JoinError> + Send + 'static,
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(work(i, deadline)))
        .collect();
    let mut results = Vec::with_capacity(clients);
    let mut failure = None;
    for task in tasks {
        match task.await? {
            Ok(r) => results.push(r),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((results, start.elapsed())),
    }
}
