//! orchestrator: the HTTP front that calls MCP servers and spawns `self-heal` on failures
//! (DESIGN §2.4). Parses, loads the configuration, serves until SIGTERM or Ctrl-C.

use anyhow::Context;
use clap::Parser;
use self_heal::orchestrator::{self, AppState, Args, config};

/// Every call allocates HTTP messages, JSON values and task frames, freed on other threads:
/// glibc's malloc cost ~18% more CPU per call than mimalloc, musl's (the static build) ~65%
/// more (`make bench`, CPU per call).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    orchestrator::init_logging();
    let args = Args::parse();
    let exe = std::env::current_exe().context("cannot find the orchestrator binary")?;
    let default_worker = exe.with_file_name("self-heal");
    let config = config::load(&args, &|k| std::env::var(k).ok(), &default_worker)?;
    let state = AppState::production(config);
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    orchestrator::run(state, shutdown).await?;
    Ok(())
}
