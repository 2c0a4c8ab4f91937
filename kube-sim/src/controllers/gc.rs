//! Garbage collection: ReplicaSets whose Deployment is gone, pods whose ReplicaSet is gone
//! (deleted gracefully, so the kubelet stops them), and the Endpoints and EndpointSlices of
//! deleted Services.

use std::collections::HashSet;

use super::{Ctx, controller_uid, meta, terminating};
use crate::resources::{DEPLOYMENTS, ENDPOINTS, ENDPOINTSLICES, PODS, REPLICASETS, SERVICES};

/// Deletes objects whose owner no longer exists.
pub fn sync(ctx: &Ctx) {
    let uids =
        |res| -> HashSet<String> { ctx.store.list(res, None).0.iter().map(|o| meta(o, "uid").to_string()).collect() };
    let deployments = uids(&DEPLOYMENTS);
    let (rses, _) = ctx.store.list(&REPLICASETS, None);
    for rs in &rses {
        if let Some(owner) = controller_uid(rs)
            && !deployments.contains(owner)
            && owner_kind(rs) == "Deployment"
        {
            let _ = ctx.store.delete(&REPLICASETS, meta(rs, "namespace"), meta(rs, "name"), false);
        }
    }
    let replicasets = uids(&REPLICASETS);
    let (pods, _) = ctx.store.list(&PODS, None);
    for pod in pods.iter().filter(|p| !terminating(p)) {
        if let Some(owner) = controller_uid(pod)
            && !replicasets.contains(owner)
            && owner_kind(pod) == "ReplicaSet"
        {
            super::replicaset::delete_pod(ctx, pod);
        }
    }
    let (svcs, _) = ctx.store.list(&SERVICES, None);
    let services: HashSet<(&str, &str)> = svcs.iter().map(|s| (meta(s, "namespace"), meta(s, "name"))).collect();
    let service_uids: HashSet<&str> = svcs.iter().map(|s| meta(s, "uid")).collect();
    for ep in ctx.store.list(&ENDPOINTS, None).0 {
        let managed = ep["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"] == "endpoint-controller";
        if managed && !services.contains(&(meta(&ep, "namespace"), meta(&ep, "name"))) {
            let _ = ctx.store.delete(&ENDPOINTS, meta(&ep, "namespace"), meta(&ep, "name"), false);
        }
    }
    for slice in ctx.store.list(&ENDPOINTSLICES, None).0 {
        if controller_uid(&slice).is_some_and(|u| !service_uids.contains(u)) && owner_kind(&slice) == "Service" {
            let _ = ctx.store.delete(&ENDPOINTSLICES, meta(&slice, "namespace"), meta(&slice, "name"), false);
        }
    }
}

fn owner_kind(obj: &serde_json::Value) -> &str {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["controller"].as_bool() == Some(true)))
        .and_then(|r| r["kind"].as_str())
        .unwrap_or_default()
}
