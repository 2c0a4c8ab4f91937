//! self-heal against kube-sim, one test per case of DESIGN §2.3. Every scenario checks what a
//! user sees: the NDJSON stream (every line parses, seq increases, the result is last and
//! matches the exit code), the exit code, and the cluster afterwards — the writes kube-sim
//! recorded (`/_sim/requests`), the Events, the workload's spec and the Lease.
//!
//! `fixed`: remediated scenarios; `manual`: manual and refused outcomes (no write at all);
//! `guard`: lock, breaker, dry run, deadline; `commands`: the subcommands and output modes;
//! `incluster`: in-cluster configuration.

mod commands;
mod fixed;
mod guard;
mod incluster;
mod manual;

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{RecordedRequest, SelfHealExt, Sim, eventually, http_get_status};

pub(crate) const NS: &str = "cortex-system";
pub(crate) const SVC: &str = "sandfly-mcp-server";
pub(crate) const DEPLOY: &str = "deployment/sandfly-mcp-server";
/// The heal lock of the demo Deployment (`safety::lease_name`).
pub(crate) const LEASE: &str = "self-heal-deployment-sandfly-mcp-server";
/// The Deployment's API path, as requests to it are recorded.
pub(crate) const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/cortex-system/deployments/sandfly-mcp-server";

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

    /// `"<action> <status>"` of every action line, in order (e.g. `"scale started"`).
    pub fn actions(&self) -> Vec<String> {
        self.events("action")
            .iter()
            .map(|a| format!("{} {}", a["action"].as_str().unwrap(), a["status"].as_str().unwrap()))
            .collect()
    }

    /// Whether a check of `kind` succeeded after the last action line (the fix is verified,
    /// not only the service seen before it).
    pub fn verified_after_action(&self, kind: &str) -> bool {
        let last_action = self.lines.iter().rposition(|l| l["event"] == "action").unwrap_or(0);
        self.lines[last_action..].iter().any(|l| l["event"] == "check" && l["check"] == kind && l["ok"] == true)
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

pub(crate) fn finish(out: Output) -> Run {
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

/// Forgets kube-sim's request record, runs self-heal, and returns the run with the requests it
/// sent (the test sends none meanwhile; kube-sim's own controllers are not recorded).
pub(crate) fn heal_recorded(sim: &Sim, args: &[&str]) -> (Run, Requests) {
    sim.clear_requests();
    let run = heal(sim, args);
    (run, Requests(sim.requests()))
}

pub(crate) fn spawn_heal(sim: &Sim, args: &[&str]) -> std::process::Child {
    sim.self_heal()
        .args(["--output", "ndjson"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What kube-sim recorded during a run.
pub(crate) struct Requests(pub Vec<RecordedRequest>);

impl Requests {
    /// Requests that could change the cluster (a write verb, not a dry run), as
    /// `METHOD path?query`. The service proxy (a probe, POST for MCP) is no write.
    pub fn writes(&self) -> Vec<String> {
        self.0.iter().filter(|r| r.is_write() && r.subresource != "proxy").map(line).collect()
    }

    /// Writes to the demo Deployment (any subresource but the proxy).
    pub fn workload_writes(&self) -> Vec<String> {
        self.writes()
            .into_iter()
            .filter(|w| w.split_whitespace().nth(1).is_some_and(|p| p.starts_with(DEPLOY_PATH)))
            .collect()
    }

    /// Dry-run writes, as `METHOD path?query`.
    pub fn dry_runs(&self) -> Vec<String> {
        self.0.iter().filter(|r| r.dry_run).map(line).collect()
    }

    /// Every request, one per line, for assertion messages.
    pub fn dump(&self) -> String {
        self.0.iter().map(|r| format!("{} {}", line(r), r.code)).collect::<Vec<_>>().join("\n")
    }

    /// Asserts that nothing was written at all (manual and refused outcomes).
    pub fn assert_no_writes(&self, run: &Run) {
        assert_eq!(self.writes(), Vec::<String>::new(), "no write at all:\n{}\n{}", self.dump(), run.dump());
    }

    /// Asserts that every write went to the demo Deployment, the Events or the heal lock:
    /// nothing else in the cluster is changed by a heal.
    pub fn assert_writes_only_to_workload_events_and_lease(&self, run: &Run) {
        let allowed = [
            DEPLOY_PATH.to_string(),
            format!("/api/v1/namespaces/{NS}/events"),
            format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"),
            format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{LEASE}"),
        ];
        for r in self.0.iter().filter(|r| r.is_write() && r.subresource != "proxy") {
            assert!(allowed.contains(&r.path), "unexpected write {}:\n{}\n{}", line(r), self.dump(), run.dump());
            assert!(r.query.split('&').any(|q| q == "fieldManager=self-heal"), "field manager self-heal: {}", line(r));
        }
    }

    /// Asserts that the demo Deployment got exactly one write that landed: a PATCH with field
    /// manager self-heal; returns it. Writes the server refused with 409 (the Deployment
    /// changed since it was read, e.g. the controller wrote its status: nothing applied) may
    /// come before it, each followed by a fresh read, as the write is decided again.
    pub fn assert_one_workload_patch(&self, run: &Run) -> &RecordedRequest {
        let writes: Vec<(usize, &RecordedRequest)> = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_write() && r.path.starts_with(DEPLOY_PATH) && r.subresource != "proxy")
            .collect();
        for &(i, conflict) in writes.iter().filter(|(_, r)| r.code == 409) {
            assert!(
                self.0[i + 1..].iter().any(|r| r.method == "GET" && r.path == DEPLOY_PATH),
                "a conflict is followed by a fresh read, not a blind resend: {}\n{}",
                line(conflict),
                self.dump()
            );
        }
        let patches: Vec<&RecordedRequest> = writes.iter().map(|(_, r)| *r).filter(|r| r.code != 409).collect();
        assert_eq!(patches.len(), 1, "one write to the Deployment:\n{}\n{}", self.dump(), run.dump());
        let p = patches[0];
        assert_eq!((p.method.as_str(), p.path.as_str()), ("PATCH", DEPLOY_PATH), "{}", self.dump());
        assert!(p.query.split('&').any(|q| q == "fieldManager=self-heal"), "field manager self-heal: {}", p.query);
        assert_eq!(p.code, 200, "{}", self.dump());
        p
    }
}

fn line(r: &RecordedRequest) -> String {
    if r.query.is_empty() { format!("{} {}", r.method, r.path) } else { format!("{} {}?{}", r.method, r.path, r.query) }
}

pub(crate) fn kubectl(sim: &Sim, args: &[&str]) -> String {
    let mut full = vec!["-n", NS];
    full.extend_from_slice(args);
    sim.kubectl_ok(&full)
}

pub(crate) fn deployment(sim: &Sim) -> Value {
    sim.get_json(NS, DEPLOY)
}

pub(crate) fn generation(sim: &Sim) -> i64 {
    deployment(sim)["metadata"]["generation"].as_i64().expect("generation")
}

pub(crate) fn rollout_done(sim: &Sim) {
    kubectl(sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
}

/// The Events self-heal wrote (source component `self-heal`), as (involved object, reason,
/// message), oldest first.
pub(crate) fn self_heal_events(sim: &Sim) -> Vec<(String, String, String)> {
    let events = sim.get_json(NS, "events");
    let mut out: Vec<(String, String, String, String)> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["source"]["component"] == "self-heal" || e["reportingComponent"] == "self-heal")
        .map(|e| {
            let o = &e["involvedObject"];
            (
                e["firstTimestamp"].as_str().unwrap_or_default().to_string()
                    + e["metadata"]["name"].as_str().unwrap_or_default(),
                format!("{}/{}", o["kind"].as_str().unwrap_or_default(), o["name"].as_str().unwrap_or_default()),
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, o, r, m)| (o, r, m)).collect()
}

/// Asserts exactly one self-heal Event, on the demo Deployment, with `reason`, whose message
/// contains `message` and names the run.
pub(crate) fn assert_one_event(sim: &Sim, run: &Run, reason: &str, message: &str) {
    let events = self_heal_events(sim);
    assert_eq!(events.len(), 1, "one Event per write: {events:?}\n{}", run.dump());
    let (object, r, m) = &events[0];
    assert_eq!(object, "Deployment/sandfly-mcp-server", "{events:?}");
    assert_eq!(r, reason, "{events:?}");
    assert!(m.contains(message), "Event message {m:?} lacks {message:?}");
    let run_id = run.lines[0]["run"].as_str().unwrap();
    assert!(m.contains(run_id), "Event message {m:?} names the run {run_id}");
}

/// The heal lock, if it exists.
pub(crate) fn lease(sim: &Sim) -> Option<Value> {
    let out = sim.kubectl(&["-n", NS, "get", "lease", LEASE, "-o", "json"]);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).expect("lease JSON"))
}

/// The remediation times the breaker counts on the Lease.
pub(crate) fn lease_remediations(lease: &Value) -> usize {
    let raw = lease["metadata"]["annotations"]["self-heal.dev/remediations"].as_str().unwrap_or("[]");
    serde_json::from_str::<Vec<String>>(raw).expect("remediations annotation is a JSON list").len()
}

/// Asserts the Lease exists, is released (no holder) and counts `n` remediations.
pub(crate) fn assert_lease_released_with(sim: &Sim, n: usize) {
    let lease = lease(sim).expect("the heal lock's Lease");
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or_default();
    assert_eq!(holder, "", "released after the run: {lease}");
    assert_eq!(lease_remediations(&lease), n, "remediations counted for the breaker: {lease}");
}

/// Pods of the demo service in JSON.
pub(crate) fn pods(sim: &Sim) -> Vec<Value> {
    sim.get_json(NS, "pods")["items"].as_array().unwrap().clone()
}

/// Waits until some pod's container shows `reason` (waiting or last terminated).
pub(crate) fn wait_for_reason(sim: &Sim, reason: &str) {
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

pub(crate) fn demo_at(replicas: u32) -> Sim {
    let sim = Sim::demo();
    if replicas != 2 {
        kubectl(&sim, &["scale", DEPLOY, &format!("--replicas={replicas}")]);
    }
    rollout_done(&sim);
    sim
}

/// Every pod of the current revision gets `env` (no old pods left to serve): scale to 0, set
/// the env, scale back to 2.
pub(crate) fn break_all_pods(sim: &Sim, env: &str) {
    kubectl(sim, &["scale", DEPLOY, "--replicas=0"]);
    rollout_done(sim);
    kubectl(sim, &["set", "env", DEPLOY, env]);
    kubectl(sim, &["scale", DEPLOY, "--replicas=2"]);
}

pub(crate) fn assert_answers(sim: &Sim) {
    let url = format!("{}/health", sim.service_url(NS, SVC));
    eventually("the service to answer", Duration::from_secs(10), || (http_get_status(&url) == Some(200)).then_some(()));
}

pub(crate) fn mcp_url(sim: &Sim) -> String {
    format!("{}/mcp", sim.service_url(NS, SVC))
}

/// Writes a manifest into the sim's scratch directory and creates it with kubectl.
pub(crate) fn create(sim: &Sim, file: &str, yaml: &str) {
    let path = sim.dir().join(file);
    std::fs::write(&path, yaml).unwrap();
    kubectl(sim, &["create", "--validate=false", "-f", path.to_str().unwrap()]);
}
