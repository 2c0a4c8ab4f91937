//! A scripted Kubernetes API server on loopback (plain HTTP) that records every request, for
//! the hostile-input tests: it serves whatever objects a test gives it, including ones a real
//! API server would refuse (names with `../`), and bodies of any size, streamed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request the fake served.
#[derive(Clone, Debug)]
pub struct Seen {
    /// GET, POST...
    pub method: String,
    /// Path and query, as sent (still percent-encoded).
    pub uri: String,
}

/// What to answer on one path.
#[derive(Clone)]
pub enum Answer {
    /// JSON with a status.
    Json(u16, Value),
    /// `n` bytes of `x` (no newline), streamed with this content type.
    Flood(u64, &'static str),
}

/// The fake server; it stops with its runtime when dropped.
pub struct FakeApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<Vec<Seen>>>,
    _rt: tokio::runtime::Runtime,
}

static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

fn flood(n: u64, content_type: &'static str) -> Response {
    let chunks = n.div_ceil(CHUNK.len() as u64);
    let stream = futures::stream::iter(0..chunks).map(move |i| {
        let len = if i + 1 == chunks { n - i * CHUNK.len() as u64 } else { CHUNK.len() as u64 };
        Ok::<_, std::io::Error>(Bytes::from_static(&CHUNK[..len as usize]))
    });
    ([(header::CONTENT_TYPE, content_type)], Body::from_stream(stream)).into_response()
}

use futures::StreamExt;

impl FakeApi {
    /// Serves `routes` (exact path → answer; the query is ignored). Any other GET of a
    /// collection (`.../namespaces/NS/RESOURCE`) is an empty list, any other GET a 404; writes
    /// are recorded and answered 201 with their own body.
    pub fn start(routes: BTreeMap<String, Answer>) -> FakeApi {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let seen = log.clone();
        let routes = Arc::new(routes);
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let (seen, routes) = (seen.clone(), routes.clone());
            async move {
                let full = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
                seen.lock().unwrap().push(Seen { method: method.to_string(), uri: full });
                if let Some(Answer::Flood(n, ct)) = routes.get(uri.path()) {
                    return flood(*n, ct);
                }
                if method != Method::GET {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
                    return (StatusCode::CREATED, axum::Json(v)).into_response();
                }
                if uri.query().is_some_and(|q| q.contains("watch=true") || q.contains("watch=1")) {
                    // An empty watch: the server ended it at once.
                    return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "").into_response();
                }
                match routes.get(uri.path()) {
                    Some(Answer::Json(code, v)) => {
                        (StatusCode::from_u16(*code).unwrap(), axum::Json(v.clone())).into_response()
                    }
                    Some(Answer::Flood(n, ct)) => flood(*n, ct),
                    None => {
                        let segs: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
                        // `.../namespaces/NS/RESOURCE`: a collection.
                        if segs.len() >= 3 && segs[segs.len() - 3] == "namespaces" {
                            (StatusCode::OK, axum::Json(list(vec![]))).into_response()
                        } else {
                            (StatusCode::NOT_FOUND, axum::Json(not_found(uri.path()))).into_response()
                        }
                    }
                }
            }
        });
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeApi { url, log, _rt: rt }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Requests other than GET.
    pub fn writes(&self) -> Vec<Seen> {
        self.requests().into_iter().filter(|r| r.method != "GET").collect()
    }

    /// A kubeconfig for this server in `dir`.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("fake-kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: '{}'}}\n\
                 users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: fake\n  context: {{cluster: c, user: u, namespace: ns}}\n\
                 current-context: fake\n",
                self.url
            ),
        )
        .unwrap();
        path
    }
}

/// A list body.
pub fn list(items: Vec<Value>) -> Value {
    json!({"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":items})
}

fn not_found(path: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":format!("{path} not found"),
        "reason":"NotFound","code":404})
}

/// The namespace of every fixture.
pub const NS: &str = "ns";

/// `/version`.
pub fn version() -> Value {
    json!({"major":"1","minor":"33","gitVersion":"v1.33.0","gitCommit":"x","gitTreeState":"clean",
        "buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.24","compiler":"gc","platform":"linux/amd64"})
}

/// A Service selecting `app=<app>` on port 80 → 3000, with ClusterIP `ip`.
pub fn service(name: &str, app: &str, ip: &str) -> Value {
    json!({"kind":"Service","apiVersion":"v1","metadata":{"name":name,"namespace":NS,"uid":format!("svc-{name}")},
        "spec":{"selector":{"app":app},"type":"ClusterIP","clusterIP":ip,"clusterIPs":[ip],
            "ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":3000}]}})
}

/// A Deployment `name` (uid `d-<name>`) of one ready replica, labels `app=<app>`.
pub fn deployment(name: &str, app: &str) -> Value {
    json!({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":name,"namespace":NS,"uid":format!("d-{name}"),
            "generation":1,"annotations":{"deployment.kubernetes.io/revision":"1"}},
        "spec":{"replicas":1,"selector":{"matchLabels":{"app":app}},"progressDeadlineSeconds":600,
            "template":{"metadata":{"labels":{"app":app}},"spec":{"containers":[{"name":"server","image":"nginx",
                "ports":[{"containerPort":3000,"name":"http","protocol":"TCP"}]}]}}},
        "status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1,
            "conditions":[
              {"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"ok"},
              {"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable","message":"ok"}]}})
}

/// ReplicaSet `<dep>-5d8f` (uid `r-<dep>`) owned by Deployment `dep`.
pub fn replica_set(dep: &str, app: &str) -> Value {
    json!({"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{"name":format!("{dep}-5d8f"),"namespace":NS,
            "uid":format!("r-{dep}"),"labels":{"app":app,"pod-template-hash":"5d8f"},
            "annotations":{"deployment.kubernetes.io/revision":"1"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":dep,"uid":format!("d-{dep}"),"controller":true}]},
        "spec":{"replicas":1,"selector":{"matchLabels":{"app":app,"pod-template-hash":"5d8f"}},
            "template":{"metadata":{"labels":{"app":app,"pod-template-hash":"5d8f"}},"spec":{"containers":[{"name":"server","image":"nginx"}]}}},
        "status":{"replicas":1,"readyReplicas":1,"availableReplicas":1,"observedGeneration":1}})
}

/// A ready pod `name` labelled `app=<app>` whose controller is ReplicaSet `rs` with `rs_uid`.
pub fn pod(name: &str, app: &str, rs: &str, rs_uid: &str) -> Value {
    json!({"kind":"Pod","apiVersion":"v1","metadata":{"name":name,"namespace":NS,"uid":format!("p-{name}"),
            "labels":{"app":app,"pod-template-hash":"5d8f"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":rs,"uid":rs_uid,"controller":true}]},
        "spec":{"nodeName":"node-1","containers":[{"name":"server","image":"nginx",
            "ports":[{"containerPort":3000,"name":"http","protocol":"TCP"}]}]},
        "status":{"phase":"Running","podIP":"10.0.0.5","conditions":[{"type":"Ready","status":"True"},
            {"type":"ContainersReady","status":"True"}],
            "containerStatuses":[{"name":"server","ready":true,"restartCount":0,"image":"nginx","imageID":"x",
                "started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}})
}

/// Makes the pod's container crash-loop (restarted 5 times, last exit 1).
pub fn crashing(mut pod: Value) -> Value {
    pod["status"]["conditions"] =
        json!([{"type":"Ready","status":"False"},{"type":"ContainersReady","status":"False"}]);
    pod["status"]["containerStatuses"][0] = json!({"name":"server","ready":false,"restartCount":5,"image":"nginx",
        "imageID":"x","started":false,
        "state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 5m0s restarting failed container"}},
        "lastState":{"terminated":{"exitCode":1,"reason":"Error","startedAt":"2026-01-01T00:00:00Z","finishedAt":"2026-01-01T00:00:01Z"}}});
    pod
}

/// A ready EndpointSlice of Service `svc`.
pub fn endpoint_slice(svc: &str) -> Value {
    json!({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":format!("{svc}-abc"),"namespace":NS,
            "labels":{"kubernetes.io/service-name":svc}},
        "addressType":"IPv4","ports":[{"name":"http","port":3000,"protocol":"TCP"}],
        "endpoints":[{"addresses":["10.0.0.5"],"conditions":{"ready":true,"serving":true,"terminating":false}}]})
}

/// Endpoints of Service `svc` with one ready address.
pub fn endpoints(svc: &str) -> Value {
    json!({"kind":"Endpoints","apiVersion":"v1","metadata":{"name":svc,"namespace":NS},
        "subsets":[{"addresses":[{"ip":"10.0.0.5"}],"ports":[{"name":"http","port":3000,"protocol":"TCP"}]}]})
}

/// A healthy cluster: Service `svc` (ClusterIP `ip`) → Deployment `dep` → one ready pod.
pub fn healthy(svc: &str, dep: &str, ip: &str) -> BTreeMap<String, Answer> {
    let pod_name = format!("{dep}-5d8f-abcde");
    let mut r = BTreeMap::new();
    let ns = format!("/api/v1/namespaces/{NS}");
    let apps = format!("/apis/apps/v1/namespaces/{NS}");
    r.insert("/version".into(), Answer::Json(200, version()));
    r.insert(format!("{ns}/services/{svc}"), Answer::Json(200, service(svc, dep, ip)));
    r.insert(
        format!("{ns}/pods"),
        Answer::Json(200, list(vec![pod(&pod_name, dep, &format!("{dep}-5d8f"), &format!("r-{dep}"))])),
    );
    r.insert(format!("{apps}/replicasets"), Answer::Json(200, list(vec![replica_set(dep, dep)])));
    r.insert(format!("{apps}/deployments"), Answer::Json(200, list(vec![deployment(dep, dep)])));
    r.insert(format!("{apps}/deployments/{dep}"), Answer::Json(200, deployment(dep, dep)));
    r.insert(format!("{ns}/endpoints/{svc}"), Answer::Json(200, endpoints(svc)));
    r.insert(
        format!("/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"),
        Answer::Json(200, list(vec![endpoint_slice(svc)])),
    );
    // The service proxy: the Service answers 200.
    r.insert(format!("{ns}/services/{svc}:80/proxy/"), Answer::Json(200, json!({"ok": true})));
    r
}
