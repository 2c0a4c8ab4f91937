//! resolve → diagnose → decide against kube-sim (in-process), driven through the API as an
//! operator would break things: what passes here must hold on a real cluster's shapes.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{Diagnosis, diagnose};
use crate::decide::{Decision, Policy, ReplicaSource, decide};
use crate::events::FindingCode;
use crate::resolve::{Overrides, WorkloadKind, resolve};
use kube_sim::{RunningSim, SimConfig, seed, start};

const NS: &str = "cortex-system";
const NAME: &str = "sandfly-mcp-server";

async fn sim() -> (RunningSim, kube::Client) {
    let listen = "127.0.0.1:0".parse().expect("address");
    let sim = start(SimConfig::default(), listen, seed::demo_objects()).await.expect("kube-sim starts");
    let kc = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).expect("kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.expect("config");
    let client = kube::Client::try_from(config).expect("client");
    (sim, client)
}

/// Diagnoses `service` until `done` holds, for at most 15 s.
async fn diagnose_until(client: &kube::Client, service: &str, done: impl Fn(&Diagnosis) -> bool) -> Diagnosis {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let target = resolve(client, NS, service, &Overrides::default()).await.expect("resolves");
        let d = diagnose(client, &target).await.expect("diagnoses");
        if done(&d) {
            return d;
        }
        let codes: Vec<FindingCode> = d.findings.iter().map(|f| f.code).collect();
        assert!(tokio::time::Instant::now() < deadline, "condition not reached; findings {codes:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has(d: &Diagnosis, code: FindingCode) -> bool {
    d.findings.iter().any(|f| f.code == code)
}

#[tokio::test]
async fn demo_is_healthy_then_scaled_to_zero_scales_back_to_two() {
    let (sim, client) = sim().await;
    let d = diagnose_until(&client, NAME, |d| has(d, FindingCode::Healthy)).await;
    assert_eq!(decide(&d, &Policy::default()), Decision::Healthy);

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    deployments
        .patch_scale(NAME, &PatchParams::default(), &Patch::Merge(json!({"spec":{"replicas":0}})))
        .await
        .expect("scale to 0");
    let d = diagnose_until(&client, NAME, |d| has(d, FindingCode::ScaledToZero) && d.snapshot.pods.is_empty()).await;
    // The ReplicaSet's desired-replicas is now 0; the controller's Event remembers 2.
    let decision = decide(&d, &Policy::default());
    assert!(
        matches!(decision, Decision::Scale { to: 2, source: ReplicaSource::ScalingEvent, exact: true, .. }),
        "{decision:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn alias_service_and_selector_mismatch() {
    let (sim, client) = sim().await;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let svc = |name: &str, app: &str| -> Service {
        serde_json::from_value(json!({"metadata":{"name":name,"namespace":NS},
            "spec":{"selector":{"app":app},"ports":[{"name":"http","port":80,"targetPort":3000}]}}))
        .expect("service")
    };
    services.create(&PostParams::default(), &svc("sandfly", NAME)).await.expect("alias created");
    services.create(&PostParams::default(), &svc("sandfly-mcp", "sandfly-mcp")).await.expect("typo created");

    let target = resolve(&client, NS, "sandfly", &Overrides::default()).await.expect("alias resolves");
    let wl = target.workload.expect("workload found");
    assert_eq!((wl.kind, wl.name.as_str()), (WorkloadKind::Deployment, NAME));

    let d = diagnose_until(&client, "sandfly-mcp", |d| has(d, FindingCode::SelectorMismatch)).await;
    let Decision::Manual { recommendation, .. } = decide(&d, &Policy::default()) else { panic!("manual expected") };
    assert!(recommendation.contains("patch service/sandfly-mcp"), "{recommendation}");
    sim.shutdown().await;
}

#[tokio::test]
async fn oom_kill_is_manual_with_the_doubled_limit() {
    let (sim, client) = sim().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"server",
        "env":[{"name":"SIM_OOM","value":"1"}],"resources":{"limits":{"memory":"64Mi"}}}]}}}});
    deployments.patch(NAME, &PatchParams::default(), &Patch::Strategic(patch)).await.expect("patched");
    let d = diagnose_until(&client, NAME, |d| has(d, FindingCode::OomKilled)).await;
    let Decision::Manual { recommendation, .. } = decide(&d, &Policy::default()) else { panic!("manual expected") };
    assert!(
        recommendation.contains("set resources deployment/sandfly-mcp-server -c server --limits=memory=128Mi"),
        "{recommendation}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_image_names_undo_and_rolls_back_only_when_allowed() {
    let (sim, client) = sim().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"server","image":"invalid-image:latest"}]}}}});
    deployments.patch(NAME, &PatchParams::default(), &Patch::Strategic(patch)).await.expect("patched");
    let d = diagnose_until(&client, NAME, |d| has(d, FindingCode::ImagePullBackOff)).await;
    let Decision::Manual { reason, recommendation } = decide(&d, &Policy::default()) else { panic!("manual expected") };
    assert!(reason.contains("\"invalid-image:latest\""), "{reason}");
    assert!(
        recommendation.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"),
        "{recommendation}"
    );
    assert!(matches!(decide(&d, &Policy { allow_rollback: true }), Decision::Rollback { .. }));
    sim.shutdown().await;
}

#[tokio::test]
async fn crash_loop_of_a_stalled_new_revision_names_undo() {
    let (sim, client) = sim().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"server","env":[{"name":"SIM_CRASH","value":"1"}]}]}}}});
    deployments.patch(NAME, &PatchParams::default(), &Patch::Strategic(patch)).await.expect("patched");
    let d = diagnose_until(&client, NAME, |d| has(d, FindingCode::CrashLoopBackOff)).await;
    // The old revision still serves: a restart would roll the same broken template again.
    let Decision::Manual { recommendation, .. } = decide(&d, &Policy::default()) else { panic!("manual expected") };
    assert!(recommendation.contains("rollout undo deployment/sandfly-mcp-server"), "{recommendation}");
    assert!(matches!(decide(&d, &Policy { allow_rollback: true }), Decision::Rollback { .. }));
    let crash = d.findings.iter().find(|f| f.code == FindingCode::CrashLoopBackOff).expect("finding");
    assert_eq!(crash.evidence["pods"][0]["last_exit_code"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn crash_loop_of_every_pod_restarts() {
    let (sim, client) = sim().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let scale = |n: i32| json!({"spec": {"replicas": n}});
    deployments.patch(NAME, &PatchParams::default(), &Patch::Merge(scale(0))).await.expect("scaled to 0");
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"server","env":[{"name":"SIM_CRASH","value":"1"}]}]}}}});
    deployments.patch(NAME, &PatchParams::default(), &Patch::Strategic(patch)).await.expect("patched");
    deployments.patch(NAME, &PatchParams::default(), &Patch::Merge(scale(2))).await.expect("scaled to 2");
    let d = diagnose_until(&client, NAME, |d| has(d, FindingCode::CrashLoopBackOff)).await;
    assert!(matches!(decide(&d, &Policy::default()), Decision::Restart { .. }), "{:?}", d.findings);
    sim.shutdown().await;
}
