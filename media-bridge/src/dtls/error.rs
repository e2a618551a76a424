//! Why a DTLS-SRTP setup step or handshake failed.

use bytestring::ByteString;
use tandem_rtp_core::srtp::{SrtpError, SrtpProfile};

/// A DTLS-SRTP error: a bad configuration or fingerprint, or the reason a handshake failed
/// (carried by [`DtlsEvent::Failed`](super::DtlsEvent::Failed)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtlsError {
    /// Generating the key pair or self-signed certificate failed (no system randomness).
    #[error("generating the DTLS certificate failed: {0}")]
    CertificateGeneration(#[source] rcgen::Error),
    /// The DTLS engine refused the configuration (e.g. an MTU below 64 bytes).
    #[error("DTLS configuration refused: {0}")]
    Config(#[source] dimpl::Error),
    /// An `a=fingerprint` names a hash function other than SHA-1/224/256/384/512.
    #[error("unsupported fingerprint hash function {name:?} (RFC 8122 §5)")]
    UnsupportedHashFunction {
        /// The hash function token as written in SDP.
        name: ByteString,
    },
    /// An `a=fingerprint` digest does not have the length of its hash function.
    #[error("{hash_function} fingerprint of {actual} bytes, expected {expected}")]
    FingerprintLength {
        /// The hash function token.
        hash_function: &'static str,
        /// The digest length of that hash function.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// The certificate the peer presented does not match the fingerprint from its SDP.
    #[error("the peer's certificate does not match its a=fingerprint (RFC 8122 §5)")]
    FingerprintMismatch,
    /// The handshake completed without the peer presenting a certificate.
    #[error("the peer presented no certificate")]
    MissingPeerCertificate,
    /// The handshake completed without an SRTP protection profile: the peer offered none that
    /// both sides support (RFC 5764 §4.1.1).
    #[error("no common SRTP protection profile (RFC 5764 §4.1.1)")]
    NoSrtpProfile,
    /// The negotiated protection profile is one `tandem-rtp-core` does not implement.
    #[error("the negotiated SRTP protection profile is not supported")]
    UnsupportedSrtpProfile,
    /// The peer sent more handshake bytes than any real handshake needs.
    #[error("handshake input exceeds {limit} bytes")]
    HandshakeTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The handshake did not complete in time, or a flight was retransmitted as often as
    /// allowed without an answer.
    #[error("DTLS handshake timed out")]
    Timeout,
    /// The peer closed the association before the handshake completed.
    #[error("the peer closed the DTLS association during the handshake")]
    PeerClosed,
    /// The DTLS engine failed the handshake: an alert from the peer, a bad signature, no common
    /// cipher suite, …
    #[error("DTLS handshake failed: {0}")]
    Handshake(#[source] dimpl::Error),
    /// An SRTP policy for another profile than the negotiated one was given.
    #[error("SRTP policy for {policy:?}, but {negotiated:?} was negotiated")]
    PolicyProfile {
        /// The negotiated profile.
        negotiated: SrtpProfile,
        /// The profile of the policy given.
        policy: SrtpProfile,
    },
    /// Building an SRTP context from the exported keys failed.
    #[error(transparent)]
    Srtp(#[from] SrtpError),
}

impl DtlsError {
    /// Maps a fatal engine error to its cause.
    pub(crate) fn from_engine(error: dimpl::Error) -> Self {
        match error {
            dimpl::Error::Timeout(_) => DtlsError::Timeout,
            dimpl::Error::ConnectionClosed => DtlsError::PeerClosed,
            other => DtlsError::Handshake(other),
        }
    }
}
