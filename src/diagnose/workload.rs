//! One view over Deployments and StatefulSets, so checks need not care which it is.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::resolve::{WorkloadKind, WorkloadRef};

/// The workload object behind a Service.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    /// apps/v1 Deployment.
    Deployment(Box<Deployment>),
    /// apps/v1 StatefulSet.
    StatefulSet(Box<StatefulSet>),
}

impl Workload {
    /// Deployment or StatefulSet.
    pub fn kind(&self) -> WorkloadKind {
        match self {
            Workload::Deployment(_) => WorkloadKind::Deployment,
            Workload::StatefulSet(_) => WorkloadKind::StatefulSet,
        }
    }

    /// Its metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Workload::Deployment(d) => &d.metadata,
            Workload::StatefulSet(s) => &s.metadata,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// `deployment/<name>`-style reference.
    pub fn reference(&self) -> WorkloadRef {
        WorkloadRef { kind: self.kind(), name: self.name().to_string() }
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata().annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// spec.replicas (the API defaults it to 1).
    pub fn desired(&self) -> i32 {
        let r = match self {
            Workload::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas),
            Workload::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.replicas),
        };
        r.unwrap_or(1)
    }

    /// The pod template.
    pub fn template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
            Workload::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
        }
    }

    /// The pod template's labels.
    pub fn template_labels(&self) -> Option<&BTreeMap<String, String>> {
        self.template()?.metadata.as_ref()?.labels.as_ref()
    }

    /// spec.selector.
    pub fn selector(&self) -> Option<&LabelSelector> {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().map(|s| &s.selector),
            Workload::StatefulSet(s) => s.spec.as_ref().map(|s| &s.selector),
        }
    }

    /// Whether a Deployment's rollout is paused.
    pub fn paused(&self) -> bool {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false),
            Workload::StatefulSet(_) => false,
        }
    }

    /// status.readyReplicas.
    pub fn ready(&self) -> i32 {
        match self {
            Workload::Deployment(d) => d.status.as_ref().and_then(|s| s.ready_replicas),
            Workload::StatefulSet(s) => s.status.as_ref().and_then(|s| s.ready_replicas),
        }
        .unwrap_or(0)
    }

    /// The Deployment's `deployment.kubernetes.io/revision`.
    pub fn revision(&self) -> Option<i64> {
        revision(self.metadata())
    }
}

/// `deployment.kubernetes.io/revision` of an object.
pub fn revision(meta: &ObjectMeta) -> Option<i64> {
    meta.annotations.as_ref()?.get("deployment.kubernetes.io/revision")?.parse().ok()
}
