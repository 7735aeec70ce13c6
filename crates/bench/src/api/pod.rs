//! The pods the benchmark writes: a realistic web-server pod of about
//! 1.7 KB of JSON (labels, annotations, two containers with resources,
//! env, ports and a probe), and the annotation that carries a watched
//! pod's send time.

use serde_json::{json, Value};

/// The annotation holding a watched pod's send time, in nanoseconds since
/// the watch phase's base instant.
pub(super) const SENT_ANNOTATION: &str = "bench.cuttle.io/sent-ns";

/// A scheduler that does not exist, so that no scheduler (and therefore
/// no kubelet) of a real cluster acts on the benchmark's pods.
pub(super) const SCHEDULER_NAME: &str = "cuttle-bench-unscheduled";

/// The pod named `name` as a JSON object; with `sent_ns`, stamped with
/// its send time.
pub(super) fn pod(name: &str, sent_ns: Option<u64>) -> Value {
    let mut annotations = json!({
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "kubernetes.io/description": "cuttle bench api: a web server with a metrics sidecar",
    });
    if let Some(ns) = sent_ns {
        annotations[SENT_ANNOTATION] = Value::String(ns.to_string());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {
                "app": "bench-web",
                "tier": "frontend",
                "release": "stable",
                "pod-template-hash": "7d4b9c8f6d",
                "app.kubernetes.io/managed-by": "cuttle-bench",
            },
            "annotations": annotations,
        },
        "spec": {
            "schedulerName": SCHEDULER_NAME,
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 30,
            "containers": [
                {
                    "name": "web",
                    "image": "registry.example/bench/web:1.27.3",
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["--port=8080", "--log-level=info"],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                    ],
                    "env": [
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "LOG_FORMAT", "value": "json"},
                        {"name": "CACHE_SIZE_MB", "value": "256"},
                        {"name": "UPSTREAM_URL", "value": "http://bench-api.bench.svc.cluster.local:8080"},
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": 8080},
                        "periodSeconds": 10,
                    },
                    "livenessProbe": {
                        "httpGet": {"path": "/livez", "port": 8080},
                        "initialDelaySeconds": 15,
                        "periodSeconds": 20,
                    },
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
                },
                {
                    "name": "metrics-sidecar",
                    "image": "registry.example/bench/exporter:0.15.1",
                    "ports": [{"name": "exporter", "containerPort": 9100, "protocol": "TCP"}],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"memory": "64Mi"},
                    },
                },
            ],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
        },
    })
}

/// The pod named `name` as the body of a create request.
///
/// Unstamped bodies are the encoded pod with the name put in: building and
/// encoding the whole pod for each create was a twentieth of the machine's
/// CPU, taken from the server being measured.
pub(super) fn pod_body(name: &str, sent_ns: Option<u64>) -> Vec<u8> {
    if sent_ns.is_some() {
        return encode(&pod(name, sent_ns));
    }
    static AROUND_NAME: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    let (before, after) = AROUND_NAME.get_or_init(|| {
        const PLACEHOLDER: &str = "cuttle-bench-pod-name-placeholder";
        let body = encode(&pod(PLACEHOLDER, None));
        let quoted = format!("\"{PLACEHOLDER}\"");
        let at = memchr::memmem::find(&body, quoted.as_bytes()).unwrap_or(body.len());
        let rest = (at + quoted.len()).min(body.len());
        (body[..at].to_vec(), body[rest..].to_vec())
    });
    let mut body = Vec::with_capacity(before.len() + name.len() + 2 + after.len());
    body.extend_from_slice(before);
    // Encoding a string cannot fail.
    serde_json::to_writer(&mut body, name).unwrap_or_default();
    body.extend_from_slice(after);
    body
}

fn encode(pod: &Value) -> Vec<u8> {
    // Encoding a `Value` of strings and numbers cannot fail.
    serde_json::to_vec(pod).unwrap_or_default()
}

/// What one line of a watch stream says, as far as the benchmark cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WatchLine {
    /// An `ADDED` event of a stamped pod: its send time.
    Added { sent_ns: u64 },
    /// An `ERROR` event: its object (a `Status`), as sent.
    Error(String),
    /// Anything else: bookmarks, changes of other pods.
    Other,
}

/// Reads one line of a watch stream without decoding the whole object:
/// watch streams to many watchers carry hundreds of megabytes, and the
/// client shares the machine with the server it measures.
pub(super) fn parse_watch_line(line: &[u8]) -> WatchLine {
    let line = line.trim_ascii();
    match event_type(line).as_deref() {
        Some(b"ADDED") => {
            stamp(line).map_or(WatchLine::Other, |sent_ns| WatchLine::Added { sent_ns })
        }
        Some(b"ERROR") => {
            let text = String::from_utf8_lossy(&line[..line.len().min(500)]);
            WatchLine::Error(text.into_owned())
        }
        _ => WatchLine::Other,
    }
}

/// The event's `type`: read from the head of the line where servers put
/// it, or by decoding the line when it is not there.
fn event_type(line: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    const HEAD: &[u8] = b"{\"type\":\"";
    if let Some(rest) = line.strip_prefix(HEAD) {
        let end = memchr::memchr(b'"', rest)?;
        return Some(rest[..end].into());
    }
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Head>(line)
        .ok()
        .map(|h| h.kind.into_bytes().into())
}

/// The send-time annotation's value, if the line has one.
fn stamp(line: &[u8]) -> Option<u64> {
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| {
            let key = format!("\"{SENT_ANNOTATION}\":\"");
            memchr::memmem::Finder::new(key.as_bytes()).into_owned()
        });
    let at = KEY.find(line)? + KEY.needle().len();
    let digits = &line[at..];
    let end = memchr::memchr(b'"', digits)?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn pods_are_realistic_and_valid() {
        assert_eq!(
            pod_body("a\"b", None),
            encode(&pod("a\"b", None)),
            "the template gives what encoding the pod gives"
        );
        let body = pod_body("pod-000001", None);
        assert!((1500..=2048).contains(&body.len()), "{} bytes", body.len());
        let pod: Pod = serde_json::from_slice(&body).expect("a valid Pod");
        assert_eq!(pod.metadata.name.as_deref(), Some("pod-000001"));
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.containers.len(), 2);
        assert_eq!(spec.scheduler_name.as_deref(), Some(SCHEDULER_NAME));
        assert!(spec.containers[0].resources.is_some());
    }

    #[test]
    fn stamped_pods_carry_their_send_time() {
        let body = pod_body("watch-1", Some(123_456_789));
        let pod: Pod = serde_json::from_slice(&body).expect("a valid Pod");
        let annotations = pod.metadata.annotations.expect("annotations");
        assert_eq!(
            annotations.get(SENT_ANNOTATION).map(String::as_str),
            Some("123456789")
        );
    }

    #[test]
    fn watch_lines_of_added_stamped_pods() {
        let object = String::from_utf8(pod_body("watch-7", Some(42))).expect("utf-8");
        let line = format!("{{\"type\":\"ADDED\",\"object\":{object}}}\n");
        assert_eq!(
            parse_watch_line(line.as_bytes()),
            WatchLine::Added { sent_ns: 42 }
        );
        // The same event with its fields in another order.
        let line = format!("{{\"object\":{object},\"type\":\"ADDED\"}}");
        assert_eq!(
            parse_watch_line(line.as_bytes()),
            WatchLine::Added { sent_ns: 42 }
        );
        let modified = format!("{{\"type\":\"MODIFIED\",\"object\":{object}}}");
        assert_eq!(parse_watch_line(modified.as_bytes()), WatchLine::Other);
        let unstamped = String::from_utf8(pod_body("p", None)).expect("utf-8");
        let line = format!("{{\"type\":\"ADDED\",\"object\":{unstamped}}}");
        assert_eq!(parse_watch_line(line.as_bytes()), WatchLine::Other);
    }

    #[test]
    fn watch_lines_that_are_not_deliveries() {
        let bookmark =
            br#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"12"}}}"#;
        assert_eq!(parse_watch_line(bookmark), WatchLine::Other);
        let error = br#"{"type":"ERROR","object":{"kind":"Status","code":410}}"#;
        assert!(matches!(parse_watch_line(error), WatchLine::Error(e) if e.contains("410")));
        assert_eq!(parse_watch_line(b"not json"), WatchLine::Other);
        assert_eq!(parse_watch_line(&[0xff, 0xfe]), WatchLine::Other);
        let bad_stamp = format!(
            "{{\"type\":\"ADDED\",\"object\":{{\"metadata\":{{\"annotations\":{{\"{SENT_ANNOTATION}\":\"x1\"}}}}}}}}"
        );
        assert_eq!(parse_watch_line(bad_stamp.as_bytes()), WatchLine::Other);
    }
}
