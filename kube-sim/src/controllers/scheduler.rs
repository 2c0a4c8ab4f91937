//! The scheduler: binds each pending pod to a Node its nodeSelector (and required node
//! affinity) matches, or leaves it Pending with `PodScheduled False Unschedulable` and a
//! `FailedScheduling` Event worded as kube-scheduler words it (k8s-reference §3.4).

use serde_json::{Value, json};

use super::recorder::{self, Type};
use super::{Ctx, map_matches, meta, selector_matches, terminating};
use crate::resources::{NODES, PODS};

/// Schedules every unbound pod.
pub fn sync(ctx: &Ctx) {
    let (pods, _) = ctx.store.list(&PODS, None);
    let mut nodes: Option<Vec<Value>> = None;
    for pod in &pods {
        if terminating(pod) || !pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty() {
            continue;
        }
        if pod["spec"]["schedulerName"].as_str().is_some_and(|s| s != "default-scheduler") {
            continue;
        }
        let nodes = nodes.get_or_insert_with(|| ctx.store.list(&NODES, None).0);
        schedule(ctx, pod, nodes);
    }
}

/// Whether the pod may run on the node (nodeSelector and required node affinity terms).
pub fn fits(pod: &Value, node: &Value) -> bool {
    let labels = &node["metadata"]["labels"];
    if !map_matches(&pod["spec"]["nodeSelector"], labels) {
        return false;
    }
    let terms =
        &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
    match terms.as_array() {
        Some(terms) if !terms.is_empty() => terms.iter().any(|t| {
            let sel = json!({"matchExpressions": t["matchExpressions"]});
            selector_matches(&sel, labels)
        }),
        _ => true,
    }
}

/// The scheduler's message when no node fits.
pub fn unschedulable_message(nodes: usize) -> String {
    if nodes == 0 {
        return "no nodes available to schedule pods".to_string();
    }
    format!(
        "0/{nodes} nodes are available: {nodes} node(s) didn't match Pod's node affinity/selector. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling."
    )
}

fn schedule(ctx: &Ctx, pod: &Value, nodes: &[Value]) {
    let ns = meta(pod, "namespace");
    let name = meta(pod, "name");
    if let Some(node) = nodes.iter().find(|n| fits(pod, n)) {
        let node_name = meta(node, "name").to_string();
        let bound = ctx.store.mutate(&PODS, ns, name, false, |p| {
            p["spec"]["nodeName"] = json!(node_name);
            let mut conds: Vec<Value> = p["status"]["conditions"].as_array().cloned().unwrap_or_default();
            conds.retain(|c| c["type"] != "PodScheduled");
            conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                "lastTransitionTime": crate::store::now()}));
            p["status"]["conditions"] = json!(conds);
            Ok(())
        });
        if let Ok(p) = bound {
            let msg = format!("Successfully assigned {ns}/{name} to {node_name}");
            ctx.recorder.event(&p, None, Type::Normal, "Scheduled", &msg, recorder::SCHEDULER);
        }
        return;
    }
    let msg = unschedulable_message(nodes.len());
    let already = pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "PodScheduled" && c["message"] == msg.as_str()));
    if already {
        return;
    }
    let res = ctx.store.mutate(&PODS, ns, name, false, |p| {
        let mut conds: Vec<Value> = p["status"]["conditions"].as_array().cloned().unwrap_or_default();
        conds.retain(|c| c["type"] != "PodScheduled");
        conds.push(json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
            "lastTransitionTime": crate::store::now(), "reason": "Unschedulable", "message": msg}));
        p["status"]["conditions"] = json!(conds);
        p["status"]["phase"] = json!("Pending");
        Ok(())
    });
    if let Ok(p) = res {
        ctx.recorder.event(&p, None, Type::Warning, "FailedScheduling", &msg, recorder::SCHEDULER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_selector_must_match_node_labels() {
        let node = json!({"metadata": {"name": "sim-node-1", "labels": {"kubernetes.io/os": "linux"}}});
        assert!(fits(&json!({"spec": {}}), &node));
        assert!(fits(&json!({"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}), &node));
        assert!(!fits(&json!({"spec": {"nodeSelector": {"disktype": "ssd"}}}), &node));
        let aff = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}]}}}}});
        assert!(!fits(&aff, &node));
    }

    #[test]
    fn message_matches_kube_scheduler() {
        assert_eq!(
            unschedulable_message(1),
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
    }
}
