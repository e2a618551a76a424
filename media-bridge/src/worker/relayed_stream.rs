//! A worker's state for one stream: its sockets, where its endpoint really is (latching or ICE), its SRTP
//! contexts, ICE agent and DTLS association, and its counters.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use tandem_rtp_core::SrtpContext;

use super::stream_stats::{DropReason, StreamCounters};
use crate::dtls::{DtlsConfig, DtlsEvent, DtlsTransport};
use crate::ice::{Event, IceAgent, IceConfig};
use crate::session::{LegMedia, SrtpSetup};

/// What every stream of a worker shares: bind address, DTLS certificate, ICE settings.
#[derive(Clone)]
pub(crate) struct StreamSettings {
    pub(crate) bind: IpAddr,
    pub(crate) dtls: Option<DtlsConfig>,
    pub(crate) ice: IceConfig,
}

/// One stream as a worker holds it.
pub(crate) struct RelayedStream {
    pub(crate) media: Arc<LegMedia>,
    pub(crate) rtp_socket: UdpSocket,
    pub(crate) rtcp_socket: Option<UdpSocket>,
    /// The source RTP (and muxed RTCP) is accepted from and sent to, once learned (symmetric RTP).
    latched_rtp: Option<SocketAddr>,
    /// The same for RTCP on its own port.
    latched_rtcp: Option<SocketAddr>,
    pub(crate) ice: Option<IceAgent>,
    dtls: Option<DtlsTransport>,
    /// Where DTLS came from last, for answers before ICE selects a pair.
    dtls_source: Option<SocketAddr>,
    /// Unprotects what the endpoint sends.
    srtp_in: Option<SrtpContext>,
    /// Protects what we send the endpoint.
    srtp_out: Option<SrtpContext>,
    pub(crate) counters: StreamCounters,
}

impl RelayedStream {
    /// Binds the stream's sockets and builds its state from its first snapshot.
    pub(crate) fn open(
        media: Arc<LegMedia>,
        settings: &StreamSettings,
        now: Instant,
    ) -> std::io::Result<Self> {
        let rtp_socket = bind(settings.bind, media.ports.rtp())?;
        let mut stream = RelayedStream {
            media: Arc::clone(&media),
            rtp_socket,
            rtcp_socket: None,
            latched_rtp: None,
            latched_rtcp: None,
            ice: None,
            dtls: None,
            dtls_source: None,
            srtp_in: None,
            srtp_out: None,
            counters: StreamCounters::default(),
        };
        stream.sync_rtcp_socket(settings)?;
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
        let old = std::mem::replace(&mut self.media, media);
        let had_rtcp = self.rtcp_socket.is_some();
        self.sync_rtcp_socket(settings)?;
        if old.srtp != self.media.srtp {
            self.rekey(settings, now);
        }
        self.update_ice(settings, old.ice.as_ref().map(|i| i.generation));
        if old.remote_rtp != self.media.remote_rtp || old.remote_rtcp != self.media.remote_rtcp {
            self.latched_rtp = None;
            self.latched_rtcp = None;
            self.counters.set_latched(None);
        }
        Ok(had_rtcp != self.rtcp_socket.is_some())
    }

    fn sync_rtcp_socket(&mut self, settings: &StreamSettings) -> std::io::Result<()> {
        match (self.media.local_ports().1, &self.rtcp_socket) {
            (Some(port), None) => self.rtcp_socket = Some(bind(settings.bind, port)?),
            (None, Some(_)) => self.rtcp_socket = None,
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
                self.dtls = Some(DtlsTransport::new(
                    config,
                    role,
                    params.remote_fingerprint.clone(),
                    now,
                ));
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

    /// Source check before any processing: ICE streams accept media only from the selected pair; others
    /// from anyone until latched, then only from the latched address.
    pub(crate) fn accepts_source(&self, source: SocketAddr, rtcp_port: bool) -> bool {
        if let Some(ice) = &self.ice {
            return ice.selected() == Some(source);
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
        if self.ice.is_some() {
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
        let selected = self.ice.as_ref().and_then(IceAgent::selected);
        if selected.is_some_and(|s| s != source) {
            self.counters.drop(DropReason::WrongSource);
            return;
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

    /// Runs due timers (ICE consent, DTLS retransmission).
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

fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}
