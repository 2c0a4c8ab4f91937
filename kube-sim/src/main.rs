//! kube-sim: the simulated Kubernetes cluster that tests and the demo run against.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use kube_sim::{RunOptions, SimConfig};

/// A simulated Kubernetes API server with controllers and a kubelet whose pods are real
/// loopback servers.
#[derive(Parser, Debug)]
#[command(name = "kube-sim", version)]
struct Args {
    /// Write a kubeconfig for this cluster to FILE.
    #[arg(long, value_name = "FILE")]
    kubeconfig: PathBuf,
    /// Address to listen on (loopback; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Create the objects of a multi-document YAML file at start.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Create the demo service cortex-system/sandfly-mcp-server.
    #[arg(long)]
    demo: bool,
    /// Multiply simulated delays by F (1.0 = Kubernetes' own timing).
    #[arg(long, value_name = "F", default_value_t = SimConfig::default().time_scale)]
    time_scale: f64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kube-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen must be a loopback address: kube-sim has no authentication"
    );
    anyhow::ensure!(args.time_scale > 0.0 && args.time_scale.is_finite(), "--time-scale must be a positive number");
    let opts = RunOptions {
        kubeconfig: args.kubeconfig,
        listen: args.listen,
        seed: args.seed,
        demo: args.demo,
        cfg: SimConfig { time_scale: args.time_scale },
    };
    Ok(kube_sim::run(opts).await?)
}
