//! Manual and refused outcomes: exit 3 (or 4) with a recommendation naming the object, and NO
//! write request at all (kube-sim's record: no Lease, no Event, no patch, no dry run).

use std::time::Duration;

use super::*;
use crate::util::{Sim, eventually, refused};

/// Asserts a manual outcome left the cluster as it was: no write, no Event, no Lease, the same
/// Deployment generation.
fn assert_untouched(sim: &Sim, run: &Run, reqs: &Requests, generation_before: i64) {
    reqs.assert_no_writes(run);
    assert_eq!(reqs.dry_runs(), Vec::<String>::new(), "not even a dry run:\n{}", reqs.dump());
    assert!(run.events("action").is_empty(), "no action: {}", run.dump());
    assert_eq!(generation(sim), generation_before, "the Deployment is unchanged");
    assert_eq!(self_heal_events(sim), Vec::new(), "no Event");
    assert!(lease(sim).is_none(), "no lock taken for a manual outcome");
}

#[test]
fn image_pull_failure_needs_a_human_and_names_the_undo() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "image", DEPLOY, "server=invalid-image:latest"]);
    wait_for_reason(&sim, "ImagePullBackOff");
    let before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "502 Bad Gateway", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    assert!(run.finding_codes().contains(&"ImagePullBackOff".to_string()), "{}", run.dump());
    assert_eq!(run.events("plan").last().unwrap()["action"], "manual");
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("invalid-image:latest"), "{rec}");
    assert!(rec.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"), "{rec}");
    assert_untouched(&sim, &run, &reqs, before);
    let image = deployment(&sim)["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image, "invalid-image:latest", "nothing rolled back without --allow rollback");
}

#[test]
fn oom_killed_needs_a_human_and_names_the_memory_limit() {
    let sim = demo_at(2);
    kubectl(&sim, &["set", "resources", DEPLOY, "-c", "server", "--limits=memory=64Mi"]);
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_OOM=1"]);
    wait_for_reason(&sim, "OOMKilled");
    let before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connection reset", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    assert!(run.finding_codes().contains(&"OOMKilled".to_string()), "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("64Mi"), "names the memory limit: {rec}");
    assert_untouched(&sim, &run, &reqs, before);
}

#[test]
fn missing_configmap_needs_a_human_and_names_it() {
    let sim = demo_at(2);
    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"server","envFrom":[{"configMapRef":{"name":"sandfly-config"}}]}]}}}}"#;
    kubectl(&sim, &["patch", DEPLOY, "--type=strategic", "-p", patch]);
    wait_for_reason(&sim, "CreateContainerConfigError");
    let before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    assert!(run.finding_codes().contains(&"CreateContainerConfigError".to_string()), "{}", run.dump());
    assert!(run.result()["recommendation"].as_str().unwrap().contains("sandfly-config"), "{}", run.dump());
    assert_untouched(&sim, &run, &reqs, before);
    assert!(
        reqs.0.iter().all(|r| r.resource != "configmaps" && r.resource != "secrets"),
        "the ConfigMap is named from the kubelet's message, never read:\n{}",
        reqs.dump()
    );
}

#[test]
fn unschedulable_pods_need_a_human() {
    let sim = demo_at(2);
    kubectl(&sim, &["patch", DEPLOY, "-p", r#"{"spec":{"template":{"spec":{"nodeSelector":{"disktype":"ssd"}}}}}"#]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    rollout_done(&sim);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
    wait_for_reason(&sim, "Unschedulable");
    let before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    assert!(run.finding_codes().contains(&"Unschedulable".to_string()), "{}", run.dump());
    assert!(run.result()["recommendation"].as_str().unwrap().contains("disktype"), "{}", run.dump());
    assert_untouched(&sim, &run, &reqs, before);
}

#[test]
fn selector_mismatch_needs_a_human() {
    let sim = demo_at(2);
    kubectl(&sim, &["patch", "service", SVC, "-p", r#"{"spec":{"selector":{"app":"sandfly-mcp-server-v2"}}}"#]);
    let url = mcp_url(&sim);
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));
    let before = generation(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    assert!(run.finding_codes().contains(&"SelectorMismatch".to_string()), "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("sandfly-mcp-server-v2"), "{rec}");
    assert_untouched(&sim, &run, &reqs, before);
}

#[test]
fn service_without_any_workload_needs_a_human() {
    let sim = demo_at(2);
    create(
        &sim,
        "orphan.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: orphan\n  namespace: cortex-system\nspec:\n  selector:\n    tier: nothing-runs-this\n  ports:\n  - port: 80\n",
    );
    let before = generation(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", "orphan", "connect ECONNREFUSED"]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    assert!(run.finding_codes().contains(&"WorkloadNotFound".to_string()), "{}", run.dump());
    reqs.assert_no_writes(&run);
    assert!(run.events("action").is_empty(), "nothing to act on: {}", run.dump());
    assert_eq!(generation(&sim), before);
    assert_eq!(self_heal_events(&sim), Vec::new());
    let leases = sim.get_json(NS, "leases");
    assert_eq!(leases["items"].as_array().map(Vec::len), Some(0), "no lock: {leases}");
}

#[test]
fn unknown_service_needs_a_human_and_writes_nothing() {
    let sim = demo_at(2);
    let before = generation(&sim);
    let (run, reqs) = heal_recorded(&sim, &["heal", "no-such-service", "connect ECONNREFUSED"]);
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "manual");
    assert!(run.finding_codes().contains(&"ServiceNotFound".to_string()), "{}", run.dump());
    assert!(run.result()["diagnosis"].as_str().unwrap().contains("no-such-service"), "{}", run.dump());
    reqs.assert_no_writes(&run);
    assert_eq!(generation(&sim), before);
}

#[test]
fn replicas_owned_by_an_autoscaler_are_refused() {
    let sim = demo_at(2);
    create(
        &sim,
        "hpa.yaml",
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: sandfly\n  namespace: cortex-system\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: sandfly-mcp-server\n  minReplicas: 1\n  maxReplicas: 4\n",
    );
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 4, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "refused");
    assert!(run.finding_codes().contains(&"ReplicasManagedExternally".to_string()), "{}", run.dump());
    assert!(
        run.result()["recommendation"].as_str().unwrap().contains("sandfly"),
        "names the autoscaler: {}",
        run.dump()
    );
    assert_untouched(&sim, &run, &reqs, before);
    assert_eq!(deployment(&sim)["spec"]["replicas"].as_i64().unwrap_or(0), 0, "left to the autoscaler");
}

#[test]
fn a_paused_rollout_is_refused_with_exit_4() {
    let sim = demo_at(2);
    break_all_pods(&sim, "SIM_CRASH=1");
    wait_for_reason(&sim, "CrashLoopBackOff");
    kubectl(&sim, &["rollout", "pause", DEPLOY]);
    let before = generation(&sim);
    let url = mcp_url(&sim);

    let (run, reqs) = heal_recorded(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 4, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "refused");
    assert!(run.finding_codes().contains(&"Paused".to_string()), "{}", run.dump());
    let rec = run.result()["recommendation"].as_str().unwrap();
    assert!(rec.contains("kubectl -n cortex-system rollout resume deployment/sandfly-mcp-server"), "{rec}");
    assert_untouched(&sim, &run, &reqs, before);
    assert_eq!(deployment(&sim)["spec"]["paused"], true, "still paused");
}
