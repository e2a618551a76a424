//! A worker's state for one stream: its sockets, where its endpoint really is (latching or ICE), its SRTP
//! contexts, ICE agent and DTLS association, and its counters.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tandem_rtp_core::SrtpContext;

use super::dtmf::{DtmfPlayer, OutgoingRtp};
use super::port_claim::{ClaimedPorts, bind_socket};
use super::recorder::{RecordedPacket, RecorderHandle, RecorderMessage};
use super::stream_stats::{DropReason, RtcpSummary, StreamCounters};
use crate::dtls::{DtlsConfig, DtlsEvent, DtlsRole, DtlsTransport};
use crate::ice::{Event, IceAgent, IceConfig};
use crate::session::{DtmfInjection, LegMedia, SrtpSetup, StreamId};

/// Sender reports remembered per stream for round-trip times (RFC 3550 §6.4.1).
const SENDER_REPORTS: usize = 4;

/// What every stream of a worker shares: bind address, DTLS certificate, ICE settings.
#[derive(Clone)]
pub(crate) struct StreamSettings {
    pub(crate) bind: IpAddr,
    pub(crate) dtls: Option<DtlsConfig>,
    pub(crate) ice: IceConfig,
    /// Where recorded calls' packets go, if recording is configured.
    pub(crate) recorder: Option<RecorderHandle>,
    /// The sockets bound when the control plane handed the streams' ports out.
    pub(crate) claimed: ClaimedPorts,
}

/// A recorded stream's link to the recorder.
struct RecordingTap {
    recorder: RecorderHandle,
    call: Arc<str>,
}

impl Drop for RecordingTap {
    fn drop(&mut self) {
        self.recorder
            .control(RecorderMessage::Close(Arc::clone(&self.call)));
    }
}

/// One stream as a worker holds it.
pub(crate) struct RelayedStream {
    pub(crate) media: Arc<LegMedia>,
    /// `media.peer`, kept beside the stream's other per-packet state: reading it through the `Arc` costs
    /// every relayed packet a cache miss before its peer can be looked up.
    peer: StreamId,
    pub(crate) rtp_socket: UdpSocket,
    pub(crate) rtcp_socket: Option<UdpSocket>,
    /// The claimed RTCP socket while RTCP is muxed: kept (out of the poller) so that the port stays ours
    /// when a re-offer turns rtcp-mux off.
    pub(crate) parked_rtcp: Option<UdpSocket>,
    /// The source RTP (and muxed RTCP) is accepted from and sent to, once learned (symmetric RTP).
    latched_rtp: Option<SocketAddr>,
    /// The same for RTCP on its own port.
    latched_rtcp: Option<SocketAddr>,
    pub(crate) ice: Option<IceAgent>,
    /// Boxed: 3.5 KB that a plain RTP stream never uses would otherwise sit in every slot of the worker's
    /// stream table, between the fields each packet reads.
    dtls: Option<Box<DtlsTransport>>,
    /// Where DTLS came from last, for answers before ICE selects a pair.
    dtls_source: Option<SocketAddr>,
    /// The certificate, for a handshake the peer starts before its answer settles the role.
    dtls_config: Option<DtlsConfig>,
    /// Unprotects what the endpoint sends.
    srtp_in: Option<SrtpContext>,
    /// Protects what we send the endpoint.
    srtp_out: Option<SrtpContext>,
    pub(crate) counters: StreamCounters,
    /// The RTP relayed to the endpoint, which injected DTMF continues.
    outgoing: OutgoingRtp,
    /// DTMF being injected towards the endpoint.
    dtmf: Option<DtmfPlayer>,
    /// Sender reports forwarded to the endpoint: NTP middle 32 bits and when, for its report blocks' LSR.
    sender_reports: [Option<(u32, Instant)>; SENDER_REPORTS],
    next_sender_report: usize,
    recording: Option<RecordingTap>,
}

impl RelayedStream {
    /// Binds the stream's sockets and builds its state from its first snapshot.
    pub(crate) fn open(
        media: Arc<LegMedia>,
        settings: &StreamSettings,
        now: Instant,
    ) -> std::io::Result<Self> {
        // The control plane bound the pair when it handed it out and gave the sockets to this stream as it
        // dispatched its first update; binding here is only the fallback for a stream opened again after
        // its worker dropped it (the sockets went with it).
        let (rtp_socket, parked_rtcp) = match settings.claimed.take(media.id, media.ports.rtp()) {
            Some(claimed) => (claimed.rtp, Some(claimed.rtcp)),
            None => (bind_socket(settings.bind, media.ports.rtp())?, None),
        };
        let mut stream = RelayedStream {
            peer: media.peer,
            media: Arc::clone(&media),
            rtp_socket,
            rtcp_socket: None,
            parked_rtcp,
            latched_rtp: None,
            latched_rtcp: None,
            ice: None,
            dtls: None,
            dtls_source: None,
            dtls_config: settings.dtls.clone(),
            srtp_in: None,
            srtp_out: None,
            counters: StreamCounters::default(),
            outgoing: OutgoingRtp::default(),
            dtmf: None,
            sender_reports: [None; SENDER_REPORTS],
            next_sender_report: 0,
            recording: None,
        };
        stream.sync_rtcp_socket(settings)?;
        stream.sync_recording(settings);
        stream.rekey(settings, now);
        stream.update_ice(settings, None);
        Ok(stream)
    }

    /// Applies a newer snapshot. Returns whether the set of sockets changed. Keys are rebuilt only when the
    /// SRTP setup changed, the ICE agent only when its generation changed, latches reset only when the
    /// endpoint's advertised address changed (a re-INVITE moved it).
    pub(crate) fn update(
        &mut self,
        media: Arc<LegMedia>,
        settings: &StreamSettings,
        now: Instant,
    ) -> std::io::Result<bool> {
        self.peer = media.peer;
        let old = std::mem::replace(&mut self.media, media);
        let had_rtcp = self.rtcp_socket.is_some();
        self.sync_rtcp_socket(settings)?;
        if old.srtp != self.media.srtp {
            self.rekey(settings, now);
        }
        self.update_ice(settings, old.ice.as_ref().map(|i| i.generation));
        self.sync_recording(settings);
        if old.remote_rtp != self.media.remote_rtp || old.remote_rtcp != self.media.remote_rtcp {
            self.latched_rtp = None;
            self.latched_rtcp = None;
            self.counters.set_latched(None);
        }
        Ok(had_rtcp != self.rtcp_socket.is_some())
    }

    /// Starts or stops copying packets to the recorder as the snapshot says.
    fn sync_recording(&mut self, settings: &StreamSettings) {
        match (&settings.recorder, self.media.record, &self.recording) {
            (Some(recorder), true, None) => {
                let call: Arc<str> = Arc::from(self.media.call_id.as_str());
                recorder.control(RecorderMessage::Open(Arc::clone(&call)));
                self.recording = Some(RecordingTap {
                    recorder: recorder.clone(),
                    call,
                });
            }
            (None, true, None) => {
                tracing::warn!(stream = %self.media.id, "recording asked for, but no recording directory is configured");
            }
            (_, false, Some(_)) => self.recording = None,
            _ => {}
        }
    }

    /// Copies a plain packet received from the endpoint to the recording, if the call is recorded (the
    /// only allocation on the packet path, and only then).
    pub(crate) fn record(&mut self, packet: &[u8], source: SocketAddr) {
        if self.recording.is_none() {
            return;
        }
        let local = self.local_address();
        self.record_between(packet, source, local);
    }

    /// The relay's advertised address and RTP port for this endpoint.
    fn local_address(&self) -> SocketAddr {
        SocketAddr::new(self.media.advertised, self.media.ports.rtp())
    }

    fn record_between(&mut self, packet: &[u8], source: SocketAddr, destination: SocketAddr) {
        let Some(tap) = &self.recording else { return };
        let recorded = RecordedPacket {
            call: Arc::clone(&tap.call),
            at: SystemTime::now(),
            source,
            destination,
            data: packet.to_vec(),
        };
        if !tap.recorder.packet(recorded) {
            self.counters.recording_dropped();
        }
    }

    /// Queues DTMF to inject towards the endpoint.
    pub(crate) fn inject_dtmf(&mut self, request: &DtmfInjection) {
        match &mut self.dtmf {
            Some(player) => player.append(request),
            None => self.dtmf = Some(DtmfPlayer::new(request)),
        }
    }

    /// Whether relayed RTP towards the endpoint is held back because an injected event is playing.
    pub(crate) fn dtmf_playing(&self) -> bool {
        self.dtmf.as_ref().is_some_and(DtmfPlayer::is_playing)
    }

    /// A relayed RTP packet (plain, `buffer[..len]`) about to be protected and sent to the endpoint:
    /// renumbered after injected packets and remembered.
    pub(crate) fn outgoing_rtp(&mut self, packet: &mut [u8], now: Instant) {
        self.outgoing.relayed(packet, now);
    }

    /// A relayed RTP packet held back while an injected event plays.
    pub(crate) fn hold_back(&mut self) {
        self.outgoing.held_back();
    }

    /// Sends the injected DTMF packets due at `now`.
    fn send_dtmf(&mut self, now: Instant) {
        let Some(mut player) = self.dtmf.take() else {
            return;
        };
        while let Some(packet) = player.poll(now, &mut self.outgoing) {
            let mut buffer = [0u8; 64];
            let len = packet.bytes.len();
            let Some(head) = buffer.get_mut(..len) else {
                break;
            };
            head.copy_from_slice(&packet.bytes);
            match self.send_injected(&mut buffer, len) {
                Ok(to) => {
                    self.counters.injected_dtmf();
                    // Recorded in the clear, like relayed packets: from the relay to the endpoint.
                    let local = self.local_address();
                    self.record_between(&packet.bytes, local, to);
                }
                Err(reason) => self.counters.drop(reason),
            }
        }
        if !player.is_done() {
            self.dtmf = Some(player);
        }
    }

    /// Protects and sends an injected packet; returns where it went.
    fn send_injected(&mut self, buffer: &mut [u8], len: usize) -> Result<SocketAddr, DropReason> {
        let len = match &mut self.srtp_out {
            Some(ctx) => ctx
                .protect_rtp(buffer, len)
                .map_err(|_| DropReason::SendFailed)?,
            None if matches!(self.media.srtp, SrtpSetup::Plain) => len,
            None => return Err(DropReason::NoKeys),
        };
        let (rtcp_port, to) = self.destination(false).ok_or(DropReason::NoDestination)?;
        let socket = self.socket(rtcp_port).ok_or(DropReason::NoDestination)?;
        let datagram = buffer.get(..len).ok_or(DropReason::Malformed)?;
        socket
            .send_to(datagram, to)
            .map_err(|_| DropReason::SendFailed)?;
        Ok(to)
    }

    /// Plain RTCP from the endpoint: its report block says how our stream to it fares; the round-trip time
    /// comes from a sender report we forwarded to it (LSR) and its delay since (DLSR).
    pub(crate) fn rtcp_received(&mut self, summary: &RtcpSummary, now: Instant) {
        let Some(block) = summary.block else { return };
        let rtt = (block.lsr != 0)
            .then(|| {
                self.sender_reports
                    .iter()
                    .flatten()
                    .find(|(lsr, _)| *lsr == block.lsr)
            })
            .flatten()
            .map(|(_, forwarded)| {
                let dlsr = Duration::from_micros(u64::from(block.dlsr) * 1_000_000 / 65_536);
                now.saturating_duration_since(*forwarded)
                    .saturating_sub(dlsr)
            });
        let clock_rate = self.counters.clock_rate();
        self.counters.reported(block, clock_rate, rtt);
    }

    /// A sender report (NTP middle 32 bits) forwarded to the endpoint at `now`.
    pub(crate) fn sender_report_sent(&mut self, ntp_middle: u32, now: Instant) {
        if let Some(slot) = self.sender_reports.get_mut(self.next_sender_report) {
            *slot = Some((ntp_middle, now));
        }
        self.next_sender_report = (self.next_sender_report + 1) % SENDER_REPORTS;
    }

    fn sync_rtcp_socket(&mut self, settings: &StreamSettings) -> std::io::Result<()> {
        match (self.media.local_ports().1, &self.rtcp_socket) {
            (Some(port), None) => {
                let socket = match self.parked_rtcp.take() {
                    Some(socket) => socket,
                    None => bind_socket(settings.bind, port)?,
                };
                self.rtcp_socket = Some(socket);
            }
            (None, Some(_)) => self.parked_rtcp = self.rtcp_socket.take(),
            _ => {}
        }
        Ok(())
    }

    /// Rebuilds SRTP state for the snapshot's [`SrtpSetup`].
    fn rekey(&mut self, settings: &StreamSettings, now: Instant) {
        self.srtp_in = None;
        self.srtp_out = None;
        match &self.media.srtp {
            SrtpSetup::Sdes(keys) => {
                let policy = keys.policy();
                self.srtp_in = keys.inbound_context(&policy).ok();
                self.srtp_out = keys.outbound_context(&policy).ok();
                self.dtls = None;
            }
            SrtpSetup::Dtls(params) => {
                let Some(role) = params.role else {
                    // Rule: no handshake before the negotiation settles the role.
                    self.dtls = None;
                    return;
                };
                let keep = self.dtls.as_ref().is_some_and(|d| d.role() == role);
                if keep {
                    if let (Some(d), Some(fp)) = (&mut self.dtls, &params.remote_fingerprint) {
                        d.set_remote_fingerprint(fp.clone());
                    }
                    return;
                }
                let Some(config) = &settings.dtls else {
                    tracing::warn!(stream = %self.media.id, "DTLS stream but no DTLS certificate configured");
                    return;
                };
                self.dtls = Some(Box::new(DtlsTransport::new(
                    config,
                    role,
                    params.remote_fingerprint.clone(),
                    now,
                )));
            }
            _ => self.dtls = None,
        }
    }

    fn update_ice(&mut self, settings: &StreamSettings, old_generation: Option<u32>) {
        let Some(params) = &self.media.ice else {
            self.ice = None;
            return;
        };
        match (&mut self.ice, &params.remote) {
            (Some(agent), Some(remote)) if old_generation != Some(params.generation) => {
                agent.restart_with(params.local.clone(), remote.clone());
                self.counters.set_consent_expired(false);
            }
            (Some(agent), Some(remote)) => {
                if agent.remote_credentials() != Some(remote) {
                    agent.set_remote_credentials(remote.clone());
                }
            }
            (Some(_), None) if old_generation == Some(params.generation) => {}
            _ => {
                let mut agent =
                    IceAgent::with_credentials(params.local.clone(), settings.ice.clone());
                if let Some(remote) = &params.remote {
                    agent.set_remote_credentials(remote.clone());
                }
                self.ice = Some(agent);
            }
        }
    }

    /// Whether media must be SRTP but no keys are there yet.
    fn awaiting_keys(&self) -> bool {
        match self.media.srtp {
            SrtpSetup::Plain => false,
            _ => self.srtp_in.is_none() || self.srtp_out.is_none(),
        }
    }

    /// Source check before any processing: ICE streams accept media only from addresses that passed an
    /// authenticated check (the selected pair or one the peer moves to); others from anyone until latched,
    /// then only from the latched address.
    pub(crate) fn accepts_source(&self, source: SocketAddr, rtcp_port: bool) -> bool {
        if let Some(ice) = &self.ice {
            return ice.selected() == Some(source) || ice.is_validated(source);
        }
        let latched = if rtcp_port {
            self.latched_rtcp
        } else {
            self.latched_rtp
        };
        latched.is_none_or(|l| l == source)
    }

    /// Learns where the endpoint really sends from (after the packet passed authentication, if any).
    pub(crate) fn latch(&mut self, source: SocketAddr, rtcp_port: bool) {
        if let Some(ice) = &mut self.ice {
            // Media goes where the peer's authenticated media comes from (a validated pair).
            if ice.follow_media(source) {
                self.drain_ice_events();
            }
            return;
        }
        if rtcp_port {
            self.latched_rtcp.get_or_insert(source);
        } else if self.latched_rtp.is_none() {
            self.latched_rtp = Some(source);
            self.counters.set_latched(Some(source));
        }
    }

    /// Unprotects an incoming packet in place; returns its plain length.
    pub(crate) fn unprotect(&mut self, packet: &mut [u8], rtcp: bool) -> Result<usize, DropReason> {
        if self.awaiting_keys() {
            return Err(DropReason::NoKeys);
        }
        let Some(ctx) = &mut self.srtp_in else {
            return Ok(packet.len());
        };
        let result = if rtcp {
            ctx.unprotect_rtcp(packet)
        } else {
            ctx.unprotect_rtp(packet)
        };
        result.map_err(|_| DropReason::SrtpUnprotect)
    }

    /// Protects an outgoing packet `buffer[..len]` in place; returns its protected length.
    pub(crate) fn protect(
        &mut self,
        buffer: &mut [u8],
        len: usize,
        rtcp: bool,
    ) -> Result<usize, DropReason> {
        if self.awaiting_keys() {
            return Err(DropReason::NoKeys);
        }
        let Some(ctx) = &mut self.srtp_out else {
            return Ok(len);
        };
        let result = if rtcp {
            ctx.protect_rtcp(buffer, len)
        } else {
            ctx.protect_rtp(buffer, len)
        };
        result.map_err(|_| DropReason::SendFailed)
    }

    /// Where to send RTP (or RTCP) to this endpoint: whether it leaves from the RTCP port (RTCP when the
    /// endpoint is not muxed), and the address.
    pub(crate) fn destination(&self, rtcp: bool) -> Option<(bool, SocketAddr)> {
        if let Some(ice) = &self.ice {
            // RFC 7675 §5.1: without consent, nothing more is sent.
            if ice.is_consent_expired() {
                return None;
            }
            return Some((false, ice.selected()?));
        }
        if rtcp && !self.media.rtcp_mux {
            self.rtcp_socket.as_ref()?;
            let to = self.latched_rtcp.or(self.media.remote_rtcp)?;
            return Some((true, to));
        }
        let to = self.latched_rtp.or(self.media.remote_rtp)?;
        Some((false, to))
    }

    /// The stream this one relays to and from.
    pub(crate) fn peer(&self) -> StreamId {
        self.peer
    }

    /// The RTP socket, or the RTCP socket (if any) when `rtcp_port`.
    pub(crate) fn socket(&self, rtcp_port: bool) -> Option<&UdpSocket> {
        if rtcp_port {
            self.rtcp_socket.as_ref()
        } else {
            Some(&self.rtp_socket)
        }
    }

    /// A STUN datagram on the RTP port: answered by the ICE agent, from the same socket.
    pub(crate) fn handle_stun(&mut self, packet: &[u8], source: SocketAddr, now: Instant) {
        let Some(ice) = &mut self.ice else {
            self.counters.drop(DropReason::Unexpected);
            return;
        };
        let Some(response) = ice.handle_binding_request(now, source, packet) else {
            self.counters.drop(DropReason::Unexpected);
            return;
        };
        if self
            .rtp_socket
            .send_to(response.as_bytes(), source)
            .is_err()
        {
            self.counters.drop(DropReason::SendFailed);
        }
        self.counters.touch(now);
        self.drain_ice_events();
        self.flush_dtls();
    }

    /// A DTLS datagram on the RTP port.
    pub(crate) fn handle_dtls(&mut self, packet: &[u8], source: SocketAddr, now: Instant) {
        if let Some(ice) = &self.ice
            && ice.selected().is_some_and(|s| s != source)
            && !ice.is_validated(source)
        {
            self.counters.drop(DropReason::WrongSource);
            return;
        }
        if self.dtls.is_none() {
            self.start_early_server(packet, now);
        }
        let Some(dtls) = &mut self.dtls else {
            self.counters.drop(DropReason::Unexpected);
            return;
        };
        dtls.handle_packet(now, packet);
        self.dtls_source = Some(source);
        self.counters.touch(now);
        self.after_dtls();
    }

    /// A ClientHello before the answer settled the DTLS role: we offered `actpass` and the peer answers
    /// `active`, its handshake racing its answer through signaling (a browser starts it as soon as ICE
    /// connects). The relay becomes the server at once instead of waiting for the retransmission; the
    /// handshake reports no keys before the answer's fingerprint is set (see `rekey`).
    fn start_early_server(&mut self, packet: &[u8], now: Instant) {
        let SrtpSetup::Dtls(params) = &self.media.srtp else {
            return;
        };
        // Record type 22 (handshake), then handshake type 1 after the 13-byte DTLS record header.
        let client_hello = packet.first() == Some(&22) && packet.get(13) == Some(&1);
        if params.role.is_some() || !client_hello {
            return;
        }
        let Some(config) = &self.dtls_config else {
            return;
        };
        self.dtls = Some(Box::new(DtlsTransport::new(
            config,
            DtlsRole::Server,
            params.remote_fingerprint.clone(),
            now,
        )));
    }

    /// Runs due timers (ICE consent, DTLS retransmission).
    /// Whether [`RelayedStream::handle_timers`] has anything to do for this stream: an ICE agent, a DTLS
    /// association or queued DTMF. A plain RTP or SDES stream has no timer and is left out of the tick.
    pub(crate) fn has_timers(&self) -> bool {
        self.ice.is_some() || self.dtls.is_some() || self.dtmf.is_some()
    }

    pub(crate) fn handle_timers(&mut self, now: Instant) {
        if let Some(ice) = &mut self.ice
            && ice.poll_timeout().is_some_and(|t| t <= now)
        {
            ice.handle_timeout(now);
        }
        self.drain_ice_events();
        if let Some(dtls) = &mut self.dtls
            && dtls.poll_timeout().is_some_and(|t| t <= now)
        {
            dtls.handle_timeout(now);
        }
        self.after_dtls();
        self.send_dtmf(now);
    }

    /// Authenticated media proves the ICE peer is alive (RFC 7675).
    pub(crate) fn refresh_consent(&mut self, now: Instant) {
        if let (Some(ice), Some(_)) = (&mut self.ice, &self.srtp_in) {
            ice.refresh_consent(now);
        }
    }

    fn drain_ice_events(&mut self) {
        let Some(ice) = &mut self.ice else { return };
        while let Some(event) = ice.poll_event() {
            match event {
                Event::Selected(address) => self.counters.set_latched(Some(address)),
                Event::ConsentExpired => {
                    tracing::info!(stream = %self.media.id, "ICE consent expired");
                    self.counters.set_consent_expired(true);
                }
            }
        }
    }

    fn after_dtls(&mut self) {
        self.flush_dtls();
        let Some(dtls) = &mut self.dtls else { return };
        while let Some(event) = dtls.poll_event() {
            match event {
                DtlsEvent::Connected { keys, .. } => {
                    let policy = keys.policy();
                    self.srtp_in = keys.inbound_context(&policy).ok();
                    self.srtp_out = keys.outbound_context(&policy).ok();
                    self.counters.set_dtls_connected();
                }
                DtlsEvent::Failed(error) => {
                    tracing::warn!(stream = %self.media.id, %error, "DTLS failed");
                }
                DtlsEvent::Closed => {
                    tracing::info!(stream = %self.media.id, "DTLS closed by the peer");
                }
            }
        }
    }

    /// Sends what DTLS queued, once there is somewhere to send it.
    fn flush_dtls(&mut self) {
        let Some(dtls) = &mut self.dtls else { return };
        let selected = self.ice.as_ref().and_then(IceAgent::selected);
        let Some(to) = selected.or(self.dtls_source).or(self.media.remote_rtp) else {
            return;
        };
        // DTLS handshake flights are rare: their Vec per datagram is no hot-path allocation.
        while let Some(datagram) = dtls.poll_transmit() {
            if self.rtp_socket.send_to(&datagram, to).is_err() {
                self.counters.drop(DropReason::SendFailed);
            }
        }
    }
}
