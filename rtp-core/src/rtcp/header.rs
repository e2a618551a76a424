//! The common RTCP header (RFC 3550 §6.4.1) and the framing of one packet inside a compound.

use super::error::{RtcpError, RtcpErrorKind};

/// Packet type of a sender report (RFC 3550 §6.4.1).
pub const SENDER_REPORT: u8 = 200;
/// Packet type of a receiver report (RFC 3550 §6.4.2).
pub const RECEIVER_REPORT: u8 = 201;
/// Packet type of a source description (RFC 3550 §6.5).
pub const SOURCE_DESCRIPTION: u8 = 202;
/// Packet type of a goodbye (RFC 3550 §6.6).
pub const GOODBYE: u8 = 203;
/// Packet type of an application-defined packet (RFC 3550 §6.7).
pub const APP: u8 = 204;
/// Packet type of a transport-layer feedback message (RFC 4585 §6.2).
pub const TRANSPORT_FEEDBACK: u8 = 205;
/// Packet type of a payload-specific feedback message (RFC 4585 §6.3).
pub const PAYLOAD_FEEDBACK: u8 = 206;

/// Length of the common header.
pub(crate) const HEADER_LEN: usize = 4;
/// The common header and the SSRC behind it: the part of a packet SRTCP leaves in clear (RFC 3711 §3.4).
pub(crate) const HEADER_AND_SSRC_LEN: usize = 8;

/// One packet of a compound, located but not yet interpreted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub(crate) padding: bool,
    /// The 5-bit count field (report count, source count, subtype or FMT depending on the type).
    pub(crate) count: u8,
    pub(crate) packet_type: u8,
    /// The bytes after the common header, padding removed.
    pub(crate) body: &'a [u8],
    /// Offset of the packet's first byte in the compound.
    pub(crate) offset: usize,
    /// Total length of the packet, header and padding included.
    pub(crate) len: usize,
}

impl Frame<'_> {
    /// Offset in the compound of byte `at` of the body.
    pub(crate) fn body_offset(&self, at: usize) -> usize {
        self.offset + HEADER_LEN + at
    }
}

/// Reads the packet at the start of `buf`, which begins at `offset` in the compound.
pub(crate) fn read_frame(buf: &[u8], offset: usize) -> Result<Frame<'_>, RtcpError> {
    let (head, _) = buf
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(RtcpError::truncated(offset, "4-byte RTCP header"))?;
    check_version(head[0], offset)?;
    let len = (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1) * 4;
    let packet = buf.get(..len).ok_or(RtcpError::truncated(
        offset + 2,
        "packet length inside the compound",
    ))?;
    let padding = head[0] & 0x20 != 0;
    let mut body = packet.get(HEADER_LEN..).unwrap_or_default();
    if padding {
        let count = usize::from(body.last().copied().unwrap_or(0));
        if count == 0 || count > body.len() {
            return Err(RtcpError::new(
                offset + len - 1,
                RtcpErrorKind::Padding,
                "padding count between 1 and the packet body length",
            ));
        }
        body = body.get(..body.len() - count).unwrap_or_default();
    }
    Ok(Frame {
        padding,
        count: head[0] & 0x1f,
        packet_type: head[1],
        body,
        offset,
        len,
    })
}

/// The SSRC in bytes 4 to 7 of the first packet of `buf` (every packet type a compound may start with
/// carries its sender's SSRC there), after checking the version.
///
/// Nothing past byte 8 is read, so this works on an SRTCP packet whose body is still encrypted.
pub(crate) fn first_ssrc(buf: &[u8]) -> Result<u32, RtcpError> {
    let (head, rest) = buf
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(RtcpError::truncated(0, "4-byte RTCP header"))?;
    check_version(head[0], 0)?;
    let ssrc = rest.first_chunk::<4>().ok_or(RtcpError::truncated(
        HEADER_LEN,
        "SSRC after the RTCP header",
    ))?;
    Ok(u32::from_be_bytes(*ssrc))
}

fn check_version(first: u8, offset: usize) -> Result<(), RtcpError> {
    match first >> 6 {
        2 => Ok(()),
        version => Err(RtcpError::new(
            offset,
            RtcpErrorKind::Version(version),
            "version 2",
        )),
    }
}

/// Reads a big-endian u32 at `at` in `buf` (callers have checked the length).
pub(crate) fn be_u32(buf: &[u8], at: usize) -> u32 {
    buf.get(at..at + 4)
        .and_then(|b| b.first_chunk::<4>())
        .map_or(0, |b| u32::from_be_bytes(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_fields_and_strips_padding() {
        let buf = [0xa1, 201, 0, 2, 1, 2, 3, 4, 0, 0, 0, 4, 0xff];
        let f = read_frame(&buf, 0).unwrap();
        assert!(f.padding);
        assert_eq!(f.count, 1);
        assert_eq!(f.packet_type, 201);
        assert_eq!(f.body, &[1, 2, 3, 4]);
        assert_eq!(f.len, 12);
    }

    #[test]
    fn rejects_length_past_end_with_offset_of_length_field() {
        let buf = [0x80, 201, 0, 5, 0, 0, 0, 0];
        let err = read_frame(&buf, 8).unwrap_err();
        assert_eq!(err.kind, RtcpErrorKind::Truncated);
        assert_eq!(err.offset, 10);
    }

    #[test]
    fn rejects_padding_count_larger_than_body() {
        let buf = [0xa0, 201, 0, 1, 0, 0, 0, 5];
        assert_eq!(
            read_frame(&buf, 0).unwrap_err().kind,
            RtcpErrorKind::Padding
        );
    }

    #[test]
    fn rejects_zero_padding_count() {
        let buf = [0xa0, 201, 0, 1, 0, 0, 0, 0];
        let err = read_frame(&buf, 0).unwrap_err();
        assert_eq!(err.kind, RtcpErrorKind::Padding);
        assert_eq!(err.offset, 7);
    }

    #[test]
    fn first_ssrc_reads_only_the_clear_prefix() {
        // A length field pointing far past the end does not matter: only 8 bytes are read.
        let buf = [0x81, 200, 0xff, 0xff, 1, 2, 3, 4, 0xee];
        assert_eq!(first_ssrc(&buf), Ok(0x0102_0304));
        let err = first_ssrc(&buf[..7]).unwrap_err();
        assert_eq!((err.kind, err.offset), (RtcpErrorKind::Truncated, 4));
        assert_eq!(first_ssrc(&buf[..3]).unwrap_err().offset, 0);
        assert_eq!(
            first_ssrc(&[0xc0; 8]).unwrap_err().kind,
            RtcpErrorKind::Version(3)
        );
    }

    #[test]
    fn rejects_version_one() {
        let buf = [0x40, 201, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            read_frame(&buf, 0).unwrap_err().kind,
            RtcpErrorKind::Version(1)
        );
    }
}
