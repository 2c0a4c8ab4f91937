//! Command line (DESIGN §2.1): flat clap structs, turned into a validated [`plan::RunPlan`] by
//! [`plan::plan`] before anything talks to a cluster.

pub mod plan;

use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

pub use plan::{Command, Invocation, OutputMode, ProbeKind, RunPlan, UsageError, plan};

/// `self-heal [OPTIONS] [COMMAND] <SERVICE> [ERROR] [URL]`.
///
/// Without a command the top-level positionals mean `heal`, so self-heal replaces the old
/// script in place: `self-heal sandfly-mcp-server "connect ECONNREFUSED" http://...`.
#[derive(Debug, Parser)]
#[command(
    name = "self-heal",
    version,
    about = "Brings a broken service on Kubernetes back, by itself, and proves it did",
    long_about = "Brings a broken service on Kubernetes back, by itself, and proves it did.\n\n\
        self-heal finds the Deployment behind SERVICE, diagnoses why it does not answer, applies \
        the one safe fix (scale back up, rollout restart, wait for a rollout), waits for the \
        rollout by watching it, and verifies that the service answers. Without a COMMAND it heals.",
    subcommand_negates_reqs = true,
    override_usage = "self-heal [OPTIONS] [COMMAND] <SERVICE> [ERROR] [URL]\n       \
        self-heal completions <SHELL>\n       self-heal man",
    after_help = "Exit codes and environment variables: see --help.",
    after_long_help = after_long_help()
)]
pub struct Cli {
    /// What to do; without one, heal.
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// SERVICE, ERROR and URL when no command is given (same as `heal`).
    #[command(flatten)]
    pub target: TopTarget,
    /// Options that apply to every command.
    #[command(flatten)]
    pub opts: GlobalOpts,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Diagnose, fix what is safe to fix, wait, and verify (the default).
    Heal(Target),
    /// Only diagnose; change nothing (exit 0: no problem found, 1: problems found).
    Diagnose(Target),
    /// Diagnose and apply the fix, without the final verification.
    Remediate(Target),
    /// Only verify that the service has ready endpoints and answers.
    Verify(Target),
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout.
    Man,
}

/// Positionals of a subcommand.
#[derive(Debug, Args)]
pub struct Target {
    /// The Kubernetes Service to heal (a DNS-1123 label).
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The error the caller saw (free text; `-` reads it from stdin; kept to 2048 characters).
    #[arg(value_name = "ERROR", env = "SELF_HEAL_ERROR", hide_env_values = true)]
    pub error: Option<String>,
    /// The URL the caller failed to reach (its host may name the namespace).
    #[arg(value_name = "URL", env = "SELF_HEAL_URL", hide_env_values = true)]
    pub url: Option<String>,
}

/// Positionals without a subcommand: the same as [`Target`], optional so subcommands parse.
#[derive(Debug, Args)]
pub struct TopTarget {
    /// The Kubernetes Service to heal (a DNS-1123 label).
    #[arg(value_name = "SERVICE", required = true)]
    pub service: Option<String>,
    /// The error the caller saw (free text; `-` reads it from stdin; kept to 2048 characters).
    #[arg(value_name = "ERROR", env = "SELF_HEAL_ERROR", hide_env_values = true)]
    pub error: Option<String>,
    /// The URL the caller failed to reach (its host may name the namespace).
    #[arg(value_name = "URL", env = "SELF_HEAL_URL", hide_env_values = true)]
    pub url: Option<String>,
}

/// Options shared by all commands. Those that cannot choose the cluster, widen permissions or
/// loosen safety also come from `SELF_HEAL_<NAME>` (see [`ENV_OPTIONS`]).
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system].
    #[arg(short = 'n', long, global = true, env = "SELF_HEAL_NAMESPACE", hide_env_values = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Kubeconfig context to use (as kubectl's --context; a flag only, never from the environment).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag
    /// only: no SELF_HEAL_ variable chooses the cluster).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Output format [default: human on a terminal, else ndjson].
    #[arg(
        short = 'o',
        long,
        global = true,
        env = "SELF_HEAL_OUTPUT",
        hide_env_values = true,
        value_enum,
        value_name = "FORMAT"
    )]
    pub output: Option<OutputArg>,
    /// Plan and send server-side dry-run requests; change nothing.
    #[arg(long, global = true, env = "SELF_HEAL_DRY_RUN", hide_env_values = true)]
    pub dry_run: bool,
    /// Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long).
    #[arg(long, global = true, env = "SELF_HEAL_TIMEOUT", hide_env_values = true, value_name = "DUR", default_value = "110s",
          value_parser = parse_timeout)]
    pub timeout: Duration,
    /// How verification proves the service answers.
    #[arg(long, global = true, env = "SELF_HEAL_PROBE", hide_env_values = true, value_enum, default_value_t = ProbeArg::Http)]
    pub probe: ProbeArg,
    /// Permit an action that is off by default (repeatable; a flag only).
    #[arg(long, global = true, value_enum, action = ArgAction::Append,
          value_delimiter = ',', value_name = "ACTION")]
    pub allow: Vec<AllowArg>,
    /// More logging on stderr (repeatable; RUST_LOG overrides; env: a count).
    #[arg(short = 'v', long, global = true, action = ArgAction::Count, env = "SELF_HEAL_VERBOSE", hide_env_values = true)]
    pub verbose: u8,
    /// Less logging on stderr (repeatable; env: a count).
    #[arg(short = 'q', long, global = true, action = ArgAction::Count, env = "SELF_HEAL_QUIET", hide_env_values = true)]
    pub quiet: u8,
    /// Label selector of the pods, overriding the Service's own selector (equality only, e.g. app=x,tier=db).
    #[arg(long, global = true, env = "SELF_HEAL_SELECTOR", hide_env_values = true, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Path to probe on the service, overriding the URL's path (starts with '/').
    #[arg(long, global = true, env = "SELF_HEAL_HEALTH_PATH", hide_env_values = true, value_name = "PATH")]
    pub health_path: Option<String>,
    /// Service port to probe, overriding discovery.
    #[arg(long, global = true, env = "SELF_HEAL_PORT", hide_env_values = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// At most this many remediations per workload per breaker window (a flag only).
    #[arg(long, global = true, value_name = "N", default_value_t = 3)]
    pub max_remediations: u32,
    /// Window of the remediation breaker, e.g. 10m (a flag only).
    #[arg(long, global = true, value_name = "DUR", default_value = "10m", value_parser = parse_duration)]
    pub breaker_window: Duration,
}

/// `--output` values.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    Ndjson,
    Human,
    Legacy,
}

/// `--probe` values.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeArg {
    Http,
    Mcp,
    Tcp,
}

/// `--allow` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AllowArg {
    /// `kubectl rollout undo` when the newest revision cannot pull its image.
    Rollback,
}

/// A humantime duration that is not zero.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (use e.g. 90s, 2m, 1h30m)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".to_string());
    }
    Ok(d)
}

/// The longest `--timeout` (also the longest the heal lock can be held by a killed run).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The environment variables that set options, as `--help` and README list them. Options that
/// choose the cluster (`--kubeconfig`, `--context`), widen permissions (`--allow`) or loosen
/// safety (`--max-remediations`, `--breaker-window`) are flags only.
pub const ENV_OPTIONS: &[(&str, &str)] = &[
    ("SELF_HEAL_NAMESPACE", "-n/--namespace"),
    ("SELF_HEAL_OUTPUT", "-o/--output"),
    ("SELF_HEAL_DRY_RUN", "--dry-run"),
    ("SELF_HEAL_TIMEOUT", "--timeout (at most 1h, as the flag)"),
    ("SELF_HEAL_PROBE", "--probe"),
    ("SELF_HEAL_SELECTOR", "--selector"),
    ("SELF_HEAL_HEALTH_PATH", "--health-path"),
    ("SELF_HEAL_PORT", "--port"),
    ("SELF_HEAL_VERBOSE", "-v (a count)"),
    ("SELF_HEAL_QUIET", "-q (a count)"),
    ("SELF_HEAL_ERROR", "ERROR"),
    ("SELF_HEAL_URL", "URL"),
];

/// `--timeout`: a duration above zero and at most [`MAX_TIMEOUT`]; any text, however large,
/// is an error, never a panic.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > MAX_TIMEOUT {
        return Err(format!("must be at most {}", humantime::format_duration(MAX_TIMEOUT)));
    }
    Ok(d)
}

/// The text after `--help`: exit codes and environment.
pub fn after_long_help() -> String {
    use crate::exit;
    let rows = [
        (exit::OK, "healthy, or healed and verified (diagnose: no problem found)"),
        (exit::NOT_HEALED, "not healed: remediation tried and verification failed (diagnose: problems found)"),
        (exit::USAGE, "usage error"),
        (exit::MANUAL, "manual intervention needed: no safe automatic fix"),
        (exit::REFUSED, "refused by policy: lock held, breaker open, autoscaler owns replicas, paused rollout"),
        (exit::API, "cannot reach, or not authorized by, the Kubernetes API"),
        (exit::TIMEOUT, "deadline exceeded"),
        (exit::INTERRUPTED_INT, "interrupted by SIGINT (the heal lock is released)"),
        (exit::INTERRUPTED_TERM, "interrupted by SIGTERM (the heal lock is released)"),
    ];
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in rows {
        s.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    s.push_str("\nEnvironment (a flag on the command line wins):\n");
    for (var, option) in ENV_OPTIONS {
        s.push_str(&format!("  {var:<22} {option}\n"));
    }
    s.push_str(
        "  --kubeconfig, --context, --allow, --max-remediations and --breaker-window are flags only.\n  \
         ERROR `-` reads the error text from stdin (for texts beyond the OS's 128 KiB argument limit).\n  \
         Put `--` before SERVICE when ERROR may start with '-'.\n  \
         KUBECONFIG, ~/.kube/config, then in-cluster config are tried, as kubectl does.\n  \
         RUST_LOG overrides -v/-q; NO_COLOR turns colour off in human output.\n\n\
         Output: ndjson (one JSON event per line, the result last), human, or legacy\n  \
         (PROGRESS: lines and the result JSON last, as the old script printed).",
    );
    s
}
