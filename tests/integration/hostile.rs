//! Hostile inputs (issue 11, SECURITY.md): objects anyone who can deploy a pod controls
//! (labels, ownerReferences, volume names, logs, events), URLs and environment variables from
//! whoever spawns self-heal. Each test is a finding that once held: self-heal must never act
//! on the wrong object, probe what it was not asked to, leak what it reads, or grow without
//! bound. Most run against a scripted loopback API server that records every request
//! ([`fake::FakeApi`]); the lock tests run against kube-sim.

mod fake;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::heal::{Run, parse_ndjson};
use crate::util::{SelfHealExt, Sim, eventually};
use fake::{Answer, FakeApi, NS, list};

const EVIL: &str = "../../../../api/v1/namespaces/kube-system/secrets/admin-token?x=";

/// self-heal against `api` with a clean environment plus `env`.
fn self_heal(api: &FakeApi, home: &Path) -> Command {
    let mut cmd = crate::util::self_heal_bare(home);
    cmd.env("KUBECONFIG", api.kubeconfig(home));
    cmd
}

fn finish(out: std::process::Output) -> Run {
    let code = out.status.code().expect("exited, not killed");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    Run { code, lines: parse_ndjson(&stdout, code), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn run(cmd: &mut Command) -> Run {
    finish(cmd.arg("-o").arg("ndjson").output().expect("run self-heal"))
}

/// No request path or query names what the hostile names point at.
fn assert_no_escape(api: &FakeApi) {
    for r in api.requests() {
        let lower = r.uri.to_ascii_lowercase();
        assert!(
            !lower.contains("..") && !lower.contains("kube-system") && !lower.contains("secrets/admin-token"),
            "a name read from the cluster reached a request: {} {}",
            r.method,
            r.uri
        );
    }
}

/// Runs self-heal under `/usr/bin/time` and returns the run and its peak RSS in KiB.
fn run_measured(api: &FakeApi, home: &Path, args: &[&str]) -> (Run, u64) {
    let rss_file = home.join("rss");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_self-heal"))
        .args(["-o", "ndjson"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("KUBECONFIG", api.kubeconfig(home))
        .stdin(Stdio::null())
        .output()
        .expect("run self-heal under /usr/bin/time");
    let rss = std::fs::read_to_string(&rss_file).expect("time wrote the peak RSS");
    let kib: u64 = rss.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("RSS: {rss}"));
    (finish(out), kib)
}

/// Service `web` → Deployment `web` → one pod, with `f` applied to the routes.
fn cluster(f: impl FnOnce(&mut BTreeMap<String, Answer>)) -> FakeApi {
    let mut routes = fake::healthy("web", "web", "10.96.0.10");
    f(&mut routes);
    FakeApi::start(routes)
}

fn pods_path() -> String {
    format!("/api/v1/namespaces/{NS}/pods")
}

#[test]
fn a_forged_owner_reference_never_lands_the_fix_on_another_deployment() {
    let home = tempfile::tempdir().unwrap();
    let api = cluster(|r| {
        // The victim: a real Deployment and ReplicaSet with their own uids.
        r.insert(
            format!("/apis/apps/v1/namespaces/{NS}/deployments"),
            Answer::Json(200, list(vec![fake::deployment("victim", "victim")])),
        );
        r.insert(
            format!("/apis/apps/v1/namespaces/{NS}/replicasets"),
            Answer::Json(200, list(vec![fake::replica_set("victim", "victim")])),
        );
        r.insert(
            format!("/apis/apps/v1/namespaces/{NS}/deployments/victim"),
            Answer::Json(200, fake::deployment("victim", "victim")),
        );
        // A crash-looping pod labelled app=web claims the victim's ReplicaSet, uid made up.
        let evil = fake::crashing(fake::pod("evil", "web", "victim-5d8f", "forged-uid"));
        r.insert(pods_path(), Answer::Json(200, list(vec![evil])));
    });
    let out = run(self_heal(&api, home.path()).args(["heal", "web", "-n", NS]));
    assert_eq!(out.code, 3, "{}", out.dump());
    assert!(api.writes().is_empty(), "nothing is written: {:?}", api.writes());
    assert!(!api.requests().iter().any(|r| r.uri.contains("deployments/victim")), "{:?}", api.requests());
    let finding = out.events("finding");
    assert_eq!(finding.len(), 1, "{}", out.dump());
    assert_eq!(finding[0]["code"], "WorkloadNotFound");
    let message = finding[0]["message"].as_str().unwrap();
    assert!(message.contains("\"victim-5d8f\"") && message.contains("forged-uid"), "names the broken link: {message}");
    assert_eq!(out.result()["outcome"], "manual");
}

#[test]
fn path_escaping_names_never_reach_a_request() {
    // In an ownerReference: a broken link, requested nowhere.
    let home = tempfile::tempdir().unwrap();
    let api = cluster(|r| {
        r.insert(pods_path(), Answer::Json(200, list(vec![fake::crashing(fake::pod("p", "web", EVIL, "r-web"))])));
    });
    let out = run(self_heal(&api, home.path()).args(["heal", "web", "-n", NS]));
    assert_eq!(out.code, 3, "{}", out.dump());
    assert_no_escape(&api);
    assert!(api.writes().is_empty(), "{:?}", api.writes());

    // In a pod's name, a volume, an env reference and an event, on a properly linked pod.
    let api = cluster(|r| {
        let mut pod = fake::crashing(fake::pod(EVIL, "web", "web-5d8f", "r-web"));
        pod["spec"]["volumes"] =
            json!([{"name":"v","secret":{"secretName":EVIL}},{"name":"c","configMap":{"name":EVIL}}]);
        pod["spec"]["containers"][0]["env"] =
            json!([{"name":"X","valueFrom":{"configMapKeyRef":{"name":EVIL,"key":"k"}}}]);
        let ok = fake::crashing(fake::pod("web-5d8f-abcde", "web", "web-5d8f", "r-web"));
        r.insert(pods_path(), Answer::Json(200, list(vec![pod, ok])));
        let event = json!({"kind":"Event","apiVersion":"v1","metadata":{"name":"e1","namespace":NS},
            "involvedObject":{"kind":"ReplicaSet","name":EVIL,"namespace":NS},"reason":"ScalingReplicaSet","type":"Normal",
            "message":format!("Scaled down replica set {EVIL} from 3 to 0"),"count":1,
            "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:00:00Z"});
        r.insert(format!("/api/v1/namespaces/{NS}/events"), Answer::Json(200, list(vec![event])));
    });
    let out = run(self_heal(&api, home.path()).args(["diagnose", "web", "-n", NS]));
    assert_eq!(out.code, 1, "problems found: {}", out.dump());
    assert_no_escape(&api);
}

#[test]
fn a_shell_metacharacter_secret_name_is_quoted_never_a_command() {
    let home = tempfile::tempdir().unwrap();
    let hostile = "x;$(touch${IFS}pwned)";
    let api = cluster(|r| {
        let mut pod = fake::pod("web-5d8f-abcde", "web", "web-5d8f", "r-web");
        pod["spec"]["volumes"] = json!([{"name":"v","secret":{"secretName":hostile}}]);
        pod["status"]["phase"] = json!("Pending");
        pod["status"]["conditions"] = json!([{"type":"Ready","status":"False"}]);
        pod["status"]["containerStatuses"][0] = json!({"name":"server","ready":false,"restartCount":0,"image":"nginx",
            "imageID":"","started":false,"state":{"waiting":{"reason":"CreateContainerConfigError",
            "message":format!("secret \"{hostile}\" not found")}}});
        r.insert(pods_path(), Answer::Json(200, list(vec![pod])));
    });
    let out = run(self_heal(&api, home.path()).args(["heal", "web", "-n", NS]));
    assert_eq!(out.code, 3, "{}", out.dump());
    let rec = out.result()["recommendation"].as_str().unwrap_or_default().to_string();
    assert!(rec.contains(&format!("'{hostile}'")), "the name is shown quoted: {rec}");
    assert!(!rec.contains("kubectl"), "no runnable command for an invalid name: {rec}");
    assert!(!rec.replace(&format!("'{hostile}'"), "").contains("$("), "nothing unquoted: {rec}");
    assert!(api.writes().is_empty(), "{:?}", api.writes());
}

#[test]
fn an_unrelated_url_never_gets_a_healthy_service_restarted() {
    let home = tempfile::tempdir().unwrap();
    let api = cluster(|_| {});
    for url in ["http://127.0.0.1:1/", "http://localhost:1/x", "http://example.invalid/"] {
        let out = run(self_heal(&api, home.path()).args(["heal", "web", "connect ECONNREFUSED", url, "-n", NS]));
        assert_eq!(out.code, 0, "{url}: {}", out.dump());
        assert_eq!(out.result()["outcome"], "healthy", "{url}");
    }
    assert!(api.writes().is_empty(), "no write at all: {:?}", api.writes());
    // Verification went to the Service, through the API server.
    assert!(
        api.requests().iter().any(|r| r.uri.starts_with(&format!("/api/v1/namespaces/{NS}/services/web:80/proxy/")))
    );
}

/// A loopback HTTP server that answers every request with `status` and `extra` headers and
/// records each request head.
fn recording_server(status: &'static str, extra: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                head.push_str(&line);
                line.clear();
            }
            log.lock().unwrap().push(head);
            let _ = write!(stream, "HTTP/1.1 {status}\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, seen)
}

#[test]
fn redirects_are_not_followed_and_url_credentials_never_sent() {
    let home = tempfile::tempdir().unwrap();
    let (elsewhere, elsewhere_seen) = recording_server("200 OK", String::new());
    let (svc_port, svc_seen) =
        recording_server("302 Found", format!("location: http://127.0.0.1:{elsewhere}/stolen\r\n"));
    // The Service's ClusterIP is loopback here, so the URL names the Service and is probed.
    let mut routes = fake::healthy("web", "web", "127.0.0.1");
    routes.remove(&format!("/api/v1/namespaces/{NS}/services/web:80/proxy/"));
    let api = FakeApi::start(routes);
    let url = format!("http://admin:hunter2@127.0.0.1:{svc_port}/health");
    let out = run(self_heal(&api, home.path()).args(["verify", "web", "e", &url, "-n", NS]));
    assert_eq!(out.code, 0, "a redirect is an answer (below 500): {}", out.dump());
    let heads = svc_seen.lock().unwrap().clone();
    assert!(!heads.is_empty(), "the Service's own address was probed");
    for head in &heads {
        assert!(!head.to_ascii_lowercase().contains("authorization"), "credentials sent: {head}");
        assert!(!head.to_ascii_lowercase().contains("proxy-"), "{head}");
    }
    assert!(elsewhere_seen.lock().unwrap().is_empty(), "the redirect was followed");
    let all = out.dump();
    assert!(!all.contains("hunter2"), "credentials shown: {all}");
}

#[test]
fn a_gigabyte_answer_is_read_only_in_part() {
    let home = tempfile::tempdir().unwrap();
    let api = cluster(|r| {
        r.insert(format!("/api/v1/namespaces/{NS}/services/web:80/proxy/"), Answer::Flood(1 << 30, "application/json"));
    });
    // The http probe through the service proxy: 200 with a 1 GiB body is alive.
    let (out, kib) = run_measured(&api, home.path(), &["verify", "web", "-n", NS, "--probe", "http"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB with a 1 GiB body");
    // The MCP probe: each answer is a 1 GiB non-JSON body; not alive, and memory stays flat.
    let (out, kib) = run_measured(&api, home.path(), &["verify", "web", "-n", NS, "--probe", "mcp", "--timeout", "3s"]);
    assert!([1, 124].contains(&out.code), "{}", out.dump());
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB with 1 GiB MCP answers");
    assert!(api.writes().iter().all(|w| w.uri.contains("/proxy/")), "only probes: {:?}", api.writes());
}

#[test]
fn a_300_megabyte_log_line_is_read_only_in_part() {
    let home = tempfile::tempdir().unwrap();
    let pod = "web-5d8f-abcde";
    let api = cluster(|r| {
        r.insert(
            pods_path(),
            Answer::Json(200, list(vec![fake::crashing(fake::pod(pod, "web", "web-5d8f", "r-web"))])),
        );
        r.insert(format!("{}/{pod}/log", pods_path()), Answer::Flood(300 << 20, "text/plain"));
    });
    let (out, kib) = run_measured(&api, home.path(), &["diagnose", "web", "-n", NS]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB with a 300 MiB log line");
    let logs: Vec<_> = api.requests().into_iter().filter(|r| r.uri.contains("/log?")).collect();
    assert!(!logs.is_empty(), "the logs were read");
    assert!(logs.iter().all(|r| r.uri.contains("limitBytes=") && r.uri.contains("tailLines=")), "{logs:?}");
    // Lists are paged.
    assert!(
        api.requests().iter().any(|r| r.uri.contains("/pods?") && r.uri.contains("limit=")),
        "{:?}",
        api.requests()
    );
}

#[test]
fn environment_variables_cannot_choose_the_cluster_or_leak_files() {
    let home = tempfile::tempdir().unwrap();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let first_lines: Vec<&str> = passwd.lines().take(3).filter(|l| l.len() > 4).collect();
    let leaks =
        |out: &Run| first_lines.iter().any(|l| out.dump().contains(l) || out.dump().contains(&l[..l.len().min(10)]));
    // SELF_HEAL_KUBECONFIG is not an option any more: nothing is read from it.
    let out = run(crate::util::self_heal_bare(home.path()).env("SELF_HEAL_KUBECONFIG", "/etc/passwd").arg("web"));
    assert_eq!(out.code, 5, "{}", out.dump());
    assert!(!leaks(&out), "{}", out.dump());
    assert!(!out.dump().contains("/etc/passwd"), "{}", out.dump());
    // KUBECONFIG keeps kubectl's meaning, but a file that is no kubeconfig is never quoted.
    let out = run(crate::util::self_heal_bare(home.path()).env("KUBECONFIG", "/etc/passwd").arg("web"));
    assert_eq!(out.code, 5, "{}", out.dump());
    assert!(out.stderr.contains("not a valid kubeconfig"), "{}", out.stderr);
    assert!(!leaks(&out), "{}", out.dump());
    // SELF_HEAL_CONTEXT does not switch clusters either.
    let api = cluster(|_| {});
    let out =
        run(self_heal(&api, home.path()).env("SELF_HEAL_CONTEXT", "elsewhere").args(["diagnose", "web", "-n", NS]));
    assert_eq!(out.code, 0, "{}", out.dump());
}

#[test]
fn timeouts_beyond_the_cap_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for t in ["100y", "300000000000y", "2h"] {
        for (flag, env) in [(true, false), (false, true)] {
            let mut cmd = crate::util::self_heal_bare(home.path());
            if flag {
                cmd.args(["--timeout", t]);
            }
            if env {
                cmd.env("SELF_HEAL_TIMEOUT", t);
            }
            let out = cmd.arg("web").output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{t} (flag {flag}): {stderr}");
            assert!(stderr.contains("--timeout") && !stderr.contains("panicked"), "{stderr}");
            assert!(out.stdout.is_empty(), "nothing ran");
        }
    }
}

/// Runs self-heal through `sh` with stdout and/or stderr closed.
fn closed(redirect: &str, env: &[(&str, &str)], args: &[&str]) -> i32 {
    let home = tempfile::tempdir().unwrap();
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c").arg(format!("exec \"$0\" \"$@\" {redirect}")).arg(env!("CARGO_BIN_EXE_self-heal")).args(args);
    sh.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home.path());
    for (k, v) in env {
        sh.env(k, v);
    }
    sh.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    sh.status().unwrap().code().expect("exited, not killed")
}

#[test]
fn closed_stdout_or_stderr_keeps_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\n\
         users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
    )
    .unwrap();
    let kc = kc.to_str().unwrap();
    for redirect in ["2>&-", ">&- 2>&-", ">&-"] {
        assert_eq!(closed(redirect, &[], &["Bad_Name"]), 2, "usage error with {redirect}");
        assert_eq!(closed(redirect, &[("KUBECONFIG", kc)], &["web"]), 5, "unreachable API with {redirect}");
        assert_eq!(closed(redirect, &[], &["--timeout", "300000000000y", "web"]), 2, "{redirect}");
    }
}

/// A Lease held by someone else for an hour.
fn held_lease(name: &str) -> String {
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    format!(
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: {name}\n  namespace: cortex-system\n\
         spec:\n  holderIdentity: test-holder\n  leaseDurationSeconds: 3600\n  acquireTime: '{now}'\n  renewTime: '{now}'\n"
    )
}

#[test]
fn two_services_of_one_deployment_get_one_lock_and_one_remediation() {
    const SVC_NS: &str = "cortex-system";
    let sim = Sim::demo();
    let kubectl = |args: &[&str]| {
        let mut full = vec!["-n", SVC_NS];
        full.extend_from_slice(args);
        sim.kubectl_ok(&full)
    };
    // A second Service selecting the same pods.
    let mut alias = sim.get_json(SVC_NS, "service/sandfly-mcp-server");
    alias["metadata"] = json!({"name": "sandfly-alias", "namespace": SVC_NS});
    for f in ["clusterIP", "clusterIPs"] {
        alias["spec"].as_object_mut().unwrap().remove(f);
    }
    let file = sim.dir().join("alias.json");
    std::fs::write(&file, alias.to_string()).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    kubectl(&["scale", "deployment/sandfly-mcp-server", "--replicas=0"]);
    // The workload's lock is held: both runs must reach it and wait, so they surely overlap.
    let lease_name = "self-heal-deployment-sandfly-mcp-server";
    let file = sim.dir().join("lease.yaml");
    std::fs::write(&file, held_lease(lease_name)).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);

    let spawn = |svc: &str| {
        sim.self_heal()
            .args(["-o", "ndjson", "heal", svc, "-n", SVC_NS, "--timeout", "60s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut children = [spawn("sandfly-mcp-server"), spawn("sandfly-alias")];
    // Read each run's stdout until it says it is taking the lock, keeping what it printed.
    let mut readers = Vec::new();
    for child in &mut children {
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        readers.push((
            std::thread::spawn(move || {
                let mut text = String::new();
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                let mut told = false;
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if !told && line.contains("Taking the heal lock") {
                        let _ = tx.send(());
                        told = true;
                    }
                    text.push_str(&line);
                    line.clear();
                }
                text
            }),
            rx,
        ));
    }
    for (_, rx) in &readers {
        rx.recv_timeout(Duration::from_secs(30)).expect("both runs reach the lock");
    }
    // Both wait on the one lease; release it.
    kubectl(&["patch", "lease", lease_name, "--type=merge", "-p", r#"{"spec":{"holderIdentity":null}}"#]);
    let mut runs = Vec::new();
    for (child, (reader, _)) in children.iter_mut().zip(readers) {
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let code = status.code().unwrap();
        runs.push(Run { code, lines: parse_ndjson(&reader.join().unwrap(), code), stderr });
    }
    let scales: usize = runs
        .iter()
        .map(|r| r.events("action").iter().filter(|a| a["action"] == "scale" && a["status"] == "succeeded").count())
        .sum();
    assert_eq!(scales, 1, "exactly one remediation:\n{}\n---\n{}", runs[0].dump(), runs[1].dump());
    for r in &runs {
        assert!([0, 1].contains(&r.code), "{}", r.dump());
    }
    let lease = sim.get_json(SVC_NS, &format!("lease/{lease_name}"));
    let times: Vec<String> =
        serde_json::from_str(lease["metadata"]["annotations"]["self-heal.dev/remediations"].as_str().unwrap()).unwrap();
    assert_eq!(times.len(), 1, "one breaker entry: {lease}");
    let leases = sim.get_json(SVC_NS, "leases");
    let names: Vec<&str> =
        leases["items"].as_array().unwrap().iter().filter_map(|l| l["metadata"]["name"].as_str()).collect();
    assert_eq!(names, [lease_name], "one lock for the workload");
    eventually("the deployment to be scaled back", Duration::from_secs(30), || {
        (sim.get_json(SVC_NS, "deployment/sandfly-mcp-server")["spec"]["replicas"].as_i64() > Some(0)).then_some(())
    });
}

#[test]
fn the_breaker_is_not_switched_off_from_the_environment() {
    let sim = Sim::demo();
    sim.kubectl_ok(&["-n", "cortex-system", "scale", "deployment/sandfly-mcp-server", "--replicas=0"]);
    let out = finish(
        sim.self_heal()
            .env("SELF_HEAL_MAX_REMEDIATIONS", "0")
            .env("SELF_HEAL_BREAKER_WINDOW", "1000h")
            .env("SELF_HEAL_ALLOW", "rollback")
            .args(["-o", "ndjson", "heal", "sandfly-mcp-server"])
            .output()
            .unwrap(),
    );
    // With SELF_HEAL_MAX_REMEDIATIONS=0 honoured the breaker would refuse (exit 4).
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(out.events("action").iter().any(|a| a["action"] == "scale"), "{}", out.dump());
}
