//! Waiting for the signals that stop a long-running command.

use anyhow::Context;

/// Returns when SIGINT or SIGTERM arrives.
pub async fn shutdown() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
