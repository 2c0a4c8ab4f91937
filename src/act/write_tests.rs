//! Writes safe to repeat: a conflict or an unknown outcome is answered by reading again and
//! deciding again, never by sending the same write blindly.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::*;

fn dep(rv: &str, replicas: i32, stamp: Option<&str>) -> Value {
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "resourceVersion": rv, "generation": 2},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "server", "image": "v3"}]}}}});
    if let Some(s) = stamp {
        d["spec"]["template"]["metadata"]["annotations"] = json!({RESTARTED_AT: s});
    }
    d
}

fn patches(log: &Arc<Mutex<Vec<fake_api::Seen>>>) -> Vec<Value> {
    log.lock().unwrap().iter().filter(|r| r.method == "PATCH").map(|r| r.body.clone()).collect()
}

fn known(rv: &str) -> Deployment {
    serde_json::from_value(dep(rv, 0, None)).unwrap()
}

#[tokio::test]
async fn a_scale_that_landed_behind_an_unknown_outcome_is_not_sent_twice() {
    // 504: the API server gave up waiting, the write may or may not have been applied. Here it was.
    let (client, log) = fake_api::start(|req, _| match req.method.as_str() {
        "PATCH" => (504, fake_api::status(504, "Timeout", "the server was unable to return a response in time")),
        _ => (200, dep("11", 3, None)),
    })
    .await;
    let done = scale(&client, "ns", "web", 3, Some(&known("10")), false).await.unwrap();
    assert_eq!(done, ScaleDone { from: 0, to: 3, changed: true, dry_run: false });
    assert_eq!(patches(&log).len(), 1, "the re-read found it applied");
}

#[tokio::test]
async fn a_conflicting_scale_is_decided_again_with_the_fresh_version() {
    let (client, log) = fake_api::start(|req, i| match (req.method.as_str(), i) {
        ("PATCH", 0) => (409, fake_api::status(409, "Conflict", "the object has been modified")),
        ("GET", _) => (200, dep("12", 0, None)),
        ("PATCH", _) => (200, dep("13", 3, None)),
        _ => (500, fake_api::status(500, "InternalError", "unexpected")),
    })
    .await;
    let done = scale(&client, "ns", "web", 3, Some(&known("10")), false).await.unwrap();
    assert!(done.changed);
    let sent = patches(&log);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["metadata"]["resourceVersion"], "10");
    assert_eq!(sent[1]["metadata"]["resourceVersion"], "12", "the second write carries the re-read version");
}

#[tokio::test]
async fn a_scale_that_keeps_failing_stops_after_the_bounded_attempts() {
    let (client, log) = fake_api::start_with(false, |req, _| match req.method.as_str() {
        "PATCH" => (503, fake_api::status(503, "ServiceUnavailable", "unavailable")),
        _ => (200, dep("10", 0, None)),
    })
    .await;
    let err = scale(&client, "ns", "web", 3, Some(&known("10")), false).await.unwrap_err();
    assert_eq!(err.status_code(), Some(503), "{err:?}");
    assert_eq!(patches(&log).len(), WRITE_ATTEMPTS as usize);

    let (client, log) = fake_api::start_with(false, |req, _| match req.method.as_str() {
        "PATCH" => (409, fake_api::status(409, "Conflict", "modified")),
        _ => (200, dep("10", 0, None)),
    })
    .await;
    let err = scale(&client, "ns", "web", 3, Some(&known("10")), false).await.unwrap_err();
    assert!(matches!(err, ActError::Conflict { .. }), "{err:?}");
    assert_eq!(patches(&log).len(), WRITE_ATTEMPTS as usize);
}

#[tokio::test]
async fn a_refused_scale_is_not_sent_again() {
    let (client, log) =
        fake_api::start(|_, _| (422, fake_api::status(422, "Invalid", "spec.replicas: Invalid value"))).await;
    let err = scale(&client, "ns", "web", 3, Some(&known("10")), false).await.unwrap_err();
    assert_eq!(err.status_code(), Some(422));
    assert_eq!(log.lock().unwrap().len(), 1);
}

/// A fake whose Deployment keeps the last restart stamp PATCHed, when `apply(patch_index)`.
async fn restart_fake(
    answer: impl Fn(usize) -> (u16, bool) + Send + Sync + 'static,
) -> (kube::Client, Arc<Mutex<Vec<fake_api::Seen>>>) {
    let stamp: Arc<Mutex<Option<String>>> = Arc::default();
    let patch_count = Arc::new(Mutex::new(0usize));
    fake_api::start(move |req, _| {
        let mut stamp = stamp.lock().unwrap();
        if req.method == "PATCH" {
            let mut n = patch_count.lock().unwrap();
            let (code, applied) = answer(*n);
            *n += 1;
            if applied {
                *stamp =
                    req.body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT].as_str().map(String::from);
            }
            if code != 200 {
                return (code, fake_api::status(code, "X", "failed"));
            }
        }
        (200, dep("10", 1, stamp.as_deref()))
    })
    .await
}

#[tokio::test]
async fn a_restart_already_stamped_is_not_stamped_twice() {
    // The write was applied, but the answer was a 500: the re-read finds our stamp.
    let (client, log) = restart_fake(|_| (500, true)).await;
    let done = restart(&client, "ns", "web", None, false).await.unwrap();
    assert_eq!(patches(&log).len(), 1, "one stamp");
    assert_eq!(done.generation, Some(2));
}

#[tokio::test]
async fn a_restart_that_did_not_land_is_sent_again_with_the_same_stamp() {
    let (client, log) = restart_fake(|n| if n == 0 { (409, false) } else { (200, true) }).await;
    let done = restart(&client, "ns", "web", Some(2), false).await.unwrap();
    let sent = patches(&log);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1], "the same restart, not a new one");
    assert_eq!(sent[1], restart_patch(&done.restarted_at, Some(2)));
}

#[tokio::test]
async fn an_event_whose_create_was_lost_is_written_once() {
    let involved = ObjectReference { name: Some("web".into()), namespace: Some("ns".into()), ..Default::default() };
    let created: Arc<Mutex<Option<Value>>> = Arc::default();
    let store = created.clone();
    // The create is applied but answered 504; the read-back (a LIST by name: the Role grants
    // no GET on events) finds it.
    let (client, log) = fake_api::start(move |req, _| match req.method.as_str() {
        "POST" => {
            *store.lock().unwrap() = Some(req.body.clone());
            (504, fake_api::status(504, "Timeout", "timeout"))
        }
        "GET"
            if req.uri.starts_with("/api/v1/namespaces/ns/events?")
                && req.uri.contains("fieldSelector=metadata.name") =>
        {
            let items: Vec<Value> = store.lock().unwrap().clone().into_iter().collect();
            (
                200,
                json!({"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": items}),
            )
        }
        _ => (405, fake_api::status(405, "MethodNotAllowed", "not a read the Role grants")),
    })
    .await;
    let ev = record_event(&client, "ns", &involved, "Normal", "SelfHealScaled", "m").await.unwrap();
    assert_eq!(ev.reason.as_deref(), Some("SelfHealScaled"));
    let log = log.lock().unwrap();
    let posts: Vec<&fake_api::Seen> = log.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 1, "{log:?}");
    // Written as self-heal, for real (`kubectl get events --show-managed-fields` names it).
    assert!(posts[0].uri.starts_with("/api/v1/namespaces/ns/events?"), "{}", posts[0].uri);
    assert!(posts[0].uri.contains("fieldManager=self-heal") && !posts[0].uri.contains("dryRun"), "{}", posts[0].uri);
    assert!(created.lock().unwrap().is_some());
}

#[test]
fn which_failures_are_decided_again() {
    let api = |code| kube::Error::Api(Box::new(kube::core::Status { code, ..Default::default() }));
    for code in [409, 429, 500, 502, 503, 504] {
        assert!(worth_deciding_again(&api(code)), "{code}");
    }
    for code in [400, 403, 404, 422] {
        assert!(!worth_deciding_again(&api(code)), "{code}");
    }
}
