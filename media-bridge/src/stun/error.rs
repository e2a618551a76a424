//! Errors from parsing, verifying or writing STUN messages.

/// A STUN parse, verification or write failure: where it happened, what kind it is and what was expected.
///
/// `offset` counts bytes from the start of the message (or of the output buffer when writing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}: expected {expected}")]
pub struct StunError {
    /// Byte offset of the failure.
    pub offset: usize,
    /// What kind of failure this is.
    pub kind: StunErrorKind,
    /// A short description of what was expected at `offset` (e.g. `"4-byte PRIORITY value"`).
    pub expected: &'static str,
}

impl StunError {
    pub(crate) const fn new(offset: usize, kind: StunErrorKind, expected: &'static str) -> Self {
        StunError {
            offset,
            kind,
            expected,
        }
    }

    pub(crate) const fn truncated(offset: usize, expected: &'static str) -> Self {
        Self::new(offset, StunErrorKind::Truncated, expected)
    }

    pub(crate) const fn invalid(offset: usize, expected: &'static str) -> Self {
        Self::new(offset, StunErrorKind::InvalidValue, expected)
    }

    pub(crate) const fn buffer_too_small(offset: usize, needed: usize) -> Self {
        Self::new(
            offset,
            StunErrorKind::BufferTooSmall { needed },
            "room in the output buffer",
        )
    }
}

/// The kind of a [`StunError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StunErrorKind {
    /// The message ends before a field it announces.
    #[error("truncated message")]
    Truncated,
    /// The bytes are not a STUN message (top bits set, wrong magic cookie).
    #[error("not a STUN message")]
    NotStun,
    /// The header's message length disagrees with the datagram or is not a multiple of 4.
    #[error("bad message length")]
    Length,
    /// An attribute's length is wrong for its type or runs past the message.
    #[error("bad attribute length")]
    AttributeLength,
    /// An attribute appears where RFC 8489 forbids it (anything after FINGERPRINT).
    #[error("attribute out of order")]
    AttributeOrder,
    /// The message carries more attributes than [`MAX_ATTRIBUTES`](super::MAX_ATTRIBUTES).
    #[error("too many attributes")]
    TooManyAttributes,
    /// An attribute value is malformed (unknown address family, bad UTF-8, error class out of range, …).
    #[error("invalid attribute value")]
    InvalidValue,
    /// The FINGERPRINT attribute does not match the message's CRC-32.
    #[error("fingerprint mismatch")]
    Fingerprint,
    /// The MESSAGE-INTEGRITY attribute does not match the HMAC under the given key.
    #[error("message integrity mismatch")]
    Integrity,
    /// An attribute the operation needs is absent.
    #[error("missing attribute")]
    Missing,
    /// The output buffer cannot hold what is being written.
    #[error("output buffer too small ({needed} bytes needed)")]
    BufferTooSmall {
        /// Total bytes the write needs.
        needed: usize,
    },
}
