//! CRUD on objects: get, list, create, update, patch, delete (graceful for bound pods, with
//! owner-reference cascading), and the `status`, `scale`, `eviction` and `binding` subresources.

use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::patch::{self, PatchType};
use super::selectors::{FieldSelector, LabelSelector};
use super::{ApiState, Req, Target, defaults, event_views, json_response, method_not_allowed, success_status, table};
use crate::resources::{self, Resource};
use crate::store::ApiError;

/// `autoscaling/v1` Scale, for its validation messages.
const SCALE: Resource = Resource {
    group: "autoscaling",
    version: "v1",
    plural: "scale",
    singular: "scale",
    kind: "Scale",
    namespaced: true,
    short_names: &[],
    subresources: &[],
    categories: &[],
};

/// Metadata a client cannot change with an update.
const IDENTITY: [&str; 7] =
    ["name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"];

fn ns(t: &Target) -> &str {
    t.ns.as_deref().unwrap_or_default()
}

fn name(t: &Target) -> &str {
    t.name.as_deref().unwrap_or_default()
}

fn wants_table(req: &Req) -> bool {
    req.accept().contains("as=Table")
}

fn is_pod(res: &Resource) -> bool {
    res == &resources::PODS
}

/// GET of one object (also `/status`); a Table when kubectl asks for one.
pub(super) fn get(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let twin =
        event_views::twin(t.res).and_then(|(other, convert)| st.store.get(other, ns(t), name(t)).map(|e| convert(&e)));
    let obj = match twin {
        Some(e) if st.store.get(t.res, ns(t), name(t)).is_none() => e,
        _ => st.store.get_or_404(t.res, ns(t), name(t))?,
    };
    if wants_table(req) && t.sub.is_none() {
        let rv = obj["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
        return Ok(json_response(StatusCode::OK, &table::render(t.res, &[obj], &rv, req.q("includeObject"))));
    }
    Ok(json_response(StatusCode::OK, &obj))
}

/// The objects of a collection that the request's selectors select, with the list's version.
pub(super) fn select(st: &ApiState, t: &Target, req: &Req) -> Result<(Vec<Value>, u64), ApiError> {
    let labels = LabelSelector::parse(req.q("labelSelector").unwrap_or_default())?;
    let fields = FieldSelector::parse(req.q("fieldSelector").unwrap_or_default())?;
    let (mut items, rv) = st.store.list(t.res, t.ns.as_deref());
    if let Some((other, convert)) = event_views::twin(t.res) {
        items.extend(st.store.list(other, t.ns.as_deref()).0.iter().map(convert));
    }
    let items = items.into_iter().filter(|o| labels.matches(&o["metadata"]["labels"]) && fields.matches(o)).collect();
    Ok((items, rv))
}

/// LIST: `<Kind>List` without kind/apiVersion on items, or a Table.
pub(super) fn list(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let (items, rv) = select(st, t, req)?;
    if let Some(asked) = req.q("resourceVersion").and_then(|v| v.parse::<u64>().ok())
        && asked > rv
    {
        return Err(ApiError::new(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {asked}, current: {rv}"),
            json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
        ));
    }
    if wants_table(req) {
        return Ok(json_response(
            StatusCode::OK,
            &table::render(t.res, &items, &rv.to_string(), req.q("includeObject")),
        ));
    }
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut o| {
            if let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    let list = json!({
        "kind": format!("{}List", t.res.kind),
        "apiVersion": t.res.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &list))
}

/// Creates an object with server defaults and validation; a new Namespace gets its
/// `default` ServiceAccount.
pub(super) fn create_object(
    st: &ApiState,
    res: &'static Resource,
    ns: &str,
    mut obj: Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body of the request was in an unknown format"));
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    if obj["metadata"]["name"].as_str().is_none()
        && let Some(m) = obj["metadata"].as_object_mut()
    {
        m.remove("name");
    }
    let mut next_ip = || st.next_cluster_ip();
    defaults::apply(res, &mut obj, &mut next_ip);
    for field in ["resourceVersion", "uid", "deletionTimestamp", "deletionGracePeriodSeconds"] {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove(field);
        }
    }
    if obj["metadata"]["name"].is_string() {
        defaults_after_name(res, &mut obj);
    }
    defaults::validate(res, &obj)?;
    let created = st.store.create(res, ns, obj, dry_run)?;
    if res == &resources::NAMESPACES && !dry_run {
        let ns_name = created["metadata"]["name"].as_str().unwrap_or_default();
        // The namespace was just created, so only a concurrent create can make this fail.
        let _ = st.store.create(&resources::SERVICEACCOUNTS, ns_name, json!({"metadata": {"name": "default"}}), false);
    }
    Ok(created)
}

/// Defaults that need the name (the namespace label).
fn defaults_after_name(res: &Resource, obj: &mut Value) {
    if res == &resources::NAMESPACES {
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = obj["metadata"]["name"].clone();
    }
}

/// POST to a collection.
pub(super) fn create(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    if t.res.namespaced && t.ns.is_none() {
        return Err(method_not_allowed());
    }
    let obj = req.json_body()?;
    if let Some(body_ns) = obj["metadata"]["namespace"].as_str().filter(|n| !n.is_empty())
        && t.res.namespaced
        && body_ns != ns(t)
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let created = create_object(st, t.res, ns(t), obj, req.dry_run())?;
    Ok(json_response(StatusCode::CREATED, &created))
}

/// Builds the next state of an object from what the client sent: the main resource keeps
/// identity and status from the stored object, `/status` changes only `.status`.
fn merge_write(st: &ApiState, t: &Target, current: &Value, sent: Value) -> Result<Value, ApiError> {
    if !sent.is_object() || !(sent["metadata"].is_object() || sent["metadata"].is_null()) {
        return Err(ApiError::bad_request("the body of the request was in an unknown format"));
    }
    if sent["metadata"]["resourceVersion"]
        .as_str()
        .is_some_and(|rv| Some(rv) != current["metadata"]["resourceVersion"].as_str())
    {
        return Err(ApiError::conflict(t.res, name(t)));
    }
    if sent["metadata"]["name"].as_str().is_some_and(|n| n != name(t)) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            sent["metadata"]["name"].as_str().unwrap_or_default(),
            name(t)
        )));
    }
    if t.sub.as_deref() == Some("status") {
        let mut next = current.clone();
        next["status"] = sent["status"].clone();
        return Ok(next);
    }
    let mut next = sent;
    if !next["metadata"].is_object() {
        next["metadata"] = json!({});
    }
    for field in IDENTITY {
        match current["metadata"].get(field) {
            Some(v) => next["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = next["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    if t.res.subresources.contains(&"status") {
        match current.get("status") {
            Some(s) => next["status"] = s.clone(),
            None => {
                if let Some(m) = next.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    if t.res == &resources::SERVICES
        && next["spec"].is_object()
        && next["spec"]["clusterIP"].as_str().is_none_or(str::is_empty)
    {
        // A Service keeps its address for life; an update that leaves it out keeps it.
        for field in ["clusterIP", "clusterIPs"] {
            if let Some(v) = current["spec"].get(field) {
                next["spec"][field] = v.clone();
            }
        }
    }
    let mut next_ip = || st.next_cluster_ip();
    defaults::apply(t.res, &mut next, &mut next_ip);
    defaults_after_name(t.res, &mut next);
    defaults::validate(t.res, &next)?;
    Ok(next)
}

/// A Deployment's `metadata.generation` counts annotation changes too, as the real registry's
/// update strategy does (k8s-reference §2.0): bumped here when only the annotations of a write
/// to the object itself changed (spec changes are bumped by the store; status writes and the
/// controllers' own writes never bump for annotations).
fn bump_for_annotations(t: &Target, before: &Value, mut after: Value) -> Value {
    let annotations = |v: &Value| v["metadata"]["annotations"].as_object().filter(|m| !m.is_empty()).cloned();
    if t.res == &resources::DEPLOYMENTS
        && t.sub.is_none()
        && before.get("spec") == after.get("spec")
        && annotations(before) != annotations(&after)
    {
        let generation = before["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
        after["metadata"]["generation"] = json!(generation);
    }
    after
}

/// PUT of an object or its status; a stale `metadata.resourceVersion` is a 409.
pub(super) fn update(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let sent = req.json_body()?;
    let out = st.store.mutate(t.res, ns(t), name(t), req.dry_run(), |cur| {
        let next = merge_write(st, t, cur, sent)?;
        *cur = bump_for_annotations(t, cur, next);
        Ok(())
    })?;
    Ok(json_response(StatusCode::OK, &out))
}

/// PATCH of an object or its status, in any of the supported patch formats.
pub(super) fn patch(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let kind = PatchType::from_content_type(req.header(header::CONTENT_TYPE))?;
    if kind == PatchType::Apply && t.sub.is_none() && st.store.get(t.res, ns(t), name(t)).is_none() {
        // Server-side apply creates what does not exist yet.
        let mut obj = patch::parse_yaml(&req.body)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body of the request was in an unknown format"));
        }
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        obj["metadata"]["name"] = json!(name(t));
        let created = create_object(st, t.res, ns(t), obj, req.dry_run())?;
        return Ok(json_response(StatusCode::CREATED, &created));
    }
    let out = st.store.mutate(t.res, ns(t), name(t), req.dry_run(), |cur| {
        let patched = patch::apply(cur, kind, &req.body)?;
        let next = merge_write(st, t, cur, patched)?;
        *cur = bump_for_annotations(t, cur, next);
        Ok(())
    })?;
    Ok(json_response(StatusCode::OK, &out))
}

/// The request's delete options: grace period and propagation policy, from the query or body.
fn delete_options(req: &Req, body: &Value) -> (Option<i64>, String) {
    let opts = if body["deleteOptions"].is_object() { &body["deleteOptions"] } else { body };
    let grace =
        req.q("gracePeriodSeconds").and_then(|g| g.parse().ok()).or_else(|| opts["gracePeriodSeconds"].as_i64());
    let policy =
        req.q("propagationPolicy").or_else(|| opts["propagationPolicy"].as_str()).unwrap_or("Background").to_string();
    (grace, policy)
}

fn body_or_empty(req: &Req) -> Result<Value, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) { Ok(json!({})) } else { req.json_body() }
}

/// Deletes one object. A pod bound to a node only gets `deletionTimestamp` (the kubelet
/// finishes it) unless the grace period is 0; anything removed takes its dependents with it
/// unless the policy is `Orphan`. Returns the object and whether it is gone.
pub(super) fn delete_one(
    st: &ApiState,
    res: &'static Resource,
    ns: &str,
    name: &str,
    grace: Option<i64>,
    policy: &str,
    dry_run: bool,
) -> Result<(Value, bool), ApiError> {
    let obj = st.store.get_or_404(res, ns, name)?;
    let bound = obj["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
    if is_pod(res) && bound && grace != Some(0) {
        let grace = grace.or_else(|| obj["spec"]["terminationGracePeriodSeconds"].as_i64()).unwrap_or(30).max(1);
        let out = st.store.mutate(res, ns, name, dry_run, |pod| {
            let current = pod["metadata"]["deletionGracePeriodSeconds"].as_i64();
            if current.is_none_or(|c| grace < c) {
                let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                pod["metadata"]["deletionTimestamp"] = json!(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
                pod["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            }
            Ok(())
        })?;
        return Ok((out, false));
    }
    if res == &resources::NAMESPACES && !dry_run {
        for r in resources::ALL.iter().copied().filter(|r| r.namespaced) {
            for o in st.store.list(r, Some(name)).0 {
                let n = o["metadata"]["name"].as_str().unwrap_or_default();
                let _ = st.store.delete(r, name, n, false);
            }
        }
    }
    let gone = st.store.delete(res, ns, name, dry_run)?;
    if !dry_run && policy != "Orphan" {
        collect_dependents(st, ns, gone["metadata"]["uid"].as_str().unwrap_or_default());
    }
    Ok((gone, true))
}

/// Background garbage collection: deletes objects whose ownerReferences name `uid`.
fn collect_dependents(st: &ApiState, ns: &str, uid: &str) {
    if uid.is_empty() {
        return;
    }
    for r in resources::ALL.iter().copied().filter(|r| r.namespaced) {
        for o in st.store.list(r, Some(ns)).0 {
            let owned = o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|rf| rf["uid"].as_str() == Some(uid)));
            if owned {
                let n = o["metadata"]["name"].as_str().unwrap_or_default();
                // Already gone (a controller raced us) is fine.
                let _ = delete_one(st, r, ns, n, None, "Background", false);
            }
        }
    }
}

fn deleted_status(res: &Resource, obj: &Value) -> Value {
    let mut details = json!({"name": obj["metadata"]["name"], "kind": res.plural, "uid": obj["metadata"]["uid"]});
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    success_status(200, details)
}

/// DELETE of one object: a Pod answers with the Pod, other kinds with a Success Status.
pub(super) fn delete(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let body = body_or_empty(req)?;
    let (grace, policy) = delete_options(req, &body);
    let (obj, _) = delete_one(st, t.res, ns(t), name(t), grace, &policy, req.dry_run())?;
    if is_pod(t.res) || t.res == &resources::NAMESPACES {
        return Ok(json_response(StatusCode::OK, &obj));
    }
    Ok(json_response(StatusCode::OK, &deleted_status(t.res, &obj)))
}

/// DELETE of a collection (`deletecollection`), honouring the selectors.
pub(super) fn delete_collection(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let body = body_or_empty(req)?;
    let (grace, policy) = delete_options(req, &body);
    let (items, _) = select(st, t, req)?;
    let mut out = Vec::new();
    for o in items {
        let (ns, n) = (
            o["metadata"]["namespace"].as_str().unwrap_or_default(),
            o["metadata"]["name"].as_str().unwrap_or_default(),
        );
        if let Ok((mut gone, _)) = delete_one(st, t.res, ns, n, grace, &policy, req.dry_run()) {
            if let Some(m) = gone.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            out.push(gone);
        }
    }
    let rv = st.store.resource_version();
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": format!("{}List", t.res.kind), "apiVersion": t.res.api_version(),
            "metadata": {"resourceVersion": rv.to_string()}, "items": out}),
    ))
}

/// POST `pods/{name}/eviction`: a graceful delete answered with 201 Success.
pub(super) fn evict(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let body = body_or_empty(req)?;
    let (grace, policy) = delete_options(req, &body);
    delete_one(st, t.res, ns(t), name(t), grace, &policy, req.dry_run())?;
    Ok(json_response(StatusCode::CREATED, &success_status(201, Value::Null)))
}

/// POST `pods/{name}/binding`: the scheduler assigns the pod to a node.
pub(super) fn bind(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let body = req.json_body()?;
    let node = body["target"]["name"].as_str().unwrap_or_default().to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(&resources::PODS, name(t), "target.name", "Required value"));
    }
    st.store.mutate(t.res, ns(t), name(t), req.dry_run(), |pod| {
        if let Some(cur) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on pods/binding \"{}\": pod {} is already assigned to node \"{cur}\"", name(t), name(t)),
                json!({"name": name(t), "kind": "pods/binding"}),
            ));
        }
        pod["spec"]["nodeName"] = json!(node);
        Ok(())
    })?;
    Ok(json_response(StatusCode::CREATED, &success_status(201, Value::Null)))
}

/// The `autoscaling/v1` Scale of a workload (reference §2.6).
fn scale_of(obj: &Value) -> Value {
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(0);
    let m = &obj["metadata"];
    let mut meta = json!({"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
        "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]});
    if let Some(o) = meta.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": if replicas == 0 { json!({}) } else { json!({"replicas": replicas}) },
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": LabelSelector::from_object(&obj["spec"]["selector"]).to_string(),
        },
    })
}

/// GET `/scale`.
pub(super) fn get_scale(st: &ApiState, t: &Target) -> Result<Response, ApiError> {
    let obj = st.store.get_or_404(t.res, ns(t), name(t))?;
    Ok(json_response(StatusCode::OK, &scale_of(&obj)))
}

/// The resourceVersion a Scale write names as its precondition, if the client sent one.
fn scale_precondition(req: &Req, kind: Option<PatchType>, written: &Value) -> Option<String> {
    let rv = written["metadata"]["resourceVersion"].as_str().map(str::to_string);
    match kind {
        None => rv,
        Some(PatchType::Json) => {
            let ops: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let touches = ops.as_array().into_iter().flatten().any(|op| op["path"] == "/metadata/resourceVersion");
            if touches { rv } else { None }
        }
        Some(_) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            body["metadata"]["resourceVersion"].as_str().map(str::to_string)
        }
    }
}

/// PUT/PATCH `/scale`: sets `spec.replicas`; a `metadata.resourceVersion` is a precondition.
pub(super) fn write_scale(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let kind = if req.method == Method::PATCH {
        Some(PatchType::from_content_type(req.header(header::CONTENT_TYPE))?)
    } else {
        None
    };
    let current = st.store.get_or_404(t.res, ns(t), name(t))?;
    let written = match kind {
        Some(k) => patch::apply(&scale_of(&current), k, &req.body)?,
        None => req.json_body()?,
    };
    let replicas = match &written["spec"]["replicas"] {
        Value::Null => 0,
        v => v.as_i64().ok_or_else(|| ApiError::bad_request("spec.replicas must be an integer"))?,
    };
    if replicas < 0 {
        return Err(ApiError::invalid(
            &SCALE,
            name(t),
            "spec.replicas",
            &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    let expected = scale_precondition(req, kind, &written);
    let out = st.store.mutate(t.res, ns(t), name(t), req.dry_run(), |obj| {
        if expected.as_deref().is_some_and(|rv| Some(rv) != obj["metadata"]["resourceVersion"].as_str()) {
            return Err(ApiError::conflict(t.res, name(t)));
        }
        obj["spec"]["replicas"] = json!(replicas);
        Ok(())
    })?;
    let mut scale = scale_of(&out);
    scale["status"]["replicas"] = json!(current["status"]["replicas"].as_i64().unwrap_or(0));
    Ok(json_response(StatusCode::OK, &scale))
}
