//! The decision (DESIGN §2.3): a pure choice of remediation from a [`Diagnosis`].
//!
//! Several findings often come together (an OOM-killed container also crash-loops; a missing
//! ConfigMap also leaves the Service without endpoints). The first rule that applies wins:
//!
//! 1. `WorkloadNotFound` → manual: nothing to act on.
//! 2. `ScaledToZero` → refuse when an HPA/KEDA owns the replicas, else scale to the remembered
//!    count. It beats everything else: with no pods, no other finding can be trusted, and
//!    scaling works on a paused Deployment too.
//! 3. `SelectorMismatch` → manual (patch the Service or the Deployment).
//! 4. Causes a restart cannot fix, before the symptoms they produce (CrashLoopBackOff,
//!    NotReady, NoEndpoints): `ImagePullBackOff` on the newest revision (→ rollback with
//!    `--allow rollback` and an older revision; pods of an older revision that cannot pull are
//!    being replaced and decide nothing), `CreateContainerConfigError`, `OOMKilled`,
//!    `Unschedulable` → manual.
//! 5. `Paused` → refuse: a restart would not roll out.
//! 6. `PodsMissing` → wait for the ReplicaSet to recreate them.
//! 7. `CrashLoopBackOff` → restart; but when only the newest revision crashes while an older
//!    one still serves (a stalled rollout), manual naming `rollout undo` (rollback when allowed).
//! 8. `ProgressDeadlineExceeded` → manual (`rollout undo`; rollback when allowed).
//! 9. `RolloutInProgress` of a real rollout (spec not observed, pods not updated, old pods
//!    left) → wait for it; never restart a rollout, even while its new pods are not ready.
//! 10. `NotReady` → restart; then `RolloutInProgress` that only waits for availability → wait.
//! 11. `PortMismatch` (critical: a named targetPort no container has) → manual.
//! 12. `NoEndpoints` → wait when pods are still starting, else manual.
//! 13. `Unreachable` (added by the caller after a failed probe) → restart when pods are ready.
//! 14. Otherwise healthy.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::diagnose::{ConfigKind, Diagnosis, Snapshot, Workload, is_pod_ready, ready_pod_count};
use crate::events::{ActionKind, Finding, FindingCode, Severity};
use crate::names::{command_name, shell_quote as sq};

/// Annotation where self-heal records the last non-zero replica count it saw.
pub const LAST_REPLICAS_ANNOTATION: &str = "self-heal.dev/last-replicas";
/// kubectl's record of the last applied object.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What policy allows beyond the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--allow rollback`: permit `rollout undo`.
    pub allow_rollback: bool,
}

/// Where the replica count to scale back to came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaSource {
    /// The `self-heal.dev/last-replicas` annotation.
    Annotation,
    /// The deployment controller's "Scaled down replica set X from N to 0" Event.
    ScalingEvent,
    /// `replicas` in `kubectl.kubernetes.io/last-applied-configuration`.
    LastApplied,
    /// Nothing remembered: 1.
    Default,
}

/// The replica count to scale back to: where it came from and how sure it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remembered {
    /// The count.
    pub count: i32,
    /// Its source.
    pub kind: ReplicaSource,
    /// Whether it is known to be the count the workload ran right before it went to 0.
    pub exact: bool,
    /// What it rests on, in words (for the plan).
    pub basis: String,
}

/// The remediation chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing is wrong.
    Healthy,
    /// Scale the workload to `to` replicas.
    Scale {
        /// The replica count.
        to: i32,
        /// Where it came from.
        source: ReplicaSource,
        /// Whether `to` is known exactly ([`Remembered::exact`]).
        exact: bool,
        /// What it rests on ([`Remembered::basis`]).
        basis: String,
    },
    /// Rollout restart.
    Restart {
        /// Why.
        reason: String,
    },
    /// Rollout undo to the previous revision.
    Rollback {
        /// Why.
        reason: String,
    },
    /// Wait for the controller to recreate missing pods.
    WaitForPods,
    /// Wait for the running rollout to finish.
    WaitForRollout,
    /// No safe automatic fix: a human must act.
    Manual {
        /// What is wrong.
        reason: String,
        /// What to do, with the exact command.
        recommendation: String,
    },
    /// Policy forbids acting.
    Refuse {
        /// Why, and what would unblock it.
        reason: String,
    },
}

impl Decision {
    /// The `action` of the `plan` event.
    pub fn action_kind(&self) -> ActionKind {
        match self {
            Decision::Healthy => ActionKind::None,
            Decision::Scale { .. } => ActionKind::Scale,
            Decision::Restart { .. } => ActionKind::Restart,
            Decision::Rollback { .. } => ActionKind::Rollback,
            Decision::WaitForPods | Decision::WaitForRollout => ActionKind::Wait,
            Decision::Manual { .. } | Decision::Refuse { .. } => ActionKind::Manual,
        }
    }

    /// One sentence for the `plan` event's `reason`.
    pub fn reason(&self) -> String {
        match self {
            Decision::Healthy => "Nothing to fix.".into(),
            Decision::Scale { to, source, exact: true, .. } => {
                format!("Scale back to {to} replicas ({}).", source_text(*source))
            }
            Decision::Scale { to, source, exact: false, basis } => {
                format!("Scale back to {to} replicas ({}; not certain: {basis}).", source_text(*source))
            }
            Decision::Restart { reason } | Decision::Rollback { reason } | Decision::Refuse { reason } => {
                reason.clone()
            }
            Decision::WaitForPods => "Wait for the controller to recreate the missing pods.".into(),
            Decision::WaitForRollout => "Wait for the rollout in progress to finish.".into(),
            Decision::Manual { reason, .. } => reason.clone(),
        }
    }

    /// Structured detail for the `plan` event.
    pub fn detail(&self) -> Value {
        match self {
            Decision::Scale { to, source, exact, basis } => {
                json!({"replicas": to, "source": source, "exact": exact, "basis": basis})
            }
            Decision::Manual { recommendation, .. } => json!({"recommendation": recommendation}),
            Decision::Refuse { .. } => json!({"refused": true}),
            _ => json!({}),
        }
    }

    /// What a human should do, if anything.
    pub fn recommendation(&self) -> Option<&str> {
        match self {
            Decision::Manual { recommendation, .. } => Some(recommendation),
            _ => None,
        }
    }
}

fn source_text(s: ReplicaSource) -> &'static str {
    match s {
        ReplicaSource::Annotation => "the count self-heal last saw",
        ReplicaSource::ScalingEvent => "the count before the scale-down to 0",
        ReplicaSource::LastApplied => "the count in the last applied configuration",
        ReplicaSource::Default => "no earlier count is known",
    }
}

/// The replica count to scale back to, first that exists: the `self-heal.dev/last-replicas`
/// annotation; the step that took the workload to 0, from the deployment controller's
/// "Scaled down replica set X from N to 0" Events ([`scaled_to_zero`]); `replicas` of the
/// last-applied configuration; else 1. Zero or unparsable values are skipped. A ReplicaSet's
/// `desired-replicas` annotation is never the count (a scale to 0 rewrites it to 0); it only
/// tells which ReplicaSets went to 0 in that step.
pub fn remembered_replicas(snapshot: &Snapshot) -> Remembered {
    let w = snapshot.workload.as_ref();
    let positive = |n: i64| i32::try_from(n).ok().filter(|n| *n > 0);
    if let Some(n) =
        w.and_then(|w| w.annotation(LAST_REPLICAS_ANNOTATION)).and_then(|v| v.trim().parse().ok()).and_then(positive)
    {
        return Remembered {
            count: n,
            kind: ReplicaSource::Annotation,
            exact: true,
            basis: format!("{LAST_REPLICAS_ANNOTATION} is {n}, the count self-heal saw running when it last acted"),
        };
    }
    if let Some(r) = scaled_to_zero(snapshot) {
        return r;
    }
    let applied = w
        .and_then(|w| w.annotation(LAST_APPLIED_ANNOTATION))
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|v| v["spec"]["replicas"].as_i64())
        .and_then(positive);
    if let Some(n) = applied {
        return Remembered {
            count: n,
            kind: ReplicaSource::LastApplied,
            exact: false,
            basis: format!(
                "replicas is {n} in kubectl's last-applied configuration; no Event shows the scale-down to 0, and the workload may have been scaled since"
            ),
        };
    }
    Remembered {
        count: 1,
        kind: ReplicaSource::Default,
        exact: false,
        basis: "nothing records the count before the scale-down to 0 (no self-heal annotation, scaling Event or last-applied configuration); 1 is the safe minimum".into(),
    }
}

/// How close in time the Events of one scaling step are (the controller emits them in one
/// sync; Event times have whole seconds).
const SAME_STEP: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);

/// The step that took the workload to 0: the newest "Scaled down replica set X from N to 0"
/// Event, plus those of other ReplicaSets that went to 0 in that same step. Events within
/// [`SAME_STEP`] are only candidates: a rollout's last scale-down of its old ReplicaSet, then
/// a scale to 0 a second later, look alike in time. What tells them apart is each
/// ReplicaSet's `desired-replicas` annotation, which the controller sets when it scales it:
/// "0" if it went to 0 because the Deployment did, the Deployment's count then (e.g. 3) if a
/// rollout retired it. A candidate whose ReplicaSet is gone or unannotated is counted, and the
/// result is then marked not exact.
pub fn scaled_to_zero(s: &Snapshot) -> Option<Remembered> {
    let hits: Vec<(Option<jiff::Timestamp>, String, i32)> = s
        .workload_events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("ScalingReplicaSet"))
        .filter_map(|e| {
            let (rs, n) = parse_scale_down_to_zero(e.message.as_deref()?)?;
            Some((crate::diagnose::event_time(e), rs, n))
        })
        .collect();
    let newest = hits.iter().map(|h| h.0).max()?;
    let mut latest: std::collections::BTreeMap<&str, (Option<jiff::Timestamp>, i32)> = Default::default();
    for (t, rs, n) in &hits {
        let same_step = match (t, newest) {
            (Some(t), Some(newest)) => newest.duration_since(*t) <= SAME_STEP,
            _ => *t == newest,
        };
        if same_step && latest.get(rs.as_str()).is_none_or(|(seen, _)| seen < t) {
            latest.insert(rs, (*t, *n));
        }
    }
    let desired = |rs: &str| {
        s.replica_sets
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(rs))
            .and_then(|r| r.metadata.annotations.as_ref()?.get("deployment.kubernetes.io/desired-replicas"))
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let (mut counted, mut retired, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for (rs, (_, n)) in latest {
        match desired(rs) {
            Some(0) => counted.push((rs, n)),
            Some(_) => retired.push((rs, n)),
            None => unknown.push((rs, n)),
        }
    }
    let list = |v: &[(&str, i32)]| v.iter().map(|(rs, n)| format!("{rs} ({n})")).collect::<Vec<_>>().join(", ");
    let total: i32 = counted.iter().chain(&unknown).map(|(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    let mut basis = match (counted.len(), unknown.is_empty()) {
        (1, true) => format!(
            "replica set {} was scaled down from {} to 0, the step that took the workload to 0",
            counted[0].0, counted[0].1
        ),
        (_, true) => format!("replica sets {} went to 0 in the step that took the workload to 0", list(&counted)),
        _ => format!(
            "replica sets {} went to 0 within {}s of each other; whether in one step is not known (ReplicaSet gone or unannotated), so they are summed",
            list(&[counted.as_slice(), unknown.as_slice()].concat()),
            SAME_STEP.as_secs()
        ),
    };
    if !retired.is_empty() {
        basis.push_str(&format!(
            "; not counted: {}, which went to 0 before the workload did (a rollout's scale-down)",
            list(&retired)
        ));
    }
    Some(Remembered { count: total, kind: ReplicaSource::ScalingEvent, exact: unknown.is_empty(), basis })
}

/// N from "Scaled down replica set X from N to 0" (also inside "(combined from similar
/// events): ...").
pub fn parse_scaled_down_to_zero(message: &str) -> Option<i32> {
    parse_scale_down_to_zero(message).map(|(_, n)| n)
}

/// The ReplicaSet X and N from "Scaled down replica set X from N to 0".
fn parse_scale_down_to_zero(message: &str) -> Option<(String, i32)> {
    let rest = &message[message.find("Scaled down replica set ")? + "Scaled down replica set ".len()..];
    let (rs, counts) = rest.rsplit_once(" from ")?;
    let (from, to) = counts.split_once(" to ")?;
    (to.trim() == "0").then_some(())?;
    Some((rs.trim().to_string(), from.trim().parse().ok()?))
}

fn has(d: &Diagnosis, code: FindingCode) -> Option<&Finding> {
    d.findings.iter().find(|f| f.code == code)
}

/// The namespace and `kind/name` of the workload, shell-quoted for commands (names read from
/// the cluster are validated by resolution; quoting keeps it so whatever comes).
fn target_text(s: &Snapshot) -> (String, String) {
    let ns = sq(&s.target.namespace);
    let wl = s.workload.as_ref().map(|w| sq(&w.reference().to_string())).unwrap_or_else(|| match &s.target.workload {
        Some(r) => sq(&r.to_string()),
        None => "deployment/<name>".to_string(),
    });
    (ns, wl)
}

/// Whether the Deployment has an older revision to roll back to.
fn has_older_revision(s: &Snapshot) -> bool {
    let Some(current) = s.workload.as_ref().filter(|w| matches!(w, Workload::Deployment(_))).and_then(|w| w.revision())
    else {
        return false;
    };
    s.replica_sets.iter().filter_map(|rs| crate::diagnose::workload_revision(&rs.metadata)).any(|r| r < current)
}

/// Chooses the remediation; see the module doc for the order of precedence.
pub fn decide(diagnosis: &Diagnosis, policy: &Policy) -> Decision {
    let s = &diagnosis.snapshot;
    let (ns, wl) = target_text(s);
    let svc = &sq(&s.target.service_name);
    let manual = |f: &Finding, recommendation: String| Decision::Manual { reason: f.message.clone(), recommendation };

    if let Some(f) = has(diagnosis, FindingCode::WorkloadNotFound) {
        return manual(
            f,
            format!(
                "Create the workload for service {svc} or fix its selector; list candidates with: kubectl -n {ns} get deployments,statefulsets --show-labels"
            ),
        );
    }
    if let Some(f) = has(diagnosis, FindingCode::ScaledToZero) {
        if let Some(a) = has(diagnosis, FindingCode::ReplicasManagedExternally) {
            return Decision::Refuse {
                reason: format!("{} {} Scaling it here would fight the autoscaler.", f.message, a.message),
            };
        }
        let r = remembered_replicas(s);
        return Decision::Scale { to: r.count, source: r.kind, exact: r.exact, basis: r.basis };
    }
    if let Some(f) = has(diagnosis, FindingCode::SelectorMismatch) {
        return manual(f, selector_patch(svc, &ns, &f.evidence));
    }
    if let Some(f) = has(diagnosis, FindingCode::ImagePullBackOff).filter(|f| decisive(f)) {
        return rollback_or_manual(f, s, policy, &ns, &wl, image_fix(&f.evidence, &ns, &wl));
    }
    if let Some(f) = has(diagnosis, FindingCode::CreateContainerConfigError) {
        return manual(f, config_fix(&f.evidence, &ns));
    }
    if let Some(f) = has(diagnosis, FindingCode::OomKilled) {
        return manual(f, memory_fix(&f.evidence, &ns, &wl));
    }
    if let Some(f) = has(diagnosis, FindingCode::Unschedulable) {
        let sel = &f.evidence["node_selector"];
        let labels = sel.as_object().filter(|m| !m.is_empty()).map(|m| {
            m.iter().map(|(k, v)| sq(&format!("{k}={}", v.as_str().unwrap_or_default()))).collect::<Vec<_>>().join(" ")
        });
        let rec = match labels {
            Some(l) => format!(
                "The pods' nodeSelector is {l}: label a node to match (kubectl label node <node> {l}) or change it (kubectl -n {ns} edit {wl}). Scheduler: {}",
                f.evidence["message"].as_str().unwrap_or_default()
            ),
            None => format!(
                "Free capacity or relax the pods' constraints (kubectl -n {ns} describe pods; kubectl -n {ns} edit {wl}). Scheduler: {}",
                f.evidence["message"].as_str().unwrap_or_default()
            ),
        };
        return manual(f, rec);
    }
    if let Some(f) = has(diagnosis, FindingCode::Paused) {
        return Decision::Refuse {
            reason: format!("{} Resume it with: kubectl -n {ns} rollout resume {wl}", f.message),
        };
    }
    if has(diagnosis, FindingCode::PodsMissing).is_some() {
        return Decision::WaitForPods;
    }
    if let Some(f) = has(diagnosis, FindingCode::CrashLoopBackOff) {
        if new_revision_crashes_while_old_serves(s, f) {
            let fix = match command_name(f.evidence["pods"][0]["pod"].as_str().unwrap_or_default()) {
                Ok(pod) => format!(
                    "The new revision of {wl} crashes while the previous one still serves (a restart would not fix it): read why with kubectl -n {ns} logs {pod} --previous, then fix the change"
                ),
                Err(flagged) => format!(
                    "The new revision of {wl} crashes while the previous one still serves (a restart would not fix it): read the logs of pod {flagged}, then fix the change"
                ),
            };
            return rollback_or_manual(f, s, policy, &ns, &wl, fix);
        }
        return restart_or_manual(s, f, &ns);
    }
    if let Some(f) = has(diagnosis, FindingCode::ProgressDeadlineExceeded) {
        let rec = format!("Find out why the new pods do not become available (kubectl -n {ns} describe {wl})");
        return rollback_or_manual(f, s, policy, &ns, &wl, rec);
    }
    // A real rollout (new spec, new ReplicaSet, old pods leaving) is waited for even when its
    // new pods are not ready yet; the wait stage fails fast if they crash.
    let rollout = has(diagnosis, FindingCode::RolloutInProgress);
    if rollout.is_some_and(|f| f.evidence["stage"] != "availability") {
        return Decision::WaitForRollout;
    }
    if let Some(f) = has(diagnosis, FindingCode::NotReady) {
        return restart_or_manual(s, f, &ns);
    }
    if rollout.is_some() {
        return Decision::WaitForRollout;
    }
    if let Some(f) = has(diagnosis, FindingCode::PortMismatch).filter(|f| decisive(f)) {
        let port = f.evidence["container_ports"][0]["port"].as_i64().map_or("<port>".into(), |p| p.to_string());
        let bad = f.evidence["service_ports"][0]["port"].as_i64();
        let ports = s.target.service.spec.as_ref().and_then(|sp| sp.ports.as_deref()).unwrap_or_default();
        let index = ports.iter().position(|p| Some(i64::from(p.port)) == bad).unwrap_or(0);
        return manual(
            f,
            format!(
                "Point the Service at a port the containers declare: kubectl -n {ns} patch service/{svc} --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/ports/{index}/targetPort\",\"value\":{port}}}]'"
            ),
        );
    }
    if let Some(f) = has(diagnosis, FindingCode::NoEndpoints) {
        let starting = s.pods.iter().any(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.status.as_ref().and_then(|st| st.phase.as_deref()) == Some("Pending")
        });
        if starting {
            return Decision::WaitForPods;
        }
        return manual(
            f,
            format!(
                "Check why no pod is an endpoint: kubectl -n {ns} describe endpoints {svc}; kubectl -n {ns} get pods -o wide"
            ),
        );
    }
    if let Some(f) = has(diagnosis, FindingCode::Unreachable) {
        if ready_pod_count(s) > 0 && s.workload.is_some() {
            return Decision::Restart { reason: format!("{} Its pods look ready, so restart them.", f.message) };
        }
        return manual(f, format!("Check the Service and its pods: kubectl -n {ns} describe service/{svc}"));
    }
    Decision::Healthy
}

/// A stalled rollout: every crash-looping pod belongs to the newest revision while a ready pod
/// of an older revision still serves. That revision is broken; restarting it changes nothing.
fn new_revision_crashes_while_old_serves(s: &Snapshot, f: &Finding) -> bool {
    let crashing: Vec<&str> =
        f.evidence["pods"].as_array().into_iter().flatten().filter_map(|p| p["pod"].as_str()).collect();
    let old_serves = s.pods.iter().any(|p| {
        p.metadata.deletion_timestamp.is_none()
            && is_pod_ready(p)
            && !crate::diagnose::on_newest_revision(s, p.metadata.name.as_deref().unwrap_or_default())
    });
    !crashing.is_empty() && old_serves && crashing.iter().all(|pod| crate::diagnose::on_newest_revision(s, pod))
}

fn restart_or_manual(s: &Snapshot, f: &Finding, ns: &str) -> Decision {
    match &s.workload {
        Some(w) => Decision::Restart { reason: format!("{} Restart {} (rollout restart).", f.message, w.reference()) },
        None => Decision::Manual {
            reason: f.message.clone(),
            recommendation: format!(
                "The pods have no Deployment or StatefulSet to restart them; delete them by hand: kubectl -n {ns} get pods"
            ),
        },
    }
}

fn rollback_or_manual(f: &Finding, s: &Snapshot, policy: &Policy, ns: &str, wl: &str, fix: String) -> Decision {
    if has_older_revision(s) {
        if policy.allow_rollback {
            return Decision::Rollback { reason: format!("{} Roll {wl} back to its previous revision.", f.message) };
        }
        return Decision::Manual {
            reason: f.message.clone(),
            recommendation: format!(
                "{fix}; or roll back: kubectl -n {ns} rollout undo {wl} (self-heal does it with --allow rollback)"
            ),
        };
    }
    Decision::Manual { reason: f.message.clone(), recommendation: fix }
}

fn image_fix(ev: &Value, ns: &str, wl: &str) -> String {
    let pod = &ev["pods"][0];
    let image = crate::names::strip_controls(pod["image"].as_str().unwrap_or("<image>"));
    let container = pod["container"].as_str().unwrap_or("<container>");
    if !crate::names::is_label_name(container) {
        return format!(
            "Image {image:?} cannot be pulled: fix the name or the registry credentials of container {} (not a valid Kubernetes name: check it by hand)",
            sq(container)
        );
    }
    format!(
        "Image {image:?} cannot be pulled: fix the name or the registry credentials, e.g. kubectl -n {ns} set image {wl} {container}=<image:tag>"
    )
}

fn config_fix(ev: &Value, ns: &str) -> String {
    let Some(m) = ev["missing"].as_array().and_then(|a| a.first()) else {
        return format!("Fix the pods' configuration: kubectl -n {ns} describe pods");
    };
    let raw_name = m["name"].as_str().unwrap_or_default();
    let raw_key = m["key"].as_str().unwrap_or("key");
    let is_secret = m["kind"].as_str() == Some(ConfigKind::Secret.as_str());
    let kind = if is_secret { "Secret" } else { "ConfigMap" };
    // A ConfigMap or Secret key: letters, digits, '-', '_', '.'.
    let key_ok = !raw_key.is_empty()
        && raw_key.len() <= 253
        && raw_key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let name = match command_name(raw_name) {
        Ok(name) if key_ok => name,
        Ok(name) => {
            return format!(
                "Create {kind} {name} with the key {} (not a valid key: check it by hand)",
                sq(&crate::names::strip_controls(raw_key))
            );
        }
        Err(flagged) => return format!("The pods reference {kind} {flagged}; self-heal prints no command for it"),
    };
    let key = sq(raw_key);
    if is_secret {
        format!("Create Secret {name}: kubectl -n {ns} create secret generic {name} --from-literal={key}=<value>")
    } else {
        format!("Create ConfigMap {name}: kubectl -n {ns} create configmap {name} --from-literal={key}=<value>")
    }
}

fn memory_fix(ev: &Value, ns: &str, wl: &str) -> String {
    let pod = &ev["pods"][0];
    let container = pod["container"].as_str().unwrap_or("<container>");
    if !crate::names::is_label_name(container) {
        return format!(
            "Raise the memory limit of container {} (not a valid Kubernetes name: check it by hand)",
            sq(container)
        );
    }
    match pod["memory_limit"].as_str() {
        Some(limit) => {
            let doubled = double_quantity(limit).unwrap_or_else(|| "<larger>".into());
            let limit = sq(limit);
            format!(
                "Container {container} exceeds its memory limit {limit}: raise it, e.g. kubectl -n {ns} set resources {wl} -c {container} --limits=memory={doubled}"
            )
        }
        None => format!(
            "Container {container} has no memory limit and was killed for lack of memory: set one with room, e.g. kubectl -n {ns} set resources {wl} -c {container} --limits=memory=512Mi --requests=memory=256Mi"
        ),
    }
}

/// Twice a Kubernetes memory quantity, keeping its suffix (`256Mi` → `512Mi`, `1.5Gi` → `3Gi`).
pub fn double_quantity(q: &str) -> Option<String> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    if num.is_empty() || !matches!(suffix, "" | "k" | "K" | "M" | "G" | "T" | "Ki" | "Mi" | "Gi" | "Ti") {
        return None;
    }
    if let Ok(n) = num.parse::<u64>() {
        return Some(format!("{}{suffix}", n.checked_mul(2)?));
    }
    let f: f64 = num.parse().ok()?;
    let doubled = format!("{:.3}", f * 2.0);
    Some(format!("{}{suffix}", doubled.trim_end_matches('0').trim_end_matches('.')))
}

fn selector_patch(svc: &str, ns: &str, ev: &Value) -> String {
    let selector = ev["service_selector"].as_object().cloned().unwrap_or_default();
    let labels =
        ev["workload_selector"].as_object().or_else(|| ev["workload_labels"].as_object()).cloned().unwrap_or_default();
    let mut patch = serde_json::Map::new();
    for (k, v) in &labels {
        patch.insert(k.clone(), v.clone());
    }
    for k in selector.keys() {
        if !labels.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    let body = json!({"spec": {"selector": patch}});
    let workload = sq(ev["workload"].as_str().unwrap_or("the workload"));
    let text = |m: &serde_json::Map<String, Value>| {
        sq(&m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
    };
    format!(
        "service/{svc} selects {} but the pods of {workload} are labelled {}. Make the Service select them: kubectl -n {ns} patch service/{svc} -p {} (or give {workload}'s pod template the labels the Service selects)",
        text(&selector),
        text(&labels),
        sq(&body.to_string())
    )
}

/// The finding and decision for a Service that does not exist (resolution failed with
/// `ResolveError::ServiceNotFound`, so there is no snapshot to decide from).
pub fn service_not_found(namespace: &str, service: &str) -> (Finding, Decision) {
    let message = format!("Service {namespace}/{service} does not exist.");
    let finding = Finding {
        code: FindingCode::ServiceNotFound,
        severity: Severity::Critical,
        message: message.clone(),
        evidence: json!({"namespace": namespace, "service": service}),
    };
    let recommendation = format!(
        "Check the name and namespace (kubectl -n {} get services), or create the Service for the workload.",
        sq(namespace)
    );
    (finding, Decision::Manual { reason: message, recommendation })
}

/// The count to write to `self-heal.dev/last-replicas`, when the workload runs a non-zero count
/// that the annotation does not hold yet (so a later scale-to-0 can be undone exactly).
pub fn replicas_to_record(snapshot: &Snapshot) -> Option<i32> {
    let w = snapshot.workload.as_ref()?;
    let n = w.desired();
    let recorded = w.annotation(LAST_REPLICAS_ANNOTATION).and_then(|v| v.trim().parse::<i32>().ok());
    (n > 0 && recorded != Some(n)).then_some(n)
}

/// Finding codes in the order [`decide`] considers them: causes before the symptoms they
/// produce.
pub const PRECEDENCE: &[FindingCode] = &[
    FindingCode::WorkloadNotFound,
    FindingCode::ServiceNotFound,
    FindingCode::ScaledToZero,
    FindingCode::SelectorMismatch,
    FindingCode::ImagePullBackOff,
    FindingCode::CreateContainerConfigError,
    FindingCode::OomKilled,
    FindingCode::Unschedulable,
    FindingCode::Paused,
    FindingCode::PodsMissing,
    FindingCode::CrashLoopBackOff,
    FindingCode::ProgressDeadlineExceeded,
    FindingCode::RolloutInProgress,
    FindingCode::NotReady,
    FindingCode::PortMismatch,
    FindingCode::NoEndpoints,
    FindingCode::Unreachable,
    FindingCode::LogErrors,
    FindingCode::ReplicasManagedExternally,
    FindingCode::Healthy,
];

/// The finding that explains the service's state: the first in [`PRECEDENCE`] order (so an
/// OOM kill, not the crash loop it causes), else the most severe.
pub fn primary_finding(diagnosis: &Diagnosis) -> Option<&Finding> {
    PRECEDENCE
        .iter()
        .find_map(|code| diagnosis.findings.iter().find(|f| f.code == *code && decisive(f)))
        .or_else(|| diagnosis.findings.first())
}

/// Whether [`decide`] acts on this finding: not on image pulls of an older revision being
/// replaced, nor on a numeric targetPort that the containers merely do not declare.
fn decisive(f: &Finding) -> bool {
    match f.code {
        FindingCode::ImagePullBackOff => f.evidence["on_newest_revision"] != false,
        FindingCode::PortMismatch => f.severity == Severity::Critical,
        _ => true,
    }
}

/// One sentence for the result's `diagnosis`: the [`primary_finding`], plus the codes of the
/// other warnings and critical findings.
pub fn diagnosis_sentence(diagnosis: &Diagnosis) -> String {
    let Some(first) = primary_finding(diagnosis) else {
        return format!("Service {} looks healthy.", diagnosis.snapshot.target.service_name);
    };
    let others: Vec<&str> = diagnosis
        .findings
        .iter()
        .filter(|f| f.code != first.code && f.severity > Severity::Info)
        .map(|f| f.code.as_str())
        .collect();
    if others.is_empty() {
        return first.message.clone();
    }
    let base = first.message.trim_end_matches('.');
    format!("{base} (also: {}).", others.join(", "))
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
