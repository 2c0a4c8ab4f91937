//! The kube client: kubectl's config lookup with errors that name every place tried, short
//! timeouts, and [`classify`] to tell "cannot reach the API" (exit 5) from other failures.
//!
//! [`build`] assembles the HTTP stack itself instead of kube's default one: TCP_NODELAY on
//! (kube 5.0 leaves it off, so the first request on each TLS connection waits for the server's
//! delayed ACK), and HTTP/2 offered by ALPN, so that concurrent reads share one connection; a
//! server that answers HTTP/1.1 gets a small pool of reused connections. No request is made to
//! check reachability first: the first real read answers that ([`access_error`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::{ClientBuilder, ConfigExt, RustlsTlsError};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tower::ServiceBuilder;

use crate::retry::{Budget, RetryLayer};

/// Connecting to the API server gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// No byte for this long on a connection is a failure, so a hung API server cannot eat the
/// whole deadline. Watches must therefore ask the server to end them sooner
/// ([`WATCH_TIMEOUT_SECS`]); kube's watcher then re-watches without an error.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// `timeoutSeconds` for every watch (`watcher::Config::default().timeout(WATCH_TIMEOUT_SECS)`,
/// `WatchParams::default().timeout(WATCH_TIMEOUT_SECS)`): below [`READ_TIMEOUT`].
pub const WATCH_TIMEOUT_SECS: u32 = 25;
/// Idle HTTP/1.1 connections kept per server (an HTTP/2 server needs one connection).
pub const MAX_IDLE_CONNECTIONS: usize = 4;

/// How to reach the cluster (`--kubeconfig`, `--context`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// An explicit kubeconfig file.
    pub kubeconfig: Option<PathBuf>,
    /// A context in the kubeconfig.
    pub context: Option<String>,
}

/// Why no client could be built. Every variant maps to exit 5.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A kubeconfig file could not be read or parsed.
    #[error("failed to load kubeconfig {}: {reason}", path.display())]
    Kubeconfig {
        /// The file (or `$KUBECONFIG` list).
        path: PathBuf,
        /// kube's reason.
        reason: String,
    },
    /// `--context` names no context in the kubeconfig.
    #[error("failed to find context {context:?} in {source_name} (contexts there: {})", list(known))]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// Where we looked.
        source_name: String,
        /// The contexts that exist.
        known: Vec<String>,
    },
    /// The kubeconfig was read but does not describe a usable cluster.
    #[error("failed to use {source_name}: {reason}")]
    InvalidConfig {
        /// Where it came from.
        source_name: String,
        /// kube's reason.
        reason: String,
    },
    /// Running in a pod, but the service account could not be loaded.
    #[error("failed to load the in-cluster config (KUBERNETES_SERVICE_HOST is set): {0}")]
    InCluster(String),
    /// No configuration anywhere.
    #[error("failed to find a Kubernetes configuration; tried: {}", tried.join("; "))]
    NotFound {
        /// Each place tried, with why it did not work.
        tried: Vec<String>,
    },
    /// The client could not be built from the config (TLS material, proxy...).
    #[error("failed to build a Kubernetes client for {target}: {reason}")]
    Build {
        /// [`describe_target`].
        target: String,
        /// kube's reason.
        reason: String,
    },
    /// The API server did not answer or refused us.
    #[error("failed to {} the Kubernetes API at {target}: {reason}", verb(*failure))]
    Api {
        /// [`describe_target`].
        target: String,
        /// What kind of failure.
        failure: ApiFailure,
        /// The error text.
        reason: String,
    },
}

fn verb(f: ApiFailure) -> &'static str {
    match f {
        ApiFailure::Unreachable => "reach",
        ApiFailure::Unauthorized => "authenticate to",
        ApiFailure::Forbidden => "be authorized by",
        _ => "use",
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "none".to_string() } else { v.join(", ") }
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// kube's config, timeouts set.
    pub config: Config,
    /// The context used, if from a kubeconfig.
    pub context: Option<String>,
    /// `kubeconfig /path`, `$KUBECONFIG`, or `in-cluster config`.
    pub source_name: String,
}

impl Loaded {
    /// Server URL, context and source, for messages.
    pub fn describe(&self) -> String {
        match &self.context {
            Some(c) => format!("{} (context {c}, from {})", self.config.cluster_url, self.source_name),
            None => format!("{} (from {})", self.config.cluster_url, self.source_name),
        }
    }
}

/// The server URL of a config, for messages.
pub fn describe_target(config: &Config) -> String {
    config.cluster_url.to_string()
}

/// Builds a client: `--kubeconfig`, else `$KUBECONFIG` or `~/.kube/config`, with `--context`
/// choosing a context; else in-cluster config. Makes no request.
///
/// # Errors
/// [`ClientError`] naming the file, context or every place tried.
pub async fn connect(opts: &ClientOptions) -> Result<Client, ClientError> {
    Ok(connect_described(opts).await?.0)
}

/// [`connect`], also returning a description of the target for messages.
///
/// # Errors
/// As [`connect`].
pub async fn connect_described(opts: &ClientOptions) -> Result<(Client, String), ClientError> {
    let loaded = load(opts).await?;
    let target = loaded.describe();
    let client =
        build(&loaded.config).map_err(|e| ClientError::Build { target: target.clone(), reason: e.to_string() })?;
    Ok((client, target))
}

/// Builds a client for `config` without making a request: kube's layers (base URI,
/// authentication including exec plugins and token refresh, extra headers), [`crate::retry`]
/// without a deadline,
/// over a connector with TCP_NODELAY on and ALPN offering `h2` then `http/1.1`. A config with a
/// proxy goes through kube's own builder, which knows the proxy protocols.
///
/// # Errors
/// kube's error when the TLS material or the credentials cannot be loaded.
pub fn build(config: &Config) -> Result<Client, kube::Error> {
    build_with(config, Budget::default())
}

/// [`build`], with self-heal's own retries ([`crate::retry`]) bounded by `budget` (a run's
/// deadline) in place of kube's. `config.default_retry = false` turns retries off (probes must
/// see the service's own 503s).
///
/// # Errors
/// As [`build`].
pub fn build_with(config: &Config, budget: Budget) -> Result<Client, kube::Error> {
    if config.proxy_url.is_some() {
        return Client::try_from(config.clone());
    }
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Fails only when another thread installed it meanwhile, which is as good.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let tls = config.rustls_client_config()?;
    let mut https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = name.clone().try_into().map_err(|e| kube::Error::RustlsTls(RustlsTlsError::InvalidServerName(e)))?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let https = https.enable_all_versions().wrap_connector(http);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http_client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
            .build(connector);
    let retry = config.default_retry.then(|| RetryLayer::new(budget));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        // What goes on the wire, when (`RUST_LOG=self_heal::client=debug`; scripts/bench.sh
        // times the first write of a heal from it).
        .map_request(|req: axum::http::Request<kube::client::Body>| {
            tracing::debug!(method = %req.method(), uri = %req.uri(), "request");
            req
        })
        .service(http_client);
    Ok(ClientBuilder::new(service, config.default_namespace.clone()).build())
}

/// Loads the configuration as [`connect`] does, without building a client.
///
/// # Errors
/// As [`connect`].
pub async fn load(opts: &ClientOptions) -> Result<Loaded, ClientError> {
    let mut tried = Vec::new();
    let found: Option<(Kubeconfig, String, PathBuf)> = if let Some(path) = &opts.kubeconfig {
        Some((read_file(path)?, format!("kubeconfig {}", path.display()), path.clone()))
    } else if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()).collect();
        let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
        if existing.is_empty() {
            tried.push(format!("$KUBECONFIG={} (no such file)", value.to_string_lossy()));
            None
        } else {
            let mut merged = Kubeconfig::default();
            for p in &existing {
                let kc = read_file(p)?;
                merged = merged
                    .merge(kc)
                    .map_err(|e| ClientError::Kubeconfig { path: PathBuf::from(&value), reason: e.to_string() })?;
            }
            Some((merged, format!("$KUBECONFIG={}", value.to_string_lossy()), PathBuf::from(&value)))
        }
    } else {
        tried.push("--kubeconfig (not given)".to_string());
        tried.push("$KUBECONFIG (not set)".to_string());
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => {
                let path = Path::new(&home).join(".kube").join("config");
                if path.exists() {
                    Some((read_file(&path)?, format!("kubeconfig {}", path.display()), path))
                } else {
                    tried.push(format!("{} (no such file)", path.display()));
                    None
                }
            }
            None => {
                tried.push("~/.kube/config ($HOME not set)".to_string());
                None
            }
        }
    };

    let mut config;
    let context;
    let source_name;
    if let Some((kc, name, _)) = found {
        if let Some(ctx) = &opts.context
            && !kc.contexts.iter().any(|c| &c.name == ctx)
        {
            return Err(ClientError::UnknownContext {
                context: ctx.clone(),
                source_name: name,
                known: kc.contexts.iter().map(|c| c.name.clone()).collect(),
            });
        }
        context = opts.context.clone().or_else(|| kc.current_context.clone());
        let options = KubeConfigOptions { context: opts.context.clone(), ..Default::default() };
        config = Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| ClientError::InvalidConfig { source_name: name.clone(), reason: e.to_string() })?;
        source_name = name;
    } else {
        if let Some(ctx) = &opts.context {
            return Err(ClientError::UnknownContext {
                context: ctx.clone(),
                source_name: format!("any kubeconfig (none found; tried: {})", tried.join("; ")),
                known: Vec::new(),
            });
        }
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
            tried.push("in-cluster config (KUBERNETES_SERVICE_HOST not set)".to_string());
            return Err(ClientError::NotFound { tried });
        }
        config = Config::incluster().map_err(|e| ClientError::InCluster(e.to_string()))?;
        context = None;
        source_name = "in-cluster config".to_string();
    }
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    Ok(Loaded { config, context, source_name })
}

fn read_file(path: &Path) -> Result<Kubeconfig, ClientError> {
    Kubeconfig::read_from(path).map_err(|e| {
        let reason = match &e {
            kube::config::KubeconfigError::ReadConfig(io, _) => io.to_string(),
            // The parser's message quotes the file: never show it (it may not be a kubeconfig
            // at all, e.g. SELF_HEAL_KUBECONFIG=/etc/passwd in older versions).
            _ => "not a valid kubeconfig".to_string(),
        };
        ClientError::Kubeconfig { path: path.to_path_buf(), reason }
    })
}

/// The exit-5 error for the first read of a run, when it fails for lack of access
/// (unreachable, 401, 403): names the server, the context and the kubeconfig, as a failed
/// connection would. `None` for other failures (e.g. 404), which the caller reports itself.
pub fn access_error(err: &kube::Error, target: &str) -> Option<ClientError> {
    let failure = classify(err);
    failure.is_access().then(|| ClientError::Api { target: target.to_string(), failure, reason: short_reason(err) })
}

/// What kind of API failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFailure {
    /// No connection, TLS failure, or a timeout.
    Unreachable,
    /// 401: credentials missing or rejected.
    Unauthorized,
    /// 403: RBAC forbids it.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: a precondition (resourceVersion) failed or the object exists.
    Conflict,
    /// Anything else.
    Other,
}

impl ApiFailure {
    /// Whether this means "cannot reach or not authorized by the API" (exit 5).
    pub fn is_access(self) -> bool {
        matches!(self, ApiFailure::Unreachable | ApiFailure::Unauthorized | ApiFailure::Forbidden)
    }
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApiFailure::Unreachable => "unreachable",
            ApiFailure::Unauthorized => "unauthorized",
            ApiFailure::Forbidden => "forbidden",
            ApiFailure::NotFound => "not found",
            ApiFailure::Conflict => "conflict",
            ApiFailure::Other => "failed",
        })
    }
}

/// Sorts a kube error into an [`ApiFailure`].
pub fn classify(err: &kube::Error) -> ApiFailure {
    match err {
        kube::Error::Api(status) => match status.code {
            401 => ApiFailure::Unauthorized,
            403 => ApiFailure::Forbidden,
            404 => ApiFailure::NotFound,
            409 => ApiFailure::Conflict,
            _ => ApiFailure::Other,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::RustlsTls(_) => ApiFailure::Unreachable,
        kube::Error::Auth(_) => ApiFailure::Unauthorized,
        _ => ApiFailure::Other,
    }
}

/// The innermost useful text of a kube error (kube's Display repeats its causes).
pub fn short_reason(err: &kube::Error) -> String {
    if let kube::Error::Api(status) = err {
        return format!("{} {}: {}", status.code, status.reason, status.message);
    }
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    // The deepest cause says it plainly ("Connection refused (os error 111)"); the layers
    // above it ("ServiceError: client error (Connect)") only add noise.
    parts.pop().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status { code, ..Default::default() }))
    }

    #[test]
    fn classifies_status_codes() {
        assert_eq!(classify(&api(401)), ApiFailure::Unauthorized);
        assert_eq!(classify(&api(403)), ApiFailure::Forbidden);
        assert_eq!(classify(&api(404)), ApiFailure::NotFound);
        assert_eq!(classify(&api(409)), ApiFailure::Conflict);
        assert_eq!(classify(&api(500)), ApiFailure::Other);
        assert!(ApiFailure::Forbidden.is_access());
        assert!(!ApiFailure::NotFound.is_access());
    }

    #[test]
    fn a_first_read_refused_for_access_is_the_exit_5_error() {
        let target = "https://10.0.0.1:6443/ (context c, from kubeconfig /k)";
        let denied = access_error(&api(403), target).unwrap();
        assert!(matches!(denied, ClientError::Api { failure: ApiFailure::Forbidden, .. }));
        assert!(denied.to_string().starts_with("failed to be authorized by the Kubernetes API at https://10.0.0.1:6443/ (context c, from kubeconfig /k): 403"), "{denied}");
        assert!(access_error(&api(401), target).unwrap().to_string().starts_with("failed to authenticate to"));
        assert!(access_error(&api(404), target).is_none(), "a missing object is not an access failure");
    }

    #[tokio::test]
    async fn the_first_request_is_the_read_itself_no_preflight() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap();
            let body = r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x"}}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).to_string()
        });
        let client = build(&Config::new(format!("http://{addr}").parse().unwrap())).unwrap();
        let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
        api.get("x").await.unwrap();
        let first = server.await.unwrap();
        assert!(first.starts_with("GET /api/v1/namespaces/x "), "the first request is the read itself: {first}");
    }

    #[tokio::test]
    async fn explicit_missing_kubeconfig_is_named() {
        let opts = ClientOptions { kubeconfig: Some("/nonexistent/kc.yaml".into()), context: None };
        let err = load(&opts).await.unwrap_err().to_string();
        assert!(err.contains("/nonexistent/kc.yaml"), "{err}");
    }

    #[tokio::test]
    async fn unknown_context_is_named_with_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\n\
             users:\n- name: u\n  user: {}\ncontexts:\n- name: real\n  context: {cluster: c, user: u}\n\
             current-context: real\n",
        )
        .unwrap();
        let opts = ClientOptions { kubeconfig: Some(path.clone()), context: Some("nope".into()) };
        let err = load(&opts).await.unwrap_err().to_string();
        assert!(err.contains("\"nope\"") && err.contains("real"), "{err}");
        let ok = load(&ClientOptions { kubeconfig: Some(path), context: None }).await.unwrap();
        assert_eq!(ok.context.as_deref(), Some("real"));
        assert!(ok.describe().starts_with("http://127.0.0.1:1/"), "{}", ok.describe());
        assert_eq!(ok.config.connect_timeout, Some(CONNECT_TIMEOUT));
    }
}
