//! HMAC-SHA1 (RFC 2104) on the SHA-1 compression function, with both pad states precomputed.
//!
//! Per message this runs exactly the compressions HMAC needs (for a 172-byte RTP packet plus its
//! 4-byte ROC: three inner, one outer). On x86-64 CPUs with the SHA extensions it runs the
//! register-resident chain in `sha_ni`; elsewhere it runs the `sha1` crate's compression function,
//! with padding built on the stack. Going through `hmac::Hmac` instead costs a copy of the keyed
//! state, a block buffer and two finalizations per packet: about 40 ns more.

use sha1::block_api::compress;
use sha1::{Digest, Sha1};

use super::HmacSha1;

const BLOCK: usize = 64;
/// SHA-1 initial hash value (FIPS 180-4 §5.3.1).
const INITIAL_STATE: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];
/// Length field and the mandatory 0x80 byte of SHA-1 padding.
const PADDING_OVERHEAD: usize = 9;

/// A keyed HMAC-SHA1: the states after compressing `key XOR ipad` and `key XOR opad`.
pub(crate) struct PrecomputedHmac {
    inner: [u32; 5],
    outer: [u32; 5],
    /// The same states for the SHA-NI path, when the CPU has it.
    #[cfg(target_arch = "x86_64")]
    native: Option<super::sha_ni::ShaNiHmac>,
}

impl PrecomputedHmac {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block_key = [0u8; BLOCK];
        if key.len() > BLOCK {
            block_key[..20].copy_from_slice(&Sha1::digest(key));
        } else {
            block_key[..key.len()].copy_from_slice(key);
        }
        let pad_state = |pad: u8| {
            let mut block = block_key;
            block.iter_mut().for_each(|byte| *byte ^= pad);
            let mut state = INITIAL_STATE;
            compress(&mut state, &[block]);
            state
        };
        let inner = pad_state(0x36);
        let outer = pad_state(0x5c);
        PrecomputedHmac {
            inner,
            outer,
            #[cfg(target_arch = "x86_64")]
            native: super::sha_ni::ShaNiHmac::new(&inner, &outer),
        }
    }

    /// The same key on the `sha1` crate's compression function only (tests the fallback).
    #[cfg(test)]
    pub(crate) fn portable(key: &[u8]) -> Self {
        PrecomputedHmac {
            #[cfg(target_arch = "x86_64")]
            native: None,
            ..Self::new(key)
        }
    }

    fn sign_portable(&self, message: &[u8], suffix: &[u8]) -> [u8; 20] {
        let mut state = self.inner;
        let hashed_len = BLOCK + message.len() + suffix.len();
        let (blocks, rest) = message.as_chunks::<BLOCK>();
        if !blocks.is_empty() {
            compress(&mut state, blocks);
        }
        let mut pending = [0u8; BLOCK];
        let mut filled = rest.len();
        pending[..filled].copy_from_slice(rest);
        for &byte in suffix {
            pending[filled] = byte;
            filled += 1;
            if filled == BLOCK {
                compress(&mut state, &[pending]);
                filled = 0;
            }
        }
        finish(&mut state, &pending[..filled], hashed_len);

        let mut outer = self.outer;
        let mut inner_digest = [0u8; 20];
        write_digest(&state, &mut inner_digest);
        finish(&mut outer, &inner_digest, BLOCK + inner_digest.len());
        let mut tag = [0u8; 20];
        write_digest(&outer, &mut tag);
        tag
    }
}

impl HmacSha1 for PrecomputedHmac {
    #[inline]
    fn sign(&self, message: &[u8], suffix: &[u8]) -> [u8; 20] {
        #[cfg(target_arch = "x86_64")]
        if let Some(tag) = self.native.as_ref().and_then(|n| n.sign(message, suffix)) {
            return tag;
        }
        self.sign_portable(message, suffix)
    }
}

/// Compresses the last `tail` bytes (under one block) with SHA-1 padding for a message of
/// `total_len` bytes.
fn finish(state: &mut [u32; 5], tail: &[u8], total_len: usize) {
    let mut blocks = [[0u8; BLOCK]; 2];
    let used = if tail.len() + PADDING_OVERHEAD <= BLOCK {
        1
    } else {
        2
    };
    let flat = blocks.as_flattened_mut();
    flat[..tail.len()].copy_from_slice(tail);
    flat[tail.len()] = 0x80;
    let bits = (total_len as u64) * 8;
    flat[used * BLOCK - 8..used * BLOCK].copy_from_slice(&bits.to_be_bytes());
    compress(state, &blocks[..used]);
}

fn write_digest(state: &[u32; 5], out: &mut [u8; 20]) {
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, KeyInit, Mac};

    use super::*;

    /// Against the `hmac` crate across block boundaries, suffix lengths and key sizes.
    #[test]
    fn matches_the_hmac_crate_for_every_length_around_block_boundaries() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 31 + 7) as u8).collect();
        for key_len in [0usize, 1, 16, 20, 63, 64, 65, 100] {
            let key = &data[..key_len];
            let ours = PrecomputedHmac::new(key);
            let portable = PrecomputedHmac::portable(key);
            for message_len in 0..=300 {
                for suffix_len in [0usize, 1, 4, 9, 60, 64, 70] {
                    let message = &data[10..10 + message_len];
                    let suffix = &data[..suffix_len];
                    let mut reference = <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap();
                    reference.update(message);
                    reference.update(suffix);
                    let expected: [u8; 20] = reference.finalize().into_bytes().into();
                    assert_eq!(
                        ours.sign(message, suffix),
                        expected,
                        "key {key_len} message {message_len} suffix {suffix_len}"
                    );
                    assert_eq!(
                        portable.sign(message, suffix),
                        expected,
                        "portable: key {key_len} message {message_len} suffix {suffix_len}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        /// Both paths against the `hmac` crate on random keys, messages and suffixes.
        #[test]
        fn matches_the_hmac_crate_on_random_input(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
            message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1600),
            suffix in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
        ) {
            let mut reference = <Hmac<Sha1> as KeyInit>::new_from_slice(&key).unwrap();
            reference.update(&message);
            reference.update(&suffix);
            let expected: [u8; 20] = reference.finalize().into_bytes().into();
            proptest::prop_assert_eq!(PrecomputedHmac::new(&key).sign(&message, &suffix), expected);
            proptest::prop_assert_eq!(
                PrecomputedHmac::portable(&key).sign(&message, &suffix),
                expected
            );
        }
    }

    /// The SHA-NI path is really taken on this machine, or the test says loudly that it is not.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sha_ni_path_is_used_when_the_cpu_has_it() {
        let has = std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1");
        if !has {
            eprintln!("SKIPPED: this CPU lacks SHA-NI; only the portable HMAC-SHA1 path is tested");
        }
        assert_eq!(PrecomputedHmac::new(b"k").native.is_some(), has);
    }

    /// RFC 2202 §3, all seven HMAC-SHA1 test cases, on both paths.
    #[test]
    fn matches_rfc_2202() {
        use crate::srtp::test_vectors::hex;
        let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            ),
            (
                hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"
                    .to_vec(),
                "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
            ),
        ];
        for (index, (key, data, digest)) in cases.iter().enumerate() {
            let expected = hex(digest);
            for split in [0, data.len() / 2, data.len()] {
                let (message, suffix) = data.split_at(split);
                assert_eq!(
                    PrecomputedHmac::new(key).sign(message, suffix)[..],
                    expected[..],
                    "case {}",
                    index + 1
                );
                assert_eq!(
                    PrecomputedHmac::portable(key).sign(message, suffix)[..],
                    expected[..],
                    "portable case {}",
                    index + 1
                );
            }
        }
    }
}
