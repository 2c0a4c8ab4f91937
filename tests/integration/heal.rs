//! self-heal against kube-sim, one test per case of DESIGN §2.3: each checks the NDJSON stream
//! (every line parses, seq increases, the result is last and matches the exit code) and the
//! cluster's state afterwards.

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{SelfHealExt, Sim, eventually, http_get_status, refused};

const NS: &str = "cortex-system";
const SVC: &str = "sandfly-mcp-server";
const DEPLOY: &str = "deployment/sandfly-mcp-server";

/// One finished self-heal run: exit code, parsed NDJSON lines, stderr.
pub struct Run {
    pub code: i32,
    pub lines: Vec<Value>,
    pub stderr: String,
}

impl Run {
    /// The `result` line.
    pub fn result(&self) -> &Value {
        self.lines.last().expect("a result line")
    }

    /// Lines of one event kind.
    pub fn events(&self, kind: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["event"] == kind).collect()
    }

    /// Finding codes, in order.
    pub fn finding_codes(&self) -> Vec<String> {
        self.events("finding").iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
    }

    /// Whole stdout again, for assertion messages.
    pub fn dump(&self) -> String {
        let lines: Vec<String> = self.lines.iter().map(|l| l.to_string()).collect();
        format!("exit {}\n{}\nstderr:\n{}", self.code, lines.join("\n"), self.stderr)
    }
}

/// Keys every line has, and the extra keys each event kind has (DESIGN §2.2). A key outside
/// these is drift and fails the test.
fn schema(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "started" => &["command", "error", "url", "dry_run"],
        "progress" => &["phase", "message"],
        "finding" => &["code", "severity", "message", "evidence"],
        "plan" => &["action", "reason", "detail"],
        "action" => &["action", "status", "message", "detail"],
        "rollout" => &["desired", "updated", "ready", "available", "message"],
        "check" => &["check", "ok", "message", "latency_ms"],
        "result" => &[
            "success",
            "outcome",
            "diagnosis",
            "fix_applied",
            "fix_attempted",
            "recommendation",
            "findings",
            "duration_ms",
            "exit_code",
            "timestamp",
        ],
        _ => return None,
    })
}

/// Parses and checks an NDJSON stream against the contract.
pub fn parse_ndjson(stdout: &str, code: i32) -> Vec<Value> {
    const COMMON: &[&str] = &["v", "seq", "ts", "run", "service", "namespace", "event"];
    let mut lines = Vec::new();
    for (i, raw) in stdout.lines().enumerate() {
        let v: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("line {i} is not JSON ({e}): {raw}"));
        let obj = v.as_object().unwrap_or_else(|| panic!("line {i} is not an object: {raw}"));
        let kind = obj["event"].as_str().unwrap_or_else(|| panic!("line {i} has no event: {raw}"));
        let extra = schema(kind).unwrap_or_else(|| panic!("unknown event kind {kind:?}: {raw}"));
        for key in COMMON.iter().chain(extra) {
            assert!(obj.contains_key(*key), "line {i} ({kind}) lacks {key:?}: {raw}");
        }
        for key in obj.keys() {
            assert!(
                COMMON.contains(&key.as_str()) || extra.contains(&key.as_str()),
                "line {i} ({kind}) has unknown key {key:?}"
            );
        }
        assert_eq!(obj["v"], 1);
        assert_eq!(obj["seq"].as_u64(), Some(i as u64 + 1), "seq must count 1, 2, 3...: {raw}");
        lines.push(v);
    }
    assert!(!lines.is_empty(), "no output at all");
    assert_eq!(lines[0]["event"], "started", "first line must be started");
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "result", "last line must be the result");
    assert_eq!(lines.iter().filter(|l| l["event"] == "result").count(), 1, "exactly one result");
    assert_eq!(last["exit_code"].as_i64(), Some(code as i64), "result exit_code matches the process");
    assert_eq!(last["success"].as_bool(), Some(code == 0), "success iff exit 0");
    let ts = last["timestamp"].as_str().unwrap();
    assert!(ts.len() == 20 && ts.ends_with('Z'), "timestamp YYYY-MM-DDTHH:MM:SSZ: {ts}");
    lines
}

fn finish(out: Output) -> Run {
    let code = out.status.code().expect("self-heal exited by signal");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let lines = parse_ndjson(&stdout, code);
    Run { code, lines, stderr }
}

/// Runs `self-heal <args>` in NDJSON mode against the sim.
pub fn heal(sim: &Sim, args: &[&str]) -> Run {
    finish(sim.self_heal().args(["--output", "ndjson"]).args(args).output().expect("run self-heal"))
}

fn spawn_heal(sim: &Sim, args: &[&str]) -> std::process::Child {
    sim.self_heal()
        .args(["--output", "ndjson"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn kubectl(sim: &Sim, args: &[&str]) -> String {
    let mut full = vec!["-n", NS];
    full.extend_from_slice(args);
    sim.kubectl_ok(&full)
}

fn deployment(sim: &Sim) -> Value {
    sim.get_json(NS, DEPLOY)
}

fn rollout_done(sim: &Sim) {
    kubectl(sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
}

/// Pods of the demo service in JSON.
fn pods(sim: &Sim) -> Vec<Value> {
    sim.get_json(NS, "pods")["items"].as_array().unwrap().clone()
}

/// Waits until some pod's container shows `reason` (waiting or last terminated).
fn wait_for_reason(sim: &Sim, reason: &str) {
    eventually(&format!("a pod in {reason}"), Duration::from_secs(30), || {
        pods(sim)
            .iter()
            .any(|p| {
                p["status"]["containerStatuses"].as_array().is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c["state"]["waiting"]["reason"] == reason
                            || c["lastState"]["terminated"]["reason"] == reason
                            || c["state"]["terminated"]["reason"] == reason
                    })
                }) || p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["reason"] == reason))
            })
            .then_some(())
    });
}

fn demo_at(replicas: u32) -> Sim {
    let sim = Sim::demo();
    if replicas != 2 {
        kubectl(&sim, &["scale", DEPLOY, &format!("--replicas={replicas}")]);
    }
    rollout_done(&sim);
    sim
}

/// Every pod of the current revision gets `env` (no old pods left to serve): scale to 0, set
/// the env, scale back to 2.
fn break_all_pods(sim: &Sim, env: &str) {
    kubectl(sim, &["scale", DEPLOY, "--replicas=0"]);
    rollout_done(sim);
    kubectl(sim, &["set", "env", DEPLOY, env]);
    kubectl(sim, &["scale", DEPLOY, "--replicas=2"]);
}

fn assert_answers(sim: &Sim) {
    let url = format!("{}/health", sim.service_url(NS, SVC));
    eventually("the service to answer", Duration::from_secs(10), || (http_get_status(&url) == Some(200)).then_some(()));
}

fn mcp_url(sim: &Sim) -> String {
    format!("{}/mcp", sim.service_url(NS, SVC))
}

#[test]
fn scaled_to_zero_from_three_is_healed_back_to_three() {
    let sim = demo_at(3);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));

    let run = heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert!(run.finding_codes().contains(&"ScaledToZero".to_string()), "{}", run.dump());
    let plan = &run.events("plan")[0];
    assert_eq!(plan["action"], "scale");
    assert_eq!(deployment(&sim)["spec"]["replicas"], 3, "back to the remembered 3, not 1");
    assert_eq!(
        deployment(&sim)["metadata"]["annotations"]["self-heal.dev/last-replicas"],
        "3",
        "the count is remembered in the scale's own request"
    );
    assert!(run.events("check").iter().any(|c| c["ok"] == true && c["check"] == "http"), "{}", run.dump());
    assert_answers(&sim);
}

/// (method, path) of every request self-heal sent, in order, from its debug log.
fn requests(run: &Run) -> Vec<(String, String)> {
    run.stderr
        .lines()
        .filter_map(|l| {
            let rest = l.split("request method=").nth(1)?;
            let (method, uri) = rest.split_once(" uri=")?;
            let path = uri.split("://").nth(1).map_or(uri, |u| &u[u.find('/').unwrap_or(u.len())..]);
            Some((method.to_string(), path.split('?').next().unwrap_or(path).to_string()))
        })
        .collect()
}

#[test]
fn a_free_lock_is_followed_by_the_fix_without_reading_again() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));

    let out = sim
        .self_heal()
        .env("RUST_LOG", "self_heal::client=debug")
        .args(["--output", "ndjson", "heal", SVC, "connect ECONNREFUSED", &url])
        .output()
        .unwrap();
    let run = finish(out);
    assert_eq!(run.code, 0, "{}", run.dump());
    let sent = requests(&run);
    assert!(!sent.is_empty(), "the debug log names every request: {}", run.stderr);
    assert!(sent.iter().all(|(_, p)| p != "/version"), "no pre-flight request: {sent:?}");
    assert!(
        sent.iter().all(|(_, p)| !p.contains("/secrets") && !p.contains("/configmaps")),
        "no Secret or ConfigMap is read: {sent:?}"
    );
    let first_write = sent.iter().position(|(m, _)| m != "GET").unwrap();
    assert!(sent[first_write].1.contains("/leases"), "the Lease is the first write: {sent:?}");
    assert_eq!(
        sent[first_write + 1],
        ("PATCH".to_string(), format!("/apis/apps/v1/namespaces/{NS}/deployments/{SVC}")),
        "the scale follows the Lease at once (no second diagnosis, no read first): {sent:?}"
    );
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2);
}

#[test]
fn deleted_pods_are_waited_for_not_restarted() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=1500ms"]);
    rollout_done(&sim);
    let before = deployment(&sim)["metadata"]["generation"].clone();
    let annotations = deployment(&sim)["metadata"]["annotations"].clone();
    kubectl(&sim, &["delete", "pods", "-l", "app=sandfly-mcp-server", "--wait=false"]);

    let run = heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.events("action").iter().all(|a| a["action"] == "wait"), "no write for deleted pods: {}", run.dump());
    assert_eq!(deployment(&sim)["metadata"]["generation"], before, "the Deployment was not touched");
    assert_eq!(deployment(&sim)["metadata"]["annotations"], annotations, "nothing written for a wait");
    assert_answers(&sim);
}

#[test]
fn crash_loop_that_clears_after_a_restart_is_restarted() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_CRASH=until-restart");
    wait_for_reason(&sim, "CrashLoopBackOff");

    let run = heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert!(run.finding_codes().contains(&"CrashLoopBackOff".to_string()), "{}", run.dump());
    assert_eq!(run.events("plan")[0]["action"], "restart");
    let template = &deployment(&sim)["spec"]["template"]["metadata"]["annotations"];
    assert!(template["kubectl.kubernetes.io/restartedAt"].is_string(), "kubectl's restart annotation");
    assert_eq!(
        deployment(&sim)["metadata"]["annotations"]["self-heal.dev/last-replicas"],
        "2",
        "in the restart's patch"
    );
    assert!(!run.events("rollout").is_empty(), "progress while waiting: {}", run.dump());
    assert_answers(&sim);
}

#[test]
fn persistent_crash_loop_is_not_healed_and_says_why() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_CRASH=1");
    wait_for_reason(&sim, "CrashLoopBackOff");

    let run = heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "not_healed");
    let text = run.lines.iter().map(|l| l.to_string()).collect::<String>();
    assert!(
        text.contains("exit code 1") || text.contains("\"exit_code\":1") || text.contains("exitCode"),
        "{}",
        run.dump()
    );
    assert!(text.contains("connection to database failed"), "the container's error log line: {}", run.dump());
    assert!(run.result()["fix_attempted"].is_string(), "{}", run.dump());
}

#[test]
fn image_pull_failure_needs_a_human_and_names_the_undo() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "image", DEPLOY, "server=invalid-image:latest"]);
    wait_for_reason(&sim, "ImagePullBackOff");

    let run = heal(&sim, &["heal", SVC, "502 Bad Gateway", &mcp_url(&sim)]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("invalid-image:latest"), "{rec}");
    assert!(rec.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"), "{rec}");
    let image = deployment(&sim)["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image, "invalid-image:latest", "nothing rolled back without --allow rollback");
}

#[test]
fn image_pull_failure_is_rolled_back_when_allowed() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "image", DEPLOY, "server=invalid-image:latest"]);
    wait_for_reason(&sim, "ImagePullBackOff");

    let run = heal(&sim, &["--allow", "rollback", "heal", SVC, "502 Bad Gateway", &mcp_url(&sim)]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.events("plan")[0]["action"], "rollback");
    let image = deployment(&sim)["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image, "sim/mcp-server:1");
    rollout_done(&sim);
    assert_answers(&sim);
}

#[test]
fn oom_killed_needs_a_human_and_names_the_memory_limit() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "resources", DEPLOY, "-c", "server", "--limits=memory=64Mi"]);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_OOM=1"]);
    wait_for_reason(&sim, "OOMKilled");

    let run = heal(&sim, &["heal", SVC, "connection reset", &mcp_url(&sim)]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert!(run.finding_codes().contains(&"OOMKilled".to_string()), "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("64Mi"), "names the memory limit: {rec}");
}

#[test]
fn missing_configmap_needs_a_human_and_names_it() {
    let sim = demo_at(2);
    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"server","envFrom":[{"configMapRef":{"name":"sandfly-config"}}]}]}}}}"#;
    kubectl(&sim, &["patch", DEPLOY, "--type=strategic", "-p", patch]);
    wait_for_reason(&sim, "CreateContainerConfigError");

    let run = heal(&sim, &["heal", SVC, "", &mcp_url(&sim)]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert!(run.finding_codes().contains(&"CreateContainerConfigError".to_string()), "{}", run.dump());
    assert!(run.result()["recommendation"].as_str().unwrap().contains("sandfly-config"), "{}", run.dump());
}

#[test]
fn unschedulable_pods_need_a_human() {
    let sim = demo_at(2);
    kubectl(&sim, &["patch", DEPLOY, "-p", r#"{"spec":{"template":{"spec":{"nodeSelector":{"disktype":"ssd"}}}}}"#]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    rollout_done(&sim);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
    wait_for_reason(&sim, "Unschedulable");

    let run = heal(&sim, &["heal", SVC, "", &mcp_url(&sim)]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert!(run.finding_codes().contains(&"Unschedulable".to_string()), "{}", run.dump());
    assert!(run.result()["recommendation"].as_str().unwrap().contains("disktype"), "{}", run.dump());
}

#[test]
fn selector_mismatch_needs_a_human() {
    let sim = demo_at(2);
    kubectl(&sim, &["patch", "service", SVC, "-p", r#"{"spec":{"selector":{"app":"sandfly-mcp-server-v2"}}}"#]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));

    let run = heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert!(run.finding_codes().contains(&"SelectorMismatch".to_string()), "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("sandfly-mcp-server-v2"), "{rec}");
}

#[test]
fn replicas_owned_by_an_autoscaler_are_refused() {
    let sim = demo_at(2);
    let hpa = sim.dir().join("hpa.yaml");
    std::fs::write(
        &hpa,
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: sandfly\n  namespace: cortex-system\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: sandfly-mcp-server\n  minReplicas: 1\n  maxReplicas: 4\n",
    )
    .unwrap();
    kubectl(&sim, &["create", "--validate=false", "-f", hpa.to_str().unwrap()]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);

    let run = heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
    assert_eq!(run.code, 4, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "refused");
    assert!(run.finding_codes().contains(&"ReplicasManagedExternally".to_string()), "{}", run.dump());
    assert_eq!(deployment(&sim)["spec"]["replicas"].as_i64().unwrap_or(0), 0, "left to the autoscaler");
}

#[test]
fn two_concurrent_heals_make_one_remediation() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    let a = spawn_heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    let b = spawn_heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    let runs = [finish(a.wait_with_output().unwrap()), finish(b.wait_with_output().unwrap())];
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.dump());
    }
    let scales: usize = runs
        .iter()
        .map(|r| r.events("action").iter().filter(|a| a["action"] == "scale" && a["status"] == "succeeded").count())
        .sum();
    assert_eq!(scales, 1, "exactly one scale between the two runs:\n{}\n---\n{}", runs[0].dump(), runs[1].dump());
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2);
}

#[test]
fn breaker_refuses_after_the_allowed_remediations() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_CRASH=1");
    wait_for_reason(&sim, "CrashLoopBackOff");
    let args = ["--max-remediations", "1", "heal", SVC, "connect ECONNREFUSED"];

    let first = heal(&sim, &args);
    assert_eq!(first.code, 1, "{}", first.dump());
    let second = heal(&sim, &args);
    assert_eq!(second.code, 4, "{}", second.dump());
    assert_eq!(second.result()["outcome"], "refused");
    assert!(second.events("action").iter().all(|a| a["action"] != "restart"), "{}", second.dump());
}

#[test]
fn dry_run_changes_nothing() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let before = deployment(&sim);

    let run = heal(&sim, &["--dry-run", "heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
    assert!(run.events("plan").iter().any(|p| p["action"] == "scale"), "{}", run.dump());
    assert_eq!(run.events("started")[0]["dry_run"], true);
    let after = deployment(&sim);
    assert_eq!(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"], "{}", run.dump());
    assert!(refused(&mcp_url(&sim)), "still down after a dry run");
}

#[test]
fn healthy_service_exits_zero_without_writing() {
    let sim = demo_at(2);
    let before = deployment(&sim);
    let run = heal(&sim, &["heal", SVC, "timeout", &mcp_url(&sim)]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healthy");
    assert!(run.events("action").is_empty(), "{}", run.dump());
    assert_eq!(deployment(&sim)["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
    let leases = sim.get_json(NS, "leases");
    assert_eq!(leases["items"].as_array().map(Vec::len), Some(0), "no lock taken for a healthy service");
}

#[test]
fn deadline_exceeded_exits_124_with_a_result() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=60s"]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let run = heal(&sim, &["--timeout", "3s", "heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
    assert_eq!(run.code, 124, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "timeout");
    assert!(run.result()["duration_ms"].as_u64().unwrap() < 10_000);
}

#[test]
fn legacy_output_is_progress_lines_then_one_json_line() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let out =
        sim.self_heal().args(["--output", "legacy", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let (last, progress) = lines.split_last().unwrap();
    assert!(!progress.is_empty());
    for line in progress {
        assert!(line.starts_with("PROGRESS: "), "{line}");
    }
    let result: Value = serde_json::from_str(last).expect("last line is JSON");
    assert_eq!(result["success"], true);
    for key in ["diagnosis", "fix_applied", "fix_attempted", "recommendation", "timestamp"] {
        assert!(result.get(key).is_some(), "legacy key {key} kept: {last}");
    }
}

#[test]
fn unknown_service_exits_3() {
    let sim = demo_at(2);
    let run = heal(&sim, &["diagnose", "no-such-service"]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert!(run.finding_codes().contains(&"ServiceNotFound".to_string()), "{}", run.dump());
}

#[test]
fn alias_service_resolves_to_its_deployment() {
    let sim = demo_at(2);
    let svc = sim.dir().join("alias.yaml");
    std::fs::write(
        &svc,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: sandfly\n  namespace: cortex-system\nspec:\n  selector:\n    app: sandfly-mcp-server\n  ports:\n  - name: http\n    port: 8080\n    targetPort: 3000\n",
    )
    .unwrap();
    kubectl(&sim, &["create", "--validate=false", "-f", svc.to_str().unwrap()]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);

    let run = heal(&sim, &["heal", "sandfly"]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2);
}

#[test]
fn mcp_probe_through_the_api_server_proxy_when_dns_does_not_resolve() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = "http://sandfly-mcp-server.cortex-system.svc.cluster.local:3000/mcp";
    let run = heal(&sim, &["--probe", "mcp", SVC, "connect ECONNREFUSED", url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.events("check").iter().any(|c| c["check"] == "mcp" && c["ok"] == true), "{}", run.dump());
}

#[test]
fn diagnose_changes_nothing_and_reports_problems_with_exit_1() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let before = deployment(&sim);
    let run = heal(&sim, &["diagnose", SVC]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert!(run.finding_codes().contains(&"ScaledToZero".to_string()));
    assert_eq!(deployment(&sim)["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
}

#[test]
fn service_without_any_workload_needs_a_human() {
    let sim = demo_at(2);
    let svc = sim.dir().join("orphan.yaml");
    std::fs::write(
        &svc,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: orphan\n  namespace: cortex-system\nspec:\n  selector:\n    tier: nothing-runs-this\n  ports:\n  - port: 80\n",
    )
    .unwrap();
    kubectl(&sim, &["create", "-f", svc.to_str().unwrap()]);

    let run = heal(&sim, &["heal", "orphan", "connect ECONNREFUSED"]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert!(run.finding_codes().contains(&"WorkloadNotFound".to_string()), "{}", run.dump());
    assert!(run.events("action").is_empty(), "nothing to act on: {}", run.dump());
}

#[test]
fn a_new_revision_that_crashes_while_the_old_one_serves_is_rolled_back_not_restarted() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_CRASH=1"]);
    wait_for_reason(&sim, "CrashLoopBackOff");
    let url = mcp_url(&sim);

    let run = heal(&sim, &["heal", SVC, "502 Bad Gateway", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"), "{rec}");
    assert!(run.events("action").is_empty(), "no restart of a broken revision: {}", run.dump());

    let run = heal(&sim, &["--allow", "rollback", "heal", SVC, "502 Bad Gateway", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.events("plan")[0]["action"], "rollback");
    let env = &deployment(&sim)["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(!env.to_string().contains("SIM_CRASH"), "back to the revision without the crash: {env}");
    assert_answers(&sim);
}

#[test]
fn dead_mcp_behind_a_healthy_health_endpoint_is_restarted_with_the_mcp_probe() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_MCP_DOWN=until-restart");
    rollout_done(&sim);
    let health = format!("{}/health", sim.service_url(NS, SVC));
    assert_eq!(http_get_status(&health), Some(200), "the health endpoint says healthy");

    let run = heal(&sim, &["--probe", "mcp", "heal", SVC, "MCP error -32603", &mcp_url(&sim)]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.finding_codes().contains(&"Unreachable".to_string()), "{}", run.dump());
    assert_eq!(run.events("plan").last().unwrap()["action"], "restart", "{}", run.dump());
    let checks = run.events("check");
    assert!(checks.iter().any(|c| c["check"] == "mcp" && c["ok"] == false), "{}", run.dump());
    assert!(checks.last().is_some_and(|c| c["check"] == "mcp" && c["ok"] == true), "{}", run.dump());
}
