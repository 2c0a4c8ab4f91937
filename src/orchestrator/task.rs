//! One task: call the tool; on a healable failure join (or start) the service's heal and relay
//! it; after a successful heal wait for the service and retry once when that is safe. Every
//! step is a frame (DESIGN §2.4) sent to the caller's channel; the last is always
//! `processing_complete`. A caller that goes away ends only its own wait.

use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::AppState;
use super::config::{Server, Transport};
use super::mcp::{CallError, ToolAnswer};
use super::supervisor::{HealMsg, HealRequest};

/// A validated task: which tool on which server, with what arguments.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    /// The task id (the caller's, or generated).
    pub id: String,
    /// The free-text query, if one was given.
    pub query: Option<String>,
    /// The server.
    pub server: Server,
    /// The tool.
    pub tool: String,
    /// Its arguments (an object).
    pub arguments: Value,
}

/// The `processing_complete` frame.
pub fn complete(id: &str, status: &str, result: Value) -> Value {
    json!({"type": "processing_complete", "id": id, "status": status, "result": result})
}

fn answer_frame(task: &TaskSpec, a: ToolAnswer) -> Value {
    complete(&task.id, if a.tool_error { "failed" } else { "completed" }, a.result)
}

fn error_result(e: &CallError, extra: Value) -> Value {
    let mut v = json!({"error": {"kind": e.kind.label(), "message": e.message}});
    if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
        m.extend(x);
    }
    v
}

async fn call(state: &AppState, task: &TaskSpec) -> Result<ToolAnswer, CallError> {
    let t0 = Instant::now();
    let r = state.mcp.call(&task.server, &task.tool, &task.arguments).await;
    let kind = r.as_ref().err().map(|e| e.kind.label());
    state.metrics.call(&task.server.name, t0.elapsed().as_secs_f64(), kind.as_deref());
    r
}

/// Runs `task`, sending frames on `tx`. Returns early if the caller is gone.
pub async fn run(state: AppState, task: TaskSpec, tx: mpsc::Sender<Value>) {
    macro_rules! send {
        ($v:expr) => {
            if tx.send($v).await.is_err() {
                return;
            }
        };
    }
    send!(json!({"type": "processing_start", "id": task.id, "query": task.query,
                 "server": task.server.name, "tool": task.tool}));
    let first = match call(&state, &task).await {
        Ok(a) => {
            send!(answer_frame(&task, a));
            return;
        }
        Err(e) => e,
    };
    let service = task.server.service.clone();
    if !first.kind.healable() {
        send!(complete(&task.id, "failed", error_result(&first, json!({}))));
        return;
    }
    if !state.config.healing.enabled {
        send!(complete(&task.id, "failed", error_result(&first, json!({"healing": "disabled"}))));
        return;
    }
    let req = HealRequest {
        service: service.clone(),
        namespace: task.server.namespace.clone(),
        error: first.message.clone(),
        url: task.server.url.to_string(),
        probe_mcp: task.server.transport == Transport::Mcp,
    };
    let flight = state.supervisor.heal(req);
    send!(json!({"type": "healing_start", "service": service, "namespace": task.server.namespace,
                 "issue": first.message, "heal": flight.id}));
    let mut follower = flight.follow();
    let mut outcome = None;
    while let Some(msg) = follower.next().await {
        match msg {
            HealMsg::Progress { message, line } => {
                send!(json!({"type": "healing_progress", "service": service, "message": message, "event": line}));
            }
            HealMsg::Done(o) => outcome = Some(o),
        }
    }
    let Some(outcome) = outcome else {
        send!(complete(&task.id, "failed", error_result(&first, json!({"healing": "ended without an outcome"}))));
        return;
    };
    let heal = json!({"id": flight.id, "outcome": outcome.outcome, "exit_code": outcome.exit_code,
                      "message": outcome.message, "recommendation": outcome.recommendation});
    if !outcome.success {
        send!(json!({"type": "healing_failed", "service": service, "success": false, "message": outcome.message,
                     "recommendation": outcome.recommendation, "exit_code": outcome.exit_code,
                     "outcome": outcome.outcome, "heal": flight.id}));
        send!(complete(&task.id, "failed", error_result(&first, json!({"healing": heal}))));
        return;
    }
    send!(json!({"type": "healing_complete", "service": service, "success": true, "message": outcome.message,
                 "outcome": outcome.outcome, "heal": flight.id}));
    let idempotent = task.server.idempotent_tools.contains(&task.tool);
    if !(first.kind.unreached() || idempotent) {
        state.metrics.retry(&task.server.name, "skipped");
        let why = format!(
            "{service} is back, but the call to {} was not repeated: it may have reached the tool ({}) and {} is not listed in idempotent_tools",
            task.tool,
            first.kind.label(),
            task.tool
        );
        send!(complete(
            &task.id,
            "failed",
            error_result(&first, json!({"healing": heal, "retried": false, "message": why}))
        ));
        return;
    }
    let deadline = Instant::now() + task.server.timeout;
    if let Err(e) = state.mcp.ready(&task.server, deadline).await {
        state.metrics.retry(&task.server.name, "failed");
        send!(complete(&task.id, "failed", error_result(&e, json!({"healing": heal, "retried": false}))));
        return;
    }
    match call(&state, &task).await {
        Ok(a) => {
            state.metrics.retry(&task.server.name, if a.tool_error { "tool_error" } else { "succeeded" });
            send!(answer_frame(&task, a));
        }
        Err(e) => {
            state.metrics.retry(&task.server.name, "failed");
            send!(complete(&task.id, "failed", error_result(&e, json!({"healing": heal, "retried": true}))));
        }
    }
}
