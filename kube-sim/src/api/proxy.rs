//! The services proxy: `/api/v1/namespaces/{ns}/services/{name}[:{port}]/proxy/{path}`
//! forwards to a ready address of the Service's Endpoints (pods are loopback servers).

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiState, Req, Target};
use crate::resources;
use crate::store::ApiError;

/// How long the backend may take to send its response headers.
const PROXY_TIMEOUT: Duration = Duration::from_secs(30);

fn unavailable(message: String) -> ApiError {
    ApiError::new(503, "ServiceUnavailable", message, json!({}))
}

/// The Endpoints port for a Service port given as name or number (or the only port).
fn endpoint_port(svc: &Value, subset: &Value, wanted: Option<&str>) -> Option<u64> {
    let svc_ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let sp = match wanted {
        Some(w) => svc_ports.iter().find(|p| {
            p["name"].as_str() == Some(w)
                || (w.parse::<u64>().ok().is_some() && w.parse::<u64>().ok() == p["port"].as_u64())
        })?,
        None => svc_ports.first()?,
    };
    let ep_ports = subset["ports"].as_array().cloned().unwrap_or_default();
    let by_name = ep_ports.iter().find(|p| p["name"] == sp["name"] || (p["name"].is_null() && sp["name"].is_null()));
    by_name.or(ep_ports.first()).and_then(|p| p["port"].as_u64())
}

/// Forwards the request and relays status, content type and body.
pub(super) async fn proxy(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let ns = t.ns.as_deref().unwrap_or_default();
    let spec = t.name.as_deref().unwrap_or_default();
    let mut parts: Vec<&str> = spec.split(':').collect();
    if parts.len() == 3 {
        parts.remove(0); // scheme
    }
    let (name, port) = (parts[0], parts.get(1).copied().filter(|p| !p.is_empty()));
    let svc = st.store.get_or_404(&resources::SERVICES, ns, name)?;
    let eps = st.store.get(&resources::ENDPOINTS, ns, name).unwrap_or(Value::Null);
    let target = eps["subsets"].as_array().into_iter().flatten().find_map(|subset| {
        let ip = subset["addresses"].as_array()?.first()?["ip"].as_str()?.to_string();
        Some((ip, endpoint_port(&svc, subset, port)?))
    });
    let Some((ip, port)) = target else {
        return Err(unavailable(format!("no endpoints available for service \"{name}\"")));
    };
    let mut url = format!("http://{ip}:{port}/{}", t.rest);
    let query: Vec<(String, String)> = req.query.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish());
    }
    let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes())
        .map_err(|_| ApiError::bad_request("unsupported method"))?;
    let mut out = st.http.request(method, &url).body(req.body.clone());
    for h in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = req.headers.get(&h).and_then(|v| v.to_str().ok()) {
            out = out.header(h.as_str(), v);
        }
    }
    for (k, v) in &req.headers {
        if k.as_str().starts_with("mcp-")
            && let Ok(v) = v.to_str()
        {
            out = out.header(k.as_str(), v);
        }
    }
    let answer = tokio::time::timeout(PROXY_TIMEOUT, out.send())
        .await
        .map_err(|_| unavailable(format!("error trying to reach service: dial tcp {ip}:{port}: i/o timeout")))?
        .map_err(|e| unavailable(format!("error trying to reach service: dial tcp {ip}:{port}: {}", root_cause(&e))))?;
    let code = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let session = answer.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    // Streamed, so an SSE answer reaches the client as the backend writes it.
    let body = answer.bytes_stream();
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = code;
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Some(s) = session.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert("mcp-session-id", s);
    }
    Ok(resp)
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if cur.to_string().contains("refused") { "connect: connection refused".into() } else { cur.to_string() }
}

#[cfg(test)]
mod tests {
    use axum::http::Uri;
    use serde_json::json;

    use crate::resources;

    #[tokio::test]
    async fn forwards_to_a_ready_endpoint_and_relays_the_answer() {
        let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = backend.local_addr().unwrap().port();
        let app = axum::Router::new().fallback(|uri: Uri, body: String| async move {
            (axum::http::StatusCode::IM_A_TEAPOT, format!("{uri} {body}"))
        });
        tokio::spawn(async move { axum::serve(backend, app).await });

        // No controllers: only this test writes the Endpoints.
        let (url, st, http) = crate::api::serve_without_controllers().await;
        let svc =
            json!({"metadata": {"name": "s"}, "spec": {"ports": [{"name": "http", "port": 80, "targetPort": port}]}});
        st.store.create(&resources::SERVICES, "default", svc, false).unwrap();
        let eps = json!({"metadata": {"name": "s"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}]});
        st.store.create(&resources::ENDPOINTS, "default", eps, false).unwrap();

        let target = format!("{url}/api/v1/namespaces/default/services/s:http/proxy/mcp/x?a=1");
        let r = http.post(target).body("ping").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 418);
        assert_eq!(r.text().await.unwrap(), "/mcp/x?a=1 ping");

        st.store.delete(&resources::ENDPOINTS, "default", "s", false).unwrap();
        let r = http.get(format!("{url}/api/v1/namespaces/default/services/s/proxy/")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 503);
        let status: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status["message"], "no endpoints available for service \"s\"");
    }
}
