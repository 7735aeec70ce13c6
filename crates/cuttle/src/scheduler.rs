//! `cuttle scheduler`: binds pending pods to nodes, talking to an apiserver
//! through a kubeconfig. Flags follow kube-scheduler's where one exists.

use anyhow::Context;
use clap::Args;
use cuttle_scheduler::runner::{self, RunnerConfig};
use cuttle_scheduler::KubeSchedulerConfiguration;
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

/// Runs the scheduler until SIGINT or SIGTERM.
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let client = runner::client_from_kubeconfig(&args.kubeconfig).await?;
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
    crate::signals::shutdown().await?;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
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
