//! What exists before the first request: the built-in namespaces and node, the `--demo`
//! objects, and the objects of a `--seed` file.

use serde::Deserialize;
use serde_json::{Value, json};

use super::api::ApiState;
use super::resources;
use super::store::ApiError;

/// The only node of the simulated cluster.
pub const NODE_NAME: &str = "sim-node-1";

/// A failure to seed the store.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("failed to read seed file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A document is not YAML.
    #[error("failed to parse seed file {path}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A document names a kind kube-sim does not serve.
    #[error("failed to seed document {index}: kind {api_version}/{kind} is not served by kube-sim")]
    UnknownKind {
        /// Position of the document in the file, from 1.
        index: usize,
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
    },
    /// The API refused an object.
    #[error("failed to create seed object {what}: {refusal}")]
    Create {
        /// `kind/namespace/name`.
        what: String,
        /// The API's refusal.
        refusal: ApiError,
    },
}

fn node() -> Value {
    json!({
        "metadata": {"name": NODE_NAME, "labels": {
            "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}},
        "spec": {},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "kubelet is posting ready status", "lastHeartbeatTime": super::store::now(),
                "lastTransitionTime": super::store::now()}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE_NAME}],
            "nodeInfo": {"kubeletVersion": "v1.33.0-kube-sim", "kubeProxyVersion": "", "operatingSystem": "linux",
                "architecture": "amd64", "containerRuntimeVersion": "kube-sim://1", "osImage": "kube-sim",
                "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": ""}
        }
    })
}

fn create(st: &ApiState, res: &'static resources::Resource, ns: &str, obj: Value) -> Result<Value, SeedError> {
    let what = format!("{}/{ns}/{}", res.kind, obj["metadata"]["name"].as_str().unwrap_or_default());
    st.create(res, ns, obj, false).map_err(|refusal| SeedError::Create { what, refusal })
}

/// Namespaces `default`, `kube-system`, `kube-public` (each with its `default`
/// ServiceAccount), the `kubernetes` Service and Node `sim-node-1`.
///
/// # Errors
/// When the store refuses one of them (it is empty, so only a bug can cause that).
pub fn builtins(st: &ApiState) -> Result<(), SeedError> {
    for ns in ["default", "kube-system", "kube-public"] {
        create(st, &resources::NAMESPACES, "", json!({"metadata": {"name": ns}}))?;
    }
    create(st, &resources::NODES, "", node())?;
    create(
        st,
        &resources::SERVICES,
        "default",
        json!({"metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}}),
    )?;
    Ok(())
}

/// The demo: `cortex-system/sandfly-mcp-server`, a Deployment of 2 and its Service.
pub fn demo_objects() -> Vec<Value> {
    let name = "sandfly-mcp-server";
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cortex-system"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "cortex-system", "labels": {"app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "server", "image": "sim/mcp-server:1",
                        "ports": [{"containerPort": 3000}]}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "cortex-system", "labels": {"app": name}},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 3000, "targetPort": 3000}]}}),
    ]
}

/// Creates objects in order; a missing namespace is created first, an existing namespace is
/// kept.
///
/// # Errors
/// The first object of an unknown kind, or the first the API refuses.
pub fn apply(st: &ApiState, objects: Vec<Value>) -> Result<(), SeedError> {
    for (i, obj) in objects.into_iter().enumerate() {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let res = resources::by_kind(&api_version, &kind).ok_or(SeedError::UnknownKind {
            index: i + 1,
            api_version,
            kind,
        })?;
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        if res == &resources::NAMESPACES && st.store.get(res, "", &name).is_some() {
            continue;
        }
        let ns = if res.namespaced {
            obj["metadata"]["namespace"].as_str().unwrap_or("default").to_string()
        } else {
            String::new()
        };
        if res.namespaced && st.store.get(&resources::NAMESPACES, "", &ns).is_none() {
            create(st, &resources::NAMESPACES, "", json!({"metadata": {"name": ns}}))?;
        }
        create(st, res, &ns, obj)?;
    }
    Ok(())
}

/// Reads a multi-document YAML file into objects (empty documents skipped).
///
/// # Errors
/// When the file cannot be read or is not YAML.
pub fn read_file(path: &std::path::Path) -> Result<Vec<Value>, SeedError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read { path: shown.clone(), source })?;
    parse(&text).map_err(|source| SeedError::Parse { path: shown, source })
}

/// Parses multi-document YAML.
///
/// # Errors
/// The first document that is not valid YAML.
pub fn parse(text: &str) -> Result<Vec<Value>, serde_yaml_ng::Error> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(doc)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_skips_empty_documents() {
        let docs = parse("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\nkind: X\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["metadata"]["name"], "a");
    }
}
