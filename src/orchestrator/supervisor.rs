//! The healing supervisor: one `self-heal` worker per service at a time (single-flight; every
//! caller that joins gets every event from the first), spawned without a shell, with a cleared
//! environment plus an allowlist, in its own process group that is killed whole at the
//! deadline, and always reaped. Worker lines are parsed with [`crate::events`] types; a missing,
//! crashing, silent or garbage-printing worker ends as a failure that names the reason.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, watch};

use super::history::{Finish, History, now_rfc3339};
use super::metrics::Metrics;
use crate::events::{ActionStatus, Envelope, Event, Outcome, RunResult};

/// Environment variables the worker inherits; everything else is cleared. PATH and HOME for
/// kubeconfig exec plugins and `~/.kube/config`; KUBECONFIG and the in-cluster pair choose the
/// cluster; RUST_LOG and NO_COLOR shape its stderr.
pub const ENV_ALLOWLIST: &[&str] =
    &["PATH", "HOME", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "RUST_LOG", "NO_COLOR"];

/// What to heal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealRequest {
    /// The Service.
    pub service: String,
    /// Its namespace.
    pub namespace: String,
    /// The caller's error.
    pub error: String,
    /// The URL that failed (a hint for the worker).
    pub url: String,
    /// Verify with an MCP probe.
    pub probe_mcp: bool,
}

/// How a worker process ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerExit {
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// It was killed at the deadline.
    pub timed_out: bool,
    /// It could not be started (missing, not executable).
    pub spawn_error: Option<String>,
    /// Its process id (also its process group's), once started.
    pub pid: Option<u32>,
}

/// Runs one worker: sends each stdout line on `lines` as it arrives, returns how it ended.
pub trait WorkerRunner: Send + Sync {
    /// Runs the worker for `req`.
    fn run(&self, req: HealRequest, lines: mpsc::UnboundedSender<String>) -> BoxFuture<'static, WorkerExit>;
    /// Kills every running worker's process group (shutdown).
    fn kill_all(&self);
    /// Whether the worker binary exists and is executable.
    fn ready(&self) -> Result<(), String>;
}

/// [`WorkerRunner`] that spawns the real `self-heal` binary.
pub struct ProcessRunner {
    /// The binary.
    pub worker: PathBuf,
    /// After this the process group is killed.
    pub timeout: Duration,
    groups: Arc<Mutex<HashSet<i32>>>,
}

impl ProcessRunner {
    /// A runner for `worker` with the kill deadline `timeout`.
    pub fn new(worker: PathBuf, timeout: Duration) -> Self {
        ProcessRunner { worker, timeout, groups: Arc::default() }
    }

    /// The worker's arguments: its own deadline 10 s under ours, so it reports a timeout result
    /// before it is killed.
    pub fn args(&self, req: &HealRequest) -> Vec<String> {
        let own = self.timeout.saturating_sub(Duration::from_secs(10)).max(self.timeout / 2);
        let mut a = vec![
            "--output".to_string(),
            "ndjson".into(),
            "-n".into(),
            req.namespace.clone(),
            "--timeout".into(),
            format!("{}ms", own.as_millis().max(1)),
        ];
        if req.probe_mcp {
            a.extend(["--probe".into(), "mcp".into()]);
        }
        a.extend(["heal".into(), "--".into(), req.service.clone(), req.error.clone(), req.url.clone()]);
        a
    }
}

/// How long a dead worker's remaining output may take to arrive.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// The next stdout line; pending forever once the pipe is closed (`None` reader).
async fn next_line(
    reader: &mut Option<tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>>,
) -> Option<String> {
    match reader {
        Some(r) => r.next_line().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

/// Blocks until process `pid` has ended, leaving it unreaped (`WNOWAIT`), so its pid and group
/// id stay reserved until [`tokio::process::Child::wait`] reaps it.
fn exited_unreaped(pid: i32) {
    if pid <= 0 {
        return;
    }
    loop {
        // SAFETY: waitid writes only into `info`, a zeroed siginfo_t we own.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT)
        };
        if rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

fn killpg(pgid: i32) {
    if pgid > 0 {
        // SAFETY: killpg only sends a signal; a stale group id fails with ESRCH.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

impl WorkerRunner for ProcessRunner {
    fn run(&self, req: HealRequest, lines: mpsc::UnboundedSender<String>) -> BoxFuture<'static, WorkerExit> {
        let mut cmd = tokio::process::Command::new(&self.worker);
        cmd.args(self.args(&req))
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true);
        for k in ENV_ALLOWLIST {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        let timeout = self.timeout;
        let groups = self.groups.clone();
        let worker = self.worker.clone();
        Box::pin(async move {
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    return WorkerExit {
                        spawn_error: Some(format!("cannot start worker {}: {e}", worker.display())),
                        ..Default::default()
                    };
                }
            };
            let pid = child.id();
            let pgid = pid.map(|p| p as i32).unwrap_or(0);
            groups.lock().unwrap_or_else(|e| e.into_inner()).insert(pgid);
            let mut reader = child.stdout.take().map(|out| tokio::io::BufReader::new(out).lines());
            // Watches the leader's exit without reaping it, so its group can still be killed
            // by id: a descendant holding stdout must not keep a dead worker's heal open.
            let mut exited = tokio::task::spawn_blocking(move || exited_unreaped(pgid));
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut timed_out = false;
            loop {
                tokio::select! {
                    line = next_line(&mut reader) => match line {
                        Some(l) => { let _ = lines.send(l); }
                        None => reader = None,
                    },
                    _ = &mut exited => break,
                    _ = &mut deadline => { timed_out = true; break }
                }
            }
            // The leader is dead (a zombie, not reaped yet) or past its deadline: either way
            // nothing of its group may outlive it, and its group id cannot have been reused.
            killpg(pgid);
            if !timed_out {
                // What the worker printed before it ended is still in the pipe; every writer
                // is dead now, so the end comes at once (bounded, in case one escaped the group).
                let drain = async {
                    while let Some(r) = reader.as_mut() {
                        match r.next_line().await {
                            Ok(Some(l)) => {
                                let _ = lines.send(l);
                            }
                            _ => reader = None,
                        }
                    }
                };
                let _ = tokio::time::timeout(DRAIN_LIMIT, drain).await;
            }
            let status = child.wait().await;
            groups.lock().unwrap_or_else(|e| e.into_inner()).remove(&pgid);
            match status {
                _ if timed_out => {
                    WorkerExit { timed_out: true, signal: Some(libc::SIGKILL), pid, ..Default::default() }
                }
                Ok(status) => {
                    use std::os::unix::process::ExitStatusExt;
                    WorkerExit { code: status.code(), signal: status.signal(), pid, ..Default::default() }
                }
                Err(e) => {
                    WorkerExit { spawn_error: Some(format!("cannot wait for worker: {e}")), pid, ..Default::default() }
                }
            }
        })
    }

    fn kill_all(&self) {
        for pgid in self.groups.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            killpg(*pgid);
        }
    }

    fn ready(&self) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(&self.worker) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
            Ok(_) => Err(format!("worker {} is not an executable file", self.worker.display())),
            Err(e) => Err(format!("worker {}: {e}", self.worker.display())),
        }
    }
}

/// How a heal ended, as the callers see it.
#[derive(Clone, Debug, PartialEq)]
pub struct HealOutcome {
    /// Healthy or healed and verified.
    pub success: bool,
    /// The worker's outcome, or `failed` for a worker fault.
    pub outcome: String,
    /// A sentence: "Service restored: ..." or why it failed.
    pub message: String,
    /// What a human should do.
    pub recommendation: Option<String>,
    /// The worker's exit code.
    pub exit_code: Option<i32>,
}

/// A message of a heal, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum HealMsg {
    /// A worker line: its human sentence and the line itself.
    Progress {
        /// The sentence.
        message: String,
        /// The NDJSON object.
        line: Value,
    },
    /// The end.
    Done(HealOutcome),
}

#[derive(Default)]
struct FlightState {
    msgs: Vec<HealMsg>,
    done: bool,
}

/// One running heal that any number of callers follow.
pub struct Flight {
    /// The history id.
    pub id: String,
    state: Mutex<FlightState>,
    notify: watch::Sender<()>,
}

/// Reads a [`Flight`] from its first message.
pub struct Follower {
    flight: Arc<Flight>,
    rx: watch::Receiver<()>,
    next: usize,
}

impl Flight {
    fn push(&self, msg: HealMsg) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let HealMsg::Done(_) = msg {
            st.done = true;
        }
        st.msgs.push(msg);
        drop(st);
        self.notify.send_replace(());
    }

    /// A follower that starts at the first message.
    pub fn follow(self: &Arc<Self>) -> Follower {
        Follower { flight: self.clone(), rx: self.notify.subscribe(), next: 0 }
    }
}

impl Follower {
    /// The next message, waiting for it; None after [`HealMsg::Done`].
    pub async fn next(&mut self) -> Option<HealMsg> {
        loop {
            self.rx.borrow_and_update();
            {
                let st = self.flight.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(m) = st.msgs.get(self.next) {
                    self.next += 1;
                    return Some(m.clone());
                }
                if st.done {
                    return None;
                }
            }
            if self.rx.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// Runs heals, one per service at a time.
pub struct Supervisor {
    runner: Arc<dyn WorkerRunner>,
    history: Arc<History>,
    metrics: Arc<Metrics>,
    flights: Mutex<HashMap<(String, String), Arc<Flight>>>,
}

impl Supervisor {
    /// A supervisor spawning through `runner`.
    pub fn new(runner: Arc<dyn WorkerRunner>, history: Arc<History>, metrics: Arc<Metrics>) -> Self {
        Supervisor { runner, history, metrics, flights: Mutex::default() }
    }

    /// The runner (readiness, shutdown).
    pub fn runner(&self) -> &Arc<dyn WorkerRunner> {
        &self.runner
    }

    /// Joins the running heal of this service, or starts one.
    pub fn heal(self: &Arc<Self>, req: HealRequest) -> Arc<Flight> {
        let key = (req.namespace.clone(), req.service.clone());
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = flights.get(&key) {
            self.history.add_request(&f.id);
            return f.clone();
        }
        let id = self.history.start(&req.service, &req.namespace, &req.error);
        let flight = Arc::new(Flight { id, state: Mutex::default(), notify: watch::channel(()).0 });
        flights.insert(key.clone(), flight.clone());
        drop(flights);
        let me = self.clone();
        let f = flight.clone();
        tokio::spawn(async move {
            let outcome = me.drive(&f, req.clone()).await;
            // Remove before publishing the end, so a failure after it starts a fresh heal.
            me.flights.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
            f.push(HealMsg::Done(outcome));
        });
        flight
    }

    async fn drive(&self, flight: &Flight, req: HealRequest) -> HealOutcome {
        let started = Instant::now();
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.metrics.worker_spawned();
        let run = self.runner.run(req.clone(), tx);
        let mut run = std::pin::pin!(run);
        let mut result: Option<RunResult> = None;
        let mut garbage: Option<String> = None;
        let mut findings: Vec<String> = Vec::new();
        let mut action: Option<String> = None;
        let mut refusal: Option<String> = None;
        let mut run_id: Option<String> = None;
        let mut exit: Option<WorkerExit> = None;
        loop {
            let line = tokio::select! {
                biased;
                l = rx.recv() => match l {
                    Some(l) => l,
                    None => {
                        if exit.is_none() {
                            exit = Some((&mut run).await);
                        }
                        break;
                    }
                },
                e = &mut run, if exit.is_none() => { exit = Some(e); continue }
            };
            let ts = now_rfc3339();
            match serde_json::from_str::<Envelope>(&line) {
                Ok(env) => {
                    let value = serde_json::to_value(&env).unwrap_or(Value::Null);
                    run_id.get_or_insert(env.run.clone());
                    match &env.event {
                        Event::Finding(f) => findings.push(f.code.as_str().to_string()),
                        Event::Plan { action: a, reason, detail } => {
                            action = serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_string));
                            if detail["refused"] == true {
                                refusal = Some(reason.clone());
                            }
                        }
                        Event::Action { status: ActionStatus::Failed, message, .. } => {
                            refusal.get_or_insert_with(|| message.clone());
                        }
                        Event::Result(r) => result = Some(r.clone()),
                        _ => {}
                    }
                    self.history.push_event(&flight.id, ts, value.clone());
                    flight.push(HealMsg::Progress { message: sentence(&env), line: value });
                }
                Err(e) => {
                    if garbage.is_none() {
                        let shown: String = line.chars().take(120).collect();
                        garbage =
                            Some(format!("the worker printed a line that is not a progress event ({e}): {shown:?}"));
                    }
                }
            }
        }
        let exit = exit.unwrap_or_default();
        let outcome = judge(&req.service, result.as_ref(), refusal, garbage, &exit);
        let duration = started.elapsed();
        self.history.finish(
            &flight.id,
            Finish {
                outcome: outcome.outcome.clone(),
                exit_code: outcome.exit_code,
                message: outcome.message.clone(),
                recommendation: outcome.recommendation.clone(),
                duration_ms: duration.as_millis() as u64,
            },
        );
        self.metrics.heal_finished(&req.service, &outcome.outcome, duration.as_secs_f64(), &findings);
        tracing::info!(
            target: "heal",
            heal = %flight.id,
            run = run_id.as_deref().unwrap_or(""),
            service = %req.service,
            namespace = %req.namespace,
            codes = %findings.join(","),
            action = action.as_deref().unwrap_or(""),
            outcome = %outcome.outcome,
            duration_ms = duration.as_millis() as u64,
            exit_code = outcome.exit_code.unwrap_or(-1),
            "heal finished: {}",
            outcome.message
        );
        outcome
    }
}

/// The worker's result line and exit, judged: success, or a failure naming its reason.
fn judge(
    service: &str,
    result: Option<&RunResult>,
    refusal: Option<String>,
    garbage: Option<String>,
    exit: &WorkerExit,
) -> HealOutcome {
    let fault = |message: String| HealOutcome {
        success: false,
        outcome: "failed".into(),
        message,
        recommendation: Some(format!("check the orchestrator's log and run `self-heal diagnose {service}` by hand")),
        exit_code: exit.code,
    };
    if let Some(e) = &exit.spawn_error {
        return fault(format!("Healing failed: {e}"));
    }
    let worker = exit.pid.map_or_else(|| "the worker".to_string(), |p| format!("the worker (pid {p})"));
    if exit.timed_out {
        return fault(format!(
            "Healing failed: {worker} ran past its time limit and was killed with its process group"
        ));
    }
    if let Some(g) = garbage {
        return fault(format!("Healing failed: {g}"));
    }
    let Some(r) = result else {
        let how = match (exit.code, exit.signal) {
            (_, Some(sig)) => format!("was killed by signal {sig}"),
            (Some(c), _) => format!("exited with code {c}"),
            _ => "ended".to_string(),
        };
        return fault(format!("Healing failed: {worker} {how} without a result line"));
    };
    if exit.code != Some(r.exit_code) {
        return fault(format!(
            "Healing failed: the worker's result says exit code {} but it exited with {:?}",
            r.exit_code, exit.code
        ));
    }
    let outcome = serde_json::to_value(r.outcome).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    if r.success {
        let message = match (&r.fix_applied, outcome.as_str()) {
            (Some(fix), _) => format!("Service restored: {fix}"),
            (None, _) => format!("Service restored: {}", r.diagnosis),
        };
        HealOutcome { success: true, outcome, message, recommendation: None, exit_code: Some(r.exit_code) }
    } else if r.outcome == Outcome::Refused {
        // Why it was refused (lock, breaker, paused rollout) first, then what is wrong.
        let reason = refusal.or_else(|| r.recommendation.clone()).unwrap_or_else(|| r.diagnosis.clone());
        let message = if reason == r.diagnosis {
            format!("Healing refused: {reason}")
        } else {
            format!("Healing refused: {reason} ({})", r.diagnosis)
        };
        HealOutcome {
            success: false,
            outcome,
            message,
            recommendation: r.recommendation.clone(),
            exit_code: Some(r.exit_code),
        }
    } else {
        HealOutcome {
            success: false,
            outcome,
            message: format!("Healing failed: {}", r.diagnosis),
            recommendation: r.recommendation.clone(),
            exit_code: Some(r.exit_code),
        }
    }
}

/// The human sentence of a worker line.
pub fn sentence(env: &Envelope) -> String {
    match &env.event {
        Event::Started { command, .. } => format!("self-heal {command} started for {}/{}", env.namespace, env.service),
        Event::Progress { message, .. } => message.clone(),
        Event::Finding(f) => f.message.clone(),
        Event::Plan { reason, .. } => reason.clone(),
        Event::Action { message, .. } => message.clone(),
        Event::Rollout { message, .. } => message.clone(),
        Event::Check { message, .. } => message.clone(),
        Event::Result(r) => {
            r.fix_applied.clone().map_or_else(|| r.diagnosis.clone(), |f| format!("{}: {f}", r.diagnosis))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake runner: prints the given lines, then exits with `code`; `gate` holds it until
    /// released, so joins are certain.
    struct Fake {
        lines: Vec<String>,
        code: i32,
        gate: Arc<tokio::sync::Semaphore>,
        runs: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl WorkerRunner for Fake {
        fn run(&self, _req: HealRequest, tx: mpsc::UnboundedSender<String>) -> BoxFuture<'static, WorkerExit> {
            self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (lines, code, gate) = (self.lines.clone(), self.code, self.gate.clone());
            Box::pin(async move {
                let _permit = gate.acquire().await;
                for l in lines {
                    let _ = tx.send(l);
                }
                WorkerExit { code: Some(code), ..Default::default() }
            })
        }
        fn kill_all(&self) {}
        fn ready(&self) -> Result<(), String> {
            Ok(())
        }
    }

    fn line(seq: u64, event: &str) -> String {
        format!(
            r#"{{"v":1,"seq":{seq},"ts":"2026-01-01T00:00:00.000Z","run":"r1","service":"s","namespace":"n",{event}}}"#
        )
    }

    fn result(success: bool, outcome: &str, code: i32) -> String {
        line(
            3,
            &format!(
                r#""event":"result","success":{success},"outcome":"{outcome}","diagnosis":"scaled to zero","fix_applied":"scaled s from 0 to 3 replicas","fix_attempted":null,"recommendation":null,"findings":["ScaledToZero"],"duration_ms":5,"exit_code":{code},"timestamp":"2026-01-01T00:00:00Z""#
            ),
        )
    }

    fn req() -> HealRequest {
        HealRequest { service: "s".into(), namespace: "n".into(), error: "e".into(), url: "u".into(), probe_mcp: true }
    }

    fn sup(
        lines: Vec<String>,
        code: i32,
    ) -> (Arc<Supervisor>, Arc<tokio::sync::Semaphore>, Arc<std::sync::atomic::AtomicUsize>) {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let fake = Fake { lines, code, gate: gate.clone(), runs: runs.clone() };
        let s = Supervisor::new(Arc::new(fake), Arc::new(History::new(10)), Arc::new(Metrics::new()));
        (Arc::new(s), gate, runs)
    }

    async fn collect(f: &Arc<Flight>) -> Vec<HealMsg> {
        let mut fol = f.follow();
        let mut out = Vec::new();
        while let Some(m) = fol.next().await {
            out.push(m);
        }
        out
    }

    #[tokio::test]
    async fn concurrent_heals_share_one_worker_and_every_follower_sees_everything() {
        let lines = vec![
            line(1, r#""event":"progress","phase":"diagnose","message":"Checking pods""#),
            line(
                2,
                r#""event":"finding","code":"ScaledToZero","severity":"critical","message":"scaled to 0","evidence":{}"#,
            ),
            result(true, "healed", 0),
        ];
        let (s, gate, runs) = sup(lines, 0);
        let flights: Vec<_> = (0..10).map(|_| s.heal(req())).collect();
        gate.add_permits(1);
        let all = futures::future::join_all(flights.iter().map(collect)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        for msgs in &all {
            assert_eq!(msgs.len(), 4);
            assert_eq!(msgs[1], HealMsg::Progress { message: "scaled to 0".into(), line: serde_json::from_str(&line(2, r#""event":"finding","code":"ScaledToZero","severity":"critical","message":"scaled to 0","evidence":{}"#)).unwrap() });
            let HealMsg::Done(o) = &msgs[3] else { panic!("{msgs:?}") };
            assert!(o.success);
            assert_eq!(o.message, "Service restored: scaled s from 0 to 3 replicas");
        }
        let h = s.history.list(&Default::default());
        assert_eq!(h.heals[0].requests, 10);
        assert_eq!(h.heals[0].findings, vec!["ScaledToZero"]);
        // A failure after the heal ended starts a new one.
        let again = s.heal(req());
        gate.add_permits(1);
        collect(&again).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn worker_faults_name_the_reason() {
        let (s, gate, _) = sup(vec!["not json at all".into(), result(true, "healed", 0)], 0);
        gate.add_permits(1);
        let msgs = collect(&s.heal(req())).await;
        let HealMsg::Done(o) = msgs.last().unwrap() else { panic!() };
        assert!(!o.success && o.outcome == "failed" && o.message.contains("not a progress event"), "{o:?}");

        let (s, gate, _) = sup(vec![line(1, r#""event":"progress","phase":"diagnose","message":"x""#)], 101);
        gate.add_permits(1);
        let msgs = collect(&s.heal(req())).await;
        let HealMsg::Done(o) = msgs.last().unwrap() else { panic!() };
        assert!(o.message.contains("exited with code 101 without a result line"), "{o:?}");
    }

    #[tokio::test]
    async fn a_refused_heal_says_why_then_what_is_wrong() {
        let plan = line(
            2,
            r#""event":"plan","action":"manual","reason":"Breaker open: 3 remediations in 10m","detail":{"refused":true}"#,
        );
        let refused = line(
            3,
            r#""event":"result","success":false,"outcome":"refused","diagnosis":"deployment/s is scaled to 0 replicas.","fix_applied":null,"fix_attempted":null,"recommendation":"Breaker open: 3 remediations in 10m","findings":["ScaledToZero"],"duration_ms":5,"exit_code":4,"timestamp":"2026-01-01T00:00:00Z""#,
        );
        let (s, gate, _) = sup(vec![plan, refused], 4);
        gate.add_permits(1);
        let msgs = collect(&s.heal(req())).await;
        let HealMsg::Done(o) = msgs.last().unwrap() else { panic!() };
        assert_eq!(
            (o.success, o.outcome.as_str(), o.exit_code, o.message.as_str()),
            (
                false,
                "refused",
                Some(4),
                "Healing refused: Breaker open: 3 remediations in 10m (deployment/s is scaled to 0 replicas.)"
            )
        );
    }

    /// A script worker in a fresh temp dir.
    fn script_runner(body: &str, timeout: Duration) -> (ProcessRunner, tempfile::TempDir) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        (ProcessRunner::new(path, timeout), dir)
    }

    fn gone(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) != 0 }
    }

    #[tokio::test]
    async fn a_killed_worker_ends_at_once_and_takes_its_descendants_along() {
        // The grandchild keeps stdout open: only the leader's exit can tell that the worker died.
        let (runner, dir) = script_runner(
            "sleep 300 &\necho $! > \"$(dirname \"$0\")/child\"\necho '{\"not\": \"done\"}'\nkill -9 $$",
            Duration::from_secs(60),
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let exit = runner.run(req(), tx).await;
        assert!(t0.elapsed() < Duration::from_secs(10), "detected after {:?}", t0.elapsed());
        assert_eq!((exit.signal, exit.code, exit.timed_out), (Some(libc::SIGKILL), None, false), "{exit:?}");
        assert_eq!(rx.recv().await.as_deref(), Some(r#"{"not": "done"}"#), "the line printed before the kill");
        let child: i32 = std::fs::read_to_string(dir.path().join("child")).unwrap().trim().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !gone(child) {
            // Killed but not yet reaped by init: a zombie is gone for our purposes.
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            if stat.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z')) {
                break;
            }
            assert!(Instant::now() < deadline, "the worker's child {child} outlived it");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let o = judge("s", None, None, None, &exit);
        assert!(o.message.ends_with("was killed by signal 9 without a result line"), "{o:?}");
        assert!(o.message.contains(&format!("(pid {})", exit.pid.unwrap())), "{o:?}");
    }

    #[test]
    fn worker_arguments_have_no_shell_and_end_with_the_positionals() {
        let r = ProcessRunner::new("/bin/self-heal".into(), Duration::from_secs(120));
        let mut q = req();
        q.error = "it's $(rm -rf /)".into();
        let a = r.args(&q);
        assert_eq!(&a[a.len() - 5..], ["heal", "--", "s", "it's $(rm -rf /)", "u"]);
        assert!(a.windows(2).any(|w| w == ["--timeout", "110000ms"]));
        assert!(a.windows(2).any(|w| w == ["--probe", "mcp"]));
    }
}
