//! MESSAGE-INTEGRITY (HMAC-SHA1 with short-term credentials, RFC 8489 §9.1) and FINGERPRINT (CRC-32, §14.7).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::attribute::{FINGERPRINT_XOR, INTEGRITY_LEN};
use super::header::HEADER_LEN;

/// A short-term credential key, keyed once and reused for every message it signs or checks.
///
/// RFC 8489 §9.1.1 makes the key the password after OpaqueString preparation; ICE passwords are drawn from
/// the `ice-char` set (ASCII letters, digits, `+`, `/`), on which that preparation changes nothing, so the
/// password bytes are used as they are.
#[derive(Clone)]
pub struct IntegrityKey {
    mac: Hmac<Sha1>,
}

impl IntegrityKey {
    /// The key for short-term credentials with this password (for ICE: the `ice-pwd` of the agent that
    /// receives the request).
    pub fn short_term(password: &str) -> IntegrityKey {
        // HMAC accepts keys of any length, so this never takes the fallback; it avoids a panic path.
        let mac = <Hmac<Sha1> as KeyInit>::new_from_slice(password.as_bytes())
            .unwrap_or_else(|_| <Hmac<Sha1> as KeyInit>::new(&Default::default()));
        IntegrityKey { mac }
    }

    /// The HMAC of `header` (with its length field already adjusted) followed by `body`.
    pub(crate) fn sign(&self, header: &[u8; HEADER_LEN], body: &[u8]) -> [u8; INTEGRITY_LEN] {
        let mut mac = self.mac.clone();
        mac.update(header);
        mac.update(body);
        let mut out = [0u8; INTEGRITY_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    /// Whether `tag` is the HMAC of `header` then `body`, compared in constant time.
    pub(crate) fn verify(&self, header: &[u8; HEADER_LEN], body: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(header);
        mac.update(body);
        mac.verify_slice(tag).is_ok()
    }
}

impl std::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("IntegrityKey(..)")
    }
}

/// The FINGERPRINT value of the message bytes that precede the attribute (header length already final).
pub(crate) fn fingerprint(covered: &[u8]) -> u32 {
    crc32fast::hash(covered) ^ FINGERPRINT_XOR
}

/// A copy of the first [`HEADER_LEN`] bytes of `message` with the length field set to `body_len`.
pub(crate) fn adjusted_header(message: &[u8], body_len: usize) -> Option<[u8; HEADER_LEN]> {
    let mut header = *message.first_chunk::<HEADER_LEN>()?;
    let len = u16::try_from(body_len).ok()?;
    header[2..4].copy_from_slice(&len.to_be_bytes());
    Some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_published_check_value() {
        assert_eq!(fingerprint(b"123456789") ^ FINGERPRINT_XOR, 0xCBF4_3926);
    }

    #[test]
    fn key_debug_output_hides_the_password() {
        let key = IntegrityKey::short_term("VOkJxbRl1RmTxUk/WvJxBt");
        assert!(!format!("{key:?}").contains("VOkJ"));
    }

    #[test]
    fn verify_accepts_its_own_signature_and_rejects_another_key() {
        let header = [7u8; HEADER_LEN];
        let key = IntegrityKey::short_term("password-one-1234567890");
        let tag = key.sign(&header, b"body");
        assert!(key.verify(&header, b"body", &tag));
        assert!(!key.verify(&header, b"bodx", &tag));
        let other = IntegrityKey::short_term("password-two-1234567890");
        assert!(!other.verify(&header, b"body", &tag));
    }
}
