//! What a caller asks of an offer or answer: the requests and the typed options that steer the rewriting.
//!
//! The options follow the flags Kamailio's `rtpengine` module sends over NG, so the NG adapter maps them
//! one to one; Rust callers build them directly.

use std::net::IpAddr;
use std::time::Duration;

use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::srtp::SrtpProfile;
use tandem_rtp_core::telephone_event::DtmfDigit;

use super::TransportProtocol;

/// ICE handling towards the side the rewritten SDP goes to (`ICE=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IceMode {
    /// Offer ICE-lite if the other side used ICE; in an answer, use ICE if the offerer did.
    #[default]
    Default,
    /// Always offer ICE-lite with the relay's host candidate (towards WebRTC).
    Force,
    /// Never: strip every ICE attribute (towards plain SIP equipment).
    Remove,
}

/// DTLS-SRTP handling (`DTLS=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtlsMode {
    /// Offer `a=setup:actpass`; when answering `actpass`, take the role configured in
    /// [`RelayConfig::dtls_answer_role`](super::RelayConfig::dtls_answer_role).
    #[default]
    Default,
    /// Take the passive (server) role: offer `a=setup:passive`, answer `passive` to `actpass`.
    Passive,
    /// Take the active (client) role: offer `a=setup:active`, answer `active` to `actpass`.
    Active,
    /// Do not offer DTLS-SRTP (contradicts a `UDP/TLS/…` target profile).
    Off,
}

/// rtcp-mux handling (RFC 5761), as rtpengine's `rtcp-mux-…` flags.
///
/// Towards the offerer the relay always accepts rtcp-mux when offered (it demultiplexes itself), unless
/// [`RtcpMuxMode::Reject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RtcpMuxMode {
    /// Offer rtcp-mux onwards if the offerer offered it, with a separate RTCP port as fallback.
    #[default]
    Default,
    /// Always offer rtcp-mux onwards, with a separate RTCP port as fallback.
    Offer,
    /// Offer rtcp-mux onwards without a fallback RTCP port, as if already accepted (what WebRTC expects;
    /// RFC 8858 exclusive mux).
    Require,
    /// Accept rtcp-mux from the offerer but do not offer it onwards: the relay demultiplexes.
    Demux,
    /// Accept rtcp-mux and offer it onwards if it was offered (same as [`RtcpMuxMode::Default`]).
    Accept,
    /// Neither accept nor offer rtcp-mux.
    Reject,
}

/// Which address to expect the endpoint's media from before latching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointAddress {
    /// The address in the SDP (`trust-address`, rtpengine's default).
    #[default]
    Sdp,
    /// The source address of the SIP message ([`MediaOptions::received_from`]) with the SDP's ports
    /// (`SIP-source-address`), for endpoints behind NAT that write private addresses.
    SipSource,
}

/// SDES options (`SDES-…`): which suites the relay offers in its own `a=crypto` lines.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesOptions {
    /// `SDES-off`: offer no `a=crypto` at all (contradicts an `RTP/SAVP(F)` target profile).
    pub off: bool,
    /// `SDES-only-SUITE`: when not empty, offer only these suites.
    pub only: Vec<SrtpProfile>,
    /// `SDES-no-SUITE`: never offer these suites.
    pub no: Vec<SrtpProfile>,
}

impl SdesOptions {
    /// Whether `suite` may be offered.
    pub fn allows(&self, suite: SrtpProfile) -> bool {
        !self.off
            && !self.no.contains(&suite)
            && (self.only.is_empty() || self.only.contains(&suite))
    }
}

/// How to rewrite one SDP for the side it goes to, and how to treat that side's media.
///
/// Built from [`Default`] and adjusted field by field:
///
/// ```
/// use tandem_media_bridge::session::{IceMode, MediaOptions, RtcpMuxMode, TransportProtocol};
/// // A WebRTC offer forwarded to a plain SIP phone.
/// let mut towards_sip = MediaOptions::default();
/// towards_sip.transport_protocol = Some(TransportProtocol::RtpAvp);
/// towards_sip.ice = IceMode::Remove;
/// towards_sip.rtcp_mux = RtcpMuxMode::Demux;
/// towards_sip.replace_origin = true;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaOptions {
    /// The profile to write on the `m=` lines and to speak with that side (`RTP/AVP`, `UDP/TLS/RTP/SAVPF`,
    /// …); `None` keeps the offerer's. Only meaningful in offers: an answer always uses the offerer's profile.
    pub transport_protocol: Option<TransportProtocol>,
    /// ICE towards that side.
    pub ice: IceMode,
    /// DTLS-SRTP towards that side.
    pub dtls: DtlsMode,
    /// SDES towards that side.
    pub sdes: SdesOptions,
    /// rtcp-mux handling.
    pub rtcp_mux: RtcpMuxMode,
    /// `replace-origin`: write the relay's address in the `o=` line.
    pub replace_origin: bool,
    /// `replace-session-connection`: also add a session-level `c=` with the relay's address when the SDP has
    /// none. (Media-level `c=` lines, and a session-level one that is present, always get the relay's address.)
    pub replace_session_connection: bool,
    /// Where to expect the sending endpoint's media from before latching.
    pub endpoint_address: EndpointAddress,
    /// The source address of the SIP message that carried this SDP (NG `received-from`).
    pub received_from: Option<IpAddr>,
    /// `direction`: the relay interfaces (by [`Interface`](super::Interface) name) for the side that sent
    /// this SDP and for the side it goes to. `None` uses the first configured interface for both. Only read
    /// when a leg is first created.
    pub interfaces: Option<(String, String)>,
    /// `codec-strip-…`: codecs removed from the SDP sent on and never relayed (by encoding name, optionally
    /// `name/clock[/channels]`, or `all`).
    pub codec_strip: Vec<String>,
    /// `codec-mask-…`: codecs hidden from the side the SDP goes to but kept in the sender's leg description
    /// (without transcoding, what reaches the wire is the same as stripping).
    pub codec_mask: Vec<String>,
    /// `record-call`: record the call's decrypted RTP to a pcap file (when the packet path has a recording
    /// directory configured). Once on, it stays on until [`Relay::stop_recording`](super::Relay::stop_recording).
    pub record_call: bool,
}

/// An offer: the SDP of the side that sends it, to be rewritten for the other side.
///
/// `from_tag` identifies the offerer's leg. On a re-offer sent by the callee (a re-INVITE in the other
/// direction), `from_tag` is the callee's tag and `to_tag` the caller's.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct OfferRequest {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The offerer's tag.
    pub from_tag: String,
    /// The other side's tag, when known.
    pub to_tag: Option<String>,
    /// The offerer's SDP.
    pub sdp: SessionDescription,
    /// How to rewrite it for the answerer.
    pub options: MediaOptions,
}

impl OfferRequest {
    /// An offer with default options.
    pub fn new(
        call_id: impl Into<String>,
        from_tag: impl Into<String>,
        sdp: SessionDescription,
    ) -> Self {
        OfferRequest {
            call_id: call_id.into(),
            from_tag: from_tag.into(),
            to_tag: None,
            sdp,
            options: MediaOptions::default(),
        }
    }

    /// The same offer with these options.
    pub fn with_options(mut self, options: MediaOptions) -> Self {
        self.options = options;
        self
    }

    /// The same offer naming the other side's tag.
    pub fn with_to_tag(mut self, to_tag: impl Into<String>) -> Self {
        self.to_tag = Some(to_tag.into());
        self
    }
}

/// An answer: the SDP of the side that answers, to be rewritten for the offerer.
///
/// `from_tag` is the offerer's tag (as in the offer), `to_tag` the answerer's.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRequest {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The offerer's tag.
    pub from_tag: String,
    /// The answerer's tag.
    pub to_tag: String,
    /// The answerer's SDP.
    pub sdp: SessionDescription,
    /// How to rewrite it for the offerer.
    pub options: MediaOptions,
}

impl AnswerRequest {
    /// An answer with default options.
    pub fn new(
        call_id: impl Into<String>,
        from_tag: impl Into<String>,
        to_tag: impl Into<String>,
        sdp: SessionDescription,
    ) -> Self {
        AnswerRequest {
            call_id: call_id.into(),
            from_tag: from_tag.into(),
            to_tag: to_tag.into(),
            sdp,
            options: MediaOptions::default(),
        }
    }

    /// The same answer with these options.
    pub fn with_options(mut self, options: MediaOptions) -> Self {
        self.options = options;
        self
    }
}

/// A delete: ends a call. A tag, when given, must belong to the call.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// The SIP Call-ID.
    pub call_id: String,
    /// A tag of one of the call's legs, if the caller names one.
    pub from_tag: Option<String>,
    /// The other leg's tag, if the caller names it.
    pub to_tag: Option<String>,
}

impl DeleteRequest {
    /// A delete of the whole call.
    pub fn new(call_id: impl Into<String>) -> Self {
        DeleteRequest {
            call_id: call_id.into(),
            from_tag: None,
            to_tag: None,
        }
    }

    /// The same delete naming the tags.
    pub fn with_tags(mut self, from_tag: impl Into<String>, to_tag: Option<String>) -> Self {
        self.from_tag = Some(from_tag.into());
        self.to_tag = to_tag;
        self
    }
}

/// DTMF injection (NG `play DTMF`): RFC 4733 events sent into a call as if one party had pressed the keys.
///
/// The party tagged `from_tag` is the one "pressing": the events go to the other party's endpoint, from
/// the relay's stream facing it, in that endpoint's `telephone-event` payload type, continuing the SSRC and
/// sequence numbers of the RTP relayed to it (and SRTP-protected if it speaks SRTP).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfRequest {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The tag of the party the digits come from; `None` means the caller.
    pub from_tag: Option<String>,
    /// The digits, played in order.
    pub digits: Vec<DtmfDigit>,
    /// How long each digit lasts (rtpengine's default: 100 ms).
    pub duration: Duration,
    /// Volume in -dBm0, 0–63 (rtpengine's default: 8, i.e. -8 dBm0).
    pub volume: u8,
    /// Silence between two digits (rtpengine's default: 100 ms).
    pub pause: Duration,
}

impl DtmfRequest {
    /// `digits` from the caller, each lasting 100 ms at -8 dBm0, 100 ms apart.
    pub fn new(call_id: impl Into<String>, digits: Vec<DtmfDigit>) -> Self {
        DtmfRequest {
            call_id: call_id.into(),
            from_tag: None,
            digits,
            duration: Duration::from_millis(100),
            volume: 8,
            pause: Duration::from_millis(100),
        }
    }

    /// The same request with the digits coming from the party tagged `from_tag`.
    pub fn from_tag(mut self, from_tag: impl Into<String>) -> Self {
        self.from_tag = Some(from_tag.into());
        self
    }

    /// The same request with this digit duration.
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// The same request at `volume` (-dBm0, capped at 63).
    pub fn with_volume(mut self, volume: u8) -> Self {
        self.volume = volume.min(63);
        self
    }

    /// The same request with this pause between digits.
    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
}
