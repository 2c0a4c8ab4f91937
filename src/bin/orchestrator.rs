//! orchestrator: the HTTP front that calls MCP servers and spawns `self-heal` on failures.
//!
//! For now it serves only its health endpoints; the task API (DESIGN §2.4) comes with its own
//! issue.

use std::net::SocketAddr;

use anyhow::Context;
use axum::{Router, routing::get};
use clap::Parser;

/// Command line of the orchestrator (DESIGN §2.4).
#[derive(Parser, Debug)]
#[command(version, about = "HTTP front for MCP tool servers that heals them with self-heal")]
struct Args {
    /// Configuration file (YAML).
    #[arg(long, env = "ORCHESTRATOR_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Address to listen on (default 0.0.0.0:$PORT, PORT defaults to 8000).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let args = Args::parse();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8000);
    let listen = args.listen.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], port)));
    if let Some(config) = &args.config {
        tracing::warn!(config = %config.display(), "configuration is not read yet: only health endpoints are served");
    }
    let app = Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(|| async { "ok" }));
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("failed to listen on {listen}"))?;
    tracing::info!(%listen, "orchestrator listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("server failed")
}
