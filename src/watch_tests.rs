//! The resumable watch against a scripted server: resume from the last resourceVersion after a
//! close, list afresh after 410 (as an HTTP status and as an ERROR event).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use k8s_openapi::api::core::v1::ConfigMap;

use super::*;

fn cm(name: &str, rv: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"ns","resourceVersion":"{rv}"}}}}"#
    )
}

fn list(rv: &str, names: &[&str]) -> String {
    let items: Vec<String> = names.iter().map(|n| cm(n, rv)).collect();
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMapList","metadata":{{"resourceVersion":"{rv}"}},"items":[{}]}}"#,
        items.join(",")
    )
}

fn event(kind: &str, obj: &str) -> String {
    format!("{{\"type\":\"{kind}\",\"object\":{obj}}}\n")
}

const GONE: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (9)","reason":"Expired","code":410}"#;

/// Serves `script(i, uri)` to the i-th request; records the URIs.
async fn fake(script: fn(usize, &str) -> (u16, String)) -> (Api<ConfigMap>, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let log = log.clone();
        async move {
            let uri = uri.to_string();
            let i = {
                let mut l = log.lock().unwrap();
                l.push(uri.clone());
                l.len() - 1
            };
            let (code, body) = script(i, &uri);
            (StatusCode::from_u16(code).unwrap(), [("content-type", "application/json")], body).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = crate::client::build(&kube::Config::new(format!("http://{addr}").parse().unwrap())).unwrap();
    (Api::namespaced(client, "ns"), seen)
}

async fn collect(stream: WatchStream<ConfigMap>, n: usize) -> Vec<String> {
    let got = stream
        .take(n)
        .map(|e| match e {
            Ok(watcher::Event::Apply(k)) => format!("apply {}", k.metadata.name.unwrap_or_default()),
            Ok(watcher::Event::Delete(k)) => format!("delete {}", k.metadata.name.unwrap_or_default()),
            Ok(watcher::Event::Init) => "init".into(),
            Ok(watcher::Event::InitApply(k)) => format!("listed {}", k.metadata.name.unwrap_or_default()),
            Ok(watcher::Event::InitDone) => "done".into(),
            Err(e) => format!("error {e}"),
        })
        .collect::<Vec<_>>();
    tokio::time::timeout(Duration::from_secs(10), got).await.expect("the watch delivers")
}

fn param<'a>(uri: &'a str, key: &str) -> Option<&'a str> {
    uri.split(['?', '&']).find_map(|p| p.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

#[tokio::test]
async fn a_closed_watch_resumes_from_the_last_version_seen() {
    let (api, seen) = fake(|i, _| match i {
        0 => (200, list("5", &["a"])),
        1 => (200, event("MODIFIED", &cm("a", "7"))),
        2 => (200, event("ADDED", &cm("b", "8"))),
        _ => (200, String::new()),
    })
    .await;
    let got = collect(resumable(api, &watcher::Config::default().timeout(20)), 5).await;
    assert_eq!(got, ["init", "listed a", "done", "apply a", "apply b"]);
    let seen = seen.lock().unwrap();
    assert_eq!(param(&seen[1], "resourceVersion"), Some("5"), "{seen:?}");
    assert_eq!(param(&seen[1], "watch"), Some("true"));
    assert_eq!(param(&seen[2], "resourceVersion"), Some("7"), "resumed after the close: {seen:?}");
}

#[tokio::test]
async fn a_watch_refused_with_410_lists_afresh() {
    let (api, seen) = fake(|i, _| match i {
        0 => (200, list("5", &["a"])),
        1 => (410, GONE.to_string()),
        2 => (200, list("9", &["a", "b"])),
        3 => (200, event("DELETED", &cm("a", "10"))),
        _ => (200, String::new()),
    })
    .await;
    let got = collect(resumable(api, &watcher::Config::default()), 9).await;
    assert_eq!(got[..3], ["init", "listed a", "done"]);
    assert!(got[3].starts_with("error "), "{got:?}");
    assert_eq!(got[4..], ["init", "listed a", "listed b", "done", "delete a"]);
    let seen = seen.lock().unwrap();
    assert!(param(&seen[2], "watch").is_none(), "the second request after 410 is a list: {seen:?}");
    assert_eq!(param(&seen[3], "resourceVersion"), Some("9"));
}

#[tokio::test]
async fn an_expired_event_lists_afresh() {
    let (api, seen) = fake(|i, _| match i {
        0 => (200, list("5", &["a"])),
        1 => (200, format!("{{\"type\":\"ERROR\",\"object\":{GONE}}}\n")),
        2 => (200, list("9", &["b"])),
        _ => (200, String::new()),
    })
    .await;
    let got = collect(resumable(api, &watcher::Config::default()), 7).await;
    assert!(got[3].starts_with("error "), "{got:?}");
    assert_eq!(got[4..], ["init", "listed b", "done"]);
    assert!(param(&seen.lock().unwrap()[2], "watch").is_none());
}

#[test]
fn permanence() {
    let api = |code| kube::Error::Api(Box::new(kube::core::Status { code, ..Default::default() }));
    assert!(is_permanent(&watcher::Error::WatchStartFailed(api(403))));
    assert!(!is_permanent(&watcher::Error::WatchStartFailed(api(410))));
    assert!(!is_permanent(&watcher::Error::InitialListFailed(api(503))));
}
