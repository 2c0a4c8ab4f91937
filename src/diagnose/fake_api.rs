//! A scripted API server on loopback for tests of the reading stages: answers each request by
//! the longest route that ends its path; everything else is a 404 Status.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// Requests seen, as `path?query accept=<Accept header>`.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A NotFound Status body like a real API server's.
pub fn not_found(what: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":format!("{what} not found"),
        "reason":"NotFound","code":404})
}

/// A list body.
pub fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind":kind,"apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":items})
}

/// Starts the server with `routes` of (path fragment, status, body); returns a client and the log.
pub async fn start(routes: Vec<(&'static str, u16, Value)>) -> (kube::Client, Log) {
    let log: Log = Arc::default();
    let seen = log.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let seen = seen.clone();
        let routes = routes.clone();
        async move {
            let full = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            seen.lock().expect("log lock").push(format!("{full} accept={accept}"));
            // The longest matching suffix wins.
            let hit =
                routes.iter().filter(|(frag, _, _)| uri.path().ends_with(frag)).max_by_key(|(frag, _, _)| frag.len());
            match hit {
                Some((_, code, body)) => {
                    let code = StatusCode::from_u16(*code).unwrap_or(StatusCode::OK);
                    match body {
                        // Logs are plain text.
                        Value::String(text) => (code, text.clone()).into_response(),
                        _ => (code, axum::Json(body.clone())).into_response(),
                    }
                }
                None => (StatusCode::NOT_FOUND, axum::Json(not_found(uri.path()))).into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}").parse().expect("url");
    let client = crate::client::build(&kube::Config::new(url)).expect("client");
    (client, log)
}
