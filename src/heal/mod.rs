//! The pipeline: the one place that orders the stages and turns what they return into events.
//!
//! `heal` = diagnose → (lock → re-diagnose → decide → act → wait) → verify; `remediate` stops
//! before verify; `diagnose` and `verify` run their stage alone. A healthy service is answered
//! without any write (no Lease, no annotation). Everything runs under one deadline; when it
//! passes, the run ends with exit 124 and a result line all the same; so does SIGTERM/SIGINT
//! (exit 143/130, [`interrupt`]) and the loss of the heal lock, which is renewed while the run
//! lives (exit 4 when taken over, 5 when the API stopped answering).

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Instant as StdInstant;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::{Api, Client};
use serde_json::json;
use tokio::time::Instant;

use crate::cli::{Command, ProbeKind as CliProbe, RunPlan};
use crate::client;
use crate::decide::{self, Decision, Policy};
use crate::diagnose::{self, Diagnosis};
use crate::error::Error;
use crate::events::{CheckKind, Event, Finding, FindingCode, Outcome, Phase, RunResult, Severity};
use crate::exit;
use crate::report::{Reporter, sink_for};
use crate::resolve::{self, Overrides, ResolveError, Target};
use crate::safety::{self, LockError, LockGuard, LockLost};
use crate::verify::{self, ProbeKind, VerifyRequest};
mod interrupt;
mod remediate;

/// How long a check of a service that looks fine may take before it counts as not answering
/// (then diagnosed as `Unreachable`), and the bound of `verify` on its own.
const QUICK_VERIFY: std::time::Duration = std::time::Duration::from_secs(10);

/// How long verification may keep retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Patience {
    /// "Does it answer now?" ([`QUICK_VERIFY`]).
    Quick,
    /// After a fix: until the run's deadline.
    UntilDeadline,
}

/// How a run ended: everything the result line needs besides timing.
#[derive(Debug)]
struct Ending {
    outcome: Outcome,
    exit_code: i32,
    diagnosis: String,
    fix_applied: Option<String>,
    fix_attempted: Option<String>,
    recommendation: Option<String>,
}

impl Ending {
    fn new(outcome: Outcome, exit_code: i32, diagnosis: impl Into<String>) -> Self {
        Ending {
            outcome,
            exit_code,
            diagnosis: diagnosis.into(),
            fix_applied: None,
            fix_attempted: None,
            recommendation: None,
        }
    }

    fn recommending(mut self, recommendation: Option<String>) -> Self {
        self.recommendation = recommendation;
        self
    }
}

/// What the run has learnt so far; read when the deadline cuts it short.
#[derive(Default)]
struct Progress {
    findings: Vec<FindingCode>,
    diagnosis: Option<String>,
    fix_attempted: Option<String>,
}

/// One run's shared context.
struct Run {
    plan: RunPlan,
    reporter: Reporter,
    run_id: String,
    deadline: Instant,
    progress: Mutex<Progress>,
    /// The heal lock, once taken; released after the run, also after a timeout.
    lock: Mutex<Option<LockGuard>>,
    /// Where the lock's renewal reports its loss (the run then stops acting).
    lock_lost: tokio::sync::mpsc::UnboundedSender<LockLost>,
    /// Where the client's retries note the request they gave up on (named in an exit-5 result).
    retries: crate::retry::Record,
}

/// Runs the plan and returns the process exit code. Always emits `started` first and `result`
/// last.
pub async fn execute(plan: RunPlan) -> i32 {
    // First of all, so that a signal at any later point still gets its result line.
    let mut signals = interrupt::Signals::listen();
    let started = StdInstant::now();
    let run_id = format!("{:x}-{:x}", jiff::Timestamp::now().as_millisecond(), std::process::id());
    let reporter = Reporter::new(run_id.clone(), plan.service.clone(), plan.namespace.clone(), sink_for(plan.output));
    reporter.emit(Event::Started {
        command: plan.command.as_str().to_string(),
        error: plan.error.clone(),
        url: plan.url.as_ref().map(|u| u.to_string()),
        dry_run: plan.dry_run,
    });
    let deadline = Instant::now() + plan.timeout;
    let (lock_lost, mut lost) = tokio::sync::mpsc::unbounded_channel();
    let run = Arc::new(Run {
        plan,
        reporter: reporter.clone(),
        run_id,
        deadline,
        progress: Mutex::new(Progress::default()),
        lock: Mutex::new(None),
        lock_lost,
        retries: crate::retry::Record::default(),
    });

    // Whichever ends first: the pipeline, its deadline, a signal, or the loss of the lock
    // (dropping the pipeline stops every request and wait it had in flight).
    let ending = tokio::select! {
        done = tokio::time::timeout_at(deadline, run.pipeline()) => match done {
            Ok(Ok(ending)) => ending,
            Ok(Err(err)) => {
                crate::report::stderr_line(&err.to_string());
                let mut ending = Ending::new(err.outcome(), err.exit_code(), err.to_string());
                // The API stayed unavailable through the retries: say what it answered, to
                // what, for how long ("The Kubernetes API answered 503 ... to GET services/x
                // for 20s.").
                if ending.exit_code == exit::API
                    && let Some(outage) = run.retries.last_outage()
                {
                    ending.diagnosis = format!("{} ({err})", outage.sentence());
                }
                ending.recommendation = err.recommendation();
                ending
            }
            Err(_) => run.timed_out(),
        },
        signal = signals.recv() => run.interrupted(signal),
        Some(why) = lost.recv() => run.lock_lost(&why),
    };
    run.release_lock().await;

    let findings = run.progress.lock().unwrap_or_else(|e| e.into_inner()).findings.clone();
    reporter.emit(Event::Result(RunResult {
        success: ending.exit_code == exit::OK,
        outcome: ending.outcome,
        diagnosis: ending.diagnosis,
        fix_applied: ending.fix_applied,
        fix_attempted: ending.fix_attempted,
        recommendation: ending.recommendation,
        findings,
        duration_ms: started.elapsed().as_millis() as u64,
        exit_code: ending.exit_code,
        timestamp: jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }));
    ending.exit_code
}

impl Run {
    fn emit(&self, event: Event) {
        self.reporter.emit(event);
    }

    fn progress(&self, phase: Phase, message: impl Into<String>) {
        self.emit(Event::Progress { phase, message: message.into() });
    }

    fn note(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn ns(&self) -> &str {
        &self.plan.namespace
    }

    /// The result when the deadline passed: what was known by then.
    fn timed_out(&self) -> Ending {
        let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let mut ending = Ending::new(
            Outcome::Timeout,
            exit::TIMEOUT,
            p.diagnosis.clone().unwrap_or_else(|| "The deadline passed before a diagnosis was made.".into()),
        );
        ending.fix_attempted = p.fix_attempted.clone();
        ending.recommendation = Some(format!(
            "self-heal did not finish within {}; look at the rollout (kubectl -n {} rollout status {}) or raise --timeout",
            humantime::format_duration(self.plan.timeout),
            self.ns(),
            self.plan.service,
        ));
        ending
    }

    /// The result when SIGTERM or SIGINT arrived: what was known by then.
    fn interrupted(&self, signal: interrupt::Interrupt) -> Ending {
        let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let mut ending = Ending::new(
            Outcome::Interrupted,
            signal.exit_code(),
            p.diagnosis.clone().unwrap_or_else(|| "Interrupted before a diagnosis was made.".into()),
        );
        ending.fix_attempted = p.fix_attempted.clone();
        ending.recommendation = Some(format!(
            "self-heal was stopped by {}; the heal lock is released: run it again to finish (self-heal heal {} -n {})",
            signal.name(),
            self.plan.service,
            self.ns()
        ));
        ending
    }

    /// The result when the heal lock was lost mid-run: nothing more is done.
    fn lock_lost(&self, why: &LockLost) -> Ending {
        let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let (outcome, code) = match why {
            LockLost::TakenOver { .. } => (Outcome::Refused, exit::REFUSED),
            LockLost::Unrenewed { .. } => (Outcome::Error, exit::API),
        };
        let mut ending = Ending::new(
            outcome,
            code,
            p.diagnosis.clone().unwrap_or_else(|| "The heal lock was lost before a diagnosis was made.".into()),
        );
        ending.fix_attempted = p.fix_attempted.clone();
        crate::report::stderr_line(&format!("stopped: {why}"));
        ending.recommendation = Some(format!(
            "Stopped acting: {why}. Check the service again (self-heal diagnose {} -n {})",
            self.plan.service,
            self.ns()
        ));
        ending
    }

    async fn release_lock(&self) {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(guard) = guard {
            // Bounded: the lease expires by itself if the API does not answer.
            match tokio::time::timeout(std::time::Duration::from_secs(3), guard.release()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("failed to release the heal lock: {e}"),
                Err(_) => tracing::warn!("failed to release the heal lock in time; it expires by itself"),
            }
        }
    }

    async fn pipeline(self: &Arc<Self>) -> Result<Ending, Error> {
        let loaded = client::load(&self.plan.kube).await?;
        let described = loaded.describe();
        let build = |e: kube::Error| client::ClientError::Build { target: described.clone(), reason: e.to_string() };
        // Probes must see the service's own 503s: no retries (as verify::probe_client).
        let mut probe_config = loaded.config.clone();
        probe_config.default_retry = false;
        let probe_client = client::build(&probe_config).map_err(build)?;
        let budget = crate::retry::Budget {
            record: self.retries.clone(),
            ..crate::retry::Budget::until(self.deadline, self.plan.timeout)
        };
        let client = client::build_with(&loaded.config, budget).map_err(build)?;

        // No reachability check first: the first read answers it, with the same exit-5 message.
        self.progress(Phase::Diagnose, format!("Resolving service {}/{}", self.ns(), self.plan.service));
        let overrides = Overrides { selector: self.plan.selector.clone(), port: self.plan.port };
        let resolved = resolve::resolve(&client, self.ns(), &self.plan.service, &overrides).await;
        if let Err(e) = &resolved
            && let Some(denied) = e.kube_error().and_then(|k| client::access_error(k, &described))
        {
            return Err(denied.into());
        }
        let target = match resolved {
            Ok(target) => target,
            Err(ResolveError::ServiceNotFound { .. }) => {
                let (finding, decision) = decide::service_not_found(self.ns(), &self.plan.service);
                self.report_findings(std::slice::from_ref(&finding));
                return Ok(self.manual(&decision, finding.message.clone()));
            }
            Err(ResolveError::NoSelector { .. }) => {
                let decision = Decision::Manual {
                    reason: format!(
                        "Service {}/{} has no selector, so no pods belong to it.",
                        self.ns(),
                        self.plan.service
                    ),
                    recommendation: format!(
                        "Name its pods with --selector (e.g. --selector app={}), or give the Service a selector: kubectl -n {} edit service/{}",
                        self.plan.service,
                        self.ns(),
                        self.plan.service
                    ),
                };
                return Ok(self.manual(&decision, decision.reason()));
            }
            Err(ResolveError::BrokenLink { link, .. }) => {
                // Never a guess: name the link that does not hold and change nothing.
                let finding = Finding {
                    code: FindingCode::WorkloadNotFound,
                    severity: Severity::Critical,
                    message: format!("The workload of service {} cannot be proven: {link}.", self.plan.service),
                    evidence: json!({"broken_link": link}),
                };
                self.report_findings(std::slice::from_ref(&finding));
                let decision = Decision::Manual {
                    reason: finding.message.clone(),
                    recommendation: crate::error::broken_link_recommendation(self.ns(), &self.plan.service),
                };
                return Ok(self.manual(&decision, finding.message.clone()));
            }
            Err(e) => return Err(Error::from(e)),
        };

        match self.plan.command {
            Command::Verify => self.verify_only(&probe_client, &target).await,
            Command::Diagnose => self.diagnose_only(&client, &target).await,
            Command::Heal | Command::Remediate => self.heal(&client, &probe_client, &target).await,
        }
    }

    async fn diagnose(&self, client: &Client, target: &Target) -> Result<Diagnosis, Error> {
        let diagnosis = diagnose::diagnose(client, target).await.map_err(|e| match e {
            diagnose::DiagnoseError::Api { what, source } => Error::api(what, &source),
        })?;
        let sentence = decide::diagnosis_sentence(&diagnosis);
        self.note(|p| p.diagnosis = Some(sentence));
        Ok(diagnosis)
    }

    fn report_findings(&self, findings: &[Finding]) {
        for f in findings {
            self.note(|p| {
                if !p.findings.contains(&f.code) {
                    p.findings.push(f.code);
                }
            });
            self.emit(Event::Finding(f.clone()));
        }
    }

    async fn diagnose_only(&self, client: &Client, target: &Target) -> Result<Ending, Error> {
        let diagnosis = self.diagnose(client, target).await?;
        self.report_findings(&diagnosis.findings);
        let decision = decide::decide(&diagnosis, &self.policy());
        self.emit_plan(&decision);
        let sentence = decide::diagnosis_sentence(&diagnosis);
        Ok(match decision {
            Decision::Healthy => Ending::new(Outcome::Healthy, exit::OK, sentence),
            other => Ending::new(Outcome::NotHealed, exit::NOT_HEALED, sentence)
                .recommending(Some(recommendation_for(&other, self.ns(), &self.plan.service, &diagnosis))),
        })
    }

    async fn verify_only(&self, probe_client: &Client, target: &Target) -> Result<Ending, Error> {
        let ok = self.verify(probe_client, target, Patience::Quick).await;
        Ok(if ok {
            Ending::new(Outcome::Healthy, exit::OK, format!("Service {} answers.", self.plan.service))
        } else {
            self.unreachable_ending()
        })
    }

    fn unreachable_ending(&self) -> Ending {
        Ending::new(Outcome::NotHealed, exit::NOT_HEALED, format!("Service {} does not answer.", self.plan.service))
            .recommending(Some(format!("Run self-heal diagnose {} -n {} to see why", self.plan.service, self.ns())))
    }

    fn policy(&self) -> Policy {
        Policy { allow_rollback: self.plan.allow_rollback }
    }

    fn emit_plan(&self, decision: &Decision) {
        self.emit(Event::Plan { action: decision.action_kind(), reason: decision.reason(), detail: decision.detail() });
    }

    async fn heal(&self, client: &Client, probe_client: &Client, target: &Target) -> Result<Ending, Error> {
        let mut diagnosis = self.diagnose(client, target).await?;
        self.report_findings(&diagnosis.findings);
        let mut decision = decide::decide(&diagnosis, &self.policy());

        if decision == Decision::Healthy {
            if self.plan.command == Command::Remediate {
                self.emit_plan(&decision);
                return Ok(Ending::new(Outcome::Healthy, exit::OK, decide::diagnosis_sentence(&diagnosis)));
            }
            self.progress(Phase::Verify, "Nothing looks wrong; checking that the service answers");
            if self.verify(probe_client, target, Patience::Quick).await {
                self.emit_plan(&decision);
                return Ok(Ending::new(Outcome::Healthy, exit::OK, decide::diagnosis_sentence(&diagnosis)));
            }
            decision = self.with_unreachable(&mut diagnosis);
        }

        // Something to do: take the lock (not in a dry run, which writes nothing), then look
        // again, since another healer may have fixed it while this one waited.
        if !self.plan.dry_run
            && matches!(
                decision,
                Decision::Scale { .. }
                    | Decision::Restart { .. }
                    | Decision::Rollback { .. }
                    | Decision::WaitForPods
                    | Decision::WaitForRollout
            )
        {
            self.progress(Phase::Remediate, format!("Taking the heal lock for {}", self.plan.service));
            // One lock per workload: every Service of one Deployment shares it (and the breaker).
            let lease = safety::lease_name(target.workload.as_ref(), &self.plan.service);
            let holder = safety::holder_identity();
            let mut guard = match safety::acquire(client, self.ns(), &lease, &holder, self.deadline).await {
                Ok(guard) => guard,
                Err(LockError::Busy { holder }) => {
                    let reason = format!(
                        "Another healer ({holder}) is working on {} and did not finish in time.",
                        self.plan.service
                    );
                    let decision = Decision::Refuse { reason: reason.clone() };
                    self.emit_plan(&decision);
                    return Ok(Ending::new(Outcome::Refused, exit::REFUSED, reason));
                }
                Err(LockError::Api { what, source, .. }) => {
                    return Err(Error::api(format!("{what} the heal lock"), &source));
                }
            };
            let contended = guard.contended();
            let taken_over = guard.taken_over_from().map(str::to_string);
            guard.keep_renewed(self.lock_lost.clone());
            *self.lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);

            // Taken over from a holder whose lease expired: it died (or lost the API) at an
            // unknown point, maybe right after a write, so nothing seen before counts.
            if let Some(from) = taken_over {
                self.progress(
                    Phase::Diagnose,
                    format!("Took over the heal lock from {from}, whose lease expired; diagnosing afresh"),
                );
                diagnosis = self.diagnose(client, target).await?;
                self.report_findings(&diagnosis.findings);
                match self.decide_after_another(probe_client, target, &mut diagnosis, "the previous healer").await {
                    ControlFlow::Continue(fresh) => decision = fresh,
                    ControlFlow::Break(healthy) => return Ok(healthy),
                }
            }
            // Taken at the first try: nobody else can have acted since the diagnosis, so act on
            // it. Taken after another healer: it may have acted, and every action writes the
            // workload, so a workload left untouched needs no second diagnosis either. Only a
            // change (a new spec generation, or other findings) is worth a new decision.
            else if contended && self.workload_changed(client, &diagnosis).await? {
                let fresh = self.diagnose(client, target).await?;
                if state_of(&fresh) != state_of(&diagnosis) {
                    self.progress(Phase::Diagnose, "The service changed while waiting for the lock; diagnosing again");
                    self.report_findings(&fresh.findings);
                    diagnosis = fresh;
                    match self
                        .decide_after_another(probe_client, target, &mut diagnosis, "another healer meanwhile")
                        .await
                    {
                        ControlFlow::Continue(fresh) => decision = fresh,
                        ControlFlow::Break(healthy) => return Ok(healthy),
                    }
                } else {
                    // Same state: keep the findings already reported, with the fresh objects
                    // (e.g. the workload's resourceVersion for the write's precondition).
                    diagnosis.snapshot = fresh.snapshot;
                }
            }
        }

        if matches!(decision, Decision::Scale { .. } | Decision::Restart { .. } | Decision::Rollback { .. })
            && let Some(reason) = self.breaker_open(target)
        {
            decision = Decision::Refuse { reason };
        }
        self.emit_plan(&decision);
        let sentence = decide::diagnosis_sentence(&diagnosis);
        let ending = match &decision {
            Decision::Healthy => Ending::new(Outcome::Healthy, exit::OK, sentence),
            Decision::Manual { .. } => manual_ending(&decision, sentence),
            Decision::Refuse { reason } => {
                Ending::new(Outcome::Refused, exit::REFUSED, sentence).recommending(Some(reason.clone()))
            }
            Decision::Scale { .. } | Decision::Restart { .. } | Decision::Rollback { .. } => {
                return self.remediate(client, probe_client, target, &diagnosis, &decision).await;
            }
            Decision::WaitForPods | Decision::WaitForRollout => {
                return self.wait_then_verify(client, probe_client, target, &diagnosis, &decision, None).await;
            }
        };
        Ok(ending)
    }

    /// Whether the workload differs from what `diagnosis` read (one GET; any write, status
    /// included, changes its resourceVersion). No workload read then: look again in full.
    async fn workload_changed(&self, client: &Client, diagnosis: &Diagnosis) -> Result<bool, Error> {
        let Some(known) = diagnosis.snapshot.workload.as_ref() else { return Ok(true) };
        let name = known.name();
        let what = || format!("read {} in {}", known.reference(), self.ns());
        let now = match known {
            diagnose::Workload::Deployment(_) => Api::<Deployment>::namespaced(client.clone(), self.ns())
                .get_opt(name)
                .await
                .map_err(|e| Error::api(what(), &e))?
                .map(|d| d.metadata.resource_version),
            diagnose::Workload::StatefulSet(_) => Api::<StatefulSet>::namespaced(client.clone(), self.ns())
                .get_opt(name)
                .await
                .map_err(|e| Error::api(what(), &e))?
                .map(|s| s.metadata.resource_version),
        };
        Ok(now.flatten().is_none_or(|rv| Some(rv) != known.metadata().resource_version))
    }

    /// Why the breaker refuses another remediation, if it does (state in the held Lease).
    fn breaker_open(&self, target: &Target) -> Option<String> {
        if self.plan.dry_run {
            return None;
        }
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let open = safety::breaker_allows(
            guard.as_ref()?.lease(),
            self.plan.max_remediations,
            self.plan.breaker_window,
            jiff::Timestamp::now(),
        )
        .err()?;
        let wl = target.workload.as_ref().map_or_else(|| "the workload".to_string(), |w| w.to_string());
        Some(format!(
            "Breaker open: {open} (at most {} per workload). The same fix keeps failing: look at the cause (kubectl -n {ns} describe {wl}; kubectl -n {ns} logs {wl} --previous)",
            self.plan.max_remediations,
            ns = self.ns()
        ))
    }

    /// Adds the `Unreachable` finding after a failed probe and decides again.
    /// Decides again on a diagnosis made after another healer held the lock. A service that
    /// is healthy and answers ends the run (`Break`, saying who fixed it); one that looks
    /// healthy but does not answer is unreachable, as on the first diagnosis.
    async fn decide_after_another(
        &self,
        probe_client: &Client,
        target: &Target,
        diagnosis: &mut Diagnosis,
        fixed_by: &str,
    ) -> ControlFlow<Ending, Decision> {
        let decision = decide::decide(diagnosis, &self.policy());
        if decision != Decision::Healthy {
            return ControlFlow::Continue(decision);
        }
        if self.verify(probe_client, target, Patience::Quick).await {
            self.emit_plan(&decision);
            let sentence = decide::diagnosis_sentence(diagnosis);
            return ControlFlow::Break(Ending::new(
                Outcome::Healthy,
                exit::OK,
                format!("{sentence} (fixed by {fixed_by})"),
            ));
        }
        ControlFlow::Continue(self.with_unreachable(diagnosis))
    }

    fn with_unreachable(&self, diagnosis: &mut Diagnosis) -> Decision {
        let finding = Finding {
            code: FindingCode::Unreachable,
            severity: Severity::Critical,
            message: format!("Service {} does not answer although its pods look fine.", self.plan.service),
            evidence: json!({"url": self.plan.url.as_ref().map(|u| u.to_string()), "error": self.plan.error}),
        };
        self.report_findings(std::slice::from_ref(&finding));
        diagnosis.findings.push(finding);
        decide::decide(diagnosis, &self.policy())
    }

    /// Emits the plan and ends as "manual".
    fn manual(&self, decision: &Decision, diagnosis: String) -> Ending {
        self.emit_plan(decision);
        manual_ending(decision, diagnosis)
    }

    /// Ready endpoints, then the probe; emits one `check` event per result.
    async fn verify(&self, probe_client: &Client, target: &Target, patience: Patience) -> bool {
        let deadline = match patience {
            Patience::Quick => self.deadline.min(Instant::now() + QUICK_VERIFY),
            Patience::UntilDeadline => self.deadline,
        };
        self.progress(Phase::Verify, format!("Verifying that {} answers", self.plan.service));
        let req = VerifyRequest {
            namespace: self.ns().to_string(),
            service: target.service_name.clone(),
            cluster_ips: service_ips(&target.service),
            port: self.plan.port.or(target.port.as_ref().map(|p| p.port)),
            url: self.plan.url.clone(),
            probe: match self.plan.probe {
                CliProbe::Http => ProbeKind::Http,
                CliProbe::Mcp => ProbeKind::Mcp,
                CliProbe::Tcp => ProbeKind::Tcp,
            },
            health_path: self.plan.health_path.clone(),
            deadline,
        };
        let outcome = verify::verify(probe_client, &req, |c| {
            self.emit(Event::Check {
                check: c.kind,
                ok: c.ok,
                message: c.message.clone(),
                latency_ms: c.latency.as_millis() as u64,
            })
        })
        .await;
        outcome.ok && outcome.checks.iter().any(|c| c.kind != CheckKind::Endpoints && c.ok)
    }
}

/// The Service's ClusterIPs (`clusterIPs`, else `clusterIP`; `None` for headless).
fn service_ips(svc: &k8s_openapi::api::core::v1::Service) -> Vec<String> {
    let spec = svc.spec.as_ref();
    let mut ips: Vec<String> = spec.and_then(|s| s.cluster_ips.clone()).unwrap_or_default();
    ips.extend(spec.and_then(|s| s.cluster_ip.clone()));
    ips.retain(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    ips
}

/// What tells two diagnoses apart: the workload's spec generation and the finding codes
/// (without `Unreachable`, which only a probe adds).
fn state_of(d: &Diagnosis) -> (Option<i64>, Vec<FindingCode>) {
    let generation = d.snapshot.workload.as_ref().and_then(|w| w.metadata().generation);
    let codes = d.findings.iter().map(|f| f.code).filter(|c| *c != FindingCode::Unreachable).collect();
    (generation, codes)
}

fn manual_ending(decision: &Decision, diagnosis: String) -> Ending {
    Ending::new(Outcome::Manual, exit::MANUAL, diagnosis).recommending(decision.recommendation().map(str::to_string))
}

fn recommendation_for(decision: &Decision, ns: &str, service: &str, diagnosis: &Diagnosis) -> String {
    match decision {
        Decision::Manual { recommendation, .. } => recommendation.clone(),
        Decision::Refuse { reason } => reason.clone(),
        other => format!(
            "{} To apply it: self-heal heal {service} -n {ns} ({})",
            other.reason(),
            decide::diagnosis_sentence(diagnosis)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verifier recognises a URL aimed at the Service's ClusterIP by these addresses.
    #[test]
    fn service_ips_are_the_cluster_ips_and_none_for_headless() {
        let svc = |spec: serde_json::Value| -> k8s_openapi::api::core::v1::Service {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "web"}, "spec": spec})).unwrap()
        };
        let dual = svc(serde_json::json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10", "fd00::a"]}));
        let ips = service_ips(&dual);
        assert!(ips.contains(&"10.96.0.10".to_string()) && ips.contains(&"fd00::a".to_string()), "{ips:?}");
        assert!(ips.iter().all(|ip| ip == "10.96.0.10" || ip == "fd00::a"), "{ips:?}");
        assert_eq!(service_ips(&svc(serde_json::json!({"clusterIP": "10.0.0.7"}))), ["10.0.0.7"]);
        assert!(service_ips(&svc(serde_json::json!({"clusterIP": "None", "clusterIPs": ["None"]}))).is_empty());
    }
}
