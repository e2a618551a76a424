//! Application-defined packets (RFC 3550 §6.7).

use super::error::RtcpError;
use super::header::{Frame, be_u32};

/// A parsed APP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    subtype: u8,
    ssrc: u32,
    name: [u8; 4],
    data: &'a [u8],
}

impl<'a> App<'a> {
    pub(crate) fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        let (head, data) = frame
            .body
            .split_first_chunk::<8>()
            .ok_or(RtcpError::malformed(
                frame.offset + 2,
                "length for SSRC and name",
            ))?;
        Ok(App {
            subtype: frame.count,
            ssrc: be_u32(head, 0),
            name: [head[4], head[5], head[6], head[7]],
            data,
        })
    }

    /// The 5-bit subtype.
    pub fn subtype(&self) -> u8 {
        self.subtype
    }

    /// The SSRC/CSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The four ASCII characters naming the application.
    pub fn name(&self) -> [u8; 4] {
        self.name
    }

    /// The application-dependent data.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}
