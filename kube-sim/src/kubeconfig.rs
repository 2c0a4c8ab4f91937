//! The kubeconfigs kube-sim writes so kubectl, kube and self-heal find it: the server's HTTPS
//! URL, its CA, and one user's credentials (a bearer token or a client certificate).

use std::path::Path;

use base64::Engine;

/// One user's credentials.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A bearer token.
    Token(String),
    /// A client certificate and its key, PEM.
    Cert {
        /// Certificate, PEM.
        cert_pem: String,
        /// Private key, PEM.
        key_pem: String,
    },
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A kubeconfig with cluster, user and context all named `kube-sim`.
pub fn render(server: &str, ca_pem: &str, creds: &Credentials) -> String {
    let user = match creds {
        Credentials::Token(t) => format!("    token: {t}\n"),
        Credentials::Cert { cert_pem, key_pem } => {
            format!("    client-certificate-data: {}\n    client-key-data: {}\n", b64(cert_pem), b64(key_pem))
        }
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-sim
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: kube-sim
  user:
{user}contexts:
- name: kube-sim
  context:
    cluster: kube-sim
    user: kube-sim
current-context: kube-sim
preferences: {{}}
",
        ca = b64(ca_pem)
    )
}

/// Writes `text` atomically (temp file + rename), so a reader never sees half of it; the file
/// holds credentials, so it is readable by its owner only.
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("kube-sim-tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_points_at_the_server_with_ca_and_credentials() {
        let text = render("https://127.0.0.1:4242", "CA", &Credentials::Token("t0k".into()));
        let v: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(v["current-context"], "kube-sim");
        assert_eq!(v["clusters"][0]["cluster"]["server"], "https://127.0.0.1:4242");
        assert_eq!(v["clusters"][0]["cluster"]["certificate-authority-data"], b64("CA"));
        assert_eq!(v["users"][0]["user"]["token"], "t0k");
        assert_eq!(v["contexts"][0]["context"]["user"], "kube-sim");
        let text = render("https://h", "CA", &Credentials::Cert { cert_pem: "C".into(), key_pem: "K".into() });
        let v: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(v["users"][0]["user"]["client-certificate-data"], b64("C"));
        assert_eq!(v["users"][0]["user"]["client-key-data"], b64("K"));
    }
}
