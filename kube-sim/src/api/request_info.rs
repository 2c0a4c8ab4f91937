//! What a request asks for in authorization terms (kube-apiserver's RequestInfo): a resource
//! request (verb, API group, resource, subresource, namespace, name) or a non-resource path.

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// The attributes RBAC and the request record use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    /// A REST resource (else a non-resource URL such as `/version`).
    pub resource_request: bool,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection;
    /// the lower-case HTTP method for non-resource URLs.
    pub verb: String,
    /// API group ("" for core).
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource (`scale`, `status`, `log`, `token`, `proxy`...).
    pub subresource: String,
    /// Namespace ("" for cluster scope).
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// Parses a request the way kube-apiserver's RequestInfoFactory does.
pub fn parse(method: &Method, path: &str, watch_param: bool) -> RequestInfo {
    let method_verb = method.as_str().to_ascii_lowercase();
    let non_resource = || RequestInfo { verb: method_verb.clone(), ..RequestInfo::default() };
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return non_resource(),
    };
    if rest.is_empty() {
        return non_resource();
    }
    let mut info = RequestInfo {
        resource_request: true,
        api_group: group.to_string(),
        api_version: version.to_string(),
        ..RequestInfo::default()
    };
    if rest[0] == "namespaces"
        && let Some(ns) = rest.get(1)
    {
        info.namespace = ns.to_string();
        if rest.len() > 2 && !["status", "finalize"].contains(&rest[2]) {
            rest = &rest[2..];
        }
    }
    info.resource = rest[0].to_string();
    if let Some(n) = rest.get(1) {
        info.name = n.to_string();
    }
    if let Some(s) = rest.get(2) {
        info.subresource = s.to_string();
    }
    info.verb = match *method {
        Method::POST => "create",
        Method::GET | Method::HEAD if watch_param => "watch",
        Method::GET | Method::HEAD if info.name.is_empty() => "list",
        Method::GET | Method::HEAD => "get",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if info.name.is_empty() => "deletecollection",
        Method::DELETE => "delete",
        _ => "",
    }
    .to_string();
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: Method, path: &str) -> RequestInfo {
        parse(&m, path, false)
    }

    #[test]
    fn paths_map_to_attributes() {
        let r = p(Method::PATCH, "/apis/apps/v1/namespaces/ns/deployments/d/scale");
        assert_eq!(
            (r.verb.as_str(), r.api_group.as_str(), r.resource.as_str(), r.subresource.as_str(), r.namespace.as_str()),
            ("patch", "apps", "deployments", "scale", "ns")
        );
        assert_eq!(r.name, "d");
        let r = p(Method::GET, "/api/v1/namespaces/ns/pods");
        assert_eq!((r.verb.as_str(), r.resource.as_str(), r.name.as_str()), ("list", "pods", ""));
        assert_eq!(parse(&Method::GET, "/api/v1/pods", true).verb, "watch");
        let r = p(Method::GET, "/api/v1/namespaces/ns");
        assert_eq!((r.resource.as_str(), r.name.as_str(), r.namespace.as_str()), ("namespaces", "ns", "ns"));
        let r = p(Method::PUT, "/api/v1/namespaces/ns/finalize");
        assert_eq!((r.resource.as_str(), r.subresource.as_str()), ("namespaces", "finalize"));
        let r = p(Method::DELETE, "/api/v1/namespaces/ns/pods");
        assert_eq!(r.verb, "deletecollection");
        for path in ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/openapi/v3"] {
            let r = p(Method::GET, path);
            assert!(!r.resource_request, "{path}");
            assert_eq!(r.verb, "get");
        }
    }
}
