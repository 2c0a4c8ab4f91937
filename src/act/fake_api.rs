//! A scripted fake API server for unit tests: records each request and answers from a
//! closure, so tests can assert the exact wire requests (paths, query, content types, bodies).
//! Watches stay open and deliver what a test sends through [`Watches::send`] (a change after
//! the initial list), as a real server streams watch events; with nothing sent they stay silent.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) content_type: String,
    pub(crate) body: Value,
}

type Responder = dyn Fn(&Seen, usize) -> (u16, Value) + Send + Sync;

/// Starts the fake; `respond(request, index)` gives the status and JSON body.
pub(crate) async fn start(
    respond: impl Fn(&Seen, usize) -> (u16, Value) + Send + Sync + 'static,
) -> (kube::Client, Arc<Mutex<Vec<Seen>>>) {
    start_with(true, respond).await
}

/// [`start`], choosing whether the client keeps kube's default retries of 429/503/504.
pub(crate) async fn start_with(
    retries: bool,
    respond: impl Fn(&Seen, usize) -> (u16, Value) + Send + Sync + 'static,
) -> (kube::Client, Arc<Mutex<Vec<Seen>>>) {
    let (client, log, _) = serve(retries, respond).await;
    (client, log)
}

/// [`start`], plus a handle that delivers watch events to the open watches.
pub(crate) async fn start_watched(
    respond: impl Fn(&Seen, usize) -> (u16, Value) + Send + Sync + 'static,
) -> (kube::Client, Arc<Mutex<Vec<Seen>>>, Watches) {
    serve(true, respond).await
}

/// Sends watch events to the fake's open watches.
pub(crate) struct Watches {
    tx: tokio::sync::broadcast::Sender<(String, Value)>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Watches {
    /// Waits (up to 10 s) until a watch on `resource` (the plural, e.g. `pods`) is open, then
    /// delivers `{"type": kind, "object": object}` to it.
    pub(crate) async fn send(&self, resource: &str, kind: &str, object: Value) {
        let path = format!("/{resource}?");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.log.lock().unwrap().iter().any(|s| is_watch(&s.uri) && s.uri.contains(&path)) {
            assert!(tokio::time::Instant::now() < deadline, "no watch on {resource} was opened");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.tx.send((resource.to_string(), serde_json::json!({"type": kind, "object": object}))).unwrap();
    }
}

fn is_watch(uri: &str) -> bool {
    uri.contains("watch=true") || uri.contains("watch=1")
}

async fn serve(
    retries: bool,
    respond: impl Fn(&Seen, usize) -> (u16, Value) + Send + Sync + 'static,
) -> (kube::Client, Arc<Mutex<Vec<Seen>>>, Watches) {
    let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let (tx, _) = tokio::sync::broadcast::channel::<(String, Value)>(64);
    let tx2 = tx.clone();
    let responder: Arc<Responder> = Arc::new(respond);
    let (log2, responder2) = (log.clone(), responder.clone());
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
        let (log, responder, tx) = (log2.clone(), responder2.clone(), tx2.clone());
        async move {
            let seen = Seen {
                method: method.to_string(),
                uri: uri.to_string(),
                content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            };
            // Subscribed before the request is logged, so an event sent once the log shows
            // the watch is never missed.
            let events = tx.subscribe();
            let index = {
                let mut l = log.lock().unwrap();
                l.push(seen.clone());
                l.len() - 1
            };
            if is_watch(&seen.uri) {
                // Open until the client goes: the events sent for this resource, one JSON line each.
                let path = seen.uri.split('?').next().unwrap_or_default().to_string();
                let stream = futures::stream::unfold((events, path), |(mut events, path)| async move {
                    loop {
                        match events.recv().await {
                            Ok((resource, event)) if path.ends_with(&format!("/{resource}")) => {
                                let line = Ok::<String, std::io::Error>(format!("{event}\n"));
                                return Some((line, (events, path)));
                            }
                            Ok(_) => continue,
                            Err(_) => return None,
                        }
                    }
                });
                let body = axum::body::Body::from_stream(stream);
                return (StatusCode::OK, [("content-type", "application/json")], body).into_response();
            }
            let (code, body) = responder(&seen, index);
            (StatusCode::from_u16(code).unwrap(), [("content-type", "application/json")], body.to_string())
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    config.default_retry = retries;
    (crate::client::build(&config).unwrap(), log.clone(), Watches { tx, log })
}

/// A list body (`items`, with a resourceVersion so watchers can start).
pub(crate) fn list(kind: &str, items: Vec<Value>) -> Value {
    serde_json::json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "100"}, "items": items})
}

/// A Status body as the API server sends it.
pub(crate) fn status(code: u16, reason: &str, message: &str) -> Value {
    serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}
