//! Heal history: every heal the orchestrator ran, bounded in memory (newest kept), with each
//! worker line, served by `/api/heals` and streamed by `/api/events`. The JSON shapes here are
//! the console's contract. Persistence plugs in through [`History::load`] (records read at
//! start) and [`History::subscribe`] (every change as it happens).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

/// Whether a heal is still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealStatus {
    /// The worker runs.
    Running,
    /// Finished (any outcome).
    Done,
}

/// One heal, as listed by `GET /api/heals`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealSummary {
    /// The orchestrator's heal id (unique).
    pub id: String,
    /// The worker's run id, once its first line arrived.
    pub run: Option<String>,
    /// The Service.
    pub service: String,
    /// Its namespace.
    pub namespace: String,
    /// The error that triggered the heal.
    pub issue: String,
    /// RFC 3339 UTC.
    pub started: String,
    /// RFC 3339 UTC, when done.
    pub finished: Option<String>,
    /// Wall time, when done.
    pub duration_ms: Option<u64>,
    /// running or done.
    pub status: HealStatus,
    /// The worker's outcome, or `failed` for a worker fault.
    pub outcome: Option<String>,
    /// Finding codes, in order.
    pub findings: Vec<String>,
    /// The plan's action.
    pub action: Option<String>,
    /// The worker's exit code.
    pub exit_code: Option<i32>,
    /// A human summary.
    pub message: String,
    /// What a human should do, if anything.
    pub recommendation: Option<String>,
    /// How many caller requests shared this heal.
    pub requests: u64,
}

/// One worker line with the time it was received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealEvent {
    /// RFC 3339 UTC receive time.
    pub ts: String,
    /// The worker's NDJSON object.
    pub line: Value,
}

/// A heal with all its events (`GET /api/heals/{id}`; also the persisted record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealRecord {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: HealSummary,
    /// Every worker line.
    pub events: Vec<HealEvent>,
}

/// A change, as streamed by `GET /api/events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HistoryEvent {
    /// A heal began.
    HealStarted {
        /// Its summary.
        heal: HealSummary,
    },
    /// A worker line arrived.
    HealEvent {
        /// The heal id.
        id: String,
        /// The line.
        event: HealEvent,
    },
    /// A heal ended.
    HealFinished {
        /// Its final summary.
        heal: HealSummary,
    },
}

/// How a heal ended, for [`History::finish`].
#[derive(Clone, Debug, Default)]
pub struct Finish {
    /// The outcome (`healed`, ..., or `failed`).
    pub outcome: String,
    /// The worker's exit code.
    pub exit_code: Option<i32>,
    /// Human summary.
    pub message: String,
    /// Recommendation.
    pub recommendation: Option<String>,
    /// Wall time.
    pub duration_ms: u64,
}

/// A page of `GET /api/heals`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page {
    /// Newest first.
    pub heals: Vec<HealSummary>,
    /// The id to pass as `before` for the next page.
    pub next: Option<String>,
}

/// Filter for [`History::list`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListFilter {
    /// Only this service.
    pub service: Option<String>,
    /// At most this many (default 50, max 1000).
    pub limit: Option<usize>,
    /// Only heals older than this id.
    pub before: Option<String>,
}

/// Receives every finished heal with all its events (the history file's writer).
pub type Sink = Box<dyn Fn(&HealRecord) + Send + Sync>;

/// The bounded history.
pub struct History {
    limit: usize,
    records: Mutex<VecDeque<HealRecord>>,
    seq: AtomicU64,
    tx: broadcast::Sender<HistoryEvent>,
    sink: std::sync::OnceLock<Sink>,
}

/// Now, RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}

impl History {
    /// An empty history keeping at most `limit` heals.
    pub fn new(limit: usize) -> Self {
        let (tx, _) = broadcast::channel(1024);
        History {
            limit: limit.max(1),
            records: Mutex::new(VecDeque::new()),
            seq: AtomicU64::new(0),
            tx,
            sink: std::sync::OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<HealRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds records read back at start (oldest first); keeps the newest `limit`.
    pub fn load(&self, records: impl IntoIterator<Item = HealRecord>) {
        let mut recs = self.lock();
        for r in records {
            recs.push_back(r);
            while recs.len() > self.limit {
                recs.pop_front();
            }
        }
    }

    /// Hands every heal that finishes from now on to `sink` (once; a second sink is ignored).
    pub fn set_sink(&self, sink: Sink) {
        let _ = self.sink.set(sink);
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HistoryEvent> {
        self.tx.subscribe()
    }

    /// Records a new running heal; returns its id.
    pub fn start(&self, service: &str, namespace: &str, issue: &str) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let ms = jiff::Timestamp::now().as_millisecond();
        let id = format!("heal-{ms:013}-{n:04}");
        let summary = HealSummary {
            id: id.clone(),
            run: None,
            service: service.into(),
            namespace: namespace.into(),
            issue: issue.into(),
            started: now_rfc3339(),
            finished: None,
            duration_ms: None,
            status: HealStatus::Running,
            outcome: None,
            findings: Vec::new(),
            action: None,
            exit_code: None,
            message: format!("Healing {service}"),
            recommendation: None,
            requests: 1,
        };
        {
            let mut recs = self.lock();
            recs.push_back(HealRecord { summary: summary.clone(), events: Vec::new() });
            while recs.len() > self.limit {
                recs.pop_front();
            }
        }
        let _ = self.tx.send(HistoryEvent::HealStarted { heal: summary });
        id
    }

    fn update<T>(&self, id: &str, f: impl FnOnce(&mut HealRecord) -> T) -> Option<T> {
        let mut recs = self.lock();
        recs.iter_mut().rev().find(|r| r.summary.id == id).map(f)
    }

    /// One more caller request shares heal `id`.
    pub fn add_request(&self, id: &str) {
        self.update(id, |r| r.summary.requests += 1);
    }

    /// A worker line arrived: kept, and its run id, finding codes and plan noted.
    pub fn push_event(&self, id: &str, ts: String, line: Value) {
        let event = HealEvent { ts, line };
        let stored = self.update(id, |r| {
            let l = &event.line;
            if r.summary.run.is_none() {
                r.summary.run = l["run"].as_str().map(str::to_string);
            }
            match l["event"].as_str() {
                Some("finding") => {
                    if let Some(code) = l["code"].as_str() {
                        r.summary.findings.push(code.to_string());
                    }
                }
                Some("plan") => r.summary.action = l["action"].as_str().map(str::to_string),
                _ => {}
            }
            r.events.push(event.clone());
        });
        if stored.is_some() {
            let _ = self.tx.send(HistoryEvent::HealEvent { id: id.to_string(), event });
        }
    }

    /// Heal `id` ended.
    pub fn finish(&self, id: &str, f: Finish) {
        let record = self.update(id, |r| {
            let s = &mut r.summary;
            s.status = HealStatus::Done;
            s.finished = Some(now_rfc3339());
            s.duration_ms = Some(f.duration_ms);
            s.outcome = Some(f.outcome);
            s.exit_code = f.exit_code;
            s.message = f.message;
            s.recommendation = f.recommendation;
            r.clone()
        });
        if let Some(record) = record {
            if let Some(sink) = self.sink.get() {
                sink(&record);
            }
            let _ = self.tx.send(HistoryEvent::HealFinished { heal: record.summary });
        }
    }

    /// Newest first, filtered and paged.
    pub fn list(&self, filter: &ListFilter) -> Page {
        let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
        let recs = self.lock();
        let mut iter = recs.iter().rev().peekable();
        if let Some(before) = &filter.before {
            // Skip down to (and past) `before`; an unknown id yields nothing older.
            for r in iter.by_ref() {
                if &r.summary.id == before {
                    break;
                }
            }
        }
        let mut heals = Vec::new();
        let mut next = None;
        for r in iter.filter(|r| filter.service.as_ref().is_none_or(|s| &r.summary.service == s)) {
            if heals.len() == limit {
                next = heals.last().map(|h: &HealSummary| h.id.clone());
                break;
            }
            heals.push(r.summary.clone());
        }
        Page { heals, next }
    }

    /// One heal with its events, by heal id (or by the worker's run id, as DESIGN §2.4 names
    /// it).
    pub fn get(&self, id: &str) -> Option<HealRecord> {
        let recs = self.lock();
        recs.iter()
            .find(|r| r.summary.id == id)
            .or_else(|| recs.iter().find(|r| r.summary.run.as_deref() == Some(id)))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn start_events_finish_list_get() {
        let h = History::new(3);
        let mut rx = h.subscribe();
        let a = h.start("svc", "ns", "connect ECONNREFUSED");
        h.push_event(&a, now_rfc3339(), json!({"run": "r1", "event": "finding", "code": "ScaledToZero"}));
        h.push_event(&a, now_rfc3339(), json!({"run": "r1", "event": "plan", "action": "scale"}));
        h.add_request(&a);
        h.finish(
            &a,
            Finish { outcome: "healed".into(), exit_code: Some(0), message: "ok".into(), ..Default::default() },
        );
        let got = h.get(&a).unwrap();
        assert_eq!(got.summary.run.as_deref(), Some("r1"));
        assert_eq!(h.get("r1").unwrap().summary.id, a, "also found by run id");
        assert_eq!(got.summary.findings, vec!["ScaledToZero"]);
        assert_eq!(got.summary.action.as_deref(), Some("scale"));
        assert_eq!(got.summary.requests, 2);
        assert_eq!(got.summary.status, HealStatus::Done);
        assert_eq!(got.events.len(), 2);
        let v = serde_json::to_value(&got).unwrap();
        assert_eq!(v["status"], "done");
        assert!(v["events"][0]["ts"].is_string() && v["events"][0]["line"]["code"] == "ScaledToZero");
        assert_eq!(serde_json::to_value(rx.try_recv().unwrap()).unwrap()["type"], "heal_started");
        assert_eq!(serde_json::to_value(rx.try_recv().unwrap()).unwrap()["type"], "heal_event");
    }

    #[test]
    fn bounded_newest_first_and_paged() {
        let h = History::new(3);
        let ids: Vec<String> = (0..5).map(|i| h.start(if i % 2 == 0 { "a" } else { "b" }, "ns", "x")).collect();
        let page = h.list(&ListFilter::default());
        assert_eq!(
            page.heals.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            vec![ids[4].clone(), ids[3].clone(), ids[2].clone()]
        );
        assert!(h.get(&ids[0]).is_none(), "oldest dropped");
        let p1 = h.list(&ListFilter { limit: Some(2), ..Default::default() });
        assert_eq!(p1.next.as_deref(), Some(ids[3].as_str()));
        let p2 = h.list(&ListFilter { limit: Some(2), before: p1.next.clone(), ..Default::default() });
        assert_eq!(p2.heals.len(), 1);
        assert_eq!(p2.heals[0].id, ids[2]);
        assert_eq!(p2.next, None);
        let only_a = h.list(&ListFilter { service: Some("a".into()), ..Default::default() });
        assert!(only_a.heals.iter().all(|s| s.service == "a") && only_a.heals.len() == 2);
    }
}
