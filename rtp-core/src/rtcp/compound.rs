//! Compound RTCP packets (RFC 3550 §6.1, validity checks of A.2) and reduced-size RTCP (RFC 5506).

use super::app::App;
use super::bye::Goodbye;
use super::error::{RtcpError, RtcpErrorKind};
use super::feedback::{FMT_FIR, FMT_NACK, FMT_PLI, Feedback, FeedbackKind, Fir, Nack, Pli};
use super::header::{
    APP, Frame, GOODBYE, PAYLOAD_FEEDBACK, RECEIVER_REPORT, SENDER_REPORT, SOURCE_DESCRIPTION,
    TRANSPORT_FEEDBACK, read_frame,
};
use super::receiver_report::ReceiverReport;
use super::sdes::SourceDescription;
use super::sender_report::SenderReport;

/// Most packets accepted in one compound; real compounds hold a handful.
pub const MAX_PACKETS_PER_COMPOUND: usize = 64;

/// Whether a parse accepts reduced-size RTCP (RFC 5506): packets not starting with SR or RR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ReducedSize {
    /// Accept a packet without leading SR/RR when it carries at least one feedback message.
    #[default]
    Accept,
    /// Require every packet to be an RFC 3550 compound starting with SR or RR (no `a=rtcp-rsize`).
    Reject,
}

/// One packet of a compound, interpreted by type.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (202).
    SourceDescription(SourceDescription<'a>),
    /// BYE (203).
    Goodbye(Goodbye<'a>),
    /// APP (204).
    App(App<'a>),
    /// Generic NACK (RTPFB 205, FMT 1).
    Nack(Nack<'a>),
    /// Picture loss indication (PSFB 206, FMT 1).
    Pli(Pli),
    /// Full intra request (PSFB 206, FMT 4).
    Fir(Fir<'a>),
    /// Any other RTPFB or PSFB format.
    Feedback(Feedback<'a>),
    /// A packet type this crate does not interpret (XR, …), kept whole.
    Unknown(UnknownPacket<'a>),
}

impl<'a> RtcpPacket<'a> {
    fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        Ok(match (frame.packet_type, frame.count) {
            (SENDER_REPORT, _) => RtcpPacket::SenderReport(SenderReport::parse(frame)?),
            (RECEIVER_REPORT, _) => RtcpPacket::ReceiverReport(ReceiverReport::parse(frame)?),
            (SOURCE_DESCRIPTION, _) => {
                RtcpPacket::SourceDescription(SourceDescription::parse(frame)?)
            }
            (GOODBYE, _) => RtcpPacket::Goodbye(Goodbye::parse(frame)?),
            (APP, _) => RtcpPacket::App(App::parse(frame)?),
            (TRANSPORT_FEEDBACK, FMT_NACK) => RtcpPacket::Nack(Nack::parse(frame)?),
            (TRANSPORT_FEEDBACK, _) => {
                RtcpPacket::Feedback(Feedback::parse(frame, FeedbackKind::Transport)?)
            }
            (PAYLOAD_FEEDBACK, FMT_PLI) => RtcpPacket::Pli(Pli::parse(frame)?),
            (PAYLOAD_FEEDBACK, FMT_FIR) => RtcpPacket::Fir(Fir::parse(frame)?),
            (PAYLOAD_FEEDBACK, _) => {
                RtcpPacket::Feedback(Feedback::parse(frame, FeedbackKind::PayloadSpecific)?)
            }
            _ => RtcpPacket::Unknown(UnknownPacket {
                packet_type: frame.packet_type,
                count: frame.count,
                body: frame.body,
            }),
        })
    }
}

/// A packet of a type this crate does not interpret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownPacket<'a> {
    packet_type: u8,
    count: u8,
    body: &'a [u8],
}

impl<'a> UnknownPacket<'a> {
    /// The packet type.
    pub fn packet_type(&self) -> u8 {
        self.packet_type
    }

    /// The 5-bit count/subtype field.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// The bytes after the 4-byte header, padding removed.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// A validated compound (or reduced-size) RTCP packet borrowing its buffer.
///
/// ```
/// use tandem_rtp_core::rtcp::{RtcpCompound, RtcpPacket, RtcpWriter};
///
/// let mut buf = [0u8; 1500];
/// let mut writer = RtcpWriter::new(&mut buf);
/// writer.receiver_report(0x1111, &[])?;
/// writer.cname(0x1111, b"alice@example.com")?;
/// let len = writer.len();
///
/// let compound = RtcpCompound::parse(&buf[..len])?;
/// for packet in compound.packets() {
///     if let RtcpPacket::SourceDescription(sdes) = packet {
///         assert_eq!(sdes.chunks().next().and_then(|c| c.cname()), Some(&b"alice@example.com"[..]));
///     }
/// }
/// # Ok::<(), tandem_rtp_core::rtcp::RtcpError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpCompound<'a> {
    buf: &'a [u8],
    packet_count: usize,
    reduced_size: bool,
}

impl<'a> RtcpCompound<'a> {
    /// Parses and validates `buf`, accepting reduced-size RTCP (see [`ReducedSize::Accept`]).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Self::parse_with(buf, ReducedSize::Accept)
    }

    /// Parses and validates `buf`: every header is version 2, lengths add up to exactly `buf`, only the last
    /// packet is padded, every packet's body matches its type, at most [`MAX_PACKETS_PER_COMPOUND`] packets,
    /// and the first packet is SR or RR unless `reduced_size` accepts an RFC 5506 packet.
    pub fn parse_with(buf: &'a [u8], reduced_size: ReducedSize) -> Result<Self, RtcpError> {
        let mut offset = 0;
        let mut packet_count = 0;
        let mut has_feedback = false;
        let mut first_type = None;
        while offset < buf.len() {
            if packet_count == MAX_PACKETS_PER_COMPOUND {
                return Err(RtcpError::new(
                    offset,
                    RtcpErrorKind::TooManyPackets {
                        limit: MAX_PACKETS_PER_COMPOUND,
                    },
                    "end of compound",
                ));
            }
            let rest = buf.get(offset..).unwrap_or_default();
            let frame = read_frame(rest, offset)?;
            if frame.padding && offset + frame.len != buf.len() {
                return Err(RtcpError::new(
                    offset,
                    RtcpErrorKind::Padding,
                    "padding bit only on the last packet",
                ));
            }
            RtcpPacket::parse(&frame)?;
            has_feedback |= matches!(frame.packet_type, TRANSPORT_FEEDBACK | PAYLOAD_FEEDBACK);
            first_type.get_or_insert(frame.packet_type);
            packet_count += 1;
            offset += frame.len;
        }
        let Some(first_type) = first_type else {
            return Err(RtcpError::truncated(0, "at least one RTCP packet"));
        };
        let starts_with_report = matches!(first_type, SENDER_REPORT | RECEIVER_REPORT);
        if !starts_with_report && (reduced_size == ReducedSize::Reject || !has_feedback) {
            return Err(RtcpError::new(
                1,
                RtcpErrorKind::FirstPacket,
                match reduced_size {
                    ReducedSize::Reject => "SR or RR first",
                    ReducedSize::Accept => "SR or RR first, or a feedback message (reduced-size)",
                },
            ));
        }
        Ok(RtcpCompound {
            buf,
            packet_count,
            reduced_size: !starts_with_report,
        })
    }

    /// The packets, in order.
    pub fn packets(&self) -> RtcpPackets<'a> {
        RtcpPackets {
            buf: self.buf,
            offset: 0,
        }
    }

    /// Number of packets in the compound.
    pub fn packet_count(&self) -> usize {
        self.packet_count
    }

    /// Whether this is a reduced-size packet (RFC 5506): it does not start with SR or RR.
    pub fn is_reduced_size(&self) -> bool {
        self.reduced_size
    }

    /// The whole compound as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// Iterator over the packets of a validated [`RtcpCompound`].
#[derive(Debug, Clone)]
pub struct RtcpPackets<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for RtcpPackets<'a> {
    type Item = RtcpPacket<'a>;

    fn next(&mut self) -> Option<RtcpPacket<'a>> {
        let rest = self.buf.get(self.offset..)?;
        if rest.is_empty() {
            return None;
        }
        // The compound was validated when parsed, so neither step fails; stop rather than panic if one did.
        let frame = read_frame(rest, self.offset).ok()?;
        self.offset += frame.len;
        RtcpPacket::parse(&frame).ok()
    }
}

/// Whether a datagram on a multiplexed RTP/RTCP port (RFC 5761 §4) is RTCP: version 2 and a second byte in
/// 192–223 (which RTP payload types 64–95 with the marker bit would also give; those are not used with mux).
pub fn is_rtcp(buf: &[u8]) -> bool {
    match buf {
        [first, second, ..] => first >> 6 == 2 && (192..=223).contains(second),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RR with no blocks, SSRC 0x11223344.
    const RR: [u8; 8] = [0x80, 201, 0, 1, 0x11, 0x22, 0x33, 0x44];
    /// PLI from 1 about 2.
    const PLI: [u8; 12] = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];

    fn join(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn iterates_packets_of_a_compound() {
        let buf = join(&[&RR, &PLI]);
        let c = RtcpCompound::parse(&buf).unwrap();
        assert_eq!(c.packet_count(), 2);
        assert!(!c.is_reduced_size());
        let packets: Vec<_> = c.packets().collect();
        assert!(matches!(packets[0], RtcpPacket::ReceiverReport(rr) if rr.ssrc() == 0x1122_3344));
        assert_eq!(
            packets[1],
            RtcpPacket::Pli(Pli {
                sender_ssrc: 1,
                media_ssrc: 2
            })
        );
    }

    #[test]
    fn accepts_reduced_size_feedback_alone() {
        let c = RtcpCompound::parse(&PLI).unwrap();
        assert!(c.is_reduced_size());
        assert_eq!(c.packets().count(), 1);
    }

    #[test]
    fn rejects_reduced_size_when_told_to() {
        let err = RtcpCompound::parse_with(&PLI, ReducedSize::Reject).unwrap_err();
        assert_eq!(err.kind, RtcpErrorKind::FirstPacket);
    }

    #[test]
    fn rejects_compound_starting_with_sdes_and_no_feedback() {
        let sdes = [0x81, 202, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0];
        let buf = join(&[&sdes, &RR]);
        let err = RtcpCompound::parse(&buf).unwrap_err();
        assert_eq!(err.kind, RtcpErrorKind::FirstPacket);
    }

    #[test]
    fn rejects_empty_input() {
        assert_eq!(
            RtcpCompound::parse(&[]).unwrap_err().kind,
            RtcpErrorKind::Truncated
        );
    }

    #[test]
    fn rejects_padding_on_a_packet_other_than_the_last() {
        let padded_rr = [0xa0, 201, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4];
        let buf = join(&[&padded_rr, &PLI]);
        let err = RtcpCompound::parse(&buf).unwrap_err();
        assert_eq!((err.kind, err.offset), (RtcpErrorKind::Padding, 0));
    }

    #[test]
    fn accepts_padding_on_the_last_packet() {
        let padded_pli = [0xa1, 206, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4];
        let buf = join(&[&RR, &padded_pli]);
        let c = RtcpCompound::parse(&buf).unwrap();
        assert!(matches!(c.packets().nth(1), Some(RtcpPacket::Pli(_))));
    }

    #[test]
    fn rejects_trailing_bytes_shorter_than_a_header() {
        let buf = join(&[&RR, &[0x80, 201]]);
        let err = RtcpCompound::parse(&buf).unwrap_err();
        assert_eq!((err.kind, err.offset), (RtcpErrorKind::Truncated, 8));
    }

    #[test]
    fn rejects_report_count_beyond_length_with_offset_of_packet() {
        let bad_rr = [0x81, 201, 0, 1, 0, 0, 0, 1];
        let buf = join(&[&RR, &bad_rr]);
        let err = RtcpCompound::parse(&buf).unwrap_err();
        assert_eq!((err.kind, err.offset), (RtcpErrorKind::Malformed, 10));
    }

    #[test]
    fn rejects_pli_with_fci() {
        let bad = [0x81, 206, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0];
        let err = RtcpCompound::parse(&bad).unwrap_err();
        assert_eq!((err.kind, err.offset), (RtcpErrorKind::Malformed, 12));
    }

    #[test]
    fn rejects_more_packets_than_the_limit() {
        let buf: Vec<u8> = RR.repeat(MAX_PACKETS_PER_COMPOUND + 1);
        let err = RtcpCompound::parse(&buf).unwrap_err();
        assert_eq!(err.offset, MAX_PACKETS_PER_COMPOUND * RR.len());
        assert!(RtcpCompound::parse(&buf[..buf.len() - RR.len()]).is_ok());
    }

    #[test]
    fn keeps_unknown_packet_types() {
        let xr = [0x80, 207, 0, 2, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd];
        let buf = join(&[&RR, &xr]);
        let c = RtcpCompound::parse(&buf).unwrap();
        let Some(RtcpPacket::Unknown(u)) = c.packets().nth(1) else {
            panic!("expected an unknown packet");
        };
        assert_eq!(u.packet_type(), 207);
        assert_eq!(u.body(), &[0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn tells_rtcp_from_rtp_on_a_muxed_port() {
        assert!(is_rtcp(&RR));
        assert!(is_rtcp(&PLI));
        assert!(!is_rtcp(&[0x80, 0x00, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0x80 | 96, 0, 1]));
        assert!(!is_rtcp(&[0x80]));
    }
}
