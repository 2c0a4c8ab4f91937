//! The orchestrator's HTTP surface: token on and off, refusals before any stream opens
//! (malformed body, unknown route, oversize body, unmatched query, unknown server), readiness,
//! an invalid configuration at start, a second real MCP server (npm's server-everything), and the
//! streams docs/events.md shows.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::orchestrator_util::*;

const CONFIG: &str = "servers:\n  - name: local\n    url: http://127.0.0.1:9/mcp\n    service: local\n    namespace: default\nroutes:\n  - keywords: [hosts]\n    server: local\n    tool: list\n";

async fn post(orch: &Orch, body: reqwest::Body, token: Option<&str>) -> (u16, Value) {
    let mut req =
        client().post(format!("{}/api/tasks", orch.url)).header("content-type", "application/json").body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "JSON error body");
    (status, resp.json().await.unwrap())
}

fn assert_error(got: (u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert!(got.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", got.1);
}

#[test]
fn token_is_required_except_on_health_endpoints() {
    let orch = Orch::start(None, CONFIG, &[("ORCHESTRATOR_TOKEN", "s3cret")]);
    block_on(async {
        for path in ["/metrics", "/api/heals", "/api/heals/x", "/api/events"] {
            let r = client().get(format!("{}{path}", orch.url)).send().await.unwrap();
            assert_eq!(r.status(), 401, "{path}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "unauthorized");
            let r = client().get(format!("{}{path}", orch.url)).bearer_auth("wrong").send().await.unwrap();
            assert_eq!(r.status(), 401, "{path}");
        }
        assert_error(post(&orch, r#"{"query":"hosts"}"#.into(), None).await, 401, "unauthorized");
        assert_error(post(&orch, r#"{"query":"hosts"}"#.into(), Some("s3cre")).await, 401, "unauthorized");
        for path in ["/healthz", "/readyz"] {
            assert_eq!(client().get(format!("{}{path}", orch.url)).send().await.unwrap().status(), 200, "{path}");
        }
        let r = client().get(format!("{}/metrics", orch.url)).bearer_auth("s3cret").send().await.unwrap();
        assert_eq!(r.status(), 200);
        // With the token the task runs (the server refuses: healing fails, the stream completes).
        let frames = stream(&orch, json!({"query": "hosts", "streaming": true}), Some("s3cret")).await;
        assert_eq!(frames[0]["type"], "processing_start");
    });
    // Without ORCHESTRATOR_TOKEN nothing is asked.
    let open = Orch::start(None, CONFIG, &[]);
    block_on(async {
        assert_eq!(client().get(format!("{}/api/heals", open.url)).send().await.unwrap().status(), 200);
    });
}

#[test]
fn bad_requests_are_refused_with_json_errors_and_the_server_stays_up() {
    let orch = Orch::start(None, CONFIG, &[]);
    block_on(async {
        assert_error(post(&orch, "{not json".into(), None).await, 400, "bad_request");
        assert_error(post(&orch, r#"{"query": 5}"#.into(), None).await, 400, "bad_request");
        assert_error(post(&orch, r#"{"surprise": 1}"#.into(), None).await, 400, "bad_request");
        assert_error(post(&orch, r#"{"query":"what is the weather"}"#.into(), None).await, 422, "no_route");
        assert_error(post(&orch, r#"{"server":"nope","tool":"x"}"#.into(), None).await, 404, "unknown_server");
        assert_error(post(&orch, r#"{"server":"local"}"#.into(), None).await, 400, "bad_request");
        let big = format!(r#"{{"query":"{}"}}"#, "x".repeat(2 << 20));
        assert_error(post(&orch, big.into(), None).await, 413, "payload_too_large");
        let r = client().get(format!("{}/no/such/route", orch.url)).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "not_found");
        let r = client().get(format!("{}/api/tasks", orch.url)).send().await.unwrap();
        assert_eq!(r.status(), 405);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
        let r = client().get(format!("{}/api/heals/heal-0", orch.url)).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(client().get(format!("{}/healthz", orch.url)).send().await.unwrap().status(), 200, "still up");
        assert_eq!(get_json(&orch, "/api/heals").await, json!({"heals": [], "next": null}), "nothing ran");
    });
}

#[test]
fn readyz_needs_an_executable_worker_and_invalid_config_fails_at_start() {
    let orch = Orch::start(None, CONFIG, &[("SELF_HEAL_WORKER_PATH", "/nonexistent/self-heal")]);
    block_on(async {
        let r = client().get(format!("{}/readyz", orch.url)).send().await.unwrap();
        assert_eq!(r.status(), 503);
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains("/nonexistent/self-heal"), "{v}");
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "servers:\n  - name: a\n    url: http://x.y.svc:3000/mcp\n    timeout: soon\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .env_clear()
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("servers[0].timeout") && err.contains("soon"), "{err}");
}

#[test]
fn server_everything_from_npm_answers_through_the_orchestrator() {
    let ev = crate::everything::start();
    let config = format!(
        "healing:\n  enabled: false\nservers:\n  - name: everything\n    url: {}\n    service: everything\n    namespace: default\nroutes:\n  - keywords: [echo]\n    server: everything\n    tool: echo\n    arguments: {{message: hello from the route}}\n",
        ev.url
    );
    let orch = Orch::start(None, &config, &[]);
    block_on(async {
        let frames = stream(&orch, json!({"query": "please echo"}), None).await;
        assert_eq!(shape(&frames), ["processing_start", "processing_complete"], "{frames:#?}");
        assert_eq!(frames[1]["status"], "completed");
        assert!(
            frames[1]["result"]["content"][0]["text"].as_str().unwrap().contains("hello from the route"),
            "{}",
            frames[1]
        );
        // The session is reused across requests (and many at once).
        let many = futures::future::join_all((0..10).map(|i| {
            stream(&orch, json!({"server": "everything", "tool": "get-sum", "arguments": {"a": i, "b": 1}}), None)
        }))
        .await;
        for (i, frames) in many.iter().enumerate() {
            assert_eq!(frames[1]["status"], "completed", "{frames:#?}");
            assert!(frames[1]["result"]["content"][0]["text"].as_str().unwrap().contains(&(i + 1).to_string()));
        }
        // A tool's own error is its answer.
        let frames = stream(&orch, json!({"server": "everything", "tool": "no-such-tool"}), None).await;
        assert_eq!(shape(&frames), ["processing_start", "processing_complete"], "{frames:#?}");
        assert_eq!(frames[1]["status"], "failed");
    });
    // Once it is gone, the failure is classified (refused) and, healing off, returned as it is.
    drop(ev);
    block_on(async {
        let frames = stream(&orch, json!({"query": "echo"}), None).await;
        assert_eq!(frames[1]["result"]["error"]["kind"], "refused", "{frames:#?}");
    });
}

/// The SSE streams pasted into docs/events.md (captured from `make demo`) are framed as the
/// orchestrator frames them and tell a whole story: relayed worker lines in order, one end.
#[test]
fn the_streams_in_docs_events_md_are_whole_and_well_framed() {
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/events.md")).unwrap();
    let streams: Vec<&str> = doc
        .split("```text\n")
        .skip(1)
        .filter_map(|b| b.split_once("```").map(|(body, _)| body))
        .filter(|b| b.starts_with("id: 1\n"))
        .collect();
    assert!(streams.len() >= 2, "docs/events.md shows real streams");
    let known = ["processing_start", "healing_start", "healing_progress", "healing_complete", "healing_failed"];
    for body in streams {
        let frames = parse_sse(body);
        let s = shape(&frames);
        assert_eq!(s.first().map(String::as_str), Some("processing_start"), "{body}");
        assert_eq!(s.last().map(String::as_str), Some("processing_complete"), "{body}");
        assert!(s[1..s.len() - 1].iter().all(|t| known.contains(&t.as_str())), "{s:?}");
        if s.iter().any(|t| t == "healing_start") {
            let result = relayed_result(&frames);
            let end = &frames[frames.len() - 2];
            assert_eq!(end["type"], if result["success"] == true { "healing_complete" } else { "healing_failed" });
        }
    }
}
