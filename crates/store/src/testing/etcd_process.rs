//! A throwaway etcd server for tests and benchmarks: Debian's `etcd` binary
//! on free loopback ports in a temporary directory, stopped (by its PID) and
//! removed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running etcd; dropping it kills the process and removes its data.
pub struct EtcdProcess {
    child: Child,
    client_port: u16,
    _dir: tempfile::TempDir,
}

/// Why an etcd could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EtcdProcessError {
    /// The `etcd` binary is missing (Debian package `etcd-server`).
    #[error("cannot run {binary}: {source} (install Debian's etcd-server)")]
    Spawn {
        binary: String,
        #[source]
        source: std::io::Error,
    },
    /// etcd did not accept connections in time.
    #[error("etcd did not become ready on port {port} within {secs} s")]
    NotReady { port: u16, secs: u64 },
    /// etcd exited while starting (its log holds why), after every retry.
    #[error("etcd exited while starting on port {port} ({attempts} attempts): {log}")]
    Exited {
        port: u16,
        attempts: usize,
        log: String,
    },
    /// Temporary directory or port allocation failed.
    #[error("preparing etcd: {0}")]
    Io(#[from] std::io::Error),
}

impl EtcdProcess {
    /// Starts etcd and waits until it answers. The binary is `$CUTTLE_ETCD`
    /// or `etcd` on the PATH. A start that dies early (a free port taken by
    /// someone else between our check and etcd's bind) is retried on new
    /// ports.
    pub fn start() -> Result<EtcdProcess, EtcdProcessError> {
        const ATTEMPTS: usize = 5;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match Self::start_once() {
                Err(EtcdProcessError::Exited { port, log, .. }) => {
                    last = Some((port, log));
                }
                other => return other,
            }
        }
        let (port, log) = last.unwrap_or_default();
        Err(EtcdProcessError::Exited {
            port,
            attempts: ATTEMPTS,
            log,
        })
    }

    fn start_once() -> Result<EtcdProcess, EtcdProcessError> {
        let binary = std::env::var("CUTTLE_ETCD").unwrap_or_else(|_| "etcd".to_owned());
        let dir = tempfile::Builder::new().prefix("cuttle-etcd-").tempdir()?;
        // Both listeners held at once, so the two ports differ.
        let client_listener = TcpListener::bind("127.0.0.1:0")?;
        let peer_listener = TcpListener::bind("127.0.0.1:0")?;
        let client_port = client_listener.local_addr()?.port();
        let peer_port = peer_listener.local_addr()?.port();
        drop((client_listener, peer_listener));
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log"))?;
        let child = Command::new(&binary)
            .arg("--name=cuttle-test")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=cuttle-test={peer}"))
            // Room for a 1.5 MiB value plus the request around it; the store
            // enforces the value limit itself.
            .arg("--max-request-bytes=2097152")
            .arg("--log-level=error")
            .arg("--logger=zap")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|source| EtcdProcessError::Spawn {
                binary: binary.clone(),
                source,
            })?;
        let mut etcd = EtcdProcess {
            child,
            client_port,
            _dir: dir,
        };
        etcd.wait_ready(Duration::from_secs(20))?;
        Ok(etcd)
    }

    /// Waits for etcd's health endpoint to report healthy.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), EtcdProcessError> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self._dir.path().join("etcd.log")).unwrap_or_default();
                let tail: String = log.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
                return Err(EtcdProcessError::Exited {
                    port: self.client_port,
                    attempts: 1,
                    log: tail,
                });
            }
            if health_ok(self.client_port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(EtcdProcessError::NotReady {
            port: self.client_port,
            secs: timeout.as_secs(),
        })
    }

    /// `host:port` of the client endpoint.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// The endpoint as `cuttle` takes it: `etcd://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("etcd://{}", self.endpoint())
    }

    /// The etcd process's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A plain HTTP/1.0 GET of `/health`, so that no HTTP client is needed.
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /health HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"health\":\"true\"") || body.contains("\"health\": \"true\"")
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
