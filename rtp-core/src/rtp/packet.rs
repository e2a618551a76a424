//! The zero-copy RTP packet view (RFC 3550 §5.1).

use std::ops::Range;

use super::error::{RtpError, RtpErrorKind};
use super::extension::HeaderExtension;

/// Length of the fixed RTP header, before CSRCs and extension.
pub const FIXED_HEADER_LEN: usize = 12;

/// The only RTP version this crate speaks (RFC 3550 §5.1).
pub const RTP_VERSION: u8 = 2;

/// The header fields [`header_len`] and [`RtpPacket::parse_header`] both need.
struct Layout<'a> {
    fixed: &'a [u8; FIXED_HEADER_LEN],
    csrc: &'a [u8],
    extension: Option<HeaderExtension<'a>>,
    header_len: usize,
}

fn layout(buf: &[u8]) -> Result<Layout<'_>, RtpError> {
    let (fixed, rest) = buf
        .split_first_chunk::<FIXED_HEADER_LEN>()
        .ok_or(RtpError::truncated(0, "12-byte fixed header"))?;
    let version = fixed[0] >> 6;
    if version != RTP_VERSION {
        return Err(RtpError::new(
            0,
            RtpErrorKind::Version(version),
            "version 2",
        ));
    }
    let csrc_len = usize::from(fixed[0] & 0x0f) * 4;
    let (csrc, rest) = rest.split_at_checked(csrc_len).ok_or(RtpError::truncated(
        FIXED_HEADER_LEN,
        "CSRC list of CC entries",
    ))?;
    let mut header_len = FIXED_HEADER_LEN + csrc_len;
    let extension = if fixed[0] & 0x10 != 0 {
        let (ext, ext_len) = HeaderExtension::parse(rest, header_len)?;
        header_len += ext_len;
        Some(ext)
    } else {
        None
    };
    Ok(Layout {
        fixed,
        csrc,
        extension,
        header_len,
    })
}

/// Length of the RTP header at the start of `buf`: fixed header, CSRC list and header extension, without
/// looking at padding or payload.
///
/// It validates the version and that the CSRC list and extension fit in `buf`, like
/// [`RtpPacket::parse_header`], which also gives the header's fields.
pub fn header_len(buf: &[u8]) -> Result<usize, RtpError> {
    layout(buf).map(|l| l.header_len)
}

/// A parsed RTP packet borrowing the buffer it was parsed from.
///
/// Parsing reads the fixed header once and records where the CSRC list, extension, payload and padding are;
/// accessors are then free. Nothing is copied or allocated. When the packet lives in a `bytes::Bytes`, slice it
/// with [`payload_range`](Self::payload_range) to keep the payload without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    fixed: &'a [u8; FIXED_HEADER_LEN],
    csrc: &'a [u8],
    extension: Option<HeaderExtension<'a>>,
    payload: &'a [u8],
    header_len: usize,
    padding_len: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parses and validates an RTP packet: version 2, CSRC list and extension inside the packet, and when the
    /// padding bit is set, a padding count between 1 and the bytes after the header.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let mut packet = Self::parse_header(buf)?;
        if !packet.has_padding() {
            return Ok(packet);
        }
        let body = packet.payload;
        let count = body
            .last()
            .copied()
            .ok_or(RtpError::truncated(buf.len(), "padding count octet"))?;
        if count == 0 || usize::from(count) > body.len() {
            return Err(RtpError::new(
                buf.len().saturating_sub(1),
                RtpErrorKind::Padding,
                "padding count between 1 and the bytes after the header",
            ));
        }
        packet.payload = body
            .get(..body.len() - usize::from(count))
            .unwrap_or_default();
        packet.padding_len = count;
        Ok(packet)
    }

    /// Parses the header only (version 2, CSRC list and extension inside the packet) and takes every byte
    /// after it as the payload, without interpreting padding.
    ///
    /// This is the view of an SRTP packet, whose payload is encrypted: the padding count is ciphertext and
    /// the payload ends with the authentication tag. [`padding_len`](Self::padding_len) is then 0 even when
    /// [`has_padding`](Self::has_padding) is set.
    pub fn parse_header(buf: &'a [u8]) -> Result<Self, RtpError> {
        let layout = layout(buf)?;
        Ok(RtpPacket {
            fixed: layout.fixed,
            csrc: layout.csrc,
            extension: layout.extension,
            payload: buf.get(layout.header_len..).unwrap_or_default(),
            header_len: layout.header_len,
            padding_len: 0,
        })
    }

    /// The version field (always 2 for a parsed packet).
    pub fn version(&self) -> u8 {
        self.fixed[0] >> 6
    }

    /// Whether the padding bit is set.
    pub fn has_padding(&self) -> bool {
        self.fixed[0] & 0x20 != 0
    }

    /// Whether the extension bit is set (then [`extension`](Self::extension) is `Some`).
    pub fn has_extension(&self) -> bool {
        self.fixed[0] & 0x10 != 0
    }

    /// The marker bit (start of a talkspurt for audio, end of a frame for video).
    pub fn marker(&self) -> bool {
        self.fixed[1] & 0x80 != 0
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.fixed[1] & 0x7f
    }

    /// The 16-bit sequence number.
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.fixed[2], self.fixed[3]])
    }

    /// The 32-bit RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.fixed[4], self.fixed[5], self.fixed[6], self.fixed[7]])
    }

    /// The synchronization source.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.fixed[8], self.fixed[9], self.fixed[10], self.fixed[11]])
    }

    /// The number of contributing sources (0 to 15).
    pub fn csrc_count(&self) -> usize {
        self.csrc.len() / 4
    }

    /// The contributing sources, in packet order.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.csrc
            .as_chunks::<4>()
            .0
            .iter()
            .map(|c| u32::from_be_bytes(*c))
    }

    /// The header extension, when the extension bit is set.
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        self.extension
    }

    /// Length of the header: fixed part, CSRC list and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The payload, without header and padding.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Where the payload sits in the parsed buffer (for slicing a `Bytes` without copying).
    pub fn payload_range(&self) -> Range<usize> {
        self.header_len..self.header_len + self.payload.len()
    }

    /// Number of padding octets at the end of the packet, count octet included (0 without padding, and after
    /// [`parse_header`](Self::parse_header)).
    pub fn padding_len(&self) -> usize {
        usize::from(self.padding_len)
    }

    /// Total length of the packet: header, payload and padding.
    pub fn len(&self) -> usize {
        self.header_len + self.payload.len() + self.padding_len()
    }

    /// Always `false`: a parsed packet holds at least its fixed header (present for symmetry with
    /// [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7714 §16.1.1's example packet: PT 0x40 (64), sequence 0xf17b, timestamp 0x8041f8d3, SSRC 0x5501a0b2,
    /// payload "Gallia est omnis divisa in partes tres".
    const RFC7714_PACKET: &[u8] =
        b"\x80\x40\xf1\x7b\x80\x41\xf8\xd3\x55\x01\xa0\xb2Gallia est omnis divisa in partes tres";

    #[test]
    fn parses_fixed_header_fields_of_rfc7714_example() {
        let p = RtpPacket::parse(RFC7714_PACKET).unwrap();
        assert_eq!(p.version(), 2);
        assert!(!p.has_padding() && !p.has_extension() && !p.marker());
        assert_eq!(p.payload_type(), 0x40);
        assert_eq!(p.sequence_number(), 0xf17b);
        assert_eq!(p.timestamp(), 0x8041_f8d3);
        assert_eq!(p.ssrc(), 0x5501_a0b2);
        assert_eq!(p.csrc_count(), 0);
        assert_eq!(p.header_len(), 12);
        assert_eq!(p.payload(), b"Gallia est omnis divisa in partes tres");
        assert_eq!(p.payload_range(), 12..RFC7714_PACKET.len());
        assert_eq!(p.len(), RFC7714_PACKET.len());
    }

    #[test]
    fn parses_marker_and_csrc_list() {
        let mut buf = vec![0x82, 0x80 | 8, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4];
        buf.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 7]);
        buf.extend_from_slice(&[0xd5; 160]);
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload_type(), 8);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![0xaabb_ccdd, 7]);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.payload().len(), 160);
        assert_eq!(header_len(&buf), Ok(20));
    }

    #[test]
    fn strips_padding_from_payload() {
        let mut buf = vec![0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        buf.extend_from_slice(b"abcd");
        buf.extend_from_slice(&[0, 0, 3]);
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.has_padding());
        assert_eq!(p.payload(), b"abcd");
        assert_eq!(p.padding_len(), 3);
        assert_eq!(p.len(), buf.len());
    }

    #[test]
    fn accepts_padding_that_fills_the_whole_body() {
        let buf = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4];
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.payload(), b"");
        assert_eq!(p.padding_len(), 4);
    }

    #[test]
    fn parse_header_leaves_padding_and_trailer_in_the_payload() {
        // Padding bit set, last byte 0: invalid padding for `parse`, ordinary ciphertext for SRTP.
        let buf = [
            0xa0, 0, 0x12, 0x34, 0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 9, 8, 0,
        ];
        let p = RtpPacket::parse_header(&buf).unwrap();
        assert!(p.has_padding());
        assert_eq!((p.sequence_number(), p.ssrc()), (0x1234, 0xcafe_babe));
        assert_eq!(p.payload(), &[9, 8, 0]);
        assert_eq!((p.padding_len(), p.len()), (0, buf.len()));
        assert_eq!(
            RtpPacket::parse(&buf).unwrap_err().kind,
            RtpErrorKind::Padding
        );
    }

    #[test]
    fn rejects_zero_padding_count() {
        let buf = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 0];
        let err = RtpPacket::parse(&buf).unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::Padding);
        assert_eq!(err.offset, 13);
    }

    #[test]
    fn rejects_padding_longer_than_body() {
        let buf = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 3];
        assert_eq!(
            RtpPacket::parse(&buf).unwrap_err().kind,
            RtpErrorKind::Padding
        );
    }

    #[test]
    fn rejects_padding_bit_without_body() {
        let buf = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let err = RtpPacket::parse(&buf).unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::Truncated);
        assert_eq!(err.offset, 12);
    }

    #[test]
    fn rejects_short_fixed_header() {
        let err = RtpPacket::parse(&RFC7714_PACKET[..11]).unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::Truncated);
        assert_eq!(err.offset, 0);
    }

    #[test]
    fn rejects_version_other_than_two() {
        let mut buf = RFC7714_PACKET.to_vec();
        buf[0] = 0x40;
        assert_eq!(
            RtpPacket::parse(&buf).unwrap_err().kind,
            RtpErrorKind::Version(1)
        );
    }

    #[test]
    fn rejects_csrc_list_past_end() {
        let buf = [
            0x83, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2,
        ];
        let err = header_len(&buf).unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::Truncated);
        assert_eq!(err.offset, 12);
    }

    #[test]
    fn header_len_counts_extension_words() {
        let buf = [
            0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 0x10, 0xff, 0, 0, 0x21, 1, 2,
            0,
        ];
        assert_eq!(header_len(&buf), Ok(24));
        assert_eq!(header_len(&buf[..23]).unwrap_err().offset, 16);
    }
}
