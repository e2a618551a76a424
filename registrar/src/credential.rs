//! Digest credentials as the stores keep them: HA1 values, never passwords (RFC 7616 §3.4.2, RFC 8760).
//!
//! HA1 = H(username ":" realm ":" password). A digest verifier needs only HA1 for the algorithm a client
//! answers with, so the store keeps one HA1 per algorithm (MD5 for older phones, SHA-256) and the password
//! is dropped as soon as the credential is made. Verifying a digest response is not this crate's job.

use crate::error::Error;
use std::fmt;
use tandem_sip_core::auth::{self, Algorithm};

/// A digest algorithm whose HA1 a store can hold.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617), the default when a challenge names none.
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl DigestAlgorithm {
    /// Every algorithm, weakest first.
    pub const ALL: [DigestAlgorithm; 2] = [DigestAlgorithm::Md5, DigestAlgorithm::Sha256];

    /// The `algorithm` parameter value: `MD5` or `SHA-256`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Recognise an `algorithm` parameter value (case-insensitive).
    pub fn from_token(token: &[u8]) -> Option<DigestAlgorithm> {
        DigestAlgorithm::ALL
            .into_iter()
            .find(|a| token.eq_ignore_ascii_case(a.as_str().as_bytes()))
    }

    /// Length of an HA1 in hex digits (32 for MD5, 64 for SHA-256).
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Md5 => 32,
            DigestAlgorithm::Sha256 => 64,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HA1 value in lower-case hex, with its algorithm.
///
/// It is as good as the password for its realm, so `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ha1 {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Ha1 {
    /// An HA1 from its hex digits (either case); [`Error::InvalidHa1`] unless it has the algorithm's length.
    pub fn new(algorithm: DigestAlgorithm, hex: &str) -> Result<Ha1, Error> {
        if hex.len() != algorithm.hex_len() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::InvalidHa1 {
                algorithm: algorithm.as_str(),
                expected_len: algorithm.hex_len(),
            });
        }
        Ok(Ha1 {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// H(username ":" realm ":" password).
    pub fn from_password(
        algorithm: DigestAlgorithm,
        username: &str,
        realm: &str,
        password: &str,
    ) -> Ha1 {
        let digest = match algorithm {
            DigestAlgorithm::Md5 => Algorithm::Md5,
            DigestAlgorithm::Sha256 => Algorithm::Sha256,
        };
        let hex = auth::ha1(digest, username, realm, password);
        Ha1 { algorithm, hex }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ha1({}, <redacted>)", self.algorithm)
    }
}

/// A subscriber's digest credentials for one realm: at most one HA1 per algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    username: String,
    realm: String,
    ha1: Vec<Ha1>,
}

impl Credential {
    /// Credentials with the HA1 of every algorithm computed from `password`, which is not kept.
    pub fn from_password(username: &str, realm: &str, password: &str) -> Credential {
        let ha1 = DigestAlgorithm::ALL
            .into_iter()
            .map(|a| Ha1::from_password(a, username, realm, password))
            .collect();
        Credential {
            username: username.to_owned(),
            realm: realm.to_owned(),
            ha1,
        }
    }

    /// Credentials from HA1 values computed elsewhere; for an algorithm given twice the last one counts.
    pub fn from_ha1(
        username: &str,
        realm: &str,
        values: impl IntoIterator<Item = Ha1>,
    ) -> Credential {
        let mut ha1: Vec<Ha1> = Vec::new();
        for value in values {
            ha1.retain(|h| h.algorithm != value.algorithm);
            ha1.push(value);
        }
        ha1.sort_by_key(Ha1::algorithm);
        Credential {
            username: username.to_owned(),
            realm: realm.to_owned(),
            ha1,
        }
    }

    /// The digest username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The HA1 for `algorithm`, if these credentials have one.
    pub fn ha1(&self, algorithm: DigestAlgorithm) -> Option<&Ha1> {
        self.ha1.iter().find(|h| h.algorithm == algorithm)
    }

    /// Every HA1 held, weakest algorithm first.
    pub fn ha1_values(&self) -> &[Ha1] {
        &self.ha1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_matches_published_and_independent_values() {
        // RFC 2617 §3.5 example: HA1 = 939e7578ed9e3c518a452acee763bce9.
        let md5 = Ha1::from_password(
            DigestAlgorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(md5.as_str(), "939e7578ed9e3c518a452acee763bce9");
        // RFC 7616 §3.9.1 inputs; the value computed with Python's hashlib.
        let sha = Ha1::from_password(
            DigestAlgorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert_eq!(
            sha.as_str(),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
    }

    #[test]
    fn from_password_keeps_one_ha1_per_algorithm_and_no_password() {
        let c = Credential::from_password("alice", "example.com", "secret");
        assert_eq!(c.ha1_values().len(), 2);
        assert!(c.ha1(DigestAlgorithm::Md5).is_some());
        assert!(!format!("{c:?}").contains("secret"));
        assert!(!format!("{c:?}").contains(c.ha1(DigestAlgorithm::Md5).unwrap().as_str()));
    }

    #[test]
    fn ha1_rejects_wrong_length_or_non_hex_and_lowercases() {
        assert!(Ha1::new(DigestAlgorithm::Md5, "abc").is_err());
        assert!(Ha1::new(DigestAlgorithm::Md5, &"g".repeat(32)).is_err());
        assert!(Ha1::new(DigestAlgorithm::Sha256, &"a".repeat(32)).is_err());
        let h = Ha1::new(DigestAlgorithm::Md5, &"AB".repeat(16)).unwrap();
        assert_eq!(h.as_str(), "ab".repeat(16));
    }

    #[test]
    fn algorithm_tokens_are_case_insensitive() {
        assert_eq!(
            DigestAlgorithm::from_token(b"sha-256"),
            Some(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            DigestAlgorithm::from_token(b"MD5"),
            Some(DigestAlgorithm::Md5)
        );
        assert_eq!(DigestAlgorithm::from_token(b"MD5-sess"), None);
    }
}
