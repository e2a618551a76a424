//! Sender reports (RFC 3550 §6.4.1).

use super::error::RtcpError;
use super::header::{Frame, be_u32};
use super::report_block::{NtpTime, REPORT_BLOCK_LEN, ReportBlocks};

/// Length of the sender information section.
pub(crate) const SENDER_INFO_LEN: usize = 20;

/// The sender information section of an SR: what an active sender says about its own stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SenderInfo {
    /// Wall-clock time when the report was sent.
    pub ntp_time: NtpTime,
    /// The same instant in the stream's RTP timestamp units.
    pub rtp_timestamp: u32,
    /// Packets sent since the start of transmission.
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission.
    pub octet_count: u32,
}

impl SenderInfo {
    pub(crate) fn read(b: &[u8]) -> Self {
        let ntp = (u64::from(be_u32(b, 0)) << 32) | u64::from(be_u32(b, 4));
        SenderInfo {
            ntp_time: NtpTime(ntp),
            rtp_timestamp: be_u32(b, 8),
            packet_count: be_u32(b, 12),
            octet_count: be_u32(b, 16),
        }
    }

    pub(crate) fn encode(&self) -> [u8; SENDER_INFO_LEN] {
        let mut out = [0u8; SENDER_INFO_LEN];
        out[0..8].copy_from_slice(&self.ntp_time.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.rtp_timestamp.to_be_bytes());
        out[12..16].copy_from_slice(&self.packet_count.to_be_bytes());
        out[16..20].copy_from_slice(&self.octet_count.to_be_bytes());
        out
    }
}

/// A parsed sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    ssrc: u32,
    sender_info: SenderInfo,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(crate) fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        let short = || {
            RtcpError::malformed(
                frame.offset + 2,
                "length for SSRC, sender info and RC report blocks",
            )
        };
        let blocks_len = usize::from(frame.count) * REPORT_BLOCK_LEN;
        let (head, rest) = frame
            .body
            .split_at_checked(4 + SENDER_INFO_LEN)
            .ok_or_else(short)?;
        let (blocks, extension) = rest.split_at_checked(blocks_len).ok_or_else(short)?;
        Ok(SenderReport {
            ssrc: be_u32(head, 0),
            sender_info: SenderInfo::read(head.get(4..).unwrap_or_default()),
            blocks,
            extension,
        })
    }

    /// The SSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sender information section.
    pub fn sender_info(&self) -> SenderInfo {
        self.sender_info
    }

    /// The reception report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks::new(self.blocks)
    }

    /// Profile-specific extension bytes after the report blocks (usually empty).
    pub fn profile_extension(&self) -> &'a [u8] {
        self.extension
    }
}
