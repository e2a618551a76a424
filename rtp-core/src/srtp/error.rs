//! The one error type of the SRTP layer.

use thiserror::Error;

use crate::rtcp::RtcpError;
use crate::rtp::RtpError;

/// Why an SRTP or SRTCP packet could not be protected or unprotected, or a context not built.
///
/// On any error the packet is dropped: the context state (rollover counter, replay window, SRTCP
/// index) is left as it was, but the bytes of the caller's buffer may have been changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The packet ends before a field SRTP adds (authentication tag, SRTCP index).
    #[error("packet too short: {expected} needed at byte {offset}")]
    TooShort {
        /// Byte offset at which the missing field should have been.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// The RTP header is malformed (version, CSRC list or extension past the end), so the packet
    /// cannot be SRTP.
    #[error("SRTP packet: {0}")]
    Rtp(#[from] RtpError),
    /// The first 8 bytes (RTCP header and SSRC, the part SRTCP leaves in clear) are malformed.
    #[error("SRTCP packet: {0}")]
    Rtcp(#[from] RtcpError),
    /// The caller's buffer cannot hold the packet plus the authentication trailer, or `len`
    /// exceeds the buffer.
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the operation needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The authentication tag does not match: forged, corrupted, or protected with other keys.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// A packet with this index was already accepted (RFC 3711 §3.3.2).
    #[error("packet index {index} replayed")]
    Replayed {
        /// The SRTP packet index (48 bits) or SRTCP index (31 bits).
        index: u64,
    },
    /// The packet is older than the replay window, or predates the first packet of its stream.
    #[error("packet index {index} is behind the replay window")]
    TooOld {
        /// The packet's estimated index (its sequence number when it predates the stream).
        index: u64,
    },
    /// The SRTP (2^48) or SRTCP (2^31) index space of these keys is used up: rekey.
    #[error("packet index space exhausted, the master key must be replaced")]
    IndexExhausted,
    /// A new SSRC was seen while the context already tracks its maximum number of streams.
    #[error("too many SSRCs in one context (limit {limit})")]
    TooManyStreams {
        /// The configured limit.
        limit: usize,
    },
    /// The master key length does not match the profile.
    #[error("master key must be {expected} bytes, got {actual}")]
    MasterKeyLength {
        /// Length the profile requires.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// The master salt length does not match the profile.
    #[error("master salt must be {expected} bytes, got {actual}")]
    MasterSaltLength {
        /// Length the profile requires.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// The replay window size is outside `1..=32768`.
    #[error("replay window of {size} packets is outside 1..=32768")]
    ReplayWindowSize {
        /// The size asked for.
        size: usize,
    },
    /// The crypto provider refused a key or an operation (not an authentication failure).
    #[error("crypto provider failure: {0}")]
    Crypto(&'static str),
}
