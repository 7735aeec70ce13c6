//! `cuttle server`: the apiserver and the scheduler in one process. The
//! scheduler talks to the apiserver like any client, through the admin
//! kubeconfig the apiserver writes into the data directory.

use anyhow::Context;
use clap::Args;
use cuttle_apiserver::{start, ApiServerConfig};
use cuttle_scheduler::runner::{self, RunnerConfig};
use std::net::IpAddr;
use std::path::PathBuf;

/// Flags of `cuttle server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Where the embedded store, the certificates and the admin kubeconfig
    /// (`kubeconfig.yaml`) live.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/cuttle/server")]
    data_dir: PathBuf,

    /// The port to serve HTTPS on (0 picks a free one).
    #[arg(long, value_name = "PORT", default_value_t = 6443)]
    secure_port: u16,

    /// The address to listen on.
    #[arg(long, value_name = "IP", default_value = "0.0.0.0")]
    bind_address: IpAddr,

    /// The scheduler's KubeSchedulerConfiguration (default: one
    /// `default-scheduler` profile).
    #[arg(long, value_name = "FILE")]
    scheduler_config: Option<PathBuf>,
}

/// Runs the apiserver and the scheduler until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    // Refuse a bad scheduler configuration before anything starts.
    let config = crate::scheduler::load_config(args.scheduler_config.as_deref())?;
    let api = start(ApiServerConfig {
        data_dir: args.data_dir.clone(),
        etcd_servers: None,
        bind_address: args.bind_address,
        secure_port: args.secure_port,
        service_network: Default::default(),
    })
    .await
    .with_context(|| {
        format!(
            "starting the apiserver with data directory {}",
            args.data_dir.display()
        )
    })?;
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
