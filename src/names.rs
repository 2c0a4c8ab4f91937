//! Validation of names before they reach an API path, query or field selector, and quoting of
//! names and values shown to humans (shell commands, terminal text).

/// Why a name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty.
    #[error("{what} must not be empty")]
    Empty {
        /// What the name names (`service name`, `namespace`).
        what: &'static str,
    },
    /// Longer than allowed (63 for a label, 253 for a subdomain).
    #[error("{what} {name:?} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// What the name names.
        what: &'static str,
        /// The name, cut to 80 characters.
        name: String,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// Not a DNS-1123 label.
    #[error(
        "{what} {name:?} is not a DNS-1123 label: use lower case letters, digits and '-', starting and ending with a letter or digit"
    )]
    Invalid {
        /// What the name names.
        what: &'static str,
        /// The name, cut to 80 characters.
        name: String,
    },
    /// Not a DNS-1123 subdomain.
    #[error(
        "{what} {name:?} is not a DNS-1123 subdomain: use lower case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit"
    )]
    InvalidSubdomain {
        /// What the name names.
        what: &'static str,
        /// The name, cut to 80 characters.
        name: String,
    },
}

/// The name as shown in an error: at most 80 characters, control characters replaced.
fn shown(name: &str) -> String {
    name.chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn is_label(bytes: &[u8]) -> bool {
    let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    !bytes.is_empty() && bytes.iter().all(|&b| ok_char(b)) && bytes[0] != b'-' && bytes[bytes.len() - 1] != b'-'
}

/// Checks that `name` is a DNS-1123 label (what Service and namespace names are).
///
/// # Errors
/// [`NameError`] saying what is wrong, quoting at most 80 characters of the name.
pub fn validate_label(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if name.len() > 63 {
        return Err(NameError::TooLong { what, name: shown(name), len: name.len(), max: 63 });
    }
    if !is_label(name.as_bytes()) {
        return Err(NameError::Invalid { what, name: shown(name) });
    }
    Ok(())
}

/// Checks that `name` is a DNS-1123 subdomain (what Deployment, ReplicaSet, Pod, ConfigMap,
/// Secret and Lease names are): at most 253 characters, dot-separated labels.
///
/// # Errors
/// [`NameError`] saying what is wrong, quoting at most 80 characters of the name.
pub fn validate_subdomain(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if name.len() > 253 {
        return Err(NameError::TooLong { what, name: shown(name), len: name.len(), max: 253 });
    }
    if !name.split('.').all(|l| is_label(l.as_bytes())) {
        return Err(NameError::InvalidSubdomain { what, name: shown(name) });
    }
    Ok(())
}

/// Whether `name` is a DNS-1123 subdomain.
pub fn is_subdomain(name: &str) -> bool {
    validate_subdomain("name", name).is_ok()
}

/// Whether `name` is a DNS-1123 label.
pub fn is_label_name(name: &str) -> bool {
    validate_label("name", name).is_ok()
}

/// `value` quoted for a POSIX shell: as is when it holds only characters no shell treats
/// specially, else in single quotes (a `'` inside becomes `'\''`). Control characters are
/// replaced by `?` so that the text cannot move a terminal's cursor either.
pub fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%^".contains(c);
    let clean: String = value.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if !clean.is_empty() && clean.chars().all(safe) {
        return clean;
    }
    format!("'{}'", clean.replace('\'', r"'\''"))
}

/// A name read from the cluster for a runnable command: quoted when needed, or, when it is not
/// a valid DNS-1123 subdomain, shown quoted and flagged so that nobody pastes it as a command.
pub fn command_name(name: &str) -> Result<String, String> {
    if is_subdomain(name) {
        Ok(shell_quote(name))
    } else {
        Err(format!("{} (not a valid Kubernetes name: check it by hand)", shell_quote(&shown(name))))
    }
}

/// `text` without control characters (ESC, BEL, C1, newlines...): each becomes a space, so
/// cluster-controlled text cannot drive a terminal.
pub fn strip_controls(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_labels() {
        for ok in ["a", "sandfly-mcp-server", "x1", &"a".repeat(63)] {
            assert_eq!(validate_label("service name", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_what_could_escape_a_path() {
        for bad in ["", "Upper", "../x", "a;rm -rf /", "-a", "a-", "a.b", "a/b", "a b", &"a".repeat(64), "ä"] {
            assert!(validate_label("service name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subdomains_allow_dots_but_nothing_that_leaves_a_path_segment() {
        for ok in ["a", "web-6f74859f89", "a.b.c", "kube-root-ca.crt", &"a".repeat(253)] {
            assert_eq!(validate_subdomain("name", ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            "a..b",
            ".a",
            "a.",
            "../../../../api/v1/namespaces/kube-system/secrets/admin-token?x=",
            "a/b",
            "a%2fb",
            "a?b",
            "a,b",
            "A",
            "a b",
            "a\n",
            &"a".repeat(254),
        ] {
            assert!(validate_subdomain("name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shell_quoting_makes_metacharacters_inert() {
        assert_eq!(shell_quote("web-1"), "web-1");
        assert_eq!(shell_quote("x;$(touch${IFS}pwned)"), "'x;$(touch${IFS}pwned)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a\u{1b}[2Jb"), "'a?[2Jb'");
        assert_eq!(command_name("web-1"), Ok("web-1".into()));
        let flagged = command_name("x;$(touch${IFS}pwned)").unwrap_err();
        assert!(flagged.starts_with("'x;$(touch${IFS}pwned)'") && flagged.contains("not a valid"), "{flagged}");
    }

    #[test]
    fn controls_are_stripped() {
        assert_eq!(strip_controls("a\u{1b}]0;x\u{7}b\u{9b}c\nd"), "a ]0;x b c d");
    }
}
