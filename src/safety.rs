//! Safety kept in the cluster, so it survives restarts and several orchestrator replicas: one
//! `coordination.k8s.io/v1` Lease per workload (`self-heal-deployment-<name>`), so that every
//! Service of one Deployment shares one lock and one breaker, is the healer's lock; its
//! annotations carry the breaker (remediation times within a window). The holder identity is
//! random (plus host and pid for humans), so two hosts never take it for one another. The
//! Lease is short and renewed while the run lives ([`renew`]), so a killed holder blocks others
//! for at most [`LEASE_DURATION`]; an expired one is taken over at once.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, Patch, WatchEvent, WatchParams};
use serde_json::json;
use tokio::time::Instant;

use crate::act::{patch_params, post_params};
use crate::client::WATCH_TIMEOUT_SECS;
use crate::resolve::WorkloadRef;

pub mod renew;
pub use renew::{LEASE_DURATION, LOST_AFTER, LockLost, RENEW_EVERY};

/// Annotation on the Lease: JSON array of RFC 3339 times of recent remediations.
pub const REMEDIATIONS: &str = "self-heal.dev/remediations";

/// The Lease name for a workload: `self-heal-<kind>-<name>`; without a workload (nothing to
/// act on yet), `self-heal-<service>`. Names too long for a Lease end in a hash of the whole.
/// The result is always a valid DNS-1123 subdomain (the workload name was validated).
pub fn lease_name(workload: Option<&WorkloadRef>, service: &str) -> String {
    let name = match workload {
        Some(w) => format!("self-heal-{}-{}", w.kind.as_kubectl(), w.name),
        None => format!("self-heal-{service}"),
    };
    if name.len() <= 253 && crate::names::is_subdomain(&name) {
        return name;
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("self-heal-{}-{hash:016x}", workload.map_or("service", |w| w.kind.as_kubectl()))
}

/// A holder identity for one run: 128 random bits, then host and pid for humans, e.g.
/// `3f9c...e1 (host worker-1, pid 4242)`.
pub fn holder_identity() -> String {
    use std::hash::{BuildHasher, Hasher};
    // std seeds each RandomState from the OS's random source.
    let random = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        h.finish()
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_graphic()).take(63).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    format!("{:016x}{:016x} (host {host}, pid {})", random(1), random(2), std::process::id())
}

/// Why the lock could not be taken or updated.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another healer holds the lease and did not release it before the deadline (exit 4).
    #[error("failed to take the heal lock: {holder} holds it")]
    Busy {
        /// The other holder's identity.
        holder: String,
    },
    /// The API refused or could not be reached.
    #[error("failed to {what} lease {namespace}/{name}")]
    Api {
        /// What was being done.
        what: &'static str,
        /// Namespace.
        namespace: String,
        /// Lease name.
        name: String,
        /// The kube error.
        #[source]
        source: kube::Error,
    },
}

/// The breaker refused: too many remediations of this service within the window (exit 4).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("remediation refused: {count} remediations in the last {}; next allowed in {}",
    humantime::format_duration(*window), humantime::format_duration(*retry_after))]
pub struct BreakerOpen {
    /// Remediations within the window.
    pub count: u32,
    /// The window.
    pub window: Duration,
    /// When the oldest one leaves the window (whole seconds).
    pub retry_after: Duration,
}

/// The held lock. Dropping it without [`LockGuard::release`] stops its renewal and leaves the
/// lease to expire by itself ([`LEASE_DURATION`]).
pub struct LockGuard {
    client: Client,
    namespace: String,
    holder: String,
    lease: Lease,
    /// Whether another healer held the lock, or won a race for it, before this one got it.
    contended: bool,
    /// The holder whose expired lease this one took over.
    taken_over_from: Option<String>,
    renewer: Option<renew::Renewer>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").field("namespace", &self.namespace).field("holder", &self.holder).finish()
    }
}

impl LockGuard {
    /// The Lease as last read or written (carries the breaker state).
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Keeps the Lease as last written (e.g. by [`record_remediation`]).
    pub fn set_lease(&mut self, lease: Lease) {
        self.lease = lease;
    }

    /// Our holder identity.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Whether the lock was taken only after waiting for, or losing a race to, another healer
    /// (who may have acted meanwhile). `false`: taken at the first try.
    pub fn contended(&self) -> bool {
        self.contended
    }

    /// The holder whose lease had expired when this one took it over (it died mid-heal, or
    /// lost touch with the API): whatever it did must be diagnosed afresh.
    pub fn taken_over_from(&self) -> Option<&str> {
        self.taken_over_from.as_deref()
    }

    /// Renews the lease every [`RENEW_EVERY`] until released or dropped; a loss is sent once
    /// on `lost` (the run must then stop acting).
    pub fn keep_renewed(&mut self, lost: tokio::sync::mpsc::UnboundedSender<LockLost>) {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        let name = self.lease.metadata.name.clone().unwrap_or_default();
        self.renewer = Some(renew::spawn(api, name, self.holder.clone(), lost, renew::Timing::default()));
    }

    /// Releases the lock: clears holderIdentity, keeping the Lease (it carries the breaker).
    /// A lease someone else took over meanwhile is left alone.
    ///
    /// # Errors
    /// [`LockError::Api`] if the Lease cannot be read or written.
    pub async fn release(mut self) -> Result<(), LockError> {
        // No renewal may race the release.
        drop(self.renewer.take());
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        let name = self.lease.metadata.name.clone().unwrap_or_default();
        let err = |what| {
            let (namespace, name) = (self.namespace.clone(), name.clone());
            move |source| LockError::Api { what, namespace, name, source }
        };
        for _ in 0..3 {
            let mut lease = api.get(&name).await.map_err(err("read"))?;
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() != Some(self.holder.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
            match api.replace(&name, &post_params(), &lease).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(err("release")(e)),
            }
        }
        Ok(())
    }
}

/// Whether the lease is free for `holder`: nobody holds it, we do, or it has expired.
/// Returns the current holder when it is not free.
pub fn lease_holder_blocking(lease: &Lease, holder: &str, now: jiff::Timestamp) -> Option<String> {
    let spec = lease.spec.as_ref()?;
    let current = spec.holder_identity.as_deref().filter(|h| !h.is_empty())?;
    if current == holder {
        return None;
    }
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let duration = jiff::SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    let expires = renewed.checked_add(duration).ok()?;
    (expires > now).then(|| current.to_string())
}

/// When a held lease expires (for bounding the wait on it).
fn lease_expiry(lease: &Lease) -> Option<jiff::Timestamp> {
    let spec = lease.spec.as_ref()?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    renewed.checked_add(jiff::SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)))).ok()
}

/// Takes the lease for `holder` for [`LEASE_DURATION`] (renewed while the run lives).
/// Returns the other holder it took over from, if any (an expired lease).
fn take(lease: &mut Lease, holder: &str, now: jiff::Timestamp) -> Option<String> {
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let previous = spec.holder_identity.clone().filter(|h| !h.is_empty() && h != holder);
    if spec.holder_identity.as_deref() != Some(holder) {
        spec.lease_transitions =
            Some(spec.lease_transitions.unwrap_or(0) + if spec.holder_identity.is_some() { 1 } else { 0 });
    }
    spec.holder_identity = Some(holder.to_string());
    spec.lease_duration_seconds = Some(LEASE_DURATION.as_secs() as i32);
    spec.acquire_time = Some(MicroTime(now));
    spec.renew_time = Some(MicroTime(now));
    previous
}

/// Takes the heal lock `name` (see [`lease_name`]). If another healer holds an unexpired lease, waits by
/// watching the Lease until it is released or expires (at most [`LEASE_DURATION`] after its
/// holder's last renewal), or until `deadline`. An expired lease is taken over at once, with a
/// resourceVersion precondition (a 409 means someone was faster: look again), and the guard
/// says so ([`LockGuard::taken_over_from`]).
///
/// # Errors
/// [`LockError::Busy`] when the deadline passes while another healer holds it;
/// [`LockError::Api`] on API failures.
pub async fn acquire(
    client: &Client,
    ns: &str,
    name: &str,
    holder: &str,
    deadline: Instant,
) -> Result<LockGuard, LockError> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    let name = name.to_string();
    let err = |what| {
        let (namespace, name) = (ns.to_string(), name.clone());
        move |source| LockError::Api { what, namespace, name, source }
    };
    let guard = |lease, contended, taken_over_from| LockGuard {
        client: client.clone(),
        namespace: ns.to_string(),
        holder: holder.to_string(),
        lease,
        contended,
        taken_over_from,
        renewer: None,
    };
    let mut last_holder = String::new();
    let mut contended = false;
    loop {
        if Instant::now() >= deadline {
            return Err(LockError::Busy { holder: last_holder });
        }
        let now = jiff::Timestamp::now();
        let existing = match tokio::time::timeout_at(deadline, api.get_opt(&name)).await {
            Err(_) => return Err(LockError::Busy { holder: last_holder }),
            Ok(r) => r.map_err(err("read"))?,
        };
        let Some(mut lease) = existing else {
            let mut fresh = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.to_string()),
                    ..ObjectMeta::default()
                },
                spec: None,
            };
            take(&mut fresh, holder, now);
            match api.create(&post_params(), &fresh).await {
                Ok(created) => return Ok(guard(created, contended, None)),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    contended = true;
                    continue;
                }
                Err(e) => return Err(err("create")(e)),
            }
        };
        match lease_holder_blocking(&lease, holder, now) {
            None => {
                let previous = take(&mut lease, holder, now);
                match api.replace(&name, &post_params(), &lease).await {
                    Ok(taken) => return Ok(guard(taken, contended, previous)),
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        contended = true;
                        continue;
                    }
                    Err(e) => return Err(err("take over")(e)),
                }
            }
            Some(other) => {
                tracing::info!(holder = %other, lease = %name, "another healer holds the lock; waiting");
                last_holder = other;
                contended = true;
                let until = lease_expiry(&lease)
                    .map(|t| {
                        let secs = t.duration_since(jiff::Timestamp::now()).as_secs_f64().max(0.0);
                        Instant::now() + Duration::from_secs_f64(secs)
                    })
                    .map_or(deadline, |t| t.min(deadline));
                let rv = lease.metadata.resource_version.clone().unwrap_or_default();
                wait_for_change(&api, &name, &rv, until).await;
            }
        }
    }
}

/// Returns at the first change of the named Lease after `rv`, when the watch ends, or at
/// `until`, whichever comes first. When the watch cannot run (refused, expired resourceVersion,
/// ended at once) it pauses briefly before the caller looks again, so it never spins.
async fn wait_for_change(api: &Api<Lease>, name: &str, rv: &str, until: Instant) {
    const PAUSE: Duration = Duration::from_secs(1);
    let started = Instant::now();
    let wp = WatchParams::default().timeout(WATCH_TIMEOUT_SECS).fields(&format!("metadata.name={name}"));
    let work = async {
        if let Ok(stream) = api.watch(&wp, rv).await {
            futures::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(WatchEvent::Added(_) | WatchEvent::Modified(_) | WatchEvent::Deleted(_)) => return,
                    Ok(WatchEvent::Bookmark(_)) => continue,
                    Ok(WatchEvent::Error(_)) | Err(_) => break,
                }
            }
        }
        if started.elapsed() < PAUSE {
            tokio::time::sleep(PAUSE - started.elapsed()).await;
        }
    };
    let _ = tokio::time::timeout_at(until, work).await;
}

/// Remediation times recorded on the lease (unparseable entries are ignored).
pub fn remediations(lease: &Lease) -> Vec<jiff::Timestamp> {
    let raw = lease.metadata.annotations.as_ref().and_then(|a| a.get(REMEDIATIONS));
    let list: Vec<String> = raw.and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    list.iter().filter_map(|s| s.parse().ok()).collect()
}

fn in_window(times: &[jiff::Timestamp], window: Duration, now: jiff::Timestamp) -> Vec<jiff::Timestamp> {
    let Ok(window) = jiff::SignedDuration::try_from(window) else { return times.to_vec() };
    let since = now.checked_sub(window).unwrap_or(jiff::Timestamp::MIN);
    let mut kept: Vec<_> = times.iter().copied().filter(|t| *t > since).collect();
    kept.sort();
    kept
}

/// The breaker: at most `max` remediations per `window`, counted from the lease's annotation.
///
/// # Errors
/// [`BreakerOpen`] with the count and when the oldest remediation leaves the window.
pub fn breaker_allows(lease: &Lease, max: u32, window: Duration, now: jiff::Timestamp) -> Result<(), BreakerOpen> {
    let recent = in_window(&remediations(lease), window, now);
    let count = recent.len() as u32;
    if count < max {
        return Ok(());
    }
    // The (count - max + 1)-th oldest must leave the window before another is allowed.
    let blocking = recent[(count - max) as usize];
    let leaves = blocking.checked_add(jiff::SignedDuration::try_from(window).unwrap_or_default()).unwrap_or(now);
    let secs = leaves.duration_since(now).as_secs_f64().max(0.0).ceil();
    Err(BreakerOpen { count, window, retry_after: Duration::from_secs_f64(secs) })
}

/// Records one remediation (now) on the held lease, dropping entries older than `window`.
///
/// # Errors
/// [`LockError::Api`] if the Lease cannot be patched.
/// Returns the Lease as written (for [`LockGuard::set_lease`]).
pub async fn record_remediation(client: &Client, lease: &Lease, window: Duration) -> Result<Lease, LockError> {
    let now = jiff::Timestamp::now();
    let mut times = in_window(&remediations(lease), window, now);
    times.push(now);
    let list: Vec<String> = times.iter().map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).collect();
    let value = serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_string());
    let namespace = lease.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let name = lease.metadata.name.clone().unwrap_or_default();
    let patch = json!({"metadata": {"annotations": {REMEDIATIONS: value}}});
    api.patch(&name, &patch_params(false), &Patch::Merge(patch)).await.map_err(|source| LockError::Api {
        what: "record a remediation on",
        namespace,
        name,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renew: &str, secs: i32, times: &[&str]) -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": "self-heal-x", "annotations": {REMEDIATIONS: serde_json::to_string(times).unwrap()}},
            "spec": {"holderIdentity": holder, "renewTime": renew, "leaseDurationSeconds": secs}
        }))
        .unwrap()
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn acquire_creates_the_lease_and_release_keeps_it() {
        use crate::act::fake_api;
        let created = std::sync::Arc::new(std::sync::Mutex::new(None::<serde_json::Value>));
        let store = created.clone();
        let (client, log) = fake_api::start(move |req, _| {
            let mut stored = store.lock().unwrap();
            match (req.method.as_str(), stored.clone()) {
                ("GET", None) => {
                    (404, fake_api::status(404, "NotFound", "leases.coordination.k8s.io \"self-heal-web\" not found"))
                }
                ("GET", Some(l)) => (200, l),
                ("POST" | "PUT", _) => {
                    let mut l = req.body.clone();
                    l["metadata"]["resourceVersion"] = json!("7");
                    *stored = Some(l.clone());
                    (201, l)
                }
                _ => (500, fake_api::status(500, "InternalError", "unexpected")),
            }
        })
        .await;
        let guard = acquire(&client, "ns", "self-heal-deployment-web", "me", Instant::now() + Duration::from_secs(30))
            .await
            .unwrap();
        let spec = guard.lease().spec.clone().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_duration_seconds, Some(15), "short, renewed while the run lives: {spec:?}");
        assert_eq!(guard.taken_over_from(), None);
        assert!(!guard.contended(), "taken at the first try");
        guard.release().await.unwrap();
        let log = log.lock().unwrap();
        let methods: Vec<&str> = log.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["GET", "POST", "GET", "PUT"]);
        assert!(log[1].uri.starts_with("/apis/coordination.k8s.io/v1/namespaces/ns/leases?"), "{}", log[1].uri);
        for write in [&log[1], &log[3]] {
            assert!(write.uri.contains("fieldManager=self-heal") && !write.uri.contains("dryRun"), "{}", write.uri);
        }
        assert_eq!(log[3].body["spec"]["holderIdentity"], serde_json::Value::Null);
        assert_eq!(log[3].body["metadata"]["resourceVersion"], "7");
    }

    #[tokio::test]
    async fn a_lock_won_after_losing_a_race_is_contended() {
        use crate::act::fake_api;
        let free = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "self-heal-web", "namespace": "ns", "resourceVersion": "8"}, "spec": {}});
        let (client, _) = fake_api::start(move |req, i| match (req.method.as_str(), i) {
            ("GET", 0) => (404, fake_api::status(404, "NotFound", "not found")),
            ("POST", 1) => (409, fake_api::status(409, "AlreadyExists", "someone was faster")),
            ("GET", 2) => (200, free.clone()),
            ("PUT", 3) => (200, req.body.clone()),
            _ => (500, fake_api::status(500, "InternalError", "unexpected")),
        })
        .await;
        let guard = acquire(&client, "ns", "web", "me", Instant::now() + Duration::from_secs(30)).await.unwrap();
        assert!(guard.contended(), "another healer may have acted in between");
    }

    #[tokio::test]
    async fn acquire_waits_then_reports_busy_at_the_deadline() {
        use crate::act::fake_api;
        let (client, log) = fake_api::start(|_, _| {
            let renew = jiff::Timestamp::now().to_string();
            let mut l = serde_json::to_value(lease(Some("other-pod"), &renew, 60, &[])).unwrap();
            l["metadata"]["resourceVersion"] = json!("3");
            (200, l)
        })
        .await;
        let started = Instant::now();
        let err = acquire(&client, "ns", "self-heal-deployment-web", "me", Instant::now() + Duration::from_millis(600))
            .await
            .unwrap_err();
        assert!(matches!(&err, LockError::Busy { holder } if holder == "other-pod"), "{err:?}");
        assert!(started.elapsed() >= Duration::from_millis(550), "returned before the deadline");
        // It waited by watching the Lease, not by reading it again and again.
        let log = log.lock().unwrap();
        let gets = log.iter().filter(|r| r.method == "GET" && !r.uri.contains("watch=")).count();
        assert!(gets <= 2, "{gets} reads while waiting: {:?}", log.iter().map(|r| &r.uri).collect::<Vec<_>>());
        assert!(log.iter().any(|r| r.uri.contains("watch=")), "no watch on the Lease");
    }

    #[tokio::test]
    async fn a_refused_create_is_an_error_not_a_wait() {
        use crate::act::fake_api;
        let (client, log) = fake_api::start(|req, _| match req.method.as_str() {
            "GET" => (404, fake_api::status(404, "NotFound", "not found")),
            _ => (403, fake_api::status(403, "Forbidden", "leases.coordination.k8s.io is forbidden")),
        })
        .await;
        let err = acquire(&client, "ns", "web", "me", Instant::now() + Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(&err, LockError::Api { what: "create", .. }), "{err:?}");
        assert_eq!(log.lock().unwrap().len(), 2, "one read, one create");
        // The same for taking over a free Lease.
        let free = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "8"}, "spec": {}});
        let (client, log) = fake_api::start(move |req, _| match req.method.as_str() {
            "GET" => (200, free.clone()),
            _ => (403, fake_api::status(403, "Forbidden", "leases.coordination.k8s.io is forbidden")),
        })
        .await;
        let err = acquire(&client, "ns", "web", "me", Instant::now() + Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(&err, LockError::Api { what: "take over", .. }), "{err:?}");
        assert_eq!(log.lock().unwrap().len(), 2, "one read, one replace");
    }

    #[tokio::test]
    async fn release_reads_again_after_a_conflict_and_frees_the_lease() {
        use crate::act::fake_api;
        let held = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "8"},
            "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}});
        let (client, log) = fake_api::start(move |req, i| match (req.method.as_str(), i) {
            ("GET", 0) => (404, fake_api::status(404, "NotFound", "not found")),
            ("POST", 1) => (201, held.clone()),
            ("GET", 2 | 4) => (200, held.clone()),
            ("PUT", 3) => (409, fake_api::status(409, "Conflict", "the object has been modified")),
            ("PUT", 5) => (200, req.body.clone()),
            _ => (500, fake_api::status(500, "InternalError", "unexpected")),
        })
        .await;
        let guard = acquire(&client, "ns", "web", "me", Instant::now() + Duration::from_secs(30)).await.unwrap();
        guard.release().await.unwrap();
        let log = log.lock().unwrap();
        let methods: Vec<&str> = log.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["GET", "POST", "GET", "PUT", "GET", "PUT"]);
        assert_eq!(log[5].body["spec"]["holderIdentity"], serde_json::Value::Null);
    }

    #[test]
    fn one_lease_per_workload_always_a_valid_name() {
        use crate::resolve::WorkloadKind;
        let dep = |name: &str| WorkloadRef { kind: WorkloadKind::Deployment, name: name.into() };
        // Two Services of one Deployment share the lease.
        assert_eq!(lease_name(Some(&dep("web")), "web-a"), lease_name(Some(&dep("web")), "web-b"));
        assert_eq!(lease_name(Some(&dep("web")), "x"), "self-heal-deployment-web");
        assert_eq!(lease_name(None, "web"), "self-heal-web");
        let long = lease_name(Some(&dep(&"a".repeat(250))), "x");
        assert!(long.len() <= 253 && crate::names::is_subdomain(&long), "{long}");
        assert_ne!(long, lease_name(Some(&dep(&"b".repeat(250))), "x"));
    }

    #[test]
    fn holder_identities_are_random_and_name_the_host() {
        let (a, b) = (holder_identity(), holder_identity());
        assert_ne!(a, b);
        if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname")
            && !host.trim().is_empty()
        {
            assert!(a.contains(&format!("(host {},", host.trim())), "{a}");
        }
        assert!(a.contains(&format!("pid {}", std::process::id())), "{a}");
        assert!(a.split(' ').next().unwrap().len() == 32, "{a}");
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_at_once_and_says_from_whom() {
        use crate::act::fake_api;
        let expired = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(16)).to_string();
        let (client, _) = fake_api::start(move |req, _| match req.method.as_str() {
            "GET" => {
                let mut l = serde_json::to_value(lease(Some("dead-pod"), &expired, 15, &[])).unwrap();
                l["metadata"]["resourceVersion"] = json!("3");
                (200, l)
            }
            _ => (200, req.body.clone()),
        })
        .await;
        let started = Instant::now();
        let guard = acquire(&client, "ns", "self-heal-deployment-web", "me", Instant::now() + Duration::from_secs(60))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "no wait for an expired lease");
        assert_eq!(guard.taken_over_from(), Some("dead-pod"));
        let spec = guard.lease().spec.clone().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(1));
    }

    #[test]
    fn breaker_counts_only_inside_the_window() {
        let l = lease(
            None,
            "2026-11-28T10:00:00Z",
            10,
            &["2026-11-28T09:00:00Z", "2026-11-28T09:50:00Z", "2026-11-28T09:55:00Z"],
        );
        let now = ts("2026-11-28T10:00:00Z");
        let window = Duration::from_secs(15 * 60);
        assert_eq!(breaker_allows(&l, 3, window, now), Ok(()));
        let open = breaker_allows(&l, 2, window, now).unwrap_err();
        // 09:50 leaves the 15-minute window at 10:05.
        assert_eq!(open, BreakerOpen { count: 2, window, retry_after: Duration::from_secs(300) });
        assert_eq!(breaker_allows(&l, 1, window, now).unwrap_err().retry_after, Duration::from_secs(600));
        assert!(open.to_string().contains("2 remediations in the last 15m"), "{open}");
    }

    #[test]
    fn breaker_ignores_garbage_annotation() {
        let mut l = lease(None, "2026-11-28T10:00:00Z", 10, &[]);
        l.metadata.annotations.as_mut().unwrap().insert(REMEDIATIONS.into(), "not json".into());
        assert_eq!(breaker_allows(&l, 1, Duration::from_secs(60), ts("2026-11-28T10:00:00Z")), Ok(()));
    }

    #[test]
    fn lease_blocks_only_while_held_by_another_and_unexpired() {
        let now = ts("2026-11-28T10:00:30Z");
        let held = lease(Some("other"), "2026-11-28T10:00:00Z", 60, &[]);
        assert_eq!(lease_holder_blocking(&held, "me", now), Some("other".into()));
        assert_eq!(lease_holder_blocking(&held, "other", now), None);
        let expired = lease(Some("other"), "2026-11-28T10:00:00Z", 20, &[]);
        assert_eq!(lease_holder_blocking(&expired, "me", now), None);
        let released = lease(None, "2026-11-28T10:00:00Z", 60, &[]);
        assert_eq!(lease_holder_blocking(&released, "me", now), None);
        // Expiring this very instant: free (renewed + duration is the first instant it is).
        let ending = lease(Some("other"), "2026-11-28T10:00:00Z", 30, &[]);
        assert_eq!(lease_holder_blocking(&ending, "me", now), None);
        let ending_soon = lease(Some("other"), "2026-11-28T10:00:00Z", 31, &[]);
        assert_eq!(lease_holder_blocking(&ending_soon, "me", now), Some("other".into()));
    }
}
