//! `make install` into a temporary prefix, then the plugin through the real kubectl:
//! `kubectl self-heal ...` finds `kubectl-self_heal` on PATH and passes the rest of the line.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::repo;
use crate::util::{Sim, kubectl_path};

fn make_install(destdir: &Path) {
    let bins = Path::new(env!("CARGO_BIN_EXE_self-heal")).parent().unwrap();
    let out = Command::new("make")
        .current_dir(repo())
        .args(["--no-print-directory", "install-files", "PREFIX=/usr/local"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg(format!("BINS={}", bins.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run make");
    assert!(out.status.success(), "make install-files failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The real kubectl with the installed bin directory first on PATH.
fn kubectl_plugin(sim: &Sim, bin: &Path, args: &[&str]) -> Output {
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut cmd = Command::new(kubectl_path());
    cmd.args(args)
        .env("PATH", path)
        .env("KUBECONFIG", sim.kubeconfig())
        .env("HOME", sim.dir())
        .env("NO_COLOR", "1")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("SELF_HEAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("run kubectl")
}

#[test]
fn make_install_puts_binaries_plugin_completions_and_man_pages_under_destdir() {
    let tmp = tempfile::tempdir().unwrap();
    make_install(tmp.path());
    let prefix = tmp.path().join("usr/local");
    for f in [
        "bin/self-heal",
        "bin/orchestrator",
        "bin/kubectl-self_heal",
        "share/man/man1/self-heal.1",
        "share/man/man1/self-heal-heal.1",
        "share/man/man1/self-heal-diagnose.1",
        "share/bash-completion/completions/self-heal",
        "share/zsh/site-functions/_self-heal",
        "share/fish/vendor_completions.d/self-heal.fish",
        "share/self-heal/completions/_self-heal.ps1",
        "share/self-heal/completions/self-heal.elv",
    ] {
        assert!(prefix.join(f).exists(), "{f} not installed under {}", prefix.display());
    }
    let bin = prefix.join("bin");

    let sim = Sim::demo();
    // kubectl lists the plugin and runs it with the rest of the command line.
    let out = kubectl_plugin(&sim, &bin, &["plugin", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("kubectl-self_heal"), "kubectl plugin list: {listed}");

    let out = kubectl_plugin(&sim, &bin, &["self-heal", "--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("self-heal [OPTIONS] [COMMAND] <SERVICE> [ERROR] [URL]"), "{help}");

    // A real diagnosis through the plugin: the demo service is healthy (exit 0, no problem).
    let out = kubectl_plugin(&sim, &bin, &["self-heal", "-o", "ndjson", "diagnose", "sandfly-mcp-server"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last: Value = serde_json::from_str(stdout.lines().last().expect("a result line")).unwrap();
    assert_eq!(last["event"], "result");
    assert_eq!(last["outcome"], "healthy", "{stdout}");
    assert_eq!(last["service"], "sandfly-mcp-server");

    // Exit codes pass through kubectl: a usage error is 2.
    let out = kubectl_plugin(&sim, &bin, &["self-heal", "diagnose", "Not_A_Service"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
