//! `cuttle scheduler`'s secure port, probed with the real kubectl as one
//! probes kube-scheduler's: the binary against an in-process apiserver
//! (free loopback ports, temporary data directory). Waits are bounded and
//! only for correctness.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cuttle_apiserver::{start, ApiServerConfig};

const WAIT: Duration = Duration::from_secs(60);

/// Kills the scheduler when the test ends, passed or not.
struct Scheduler(Child);

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `kubectl get --raw PATH` against the scheduler's port: exit success and
/// output (stdout, or stderr on failure).
fn raw(port: u16, path: &str) -> (bool, String) {
    let out = Command::new("kubectl")
        .args(["--kubeconfig", "/dev/null", "get", "--raw", path])
        .arg(format!("--server=https://127.0.0.1:{port}"))
        // A self-signed certificate; the health paths need no credentials,
        // the token only keeps kubectl from asking for a password.
        .args(["--insecure-skip-tls-verify", "--token", "unused"])
        .output()
        .expect("kubectl runs");
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    (
        out.status.success(),
        String::from_utf8_lossy(&text).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_answer_as_kube_schedulers_do() {
    let dir = tempfile::Builder::new()
        .prefix("cuttle-sched-port-")
        .tempdir()
        .unwrap();
    let api = start(ApiServerConfig::loopback(dir.path().to_owned()))
        .await
        .expect("apiserver starts");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_cuttle"))
        .arg("scheduler")
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .args(["--bind-address", "127.0.0.1", "--leader-elect=false"])
        .arg(format!("--secure-port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cuttle scheduler starts");
    let _scheduler = Scheduler(child);

    let started = Instant::now();
    let ready = loop {
        let (ok, out) = tokio::task::spawn_blocking(move || raw(port, "/readyz?verbose"))
            .await
            .unwrap();
        if ok || started.elapsed() > WAIT {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        ready.trim_end(),
        "[+]shutdown ok\n[+]sched-handler-sync ok\nreadyz check passed"
    );
    let checks = tokio::task::spawn_blocking(move || {
        (
            raw(port, "/healthz?verbose"),
            raw(port, "/livez"),
            raw(port, "/readyz/sched-handler-sync"),
            raw(port, "/metrics"),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        checks.0,
        (true, "[+]ping ok\nhealthz check passed\n".to_string())
    );
    assert_eq!(checks.1, (true, "ok".to_string()));
    assert_eq!(checks.2, (true, "ok".to_string()));
    assert!(!checks.3 .0, "no /metrics yet: {}", checks.3 .1);
    assert!(checks.3 .1.contains("NotFound"), "{}", checks.3 .1);
    api.stop().await;
}
