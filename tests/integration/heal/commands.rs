//! The subcommands end to end (`diagnose`, `remediate`, `verify`, the default `heal`) and the
//! legacy output: exit codes, NDJSON, and what each one writes.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::util::{eventually, refused};

#[test]
fn diagnose_changes_nothing_and_reports_problems_with_exit_1() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let before = deployment(&sim);
    let (run, reqs) = heal_recorded(&sim, &["diagnose", SVC]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "not_healed");
    assert_eq!(run.events("started")[0]["command"], "diagnose");
    assert!(run.finding_codes().contains(&"ScaledToZero".to_string()));
    assert_eq!(run.events("plan")[0]["action"], "scale", "what heal would do: {}", run.dump());
    assert!(run.events("action").is_empty(), "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("self-heal heal sandfly-mcp-server -n cortex-system"), "{rec}");
    reqs.assert_no_writes(&run);
    assert_eq!(reqs.dry_runs(), Vec::<String>::new());
    assert_eq!(deployment(&sim)["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
}

#[test]
fn diagnose_of_a_healthy_service_exits_0() {
    let sim = demo_at(2);
    let (run, reqs) = heal_recorded(&sim, &["diagnose", SVC]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healthy");
    assert_eq!(run.finding_codes(), ["Healthy"], "{}", run.dump());
    reqs.assert_no_writes(&run);
}

#[test]
fn remediate_fixes_and_waits_without_verifying() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));
    let before = generation(&sim);

    let (run, reqs) = heal_recorded(&sim, &["remediate", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.events("started")[0]["command"], "remediate");
    assert_eq!(run.result()["outcome"], "healed");
    assert_eq!(run.result()["fix_applied"], "Scaled deployment/sandfly-mcp-server from 0 to 2 replicas");
    assert_eq!(run.actions(), ["scale started", "scale succeeded"]);
    assert!(!run.events("rollout").is_empty(), "waited for the rollout: {}", run.dump());
    let last_rollout = run.events("rollout").last().copied().cloned().unwrap();
    assert_eq!((last_rollout["desired"].as_u64(), last_rollout["available"].as_u64()), (Some(2), Some(2)));
    assert!(run.events("check").is_empty(), "remediate does not verify: {}", run.dump());
    assert!(reqs.0.iter().all(|r| r.subresource != "proxy"), "no probe through the proxy either:\n{}", reqs.dump());

    reqs.assert_one_workload_patch(&run);
    reqs.assert_writes_only_to_workload_events_and_lease(&run);
    let dep = deployment(&sim);
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(dep["status"]["availableReplicas"], 2, "the rollout finished before it returned");
    assert_eq!(dep["metadata"]["generation"], before + 1);
    assert_one_event(&sim, &run, "SelfHealScaled", "from 0 to 2 replicas");
    assert_lease_released_with(&sim, 1);
}

#[test]
fn remediate_of_a_healthy_service_writes_nothing() {
    let sim = demo_at(2);
    let (run, reqs) = heal_recorded(&sim, &["remediate", SVC]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healthy");
    assert!(run.events("action").is_empty(), "{}", run.dump());
    reqs.assert_no_writes(&run);
}

#[test]
fn verify_probes_a_healthy_service_and_exits_0() {
    let sim = demo_at(2);
    let url = mcp_url(&sim);
    let (run, reqs) = heal_recorded(&sim, &["--probe", "mcp", "verify", SVC, "", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.events("started")[0]["command"], "verify");
    assert_eq!(run.result()["outcome"], "healthy");
    let checks: Vec<(Value, Value)> =
        run.events("check").iter().map(|c| (c["check"].clone(), c["ok"].clone())).collect();
    assert!(checks.contains(&("endpoints".into(), true.into())), "{checks:?}");
    assert!(checks.contains(&("mcp".into(), true.into())), "{checks:?}");
    assert!(run.events("finding").is_empty() && run.events("action").is_empty(), "verify only: {}", run.dump());
    reqs.assert_no_writes(&run);
}

#[test]
fn verify_of_a_service_scaled_to_zero_exits_1_and_fixes_nothing() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));

    let (run, reqs) = heal_recorded(&sim, &["verify", SVC, "", &url]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "not_healed");
    assert!(run.events("check").iter().all(|c| c["ok"] == false), "{}", run.dump());
    assert!(!run.events("check").is_empty(), "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("self-heal diagnose sandfly-mcp-server"), "{rec}");
    reqs.assert_no_writes(&run);
    assert_eq!(deployment(&sim)["spec"]["replicas"].as_i64().unwrap_or(0), 0);
}

#[test]
fn legacy_output_is_progress_lines_then_one_json_line() {
    let sim = demo_at(2);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);
    let out = sim.self_heal().args(["--output", "legacy", SVC, "connect ECONNREFUSED", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let (last, progress) = lines.split_last().unwrap();
    assert!(!progress.is_empty());
    for line in progress {
        assert!(line.starts_with("PROGRESS: "), "{line}");
    }
    let result: Value = serde_json::from_str(last).expect("last line is JSON");
    assert_eq!(result["success"], true);
    for key in ["diagnosis", "fix_applied", "fix_attempted", "recommendation", "timestamp"] {
        assert!(result.get(key).is_some(), "legacy key {key} kept: {last}");
    }
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2, "no COMMAND means heal");
}
