//! AES counter mode on the x86-64 AES instructions, eight blocks in flight.
//!
//! Why not the `aes` crate alone: on CPUs with VAES/AVX-512 it selects a 64-block-wide backend,
//! broadcasts its round keys for every call and then encrypts a short message one block at a
//! time; for the ten blocks of an audio packet that costs about 2.5 times this loop, which keeps
//! eight independent blocks in the AES unit at once. The `aes` crate remains the fallback and the
//! reference the tests compare against. On CPUs with VAES and AVX2, `apply_keystream` hands the
//! same work to `vaes256.rs`, two blocks per instruction.
//!
//! Every `unsafe` here is either a call into a `#[target_feature(enable = "aes")]` function, made
//! only through an [`AesNiKey`] (which exists only once AES-NI was detected), or an unaligned
//! 16-byte load/store on a 16-byte array or slice.

use core::arch::x86_64::{
    __m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_aeskeygenassist_si128, _mm_loadu_si128,
    _mm_set_epi32, _mm_setzero_si128, _mm_shuffle_epi32, _mm_slli_si128, _mm_storeu_si128,
    _mm_xor_si128,
};

/// Blocks encrypted side by side: AES latency is about four cycles a round and the CPU issues
/// one or two rounds a cycle, so eight blocks hide the latency.
const BATCH: usize = 8;
const BLOCK: usize = 16;
/// Round keys of AES-256 (15); AES-128 uses the first 11.
pub(super) const MAX_ROUND_KEYS: usize = 15;

/// Expanded AES-128 or AES-256 encryption round keys.
#[derive(Clone, Copy)]
pub(crate) struct AesNiKey {
    pub(super) round_keys: [__m128i; MAX_ROUND_KEYS],
    pub(super) rounds: Rounds,
    /// The CPU has VAES and AVX2 (detected in `new`): counter mode then runs two blocks per
    /// instruction in 256-bit registers (`vaes256.rs`).
    vaes: bool,
}

/// AES-128 or AES-256.
#[derive(Clone, Copy)]
pub(super) enum Rounds {
    Ten,
    Fourteen,
}

impl AesNiKey {
    /// Expands `key` (16 or 32 bytes), or `None` when the CPU lacks AES-NI or the length is wrong.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        if !std::arch::is_x86_feature_detected!("aes") {
            return None;
        }
        match key.len() {
            16 => {
                let key: &[u8; 16] = key.try_into().ok()?;
                // SAFETY: AES-NI is present (checked above).
                let round_keys = unsafe { expand_128(key) };
                Some(AesNiKey {
                    round_keys,
                    rounds: Rounds::Ten,
                    vaes: super::vaes256::detected(),
                })
            }
            32 => {
                let low: &[u8; 16] = key.get(..16)?.try_into().ok()?;
                let high: &[u8; 16] = key.get(16..)?.try_into().ok()?;
                // SAFETY: AES-NI is present (checked above).
                let round_keys = unsafe { expand_256(low, high) };
                Some(AesNiKey {
                    round_keys,
                    rounds: Rounds::Fourteen,
                    vaes: super::vaes256::detected(),
                })
            }
            _ => None,
        }
    }

    /// The same key on the 128-bit AES-NI path only, whatever the CPU (tests the fallback).
    #[cfg(test)]
    pub(crate) fn without_vaes(self) -> Self {
        AesNiKey {
            vaes: false,
            ..self
        }
    }

    /// Whether counter mode runs on VAES.
    #[cfg(test)]
    pub(crate) fn uses_vaes(&self) -> bool {
        self.vaes
    }

    /// Encrypts one block (GCM's hash key and tag mask).
    pub(crate) fn encrypt_block(&self, block: [u8; 16]) -> [u8; 16] {
        let mut out = [0u8; 16];
        // SAFETY: an `AesNiKey` is only built after AES-NI was detected (see `new`); `out` is
        // 16 writable bytes (unaligned store).
        unsafe {
            let encrypted = match self.rounds {
                Rounds::Ten => encrypt_one::<10>(&self.round_keys, load(&block)),
                Rounds::Fourteen => encrypt_one::<14>(&self.round_keys, load(&block)),
            };
            _mm_storeu_si128(out.as_mut_ptr().cast(), encrypted);
        }
        out
    }

    /// XORs the counter-mode keystream starting at counter block `iv` into `data`.
    pub(crate) fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        if self.vaes {
            // SAFETY: `vaes` is set only when `vaes256::detected()` found VAES and AVX2 (see
            // `new`).
            unsafe {
                match self.rounds {
                    Rounds::Ten => super::vaes256::counter_mode::<10>(&self.round_keys, iv, data),
                    Rounds::Fourteen => {
                        super::vaes256::counter_mode::<14>(&self.round_keys, iv, data)
                    }
                }
            }
            return;
        }
        // SAFETY: an `AesNiKey` is only built after AES-NI was detected (see `new`).
        unsafe {
            match self.rounds {
                Rounds::Ten => counter_mode::<10>(&self.round_keys, iv, data),
                Rounds::Fourteen => counter_mode::<14>(&self.round_keys, iv, data),
            }
        }
    }
}

fn load(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: `bytes` is 16 readable bytes and `loadu` has no alignment requirement; SSE2 is
    // part of the x86-64 baseline.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

/// One step of the FIPS-197 key schedule: `previous` XOR its own prefix sums, XOR the
/// broadcast `assist` word from `aeskeygenassist`.
#[target_feature(enable = "aes")]
fn schedule_step(previous: __m128i, assist: __m128i) -> __m128i {
    let mut key = previous;
    key = _mm_xor_si128(key, _mm_slli_si128::<4>(key));
    key = _mm_xor_si128(key, _mm_slli_si128::<4>(key));
    key = _mm_xor_si128(key, _mm_slli_si128::<4>(key));
    _mm_xor_si128(key, assist)
}

#[target_feature(enable = "aes")]
fn expand_128(key: &[u8; 16]) -> [__m128i; MAX_ROUND_KEYS] {
    let mut rk = [_mm_setzero_si128(); MAX_ROUND_KEYS];
    rk[0] = load(key);
    macro_rules! round {
        ($i:literal, $rcon:literal) => {
            rk[$i] = schedule_step(
                rk[$i - 1],
                _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(rk[$i - 1])),
            );
        };
    }
    round!(1, 0x01);
    round!(2, 0x02);
    round!(3, 0x04);
    round!(4, 0x08);
    round!(5, 0x10);
    round!(6, 0x20);
    round!(7, 0x40);
    round!(8, 0x80);
    round!(9, 0x1b);
    round!(10, 0x36);
    rk
}

#[target_feature(enable = "aes")]
fn expand_256(low: &[u8; 16], high: &[u8; 16]) -> [__m128i; MAX_ROUND_KEYS] {
    let mut rk = [_mm_setzero_si128(); MAX_ROUND_KEYS];
    rk[0] = load(low);
    rk[1] = load(high);
    // Even round keys mix in RotWord+SubWord+Rcon of the previous key, odd ones SubWord only.
    macro_rules! even {
        ($i:literal, $rcon:literal) => {
            rk[$i] = schedule_step(
                rk[$i - 2],
                _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(rk[$i - 1])),
            );
        };
    }
    macro_rules! odd {
        ($i:literal) => {
            rk[$i] = schedule_step(
                rk[$i - 2],
                _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0x00>(rk[$i - 1])),
            );
        };
    }
    even!(2, 0x01);
    odd!(3);
    even!(4, 0x02);
    odd!(5);
    even!(6, 0x04);
    odd!(7);
    even!(8, 0x08);
    odd!(9);
    even!(10, 0x10);
    odd!(11);
    even!(12, 0x20);
    odd!(13);
    even!(14, 0x40);
    rk
}

/// Encrypts one block with `ROUNDS` rounds.
#[inline]
#[target_feature(enable = "aes")]
pub(super) fn encrypt_one<const ROUNDS: usize>(
    rk: &[__m128i; MAX_ROUND_KEYS],
    block: __m128i,
) -> __m128i {
    let mut block = _mm_xor_si128(block, rk[0]);
    for round_key in &rk[1..ROUNDS] {
        block = _mm_aesenc_si128(block, *round_key);
    }
    _mm_aesenclast_si128(block, rk[ROUNDS])
}

/// Encrypts the `N` counter blocks whose first three 32-bit words are `head` (as loaded, little
/// endian) and whose last, big-endian word counts from `low`; `low + N` must not wrap.
#[inline]
#[target_feature(enable = "aes")]
fn keystream_batch<const ROUNDS: usize, const N: usize>(
    rk: &[__m128i; MAX_ROUND_KEYS],
    head: [i32; 3],
    low: u32,
) -> [__m128i; N] {
    let mut blocks = [_mm_setzero_si128(); N];
    let mut counter = low;
    for block in blocks.iter_mut() {
        let counter_block = _mm_set_epi32(counter.swap_bytes() as i32, head[2], head[1], head[0]);
        *block = _mm_xor_si128(counter_block, rk[0]);
        counter = counter.wrapping_add(1);
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

/// XORs `keystream` into `data` (at most `N` blocks).
#[inline]
#[target_feature(enable = "aes")]
fn xor_into<const N: usize>(data: &mut [u8], keystream: [__m128i; N]) {
    let (blocks, partial) = data.as_chunks_mut::<BLOCK>();
    let mut keys = keystream.into_iter();
    for (block, key) in blocks.iter_mut().zip(&mut keys) {
        // SAFETY: `block` is exactly 16 bytes; unaligned load and store.
        unsafe {
            let text = _mm_loadu_si128(block.as_ptr().cast());
            _mm_storeu_si128(block.as_mut_ptr().cast(), _mm_xor_si128(text, key));
        }
    }
    if let Some(key) = keys.next().filter(|_| !partial.is_empty()) {
        let mut bytes = [0u8; BLOCK];
        // SAFETY: `bytes` is 16 writable bytes; unaligned store.
        unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), key) };
        for (byte, key) in partial.iter_mut().zip(bytes) {
            *byte ^= key;
        }
    }
}

/// Counter mode with a 128-bit big-endian counter. The counter only carries out of its last
/// 32-bit word when that word starts within `blocks` of 2³² (never for SRTP, whose counter blocks
/// end in 16 zero bits); that case starts a new run with the carried head.
#[target_feature(enable = "aes")]
fn counter_mode<const ROUNDS: usize>(
    rk: &[__m128i; MAX_ROUND_KEYS],
    iv: &[u8; 16],
    data: &mut [u8],
) {
    let mut counter = u128::from_be_bytes(*iv);
    let mut data = data;
    while !data.is_empty() {
        let low = counter as u32;
        // Blocks before the last word wraps to zero.
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
        let mut next = low;
        let mut chunks = run.chunks_exact_mut(BATCH * BLOCK);
        for chunk in &mut chunks {
            xor_into(chunk, keystream_batch::<ROUNDS, BATCH>(rk, head, next));
            next = next.wrapping_add(BATCH as u32);
        }
        let tail = chunks.into_remainder();
        if tail.len() > 4 * BLOCK {
            xor_into(tail, keystream_batch::<ROUNDS, BATCH>(rk, head, next));
        } else if !tail.is_empty() {
            // An audio payload's last blocks are often two or three: four are enough.
            xor_into(tail, keystream_batch::<ROUNDS, 4>(rk, head, next));
        }
        counter = counter.wrapping_add(run_blocks as u128);
        data = rest;
    }
}
