//! `pods/{name}/log`: what a container printed, with the refusals a kubelet sends (§3.5).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{ApiState, Req, Target};
use crate::store::ApiError;

/// The kubelet's words for a container that is waiting to start.
fn waiting_text(reason: &str) -> &str {
    match reason {
        "ImagePullBackOff" => "trying and failing to pull image",
        "ErrImagePull" => "image can't be pulled",
        other => other,
    }
}

/// GET the log of one container (`container`, `previous`, `tailLines`).
pub(super) fn logs(st: &ApiState, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let ns = t.ns.as_deref().unwrap_or_default();
    let pod_name = t.name.as_deref().unwrap_or_default();
    let pod = st.store.get_or_404(t.res, ns, pod_name)?;
    let names: Vec<&str> = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod["spec"][k].as_array().into_iter().flatten())
        .filter_map(|c| c["name"].as_str())
        .collect();
    let container = match req.q("container").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => {
            let main: Vec<&str> =
                pod["spec"]["containers"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
            match main.as_slice() {
                [one] => one.to_string(),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                        main.join(" ")
                    )));
                }
            }
        }
    };
    if !names.contains(&container.as_str()) {
        return Err(ApiError::bad_request(format!("container {container} is not valid for pod {pod_name}")));
    }
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let log = st.store.log(ns, pod_name, &container);
    let text = if matches!(req.q("previous"), Some("true" | "1")) {
        log.and_then(|l| l.previous).ok_or_else(|| {
            ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            ))
        })?
    } else {
        let status = ["initContainerStatuses", "containerStatuses"]
            .iter()
            .flat_map(|k| pod["status"][k].as_array().into_iter().flatten())
            .find(|s| s["name"].as_str() == Some(container.as_str()))
            .cloned()
            .unwrap_or(Value::Null);
        let waiting = match &status {
            Value::Null => Some("ContainerCreating".to_string()),
            s => s["state"]["waiting"]
                .as_object()
                .map(|w| w.get("reason").and_then(Value::as_str).unwrap_or("ContainerCreating").to_string()),
        };
        let crashed_before = status["lastState"]["terminated"].is_object();
        match (waiting, crashed_before) {
            // A kubelet shows a waiting container's last terminated instance, if there is one.
            (Some(_), true) => {
                let log = log.unwrap_or_default();
                if log.current.is_empty() { log.previous.unwrap_or_default() } else { log.current }
            }
            (Some(reason), false) => {
                return Err(ApiError::bad_request(format!(
                    "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {}",
                    waiting_text(&reason)
                )));
            }
            (None, _) => log.map(|l| l.current).unwrap_or_default(),
        }
    };
    let text = match req.q("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            out
        }
        None => text,
    };
    let mut resp = text.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::resources;

    #[tokio::test]
    async fn log_refusals_match_the_kubelet() {
        // No controllers: only this test writes the pods' statuses and logs.
        let (url, st, http) = crate::api::serve_without_controllers().await;
        let pod = |name: &str, state: serde_json::Value| {
            json!({"metadata": {"name": name}, "spec": {"nodeName": "sim-node-1", "containers": [{"name": "c", "image": "i"}]},
                "status": {"containerStatuses": [{"name": "c", "state": state, "ready": false, "restartCount": 0}]}})
        };
        let s = &st.store;
        s.create(&resources::PODS, "default", pod("pull", json!({"waiting": {"reason": "ImagePullBackOff"}})), false)
            .unwrap();
        s.create(&resources::PODS, "default", pod("run", json!({"running": {}})), false).unwrap();
        s.append_log("default", "run", "c", "hello");
        let base = format!("{url}/api/v1/namespaces/default/pods");
        let get = |path: String| {
            let url = format!("{base}/{path}");
            let http = http.clone();
            async move {
                let r = http.get(url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let (code, body) = get("pull/log".into()).await;
        assert_eq!(code, 400);
        assert!(
            body.contains(r#"container \"c\" in pod \"pull\" is waiting to start: trying and failing to pull image"#),
            "{body}"
        );
        assert_eq!(get("run/log?container=c".into()).await, (200, "hello\n".to_string()));
        let (code, body) = get("run/log?previous=true".into()).await;
        assert_eq!(code, 400);
        assert!(body.contains(r#"previous terminated container \"c\" in pod \"run\" not found"#), "{body}");
        s.rotate_log("default", "run", "c");
        s.append_log("default", "run", "c", "second");
        assert_eq!(get("run/log?previous=true".into()).await, (200, "hello\n".to_string()));
        s.append_log("default", "run", "c", "third");
        assert_eq!(get("run/log?tailLines=1".into()).await, (200, "third\n".to_string()));
        let (code, body) = get("run/log?container=nope".into()).await;
        assert_eq!(code, 400);
        assert!(body.contains("container nope is not valid for pod run"), "{body}");
    }
}
