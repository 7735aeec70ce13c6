//! `cuttle`: one binary for every cuttle component. It only parses flags
//! and hands them to the crates that do the work.

mod apiserver;
mod bench;
mod bench_scheduler;
mod scheduler;
mod server;
mod signals;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: the apiserver allocates many small
/// JSON values per request, and malloc/free were a fifth of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// cuttle: a Kubernetes-compatible container orchestrator in one binary.
#[derive(Debug, Parser)]
#[command(name = "cuttle", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print cuttle's version.
    Version,
    /// Serve the Kubernetes API over the store (embedded, or etcd).
    Apiserver(apiserver::ApiServerArgs),
    /// Bind pending pods to nodes, through an apiserver.
    Scheduler(scheduler::SchedulerArgs),
    /// Run the apiserver and the scheduler in one process.
    Server(server::ServerArgs),
    /// Measure a component under load.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    disable_huge_pages();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain of causes on one line.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("cuttle {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Apiserver(args) => apiserver::run(args).await,
        Command::Scheduler(args) => scheduler::run(args).await,
        Command::Server(args) => server::run(args).await,
        Command::Bench(command) => bench::run(command).await,
    }
}

/// Turns transparent huge pages off for the process. With THP on, the
/// allocator's freed-then-reused memory comes back as 2 MiB pages the
/// kernel must zero on each fault: under create load that was 7% of the
/// CPU, and create p99 at 64 clients was 12% higher and resident memory 5%
/// larger than without (`cuttle bench api`, alternating runs). Databases
/// advise the same for their servers.
fn disable_huge_pages() {
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "cannot turn transparent huge pages off");
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), so that stdout
/// carries only a command's output.
fn init_tracing() {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
