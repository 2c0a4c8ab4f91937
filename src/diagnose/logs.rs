//! Error lines from the logs of failing containers: tail 50 lines, current and previous run,
//! keep only lines that look like errors (at most [`MAX_LINES`] per container, each cut).
//! Reads are bounded: `limitBytes` asks the kubelet for at most [`LIMIT_BYTES`], and no more
//! than that is read even from a server that ignores it; pod and container names read from
//! the cluster are validated before they reach the request path.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{Api, LogParams};

/// Lines read from the end of each log.
pub const TAIL_LINES: i64 = 50;
/// Bytes read at most from each log.
pub const LIMIT_BYTES: i64 = 64 * 1024;
/// Error lines kept per container log.
pub const MAX_LINES: usize = 10;
/// Characters kept per line.
pub const MAX_LINE_CHARS: usize = 300;
/// Failing pods whose logs are read.
const MAX_PODS: usize = 3;

/// Error lines of one container's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerLog {
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
    /// Whether this is the previous (crashed) run's log.
    pub previous: bool,
    /// The error-looking lines, oldest first.
    pub lines: Vec<String>,
}

const ERROR_WORDS: &[&str] = &[
    "error",
    "fatal",
    "panic",
    "exception",
    "traceback",
    "critical",
    "failed",
    "failure",
    "unable to",
    "cannot ",
    "can't ",
    "refused",
    "denied",
    "segmentation fault",
    "out of memory",
    "killed",
    "exit status",
];

/// Whether a log line looks like an error (case-insensitive keywords; "0 errors" and the like
/// do not count).
pub fn is_error_line(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    if l.contains("0 errors") || l.contains("no error") || l.contains("errors=0") || l.contains("error=nil") {
        return false;
    }
    ERROR_WORDS.iter().any(|w| l.contains(w))
}

/// The last [`MAX_LINES`] error-looking lines of `text`, each cut to [`MAX_LINE_CHARS`].
pub fn error_lines(text: &str) -> Vec<String> {
    let hits: Vec<&str> = text.lines().map(str::trim_end).filter(|l| is_error_line(l)).collect();
    let skip = hits.len().saturating_sub(MAX_LINES);
    hits[skip..].iter().map(|l| cut(l, MAX_LINE_CHARS)).collect()
}

/// `s` cut to `max` characters, with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether a container is failing in a way its logs can explain (crashes, restarts, unready
/// while running). Containers that never started (image pull, config errors) have no logs.
pub fn is_failing(cs: &ContainerStatus) -> bool {
    let state = cs.state.as_ref();
    let waiting = state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref());
    if matches!(waiting, Some("CrashLoopBackOff" | "RunContainerError" | "Error")) {
        return true;
    }
    if state.and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code != 0) {
        return true;
    }
    let running = state.and_then(|s| s.running.as_ref()).is_some();
    // A ready container that restarted long ago is fine now: its old errors would mislead.
    (cs.restart_count > 0 || running) && !cs.ready
}

/// (pod, container, has a previous run) for the failing containers of up to [`MAX_PODS`] pods.
pub fn failing_containers(pods: &[Pod]) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    let mut pods_used = 0;
    for pod in pods {
        let Some(name) = pod.metadata.name.clone() else { continue };
        let failing: Vec<&ContainerStatus> =
            pod.status.iter().flat_map(|s| s.container_statuses.iter().flatten()).filter(|cs| is_failing(cs)).collect();
        if failing.is_empty() {
            continue;
        }
        pods_used += 1;
        for cs in failing {
            let previous = cs.restart_count > 0 || cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).is_some();
            out.push((name.clone(), cs.name.clone(), previous));
        }
        if pods_used == MAX_PODS {
            break;
        }
    }
    out
}

/// Reads the logs of failing containers. Log reads are best effort: a kubelet that refuses
/// (container waiting, no node) costs nothing but the lines.
pub async fn gather_logs(pods: &Api<Pod>, all: &[Pod]) -> Vec<ContainerLog> {
    let mut requests = Vec::new();
    for (pod, container, has_previous) in failing_containers(all) {
        requests.push((pod.clone(), container.clone(), false));
        if has_previous {
            requests.push((pod, container, true));
        }
    }
    let reads = requests.into_iter().map(|(pod, container, previous)| async move {
        if !crate::names::is_subdomain(&pod) || !crate::names::is_label_name(&container) {
            tracing::debug!("skipping the log of a pod or container with an invalid name");
            return None;
        }
        let lp = LogParams {
            container: Some(container.clone()),
            previous,
            tail_lines: Some(TAIL_LINES),
            limit_bytes: Some(LIMIT_BYTES),
            ..LogParams::default()
        };
        match read_log(pods, &pod, &lp).await {
            Ok(text) => {
                let lines = error_lines(&text);
                (!lines.is_empty()).then_some(ContainerLog { pod, container, previous, lines })
            }
            Err(e) => {
                tracing::debug!(%pod, %container, previous, error = %e, "log read failed");
                None
            }
        }
    });
    dedupe(futures::future::join_all(reads).await.into_iter().flatten().collect())
}

/// At most [`LIMIT_BYTES`] of one log, whatever the server sends.
async fn read_log(pods: &Api<Pod>, pod: &str, lp: &LogParams) -> Result<String, kube::Error> {
    use futures::AsyncReadExt;
    let stream = pods.log_stream(pod, lp).await?;
    let mut buf = Vec::new();
    let limit = u64::try_from(LIMIT_BYTES).unwrap_or(u64::MAX);
    let _ = stream.take(limit).read_to_end(&mut buf).await;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Drops a previous-run log whose lines the current log already shows (a crashed container's
/// "current" log is often its last run).
pub fn dedupe(logs: Vec<ContainerLog>) -> Vec<ContainerLog> {
    let mut out: Vec<ContainerLog> = Vec::new();
    for l in logs {
        let same = out.iter().any(|o| o.pod == l.pod && o.container == l.container && o.lines == l.lines);
        if !same {
            out.push(l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_error_lines_only_and_the_last_ten() {
        let mut text = String::from("starting server on :3000\nlistening\n");
        for i in 0..12 {
            text.push_str(&format!("ERROR connect to db failed attempt={i}\n"));
        }
        text.push_str("panic: runtime error: index out of range\nok, 0 errors\n");
        let lines = error_lines(&text);
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines.last().unwrap(), "panic: runtime error: index out of range");
        assert!(lines[0].contains("attempt=3"));
        assert!(!error_lines("GET /health 200\nready").iter().any(|_| true));
    }

    #[test]
    fn identical_previous_log_is_dropped() {
        let log = |previous, line: &str| ContainerLog {
            pod: "p".into(),
            container: "c".into(),
            previous,
            lines: vec![line.into()],
        };
        let kept = dedupe(vec![log(false, "ERROR a"), log(true, "ERROR a"), log(true, "ERROR b")]);
        assert_eq!(kept, vec![log(false, "ERROR a"), log(true, "ERROR b")]);
    }

    #[test]
    fn long_lines_are_cut() {
        let line = format!("Error: {}", "x".repeat(1000));
        let lines = error_lines(&line);
        assert_eq!(lines[0].chars().count(), MAX_LINE_CHARS);
        assert!(lines[0].ends_with('…'));
    }

    #[test]
    fn failing_means_crashing_restarted_or_unready() {
        let pods: Vec<Pod> = serde_json::from_value(json!([
            {"metadata":{"name":"ok"},"status":{"containerStatuses":[{"name":"server","image":"i","imageID":"","ready":true,"restartCount":0,"state":{"running":{}}}]}},
            {"metadata":{"name":"crash"},"status":{"containerStatuses":[{"name":"server","image":"i","imageID":"","ready":false,"restartCount":4,
                "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":1,"reason":"Error"}}}]}},
            {"metadata":{"name":"pull"},"status":{"containerStatuses":[{"name":"server","image":"i","imageID":"","ready":false,"restartCount":0,
                "state":{"waiting":{"reason":"ImagePullBackOff"}}}]}},
            {"metadata":{"name":"recovered"},"status":{"containerStatuses":[{"name":"server","image":"i","imageID":"","ready":true,"restartCount":3,"state":{"running":{}}}]}},
            {"metadata":{"name":"unready"},"status":{"containerStatuses":[{"name":"server","image":"i","imageID":"","ready":false,"restartCount":0,"state":{"running":{}}}]}}
        ]))
        .unwrap();
        assert_eq!(
            failing_containers(&pods),
            vec![("crash".into(), "server".into(), true), ("unready".into(), "server".into(), false)]
        );
    }
}
