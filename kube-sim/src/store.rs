//! The object store behind kube-sim: JSON objects keyed by resource, namespace and name, one
//! global resourceVersion counter, and a bounded history of changes so watches can resume.
//!
//! Objects are kept as `serde_json::Value` in their wire shape, so the API layer serves them
//! unchanged and controllers read them through the `k8s-openapi` types.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::resources::{self, Resource};

/// How many changes the store remembers for watches that resume from an older version.
const HISTORY: usize = 10_000;

/// A change, as a watch sends it.
#[derive(Clone, Debug)]
pub struct Change {
    /// The resource the object belongs to.
    pub resource: &'static Resource,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: ChangeKind,
    /// The object after the change (for `DELETED`, its last state with the deletion's version).
    pub object: Value,
    /// The resourceVersion of this change.
    pub rv: u64,
}

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

impl ChangeKind {
    /// The wire name of the watch event type.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// An API error, rendered as a Kubernetes `Status` object.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...).
    pub reason: String,
    /// Human message, exactly as a real API server words it.
    pub message: String,
    /// `details` object (may be empty).
    pub details: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// A `Status` with the given parts.
    pub fn new(code: u16, reason: &str, message: impl Into<String>, details: Value) -> Self {
        ApiError { code, reason: reason.to_string(), message: message.into(), details }
    }

    fn details(res: &Resource, name: &str) -> Value {
        let mut d = serde_json::Map::new();
        if !name.is_empty() {
            d.insert("name".into(), json!(name));
        }
        if !res.group.is_empty() {
            d.insert("group".into(), json!(res.group));
        }
        d.insert("kind".into(), json!(res.plural));
        Value::Object(d)
    }

    /// 404: `deployments.apps "x" not found`.
    pub fn not_found(res: &Resource, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{name}\" not found", res.qualified()), Self::details(res, name))
    }

    /// 409: `configmaps "x" already exists`.
    pub fn already_exists(res: &Resource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", res.qualified()),
            Self::details(res, name),
        )
    }

    /// 409: a write with a stale `metadata.resourceVersion`.
    pub fn conflict(res: &Resource, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                res.qualified()
            ),
            Self::details(res, name),
        )
    }

    /// 422: `Deployment.apps "x" is invalid: <field>: <detail>`.
    pub fn invalid(res: &Resource, name: &str, field: &str, detail: &str) -> Self {
        let kind = if res.group.is_empty() { res.kind.to_string() } else { format!("{}.{}", res.kind, res.group) };
        let mut d = serde_json::Map::new();
        d.insert("name".into(), json!(name));
        if !res.group.is_empty() {
            d.insert("group".into(), json!(res.group));
        }
        d.insert("kind".into(), json!(res.kind));
        d.insert("causes".into(), json!([{"reason": "FieldValueInvalid", "message": detail, "field": field}]));
        Self::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {field}: {detail}"), Value::Object(d))
    }

    /// 400 `BadRequest` with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message, json!({}))
    }

    /// 410 `Expired`: a watch or list from a version the store no longer remembers.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message, json!({}))
    }

    /// The `Status` object for the body of an error response (or a watch `ERROR` event).
    pub fn to_status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        })
    }
}

/// The regex a real server quotes when a name is not an RFC 1123 subdomain.
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// Whether `name` is an RFC 1123 subdomain (what most object names must be).
pub fn is_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Now, as Kubernetes writes timestamps (`2026-11-28T01:30:54Z`).
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Now with microseconds, as `eventTime` and lease times are written.
pub fn now_micro() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A random suffix as `generateName` and pod-template-hash use (`bcdfghjklmnpqrstvwxz2456789`).
pub fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect()
}

fn new_uid() -> String {
    let h = |n: usize| (0..n).map(|_| format!("{:x}", fastrand::u8(..16))).collect::<String>();
    format!("{}-{}-4{}-{}-{}", h(8), h(4), h(3), h(4), h(12))
}

/// Resources whose objects carry `metadata.generation` (bumped when `spec` changes).
fn has_generation(res: &Resource) -> bool {
    ["deployments", "replicasets", "statefulsets", "pods", "horizontalpodautoscalers"].contains(&res.plural)
}

type Key = (&'static str, &'static str, String, String);

fn key(res: &'static Resource, ns: &str, name: &str) -> Key {
    (res.group, res.plural, ns.to_string(), name.to_string())
}

/// Output a container printed, kept per pod and container, current and previous instance.
#[derive(Default, Clone, Debug)]
pub struct ContainerLog {
    /// What the running (or last) instance printed.
    pub current: String,
    /// What the instance before it printed, if it restarted.
    pub previous: Option<String>,
}

struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Change>,
    logs: HashMap<(String, String, String), ContainerLog>,
}

/// The simulated cluster's state.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Change>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(16_384);
        Store {
            inner: Mutex::new(Inner {
                rv: 100,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                logs: HashMap::new(),
            }),
            tx,
        }
    }

    /// Live changes from now on. Pair with [`Store::changes_since`] to resume without gaps:
    /// subscribe first, then read the history, then skip live changes already seen.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// The current resourceVersion of the whole store.
    pub fn resource_version(&self) -> u64 {
        self.inner.lock().unwrap().rv
    }

    /// Changes after `rv` of one resource, or `Expired` when they are no longer remembered.
    pub fn changes_since(&self, res: &'static Resource, rv: u64) -> Result<Vec<Change>, ApiError> {
        let inner = self.inner.lock().unwrap();
        let oldest = inner.history.front().map(|c| c.rv).unwrap_or(inner.rv + 1);
        if rv + 1 < oldest && inner.history.len() >= HISTORY {
            return Err(ApiError::expired(format!("too old resource version: {rv} ({})", oldest - 1)));
        }
        Ok(inner.history.iter().filter(|c| c.rv > rv && c.resource == res).cloned().collect())
    }

    /// One object.
    pub fn get(&self, res: &'static Resource, ns: &str, name: &str) -> Option<Value> {
        self.inner.lock().unwrap().objects.get(&key(res, ns, name)).cloned()
    }

    /// One object, or the `NotFound` error a real server sends.
    pub fn get_or_404(&self, res: &'static Resource, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.get(res, ns, name).ok_or_else(|| ApiError::not_found(res, name))
    }

    /// All objects of a resource, in one namespace or (None) all, sorted by namespace and
    /// name, with the store's resourceVersion at the time of the read.
    pub fn list(&self, res: &'static Resource, ns: Option<&str>) -> (Vec<Value>, u64) {
        let inner = self.inner.lock().unwrap();
        let items = inner
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| *g == res.group && *p == res.plural && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.rv)
    }

    /// Creates an object: fills name (from `generateName`), namespace, uid, resourceVersion,
    /// creationTimestamp and generation, checks the name and that the namespace exists.
    pub fn create(&self, res: &'static Resource, ns: &str, mut obj: Value, dry_run: bool) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock().unwrap();
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body of the request was in an unknown format"));
        }
        obj["apiVersion"] = json!(res.api_version());
        obj["kind"] = json!(res.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let meta = &mut obj["metadata"];
        let mut name = meta["name"].as_str().unwrap_or_default().to_string();
        if name.is_empty() {
            if let Some(prefix) = meta["generateName"].as_str().filter(|p| !p.is_empty()) {
                loop {
                    name = format!("{prefix}{}", random_suffix(5));
                    if !inner.objects.contains_key(&key(res, ns, &name)) {
                        break;
                    }
                }
            } else {
                return Err(ApiError::invalid(
                    res,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        }
        if !is_subdomain(&name) {
            return Err(ApiError::invalid(
                res,
                &name,
                "metadata.name",
                &format!("Invalid value: \"{name}\": {SUBDOMAIN_MSG}"),
            ));
        }
        if res.namespaced && !inner.objects.contains_key(&key(&resources::NAMESPACES, "", ns)) {
            return Err(ApiError::not_found(&resources::NAMESPACES, ns));
        }
        let k = key(res, if res.namespaced { ns } else { "" }, &name);
        if inner.objects.contains_key(&k) {
            return Err(ApiError::already_exists(res, &name));
        }
        meta["name"] = json!(name);
        if res.namespaced {
            meta["namespace"] = json!(ns);
        } else if let Some(m) = meta.as_object_mut() {
            m.remove("namespace");
        }
        meta["uid"] = json!(new_uid());
        meta["creationTimestamp"] = json!(now());
        if has_generation(res) {
            meta["generation"] = json!(1);
        }
        if dry_run {
            meta["resourceVersion"] = json!(inner.rv.to_string());
            return Ok(obj);
        }
        inner.rv += 1;
        let rv = inner.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.objects.insert(k, obj.clone());
        self.record(&mut inner, res, ChangeKind::Added, obj.clone(), rv);
        Ok(obj)
    }

    /// Replaces an object (PUT). A `metadata.resourceVersion` in `obj` is a precondition.
    /// Identity fields (uid, creationTimestamp, ...) are kept from the stored object.
    pub fn replace(
        &self,
        res: &'static Resource,
        ns: &str,
        name: &str,
        obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let expected = obj["metadata"]["resourceVersion"].as_str().map(str::to_string);
        self.mutate(res, ns, name, dry_run, |current| {
            if let Some(expected) = &expected
                && current["metadata"]["resourceVersion"].as_str() != Some(expected)
            {
                return Err(ApiError::conflict(res, name));
            }
            let mut next = obj;
            if next["metadata"]["name"].as_str().is_some_and(|n| n != name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    next["metadata"]["name"].as_str().unwrap_or_default()
                )));
            }
            for field in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                match current["metadata"].get(field) {
                    Some(v) => next["metadata"][field] = v.clone(),
                    None => {
                        if let Some(m) = next["metadata"].as_object_mut() {
                            m.remove(field);
                        }
                    }
                }
            }
            *current = next;
            Ok(())
        })
    }

    /// Read-modify-write of one object, atomically. `f` edits a copy; when the result differs
    /// from the stored object it is stored with a new resourceVersion (and a new generation if
    /// `spec` changed) and a `MODIFIED` change is sent. A no-op leaves the version alone, as a
    /// real server does.
    pub fn mutate<F>(
        &self,
        res: &'static Resource,
        ns: &str,
        name: &str,
        dry_run: bool,
        f: F,
    ) -> Result<Value, ApiError>
    where
        F: FnOnce(&mut Value) -> Result<(), ApiError>,
    {
        let mut inner = self.inner.lock().unwrap();
        let k = key(res, if res.namespaced { ns } else { "" }, name);
        let current = inner.objects.get(&k).ok_or_else(|| ApiError::not_found(res, name))?;
        let mut next = current.clone();
        f(&mut next)?;
        next["apiVersion"] = json!(res.api_version());
        next["kind"] = json!(res.kind);
        next["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        if next == *current {
            return Ok(next);
        }
        if has_generation(res) && next.get("spec") != current.get("spec") {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        if dry_run {
            return Ok(next);
        }
        inner.rv += 1;
        let rv = inner.rv;
        next["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.objects.insert(k, next.clone());
        self.record(&mut inner, res, ChangeKind::Modified, next.clone(), rv);
        Ok(next)
    }

    /// Gives an object a new resourceVersion with no other change, as if another writer had
    /// written it (a `MODIFIED` change is sent); the new version.
    ///
    /// # Errors
    /// `NotFound` when there is no such object.
    pub fn touch(&self, res: &'static Resource, ns: &str, name: &str) -> Result<u64, ApiError> {
        let mut inner = self.inner.lock().unwrap();
        let k = key(res, if res.namespaced { ns } else { "" }, name);
        if !inner.objects.contains_key(&k) {
            return Err(ApiError::not_found(res, name));
        }
        inner.rv += 1;
        let rv = inner.rv;
        let obj = inner.objects.get_mut(&k).map(|o| {
            o["metadata"]["resourceVersion"] = json!(rv.to_string());
            o.clone()
        });
        if let Some(obj) = obj {
            self.record(&mut inner, res, ChangeKind::Modified, obj, rv);
        }
        Ok(rv)
    }

    /// Removes an object now (graceful pod deletion is the API layer's and kubelet's job).
    pub fn delete(&self, res: &'static Resource, ns: &str, name: &str, dry_run: bool) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock().unwrap();
        let k = key(res, if res.namespaced { ns } else { "" }, name);
        if dry_run {
            return inner.objects.get(&k).cloned().ok_or_else(|| ApiError::not_found(res, name));
        }
        let mut obj = inner.objects.remove(&k).ok_or_else(|| ApiError::not_found(res, name))?;
        inner.rv += 1;
        let rv = inner.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if res == &resources::PODS {
            inner.logs.retain(|(n, p, _), _| !(n == ns && p == name));
        }
        self.record(&mut inner, res, ChangeKind::Deleted, obj.clone(), rv);
        Ok(obj)
    }

    fn record(&self, inner: &mut Inner, res: &'static Resource, kind: ChangeKind, object: Value, rv: u64) {
        let change = Change { resource: res, kind, object, rv };
        inner.history.push_back(change.clone());
        if inner.history.len() > HISTORY {
            inner.history.pop_front();
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(change);
    }

    /// Appends a line to what a container printed.
    pub fn append_log(&self, ns: &str, pod: &str, container: &str, line: &str) {
        let mut inner = self.inner.lock().unwrap();
        let log = inner.logs.entry((ns.into(), pod.into(), container.into())).or_default();
        log.current.push_str(line);
        if !line.ends_with('\n') {
            log.current.push('\n');
        }
    }

    /// A container restarted: what it printed becomes the previous instance's log.
    pub fn rotate_log(&self, ns: &str, pod: &str, container: &str) {
        let mut inner = self.inner.lock().unwrap();
        let log = inner.logs.entry((ns.into(), pod.into(), container.into())).or_default();
        log.previous = Some(std::mem::take(&mut log.current));
    }

    /// What a container printed, if it ever ran.
    pub fn log(&self, ns: &str, pod: &str, container: &str) -> Option<ContainerLog> {
        self.inner.lock().unwrap().logs.get(&(ns.into(), pod.into(), container.into())).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_ns() -> Store {
        let s = Store::new();
        s.create(&resources::NAMESPACES, "", json!({"metadata": {"name": "demo"}}), false).unwrap();
        s
    }

    #[test]
    fn create_fills_identity_and_rejects_duplicates() {
        let s = store_with_ns();
        let cm = s.create(&resources::CONFIGMAPS, "demo", json!({"metadata": {"name": "c"}}), false).unwrap();
        assert_eq!(cm["kind"], "ConfigMap");
        assert_eq!(cm["metadata"]["namespace"], "demo");
        assert!(cm["metadata"]["uid"].as_str().unwrap().len() == 36);
        let err = s.create(&resources::CONFIGMAPS, "demo", json!({"metadata": {"name": "c"}}), false).unwrap_err();
        assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
        assert_eq!(err.message, "configmaps \"c\" already exists");
    }

    #[test]
    fn invalid_name_and_missing_namespace() {
        let s = store_with_ns();
        let err =
            s.create(&resources::CONFIGMAPS, "demo", json!({"metadata": {"name": "Bad_Name"}}), false).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.starts_with(
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123"
        ));
        let err = s.create(&resources::CONFIGMAPS, "nope", json!({"metadata": {"name": "c"}}), false).unwrap_err();
        assert_eq!(err.message, "namespaces \"nope\" not found");
    }

    #[test]
    fn stale_resource_version_conflicts_and_noop_keeps_version() {
        let s = store_with_ns();
        let d = s
            .create(&resources::DEPLOYMENTS, "demo", json!({"metadata": {"name": "d"}, "spec": {"replicas": 1}}), false)
            .unwrap();
        let rv = d["metadata"]["resourceVersion"].clone();
        let same = s.mutate(&resources::DEPLOYMENTS, "demo", "d", false, |_| Ok(())).unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], rv);
        let bumped = s.mutate(&resources::DEPLOYMENTS, "demo", "d", false, |o| {
            o["spec"]["replicas"] = json!(2);
            Ok(())
        });
        assert_eq!(bumped.unwrap()["metadata"]["generation"], 2);
        let err = s.replace(&resources::DEPLOYMENTS, "demo", "d", d, false).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on deployments.apps \"d\": the object has been modified; please apply your changes to the latest version and try again"
        );
    }

    #[test]
    fn history_replays_changes_of_one_resource() {
        let s = store_with_ns();
        let start = s.resource_version();
        s.create(&resources::CONFIGMAPS, "demo", json!({"metadata": {"name": "a"}}), false).unwrap();
        s.create(&resources::SECRETS, "demo", json!({"metadata": {"name": "b"}}), false).unwrap();
        s.delete(&resources::CONFIGMAPS, "demo", "a", false).unwrap();
        let kinds: Vec<_> = s.changes_since(&resources::CONFIGMAPS, start).unwrap().iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec![ChangeKind::Added, ChangeKind::Deleted]);
    }
}
