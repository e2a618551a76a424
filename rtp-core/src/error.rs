//! The crate's one error type, nesting each layer's own error.

/// Any error from this crate. Each variant wraps the error type of one layer, which carries the details (byte
/// offset, what was expected, …).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An RTP packet is malformed.
    #[error(transparent)]
    Rtp(#[from] crate::rtp::RtpError),
    /// An RTCP packet is malformed.
    #[error(transparent)]
    Rtcp(#[from] crate::rtcp::RtcpError),
    /// SRTP/SRTCP protection or unprotection failed (authentication, replay, …).
    #[error(transparent)]
    Srtp(#[from] crate::srtp::SrtpError),
    /// A session description is malformed or exceeds a limit.
    #[error(transparent)]
    Sdp(#[from] crate::sdp::SdpError),
    /// An SDES `a=crypto` attribute is malformed, or key generation failed.
    #[error(transparent)]
    Sdes(#[from] crate::sdes::SdesError),
    /// An RFC 4733 telephone-event payload is malformed.
    #[error(transparent)]
    TelephoneEvent(#[from] crate::telephone_event::TelephoneEventError),
    /// The Opus codec failed.
    #[cfg(feature = "opus")]
    #[error(transparent)]
    Opus(#[from] crate::opus::OpusError),
}
