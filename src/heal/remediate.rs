//! The remediation half of the pipeline: apply the decided action, record it, wait for the
//! rollout by watching, then verify; when the fix does not take, say why from a fresh diagnosis.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Ending, Patience, Run};
use crate::act::{self, ActError};
use crate::cli::Command;
use crate::client;
use crate::decide::{self, Decision};
use crate::diagnose::{self, Diagnosis};
use crate::error::Error;
use crate::events::{ActionKind, ActionStatus, Event, Finding, FindingCode, Outcome, Phase};
use crate::exit;
use crate::resolve::{self, Target, WorkloadKind};
use crate::safety;
use crate::wait::{self, WaitOutcome};

impl Run {
    /// Scale, restart or roll back, record it, then wait and verify.
    pub(super) async fn remediate(
        &self,
        client: &Client,
        probe_client: &Client,
        target: &Target,
        diagnosis: &Diagnosis,
        decision: &Decision,
    ) -> Result<Ending, Error> {
        let Some(workload) = target.workload.as_ref().filter(|w| w.kind == WorkloadKind::Deployment) else {
            let what = target.workload.as_ref().map_or("the workload".to_string(), |w| w.to_string());
            let command = match decision {
                Decision::Scale { to, .. } => format!("kubectl -n {} scale {what} --replicas={to}", self.ns()),
                _ => format!("kubectl -n {} rollout restart {what}", self.ns()),
            };
            let manual = Decision::Manual {
                reason: format!("self-heal acts on Deployments only; {what} needs a human."),
                recommendation: command,
            };
            return Ok(self.manual(&manual, decide::diagnosis_sentence(diagnosis)));
        };
        let name = workload.name.as_str();
        let action = decision.action_kind();

        let started_msg = match decision {
            Decision::Scale { to, .. } => format!("Scaling deployment/{name} to {to} replicas"),
            Decision::Restart { .. } => format!("Restarting deployment/{name} (rollout restart)"),
            _ => format!("Rolling back deployment/{name} to its previous revision"),
        };
        let dry = if self.plan.dry_run { " (dry run)" } else { "" };
        self.emit(Event::Action {
            action,
            status: ActionStatus::Started,
            message: format!("{started_msg}{dry}"),
            detail: json!({"deployment": name, "dry_run": self.plan.dry_run}),
        });
        self.note(|p| p.fix_attempted = Some(started_msg.clone()));

        // The Deployment as diagnosed: its resourceVersion is the scale's precondition, so the
        // write needs no read first. A restart or rollback carries the replica count to
        // remember in its own request (nothing else is written to the workload).
        let known = match diagnosis.snapshot.workload.as_ref() {
            Some(diagnose::Workload::Deployment(d)) if d.metadata.name.as_deref() == Some(name) => Some(&**d),
            _ => None,
        };
        let remember = decide::replicas_to_record(&diagnosis.snapshot);
        let done: Result<(String, Value), ActError> = match decision {
            Decision::Scale { to, source, .. } => {
                act::scale(client, self.ns(), name, *to, known, self.plan.dry_run).await.map(|d| {
                    (
                        format!("Scaled deployment/{name} from {} to {} replicas", d.from, d.to),
                        json!({"from": d.from, "to": d.to, "changed": d.changed, "source": source}),
                    )
                })
            }
            Decision::Restart { .. } => act::restart(client, self.ns(), name, remember, self.plan.dry_run)
                .await
                .map(|d| (format!("Restarted deployment/{name}"), json!({"restartedAt": d.restarted_at}))),
            _ => act::rollback(client, self.ns(), name, remember, self.plan.dry_run).await.map(|d| {
                (
                    format!("Rolled back deployment/{name} to revision {} ({})", d.to_revision, d.replica_set),
                    json!({"replica_set": d.replica_set, "revision": d.to_revision, "changed": d.changed}),
                )
            }),
        };
        let (message, detail) = match done {
            Ok(done) => done,
            Err(e) => {
                self.emit(Event::Action {
                    action,
                    status: ActionStatus::Failed,
                    message: e.to_string(),
                    detail: json!({"deployment": name}),
                });
                return match e {
                    ActError::Paused { .. } => {
                        Ok(Ending::new(Outcome::Refused, exit::REFUSED, decide::diagnosis_sentence(diagnosis))
                            .recommending(Some(format!("kubectl -n {} rollout resume deployment/{name}", self.ns()))))
                    }
                    ActError::NoPreviousRevision { .. } => {
                        Ok(Ending::new(Outcome::Manual, exit::MANUAL, decide::diagnosis_sentence(diagnosis))
                            .recommending(Some(format!(
                                "There is no earlier revision to roll back to: fix the image (kubectl -n {} set image deployment/{name} <container>=<image>)",
                                self.ns()
                            ))))
                    }
                    ActError::Conflict { .. } => {
                        let mut ending =
                            Ending::new(Outcome::NotHealed, exit::NOT_HEALED, decide::diagnosis_sentence(diagnosis));
                        ending.fix_attempted = Some(started_msg);
                        Ok(ending.recommending(Some("Another writer keeps changing the Deployment; try again".into())))
                    }
                    ActError::Api { what, source, .. } => Err(Error::api(format!("{what} deployment/{name}"), &source)),
                };
            }
        };

        if self.plan.dry_run {
            self.emit(Event::Action {
                action,
                status: ActionStatus::Succeeded,
                message: format!("{message} (dry run)"),
                detail,
            });
            let mut ending = Ending::new(Outcome::Planned, exit::OK, decide::diagnosis_sentence(diagnosis));
            ending.fix_attempted = Some(format!("{message} (dry run: nothing changed)"));
            return Ok(ending.recommending(Some("Run again without --dry-run to apply the fix".into())));
        }
        self.emit(Event::Action { action, status: ActionStatus::Succeeded, message: message.clone(), detail });
        self.record(client, target, action, &message).await;
        // The breaker counts this remediation (state in the Lease, so it survives restarts).
        // The guard stays in place meanwhile: a run cut short here still releases it.
        let held = self.lock.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|g| g.lease().clone());
        if let Some(lease) = held {
            match safety::record_remediation(client, &lease, self.plan.breaker_window).await {
                Ok(updated) => {
                    if let Some(guard) = self.lock.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                        guard.set_lease(updated);
                    }
                }
                Err(e) => tracing::warn!("failed to record the remediation for the breaker: {e}"),
            }
        }
        self.wait_then_verify(client, probe_client, target, diagnosis, decision, Some(message)).await
    }

    /// One Kubernetes Event on the workload per action taken.
    pub(super) async fn record(&self, client: &Client, target: &Target, action: ActionKind, message: &str) {
        let Some(w) = target.workload.as_ref() else { return };
        let reason = match action {
            ActionKind::Scale => "SelfHealScaled",
            ActionKind::Restart => "SelfHealRestarted",
            ActionKind::Rollback => "SelfHealRolledBack",
            _ => "SelfHeal",
        };
        let involved = ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some(w.kind.as_kind().into()),
            name: Some(w.name.clone()),
            namespace: Some(self.ns().to_string()),
            ..ObjectReference::default()
        };
        let text = format!("{message} (self-heal run {})", self.run_id);
        if let Err(e) = act::record_event(client, self.ns(), &involved, "Normal", reason, &text).await {
            tracing::warn!("failed to record an Event for {}: {e}", w.name);
        }
    }

    /// Waits for the rollout (or the recreated pods), then verifies (heal) or stops (remediate).
    pub(super) async fn wait_then_verify(
        &self,
        client: &Client,
        probe_client: &Client,
        target: &Target,
        diagnosis: &Diagnosis,
        decision: &Decision,
        applied: Option<String>,
    ) -> Result<Ending, Error> {
        let Some(workload) = target.workload.as_ref() else {
            return Ok(self.manual(
                &Decision::Manual {
                    reason: "No workload to wait for.".into(),
                    recommendation: format!("kubectl -n {} get deployments --show-labels", self.ns()),
                },
                decide::diagnosis_sentence(diagnosis),
            ));
        };
        let waiting_msg = match decision {
            Decision::WaitForPods => "Waiting for the ReplicaSet to recreate the pods".to_string(),
            Decision::WaitForRollout => "Waiting for the rollout in progress to finish".to_string(),
            _ => format!("Waiting for {workload} to roll out"),
        };
        let is_wait = applied.is_none();
        if !is_wait {
            self.progress(Phase::Remediate, waiting_msg.clone());
        } else {
            self.emit(Event::Action {
                action: ActionKind::Wait,
                status: ActionStatus::Started,
                message: waiting_msg.clone(),
                detail: json!({"workload": workload.to_string()}),
            });
        }
        let mut last_message = String::new();
        let on_progress = |p: &wait::RolloutProgress| {
            if p.message != last_message {
                last_message = p.message.clone();
                self.emit(Event::Rollout {
                    desired: p.desired,
                    updated: p.updated,
                    ready: p.ready,
                    available: p.available,
                    message: p.message.clone(),
                });
            }
        };
        // A plain wait is bounded by the start-up grace: pods not ready by then are diagnosed
        // again (and then restarted) instead of being waited for until the deadline.
        let wait_deadline =
            if is_wait { self.deadline.min(Instant::now() + diagnose::STARTUP_GRACE) } else { self.deadline };
        let outcome = match decision {
            Decision::WaitForPods => {
                let want = diagnosis.snapshot.workload.as_ref().map_or(1, |w| w.desired()).max(1);
                let selector = resolve::selector_string(&target.selector);
                wait::wait_pods_ready(client, self.ns(), &selector, want, wait_deadline, on_progress).await
            }
            _ => wait::wait_rollout(client, self.ns(), &workload.name, wait_deadline, on_progress).await,
        }
        .map_err(|e| match e {
            wait::WaitError::Watch { what, namespace, source } => Error::Api {
                doing: format!("watch {what} in namespace {namespace}"),
                failure: client::ApiFailure::Other,
                message: source.to_string(),
            },
        })?;

        let fix = applied.clone().unwrap_or_else(|| waiting_msg.clone());
        match &outcome {
            WaitOutcome::Complete { .. } => {
                if is_wait {
                    self.emit(Event::Action {
                        action: ActionKind::Wait,
                        status: ActionStatus::Succeeded,
                        message: outcome.message(),
                        detail: json!({}),
                    });
                }
            }
            WaitOutcome::Failed { reason, message, pod } => {
                if is_wait {
                    // Nothing was changed yet: what made the wait fail (pods that crash, cannot
                    // pull, lack config) is diagnosed and acted on, once.
                    self.emit(Event::Action {
                        action: ActionKind::Wait,
                        status: ActionStatus::Failed,
                        message: message.clone(),
                        detail: json!({"reason": reason}),
                    });
                    return Box::pin(self.second_round(client, probe_client, target)).await;
                }
                return self.not_healed_after(client, target, fix, message, pod.as_ref()).await;
            }
            WaitOutcome::TimedOut { .. } if is_wait && Instant::now() < self.deadline => {
                self.emit(Event::Action {
                    action: ActionKind::Wait,
                    status: ActionStatus::Failed,
                    message: format!(
                        "{} after {}",
                        outcome.message(),
                        humantime::format_duration(diagnose::STARTUP_GRACE)
                    ),
                    detail: json!({}),
                });
                return Box::pin(self.second_round(client, probe_client, target)).await;
            }
            WaitOutcome::TimedOut { .. } => return Ok(self.timed_out()),
        }

        if self.plan.command == Command::Remediate {
            let mut ending = Ending::new(Outcome::Healed, exit::OK, decide::diagnosis_sentence(diagnosis));
            ending.fix_applied = Some(fix);
            return Ok(ending);
        }
        if self.verify(probe_client, target, Patience::UntilDeadline).await {
            let mut ending = Ending::new(Outcome::Healed, exit::OK, decide::diagnosis_sentence(diagnosis));
            ending.fix_applied = Some(fix);
            Ok(ending)
        } else {
            let mut ending = Ending::new(Outcome::NotHealed, exit::NOT_HEALED, decide::diagnosis_sentence(diagnosis));
            ending.fix_attempted = Some(fix);
            Ok(ending.recommending(Some(format!(
                "The rollout finished but the service still does not answer: kubectl -n {} describe service/{}; kubectl -n {} logs deployment/{}",
                self.ns(),
                self.plan.service,
                self.ns(),
                workload.name
            ))))
        }
    }

    /// After a plain wait failed or ran out of patience: diagnose again and act on what is
    /// found now (e.g. pods that crash or never became ready get a restart). Acts at most once.
    pub(super) async fn second_round(
        &self,
        client: &Client,
        probe_client: &Client,
        target: &Target,
    ) -> Result<Ending, Error> {
        self.progress(Phase::Diagnose, "Still not ready after the start-up grace; diagnosing again");
        let diagnosis = self.diagnose(client, target).await?;
        self.report_findings(&diagnosis.findings);
        let mut decision = decide::decide(&diagnosis, &self.policy());
        if matches!(decision, Decision::Scale { .. } | Decision::Restart { .. } | Decision::Rollback { .. })
            && let Some(reason) = self.breaker_open(target)
        {
            decision = Decision::Refuse { reason };
        }
        let sentence = decide::diagnosis_sentence(&diagnosis);
        match &decision {
            Decision::Scale { .. } | Decision::Restart { .. } | Decision::Rollback { .. } => {
                self.emit_plan(&decision);
                self.remediate(client, probe_client, target, &diagnosis, &decision).await
            }
            Decision::Manual { .. } => Ok(self.manual(&decision, sentence)),
            Decision::Refuse { reason } => {
                self.emit_plan(&decision);
                Ok(Ending::new(Outcome::Refused, exit::REFUSED, sentence).recommending(Some(reason.clone())))
            }
            Decision::Healthy | Decision::WaitForPods | Decision::WaitForRollout => {
                self.emit_plan(&decision);
                if self.plan.command == Command::Remediate
                    || self.verify(probe_client, target, Patience::UntilDeadline).await
                {
                    let mut ending = Ending::new(Outcome::Healed, exit::OK, sentence);
                    ending.fix_applied = Some("Waited for the pods to become ready".into());
                    Ok(ending)
                } else {
                    Ok(self.unreachable_ending())
                }
            }
        }
    }

    /// The fix did not take: diagnose the new state so the result names the cause and the
    /// container's own words.
    pub(super) async fn not_healed_after(
        &self,
        client: &Client,
        target: &Target,
        fix: String,
        why: &str,
        pod: Option<&wait::PodFailure>,
    ) -> Result<Ending, Error> {
        self.progress(Phase::Diagnose, format!("The fix did not take ({why}); diagnosing the new pods"));
        let after = self.diagnose(client, target).await?;
        let new: Vec<Finding> = after.findings.iter().filter(|f| f.code != FindingCode::Healthy).cloned().collect();
        self.report_findings(&new);
        let mut recommendation = match decide::decide(&after, &self.policy()) {
            Decision::Manual { recommendation, .. } => recommendation,
            _ => format!(
                "The new pods fail too: kubectl -n {} describe pods -l {}; kubectl -n {} logs -l {} --previous",
                self.ns(),
                resolve::selector_string(&target.selector),
                self.ns(),
                resolve::selector_string(&target.selector)
            ),
        };
        if let Some(pod) = pod {
            let exit = pod.last_exit_code.map_or(String::new(), |c| format!(", last exit code {c}"));
            recommendation = format!(
                "Pod {} container {} is in {} (restarts: {}{exit}). {recommendation}",
                pod.pod, pod.container, pod.reason, pod.restart_count
            );
        }
        if let Some(lines) = after.findings.iter().find(|f| f.code == FindingCode::LogErrors).map(log_excerpt)
            && !lines.is_empty()
        {
            recommendation = format!("{recommendation} Last error lines: {lines}");
        }
        let mut ending = Ending::new(Outcome::NotHealed, exit::NOT_HEALED, decide::diagnosis_sentence(&after));
        ending.fix_attempted = Some(fix);
        Ok(ending.recommending(Some(recommendation)))
    }
}

/// The error lines of a `LogErrors` finding, joined for one sentence.
fn log_excerpt(f: &Finding) -> String {
    let mut lines = Vec::new();
    collect_strings(&f.evidence, &mut lines);
    lines.into_iter().take(3).collect::<Vec<_>>().join(" | ")
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(lines)) = m.get("lines") {
                out.extend(lines.iter().filter_map(|l| l.as_str().map(str::to_string)));
            }
            for (k, v) in m {
                if k != "lines" {
                    collect_strings(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}
