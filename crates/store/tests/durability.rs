//! Durability of the embedded store: a child process writes with many
//! concurrent writers and is killed with SIGKILL at a random moment; after
//! reopening, every write it saw acknowledged is there, and the store opens
//! and writes cleanly. Repeated on one data directory, crash after crash.

use cuttle_store::{RangeRequest, SqliteStore, Store};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROUNDS: usize = 20;
const WRITERS: usize = 32;

/// What the child reported as acknowledged before it died.
#[derive(Default)]
struct Acked {
    keys: Vec<String>,
    counters: HashMap<String, u64>,
}

fn run_child_until_killed(dir: &std::path::Path, round: usize, kill_after: Duration) -> Acked {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cuttle-store-torture"))
        .arg(dir)
        .arg(WRITERS.to_string())
        .arg(round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the torture writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut acked = Acked::default();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some("put"), Some(key), None) => acked.keys.push(key.to_owned()),
                (Some("count"), Some(w), Some(n)) => {
                    acked
                        .counters
                        .insert(format!("/count/{w}"), n.parse().expect("count"));
                }
                _ => {}
            }
        }
        acked
    });
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    reader.join().expect("reader thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let seed: u64 = std::env::var("CUTTLE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("durability seed {seed} (set CUTTLE_TEST_SEED to repeat)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut all_keys = 0;
    for round in 0..ROUNDS {
        let kill_after = Duration::from_millis(rng.random_range(150..900));
        let dir_path = dir.path().to_owned();
        let acked = tokio::task::spawn_blocking(move || {
            run_child_until_killed(&dir_path, round, kill_after)
        })
        .await
        .unwrap();

        let store = SqliteStore::open(dir.path())
            .await
            .expect("reopen after SIGKILL");
        for key in &acked.keys {
            let (kv, _) = store.get(key).await.unwrap();
            let kv = kv.unwrap_or_else(|| panic!("round {round}: acknowledged {key} lost"));
            let mut parts = key.split('/').skip(2);
            let expected = format!(
                "{}-{}-{}",
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap()
            );
            assert_eq!(kv.value.as_ref(), expected.as_bytes(), "{key}");
        }
        for (counter, n) in &acked.counters {
            let kv = store.get(counter).await.unwrap().0.expect("counter");
            let stored: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
            // The child may have died between a commit and its report.
            assert!(
                stored >= *n,
                "round {round}: {counter} at {stored}, acked {n}"
            );
        }
        // Revisions stay consistent: every key is at or below the current one.
        let all = store.range(RangeRequest::prefix("/d/")).await.unwrap();
        let current = store.revisions().await.unwrap().current;
        assert!(all.kvs.iter().all(|kv| kv.mod_revision <= current));
        // And the store takes writes again.
        store
            .create(&format!("/after/{round}"), b"ok".to_vec(), None)
            .await
            .expect("write after reopen");
        all_keys += acked.keys.len();
        store.close().await;
    }
    assert!(all_keys > 0, "the writer never got a write acknowledged");
    eprintln!("{all_keys} acknowledged keys over {ROUNDS} crashes, none lost");
}
