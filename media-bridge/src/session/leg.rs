//! A leg is one side of a call (one SIP tag); per media section it has a stream: the relay's ports facing that
//! endpoint and everything negotiated with it. [`LegMedia`] is the immutable snapshot of a stream that the
//! packet path works from.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_rtp_core::sdes::Crypto;
use tandem_rtp_core::sdp::{Codec, Direction, Setup};
use tandem_rtp_core::srtp::{SrtpContext, SrtpError, SrtpPolicy, SrtpProfile};
use tandem_rtp_core::telephone_event::DtmfDigit;

use super::peer::PeerMedia;
use super::{Keying, PayloadMap, PortPair, Traffic, TransportProtocol};
use crate::dtls::{CertificateFingerprint, DtlsRole};
use crate::ice::Credentials;

/// Identifies one stream (one leg's side of one media section) for the life of the relay; the packet path and
/// the control plane refer to streams by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the packet path needs to know about one stream, as of one offer or answer.
///
/// The control plane publishes a new `Arc<LegMedia>` (through [`MediaUpdate`]) whenever anything in it
/// changes, and never mutates a published one, so a worker thread reads it without locks. `version` grows with
/// every publication of the same stream. A worker should rebuild SRTP contexts only when [`LegMedia::srtp`]
/// differs from the snapshot it replaces (rebuilding resets rollover counters and replay windows), and its
/// ICE agent only when [`IceParams::generation`] changes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct LegMedia {
    /// This stream.
    pub id: StreamId,
    /// The stream on the other leg of the same media section: packets received here are sent from there.
    pub peer: StreamId,
    /// Grows with every publication of this stream.
    pub version: u64,
    /// The SIP Call-ID.
    pub call_id: String,
    /// The leg's SIP tag (`None` for the callee's leg until its answer).
    pub tag: Option<String>,
    /// Index of the media section in the SDP.
    pub media_index: usize,
    /// `audio`, `video`, …
    pub media_type: String,
    /// The relay address advertised to this endpoint (its interface's address).
    pub advertised: IpAddr,
    /// The relay's local ports for this endpoint.
    pub ports: PortPair,
    /// Whether RTCP shares the RTP port (RFC 5761): then only [`PortPair::rtp`] needs a socket.
    pub rtcp_mux: bool,
    /// Where the endpoint said it receives RTP, before any latching. `None` when on hold or learned by ICE.
    pub remote_rtp: Option<SocketAddr>,
    /// Where the endpoint said it receives RTCP (equal to `remote_rtp` when muxed).
    pub remote_rtcp: Option<SocketAddr>,
    /// The profile spoken with this endpoint.
    pub protocol: TransportProtocol,
    /// ICE-lite parameters, when the endpoint uses ICE.
    pub ice: Option<IceParams>,
    /// How SRTP is keyed with this endpoint.
    pub srtp: SrtpSetup,
    /// The codecs this endpoint receives, with its payload type numbers (offered ones until the answer,
    /// then the negotiated ones).
    pub codecs: Vec<Codec>,
    /// Renumbering for packets received from this endpoint on their way to the peer stream's endpoint
    /// (empty until the answer).
    pub payload_map: PayloadMap,
    /// The direction the endpoint declared (informational: the relay forwards what arrives).
    pub direction: Direction,
    /// Whether the call is recorded: the packet path copies the decrypted RTP and RTCP it receives on this
    /// stream to the call's pcap file.
    pub record: bool,
}

impl LegMedia {
    /// The payload type this endpoint receives RFC 4733 events on (8 kHz preferred), for DTMF injection.
    pub fn telephone_event(&self) -> Option<u8> {
        self.telephone_event_codec().map(|c| c.payload_type)
    }

    /// The `telephone-event` codec this endpoint receives (8 kHz preferred): payload type and clock rate.
    pub fn telephone_event_codec(&self) -> Option<&Codec> {
        let events = || {
            self.codecs
                .iter()
                .filter(|c| c.encoding_name.eq_ignore_ascii_case("telephone-event"))
        };
        events()
            .find(|c| c.clock_rate == 8000)
            .or_else(|| events().next())
    }

    /// The local ports that need a socket: the RTP port, and the RTCP port unless muxed.
    pub fn local_ports(&self) -> (u16, Option<u16>) {
        let rtcp = (!self.rtcp_mux).then(|| self.ports.rtcp());
        (self.ports.rtp(), rtcp)
    }
}

/// The ICE-lite parameters of a stream. The control plane keeps the credentials; the packet path runs an
/// [`IceAgent`](crate::ice::IceAgent) built from them (`IceAgent::with_credentials(local, …)`, then
/// `set_remote_credentials`), and calls `restart_with` when `generation` grows.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceParams {
    /// Our `a=ice-ufrag` / `a=ice-pwd`.
    pub local: Credentials,
    /// The endpoint's credentials, once its SDP gave them.
    pub remote: Option<Credentials>,
    /// Grows with each ICE restart (new local credentials).
    pub generation: u32,
}

/// How SRTP is keyed on a stream.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrtpSetup {
    /// Plain RTP.
    Plain,
    /// SDES, but the keys are not agreed yet (our offer went out, the answer has not come): nothing can be
    /// protected or unprotected, so media is dropped.
    AwaitingSdes,
    /// SDES: both keys are known from SDP.
    Sdes(SdesKeys),
    /// DTLS-SRTP: keys come from the handshake on the media path.
    Dtls(DtlsParams),
}

impl SrtpSetup {
    /// The SDES crypto suite in effect, if keyed by SDES.
    pub fn sdes_profile(&self) -> Option<SrtpProfile> {
        match self {
            SrtpSetup::Sdes(keys) => Some(keys.profile),
            _ => None,
        }
    }
}

/// SDES key material of a stream: the endpoint's key (it protects what it sends us) and ours (we protect what
/// we send it).
#[derive(Clone, PartialEq, Eq)]
pub struct SdesKeys {
    profile: SrtpProfile,
    /// The endpoint's master key || master salt.
    inbound: Vec<u8>,
    /// Our master key || master salt.
    outbound: Vec<u8>,
}

impl SdesKeys {
    pub(crate) fn new(profile: SrtpProfile, inbound: Vec<u8>, outbound: Vec<u8>) -> Self {
        SdesKeys {
            profile,
            inbound,
            outbound,
        }
    }

    /// The crypto suite.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// A context that unprotects what the endpoint sends (its key).
    pub fn inbound_context(&self, policy: &SrtpPolicy) -> Result<SrtpContext, SrtpError> {
        self.context(policy, &self.inbound)
    }

    /// A context that protects what we send to the endpoint (our key).
    pub fn outbound_context(&self, policy: &SrtpPolicy) -> Result<SrtpContext, SrtpError> {
        self.context(policy, &self.outbound)
    }

    /// The policy for this suite with default settings.
    pub fn policy(&self) -> SrtpPolicy {
        SrtpPolicy::new(self.profile)
    }

    fn context(&self, policy: &SrtpPolicy, key_salt: &[u8]) -> Result<SrtpContext, SrtpError> {
        let (key, salt) = key_salt.split_at(self.profile.master_key_len().min(key_salt.len()));
        SrtpContext::new(policy, key, salt)
    }
}

impl fmt::Debug for SdesKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are secrets: never in logs.
        f.debug_struct("SdesKeys")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// DTLS-SRTP parameters of a stream.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtlsParams {
    /// Our handshake role; `None` until the negotiation decides it (we offered `actpass` and the answer has
    /// not come yet, or the offerer's `actpass` waits for our answer). Start no handshake before it is known.
    pub role: Option<DtlsRole>,
    /// The endpoint's certificate fingerprint: the handshake must present a matching certificate.
    pub remote_fingerprint: Option<CertificateFingerprint>,
}

/// A change for the packet path, drained from [`Relay::poll_update`](super::Relay::poll_update).
#[derive(Debug, Clone, PartialEq)]
pub enum MediaUpdate {
    /// Start or update relaying on a stream.
    Upsert(Arc<LegMedia>),
    /// Stop relaying on a stream and close its sockets (its ports go back to the pool).
    Remove {
        /// The stream.
        id: StreamId,
        /// Its ports.
        ports: PortPair,
    },
    /// Play RFC 4733 DTMF events to a stream's endpoint.
    Dtmf(DtmfInjection),
}

/// RFC 4733 events for the packet path to send to one stream's endpoint, as if its peer had sent them:
/// the payload type and clock rate are the ones that endpoint receives `telephone-event` with.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfInjection {
    /// The stream whose endpoint hears the digits.
    pub stream: StreamId,
    /// The `telephone-event` payload type of that endpoint.
    pub payload_type: u8,
    /// Its clock rate.
    pub clock_rate: u32,
    /// The digits, played in order.
    pub digits: Vec<DtmfDigit>,
    /// How long each digit lasts.
    pub duration: Duration,
    /// The events' volume, 0–63 (-dBm0).
    pub volume: u8,
    /// Silence between digits.
    pub pause: Duration,
}

/// The ICE state the control plane keeps for a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IceSide {
    pub(crate) local: Credentials,
    pub(crate) remote: Option<Credentials>,
    pub(crate) generation: u32,
}

/// The SDES state of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SdesSide {
    /// Our `a=crypto` lines when we offered to this endpoint.
    pub(crate) offered: Vec<Crypto>,
    /// Our line in use (the one its answer or offer selected).
    pub(crate) local: Option<Crypto>,
    /// The endpoint's line in use.
    pub(crate) remote: Option<Crypto>,
}

/// The DTLS state of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DtlsSide {
    /// The `a=setup` we last wrote to this endpoint.
    pub(crate) our_setup: Setup,
    /// The `a=setup` the endpoint last wrote.
    pub(crate) remote_setup: Option<Setup>,
    pub(crate) role: Option<DtlsRole>,
    pub(crate) remote_fingerprint: Option<CertificateFingerprint>,
}

/// rtcp-mux as offered to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum MuxOffer {
    /// Not offered: separate RTCP port.
    #[default]
    No,
    /// Offered with a separate RTCP port as fallback.
    WithFallback,
    /// Offered exclusively (RFC 8858): muxed from the start.
    Exclusive,
}

/// One leg's side of one media section.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    pub(crate) id: StreamId,
    pub(crate) advertised: IpAddr,
    pub(crate) ports: Option<PortPair>,
    pub(crate) rejected: bool,
    pub(crate) media_type: String,
    /// The profile spoken with this endpoint.
    pub(crate) protocol: Option<TransportProtocol>,
    /// The endpoint's last SDP for this section.
    pub(crate) peer: Option<PeerMedia>,
    pub(crate) rtcp_mux: bool,
    pub(crate) mux_offer: MuxOffer,
    pub(crate) ice: Option<IceSide>,
    pub(crate) sdes: SdesSide,
    pub(crate) dtls: Option<DtlsSide>,
    /// The codecs this endpoint receives, in its numbering: offered ones until an answer, then the
    /// negotiated ones.
    pub(crate) codecs: Vec<Codec>,
    /// The codecs of this endpoint's latest offer (minus stripped ones), which answers are matched against.
    pub(crate) offered_codecs: Vec<Codec>,
    pub(crate) payload_map: PayloadMap,
    pub(crate) traffic: Traffic,
    /// The last snapshot handed to the packet path.
    pub(crate) published: Option<Arc<LegMedia>>,
}

impl Stream {
    pub(crate) fn new(id: StreamId, advertised: IpAddr, media_type: String) -> Self {
        Stream {
            id,
            advertised,
            ports: None,
            rejected: true,
            media_type,
            protocol: None,
            peer: None,
            rtcp_mux: false,
            mux_offer: MuxOffer::No,
            ice: None,
            sdes: SdesSide::default(),
            dtls: None,
            codecs: Vec::new(),
            offered_codecs: Vec::new(),
            payload_map: PayloadMap::empty(),
            traffic: Traffic::default(),
            published: None,
        }
    }

    /// The SRTP setup as the packet path sees it.
    pub(crate) fn srtp_setup(&self) -> SrtpSetup {
        if let Some(dtls) = &self.dtls {
            return SrtpSetup::Dtls(DtlsParams {
                role: dtls.role,
                remote_fingerprint: dtls.remote_fingerprint.clone(),
            });
        }
        if self.protocol.map(TransportProtocol::keying) != Some(Keying::Sdes) {
            return SrtpSetup::Plain;
        }
        let keys = self.sdes.local.as_ref().zip(self.sdes.remote.as_ref());
        let Some((local, remote)) = keys else {
            return SrtpSetup::AwaitingSdes;
        };
        let profile = SrtpProfile::from_sdes_name(local.suite.name());
        let outbound = local.key_params.first().map(|k| k.key_salt.clone());
        let inbound = remote.key_params.first().map(|k| k.key_salt.clone());
        match (profile, inbound, outbound) {
            (Some(profile), Some(inbound), Some(outbound)) => {
                SrtpSetup::Sdes(SdesKeys::new(profile, inbound, outbound))
            }
            // Lines are checked when taken, so this is unreachable; refusing media is the safe reading.
            _ => SrtpSetup::AwaitingSdes,
        }
    }

    /// The snapshot for the packet path, if the stream relays (ports held, not rejected).
    pub(crate) fn snapshot(
        &self,
        call_id: &str,
        tag: Option<&str>,
        media_index: usize,
        peer: StreamId,
        record: bool,
    ) -> Option<LegMedia> {
        let ports = self.ports.filter(|_| !self.rejected)?;
        let protocol = self.protocol?;
        let remote_rtp = self.peer.as_ref().and_then(|p| p.rtp);
        let remote_rtcp = if self.rtcp_mux {
            remote_rtp
        } else {
            self.peer.as_ref().and_then(|p| p.rtcp)
        };
        Some(LegMedia {
            id: self.id,
            peer,
            version: 0,
            call_id: call_id.to_owned(),
            tag: tag.map(str::to_owned),
            media_index,
            media_type: self.media_type.clone(),
            advertised: self.advertised,
            ports,
            rtcp_mux: self.rtcp_mux,
            remote_rtp,
            remote_rtcp,
            protocol,
            ice: self.ice.as_ref().map(|i| IceParams {
                local: i.local.clone(),
                remote: i.remote.clone(),
                generation: i.generation,
            }),
            srtp: self.srtp_setup(),
            codecs: self.codecs.clone(),
            payload_map: self.payload_map.clone(),
            direction: self
                .peer
                .as_ref()
                .map_or(Direction::SendRecv, |p| p.direction),
            record,
        })
    }

    /// The last time media arrived on this stream, if ever.
    pub(crate) fn last_packet(&self) -> Option<Instant> {
        self.traffic.last_packet
    }
}

/// One side of a call.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    /// The SIP tag; the callee's leg has none until its answer.
    pub(crate) tag: Option<String>,
    pub(crate) created: Instant,
    /// One stream per media section, by index.
    pub(crate) streams: Vec<Stream>,
}

impl Leg {
    pub(crate) fn new(tag: Option<String>, created: Instant) -> Self {
        Leg {
            tag,
            created,
            streams: Vec::new(),
        }
    }
}
