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
    __m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_clmulepi64_si128, _mm_insert_epi32,
    _mm_loadu_si128, _mm_or_si128, _mm_set_epi8, _mm_set_epi64x, _mm_setzero_si128,
    _mm_shuffle_epi8, _mm_slli_epi32, _mm_slli_si128, _mm_srli_epi32, _mm_srli_si128,
    _mm_storeu_si128, _mm_xor_si128,
};

use subtle::ConstantTimeEq;

use super::AesGcmCipher;
use super::aes_ni::{AesNiKey, MAX_ROUND_KEYS, Rounds, encrypt_one};
use crate::srtp::SrtpError;

const BLOCK: usize = 16;
/// Blocks per pass of counter mode and GHASH.
const BATCH: usize = 8;
/// Powers of H kept: a batch, plus an AAD block before the first batch or the length block
/// after the last one.
const POWERS: usize = BATCH + 2;
/// Largest plaintext GCM allows (2³⁹ − 256 bits): the 32-bit counter then never wraps.
const MAX_DATA_LEN: u64 = (1 << 36) - 32;

/// AES-GCM keyed for AES-128 or AES-256 with GHASH's key powers precomputed.
pub(crate) struct AesNiGcm {
    key: AesNiKey,
    /// H, H², …, H¹⁰ in byte-reversed order.
    powers: [__m128i; POWERS],
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

    /// Encrypts or decrypts `data` in place and returns the tag over `aad` and the ciphertext.
    fn crypt<const DECRYPT: bool>(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
    ) -> [u8; 16] {
        let rk = &self.key.round_keys;
        let j0 = load(&Self::counter_block(nonce, 1));
        // SAFETY: an `AesNiGcm` exists only once AES-NI, PCLMULQDQ, SSSE3 and SSE4.1 were
        // detected (see `new`); `tag` is 16 writable bytes (unaligned store).
        unsafe {
            let (hash, mask) = match self.key.rounds {
                Rounds::Ten => (
                    crypt::<10, DECRYPT>(rk, &self.powers, nonce, aad, data),
                    encrypt_one::<10>(rk, j0),
                ),
                Rounds::Fourteen => (
                    crypt::<14, DECRYPT>(rk, &self.powers, nonce, aad, data),
                    encrypt_one::<14>(rk, j0),
                ),
            };
            let mut tag = [0u8; 16];
            _mm_storeu_si128(tag.as_mut_ptr().cast(), _mm_xor_si128(reverse(hash), mask));
            tag
        }
    }
}

impl AesGcmCipher for AesNiGcm {
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Result<[u8; 16], SrtpError> {
        if data.len() as u64 > MAX_DATA_LEN {
            return Err(SrtpError::Crypto("AES-GCM input too long"));
        }
        Ok(self.crypt::<false>(nonce, aad, data))
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
        // Decrypting while hashing is one pass; a packet that fails is encrypted again, so
        // the caller's buffer never holds unauthenticated plaintext after the call.
        if bool::from(self.crypt::<true>(nonce, aad, data).ct_eq(tag)) {
            return Ok(());
        }
        self.crypt::<false>(nonce, aad, data);
        Err(SrtpError::AuthenticationFailed)
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
fn key_powers(hash_key: &[u8; BLOCK]) -> [__m128i; POWERS] {
    let h = reverse(load(hash_key));
    let mut powers = [h; POWERS];
    let mut power = h;
    for slot in powers.iter_mut().skip(1) {
        let (low, high) = multiply(power, h);
        power = reduce(low, high);
        *slot = power;
    }
    powers
}

/// Folds `blocks` (one to ten, byte-reversed) into the GHASH state with one reduction:
/// `(state ^ b₀)·Hⁿ ^ b₁·Hⁿ⁻¹ ^ … ^ bₙ₋₁·H`.
#[inline]
#[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
fn fold(state: __m128i, blocks: &[__m128i], powers: &[__m128i; POWERS]) -> __m128i {
    // Callers pass at most `POWERS` blocks (a batch plus one AAD or length block).
    debug_assert!(blocks.len() <= POWERS);
    let Some((first, rest)) = blocks.split_first() else {
        return state;
    };
    let Some(&first_power) = powers.get(rest.len()) else {
        return state;
    };
    let (mut low, mut high) = multiply(_mm_xor_si128(*first, state), first_power);
    for (block, power) in rest.iter().rev().zip(powers) {
        let (l, h) = multiply(*block, *power);
        low = _mm_xor_si128(low, l);
        high = _mm_xor_si128(high, h);
    }
    reduce(low, high)
}

/// GHASH of `bytes`, zero-padded to whole blocks, continuing from `state`.
#[inline]
#[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
fn absorb(mut state: __m128i, bytes: &[u8], powers: &[__m128i; POWERS]) -> __m128i {
    let mut batch = [_mm_setzero_si128(); POWERS];
    let mut chunks = bytes.chunks(POWERS * BLOCK);
    for chunk in &mut chunks {
        let (blocks, rest) = chunk.as_chunks::<BLOCK>();
        let mut used = 0;
        for (slot, block) in batch.iter_mut().zip(blocks) {
            *slot = reverse(load(block));
            used += 1;
        }
        if !rest.is_empty() {
            let mut last = [0u8; BLOCK];
            if let Some(prefix) = last.get_mut(..rest.len()) {
                prefix.copy_from_slice(rest);
            }
            if let Some(slot) = batch.get_mut(used) {
                *slot = reverse(load(&last));
                used += 1;
            }
        }
        state = fold(state, batch.get(..used).unwrap_or_default(), powers);
    }
    state
}

/// Encrypts the counter blocks `nonce || counter .. counter + N`.
#[inline]
#[target_feature(enable = "aes,sse4.1")]
fn keystream<const ROUNDS: usize, const N: usize>(
    rk: &[__m128i; MAX_ROUND_KEYS],
    nonce_block: __m128i,
    counter: u32,
) -> [__m128i; N] {
    let mut blocks = [_mm_setzero_si128(); N];
    let mut next = counter;
    for block in blocks.iter_mut() {
        // Lane 3 holds bytes 12..16: the big-endian counter.
        *block = _mm_xor_si128(
            _mm_insert_epi32::<3>(nonce_block, next.swap_bytes() as i32),
            rk[0],
        );
        next = next.wrapping_add(1);
    }
    for round_key in &rk[1..ROUNDS] {
        for block in blocks.iter_mut() {
            *block = _mm_aesenc_si128(*block, *round_key);
        }
    }
    for block in blocks.iter_mut() {
        *block = _mm_aesenclast_si128(*block, rk[ROUNDS]);
    }
    blocks
}

/// GCM encryption (`DECRYPT = false`) or decryption of `data` in place with counter blocks
/// from `nonce || 2`, returning GHASH of `aad` and the ciphertext (not yet masked with E(J0)).
/// Counter mode and GHASH run in one pass over eight blocks at a time.
#[target_feature(enable = "aes,pclmulqdq,ssse3,sse4.1")]
fn crypt<const ROUNDS: usize, const DECRYPT: bool>(
    rk: &[__m128i; MAX_ROUND_KEYS],
    powers: &[__m128i; POWERS],
    nonce: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
) -> __m128i {
    let mut nonce_block = [0u8; BLOCK];
    if let Some(prefix) = nonce_block.get_mut(..12) {
        prefix.copy_from_slice(nonce);
    }
    let nonce_block = load(&nonce_block);
    // GHASH blocks waiting for the next reduction: an AAD of one block (an RTP header without
    // CSRCs or extension, the SRTCP AAD) joins the first data blocks, the length block the last
    // ones, so that a 172-byte packet takes two reductions.
    let mut hashed = [_mm_setzero_si128(); POWERS];
    let mut held = 0usize;
    let mut state = _mm_setzero_si128();
    if aad.len() <= BLOCK {
        if !aad.is_empty() {
            let mut block = [0u8; BLOCK];
            if let Some(prefix) = block.get_mut(..aad.len()) {
                prefix.copy_from_slice(aad);
            }
            hashed[0] = reverse(load(&block));
            held = 1;
        }
    } else {
        state = absorb(state, aad, powers);
    }
    let mut counter = 2u32;
    let mut chunks = data.chunks_exact_mut(BATCH * BLOCK);
    for chunk in &mut chunks {
        let keystream = keystream::<ROUNDS, BATCH>(rk, nonce_block, counter);
        let (blocks, _) = chunk.as_chunks_mut::<BLOCK>();
        let slots = hashed.iter_mut().skip(held);
        for ((block, key), slot) in blocks.iter_mut().zip(keystream).zip(slots) {
            let input = load(block);
            let output = _mm_xor_si128(input, key);
            // SAFETY: `block` is 16 writable bytes; unaligned store.
            unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), output) };
            *slot = reverse(if DECRYPT { input } else { output });
        }
        state = fold(
            state,
            hashed.get(..held + BATCH).unwrap_or_default(),
            powers,
        );
        held = 0;
        counter = counter.wrapping_add(BATCH as u32);
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        // Up to seven whole blocks and a partial one, with one keystream batch (of four blocks
        // when that is enough: an audio packet's tail is often two or three).
        let mut tail_keys = [_mm_setzero_si128(); BATCH];
        if rest.len() <= 4 * BLOCK {
            let four = keystream::<ROUNDS, 4>(rk, nonce_block, counter);
            for (to, from) in tail_keys.iter_mut().zip(four) {
                *to = from;
            }
        } else {
            tail_keys = keystream::<ROUNDS, BATCH>(rk, nonce_block, counter);
        }
        let (blocks, partial) = rest.as_chunks_mut::<BLOCK>();
        let mut keys = tail_keys.iter();
        for (block, key) in blocks.iter_mut().zip(&mut keys) {
            let input = load(block);
            let output = _mm_xor_si128(input, *key);
            // SAFETY: `block` is 16 writable bytes; unaligned store.
            unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), output) };
            if let Some(slot) = hashed.get_mut(held) {
                *slot = reverse(if DECRYPT { input } else { output });
                held += 1;
            }
        }
        if let Some(key) = keys.next().filter(|_| !partial.is_empty()) {
            // The partial block on a zero-padded copy; GHASH takes the ciphertext padded with
            // zeros, never keystream.
            let mut last = [0u8; BLOCK];
            if let Some(prefix) = last.get_mut(..partial.len()) {
                prefix.copy_from_slice(partial);
            }
            let input = load(&last);
            // SAFETY: `last` is 16 writable bytes; unaligned store.
            unsafe { _mm_storeu_si128(last.as_mut_ptr().cast(), _mm_xor_si128(input, *key)) };
            if let Some(prefix) = last.get(..partial.len()) {
                partial.copy_from_slice(prefix);
            }
            if let Some(padding) = last.get_mut(partial.len()..) {
                padding.fill(0);
            }
            if let Some(slot) = hashed.get_mut(held) {
                *slot = reverse(if DECRYPT { input } else { load(&last) });
                held += 1;
            }
        }
    }
    // `lengths` is already in the byte-reversed order: its high lane holds len(A), low len(C),
    // each as a little-endian integer, which is the reversal of the big-endian block.
    let lengths = _mm_set_epi64x(
        ((aad.len() as u64) * 8) as i64,
        ((data.len() as u64) * 8) as i64,
    );
    if let Some(slot) = hashed.get_mut(held) {
        *slot = lengths;
        held += 1;
    }
    fold(state, hashed.get(..held).unwrap_or_default(), powers)
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
