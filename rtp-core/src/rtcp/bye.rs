//! Goodbye packets (RFC 3550 §6.6).

use super::error::RtcpError;
use super::header::Frame;

/// A parsed BYE: the sources leaving and an optional reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goodbye<'a> {
    sources: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Goodbye<'a> {
    pub(crate) fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        let (sources, rest) = frame
            .body
            .split_at_checked(usize::from(frame.count) * 4)
            .ok_or(RtcpError::malformed(
                frame.offset + 2,
                "length for SC SSRC/CSRCs",
            ))?;
        let Some((&len, text)) = rest.split_first() else {
            return Ok(Goodbye {
                sources,
                reason: None,
            });
        };
        let at = frame.body_offset(sources.len());
        let (reason, padding) = text
            .split_at_checked(usize::from(len))
            .ok_or(RtcpError::malformed(at, "reason text inside the packet"))?;
        // The reason is padded with up to 3 octets to the 32-bit boundary.
        if padding.len() > 3 {
            return Err(RtcpError::malformed(
                at + 1 + reason.len() + 3,
                "end of packet after the reason",
            ));
        }
        Ok(Goodbye {
            sources,
            reason: Some(reason),
        })
    }

    /// The SSRC/CSRCs leaving.
    pub fn sources(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.sources
            .as_chunks::<4>()
            .0
            .iter()
            .map(|c| u32::from_be_bytes(*c))
    }

    /// The reason for leaving, when given (UTF-8 by the RFC, not checked here).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}
