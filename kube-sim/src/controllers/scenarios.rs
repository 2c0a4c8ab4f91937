//! In-process scenarios: the controllers on a bare store (no API server), the seed's failures
//! driven by editing objects the way kubectl's patches would, observed through the store and
//! real sockets.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Controllers, start};
use crate::SimConfig;
use crate::resources::{DEPLOYMENTS, EVENTS, NAMESPACES, NODES, PODS, REPLICASETS, SERVICES};
use crate::store::Store;

const NS: &str = "cortex-system";
const APP: &str = "sandfly-mcp-server";

fn seed(store: &Store, env: Value) {
    store.create(&NAMESPACES, "", json!({"metadata": {"name": NS}}), false).unwrap();
    let node = json!({"metadata": {"name": "sim-node-1",
        "labels": {"kubernetes.io/hostname": "sim-node-1", "kubernetes.io/os": "linux"}}});
    store.create(&NODES, "", node, false).unwrap();
    let d = json!({
        "metadata": {"name": APP, "labels": {"app": APP}},
        "spec": {
            "replicas": 2, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": APP}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": APP}}, "spec": {"containers": [{
                "name": "server", "image": "sim/mcp-server:1.0", "env": env,
                "ports": [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]}]}},
        },
    });
    store.create(&DEPLOYMENTS, NS, d, false).unwrap();
    let svc = json!({"metadata": {"name": APP, "labels": {"app": APP}},
        "spec": {"selector": {"app": APP}, "ports": [{"name": "http", "port": 3000, "targetPort": 3000, "protocol": "TCP"}]}});
    store.create(&SERVICES, NS, svc, false).unwrap();
}

async fn cluster(env: Value) -> (Arc<Store>, Controllers) {
    let store = Arc::new(Store::new());
    seed(&store, env);
    let c = start(store.clone(), SimConfig::default());
    (store, c)
}

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eventually_async<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn deploy(store: &Store) -> Value {
    store.get(&DEPLOYMENTS, NS, APP).unwrap()
}

fn pods(store: &Store) -> Vec<Value> {
    store.list(&PODS, Some(NS)).0
}

fn url(store: &Store) -> String {
    store.get(&SERVICES, NS, APP).unwrap()["metadata"]["annotations"]["kube-sim.self-heal.dev/url"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn health(url: &str) -> Option<u16> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().ok()?;
    client.get(format!("{url}/health")).send().await.ok().map(|r| r.status().as_u16())
}

async fn refused(url: &str) -> bool {
    let u = url::Url::parse(url).unwrap();
    let addr = format!("127.0.0.1:{}", u.port().unwrap());
    matches!(tokio::net::TcpStream::connect(addr).await, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

fn rolled_out(d: &Value) -> bool {
    let s = &d["status"];
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    s["observedGeneration"].as_i64() >= d["metadata"]["generation"].as_i64()
        && s["updatedReplicas"].as_i64().unwrap_or(0) == want
        && s["replicas"].as_i64().unwrap_or(0) == want
        && s["availableReplicas"].as_i64().unwrap_or(0) == want
}

fn events(store: &Store, reason: &str) -> Vec<String> {
    let (evs, _) = store.list(&EVENTS, Some(NS));
    evs.iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn set_replicas(store: &Store, n: i64) {
    store
        .mutate(&DEPLOYMENTS, NS, APP, false, |d| {
            d["spec"]["replicas"] = json!(n);
            Ok(())
        })
        .unwrap();
}

fn patch_template(store: &Store, f: impl FnOnce(&mut Value)) {
    store
        .mutate(&DEPLOYMENTS, NS, APP, false, |d| {
            f(&mut d["spec"]["template"]);
            Ok(())
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_to_zero_refuses_and_scale_back_answers() {
    let (store, ctrl) = cluster(json!([])).await;
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    let d = deploy(&store);
    assert_eq!(d["status"]["conditions"][0]["reason"], "MinimumReplicasAvailable");
    assert_eq!(d["status"]["conditions"][1]["reason"], "NewReplicaSetAvailable");
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
    let url = url(&store);
    eventually_async("service answers", || async { health(&url).await == Some(200) }).await;
    let ips: Vec<String> = pods(&store).iter().map(|p| p["status"]["podIP"].as_str().unwrap().to_string()).collect();
    assert_ne!(ips[0], ips[1], "pods have distinct IPs");

    set_replicas(&store, 0);
    eventually_async("connection refused", || async { refused(&url).await }).await;
    eventually("pods gone", || pods(&store).is_empty().then_some(())).await;
    let port = url::Url::parse(&url).unwrap().port().unwrap();
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    assert!(
        other.bind(std::net::SocketAddr::from(([127, 0, 0, 1], port))).is_err(),
        "a closed proxy still holds its port"
    );
    let rs = &store.list(&REPLICASETS, Some(NS)).0[0];
    assert_eq!(rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"], "0");
    assert_eq!(rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"], "0");
    let scaled = events(&store, "ScalingReplicaSet");
    let name = rs["metadata"]["name"].as_str().unwrap();
    assert!(scaled.contains(&format!("Scaled down replica set {name} from 2 to 0")), "{scaled:?}");

    set_replicas(&store, 2);
    eventually_async("service answers again", || async { health(&url).await == Some(200) }).await;
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_image_stalls_rollout_and_undo_recovers() {
    let (store, ctrl) = cluster(json!([])).await;
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    let good = deploy(&store)["spec"]["template"].clone();
    patch_template(&store, |t| t["spec"]["containers"][0]["image"] = json!("invalid-image:latest"));
    let reason =
        |p: &Value| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str().map(str::to_string);
    eventually("image pull back-off", || {
        pods(&store).iter().filter_map(reason).find(|r| r == "ImagePullBackOff" || r == "ErrImagePull")
    })
    .await;
    let url = url(&store);
    assert_eq!(health(&url).await, Some(200), "old pods keep serving");
    eventually("stall at 3 pods", || {
        let d = deploy(&store);
        (d["status"]["replicas"] == 3 && d["status"]["updatedReplicas"] == 1).then_some(())
    })
    .await;
    assert_eq!(pods(&store).len(), 3);
    let stuck = pods(&store).into_iter().find(|p| reason(p).is_some_and(|r| r.contains("ImagePull"))).unwrap();
    assert_eq!(stuck["status"]["phase"], "Pending");

    // rollout undo: the previous template, with creationTimestamp null as kubectl sends it.
    patch_template(&store, |t| {
        *t = good;
        t["metadata"]["creationTimestamp"] = Value::Null;
    });
    eventually("recovered", || {
        let d = deploy(&store);
        (rolled_out(&d) && pods(&store).len() == 2).then_some(())
    })
    .await;
    let d = deploy(&store);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    assert_eq!(store.list(&REPLICASETS, Some(NS)).0.len(), 2, "the old ReplicaSet was reused");
    assert_eq!(health(&url).await, Some(200));
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_grows_restarts_and_keeps_previous_log() {
    let (store, ctrl) = cluster(json!([{"name": "SIM_CRASH", "value": "1"}])).await;
    let pod = eventually("restarts", || {
        pods(&store).into_iter().find(|p| p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2))
    })
    .await;
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(pod["status"]["phase"], "Running");
    let log = store.log(NS, pod["metadata"]["name"].as_str().unwrap(), "server").unwrap();
    assert!(log.previous.unwrap().contains("Error: connection to database failed: ECONNREFUSED"));
    let backoffs = events(&store, "BackOff");
    assert!(backoffs.iter().any(|m| m.starts_with("Back-off restarting failed container server in pod ")));
    let url = url(&store);
    assert!(refused(&url).await, "no ready endpoints");
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_clears_until_restart_crash_and_rolls_pods_one_by_one() {
    let (store, ctrl) = cluster(json!([{"name": "SIM_CRASH", "value": "until-restart"}])).await;
    eventually("crash loop", || {
        pods(&store)
            .into_iter()
            .find(|p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff")
    })
    .await;
    patch_template(&store, |t| {
        t["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = json!("2026-11-28T01:30:54Z");
    });
    eventually("restart rolled out", || {
        let d = deploy(&store);
        (rolled_out(&d) && pods(&store).len() == 2).then_some(())
    })
    .await;
    assert_eq!(deploy(&store)["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    let url = url(&store);
    eventually_async("service answers", || async { health(&url).await == Some(200) }).await;
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_configmap_blocks_until_created_and_selector_mismatch_pends() {
    let env =
        json!([{"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "sandfly-config", "key": "level"}}}]);
    let (store, ctrl) = cluster(env).await;
    let pod = eventually("config error", || {
        pods(&store)
            .into_iter()
            .find(|p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError")
    })
    .await;
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "configmap \"sandfly-config\" not found"
    );
    let cm = json!({"metadata": {"name": "sandfly-config"}, "data": {"level": "debug"}});
    store.create(&crate::resources::CONFIGMAPS, NS, cm, false).unwrap();
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;

    patch_template(&store, |t| t["spec"]["nodeSelector"] = json!({"disktype": "ssd"}));
    let pending = eventually("unschedulable", || {
        pods(&store).into_iter().find(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["reason"] == "Unschedulable"))
        })
    })
    .await;
    assert_eq!(pending["status"]["phase"], "Pending");
    assert!(events(&store, "FailedScheduling")[0].starts_with("0/1 nodes are available: 1 node(s) didn't match"));
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_restart_replaces_pods_one_by_one_and_cluster_settles() {
    let (store, ctrl) = cluster(json!([])).await;
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rv = store.resource_version();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.resource_version(), rv, "an idle cluster writes nothing");

    let old_rs = store.list(&REPLICASETS, Some(NS)).0[0]["metadata"]["name"].as_str().unwrap().to_string();
    patch_template(&store, |t| {
        t["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = json!("2026-11-28T01:30:54Z");
    });
    eventually("restart rolled out", || {
        let d = deploy(&store);
        (rolled_out(&d)
            && pods(&store).len() == 2
            && d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable")
            .then_some(())
    })
    .await;
    let new_rs = store
        .list(&REPLICASETS, Some(NS))
        .0
        .into_iter()
        .map(|rs| rs["metadata"]["name"].as_str().unwrap().to_string())
        .find(|n| *n != old_rs)
        .unwrap();
    let scaled = events(&store, "ScalingReplicaSet");
    assert_eq!(
        scaled,
        vec![
            format!("Scaled up replica set {old_rs} from 0 to 2"),
            format!("Scaled up replica set {new_rs} from 0 to 1"),
            format!("Scaled down replica set {old_rs} from 2 to 1"),
            format!("Scaled up replica set {new_rs} from 1 to 2"),
            format!("Scaled down replica set {old_rs} from 1 to 0"),
        ]
    );
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_rollout_exceeds_progress_deadline() {
    let (store, ctrl) = cluster(json!([])).await;
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    store
        .mutate(&DEPLOYMENTS, NS, APP, false, |d| {
            d["spec"]["progressDeadlineSeconds"] = json!(60);
            d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("invalid-image:latest");
            Ok(())
        })
        .unwrap();
    let d = eventually("deadline exceeded", || {
        let d = deploy(&store);
        (d["status"]["conditions"][1]["reason"] == "ProgressDeadlineExceeded").then_some(d)
    })
    .await;
    assert_eq!(d["status"]["conditions"][1]["status"], "False");
    assert_eq!(d["status"]["conditions"][0]["status"], "True", "old pods keep it available");
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_pod_is_replaced_and_oom_is_reported() {
    let (store, ctrl) = cluster(json!([])).await;
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    let victim = pods(&store)[0].clone();
    let name = victim["metadata"]["name"].as_str().unwrap().to_string();
    let ctx_store = store.clone();
    let rec = super::recorder::Recorder::new(ctx_store.clone());
    let ctx = super::Ctx { store: ctx_store, cfg: SimConfig::default(), recorder: rec };
    assert!(super::replicaset::delete_pod(&ctx, &victim));
    eventually("replacement", || {
        let ps = pods(&store);
        (ps.len() == 2 && ps.iter().all(|p| p["metadata"]["name"] != name.as_str()) && rolled_out(&deploy(&store)))
            .then_some(())
    })
    .await;
    assert!(events(&store, "Killing").contains(&"Stopping container server".to_string()));

    patch_template(&store, |t| t["spec"]["containers"][0]["env"] = json!([{"name": "SIM_OOM", "value": "1"}]));
    let pod = eventually("oom", || {
        pods(&store)
            .into_iter()
            .find(|p| p["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] == "OOMKilled")
    })
    .await;
    assert_eq!(pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 137);
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_deployment_waits_and_rollback_records_revision_history() {
    let (store, ctrl) = cluster(json!([])).await;
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    let first = deploy(&store)["spec"]["template"].clone();
    store
        .mutate(&DEPLOYMENTS, NS, APP, false, |d| {
            d["spec"]["paused"] = json!(true);
            d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("sim/mcp-server:2");
            Ok(())
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.list(&REPLICASETS, Some(NS)).0.len(), 1, "a paused Deployment does not roll out");
    store
        .mutate(&DEPLOYMENTS, NS, APP, false, |d| {
            d["spec"]["paused"] = json!(false);
            d["metadata"]["annotations"]["kubernetes.io/change-cause"] = json!("image 2");
            Ok(())
        })
        .unwrap();
    eventually("rollout of revision 2", || {
        let d = deploy(&store);
        (rolled_out(&d) && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2").then_some(())
    })
    .await;
    let second = store
        .list(&REPLICASETS, Some(NS))
        .0
        .into_iter()
        .find(|rs| rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2")
        .unwrap();
    assert_eq!(second["metadata"]["annotations"]["kubernetes.io/change-cause"], "image 2");
    patch_template(&store, |t| *t = first);
    eventually("rollback to revision 3", || {
        let d = deploy(&store);
        (rolled_out(&d) && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3").then_some(())
    })
    .await;
    let rses = store.list(&REPLICASETS, Some(NS)).0;
    let reused = rses
        .iter()
        .find(|rs| rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3")
        .expect("the first ReplicaSet, reactivated");
    assert_eq!(reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"], "1");
    assert_eq!(reused["spec"]["replicas"], 2);
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_pods_are_not_endpoints_and_ready_delay_is_literal() {
    let (store, ctrl) = cluster(json!([{"name": "SIM_NOT_READY", "value": "1"}])).await;
    eventually("unhealthy events", || (!events(&store, "Unhealthy").is_empty()).then_some(())).await;
    assert_eq!(events(&store, "Unhealthy")[0], "Readiness probe failed: HTTP probe failed with statuscode: 503");
    let ps = pods(&store);
    assert!(
        ps.iter().all(|p| p["status"]["phase"] == "Running" && p["status"]["containerStatuses"][0]["ready"] == false)
    );
    let ep = store.get(&crate::resources::ENDPOINTS, NS, APP).unwrap();
    assert_eq!(ep["subsets"][0]["notReadyAddresses"].as_array().map(Vec::len), Some(2));
    assert!(ep["subsets"][0].get("addresses").is_none());
    assert!(refused(&url(&store)).await, "no ready endpoints");

    patch_template(&store, |t| {
        t["spec"]["containers"][0]["env"] = json!([{"name": "SIM_READY_DELAY", "value": "1200ms"}])
    });
    let started = tokio::time::Instant::now();
    let running = eventually("a new pod running", || {
        pods(&store).into_iter().find(|p| {
            p["status"]["containerStatuses"][0]["started"] == true
                && p["spec"]["containers"][0]["env"][0]["name"] == "SIM_READY_DELAY"
        })
    })
    .await;
    assert_eq!(running["status"]["containerStatuses"][0]["ready"], false, "not ready before the delay");
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    assert!(started.elapsed() >= Duration::from_millis(1100), "the delay is not scaled");
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_history_limit_prunes_old_replicasets_and_gc_follows_deletes() {
    let (store, ctrl) = cluster(json!([])).await;
    store
        .mutate(&DEPLOYMENTS, NS, APP, false, |d| {
            d["spec"]["revisionHistoryLimit"] = json!(1);
            Ok(())
        })
        .unwrap();
    for tag in ["2", "3", "4"] {
        patch_template(&store, |t| t["spec"]["containers"][0]["image"] = json!(format!("sim/mcp-server:{tag}")));
        eventually("rollout", || {
            let d = deploy(&store);
            (rolled_out(&d) && pods(&store).len() == 2).then_some(())
        })
        .await;
    }
    eventually("old ReplicaSets pruned", || (store.list(&REPLICASETS, Some(NS)).0.len() == 2).then_some(())).await;

    store.delete(&DEPLOYMENTS, NS, APP, false).unwrap();
    store.delete(&SERVICES, NS, APP, false).unwrap();
    eventually("ReplicaSets and pods collected", || {
        (store.list(&REPLICASETS, Some(NS)).0.is_empty() && pods(&store).is_empty()).then_some(())
    })
    .await;
    eventually("endpoints collected", || {
        let eps = store.list(&crate::resources::ENDPOINTS, Some(NS)).0;
        let slices = store.list(&crate::resources::ENDPOINTSLICES, Some(NS)).0;
        (eps.is_empty() && slices.is_empty()).then_some(())
    })
    .await;
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_port_changes_keep_the_url_and_add_named_urls() {
    let (store, ctrl) = cluster(json!([])).await;
    eventually("rollout", || rolled_out(&deploy(&store)).then_some(())).await;
    let first = url(&store);
    eventually_async("service answers", || async { health(&first).await == Some(200) }).await;
    store
        .mutate(&SERVICES, NS, APP, false, |s| {
            s["spec"]["ports"] = json!([
                {"name": "http", "port": 3000, "targetPort": 3000, "protocol": "TCP"},
                {"name": "alt", "port": 8080, "targetPort": "http", "protocol": "TCP"},
            ]);
            Ok(())
        })
        .unwrap();
    let alt = eventually("a URL for the new port", || {
        store.get(&SERVICES, NS, APP).unwrap()["metadata"]["annotations"]["kube-sim.self-heal.dev/url-alt"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_eq!(url(&store), first, "the first URL stays");
    eventually_async("both ports answer", || {
        let (a, b) = (first.clone(), alt.clone());
        async move { health(&a).await == Some(200) && health(&b).await == Some(200) }
    })
    .await;
    ctrl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_on_one_machine_do_not_share_pods() {
    let (a, ctrl_a) = cluster(json!([])).await;
    let (b, ctrl_b) = cluster(json!([])).await;
    for s in [&a, &b] {
        eventually("rollout", || rolled_out(&deploy(s)).then_some(())).await;
    }
    let ips = |s: &Store| -> Vec<String> {
        pods(s).iter().map(|p| p["status"]["podIP"].as_str().unwrap_or_default().to_string()).collect()
    };
    let (ia, ib) = (ips(&a), ips(&b));
    assert!(ia.iter().all(|ip| !ib.contains(ip)), "{ia:?} {ib:?}");
    let (ua, ub) = (url(&a), url(&b));
    set_replicas(&a, 0);
    eventually_async("a refuses", || async { refused(&ua).await }).await;
    assert_eq!(health(&ub).await, Some(200), "b is not affected");
    ctrl_a.shutdown().await;
    ctrl_b.shutdown().await;
}
