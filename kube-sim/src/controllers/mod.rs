//! What makes kube-sim behave: the deployment and replicaset controllers, the scheduler, one
//! kubelet whose pods are real loopback servers, the endpoints controllers, Service proxies,
//! garbage collection and the Event recorder.
//!
//! One task owns them all. It reacts to every store change (and to its own timers for back-off
//! expiry, readiness delays, graceful termination and progress deadlines) by running one
//! reconcile pass over the cluster; each controller returns when it next needs to wake up.
//! Passes are idempotent: a pass that changes nothing writes nothing, so the loop settles.

pub mod deployment;
pub mod endpoints;
pub mod gc;
pub mod kubelet;
pub mod netproxy;
pub mod podserver;
pub mod recorder;
pub mod replicaset;
pub mod runtime;
#[cfg(test)]
mod scenarios;
pub mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::SimConfig;
use super::resources;
use super::store::Store;

/// The shortest simulated delay, whatever the time scale, so timers never spin.
const FLOOR: Duration = Duration::from_millis(20);

/// The running controllers; [`Controllers::shutdown`] stops them and every pod server.
pub struct Controllers {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts the controllers on the current tokio runtime and returns at once.
pub fn start(store: Arc<Store>, cfg: SimConfig) -> Controllers {
    let (stop, stop_rx) = oneshot::channel();
    let rx = store.subscribe();
    let task = tokio::spawn(run(store, cfg, rx, stop_rx));
    Controllers { stop, task }
}

impl Controllers {
    /// Stops the controllers, the pod servers and the Service proxies, and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Shared handles every controller uses during a pass.
pub struct Ctx {
    /// The object store.
    pub store: Arc<Store>,
    /// Time scale and other knobs.
    pub cfg: SimConfig,
    /// Writes core/v1 Events.
    pub recorder: recorder::Recorder,
}

impl Ctx {
    /// A Kubernetes duration of `secs` seconds, scaled by the time scale (at least [`FLOOR`]).
    pub fn scaled(&self, secs: f64) -> Duration {
        scaled(self.cfg.time_scale, secs)
    }
}

/// `secs` seconds times `scale`, never shorter than [`FLOOR`].
pub fn scaled(scale: f64, secs: f64) -> Duration {
    let s = secs * scale;
    if !s.is_finite() || s <= 0.0 {
        return FLOOR;
    }
    Duration::from_secs_f64(s.min(86_400.0)).max(FLOOR)
}

/// The state that lives across passes.
struct World {
    ctx: Ctx,
    progress: deployment::Progress,
    kubelet: kubelet::Kubelet,
    proxies: netproxy::Proxies,
}

impl World {
    /// One reconcile pass; returns when the next timer fires, if any.
    fn sync(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut wake = Wake::default();
        gc::sync(&self.ctx);
        wake.at(deployment::sync(&self.ctx, &mut self.progress, now));
        replicaset::sync(&self.ctx);
        scheduler::sync(&self.ctx);
        wake.at(self.kubelet.sync(&self.ctx, now));
        endpoints::sync(&self.ctx);
        wake.at(self.proxies.sync(&self.ctx, now));
        wake.0
    }
}

/// The earliest of several wake-up times.
#[derive(Default)]
pub struct Wake(pub Option<Instant>);

impl Wake {
    /// Keeps `t` if it is earlier than what is kept.
    pub fn at(&mut self, t: Option<Instant>) {
        if let Some(t) = t {
            self.0 = Some(self.0.map_or(t, |w| w.min(t)));
        }
    }
}

/// Whether a change can make a controller act (our own Events and Leases cannot).
fn relevant(res: &resources::Resource) -> bool {
    // By value: a `const` item may live at a different address at each use.
    ![&resources::EVENTS, &resources::EVENTS_V1, &resources::LEASES]
        .iter()
        .any(|r| r.group == res.group && r.plural == res.plural)
}

async fn run(
    store: Arc<Store>,
    cfg: SimConfig,
    mut rx: broadcast::Receiver<super::store::Change>,
    mut stop: oneshot::Receiver<()>,
) {
    let recorder = recorder::Recorder::new(store.clone());
    let mut world = World {
        ctx: Ctx { store, cfg, recorder },
        progress: deployment::Progress::default(),
        kubelet: kubelet::Kubelet::default(),
        proxies: netproxy::Proxies::default(),
    };
    'outer: loop {
        // A bug in one pass must not stop the whole cluster: say so and try again shortly.
        let next = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.sync())) {
            Ok(next) => next,
            Err(_) => {
                tracing::error!("a kube-sim controller pass panicked; retrying");
                Some(Instant::now() + Duration::from_millis(100))
            }
        };
        loop {
            let timer = async {
                match next {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => break 'outer,
                _ = timer => break,
                change = rx.recv() => match change {
                    Ok(c) if !relevant(c.resource) => continue,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => break 'outer,
                },
            }
        }
        // Coalesce a burst of changes into one pass.
        while rx.try_recv().is_ok() {}
    }
    world.kubelet.shutdown();
    world.proxies.shutdown();
}

// ---- small helpers on wire-shape objects, shared by the controllers ----

/// `metadata.<field>` as a string ("" when absent).
pub fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

/// The uid of the object's controller owner, if it has one.
pub fn controller_uid(obj: &Value) -> Option<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true))
        .and_then(|r| r["uid"].as_str())
}

/// A controller ownerReference to `owner`, as the controllers write it.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta(owner, "name"),
        "uid": meta(owner, "uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Whether the object has a `deletionTimestamp`.
pub fn terminating(obj: &Value) -> bool {
    !obj["metadata"]["deletionTimestamp"].is_null()
}

/// Whether a pod's `Ready` condition is True.
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// Whether every `key: value` of a Service-style selector map is among `labels`.
pub fn map_matches(selector: &Value, labels: &Value) -> bool {
    match selector.as_object() {
        Some(sel) => sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
        None => true,
    }
}

/// Whether `labels` match a `LabelSelector` (`matchLabels` and `matchExpressions`).
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    if !map_matches(&selector["matchLabels"], labels) {
        return false;
    }
    let exprs = selector["matchExpressions"].as_array().map(Vec::as_slice).unwrap_or_default();
    exprs.iter().all(|e| {
        let key = e["key"].as_str().unwrap_or_default();
        let value = labels.get(key).and_then(Value::as_str);
        let values: Vec<&str> =
            e["values"].as_array().map(|v| v.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        match e["operator"].as_str().unwrap_or_default() {
            "In" => value.is_some_and(|v| values.contains(&v)),
            "NotIn" => value.is_none_or(|v| !values.contains(&v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    })
}

/// An integer field, 0 when absent.
pub fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_default()
}

/// Sets or updates a condition in `conds` as the controllers do: `lastTransitionTime` moves only
/// when the status flips; `lastUpdateTime` (when `with_update`) when reason or message change.
/// Returns whether anything changed.
pub fn set_condition(
    conds: &mut Vec<Value>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    with_update: bool,
) -> bool {
    let now = super::store::now();
    if let Some(c) = conds.iter_mut().find(|c| c["type"] == kind) {
        if c["status"] == status && c["reason"] == reason && c["message"] == message {
            return false;
        }
        if c["status"] != status {
            c["lastTransitionTime"] = json!(now);
        }
        c["status"] = json!(status);
        c["reason"] = json!(reason);
        c["message"] = json!(message);
        if with_update {
            c["lastUpdateTime"] = json!(now);
        }
        return true;
    }
    let mut c = json!({"type": kind, "status": status});
    if with_update {
        c["lastUpdateTime"] = json!(now);
    }
    c["lastTransitionTime"] = json!(now);
    if !reason.is_empty() {
        c["reason"] = json!(reason);
    }
    if !message.is_empty() {
        c["message"] = json!(message);
    }
    conds.push(c);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_durations_have_a_floor() {
        assert_eq!(scaled(0.02, 10.0), Duration::from_millis(200));
        assert_eq!(scaled(0.02, 0.1), FLOOR);
        assert_eq!(scaled(1.0, 10.0), Duration::from_secs(10));
    }

    #[test]
    fn label_selectors_match_labels_and_expressions() {
        let labels = json!({"app": "a", "tier": "web"});
        assert!(selector_matches(&json!({"matchLabels": {"app": "a"}}), &labels));
        assert!(!selector_matches(&json!({"matchLabels": {"app": "b"}}), &labels));
        let expr = json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "db"]}]});
        assert!(selector_matches(&expr, &labels));
        let expr = json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]});
        assert!(!selector_matches(&expr, &labels));
    }

    #[test]
    fn conditions_move_transition_time_only_on_flip() {
        let mut conds = vec![];
        assert!(set_condition(&mut conds, "Available", "False", "A", "m", true));
        assert!(!set_condition(&mut conds, "Available", "False", "A", "m", true));
        assert!(set_condition(&mut conds, "Available", "True", "B", "n", true));
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0]["reason"], "B");
    }
}
