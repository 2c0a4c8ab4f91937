//! The one top-level error: every failure a run can end in, each with one exit code
//! ([`crate::exit`]). Printed once, at the edge, as `self-heal: <message>`.

use std::time::Duration;

use crate::cli::UsageError;
use crate::client::{ApiFailure, ClientError};
use crate::events::Outcome;
use crate::exit;
use crate::resolve::ResolveError;

/// How a run failed. Stage errors are added here as variants; [`Error::exit_code`] stays
/// an exhaustive match so that each one gets a deliberate code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad argument.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// No client: no config, bad kubeconfig, unknown context, API unreachable at start.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// An API request failed.
    #[error("failed to {doing}: {message}")]
    Api {
        /// What was being done ("read deployment x").
        doing: String,
        /// The kind of failure ([`crate::client::classify`]).
        failure: ApiFailure,
        /// The error text ([`crate::client::short_reason`]).
        message: String,
    },
    /// The Service could not be resolved to pods (API failures map like [`Error::Api`]).
    #[error(transparent)]
    Resolve(#[from] crate::resolve::ResolveError),
    /// The overall deadline passed.
    #[error("failed to finish within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
}

impl Error {
    /// An [`Error::Api`] from a kube error.
    pub fn api(doing: impl Into<String>, err: &kube::Error) -> Self {
        Error::Api {
            doing: doing.into(),
            failure: crate::client::classify(err),
            message: crate::client::short_reason(err),
        }
    }

    /// How a run that ended in this error is reported (`result.outcome`).
    pub fn outcome(&self) -> Outcome {
        match self.exit_code() {
            exit::TIMEOUT => Outcome::Timeout,
            exit::MANUAL => Outcome::Manual,
            exit::NOT_HEALED => Outcome::NotHealed,
            _ => Outcome::Error,
        }
    }

    /// What a human should do about it, with a command to start from.
    pub fn recommendation(&self) -> Option<String> {
        let access = |failure: ApiFailure| match failure {
            ApiFailure::Unreachable => Some(
                "Check that the API server is reachable from here: kubectl cluster-info (and --context/--kubeconfig)"
                    .to_string(),
            ),
            ApiFailure::Unauthorized => {
                Some("Refresh the credentials of the kubeconfig user: kubectl auth whoami".to_string())
            }
            ApiFailure::Forbidden => Some(
                "Grant self-heal's identity the RBAC it needs (see deploy/); check with: kubectl auth can-i --list"
                    .to_string(),
            ),
            _ => None,
        };
        match self {
            Error::Usage(_) => Some("See self-heal --help".to_string()),
            Error::Client(ClientError::NotFound { .. }) => {
                Some("Pass --kubeconfig FILE or set KUBECONFIG; in a pod, mount a service account token".to_string())
            }
            Error::Client(ClientError::UnknownContext { .. }) => {
                Some("List the contexts with: kubectl config get-contexts".to_string())
            }
            Error::Client(ClientError::Api { failure, .. }) => access(*failure),
            Error::Client(_) => Some("Check the kubeconfig: kubectl config view --minify".to_string()),
            Error::Api { failure, .. } => access(*failure),
            Error::Resolve(ResolveError::BrokenLink { namespace, name, .. }) => {
                Some(broken_link_recommendation(namespace, name))
            }
            Error::Resolve(e) => match e.kube_error() {
                Some(err) => access(crate::client::classify(err)),
                None => Some("Check the Service and --selector: kubectl get service -o wide".to_string()),
            },
            Error::Timeout(_) => {
                Some("Look at the rollout: kubectl rollout status; raise --timeout if it is just slow".to_string())
            }
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Client(_) => exit::API,
            Error::Api { failure, .. } => match failure {
                ApiFailure::Unreachable | ApiFailure::Unauthorized | ApiFailure::Forbidden | ApiFailure::Other => {
                    exit::API
                }
                // The object is gone: a human must look (DESIGN: not found → manual).
                ApiFailure::NotFound => exit::MANUAL,
                // Someone else changed the object under us and retrying did not help.
                ApiFailure::Conflict => exit::NOT_HEALED,
            },
            Error::Resolve(e) => match e {
                ResolveError::Api { source, .. } => Error::api("resolve", source).exit_code(),
                ResolveError::InvalidSelector { .. } => exit::USAGE,
                ResolveError::ServiceNotFound { .. }
                | ResolveError::NoSelector { .. }
                | ResolveError::BrokenLink { .. } => exit::MANUAL,
            },
            Error::Timeout(_) => exit::TIMEOUT,
        }
    }
}

/// What to do when the Service's pods cannot be proven to belong to one workload.
pub fn broken_link_recommendation(namespace: &str, service: &str) -> String {
    use crate::names::shell_quote;
    format!(
        "self-heal changed nothing. Look at who owns the Service's pods: kubectl -n {} get pods,replicasets -o wide --show-labels; kubectl -n {} describe service {}",
        shell_quote(namespace),
        shell_quote(namespace),
        shell_quote(service)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_table() {
        assert_eq!(Error::from(UsageError::MissingService).exit_code(), 2);
        assert_eq!(Error::from(ClientError::NotFound { tried: vec![] }).exit_code(), 5);
        let forbidden = Error::Api { doing: "x".into(), failure: ApiFailure::Forbidden, message: "m".into() };
        assert_eq!(forbidden.exit_code(), 5);
        assert_eq!(Error::Timeout(Duration::from_secs(110)).exit_code(), 124);
        assert_eq!(Error::Timeout(Duration::from_secs(110)).to_string(), "failed to finish within 1m 50s");
        assert_eq!(Error::Timeout(Duration::from_secs(1)).outcome(), Outcome::Timeout);
        assert_eq!(forbidden.outcome(), Outcome::Error);
        assert!(forbidden.recommendation().unwrap().contains("kubectl auth can-i"));
    }
}
