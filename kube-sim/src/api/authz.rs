//! Authorization: RBAC evaluated from the Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding objects in the store (`system:masters` bypasses it), plus the default
//! policy every authenticated user has (discovery and public-info URLs, self reviews);
//! SelfSubjectAccessReview and SelfSubjectRulesReview (`kubectl auth can-i`), the TokenRequest
//! subresource (`kubectl create token`) and the 401/403 Status bodies.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::request_info::RequestInfo;
use super::{ApiState, Req, Target, json_response};
use crate::auth::UserInfo;
use crate::resources;
use crate::store::{ApiError, Store};

/// The default policy of `system:authenticated` (ClusterRoles `system:discovery`,
/// `system:public-info-viewer` and `system:basic-user` of a real cluster).
fn default_rules() -> Vec<Value> {
    vec![
        json!({"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
            "/livez", "/readyz", "/version", "/version/", "/openapi", "/openapi/*"]}),
        json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}),
        json!({"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}),
    ]
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn has(list: &[&str], want: &str) -> bool {
    list.iter().any(|x| *x == "*" || *x == want)
}

/// Whether one PolicyRule grants the request.
fn rule_allows(rule: &Value, ri: &RequestInfo) -> bool {
    if !has(&strs(&rule["verbs"]), &ri.verb) {
        return false;
    }
    if !ri.resource_request {
        let path = ri.name.as_str();
        return strs(&rule["nonResourceURLs"])
            .iter()
            .any(|u| *u == "*" || *u == path || u.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)));
    }
    if !has(&strs(&rule["apiGroups"]), &ri.api_group) {
        return false;
    }
    let combined =
        if ri.subresource.is_empty() { ri.resource.clone() } else { format!("{}/{}", ri.resource, ri.subresource) };
    let resource_ok = strs(&rule["resources"])
        .iter()
        .any(|r| *r == "*" || *r == combined || (!ri.subresource.is_empty() && *r == format!("*/{}", ri.subresource)));
    if !resource_ok {
        return false;
    }
    let names = strs(&rule["resourceNames"]);
    names.is_empty() || (!ri.name.is_empty() && names.contains(&ri.name.as_str()))
}

fn subject_matches(subject: &Value, binding_ns: &str, user: &UserInfo) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str() {
        Some("User") => name == user.name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject["namespace"].as_str().filter(|s| !s.is_empty()).unwrap_or(binding_ns);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// The rules RBAC grants `user` in `ns` ("" = cluster scope only), default policy included.
pub(crate) fn rules_for(store: &Store, user: &UserInfo, ns: &str) -> Vec<Value> {
    let mut rules = default_rules();
    let role_rules = |res, role_ns: &str, name: &str| {
        store.get(res, role_ns, name).map(|r| r["rules"].as_array().cloned().unwrap_or_default()).unwrap_or_default()
    };
    for b in store.list(&resources::CLUSTERROLEBINDINGS, None).0 {
        if b["subjects"].as_array().into_iter().flatten().any(|s| subject_matches(s, "", user))
            && b["roleRef"]["kind"] == "ClusterRole"
        {
            rules.extend(role_rules(&resources::CLUSTERROLES, "", b["roleRef"]["name"].as_str().unwrap_or_default()));
        }
    }
    if !ns.is_empty() {
        for b in store.list(&resources::ROLEBINDINGS, Some(ns)).0 {
            if !b["subjects"].as_array().into_iter().flatten().any(|s| subject_matches(s, ns, user)) {
                continue;
            }
            let name = b["roleRef"]["name"].as_str().unwrap_or_default();
            match b["roleRef"]["kind"].as_str() {
                Some("Role") => rules.extend(role_rules(&resources::ROLES, ns, name)),
                Some("ClusterRole") => rules.extend(role_rules(&resources::CLUSTERROLES, "", name)),
                _ => {}
            }
        }
    }
    rules
}

/// Whether `user` may do what `ri` asks (for a non-resource request `ri.name` is the path).
pub(crate) fn allowed(store: &Store, user: &UserInfo, ri: &RequestInfo) -> bool {
    user.is_master() || rules_for(store, user, &ri.namespace).iter().any(|r| rule_allows(r, ri))
}

/// The 401 body, byte for byte as kube-apiserver sends it.
const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

/// 401, exactly as kube-apiserver sends it.
pub(crate) fn unauthorized() -> Response {
    let mut r = Response::new(axum::body::Body::from(UNAUTHORIZED));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    r
}

/// 403 with kube-apiserver's message: `<resource>[.<group>] ["<name>" ]is forbidden: User "<u>"
/// cannot <verb> resource "<res>[/<sub>]" in API group "<g>" in the namespace "<ns>"` (or `at
/// the cluster scope`), or `forbidden: User "<u>" cannot <verb> path "<path>"`.
pub(crate) fn forbidden(user: &UserInfo, ri: &RequestInfo, path: &str) -> ApiError {
    if !ri.resource_request {
        let msg = format!("forbidden: User \"{}\" cannot {} path \"{path}\"", user.name, ri.verb);
        return ApiError::new(403, "Forbidden", msg, json!({}));
    }
    let qualified =
        if ri.api_group.is_empty() { ri.resource.clone() } else { format!("{}.{}", ri.resource, ri.api_group) };
    let object = if ri.name.is_empty() { qualified } else { format!("{qualified} \"{}\"", ri.name) };
    let res =
        if ri.subresource.is_empty() { ri.resource.clone() } else { format!("{}/{}", ri.resource, ri.subresource) };
    let scope = if ri.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", ri.namespace)
    };
    let msg = format!(
        "{object} is forbidden: User \"{}\" cannot {} resource \"{res}\" in API group \"{}\" {scope}",
        user.name, ri.verb, ri.api_group
    );
    let mut details = serde_json::Map::new();
    if !ri.name.is_empty() {
        details.insert("name".into(), json!(ri.name));
    }
    if !ri.api_group.is_empty() {
        details.insert("group".into(), json!(ri.api_group));
    }
    details.insert("kind".into(), json!(ri.resource));
    ApiError::new(403, "Forbidden", msg, Value::Object(details))
}

/// POST selfsubjectaccessreviews: answers for the requesting user, stores nothing.
pub(super) fn self_subject_access_review(st: &ApiState, req: &Req) -> Result<Response, ApiError> {
    let mut review = req.json_body()?;
    let spec = &review["spec"];
    let ri = if let Some(a) = spec.get("resourceAttributes").filter(|a| a.is_object()) {
        let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
        RequestInfo {
            resource_request: true,
            verb: s("verb"),
            api_group: s("group"),
            api_version: s("version"),
            resource: s("resource"),
            subresource: s("subresource"),
            namespace: s("namespace"),
            name: s("name"),
        }
    } else if let Some(a) = spec.get("nonResourceAttributes").filter(|a| a.is_object()) {
        RequestInfo {
            verb: a["verb"].as_str().unwrap_or_default().to_string(),
            name: a["path"].as_str().unwrap_or_default().to_string(),
            ..RequestInfo::default()
        }
    } else {
        return Err(ApiError::new(
            422,
            "Invalid",
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            json!({"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview"}),
        ));
    };
    let ok = allowed(&st.store, &req.user, &ri);
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review["metadata"] = json!({"creationTimestamp": null});
    review["status"] = json!({"allowed": ok});
    Ok(json_response(StatusCode::CREATED, &review))
}

/// POST selfsubjectrulesreviews: the user's rules in `spec.namespace`.
pub(super) fn self_subject_rules_review(st: &ApiState, req: &Req) -> Result<Response, ApiError> {
    let mut review = req.json_body()?;
    let ns = review["spec"]["namespace"].as_str().unwrap_or_default().to_string();
    let rules = if req.user.is_master() {
        vec![
            json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
            json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
        ]
    } else {
        rules_for(&st.store, &req.user, &ns)
    };
    let (resource, non_resource): (Vec<Value>, Vec<Value>) =
        rules.into_iter().partition(|r| r.get("nonResourceURLs").is_none());
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectRulesReview");
    review["metadata"] = json!({"creationTimestamp": null});
    review["status"] = json!({"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": false});
    Ok(json_response(StatusCode::CREATED, &review))
}

/// POST serviceaccounts/<sa>/token: a token that authenticates as the ServiceAccount.
pub(super) fn token_request(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let ns = t.ns.as_deref().unwrap_or_default();
    let name = t.name.as_deref().unwrap_or_default();
    let sa = st.store.get_or_404(&resources::SERVICEACCOUNTS, ns, name)?;
    let mut tr = if req.body.is_empty() { json!({}) } else { req.json_body()? };
    let seconds = tr["spec"]["expirationSeconds"].as_i64().filter(|s| *s > 0).unwrap_or(3600);
    let uid = sa["metadata"]["uid"].as_str().unwrap_or_default();
    let token = st.auth.issue_service_account_token(ns, name, uid);
    let expires = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or_else(|_| jiff::Timestamp::now());
    tr["apiVersion"] = json!("authentication.k8s.io/v1");
    tr["kind"] = json!("TokenRequest");
    tr["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": crate::store::now()});
    if !tr["spec"].is_object() {
        tr["spec"] = json!({});
    }
    tr["spec"]["expirationSeconds"] = json!(seconds);
    if tr["spec"]["audiences"].as_array().is_none_or(Vec::is_empty) {
        tr["spec"]["audiences"] = json!(["https://kubernetes.default.svc.cluster.local"]);
    }
    tr["spec"]["boundObjectRef"] = Value::Null;
    tr["status"] = json!({"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()});
    Ok(json_response(StatusCode::CREATED, &tr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn ri(m: Method, path: &str) -> RequestInfo {
        super::super::request_info::parse(&m, path, false)
    }

    #[test]
    fn rules_match_verbs_groups_resources_and_names() {
        let rule = json!({"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]});
        assert!(rule_allows(&rule, &ri(Method::PATCH, "/apis/apps/v1/namespaces/n/deployments/d/scale")));
        assert!(!rule_allows(&rule, &ri(Method::PATCH, "/apis/apps/v1/namespaces/n/deployments/d")));
        assert!(!rule_allows(&rule, &ri(Method::PUT, "/apis/apps/v1/namespaces/n/deployments/d/scale")));
        let named =
            json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"], "resourceNames": ["c"]});
        assert!(rule_allows(&named, &ri(Method::GET, "/api/v1/namespaces/n/configmaps/c")));
        assert!(!rule_allows(&named, &ri(Method::GET, "/api/v1/namespaces/n/configmaps/x")));
        assert!(!rule_allows(&named, &ri(Method::GET, "/api/v1/namespaces/n/configmaps")));
        let wild = json!({"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]});
        assert!(rule_allows(&wild, &ri(Method::GET, "/apis/apps/v1/namespaces/n/replicasets/r/scale")));
        let mut version = ri(Method::GET, "/version");
        version.name = "/version".into();
        assert!(default_rules().iter().any(|r| rule_allows(r, &version)));
    }

    #[test]
    fn forbidden_messages_are_the_real_servers() {
        let u = UserInfo::new("system:serviceaccount:cortex-system:default", "", []);
        let e = forbidden(&u, &ri(Method::PATCH, "/apis/apps/v1/namespaces/cortex-system/deployments/X/scale"), "");
        assert_eq!(
            e.message,
            "deployments.apps \"X\" is forbidden: User \"system:serviceaccount:cortex-system:default\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"cortex-system\""
        );
        assert_eq!(e.details, json!({"name": "X", "group": "apps", "kind": "deployments"}));
        let anon = UserInfo { name: "system:anonymous".into(), uid: String::new(), groups: vec![] };
        let e = forbidden(&anon, &ri(Method::GET, "/api/v1/namespaces/cortex-system/pods"), "");
        assert_eq!(
            e.message,
            "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"cortex-system\""
        );
        assert_eq!(e.details, json!({"kind": "pods"}));
        let e = forbidden(&anon, &ri(Method::GET, "/api/v1/nodes"), "");
        assert!(e.message.ends_with("in API group \"\" at the cluster scope"), "{}", e.message);
    }
}
