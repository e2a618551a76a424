//! The `ring` provider: AES-GCM from `ring`'s assembly.

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

use super::{AesGcmCipher, CryptoProvider};
use crate::srtp::SrtpError;

/// AES-GCM from `ring` (about twice as fast as `aes-gcm`) on CPUs without AES-NI and PCLMULQDQ,
/// which take this crate's one-pass AES-GCM instead;
/// AES-CM and HMAC-SHA1 are the [`CryptoProvider`] defaults, as in
/// [`RustCryptoProvider`](super::RustCryptoProvider), since `ring` exposes no raw counter mode and
/// its SHA-1 does not use SHA-NI.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingProvider;

impl CryptoProvider for RingProvider {
    fn aes_gcm(&self, key: &[u8]) -> Result<Box<dyn AesGcmCipher>, SrtpError> {
        match super::native_gcm(key) {
            Some(gcm) => Ok(gcm),
            None => ring_gcm(key),
        }
    }
}

/// `ring`'s AES-GCM, whatever the CPU.
pub(crate) fn ring_gcm(key: &[u8]) -> Result<Box<dyn AesGcmCipher>, SrtpError> {
    {
        let algorithm = match key.len() {
            16 => &AES_128_GCM,
            32 => &AES_256_GCM,
            _ => return Err(SrtpError::Crypto("AES-GCM key must be 16 or 32 bytes")),
        };
        let key = UnboundKey::new(algorithm, key)
            .map_err(|_| SrtpError::Crypto("ring rejected the AES-GCM key"))?;
        Ok(Box::new(RingGcm(LessSafeKey::new(key))))
    }
}

/// `LessSafeKey` because SRTP builds its nonces itself (RFC 7714 §8.1) from SSRC and index,
/// which the replay and rollover logic keep unique.
struct RingGcm(LessSafeKey);

impl AesGcmCipher for RingGcm {
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Result<[u8; 16], SrtpError> {
        let nonce = Nonce::assume_unique_for_key(*nonce);
        let tag = self
            .0
            .seal_in_place_separate_tag(nonce, Aad::from(aad), data)
            .map_err(|_| SrtpError::Crypto("AES-GCM input too long"))?;
        tag.as_ref()
            .try_into()
            .map_err(|_| SrtpError::Crypto("AES-GCM tag is not 16 bytes"))
    }

    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), SrtpError> {
        let nonce = Nonce::assume_unique_for_key(*nonce);
        self.0
            .open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(*tag), data, 0..)
            .map(|_| ())
            .map_err(|_| SrtpError::AuthenticationFailed)
    }
}
