//! Helper program for the durability test: writes to a SQLite store with
//! many concurrent writers until it is killed, printing each write on
//! stdout only after the store acknowledged it.
//!
//! Usage: `cuttle-store-torture DATA_DIR WRITERS RUN_ID`. Each writer `w`
//! creates keys `/d/RUN_ID/w/i` (value `RUN_ID-w-i`), printing `put KEY`,
//! and bumps its counter `/count/w` with a compare-and-swap, printing
//! `count w N` once N is acknowledged.

use cuttle_store::{SqliteStore, Store};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    // The parent may be gone; then so are we, soon.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: cuttle-store-torture DATA_DIR WRITERS RUN_ID");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&args[1]);
    let writers: usize = args[2].parse().expect("WRITERS is a number");
    let run = args[3].clone();
    let store = Arc::new(SqliteStore::open(&dir).await.expect("open store"));
    say("ready".to_owned());
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let counter = format!("/count/{w}");
            for i in 0u64.. {
                let key = format!("/d/{run}/{w}/{i}");
                let value = format!("{run}-{w}-{i}").into_bytes();
                store.create(&key, value, None).await.expect("create");
                say(format!("put {key}"));
                let (kv, _) = store.get(&counter).await.expect("get counter");
                let (n, result) = match kv {
                    None => (1, store.create(&counter, b"1".to_vec(), None).await),
                    Some(kv) => {
                        let n: u64 = std::str::from_utf8(&kv.value)
                            .expect("utf-8 counter")
                            .parse()
                            .expect("numeric counter");
                        let next = (n + 1).to_string().into_bytes();
                        (
                            n + 1,
                            store.update(&counter, next, kv.mod_revision, None).await,
                        )
                    }
                };
                result.expect("counter is written by its writer only");
                say(format!("count {w} {n}"));
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
}
