//! Why the relay's control plane refused a request.

use tandem_rtp_core::{SdesError, SdpError};

use crate::dtls::DtlsError;
use crate::ice::IceError;

/// Why an offer, answer, delete or query failed. Nothing of the call changes when one is returned, except
/// where a variant says otherwise.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The SDP of a request does not parse.
    #[error("invalid SDP: {0}")]
    InvalidSdp(#[from] SdpError),
    /// A control request lacks something the relay needs (a to-tag in an answer, UTF-8 identifiers).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is missing or wrong.
        reason: &'static str,
    },
    /// No call has this Call-ID.
    #[error("no call with Call-ID {call_id:?}")]
    CallNotFound {
        /// The Call-ID asked for.
        call_id: String,
    },
    /// The call exists but has no leg with this tag.
    #[error("call {call_id:?} has no leg tagged {tag:?}")]
    LegNotFound {
        /// The Call-ID.
        call_id: String,
        /// The tag asked for.
        tag: String,
    },
    /// The answer does not have one media section per offered one (RFC 3264 §6).
    #[error("the answer has {answered} media sections, the offer had {offered}")]
    MediaCountMismatch {
        /// Sections in the offer sent on.
        offered: usize,
        /// Sections in the answer.
        answered: usize,
    },
    /// An offer removed media sections of the session it updates (RFC 3264 §8 only lets offers add sections).
    #[error("the re-offer has {offered} media sections, the session has {existing}")]
    MediaRemoved {
        /// Sections the session already has.
        existing: usize,
        /// Sections in the re-offer.
        offered: usize,
    },
    /// More media sections than the relay handles in one call.
    #[error("too many media sections (at most {limit})")]
    TooManyMedia {
        /// The limit.
        limit: usize,
    },
    /// The relay already holds as many calls as it is configured for.
    #[error("too many calls (at most {limit})")]
    TooManyCalls {
        /// The limit.
        limit: usize,
    },
    /// A section names a connection address that is neither an IP address nor absent.
    #[error("media section {index}: connection address {address:?} is not an IP address")]
    InvalidAddress {
        /// Index of the media section.
        index: usize,
        /// The address as written.
        address: String,
    },
    /// Stripping codecs left a section with none.
    #[error("media section {index}: no codec left after stripping")]
    NoCodecsLeft {
        /// Index of the media section.
        index: usize,
    },
    /// An SDES section offered no `a=crypto` line the relay can use (known suite, no MKI, no session
    /// parameters that change the SRTP transform), or an SDES answer accepted none of ours.
    #[error("media section {index}: no usable a=crypto line")]
    NoUsableCrypto {
        /// Index of the media section.
        index: usize,
    },
    /// The answer keys SRTP differently from the offer (e.g. `RTP/AVP` answered to `RTP/SAVP`).
    #[error("media section {index}: offered {offered}, answered {answered}")]
    ProfileMismatch {
        /// Index of the media section.
        index: usize,
        /// The profile offered.
        offered: super::TransportProtocol,
        /// The profile answered.
        answered: super::TransportProtocol,
    },
    /// A DTLS-SRTP section came without `a=fingerprint` (RFC 8122 requires one).
    #[error("media section {index}: DTLS-SRTP without a=fingerprint")]
    MissingFingerprint {
        /// Index of the media section.
        index: usize,
    },
    /// A DTLS-SRTP section's `a=fingerprint` names an unsupported hash or has the wrong length.
    #[error("media section {index}: {source}")]
    InvalidFingerprint {
        /// Index of the media section.
        index: usize,
        /// What is wrong with it.
        source: DtlsError,
    },
    /// A DTLS-SRTP section's `a=setup` cannot be honoured (`holdconn`, or `actpass` in an answer).
    #[error("media section {index}: unusable a=setup:{setup}")]
    InvalidSetup {
        /// Index of the media section.
        index: usize,
        /// The value as written.
        setup: &'static str,
    },
    /// The target profile needs DTLS-SRTP but the relay has no certificate fingerprint configured.
    #[error("DTLS-SRTP needed but no certificate fingerprint is configured")]
    DtlsUnavailable,
    /// The options contradict each other or the target profile (e.g. `DTLS=off` with `UDP/TLS/RTP/SAVPF`).
    #[error("contradictory media options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: &'static str,
    },
    /// An interface name (the `direction` option) is not configured.
    #[error("unknown interface {name:?}")]
    UnknownInterface {
        /// The name asked for.
        name: String,
    },
    /// The relay configuration cannot work.
    #[error("invalid relay configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// The configured port range holds no RTP/RTCP pair.
    #[error("port range {start}-{end} holds no RTP/RTCP port pair")]
    InvalidPortRange {
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
    /// Every RTP/RTCP port pair is in use.
    #[error("all {pairs} RTP/RTCP port pairs are in use")]
    PortsExhausted {
        /// How many pairs the pool holds.
        pairs: usize,
    },
    /// The ICE agent refused our candidate or the peer's credentials.
    #[error("ICE: {0}")]
    Ice(#[from] IceError),
    /// DTMF injection was asked for a leg whose endpoint accepts no `telephone-event` payload type.
    #[error("call {call_id:?}: no stream towards the other party accepts telephone-event")]
    NoTelephoneEvent {
        /// The Call-ID.
        call_id: String,
    },
    /// No SDES key could be generated.
    #[error("SDES: {0}")]
    Sdes(#[from] SdesError),
}
