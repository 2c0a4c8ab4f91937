//! The API resources kube-sim serves: one table drives routing, discovery and the store's keys.

/// One served resource (a REST collection), as discovery describes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    /// API group; "" for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Plural name, the path segment (`deployments`).
    pub plural: &'static str,
    /// Singular name (`deployment`).
    pub singular: &'static str,
    /// Kind (`Deployment`).
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Subresources served (`status`, `scale`, `log`, `eviction`, `proxy`).
    pub subresources: &'static [&'static str],
    /// Discovery categories (`all`).
    pub categories: &'static [&'static str],
}

impl Resource {
    /// `apiVersion` of objects of this resource (`apps/v1`, `v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `plural[.group]`, the name Kubernetes uses in messages (`deployments.apps`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.to_string() } else { format!("{}.{}", self.plural, self.group) }
    }
}

macro_rules! res {
    ($group:expr, $version:expr, $plural:expr, $singular:expr, $kind:expr, $ns:expr, $short:expr, $sub:expr, $cat:expr) => {
        Resource {
            group: $group,
            version: $version,
            plural: $plural,
            singular: $singular,
            kind: $kind,
            namespaced: $ns,
            short_names: $short,
            subresources: $sub,
            categories: $cat,
        }
    };
}

/// Namespaces.
pub const NAMESPACES: Resource =
    res!("", "v1", "namespaces", "namespace", "Namespace", false, &["ns"], &["status"], &[]);
/// Nodes (kube-sim has one, `sim-node-1`).
pub const NODES: Resource = res!("", "v1", "nodes", "node", "Node", false, &["no"], &["status"], &[]);
/// Pods.
pub const PODS: Resource =
    res!("", "v1", "pods", "pod", "Pod", true, &["po"], &["status", "log", "eviction", "binding"], &["all"]);
/// Services.
pub const SERVICES: Resource =
    res!("", "v1", "services", "service", "Service", true, &["svc"], &["status", "proxy"], &["all"]);
/// Endpoints (deprecated in v1.33+, still served).
pub const ENDPOINTS: Resource = res!("", "v1", "endpoints", "endpoints", "Endpoints", true, &["ep"], &[], &[]);
/// ConfigMaps.
pub const CONFIGMAPS: Resource = res!("", "v1", "configmaps", "configmap", "ConfigMap", true, &["cm"], &[], &[]);
/// Secrets.
pub const SECRETS: Resource = res!("", "v1", "secrets", "secret", "Secret", true, &[], &[], &[]);
/// core/v1 Events.
pub const EVENTS: Resource = res!("", "v1", "events", "event", "Event", true, &["ev"], &[], &[]);
/// ServiceAccounts (kubectl and controllers expect `default`); `token` is TokenRequest.
pub const SERVICEACCOUNTS: Resource =
    res!("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, &["sa"], &["token"], &[]);
/// Deployments.
pub const DEPLOYMENTS: Resource =
    res!("apps", "v1", "deployments", "deployment", "Deployment", true, &["deploy"], &["status", "scale"], &["all"]);
/// ReplicaSets.
pub const REPLICASETS: Resource =
    res!("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, &["rs"], &["status", "scale"], &["all"]);
/// StatefulSets (stored and served; kube-sim runs no controller for them).
pub const STATEFULSETS: Resource =
    res!("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, &["sts"], &["status", "scale"], &["all"]);
/// EndpointSlices.
pub const ENDPOINTSLICES: Resource =
    res!("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, &[], &[], &[]);
/// events.k8s.io/v1 Events (same objects as core/v1 Events in a real server; kept apart here).
pub const EVENTS_V1: Resource = res!("events.k8s.io", "v1", "events", "event", "Event", true, &["ev"], &[], &[]);
/// Leases.
pub const LEASES: Resource = res!("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, &[], &[], &[]);
/// HorizontalPodAutoscalers.
pub const HPAS: Resource = res!(
    "autoscaling",
    "v2",
    "horizontalpodautoscalers",
    "horizontalpodautoscaler",
    "HorizontalPodAutoscaler",
    true,
    &["hpa"],
    &["status"],
    &["all"]
);

/// RBAC Roles.
pub const ROLES: Resource = res!("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, &[], &[], &[]);
/// RBAC ClusterRoles.
pub const CLUSTERROLES: Resource =
    res!("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, &[], &[], &[]);
/// RBAC RoleBindings.
pub const ROLEBINDINGS: Resource =
    res!("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, &[], &[], &[]);
/// RBAC ClusterRoleBindings.
pub const CLUSTERROLEBINDINGS: Resource = res!(
    "rbac.authorization.k8s.io",
    "v1",
    "clusterrolebindings",
    "clusterrolebinding",
    "ClusterRoleBinding",
    false,
    &[],
    &[],
    &[]
);
/// SelfSubjectAccessReviews (create only, never stored: `kubectl auth can-i`).
pub const SELFSUBJECTACCESSREVIEWS: Resource = res!(
    "authorization.k8s.io",
    "v1",
    "selfsubjectaccessreviews",
    "selfsubjectaccessreview",
    "SelfSubjectAccessReview",
    false,
    &[],
    &[],
    &[]
);
/// SelfSubjectRulesReviews (create only, never stored: `kubectl auth can-i --list`).
pub const SELFSUBJECTRULESREVIEWS: Resource = res!(
    "authorization.k8s.io",
    "v1",
    "selfsubjectrulesreviews",
    "selfsubjectrulesreview",
    "SelfSubjectRulesReview",
    false,
    &[],
    &[],
    &[]
);
/// PodDisruptionBudgets (stored and served; no disruption controller).
pub const PDBS: Resource = res!(
    "policy",
    "v1",
    "poddisruptionbudgets",
    "poddisruptionbudget",
    "PodDisruptionBudget",
    true,
    &["pdb"],
    &["status"],
    &[]
);
/// NetworkPolicies (stored and served; not enforced).
pub const NETWORKPOLICIES: Resource =
    res!("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, &["netpol"], &[], &[]);
/// ServiceMonitors of the Prometheus operator, as if its CRDs were installed (stored only).
pub const SERVICEMONITORS: Resource = res!(
    "monitoring.coreos.com",
    "v1",
    "servicemonitors",
    "servicemonitor",
    "ServiceMonitor",
    true,
    &["smon"],
    &[],
    &[]
);
/// PrometheusRules of the Prometheus operator, as if its CRDs were installed (stored only).
pub const PROMETHEUSRULES: Resource = res!(
    "monitoring.coreos.com",
    "v1",
    "prometheusrules",
    "prometheusrule",
    "PrometheusRule",
    true,
    &["promrule"],
    &[],
    &[]
);

/// Every served resource, in discovery order.
pub static ALL: &[&Resource] = &[
    &NAMESPACES,
    &NODES,
    &PODS,
    &SERVICES,
    &ENDPOINTS,
    &CONFIGMAPS,
    &SECRETS,
    &EVENTS,
    &SERVICEACCOUNTS,
    &DEPLOYMENTS,
    &REPLICASETS,
    &STATEFULSETS,
    &ENDPOINTSLICES,
    &EVENTS_V1,
    &LEASES,
    &HPAS,
    &ROLES,
    &CLUSTERROLES,
    &ROLEBINDINGS,
    &CLUSTERROLEBINDINGS,
    &SELFSUBJECTACCESSREVIEWS,
    &SELFSUBJECTRULESREVIEWS,
    &PDBS,
    &NETWORKPOLICIES,
    &SERVICEMONITORS,
    &PROMETHEUSRULES,
];

/// The resource served at `group/version/plural`.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    ALL.iter().copied().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource for an object's `apiVersion` and `kind` (used by `--seed`).
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static Resource> {
    ALL.iter().copied().find(|r| r.api_version() == api_version && r.kind == kind)
}
