//! SSE framing (DESIGN §2.4): one `data:` line of compact JSON per frame with an `id:` line, no
//! `event:` lines, a `: keep-alive` comment every 15 s, `X-Accel-Buffering: no`. A task stream
//! always ends with `processing_complete`, even when the task died without sending one.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::Value;
use tokio::sync::mpsc;

use super::metrics::StreamGuard;
use super::task::complete;

/// Keep-alive comment interval.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One frame.
pub fn frame(id: u64, data: &Value) -> Event {
    Event::default().id(id.to_string()).data(type_first(data))
}

/// Compact JSON with the `type` field first, as readers of the raw stream expect it.
pub fn type_first(v: &Value) -> String {
    let Value::Object(m) = v else { return v.to_string() };
    let Some(t) = m.get("type") else { return v.to_string() };
    let mut out = format!("{{\"type\":{t}");
    for (k, val) in m.iter().filter(|(k, _)| k.as_str() != "type") {
        out.push(',');
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        out.push_str(&val.to_string());
    }
    out.push('}');
    out
}

/// An SSE response over `stream` with the keep-alive and no-buffering header.
pub fn respond<S>(stream: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let mut resp =
        Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")).into_response();
    resp.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache"));
    resp
}

/// The frames of one task, numbered 1, 2, 3...; a synthetic failed `processing_complete` if
/// the task ended without one. `guard` counts the stream as open while it lives.
pub fn task_stream(
    task_id: String,
    rx: mpsc::Receiver<Value>,
    guard: StreamGuard,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    struct St {
        rx: mpsc::Receiver<Value>,
        n: u64,
        done: bool,
        id: String,
        _guard: StreamGuard,
    }
    futures::stream::unfold(St { rx, n: 0, done: false, id: task_id, _guard: guard }, |mut st| async move {
        if st.done {
            return None;
        }
        let v = match st.rx.recv().await {
            Some(v) => v,
            None => complete(
                &st.id,
                "failed",
                serde_json::json!({"error": {"kind": "internal", "message": "the task ended without a result"}}),
            ),
        };
        if v["type"] == "processing_complete" {
            st.done = true;
        }
        st.n += 1;
        let ev = frame(st.n, &v);
        Some((Ok(ev), st))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_comes_first_and_the_json_is_unchanged() {
        let v = serde_json::json!({"a": 1, "type": "x", "z": {"q": "a\"b"}});
        let s = type_first(&v);
        assert!(s.starts_with(r#"{"type":"x","#), "{s}");
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
        assert!(!s.contains('\n'));
    }
}
