//! The `http` and `tcp` probes, straight or through the API server's service proxy. They judge
//! by protocol outcome only: an HTTP status below 500 is alive; refused, reset, timed out or
//! 5xx is not. Bodies are never searched for words, and never read beyond [`MAX_BODY`].

use std::time::Duration;

use axum::http; // the `http` crate, as re-exported by axum (kube does not re-export it)
use url::Url;

/// The most bytes of any probe or MCP answer read; the rest is left unread.
pub const MAX_BODY: usize = 64 * 1024;

/// At most [`MAX_BODY`] bytes of an answer, and whether it was cut there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capped {
    /// The bytes read.
    pub bytes: Vec<u8>,
    /// The answer had more (the rest was left unread).
    pub truncated: bool,
}

impl Capped {
    fn push(&mut self, data: &[u8]) {
        let room = MAX_BODY - self.bytes.len();
        self.truncated |= data.len() > room;
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }
}

/// Reads at most [`MAX_BODY`] bytes of a kube (API server) answer.
///
/// # Errors
/// The transport error, as one line.
pub async fn read_capped_kube(mut body: kube::client::Body) -> Result<Capped, String> {
    use http_body_util::BodyExt;
    let mut out = Capped::default();
    while !out.truncated && out.bytes.len() < MAX_BODY {
        let Some(frame) = body.frame().await else { return Ok(out) };
        if let Ok(data) = frame.map_err(|e| error_chain(&e))?.into_data() {
            out.push(&data);
        }
    }
    out.truncated = true;
    Ok(out)
}

/// Reads at most [`MAX_BODY`] bytes of a reqwest answer.
///
/// # Errors
/// The transport error, as one line.
pub async fn read_capped_reqwest(mut resp: reqwest::Response) -> Result<Capped, String> {
    let mut out = Capped::default();
    while !out.truncated && out.bytes.len() < MAX_BODY {
        let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? else { return Ok(out) };
        out.push(&chunk);
    }
    out.truncated = true;
    Ok(out)
}

/// The HTTP client for direct probes: no redirects followed, no system proxy, nothing from
/// the environment.
///
/// # Errors
/// reqwest's error if the client cannot be built.
pub fn direct_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build()
}

/// One attempt's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Whether the service answered as alive.
    pub ok: bool,
    /// A sentence saying what happened.
    pub message: String,
}

impl Attempt {
    fn new(ok: bool, message: String) -> Self {
        Attempt { ok, message }
    }
}

/// An error and its causes on one line (`error sending request: connection refused`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn status_text(code: u16) -> String {
    match http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()) {
        Some(r) => format!("{code} {r}"),
        None => code.to_string(),
    }
}

/// GETs `url` directly. Alive when it answers below 500.
pub async fn http_direct(client: &reqwest::Client, url: &Url, timeout: Duration) -> Attempt {
    match client.get(url.clone()).timeout(timeout).send().await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let ok = code < 500;
            let verdict = if ok { "alive" } else { "not alive" };
            Attempt::new(ok, format!("GET {url} answered {} ({verdict})", status_text(code)))
        }
        Err(e) if e.is_timeout() => {
            Attempt::new(false, format!("GET {url} got no answer within {}", humantime::format_duration(timeout)))
        }
        Err(e) => Attempt::new(false, format!("GET {url} failed: {}", error_chain(&e))),
    }
}

/// Connects to `url`'s host and port.
pub async fn tcp_direct(url: &Url, timeout: Duration) -> Attempt {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Attempt::new(false, format!("{url} names no host and port to connect to"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Attempt::new(true, format!("connected to {host}:{port}")),
        Ok(Err(e)) => Attempt::new(false, format!("connect to {host}:{port} failed: {e}")),
        Err(_) => Attempt::new(
            false,
            format!("connect to {host}:{port} timed out after {}", humantime::format_duration(timeout)),
        ),
    }
}

/// An answer through the service proxy.
struct ProxyAnswer {
    code: u16,
    /// The API server's own Status message when the answer came from the API server itself
    /// (refused, or could not reach the service) rather than from the service.
    api_status: Option<String>,
}

/// Whether a body is the API server's own `Status` object, not the service's answer.
fn api_status_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    (v["kind"] == "Status" && v["apiVersion"] == "v1").then(|| v["message"].as_str().unwrap_or_default().to_string())
}

async fn proxy_get(client: &kube::Client, path: &str, timeout: Duration) -> Result<ProxyAnswer, String> {
    let req = http::Request::get(path)
        .body(kube::client::Body::empty())
        .map_err(|e| format!("failed to build the proxy request: {e}"))?;
    let work = async {
        let resp = client.send(req).await.map_err(|e| error_chain(&e))?;
        let code = resp.status().as_u16();
        let body = read_capped_kube(resp.into_body()).await?;
        Ok(ProxyAnswer { code, api_status: api_status_message(&body.bytes) })
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}", humantime::format_duration(timeout))))
}

/// GETs `path` (a service-proxy path) through the API server. Alive when the service answers
/// below 500; the API server's own refusals (401/403) are not the service answering.
pub async fn http_proxy(client: &kube::Client, path: &str, timeout: Duration) -> Attempt {
    match proxy_get(client, path, timeout).await {
        Ok(ProxyAnswer { code: code @ (401 | 403), api_status: Some(msg) }) => {
            Attempt::new(false, format!("API server refused the service proxy ({}): {msg}", status_text(code)))
        }
        Ok(ProxyAnswer { code, api_status }) => {
            let ok = code < 500;
            let verdict = if ok { "alive" } else { "not alive" };
            let why = api_status.filter(|_| !ok).map(|m| format!(": {m}")).unwrap_or_default();
            Attempt::new(ok, format!("GET {path} via the API server answered {} ({verdict}){why}", status_text(code)))
        }
        Err(e) => Attempt::new(false, format!("GET {path} via the API server failed: {e}")),
    }
}

/// Through the proxy a raw TCP connect is impossible: the service accepted a connection when
/// the answer comes from it, whatever its status, rather than from the API server failing to
/// reach it.
pub async fn tcp_proxy(client: &kube::Client, path: &str, timeout: Duration) -> Attempt {
    match proxy_get(client, path, timeout).await {
        Ok(ProxyAnswer { code, api_status: Some(msg) }) if code >= 400 => {
            Attempt::new(false, format!("API server could not reach the service ({}): {msg}", status_text(code)))
        }
        Ok(ProxyAnswer { code, .. }) => {
            Attempt::new(true, format!("the service accepted a connection via the API server ({})", status_text(code)))
        }
        Err(e) => Attempt::new(false, format!("connect via the API server failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    async fn serve(router: Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    #[tokio::test]
    async fn http_404_is_alive_and_503_is_not() {
        let addr = serve(
            Router::new()
                .route("/down", get(|| async { (http::StatusCode::SERVICE_UNAVAILABLE, "healthy") }))
                .fallback(|| async { http::StatusCode::NOT_FOUND }),
        )
        .await;
        let t = Duration::from_secs(5);
        let a = http_direct(&client(), &format!("http://{addr}/mcp").parse().unwrap(), t).await;
        assert!(a.ok, "{a:?}");
        assert!(a.message.contains("404 Not Found"), "{a:?}");
        // The body says "healthy"; the status decides.
        let b = http_direct(&client(), &format!("http://{addr}/down").parse().unwrap(), t).await;
        assert!(!b.ok, "{b:?}");
        assert!(b.message.contains("503"), "{b:?}");
    }

    #[tokio::test]
    async fn refused_is_not_alive_for_http_and_tcp() {
        // Bind then drop: nothing listens on that port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url: Url = format!("http://127.0.0.1:{port}/health").parse().unwrap();
        let a = http_direct(&client(), &url, Duration::from_secs(5)).await;
        assert!(!a.ok, "{a:?}");
        let t = tcp_direct(&url, Duration::from_secs(5)).await;
        assert!(!t.ok, "{t:?}");
        assert!(t.message.contains("refused"), "{t:?}");
    }

    #[tokio::test]
    async fn tcp_connects_to_a_listener() {
        let addr = serve(Router::new()).await;
        let t = tcp_direct(&format!("http://{addr}/").parse().unwrap(), Duration::from_secs(5)).await;
        assert!(t.ok, "{t:?}");
    }

    #[test]
    fn api_status_is_told_apart_from_service_bodies() {
        let status = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no endpoints available for service \"x\"","reason":"ServiceUnavailable","code":503}"#;
        assert_eq!(api_status_message(status).as_deref(), Some("no endpoints available for service \"x\""));
        assert_eq!(api_status_message(br#"{"status":"healthy"}"#), None);
        assert_eq!(api_status_message(b"oops"), None);
    }
}
