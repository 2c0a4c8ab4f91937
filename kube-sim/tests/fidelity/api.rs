//! kube-sim API fidelity, driven by the real kubectl.

use std::time::Duration;

use serde_json::Value;

use crate::util::Sim;

const NS: &str = "cortex-system";
const DEPLOY: &str = "sandfly-mcp-server";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A raw HTTPS request to the sim as the admin: (status, lowercase headers, body).
fn raw(sim: &Sim, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, String, String) {
    let r = sim.api_as(Some(sim.admin_token()), method, path, body);
    let head: String = r
        .headers
        .iter()
        .map(|(k, v)| format!("{}: {}\n", k.as_str(), v.to_str().unwrap_or_default()))
        .collect::<String>()
        .to_lowercase();
    (r.code, head, r.body)
}

/// Writes a manifest into the sim's scratch directory and returns its path.
fn manifest(sim: &Sim, name: &str, yaml: &str) -> String {
    let p = sim.dir().join(name);
    std::fs::write(&p, yaml).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn get_prints_a_table_and_json_with_server_defaults() {
    let sim = Sim::demo();
    let table = sim.kubectl_ok(&["-n", NS, "get", "deploy", "-o", "wide"]);
    let header = table.lines().next().unwrap();
    for col in ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"] {
        assert!(header.contains(col), "missing column {col} in {header:?}");
    }
    assert!(table.contains("sim/mcp-server:1") && table.contains("app=sandfly-mcp-server"), "{table}");
    let svc = sim.kubectl_ok(&["-n", NS, "get", "svc"]);
    assert!(svc.contains("ClusterIP") && svc.contains("3000/TCP"), "{svc}");

    let d = sim.get_json(NS, &format!("deploy/{DEPLOY}"));
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    let s = sim.get_json(NS, &format!("svc/{DEPLOY}"));
    assert!(s["spec"]["clusterIP"].as_str().unwrap().starts_with("10.9"), "{s}");
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 3000);
    let node = sim.kubectl_ok(&["get", "nodes", "-o", "name"]);
    assert_eq!(node.trim(), "node/sim-node-1");
    let sas = sim.kubectl_ok(&["get", "sa", "-A", "-o", "name"]);
    assert_eq!(sas.lines().count(), 4, "one default ServiceAccount per namespace: {sas}");
}

#[test]
fn describe_deployment_shows_spec_and_events_section() {
    let sim = Sim::demo();
    let out = sim.kubectl_ok(&["-n", NS, "describe", "deploy", DEPLOY]);
    assert!(out.contains("Selector:               app=sandfly-mcp-server"), "{out}");
    assert!(out.contains("2 desired"), "{out}");
    assert!(out.contains("RollingUpdateStrategy:  25% max unavailable, 25% max surge"), "{out}");
    assert!(out.contains("Image:         sim/mcp-server:1"), "{out}");
}

#[test]
fn scale_to_zero_sets_spec_and_scale_subresource() {
    let sim = Sim::demo();
    let out = sim.kubectl_ok(&["-n", NS, "scale", "deploy", DEPLOY, "--replicas=0"]);
    assert_eq!(out.trim(), "deployment.apps/sandfly-mcp-server scaled");
    let d = sim.get_json(NS, &format!("deploy/{DEPLOY}"));
    assert_eq!(d["spec"]["replicas"], 0);
    let scale: Value = serde_json::from_str(&sim.kubectl_ok(&[
        "get",
        "--raw",
        &format!("/apis/apps/v1/namespaces/{NS}/deployments/{DEPLOY}/scale"),
    ]))
    .unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"], serde_json::json!({}), "replicas 0 is omitted, as a real server does");
    assert_eq!(scale["status"]["selector"], "app=sandfly-mcp-server");
    assert_eq!(scale["metadata"]["resourceVersion"], d["metadata"]["resourceVersion"]);
}

#[test]
fn writes_with_a_stale_resource_version_conflict() {
    let sim = Sim::demo();
    let (code, _, body) = raw(
        &sim,
        "PATCH",
        &format!("/apis/apps/v1/namespaces/{NS}/deployments/{DEPLOY}/scale"),
        Some(("application/merge-patch+json", r#"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":1}}"#)),
    );
    assert_eq!(code, 409, "{body}");
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["reason"], "Conflict");
    assert_eq!(
        s["message"],
        "Operation cannot be fulfilled on deployments.apps \"sandfly-mcp-server\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(sim.get_json(NS, &format!("deploy/{DEPLOY}"))["spec"]["replicas"], 2);

    // kubectl replace of a copy that someone else changed in between.
    let stale = sim.kubectl_ok(&["-n", NS, "get", "deploy", DEPLOY, "-o", "json"]);
    sim.kubectl_ok(&["-n", NS, "scale", "deploy", DEPLOY, "--replicas=3"]);
    let path = manifest(&sim, "stale.json", &stale);
    let out = sim.kubectl(&["replace", "-f", &path]);
    assert!(stderr(&out).contains("Error from server (Conflict)"), "{}", stderr(&out));
    assert_eq!(sim.get_json(NS, &format!("deploy/{DEPLOY}"))["spec"]["replicas"], 3);
}

#[test]
fn server_dry_run_changes_nothing() {
    let sim = Sim::demo();
    let before = sim.get_json(NS, &format!("deploy/{DEPLOY}"));
    let out = sim.kubectl_ok(&["-n", NS, "scale", "deploy", DEPLOY, "--replicas=5", "--dry-run=server"]);
    assert!(out.contains("scaled (server dry run)"), "{out}");
    let out =
        sim.kubectl_ok(&["-n", NS, "set", "image", &format!("deploy/{DEPLOY}"), "server=x:2", "--dry-run=server"]);
    assert!(out.contains("(server dry run)"), "{out}");
    let after = sim.get_json(NS, &format!("deploy/{DEPLOY}"));
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
}

#[test]
fn set_image_and_set_env_change_only_the_named_container() {
    let sim = Sim::demo();
    let out = sim.kubectl_ok(&["-n", NS, "set", "image", &format!("deploy/{DEPLOY}"), "server=invalid-image:latest"]);
    assert_eq!(out.trim(), "deployment.apps/sandfly-mcp-server image updated");
    sim.kubectl_ok(&["-n", NS, "set", "env", &format!("deploy/{DEPLOY}"), "SIM_CRASH=1"]);
    let d = sim.get_json(NS, &format!("deploy/{DEPLOY}"));
    let cs = d["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0]["image"], "invalid-image:latest");
    assert_eq!(cs[0]["env"], serde_json::json!([{"name": "SIM_CRASH", "value": "1"}]));
    assert_eq!(cs[0]["ports"][0]["containerPort"], 3000, "fields the patch does not name are kept");
    assert_eq!(d["metadata"]["generation"], 3);
    let out = sim.kubectl_ok(&["-n", NS, "rollout", "restart", &format!("deploy/{DEPLOY}")]);
    assert_eq!(out.trim(), "deployment.apps/sandfly-mcp-server restarted");
    let d = sim.get_json(NS, &format!("deploy/{DEPLOY}"));
    assert!(d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
}

#[test]
fn deleting_a_bound_pod_sets_deletion_timestamp() {
    let sim = Sim::start(&["--time-scale", "1"]);
    let path = manifest(
        &sim,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: default}\n\
         spec: {nodeName: sim-node-1, containers: [{name: c, image: sim/mcp-server:1}]}\n",
    );
    sim.kubectl_ok(&["create", "-f", &path]);
    let out = sim.kubectl_ok(&["-n", "default", "delete", "pod", "p1", "--wait=false"]);
    // kubectl's wording changed in v1.35: `pod "p1" deleted` before, `... from default namespace`
    // after; both are the server's one 200 answer.
    assert!(["pod \"p1\" deleted", "pod \"p1\" deleted from default namespace"].contains(&out.trim()), "{out}");
    let p = sim.get_json("default", "pod/p1");
    assert!(p["metadata"]["deletionTimestamp"].is_string(), "{p}");
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
    let out = sim.kubectl_ok(&["-n", "default", "delete", "pod", "p1", "--grace-period=0", "--force"]);
    assert!(out.contains("\"p1\" force deleted"), "{out}");
    let out = sim.kubectl(&["-n", "default", "get", "pod", "p1"]);
    assert!(stderr(&out).contains("pods \"p1\" not found"), "{}", stderr(&out));
}

#[test]
fn creating_twice_is_already_exists_and_missing_is_not_found() {
    let sim = Sim::demo();
    let path = manifest(
        &sim,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, namespace: cortex-system}\ndata: {a: '1'}\n",
    );
    let out = sim.kubectl_ok(&["create", "-f", &path]);
    assert_eq!(out.trim(), "configmap/c1 created");
    let out = sim.kubectl(&["create", "-f", &path]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Error from server (AlreadyExists)")
            && stderr(&out).contains("configmaps \"c1\" already exists"),
        "{}",
        stderr(&out)
    );
    // kubectl's typed client sends protobuf for generators.
    let out = sim.kubectl_ok(&["-n", NS, "create", "configmap", "c2", "--from-literal=a=b"]);
    assert_eq!(out.trim(), "configmap/c2 created");
    assert_eq!(sim.get_json(NS, "cm/c2")["data"]["a"], "b");
    let out = sim.kubectl(&["-n", NS, "create", "configmap", "c2", "--from-literal=a=b"]);
    assert_eq!(stderr(&out).trim(), "error: failed to create configmap: configmaps \"c2\" already exists");
    let out = sim.kubectl(&["-n", NS, "get", "deploy", "nope"]);
    assert_eq!(stderr(&out).trim(), "Error from server (NotFound): deployments.apps \"nope\" not found");
}

#[test]
fn apply_creates_then_patches() {
    let sim = Sim::demo();
    let yaml =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: cortex-system}\ndata: {LOG_LEVEL: info}\n";
    let path = manifest(&sim, "cfg.yaml", yaml);
    assert_eq!(sim.kubectl_ok(&["apply", "-f", &path]).trim(), "configmap/cfg created");
    manifest(&sim, "cfg.yaml", &yaml.replace("info", "debug"));
    assert_eq!(sim.kubectl_ok(&["apply", "-f", &path]).trim(), "configmap/cfg configured");
    let cm = sim.get_json(NS, "cm/cfg");
    assert_eq!(cm["data"]["LOG_LEVEL"], "debug");
    assert!(
        cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap()
            .contains("debug")
    );
}

#[test]
fn invalid_objects_are_refused_with_real_messages() {
    let sim = Sim::demo();
    let out = sim.kubectl(&["-n", NS, "patch", "deploy", DEPLOY, "--type=merge", "-p", r#"{"spec":{"replicas":-1}}"#]);
    assert_eq!(
        stderr(&out).trim(),
        "The Deployment \"sandfly-mcp-server\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    let path = manifest(
        &sim,
        "bad.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad, namespace: cortex-system}\n\
         spec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: i}]}}}\n",
    );
    let out = sim.kubectl(&["create", "-f", &path]);
    assert!(stderr(&out).contains("`selector` does not match template `labels`"), "{}", stderr(&out));
    let out = sim.kubectl(&["-n", NS, "create", "configmap", "Bad_Name"]);
    assert!(!out.status.success());
}

#[test]
fn watch_streams_changes_to_kubectl() {
    let sim = Sim::demo();
    let kubeconfig = sim.kubeconfig();
    let home = sim.dir().to_path_buf();
    let waiter = std::thread::spawn(move || {
        std::process::Command::new(crate::util::kubectl_path())
            .args(["-n", NS, "wait", "--for=jsonpath={.spec.replicas}=7", &format!("deploy/{DEPLOY}"), "--timeout=15s"])
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", home)
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(700));
    sim.kubectl_ok(&["-n", NS, "scale", "deploy", DEPLOY, "--replicas=7"]);
    let out = waiter.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "deployment.apps/sandfly-mcp-server condition met");

    let out = sim.kubectl_ok(&["-n", NS, "get", "deploy", "-w", "--request-timeout=2s"]);
    assert!(out.lines().next().unwrap().contains("UP-TO-DATE"), "watch events come as Table rows: {out}");
}

#[test]
fn watch_wire_format_replays_from_a_resource_version_and_ends_at_timeout() {
    let sim = Sim::demo();
    let list: Value =
        serde_json::from_str(&sim.kubectl_ok(&["get", "--raw", "/api/v1/namespaces/cortex-system/configmaps"]))
            .unwrap();
    assert_eq!(list["kind"], "ConfigMapList");
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let path =
        manifest(&sim, "w.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w, namespace: cortex-system}\n");
    sim.kubectl_ok(&["create", "-f", &path]);
    sim.kubectl_ok(&["-n", NS, "delete", "cm", "w"]);
    let (code, head, body) = raw(
        &sim,
        "GET",
        &format!("/api/v1/namespaces/cortex-system/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
        None,
    );
    assert_eq!(code, 200);
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let events: Vec<String> = body
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(Value::is_object) // skip the chunk-size lines of the chunked encoding
        .map(|e| format!("{} {}", e["type"].as_str().unwrap(), e["object"]["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(events, vec!["ADDED ConfigMap", "DELETED ConfigMap"]);
}

#[test]
fn unknown_paths_and_verbs_answer_with_status() {
    let sim = Sim::empty();
    let (code, head, body) = raw(&sim, "GET", "/apis/nope/v1/things", None);
    assert_eq!(code, 404);
    assert!(head.contains("content-type: application/json") && head.contains("audit-id:"), "{head}");
    assert!(head.contains("cache-control: no-cache, private"), "{head}");
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["kind"], "Status");
    assert_eq!(s["reason"], "NotFound");
    assert_eq!(s["message"], "the server could not find the requested resource");
    let (code, _, body) = raw(&sim, "PUT", "/api/v1/namespaces/default/pods", Some(("application/json", "{}")));
    assert_eq!(code, 405, "{body}");
    let (code, _, body) = raw(&sim, "PATCH", "/api/v1/namespaces/default", Some(("application/json", "{}")));
    assert_eq!(code, 415, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["reason"], "UnsupportedMediaType");
    let out = sim.kubectl(&["get", "--raw", "/nope"]);
    assert_eq!(stderr(&out).trim(), "Error from server (NotFound): the server could not find the requested resource");
}

#[test]
fn logs_of_an_unscheduled_pod_are_empty_and_bad_container_is_refused() {
    let sim = Sim::start(&["--time-scale", "1"]);
    let path = manifest(
        &sim,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: lonely, namespace: default}\n\
         spec: {nodeSelector: {disk: none}, containers: [{name: c, image: sim/mcp-server:1}]}\n",
    );
    sim.kubectl_ok(&["create", "-f", &path]);
    let out = sim.kubectl(&["-n", "default", "logs", "lonely"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = sim.kubectl(&["-n", "default", "logs", "lonely", "-c", "nope"]);
    assert!(stderr(&out).contains("container nope is not valid for pod lonely"), "{}", stderr(&out));
}

#[test]
fn service_proxy_without_endpoints_is_503() {
    let sim = Sim::demo();
    let path = manifest(
        &sim,
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: orphan, namespace: cortex-system}\n\
         spec: {selector: {app: nobody}, ports: [{name: http, port: 80}]}\n",
    );
    sim.kubectl_ok(&["create", "-f", &path]);
    let out = sim.kubectl(&["get", "--raw", "/api/v1/namespaces/cortex-system/services/orphan:http/proxy/health"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no endpoints available for service \"orphan\""), "{}", stderr(&out));
}

#[test]
fn discovery_serves_every_resource_to_kubectl() {
    let sim = Sim::empty();
    let out = sim.kubectl_ok(&["api-resources", "-o", "name"]);
    for r in ["deployments.apps", "pods", "events", "leases.coordination.k8s.io", "endpointslices.discovery.k8s.io"] {
        assert!(out.lines().any(|l| l == r), "{r} missing from {out}");
    }
    // Without the aggregated Accept header: the legacy documents.
    let (code, _, body) = raw(&sim, "GET", "/api", None);
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["kind"], "APIVersions");
    let (_, _, body) = raw(&sim, "GET", "/apis", None);
    let groups: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(groups["kind"], "APIGroupList");
    assert!(groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "apps"));
    let (_, _, body) = raw(&sim, "GET", "/apis/apps/v1", None);
    let list: Value = serde_json::from_str(&body).unwrap();
    let scale = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
    assert_eq!((scale["group"].as_str(), scale["kind"].as_str()), (Some("autoscaling"), Some("Scale")));
    let v = sim.kubectl_ok(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");
}

#[test]
fn sigterm_ends_open_watches_and_exits_zero() {
    let mut sim = Sim::demo();
    let kubeconfig = std::fs::read_to_string(sim.kubeconfig()).unwrap();
    assert!(kubeconfig.contains(&format!("server: {}", sim.url)) && kubeconfig.contains("current-context: kube-sim"));
    assert!(sim.url.starts_with("https://127.0.0.1:"), "{}", sim.url);
    let mut watch = std::process::Command::new(crate::util::kubectl_path())
        .args(["get", "namespaces", "--watch", "-o", "name"])
        .env("KUBECONFIG", sim.kubeconfig())
        .env("HOME", sim.dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::util::eventually("kubectl's watch to be open", Duration::from_secs(10), || {
        sim.requests().iter().any(|r| r.verb == "watch" && r.resource == "namespaces" && r.code == 200).then_some(())
    });
    let status = sim.terminate(Duration::from_secs(3));
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(status.code(), Some(0), "kube-sim exits 0 before its 5 s shutdown grace");
}

#[test]
fn seed_file_creates_objects_and_missing_namespaces() {
    let sim = Sim::seeded(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: team-a}\ndata: {k: v}\n---\n\
         apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: lock, namespace: team-a}\nspec: {holderIdentity: me}\n",
    );
    assert_eq!(sim.get_json("team-a", "cm/settings")["data"]["k"], "v");
    let leases = sim.kubectl_ok(&["-n", "team-a", "get", "leases"]);
    assert!(leases.contains("lock") && leases.contains("me"), "{leases}");
    let ns = sim.kubectl_ok(&["get", "ns", "team-a", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(ns, "Active");
}
