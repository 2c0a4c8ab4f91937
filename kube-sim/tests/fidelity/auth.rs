//! HTTPS, authentication, RBAC, the request record and the generation rule, driven by the real
//! kubectl (and curl for HTTP/2) over real sockets.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Sim, eventually};

const NS: &str = "cortex-system";
const DEPLOY: &str = "sandfly-mcp-server";
const SA: &str = "system:serviceaccount:cortex-system:reader";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A Role that reads pods and scales Deployments, bound to ServiceAccount `reader`.
const READER_RBAC: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: cortex-system}
rules:
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get]
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: cortex-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: cortex-system}
";

fn reader(sim: &Sim) -> std::path::PathBuf {
    let rbac = sim.dir().join("reader-rbac.yaml");
    std::fs::write(&rbac, READER_RBAC).unwrap();
    sim.service_account_kubeconfig(NS, "reader", &[&rbac])
}

fn a_pod(sim: &Sim) -> String {
    eventually("a demo pod", Duration::from_secs(10), || {
        let out = sim.kubectl_ok(&["-n", NS, "get", "pods", "-o", "name"]);
        out.lines().next().map(|l| l.trim_start_matches("pod/").to_string())
    })
}

#[test]
fn requests_without_valid_credentials_get_the_real_401() {
    let sim = Sim::demo();
    let want = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;
    for token in [None, Some("not-a-token")] {
        let r = sim.api_as(token, "GET", "/api/v1/namespaces/cortex-system/pods", None);
        assert_eq!((r.code, r.body.as_str()), (401, want), "token {token:?}");
        assert_eq!(r.header("content-type"), "application/json");
    }
    let bad = sim.token_kubeconfig("bad", "not-a-token");
    let out = sim.kubectl_with(&bad, &["-n", NS, "get", "pods"]);
    assert!(!out.status.success());
    // kubectl's own words for a 401 (its discovery call meets it first).
    let err = stderr(&out);
    assert!(
        err.lines().last().unwrap_or_default().starts_with("error: You must be logged in to the server ("),
        "{err}"
    );
    let denied: Vec<_> = sim.requests().into_iter().filter(|r| r.code == 401).collect();
    assert!(denied.len() >= 3, "every 401 is recorded: {denied:?}");
    assert!(denied.iter().all(|r| r.user.is_empty()), "{denied:?}");
}

#[test]
fn the_admin_kubeconfig_carries_the_ca_and_a_masters_token() {
    let sim = Sim::demo();
    let kc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(sim.kubeconfig()).unwrap()).unwrap();
    assert!(kc["clusters"][0]["cluster"]["server"].as_str().unwrap().starts_with("https://127.0.0.1:"));
    assert!(kc["clusters"][0]["cluster"]["certificate-authority-data"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(kc["users"][0]["user"]["token"], sim.admin_token());
    assert_eq!(sim.kubectl_ok(&["auth", "can-i", "*", "*"]).trim(), "yes");
    sim.kubectl_ok(&["-n", NS, "get", "deploy", DEPLOY]);
    let r = sim.requests();
    let get = r.iter().find(|r| r.resource == "deployments" && r.name == DEPLOY).expect("recorded");
    assert_eq!(get.user, "kube-sim-admin");
    assert!(get.groups.contains(&"system:masters".to_string()), "{get:?}");
}

#[test]
fn client_certificates_name_user_and_groups_for_rbac() {
    let sim = Sim::demo();
    let alice = sim.client_cert_kubeconfig("alice", &["dev"]);
    let out = sim.kubectl_with(&alice, &["-n", NS, "get", "pods"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        r#"Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "cortex-system""#
    );
    let rbac = sim.dir().join("dev.yaml");
    std::fs::write(
        &rbac,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: pod-reader}\n\
         rules:\n- {apiGroups: [\"\"], resources: [pods], verbs: [list]}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: dev, namespace: cortex-system}\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-reader}\n\
         subjects:\n- {kind: Group, name: dev, apiGroup: rbac.authorization.k8s.io}\n",
    )
    .unwrap();
    sim.kubectl_ok(&["apply", "-f", rbac.to_str().unwrap()]);
    let out = sim.kubectl_with(&alice, &["-n", NS, "get", "pods", "-o", "name"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("pod/sandfly-mcp-server-"), "{}", stdout(&out));
    let out = sim.kubectl_with(&alice, &["-n", "default", "get", "pods"]);
    assert!(
        stderr(&out).contains(r#"User "alice" cannot list resource "pods" in API group "" in the namespace "default""#)
    );
    let root = sim.client_cert_kubeconfig("root", &["system:masters"]);
    let out = sim.kubectl_with(&root, &["get", "nodes", "-o", "name"]);
    assert_eq!((out.status.success(), stdout(&out).as_str()), (true, "node/sim-node-1"), "{}", stderr(&out));
}

#[test]
fn service_account_tokens_from_kubectl_create_token_follow_the_role() {
    let sim = Sim::demo();
    let kc = reader(&sim);
    let out = sim.kubectl_with(&kc, &["-n", NS, "get", "pods", "-o", "name"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pod = a_pod(&sim);
    let out = sim.kubectl_with(&kc, &["-n", NS, "delete", "pod", &pod, "--wait=false"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        format!(
            r#"Error from server (Forbidden): pods "{pod}" is forbidden: User "{SA}" cannot delete resource "pods" in API group "" in the namespace "cortex-system""#
        )
    );
    let out = sim.kubectl_with(&kc, &["-n", NS, "get", "deploy"]);
    assert_eq!(
        stderr(&out),
        format!(
            r#"Error from server (Forbidden): deployments.apps is forbidden: User "{SA}" cannot list resource "deployments" in API group "apps" in the namespace "cortex-system""#
        )
    );
    let out = sim.kubectl_with(&kc, &["-n", NS, "scale", &format!("deploy/{DEPLOY}"), "--replicas=1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("deployment.apps/{DEPLOY} scaled"));
    let out = sim.kubectl_with(&kc, &["-n", NS, "get", "secrets"]);
    assert!(
        stderr(&out).ends_with(r#"cannot list resource "secrets" in API group "" in the namespace "cortex-system""#)
    );
    // The raw 403 body, exactly.
    let token = {
        let kcv: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&kc).unwrap()).unwrap();
        kcv["users"][0]["user"]["token"].as_str().unwrap().to_string()
    };
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments/{DEPLOY}");
    let r = sim.api_as(Some(&token), "DELETE", &path, None);
    assert_eq!(r.code, 403);
    assert_eq!(
        r.json(),
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("deployments.apps \"{DEPLOY}\" is forbidden: User \"{SA}\" cannot delete resource \"deployments\" in API group \"apps\" in the namespace \"cortex-system\""),
            "reason": "Forbidden", "details": {"name": DEPLOY, "group": "apps", "kind": "deployments"}, "code": 403})
    );
    // The record has all of it, denied requests included, and is for admins only.
    let recorded = sim.requests();
    let mine: Vec<_> = recorded.iter().filter(|r| r.user == SA).collect();
    let seen = |rule: &str, code: u16| mine.iter().any(|r| r.rule() == rule && r.code == code);
    assert!(seen("list /pods", 200), "{mine:#?}");
    assert!(seen("delete /pods", 403) && seen("list apps/deployments", 403), "{mine:#?}");
    assert!(seen("patch apps/deployments/scale", 200), "{mine:#?}");
    let sa = mine.iter().find(|r| r.resource == "pods").unwrap();
    assert_eq!(sa.groups, ["system:serviceaccounts", "system:serviceaccounts:cortex-system", "system:authenticated"]);
    assert!(recorded.iter().any(|r| r.subresource == "token" && r.verb == "create" && r.code == 201));
    assert_eq!(sim.api_as(Some(&token), "GET", "/_sim/requests", None).code, 403);
}

#[test]
fn auth_can_i_answers_per_the_role() {
    let sim = Sim::demo();
    let kc = reader(&sim);
    let can = |args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-n", NS]);
        let out = sim.kubectl_with(&kc, &all);
        (stdout(&out), out.status.code())
    };
    assert_eq!(can(&["list", "pods"]), ("yes".to_string(), Some(0)));
    assert_eq!(can(&["delete", "pods"]), ("no".to_string(), Some(1)));
    assert_eq!(can(&["patch", "deployments", "--subresource=scale"]), ("yes".to_string(), Some(0)));
    assert_eq!(can(&["patch", "deployments"]), ("no".to_string(), Some(1)));
    assert_eq!(can(&["get", "secrets"]), ("no".to_string(), Some(1)));
    let out = sim.kubectl_with(&kc, &["auth", "can-i", "--list", "-n", NS]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&out);
    assert!(list.lines().any(|l| l.starts_with("pods ") && l.contains("[get list]")), "{list}");
}

#[test]
fn token_file_users_authenticate_in_kube_apiserver_csv_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    std::fs::write(&file, "ops-token,ops,u-1,\"system:masters,ops\"\nbob-token,bob,u-2\n").unwrap();
    let sim = Sim::start(&["--token-file", file.to_str().unwrap()]);
    let r = sim.api_as(Some("ops-token"), "GET", "/api/v1/nodes", None);
    assert_eq!(r.code, 200, "{}", r.body);
    let r = sim.api_as(Some("bob-token"), "GET", "/api/v1/nodes", None);
    assert_eq!(r.code, 403);
    assert_eq!(
        r.json()["message"],
        r#"nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope"#
    );
    let r = sim.api_as(Some("bob-token"), "GET", "/version", None);
    assert_eq!(r.code, 200, "discovery and /version are open to authenticated users");
    let r = sim.api_as(Some("bob-token"), "GET", "/metrics", None);
    assert_eq!(r.json()["message"], r#"forbidden: User "bob" cannot get path "/metrics""#);
}

fn curl_version(sim: &Sim, flag: &str) -> String {
    let ca = sim.dir().join("pki/ca.crt");
    let out = std::process::Command::new("curl")
        .args(["-sS", flag, "--cacert", ca.to_str().unwrap(), "-o", "/dev/null", "-w", "%{http_version} %{http_code}"])
        .args(["-H", &format!("Authorization: Bearer {}", sim.admin_token())])
        .arg(format!("{}/api/v1/namespaces", sim.url))
        .output()
        .expect("curl");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn http2_is_negotiated_with_clients_that_offer_it() {
    let sim = Sim::empty();
    assert_eq!(curl_version(&sim, "--http2"), "2 200");
    assert_eq!(curl_version(&sim, "--http1.1"), "1.1 200");
}

#[test]
fn annotation_changes_bump_a_deployments_generation_and_rollouts_still_complete() {
    let sim = Sim::demo();
    let generation = || sim.get_json(NS, &format!("deploy/{DEPLOY}"))["metadata"]["generation"].as_i64().unwrap();
    let g0 = generation();
    sim.kubectl_ok(&["-n", NS, "label", &format!("deploy/{DEPLOY}"), "tier=web"]);
    assert_eq!(generation(), g0, "a label change does not bump it");
    sim.kubectl_ok(&["-n", NS, "annotate", &format!("deploy/{DEPLOY}"), "team=sre"]);
    assert_eq!(generation(), g0 + 1, "an annotation change does");
    let out = sim.kubectl_ok(&["-n", NS, "rollout", "status", &format!("deploy/{DEPLOY}"), "--timeout=30s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let d = sim.get_json(NS, &format!("deploy/{DEPLOY}"));
    assert_eq!(d["status"]["observedGeneration"], g0 + 1);
    sim.kubectl_ok(&["-n", NS, "scale", &format!("deploy/{DEPLOY}"), "--replicas=3"]);
    assert_eq!(generation(), g0 + 2, "a spec change does");
    let pod = a_pod(&sim);
    sim.kubectl_ok(&["-n", NS, "annotate", "pod", &pod, "x=y"]);
    assert_eq!(generation(), g0 + 2, "other objects' annotations do not");
}
