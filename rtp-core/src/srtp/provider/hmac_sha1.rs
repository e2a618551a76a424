//! HMAC-SHA1 (RFC 2104) on the SHA-1 compression function, with both pad states precomputed.
//!
//! Per message this runs exactly the compressions HMAC needs (for a 172-byte RTP packet plus its
//! 4-byte ROC: three inner, one outer) on the `sha1` crate's compression function (SHA-NI when
//! the CPU has it), with padding built on the stack. Going through `hmac::Hmac` instead costs a
//! copy of the keyed state, a block buffer and two finalizations per packet: about 40 ns more.

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
        PrecomputedHmac {
            inner: pad_state(0x36),
            outer: pad_state(0x5c),
        }
    }
}

impl HmacSha1 for PrecomputedHmac {
    fn sign(&self, message: &[u8], suffix: &[u8]) -> [u8; 20] {
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
            for message_len in (0..=200).chain([255, 256, 300]) {
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
                }
            }
        }
    }

    /// RFC 2202 §3, test case 2.
    #[test]
    fn matches_rfc_2202_test_case_2() {
        let tag = PrecomputedHmac::new(b"Jefe").sign(b"what do ya want ", b"for nothing?");
        assert_eq!(
            tag,
            crate::srtp::test_vectors::hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")[..]
        );
    }
}
