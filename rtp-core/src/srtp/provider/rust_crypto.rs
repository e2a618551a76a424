//! The pure-Rust provider: AES-GCM from RustCrypto `aes-gcm`.

use super::{AesGcmCipher, CryptoProvider};
use crate::srtp::SrtpError;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};

/// Pure-Rust crypto: AES-GCM from RustCrypto `aes-gcm` on CPUs without AES-NI and PCLMULQDQ
/// (which take this crate's one-pass AES-GCM instead); AES-CM and HMAC-SHA1 are the
/// [`CryptoProvider`] defaults (AES-NI counter mode with the `aes` crate as fallback, HMAC on the
/// `sha1` compression function, which uses SHA-NI when present).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoProvider;

impl CryptoProvider for RustCryptoProvider {
    fn aes_gcm(&self, key: &[u8]) -> Result<Box<dyn AesGcmCipher>, SrtpError> {
        match super::native_gcm(key) {
            Some(gcm) => Ok(gcm),
            None => rust_crypto_gcm(key),
        }
    }
}

/// RustCrypto's AES-GCM, whatever the CPU.
pub(crate) fn rust_crypto_gcm(key: &[u8]) -> Result<Box<dyn AesGcmCipher>, SrtpError> {
    {
        let cipher = match key.len() {
            16 => Aes128Gcm::new_from_slice(key).map(RustCryptoGcm::Aes128),
            32 => Aes256Gcm::new_from_slice(key).map(RustCryptoGcm::Aes256),
            _ => return Err(SrtpError::Crypto("AES-GCM key must be 16 or 32 bytes")),
        };
        let cipher = cipher.map_err(|_| SrtpError::Crypto("AES-GCM key must be 16 or 32 bytes"))?;
        Ok(Box::new(cipher))
    }
}

enum RustCryptoGcm {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

impl AesGcmCipher for RustCryptoGcm {
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Result<[u8; 16], SrtpError> {
        let nonce = (*nonce).into();
        let tag = match self {
            RustCryptoGcm::Aes128(cipher) => {
                cipher.encrypt_inout_detached(&nonce, aad, data.into())
            }
            RustCryptoGcm::Aes256(cipher) => {
                cipher.encrypt_inout_detached(&nonce, aad, data.into())
            }
        };
        tag.map(Into::into)
            .map_err(|_| SrtpError::Crypto("AES-GCM input too long"))
    }

    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), SrtpError> {
        let nonce = (*nonce).into();
        let tag = (*tag).into();
        let opened = match self {
            RustCryptoGcm::Aes128(cipher) => {
                cipher.decrypt_inout_detached(&nonce, aad, data.into(), &tag)
            }
            RustCryptoGcm::Aes256(cipher) => {
                cipher.decrypt_inout_detached(&nonce, aad, data.into(), &tag)
            }
        };
        opened.map_err(|_| SrtpError::AuthenticationFailed)
    }
}
