//! A real API server stores one kind of Event and serves it as both `v1` and
//! `events.k8s.io/v1`; kube-sim stores them apart, so reads of one API also show the other's
//! objects, converted the way the server converts them.

use serde_json::{Map, Value, json};

use crate::resources::{self, Resource};

fn copy(from: &Value, to: &mut Map<String, Value>, pairs: &[(&str, &str)]) {
    for (src, dst) in pairs {
        if let Some(v) = from.get(*src).filter(|v| !v.is_null()) {
            to.insert((*dst).to_string(), v.clone());
        }
    }
}

/// An `events.k8s.io/v1` Event as a core `v1` Event.
pub fn to_core(e: &Value) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!("Event"));
    out.insert("apiVersion".into(), json!("v1"));
    copy(
        e,
        &mut out,
        &[
            ("metadata", "metadata"),
            ("regarding", "involvedObject"),
            ("related", "related"),
            ("reason", "reason"),
            ("note", "message"),
            ("deprecatedFirstTimestamp", "firstTimestamp"),
            ("deprecatedLastTimestamp", "lastTimestamp"),
            ("deprecatedCount", "count"),
            ("type", "type"),
            ("eventTime", "eventTime"),
            ("series", "series"),
            ("action", "action"),
            ("reportingController", "reportingComponent"),
            ("reportingInstance", "reportingInstance"),
        ],
    );
    out.insert("source".into(), e.get("deprecatedSource").cloned().unwrap_or_else(|| json!({})));
    out.entry("reportingInstance").or_insert(json!(""));
    Value::Object(out)
}

/// A core `v1` Event as an `events.k8s.io/v1` Event.
pub fn to_events_v1(e: &Value) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!("Event"));
    out.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    copy(
        e,
        &mut out,
        &[
            ("metadata", "metadata"),
            ("involvedObject", "regarding"),
            ("related", "related"),
            ("reason", "reason"),
            ("message", "note"),
            ("firstTimestamp", "deprecatedFirstTimestamp"),
            ("lastTimestamp", "deprecatedLastTimestamp"),
            ("count", "deprecatedCount"),
            ("type", "type"),
            ("eventTime", "eventTime"),
            ("series", "series"),
            ("action", "action"),
            ("reportingComponent", "reportingController"),
            ("reportingInstance", "reportingInstance"),
            ("source", "deprecatedSource"),
        ],
    );
    Value::Object(out)
}

/// Converts an Event from one API's shape to the other's.
pub type Convert = fn(&Value) -> Value;

/// The other API's Event resource and the conversion into `res`'s shape, if `res` is one of
/// the two Event APIs.
pub fn twin(res: &Resource) -> Option<(&'static Resource, Convert)> {
    if res == &resources::EVENTS {
        Some((&resources::EVENTS_V1, to_core))
    } else if res == &resources::EVENTS_V1 {
        Some((&resources::EVENTS, to_events_v1))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_convert_both_ways() {
        let new = json!({"metadata": {"name": "e", "namespace": "n"}, "regarding": {"kind": "Deployment", "name": "d"},
            "reason": "Healing", "note": "scaled to 2", "type": "Normal", "reportingController": "self-heal",
            "reportingInstance": "self-heal-1", "action": "Scale", "eventTime": "2026-11-28T01:00:00.000000Z"});
        let core = to_core(&new);
        assert_eq!(core["involvedObject"]["name"], "d");
        assert_eq!(core["message"], "scaled to 2");
        assert_eq!(core["reportingComponent"], "self-heal");
        assert_eq!(core["apiVersion"], "v1");
        let back = to_events_v1(&core);
        assert_eq!(back["regarding"], new["regarding"]);
        assert_eq!(back["note"], new["note"]);
    }
}
