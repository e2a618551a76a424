//! AES counter mode on VAES with AVX2: two counter blocks per 256-bit register.
//!
//! A 160-byte audio payload is ten AES blocks: five `vaesenc` per round here against ten
//! `aesenc` on the 128-bit path (`aes_ni.rs`). 256-bit VAES exists on CPUs without AVX-512 (AMD
//! Zen 3 and later) and does not lower the clock on those with it. The tail of a message that does
//! not fill a register is XORed 16 bytes and then single bytes at a time, so nothing outside
//! `data` is touched.
//!
//! Every `unsafe` here is either a call into a `#[target_feature(enable = "avx2,vaes")]`
//! function, made only by [`AesNiKey`](super::aes_ni::AesNiKey) after [`detected`] returned
//! `true`, or an unaligned 32- or 16-byte load or store within `data` or a stack array.

use core::arch::x86_64::{
    __m128i, __m256i, _mm_loadu_si128, _mm_set_epi8, _mm_set_epi32, _mm_storeu_si128,
    _mm_xor_si128, _mm256_add_epi32, _mm256_aesenc_epi128, _mm256_aesenclast_epi128,
    _mm256_blend_epi32, _mm256_broadcastsi128_si256, _mm256_castsi256_si128,
    _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_set_epi32, _mm256_set1_epi32,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_storeu_si256, _mm256_xor_si256,
};

use super::aes_ni::MAX_ROUND_KEYS;

const BLOCK: usize = 16;
/// Bytes per 256-bit register: two AES blocks.
const VECTOR: usize = 32;
/// Registers encrypted side by side: eight blocks, enough to cover the AES latency.
const BATCH: usize = 4;

/// Whether the CPU has VAES and AVX2.
pub(super) fn detected() -> bool {
    std::arch::is_x86_feature_detected!("vaes") && std::arch::is_x86_feature_detected!("avx2")
}

/// The `N` registers of keystream (`2 * N` counter blocks) whose counter blocks start with the
/// 12 bytes of `head` and end in the big-endian 32-bit word `low`, `low + 1`, ...; `low + 2 * N`
/// must not wrap.
#[inline]
#[target_feature(enable = "avx2,vaes")]
fn keystream<const ROUNDS: usize, const N: usize>(
    keys: &[__m256i; MAX_ROUND_KEYS],
    head: __m256i,
    low: u32,
) -> [__m256i; N] {
    // Byte-swaps every 32-bit word: the counters are counted natively and stored big-endian.
    let swap = _mm256_broadcastsi128_si256(_mm_set_epi8(
        12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
    ));
    // Lane `i` of register `j` holds counter `low + 2 * j + i` in its last word.
    let lanes = _mm256_set_epi32(1, 0, 0, 0, 0, 0, 0, 0);
    let mut blocks = [_mm256_setzero_si256(); N];
    for (j, block) in blocks.iter_mut().enumerate() {
        let first = low.wrapping_add((2 * j) as u32);
        let counters = _mm256_add_epi32(_mm256_set1_epi32(first as i32), lanes);
        let counter_blocks = _mm256_blend_epi32::<0x88>(head, _mm256_shuffle_epi8(counters, swap));
        *block = _mm256_xor_si256(counter_blocks, keys[0]);
    }
    for key in &keys[1..ROUNDS] {
        for block in blocks.iter_mut() {
            *block = _mm256_aesenc_epi128(*block, *key);
        }
    }
    for block in blocks.iter_mut() {
        *block = _mm256_aesenclast_epi128(*block, keys[ROUNDS]);
    }
    blocks
}

/// XORs `keystream` into `data` (at most `N` registers' worth of bytes).
#[inline]
#[target_feature(enable = "avx2,vaes")]
fn xor_into<const N: usize>(data: &mut [u8], keystream: [__m256i; N]) {
    for (j, key) in keystream.into_iter().enumerate() {
        let Some(rest) = data.get_mut(j * VECTOR..) else {
            return;
        };
        if let Some(vector) = rest.first_chunk_mut::<VECTOR>() {
            // SAFETY: `vector` is exactly 32 bytes; unaligned load and store.
            unsafe {
                let text = _mm256_loadu_si256(vector.as_ptr().cast());
                _mm256_storeu_si256(vector.as_mut_ptr().cast(), _mm256_xor_si256(text, key));
            }
        } else if !rest.is_empty() {
            xor_tail(rest, key);
        }
    }
}

/// XORs the first `data.len()` (< 32) bytes of `key` into `data`: one 16-byte store, then bytes.
#[inline]
#[target_feature(enable = "avx2,vaes")]
fn xor_tail(data: &mut [u8], key: __m256i) {
    let mut quarter = _mm256_castsi256_si128(key);
    let mut offset = 0;
    if let Some(chunk) = data.first_chunk_mut::<16>() {
        // SAFETY: `chunk` is exactly 16 bytes; unaligned load and store.
        unsafe {
            let text = _mm_loadu_si128(chunk.as_ptr().cast());
            _mm_storeu_si128(chunk.as_mut_ptr().cast(), _mm_xor_si128(text, quarter));
        }
        quarter = _mm256_extracti128_si256::<1>(key);
        offset = 16;
    }
    let rest = data.get_mut(offset..).unwrap_or_default();
    if !rest.is_empty() {
        let mut bytes = [0u8; BLOCK];
        // SAFETY: `bytes` is 16 writable bytes; unaligned store.
        unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), quarter) };
        for (byte, key) in rest.iter_mut().zip(bytes) {
            *byte ^= key;
        }
    }
}

/// Counter mode with a 128-bit big-endian counter starting at `iv`, as `aes_ni::counter_mode`:
/// within a run only the last 32-bit word counts; a run ends where that word would wrap (never
/// for SRTP, whose counter blocks end in 16 zero bits) and the next starts with the carried head.
#[target_feature(enable = "avx2,vaes")]
pub(super) fn counter_mode<const ROUNDS: usize>(
    rk: &[__m128i; MAX_ROUND_KEYS],
    iv: &[u8; 16],
    data: &mut [u8],
) {
    let mut keys = [_mm256_setzero_si256(); MAX_ROUND_KEYS];
    for (wide, key) in keys.iter_mut().zip(&rk[..=ROUNDS]) {
        *wide = _mm256_broadcastsi128_si256(*key);
    }
    let mut counter = u128::from_be_bytes(*iv);
    let mut data = data;
    while !data.is_empty() {
        let low = counter as u32;
        let run_blocks = (1u64 << 32) - u64::from(low);
        let run_len =
            usize::try_from(run_blocks.saturating_mul(BLOCK as u64)).unwrap_or(usize::MAX);
        let len = data.len();
        let (run, rest) = core::mem::take(&mut data).split_at_mut(run_len.min(len));
        let bytes = counter.to_be_bytes();
        let mut head = [0i32; 3];
        for (word, chunk) in head.iter_mut().zip(bytes.chunks_exact(4)) {
            let mut le = [0u8; 4];
            le.copy_from_slice(chunk);
            *word = i32::from_le_bytes(le);
        }
        let head = _mm256_broadcastsi128_si256(_mm_set_epi32(0, head[2], head[1], head[0]));
        let mut next = low;
        let mut chunks = run.chunks_exact_mut(BATCH * VECTOR);
        for chunk in &mut chunks {
            xor_into(chunk, keystream::<ROUNDS, BATCH>(&keys, head, next));
            next = next.wrapping_add((BATCH * VECTOR / BLOCK) as u32);
        }
        let tail = chunks.into_remainder();
        match tail.len().div_ceil(VECTOR) {
            0 => {}
            1 => xor_into(tail, keystream::<ROUNDS, 1>(&keys, head, next)),
            2 => xor_into(tail, keystream::<ROUNDS, 2>(&keys, head, next)),
            3 => xor_into(tail, keystream::<ROUNDS, 3>(&keys, head, next)),
            _ => xor_into(tail, keystream::<ROUNDS, BATCH>(&keys, head, next)),
        }
        counter = counter.wrapping_add(run_blocks as u128);
        data = rest;
    }
}
