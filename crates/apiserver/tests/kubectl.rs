//! End-to-end: the real kubectl against an in-process apiserver.

mod common;
use common::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_health() {
    let c = Cluster::start().await;
    let out = c.ok(&["version", "-o", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");
    assert_eq!(c.ok(&["get", "--raw", "/healthz"]).await, "ok");
    // The listing kube-apiserver gives, its single checks, and 404 for a
    // check it does not have.
    assert_eq!(
        c.ok(&["get", "--raw", "/readyz?verbose"]).await,
        "[+]ping ok\n[+]log ok\n[+]etcd ok\nreadyz check passed\n"
    );
    let excluded = c
        .ok(&["get", "--raw", "/livez?verbose&exclude=etcd&exclude=kms"])
        .await;
    assert!(excluded.contains("[+]etcd excluded: ok\n"), "{excluded}");
    assert!(
        excluded.contains("warn: some health checks cannot be excluded: no matches for \"kms\""),
        "{excluded}"
    );
    assert_eq!(c.ok(&["get", "--raw", "/healthz/etcd"]).await, "ok");
    let missing = c.fails(&["get", "--raw", "/readyz/no-such-check"]).await;
    assert!(missing.contains("NotFound"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_exist_and_get_shows_table() {
    let c = Cluster::start().await;
    let out = c.ok(&["get", "namespaces"]).await;
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("STATUS"), "{out}");
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(out.contains(ns), "{out}");
    }
}

const HELLO: &str = "apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  containers:
  - image: nginx:1.15
    name: nginx
";

const HELLO_VOLUME: &str = "apiVersion: v1
kind: Pod
metadata:
  name: hello-volume
spec:
  containers:
  - image: nginx:1.15
    name: nginx
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    emptyDir: {}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_seed_pods_and_read_them_every_way() {
    let c = Cluster::start().await;
    let out = c.apply_stdin(&["apply", "-f", "-"], HELLO).await;
    assert_eq!(out.trim(), "pod/hello created");
    let out = c.apply_stdin(&["apply", "-f", "-"], HELLO_VOLUME).await;
    assert_eq!(out.trim(), "pod/hello-volume created");
    // Applying the same manifest again changes nothing.
    let out = c.apply_stdin(&["apply", "-f", "-"], HELLO).await;
    assert_eq!(out.trim(), "pod/hello unchanged");

    let table = c.ok(&["get", "pods"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(
        table.contains("hello-volume") && table.contains("Pending"),
        "{table}"
    );
    let wide = c.ok(&["get", "pods", "-o", "wide"]).await;
    assert!(wide.lines().next().unwrap().contains("NODE"), "{wide}");

    let yaml = c.ok(&["get", "pod", "hello", "-o", "yaml"]).await;
    assert!(yaml.contains("restartPolicy: Always"), "{yaml}");
    assert!(
        yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "pods", "-o", "json"]).await).unwrap();
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        c.ok(&["get", "pods", "-o", "name"]).await,
        "pod/hello\npod/hello-volume\n"
    );
    assert_eq!(
        c.ok(&[
            "get",
            "pod",
            "hello",
            "-o",
            "jsonpath={.spec.containers[0].image}"
        ])
        .await,
        "nginx:1.15"
    );
    let cols = c
        .ok(&[
            "get",
            "pods",
            "-o",
            "custom-columns=N:.metadata.name,I:.spec.containers[0].image",
        ])
        .await;
    assert!(cols.contains("hello-volume   nginx:1.15"), "{cols}");

    let err = c.fails(&["get", "pod", "nope"]).await;
    assert!(
        err.contains("Error from server (NotFound): pods \"nope\" not found"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_annotate_patch_and_delete() {
    let c = Cluster::start().await;
    c.apply_stdin(&["apply", "-f", "-"], HELLO).await;
    assert_eq!(
        c.ok(&["label", "pod", "hello", "tier=web"]).await.trim(),
        "pod/hello labeled"
    );
    assert_eq!(
        c.ok(&["annotate", "pod", "hello", "note=hi"]).await.trim(),
        "pod/hello annotated"
    );
    let sel = c
        .ok(&["get", "pods", "-l", "tier in (web)", "-o", "name"])
        .await;
    assert_eq!(sel.trim(), "pod/hello");
    assert_eq!(
        c.ok(&["get", "pods", "-l", "tier!=web", "-o", "name"])
            .await
            .trim(),
        ""
    );

    c.ok(&[
        "patch",
        "pod",
        "hello",
        "-p",
        r#"{"metadata":{"labels":{"merged":"yes"}}}"#,
        "--type=merge",
    ])
    .await;
    c.ok(&[
        "patch",
        "pod",
        "hello",
        "-p",
        r#"{"spec":{"containers":[{"name":"nginx","image":"nginx:1.16"}]}}"#,
    ])
    .await;
    c.ok(&[
        "patch",
        "pod",
        "hello",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/metadata/labels/json","value":"yes"}]"#,
    ])
    .await;
    let pod: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "pod", "hello", "-o", "json"]).await).unwrap();
    assert_eq!(pod["metadata"]["labels"]["merged"], "yes");
    assert_eq!(pod["metadata"]["labels"]["json"], "yes");
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.16");
    assert_eq!(pod["spec"]["containers"].as_array().unwrap().len(), 1);

    let err = c
        .fails(&[
            "patch",
            "pod",
            "hello",
            "-p",
            r#"{"spec":{"containers":[{"name":"other","image":"x"}]}}"#,
        ])
        .await;
    assert!(err.contains("is invalid"), "{err}");

    assert_eq!(
        c.ok(&["delete", "pod", "hello"]).await.trim(),
        "pod \"hello\" deleted"
    );
    let err = c.fails(&["delete", "pod", "hello"]).await;
    assert!(err.contains("pods \"hello\" not found"), "{err}");
}

const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-app
  labels:
    app: nginx
spec:
  replicas: 1
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.15
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_scale_apply_changes_and_server_side_apply() {
    let c = Cluster::start().await;
    assert_eq!(
        c.apply_stdin(&["apply", "-f", "-"], DEPLOY).await.trim(),
        "deployment.apps/nginx-app created"
    );
    assert_eq!(
        c.ok(&["scale", "deployment", "nginx-app", "--replicas=3"])
            .await
            .trim(),
        "deployment.apps/nginx-app scaled"
    );
    let replicas = c
        .ok(&[
            "get",
            "deploy",
            "nginx-app",
            "-o",
            "jsonpath={.spec.replicas} {.metadata.generation}",
        ])
        .await;
    assert_eq!(replicas, "3 2");
    let header = c.ok(&["get", "deployments"]).await;
    let cols: Vec<&str> = header.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(cols, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);

    // A changed manifest is applied as a strategic merge patch.
    let changed = DEPLOY.replace("nginx:1.15", "nginx:1.16");
    assert_eq!(
        c.apply_stdin(&["apply", "-f", "-"], &changed).await.trim(),
        "deployment.apps/nginx-app configured"
    );
    let image = c
        .ok(&[
            "get",
            "deploy",
            "nginx-app",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(image, "nginx:1.16");
    c.ok(&[
        "set",
        "resources",
        "deployment",
        "nginx-app",
        "-c=nginx",
        "--limits=cpu=500m,memory=128Mi",
    ])
    .await;
    let limits = c
        .ok(&[
            "get",
            "deploy",
            "nginx-app",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].resources.limits.cpu}",
        ])
        .await;
    assert_eq!(limits, "500m");

    // Server-side apply creates, then updates.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n";
    let out = c
        .apply_stdin(&["apply", "--server-side", "-f", "-"], cm)
        .await;
    assert_eq!(out.trim(), "configmap/ssa serverside-applied");
    let out = c
        .apply_stdin(
            &["apply", "--server-side", "-f", "-"],
            &cm.replace("\"1\"", "\"2\""),
        )
        .await;
    assert_eq!(out.trim(), "configmap/ssa serverside-applied");
    assert_eq!(
        c.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data.a}"])
            .await,
        "2"
    );
    // Applying the same again writes nothing (only its entry's time would
    // change), and a server-side diff of it is empty.
    let same = cm.replace("\"1\"", "\"2\"");
    let version = [
        "get",
        "cm",
        "ssa",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ];
    let before = c.ok(&version).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    c.apply_stdin(&["apply", "--server-side", "-f", "-"], &same)
        .await;
    assert_eq!(c.ok(&version).await, before);
    let diff = c
        .kubectl_in(&["diff", "--server-side", "-f", "-"], Some(&same))
        .await;
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_commands() {
    let c = Cluster::start().await;
    let out = c.ok(&["api-resources"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    for line in [
        "pods",
        "deployments",
        "leases",
        "priorityclasses",
        "clusterrolebindings",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(line)),
            "{line} missing:\n{out}"
        );
    }
    let po = out.lines().find(|l| l.starts_with("pods ")).unwrap();
    let cols: Vec<&str> = po.split_whitespace().collect();
    assert_eq!(cols, ["pods", "po", "v1", "true", "Pod"]);
    let err = c.fails(&["get", "foos"]).await;
    assert!(
        err.contains("the server doesn't have a resource type \"foos\""),
        "{err}"
    );
    // The default RBAC objects a cluster starts with.
    let roles = c.ok(&["get", "clusterroles", "-o", "name"]).await;
    for role in [
        "cluster-admin",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
    ] {
        assert!(
            roles.contains(&format!("clusterrole.rbac.authorization.k8s.io/{role}\n")),
            "{roles}"
        );
    }
    let admins = c
        .ok(&[
            "get",
            "clusterrolebinding",
            "cluster-admin",
            "-o",
            "jsonpath={.roleRef.name} {.subjects[*].name}",
        ])
        .await;
    assert_eq!(admins, "cluster-admin system:masters");
    // The CA of client certificates, for delegated authentication.
    let ca = c
        .ok(&[
            "get",
            "configmap",
            "extension-apiserver-authentication",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.data.client-ca-file}",
        ])
        .await;
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    // OpenAPI v2 as JSON for whoever reads it that way.
    let v2: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v2"]).await).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["definitions"]["io.k8s.api.apps.v1.Deployment"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let c = Cluster::start().await;
    let bad_name = HELLO.replace("name: hello", "name: Hello_World");
    let out = c.kubectl_in(&["apply", "-f", "-"], Some(&bad_name)).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is invalid") && err.contains("metadata.name"),
        "{err}"
    );
    let no_image =
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n";
    let out = c.kubectl_in(&["create", "-f", "-"], Some(no_image)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.containers[0].image: Required value"),
        "{err}"
    );
    // A bad name is reported together with the rest, as Kubernetes does.
    let both = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Both_Bad\nspec:\n  containers: []\n";
    let out = c.kubectl_in(&["create", "-f", "-"], Some(both)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("* metadata.name: Invalid value: \"Both_Bad\"")
            && err.contains("* spec.containers: Required value"),
        "{err}"
    );
    let err = c.fails(&["get", "pods", "-l", "a in b"]).await;
    assert!(
        err.contains("unable to parse requirement")
            || err.contains("BadRequest")
            || err.contains("couldn't parse"),
        "{err}"
    );
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: missing-ns\n";
    let out = c.kubectl_in(&["create", "-f", "-"], Some(cm)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("namespaces \"missing-ns\" not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_describe_wait_and_cascade_deletes() {
    let c = Cluster::start().await;
    c.apply_stdin(&["apply", "-f", "-"], HELLO).await;
    // `get -w` prints the current state, then each change, and exits 0
    // when the server ends the watch (--request-timeout).
    let watcher = c.kubectl(&["get", "pods", "-w", "--request-timeout=3s"]);
    let labeler = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        c.ok(&["label", "pod", "hello", "seen=yes"]).await
    };
    let (out, _) = tokio::join!(watcher, labeler);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().filter(|l| l.starts_with("hello ")).count() >= 2,
        "{text}"
    );

    let described = c.ok(&["describe", "pod", "hello"]).await;
    assert!(
        described.contains("Name:") && described.contains("nginx:1.15"),
        "{described}"
    );

    // A finalizer holds the object after delete until it is removed.
    c.ok(&[
        "patch",
        "pod",
        "hello",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ])
    .await;
    c.ok(&["delete", "pod", "hello", "--wait=false"]).await;
    let ts = c
        .ok(&[
            "get",
            "pod",
            "hello",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(!ts.is_empty(), "deletionTimestamp set");
    let waiter = c.kubectl(&["wait", "--for=delete", "pod/hello", "--timeout=20s"]);
    let releaser = async {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        c.ok(&[
            "patch",
            "pod",
            "hello",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ])
        .await
    };
    let (out, _) = tokio::join!(waiter, releaser);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pod/hello condition met"));

    // Cascade modes are recorded for the garbage collector.
    c.apply_stdin(&["apply", "-f", "-"], DEPLOY).await;
    c.ok(&[
        "delete",
        "deployment",
        "nginx-app",
        "--cascade=orphan",
        "--wait=false",
    ])
    .await;
    let f = c
        .ok(&[
            "get",
            "deploy",
            "nginx-app",
            "-o",
            "jsonpath={.metadata.finalizers}",
        ])
        .await;
    assert!(f.contains("orphan"), "{f}");
    c.ok(&[
        "patch",
        "deploy",
        "nginx-app",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    c.fails(&["get", "deploy", "nginx-app"]).await;
    c.apply_stdin(&["apply", "-f", "-"], DEPLOY).await;
    c.ok(&[
        "delete",
        "deployment",
        "nginx-app",
        "--cascade=foreground",
        "--wait=false",
    ])
    .await;
    let f = c
        .ok(&[
            "get",
            "deploy",
            "nginx-app",
            "-o",
            "jsonpath={.metadata.finalizers}",
        ])
        .await;
    assert!(f.contains("foregroundDeletion"), "{f}");
    let d2 = DEPLOY.replace("name: nginx-app", "name: bg");
    c.apply_stdin(&["apply", "-f", "-"], &d2).await;
    assert_eq!(
        c.ok(&["delete", "deployment", "bg", "--cascade=background"])
            .await
            .trim(),
        "deployment.apps \"bg\" deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_lifecycle() {
    let c = Cluster::start().await;
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n";
    assert_eq!(
        c.apply_stdin(&["apply", "-f", "-"], ns).await.trim(),
        "namespace/team created"
    );
    let pod = HELLO.replace("name: hello", "name: hello\n  namespace: team");
    c.apply_stdin(&["apply", "-f", "-"], &pod).await;
    assert_eq!(
        c.ok(&["get", "pods", "-n", "team", "-o", "name"])
            .await
            .trim(),
        "pod/hello"
    );
    let all = c.ok(&["get", "pods", "-A"]).await;
    assert!(
        all.lines().next().unwrap().starts_with("NAMESPACE"),
        "{all}"
    );
    assert!(all.contains("team"), "{all}");
    let err = c.fails(&["delete", "namespace", "default"]).await;
    assert!(err.contains("forbidden"), "{err}");
    let out = c.ok(&["delete", "namespace", "team"]).await;
    assert_eq!(out.trim(), "namespace \"team\" deleted");
    c.fails(&["get", "namespace", "team"]).await;
    c.fails(&["get", "pod", "hello", "-n", "team"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_diff_and_strict_field_validation() {
    let c = Cluster::start().await;
    let out = c.ok(&["explain", "pods.spec.containers.image"]).await;
    assert!(out.contains("KIND:") && out.contains("Pod"), "{out}");
    assert!(out.contains("FIELD:") && out.contains("image"), "{out}");
    let out = c.ok(&["explain", "deployment.spec.replicas"]).await;
    assert!(
        out.contains("Deployment") && out.contains("replicas"),
        "{out}"
    );

    let typo = HELLO.replace(
        "    name: nginx\n",
        "    name: nginx\n    imagePullPolice: Always\n",
    );
    let out = c.kubectl_in(&["apply", "-f", "-"], Some(&typo)).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strict decoding error: unknown field \"spec.containers[0].imagePullPolice\""),
        "{err}"
    );

    c.apply_stdin(&["apply", "-f", "-"], HELLO).await;
    let same = c.kubectl_in(&["diff", "-f", "-"], Some(HELLO)).await;
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    let changed = HELLO.replace("nginx:1.15", "nginx:1.16");
    let diff = c.kubectl_in(&["diff", "-f", "-"], Some(&changed)).await;
    assert_eq!(
        diff.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    assert!(String::from_utf8_lossy(&diff.stdout).contains("+  - image: nginx:1.16"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_tracks_owners_and_conflicts() {
    let c = Cluster::start().await;
    let out = c
        .apply_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=team-a",
                "-f",
                "-",
            ],
            DEPLOY,
        )
        .await;
    assert_eq!(out.trim(), "deployment.apps/nginx-app serverside-applied");
    let managers = c
        .ok(&[
            "get",
            "deploy",
            "nginx-app",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert_eq!(managers, "team-a");
    c.ok(&["scale", "deploy", "nginx-app", "--replicas=4"])
        .await;
    let changed = DEPLOY.replace("replicas: 1", "replicas: 2");
    let out = c
        .kubectl_in(
            &[
                "apply",
                "--server-side",
                "--field-manager=team-a",
                "-f",
                "-",
            ],
            Some(&changed),
        )
        .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict") && err.contains(".spec.replicas"),
        "{err}"
    );
    let out = c
        .apply_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=team-a",
                "--force-conflicts",
                "-f",
                "-",
            ],
            &changed,
        )
        .await;
    assert_eq!(out.trim(), "deployment.apps/nginx-app serverside-applied");
    assert_eq!(
        c.ok(&[
            "get",
            "deploy",
            "nginx-app",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .await,
        "2"
    );
}

/// `kubectl create <generator>`, `run`, `expose`, `auth` and `drain`'s
/// eviction use kubectl's typed clients, which send protobuf bodies with no
/// JSON fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_client_commands_send_protobuf() {
    let c = Cluster::start().await;
    assert_eq!(
        c.ok(&["create", "namespace", "pb"]).await.trim(),
        "namespace/pb created"
    );
    let created = [
        vec![
            "create",
            "deployment",
            "web",
            "--image=nginx:1.25",
            "--replicas=0",
            "--port=80",
        ],
        vec!["create", "configmap", "cm", "--from-literal=a=b"],
        vec!["create", "secret", "generic", "s", "--from-literal=k=v"],
        vec!["create", "service", "clusterip", "svc", "--tcp=80:8080"],
        vec!["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
        vec![
            "create",
            "cronjob",
            "cj",
            "--image=busybox",
            "--schedule=*/5 * * * *",
            "--",
            "true",
        ],
        vec!["create", "serviceaccount", "sa"],
        vec!["create", "role", "r", "--verb=get", "--resource=pods"],
        vec![
            "create",
            "rolebinding",
            "rb",
            "--role=r",
            "--serviceaccount=pb:sa",
        ],
        vec!["create", "quota", "q", "--hard=pods=10"],
        vec![
            "create",
            "pdb",
            "pdb",
            "--selector=app=web",
            "--min-available=1",
        ],
        vec!["run", "solo", "--image=busybox", "--", "sleep", "1000"],
        // An ingress rule's value is an inline Go struct: nested in protobuf.
        vec!["create", "ingress", "ing", "--rule=foo.com/bar=svc:80"],
    ];
    for args in created {
        // The namespace flag first: what follows `--` is the command.
        let args: Vec<&str> = ["-n", "pb"].into_iter().chain(args).collect();
        c.ok(&args).await;
    }
    c.ok(&["create", "priorityclass", "high", "--value=1000"])
        .await;

    let rule = c
        .ok(&[
            "get",
            "ingress",
            "ing",
            "-n",
            "pb",
            "-o",
            "jsonpath={.spec.rules[0]}",
        ])
        .await;
    let rule: serde_json::Value = serde_json::from_str(&rule).unwrap();
    assert_eq!(rule["host"], "foo.com");
    assert_eq!(
        rule["http"]["paths"][0]["backend"]["service"]["name"],
        "svc"
    );

    // What arrived is what was sent, with Kubernetes' defaults.
    let spec = c
        .ok(&["get", "deploy", "web", "-n", "pb", "-o", "jsonpath={.spec}"])
        .await;
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["replicas"], 0, "{spec}");
    assert_eq!(spec["selector"]["matchLabels"]["app"], "web");
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.25");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    let data = c
        .ok(&["get", "secret", "s", "-n", "pb", "-o", "jsonpath={.data.k}"])
        .await;
    assert_eq!(data, "dg=="); // base64 of "v"
    let cmd = c
        .ok(&[
            "get",
            "pod",
            "solo",
            "-n",
            "pb",
            "-o",
            "jsonpath={.spec.containers[0].args}",
        ])
        .await;
    assert_eq!(cmd, r#"["sleep","1000"]"#);
    c.ok(&[
        "expose",
        "deployment",
        "web",
        "-n",
        "pb",
        "--port=80",
        "--name=exp",
    ])
    .await;

    // A create of an object that exists fails as against Kubernetes.
    let err = c.fails(&["create", "namespace", "pb"]).await;
    assert!(err.contains(r#"namespaces "pb" already exists"#), "{err}");

    // auth: every authenticated request is allowed until RBAC is enforced.
    assert_eq!(
        c.ok(&["auth", "can-i", "create", "pods"]).await.trim(),
        "yes"
    );
    assert_eq!(
        c.ok(&["auth", "can-i", "delete", "deployments", "-n", "pb"])
            .await
            .trim(),
        "yes"
    );
    let whoami = c
        .ok(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .await;
    assert!(!whoami.is_empty());
    let list = c.ok(&["auth", "can-i", "--list"]).await;
    assert!(list.contains("*.*"), "{list}");
}

const SERVICES: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: web-headless
spec:
  clusterIP: None
  selector: {app: web}
  ports:
  - {name: http, port: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  type: ExternalName
  externalName: example.com
---
apiVersion: v1
kind: Service
metadata:
  name: dns
spec:
  clusterIP: 10.96.0.10
  ports:
  - {name: dns, port: 53, protocol: UDP}
";

/// `kubectl get svc` rows: NAME -> [TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S)].
async fn service_rows(c: &Cluster) -> std::collections::HashMap<String, Vec<String>> {
    let out = c.ok(&["get", "svc", "--no-headers"]).await;
    out.lines()
        .map(|l| {
            let cols: Vec<String> = l.split_whitespace().map(str::to_owned).collect();
            (cols[0].clone(), cols[1..5].to_vec())
        })
        .collect()
}

fn in_service_cidr(ip: &str) -> bool {
    let ip: std::net::Ipv4Addr = ip
        .parse()
        .unwrap_or_else(|_| panic!("{ip} is an IPv4 address"));
    let o = ip.octets();
    o[0] == 10 && (96..112).contains(&o[1]) && ip != std::net::Ipv4Addr::new(10, 96, 0, 0)
}

/// The node port of `80:NNNNN/TCP`.
fn node_port(ports: &str) -> u16 {
    let np = ports
        .strip_prefix("80:")
        .and_then(|p| p.strip_suffix("/TCP"))
        .unwrap_or_else(|| panic!("{ports} shows a node port"));
    np.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_cluster_ips_and_node_ports() {
    let c = Cluster::start().await;
    // The apiserver's own service and endpoints exist from the start.
    let rows = service_rows(&c).await;
    assert_eq!(
        rows["kubernetes"],
        ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    );
    let port = c.url().rsplit(':').next().unwrap().to_owned();
    let ep = c
        .ok(&[
            "get",
            "endpoints",
            "kubernetes",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}",
        ])
        .await;
    assert_eq!(ep, format!("127.0.0.1:{port}"));
    let target = c
        .ok(&[
            "get",
            "svc",
            "kubernetes",
            "-o",
            "jsonpath={.spec.ports[0].targetPort}",
        ])
        .await;
    assert_eq!(target, port);

    c.apply_stdin(&["apply", "-f", "-"], SERVICES).await;
    let rows = service_rows(&c).await;
    let web = &rows["web"];
    assert_eq!(web[0], "ClusterIP");
    assert!(in_service_cidr(&web[1]), "{web:?}");
    assert_eq!(web[3], "80/TCP");
    let np = &rows["web-np"];
    assert_eq!(np[0], "NodePort");
    assert!(in_service_cidr(&np[1]), "{np:?}");
    assert!((30000..=32767).contains(&node_port(&np[3])), "{np:?}");
    assert_eq!(rows["web-headless"][..2], ["ClusterIP", "None"]);
    assert_eq!(
        rows["ext"],
        ["ExternalName", "<none>", "example.com", "<none>"]
    );
    assert_eq!(rows["dns"][1], "10.96.0.10");
    let ips: std::collections::HashSet<&String> = rows.values().map(|r| &r[1]).collect();
    assert_eq!(ips.len(), rows.len(), "addresses repeat: {rows:?}");
    let yaml = c.ok(&["get", "svc", "web-np", "-o", "yaml"]).await;
    for field in [
        "ipFamilyPolicy: SingleStack",
        "- IPv4",
        "internalTrafficPolicy: Cluster",
        "externalTrafficPolicy: Cluster",
    ] {
        assert!(yaml.contains(field), "{field} missing:\n{yaml}");
    }
    // Applying the same manifests again changes nothing.
    let out = c.apply_stdin(&["apply", "-f", "-"], SERVICES).await;
    assert!(out.contains("service/web-np unchanged"), "{out}");
    assert_eq!(service_rows(&c).await, rows);

    // Addresses and ports asked for must be free and in range.
    let err = c
        .fails(&[
            "create",
            "service",
            "clusterip",
            "clash",
            "--clusterip=10.96.0.10",
            "--tcp=80:80",
        ])
        .await;
    assert!(
        err.contains("Service \"clash\" is invalid: spec.clusterIPs: Invalid value: [\"10.96.0.10\"]: failed to allocate IP 10.96.0.10: provided IP is already allocated"),
        "{err}"
    );
    let err = c
        .fails(&[
            "create",
            "service",
            "clusterip",
            "far",
            "--clusterip=192.168.0.1",
            "--tcp=80:80",
        ])
        .await;
    assert!(
        err.contains("the provided IP (192.168.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"),
        "{err}"
    );
    let taken = node_port(&rows["web-np"][3]).to_string();
    let err = c
        .fails(&[
            "create",
            "service",
            "nodeport",
            "np2",
            "--tcp=80:80",
            &format!("--node-port={taken}"),
        ])
        .await;
    assert!(
        err.contains(&format!(
            "spec.ports[0].nodePort: Invalid value: {taken}: provided port is already allocated"
        )),
        "{err}"
    );
    // Dry run shows an address and keeps nothing.
    let dry = c
        .ok(&[
            "create",
            "service",
            "clusterip",
            "dry",
            "--tcp=80:80",
            "--dry-run=server",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .await;
    assert!(in_service_cidr(&dry), "{dry}");
    assert!(!c.ok(&["get", "svc"]).await.contains("dry"));

    // A set cluster IP is immutable.
    let err = c
        .fails(&[
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"clusterIP":"10.96.0.11","clusterIPs":["10.96.0.11"]}}"#,
        ])
        .await;
    assert!(err.contains("field is immutable"), "{err}");
    // Types change: NodePort gets node ports, ClusterIP drops them,
    // ExternalName drops the address.
    c.ok(&[
        "patch",
        "svc",
        "web",
        "-p",
        r#"{"spec":{"type":"NodePort"}}"#,
    ])
    .await;
    let now = service_rows(&c).await;
    assert_eq!(now["web"][1], web[1]);
    node_port(&now["web"][3]);
    c.ok(&[
        "patch",
        "svc",
        "web",
        "-p",
        r#"{"spec":{"type":"ClusterIP"}}"#,
    ])
    .await;
    assert_eq!(
        service_rows(&c).await["web"][1..],
        [web[1].clone(), "<none>".into(), "80/TCP".into()]
    );
    c.ok(&[
        "patch",
        "svc",
        "web",
        "-p",
        r#"{"spec":{"type":"ExternalName","externalName":"example.org"}}"#,
    ])
    .await;
    assert_eq!(
        service_rows(&c).await["web"][..3],
        ["ExternalName", "<none>", "example.org"]
    );

    // Deleting frees the address for another service.
    c.ok(&["delete", "svc", "dns"]).await;
    c.ok(&[
        "create",
        "service",
        "clusterip",
        "clash",
        "--clusterip=10.96.0.10",
        "--tcp=80:80",
    ])
    .await;
    assert_eq!(service_rows(&c).await["clash"][1], "10.96.0.10");
}

async fn cluster_ip(c: &Cluster, svc: &str) -> String {
    c.ok(&[
        "-n",
        "keep",
        "get",
        "svc",
        svc,
        "-o",
        "jsonpath={.spec.clusterIP}",
    ])
    .await
}

/// Everything acknowledged before a restart is there after it, and the
/// service allocators pick up the addresses in use from the stored objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_objects_and_allocations() {
    let mut c = Cluster::start().await;
    c.ok(&["create", "namespace", "keep"]).await;
    c.ok(&[
        "-n",
        "keep",
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
    ])
    .await;
    c.ok(&[
        "-n",
        "keep",
        "create",
        "service",
        "clusterip",
        "a",
        "--tcp=80:80",
    ])
    .await;
    let before = cluster_ip(&c, "a").await;
    assert!(before.starts_with("10."), "{before}");
    let rv_before = c
        .ok(&[
            "-n",
            "keep",
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .await;

    c.restart().await;

    assert_eq!(cluster_ip(&c, "a").await, before);
    let rv_after = c
        .ok(&[
            "-n",
            "keep",
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .await;
    assert_eq!(rv_after, rv_before);
    // The address in use is not handed out again.
    let taken = c
        .fails(&[
            "-n",
            "keep",
            "create",
            "service",
            "clusterip",
            "b",
            "--tcp=80:80",
            &format!("--clusterip={before}"),
        ])
        .await;
    assert!(taken.contains("already allocated"), "{taken}");
    c.ok(&[
        "-n",
        "keep",
        "create",
        "service",
        "clusterip",
        "c",
        "--tcp=80:80",
    ])
    .await;
    assert_ne!(cluster_ip(&c, "c").await, before);
}

fn pod_with(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: busybox:1.36\n"
    )
}

/// Priority admission: a pod's priority comes from its PriorityClass (or
/// the global default), never from the pod itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_take_their_priority_from_the_priority_class() {
    let c = Cluster::start().await;
    let classes = c.ok(&["get", "priorityclasses", "-o", "name"]).await;
    assert!(classes.contains("system-node-critical"), "{classes}");
    assert!(classes.contains("system-cluster-critical"), "{classes}");

    // No class and no default: 0 and PreemptLowerPriority.
    c.apply_stdin(&["apply", "-f", "-"], &pod_with("plain", ""))
        .await;
    let got = c
        .ok(&[
            "get",
            "pod",
            "plain",
            "-o",
            "jsonpath={.spec.priority} {.spec.preemptionPolicy}",
        ])
        .await;
    assert_eq!(got, "0 PreemptLowerPriority");

    c.apply_stdin(
        &["apply", "-f", "-"],
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: batch\nvalue: 1000\npreemptionPolicy: Never\n",
    )
    .await;
    c.apply_stdin(
        &["apply", "-f", "-"],
        &pod_with("classy", "  priorityClassName: batch\n"),
    )
    .await;
    let got = c
        .ok(&[
            "get",
            "pod",
            "classy",
            "-o",
            "jsonpath={.spec.priority} {.spec.preemptionPolicy}",
        ])
        .await;
    assert_eq!(got, "1000 Never");

    let missing = c
        .kubectl_in(
            &["apply", "-f", "-"],
            Some(&pod_with("lost", "  priorityClassName: nope\n")),
        )
        .await;
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        err.contains(r#"pods "lost" is forbidden: no PriorityClass with name nope was found"#),
        "{err}"
    );
    let stated = c
        .kubectl_in(
            &["apply", "-f", "-"],
            Some(&pod_with("bold", "  priority: 5\n")),
        )
        .await;
    let err = String::from_utf8_lossy(&stated.stderr);
    assert!(
        err.contains("the integer value of priority (5) must not be provided"),
        "{err}"
    );

    // A global default applies to pods that name no class.
    c.apply_stdin(
        &["apply", "-f", "-"],
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: everyone\nvalue: 7\nglobalDefault: true\n",
    )
    .await;
    c.apply_stdin(&["apply", "-f", "-"], &pod_with("defaulted", ""))
        .await;
    let got = c
        .ok(&[
            "get",
            "pod",
            "defaulted",
            "-o",
            "jsonpath={.spec.priorityClassName} {.spec.priority}",
        ])
        .await;
    assert_eq!(got, "everyone 7");
}

/// A create records its manager as the owner of the fields it set, so a
/// later server-side apply that changes them conflicts, as in Kubernetes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_record_managed_fields() {
    let c = Cluster::start().await;
    c.ok(&["create", "deployment", "web", "--image=nginx:1.25"])
        .await;
    let managers = c
        .ok(&[
            "get",
            "deploy",
            "web",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager} {.metadata.managedFields[*].operation}",
        ])
        .await;
    assert_eq!(managers, "kubectl-create Update");
    let fields = c
        .ok(&[
            "get",
            "deploy",
            "web",
            "--show-managed-fields",
            "-o",
            "json",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_str(&fields).unwrap();
    let f = &v["metadata"]["managedFields"][0]["fieldsV1"];
    // Defaults belong to the creator too.
    assert!(f["f:spec"]["f:progressDeadlineSeconds"].is_object(), "{f}");
    let containers = &f["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(
        containers[r#"k:{"name":"nginx"}"#]["f:image"].is_object(),
        "{containers}"
    );

    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.26\n";
    let out = c
        .kubectl_in(&["apply", "--server-side", "-f", "-"], Some(manifest))
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(r#"conflict with "kubectl-create""#), "{err}");
}

/// Moving from `kubectl apply` to `kubectl apply --server-side` (and
/// back) needs no force: kubectl may take over what its client-side apply
/// recorded, and the record follows the server-side apply, as in
/// Kubernetes. kubectl then moves the client-side entry's fields by
/// rewriting managedFields, which a write may do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_moves_to_server_side_apply() {
    let c = Cluster::start().await;
    let cm = |v: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\ndata: {{a: \"{v}\"}}\n")
    };
    c.apply_stdin(&["apply", "-f", "-"], &cm("1")).await;
    c.apply_stdin(&["apply", "--server-side", "-f", "-"], &cm("2"))
        .await;
    let managers = c
        .ok(&[
            "get",
            "cm",
            "cm",
            "--show-managed-fields",
            "-o",
            "jsonpath={.data.a} {.metadata.managedFields[*].manager}",
        ])
        .await;
    assert_eq!(managers, "2 kubectl kubectl-last-applied");
    let record = c
        .ok(&["get", "cm", "cm", "-o", r#"jsonpath={.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}"#])
        .await;
    assert!(record.contains(r#""data":{"a":"2"}"#), "{record}");
    c.apply_stdin(&["apply", "-f", "-"], &cm("3")).await;
    assert_eq!(
        c.ok(&["get", "cm", "cm", "-o", "jsonpath={.data.a}"]).await,
        "3"
    );
    // Another manager is not let off a conflict.
    let out = c
        .kubectl_in(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            Some(&cm("4")),
        )
        .await;
    assert!(!out.status.success());
}

/// One object of each kind that Kubernetes components and kubectl users
/// expect besides the workloads: the controllers' older kinds, storage,
/// networking, node and certificates.
const MORE_KINDS: &str = "apiVersion: v1
kind: ReplicationController
metadata: {name: web-rc}
spec:
  template:
    metadata: {labels: {app: web-rc}}
    spec:
      containers: [{name: nginx, image: 'nginx:1.25'}]
---
apiVersion: v1
kind: PodTemplate
metadata: {name: tmpl}
template:
  metadata: {labels: {app: tmpl}}
  spec:
    containers: [{name: c, image: busybox}]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
  annotations: {storageclass.kubernetes.io/is-default-class: 'true'}
provisioner: example.com/disk
allowVolumeExpansion: true
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: disk.example.com}
spec: {attachRequired: false}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: node-1}
spec:
  drivers: [{name: disk.example.com, nodeID: node-1}]
---
apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: cap}
storageClassName: fast
capacity: 10Gi
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va}
spec:
  attacher: disk.example.com
  nodeName: node-1
  source: {persistentVolumeName: pv-1}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec:
  podSelector: {matchLabels: {app: web}}
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: v1, kind: ReplicationController, name: web-rc}
  maxReplicas: 5
---
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: alice}
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIS01ISUNBUUF3RURFT01Bd0dBMVVFQXd3RllXeHBZMlV3V1RBVEJnY3Foa2pPUFFJQkJnZ3Foa2pPUFFNQgpCd05DQUFTZnBNd3N1c0hYQ0RrVlRrQ0RzbzhWcXdnUDhGWnFsRkFVVENBdGVyekFsSkdoQ05BT2NPUDRORlB2CnNLVVhWSlFSU2xTUE9WVDMzL3piUEcyMXlYaUJvQUF3Q2dZSUtvWkl6ajBFQXdJRFNBQXdSUUloQUl6N0dZZzgKVGczc0NRZnU0cDZ5VUZPczBmK3gyWlVrM2gzZFBSSFNFM0NpQWlBVVljbHVOS1pDODNybk9PMkxZTlFaSUVZUQovOU9vdWkrVytKNCszMkUrN0E9PQotLS0tLUVORCBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
  signerName: example.com/signer
  usages: [client auth]
  expirationSeconds: 7200
";

/// The header and the first row of `kubectl get` for `args`, split on
/// runs of two or more spaces (cells may hold one space).
async fn table_of(c: &Cluster, args: &[&str]) -> (Vec<String>, Vec<String>) {
    let out = c.ok(args).await;
    let split = |l: &str| {
        l.split("  ")
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut lines = out.lines();
    let header = split(lines.next().unwrap_or(""));
    let row = split(lines.next().unwrap_or(""));
    (header, row)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_networking_and_other_builtin_kinds() {
    let c = Cluster::start().await;
    let out = c.apply_stdin(&["apply", "-f", "-"], MORE_KINDS).await;
    for created in [
        "replicationcontroller/web-rc created",
        "podtemplate/tmpl created",
        "storageclass.storage.k8s.io/fast created",
        "csidriver.storage.k8s.io/disk.example.com created",
        "csinode.storage.k8s.io/node-1 created",
        "csistoragecapacity.storage.k8s.io/cap created",
        "volumeattachment.storage.k8s.io/va created",
        "ingressclass.networking.k8s.io/nginx created",
        "ingress.networking.k8s.io/web created",
        "networkpolicy.networking.k8s.io/deny created",
        "runtimeclass.node.k8s.io/gvisor created",
        "horizontalpodautoscaler.autoscaling/web created",
        "certificatesigningrequest.certificates.k8s.io/alice created",
    ] {
        assert!(out.contains(created), "{created} missing:\n{out}");
    }

    // Discovery lists them as Kubernetes does.
    let resources = c.ok(&["api-resources"]).await;
    for expected in [
        [
            "replicationcontrollers",
            "rc",
            "v1",
            "true",
            "ReplicationController",
        ],
        [
            "storageclasses",
            "sc",
            "storage.k8s.io/v1",
            "false",
            "StorageClass",
        ],
        [
            "ingresses",
            "ing",
            "networking.k8s.io/v1",
            "true",
            "Ingress",
        ],
        [
            "networkpolicies",
            "netpol",
            "networking.k8s.io/v1",
            "true",
            "NetworkPolicy",
        ],
        [
            "horizontalpodautoscalers",
            "hpa",
            "autoscaling/v2",
            "true",
            "HorizontalPodAutoscaler",
        ],
        [
            "certificatesigningrequests",
            "csr",
            "certificates.k8s.io/v1",
            "false",
            "CertificateSigningRequest",
        ],
    ] {
        assert!(
            resources
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == expected),
            "{expected:?} missing:\n{resources}"
        );
    }
    let legacy = c
        .ok(&["get", "--raw", "/apis/certificates.k8s.io/v1"])
        .await;
    assert!(
        legacy.contains(r#""name":"certificatesigningrequests/approval""#),
        "{legacy}"
    );
    let groups = c.ok(&["get", "--raw", "/apis"]).await;
    for group in [
        "storage.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "autoscaling",
    ] {
        assert!(groups.contains(&format!(r#""name":"{group}""#)), "{groups}");
    }
    let explained = c.ok(&["explain", "storageclass.provisioner"]).await;
    assert!(explained.contains("provisioner"), "{explained}");

    // Defaults, shortnames and the printers' columns.
    let (header, row) = table_of(&c, &["get", "sc"]).await;
    assert_eq!(
        header,
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    assert_eq!(
        row[..5],
        [
            "fast (default)",
            "example.com/disk",
            "Delete",
            "Immediate",
            "true"
        ]
    );
    let (header, row) = table_of(&c, &["get", "rc", "-o", "wide"]).await;
    assert_eq!(
        header,
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert_eq!(row[..4], ["web-rc", "1", "0", "0"]);
    assert_eq!(row[5..], ["nginx", "nginx:1.25", "app=web-rc"]);
    let (header, row) = table_of(&c, &["get", "ing"]).await;
    assert_eq!(
        header,
        ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    );
    assert_eq!(row[..4], ["web", "nginx", "web.example.com", "80"]);
    let (header, row) = table_of(&c, &["get", "hpa"]).await;
    assert_eq!(
        header,
        [
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE"
        ]
    );
    assert_eq!(
        row[..6],
        [
            "web",
            "ReplicationController/web-rc",
            "cpu: <unknown>/80%",
            "1",
            "5",
            "0"
        ]
    );
    let (header, row) = table_of(&c, &["get", "netpol"]).await;
    assert_eq!(header, ["NAME", "POD-SELECTOR", "AGE"]);
    assert_eq!(row[..2], ["deny", "app=web"]);
    let (header, row) = table_of(&c, &["get", "runtimeclass"]).await;
    assert_eq!(header, ["NAME", "HANDLER", "AGE"]);
    assert_eq!(row[..2], ["gvisor", "runsc"]);
    let (header, row) = table_of(&c, &["get", "csinodes"]).await;
    assert_eq!(header, ["NAME", "DRIVERS", "AGE"]);
    assert_eq!(row[..2], ["node-1", "1"]);
    let (header, row) = table_of(&c, &["get", "ingressclass"]).await;
    assert_eq!(header, ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]);
    assert_eq!(row[..3], ["nginx", "k8s.io/ingress-nginx", "<none>"]);

    // The scale subresource of ReplicationControllers, and the approval
    // subresource of CertificateSigningRequests.
    let out = c.ok(&["scale", "rc", "web-rc", "--replicas=3"]).await;
    assert_eq!(out.trim(), "replicationcontroller/web-rc scaled");
    assert_eq!(
        c.ok(&["get", "rc", "web-rc", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "3"
    );
    let (header, row) = table_of(&c, &["get", "csr"]).await;
    assert_eq!(
        header,
        [
            "NAME",
            "AGE",
            "SIGNERNAME",
            "REQUESTOR",
            "REQUESTEDDURATION",
            "CONDITION"
        ]
    );
    assert_eq!(row[0], "alice");
    assert_eq!(row[row.len() - 1], "Pending");
    // The requestor is whoever created it: the admin's certificate names it.
    let me = c
        .ok(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .await;
    assert_eq!(row[3], me);
    let selected = c
        .ok(&[
            "get",
            "csr",
            "--field-selector",
            "spec.signerName=example.com/signer",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(
        selected.trim(),
        "certificatesigningrequest.certificates.k8s.io/alice"
    );
    let out = c.ok(&["certificate", "approve", "alice"]).await;
    assert!(out.contains("approved"), "{out}");
    let (_, row) = table_of(&c, &["get", "csr", "alice"]).await;
    assert_eq!(row[row.len() - 1], "Approved");

    // Ingress paths need a pathType in networking.k8s.io/v1.
    let bad = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad}\nspec:\n  rules:\n  - http:\n      paths:\n      - {path: /, backend: {service: {name: web, port: {number: 80}}}}\n";
    let out = c.kubectl_in(&["apply", "-f", "-"], Some(bad)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.rules[0].http.paths[0].pathType: Required value"),
        "{err}"
    );
}

/// `kubectl create token` issues a service account token, and the token
/// authenticates as that account until the account is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_tokens_authenticate() {
    let c = Cluster::start().await;
    c.ok(&["create", "serviceaccount", "robot"]).await;
    let token = c.ok(&["create", "token", "robot"]).await.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let config = |token: &str| {
        // Named by the token's last characters (its signature): one file each.
        let tail = &token[token.len().saturating_sub(12)..];
        let path = c.dir.path().join(format!("token-{tail}.yaml"));
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: t\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context: {{cluster: c, user: t}}\ncurrent-context: c\n",
            c.url(),
            c.dir.path().join("pki/ca.crt").display()
        );
        std::fs::write(&path, yaml).unwrap();
        format!("--kubeconfig={}", path.display())
    };
    let good = config(&token);
    let who = c
        .ok(&[
            &good,
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .await;
    assert_eq!(who, "system:serviceaccount:default:robot");
    c.ok(&[&good, "get", "pods"]).await;
    // A TokenReview answers for the token, as webhooks and components ask.
    let review = format!(
        "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: {token}\n"
    );
    let out = c
        .kubectl_in(
            &[
                "create",
                "--validate=false",
                "-f",
                "-",
                "-o",
                "jsonpath={.status.authenticated} {.status.user.username}",
            ],
            Some(&review),
        )
        .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "true system:serviceaccount:default:robot",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = config("not-a-token");
    let err = c.fails(&[&bad, "get", "pods"]).await;
    assert!(err.contains("Unauthorized"), "{err}");

    let err = c.fails(&["create", "token", "nobody"]).await;
    assert!(
        err.contains(r#"serviceaccounts "nobody" not found"#),
        "{err}"
    );
    let err = c
        .fails(&["create", "token", "robot", "--duration=1m"])
        .await;
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );

    // A token bound to a pod names it and lives as long as the pod.
    let err = c
        .fails(&[
            "create",
            "token",
            "robot",
            "--bound-object-kind=Pod",
            "--bound-object-name=nosuch",
        ])
        .await;
    assert!(
        err.contains(r#"failed to create token: pods "nosuch" not found"#),
        "{err}"
    );
    c.ok(&[
        "run",
        "p",
        "--image=busybox",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"robot"}}"#,
    ])
    .await;
    let bound = c
        .ok(&[
            "create",
            "token",
            "robot",
            "--bound-object-kind=Pod",
            "--bound-object-name=p",
        ])
        .await
        .trim()
        .to_owned();
    let bound_config = config(&bound);
    c.ok(&[&bound_config, "get", "pods"]).await;
    c.ok(&["delete", "pod", "p", "--grace-period=0", "--force"])
        .await;
    let mut gone = false;
    for _ in 0..50 {
        if !c
            .kubectl(&[&bound_config, "get", "pods"])
            .await
            .status
            .success()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "a token bound to a deleted pod still works");

    // A deleted account's tokens stop working.
    c.ok(&["delete", "serviceaccount", "robot"]).await;
    let mut refused = false;
    for _ in 0..50 {
        if !c.kubectl(&[&good, "get", "pods"]).await.status.success() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "the token of a deleted account still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_exec_and_attach_are_checked_as_kubernetes_does() {
    let c = Cluster::start().await;
    c.apply_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: waiting\nspec:\n  containers:\n  - {name: app, image: busybox}\n  - {name: side, image: busybox}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: placed\nspec:\n  nodeName: n1\n  containers:\n  - {name: app, image: busybox}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: lost\nspec:\n  nodeName: ghost\n  containers:\n  - {name: app, image: busybox}\n",
    )
    .await;
    // No node runs the pod yet: its logs are empty, its streams refused.
    assert_eq!(c.ok(&["logs", "waiting", "-c", "side"]).await, "");
    let err = c.fails(&["exec", "waiting", "-c", "app", "--", "ls"]).await;
    assert!(
        err.contains("Error from server (BadRequest): pod waiting does not have a host assigned"),
        "{err}"
    );
    let raw = "/api/v1/namespaces/default/pods/waiting/log";
    let err = c.fails(&["get", "--raw", raw]).await;
    assert!(
        err.contains(
            "a container name must be specified for pod waiting, choose one of: [app side]"
        ),
        "{err}"
    );
    let err = c
        .fails(&["get", "--raw", &format!("{raw}?container=app&tailLines=-2")])
        .await;
    assert!(
        err.contains("PodLogOptions \"waiting\" is invalid: tailLines: Invalid value: -2"),
        "{err}"
    );
    // A pod on a node that does not exist, and on one whose kubelet
    // cuttle cannot reach yet.
    let err = c.fails(&["logs", "lost"]).await;
    assert!(err.contains("nodes \"ghost\" not found"), "{err}");
    let err = c.fails(&["logs", "placed"]).await;
    assert!(
        err.contains("ServiceUnavailable") && err.contains("kubelet of node \"n1\""),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_cidrs_ip_addresses_and_admission_kinds() {
    let c = Cluster::start().await;
    // The default ServiceCIDR exists, Ready, as kube-apiserver makes it.
    let out = c.ok(&["get", "servicecidr"]).await;
    assert!(
        out.contains("kubernetes") && out.contains("10.96.0.0/12"),
        "{out}"
    );
    let ready = c
        .ok(&[
            "get",
            "servicecidr",
            "kubernetes",
            "-o",
            "jsonpath={.status.conditions[0].status}",
        ])
        .await;
    assert_eq!(ready, "True");

    let bad_cidr = "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata:\n  name: bad\nspec:\n  cidrs: [\"10.100.0.1/24\"]\n";
    let out = c.kubectl_in(&["create", "-f", "-"], Some(bad_cidr)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.cidrs[0]: Invalid value: \"10.100.0.1/24\": must not have bits set beyond the prefix length"),
        "{err}"
    );
    let ip = "apiVersion: networking.k8s.io/v1\nkind: IPAddress\nmetadata:\n  name: 10.96.0.20\nspec:\n  parentRef: {group: \"\", resource: services, namespace: default, name: web}\n";
    c.apply_stdin(&["create", "-f", "-"], ip).await;
    let out = c.ok(&["get", "ip"]).await;
    assert!(
        out.contains("PARENTREF") && out.contains("services/default/web"),
        "{out}"
    );

    // Admission objects are stored, with a warning that nothing calls them.
    let webhook = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: vw\nwebhooks:\n- name: v.example.com\n  clientConfig: {url: \"https://example.com/v\"}\n  sideEffects: None\n  admissionReviewVersions: [v1]\n";
    let out = c.kubectl_in(&["apply", "-f", "-"], Some(webhook)).await;
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Warning: cuttle stores admission webhooks"),
        "{err}"
    );
    let out = c.ok(&["get", "validatingwebhookconfigurations"]).await;
    assert!(out.contains("WEBHOOKS") && out.contains("vw"), "{out}");
    let policy = c
        .ok(&[
            "get",
            "validatingwebhookconfiguration",
            "vw",
            "-o",
            "jsonpath={.webhooks[0].failurePolicy}",
        ])
        .await;
    assert_eq!(policy, "Fail");
    let no_side_effects = webhook.replace("  sideEffects: None\n", "");
    let out = c
        .kubectl_in(
            &["create", "-f", "-"],
            Some(&no_side_effects.replace("name: vw", "name: vw2")),
        )
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"
        ),
        "{err}"
    );
}

/// Secrets as Kubernetes decodes them: `stringData` merged into `data`,
/// `data` that must be base64, the keys their type needs, an immutable
/// type; and what `immutable: true` freezes in ConfigMaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_immutable_config_as_kubernetes_decodes_them() {
    let c = Cluster::start().await;
    c.apply_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\nstringData: {user: admin}\ndata: {user: b2xk, other: eHl6}\n",
    )
    .await;
    let data = c
        .ok(&[
            "get",
            "secret",
            "s1",
            "-o",
            "jsonpath={.data}|{.stringData}",
        ])
        .await;
    assert_eq!(data, r#"{"other":"eHl6","user":"YWRtaW4="}|"#);
    c.ok(&[
        "patch",
        "secret",
        "s1",
        "-p",
        r#"{"stringData":{"new":"v"}}"#,
    ])
    .await;
    assert_eq!(
        c.ok(&["get", "secret", "s1", "-o", "jsonpath={.data.new}"])
            .await,
        "dg=="
    );
    refused(
        &c,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\ndata: {a: \"!!!notb64\"}\n",
        &[
            "Error from server (BadRequest)",
            "illegal base64 data at input byte 0",
        ],
    )
    .await;
    refused(
        &c,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s3}\ntype: kubernetes.io/tls\ndata: {a: eHl6}\n",
        &["data[tls.crt]: Required value", "data[tls.key]: Required value"],
    )
    .await;
    let err = c
        .fails(&["patch", "secret", "s1", "-p", r#"{"type":"foo"}"#])
        .await;
    assert!(
        err.contains("type: Invalid value: \"foo\": field is immutable"),
        "{err}"
    );

    c.ok(&["create", "configmap", "frozen", "--from-literal=a=1"])
        .await;
    c.ok(&[
        "patch",
        "configmap",
        "frozen",
        "-p",
        r#"{"immutable":true}"#,
    ])
    .await;
    let err = c
        .fails(&[
            "patch",
            "configmap",
            "frozen",
            "-p",
            r#"{"data":{"a":"2"}}"#,
        ])
        .await;
    assert!(
        err.contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{err}"
    );
    let err = c
        .fails(&[
            "patch",
            "configmap",
            "frozen",
            "-p",
            r#"{"immutable":false}"#,
        ])
        .await;
    assert!(err.contains("immutable: Forbidden"), "{err}");
}

/// Writes Kubernetes refuses whatever their body says: a server dry run
/// of an object that exists, a patch that renames its object; and the
/// group-qualified kind of an invalid object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_patches_and_invalid_kinds_as_kubernetes_answers_them() {
    let c = Cluster::start().await;
    c.ok(&["create", "configmap", "cm1", "--from-literal=a=1"])
        .await;
    let err = c
        .fails(&[
            "create",
            "configmap",
            "cm1",
            "--from-literal=a=1",
            "--dry-run=server",
        ])
        .await;
    assert!(err.contains(r#"configmaps "cm1" already exists"#), "{err}");
    let err = c
        .fails(&[
            "patch",
            "configmap",
            "cm1",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"name":"other"}}"#,
        ])
        .await;
    assert!(
        err.contains("the name of the object (other) does not match the name on the URL (cm1)"),
        "{err}"
    );
    let err = c
        .fails(&["create", "deployment", "UPPER", "--image=nginx"])
        .await;
    assert!(
        err.contains(r#"Deployment.apps "UPPER" is invalid"#),
        "{err}"
    );
}

/// Metadata and bodies checked as Kubernetes decodes and validates them:
/// label and annotation keys and values, values of the wrong JSON type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_annotations_and_json_types_are_checked() {
    let c = Cluster::start().await;
    c.ok(&["run", "p1", "--image=busybox"]).await;
    let err = c.fails(&["label", "pod", "p1", "bad key=1"]).await;
    assert!(
        err.contains(r#"metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters"#),
        "{err}"
    );
    let err = c.fails(&["label", "pod", "p1", "a/b/c=1"]).await;
    assert!(err.contains("a qualified name must consist"), "{err}");
    let err = c.fails(&["annotate", "pod", "p1", "Bad Key=1"]).await;
    assert!(err.contains("metadata.annotations: Invalid value"), "{err}");
    c.ok(&["label", "pod", "p1", "example.com/fine=yes"]).await;

    refused(
        &c,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: num}\ndata: {a: 1}\n",
        &["Error from server (BadRequest)", "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string"],
    )
    .await;
    refused(
        &c,
        &["create", "-f", "-"],
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: \"three\"\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}\n",
        &["cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"],
    )
    .await;
    c.ok(&["create", "configmap", "ok", "--from-literal=a=1"])
        .await;
    let err = c
        .fails(&["patch", "configmap", "ok", "-p", r#"{"data":{"a":2}}"#])
        .await;
    assert!(err.contains("cannot unmarshal number"), "{err}");
}

/// Pod specs defaulted and checked as Kubernetes does it: quantities
/// stored canonical and requests taken from limits, probe defaults, and
/// each bad port, mount, toleration, template restart policy, schedule and
/// priority refused with Kubernetes' words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_specs_workloads_and_classes_are_defaulted_and_checked() {
    let c = Cluster::start().await;
    c.apply_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources: {limits: {cpu: 0.5, memory: 1024Mi}}\n    livenessProbe: {httpGet: {port: 80}}\n",
    )
    .await;
    let resources = c
        .ok(&[
            "get",
            "pod",
            "q",
            "-o",
            "jsonpath={.spec.containers[0].resources}",
        ])
        .await;
    assert_eq!(
        resources,
        r#"{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":"500m","memory":"1Gi"}}"#
    );
    let qos = c
        .ok(&[
            "get",
            "pod",
            "q",
            "-o",
            "jsonpath={.status.qosClass} {.spec.containers[0].livenessProbe.periodSeconds}",
        ])
        .await;
    assert_eq!(qos, "Guaranteed 10");
    refused(
        &c,
        &["create", "-f", "-", "--validate=false"],
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"abc"}}}]}}"#,
        &["Error from server (BadRequest)", "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression"],
    )
    .await;
    refused(
        &c,
        &["create", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"},"spec":{"containers":[{"name":"c","image":"busybox","volumeMounts":[{"name":"x","mountPath":"/x"}],"ports":[{"containerPort":0}],"resources":{"requests":{"cpu":"2"},"limits":{"cpu":"1"}}}],"tolerations":[{"key":"a","operator":"Exists","value":"v"}]}}"#,
        &[
            "The Pod \"b\" is invalid",
            "spec.containers[0].ports[0].containerPort: Required value",
            "spec.containers[0].volumeMounts[0].name: Not found: \"x\"",
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
        ],
    )
    .await;
    refused(
        &c,
        &["create", "-f", "-"],
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: busybox}]\n",
        &["The Job \"j\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""],
    )
    .await;
    let err = c
        .fails(&[
            "create",
            "cronjob",
            "cj",
            "--image=busybox",
            "--schedule=not a cron",
        ])
        .await;
    assert!(
        err.contains(r#"spec.schedule: Invalid value: "not a cron": expected exactly 5 fields, found 3: [not a cron]"#),
        "{err}"
    );
    c.ok(&[
        "create",
        "cronjob",
        "cj",
        "--image=busybox",
        "--schedule=*/5 * * * *",
    ])
    .await;
    let err = c
        .fails(&["create", "priorityclass", "huge", "--value=2000000000"])
        .await;
    assert!(
        err.contains(
            "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
        ),
        "{err}"
    );
    c.ok(&[
        "create",
        "priorityclass",
        "d1",
        "--value=10",
        "--global-default",
    ])
    .await;
    let err = c
        .fails(&[
            "create",
            "priorityclass",
            "d2",
            "--value=11",
            "--global-default",
        ])
        .await;
    assert!(
        err.contains(r#"priorityclasses.scheduling.k8s.io "d2" is forbidden: PriorityClass d1 is already marked as default. Only one default can exist"#),
        "{err}"
    );
    c.ok(&[
        "create",
        "clusterrolebinding",
        "b",
        "--clusterrole=view",
        "--user=alice",
    ])
    .await;
    let err = c
        .fails(&[
            "patch",
            "clusterrolebinding",
            "b",
            "-p",
            r#"{"roleRef":{"name":"edit"}}"#,
        ])
        .await;
    assert!(
        err.contains("roleRef: Invalid value: rbac.RoleRef{"),
        "{err}"
    );
    assert!(err.contains("cannot change roleRef"), "{err}");
}

/// `kubectl debug` adds an ephemeral container through its subresource
/// (which only ever adds), and Services are refused for the ports
/// Kubernetes refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_containers_and_service_ports() {
    let c = Cluster::start().await;
    c.ok(&["run", "p", "--image=busybox"]).await;
    c.ok(&[
        "debug",
        "p",
        "--image=busybox:1.36",
        "--attach=false",
        "-c",
        "dbg",
    ])
    .await;
    let added = c
        .ok(&["get", "pod", "p", "-o", "jsonpath={.spec.ephemeralContainers[0].name} {.spec.ephemeralContainers[0].imagePullPolicy}"])
        .await;
    assert_eq!(added, "dbg IfNotPresent");
    let err = c
        .fails(&[
            "patch",
            "pod",
            "p",
            "--subresource=ephemeralcontainers",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/ephemeralContainers/0"}]"#,
        ])
        .await;
    assert!(
        err.contains(r#"spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be removed"#),
        "{err}"
    );
    let err = c
        .fails(&["create", "service", "clusterip", "s1", "--tcp=0:80"])
        .await;
    assert!(
        err.contains(r#"Service "s1" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"#),
        "{err}"
    );
    refused(
        &c,
        &["create", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s2"},"spec":{"type":"Weird","ports":[{"port":80,"name":"a"},{"port":80,"name":"b"}]}}"#,
        &[
            r#"spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#,
            "spec.ports[1]: Duplicate value: core.ServicePort{",
        ],
    )
    .await;
    let missing = c.kubectl(&["get", "--raw", "/api/v1/nonsense"]).await;
    assert!(!missing.status.success());
}

/// A namespace's LimitRange gives new pods their default requests and
/// limits (and says so in an annotation) and forbids pods beyond its
/// bounds, as Kubernetes' LimitRanger admission plugin does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_ranges_default_and_bound_new_pods() {
    let c = Cluster::start().await;
    c.apply_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: lr}\nspec:\n  limits:\n  - type: Container\n    max: {cpu: \"1\", memory: 1Gi}\n    defaultRequest: {cpu: 100m}\n",
    )
    .await;
    let item = c
        .ok(&[
            "get",
            "limitrange",
            "lr",
            "-o",
            "jsonpath={.spec.limits[0].default} {.spec.limits[0].defaultRequest}",
        ])
        .await;
    assert_eq!(
        item,
        r#"{"cpu":"1","memory":"1Gi"} {"cpu":"100m","memory":"1Gi"}"#
    );
    c.ok(&["run", "p", "--image=busybox"]).await;
    let pod = c
        .ok(&["get", "pod", "p", "-o", r#"jsonpath={.spec.containers[0].resources} {.metadata.annotations.kubernetes\.io/limit-ranger} {.status.qosClass}"#])
        .await;
    assert_eq!(
        pod,
        r#"{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"100m","memory":"1Gi"}} LimitRanger plugin set: cpu, memory request for container p; cpu, memory limit for container p Burstable"#
    );
    let err = c
        .fails(&["run", "big", "--image=busybox", "--overrides", r#"{"spec":{"containers":[{"name":"big","image":"busybox","resources":{"limits":{"cpu":"2"}}}]}}"#])
        .await;
    assert!(
        err.contains(r#"Error from server (Forbidden): pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2"#),
        "{err}"
    );
    let shown = c.ok(&["describe", "limitrange", "lr"]).await;
    assert!(
        shown.contains("Container   cpu       -    1    100m"),
        "{shown}"
    );
}

/// What a second kubectl audit found: sorting by any field (Table rows
/// carry whole objects when asked), events.k8s.io's own field labels, the
/// kinds that carry a generation, the deprecated serviceAccount alias and
/// the empty statuses Kubernetes writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_event_selectors_generations_and_empty_statuses() {
    let c = Cluster::start().await;
    c.ok(&["create", "configmap", "b", "--from-literal=k=2"])
        .await;
    c.ok(&["create", "configmap", "a", "--from-literal=k=1"])
        .await;
    let sorted = c
        .ok(&["get", "cm", "--sort-by=.data.k", "-o", "name"])
        .await;
    let at = |name: &str| sorted.find(name).unwrap_or_else(|| panic!("{sorted}"));
    assert!(at("configmap/a\n") < at("configmap/b\n"), "{sorted}");
    // The table kubectl sorts carries whole objects in its rows.
    let table = c.ok(&["get", "cm", "--sort-by=.data.k"]).await;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.find("\na ").unwrap() < table.find("\nb ").unwrap(),
        "{table}"
    );

    c.ok(&[
        "run",
        "p",
        "--image=busybox",
        "--overrides",
        r#"{"spec":{"serviceAccount":"default"}}"#,
    ])
    .await;
    let pod = c
        .ok(&[
            "get",
            "pod",
            "p",
            "-o",
            "jsonpath={.metadata.generation} {.spec.serviceAccount} {.spec.serviceAccountName}",
        ])
        .await;
    assert_eq!(pod, "1 default default");
    c.apply_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Event\nmetadata: {name: e1}\ninvolvedObject: {kind: Pod, name: p, namespace: default}\nreason: Tested\nmessage: seen\ntype: Normal\n",
    )
    .await;
    let event = c
        .ok(&[
            "get",
            "events.events.k8s.io",
            "--field-selector",
            "regarding.name=p",
            "-o",
            "jsonpath={.items[0].note}",
        ])
        .await;
    assert_eq!(event, "seen");
    let err = c
        .fails(&[
            "get",
            "events.events.k8s.io",
            "--field-selector",
            "involvedObject.name=p",
        ])
        .await;
    assert!(
        err.contains("field label not supported: involvedObject.name"),
        "{err}"
    );

    c.ok(&["create", "deployment", "d", "--image=nginx:1.25"])
        .await;
    let status = c
        .ok(&["get", "deploy", "d", "-o", "jsonpath={.status}"])
        .await;
    assert_eq!(status, "{}");
    c.ok(&["create", "service", "clusterip", "s", "--tcp=80:80"])
        .await;
    let generation = c
        .ok(&["get", "svc", "s", "-o", "jsonpath={.metadata.generation}"])
        .await;
    assert_eq!(generation, "");
}

/// An eviction goes through the one PodDisruptionBudget selecting a
/// running pod: 429 while the budget is unprocessed or allows nothing,
/// else one disruption is taken from it and the pod, marked
/// DisruptionTarget, is deleted gracefully.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evictions_respect_disruption_budgets() {
    let c = Cluster::start().await;
    c.ok(&[
        "run",
        "p",
        "--image=busybox",
        "--labels=app=web",
        "--overrides",
        r#"{"spec":{"nodeName":"n1"}}"#,
    ])
    .await;
    c.ok(&[
        "patch",
        "pod",
        "p",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
    ])
    .await;
    c.ok(&[
        "create",
        "pdb",
        "b",
        "--selector=app=web",
        "--min-available=1",
    ])
    .await;
    let eviction = r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p"}}"#;
    let evict = [
        "create",
        "--raw",
        "/api/v1/namespaces/default/pods/p/eviction",
        "-f",
        "-",
    ];
    let err = c.fails_stdin(&evict, Some(eviction)).await;
    assert!(
        err.contains("Error from server (TooManyRequests): Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    c.ok(&["patch", "pdb", "b", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"observedGeneration":1,"disruptionsAllowed":1,"currentHealthy":2,"desiredHealthy":1,"expectedPods":2}}"#])
        .await;
    c.apply_stdin(&evict, eviction).await;
    let budget = c
        .ok(&[
            "get",
            "pdb",
            "b",
            "-o",
            "jsonpath={.status.disruptionsAllowed} {.status.disruptedPods.p}",
        ])
        .await;
    assert!(budget.starts_with("0 20"), "{budget}");
    let pod = c
        .ok(&["get", "pod", "p", "-o", r#"jsonpath={.status.conditions[?(@.type=="DisruptionTarget")].reason} {.metadata.deletionTimestamp}"#])
        .await;
    assert!(pod.starts_with("EvictionByEvictionAPI 20"), "{pod}");
    // A pod already going ignores its budget.
    c.apply_stdin(&evict, eviction).await;
}

/// The review kinds are in the OpenAPI v3 documents, so kubectl explains them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_kinds_are_explained() {
    let c = Cluster::start().await;
    let out = c.ok(&["explain", "selfsubjectaccessreviews.spec"]).await;
    assert!(out.contains("KIND:       SelfSubjectAccessReview"), "{out}");
    let out = c
        .ok(&[
            "explain",
            "tokenreviews",
            "--api-version=authentication.k8s.io/v1",
        ])
        .await;
    assert!(out.contains("KIND:       TokenReview"), "{out}");
}

/// What `kubectl get` shows of a Job's generated selector, a Scale, a
/// deprecated API, and counts a field selector reads as 0 when unset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_scales_endpoints_and_count_selectors_as_kubernetes_shows_them() {
    let c = Cluster::start().await;
    c.ok(&["create", "job", "j", "--image=busybox"]).await;
    let uid = c
        .ok(&["get", "job", "j", "-o", "jsonpath={.metadata.uid}"])
        .await;
    let selector = c
        .ok(&[
            "get",
            "job",
            "j",
            "-o",
            "jsonpath={.spec.selector.matchLabels}",
        ])
        .await;
    assert_eq!(
        selector,
        format!(r#"{{"batch.kubernetes.io/controller-uid":"{uid}"}}"#)
    );
    let labels = c
        .ok(&[
            "get",
            "job",
            "j",
            "-o",
            "jsonpath={.spec.template.metadata.labels.job-name} {.metadata.labels.controller-uid}",
        ])
        .await;
    assert_eq!(labels, format!("j {uid}"));
    let spec = c
        .ok(&[
            "get",
            "job",
            "j",
            "-o",
            "jsonpath={.spec.completionMode} {.spec.suspend} {.spec.podReplacementPolicy}",
        ])
        .await;
    assert_eq!(spec, "NonIndexed false TerminatingOrFailed");
    let listed = c
        .ok(&[
            "get",
            "jobs",
            "--field-selector",
            "status.successful=0",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(listed.trim(), "job.batch/j");

    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ])
    .await;
    let scale = c.ok(&["get", "deploy", "web", "--subresource=scale"]).await;
    let header: Vec<&str> = scale
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "DESIRED", "AVAILABLE", "AGE"], "{scale}");
    assert!(
        scale
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("web") && l.contains(" 2 ")),
        "{scale}"
    );

    let out = c.kubectl(&["get", "endpoints"]).await;
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs kubectl with `manifest` on stdin, expecting a failure whose
/// stderr says each of `wanted`.
async fn refused(c: &Cluster, args: &[&str], manifest: &str, wanted: &[&str]) {
    let err = c.fails_stdin(args, Some(manifest)).await;
    for w in wanted {
        assert!(err.contains(w), "{w:?} not in {err}");
    }
}
