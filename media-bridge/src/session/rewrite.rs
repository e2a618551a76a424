//! Writing the SDP each side receives: the relay's address and ports, and the ICE, DTLS, SDES and rtcp-mux
//! attributes of the profile spoken with that side, on top of what the other side described.
//!
//! What is kept and what is removed, conservatively:
//! - Always replaced: `c=` (media level, and the session-level one unless it is a `0.0.0.0` hold; the
//!   `replace-session-connection` option adds a session-level one where there was none), the `m=` port and protocol, `a=rtcp`, `a=rtcp-mux`, every ICE
//!   attribute (`a=ice-*`, `a=candidate`, `a=end-of-candidates`, …), `a=fingerprint`, `a=setup`, `a=tls-id`,
//!   `a=crypto`. These describe a transport, and the relay terminates transports.
//! - Removed towards a profile without feedback (`RTP/AVP`, `RTP/SAVP`): `a=rtcp-fb` and `a=rtcp-rsize`.
//! - Removed towards plain SIP equipment (no ICE, no DTLS): `a=ssrc`, `a=ssrc-group`, `a=msid`,
//!   `a=msid-semantic`, `a=extmap`, `a=extmap-allow-mixed` — WebRTC bookkeeping such endpoints do not use.
//!   The packets keep their header extensions (the relay forwards RTP as it is); endpoints skip unknown ones.
//! - Kept: codecs (minus stripped or masked ones), `a=fmtp`, `a=ptime`, direction attributes, `a=mid`,
//!   `b=` lines, and every attribute not listed above.
//! - `a=group:BUNDLE` is rewritten to the one relayed section of each group (audio only), and dropped towards
//!   plain SIP equipment. `a=mid` is generated (`0`, `1`, …) towards DTLS targets that lack it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytestring::ByteString;
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdp::{
    Attribute, Candidate, Codec, Connection, Fmtp, Group, MediaDescription, Rtcp, RtcpFb,
};

use super::leg::{IceSide, MuxOffer, Stream};
use super::payload_map::{CodecPattern, NegotiatedCodec, listed};
use super::{Keying, MediaOptions, SessionError, TransportProtocol};
use crate::dtls::CertificateFingerprint;
use crate::ice::{IceAgent, IceConfig};

/// Attributes that describe the transport to one endpoint; the relay writes its own.
fn is_transport_attribute(a: &Attribute) -> bool {
    a.is_ice()
        || matches!(
            a,
            Attribute::Fingerprint(_)
                | Attribute::Setup(_)
                | Attribute::Crypto(_)
                | Attribute::Rtcp(_)
                | Attribute::RtcpMux
        )
        || matches!(a.name(), "tls-id" | "rtcp-mux-only")
}

/// WebRTC bookkeeping that plain SIP equipment has no use for.
fn is_webrtc_bookkeeping(a: &Attribute) -> bool {
    matches!(
        a,
        Attribute::Ssrc(_)
            | Attribute::SsrcGroup(_)
            | Attribute::Msid(_)
            | Attribute::MsidSemantic(_)
            | Attribute::Extmap(_)
    ) || a.name() == "extmap-allow-mixed"
}

fn is_feedback_attribute(a: &Attribute) -> bool {
    matches!(a, Attribute::RtcpFb(_) | Attribute::RtcpRsize)
}

/// Whether a stream speaks to a WebRTC-style endpoint (ICE or DTLS) rather than plain SIP equipment.
pub(crate) fn is_webrtc(stream: &Stream) -> bool {
    stream.ice.is_some() || stream.protocol.map(TransportProtocol::keying) == Some(Keying::Dtls)
}

/// The relay's parts of the configuration a rewrite needs.
pub(crate) struct Local<'a> {
    pub(crate) fingerprint: Option<&'a CertificateFingerprint>,
    pub(crate) ice: &'a IceConfig,
}

/// Strip and mask lists, parsed once per request.
#[derive(Debug, Default)]
pub(crate) struct CodecFilter {
    pub(crate) strip: Vec<CodecPattern>,
    pub(crate) mask: Vec<CodecPattern>,
}

impl CodecFilter {
    pub(crate) fn new(options: &MediaOptions) -> Self {
        CodecFilter {
            strip: patterns(&options.codec_strip),
            mask: patterns(&options.codec_mask),
        }
    }

    fn hides(&self, codec: &Codec) -> bool {
        listed(&self.strip, codec) || listed(&self.mask, codec)
    }
}

fn patterns(list: &[String]) -> Vec<CodecPattern> {
    list.iter()
        .filter_map(|text| {
            let pattern = CodecPattern::parse(text);
            if pattern.is_none() {
                tracing::info!(codec = %text, "ignoring unparsable codec name");
            }
            pattern
        })
        .collect()
}

/// A section the relay does not carry, written as rejected (port 0) with the mid it had.
pub(crate) fn rejected_section(
    source: &MediaDescription,
    protocol: &str,
    address: IpAddr,
) -> MediaDescription {
    let mut section = MediaDescription::new(
        source.media.clone(),
        0,
        ByteString::from(protocol),
        source.formats.clone(),
    );
    section.set_connection_address(address);
    if let Some(mid) = source.mid() {
        section
            .attributes
            .push(Attribute::Mid(ByteString::from(mid)));
    }
    section
}

/// The offered section `source` (from the offerer, `from`) rewritten for the answerer's stream `to`.
pub(crate) fn offer_section(
    source: &MediaDescription,
    index: usize,
    from: &Stream,
    to: &Stream,
    filter: &CodecFilter,
    local: &Local<'_>,
) -> Result<MediaDescription, SessionError> {
    let mut m = source.clone();
    let hidden: Vec<u8> = source
        .codecs()
        .iter()
        .filter(|c| filter.hides(c))
        .map(|c| c.payload_type)
        .collect();
    remove_payload_types(&mut m, &hidden);
    if m.formats.is_empty() {
        return Err(SessionError::NoCodecsLeft { index });
    }
    let on_hold = from.peer.as_ref().is_some_and(|p| p.legacy_hold);
    anchor(&mut m, to, on_hold);
    clean_for(&mut m, to);
    let ensure_mid = to.protocol.map(TransportProtocol::keying) == Some(Keying::Dtls);
    if ensure_mid && m.mid().is_none() {
        m.attributes
            .push(Attribute::Mid(ByteString::from(index.to_string())));
    }
    add_rtcp(&mut m, to, to.mux_offer);
    add_transport(&mut m, to, local, TransportRole::Offer)?;
    Ok(m)
}

/// The answered section `source` (from the answerer, `from`) rewritten for the offerer's stream `to`, with
/// the negotiated codecs in the offerer's numbering.
pub(crate) fn answer_section(
    source: &MediaDescription,
    from: &Stream,
    to: &Stream,
    negotiated: &[NegotiatedCodec],
    local: &Local<'_>,
) -> Result<MediaDescription, SessionError> {
    let mut m = source.clone();
    renumber(
        &mut m,
        negotiated,
        to.protocol.is_some_and(TransportProtocol::has_feedback),
    );
    let on_hold = from.peer.as_ref().is_some_and(|p| p.legacy_hold);
    anchor(&mut m, to, on_hold);
    clean_for(&mut m, to);
    m.remove_attributes("mid");
    if let Some(mid) = to.peer.as_ref().and_then(|p| p.mid.as_deref()) {
        m.attributes.push(Attribute::Mid(ByteString::from(mid)));
    }
    let mux = if to.rtcp_mux {
        MuxOffer::Exclusive
    } else {
        MuxOffer::No
    };
    add_rtcp(&mut m, to, mux);
    add_transport(&mut m, to, local, TransportRole::Answer)?;
    Ok(m)
}

/// Port, protocol and `c=` of the relay for `to`. A peer on RFC 2543 hold stays on hold: `c=0.0.0.0`.
fn anchor(m: &mut MediaDescription, to: &Stream, on_hold: bool) {
    if let Some(ports) = to.ports {
        m.set_port(ports.rtp());
    }
    m.port_count = None;
    if let Some(protocol) = to.protocol {
        m.protocol = ByteString::from_static(protocol.as_str());
    }
    let address = match (on_hold, to.advertised) {
        (false, ip) => ip,
        (true, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (true, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    m.set_connection_address(address);
}

/// Removes what the relay rewrites, and what the target profile has no use for.
fn clean_for(m: &mut MediaDescription, to: &Stream) {
    let feedback = to.protocol.is_some_and(TransportProtocol::has_feedback);
    let webrtc = is_webrtc(to);
    m.attributes.retain(|a| {
        !is_transport_attribute(a)
            && (feedback || !is_feedback_attribute(a))
            && (webrtc || !is_webrtc_bookkeeping(a))
    });
}

/// `a=rtcp-mux` and `a=rtcp` (RFC 3605, RFC 5761): the fallback RTCP port unless muxed exclusively.
fn add_rtcp(m: &mut MediaDescription, to: &Stream, mux: MuxOffer) {
    let Some(ports) = to.ports else {
        return;
    };
    if mux != MuxOffer::Exclusive {
        m.attributes.push(Attribute::Rtcp(Rtcp {
            port: ports.rtcp(),
            connection: None,
        }));
    }
    if mux != MuxOffer::No {
        m.attributes.push(Attribute::RtcpMux);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TransportRole {
    Offer,
    Answer,
}

/// ICE (`a=ice-ufrag`, `a=ice-pwd`, the relay's candidate, `a=end-of-candidates`), DTLS (`a=fingerprint`,
/// `a=setup`) and SDES (`a=crypto`) attributes for `to`.
fn add_transport(
    m: &mut MediaDescription,
    to: &Stream,
    local: &Local<'_>,
    role: TransportRole,
) -> Result<(), SessionError> {
    if let (Some(ice), Some(ports)) = (&to.ice, to.ports) {
        let address = SocketAddr::new(to.advertised, ports.rtp());
        m.attributes
            .extend(ice_attributes(ice, address, local.ice)?);
    }
    if let Some(dtls) = &to.dtls {
        let fingerprint = local.fingerprint.ok_or(SessionError::DtlsUnavailable)?;
        m.attributes
            .push(Attribute::Fingerprint(fingerprint.to_sdp()));
        let setup = match (role, dtls.role) {
            (TransportRole::Answer, Some(r)) => r.setup(),
            _ => dtls.our_setup,
        };
        m.attributes.push(Attribute::Setup(setup));
    }
    let cryptos = match role {
        TransportRole::Offer => to.sdes.offered.clone(),
        TransportRole::Answer => to.sdes.local.iter().cloned().collect(),
    };
    if to.protocol.map(TransportProtocol::keying) == Some(Keying::Sdes) {
        m.attributes
            .extend(cryptos.into_iter().map(Attribute::Crypto));
    }
    Ok(())
}

/// Our media-level ICE attributes, from an [`IceAgent`] holding the stream's credentials and host candidate
/// (the session-level `a=ice-lite` is written by [`session`]).
fn ice_attributes(
    ice: &IceSide,
    address: SocketAddr,
    config: &IceConfig,
) -> Result<Vec<Attribute>, SessionError> {
    let mut agent = IceAgent::with_credentials(ice.local.clone(), config.clone());
    agent.add_host_candidate(address)?;
    if let Some(remote) = &ice.remote {
        agent.set_remote_credentials(remote.clone());
    }
    Ok(agent
        .sdp()
        .media
        .iter()
        .filter_map(to_sdp_attribute)
        .collect())
}

fn to_sdp_attribute(a: &crate::ice::SdpAttribute) -> Option<Attribute> {
    let parsed = match (&a.value, a.name) {
        (Some(v), "candidate") => Candidate::parse(v).map(Attribute::Candidate),
        (Some(v), name) => Attribute::parse(&format!("{name}:{v}")),
        (None, name) => Attribute::parse(name),
    };
    // The agent writes these lines itself; a failure here is a bug, not bad input: log and leave it out.
    parsed
        .inspect_err(
            |e| tracing::error!(attribute = %a, error = %e, "ICE attribute does not parse"),
        )
        .ok()
}

/// Drops payload types from the `m=` line and their `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` lines.
fn remove_payload_types(m: &mut MediaDescription, pts: &[u8]) {
    if pts.is_empty() {
        return;
    }
    let gone = |format: &str| format.parse::<u8>().is_ok_and(|pt| pts.contains(&pt));
    m.formats.retain(|f| !gone(f));
    m.attributes.retain(|a| match a {
        Attribute::Rtpmap(r) => !pts.contains(&r.payload_type),
        Attribute::Fmtp(f) => !gone(&f.format),
        Attribute::RtcpFb(fb) => fb.payload_type.is_none_or(|pt| !pts.contains(&pt)),
        _ => true,
    });
}

/// Rewrites the codec list of an answered section to the negotiated codecs in the offerer's numbering:
/// `m=` formats, `a=rtpmap`, `a=fmtp` (the answerer's parameters) and, when the target has feedback,
/// `a=rtcp-fb`. Payload numbers inside fmtp values (RED, RTX `apt=`) are not rewritten.
fn renumber(m: &mut MediaDescription, negotiated: &[NegotiatedCodec], feedback: bool) {
    let fmtps: Vec<Fmtp> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Fmtp(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let feedbacks: Vec<RtcpFb> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::RtcpFb(fb) => Some(fb.clone()),
            _ => None,
        })
        .collect();
    m.attributes.retain(|a| {
        !matches!(
            a,
            Attribute::Rtpmap(_) | Attribute::Fmtp(_) | Attribute::RtcpFb(_)
        )
    });
    m.formats = negotiated
        .iter()
        .map(|n| ByteString::from(n.offerer_pt.to_string()))
        .collect();
    if feedback {
        let wildcard = feedbacks
            .iter()
            .filter(|fb| fb.payload_type.is_none())
            .cloned();
        m.attributes.extend(wildcard.map(Attribute::RtcpFb));
    }
    for n in negotiated {
        let mut rtpmap = n.codec.rtpmap();
        rtpmap.payload_type = n.offerer_pt;
        m.attributes.push(Attribute::Rtpmap(rtpmap));
        if let Some(f) = fmtps
            .iter()
            .find(|f| f.payload_type() == Some(n.answerer_pt))
        {
            m.attributes.push(Attribute::Fmtp(Fmtp {
                format: ByteString::from(n.offerer_pt.to_string()),
                parameters: f.parameters.clone(),
            }));
        }
        if feedback {
            let own = feedbacks
                .iter()
                .filter(|fb| fb.payload_type == Some(n.answerer_pt))
                .map(|fb| RtcpFb {
                    payload_type: Some(n.offerer_pt),
                    ..fb.clone()
                });
            m.attributes.extend(own.map(Attribute::RtcpFb));
        }
    }
}

/// Session-level parts of a rewritten description for the leg whose streams are `to`.
pub(crate) struct SessionParts<'a> {
    /// The sections, already rewritten.
    pub(crate) media: Vec<MediaDescription>,
    /// The streams of the receiving leg, by section.
    pub(crate) to: &'a [Stream],
    /// The `a=group:BUNDLE` mids to write (already reduced to relayed sections).
    pub(crate) bundle: Vec<String>,
    /// The relay's address for that leg.
    pub(crate) address: IpAddr,
}

/// `source` with its media replaced and the session level rewritten for the receiving leg.
pub(crate) fn session(
    source: &SessionDescription,
    parts: SessionParts<'_>,
    options: &MediaOptions,
) -> SessionDescription {
    let mut out = source.clone();
    out.media = parts.media;
    let webrtc = parts.to.iter().any(|s| !s.rejected && is_webrtc(s));
    out.attributes.retain(|a| {
        !is_transport_attribute(a)
            && !matches!(a, Attribute::Group(g) if g.semantics.eq_ignore_ascii_case("BUNDLE"))
            && (webrtc || !is_webrtc_bookkeeping(a))
    });
    if parts.to.iter().any(|s| !s.rejected && s.ice.is_some()) {
        out.attributes.insert(0, Attribute::IceLite);
    }
    if webrtc && !parts.bundle.is_empty() {
        out.attributes.insert(
            0,
            Attribute::Group(Group {
                semantics: ByteString::from_static("BUNDLE"),
                mids: parts.bundle.into_iter().map(ByteString::from).collect(),
            }),
        );
    }
    if options.replace_origin {
        out.origin.address = ByteString::from(parts.address.to_string());
        out.origin.addr_type = Connection::from_ip(parts.address).addr_type;
    }
    // A session-level address other than the hold address is replaced even without the option: an endpoint
    // that reads only that line would otherwise send around the relay.
    let keep = out
        .connection
        .as_ref()
        .is_some_and(Connection::is_unspecified);
    let present = out.connection.is_some();
    if (present && !keep) || (options.replace_session_connection && !present) {
        out.connection = Some(Connection::from_ip(parts.address));
    }
    out
}
