//! A resumable watch: list, then watch from the list's resourceVersion; when the watch closes
//! or breaks, watch again from the last resourceVersion seen (no event lost, none replayed);
//! when the API says that version is gone (410, as an HTTP status or as an `ERROR` event),
//! list afresh. kube's `watcher` retries a watch start refused with an HTTP 410 from the same
//! expired version forever, so [`wait`](crate::wait) and [`verify`](crate::verify) use this one.
//!
//! It yields kube's [`watcher::Event`]s, so [`Cache`] (and any kube-runtime helper) applies.

use std::collections::{BTreeMap, VecDeque};

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use kube::Api;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

use crate::retry::Backoff;

/// What a resumable watch yields: kube's events, or an error after which it carries on.
pub type WatchStream<K> = BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>;

/// Where the watch stands.
enum Phase<K> {
    /// Nothing known: list next.
    Empty,
    /// Listed or watched up to this resourceVersion: watch from it next.
    Resume(String),
    /// A watch is open.
    Watching(String, BoxStream<'static, kube::Result<WatchEvent<K>>>),
}

struct State<K> {
    api: Api<K>,
    list: ListParams,
    watch: WatchParams,
    phase: Phase<K>,
    /// Events produced by one step, handed out one by one.
    ready: VecDeque<Result<watcher::Event<K>, watcher::Error>>,
    backoff: Backoff,
    /// Whether the last step failed, so the next one waits first.
    failed: bool,
}

fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 410)
}

/// Watches the objects `config` selects (labels, fields, server-side timeout), resuming and
/// re-listing as the module says. Errors are yielded and the stream goes on (after a backoff);
/// the caller decides which are fatal ([`is_permanent`]) and bounds the whole with a deadline.
pub fn resumable<K>(api: Api<K>, config: &watcher::Config) -> WatchStream<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let list = ListParams {
        label_selector: config.label_selector.clone(),
        field_selector: config.field_selector.clone(),
        ..ListParams::default()
    };
    let watch = WatchParams {
        label_selector: config.label_selector.clone(),
        field_selector: config.field_selector.clone(),
        timeout: config.timeout,
        ..WatchParams::default()
    };
    let state = State {
        api,
        list,
        watch,
        phase: Phase::Empty,
        ready: VecDeque::new(),
        backoff: Backoff::default(),
        failed: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.ready.pop_front() {
                return Some((item, s));
            }
            step(&mut s).await;
        }
    })
    .boxed()
}

/// One move of the state machine; puts what it saw in `s.ready`.
async fn step<K>(s: &mut State<K>)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    if std::mem::take(&mut s.failed) {
        tokio::time::sleep(s.backoff.next_wait()).await;
    }
    match std::mem::replace(&mut s.phase, Phase::Empty) {
        Phase::Empty => match s.api.list(&s.list).await {
            Ok(list) => {
                s.backoff = Backoff::default();
                s.ready.push_back(Ok(watcher::Event::Init));
                s.ready.extend(list.items.into_iter().map(|k| Ok(watcher::Event::InitApply(k))));
                s.ready.push_back(Ok(watcher::Event::InitDone));
                match list.metadata.resource_version.filter(|rv| !rv.is_empty()) {
                    Some(rv) => s.phase = Phase::Resume(rv),
                    None => {
                        s.ready.push_back(Err(watcher::Error::NoResourceVersion));
                        s.failed = true;
                    }
                }
            }
            Err(e) => {
                s.ready.push_back(Err(watcher::Error::InitialListFailed(e)));
                s.failed = true;
            }
        },
        Phase::Resume(rv) => match s.api.watch(&s.watch, &rv).await {
            Ok(stream) => s.phase = Phase::Watching(rv, stream.boxed()),
            Err(e) => {
                // 410: that version is gone; anything else: try the same version again.
                if !is_gone(&e) {
                    s.phase = Phase::Resume(rv);
                    s.failed = true;
                }
                s.ready.push_back(Err(watcher::Error::WatchStartFailed(e)));
            }
        },
        Phase::Watching(rv, mut stream) => match stream.try_next().await {
            Ok(Some(WatchEvent::Added(k) | WatchEvent::Modified(k))) => {
                s.backoff = Backoff::default();
                let rv = k.meta().resource_version.clone().unwrap_or(rv);
                s.phase = Phase::Watching(rv, stream);
                s.ready.push_back(Ok(watcher::Event::Apply(k)));
            }
            Ok(Some(WatchEvent::Deleted(k))) => {
                s.backoff = Backoff::default();
                let rv = k.meta().resource_version.clone().unwrap_or(rv);
                s.phase = Phase::Watching(rv, stream);
                s.ready.push_back(Ok(watcher::Event::Delete(k)));
            }
            Ok(Some(WatchEvent::Bookmark(b))) => s.phase = Phase::Watching(b.metadata.resource_version, stream),
            Ok(Some(WatchEvent::Error(status))) => {
                if status.code != 410 {
                    s.phase = Phase::Resume(rv);
                    s.failed = true;
                }
                s.ready.push_back(Err(watcher::Error::WatchError(status.boxed())));
            }
            // Closed by the server (timeoutSeconds, or cut): watch again from where it was,
            // after a short jittered pause (a server closing every watch at once is no hot loop).
            Ok(None) => {
                s.phase = Phase::Resume(rv);
                s.failed = true;
            }
            Err(e) => {
                s.phase = Phase::Resume(rv);
                s.failed = true;
                s.ready.push_back(Err(watcher::Error::WatchFailed(e)));
            }
        },
    }
}

/// True for watch errors that retrying cannot fix (the API said no with a 4xx other than 410
/// and 429).
pub fn is_permanent(e: &watcher::Error) -> bool {
    let code = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    (400..500).contains(&code) && code != 410 && code != 429
}

/// Objects seen so far, kept current from watch events (a re-list replaces them whole).
#[derive(Debug)]
pub struct Cache<K> {
    /// By name.
    pub items: BTreeMap<String, K>,
    /// A re-list in progress: the objects listed so far.
    pub relisting: Option<BTreeMap<String, K>>,
}

impl<K> Default for Cache<K> {
    fn default() -> Self {
        Cache { items: BTreeMap::new(), relisting: None }
    }
}

impl<K: kube::Resource> Cache<K> {
    /// Applies one event.
    pub fn apply(&mut self, ev: watcher::Event<K>) {
        let key = |k: &K| k.meta().name.clone().unwrap_or_default();
        match ev {
            watcher::Event::Apply(k) => {
                self.items.insert(key(&k), k);
            }
            watcher::Event::Delete(k) => {
                self.items.remove(&key(&k));
            }
            watcher::Event::Init => self.relisting = Some(BTreeMap::new()),
            watcher::Event::InitApply(k) => {
                self.relisting.get_or_insert_with(BTreeMap::new).insert(key(&k), k);
            }
            watcher::Event::InitDone => {
                if let Some(fresh) = self.relisting.take() {
                    self.items = fresh;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
