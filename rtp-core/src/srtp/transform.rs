//! The SRTP and SRTCP packet transforms of one direction: AES-CM + HMAC-SHA1 (RFC 3711 §4) or
//! AEAD AES-GCM (RFC 7714), applied in place on the caller's buffer.

use subtle::ConstantTimeEq;

use super::key_derivation::SessionKeys;
use super::packet_index::roc_of;
use super::profile::SRTCP_INDEX_LEN;
use super::provider::{AesCmCipher, AesGcmCipher, CryptoProvider, HmacSha1};
use super::{SrtpError, SrtpProfile};
use crate::rtcp::HEADER_AND_SSRC_LEN as RTCP_CLEAR_LEN;

/// AES-GCM authentication tag length (RFC 7714 §6: 16 octets for every SRTP AEAD profile).
const GCM_TAG_LEN: usize = 16;
/// The E flag of the SRTCP trailer word (RFC 3711 §3.4).
const E_FLAG: u32 = 1 << 31;
/// Largest SRTCP index (31 bits).
pub(crate) const MAX_SRTCP_INDEX: u32 = E_FLAG - 1;

/// One direction's keyed transform (SRTP or SRTCP keys).
pub(crate) enum Transform {
    /// RFC 3711 AES-CM encryption and truncated HMAC-SHA1 authentication.
    AesCmHmacSha1 {
        cipher: Box<dyn AesCmCipher>,
        mac: Box<dyn HmacSha1>,
        /// The 112-bit session salt times 2^16, ready to XOR into counter blocks.
        salt: u128,
        tag_len: usize,
    },
    /// RFC 7714 AEAD AES-GCM.
    AeadAesGcm {
        cipher: Box<dyn AesGcmCipher>,
        salt: [u8; 12],
    },
}

/// The SRTCP trailer word: E flag and 31-bit index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SrtcpTrailer {
    pub(crate) index: u32,
    pub(crate) encrypted: bool,
}

impl SrtcpTrailer {
    fn word(self) -> [u8; 4] {
        let flag = if self.encrypted { E_FLAG } else { 0 };
        (flag | self.index).to_be_bytes()
    }

    fn from_word(word: [u8; 4]) -> Self {
        let word = u32::from_be_bytes(word);
        SrtcpTrailer {
            index: word & MAX_SRTCP_INDEX,
            encrypted: word & E_FLAG != 0,
        }
    }
}

impl Transform {
    /// Keys the transform of `profile` with `keys`; `tag_len` is the HMAC truncation (AES-CM).
    pub(crate) fn new(
        provider: &dyn CryptoProvider,
        profile: SrtpProfile,
        keys: &SessionKeys,
        tag_len: usize,
    ) -> Result<Self, SrtpError> {
        if profile.is_aead() {
            let mut salt = [0u8; 12];
            for (byte, key) in salt.iter_mut().zip(keys.salt()) {
                *byte = *key;
            }
            return Ok(Transform::AeadAesGcm {
                cipher: provider.aes_gcm(keys.key())?,
                salt,
            });
        }
        let mut salt = [0u8; 16];
        for (byte, key) in salt.iter_mut().zip(keys.salt()) {
            *byte = *key;
        }
        Ok(Transform::AesCmHmacSha1 {
            cipher: provider.aes_cm(keys.key())?,
            mac: provider.hmac_sha1(&keys.auth_key)?,
            salt: u128::from_be_bytes(salt),
            tag_len,
        })
    }

    /// Bytes of tag this transform appends.
    pub(crate) fn tag_len(&self) -> usize {
        match self {
            Transform::AesCmHmacSha1 { tag_len, .. } => *tag_len,
            Transform::AeadAesGcm { .. } => GCM_TAG_LEN,
        }
    }

    /// Protects the RTP packet `buf[..len]` whose header is `header_len` bytes, appending the
    /// tag; returns the SRTP packet length.
    pub(crate) fn protect_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        let protected_len = len + self.tag_len();
        let out = prefix_mut(buf, protected_len)?;
        let (packet, tag_out) = out.split_at_mut(len);
        let (header, payload) = split_at_checked_mut(packet, header_len)?;
        match self {
            Transform::AesCmHmacSha1 {
                cipher, mac, salt, ..
            } => {
                cipher.apply_keystream(&cm_iv(*salt, ssrc, index), payload);
                let tag = mac.sign(packet, &roc_of(index).to_be_bytes());
                copy_prefix(tag_out, &tag);
            }
            Transform::AeadAesGcm { cipher, salt } => {
                let tag = cipher.seal(&rtp_nonce(salt, ssrc, index), header, payload)?;
                copy_prefix(tag_out, &tag);
            }
        }
        Ok(protected_len)
    }

    /// Authenticates and decrypts the SRTP packet `packet`; returns the RTP packet length.
    pub(crate) fn unprotect_rtp(
        &self,
        packet: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        let body_len = packet
            .len()
            .checked_sub(self.tag_len())
            .filter(|&body_len| body_len >= header_len)
            .ok_or(SrtpError::TooShort {
                offset: packet.len(),
                expected: "SRTP authentication tag",
            })?;
        let (body, tag) = packet.split_at_mut(body_len);
        match self {
            Transform::AesCmHmacSha1 {
                cipher, mac, salt, ..
            } => {
                verify_hmac(&mac.sign(body, &roc_of(index).to_be_bytes()), tag)?;
                let (_, payload) = split_at_checked_mut(body, header_len)?;
                cipher.apply_keystream(&cm_iv(*salt, ssrc, index), payload);
            }
            Transform::AeadAesGcm { cipher, salt } => {
                let (header, payload) = split_at_checked_mut(body, header_len)?;
                cipher.open(
                    &rtp_nonce(salt, ssrc, index),
                    header,
                    payload,
                    &gcm_tag(tag)?,
                )?;
            }
        }
        Ok(body_len)
    }

    /// Reads the E flag and SRTCP index of an SRTCP packet (of at least 8 bytes).
    pub(crate) fn srtcp_trailer(&self, packet: &[u8]) -> Result<SrtcpTrailer, SrtpError> {
        // AES-CM: ... | E+index | tag.  GCM: ... | tag | E+index (RFC 7714 §9.1 figure).
        let word_end = match self {
            Transform::AesCmHmacSha1 { tag_len, .. } => packet.len().checked_sub(*tag_len),
            Transform::AeadAesGcm { .. } => Some(packet.len()),
        };
        let word = word_end
            .and_then(|end| end.checked_sub(SRTCP_INDEX_LEN).map(|start| (start, end)))
            .filter(|&(start, _)| start >= RTCP_CLEAR_LEN + self.rtcp_body_minimum())
            .and_then(|(start, end)| packet.get(start..end))
            .and_then(|word| <[u8; 4]>::try_from(word).ok())
            .ok_or(SrtpError::TooShort {
                offset: packet.len(),
                expected: "SRTCP index and tag",
            })?;
        Ok(SrtcpTrailer::from_word(word))
    }

    /// Bytes between the clear RTCP header and the index word that the format itself needs.
    fn rtcp_body_minimum(&self) -> usize {
        match self {
            Transform::AesCmHmacSha1 { .. } => 0,
            Transform::AeadAesGcm { .. } => GCM_TAG_LEN,
        }
    }

    /// Protects the RTCP packet `buf[..len]` (at least 8 bytes), appending the trailer; returns
    /// the SRTCP packet length.
    pub(crate) fn protect_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        trailer: SrtcpTrailer,
    ) -> Result<usize, SrtpError> {
        let protected_len = len + SRTCP_INDEX_LEN + self.tag_len();
        let out = prefix_mut(buf, protected_len)?;
        let word = trailer.word();
        match self {
            Transform::AesCmHmacSha1 {
                cipher, mac, salt, ..
            } => {
                if trailer.encrypted {
                    let body = out.get_mut(RTCP_CLEAR_LEN..len).unwrap_or_default();
                    cipher.apply_keystream(&cm_iv(*salt, ssrc, u64::from(trailer.index)), body);
                }
                copy_prefix(out.get_mut(len..).unwrap_or_default(), &word);
                let (authenticated, tag_out) = split_at_checked_mut(out, len + SRTCP_INDEX_LEN)?;
                copy_prefix(tag_out, &mac.sign(authenticated, &[]));
            }
            Transform::AeadAesGcm { cipher, salt } => {
                let nonce = rtcp_nonce(salt, ssrc, trailer.index);
                let tag = if trailer.encrypted {
                    let (packet, _) = out.split_at_mut(len);
                    let (clear, body) = split_at_checked_mut(packet, RTCP_CLEAR_LEN)?;
                    cipher.seal(&nonce, &rtcp_aad(clear, word)?, body)?
                } else {
                    // RFC 7714 §9.3: the whole packet and the index word are AAD, nothing is
                    // encrypted. Put the word right after the packet so the AAD is contiguous;
                    // the tag then takes its place.
                    copy_prefix(out.get_mut(len..).unwrap_or_default(), &word);
                    cipher.seal(
                        &nonce,
                        out.get(..len + SRTCP_INDEX_LEN).unwrap_or_default(),
                        &mut [],
                    )?
                };
                let (_, rest) = out.split_at_mut(len);
                let (tag_out, word_out) = rest.split_at_mut(GCM_TAG_LEN);
                tag_out.copy_from_slice(&tag);
                word_out.copy_from_slice(&word);
            }
        }
        Ok(protected_len)
    }

    /// Authenticates and, when its E flag says so, decrypts the SRTCP packet `packet` whose
    /// trailer was read by [`Transform::srtcp_trailer`]; returns the RTCP packet length.
    pub(crate) fn unprotect_rtcp(
        &self,
        packet: &mut [u8],
        ssrc: u32,
        trailer: SrtcpTrailer,
    ) -> Result<usize, SrtpError> {
        let rtcp_len = packet
            .len()
            .checked_sub(SRTCP_INDEX_LEN + self.tag_len())
            .filter(|&rtcp_len| rtcp_len >= RTCP_CLEAR_LEN)
            .ok_or(SrtpError::TooShort {
                offset: packet.len(),
                expected: "SRTCP index and tag",
            })?;
        let word = trailer.word();
        match self {
            Transform::AesCmHmacSha1 {
                cipher, mac, salt, ..
            } => {
                let (authenticated, tag) =
                    split_at_checked_mut(packet, rtcp_len + SRTCP_INDEX_LEN)?;
                verify_hmac(&mac.sign(authenticated, &[]), tag)?;
                if trailer.encrypted {
                    let body = authenticated
                        .get_mut(RTCP_CLEAR_LEN..rtcp_len)
                        .unwrap_or_default();
                    cipher.apply_keystream(&cm_iv(*salt, ssrc, u64::from(trailer.index)), body);
                }
            }
            Transform::AeadAesGcm { cipher, salt } => {
                let nonce = rtcp_nonce(salt, ssrc, trailer.index);
                let (rtcp, rest) = packet.split_at_mut(rtcp_len);
                let tag = gcm_tag(rest.get(..GCM_TAG_LEN).unwrap_or_default())?;
                if trailer.encrypted {
                    let (clear, body) = split_at_checked_mut(rtcp, RTCP_CLEAR_LEN)?;
                    cipher.open(&nonce, &rtcp_aad(clear, word)?, body, &tag)?;
                } else {
                    // Mirror of protect: the index word moves next to the packet (over the tag,
                    // already copied) so that packet and word form one AAD.
                    copy_prefix(rest, &word);
                    let aad = packet.get(..rtcp_len + SRTCP_INDEX_LEN).unwrap_or_default();
                    cipher.open(&nonce, aad, &mut [], &tag)?;
                }
            }
        }
        Ok(rtcp_len)
    }
}

/// RFC 3711 §4.1.1 counter block: `(k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)`.
fn cm_iv(salt: u128, ssrc: u32, index: u64) -> [u8; 16] {
    (salt ^ (u128::from(ssrc) << 64) ^ (u128::from(index) << 16)).to_be_bytes()
}

/// RFC 7714 §8.1 SRTP nonce: `00 00 || SSRC || ROC || SEQ` XOR the session salt.
fn rtp_nonce(salt: &[u8; 12], ssrc: u32, index: u64) -> [u8; 12] {
    let index = index.to_be_bytes();
    let ssrc = ssrc.to_be_bytes();
    let fields = [
        0, 0, ssrc[0], ssrc[1], ssrc[2], ssrc[3], index[2], index[3], index[4], index[5], index[6],
        index[7],
    ];
    xor12(salt, fields)
}

/// RFC 7714 §9.1 SRTCP nonce: `00 00 || SSRC || 00 00 || 0 || SRTCP index` XOR the salt.
fn rtcp_nonce(salt: &[u8; 12], ssrc: u32, index: u32) -> [u8; 12] {
    let ssrc = ssrc.to_be_bytes();
    let index = index.to_be_bytes();
    let fields = [
        0, 0, ssrc[0], ssrc[1], ssrc[2], ssrc[3], 0, 0, index[0], index[1], index[2], index[3],
    ];
    xor12(salt, fields)
}

fn xor12(salt: &[u8; 12], mut fields: [u8; 12]) -> [u8; 12] {
    for (field, salt) in fields.iter_mut().zip(salt) {
        *field ^= salt;
    }
    fields
}

/// RFC 7714 §9.2 AAD of encrypted SRTCP: the first 8 octets, then the E flag and index.
fn rtcp_aad(clear: &[u8], word: [u8; 4]) -> Result<[u8; 12], SrtpError> {
    let mut aad = [0u8; 12];
    let (head, tail) = aad.split_at_mut(RTCP_CLEAR_LEN);
    head.copy_from_slice(clear.get(..RTCP_CLEAR_LEN).ok_or(SrtpError::TooShort {
        offset: clear.len(),
        expected: "8-byte RTCP header and SSRC",
    })?);
    tail.copy_from_slice(&word);
    Ok(aad)
}

fn gcm_tag(tag: &[u8]) -> Result<[u8; GCM_TAG_LEN], SrtpError> {
    tag.try_into().map_err(|_| SrtpError::TooShort {
        offset: tag.len(),
        expected: "16-byte AES-GCM tag",
    })
}

/// Compares the received truncated tag in constant time.
fn verify_hmac(expected: &[u8; 20], received: &[u8]) -> Result<(), SrtpError> {
    let expected = expected
        .get(..received.len())
        .ok_or(SrtpError::AuthenticationFailed)?;
    if bool::from(expected.ct_eq(received)) {
        Ok(())
    } else {
        Err(SrtpError::AuthenticationFailed)
    }
}

fn split_at_checked_mut(bytes: &mut [u8], at: usize) -> Result<(&mut [u8], &mut [u8]), SrtpError> {
    let len = bytes.len();
    bytes.split_at_mut_checked(at).ok_or(SrtpError::TooShort {
        offset: len,
        expected: "packet header",
    })
}

/// The first `len` bytes of `buf`, or [`SrtpError::BufferTooSmall`].
pub(crate) fn prefix_mut(buf: &mut [u8], len: usize) -> Result<&mut [u8], SrtpError> {
    let available = buf.len();
    buf.get_mut(..len).ok_or(SrtpError::BufferTooSmall {
        needed: len,
        available,
    })
}

/// Copies as much of `from` as fits at the start of `to` (tags are truncated this way).
fn copy_prefix(to: &mut [u8], from: &[u8]) {
    for (to, from) in to.iter_mut().zip(from) {
        *to = *from;
    }
}
