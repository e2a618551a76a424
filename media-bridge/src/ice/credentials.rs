//! ICE credentials: the username fragment and password each agent puts in SDP (RFC 8445 §5.3, RFC 8839).

use super::IceError;

/// Shortest `ice-ufrag` RFC 8839 §5.4 allows.
const MIN_UFRAG_LEN: usize = 4;
/// Shortest `ice-pwd` RFC 8839 §5.4 allows.
const MIN_PWD_LEN: usize = 22;
/// Longest `ice-ufrag` or `ice-pwd`.
const MAX_CREDENTIAL_LEN: usize = 256;

/// Length of the ufrag we generate (48 random bits).
const GENERATED_UFRAG_LEN: usize = 8;
/// Length of the password we generate (144 random bits).
const GENERATED_PWD_LEN: usize = 24;

/// The 64 `ice-char`s: ALPHA / DIGIT / "+" / "/". Exactly 64, so a random byte masked to 6 bits picks one
/// uniformly.
const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// An ICE username fragment and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    ufrag: String,
    pwd: String,
}

impl Credentials {
    /// Credentials from SDP (`a=ice-ufrag`, `a=ice-pwd`), checked: ufrag 4–256 and pwd 22–256 `ice-char`s.
    pub fn new(ufrag: impl Into<String>, pwd: impl Into<String>) -> Result<Credentials, IceError> {
        let ufrag = ufrag.into();
        let pwd = pwd.into();
        check("ice-ufrag", &ufrag, MIN_UFRAG_LEN)?;
        check("ice-pwd", &pwd, MIN_PWD_LEN)?;
        Ok(Credentials { ufrag, pwd })
    }

    /// Fresh random credentials (8-character ufrag, 24-character password) from the system's randomness.
    pub fn random() -> Result<Credentials, IceError> {
        let mut bytes = [0u8; GENERATED_UFRAG_LEN + GENERATED_PWD_LEN];
        getrandom::fill(&mut bytes).map_err(|_| IceError::Randomness)?;
        let (ufrag, pwd) = bytes.split_at(GENERATED_UFRAG_LEN);
        Ok(Credentials {
            ufrag: ice_string(ufrag),
            pwd: ice_string(pwd),
        })
    }

    /// The username fragment.
    pub fn ufrag(&self) -> &str {
        &self.ufrag
    }

    /// The password.
    pub fn pwd(&self) -> &str {
        &self.pwd
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is a secret: it keys MESSAGE-INTEGRITY.
        f.debug_struct("Credentials")
            .field("ufrag", &self.ufrag)
            .field("pwd", &"<redacted>")
            .finish()
    }
}

fn ice_string(random: &[u8]) -> String {
    random
        .iter()
        .map(|b| char::from(ICE_CHARS[usize::from(b & 0x3F)]))
        .collect()
}

fn is_ice_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

fn check(field: &'static str, value: &str, min: usize) -> Result<(), IceError> {
    if let Some(offset) = value.bytes().position(|c| !is_ice_char(c)) {
        return Err(IceError::InvalidCredential {
            field,
            offset,
            expected: "ice-char (letter, digit, '+' or '/')",
        });
    }
    if value.len() < min {
        return Err(IceError::InvalidCredential {
            field,
            offset: value.len(),
            expected: if min == MIN_UFRAG_LEN {
                "at least 4 characters"
            } else {
                "at least 22 characters"
            },
        });
    }
    if value.len() > MAX_CREDENTIAL_LEN {
        return Err(IceError::InvalidCredential {
            field,
            offset: MAX_CREDENTIAL_LEN,
            expected: "at most 256 characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_credentials_meet_the_sdp_grammar_and_differ() {
        let a = Credentials::random().unwrap();
        let b = Credentials::random().unwrap();
        assert!(a.ufrag().len() >= 4 && a.pwd().len() >= 22);
        assert!(a.ufrag().bytes().chain(a.pwd().bytes()).all(is_ice_char));
        assert_eq!(Credentials::new(a.ufrag(), a.pwd()), Ok(a.clone()));
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_short_ufrag_and_password() {
        let err = Credentials::new("abc", "0123456789012345678901").unwrap_err();
        assert!(matches!(
            err,
            IceError::InvalidCredential {
                field: "ice-ufrag",
                offset: 3,
                ..
            }
        ));
        let err = Credentials::new("abcd", "012345678901234567890").unwrap_err();
        assert!(matches!(
            err,
            IceError::InvalidCredential {
                field: "ice-pwd",
                ..
            }
        ));
    }

    #[test]
    fn rejects_characters_outside_ice_char() {
        let err = Credentials::new("ab:d", "0123456789012345678901").unwrap_err();
        assert!(matches!(
            err,
            IceError::InvalidCredential {
                field: "ice-ufrag",
                offset: 2,
                ..
            }
        ));
    }

    #[test]
    fn rejects_credentials_longer_than_256() {
        let long = "a".repeat(257);
        assert!(Credentials::new(long, "0123456789012345678901").is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let c = Credentials::new("abcd", "SecretSecretSecret0123456").unwrap();
        assert!(!format!("{c:?}").contains("Secret"));
    }
}
