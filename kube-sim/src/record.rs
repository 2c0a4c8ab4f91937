//! The request record: every API request kube-sim served (denied and failed ones included),
//! with who sent it and what it asked for in RBAC terms. Served to admins at
//! `GET /_sim/requests` (`DELETE` clears it) and read by the harness ([`crate::harness::Sim::requests`]).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One served request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// User name; "" when authentication failed (401).
    pub user: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// HTTP method.
    pub method: String,
    /// Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection);
    /// the lower-case method for non-resource URLs.
    pub verb: String,
    /// Whether the path is a REST resource (else a non-resource URL such as `/version`).
    pub resource_request: bool,
    /// API group ("" for core).
    pub api_group: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource ("" for none).
    pub subresource: String,
    /// Namespace ("" for cluster scope).
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// URL path.
    pub path: String,
    /// Raw query string ("" for none).
    pub query: String,
    /// `dryRun=All` was asked.
    pub dry_run: bool,
    /// HTTP status code of the response.
    pub code: u16,
}

impl RecordedRequest {
    /// `verb group/resource[/sub]`, the way a test names a rule (`patch apps/deployments/scale`).
    pub fn rule(&self) -> String {
        let res = if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        if self.resource_request {
            format!("{} {}/{res}", self.verb, self.api_group)
        } else {
            format!("{} {}", self.verb, self.path)
        }
    }

    /// Whether the request could have changed anything (a write verb that was not a dry run).
    pub fn is_write(&self) -> bool {
        !self.dry_run && matches!(self.verb.as_str(), "create" | "update" | "patch" | "delete" | "deletecollection")
    }
}

/// The record, in the order responses were sent.
#[derive(Default)]
pub struct Recorder {
    entries: Mutex<Vec<RecordedRequest>>,
}

impl Recorder {
    /// Appends one request.
    pub fn push(&self, r: RecordedRequest) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    /// A copy of the record.
    pub fn all(&self) -> Vec<RecordedRequest> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
