//! `cuttle server`: the apiserver and the scheduler in one process. The
//! scheduler talks to the apiserver like any client, through the admin
//! kubeconfig the apiserver writes into the data directory.

use crate::apiserver::ApiServerArgs;
use anyhow::Context;
use clap::Args;
use cuttle_scheduler::runner::{self, RunnerConfig};
use std::path::PathBuf;

/// Flags of `cuttle server`: the apiserver's, and the scheduler's
/// configuration.
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    apiserver: ApiServerArgs,

    /// The scheduler's KubeSchedulerConfiguration (default: one
    /// `default-scheduler` profile).
    #[arg(long, value_name = "FILE")]
    scheduler_config: Option<PathBuf>,
}

/// Runs the apiserver and the scheduler until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    // Refuse a bad scheduler configuration before anything starts.
    let config = crate::scheduler::load_config(args.scheduler_config.as_deref())?;
    let api = crate::apiserver::start_from(&args.apiserver).await?;
    let client = runner::client_from_kubeconfig(&api.kubeconfig).await?;
    let scheduler = runner::start(
        client,
        RunnerConfig {
            config,
            seed: crate::scheduler::seed(None),
            max_concurrent_binds: 0,
        },
    )
    .context("starting the scheduler")?;
    eprintln!(
        "cuttle server: apiserver on {}, scheduler for {}; admin kubeconfig: {}",
        api.url(),
        scheduler.scheduler_names.join(", "),
        api.kubeconfig.display()
    );
    crate::signals::shutdown().await?;
    tracing::info!("shutting down");
    scheduler.stop().await;
    api.stop().await;
    Ok(())
}
