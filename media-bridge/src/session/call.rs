//! A call: two legs (caller and callee, by SIP tag) and, per media section, one stream on each. Offers and
//! answers update the streams and produce the SDP for the other side.

use std::net::IpAddr;
use std::time::Instant;

use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdes::{Crypto, CryptoSuite};
use tandem_rtp_core::sdp::{Codec, MediaDescription, Setup};
use tandem_rtp_core::srtp::SrtpProfile;

use super::leg::{DtlsSide, IceSide, Leg, MuxOffer, SdesSide, Stream};
use super::payload_map::{NegotiatedCodec, ingress_maps, listed, negotiate};
use super::peer::PeerMedia;
use super::rewrite::{self, CodecFilter, Local, SessionParts};
use super::{
    DtlsMode, EndpointAddress, IceMode, Keying, MediaOptions, PortClaim, PortPair, PortPool,
    RelayConfig, RtcpMuxMode, SessionError, StreamId, TransportProtocol,
};
use crate::dtls::{CertificateFingerprint, DtlsRole};
use crate::ice::Credentials;

/// What one request may take from and give back to the relay. Ports are only returned to the pool when the
/// request succeeds ([`Resources::commit`]); a failed request gives back what it took ([`Resources::rollback`]).
pub(crate) struct Resources<'a> {
    pub(crate) config: &'a RelayConfig,
    pool: &'a mut PortPool,
    claim: Option<&'a mut (dyn PortClaim + 'static)>,
    next_id: &'a mut u64,
    allocated: Vec<PortPair>,
    released: Vec<PortPair>,
}

impl<'a> Resources<'a> {
    pub(crate) fn new(
        config: &'a RelayConfig,
        pool: &'a mut PortPool,
        claim: Option<&'a mut (dyn PortClaim + 'static)>,
        next_id: &'a mut u64,
    ) -> Self {
        Resources {
            config,
            pool,
            claim,
            next_id,
            allocated: Vec::new(),
            released: Vec::new(),
        }
    }

    fn allocate(&mut self) -> Result<PortPair, SessionError> {
        let pair = match self.claim.as_deref_mut() {
            Some(claim) => self.pool.allocate_claimed(&mut |pair| claim.claim(pair))?,
            None => self.pool.allocate()?,
        };
        self.allocated.push(pair);
        Ok(pair)
    }

    fn release(&mut self, pair: PortPair) {
        self.released.push(pair);
    }

    fn stream_id(&mut self) -> StreamId {
        *self.next_id += 1;
        StreamId(*self.next_id)
    }

    fn local(&self) -> Local<'a> {
        Local {
            fingerprint: self.config.fingerprint.as_ref(),
            ice: &self.config.ice,
        }
    }

    /// The advertised address of the interface called `name`, or of the first interface.
    fn interface(&self, name: Option<&str>) -> Result<IpAddr, SessionError> {
        let found = match name {
            Some(n) => self.config.interfaces.iter().find(|i| i.name == n),
            None => self.config.interfaces.first(),
        };
        found
            .map(|i| i.advertised)
            .ok_or_else(|| SessionError::UnknownInterface {
                name: name.unwrap_or("").to_owned(),
            })
    }

    /// The request failed: give back the ports it took.
    pub(crate) fn rollback(mut self) {
        let pairs = std::mem::take(&mut self.allocated);
        self.free(pairs);
    }

    /// The request succeeded: give back the ports it released.
    pub(crate) fn commit(mut self) {
        let pairs = std::mem::take(&mut self.released);
        self.free(pairs);
    }

    fn free(&mut self, pairs: Vec<PortPair>) {
        for pair in pairs {
            free_pair(self.pool, self.claim.as_deref_mut(), pair);
        }
    }
}

/// Gives `pair` back to the pool and, if it was claimed, lets its ports go.
pub(crate) fn free_pair(
    pool: &mut PortPool,
    claim: Option<&mut (dyn PortClaim + 'static)>,
    pair: PortPair,
) {
    if let (true, Some(claim)) = (pool.free(pair), claim) {
        claim.release(pair);
    }
}

/// A call, keyed by Call-ID in the relay.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) id: String,
    pub(crate) created: Instant,
    pub(crate) last_signal: Instant,
    /// The caller's leg (tag of the first offer), then the callee's.
    pub(crate) legs: [Leg; 2],
    /// The leg that sent the latest offer. Answers apply to that offer, as often as they come: a 183 and
    /// then a 200 answer the same offer, and a forked call may be answered by several branches.
    offerer: usize,
    /// The mids of the latest offer's BUNDLE group that the relay carries, for the answer.
    offer_bundle: Vec<String>,
    /// Whether the packet path records the call's decrypted media.
    pub(crate) record: bool,
}

impl Call {
    pub(crate) fn new(id: String, from_tag: String, now: Instant) -> Self {
        Call {
            id,
            created: now,
            last_signal: now,
            legs: [Leg::new(Some(from_tag), now), Leg::new(None, now)],
            offerer: 0,
            offer_bundle: Vec::new(),
            record: false,
        }
    }

    /// The leg tagged `tag`.
    pub(crate) fn leg_index(&self, tag: &str) -> Option<usize> {
        self.legs.iter().position(|l| l.tag.as_deref() == Some(tag))
    }

    /// Every port pair the call holds.
    pub(crate) fn ports(&self) -> impl Iterator<Item = PortPair> + '_ {
        self.legs
            .iter()
            .flat_map(|l| &l.streams)
            .filter_map(|s| s.ports)
    }

    /// When the call last showed life: signalling, or a packet on any stream.
    pub(crate) fn last_activity(&self) -> Instant {
        self.legs
            .iter()
            .flat_map(|l| &l.streams)
            .filter_map(Stream::last_packet)
            .fold(self.last_signal, Instant::max)
    }

    /// The two legs, the one at `x` first.
    fn pair_mut(&mut self, x: usize) -> (&mut Leg, &mut Leg) {
        let [a, b] = &mut self.legs;
        if x == 0 { (a, b) } else { (b, a) }
    }

    /// Applies an offer from leg `x` and returns the SDP for the other leg.
    pub(crate) fn apply_offer(
        &mut self,
        res: &mut Resources<'_>,
        x: usize,
        sdp: &SessionDescription,
        options: &MediaOptions,
        now: Instant,
    ) -> Result<SessionDescription, SessionError> {
        let count = sdp.media.len();
        if count > RelayConfig::MAX_MEDIA {
            return Err(SessionError::TooManyMedia {
                limit: RelayConfig::MAX_MEDIA,
            });
        }
        let existing = self.legs.get(x).map_or(0, |l| l.streams.len());
        if count < existing {
            return Err(SessionError::MediaRemoved {
                existing,
                offered: count,
            });
        }
        let names = options.interfaces.as_ref();
        let from_ip = res.interface(names.map(|(a, _)| a.as_str()))?;
        let to_ip = res.interface(names.map(|(_, b)| b.as_str()))?;
        let filter = CodecFilter::new(options);
        let source = match options.endpoint_address {
            EndpointAddress::SipSource => options.received_from,
            EndpointAddress::Sdp => None,
        };
        let skip = bundle_followers(sdp);
        let local = res.local();
        let (lx, ly) = self.pair_mut(x);
        let mut sections = Vec::with_capacity(count);
        for (index, media) in sdp.media.iter().enumerate() {
            let peer = PeerMedia::read(sdp, index, media, source)?;
            let sx = stream_at(lx, index, res, from_ip, &peer.media_type);
            let sy = stream_at(ly, index, res, to_ip, &peer.media_type);
            let carried = peer.is_relayable() && !skip.contains(&index);
            if !carried {
                reject(sx, res);
                reject(sy, res);
                let protocol = sy
                    .protocol
                    .map_or(media.protocol.to_string(), |p| p.as_str().to_owned());
                sections.push(rewrite::rejected_section(media, &protocol, sy.advertised));
                // Kept for the answer: the section's mid goes back to the offerer.
                sx.peer = Some(peer);
                continue;
            }
            take_offer(sx, peer, &filter, res, index)?;
            prepare_offer(sy, sx, options, res)?;
            sections.push(rewrite::offer_section(
                media, index, sx, sy, &filter, &local,
            )?);
        }
        let bundle = carried_bundle(sdp, &lx.streams);
        let mut offered_bundle = bundle.clone();
        if offered_bundle.is_empty() {
            // A WebRTC offer needs a BUNDLE group even when the offerer (plain SIP) had none: browsers set to
            // bundlePolicy "max-bundle" reject an offer without one. Only the first carried section goes into
            // it, since the relay gives every section a transport of its own.
            offered_bundle.extend(lone_bundle(&sections, &ly.streams));
        }
        let out = rewrite::session(
            sdp,
            SessionParts {
                media: sections,
                to: &ly.streams,
                bundle: offered_bundle,
                address: to_ip,
            },
            options,
        );
        self.offerer = x;
        self.offer_bundle = bundle;
        self.last_signal = now;
        self.record |= options.record_call;
        Ok(out)
    }

    /// Applies an answer to the latest offer from the other leg, tagged `to_tag`; returns the SDP for the
    /// offerer.
    pub(crate) fn apply_answer(
        &mut self,
        res: &mut Resources<'_>,
        from_tag: &str,
        to_tag: &str,
        sdp: &SessionDescription,
        options: &MediaOptions,
        now: Instant,
    ) -> Result<SessionDescription, SessionError> {
        let x = self.offerer;
        if self.leg_index(from_tag) != Some(x) {
            return Err(SessionError::LegNotFound {
                call_id: self.id.clone(),
                tag: from_tag.to_owned(),
            });
        }
        let offered = self.legs.get(x).map_or(0, |l| l.streams.len());
        if sdp.media.len() != offered {
            return Err(SessionError::MediaCountMismatch {
                offered,
                answered: sdp.media.len(),
            });
        }
        let source = match options.endpoint_address {
            EndpointAddress::SipSource => options.received_from,
            EndpointAddress::Sdp => None,
        };
        let local = res.local();
        let bundle = self.offer_bundle.clone();
        let (lx, ly) = self.pair_mut(x);
        if ly.tag.as_deref().is_some_and(|t| t != to_tag) {
            // A forked INVITE answered by another branch: the latest answer owns the callee's leg.
            tracing::debug!(
                to_tag,
                "answer from another branch replaces the callee's tag"
            );
        }
        ly.tag = Some(to_tag.to_owned());
        let mut sections = Vec::with_capacity(offered);
        let streams = lx.streams.iter_mut().zip(ly.streams.iter_mut());
        for (index, ((sx, sy), media)) in streams.zip(&sdp.media).enumerate() {
            let peer = PeerMedia::read(sdp, index, media, source)?;
            if sx.rejected || !peer.is_relayable() {
                reject(sx, res);
                reject(sy, res);
                sections.push(rejected_for(media, sx));
                continue;
            }
            take_answer(sy, peer, res, index)?;
            finish_offerer(sx, options, res.config);
            let negotiated = negotiate(&sx.offered_codecs, &sy.codecs);
            if negotiated.is_empty() {
                reject(sx, res);
                reject(sy, res);
                sections.push(rejected_for(media, sx));
                continue;
            }
            apply_negotiation(sx, sy, &negotiated);
            sections.push(rewrite::answer_section(media, sy, sx, &negotiated, &local)?);
        }
        let bundle = bundle
            .into_iter()
            .filter(|mid| {
                lx.streams.iter().any(|s| {
                    !s.rejected && s.peer.as_ref().and_then(|p| p.mid.as_deref()) == Some(mid)
                })
            })
            .collect();
        let address = match lx.streams.first() {
            Some(s) => s.advertised,
            None => res.interface(None)?,
        };
        let out = rewrite::session(
            sdp,
            SessionParts {
                media: sections,
                to: &lx.streams,
                bundle,
                address,
            },
            options,
        );
        self.last_signal = now;
        self.record |= options.record_call;
        Ok(out)
    }
}

fn rejected_for(media: &MediaDescription, to: &Stream) -> MediaDescription {
    let protocol = to
        .protocol
        .map_or(media.protocol.to_string(), |p| p.as_str().to_owned());
    let mut section = rewrite::rejected_section(media, &protocol, to.advertised);
    section.remove_attributes("mid");
    if let Some(mid) = to.peer.as_ref().and_then(|p| p.mid.as_deref()) {
        section
            .attributes
            .push(tandem_rtp_core::sdp::Attribute::Mid(mid.into()));
    }
    section
}

/// The stream of `leg` at `index`, created (with a fresh id, on `ip`) if the section is new.
fn stream_at<'l>(
    leg: &'l mut Leg,
    index: usize,
    res: &mut Resources<'_>,
    ip: IpAddr,
    media_type: &str,
) -> &'l mut Stream {
    while leg.streams.len() <= index {
        let id = res.stream_id();
        leg.streams.push(Stream::new(id, ip, media_type.to_owned()));
    }
    &mut leg.streams[index]
}

/// Marks a stream rejected and gives its ports back (when the request commits).
fn reject(stream: &mut Stream, res: &mut Resources<'_>) {
    stream.rejected = true;
    if let Some(ports) = stream.ports.take() {
        res.release(ports);
    }
}

fn ensure_ports(stream: &mut Stream, res: &mut Resources<'_>) -> Result<(), SessionError> {
    if stream.ports.is_none() {
        stream.ports = Some(res.allocate()?);
    }
    Ok(())
}

/// Sections of a BUNDLE group the relay does not carry: each group keeps its first audio section (where the
/// offerer tagged transport lives in practice); the others would need demultiplexing by MID, which the relay
/// does not do.
fn bundle_followers(sdp: &SessionDescription) -> Vec<usize> {
    let Some(group) = sdp.group("BUNDLE") else {
        return Vec::new();
    };
    let members: Vec<usize> = sdp
        .media
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.mid()
                .is_some_and(|mid| group.mids.iter().any(|g| **g == *mid))
        })
        .map(|(i, _)| i)
        .collect();
    let kept = members.iter().copied().find(|&i| {
        sdp.media
            .get(i)
            .is_some_and(|m| m.media.eq_ignore_ascii_case("audio") && !m.is_rejected())
    });
    members.into_iter().filter(|&i| Some(i) != kept).collect()
}

/// The mids of the offer's BUNDLE group the relay carries.
fn carried_bundle(sdp: &SessionDescription, offerer: &[Stream]) -> Vec<String> {
    let Some(group) = sdp.group("BUNDLE") else {
        return Vec::new();
    };
    group
        .mids
        .iter()
        .filter(|mid| {
            offerer.iter().any(|s| {
                !s.rejected && s.peer.as_ref().and_then(|p| p.mid.as_deref()) == Some(&***mid)
            })
        })
        .map(|mid| mid.to_string())
        .collect()
}

/// The mid of the first section carried towards a WebRTC stream, for a BUNDLE group of its own.
fn lone_bundle(sections: &[MediaDescription], to: &[Stream]) -> Option<String> {
    sections
        .iter()
        .zip(to)
        .find(|(m, s)| m.port != 0 && !s.rejected && rewrite::is_webrtc(s))
        .and_then(|(m, _)| m.mid().map(str::to_owned))
}

/// The offerer's stream takes its offered section: addresses, ICE credentials, keys, codecs.
fn take_offer(
    sx: &mut Stream,
    peer: PeerMedia,
    filter: &CodecFilter,
    res: &mut Resources<'_>,
    index: usize,
) -> Result<(), SessionError> {
    let protocol = peer.protocol.unwrap_or(TransportProtocol::RtpAvp);
    ensure_ports(sx, res)?;
    let codecs: Vec<Codec> = peer
        .codecs
        .iter()
        .filter(|c| !listed(&filter.strip, c))
        .cloned()
        .collect();
    if codecs.is_empty() && !peer.codecs.is_empty() {
        return Err(SessionError::NoCodecsLeft { index });
    }
    sx.ice = offered_ice(sx.ice.take(), peer.ice.as_ref())?;
    match protocol.keying() {
        Keying::None => {
            sx.sdes = SdesSide::default();
            sx.dtls = None;
        }
        Keying::Sdes => {
            sx.sdes = offered_sdes(&sx.sdes, &peer, index)?;
            sx.dtls = None;
        }
        Keying::Dtls => {
            res.config
                .fingerprint
                .as_ref()
                .ok_or(SessionError::DtlsUnavailable)?;
            sx.dtls = Some(offered_dtls(sx.dtls.take(), &peer, index)?);
            sx.sdes = SdesSide::default();
        }
    }
    sx.protocol = Some(protocol);
    sx.media_type.clone_from(&peer.media_type);
    sx.offered_codecs.clone_from(&codecs);
    sx.codecs = codecs;
    sx.rejected = false;
    sx.peer = Some(peer);
    Ok(())
}

/// ICE state after an offer: kept while the peer's credentials stay, restarted (new local credentials) when
/// they change (RFC 8445 §9), dropped when the peer stops using ICE.
fn offered_ice(
    current: Option<IceSide>,
    remote: Option<&Credentials>,
) -> Result<Option<IceSide>, SessionError> {
    let Some(remote) = remote else {
        return Ok(None);
    };
    let Some(mut side) = current else {
        return Ok(Some(IceSide {
            local: Credentials::random()?,
            remote: Some(remote.clone()),
            generation: 0,
        }));
    };
    match &side.remote {
        Some(known) if known == remote => {}
        Some(_) => {
            side.local = Credentials::random()?;
            side.generation = side.generation.wrapping_add(1);
            side.remote = Some(remote.clone());
        }
        None => side.remote = Some(remote.clone()),
    }
    Ok(Some(side))
}

/// SDES after an offer: the first offered line the relay can use, and our key for the same tag and suite
/// (kept from the previous offer when it matches, so a re-offer does not re-key).
fn offered_sdes(
    current: &SdesSide,
    peer: &PeerMedia,
    index: usize,
) -> Result<SdesSide, SessionError> {
    let chosen = peer
        .cryptos
        .iter()
        .find(|c| usable_crypto(c))
        .ok_or(SessionError::NoUsableCrypto { index })?;
    let local = match &current.local {
        Some(l) if l.tag == chosen.tag && l.suite == chosen.suite => l.clone(),
        _ => Crypto::generate(chosen.tag, chosen.suite.clone())?,
    };
    Ok(SdesSide {
        offered: Vec::new(),
        local: Some(local),
        remote: Some(chosen.clone()),
    })
}

/// Whether the SRTP layer can use a line: a suite it implements, one key of the right length, no MKI, and
/// no session parameter that changes the transform (only the window size hint `WSH=` is harmless).
fn usable_crypto(c: &Crypto) -> bool {
    let Some(profile) = SrtpProfile::from_sdes_name(c.suite.name()) else {
        return false;
    };
    let [key] = c.key_params.as_slice() else {
        return false;
    };
    key.mki.is_none()
        && key.key_salt.len() == profile.master_key_len() + profile.master_salt_len()
        && c.session_params.iter().all(|p| p.starts_with("WSH="))
}

/// DTLS after an offer: the peer's fingerprint and setup. A new fingerprint is a new association, whose
/// role the answer decides; otherwise the role stays (RFC 8842 §5.5) unless the peer now insists on one.
fn offered_dtls(
    current: Option<DtlsSide>,
    peer: &PeerMedia,
    index: usize,
) -> Result<DtlsSide, SessionError> {
    let fingerprint = remote_fingerprint(peer, index)?;
    // RFC 8842 §5.2: an offer says actpass; treat a missing attribute the same.
    let setup = peer.setup.unwrap_or(Setup::ActPass);
    if setup == Setup::HoldConn {
        return Err(SessionError::InvalidSetup {
            index,
            setup: setup.as_str(),
        });
    }
    let same_association = current
        .as_ref()
        .is_some_and(|d| d.remote_fingerprint.as_ref() == Some(&fingerprint));
    let kept = current.filter(|_| same_association);
    let role = match setup {
        Setup::Active => Some(DtlsRole::Server),
        Setup::Passive => Some(DtlsRole::Client),
        _ => kept.as_ref().and_then(|d| d.role),
    };
    Ok(DtlsSide {
        our_setup: kept.as_ref().map_or(Setup::ActPass, |d| d.our_setup),
        remote_setup: Some(setup),
        role,
        remote_fingerprint: Some(fingerprint),
    })
}

fn remote_fingerprint(
    peer: &PeerMedia,
    index: usize,
) -> Result<CertificateFingerprint, SessionError> {
    let attribute = peer
        .fingerprint
        .as_ref()
        .ok_or(SessionError::MissingFingerprint { index })?;
    CertificateFingerprint::from_sdp(attribute)
        .map_err(|source| SessionError::InvalidFingerprint { index, source })
}

/// The answerer's stream before the offer goes out: ports, ICE, keys and rtcp-mux for the target profile.
fn prepare_offer(
    sy: &mut Stream,
    sx: &Stream,
    options: &MediaOptions,
    res: &mut Resources<'_>,
) -> Result<(), SessionError> {
    let from = sx.protocol.unwrap_or(TransportProtocol::RtpAvp);
    let target = options.transport_protocol.unwrap_or(from);
    ensure_ports(sy, res)?;
    let peer_uses_ice = sx.peer.as_ref().is_some_and(|p| p.ice.is_some());
    let use_ice = match options.ice {
        IceMode::Force => true,
        IceMode::Remove => false,
        IceMode::Default => peer_uses_ice,
    };
    sy.ice = match (use_ice, sy.ice.take()) {
        (false, _) => None,
        (true, Some(side)) => Some(side),
        (true, None) => Some(IceSide {
            local: Credentials::random()?,
            remote: None,
            generation: 0,
        }),
    };
    match target.keying() {
        Keying::None => {
            sy.sdes = SdesSide::default();
            sy.dtls = None;
        }
        Keying::Sdes => {
            sy.sdes.offered = our_cryptos(&sy.sdes.offered, options, res.config)?;
            sy.dtls = None;
        }
        Keying::Dtls => {
            if options.dtls == DtlsMode::Off {
                return Err(SessionError::InvalidOptions {
                    reason: "DTLS=off with a UDP/TLS transport protocol",
                });
            }
            res.config
                .fingerprint
                .as_ref()
                .ok_or(SessionError::DtlsUnavailable)?;
            sy.dtls = Some(our_dtls_offer(sy.dtls.take(), options.dtls));
            sy.sdes = SdesSide::default();
        }
    }
    let offerer_muxes = sx.peer.as_ref().is_some_and(|p| p.rtcp_mux);
    sy.mux_offer = match options.rtcp_mux {
        RtcpMuxMode::Require => MuxOffer::Exclusive,
        RtcpMuxMode::Offer => MuxOffer::WithFallback,
        RtcpMuxMode::Demux | RtcpMuxMode::Reject => MuxOffer::No,
        // WebRTC endpoints refuse offers without rtcp-mux (RFC 8829 "require" policy): offering it costs
        // nothing, since the fallback port stays.
        RtcpMuxMode::Default | RtcpMuxMode::Accept
            if offerer_muxes || target.keying() == Keying::Dtls =>
        {
            MuxOffer::WithFallback
        }
        RtcpMuxMode::Default | RtcpMuxMode::Accept => MuxOffer::No,
    };
    if sy.mux_offer == MuxOffer::Exclusive {
        sy.rtcp_mux = true;
    }
    sy.protocol = Some(target);
    sy.media_type.clone_from(&sx.media_type);
    sy.rejected = false;
    Ok(())
}

/// Our `a=crypto` lines for an offer: one per allowed suite, tags from 1, kept from the previous offer when the
/// suites are the same.
fn our_cryptos(
    current: &[Crypto],
    options: &MediaOptions,
    config: &RelayConfig,
) -> Result<Vec<Crypto>, SessionError> {
    if options.sdes.off {
        return Err(SessionError::InvalidOptions {
            reason: "SDES=off with an RTP/SAVP transport protocol",
        });
    }
    let suites: Vec<SrtpProfile> = config
        .sdes_suites
        .iter()
        .copied()
        .filter(|s| options.sdes.allows(*s))
        .collect();
    if suites.is_empty() {
        return Err(SessionError::InvalidOptions {
            reason: "the SDES options leave no crypto suite to offer",
        });
    }
    let same = current.len() == suites.len()
        && current
            .iter()
            .zip(&suites)
            .all(|(c, s)| c.suite.name() == s.sdes_name());
    if same {
        return Ok(current.to_vec());
    }
    suites
        .iter()
        .zip(1u32..)
        .map(|(s, tag)| {
            Ok(Crypto::generate(
                tag,
                CryptoSuite::from_name(s.sdes_name()),
            )?)
        })
        .collect()
}

/// Our `a=setup` for an offer: `actpass` unless the options pick a side (then the role is known at once).
fn our_dtls_offer(current: Option<DtlsSide>, mode: DtlsMode) -> DtlsSide {
    let (our_setup, forced) = match mode {
        DtlsMode::Passive => (Setup::Passive, Some(DtlsRole::Server)),
        DtlsMode::Active => (Setup::Active, Some(DtlsRole::Client)),
        DtlsMode::Default | DtlsMode::Off => (Setup::ActPass, None),
    };
    let role = forced.or_else(|| current.as_ref().and_then(|d| d.role));
    DtlsSide {
        our_setup,
        remote_setup: current.as_ref().and_then(|d| d.remote_setup),
        role,
        remote_fingerprint: current.and_then(|d| d.remote_fingerprint),
    }
}

/// The answerer's stream takes its answered section.
fn take_answer(
    sy: &mut Stream,
    peer: PeerMedia,
    res: &mut Resources<'_>,
    index: usize,
) -> Result<(), SessionError> {
    let offered = sy.protocol.unwrap_or(TransportProtocol::RtpAvp);
    let answered = peer.protocol.unwrap_or(offered);
    if answered.keying() != offered.keying() {
        return Err(SessionError::ProfileMismatch {
            index,
            offered,
            answered,
        });
    }
    ensure_ports(sy, res)?;
    sy.rtcp_mux = match sy.mux_offer {
        MuxOffer::Exclusive => true,
        MuxOffer::WithFallback => peer.rtcp_mux,
        MuxOffer::No => false,
    };
    sy.ice = match (sy.ice.take(), &peer.ice) {
        (Some(mut side), Some(remote)) => {
            side.remote = Some(remote.clone());
            Some(side)
        }
        _ => None,
    };
    match answered.keying() {
        Keying::None => {}
        Keying::Sdes => sy.sdes = answered_sdes(&sy.sdes, &peer, index)?,
        Keying::Dtls => {
            let fingerprint = remote_fingerprint(&peer, index)?;
            let our_setup = sy.dtls.as_ref().map_or(Setup::ActPass, |d| d.our_setup);
            sy.dtls = Some(DtlsSide {
                our_setup,
                remote_setup: peer.setup,
                role: Some(answered_role(our_setup, peer.setup, index)?),
                remote_fingerprint: Some(fingerprint),
            });
        }
    }
    sy.protocol = Some(answered);
    sy.codecs = peer.codecs.clone();
    sy.rejected = false;
    sy.peer = Some(peer);
    Ok(())
}

/// Our DTLS role once the peer answered our `a=setup` (RFC 8842 §5.3). A missing attribute in the answer
/// means `active` (RFC 4145 §4).
fn answered_role(
    ours: Setup,
    theirs: Option<Setup>,
    index: usize,
) -> Result<DtlsRole, SessionError> {
    match (ours, theirs.unwrap_or(Setup::Active)) {
        (Setup::Passive, _) => Ok(DtlsRole::Server),
        (Setup::Active, _) => Ok(DtlsRole::Client),
        (_, theirs) => DtlsRole::from_answer(theirs).ok_or(SessionError::InvalidSetup {
            index,
            setup: theirs.as_str(),
        }),
    }
}

/// SDES after an answer: the answered line must carry one of our offered tags with the same suite.
fn answered_sdes(
    current: &SdesSide,
    peer: &PeerMedia,
    index: usize,
) -> Result<SdesSide, SessionError> {
    let pair = peer
        .cryptos
        .iter()
        .filter(|c| usable_crypto(c))
        .find_map(|theirs| {
            current
                .offered
                .iter()
                .find(|o| o.tag == theirs.tag && o.suite == theirs.suite)
                .map(|ours| (ours.clone(), theirs.clone()))
        });
    let (ours, theirs) = pair.ok_or(SessionError::NoUsableCrypto { index })?;
    Ok(SdesSide {
        offered: current.offered.clone(),
        local: Some(ours),
        remote: Some(theirs),
    })
}

/// The offerer's stream once the answer is known: rtcp-mux accepted, ICE kept or removed, DTLS role chosen.
fn finish_offerer(sx: &mut Stream, options: &MediaOptions, config: &RelayConfig) {
    let offered_mux = sx.peer.as_ref().is_some_and(|p| p.rtcp_mux);
    sx.rtcp_mux = offered_mux && options.rtcp_mux != RtcpMuxMode::Reject;
    if options.ice == IceMode::Remove {
        sx.ice = None;
    }
    let Some(dtls) = &mut sx.dtls else {
        return;
    };
    if dtls.role.is_none() {
        let preferred = match options.dtls {
            DtlsMode::Passive => DtlsRole::Server,
            DtlsMode::Active => DtlsRole::Client,
            DtlsMode::Default | DtlsMode::Off => config.dtls_answer_role,
        };
        let offered = dtls.remote_setup.unwrap_or(Setup::ActPass);
        dtls.role = DtlsRole::for_answer(offered, preferred);
    }
    if let Some(role) = dtls.role {
        dtls.our_setup = role.setup();
    }
}

/// Codecs and payload maps of both streams from the negotiated list.
fn apply_negotiation(sx: &mut Stream, sy: &mut Stream, negotiated: &[NegotiatedCodec]) {
    sx.codecs = negotiated
        .iter()
        .map(|n| Codec {
            payload_type: n.offerer_pt,
            ..n.codec.clone()
        })
        .collect();
    sy.codecs
        .retain(|c| negotiated.iter().any(|n| n.answerer_pt == c.payload_type));
    let (from_offerer, from_answerer) = ingress_maps(negotiated);
    sx.payload_map = from_offerer;
    sy.payload_map = from_answerer;
}
