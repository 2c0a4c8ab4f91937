//! deploy/ as operators install it: `kubectl apply -k` against kube-sim (server dry run, then
//! for real), the objects the API server then holds, the shipped configuration accepted by the
//! real orchestrator, and alerts that parse and name only metrics the orchestrator exports.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::Value;

use super::{read, repo};
use crate::util::{Sim, eventually};

fn dir(rel: &str) -> String {
    repo().join(rel).to_str().unwrap().to_string()
}

/// `kind/name` of every object `kubectl apply` reported, with its verb.
fn applied(stdout: &str) -> Vec<String> {
    stdout.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
}

#[test]
fn deploy_applies_with_a_server_dry_run_then_for_real() {
    let sim = Sim::demo();
    // Even a dry run is checked against existing namespaces by a real API server, so the
    // orchestrator's namespace must exist first (kube-sim does the same).
    sim.kubectl_ok(&["create", "namespace", "cortex"]);

    let out = sim.kubectl_ok(&["apply", "-k", &dir("deploy"), "--dry-run=server"]);
    let objects = applied(&out);
    for expected in [
        "namespace/cortex",
        "serviceaccount/self-heal",
        "role.rbac.authorization.k8s.io/self-heal",
        "rolebinding.rbac.authorization.k8s.io/self-heal",
        "service/cortex-orchestrator",
        "deployment.apps/cortex-orchestrator",
        "poddisruptionbudget.policy/cortex-orchestrator",
        "networkpolicy.networking.k8s.io/cortex-orchestrator",
    ] {
        assert!(objects.iter().any(|o| o == expected), "{expected} not applied:\n{out}");
    }
    assert!(objects.iter().any(|o| o.starts_with("configmap/cortex-orchestrator-config-")), "{out}");
    assert!(out.lines().all(|l| l.ends_with("(server dry run)")), "every object only dry-run:\n{out}");
    assert!(!sim.kubectl(&["-n", "cortex", "get", "deployment/cortex-orchestrator"]).status.success(), "dry run wrote");

    let out = sim.kubectl_ok(&["apply", "-k", &dir("deploy/monitoring"), "--dry-run=server"]);
    for expected in [
        "servicemonitor.monitoring.coreos.com/cortex-orchestrator",
        "prometheusrule.monitoring.coreos.com/cortex-orchestrator",
        "networkpolicy.networking.k8s.io/cortex-orchestrator-prometheus",
    ] {
        assert!(applied(&out).iter().any(|o| o == expected), "{expected} not applied:\n{out}");
    }

    // The documented install (README's quick start) on a cluster that has only the healed
    // namespace: apply, then the operator's Secret.
    drop(sim);
    let sim = Sim::demo();
    sim.kubectl_ok(&["apply", "-k", &dir("deploy")]);
    sim.kubectl_ok(&["apply", "-k", &dir("deploy/monitoring")]);
    sim.kubectl_ok(&[
        "-n",
        "cortex",
        "create",
        "secret",
        "generic",
        "cortex-orchestrator-token",
        "--from-literal=token=t0k3n",
    ]);
    let d = sim.get_json("cortex", "deployment/cortex-orchestrator");
    assert_deployment_locked_down(&d);

    // The configuration the pods mount is deploy/orchestrator.yaml, under the generated name.
    let volumes = d["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
    let cm = volumes.iter().find_map(|v| v["configMap"]["name"].as_str()).expect("a ConfigMap volume");
    let cm = sim.get_json("cortex", &format!("configmap/{cm}"));
    assert_eq!(cm["data"]["config.yaml"].as_str(), Some(read("deploy/orchestrator.yaml").as_str()));

    // RBAC: the worker's ServiceAccount is bound in the healed namespace only, to a Role.
    let sa = d["spec"]["template"]["spec"]["serviceAccountName"].as_str().unwrap();
    let rb = sim.get_json("cortex-system", "rolebinding/self-heal");
    assert_eq!(rb["roleRef"]["kind"], "Role");
    assert!(
        rb["subjects"].as_array().unwrap().iter().any(|s| s["name"] == sa && s["namespace"] == "cortex"),
        "the Role is bound to the Deployment's ServiceAccount: {rb}"
    );
    for k in ["deploy", "deploy/monitoring"] {
        let all = sim.kubectl_ok(&["kustomize", &dir(k)]);
        assert!(!all.contains("kind: ClusterRole"), "no cluster-wide grants in {k}");
    }

    let pdb = sim.get_json("cortex", "poddisruptionbudget/cortex-orchestrator");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let np = sim.get_json("cortex", "networkpolicy/cortex-orchestrator");
    assert_eq!(np["spec"]["policyTypes"], serde_json::json!(["Ingress"]));
    let from = &np["spec"]["ingress"][0]["from"];
    assert_eq!(from.as_array().unwrap().len(), 1, "one peer only: {from}");
    assert_eq!(from[0]["podSelector"]["matchLabels"], serde_json::json!({"app": "cortex-chat"}));
    assert!(from[0]["namespaceSelector"].is_null(), "the chat front end of this namespace only");
    let svc = sim.get_json("cortex", "service/cortex-orchestrator");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8000);
    let sm = sim.get_json("cortex", "servicemonitor/cortex-orchestrator");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["authorization"]["credentials"]["name"], "cortex-orchestrator-token");
}

fn assert_deployment_locked_down(d: &Value) {
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["automountServiceAccountToken"], true, "the worker needs its token for in-cluster config");
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(c["resources"][kind][res].is_string(), "{kind}.{res} set: {}", c["resources"]);
        }
    }
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["runAsNonRoot"], true);
    let env = c["env"].as_array().unwrap();
    let token = env.iter().find(|e| e["name"] == "ORCHESTRATOR_TOKEN").expect("ORCHESTRATOR_TOKEN");
    assert_eq!(token["valueFrom"]["secretKeyRef"]["name"], "cortex-orchestrator-token");
    assert_eq!(token["valueFrom"]["secretKeyRef"]["optional"], false, "no token, no start");
    assert!(token["value"].is_null(), "the token never sits in the manifest");
}

/// The orchestrator binary on a free loopback port, killed when dropped.
struct Orchestrator {
    child: Child,
    addr: String,
}

impl Orchestrator {
    fn start(config: &str) -> Orchestrator {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
            .args(["--config", config, "--listen", &addr])
            .env_remove("ORCHESTRATOR_TOKEN")
            .env_remove("ORCHESTRATOR_CONFIG")
            .env_remove("PORT")
            .env_remove("HEALING_ENABLED")
            .env("SELF_HEAL_WORKER_PATH", env!("CARGO_BIN_EXE_self-heal"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the orchestrator");
        let ready = eventually("the orchestrator's /readyz", Duration::from_secs(20), || {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                return Some(Err(format!("orchestrator exited ({status}) with {config}: {err}")));
            }
            get(&addr, "/readyz").filter(|(code, _)| *code == 200).map(|_| Ok(()))
        });
        if let Err(e) = ready {
            panic!("{e}");
        }
        Orchestrator { child, addr }
    }
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over a plain socket: status and body.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.into() };
    Some((code, body))
}

fn unchunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Every sample name a Prometheus text exposition can hold: samples present, and those each
/// `# TYPE` promises (a counter's `_total`, a histogram's `_bucket`/`_sum`/`_count`), so that a
/// labelled family with no series yet still counts as exported.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            let (Some(name), Some(kind)) = (it.next(), it.next()) else { continue };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            for s in suffixes {
                names.insert(format!("{}{s}", name.trim_end_matches("_total")));
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    names
}

/// Metric names of a PromQL expression's selectors.
struct Names(BTreeSet<String>);

impl ExprVisitor for Names {
    type Error = ();
    fn pre_visit(&mut self, e: &Expr) -> Result<bool, ()> {
        let vs = match e {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        };
        if let Some(vs) = vs {
            let name = vs
                .name
                .clone()
                .or_else(|| vs.matchers.matchers.iter().find(|m| m.name == "__name__").map(|m| m.value.clone()));
            self.0.insert(name.expect("every selector names its metric"));
        }
        Ok(true)
    }
}

/// Prometheus's own series, not the orchestrator's.
const PROMETHEUS_OWN: &[&str] = &["up"];

#[test]
fn the_shipped_config_runs_and_every_alert_parses_and_names_an_exported_metric() {
    // Parse every alert first: this part does not depend on the orchestrator.
    let rule: Value = serde_yaml_ng::from_str(&read("deploy/monitoring/prometheusrule.yaml")).unwrap();
    let mut alerts = BTreeSet::new();
    let mut used: Vec<(String, String)> = Vec::new();
    for group in rule["spec"]["groups"].as_array().unwrap() {
        for r in group["rules"].as_array().unwrap() {
            let alert = r["alert"].as_str().expect("alerting rules only").to_string();
            let expr = r["expr"].as_str().unwrap();
            let ast = parser::parse(expr).unwrap_or_else(|e| panic!("{alert}: expression does not parse: {e}\n{expr}"));
            let mut names = Names(BTreeSet::new());
            walk_expr(&mut names, &ast).unwrap();
            assert!(!names.0.is_empty(), "{alert} names no metric");
            used.extend(names.0.into_iter().map(|n| (alert.clone(), n)));
            assert!(r["labels"]["severity"].is_string(), "{alert} has a severity");
            assert!(r["annotations"]["summary"].is_string(), "{alert} has a summary");
            alerts.insert(alert);
        }
    }
    for expected in [
        "SelfHealFailureRate",
        "SelfHealManualInterventionNeeded",
        "SelfHealBreakerOpen",
        "SelfHealWorkerTimeouts",
        "SelfHealOrchestratorDown",
    ] {
        assert!(alerts.contains(expected), "alert {expected} missing: {alerts:?}");
    }

    // The real orchestrator, with the shipped configuration, exports every metric they use.
    let orch = Orchestrator::start(&dir("deploy/orchestrator.yaml"));
    let (code, metrics) = get(&orch.addr, "/metrics").expect("GET /metrics");
    assert_eq!(code, 200, "GET /metrics: {metrics}");
    let exported = exported_names(&metrics);
    for (alert, n) in &used {
        assert!(
            PROMETHEUS_OWN.contains(&n.as_str()) || exported.contains(n),
            "{alert} uses {n}, which the orchestrator does not export:\n{metrics}"
        );
    }
}

#[test]
fn exposition_names_cover_empty_families() {
    let text = "# HELP orchestrator_heals Heals.\n# TYPE orchestrator_heals counter\n\
                # TYPE orchestrator_heal_duration_seconds histogram\n\
                orchestrator_open_streams 0\n# EOF\n";
    let names = exported_names(text);
    for n in ["orchestrator_heals_total", "orchestrator_heal_duration_seconds_bucket", "orchestrator_open_streams"] {
        assert!(names.contains(n), "{n}: {names:?}");
    }
    assert!(!names.contains("orchestrator_heals"), "a counter's samples end in _total");
}
