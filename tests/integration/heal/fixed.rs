//! Remediated scenarios: the fix is written once (one PATCH of the Deployment with field manager
//! self-heal, one Event naming the run, one remediation on the Lease), waited for and verified;
//! a fix that does not take ends with exit 1 and says why.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::util::{eventually, http_get_status, refused};

#[test]
fn scaled_to_zero_from_three_is_healed_back_to_three() {
    let sim = demo_at(3);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));
    let generation_before = generation(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert!(run.finding_codes().contains(&"ScaledToZero".to_string()), "{}", run.dump());
    assert_eq!(run.events("plan")[0]["action"], "scale");
    assert_eq!(run.actions(), ["scale started", "scale succeeded"]);
    assert!(!run.events("rollout").is_empty(), "the rollout was waited for: {}", run.dump());
    assert!(run.verified_after_action("http"), "verified by an HTTP probe after the fix: {}", run.dump());

    let patch = reqs.assert_one_workload_patch(&run);
    assert!(!patch.query.contains("dryRun"), "{}", patch.query);
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    let dep = deployment(&sim);
    assert_eq!(dep["spec"]["replicas"], 3, "back to the remembered 3, not 1");
    assert_eq!(
        dep["metadata"]["annotations"]["self-heal.dev/last-replicas"], "3",
        "the count is remembered in the scale's own request"
    );
    assert_eq!(dep["metadata"]["generation"], generation_before + 1, "one change of the spec");
    assert_one_event(&sim, &run, "SelfHealScaled", "Scaled deployment/sandfly-mcp-server from 0 to 3 replicas");
    assert_lease_released_with(&sim, 1);
    assert_answers(&sim);
}

/// (method, path) of every request self-heal sent, in order, from its debug log.
fn requests(run: &Run) -> Vec<(String, String)> {
    run.stderr
        .lines()
        .filter_map(|l| {
            let rest = l.split("request method=").nth(1)?;
            let (method, uri) = rest.split_once(" uri=")?;
            let path = uri.split("://").nth(1).map_or(uri, |u| &u[u.find('/').unwrap_or(u.len())..]);
            Some((method.to_string(), path.split('?').next().unwrap_or(path).to_string()))
        })
        .collect()
}

#[test]
fn a_free_lock_is_followed_by_the_fix_without_reading_again() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));

    sim.clear_requests();
    let out = sim
        .self_heal()
        .env("RUST_LOG", "self_heal::client=debug")
        .args(["--output", "ndjson", "heal", SVC, "connect ECONNREFUSED", &url])
        .output()
        .unwrap();
    let run = finish(out);
    assert_eq!(run.code, 0, "{}", run.dump());
    let sent = requests(&run);
    assert!(!sent.is_empty(), "the debug log names every request: {}", run.stderr);
    assert!(sent.iter().all(|(_, p)| p != "/version"), "no pre-flight request: {sent:?}");
    assert!(
        sent.iter().all(|(_, p)| !p.contains("/secrets") && !p.contains("/configmaps")),
        "no Secret or ConfigMap is read: {sent:?}"
    );
    let first_write = sent.iter().position(|(m, _)| m != "GET").unwrap();
    assert!(sent[first_write].1.contains("/leases"), "the Lease is the first write: {sent:?}");
    assert_eq!(
        sent[first_write + 1],
        ("PATCH".to_string(), DEPLOY_PATH.to_string()),
        "the scale follows the Lease at once (no second diagnosis, no read first): {sent:?}"
    );
    // The server saw the same: the record agrees with the log.
    let recorded: Vec<(String, String)> = sim
        .requests()
        .into_iter()
        .filter(|r| r.resource_request && r.subresource != "proxy")
        .map(|r| (r.method, r.path))
        .collect();
    let at = recorded.iter().position(|(m, _)| m != "GET").unwrap();
    assert_eq!(recorded[at].1, format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"), "{recorded:?}");
    assert_eq!(recorded[at + 1], ("PATCH".to_string(), DEPLOY_PATH.to_string()), "{recorded:?}");
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2);
}

#[test]
fn deleted_pods_are_waited_for_not_restarted() {
    let sim = demo_at(2);
    // New pods take 6 s to become ready: long enough that self-heal, started right after the
    // delete, finds them missing or starting even on a loaded machine (the wait is by watch).
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=6s"]);
    rollout_done(&sim);
    let before = deployment(&sim);
    let url = mcp_url(&sim);
    kubectl(&sim, &["delete", "pods", "-l", "app=sandfly-mcp-server", "--wait=false"]);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed", "{}", run.dump());
    let codes = run.finding_codes();
    assert!(
        codes.iter().any(|c| c == "PodsMissing" || c == "RolloutInProgress"),
        "the ReplicaSet is recreating them: {}",
        run.dump()
    );
    assert_eq!(run.events("plan").last().unwrap()["action"], "wait", "{}", run.dump());
    assert_eq!(run.actions(), ["wait started", "wait succeeded"], "a wait, and nothing else: {}", run.dump());
    assert!(!run.events("rollout").is_empty(), "progress while waiting: {}", run.dump());
    assert!(run.verified_after_action("http"), "verified after the wait: {}", run.dump());

    assert_eq!(reqs.workload_writes(), Vec::<String>::new(), "nothing written to the workload:\n{}", reqs.dump());
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    assert!(
        reqs.0.iter().any(|r| r.verb == "watch" && (r.resource == "pods" || r.resource == "deployments")),
        "waited by watching:\n{}",
        reqs.dump()
    );
    let after = deployment(&sim);
    assert_eq!(after["metadata"]["generation"], before["metadata"]["generation"], "the Deployment was not touched");
    assert_eq!(after["metadata"]["annotations"], before["metadata"]["annotations"], "nothing written for a wait");
    assert_eq!(self_heal_events(&sim), Vec::new(), "no Event: nothing was written to the workload");
    assert_lease_released_with(&sim, 0);
    assert_answers(&sim);
}

#[test]
fn crash_loop_that_clears_after_a_restart_is_restarted() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_CRASH=until-restart");
    wait_for_reason(&sim, "CrashLoopBackOff");
    let generation_before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert!(run.finding_codes().contains(&"CrashLoopBackOff".to_string()), "{}", run.dump());
    assert_eq!(run.events("plan")[0]["action"], "restart");
    assert_eq!(run.actions(), ["restart started", "restart succeeded"]);
    assert!(!run.events("rollout").is_empty(), "progress while waiting: {}", run.dump());
    assert!(run.verified_after_action("http"), "{}", run.dump());

    reqs.assert_one_workload_patch(&run);
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    let dep = deployment(&sim);
    let restarted = &dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    let restarted_at = restarted.as_str().expect("kubectl's restart annotation");
    let action = run.actions().iter().position(|a| a.ends_with(" succeeded")).unwrap();
    assert_eq!(
        run.events("action")[action]["detail"]["restartedAt"],
        restarted_at,
        "the annotation the run reports is the one in the cluster"
    );
    assert_eq!(dep["metadata"]["annotations"]["self-heal.dev/last-replicas"], "2", "in the restart's patch");
    assert_eq!(dep["metadata"]["generation"], generation_before + 1, "one change of the spec");
    assert_one_event(&sim, &run, "SelfHealRestarted", "Restarted deployment/sandfly-mcp-server");
    assert_lease_released_with(&sim, 1);
    assert_answers(&sim);
}

#[test]
fn persistent_crash_loop_is_restarted_once_then_not_healed_and_says_why() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_CRASH=1");
    wait_for_reason(&sim, "CrashLoopBackOff");
    let generation_before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "not_healed");
    assert_eq!(run.actions(), ["restart started", "restart succeeded"]);
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("CrashLoopBackOff") && rec.contains("last exit code 1"), "the container's exit: {rec}");
    assert!(rec.contains("connection to database failed"), "the container's error log line: {rec}");
    assert_eq!(run.result()["fix_attempted"], "Restarted deployment/sandfly-mcp-server", "{}", run.dump());
    assert!(run.result()["fix_applied"].is_null(), "{}", run.dump());

    reqs.assert_one_workload_patch(&run);
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    let dep = deployment(&sim);
    assert!(dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    assert_eq!(dep["metadata"]["generation"], generation_before + 1, "restarted once, not again");
    assert_one_event(&sim, &run, "SelfHealRestarted", "Restarted deployment/sandfly-mcp-server");
    assert_lease_released_with(&sim, 1);
}

#[test]
fn image_pull_failure_is_rolled_back_when_allowed() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "image", DEPLOY, "server=invalid-image:latest"]);
    wait_for_reason(&sim, "ImagePullBackOff");
    let generation_before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["--allow", "rollback", "heal", SVC, "502 Bad Gateway", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert_eq!(run.events("plan")[0]["action"], "rollback");
    assert_eq!(run.actions(), ["rollback started", "rollback succeeded"]);
    assert!(run.verified_after_action("http"), "{}", run.dump());

    reqs.assert_one_workload_patch(&run);
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    let dep = deployment(&sim);
    assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], "sim/mcp-server:1");
    assert_eq!(dep["metadata"]["generation"], generation_before + 1);
    assert_one_event(&sim, &run, "SelfHealRolledBack", "Rolled back deployment/sandfly-mcp-server to revision");
    assert_lease_released_with(&sim, 1);
    rollout_done(&sim);
    assert_answers(&sim);
}

#[test]
fn a_new_revision_that_crashes_while_the_old_one_serves_is_rolled_back_not_restarted() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_CRASH=1"]);
    wait_for_reason(&sim, "CrashLoopBackOff");
    let url = mcp_url(&sim);
    let generation_before = generation(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "502 Bad Gateway", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"), "{rec}");
    assert!(run.events("action").is_empty(), "no restart of a broken revision: {}", run.dump());
    reqs.assert_no_writes(&run);
    assert_eq!(generation(&sim), generation_before);

    let (run, reqs) = heal_recorded(&sim, &["--allow", "rollback", "heal", SVC, "502 Bad Gateway", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.events("plan")[0]["action"], "rollback");
    reqs.assert_one_workload_patch(&run);
    let env = &deployment(&sim)["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(!env.to_string().contains("SIM_CRASH"), "back to the revision without the crash: {env}");
    assert_eq!(generation(&sim), generation_before + 1);
    assert_one_event(&sim, &run, "SelfHealRolledBack", "Rolled back deployment/sandfly-mcp-server");
    assert_lease_released_with(&sim, 1);
    assert_answers(&sim);
}

#[test]
fn alias_service_resolves_to_its_deployment() {
    let sim = demo_at(2);
    create(
        &sim,
        "alias.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: sandfly\n  namespace: cortex-system\nspec:\n  selector:\n    app: sandfly-mcp-server\n  ports:\n  - name: http\n    port: 8080\n    targetPort: 3000\n",
    );
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);

    let (run, reqs) = heal_recorded(&sim, &["heal", "sandfly"]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    reqs.assert_one_workload_patch(&run);
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2);
    assert_one_event(&sim, &run, "SelfHealScaled", "to 2 replicas");
    assert_lease_released_with(&sim, 1);
}

#[test]
fn mcp_probe_through_the_api_server_proxy_when_dns_does_not_resolve() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = "http://sandfly-mcp-server.cortex-system.svc.cluster.local:3000/mcp";
    let (run, reqs) = heal_recorded(&sim, &["--probe", "mcp", SVC, "connect ECONNREFUSED", url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert!(run.verified_after_action("mcp"), "{}", run.dump());

    reqs.assert_one_workload_patch(&run);
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2, "replicas back up");
    // The route taken: the API server's service proxy, to the MCP path, answered.
    let proxied: Vec<&crate::util::RecordedRequest> = reqs
        .0
        .iter()
        .filter(|r| r.subresource == "proxy" && r.resource == "services" && r.path.ends_with("/proxy/mcp"))
        .collect();
    assert!(
        proxied.iter().any(|r| r.method == "POST" && r.code == 200 && r.path.contains("/services/sandfly-mcp-server")),
        "MCP POSTs went through the service proxy and were answered:\n{}",
        reqs.dump()
    );
    assert_one_event(&sim, &run, "SelfHealScaled", "from 0 to 2 replicas");
}

#[test]
fn dead_mcp_behind_a_healthy_health_endpoint_is_restarted_with_the_mcp_probe() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_MCP_DOWN=until-restart");
    rollout_done(&sim);
    let health = format!("{}/health", sim.service_url(NS, SVC));
    assert_eq!(http_get_status(&health), Some(200), "the health endpoint says healthy");
    let generation_before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["--probe", "mcp", "heal", SVC, "MCP error -32603", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert!(run.finding_codes().contains(&"Unreachable".to_string()), "{}", run.dump());
    assert_eq!(run.events("plan").last().unwrap()["action"], "restart", "{}", run.dump());
    let checks = run.events("check");
    assert!(checks.iter().any(|c| c["check"] == "mcp" && c["ok"] == false), "{}", run.dump());
    assert!(run.verified_after_action("mcp"), "{}", run.dump());

    reqs.assert_one_workload_patch(&run);
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    let dep: Value = deployment(&sim);
    assert!(dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    assert_eq!(dep["metadata"]["generation"], generation_before + 1);
    assert_one_event(&sim, &run, "SelfHealRestarted", "Restarted deployment/sandfly-mcp-server");
    assert_lease_released_with(&sim, 1);
}
