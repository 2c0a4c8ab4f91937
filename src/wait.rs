//! Waiting for Kubernetes to converge, by watching (never by sleeping): kubectl's
//! rollout-complete rule ([`rollout_state`]), failing fast when the new pods cannot start
//! ([`pod_failure`]), and a plain "enough ready pods" wait for pods recreated by their ReplicaSet.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde::Serialize;
use tokio::time::Instant;

use crate::act::{POD_TEMPLATE_HASH, REVISION};
use crate::client::WATCH_TIMEOUT_SECS;
use crate::watch::{Cache, is_permanent};

/// Counts and kubectl's sentence at one moment of a rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RolloutProgress {
    /// spec.replicas.
    pub desired: i32,
    /// status.replicas (non-terminating pods of all ReplicaSets).
    pub replicas: i32,
    /// status.updatedReplicas.
    pub updated: i32,
    /// status.readyReplicas.
    pub ready: i32,
    /// status.availableReplicas.
    pub available: i32,
    /// kubectl `rollout status`'s sentence for this state.
    pub message: String,
}

/// Where a rollout stands, by kubectl's rule (first match wins). Each state carries the counts
/// and kubectl's exact sentence (k8s-reference §1.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutState {
    /// `metadata.generation > status.observedGeneration`: the controller has not seen the spec.
    SpecNotObserved(RolloutProgress),
    /// Progressing condition with reason `ProgressDeadlineExceeded`.
    DeadlineExceeded(RolloutProgress),
    /// Fewer updated replicas than desired.
    UpdatingReplicas(RolloutProgress),
    /// Old replicas still running.
    OldReplicasPending(RolloutProgress),
    /// Updated replicas not all available yet.
    WaitingAvailable(RolloutProgress),
    /// Done.
    Complete(RolloutProgress),
}

impl RolloutState {
    /// The counts and sentence.
    pub fn progress(&self) -> &RolloutProgress {
        match self {
            RolloutState::SpecNotObserved(p)
            | RolloutState::DeadlineExceeded(p)
            | RolloutState::UpdatingReplicas(p)
            | RolloutState::OldReplicasPending(p)
            | RolloutState::WaitingAvailable(p)
            | RolloutState::Complete(p) => p,
        }
    }
}

/// kubectl's rollout-status rule, in kubectl's order (`polymorphichelpers/rollout_status.go`).
/// Unlike kube-runtime's `is_deployment_completed`, a spec the controller has not observed yet
/// is never reported complete.
pub fn rollout_state(dep: &Deployment) -> RolloutState {
    let name = dep.metadata.name.as_deref().unwrap_or_default();
    let status = dep.status.clone().unwrap_or_default();
    let spec_replicas = dep.spec.as_ref().and_then(|s| s.replicas);
    let mut p = RolloutProgress {
        desired: spec_replicas.unwrap_or(1),
        replicas: status.replicas.unwrap_or(0),
        updated: status.updated_replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        message: String::new(),
    };
    let generation = dep.metadata.generation.unwrap_or(0);
    if generation > status.observed_generation.unwrap_or(0) {
        p.message = "Waiting for deployment spec update to be observed...".to_string();
        return RolloutState::SpecNotObserved(p);
    }
    let deadline_exceeded = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if deadline_exceeded {
        p.message = format!("deployment {name:?} exceeded its progress deadline");
        return RolloutState::DeadlineExceeded(p);
    }
    let waiting = format!("Waiting for deployment {name:?} rollout to finish:");
    if spec_replicas.is_some_and(|n| p.updated < n) {
        p.message = format!("{waiting} {} out of {} new replicas have been updated...", p.updated, p.desired);
        return RolloutState::UpdatingReplicas(p);
    }
    if p.replicas > p.updated {
        p.message = format!("{waiting} {} old replicas are pending termination...", p.replicas - p.updated);
        return RolloutState::OldReplicasPending(p);
    }
    if p.available < p.updated {
        p.message = format!("{waiting} {} of {} updated replicas are available...", p.available, p.updated);
        return RolloutState::WaitingAvailable(p);
    }
    p.message = format!("deployment {name:?} successfully rolled out");
    RolloutState::Complete(p)
}

/// Waiting reasons that will not clear by waiting longer: the wait fails fast on them (the
/// same list diagnosis uses).
pub use crate::diagnose::BAD_WAITING as FATAL_WAITING_REASONS;

/// A pod that cannot start, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodFailure {
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
    /// The waiting reason (`CrashLoopBackOff`, ...).
    pub reason: String,
    /// The kubelet's message.
    pub message: String,
    /// The container's restart count.
    pub restart_count: i32,
    /// Exit code of the last terminated run, if any.
    pub last_exit_code: Option<i32>,
}

/// The first container of `pod` (init containers first) stuck in a [`FATAL_WAITING_REASONS`]
/// state, if any. Terminating pods are ignored.
pub fn pod_failure(pod: &Pod) -> Option<PodFailure> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    let all = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    all.into_iter().find_map(|cs| {
        let waiting = cs.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        FATAL_WAITING_REASONS.contains(&reason).then(|| PodFailure {
            pod: pod.metadata.name.clone().unwrap_or_default(),
            container: cs.name.clone(),
            reason: reason.to_string(),
            message: waiting.message.clone().unwrap_or_default(),
            restart_count: cs.restart_count,
            last_exit_code: cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).map(|t| t.exit_code),
        })
    })
}

/// How a wait ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WaitOutcome {
    /// The rollout completed (or enough pods are ready).
    Complete {
        /// The final counts.
        last: RolloutProgress,
    },
    /// It will not complete by waiting.
    Failed {
        /// `ProgressDeadlineExceeded`, a pod's waiting reason (`CrashLoopBackOff`, ...), or
        /// `Deleted` when the Deployment disappeared.
        reason: String,
        /// A sentence.
        message: String,
        /// The failing pod, when a pod is the cause.
        pod: Option<PodFailure>,
    },
    /// The deadline passed first.
    TimedOut {
        /// The counts last seen, if any.
        last: Option<RolloutProgress>,
    },
}

impl WaitOutcome {
    /// Whether the wait ended with the rollout complete (or enough pods ready).
    pub fn is_complete(&self) -> bool {
        matches!(self, WaitOutcome::Complete { .. })
    }

    /// One sentence for an event or a result line.
    pub fn message(&self) -> String {
        match self {
            WaitOutcome::Complete { last } => last.message.clone(),
            WaitOutcome::Failed { message, .. } => message.clone(),
            WaitOutcome::TimedOut { last: Some(p) } => format!("timed out waiting for the rollout: {}", p.message),
            WaitOutcome::TimedOut { last: None } => "timed out waiting for the rollout".to_string(),
        }
    }
}

/// Why a wait could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The API refused the watch (401/403/404...), so waiting longer cannot help.
    #[error("failed to watch {what} in namespace {namespace}")]
    Watch {
        /// What was watched.
        what: &'static str,
        /// Namespace.
        namespace: String,
        /// The watcher error.
        #[source]
        source: watcher::Error,
    },
}

enum Seen {
    Deployment(watcher::Event<Deployment>),
    ReplicaSet(watcher::Event<ReplicaSet>),
    Pod(watcher::Event<Pod>),
}

fn selector_string(labels: Option<&BTreeMap<String, String>>) -> String {
    labels.map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")).unwrap_or_default()
}

/// The pod-template-hash of the Deployment's newest ReplicaSet, once the controller has created
/// the ReplicaSet for the Deployment's current revision (so old, crashing pods are not blamed
/// for a restart that has not rolled yet).
fn newest_hash(dep: &Deployment, sets: &BTreeMap<String, ReplicaSet>) -> Option<String> {
    let uid = dep.metadata.uid.as_deref()?;
    let want = dep.metadata.annotations.as_ref()?.get(REVISION)?;
    sets.values()
        .filter(|rs| rs.metadata.owner_references.iter().flatten().any(|o| o.uid == uid && o.controller == Some(true)))
        .find(|rs| rs.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)) == Some(want))
        .and_then(|rs| rs.metadata.labels.as_ref()?.get(POD_TEMPLATE_HASH).cloned())
}

fn boxed<K, F>(
    api: Api<K>,
    cfg: watcher::Config,
    wrap: F,
) -> futures::stream::BoxStream<'static, Result<Seen, watcher::Error>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    F: Fn(watcher::Event<K>) -> Seen + Send + 'static,
{
    crate::watch::resumable(api, &cfg).map(move |r| r.map(&wrap)).boxed()
}

/// Waits until the Deployment's rollout is complete by kubectl's rule, watching the
/// Deployment (by `metadata.name` field selector), its ReplicaSets and its pods; the watches
/// resume after a close and re-list on 410 Gone ([`crate::watch`]). Calls `on_progress` whenever the counts or sentence change.
///
/// Unlike kubectl it fails fast when a pod of the newest ReplicaSet is stuck in
/// CrashLoopBackOff, ImagePullBackOff/ErrImagePull or CreateContainerConfigError, naming the
/// pod, the reason, the message, the restart count and the last exit code.
///
/// # Errors
/// [`WaitError::Watch`] when the API refuses a watch (403, 404...). Transient failures are
/// retried with back-off until `deadline`.
pub async fn wait_rollout(
    client: &Client,
    ns: &str,
    deployment: &str,
    deadline: Instant,
    mut on_progress: impl FnMut(&RolloutProgress),
) -> Result<WaitOutcome, WaitError> {
    let deps: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let first = match tokio::time::timeout_at(deadline, deps.get(deployment)).await {
        Err(_) => return Ok(WaitOutcome::TimedOut { last: None }),
        Ok(Err(kube::Error::Api(s))) if s.code == 404 => return Ok(deleted(deployment)),
        Ok(Err(e)) => {
            return Err(WaitError::Watch {
                what: "deployments",
                namespace: ns.to_string(),
                source: watcher::Error::InitialListFailed(e),
            });
        }
        Ok(Ok(d)) => d,
    };
    let selector = selector_string(first.spec.as_ref().and_then(|s| s.selector.match_labels.as_ref()));
    let by_name = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS).fields(&format!("metadata.name={deployment}"));
    let by_labels = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS).labels(&selector);
    let streams = futures::stream::select_all([
        boxed(deps, by_name, Seen::Deployment),
        boxed(Api::<ReplicaSet>::namespaced(client.clone(), ns), by_labels.clone(), Seen::ReplicaSet),
        boxed(Api::<Pod>::namespaced(client.clone(), ns), by_labels, Seen::Pod),
    ]);
    let mut dep_cache = Cache::<Deployment>::default();
    dep_cache.items.insert(deployment.to_string(), first);
    let mut rs_cache = Cache::<ReplicaSet>::default();
    let mut pod_cache = Cache::<Pod>::default();
    let mut last: Option<RolloutProgress> = None;
    let work = async {
        futures::pin_mut!(streams);
        while let Some(item) = streams.next().await {
            let dep_event = match item {
                Err(e) if is_permanent(&e) => {
                    return Err(WaitError::Watch { what: "the rollout", namespace: ns.to_string(), source: e });
                }
                Err(e) => {
                    tracing::debug!(error = %e, "watch interrupted; retrying");
                    continue;
                }
                Ok(Seen::Deployment(ev)) => {
                    let deleted_now = matches!(&ev, watcher::Event::Delete(_));
                    dep_cache.apply(ev);
                    if deleted_now {
                        return Ok(deleted(deployment));
                    }
                    true
                }
                Ok(Seen::ReplicaSet(ev)) => {
                    rs_cache.apply(ev);
                    false
                }
                Ok(Seen::Pod(ev)) => {
                    pod_cache.apply(ev);
                    false
                }
            };
            let Some(dep) = dep_cache.items.get(deployment) else { continue };
            let state = rollout_state(dep);
            if last.as_ref() != Some(state.progress()) {
                on_progress(state.progress());
                last = Some(state.progress().clone());
            }
            match state {
                RolloutState::Complete(p) if dep_event => return Ok(WaitOutcome::Complete { last: p }),
                RolloutState::DeadlineExceeded(p) => {
                    return Ok(WaitOutcome::Failed {
                        reason: "ProgressDeadlineExceeded".to_string(),
                        message: p.message,
                        pod: None,
                    });
                }
                RolloutState::SpecNotObserved(_) => continue,
                _ => {}
            }
            if let Some(hash) = newest_hash(dep, &rs_cache.items) {
                let new_pods = pod_cache
                    .items
                    .values()
                    .filter(|p| p.metadata.labels.as_ref().and_then(|l| l.get(POD_TEMPLATE_HASH)) == Some(&hash));
                if let Some(f) = new_pods.filter_map(pod_failure).next() {
                    return Ok(pod_failed(f));
                }
            }
        }
        Ok(WaitOutcome::TimedOut { last: last.clone() })
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r,
        Err(_) => Ok(WaitOutcome::TimedOut { last }),
    }
}

fn deleted(deployment: &str) -> WaitOutcome {
    WaitOutcome::Failed {
        reason: "Deleted".to_string(),
        message: format!("deployment {deployment:?} was deleted while waiting"),
        pod: None,
    }
}

fn pod_failed(f: PodFailure) -> WaitOutcome {
    let exit = f.last_exit_code.map(|c| format!(", last exit code {c}")).unwrap_or_default();
    WaitOutcome::Failed {
        reason: f.reason.clone(),
        message: format!(
            "pod {} container {} is in {} ({} restarts{exit}): {}",
            f.pod, f.container, f.reason, f.restart_count, f.message
        ),
        pod: Some(f),
    }
}

fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Progress of [`wait_pods_ready`] for a set of pods: `desired` = `want`, `ready` = ready
/// non-terminating pods, `replicas` = non-terminating pods.
fn pods_progress(pods: &BTreeMap<String, Pod>, want: i32) -> RolloutProgress {
    let live = pods.values().filter(|p| p.metadata.deletion_timestamp.is_none()).count() as i32;
    let ready = pods.values().filter(|p| is_ready(p)).count() as i32;
    RolloutProgress {
        desired: want,
        replicas: live,
        updated: live,
        ready,
        available: ready,
        message: format!("Waiting for pods to be ready: {ready} of {want} ready..."),
    }
}

/// Waits until at least `want` pods matching the label `selector` are Ready and not
/// terminating: what "pods were deleted, the ReplicaSet recreates them" needs. (wait_rollout
/// is not enough there: right after a delete the Deployment's status still shows the old,
/// complete counts.) Fails fast like [`wait_rollout`] on any matching pod that cannot start.
///
/// # Errors
/// [`WaitError::Watch`] when the API refuses the watch.
pub async fn wait_pods_ready(
    client: &Client,
    ns: &str,
    selector: &str,
    want: i32,
    deadline: Instant,
    mut on_progress: impl FnMut(&RolloutProgress),
) -> Result<WaitOutcome, WaitError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let stream =
        crate::watch::resumable(pods, &watcher::Config::default().timeout(WATCH_TIMEOUT_SECS).labels(selector));
    let mut cache = Cache::<Pod>::default();
    let mut last: Option<RolloutProgress> = None;
    let work = async {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Err(e) if is_permanent(&e) => {
                    return Err(WaitError::Watch { what: "pods", namespace: ns.to_string(), source: e });
                }
                Err(_) => continue,
                Ok(ev) => cache.apply(ev),
            }
            if cache.relisting.is_some() {
                continue;
            }
            let p = pods_progress(&cache.items, want);
            if last.as_ref() != Some(&p) {
                on_progress(&p);
                last = Some(p.clone());
            }
            if let Some(f) = cache.items.values().filter_map(pod_failure).next() {
                return Ok(pod_failed(f));
            }
            if p.ready >= want {
                let mut done = p;
                done.message = format!("{} of {want} pods are ready", done.ready);
                return Ok(WaitOutcome::Complete { last: done });
            }
        }
        Ok(WaitOutcome::TimedOut { last: last.clone() })
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r,
        Err(_) => Ok(WaitOutcome::TimedOut { last }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::time::Duration;

    fn dep(gen_obs: (i64, i64), status: Value) -> Deployment {
        let mut s = status;
        s["observedGeneration"] = json!(gen_obs.1);
        serde_json::from_value(json!({
            "metadata": {"name": "sandfly-mcp-server", "generation": gen_obs.0},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}}, "template": {}},
            "status": s,
        }))
        .unwrap()
    }

    fn progressing(reason: &str) -> Value {
        json!([{"type": "Progressing", "status": if reason == "ProgressDeadlineExceeded" {"False"} else {"True"}, "reason": reason}])
    }

    #[test]
    fn created_pods_pending_waits_for_availability() {
        let s = rollout_state(&dep((1, 1), json!({"replicas": 2, "updatedReplicas": 2, "unavailableReplicas": 2})));
        assert!(matches!(s, RolloutState::WaitingAvailable(_)), "{s:?}");
        assert_eq!(
            s.progress().message,
            "Waiting for deployment \"sandfly-mcp-server\" rollout to finish: 0 of 2 updated replicas are available..."
        );
    }

    #[test]
    fn running_and_ready_is_complete() {
        let s = rollout_state(&dep(
            (1, 1),
            json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                   "conditions": progressing("NewReplicaSetAvailable")}),
        ));
        assert!(matches!(s, RolloutState::Complete(_)));
        assert_eq!(s.progress().message, "deployment \"sandfly-mcp-server\" successfully rolled out");
        assert_eq!((s.progress().desired, s.progress().ready), (2, 2));
    }

    #[test]
    fn restart_midway_is_updating() {
        let s = rollout_state(&dep(
            (4, 4),
            json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2,
                   "conditions": progressing("ReplicaSetUpdated")}),
        ));
        assert!(matches!(s, RolloutState::UpdatingReplicas(_)));
        assert_eq!(
            s.progress().message,
            "Waiting for deployment \"sandfly-mcp-server\" rollout to finish: 1 out of 2 new replicas have been updated..."
        );
    }

    #[test]
    fn old_replicas_pending_termination() {
        let s = rollout_state(&dep((4, 4), json!({"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2})));
        assert_eq!(
            s.progress().message,
            "Waiting for deployment \"sandfly-mcp-server\" rollout to finish: 1 old replicas are pending termination..."
        );
    }

    #[test]
    fn set_image_stalled_then_deadline_exceeded() {
        let stalled = json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2,
                              "conditions": progressing("ReplicaSetUpdated")});
        assert!(matches!(rollout_state(&dep((6, 6), stalled)), RolloutState::UpdatingReplicas(_)));
        let past = json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2,
                          "conditions": progressing("ProgressDeadlineExceeded")});
        let s = rollout_state(&dep((7, 7), past));
        assert!(matches!(s, RolloutState::DeadlineExceeded(_)));
        assert_eq!(s.progress().message, "deployment \"sandfly-mcp-server\" exceeded its progress deadline");
    }

    #[test]
    fn observed_generation_behind_is_never_complete() {
        // Counts of a finished rollout, but the controller has not seen generation 4 yet.
        let s = rollout_state(&dep(
            (4, 3),
            json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                   "conditions": progressing("ProgressDeadlineExceeded")}),
        ));
        assert!(matches!(s, RolloutState::SpecNotObserved(_)));
        assert_eq!(s.progress().message, "Waiting for deployment spec update to be observed...");
    }

    #[test]
    fn scaled_to_zero_is_complete() {
        let s = rollout_state(&dep((2, 2), json!({"terminatingReplicas": 2})));
        let mut d = dep((2, 2), json!({"terminatingReplicas": 2}));
        d.spec.as_mut().unwrap().replicas = Some(0);
        assert!(matches!(rollout_state(&d), RolloutState::Complete(_)));
        // With spec.replicas 2 and nothing updated, it is still updating.
        assert!(matches!(s, RolloutState::UpdatingReplicas(_)));
    }

    fn rs_json(name: &str, hash: &str, revision: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": "x", POD_TEMPLATE_HASH: hash},
                            "annotations": {REVISION: revision},
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "sandfly-mcp-server",
                                                 "uid": "u1", "controller": true}]},
               "spec": {"selector": {"matchLabels": {"app": "x"}}}})
    }

    fn pod_json(name: &str, hash: &str, waiting: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": "x", POD_TEMPLATE_HASH: hash}},
               "status": {"phase": "Running", "containerStatuses": [{
                   "name": "server", "image": "i", "imageID": "", "ready": false, "restartCount": 3,
                   "state": {"waiting": {"reason": waiting, "message": "m"}},
                   "lastState": {"terminated": {"exitCode": 2}}}]}})
    }

    /// A rollout mid-way: revision 2 (hash `new`) has 1 of 2 pods updated.
    fn rolling() -> Value {
        let mut d = serde_json::to_value(dep(
            (5, 5),
            json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2}),
        ))
        .unwrap();
        d["metadata"]["uid"] = json!("u1");
        d["metadata"]["annotations"] = json!({REVISION: "2"});
        d
    }

    async fn run_wait(dep_json: Value, pods: Vec<Value>, within: Duration) -> (WaitOutcome, Vec<RolloutProgress>) {
        use crate::act::fake_api;
        let (client, _) = fake_api::start(move |req, _| {
            let u = req.uri.as_str();
            if u.contains("/deployments/sandfly-mcp-server") {
                (200, dep_json.clone())
            } else if u.contains("/deployments") {
                (200, fake_api::list("DeploymentList", vec![dep_json.clone()]))
            } else if u.contains("/replicasets") {
                (
                    200,
                    fake_api::list("ReplicaSetList", vec![rs_json("x-new", "new", "2"), rs_json("x-old", "old", "1")]),
                )
            } else if u.contains("/pods") {
                (200, fake_api::list("PodList", pods.clone()))
            } else {
                (404, fake_api::status(404, "NotFound", "nope"))
            }
        })
        .await;
        let mut seen = Vec::new();
        let out = wait_rollout(&client, "ns", "sandfly-mcp-server", Instant::now() + within, |p| seen.push(p.clone()))
            .await
            .unwrap();
        (out, seen)
    }

    #[tokio::test]
    async fn fails_fast_when_a_new_pod_crash_loops() {
        let pods = vec![pod_json("x-old-a", "old", "CrashLoopBackOff"), pod_json("x-new-a", "new", "CrashLoopBackOff")];
        let (out, seen) = run_wait(rolling(), pods, Duration::from_secs(10)).await;
        let WaitOutcome::Failed { reason, pod: Some(pod), .. } = out else { panic!("{out:?}") };
        assert_eq!(reason, "CrashLoopBackOff");
        assert_eq!((pod.pod.as_str(), pod.restart_count, pod.last_exit_code), ("x-new-a", 3, Some(2)));
        assert_eq!(seen[0].updated, 1);
    }

    #[tokio::test]
    async fn old_crashing_pods_do_not_fail_the_wait() {
        let pods =
            vec![pod_json("x-old-a", "old", "CrashLoopBackOff"), pod_json("x-new-a", "new", "ContainerCreating")];
        let (out, seen) = run_wait(rolling(), pods, Duration::from_millis(700)).await;
        assert!(matches!(out, WaitOutcome::TimedOut { last: Some(_) }), "{out:?}");
        assert!(seen.last().unwrap().message.contains("1 out of 2 new replicas"), "{seen:?}");
    }

    #[tokio::test]
    async fn completes_on_a_finished_rollout() {
        let mut d = rolling();
        d["status"] = json!({"observedGeneration": 5, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2});
        let (out, _) = run_wait(d, vec![], Duration::from_secs(10)).await;
        assert!(out.is_complete());
        assert_eq!(out.message(), "deployment \"sandfly-mcp-server\" successfully rolled out");
        let WaitOutcome::Complete { last } = out else { panic!("{out:?}") };
        assert_eq!(last.message, "deployment \"sandfly-mcp-server\" successfully rolled out");
    }

    fn ready_pod(name: &str, ready: bool, terminating: bool) -> Value {
        let mut p = json!({"metadata": {"name": name, "labels": {"app": "x"}},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}});
        if terminating {
            p["metadata"]["deletionTimestamp"] = json!("2026-11-28T10:00:00Z");
        }
        p
    }

    async fn run_pods(pods: Vec<Value>, want: i32, within: Duration) -> WaitOutcome {
        use crate::act::fake_api;
        let (client, log) = fake_api::start(move |_, _| (200, fake_api::list("PodList", pods.clone()))).await;
        let out = wait_pods_ready(&client, "ns", "app=x", want, Instant::now() + within, |_| {}).await.unwrap();
        assert!(log.lock().unwrap()[0].uri.contains("labelSelector=app%3Dx"), "{:?}", log.lock().unwrap()[0]);
        out
    }

    #[tokio::test]
    async fn pods_ready_counts_only_ready_live_pods() {
        let pods = vec![ready_pod("a", true, false), ready_pod("b", true, true), ready_pod("c", false, false)];
        let out = run_pods(pods.clone(), 2, Duration::from_millis(500)).await;
        assert!(
            matches!(out, WaitOutcome::TimedOut { last: Some(RolloutProgress { ready: 1, replicas: 2, .. }) }),
            "{out:?}"
        );
        let out =
            run_pods(vec![ready_pod("a", true, false), ready_pod("d", true, false)], 2, Duration::from_secs(10)).await;
        assert!(matches!(out, WaitOutcome::Complete { last: RolloutProgress { ready: 2, .. } }), "{out:?}");
    }

    #[tokio::test]
    async fn pods_that_become_ready_arrive_by_watch() {
        use crate::act::fake_api;
        let listed = vec![ready_pod("a", true, false), ready_pod("c", false, false)];
        let (client, log, watches) =
            fake_api::start_watched(move |_, _| (200, fake_api::list("PodList", listed.clone()))).await;
        let mut now_ready = ready_pod("c", true, false);
        now_ready["metadata"]["resourceVersion"] = json!("101");
        let (out, ()) = tokio::join!(
            wait_pods_ready(&client, "ns", "app=x", 2, Instant::now() + Duration::from_secs(10), |_| {}),
            watches.send("pods", "MODIFIED", now_ready)
        );
        assert!(matches!(out.unwrap(), WaitOutcome::Complete { last: RolloutProgress { ready: 2, .. } }));
        let lists = log.lock().unwrap().iter().filter(|s| !s.uri.contains("watch=")).count();
        assert_eq!(lists, 1, "one list, then the change by watch (no polling)");
    }

    #[test]
    fn pod_failure_reports_crash_loop_details() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p1"},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "server", "image": "x", "imageID": "", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
        }))
        .unwrap();
        let f = pod_failure(&pod).unwrap();
        assert_eq!((f.reason.as_str(), f.restart_count, f.last_exit_code), ("CrashLoopBackOff", 4, Some(1)));
        let mut starting = pod.clone();
        starting.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].state =
            Some(serde_json::from_value(json!({"waiting": {"reason": "ContainerCreating"}})).unwrap());
        assert_eq!(pod_failure(&starting), None);
    }
}
