//! Unpredictable values for tags, Call-IDs, branches, cnonces and nonce salts.
//!
//! Values come from the operating system's generator. Should it ever fail, the bytes fall back to the standard
//! library's randomly keyed SipHash over a process-wide counter: still unique and hard to guess, which is what
//! tags and branches need (RFC 3261 §19.3), rather than a panic in protocol code.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Fill `buf` with unpredictable bytes.
pub(crate) fn fill(buf: &mut [u8]) {
    if getrandom::fill(buf).is_ok() {
        return;
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = RandomState::new();
    for chunk in buf.chunks_mut(8) {
        let mut h = keys.build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let word = h.finish().to_le_bytes();
        chunk.copy_from_slice(word.get(..chunk.len()).unwrap_or_default());
    }
}

/// `N` unpredictable bytes.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A uniformly distributed value in `0..=max` (rejection sampling, so no modulo bias).
pub(crate) fn below_or_equal(max: u32) -> u32 {
    let Some(span) = max.checked_add(1) else {
        return u32::from_le_bytes(bytes());
    };
    // Largest multiple of `span` that fits, minus one: values above it would bias the result.
    let limit = u32::MAX - (u32::MAX % span + 1) % span;
    loop {
        let v = u32::from_le_bytes(bytes());
        if v <= limit {
            return v % span;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn draws_differ() {
        assert_ne!(bytes::<16>(), bytes::<16>());
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        for max in [0, 1, 7, 199, 1000] {
            for _ in 0..200 {
                assert!(below_or_equal(max) <= max);
            }
        }
        let _ = below_or_equal(u32::MAX);
    }
}
