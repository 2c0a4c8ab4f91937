//! Server-side defaulting and validation on writes, as a real API server applies them
//! (k8s-reference.md §2.1, §4).

use serde_json::{Value, json};

use super::selectors::LabelSelector;
use crate::resources::{self, Resource};
use crate::store::ApiError;

fn set_default(obj: &mut Value, key: &str, value: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj[key] = value;
    }
}

/// Whether a real kubelet would pull this image every time (untagged or `:latest`).
fn pulls_always(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains('@') {
        return false;
    }
    match last.split_once(':') {
        None => true,
        Some((_, tag)) => tag == "latest",
    }
}

fn default_containers(spec: &mut Value, key: &str) {
    let Some(cs) = spec.get_mut(key).and_then(Value::as_array_mut) else { return };
    for c in cs {
        if !c.is_object() {
            continue;
        }
        let always = pulls_always(c["image"].as_str().unwrap_or_default());
        set_default(c, "imagePullPolicy", json!(if always { "Always" } else { "IfNotPresent" }));
        set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
        set_default(c, "terminationMessagePolicy", json!("File"));
        set_default(c, "resources", json!({}));
        if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut().filter(|p| p.is_object()) {
                set_default(p, "protocol", json!("TCP"));
            }
        }
    }
}

/// Defaults of a pod spec (also inside templates).
fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default_containers(spec, "initContainers");
    default_containers(spec, "containers");
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
}

fn default_template(obj: &mut Value) {
    if let Some(spec) = obj.pointer_mut("/spec/template/spec") {
        default_pod_spec(spec);
    }
}

/// Fills the fields a real server defaults on create (and keeps filling on update, since
/// every default only fills what is missing). `next_cluster_ip` hands out Service IPs.
pub fn apply(res: &Resource, obj: &mut Value, next_cluster_ip: &mut dyn FnMut() -> String) {
    if !obj.is_object() {
        return;
    }
    match res.plural {
        "deployments" => {
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            let spec = &mut obj["spec"];
            set_default(spec, "replicas", json!(1));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            default_template(obj);
        }
        "replicasets" | "statefulsets" => {
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            set_default(&mut obj["spec"], "replicas", json!(1));
            default_template(obj);
        }
        "pods" => {
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            let spec = &mut obj["spec"];
            default_pod_spec(spec);
            set_default(spec, "serviceAccountName", json!("default"));
            set_default(spec, "enableServiceLinks", json!(true));
            set_default(spec, "priority", json!(0));
            set_default(
                spec,
                "tolerations",
                json!([
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]),
            );
            if !obj["status"].is_object() {
                obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
        }
        "services" => {
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            let spec = &mut obj["spec"];
            set_default(spec, "type", json!("ClusterIP"));
            if spec.get("clusterIP").is_none_or(|ip| ip.is_null() || ip == "") {
                let ip = next_cluster_ip();
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            set_default(spec, "clusterIPs", json!([spec["clusterIP"].clone()]));
            set_default(spec, "sessionAffinity", json!("None"));
            set_default(spec, "ipFamilies", json!(["IPv4"]));
            set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
            set_default(spec, "internalTrafficPolicy", json!("Cluster"));
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter(|p| p.is_object()) {
                    set_default(p, "protocol", json!("TCP"));
                    let port = p["port"].clone();
                    set_default(p, "targetPort", port);
                }
            }
            set_default(obj, "status", json!({"loadBalancer": {}}));
        }
        "secrets" => set_default(obj, "type", json!("Opaque")),
        "namespaces" => {
            let name = obj["metadata"]["name"].clone();
            if !obj["metadata"]["labels"].is_object() {
                obj["metadata"]["labels"] = json!({});
            }
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            set_default(obj, "spec", json!({"finalizers": ["kubernetes"]}));
            set_default(obj, "status", json!({"phase": "Active"}));
        }
        _ => {}
    }
}

/// Go's `%#v` of a `map[string]string`, as validation messages quote label maps.
fn go_map(labels: &Value) -> String {
    let mut pairs: Vec<(String, String)> = labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    pairs.sort();
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    format!("map[string]string{{{}}}", body.join(", "))
}

/// Checks what a real server refuses with 422 `Invalid` for the kinds kube-sim cares about.
///
/// # Errors
/// The `Invalid` error with the real message.
pub fn validate(res: &'static Resource, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let workload = ["deployments", "replicasets", "statefulsets"].contains(&res.plural);
    if workload {
        if let Some(n) = obj["spec"]["replicas"].as_i64().filter(|n| *n < 0) {
            return Err(ApiError::invalid(
                res,
                name,
                "spec.replicas",
                &format!("Invalid value: {n}: must be greater than or equal to 0"),
            ));
        }
        let sel = &obj["spec"]["selector"];
        if !sel.is_object() || (sel["matchLabels"].is_null() && sel["matchExpressions"].is_null()) {
            return Err(ApiError::invalid(res, name, "spec.selector", "Required value"));
        }
        let labels = &obj["spec"]["template"]["metadata"]["labels"];
        let selector = LabelSelector::from_object(sel);
        if selector.is_empty() {
            return Err(ApiError::invalid(
                res,
                name,
                "spec.selector",
                "Invalid value: \"null\": empty selector is invalid for deployment",
            ));
        }
        if !selector.matches(labels) {
            return Err(ApiError::invalid(
                res,
                name,
                "spec.template.metadata.labels",
                &format!("Invalid value: {}: `selector` does not match template `labels`", go_map(labels)),
            ));
        }
    }
    if res == &resources::PODS || workload {
        let spec = if workload { &obj["spec"]["template"]["spec"] } else { &obj["spec"] };
        let containers = spec["containers"].as_array().map(Vec::len).unwrap_or(0);
        if containers == 0 {
            let field = if workload { "spec.template.spec.containers" } else { "spec.containers" };
            return Err(ApiError::invalid(res, name, field, "Required value"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("10.96.0.{n}")
        }
    }

    fn deploy(replicas: i64, pod_labels: Value) -> Value {
        json!({"metadata": {"name": "web"}, "spec": {"replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": pod_labels},
                "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}})
    }

    #[test]
    fn deployment_defaults_match_a_real_server() {
        let mut d = deploy(2, json!({"app": "web"}));
        apply(&resources::DEPLOYMENTS, &mut d, &mut ip());
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(d["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    }

    #[test]
    fn service_gets_cluster_ip_and_target_port() {
        let mut s = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"name": "http", "port": 3000}]}});
        apply(&resources::SERVICES, &mut s, &mut ip());
        assert_eq!(s["spec"]["clusterIP"], "10.96.0.1");
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 3000);
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn negative_replicas_and_selector_mismatch_are_invalid() {
        let err = validate(&resources::DEPLOYMENTS, &deploy(-1, json!({"app": "web"}))).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let err = validate(&resources::DEPLOYMENTS, &deploy(1, json!({"app": "other"}))).unwrap_err();
        assert_eq!(
            err.message,
            "Deployment.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
        );
        assert!(validate(&resources::DEPLOYMENTS, &deploy(0, json!({"app": "web"}))).is_ok());
    }
}
