//! `--output human`: for an operator at a terminal. A spinner per phase with the current step,
//! findings and outcomes as short marked lines, and a summary readable in two seconds.
//! Colour only on a terminal and without `NO_COLOR`; everything goes to stdout.

use std::io::Write;
use std::time::Duration;

use console::Style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{ActionStatus, Envelope, Event, Outcome, Phase, RunResult, Severity};
use crate::report::Sink;

/// Renders events for people.
pub struct HumanSink {
    out: Box<dyn Write + Send>,
    tty: bool,
    color: bool,
    spinner: Option<(Phase, ProgressBar)>,
    /// A `command` from a `plan` event's detail, shown in the summary if the result lacks it.
    plan_command: Option<String>,
    /// Actions that succeeded, for the summary.
    done: Vec<String>,
}

impl HumanSink {
    /// On stdout: spinners and colour when it is a terminal (colour off with `NO_COLOR` or
    /// `TERM=dumb`).
    pub fn stdout() -> Self {
        let tty = console::Term::stdout().is_term();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        HumanSink::new(Box::new(std::io::stdout()), tty, tty && !no_color && !dumb)
    }

    /// On any writer; `tty` enables spinners (drawn on stdout), `color` ANSI styles.
    pub fn new(out: Box<dyn Write + Send>, tty: bool, color: bool) -> Self {
        HumanSink { out, tty, color, spinner: None, plan_command: None, done: Vec::new() }
    }

    fn style(&self, s: Style) -> Style {
        s.force_styling(self.color)
    }

    fn line(&mut self, text: &str) {
        let out = &mut self.out;
        let write = |out: &mut Box<dyn Write + Send>| {
            let _ = writeln!(out, "{text}").and_then(|_| out.flush());
        };
        match &self.spinner {
            Some((_, pb)) => pb.suspend(|| write(out)),
            None => write(out),
        }
    }

    /// Shows `message` as the current step of `phase`: on the spinner, or as a line.
    fn step(&mut self, phase: Phase, message: &str) {
        if !self.tty {
            let text = format!("  {} {}", self.style(Style::new().dim()).apply_to("·"), one_line(message));
            self.line(&text);
            return;
        }
        if self.spinner.as_ref().is_none_or(|(p, _)| *p != phase) {
            self.clear_spinner();
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            pb.set_style(style);
            pb.set_prefix(phase_name(phase));
            pb.set_message(one_line(message));
            pb.enable_steady_tick(Duration::from_millis(100));
            self.spinner = Some((phase, pb));
        } else if let Some((_, pb)) = &self.spinner {
            pb.set_message(one_line(message));
        }
    }

    fn clear_spinner(&mut self) {
        if let Some((_, pb)) = self.spinner.take() {
            pb.finish_and_clear();
        }
    }

    fn mark(&self, ok: bool) -> String {
        if ok {
            self.style(Style::new().green()).apply_to("✓").to_string()
        } else {
            self.style(Style::new().red()).apply_to("✗").to_string()
        }
    }

    fn summary(&mut self, r: &RunResult, env: &Envelope) {
        self.clear_spinner();
        let (headline, style) = match r.outcome {
            Outcome::Healthy => ("HEALTHY", Style::new().green()),
            Outcome::Healed => ("HEALED", Style::new().green()),
            Outcome::NotHealed => ("NOT HEALED", Style::new().red()),
            Outcome::Manual => ("NEEDS A HUMAN", Style::new().yellow()),
            Outcome::Refused => ("REFUSED", Style::new().yellow()),
            Outcome::Error => ("ERROR", Style::new().red()),
            Outcome::Timeout => ("TIMED OUT", Style::new().red()),
            Outcome::Planned => ("PLANNED (DRY RUN)", Style::new().cyan()),
            Outcome::Interrupted => ("INTERRUPTED", Style::new().red()),
        };
        let head = self.style(style.bold()).apply_to(headline).to_string();
        let label = |s: &str| format!("  {:<10}", format!("{s}:"));
        let mut lines = vec![
            String::new(),
            format!(
                "{} {head}  {} in {}  ({}, exit {})",
                self.mark(r.success),
                env.service,
                env.namespace,
                format_ms(r.duration_ms),
                r.exit_code
            ),
        ];
        if !r.diagnosis.is_empty() {
            lines.push(format!("{}{}", label("Wrong"), one_line(&r.diagnosis)));
        }
        if let Some(fix) = &r.fix_applied {
            lines.push(format!("{}{}", label("Done"), one_line(fix)));
        } else if let Some(fix) = &r.fix_attempted {
            lines.push(format!("{}{} (did not heal)", label("Tried"), one_line(fix)));
        } else if !self.done.is_empty() {
            lines.push(format!("{}{}", label("Done"), self.done.join("; ")));
        } else {
            lines.push(format!("{}nothing changed", label("Done")));
        }
        match (&r.recommendation, &self.plan_command) {
            (Some(rec), cmd) => {
                let rec = one_line(rec);
                let you = self.style(Style::new().bold()).apply_to(&rec).to_string();
                lines.push(format!("{}{you}", label("You")));
                if let Some(cmd) = cmd.as_ref().filter(|c| !rec.contains(c.as_str())) {
                    lines.push(format!("{}{}", label("Run"), one_line(cmd)));
                }
            }
            (None, Some(cmd)) if !r.success => lines.push(format!("{}{}", label("Run"), one_line(cmd))),
            _ if r.success => lines.push(format!("{}nothing", label("You"))),
            _ => {}
        }
        if !r.findings.is_empty() {
            let codes: Vec<&str> = r.findings.iter().map(|c| c.as_str()).collect();
            lines.push(format!("{}{}", label("Findings"), codes.join(", ")));
        }
        for l in lines {
            self.line(&l);
        }
    }
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Diagnose => "diagnose",
        Phase::Remediate => "remediate",
        Phase::Verify => "verify",
    }
}

/// `850 ms`, `12.3 s`, `2m 5s`.
fn format_ms(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn enum_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s.replace('_', " "),
        _ => "unknown".to_string(),
    }
}

impl Sink for HumanSink {
    fn event(&mut self, env: &Envelope) {
        match &env.event {
            Event::Started { command, dry_run, error, .. } => {
                let title = self.style(Style::new().bold()).apply_to(format!(
                    "self-heal {command} {} in {}{}",
                    env.service,
                    env.namespace,
                    if *dry_run { " (dry run: nothing will change)" } else { "" }
                ));
                self.line(&title.to_string());
                if let Some(e) = error {
                    let shown: String = one_line(e).chars().take(160).collect();
                    let text = format!("  caller saw: {shown}");
                    self.line(&self.style(Style::new().dim()).apply_to(text).to_string());
                }
            }
            Event::Progress { phase, message } => self.step(*phase, message),
            Event::Finding(f) => {
                let (mark, style) = match f.severity {
                    Severity::Critical => ("✗", Style::new().red()),
                    Severity::Warning => ("!", Style::new().yellow()),
                    Severity::Info => ("·", Style::new().dim()),
                };
                let code = self.style(style.clone().bold()).apply_to(f.code.as_str());
                let text = format!("{} {code}: {}", self.style(style).apply_to(mark), one_line(&f.message));
                self.line(&text);
            }
            Event::Plan { action, reason, detail } => {
                self.plan_command = detail.get("command").and_then(|c| c.as_str()).map(str::to_string);
                let text = format!("→ plan: {}: {}", enum_name(action), one_line(reason));
                self.line(&text);
            }
            Event::Action { action, status, message, .. } => match status {
                ActionStatus::Started => self.step(Phase::Remediate, message),
                ActionStatus::Succeeded | ActionStatus::Failed => {
                    let ok = *status == ActionStatus::Succeeded;
                    if ok {
                        self.done.push(one_line(message));
                    }
                    let text = format!("{} {}: {}", self.mark(ok), enum_name(action), one_line(message));
                    self.line(&text);
                }
            },
            Event::Rollout { desired, ready, message, .. } => {
                self.step(Phase::Remediate, &format!("{message} ({ready}/{desired} ready)"));
            }
            Event::Check { check, ok, message, latency_ms } => {
                let text =
                    format!("{} {} check: {} ({latency_ms} ms)", self.mark(*ok), enum_name(check), one_line(message));
                self.line(&text);
            }
            Event::Result(r) => self.summary(r, env),
        }
    }

    fn finish(&mut self) {
        self.clear_spinner();
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ActionKind, CheckKind, Finding, FindingCode};
    use crate::report::Reporter;
    use serde_json::json;

    use crate::report::testing::Shared;

    fn run(color: bool) -> String {
        let out = Shared::default();
        let r = Reporter::new(
            "r",
            "sandfly-mcp-server",
            "cortex-system",
            Box::new(HumanSink::new(Box::new(out.clone()), false, color)),
        );
        r.emit(Event::Started {
            command: "heal".into(),
            error: Some("connect ECONNREFUSED".into()),
            url: None,
            dry_run: false,
        });
        r.emit(Event::Progress { phase: Phase::Diagnose, message: "Reading the deployment".into() });
        r.emit(Event::Finding(Finding {
            code: FindingCode::ImagePullBackOff,
            severity: Severity::Critical,
            message: "pod x cannot pull image ghcr.io/x:bad".into(),
            evidence: json!({}),
        }));
        r.emit(Event::Plan {
            action: ActionKind::Manual,
            reason: "no safe automatic fix".into(),
            detail: json!({"command": "kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"}),
        });
        r.emit(Event::Check {
            check: CheckKind::Endpoints,
            ok: false,
            message: "no ready endpoints".into(),
            latency_ms: 4,
        });
        r.emit(Event::Result(RunResult {
            success: false,
            outcome: Outcome::Manual,
            diagnosis: "The newest revision cannot pull its image".into(),
            fix_applied: None,
            fix_attempted: None,
            recommendation: Some(
                "Fix the image tag, or roll back: kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"
                    .into(),
            ),
            findings: vec![FindingCode::ImagePullBackOff],
            duration_ms: 2345,
            exit_code: 3,
            timestamp: "2026-11-28T10:00:00Z".into(),
        }));
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn summary_names_outcome_cause_and_the_command_to_run() {
        let text = run(false);
        assert!(!text.contains('\x1b'), "ANSI codes without colour: {text:?}");
        assert!(text.contains("NEEDS A HUMAN  sandfly-mcp-server in cortex-system  (2.3 s, exit 3)"), "{text}");
        assert!(text.contains("Wrong:    The newest revision cannot pull its image"), "{text}");
        assert!(text.contains("kubectl -n cortex-system rollout undo deployment/sandfly-mcp-server"), "{text}");
        assert!(text.contains("✗ ImagePullBackOff: pod x cannot pull image"), "{text}");
        assert!(text.contains("✗ endpoints check: no ready endpoints (4 ms)"), "{text}");
        assert!(text.contains("  · Reading the deployment"), "{text}");
        // The command is in the recommendation already: not repeated.
        assert_eq!(text.matches("rollout undo").count(), 1, "{text}");
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(run(true).contains('\x1b'));
    }

    #[test]
    fn durations_read_quickly() {
        assert_eq!(format_ms(850), "850 ms");
        assert_eq!(format_ms(12_345), "12.3 s");
        assert_eq!(format_ms(125_000), "2m 5s");
    }
}
