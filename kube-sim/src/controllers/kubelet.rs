//! The kubelet of kube-sim's single node: runs each bound pod's containers as real loopback
//! servers ([`super::podserver`]) on a pod IP of its own (127.1.x.y, never shared by two live
//! pods) and reports pod status, container states and Events as a real kubelet does
//! (k8s-reference §3.1–§3.3).
//!
//! Images `sim/*` pull; any other image fails with ErrImagePull, then ImagePullBackOff (back-off
//! 10 s doubling to 300 s, scaled). A ConfigMap or Secret missing for env, envFrom or a volume
//! gives CreateContainerConfigError until it exists. Faults come from the container's `env`:
//!
//! - `SIM_CRASH=1`: prints a few lines, exits 1 shortly after start → CrashLoopBackOff.
//! - `SIM_CRASH=until-restart`: the same, but only in pods whose own annotations lack
//!   `kubectl.kubernetes.io/restartedAt`; as `kubectl rollout restart` puts that annotation on
//!   the template (and so on the new pods), this simulates a crash loop a restart clears.
//! - `SIM_OOM=1`: terminated with reason OOMKilled, exit code 137, then CrashLoopBackOff.
//! - `SIM_READY_DELAY=<humantime>`: Running at once, Ready only after that (unscaled) delay.
//! - `SIM_NOT_READY=1`: Running, never Ready; `/health` answers 503 and the kubelet reports
//!   `Unhealthy` readiness probe failures.
//! - `SIM_MCP_DOWN=1`: Ready and `/health` 200, but `/mcp` answers 503 (a dead MCP process
//!   behind a live health endpoint).
//! - `SIM_HANG=1`: Ready, but `/mcp` never answers (a hung process: callers time out).
//! - `SIM_READY_FLAP=<up>,<down>`: readiness flaps (unscaled seconds, fractions allowed):
//!   Ready for `up`, then unready for `down` with its server closed (connections refused, an
//!   `Unhealthy` readiness probe failure), and again; no restart.
//!
//! `SIM_MCP_DOWN` and `SIM_HANG` also take `until-restart`, with the meaning above.
//!
//! A pod with a `deletionTimestamp` has its servers stopped, containers terminated, an Event
//! `Killing` per container, and is removed from the store a short (scaled) time later.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::podserver::{Behaviour, PodServer};
use super::recorder::{self, Type};
use super::runtime::{Faults, full_image, go_duration, image_id, missing_config, pullable, tagged};
use super::{Ctx, Wake, meta, terminating};
use crate::resources::{CONFIGMAPS, PODS, SECRETS};
use crate::store::now as ts_now;

/// The annotation `kubectl rollout restart` adds to the pod template.
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The node's address, reported as `hostIP`.
const HOST_IP: &str = "127.0.0.1";

/// Hands out pod IPs 127.1.x.y, none twice while its pod lives. They are drawn at random and
/// checked free, because several kube-sims (parallel tests) share the machine's loopback.
#[derive(Default)]
struct Ips {
    used: HashSet<Ipv4Addr>,
}

impl Ips {
    fn take(&mut self, ports: &[u16]) -> Ipv4Addr {
        let mut ip = Ipv4Addr::new(127, 1, 0, 2);
        for _ in 0..256 {
            ip = Ipv4Addr::new(127, 1, fastrand::u8(..), fastrand::u8(2..255));
            if self.used.contains(&ip) {
                continue;
            }
            if ports.iter().all(|p| std::net::TcpListener::bind((ip, *p)).is_ok()) {
                break;
            }
        }
        self.used.insert(ip);
        ip
    }
}

#[derive(Debug)]
enum State {
    /// Not pulled yet (`ContainerCreating`).
    Creating,
    /// `ErrImagePull` with the runtime's error.
    PullErr(String),
    /// `ImagePullBackOff` with its message.
    PullBackOff(String),
    /// `CreateContainerConfigError` with the missing object.
    ConfigErr(String),
    /// Running; crashes at `crash_at` if set; readiness flips at `flap_at` (`SIM_READY_FLAP`).
    Running {
        crash_at: Option<Instant>,
        ready_at: Option<Instant>,
        probe_at: Option<Instant>,
        flap_at: Option<Instant>,
    },
    /// `CrashLoopBackOff` with its message.
    CrashBackOff(String),
    /// Stopped by pod deletion.
    Terminated(Value),
}

struct Container {
    name: String,
    image: String,
    state: State,
    next: Option<Instant>,
    restarts: i64,
    last: Option<Value>,
    server: Option<PodServer>,
    pull_backoff: u64,
    crash_backoff: u64,
    pulled: bool,
    id: String,
    started_at: String,
    ready: bool,
    /// Why the process exits, when it is not a configured fault (e.g. it could not listen).
    crash_note: Option<String>,
}

struct PodRt {
    ip: Ipv4Addr,
    start_time: String,
    containers: Vec<Container>,
    delete_at: Option<Instant>,
}

/// The node agent: pod runtimes keyed by pod uid.
#[derive(Default)]
pub struct Kubelet {
    pods: HashMap<String, PodRt>,
    ips: Ips,
}

fn hex(n: usize) -> String {
    (0..n).map(|_| format!("{:x}", fastrand::u8(..16))).collect()
}

fn container_ports(c: &Value) -> Vec<u16> {
    c["ports"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["containerPort"].as_u64().and_then(|n| u16::try_from(n).ok()))
        .collect()
}

fn field_path(c: &str) -> String {
    format!("spec.containers{{{c}}}")
}

fn app_name(pod: &Value, c: &str) -> String {
    let l = &pod["metadata"]["labels"];
    l["app"].as_str().or(l["app.kubernetes.io/name"].as_str()).unwrap_or(c).to_string()
}

impl Kubelet {
    /// Stops every pod server (kube-sim is shutting down).
    pub fn shutdown(&mut self) {
        for rt in self.pods.values_mut() {
            for c in &mut rt.containers {
                if let Some(mut s) = c.server.take() {
                    s.stop();
                }
            }
        }
        self.pods.clear();
    }

    /// One pass over the bound pods; returns the next timer.
    pub fn sync(&mut self, ctx: &Ctx, now: Instant) -> Option<Instant> {
        let (pods, _) = ctx.store.list(&PODS, None);
        let live: HashSet<&str> = pods.iter().map(|p| meta(p, "uid")).collect();
        let gone: Vec<String> = self.pods.keys().filter(|u| !live.contains(u.as_str())).cloned().collect();
        for uid in gone {
            if let Some(mut rt) = self.pods.remove(&uid) {
                for c in &mut rt.containers {
                    if let Some(mut s) = c.server.take() {
                        s.stop();
                    }
                }
                self.ips.used.remove(&rt.ip);
            }
        }
        let mut wake = Wake::default();
        for pod in &pods {
            let bound = !pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty();
            if !bound {
                if terminating(pod) {
                    let _ = ctx.store.delete(&PODS, meta(pod, "namespace"), meta(pod, "name"), false);
                }
                continue;
            }
            wake.at(self.sync_pod(ctx, pod, now));
        }
        wake.0
    }

    fn sync_pod(&mut self, ctx: &Ctx, pod: &Value, now: Instant) -> Option<Instant> {
        let uid = meta(pod, "uid").to_string();
        if !self.pods.contains_key(&uid) {
            if terminating(pod) {
                let _ = ctx.store.delete(&PODS, meta(pod, "namespace"), meta(pod, "name"), false);
                return None;
            }
            let ports: Vec<u16> = pod["spec"]["containers"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .flat_map(container_ports)
                .collect();
            let ip = self.ips.take(&ports);
            let containers = pod["spec"]["containers"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|c| Container {
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                    image: tagged(c["image"].as_str().unwrap_or_default()),
                    state: State::Creating,
                    next: Some(now + ctx.scaled(1.0)),
                    restarts: 0,
                    last: None,
                    server: None,
                    pull_backoff: 10,
                    crash_backoff: 10,
                    pulled: false,
                    id: String::new(),
                    started_at: String::new(),
                    ready: false,
                    crash_note: None,
                })
                .collect();
            self.pods.insert(uid.clone(), PodRt { ip, start_time: ts_now(), containers, delete_at: None });
        }
        let rt = self.pods.get_mut(&uid)?;
        let mut wake = Wake::default();
        if terminating(pod) {
            if rt.delete_at.is_none() {
                kill(ctx, pod, rt);
                let grace = pod["metadata"]["deletionGracePeriodSeconds"].as_i64().unwrap_or(30);
                rt.delete_at = Some(if grace == 0 { now } else { now + ctx.scaled(2.0) });
            }
            if rt.delete_at.is_some_and(|t| t <= now) {
                let _ = ctx.store.delete(&PODS, meta(pod, "namespace"), meta(pod, "name"), false);
                return None;
            }
            wake.at(rt.delete_at);
        } else {
            let specs = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
            for (c, spec) in rt.containers.iter_mut().zip(specs.iter()) {
                step(ctx, pod, spec, c, rt.ip, now);
                wake.at(c.next);
            }
        }
        let status = pod_status(pod, rt);
        let _ = ctx.store.mutate(&PODS, meta(pod, "namespace"), meta(pod, "name"), false, |p| {
            p["status"] = status;
            Ok(())
        });
        wake.0
    }
}

fn log(ctx: &Ctx, pod: &Value, c: &str, level: &str, line: &str) {
    let text = format!("{} {level} {line}", ts_now());
    ctx.store.append_log(meta(pod, "namespace"), meta(pod, "name"), c, &text);
}

fn event(ctx: &Ctx, pod: &Value, c: &str, kind: Type, reason: &str, msg: &str) {
    ctx.recorder.event(pod, Some(&field_path(c)), kind, reason, msg, recorder::KUBELET);
}

fn kill(ctx: &Ctx, pod: &Value, rt: &mut PodRt) {
    for c in &mut rt.containers {
        if let Some(mut s) = c.server.take() {
            s.stop();
        }
        event(ctx, pod, &c.name, Type::Normal, "Killing", &format!("Stopping container {}", c.name));
        if matches!(c.state, State::Running { .. }) {
            log(ctx, pod, &c.name, "INFO", "received SIGTERM, shutting down");
            c.state = State::Terminated(json!({
                "exitCode": 0, "reason": "Completed", "startedAt": c.started_at,
                "finishedAt": ts_now(), "containerID": c.id,
            }));
        }
        c.ready = false;
        c.next = None;
    }
}

/// Advances one container's state machine as far as `now` allows.
fn step(ctx: &Ctx, pod: &Value, spec: &Value, c: &mut Container, ip: Ipv4Addr, now: Instant) {
    let due = |c: &Container| c.next.is_some_and(|t| t <= now);
    // A container waiting for its config starts as soon as the config exists.
    if let State::ConfigErr(_) = c.state
        && missing(ctx, pod, spec).is_none()
    {
        start(ctx, pod, spec, c, ip, now);
        return;
    }
    for _ in 0..4 {
        if !due(c) {
            break;
        }
        let image = full_image(&c.image);
        let state = std::mem::replace(&mut c.state, State::Creating);
        match state {
            State::Creating | State::PullBackOff(_) => {
                event(ctx, pod, &c.name, Type::Normal, "Pulling", &format!("Pulling image \"{}\"", c.image));
                if pullable(&c.image) {
                    c.pulled = true;
                    let msg = format!(
                        "Successfully pulled image \"{}\" in 812ms (812ms including waiting). Image size: 18734512 bytes.",
                        c.image
                    );
                    event(ctx, pod, &c.name, Type::Normal, "Pulled", &msg);
                    start(ctx, pod, spec, c, ip, now);
                } else {
                    let err = format!(
                        "rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
                    );
                    event(
                        ctx,
                        pod,
                        &c.name,
                        Type::Warning,
                        "Failed",
                        &format!("Failed to pull image \"{}\": {err}", c.image),
                    );
                    event(ctx, pod, &c.name, Type::Warning, "Failed", "Error: ErrImagePull");
                    c.state = State::PullErr(err);
                    c.next = Some(now + ctx.scaled(1.0));
                }
            }
            State::PullErr(err) => {
                let msg = format!("Back-off pulling image \"{}\": ErrImagePull: {err}", c.image);
                event(ctx, pod, &c.name, Type::Normal, "BackOff", &format!("Back-off pulling image \"{}\"", c.image));
                event(ctx, pod, &c.name, Type::Warning, "Failed", "Error: ImagePullBackOff");
                c.state = State::PullBackOff(msg);
                c.next = Some(now + ctx.scaled(c.pull_backoff as f64));
                c.pull_backoff = (c.pull_backoff * 2).min(300);
            }
            State::ConfigErr(msg) => {
                event(ctx, pod, &c.name, Type::Warning, "Failed", &format!("Error: {msg}"));
                c.state = State::ConfigErr(msg);
                c.next = Some(now + ctx.scaled(10.0));
            }
            State::Running { crash_at, ready_at, probe_at, flap_at } => {
                if crash_at.is_some_and(|t| t <= now) {
                    crash(ctx, pod, c, now);
                    continue;
                }
                if ready_at.is_some_and(|t| t <= now) {
                    c.ready = true;
                }
                let flap_at = match flap_at {
                    Some(t) if t <= now => flap(ctx, pod, spec, c, ip, now),
                    other => other,
                };
                let mut probe_at = probe_at;
                if probe_at.is_some_and(|t| t <= now) {
                    let msg = "Readiness probe failed: HTTP probe failed with statuscode: 503";
                    event(ctx, pod, &c.name, Type::Warning, "Unhealthy", msg);
                    probe_at = Some(now + ctx.scaled(10.0));
                }
                let ready_at = ready_at.filter(|_| !c.ready);
                c.state = State::Running { crash_at, ready_at, probe_at, flap_at };
                c.next = [crash_at, ready_at, probe_at, flap_at].into_iter().flatten().min();
            }
            State::CrashBackOff(_) => {
                ctx.store.rotate_log(meta(pod, "namespace"), meta(pod, "name"), &c.name);
                c.restarts += 1;
                let msg = format!("Container image \"{}\" already present on machine", c.image);
                event(ctx, pod, &c.name, Type::Normal, "Pulled", &msg);
                start(ctx, pod, spec, c, ip, now);
            }
            State::Terminated(t) => {
                c.state = State::Terminated(t);
                c.next = None;
            }
        }
    }
}

fn missing(ctx: &Ctx, pod: &Value, spec: &Value) -> Option<String> {
    let ns = meta(pod, "namespace");
    let lookup = |secret: bool, name: &str| ctx.store.get(if secret { &SECRETS } else { &CONFIGMAPS }, ns, name);
    missing_config(pod, spec, &lookup)
}

/// Creates and starts the container (or records why it cannot).
fn start(ctx: &Ctx, pod: &Value, spec: &Value, c: &mut Container, ip: Ipv4Addr, now: Instant) {
    if let Some(msg) = missing(ctx, pod, spec) {
        event(ctx, pod, &c.name, Type::Warning, "Failed", &format!("Error: {msg}"));
        c.state = State::ConfigErr(msg);
        c.next = Some(now + ctx.scaled(10.0));
        return;
    }
    let restarted = !pod["metadata"]["annotations"][RESTARTED_AT].is_null();
    let faults = Faults::from_container(spec, restarted);
    let app = app_name(pod, &c.name);
    c.id = format!("containerd://{}", hex(64));
    c.started_at = ts_now();
    c.ready = false;
    event(ctx, pod, &c.name, Type::Normal, "Created", "Container created");
    event(ctx, pod, &c.name, Type::Normal, "Started", "Container started");
    log(ctx, pod, &c.name, "INFO", &format!("starting {app} v1.4.2"));
    log(ctx, pod, &c.name, "INFO", "loading configuration from environment");
    let ports = container_ports(spec);
    let mut crash_at = None;
    c.crash_note = None;
    if faults.crash || faults.oom {
        if faults.oom {
            log(ctx, pod, &c.name, "INFO", "loading host inventory cache into memory");
        } else {
            log(ctx, pod, &c.name, "INFO", "connecting to database at postgres:5432");
        }
        // About 1 s of start-up against a 10 s back-off, as a real crash loop spends its time.
        crash_at = Some(now + ctx.scaled(1.0));
    } else {
        let behaviour = Behaviour { unhealthy: faults.not_ready, mcp_down: faults.mcp_down, hang: faults.hang };
        match PodServer::start(ip, &ports, &app, behaviour) {
            Ok(s) => c.server = Some(s),
            Err(e) => {
                // A process that cannot listen exits, as a real one would.
                c.crash_note = Some(format!("Error: listen {ip}: {e}"));
                crash_at = Some(now + ctx.scaled(1.0));
            }
        }
        for p in &ports {
            log(ctx, pod, &c.name, "INFO", &format!("listening on {ip}:{p}"));
        }
        log(ctx, pod, &c.name, "INFO", "MCP server ready (streamable HTTP at /mcp, health at /health)");
    }
    let probe_delay = spec["readinessProbe"]["initialDelaySeconds"].as_f64();
    let ready_at = if faults.not_ready || crash_at.is_some() {
        None
    } else if let Some(d) = faults.ready_delay {
        now.checked_add(d)
    } else if let Some(d) = probe_delay {
        Some(now + ctx.scaled(d))
    } else {
        Some(now)
    };
    let probe_at = faults.not_ready.then(|| now + ctx.scaled(1.0));
    let flap_at = faults.ready_flap.zip(ready_at).map(|((up, _), r)| r + up);
    c.state = State::Running { crash_at, ready_at, probe_at, flap_at };
    c.next = [crash_at, ready_at, probe_at, flap_at].into_iter().flatten().min();
}

/// One flip of `SIM_READY_FLAP`: a Ready container closes its server and turns unready (the
/// probe fails with the refused connection), an unready one listens again and turns Ready.
/// When the next flip is due.
fn flap(ctx: &Ctx, pod: &Value, spec: &Value, c: &mut Container, ip: Ipv4Addr, now: Instant) -> Option<Instant> {
    let restarted = !pod["metadata"]["annotations"][RESTARTED_AT].is_null();
    let faults = Faults::from_container(spec, restarted);
    let (up, down) = faults.ready_flap?;
    let ports = container_ports(spec);
    if c.ready {
        if let Some(mut s) = c.server.take() {
            s.stop();
        }
        c.ready = false;
        let port = ports.first().copied().unwrap_or(80);
        let msg = format!(
            "Readiness probe failed: Get \"http://{ip}:{port}/health\": dial tcp {ip}:{port}: connect: connection refused"
        );
        event(ctx, pod, &c.name, Type::Warning, "Unhealthy", &msg);
        log(ctx, pod, &c.name, "WARN", "listener closed: not accepting connections");
        return Some(now + down);
    }
    let behaviour = Behaviour { unhealthy: false, mcp_down: faults.mcp_down, hang: faults.hang };
    match PodServer::start(ip, &ports, &app_name(pod, &c.name), behaviour) {
        Ok(server) => {
            c.server = Some(server);
            c.ready = true;
            log(ctx, pod, &c.name, "INFO", "listener reopened: accepting connections");
            Some(now + up)
        }
        // The old listener is still closing: try again shortly.
        Err(_) => Some(now + ctx.scaled(1.0).min(std::time::Duration::from_millis(100))),
    }
}

fn crash(ctx: &Ctx, pod: &Value, c: &mut Container, now: Instant) {
    if let Some(mut s) = c.server.take() {
        s.stop();
    }
    let restarted = !pod["metadata"]["annotations"][RESTARTED_AT].is_null();
    let spec = pod["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|s| s["name"] == c.name.as_str()))
        .cloned()
        .unwrap_or_default();
    let oom = Faults::from_container(&spec, restarted).oom;
    let (code, reason) = if let Some(note) = c.crash_note.take() {
        log(ctx, pod, &c.name, "ERROR", &note);
        (1, "Error")
    } else if oom {
        log(ctx, pod, &c.name, "ERROR", "fatal error: runtime: out of memory");
        (137, "OOMKilled")
    } else {
        log(ctx, pod, &c.name, "ERROR", "Error: connection to database failed: ECONNREFUSED");
        log(ctx, pod, &c.name, "ERROR", "process exiting with code 1");
        (1, "Error")
    };
    c.last = Some(json!({
        "exitCode": code, "reason": reason, "startedAt": c.started_at, "finishedAt": ts_now(), "containerID": c.id,
    }));
    c.ready = false;
    let (ns, name, uid) = (meta(pod, "namespace"), meta(pod, "name"), meta(pod, "uid"));
    let msg = format!(
        "back-off {} restarting failed container={} pod={name}_{ns}({uid})",
        go_duration(c.crash_backoff),
        c.name
    );
    c.state = State::CrashBackOff(msg);
    if c.restarts == 0 {
        // No back-off before the first restart (kubelet's back-off starts at the second exit).
        c.next = Some(now + ctx.scaled(0.5));
        return;
    }
    let ev = format!("Back-off restarting failed container {} in pod {name}_{ns}({uid})", c.name);
    event(ctx, pod, &c.name, Type::Warning, "BackOff", &ev);
    c.next = Some(now + ctx.scaled(c.crash_backoff as f64));
    c.crash_backoff = (c.crash_backoff * 2).min(300);
}

fn container_status(c: &Container) -> Value {
    let waiting = |reason: &str, msg: Option<&str>| {
        let mut w = json!({"reason": reason});
        if let Some(m) = msg {
            w["message"] = json!(m);
        }
        json!({"waiting": w})
    };
    let state = match &c.state {
        State::Creating => waiting("ContainerCreating", None),
        State::PullErr(m) => waiting("ErrImagePull", Some(m)),
        State::PullBackOff(m) => waiting("ImagePullBackOff", Some(m)),
        State::ConfigErr(m) => waiting("CreateContainerConfigError", Some(m)),
        // The first exit is restarted at once, as the kubelet does: shown as terminated
        // (STATUS Error, RESTARTS 0) until then, CrashLoopBackOff only from the second exit on.
        State::CrashBackOff(_) if c.restarts == 0 => json!({"terminated": c.last}),
        State::CrashBackOff(m) => waiting("CrashLoopBackOff", Some(m)),
        State::Running { .. } => json!({"running": {"startedAt": c.started_at}}),
        State::Terminated(t) => json!({"terminated": t}),
    };
    let running = matches!(c.state, State::Running { .. });
    let image = full_image(&c.image);
    let mut s = json!({
        "name": c.name,
        "state": state,
        "lastState": c.last.as_ref().map(|t| json!({"terminated": t})).unwrap_or_else(|| json!({})),
        "ready": c.ready && running,
        "restartCount": c.restarts,
        "image": image,
        "imageID": if c.pulled { image_id(&image) } else { String::new() },
        "started": running,
    });
    if !c.id.is_empty() {
        s["containerID"] = json!(c.id);
    }
    s
}

fn pod_status(pod: &Value, rt: &PodRt) -> Value {
    let old = &pod["status"];
    let statuses: Vec<Value> = rt.containers.iter().map(container_status).collect();
    let unready: Vec<&str> = rt
        .containers
        .iter()
        .filter(|c| !(c.ready && matches!(c.state, State::Running { .. })))
        .map(|c| c.name.as_str())
        .collect();
    let ever_started = rt.containers.iter().any(|c| !c.id.is_empty());
    let phase = if ever_started { "Running" } else { "Pending" };
    let mut conds: Vec<Value> = Vec::new();
    let keep = |kind: &str, status: &str, reason: Option<String>, message: Option<String>| {
        let prev = old["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == kind));
        let ltt = match prev {
            Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
            _ => json!(ts_now()),
        };
        let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": ltt});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        if let Some(m) = message {
            c["message"] = json!(m);
        }
        c
    };
    conds.push(keep("PodReadyToStartContainers", "True", None, None));
    conds.push(keep("Initialized", "True", None, None));
    for kind in ["Ready", "ContainersReady"] {
        if unready.is_empty() {
            conds.push(keep(kind, "True", None, None));
        } else {
            let msg = format!("containers with unready status: [{}]", unready.join(" "));
            conds.push(keep(kind, "False", Some("ContainersNotReady".into()), Some(msg)));
        }
    }
    conds.push(keep("PodScheduled", "True", None, None));
    json!({
        "phase": phase,
        "conditions": conds,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": rt.ip.to_string(),
        "podIPs": [{"ip": rt.ip.to_string()}],
        "startTime": rt.start_time,
        "containerStatuses": statuses,
        "qosClass": old["qosClass"].as_str().unwrap_or("BestEffort"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_ips_are_distinct_loopback_addresses() {
        let mut ips = Ips::default();
        let a = ips.take(&[3000]);
        let b = ips.take(&[3000]);
        assert_ne!(a, b);
        assert!(a.is_loopback() && a.octets()[1] == 1);
    }
}
