//! core/v1 Events as client-go's recorder writes them: named `<object>.<hex unix-nanos>`, and an
//! identical event (same object, source, type, reason and message) bumps `count` and
//! `lastTimestamp` instead of creating a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::meta;
use crate::resources;
use crate::store::{Store, now};

/// Who reports an event (`source.component`, and `source.host` for the kubelet).
#[derive(Clone, Copy, Debug)]
pub struct Source {
    /// `deployment-controller`, `replicaset-controller`, `kubelet`, `default-scheduler`, ...
    pub component: &'static str,
    /// The node, for the kubelet.
    pub host: Option<&'static str>,
}

/// The deployment controller.
pub const DEPLOYMENT: Source = Source { component: "deployment-controller", host: None };
/// The replicaset controller.
pub const REPLICASET: Source = Source { component: "replicaset-controller", host: None };
/// The scheduler.
pub const SCHEDULER: Source = Source { component: "default-scheduler", host: None };
/// The kubelet of kube-sim's node.
pub const KUBELET: Source = Source { component: "kubelet", host: Some("sim-node-1") };

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// Routine.
    Normal,
    /// Something to look at.
    Warning,
}

type Key = (String, String, String, String, &'static str, String, String);

/// Writes Events into the store, remembering which ones it wrote so repeats are counted.
pub struct Recorder {
    store: Arc<Store>,
    seen: Mutex<HashMap<Key, String>>,
}

impl Recorder {
    /// A recorder writing into `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Recorder { store, seen: Mutex::new(HashMap::new()) }
    }

    /// Records an event about `obj` (a stored object in wire shape). `field_path` is the
    /// container path the kubelet names (`spec.containers{server}`).
    pub fn event(&self, obj: &Value, field_path: Option<&str>, kind: Type, reason: &str, message: &str, src: Source) {
        let ns = meta(obj, "namespace").to_string();
        let type_ = if kind == Type::Normal { "Normal" } else { "Warning" };
        let key: Key = (
            ns.clone(),
            meta(obj, "uid").to_string(),
            field_path.unwrap_or_default().to_string(),
            type_.to_string(),
            src.component,
            reason.to_string(),
            message.to_string(),
        );
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = seen.get(&key) {
            let bumped = self.store.mutate(&resources::EVENTS, &ns, name, false, |e| {
                e["count"] = json!(super::int(&e["count"]) + 1);
                e["lastTimestamp"] = json!(now());
                Ok(())
            });
            if bumped.is_ok() {
                return;
            }
        }
        let mut involved = json!({
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta(obj, "name"),
            "namespace": ns,
            "uid": meta(obj, "uid"),
            "resourceVersion": meta(obj, "resourceVersion"),
        });
        if let Some(fp) = field_path {
            involved["fieldPath"] = json!(fp);
        }
        let mut source = json!({"component": src.component});
        if let Some(host) = src.host {
            source["host"] = json!(host);
        }
        let ts = now();
        let mut nanos = jiff::Timestamp::now().as_nanosecond();
        for _ in 0..8 {
            let name = format!("{}.{:x}", meta(obj, "name"), nanos);
            let ev = json!({
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": source,
                "firstTimestamp": ts,
                "lastTimestamp": ts,
                "count": 1,
                "type": type_,
                "eventTime": null,
                "reportingComponent": src.component,
                "reportingInstance": src.host.unwrap_or_default(),
            });
            match self.store.create(&resources::EVENTS, &ns, ev, false) {
                Ok(_) => {
                    seen.insert(key, name);
                    return;
                }
                Err(e) if e.code == 409 => nanos += 1,
                Err(e) => {
                    tracing::debug!("failed to record event {reason} on {}: {e}", meta(obj, "name"));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_events_bump_count() {
        let store = Arc::new(Store::new());
        store.create(&resources::NAMESPACES, "", json!({"metadata": {"name": "ns"}}), false).unwrap();
        let rs = store
            .create(&resources::REPLICASETS, "ns", json!({"metadata": {"name": "web-abc"}, "spec": {}}), false)
            .unwrap();
        let rec = Recorder::new(store.clone());
        rec.event(&rs, None, Type::Normal, "SuccessfulCreate", "Created pod: web-abc-x", REPLICASET);
        rec.event(&rs, None, Type::Normal, "SuccessfulCreate", "Created pod: web-abc-x", REPLICASET);
        rec.event(&rs, None, Type::Normal, "SuccessfulCreate", "Created pod: web-abc-y", REPLICASET);
        let (events, _) = store.list(&resources::EVENTS, Some("ns"));
        assert_eq!(events.len(), 2);
        let first = events.iter().find(|e| e["message"] == "Created pod: web-abc-x").unwrap();
        assert_eq!(first["count"], 2);
        assert_eq!(first["involvedObject"]["kind"], "ReplicaSet");
        assert_eq!(first["source"]["component"], "replicaset-controller");
        assert!(meta(first, "name").starts_with("web-abc."));
    }
}
