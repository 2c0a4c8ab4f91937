//! The guards: one healer per workload (the Lease), the breaker, dry run, a healthy service,
//! the deadline. Refusals exit 4 and write nothing to the workload.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::util::{eventually, refused};

#[test]
fn a_lock_held_by_another_live_healer_is_refused_with_exit_4() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string();
    create(
        &sim,
        "lease.yaml",
        &format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: {LEASE}\n  namespace: {NS}\nspec:\n  holderIdentity: other-healer\n  leaseDurationSeconds: 3600\n  acquireTime: {now}\n  renewTime: {now}\n"
        ),
    );
    let lease_before = lease(&sim).unwrap();
    let before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["--timeout", "3s", "heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 4, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "refused");
    assert_eq!(run.events("plan").last().unwrap()["action"], "manual", "{}", run.dump());
    assert_eq!(run.events("plan").last().unwrap()["detail"]["refused"], true, "{}", run.dump());
    assert!(run.result()["diagnosis"].as_str().unwrap().contains("other-healer"), "names the holder: {}", run.dump());
    reqs.assert_no_writes(&run);
    assert!(
        reqs.0.iter().any(|r| r.verb == "watch" && r.resource == "leases"),
        "waited for the lock by watching it:\n{}",
        reqs.dump()
    );
    let lease_after = lease(&sim).unwrap();
    assert_eq!(lease_after["metadata"]["resourceVersion"], lease_before["metadata"]["resourceVersion"]);
    assert_eq!(generation(&sim), before);
    assert_eq!(deployment(&sim)["spec"]["replicas"].as_i64().unwrap_or(0), 0);
    assert_eq!(self_heal_events(&sim), Vec::new());
}

/// The overlap is made certain: the first healer is held inside its lock (kube-sim holds its
/// write to the Deployment) until the second has seen the Lease taken; then both finish.
#[test]
fn two_concurrent_heals_make_one_remediation() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    let hold = sim.add_fault(json!({
        "id": "hold-the-first-write",
        "match": {"verb": "patch", "resource": "deployments", "namespace": NS, "name": SVC},
        "action": {"hold": {"maxSeconds": 90}},
        "count": 1
    }));
    sim.clear_requests();
    let first = spawn_heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(sim.wait_fault_hits(&hold, 1, Duration::from_secs(60)), 1, "the first healer's write is held");
    let held_by = lease(&sim).expect("the first healer holds the Lease")["spec"]["holderIdentity"].clone();
    assert!(held_by.as_str().is_some_and(|h| !h.is_empty()), "{held_by}");

    let second = spawn_heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    let lease_path = format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{LEASE}");
    eventually("the second healer to find the lock taken", Duration::from_secs(60), || {
        sim.requests().iter().any(|r| r.verb == "get" && r.path == lease_path && r.code == 200).then_some(())
    });
    sim.remove_fault(&hold);

    let runs = [finish(first.wait_with_output().unwrap()), finish(second.wait_with_output().unwrap())];
    let reqs = Requests(sim.requests());
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.dump());
    }
    assert_eq!(runs[0].actions(), ["scale started", "scale succeeded"], "the first healer scales: {}", runs[0].dump());
    assert_eq!(runs[1].actions(), Vec::<String>::new(), "the second one does not: {}", runs[1].dump());
    assert_eq!(runs[1].result()["outcome"], "healthy", "{}", runs[1].dump());
    reqs.assert_one_workload_patch(&runs[0]);
    reqs.assert_writes_only_to_workload_events_and_lease(&runs[1]);
    assert_one_event(&sim, &runs[0], "SelfHealScaled", "from 0 to 2 replicas");
    assert_lease_released_with(&sim, 1);
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2);
}

#[test]
fn breaker_refuses_after_the_allowed_remediations() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_CRASH=1");
    wait_for_reason(&sim, "CrashLoopBackOff");
    let args = ["--max-remediations", "1", "heal", SVC, "connect ECONNREFUSED"];

    let (first, reqs) = heal_recorded(&sim, &args);
    assert_eq!(first.code, 1, "{}", first.dump());
    reqs.assert_one_workload_patch(&first);
    assert_one_event(&sim, &first, "SelfHealRestarted", "Restarted deployment/sandfly-mcp-server");
    assert_lease_released_with(&sim, 1);
    let generation_after_first = generation(&sim);

    let (second, reqs) = heal_recorded(&sim, &args);
    assert_eq!(second.code, 4, "{}", second.dump());
    assert_eq!(second.result()["outcome"], "refused");
    assert_eq!(second.events("plan").last().unwrap()["action"], "manual", "{}", second.dump());
    assert_eq!(second.events("plan").last().unwrap()["detail"]["refused"], true, "{}", second.dump());
    assert!(second.result()["recommendation"].as_str().unwrap().contains("Breaker open"), "{}", second.dump());
    assert!(second.events("action").is_empty(), "{}", second.dump());
    assert_eq!(reqs.workload_writes(), Vec::<String>::new(), "nothing written to the workload:\n{}", reqs.dump());
    reqs.assert_writes_only_to_workload_events_and_lease(&second);
    assert_eq!(generation(&sim), generation_after_first, "not restarted again");
    assert_eq!(self_heal_events(&sim).len(), 1, "no second Event");
    assert_lease_released_with(&sim, 1);
}

#[test]
fn dry_run_sends_dry_run_requests_and_changes_nothing() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let before = deployment(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["--dry-run", "heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "planned");
    assert_eq!(run.events("started")[0]["dry_run"], true);
    assert!(run.events("plan").iter().any(|p| p["action"] == "scale"), "{}", run.dump());
    assert_eq!(run.actions(), ["scale started", "scale succeeded"]);

    let dry = reqs.dry_runs();
    assert_eq!(dry.len(), 1, "one dry-run write:\n{}", reqs.dump());
    assert!(dry[0].starts_with(&format!("PATCH {DEPLOY_PATH}?")), "{dry:?}");
    assert!(dry[0].contains("dryRun=All"), "the server saw dryRun=All: {dry:?}");
    reqs.assert_no_writes(&run);
    let after = deployment(&sim);
    assert_eq!(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"], "{}", run.dump());
    assert_eq!(self_heal_events(&sim), Vec::new(), "no Event for a dry run");
    assert!(lease(&sim).is_none(), "no Lease for a dry run");
    assert!(refused(&url), "still down after a dry run");
}

#[test]
fn healthy_service_exits_zero_without_writing() {
    let sim = demo_at(2);
    let before = deployment(&sim);
    let url = mcp_url(&sim);
    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "timeout", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healthy");
    assert!(run.events("action").is_empty(), "{}", run.dump());
    assert!(run.events("check").iter().any(|c| c["check"] == "http" && c["ok"] == true), "probed: {}", run.dump());
    reqs.assert_no_writes(&run);
    assert_eq!(deployment(&sim)["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
    let leases = sim.get_json(NS, "leases");
    assert_eq!(leases["items"].as_array().map(Vec::len), Some(0), "no lock taken for a healthy service");
}

#[test]
fn deadline_exceeded_exits_124_with_a_result() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=60s"]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    let (run, reqs) = heal_recorded(&sim, &["--timeout", "3s", "heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 124, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "timeout");
    assert!(run.result()["duration_ms"].as_u64().unwrap() < 10_000);
    let attempted = run.result()["fix_attempted"].as_str().unwrap_or_default();
    assert!(attempted.starts_with("Scaling deployment/sandfly-mcp-server to "), "{}", run.dump());
    reqs.assert_one_workload_patch(&run);
    assert_lease_released_with(&sim, 1);
}
