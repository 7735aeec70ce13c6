//! An in-process apiserver on a free loopback port with a temporary data
//! directory, and the real `kubectl` (on the PATH) pointed at it.

#![allow(dead_code)]

use cuttle_apiserver::{start, ApiServerConfig, Running};
use std::path::PathBuf;
use std::process::Output;

pub struct Cluster {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    /// What the apiserver was started with, for [`Cluster::restart`].
    config: ApiServerConfig,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Self::start_on(None).await
    }

    /// An apiserver over the etcd at `etcd` (`etcd://host:port`), or the
    /// embedded store.
    pub async fn start_on(etcd: Option<String>) -> Cluster {
        Self::start_config(|config| ApiServerConfig {
            etcd_servers: etcd,
            ..config
        })
        .await
    }

    /// An apiserver with the loopback configuration as `change` leaves it.
    pub async fn start_config(change: impl FnOnce(ApiServerConfig) -> ApiServerConfig) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("cuttle-api-")
            .tempdir()
            .unwrap();
        let config = change(ApiServerConfig::loopback(dir.path()));
        let running = start(config.clone()).await.expect("apiserver starts");
        let kubeconfig = running.kubeconfig.clone();
        Cluster {
            running: Some(running),
            dir,
            kubeconfig,
            cache: tempfile::tempdir().unwrap(),
            config,
        }
    }

    /// Stops the apiserver and starts a new one with the same configuration
    /// on the same data directory (and a new port), as a process restart
    /// would.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let running = start(self.config.clone())
            .await
            .expect("apiserver restarts");
        self.kubeconfig = running.kubeconfig.clone();
        self.running = Some(running);
    }

    pub fn url(&self) -> String {
        self.running.as_ref().unwrap().url()
    }

    /// Runs kubectl with `args` (and stdin), off the async runtime.
    pub async fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.cache.path())
            .arg(format!(
                "--cache-dir={}",
                self.cache.path().join("kube").display()
            ))
            .args(args)
            .stdin(if stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl on the PATH");
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut s = child.stdin.take().unwrap();
            s.write_all(input.as_bytes()).await.unwrap();
            drop(s);
        }
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("kubectl finished within 60 s")
                .unwrap();
        out
    }

    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_in(args, None).await
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        self.fails_stdin(args, None).await
    }

    /// Runs kubectl with `manifest` on its stdin, expecting it to fail;
    /// returns its stderr.
    pub async fn fails_stdin(&self, args: &[&str], manifest: Option<&str>) -> String {
        let out = self.kubectl_in(args, manifest).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub async fn apply_stdin(&self, args: &[&str], manifest: &str) -> String {
        let out = self.kubectl_in(args, Some(manifest)).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
