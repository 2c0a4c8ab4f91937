//! Test harness: kube-sim's (re-exported) plus self-heal commands with a clean environment.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

pub use kube_sim::harness::*;

/// Runs self-heal against a [`Sim`].
pub trait SelfHealExt {
    /// A self-heal command with this sim's kubeconfig and a clean environment.
    fn self_heal(&self) -> Command;
}

impl SelfHealExt for Sim {
    fn self_heal(&self) -> Command {
        let mut cmd = self_heal_bare(self.dir());
        cmd.env("KUBECONFIG", self.kubeconfig());
        cmd
    }
}

/// self-heal with HOME at `home` and nothing leaking in from the test runner: no KUBECONFIG,
/// in-cluster variables, SELF_HEAL_* or RUST_LOG.
pub fn self_heal_bare(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_self-heal"));
    cmd.env("HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("SELF_HEAL_") {
            cmd.env_remove(k);
        }
    }
    cmd
}
