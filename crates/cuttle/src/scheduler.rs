//! `cuttle scheduler`: binds pending pods to nodes, talking to an apiserver
//! through a kubeconfig. Flags follow kube-scheduler's where one exists.

use anyhow::Context;
use clap::Args;
use cuttle_scheduler::runner::leader::{default_identity, Elector};
use cuttle_scheduler::runner::secure_port::{self, Health};
use cuttle_scheduler::runner::{self, RunnerConfig};
use cuttle_scheduler::{KubeSchedulerConfiguration, LeaderElectionConfig};
use std::path::{Path, PathBuf};

/// Flags of `cuttle scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The kubeconfig whose current context names the apiserver.
    #[arg(long, value_name = "FILE")]
    kubeconfig: PathBuf,

    /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1); unknown
    /// fields and plugins are refused. Without it: one `default-scheduler`
    /// profile with Kubernetes' default plugins.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Seed of the tie-breaking randomness (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,

    /// Elect a leader among schedulers sharing the configuration's Lease
    /// (leaderElection.resourceNamespace/resourceName, by default
    /// kube-system/kube-scheduler) before scheduling, as kube-scheduler
    /// does; overrides leaderElection.leaderElect (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    leader_elect: Option<bool>,

    /// The HTTPS port of /healthz, /livez and /readyz (a self-signed
    /// certificate, as kube-scheduler's without one); 0 serves none.
    #[arg(long, default_value_t = secure_port::DEFAULT_SECURE_PORT)]
    secure_port: u16,

    /// The address the secure port listens on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: std::net::IpAddr,
}

/// The configuration in `path`, or the default one.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<KubeSchedulerConfiguration> {
    match path {
        Some(p) => Ok(runner::read_config(p)?),
        None => Ok(KubeSchedulerConfiguration::default()),
    }
}

/// A seed from the clock, when none is given.
pub fn seed(given: Option<u64>) -> u64 {
    given.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    })
}

/// Runs the scheduler until SIGINT or SIGTERM; with leader election, only
/// while it leads (losing the lead is an error, as in kube-scheduler).
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(on) = args.leader_elect {
        config
            .leader_election
            .get_or_insert_with(Default::default)
            .leader_elect = Some(on);
    }
    let election = LeaderElectionConfig::resolve(config.leader_election.as_ref())?;
    let client = runner::client_from_kubeconfig(&args.kubeconfig).await?;
    // Served before the election, as kube-scheduler serves it: a scheduler
    // waiting to lead is alive, and not ready.
    let health = Health::new(election.is_some());
    let _secure_port = match args.secure_port {
        0 => None,
        port => {
            let addr = std::net::SocketAddr::new(args.bind_address, port);
            Some(secure_port::serve(addr, health.clone()).await?)
        }
    };
    let shutdown = crate::signals::shutdown();
    tokio::pin!(shutdown);
    let mut elector = election.map(|le| Elector::new(client.clone(), le, default_identity()));
    if let Some(e) = &mut elector {
        eprintln!("cuttle scheduler {}: waiting to lead", e.identity());
        tokio::select! {
            () = e.acquire() => {}
            r = &mut shutdown => return r,
        }
    }
    let running = runner::start(
        client,
        RunnerConfig {
            config,
            seed: seed(args.seed),
            max_concurrent_binds: 0,
        },
    )
    .context("starting the scheduler")?;
    eprintln!(
        "cuttle scheduler running for {}",
        running.scheduler_names.join(", ")
    );
    let synced = running.on_synced();
    let ready = health.clone();
    tokio::spawn(async move {
        synced.await;
        ready.set_synced();
    });
    let lost = async {
        match &mut elector {
            Some(e) => e.keep().await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        r = &mut shutdown => r,
        () = lost => Err(anyhow::anyhow!("leader election lost")),
    };
    tracing::info!("shutting down");
    health.set_stopping();
    running.stop().await;
    if let (Ok(()), Some(e)) = (&outcome, &mut elector) {
        e.release().await;
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::load_config;

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn unknown_fields_and_plugins_are_clear_errors() {
        let head = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";
        let f = config_file(&format!("{head}percentageOfNodesToScroe: 10\n"));
        let err = format!("{:#}", load_config(Some(f.path())).unwrap_err());
        assert!(err.contains("percentageOfNodesToScroe"), "{err}");
        let f = config_file(&format!(
            "{head}profiles:\n- schedulerName: s\n  plugins:\n    score:\n      enabled: [{{name: NoSuchPlugin}}]\n"
        ));
        let err = format!("{:#}", load_config(Some(f.path())).unwrap_err());
        assert!(err.contains("NoSuchPlugin"), "{err}");
        let f = config_file(&format!("{head}profiles:\n- schedulerName: s\n"));
        assert_eq!(load_config(Some(f.path())).unwrap().profiles.len(), 1);
        assert!(load_config(Some("/nonexistent/cfg.yaml".as_ref())).is_err());
    }
}
