//! SRTP protection profiles (crypto suites): RFC 3711 AES-CM with HMAC-SHA1 and RFC 7714 AES-GCM.

/// An SRTP protection profile: cipher, key and salt lengths, authentication tag lengths.
///
/// Names follow RFC 4568 (SDES `a=crypto`) and RFC 7714; [`SrtpProfile::dtls_id`] gives the
/// RFC 5764 / RFC 7714 DTLS-SRTP protection profile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpProfile {
    /// `AES_CM_128_HMAC_SHA1_80`: AES-128 counter mode, 80-bit HMAC-SHA1 tag (RFC 3711).
    Aes128CmHmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: as above with a 32-bit SRTP tag; SRTCP keeps 80 bits (RFC 4568 §6.2.1).
    Aes128CmHmacSha1_32,
    /// `AEAD_AES_128_GCM`: AES-128-GCM with a 128-bit tag (RFC 7714).
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM`: AES-256-GCM with a 128-bit tag (RFC 7714).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Every profile, in DTLS-SRTP preference order of this crate (AEAD first).
    pub const ALL: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
    ];

    /// Length in bytes of the master key (and of the session encryption key).
    pub const fn master_key_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Length in bytes of the master salt (and of the session salt): 14 for AES-CM, 12 for GCM.
    pub const fn master_salt_len(self) -> usize {
        if self.is_aead() { 12 } else { 14 }
    }

    /// Bytes `protect_rtp` appends to an RTP packet (the authentication tag).
    pub const fn rtp_overhead(self) -> usize {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => 10,
            SrtpProfile::Aes128CmHmacSha1_32 => 4,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 16,
        }
    }

    /// Bytes `protect_rtcp` appends to an RTCP packet (E flag and SRTCP index, then the tag).
    pub const fn rtcp_overhead(self) -> usize {
        SRTCP_INDEX_LEN + self.rtcp_tag_len()
    }

    /// The SRTCP authentication tag length: 80 bits for both AES-CM profiles, 128 for GCM.
    pub(crate) const fn rtcp_tag_len(self) -> usize {
        if self.is_aead() { 16 } else { 10 }
    }

    /// Whether this is an RFC 7714 AEAD profile.
    pub(crate) const fn is_aead(self) -> bool {
        matches!(
            self,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm
        )
    }

    /// The DTLS-SRTP protection profile number (RFC 5764 §4.1.2, RFC 7714 §14.2).
    pub const fn dtls_id(self) -> u16 {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => 0x0001,
            SrtpProfile::Aes128CmHmacSha1_32 => 0x0002,
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile for a DTLS-SRTP protection profile number, if supported.
    pub fn from_dtls_id(id: u16) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|profile| profile.dtls_id() == id)
    }

    /// The SDES crypto-suite name (RFC 4568 §6.2, RFC 7714 §14.1).
    pub const fn sdes_name(self) -> &'static str {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The profile for an SDES crypto-suite name (exact, case-sensitive as in RFC 4568), if supported.
    pub fn from_sdes_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|profile| profile.sdes_name() == name)
    }
}

/// Length of the SRTCP trailer word carrying the E flag and the 31-bit SRTCP index.
pub(crate) const SRTCP_INDEX_LEN: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtls_ids_round_trip_and_unknown_ids_are_refused() {
        for profile in SrtpProfile::ALL {
            assert_eq!(SrtpProfile::from_dtls_id(profile.dtls_id()), Some(profile));
        }
        assert_eq!(SrtpProfile::from_dtls_id(0x0005), None);
    }

    #[test]
    fn sdes_names_round_trip_and_are_case_sensitive() {
        for profile in SrtpProfile::ALL {
            assert_eq!(
                SrtpProfile::from_sdes_name(profile.sdes_name()),
                Some(profile)
            );
        }
        assert_eq!(SrtpProfile::from_sdes_name("aes_cm_128_hmac_sha1_80"), None);
    }

    #[test]
    fn srtcp_keeps_an_80_bit_tag_under_the_32_bit_profile() {
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_32.rtp_overhead(), 4);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_32.rtcp_overhead(), 14);
        assert_eq!(SrtpProfile::AeadAes256Gcm.rtcp_overhead(), 20);
    }
}
