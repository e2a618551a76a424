//! Session key derivation (RFC 3711 §4.3) with the AES-CM PRF and a key derivation rate of 0.

use super::SrtpProfile;
use super::provider::AesCmCipher;

/// HMAC-SHA1 session authentication key length (RFC 3711 §4.2.1: 160 bits).
const AUTH_KEY_LEN: usize = 20;

/// The labels of one direction's three session keys (RFC 3711 §4.3.1 and §4.3.2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Labels {
    encryption: u8,
    authentication: u8,
    salt: u8,
}

/// Labels of the SRTP session keys.
pub(crate) const SRTP_LABELS: Labels = Labels {
    encryption: 0x00,
    authentication: 0x01,
    salt: 0x02,
};
/// Labels of the SRTCP session keys.
pub(crate) const SRTCP_LABELS: Labels = Labels {
    encryption: 0x03,
    authentication: 0x04,
    salt: 0x05,
};

/// Session keys of one direction (SRTP or SRTCP). The authentication key is unused by AEAD.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    key: [u8; 32],
    key_len: usize,
    salt: [u8; 14],
    salt_len: usize,
    pub(crate) auth_key: [u8; AUTH_KEY_LEN],
}

impl SessionKeys {
    /// Derives the session keys of `labels` from the master salt, `prf` being AES-CM keyed with
    /// the master key.
    pub(crate) fn derive(
        prf: &dyn AesCmCipher,
        profile: SrtpProfile,
        master_salt: &[u8],
        labels: Labels,
    ) -> Self {
        let mut keys = SessionKeys {
            key: [0; 32],
            key_len: profile.master_key_len(),
            salt: [0; 14],
            salt_len: profile.master_salt_len(),
            auth_key: [0; AUTH_KEY_LEN],
        };
        prf_output(
            prf,
            master_salt,
            labels.encryption,
            &mut keys.key[..keys.key_len],
        );
        prf_output(
            prf,
            master_salt,
            labels.salt,
            &mut keys.salt[..keys.salt_len],
        );
        if !profile.is_aead() {
            prf_output(prf, master_salt, labels.authentication, &mut keys.auth_key);
        }
        keys
    }

    /// Session keys given as they are, for known-answer tests that start from session keys.
    #[cfg(test)]
    pub(crate) fn from_parts(key: &[u8], salt: &[u8], auth_key: &[u8; AUTH_KEY_LEN]) -> Self {
        let mut keys = SessionKeys {
            key: [0; 32],
            key_len: key.len(),
            salt: [0; 14],
            salt_len: salt.len(),
            auth_key: *auth_key,
        };
        keys.key[..key.len()].copy_from_slice(key);
        keys.salt[..salt.len()].copy_from_slice(salt);
        keys
    }

    pub(crate) fn key(&self) -> &[u8] {
        self.key.get(..self.key_len).unwrap_or_default()
    }

    pub(crate) fn salt(&self) -> &[u8] {
        self.salt.get(..self.salt_len).unwrap_or_default()
    }
}

/// PRF_n(k_master, x) of §4.3.1 with `r = index DIV kdr = 0`: `x` is the master salt, left
/// aligned in 112 bits (the 96-bit AEAD salt is padded with zeros, as libsrtp and RFC 7714 §11
/// implementations do) XOR the label in bits 48..56, and the PRF is the AES-CM keystream
/// starting at `x * 2^16`.
fn prf_output(prf: &dyn AesCmCipher, master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    for (byte, salt) in iv.iter_mut().zip(master_salt.iter().take(14)) {
        *byte = *salt;
    }
    iv[7] ^= label;
    out.fill(0);
    prf.apply_keystream(&iv, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::provider::{CryptoProvider, RustCryptoProvider};
    use crate::srtp::test_vectors::hex;

    /// RFC 3711 Appendix B.3.
    const MASTER_KEY: &str = "E1F97A0D3E018BE0D64FA32C06DE4139";
    const MASTER_SALT: &str = "0EC675AD498AFEEBB6960B3AABE6";

    #[test]
    fn derives_the_rfc_3711_appendix_b3_session_keys() {
        let prf = RustCryptoProvider.aes_cm(&hex(MASTER_KEY)).unwrap();
        let keys = SessionKeys::derive(
            &*prf,
            SrtpProfile::Aes128CmHmacSha1_80,
            &hex(MASTER_SALT),
            SRTP_LABELS,
        );
        assert_eq!(keys.key(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        assert_eq!(keys.salt(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        assert_eq!(
            keys.auth_key[..],
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
    }

    /// B.3 lists 94 bytes of authentication PRF output: this checks the counter runs on.
    #[test]
    fn prf_output_continues_over_many_blocks_as_in_appendix_b3() {
        let prf = RustCryptoProvider.aes_cm(&hex(MASTER_KEY)).unwrap();
        let mut out = [0u8; 94];
        prf_output(
            &*prf,
            &hex(MASTER_SALT),
            SRTP_LABELS.authentication,
            &mut out,
        );
        assert_eq!(
            out[..],
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE\
                 E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25\
                 6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    #[test]
    fn srtcp_keys_differ_from_srtp_keys() {
        let prf = RustCryptoProvider.aes_cm(&hex(MASTER_KEY)).unwrap();
        let profile = SrtpProfile::Aes128CmHmacSha1_80;
        let rtp = SessionKeys::derive(&*prf, profile, &hex(MASTER_SALT), SRTP_LABELS);
        let rtcp = SessionKeys::derive(&*prf, profile, &hex(MASTER_SALT), SRTCP_LABELS);
        assert_ne!(rtp.key(), rtcp.key());
        assert_ne!(rtp.salt(), rtcp.salt());
        assert_ne!(rtp.auth_key, rtcp.auth_key);
    }
}
