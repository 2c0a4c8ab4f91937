//! Writes through the Kubernetes API: scale, rollout restart, rollout undo, the remembered
//! replica count and an Event per action. Every write uses field manager [`FIELD_MANAGER`]; a dry
//! run sends the same request with `dryRun=All`, so the server validates it and changes nothing.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The field manager of every write self-heal makes.
pub const FIELD_MANAGER: &str = "self-heal";
/// The annotation kubectl's `rollout restart` sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// Where self-heal remembers the last non-zero replica count of a Deployment.
pub const LAST_REPLICAS: &str = "self-heal.dev/last-replicas";
/// The revision annotation the deployment controller writes on ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The label the deployment controller adds to each ReplicaSet's pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Why an action could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// The API refused or could not be reached.
    #[error("failed to {what} deployment {namespace}/{name}")]
    Api {
        /// What was being done (`read the scale of`, `restart`, ...).
        what: &'static str,
        /// Namespace.
        namespace: String,
        /// Deployment (or object) name.
        name: String,
        /// The kube error (its `Status` code tells 404/403/409 apart).
        #[source]
        source: kube::Error,
    },
    /// The rollout is paused: restarting would do nothing until someone resumes it.
    #[error("failed to restart deployment {namespace}/{name}: its rollout is paused (kubectl rollout resume first)")]
    Paused {
        /// Namespace.
        namespace: String,
        /// Deployment.
        name: String,
    },
    /// Nothing to roll back to.
    #[error("failed to roll back deployment {namespace}/{name}: no previous revision found")]
    NoPreviousRevision {
        /// Namespace.
        namespace: String,
        /// Deployment.
        name: String,
    },
    /// Someone else kept changing the scale between our read and our write.
    #[error("failed to scale deployment {namespace}/{name}: it was modified concurrently twice")]
    Conflict {
        /// Namespace.
        namespace: String,
        /// Deployment.
        name: String,
    },
}

impl ActError {
    /// The HTTP code of the API's refusal, if the API answered (404, 403, 409...).
    pub fn status_code(&self) -> Option<u16> {
        match self {
            ActError::Api { source: kube::Error::Api(s), .. } => Some(s.code),
            _ => None,
        }
    }
}

fn api_err(what: &'static str, ns: &str, name: &str) -> impl FnOnce(kube::Error) -> ActError {
    let (namespace, name) = (ns.to_string(), name.to_string());
    move |source| ActError::Api { what, namespace, name, source }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// How many times a write is decided and sent (the first time included).
pub const WRITE_ATTEMPTS: u32 = 6;

/// Whether a failed write is answered by reading the object again and deciding again: a
/// conflict, or an outcome that is unknown or may change (connection lost, 429, 5xx).
pub fn worth_deciding_again(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 409 | 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

fn restarted_at_of(dep: &Deployment) -> Option<&str> {
    let template = dep.spec.as_ref()?.template.metadata.as_ref()?;
    template.annotations.as_ref()?.get(RESTARTED_AT).map(String::as_str)
}

/// Patch parameters for every write: our field manager, and `dryRun=All` when asked.
pub fn patch_params(dry_run: bool) -> PatchParams {
    PatchParams { dry_run, field_manager: Some(FIELD_MANAGER.to_string()), ..PatchParams::default() }
}

/// Post/put parameters for the Event and Lease writes: our field manager. No dry-run form: a dry
/// run takes no lock and records no Event.
pub fn post_params() -> PostParams {
    PostParams { dry_run: false, field_manager: Some(FIELD_MANAGER.to_string()) }
}

/// What a scale did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleDone {
    /// spec.replicas before.
    pub from: i32,
    /// spec.replicas after (equal to `from` when nothing was written).
    pub to: i32,
    /// Whether a write was sent (false when the count already matched, or someone else scaled
    /// it up meanwhile).
    pub changed: bool,
    /// Whether the write was a server-side dry run.
    pub dry_run: bool,
}

/// The merge patch a scale sends: `spec.replicas`, the read `resourceVersion` as precondition,
/// and, when the new count is not 0, [`LAST_REPLICAS`] (so a later scale to 0 can be undone to
/// it) — one request, so the Deployment changes once.
pub fn scale_patch(resource_version: &str, replicas: i32) -> Value {
    let mut metadata = json!({"resourceVersion": resource_version});
    if replicas > 0 {
        metadata["annotations"] = json!({LAST_REPLICAS: replicas.to_string()});
    }
    json!({"metadata": metadata, "spec": {"replicas": replicas}})
}

fn replicas_of(dep: &Deployment) -> i32 {
    dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Scales a Deployment with one merge patch ([`scale_patch`]) whose `resourceVersion`
/// precondition is that of `known` (the Deployment as diagnosis read it), or of a fresh read
/// when `known` is `None`. So the first write follows diagnosis without another read.
///
/// Safe to repeat: when the write conflicts (409) or its outcome is unknown (connection lost,
/// 429, 5xx), it reads the Deployment again and decides again, at most [`WRITE_ATTEMPTS`]
/// times: already at `replicas` (the write landed) → done, without a second write; scaled by
/// someone else meanwhile → left alone (`changed: false`); still as before → sent again with the
/// fresh `resourceVersion`.
///
/// # Errors
/// [`ActError::Api`] on any other API failure (404 if the Deployment is gone) or when the
/// attempts run out on an unavailable API; [`ActError::Conflict`] when they run out on conflicts.
pub async fn scale(
    client: &Client,
    ns: &str,
    deployment: &str,
    replicas: i32,
    known: Option<&Deployment>,
    dry_run: bool,
) -> Result<ScaleDone, ActError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let mut current = match known {
        Some(d) => d.clone(),
        None => api.get(deployment).await.map_err(api_err("read", ns, deployment))?,
    };
    let from = replicas_of(&current);
    if from == replicas {
        return Ok(ScaleDone { from, to: from, changed: false, dry_run });
    }
    let mut backoff = crate::retry::Backoff::default();
    let mut last = None;
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff.next_wait()).await;
            current = api.get(deployment).await.map_err(api_err("read", ns, deployment))?;
            let now = replicas_of(&current);
            // A dry run never lands, so only a real write can be found done.
            if now == replicas && !dry_run {
                return Ok(ScaleDone { from, to: replicas, changed: true, dry_run });
            }
            if now != from {
                return Ok(ScaleDone { from: now, to: now, changed: false, dry_run });
            }
        }
        let rv = current.metadata.resource_version.clone().unwrap_or_default();
        let patch = Patch::Merge(scale_patch(&rv, replicas));
        match api.patch(deployment, &patch_params(dry_run), &patch).await {
            Ok(_) => return Ok(ScaleDone { from, to: replicas, changed: true, dry_run }),
            Err(e) if worth_deciding_again(&e) => {
                tracing::debug!(attempt, error = %e, "scale write failed or unknown; reading again");
                last = Some(e);
            }
            Err(e) => return Err(api_err("scale", ns, deployment)(e)),
        }
    }
    match last {
        Some(e) if !is_conflict(&e) => Err(api_err("scale", ns, deployment)(e)),
        _ => Err(ActError::Conflict { namespace: ns.to_string(), name: deployment.to_string() }),
    }
}

/// What a rollout restart did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartDone {
    /// The `kubectl.kubernetes.io/restartedAt` value written.
    pub restarted_at: String,
    /// The Deployment's generation after the patch (wait for observedGeneration to reach it).
    pub generation: Option<i64>,
    /// Whether the write was a server-side dry run.
    pub dry_run: bool,
}

/// The strategic merge patch kubectl's `rollout restart` sends, plus [`LAST_REPLICAS`] when
/// `remember` is given (same request: the Deployment changes once).
pub fn restart_patch(restarted_at: &str, remember: Option<i32>) -> Value {
    let mut patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}});
    if let Some(n) = remember {
        patch["metadata"] = json!({"annotations": {LAST_REPLICAS: n.to_string()}});
    }
    patch
}

/// Restarts a Deployment's pods exactly as `kubectl rollout restart` does (not kube's
/// `restart()`, which writes a different annotation key). `remember`: a replica count to record
/// in [`LAST_REPLICAS`] in the same patch.
///
/// Safe to repeat: when the write conflicts or its outcome is unknown, it reads the Deployment
/// again; if the template already carries this restart's stamp, the restart landed and is not
/// stamped twice; otherwise it is sent again (at most [`WRITE_ATTEMPTS`] times).
///
/// # Errors
/// [`ActError::Paused`] if `spec.paused` (the restart would not roll); [`ActError::Api`] otherwise.
pub async fn restart(
    client: &Client,
    ns: &str,
    deployment: &str,
    remember: Option<i32>,
    dry_run: bool,
) -> Result<RestartDone, ActError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let dep = api.get(deployment).await.map_err(api_err("read", ns, deployment))?;
    if dep.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
        return Err(ActError::Paused { namespace: ns.to_string(), name: deployment.to_string() });
    }
    let restarted_at = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch = Patch::Strategic(restart_patch(&restarted_at, remember));
    let mut backoff = crate::retry::Backoff::default();
    let mut last = None;
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff.next_wait()).await;
            let now = api.get(deployment).await.map_err(api_err("read", ns, deployment))?;
            if !dry_run && restarted_at_of(&now) == Some(restarted_at.as_str()) {
                return Ok(RestartDone { restarted_at, generation: now.metadata.generation, dry_run });
            }
        }
        match api.patch(deployment, &patch_params(dry_run), &patch).await {
            Ok(patched) => return Ok(RestartDone { restarted_at, generation: patched.metadata.generation, dry_run }),
            Err(e) if worth_deciding_again(&e) => {
                tracing::debug!(attempt, error = %e, "restart write failed or unknown; reading again");
                last = Some(e);
            }
            Err(e) => return Err(api_err("restart", ns, deployment)(e)),
        }
    }
    let e = last.expect("at least one attempt failed");
    Err(api_err("restart", ns, deployment)(e))
}

/// What a rollback did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackDone {
    /// The ReplicaSet whose template was restored.
    pub replica_set: String,
    /// Its revision.
    pub to_revision: i64,
    /// false when the current template already matched it (kubectl's "skipped rollback").
    pub changed: bool,
    /// Whether the write was a server-side dry run.
    pub dry_run: bool,
}

fn revision_of(rs: &ReplicaSet) -> Option<i64> {
    rs.metadata.annotations.as_ref()?.get(REVISION)?.parse().ok()
}

/// Picks the ReplicaSet `kubectl rollout undo` would restore: among those whose controller is
/// the Deployment with `uid`, the one with the second-highest revision.
pub fn previous_revision<'a>(replica_sets: &'a [ReplicaSet], uid: &str) -> Option<(&'a ReplicaSet, i64)> {
    let mut owned: Vec<(&ReplicaSet, i64)> = replica_sets
        .iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|r| r.uid == uid && r.controller == Some(true)))
        })
        .filter_map(|rs| revision_of(rs).map(|r| (rs, r)))
        .collect();
    owned.sort_by_key(|(_, r)| std::cmp::Reverse(*r));
    owned.into_iter().nth(1)
}

/// The template a rollback writes: the ReplicaSet's, without the `pod-template-hash` label.
pub fn rollback_template(rs: &ReplicaSet) -> Value {
    let mut template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    serde_json::to_value(template).unwrap_or(Value::Null)
}

/// Annotations `kubectl rollout undo` keeps from the Deployment instead of copying from the
/// ReplicaSet (kubectl's `annotationsToSkip`), plus our remembered replica count.
const KEEP_ON_ROLLBACK: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
    LAST_REPLICAS,
];

/// The Deployment annotations after a rollback, as kubectl computes them: the Deployment's own
/// values of [`KEEP_ON_ROLLBACK`], and every other annotation copied from the ReplicaSet.
pub fn rollback_annotations(dep: &Deployment, rs: &ReplicaSet) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in dep.metadata.annotations.iter().flatten() {
        if KEEP_ON_ROLLBACK.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !KEEP_ON_ROLLBACK.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Rolls a Deployment back to its previous revision, like `kubectl rollout undo`. `remember`: a
/// replica count to record in [`LAST_REPLICAS`] in the same patch.
///
/// # Errors
/// [`ActError::NoPreviousRevision`] when fewer than two owned ReplicaSets carry a revision;
/// [`ActError::Api`] otherwise.
pub async fn rollback(
    client: &Client,
    ns: &str,
    deployment: &str,
    remember: Option<i32>,
    dry_run: bool,
) -> Result<RollbackDone, ActError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let dep = api.get(deployment).await.map_err(api_err("read", ns, deployment))?;
    let uid = dep.metadata.uid.clone().unwrap_or_default();
    let selector = dep
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let list = rs_api.list(&ListParams::default().labels(&selector)).await.map_err(api_err(
        "list the replica sets of",
        ns,
        deployment,
    ))?;
    let no_previous = || ActError::NoPreviousRevision { namespace: ns.to_string(), name: deployment.to_string() };
    let (rs, to_revision) = previous_revision(&list.items, &uid).ok_or_else(no_previous)?;
    let replica_set = rs.metadata.name.clone().unwrap_or_default();
    let template = rollback_template(rs);
    let current = dep.spec.as_ref().map(|s| serde_json::to_value(&s.template).unwrap_or(Value::Null));
    if current.as_ref() == Some(&template) {
        return Ok(RollbackDone { replica_set, to_revision, changed: false, dry_run });
    }
    let mut annotations = rollback_annotations(&dep, rs);
    if let Some(n) = remember {
        annotations.insert(LAST_REPLICAS.to_string(), n.to_string());
    }
    let ops = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    json_patch(client, ns, deployment, &ops, dry_run).await.map_err(api_err("roll back", ns, deployment))?;
    Ok(RollbackDone { replica_set, to_revision, changed: true, dry_run })
}

/// Sends a JSON patch (`application/json-patch+json`) to a Deployment. kube's `Patch::Json`
/// needs kube's `jsonpatch` feature; one hand-built request is lighter than another dependency.
async fn json_patch(
    client: &Client,
    ns: &str,
    name: &str,
    ops: &Value,
    dry_run: bool,
) -> Result<Deployment, kube::Error> {
    use axum::http; // the `http` crate, as re-exported by axum (kube does not re-export it)
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("fieldManager", FIELD_MANAGER);
    if dry_run {
        query.append_pair("dryRun", "All");
    }
    let uri = format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}?{}", query.finish());
    let body = serde_json::to_vec(ops).map_err(kube::Error::SerdeError)?;
    let req = http::Request::patch(uri)
        .header(http::header::CONTENT_TYPE, "application/json-patch+json")
        .header(http::header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| kube::Error::BuildRequest(kube::core::request::Error::BuildRequest(e)))?;
    client.request::<Deployment>(req).await
}

/// Builds the core/v1 Event self-heal records for an action (pure, for tests and dry runs).
pub fn build_event(
    involved: &ObjectReference,
    event_type: &str,
    reason: &str,
    message: &str,
    now: jiff::Timestamp,
) -> Event {
    let obj = involved.name.clone().unwrap_or_else(|| "self-heal".to_string());
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{obj}.{:x}", now.as_nanosecond())),
            namespace: involved.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: involved.clone(),
        type_: Some(event_type.to_string()),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        source: Some(EventSource { component: Some(FIELD_MANAGER.to_string()), host: None }),
        reporting_component: Some(FIELD_MANAGER.to_string()),
        reporting_instance: Some(String::new()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    }
}

/// Writes a core/v1 Event on `involved` (DESIGN §2.3: one for every action taken), so
/// `kubectl describe` shows what self-heal did. The Event's name is fixed before the first
/// attempt, so a create whose outcome is unknown is sent again safely: an "already exists"
/// found by reading it back means the first one landed.
///
/// # Errors
/// [`ActError::Api`] if the Event cannot be created.
pub async fn record_event(
    client: &Client,
    ns: &str,
    involved: &ObjectReference,
    event_type: &str,
    reason: &str,
    message: &str,
) -> Result<Event, ActError> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let ev = build_event(involved, event_type, reason, message, jiff::Timestamp::now());
    let ev_name = ev.metadata.name.clone().unwrap_or_default();
    let name = involved.name.clone().unwrap_or_default();
    let mut backoff = crate::retry::Backoff::default();
    let mut last = None;
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff.next_wait()).await;
            // Read back by a field selector, not a GET: the Role grants `list` on events (as
            // diagnosis needs) and `create`, nothing more.
            let same_name = ListParams::default().fields(&format!("metadata.name={ev_name}"));
            let found = api.list(&same_name).await.map_err(api_err("record an event on", ns, &name))?;
            if let Some(found) = found.items.into_iter().next() {
                return Ok(found);
            }
        }
        match api.create(&post_params(), &ev).await {
            Ok(created) => return Ok(created),
            Err(e) if worth_deciding_again(&e) => last = Some(e),
            Err(e) => return Err(api_err("record an event on", ns, &name)(e)),
        }
    }
    let e = last.expect("at least one attempt failed");
    Err(api_err("record an event on", ns, &name)(e))
}

/// An ObjectReference to a Deployment, for [`record_event`].
pub fn deployment_ref(dep: &Deployment) -> ObjectReference {
    ObjectReference {
        api_version: Some("apps/v1".to_string()),
        kind: Some("Deployment".to_string()),
        name: dep.metadata.name.clone(),
        namespace: dep.metadata.namespace.clone(),
        uid: dep.metadata.uid.clone(),
        resource_version: dep.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

#[cfg(test)]
pub(crate) mod fake_api;
#[cfg(test)]
mod write_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn dep_obj(rv: &str, replicas: i32) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "ns", "resourceVersion": rv, "generation": 2},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "server", "image": "v3"}]}}}})
    }

    #[tokio::test]
    async fn scale_is_one_patch_with_the_known_version_and_the_annotation() {
        let (client, log) = fake_api::start(|req, i| match (req.method.as_str(), i) {
            ("PATCH", 0) => (200, dep_obj("11", 3)),
            _ => (500, fake_api::status(500, "InternalError", "unexpected")),
        })
        .await;
        let known: Deployment = serde_json::from_value(dep_obj("10", 0)).unwrap();
        let done = scale(&client, "ns", "web", 3, Some(&known), false).await.unwrap();
        assert_eq!(done, ScaleDone { from: 0, to: 3, changed: true, dry_run: false });
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1, "no read before the write: {log:?}");
        let patch = &log[0];
        assert_eq!((patch.method.as_str(), patch.content_type.as_str()), ("PATCH", "application/merge-patch+json"));
        assert!(patch.uri.starts_with("/apis/apps/v1/namespaces/ns/deployments/web?"), "{}", patch.uri);
        assert!(patch.uri.contains("fieldManager=self-heal") && !patch.uri.contains("dryRun"), "{}", patch.uri);
        assert_eq!(
            patch.body,
            json!({"metadata": {"resourceVersion": "10", "annotations": {"self-heal.dev/last-replicas": "3"}},
                   "spec": {"replicas": 3}})
        );
    }

    #[tokio::test]
    async fn scale_retries_one_conflict_with_a_fresh_version() {
        let (client, log) = fake_api::start(|req, i| match (req.method.as_str(), i) {
            ("GET", 0) => (200, dep_obj("10", 0)),
            ("PATCH", 1) => (409, fake_api::status(409, "Conflict", "the object has been modified")),
            ("GET", 2) => (200, dep_obj("11", 0)),
            ("PATCH", 3) => (200, dep_obj("12", 3)),
            _ => (500, fake_api::status(500, "InternalError", "unexpected")),
        })
        .await;
        let done = scale(&client, "ns", "web", 3, None, true).await.unwrap();
        assert_eq!(done, ScaleDone { from: 0, to: 3, changed: true, dry_run: true });
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 4);
        let patch = &log[3];
        assert!(patch.uri.contains("dryRun=All") && patch.uri.contains("fieldManager=self-heal"), "{}", patch.uri);
        assert_eq!(patch.body["metadata"]["resourceVersion"], "11");
        assert_eq!(patch.body["spec"]["replicas"], 3);
    }

    #[tokio::test]
    async fn scale_leaves_a_concurrent_scale_up_alone() {
        let (client, log) = fake_api::start(|req, i| match (req.method.as_str(), i) {
            ("PATCH", 0) => (409, fake_api::status(409, "Conflict", "modified")),
            ("GET", 1) => (200, dep_obj("11", 5)),
            _ => (500, fake_api::status(500, "InternalError", "unexpected")),
        })
        .await;
        let known: Deployment = serde_json::from_value(dep_obj("10", 0)).unwrap();
        let done = scale(&client, "ns", "web", 3, Some(&known), false).await.unwrap();
        assert_eq!(done, ScaleDone { from: 5, to: 5, changed: false, dry_run: false });
        assert_eq!(log.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn scale_of_a_missing_deployment_is_a_404() {
        let (client, _) =
            fake_api::start(|_, _| (404, fake_api::status(404, "NotFound", "deployments.apps \"web\" not found")))
                .await;
        let err = scale(&client, "ns", "web", 1, None, false).await.unwrap_err();
        assert_eq!(err.status_code(), Some(404));
        assert_eq!(err.to_string(), "failed to read deployment ns/web");
    }

    #[test]
    fn a_scale_to_zero_records_no_count() {
        assert_eq!(scale_patch("7", 0), json!({"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 0}}));
        assert_eq!(
            scale_patch("7", 2),
            json!({"metadata": {"resourceVersion": "7", "annotations": {"self-heal.dev/last-replicas": "2"}},
                   "spec": {"replicas": 2}})
        );
    }

    fn deployment(paused: bool) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "ns", "generation": 4, "uid": "u1"},
               "spec": {"paused": paused, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "server", "image": "v3"}]}}}})
    }

    #[tokio::test]
    async fn restart_sends_kubectls_strategic_merge_patch() {
        let (client, log) = fake_api::start(|req, _| match req.method.as_str() {
            "GET" => (200, deployment(false)),
            _ => {
                let mut d = deployment(false);
                d["metadata"]["generation"] = json!(5);
                (200, d)
            }
        })
        .await;
        let done = restart(&client, "ns", "web", Some(2), false).await.unwrap();
        assert_eq!(done.generation, Some(5));
        let log = log.lock().unwrap();
        let patch = &log[1];
        assert_eq!(patch.method, "PATCH");
        assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
        assert!(patch.uri.starts_with("/apis/apps/v1/namespaces/ns/deployments/web?"), "{}", patch.uri);
        assert!(patch.uri.contains("fieldManager=self-heal") && !patch.uri.contains("dryRun"), "{}", patch.uri);
        assert_eq!(
            patch.body,
            json!({"metadata": {"annotations": {"self-heal.dev/last-replicas": "2"}},
                   "spec": {"template": {"metadata": {"annotations": {
                       "kubectl.kubernetes.io/restartedAt": done.restarted_at}}}}}),
            "kubectl's restart, and the count travels in the same patch"
        );
        assert_eq!(log.len(), 2, "one read, one write");
        assert!(done.restarted_at.parse::<jiff::Timestamp>().is_ok());
    }

    #[tokio::test]
    async fn restart_refuses_a_paused_rollout() {
        let (client, log) = fake_api::start(|_, _| (200, deployment(true))).await;
        let err = restart(&client, "ns", "web", None, false).await.unwrap_err();
        assert!(matches!(err, ActError::Paused { .. }), "{err:?}");
        assert_eq!(log.lock().unwrap().len(), 1, "no write after seeing spec.paused");
    }

    #[tokio::test]
    async fn rollback_json_patches_the_previous_template() {
        let (client, log) = fake_api::start(|req, _| match (req.method.as_str(), req.uri.contains("replicasets")) {
            ("GET", false) => (200, deployment(false)),
            ("GET", true) => {
                let items: Vec<Value> = [("web-3", "3", "v3"), ("web-2", "2", "v2"), ("web-1", "1", "v1")]
                    .iter()
                    .map(|(n, r, img)| serde_json::to_value(rs(n, "u1", true, r, img)).unwrap())
                    .collect();
                (200, json!({"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {}, "items": items}))
            }
            _ => (200, deployment(false)),
        })
        .await;
        let done = rollback(&client, "ns", "web", Some(4), true).await.unwrap();
        assert_eq!((done.replica_set.as_str(), done.to_revision, done.changed), ("web-2", 2, true));
        let log = log.lock().unwrap();
        let patch = log.iter().find(|r| r.method == "PATCH").unwrap();
        assert_eq!(patch.content_type, "application/json-patch+json");
        assert!(patch.uri.contains("dryRun=All"), "{}", patch.uri);
        assert_eq!(patch.body[0]["op"], "replace");
        assert_eq!(patch.body[0]["path"], "/spec/template");
        assert_eq!(patch.body[0]["value"]["spec"]["containers"][0]["image"], "v2");
        assert_eq!(patch.body[0]["value"]["metadata"]["labels"], json!({"app": "d"}));
        assert_eq!(patch.body[1]["path"], "/metadata/annotations");
        assert_eq!(patch.body[1]["value"]["self-heal.dev/last-replicas"], "4", "the count travels in the rollback");
        assert_eq!(log.iter().filter(|r| r.method != "GET").count(), 1, "one write");
        assert_eq!(
            patch.body,
            json!([
                {"op": "replace", "path": "/spec/template", "value": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "server", "image": "v2"}]}}},
                {"op": "replace", "path": "/metadata/annotations",
                 "value": {"self-heal.dev/last-replicas": "4"}}
            ]),
            "kubectl's undo: the previous template without pod-template-hash, and the count"
        );
    }

    fn rs(name: &str, uid: &str, controller: bool, revision: &str, image: &str) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {REVISION: revision},
                "ownerReferences": [serde_json::to_value(OwnerReference {
                    api_version: "apps/v1".into(), kind: "Deployment".into(), name: "d".into(),
                    uid: uid.into(), controller: Some(controller), block_owner_deletion: Some(true)}).unwrap()]},
            "spec": {"selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d", POD_TEMPLATE_HASH: "abc"}},
                    "spec": {"containers": [{"name": "server", "image": image}]}}}
        }))
        .unwrap()
    }

    #[test]
    fn restart_patch_is_kubectls() {
        assert_eq!(
            serde_json::to_string(&restart_patch("2026-11-28T01:30:54Z", None)).unwrap(),
            r#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-28T01:30:54Z"}}}}}"#
        );
    }

    #[test]
    fn rollback_picks_second_highest_owned_revision() {
        let sets = vec![
            rs("d-1", "u", true, "1", "v1"),
            rs("d-3", "u", true, "3", "v3"),
            rs("d-2", "u", true, "2", "v2"),
            rs("other-9", "x", true, "9", "v9"),
            rs("adopted-8", "u", false, "8", "v8"),
        ];
        let (picked, rev) = previous_revision(&sets, "u").unwrap();
        assert_eq!((picked.metadata.name.as_deref(), rev), (Some("d-2"), 2));
        let t = rollback_template(picked);
        assert_eq!(t["metadata"]["labels"], json!({"app": "d"}));
        assert_eq!(t["spec"]["containers"][0]["image"], "v2");
        assert!(previous_revision(&sets[..1], "u").is_none());
        let mut dep: Deployment = serde_json::from_value(json!({"metadata": {"name": "d", "annotations": {
            REVISION: "3", LAST_REPLICAS: "2", "team": "dropped, as kubectl drops it"}}}))
        .unwrap();
        let mut old = picked.clone();
        old.metadata.annotations.as_mut().unwrap().insert("kubernetes.io/change-cause".into(), "v2".into());
        let a = rollback_annotations(&dep, &old);
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({REVISION: "3", LAST_REPLICAS: "2", "kubernetes.io/change-cause": "v2"})
        );
        dep.metadata.annotations = None;
        assert_eq!(rollback_annotations(&dep, picked).len(), 0);
    }

    #[test]
    fn event_has_kubectl_shape() {
        let involved = ObjectReference {
            kind: Some("Deployment".into()),
            name: Some("web".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        };
        let now: jiff::Timestamp = "2026-11-28T10:00:00Z".parse().unwrap();
        let v = serde_json::to_value(build_event(&involved, "Normal", "Restarted", "m", now)).unwrap();
        assert_eq!(v["metadata"]["name"], format!("web.{:x}", now.as_nanosecond()));
        assert_eq!(v["source"]["component"], "self-heal");
        assert_eq!(v["reportingComponent"], "self-heal");
        assert_eq!(v["count"], 1);
        assert_eq!(v["firstTimestamp"], "2026-11-28T10:00:00Z");
        // What `kubectl get events` shows in its TYPE, REASON, OBJECT and MESSAGE columns.
        assert_eq!(v["type"], "Normal");
        assert_eq!(v["reason"], "Restarted");
        assert_eq!(v["involvedObject"]["name"], "web");
        assert_eq!(v["message"], "m");
        let warning = serde_json::to_value(build_event(&involved, "Warning", "NotHealed", "m", now)).unwrap();
        assert_eq!(warning["type"], "Warning");
    }
}
