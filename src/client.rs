//! The kube client: kubectl's config lookup with errors that name every place tried, short
//! timeouts, and [`classify`] to tell "cannot reach the API" (exit 5) from other failures.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Connecting to the API server gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// No byte for this long on a connection is a failure, so a hung API server cannot eat the
/// whole deadline. Watches must therefore ask the server to end them sooner
/// ([`WATCH_TIMEOUT_SECS`]); kube's watcher then re-watches without an error.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// `timeoutSeconds` for every watch (`watcher::Config::default().timeout(WATCH_TIMEOUT_SECS)`,
/// `WatchParams::default().timeout(WATCH_TIMEOUT_SECS)`): below [`READ_TIMEOUT`].
pub const WATCH_TIMEOUT_SECS: u32 = 25;

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
    let client = Client::try_from(loaded.config)
        .map_err(|e| ClientError::Build { target: target.clone(), reason: e.to_string() })?;
    Ok((client, target))
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

/// Asks the API server for its version: proves it answers and that we may talk to it.
///
/// # Errors
/// [`ClientError::Api`] with the [`ApiFailure`].
pub async fn check_reachable(client: &Client, target: &str) -> Result<(), ClientError> {
    client.apiserver_version().await.map(|_| ()).map_err(|e| ClientError::Api {
        target: target.to_string(),
        failure: classify(&e),
        reason: short_reason(&e),
    })
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
