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
            let backends = [AesCm::new(&key).unwrap(), AesCm::portable(&key).unwrap()];
            for iv in &ivs {
                for len in [
                    0usize, 1, 15, 16, 17, 127, 128, 129, 160, 255, 256, 300, 1400,
                ] {
                    let mut expected: Vec<u8> = (0..len).map(|i| i as u8).collect();
                    reference(&key, iv, &mut expected);
                    for backend in &backends {
                        let mut data: Vec<u8> = (0..len).map(|i| i as u8).collect();
                        backend.apply_keystream(iv, &mut data);
                        assert_eq!(data, expected, "key {key_len} len {len} iv {iv:02x?}");
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_keys_that_are_neither_aes_128_nor_aes_256() {
        assert!(AesCm::new(&[0u8; 24]).is_err());
        assert!(AesCm::portable(&[0u8; 15]).is_err());
    }
}
