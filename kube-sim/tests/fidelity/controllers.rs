//! kube-sim controllers and faults, driven by the real kubectl as the seed's scenarios do.

use std::time::Duration;

use serde_json::Value;

use crate::util::{self, Sim, eventually, http_get_status, refused};

const NS: &str = "cortex-system";
const DEPLOY: &str = "deployment/sandfly-mcp-server";
const WAIT: Duration = Duration::from_secs(30);

fn pods(sim: &Sim) -> Vec<Value> {
    sim.get_json(NS, "pods")["items"].as_array().cloned().unwrap_or_default()
}

fn waiting_reason(pod: &Value) -> Option<String> {
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str().map(str::to_string)
}

fn health_url(sim: &Sim) -> String {
    format!("{}/health", sim.service_url(NS, "sandfly-mcp-server"))
}

fn answers(sim: &Sim) {
    let url = health_url(sim);
    eventually("the service answers GET /health with 200", WAIT, || (http_get_status(&url) == Some(200)).then_some(()));
}

fn events(sim: &Sim, reason: &str) -> Vec<String> {
    sim.get_json(NS, "events")["items"]
        .as_array()
        .map(|evs| {
            evs.iter()
                .filter(|e| e["reason"] == reason)
                .filter_map(|e| e["message"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `kubectl create -f` of a manifest (JSON bodies, as `create -f` sends them).
fn create(sim: &Sim, file: &str, manifest: &str) {
    let path = sim.dir().join(file);
    std::fs::write(&path, manifest).unwrap();
    sim.kubectl_ok(&["-n", NS, "create", "-f", path.to_str().unwrap()]);
}

fn rollout_status(sim: &Sim) -> String {
    sim.kubectl_ok(&["-n", NS, "rollout", "status", DEPLOY, "--timeout=60s"])
}

#[test]
fn demo_service_answers_and_pods_run() {
    let sim = Sim::demo();
    answers(&sim);
    let out = rollout_status(&sim);
    assert!(out.contains("successfully rolled out"), "{out}");
    let ps = pods(&sim);
    assert_eq!(ps.len(), 2);
    assert!(ps.iter().all(|p| p["status"]["phase"] == "Running"));
    assert_ne!(ps[0]["status"]["podIP"], ps[1]["status"]["podIP"]);
}

#[test]
fn scale_to_zero_refuses_connections_and_scale_back_answers() {
    let sim = Sim::demo();
    answers(&sim);
    let url = health_url(&sim);
    sim.kubectl_ok(&["-n", NS, "scale", DEPLOY, "--replicas=0"]);
    eventually("connection refused", WAIT, || refused(&url).then_some(()));
    let rs = &sim.get_json(NS, "replicasets")["items"][0];
    assert_eq!(rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"], "0");
    let name = rs["metadata"]["name"].as_str().unwrap().to_string();
    let scaled = events(&sim, "ScalingReplicaSet");
    assert!(scaled.contains(&format!("Scaled down replica set {name} from 2 to 0")), "{scaled:?}");
    sim.kubectl_ok(&["-n", NS, "scale", DEPLOY, "--replicas=2"]);
    answers(&sim);
}

#[test]
fn deleted_pod_is_replaced_and_the_service_keeps_answering() {
    let sim = Sim::demo();
    answers(&sim);
    let victim = pods(&sim)[0]["metadata"]["name"].as_str().unwrap().to_string();
    sim.kubectl_ok(&["-n", NS, "delete", "pod", &victim, "--wait=false"]);
    eventually("a replacement pod, and the victim gone", WAIT, || {
        let ps = pods(&sim);
        let ready = ps.iter().filter(|p| p["status"]["containerStatuses"][0]["ready"] == true).count();
        (ps.len() == 2 && ready == 2 && ps.iter().all(|p| p["metadata"]["name"] != victim.as_str())).then_some(())
    });
    answers(&sim);
    assert!(events(&sim, "Killing").iter().any(|m| m == "Stopping container server"));
}

#[test]
fn bad_image_stalls_while_old_pods_serve_and_undo_recovers() {
    let sim = Sim::demo();
    answers(&sim);
    sim.kubectl_ok(&["-n", NS, "set", "image", DEPLOY, "server=invalid-image:latest"]);
    eventually("ErrImagePull or ImagePullBackOff", WAIT, || {
        pods(&sim).iter().filter_map(waiting_reason).find(|r| r == "ErrImagePull" || r == "ImagePullBackOff")
    });
    assert_eq!(http_get_status(&health_url(&sim)), Some(200), "old pods keep serving");
    let described = sim.kubectl_ok(&["-n", NS, "describe", DEPLOY]);
    assert!(described.contains("ScalingReplicaSet"), "{described}");
    let out = sim.kubectl(&["-n", NS, "rollout", "status", DEPLOY, "--timeout=1s"]);
    assert!(!out.status.success(), "a stalled rollout is not complete");
    sim.kubectl_ok(&["-n", NS, "rollout", "undo", DEPLOY]);
    let out = rollout_status(&sim);
    assert!(out.contains("successfully rolled out"), "{out}");
    eventually("2 pods after undo", WAIT, || (pods(&sim).len() == 2).then_some(()));
    answers(&sim);
}

#[test]
fn crash_loop_grows_restarts_and_previous_logs_show_the_error() {
    let sim = Sim::demo();
    answers(&sim);
    sim.kubectl_ok(&["-n", NS, "set", "env", DEPLOY, "SIM_CRASH=1"]);
    let pod = eventually("CrashLoopBackOff with 2 restarts", WAIT, || {
        pods(&sim).into_iter().find(|p| {
            waiting_reason(p).as_deref() == Some("CrashLoopBackOff")
                && p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2)
        })
    });
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    let name = pod["metadata"]["name"].as_str().unwrap();
    // The pod leaves the back-off for a moment at each restart: poll the table, not one shot.
    eventually("kubectl's table to show the pod in CrashLoopBackOff", WAIT, || {
        let table = sim.kubectl_ok(&["-n", NS, "get", "pods"]);
        table.lines().any(|l| l.starts_with(name) && l.contains("CrashLoopBackOff")).then_some(())
    });
    let logs = sim.kubectl_ok(&["-n", NS, "logs", name, "--previous"]);
    assert!(logs.contains("Error: connection to database failed: ECONNREFUSED"), "{logs}");
    assert!(events(&sim, "BackOff").iter().any(|m| m.starts_with("Back-off restarting failed container server")));
}

#[test]
fn oom_is_reported_as_oomkilled_137() {
    let sim = Sim::demo();
    answers(&sim);
    sim.kubectl_ok(&["-n", NS, "set", "env", DEPLOY, "SIM_OOM=1"]);
    let pod = eventually("OOMKilled", WAIT, || {
        pods(&sim)
            .into_iter()
            .find(|p| p["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] == "OOMKilled")
    });
    assert_eq!(pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 137);
}

#[test]
fn missing_configmap_blocks_the_container_until_it_exists() {
    let sim = Sim::demo();
    answers(&sim);
    let patch = r#"[{"op":"add","path":"/spec/template/spec/containers/0/envFrom","value":[{"configMapRef":{"name":"sandfly-config"}}]}]"#;
    sim.kubectl_ok(&["-n", NS, "patch", DEPLOY, "--type=json", "-p", patch]);
    let pod = eventually("CreateContainerConfigError", WAIT, || {
        pods(&sim).into_iter().find(|p| waiting_reason(p).as_deref() == Some("CreateContainerConfigError"))
    });
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "configmap \"sandfly-config\" not found"
    );
    create(
        &sim,
        "cm.json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sandfly-config"},"data":{"LOG_LEVEL":"debug"}}"#,
    );
    let out = rollout_status(&sim);
    assert!(out.contains("successfully rolled out"), "{out}");
}

#[test]
fn impossible_node_selector_leaves_the_pod_pending() {
    let sim = Sim::demo();
    answers(&sim);
    let patch = r#"{"spec":{"template":{"spec":{"nodeSelector":{"disktype":"ssd"}}}}}"#;
    sim.kubectl_ok(&["-n", NS, "patch", DEPLOY, "--type=merge", "-p", patch]);
    let pod = eventually("an unschedulable pod", WAIT, || {
        pods(&sim).into_iter().find(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["reason"] == "Unschedulable"))
        })
    });
    assert_eq!(pod["status"]["phase"], "Pending");
    let failed = events(&sim, "FailedScheduling");
    assert_eq!(
        failed.first().map(String::as_str),
        Some(
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        )
    );
    answers(&sim);
}

#[test]
fn service_selecting_nothing_refuses_connections() {
    let sim = Sim::demo();
    let svc = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"orphan"},"spec":{"selector":{"app":"orphan"},"ports":[{"name":"http","port":3000,"targetPort":3000}]}}"#;
    create(&sim, "svc.json", svc);
    let url = eventually("the orphan service URL", WAIT, || {
        let v = sim.get_json(NS, "service/orphan");
        v["metadata"]["annotations"]["kube-sim.self-heal.dev/url"].as_str().map(str::to_string)
    });
    assert!(refused(&url), "no endpoints: connections are refused");
    let ep = sim.get_json(NS, "endpoints/orphan");
    assert!(ep.get("subsets").is_none(), "{ep}");
}

#[test]
fn rollout_restart_completes_and_serves() {
    let sim = Sim::demo();
    answers(&sim);
    let before: Vec<String> = pods(&sim).iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    sim.kubectl_ok(&["-n", NS, "rollout", "restart", DEPLOY]);
    let out = rollout_status(&sim);
    assert!(out.contains("successfully rolled out"), "{out}");
    eventually("old pods replaced", WAIT, || {
        let ps = pods(&sim);
        (ps.len() == 2 && ps.iter().all(|p| !before.contains(&p["metadata"]["name"].as_str().unwrap().to_string())))
            .then_some(())
    });
    answers(&sim);
    let _ = util::connects(&health_url(&sim));
}
