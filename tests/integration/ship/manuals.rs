//! completions/ and man/ are generated from the clap definitions; this test regenerates them
//! and fails when the committed files differ. `make completions man` runs it with
//! `UPDATE_MANUALS=1`, which writes them instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, ValueEnum};
use clap_complete::{Generator, Shell};

use super::repo;

/// The binaries' command lines.
fn commands() -> Vec<clap::Command> {
    vec![self_heal::cli::Cli::command(), self_heal::orchestrator::Args::command()]
}

/// Every generated file, by path relative to the repository.
fn generate() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        for shell in Shell::value_variants() {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd.clone(), &name, &mut buf);
            files.insert(Path::new("completions").join(shell.file_name(&name)), buf);
        }
        let tmp = tempfile::tempdir().unwrap();
        clap_mangen::generate_to(cmd, tmp.path()).unwrap();
        for entry in std::fs::read_dir(tmp.path()).unwrap() {
            let path = entry.unwrap().path();
            files.insert(Path::new("man").join(path.file_name().unwrap()), std::fs::read(&path).unwrap());
        }
    }
    files
}

/// Files now in completions/ and man/.
fn committed() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for d in ["completions", "man"] {
        for entry in std::fs::read_dir(repo().join(d)).unwrap() {
            let path = entry.unwrap().path();
            files.insert(Path::new(d).join(path.file_name().unwrap()), std::fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn committed_completions_and_man_pages_are_current() {
    let fresh = generate();
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        assert!(fresh.contains_key(Path::new(&format!("man/{name}.1"))), "a man page for {name}");
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let page = format!("man/{name}-{}.1", sub.get_name());
            assert!(fresh.contains_key(Path::new(&page)), "{page}: one page per subcommand");
        }
    }
    let old = committed();
    if std::env::var_os("UPDATE_MANUALS").is_some() {
        for path in old.keys().filter(|p| !fresh.contains_key(*p)) {
            std::fs::remove_file(repo().join(path)).unwrap();
        }
        for (path, bytes) in &fresh {
            std::fs::write(repo().join(path), bytes).unwrap();
        }
        return;
    }
    let stale: Vec<String> = fresh
        .iter()
        .filter(|(p, b)| old.get(*p) != Some(*b))
        .map(|(p, _)| p.display().to_string())
        .chain(old.keys().filter(|p| !fresh.contains_key(*p)).map(|p| format!("{} (no longer generated)", p.display())))
        .collect();
    assert!(stale.is_empty(), "stale generated files, run `make completions man`: {stale:?}");
}
