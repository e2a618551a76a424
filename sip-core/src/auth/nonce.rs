//! Stateless server nonces: the issue time and a random salt, signed with HMAC-SHA256 over the realm, so
//! that any server holding the secret can check a nonce and its age without remembering it (RFC 7616 §5.4).
//!
//! `nonce = base64url(time ‖ salt ‖ HMAC-SHA256(secret, time ‖ salt ‖ realm)[..16])`, time being the issue
//! time in seconds since the Unix epoch (8 bytes big-endian) and the salt 8 random bytes.

use crate::random;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TIME_LEN: usize = 8;
const SALT_LEN: usize = 8;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = TIME_LEN + SALT_LEN + TAG_LEN;

/// A nonce issued up to this far in the future still passes: servers sharing a secret may disagree a little
/// on the time.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// What a nonce is worth at check time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceStatus {
    /// Issued by a holder of the secret for this realm, and young enough.
    Fresh,
    /// Issued by a holder of the secret for this realm, but older than the lifetime: answer `stale=true`.
    Expired,
    /// Not one of ours: forged, tampered with, for another realm, or malformed.
    Invalid,
}

/// The HMAC key signing and checking nonces.
#[derive(Clone)]
pub(crate) struct NonceKey {
    mac: Hmac<Sha256>,
}

impl NonceKey {
    pub(crate) fn new(secret: &[u8]) -> NonceKey {
        // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        NonceKey { mac }
    }

    /// A fresh nonce for `realm`, issued at `now`.
    pub(crate) fn issue(&self, realm: &[u8], now: SystemTime) -> String {
        let mut raw = [0u8; NONCE_LEN];
        let (head, tag) = raw.split_at_mut(TIME_LEN + SALT_LEN);
        let (time, salt) = head.split_at_mut(TIME_LEN);
        time.copy_from_slice(&unix_seconds(now).to_be_bytes());
        random::fill(salt);
        let full = self.sign(head, realm);
        tag.copy_from_slice(full.get(..TAG_LEN).unwrap_or_default());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Check `nonce` for `realm` at `now` against `lifetime`; the signature is compared in constant time.
    pub(crate) fn check(
        &self,
        nonce: &[u8],
        realm: &[u8],
        now: SystemTime,
        lifetime: Duration,
    ) -> NonceStatus {
        let mut raw = [0u8; NONCE_LEN];
        match URL_SAFE_NO_PAD.decode_slice(nonce, &mut raw) {
            Ok(NONCE_LEN) => {}
            _ => return NonceStatus::Invalid,
        }
        let (head, tag) = raw.split_at(TIME_LEN + SALT_LEN);
        let mut mac = self.mac.clone();
        mac.update(head);
        mac.update(realm);
        if mac.verify_truncated_left(tag).is_err() {
            return NonceStatus::Invalid;
        }
        let mut time = [0u8; TIME_LEN];
        time.copy_from_slice(head.get(..TIME_LEN).unwrap_or(&[0; TIME_LEN]));
        let issued = u64::from_be_bytes(time);
        let now = unix_seconds(now);
        if issued > now.saturating_add(CLOCK_SKEW.as_secs()) {
            return NonceStatus::Invalid;
        }
        if now.saturating_sub(issued) > lifetime.as_secs() {
            return NonceStatus::Expired;
        }
        NonceStatus::Fresh
    }

    /// An opaque value for `realm`: derived from the secret so that every server sharing it sends the same.
    pub(crate) fn opaque(&self, realm: &[u8]) -> String {
        let full = self.sign(b"opaque", realm);
        URL_SAFE_NO_PAD.encode(full.get(..12).unwrap_or_default())
    }

    fn sign(&self, data: &[u8], realm: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.update(realm);
        let mut out = [0u8; 32];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIME: Duration = Duration::from_secs(300);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn fresh_nonce_checks_until_its_lifetime_ends() {
        let key = NonceKey::new(b"secret");
        let nonce = key.issue(b"example.com", at(1_000_000));
        let n = nonce.as_bytes();
        assert_eq!(
            key.check(n, b"example.com", at(1_000_000), LIFETIME),
            NonceStatus::Fresh
        );
        assert_eq!(
            key.check(n, b"example.com", at(1_000_300), LIFETIME),
            NonceStatus::Fresh
        );
        assert_eq!(
            key.check(n, b"example.com", at(1_000_301), LIFETIME),
            NonceStatus::Expired
        );
    }

    #[test]
    fn nonces_are_unique_even_within_one_second() {
        let key = NonceKey::new(b"secret");
        assert_ne!(key.issue(b"r", at(5)), key.issue(b"r", at(5)));
    }

    #[test]
    fn foreign_tampered_and_future_nonces_are_invalid() {
        let key = NonceKey::new(b"secret");
        let nonce = key.issue(b"example.com", at(1_000_000));
        let now = at(1_000_010);
        let other = NonceKey::new(b"other secret");
        assert_eq!(
            other.check(nonce.as_bytes(), b"example.com", now, LIFETIME),
            NonceStatus::Invalid
        );
        assert_eq!(
            key.check(nonce.as_bytes(), b"example.org", now, LIFETIME),
            NonceStatus::Invalid
        );
        // Move the issue time forward by one second: the signature no longer matches.
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        raw[7] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            key.check(tampered.as_bytes(), b"example.com", now, LIFETIME),
            NonceStatus::Invalid
        );
        let future = key.issue(b"example.com", at(2_000_000));
        assert_eq!(
            key.check(future.as_bytes(), b"example.com", now, LIFETIME),
            NonceStatus::Invalid
        );
        for junk in [
            &b""[..],
            b"!!!",
            b"AAAA",
            nonce.as_bytes().get(..20).unwrap(),
        ] {
            assert_eq!(
                key.check(junk, b"example.com", now, LIFETIME),
                NonceStatus::Invalid
            );
        }
    }

    #[test]
    fn opaque_depends_on_secret_and_realm_only() {
        let key = NonceKey::new(b"secret");
        assert_eq!(key.opaque(b"r"), NonceKey::new(b"secret").opaque(b"r"));
        assert_ne!(key.opaque(b"r"), key.opaque(b"s"));
        assert_ne!(key.opaque(b"r"), NonceKey::new(b"x").opaque(b"r"));
    }
}
