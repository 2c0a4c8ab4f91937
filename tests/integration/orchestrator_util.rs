//! Harness for the orchestrator tests: the real `orchestrator` binary (with the real
//! `self-heal` as its worker) against a kube-sim, an SSE reader, and fixture workers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::Sim;

pub const NS: &str = "cortex-system";
pub const SVC: &str = "sandfly-mcp-server";
pub const DEPLOY: &str = "deployment/sandfly-mcp-server";

/// A running orchestrator, killed when dropped.
pub struct Orch {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub dir: tempfile::TempDir,
}

/// The seed's configuration for the sim's sandfly service, plus `extra` YAML at the top level.
pub fn sim_config(sim: &Sim, healing: &str) -> String {
    let url = sim.service_url(NS, SVC);
    format!(
        "healing:\n  timeout: 90s\n{healing}servers:\n  - name: sandfly\n    url: {url}/mcp\n    service: {SVC}\n    namespace: {NS}\n    timeout: 20s\n    idempotent_tools: [sandfly_list_hosts]\nroutes:\n  - keywords: [host, hosts, node]\n    server: sandfly\n    tool: sandfly_list_hosts\n    arguments: {{summary: true, page: 1, size: 100}}\n  - keywords: [echo]\n    server: sandfly\n    tool: echo\n    arguments: {{message: hello}}\n"
    )
}

impl Orch {
    /// Starts the orchestrator with `config` (YAML), the sim's kubeconfig (if any), the real
    /// self-heal as worker, and `env` on top of a cleared environment.
    pub fn start(sim: Option<&Sim>, config: &str, env: &[(&str, &str)]) -> Orch {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orchestrator.yaml");
        std::fs::write(&path, config).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("RUST_LOG", "warn,heal=info")
            .env("NO_COLOR", "1")
            .env("SELF_HEAL_WORKER_PATH", env!("CARGO_BIN_EXE_self-heal"))
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(sim) = sim {
            cmd.env("KUBECONFIG", sim.kubeconfig());
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start orchestrator");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("orchestrator listening ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().unwrap();
                panic!("orchestrator did not print its listening line ({status})");
            }
        };
        Orch { child: Some(child), url: format!("http://{addr}"), dir }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits (at most `limit`) for the exit code.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("orchestrator did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Orch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs a future on a fresh runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap().block_on(f)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// One SSE frame: its id and its JSON.
pub type Frame = (u64, Value);

/// Parses an SSE body: every event a `data:` line of JSON with an `id:` line, no `event:`
/// lines; ids count 1, 2, 3...; comments skipped.
pub fn parse_sse(body: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut id = None;
        let mut data = None;
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().parse::<u64>().unwrap());
            } else if let Some(v) = line.strip_prefix("data:") {
                assert!(data.is_none(), "one data line per frame: {block}");
                data = Some(
                    serde_json::from_str::<Value>(v.trim()).unwrap_or_else(|e| panic!("data is not JSON ({e}): {v}")),
                );
            } else {
                panic!("unexpected SSE line {line:?} in {body}");
            }
        }
        let Some(data) = data else { continue };
        assert_eq!(id, Some(out.len() as u64 + 1), "ids count 1, 2, 3...: {body}");
        out.push(data);
    }
    out
}

/// POSTs a streaming task and reads the whole stream (checking headers and framing).
pub async fn stream(orch: &Orch, body: Value, token: Option<&str>) -> Vec<Value> {
    let mut req = client().post(format!("{}/api/tasks", orch.url)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("POST /api/tasks");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    let text = resp.text().await.unwrap();
    let frames = parse_sse(&text);
    assert_eq!(frames.last().map(|f| f["type"].clone()), Some("processing_complete".into()), "{text}");
    assert_eq!(frames.iter().filter(|f| f["type"] == "processing_complete").count(), 1, "{text}");
    frames
}

/// The seed's request.
pub fn seed_query() -> Value {
    serde_json::json!({"query": "list sandfly hosts", "streaming": true})
}

/// The `type`s of frames, with runs of `healing_progress` collapsed to one.
pub fn shape(frames: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in frames {
        let t = f["type"].as_str().unwrap().to_string();
        if t == "healing_progress" && out.last().is_some_and(|l| l == "healing_progress") {
            continue;
        }
        out.push(t);
    }
    out
}

/// Checks that the `healing_progress` frames relay the worker's NDJSON lines, in order, from
/// `started` to `result`; returns the result line.
pub fn relayed_result(frames: &[Value]) -> Value {
    let lines: Vec<&Value> = frames.iter().filter(|f| f["type"] == "healing_progress").map(|f| &f["event"]).collect();
    assert!(!lines.is_empty(), "no progress relayed: {frames:#?}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"].as_u64(), Some(i as u64 + 1), "every worker line relayed once, in order");
    }
    assert_eq!(lines[0]["event"], "started");
    for f in frames.iter().filter(|f| f["type"] == "healing_progress") {
        assert_eq!(f["service"], SVC);
        assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()), "{f}");
    }
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "result");
    (*last).clone()
}

pub async fn get_json(orch: &Orch, path: &str) -> Value {
    let resp = client().get(format!("{}{path}", orch.url)).send().await.unwrap();
    assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
    resp.json().await.unwrap()
}

pub async fn get_text(orch: &Orch, path: &str) -> String {
    client().get(format!("{}{path}", orch.url)).send().await.unwrap().text().await.unwrap()
}

pub fn kubectl(sim: &Sim, args: &[&str]) -> String {
    let mut full = vec!["-n", NS];
    full.extend_from_slice(args);
    sim.kubectl_ok(&full)
}

pub fn demo_ready() -> Sim {
    let sim = Sim::demo();
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    sim
}

/// Scales the service to 0 and waits until its address refuses connections.
pub fn scale_to_zero(sim: &Sim) {
    kubectl(sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = sim.service_url(NS, SVC);
    crate::util::eventually("the service to refuse", Duration::from_secs(20), || {
        crate::util::refused(&url).then_some(())
    });
}

/// Events of the cluster whose message contains `text`.
pub fn events_with(sim: &Sim, text: &str) -> Vec<Value> {
    let v = sim.get_json(NS, "events");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["message"].as_str().is_some_and(|m| m.contains(text)))
        .cloned()
        .collect()
}

/// An executable fixture script (a stand-in worker) in `dir`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A worker that records its pid in `dir/spawned`, waits for `dir/gate` to exist, then runs the
/// real self-heal: lets a test make every request join the heal before it proceeds.
pub fn gated_worker(dir: &Path) -> PathBuf {
    let d = dir.display();
    script(
        dir,
        "gated-self-heal",
        &format!(
            "echo $$ >> '{d}/spawned'\nwhile [ ! -e '{d}/gate' ]; do sleep 0.02; done\nexec '{}' \"$@\"",
            env!("CARGO_BIN_EXE_self-heal")
        ),
    )
}

/// Whether process `pid` is still alive (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next()).unwrap_or(None);
            !matches!(state, Some('Z') | Some('X'))
        }
        Err(_) => false,
    }
}

/// The value of one metric sample line (`name{labels} value`), if present.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.trim().split(' ').next()?.parse().ok()))
}
