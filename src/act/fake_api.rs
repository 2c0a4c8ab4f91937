//! A scripted fake API server for unit tests: records each request and answers from a
//! closure, so tests can assert the exact wire requests (paths, query, content types, bodies).

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
    let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let responder: Arc<Responder> = Arc::new(respond);
    let (log2, responder2) = (log.clone(), responder.clone());
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
        let (log, responder) = (log2.clone(), responder2.clone());
        async move {
            let seen = Seen {
                method: method.to_string(),
                uri: uri.to_string(),
                content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            };
            let index = {
                let mut l = log.lock().unwrap();
                l.push(seen.clone());
                l.len() - 1
            };
            if seen.uri.contains("watch=true") || seen.uri.contains("watch=1") {
                // Watches stay open and silent: tests put everything in the initial lists.
                let body = axum::body::Body::from_stream(futures::stream::pending::<Result<String, std::io::Error>>());
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
    (crate::client::build(&config).unwrap(), log)
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
