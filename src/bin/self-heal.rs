//! `self-heal`: parse, plan, run; everything else lives in the library.

use std::io::{IsTerminal, Write};

use clap::{CommandFactory, Parser};
use self_heal::cli::{Cli, Invocation, plan};
use self_heal::exit;
use self_heal::report::{reserve_std_fds, stderr_line};

fn main() {
    // Before anything opens a file or socket: a closed stdout/stderr gets /dev/null.
    reserve_std_fds();
    // kube and reqwest both use rustls; one process-wide provider avoids a runtime panic.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version: clap prints them to stdout and exits 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => usage_exit(e.to_string().trim_start_matches("error: ").trim_end()),
    };
    let invocation = match plan(cli, std::io::stdout().is_terminal()) {
        Ok(i) => i,
        Err(e) => usage_exit(&e.to_string()),
    };
    let code = match invocation {
        Invocation::Completions(shell) => {
            // Rendered into memory: clap_complete panics when its writer fails (`| head`).
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "self-heal", &mut buf);
            write_stdout(&buf, "completion script")
        }
        Invocation::Man => {
            let mut buf = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut buf) {
                Ok(()) => write_stdout(&buf, "man page"),
                Err(e) => {
                    stderr_line(&format!("failed to render the man page: {e}"));
                    exit::NOT_HEALED
                }
            }
        }
        Invocation::Run(plan) => {
            init_tracing(plan.verbosity);
            match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt.block_on(self_heal::heal::execute(plan)),
                Err(e) => {
                    stderr_line(&format!("failed to start the async runtime: {e}"));
                    exit::NOT_HEALED
                }
            }
        }
    };
    std::process::exit(code);
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(bytes: &[u8], what: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            stderr_line(&format!("failed to write the {what}: {e}"));
            exit::NOT_HEALED
        }
    }
}

fn usage_exit(message: &str) -> ! {
    stderr_line(message);
    std::process::exit(exit::USAGE);
}

/// Logs to stderr: warnings by default, -v info, -vv debug, -vvv trace, -q errors, -qq off.
fn init_tracing(verbosity: i8) {
    let level = match verbosity {
        i8::MIN..=-2 => "off",
        -1 => "error,kube_client=off,rustls_platform_verifier=off,rmcp=off",
        // kube, rmcp and the TLS verifier log every failed request at error level; the run reports it once.
        0 => "warn,kube_client=off,rustls_platform_verifier=off,rmcp=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
