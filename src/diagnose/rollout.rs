//! Rollout state by kubectl's rule, and the checks built on it: ProgressDeadlineExceeded and
//! RolloutInProgress.

use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

use super::Snapshot;
use super::Workload;
use super::checks::{finding, impact, workload_name};
use super::evidence::warnings_about;
use crate::events::{Finding, FindingCode, Severity};

fn deployment(s: &Snapshot) -> Option<&Deployment> {
    match s.workload.as_ref()? {
        Workload::Deployment(d) => Some(d),
        Workload::StatefulSet(_) => None,
    }
}

/// The Deployment's Progressing condition says ProgressDeadlineExceeded.
pub fn check_progress_deadline(s: &Snapshot) -> Option<Finding> {
    let d = deployment(s)?;
    let cond = d.status.as_ref()?.conditions.as_ref()?.iter().find(|c| {
        c.type_ == "Progressing" && c.status == "False" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    })?;
    let msg = cond.message.clone().unwrap_or_default();
    finding(
        FindingCode::ProgressDeadlineExceeded,
        impact(s),
        format!("The rollout of {} exceeded its progress deadline: {msg}", workload_name(s)),
        json!({"workload": workload_name(s), "message": msg, "revision": s.workload.as_ref().and_then(|w| w.revision()),
               "warnings": warnings_about(s, &[])}),
    )
}

/// Where a rollout stands, by kubectl's rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutState {
    /// Done.
    Complete,
    /// Still going.
    InProgress {
        /// Which of kubectl's conditions is not met yet.
        stage: RolloutStage,
        /// kubectl's sentence.
        message: String,
    },
    /// ProgressDeadlineExceeded; kubectl's sentence.
    Failed(String),
}

/// Which step of kubectl's rule a rollout waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutStage {
    /// observedGeneration < generation.
    Observe,
    /// updated < desired.
    Update,
    /// Old replicas still running.
    OldReplicas,
    /// available < updated: only waiting for pods to become available.
    Availability,
}

impl RolloutStage {
    /// Snake-case name for evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutStage::Observe => "observe",
            RolloutStage::Update => "update",
            RolloutStage::OldReplicas => "old_replicas",
            RolloutStage::Availability => "availability",
        }
    }
}

/// kubectl's rollout-status rule as diagnosis needs it: [`crate::wait::rollout_state`] (the one
/// implementation) reduced to a stage, so a stalled rollout can be told from a slow one.
pub fn rollout_state(d: &Deployment) -> RolloutState {
    use crate::wait::RolloutState as Wait;
    let progress = |stage, p: crate::wait::RolloutProgress| RolloutState::InProgress { stage, message: p.message };
    match crate::wait::rollout_state(d) {
        Wait::SpecNotObserved(p) => progress(RolloutStage::Observe, p),
        Wait::DeadlineExceeded(p) => RolloutState::Failed(p.message),
        Wait::UpdatingReplicas(p) => progress(RolloutStage::Update, p),
        Wait::OldReplicasPending(p) => progress(RolloutStage::OldReplicas, p),
        Wait::WaitingAvailable(p) => progress(RolloutStage::Availability, p),
        Wait::Complete(_) => RolloutState::Complete,
    }
}

/// A rollout that is not complete and has not failed (only run when no failure was found).
pub fn check_rollout_in_progress(s: &Snapshot) -> Option<Finding> {
    let w = s.workload.as_ref().filter(|w| w.desired() > 0)?;
    let (stage, message) = match w {
        Workload::Deployment(d) => match rollout_state(d) {
            RolloutState::InProgress { stage, message } => (stage, message),
            _ => return None,
        },
        Workload::StatefulSet(set) => {
            let st = set.status.clone().unwrap_or_default();
            let pending = set.metadata.generation.unwrap_or(0) > st.observed_generation.unwrap_or(0)
                || st.updated_replicas.unwrap_or(0) < w.desired()
                || st.update_revision.as_ref().is_some_and(|u| Some(u) != st.current_revision.as_ref());
            if !pending {
                return None;
            }
            (RolloutStage::Update, format!("Waiting for statefulset \"{}\" rolling update to complete...", w.name()))
        }
    };
    finding(
        FindingCode::RolloutInProgress,
        Severity::Info,
        match stage {
            // Also what recreated or restarted pods look like: no new revision, just pods starting.
            RolloutStage::Availability => {
                format!("{} is waiting for its pods to become available: {message}", w.reference())
            }
            _ => format!("A rollout of {} is in progress: {message}", w.reference()),
        },
        json!({"workload": w.reference().to_string(), "message": message, "stage": stage.as_str(),
               "desired": w.desired(), "ready": w.ready()}),
    )
}
