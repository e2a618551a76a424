//! Digest algorithms (RFC 7616 §3.4, RFC 8760) and the hashes built from them: HA1, HA2 and the response.

use crate::random::hex;
use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

/// A digest algorithm, weakest first (the derived order is their strength).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), the default when a challenge names none; kept for older phones.
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
    /// `SHA-512-256` (RFC 7616, RFC 8760).
    Sha512_256,
}

impl Algorithm {
    /// Recognise an `algorithm` parameter value (case-insensitive). The `-sess` variants are not supported.
    pub fn from_token(token: &[u8]) -> Option<Algorithm> {
        [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256]
            .into_iter()
            .find(|a| token.eq_ignore_ascii_case(a.as_str().as_bytes()))
    }

    /// The parameter value: `MD5`, `SHA-256` or `SHA-512-256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512_256 => "SHA-512-256",
        }
    }

    /// Length of a hash in lower-case hex (32 for MD5, 64 for the SHA-2 variants).
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 | Algorithm::Sha512_256 => 64,
        }
    }

    /// `H(part1 ":" part2 ":" …)` in lower-case hex.
    pub(crate) fn hash_joined(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 => joined::<Md5>(parts),
            Algorithm::Sha256 => joined::<Sha256>(parts),
            Algorithm::Sha512_256 => joined::<Sha512_256>(parts),
        }
    }
}

fn joined<D: Digest>(parts: &[&[u8]]) -> String {
    let mut hasher = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part);
    }
    hex(&hasher.finalize())
}

/// HA1 = H(username ":" realm ":" password) in lower-case hex (RFC 7616 §3.4.2), the value a credential store
/// keeps instead of the password. MD5 and SHA-256 give different values: store one per algorithm offered.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_joined(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The `qop=auth` inputs of a response: nonce count as written (8 hex digits) and client nonce.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QopAuth<'a> {
    pub(crate) nc: &'a [u8],
    pub(crate) cnonce: &'a [u8],
}

/// The request-digest (RFC 7616 §3.4.1): with `qop=auth`, H(HA1 ":" nonce ":" nc ":" cnonce ":" "auth" ":"
/// HA2); without qop (RFC 2069), H(HA1 ":" nonce ":" HA2); where HA2 = H(method ":" digest-uri).
pub(crate) fn request_digest(
    algorithm: Algorithm,
    ha1: &[u8],
    nonce: &[u8],
    qop: Option<QopAuth<'_>>,
    method: &[u8],
    digest_uri: &[u8],
) -> String {
    let ha2 = algorithm.hash_joined(&[method, digest_uri]);
    match qop {
        Some(q) => algorithm.hash_joined(&[ha1, nonce, q.nc, q.cnonce, b"auth", ha2.as_bytes()]),
        None => algorithm.hash_joined(&[ha1, nonce, ha2.as_bytes()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7616 §3.9.1.
    const NONCE: &[u8] = b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE: &[u8] = b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_response(algorithm: Algorithm) -> String {
        let ha1 = ha1(
            algorithm,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let qop = QopAuth {
            nc: b"00000001",
            cnonce: CNONCE,
        };
        request_digest(
            algorithm,
            ha1.as_bytes(),
            NONCE,
            Some(qop),
            b"GET",
            b"/dir/index.html",
        )
    }

    #[test]
    fn reproduces_the_rfc7616_md5_example() {
        assert_eq!(
            rfc7616_response(Algorithm::Md5),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn reproduces_the_rfc7616_sha256_example() {
        assert_eq!(
            rfc7616_response(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn ha1_differs_per_algorithm_and_has_the_algorithm_length() {
        let md5 = ha1(Algorithm::Md5, "alice", "example.com", "secret");
        let sha = ha1(Algorithm::Sha256, "alice", "example.com", "secret");
        let sha512 = ha1(Algorithm::Sha512_256, "alice", "example.com", "secret");
        assert_eq!(md5.len(), Algorithm::Md5.hex_len());
        assert_eq!(sha.len(), Algorithm::Sha256.hex_len());
        assert_eq!(sha512.len(), Algorithm::Sha512_256.hex_len());
        assert_ne!(sha, sha512);
    }

    #[test]
    fn rfc2069_response_without_qop_omits_nc_and_cnonce() {
        let ha1 = ha1(Algorithm::Md5, "u", "r", "p");
        let with = request_digest(
            Algorithm::Md5,
            ha1.as_bytes(),
            b"n",
            Some(QopAuth {
                nc: b"00000001",
                cnonce: b"c",
            }),
            b"REGISTER",
            b"sip:r",
        );
        let without = request_digest(
            Algorithm::Md5,
            ha1.as_bytes(),
            b"n",
            None,
            b"REGISTER",
            b"sip:r",
        );
        let ha2 = Algorithm::Md5.hash_joined(&[b"REGISTER", b"sip:r"]);
        assert_eq!(
            without,
            Algorithm::Md5.hash_joined(&[ha1.as_bytes(), b"n", ha2.as_bytes()])
        );
        assert_ne!(with, without);
    }

    #[test]
    fn algorithm_tokens_are_case_insensitive_and_sess_is_refused() {
        assert_eq!(Algorithm::from_token(b"md5"), Some(Algorithm::Md5));
        assert_eq!(Algorithm::from_token(b"SHA-256"), Some(Algorithm::Sha256));
        assert_eq!(
            Algorithm::from_token(b"sha-512-256"),
            Some(Algorithm::Sha512_256)
        );
        assert_eq!(Algorithm::from_token(b"MD5-sess"), None);
        assert!(Algorithm::Sha512_256 > Algorithm::Sha256 && Algorithm::Sha256 > Algorithm::Md5);
    }
}
