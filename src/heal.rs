//! TEMPORARY stub of the pipeline (the lead replaces this file): connects to the cluster,
//! checks the API answers, and reports `error` because nothing else is implemented here.

use std::time::Instant;

use crate::cli::RunPlan;
use crate::client;
use crate::error::Error;
use crate::events::{Event, Outcome, RunResult};
use crate::report::{Reporter, sink_for};

/// Runs the plan and returns the process exit code.
pub async fn execute(plan: RunPlan) -> i32 {
    let start = Instant::now();
    let run = format!("{}-{}", jiff::Timestamp::now().as_millisecond(), std::process::id());
    let reporter = Reporter::new(run, plan.service.clone(), plan.namespace.clone(), sink_for(plan.output));
    reporter.emit(Event::Started {
        command: plan.command.as_str().to_string(),
        error: plan.error.clone(),
        url: plan.url.as_ref().map(|u| u.to_string()),
        dry_run: plan.dry_run,
    });
    let outcome = match client::connect_described(&plan.kube).await {
        Ok((c, target)) => client::check_reachable(&c, &target).await.map_err(Error::from),
        Err(e) => Err(Error::from(e)),
    };
    let err = outcome.err();
    let code = err.as_ref().map_or(crate::exit::NOT_HEALED, Error::exit_code);
    let diagnosis = match &err {
        Some(e) => {
            eprintln!("self-heal: {e}");
            e.to_string()
        }
        None => "the healing pipeline is not implemented in this build".to_string(),
    };
    reporter.emit(Event::Result(RunResult {
        success: false,
        outcome: err.as_ref().map_or(Outcome::Error, Error::outcome),
        diagnosis,
        fix_applied: None,
        fix_attempted: None,
        recommendation: err.as_ref().and_then(Error::recommendation),
        findings: Vec::new(),
        duration_ms: start.elapsed().as_millis() as u64,
        exit_code: code,
        timestamp: jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }));
    code
}
