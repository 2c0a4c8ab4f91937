//! Applies a hit fault rule ([`crate::faults`]) around the normal handler: error Statuses as a
//! real API server words them, latency, held requests, dropped connections, 410 for lists and
//! watches, 409 with a real resourceVersion bump, and watches closed early.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use tokio::time::Instant;

use super::request_info::RequestInfo;
use super::{ApiState, Req, dispatch};
use crate::faults::{Action, DropWhen, WatchClose, secs};
use crate::resources;
use crate::serve::Peer;
use crate::store::ApiError;

/// What became of a request.
pub(super) struct Served {
    /// The answer (never sent when `dropped`).
    pub response: Response,
    /// The connection was closed instead of answering.
    pub dropped: bool,
}

impl From<Response> for Served {
    fn from(response: Response) -> Self {
        Served { response, dropped: false }
    }
}

/// Serves `req`, through the fault rule it hits if any.
pub(super) async fn serve(st: &Arc<ApiState>, info: &RequestInfo, peer: &Peer, path: &str, req: &Req) -> Served {
    let has_rv = req.q("resourceVersion").is_some_and(|v| !v.is_empty() && v != "0");
    let Some(hit) = st.faults.hit(info, has_rv) else {
        return normal(st, path, req).await.into();
    };
    tracing::debug!(fault = %hit.id, verb = %info.verb, %path, "fault hit");
    match hit.action {
        Action::Status { status, retry_after_seconds } => status_response(status, retry_after_seconds).into(),
        Action::Latency { latency_ms } => {
            tokio::time::sleep(Duration::from_millis(latency_ms)).await;
            normal(st, path, req).await.into()
        }
        Action::Hold { hold } => {
            let mut removed = hit.removed;
            let mut shutdown = st.shutdown.clone();
            tokio::select! {
                _ = removed.wait_for(|r| *r) => {}
                _ = tokio::time::sleep(secs(hold.max_seconds)) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
            normal(st, path, req).await.into()
        }
        Action::Drop { drop } => {
            if drop == DropWhen::After {
                let _applied = normal(st, path, req).await;
            }
            peer.abort();
            Served { response: StatusCode::INTERNAL_SERVER_ERROR.into_response(), dropped: true }
        }
        Action::Gone { .. } => gone(st, info, req).into(),
        Action::Conflict { .. } => conflict(st, info).unwrap_or_else(|e| e.into_response()).into(),
        Action::WatchClose { watch_close } => {
            let resp = normal(st, path, req).await;
            if resp.status() != StatusCode::OK {
                return resp.into();
            }
            close_early(resp, watch_close).into()
        }
    }
}

async fn normal(st: &Arc<ApiState>, path: &str, req: &Req) -> Response {
    dispatch(st, path, req).await.unwrap_or_else(|e| e.into_response())
}

/// The Status a real API server sends for 429 (priority and fairness), 500, 503 and 504.
pub(crate) fn status_error(status: u16, retry_after: Option<u32>) -> ApiError {
    let retry = |d: serde_json::Value| match retry_after {
        Some(s) => {
            let mut d = d;
            d["retryAfterSeconds"] = json!(s);
            d
        }
        None => d,
    };
    match status {
        429 => ApiError::new(429, "TooManyRequests", "Too many requests, please try again later.", retry(json!({}))),
        500 => ApiError::new(
            500,
            "InternalError",
            "Internal error occurred: etcdserver: leader changed",
            json!({"causes": [{"message": "etcdserver: leader changed"}]}),
        ),
        503 => ApiError::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
            retry(json!({})),
        ),
        _ => ApiError::new(
            504,
            "Timeout",
            "Timeout: request did not complete within the allotted timeout",
            retry(json!({})),
        ),
    }
}

fn status_response(status: u16, retry_after: Option<u32>) -> Response {
    let retry_after = if status == 429 { Some(retry_after.unwrap_or(1)) } else { retry_after };
    let mut resp = status_error(status, retry_after).into_response();
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// 410 Expired: a list answers it as its status, a watch as its one `ERROR` event (HTTP 200),
/// as a real server does when the watch cache no longer holds the version.
fn gone(st: &ApiState, info: &RequestInfo, req: &Req) -> Response {
    let rv = req.q("resourceVersion").unwrap_or_default();
    let current = st.store.resource_version();
    let e = ApiError::expired(format!("too old resource version: {rv} ({current})"));
    if info.verb != "watch" {
        return e.into_response();
    }
    let mut line = json!({"type": "ERROR", "object": e.to_status()}).to_string();
    line.push('\n');
    let mut resp = Response::new(Body::from(line));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// 409 Conflict after another "writer" moved the object's resourceVersion on; the normal
/// answer (e.g. 404) when there is no such object.
fn conflict(st: &ApiState, info: &RequestInfo) -> Result<Response, ApiError> {
    let res = resources::lookup(&info.api_group, &info.api_version, &info.resource)
        .ok_or_else(|| ApiError::new(404, "NotFound", "the server could not find the requested resource", json!({})))?;
    st.store.touch(res, &info.namespace, &info.name)?;
    Err(ApiError::conflict(res, &info.name))
}

/// Ends a watch's body after N events (bookmarks not counted) or T seconds, cleanly, as a
/// watch that reached its timeout does.
fn close_early(resp: Response, wc: WatchClose) -> Response {
    let (parts, body) = resp.into_parts();
    let deadline = wc.after_seconds.map(|s| Instant::now() + secs(s));
    let left = wc.after_events;
    let stream = futures::stream::unfold((body.into_data_stream(), left), move |(mut body, left)| async move {
        if left == Some(0) {
            return None;
        }
        let next = match deadline {
            Some(d) => tokio::time::timeout_at(d, body.next()).await.ok()?,
            None => body.next().await,
        }?;
        let left = match &next {
            Ok(chunk) if !is_bookmark(chunk) => left.map(|n| n.saturating_sub(1)),
            _ => left,
        };
        Some((next, (body, left)))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

fn is_bookmark(chunk: &Bytes) -> bool {
    serde_json::from_slice::<serde_json::Value>(chunk).is_ok_and(|v| v["type"] == "BOOKMARK")
}
