//! kube-sim: a simulated Kubernetes cluster for tests, benchmarks and the demo.
//!
//! [`store`] keeps objects; [`api`] serves them over HTTPS ([`serve`], [`pki`]) as a
//! kube-apiserver does, with authentication ([`auth`]), RBAC and a record of every request
//! ([`record`]); `controllers` play the deployment, replicaset, endpoints controllers, the
//! scheduler and the kubelet, whose pods are real loopback servers (plain HTTP);
//! [`kubeconfig`] and [`seed`] set it up. [`start`] runs it all in-process, [`run`] is the
//! `kube-sim` binary.

pub mod api;
pub mod auth;
pub mod controllers;
pub mod faults;
pub mod harness;
pub mod kubeconfig;
pub mod pki;
pub mod record;
pub mod resources;
pub mod seed;
pub mod serve;
pub mod store;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use self::auth::{Authenticator, UserInfo};
use self::kubeconfig::Credentials;
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
    /// The CA or serving certificate could not be made, or `--pki-dir` written.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// `--token-file` is unreadable or malformed.
    #[error(transparent)]
    TokenFile(#[from] auth::TokenFileError),
    /// `--faults FILE` is unreadable or holds an invalid rule.
    #[error(transparent)]
    Faults(#[from] faults::FaultError),
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
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The store, for tests that look behind the API.
    pub store: Arc<Store>,
    /// The CA, its serving certificate, and client certificates on demand.
    pub pki: Arc<pki::Pki>,
    /// The authenticators (the admin token, ServiceAccount tokens).
    pub auth: Arc<Authenticator>,
    /// Every request served.
    pub record: Arc<record::Recorder>,
    /// The fault rules (also served at `/_sim/faults`).
    pub faults: Arc<faults::FaultSet>,
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

    /// The admin kubeconfig (token of `kube-sim-admin`, group `system:masters`).
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::render(&self.url, self.pki.ca_pem(), &Credentials::Token(self.auth.admin_token().to_string()))
    }

    /// A client that trusts kube-sim's CA and sends the admin token.
    pub fn http_client(&self) -> reqwest::Client {
        admin_client(self.pki.ca_pem(), self.auth.admin_token())
    }
}

/// A reqwest client trusting `ca_pem` and sending `token` as a bearer token.
pub(crate) fn admin_client(ca_pem: &str, token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(v) = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")) {
        headers.insert(reqwest::header::AUTHORIZATION, v);
    }
    let mut b = reqwest::Client::builder().no_proxy().default_headers(headers);
    if let Ok(ca) = reqwest::Certificate::from_pem(ca_pem.as_bytes()) {
        b = b.add_root_certificate(ca);
    }
    b.build().unwrap_or_default()
}

/// Authentication options.
#[derive(Clone, Debug, Default)]
pub struct AuthOptions {
    /// Static bearer tokens (`--token-file`), beside the admin token kube-sim makes.
    pub static_tokens: HashMap<String, UserInfo>,
    /// Fault rules active from the start (`--faults FILE`).
    pub faults: Vec<faults::Rule>,
    /// Seed of the faults' probability draws (random when None).
    pub fault_seed: Option<u64>,
}

/// Starts kube-sim in-process: built-in objects, then `seed` in order, the controllers, and
/// the API server (HTTPS, admin token only) on `listen`.
///
/// # Errors
/// When a seed object is refused or the address cannot be bound.
pub async fn start(cfg: SimConfig, listen: SocketAddr, seed_objects: Vec<Value>) -> Result<RunningSim, SimError> {
    start_with(cfg, listen, seed_objects, AuthOptions::default()).await
}

/// [`start`] with authentication options.
///
/// # Errors
/// When a seed object is refused, the certificates cannot be made or the address bound.
pub async fn start_with(
    cfg: SimConfig,
    listen: SocketAddr,
    seed_objects: Vec<Value>,
    auth_opts: AuthOptions,
) -> Result<RunningSim, SimError> {
    let store = Arc::new(Store::new());
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let auth = Arc::new(Authenticator::new(auth_opts.static_tokens));
    let faults = Arc::new(faults::FaultSet::new(auth_opts.fault_seed));
    faults.add(auth_opts.faults)?;
    let state = Arc::new(
        api::ApiState::new(store.clone(), cfg.clone(), shutdown_rx.clone(), auth.clone()).with_faults(faults.clone()),
    );
    let record = state.record.clone();
    seed::builtins(&state)?;
    seed::apply(&state, seed_objects)?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|source| SimError::Listen { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| SimError::Listen { addr: listen, source })?;
    let pki = Arc::new(pki::Pki::new(addr.ip())?);
    let tls = Arc::new(pki.server_config()?);
    let controllers = controllers::start(store.clone(), cfg);
    let server = tokio::spawn(serve::serve(listener, tls, api::router(state), shutdown_rx));
    let url = format!("https://{addr}");
    Ok(RunningSim { url, addr, store, pki, auth, record, faults, shutdown, server, controllers })
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
    /// kube-apiserver's static token CSV (`token,user,uid,"group1,group2"`).
    pub token_file: Option<PathBuf>,
    /// Write the CA (`ca.crt`, `ca.key`) here, so a harness can sign client certificates.
    pub pki_dir: Option<PathBuf>,
    /// Fault rules to load at start (YAML or JSON: one rule or a list).
    pub faults: Option<PathBuf>,
    /// Seed of the faults' probability draws.
    pub fault_seed: Option<u64>,
}

/// The `kube-sim` binary: start, write the admin kubeconfig (and the CA into `--pki-dir`), print `kube-sim ready <url>`, and run
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
    let static_tokens = match &opts.token_file {
        Some(p) => auth::read_token_file(p)?,
        None => HashMap::new(),
    };
    let faults = match &opts.faults {
        Some(p) => faults::read_file(p)?,
        None => Vec::new(),
    };
    let sim =
        start_with(opts.cfg, opts.listen, objects, AuthOptions { static_tokens, faults, fault_seed: opts.fault_seed })
            .await?;
    if let Some(dir) = &opts.pki_dir {
        sim.pki.write_dir(dir)?;
    }
    kubeconfig::write(&opts.kubeconfig, &sim.kubeconfig_yaml())
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
