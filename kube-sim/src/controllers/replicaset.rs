//! The replicaset controller: creates pods from the template (`generateName: <rs>-`) and
//! deletes surplus ones (unscheduled, pending and not-ready first) until the non-terminating
//! pods match `spec.replicas`, and writes the ReplicaSet's status.

use serde_json::{Value, json};

use super::recorder::{self, Type};
use super::{Ctx, controller_uid, int, meta, owner_ref, pod_ready, selector_matches, terminating};
use crate::resources::{PODS, REPLICASETS};

/// Runs the replicaset controller over every ReplicaSet.
pub fn sync(ctx: &Ctx) {
    let (rses, _) = ctx.store.list(&REPLICASETS, None);
    let (pods, _) = ctx.store.list(&PODS, None);
    for rs in rses.iter().filter(|rs| !terminating(rs)) {
        let owned: Vec<&Value> = pods
            .iter()
            .filter(|p| meta(p, "namespace") == meta(rs, "namespace") && controller_uid(p) == Some(meta(rs, "uid")))
            .collect();
        sync_one(ctx, rs, &owned);
    }
}

fn finished(pod: &Value) -> bool {
    matches!(pod["status"]["phase"].as_str(), Some("Failed" | "Succeeded"))
}

/// How eager the controller is to delete a pod: lower goes first.
fn deletion_rank(pod: &Value) -> (u8, u8, u8, std::cmp::Reverse<String>) {
    let unscheduled = u8::from(pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty());
    let running = u8::from(pod["status"]["phase"] == "Running");
    (1 - unscheduled, running, u8::from(pod_ready(pod)), std::cmp::Reverse(meta(pod, "creationTimestamp").to_string()))
}

/// The status a ReplicaSet reports for its pods (zero counters omitted, except terminating).
pub fn compute_status(rs: &Value, pods: &[&Value]) -> Value {
    let active: Vec<&&Value> = pods.iter().filter(|p| !terminating(p) && !finished(p)).collect();
    let labels = &rs["spec"]["template"]["metadata"]["labels"];
    let ready = active.iter().filter(|p| pod_ready(p)).count();
    let labelled = active.iter().filter(|p| super::map_matches(labels, &p["metadata"]["labels"])).count();
    let mut s = serde_json::Map::new();
    for (k, v) in [
        ("replicas", active.len()),
        ("fullyLabeledReplicas", labelled),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
    ] {
        if v != 0 || k == "replicas" {
            s.insert(k.into(), json!(v));
        }
    }
    s.insert("observedGeneration".into(), json!(int(&rs["metadata"]["generation"]).max(1)));
    s.insert("terminatingReplicas".into(), json!(pods.iter().filter(|p| terminating(p)).count()));
    Value::Object(s)
}

fn sync_one(ctx: &Ctx, rs: &Value, pods: &[&Value]) {
    let ns = meta(rs, "namespace");
    let name = meta(rs, "name");
    let want = int(&rs["spec"]["replicas"]).max(0) as usize;
    let mut active: Vec<&Value> = pods.iter().copied().filter(|p| !terminating(p) && !finished(p)).collect();
    if active.len() < want {
        for _ in active.len()..want {
            let pod = pod_from_template(rs);
            match ctx.store.create(&PODS, ns, pod, false) {
                Ok(p) => {
                    let msg = format!("Created pod: {}", meta(&p, "name"));
                    ctx.recorder.event(rs, None, Type::Normal, "SuccessfulCreate", &msg, recorder::REPLICASET);
                }
                Err(e) => {
                    let msg = format!("Error creating: {}", e.message);
                    ctx.recorder.event(rs, None, Type::Warning, "FailedCreate", &msg, recorder::REPLICASET);
                    break;
                }
            }
        }
    } else if active.len() > want {
        active.sort_by_key(|p| deletion_rank(p));
        for pod in &active[..active.len() - want] {
            if delete_pod(ctx, pod) {
                let msg = format!("Deleted pod: {}", meta(pod, "name"));
                ctx.recorder.event(rs, None, Type::Normal, "SuccessfulDelete", &msg, recorder::REPLICASET);
            }
        }
    }
    let status = compute_status(rs, pods);
    let _ = ctx.store.mutate(&REPLICASETS, ns, name, false, |obj| {
        obj["status"] = status;
        Ok(())
    });
}

/// Deletes a pod as the API server does: unbound pods go at once, bound ones get a
/// `deletionTimestamp` and the kubelet finishes them.
pub fn delete_pod(ctx: &Ctx, pod: &Value) -> bool {
    let ns = meta(pod, "namespace");
    let name = meta(pod, "name");
    if pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty() {
        return ctx.store.delete(&PODS, ns, name, false).is_ok();
    }
    let grace = pod["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(grace))
        .unwrap_or_else(|_| jiff::Timestamp::now());
    let at = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    ctx.store
        .mutate(&PODS, ns, name, false, |p| {
            if p["metadata"]["deletionTimestamp"].is_null() {
                p["metadata"]["deletionTimestamp"] = json!(at);
                p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            }
            Ok(())
        })
        .is_ok()
}

/// The QoS class Kubernetes derives from the containers' requests and limits.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers = spec["containers"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let req = &c["resources"]["requests"];
        let lim = &c["resources"]["limits"];
        let has = |v: &Value| v.as_object().is_some_and(|o| !o.is_empty());
        any |= has(req) || has(lim);
        let full = ["cpu", "memory"].iter().all(|r| !lim[r].is_null() && (req[r].is_null() || req[r] == lim[r]));
        guaranteed &= full;
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// A new pod for the ReplicaSet, with the defaults the API server would add.
pub fn pod_from_template(rs: &Value) -> Value {
    let t = &rs["spec"]["template"];
    let mut meta_ = json!({
        "generateName": format!("{}-", meta(rs, "name")),
        "namespace": meta(rs, "namespace"),
        "labels": t["metadata"]["labels"],
        "ownerReferences": [owner_ref(rs)],
    });
    if t["metadata"]["annotations"].is_object() {
        meta_["annotations"] = t["metadata"]["annotations"].clone();
    }
    let mut spec = t["spec"].clone();
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("serviceAccountName", json!("default")),
        ("enableServiceLinks", json!(true)),
        ("priority", json!(0)),
    ] {
        if spec.get(k).is_none_or(Value::is_null) {
            spec[k] = v;
        }
    }
    let qos = qos_class(&spec);
    json!({"metadata": meta_, "spec": spec, "status": {"phase": "Pending", "qosClass": qos}})
}

/// Whether the pod matches the ReplicaSet's selector (used by tests and adoption checks).
pub fn selects(rs: &Value, pod: &Value) -> bool {
    selector_matches(&rs["spec"]["selector"], &pod["metadata"]["labels"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-abc", "namespace": "ns", "uid": "u1", "generation": 2},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}},
        })
    }

    #[test]
    fn pods_from_template_carry_owner_labels_and_defaults() {
        let p = pod_from_template(&rs());
        assert_eq!(p["metadata"]["generateName"], "web-abc-");
        assert_eq!(p["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(p["spec"]["restartPolicy"], "Always");
        assert_eq!(p["status"]["qosClass"], "BestEffort");
        assert!(selects(&rs(), &p));
    }

    #[test]
    fn status_counts_ready_and_terminating() {
        let ready = json!({"metadata": {"labels": {"app": "web"}}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}});
        let pending = json!({"metadata": {"labels": {"app": "web"}}, "status": {"phase": "Pending"}});
        let gone = json!({"metadata": {"labels": {"app": "web"}, "deletionTimestamp": "x"}, "status": {}});
        let s = compute_status(&rs(), &[&ready, &pending, &gone]);
        assert_eq!(
            s,
            json!({"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 1,
                   "observedGeneration": 2, "terminatingReplicas": 1})
        );
    }

    #[test]
    fn surplus_pods_not_ready_go_first() {
        let ready = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"nodeName": "n"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let not_ready = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"nodeName": "n"},
            "status": {"phase": "Running"}});
        let unscheduled = json!({"metadata": {}, "spec": {}, "status": {"phase": "Pending"}});
        let mut v = [&ready, &not_ready, &unscheduled];
        v.sort_by_key(|p| deletion_rank(p));
        assert_eq!(v, [&unscheduled, &not_ready, &ready]);
    }

    #[test]
    fn qos_follows_resources() {
        assert_eq!(qos_class(&json!({"containers": [{}]})), "BestEffort");
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
