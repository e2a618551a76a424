//! The SRTP master keys exported by a DTLS-SRTP handshake (RFC 5764 §4.2), split by direction.

use core::fmt;

use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};

use super::{DtlsError, DtlsRole};

/// Longest keying material of a supported profile: two AES-256 keys and two 12-byte salts.
const MAX_MATERIAL_LEN: usize = 2 * 32 + 2 * 14;

/// SRTP master keys and salts for both directions, from the `EXTRACTOR-dtls_srtp` exporter.
///
/// RFC 5764 §4.2 lays the exported bytes out as `client_write_key | server_write_key |
/// client_write_salt | server_write_salt`; "local" here is the half this endpoint writes with
/// (the client's if it was the DTLS client), "remote" the half the peer writes with. Protect
/// what you send with [`outbound_context`](Self::outbound_context) and unprotect what you
/// receive with [`inbound_context`](Self::inbound_context).
///
/// `Debug` does not print the keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    profile: SrtpProfile,
    role: DtlsRole,
    material: [u8; MAX_MATERIAL_LEN],
}

impl SrtpKeys {
    /// Splits exported keying material for `profile`; `role` is this endpoint's DTLS role.
    pub(crate) fn from_exported(
        profile: SrtpProfile,
        role: DtlsRole,
        exported: &[u8],
    ) -> Option<Self> {
        let len = 2 * (profile.master_key_len() + profile.master_salt_len());
        if exported.len() != len {
            return None;
        }
        let mut material = [0; MAX_MATERIAL_LEN];
        material.get_mut(..len)?.copy_from_slice(exported);
        Some(SrtpKeys {
            profile,
            role,
            material,
        })
    }

    /// The negotiated protection profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// The default policy of the profile, to adjust (replay window, stream limit) and pass to
    /// [`outbound_context`](Self::outbound_context) / [`inbound_context`](Self::inbound_context).
    pub fn policy(&self) -> SrtpPolicy {
        SrtpPolicy::new(self.profile)
    }

    /// The DTLS role this endpoint had, which decides which half is "local".
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// The master key this endpoint protects with.
    pub fn local_master_key(&self) -> &[u8] {
        self.key(self.role)
    }

    /// The master salt this endpoint protects with.
    pub fn local_master_salt(&self) -> &[u8] {
        self.salt(self.role)
    }

    /// The master key the peer protects with.
    pub fn remote_master_key(&self) -> &[u8] {
        self.key(peer(self.role))
    }

    /// The master salt the peer protects with.
    pub fn remote_master_salt(&self) -> &[u8] {
        self.salt(peer(self.role))
    }

    /// The context to protect outgoing SRTP/SRTCP with.
    pub fn outbound_context(&self, policy: &SrtpPolicy) -> Result<SrtpContext, DtlsError> {
        self.check_policy(policy)?;
        let context = SrtpContext::new(policy, self.local_master_key(), self.local_master_salt())?;
        Ok(context)
    }

    /// The context to unprotect incoming SRTP/SRTCP with.
    pub fn inbound_context(&self, policy: &SrtpPolicy) -> Result<SrtpContext, DtlsError> {
        self.check_policy(policy)?;
        let context =
            SrtpContext::new(policy, self.remote_master_key(), self.remote_master_salt())?;
        Ok(context)
    }

    fn check_policy(&self, policy: &SrtpPolicy) -> Result<(), DtlsError> {
        if policy.profile() == self.profile {
            return Ok(());
        }
        Err(DtlsError::PolicyProfile {
            negotiated: self.profile,
            policy: policy.profile(),
        })
    }

    /// The write key of `writer`. In range: `from_exported` checked the total length.
    fn key(&self, writer: DtlsRole) -> &[u8] {
        let key_len = self.profile.master_key_len();
        let start = match writer {
            DtlsRole::Client => 0,
            DtlsRole::Server => key_len,
        };
        self.material
            .get(start..start + key_len)
            .unwrap_or_default()
    }

    /// The write salt of `writer`.
    fn salt(&self, writer: DtlsRole) -> &[u8] {
        let keys_len = 2 * self.profile.master_key_len();
        let salt_len = self.profile.master_salt_len();
        let start = match writer {
            DtlsRole::Client => keys_len,
            DtlsRole::Server => keys_len + salt_len,
        };
        self.material
            .get(start..start + salt_len)
            .unwrap_or_default()
    }
}

fn peer(role: DtlsRole) -> DtlsRole {
    match role {
        DtlsRole::Client => DtlsRole::Server,
        DtlsRole::Server => DtlsRole::Client,
    }
}

impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("profile", &self.profile)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exported material where every byte says which field it belongs to.
    fn labelled(profile: SrtpProfile) -> Vec<u8> {
        let (k, s) = (profile.master_key_len(), profile.master_salt_len());
        [(0xC1, k), (0x51, k), (0xC5, s), (0x55, s)]
            .into_iter()
            .flat_map(|(byte, n)| core::iter::repeat_n(byte, n))
            .collect()
    }

    #[test]
    fn splits_client_and_server_halves_per_rfc_5764() {
        for profile in [
            SrtpProfile::Aes128CmHmacSha1_80,
            SrtpProfile::AeadAes128Gcm,
            SrtpProfile::AeadAes256Gcm,
        ] {
            let material = labelled(profile);
            let client = SrtpKeys::from_exported(profile, DtlsRole::Client, &material).unwrap();
            let server = SrtpKeys::from_exported(profile, DtlsRole::Server, &material).unwrap();
            assert_eq!(
                client.local_master_key(),
                vec![0xC1; profile.master_key_len()]
            );
            assert_eq!(
                client.local_master_salt(),
                vec![0xC5; profile.master_salt_len()]
            );
            assert_eq!(
                client.remote_master_key(),
                vec![0x51; profile.master_key_len()]
            );
            assert_eq!(
                client.remote_master_salt(),
                vec![0x55; profile.master_salt_len()]
            );
            assert_eq!(client.local_master_key(), server.remote_master_key());
            assert_eq!(client.local_master_salt(), server.remote_master_salt());
        }
    }

    #[test]
    fn refuses_material_of_the_wrong_length() {
        let profile = SrtpProfile::AeadAes128Gcm;
        let mut material = labelled(profile);
        material.push(0);
        assert!(SrtpKeys::from_exported(profile, DtlsRole::Client, &material).is_none());
        assert!(SrtpKeys::from_exported(profile, DtlsRole::Client, &[]).is_none());
    }

    #[test]
    fn refuses_a_policy_for_another_profile() {
        let profile = SrtpProfile::Aes128CmHmacSha1_80;
        let keys = SrtpKeys::from_exported(profile, DtlsRole::Client, &labelled(profile)).unwrap();
        let wrong = SrtpPolicy::new(SrtpProfile::Aes128CmHmacSha1_32);
        assert!(matches!(
            keys.outbound_context(&wrong),
            Err(DtlsError::PolicyProfile { .. })
        ));
        assert!(keys.inbound_context(&keys.policy()).is_ok());
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let profile = SrtpProfile::AeadAes128Gcm;
        let keys = SrtpKeys::from_exported(profile, DtlsRole::Server, &labelled(profile)).unwrap();
        let debug = format!("{keys:?}");
        assert!(!debug.contains("193") && !debug.contains("C1") && !debug.contains("c1"));
    }
}
