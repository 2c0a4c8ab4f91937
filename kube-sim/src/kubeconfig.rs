//! The kubeconfig kube-sim writes so kubectl, kube and self-heal find it.

use std::path::Path;

/// A kubeconfig with cluster, user (no credentials) and context all named `kube-sim`.
pub fn render(server: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-sim
  cluster:
    server: {server}
users:
- name: kube-sim
  user: {{}}
contexts:
- name: kube-sim
  context:
    cluster: kube-sim
    user: kube-sim
current-context: kube-sim
preferences: {{}}
"
    )
}

/// Writes the kubeconfig atomically (temp file + rename), so a reader never sees half of it.
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write(path: &Path, server: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("kube-sim-tmp");
    std::fs::write(&tmp, render(server))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_points_at_the_server() {
        let text = render("http://127.0.0.1:4242");
        let v: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(v["current-context"], "kube-sim");
        assert_eq!(v["clusters"][0]["cluster"]["server"], "http://127.0.0.1:4242");
        assert_eq!(v["contexts"][0]["context"]["user"], "kube-sim");
    }
}
