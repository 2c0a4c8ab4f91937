//! What the simulated container runtime knows without running anything: image names and
//! pulls, the `SIM_*` faults a container's env asks for (documented in [`super::kubelet`]),
//! the ConfigMaps and Secrets a container needs, and Go-style durations for messages.

use std::time::Duration;

use serde_json::Value;

use super::meta;

/// What a container's `env` asks the simulation to do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Exit 1 shortly after each start.
    pub crash: bool,
    /// Be OOM-killed shortly after each start.
    pub oom: bool,
    /// Become Ready only after this long.
    pub ready_delay: Option<Duration>,
    /// Never become Ready.
    pub not_ready: bool,
    /// `/mcp` answers 503 while `/health` is fine.
    pub mcp_down: bool,
    /// `/mcp` never answers.
    pub hang: bool,
    /// Readiness flaps: Ready for the first duration, then unready (its server refusing
    /// connections) for the second, and again.
    pub ready_flap: Option<(Duration, Duration)>,
}

impl Faults {
    /// Reads the `SIM_*` variables of a container spec; `restarted` tells whether the pod
    /// carries the rollout-restart annotation (for `SIM_CRASH=until-restart`).
    pub fn from_container(c: &Value, restarted: bool) -> Faults {
        let mut f = Faults::default();
        let env = c["env"].as_array().map(Vec::as_slice).unwrap_or_default();
        for e in env {
            let v = e["value"].as_str().unwrap_or_default();
            let on = matches!(v, "1" | "true" | "yes");
            match e["name"].as_str().unwrap_or_default() {
                "SIM_CRASH" => f.crash = on || (v == "until-restart" && !restarted),
                "SIM_OOM" => f.oom = on,
                "SIM_NOT_READY" => f.not_ready = on,
                "SIM_MCP_DOWN" => f.mcp_down = on || (v == "until-restart" && !restarted),
                "SIM_HANG" => f.hang = on || (v == "until-restart" && !restarted),
                "SIM_READY_DELAY" => f.ready_delay = humantime::parse_duration(v).ok(),
                "SIM_READY_FLAP" => f.ready_flap = flap(v),
                _ => {}
            }
        }
        f
    }
}

/// `<upSeconds>,<downSeconds>` (fractions allowed, both positive).
fn flap(v: &str) -> Option<(Duration, Duration)> {
    let (up, down) = v.split_once(',')?;
    let secs = |s: &str| {
        let f: f64 = s.trim().parse().ok()?;
        (f > 0.0).then(|| Duration::try_from_secs_f64(f).ok()).flatten()
    };
    Some((secs(up)?, secs(down)?))
}

/// Go's duration text for whole seconds, as the kubelet prints back-offs (`1m20s`, `5m0s`).
pub fn go_duration(secs: u64) -> String {
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// The image as the kubelet names it in messages: `:latest` appended when untagged.
pub fn tagged(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') { image.to_string() } else { format!("{image}:latest") }
}

/// An image reference as the runtime reports it (`docker.io/library/nginx:latest`).
pub fn full_image(image: &str) -> String {
    let tagged = tagged(image);
    let first = tagged.split('/').next().unwrap_or_default();
    if !tagged.contains('/') {
        format!("docker.io/library/{tagged}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        tagged
    } else {
        format!("docker.io/{tagged}")
    }
}

/// Whether kube-sim can "pull" the image (`sim/*`).
pub fn pullable(image: &str) -> bool {
    image.starts_with("sim/") || image.starts_with("docker.io/sim/")
}

/// The first missing ConfigMap, Secret or key the container needs, as the kubelet words it.
pub fn missing_config(pod: &Value, c: &Value, lookup: &dyn Fn(bool, &str) -> Option<Value>) -> Option<String> {
    let ns = meta(pod, "namespace");
    let optional = |r: &Value| r["optional"].as_bool() == Some(true);
    let need = |secret: bool, name: &str, key: Option<&str>| -> Option<String> {
        let (kind, word) = if secret { ("Secret", "secret") } else { ("ConfigMap", "configmap") };
        let Some(obj) = lookup(secret, name) else {
            return Some(format!("{word} \"{name}\" not found"));
        };
        let key = key?;
        let has = obj["data"].get(key).is_some()
            || obj["binaryData"].get(key).is_some()
            || obj["stringData"].get(key).is_some();
        (!has).then(|| format!("couldn't find key {key} in {kind} {ns}/{name}"))
    };
    for e in c["env"].as_array().map(Vec::as_slice).unwrap_or_default() {
        for (field, secret) in [("configMapKeyRef", false), ("secretKeyRef", true)] {
            let r = &e["valueFrom"][field];
            if r.is_object()
                && !optional(r)
                && let Some(m) = need(secret, r["name"].as_str().unwrap_or_default(), r["key"].as_str())
            {
                return Some(m);
            }
        }
    }
    for e in c["envFrom"].as_array().map(Vec::as_slice).unwrap_or_default() {
        for (field, secret) in [("configMapRef", false), ("secretRef", true)] {
            let r = &e[field];
            if r.is_object()
                && !optional(r)
                && let Some(m) = need(secret, r["name"].as_str().unwrap_or_default(), None)
            {
                return Some(m);
            }
        }
    }
    for v in pod["spec"]["volumes"].as_array().map(Vec::as_slice).unwrap_or_default() {
        if v["configMap"].is_object()
            && !optional(&v["configMap"])
            && let Some(m) = need(false, v["configMap"]["name"].as_str().unwrap_or_default(), None)
        {
            return Some(m);
        }
        if v["secret"].is_object()
            && !optional(&v["secret"])
            && let Some(m) = need(true, v["secret"]["secretName"].as_str().unwrap_or_default(), None)
        {
            return Some(m);
        }
    }
    None
}

/// A stable, realistic digest reference for an image (`docker.io/sim/mcp-server@sha256:<64 hex>`).
pub fn image_id(image: &str) -> String {
    let repo = match image.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => image,
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut digest = String::new();
    for round in 0..4u8 {
        for b in image.bytes().chain([round]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        digest.push_str(&format!("{h:016x}"));
    }
    format!("{repo}@sha256:{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn faults_come_from_env() {
        let c = json!({"env": [{"name": "SIM_CRASH", "value": "1"}, {"name": "SIM_READY_DELAY", "value": "2s"}]});
        let f = Faults::from_container(&c, false);
        assert!(f.crash);
        assert_eq!(f.ready_delay, Some(Duration::from_secs(2)));
        let c = json!({"env": [{"name": "SIM_READY_FLAP", "value": "1.5, 0.5"}]});
        assert_eq!(
            Faults::from_container(&c, false).ready_flap,
            Some((Duration::from_millis(1500), Duration::from_millis(500)))
        );
        for bad in ["1", "0,1", "a,b", "1,-1", ""] {
            let c = json!({"env": [{"name": "SIM_READY_FLAP", "value": bad}]});
            assert_eq!(Faults::from_container(&c, false).ready_flap, None, "{bad}");
        }
        let c = json!({"env": [{"name": "SIM_CRASH", "value": "until-restart"}]});
        assert!(Faults::from_container(&c, false).crash);
        assert!(!Faults::from_container(&c, true).crash, "a rollout restart clears it");
        assert_eq!(Faults::from_container(&json!({}), false), Faults::default());
    }

    #[test]
    fn backoffs_print_as_go_durations() {
        let texts: Vec<String> = [10, 20, 40, 80, 160, 300].into_iter().map(go_duration).collect();
        assert_eq!(texts, ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s"]);
    }

    #[test]
    fn images_are_normalized_like_the_runtime() {
        assert_eq!(full_image("invalid-image:latest"), "docker.io/library/invalid-image:latest");
        assert_eq!(full_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(tagged("nginx"), "nginx:latest");
        assert_eq!(tagged("localhost:5000/a"), "localhost:5000/a:latest");
        assert_eq!(tagged("sim/mcp-server:1"), "sim/mcp-server:1");
        assert_eq!(full_image("sim/mcp-server:1.0"), "docker.io/sim/mcp-server:1.0");
        assert_eq!(full_image("ghcr.io/a/b"), "ghcr.io/a/b:latest");
        assert!(pullable("sim/mcp-server:1.0"));
        assert!(!pullable("invalid-image:latest"));
        let id = image_id("docker.io/sim/mcp-server:1.0");
        let digest = id.strip_prefix("docker.io/sim/mcp-server@sha256:").unwrap();
        assert_eq!(digest.len(), 64);
        assert_eq!(id, image_id("docker.io/sim/mcp-server:1.0"));
    }

    #[test]
    fn missing_config_names_the_object() {
        let pod = json!({"metadata": {"namespace": "ns"}, "spec": {"volumes": [{"secret": {"secretName": "s"}}]}});
        let c = json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]});
        let none = |_: bool, _: &str| None;
        assert_eq!(missing_config(&pod, &c, &none).unwrap(), "configmap \"cm\" not found");
        let cm_only = |secret: bool, _: &str| (!secret).then(|| json!({"data": {"k": "v"}}));
        assert_eq!(missing_config(&pod, &c, &cm_only).unwrap(), "secret \"s\" not found");
        let no_key = |_: bool, _: &str| Some(json!({"data": {}}));
        assert_eq!(missing_config(&pod, &c, &no_key).unwrap(), "couldn't find key k in ConfigMap ns/cm");
        let optional = json!({"envFrom": [{"configMapRef": {"name": "x", "optional": true}}]});
        assert_eq!(missing_config(&json!({}), &optional, &none), None);
    }
}
