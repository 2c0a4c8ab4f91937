//! The decision table (DESIGN §2.3), its precedence, and the remembered replica count.

use serde_json::json;

use super::*;
use crate::diagnose::fixtures::{self as fx, NAME, RS, event, pod, running, with};
use crate::diagnose::{Snapshot, check_all};
use crate::events::Finding;

fn diag(s: Snapshot) -> Diagnosis {
    Diagnosis { findings: check_all(&s), snapshot: s }
}

fn decide_default(s: Snapshot) -> Decision {
    decide(&diag(s), &Policy::default())
}

fn ready_pods() -> Vec<k8s_openapi::api::core::v1::Pod> {
    vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", true, running(true))]
}

fn crashloop(suffix: &str, last_reason: &str) -> k8s_openapi::api::core::v1::Pod {
    fx::crashloop_pod(suffix, last_reason, 137, 3)
}

fn scaled_to_zero() -> Snapshot {
    with(fx::deployment(0, 0), vec![])
}

fn annotate(s: &mut Snapshot, key: &str, value: &str) {
    if let Some(Workload::Deployment(d)) = &mut s.workload {
        d.metadata.annotations.get_or_insert_with(Default::default).insert(key.into(), value.into());
    }
}

fn scaling(msg: &str, ts: &str) -> k8s_openapi::api::core::v1::Event {
    event("Deployment", NAME, "Normal", "ScalingReplicaSet", msg, ts)
}

fn rs_with_desired(name: &str, revision: &str, desired: &str) -> k8s_openapi::api::apps::v1::ReplicaSet {
    serde_json::from_value(json!({"metadata":{"name":name,"annotations":{
        "deployment.kubernetes.io/revision":revision,"deployment.kubernetes.io/desired-replicas":desired,
        "deployment.kubernetes.io/max-replicas":desired},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":NAME,"uid":"d","controller":true}]},
        "spec":{"selector":{"matchLabels":{"app":NAME}}}}))
    .unwrap()
}

/// (count, source) of [`remembered_replicas`].
fn remembered(s: &Snapshot) -> (i32, ReplicaSource) {
    let r = remembered_replicas(s);
    (r.count, r.kind)
}

#[test]
fn remembered_from_annotation_first() {
    let mut s = scaled_to_zero();
    annotate(&mut s, LAST_REPLICAS_ANNOTATION, "3");
    s.workload_events.push(scaling(&format!("Scaled down replica set {RS} from 2 to 0"), "2026-11-28T10:00:00Z"));
    assert_eq!(remembered(&s), (3, ReplicaSource::Annotation));
    // A zero or garbage annotation falls through.
    annotate(&mut s, LAST_REPLICAS_ANNOTATION, "0");
    assert_eq!(remembered(&s), (2, ReplicaSource::ScalingEvent));
    annotate(&mut s, LAST_REPLICAS_ANNOTATION, "many");
    assert_eq!(remembered(&s), (2, ReplicaSource::ScalingEvent));
}

#[test]
fn remembered_from_the_latest_scale_down_event() {
    let mut s = scaled_to_zero();
    s.workload_events = vec![
        scaling(&format!("Scaled up replica set {RS} from 0 to 2"), "2026-11-28T09:00:00Z"),
        scaling(&format!("Scaled down replica set {RS} from 5 to 0"), "2026-11-28T09:10:00Z"),
        scaling(&format!("Scaled up replica set {RS} from 0 to 4"), "2026-11-28T09:20:00Z"),
        scaling(&format!("Scaled down replica set {RS} from 4 to 0"), "2026-11-28T09:30:00Z"),
    ];
    assert_eq!(remembered(&s), (4, ReplicaSource::ScalingEvent));
    // Scaled to 0 mid-rollout: both ReplicaSets, in the same instant.
    s.workload_events.push(scaling("Scaled down replica set a-1 from 1 to 0", "2026-11-28T10:00:00Z"));
    s.workload_events.push(scaling(
        "(combined from similar events): Scaled down replica set a-2 from 2 to 0",
        "2026-11-28T10:00:01Z",
    ));
    assert_eq!(remembered(&s), (3, ReplicaSource::ScalingEvent));
    assert_eq!(parse_scaled_down_to_zero("Scaled down replica set x from 2 to 0"), Some(2));
    assert_eq!(
        parse_scaled_down_to_zero("(combined from similar events): Scaled down replica set x from 5 to 0"),
        Some(5)
    );
    assert_eq!(parse_scaled_down_to_zero("Scaled down replica set x from 2 to 1"), None);
    assert_eq!(parse_scaled_down_to_zero("Scaled up replica set x from 0 to 2"), None);
}

/// The defect of issue 8: a rollout ends (its old ReplicaSet "from 1 to 0"), then automation
/// scales 3 → 0 a second later. Only the step that took the workload to 0 counts: 3, not 4.
#[test]
fn a_rollouts_last_scale_down_just_before_the_scale_to_0_is_not_counted() {
    let mut s = scaled_to_zero();
    s.workload_events = vec![
        scaling("Scaled up replica set web-new from 0 to 1", "2026-11-28T10:00:00Z"),
        scaling("Scaled down replica set web-old from 3 to 2", "2026-11-28T10:00:00Z"),
        scaling("Scaled up replica set web-new from 1 to 3", "2026-11-28T10:00:01Z"),
        scaling("Scaled down replica set web-old from 1 to 0", "2026-11-28T10:00:02Z"),
        scaling("Scaled down replica set web-new from 3 to 0", "2026-11-28T10:00:03Z"),
    ];
    // The old ReplicaSet was retired while the Deployment wanted 3; the new one went to 0
    // because the Deployment did.
    s.replica_sets = vec![rs_with_desired("web-old", "1", "3"), rs_with_desired("web-new", "2", "0")];
    let r = remembered_replicas(&s);
    assert_eq!((r.count, r.kind, r.exact), (3, ReplicaSource::ScalingEvent, true), "{r:?}");
    assert!(r.basis.contains("web-new was scaled down from 3 to 0"), "{}", r.basis);
    assert!(r.basis.contains("not counted: web-old (1)"), "{}", r.basis);
    // The same within one second (Event times have whole seconds).
    for e in &mut s.workload_events {
        e.last_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time("2026-11-28T10:00:03Z".parse().unwrap()));
    }
    assert_eq!(remembered(&s), (3, ReplicaSource::ScalingEvent));
    let d = decide_default(s);
    assert!(matches!(&d, Decision::Scale { to: 3, exact: true, .. }), "{d:?}");
    assert_eq!(d.detail()["exact"], true);
    assert!(d.reason().contains("the count before the scale-down to 0") && !d.reason().contains("not certain"));
}

/// Scaled to 0 mid-rollout: both ReplicaSets went to 0 in that one step, and both count.
#[test]
fn replica_sets_scaled_to_0_in_one_step_are_summed_exactly() {
    let mut s = scaled_to_zero();
    s.workload_events = vec![
        scaling("Scaled up replica set web-new from 0 to 1", "2026-11-28T09:59:00Z"),
        scaling("Scaled down replica set web-old from 2 to 0", "2026-11-28T10:00:00Z"),
        scaling("Scaled down replica set web-new from 1 to 0", "2026-11-28T10:00:00Z"),
    ];
    s.replica_sets = vec![rs_with_desired("web-old", "1", "0"), rs_with_desired("web-new", "2", "0")];
    let r = remembered_replicas(&s);
    assert_eq!((r.count, r.exact), (3, true), "{r:?}");
    assert!(r.basis.contains("web-new (1), web-old (2) went to 0 in the step"), "{}", r.basis);
}

/// Without the ReplicaSets (deleted, or no access), near-simultaneous scale-downs are summed
/// and the plan says it is not certain, and why.
#[test]
fn unknown_replica_sets_make_the_count_inexact_and_the_plan_says_so() {
    let mut s = scaled_to_zero();
    s.workload_events = vec![
        scaling("Scaled down replica set web-old from 1 to 0", "2026-11-28T10:00:02Z"),
        scaling("Scaled down replica set web-new from 3 to 0", "2026-11-28T10:00:03Z"),
    ];
    let r = remembered_replicas(&s);
    assert_eq!((r.count, r.exact), (4, false), "{r:?}");
    assert!(r.basis.contains("whether in one step is not known"), "{}", r.basis);
    let d = decide_default(s);
    assert_eq!(d.detail()["exact"], false);
    assert!(d.detail()["basis"].as_str().unwrap().contains("summed"), "{}", d.detail());
    assert!(d.reason().contains("not certain: replica sets"), "{}", d.reason());
    // A single scale-down with its ReplicaSet at desired 0 is exact.
    let mut one = scaled_to_zero();
    one.workload_events = vec![scaling("Scaled down replica set web-new from 3 to 0", "2026-11-28T10:00:03Z")];
    one.replica_sets = vec![rs_with_desired("web-new", "2", "0")];
    assert!(remembered_replicas(&one).exact);
}

#[test]
fn sources_other_than_the_scaling_step_say_how_sure_they_are() {
    let mut s = scaled_to_zero();
    let r = remembered_replicas(&s);
    assert_eq!((r.count, r.exact), (1, false));
    assert!(r.basis.contains("1 is the safe minimum"), "{}", r.basis);
    annotate(&mut s, LAST_APPLIED_ANNOTATION, r#"{"spec":{"replicas":5}}"#);
    let r = remembered_replicas(&s);
    assert_eq!((r.count, r.kind, r.exact), (5, ReplicaSource::LastApplied, false));
    assert!(r.basis.contains("may have been scaled since"), "{}", r.basis);
    annotate(&mut s, LAST_REPLICAS_ANNOTATION, "2");
    let r = remembered_replicas(&s);
    assert_eq!((r.count, r.kind, r.exact), (2, ReplicaSource::Annotation, true));
}

/// One ReplicaSet reported twice within one step: its newest report is the count.
#[test]
fn the_newest_report_of_one_replica_set_wins() {
    let mut s = scaled_to_zero();
    s.workload_events = vec![
        scaling(&format!("Scaled down replica set {RS} from 2 to 0"), "2026-11-28T10:00:00Z"),
        scaling(&format!("Scaled down replica set {RS} from 3 to 0"), "2026-11-28T10:00:01Z"),
    ];
    assert_eq!(remembered(&s), (3, ReplicaSource::ScalingEvent));
    s.workload_events.reverse();
    assert_eq!(remembered(&s), (3, ReplicaSource::ScalingEvent));
}

#[test]
fn remembered_from_last_applied_then_default() {
    let mut s = scaled_to_zero();
    annotate(&mut s, LAST_APPLIED_ANNOTATION, r#"{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":3}}"#);
    assert_eq!(remembered(&s), (3, ReplicaSource::LastApplied));
    let mut s = scaled_to_zero();
    annotate(&mut s, LAST_APPLIED_ANNOTATION, "not json");
    assert_eq!(remembered(&s), (1, ReplicaSource::Default));
}

#[test]
fn desired_replicas_annotation_is_never_used() {
    // A real API server rewrites desired-replicas to "0" on scale-down; an old RS keeps "3".
    let mut s = scaled_to_zero();
    s.replica_sets = vec![rs_with_desired(RS, "2", "0"), rs_with_desired("old", "1", "3")];
    assert_eq!(remembered(&s), (1, ReplicaSource::Default));
    let d = decide_default(s);
    assert!(matches!(d, Decision::Scale { to: 1, source: ReplicaSource::Default, exact: false, .. }), "{d:?}");
}

#[test]
fn healthy_is_healthy() {
    let d = diag(fx::healthy());
    assert_eq!(decide(&d, &Policy::default()), Decision::Healthy);
    assert_eq!(decide(&d, &Policy::default()).action_kind(), ActionKind::None);
    assert!(diagnosis_sentence(&d).contains("2 ready endpoints"), "{}", diagnosis_sentence(&d));
}

#[test]
fn scaled_to_zero_scales_unless_an_autoscaler_owns_it() {
    let mut s = scaled_to_zero();
    s.workload_events.push(scaling(&format!("Scaled down replica set {RS} from 2 to 0"), "2026-11-28T10:00:00Z"));
    let d = decide_default(s.clone());
    assert!(matches!(d, Decision::Scale { to: 2, source: ReplicaSource::ScalingEvent, .. }), "{d:?}");
    assert_eq!(d.detail()["replicas"], 2);
    assert_eq!(d.detail()["source"], "scaling_event");
    s.hpas.push(
        serde_json::from_value(json!({"metadata":{"name":"hpa"},"spec":{"maxReplicas":4,
        "scaleTargetRef":{"kind":"Deployment","name":NAME}}}))
        .unwrap(),
    );
    let d = decide_default(s);
    assert!(matches!(&d, Decision::Refuse { reason } if reason.contains("HorizontalPodAutoscaler hpa")), "{d:?}");
}

#[test]
fn paused_refuses_but_scaled_to_zero_beats_it() {
    let mut dep = fx::deployment(2, 1);
    dep["spec"]["paused"] = json!(true);
    let s = with(
        dep.clone(),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", false, running(false))],
    );
    let d = decide_default(s);
    assert!(
        matches!(&d, Decision::Refuse { reason } if reason.contains("rollout resume deployment/sandfly-mcp-server")),
        "{d:?}"
    );
    let mut zero = fx::deployment(0, 0);
    zero["spec"]["paused"] = json!(true);
    assert!(matches!(decide_default(with(zero, vec![])), Decision::Scale { .. }));
}

#[test]
fn pods_missing_waits() {
    let s = with(fx::deployment(2, 1), vec![pod("aaaaa", "Running", true, running(true))]);
    assert_eq!(decide_default(s), Decision::WaitForPods);
}

#[test]
fn crash_loop_and_not_ready_restart() {
    let s = with(fx::deployment(2, 0), vec![crashloop("aaaaa", "Error"), crashloop("bbbbb", "Error")]);
    let d = decide_default(s);
    assert!(matches!(&d, Decision::Restart { reason } if reason.contains("CrashLoopBackOff")), "{d:?}");
    assert_eq!(d.action_kind(), ActionKind::Restart);
    let s = with(
        fx::deployment(2, 1),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", false, running(false))],
    );
    assert!(matches!(decide_default(s), Decision::Restart { .. }));
}

#[test]
fn oom_beats_crash_loop_and_names_limit_and_command() {
    let mut p = crashloop("aaaaa", "OOMKilled");
    p.spec.as_mut().unwrap().containers[0].resources =
        Some(serde_json::from_value(json!({"limits":{"memory":"256Mi"}})).unwrap());
    let s = with(fx::deployment(1, 0), vec![p]);
    let Decision::Manual { recommendation, .. } = decide_default(s) else { panic!("manual expected") };
    assert!(
        recommendation.contains(
            "kubectl -n cortex-system set resources deployment/sandfly-mcp-server -c server --limits=memory=512Mi"
        ),
        "{recommendation}"
    );
    assert!(recommendation.contains("256Mi"));
}

fn image_pull_snapshot() -> Snapshot {
    let mut bad = pod(
        "ccccc",
        "Pending",
        false,
        fx::waiting("ImagePullBackOff", "Back-off pulling image \"invalid-image:latest\"", 0, None),
    );
    bad.spec.as_mut().unwrap().containers[0].image = Some("invalid-image:latest".into());
    let mut dep = fx::deployment(2, 2);
    dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("4");
    let mut pods = ready_pods();
    pods.push(bad);
    pods.push(crashloop("ddddd", "Error"));
    with(dep, pods)
}

#[test]
fn image_pull_is_manual_and_rollback_only_when_allowed() {
    let mut s = image_pull_snapshot();
    // No older revision: manual even with --allow rollback.
    let d = decide(&diag(s.clone()), &Policy { allow_rollback: true });
    let Decision::Manual { recommendation, reason } = &d else { panic!("{d:?}") };
    assert!(reason.contains("invalid-image:latest"), "{reason}");
    assert!(recommendation.contains("set image deployment/sandfly-mcp-server server="), "{recommendation}");
    s.replica_sets = vec![rs_with_desired(RS, "4", "2"), rs_with_desired("old", "3", "0")];
    let d = decide(&diag(s.clone()), &Policy::default());
    let Decision::Manual { recommendation, .. } = &d else { panic!("{d:?}") };
    assert!(
        recommendation.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"),
        "{recommendation}"
    );
    let d = decide(&diag(s), &Policy { allow_rollback: true });
    assert!(matches!(d, Decision::Rollback { .. }), "{d:?}");
    assert_eq!(d.action_kind(), ActionKind::Rollback);
}

#[test]
fn config_error_names_the_create_command() {
    let p = pod(
        "aaaaa",
        "Pending",
        false,
        fx::waiting("CreateContainerConfigError", "secret \"sandfly-creds\" not found", 0, None),
    );
    let s = with(fx::deployment(1, 0), vec![p, crashloop("bbbbb", "Error")]);
    let Decision::Manual { recommendation, .. } = decide_default(s) else { panic!("manual expected") };
    assert!(
        recommendation.contains("kubectl -n cortex-system create secret generic sandfly-creds --from-literal="),
        "{recommendation}"
    );
    let p = pod(
        "aaaaa",
        "Pending",
        false,
        fx::waiting("CreateContainerConfigError", "configmap \"cfg\" not found", 0, None),
    );
    let Decision::Manual { recommendation, .. } = decide_default(with(fx::deployment(1, 0), vec![p])) else { panic!() };
    assert!(recommendation.contains("kubectl -n cortex-system create configmap cfg"), "{recommendation}");
}

#[test]
fn unschedulable_quotes_message_and_node_selector() {
    let msg = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.";
    let p: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata":{"name":"p","labels":{"app":NAME}},
        "spec":{"nodeSelector":{"disktype":"ssd"},"containers":[{"name":"server","image":"nginx"}]},
        "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":msg}]}}))
    .unwrap();
    let Decision::Manual { recommendation, .. } = decide_default(with(fx::deployment(1, 0), vec![p])) else { panic!() };
    assert!(recommendation.contains("disktype=ssd") && recommendation.contains(msg), "{recommendation}");
}

#[test]
fn selector_mismatch_gives_a_patch_with_both_label_sets() {
    let mut s = with(fx::deployment(1, 1), vec![]);
    s.workload = None;
    s.target.workload = None;
    let mut d = fx::deployment(1, 1);
    d["spec"]["template"]["metadata"]["labels"] = json!({"app":"sandfly"});
    d["spec"]["selector"]["matchLabels"] = json!({"app":"sandfly"});
    s.candidates = vec![Workload::Deployment(Box::new(serde_json::from_value(d).unwrap()))];
    s.endpoints = Some(fx::endpoints(&[], &[]));
    let Decision::Manual { recommendation, reason } = decide_default(s) else { panic!() };
    assert!(reason.contains("app=sandfly-mcp-server") && reason.contains("app=sandfly"), "{reason}");
    assert!(
        recommendation.contains(
            r#"kubectl -n cortex-system patch service/sandfly-mcp-server -p '{"spec":{"selector":{"app":"sandfly"}}}'"#
        ),
        "{recommendation}"
    );
}

#[test]
fn workload_not_found_is_manual() {
    let mut s = fx::healthy();
    s.workload = None;
    let d = decide_default(s);
    assert!(
        matches!(&d, Decision::Manual { recommendation, .. } if recommendation.contains("get deployments,statefulsets")),
        "{d:?}"
    );
    assert_eq!(d.action_kind(), ActionKind::Manual);
    // The result line's `recommendation` is the decision's, word for word; only Manual has one.
    let Decision::Manual { recommendation, .. } = &d else { unreachable!() };
    assert_eq!(d.recommendation(), Some(recommendation.as_str()));
    assert_eq!(decide_default(fx::healthy()).recommendation(), None);
}

#[test]
fn rollout_in_progress_waits_and_never_restarts() {
    let mut dep = fx::deployment(2, 2);
    dep["metadata"]["generation"] = json!(4);
    dep["status"] =
        json!({"observedGeneration":4,"replicas":3,"updatedReplicas":1,"readyReplicas":2,"availableReplicas":2});
    let mut pods = ready_pods();
    pods.push(pod("ccccc", "Pending", false, fx::waiting("ContainerCreating", "", 0, None)));
    assert_eq!(decide_default(with(dep, pods)), Decision::WaitForRollout);
}

#[test]
fn progress_deadline_without_pod_cause_is_manual_undo() {
    let mut dep = fx::deployment(2, 2);
    dep["status"]["conditions"][1] = json!({"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded",
        "message":"ReplicaSet \"x\" has timed out progressing."});
    dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("2");
    let mut s = with(dep, ready_pods());
    s.replica_sets = vec![rs_with_desired(RS, "2", "2"), rs_with_desired("old", "1", "0")];
    let Decision::Manual { recommendation, .. } = decide_default(s) else { panic!() };
    assert!(recommendation.contains("rollout undo deployment/sandfly-mcp-server"), "{recommendation}");
    assert_eq!(recommendation.matches("rollout undo").count(), 1, "{recommendation}");
}

#[test]
fn unreachable_with_ready_pods_restarts() {
    let mut d = diag(fx::healthy());
    d.findings.push(Finding {
        code: FindingCode::Unreachable,
        severity: Severity::Critical,
        message: "http://sandfly-mcp-server:3000/mcp refused the connection.".into(),
        evidence: json!({}),
    });
    assert!(matches!(decide(&d, &Policy::default()), Decision::Restart { .. }));
    // No ready pod to restart into: a restart proves nothing, a human looks.
    d.snapshot.pods.clear();
    assert!(matches!(decide(&d, &Policy::default()), Decision::Manual { .. }), "{:?}", decide(&d, &Policy::default()));
}

/// No endpoints: only a pending pod that is not being deleted is one to wait for; otherwise a
/// human is told where to look.
#[test]
fn no_endpoints_waits_only_for_pods_that_are_starting() {
    let no_endpoints = |pods: Vec<k8s_openapi::api::core::v1::Pod>| {
        let mut d = diag(with(fx::deployment(1, 0), vec![]));
        d.snapshot.pods = pods;
        d.findings = vec![Finding {
            code: FindingCode::NoEndpoints,
            severity: Severity::Critical,
            message: "Service sandfly-mcp-server has no ready endpoints.".into(),
            evidence: json!({}),
        }];
        decide(&d, &Policy::default())
    };
    let starting = || pod("aaaaa", "Pending", false, fx::waiting("ContainerCreating", "", 0, None));
    assert_eq!(no_endpoints(vec![starting()]), Decision::WaitForPods);
    let mut leaving = starting();
    leaving.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time("2026-11-28T10:00:00Z".parse().unwrap()));
    for pods in [vec![leaving], vec![pod("bbbbb", "Running", false, fx::waiting("ContainerCreating", "", 0, None))]] {
        let d = no_endpoints(pods);
        assert!(
            matches!(&d, Decision::Manual { recommendation, .. } if recommendation.contains("describe endpoints")),
            "{d:?}"
        );
    }
}

#[test]
fn no_endpoints_with_starting_pods_waits() {
    let s =
        with(fx::deployment(1, 0), vec![pod("aaaaa", "Pending", false, fx::waiting("ContainerCreating", "", 0, None))]);
    assert_eq!(decide_default(s).action_kind(), ActionKind::Wait);
    // Pods starting while the Deployment's counters already say ready: still a wait.
    let s =
        with(fx::deployment(1, 1), vec![pod("aaaaa", "Pending", false, fx::waiting("ContainerCreating", "", 0, None))]);
    assert_eq!(decide_default(s), Decision::WaitForPods);
}

#[test]
fn new_pods_not_ready_mid_rollout_wait_instead_of_restart() {
    let mut dep = fx::deployment(2, 2);
    dep["status"] =
        json!({"observedGeneration":1,"replicas":3,"updatedReplicas":1,"readyReplicas":2,"availableReplicas":2});
    let mut pods = ready_pods();
    pods.push(pod("ccccc", "Running", false, running(false)));
    let d = diag(with(dep, pods));
    assert!(d.findings.iter().any(|f| f.code == FindingCode::NotReady));
    assert_eq!(decide(&d, &Policy::default()), Decision::WaitForRollout);
}

#[test]
fn doubles_quantities() {
    assert_eq!(double_quantity("256Mi").as_deref(), Some("512Mi"));
    assert_eq!(double_quantity("1.5Gi").as_deref(), Some("3Gi"));
    assert_eq!(double_quantity("134217728").as_deref(), Some("268435456"));
    assert_eq!(double_quantity("1e3"), None);
    assert_eq!(double_quantity("Mi"), None);
}

#[test]
fn sentence_is_the_top_finding_plus_others() {
    let d = diag(with(fx::deployment(2, 0), vec![crashloop("aaaaa", "Error"), crashloop("bbbbb", "Error")]));
    let s = diagnosis_sentence(&d);
    assert!(s.starts_with("Container server of 2 pods is in CrashLoopBackOff"), "{s}");
    assert!(s.ends_with("(also: NoEndpoints)."), "{s}");
    assert!(!s.contains('\n'));
}

#[test]
fn service_not_found_is_manual() {
    let (f, d) = service_not_found("cortex-system", "nope");
    assert_eq!((f.code, f.severity), (FindingCode::ServiceNotFound, Severity::Critical));
    assert!(
        matches!(&d, Decision::Manual { recommendation, .. } if recommendation.contains("kubectl -n cortex-system get services"))
    );
}

#[test]
fn records_non_zero_counts_once() {
    let mut s = fx::healthy();
    assert_eq!(replicas_to_record(&s), Some(2));
    annotate(&mut s, LAST_REPLICAS_ANNOTATION, "2");
    assert_eq!(replicas_to_record(&s), None);
    assert_eq!(replicas_to_record(&scaled_to_zero()), None);
}

#[test]
fn sentence_leads_with_the_cause_not_the_symptom() {
    let d = diag(with(fx::deployment(1, 0), vec![crashloop("aaaaa", "OOMKilled")]));
    assert_eq!(d.findings[0].code, FindingCode::CrashLoopBackOff, "sorted by severity then code");
    assert_eq!(primary_finding(&d).map(|f| f.code), Some(FindingCode::OomKilled));
    let s = diagnosis_sentence(&d);
    assert!(s.starts_with("Container server was OOMKilled"), "{s}");
    assert!(s.contains("CrashLoopBackOff"), "{s}");
}

#[test]
fn precedence_lists_every_code_once() {
    use std::collections::BTreeSet;
    let set: BTreeSet<_> = PRECEDENCE.iter().collect();
    assert_eq!(set.len(), PRECEDENCE.len());
    assert_eq!(PRECEDENCE.len(), 20, "a new FindingCode needs a place in PRECEDENCE");
}

#[test]
fn port_mismatch_patches_the_right_port() {
    let mut s = fx::healthy();
    let spec = s.target.service.spec.as_mut().unwrap();
    spec.ports
        .as_mut()
        .unwrap()
        .insert(0, serde_json::from_value(json!({"name":"metrics","port":9090,"targetPort":3000})).unwrap());
    spec.ports.as_mut().unwrap()[1].target_port =
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("web".into()));
    let Decision::Manual { recommendation, .. } = decide_default(s) else { panic!("manual expected") };
    assert!(recommendation.contains(r#""path":"/spec/ports/1/targetPort","value":3000"#), "{recommendation}");
}

#[test]
fn image_pull_on_an_older_revision_does_not_decide() {
    // Revision 1 could not pull; revision 2 pulled fine and crash-loops until restarted.
    let mut dep = fx::deployment(2, 0);
    dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("2");
    let mut stale =
        pod("aaaaa", "Pending", false, fx::waiting("ImagePullBackOff", "Back-off pulling image \"bad:1\"", 0, None));
    stale.metadata.owner_references.as_mut().unwrap()[0].name = "old-rs".into();
    let mut s = with(dep, vec![stale, crashloop("bbbbb", "Error")]);
    s.replica_sets = vec![rs_with_desired(RS, "2", "2"), rs_with_desired("old-rs", "1", "2")];
    let d = diag(s);
    let pull = d.findings.iter().find(|f| f.code == FindingCode::ImagePullBackOff).unwrap();
    assert_eq!(pull.severity, Severity::Warning);
    assert!(pull.message.ends_with("of an older revision."), "{}", pull.message);
    assert!(matches!(decide(&d, &Policy::default()), Decision::Restart { .. }));
    assert_eq!(primary_finding(&d).map(|f| f.code), Some(FindingCode::CrashLoopBackOff));
}

#[test]
fn recommendations_never_print_a_hostile_name_as_a_command() {
    // The API server does not format-check a volume's secretName.
    let hostile = "x;$(touch${IFS}pwned)";
    let ev = json!({"missing": [{"kind": "Secret", "name": hostile, "key": "k"}]});
    let rec = config_fix(&ev, "ns");
    assert!(!rec.contains("kubectl"), "no runnable command: {rec}");
    assert!(rec.contains("'x;$(touch${IFS}pwned)'") && rec.contains("not a valid Kubernetes name"), "{rec}");
    // A valid name with an odd key: the key is quoted, never bare.
    let ev = json!({"missing": [{"kind": "ConfigMap", "name": "cfg", "key": "a b;c"}]});
    let rec = config_fix(&ev, "ns");
    assert!(!rec.contains("kubectl") && rec.contains("'a b;c'"), "{rec}");
    let ev = json!({"missing": [{"kind": "Secret", "name": "creds", "key": "token"}]});
    assert_eq!(
        config_fix(&ev, "ns"),
        "Create Secret creds: kubectl -n ns create secret generic creds --from-literal=token=<value>"
    );
    // Label values with quotes cannot break out of the patch body.
    let ev = json!({"service_selector": {"app": "a"}, "workload_selector": {"app": "b'; touch pwned; '"},
        "workload": "deployment/web"});
    let rec = selector_patch("web", "ns", &ev);
    assert!(rec.contains(r#"-p '{"spec":{"selector":{"app":"b'\''; touch pwned; '\''"}}}'"#), "{rec}");
}
