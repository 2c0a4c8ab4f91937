//! Target resolution: Service → selector → pods → owning ReplicaSet → workload.
//!
//! Nothing here assumes the Deployment is named like the Service or labelled `app=<service>`:
//! the workload is found through the pods' controller ownerReferences, and, when no pod
//! matches (scaled to 0), through the pod-template labels of the namespace's workloads.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};

/// Discovery overrides from the command line (`--selector`, `--port`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// An equality label selector (`k=v,k2=v2`) used instead of the Service's.
    pub selector: Option<String>,
    /// The Service port (or target port) to verify, instead of the Service's first port.
    pub port: Option<u16>,
}

/// The kind of workload that owns the Service's pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
}

impl WorkloadKind {
    /// The lowercase kind as kubectl spells it in `deployment/<name>`.
    pub fn as_kubectl(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
        }
    }

    /// The API kind (`Deployment`, `StatefulSet`).
    pub fn as_kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_kubectl())
    }
}

/// The workload behind a Service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkloadRef {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Its name (not necessarily the Service's).
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// The Service port that verification should use.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedPort {
    /// The Service's port number.
    pub port: u16,
    /// The pods' port it forwards to (the Service port number when unset).
    pub target_port: IntOrString,
    /// The port's name, if it has one.
    pub name: Option<String>,
}

/// Everything later stages need to know about what to heal.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The namespace.
    pub namespace: String,
    /// The Service's name.
    pub service_name: String,
    /// The Service as read.
    pub service: Service,
    /// The selector in effect (the override or the Service's).
    pub selector: BTreeMap<String, String>,
    /// The owning workload; `None` when the selector matches no pod and no pod template.
    pub workload: Option<WorkloadRef>,
    /// The port to verify, if the Service has one.
    pub port: Option<ResolvedPort>,
}

/// Why a target could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The Service does not exist.
    #[error("failed to find service {namespace}/{name}: it does not exist")]
    ServiceNotFound {
        /// Namespace searched.
        namespace: String,
        /// Service name.
        name: String,
    },
    /// The Service has no selector, so no pods belong to it (and `--selector` was not given).
    #[error(
        "failed to resolve service {namespace}/{name}: it has no selector, so no pods belong to it; pass --selector to name them"
    )]
    NoSelector {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
    },
    /// `--selector` is not an equality selector.
    #[error("failed to parse selector {selector:?}: {reason}")]
    InvalidSelector {
        /// The text given.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The API server refused or could not be reached.
    #[error("failed to {what}")]
    Api {
        /// What was being read, e.g. `read service cortex-system/x`.
        what: String,
        /// The client error (unreachable, forbidden...).
        #[source]
        source: kube::Error,
    },
}

impl ResolveError {
    /// The underlying client error, if this came from the API (to map to exit 5).
    pub fn kube_error(&self) -> Option<&kube::Error> {
        match self {
            ResolveError::Api { source, .. } => Some(source),
            _ => None,
        }
    }

    /// What was being done and the client error, for `crate::error::Error::api(doing, err)`.
    pub fn api_parts(&self) -> Option<(&str, &kube::Error)> {
        match self {
            ResolveError::Api { what, source } => Some((what, source)),
            _ => None,
        }
    }
}

/// Finds the Service, its selector, workload and port.
///
/// # Errors
/// [`ResolveError::ServiceNotFound`] when the Service is missing, [`ResolveError::NoSelector`]
/// when it selects nothing, [`ResolveError::InvalidSelector`] for a bad `--selector`, and
/// [`ResolveError::Api`] (carrying the `kube::Error`) when the API fails. A selector that matches
/// no pod and no workload is not an error: `Target.workload` is then `None`.
pub async fn resolve(
    client: &kube::Client,
    namespace: &str,
    service: &str,
    overrides: &Overrides,
) -> Result<Target, ResolveError> {
    let api_err = |what: String| move |source| ResolveError::Api { what, source };
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let svc = services
        .get_opt(service)
        .await
        .map_err(api_err(format!("read service {namespace}/{service}")))?
        .ok_or_else(|| ResolveError::ServiceNotFound { namespace: namespace.into(), name: service.into() })?;

    let selector = match &overrides.selector {
        Some(text) => parse_selector(text)?,
        None => svc.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default(),
    };
    if selector.is_empty() {
        return Err(ResolveError::NoSelector { namespace: namespace.into(), name: service.into() });
    }
    let port = resolve_port(&svc, overrides.port);

    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod_list = pods
        .list(&ListParams::default().labels(&selector_string(&selector)))
        .await
        .map_err(api_err(format!("list pods of service {namespace}/{service}")))?
        .items;
    let mut workload = None;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    for (kind, name) in owners_by_count(&pod_list) {
        match kind.as_str() {
            "StatefulSet" => workload = Some(WorkloadRef { kind: WorkloadKind::StatefulSet, name }),
            "ReplicaSet" => {
                let rs = replica_sets
                    .get_opt(&name)
                    .await
                    .map_err(api_err(format!("read replicaset {namespace}/{name}")))?;
                let dep = rs.as_ref().and_then(|rs| controller_of(rs.metadata.owner_references.as_deref()));
                if let Some(dep) = dep.filter(|d| d.kind == "Deployment") {
                    workload = Some(WorkloadRef { kind: WorkloadKind::Deployment, name: dep.name.clone() });
                }
            }
            _ => {}
        }
        if workload.is_some() {
            break;
        }
    }

    if workload.is_none() {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
        let (deps, sets) = futures::try_join!(
            async {
                deployments
                    .list(&ListParams::default())
                    .await
                    .map_err(api_err(format!("list deployments in {namespace}")))
            },
            async {
                statefulsets
                    .list(&ListParams::default())
                    .await
                    .map_err(api_err(format!("list statefulsets in {namespace}")))
            },
        )?;
        let mut candidates: Vec<(WorkloadRef, Option<&PodTemplateSpec>)> = Vec::new();
        for d in &deps.items {
            let r = WorkloadRef { kind: WorkloadKind::Deployment, name: d.metadata.name.clone().unwrap_or_default() };
            candidates.push((r, d.spec.as_ref().map(|s| &s.template)));
        }
        for s in &sets.items {
            let r = WorkloadRef { kind: WorkloadKind::StatefulSet, name: s.metadata.name.clone().unwrap_or_default() };
            candidates.push((r, s.spec.as_ref().map(|s| &s.template)));
        }
        workload = pick_by_template(service, &selector, &candidates);
    }

    Ok(Target { namespace: namespace.into(), service_name: service.into(), service: svc, selector, workload, port })
}

/// The pods' controllers as (kind, name), the one owning most live pods first (then by name),
/// so a Service that also selects a one-pod canary resolves to the main workload.
pub fn owners_by_count(pods: &[Pod]) -> Vec<(String, String)> {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for p in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        if let Some(o) = controller_of(p.metadata.owner_references.as_deref()) {
            *counts.entry((o.kind.clone(), o.name.clone())).or_default() += 1;
        }
    }
    let mut owners: Vec<((String, String), usize)> = counts.into_iter().collect();
    owners.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    owners.into_iter().map(|(o, _)| o).collect()
}

/// The controller ownerReference among `owners`, if any.
pub fn controller_of(owners: Option<&[OwnerReference]>) -> Option<&OwnerReference> {
    owners?.iter().find(|o| o.controller == Some(true))
}

/// Whether every `selector` pair is among `labels` (an empty selector matches nothing here:
/// a Service without selector selects no pods).
pub fn selector_matches(selector: &BTreeMap<String, String>, labels: Option<&BTreeMap<String, String>>) -> bool {
    let Some(labels) = labels else { return false };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Chooses, among workloads, one whose pod template the selector matches: the one named like
/// the Service if any, else the first by name.
fn pick_by_template(
    service: &str,
    selector: &BTreeMap<String, String>,
    candidates: &[(WorkloadRef, Option<&PodTemplateSpec>)],
) -> Option<WorkloadRef> {
    let mut matching: Vec<&WorkloadRef> = candidates
        .iter()
        .filter(|(_, t)| {
            selector_matches(selector, t.and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.as_ref()))
        })
        .map(|(r, _)| r)
        .collect();
    matching.sort_by_key(|r| (r.name != service, r.name.clone(), r.kind == WorkloadKind::StatefulSet));
    matching.first().map(|r| (*r).clone())
}

/// `k=v,k2=v2` for a label-selector query parameter.
pub fn selector_string(selector: &BTreeMap<String, String>) -> String {
    selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Parses an equality selector `k=v,k2==v2` (the only form a Service selector can express).
///
/// # Errors
/// [`ResolveError::InvalidSelector`] for set-based or malformed selectors.
pub fn parse_selector(text: &str) -> Result<BTreeMap<String, String>, ResolveError> {
    let invalid = |reason: &str| ResolveError::InvalidSelector { selector: text.into(), reason: reason.into() };
    let mut out = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains("!=") || part.contains(" in ") || part.contains("notin") {
            return Err(invalid("only equality selectors (key=value) can select a Service's pods"));
        }
        let (k, v) =
            part.split_once("==").or_else(|| part.split_once('=')).ok_or_else(|| invalid("expected key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        let ok = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        if k.is_empty() || !ok(k) || !ok(v) {
            return Err(invalid("keys and values may hold only letters, digits, '-', '_', '.' and '/'"));
        }
        out.insert(k.to_string(), v.to_string());
    }
    if out.is_empty() {
        return Err(invalid("it is empty"));
    }
    Ok(out)
}

/// The Service port to verify: the one matching `--port` (by port or target port), else the
/// first. `--port` that matches none is used as given.
pub fn resolve_port(service: &Service, wanted: Option<u16>) -> Option<ResolvedPort> {
    let ports = service.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or_default();
    let to_resolved = |p: &k8s_openapi::api::core::v1::ServicePort| {
        let port = u16::try_from(p.port).ok()?;
        Some(ResolvedPort {
            port,
            target_port: p.target_port.clone().unwrap_or(IntOrString::Int(p.port)),
            name: p.name.clone(),
        })
    };
    match wanted {
        Some(w) => {
            let hit = ports
                .iter()
                .find(|p| p.port == i32::from(w))
                .or_else(|| ports.iter().find(|p| p.target_port == Some(IntOrString::Int(i32::from(w)))));
            Some(hit.and_then(to_resolved).unwrap_or(ResolvedPort {
                port: w,
                target_port: IntOrString::Int(i32::from(w)),
                name: None,
            }))
        }
        None => ports.iter().find_map(to_resolved),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parses_equality_selectors() {
        let s = parse_selector("app=sandfly, tier==backend").unwrap();
        assert_eq!(s.get("app").map(String::as_str), Some("sandfly"));
        assert_eq!(s.get("tier").map(String::as_str), Some("backend"));
        assert_eq!(selector_string(&s), "app=sandfly,tier=backend");
        for bad in ["", "app", "app!=x", "env in (a,b)", "a=b;c", "=x"] {
            assert!(parse_selector(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn selector_needs_every_pair() {
        let sel = parse_selector("app=a,tier=b").unwrap();
        let labels: BTreeMap<String, String> =
            [("app", "a"), ("tier", "b"), ("pod-template-hash", "x")].map(|(k, v)| (k.into(), v.into())).into();
        assert!(selector_matches(&sel, Some(&labels)));
        let only_app: BTreeMap<String, String> = [("app".to_string(), "a".to_string())].into();
        assert!(!selector_matches(&sel, Some(&only_app)));
        assert!(!selector_matches(&BTreeMap::new(), Some(&labels)));
        assert!(!selector_matches(&sel, None));
    }

    #[test]
    fn port_defaults_to_first_and_honours_override() {
        let s = svc(json!({"metadata":{"name":"s"},"spec":{"selector":{"app":"a"},"ports":[
            {"name":"http","port":3000,"targetPort":3000,"protocol":"TCP"},
            {"name":"metrics","port":9090,"targetPort":"metrics"}]}}));
        let p = resolve_port(&s, None).unwrap();
        assert_eq!((p.port, p.name.as_deref()), (3000, Some("http")));
        let p = resolve_port(&s, Some(9090)).unwrap();
        assert_eq!(p.target_port, IntOrString::String("metrics".into()));
        let p = resolve_port(&s, Some(8080)).unwrap();
        assert_eq!((p.port, p.name), (8080, None));
        let bare = svc(json!({"metadata":{"name":"s"},"spec":{"selector":{"app":"a"}}}));
        assert_eq!(resolve_port(&bare, None), None);
    }

    #[test]
    fn target_port_defaults_to_port() {
        let s = svc(json!({"metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}}));
        assert_eq!(resolve_port(&s, None).unwrap().target_port, IntOrString::Int(80));
    }

    #[test]
    fn template_match_prefers_the_service_name_but_never_requires_it() {
        let tpl = |labels: serde_json::Value| -> PodTemplateSpec {
            serde_json::from_value(json!({"metadata":{"labels":labels}})).unwrap()
        };
        let a = tpl(json!({"app":"sandfly"}));
        let b = tpl(json!({"app":"other"}));
        let dep = |n: &str| WorkloadRef { kind: WorkloadKind::Deployment, name: n.into() };
        let sel = parse_selector("app=sandfly").unwrap();
        // An alias Service: the only matching Deployment has another name.
        let cands = vec![(dep("other"), Some(&b)), (dep("sandfly-core"), Some(&a))];
        assert_eq!(pick_by_template("sandfly-alias", &sel, &cands), Some(dep("sandfly-core")));
        let cands = vec![(dep("aaa"), Some(&a)), (dep("sandfly-alias"), Some(&a))];
        assert_eq!(pick_by_template("sandfly-alias", &sel, &cands), Some(dep("sandfly-alias")));
        let cands = vec![(dep("other"), Some(&b)), (dep("none"), None)];
        assert_eq!(pick_by_template("x", &sel, &cands), None);
    }

    use crate::diagnose::fake_api::{self, list};

    const NS: &str = "cortex-system";

    fn alias_service() -> serde_json::Value {
        json!({"kind":"Service","apiVersion":"v1","metadata":{"name":"sandfly-alias","namespace":NS},
            "spec":{"selector":{"app":"sandfly"},"ports":[{"name":"http","port":80,"targetPort":3000}]}})
    }

    fn core_deployment() -> serde_json::Value {
        json!({"metadata":{"name":"sandfly-core","namespace":NS},"spec":{"replicas":0,
            "selector":{"matchLabels":{"app":"sandfly"}},
            "template":{"metadata":{"labels":{"app":"sandfly","tier":"mcp"}},"spec":{"containers":[{"name":"server","image":"i"}]}}}})
    }

    #[tokio::test]
    async fn alias_service_resolves_through_owner_references() {
        let pod = json!({"metadata":{"name":"sandfly-core-6f74859f89-abcde","namespace":NS,"labels":{"app":"sandfly"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"sandfly-core-6f74859f89","uid":"1","controller":true}]}});
        let rs = json!({"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{"name":"sandfly-core-6f74859f89","namespace":NS,
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"sandfly-core","uid":"2","controller":true}]},
            "spec":{"selector":{"matchLabels":{"app":"sandfly"}}}});
        let (client, log) = fake_api::start(vec![
            ("/services/sandfly-alias", 200, alias_service()),
            ("/pods", 200, list("PodList", vec![pod])),
            ("/replicasets/sandfly-core-6f74859f89", 200, rs),
        ])
        .await;
        let t = resolve(&client, NS, "sandfly-alias", &Overrides::default()).await.unwrap();
        assert_eq!(t.workload, Some(WorkloadRef { kind: WorkloadKind::Deployment, name: "sandfly-core".into() }));
        assert_eq!(t.port.map(|p| p.port), Some(80));
        let seen = log.lock().unwrap().clone();
        assert!(seen.iter().any(|r| r.contains("/pods?") && r.contains("labelSelector=app%3Dsandfly")), "{seen:?}");
    }

    #[tokio::test]
    async fn scaled_to_zero_resolves_through_pod_templates() {
        let other = json!({"metadata":{"name":"web","namespace":NS},"spec":{"selector":{"matchLabels":{"app":"web"}},
            "template":{"metadata":{"labels":{"app":"web"}}}}});
        let (client, _) = fake_api::start(vec![
            ("/services/sandfly-alias", 200, alias_service()),
            ("/pods", 200, list("PodList", vec![])),
            ("/deployments", 200, list("DeploymentList", vec![other, core_deployment()])),
            ("/statefulsets", 200, list("StatefulSetList", vec![])),
        ])
        .await;
        let t = resolve(&client, NS, "sandfly-alias", &Overrides::default()).await.unwrap();
        assert_eq!(t.workload.map(|w| w.name), Some("sandfly-core".into()));
    }

    #[tokio::test]
    async fn nothing_matching_is_not_an_error() {
        let (client, _) = fake_api::start(vec![
            ("/services/sandfly-alias", 200, alias_service()),
            ("/pods", 200, list("PodList", vec![])),
            ("/deployments", 200, list("DeploymentList", vec![])),
            ("/statefulsets", 200, list("StatefulSetList", vec![])),
        ])
        .await;
        let t = resolve(&client, NS, "sandfly-alias", &Overrides::default()).await.unwrap();
        assert_eq!(t.workload, None);
        // The selector override wins over the Service's.
        let o = Overrides { selector: Some("app=other".into()), port: Some(3000) };
        let t = resolve(&client, NS, "sandfly-alias", &o).await.unwrap();
        assert_eq!(t.selector.get("app").map(String::as_str), Some("other"));
        assert_eq!(t.port.map(|p| p.port), Some(80), "--port matches the target port 3000 of port 80");
    }

    #[tokio::test]
    async fn missing_service_selectorless_service_and_forbidden() {
        let bare =
            json!({"metadata":{"name":"ext","namespace":NS},"spec":{"type":"ExternalName","externalName":"x.example"}});
        let forbidden = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"services \"locked\" is forbidden: User \"system:anonymous\" cannot get resource \"services\" in API group \"\" in the namespace \"cortex-system\"",
            "reason":"Forbidden","code":403});
        let (client, _) =
            fake_api::start(vec![("/services/ext", 200, bare), ("/services/locked", 403, forbidden)]).await;
        let e = resolve(&client, NS, "nope", &Overrides::default()).await.unwrap_err();
        assert!(matches!(e, ResolveError::ServiceNotFound { .. }), "{e:?}");
        assert_eq!(e.to_string(), "failed to find service cortex-system/nope: it does not exist");
        let e = resolve(&client, NS, "ext", &Overrides::default()).await.unwrap_err();
        assert!(matches!(e, ResolveError::NoSelector { .. }), "{e:?}");
        let e = resolve(&client, NS, "locked", &Overrides::default()).await.unwrap_err();
        let (doing, source) = e.api_parts().unwrap();
        assert_eq!(doing, "read service cortex-system/locked");
        assert!(matches!(source, kube::Error::Api(s) if s.code == 403));
    }

    #[test]
    fn the_owner_of_most_live_pods_comes_first() {
        let pod = |name: &str, rs: &str, deleting: bool| -> Pod {
            let mut v = json!({"metadata":{"name":name,"ownerReferences":[
                {"apiVersion":"apps/v1","kind":"ReplicaSet","name":rs,"uid":"1","controller":true}]}});
            if deleting {
                v["metadata"]["deletionTimestamp"] = json!("2026-11-28T10:00:00Z");
            }
            serde_json::from_value(v).unwrap()
        };
        let pods = vec![
            pod("a-canary", "a-canary-1", false),
            pod("b-1", "main-1", false),
            pod("b-2", "main-1", false),
            pod("c-1", "zzz-old", true),
            pod("c-2", "zzz-old", true),
            pod("c-3", "zzz-old", true),
        ];
        let owners = owners_by_count(&pods);
        assert_eq!(owners, vec![("ReplicaSet".into(), "main-1".into()), ("ReplicaSet".into(), "a-canary-1".into())]);
    }

    #[test]
    fn controller_owner_is_the_one_with_controller_true() {
        let pod: Pod = serde_json::from_value(json!({"metadata":{"name":"p","ownerReferences":[
            {"apiVersion":"v1","kind":"Node","name":"n","uid":"1"},
            {"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-6f74859f89","uid":"2","controller":true,"blockOwnerDeletion":true}]}}))
        .unwrap();
        assert_eq!(controller_of(pod.metadata.owner_references.as_deref()).unwrap().name, "web-6f74859f89");
    }
}
