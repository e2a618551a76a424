//! The AES counter-mode keystream shared by every provider.

use aes::cipher::{BlockCipherEncrypt, KeyInit};

use super::AesCmCipher;
use crate::srtp::SrtpError;

/// Counter blocks encrypted per batch: enough to keep the AES pipeline full.
const BATCH_BLOCKS: usize = 8;
const BLOCK_LEN: usize = 16;

/// AES-CM keyed for AES-128 or AES-256, on AES-NI when the CPU has it.
pub(crate) enum AesCm {
    #[cfg(target_arch = "x86_64")]
    Ni(super::aes_ni::AesNiKey),
    Aes128(aes::Aes128Enc),
    Aes256(aes::Aes256Enc),
}

impl AesCm {
    /// Keys the fastest backend this CPU supports.
    pub(crate) fn new(key: &[u8]) -> Result<Self, SrtpError> {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = super::aes_ni::AesNiKey::new(key) {
            return Ok(AesCm::Ni(ni));
        }
        Self::portable(key)
    }

    /// Keys the `aes` crate backend, whatever the CPU.
    pub(crate) fn portable(key: &[u8]) -> Result<Self, SrtpError> {
        match key.len() {
            16 => aes::Aes128Enc::new_from_slice(key).map(AesCm::Aes128),
            32 => aes::Aes256Enc::new_from_slice(key).map(AesCm::Aes256),
            _ => return Err(SrtpError::Crypto("AES-CM key must be 16 or 32 bytes")),
        }
        .map_err(|_| SrtpError::Crypto("AES-CM key must be 16 or 32 bytes"))
    }
}

impl AesCmCipher for AesCm {
    fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            AesCm::Ni(key) => key.apply_keystream(iv, data),
            AesCm::Aes128(cipher) => batched_keystream(cipher, iv, data),
            AesCm::Aes256(cipher) => batched_keystream(cipher, iv, data),
        }
    }
}

/// Counter mode over the `aes` crate, handing it eight blocks at a time so that its backend can
/// encrypt them in parallel.
fn batched_keystream(
    cipher: &impl BlockCipherEncrypt<BlockSize = aes::cipher::consts::U16>,
    iv: &[u8; 16],
    data: &mut [u8],
) {
    let mut counter = u128::from_be_bytes(*iv);
    for chunk in data.chunks_mut(BATCH_BLOCKS * BLOCK_LEN) {
        let used = chunk.len().div_ceil(BLOCK_LEN);
        let mut blocks = [aes::Block::default(); BATCH_BLOCKS];
        let blocks = blocks.get_mut(..used).unwrap_or_default();
        for (offset, block) in (0u128..).zip(blocks.iter_mut()) {
            *block = counter.wrapping_add(offset).to_be_bytes().into();
        }
        cipher.encrypt_blocks(blocks);
        for (byte, key) in chunk
            .iter_mut()
            .zip(blocks.iter().flat_map(|block| block.iter()))
        {
            *byte ^= key;
        }
        counter = counter.wrapping_add(used as u128);
    }
}

#[cfg(test)]
mod tests {
    use aes::cipher::{KeyIvInit, StreamCipher};
    use proptest::prelude::*;

    use super::*;

    type Reference128 = ctr::Ctr128BE<aes::Aes128>;
    type Reference256 = ctr::Ctr128BE<aes::Aes256>;

    fn reference(key: &[u8], iv: &[u8; 16], data: &mut [u8]) {
        if key.len() == 16 {
            Reference128::new_from_slices(key, iv)
                .unwrap()
                .apply_keystream(data);
        } else {
            Reference256::new_from_slices(key, iv)
                .unwrap()
                .apply_keystream(data);
        }
    }

    /// Both backends against the `ctr` crate, across batch boundaries and counter carries.
    #[test]
    fn keystream_matches_reference_counter_mode_on_every_backend() {
        let ivs = [
            [0u8; 16],
            [
                0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
                0, 0,
            ],
            // Low 64 bits about to carry into the high half.
            [
                1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd,
            ],
            [0xff; 16],
        ];
        for key_len in [16usize, 32] {
            let key: Vec<u8> = (0..key_len as u8)
                .map(|b| b.wrapping_mul(37).wrapping_add(11))
                .collect();
            let backends = backends(&key);
            for iv in &ivs {
                for len in [
                    0usize, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 160, 191, 192, 193, 255, 256,
                    257, 300, 319, 320, 1400,
                ] {
                    let mut expected: Vec<u8> = (0..len).map(|i| i as u8).collect();
                    reference(&key, iv, &mut expected);
                    for (_, backend) in &backends {
                        let mut data: Vec<u8> = (0..len).map(|i| i as u8).collect();
                        backend.apply_keystream(iv, &mut data);
                        assert_eq!(data, expected, "key {key_len} len {len} iv {iv:02x?}");
                    }
                }
            }
        }
    }

    proptest! {
        /// Every backend against the `ctr` crate on random keys, counters (including ones whose
        /// last word or low half carries within the message) and lengths.
        #[test]
        fn keystream_matches_reference_on_random_input(
            key in prop::array::uniform16(any::<u8>()),
            long_key in any::<bool>(),
            head in prop::array::uniform12(any::<u8>()),
            low in prop_oneof![any::<u32>(), (0u32..100).prop_map(|below| u32::MAX - below)],
            data in prop::collection::vec(any::<u8>(), 0..700),
        ) {
            let key: Vec<u8> = if long_key {
                key.iter().chain(key.iter().rev()).map(|b| b ^ 0x5a).collect()
            } else {
                key.to_vec()
            };
            let mut iv = [0u8; 16];
            iv[..12].copy_from_slice(&head);
            iv[12..].copy_from_slice(&low.to_be_bytes());
            let mut expected = data.clone();
            reference(&key, &iv, &mut expected);
            for (name, backend) in backends(&key) {
                let mut ours = data.clone();
                backend.apply_keystream(&iv, &mut ours);
                prop_assert_eq!(&ours, &expected, "{} len {}", name, data.len());
            }
        }
    }

    /// Every backend this CPU can run for `key`, by name.
    fn backends(key: &[u8]) -> Vec<(&'static str, AesCm)> {
        let mut backends = vec![
            ("default", AesCm::new(key).unwrap()),
            ("portable", AesCm::portable(key).unwrap()),
        ];
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = super::super::aes_ni::AesNiKey::new(key) {
            backends.push(("aes-ni without vaes", AesCm::Ni(ni.without_vaes())));
        }
        backends
    }

    /// The VAES path is really taken on this machine, or the test says loudly that it is not.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vaes_path_is_used_when_the_cpu_has_it() {
        let has = std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("vaes")
            && std::arch::is_x86_feature_detected!("avx2");
        if !has {
            eprintln!("SKIPPED: this CPU lacks VAES/AVX2; only the 128-bit AES-NI path is tested");
        }
        let uses = match AesCm::new(&[1; 16]).unwrap() {
            AesCm::Ni(key) => key.uses_vaes(),
            _ => false,
        };
        assert_eq!(uses, has);
    }

    #[test]
    fn refuses_keys_that_are_neither_aes_128_nor_aes_256() {
        assert!(AesCm::new(&[0u8; 24]).is_err());
        assert!(AesCm::portable(&[0u8; 15]).is_err());
    }
}
