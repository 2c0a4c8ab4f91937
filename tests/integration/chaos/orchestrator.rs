//! The orchestrator under faults: workers killed by someone else, the orchestrator killed and
//! restarted mid-heal, a flapping MCP server.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::orchestrator_util::*;
use crate::util::{Sim, eventually};

/// How many times the deployment controller scaled a ReplicaSet up from 0: one per
/// remediation that brought the service back (aggregated Events carry a `count`).
fn scale_ups(sim: &Sim) -> u64 {
    events_with(sim, "Scaled up replica set")
        .iter()
        .filter(|e| e["message"].as_str().unwrap().contains("from 0 to"))
        .map(|e| e["count"].as_u64().unwrap_or(1))
        .sum()
}

/// Live (not zombie) processes of process group `pgid`, from the process table.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && !matches!(fields[0], "Z" | "X") && fields[2] == pgid.to_string() {
            out.push(pid);
        }
    }
    out
}

fn pids(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// POSTs the seed's query and reads the stream, handing each frame to `on_frame` as it
/// arrives; returns the frames read before the stream ended or broke (at most 120 s).
async fn stream_watching(orch: &Orch, mut on_frame: impl FnMut(&Value)) -> Vec<Value> {
    use futures::StreamExt;
    let read = async {
        let resp = client().post(format!("{}/api/tasks", orch.url)).json(&seed_query()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.bytes_stream();
        let mut buf = Vec::new();
        let mut seen = 0;
        let complete = |buf: &[u8]| {
            let text = String::from_utf8_lossy(buf).to_string();
            let end = text.rfind("\n\n").map_or(0, |i| i + 2);
            parse_sse(&text[..end])
        };
        while let Some(Ok(chunk)) = body.next().await {
            buf.extend_from_slice(&chunk);
            let frames = complete(&buf);
            for f in &frames[seen..] {
                on_frame(f);
            }
            seen = frames.len();
        }
        complete(&buf)
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.expect("the stream to end within 120 s")
}

/// Scales the service to 0, then makes its pods slow to become ready (`delay`), so that a
/// heal is still waiting for the rollout when the test strikes.
fn scale_to_zero_slow(sim: &Sim, delay: &str) {
    scale_to_zero(sim);
    kubectl(sim, &["set", "env", DEPLOY, &format!("SIM_READY_DELAY={delay}")]);
}

#[test]
fn a_worker_killed_by_someone_else_fails_the_heal_at_once_with_its_whole_group() {
    let sim = demo_ready();
    scale_to_zero_slow(&sim, "60s");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // The real self-heal, after starting a grandchild that keeps stdout open.
    let worker = script(
        dir.path(),
        "self-heal-with-child",
        &format!(
            "sleep 300 &\necho $! > '{d}/child'\necho $$ > '{d}/worker'\nexec '{}' \"$@\"",
            env!("CARGO_BIN_EXE_self-heal")
        ),
    );
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())]);
    let mut killed_at = None;
    let frames = block_on(stream_watching(&orch, |f| {
        // Mid-heal: the scale is written and the worker waits for the rollout.
        if killed_at.is_none() && f["type"] == "healing_progress" && f["event"]["event"] == "rollout" {
            let pid: i32 = std::fs::read_to_string(dir.path().join("worker")).unwrap().trim().parse().unwrap();
            // SAFETY: a signal to the test's own grandchild, whose pid the worker recorded.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
            killed_at = Some(std::time::Instant::now());
        }
    }));
    let killed_at = killed_at.expect("the heal reached its rollout wait");
    assert!(killed_at.elapsed() < Duration::from_secs(10), "the end came {:?} after the kill", killed_at.elapsed());
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_failed", "processing_complete"],
        "{frames:#?}"
    );
    let worker_pid = pids(&dir.path().join("worker"))[0];
    let failed = &frames[frames.len() - 2];
    let msg = failed["message"].as_str().unwrap();
    assert!(msg.contains(&format!("(pid {worker_pid}) was killed by signal 9 without a result line")), "{msg}");
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(frames.last().unwrap()["status"], "failed");
    let child = pids(&dir.path().join("child"))[0];
    eventually("the worker's grandchild to be gone", Duration::from_secs(5), || (!alive(child)).then_some(()));
    assert!(!alive(worker_pid), "the killed worker was reaped");
    assert_eq!(group_members(worker_pid), Vec::<u32>::new(), "no process left in the worker's group");
    let heal = block_on(get_json(&orch, "/api/heals"))["heals"][0].clone();
    assert_eq!((heal["outcome"].as_str(), heal["message"].as_str()), (Some("failed"), Some(msg)));
}

#[test]
fn an_orchestrator_killed_mid_heal_and_restarted_answers_the_next_request_after_one_remediation() {
    let sim = demo_ready();
    scale_to_zero_slow(&sim, "3s");
    let before = scale_ups(&sim);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let worker = script(
        dir.path(),
        "recorded-self-heal",
        &format!("echo $$ >> '{d}/spawned'\nexec '{}' \"$@\"", env!("CARGO_BIN_EXE_self-heal")),
    );
    let env = [("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())];
    let config = sim_config(&sim, "");
    let first = Orch::start(Some(&sim), &config, &env);
    let mut killed = false;
    let frames = block_on(stream_watching(&first, |f| {
        if !killed
            && f["type"] == "healing_progress"
            && f["event"]["event"] == "action"
            && f["event"]["status"] == "succeeded"
        {
            // The scale is written: the orchestrator dies (SIGKILL, as on eviction) mid-heal.
            // SAFETY: a signal to the test's own child.
            assert_eq!(unsafe { libc::kill(first.pid() as i32, libc::SIGKILL) }, 0);
            killed = true;
        }
    }));
    assert!(killed, "the heal reached its write: {frames:#?}");
    assert!(frames.iter().all(|f| f["type"] != "processing_complete"), "the first stream was cut: {frames:#?}");
    drop(first);

    let second = Orch::start(Some(&sim), &config, &env);
    let frames = block_on(stream(&second, seed_query(), None));
    assert_eq!(frames.last().unwrap()["status"], "completed", "the next request is answered: {frames:#?}");
    let s = shape(&frames);
    assert!(
        s == ["processing_start", "processing_complete"]
            || s == [
                "processing_start",
                "healing_start",
                "healing_progress",
                "healing_complete",
                "processing_complete"
            ],
        "{frames:#?}"
    );
    // Every worker (the orphan of the first orchestrator too) ends, having remediated once in all.
    for pid in pids(&dir.path().join("spawned")) {
        eventually(&format!("worker {pid} to end"), Duration::from_secs(90), || (!alive(pid)).then_some(()));
    }
    assert_eq!(scale_ups(&sim) - before, 1, "one remediation in the cluster's Events");
}

#[test]
fn a_flapping_service_is_healed_at_most_max_remediations_times_then_refused() {
    let sim = demo_ready();
    let before = scale_ups(&sim);
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[]);
    // self-heal's breaker: at most 3 remediations of one workload per 10 minutes.
    for round in 1..=3 {
        scale_to_zero(&sim);
        let frames = block_on(stream(&orch, seed_query(), None));
        assert_eq!(
            shape(&frames),
            ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"],
            "round {round}: {frames:#?}"
        );
        assert_eq!(frames.last().unwrap()["status"], "completed", "round {round}");
    }
    scale_to_zero(&sim);
    let frames = block_on(stream(&orch, seed_query(), None));
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_failed", "processing_complete"],
        "{frames:#?}"
    );
    let failed = &frames[frames.len() - 2];
    assert_eq!((failed["exit_code"].as_i64(), failed["outcome"].as_str()), (Some(4), Some("refused")), "{failed}");
    let msg = failed["message"].as_str().unwrap();
    assert!(msg.starts_with("Healing refused: Breaker open") && msg.contains("scaled to 0"), "{msg}");
    assert_eq!(frames.last().unwrap()["status"], "failed");
    assert_eq!(scale_ups(&sim) - before, 3, "three remediations, not a loop");
    let heals = block_on(get_json(&orch, "/api/heals"))["heals"].clone();
    let outcomes: Vec<&str> = heals.as_array().unwrap().iter().map(|h| h["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["refused", "healed", "healed", "healed"], "newest first");
}

/// Each kind of API fault, on the requests self-heal makes while it heals.
fn api_faults() -> Vec<(&'static str, Value)> {
    let ns = NS;
    vec![
        (
            "429 with Retry-After on reading the Deployment",
            serde_json::json!({"match": {"verb": "get", "resource": "deployments", "namespace": ns}, "action": {"status": 429, "retryAfterSeconds": 1}, "count": 2}),
        ),
        (
            "500 on listing pods",
            serde_json::json!({"match": {"verb": "list", "resource": "pods", "namespace": ns}, "action": {"status": 500}, "count": 2}),
        ),
        (
            "503 on every read for a while",
            serde_json::json!({"match": {"verb": "get", "namespace": ns}, "action": {"status": 503}, "forSeconds": 2}),
        ),
        (
            "504 on the scale write",
            serde_json::json!({"match": {"verb": "patch", "resource": "deployments", "namespace": ns}, "action": {"status": 504}, "count": 1}),
        ),
        (
            "latency on everything",
            serde_json::json!({"match": {"namespace": ns}, "action": {"latencyMs": 300}, "forSeconds": 5}),
        ),
        (
            "watch closed after one event",
            serde_json::json!({"match": {"verb": "watch", "namespace": ns}, "action": {"watchClose": {"afterEvents": 1}}, "count": 3}),
        ),
        (
            "watch resume answered 410 Gone",
            serde_json::json!({"match": {"verb": "watch", "namespace": ns}, "action": {"gone": true}, "count": 1}),
        ),
        (
            "409 Conflict on the write",
            serde_json::json!({"match": {"verb": "patch", "resource": "deployments", "namespace": ns}, "action": {"conflict": true}, "count": 1}),
        ),
        (
            "connection dropped before the write",
            serde_json::json!({"match": {"verb": "patch", "resource": "deployments", "namespace": ns}, "action": {"drop": "before"}, "count": 1}),
        ),
        (
            "connection dropped after the write",
            serde_json::json!({"match": {"verb": "patch", "resource": "deployments", "namespace": ns}, "action": {"drop": "after"}, "count": 1}),
        ),
    ]
}

#[test]
fn under_each_api_fault_the_stream_heals_once_and_ends() {
    let sim = demo_ready();
    let config = sim_config(&sim, "").replace("timeout: 90s", "timeout: 40s");
    let orch = Orch::start(Some(&sim), &config, &[]);
    let mut table = Vec::new();
    for (kind, rule) in api_faults() {
        scale_to_zero(&sim);
        let before = scale_ups(&sim);
        let id = sim.add_fault(rule);
        let frames = block_on(stream(&orch, seed_query(), None));
        let hits = sim.fault_hits(&id);
        sim.clear_faults();
        let ends: Vec<&str> = frames
            .iter()
            .filter_map(|f| f["type"].as_str())
            .filter(|t| *t == "healing_complete" || *t == "healing_failed")
            .collect();
        assert_eq!(ends, ["healing_complete"], "{kind}: healed through the fault: {frames:#?}");
        assert!(hits > 0, "{kind}: the fault was never hit: {frames:#?}");
        assert_eq!(frames.iter().filter(|f| f["type"] == "healing_start").count(), 1, "{kind}: {frames:#?}");
        let ups = scale_ups(&sim) - before;
        assert_eq!(ups, 1, "{kind}: exactly one remediation");
        table.push(format!("{kind}: {} (fault hit {hits}x, {ups} remediation)", ends[0]));
        // Back to a served, healthy service before the next kind, and a fresh breaker window
        // (its count lives on the released Lease): each kind is a new incident.
        kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
        kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
        kubectl(&sim, &["delete", "lease", "self-heal-deployment-sandfly-mcp-server"]);
    }
    eprintln!("orchestrator under API faults:\n{}", table.join("\n"));
}
