//! The HTTP API (DESIGN §2.4): [`app`] builds the router apart from `main` so tests drive it
//! directly. Bearer token on every route but `/healthz` and `/readyz`, a body limit, and every
//! 4xx/5xx as `{"error":{"code","message"}}`. A task is validated (route, server, body) before
//! any stream opens.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::AppState;
use super::history::ListFilter;
use super::sse;
use super::task::{self, TaskSpec};

/// An error answer: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`unauthorized`, `bad_request`, ...).
    pub code: &'static str,
    /// One sentence.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        (self.status, axum::Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let protected = Router::new()
        .route("/api/tasks", post(tasks))
        .route("/api/heals", get(heals))
        .route("/api/heals/{id}", get(heal))
        .route("/api/events", get(events))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .merge(protected)
        // The console's page and assets: no data in them, so no token (the page asks for one).
        .merge(super::console::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Compares without stopping at the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= (*x ^ b.get(i).copied().unwrap_or(!*x)) as usize;
    }
    diff == 0
}

async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.config.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required")
                .into_response();
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return resp;
        }
    }
    next.run(req).await
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.config.healing.enabled {
        state
            .supervisor
            .runner()
            .ready()
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", e))?;
    }
    Ok("ok")
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
        .into_response()
}

async fn heals(
    State(state): State<AppState>,
    q: Result<Query<ListFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filter) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    Ok(axum::Json(state.history.list(&filter)).into_response())
}

async fn heal(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    match state.history.get(&id) {
        Some(r) => Ok(axum::Json(r).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no heal {id:?}"))),
    }
}

async fn events(State(state): State<AppState>) -> Response {
    let rx = state.history.subscribe();
    let guard = state.metrics.stream_opened();
    let stream = futures::stream::unfold((rx, 0u64, guard), |(mut rx, n, g)| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let v = serde_json::to_value(&ev).unwrap_or(Value::Null);
                    return Some((Ok(sse::frame(n + 1, &v)), (rx, n + 1, g)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    sse::respond(stream)
}

/// `POST /api/tasks` body (DESIGN §2.4).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    id: Option<String>,
    query: Option<String>,
    payload: Option<Payload>,
    server: Option<String>,
    tool: Option<String>,
    arguments: Option<Value>,
    streaming: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Payload {
    query: Option<String>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// Turns a body into a task, or refuses it.
fn plan(state: &AppState, body: TaskBody) -> Result<(TaskSpec, bool), ApiError> {
    let query = body.query.or(body.payload.and_then(|p| p.query));
    let n = state.task_seq.fetch_add(1, Ordering::Relaxed);
    let id = match body.id {
        Some(id) if id.is_empty() || id.len() > 200 => return Err(bad("id must be 1 to 200 characters")),
        Some(id) => id,
        None => format!("task-{}-{n}", jiff::Timestamp::now().as_millisecond()),
    };
    let (server, tool, mut arguments) = match (&body.server, &body.tool) {
        (Some(s), Some(t)) => (s.clone(), t.clone(), json!({})),
        (None, None) => {
            let Some(q) = query.as_deref().filter(|q| !q.trim().is_empty()) else {
                return Err(bad("give a query, or a server and a tool"));
            };
            let Some(route) = state.config.route(q) else {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no_route",
                    format!("no route matches the query {q:?}"),
                ));
            };
            (route.server.clone(), route.tool.clone(), route.arguments.clone())
        }
        _ => return Err(bad("server and tool go together")),
    };
    if let Some(a) = body.arguments {
        if !a.is_object() {
            return Err(bad("arguments must be an object"));
        }
        arguments = a;
    }
    let Some(server) = state.config.server(&server).cloned() else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_server", format!("no server named {server:?}")));
    };
    if tool.is_empty() {
        return Err(bad("tool is empty"));
    }
    Ok((TaskSpec { id, query, server, tool, arguments }, body.streaming.unwrap_or(true)))
}

async fn tasks(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "bad_request" };
        ApiError::new(status, code, e.body_text())
    })?;
    let body: TaskBody =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not a valid task: {e}")))?;
    let (spec, streaming) = plan(&state, body)?;
    let (tx, rx) = mpsc::channel(256);
    if streaming {
        let id = spec.id.clone();
        tokio::spawn(task::run(state.clone(), spec, tx));
        let guard = state.metrics.stream_opened();
        return Ok(sse::respond(sse::task_stream(id, rx, guard)));
    }
    // Not streaming: the task runs inside this request (no task to spawn, no hand-over between
    // threads), and only its last frame is kept. A caller that goes away drops both halves; a
    // heal it joined goes on for the others.
    let last = async {
        let mut rx = rx;
        while let Some(v) = rx.recv().await {
            if v["type"] == "processing_complete" {
                return Some(v);
            }
        }
        None
    };
    let ((), last) = tokio::join!(task::run(state, spec, tx), last);
    let Some(Value::Object(mut v)) = last else {
        return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the task ended without a result"));
    };
    v.remove("type");
    Ok(axum::Json(v).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::config::{self, Args};
    use crate::orchestrator::mcp::{CallError, FailureKind, McpClient, ToolAnswer};
    use crate::orchestrator::supervisor::{HealRequest, WorkerExit, WorkerRunner};
    use crate::orchestrator::{AppState, config::Server};
    use futures::future::BoxFuture;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// Fails each call with the next queued error, then answers.
    struct FakeMcp(Mutex<Vec<FailureKind>>);

    impl McpClient for FakeMcp {
        fn call<'a>(
            &'a self,
            _: &'a Server,
            tool: &'a str,
            _: &'a Value,
        ) -> BoxFuture<'a, Result<ToolAnswer, CallError>> {
            let next = self.0.lock().unwrap().pop();
            Box::pin(async move {
                match next {
                    Some(kind) => Err(CallError { kind, message: format!("fake {kind:?}") }),
                    None => Ok(ToolAnswer { result: json!({"answer": tool}), tool_error: false }),
                }
            })
        }
        fn ready<'a>(&'a self, _: &'a Server, _: Instant) -> BoxFuture<'a, Result<(), CallError>> {
            Box::pin(async { Ok(()) })
        }
    }

    struct HealedRunner;

    impl WorkerRunner for HealedRunner {
        fn run(
            &self,
            _: HealRequest,
            tx: tokio::sync::mpsc::UnboundedSender<String>,
        ) -> BoxFuture<'static, WorkerExit> {
            let line = r#"{"v":1,"seq":1,"ts":"2026-01-01T00:00:00.000Z","run":"r","service":"svc","namespace":"ns","event":"result","success":true,"outcome":"healed","diagnosis":"d","fix_applied":"scaled svc from 0 to 2 replicas","fix_attempted":null,"recommendation":null,"findings":["ScaledToZero"],"duration_ms":1,"exit_code":0,"timestamp":"2026-01-01T00:00:00Z"}"#;
            let _ = tx.send(line.to_string());
            Box::pin(async { WorkerExit { code: Some(0), ..Default::default() } })
        }
        fn kill_all(&self) {}
        fn ready(&self) -> Result<(), String> {
            Ok(())
        }
    }

    async fn serve(failures: Vec<FailureKind>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            "servers:\n  - name: s\n    url: http://svc.ns.svc:3000/mcp\n    idempotent_tools: [safe]\n",
        )
        .unwrap();
        let args = Args { config: Some(path), listen: None };
        let cfg = config::load(&args, &|_| None, std::path::Path::new("/x")).unwrap();
        let state = AppState::new(cfg, Arc::new(FakeMcp(Mutex::new(failures))), Arc::new(HealedRunner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        format!("http://{addr}")
    }

    async fn types(url: &str, tool: &str) -> Vec<Value> {
        let text = reqwest::Client::new()
            .post(format!("{url}/api/tasks"))
            .json(&json!({"server": "s", "tool": tool}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect()
    }

    #[tokio::test]
    async fn refused_then_healed_is_retried_and_a_timeout_is_retried_only_when_idempotent() {
        let url = serve(vec![FailureKind::Refused]).await;
        let f = types(&url, "list").await;
        let t: Vec<_> = f.iter().map(|v| v["type"].as_str().unwrap()).collect();
        assert_eq!(
            t,
            ["processing_start", "healing_start", "healing_progress", "healing_complete", "processing_complete"]
        );
        assert_eq!(f[3]["message"], "Service restored: scaled svc from 0 to 2 replicas");
        assert_eq!(f[4]["result"]["answer"], "list");

        let url = serve(vec![FailureKind::Timeout]).await;
        let f = types(&url, "write").await;
        assert_eq!(f.last().unwrap()["status"], "failed");
        assert_eq!(f.last().unwrap()["result"]["retried"], false);

        let url = serve(vec![FailureKind::Timeout]).await;
        let f = types(&url, "safe").await;
        assert_eq!(f.last().unwrap()["status"], "completed", "idempotent: retried");

        let url = serve(vec![FailureKind::Status(500)]).await;
        let f = types(&url, "x").await;
        assert_eq!(f.len(), 2, "a 500 is not healed: {f:?}");
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
