//! Runs the conformance suite against both backends. Needs Debian's
//! `etcd-server` for the etcd cases (each starts its own etcd on free
//! loopback ports).

use cuttle_store::testing::{conformance, Backend, TestStore};

macro_rules! conformance_cases {
    ($backend:ident, $variant:expr, [$($case:ident),* $(,)?], [$($shared:ident),* $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let t = TestStore::new($variant).await.expect("fresh store");
                    conformance::$case(t.store.as_ref()).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $shared() {
                    let t = TestStore::new($variant).await.expect("fresh store");
                    conformance::$shared(t.store.clone()).await;
                }
            )*
        }
    };
}

macro_rules! all_cases {
    ($backend:ident, $variant:expr) => {
        conformance_cases!(
            $backend,
            $variant,
            [
                revisions_advance,
                compare_and_swap,
                range_queries,
                read_at_revision,
                transactions,
                watch_order_and_prev_kv,
                watch_resume,
                watch_slow_consumer,
                compaction,
                leases,
                large_values,
                many_keys,
                bad_input,
            ],
            [concurrent_writers]
        );
    };
}

all_cases!(sqlite, Backend::Sqlite);
all_cases!(etcd, Backend::Etcd);
