//! The validated run plan: what every stage reads instead of clap's structs.
//!
//! [`plan`] checks names, URL, selector and paths, so a bad argument is a usage error (exit 2)
//! before any API call.

use std::io::Read;
use std::time::Duration;

use super::{AllowArg, Cli, OutputArg, ProbeArg, Sub};
use crate::client::ClientOptions;
use crate::names::{NameError, validate_label};

/// Namespace used when neither `--namespace` nor the URL names one.
pub const DEFAULT_NAMESPACE: &str = "cortex-system";
/// ERROR is kept to this many characters.
pub const MAX_ERROR_CHARS: usize = 2048;
/// At most this many bytes of ERROR are read from stdin (`-`); the rest is counted, not kept.
const MAX_STDIN_BYTES: u64 = 64 * 1024 * 1024;

/// What the process should do.
// Built once per process: boxing the plan would only add noise at the call sites.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Run the pipeline.
    Run(RunPlan),
    /// Print a completion script.
    Completions(clap_complete::Shell),
    /// Print the man page.
    Man,
}

/// The command to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Diagnose, remediate, wait, verify.
    Heal,
    /// Diagnose only.
    Diagnose,
    /// Diagnose and remediate, no verification.
    Remediate,
    /// Verify only.
    Verify,
}

impl Command {
    /// The name on the command line and in the `started` event.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Heal => "heal",
            Command::Diagnose => "diagnose",
            Command::Remediate => "remediate",
            Command::Verify => "verify",
        }
    }
}

/// How progress is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// One JSON event per line.
    Ndjson,
    /// Spinners, coloured lines and a summary.
    Human,
    /// `PROGRESS:` lines and the result JSON last.
    Legacy,
}

/// How verification proves the service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// GET; any answer below 500 is alive.
    Http,
    /// MCP `initialize` and `tools/list`.
    Mcp,
    /// A TCP connect.
    Tcp,
}

/// Everything a run needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The command.
    pub command: Command,
    /// The Service (a DNS-1123 label).
    pub service: String,
    /// Its namespace (a DNS-1123 label).
    pub namespace: String,
    /// The caller's error text, truncated to [`MAX_ERROR_CHARS`] with a marker.
    pub error: Option<String>,
    /// The URL the caller failed to reach.
    pub url: Option<url::Url>,
    /// Output format.
    pub output: OutputMode,
    /// Server-side dry run only.
    pub dry_run: bool,
    /// Overall deadline.
    pub timeout: Duration,
    /// Verification probe.
    pub probe: ProbeKind,
    /// `--allow rollback` was given.
    pub allow_rollback: bool,
    /// Pod label selector override (syntax checked).
    pub selector: Option<String>,
    /// Probe path override (starts with `/`).
    pub health_path: Option<String>,
    /// Service port override.
    pub port: Option<u16>,
    /// How to reach the cluster.
    pub kube: ClientOptions,
    /// Breaker: remediations allowed per window.
    pub max_remediations: u32,
    /// Breaker window.
    pub breaker_window: Duration,
    /// `-v` count minus `-q` count.
    pub verbosity: i8,
}

/// A bad argument; the process exits 2 with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// SERVICE or --namespace is not a DNS-1123 label.
    #[error(transparent)]
    Name(#[from] NameError),
    /// URL did not parse.
    #[error("URL {url:?} is not a valid URL: {reason}")]
    Url {
        /// The URL, cut to 200 characters.
        url: String,
        /// Why.
        reason: String,
    },
    /// --selector is not a label selector.
    #[error("--selector {selector:?} is not a label selector: {reason}")]
    Selector {
        /// The selector, cut to 200 characters.
        selector: String,
        /// Why.
        reason: String,
    },
    /// --health-path does not start with '/'.
    #[error("--health-path {0:?} must be an absolute path ('/...') without '..' segments, spaces or '#'")]
    HealthPath(String),
    /// SERVICE is missing.
    #[error("SERVICE is required (see --help)")]
    MissingService,
    /// ERROR `-` but stdin could not be read.
    #[error("failed to read ERROR from stdin: {0}")]
    Stdin(String),
}

/// Builds the plan from parsed arguments; `-` as ERROR reads stdin.
///
/// # Errors
/// [`UsageError`] for any invalid argument.
pub fn plan(cli: Cli, stdout_is_tty: bool) -> Result<Invocation, UsageError> {
    plan_with_stdin(cli, stdout_is_tty, &mut std::io::stdin())
}

/// [`plan`] reading ERROR `-` from `stdin`.
///
/// # Errors
/// [`UsageError`] for any invalid argument.
pub fn plan_with_stdin(cli: Cli, stdout_is_tty: bool, stdin: &mut dyn Read) -> Result<Invocation, UsageError> {
    let (command, service, error, url) = match cli.command {
        Some(Sub::Completions { shell }) => return Ok(Invocation::Completions(shell)),
        Some(Sub::Man) => return Ok(Invocation::Man),
        Some(Sub::Heal(t)) => (Command::Heal, Some(t.service), t.error, t.url),
        Some(Sub::Diagnose(t)) => (Command::Diagnose, Some(t.service), t.error, t.url),
        Some(Sub::Remediate(t)) => (Command::Remediate, Some(t.service), t.error, t.url),
        Some(Sub::Verify(t)) => (Command::Verify, Some(t.service), t.error, t.url),
        None => (Command::Heal, cli.target.service, cli.target.error, cli.target.url),
    };
    let service = service.ok_or(UsageError::MissingService)?;
    validate_label("service name", &service)?;

    let url = match url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => Some(parse_url(u)?),
    };
    let opts = cli.opts;
    let namespace = match opts.namespace {
        Some(ns) => {
            validate_label("namespace", &ns)?;
            ns
        }
        None => {
            url.as_ref().and_then(|u| namespace_from_url(u, &service)).unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
        }
    };
    let error = match error {
        Some(e) if e == "-" => Some(read_error(stdin)?),
        Some(e) if e.is_empty() => None,
        Some(e) => Some(truncate_error(&e, 0)),
        None => None,
    };
    if let Some(sel) = &opts.selector {
        let shown = || crate::names::strip_controls(&sel.chars().take(200).collect::<String>());
        validate_selector(sel).map_err(|reason| UsageError::Selector { selector: shown(), reason })?;
        // A Service can only select by equality: say so now, before connecting.
        crate::resolve::parse_selector(sel).map_err(|e| UsageError::Selector {
            selector: shown(),
            reason: match e {
                crate::resolve::ResolveError::InvalidSelector { reason, .. } => reason,
                other => other.to_string(),
            },
        })?;
    }
    if let Some(p) = &opts.health_path
        && !is_safe_path(p)
    {
        return Err(UsageError::HealthPath(p.chars().take(200).collect()));
    }
    let output = match opts.output {
        Some(OutputArg::Ndjson) => OutputMode::Ndjson,
        Some(OutputArg::Human) => OutputMode::Human,
        Some(OutputArg::Legacy) => OutputMode::Legacy,
        None if stdout_is_tty => OutputMode::Human,
        None => OutputMode::Ndjson,
    };
    let probe = match opts.probe {
        ProbeArg::Http => ProbeKind::Http,
        ProbeArg::Mcp => ProbeKind::Mcp,
        ProbeArg::Tcp => ProbeKind::Tcp,
    };
    let verbosity = (i16::from(opts.verbose) - i16::from(opts.quiet)).clamp(-8, 8) as i8;
    Ok(Invocation::Run(RunPlan {
        command,
        service,
        namespace,
        error,
        url,
        output,
        dry_run: opts.dry_run,
        timeout: opts.timeout,
        probe,
        allow_rollback: opts.allow.contains(&AllowArg::Rollback),
        selector: opts.selector,
        health_path: opts.health_path,
        port: opts.port,
        kube: ClientOptions { kubeconfig: opts.kubeconfig, context: opts.context },
        max_remediations: opts.max_remediations,
        breaker_window: opts.breaker_window,
        verbosity,
    }))
}

fn parse_url(u: &str) -> Result<url::Url, UsageError> {
    let shown = || crate::names::strip_controls(&u.chars().take(200).collect::<String>());
    let mut parsed = url::Url::parse(u).map_err(|e| UsageError::Url { url: shown(), reason: e.to_string() })?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(UsageError::Url { url: shown(), reason: "it has no host".to_string() });
    }
    // Credentials in the URL are never sent nor shown.
    let _ = parsed.set_password(None);
    let _ = parsed.set_username("");
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    if !is_safe_path(&path) {
        return Err(UsageError::Url {
            url: parsed.to_string().chars().take(200).collect(),
            reason: "its path must stay below the service: no '..' segments (also not encoded or as '..;'), spaces or control characters".to_string(),
        });
    }
    Ok(parsed)
}

/// The namespace named by a service URL's host: `<svc>.<ns>.svc[.cluster.local]`, or
/// `<svc>.<ns>` when the first label is the service itself (so `example.com` names nothing).
pub fn namespace_from_url(url: &url::Url, service: &str) -> Option<String> {
    let url::Host::Domain(host) = url.host()? else { return None };
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let ns = match labels.as_slice() {
        [_, ns, "svc", ..] => *ns,
        [svc, ns] if *svc == service => *ns,
        _ => return None,
    };
    validate_label("namespace", ns).ok()?;
    Some(ns.to_string())
}

/// Keeps the first [`MAX_ERROR_CHARS`] characters and says how many bytes were dropped
/// (`extra_bytes` are dropped bytes already known, e.g. unread stdin).
pub fn truncate_error(text: &str, extra_bytes: u64) -> String {
    let cut = text.char_indices().nth(MAX_ERROR_CHARS).map(|(i, _)| i);
    match cut {
        None if extra_bytes == 0 => text.to_string(),
        None => format!("{text}… ({extra_bytes} bytes truncated)"),
        Some(i) => {
            let dropped = (text.len() - i) as u64 + extra_bytes;
            format!("{}… ({dropped} bytes truncated)", &text[..i])
        }
    }
}

fn read_error(stdin: &mut dyn Read) -> Result<String, UsageError> {
    let mut buf = Vec::new();
    stdin.take(MAX_STDIN_BYTES).read_to_end(&mut buf).map_err(|e| UsageError::Stdin(e.to_string()))?;
    // Count what lies beyond the cap without keeping it.
    let rest = std::io::copy(stdin, &mut std::io::sink()).map_err(|e| UsageError::Stdin(e.to_string()))?;
    let text = String::from_utf8_lossy(&buf);
    Ok(truncate_error(text.trim_end_matches(['\n', '\r']), rest))
}

/// Checks Kubernetes label-selector syntax: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
/// `k notin (a,b)`, joined by commas.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn validate_selector(sel: &str) -> Result<(), String> {
    if sel.trim().is_empty() {
        return Err("it is empty".to_string());
    }
    for req in split_top_level(sel)? {
        let req = req.trim();
        if req.is_empty() {
            return Err("it has an empty requirement (two commas in a row?)".to_string());
        }
        if let Some(key) = req.strip_prefix('!') {
            check_key(key.trim())?;
            continue;
        }
        if let Some((key, rest)) = split_set_op(req) {
            check_key(key)?;
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{req:?}: the values of in/notin go in parentheses"))?;
            for v in inner.split(',') {
                check_value(v.trim())?;
            }
            continue;
        }
        let (key, value) = if let Some((k, v)) = req.split_once("!=") {
            (k, Some(v))
        } else if let Some((k, v)) = req.split_once("==") {
            (k, Some(v))
        } else if let Some((k, v)) = req.split_once('=') {
            (k, Some(v))
        } else {
            (req, None)
        };
        check_key(key.trim())?;
        if let Some(v) = value {
            check_value(v.trim())?;
        }
    }
    Ok(())
}

fn split_top_level(sel: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in sel.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&sel[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err("its parentheses do not match".to_string());
        }
    }
    if depth != 0 {
        return Err("its parentheses do not match".to_string());
    }
    parts.push(&sel[start..]);
    Ok(parts)
}

fn split_set_op(req: &str) -> Option<(&str, &str)> {
    let mut words = req.splitn(2, char::is_whitespace);
    let key = words.next()?;
    let rest = words.next()?.trim_start();
    for op in ["notin", "in"] {
        if let Some(r) = rest.strip_prefix(op)
            && r.trim_start().starts_with('(')
        {
            return Some((key, r));
        }
    }
    None
}

fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty() && p.len() <= 253 && p.split('.').all(|l| validate_label("label key prefix", l).is_ok());
        if !ok {
            return Err(format!("key {key:?} has an invalid prefix (a DNS subdomain)"));
        }
    }
    if !is_name_part(name) {
        return Err(format!(
            "key {key:?} is not a label key (up to 63 letters, digits, '-', '_', '.', alphanumeric at both ends)"
        ));
    }
    Ok(())
}

fn check_value(v: &str) -> Result<(), String> {
    if v.is_empty() || is_name_part(v) {
        Ok(())
    } else {
        Err(format!("value {v:?} is not a label value (up to 63 letters, digits, '-', '_', '.')"))
    }
}

/// A probe path that stays below the service when appended to the API server's service-proxy
/// path: absolute; no `.` or `..` segment, also not as `..;` (a path parameter) or
/// percent-encoded (`%2e`, `%2f`, `%5c`, and `%25` for double encoding); no whitespace,
/// control characters, `\\` or fragment. The same check applies to `--health-path` and to the
/// URL's path.
pub fn is_safe_path(p: &str) -> bool {
    let lower = p.to_ascii_lowercase();
    p.starts_with('/')
        && !p.split(['/', '?', '&', ';']).any(|seg| seg == ".." || seg == ".")
        && !p.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\' || c == '#')
        && !["%2e", "%2f", "%5c", "%25", "%00"].iter().any(|bad| lower.contains(bad))
}

#[cfg(test)]
mod tests;
