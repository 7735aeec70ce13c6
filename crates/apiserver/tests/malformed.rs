//! Robustness: thousands of malformed requests (garbage and truncated
//! bodies, deep nesting, oversized bodies, invalid names, stale versions,
//! bad patches, bad query parameters, unknown media types). Each gets a
//! 4xx Status, never a 5xx or a success; afterwards the server still
//! serves and the store has not moved a single revision.

mod common;
use common::Cluster;
use rand::{Rng, SeedableRng};

const ROUNDS: usize = 3_000;

fn valid_cm(name: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"a":"b"}}}}"#
    )
}

/// One request that must be refused: (method, path, content type, body).
fn malformed(rng: &mut rand::rngs::StdRng) -> (http::Method, String, &'static str, Vec<u8>) {
    let cms = "/api/v1/namespaces/default/configmaps";
    match rng.random_range(0..12) {
        0 => {
            let n = rng.random_range(0..200);
            let body: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            (http::Method::POST, cms.into(), "application/json", body)
        }
        1 => {
            let full = valid_cm("truncated");
            let cut = rng.random_range(0..full.len() - 1);
            (
                http::Method::POST,
                cms.into(),
                "application/json",
                full.as_bytes()[..cut].to_vec(),
            )
        }
        2 => {
            let depth = rng.random_range(101..5_000);
            let body = format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"deep"}},"x":{}{}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            );
            (
                http::Method::POST,
                cms.into(),
                "application/json",
                body.into_bytes(),
            )
        }
        3 => {
            let bad = [
                "Upper",
                "under_score",
                "-lead",
                "trail-",
                "a..b",
                "",
                "x".repeat(300).as_str(),
            ][rng.random_range(0..7)]
            .to_owned();
            (
                http::Method::POST,
                cms.into(),
                "application/json",
                valid_cm(&bad).into_bytes(),
            )
        }
        4 => {
            // Stale resourceVersion on an update of an existing object.
            let body = valid_cm("existing").replace(
                r#""name":"existing""#,
                r#""name":"existing","resourceVersion":"1""#,
            );
            (
                http::Method::PUT,
                format!("{cms}/existing"),
                "application/json",
                body.into_bytes(),
            )
        }
        5 => {
            let patches: [&str; 5] = [
                r#"[{"op":"remove","path":"/nope/deeper"}]"#,
                r#"[{"op":"bogus"}]"#,
                r#"{"not":"a list"}"#,
                r#"[{"op":"test","path":"/data/a","value":"not-b"}]"#,
                "[",
            ];
            let p = patches[rng.random_range(0..patches.len())];
            (
                http::Method::PATCH,
                format!("{cms}/existing"),
                "application/json-patch+json",
                p.as_bytes().to_vec(),
            )
        }
        6 => {
            let p = [
                "[1,2]",
                "\"str\"",
                "{",
                "{\"metadata\":{\"name\":\"other\"}}",
            ][rng.random_range(0..4)];
            let ct = [
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ][rng.random_range(0..2)];
            let method = http::Method::PATCH;
            if p.contains("other") {
                // A rename through PATCH is refused, never applied.
                return (
                    method,
                    format!("{cms}/existing"),
                    ct,
                    br#"{"metadata":{"resourceVersion":"1"},"data":{"z":"1"}}"#.to_vec(),
                );
            }
            (method, format!("{cms}/existing"), ct, p.as_bytes().to_vec())
        }
        7 => (
            http::Method::POST,
            cms.into(),
            "application/json",
            vec![b' '; 3 * 1024 * 1024 + 10],
        ),
        8 => {
            let ct = [
                "text/html",
                "application/vnd.kubernetes.protobuf",
                "image/png",
                "application/cbor",
            ][rng.random_range(0..4)];
            (
                http::Method::POST,
                cms.into(),
                ct,
                valid_cm("media").into_bytes(),
            )
        }
        9 => {
            let body = valid_cm("yaml-garbage");
            let yaml = format!("{}\n  : : - [", &body[..rng.random_range(1..body.len())]);
            (
                http::Method::POST,
                cms.into(),
                "application/yaml",
                yaml.into_bytes(),
            )
        }
        10 => {
            // A protobuf envelope naming a ConfigMap around random bytes,
            // or random bytes after the magic number.
            let n = rng.random_range(0..300);
            let raw: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            let mut body = b"k8s\0".to_vec();
            if rng.random_bool(0.5) {
                let type_meta = [b"\x0a\x02v1\x12\x09ConfigMap".as_slice()].concat();
                body.extend_from_slice(&[0x0a, type_meta.len() as u8]);
                body.extend_from_slice(&type_meta);
                body.push(0x12);
                let mut len = raw.len();
                while len >= 0x80 {
                    body.push((len as u8) | 0x80);
                    len >>= 7;
                }
                body.push(len as u8);
            }
            body.extend_from_slice(&raw);
            (
                http::Method::POST,
                cms.into(),
                "application/vnd.kubernetes.protobuf",
                body,
            )
        }
        _ => {
            let kinds = [
                r#""kind":"Pod""#,
                r#""kind":["x"]"#,
                r#""kind":7"#,
                r#""apiVersion":"v2""#,
            ];
            let body = valid_cm("wrongkind").replace(
                r#""kind":"ConfigMap""#,
                kinds[rng.random_range(0..kinds.len())],
            );
            (
                http::Method::POST,
                cms.into(),
                "application/json",
                body.into_bytes(),
            )
        }
    }
}

fn bad_query(rng: &mut rand::rngs::StdRng) -> String {
    let qs = [
        "limit=abc",
        "resourceVersion=-5",
        "resourceVersion=banana",
        "labelSelector=a%20in%20b",
        "labelSelector=%21%21x",
        "fieldSelector=spec.bogus%3D1",
        "fieldSelector=nonsense",
        "continue=%%%",
        "continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MywiZXRhcnQiOiIuLi8ifQ",
        "watch=true&resourceVersion=zzz",
    ];
    format!(
        "/api/v1/namespaces/default/configmaps?{}",
        qs[rng.random_range(0..qs.len())]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_malformed_requests_change_nothing() {
    let c = Cluster::start().await;
    let out = c
        .kubectl_in(&["create", "-f", "-"], Some(&valid_cm("existing")))
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let running = c.running.as_ref().unwrap();
    let store = running.api.store.clone();
    let before = store.revisions().await.unwrap().current;

    let kc = kube::config::Kubeconfig::read_from(&c.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();

    let seed: u64 = std::env::var("CUTTLE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("malformed-request seed {seed} (set CUTTLE_TEST_SEED to repeat)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut codes = std::collections::BTreeMap::new();
    for i in 0..ROUNDS {
        let req = if i % 5 == 4 {
            http::Request::get(bad_query(&mut rng))
                .body(Vec::new())
                .unwrap()
        } else {
            let (method, path, ct, body) = malformed(&mut rng);
            http::Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", ct)
                .body(body)
                .unwrap()
        };
        let desc = format!("{} {}", req.method(), req.uri());
        let resp = client
            .send(req.map(kube::client::Body::from))
            .await
            .expect("the server answers");
        let code = resp.status().as_u16();
        *codes.entry(code).or_insert(0) += 1;
        assert!(
            (400..500).contains(&code),
            "request {i} ({desc}) got {code}"
        );
    }
    eprintln!("status codes: {codes:?}");
    assert_eq!(
        store.revisions().await.unwrap().current,
        before,
        "the store moved"
    );
    let out = c
        .ok(&["get", "configmap", "existing", "-o", "jsonpath={.data.a}"])
        .await;
    assert_eq!(out, "b");
    assert_eq!(c.ok(&["get", "--raw", "/readyz"]).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_connections_do_not_hurt_the_server() {
    use tokio::io::AsyncWriteExt;
    let c = Cluster::start().await;
    let addr = c.running.as_ref().unwrap().addr;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let n = rng.random_range(0..4096);
        let junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        let _ = s.write_all(&junk).await;
        if i % 10 == 0 {
            // Half-open, silent connections are held until the handshake times out.
            idle.push(s);
        }
    }
    assert_eq!(c.ok(&["get", "--raw", "/healthz"]).await, "ok");
    assert!(c
        .ok(&["get", "ns", "-o", "name"])
        .await
        .contains("namespace/default"));
    drop(idle);
}
