//! Small readers over pods, containers and events that the checks share, and the JSON shapes
//! their evidence uses.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Event, Pod};
use serde_json::{Value, json};

use super::Snapshot;

/// An Event's time: lastTimestamp, else eventTime, else firstTimestamp, else creation.
pub fn event_time(e: &Event) -> Option<jiff::Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// A pod's name.
pub fn pod_name(p: &Pod) -> &str {
    p.metadata.name.as_deref().unwrap_or_default()
}

/// Pods not being deleted and not finished (an evicted pod is `Failed` and serves nothing).
pub fn live_pods(s: &Snapshot) -> impl Iterator<Item = &Pod> {
    s.pods.iter().filter(|p| {
        let phase = p.status.as_ref().and_then(|st| st.phase.as_deref());
        p.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Failed" | "Succeeded"))
    })
}

/// Whether the pod's Ready condition is True.
pub fn is_pod_ready(p: &Pod) -> bool {
    condition(p, "Ready").is_some_and(|c| c.status == "True")
}

/// A pod condition by type.
pub fn condition<'a>(p: &'a Pod, type_: &str) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// Ready, non-terminating pods.
pub fn ready_pod_count(s: &Snapshot) -> usize {
    live_pods(s).filter(|p| is_pod_ready(p)).count()
}

/// Init and app container statuses.
pub fn statuses(p: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let st = p.status.as_ref();
    st.into_iter().flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()))
}

/// A container's spec by name (app or init).
pub fn container_spec<'a>(p: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = p.spec.as_ref()?;
    spec.containers.iter().chain(spec.init_containers.iter().flatten()).find(|c| c.name == name)
}

/// The waiting reason and message of a container, if it is waiting.
pub fn waiting(cs: &ContainerStatus) -> Option<(&str, Option<&str>)> {
    let w = cs.state.as_ref()?.waiting.as_ref()?;
    Some((w.reason.as_deref()?, w.message.as_deref()))
}

/// Waiting reasons that mean the container cannot start or keeps dying.
pub const BAD_WAITING: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Whether any container of the pod waits for one of [`BAD_WAITING`].
pub fn has_bad_waiting(p: &Pod) -> bool {
    statuses(p).any(|cs| waiting(cs).is_some_and(|(r, _)| BAD_WAITING.contains(&r)))
}

/// Common evidence of one container: pod, container, state reason and message, restarts,
/// last exit code.
pub fn container_evidence(p: &Pod, cs: &ContainerStatus) -> Value {
    let state = cs.state.as_ref();
    let (reason, message) = match (state.and_then(|s| s.waiting.as_ref()), state.and_then(|s| s.terminated.as_ref())) {
        (Some(w), _) => (w.reason.clone(), w.message.clone()),
        (None, Some(t)) => (t.reason.clone(), t.message.clone()),
        _ => (None, None),
    };
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let mut v = json!({
        "pod": pod_name(p),
        "container": cs.name,
        "ready": cs.ready,
        "restart_count": cs.restart_count,
    });
    let obj = v.as_object_mut().expect("object literal");
    if let Some(r) = reason {
        obj.insert("reason".into(), r.into());
    }
    if let Some(m) = message {
        obj.insert("message".into(), super::logs::cut(&m, 300).into());
    }
    if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        obj.insert("exit_code".into(), t.exit_code.into());
    }
    if let Some(t) = last {
        obj.insert("last_exit_code".into(), t.exit_code.into());
        if let Some(r) = &t.reason {
            obj.insert("last_reason".into(), r.clone().into());
        }
    }
    v
}

/// An Event as evidence.
pub fn event_evidence(e: &Event) -> Value {
    json!({
        "object": format!("{}/{}", e.involved_object.kind.as_deref().unwrap_or("?"), e.involved_object.name.as_deref().unwrap_or("?")),
        "reason": e.reason,
        "message": e.message.as_deref().map(|m| super::logs::cut(m, 300)),
        "count": e.count,
        "last_seen": event_time(e).map(|t| t.to_string()),
    })
}

/// Warning events about any of `names` (or all when `names` is empty), as evidence.
pub fn warnings_about(s: &Snapshot, names: &[&str]) -> Vec<Value> {
    s.warnings
        .iter()
        .filter(|e| names.is_empty() || e.involved_object.name.as_deref().is_some_and(|n| names.contains(&n)))
        .map(event_evidence)
        .collect()
}

/// Error log lines of one container, as evidence.
pub fn log_lines(s: &Snapshot, pod: &str, container: &str) -> Vec<String> {
    s.logs.iter().filter(|l| l.pod == pod && l.container == container).flat_map(|l| l.lines.iter().cloned()).collect()
}
