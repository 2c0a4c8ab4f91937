//! The product's own client (kube 5 + k8s-openapi) against kube-sim: typed decoding, the
//! scale subresource, Status errors, deletes and both watcher list strategies.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::{RunningSim, SimConfig, seed, start};

async fn sim_and_client() -> (RunningSim, kube::Client) {
    let sim = start(SimConfig::default(), "127.0.0.1:0".parse().unwrap(), seed::demo_objects()).await.unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    (sim, client)
}

#[tokio::test]
async fn typed_get_list_scale_and_errors() {
    let (sim, client) = sim_and_client().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "cortex-system");
    let d = deploys.get("sandfly-mcp-server").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    let listed = deploys.list(&ListParams::default().labels("app=sandfly-mcp-server")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some());

    let pp = PatchParams::default();
    let scale =
        deploys.patch_scale("sandfly-mcp-server", &pp, &Patch::Merge(json!({"spec": {"replicas": 0}}))).await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, None, "0 is omitted on the wire");
    assert_eq!(
        deploys.get_scale("sandfly-mcp-server").await.unwrap().status.unwrap().selector.as_deref(),
        Some("app=sandfly-mcp-server")
    );

    let stale = Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}}));
    match deploys.patch_scale("sandfly-mcp-server", &pp, &stale).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
        other => panic!("expected a 409, got {other:?}"),
    }
    match deploys.get("nope").await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.message, "deployments.apps \"nope\" not found");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    let dry = PatchParams { dry_run: true, ..PatchParams::default() };
    let p = Patch::Strategic(json!({"spec": {"template": {"metadata": {"annotations": {"x": "y"}}}}}));
    let preview = deploys.patch("sandfly-mcp-server", &dry, &p).await.unwrap();
    assert_eq!(preview.metadata.generation, Some(3));
    assert_eq!(deploys.get("sandfly-mcp-server").await.unwrap().metadata.generation, Some(2));
    sim.shutdown().await;
}

#[tokio::test]
async fn deletes_answer_with_status_or_the_pod() {
    let (sim, client) = sim_and_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "cortex-system");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let gone = cms.delete("c", &DeleteParams::default()).await.unwrap();
    assert!(gone.is_right(), "a ConfigMap delete answers with a Status");

    let pods: Api<Pod> = Api::namespaced(client, "cortex-system");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"},
        "spec": {"nodeName": "sim-node-1", "containers": [{"name": "c", "image": "i:1"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let terminating = pods.delete("p", &DeleteParams::default()).await.unwrap();
    let p = terminating.left().expect("a bound pod delete answers with the pod");
    assert!(p.metadata.deletion_timestamp.is_some());
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(30));
    sim.shutdown().await;
}

#[tokio::test]
async fn watcher_sees_changes_with_both_list_strategies() {
    let (sim, client) = sim_and_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "cortex-system");
    for config in [watcher::Config::default(), watcher::Config::default().streaming_lists()] {
        let mut events = watcher(cms.clone(), config.fields("metadata.name=w")).boxed();
        // The initial list ends with InitDone.
        loop {
            match events.try_next().await.unwrap().unwrap() {
                watcher::Event::InitDone => break,
                watcher::Event::Init | watcher::Event::InitApply(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "w"}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), events.try_next()).await.unwrap();
        match next.unwrap().unwrap() {
            watcher::Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("w")),
            other => panic!("unexpected {other:?}"),
        }
        cms.delete("w", &DeleteParams::default()).await.unwrap();
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), events.try_next()).await.unwrap();
        assert!(matches!(next.unwrap().unwrap(), watcher::Event::Delete(_)));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn events_written_through_events_v1_show_in_core_v1() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event;
    let (sim, client) = sim_and_client().await;
    let new: Api<Event> = Api::namespaced(client.clone(), "cortex-system");
    let ev: Event = serde_json::from_value(json!({"metadata": {"name": "sandfly-mcp-server.1"},
        "regarding": {"kind": "Deployment", "name": "sandfly-mcp-server", "namespace": "cortex-system"},
        "reason": "Scaled", "note": "self-heal scaled to 2", "type": "Normal", "action": "Scale",
        "reportingController": "self-heal", "reportingInstance": "self-heal-1",
        "eventTime": "2026-11-28T01:00:00.000000Z"}))
    .unwrap();
    new.create(&PostParams::default(), &ev).await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(client, "cortex-system");
    let lp = ListParams::default().fields("involvedObject.kind=Deployment,involvedObject.name=sandfly-mcp-server");
    let listed = core.list(&lp).await.unwrap();
    // The deployment controller may have written its own events on the same Deployment.
    let ours = listed.items.iter().find(|e| e.reason.as_deref() == Some("Scaled")).expect("converted event listed");
    assert_eq!(ours.message.as_deref(), Some("self-heal scaled to 2"));
    assert_eq!(ours.reporting_component.as_deref(), Some("self-heal"));
    let got = core.get("sandfly-mcp-server.1").await.unwrap();
    assert_eq!(got.reason.as_deref(), Some("Scaled"));
    sim.shutdown().await;
}

#[tokio::test]
async fn patches_that_are_not_objects_are_refused_not_fatal() {
    let (sim, _client) = sim_and_client().await;
    let http = sim.http_client();
    let url = format!("{}/api/v1/namespaces/cortex-system/services/sandfly-mcp-server", sim.url);
    for body in ["\"x\"", "[1]", r#"{"metadata":"x"}"#, r#"{"spec":"x"}"#] {
        let r = http
            .patch(&url)
            .header("content-type", "application/merge-patch+json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{body}: connection dropped: {e}"));
        assert!(r.status().is_client_error() || r.status().is_success(), "{body}: {}", r.status());
    }
    let svc = http.get(&url).send().await.unwrap().json::<serde_json::Value>().await.unwrap();
    assert_eq!(svc["metadata"]["name"], "sandfly-mcp-server");
    sim.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_creates_then_merges() {
    let (sim, client) = sim_and_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "cortex-system");
    let pp = PatchParams::apply("self-heal").force();
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}});
    cms.patch("ssa", &pp, &Patch::Apply(&first)).await.unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"b": "2"}});
    let cm = cms.patch("ssa", &pp, &Patch::Apply(&second)).await.unwrap();
    let data = cm.data.unwrap();
    assert_eq!(data.get("b").map(String::as_str), Some("2"));
    let deploys: Api<Deployment> = Api::namespaced(client, "cortex-system");
    let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sandfly-mcp-server"},
        "spec": {"replicas": 5}});
    let d = deploys.patch("sandfly-mcp-server", &pp, &Patch::Apply(&scale)).await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(5));
    sim.shutdown().await;
}
