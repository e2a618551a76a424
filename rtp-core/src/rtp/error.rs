//! Errors from parsing or building RTP packets.

/// An RTP parse or build failure: where it happened, what kind of failure it is and what was expected there.
///
/// `offset` counts bytes from the start of the packet (or of the output buffer when building).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}: expected {expected}")]
pub struct RtpError {
    /// Byte offset of the failure.
    pub offset: usize,
    /// What kind of failure this is.
    pub kind: RtpErrorKind,
    /// A short description of what was expected at `offset` (e.g. `"12-byte fixed header"`).
    pub expected: &'static str,
}

impl RtpError {
    pub(crate) const fn new(offset: usize, kind: RtpErrorKind, expected: &'static str) -> Self {
        RtpError {
            offset,
            kind,
            expected,
        }
    }

    pub(crate) const fn truncated(offset: usize, expected: &'static str) -> Self {
        Self::new(offset, RtpErrorKind::Truncated, expected)
    }

    pub(crate) const fn buffer_too_small(offset: usize, needed: usize) -> Self {
        Self::new(
            offset,
            RtpErrorKind::BufferTooSmall { needed },
            "room in the output buffer",
        )
    }

    pub(crate) const fn invalid(offset: usize, expected: &'static str) -> Self {
        Self::new(offset, RtpErrorKind::InvalidField, expected)
    }
}

/// The kind of an [`RtpError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpErrorKind {
    /// The packet ends before a field it announces.
    #[error("truncated packet")]
    Truncated,
    /// The version field is not 2.
    #[error("unsupported RTP version {0}")]
    Version(u8),
    /// The padding bit is set but the padding count is zero or longer than the packet body.
    #[error("invalid padding")]
    Padding,
    /// An RFC 8285 header extension element is malformed.
    #[error("malformed header extension")]
    Extension,
    /// The output buffer cannot hold what is being written.
    #[error("output buffer too small ({needed} bytes needed)")]
    BufferTooSmall {
        /// Total bytes the write needs.
        needed: usize,
    },
    /// A value handed to a builder is out of range (payload type over 127, more than 15 CSRCs, …).
    #[error("value out of range")]
    InvalidField,
}
