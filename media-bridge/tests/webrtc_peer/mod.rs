//! The browser's side of a WebRTC leg, played by the test itself over a real UDP socket on 127.0.0.1: an
//! SDP offer with ICE credentials and a DTLS fingerprint, ICE connectivity checks built with the crate's
//! STUN writer (USE-CANDIDATE, PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY, FINGERPRINT), a DTLS client
//! handshake with the crate's DTLS transport that checks the relay's certificate against the fingerprint
//! in its SDP, and SRTP contexts keyed from the handshake.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use tandem_media_bridge::dtls::{
    CertificateFingerprint, DtlsCertificate, DtlsConfig, DtlsEvent, DtlsRole, DtlsTransport,
};
use tandem_media_bridge::stun::{
    Class, IntegrityKey, Message, MessageWriter, Method, TransactionId,
};
use tandem_media_bridge::{DataPlaneConfig, MediaRelay, PacketKind, RelayConfig, classify};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdp::Attribute;
use tandem_rtp_core::srtp::SrtpContext;

/// A relay on 127.0.0.1 with a DTLS certificate, ports `first..=first+99`, one worker, statistics every
/// 50 ms and ICE consent expiring after `consent`.
pub fn start_webrtc_relay(
    first: u16,
    consent: Duration,
    data_plane: DataPlaneConfig,
) -> MediaRelay {
    let certificate = DtlsCertificate::generate().unwrap();
    let fingerprint = certificate.fingerprint().clone();
    let dtls = DtlsConfig::new(certificate).unwrap();
    let mut config = RelayConfig::new("127.0.0.1".parse().unwrap())
        .with_ports(first..=first + 99)
        .with_fingerprint(fingerprint);
    config.ice.consent_timeout = consent;
    let data_plane = data_plane
        .with_workers(1)
        .with_bind("127.0.0.1".parse().unwrap())
        .with_dtls(dtls)
        .with_stats_interval(Duration::from_millis(50));
    MediaRelay::start(config, data_plane).unwrap()
}

/// What the relay's answer told the browser.
pub struct RelaySide {
    pub address: SocketAddr,
    pub ufrag: String,
    pub key: IntegrityKey,
    pub fingerprint: CertificateFingerprint,
}

impl RelaySide {
    /// Reads the relay's port, ICE credentials and DTLS fingerprint from its answer (or offer).
    pub fn from_sdp(sdp: &SessionDescription) -> RelaySide {
        let media = &sdp.media[0];
        let text = sdp.to_string();
        let value = |prefix: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("{prefix} in\n{text}"))
                .trim()
                .to_owned()
        };
        let fingerprint = media
            .attributes
            .iter()
            .chain(&sdp.attributes)
            .find_map(|a| match a {
                Attribute::Fingerprint(f) => Some(CertificateFingerprint::from_sdp(f).unwrap()),
                _ => None,
            })
            .expect("a=fingerprint in the relay's SDP");
        assert!(text.contains("a=ice-lite"), "the relay is ICE-lite");
        assert!(text.contains("a=rtcp-mux"), "rtcp-mux accepted");
        assert!(
            text.contains("a=setup:passive"),
            "the relay answers actpass as DTLS server"
        );
        RelaySide {
            address: SocketAddr::new("127.0.0.1".parse().unwrap(), media.port),
            ufrag: value("a=ice-ufrag:"),
            key: IntegrityKey::short_term(&value("a=ice-pwd:")),
            fingerprint,
        }
    }
}

/// The browser.
pub struct Browser {
    pub socket: UdpSocket,
    pub ufrag: String,
    pub pwd: String,
    pub dtls: DtlsConfig,
    next_transaction: u8,
}

impl Browser {
    pub fn new() -> Browser {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Browser {
            socket,
            ufrag: "BrWs".into(),
            pwd: "browser+password+0123456789".into(),
            dtls: DtlsConfig::new(DtlsCertificate::generate().unwrap()).unwrap(),
            next_transaction: 0,
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// New ICE credentials, for an ICE restart.
    pub fn restart_ice(&mut self, ufrag: &str, pwd: &str) {
        self.ufrag = ufrag.into();
        self.pwd = pwd.into();
    }

    /// A WebRTC audio offer: PCMU and telephone-event, ICE, DTLS `actpass`, rtcp-mux, BUNDLE.
    pub fn offer(&self, version: u32) -> SessionDescription {
        let port = self.address().port();
        let fingerprint = self.dtls.certificate().fingerprint().to_sdp();
        format!(
            "v=0\r\no=- 4611731400430051336 {version} IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
             a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
             m=audio {port} UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 127.0.0.1\r\n\
             a=rtcp:{port} IN IP4 127.0.0.1\r\n\
             a=candidate:1 1 udp 2122260223 127.0.0.1 {port} typ host generation 0\r\n\
             a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=ice-options:trickle\r\n\
             a=fingerprint:{fingerprint}\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n\
             a=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\n",
            self.ufrag, self.pwd
        )
        .parse()
        .unwrap()
    }

    /// A connectivity check as Chromium sends it (controlling, nominating when `nominate`).
    pub fn binding_request(
        &mut self,
        relay: &RelaySide,
        nominate: bool,
    ) -> (TransactionId, Vec<u8>) {
        self.next_transaction = self.next_transaction.wrapping_add(1);
        let id = TransactionId([self.next_transaction; 12]);
        let mut buf = [0u8; 256];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, id).unwrap();
        w.username(&format!("{}:{}", relay.ufrag, self.ufrag))
            .unwrap();
        w.priority(1_853_824_767).unwrap();
        w.ice_controlling(0x0123_4567_89ab_cdef).unwrap();
        if nominate {
            w.use_candidate().unwrap();
        }
        w.message_integrity(&relay.key).unwrap();
        w.fingerprint().unwrap();
        let len = w.finish();
        (id, buf[..len].to_vec())
    }

    /// Sends a check and waits for its success response, which must be signed with the relay's password
    /// and reflect our address.
    pub fn check(&mut self, relay: &RelaySide, nominate: bool) {
        let (id, request) = self.binding_request(relay, nominate);
        self.socket.send_to(&request, relay.address).unwrap();
        let mut buf = [0u8; 2048];
        for _ in 0..20 {
            let (n, from) = self.socket.recv_from(&mut buf).expect("a STUN response");
            if classify(&buf[..n]) != PacketKind::Stun {
                continue; // media still in flight
            }
            assert_eq!(from, relay.address);
            let message = Message::parse(&buf[..n]).unwrap();
            assert_eq!(message.transaction_id(), id);
            assert_eq!(message.class(), Class::SuccessResponse);
            message
                .verify_integrity(&relay.key)
                .expect("signed with the relay's ice-pwd");
            assert_eq!(message.xor_mapped_address(), Some(self.address()));
            return;
        }
        panic!("no STUN response among 20 datagrams");
    }

    /// Sends a check and returns whatever comes back within the read timeout (`None` on silence).
    pub fn check_unanswered(&mut self, relay: &RelaySide) -> Option<Vec<u8>> {
        let (_, request) = self.binding_request(relay, true);
        self.socket.send_to(&request, relay.address).unwrap();
        let mut buf = [0u8; 2048];
        self.socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let got = self
            .socket
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| buf[..n].to_vec());
        self.socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        got
    }

    /// The DTLS client handshake with the relay, checking its certificate against `relay.fingerprint`;
    /// returns the SRTP contexts (protect what we send, unprotect what we receive).
    pub fn handshake(&mut self, relay: &RelaySide) -> (SrtpContext, SrtpContext) {
        let start = Instant::now();
        let mut dtls = DtlsTransport::new(
            &self.dtls,
            DtlsRole::Client,
            Some(relay.fingerprint.clone()),
            start,
        );
        self.socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let keys = loop {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the DTLS handshake did not finish"
            );
            while let Some(datagram) = dtls.poll_transmit() {
                self.socket.send_to(&datagram, relay.address).unwrap();
            }
            let mut connected = None;
            while let Some(event) = dtls.poll_event() {
                match event {
                    DtlsEvent::Connected { keys, .. } => connected = Some(keys),
                    DtlsEvent::Failed(e) => panic!("DTLS failed: {e}"),
                    DtlsEvent::Closed => panic!("DTLS closed"),
                    _ => {}
                }
            }
            if let Some(keys) = connected {
                break keys;
            }
            if let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                assert_eq!(from, relay.address);
                if classify(&buf[..n]) == PacketKind::Dtls {
                    dtls.handle_packet(Instant::now(), &buf[..n]);
                }
            }
            let now = Instant::now();
            if dtls.poll_timeout().is_some_and(|t| t <= now) {
                dtls.handle_timeout(now);
            }
        };
        self.socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let policy = keys.policy();
        (
            keys.outbound_context(&policy).unwrap(),
            keys.inbound_context(&policy).unwrap(),
        )
    }

    /// Receives the next non-STUN datagram.
    pub fn recv_media(&self) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = self
                .socket
                .recv_from(&mut buf)
                .expect("media from the relay");
            if classify(&buf[..n]) != PacketKind::Stun {
                return buf[..n].to_vec();
            }
        }
    }
}

/// Protects a plain RTP packet.
pub fn protect(ctx: &mut SrtpContext, packet: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; packet.len() + 16];
    buf[..packet.len()].copy_from_slice(packet);
    let len = ctx.protect_rtp(&mut buf, packet.len()).unwrap();
    buf.truncate(len);
    buf
}

/// Protects a plain RTCP packet.
pub fn protect_rtcp(ctx: &mut SrtpContext, packet: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; packet.len() + 32];
    buf[..packet.len()].copy_from_slice(packet);
    let len = ctx.protect_rtcp(&mut buf, packet.len()).unwrap();
    buf.truncate(len);
    buf
}

/// Waits (bounded) until the relay's side of `stream` finished its DTLS handshake: the client may finish
/// first, with its last flight still on the way to the relay.
pub fn wait_dtls_connected(relay: &MediaRelay, stream: tandem_media_bridge::StreamId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        relay.sync().unwrap();
        if relay.stream_stats(stream).is_some_and(|s| s.dtls_connected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the relay's side never connected"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
