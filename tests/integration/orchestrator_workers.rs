//! The orchestrator's workers: missing, garbage-printing, past their limit (the whole process
//! group killed), shared by 100 concurrent requests, two orchestrators on one cluster, and
//! SIGTERM with streams open.

use std::time::Duration;

use serde_json::Value;

use crate::orchestrator_util::*;
use crate::util::eventually;

fn failed_reason(frames: &[Value]) -> String {
    assert_eq!(
        shape(frames),
        ["processing_start", "healing_start", "healing_failed", "processing_complete"],
        "{frames:#?}"
    );
    assert_eq!(frames.last().unwrap()["status"], "failed");
    frames[2]["message"].as_str().unwrap().to_string()
}

#[test]
fn missing_worker_fails_healing_and_says_so() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("SELF_HEAL_WORKER_PATH", "/nonexistent/self-heal")]);
    let frames = block_on(stream(&orch, seed_query(), None));
    let msg = failed_reason(&frames);
    assert!(msg.contains("cannot start worker /nonexistent/self-heal"), "{msg}");
    let heals = block_on(get_json(&orch, "/api/heals"));
    assert_eq!(heals["heals"][0]["outcome"], "failed");
}

#[test]
fn garbage_printing_worker_fails_healing_and_says_so() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let dir = tempfile::tempdir().unwrap();
    let worker = script(dir.path(), "garbage", "echo 'Error: everything is fine'\nexit 0");
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())]);
    let frames = block_on(stream(&orch, seed_query(), None));
    let msg = failed_reason(&frames);
    assert!(msg.contains("not a progress event") && msg.contains("everything is fine"), "{msg}");

    let silent = script(dir.path(), "silent", "exit 7");
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("SELF_HEAL_WORKER_PATH", silent.to_str().unwrap())]);
    let msg = failed_reason(&block_on(stream(&orch, seed_query(), None)));
    assert!(msg.contains("exited with code 7 without a result line"), "{msg}");
}

#[test]
fn worker_past_its_limit_is_killed_with_its_whole_process_group() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // A worker that starts a grandchild and then hangs; both record their pids.
    let worker =
        script(dir.path(), "hang", &format!("sleep 300 &\necho $! > '{d}/child'\necho $$ > '{d}/worker'\nwait"));
    let config = sim_config(&sim, "").replace("timeout: 90s", "timeout: 1s");
    let orch = Orch::start(Some(&sim), &config, &[("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())]);
    let frames = block_on(stream(&orch, seed_query(), None));
    let msg = failed_reason(&frames);
    assert!(msg.contains("time limit") && msg.contains("process group"), "{msg}");
    for who in ["worker", "child"] {
        let pid: u32 = std::fs::read_to_string(dir.path().join(who)).unwrap().trim().parse().unwrap();
        eventually(&format!("the {who} ({pid}) to be gone"), Duration::from_secs(5), || (!alive(pid)).then_some(()));
    }
}

/// Opens `n` streams of the seed's query and waits until every one has seen `healing_start`.
async fn open_streams(orch: &Orch, n: usize) -> Vec<tokio::task::JoinHandle<Vec<Value>>> {
    let started = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let mut handles = Vec::new();
    for _ in 0..n {
        let url = format!("{}/api/tasks", orch.url);
        let started = started.clone();
        handles.push(tokio::spawn(async move {
            use futures::StreamExt;
            let resp = client().post(url).json(&seed_query()).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut body = resp.bytes_stream();
            let mut text = String::new();
            let mut signalled = false;
            while let Some(chunk) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                if !signalled && text.contains("\"healing_start\"") {
                    signalled = true;
                    started.add_permits(1);
                }
            }
            if !signalled {
                started.add_permits(1);
            }
            parse_sse(&text)
        }));
    }
    let all = tokio::time::timeout(Duration::from_secs(60), started.acquire_many(n as u32)).await;
    all.expect("every stream to see healing_start").unwrap().forget();
    handles
}

/// How many times the deployment controller scaled a ReplicaSet up from 0 (repeated Events are
/// aggregated into one object with a `count`, as on a real cluster).
fn scale_ups(sim: &crate::util::Sim) -> u64 {
    events_with(sim, "Scaled up replica set")
        .iter()
        .filter(|e| e["message"].as_str().unwrap().contains("from 0 to"))
        .map(|e| e["count"].as_u64().unwrap_or(1))
        .sum()
}

#[test]
fn a_hundred_concurrent_requests_share_one_worker_and_one_scale() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let before = scale_ups(&sim);
    let dir = tempfile::tempdir().unwrap();
    let worker = gated_worker(dir.path());
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())]);
    let results = block_on(async {
        let handles = open_streams(&orch, 100).await;
        // Every request has joined the heal: let the worker go.
        std::fs::write(dir.path().join("gate"), "").unwrap();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    for frames in &results {
        assert_eq!(frames.last().unwrap()["type"], "processing_complete", "{frames:#?}");
        assert_eq!(frames.last().unwrap()["status"], "completed", "{frames:#?}");
        assert_eq!(
            shape(frames),
            ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"]
        );
        relayed_result(frames);
    }
    let spawned = std::fs::read_to_string(dir.path().join("spawned")).unwrap();
    assert_eq!(spawned.lines().count(), 1, "one worker: {spawned}");
    assert_eq!(scale_ups(&sim) - before, 1, "one scale in the cluster's Events");
    let heals = block_on(get_json(&orch, "/api/heals"));
    assert_eq!(heals["heals"].as_array().unwrap().len(), 1);
    assert_eq!(heals["heals"][0]["requests"], 100);
}

#[test]
fn two_orchestrators_on_one_cluster_remediate_once() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let before = scale_ups(&sim);
    let dir = tempfile::tempdir().unwrap();
    let worker = gated_worker(dir.path());
    let env = [("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())];
    let a = Orch::start(Some(&sim), &sim_config(&sim, ""), &env);
    let b = Orch::start(Some(&sim), &sim_config(&sim, ""), &env);
    let results = block_on(async {
        let mut handles = open_streams(&a, 20).await;
        handles.extend(open_streams(&b, 20).await);
        std::fs::write(dir.path().join("gate"), "").unwrap();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    for frames in &results {
        assert_eq!(frames.last().unwrap()["status"], "completed", "{frames:#?}");
    }
    let spawned = std::fs::read_to_string(dir.path().join("spawned")).unwrap();
    assert_eq!(spawned.lines().count(), 2, "one worker per orchestrator: {spawned}");
    assert_eq!(scale_ups(&sim) - before, 1, "one remediation in total");
}

#[test]
fn sigterm_drains_open_streams_kills_workers_and_exits_zero() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let dir = tempfile::tempdir().unwrap();
    let worker = gated_worker(dir.path());
    let config = format!("drain_timeout: 1s\n{}", sim_config(&sim, ""));
    let mut orch = Orch::start(Some(&sim), &config, &[("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())]);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let handles = rt.block_on(open_streams(&orch, 3));
    // healing_start is sent when the worker is spawned, maybe before its script wrote its pid.
    let pid: u32 = eventually("the worker to write its pid", Duration::from_secs(10), || {
        std::fs::read_to_string(dir.path().join("spawned")).ok()?.trim().parse().ok()
    });
    assert!(alive(pid));
    assert_eq!(orch.terminate(Duration::from_secs(20)), Some(0), "exit 0 after SIGTERM");
    for h in handles {
        let frames = rt.block_on(h).unwrap();
        let last = frames.last().unwrap();
        assert_eq!(last["type"], "processing_complete", "{frames:#?}");
        assert_eq!(last["status"], "failed");
    }
    eventually("the worker to be gone", Duration::from_secs(5), || (!alive(pid)).then_some(()));
}
