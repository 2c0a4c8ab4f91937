//! Test fixtures in the shapes a real API server returns (shared/k8s-reference.md §2–§3):
//! `cortex-system/sandfly-mcp-server`, 2 replicas, container `server`, port `http` 3000.

use k8s_openapi::api::core::v1::{Endpoints, Event, Pod};
use serde_json::{Value, json};

use super::{Snapshot, Workload};
use crate::resolve::{Target, WorkloadKind, WorkloadRef};

/// Namespace of the fixtures.
pub const NS: &str = "cortex-system";
/// Service and Deployment name.
pub const NAME: &str = "sandfly-mcp-server";
/// The current ReplicaSet.
pub const RS: &str = "sandfly-mcp-server-6f74859f89";

/// The Service.
pub fn service() -> Value {
    json!({"metadata":{"name":NAME,"namespace":NS},"spec":{"selector":{"app":NAME},"type":"ClusterIP",
        "ports":[{"name":"http","port":3000,"protocol":"TCP","targetPort":3000}]}})
}

/// A Deployment with `replicas` desired and `ready` ready, rollout complete.
pub fn deployment(replicas: i32, ready: i32) -> Value {
    let mut status = json!({"observedGeneration":1,"replicas":replicas,"updatedReplicas":replicas,
        "readyReplicas":ready,"availableReplicas":ready,"terminatingReplicas":0,
        "conditions":[
          {"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."},
          {"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable","message":format!("ReplicaSet \"{RS}\" has successfully progressed.")}]});
    if replicas == 0 {
        status = json!({"observedGeneration":2,"terminatingReplicas":0,"conditions":status["conditions"]});
    }
    json!({"metadata":{"name":NAME,"namespace":NS,"generation":if replicas == 0 {2} else {1},
            "annotations":{"deployment.kubernetes.io/revision":"1"}},
        "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":NAME}},"progressDeadlineSeconds":600,
            "template":{"metadata":{"labels":{"app":NAME}},"spec":{"containers":[{"name":"server","image":"nginx",
                "ports":[{"containerPort":3000,"name":"http","protocol":"TCP"}],"resources":{}}]}}},
        "status":status})
}

/// A pod of the current ReplicaSet with the given phase, container status and Ready.
pub fn pod(suffix: &str, phase: &str, ready: bool, container_status: Value) -> Pod {
    let name = format!("{RS}-{suffix}");
    let r = if ready { "True" } else { "False" };
    let mut conditions = vec![
        json!({"type":"PodScheduled","status":"True"}),
        json!({"type":"Initialized","status":"True"}),
        json!({"type":"ContainersReady","status":r}),
    ];
    conditions.push(if ready {
        json!({"type":"Ready","status":"True"})
    } else {
        json!({"type":"Ready","status":"False","reason":"ContainersNotReady","message":"containers with unready status: [server]"})
    });
    serde_json::from_value(json!({
        "metadata":{"name":name,"namespace":NS,"generateName":format!("{RS}-"),
            "labels":{"app":NAME,"pod-template-hash":"6f74859f89"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":RS,"uid":"u1","controller":true,"blockOwnerDeletion":true}]},
        "spec":{"nodeName":"node-1","containers":[{"name":"server","image":"nginx",
            "ports":[{"containerPort":3000,"name":"http","protocol":"TCP"}],"resources":{}}]},
        "status":{"phase":phase,"podIP":format!("10.244.0.{}", suffix.bytes().map(u32::from).sum::<u32>() % 250 + 1),"conditions":conditions,
            "containerStatuses":[container_status]}
    }))
    .expect("pod fixture")
}

/// A running, ready container status.
pub fn running(ready: bool) -> Value {
    json!({"name":"server","image":"docker.io/library/nginx:latest","imageID":"","ready":ready,"started":true,
        "restartCount":0,"state":{"running":{"startedAt":"2026-11-28T10:00:00Z"}}})
}

/// A container waiting with `reason`/`message`, and optionally a last terminated state.
pub fn waiting(reason: &str, message: &str, restarts: i32, last: Option<Value>) -> Value {
    let mut v = json!({"name":"server","image":"nginx","imageID":"","ready":false,"started":false,
        "restartCount":restarts,"state":{"waiting":{"reason":reason,"message":message}}});
    if let Some(l) = last {
        v["lastState"] = json!({"terminated": l});
    }
    v
}

/// A pod of the fixture ReplicaSet crash-looping: waiting in CrashLoopBackOff after `restarts`
/// restarts, its last run terminated with `last_reason` and `exit`.
pub fn crashloop_pod(suffix: &str, last_reason: &str, exit: i32, restarts: i32) -> Pod {
    pod(
        suffix,
        "Running",
        false,
        waiting(
            "CrashLoopBackOff",
            &format!("back-off 40s restarting failed container=server pod={RS}-{suffix}_cortex-system(uid)"),
            restarts,
            Some(
                json!({"exitCode": exit, "reason": last_reason, "startedAt": "2026-11-28T10:00:00Z", "finishedAt": "2026-11-28T10:00:01Z"}),
            ),
        ),
    )
}

/// Endpoints with ready and not-ready addresses.
pub fn endpoints(ready: &[&str], not_ready: &[&str]) -> Endpoints {
    let addr = |ip: &&str| json!({"ip":ip,"nodeName":"node-1"});
    let mut v = json!({"metadata":{"name":NAME,"namespace":NS}});
    if !ready.is_empty() || !not_ready.is_empty() {
        let mut subset = json!({"ports":[{"name":"http","port":3000,"protocol":"TCP"}]});
        if !ready.is_empty() {
            subset["addresses"] = ready.iter().map(addr).collect();
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = not_ready.iter().map(addr).collect();
        }
        v["subsets"] = json!([subset]);
    }
    serde_json::from_value(v).expect("endpoints fixture")
}

/// A core/v1 Event.
pub fn event(kind: &str, name: &str, type_: &str, reason: &str, message: &str, ts: &str) -> Event {
    serde_json::from_value(json!({"metadata":{"name":format!("{name}.{ts}"),"namespace":NS},
        "involvedObject":{"apiVersion":"v1","kind":kind,"name":name,"namespace":NS},
        "type":type_,"reason":reason,"message":message,"count":1,
        "firstTimestamp":ts,"lastTimestamp":ts,"source":{"component":"deployment-controller"}}))
    .expect("event fixture")
}

/// A healthy snapshot: 2/2 ready pods, 2 ready endpoints.
pub fn healthy() -> Snapshot {
    with(
        deployment(2, 2),
        vec![pod("aaaaa", "Running", true, running(true)), pod("bbbbb", "Running", true, running(true))],
    )
}

/// A snapshot of the Deployment `dep` and `pods`; endpoints follow the pods' readiness as
/// written in the fixture (the `Ready` condition literally, not the product's own reading).
pub fn with(dep: Value, pods: Vec<Pod>) -> Snapshot {
    let literal = |p: &Pod| serde_json::to_value(p).expect("pod fixture as JSON");
    let ips = |ready: bool| -> Vec<String> {
        pods.iter()
            .map(literal)
            .filter(|p| {
                let conditions = p["status"]["conditions"].as_array().cloned().unwrap_or_default();
                conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True") == ready
            })
            .filter_map(|p| p["status"]["podIP"].as_str().map(str::to_string))
            .collect()
    };
    let (r, n) = (ips(true), ips(false));
    let r: Vec<&str> = r.iter().map(String::as_str).collect();
    let n: Vec<&str> = n.iter().map(String::as_str).collect();
    let service = serde_json::from_value(service()).expect("service fixture");
    Snapshot {
        target: Target {
            namespace: NS.into(),
            service_name: NAME.into(),
            // The fixture Service's one port, literally.
            port: Some(crate::resolve::ResolvedPort {
                port: 3000,
                target_port: k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(3000),
                name: Some("http".into()),
            }),
            service,
            selector: [("app".to_string(), NAME.to_string())].into(),
            workload: Some(WorkloadRef { kind: WorkloadKind::Deployment, name: NAME.into() }),
        },
        workload: Some(Workload::Deployment(Box::new(serde_json::from_value(dep).expect("deployment fixture")))),
        replica_sets: Vec::new(),
        pods,
        endpoints: Some(endpoints(&r, &n)),
        endpoint_slices: Vec::new(),
        workload_events: Vec::new(),
        warnings: Vec::new(),
        hpas: Vec::new(),
        scaled_objects: Vec::new(),
        logs: Vec::new(),
        candidates: Vec::new(),
    }
}
