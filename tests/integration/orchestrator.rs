//! The orchestrator end to end: the real binary, the real self-heal worker, kube-sim's MCP
//! pods; the exact SSE sequence for each of the seed's scenarios, the heal history and the
//! metrics after a heal.

use std::time::Duration;

use serde_json::{Value, json};

use crate::orchestrator_util::*;
use crate::util::eventually;

#[test]
fn scaled_to_zero_is_healed_retried_and_answered() {
    let sim = demo_ready();
    kubectl(&sim, &["scale", DEPLOY, "--replicas=3"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    scale_to_zero(&sim);
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[]);

    let frames = block_on(stream(&orch, seed_query(), None));
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"],
        "{frames:#?}"
    );
    assert_eq!(frames[0]["query"], "list sandfly hosts");
    assert_eq!(frames[1]["service"], SVC);
    assert!(frames[1]["issue"].as_str().unwrap().contains("refused"), "{}", frames[1]);
    let result = relayed_result(&frames);
    assert_eq!(result["outcome"], "healed");
    let complete = &frames[frames.len() - 2];
    assert_eq!(complete["success"], true);
    let msg = complete["message"].as_str().unwrap();
    assert!(msg.starts_with("Service restored: "), "{msg}");
    assert!(msg.contains("3"), "names the restored replica count: {msg}");
    let done = frames.last().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    let text = done["result"]["content"][0]["text"].as_str().expect("the tool's answer");
    assert!(text.contains("hosts") || text.contains("host"), "{text}");
    assert_eq!(sim.get_json(NS, DEPLOY)["spec"]["replicas"], 3);

    // The heal is on record, and the metrics count it.
    let heals = block_on(get_json(&orch, "/api/heals"));
    let h = &heals["heals"][0];
    assert_eq!(heals["heals"].as_array().unwrap().len(), 1, "{heals}");
    assert_eq!(h["service"], SVC);
    assert_eq!(h["status"], "done");
    assert_eq!(h["outcome"], "healed");
    assert_eq!(h["action"], "scale");
    assert_eq!(h["exit_code"], 0);
    assert_eq!(h["run"], result["run"]);
    assert_eq!(h["requests"], 1);
    assert!(h["findings"].as_array().unwrap().contains(&json!("ScaledToZero")), "{h}");
    let one = block_on(get_json(&orch, &format!("/api/heals/{}", h["id"].as_str().unwrap())));
    assert_eq!(one["events"].as_array().unwrap().len() as u64, result["seq"].as_u64().unwrap());
    assert_eq!(one["events"][0]["line"]["event"], "started");

    let m = block_on(get_text(&orch, "/metrics"));
    assert_eq!(
        metric(&m, r#"orchestrator_heals_total{service="sandfly-mcp-server",outcome="healed"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(metric(&m, "orchestrator_workers_spawned_total"), Some(1.0), "{m}");
    assert_eq!(metric(&m, r#"orchestrator_findings_total{code="ScaledToZero"}"#), Some(1.0), "{m}");
    assert_eq!(metric(&m, r#"orchestrator_retries_total{server="sandfly",outcome="succeeded"}"#), Some(1.0), "{m}");
    assert_eq!(
        metric(&m, r#"orchestrator_heal_duration_seconds_count{service="sandfly-mcp-server"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(metric(&m, r#"orchestrator_mcp_call_errors_total{server="sandfly",kind="refused"}"#), Some(1.0), "{m}");
    assert_eq!(metric(&m, r#"orchestrator_mcp_call_duration_seconds_count{server="sandfly"}"#), Some(2.0), "{m}");
    assert_eq!(metric(&m, "orchestrator_open_streams"), Some(0.0), "{m}");
}

#[test]
fn healthy_call_has_no_healing_events() {
    let sim = demo_ready();
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[]);
    for _ in 0..2 {
        let frames = block_on(stream(&orch, seed_query(), None));
        assert_eq!(shape(&frames), ["processing_start", "processing_complete"], "{frames:#?}");
        assert_eq!(frames[1]["status"], "completed");
        assert!(frames[1]["result"]["content"][0]["text"].is_string(), "{}", frames[1]);
    }
    // The explicit form, and non-streaming.
    let body = json!({"server": "sandfly", "tool": "echo", "arguments": {"message": "hi there"}, "streaming": false, "id": "t-1"});
    let v: Value = block_on(async {
        client().post(format!("{}/api/tasks", orch.url)).json(&body).send().await.unwrap().json().await.unwrap()
    });
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "result", "status"], "DESIGN §2.4's non-streaming answer: {v}");
    assert_eq!(v["id"], "t-1");
    assert_eq!(v["status"], "completed");
    assert!(v["result"]["content"][0]["text"].as_str().unwrap().contains("hi there"), "{v}");
    // A tool's own error is its answer, not a reason to heal.
    let frames = block_on(stream(&orch, json!({"server": "sandfly", "tool": "no_such_tool"}), None));
    assert_eq!(shape(&frames), ["processing_start", "processing_complete"], "{frames:#?}");
    assert_eq!(frames[1]["status"], "failed");
    let heals = block_on(get_json(&orch, "/api/heals"));
    assert_eq!(heals["heals"].as_array().unwrap().len(), 0, "no heal: {heals}");
}

#[test]
fn bad_image_fails_healing_with_the_rollout_undo_recommendation() {
    let sim = demo_ready();
    // Every pod on the bad revision, so the call fails.
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    kubectl(&sim, &["set", "image", DEPLOY, "server=invalid-image:latest"]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
    eventually("ImagePullBackOff", Duration::from_secs(30), || {
        sim.get_json(NS, "pods").to_string().contains("ImagePullBackOff").then_some(())
    });
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[]);

    let frames = block_on(stream(&orch, seed_query(), None));
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_failed", "processing_complete"],
        "{frames:#?}"
    );
    let failed = &frames[frames.len() - 2];
    let rec = failed["recommendation"].as_str().unwrap();
    assert!(rec.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"), "{rec}");
    assert_eq!(failed["exit_code"], 3);
    assert_eq!(relayed_result(&frames)["outcome"], "manual");
    let done = frames.last().unwrap();
    assert_eq!(done["status"], "failed");
    assert_eq!(done["result"]["healing"]["outcome"], "manual");
    let m = block_on(get_text(&orch, "/metrics"));
    assert_eq!(
        metric(&m, r#"orchestrator_manual_interventions_total{service="sandfly-mcp-server"}"#),
        Some(1.0),
        "{m}"
    );
}

#[test]
fn broken_selector_fails_healing_and_names_the_selector() {
    let sim = demo_ready();
    kubectl(&sim, &["patch", "service", SVC, "-p", r#"{"spec":{"selector":{"app":"sandfly-mcp-server-v2"}}}"#]);
    let url = sim.service_url(NS, SVC);
    eventually("the service to refuse", Duration::from_secs(20), || crate::util::refused(&url).then_some(()));
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[]);

    let frames = block_on(stream(&orch, seed_query(), None));
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_failed", "processing_complete"],
        "{frames:#?}"
    );
    assert!(frames[frames.len() - 2]["recommendation"].as_str().unwrap().contains("sandfly-mcp-server-v2"));
    assert!(relayed_result(&frames)["findings"].as_array().unwrap().contains(&json!("SelectorMismatch")));
    assert_eq!(frames.last().unwrap()["status"], "failed");
}

#[test]
fn deleted_pods_are_waited_for_then_the_call_is_retried() {
    let sim = demo_ready();
    // Slow readiness, so the Service has no endpoints while the ReplicaSet recreates the pods.
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=8s"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=90s"]);
    let before = sim.get_json(NS, DEPLOY)["metadata"]["generation"].clone();
    kubectl(&sim, &["delete", "pods", "-l", "app=sandfly-mcp-server", "--wait=false"]);
    let url = sim.service_url(NS, SVC);
    eventually("the service to refuse", Duration::from_secs(20), || crate::util::refused(&url).then_some(()));
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[]);

    let frames = block_on(stream(&orch, seed_query(), None));
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"],
        "{frames:#?}"
    );
    assert_eq!(frames.last().unwrap()["status"], "completed");
    assert_eq!(sim.get_json(NS, DEPLOY)["metadata"]["generation"], before, "nothing written for deleted pods");
}

#[test]
fn healing_disabled_returns_the_failure_as_it_is() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("HEALING_ENABLED", "false")]);
    let frames = block_on(stream(&orch, seed_query(), None));
    assert_eq!(shape(&frames), ["processing_start", "processing_complete"], "{frames:#?}");
    assert_eq!(frames[1]["status"], "failed");
    assert_eq!(frames[1]["result"]["error"]["kind"], "refused");
    assert_eq!(frames[1]["result"]["healing"], "disabled");
    assert_eq!(sim.get_json(NS, DEPLOY)["spec"]["replicas"].as_i64().unwrap_or(0), 0, "nothing healed");
    let m = block_on(get_text(&orch, "/metrics"));
    assert_eq!(metric(&m, "orchestrator_workers_spawned_total"), Some(0.0), "{m}");
}

#[test]
fn non_idempotent_tool_after_a_timeout_is_healed_but_not_repeated() {
    let sim = demo_ready();
    // Pods that accept MCP requests and never answer, until restarted.
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_HANG=until-restart"]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    let config = sim_config(&sim, "").replace("timeout: 20s", "timeout: 2s");
    let orch = Orch::start(Some(&sim), &config, &[]);

    let frames = block_on(stream(&orch, json!({"query": "echo this"}), None));
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"],
        "{frames:#?}"
    );
    assert_eq!(relayed_result(&frames)["outcome"], "healed");
    let done = frames.last().unwrap();
    assert_eq!(done["status"], "failed");
    assert_eq!(done["result"]["retried"], false);
    let msg = done["result"]["message"].as_str().unwrap();
    assert!(msg.contains("is back") && msg.contains("not repeated") && msg.contains("echo"), "{msg}");
    let m = block_on(get_text(&orch, "/metrics"));
    assert_eq!(metric(&m, r#"orchestrator_retries_total{server="sandfly",outcome="skipped"}"#), Some(1.0), "{m}");
}

#[test]
fn legacy_transport_is_healed_and_retried_too() {
    let sim = demo_ready();
    scale_to_zero(&sim);
    let url = sim.service_url(NS, SVC);
    let config = format!(
        "servers:\n  - name: old\n    url: {url}/\n    transport: legacy\n    service: {SVC}\n    namespace: {NS}\n    timeout: 20s\n"
    );
    let orch = Orch::start(Some(&sim), &config, &[]);
    let body = json!({"server": "old", "tool": "sandfly_list_hosts", "arguments": {"summary": true}});
    let frames = block_on(stream(&orch, body, None));
    assert_eq!(
        shape(&frames),
        ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"],
        "{frames:#?}"
    );
    let result = relayed_result(&frames);
    assert_eq!(result["outcome"], "healed");
    let worker_started = &frames.iter().find(|f| f["type"] == "healing_progress").unwrap()["event"];
    assert_eq!(worker_started["event"], "started");
    let done = frames.last().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["result"].to_string().contains("hosts"), "the legacy answer's result: {done}");
}

#[test]
fn api_events_streams_every_heal_as_it_happens() {
    use futures::StreamExt;
    let sim = demo_ready();
    scale_to_zero(&sim);
    let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[]);
    let (events, frames) = block_on(async {
        // Subscribed once the headers arrive.
        let resp = client().get(format!("{}/api/events", orch.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let frames = stream(&orch, seed_query(), None).await;
        let mut body = resp.bytes_stream();
        let mut text = String::new();
        while !text.contains("\"heal_finished\"") {
            let chunk =
                tokio::time::timeout(Duration::from_secs(30), body.next()).await.expect("events").unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        let end = text.rfind("\n\n").unwrap();
        (parse_sse(&text[..end + 2]), frames)
    });
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"heal_started"), "{events:#?}");
    assert_eq!(types.last(), Some(&"heal_finished"), "{events:#?}");
    let relayed = frames.iter().filter(|f| f["type"] == "healing_progress").count();
    assert_eq!(types.iter().filter(|t| **t == "heal_event").count(), relayed, "every worker line once");
    let started = &events[0]["heal"];
    assert_eq!(started["status"], "running");
    assert_eq!(started["service"], SVC);
    let id = started["id"].as_str().unwrap();
    for e in events.iter().filter(|e| e["type"] == "heal_event") {
        assert_eq!(e["id"], id);
        assert!(e["event"]["ts"].is_string() && e["event"]["line"]["run"].is_string(), "{e}");
    }
    let finished = &events.last().unwrap()["heal"];
    assert_eq!(finished["id"], id);
    assert_eq!(finished["status"], "done");
    assert_eq!(finished["outcome"], "healed");
    assert!(finished["message"].as_str().unwrap().starts_with("Service restored"), "{finished}");
    for key in [
        "id",
        "run",
        "service",
        "namespace",
        "issue",
        "started",
        "finished",
        "duration_ms",
        "status",
        "outcome",
        "findings",
        "action",
        "exit_code",
        "message",
        "recommendation",
        "requests",
    ] {
        assert!(finished.get(key).is_some(), "summary has {key}: {finished}");
    }
    assert_eq!(finished.as_object().unwrap().len(), 16, "exactly the contract's keys: {finished}");
}
