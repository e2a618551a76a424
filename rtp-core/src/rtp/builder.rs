//! Writing RTP headers (and whole packets) into a caller's buffer, without allocating.

use super::error::RtpError;
use super::extension::{self, ExtensionElement, ExtensionForm, put};
use super::packet::{FIXED_HEADER_LEN, RTP_VERSION};

/// What the builder writes as header extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extension<'a> {
    None,
    Elements(ExtensionForm, &'a [ExtensionElement<'a>]),
    Raw { profile: u16, data: &'a [u8] },
}

/// Describes an RTP header and writes it into a caller-supplied buffer.
///
/// ```
/// use tandem_rtp_core::rtp::{ExtensionElement, ExtensionForm, RtpHeaderBuilder, RtpPacket};
///
/// let audio_level = [ExtensionElement::new(1, &[0x85])];
/// let mut buf = [0u8; 1500];
/// let len = RtpHeaderBuilder::new(0, 1000, 160_000, 0x1234_5678)
///     .marker(true)
///     .extension(ExtensionForm::OneByte, &audio_level)
///     .write_packet(&mut buf, &[0xff; 160])?;
/// let packet = RtpPacket::parse(&buf[..len])?;
/// assert_eq!(packet.extension().and_then(|e| e.get(1)), Some(&[0x85][..]));
/// # Ok::<(), tandem_rtp_core::rtp::RtpError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeaderBuilder<'a> {
    marker: bool,
    payload_type: u8,
    sequence_number: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: &'a [u32],
    extension: Extension<'a>,
    padding: u8,
}

impl<'a> RtpHeaderBuilder<'a> {
    /// A header with the given payload type (0–127), sequence number, timestamp and SSRC; no marker, CSRC,
    /// extension or padding.
    pub const fn new(payload_type: u8, sequence_number: u16, timestamp: u32, ssrc: u32) -> Self {
        RtpHeaderBuilder {
            marker: false,
            payload_type,
            sequence_number,
            timestamp,
            ssrc,
            csrcs: &[],
            extension: Extension::None,
            padding: 0,
        }
    }

    /// Sets the marker bit.
    pub const fn marker(mut self, marker: bool) -> Self {
        self.marker = marker;
        self
    }

    /// Sets the contributing sources (at most 15).
    pub const fn csrcs(mut self, csrcs: &'a [u32]) -> Self {
        self.csrcs = csrcs;
        self
    }

    /// Adds an RFC 8285 header extension carrying `elements` in `form` (see [`ExtensionForm::fitting`]).
    pub const fn extension(
        mut self,
        form: ExtensionForm,
        elements: &'a [ExtensionElement<'a>],
    ) -> Self {
        self.extension = Extension::Elements(form, elements);
        self
    }

    /// Adds a header extension with any profile value and raw `data` (a multiple of 4 bytes), as when relaying
    /// an extension unchanged.
    pub const fn raw_extension(mut self, profile: u16, data: &'a [u8]) -> Self {
        self.extension = Extension::Raw { profile, data };
        self
    }

    /// Asks for `padding` octets after the payload (count octet included; 0 for none). The header then has its
    /// padding bit set; [`write_packet`](Self::write_packet) writes the padding, a caller using only
    /// [`write_header`](Self::write_header) must append it.
    pub const fn padding(mut self, padding: u8) -> Self {
        self.padding = padding;
        self
    }

    /// Length of the header this builder writes, after checking every field is in range.
    pub fn header_len(&self) -> Result<usize, RtpError> {
        if self.payload_type > 0x7f {
            return Err(RtpError::invalid(1, "payload type 0-127"));
        }
        if self.csrcs.len() > 15 {
            return Err(RtpError::invalid(0, "at most 15 CSRCs"));
        }
        let base = FIXED_HEADER_LEN + 4 * self.csrcs.len();
        let ext_len = match self.extension {
            Extension::None => 0,
            Extension::Elements(form, elements) => {
                extension::check_elements(form, elements, base)?;
                extension::elements_len(form, elements)
            }
            Extension::Raw { data, .. } => {
                if !data.len().is_multiple_of(4) || data.len() / 4 > usize::from(u16::MAX) {
                    return Err(RtpError::invalid(
                        base,
                        "extension data of a whole number of 32-bit words, at most 65535",
                    ));
                }
                4 + data.len()
            }
        };
        Ok(base + ext_len)
    }

    /// Writes the header at the start of `buf` and returns its length.
    pub fn write_header(&self, buf: &mut [u8]) -> Result<usize, RtpError> {
        let len = self.header_len()?;
        let out = buf
            .get_mut(..len)
            .ok_or(RtpError::buffer_too_small(0, len))?;
        self.write_checked(out);
        Ok(len)
    }

    /// Writes header, `payload` and the requested padding at the start of `buf`; returns the packet length.
    pub fn write_packet(&self, buf: &mut [u8], payload: &[u8]) -> Result<usize, RtpError> {
        let header_len = self.header_len()?;
        let padding = usize::from(self.padding);
        let total = header_len + payload.len() + padding;
        let out = buf
            .get_mut(..total)
            .ok_or(RtpError::buffer_too_small(0, total))?;
        let (header, body) = out.split_at_mut(header_len);
        self.write_checked(header);
        let (payload_out, padding_out) = body.split_at_mut(payload.len());
        payload_out.copy_from_slice(payload);
        if let Some((count, zeros)) = padding_out.split_last_mut() {
            zeros.fill(0);
            *count = self.padding;
        }
        Ok(total)
    }

    /// Writes the header into `out`, which is exactly [`header_len`](Self::header_len) bytes.
    fn write_checked(&self, out: &mut [u8]) {
        let has_extension = !matches!(self.extension, Extension::None);
        let first = (RTP_VERSION << 6)
            | (u8::from(self.padding > 0) << 5)
            | (u8::from(has_extension) << 4)
            | self.csrcs.len() as u8;
        let second = (u8::from(self.marker) << 7) | self.payload_type;
        let mut pos = put(out, 0, &[first, second]);
        pos = put(out, pos, &self.sequence_number.to_be_bytes());
        pos = put(out, pos, &self.timestamp.to_be_bytes());
        pos = put(out, pos, &self.ssrc.to_be_bytes());
        for csrc in self.csrcs {
            pos = put(out, pos, &csrc.to_be_bytes());
        }
        let Some(rest) = out.get_mut(pos..) else {
            return;
        };
        match self.extension {
            Extension::None => {}
            Extension::Elements(form, elements) => extension::write_elements(rest, form, elements),
            Extension::Raw { profile, data } => {
                let words = (data.len() / 4) as u16;
                let pos = put(rest, 0, &profile.to_be_bytes());
                let pos = put(rest, pos, &words.to_be_bytes());
                put(rest, pos, data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::RtpErrorKind;
    use super::super::packet::RtpPacket;
    use super::*;

    #[test]
    fn writes_rfc7714_example_header() {
        let mut buf = [0u8; 12];
        let len = RtpHeaderBuilder::new(0x40, 0xf17b, 0x8041_f8d3, 0x5501_a0b2)
            .write_header(&mut buf)
            .unwrap();
        assert_eq!(len, 12);
        assert_eq!(
            buf,
            [
                0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2
            ]
        );
    }

    #[test]
    fn writes_csrcs_marker_extension_and_padding() {
        let elements = [ExtensionElement::new(3, &[1, 2, 3])];
        let mut buf = [0xeeu8; 64];
        let len = RtpHeaderBuilder::new(96, 7, 8, 9)
            .marker(true)
            .csrcs(&[0x0102_0304])
            .extension(ExtensionForm::OneByte, &elements)
            .padding(4)
            .write_packet(&mut buf, b"xy")
            .unwrap();
        let expected = [
            0xb1, 0xe0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9, // fixed header: V=2 P X CC=1, M PT=96
            1, 2, 3, 4, // CSRC
            0xbe, 0xde, 0, 1, 0x32, 1, 2, 3, // one-byte extension, one word
            b'x', b'y', 0, 0, 0, 4, // payload and padding
        ];
        assert_eq!(&buf[..len], &expected);
        let p = RtpPacket::parse(&buf[..len]).unwrap();
        assert_eq!(p.payload(), b"xy");
    }

    #[test]
    fn writes_raw_extension_unchanged() {
        let mut buf = [0u8; 24];
        let len = RtpHeaderBuilder::new(0, 0, 0, 0)
            .raw_extension(0xabcd, &[1, 2, 3, 4])
            .write_header(&mut buf)
            .unwrap();
        assert_eq!(&buf[12..len], &[0xab, 0xcd, 0, 1, 1, 2, 3, 4]);
    }

    #[test]
    fn rejects_payload_type_over_127() {
        let err = RtpHeaderBuilder::new(128, 0, 0, 0)
            .write_header(&mut [0; 12])
            .unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::InvalidField);
    }

    #[test]
    fn rejects_sixteen_csrcs() {
        let csrcs = [0u32; 16];
        assert!(
            RtpHeaderBuilder::new(0, 0, 0, 0)
                .csrcs(&csrcs)
                .header_len()
                .is_err()
        );
    }

    #[test]
    fn rejects_element_that_does_not_fit_the_form() {
        let elements = [ExtensionElement::new(15, &[1])];
        let err = RtpHeaderBuilder::new(0, 0, 0, 0)
            .extension(ExtensionForm::OneByte, &elements)
            .header_len()
            .unwrap_err();
        assert_eq!(err.offset, 12);
    }

    #[test]
    fn rejects_raw_extension_not_word_aligned() {
        let err = RtpHeaderBuilder::new(0, 0, 0, 0)
            .raw_extension(1, &[1, 2, 3])
            .header_len()
            .unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::InvalidField);
    }

    #[test]
    fn reports_needed_size_when_buffer_is_short() {
        let err = RtpHeaderBuilder::new(0, 0, 0, 0)
            .write_packet(&mut [0; 20], &[0; 10])
            .unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::BufferTooSmall { needed: 22 });
    }
}
