//! Each check: ok (healthy snapshot), finding (reference-shaped trouble), not applicable.

use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

use super::*;
use crate::diagnose::ConfigKind;
use crate::diagnose::fixtures::{self as fx, NAME, NS, RS, endpoints, event, pod, running, with};
use crate::diagnose::logs::ContainerLog;
use crate::events::FindingCode as C;

fn codes(s: &Snapshot) -> Vec<C> {
    check_all(s).into_iter().map(|f| f.code).collect()
}

fn crashloop_pod(suffix: &str, last_reason: &str, exit: i32) -> k8s_openapi::api::core::v1::Pod {
    fx::crashloop_pod(suffix, last_reason, exit, 4)
}

#[test]
fn a_crash_loop_between_two_back_offs_still_counts() {
    let mut between = fx::running(false);
    between["restartCount"] = json!(3);
    between["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
    let s = with(fx::deployment(1, 0), vec![pod("aaaaa", "Running", false, between)]);
    let f = check_crash_loop(&s).expect("restarted, failed last time, not ready: crash-looping");
    assert!(f.message.contains("last exit code 1"), "{}", f.message);

    let mut recovered = fx::running(true);
    recovered["restartCount"] = json!(3);
    recovered["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
    let s = with(fx::deployment(1, 1), vec![pod("bbbbb", "Running", true, recovered)]);
    assert!(check_crash_loop(&s).is_none(), "ready again after old crashes: not a crash loop");
}

#[test]
fn healthy_snapshot_gives_only_healthy() {
    let s = fx::healthy();
    let f = check_all(&s);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, C::Healthy);
    assert_eq!(f[0].evidence["ready_endpoints"], 2);
    assert!(f[0].message.contains("2 ready endpoints"), "{}", f[0].message);
}

#[test]
fn scaled_to_zero() {
    assert!(check_scaled_to_zero(&fx::healthy()).is_none());
    let s = with(fx::deployment(0, 0), vec![]);
    let f = check_scaled_to_zero(&s).unwrap();
    assert_eq!((f.code, f.severity), (C::ScaledToZero, Severity::Critical));
    assert!(f.message.contains("deployment/sandfly-mcp-server is scaled to 0"), "{}", f.message);
    // Not applicable without a workload.
    let mut none = with(fx::deployment(0, 0), vec![]);
    none.workload = None;
    assert!(check_scaled_to_zero(&none).is_none());
    // Scaled to zero is not "pods missing" nor a rollout in progress.
    assert_eq!(codes(&s), vec![C::ScaledToZero, C::NoEndpoints]);
}

#[test]
fn pods_missing_after_delete() {
    assert!(check_pods_missing(&fx::healthy()).is_none());
    let s = with(fx::deployment(2, 1), vec![pod("aaaaa", "Running", true, running(true))]);
    let f = check_pods_missing(&s).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!((f.evidence["desired"].clone(), f.evidence["existing"].clone()), (json!(2), json!(1)));
    let none = with(fx::deployment(2, 0), vec![]);
    assert_eq!(check_pods_missing(&none).unwrap().severity, Severity::Critical);
    // Another workload's pods that the Service also selects do not count.
    let mut s = with(fx::deployment(2, 1), vec![pod("aaaaa", "Running", true, running(true))]);
    s.replica_sets = vec![serde_json::from_value(json!({"metadata":{"name":RS}})).unwrap()];
    let mut canary = pod("zzzzz", "Running", true, running(true));
    canary.metadata.owner_references.as_mut().unwrap()[0].name = "canary-7c9f8d6b5".into();
    s.pods.push(canary);
    assert_eq!(check_pods_missing(&s).unwrap().evidence["existing"], 1);
    // Evicted pods do not count.
    let mut evicted = pod("bbbbb", "Failed", false, running(false));
    evicted.status.as_mut().unwrap().reason = Some("Evicted".into());
    let s = with(fx::deployment(2, 1), vec![pod("aaaaa", "Running", true, running(true)), evicted]);
    assert!(check_pods_missing(&s).is_some());
    // Terminating pods do not count.
    let mut term = pod("bbbbb", "Running", true, running(true));
    term.metadata.deletion_timestamp = serde_json::from_value(json!("2026-11-28T10:00:00Z")).unwrap();
    let s = with(fx::deployment(2, 1), vec![pod("aaaaa", "Running", true, running(true)), term]);
    assert!(check_pods_missing(&s).is_some());
}

#[test]
fn crash_loop_names_restarts_exit_code_and_log_lines() {
    assert!(check_crash_loop(&fx::healthy()).is_none());
    let mut s =
        with(fx::deployment(2, 0), vec![crashloop_pod("aaaaa", "Error", 1), crashloop_pod("bbbbb", "Error", 1)]);
    s.logs.push(ContainerLog {
        pod: format!("{RS}-aaaaa"),
        container: "server".into(),
        previous: true,
        lines: vec!["Error: listen EADDRINUSE".into()],
    });
    s.warnings.push(event(
        "Pod",
        &format!("{RS}-aaaaa"),
        "Warning",
        "BackOff",
        "Back-off restarting failed container server in pod x",
        "2026-11-28T10:00:05Z",
    ));
    let f = check_crash_loop(&s).unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.message.contains("server of 2 pods is in CrashLoopBackOff"), "{}", f.message);
    assert!(f.message.contains("restarted 4 times, last exit code 1"), "{}", f.message);
    assert_eq!(f.evidence["pods"][0]["log_lines"][0], "Error: listen EADDRINUSE");
    assert_eq!(f.evidence["pods"][0]["last_reason"], "Error");
    assert_eq!(f.evidence["warnings"][0]["reason"], "BackOff");
    let c = codes(&s);
    assert!(c.contains(&C::CrashLoopBackOff) && c.contains(&C::NoEndpoints) && c.contains(&C::LogErrors));
    assert!(!c.contains(&C::NotReady), "a crash-looping pod is not reported twice: {c:?}");
    assert!(!c.contains(&C::RolloutInProgress));
}

#[test]
fn image_pull_names_the_image() {
    assert!(check_image_pull(&fx::healthy()).is_none());
    let mut bad = pod(
        "ccccc",
        "Pending",
        false,
        fx::waiting(
            "ImagePullBackOff",
            "Back-off pulling image \"invalid-image:latest\": ErrImagePull: pull access denied",
            0,
            None,
        ),
    );
    bad.spec.as_mut().unwrap().containers[0].image = Some("invalid-image:latest".into());
    let s = with(
        fx::deployment(2, 2),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", true, running(true)), bad],
    );
    let f = check_image_pull(&s).unwrap();
    assert_eq!(f.severity, Severity::Warning, "old pods still serve");
    assert!(f.message.contains("\"invalid-image:latest\""), "{}", f.message);
    assert_eq!(f.evidence["images"], json!(["invalid-image:latest"]));
    // ErrImagePull with no spec image falls back to the message.
    let mut p = pod(
        "ddddd",
        "Pending",
        false,
        fx::waiting("ErrImagePull", "Back-off pulling image \"ghcr.io/x/y:1\"", 0, None),
    );
    p.spec.as_mut().unwrap().containers[0].image = None;
    let s = with(fx::deployment(1, 0), vec![p]);
    let f = check_image_pull(&s).unwrap();
    assert_eq!(f.evidence["images"], json!(["ghcr.io/x/y:1"]));
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn oom_killed_names_the_memory_limit() {
    assert!(check_oom_killed(&fx::healthy()).is_none());
    let mut p = crashloop_pod("aaaaa", "OOMKilled", 137);
    p.spec.as_mut().unwrap().containers[0].resources =
        Some(serde_json::from_value(json!({"limits":{"memory":"64Mi"}})).unwrap());
    let s = with(fx::deployment(1, 0), vec![p]);
    let f = check_oom_killed(&s).unwrap();
    assert!(f.message.contains("server was OOMKilled (memory limit 64Mi)"), "{}", f.message);
    assert_eq!(f.evidence["pods"][0]["memory_limit"], "64Mi");
    assert_eq!(f.evidence["pods"][0]["last_exit_code"], 137);
    // No limit.
    let s = with(fx::deployment(1, 0), vec![crashloop_pod("aaaaa", "OOMKilled", 137)]);
    assert!(check_oom_killed(&s).unwrap().message.contains("no memory limit set"));
    // A ready container that was OOM-killed long ago is not a current problem.
    let mut old = running(true);
    old["lastState"] = json!({"terminated":{"exitCode":137,"reason":"OOMKilled"}});
    let s = with(fx::deployment(1, 1), vec![pod("aaaaa", "Running", true, old)]);
    assert!(check_oom_killed(&s).is_none());
}

#[test]
fn config_error_names_the_missing_object() {
    assert!(check_config_error(&fx::healthy()).is_none());
    let p = pod(
        "aaaaa",
        "Pending",
        false,
        fx::waiting("CreateContainerConfigError", "configmap \"sandfly-config\" not found", 0, None),
    );
    let s = with(fx::deployment(1, 0), vec![p]);
    let f = check_config_error(&s).unwrap();
    assert!(f.message.contains("ConfigMap \"sandfly-config\" does not exist"), "{}", f.message);
    assert_eq!(f.evidence["missing"], json!([{"kind":"ConfigMap","name":"sandfly-config","key":null}]));

    let p = pod(
        "aaaaa",
        "Pending",
        false,
        fx::waiting(
            "CreateContainerConfigError",
            "couldn't find key api-key in Secret cortex-system/sandfly-creds",
            0,
            None,
        ),
    );
    let f = check_config_error(&with(fx::deployment(1, 0), vec![p])).unwrap();
    assert_eq!(f.evidence["missing"][0], json!({"kind":"Secret","name":"sandfly-creds","key":"api-key"}));

    // A missing volume source leaves pods ContainerCreating: named from the kubelet's
    // FailedMount warning (no Secret is read).
    let p = pod("aaaaa", "Pending", false, fx::waiting("ContainerCreating", "", 0, None));
    let name = p.metadata.name.clone().unwrap();
    let mut s = with(fx::deployment(1, 0), vec![p]);
    let mount = |obj: &str, msg: &str| fx::event("Pod", obj, "Warning", "FailedMount", msg, "2026-11-28T10:00:00Z");
    s.warnings.push(mount(&name, "MountVolume.SetUp failed for volume \"tls\" : secret \"tls\" not found"));
    s.warnings.push(mount("someone-else", "MountVolume.SetUp failed for volume \"x\" : configmap \"x\" not found"));
    let f = check_config_error(&s).unwrap();
    assert_eq!(f.evidence["missing"], json!([{"kind":"Secret","name":"tls","key":null}]));
    assert!(f.message.contains("Secret \"tls\" does not exist"), "{}", f.message);
    assert_eq!(f.evidence["pod_names"], json!([name]));
    // The same warning without a pod stuck creating: not applicable.
    let mut s = fx::healthy();
    let running = s.pods[0].metadata.name.clone().unwrap();
    s.warnings.push(mount(&running, "MountVolume.SetUp failed for volume \"tls\" : secret \"tls\" not found"));
    assert!(check_config_error(&s).is_none());
}

#[test]
fn parses_every_kubelet_config_message() {
    assert_eq!(parse_missing_config("secret \"x\" not found"), Some((ConfigKind::Secret, "x".into(), None)));
    assert_eq!(
        parse_missing_config("Error: configmap \"y\" not found"),
        Some((ConfigKind::ConfigMap, "y".into(), None))
    );
    assert_eq!(
        parse_missing_config("couldn't find key k in ConfigMap ns/cm"),
        Some((ConfigKind::ConfigMap, "cm".into(), Some("k".into())))
    );
    assert_eq!(
        parse_missing_config("MountVolume.SetUp failed for volume \"v\" : configmap \"cm\" not found"),
        Some((ConfigKind::ConfigMap, "cm".into(), None))
    );
    assert_eq!(parse_missing_config("secret \"x\" is forbidden"), None);
    assert_eq!(parse_missing_config("container has runAsNonRoot and image will run as root"), None);
}

#[test]
fn unschedulable_quotes_the_scheduler_and_node_selector() {
    assert!(check_unschedulable(&fx::healthy()).is_none());
    let msg = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    let mut p: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata":{"name":format!("{RS}-zzzzz"),"namespace":NS,"labels":{"app":NAME}},
        "spec":{"nodeSelector":{"disktype":"ssd"},"containers":[{"name":"server","image":"nginx"}]},
        "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":msg}]}}))
    .unwrap();
    let s = with(fx::deployment(1, 0), vec![p.clone()]);
    let f = check_unschedulable(&s).unwrap();
    assert!(f.message.ends_with(msg), "{}", f.message);
    assert_eq!(f.evidence["node_selector"], json!({"disktype":"ssd"}));
    // Only the FailedScheduling event, no condition yet.
    p.status.as_mut().unwrap().conditions = None;
    let mut s = with(fx::deployment(1, 0), vec![p]);
    s.warnings.push(event("Pod", &format!("{RS}-zzzzz"), "Warning", "FailedScheduling", msg, "2026-11-28T10:00:00Z"));
    assert_eq!(check_unschedulable(&s).unwrap().evidence["message"], msg);
}

#[test]
fn not_ready_running_pods() {
    assert!(check_not_ready(&fx::healthy()).is_none());
    let s = with(
        fx::deployment(2, 1),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", false, running(false))],
    );
    let f = check_not_ready(&s).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains("1 of 2 running pods is not ready (containers with unready status: [server])"),
        "{}",
        f.message
    );
    // Pending pods are starting, not "not ready".
    let s =
        with(fx::deployment(1, 0), vec![pod("aaaaa", "Pending", false, fx::waiting("ContainerCreating", "", 0, None))]);
    assert!(check_not_ready(&s).is_none());
}

#[test]
fn no_endpoints_counts_endpoints_and_slices() {
    assert!(check_no_endpoints(&fx::healthy()).is_none());
    let mut s = fx::healthy();
    s.endpoints = Some(endpoints(&[], &["10.0.0.1"]));
    let f = check_no_endpoints(&s).unwrap();
    assert_eq!(f.evidence["not_ready_addresses"], 1);
    // A slice with a ready endpoint is enough (nil ready means ready).
    s.endpoint_slices.push(
        serde_json::from_value(json!({"metadata":{"name":"x"},"addressType":"IPv4",
            "endpoints":[{"addresses":["10.0.0.2"],"conditions":{"serving":true}}]}))
        .unwrap(),
    );
    assert!(check_no_endpoints(&s).is_none());
    // No Endpoints object at all, and an empty slice.
    s.endpoints = None;
    s.endpoint_slices =
        vec![serde_json::from_value(json!({"metadata":{"name":"x"},"addressType":"IPv4","endpoints":null})).unwrap()];
    assert!(check_no_endpoints(&s).is_some());
}

fn no_workload(candidates: Vec<serde_json::Value>) -> Snapshot {
    let mut s = with(fx::deployment(1, 1), vec![]);
    s.workload = None;
    s.target.workload = None;
    s.endpoints = Some(endpoints(&[], &[]));
    s.candidates =
        candidates.into_iter().map(|d| Workload::Deployment(Box::new(serde_json::from_value(d).unwrap()))).collect();
    s
}

#[test]
fn selector_mismatch_shows_both_label_sets() {
    assert!(check_selector_mismatch(&fx::healthy()).is_none());
    let mut d = fx::deployment(1, 1);
    d["spec"]["template"]["metadata"]["labels"] = json!({"app":"sandfly"});
    d["spec"]["selector"]["matchLabels"] = json!({"app":"sandfly"});
    let s = no_workload(vec![d]);
    let f = check_selector_mismatch(&s).unwrap();
    assert_eq!(f.evidence["service_selector"], json!({"app":NAME}));
    assert_eq!(f.evidence["workload_labels"], json!({"app":"sandfly"}));
    assert!(f.message.contains("selects app=sandfly-mcp-server"), "{}", f.message);
    assert_eq!(codes(&s), vec![C::NoEndpoints, C::SelectorMismatch]);
    // Another name, but a resembling label value under the selector's key.
    let mut v2 = fx::deployment(1, 1);
    v2["metadata"]["name"] = json!("sandfly-v2");
    v2["spec"]["template"]["metadata"]["labels"] = json!({"app":"sandfly-v2"});
    assert_eq!(check_selector_mismatch(&no_workload(vec![v2])).unwrap().evidence["workload"], "deployment/sandfly-v2");
    // Sharing only the key `app` with an unrelated value is not enough.
    let mut web = fx::deployment(1, 1);
    web["metadata"]["name"] = json!("web");
    web["spec"]["template"]["metadata"]["labels"] = json!({"app":"web"});
    assert!(check_selector_mismatch(&no_workload(vec![web])).is_none());
    // An unrelated workload (other name, no shared key) is not a candidate.
    let mut other = fx::deployment(1, 1);
    other["metadata"]["name"] = json!("web");
    other["spec"]["template"]["metadata"]["labels"] = json!({"tier":"web"});
    let s = no_workload(vec![other]);
    assert!(check_selector_mismatch(&s).is_none());
    assert_eq!(codes(&s), vec![C::NoEndpoints, C::WorkloadNotFound]);
}

#[test]
fn workload_not_found() {
    assert!(check_workload_not_found(&fx::healthy()).is_none());
    let f = check_workload_not_found(&no_workload(vec![])).unwrap();
    assert!(f.message.contains("app=sandfly-mcp-server"), "{}", f.message);
    // Resolved, then deleted.
    let mut s = fx::healthy();
    s.workload = None;
    assert_eq!(check_workload_not_found(&s).unwrap().evidence["workload"], "deployment/sandfly-mcp-server");
}

#[test]
fn port_mismatch_by_number_and_name() {
    assert!(check_port_mismatch(&fx::healthy()).is_none());
    let mut s = fx::healthy();
    s.target.service.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port = Some(IntOrString::Int(8080));
    let f = check_port_mismatch(&s).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains("targets port 8080, which no container declares (containers declare http:3000)"),
        "{}",
        f.message
    );
    s.target.service.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port =
        Some(IntOrString::String("web".into()));
    assert_eq!(check_port_mismatch(&s).unwrap().severity, Severity::Critical);
    s.target.service.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port =
        Some(IntOrString::String("http".into()));
    assert!(check_port_mismatch(&s).is_none());
    // Containers declaring no ports: a number cannot be judged.
    let mut d = fx::deployment(2, 2);
    d["spec"]["template"]["spec"]["containers"][0]["ports"] = json!(null);
    let mut s = with(d, vec![]);
    s.target.service.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port = Some(IntOrString::Int(8080));
    assert!(check_port_mismatch(&s).is_none());
}

#[test]
fn progress_deadline_and_rollout_rule() {
    assert!(check_progress_deadline(&fx::healthy()).is_none());
    let mut d = fx::deployment(2, 2);
    d["metadata"]["generation"] = json!(7);
    d["status"] = json!({"observedGeneration":7,"replicas":3,"updatedReplicas":1,"readyReplicas":2,"availableReplicas":2,
        "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},
        {"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet \"sandfly-mcp-server-d65b66699\" has timed out progressing."}]});
    let s = with(
        d.clone(),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", true, running(true))],
    );
    let f = check_progress_deadline(&s).unwrap();
    assert!(f.message.contains("has timed out progressing"), "{}", f.message);
    let dep: Deployment = serde_json::from_value(d).unwrap();
    assert_eq!(
        rollout_state(&dep),
        RolloutState::Failed("deployment \"sandfly-mcp-server\" exceeded its progress deadline".into())
    );
    assert!(!codes(&s).contains(&C::RolloutInProgress));
}

#[test]
fn rollout_in_progress_follows_kubectl() {
    assert!(check_rollout_in_progress(&fx::healthy()).is_none());
    // restart, mid: 4/4, replicas 3, updated 1, available 2.
    let mut d = fx::deployment(2, 2);
    d["metadata"]["generation"] = json!(4);
    d["status"] = json!({"observedGeneration":4,"replicas":3,"updatedReplicas":1,"readyReplicas":2,"availableReplicas":2,
        "conditions":[{"type":"Progressing","status":"True","reason":"ReplicaSetUpdated"}]});
    let s = with(
        d.clone(),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", true, running(true))],
    );
    let f = check_rollout_in_progress(&s).unwrap();
    assert!(f.message.contains("1 out of 2 new replicas have been updated"), "{}", f.message);
    assert!(codes(&s).contains(&C::RolloutInProgress));
    // Spec change not yet observed.
    d["metadata"]["generation"] = json!(5);
    let dep: Deployment = serde_json::from_value(d.clone()).unwrap();
    assert_eq!(
        rollout_state(&dep),
        RolloutState::InProgress {
            stage: RolloutStage::Observe,
            message: "Waiting for deployment spec update to be observed...".into()
        }
    );
    // Old replicas pending termination, then availability.
    d["metadata"]["generation"] = json!(4);
    d["status"]["updatedReplicas"] = json!(2);
    let dep: Deployment = serde_json::from_value(d.clone()).unwrap();
    assert!(
        matches!(rollout_state(&dep), RolloutState::InProgress { stage: RolloutStage::OldReplicas, message: m } if m.contains("1 old replicas are pending termination"))
    );
    d["status"]["replicas"] = json!(2);
    d["status"]["availableReplicas"] = json!(1);
    let s = with(
        d.clone(),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Pending", false, running(false))],
    );
    let f = check_rollout_in_progress(&s).unwrap();
    assert!(
        f.message.starts_with("deployment/sandfly-mcp-server is waiting for its pods to become available"),
        "{}",
        f.message
    );
    assert_eq!(f.evidence["stage"], "availability");
    let dep: Deployment = serde_json::from_value(d).unwrap();
    assert!(
        matches!(rollout_state(&dep), RolloutState::InProgress { stage: RolloutStage::Availability, message: m } if m.contains("1 of 2 updated replicas are available"))
    );
}

#[test]
fn paused_and_autoscalers() {
    assert!(check_paused(&fx::healthy()).is_none());
    assert!(check_replicas_managed_externally(&fx::healthy()).is_none());
    let mut d = fx::deployment(2, 2);
    d["spec"]["paused"] = json!(true);
    let mut s =
        with(d, vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", true, running(true))]);
    assert_eq!(check_paused(&s).unwrap().code, C::Paused);
    s.hpas.push(
        serde_json::from_value(json!({"metadata":{"name":"sandfly-hpa"},"spec":{"maxReplicas":5,"minReplicas":1,
        "scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":NAME}}}))
        .unwrap(),
    );
    let f = check_replicas_managed_externally(&s).unwrap();
    assert!(f.message.contains("HorizontalPodAutoscaler sandfly-hpa"), "{}", f.message);
    // An HPA for another workload is not applicable; a KEDA ScaledObject is.
    let mut s = fx::healthy();
    s.hpas.push(
        serde_json::from_value(json!({"metadata":{"name":"x"},"spec":{"maxReplicas":5,
        "scaleTargetRef":{"kind":"Deployment","name":"other"}}}))
        .unwrap(),
    );
    assert!(check_replicas_managed_externally(&s).is_none());
    s.scaled_objects.push(
        serde_json::from_value(
            json!({"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"sandfly-so"},
        "spec":{"scaleTargetRef":{"name":NAME},"minReplicaCount":0}}),
        )
        .unwrap(),
    );
    assert_eq!(check_replicas_managed_externally(&s).unwrap().evidence["autoscalers"][0]["name"], "sandfly-so");
    // Context only: still healthy.
    assert_eq!(codes(&s), vec![C::Healthy, C::ReplicasManagedExternally]);
}

#[test]
fn log_errors() {
    assert!(check_log_errors(&fx::healthy()).is_none());
    let mut s = fx::healthy();
    s.logs.push(ContainerLog {
        pod: "p".into(),
        container: "server".into(),
        previous: false,
        lines: vec!["FATAL boom".into()],
    });
    let f = check_log_errors(&s).unwrap();
    assert!(f.message.contains("\"FATAL boom\""), "{}", f.message);
    assert!(!codes(&s).contains(&C::Healthy));
}

#[test]
fn findings_sort_by_severity_then_code() {
    let mut s = with(fx::deployment(2, 0), vec![crashloop_pod("aaaaa", "OOMKilled", 137)]);
    s.logs.push(ContainerLog {
        pod: "p".into(),
        container: "server".into(),
        previous: true,
        lines: vec!["Error".into()],
    });
    let f = check_all(&s);
    let sev: Vec<Severity> = f.iter().map(|f| f.severity).collect();
    let mut sorted = sev.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sev, sorted);
    assert_eq!(
        f.iter().map(|f| f.code).collect::<Vec<_>>(),
        vec![C::CrashLoopBackOff, C::OomKilled, C::NoEndpoints, C::PodsMissing, C::LogErrors]
    );
}

fn statefulset(replicas: i32, status: serde_json::Value) -> Snapshot {
    let mut s = with(fx::deployment(replicas, 0), vec![]);
    let sts = json!({"metadata":{"name":"sandfly-db","namespace":NS,"generation":1},
        "spec":{"replicas":replicas,"serviceName":"sandfly-db","selector":{"matchLabels":{"app":NAME}},
            "template":{"metadata":{"labels":{"app":NAME}},"spec":{"containers":[{"name":"db","image":"postgres",
                "ports":[{"containerPort":3000,"name":"http"}]}]}}},
        "status":status});
    s.workload = Some(Workload::StatefulSet(Box::new(serde_json::from_value(sts).unwrap())));
    s.target.workload = Some(crate::resolve::WorkloadRef {
        kind: crate::resolve::WorkloadKind::StatefulSet,
        name: "sandfly-db".into(),
    });
    s
}

#[test]
fn statefulsets_scale_to_zero_and_roll() {
    let s = statefulset(0, json!({"replicas":0,"observedGeneration":1}));
    let f = check_scaled_to_zero(&s).unwrap();
    assert!(f.message.starts_with("statefulset/sandfly-db is scaled to 0"), "{}", f.message);
    let s = statefulset(
        2,
        json!({"replicas":2,"readyReplicas":2,"updatedReplicas":1,"observedGeneration":1,
            "currentRevision":"sandfly-db-1","updateRevision":"sandfly-db-2"}),
    );
    let f = check_rollout_in_progress(&s).unwrap();
    assert!(f.message.contains("statefulset \"sandfly-db\" rolling update"), "{}", f.message);
    let done = statefulset(
        2,
        json!({"replicas":2,"readyReplicas":2,"updatedReplicas":2,"observedGeneration":1,
            "currentRevision":"sandfly-db-2","updateRevision":"sandfly-db-2"}),
    );
    assert!(check_rollout_in_progress(&done).is_none());
    assert!(check_paused(&done).is_none(), "a StatefulSet cannot be paused");
}

#[test]
fn names_resemble_by_containment_or_a_shared_first_word() {
    // Containment alone (first words too short or different).
    assert!(resembles("my-web", "web") && resembles("web", "my-web"));
    assert!(resembles("sandfly-v2", "sandfly-mcp-server"));
    assert!(!resembles("web", "api") && !resembles("", "web") && !resembles("ab-x", "ab-y"));
}
