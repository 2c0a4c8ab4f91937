//! A scripted API server on loopback for tests of the reading stages. Like a real one where the
//! code depends on it: only GET is served (the reading stages never write; anything else is a
//! 405 Status), a route matches by the end of the path and by the query parameters it names
//! (`"/log?previous=true"`), and lists are filtered by the request's `labelSelector` and
//! `fieldSelector`. The longest matching route wins; anything else is a 404 Status.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
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
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let seen = seen.clone();
        let routes = routes.clone();
        async move {
            let full = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let prefix = if method == Method::GET { String::new() } else { format!("{method} ") };
            seen.lock().expect("log lock").push(format!("{prefix}{full} accept={accept}"));
            if method != Method::GET {
                let status = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                    "message":format!("{method} is not served by this fake: the reading stages only read"),
                    "reason":"MethodNotAllowed","code":405});
                return (StatusCode::METHOD_NOT_ALLOWED, axum::Json(status)).into_response();
            }
            let query = query_pairs(uri.query().unwrap_or_default());
            let hit = routes
                .iter()
                .filter(|(frag, _, _)| route_matches(frag, uri.path(), &query))
                .max_by_key(|(frag, _, _)| frag.len());
            match hit {
                Some((_, code, body)) => {
                    let code = StatusCode::from_u16(*code).unwrap_or(StatusCode::OK);
                    match body {
                        // Logs are plain text.
                        Value::String(text) => (code, text.clone()).into_response(),
                        _ => (code, axum::Json(select(body, &query))).into_response(),
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

/// Decoded `key=value` pairs of a query string.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// Whether a route (`/path-suffix` with optional `?k=v&...`) matches the request.
fn route_matches(route: &str, path: &str, query: &[(String, String)]) -> bool {
    let (suffix, wanted) = route.split_once('?').unwrap_or((route, ""));
    path.ends_with(suffix) && query_pairs(wanted).iter().all(|w| query.contains(w))
}

/// A list body filtered by the request's label and field selectors, as a server applies them;
/// other bodies unchanged.
fn select(body: &Value, query: &[(String, String)]) -> Value {
    let Some(items) = body.get("items").and_then(Value::as_array) else { return body.clone() };
    let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str()).unwrap_or_default();
    let (labels, fields) = (get("labelSelector"), get("fieldSelector"));
    let kept: Vec<Value> = items
        .iter()
        .filter(|item| {
            let label = |k: &str| item["metadata"]["labels"].get(k).and_then(Value::as_str).map(str::to_string);
            let field = |k: &str| {
                k.split('.').try_fold(*item, |v, part| v.get(part)).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            };
            selector_matches(labels, label) && selector_matches(fields, field)
        })
        .cloned()
        .collect();
    let mut out = body.clone();
    out["items"] = Value::Array(kept);
    out
}

/// Whether an object satisfies a selector (`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
/// `k notin (a,b)`, comma-separated), `value` giving the object's value for a key.
fn selector_matches(selector: &str, value: impl Fn(&str) -> Option<String>) -> bool {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms.iter().map(|t| t.trim()).filter(|t| !t.is_empty()).all(|term| {
        let set = |rest: &str| -> Vec<String> {
            rest.trim().trim_start_matches('(').trim_end_matches(')').split(',').map(|v| v.trim().to_string()).collect()
        };
        if let Some((k, v)) = term.split_once("!=") {
            value(k.trim()).as_deref() != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            value(k.trim()).as_deref() == Some(v.trim())
        } else if let Some((k, rest)) = term.split_once(" notin ") {
            value(k.trim()).is_none_or(|v| !set(rest).contains(&v))
        } else if let Some((k, rest)) = term.split_once(" in ") {
            value(k.trim()).is_some_and(|v| set(rest).contains(&v))
        } else if let Some(k) = term.strip_prefix('!') {
            value(k.trim()).is_none()
        } else {
            value(term).is_some()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_filter_like_a_server() {
        let labels = |k: &str| match k {
            "app" => Some("web".to_string()),
            "tier" => Some("front".to_string()),
            _ => None,
        };
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app=db", false),
            ("app!=db", true),
            ("tier", true),
            ("!tier", false),
            ("app in (db,web)", true),
            ("app notin (db,web)", false),
            ("", true),
        ] {
            assert_eq!(selector_matches(sel, labels), want, "{sel}");
        }
        let body = list(
            "PodList",
            vec![
                json!({"metadata": {"name": "a", "labels": {"app": "web"}}}),
                json!({"metadata": {"name": "b", "labels": {"app": "db"}}}),
            ],
        );
        let q = query_pairs("labelSelector=app%3Dweb");
        assert_eq!(select(&body, &q)["items"].as_array().unwrap().len(), 1);
        let q = query_pairs("fieldSelector=metadata.name%3Db");
        assert_eq!(select(&body, &q)["items"][0]["metadata"]["name"], "b");
        assert!(route_matches(
            "/log?previous=true",
            "/api/v1/namespaces/n/pods/p/log",
            &query_pairs("previous=true&x=1")
        ));
        assert!(!route_matches("/log?previous=true", "/api/v1/namespaces/n/pods/p/log", &query_pairs("x=1")));
    }
}
