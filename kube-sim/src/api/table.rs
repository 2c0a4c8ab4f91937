//! `meta.k8s.io/v1` Tables for kubectl's human output (reference §1.4): the real columns for
//! the kinds self-heal's users look at, NAME and AGE for the rest.

use serde_json::{Value, json};

use super::selectors::LabelSelector;
use crate::resources::Resource;

/// Go's `duration.HumanDuration`, as kubectl's AGE column prints it.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let rem = s % 60;
        return if rem == 0 { format!("{m}m") } else { format!("{m}m{rem}s") };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = s / 3600;
    if h < 8 {
        let rem = m % 60;
        return if rem == 0 { format!("{h}h") } else { format!("{h}h{rem}m") };
    }
    if h < 48 {
        return format!("{h}h");
    }
    if h < 24 * 8 {
        let rem = h % 24;
        return if rem == 0 { format!("{}d", h / 24) } else { format!("{}d{rem}h", h / 24) };
    }
    if h < 24 * 365 * 2 {
        return format!("{}d", h / 24);
    }
    if h < 24 * 365 * 8 {
        let d = h / 24;
        let rem = d % 365;
        return if rem == 0 { format!("{}y", d / 365) } else { format!("{}y{rem}d", d / 365) };
    }
    format!("{}y", h / 24 / 365)
}

/// The age of a timestamp field, or `<unknown>`.
fn age(ts: &Value) -> String {
    ts.as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| human_duration(jiff::Timestamp::now().as_second() - t.as_second()))
        .unwrap_or_else(|| "<unknown>".into())
}

fn col(name: &str, ty: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn or_none(v: String) -> String {
    if v.is_empty() { "<none>".into() } else { v }
}

fn containers_images(spec: &Value) -> (String, String) {
    let cs = spec["containers"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<String> = cs.iter().map(|c| s(&c["image"])).collect();
    (names.join(","), images.join(","))
}

/// The pod STATUS column, like the server's `printPod` (reference §3.6).
fn pod_status(p: &Value) -> String {
    let mut reason = p["status"]["reason"].as_str().or(p["status"]["phase"].as_str()).unwrap_or("Pending").to_string();
    for c in p["status"]["containerStatuses"].as_array().into_iter().flatten() {
        if let Some(r) = c["state"]["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.to_string();
        } else if let Some(t) = c["state"]["terminated"].as_object() {
            reason = match t.get("reason").and_then(Value::as_str) {
                Some(r) if !r.is_empty() => r.to_string(),
                _ => format!("ExitCode:{}", t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)),
            };
        }
    }
    if !p["metadata"]["deletionTimestamp"].is_null() {
        reason = "Terminating".into();
    }
    reason
}

fn row(res: &Resource, o: &Value) -> Vec<Value> {
    let m = &o["metadata"];
    let (name, age_cell) = (json!(m["name"]), json!(age(&m["creationTimestamp"])));
    match res.plural {
        "deployments" => {
            let (c, im) = containers_images(&o["spec"]["template"]["spec"]);
            let sel = LabelSelector::from_object(&o["spec"]["selector"]).to_string();
            vec![
                name,
                json!(format!("{}/{}", i(&o["status"]["readyReplicas"]), i(&o["spec"]["replicas"]))),
                json!(i(&o["status"]["updatedReplicas"])),
                json!(i(&o["status"]["availableReplicas"])),
                age_cell,
                json!(c),
                json!(im),
                json!(sel),
            ]
        }
        "replicasets" => {
            let (c, im) = containers_images(&o["spec"]["template"]["spec"]);
            let sel = LabelSelector::from_object(&o["spec"]["selector"]).to_string();
            vec![
                name,
                json!(i(&o["spec"]["replicas"])),
                json!(i(&o["status"]["replicas"])),
                json!(i(&o["status"]["readyReplicas"])),
                age_cell,
                json!(c),
                json!(im),
                json!(sel),
            ]
        }
        "pods" => {
            let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map(Vec::len).unwrap_or(0);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| i(&c["restartCount"])).sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                age_cell,
                json!(or_none(s(&o["status"]["podIP"]))),
                json!(or_none(s(&o["spec"]["nodeName"]))),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        "services" => {
            let ports: Vec<String> = o["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("{}/{}", i(&p["port"]), p["protocol"].as_str().unwrap_or("TCP")))
                .collect();
            let sel: Vec<String> = o["spec"]["selector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            vec![
                name,
                json!(s(&o["spec"]["type"])),
                json!(or_none(s(&o["spec"]["clusterIP"]))),
                json!("<none>"),
                json!(or_none(ports.join(","))),
                age_cell,
                json!(or_none(sel.join(","))),
            ]
        }
        "nodes" => {
            let ready = o["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map(|c| if c["status"] == "True" { "Ready" } else { "NotReady" })
                .unwrap_or("Unknown");
            let addr = |ty: &str| {
                o["status"]["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["type"] == ty)
                    .map(|a| s(&a["address"]))
                    .unwrap_or_else(|| "<none>".into())
            };
            let info = &o["status"]["nodeInfo"];
            vec![
                name,
                json!(ready),
                json!("<none>"),
                age_cell,
                json!(s(&info["kubeletVersion"])),
                json!(addr("InternalIP")),
                json!(addr("ExternalIP")),
                json!(s(&info["osImage"])),
                json!(s(&info["kernelVersion"])),
                json!(s(&info["containerRuntimeVersion"])),
            ]
        }
        "endpoints" => {
            let mut eps = Vec::new();
            for subset in o["subsets"].as_array().into_iter().flatten() {
                for a in subset["addresses"].as_array().into_iter().flatten() {
                    for p in subset["ports"].as_array().into_iter().flatten() {
                        eps.push(format!("{}:{}", s(&a["ip"]), i(&p["port"])));
                    }
                }
            }
            vec![name, json!(or_none(eps.join(","))), age_cell]
        }
        "secrets" => {
            vec![name, json!(s(&o["type"])), json!(o["data"].as_object().map(|d| d.len()).unwrap_or(0)), age_cell]
        }
        "leases" => vec![name, json!(s(&o["spec"]["holderIdentity"])), age_cell],
        "namespaces" => vec![name, json!(o["status"]["phase"].as_str().unwrap_or("Active")), age_cell],
        "configmaps" => vec![name, json!(o["data"].as_object().map(|d| d.len()).unwrap_or(0)), age_cell],
        "events" if res.group.is_empty() => {
            let io = &o["involvedObject"];
            let last = if o["lastTimestamp"].is_null() { &o["eventTime"] } else { &o["lastTimestamp"] };
            let first = if o["firstTimestamp"].is_null() { &o["eventTime"] } else { &o["firstTimestamp"] };
            let source = match (o["source"]["component"].as_str(), o["source"]["host"].as_str()) {
                (Some(c), Some(h)) => format!("{c}, {h}"),
                (Some(c), None) => c.to_string(),
                _ => s(&o["reportingComponent"]),
            };
            vec![
                json!(age(last)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!("{}/{}", s(&io["kind"]).to_lowercase(), s(&io["name"]))),
                json!(s(&io["fieldPath"])),
                json!(source),
                json!(s(&o["message"])),
                json!(age(first)),
                json!(o["count"].as_i64().unwrap_or(1)),
                name,
            ]
        }
        _ => vec![name, age_cell],
    }
}

fn columns(res: &Resource) -> Vec<Value> {
    match res.plural {
        "deployments" => vec![
            col("Name", "string", 0),
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Age", "string", 0),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        "replicasets" => vec![
            col("Name", "string", 0),
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            col("Age", "string", 0),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        "pods" => vec![
            col("Name", "string", 0),
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            col("Age", "string", 0),
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ],
        "services" => vec![
            col("Name", "string", 0),
            col("Type", "string", 0),
            col("Cluster-IP", "string", 0),
            col("External-IP", "string", 0),
            col("Port(s)", "string", 0),
            col("Age", "string", 0),
            col("Selector", "string", 1),
        ],
        "nodes" => vec![
            col("Name", "string", 0),
            col("Status", "string", 0),
            col("Roles", "string", 0),
            col("Age", "string", 0),
            col("Version", "string", 0),
            col("Internal-IP", "string", 1),
            col("External-IP", "string", 1),
            col("OS-Image", "string", 1),
            col("Kernel-Version", "string", 1),
            col("Container-Runtime", "string", 1),
        ],
        "endpoints" => vec![col("Name", "string", 0), col("Endpoints", "string", 0), col("Age", "string", 0)],
        "secrets" => {
            vec![col("Name", "string", 0), col("Type", "string", 0), col("Data", "integer", 0), col("Age", "string", 0)]
        }
        "leases" => vec![col("Name", "string", 0), col("Holder", "string", 0), col("Age", "string", 0)],
        "namespaces" => vec![col("Name", "string", 0), col("Status", "string", 0), col("Age", "string", 0)],
        "configmaps" => vec![col("Name", "string", 0), col("Data", "integer", 0), col("Age", "string", 0)],
        "events" if res.group.is_empty() => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Subobject", "string", 1),
            col("Source", "string", 1),
            col("Message", "string", 0),
            col("First Seen", "string", 1),
            col("Count", "integer", 1),
            col("Name", "string", 1),
        ],
        _ => vec![col("Name", "string", 0), col("Age", "string", 0)],
    }
}

/// A Table of `items`; each row carries the object's metadata, the full object with
/// `includeObject=Object`, or nothing with `includeObject=None`.
pub fn render(res: &Resource, items: &[Value], rv: &str, include: Option<&str>) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut r = json!({"cells": row(res, o)});
            match include {
                Some("None") => {}
                Some("Object") => {
                    let mut full = o.clone();
                    full["kind"] = json!(res.kind);
                    full["apiVersion"] = json!(res.api_version());
                    r["object"] = full;
                }
                _ => {
                    r["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"]});
                }
            }
            r
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
        "columnDefinitions": columns(res), "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;

    #[test]
    fn ages_print_like_kubectl() {
        assert_eq!(human_duration(41), "41s");
        assert_eq!(human_duration(257), "4m17s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 120), "3h2m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400), "3d");
    }

    #[test]
    fn deployment_row_has_the_real_columns() {
        let d = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "server", "image": "nginx"}]}}},
            "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}});
        let t = render(&resources::DEPLOYMENTS, &[d], "7", None);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "web");
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], 2);
        assert_eq!(cells[7], "app=web");
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 8);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn pod_status_column_prefers_waiting_reason_and_terminating() {
        let p = json!({"metadata": {"name": "p"}, "status": {"phase": "Running",
            "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 3}]}});
        assert_eq!(pod_status(&p), "CrashLoopBackOff");
        let mut gone = p.clone();
        gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(pod_status(&gone), "Terminating");
    }
}
