//! The deployment controller: one ReplicaSet per pod template (`<deploy>-<pod-template-hash>`),
//! rolling updates within maxSurge/maxUnavailable, rollbacks that reactivate an old ReplicaSet
//! with the next revision, and the status and conditions a real controller writes
//! (k8s-reference §2.2–§2.3), including ProgressDeadlineExceeded after the scaled deadline.

use std::collections::HashMap;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::recorder::{self, Type};
use super::{Ctx, Wake, controller_uid, int, meta, owner_ref, set_condition, terminating};
use crate::resources::{DEPLOYMENTS, REPLICASETS};
use crate::store::now;

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX: &str = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL: &str = "pod-template-hash";

/// When each Deployment's Progressing condition last moved, more precisely than the
/// second-resolution `lastUpdateTime` (so short scaled deadlines are kept).
#[derive(Default)]
pub struct Progress(HashMap<String, (String, Instant)>);

impl Progress {
    /// The instant `last_update` (a condition's lastUpdateTime) was first seen for `uid`.
    fn since(&mut self, uid: &str, last_update: &str, now: Instant) -> Instant {
        match self.0.get(uid) {
            Some((lut, at)) if lut == last_update => *at,
            _ => {
                self.0.insert(uid.to_string(), (last_update.to_string(), now));
                now
            }
        }
    }
}

/// Runs the deployment controller over every Deployment; returns its next deadline.
pub fn sync(ctx: &Ctx, progress: &mut Progress, now: Instant) -> Option<Instant> {
    let (deps, _) = ctx.store.list(&DEPLOYMENTS, None);
    let live: std::collections::HashSet<&str> = deps.iter().map(|d| meta(d, "uid")).collect();
    progress.0.retain(|uid, _| live.contains(uid.as_str()));
    let (all_rs, _) = ctx.store.list(&REPLICASETS, None);
    let mut wake = Wake::default();
    for d in deps.iter().filter(|d| !terminating(d)) {
        let rses: Vec<Value> = all_rs
            .iter()
            .filter(|rs| meta(rs, "namespace") == meta(d, "namespace") && controller_uid(rs) == Some(meta(d, "uid")))
            .cloned()
            .collect();
        wake.at(sync_one(ctx, progress, d, rses, now));
    }
    wake.0
}

/// The hash kube-controller-manager names ReplicaSets with: FNV-1a 32 of the template, its
/// decimal digits mapped onto `bcdfghjklmnpqrstvwxz2456789` (9 or 10 characters).
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut text = normalize_template(template).to_string();
    if let Some(c) = collision_count {
        text.push_str(&c.to_string());
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string().bytes().map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char).collect()
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A pod template as compared between a Deployment and its ReplicaSets: without the
/// `pod-template-hash` label, nulls (`creationTimestamp: null` from `rollout undo`) and empty maps.
pub fn normalize_template(t: &Value) -> Value {
    let mut t = t.clone();
    strip_nulls(&mut t);
    if let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("creationTimestamp");
        if let Some(l) = m.get_mut("labels").and_then(Value::as_object_mut) {
            l.remove(HASH_LABEL);
        }
        m.retain(|_, v| v.as_object().is_none_or(|o| !o.is_empty()));
    }
    if let Some(o) = t.as_object_mut() {
        o.retain(|_, v| v.as_object().is_none_or(|o| !o.is_empty()));
    }
    t
}

/// Resolves an IntOrString (`1`, `"25%"`) against `total`, rounding percentages up or down.
pub fn int_or_percent(v: &Value, total: i64, round_up: bool, default: &str) -> i64 {
    let v = if v.is_null() { json!(default) } else { v.clone() };
    if let Some(n) = v.as_i64() {
        return n.max(0);
    }
    let s = v.as_str().unwrap_or_default();
    if let Some(p) = s.strip_suffix('%').and_then(|p| p.trim().parse::<i64>().ok()) {
        let x = p * total;
        return if round_up { (x + 99).div_euclid(100) } else { x.div_euclid(100) }.max(0);
    }
    s.parse::<i64>().unwrap_or_default().max(0)
}

/// maxSurge and maxUnavailable for `desired` replicas (both 0 would stall, so unavailable 1).
pub fn surge_unavailable(strategy: &Value, desired: i64) -> (i64, i64) {
    if strategy["type"] == "Recreate" {
        return (0, 0);
    }
    let ru = &strategy["rollingUpdate"];
    let surge = int_or_percent(&ru["maxSurge"], desired, true, "25%");
    let mut unavail = int_or_percent(&ru["maxUnavailable"], desired, false, "25%");
    if surge == 0 && unavail == 0 {
        unavail = 1;
    }
    (surge, unavail.min(desired))
}

/// The replica count the new ReplicaSet should move to in one rolling-update step.
pub fn new_rs_target(desired: i64, surge: i64, new_replicas: i64, total_replicas: i64) -> i64 {
    if new_replicas >= desired {
        return desired;
    }
    let max_total = desired + surge;
    if total_replicas >= max_total {
        return new_replicas;
    }
    new_replicas + (max_total - total_replicas).min(desired - new_replicas)
}

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION].as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

fn spec_replicas(rs: &Value) -> i64 {
    int(&rs["spec"]["replicas"])
}

fn sync_one(ctx: &Ctx, progress: &mut Progress, d: &Value, mut rses: Vec<Value>, now: Instant) -> Option<Instant> {
    let ns = meta(d, "namespace");
    let name = meta(d, "name");
    let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = normalize_template(&d["spec"]["template"]);
    let (surge, unavail) = surge_unavailable(&d["spec"]["strategy"], desired);
    let paused = d["spec"]["paused"].as_bool() == Some(true);
    rses.sort_by(|a, b| {
        meta(a, "creationTimestamp").cmp(meta(b, "creationTimestamp")).then(revision(a).cmp(&revision(b)))
    });
    let mut new_idx = rses.iter().position(|rs| normalize_template(&rs["spec"]["template"]) == template);
    let max_old_rev = rses.iter().enumerate().filter(|(i, _)| Some(*i) != new_idx).map(|(_, rs)| revision(rs)).max();
    let next_rev = max_old_rev.unwrap_or_default() + 1;
    let mut created = None;
    match new_idx {
        Some(i) if !paused && revision(&rses[i]) < next_rev => {
            // A rollback: the old ReplicaSet becomes the new one, with the next revision.
            let old = revision(&rses[i]);
            let res = ctx.store.mutate(&REPLICASETS, ns, meta(&rses[i], "name"), false, |rs| {
                let ann = &mut rs["metadata"]["annotations"];
                if old > 0 {
                    let history = match ann[REVISION_HISTORY].as_str() {
                        Some(h) if !h.is_empty() => format!("{h},{old}"),
                        _ => old.to_string(),
                    };
                    ann[REVISION_HISTORY] = json!(history);
                }
                ann[REVISION] = json!(next_rev.to_string());
                copy_annotations(d, ann);
                Ok(())
            });
            if let Ok(rs) = res {
                rses[i] = rs;
            }
        }
        None if !paused => match create_rs(ctx, d, next_rev, desired, surge) {
            Some(rs) => {
                created = Some(meta(&rs, "name").to_string());
                rses.push(rs);
                new_idx = Some(rses.len() - 1);
            }
            None => return None,
        },
        _ => {}
    }

    let is_scaling = rses.iter().enumerate().any(|(i, rs)| {
        (Some(i) == new_idx || spec_replicas(rs) > 0)
            && rs["metadata"]["annotations"][DESIRED].as_str() != Some(desired.to_string().as_str())
    });
    if !paused {
        if let Some(n) = new_idx {
            if d["spec"]["strategy"]["type"] == "Recreate" {
                recreate(ctx, d, &mut rses, n, desired);
            } else {
                rolling(ctx, d, &mut rses, n, desired, surge, unavail);
            }
        }
    } else if let Some(n) = new_idx {
        // Paused: only scaling, when there is no rollout to proportion.
        if rses.iter().enumerate().all(|(i, rs)| i == n || spec_replicas(rs) == 0) && spec_replicas(&rses[n]) != desired
        {
            scale(ctx, d, &mut rses[n], desired, desired, surge);
        }
    }

    let mut status = compute_status(d, &rses, new_idx);
    let mut conds: Vec<Value> = d["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let available = int(&status["availableReplicas"]);
    if available >= desired - unavail {
        set_condition(
            &mut conds,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            true,
        );
    } else {
        set_condition(
            &mut conds,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            true,
        );
    }
    let new_name = new_idx.map(|i| meta(&rses[i], "name").to_string());
    let mut wake = None;
    if let Some(rs) = &created {
        set_condition(
            &mut conds,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            &format!("Created new replica set \"{rs}\""),
            true,
        );
    } else if let Some(rs) = &new_name
        && !conds.iter().any(|c| c["type"] == "Progressing")
    {
        set_condition(
            &mut conds,
            "Progressing",
            "True",
            "FoundNewReplicaSet",
            &format!("Found new replica set \"{rs}\""),
            true,
        );
    }
    if let (Some(rs), false, false) = (&new_name, is_scaling, paused) {
        let deadline = d["spec"]["progressDeadlineSeconds"].as_i64().unwrap_or(600);
        if complete(d, &status, desired) {
            set_condition(
                &mut conds,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{rs}\" has successfully progressed."),
                true,
            );
        } else if progressing(&d["status"], &status) {
            mark_progress(&mut conds, rs);
        } else if deadline < i64::from(i32::MAX) {
            let limit = ctx.scaled(deadline as f64);
            match timed_out(&conds, limit, |lut| now.duration_since(progress.since(meta(d, "uid"), lut, now))) {
                Some(Ok(())) => {
                    set_condition(
                        &mut conds,
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        &format!("ReplicaSet \"{rs}\" has timed out progressing."),
                        true,
                    );
                }
                Some(Err(left)) => wake = Some(now + left + std::time::Duration::from_millis(5)),
                None => {}
            }
        }
    }
    conds.sort_by_key(|c| if c["type"] == "Available" { 0 } else { 1 });
    status["conditions"] = json!(conds);
    let rev = new_idx.map(|i| revision(&rses[i]).to_string());
    let _ = ctx.store.mutate(&DEPLOYMENTS, ns, name, false, |obj| {
        if let Some(rev) = &rev {
            obj["metadata"]["annotations"][REVISION] = json!(rev);
        }
        obj["status"] = status;
        Ok(())
    });
    if let Some(n) = new_idx {
        cleanup_history(ctx, d, &rses, n);
    }
    wake
}

fn create_rs(ctx: &Ctx, d: &Value, rev: i64, desired: i64, surge: i64) -> Option<Value> {
    let ns = meta(d, "namespace");
    let hash = template_hash(&d["spec"]["template"], d["status"]["collisionCount"].as_i64());
    let rs_name = format!("{}-{hash}", meta(d, "name"));
    let mut tmpl = d["spec"]["template"].clone();
    strip_nulls(&mut tmpl);
    if let Some(m) = tmpl.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("creationTimestamp");
    }
    tmpl["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = d["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut rs = json!({
        "metadata": {
            "name": rs_name,
            "namespace": ns,
            "labels": tmpl["metadata"]["labels"],
            "annotations": {
                REVISION: rev.to_string(),
                DESIRED: desired.to_string(),
                MAX: (desired + surge).to_string(),
            },
            "ownerReferences": [owner_ref(d)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": int(&d["spec"]["minReadySeconds"]),
            "selector": selector,
            "template": tmpl,
        },
        "status": {"replicas": 0},
    });
    copy_annotations(d, &mut rs["metadata"]["annotations"]);
    match ctx.store.create(&REPLICASETS, ns, rs, false) {
        Ok(rs) => Some(rs),
        Err(e) => {
            let msg = format!("Failed to create new replica set \"{rs_name}\": {}", e.message);
            ctx.recorder.event(d, None, Type::Warning, "ReplicaSetCreateError", &msg, recorder::DEPLOYMENT);
            if e.code == 409 {
                // A hash collision: the next name is derived with a bumped collisionCount.
                let _ = ctx.store.mutate(&DEPLOYMENTS, ns, meta(d, "name"), false, |obj| {
                    obj["status"]["collisionCount"] = json!(int(&obj["status"]["collisionCount"]) + 1);
                    Ok(())
                });
            }
            None
        }
    }
}

/// Copies the Deployment's own annotations (e.g. `kubernetes.io/change-cause`, which
/// `rollout history` shows) onto its new ReplicaSet, as kube-controller-manager does.
fn copy_annotations(d: &Value, to: &mut Value) {
    const SKIP: [&str; 5] =
        ["kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED, MAX];
    if let Some(anns) = d["metadata"]["annotations"].as_object() {
        for (k, v) in anns.iter().filter(|(k, _)| !SKIP.contains(&k.as_str())) {
            to[k] = v.clone();
        }
    }
}

/// Sets a ReplicaSet's replicas (and the desired/max annotations), with the controller's Event.
fn scale(ctx: &Ctx, d: &Value, rs: &mut Value, to: i64, desired: i64, surge: i64) {
    let from = spec_replicas(rs);
    let res = ctx.store.mutate(&REPLICASETS, meta(rs, "namespace"), meta(rs, "name"), false, |obj| {
        obj["spec"]["replicas"] = json!(to);
        obj["metadata"]["annotations"][DESIRED] = json!(desired.to_string());
        obj["metadata"]["annotations"][MAX] = json!((desired + surge).to_string());
        Ok(())
    });
    if let Ok(updated) = res {
        *rs = updated;
        if from != to {
            let dir = if to > from { "up" } else { "down" };
            let msg = format!("Scaled {dir} replica set {} from {from} to {to}", meta(rs, "name"));
            ctx.recorder.event(d, None, Type::Normal, "ScalingReplicaSet", &msg, recorder::DEPLOYMENT);
        }
    }
}

fn recreate(ctx: &Ctx, d: &Value, rses: &mut [Value], n: usize, desired: i64) {
    let mut old_running = false;
    for (i, rs) in rses.iter_mut().enumerate() {
        if i == n {
            continue;
        }
        if spec_replicas(rs) > 0 {
            scale(ctx, d, rs, 0, desired, 0);
        }
        old_running |= int(&rs["status"]["replicas"]) > 0 || int(&rs["status"]["terminatingReplicas"]) > 0;
    }
    if !old_running && spec_replicas(&rses[n]) != desired {
        scale(ctx, d, &mut rses[n], desired, desired, 0);
    }
}

fn rolling(ctx: &Ctx, d: &Value, rses: &mut [Value], n: usize, desired: i64, surge: i64, unavail: i64) {
    let total: i64 = rses.iter().map(spec_replicas).sum();
    let new_reps = spec_replicas(&rses[n]);
    let target = new_rs_target(desired, surge, new_reps, total);
    if target != new_reps {
        scale(ctx, d, &mut rses[n], target, desired, surge);
        if target > new_reps {
            return;
        }
    }
    let total: i64 = rses.iter().map(spec_replicas).sum();
    let old_total = total - spec_replicas(&rses[n]);
    if old_total == 0 {
        return;
    }
    let min_available = desired - unavail;
    let new_unavailable = spec_replicas(&rses[n]) - int(&rses[n]["status"]["availableReplicas"]);
    let mut budget = total - min_available - new_unavailable;
    if budget <= 0 {
        return;
    }
    // First the old pods that are not available anyway, oldest ReplicaSet first.
    for i in (0..rses.len()).filter(|i| *i != n) {
        if budget <= 0 {
            break;
        }
        let reps = spec_replicas(&rses[i]);
        let unhealthy = reps - int(&rses[i]["status"]["availableReplicas"]);
        if reps == 0 || unhealthy <= 0 {
            continue;
        }
        let down = budget.min(unhealthy);
        scale(ctx, d, &mut rses[i], reps - down, desired, surge);
        budget -= down;
    }
    // Then available old pods, as long as enough stay available.
    let available: i64 = rses.iter().map(|rs| int(&rs["status"]["availableReplicas"])).sum();
    if available <= min_available {
        return;
    }
    let mut remaining = available - min_available;
    for i in (0..rses.len()).filter(|i| *i != n) {
        let reps = spec_replicas(&rses[i]);
        if remaining <= 0 || reps == 0 {
            continue;
        }
        let down = reps.min(remaining);
        scale(ctx, d, &mut rses[i], reps - down, desired, surge);
        remaining -= down;
    }
}

/// The Deployment's status counters from its ReplicaSets (zero counters omitted, except
/// `terminatingReplicas`); conditions are added by the caller.
pub fn compute_status(d: &Value, rses: &[Value], new_idx: Option<usize>) -> Value {
    let sum = |f: &str| rses.iter().map(|rs| int(&rs["status"][f])).sum::<i64>();
    let replicas = sum("replicas");
    let updated = new_idx.map(|i| int(&rses[i]["status"]["replicas"])).unwrap_or_default();
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let spec_total: i64 = rses.iter().map(spec_replicas).sum();
    let unavailable = (spec_total - available).max(0);
    let mut s = serde_json::Map::new();
    s.insert("observedGeneration".into(), json!(int(&d["metadata"]["generation"]).max(1)));
    for (k, v) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ] {
        if v != 0 {
            s.insert(k.into(), json!(v));
        }
    }
    s.insert("terminatingReplicas".into(), json!(sum("terminatingReplicas")));
    if let Some(c) = d["status"]["collisionCount"].as_i64() {
        s.insert("collisionCount".into(), json!(c));
    }
    Value::Object(s)
}

/// kube-controller-manager's DeploymentComplete.
fn complete(d: &Value, s: &Value, desired: i64) -> bool {
    int(&s["updatedReplicas"]) == desired
        && int(&s["replicas"]) == desired
        && int(&s["availableReplicas"]) == desired
        && int(&s["observedGeneration"]) >= int(&d["metadata"]["generation"])
}

/// kube-controller-manager's DeploymentProgressing: any counter moved the right way.
fn progressing(old: &Value, new: &Value) -> bool {
    let o = |f: &str| int(&old[f]);
    let n = |f: &str| int(&new[f]);
    let old_old = o("replicas") - o("updatedReplicas");
    let new_old = n("replicas") - n("updatedReplicas");
    n("updatedReplicas") > o("updatedReplicas")
        || new_old < old_old
        || n("readyReplicas") > o("readyReplicas")
        || n("availableReplicas") > o("availableReplicas")
}

fn mark_progress(conds: &mut Vec<Value>, rs: &str) {
    let now = now();
    let msg = format!("ReplicaSet \"{rs}\" is progressing.");
    let transition = conds
        .iter()
        .find(|c| c["type"] == "Progressing" && c["status"] == "True")
        .map(|c| c["lastTransitionTime"].clone())
        .unwrap_or_else(|| json!(now));
    conds.retain(|c| c["type"] != "Progressing");
    conds.push(json!({
        "type": "Progressing", "status": "True", "lastUpdateTime": now, "lastTransitionTime": transition,
        "reason": "ReplicaSetUpdated", "message": msg,
    }));
}

/// Ok when the Progressing condition is past the deadline, Err(time left) while it runs.
fn timed_out(
    conds: &[Value],
    limit: std::time::Duration,
    elapsed_since: impl FnOnce(&str) -> std::time::Duration,
) -> Option<Result<(), std::time::Duration>> {
    let c = conds.iter().find(|c| c["type"] == "Progressing")?;
    match c["reason"].as_str()? {
        "NewReplicaSetAvailable" => None,
        "ProgressDeadlineExceeded" => None,
        _ => {
            let elapsed = elapsed_since(c["lastUpdateTime"].as_str()?).as_secs_f64();
            let limit_s = limit.as_secs_f64();
            if elapsed >= limit_s {
                Some(Ok(()))
            } else {
                Some(Err(std::time::Duration::from_secs_f64(limit_s - elapsed)))
            }
        }
    }
}

/// Deletes old, empty ReplicaSets beyond `revisionHistoryLimit`.
fn cleanup_history(ctx: &Ctx, d: &Value, rses: &[Value], n: usize) {
    let limit = d["spec"]["revisionHistoryLimit"].as_i64().unwrap_or(10).max(0) as usize;
    let mut idle: Vec<&Value> = rses
        .iter()
        .enumerate()
        .filter(|(i, rs)| {
            *i != n
                && spec_replicas(rs) == 0
                && int(&rs["status"]["replicas"]) == 0
                && int(&rs["status"]["terminatingReplicas"]) == 0
        })
        .map(|(_, rs)| rs)
        .collect();
    if idle.len() <= limit {
        return;
    }
    idle.sort_by_key(|rs| revision(rs));
    for rs in &idle[..idle.len() - limit] {
        let _ = ctx.store.delete(&REPLICASETS, meta(rs, "namespace"), meta(rs, "name"), false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_uses_the_alphabet() {
        let t =
            json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "sim/x"}]}});
        let h = template_hash(&t, None);
        assert!((9..=10).contains(&h.len()), "{h}");
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_eq!(h, template_hash(&t, None));
        let mut t2 = t.clone();
        t2["metadata"]["labels"]["pod-template-hash"] = json!(h.clone());
        t2["metadata"]["creationTimestamp"] = Value::Null;
        assert_eq!(template_hash(&t2, None), h, "hash label and null timestamp are ignored");
        assert_ne!(template_hash(&t, Some(1)), h);
        t2["spec"]["containers"][0]["image"] = json!("sim/y");
        assert_ne!(template_hash(&t2, None), h);
    }

    #[test]
    fn surge_and_unavailable_round_like_kubernetes() {
        let s = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
        assert_eq!(surge_unavailable(&s, 2), (1, 0));
        assert_eq!(surge_unavailable(&s, 4), (1, 1));
        assert_eq!(surge_unavailable(&json!({}), 0), (0, 0));
        let s = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
        assert_eq!(surge_unavailable(&s, 3), (0, 1));
    }

    #[test]
    fn rolling_update_steps() {
        // 2 replicas, surge 1: a fresh Deployment scales straight to 2.
        assert_eq!(new_rs_target(2, 1, 0, 0), 2);
        // A rollout adds one new pod next to the 2 old ones, then waits.
        assert_eq!(new_rs_target(2, 1, 0, 2), 1);
        assert_eq!(new_rs_target(2, 1, 1, 3), 1);
        // Scale-down is immediate.
        assert_eq!(new_rs_target(0, 0, 2, 2), 0);
    }

    #[test]
    fn status_omits_zero_counters() {
        let d = json!({"metadata": {"generation": 3}});
        let rses = vec![
            json!({"spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}}),
            json!({"spec": {"replicas": 1}, "status": {"replicas": 1}}),
        ];
        let s = compute_status(&d, &rses, Some(1));
        assert_eq!(
            s,
            json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2,
                   "availableReplicas": 2, "unavailableReplicas": 1, "terminatingReplicas": 0})
        );
        let empty = compute_status(&d, &[], None);
        assert_eq!(empty, json!({"observedGeneration": 3, "terminatingReplicas": 0}));
    }

    #[test]
    fn progress_is_any_counter_moving_forward() {
        let old = json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2});
        assert!(!progressing(&old, &old));
        let new = json!({"replicas": 2, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2});
        assert!(progressing(&old, &new));
    }
}
