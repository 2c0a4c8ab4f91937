//! The orchestrator: an HTTP front for MCP tool servers that heals them with the `self-heal`
//! worker and retries. [`config`] (arguments, YAML, env) → [`api`] (routes, auth, errors) →
//! [`task`] (call, heal, retry) using [`mcp`] (the MCP client) and [`supervisor`] (spawns and
//! relays workers, single-flight per service); [`sse`] frames the stream, [`metrics`] counts,
//! [`history`] keeps the heals. [`run`] serves until SIGTERM, then drains and kills workers.
//! [`console`] is the operator page at `/`; [`persist`] keeps the history in a file.

pub mod api;
pub mod config;
pub mod console;
pub mod history;
pub mod mcp;
pub mod metrics;
pub mod persist;
pub mod sse;
pub mod supervisor;
pub mod task;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub use api::app;
pub use config::{Args, Config};

/// Shared state of every request: cheap to clone; the MCP client and the worker runner are
/// trait objects so tests swap fakes.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// MCP calls.
    pub mcp: Arc<dyn mcp::McpClient>,
    /// Heals.
    pub supervisor: Arc<supervisor::Supervisor>,
    /// Heal history.
    pub history: Arc<history::History>,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Task id counter.
    pub task_seq: Arc<AtomicU64>,
}

impl AppState {
    /// State with the given MCP client and worker runner.
    pub fn new(config: Config, mcp: Arc<dyn mcp::McpClient>, runner: Arc<dyn supervisor::WorkerRunner>) -> Self {
        let history = Arc::new(history::History::new(config.history.limit));
        let metrics = Arc::new(metrics::Metrics::new());
        metrics.preset_services(config.servers.iter().map(|s| s.service.as_str()));
        let supervisor = Arc::new(supervisor::Supervisor::new(runner, history.clone(), metrics.clone()));
        AppState { config: Arc::new(config), mcp, supervisor, history, metrics, task_seq: Arc::default() }
    }

    /// State with the real rmcp client and the `self-heal` process runner.
    pub fn production(config: Config) -> Self {
        let runner = Arc::new(supervisor::ProcessRunner::new(config.healing.worker.clone(), config.healing.timeout));
        AppState::new(config, Arc::new(mcp::RmcpClient::new()), runner)
    }
}

/// Errors of [`run`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The listen address could not be bound.
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The heal history file (`history.path`) cannot be read or written.
    #[error(transparent)]
    History(#[from] persist::PersistError),
}

/// Serves `state` on its configured address until `shutdown` resolves; then stops accepting,
/// lets open streams finish for at most the drain timeout, and kills every worker's group.
///
/// # Errors
/// When the address cannot be bound or serving fails.
pub async fn run(
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    // Heals of earlier runs first, then every finished heal appended to the file.
    let history_file = match &state.config.history.path {
        Some(path) => Some(persist::attach(&state.history, path, state.config.history.limit)?),
        None => None,
    };
    let addr = state.config.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| RunError::Listen { addr, source })?;
    let local = listener.local_addr().map_err(RunError::Serve)?;
    // The ready line tests and scripts wait for (the port is chosen by the OS with :0).
    println!("orchestrator listening {local}");
    tracing::info!(%local, config = %state.config.source, healing = state.config.healing.enabled, "orchestrator listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let drain = state.config.drain_timeout;
    let mut graceful = stop_rx.clone();
    // Each SSE frame is its own small write: without TCP_NODELAY, Nagle holds a frame back
    // until the previous one is acknowledged (up to the peer's delayed-ACK timer, 40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY on an accepted connection");
        }
    });
    let server = axum::serve(listener, app(state.clone())).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|s| *s).await;
        tracing::info!("shutting down: no new connections, draining open streams");
    });
    let mut server = std::pin::pin!(server.into_future());
    let mut stopped = stop_rx;
    tokio::select! {
        r = &mut server => {
            state.supervisor.runner().kill_all();
            return r.map_err(RunError::Serve);
        }
        _ = stopped.wait_for(|s| *s) => {}
    }
    // Open streams may finish within the drain timeout; then the workers' groups are killed,
    // which ends their heals (healing_failed, processing_complete) so the streams still close
    // properly, given a short grace.
    let result = match tokio::time::timeout(drain, &mut server).await {
        Ok(r) => r.map_err(RunError::Serve),
        Err(_) => {
            tracing::warn!(drain = %humantime::format_duration(drain), "open streams did not finish within the drain timeout: killing workers");
            state.supervisor.runner().kill_all();
            match tokio::time::timeout(std::time::Duration::from_secs(5), &mut server).await {
                Ok(r) => r.map_err(RunError::Serve),
                Err(_) => Ok(()),
            }
        }
    };
    state.supervisor.runner().kill_all();
    if let Some(writer) = history_file {
        writer.flush().await;
    }
    result
}

/// Logging on stderr: JSON lines when `LOG_FORMAT=json`, else text; `RUST_LOG` filters.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    // rmcp logs transport failures itself; the orchestrator classifies and reports them once.
    let given = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter =
        EnvFilter::try_new(if given.is_empty() { "info" } else { &given }).unwrap_or_else(|_| EnvFilter::new("info"));
    if !given.contains("rmcp") {
        filter = filter.add_directive("rmcp=off".parse().expect("a valid directive"));
    }
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let b = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(ansi).with_env_filter(filter);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}
