//! kube-sim's API server: one axum fallback handler that routes Kubernetes REST paths to the
//! handlers of each concern (objects, patch, watch, discovery, tables, logs, proxy).
//!
//! Served: every resource of [`resources::ALL`] under `/api/v1` and `/apis/<g>/<v>`, with
//! get/list/watch/create/update/patch/delete/deletecollection, the `status`, `scale`, `log`,
//! `eviction`, `binding` and services `proxy` subresources, aggregated and legacy discovery,
//! a minimal OpenAPI v3 (enough for `kubectl create|apply -f`) and Tables. Every request is
//! authenticated ([`crate::auth`]), authorized by RBAC ([`authz`]) and recorded
//! ([`crate::record`]); admins read the record at `/_sim/requests`. Not served: field ownership
//! in server-side apply (applying is a strategic merge here), `limit`/`continue` paging (one
//! page), exec/attach/port-forward.

mod authz;
mod defaults;
mod discovery;
mod event_views;
mod faulted;
#[cfg(test)]
mod kube_tests;
mod logs;
mod objects;
mod patch;
mod protobuf;
mod proxy;
pub mod request_info;
pub mod selectors;
mod table;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SimConfig;
use super::auth::{Authenticator, UserInfo};
use super::faults::{self, FaultError, FaultSet};
use super::record::{RecordedRequest, Recorder};
use super::resources::{self, Resource};
use super::serve::Peer;
use super::store::{ApiError, Store};

/// What every handler shares.
pub struct ApiState {
    /// The object store.
    pub store: Arc<Store>,
    /// Simulation knobs.
    pub cfg: SimConfig,
    /// Flips to true when the server shuts down, so open watches end.
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// Client for the services proxy.
    http: reqwest::Client,
    /// Next Service ClusterIP offset inside 10.96.0.0/12.
    next_ip: AtomicU32,
    /// Who requests are.
    pub auth: Arc<Authenticator>,
    /// Every request served.
    pub record: Arc<Recorder>,
    /// The fault rules requests may hit.
    pub faults: Arc<FaultSet>,
}

impl ApiState {
    /// State over a store; `shutdown` ends open watches when it becomes true.
    pub fn new(
        store: Arc<Store>,
        cfg: SimConfig,
        shutdown: tokio::sync::watch::Receiver<bool>,
        auth: Arc<Authenticator>,
    ) -> Self {
        ApiState {
            store,
            cfg,
            shutdown,
            http: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            next_ip: AtomicU32::new(10),
            auth,
            record: Arc::new(Recorder::default()),
            faults: Arc::new(FaultSet::new(None)),
        }
    }

    /// The same state with this fault rule set.
    pub fn with_faults(mut self, faults: Arc<FaultSet>) -> Self {
        self.faults = faults;
        self
    }

    /// A fresh ClusterIP from 10.96.0.0/12 (10.96.0.1 is the `kubernetes` Service's).
    fn next_cluster_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        format!("10.{}.{}.{}", 96 + (n >> 16 & 0x0f), n >> 8 & 0xff, n & 0xff)
    }

    /// Creates an object the way a POST does (defaults, validation, side effects).
    ///
    /// # Errors
    /// The `Status` a real server would send.
    pub fn create(&self, res: &'static Resource, ns: &str, obj: Value, dry_run: bool) -> Result<Value, ApiError> {
        objects::create_object(self, res, ns, obj, dry_run)
    }
}

/// The router: everything goes through one handler that understands Kubernetes paths.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// One request, with the parts handlers need.
pub(crate) struct Req {
    /// Who sent it.
    user: UserInfo,
    method: Method,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Req {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    fn dry_run(&self) -> bool {
        self.q("dryRun").is_some_and(|v| v == "All")
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn accept(&self) -> &str {
        self.header(header::ACCEPT)
    }

    /// The body as a JSON object.
    fn json_body(&self) -> Result<Value, ApiError> {
        let ct = self.header(header::CONTENT_TYPE);
        if ct.starts_with("application/vnd.kubernetes.protobuf") {
            // kubectl's typed client (`create configmap`, `create service`, `run`, ...).
            return protobuf::decode(&self.body).ok_or_else(patch::unsupported_media_type);
        }
        if !ct.is_empty() && !ct.contains("json") {
            return Err(patch::unsupported_media_type());
        }
        let v: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the body of the request was in an unknown format: {e}")))?;
        if !v.is_object() {
            return Err(ApiError::bad_request("the body of the request was in an unknown format"));
        }
        Ok(v)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, &self.to_status())
    }
}

/// A compact JSON response.
pub(crate) fn json_response(code: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A `Status` with `status: Success`.
pub(crate) fn success_status(code: u16, details: Value) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    if !details.is_null() {
        s["details"] = details;
    }
    if code != 200 {
        s["code"] = json!(code);
    }
    s
}

fn not_found_path() -> ApiError {
    ApiError::new(404, "NotFound", "the server could not find the requested resource", json!({}))
}

fn method_not_allowed() -> ApiError {
    ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", json!({}))
}

fn audit_id() -> String {
    let h = |n: usize| (0..n).map(|_| format!("{:x}", fastrand::u8(..16))).collect::<String>();
    format!("{}-{}-4{}-{}-{}", h(8), h(4), h(3), h(4), h(12))
}

async fn handle(
    State(st): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> =
        uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let path = uri.path().to_string();
    tracing::debug!(%method, %path, "request");
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let mut info = request_info::parse(&method, &path, watch);
    if !info.resource_request {
        info.name = path.clone();
    }
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let user = st.auth.authenticate(peer.cert_user.as_ref(), authorization);
    let admin_path = path == "/_sim" || path.starts_with("/_sim/");
    let mut dropped = false;
    let mut resp = match &user {
        None => authz::unauthorized(),
        Some(u) if admin_path => sim_admin(&st, u, &method, &path, &body),
        Some(u) if !authz::allowed(&st.store, u, &info) => authz::forbidden(u, &info, &path).into_response(),
        Some(u) => {
            let req = Req { user: u.clone(), method: method.clone(), query, headers, body };
            let served = faulted::serve(&st, &info, &peer, &path, &req).await;
            dropped = served.dropped;
            served.response
        }
    };
    if !admin_path {
        if !info.resource_request {
            info.name.clear();
        }
        let (name, groups) = user.map(|u| (u.name, u.groups)).unwrap_or_default();
        st.record.push(RecordedRequest {
            user: name,
            groups,
            method: method.to_string(),
            dry_run: uri
                .query()
                .is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "dryRun" && v == "All")),
            verb: info.verb,
            resource_request: info.resource_request,
            api_group: info.api_group,
            resource: info.resource,
            subresource: info.subresource,
            namespace: info.namespace,
            name: info.name,
            path,
            query: uri.query().unwrap_or_default().to_string(),
            // A dropped connection answered nothing.
            code: if dropped { 0 } else { resp.status().as_u16() },
        });
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&audit_id()) {
        h.insert("audit-id", v);
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    }
    resp
}

/// The admin endpoints, for `system:masters`: `/_sim/requests` (the request record: GET
/// reads, DELETE clears it) and `/_sim/faults[/<id>]` (fault rules: POST adds, GET lists,
/// DELETE removes one or all).
fn sim_admin(st: &ApiState, user: &UserInfo, method: &Method, path: &str, body: &Bytes) -> Response {
    if !user.is_master() {
        let ri = request_info::RequestInfo { verb: method.as_str().to_ascii_lowercase(), ..Default::default() };
        return authz::forbidden(user, &ri, path).into_response();
    }
    let ok = |v: &Value| json_response(StatusCode::OK, v);
    match (method, path) {
        (&Method::GET, "/_sim/requests") => match serde_json::to_value(st.record.all()) {
            Ok(v) => ok(&v),
            Err(e) => ApiError::new(500, "InternalError", e.to_string(), json!({})).into_response(),
        },
        (&Method::DELETE, "/_sim/requests") => {
            st.record.clear();
            ok(&success_status(200, Value::Null))
        }
        (&Method::GET, "/_sim/faults") => ok(&st.faults.to_json()),
        (&Method::POST, "/_sim/faults") => {
            let added = serde_json::from_slice::<Value>(body)
                .map_err(|e| FaultError::Invalid(e.to_string()))
                .and_then(faults::rules_from_value)
                .and_then(|rules| st.faults.add(rules));
            match added {
                Ok(ids) => json_response(StatusCode::CREATED, &json!({ "ids": ids })),
                Err(e @ FaultError::Duplicate(_)) => {
                    ApiError::new(409, "AlreadyExists", e.to_string(), json!({})).into_response()
                }
                Err(e) => ApiError::bad_request(e.to_string()).into_response(),
            }
        }
        (&Method::DELETE, "/_sim/faults") => {
            st.faults.clear();
            ok(&success_status(200, Value::Null))
        }
        (&Method::DELETE, p) if p.starts_with("/_sim/faults/") => {
            let id = &p["/_sim/faults/".len()..];
            if st.faults.remove(id) {
                ok(&success_status(200, json!({"name": id, "kind": "faults"})))
            } else {
                ApiError::new(404, "NotFound", format!("fault {id:?} not found"), json!({"name": id, "kind": "faults"}))
                    .into_response()
            }
        }
        (_, "/_sim/requests" | "/_sim/faults") => method_not_allowed().into_response(),
        _ => not_found_path().into_response(),
    }
}

async fn dispatch(st: &Arc<ApiState>, path: &str, req: &Req) -> Result<Response, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get_only =
        |r: Result<Response, ApiError>| if req.method == Method::GET { r } else { Err(method_not_allowed()) };
    match segs.as_slice() {
        ["version"] => get_only(Ok(discovery::version())),
        ["healthz" | "readyz" | "livez"] => get_only(Ok((StatusCode::OK, "ok").into_response())),
        ["api"] => get_only(Ok(discovery::core_root(req.accept(), req.header(header::HOST)))),
        ["apis"] => get_only(Ok(discovery::groups_root(req.accept()))),
        ["api", "v1"] => get_only(discovery::resource_list("", "v1")),
        ["apis", g] => get_only(discovery::group(g)),
        ["apis", g, v] => get_only(discovery::resource_list(g, v)),
        ["openapi", "v3"] => get_only(Ok(discovery::openapi_root())),
        ["openapi", "v3", "api", v] => get_only(discovery::openapi_gv("", v)),
        ["openapi", "v3", "apis", g, v] => get_only(discovery::openapi_gv(g, v)),
        ["openapi", ..] => get_only(Err(not_found_path())),
        ["api", "v1", rest @ ..] => resource(st, "", "v1", rest, req).await,
        ["apis", g, v, rest @ ..] => resource(st, g, v, rest, req).await,
        _ => Err(not_found_path()),
    }
}

/// Where a resource path points.
pub(crate) struct Target {
    res: &'static Resource,
    /// Namespace; None for cluster-scoped resources and all-namespaces collections.
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
    /// The rest of the path after `proxy` (services proxy only).
    rest: String,
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let lookup = |plural: &str| resources::lookup(group, version, plural);
    let (res, ns, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if group.is_empty() && !["status", "finalize"].contains(plural) => {
            let res = lookup(plural).filter(|r| r.namespaced)?;
            (res, Some(ns.to_string()), tail)
        }
        ["namespaces", ns, plural, tail @ ..] if !group.is_empty() => {
            let res = lookup(plural).filter(|r| r.namespaced)?;
            (res, Some(ns.to_string()), tail)
        }
        [plural, tail @ ..] => {
            let res = lookup(plural)?;
            if res.namespaced && !tail.is_empty() {
                return None;
            }
            (res, None, tail)
        }
        [] => return None,
    };
    let (name, sub, rest) = match tail {
        [] => (None, None, String::new()),
        [name] => (Some(name.to_string()), None, String::new()),
        [name, sub, more @ ..] => {
            if !res.subresources.contains(sub) || (!more.is_empty() && *sub != "proxy") {
                return None;
            }
            (Some(name.to_string()), Some(sub.to_string()), more.join("/"))
        }
    };
    Some(Target { res, ns, name, sub, rest })
}

async fn resource(
    st: &Arc<ApiState>,
    group: &str,
    version: &str,
    rest: &[&str],
    req: &Req,
) -> Result<Response, ApiError> {
    let t = parse_target(group, version, rest).ok_or_else(not_found_path)?;
    let mut resp = route(st, &t, req).await?;
    if t.res == &resources::ENDPOINTS {
        resp.headers_mut().insert(
            header::WARNING,
            HeaderValue::from_static(
                "299 - \"v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\"",
            ),
        );
    }
    Ok(resp)
}

async fn route(st: &Arc<ApiState>, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let m = &req.method;
    match (t.name.is_some(), t.sub.as_deref()) {
        (false, _) if *m == Method::POST && t.res == &resources::SELFSUBJECTACCESSREVIEWS => {
            authz::self_subject_access_review(st, req)
        }
        (false, _) if *m == Method::POST && t.res == &resources::SELFSUBJECTRULESREVIEWS => {
            authz::self_subject_rules_review(st, req)
        }
        (false, _) => match *m {
            Method::GET if matches!(req.q("watch"), Some("true" | "1")) => watch::watch(st, t, req),
            Method::GET => objects::list(st, t, req),
            Method::POST => objects::create(st, t, req),
            Method::DELETE => objects::delete_collection(st, t, req),
            _ => Err(method_not_allowed()),
        },
        (true, None) => match *m {
            Method::GET => objects::get(st, t, req),
            Method::PUT => objects::update(st, t, req),
            Method::PATCH => objects::patch(st, t, req),
            Method::DELETE => objects::delete(st, t, req),
            _ => Err(method_not_allowed()),
        },
        (true, Some("status")) => match *m {
            Method::GET => objects::get(st, t, req),
            Method::PUT => objects::update(st, t, req),
            Method::PATCH => objects::patch(st, t, req),
            _ => Err(method_not_allowed()),
        },
        (true, Some("scale")) => match *m {
            Method::GET => objects::get_scale(st, t),
            Method::PUT | Method::PATCH => objects::write_scale(st, t, req),
            _ => Err(method_not_allowed()),
        },
        (true, Some("log")) if *m == Method::GET => logs::logs(st, t, req),
        (true, Some("eviction")) if *m == Method::POST => objects::evict(st, t, req),
        (true, Some("binding")) if *m == Method::POST => objects::bind(st, t, req),
        (true, Some("token")) if *m == Method::POST => authz::token_request(st, t, req),
        (true, Some("proxy")) => proxy::proxy(st, t, req).await,
        _ => Err(method_not_allowed()),
    }
}

/// An API server with the built-in objects and no controllers, for tests that write
/// statuses themselves: its URL and state.
#[cfg(test)]
pub(crate) async fn serve_without_controllers() -> (String, Arc<ApiState>, reqwest::Client) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    // Never sent: the server lives as long as the test's runtime.
    std::mem::forget(tx);
    let auth = Arc::new(Authenticator::new(HashMap::new()));
    let st = Arc::new(ApiState::new(Arc::new(Store::new()), SimConfig::default(), rx.clone(), auth.clone()));
    crate::seed::builtins(&st).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pki = crate::pki::Pki::new(addr.ip()).unwrap();
    let tls = Arc::new(pki.server_config().unwrap());
    tokio::spawn(crate::serve::serve(listener, tls, router(st.clone()), rx));
    (format!("https://{addr}"), st, crate::admin_client(pki.ca_pem(), auth.admin_token()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_to_resources() {
        let t = parse_target("apps", "v1", &["namespaces", "ns", "deployments", "d", "scale"]).unwrap();
        assert_eq!(
            (t.res.plural, t.ns.as_deref(), t.name.as_deref(), t.sub.as_deref()),
            ("deployments", Some("ns"), Some("d"), Some("scale"))
        );
        let t = parse_target("", "v1", &["pods"]).unwrap();
        assert_eq!((t.res.plural, t.ns, t.name), ("pods", None, None));
        let t = parse_target("", "v1", &["namespaces", "ns"]).unwrap();
        assert_eq!((t.res.plural, t.name.as_deref()), ("namespaces", Some("ns")));
        let t = parse_target("", "v1", &["namespaces", "ns", "status"]).unwrap();
        assert_eq!(t.sub.as_deref(), Some("status"));
        let t = parse_target("", "v1", &["namespaces", "ns", "services", "s:http", "proxy", "a", "b"]).unwrap();
        assert_eq!((t.name.as_deref(), t.rest.as_str()), (Some("s:http"), "a/b"));
        assert!(parse_target("apps", "v1", &["namespaces", "ns", "widgets"]).is_none());
        assert!(parse_target("", "v1", &["pods", "p"]).is_none(), "a pod needs its namespace");
        assert!(parse_target("", "v1", &["namespaces", "ns", "configmaps", "c", "scale"]).is_none());
    }

    #[test]
    fn errors_render_as_status() {
        let s = not_found_path().to_status();
        assert_eq!(
            s,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server could not find the requested resource", "reason": "NotFound",
                "details": {}, "code": 404})
        );
        let s = ApiError::not_found(&resources::PODS, "nope").to_status();
        let want: Value = serde_json::from_str(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"pods"},"code":404}"#,
        )
        .unwrap();
        assert_eq!(s, want);
        assert_eq!(method_not_allowed().to_status()["code"], 405);
    }
}
