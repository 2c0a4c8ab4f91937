//! The simulated container of `sim/*` images: an HTTP server on `<podIP>:<containerPort>` with
//! `GET /health` and an MCP Streamable HTTP endpoint at `/mcp` that answers in JSON
//! (`initialize`, `notifications/initialized`, `tools/list`, `tools/call`, `ping`), strict about
//! `Accept` as real servers are, and the legacy `POST /call-tool` the old orchestrator used.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running container's servers, one per containerPort; dropping it stops them.
pub struct PodServer {
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// How the simulated process behaves, from the container's `SIM_*` faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// `/health` answers 503 (a container that never becomes Ready).
    pub unhealthy: bool,
    /// `/health` answers 200 but `/mcp` and `/call-tool` answer 503: the MCP process is dead.
    pub mcp_down: bool,
    /// `/mcp` and `/call-tool` accept the request and never answer (a hung process).
    pub hang: bool,
}

struct App {
    name: String,
    behaviour: Behaviour,
    sessions: Arc<Mutex<HashSet<String>>>,
}

/// MCP sessions, shared by every simulated pod as a horizontally scaled MCP server shares its
/// session store: the Service proxy spreads a client's connections over the replicas, so a
/// session opened on one pod must be known to the others (without it a real multi-replica
/// deployment needs `sessionAffinity: ClientIP`). A session stays unknown elsewhere (404).
fn shared_sessions() -> Arc<Mutex<HashSet<String>>> {
    static SESSIONS: std::sync::OnceLock<Arc<Mutex<HashSet<String>>>> = std::sync::OnceLock::new();
    SESSIONS.get_or_init(Default::default).clone()
}

impl App {
    /// The answer of a broken MCP process, if it is broken.
    async fn broken(&self) -> Option<Response> {
        if self.behaviour.hang {
            std::future::pending::<()>().await;
        }
        self.behaviour.mcp_down.then(|| {
            let body = json!({"error": "upstream MCP process not running"});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        })
    }
}

impl PodServer {
    /// Binds `ip:port` for every port and serves the simulated container `name` there.
    ///
    /// # Errors
    /// When a port cannot be bound.
    pub fn start(ip: Ipv4Addr, ports: &[u16], name: &str, behaviour: Behaviour) -> std::io::Result<PodServer> {
        let app = Arc::new(App { name: name.to_string(), behaviour, sessions: shared_sessions() });
        let mut listeners = Vec::new();
        for &port in ports {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.set_reuseaddr(true)?;
            sock.bind(SocketAddr::from((ip, port)))?;
            listeners.push(sock.listen(1024)?);
        }
        let mut server = PodServer { stops: Vec::new(), tasks: Vec::new() };
        for listener in listeners {
            let (tx, rx) = oneshot::channel::<()>();
            let router = router(app.clone());
            server.stops.push(tx);
            server.tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            }));
        }
        Ok(server)
    }

    /// Stops accepting at once and closes connections after their current request.
    pub fn stop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
        // Connections that never finish their request must not keep the container alive.
        let tasks: Vec<_> = self.tasks.drain(..).collect();
        if !tasks.is_empty() {
            tokio::spawn(async move {
                for t in tasks {
                    let abort = t.abort_handle();
                    if tokio::time::timeout(std::time::Duration::from_secs(2), t).await.is_err() {
                        abort.abort();
                    }
                }
            });
        }
    }
}

impl Drop for PodServer {
    fn drop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/healthz", get(health))
        .route("/mcp", post(mcp).get(|| async { StatusCode::METHOD_NOT_ALLOWED }).delete(mcp_delete))
        .route("/call-tool", post(call_tool))
        .with_state(app)
}

async fn health(State(app): State<Arc<App>>) -> Response {
    if !app.behaviour.unhealthy {
        (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "unavailable"}))).into_response()
    }
}

fn rpc_error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

async fn mcp_delete(State(app): State<Arc<App>>, headers: HeaderMap) -> StatusCode {
    if let Some(id) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) {
        app.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
    StatusCode::OK
}

async fn mcp(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(resp) = app.broken().await {
        return resp;
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        let body = rpc_error(
            Value::Null,
            -32000,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        );
        return (StatusCode::NOT_ACCEPTABLE, axum::Json(body)).into_response();
    }
    let msg: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return (StatusCode::BAD_REQUEST, axum::Json(rpc_error(Value::Null, -32700, "Parse error")))
                .into_response();
        }
    };
    let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(s) = &session
        && !app.sessions.lock().unwrap_or_else(|e| e.into_inner()).contains(s)
    {
        let body = rpc_error(Value::Null, -32001, "Session not found");
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let (Some(method), Some(id)) = (msg["method"].as_str(), msg.get("id").cloned()) else {
        // Notifications and responses need no answer.
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match method {
        "initialize" => {
            let version = msg["params"]["protocolVersion"].as_str().unwrap_or("2025-06-18");
            let sid = crate::store::random_suffix(24);
            app.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(sid.clone());
            let body = json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": app.name, "version": "1.4.2"},
            }});
            let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&sid) {
                resp.headers_mut().insert("mcp-session-id", v);
            }
            return resp;
        }
        "ping" => json!({}),
        "tools/list" => json!({"tools": tools()}),
        "tools/call" => match call(&msg["params"]["name"], &msg["params"]["arguments"]) {
            Some(text) => json!({"content": [{"type": "text", "text": text}], "isError": false}),
            None => {
                let name = msg["params"]["name"].as_str().unwrap_or_default();
                let body = rpc_error(id, -32602, &format!("Unknown tool: {name}"));
                return (StatusCode::OK, axum::Json(body)).into_response();
            }
        },
        _ => {
            return (StatusCode::OK, axum::Json(rpc_error(id, -32601, "Method not found"))).into_response();
        }
    };
    (StatusCode::OK, axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result}))).into_response()
}

async fn call_tool(State(app): State<Arc<App>>, body: Bytes) -> Response {
    if let Some(resp) = app.broken().await {
        return resp;
    }
    let msg: Value = serde_json::from_slice(&body).unwrap_or_default();
    match call(&msg["tool_name"], &msg["arguments"]) {
        Some(text) => {
            let result: Value = serde_json::from_str(&text).unwrap_or(json!(text));
            (StatusCode::OK, axum::Json(json!({"result": result}))).into_response()
        }
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"error": "unknown tool"}))).into_response(),
    }
}

/// The tools the simulated MCP server offers.
pub fn tools() -> Value {
    json!([
        {
            "name": "sandfly_list_hosts",
            "description": "List hosts known to Sandfly",
            "inputSchema": {"type": "object", "properties": {
                "summary": {"type": "boolean"},
                "page": {"type": "integer"},
                "size": {"type": "integer"},
            }},
        },
        {
            "name": "echo",
            "description": "Echo back the message",
            "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
        },
    ])
}

/// Runs a tool: the text content of its result, or None for an unknown tool.
pub fn call(name: &Value, args: &Value) -> Option<String> {
    match name.as_str()? {
        "sandfly_list_hosts" => {
            let hosts = json!([
                {"id": "h-1001", "hostname": "web-01.example.internal", "ip": "10.0.1.11", "os": "linux", "status": "active"},
                {"id": "h-1002", "hostname": "db-01.example.internal", "ip": "10.0.2.21", "os": "linux", "status": "active"},
                {"id": "h-1003", "hostname": "bastion.example.internal", "ip": "10.0.0.5", "os": "linux", "status": "inactive"},
            ]);
            let page = args["page"].as_i64().unwrap_or(1);
            let size = args["size"].as_i64().unwrap_or(100);
            Some(json!({"total": 3, "page": page, "size": size, "hosts": hosts}).to_string())
        }
        "echo" => Some(format!("Echo: {}", args["message"].as_str().unwrap_or_default())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_answer() {
        let t = call(&json!("sandfly_list_hosts"), &json!({"page": 2})).unwrap();
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["page"], 2);
        assert_eq!(v["hosts"].as_array().unwrap().len(), 3);
        assert_eq!(call(&json!("echo"), &json!({"message": "hi"})).unwrap(), "Echo: hi");
        assert!(call(&json!("nope"), &json!({})).is_none());
    }

    async fn post(url: &str, accept: &str, session: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = reqwest::Client::new().post(url).header("accept", accept).json(&body);
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send().await.unwrap()
    }

    #[tokio::test]
    async fn serves_health_and_mcp_on_the_pod_ip() {
        let ip = Ipv4Addr::new(127, 1, 250, 7);
        let probe = std::net::TcpListener::bind((ip, 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let mut srv = PodServer::start(ip, &[port], "sandfly-mcp-server", Behaviour::default()).unwrap();
        let base = format!("http://{ip}:{port}");
        let health = reqwest::get(format!("{base}/health")).await.unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(health.json::<Value>().await.unwrap(), json!({"status": "ok"}));
        let url = format!("{base}/mcp");
        let both = "application/json, text/event-stream";
        let r = post(&url, "application/json", None, json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).await;
        assert_eq!(r.status(), 406);
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        let r = post(&url, both, None, init).await;
        assert_eq!(r.status(), 200);
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["result"]["protocolVersion"], "2025-03-26");
        let r = post(&url, both, Some(&sid), json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        assert_eq!(r.status(), 202);
        let r = post(&url, both, Some(&sid), json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["result"]["tools"][0]["name"], "sandfly_list_hosts");
        let r = post(&url, both, Some(&sid), json!({"jsonrpc": "2.0", "id": 3, "method": "nope"})).await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], -32601);
        let r = reqwest::get(&url).await.unwrap();
        assert_eq!(r.status(), 405);
        srv.stop();
        let refused = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                if tokio::net::TcpStream::connect((ip, port)).await.is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(refused.is_ok(), "stopped server still accepts");
    }

    #[tokio::test]
    async fn the_rmcp_client_lists_and_calls_tools() {
        use rmcp::ServiceExt;
        use rmcp::model::CallToolRequestParams;
        use rmcp::transport::StreamableHttpClientTransport;
        let ip = Ipv4Addr::new(127, 1, 250, 9);
        let probe = std::net::TcpListener::bind((ip, 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let _srv = PodServer::start(ip, &[port], "sandfly-mcp-server", Behaviour::default()).unwrap();
        let transport = StreamableHttpClientTransport::from_uri(format!("http://{ip}:{port}/mcp"));
        let client = ().serve(transport).await.expect("initialize");
        let info = client.peer_info().expect("server info");
        assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("sandfly-mcp-server"));
        let tools = client.list_all_tools().await.expect("tools/list");
        assert!(tools.iter().any(|t| t.name == "sandfly_list_hosts"));
        let args = json!({"summary": true, "page": 1, "size": 100}).as_object().cloned().unwrap();
        let res = client
            .call_tool(CallToolRequestParams::new("sandfly_list_hosts").with_arguments(args))
            .await
            .expect("tools/call");
        let text = serde_json::to_value(&res.content).unwrap()[0]["text"].as_str().unwrap().to_string();
        assert!(text.contains("web-01.example.internal"), "{text}");
        let _ = client.cancel().await;
    }

    #[tokio::test]
    async fn a_dead_mcp_process_still_passes_health() {
        let ip = Ipv4Addr::new(127, 1, 250, 11);
        let probe = std::net::TcpListener::bind((ip, 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let b = Behaviour { mcp_down: true, ..Behaviour::default() };
        let _srv = PodServer::start(ip, &[port], "x", b).unwrap();
        let base = format!("http://{ip}:{port}");
        assert_eq!(reqwest::get(format!("{base}/health")).await.unwrap().status(), 200);
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
        let r = post(&format!("{base}/mcp"), "application/json, text/event-stream", None, init).await;
        assert_eq!(r.status(), 503);
    }
}
