//! kube-sim: a simulated Kubernetes cluster for tests, benchmarks and the demo.
//!
//! [`store`] keeps objects; [`api`] serves them over HTTP as a kube-apiserver does; `controllers`
//! play the deployment, replicaset, endpoints controllers, the scheduler and the kubelet, whose
//! pods are real loopback servers; [`kubeconfig`] and [`seed`] set it up. [`start`] runs it
//! all in-process, [`run`] is the `kube-sim` binary.

pub mod api;
pub mod controllers;
pub mod harness;
pub mod kubeconfig;
pub mod resources;
pub mod seed;
pub mod store;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use self::store::Store;

/// Knobs shared by the API server and the controllers.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Multiplies every simulated delay (back-offs, grace periods, progress deadlines): 1.0 is
    /// Kubernetes' own timing, the default 0.02 turns a 10 s back-off into 200 ms.
    pub time_scale: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig { time_scale: 0.02 }
    }
}

/// How long shutdown waits for open requests before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A failure to start or run kube-sim.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("failed to listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Seeding failed.
    #[error("failed to seed the cluster")]
    Seed(#[from] seed::SeedError),
    /// The kubeconfig could not be written.
    #[error("failed to write kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Signals could not be set up, or stdout is gone.
    #[error("failed to {what}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A kube-sim running in this process.
pub struct RunningSim {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The store, for tests that look behind the API.
    pub store: Arc<Store>,
    shutdown: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    controllers: controllers::Controllers,
}

impl RunningSim {
    /// Stops the controllers, ends open watches and waits (briefly) for the server.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.controllers.shutdown().await;
        if tokio::time::timeout(SHUTDOWN_GRACE, self.server).await.is_err() {
            tracing::warn!("open requests did not finish within {SHUTDOWN_GRACE:?}; dropping them");
        }
    }
}

/// Starts kube-sim in-process: built-in objects, then `seed` in order, the controllers, and
/// the API server on `listen`.
///
/// # Errors
/// When a seed object is refused or the address cannot be bound.
pub async fn start(cfg: SimConfig, listen: SocketAddr, seed_objects: Vec<Value>) -> Result<RunningSim, SimError> {
    let store = Arc::new(Store::new());
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(api::ApiState::new(store.clone(), cfg.clone(), shutdown_rx.clone()));
    seed::builtins(&state)?;
    seed::apply(&state, seed_objects)?;
    let controllers = controllers::start(store.clone(), cfg);
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|source| SimError::Listen { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| SimError::Listen { addr: listen, source })?;
    let mut stop = shutdown_rx;
    let server = tokio::spawn(async move {
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    let url = format!("http://{addr}");
    Ok(RunningSim { url, addr, store, shutdown, server, controllers })
}

/// What the `kube-sim` binary was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where to write the kubeconfig.
    pub kubeconfig: PathBuf,
    /// Listen address (loopback; port 0 picks one).
    pub listen: SocketAddr,
    /// A multi-document YAML file of objects to create.
    pub seed: Option<PathBuf>,
    /// Create the demo objects.
    pub demo: bool,
    /// Simulation knobs.
    pub cfg: SimConfig,
}

/// The `kube-sim` binary: start, write the kubeconfig, print `kube-sim ready <url>`, and run
/// until SIGINT or SIGTERM.
///
/// # Errors
/// Any start-up failure; a clean shutdown is `Ok`.
pub async fn run(opts: RunOptions) -> Result<(), SimError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut objects = if opts.demo { seed::demo_objects() } else { Vec::new() };
    if let Some(path) = &opts.seed {
        objects.extend(seed::read_file(path)?);
    }
    let mut term =
        signal(SignalKind::terminate()).map_err(|source| SimError::Io { what: "install SIGTERM handler", source })?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|source| SimError::Io { what: "install SIGINT handler", source })?;
    let sim = start(opts.cfg, opts.listen, objects).await?;
    kubeconfig::write(&opts.kubeconfig, &sim.url)
        .map_err(|source| SimError::Kubeconfig { path: opts.kubeconfig.display().to_string(), source })?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "kube-sim ready {}", sim.url)
            .and_then(|_| out.flush())
            .map_err(|source| SimError::Io { what: "print the ready line", source })?;
    }
    tracing::info!(url = %sim.url, "kube-sim serving");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    sim.shutdown().await;
    Ok(())
}
