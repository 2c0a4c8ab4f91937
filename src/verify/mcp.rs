//! The `mcp` probe: an MCP `initialize`, then `tools/list`; both must succeed. Straight to the
//! URL and through the API server's service proxy alike it speaks the few JSON-RPC messages
//! itself ([`exchange`]), accepting JSON or SSE answers and keeping `Mcp-Session-Id`, reading
//! at most 64 KiB of each answer, following no redirect ([`BoundedProbe`]). rmcp's streamable
//! HTTP client stays available behind the small [`McpProbe`] trait ([`RmcpProbe`]).

use std::time::Duration;

use axum::http; // the `http` crate, as re-exported by axum (kube does not re-export it)
use futures::future::BoxFuture;
use serde_json::{Value, json};
use url::Url;

use super::probe::error_chain;

/// What a successful MCP probe learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpSummary {
    /// `serverInfo.name` from `initialize`.
    pub server: String,
    /// How many tools `tools/list` returned (first page).
    pub tools: usize,
}

/// Performs MCP `initialize` + `tools/list` against a URL. A trait so tests and future rmcp
/// versions can swap the implementation without touching verification.
pub trait McpProbe: Send + Sync {
    /// Runs the exchange within `timeout`; the error is one sentence.
    fn probe<'a>(&'a self, url: &'a Url, timeout: Duration) -> BoxFuture<'a, Result<McpSummary, String>>;
}

/// [`McpProbe`] with [`exchange`] over a [`ReqwestPoster`]: bounded reads, no redirects, no
/// system proxy (the default for direct probes).
#[derive(Clone, Debug)]
pub struct BoundedProbe {
    /// A client from [`super::probe::direct_client`], or why it could not be built.
    pub client: Result<reqwest::Client, String>,
}

impl McpProbe for BoundedProbe {
    fn probe<'a>(&'a self, url: &'a Url, timeout: Duration) -> BoxFuture<'a, Result<McpSummary, String>> {
        Box::pin(async move {
            let client = self.client.clone().map_err(|e| format!("failed to build an HTTP client: {e}"))?;
            let poster = ReqwestPoster { client, url: url.clone() };
            exchange_within(&poster, timeout).await
        })
    }
}

/// [`McpProbe`] with rmcp 3.11's streamable HTTP client.
#[derive(Clone, Copy, Debug, Default)]
pub struct RmcpProbe;

impl McpProbe for RmcpProbe {
    fn probe<'a>(&'a self, url: &'a Url, timeout: Duration) -> BoxFuture<'a, Result<McpSummary, String>> {
        Box::pin(async move {
            use rmcp::ServiceExt;
            use rmcp::model::ClientConfig;
            use rmcp::transport::StreamableHttpClientTransport;
            use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

            let work = async {
                let transport = StreamableHttpClientTransport::from_config(
                    StreamableHttpClientTransportConfig::with_uri(url.as_str()),
                );
                let client = ClientConfig::default()
                    .serve(transport)
                    .await
                    .map_err(|e| format!("MCP initialize failed: {}", tidy(&error_chain(&e))))?;
                let server =
                    client.peer_info().and_then(|i| i.server_info.as_ref().map(|s| s.name.clone())).unwrap_or_default();
                let listed = client.list_tools(None).await;
                let _ = client.cancel().await;
                let tools =
                    listed.map_err(|e| format!("MCP tools/list failed: {}", tidy(&error_chain(&e))))?.tools.len();
                Ok(McpSummary { server, tools })
            };
            tokio::time::timeout(timeout, work)
                .await
                .unwrap_or_else(|_| Err(format!("no MCP answer within {}", humantime::format_duration(timeout))))
        })
    }
}

/// rmcp's errors name their transport's full generic type (`Transport [rmcp::...<...>]`);
/// an operator needs the rest of the sentence. The orchestrator's MCP client tidies the same way.
pub(crate) fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One HTTP answer to a POST.
#[derive(Clone, Debug, Default)]
pub struct PostAnswer {
    /// HTTP status.
    pub status: u16,
    /// Content-Type header.
    pub content_type: String,
    /// `Mcp-Session-Id` header, if any.
    pub session: Option<String>,
    /// The body (at most 64 KiB of it).
    pub body: Vec<u8>,
    /// The body was longer than what was read.
    pub truncated: bool,
}

impl PostAnswer {
    /// The parts of an HTTP answer the exchange reads.
    fn new(status: http::StatusCode, headers: &http::HeaderMap, body: super::probe::Capped) -> Self {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        PostAnswer {
            status: status.as_u16(),
            content_type: header("content-type").unwrap_or_default(),
            session: header("mcp-session-id"),
            body: body.bytes,
            truncated: body.truncated,
        }
    }
}

/// Sends one JSON-RPC POST (a seam so [`exchange`] runs over the kube client or plain HTTP).
pub trait Poster: Send + Sync {
    /// POSTs `body` with `Accept: application/json, text/event-stream` and the session and
    /// protocol-version headers when given.
    fn post<'a>(
        &'a self,
        body: Vec<u8>,
        session: Option<&'a str>,
        protocol: Option<&'a str>,
    ) -> BoxFuture<'a, Result<PostAnswer, String>>;
}

const ACCEPT: &str = "application/json, text/event-stream";
/// The protocol version we offer; servers answer with theirs.
const PROTOCOL_VERSION: &str = "2025-06-18";

fn request(method: &str, body: Vec<u8>, session: Option<&str>, protocol: Option<&str>) -> http::request::Builder {
    let mut b = http::Request::builder()
        .method(method)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, ACCEPT)
        .header(http::header::CONTENT_LENGTH, body.len());
    if let Some(s) = session {
        b = b.header("Mcp-Session-Id", s);
    }
    if let Some(p) = protocol {
        b = b.header("MCP-Protocol-Version", p);
    }
    b
}

/// [`Poster`] through the API server's service proxy with the kube client.
pub struct KubePoster {
    /// The kube client.
    pub client: kube::Client,
    /// The service-proxy path.
    pub path: String,
}

impl Poster for KubePoster {
    fn post<'a>(
        &'a self,
        body: Vec<u8>,
        session: Option<&'a str>,
        protocol: Option<&'a str>,
    ) -> BoxFuture<'a, Result<PostAnswer, String>> {
        Box::pin(async move {
            let req = request("POST", body.clone(), session, protocol)
                .uri(&self.path)
                .body(kube::client::Body::from(body))
                .map_err(|e| format!("failed to build the MCP request: {e}"))?;
            let resp = self.client.send(req).await.map_err(|e| error_chain(&e))?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            let body = super::probe::read_capped_kube(resp.into_body()).await?;
            Ok(PostAnswer::new(status, &headers, body))
        })
    }
}

/// [`Poster`] straight to a URL with reqwest.
pub struct ReqwestPoster {
    /// The HTTP client.
    pub client: reqwest::Client,
    /// The MCP endpoint.
    pub url: Url,
}

impl Poster for ReqwestPoster {
    fn post<'a>(
        &'a self,
        body: Vec<u8>,
        session: Option<&'a str>,
        protocol: Option<&'a str>,
    ) -> BoxFuture<'a, Result<PostAnswer, String>> {
        Box::pin(async move {
            let req = request("POST", body.clone(), session, protocol)
                .uri(self.url.as_str())
                .body(body)
                .map_err(|e| format!("failed to build the MCP request: {e}"))?;
            let req = reqwest::Request::try_from(req).map_err(|e| error_chain(&e))?;
            let resp = self.client.execute(req).await.map_err(|e| error_chain(&e))?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            let body = super::probe::read_capped_reqwest(resp).await?;
            Ok(PostAnswer::new(status, &headers, body))
        })
    }
}

/// The JSON-RPC messages in an answer: a JSON body (object or batch), or SSE `data:` events
/// (LF or CRLF line ends; multi-line data joined with `\n`).
pub fn messages(answer: &PostAnswer) -> Vec<Value> {
    let text = String::from_utf8_lossy(&answer.body);
    if answer.content_type.starts_with("text/event-stream") {
        let mut out = Vec::new();
        let mut data: Vec<&str> = Vec::new();
        for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).chain([""]) {
            if line.is_empty() {
                if !data.is_empty() {
                    if let Ok(v) = serde_json::from_str::<Value>(&data.join("\n")) {
                        out.push(v);
                    }
                    data.clear();
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        out
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(_) => Vec::new(),
        }
    }
}

/// The `result` of the response with `id`, or a sentence saying why there is none.
fn result_for(method: &str, answer: &PostAnswer, id: i64) -> Result<Value, String> {
    if !(200..300).contains(&answer.status) {
        return Err(format!("MCP {method} answered HTTP {}", answer.status));
    }
    let reply = messages(answer).into_iter().find(|m| m["id"] == json!(id));
    match reply {
        None => Err(format!("MCP {method} got no JSON-RPC response (HTTP {}, {})", answer.status, answer.content_type)),
        Some(m) if m.get("error").is_some() => {
            let e = &m["error"];
            Err(format!("MCP {method} returned error {}: {}", e["code"], e["message"].as_str().unwrap_or_default()))
        }
        Some(m) => m.get("result").cloned().ok_or_else(|| format!("MCP {method} response has no result")),
    }
}

/// Whether a 2xx answer cut at 64 KiB starts as the JSON-RPC result of `tools/list` (id 2)
/// with a tools array, in a JSON body or the first SSE `data:` line.
fn partial_tools_result(answer: &PostAnswer) -> bool {
    if !(200..300).contains(&answer.status) {
        return false;
    }
    let text = String::from_utf8_lossy(&answer.body);
    let start = text.find('{').map_or("", |i| &text[i..]);
    let compact: String = start.chars().take(512).filter(|c| !c.is_whitespace()).collect();
    compact.contains("\"jsonrpc\":\"2.0\"") && compact.contains("\"id\":2") && compact.contains("\"tools\":[")
}

/// Runs `initialize`, `notifications/initialized` and `tools/list` over `poster`.
///
/// # Errors
/// One sentence naming the step that failed.
pub async fn exchange(poster: &dyn Poster) -> Result<McpSummary, String> {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "self-heal", "version": env!("CARGO_PKG_VERSION")}}});
    let answer = poster
        .post(init.to_string().into_bytes(), None, None)
        .await
        .map_err(|e| format!("MCP initialize failed: {e}"))?;
    let result = result_for("initialize", &answer, 1)?;
    let session = answer.session.clone();
    let protocol = result["protocolVersion"].as_str().unwrap_or(PROTOCOL_VERSION).to_string();
    let server = result["serverInfo"]["name"].as_str().unwrap_or_default().to_string();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ack = poster
        .post(note.to_string().into_bytes(), session.as_deref(), Some(&protocol))
        .await
        .map_err(|e| format!("MCP notifications/initialized failed: {e}"))?;
    if !(200..300).contains(&ack.status) {
        return Err(format!("MCP notifications/initialized answered HTTP {}", ack.status));
    }
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let answer = poster
        .post(list.to_string().into_bytes(), session.as_deref(), Some(&protocol))
        .await
        .map_err(|e| format!("MCP tools/list failed: {e}"))?;
    let tools = match result_for("tools/list", &answer, 2) {
        Ok(result) => result["tools"].as_array().ok_or("MCP tools/list result has no tools array")?.len(),
        // A long tool list read only in part: the server answered tools/list; count the tools
        // in the part read.
        Err(_) if answer.truncated && partial_tools_result(&answer) => {
            String::from_utf8_lossy(&answer.body).matches("\"inputSchema\"").count()
        }
        Err(e) => return Err(e),
    };
    Ok(McpSummary { server, tools })
}

/// [`exchange`] within `timeout`.
pub async fn exchange_within(poster: &dyn Poster, timeout: Duration) -> Result<McpSummary, String> {
    tokio::time::timeout(timeout, exchange(poster))
        .await
        .unwrap_or_else(|_| Err(format!("no MCP answer within {}", humantime::format_duration(timeout))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn rmcp_type_names_are_dropped_from_messages() {
        let raw = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::X<reqwest::Client>>] error: HTTP 503, when send initialize request";
        assert_eq!(tidy(raw), "Send message error Transport error: HTTP 503, when send initialize request");
        assert_eq!(tidy("plain [a [nested] b] text"), "plain text");
    }

    /// A tiny MCP server: answers in JSON or in SSE (CRLF line ends), requires the session id
    /// after initialize, and can be "broken" (initialize works, tools/list fails).
    #[derive(Clone)]
    struct Fake {
        sse: bool,
        tools_broken: bool,
        saw_initialized: Arc<AtomicBool>,
        /// How many tools tools/list returns.
        tools: usize,
    }

    async fn handle(axum::extract::State(f): axum::extract::State<Fake>, headers: HeaderMap, body: String) -> Response {
        let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
            return StatusCode::NOT_ACCEPTABLE.into_response();
        }
        let msg: Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        };
        let method = msg["method"].as_str().unwrap_or_default();
        let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok());
        if method != "initialize" && session != Some("sess-1") {
            return (StatusCode::BAD_REQUEST, "missing session").into_response();
        }
        let result = match method {
            "initialize" => json!({"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                                   "serverInfo": {"name": "fake-mcp", "version": "1"}}),
            "notifications/initialized" => {
                f.saw_initialized.store(true, Ordering::SeqCst);
                return StatusCode::ACCEPTED.into_response();
            }
            "tools/list" if f.tools_broken => {
                let err =
                    json!({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32603, "message": "backend down"}});
                return ([("content-type", "application/json")], err.to_string()).into_response();
            }
            "tools/list" => {
                let tools: Vec<Value> = (0..f.tools)
                    .map(|i| json!({"name": format!("tool-{i}"), "inputSchema": {"type": "object"}}))
                    .collect();
                json!({"tools": tools})
            }
            _ => return StatusCode::ACCEPTED.into_response(),
        };
        let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": result}).to_string();
        let mut resp = if f.sse {
            ([("content-type", "text/event-stream")], format!("event: message\r\ndata: {reply}\r\n\r\n"))
                .into_response()
        } else {
            ([("content-type", "application/json")], reply).into_response()
        };
        resp.headers_mut().insert("mcp-session-id", "sess-1".parse().unwrap());
        resp
    }

    async fn serve(f: Fake) -> Url {
        let app = Router::new()
            .route(
                "/mcp",
                post(handle).get(|| async { StatusCode::METHOD_NOT_ALLOWED }).delete(|| async { StatusCode::OK }),
            )
            .with_state(f);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/mcp").parse().unwrap()
    }

    fn fake(sse: bool, tools_broken: bool) -> Fake {
        Fake { sse, tools_broken, saw_initialized: Arc::new(AtomicBool::new(false)), tools: 1 }
    }

    fn poster(url: &Url) -> ReqwestPoster {
        ReqwestPoster { client: reqwest::Client::builder().no_proxy().build().unwrap(), url: url.clone() }
    }

    #[tokio::test]
    async fn a_tool_list_beyond_64_kib_is_read_in_part_and_still_answers() {
        for sse in [false, true] {
            let url = serve(Fake { tools: 5000, ..fake(sse, false) }).await;
            let got = exchange_within(&poster(&url), Duration::from_secs(5)).await.unwrap();
            assert_eq!(got.server, "fake-mcp", "sse={sse}");
            assert!((100..5000).contains(&got.tools), "counted in the part read: {got:?}");
            let bounded = BoundedProbe { client: super::super::probe::direct_client().map_err(|e| e.to_string()) };
            assert!(bounded.probe(&url, Duration::from_secs(5)).await.is_ok(), "sse={sse}");
        }
    }

    #[tokio::test]
    async fn hand_exchange_against_json_and_sse_servers() {
        for sse in [false, true] {
            let f = fake(sse, false);
            let url = serve(f.clone()).await;
            let got = exchange_within(&poster(&url), Duration::from_secs(5)).await;
            assert_eq!(got, Ok(McpSummary { server: "fake-mcp".into(), tools: 1 }), "sse={sse}");
            assert!(f.saw_initialized.load(Ordering::SeqCst), "sse={sse}: notifications/initialized not sent");
        }
    }

    #[tokio::test]
    async fn hand_exchange_fails_when_tools_list_fails() {
        let url = serve(fake(true, true)).await;
        let err = exchange_within(&poster(&url), Duration::from_secs(5)).await.unwrap_err();
        assert!(err.contains("tools/list") && err.contains("backend down"), "{err}");
    }

    #[tokio::test]
    async fn rmcp_probe_against_json_and_sse_servers() {
        for sse in [false, true] {
            let url = serve(fake(sse, false)).await;
            let got = RmcpProbe.probe(&url, Duration::from_secs(10)).await;
            assert_eq!(got, Ok(McpSummary { server: "fake-mcp".into(), tools: 1 }), "sse={sse}");
        }
        let broken = serve(fake(false, true)).await;
        assert!(RmcpProbe.probe(&broken, Duration::from_secs(10)).await.is_err());
    }

    #[tokio::test]
    async fn refused_is_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url: Url = format!("http://127.0.0.1:{port}/mcp").parse().unwrap();
        assert!(exchange_within(&poster(&url), Duration::from_secs(5)).await.is_err());
        assert!(RmcpProbe.probe(&url, Duration::from_secs(5)).await.is_err());
    }

    #[test]
    fn sse_parsing_handles_crlf_and_multiline_data() {
        let a = PostAnswer {
            status: 200,
            content_type: "text/event-stream".into(),
            session: None,
            body: b": comment\r\nid: 1\r\ndata: {\"id\":1,\r\ndata: \"result\":{}}\r\n\r\ndata: {\"id\":2}\n\n"
                .to_vec(),
            truncated: false,
        };
        assert_eq!(messages(&a), vec![json!({"id": 1, "result": {}}), json!({"id": 2})]);
    }
}
