//! The operator console and the heal history behind it: the page's security headers, paging
//! and filtering `/api/heals`, one heal, `/api/events` over GET, the token on and off, the
//! history file across a restart (with a corrupt line), and the page itself in headless
//! Chromium showing a live heal on kube-sim.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::orchestrator_util::{
    NS, Orch, SVC, block_on, client, demo_ready, gated_worker, get_json, parse_sse, scale_to_zero, seed_query,
    sim_config, stream,
};
use crate::util::eventually;

const TOKEN: &str = "console-test-token-1";

/// RFC 3339 UTC, `ago` before now.
fn ago(ago: Duration) -> String {
    let t = jiff::Timestamp::now() - jiff::SignedDuration::try_from(ago).unwrap();
    format!("{t:.3}")
}

/// A finished heal as the history file stores it (summary fields plus `events`).
fn record(id: &str, service: &str, started_ago: Duration, outcome: &str, exit_code: i32, findings: &[&str]) -> Value {
    let started = ago(started_ago);
    let finished = ago(started_ago - Duration::from_secs(2));
    json!({
        "id": id, "run": format!("run-{id}"), "service": service, "namespace": NS,
        "issue": "connect ECONNREFUSED", "started": started, "finished": finished,
        "duration_ms": 2000, "status": "done", "outcome": outcome, "findings": findings,
        "action": if outcome == "healed" { Value::from("restart") } else { Value::Null },
        "exit_code": exit_code, "message": format!("{service}: {outcome}"),
        "recommendation": Value::Null, "requests": 1,
        "events": [
            {"ts": started, "line": {"v": 1, "seq": 1, "ts": started, "run": format!("run-{id}"), "service": service,
             "namespace": NS, "event": "started", "command": "heal", "error": "connect ECONNREFUSED", "url": null, "dry_run": false}},
        ],
    })
}

fn write_history(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn history_config(path: &Path, limit: usize) -> String {
    format!("history:\n  path: {}\n  limit: {limit}\n", path.display())
}

async fn get(orch: &Orch, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", orch.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers().get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

#[test]
fn console_page_is_served_with_a_strict_policy_and_no_token() {
    let orch = Orch::start(None, "servers: []\n", &[("ORCHESTRATOR_TOKEN", TOKEN)]);
    block_on(async {
        // The page carries no data, so it loads without the token; the API does not.
        let page = get(&orch, "/", None).await;
        assert_eq!(page.status(), 200);
        assert!(header(&page, "content-type").starts_with("text/html"));
        let csp = header(&page, "content-security-policy").to_string();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(header(&page, "x-content-type-options"), "nosniff");
        assert_eq!(header(&page, "x-frame-options"), "DENY");
        let html = page.text().await.unwrap();
        assert!(!html.contains(TOKEN), "the token never reaches the page");
        // Every script is a file of this origin; no inline script, handler or style.
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(html.contains(r#"<script src="/console.js" defer></script>"#));
        for inline in ["<style", "style=", "onclick=", "onerror=", "onload=", "javascript:"] {
            assert!(!html.contains(inline), "index.html has {inline}");
        }
        for (path, kind) in [("/console.js", "text/javascript"), ("/console.css", "text/css")] {
            let r = get(&orch, path, None).await;
            assert_eq!(r.status(), 200, "{path}");
            assert!(header(&r, "content-type").starts_with(kind), "{path}");
            assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        }
        for path in ["/api/heals", "/api/heals/heal-1", "/api/events"] {
            let r = get(&orch, path, None).await;
            assert_eq!(r.status(), 401, "{path} without the token");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
            let r = get(&orch, path, Some("wrong")).await;
            assert_eq!(r.status(), 401, "{path} with a wrong token");
        }
        let r = get(&orch, "/api/heals", Some(TOKEN)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"heals": [], "next": null}));
        let r = get(&orch, "/api/events", Some(TOKEN)).await;
        assert_eq!(r.status(), 200);
        assert!(header(&r, "content-type").starts_with("text/event-stream"));
    });
}

#[test]
fn heals_are_paged_filtered_and_read_back_from_the_history_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heals.jsonl");
    // Seven heals, oldest first, services a and b in turn; a corrupt line among them and a
    // line cut mid-write at the end. The limit keeps the newest five.
    let mut lines: Vec<String> = (0..7)
        .map(|i| {
            let svc = if i % 2 == 0 { "svc-a" } else { "svc-b" };
            record(&format!("heal-{i}"), svc, Duration::from_secs(3600 - i * 60), "healed", 0, &["ScaledToZero"])
                .to_string()
        })
        .collect();
    lines.insert(3, "{\"id\": \"heal-x\", this is not json".into());
    lines.push("{\"id\":\"heal-cut\",\"run\":".into());
    write_history(&path, &lines);
    let orch = Orch::start(None, &history_config(&path, 5), &[]);
    block_on(async {
        let ids = |page: &Value| -> Vec<String> {
            page["heals"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_string()).collect()
        };
        let p1 = get_json(&orch, "/api/heals?limit=2").await;
        assert_eq!(ids(&p1), ["heal-6", "heal-5"], "newest first");
        assert_eq!(p1["next"], "heal-5");
        let p2 = get_json(&orch, "/api/heals?limit=2&before=heal-5").await;
        assert_eq!(ids(&p2), ["heal-4", "heal-3"]);
        let p3 = get_json(&orch, &format!("/api/heals?limit=2&before={}", p2["next"].as_str().unwrap())).await;
        assert_eq!(ids(&p3), ["heal-2"], "the limit kept the newest five");
        assert_eq!(p3["next"], Value::Null);

        let b = get_json(&orch, "/api/heals?service=svc-b").await;
        assert_eq!(ids(&b), ["heal-5", "heal-3"]);
        assert!(b["heals"].as_array().unwrap().iter().all(|h| h["service"] == "svc-b"));
        let b1 = get_json(&orch, "/api/heals?service=svc-a&limit=1&before=heal-6").await;
        assert_eq!(ids(&b1), ["heal-4"]);
        assert_eq!(b1["next"], "heal-4");

        let one = get_json(&orch, "/api/heals/heal-4").await;
        assert_eq!(one["id"], "heal-4");
        assert_eq!(one["service"], "svc-a");
        assert_eq!(one["outcome"], "healed");
        assert_eq!(one["findings"], json!(["ScaledToZero"]));
        assert_eq!(one["events"][0]["line"]["event"], "started");
        let missing = get(&orch, "/api/heals/heal-0", None).await;
        assert_eq!(missing.status(), 404, "dropped by the limit");
        assert_eq!(missing.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    });
}

/// POSTs a task to the orchestrator at `url` and reads its whole SSE stream.
async fn stream_to(url: &str, body: Value) -> Vec<Value> {
    let resp = client().post(format!("{url}/api/tasks")).json(&body).send().await.expect("POST /api/tasks");
    assert_eq!(resp.status(), 200);
    parse_sse(&resp.text().await.unwrap())
}

/// Reads `/api/events` frames (checking the SSE framing) until `stop` returns true for one.
async fn read_events(resp: reqwest::Response, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut frames = Vec::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(120), body.next())
            .await
            .expect("an /api/events frame within 120 s")
            .expect("the stream stays open")
            .unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if line.is_empty() || line.starts_with(':') {
                    continue;
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse::<u64>().expect("a numeric id"));
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str::<Value>(v.trim()).expect("one line of JSON"));
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            if let Some(data) = data {
                assert_eq!(id, Some(frames.len() as u64 + 1), "ids count 1, 2, 3...");
                let done = stop(&data);
                frames.push(data);
                if done {
                    return frames;
                }
            }
        }
    }
}

#[test]
fn events_stream_a_heal_over_get_and_the_history_survives_a_restart() {
    let sim = demo_ready();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heals.jsonl");
    let config = format!("{}{}", sim_config(&sim, ""), history_config(&path, 1000));
    let mut orch = Orch::start(Some(&sim), &config, &[]);
    let (frames, heal_id) = block_on(async {
        // The subscription exists once the response headers are back.
        let events = get(&orch, "/api/events", None).await;
        assert_eq!(events.status(), 200);
        assert!(header(&events, "content-type").starts_with("text/event-stream"));
        let reader = tokio::spawn(read_events(events, |f| f["type"] == "heal_finished"));
        scale_to_zero(&sim);
        let task = stream(&orch, seed_query(), None).await;
        assert_eq!(task.last().unwrap()["status"], "completed", "{task:#?}");
        let frames = reader.await.unwrap();
        let id = frames[0]["heal"]["id"].as_str().unwrap().to_string();
        (frames, id)
    });
    // heal_started, one heal_event per worker line in order, heal_finished.
    assert_eq!(frames[0]["type"], "heal_started", "{frames:#?}");
    let started = &frames[0]["heal"];
    assert_eq!((started["service"].as_str(), started["namespace"].as_str()), (Some(SVC), Some(NS)));
    assert_eq!(started["status"], "running");
    assert_eq!(started["outcome"], Value::Null);
    let lines: Vec<&Value> = frames[1..frames.len() - 1]
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "heal_event", "{f}");
            assert_eq!(f["id"], heal_id.as_str());
            assert!(f["event"]["ts"].is_string(), "{f}");
            &f["event"]["line"]
        })
        .collect();
    assert_eq!(lines.first().unwrap()["event"], "started");
    assert_eq!(lines.last().unwrap()["event"], "result");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"].as_u64(), Some(i as u64 + 1), "every line once, in order");
    }
    let finished = &frames.last().unwrap()["heal"];
    assert_eq!(finished["id"], heal_id.as_str());
    assert_eq!(finished["status"], "done");
    assert_eq!(finished["outcome"], "healed");
    assert_eq!(finished["exit_code"], 0);
    assert_eq!(finished["action"], "scale");
    assert!(finished["findings"].as_array().unwrap().contains(&json!("ScaledToZero")), "{finished}");
    assert!(finished["duration_ms"].as_u64().is_some() && finished["finished"].is_string());

    // The finished heal reaches the file as one JSON line with all its events.
    let saved = eventually("the heal in the history file", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&path).ok()?;
        let line = text.lines().find(|l| l.contains(&heal_id))?;
        Some(serde_json::from_str::<Value>(line).expect("one JSON object per line"))
    });
    assert_eq!(saved["outcome"], "healed");
    assert_eq!(saved["events"].as_array().unwrap().len(), lines.len());

    assert_eq!(orch.terminate(Duration::from_secs(30)), Some(0));
    // A torn or foreign line must not stop the next start.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("garbage that is not JSON\n{\"id\":\"heal-torn\",\"ser");
    std::fs::write(&path, text).unwrap();
    let orch = Orch::start(Some(&sim), &config, &[]);
    block_on(async {
        let page = get_json(&orch, "/api/heals").await;
        let heals = page["heals"].as_array().unwrap();
        assert_eq!(heals.len(), 1, "{page}");
        assert_eq!(heals[0]["id"], heal_id.as_str());
        assert_eq!(&heals[0]["outcome"], &finished["outcome"]);
        assert_eq!(&heals[0]["started"], &finished["started"]);
        let one = get_json(&orch, &format!("/api/heals/{heal_id}")).await;
        assert_eq!(one["events"].as_array().unwrap().len(), lines.len());
        assert_eq!(one["events"].as_array().unwrap().last().unwrap()["line"]["outcome"], "healed");
    });
}

/// Saves what the browser shows under the test's output folder (`target/tmp/console/NAME`);
/// the main view also to `$CONSOLE_SCREENSHOT` when set (`make console-screenshot` sets it to
/// docs/console.png).
fn screenshot(browser: &mut Browser, name: &str, main_view: bool) {
    browser.screenshot(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console").join(name));
    if let Some(p) = std::env::var_os("CONSOLE_SCREENSHOT").filter(|_| main_view) {
        browser.screenshot(Path::new(&p));
    }
}

/// Heals already in the history when the browser test starts: one to be fixed by hand, one
/// healed, and one whose service name and texts are markup.
fn earlier_heals() -> Vec<String> {
    let mut manual = record("heal-earlier-1", SVC, Duration::from_secs(3 * 3600), "manual", 3, &["ImagePullBackOff"]);
    manual["action"] = json!("manual");
    manual["recommendation"] = json!(
        "Image \"invalid-image:latest\" cannot be pulled: fix the name or the registry credentials, e.g. kubectl -n cortex-system set image deployment/sandfly-mcp-server server=<image:tag>; or roll back: kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"
    );
    let healed =
        record("heal-earlier-2", "jira-mcp-server", Duration::from_secs(6 * 3600), "healed", 0, &["ScaledToZero"]);
    let mut hostile = record("heal-earlier-3", HOSTILE, Duration::from_secs(2 * 3600), "not_healed", 1, &["NotReady"]);
    hostile["issue"] = json!("<img src=x onerror=\"window.__injected = 'issue'\">");
    hostile["message"] = json!("<b onmouseover=\"window.__injected = 'message'\">bold</b>");
    hostile["events"][0]["line"]["error"] = json!("<script>window.__injected = 'event'</script>");
    vec![healed.to_string(), manual.to_string(), hostile.to_string()]
}

const HOSTILE: &str = "<script>window.__injected = 'service'</script>";

#[test]
fn console_shows_a_live_heal_in_a_real_browser() {
    let sim = demo_ready();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heals.jsonl");
    write_history(&path, &earlier_heals());
    let config = format!("{}{}", sim_config(&sim, ""), history_config(&path, 1000));
    let gate_dir = tempfile::tempdir().unwrap();
    let worker = gated_worker(gate_dir.path());
    let orch = Orch::start(Some(&sim), &config, &[("SELF_HEAL_WORKER_PATH", worker.to_str().unwrap())]);
    let mut browser = Browser::start(1280, 900);
    let wait = Duration::from_secs(60);
    browser.goto(&format!("{}/", orch.url));
    browser.wait_for("the live stream", "document.getElementById('conn').dataset.state === 'live'", wait);
    browser.wait_for("the earlier heals", "document.querySelectorAll('#rows tr').length === 3", wait);
    assert!(!browser.eval("document.getElementById('token-dialog').open").as_bool().unwrap(), "no token, no prompt");

    // Markup in a service name, an error text and a worker line renders as text.
    let cell = browser.eval("document.querySelector('tr[data-id=\"heal-earlier-3\"] td.c-service').textContent");
    assert_eq!(cell, json!(HOSTILE));
    browser.eval("location.hash = 'heal=heal-earlier-3'");
    browser.wait_for("the hostile heal's timeline", "document.querySelectorAll('#d-events li').length === 1", wait);
    let shown = browser.eval("document.getElementById('detail').innerText").as_str().unwrap().to_string();
    assert!(shown.contains("<img src=x onerror="), "{shown}");
    assert!(shown.contains("<script>window.__injected = 'event'</script>"), "{shown}");
    assert_eq!(
        browser.eval("document.querySelectorAll('#detail img, #detail b, #rows script, #detail script').length"),
        json!(0)
    );
    assert_eq!(browser.eval("typeof window.__injected"), json!("undefined"), "no injected code ran");
    browser.eval("document.getElementById('d-close').click()");

    // Before the heal: 3 finished in the last 24 h, 1 healed or healthy, 1 manual.
    let rate = "[document.getElementById('m-success-rate').dataset.ok, document.getElementById('m-success-rate').dataset.finished]";
    assert_eq!(browser.eval(rate), json!(["1", "3"]));

    // Where everything outside the rows is, to check that nothing moves as the heal streams in.
    let layout = "JSON.stringify(Array.from(document.querySelectorAll('.card, #chart, .legend, .heals .section-head, #table-wrap, #older')).map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }))";
    let before = browser.eval(layout);
    browser.eval("window.__sameDocument = true");

    // Break the service and send the seed's query through a worker held at a gate, so the
    // page is seen with the heal running, then advancing to its end.
    scale_to_zero(&sim);
    let url = orch.url.clone();
    let task = std::thread::spawn(move || block_on(stream_to(&url, seed_query())));
    let running = "document.querySelector('#rows tr[data-service=\"sandfly-mcp-server\"][data-outcome=\"running\"]')";
    browser.wait_for("the heal, running", &format!("{running} !== null"), wait);
    let badge = browser.eval(&format!("{running}.querySelector('td.c-outcome').textContent"));
    assert!(badge.as_str().unwrap().contains("running"), "{badge}");
    assert_eq!(browser.eval("document.querySelector('#rows tr').dataset.outcome"), json!("running"), "newest first");
    // Its timeline, opened while it runs, advances as the worker's lines arrive.
    browser.eval(&format!("location.hash = 'heal=' + encodeURIComponent({running}.dataset.id)"));
    browser.wait_for(
        "the running heal's timeline",
        "document.getElementById('d-status').textContent.startsWith('Live')",
        wait,
    );
    std::fs::write(gate_dir.path().join("gate"), "").unwrap();
    browser.wait_for(
        "the open timeline to reach the result",
        "Array.from(document.querySelectorAll('#d-events .ev-kind')).some(k => k.textContent === 'result')",
        wait,
    );
    let kinds = browser.eval("Array.from(document.querySelectorAll('#d-events .ev-kind')).map(k => k.textContent)");
    let kinds: Vec<String> = serde_json::from_value(kinds).unwrap();
    assert_eq!(kinds.first().map(String::as_str), Some("started"), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("result"), "{kinds:?}");
    for kind in ["finding", "plan", "action", "check"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let row = "document.querySelector('#rows tr[data-service=\"sandfly-mcp-server\"][data-outcome=\"healed\"]')";
    browser.wait_for("the live row, healed", &format!("{row} !== null"), wait);
    browser.wait_for(
        "the timeline's title to say healed",
        "document.querySelector('#d-title [data-outcome]').dataset.outcome === 'healed'",
        wait,
    );
    screenshot(&mut browser, "console-timeline.png", false);
    browser.eval("document.getElementById('d-close').click()");
    let frames = task.join().unwrap();
    assert_eq!(frames.last().unwrap()["status"], "completed", "{frames:#?}");
    assert_eq!(browser.eval("window.__sameDocument"), json!(true), "the heal arrived live, without a reload");
    assert_eq!(browser.eval(layout), before, "nothing outside the rows moved");
    let heights = browser.eval("Array.from(new Set(Array.from(document.querySelectorAll('#rows tr')).map(tr => tr.getBoundingClientRect().height)))");
    assert_eq!(heights.as_array().unwrap().len(), 1, "every row has the same height: {heights}");
    let cells = browser.eval(&format!("Array.from({row}.children).map(td => td.textContent)"));
    let cells: Vec<String> = serde_json::from_value(cells).unwrap();
    assert_eq!(cells[0], SVC);
    assert_eq!(cells[1], NS);
    assert!(cells[4].contains("ScaledToZero"), "{cells:?}");
    assert_eq!(cells[5], "scale");
    assert!(cells[6].contains("✔") && cells[6].contains("healed"), "icon and word: {cells:?}");
    assert_eq!(cells[7], "0");
    let utc = browser.eval(&format!("{row}.querySelector('td.c-started time').title"));
    assert!(utc.as_str().unwrap().ends_with(" UTC"), "{utc}");

    // The header counts it.
    browser.wait_for("the header to count the heal", &format!("JSON.stringify({rate}) === '[\"2\",\"4\"]'"), wait);
    assert_eq!(browser.eval("document.getElementById('m-success-rate').textContent"), json!("50%"));
    assert_eq!(browser.eval("document.getElementById('m-manual').textContent"), json!("1"));
    assert_eq!(browser.eval("document.getElementById('m-total').dataset.count"), json!("4"));
    let top = browser.eval("document.querySelector('#m-services li').dataset.name + ' ' + document.querySelector('#m-services li').dataset.count");
    assert_eq!(top, json!(format!("{NS}/{SVC} 2")));
    let failures = browser.eval(
        "Array.from(document.querySelectorAll('#m-failures li')).map(li => li.dataset.name + ' ' + li.dataset.count)",
    );
    assert_eq!(failures[0], json!("ScaledToZero 2"), "most common failure: {failures}");

    screenshot(&mut browser, "console.png", true);
}

#[test]
fn console_asks_for_the_token_once_and_recommends_the_exact_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heals.jsonl");
    write_history(&path, &earlier_heals());
    let orch = Orch::start(None, &history_config(&path, 1000), &[("ORCHESTRATOR_TOKEN", TOKEN)]);
    let mut browser = Browser::start(1280, 900);
    browser.viewport(390, 844, true);
    let wait = Duration::from_secs(60);
    browser.goto(&format!("{}/", orch.url));
    browser.wait_for("the token prompt", "document.getElementById('token-dialog').open", wait);
    assert_eq!(browser.eval("document.querySelectorAll('#rows tr').length"), json!(0), "nothing before the token");

    let submit = |token: &str| {
        format!(
            "document.getElementById('token-input').value = {}; document.getElementById('token-form').requestSubmit(); true",
            json!(token)
        )
    };
    browser.eval(&submit("not-the-token"));
    browser.wait_for("a refusal", "document.getElementById('token-error').textContent.includes('refused')", wait);
    browser.eval(&submit(TOKEN));
    browser.wait_for("the heals, once authorized", "document.querySelectorAll('#rows tr').length === 3", wait);
    browser.wait_for(
        "the live stream with the token",
        "document.getElementById('conn').dataset.state === 'live'",
        wait,
    );
    assert_eq!(browser.eval("sessionStorage.length"), json!(1), "kept for this tab only");

    // A reload in the same tab does not ask again.
    browser.goto(&format!("{}/#heal=heal-earlier-1", orch.url));
    browser.wait_for("the manual heal's timeline", "document.querySelectorAll('#d-events li').length === 1", wait);
    assert!(!browser.eval("document.getElementById('token-dialog').open").as_bool().unwrap());
    let cmds = browser.eval("Array.from(document.querySelectorAll('#d-cmds code')).map(c => c.textContent)");
    assert_eq!(
        cmds,
        json!([
            "kubectl -n cortex-system set image deployment/sandfly-mcp-server server=<image:tag>",
            "kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"
        ])
    );
    screenshot(&mut browser, "console-phone.png", false);
}
