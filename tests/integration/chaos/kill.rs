//! `self-heal` killed (SIGKILL) or signalled (SIGTERM/SIGINT) mid-heal: the Lease is taken over
//! and the next run completes the heal without a second remediation.
//!
//! Each test kills the run by PID at a point it observes from outside (kube-sim's request
//! record, or the run's own NDJSON lines), then checks what a user can see: the next run's
//! exit code and lines, the cluster's Events and Lease, and the process table.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::remediations;
use crate::heal::{Run, heal, parse_ndjson};
use crate::util::{SelfHealExt, Sim, eventually, refused};

const NS: &str = "cortex-system";
const SVC: &str = "sandfly-mcp-server";
const DEPLOY: &str = "deployment/sandfly-mcp-server";
const LEASE: &str = "lease/self-heal-deployment-sandfly-mcp-server";

/// A running `self-heal heal` whose NDJSON lines are collected as they come.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Running {
    fn start(sim: &Sim) -> Running {
        let url = format!("{}/mcp", sim.service_url(NS, SVC));
        let mut child = sim
            .self_heal()
            .args(["--output", "ndjson", "heal", SVC, "connect ECONNREFUSED", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start self-heal");
        let stdout = child.stdout.take().unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running { child, lines, reader: Some(reader) }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until a line satisfies `f` (the run is still going).
    fn wait_line(&self, what: &str, f: impl Fn(&Value) -> bool) {
        eventually(what, Duration::from_secs(30), || {
            self.lines
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|v| f(&v))
                .then_some(())
        });
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill only sends a signal to our own child, which is not reaped yet.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0, "kill {sig} {}", self.pid());
    }

    /// Reaps the process (bounded) and returns how it ended and its whole stdout.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("self-heal did not end within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.reader.take().unwrap().join().unwrap();
        let out = self.lines.lock().unwrap().join("\n");
        (status, out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(sim: &Sim, args: &[&str]) -> String {
    let mut full = vec!["-n", NS];
    full.extend_from_slice(args);
    sim.kubectl_ok(&full)
}

fn replicas(sim: &Sim) -> i64 {
    sim.get_json(NS, DEPLOY)["spec"]["replicas"].as_i64().unwrap_or(0)
}

/// The heal lock's current holder ("" when released).
fn lease_holder(sim: &Sim) -> String {
    sim.get_json(NS, LEASE)["spec"]["holderIdentity"].as_str().unwrap_or_default().to_string()
}

/// No process of this test is left: none carries this sim's kubeconfig in its environment
/// (self-heal and anything it might start inherit it; the sim itself does not).
fn assert_no_orphan(sim: &Sim) {
    let needle = format!("KUBECONFIG={}", sim.kubeconfig().display());
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(env) = std::fs::read(entry.path().join("environ")) else { continue };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let state = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // A zombie of a kubectl just reaped by the harness may linger a moment; a live one may not.
            if !state.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                left.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
            }
        }
    }
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// Demo (2 replicas) scaled to 0, whose pods then take `ready_delay` to become ready, so the
/// heal spends that long waiting for its rollout (and the run after a kill still has
/// something to wait for, hence needs the lock).
fn scaled_to_zero(ready_delay: &str) -> Sim {
    let sim = Sim::demo();
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    kubectl(&sim, &["set", "env", DEPLOY, &format!("SIM_READY_DELAY={ready_delay}")]);
    // kube-sim scales the progress deadline by its time scale (600 s → 12 s): room for the
    // slow start-up, so that it stays a rollout to wait for, not a stalled one.
    kubectl(&sim, &["patch", DEPLOY, "-p", r#"{"spec":{"progressDeadlineSeconds":6000}}"#]);
    let url = format!("{}/mcp", sim.service_url(NS, SVC));
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));
    sim
}

/// The run after a SIGKILL: takes the dead holder's Lease over (never exit 4), completes the
/// heal, and the cluster shows at most one remediation in all.
fn next_run_completes_once(sim: &Sim, dead_holder: &str) -> Run {
    let url = format!("{}/mcp", sim.service_url(NS, SVC));
    let run = heal(sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_ne!(run.code, 4, "a dead holder must not block the next run: {}", run.dump());
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(["healed", "healthy"].contains(&run.result()["outcome"].as_str().unwrap()), "{}", run.dump());
    let took_over = run
        .events("progress")
        .into_iter()
        .find(|p| {
            p["message"].as_str().is_some_and(|m| {
                m.starts_with("Took over the heal lock from ")
                    && m.contains(dead_holder)
                    && m.contains("diagnosing afresh")
            })
        })
        .unwrap_or_else(|| panic!("says it took the lock over: {}", run.dump()));
    // The Lease lasts 15 s after its holder's last renewal; the takeover waits no longer.
    let ts = |l: &Value| l["ts"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let waited = ts(took_over).duration_since(ts(&run.lines[0]));
    assert!(waited < jiff::SignedDuration::from_secs(17), "took over after {waited:?}: {}", run.dump());
    let done = remediations(sim);
    assert!(done.len() <= 1, "one remediation at most, across both runs: {done:?}\n{}", run.dump());
    assert_eq!(replicas(sim), 2, "back to the remembered 2");
    assert_eq!(lease_holder(sim), "", "the lock is released");
    run
}

#[test]
fn killed_right_after_its_scale_write_the_next_run_takes_over_the_lease() {
    let sim = scaled_to_zero("20s");
    sim.clear_requests();
    let first = Running::start(&sim);
    eventually("the scale write", Duration::from_secs(30), || {
        sim.requests()
            .iter()
            .any(|r| r.verb == "patch" && r.resource == "deployments" && r.name == SVC && r.code == 200)
            .then_some(())
    });
    first.signal(libc::SIGKILL);
    let (status, _) = first.finish();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    assert_eq!(replicas(&sim), 2, "the write landed before the kill");
    let holder = lease_holder(&sim);
    assert!(!holder.is_empty(), "a SIGKILL leaves the Lease held");
    let lease = sim.get_json(NS, LEASE);
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 15, "{lease}");

    next_run_completes_once(&sim, &holder);
    assert_no_orphan(&sim);
}

#[test]
fn killed_at_the_lock_before_or_at_its_write_the_next_run_heals_once() {
    let sim = scaled_to_zero("20s");
    sim.clear_requests();
    let first = Running::start(&sim);
    eventually("the lock taken", Duration::from_secs(30), || {
        sim.requests().iter().any(|r| r.resource == "leases" && r.verb == "create").then_some(())
    });
    first.signal(libc::SIGKILL);
    first.finish();
    let holder = lease_holder(&sim);
    assert!(!holder.is_empty(), "a SIGKILL leaves the Lease held");

    next_run_completes_once(&sim, &holder);
    assert_no_orphan(&sim);
}

#[test]
fn killed_while_waiting_for_its_rollout_the_next_run_takes_over_and_completes() {
    let sim = scaled_to_zero("20s");
    let first = Running::start(&sim);
    first.wait_line("the wait for the rollout", |l| {
        l["event"] == "progress" && l["message"].as_str().is_some_and(|m| m.starts_with("Waiting for"))
    });
    first.signal(libc::SIGKILL);
    first.finish();
    let holder = lease_holder(&sim);
    assert!(!holder.is_empty(), "a SIGKILL leaves the Lease held");
    assert_eq!(remediations(&sim).len(), 1, "the first run had scaled and recorded it");

    let run = next_run_completes_once(&sim, &holder);
    assert!(run.events("action").iter().all(|a| a["action"] != "scale"), "no second scale: {}", run.dump());
    assert_no_orphan(&sim);
}

/// SIGTERM or SIGINT mid-heal: one result line (outcome `interrupted`) with the code a shell
/// reports, the Lease released at once (the next run does not wait), no process left.
fn signalled_mid_heal(sig: i32, code: i32) {
    let sim = scaled_to_zero("60s");
    let first = Running::start(&sim);
    first.wait_line("the wait for the rollout", |l| {
        l["event"] == "progress" && l["message"].as_str().is_some_and(|m| m.starts_with("Waiting for"))
    });
    let sent = Instant::now();
    first.signal(sig);
    let (status, stdout) = first.finish();
    assert!(sent.elapsed() < Duration::from_secs(5), "ends promptly: {:?}", sent.elapsed());
    assert_eq!(status.code(), Some(code), "{stdout}");
    let lines = parse_ndjson(&stdout, code);
    let result = lines.last().unwrap();
    assert_eq!(result["outcome"], "interrupted", "{result}");
    assert!(result["fix_attempted"].as_str().is_some_and(|f| f.contains("Scaling")), "{result}");
    assert!(result["recommendation"].as_str().is_some_and(|r| r.contains("run it again")), "{result}");
    assert_eq!(lease_holder(&sim), "", "the Lease is released, not left to expire");
    assert_no_orphan(&sim);
}

#[test]
fn sigterm_ends_with_one_result_exit_143_and_the_lease_released() {
    signalled_mid_heal(libc::SIGTERM, 143);
}

#[test]
fn sigint_ends_with_one_result_exit_130_and_the_lease_released() {
    signalled_mid_heal(libc::SIGINT, 130);
}

/// A live holder renews its Lease every 5 s, so a second run waits for it (past the 15 s a
/// dead one would block) until its own deadline, and is refused (exit 4) without acting.
#[test]
fn a_live_holder_keeps_its_lease_and_the_next_run_is_refused_at_its_deadline() {
    let sim = scaled_to_zero("60s");
    let first = Running::start(&sim);
    first.wait_line("the wait for the rollout", |l| {
        l["event"] == "progress" && l["message"].as_str().is_some_and(|m| m.starts_with("Waiting for"))
    });
    let holder = lease_holder(&sim);
    let url = format!("{}/mcp", sim.service_url(NS, SVC));
    let second = heal(&sim, &["--timeout", "22s", "heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(second.code, 4, "{}", second.dump());
    assert_eq!(second.result()["outcome"], "refused");
    assert!(second.result()["diagnosis"].as_str().unwrap().contains(&holder), "names the holder: {}", second.dump());
    assert!(second.events("action").is_empty(), "{}", second.dump());
    assert_eq!(lease_holder(&sim), holder, "still the first run's, renewed");
    let lease = sim.get_json(NS, LEASE);
    let renewed: jiff::Timestamp = lease["spec"]["renewTime"].as_str().unwrap().parse().unwrap();
    let acquired: jiff::Timestamp = lease["spec"]["acquireTime"].as_str().unwrap().parse().unwrap();
    assert!(renewed.duration_since(acquired) >= jiff::SignedDuration::from_secs(15), "renewed: {lease}");
    assert_eq!(remediations(&sim).len(), 1, "only the first run's");

    first.signal(libc::SIGTERM);
    let (status, _) = first.finish();
    assert_eq!(status.code(), Some(143));
    assert_no_orphan(&sim);
}

/// Another healer takes the Lease over mid-run: at its next renewal (within 5 s) the run sees
/// it, stops acting, and ends with one result line (exit 4) naming the new holder.
#[test]
fn a_run_whose_lease_is_taken_over_stops_with_a_result_line() {
    let sim = scaled_to_zero("60s");
    let first = Running::start(&sim);
    first.wait_line("the wait for the rollout", |l| {
        l["event"] == "progress" && l["message"].as_str().is_some_and(|m| m.starts_with("Waiting for"))
    });
    kubectl(&sim, &["patch", LEASE, "--type=merge", "-p", r#"{"spec":{"holderIdentity":"intruder"}}"#]);
    let patched = Instant::now();
    let (status, stdout) = first.finish();
    assert!(patched.elapsed() < Duration::from_secs(8), "stopped at the next renewal: {:?}", patched.elapsed());
    assert_eq!(status.code(), Some(4), "{stdout}");
    let lines = parse_ndjson(&stdout, 4);
    let result = lines.last().unwrap();
    assert_eq!(result["outcome"], "refused", "{result}");
    assert!(result["recommendation"].as_str().is_some_and(|r| r.contains("taken over by intruder")), "{result}");
    assert_eq!(lease_holder(&sim), "intruder", "another's Lease is left alone");
    assert_no_orphan(&sim);
}
