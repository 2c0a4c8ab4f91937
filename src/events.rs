//! The progress contract (DESIGN §2.2): every event self-heal reports, as one NDJSON line.
//!
//! An [`Envelope`] wraps each [`Event`] with the run's identity and a sequence number. The
//! NDJSON, legacy and human renderers all consume this one type, and the orchestrator parses
//! the worker's lines back into it. Kinds and fields may be added; none is ever renamed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the line format, the `v` field.
pub const FORMAT_VERSION: u32 = 1;

/// One line of output: common fields plus the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Format version ([`FORMAT_VERSION`]).
    pub v: u32,
    /// 1, 2, 3... in emission order within a run.
    pub seq: u64,
    /// RFC 3339 time with milliseconds, UTC.
    pub ts: String,
    /// Identifier of this run.
    pub run: String,
    /// The Service being healed.
    pub service: String,
    /// Its namespace.
    pub namespace: String,
    /// The event itself; its kind is the `event` field.
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Serialized with the kind in the `event` field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run began.
    Started {
        /// `heal`, `diagnose`, `remediate` or `verify`.
        command: String,
        /// The caller's error text (truncated), if any.
        error: Option<String>,
        /// The URL the caller failed to reach, if any.
        url: Option<String>,
        /// Whether this is a dry run.
        dry_run: bool,
    },
    /// A human sentence about what is being done.
    Progress {
        /// The phase it belongs to.
        phase: Phase,
        /// The sentence.
        message: String,
    },
    /// Something diagnosis found.
    Finding(Finding),
    /// What self-heal decided to do.
    Plan {
        /// The action chosen.
        action: ActionKind,
        /// Why, in one sentence.
        reason: String,
        /// Structured detail (target object, replica counts, command for a human...).
        detail: Value,
    },
    /// An action's progress.
    Action {
        /// The action.
        action: ActionKind,
        /// started, succeeded or failed.
        status: ActionStatus,
        /// A sentence.
        message: String,
        /// Structured detail.
        detail: Value,
    },
    /// Rollout counts while waiting.
    Rollout {
        /// spec.replicas.
        desired: i32,
        /// status.updatedReplicas.
        updated: i32,
        /// status.readyReplicas.
        ready: i32,
        /// status.availableReplicas.
        available: i32,
        /// kubectl's rollout status sentence.
        message: String,
    },
    /// One verification check.
    Check {
        /// endpoints, http, mcp or tcp.
        check: CheckKind,
        /// Whether it passed.
        ok: bool,
        /// A sentence.
        message: String,
        /// How long it took.
        latency_ms: u64,
    },
    /// Always the last line.
    Result(RunResult),
}

/// A phase of the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Finding out what is wrong.
    Diagnose,
    /// Applying a fix and waiting for it.
    Remediate,
    /// Proving the service answers.
    Verify,
}

/// How serious a finding is. Ordered: `Info < Warning < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For context.
    Info,
    /// Degraded, or a likely cause.
    Warning,
    /// The service is down because of this.
    Critical,
}

/// Stable finding codes (DESIGN §2.2). Add codes; never rename one.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FindingCode {
    Healthy,
    ScaledToZero,
    PodsMissing,
    CrashLoopBackOff,
    ImagePullBackOff,
    #[serde(rename = "OOMKilled")]
    OomKilled,
    CreateContainerConfigError,
    Unschedulable,
    NotReady,
    NoEndpoints,
    SelectorMismatch,
    PortMismatch,
    ProgressDeadlineExceeded,
    RolloutInProgress,
    Paused,
    ReplicasManagedExternally,
    WorkloadNotFound,
    ServiceNotFound,
    Unreachable,
    LogErrors,
}

impl FindingCode {
    /// The wire name (`OOMKilled`, `ScaledToZero`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::Healthy => "Healthy",
            FindingCode::ScaledToZero => "ScaledToZero",
            FindingCode::PodsMissing => "PodsMissing",
            FindingCode::CrashLoopBackOff => "CrashLoopBackOff",
            FindingCode::ImagePullBackOff => "ImagePullBackOff",
            FindingCode::OomKilled => "OOMKilled",
            FindingCode::CreateContainerConfigError => "CreateContainerConfigError",
            FindingCode::Unschedulable => "Unschedulable",
            FindingCode::NotReady => "NotReady",
            FindingCode::NoEndpoints => "NoEndpoints",
            FindingCode::SelectorMismatch => "SelectorMismatch",
            FindingCode::PortMismatch => "PortMismatch",
            FindingCode::ProgressDeadlineExceeded => "ProgressDeadlineExceeded",
            FindingCode::RolloutInProgress => "RolloutInProgress",
            FindingCode::Paused => "Paused",
            FindingCode::ReplicasManagedExternally => "ReplicasManagedExternally",
            FindingCode::WorkloadNotFound => "WorkloadNotFound",
            FindingCode::ServiceNotFound => "ServiceNotFound",
            FindingCode::Unreachable => "Unreachable",
            FindingCode::LogErrors => "LogErrors",
        }
    }
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something diagnosis found, with the evidence for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code.
    pub code: FindingCode,
    /// How serious.
    pub severity: Severity,
    /// One sentence an operator reads.
    pub message: String,
    /// Pod names, reasons, messages, counts, log lines... (an object).
    pub evidence: Value,
}

/// Kinds of remediation (the `action` field of `plan` and `action` events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Scale the workload back up.
    Scale,
    /// Rollout restart.
    Restart,
    /// Rollout undo.
    Rollback,
    /// Delete pods so that their controller recreates them.
    DeletePods,
    /// Wait for Kubernetes to converge by itself.
    Wait,
    /// Nothing to do.
    None,
    /// A human must act.
    Manual,
}

/// Progress of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Sent.
    Started,
    /// Done.
    Succeeded,
    /// Failed.
    Failed,
}

/// Kinds of verification check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The Service has ready endpoints.
    Endpoints,
    /// An HTTP GET answered below 500.
    Http,
    /// MCP `initialize` and `tools/list` succeeded.
    Mcp,
    /// A TCP connection was accepted.
    Tcp,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing was wrong.
    Healthy,
    /// Something was wrong, was fixed, and verification passed.
    Healed,
    /// Remediation was tried and verification failed (or diagnose found problems).
    NotHealed,
    /// A human must act.
    Manual,
    /// Policy refused to act.
    Refused,
    /// Usage or API error.
    Error,
    /// The deadline passed.
    Timeout,
    /// `--dry-run`: the fix was planned and accepted by the server's dry run; nothing changed.
    Planned,
    /// SIGTERM or SIGINT ended the run (exit 143 or 130); the heal lock was released.
    Interrupted,
}

/// The last line of every run. Keeps the predecessor's keys (`success`, `diagnosis`,
/// `fix_applied`, `fix_attempted`, `recommendation`, `timestamp`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Healthy or healed and verified.
    pub success: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// One sentence: what was wrong.
    pub diagnosis: String,
    /// The fix that was applied and verified, if any.
    pub fix_applied: Option<String>,
    /// The fix that was tried, if it did not heal.
    pub fix_attempted: Option<String>,
    /// What a human should do, if anything.
    pub recommendation: Option<String>,
    /// Codes of all findings.
    pub findings: Vec<FindingCode>,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// The process exit code.
    pub exit_code: i32,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_is_flat_with_event_tag() {
        let e = Envelope {
            v: 1,
            seq: 3,
            ts: "2026-11-28T10:00:00.123Z".into(),
            run: "r".into(),
            service: "s".into(),
            namespace: "n".into(),
            event: Event::Finding(Finding {
                code: FindingCode::OomKilled,
                severity: Severity::Critical,
                message: "m".into(),
                evidence: json!({"pod": "p"}),
            }),
        };
        let line = serde_json::to_string(&e).unwrap();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "finding");
        assert_eq!(v["code"], "OOMKilled");
        assert_eq!(v["severity"], "critical");
        assert_eq!(serde_json::from_str::<Envelope>(&line).unwrap(), e);
    }

    #[test]
    fn code_names_match_serde() {
        for code in [FindingCode::OomKilled, FindingCode::ScaledToZero, FindingCode::LogErrors] {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
    }
}
