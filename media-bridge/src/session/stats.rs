//! Per-stream traffic as the packet path reports it, and the statistics `query` and `delete` return.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tandem_rtp_core::srtp::SrtpProfile;

use super::{Keying, PortPair, StreamId, TransportProtocol};

/// Packet counters of one kind of traffic on a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets received and relayed.
    pub packets: u64,
    /// Bytes received and relayed.
    pub bytes: u64,
    /// Packets received but dropped (failed SRTP authentication, wrong source after latching, …).
    pub errors: u64,
}

/// What the packet path has seen on one stream, reported to the control plane with
/// [`Relay::record_traffic`](super::Relay::record_traffic). Counters are cumulative: each report replaces
/// the previous one.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    /// RTP received from the endpoint.
    pub rtp: Counters,
    /// RTCP received from the endpoint.
    pub rtcp: Counters,
    /// The address RTP is latched to (where the endpoint really sends from), once learned.
    pub latched: Option<SocketAddr>,
    /// RTP packets lost from the endpoint (RFC 3550 cumulative loss).
    pub lost: u64,
    /// Interarrival jitter of the endpoint's RTP.
    pub jitter: Option<Duration>,
    /// Round-trip time to the endpoint, from RTCP reports.
    pub rtt: Option<Duration>,
    /// When the last packet (RTP, RTCP, STUN or DTLS) arrived from the endpoint.
    pub last_packet: Option<Instant>,
}

impl Traffic {
    /// A report with these counters and no latency figures.
    pub fn new(rtp: Counters, rtcp: Counters, last_packet: Option<Instant>) -> Self {
        Traffic {
            rtp,
            rtcp,
            last_packet,
            ..Traffic::default()
        }
    }
}

/// Statistics of one stream (one leg's side of one media section).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct MediaStats {
    /// The stream.
    pub id: StreamId,
    /// Index of the media section.
    pub index: usize,
    /// `audio`, `video`, …
    pub media_type: String,
    /// The profile spoken with the endpoint (`None` for a section the relay does not carry).
    pub protocol: Option<TransportProtocol>,
    /// Whether the section is rejected (port 0).
    pub rejected: bool,
    /// Whether the endpoint uses ICE.
    pub ice: bool,
    /// How SRTP is keyed with the endpoint.
    pub keying: Keying,
    /// The SDES suite in effect (DTLS suites are only known to the packet path).
    pub crypto_suite: Option<SrtpProfile>,
    /// Whether RTCP is muxed.
    pub rtcp_mux: bool,
    /// The relay's ports for this endpoint.
    pub local_ports: Option<PortPair>,
    /// Where the endpoint said it receives RTP.
    pub advertised_rtp: Option<SocketAddr>,
    /// Where the endpoint said it receives RTCP.
    pub advertised_rtcp: Option<SocketAddr>,
    /// What the packet path reported.
    pub traffic: Traffic,
}

/// Statistics of one leg (one SIP tag).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct LegStats {
    /// The SIP tag (`None` for a callee that has not answered).
    pub tag: Option<String>,
    /// When the leg was created.
    pub created: Instant,
    /// One entry per media section.
    pub media: Vec<MediaStats>,
}

/// Statistics of a call, as `query` and `delete` return them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct CallStats {
    /// The SIP Call-ID.
    pub call_id: String,
    /// When the first offer arrived.
    pub created: Instant,
    /// When the last offer or answer arrived.
    pub last_signal: Instant,
    /// The caller's leg, then the callee's.
    pub legs: Vec<LegStats>,
}

impl CallStats {
    /// RTP and RTCP counters summed over every stream.
    pub fn totals(&self) -> (Counters, Counters) {
        let mut rtp = Counters::default();
        let mut rtcp = Counters::default();
        for m in self.legs.iter().flat_map(|l| &l.media) {
            add(&mut rtp, m.traffic.rtp);
            add(&mut rtcp, m.traffic.rtcp);
        }
        (rtp, rtcp)
    }

    /// When the last packet of any stream arrived.
    pub fn last_packet(&self) -> Option<Instant> {
        self.legs
            .iter()
            .flat_map(|l| &l.media)
            .filter_map(|m| m.traffic.last_packet)
            .max()
    }
}

fn add(total: &mut Counters, c: Counters) {
    total.packets = total.packets.saturating_add(c.packets);
    total.bytes = total.bytes.saturating_add(c.bytes);
    total.errors = total.errors.saturating_add(c.errors);
}
