//! What ships: the container image's recipe, the static binaries, the deploy/ manifests and
//! alerts, completions and man pages, `make install` with the kubectl plugin, and the
//! documented rollback procedure, each checked against the real binaries and kube-sim.

mod deploy;
mod image;
mod install;
mod manuals;
mod rollback;

use std::path::{Path, PathBuf};

/// The repository root (the root crate's manifest directory).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, as text.
pub fn read(rel: &str) -> String {
    let p: PathBuf = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}
