//! RBAC proven, not asserted: self-heal's heal scenarios, run directly and as the orchestrator's
//! workers, and under the chaos suite's API faults and a dead healer's Lease, under a
//! ServiceAccount token bound to the Role of `deploy/rbac.yaml`, with kube-sim
//! enforcing RBAC and recording every request. Fails when self-heal is denied anything, or when
//! the Role grants a verb on a resource that no recorded run used.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::heal::{Run, parse_ndjson};
use crate::orchestrator_util::{Orch, block_on, seed_query, shape, sim_config, stream};
use crate::util::{RecordedRequest, SelfHealExt, Sim, eventually};

const NS: &str = "cortex-system";
const SVC: &str = "sandfly-mcp-server";
const DEPLOY: &str = "deployment/sandfly-mcp-server";
/// The ServiceAccount of deploy/rbac.yaml.
const USER: &str = "system:serviceaccount:cortex:self-heal";

fn rbac_yaml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml")
}

/// The demo at 2 ready replicas, and a kubeconfig for self-heal's ServiceAccount.
fn setup() -> (Sim, PathBuf) {
    let sim = Sim::demo();
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    let kc = sim.service_account_kubeconfig("cortex", "self-heal", &[&rbac_yaml()]);
    (sim, kc)
}

fn kubectl(sim: &Sim, args: &[&str]) -> String {
    let mut full = vec!["-n", NS];
    full.extend_from_slice(args);
    sim.kubectl_ok(&full)
}

fn mcp_url(sim: &Sim) -> String {
    let url = sim.get_json(NS, &format!("service/{SVC}"))["metadata"]["annotations"]["kube-sim.self-heal.dev/url"]
        .as_str()
        .expect("service url annotation")
        .to_string();
    format!("{url}/mcp")
}

fn wait_for_reason(sim: &Sim, reason: &str) {
    eventually(&format!("a pod in {reason}"), Duration::from_secs(30), || {
        let pods = sim.get_json(NS, "pods");
        pods["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["status"]["containerStatuses"].as_array().into_iter().flatten().any(|c| {
                    c["state"]["waiting"]["reason"] == reason || c["lastState"]["terminated"]["reason"] == reason
                })
            })
            .then_some(())
    });
}

/// self-heal as the ServiceAccount.
fn heal_as(sim: &Sim, kubeconfig: &Path, args: &[&str]) -> Run {
    let out = sim
        .self_heal()
        .env("KUBECONFIG", kubeconfig)
        .args(["--output", "ndjson"])
        .args(args)
        .output()
        .expect("run self-heal");
    let code = out.status.code().expect("self-heal exited by signal");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let lines = parse_ndjson(&stdout, code);
    Run { code, lines, stderr: String::from_utf8_lossy(&out.stderr).to_string() }
}

/// One scenario: break the demo, run self-heal as the ServiceAccount, check the outcome; the
/// ServiceAccount's recorded requests.
fn scenario(name: &str) -> Vec<RecordedRequest> {
    let (sim, kc) = setup();
    match name {
        "scaled to 0 → healed (MCP probe through the API server proxy)" => {
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            let url = "http://sandfly-mcp-server.cortex-system.svc.cluster.local:3000/mcp";
            let run = heal_as(&sim, &kc, &["--probe", "mcp", SVC, "connect ECONNREFUSED", url]);
            assert_eq!((run.code, run.result()["outcome"].as_str()), (0, Some("healed")), "{name}: {}", run.dump());
        }
        "pod deleted → waited" => {
            kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=1500ms"]);
            kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
            kubectl(&sim, &["delete", "pods", "-l", "app=sandfly-mcp-server", "--wait=false"]);
            let run = heal_as(&sim, &kc, &["heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
            assert_eq!(run.code, 0, "{name}: {}", run.dump());
            assert!(run.events("action").iter().all(|a| a["action"] == "wait"), "{name}: {}", run.dump());
        }
        "crash loop cleared by a restart" => {
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
            kubectl(&sim, &["set", "env", DEPLOY, "SIM_CRASH=until-restart"]);
            kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
            wait_for_reason(&sim, "CrashLoopBackOff");
            let run = heal_as(&sim, &kc, &["heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
            assert_eq!((run.code, run.result()["outcome"].as_str()), (0, Some("healed")), "{name}: {}", run.dump());
            assert_eq!(run.events("plan")[0]["action"], "restart", "{name}: {}", run.dump());
        }
        "bad image → exit 3" => {
            kubectl(&sim, &["set", "image", DEPLOY, "server=invalid-image:latest"]);
            wait_for_reason(&sim, "ImagePullBackOff");
            let run = heal_as(&sim, &kc, &["heal", SVC, "502 Bad Gateway", &mcp_url(&sim)]);
            assert_eq!(run.code, 3, "{name}: {}", run.dump());
        }
        "missing ConfigMap → exit 3" => {
            let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"server","envFrom":[{"configMapRef":{"name":"sandfly-config"}}]}]}}}}"#;
            kubectl(&sim, &["patch", DEPLOY, "--type=strategic", "-p", patch]);
            wait_for_reason(&sim, "CreateContainerConfigError");
            let run = heal_as(&sim, &kc, &["heal", SVC, "", &mcp_url(&sim)]);
            assert_eq!(run.code, 3, "{name}: {}", run.dump());
            let rec = run.result()["recommendation"].as_str().unwrap_or_default();
            assert!(rec.contains("sandfly-config"), "{name}: {}", run.dump());
        }
        "chaos: API faults mid-heal (503, 429, a watch closed, 410, conflict, lost answers) → healed once" => {
            // Pods that take a while to be ready, so the heal's wait watches (and meets the
            // watch faults) rather than finding them ready in its first list.
            kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=1500ms"]);
            kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
            let url = mcp_url(&sim);
            sim.add_faults(serde_json::json!([
                {"match": {"verb": "get", "resource": "services", "namespace": NS}, "action": {"status": 503}, "count": 1},
                {"match": {"verb": "get", "resource": "deployments", "namespace": NS}, "action": {"status": 429, "retryAfterSeconds": 1}, "count": 1},
                {"match": {"verb": "watch", "namespace": NS}, "action": {"watchClose": {"afterEvents": 1}}, "count": 1},
                {"match": {"verb": "watch", "namespace": NS}, "action": {"gone": true}, "count": 1},
                {"match": {"verb": "patch", "resource": "deployments", "namespace": NS}, "action": {"conflict": true}, "count": 1},
                {"match": {"verb": "patch", "resource": "deployments", "namespace": NS}, "action": {"drop": "after"}, "count": 1},
                {"match": {"verb": "create", "resource": "events", "namespace": NS}, "action": {"drop": "after"}, "count": 1}
            ]));
            let run = heal_as(&sim, &kc, &["heal", SVC, "connect ECONNREFUSED", &url]);
            assert_eq!((run.code, run.result()["outcome"].as_str()), (0, Some("healed")), "{name}: {}", run.dump());
            let spent: Vec<u64> =
                sim.faults()["faults"].as_array().unwrap().iter().map(|f| f["hits"].as_u64().unwrap()).collect();
            assert!(spent.iter().all(|&h| h > 0), "{name}: every fault met: {spent:?}\n{}", run.dump());
        }
        "chaos: a dead healer's expired Lease → taken over, healed" => {
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            let long_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60))
                .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            let lease = format!(
                "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: self-heal-deployment-{SVC}\n  namespace: {NS}\nspec:\n  holderIdentity: dead-healer\n  leaseDurationSeconds: 15\n  acquireTime: {long_ago}\n  renewTime: {long_ago}\n"
            );
            let path = sim.dir().join("dead-lease.yaml");
            std::fs::write(&path, lease).unwrap();
            kubectl(&sim, &["apply", "-f", path.to_str().unwrap()]);
            let run = heal_as(&sim, &kc, &["heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)]);
            assert_eq!((run.code, run.result()["outcome"].as_str()), (0, Some("healed")), "{name}: {}", run.dump());
            assert!(
                run.events("progress").iter().any(|p| p["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Took over the heal lock from dead-healer"))),
                "{name}: {}",
                run.dump()
            );
        }
        "diagnose a healthy service" => {
            let run = heal_as(&sim, &kc, &["diagnose", SVC]);
            assert_eq!(run.code, 0, "{name}: {}", run.dump());
        }
        "scaled to 0 → healed (HTTP probe through the API server proxy)" => {
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            let url = "http://sandfly-mcp-server.cortex-system.svc.cluster.local:3000/health";
            let run = heal_as(&sim, &kc, &["--probe", "http", SVC, "connect ECONNREFUSED", url]);
            assert_eq!((run.code, run.result()["outcome"].as_str()), (0, Some("healed")), "{name}: {}", run.dump());
        }
        "scaled to 0 while another holder keeps the Lease → waits, then healed" => {
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            let lease = format!(
                "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: self-heal-deployment-{SVC}, namespace: {NS}}}\n\
                 spec: {{holderIdentity: someone-else, leaseDurationSeconds: 300, renewTime: \"{now}\"}}\n"
            );
            let path = sim.dir().join("lease.yaml");
            std::fs::write(&path, lease).unwrap();
            sim.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]);
            let child = sim
                .self_heal()
                .env("KUBECONFIG", &kc)
                .args(["--output", "ndjson", "heal", SVC, "connect ECONNREFUSED", &mcp_url(&sim)])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn self-heal");
            // The other holder lets go once self-heal is seen waiting on the Lease (a hook, not a sleep).
            eventually("self-heal to watch the held Lease", Duration::from_secs(30), || {
                sim.requests()
                    .iter()
                    .any(|r| r.user == USER && r.resource == "leases" && r.verb == "watch")
                    .then_some(())
            });
            kubectl(
                &sim,
                &[
                    "patch",
                    "lease",
                    &format!("self-heal-deployment-{SVC}"),
                    "--type=merge",
                    "-p",
                    r#"{"spec":{"holderIdentity":null}}"#,
                ],
            );
            let out = child.wait_with_output().expect("self-heal");
            let code = out.status.code().expect("self-heal exited by signal");
            let run = Run {
                code,
                lines: parse_ndjson(&String::from_utf8_lossy(&out.stdout), code),
                stderr: String::from_utf8_lossy(&out.stderr).to_string(),
            };
            assert_eq!((run.code, run.result()["outcome"].as_str()), (0, Some("healed")), "{name}: {}", run.dump());
        }
        "diagnose a service backed by a StatefulSet" => {
            let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: cortex-system}\n\
                spec:\n  replicas: 0\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n\
                \x20   metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: sim/mcp-server:1}]}\n---\n\
                apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: cortex-system}\n\
                spec: {selector: {app: db}, ports: [{port: 3000}]}\n";
            let path = sim.dir().join("sts.yaml");
            std::fs::write(&path, sts).unwrap();
            sim.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]);
            let run = heal_as(&sim, &kc, &["diagnose", "db"]);
            assert!(run.finding_codes().contains(&"ScaledToZero".to_string()), "{name}: {}", run.dump());
        }
        "orchestrator: scaled to 0 → its worker heals, the call is answered" => {
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("KUBECONFIG", kc.to_str().unwrap())]);
            let frames = block_on(stream(&orch, seed_query(), None));
            assert_eq!(
                shape(&frames),
                ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"],
                "{name}: {frames:#?}"
            );
            assert_eq!(frames.last().unwrap()["status"], "completed", "{name}: {frames:#?}");
        }
        "orchestrator: crash loop → its worker restarts, the call is answered" => {
            kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
            kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
            kubectl(&sim, &["set", "env", DEPLOY, "SIM_CRASH=until-restart"]);
            kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
            wait_for_reason(&sim, "CrashLoopBackOff");
            let orch = Orch::start(Some(&sim), &sim_config(&sim, ""), &[("KUBECONFIG", kc.to_str().unwrap())]);
            let frames = block_on(stream(&orch, seed_query(), None));
            let plan = frames.iter().find(|f| f["event"]["event"] == "plan").map(|f| &f["event"]["action"]);
            assert_eq!(plan, Some(&Value::from("restart")), "{name}: {frames:#?}");
            assert_eq!(frames.last().unwrap()["status"], "completed", "{name}: {frames:#?}");
        }
        other => panic!("unknown scenario {other}"),
    }
    sim.requests().into_iter().filter(|r| r.user == USER).collect()
}

/// (verb, group, resource[/sub]) triples the Role in `deploy/rbac.yaml` grants.
fn granted() -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(rbac_yaml()).unwrap();
    let mut out = BTreeSet::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if v["kind"] != "Role" {
            continue;
        }
        for rule in v["rules"].as_array().unwrap() {
            let list = |k: &str| -> Vec<String> {
                rule[k].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
            };
            for g in list("apiGroups") {
                for r in list("resources") {
                    for verb in list("verbs") {
                        out.insert((verb, g.clone(), r.clone()));
                    }
                }
            }
        }
    }
    out
}

const SCENARIOS: [&str; 13] = [
    "chaos: API faults mid-heal (503, 429, a watch closed, 410, conflict, lost answers) → healed once",
    "chaos: a dead healer's expired Lease → taken over, healed",
    "orchestrator: scaled to 0 → its worker heals, the call is answered",
    "orchestrator: crash loop → its worker restarts, the call is answered",
    "scaled to 0 → healed (HTTP probe through the API server proxy)",
    "scaled to 0 while another holder keeps the Lease → waits, then healed",
    "diagnose a service backed by a StatefulSet",
    "scaled to 0 → healed (MCP probe through the API server proxy)",
    "pod deleted → waited",
    "crash loop cleared by a restart",
    "bad image → exit 3",
    "missing ConfigMap → exit 3",
    "diagnose a healthy service",
];

/// Grants used only on paths kube-sim cannot drive, each with the reason.
const EXEMPT: [(&str, &str); 2] = [
    ("watch apps/statefulsets", "waiting for a StatefulSet rollout: kube-sim runs no StatefulSet controller"),
    (
        "watch discovery.k8s.io/endpointslices",
        "verification watches EndpointSlices only when its first list shows no ready endpoint; after a completed \
         rollout kube-sim's endpoints are already ready",
    ),
];

#[test]
fn self_heal_under_deploy_rbac_is_never_denied_and_uses_every_grant() {
    assert!(granted().iter().all(|(_, _, r)| r != "secrets"), "deploy/rbac.yaml must not grant Secrets");
    let handles: Vec<_> = SCENARIOS.iter().map(|name| (*name, std::thread::spawn(move || scenario(name)))).collect();
    let mut recorded = Vec::new();
    for (name, h) in handles {
        match h.join() {
            Ok(reqs) => recorded.extend(reqs.into_iter().map(|r| (name, r))),
            Err(e) => std::panic::resume_unwind(e),
        }
    }
    let silent: Vec<&str> = SCENARIOS.iter().copied().filter(|n| !recorded.iter().any(|(name, _)| name == n)).collect();
    assert!(silent.is_empty(), "scenarios that made no request as {USER}: {silent:?}");

    let denied: Vec<String> = recorded
        .iter()
        .filter(|(_, r)| r.code == 401 || r.code == 403)
        .map(|(name, r)| format!("{} {} ({}: {} {}?{})", r.code, r.rule(), name, r.method, r.path, r.query))
        .collect();
    assert!(denied.is_empty(), "self-heal was denied under deploy/rbac.yaml:\n{}", denied.join("\n"));

    let used: BTreeSet<(String, String, String)> = recorded
        .iter()
        .filter(|(_, r)| r.resource_request)
        .map(|(_, r)| {
            let res =
                if r.subresource.is_empty() { r.resource.clone() } else { format!("{}/{}", r.resource, r.subresource) };
            (r.verb.clone(), r.api_group.clone(), res)
        })
        .collect();
    let unused: Vec<String> = granted()
        .difference(&used)
        .filter(|(verb, g, r)| !EXEMPT.iter().any(|(e, _)| *e == format!("{verb} {g}/{r}")))
        .map(|(verb, g, r)| format!("{verb} {}/{r}", if g.is_empty() { "core" } else { g }))
        .collect();
    assert!(
        unused.is_empty(),
        "deploy/rbac.yaml grants what no recorded run used (drop it, or add the run that needs it):\n{}\nused:\n{}",
        unused.join("\n"),
        used.iter().map(|(v, g, r)| format!("{v} {g}/{r}")).collect::<Vec<_>>().join("\n")
    );
}
