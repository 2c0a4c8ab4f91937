//! Validation of names before they reach an API path.

/// Why a name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty.
    #[error("{what} must not be empty")]
    Empty {
        /// What the name names (`service name`, `namespace`).
        what: &'static str,
    },
    /// Longer than 63 characters.
    #[error("{what} {name:?} is {len} characters long; at most 63 are allowed")]
    TooLong {
        /// What the name names.
        what: &'static str,
        /// The name, cut to 80 characters.
        name: String,
        /// Its length.
        len: usize,
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
}

/// Checks that `name` is a DNS-1123 label (what Service and namespace names are).
///
/// # Errors
/// [`NameError`] saying what is wrong, quoting at most 80 characters of the name.
pub fn validate_label(what: &'static str, name: &str) -> Result<(), NameError> {
    let shown = || name.chars().take(80).collect::<String>();
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if name.len() > 63 {
        return Err(NameError::TooLong { what, name: shown(), len: name.len() });
    }
    let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let bytes = name.as_bytes();
    if !bytes.iter().all(|&b| ok_char(b)) || bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
        return Err(NameError::Invalid { what, name: shown() });
    }
    Ok(())
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
}
