//! Target resolution: Service → selector → pods → owning ReplicaSet → workload, every link
//! proven.
//!
//! Nothing here assumes the Deployment is named like the Service or labelled `app=<service>`,
//! and nothing read from the cluster is trusted on its word: a pod's controller ownerReference
//! must name a ReplicaSet by name **and** uid, that ReplicaSet's must name the Deployment by
//! name and uid, the Deployment's selector must select the pod, and the Service's selector
//! must match the Deployment's pod template. A broken link is [`ResolveError::BrokenLink`]
//! (exit 3, naming it), never a guess. When no pod matches (scaled to 0), the workload is found
//! through the pod-template labels of the namespace's workloads. Every workload name is
//! checked as a DNS-1123 subdomain before later stages put it in a request path.
//!
//! Round trips: the Service GET, then one concurrent round of paged LISTs (pods by selector,
//! ReplicaSets by selector, Deployments, StatefulSets); the links are checked locally.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};

use crate::names;

/// Objects asked for per page of a LIST.
pub const PAGE_LIMIT: u32 = 500;
/// Pages read at most per LIST (so a hostile or huge namespace cannot grow memory unbounded).
pub const MAX_PAGES: usize = 20;

/// Discovery overrides from the command line (`--selector`, `--port`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// An equality label selector (`k=v,k2=v2`) used instead of the Service's.
    pub selector: Option<String>,
    /// The Service port (or target port) to verify, instead of the Service's first port.
    pub port: Option<u16>,
}

/// The kind of workload that owns the Service's pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// The workload behind a Service. Its name is a valid DNS-1123 subdomain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// A link from the Service's pods to their workload does not hold (exit 3).
    #[error("failed to prove which workload serves service {namespace}/{name}: {link}")]
    BrokenLink {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
        /// The link that does not hold, as a sentence (names quoted, control characters removed).
        link: String,
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

/// Lists every object `lp` selects, [`PAGE_LIMIT`] per page (`limit`/`continue`), at most
/// [`MAX_PAGES`] pages.
///
/// # Errors
/// The kube error of the first page that fails.
pub async fn list_paged<K>(api: &Api<K>, lp: &ListParams) -> Result<Vec<K>, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut lp = lp.clone().limit(PAGE_LIMIT);
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = api.list(&lp).await?;
        items.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => return Ok(items),
        }
    }
    tracing::warn!("stopped listing after {MAX_PAGES} pages of {PAGE_LIMIT}");
    Ok(items)
}

/// Finds the Service, its selector, workload and port.
///
/// # Errors
/// [`ResolveError::ServiceNotFound`] when the Service is missing, [`ResolveError::NoSelector`]
/// when it selects nothing, [`ResolveError::InvalidSelector`] for a bad `--selector`,
/// [`ResolveError::BrokenLink`] when a pod's chain of owners does not hold, and
/// [`ResolveError::Api`] (carrying the `kube::Error`) when the API fails. A selector that
/// matches no pod and no workload is not an error: `Target.workload` is then `None`.
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
    // A Service's selector is validated by the API server, but a hostile or broken one must
    // not smuggle another requirement into the query: only label-like keys and values pass.
    if let Err(e) = parse_selector(&selector_string(&selector)) {
        return Err(ResolveError::BrokenLink {
            namespace: namespace.into(),
            name: service.into(),
            link: format!("its selector is not a plain equality selector ({e})"),
        });
    }
    let port = resolve_port(&svc, overrides.port);

    // One concurrent round: everything the links are checked against.
    let by_selector = ListParams::default().labels(&selector_string(&selector));
    let (pods, replica_sets, deployments, statefulsets) = futures::try_join!(
        async {
            list_paged(&Api::<Pod>::namespaced(client.clone(), namespace), &by_selector)
                .await
                .map_err(api_err(format!("list pods of service {namespace}/{service}")))
        },
        async {
            list_paged(&Api::<ReplicaSet>::namespaced(client.clone(), namespace), &by_selector)
                .await
                .map_err(api_err(format!("list replicasets of service {namespace}/{service}")))
        },
        async {
            list_paged(&Api::<Deployment>::namespaced(client.clone(), namespace), &ListParams::default())
                .await
                .map_err(api_err(format!("list deployments in {namespace}")))
        },
        async {
            list_paged(&Api::<StatefulSet>::namespaced(client.clone(), namespace), &ListParams::default())
                .await
                .map_err(api_err(format!("list statefulsets in {namespace}")))
        },
    )?;

    let objects =
        Objects { pods: &pods, replica_sets: &replica_sets, deployments: &deployments, statefulsets: &statefulsets };
    let workload = match link(&selector, &objects) {
        Ok(Some(w)) => Some(w),
        Ok(None) => {
            let mut candidates: Vec<(WorkloadRef, Option<&PodTemplateSpec>)> = Vec::new();
            for d in &deployments {
                if let Some(name) = d.metadata.name.clone().filter(|n| names::is_subdomain(n)) {
                    candidates.push((
                        WorkloadRef { kind: WorkloadKind::Deployment, name },
                        d.spec.as_ref().map(|s| &s.template),
                    ));
                }
            }
            for s in &statefulsets {
                if let Some(name) = s.metadata.name.clone().filter(|n| names::is_subdomain(n)) {
                    candidates.push((
                        WorkloadRef { kind: WorkloadKind::StatefulSet, name },
                        s.spec.as_ref().map(|s| &s.template),
                    ));
                }
            }
            pick_by_template(service, &selector, &candidates)
        }
        Err(link) => {
            return Err(ResolveError::BrokenLink { namespace: namespace.into(), name: service.into(), link });
        }
    };

    Ok(Target { namespace: namespace.into(), service_name: service.into(), service: svc, selector, workload, port })
}

/// What the links are checked against.
pub struct Objects<'a> {
    /// The pods the selector selects.
    pub pods: &'a [Pod],
    /// The ReplicaSets the selector selects.
    pub replica_sets: &'a [ReplicaSet],
    /// The namespace's Deployments.
    pub deployments: &'a [Deployment],
    /// The namespace's StatefulSets.
    pub statefulsets: &'a [StatefulSet],
}

/// A name from the cluster as shown in a sentence: quoted, cut, control characters removed.
fn q(name: &str) -> String {
    format!("{:?}", names::strip_controls(&name.chars().take(80).collect::<String>()))
}

fn owner_text(kind: &str, o: &OwnerReference) -> String {
    format!("{kind} {} (uid {})", q(&o.name), q(&o.uid))
}

/// Proves the chain of every live selected pod that has a ReplicaSet or StatefulSet
/// controller, and returns the workload serving most of them (then by kind and name), or
/// `None` when no pod has such a controller.
///
/// # Errors
/// The first broken link, as a sentence.
pub fn link(selector: &BTreeMap<String, String>, objects: &Objects<'_>) -> Result<Option<WorkloadRef>, String> {
    let mut counts: BTreeMap<WorkloadRef, usize> = BTreeMap::new();
    for pod in objects.pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let labels = pod.metadata.labels.as_ref();
        // A server that ignored the label selector must not bring in other pods.
        if !selector_matches(selector, labels) {
            continue;
        }
        let Some(owner) = controller_of(pod.metadata.owner_references.as_deref()) else { continue };
        let (kind, name, template, workload_selector) = match owner.kind.as_str() {
            "ReplicaSet" => {
                let rs = objects
                    .replica_sets
                    .iter()
                    .find(|rs| rs.metadata.name.as_deref() == Some(&owner.name) && rs.metadata.uid.as_deref() == Some(&owner.uid))
                    .ok_or_else(|| {
                        format!(
                            "pod {} names {} as its controller, but no ReplicaSet with that name and uid carries the selected labels",
                            q(pod_name),
                            owner_text("ReplicaSet", owner)
                        )
                    })?;
                // A ReplicaSet without a Deployment is not a workload self-heal acts on.
                let Some(dep_ref) =
                    controller_of(rs.metadata.owner_references.as_deref()).filter(|o| o.kind == "Deployment")
                else {
                    continue;
                };
                let dep = objects
                    .deployments
                    .iter()
                    .find(|d| {
                        d.metadata.name.as_deref() == Some(&dep_ref.name)
                            && d.metadata.uid.as_deref() == Some(&dep_ref.uid)
                    })
                    .ok_or_else(|| {
                        format!(
                            "ReplicaSet {} names {} as its controller, but no Deployment has that name and uid",
                            q(&owner.name),
                            owner_text("Deployment", dep_ref)
                        )
                    })?;
                let spec = dep.spec.as_ref();
                (WorkloadKind::Deployment, &dep_ref.name, spec.map(|s| &s.template), spec.map(|s| &s.selector))
            }
            "StatefulSet" => {
                let set = objects
                    .statefulsets
                    .iter()
                    .find(|s| {
                        s.metadata.name.as_deref() == Some(&owner.name) && s.metadata.uid.as_deref() == Some(&owner.uid)
                    })
                    .ok_or_else(|| {
                        format!(
                            "pod {} names {} as its controller, but no StatefulSet has that name and uid",
                            q(pod_name),
                            owner_text("StatefulSet", owner)
                        )
                    })?;
                let spec = set.spec.as_ref();
                (WorkloadKind::StatefulSet, &owner.name, spec.map(|s| &s.template), spec.map(|s| &s.selector))
            }
            _ => continue,
        };
        let shown = format!("{} {}", kind.as_kind(), q(name));
        if names::validate_subdomain("workload name", name).is_err() {
            return Err(format!("{shown} is not a valid Kubernetes name"));
        }
        if !workload_selector.is_some_and(|s| label_selector_selects(s, labels)) {
            return Err(format!("the selector of {shown} does not select pod {}", q(pod_name)));
        }
        let template_labels = template.and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.as_ref());
        if !selector_matches(selector, template_labels) {
            return Err(format!(
                "the Service selects {} but the pod template of {shown} is not labelled so",
                q(&selector_string(selector))
            ));
        }
        *counts.entry(WorkloadRef { kind, name: name.clone() }).or_default() += 1;
    }
    let best = counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
    Ok(best.map(|(w, _)| w))
}

/// Whether a workload's `LabelSelector` (matchLabels and matchExpressions) selects `labels`.
/// An empty selector selects nothing here (apps/v1 requires one).
pub fn label_selector_selects(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let match_labels = sel.match_labels.iter().flatten();
    let exprs = sel.match_expressions.iter().flatten();
    if sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
    {
        return false;
    }
    let labels_ok = match_labels.into_iter().all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = exprs.into_iter().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let got = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => got.is_some_and(|v| values.contains(v)),
            "NotIn" => got.is_none_or(|v| !values.contains(v)),
            "Exists" => got.is_some(),
            "DoesNotExist" => got.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
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

    fn linked_pod() -> serde_json::Value {
        json!({"metadata":{"name":"sandfly-core-6f74859f89-abcde","namespace":NS,"labels":{"app":"sandfly","tier":"mcp"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"sandfly-core-6f74859f89","uid":"1","controller":true}]}})
    }

    fn linked_rs() -> serde_json::Value {
        json!({"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{"name":"sandfly-core-6f74859f89","namespace":NS,"uid":"1",
            "labels":{"app":"sandfly","tier":"mcp"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"sandfly-core","uid":"2","controller":true}]},
            "spec":{"selector":{"matchLabels":{"app":"sandfly"}}}})
    }

    fn uid(mut v: serde_json::Value, uid: &str) -> serde_json::Value {
        v["metadata"]["uid"] = json!(uid);
        v
    }

    #[tokio::test]
    async fn alias_service_resolves_through_owner_references() {
        let (client, log) = fake_api::start(vec![
            ("/services/sandfly-alias", 200, alias_service()),
            ("/pods", 200, list("PodList", vec![linked_pod()])),
            ("/replicasets", 200, list("ReplicaSetList", vec![linked_rs()])),
            ("/deployments", 200, list("DeploymentList", vec![uid(core_deployment(), "2")])),
            ("/statefulsets", 200, list("StatefulSetList", vec![])),
        ])
        .await;
        let t = resolve(&client, NS, "sandfly-alias", &Overrides::default()).await.unwrap();
        assert_eq!(t.workload, Some(WorkloadRef { kind: WorkloadKind::Deployment, name: "sandfly-core".into() }));
        assert_eq!(t.port.map(|p| p.port), Some(80));
        let seen = log.lock().unwrap().clone();
        assert!(seen.iter().any(|r| r.contains("/pods?") && r.contains("labelSelector=app%3Dsandfly")), "{seen:?}");
        // Lists are paged.
        assert!(seen.iter().filter(|r| !r.contains("/services/")).all(|r| r.contains("limit=500")), "{seen:?}");
        // The Service, then one round of four lists: no GET by a name read from the cluster.
        assert_eq!(seen.len(), 5, "{seen:?}");
    }

    #[tokio::test]
    async fn a_hostile_owner_reference_is_a_broken_link_not_a_target() {
        // The pod claims the victim's ReplicaSet (by name, with a made-up uid).
        let victim_rs = json!({"metadata":{"name":"victim-5d8f","namespace":NS,"uid":"v1","labels":{"app":"victim"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"victim","uid":"v2","controller":true}]}});
        let victim = json!({"metadata":{"name":"victim","namespace":NS,"uid":"v2"},"spec":{
            "selector":{"matchLabels":{"app":"victim"}},"template":{"metadata":{"labels":{"app":"victim"}}}}});
        let pod = |rs_uid: &str, labels: serde_json::Value| {
            json!({"metadata":{"name":"evil","namespace":NS,"labels":labels,
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"victim-5d8f","uid":rs_uid,"controller":true}]}})
        };
        let rs = |v: &serde_json::Value| serde_json::from_value::<ReplicaSet>(v.clone()).unwrap();
        let dep = |v: &serde_json::Value| serde_json::from_value::<Deployment>(v.clone()).unwrap();
        let sel = parse_selector("app=sandfly").unwrap();
        // Wrong uid; then the right uid but a ReplicaSet the Service's selector does not carry.
        for p in [pod("forged", json!({"app":"sandfly"})), pod("v1", json!({"app":"sandfly","x":"y"}))] {
            let pods = [serde_json::from_value::<Pod>(p).unwrap()];
            let objects = Objects { pods: &pods, replica_sets: &[], deployments: &[dep(&victim)], statefulsets: &[] };
            let err = link(&sel, &objects).unwrap_err();
            assert!(err.contains("ReplicaSet \"victim-5d8f\"") && err.contains("no ReplicaSet"), "{err}");
        }
        // Everything named right (the RS listed too, e.g. it also carries the label), but the
        // victim's selector does not select the pod.
        let pods = [serde_json::from_value::<Pod>(pod("v1", json!({"app":"sandfly"}))).unwrap()];
        let objects =
            Objects { pods: &pods, replica_sets: &[rs(&victim_rs)], deployments: &[dep(&victim)], statefulsets: &[] };
        let err = link(&sel, &objects).unwrap_err();
        assert!(err.contains("selector of Deployment \"victim\" does not select pod \"evil\""), "{err}");
        // The pod also carries the victim's labels: the victim's template still does not match
        // the Service's selector.
        let pods = [serde_json::from_value::<Pod>(pod("v1", json!({"app":"sandfly","x":"victim"}))).unwrap()];
        let mut victim_both = victim.clone();
        victim_both["spec"]["selector"] = json!({"matchLabels":{"x":"victim"}});
        let objects = Objects {
            pods: &pods,
            replica_sets: &[rs(&victim_rs)],
            deployments: &[dep(&victim_both)],
            statefulsets: &[],
        };
        let err = link(&sel, &objects).unwrap_err();
        assert!(err.contains("pod template of Deployment \"victim\""), "{err}");
        // A Deployment uid that does not match.
        let mut other_uid = victim.clone();
        other_uid["metadata"]["uid"] = json!("v3");
        let objects = Objects {
            pods: &pods,
            replica_sets: &[rs(&victim_rs)],
            deployments: &[dep(&other_uid)],
            statefulsets: &[],
        };
        assert!(link(&sel, &objects).unwrap_err().contains("no Deployment has that name and uid"));
    }

    #[tokio::test]
    async fn a_path_escaping_owner_name_is_never_requested() {
        let evil = "../../../../api/v1/namespaces/kube-system/secrets/admin-token?x=";
        let pod = json!({"metadata":{"name":"p","namespace":NS,"labels":{"app":"sandfly"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":evil,"uid":"1","controller":true}]}});
        let (client, log) = fake_api::start(vec![
            ("/services/sandfly-alias", 200, alias_service()),
            ("/pods", 200, list("PodList", vec![pod])),
            ("/replicasets", 200, list("ReplicaSetList", vec![])),
            ("/deployments", 200, list("DeploymentList", vec![])),
            ("/statefulsets", 200, list("StatefulSetList", vec![])),
        ])
        .await;
        let e = resolve(&client, NS, "sandfly-alias", &Overrides::default()).await.unwrap_err();
        assert!(matches!(e, ResolveError::BrokenLink { .. }), "{e:?}");
        let seen = log.lock().unwrap().clone();
        assert!(!seen.iter().any(|r| r.contains("secrets") || r.contains("..")), "{seen:?}");
    }

    #[tokio::test]
    async fn scaled_to_zero_resolves_through_pod_templates() {
        let other = json!({"metadata":{"name":"web","namespace":NS},"spec":{"selector":{"matchLabels":{"app":"web"}},
            "template":{"metadata":{"labels":{"app":"web"}}}}});
        let (client, _) = fake_api::start(vec![
            ("/services/sandfly-alias", 200, alias_service()),
            ("/pods", 200, list("PodList", vec![])),
            ("/replicasets", 200, list("ReplicaSetList", vec![])),
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
            ("/replicasets", 200, list("ReplicaSetList", vec![])),
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
    fn the_workload_of_most_live_pods_comes_first() {
        let pod = |name: &str, rs: &str, deleting: bool| -> Pod {
            let mut v = json!({"metadata":{"name":name,"labels":{"app":"a"},"ownerReferences":[
                {"apiVersion":"apps/v1","kind":"ReplicaSet","name":rs,"uid":format!("u-{rs}"),"controller":true}]}});
            if deleting {
                v["metadata"]["deletionTimestamp"] = json!("2026-11-28T10:00:00Z");
            }
            serde_json::from_value(v).unwrap()
        };
        let rs = |name: &str, dep: &str| -> ReplicaSet {
            serde_json::from_value(json!({"metadata":{"name":name,"uid":format!("u-{name}"),"ownerReferences":[
                {"apiVersion":"apps/v1","kind":"Deployment","name":dep,"uid":format!("d-{dep}"),"controller":true}]}}))
            .unwrap()
        };
        let dep = |name: &str| -> Deployment {
            serde_json::from_value(json!({"metadata":{"name":name,"uid":format!("d-{name}")},"spec":{
                "selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}}}}}))
            .unwrap()
        };
        let pods = vec![
            pod("a-canary", "canary-1", false),
            pod("b-1", "main-1", false),
            pod("b-2", "main-1", false),
            pod("c-1", "zzz-1", true),
            pod("c-2", "zzz-1", true),
            pod("c-3", "zzz-1", true),
        ];
        let sets = [rs("canary-1", "canary"), rs("main-1", "main")];
        let deps = [dep("canary"), dep("main")];
        let objects = Objects { pods: &pods, replica_sets: &sets, deployments: &deps, statefulsets: &[] };
        let w = link(&parse_selector("app=a").unwrap(), &objects).unwrap();
        assert_eq!(w, Some(WorkloadRef { kind: WorkloadKind::Deployment, name: "main".into() }));
    }

    #[test]
    fn statefulset_links_need_name_uid_and_selectors() {
        let pod = |uid: &str| -> Pod {
            serde_json::from_value(json!({"metadata":{"name":"db-0","labels":{"app":"db"},"ownerReferences":[
                {"apiVersion":"apps/v1","kind":"StatefulSet","name":"db","uid":uid,"controller":true}]}}))
            .unwrap()
        };
        let set = |name: &str| -> StatefulSet {
            serde_json::from_value(json!({"metadata":{"name":name,"uid":"s1"},"spec":{"serviceName":"db",
                "selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}}}}}))
            .unwrap()
        };
        let sel = parse_selector("app=db").unwrap();
        let pods = [pod("s1")];
        let sets = [set("db")];
        let objects = Objects { pods: &pods, replica_sets: &[], deployments: &[], statefulsets: &sets };
        assert_eq!(link(&sel, &objects), Ok(Some(WorkloadRef { kind: WorkloadKind::StatefulSet, name: "db".into() })));
        let pods = [pod("other")];
        let objects = Objects { pods: &pods, replica_sets: &[], deployments: &[], statefulsets: &sets };
        assert!(link(&sel, &objects).unwrap_err().contains("no StatefulSet has that name and uid"));
        // Pods without a controller, or with one of another kind, prove nothing and break nothing.
        let bare: Pod = serde_json::from_value(json!({"metadata":{"name":"debug","labels":{"app":"db"}}})).unwrap();
        let objects =
            Objects { pods: std::slice::from_ref(&bare), replica_sets: &[], deployments: &[], statefulsets: &sets };
        assert_eq!(link(&sel, &objects), Ok(None));
    }

    #[test]
    fn label_selectors_with_expressions() {
        let sel: LabelSelector = serde_json::from_value(json!({"matchLabels":{"app":"a"},"matchExpressions":[
            {"key":"tier","operator":"In","values":["x","y"]},{"key":"canary","operator":"DoesNotExist"}]}))
        .unwrap();
        let labels = |v: serde_json::Value| -> BTreeMap<String, String> { serde_json::from_value(v).unwrap() };
        assert!(label_selector_selects(&sel, Some(&labels(json!({"app":"a","tier":"x"})))));
        assert!(!label_selector_selects(&sel, Some(&labels(json!({"app":"a","tier":"z"})))));
        assert!(!label_selector_selects(&sel, Some(&labels(json!({"app":"a","tier":"x","canary":"1"})))));
        assert!(!label_selector_selects(&LabelSelector::default(), Some(&labels(json!({"app":"a"})))));
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
