//! The few RTP/RTCP header fields SRTP needs: where the payload starts, the SSRC, the sequence
//! number. A deliberately tiny reader; the full RTP parser lives elsewhere in the crate.

use super::SrtpError;

/// RTP fixed header length (RFC 3550 §5.1).
const RTP_FIXED_LEN: usize = 12;
/// RTCP common header plus sender SSRC, the part SRTCP leaves unencrypted (RFC 3711 §3.4).
pub(crate) const RTCP_CLEAR_LEN: usize = 8;

/// What SRTP reads from an RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpHeader {
    /// Bytes up to the payload: fixed header, CSRC list, header extension.
    pub(crate) len: usize,
    pub(crate) sequence: u16,
    pub(crate) ssrc: u32,
}

impl RtpHeader {
    pub(crate) fn read(packet: &[u8]) -> Result<Self, SrtpError> {
        let fixed: &[u8; RTP_FIXED_LEN] = packet.first_chunk().ok_or(SrtpError::TooShort {
            offset: packet.len(),
            expected: "12-byte RTP header",
        })?;
        check_version(fixed[0])?;
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let has_extension = fixed[0] & 0x10 != 0;
        let sequence = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ssrc = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
        let mut len = RTP_FIXED_LEN + 4 * csrc_count;
        if len > packet.len() {
            return Err(SrtpError::TooShort {
                offset: packet.len(),
                expected: "CSRC list",
            });
        }
        if has_extension {
            // RFC 3550 §5.3.1: 16-bit profile id, 16-bit length in 32-bit words, then the words.
            let words = packet
                .get(len + 2..len + 4)
                .map(|bytes| usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
                .ok_or(SrtpError::TooShort {
                    offset: len,
                    expected: "header extension header",
                })?;
            len += 4 + 4 * words;
            if len > packet.len() {
                return Err(SrtpError::TooShort {
                    offset: packet.len(),
                    expected: "header extension",
                });
            }
        }
        Ok(RtpHeader {
            len,
            sequence,
            ssrc,
        })
    }
}

/// The sender SSRC of an RTCP packet, after checking the first 8 bytes are there.
pub(crate) fn rtcp_ssrc(packet: &[u8]) -> Result<u32, SrtpError> {
    let clear: &[u8; RTCP_CLEAR_LEN] = packet.first_chunk().ok_or(SrtpError::TooShort {
        offset: packet.len(),
        expected: "8-byte RTCP header and SSRC",
    })?;
    check_version(clear[0])?;
    Ok(u32::from_be_bytes([clear[4], clear[5], clear[6], clear[7]]))
}

fn check_version(first: u8) -> Result<(), SrtpError> {
    match first >> 6 {
        2 => Ok(()),
        version => Err(SrtpError::UnsupportedVersion { version }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_counts_csrcs_and_the_extension() {
        let mut packet = vec![
            0x80 | 0x10 | 2,
            0,
            0x12,
            0x34,
            0,
            0,
            0,
            0,
            0xca,
            0xfe,
            0xba,
            0xbe,
        ];
        packet.extend_from_slice(&[0; 8]); // two CSRCs
        packet.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0]); // one-word extension
        packet.extend_from_slice(b"payload");
        let header = RtpHeader::read(&packet).unwrap();
        assert_eq!(
            header,
            RtpHeader {
                len: 12 + 8 + 8,
                sequence: 0x1234,
                ssrc: 0xcafe_babe
            }
        );
    }

    #[test]
    fn rejects_truncated_headers_with_the_offset() {
        assert_eq!(
            RtpHeader::read(&[0x80; 11]),
            Err(SrtpError::TooShort {
                offset: 11,
                expected: "12-byte RTP header"
            })
        );
        let csrcs = [0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            RtpHeader::read(&csrcs),
            Err(SrtpError::TooShort {
                offset: 16,
                expected: "CSRC list"
            })
        );
        let extension = [
            0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 2, 0, 0, 0, 0,
        ];
        assert_eq!(
            RtpHeader::read(&extension),
            Err(SrtpError::TooShort {
                offset: 20,
                expected: "header extension"
            })
        );
    }

    #[test]
    fn rejects_versions_other_than_2() {
        assert_eq!(
            RtpHeader::read(&[0x40; 12]),
            Err(SrtpError::UnsupportedVersion { version: 1 })
        );
        assert_eq!(
            rtcp_ssrc(&[0xc0; 8]),
            Err(SrtpError::UnsupportedVersion { version: 3 })
        );
        assert_eq!(rtcp_ssrc(&[0x81, 200, 0, 6, 1, 2, 3, 4]), Ok(0x0102_0304));
    }
}
