//! The real `self-heal` binary's command line: usage errors, help, completions, man, the
//! kube config lookup, and what reaches stdout in each output mode.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bare(home: &std::path::Path) -> Command {
    crate::util::self_heal_bare(home)
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out: Output = cmd.output().expect("run self-heal");
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// A kubeconfig whose only cluster is `server`.
fn kubeconfig(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: '{server}'}}\n\
             users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: here\n  context: {{cluster: c, user: u}}\n\
             current-context: here\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn bad_service_names_exit_2_before_anything_else() {
    let home = tempfile::tempdir().unwrap();
    let long = "a".repeat(64);
    for bad in ["Upper", "../x", "a;rm -rf /", long.as_str(), ""] {
        let (code, stdout, stderr) = run(bare(home.path()).arg(bad));
        assert_eq!(code, 2, "{bad:?}: {stderr}");
        assert!(stdout.is_empty(), "{bad:?} printed to stdout: {stdout}");
        assert!(stderr.starts_with("self-heal: service name"), "{bad:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one clear line: {stderr}");
        // It never got as far as looking for a cluster.
        assert!(!stderr.contains("kubeconfig"), "{stderr}");
    }
}

#[test]
fn other_usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["svc", "err", "not a url"][..],
        &["-n", "Bad", "svc"],
        &["svc", "--timeout", "soon"],
        &["svc", "--health-path", "healthz"],
        &["svc", "--selector", "app in x"],
        &["svc", "--output", "xml"],
        &[],
    ] {
        let (code, stdout, stderr) = run(bare(home.path()).args(args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.starts_with("self-heal: "), "{args:?}: {stderr}");
    }
}

#[test]
fn help_ends_with_the_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(bare(home.path()).arg("--help"));
    assert_eq!(code, 0);
    let tail = &stdout[stdout.find("Exit codes:").expect("exit code table")..];
    for row in ["0  healthy", "2  usage error", "3  manual", "4  refused", "5  cannot reach", "124  deadline"] {
        assert!(tail.contains(row), "{row}: {tail}");
    }
    assert!(tail.contains("SELF_HEAL_"), "env var notes: {tail}");
}

#[test]
fn completions_and_man_print_to_stdout() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(bare(home.path()).args(["completions", "bash"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("complete -F") && stdout.contains("--namespace"), "{}", &stdout[..200.min(stdout.len())]);
    let (code, stdout, _) = run(bare(home.path()).arg("man"));
    assert_eq!(code, 0);
    assert!(stdout.contains(".TH self-heal 1") && stdout.contains("deadline exceeded"));
}

#[test]
fn no_kubeconfig_anywhere_exits_5_naming_what_was_tried() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(bare(home.path()).args(["sandfly-mcp-server", "connect ECONNREFUSED"]));
    assert_eq!(code, 5, "{stderr}");
    for tried in ["--kubeconfig", "$KUBECONFIG", ".kube/config", "KUBERNETES_SERVICE_HOST"] {
        assert!(stderr.contains(tried), "{tried}: {stderr}");
    }
    let events = lines(&stdout);
    assert_eq!(events[0]["event"], "started");
    let last = events.last().unwrap();
    assert_eq!((last["event"].as_str(), last["exit_code"].as_i64()), (Some("result"), Some(5)));
    assert_eq!(last["success"], false);
}

#[test]
fn missing_kubeconfig_file_and_unknown_context_are_named() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("nope.yaml");
    let (code, _, stderr) = run(bare(home.path()).arg("--kubeconfig").arg(&missing).arg("svc"));
    assert_eq!(code, 5);
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
    let kc = kubeconfig(home.path(), "http://127.0.0.1:1");
    let (code, _, stderr) = run(bare(home.path()).env("KUBECONFIG", &kc).args(["--context", "elsewhere", "svc"]));
    assert_eq!(code, 5);
    assert!(stderr.contains("\"elsewhere\"") && stderr.contains("here"), "{stderr}");
}

#[test]
fn unreachable_api_exits_5() {
    let home = tempfile::tempdir().unwrap();
    let kc = kubeconfig(home.path(), "http://127.0.0.1:1");
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = run(bare(home.path()).env("KUBECONFIG", &kc).args(["-o", "legacy", "svc"]));
    assert_eq!(code, 5, "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "gave up quickly");
    assert!(stderr.contains("127.0.0.1:1"), "names the server: {stderr}");
    // Legacy callers parse the last line as the result.
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!((last["success"].as_bool(), last["exit_code"].as_i64()), (Some(false), Some(5)));
    assert!(stdout.lines().next().unwrap().starts_with("PROGRESS: "), "{stdout}");
}

#[test]
fn largest_argv_error_is_accepted_and_truncated() {
    let home = tempfile::tempdir().unwrap();
    // Linux caps one argument at 128 KiB (MAX_ARG_STRLEN); stay just under it.
    let big = "E".repeat(120 * 1024);
    let (code, stdout, stderr) = run(bare(home.path()).args(["svc", &big]));
    assert_eq!(code, 5, "{stderr}");
    let started = &lines(&stdout)[0];
    let error = started["error"].as_str().unwrap();
    assert_eq!(error, format!("{}… ({} bytes truncated)", "E".repeat(2048), 120 * 1024 - 2048));
}

#[test]
fn ten_megabyte_error_through_stdin() {
    let home = tempfile::tempdir().unwrap();
    let mut child = bare(home.path())
        .args(["svc", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = "x".repeat(1024 * 1024);
        for _ in 0..10 {
            stdin.write_all(chunk.as_bytes()).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    let started = &lines(&String::from_utf8(out.stdout).unwrap())[0];
    let error = started["error"].as_str().unwrap();
    assert!(error.ends_with(&format!("… ({} bytes truncated)", 10 * 1024 * 1024 - 2048)), "{}", &error[2040..]);
}

#[test]
fn options_come_from_env() {
    let home = tempfile::tempdir().unwrap();
    let (_, stdout, _) = run(bare(home.path())
        .env("SELF_HEAL_NAMESPACE", "team-a")
        .env("SELF_HEAL_ERROR", "from env")
        .env("SELF_HEAL_DRY_RUN", "true")
        .arg("svc"));
    let started = &lines(&stdout)[0];
    assert_eq!(started["namespace"], "team-a");
    assert_eq!(started["error"], "from env");
    assert_eq!(started["dry_run"], true);
    // The flag wins over the env var.
    let (_, stdout, _) = run(bare(home.path()).env("SELF_HEAL_NAMESPACE", "team-a").args(["-n", "team-b", "svc"]));
    assert_eq!(lines(&stdout)[0]["namespace"], "team-b");
    let (code, stdout, stderr) = run(bare(home.path()).env("SELF_HEAL_OUTPUT", "legacy").arg("svc"));
    assert_eq!(code, 5);
    assert!(stdout.starts_with("PROGRESS: "), "{stdout}");
    // -vv from the environment: kube's debug logs reach stderr.
    let (_, _, verbose) = run(bare(home.path())
        .env("SELF_HEAL_VERBOSE", "3")
        .env("KUBECONFIG", kubeconfig(home.path(), "http://127.0.0.1:1"))
        .arg("svc"));
    assert!(verbose.contains("DEBUG") || verbose.contains("TRACE"), "{verbose}");
    let (code, _, stderr2) = run(bare(home.path()).env("SELF_HEAL_TIMEOUT", "forever").arg("svc"));
    assert_eq!(code, 2, "{stderr} {stderr2}");
    assert!(stderr2.contains("--timeout"), "{stderr2}");
}

#[test]
fn human_output_is_plain_without_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(bare(home.path()).args(["-o", "human", "sandfly-mcp-server"]));
    assert_eq!(code, 5);
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    assert!(stdout.contains("ERROR  sandfly-mcp-server in cortex-system"), "{stdout}");
    assert!(stdout.contains("exit 5"), "{stdout}");
}

/// A one-shot HTTP server answering every request with `status` and a Kubernetes Status body.
fn refusing_api(status: u16) -> String {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let body = format!(
                r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nope","reason":"Forbidden","code":{status}}}"#
            );
            let _ = write!(
                stream,
                "HTTP/1.1 {status} No\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn api_that_refuses_us_exits_5() {
    for status in [401, 403] {
        let home = tempfile::tempdir().unwrap();
        // Found through ~/.kube/config this time.
        std::fs::create_dir(home.path().join(".kube")).unwrap();
        let kc = kubeconfig(home.path(), &refusing_api(status));
        std::fs::rename(kc, home.path().join(".kube/config")).unwrap();
        let (code, stdout, stderr) = run(bare(home.path()).arg("svc"));
        assert_eq!(code, 5, "{status}: {stderr}");
        assert!(stderr.contains(&status.to_string()) && stderr.contains(".kube/config"), "{stderr}");
        let last = lines(&stdout).pop().unwrap();
        assert!(last["recommendation"].as_str().unwrap().contains("kubectl auth"), "{last}");
    }
}
