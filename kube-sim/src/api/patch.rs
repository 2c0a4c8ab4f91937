//! PATCH bodies: JSON merge patch, JSON patch, and the strategic merge patch kubectl sends.

use serde_json::{Map, Value};

use crate::store::ApiError;

/// The patch formats kube-sim understands, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply, approximated as a strategic merge
    /// of the applied configuration (no field ownership, no conflicts).
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header, or 415 `UnsupportedMediaType`.
    ///
    /// # Errors
    /// 415 for any other media type (including server-side apply, which kube-sim does not do).
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
            _ => Err(unsupported_media_type()),
        }
    }
}

/// 415, as a real server answers a body in a format it does not take.
pub fn unsupported_media_type() -> ApiError {
    ApiError::new(415, "UnsupportedMediaType", "415: Unsupported Media Type", serde_json::json!({}))
}

/// Applies a patch body to a copy of `doc`.
///
/// # Errors
/// 400 when the body is not valid JSON of the right shape; 422 when a JSON patch cannot apply.
pub fn apply(doc: &Value, kind: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    let mut out = doc.clone();
    match kind {
        PatchType::Merge => {
            let patch: Value = parse(body)?;
            json_patch::merge(&mut out, &patch);
        }
        PatchType::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("the server rejected our request due to an error in our request: {e}"))
            })?;
            json_patch::patch(&mut out, &patch)
                .map_err(|e| ApiError::new(422, "Invalid", e.to_string(), serde_json::json!({})))?;
        }
        PatchType::Strategic | PatchType::Apply => {
            let patch: Value = if kind == PatchType::Apply { parse_yaml(body)? } else { parse(body)? };
            if !patch.is_object() {
                return Err(ApiError::bad_request("the body of the request was in an unknown format"));
            }
            strategic_merge(&mut out, &patch);
        }
    }
    Ok(out)
}

/// The applied configuration of a server-side apply (YAML or JSON).
///
/// # Errors
/// 400 when the body is neither.
pub fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    serde_yaml_ng::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// The key a list is merged by in a strategic merge patch, by field name and element shape;
/// lists without one are replaced, as the Kubernetes types declare.
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "volumeMounts"
        | "imagePullSecrets"
        | "volumeDevices" => Some("name"),
        "ports" => {
            if sample.is_some_and(|s| s.get("containerPort").is_some()) {
                Some("containerPort")
            } else {
                Some("port")
            }
        }
        "conditions" => Some("type"),
        _ => None,
    }
}

/// Removes `$`-directives from a value that is inserted as is.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), clean(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
        other => other.clone(),
    }
}

/// Merges `patch` into `target` with strategic-merge semantics: maps merge, `null` deletes,
/// lists with a merge key merge element by element (`$patch: delete|replace` per element,
/// `$setElementOrder/<list>` orders them), other lists are replaced; `$patch: replace` and
/// `$retainKeys` on a map, `$deleteFromPrimitiveList/<list>` on primitive lists.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(pm) = patch.as_object() else {
        *target = clean(patch);
        return;
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = clean(patch);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    for (k, pv) in pm {
        if k.starts_with('$') {
            continue;
        }
        let tm = target.as_object_mut().expect("target is an object");
        match pv {
            Value::Null => {
                tm.remove(k);
            }
            Value::Object(o) if o.get("$patch").and_then(Value::as_str) == Some("delete") => {
                tm.remove(k);
            }
            Value::Object(_) => {
                let slot = tm.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(slot, pv);
            }
            Value::Array(items) => {
                let key = merge_key(
                    k,
                    items
                        .iter()
                        .find(|i| i.is_object())
                        .or_else(|| tm.get(k).and_then(Value::as_array).and_then(|a| a.first())),
                );
                match key {
                    Some(key) if items.iter().all(Value::is_object) => {
                        let slot = tm.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                        merge_list(slot, items, key);
                    }
                    _ => {
                        tm.insert(k.clone(), clean(pv));
                    }
                }
            }
            other => {
                tm.insert(k.clone(), other.clone());
            }
        }
    }
    let tm = target.as_object_mut().expect("target is an object");
    for (k, pv) in pm {
        if let Some(list) = k.strip_prefix("$setElementOrder/") {
            if let (Some(order), Some(Value::Array(current))) = (pv.as_array(), tm.get_mut(list)) {
                let key = merge_key(list, current.first()).unwrap_or("name");
                reorder(current, order, key);
            }
        } else if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(gone), Some(Value::Array(current))) = (pv.as_array(), tm.get_mut(list))
        {
            current.retain(|v| !gone.contains(v));
        }
    }
    if let Some(keep) = pm.get("$retainKeys").and_then(Value::as_array) {
        tm.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
}

fn merge_list(slot: &mut Value, items: &[Value], key: &str) {
    if items.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        *slot = Value::Array(items.iter().filter(|i| i.get("$patch").is_none()).map(clean).collect());
        return;
    }
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    let list = slot.as_array_mut().expect("slot is an array");
    for item in items {
        let id = item.get(key);
        let pos = id.and_then(|id| list.iter().position(|e| e.get(key) == Some(id)));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                list.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut list[i], item),
            (None, false) => list.push(clean(item)),
        }
    }
}

/// Orders `list` as `order` says (by merge key); elements it does not name keep their order
/// after the named ones.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: &str) {
    let rank = |e: &Value| order.iter().position(|o| o.get(key).is_some() && o.get(key) == e.get(key));
    let mut indexed: Vec<(usize, Value)> = std::mem::take(list).into_iter().enumerate().collect();
    indexed.sort_by_key(|(i, e)| (rank(e).unwrap_or(usize::MAX), *i));
    *list = indexed.into_iter().map(|(_, e)| e).collect();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Value {
        json!({"metadata": {"name": "x", "annotations": {"keep": "1"}},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [
                    {"name": "server", "image": "nginx", "ports": [{"containerPort": 3000, "protocol": "TCP"}],
                     "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "busybox"}]}}}})
    }

    fn smp(doc: &Value, patch: &str) -> Value {
        apply(doc, PatchType::Strategic, patch.as_bytes()).unwrap()
    }

    #[test]
    fn set_image_patch_from_kubectl_changes_one_container() {
        let out = smp(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"server"},{"name":"sidecar"}],"containers":[{"image":"invalid-image:latest","name":"server"}]}}}}"#,
        );
        let cs = out["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["image"], "invalid-image:latest");
        assert_eq!(cs[0]["ports"][0]["containerPort"], 3000, "other fields kept");
        assert_eq!(cs[1]["image"], "busybox");
        assert!(out["spec"]["template"]["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn set_env_patch_from_kubectl_merges_env_by_name() {
        let out = smp(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"server"}],"containers":[{"env":[{"name":"SIM_CRASH","value":"1"}],"name":"server"}]}}}}"#,
        );
        let env = &out["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env, &json!([{"name": "A", "value": "1"}, {"name": "SIM_CRASH", "value": "1"}]));
    }

    #[test]
    fn rollout_restart_patch_adds_annotation() {
        let out = smp(
            &deployment(),
            r#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-28T01:30:54Z"}}}}}"#,
        );
        assert_eq!(
            out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "2026-11-28T01:30:54Z"
        );
        assert_eq!(out["spec"]["template"]["metadata"]["labels"]["app"], "x");
    }

    #[test]
    fn apply_patch_from_kubectl_sets_data_and_annotation() {
        let cm = json!({"metadata": {"name": "c", "annotations": {"a": "b"}}, "data": {"LOG_LEVEL": "info", "X": "1"}});
        let out = smp(
            &cm,
            r#"{"data":{"LOG_LEVEL":"debug"},"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}\n"}}}"#,
        );
        assert_eq!(out["data"], json!({"LOG_LEVEL": "debug", "X": "1"}));
        assert_eq!(out["metadata"]["annotations"]["a"], "b");
    }

    #[test]
    fn directives_delete_replace_retain_and_null() {
        let d = deployment();
        let out = smp(&d, r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}"#);
        assert_eq!(out["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 1);
        let out = smp(
            &d,
            r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"i"}]}}}}"#,
        );
        assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "only", "image": "i"}]));
        let out = smp(&d, r#"{"metadata":{"annotations":null}}"#);
        assert!(out["metadata"].get("annotations").is_none());
        let out = smp(&d, r#"{"spec":{"template":{"metadata":{"$patch":"replace","labels":{"b":"2"}}}}}"#);
        assert_eq!(out["spec"]["template"]["metadata"], json!({"labels": {"b": "2"}}));
        let out = smp(
            &json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}),
            r#"{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}"#,
        );
        assert_eq!(out, json!({"strategy": {"type": "Recreate"}}));
    }

    #[test]
    fn set_element_order_reorders_and_lists_without_key_are_replaced() {
        let out = smp(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"server"}]}}}}"#,
        );
        assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["name"], "sidecar");
        let out = smp(&json!({"args": ["a", "b"]}), r#"{"args":["c"]}"#);
        assert_eq!(out["args"], json!(["c"]));
    }

    #[test]
    fn other_patch_types_and_unsupported_media() {
        let d = deployment();
        let out = apply(&d, PatchType::Merge, br#"{"spec":{"replicas":0}}"#).unwrap();
        assert_eq!(out["spec"]["replicas"], 0);
        let out = apply(&d, PatchType::Json, br#"[{"op":"replace","path":"/spec/replicas","value":5}]"#).unwrap();
        assert_eq!(out["spec"]["replicas"], 5);
        let out = apply(&d, PatchType::Apply, b"spec:\n  replicas: 4\n").unwrap();
        assert_eq!(out["spec"]["replicas"], 4);
        assert_eq!(out["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 2);
        let err = PatchType::from_content_type("application/json").unwrap_err();
        assert_eq!(
            (err.code, err.reason.as_str(), err.message.as_str()),
            (415, "UnsupportedMediaType", "415: Unsupported Media Type")
        );
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchType::Merge
        );
    }
}
