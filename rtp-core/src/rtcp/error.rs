//! Errors from parsing or building RTCP packets.

/// An RTCP parse or build failure: where it happened, what kind of failure it is and what was expected there.
///
/// `offset` counts bytes from the start of the compound packet (or of the output buffer when building).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}: expected {expected}")]
pub struct RtcpError {
    /// Byte offset of the failure.
    pub offset: usize,
    /// What kind of failure this is.
    pub kind: RtcpErrorKind,
    /// A short description of what was expected at `offset` (e.g. `"SR or RR first"`).
    pub expected: &'static str,
}

impl RtcpError {
    pub(crate) const fn new(offset: usize, kind: RtcpErrorKind, expected: &'static str) -> Self {
        RtcpError {
            offset,
            kind,
            expected,
        }
    }

    pub(crate) const fn truncated(offset: usize, expected: &'static str) -> Self {
        Self::new(offset, RtcpErrorKind::Truncated, expected)
    }

    pub(crate) const fn malformed(offset: usize, expected: &'static str) -> Self {
        Self::new(offset, RtcpErrorKind::Malformed, expected)
    }

    pub(crate) const fn buffer_too_small(offset: usize, needed: usize) -> Self {
        Self::new(
            offset,
            RtcpErrorKind::BufferTooSmall { needed },
            "room in the output buffer",
        )
    }

    pub(crate) const fn invalid(offset: usize, expected: &'static str) -> Self {
        Self::new(offset, RtcpErrorKind::InvalidField, expected)
    }
}

/// The kind of an [`RtcpError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpErrorKind {
    /// The input ends before a header or the length a header announces.
    #[error("truncated packet")]
    Truncated,
    /// The version field is not 2.
    #[error("unsupported RTCP version {0}")]
    Version(u8),
    /// Padding on a packet other than the last, or a padding count of zero or longer than the packet.
    #[error("invalid padding")]
    Padding,
    /// A compound packet that starts with neither SR nor RR and is not an acceptable reduced-size packet.
    #[error("invalid first packet")]
    FirstPacket,
    /// More packets in one compound than [`MAX_PACKETS_PER_COMPOUND`](crate::rtcp::MAX_PACKETS_PER_COMPOUND).
    #[error("more than {limit} packets in a compound")]
    TooManyPackets {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A packet's body does not match its type: count and length disagree, an SDES item runs past its chunk,
    /// a feedback message has the wrong FCI size, …
    #[error("malformed packet body")]
    Malformed,
    /// The output buffer cannot hold what is being written.
    #[error("output buffer too small ({needed} bytes needed)")]
    BufferTooSmall {
        /// Total bytes the write needs.
        needed: usize,
    },
    /// A value handed to the writer is out of range (more than 31 report blocks, a reason over 255 bytes, …).
    #[error("value out of range")]
    InvalidField,
}
