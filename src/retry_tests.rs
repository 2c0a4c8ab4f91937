//! The retry layer against a scripted raw HTTP server: what is sent again, when, and what is not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service as KubeService;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::*;

/// What the fake answers to one request.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16, Option<u64>),
    Ok,
    /// Close the connection without answering.
    Drop,
}

/// Serves `script[i]` to the i-th request (the last entry for any later one); returns the
/// request lines seen.
async fn fake(script: Vec<Answer>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (log, script) = (log.clone(), script.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let index = {
                    let mut l = log.lock().unwrap();
                    l.push(head.lines().next().unwrap_or_default().to_string());
                    l.len() - 1
                };
                let answer = script[index.min(script.len() - 1)];
                let (code, extra, body) = match answer {
                    Answer::Drop => return,
                    Answer::Ok => (
                        200,
                        String::new(),
                        r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"x","namespace":"ns"}}"#.to_string(),
                    ),
                    Answer::Status(code, after) => (
                        code,
                        after.map(|s| format!("retry-after: {s}\r\n")).unwrap_or_default(),
                        format!(
                            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"m","reason":"R","code":{code}}}"#
                        ),
                    ),
                };
                let reply = format!(
                    "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\n{extra}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn client(url: &str, budget: Budget) -> kube::Client {
    crate::client::build_with(&kube::Config::new(url.parse().unwrap()), budget).unwrap()
}

fn within(secs: f64) -> Budget {
    let total = Duration::from_secs_f64(secs);
    Budget { deadline: Some(Instant::now() + total), reserve: Duration::ZERO, record: Record::default() }
}

#[tokio::test]
async fn a_read_is_sent_again_on_each_retryable_status_until_it_succeeds() {
    let script = [500, 502, 503, 504].map(|c| Answer::Status(c, None)).into_iter().chain([Answer::Ok]).collect();
    let (url, seen) = fake(script).await;
    let api: Api<KubeService> = Api::namespaced(client(&url, within(20.0)), "ns");
    api.get("x").await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.iter().all(|l| l.starts_with("GET /api/v1/namespaces/ns/services/x ")), "{seen:?}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (url, seen) = fake(vec![Answer::Status(429, Some(1)), Answer::Ok]).await;
    let api: Api<KubeService> = Api::namespaced(client(&url, within(20.0)), "ns");
    let started = Instant::now();
    api.get("x").await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_write_answered_with_an_error_is_not_sent_again() {
    for answer in [Answer::Status(503, None), Answer::Status(429, Some(0)), Answer::Drop] {
        let (url, seen) = fake(vec![answer, Answer::Ok]).await;
        let api: Api<Deployment> = Api::namespaced(client(&url, within(20.0)), "ns");
        let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": 1}}));
        api.patch("web", &PatchParams::default(), &patch).await.unwrap_err();
        assert_eq!(seen.lock().unwrap().len(), 1, "the write may have landed: never blindly again");
    }
}

#[tokio::test]
async fn a_read_whose_connection_dropped_is_sent_again() {
    let (url, seen) = fake(vec![Answer::Drop, Answer::Drop, Answer::Ok]).await;
    let api: Api<KubeService> = Api::namespaced(client(&url, within(20.0)), "ns");
    api.get("x").await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn gives_up_within_the_budget_and_names_the_last_answer() {
    let (url, seen) = fake(vec![Answer::Status(503, None)]).await;
    let budget = within(1.5);
    let record = budget.record.clone();
    let api: Api<KubeService> = Api::namespaced(client(&url, budget), "ns");
    let started = Instant::now();
    let err = api.get("x").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 503), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(1500), "stopped before the deadline: {:?}", started.elapsed());
    assert!(seen.lock().unwrap().len() >= 3, "backoff starts at 100 ms: several tries fit");
    let outage = record.last_outage().expect("the give-up is recorded");
    assert_eq!(outage.request, "GET services/x");
    assert_eq!(outage.answer, "answered 503 Service Unavailable");
    assert!(
        outage.sentence().starts_with("The Kubernetes API answered 503 Service Unavailable to GET services/x for "),
        "{}",
        outage.sentence()
    );
}

#[tokio::test]
async fn an_api_that_never_answered_fails_fast() {
    // A port nobody listens on: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let budget = within(60.0);
    let record = budget.record.clone();
    let api: Api<KubeService> = Api::namespaced(client(&format!("http://127.0.0.1:{port}"), budget), "ns");
    let started = Instant::now();
    api.get("x").await.unwrap_err();
    // At most 2 retries, backoff caps 100 ms and 200 ms.
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let outage = record.last_outage().unwrap();
    assert!(outage.answer.starts_with("could not be reached ("), "{}", outage.answer);
    assert!(outage.answer.to_lowercase().contains("refused"), "{}", outage.answer);
}

#[test]
fn requests_are_named_by_verb_and_resource() {
    let d = |m: Method, u: &str| describe_request(&m, &u.parse().unwrap());
    assert_eq!(d(Method::GET, "/api/v1/namespaces/ns/services/x"), "GET services/x");
    assert_eq!(d(Method::GET, "/apis/apps/v1/namespaces/ns/pods?labelSelector=a%3Db&watch=true"), "WATCH pods");
    assert_eq!(d(Method::PATCH, "/apis/apps/v1/namespaces/ns/deployments/web/scale"), "PATCH deployments/web/scale");
    assert_eq!(d(Method::GET, "/api/v1/namespaces/ns"), "GET namespaces/ns");
}
