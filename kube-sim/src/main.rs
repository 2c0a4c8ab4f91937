//! kube-sim: the simulated Kubernetes cluster that tests and the demo run against.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use kube_sim::{RunOptions, SimConfig};

/// A simulated Kubernetes API server (HTTPS, tokens, client certificates, RBAC) with
/// controllers and a kubelet whose pods are real loopback servers.
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
    /// Accept the bearer tokens of FILE, kube-apiserver's static token CSV:
    /// `token,user,uid,"group1,group2"` per line.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Write the CA certificate and key (`ca.crt`, `ca.key`) into DIR, to sign client
    /// certificates with (CN = user, O = groups).
    #[arg(long, value_name = "DIR")]
    pki_dir: Option<PathBuf>,
    /// Load fault rules from FILE at start (YAML or JSON: one rule or a list; the shape of
    /// `POST /_sim/faults`).
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
    /// Seed the fault rules' probability draws, to replay a run.
    #[arg(long, value_name = "N")]
    fault_seed: Option<u64>,
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
    anyhow::ensure!(args.listen.ip().is_loopback(), "--listen must be a loopback address: kube-sim is a test bed");
    anyhow::ensure!(args.time_scale > 0.0 && args.time_scale.is_finite(), "--time-scale must be a positive number");
    let opts = RunOptions {
        kubeconfig: args.kubeconfig,
        listen: args.listen,
        seed: args.seed,
        demo: args.demo,
        cfg: SimConfig { time_scale: args.time_scale },
        token_file: args.token_file,
        pki_dir: args.pki_dir,
        faults: args.faults,
        fault_seed: args.fault_seed,
    };
    Ok(kube_sim::run(opts).await?)
}
