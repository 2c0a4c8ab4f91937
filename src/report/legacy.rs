//! `--output legacy`: what the old script's callers parse. One `PROGRESS: <sentence>` line per
//! progress-like event, and the [`RunResult`](crate::events::RunResult) alone as one compact
//! JSON line, last.

use std::io::Write;

use crate::events::{ActionStatus, Envelope, Event, Severity};
use crate::report::Sink;

/// Writes legacy lines to `W`, flushing each.
pub struct LegacySink<W: Write + Send>(pub W);

/// The `PROGRESS:` sentence for an event, if it has one (the result has none).
pub fn progress_line(envelope: &Envelope) -> Option<String> {
    let text = match &envelope.event {
        Event::Started { command, dry_run, .. } => format!(
            "Starting {command}{} of {} in namespace {}",
            if *dry_run { " (dry run)" } else { "" },
            envelope.service,
            envelope.namespace
        ),
        Event::Progress { message, .. } => message.clone(),
        Event::Finding(f) => {
            let sev = match f.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Critical => "critical",
            };
            format!("Found {} ({sev}): {}", f.code, f.message)
        }
        Event::Plan { action, reason, .. } => format!("Plan: {}: {reason}", enum_name(action)),
        Event::Action { action, status, message, .. } => {
            let st = match status {
                ActionStatus::Started => "started",
                ActionStatus::Succeeded => "succeeded",
                ActionStatus::Failed => "failed",
            };
            format!("Action {} {st}: {message}", enum_name(action))
        }
        Event::Rollout { desired, updated, ready, available, message } => {
            format!("Rollout: {message} (desired {desired}, updated {updated}, ready {ready}, available {available})")
        }
        Event::Check { check, ok, message, latency_ms } => {
            format!("Check {} {}: {message} ({latency_ms} ms)", enum_name(check), if *ok { "passed" } else { "failed" })
        }
        Event::Result(_) => return None,
    };
    Some(format!("PROGRESS: {}", one_line(&text)))
}

/// The serde name of a unit enum value (`delete_pods`, `endpoints`).
fn enum_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".to_string(),
    }
}

/// Newlines and other control characters would break the one-line-per-event contract.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

impl<W: Write + Send> Sink for LegacySink<W> {
    fn event(&mut self, envelope: &Envelope) {
        let line = match &envelope.event {
            Event::Result(result) => match serde_json::to_string(result) {
                Ok(line) => line,
                Err(_) => return,
            },
            _ => match progress_line(envelope) {
                Some(line) => line,
                None => return,
            },
        };
        // A closed stdout (caller gone) must not abort the heal.
        let _ = writeln!(self.0, "{line}").and_then(|_| self.0.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ActionKind, CheckKind, Finding, FindingCode, Outcome, Phase, RunResult};
    use crate::report::Reporter;
    use serde_json::json;

    use crate::report::testing::Shared;

    #[test]
    fn progress_lines_then_result_json_last() {
        let out = Shared::default();
        let r = Reporter::new("run1", "sandfly-mcp-server", "cortex-system", Box::new(LegacySink(out.clone())));
        r.emit(Event::Started { command: "heal".into(), error: Some("x".into()), url: None, dry_run: false });
        r.emit(Event::Progress { phase: Phase::Diagnose, message: "Reading deployment\nsandfly".into() });
        r.emit(Event::Finding(Finding {
            code: FindingCode::ScaledToZero,
            severity: Severity::Critical,
            message: "Deployment sandfly-mcp-server is scaled to 0".into(),
            evidence: json!({}),
        }));
        r.emit(Event::Plan { action: ActionKind::Scale, reason: "scale back to 2".into(), detail: json!({}) });
        r.emit(Event::Action {
            action: ActionKind::DeletePods,
            status: ActionStatus::Succeeded,
            message: "done".into(),
            detail: json!({}),
        });
        r.emit(Event::Rollout { desired: 2, updated: 2, ready: 1, available: 1, message: "1 of 2 ready".into() });
        r.emit(Event::Check { check: CheckKind::Http, ok: true, message: "GET answered 406".into(), latency_ms: 3 });
        let result = RunResult {
            success: true,
            outcome: Outcome::Healed,
            diagnosis: "scaled to zero".into(),
            fix_applied: Some("scaled to 2".into()),
            fix_attempted: None,
            recommendation: None,
            findings: vec![FindingCode::ScaledToZero],
            duration_ms: 1200,
            exit_code: 0,
            timestamp: "2026-11-28T10:00:00Z".into(),
        };
        r.emit(Event::Result(result.clone()));

        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8, "{text}");
        for l in &lines[..7] {
            assert!(l.starts_with("PROGRESS: "), "{l}");
        }
        assert_eq!(lines[0], "PROGRESS: Starting heal of sandfly-mcp-server in namespace cortex-system");
        assert_eq!(lines[1], "PROGRESS: Reading deployment sandfly");
        assert!(lines[2].contains("ScaledToZero") && lines[2].contains("critical"));
        assert_eq!(lines[4], "PROGRESS: Action delete_pods succeeded: done");
        assert_eq!(lines[6], "PROGRESS: Check http passed: GET answered 406 (3 ms)");
        // The last line is the result alone: no envelope fields.
        let last: serde_json::Value = serde_json::from_str(lines[7]).unwrap();
        assert_eq!(last["success"], true);
        assert_eq!(last["fix_applied"], "scaled to 2");
        assert!(last.get("event").is_none() && last.get("seq").is_none());
        assert_eq!(serde_json::from_value::<RunResult>(last).unwrap(), result);
    }
}
