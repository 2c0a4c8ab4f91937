//! Fault injection: rules that make the API server misbehave the way a real one does under
//! load, upgrades or contention (429, 5xx, latency, dropped connections, closed watches, 410,
//! 409, held requests), switchable while kube-sim runs.
//!
//! A [`FaultSet`] keeps the rules in creation order. For each API request the first rule that
//! matches (verb, resource, subresource, namespace, name), is inside its time window, is not
//! spent (`count`), applies to the request (e.g. `gone` only to a list or watch with a
//! resourceVersion) and wins its `probability` draw is hit; [`crate::api`] applies its action.
//! The draw uses a seedable RNG so a run can be replayed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::request_info::RequestInfo;

/// Which requests a rule applies to; every absent field matches anything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// Plural resource (`deployments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Subresource (`scale`, `status`); absent matches the main resource and every subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Match {
    fn matches(&self, info: &RequestInfo) -> bool {
        let eq = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        eq(&self.verb, &info.verb)
            && eq(&self.resource, &info.resource)
            && eq(&self.subresource, &info.subresource)
            && eq(&self.namespace, &info.namespace)
            && eq(&self.name, &info.name)
    }
}

/// When a watch is closed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WatchClose {
    /// After this many events (bookmarks not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_events: Option<u64>,
    /// After this many seconds (fractions allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<f64>,
}

/// How long a held request waits at most.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hold {
    /// Then it is served normally.
    pub max_seconds: f64,
}

/// Which side of the write a dropped connection falls on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropWhen {
    /// Closed before the request is applied.
    Before,
    /// Applied, then closed before the answer.
    After,
}

/// What a hit rule does, in its wire shape (one key per kind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Action {
    /// Answer with an error Status: 429 (with `Retry-After`), 500, 503 or 504.
    Status {
        /// 429, 500, 503 or 504.
        status: u16,
        /// For 429 (default 1) and, when given, 503/504: the `Retry-After` header and
        /// `details.retryAfterSeconds`.
        #[serde(rename = "retryAfterSeconds", default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u32>,
    },
    /// Serve normally after a delay.
    Latency {
        /// The delay.
        #[serde(rename = "latencyMs")]
        latency_ms: u64,
    },
    /// End a watch early (cleanly, as a server whose watch times out does).
    WatchClose {
        /// When.
        #[serde(rename = "watchClose")]
        watch_close: WatchClose,
    },
    /// A list or watch with a resourceVersion answers 410 Expired.
    Gone {
        /// Must be true.
        gone: bool,
    },
    /// A write answers 409 Conflict, and the object's resourceVersion really moves on.
    Conflict {
        /// Must be true.
        conflict: bool,
    },
    /// Close the connection with no answer.
    Drop {
        /// Before or after the request is applied.
        drop: DropWhen,
    },
    /// Hold the request until the rule is removed or `maxSeconds` passed.
    Hold {
        /// How long at most.
        hold: Hold,
    },
}

impl Action {
    fn validate(&self) -> Result<(), String> {
        match self {
            Action::Status { status, .. } if ![429, 500, 503, 504].contains(status) => {
                Err(format!("status {status} is not one of 429, 500, 503, 504"))
            }
            Action::WatchClose { watch_close: w } if w.after_events.is_none() && w.after_seconds.is_none() => {
                Err("watchClose needs afterEvents or afterSeconds".into())
            }
            Action::WatchClose { watch_close: WatchClose { after_seconds: Some(s), .. } } if !valid_secs(*s) => {
                Err("watchClose.afterSeconds must be a non-negative number".into())
            }
            Action::Hold { hold } if !valid_secs(hold.max_seconds) => {
                Err("hold.maxSeconds must be a non-negative number".into())
            }
            Action::Gone { gone: false } | Action::Conflict { conflict: false } => {
                Err("gone and conflict take the value true".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether the action means anything for this request (a rule that does not apply is not
    /// hit, so its count is kept for requests it does apply to).
    fn applies(&self, info: &RequestInfo, has_rv: bool) -> bool {
        match self {
            Action::WatchClose { .. } => info.verb == "watch",
            Action::Gone { .. } => matches!(info.verb.as_str(), "watch" | "list") && has_rv,
            Action::Conflict { .. } => {
                matches!(info.verb.as_str(), "update" | "patch" | "delete") && !info.name.is_empty()
            }
            _ => true,
        }
    }
}

fn valid_secs(s: f64) -> bool {
    s.is_finite() && s >= 0.0
}

/// One fault rule, as posted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// A name for the rule; kube-sim picks `fault-<n>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Which requests.
    #[serde(default, rename = "match")]
    pub matches: Match,
    /// What happens.
    pub action: Action,
    /// Chance that a matching request is hit (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// At most this many hits, then the rule is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Active from this many seconds after the rule was added...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<f64>,
    /// ... for this many seconds (default: forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<f64>,
}

/// A rule that cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// Not a rule or an array of rules, or a field out of range.
    #[error("invalid fault rule: {0}")]
    Invalid(String),
    /// The id is taken.
    #[error("fault {0:?} already exists")]
    Duplicate(String),
    /// `--faults FILE` could not be read.
    #[error("failed to read fault file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Rule {
    fn validate(&self) -> Result<(), FaultError> {
        let bad = |m: String| Err(FaultError::Invalid(m));
        if let Some(id) = &self.id
            && (id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return bad(format!("id {id:?} must be non-empty and use only letters, digits, '-', '_', '.'"));
        }
        if self.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return bad("probability must be within 0..1".into());
        }
        if self.after_seconds.is_some_and(|s| !valid_secs(s)) || self.for_seconds.is_some_and(|s| !valid_secs(s)) {
            return bad("afterSeconds and forSeconds must be non-negative numbers".into());
        }
        self.action.validate().map_err(FaultError::Invalid)
    }
}

/// Parses one rule or an array of rules (JSON, or YAML for `--faults FILE`).
///
/// # Errors
/// [`FaultError::Invalid`] naming what is wrong.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, FaultError> {
    let v: Value = serde_yaml_ng::from_str(text).map_err(|e| FaultError::Invalid(e.to_string()))?;
    rules_from_value(v)
}

/// The rules of a file (`--faults FILE`).
///
/// # Errors
/// [`FaultError::Read`] or [`FaultError::Invalid`].
pub fn read_file(path: &std::path::Path) -> Result<Vec<Rule>, FaultError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| FaultError::Read { path: path.display().to_string(), source })?;
    parse_rules(&text)
}

/// One rule or an array of rules from a JSON value.
///
/// # Errors
/// [`FaultError::Invalid`] naming what is wrong.
pub fn rules_from_value(v: Value) -> Result<Vec<Rule>, FaultError> {
    let items = match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| {
            let rule: Rule = serde_json::from_value(item).map_err(|e| FaultError::Invalid(e.to_string()))?;
            rule.validate()?;
            Ok(rule)
        })
        .collect()
}

/// A rule as kube-sim keeps it.
struct Entry {
    id: String,
    rule: Rule,
    added: Instant,
    hits: u64,
    /// Flips to true when the rule is removed, releasing requests it holds.
    removed: tokio::sync::watch::Sender<bool>,
}

impl Entry {
    fn active(&self, now: Instant) -> bool {
        let age = now.duration_since(self.added).as_secs_f64();
        let from = self.rule.after_seconds.unwrap_or(0.0);
        let open = self.rule.for_seconds.is_none_or(|d| age < from + d);
        age >= from && open && self.rule.count.is_none_or(|c| self.hits < c)
    }
}

/// A rule that a request hit: what to do, and how to learn that the rule was removed.
#[derive(Debug)]
pub struct Hit {
    /// The rule's id.
    pub id: String,
    /// Its action.
    pub action: Action,
    /// Turns true when the rule is removed (for `hold`).
    pub removed: tokio::sync::watch::Receiver<bool>,
}

/// The live rule set.
pub struct FaultSet {
    inner: Mutex<Inner>,
}

struct Inner {
    rules: Vec<Entry>,
    next_id: u64,
    rng: fastrand::Rng,
}

impl FaultSet {
    /// An empty set whose probability draws come from `seed` (random when None).
    pub fn new(seed: Option<u64>) -> Self {
        let rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        FaultSet { inner: Mutex::new(Inner { rules: Vec::new(), next_id: 1, rng }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds rules (all or none); their ids in order.
    ///
    /// # Errors
    /// [`FaultError::Duplicate`] when an id is taken (by a rule or earlier in `rules`).
    pub fn add(&self, rules: Vec<Rule>) -> Result<Vec<String>, FaultError> {
        let mut inner = self.lock();
        let mut ids: Vec<String> = Vec::new();
        let mut next_id = inner.next_id;
        for r in &rules {
            let id = match &r.id {
                Some(id) => id.clone(),
                None => loop {
                    let id = format!("fault-{next_id}");
                    next_id += 1;
                    if !inner.rules.iter().any(|e| e.id == id) && !ids.contains(&id) {
                        break id;
                    }
                },
            };
            if inner.rules.iter().any(|e| e.id == id) || ids.contains(&id) {
                return Err(FaultError::Duplicate(id));
            }
            ids.push(id);
        }
        inner.next_id = next_id;
        let now = Instant::now();
        for (rule, id) in rules.into_iter().zip(&ids) {
            let (removed, _) = tokio::sync::watch::channel(false);
            inner.rules.push(Entry { id: id.clone(), rule, added: now, hits: 0, removed });
        }
        Ok(ids)
    }

    /// Removes one rule, releasing the requests it holds; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let mut inner = self.lock();
        let Some(i) = inner.rules.iter().position(|e| e.id == id) else { return false };
        let e = inner.rules.remove(i);
        e.removed.send_replace(true);
        true
    }

    /// Removes every rule.
    pub fn clear(&self) {
        for e in self.lock().rules.drain(..) {
            e.removed.send_replace(true);
        }
    }

    /// The rules with their hits: `{"faults":[{"id","rule","hits","active"}]}`.
    pub fn to_json(&self) -> Value {
        let inner = self.lock();
        let now = Instant::now();
        let faults: Vec<Value> = inner
            .rules
            .iter()
            .map(|e| {
                let mut rule = serde_json::to_value(&e.rule).unwrap_or_default();
                rule["id"] = Value::String(e.id.clone());
                serde_json::json!({"id": e.id, "rule": rule, "hits": e.hits, "active": e.active(now)})
            })
            .collect();
        serde_json::json!({ "faults": faults })
    }

    /// The rule this request hits, if any (counting the hit). `has_rv`: the request names a
    /// resourceVersion other than "" and "0".
    pub fn hit(&self, info: &RequestInfo, has_rv: bool) -> Option<Hit> {
        let mut inner = self.lock();
        let now = Instant::now();
        let Inner { rules, rng, .. } = &mut *inner;
        for e in rules.iter_mut() {
            if !e.active(now) || !e.rule.matches.matches(info) || !e.rule.action.applies(info, has_rv) {
                continue;
            }
            if let Some(p) = e.rule.probability
                && rng.f64() >= p
            {
                continue;
            }
            e.hits += 1;
            return Some(Hit { id: e.id.clone(), action: e.rule.action.clone(), removed: e.removed.subscribe() });
        }
        None
    }
}

/// Seconds as a Duration (validated non-negative and finite when the rule was added).
pub fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn info(verb: &str, resource: &str, sub: &str, name: &str) -> RequestInfo {
        RequestInfo {
            resource_request: true,
            verb: verb.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: "ns".into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn set(rules: Value) -> FaultSet {
        let s = FaultSet::new(Some(7));
        s.add(rules_from_value(rules).unwrap()).unwrap();
        s
    }

    #[test]
    fn every_action_parses_from_its_wire_shape() {
        let rules = rules_from_value(json!([
            {"action": {"status": 429, "retryAfterSeconds": 2}},
            {"action": {"status": 503}},
            {"action": {"latencyMs": 300}},
            {"action": {"watchClose": {"afterEvents": 1}}},
            {"action": {"watchClose": {"afterSeconds": 2}}},
            {"action": {"gone": true}},
            {"action": {"conflict": true}},
            {"action": {"drop": "before"}},
            {"action": {"drop": "after"}},
            {"action": {"hold": {"maxSeconds": 60}}},
        ]))
        .unwrap();
        assert_eq!(rules[0].action, Action::Status { status: 429, retry_after_seconds: Some(2) });
        assert_eq!(rules[2].action, Action::Latency { latency_ms: 300 });
        assert_eq!(rules[8].action, Action::Drop { drop: DropWhen::After });
        assert_eq!(rules[9].action, Action::Hold { hold: Hold { max_seconds: 60.0 } });
        let back = serde_json::to_value(&rules[3]).unwrap();
        assert_eq!(back, json!({"match": {}, "action": {"watchClose": {"afterEvents": 1}}}));
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for (rule, why) in [
            (json!({"action": {"status": 404}}), "not one of"),
            (json!({"action": {"gone": false}}), "true"),
            (json!({"action": {"watchClose": {}}}), "afterEvents"),
            (json!({"action": {"status": 500}, "probability": 1.5}), "probability"),
            (json!({"action": {"status": 500}, "forSeconds": -1}), "non-negative"),
            (json!({"action": {"status": 500}, "id": "a/b"}), "letters"),
            (json!({"action": {"explode": true}}), "did not match any variant"),
            (json!({"action": {"status": 500}, "match": {"verbs": "get"}}), "unknown field"),
        ] {
            let e = rules_from_value(rule.clone()).unwrap_err().to_string();
            assert!(e.contains(why), "{rule}: {e}");
        }
        let s = set(json!({"id": "x", "action": {"status": 500}}));
        let dup = rules_from_value(json!({"id": "x", "action": {"status": 500}})).unwrap();
        assert!(matches!(s.add(dup), Err(FaultError::Duplicate(id)) if id == "x"));
    }

    #[test]
    fn match_fields_narrow_and_absent_ones_match_anything() {
        let s = set(json!({"match": {"verb": "patch", "resource": "deployments", "subresource": "scale",
            "namespace": "ns", "name": "d"}, "action": {"status": 500}}));
        assert!(s.hit(&info("patch", "deployments", "", "d"), false).is_none());
        assert!(s.hit(&info("patch", "deployments", "scale", "e"), false).is_none());
        assert!(s.hit(&info("get", "deployments", "scale", "d"), false).is_none());
        assert!(s.hit(&info("patch", "deployments", "scale", "d"), false).is_some());
        let any = set(json!({"match": {"resource": "pods"}, "action": {"status": 503}}));
        assert!(any.hit(&info("list", "pods", "", ""), false).is_some());
        assert!(any.hit(&info("get", "pods", "log", "p"), false).is_some());
        assert!(any.hit(&info("get", "deployments", "", "p"), false).is_none());
    }

    #[test]
    fn count_spends_a_rule_and_inapplicable_requests_do_not_count() {
        let s = set(json!({"id": "g", "action": {"gone": true}, "count": 2}));
        assert!(s.hit(&info("watch", "pods", "", ""), false).is_none(), "no resourceVersion: not applicable");
        assert!(s.hit(&info("get", "pods", "", "p"), true).is_none(), "a get is never gone");
        assert!(s.hit(&info("list", "pods", "", ""), true).is_some());
        assert!(s.hit(&info("watch", "pods", "", ""), true).is_some());
        assert!(s.hit(&info("watch", "pods", "", ""), true).is_none(), "spent after 2");
        let v = s.to_json();
        assert_eq!(v["faults"][0]["hits"], 2);
        assert_eq!(v["faults"][0]["active"], false);
        assert_eq!(v["faults"][0]["rule"]["id"], "g");
        let c = set(json!({"action": {"conflict": true}}));
        assert!(c.hit(&info("create", "configmaps", "", ""), false).is_none());
        assert!(c.hit(&info("patch", "deployments", "scale", "d"), false).is_some());
    }

    #[test]
    fn the_time_window_opens_and_closes() {
        let s = set(json!([{"id": "later", "action": {"status": 500}, "afterSeconds": 3600},
            {"id": "over", "action": {"status": 503}, "forSeconds": 0}]));
        assert!(s.hit(&info("get", "pods", "", "p"), false).is_none());
        let s = set(json!({"action": {"status": 503}, "forSeconds": 3600}));
        assert!(s.hit(&info("get", "pods", "", "p"), false).is_some());
    }

    #[test]
    fn probability_draws_are_replayable_from_the_seed() {
        let draws = |seed| {
            let s = FaultSet::new(Some(seed));
            s.add(rules_from_value(json!({"action": {"status": 500}, "probability": 0.5})).unwrap()).unwrap();
            (0..200).map(|_| s.hit(&info("get", "pods", "", "p"), false).is_some()).collect::<Vec<_>>()
        };
        let a = draws(42);
        assert_eq!(a, draws(42));
        let hits = a.iter().filter(|h| **h).count();
        assert!((60..140).contains(&hits), "about half of 200 requests hit: {hits}");
        let never = set(json!({"action": {"status": 500}, "probability": 0.0}));
        assert!((0..50).all(|_| never.hit(&info("get", "pods", "", "p"), false).is_none()));
    }

    #[test]
    fn first_matching_rule_wins_and_removal_releases_holders() {
        let s =
            set(json!([{"id": "h", "action": {"hold": {"maxSeconds": 60}}}, {"id": "b", "action": {"status": 500}}]));
        let hit = s.hit(&info("get", "pods", "", "p"), false).unwrap();
        assert_eq!(hit.id, "h");
        assert!(!*hit.removed.borrow());
        assert!(s.remove("h"));
        assert!(*hit.removed.borrow(), "removal is visible to the held request");
        assert!(!s.remove("h"));
        assert_eq!(s.hit(&info("get", "pods", "", "p"), false).unwrap().id, "b");
        s.clear();
        assert_eq!(s.to_json(), json!({"faults": []}));
    }

    #[test]
    fn ids_are_generated_when_absent_and_yaml_files_parse() {
        let rules = parse_rules("- action: {status: 500}\n- id: mine\n  action: {latencyMs: 5}\n").unwrap();
        let s = FaultSet::new(None);
        assert_eq!(s.add(rules).unwrap(), ["fault-1", "mine"]);
        assert_eq!(s.add(parse_rules(r#"{"action": {"gone": true}}"#).unwrap()).unwrap(), ["fault-2"]);
    }
}
