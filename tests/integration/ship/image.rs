//! The Dockerfile (Docker cannot run here, so its recipe is checked) and the static musl
//! binaries `make release-static` builds the same way the Dockerfile does.

use std::path::Path;
use std::process::Command;

use super::{read, repo};

/// `FROM` lines and instructions of a Dockerfile, continuation lines joined.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in dockerfile.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        let (op, rest) = cur.split_once(char::is_whitespace).unwrap_or((&cur, ""));
        out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
        cur.clear();
    }
    out
}

/// Stages of the Dockerfile: each `FROM` and the instructions after it.
fn stages(dockerfile: &str) -> Vec<Vec<(String, String)>> {
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    for ins in instructions(dockerfile) {
        if ins.0 == "FROM" {
            stages.push(Vec::new());
        }
        match stages.last_mut() {
            Some(stage) => stage.push(ins),
            None => assert_eq!(ins.0, "ARG", "only ARG may come before the first FROM"),
        }
    }
    stages
}

/// Whether a .dockerignore pattern (as Docker reads them: cleaned, `**` for any depth) excludes
/// a context path. Only the forms this repository uses are supported: `dir/`, `name`, `**/*.ext`.
fn ignored(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|p| {
        let p = p.trim_end_matches('/');
        if let Some(ext) = p.strip_prefix("**/*") {
            return path.ends_with(ext);
        }
        path == p || path.starts_with(&format!("{p}/"))
    })
}

#[test]
fn every_path_the_dockerfile_copies_exists_and_is_sent_to_the_build() {
    let dockerfile = read("Dockerfile");
    let patterns: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert!(ignored(&patterns, "target/release/self-heal"), "target/ stays out of the build context");
    assert!(ignored(&patterns, ".git"), ".git stays out of the build context");
    let mut copied = 0;
    for (op, args) in instructions(&dockerfile) {
        if !(op == "COPY" || op == "ADD") || args.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        let (_dest, sources) = words.split_last().unwrap_or_else(|| panic!("{op} without arguments"));
        assert!(!sources.is_empty(), "{op} {args}: no source");
        for src in sources {
            let path = repo().join(src);
            assert!(path.exists(), "Dockerfile {op}s {src}, which is not in the repository");
            assert!(
                !ignored(&patterns, src.trim_end_matches('/')),
                ".dockerignore excludes {src}, which the Dockerfile copies"
            );
            copied += 1;
        }
    }
    assert!(copied >= 4, "the manifests, the lock file and src/ are copied: {copied} paths");
    // A cargo configuration would change the build (env, flags): the image must build with it.
    if repo().join(".cargo/config.toml").exists() {
        assert!(
            dockerfile.contains("COPY .cargo"),
            ".cargo/config.toml exists: the Dockerfile must COPY it before the first cargo build"
        );
    }
}

#[test]
fn the_image_is_static_binaries_on_a_shell_less_base_running_as_non_root() {
    let dockerfile = read("Dockerfile");
    let stages = stages(&dockerfile);
    assert!(stages.len() >= 2, "multi-stage: a build stage and a minimal final stage");
    // Every cargo build is locked and static (musl), and builds both product binaries.
    let builds: Vec<&String> =
        stages.iter().flatten().filter(|(op, a)| op == "RUN" && a.contains("cargo build")).map(|(_, a)| a).collect();
    assert!(!builds.is_empty(), "the build stage runs cargo build");
    for b in &builds {
        for part in
            ["--locked", "--release", "--target x86_64-unknown-linux-musl", "--bin self-heal", "--bin orchestrator"]
        {
            assert!(b.contains(part), "cargo build without {part}: {b}");
        }
    }
    let last = stages.last().unwrap();
    let base = &last[0].1;
    assert!(
        base.starts_with("gcr.io/distroless/static") || base == "scratch",
        "the final stage has no shell: distroless static or scratch, not {base}"
    );
    let user = last.iter().rev().find(|(op, _)| op == "USER").map(|(_, a)| a.as_str());
    let user = user.expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root" && !uid.is_empty(), "runs as non-root, not {user}");
    let copies: Vec<&String> = last.iter().filter(|(op, _)| op == "COPY").map(|(_, a)| a).collect();
    assert!(
        copies.iter().any(|c| c.ends_with("/usr/local/bin/self-heal")),
        "self-heal at /usr/local/bin/self-heal: {copies:?}"
    );
    assert!(copies.iter().all(|c| c.starts_with("--from=")), "the final stage copies only build outputs: {copies:?}");
    assert!(!last.iter().any(|(op, _)| op == "RUN"), "nothing runs in the final stage (it has no shell)");
    let entry = last.iter().rev().find(|(op, _)| op == "ENTRYPOINT").map(|(_, a)| a.as_str());
    assert_eq!(entry, Some(r#"["/usr/local/bin/orchestrator"]"#), "the orchestrator is the entrypoint (exec form)");
    for tool in ["kubectl", "curl", "apk add", "busybox"] {
        assert!(!last.iter().any(|(_, a)| a.to_lowercase().contains(tool)), "{tool} in the final stage");
    }
}

/// Whether an ELF file has no program interpreter (PT_INTERP): statically linked.
fn is_static_elf(path: &Path) -> bool {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!(b[4], 2, "64-bit ELF");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) != 3 // PT_INTERP
    })
}

/// The static binaries run here: built by `make release-static` (CI's `.ci/run` runs it before
/// `make test`; a musl release build of this tree takes minutes, too long for every test run).
#[test]
fn static_musl_binaries_from_make_release_static_run() {
    let dir = repo().join("target/x86_64-unknown-linux-musl/release");
    for bin in ["self-heal", "orchestrator"] {
        let path = dir.join(bin);
        assert!(path.exists(), "{} is missing: run `make release-static` first (.ci/run does)", path.display());
        assert!(is_static_elf(&path), "{} is dynamically linked", path.display());
    }
    let out = Command::new(dir.join("self-heal")).arg("--version").env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("self-heal {}", env!("CARGO_PKG_VERSION")));
    let out = Command::new(dir.join("orchestrator")).arg("--help").env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--config") && help.contains("--listen"), "{help}");
}
