//! Pure checks over a [`Snapshot`]: each `check_*` looks at one kind of trouble and returns a
//! finding with its evidence, or nothing. [`check_all`] runs them and sorts the result.
//!
//! Messages quote what the cluster says (waiting reasons, scheduler and kubelet messages), so
//! an operator can match them against `kubectl describe`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::evidence::{
    condition, container_evidence, container_spec, has_bad_waiting, is_pod_ready, live_pods, log_lines, pod_name,
    ready_pod_count, statuses, waiting, warnings_about,
};
use super::{ConfigKind, Snapshot, Workload};
use crate::events::{Finding, FindingCode, Severity};
use crate::resolve::selector_string;

pub use super::rollout::{
    RolloutStage, RolloutState, check_progress_deadline, check_rollout_in_progress, rollout_state,
};

/// Runs every check; findings sorted by severity (most severe first), then code. `Healthy` only
/// when nothing else but `ReplicasManagedExternally` (which is context, not trouble) was found.
pub fn check_all(s: &Snapshot) -> Vec<Finding> {
    let mut out: Vec<Finding> = [
        check_workload_not_found(s),
        check_selector_mismatch(s),
        check_scaled_to_zero(s),
        check_paused(s),
        check_replicas_managed_externally(s),
        check_pods_missing(s),
        check_crash_loop(s),
        check_image_pull(s),
        check_oom_killed(s),
        check_config_error(s),
        check_unschedulable(s),
        check_not_ready(s),
        check_no_endpoints(s),
        check_port_mismatch(s),
        check_progress_deadline(s),
        check_log_errors(s),
    ]
    .into_iter()
    .flatten()
    .collect();
    let failing = out.iter().any(|f| {
        matches!(
            f.code,
            FindingCode::CrashLoopBackOff
                | FindingCode::ImagePullBackOff
                | FindingCode::OomKilled
                | FindingCode::CreateContainerConfigError
                | FindingCode::Unschedulable
                | FindingCode::ProgressDeadlineExceeded
        )
    });
    if !failing && let Some(f) = check_rollout_in_progress(s) {
        out.push(f);
    }
    if out.iter().all(|f| f.code == FindingCode::ReplicasManagedExternally) {
        out.push(healthy(s));
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(&b.code)));
    out
}

pub(super) fn finding(code: FindingCode, severity: Severity, message: String, evidence: Value) -> Option<Finding> {
    Some(Finding { code, severity, message, evidence })
}

/// Critical when nothing serves (no ready pod), else a warning: the service limps on.
pub(super) fn impact(s: &Snapshot) -> Severity {
    if ready_pod_count(s) == 0 { Severity::Critical } else { Severity::Warning }
}

fn svc(s: &Snapshot) -> &str {
    &s.target.service_name
}

pub(super) fn workload_name(s: &Snapshot) -> String {
    s.workload.as_ref().map(|w| w.reference().to_string()).unwrap_or_else(|| "its workload".into())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The selector matches no pod and no workload, and nothing looks like the intended workload.
pub fn check_workload_not_found(s: &Snapshot) -> Option<Finding> {
    if let (Some(wanted), None) = (&s.target.workload, &s.workload) {
        return finding(
            FindingCode::WorkloadNotFound,
            Severity::Critical,
            format!("{wanted} behind service {} no longer exists.", svc(s)),
            json!({"workload": wanted.to_string(), "selector": s.target.selector}),
        );
    }
    if s.target.workload.is_some() || !s.pods.is_empty() || selector_mismatch_candidate(s).is_some() {
        return None;
    }
    finding(
        FindingCode::WorkloadNotFound,
        Severity::Critical,
        format!(
            "No pod and no Deployment or StatefulSet carries the labels {} that service {} selects.",
            selector_string(&s.target.selector),
            svc(s)
        ),
        json!({"selector": s.target.selector, "service": svc(s)}),
    )
}

/// The workload that looks like the Service's although the selector misses it: same name as
/// the Service first, else one whose pod template shares a selector key with a resembling value.
pub fn selector_mismatch_candidate(s: &Snapshot) -> Option<&Workload> {
    if s.target.workload.is_some() || !s.pods.is_empty() {
        return None;
    }
    // Sharing a key alone is too weak (nearly every workload has `app`): the value, or the
    // workload's name, must also resemble the selector's value or the Service's name.
    let shares_key = |w: &&Workload| {
        w.template_labels().is_some_and(|l| {
            s.target.selector.iter().any(|(k, v)| {
                l.get(k).is_some_and(|lv| resembles(lv, v) || resembles(lv, svc(s)) || resembles(w.name(), svc(s)))
            })
        })
    };
    s.candidates.iter().find(|w| w.name() == svc(s)).or_else(|| s.candidates.iter().find(shares_key))
}

/// Whether two names look related: one contains the other, or they share their first
/// dash-separated word (`sandfly-v2` and `sandfly-mcp-server`).
pub fn resembles(a: &str, b: &str) -> bool {
    let first = |x: &str| x.split('-').next().unwrap_or_default().to_string();
    !a.is_empty() && !b.is_empty() && (a.contains(b) || b.contains(a) || (first(a).len() >= 3 && first(a) == first(b)))
}

/// Service selector matches nothing, but a workload that looks like the Service's exists.
pub fn check_selector_mismatch(s: &Snapshot) -> Option<Finding> {
    let w = selector_mismatch_candidate(s)?;
    let labels = w.template_labels().cloned().unwrap_or_default();
    let shown: BTreeMap<String, String> = labels.into_iter().filter(|(k, _)| k != "pod-template-hash").collect();
    finding(
        FindingCode::SelectorMismatch,
        Severity::Critical,
        format!(
            "Service {} selects {} but no pod carries those labels; {} labels its pods {}.",
            svc(s),
            selector_string(&s.target.selector),
            w.reference(),
            selector_string(&shown)
        ),
        json!({
            "service": svc(s),
            "service_selector": s.target.selector,
            "workload": w.reference().to_string(),
            "workload_labels": shown,
            "workload_selector": w.selector().and_then(|l| l.match_labels.clone()),
        }),
    )
}

/// spec.replicas is 0.
pub fn check_scaled_to_zero(s: &Snapshot) -> Option<Finding> {
    let w = s.workload.as_ref().filter(|w| w.desired() == 0)?;
    finding(
        FindingCode::ScaledToZero,
        Severity::Critical,
        format!("{} is scaled to 0 replicas, so no pod serves service {}.", w.reference(), svc(s)),
        json!({"workload": w.reference().to_string(), "desired": 0, "pods": s.pods.iter().map(pod_name).collect::<Vec<_>>()}),
    )
}

/// The Deployment's rollout is paused.
pub fn check_paused(s: &Snapshot) -> Option<Finding> {
    let w = s.workload.as_ref().filter(|w| w.paused())?;
    finding(
        FindingCode::Paused,
        Severity::Warning,
        format!("The rollout of {} is paused, so changes to it do not roll out.", w.reference()),
        json!({"workload": w.reference().to_string(), "paused": true}),
    )
}

/// Autoscalers (HPA or KEDA ScaledObject) that target the workload, as evidence.
pub fn autoscalers(s: &Snapshot) -> Vec<Value> {
    let Some(w) = &s.workload else { return Vec::new() };
    let (kind, name) = (w.kind().as_kind(), w.name());
    let mut out: Vec<Value> = s
        .hpas
        .iter()
        .filter(|h| {
            h.spec.as_ref().is_some_and(|sp| sp.scale_target_ref.kind == kind && sp.scale_target_ref.name == name)
        })
        .map(|h| {
            let spec = h.spec.as_ref();
            json!({"kind": "HorizontalPodAutoscaler", "name": h.metadata.name,
                   "min_replicas": spec.and_then(|s| s.min_replicas), "max_replicas": spec.map(|s| s.max_replicas)})
        })
        .collect();
    for so in &s.scaled_objects {
        let target = &so.data["spec"]["scaleTargetRef"];
        let so_kind = target["kind"].as_str().unwrap_or("Deployment");
        if target["name"].as_str() == Some(name) && so_kind == kind {
            out.push(json!({"kind": "ScaledObject", "name": so.metadata.name,
                "min_replicas": so.data["spec"]["minReplicaCount"], "max_replicas": so.data["spec"]["maxReplicaCount"]}));
        }
    }
    out
}

/// An HPA or KEDA ScaledObject owns the replica count.
pub fn check_replicas_managed_externally(s: &Snapshot) -> Option<Finding> {
    let list = autoscalers(s);
    let first = list.first()?;
    finding(
        FindingCode::ReplicasManagedExternally,
        Severity::Info,
        format!(
            "The replicas of {} are managed by {} {}.",
            workload_name(s),
            first["kind"].as_str().unwrap_or("an autoscaler"),
            first["name"].as_str().unwrap_or("?")
        ),
        json!({"workload": workload_name(s), "autoscalers": list}),
    )
}

/// Desired > 0 but fewer live pods than desired (e.g. pods just deleted).
pub fn check_pods_missing(s: &Snapshot) -> Option<Finding> {
    let w = s.workload.as_ref()?;
    let desired = w.desired();
    // Count the workload's own pods: a Service may also select another workload's (a canary).
    let owners: BTreeSet<&str> = match w {
        Workload::Deployment(_) => s.replica_sets.iter().filter_map(|rs| rs.metadata.name.as_deref()).collect(),
        Workload::StatefulSet(_) => [w.name()].into(),
    };
    let owned = |p: &&k8s_openapi::api::core::v1::Pod| {
        owners.is_empty()
            || crate::resolve::controller_of(p.metadata.owner_references.as_deref())
                .is_some_and(|o| owners.contains(o.name.as_str()))
    };
    let live: Vec<&str> = live_pods(s).filter(owned).map(pod_name).collect();
    if desired <= 0 || live.len() >= desired as usize {
        return None;
    }
    let severity = if live.is_empty() { Severity::Critical } else { Severity::Warning };
    finding(
        FindingCode::PodsMissing,
        severity,
        format!("{} wants {desired} pods but only {} exist.", w.reference(), live.len()),
        json!({"workload": w.reference().to_string(), "desired": desired, "existing": live.len(), "pods": live,
               "warnings": warnings_about(s, &[])}),
    )
}

/// Container evidence for every container of a live pod that `pred` selects.
fn containers_where(
    s: &Snapshot,
    pred: impl Fn(&k8s_openapi::api::core::v1::ContainerStatus) -> bool,
) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for p in live_pods(s) {
        for cs in statuses(p).filter(|cs| pred(cs)) {
            out.push((pod_name(p).to_string(), cs.name.clone(), container_evidence(p, cs)));
        }
    }
    out
}

fn names(hits: &[(String, String, Value)]) -> (Vec<&str>, BTreeSet<&str>) {
    (hits.iter().map(|h| h.0.as_str()).collect(), hits.iter().map(|h| h.1.as_str()).collect())
}

fn waiting_in(reasons: &'static [&'static str]) -> impl Fn(&k8s_openapi::api::core::v1::ContainerStatus) -> bool {
    move |cs| waiting(cs).is_some_and(|(r, _)| reasons.contains(&r))
}

/// Whether a container is crash-looping: waiting in CrashLoopBackOff, or caught in the short
/// window between two back-offs (restarted, last run failed, not ready yet).
pub fn is_crash_looping(cs: &k8s_openapi::api::core::v1::ContainerStatus) -> bool {
    let failed_before = cs.last_state.as_ref().and_then(|st| st.terminated.as_ref()).is_some_and(|t| t.exit_code != 0);
    waiting_in(&["CrashLoopBackOff"])(cs) || (cs.restart_count > 0 && !cs.ready && failed_before)
}

/// Containers crash-looping ([`is_crash_looping`]).
pub fn check_crash_loop(s: &Snapshot) -> Option<Finding> {
    let mut hits = containers_where(s, is_crash_looping);
    if hits.is_empty() {
        return None;
    }
    for (pod, ctr, ev) in &mut hits {
        ev["log_lines"] = json!(log_lines(s, pod, ctr));
    }
    let (pods, ctrs) = names(&hits);
    let first = &hits[0].2;
    let exit = first.get("last_exit_code").map(|c| format!(", last exit code {c}")).unwrap_or_default();
    finding(
        FindingCode::CrashLoopBackOff,
        impact(s),
        format!(
            "Container {} of {} is in CrashLoopBackOff (restarted {} times{exit}).",
            ctrs.into_iter().collect::<Vec<_>>().join(", "),
            plural(pods.len(), "pod", "pods"),
            first["restart_count"]
        ),
        json!({"pods": hits.iter().map(|h| &h.2).collect::<Vec<_>>(), "warnings": warnings_about(s, &pods)}),
    )
}

/// Image pull failures; names the image.
pub fn check_image_pull(s: &Snapshot) -> Option<Finding> {
    const PULL: &[&str] = &["ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName"];
    let mut hits = containers_where(s, waiting_in(PULL));
    if hits.is_empty() {
        return None;
    }
    let mut images = BTreeSet::new();
    for (pod, ctr, ev) in &mut hits {
        let image = s
            .pods
            .iter()
            .find(|p| pod_name(p) == pod)
            .and_then(|p| container_spec(p, ctr))
            .and_then(|c| c.image.clone())
            .or_else(|| ev["message"].as_str().and_then(quoted).map(str::to_string))
            .unwrap_or_default();
        ev["image"] = json!(image);
        ev["newest_revision"] = json!(on_newest_revision(s, pod));
        images.insert(image);
    }
    // Pods of an older revision that cannot pull are being replaced by the rollout; the finding
    // stays (as a warning) but is not the cause of anything.
    let newest = hits.iter().any(|h| h.2["newest_revision"] == true);
    let (pods, _) = names(&hits);
    let first = hits.iter().find(|h| h.2["newest_revision"] == true).unwrap_or(&hits[0]);
    let severity = if newest { impact(s) } else { Severity::Warning };
    let old = if newest { "" } else { " of an older revision" };
    finding(
        FindingCode::ImagePullBackOff,
        severity,
        format!(
            "Image \"{}\" of container {} cannot be pulled ({}) in {}{old}.",
            first.2["image"].as_str().unwrap_or_default(),
            first.1,
            first.2["reason"].as_str().unwrap_or("ImagePullBackOff"),
            plural(pods.len(), "pod", "pods")
        ),
        json!({"images": images, "on_newest_revision": newest, "pods": hits.iter().map(|h| &h.2).collect::<Vec<_>>(),
               "warnings": warnings_about(s, &pods)}),
    )
}

/// Whether a pod belongs to the Deployment's newest ReplicaSet (true when unknown, or for
/// other workloads).
pub fn on_newest_revision(s: &Snapshot, pod: &str) -> bool {
    let Some(current) = s.workload.as_ref().and_then(|w| w.revision()) else { return true };
    let owner = s
        .pods
        .iter()
        .find(|p| pod_name(p) == pod)
        .and_then(|p| crate::resolve::controller_of(p.metadata.owner_references.as_deref()));
    let Some(owner) = owner else { return true };
    let rs = s.replica_sets.iter().find(|rs| rs.metadata.name.as_deref() == Some(owner.name.as_str()));
    match rs.and_then(|rs| super::workload_revision(&rs.metadata)) {
        Some(r) => r >= current,
        None => true,
    }
}

/// The first double-quoted part of a message (`Back-off pulling image "x"` → `x`).
fn quoted(msg: &str) -> Option<&str> {
    let start = msg.find('"')? + 1;
    let len = msg[start..].find('"')?;
    Some(&msg[start..start + len])
}

/// Containers not ready whose current or last run was OOMKilled; names the memory limit.
pub fn check_oom_killed(s: &Snapshot) -> Option<Finding> {
    let oom = |cs: &k8s_openapi::api::core::v1::ContainerStatus| {
        let reason = |st: Option<&k8s_openapi::api::core::v1::ContainerState>| {
            st.and_then(|st| st.terminated.as_ref()).and_then(|t| t.reason.as_deref()) == Some("OOMKilled")
        };
        !cs.ready && (reason(cs.state.as_ref()) || reason(cs.last_state.as_ref()))
    };
    let mut hits = containers_where(s, oom);
    if hits.is_empty() {
        return None;
    }
    for (pod, ctr, ev) in &mut hits {
        let limit = s
            .pods
            .iter()
            .find(|p| pod_name(p) == pod)
            .and_then(|p| container_spec(p, ctr))
            .and_then(|c| c.resources.as_ref()?.limits.as_ref()?.get("memory").map(|q| q.0.clone()));
        ev["memory_limit"] = json!(limit);
        ev["log_lines"] = json!(log_lines(s, pod, ctr));
    }
    let (pods, _) = names(&hits);
    let first = &hits[0];
    let limit = match first.2["memory_limit"].as_str() {
        Some(l) => format!("memory limit {l}"),
        None => "no memory limit set".into(),
    };
    finding(
        FindingCode::OomKilled,
        impact(s),
        format!("Container {} was OOMKilled ({limit}) in {}.", first.1, plural(pods.len(), "pod", "pods")),
        json!({"pods": hits.iter().map(|h| &h.2).collect::<Vec<_>>(), "warnings": warnings_about(s, &pods)}),
    )
}

/// What a kubelet message says is missing: kind, name, and the key when one key is missing.
pub type Missing = (ConfigKind, String, Option<String>);

/// What a kubelet message says is missing: (kind, name, key). Reads a CreateContainerConfigError
/// message (`secret "x" not found`, `configmap "x" not found`, `couldn't find key k in Secret
/// ns/x`, each maybe after `Error: `) and a `FailedMount` event's (`MountVolume.SetUp failed for
/// volume "v" : secret "x" not found`).
pub fn parse_missing_config(msg: &str) -> Option<Missing> {
    let msg = msg.strip_prefix("Error: ").unwrap_or(msg);
    let msg = match msg.strip_prefix("MountVolume.SetUp failed for volume ") {
        Some(rest) => rest.split_once(" : ")?.1,
        None => msg,
    };
    for (prefix, kind) in [("configmap \"", ConfigKind::ConfigMap), ("secret \"", ConfigKind::Secret)] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let (name, tail) = rest.split_once('"')?;
            return (tail == " not found").then(|| (kind, name.to_string(), None));
        }
    }
    // couldn't find key <k> in ConfigMap <ns>/<n>
    let rest = msg.strip_prefix("couldn't find key ")?;
    let (key, rest) = rest.split_once(" in ")?;
    let (kind, obj) = rest.split_once(' ')?;
    let kind = match kind {
        "ConfigMap" => ConfigKind::ConfigMap,
        "Secret" => ConfigKind::Secret,
        _ => return None,
    };
    let name = obj.rsplit('/').next()?.trim();
    Some((kind, name.to_string(), Some(key.to_string())))
}

/// CreateContainerConfigError, or pods stuck creating while a required ConfigMap/Secret is
/// missing (a missing volume source fails the mount, not the config: the kubelet's
/// `FailedMount` warning names it). Names what is missing from the kubelet's own words, so no
/// ConfigMap or Secret is ever read.
pub fn check_config_error(s: &Snapshot) -> Option<Finding> {
    let hits = containers_where(s, waiting_in(&["CreateContainerConfigError"]));
    let mut missing: Vec<Value> = Vec::new();
    let mut push = |kind: ConfigKind, name: &str, key: Option<&str>| {
        let v = json!({"kind": kind.as_str(), "name": name, "key": key});
        if !missing.iter().any(|m| m["kind"] == v["kind"] && m["name"] == v["name"]) {
            missing.push(v);
        }
    };
    for (_, _, ev) in &hits {
        if let Some((kind, name, key)) = ev["message"].as_str().and_then(parse_missing_config) {
            push(kind, &name, key.as_deref());
        }
    }
    let creating: Vec<&str> = live_pods(s)
        .filter(|p| statuses(p).any(|cs| waiting(cs).is_some_and(|(r, _)| r == "ContainerCreating")))
        .map(pod_name)
        .collect();
    // (pod, what is missing) from the FailedMount warnings of pods stuck creating.
    let absent: Vec<(&str, Missing)> = s
        .warnings
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedMount"))
        .filter_map(|e| Some((creating.iter().find(|p| Some(**p) == e.involved_object.name.as_deref())?, e)))
        .filter_map(|(pod, e)| Some((*pod, e.message.as_deref().and_then(parse_missing_config)?)))
        .collect();
    if hits.is_empty() && absent.is_empty() {
        return None;
    }
    for (_, (kind, name, key)) in &absent {
        push(*kind, name, key.as_deref());
    }
    let mut pods: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
    for (pod, _) in &absent {
        if !pods.contains(pod) {
            pods.push(pod);
        }
    }
    let what = match missing.first() {
        Some(m) => match m["key"].as_str() {
            Some(k) => format!(
                "{} \"{}\" has no key {k}",
                m["kind"].as_str().unwrap_or_default(),
                m["name"].as_str().unwrap_or_default()
            ),
            None => format!(
                "{} \"{}\" does not exist",
                m["kind"].as_str().unwrap_or_default(),
                m["name"].as_str().unwrap_or_default()
            ),
        },
        None => {
            hits.first().and_then(|h| h.2["message"].as_str()).unwrap_or("its configuration is invalid").to_string()
        }
    };
    finding(
        FindingCode::CreateContainerConfigError,
        impact(s),
        format!("{} cannot start: {what}.", plural(pods.len(), "pod", "pods")),
        json!({"missing": missing, "pods": hits.iter().map(|h| &h.2).collect::<Vec<_>>(), "pod_names": pods,
               "warnings": warnings_about(s, &pods)}),
    )
}

/// PodScheduled=False with reason Unschedulable (or a FailedScheduling warning); quotes the
/// scheduler and names the nodeSelector.
pub fn check_unschedulable(s: &Snapshot) -> Option<Finding> {
    let mut pods = Vec::new();
    let mut message = None;
    for p in live_pods(s) {
        let cond = condition(p, "PodScheduled")
            .filter(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable"));
        let event = s.warnings.iter().rev().find(|e| {
            e.reason.as_deref() == Some("FailedScheduling") && e.involved_object.name.as_deref() == Some(pod_name(p))
        });
        let scheduled = condition(p, "PodScheduled").is_some_and(|c| c.status == "True");
        let msg = match (cond, event) {
            (Some(c), _) => c.message.clone(),
            (None, Some(e)) if !scheduled && p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() => {
                e.message.clone()
            }
            _ => continue,
        };
        message = message.or(msg);
        pods.push(p);
    }
    let first = pods.first()?;
    let node_selector = first.spec.as_ref().and_then(|s| s.node_selector.clone()).unwrap_or_default();
    let names: Vec<&str> = pods.iter().map(|p| pod_name(p)).collect();
    let msg = message.unwrap_or_else(|| "no node fits the pod".into());
    finding(
        FindingCode::Unschedulable,
        impact(s),
        format!("{} cannot be scheduled: {msg}", plural(names.len(), "pod", "pods")),
        json!({"pods": names, "message": msg, "node_selector": node_selector, "warnings": warnings_about(s, &names)}),
    )
}

/// Running pods that are not ready, not already explained by a container that cannot start.
/// How long a pod that has never restarted may take to become ready before it counts as
/// `NotReady` (a restart would only start it over).
pub const STARTUP_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// A pod still starting up: no container restarted, started less than [`STARTUP_GRACE`] ago.
pub fn is_starting(p: &k8s_openapi::api::core::v1::Pod, now: jiff::Timestamp) -> bool {
    let never_restarted = statuses(p).all(|cs| cs.restart_count == 0);
    let young = p
        .status
        .as_ref()
        .and_then(|st| st.start_time.as_ref())
        .is_some_and(|t| now.duration_since(t.0).unsigned_abs() < STARTUP_GRACE);
    never_restarted && young
}

pub fn check_not_ready(s: &Snapshot) -> Option<Finding> {
    let running: Vec<_> =
        live_pods(s).filter(|p| p.status.as_ref().and_then(|st| st.phase.as_deref()) == Some("Running")).collect();
    let now = jiff::Timestamp::now();
    let unready: Vec<_> =
        running.iter().filter(|p| !is_pod_ready(p) && !has_bad_waiting(p) && !is_starting(p, now)).collect();
    if unready.is_empty() {
        return None;
    }
    let names: Vec<&str> = unready.iter().map(|p| pod_name(p)).collect();
    let detail: Vec<Value> = unready
        .iter()
        .map(|p| {
            let c = condition(p, "Ready");
            json!({"pod": pod_name(p), "reason": c.and_then(|c| c.reason.clone()), "message": c.and_then(|c| c.message.clone()),
                   "containers": statuses(p).map(|cs| container_evidence(p, cs)).collect::<Vec<_>>()})
        })
        .collect();
    let why = detail[0]["message"].as_str().map(|m| format!(" ({m})")).unwrap_or_default();
    finding(
        FindingCode::NotReady,
        impact(s),
        format!(
            "{} of {} running pods {} not ready{why}.",
            unready.len(),
            running.len(),
            if unready.len() == 1 { "is" } else { "are" }
        ),
        json!({"pods": detail, "ready": ready_pod_count(s), "running": running.len(), "warnings": warnings_about(s, &names)}),
    )
}

/// Ready addresses of the Service: Endpoints `addresses` and EndpointSlice endpoints whose
/// `ready` is not false (nil means ready). Also the not-ready count.
pub fn endpoint_counts(s: &Snapshot) -> (usize, usize) {
    let subsets = s.endpoints.iter().flat_map(|e| e.subsets.iter().flatten());
    let (mut ready, mut not_ready) = (BTreeSet::new(), BTreeSet::new());
    for sub in subsets {
        ready.extend(sub.addresses.iter().flatten().map(|a| a.ip.clone()));
        not_ready.extend(sub.not_ready_addresses.iter().flatten().map(|a| a.ip.clone()));
    }
    for ep in s.endpoint_slices.iter().flat_map(|sl| sl.endpoints.iter()) {
        let ok = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
        let set = if ok { &mut ready } else { &mut not_ready };
        set.extend(ep.addresses.iter().cloned());
    }
    not_ready.retain(|ip| !ready.contains(ip));
    (ready.len(), not_ready.len())
}

/// The Service has no ready endpoint.
pub fn check_no_endpoints(s: &Snapshot) -> Option<Finding> {
    let (ready, not_ready) = endpoint_counts(s);
    if ready > 0 {
        return None;
    }
    finding(
        FindingCode::NoEndpoints,
        Severity::Critical,
        format!("Service {} has no ready endpoints, so connections to it fail.", svc(s)),
        json!({"service": svc(s), "ready_addresses": 0, "not_ready_addresses": not_ready,
               "endpoints_object": s.endpoints.is_some(), "endpoint_slices": s.endpoint_slices.len()}),
    )
}

/// A Service targetPort that no container port matches (by name always; by number when the
/// containers declare ports at all).
pub fn check_port_mismatch(s: &Snapshot) -> Option<Finding> {
    let containers = s
        .workload
        .as_ref()
        .and_then(|w| w.template()?.spec.as_ref())
        .or_else(|| s.pods.first().and_then(|p| p.spec.as_ref()))
        .map(|sp| sp.containers.clone())?;
    let declared: Vec<(String, Option<String>, i32)> = containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten().map(|p| (c.name.clone(), p.name.clone(), p.container_port)))
        .collect();
    let ports = s.target.service.spec.as_ref().and_then(|sp| sp.ports.clone()).unwrap_or_default();
    let mut bad = Vec::new();
    let mut severity = Severity::Warning;
    for p in &ports {
        let target = p.target_port.clone().unwrap_or(IntOrString::Int(p.port));
        let ok = match &target {
            IntOrString::Int(n) => declared.is_empty() || declared.iter().any(|d| d.2 == *n),
            IntOrString::String(name) => declared.iter().any(|d| d.1.as_deref() == Some(name)),
        };
        if !ok {
            if matches!(target, IntOrString::String(_)) {
                severity = Severity::Critical;
            }
            bad.push((p.name.clone(), p.port, target));
        }
    }
    let (name, port, target) = bad.first()?;
    let shown = |t: &IntOrString| match t {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => format!("\"{s}\""),
    };
    let declared_text: Vec<String> =
        declared.iter().map(|d| d.1.clone().map_or(d.2.to_string(), |n| format!("{n}:{}", d.2))).collect();
    finding(
        FindingCode::PortMismatch,
        severity,
        format!(
            "Service port {} targets port {}, which no container declares (containers declare {}).",
            name.clone().unwrap_or_else(|| port.to_string()),
            shown(target),
            if declared_text.is_empty() { "none".into() } else { declared_text.join(", ") }
        ),
        json!({
            "service_ports": bad.iter().map(|(n, p, t)| json!({"name": n, "port": p, "target_port": t})).collect::<Vec<_>>(),
            "container_ports": declared.iter().map(|(c, n, p)| json!({"container": c, "name": n, "port": p})).collect::<Vec<_>>(),
        }),
    )
}

/// Error lines found in failing containers' logs.
pub fn check_log_errors(s: &Snapshot) -> Option<Finding> {
    let first = s.logs.first()?;
    let total: usize = s.logs.iter().map(|l| l.lines.len()).sum();
    finding(
        FindingCode::LogErrors,
        Severity::Warning,
        format!(
            "The logs of container {} in pod {} show errors, e.g. \"{}\".",
            first.container,
            first.pod,
            first.lines.last().map(|l| super::logs::cut(l, 120)).unwrap_or_default()
        ),
        json!({"lines": total, "logs": s.logs.iter().map(|l| json!({"pod": l.pod, "container": l.container,
            "previous": l.previous, "lines": l.lines})).collect::<Vec<_>>()}),
    )
}

fn healthy(s: &Snapshot) -> Finding {
    let (ready, _) = endpoint_counts(s);
    let detail = match &s.workload {
        Some(w) => format!(" and {} has {}/{} pods ready", w.reference(), ready_pod_count(s), w.desired()),
        None => String::new(),
    };
    Finding {
        code: FindingCode::Healthy,
        severity: Severity::Info,
        message: format!("Service {} has {}{detail}.", svc(s), plural(ready, "ready endpoint", "ready endpoints")),
        evidence: json!({"ready_endpoints": ready, "ready_pods": ready_pod_count(s), "workload": workload_name(s)}),
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
