//! Keeps a held heal lock alive, as client-go's leader election does: the Lease lasts
//! [`LEASE_DURATION`] and is renewed every [`RENEW_EVERY`], so a killed holder blocks others for
//! at most [`LEASE_DURATION`]. When renewals fail for [`LOST_AFTER`] (less than the duration, so
//! nobody else can have taken it yet), or another healer holds it, the lock is lost: the run
//! is told once and must stop acting.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::Api;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::act::post_params;

/// How long a taken Lease lasts without renewal (`leaseDurationSeconds`).
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews it.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// Renewals failing for this long (since the last success) lose the lock.
pub const LOST_AFTER: Duration = Duration::from_secs(10);
/// The pause between failed renewal attempts.
const RETRY: Duration = Duration::from_secs(1);

/// Why a held lock was lost.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockLost {
    /// Someone else holds the Lease now (or nobody: it was released behind our back).
    #[error("the heal lock was taken over by {holder}")]
    TakenOver {
        /// The holder found on the Lease.
        holder: String,
    },
    /// No renewal succeeded for [`LOST_AFTER`].
    #[error("the heal lock could not be renewed for {}s: {last_error}", LOST_AFTER.as_secs())]
    Unrenewed {
        /// The last renewal's error.
        last_error: String,
    },
}

/// The renewal task; aborted when dropped.
#[derive(Debug)]
pub struct Renewer {
    task: JoinHandle<()>,
}

impl Drop for Renewer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The renewal rhythm (the constants above; shorter in tests).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Between successful renewals.
    pub every: Duration,
    /// Since the last success, when the lock counts as lost.
    pub lost_after: Duration,
    /// Between failed attempts.
    pub retry: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { every: RENEW_EVERY, lost_after: LOST_AFTER, retry: RETRY }
    }
}

/// Starts renewing `name` for `holder`; a loss is sent once on `lost`, then the task ends.
pub fn spawn(api: Api<Lease>, name: String, holder: String, lost: UnboundedSender<LockLost>, t: Timing) -> Renewer {
    let task = tokio::spawn(async move {
        let mut last_ok = Instant::now();
        let mut next = last_ok + t.every;
        let mut last_error = String::from("no answer");
        loop {
            tokio::time::sleep_until(next).await;
            let give_up = last_ok + t.lost_after;
            match tokio::time::timeout_at(give_up, renew_once(&api, &name, &holder)).await {
                Ok(Ok(())) => {
                    last_ok = Instant::now();
                    next = last_ok + t.every;
                    continue;
                }
                Ok(Err(Failure::TakenOver(holder))) => {
                    let _ = lost.send(LockLost::TakenOver { holder });
                    return;
                }
                Ok(Err(Failure::Api(e))) => last_error = e,
                Err(_) => {}
            }
            if Instant::now() >= give_up {
                tracing::warn!(lease = %name, "failed to renew the heal lock for {:?}: {last_error}", t.lost_after);
                let _ = lost.send(LockLost::Unrenewed { last_error });
                return;
            }
            next = (Instant::now() + t.retry).min(give_up);
        }
    });
    Renewer { task }
}

enum Failure {
    TakenOver(String),
    Api(String),
}

/// One renewal: read, check we still hold it, write the new renewTime with the read's
/// resourceVersion as precondition (a 409 is another write, e.g. the breaker's: read again).
async fn renew_once(api: &Api<Lease>, name: &str, holder: &str) -> Result<(), Failure> {
    for _ in 0..3 {
        let mut lease = api.get(name).await.map_err(|e| Failure::Api(e.to_string()))?;
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(holder) {
            return Err(Failure::TakenOver(spec.holder_identity.clone().unwrap_or_else(|| "nobody".into())));
        }
        spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        spec.lease_duration_seconds = Some(LEASE_DURATION.as_secs() as i32);
        match api.replace(name, &post_params(), &lease).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(Failure::Api(e.to_string())),
        }
    }
    Err(Failure::Api("the Lease kept changing (409 Conflict)".into()))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;
    use crate::act::fake_api;

    fn held(holder: &str) -> serde_json::Value {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l", "namespace": "ns", "resourceVersion": "5"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}})
    }

    const FAST: Timing = Timing {
        every: Duration::from_millis(100),
        lost_after: Duration::from_millis(400),
        retry: Duration::from_millis(50),
    };

    #[tokio::test]
    async fn renews_on_its_rhythm_while_held() {
        let puts = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
        let seen = puts.clone();
        let (client, _) = fake_api::start(move |req, _| match req.method.as_str() {
            "GET" => (200, held("me")),
            _ => {
                seen.lock().unwrap().push(req.body.clone());
                (200, req.body.clone())
            }
        })
        .await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _r = spawn(Api::namespaced(client, "ns"), "l".into(), "me".into(), tx, FAST);
        let lost = tokio::time::timeout(Duration::from_millis(1000), rx.recv()).await;
        assert!(lost.is_err(), "not lost while renewals succeed: {lost:?}");
        let puts = puts.lock().unwrap();
        assert!((5..=11).contains(&puts.len()), "about one renewal per 100 ms: {}", puts.len());
        assert_eq!(puts[0]["spec"]["leaseDurationSeconds"], 15);
        assert_eq!(puts[0]["spec"]["holderIdentity"], "me");
        assert_eq!(puts[0]["metadata"]["resourceVersion"], "5", "the read's resourceVersion is the precondition");
    }

    #[tokio::test]
    async fn a_lease_held_by_another_is_lost_at_once() {
        let (client, _) = fake_api::start(|_, _| (200, held("someone-else"))).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let started = Instant::now();
        let _r = spawn(Api::namespaced(client, "ns"), "l".into(), "me".into(), tx, FAST);
        let lost = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap();
        assert_eq!(lost, Some(LockLost::TakenOver { holder: "someone-else".into() }));
        assert!(started.elapsed() < FAST.lost_after, "at the first renewal, not after the grace");
    }

    #[tokio::test]
    async fn renewals_failing_past_the_grace_lose_the_lock() {
        let (client, _) =
            fake_api::start_with(false, |_, _| (500, fake_api::status(500, "InternalError", "etcd is down"))).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let started = Instant::now();
        let _r = spawn(Api::namespaced(client, "ns"), "l".into(), "me".into(), tx, FAST);
        let lost = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap();
        assert!(
            matches!(&lost, Some(LockLost::Unrenewed { last_error }) if last_error.contains("etcd is down")),
            "{lost:?}"
        );
        let took = started.elapsed();
        assert!(took >= FAST.lost_after && took < FAST.lost_after + Duration::from_millis(300), "{took:?}");
    }

    #[test]
    fn the_lease_outlives_the_renewal_grace() {
        // Nobody can take the lock over before its holder has given it up.
        assert!(LOST_AFTER < LEASE_DURATION && RENEW_EVERY < LOST_AFTER);
        assert_eq!(LEASE_DURATION.as_secs(), 15);
    }
}
