//! Calls to MCP tool servers: Streamable HTTP through rmcp 3.11 (one session per server, reused,
//! re-created when lost) and the legacy `POST /call-tool`, behind the [`McpClient`] trait so
//! tests can swap a fake. Transport failures are classified ([`FailureKind`]) so the task can
//! tell a healable outage from a tool's own error, and a retry-safe failure from one that may
//! have reached the tool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::config::{Server, Transport};

/// Why a call failed before the tool answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Connection refused (no endpoints, nothing listening).
    Refused,
    /// The host name did not resolve.
    Dns,
    /// The TCP connection was not accepted in time.
    ConnectTimeout,
    /// Another failure to connect.
    Connect,
    /// The connection was reset or closed before any response.
    Reset,
    /// An HTTP error status (502/503/504 are healable).
    Status(u16),
    /// The call's deadline passed after the request was sent.
    Timeout,
    /// Anything else (protocol errors, bad answers).
    Other,
}

impl FailureKind {
    /// Whether self-heal should be asked to fix the service (a timeout is: a hung server is an
    /// outage, though the call may have reached the tool).
    pub fn healable(self) -> bool {
        self.unreached() || matches!(self, FailureKind::Timeout | FailureKind::Status(502..=504))
    }

    /// Whether the request cannot have reached the tool (so repeating it is safe).
    pub fn unreached(self) -> bool {
        matches!(
            self,
            FailureKind::Refused
                | FailureKind::Dns
                | FailureKind::ConnectTimeout
                | FailureKind::Connect
                | FailureKind::Reset
        )
    }

    /// The short name used in metrics and logs.
    pub fn label(self) -> String {
        match self {
            FailureKind::Refused => "refused".into(),
            FailureKind::Dns => "dns".into(),
            FailureKind::ConnectTimeout => "connect_timeout".into(),
            FailureKind::Connect => "connect".into(),
            FailureKind::Reset => "reset".into(),
            FailureKind::Status(s) => format!("http_{s}"),
            FailureKind::Timeout => "timeout".into(),
            FailureKind::Other => "other".into(),
        }
    }
}

/// A failed call: its kind and one sentence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened, for the caller.
    pub message: String,
}

/// What a tool answered: its result, and whether it is the tool's own error (`isError` or a
/// JSON-RPC error), which is returned as it is and never healed.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolAnswer {
    /// The `CallToolResult` (or the JSON-RPC error object, or the legacy `result`).
    pub result: Value,
    /// The tool said it failed.
    pub tool_error: bool,
}

/// Calls tools on MCP servers. A trait so tests swap fakes and rmcp stays behind it.
pub trait McpClient: Send + Sync {
    /// Calls `tool` with `arguments` on `server` within the server's timeout.
    fn call<'a>(
        &'a self,
        server: &'a Server,
        tool: &'a str,
        arguments: &'a Value,
    ) -> BoxFuture<'a, Result<ToolAnswer, CallError>>;

    /// Waits until the server accepts connections and (for MCP) `initialize` succeeds, polling
    /// until `deadline`.
    fn ready<'a>(&'a self, server: &'a Server, deadline: Instant) -> BoxFuture<'a, Result<(), CallError>>;
}

type Session = rmcp::service::RunningService<rmcp::RoleClient, rmcp::model::ClientConfig>;

/// [`McpClient`] over rmcp's Streamable HTTP client (and reqwest for `legacy`).
pub struct RmcpClient {
    http: reqwest::Client,
    /// One session per server name. A plain mutex: held only to look up or swap an entry, never
    /// across an await (an async mutex would queue and wake every concurrent call in turn).
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl Default for RmcpClient {
    fn default() -> Self {
        RmcpClient::new()
    }
}

impl RmcpClient {
    /// A client with no sessions yet.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        RmcpClient { http, sessions: Mutex::new(HashMap::new()) }
    }

    async fn session(&self, server: &Server) -> Result<Arc<Session>, CallError> {
        let current = self.sessions().get(&server.name).cloned();
        if let Some(s) = current
            && !s.is_transport_closed()
        {
            return Ok(s);
        }
        let fresh = Arc::new(self.connect(server).await?);
        let mut map = self.sessions();
        // Another request may have connected meanwhile: keep one session per server.
        if let Some(s) = map.get(&server.name)
            && !s.is_transport_closed()
        {
            let s = s.clone();
            drop(map);
            close(fresh);
            return Ok(s);
        }
        map.insert(server.name.clone(), fresh.clone());
        Ok(fresh)
    }

    async fn connect(&self, server: &Server) -> Result<Session, CallError> {
        use rmcp::ServiceExt;
        use rmcp::transport::StreamableHttpClientTransport;
        use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
        let config = StreamableHttpClientTransportConfig::with_uri(server.url.as_str()).max_concurrent_requests(1024);
        let transport = StreamableHttpClientTransport::with_client(self.http.clone(), config);
        let mut info = rmcp::model::ClientConfig::default();
        info.client_info.name = "self-heal-orchestrator".into();
        info.client_info.version = env!("CARGO_PKG_VERSION").into();
        info.serve(transport).await.map_err(|e| classify("MCP initialize failed", &e))
    }

    /// The session map (a panic elsewhere while it was held leaves it usable).
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, server: &Server, session: &Arc<Session>) {
        let mut map = self.sessions();
        if map.get(&server.name).is_some_and(|s| Arc::ptr_eq(s, session)) {
            map.remove(&server.name);
        }
    }

    async fn call_mcp(&self, server: &Server, tool: &str, arguments: &Value) -> Result<ToolAnswer, CallError> {
        use rmcp::ServiceError;
        let session = self.session(server).await?;
        let mut params = rmcp::model::CallToolRequestParams::new(tool.to_string());
        if let Value::Object(map) = arguments {
            params = params.with_arguments(map.clone());
        }
        match session.peer().call_tool(params).await {
            Ok(result) => {
                let tool_error = result.is_error == Some(true);
                let result = serde_json::to_value(&result).unwrap_or(Value::Null);
                Ok(ToolAnswer { result, tool_error })
            }
            Err(ServiceError::McpError(e)) => Ok(ToolAnswer {
                result: json!({"error": {"code": e.code.0, "message": e.message, "data": e.data}}),
                tool_error: true,
            }),
            Err(e) => {
                // The session may be dead; the next call opens a fresh one.
                self.forget(server, &session);
                Err(classify(&format!("MCP tools/call {tool} failed"), &e))
            }
        }
    }

    async fn call_legacy(&self, server: &Server, tool: &str, arguments: &Value) -> Result<ToolAnswer, CallError> {
        let url = server
            .url
            .join("/call-tool")
            .map_err(|e| CallError { kind: FailureKind::Other, message: e.to_string() })?;
        let resp = self
            .http
            .post(url)
            .json(&json!({"tool_name": tool, "arguments": arguments}))
            .send()
            .await
            .map_err(|e| classify(&format!("POST /call-tool {tool} failed"), &e))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(ToolAnswer { result: body.get("result").cloned().unwrap_or(body), tool_error: false }),
            502..=504 => Err(CallError {
                kind: FailureKind::Status(status),
                message: format!("POST /call-tool {tool} answered HTTP {status}"),
            }),
            _ => Ok(ToolAnswer { result: json!({"status": status, "body": body}), tool_error: true }),
        }
    }
}

fn close(session: Arc<Session>) {
    if let Ok(s) = Arc::try_unwrap(session) {
        tokio::spawn(async move {
            let _ = s.cancel().await;
        });
    }
}

impl McpClient for RmcpClient {
    fn call<'a>(
        &'a self,
        server: &'a Server,
        tool: &'a str,
        arguments: &'a Value,
    ) -> BoxFuture<'a, Result<ToolAnswer, CallError>> {
        Box::pin(async move {
            let work = async {
                match server.transport {
                    Transport::Mcp => self.call_mcp(server, tool, arguments).await,
                    Transport::Legacy => self.call_legacy(server, tool, arguments).await,
                }
            };
            match tokio::time::timeout(server.timeout, work).await {
                Ok(r) => r,
                Err(_) => {
                    let lost = self.sessions().remove(&server.name);
                    if let Some(s) = lost {
                        close(s);
                    }
                    Err(CallError {
                        kind: FailureKind::Timeout,
                        message: format!(
                            "no answer from {} within {}",
                            server.name,
                            humantime::format_duration(server.timeout)
                        ),
                    })
                }
            }
        })
    }

    fn ready<'a>(&'a self, server: &'a Server, deadline: Instant) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            let mut pause = Duration::from_millis(20);
            loop {
                let attempt = async {
                    connects(server).await?;
                    if server.transport == Transport::Mcp {
                        self.session(server).await?;
                    }
                    Ok::<(), CallError>(())
                };
                let left = deadline.saturating_duration_since(Instant::now());
                let last = match tokio::time::timeout(left, attempt).await {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(e)) => e,
                    Err(_) => CallError { kind: FailureKind::Timeout, message: "not ready in time".into() },
                };
                if Instant::now() + pause >= deadline {
                    return Err(CallError {
                        kind: last.kind,
                        message: format!("{} did not become ready in time: {}", server.name, last.message),
                    });
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        })
    }
}

/// A TCP connection to the server's host and port.
async fn connects(server: &Server) -> Result<(), CallError> {
    let host = server.url.host_str().unwrap_or_default().trim_matches(['[', ']']).to_string();
    let port = server.url.port_or_known_default().unwrap_or(80);
    match tokio::net::TcpStream::connect((host.as_str(), port)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let kind = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => FailureKind::Refused,
                _ => FailureKind::Connect,
            };
            Err(CallError { kind, message: format!("cannot connect to {host}:{port}: {e}") })
        }
    }
}

/// Classifies an error by walking its source chain: reqwest's connect/timeout flags, I/O error
/// kinds, rmcp's HTTP status and session errors.
pub fn classify(context: &str, e: &(dyn std::error::Error + 'static)) -> CallError {
    use rmcp::transport::streamable_http_client::{HttpStatusError, StreamableHttpError};
    let mut kind: Option<FailureKind> = None;
    let mut connect = false;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut text = Vec::<String>::new();
    while let Some(err) = cur {
        let t = err.to_string();
        if !text.iter().any(|p| p.contains(&t)) {
            text.push(t.clone());
        }
        if let Some(s) = err.downcast_ref::<HttpStatusError>() {
            kind.get_or_insert(FailureKind::Status(s.status));
        }
        if let Some(StreamableHttpError::<reqwest::Error>::HttpStatus(s)) =
            err.downcast_ref::<StreamableHttpError<reqwest::Error>>()
        {
            kind.get_or_insert(FailureKind::Status(s.status));
        }
        if let Some(r) = err.downcast_ref::<reqwest::Error>() {
            if r.is_connect() {
                connect = true;
            }
            if let Some(s) = r.status() {
                kind.get_or_insert(FailureKind::Status(s.as_u16()));
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => {
                    kind.get_or_insert(FailureKind::Refused);
                }
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof if !connect => {
                    kind.get_or_insert(FailureKind::Reset);
                }
                K::TimedOut if connect => {
                    kind.get_or_insert(FailureKind::ConnectTimeout);
                }
                _ => {}
            }
        }
        let lower = t.to_lowercase();
        if lower.contains("dns error") || lower.contains("failed to lookup address") {
            kind.get_or_insert(FailureKind::Dns);
        }
        if lower.contains("connection closed before message completed") {
            kind.get_or_insert(FailureKind::Reset);
        }
        // rmcp's initialize error keeps its transport error in a field that is not a `source`.
        cur = match err.downcast_ref::<rmcp::service::ClientInitializeError>() {
            Some(rmcp::service::ClientInitializeError::TransportError { error, .. }) => Some(error),
            // Nor is the HTTP client's error inside `Client`.
            _ => match err.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
                Some(StreamableHttpError::Client(inner)) => Some(inner),
                _ => err.source(),
            },
        };
    }
    let kind = kind.unwrap_or(if connect { FailureKind::Connect } else { FailureKind::Other });
    // The caller reads the short form; the chain only where the kind says too little.
    let message = match kind {
        FailureKind::Refused => format!("{context}: connection refused (ECONNREFUSED)"),
        FailureKind::Dns => format!("{context}: DNS lookup failed (ENOTFOUND)"),
        FailureKind::ConnectTimeout => format!("{context}: connect timed out (ETIMEDOUT)"),
        FailureKind::Status(s) => format!("{context}: HTTP {s}"),
        _ => format!("{context}: {}", tidy(&text.join(": "))),
    };
    CallError { kind, message }
}

use crate::verify::mcp::tidy;

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str) -> Server {
        Server {
            name: "s".into(),
            url: url.parse().unwrap(),
            transport: Transport::Mcp,
            service: "s".into(),
            namespace: "n".into(),
            timeout: Duration::from_secs(5),
            idempotent_tools: Default::default(),
        }
    }

    #[test]
    fn healable_and_retry_safe_kinds() {
        assert!(FailureKind::Refused.healable() && FailureKind::Refused.unreached());
        assert!(FailureKind::Status(503).healable() && !FailureKind::Status(503).unreached());
        assert!(!FailureKind::Status(500).healable());
        assert!(!FailureKind::Status(404).healable());
        assert!(FailureKind::Timeout.healable() && !FailureKind::Timeout.unreached());
    }

    #[tokio::test]
    async fn refused_connection_is_classified_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let s = server(&format!("http://127.0.0.1:{port}/mcp"));
        let err = RmcpClient::new().call(&s, "echo", &json!({})).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused, "{err:?}");
        let mut legacy = s.clone();
        legacy.transport = Transport::Legacy;
        let err = RmcpClient::new().call(&legacy, "echo", &json!({})).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused, "{err:?}");
    }

    #[tokio::test]
    async fn http_503_is_classified_by_status() {
        use axum::{Router, http::StatusCode, routing::post};
        let app = Router::new().route("/mcp", post(|| async { StatusCode::SERVICE_UNAVAILABLE }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let err = RmcpClient::new().call(&server(&format!("http://{addr}/mcp")), "echo", &json!({})).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Status(503), "{err:?}");
        assert!(!err.message.contains("rmcp::"), "{}", err.message);
    }

    /// A minimal MCP server that can forget its sessions (answers 404 for them, as a restarted
    /// server does) and counts initializations.
    #[derive(Clone, Default)]
    struct Forgetful {
        inits: Arc<std::sync::atomic::AtomicUsize>,
        known: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    }

    async fn forgetful(
        axum::extract::State(f): axum::extract::State<Forgetful>,
        headers: axum::http::HeaderMap,
        body: String,
    ) -> axum::response::Response {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let msg: Value = serde_json::from_str(&body).unwrap();
        let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        if msg["method"] == "initialize" {
            let n = f.inits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let sid = format!("s-{n}");
            f.known.lock().unwrap().insert(sid.clone());
            let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": {"protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}}, "serverInfo": {"name": "f", "version": "1"}}});
            let mut r = axum::Json(reply).into_response();
            r.headers_mut().insert("mcp-session-id", sid.parse().unwrap());
            return r;
        }
        if session.as_ref().is_none_or(|s| !f.known.lock().unwrap().contains(s)) {
            return StatusCode::NOT_FOUND.into_response();
        }
        if msg.get("id").is_none() {
            return StatusCode::ACCEPTED.into_response();
        }
        let reply =
            json!({"jsonrpc": "2.0", "id": msg["id"], "result": {"content": [{"type": "text", "text": session}]}});
        axum::Json(reply).into_response()
    }

    #[tokio::test]
    async fn one_session_is_reused_and_re_created_when_the_server_forgets_it() {
        use axum::{Router, http::StatusCode, routing::post};
        let f = Forgetful::default();
        let app = Router::new()
            .route("/mcp", post(forgetful).get(|| async { StatusCode::METHOD_NOT_ALLOWED }))
            .with_state(f.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let s = server(&format!("http://{addr}/mcp"));
        let client = RmcpClient::new();
        for _ in 0..3 {
            let a = client.call(&s, "echo", &json!({})).await.unwrap();
            assert_eq!(a.result["content"][0]["text"], "s-1");
        }
        assert_eq!(f.inits.load(std::sync::atomic::Ordering::SeqCst), 1, "one session reused");
        f.known.lock().unwrap().clear();
        // rmcp re-initializes after the 404 and sends the call again in the new session.
        let a = client.call(&s, "echo", &json!({})).await.unwrap();
        assert_eq!(a.result["content"][0]["text"], "s-2");
        assert_eq!(f.inits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn dns_failure_is_classified_dns() {
        let err = RmcpClient::new()
            .call(&server("http://no-such-host.invalid:3000/mcp"), "echo", &json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Dns, "{err:?}");
    }
}
