use super::*;
use serde_json::json;

/// A minimal protobuf writer for building test bodies.
#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn varint(&mut self, mut v: u64) -> &mut Self {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return self;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn key(&mut self, tag: u32, wire: u64) -> &mut Self {
        self.varint(u64::from(tag) << 3 | wire)
    }
    fn int(&mut self, tag: u32, v: i64) -> &mut Self {
        self.key(tag, 0).varint(v as u64)
    }
    fn bytes(&mut self, tag: u32, b: &[u8]) -> &mut Self {
        self.key(tag, 2).varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, tag: u32, s: &str) -> &mut Self {
        self.bytes(tag, s.as_bytes())
    }
    fn msg(&mut self, tag: u32, m: &W) -> &mut Self {
        self.bytes(tag, &m.0)
    }
    fn map_entry(&mut self, tag: u32, k: &str, v: &str) -> &mut Self {
        let mut e = W::default();
        e.str(1, k).str(2, v);
        self.msg(tag, &e)
    }
}

fn envelope(api_version: &str, kind: &str, raw: &W) -> Vec<u8> {
    let mut type_meta = W::default();
    type_meta.str(1, api_version).str(2, kind);
    let mut unknown = W::default();
    unknown.msg(1, &type_meta).msg(2, raw).str(3, "").str(4, "");
    [MAGIC.as_slice(), &unknown.0].concat()
}

/// A Deployment as `kubectl create deployment web --image=nginx` encodes
/// it: zero-valued Go fields present, as gogo-protobuf writes them.
fn deployment() -> Vec<u8> {
    let mut meta = W::default();
    meta.str(1, "web")
        .str(2, "")
        .str(3, "")
        .int(7, 0)
        .msg(8, &W::default())
        .map_entry(11, "app", "web");
    let mut container = W::default();
    container.str(1, "nginx").str(2, "nginx").str(14, "");
    let mut resources = W::default();
    let mut quantity = W::default();
    quantity.str(1, "100m");
    let mut limit = W::default();
    limit.str(1, "cpu").msg(2, &quantity);
    resources.msg(1, &limit);
    container.msg(8, &resources);
    let mut pod_spec = W::default();
    pod_spec.msg(2, &container).str(3, "").int(4, -1);
    let mut template_meta = W::default();
    template_meta
        .msg(8, &W::default())
        .map_entry(11, "app", "web");
    let mut template = W::default();
    template.msg(1, &template_meta).msg(2, &pod_spec);
    let mut selector = W::default();
    selector.map_entry(1, "app", "web");
    let mut surge = W::default();
    surge.int(1, 1).str(3, "25%");
    let mut rolling = W::default();
    rolling.msg(2, &surge);
    let mut strategy = W::default();
    strategy.msg(2, &rolling);
    let mut spec = W::default();
    spec.int(1, 0)
        .msg(2, &selector)
        .msg(3, &template)
        .msg(4, &strategy)
        .int(5, 0);
    let mut d = W::default();
    d.msg(1, &meta).msg(2, &spec).msg(3, &W::default());
    envelope("apps/v1", "Deployment", &d)
}

#[test]
fn decodes_a_deployment_as_kubectl_sends_it() {
    let v = decode(&deployment()).unwrap();
    assert_eq!(
        v,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "nginx",
                            "image": "nginx",
                            "resources": {"limits": {"cpu": "100m"}}
                        }],
                        "terminationGracePeriodSeconds": -1
                    }
                },
                "strategy": {"rollingUpdate": {"maxSurge": "25%"}}
            },
            "status": {}
        })
    );
}

#[test]
fn decodes_times_bytes_and_meta_kinds() {
    let mut time = W::default();
    time.int(1, 1_700_000_000);
    let mut meta = W::default();
    meta.str(1, "s").msg(8, &time);
    let mut entry = W::default();
    entry.str(1, "k").bytes(2, &[0xff, 0x00]);
    let mut secret = W::default();
    secret.msg(1, &meta).msg(2, &entry);
    let v = decode(&envelope("v1", "Secret", &secret)).unwrap();
    assert_eq!(v["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(v["data"]["k"], "/wA=");

    // DeleteOptions arrives under any group version.
    let mut opts = W::default();
    opts.int(1, 0).str(4, "Foreground");
    let v = decode(&envelope("apps/v1", "DeleteOptions", &opts)).unwrap();
    assert_eq!(v["gracePeriodSeconds"], 0);
    assert_eq!(v["propagationPolicy"], "Foreground");
}

#[test]
fn decodes_a_self_subject_access_review() {
    let mut attrs = W::default();
    attrs.str(1, "default").str(2, "create").str(5, "pods");
    let mut spec = W::default();
    spec.msg(1, &attrs);
    let mut review = W::default();
    review.msg(1, &W::default()).msg(2, &spec);
    let v = decode(&envelope(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        &review,
    ))
    .unwrap();
    assert_eq!(
        v["spec"]["resourceAttributes"],
        json!({"namespace": "default", "verb": "create", "resource": "pods"})
    );
}

#[test]
fn refuses_malformed_bodies_without_panicking() {
    assert!(matches!(decode(b"{}"), Err(ProtobufError::NoMagic)));
    let good = deployment();
    // Every truncation fails cleanly or decodes a prefix; none panics.
    for n in 0..good.len() {
        let _ = decode(&good[..n]);
    }
    // Every single-byte corruption likewise.
    for i in 4..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0xa5;
        let _ = decode(&bad);
    }
    let unknown = envelope("v1", "NoSuchKind", &W::default());
    assert!(matches!(
        decode(&unknown),
        Err(ProtobufError::UnknownKind { .. })
    ));
    // Deep nesting (JSONSchemaProps.not inside itself) is refused rather
    // than recursing without bound.
    let crd = |levels: usize| {
        let mut schema = W::default();
        for _ in 0..levels {
            let mut outer = W::default();
            outer.msg(28, &schema);
            schema = outer;
        }
        let mut validation = W::default();
        validation.msg(1, &schema);
        let mut version = W::default();
        version.str(1, "v1").msg(4, &validation);
        let mut spec = W::default();
        spec.msg(7, &version);
        let mut crd = W::default();
        crd.msg(2, &spec);
        envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd)
    };
    assert!(decode(&crd(10)).is_ok());
    assert!(matches!(decode(&crd(200)), Err(ProtobufError::TooDeep)));
}

#[test]
fn formats_go_durations() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1_500_000_000), "1.5s");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(150_000_000), "150ms");
    assert_eq!(go_duration(-2_000), "-2µs");
}

/// Fields of Go structs embedded inline (a probe's handler, a volume's
/// source, a key selector's object reference) arrive nested in protobuf and
/// belong in their parent in JSON, as a controller's Pod has them.
#[test]
fn inlines_embedded_structs() {
    let mut name_ref = W::default();
    name_ref.str(1, "settings");
    let mut key_ref = W::default();
    key_ref.msg(1, &name_ref).str(2, "level");
    let mut value_from = W::default();
    value_from.msg(3, &key_ref);
    let mut env = W::default();
    env.str(1, "LEVEL").msg(3, &value_from);
    let mut http_get = W::default();
    http_get.str(1, "/healthz");
    let mut handler = W::default();
    handler.msg(2, &http_get);
    let mut probe = W::default();
    probe.msg(1, &handler).int(4, 10);
    let mut container = W::default();
    container.str(1, "c").msg(7, &env).msg(11, &probe);
    let mut config_map = W::default();
    config_map.msg(1, &name_ref);
    let mut source = W::default();
    source.msg(19, &config_map);
    let mut volume = W::default();
    volume.str(1, "config").msg(2, &source);
    let mut spec = W::default();
    spec.msg(1, &volume).msg(2, &container);
    let mut meta = W::default();
    meta.str(1, "p");
    let mut pod = W::default();
    pod.msg(1, &meta).msg(2, &spec);
    let v = decode(&envelope("v1", "Pod", &pod)).unwrap();
    assert_eq!(
        v["spec"],
        json!({
            "volumes": [{"name": "config", "configMap": {"name": "settings"}}],
            "containers": [{
                "name": "c",
                "env": [{"name": "LEVEL",
                         "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}}}],
                "readinessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 10}
            }]
        })
    );
}
