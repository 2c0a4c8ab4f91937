//! Authentication as kube-apiserver does it: client certificates signed by kube-sim's CA
//! (CN = user, O = groups), then bearer tokens: the admin token of the kubeconfig kube-sim
//! writes, a `--token-file` in kube-apiserver's static token CSV format, and the ServiceAccount
//! tokens that the TokenRequest subresource issues. No credentials, or a token nobody issued,
//! is 401 (kube-sim runs with anonymous authentication off).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The admin's user name (group `system:masters`).
pub const ADMIN_USER: &str = "kube-sim-admin";
/// The group RBAC never denies.
pub const MASTERS: &str = "system:masters";
/// Added to every authenticated user's groups.
pub const AUTHENTICATED: &str = "system:authenticated";

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// User name (`system:serviceaccount:<ns>:<sa>` for ServiceAccounts).
    pub name: String,
    /// UID (empty for certificate users).
    pub uid: String,
    /// Groups, `system:authenticated` included.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user with `groups` plus `system:authenticated`.
    pub fn new(name: &str, uid: &str, groups: impl IntoIterator<Item = String>) -> UserInfo {
        let mut groups: Vec<String> = groups.into_iter().collect();
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.to_string());
        }
        UserInfo { name: name.to_string(), uid: uid.to_string(), groups }
    }

    /// The identity of a ServiceAccount's tokens.
    pub fn service_account(ns: &str, sa: &str, uid: &str) -> UserInfo {
        UserInfo::new(
            &format!("system:serviceaccount:{ns}:{sa}"),
            uid,
            ["system:serviceaccounts".to_string(), format!("system:serviceaccounts:{ns}")],
        )
    }

    /// Whether RBAC is bypassed for this user.
    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }
}

/// A malformed `--token-file`.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// Unreadable.
    #[error("failed to read token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line with fewer than three fields.
    #[error("token file {path} line {line}: want token,user,uid[,\"group1,group2\"]")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
    },
}

/// Splits one CSV record (double quotes group commas; `""` is a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Reads kube-apiserver's static token file: `token,user,uid,"group1,group2"` per line.
///
/// # Errors
/// When the file cannot be read or a line has fewer than three fields.
pub fn read_token_file(path: &Path) -> Result<HashMap<String, UserInfo>, TokenFileError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read { path: p.clone(), source })?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f = csv_fields(line);
        if f.len() < 3 || f[0].is_empty() || f[1].is_empty() {
            return Err(TokenFileError::Line { path: p, line: i + 1 });
        }
        let groups = f.get(3).map(|g| g.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>());
        out.insert(f[0].clone(), UserInfo::new(&f[1], &f[2], groups.unwrap_or_default()));
    }
    Ok(out)
}

/// Random hex of `bytes` bytes from the TLS provider's CSPRNG.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let rng = rustls::crypto::aws_lc_rs::default_provider().secure_random;
    if rng.fill(&mut buf).is_err() {
        // Not expected; a test bed can live with a weaker token.
        buf.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The authenticators of one kube-sim.
pub struct Authenticator {
    tokens: Mutex<HashMap<String, UserInfo>>,
    admin_token: String,
}

impl Authenticator {
    /// A fresh admin token plus `static_tokens` (from `--token-file`).
    pub fn new(static_tokens: HashMap<String, UserInfo>) -> Authenticator {
        let admin_token = random_hex(24);
        let mut tokens = static_tokens;
        tokens.insert(admin_token.clone(), UserInfo::new(ADMIN_USER, "", [MASTERS.to_string()]));
        Authenticator { tokens: Mutex::new(tokens), admin_token }
    }

    /// The admin token (group `system:masters`), written into the kubeconfig.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// Issues a token for a ServiceAccount (TokenRequest).
    pub fn issue_service_account_token(&self, ns: &str, sa: &str, uid: &str) -> String {
        let token = format!("sim-sa.{}", random_hex(24));
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), UserInfo::service_account(ns, sa, uid));
        token
    }

    /// Who a request is: its verified client certificate's identity, else its bearer token's.
    /// `None` means 401.
    pub fn authenticate(&self, cert: Option<&UserInfo>, authorization: Option<&str>) -> Option<UserInfo> {
        if let Some(u) = cert {
            return Some(u.clone());
        }
        let value = authorization?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(token.trim()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_lines_map_to_users() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens.csv");
        std::fs::write(&p, "t1,alice,u1,\"dev,ops\"\n\nt2,bob,u2\n").unwrap();
        let m = read_token_file(&p).unwrap();
        assert_eq!(m["t1"].groups, ["dev", "ops", AUTHENTICATED]);
        assert_eq!(m["t2"], UserInfo::new("bob", "u2", []));
        std::fs::write(&p, "t1,alice\n").unwrap();
        assert!(matches!(read_token_file(&p), Err(TokenFileError::Line { line: 1, .. })));
    }

    #[test]
    fn tokens_and_certs_authenticate() {
        let a = Authenticator::new(HashMap::new());
        let admin = a.authenticate(None, Some(&format!("Bearer {}", a.admin_token()))).unwrap();
        assert!(admin.is_master());
        assert_eq!(a.authenticate(None, Some("Bearer nope")), None);
        assert_eq!(a.authenticate(None, None), None);
        let t = a.issue_service_account_token("ns", "sa", "u");
        let sa = a.authenticate(None, Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!(sa.name, "system:serviceaccount:ns:sa");
        assert_eq!(sa.groups, ["system:serviceaccounts", "system:serviceaccounts:ns", AUTHENTICATED]);
        let cert = UserInfo::new("carol", "", []);
        assert_eq!(a.authenticate(Some(&cert), Some("Bearer nope")), Some(cert));
    }
}
