//! Receiver reports (RFC 3550 §6.4.2).

use super::error::RtcpError;
use super::header::{Frame, be_u32};
use super::report_block::{REPORT_BLOCK_LEN, ReportBlocks};

/// A parsed receiver report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    ssrc: u32,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(crate) fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        let short =
            || RtcpError::malformed(frame.offset + 2, "length for SSRC and RC report blocks");
        let blocks_len = usize::from(frame.count) * REPORT_BLOCK_LEN;
        let (head, rest) = frame.body.split_at_checked(4).ok_or_else(short)?;
        let (blocks, extension) = rest.split_at_checked(blocks_len).ok_or_else(short)?;
        Ok(ReceiverReport {
            ssrc: be_u32(head, 0),
            blocks,
            extension,
        })
    }

    /// The SSRC of the packet sender.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
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
