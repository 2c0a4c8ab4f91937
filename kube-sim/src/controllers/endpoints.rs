//! The endpoints and endpointslice controllers: for each Service with a selector, the bound
//! pods it selects that have an IP (k8s-reference §2.5): ready ones as addresses, not-ready
//! ones as notReadyAddresses, terminating ones dropped (kept in the slice with conditions).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Ctx, map_matches, meta, owner_ref, pod_ready, terminating};
use crate::resources::{ENDPOINTS, ENDPOINTSLICES, NODES, PODS, SERVICES};
use crate::store::now;

const TRIGGER: &str = "endpoints.kubernetes.io/last-change-trigger-time";
const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// Updates the Endpoints and EndpointSlice of every Service with a selector.
pub fn sync(ctx: &Ctx) {
    let (svcs, _) = ctx.store.list(&SERVICES, None);
    let (pods, _) = ctx.store.list(&PODS, None);
    let nodes: HashSet<String> = ctx.store.list(&NODES, None).0.iter().map(|n| meta(n, "name").to_string()).collect();
    for svc in &svcs {
        let selector = &svc["spec"]["selector"];
        if selector.as_object().is_none_or(|s| s.is_empty()) || terminating(svc) {
            continue;
        }
        let selected: Vec<&Value> = pods
            .iter()
            .filter(|p| {
                meta(p, "namespace") == meta(svc, "namespace")
                    && map_matches(selector, &p["metadata"]["labels"])
                    && nodes.contains(p["spec"]["nodeName"].as_str().unwrap_or_default())
                    && !p["status"]["podIP"].as_str().unwrap_or_default().is_empty()
            })
            .collect();
        let ports = ports(svc, selected.first().copied());
        sync_endpoints(ctx, svc, &selected, &ports);
        sync_slice(ctx, svc, &selected, &ports);
    }
}

/// The Service's ports with targetPort resolved (by number, or by name on the pod).
pub fn ports(svc: &Value, pod: Option<&Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for p in svc["spec"]["ports"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let target = &p["targetPort"];
        let port = match target {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => match s.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => pod.and_then(|pod| named_port(pod, s)),
            },
            _ => p["port"].as_i64(),
        };
        let Some(port) = port else { continue };
        let mut e = json!({"port": port, "protocol": p["protocol"].as_str().unwrap_or("TCP")});
        if let Some(n) = p["name"].as_str() {
            e["name"] = json!(n);
        }
        out.push(e);
    }
    out
}

fn named_port(pod: &Value, name: &str) -> Option<i64> {
    pod["spec"]["containers"].as_array()?.iter().find_map(|c| {
        c["ports"].as_array()?.iter().find(|p| p["name"] == name).and_then(|p| p["containerPort"].as_i64())
    })
}

fn target_ref(pod: &Value) -> Value {
    json!({"kind": "Pod", "name": meta(pod, "name"), "namespace": meta(pod, "namespace"), "uid": meta(pod, "uid")})
}

fn ip(pod: &Value) -> &str {
    pod["status"]["podIP"].as_str().unwrap_or_default()
}

fn labels(svc: &Value, extra: &[(&str, &str)]) -> Value {
    let mut l = svc["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    for (k, v) in extra {
        l.insert((*k).into(), json!(v));
    }
    Value::Object(l)
}

/// The `subsets` of the Service's Endpoints; None when no pod qualifies.
pub fn subsets(pods: &[&Value], ports: &[Value]) -> Option<Value> {
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    let mut sorted: Vec<&&Value> = pods.iter().filter(|p| !terminating(p)).collect();
    sorted.sort_by_key(|p| ip(p).to_string());
    for p in sorted {
        let a = json!({"ip": ip(p), "nodeName": p["spec"]["nodeName"], "targetRef": target_ref(p)});
        if pod_ready(p) { ready.push(a) } else { not_ready.push(a) }
    }
    if ready.is_empty() && not_ready.is_empty() {
        return None;
    }
    let mut s = json!({"ports": ports});
    if !ready.is_empty() {
        s["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        s["notReadyAddresses"] = json!(not_ready);
    }
    Some(json!([s]))
}

fn sync_endpoints(ctx: &Ctx, svc: &Value, pods: &[&Value], ports: &[Value]) {
    let ns = meta(svc, "namespace");
    let name = meta(svc, "name");
    let subsets = subsets(pods, ports);
    let labels = labels(svc, &[("endpoints.kubernetes.io/managed-by", "endpoint-controller")]);
    match ctx.store.get(&ENDPOINTS, ns, name) {
        None => {
            let mut ep = json!({"metadata": {"name": name, "namespace": ns, "labels": labels,
                "annotations": {TRIGGER: now()}}});
            if let Some(s) = subsets {
                ep["subsets"] = s;
            }
            let _ = ctx.store.create(&ENDPOINTS, ns, ep, false);
        }
        Some(ep) => {
            if ep.get("subsets") == subsets.as_ref() && ep["metadata"]["labels"] == labels {
                return;
            }
            let _ = ctx.store.mutate(&ENDPOINTS, ns, name, false, |ep| {
                ep["metadata"]["labels"] = labels;
                ep["metadata"]["annotations"][TRIGGER] = json!(now());
                match subsets {
                    Some(s) => ep["subsets"] = s,
                    None => {
                        if let Some(o) = ep.as_object_mut() {
                            o.remove("subsets");
                        }
                    }
                }
                Ok(())
            });
        }
    }
}

/// The endpoints of the Service's EndpointSlice; terminating pods stay, with conditions.
pub fn slice_endpoints(pods: &[&Value]) -> Value {
    let mut sorted = pods.to_vec();
    sorted.sort_by_key(|p| ip(p).to_string());
    let eps: Vec<Value> = sorted
        .iter()
        .map(|p| {
            let ready = pod_ready(p);
            let term = terminating(p);
            json!({
                "addresses": [ip(p)],
                "conditions": {"ready": ready && !term, "serving": ready, "terminating": term},
                "nodeName": p["spec"]["nodeName"],
                "targetRef": target_ref(p),
            })
        })
        .collect();
    if eps.is_empty() { Value::Null } else { json!(eps) }
}

fn sync_slice(ctx: &Ctx, svc: &Value, pods: &[&Value], ports: &[Value]) {
    let ns = meta(svc, "namespace");
    let name = meta(svc, "name");
    let endpoints = slice_endpoints(pods);
    let ports = if endpoints.is_null() || ports.is_empty() { Value::Null } else { json!(ports) };
    let labels = labels(
        svc,
        &[(SERVICE_NAME, name), ("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io")],
    );
    let (slices, _) = ctx.store.list(&ENDPOINTSLICES, Some(ns));
    let existing = slices.iter().find(|s| s["metadata"]["labels"][SERVICE_NAME] == name);
    match existing {
        None => {
            let slice = json!({
                "metadata": {"generateName": format!("{name}-"), "namespace": ns, "labels": labels,
                    "annotations": {TRIGGER: now()}, "ownerReferences": [owner_ref(svc)]},
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            });
            let _ = ctx.store.create(&ENDPOINTSLICES, ns, slice, false);
        }
        Some(s) => {
            if s["endpoints"] == endpoints && s["ports"] == ports && s["metadata"]["labels"] == labels {
                return;
            }
            let _ = ctx.store.mutate(&ENDPOINTSLICES, ns, meta(s, "name"), false, |s| {
                s["metadata"]["labels"] = labels;
                s["metadata"]["annotations"][TRIGGER] = json!(now());
                s["endpoints"] = endpoints;
                s["ports"] = ports;
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ip: &str, ready: bool, term: bool) -> Value {
        let mut p = json!({"metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {"nodeName": "sim-node-1", "containers": [{"ports": [{"name": "http", "containerPort": 3000}]}]},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}});
        if term {
            p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        p
    }

    #[test]
    fn ports_resolve_target_by_name_or_number() {
        let svc = json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"},
            {"name": "m", "port": 9, "targetPort": 9090}, {"port": 7}]}});
        let p = pod("a", "127.1.0.2", true, false);
        let ports = ports(&svc, Some(&p));
        assert_eq!(ports[0], json!({"name": "http", "port": 3000, "protocol": "TCP"}));
        assert_eq!(ports[1]["port"], 9090);
        assert_eq!(ports[2], json!({"port": 7, "protocol": "TCP"}));
    }

    #[test]
    fn ready_not_ready_and_terminating_pods() {
        let (a, b, c) = (
            pod("a", "127.1.0.2", true, false),
            pod("b", "127.1.0.3", false, false),
            pod("c", "127.1.0.4", true, true),
        );
        let s = subsets(&[&a, &b, &c], &[json!({"port": 3000})]).unwrap();
        assert_eq!(s[0]["addresses"][0]["ip"], "127.1.0.2");
        assert_eq!(s[0]["notReadyAddresses"][0]["ip"], "127.1.0.3");
        assert_eq!(s[0]["addresses"].as_array().unwrap().len(), 1);
        assert!(subsets(&[&c], &[]).is_none(), "terminating pods are dropped");
        let e = slice_endpoints(&[&c]);
        assert_eq!(e[0]["conditions"], json!({"ready": false, "serving": true, "terminating": true}));
        assert!(slice_endpoints(&[]).is_null());
    }
}
