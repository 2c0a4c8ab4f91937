//! Discovery: `/version`, `/api`, `/apis` (aggregated v2 when asked, legacy otherwise) and
//! the per-group-version APIResourceLists, all generated from `resources::ALL`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::json_response;
use crate::resources::{self, Resource};
use crate::store::ApiError;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `/version`: a v1.33 server, the version kube-sim's wire shapes follow.
pub(super) fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
            "gitVersion": "v1.33.0-kube-sim", "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean", "buildDate": "2026-11-28T00:00:00Z", "goVersion": "go1.24.0",
            "compiler": "gc", "platform": "linux/amd64"}),
    )
}

fn wants_aggregated(accept: &str) -> bool {
    accept.contains("as=APIGroupDiscoveryList") && accept.contains("g=apidiscovery.k8s.io")
}

fn aggregated(doc: Value) -> Response {
    let mut r = json_response(StatusCode::OK, &doc);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(AGGREGATED));
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

/// The groups kube-sim serves, in discovery order, each with its one version.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in resources::ALL.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}

fn in_gv(group: &str, version: &str) -> impl Iterator<Item = &'static Resource> {
    let (group, version) = (group.to_string(), version.to_string());
    resources::ALL.iter().copied().filter(move |r| r.group == group && r.version == version)
}

const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// (verbs, response group, version, kind) of a subresource.
fn subresource(res: &Resource, sub: &str) -> (Vec<&'static str>, &'static str, &'static str, &'static str) {
    match sub {
        "scale" => (vec!["get", "patch", "update"], "autoscaling", "v1", "Scale"),
        "log" => (vec!["get"], "", "v1", "Pod"),
        "eviction" => (vec!["create"], "policy", "v1", "Eviction"),
        "binding" => (vec!["create"], "", "v1", "Binding"),
        "token" => (vec!["create"], "authentication.k8s.io", "v1", "TokenRequest"),
        "proxy" => (vec!["create", "delete", "get", "patch", "update"], "", "v1", "ServiceProxyOptions"),
        _ => (vec!["get", "patch", "update"], res.group, res.version, res.kind),
    }
}

fn aggregated_resource(r: &Resource) -> Value {
    let subs: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            let (verbs, g, v, k) = subresource(r, s);
            let same = g == r.group && v == r.version;
            json!({"subresource": s,
                "responseKind": {"group": if same { "" } else { g }, "version": if same { "" } else { v }, "kind": k},
                "verbs": verbs})
        })
        .collect();
    let mut e = json!({
        "resource": r.plural,
        "responseKind": {"group": "", "version": "", "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": VERBS,
    });
    if !r.short_names.is_empty() {
        e["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        e["categories"] = json!(r.categories);
    }
    if !subs.is_empty() {
        e["subresources"] = json!(subs);
    }
    e
}

fn aggregated_group(name: &str, version: &str) -> Value {
    let resources: Vec<Value> = in_gv(name, version).map(aggregated_resource).collect();
    let metadata = if name.is_empty() { json!({}) } else { json!({"name": name}) };
    json!({"metadata": metadata, "versions": [{"version": version, "resources": resources, "freshness": "Current"}]})
}

/// `/api`: aggregated discovery of the core group, or the legacy APIVersions.
pub(super) fn core_root(accept: &str, host: &str) -> Response {
    if wants_aggregated(accept) {
        return aggregated(json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": [aggregated_group("", "v1")]}));
    }
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}),
    )
}

/// `/apis`: aggregated discovery of every named group, or the legacy APIGroupList.
pub(super) fn groups_root(accept: &str) -> Response {
    let gs = groups();
    if wants_aggregated(accept) {
        let items: Vec<Value> = gs.iter().map(|(g, v)| aggregated_group(g, v)).collect();
        return aggregated(json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}));
    }
    let groups: Vec<Value> = gs
        .iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json_response(StatusCode::OK, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

/// `/apis/<g>`: one APIGroup.
///
/// # Errors
/// 404 for a group kube-sim does not serve.
pub(super) fn group(name: &str) -> Result<Response, ApiError> {
    let (g, v) = groups()
        .into_iter()
        .find(|(g, _)| *g == name)
        .ok_or_else(|| ApiError::new(404, "NotFound", "the server could not find the requested resource", json!({})))?;
    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv.clone()], "preferredVersion": gv}),
    ))
}

/// `/api/v1`, `/apis/<g>/<v>`: the legacy APIResourceList.
///
/// # Errors
/// 404 for a group version kube-sim does not serve.
pub(super) fn resource_list(group: &str, version: &str) -> Result<Response, ApiError> {
    let mut list = Vec::new();
    for r in in_gv(group, version) {
        let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": VERBS});
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        list.push(e);
        for s in r.subresources {
            let (verbs, g, v, k) = subresource(r, s);
            let mut e = json!({"name": format!("{}/{s}", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": k, "verbs": verbs});
            if g != r.group || v != r.version {
                e["group"] = json!(g);
                e["version"] = json!(v);
            }
            list.push(e);
        }
    }
    if list.is_empty() {
        return Err(ApiError::new(404, "NotFound", "the server could not find the requested resource", json!({})));
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    ))
}

/// A fixed hash for the OpenAPI documents (they never change while kube-sim runs).
const OPENAPI_HASH: &str = "6B2F1E9C4A8D7B3E0F5A2C9D8E7F6A1B";

/// `/openapi/v3`: the index of group-version documents.
pub(super) fn openapi_root() -> Response {
    let mut paths = serde_json::Map::new();
    let mut gvs = vec![("".to_string(), "v1".to_string())];
    gvs.extend(groups().into_iter().map(|(g, v)| (g.to_string(), v.to_string())));
    for (g, v) in gvs {
        let key = if g.is_empty() { format!("api/{v}") } else { format!("apis/{g}/{v}") };
        paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={OPENAPI_HASH}")}));
    }
    let mut r = json_response(StatusCode::OK, &json!({"paths": paths}));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// `/openapi/v3/<gv>`: a minimal document with one PATCH operation per resource that names
/// its kind and the `fieldValidation` parameter, which is what kubectl looks for before it
/// leaves validation to the server (`kubectl create -f`, `apply -f`). No schemas.
///
/// # Errors
/// 404 for a group version kube-sim does not serve.
pub(super) fn openapi_gv(group: &str, version: &str) -> Result<Response, ApiError> {
    let mut paths = serde_json::Map::new();
    for r in in_gv(group, version) {
        let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let path = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        paths.insert(
            path,
            json!({"patch": {
                "operationId": format!("patch{}", r.kind),
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": r.kind},
            }}),
        );
    }
    if paths.is_empty() {
        return Err(ApiError::new(404, "NotFound", "the server could not find the requested resource", json!({})));
    }
    let doc = json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths, "components": {"schemas": {}}});
    let mut r = json_response(StatusCode::OK, &doc);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, immutable"));
    Ok(r)
}
