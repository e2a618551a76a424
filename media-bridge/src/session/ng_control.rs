//! The relay behind the NG protocol: [`RelayControl`] implements [`MediaControl`] by mapping NG requests to
//! typed offers, answers, deletes and queries, and the relay's statistics back to NG replies.
//!
//! This is driver code: it reads the clocks (`Instant::now`, `SystemTime::now` for the epoch seconds NG
//! reports) and holds the relay behind a mutex shared with the thread that drains
//! [`Relay::poll_update`] and calls [`Relay::sweep`]. The lock guards the control plane only; the packet path
//! never takes it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::srtp::SrtpProfile;

use super::{
    AnswerRequest, CallStats, Counters, DeleteRequest, DtlsMode, DtmfRequest, EndpointAddress,
    IceMode, Keying, MediaOptions, MediaStats, OfferRequest, Relay, RtcpMuxMode, SessionError,
    TransportProtocol,
};
use crate::ng::{self, Ignored, MediaControl, NgError};

/// The relay as an NG [`MediaControl`]: hand it to the NG server.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tandem_media_bridge::session::{Relay, RelayConfig, RelayControl};
///
/// let relay = Arc::new(Mutex::new(Relay::new(RelayConfig::new("203.0.113.7".parse().unwrap()))?));
/// let control = RelayControl::new(Arc::clone(&relay));
/// // NgServer::bind(config, control) serves it on port 22222; another task drains
/// // relay.lock().poll_update() towards the packet path and calls sweep().
/// # let _ = control;
/// # Ok::<(), tandem_media_bridge::session::SessionError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RelayControl {
    relay: Arc<Mutex<Relay>>,
}

impl RelayControl {
    /// Serves NG requests with `relay`.
    pub fn new(relay: Arc<Mutex<Relay>>) -> Self {
        RelayControl { relay }
    }

    /// The relay.
    pub fn relay(&self) -> &Arc<Mutex<Relay>> {
        &self.relay
    }

    fn lock(&self) -> MutexGuard<'_, Relay> {
        // A panic while holding the lock leaves the table as the last completed request left it: every verb
        // works on a copy and commits at the end, so the data is consistent and serving can go on.
        self.relay.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn offer_at(
        &self,
        request: ng::SdpRequest,
        now: Instant,
    ) -> Result<ng::SdpReply, SessionError> {
        let sdp = SessionDescription::parse(&request.sdp)?;
        let call_id = text(&request.call_id, "call-id is not UTF-8")?;
        let from_tag = text(&request.from_tag, "from-tag is not UTF-8")?;
        let mut offer = OfferRequest::new(call_id, from_tag, sdp)
            .with_options(mapped_options(&request.options));
        if let Some(to_tag) = &request.to_tag {
            offer = offer.with_to_tag(text(to_tag, "to-tag is not UTF-8")?);
        }
        let out = self.lock().offer(offer, now)?;
        Ok(ng::SdpReply::new(out.to_bytes()))
    }

    fn answer_at(
        &self,
        request: ng::SdpRequest,
        now: Instant,
    ) -> Result<ng::SdpReply, SessionError> {
        let sdp = SessionDescription::parse(&request.sdp)?;
        let to_tag = request
            .to_tag
            .as_ref()
            .ok_or(SessionError::InvalidRequest {
                reason: "an answer needs a to-tag",
            })?;
        let answer = AnswerRequest::new(
            text(&request.call_id, "call-id is not UTF-8")?,
            text(&request.from_tag, "from-tag is not UTF-8")?,
            text(to_tag, "to-tag is not UTF-8")?,
            sdp,
        )
        .with_options(mapped_options(&request.options));
        let out = self.lock().answer(answer, now)?;
        Ok(ng::SdpReply::new(out.to_bytes()))
    }

    fn delete_at(
        &self,
        request: &ng::Delete,
        now: Instant,
    ) -> Result<ng::DeleteReply, SessionError> {
        if request.delete_delay.is_some_and(|d| d > 0) {
            tracing::info!("NG delete-delay is not supported: deleting at once");
        }
        let mut delete = DeleteRequest::new(text(&request.call_id, "call-id is not UTF-8")?);
        if let Some(from_tag) = &request.from_tag {
            let to_tag = match &request.to_tag {
                Some(t) => Some(text(t, "to-tag is not UTF-8")?),
                None => None,
            };
            delete = delete.with_tags(text(from_tag, "from-tag is not UTF-8")?, to_tag);
        }
        match self.lock().delete(&delete) {
            Ok(stats) => Ok(ng::DeleteReply {
                stats: Some(ng_stats(&stats, now, SystemTime::now())),
                warning: None,
            }),
            // rtpengine only fails a delete of an unknown call when asked to (`fatal`).
            Err(e @ SessionError::CallNotFound { .. }) if !request.fatal => Ok(ng::DeleteReply {
                stats: None,
                warning: Some(e.to_string()),
            }),
            Err(e) => Err(e),
        }
    }

    fn query_at(&self, request: &ng::Query, now: Instant) -> Result<ng::CallStats, SessionError> {
        let call_id = text(&request.call_id, "call-id is not UTF-8")?;
        let stats = self.lock().query(&call_id)?;
        Ok(ng_stats(&stats, now, SystemTime::now()))
    }

    fn play_dtmf_now(&self, request: &ng::PlayDtmf) -> Result<ng::Reply, SessionError> {
        let mut dtmf = DtmfRequest::new(
            text(&request.call_id, "call-id is not UTF-8")?,
            request.digits.clone(),
        );
        if let Some(tag) = &request.from_tag {
            dtmf = dtmf.from_tag(text(tag, "from-tag is not UTF-8")?);
        }
        if let Some(ms) = request.duration_ms {
            dtmf = dtmf.with_duration(Duration::from_millis(u64::from(ms)));
        }
        if let Some(volume) = request.volume {
            dtmf = dtmf.with_volume(volume);
        }
        if let Some(ms) = request.pause_ms {
            dtmf = dtmf.with_pause(Duration::from_millis(u64::from(ms)));
        }
        self.lock().play_dtmf(&dtmf)?;
        Ok(ng::Reply::Done(None))
    }

    fn recording_now(&self, request: &ng::CallRef, start: bool) -> Result<ng::Reply, SessionError> {
        let call_id = text(&request.call_id, "call-id is not UTF-8")?;
        self.lock().set_recording(&call_id, start)?;
        Ok(ng::Reply::Done(None))
    }

    fn list_ids(&self, request: &ng::List) -> Vec<Bytes> {
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        self.lock()
            .call_ids()
            .take(limit)
            .map(|id| Bytes::copy_from_slice(id.as_bytes()))
            .collect()
    }
}

impl MediaControl for RelayControl {
    type Error = SessionError;

    async fn offer(&self, request: ng::SdpRequest) -> Result<ng::SdpReply, SessionError> {
        self.offer_at(request, Instant::now())
    }

    async fn answer(&self, request: ng::SdpRequest) -> Result<ng::SdpReply, SessionError> {
        self.answer_at(request, Instant::now())
    }

    async fn delete(&self, request: ng::Delete) -> Result<ng::DeleteReply, SessionError> {
        self.delete_at(&request, Instant::now())
    }

    async fn query(&self, request: ng::Query) -> Result<ng::CallStats, SessionError> {
        self.query_at(&request, Instant::now())
    }

    async fn list(&self, request: ng::List) -> Result<Vec<Bytes>, SessionError> {
        Ok(self.list_ids(&request))
    }

    async fn play_dtmf(&self, request: ng::PlayDtmf) -> ng::Reply {
        self.play_dtmf_now(&request)
            .unwrap_or_else(ng::Reply::error)
    }

    async fn recording(&self, request: ng::CallRef, start: bool) -> ng::Reply {
        self.recording_now(&request, start)
            .unwrap_or_else(ng::Reply::error)
    }

    fn ignored(&self, peer: SocketAddr, command: &'static str, ignored: &[Ignored]) {
        for entry in ignored {
            tracing::info!(%peer, command, "NG request entry ignored: {entry}");
        }
    }

    fn rejected(&self, peer: SocketAddr, error: &NgError) {
        tracing::warn!(%peer, "NG request rejected: {error}");
    }
}

fn text(bytes: &Bytes, reason: &'static str) -> Result<String, SessionError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| SessionError::InvalidRequest { reason })
}

/// [`from_ng_options`] with every part that was not acted on logged.
fn mapped_options(ng: &ng::MediaOptions) -> MediaOptions {
    let (options, unsupported) = from_ng_options(ng);
    for what in unsupported {
        tracing::info!("NG option not supported, ignored: {what}");
    }
    options
}

/// Maps decoded NG options to the relay's, and describes each part the relay does not act on (for a log
/// line: rtpengine clients send options meant for features this relay lacks, which must not fail the call).
pub fn from_ng_options(ng: &ng::MediaOptions) -> (MediaOptions, Vec<String>) {
    let mut out = MediaOptions::default();
    let mut unsupported = Vec::new();
    out.ice = match ng.ice {
        None | Some(ng::Ice::Default) => IceMode::Default,
        Some(ng::Ice::Remove) => IceMode::Remove,
        Some(ng::Ice::Force) => IceMode::Force,
        Some(other) => {
            unsupported.push(format!(
                "ICE={} (treated as force: the relay has host candidates only)",
                other.as_str()
            ));
            IceMode::Force
        }
    };
    out.dtls = match ng.dtls {
        None => DtlsMode::Default,
        Some(ng::Dtls::Off) => DtlsMode::Off,
        Some(ng::Dtls::Passive) => DtlsMode::Passive,
        Some(ng::Dtls::Active) => DtlsMode::Active,
    };
    map_sdes(&ng.sdes, &mut out, &mut unsupported);
    out.transport_protocol = match ng.transport_protocol {
        Some(ng::TransportOverride::Protocol(p)) => TransportProtocol::parse(p.as_str()),
        // An answer always speaks the offerer's profile, so `accept` is what the relay does anyway.
        Some(ng::TransportOverride::Accept) | None => None,
    };
    out.rtcp_mux = rtcp_mux(&ng.rtcp_mux, &mut unsupported);
    for replace in &ng.replace {
        match replace {
            ng::Replace::Origin => out.replace_origin = true,
            ng::Replace::SessionConnection => out.replace_session_connection = true,
            other => unsupported.push(format!("replace-{}", other.as_str())),
        }
    }
    out.interfaces = match ng.direction.as_slice() {
        [] => None,
        [from, to] => Some((lossy(from), lossy(to))),
        other => {
            unsupported.push(format!(
                "direction with {} interfaces (two expected)",
                other.len()
            ));
            None
        }
    };
    out.codec_strip = ng.codec.strip.iter().map(lossy).collect();
    out.codec_mask = ng.codec.mask.iter().map(lossy).collect();
    let codec = &ng.codec;
    for (name, list) in [
        ("offer", &codec.offer),
        ("transcode", &codec.transcode),
        ("except", &codec.except),
        ("accept", &codec.accept),
        ("consume", &codec.consume),
        ("set", &codec.set),
    ] {
        unsupported.extend(list.iter().map(|c| format!("codec-{name}-{}", lossy(c))));
    }
    out.received_from = ng.received_from;
    for flag in &ng.flags {
        match flag {
            ng::Flag::TrustAddress => out.endpoint_address = EndpointAddress::Sdp,
            ng::Flag::SipSourceAddress => out.endpoint_address = EndpointAddress::SipSource,
            other => unsupported.push(format!("flag {}", other.as_str())),
        }
    }
    if ng.media_address.is_some() {
        unsupported.push("media-address".into());
    }
    if ng.address_family.is_some() {
        unsupported.push("address-family".into());
    }
    out.record_call = ng.record_call == Some(true);
    if ng.ptime.is_some() {
        unsupported.push("ptime".into());
    }
    (out, unsupported)
}

fn map_sdes(sdes: &[ng::Sdes], out: &mut MediaOptions, unsupported: &mut Vec<String>) {
    for item in sdes {
        match item {
            ng::Sdes::Off => out.sdes.off = true,
            ng::Sdes::NoSuite(name) => match suite(name) {
                Some(s) => out.sdes.no.push(s),
                None => unsupported.push(format!("SDES-no-{}", lossy(name))),
            },
            ng::Sdes::OnlySuite(name) => match suite(name) {
                Some(s) => out.sdes.only.push(s),
                None => unsupported.push(format!("SDES-only-{}", lossy(name))),
            },
            other => unsupported.push(format!("SDES {other:?}")),
        }
    }
}

fn suite(name: &Bytes) -> Option<SrtpProfile> {
    SrtpProfile::from_sdes_name(std::str::from_utf8(name).ok()?)
}

/// rtcp-mux words, strongest first when a request names several.
fn rtcp_mux(words: &[ng::RtcpMux], unsupported: &mut Vec<String>) -> RtcpMuxMode {
    const ORDER: [(ng::RtcpMux, RtcpMuxMode); 5] = [
        (ng::RtcpMux::Reject, RtcpMuxMode::Reject),
        (ng::RtcpMux::Require, RtcpMuxMode::Require),
        (ng::RtcpMux::Offer, RtcpMuxMode::Offer),
        (ng::RtcpMux::Demux, RtcpMuxMode::Demux),
        (ng::RtcpMux::Accept, RtcpMuxMode::Accept),
    ];
    let chosen = ORDER.iter().find(|(w, _)| words.contains(w));
    if words.len() > 1
        && let Some((w, _)) = chosen
    {
        unsupported.push(format!("rtcp-mux words beyond {}", w.as_str()));
    }
    chosen.map_or(RtcpMuxMode::Default, |(_, mode)| *mode)
}

fn lossy(bytes: &Bytes) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Seconds since the UNIX epoch of `at`, given the wall clock `wall` at `now` (0 if before the epoch).
fn unix_seconds(at: Instant, now: Instant, wall: SystemTime) -> u64 {
    let age = now.saturating_duration_since(at);
    wall.checked_sub(age)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The relay's statistics as NG reports them.
pub(crate) fn ng_stats(stats: &CallStats, now: Instant, wall: SystemTime) -> ng::CallStats {
    let unix = |t: Instant| unix_seconds(t, now, wall);
    let tags = stats
        .legs
        .iter()
        .enumerate()
        .map(|(i, leg)| {
            let other = stats.legs.get(1 - i.min(1)).and_then(|l| l.tag.clone());
            ng::TagStats {
                tag: Bytes::from(leg.tag.clone().unwrap_or_default()),
                label: None,
                created: unix(leg.created),
                in_dialogue_with: other.map(Bytes::from),
                medias: leg.media.iter().map(|m| ng_media(m, &unix)).collect(),
            }
        })
        .collect();
    let (rtp, rtcp) = stats.totals();
    ng::CallStats {
        created: unix(stats.created),
        last_signal: unix(stats.last_signal),
        tags,
        totals: ng::Totals {
            rtp: ng_counters(rtp),
            rtcp: ng_counters(rtcp),
        },
    }
}

fn ng_counters(c: Counters) -> ng::Counters {
    ng::Counters {
        packets: c.packets,
        bytes: c.bytes,
        errors: c.errors,
    }
}

fn ng_media(m: &MediaStats, unix: &impl Fn(Instant) -> u64) -> ng::MediaStats {
    let mut flags = Vec::new();
    if !m.rejected && m.local_ports.is_some() {
        flags.push(ng::MediaFlag::Initialized);
    }
    if m.rtcp_mux {
        flags.push(ng::MediaFlag::RtcpMux);
    }
    match m.keying {
        Keying::Dtls => flags.push(ng::MediaFlag::DtlsSrtp),
        Keying::Sdes => flags.push(ng::MediaFlag::Sdes),
        Keying::None => {}
    }
    if m.ice {
        flags.push(ng::MediaFlag::Ice);
    }
    let crypto_suite = m
        .crypto_suite
        .map(|p| Bytes::from_static(p.sdes_name().as_bytes()));
    let mut streams = vec![ng::StreamStats {
        kind: ng::StreamKind::Rtp,
        local_port: m.local_ports.map(|p| p.rtp()),
        endpoint: m.traffic.latched,
        advertised_endpoint: m.advertised_rtp,
        crypto_suite: crypto_suite.clone(),
        last_packet: m.traffic.last_packet.map_or(0, unix),
        stats: ng_counters(m.traffic.rtp),
        jitter_ms: m
            .traffic
            .jitter
            .map(|j| u64::try_from(j.as_millis()).unwrap_or(u64::MAX)),
        packets_lost: m.traffic.jitter.map(|_| m.traffic.lost),
        rtt_us: m
            .traffic
            .rtt
            .map(|r| u64::try_from(r.as_micros()).unwrap_or(u64::MAX)),
    }];
    if !m.rtcp_mux && m.local_ports.is_some() {
        streams.push(ng::StreamStats {
            kind: ng::StreamKind::Rtcp,
            local_port: m.local_ports.map(|p| p.rtcp()),
            endpoint: None,
            advertised_endpoint: m.advertised_rtcp,
            crypto_suite,
            last_packet: 0,
            stats: ng_counters(m.traffic.rtcp),
            ..ng::StreamStats::default()
        });
    }
    ng::MediaStats {
        index: u32::try_from(m.index + 1).unwrap_or(u32::MAX),
        media_type: Bytes::from(m.media_type.clone()),
        protocol: m
            .protocol
            .and_then(|p| ng::TransportProtocol::parse(p.as_str().as_bytes())),
        flags,
        streams,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn epoch_seconds_count_back_from_the_wall_clock() {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        assert_eq!(
            unix_seconds(now - Duration::from_secs(100), now, wall),
            1_700_000_000
        );
        assert_eq!(unix_seconds(now, now, UNIX_EPOCH), 0);
    }

    #[test]
    fn record_call_maps_to_the_recording_option_and_is_not_reported_unsupported() {
        let mut ng = ng::MediaOptions::default();
        let (options, unsupported) = from_ng_options(&ng);
        assert!(!options.record_call);
        ng.record_call = Some(true);
        let (options, unsupported_too) = from_ng_options(&ng);
        assert!(options.record_call);
        assert_eq!(unsupported, unsupported_too);
        assert!(!unsupported_too.iter().any(|u| u.contains("record")));
    }

    #[test]
    fn several_rtcp_mux_words_take_the_strongest_and_say_so() {
        let mut unsupported = Vec::new();
        let mode = rtcp_mux(&[ng::RtcpMux::Accept, ng::RtcpMux::Offer], &mut unsupported);
        assert_eq!(mode, RtcpMuxMode::Offer);
        assert_eq!(unsupported.len(), 1);
        assert_eq!(rtcp_mux(&[], &mut unsupported), RtcpMuxMode::Default);
    }
}
