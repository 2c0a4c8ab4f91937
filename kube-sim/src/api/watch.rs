//! WATCH: chunked JSON lines, one event per line and flushed per event (reference §5): the
//! initial ADDED events for RV unset/"0", history replay from an RV, the 410 `ERROR` when it
//! is too old, bookmarks, and the end of the stream at `timeoutSeconds`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::selectors::{FieldSelector, LabelSelector};
use super::{ApiState, Req, Target, event_views, table};
use crate::resources::Resource;
use crate::store::{ApiError, Change, ChangeKind};

/// How long a watch lasts when the client names no `timeoutSeconds` (a real server picks
/// 30–60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often a bookmark is sent on a long watch.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

struct Filter {
    res: &'static Resource,
    /// Send each object as a one-row Table (`kubectl get -w`); `includeObject` as given.
    table: Option<Option<String>>,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// One watch event line, the object as a Table row when the client asked for Tables.
    fn event(&self, kind: &str, object: &Value) -> Bytes {
        match &self.table {
            Some(include) => {
                let rv = object["metadata"]["resourceVersion"].as_str().unwrap_or_default();
                line(kind, &table::render(self.res, std::slice::from_ref(object), rv, include.as_deref()))
            }
            None => line(kind, object),
        }
    }

    /// The changed object in this watch's shape: its own resource's, or the other Event
    /// API's converted; None for other resources.
    fn convert(&self, c: &Change) -> Option<Value> {
        if c.resource == self.res {
            return Some(c.object.clone());
        }
        let (other, convert) = event_views::twin(self.res)?;
        (c.resource == other).then(|| convert(&c.object))
    }

    fn has_selector(&self) -> bool {
        !self.labels.is_empty() || self.fields != FieldSelector::default()
    }

    fn selects(&self, o: &Value) -> bool {
        self.ns.as_deref().is_none_or(|ns| o["metadata"]["namespace"].as_str() == Some(ns))
            && self.labels.matches(&o["metadata"]["labels"])
            && self.fields.matches(o)
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(res: &Resource, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line("BOOKMARK", &json!({"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta}))
}

/// Starts a watch: answers 200 at once and streams events until the timeout, the client
/// leaving, or the server shutting down.
pub(super) fn watch(st: &Arc<ApiState>, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let filter = Filter {
        res: t.res,
        table: req.accept().contains("as=Table").then(|| req.q("includeObject").map(str::to_string)),
        ns: t.ns.clone(),
        labels: LabelSelector::parse(req.q("labelSelector").unwrap_or_default())?,
        fields: FieldSelector::parse(req.q("fieldSelector").unwrap_or_default())?,
    };
    let timeout = req
        .q("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = matches!(req.q("allowWatchBookmarks"), Some("true" | "1"));
    let from = match req.q("resourceVersion").filter(|v| !v.is_empty() && *v != "0") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {v}")))?),
    };
    // Subscribe before reading state, so nothing falls between the two.
    let live = st.store.subscribe();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let st = st.clone();
    tokio::spawn(async move {
        let deadline = Instant::now() + timeout;
        stream(st, filter, from, bookmarks, deadline, live, tx).await;
    });
    let body = Body::from_stream(futures::StreamExt::map(
        tokio_stream::wrappers::ReceiverStream::new(rx),
        Ok::<_, std::convert::Infallible>,
    ));
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// Which objects a selector-filtered watch has shown, so that an object that stops matching
/// is sent as DELETED and one that starts matching as ADDED, as a real server does.
struct Shown(HashSet<(String, String)>);

fn key(o: &Value) -> (String, String) {
    let m = &o["metadata"];
    (m["namespace"].as_str().unwrap_or_default().to_string(), m["name"].as_str().unwrap_or_default().to_string())
}

impl Shown {
    /// The event type to send for a change, or None to send nothing.
    fn decide(&mut self, f: &Filter, kind: ChangeKind, o: &Value) -> Option<&'static str> {
        let selected = f.selects(o);
        if !f.has_selector() {
            return selected.then_some(kind.as_str());
        }
        let k = key(o);
        match kind {
            ChangeKind::Deleted => self.0.remove(&k).then_some("DELETED"),
            _ if selected => Some(if self.0.insert(k) { "ADDED" } else { kind.as_str() }),
            _ => self.0.remove(&k).then_some("DELETED"),
        }
    }
}

/// Changes after `rv` of a resource (and of its Event twin), in order.
fn history(st: &ApiState, res: &'static Resource, rv: u64) -> Result<Vec<Change>, ApiError> {
    let mut changes = st.store.changes_since(res, rv)?;
    if let Some((other, _)) = event_views::twin(res) {
        changes.extend(st.store.changes_since(other, rv)?);
        changes.sort_by_key(|c| c.rv);
    }
    Ok(changes)
}

async fn stream(
    st: Arc<ApiState>,
    f: Filter,
    from: Option<u64>,
    bookmarks: bool,
    deadline: Instant,
    mut live: broadcast::Receiver<Change>,
    tx: mpsc::Sender<Bytes>,
) {
    let (mut items, list_rv) = st.store.list(f.res, f.ns.as_deref());
    if let Some((other, convert)) = event_views::twin(f.res) {
        items.extend(st.store.list(other, f.ns.as_deref()).0.iter().map(convert));
    }
    items.retain(|o| f.selects(o));
    let mut shown = Shown(items.iter().map(key).collect());
    let mut seen = match from {
        None => {
            for o in &items {
                if tx.send(f.event("ADDED", o)).await.is_err() {
                    return;
                }
            }
            if bookmarks && tx.send(bookmark(f.res, list_rv, true)).await.is_err() {
                return;
            }
            list_rv
        }
        Some(rv) => match history(&st, f.res, rv) {
            Err(e) => {
                let _ = tx.send(line("ERROR", &e.to_status())).await;
                return;
            }
            Ok(changes) => {
                let mut seen = rv;
                for c in changes {
                    seen = seen.max(c.rv);
                    if let Some(o) = f.convert(&c)
                        && let Some(kind) = shown.decide(&f, c.kind, &o)
                        && tx.send(f.event(kind, &o)).await.is_err()
                    {
                        return;
                    }
                }
                seen
            }
        },
    };
    let mut shutdown = st.shutdown.clone();
    let final_bookmark = deadline.checked_sub(Duration::from_secs(2)).filter(|_| bookmarks);
    let mut next_bookmark = Instant::now() + BOOKMARK_EVERY;
    loop {
        let wake = match final_bookmark {
            Some(fb) if fb > Instant::now() => fb.min(next_bookmark),
            _ => next_bookmark,
        }
        .min(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            _ = tokio::time::sleep_until(wake), if bookmarks && wake < deadline => {
                if tx.send(bookmark(f.res, seen, false)).await.is_err() {
                    return;
                }
                next_bookmark = Instant::now() + BOOKMARK_EVERY;
                if final_bookmark.is_some_and(|fb| fb <= Instant::now()) {
                    next_bookmark = deadline;
                }
            }
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
            msg = live.recv() => match msg {
                Ok(c) => {
                    if c.rv <= seen {
                        continue;
                    }
                    seen = c.rv;
                    if let Some(o) = f.convert(&c)
                        && let Some(kind) = shown.decide(&f, c.kind, &o)
                        && tx.send(f.event(kind, &o)).await.is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let e = ApiError::expired(format!("too old resource version: {seen} ({seen})"));
                    let _ = tx.send(line("ERROR", &e.to_status())).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{RunningSim, SimConfig, resources, start};

    async fn lines(sim: &RunningSim, path: String) -> Vec<serde_json::Value> {
        let url = format!("{}{path}", sim.url);
        let body = sim.http_client().get(url).send().await.unwrap().text().await.unwrap();
        body.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[tokio::test]
    async fn too_old_resource_version_gets_one_410_error_event() {
        let sim = start(SimConfig::default(), "127.0.0.1:0".parse().unwrap(), Vec::new()).await.unwrap();
        sim.store.create(&resources::CONFIGMAPS, "default", json!({"metadata": {"name": "c"}}), false).unwrap();
        for i in 0..10_001 {
            sim.store
                .mutate(&resources::CONFIGMAPS, "default", "c", false, |o| {
                    o["data"] = json!({"i": i.to_string()});
                    Ok(())
                })
                .unwrap();
        }
        let events =
            lines(&sim, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=101".to_string()).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["type"], "ERROR");
        assert_eq!(events[0]["object"]["code"], 410);
        assert_eq!(events[0]["object"]["reason"], "Expired");
        assert!(events[0]["object"]["message"].as_str().unwrap().starts_with("too old resource version: 101 ("));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn initial_events_honour_selectors_and_end_with_a_bookmark() {
        let sim = start(SimConfig::default(), "127.0.0.1:0".parse().unwrap(), Vec::new()).await.unwrap();
        for name in ["a", "b"] {
            sim.store.create(&resources::CONFIGMAPS, "default", json!({"metadata": {"name": name}}), false).unwrap();
        }
        let events = lines(
            &sim,
            "/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=metadata.name%3Db&allowWatchBookmarks=true&timeoutSeconds=1"
                .to_string(),
        )
        .await;
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ADDED", "BOOKMARK"]);
        assert_eq!(events[0]["object"]["metadata"]["name"], "b");
        assert_eq!(events[0]["object"]["kind"], "ConfigMap", "watch objects carry kind");
        assert_eq!(events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn objects_leaving_a_label_selector_are_deleted_for_the_watch() {
        let sim = start(SimConfig::default(), "127.0.0.1:0".parse().unwrap(), Vec::new()).await.unwrap();
        let rv = sim.store.resource_version();
        let labels = |app: &str| json!({"metadata": {"name": "c", "labels": {"app": app}}});
        sim.store.create(&resources::CONFIGMAPS, "default", labels("a"), false).unwrap();
        for app in ["b", "a"] {
            sim.store
                .mutate(&resources::CONFIGMAPS, "default", "c", false, |o| {
                    o["metadata"]["labels"]["app"] = json!(app);
                    Ok(())
                })
                .unwrap();
        }
        let events = lines(
            &sim,
            format!("/api/v1/namespaces/default/configmaps?watch=1&labelSelector=app%3Da&resourceVersion={rv}&timeoutSeconds=1"),
        )
        .await;
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ADDED", "DELETED", "ADDED"]);
        sim.shutdown().await;
    }
}
