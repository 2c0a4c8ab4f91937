//! `self-heal`: parse, plan, run; everything else lives in the library.

use std::io::IsTerminal;

use clap::{CommandFactory, Parser};
use self_heal::cli::{Cli, Invocation, plan};
use self_heal::exit;

fn main() {
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
            clap_complete::generate(shell, &mut Cli::command(), "self-heal", &mut std::io::stdout());
            exit::OK
        }
        Invocation::Man => match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("self-heal: failed to write the man page: {e}");
                exit::NOT_HEALED
            }
        },
        Invocation::Run(plan) => {
            init_tracing(plan.verbosity);
            match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt.block_on(self_heal::heal::execute(plan)),
                Err(e) => {
                    eprintln!("self-heal: failed to start the async runtime: {e}");
                    exit::NOT_HEALED
                }
            }
        }
    };
    std::process::exit(code);
}

fn usage_exit(message: &str) -> ! {
    eprintln!("self-heal: {message}");
    std::process::exit(exit::USAGE);
}

/// Logs to stderr: warnings by default, -v info, -vv debug, -vvv trace, -q errors, -qq off.
fn init_tracing(verbosity: i8) {
    let level = match verbosity {
        i8::MIN..=-2 => "off",
        -1 => "error",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
