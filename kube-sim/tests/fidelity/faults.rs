//! Fault injection over real sockets: each action of `/_sim/faults` as kubectl and a raw HTTPS
//! client see it, the rule's window, count and probability, `--faults FILE`, and the flapping
//! readiness of `SIM_READY_FLAP`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{Sim, eventually, refused};

const NS: &str = "cortex-system";
const NAME: &str = "sandfly-mcp-server";
const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/cortex-system/deployments/sandfly-mcp-server";
const WAIT: Duration = Duration::from_secs(30);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh HTTPS client trusting the sim (one connection per request, as the faults cut them).
fn client(sim: &Sim) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .add_root_certificate(reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// A raw admin request that may fail at the transport: (status, Retry-After, body) or the error.
fn send(sim: &Sim, method: &str, path: &str, body: Option<(&str, &str)>) -> Result<(u16, String, String), String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client(sim).request(method, format!("{}{path}", sim.url)).bearer_auth(sim.admin_token());
    if let Some((ct, b)) = body {
        req = req.header("content-type", ct).body(b.to_string());
    }
    let r = req.send().map_err(|e| format!("{e:?}"))?;
    let code = r.status().as_u16();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    Ok((code, retry, r.text().map_err(|e| format!("{e:?}"))?))
}

fn replicas(sim: &Sim) -> i64 {
    sim.get_json(NS, &format!("deploy/{NAME}"))["spec"]["replicas"].as_i64().unwrap()
}

fn rv_of(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

/// The codes the record holds for `verb` of the demo Deployment (subresource `sub`).
fn codes(sim: &Sim, verb: &str, sub: &str) -> Vec<u16> {
    sim.requests()
        .iter()
        .filter(|r| r.verb == verb && r.resource == "deployments" && r.subresource == sub && r.name == NAME)
        .map(|r| r.code)
        .collect()
}

#[test]
fn kubectl_honours_429_retry_after_and_succeeds() {
    let sim = Sim::demo();
    let id = sim.add_fault(json!({"match": {"verb": "get", "resource": "deployments", "name": NAME},
        "action": {"status": 429, "retryAfterSeconds": 1}, "count": 2}));
    let t0 = Instant::now();
    let d = sim.get_json(NS, &format!("deploy/{NAME}"));
    assert_eq!(d["metadata"]["name"], NAME);
    assert!(t0.elapsed() >= Duration::from_secs(2), "kubectl waited Retry-After twice: {:?}", t0.elapsed());
    assert_eq!(sim.fault_hits(&id), 2);
    assert_eq!(codes(&sim, "get", ""), [429, 429, 200]);
    assert_eq!(sim.faults()["faults"][0]["active"], false, "spent after its count");

    sim.add_fault(json!({"match": {"resource": "deployments"}, "action": {"status": 429, "retryAfterSeconds": 7}}));
    let (code, retry, body) = send(&sim, "GET", DEPLOY_PATH, None).unwrap();
    assert_eq!((code, retry.as_str()), (429, "7"));
    let want = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
        "details": {"retryAfterSeconds": 7}, "code": 429});
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), want);
}

#[test]
fn server_errors_answer_real_status_bodies_that_kubectl_prints() {
    let sim = Sim::demo();
    for (status, reason, message) in [
        (500, "InternalError", "Internal error occurred: etcdserver: leader changed"),
        (503, "ServiceUnavailable", "the server is currently unable to handle the request"),
        (504, "Timeout", "Timeout: request did not complete within the allotted timeout"),
    ] {
        let id =
            sim.add_fault(json!({"match": {"verb": "get", "resource": "deployments"}, "action": {"status": status}}));
        let (code, retry, body) = send(&sim, "GET", DEPLOY_PATH, None).unwrap();
        let s: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((code, retry.as_str()), (status, ""), "{body}");
        assert_eq!((s["kind"].as_str(), s["status"].as_str()), (Some("Status"), Some("Failure")));
        assert_eq!(
            (s["reason"].as_str(), s["message"].as_str(), s["code"].as_u64()),
            (Some(reason), Some(message), Some(u64::from(status)))
        );
        let out = sim.kubectl(&["-n", NS, "get", "deploy", NAME]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(&format!("Error from server ({reason}): {message}")), "{}", stderr(&out));
        sim.remove_fault(&id);
    }
    sim.kubectl_ok(&["-n", NS, "get", "deploy", NAME]);
}

#[test]
fn latency_delays_the_answer_and_only_matching_requests() {
    let sim = Sim::demo();
    sim.add_fault(json!({"match": {"verb": "get", "resource": "deployments"}, "action": {"latencyMs": 400}}));
    let t0 = Instant::now();
    assert_eq!(send(&sim, "GET", DEPLOY_PATH, None).unwrap().0, 200);
    assert!(t0.elapsed() >= Duration::from_millis(400), "{:?}", t0.elapsed());
    let t0 = Instant::now();
    assert_eq!(send(&sim, "GET", "/api/v1/namespaces/cortex-system/services/sandfly-mcp-server", None).unwrap().0, 200);
    assert!(t0.elapsed() < Duration::from_millis(400), "a Service GET is not delayed: {:?}", t0.elapsed());
}

#[test]
fn dropped_connections_apply_the_write_or_not_and_record_code_0() {
    let sim = Sim::demo();
    let scale = format!("{DEPLOY_PATH}/scale");
    let patch = |n: i64| {
        send(
            &sim,
            "PATCH",
            &scale,
            Some(("application/merge-patch+json", &json!({"spec": {"replicas": n}}).to_string())),
        )
    };
    let rule = |when: &str| {
        json!({"match": {"verb": "patch", "resource": "deployments", "subresource": "scale"},
            "action": {"drop": when}, "count": 1})
    };
    sim.add_fault(rule("before"));
    let e = patch(5).unwrap_err();
    assert!(!e.is_empty());
    assert_eq!(replicas(&sim), 2, "dropped before: not applied");
    sim.add_fault(rule("after"));
    patch(4).unwrap_err();
    assert_eq!(replicas(&sim), 4, "dropped after: applied");
    assert_eq!(codes(&sim, "patch", "scale"), [0, 0]);
    assert_eq!(patch(3).unwrap().0, 200, "count spent: served again");
}

#[test]
fn conflict_answers_409_and_really_moves_the_resource_version() {
    let sim = Sim::demo();
    let before = sim.get_json(NS, &format!("deploy/{NAME}"));
    let id = sim.add_fault(json!({"match": {"verb": "patch", "resource": "deployments", "name": NAME},
        "action": {"conflict": true}, "count": 1}));
    let body = json!({"metadata": {"annotations": {"a": "b"}}}).to_string();
    let (code, _, text) = send(&sim, "PATCH", DEPLOY_PATH, Some(("application/merge-patch+json", &body))).unwrap();
    assert_eq!(code, 409, "{text}");
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["reason"], "Conflict");
    assert_eq!(
        s["message"],
        format!(
            "Operation cannot be fulfilled on deployments.apps \"{NAME}\": the object has been modified; please apply your changes to the latest version and try again"
        )
    );
    let after = sim.get_json(NS, &format!("deploy/{NAME}"));
    assert!(rv_of(&after) > rv_of(&before), "another writer came first");
    assert!(after["metadata"]["annotations"]["a"].is_null(), "the conflicting write was not applied");
    assert_eq!(after["metadata"]["generation"], before["metadata"]["generation"]);
    // A PUT with the old resourceVersion now conflicts for real.
    let mut stale = before.clone();
    stale["metadata"]["labels"]["x"] = json!("y");
    let (code, _, _) = send(&sim, "PUT", DEPLOY_PATH, Some(("application/json", &stale.to_string()))).unwrap();
    assert_eq!(code, 409);
    assert_eq!(sim.fault_hits(&id), 1);
    // kubectl scale retries a conflict on its own and gets through.
    sim.add_fault(json!({"match": {"verb": "patch", "resource": "deployments", "subresource": "scale"},
        "action": {"conflict": true}, "count": 1}));
    sim.kubectl_ok(&["-n", NS, "scale", &format!("deploy/{NAME}"), "--replicas=3"]);
    assert_eq!(replicas(&sim), 3);
    assert_eq!(codes(&sim, "patch", "scale"), [409, 200]);
}

#[test]
fn gone_answers_a_resumed_watch_and_a_list_with_410() {
    let sim = Sim::demo();
    let id = sim.add_fault(json!({"match": {"resource": "pods"}, "action": {"gone": true}, "count": 2}));
    let pods = "/api/v1/namespaces/cortex-system/pods";
    let (code, _, body) =
        send(&sim, "GET", &format!("{pods}?watch=true&resourceVersion=150&timeoutSeconds=30"), None).unwrap();
    assert_eq!(code, 200);
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "one ERROR event, then the stream ends: {body}");
    assert_eq!(lines[0]["type"], "ERROR");
    let s = &lines[0]["object"];
    assert_eq!((s["code"].as_u64(), s["reason"].as_str()), (Some(410), Some("Expired")));
    assert!(s["message"].as_str().unwrap().starts_with("too old resource version: 150 ("), "{s}");
    let (code, _, body) = send(&sim, "GET", &format!("{pods}?resourceVersion=150"), None).unwrap();
    assert_eq!(code, 410, "{body}");
    // Without a resourceVersion (or with "0") nothing is too old: not hit.
    let (code, _, body) = send(&sim, "GET", &format!("{pods}?resourceVersion=0"), None).unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, _, body) = send(&sim, "GET", &format!("{pods}?watch=1&timeoutSeconds=1"), None).unwrap();
    assert_eq!(code, 200);
    assert!(body.lines().all(|l| !l.contains("\"ERROR\"")), "{body}");
    assert_eq!(sim.fault_hits(&id), 2);
}

#[test]
fn watch_close_ends_the_stream_after_events_or_seconds() {
    let sim = Sim::demo();
    let pods = "/api/v1/namespaces/cortex-system/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=60";
    eventually("2 pods", WAIT, || (sim.get_json(NS, "pods")["items"].as_array()?.len() == 2).then_some(()));
    let id = sim.add_fault(json!({"match": {"verb": "watch", "resource": "pods"},
        "action": {"watchClose": {"afterEvents": 1}}, "count": 1}));
    let t0 = Instant::now();
    let (code, _, body) = send(&sim, "GET", pods, None).unwrap();
    assert_eq!(code, 200);
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("\"ADDED\""), "{body}");
    assert!(t0.elapsed() < Duration::from_secs(30), "closed long before timeoutSeconds");
    assert_eq!(sim.fault_hits(&id), 1);
    sim.add_fault(json!({"match": {"verb": "watch"}, "action": {"watchClose": {"afterSeconds": 1}}}));
    let t0 = Instant::now();
    let (_, _, body) = send(&sim, "GET", pods, None).unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(30), "{took:?}");
    assert_eq!(body.lines().filter(|l| l.contains("\"ADDED\"")).count(), 2, "{body}");
    // A GET is no watch: the rule does not apply to it.
    assert_eq!(send(&sim, "GET", DEPLOY_PATH, None).unwrap().0, 200);
}

#[test]
fn hold_waits_until_the_rule_is_removed_or_max_seconds() {
    let sim = Sim::demo();
    let id = sim.add_fault(json!({"id": "hold-get", "match": {"verb": "get", "resource": "deployments"},
        "action": {"hold": {"maxSeconds": 60}}}));
    assert_eq!(id, "hold-get");
    std::thread::scope(|s| {
        let t0 = Instant::now();
        let held = s.spawn(|| send(&sim, "GET", DEPLOY_PATH, None));
        sim.wait_fault_hits(&id, 1, WAIT);
        assert!(codes(&sim, "get", "").is_empty(), "held: not answered yet");
        sim.remove_fault(&id);
        let (code, _, _) = held.join().unwrap().unwrap();
        assert_eq!(code, 200);
        assert!(t0.elapsed() < Duration::from_secs(30), "released by DELETE, not by maxSeconds");
    });
    sim.add_fault(json!({"match": {"verb": "get", "resource": "deployments"}, "action": {"hold": {"maxSeconds": 1}}}));
    let t0 = Instant::now();
    assert_eq!(send(&sim, "GET", DEPLOY_PATH, None).unwrap().0, 200);
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());
    sim.clear_faults();
    assert_eq!(sim.faults(), json!({"faults": []}));
}

#[test]
fn time_window_and_probability_decide_which_requests_are_hit() {
    let sim = Sim::start(&["--demo", "--fault-seed", "11"]);
    let id = sim.add_fault(json!({"match": {"resource": "deployments"}, "action": {"status": 503},
        "afterSeconds": 1, "forSeconds": 1}));
    assert_eq!(send(&sim, "GET", DEPLOY_PATH, None).unwrap().0, 200, "not yet open");
    eventually("the window to open", WAIT, || (send(&sim, "GET", DEPLOY_PATH, None).unwrap().0 == 503).then_some(()));
    eventually("the window to close", WAIT, || (send(&sim, "GET", DEPLOY_PATH, None).unwrap().0 == 200).then_some(()));
    assert!(sim.fault_hits(&id) >= 1);
    sim.clear_faults();

    let draws = |sim: &Sim| {
        sim.add_fault(json!({"match": {"resource": "deployments"}, "action": {"status": 500}, "probability": 0.5}));
        (0..30).map(|_| send(sim, "GET", DEPLOY_PATH, None).unwrap().0).collect::<Vec<u16>>()
    };
    let a = draws(&sim);
    let hits = a.iter().filter(|c| **c == 500).count();
    assert!((3..=27).contains(&hits), "about half hit: {a:?}");
    assert!(a.iter().all(|c| *c == 500 || *c == 200));
    let replay = Sim::start(&["--demo", "--fault-seed", "11"]);
    // The same seed and the same draws before: the first rule above drew nothing.
    assert_eq!(draws(&replay), a, "the seed replays the run");
}

#[test]
fn faults_file_loads_rules_at_start_and_the_admin_api_validates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.yaml");
    std::fs::write(
        &file,
        "- id: unavailable\n  match: {verb: get, resource: deployments, name: sandfly-mcp-server}\n  action: {status: 503}\n  count: 1\n",
    )
    .unwrap();
    let sim = Sim::start(&["--demo", "--faults", file.to_str().unwrap()]);
    assert_eq!(sim.faults()["faults"][0]["id"], "unavailable");
    let out = sim.kubectl(&["-n", NS, "get", "deploy", NAME]);
    assert!(stderr(&out).contains("Error from server (ServiceUnavailable)"), "{}", stderr(&out));
    assert_eq!(sim.fault_hits("unavailable"), 1);
    sim.kubectl_ok(&["-n", NS, "get", "deploy", NAME]);

    let post = |body: &str| sim.api("POST", "/_sim/faults", Some(("application/json", body)));
    let (code, body) = post(r#"{"action": {"status": 404}}"#);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not one of 429, 500, 503, 504"), "{body}");
    let (code, body) = post(r#"{"id": "unavailable", "action": {"status": 500}}"#);
    assert_eq!(code, 409, "{body}");
    let (code, body) = post(r#"[{"action": {"latencyMs": 1}}, {"action": {"gone": true}}]"#);
    assert_eq!(code, 201, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["ids"].as_array().unwrap().len(), 2);
    assert_eq!(sim.api("DELETE", "/_sim/faults/nope", None).0, 404);
    let viewer = sim.client_cert_kubeconfig("viewer", &[]);
    let out = sim.kubectl_with(&viewer, &["get", "--raw", "/_sim/faults"]);
    assert!(!out.status.success(), "only system:masters reads the faults");

    std::fs::write(&file, "- action: {status: 418}\n").unwrap();
    let kc = dir.path().join("kc");
    let out = std::process::Command::new(kube_sim::harness::binary())
        .args(["--kubeconfig", kc.to_str().unwrap(), "--faults", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid fault rule: status 418"), "{}", stderr(&out));
}

#[test]
fn ready_flap_alternates_readiness_and_refuses_while_unready() {
    let sim = Sim::demo();
    sim.kubectl_ok(&["-n", NS, "scale", &format!("deploy/{NAME}"), "--replicas=1"]);
    sim.kubectl_ok(&["-n", NS, "set", "env", &format!("deploy/{NAME}"), "SIM_READY_FLAP=1,1"]);
    let flapping = |ready: bool| {
        eventually(&format!("a flapping pod with Ready={ready}"), WAIT, || {
            let pods = sim.get_json(NS, "pods")["items"].as_array().cloned().unwrap_or_default();
            pods.into_iter().find(|p| {
                p["spec"]["containers"][0]["env"][0]["name"] == "SIM_READY_FLAP"
                    && p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["containerStatuses"][0]["ready"] == ready
                    && !p["status"]["podIP"].is_null()
            })
        })
    };
    let up = flapping(true);
    let down = flapping(false);
    assert_eq!(up["metadata"]["uid"], down["metadata"]["uid"], "the same pod flaps");
    assert_eq!(down["status"]["phase"], "Running");
    let url = format!("http://{}:3000/health", down["status"]["podIP"].as_str().unwrap());
    eventually("the unready pod to refuse connections", WAIT, || refused(&url).then_some(()));
    let again = flapping(true);
    assert_eq!(again["metadata"]["uid"], up["metadata"]["uid"]);
    assert_eq!(again["status"]["containerStatuses"][0]["restartCount"], 0, "flapping is no restart");
}
