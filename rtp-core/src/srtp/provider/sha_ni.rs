//! HMAC-SHA1 on the x86-64 SHA extensions (`sha1rnds4`, `sha1nexte`, `sha1msg1`, `sha1msg2`).
//!
//! For the short messages SRTP authenticates, HMAC-SHA1 is a strict chain of SHA-1 compressions
//! (three inner and one outer for a 172-byte packet and its 4-byte ROC). This module keeps the
//! SHA-1 state in two XMM registers across the whole chain: the inner state starts from the
//! precomputed `key XOR ipad` state, the message's full blocks are read straight from the packet,
//! the last block(s) with the suffix, the 0x80 byte and the bit length are built once on the stack,
//! and the outer block is assembled in registers from the inner digest (no byte-swapping store and
//! reload in between).
//!
//! On the Intel cores measured (Rocket Lake class), the SHA unit, not the latency of the round
//! chain, bounded the compression: `sha1rnds4` issues every three cycles and `sha1msg2` every four.
//! So only the first four scheduled groups use `sha1msg1`/`sha1msg2`; the other twelve (W[32..80])
//! use an equivalent form of the recurrence on the ordinary vector units (see `compress`), which
//! took HMAC-SHA1 over a 172-byte packet from about 132 to 118 ns there.
//!
//! Every `unsafe` here is either a call into a `#[target_feature(enable = "sha,...")]` function,
//! made only through a [`ShaNiHmac`] (which exists only once the features were detected), or an
//! unaligned 16-byte load or store within a buffer of known length.

use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_extract_epi32, _mm_loadu_si128,
    _mm_or_si128, _mm_set_epi32, _mm_set_epi64x, _mm_setzero_si128, _mm_sha1msg1_epu32,
    _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32, _mm_shuffle_epi8, _mm_slli_epi32,
    _mm_srli_epi32, _mm_storeu_si128, _mm_xor_si128,
};

const BLOCK: usize = 64;
/// The longest suffix the register path takes: with up to 63 bytes of message tail, the suffix and
/// 9 bytes of padding still fit in two blocks. SRTP's suffix is the 4-byte ROC (or nothing).
pub(super) const MAX_SUFFIX: usize = 2 * BLOCK - (BLOCK - 1) - 9;

/// A keyed HMAC-SHA1 for the SHA-NI path: the two pad states laid out as the registers hold them
/// (`[D, C, B, A]` and `[0, 0, 0, E]`, lowest lane first).
#[derive(Clone, Copy)]
pub(super) struct ShaNiHmac {
    inner_abcd: [u32; 4],
    inner_e: [u32; 4],
    outer_abcd: [u32; 4],
    outer_e: [u32; 4],
}

impl ShaNiHmac {
    /// The register layout of the two pad states, or `None` when the CPU lacks SHA, SSSE3 or
    /// SSE4.1.
    pub(super) fn new(inner: &[u32; 5], outer: &[u32; 5]) -> Option<Self> {
        let detected = std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1");
        let abcd = |s: &[u32; 5]| [s[3], s[2], s[1], s[0]];
        let e = |s: &[u32; 5]| [0, 0, 0, s[4]];
        detected.then(|| ShaNiHmac {
            inner_abcd: abcd(inner),
            inner_e: e(inner),
            outer_abcd: abcd(outer),
            outer_e: e(outer),
        })
    }

    /// The HMAC of `message` followed by `suffix`, or `None` when `suffix` is longer than
    /// [`MAX_SUFFIX`] bytes (the caller then takes the portable path).
    #[inline]
    pub(super) fn sign(&self, message: &[u8], suffix: &[u8]) -> Option<[u8; 20]> {
        if suffix.len() > MAX_SUFFIX {
            return None;
        }
        // SAFETY: a `ShaNiHmac` exists only after `new` detected SHA, SSSE3 and SSE4.1 (SSE2 is
        // part of x86-64).
        Some(unsafe { sign(self, message, suffix) })
    }
}

/// Unaligned load of 16 bytes.
#[inline]
#[target_feature(enable = "sse2")]
fn load(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: `bytes` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

/// Unaligned load of a `[u32; 4]` as the four lanes of a register.
#[inline]
#[target_feature(enable = "sse2")]
fn load_words(words: &[u32; 4]) -> __m128i {
    // SAFETY: `words` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(words.as_ptr().cast()) }
}

/// Byte shuffle that reverses a register: four big-endian message words become lanes `[W3, W2,
/// W1, W0]` (the layout the SHA instructions take), and the state register becomes the
/// big-endian digest bytes of A..D.
#[inline]
#[target_feature(enable = "sse2")]
fn reverse_mask() -> __m128i {
    _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0a0b_0c0d_0e0f)
}

/// One 64-byte block from memory through [`compress`].
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn compress_block(state: (__m128i, __m128i), block: &[u8; BLOCK]) -> (__m128i, __m128i) {
    let mask = reverse_mask();
    let (words, _) = block.as_chunks::<16>();
    let [w0, w1, w2, w3] = [0, 1, 2, 3].map(|i| _mm_shuffle_epi8(load(&words[i]), mask));
    compress(state, w0, w1, w2, w3)
}

/// The SHA-1 compression function (FIPS 180-4 §6.1.2) on state `(ABCD, E)` and message words
/// already in register layout, 20 groups of four rounds.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn compress(
    (abcd_in, e_in): (__m128i, __m128i),
    mut w0: __m128i,
    mut w1: __m128i,
    mut w2: __m128i,
    mut w3: __m128i,
) -> (__m128i, __m128i) {
    // Rounds 0–3: E enters by plain addition; afterwards `sha1nexte` derives each group's E from
    // the A of the state four rounds earlier (`previous`).
    let mut previous = abcd_in;
    let mut abcd = _mm_sha1rnds4_epu32::<0>(abcd_in, _mm_add_epi32(e_in, w0));
    macro_rules! rounds {
        ($function:literal, $w:ident) => {
            let e = _mm_sha1nexte_epu32(previous, $w);
            previous = abcd;
            abcd = _mm_sha1rnds4_epu32::<$function>(abcd, e);
        };
    }
    // Groups 4–7: W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]) on the SHA unit, which
    // handles the dependency of W[t+3] on W[t] inside a group of four.
    macro_rules! schedule {
        ($new:ident = $w16:ident, $w12:ident, $w8:ident, $w4:ident) => {
            let $new = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32($w16, $w12), $w8), $w4);
        };
    }
    // Groups 8–19 (t >= 32): the equivalent W[t] = rol2(W[t-6] ^ W[t-16] ^ W[t-28] ^ W[t-32])
    // has no dependency inside a group, so it runs on the plain vector units and leaves the SHA
    // unit (whose `sha1msg2` takes four cycles) to the rounds. Slot `k mod 8` holds group `k`;
    // W[t-6]..W[t-3] are the high half of group k-1 and the low half of group k-2 (lanes run
    // from the last word of a group to its first).
    macro_rules! schedule_wide {
        ($w32:ident, $w28:ident, $w16:ident, $w8:ident, $w4:ident) => {
            let x = _mm_xor_si128(
                _mm_xor_si128(_mm_alignr_epi8::<8>($w8, $w4), $w16),
                _mm_xor_si128($w28, $w32),
            );
            $w32 = _mm_or_si128(_mm_slli_epi32::<2>(x), _mm_srli_epi32::<30>(x));
        };
    }
    rounds!(0, w1);
    rounds!(0, w2);
    rounds!(0, w3);
    schedule!(w4 = w0, w1, w2, w3);
    rounds!(0, w4);
    schedule!(w5 = w1, w2, w3, w4);
    rounds!(1, w5);
    schedule!(w6 = w2, w3, w4, w5);
    rounds!(1, w6);
    schedule!(w7 = w3, w4, w5, w6);
    let (mut w4, mut w5, mut w6, mut w7) = (w4, w5, w6, w7);
    rounds!(1, w7);
    schedule_wide!(w0, w1, w4, w6, w7);
    rounds!(1, w0);
    schedule_wide!(w1, w2, w5, w7, w0);
    rounds!(1, w1);
    schedule_wide!(w2, w3, w6, w0, w1);
    rounds!(2, w2);
    schedule_wide!(w3, w4, w7, w1, w2);
    rounds!(2, w3);
    schedule_wide!(w4, w5, w0, w2, w3);
    rounds!(2, w4);
    schedule_wide!(w5, w6, w1, w3, w4);
    rounds!(2, w5);
    schedule_wide!(w6, w7, w2, w4, w5);
    rounds!(2, w6);
    schedule_wide!(w7, w0, w3, w5, w6);
    rounds!(3, w7);
    schedule_wide!(w0, w1, w4, w6, w7);
    rounds!(3, w0);
    schedule_wide!(w1, w2, w5, w7, w0);
    rounds!(3, w1);
    schedule_wide!(w2, w3, w6, w0, w1);
    rounds!(3, w2);
    schedule_wide!(w3, w4, w7, w1, w2);
    rounds!(3, w3);
    (
        _mm_add_epi32(abcd, abcd_in),
        _mm_sha1nexte_epu32(previous, e_in),
    )
}

#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn sign(key: &ShaNiHmac, message: &[u8], suffix: &[u8]) -> [u8; 20] {
    let mut state = (load_words(&key.inner_abcd), load_words(&key.inner_e));
    let (blocks, rest) = message.as_chunks::<BLOCK>();
    for block in blocks {
        state = compress_block(state, block);
    }
    // The tail, the suffix, 0x80 and the big-endian bit length of `ipad block || message || suffix`.
    let mut tail = [[0u8; BLOCK]; 2];
    let flat = tail.as_flattened_mut();
    let end = rest.len() + suffix.len();
    flat[..rest.len()].copy_from_slice(rest);
    flat[rest.len()..end].copy_from_slice(suffix);
    flat[end] = 0x80;
    let used = if end + 9 <= BLOCK { 1 } else { 2 };
    let bits = ((BLOCK + message.len() + suffix.len()) as u64) * 8;
    flat[used * BLOCK - 8..used * BLOCK].copy_from_slice(&bits.to_be_bytes());
    for block in &tail[..used] {
        state = compress_block(state, block);
    }

    // Outer block: the inner digest A..E as W0..W4, then 0x80, zeros and the length 84 * 8.
    let (abcd, e) = state;
    let w1 = _mm_blend_epi16::<0x3f>(e, _mm_set_epi32(0, 0x8000_0000u32 as i32, 0, 0));
    let w3 = _mm_set_epi32(0, 0, 0, ((BLOCK + 20) * 8) as i32);
    let outer = (load_words(&key.outer_abcd), load_words(&key.outer_e));
    let (abcd, e) = compress(outer, abcd, w1, _mm_setzero_si128(), w3);

    let mut tag = [0u8; 20];
    let (head, last) = tag.split_at_mut(16);
    // SAFETY: `head` is 16 writable bytes; `storeu` has no alignment requirement.
    unsafe {
        _mm_storeu_si128(
            head.as_mut_ptr().cast(),
            _mm_shuffle_epi8(abcd, reverse_mask()),
        )
    };
    last.copy_from_slice(&(_mm_extract_epi32::<3>(e) as u32).to_be_bytes());
    tag
}
