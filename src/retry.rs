//! Retries in the kube client's tower stack, as a real API server needs them: reads (GET, LIST,
//! watch establishment) are sent again on 429/500/502/503/504 and on transport errors, with
//! full-jitter exponential backoff ([`BACKOFF_MIN`] → [`BACKOFF_MAX`]) and `Retry-After`
//! honoured, until the run's [`Budget`] is spent. Writes are sent again only when they cannot
//! have landed (the connection was never made); any other failure of a write is left to
//! [`crate::act`], which reads the object again and decides again.
//!
//! Before the API server has answered anything, a failed connection is retried at most
//! [`UNANSWERED_CONNECT_RETRIES`] times, so an API that is not there still fails fast (exit 5).
//! The request that made the layer give up is kept in a [`Record`] so the result line can name
//! it ([`Outage::sentence`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tokio::time::Instant;
use tower::util::rng::{HasherRng, Rng};
use tower::{BoxError, Layer, Service, ServiceExt};

/// The first backoff cap; each retry doubles it.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The largest backoff cap.
pub const BACKOFF_MAX: Duration = Duration::from_secs(4);
/// Connection failures retried before the API server has ever answered.
pub const UNANSWERED_CONNECT_RETRIES: u32 = 2;
/// Retries of one request when the budget has no deadline.
pub const UNBOUNDED_RETRIES: u32 = 6;

/// Full-jitter exponential backoff: each wait is anywhere in `[0, cap)`, the cap doubling from
/// [`BACKOFF_MIN`] to [`BACKOFF_MAX`], so that many clients do not retry in step.
#[derive(Debug)]
pub struct Backoff {
    cap: Duration,
    rng: HasherRng,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { cap: BACKOFF_MIN, rng: HasherRng::new() }
    }
}

impl Backoff {
    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.cap.mul_f64(self.rng.next_f64());
        self.cap = (self.cap * 2).min(BACKOFF_MAX);
        wait
    }
}

/// How long the layer may keep retrying, and where it notes why it gave up.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    /// No retry is started that would end after `deadline - reserve`; `None`: no deadline.
    pub deadline: Option<Instant>,
    /// Time kept back so that the caller can still report the failure before its deadline.
    pub reserve: Duration,
    /// Where the last given-up request is noted.
    pub record: Record,
}

impl Budget {
    /// A budget ending at a run's `deadline`, keeping back a tenth of `total` (at most 2 s) for
    /// the result line.
    pub fn until(deadline: Instant, total: Duration) -> Self {
        Budget {
            deadline: Some(deadline),
            reserve: (total / 10).min(Duration::from_secs(2)),
            record: Record::default(),
        }
    }

    /// Whether retry number `retry` (1-based), after `wait`, still fits.
    fn allows(&self, retry: u32, wait: Duration) -> bool {
        match self.deadline {
            Some(d) => Instant::now() + wait + self.reserve <= d,
            None => retry <= UNBOUNDED_RETRIES,
        }
    }
}

/// A request the layer stopped retrying: what was asked, what the API answered, since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// `GET services/x`, `WATCH pods`, `PATCH deployments/web`.
    pub request: String,
    /// `answered 503 Service Unavailable`, or `could not be reached (Connection refused ...)`.
    pub answer: String,
    /// From the first failed attempt to the last.
    pub lasted: Duration,
}

impl Outage {
    /// One sentence for the result line: "The Kubernetes API answered 503 Service Unavailable
    /// to GET services/x for 20s."
    pub fn sentence(&self) -> String {
        let secs = Duration::from_secs(self.lasted.as_secs().max(1));
        format!("The Kubernetes API {} to {} for {}.", self.answer, self.request, humantime::format_duration(secs))
    }
}

/// Shared between every clone of one client: whether the API ever answered, and the last
/// request the layer gave up on.
#[derive(Clone, Debug, Default)]
pub struct Record {
    answered: Arc<AtomicBool>,
    last: Arc<Mutex<Option<Outage>>>,
}

impl Record {
    /// The last request given up on, if any.
    pub fn last_outage(&self) -> Option<Outage> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn note(&self, outage: Outage) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(outage);
    }
}

/// The tower layer ([`RetryService`]).
#[derive(Clone, Debug)]
pub struct RetryLayer {
    budget: Budget,
}

impl RetryLayer {
    /// A layer retrying within `budget`.
    pub fn new(budget: Budget) -> Self {
        RetryLayer { budget }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService { inner, budget: self.budget.clone() }
    }
}

/// Sends a request again while [`verdict`] says it may and the budget allows.
#[derive(Clone, Debug)]
pub struct RetryService<S> {
    inner: S,
    budget: Budget,
}

/// Whether a failed attempt may be sent again, and after how long at least.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Done: hand the answer (good or bad) to the caller.
    Final,
    /// Send it again, after at least the server's `Retry-After`.
    Again { retry_after: Option<Duration>, connect: bool },
}

/// GET covers get, list and watch; HEAD and OPTIONS change nothing either.
fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// True when the connection was never made, so the request was never sent.
fn is_connect_error(err: &BoxError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&**err);
    while let Some(e) = source {
        if e.downcast_ref::<hyper_util::client::legacy::Error>().is_some_and(|h| h.is_connect()) {
            return true;
        }
        source = e.source();
    }
    false
}

fn retry_after<B>(res: &Response<B>) -> Option<Duration> {
    let secs: u64 = res.headers().get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

fn verdict<B>(read: bool, result: &Result<Response<B>, BoxError>) -> Verdict {
    match result {
        Ok(res) if read && retryable_status(res.status()) => {
            Verdict::Again { retry_after: retry_after(res), connect: false }
        }
        Ok(_) => Verdict::Final,
        Err(e) if is_connect_error(e) => Verdict::Again { retry_after: None, connect: true },
        Err(_) if read => Verdict::Again { retry_after: None, connect: false },
        Err(_) => Verdict::Final,
    }
}

/// `GET services/x` from `/api/v1/namespaces/ns/services/x?...` (`WATCH` for a watch).
fn describe_request(method: &Method, uri: &axum::http::Uri) -> String {
    let watch = uri.query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] | ["apis", _, _version, rest @ ..] => rest,
        other => other,
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    let verb = if watch { "WATCH" } else { method.as_str() };
    format!("{verb} {}", rest.join("/"))
}

fn describe_answer<B>(result: &Result<Response<B>, BoxError>) -> String {
    match result {
        Ok(res) => {
            let s = res.status();
            format!("answered {} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
        }
        Err(e) => {
            let mut deepest = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                deepest = s.to_string();
                source = s.source();
            }
            format!("could not be reached ({deepest})")
        }
    }
}

fn clone_request(req: &Request<Body>) -> Option<Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}

impl<S, B> Service<Request<Body>> for RetryService<S>
where
    S: Service<Request<Body>, Response = Response<B>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The instance polled ready is the one to use; keep a fresh clone for the next call.
        let fresh = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, fresh);
        Box::pin(send(inner, self.budget.clone(), req))
    }
}

async fn send<S, B>(mut inner: S, budget: Budget, mut req: Request<Body>) -> Result<Response<B>, BoxError>
where
    S: Service<Request<Body>, Response = Response<B>, Error = BoxError>,
{
    let read = is_read(req.method());
    let what = describe_request(req.method(), req.uri());
    let mut backoff = Backoff::default();
    let mut unanswered_connects = 0;
    let mut first_failure: Option<Instant> = None;
    let mut first = true;
    let mut retries = 0;
    loop {
        let next = clone_request(&req);
        let result = if first { inner.call(req).await } else { inner.ready().await?.call(req).await };
        first = false;
        if result.is_ok() {
            budget.record.answered.store(true, Ordering::Relaxed);
        }
        let (retry_after, connect) = match verdict(read, &result) {
            Verdict::Final => return result,
            Verdict::Again { retry_after, connect } => (retry_after, connect),
        };
        let since = *first_failure.get_or_insert_with(Instant::now);
        let give_up = |result: Result<Response<B>, BoxError>| {
            budget.record.note(Outage {
                request: what.clone(),
                answer: describe_answer(&result),
                lasted: since.elapsed(),
            });
            result
        };
        if connect && !budget.record.answered.load(Ordering::Relaxed) {
            unanswered_connects += 1;
            if unanswered_connects > UNANSWERED_CONNECT_RETRIES {
                return give_up(result);
            }
        }
        let jitter = backoff.next_wait();
        let wait = retry_after.map_or(jitter, |r| r.max(jitter));
        retries += 1;
        let Some(again) = next.filter(|_| budget.allows(retries, wait)) else { return give_up(result) };
        tracing::debug!(request = %what, answer = %describe_answer(&result), wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
        req = again;
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
