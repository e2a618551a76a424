//! AES-GCM (NIST SP 800-38D, 96-bit nonce, 128-bit tag) on the x86-64 AES and carry-less
//! multiply instructions, for the RFC 7714 profiles.
//!
//! Why not `ring` or `aes-gcm`: on a 172-byte SRTP packet (AAD = the 12-byte header, 160 bytes of
//! payload) their per-call work (`ring` selects its stitched assembly only from 288 bytes on,
//! `aes-gcm` goes through the `aes` crate's wide backend described in `aes_ni`) dominates. Here the
//! payload runs through `aes_ni`'s eight-block counter mode, the tag's counter block is one more
//! AES, and GHASH folds four blocks per reduction with the precomputed powers H, H², H³, H⁴
//! (twelve blocks for such a packet: three reductions).
//!
//! GHASH follows Gueron and Kounavis, "Intel Carry-Less Multiplication Instruction and its Usage
//! for Computing the GCM Mode" (2014), §4–5: blocks are byte-reversed so that GCM's reflected bit
//! order becomes PCLMULQDQ's, a product is four carry-less multiplies, the 256-bit sum is shifted
//! left by one bit and reduced modulo x¹²⁸ + x⁷ + x² + x + 1 with shifts. Reducing a sum of
//! products once is the aggregated reduction of §5.
//!
//! Every `unsafe` here is a call into a `#[target_feature]` function, made only through an
//! [`AesNiGcm`] (which exists only once AES-NI, PCLMULQDQ, SSSE3 and SSE4.1 were detected), or an
//! unaligned 16-byte load/store on a 16-byte array.

use core::arch::x86_64::{
    __m128i, _mm_clmulepi64_si128, _mm_loadu_si128, _mm_or_si128, _mm_set_epi8, _mm_setzero_si128,
    _mm_shuffle_epi8, _mm_slli_epi32, _mm_slli_si128, _mm_srli_epi32, _mm_srli_si128,
    _mm_storeu_si128, _mm_xor_si128,
};

use subtle::ConstantTimeEq;

use super::AesGcmCipher;
use super::aes_ni::AesNiKey;
use crate::srtp::SrtpError;

const BLOCK: usize = 16;
/// Largest plaintext GCM allows (2³⁹ − 256 bits): the 32-bit counter then never wraps.
const MAX_DATA_LEN: u64 = (1 << 36) - 32;

/// AES-GCM keyed for AES-128 or AES-256 with GHASH's key powers precomputed.
pub(crate) struct AesNiGcm {
    key: AesNiKey,
    /// H, H², H³, H⁴ in byte-reversed order.
    powers: [__m128i; 4],
}

impl AesNiGcm {
    /// Keys AES-GCM with `key` (16 or 32 bytes), or `None` when the CPU lacks one of the
    /// instructions or the length is wrong.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        if !(std::arch::is_x86_feature_detected!("pclmulqdq")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1"))
        {
            return None;
        }
        // `AesNiKey::new` checks AES-NI itself.
        let key = AesNiKey::new(key)?;
        let hash_key = key.encrypt_block([0; BLOCK]);
        // SAFETY: PCLMULQDQ, SSSE3 and SSE4.1 were detected above.
        let powers = unsafe { key_powers(&hash_key) };
        Some(AesNiGcm { key, powers })
    }

    fn counter_block(nonce: &[u8; 12], counter: u32) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        let (head, tail) = block.split_at_mut(12);
        head.copy_from_slice(nonce);
        tail.copy_from_slice(&counter.to_be_bytes());
        block
    }

    /// The tag before masking with E(K, J0): GHASH over `aad` and `ciphertext`.
    fn ghash(&self, aad: &[u8], ciphertext: &[u8]) -> [u8; BLOCK] {
        // SAFETY: an `AesNiGcm` exists only once PCLMULQDQ, SSSE3 and SSE4.1 were detected.
        unsafe { ghash(&self.powers, aad, ciphertext) }
    }

    fn tag(&self, nonce: &[u8; 12], aad: &[u8], ciphertext: &[u8]) -> [u8; BLOCK] {
        let mask = self.key.encrypt_block(Self::counter_block(nonce, 1));
        let mut tag = self.ghash(aad, ciphertext);
        for (byte, mask) in tag.iter_mut().zip(mask) {
            *byte ^= mask;
        }
        tag
    }
}

impl AesGcmCipher for AesNiGcm {
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Result<[u8; 16], SrtpError> {
        if data.len() as u64 > MAX_DATA_LEN {
            return Err(SrtpError::Crypto("AES-GCM input too long"));
        }
        // The length limit keeps the 32-bit counter from wrapping, so the 128-bit counter of
        // `apply_keystream` is GCM's inc32 here.
        self.key
            .apply_keystream(&Self::counter_block(nonce, 2), data);
        Ok(self.tag(nonce, aad, data))
    }

    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), SrtpError> {
        if data.len() as u64 > MAX_DATA_LEN {
            return Err(SrtpError::AuthenticationFailed);
        }
        // Authenticate first: nothing is decrypted unless the tag matches.
        if !bool::from(self.tag(nonce, aad, data).ct_eq(tag)) {
            return Err(SrtpError::AuthenticationFailed);
        }
        self.key
            .apply_keystream(&Self::counter_block(nonce, 2), data);
        Ok(())
    }
}

/// Reverses the bytes of a block (GCM's bit order to PCLMULQDQ's and back).
#[inline]
#[target_feature(enable = "ssse3")]
fn reverse(block: __m128i) -> __m128i {
    _mm_shuffle_epi8(
        block,
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    )
}

#[inline]
fn load(bytes: &[u8; BLOCK]) -> __m128i {
    // SAFETY: `bytes` is 16 readable bytes and `loadu` has no alignment requirement; SSE2 is
    // part of the x86-64 baseline.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

/// The 256-bit carry-less product of `a` and `b` as (low, high) halves.
#[inline]
#[target_feature(enable = "pclmulqdq")]
fn multiply(a: __m128i, b: __m128i) -> (__m128i, __m128i) {
    let low = _mm_clmulepi64_si128::<0x00>(a, b);
    let middle = _mm_xor_si128(
        _mm_clmulepi64_si128::<0x10>(a, b),
        _mm_clmulepi64_si128::<0x01>(a, b),
    );
    let high = _mm_clmulepi64_si128::<0x11>(a, b);
    (
        _mm_xor_si128(low, _mm_slli_si128::<8>(middle)),
        _mm_xor_si128(high, _mm_srli_si128::<8>(middle)),
    )
}

/// Reduces a (sum of) 256-bit product(s) of byte-reversed blocks to the byte-reversed GHASH
/// field element (Gueron–Kounavis, Algorithm 5: shift left by one, then reduce).
#[inline]
#[target_feature(enable = "sse2")]
fn reduce(low: __m128i, high: __m128i) -> __m128i {
    // Shift the 256-bit value high:low left by one bit.
    let low_carries = _mm_srli_epi32::<31>(low);
    let high_carries = _mm_srli_epi32::<31>(high);
    let mut low = _mm_slli_epi32::<1>(low);
    let mut high = _mm_slli_epi32::<1>(high);
    let across = _mm_srli_si128::<12>(low_carries);
    low = _mm_or_si128(low, _mm_slli_si128::<4>(low_carries));
    high = _mm_or_si128(high, _mm_slli_si128::<4>(high_carries));
    high = _mm_or_si128(high, across);
    // First phase of the reduction.
    let a = _mm_slli_epi32::<31>(low);
    let b = _mm_slli_epi32::<30>(low);
    let c = _mm_slli_epi32::<25>(low);
    let folded = _mm_xor_si128(_mm_xor_si128(a, b), c);
    let carried = _mm_srli_si128::<4>(folded);
    low = _mm_xor_si128(low, _mm_slli_si128::<12>(folded));
    // Second phase.
    let d = _mm_srli_epi32::<1>(low);
    let e = _mm_srli_epi32::<2>(low);
    let f = _mm_srli_epi32::<7>(low);
    let mut sum = _mm_xor_si128(_mm_xor_si128(d, e), f);
    sum = _mm_xor_si128(sum, carried);
    low = _mm_xor_si128(low, sum);
    _mm_xor_si128(high, low)
}

#[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
fn key_powers(hash_key: &[u8; BLOCK]) -> [__m128i; 4] {
    let h = reverse(load(hash_key));
    let square = |x: __m128i, y: __m128i| {
        let (low, high) = multiply(x, y);
        reduce(low, high)
    };
    let h2 = square(h, h);
    let h3 = square(h2, h);
    let h4 = square(h3, h);
    [h, h2, h3, h4]
}

/// GHASH's running state and up to four blocks waiting to be folded in with one reduction.
struct Accumulator<'a> {
    powers: &'a [__m128i; 4],
    state: __m128i,
    pending: [__m128i; 4],
    count: usize,
}

impl Accumulator<'_> {
    /// Folds the pending blocks in: `state = (state ^ p0)·Hⁿ ^ p1·Hⁿ⁻¹ ^ … ^ pₙ₋₁·H`.
    #[inline]
    #[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
    fn fold(&mut self) {
        let count = self.count.min(4);
        if count == 0 {
            return;
        }
        let mut low = _mm_setzero_si128();
        let mut high = _mm_setzero_si128();
        for (position, block) in self.pending.iter().take(count).enumerate() {
            let block = if position == 0 {
                _mm_xor_si128(*block, self.state)
            } else {
                *block
            };
            let Some(&power) = self.powers.get(count - 1 - position) else {
                continue;
            };
            let (l, h) = multiply(block, power);
            low = _mm_xor_si128(low, l);
            high = _mm_xor_si128(high, h);
        }
        self.state = reduce(low, high);
        self.count = 0;
    }

    #[inline]
    #[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
    fn push(&mut self, block: &[u8; BLOCK]) {
        if let Some(slot) = self.pending.get_mut(self.count) {
            *slot = reverse(load(block));
        }
        self.count += 1;
        if self.count == 4 {
            self.fold();
        }
    }

    /// Absorbs `bytes` zero-padded to whole blocks.
    #[inline]
    #[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
    fn absorb(&mut self, bytes: &[u8]) {
        let (blocks, rest) = bytes.as_chunks::<BLOCK>();
        let mut blocks = blocks.iter();
        // Whole groups of four straight from the input while nothing is pending.
        while self.count == 0 && blocks.len() >= 4 {
            for slot in &mut self.pending {
                if let Some(block) = blocks.next() {
                    *slot = reverse(load(block));
                }
            }
            self.count = 4;
            self.fold();
        }
        for block in blocks {
            self.push(block);
        }
        if !rest.is_empty() {
            let mut last = [0u8; BLOCK];
            for (to, from) in last.iter_mut().zip(rest) {
                *to = *from;
            }
            self.push(&last);
        }
    }
}

/// GHASH (SP 800-38D §6.4) of `aad` and `ciphertext`, each zero-padded, and their bit lengths.
#[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
fn ghash(powers: &[__m128i; 4], aad: &[u8], ciphertext: &[u8]) -> [u8; BLOCK] {
    let mut accumulator = Accumulator {
        powers,
        state: _mm_setzero_si128(),
        pending: [_mm_setzero_si128(); 4],
        count: 0,
    };
    accumulator.absorb(aad);
    accumulator.absorb(ciphertext);
    let mut lengths = [0u8; BLOCK];
    let (aad_bits, data_bits) = lengths.split_at_mut(8);
    aad_bits.copy_from_slice(&((aad.len() as u64) * 8).to_be_bytes());
    data_bits.copy_from_slice(&((ciphertext.len() as u64) * 8).to_be_bytes());
    accumulator.push(&lengths);
    accumulator.fold();
    let mut out = [0u8; BLOCK];
    // SAFETY: `out` is 16 writable bytes; unaligned store.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), reverse(accumulator.state)) };
    out
}

#[cfg(test)]
mod tests {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use aes_gcm::{Aes128Gcm, Aes256Gcm};

    use super::*;

    fn reference_seal(key: &[u8], nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
        let nonce = (*nonce).into();
        let tag = if key.len() == 16 {
            Aes128Gcm::new_from_slice(key)
                .unwrap()
                .encrypt_inout_detached(&nonce, aad, data.into())
        } else {
            Aes256Gcm::new_from_slice(key)
                .unwrap()
                .encrypt_inout_detached(&nonce, aad, data.into())
        };
        tag.unwrap().into()
    }

    /// Against RustCrypto `aes-gcm` for both key sizes, AAD and data lengths around the
    /// four-block folds and partial blocks.
    #[test]
    fn matches_the_aes_gcm_crate_for_every_length_around_block_boundaries() {
        let bytes: Vec<u8> = (0..2000u32).map(|i| (i * 131 + 17) as u8).collect();
        for key_len in [16usize, 32] {
            let key = &bytes[100..100 + key_len];
            let Some(ours) = AesNiGcm::new(key) else {
                eprintln!("no AES-NI/PCLMULQDQ on this CPU: nothing to compare");
                return;
            };
            let nonce: [u8; 12] = bytes[7..19].try_into().unwrap();
            for aad_len in [0usize, 1, 8, 12, 15, 16, 17, 28, 48, 64, 65, 100] {
                for data_len in (0..=130).chain([159, 160, 161, 255, 256, 1400, 1500]) {
                    let aad = &bytes[300..300 + aad_len];
                    let plain = &bytes[500..500 + data_len];
                    let mut expected = plain.to_vec();
                    let expected_tag = reference_seal(key, &nonce, aad, &mut expected);
                    let mut data = plain.to_vec();
                    let tag = ours.seal(&nonce, aad, &mut data).unwrap();
                    assert_eq!(
                        (&data, tag),
                        (&expected, expected_tag),
                        "key {key_len} aad {aad_len} data {data_len}"
                    );
                    ours.open(&nonce, aad, &mut data, &tag).unwrap();
                    assert_eq!(data, plain);
                }
            }
        }
    }

    #[test]
    fn a_wrong_tag_fails_and_leaves_the_ciphertext_encrypted() {
        let Some(ours) = AesNiGcm::new(&[7; 16]) else {
            return;
        };
        let nonce = [3u8; 12];
        let mut data = vec![0x55u8; 160];
        let mut tag = ours.seal(&nonce, b"header", &mut data).unwrap();
        let sealed = data.clone();
        tag[15] ^= 1;
        assert_eq!(
            ours.open(&nonce, b"header", &mut data, &tag),
            Err(SrtpError::AuthenticationFailed)
        );
        assert_eq!(data, sealed);
        tag[15] ^= 1;
        assert_eq!(
            ours.open(&nonce, b"headex", &mut data, &tag),
            Err(SrtpError::AuthenticationFailed)
        );
    }
}
