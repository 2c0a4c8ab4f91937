//! The orchestrator's command line ([`Args`]) and configuration (DESIGN §2.4): YAML, then
//! environment overrides, validated into a [`Config`] whose errors name the file, the key and
//! why.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// Command line of the orchestrator (DESIGN §2.4). Public so man pages and completions can be
/// generated from it (`self_heal::orchestrator::config::Args`).
#[derive(clap::Parser, Debug, Clone, Default)]
#[command(name = "orchestrator", version, about = "HTTP front for MCP tool servers that heals them with self-heal")]
pub struct Args {
    /// Configuration file (YAML, DESIGN §2.4).
    #[arg(long, env = "ORCHESTRATOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default: the config's `listen`, else 0.0.0.0:$PORT, PORT defaults
    /// to 8000).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// A configuration that failed to load: the file, the key and why.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration {file}: {key}: {why}")]
pub struct ConfigError {
    /// The file (or `environment` for an env override).
    pub file: String,
    /// The key (`servers[0].url`, `HEALING_ENABLED`...).
    pub key: String,
    /// Why it is invalid.
    pub why: String,
}

/// How an MCP server is spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// MCP Streamable HTTP (JSON-RPC).
    #[default]
    Mcp,
    /// The old `POST /call-tool {"tool_name","arguments"}`.
    Legacy,
}

/// One MCP server, validated.
#[derive(Clone, Debug)]
pub struct Server {
    /// The name requests use.
    pub name: String,
    /// Its endpoint.
    pub url: Url,
    /// How to speak to it.
    pub transport: Transport,
    /// The Kubernetes Service behind it.
    pub service: String,
    /// The Service's namespace.
    pub namespace: String,
    /// Total deadline of one call.
    pub timeout: Duration,
    /// Tools that may be called twice safely.
    pub idempotent_tools: HashSet<String>,
}

/// A keyword route for free-text queries.
#[derive(Clone, Debug)]
pub struct Route {
    /// Lower-case keywords; any one in the query (as a word) selects the route.
    pub keywords: Vec<String>,
    /// Server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// Arguments (an object).
    pub arguments: Value,
}

/// The `healing` section.
#[derive(Clone, Debug)]
pub struct Healing {
    /// Whether failures spawn the worker (`HEALING_ENABLED`).
    pub enabled: bool,
    /// The worker binary (`SELF_HEAL_WORKER_PATH`).
    pub worker: PathBuf,
    /// After this the worker's whole process group is killed.
    pub timeout: Duration,
    /// Namespace when neither the server nor its URL names one.
    pub namespace: String,
}

/// The `history` section (persistence itself lives with the history's file sink).
#[derive(Clone, Debug)]
pub struct HistoryConfig {
    /// JSON-lines file to keep heals in across restarts.
    pub path: Option<PathBuf>,
    /// How many heals are kept.
    pub limit: usize,
}

/// The whole validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Healing.
    pub healing: Healing,
    /// MCP servers by name, in file order.
    pub servers: Vec<Server>,
    /// Keyword routes, in file order.
    pub routes: Vec<Route>,
    /// Heal history.
    pub history: HistoryConfig,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// How long open streams may run on after SIGTERM.
    pub drain_timeout: Duration,
    /// Bearer token required on every route but /healthz and /readyz.
    pub token: Option<String>,
    /// Where the configuration came from (for messages).
    pub source: String,
}

impl Config {
    /// A server by name.
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The first route one of whose keywords is a word of `query`.
    pub fn route(&self, query: &str) -> Option<&Route> {
        let words: Vec<String> = query
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        self.routes.iter().find(|r| r.keywords.iter().any(|k| words.iter().any(|w| w == k)))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    #[serde(default)]
    healing: RawHealing,
    #[serde(default)]
    servers: Vec<RawServer>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    history: RawHistory,
    body_limit: Option<u64>,
    drain_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealing {
    enabled: Option<bool>,
    worker: Option<PathBuf>,
    timeout: Option<String>,
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: String,
    url: String,
    #[serde(default)]
    transport: Transport,
    service: Option<String>,
    namespace: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    idempotent_tools: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    keywords: Vec<String>,
    server: String,
    tool: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHistory {
    path: Option<PathBuf>,
    limit: Option<usize>,
}

/// Default history bound.
pub const DEFAULT_HISTORY_LIMIT: usize = 1000;
/// Default request body limit (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Loads the configuration: the file named by `args` (if any), then the environment read
/// through `env` (PORT, HEALING_ENABLED, SELF_HEAL_WORKER_PATH, ORCHESTRATOR_TOKEN), then
/// `--listen`. `default_worker` is `self-heal` beside the running binary.
///
/// # Errors
/// A [`ConfigError`] naming the file, the key and why.
pub fn load(args: &Args, env: &dyn Fn(&str) -> Option<String>, default_worker: &Path) -> Result<Config, ConfigError> {
    let (raw, file) = match &args.config {
        Some(path) => {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                file: file.clone(),
                key: "(file)".into(),
                why: format!("cannot read it: {e}"),
            })?;
            let raw: RawConfig = if text.trim().is_empty() {
                RawConfig::default()
            } else {
                serde_yaml_ng::from_str(&text).map_err(|e| {
                    let msg = e.to_string();
                    // serde_yaml_ng prefixes the path: "servers[0]: missing field `url` at line 3".
                    let (key, why) = match msg.split_once(": ") {
                        Some((k, w)) if !k.contains(' ') => (k.to_string(), w.to_string()),
                        _ => ("(document)".to_string(), msg),
                    };
                    ConfigError { file: file.clone(), key, why }
                })?
            };
            (raw, file)
        }
        None => (RawConfig::default(), "(no file)".to_string()),
    };
    validate(raw, &file, args, env, default_worker)
}

fn duration(file: &str, key: &str, text: Option<&str>, default: Duration) -> Result<Duration, ConfigError> {
    match text {
        None => Ok(default),
        Some(t) => match humantime::parse_duration(t.trim()) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(err(file, key, "must be more than zero")),
            Err(e) => Err(err(file, key, &format!("{t:?} is not a duration (e.g. 60s, 2m): {e}"))),
        },
    }
}

fn err(file: &str, key: &str, why: &str) -> ConfigError {
    ConfigError { file: file.into(), key: key.into(), why: why.into() }
}

fn label(file: &str, key: &str, name: &str) -> Result<(), ConfigError> {
    crate::names::validate_label("name", name).map_err(|e| err(file, key, &e.to_string()))
}

fn validate(
    raw: RawConfig,
    file: &str,
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
    default_worker: &Path,
) -> Result<Config, ConfigError> {
    const ENV: &str = "environment";
    let mut listen = match &raw.listen {
        Some(l) => l.parse::<SocketAddr>().map_err(|e| err(file, "listen", &format!("{l:?}: {e}")))?,
        None => SocketAddr::from(([0, 0, 0, 0], 8000)),
    };
    if let Some(port) = env("PORT") {
        let p: u16 = port.trim().parse().map_err(|_| err(ENV, "PORT", &format!("{port:?} is not a port number")))?;
        listen.set_port(p);
    }
    if let Some(l) = args.listen {
        listen = l;
    }
    let mut enabled = raw.healing.enabled.unwrap_or(true);
    if let Some(v) = env("HEALING_ENABLED") {
        enabled = match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(err(ENV, "HEALING_ENABLED", &format!("{v:?} is not true or false"))),
        };
    }
    let worker = env("SELF_HEAL_WORKER_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or(raw.healing.worker)
        .unwrap_or_else(|| default_worker.to_path_buf());
    let timeout = duration(file, "healing.timeout", raw.healing.timeout.as_deref(), Duration::from_secs(120))?;
    let namespace = raw.healing.namespace.unwrap_or_else(|| "cortex-system".into());
    label(file, "healing.namespace", &namespace)?;
    let mut servers: Vec<Server> = Vec::new();
    for (i, s) in raw.servers.into_iter().enumerate() {
        let key = |k: &str| format!("servers[{i}].{k}");
        if s.name.is_empty() || servers.iter().any(|o| o.name == s.name) {
            return Err(err(file, &key("name"), &format!("{:?} is empty or used twice", s.name)));
        }
        let url = Url::parse(&s.url).map_err(|e| err(file, &key("url"), &format!("{:?}: {e}", s.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(err(file, &key("url"), &format!("{:?} is not an http(s) URL with a host", s.url)));
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let labels: Vec<&str> = host.split('.').collect();
        let service = match s.service {
            Some(svc) => svc,
            None if url.host().is_some_and(|h| matches!(h, url::Host::Domain(_))) => labels[0].to_string(),
            None => return Err(err(file, &key("service"), "needed when the URL's host is an IP address")),
        };
        label(file, &key("service"), &service)?;
        let ns = match s.namespace {
            Some(ns) => ns,
            None if labels.len() >= 3 && labels[2] == "svc" => labels[1].to_string(),
            None => namespace.clone(),
        };
        label(file, &key("namespace"), &ns)?;
        let timeout = duration(file, &key("timeout"), s.timeout.as_deref(), Duration::from_secs(60))?;
        servers.push(Server {
            name: s.name,
            url,
            transport: s.transport,
            service,
            namespace: ns,
            timeout,
            idempotent_tools: s.idempotent_tools.into_iter().collect(),
        });
    }
    let mut routes = Vec::new();
    for (i, r) in raw.routes.into_iter().enumerate() {
        let key = |k: &str| format!("routes[{i}].{k}");
        if r.keywords.is_empty() || r.keywords.iter().any(|k| k.trim().is_empty()) {
            return Err(err(file, &key("keywords"), "needs at least one non-empty keyword"));
        }
        if !servers.iter().any(|s| s.name == r.server) {
            return Err(err(file, &key("server"), &format!("{:?} is not one of servers[].name", r.server)));
        }
        if r.tool.is_empty() {
            return Err(err(file, &key("tool"), "is empty"));
        }
        let arguments = r.arguments.unwrap_or_else(|| Value::Object(Default::default()));
        if !arguments.is_object() {
            return Err(err(file, &key("arguments"), "must be a mapping"));
        }
        routes.push(Route {
            keywords: r.keywords.iter().map(|k| k.trim().to_lowercase()).collect(),
            server: r.server,
            tool: r.tool,
            arguments,
        });
    }
    let limit = raw.history.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
    if limit == 0 {
        return Err(err(file, "history.limit", "must be at least 1"));
    }
    let body_limit = match raw.body_limit {
        Some(0) => return Err(err(file, "body_limit", "must be more than zero")),
        Some(n) => usize::try_from(n).map_err(|_| err(file, "body_limit", "too large"))?,
        None => DEFAULT_BODY_LIMIT,
    };
    let drain_timeout = duration(file, "drain_timeout", raw.drain_timeout.as_deref(), Duration::from_secs(30))?;
    let token = env("ORCHESTRATOR_TOKEN").filter(|t| !t.is_empty());
    Ok(Config {
        listen,
        healing: Healing { enabled, worker, timeout, namespace },
        servers,
        routes,
        history: HistoryConfig { path: raw.history.path, limit },
        body_limit,
        drain_timeout,
        token,
        source: file.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_yaml(yaml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orch.yaml");
        std::fs::write(&path, yaml).unwrap();
        let args = Args { config: Some(path), listen: None };
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        load(&args, &|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()), Path::new("/w/self-heal"))
    }

    const SEED: &str = r#"
listen: 0.0.0.0:8000
healing:
  enabled: true
  timeout: 120s
servers:
  - name: sandfly
    url: http://sandfly-mcp-server.cortex-system.svc.cluster.local:3000/mcp
    idempotent_tools: [sandfly_list_hosts]
routes:
  - keywords: [host, hosts, node]
    server: sandfly
    tool: sandfly_list_hosts
    arguments: {summary: true, page: 1, size: 100}
"#;

    #[test]
    fn seed_config_loads_with_defaults_from_the_url() {
        let c = load_yaml(SEED, &[]).unwrap();
        let s = c.server("sandfly").unwrap();
        assert_eq!(s.service, "sandfly-mcp-server");
        assert_eq!(s.namespace, "cortex-system");
        assert_eq!(s.timeout, Duration::from_secs(60));
        assert_eq!(s.transport, Transport::Mcp);
        assert_eq!(c.healing.worker, PathBuf::from("/w/self-heal"));
        assert_eq!(c.route("list sandfly hosts").unwrap().tool, "sandfly_list_hosts");
        assert!(c.route("what's the weather").is_none());
        assert!(c.route("ghosts").is_none(), "keywords match whole words");
        assert_eq!(c.history.limit, 1000);
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load_yaml(
            SEED,
            &[
                ("PORT", "9001"),
                ("HEALING_ENABLED", "false"),
                ("SELF_HEAL_WORKER_PATH", "/x"),
                ("ORCHESTRATOR_TOKEN", "t"),
            ],
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert!(!c.healing.enabled);
        assert_eq!(c.healing.worker, PathBuf::from("/x"));
        assert_eq!(c.token.as_deref(), Some("t"));
    }

    #[test]
    fn errors_name_file_key_and_why() {
        let e = load_yaml("servers:\n  - name: a\n    url: not a url\n", &[]).unwrap_err();
        assert_eq!(e.key, "servers[0].url", "{e}");
        assert!(e.file.ends_with("orch.yaml"));
        let e = load_yaml(&SEED.replace("timeout: 120s", "timeout: soon"), &[]).unwrap_err();
        assert_eq!(e.key, "healing.timeout", "{e}");
        let e = load_yaml(&SEED.replace("server: sandfly", "server: nope"), &[]).unwrap_err();
        assert_eq!(e.key, "routes[0].server", "{e}");
        let e = load_yaml("servers:\n  - name: a\n", &[]).unwrap_err();
        assert!(e.to_string().contains("url"), "{e}");
        let e = load_yaml("bogus: 1\n", &[]).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = load_yaml(SEED, &[("HEALING_ENABLED", "maybe")]).unwrap_err();
        assert_eq!((e.file.as_str(), e.key.as_str()), ("environment", "HEALING_ENABLED"));
    }
}
