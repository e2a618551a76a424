//! The crypto behind SRTP, as a small provider trait with pluggable backends.
//!
//! A [`CryptoProvider`] builds keyed primitives once per context; the per-packet path then only
//! calls [`AesCmCipher::apply_keystream`], [`HmacSha1::sign`] and [`AesGcmCipher`] on state that
//! was precomputed at construction (expanded AES round keys, HMAC inner and outer pad states),
//! without allocating.
//!
//! Backends:
//! - [`RustCryptoProvider`]: pure Rust (`aes`, `sha1`, `aes-gcm`) where the CPU lacks the
//!   instructions below.
//! - `RingProvider` (feature `ring`, on by default): AES-GCM from `ring`'s assembly where the CPU
//!   lacks them; AES-CM and HMAC-SHA1 as in [`RustCryptoProvider`] (`ring` has no raw counter
//!   mode and its SHA-1 is slower than `sha1` with SHA-NI).
//!
//! On x86-64 CPUs with AES-NI, PCLMULQDQ, SSSE3 and SSE4.1 (detected at run time), both run
//! AES-GCM in this crate's one-pass counter mode + aggregated GHASH, which on a 172-byte packet
//! is faster than either library's per-call path.
//!
//! Both take the trait's default AES-CM keystream (on x86-64 with VAES and AVX2 two counter
//! blocks per instruction, eight in flight; with AES-NI only, eight blocks interleaved through the
//! AES instructions; elsewhere the `aes` crate in batches) and HMAC-SHA1, which runs RFC 2104 from precomputed pad states on this crate's SHA-NI
//! compression (x86-64 with the SHA extensions) or else on the `sha1` compression function. `docs/media-hot-path.md` in the repository gives the measurements
//! behind these choices.

mod aes_cm;
// The crate's only `unsafe`: AES-NI intrinsics, used once the CPU feature is detected.
#[allow(unsafe_code)]
#[cfg(target_arch = "x86_64")]
mod aes_ni;
// AES-GCM on AES-NI and PCLMULQDQ (`unsafe` intrinsics), used once the CPU features are detected.
#[allow(unsafe_code)]
#[cfg(target_arch = "x86_64")]
mod gcm_ni;
mod hmac_sha1;
// HMAC-SHA1 on the SHA extensions (`unsafe` intrinsics), used once the CPU features are detected.
#[cfg(feature = "ring")]
mod ring;
mod rust_crypto;
#[allow(unsafe_code)]
#[cfg(target_arch = "x86_64")]
mod sha_ni;
// AES counter mode on VAES + AVX2 (`unsafe` intrinsics), used once the CPU features are detected.
#[allow(unsafe_code)]
#[cfg(target_arch = "x86_64")]
mod vaes256;

use core::fmt;

use self::aes_cm::AesCm;
use self::hmac_sha1::PrecomputedHmac;
use super::SrtpError;

#[cfg(feature = "ring")]
pub use self::ring::RingProvider;
pub use self::rust_crypto::RustCryptoProvider;

/// Builds the keyed primitives an SRTP context needs. Called only when a context is created.
///
/// [`aes_cm`](Self::aes_cm) and [`hmac_sha1`](Self::hmac_sha1) default to this crate's own AES
/// counter mode and HMAC-SHA1 (described in the [module documentation](self)), which both built-in
/// providers use; a provider only has to supply AES-GCM.
pub trait CryptoProvider: fmt::Debug + Send + Sync {
    /// AES in counter mode (RFC 3711 §4.1.1) under a 16- or 32-byte key.
    fn aes_cm(&self, key: &[u8]) -> Result<Box<dyn AesCmCipher>, SrtpError> {
        Ok(Box::new(AesCm::new(key)?))
    }
    /// HMAC-SHA1 (RFC 2104) under `key`, with its pad states precomputed.
    fn hmac_sha1(&self, key: &[u8]) -> Result<Box<dyn HmacSha1>, SrtpError> {
        Ok(Box::new(PrecomputedHmac::new(key)))
    }
    /// AES-GCM with a 96-bit nonce and a 128-bit tag (RFC 7714) under a 16- or 32-byte key.
    fn aes_gcm(&self, key: &[u8]) -> Result<Box<dyn AesGcmCipher>, SrtpError>;
}

/// A keyed AES counter-mode keystream.
pub trait AesCmCipher: Send + Sync {
    /// XORs into `data` the keystream whose first counter block is `iv`; the counter is the whole
    /// block as a 128-bit big-endian integer, incremented by one per block.
    fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]);
}

/// A keyed HMAC-SHA1.
pub trait HmacSha1: Send + Sync {
    /// The 20-byte HMAC of `message` followed by `suffix` (SRTP appends the rollover counter).
    fn sign(&self, message: &[u8], suffix: &[u8]) -> [u8; 20];
}

/// A keyed AES-GCM AEAD.
pub trait AesGcmCipher: Send + Sync {
    /// Encrypts `data` in place and returns the tag over `aad` and the ciphertext.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Result<[u8; 16], SrtpError>;
    /// Checks `tag` and decrypts `data` in place; [`SrtpError::AuthenticationFailed`] on mismatch.
    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), SrtpError>;
}

/// AES-GCM on AES-NI and PCLMULQDQ when the CPU has them (x86-64), else `None`.
fn native_gcm(key: &[u8]) -> Option<Box<dyn AesGcmCipher>> {
    #[cfg(target_arch = "x86_64")]
    if let Some(gcm) = gcm_ni::AesNiGcm::new(key) {
        return Some(Box::new(gcm));
    }
    let _ = key;
    None
}

/// Test-only providers that skip the CPU-specific code: every primitive from RustCrypto
/// (`Portable`) or AES-GCM from `ring` (`RingGcm`), so the fallbacks are tested on any machine.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) enum FallbackProvider {
    Portable,
    #[cfg(feature = "ring")]
    RingGcm,
}

#[cfg(test)]
impl CryptoProvider for FallbackProvider {
    fn aes_cm(&self, key: &[u8]) -> Result<Box<dyn AesCmCipher>, SrtpError> {
        Ok(Box::new(AesCm::portable(key)?))
    }
    fn aes_gcm(&self, key: &[u8]) -> Result<Box<dyn AesGcmCipher>, SrtpError> {
        match self {
            FallbackProvider::Portable => rust_crypto::rust_crypto_gcm(key),
            #[cfg(feature = "ring")]
            FallbackProvider::RingGcm => ring::ring_gcm(key),
        }
    }
}

/// The provider contexts use unless told otherwise: `RingProvider` with the `ring` feature,
/// else [`RustCryptoProvider`].
pub fn default_provider() -> &'static dyn CryptoProvider {
    #[cfg(feature = "ring")]
    {
        &RingProvider
    }
    #[cfg(not(feature = "ring"))]
    {
        &RustCryptoProvider
    }
}
