//! The sans-IO DTLS-SRTP association: handshake, peer certificate check, SRTP key export.

use std::collections::VecDeque;
use std::time::Instant;

use tandem_rtp_core::srtp::SrtpProfile;

use super::{CertificateFingerprint, DtlsConfig, DtlsError, DtlsRole, SrtpKeys};

/// What a [`DtlsTransport`] reports to its owner.
#[derive(Debug)]
#[non_exhaustive]
pub enum DtlsEvent {
    /// The handshake completed, the peer's certificate matched its fingerprint and SRTP keys were
    /// exported: build the SRTP contexts from `keys`.
    Connected {
        /// The negotiated protection profile (also `keys.profile()`).
        srtp_profile: SrtpProfile,
        /// The master keys and salts of both directions.
        keys: SrtpKeys,
    },
    /// The handshake failed, or a connected association got a fatal alert; the transport is dead
    /// and ignores further input. Start a new one (with new SDP) to retry.
    Failed(DtlsError),
    /// The peer closed the association (`close_notify`) after it was connected.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshaking,
    Connected,
    Closed,
    Failed,
}

/// One output of the engine, owned so that handling it may borrow the transport again.
enum Step {
    Wait(Instant),
    Transmit(Vec<u8>),
    Grow(usize),
    PeerCertificate(Vec<u8>),
    Keys(dimpl::KeyingMaterial, dimpl::SrtpProfile),
    Connected,
    CloseNotify,
    Ignore,
}

/// A DTLS 1.2 association for DTLS-SRTP (RFC 5764), sans-IO, on the `dimpl` engine.
///
/// The owner feeds it datagrams and time and drains what it produces, in the style of
/// quinn-proto: after [`new`](Self::new), [`handle_packet`](Self::handle_packet),
/// [`handle_timeout`](Self::handle_timeout) or [`close`](Self::close), send every datagram of
/// [`poll_transmit`](Self::poll_transmit), act on every [`poll_event`](Self::poll_event), and
/// call `handle_timeout` when [`poll_timeout`](Self::poll_timeout) is reached.
///
/// The peer's certificate is checked against the fingerprint from its SDP (RFC 8122 §5);
/// [`DtlsEvent::Connected`] is only reported once it matched. If the peer's DTLS packets can
/// arrive before its SDP (an answer from a browser that starts at once), create the transport
/// without a fingerprint and add it with [`set_remote_fingerprint`](Self::set_remote_fingerprint):
/// the keys are held back until then.
///
/// Retransmission timers are the engine's (RFC 6347 §4.2.4, defaults in
/// [`DtlsConfigBuilder`](super::DtlsConfigBuilder)). Malformed or unexpected datagrams are
/// dropped without failing the association. Application data (SCTP data channels) is not
/// supported and is dropped. Only DTLS 1.2 is spoken; DTLS 1.3 peers (current browsers offer
/// both) fall back to it.
///
/// SRTP protection profiles offered and chosen are those of `dimpl`, in its order of
/// preference: `SRTP_AEAD_AES_256_GCM`, `SRTP_AEAD_AES_128_GCM`, `SRTP_AES128_CM_HMAC_SHA1_80`
/// (RFC 5764 §4.1.2, RFC 7714 §14.2). A server picks its most preferred of those the client
/// offers; a client takes what the server picked.
pub struct DtlsTransport {
    engine: dimpl::Dtls,
    role: DtlsRole,
    state: State,
    now: Instant,
    timeout: Option<Instant>,
    remote_fingerprint: Option<CertificateFingerprint>,
    peer_certificate: Option<Vec<u8>>,
    engine_connected: bool,
    exported: Option<(dimpl::KeyingMaterial, dimpl::SrtpProfile)>,
    handshake_bytes: usize,
    /// Output buffer of the engine; see [`DtlsTransport::ensure_scratch`].
    scratch: Vec<u8>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
}

impl DtlsTransport {
    /// Most bytes the peer may send before the handshake completes. Real handshakes take
    /// 2–6 kB; the limit also bounds the engine's output buffer (see `ensure_scratch`).
    pub const MAX_HANDSHAKE_BYTES: usize = 256 * 1024;
    /// Most datagrams queued for [`poll_transmit`](Self::poll_transmit); older ones are
    /// dropped first if the owner does not drain (retransmission repairs that).
    pub const MAX_QUEUED_TRANSMITS: usize = 64;
    /// Size of the engine's output buffer outside the handshake: a datagram of the MTU fits.
    const MIN_SCRATCH: usize = 2048;

    /// A transport in `role` that starts its handshake at `now` (a client queues its
    /// ClientHello). `remote_fingerprint` is the peer's `a=fingerprint`, if known yet.
    pub fn new(
        config: &DtlsConfig,
        role: DtlsRole,
        remote_fingerprint: Option<CertificateFingerprint>,
        now: Instant,
    ) -> Self {
        let mut engine =
            dimpl::Dtls::new_12(config.engine(), config.certificate().to_engine(), now);
        // A new dimpl instance is a server; switching a DTLS 1.2 instance never panics.
        engine.set_active(role == DtlsRole::Client);
        let mut transport = DtlsTransport {
            engine,
            role,
            state: State::Handshaking,
            now,
            timeout: None,
            remote_fingerprint,
            peer_certificate: None,
            engine_connected: false,
            exported: None,
            handshake_bytes: 0,
            scratch: vec![0; Self::MIN_SCRATCH],
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        transport.tick(now);
        transport
    }

    /// This endpoint's DTLS role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Whether the handshake completed and the keys were reported.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Sets the peer's fingerprint once its SDP arrived; checks a certificate already presented
    /// and reports [`DtlsEvent::Connected`] if the handshake is already done. Ignored once
    /// connected, failed or closed: a new fingerprint means a new association.
    pub fn set_remote_fingerprint(&mut self, fingerprint: CertificateFingerprint) {
        if self.state != State::Handshaking {
            return;
        }
        self.remote_fingerprint = Some(fingerprint);
        self.check_peer_certificate();
        self.complete_handshake();
    }

    /// Feeds a datagram received from the peer at `now` (one whose first byte is 20–63, RFC 7983).
    pub fn handle_packet(&mut self, now: Instant, datagram: &[u8]) {
        if !self.is_alive() {
            return;
        }
        if self.state == State::Handshaking {
            self.handshake_bytes = self.handshake_bytes.saturating_add(datagram.len());
            if self.handshake_bytes > Self::MAX_HANDSHAKE_BYTES {
                self.fail(DtlsError::HandshakeTooLarge {
                    limit: Self::MAX_HANDSHAKE_BYTES,
                });
                return;
            }
        }
        if now > self.now {
            // dimpl takes time only through handle_timeout; it wants the clock current before
            // a packet arrives.
            self.tick(now);
            if !self.is_alive() {
                return;
            }
        }
        if let Err(error) = self.engine.handle_packet(datagram) {
            self.fail(DtlsError::from_engine(error));
            return;
        }
        self.drain();
    }

    /// Advances time to `now`: retransmits a flight whose timer expired, or fails the handshake
    /// once retransmissions or its overall time are exhausted.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_alive() {
            self.tick(now.max(self.now));
        }
    }

    /// Closes the association: a `close_notify` alert goes out if it was connected (RFC 5246
    /// §7.2.1), an unfinished handshake is abandoned. No event follows.
    pub fn close(&mut self, now: Instant) {
        if !self.is_alive() {
            return;
        }
        self.now = now.max(self.now);
        // An error here means the engine was already closing; nothing more to send then.
        if self.engine.close().is_ok() {
            self.drain();
        }
        self.state = State::Closed;
        self.timeout = None;
    }

    /// The next datagram to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` once the handshake is
    /// over (a connected association needs no timer: retransmitted peer flights are answered as
    /// they arrive).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Handshaking => self.timeout,
            State::Connected | State::Closed | State::Failed => None,
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    fn is_alive(&self) -> bool {
        matches!(self.state, State::Handshaking | State::Connected)
    }

    fn tick(&mut self, now: Instant) {
        self.now = now;
        if let Err(error) = self.engine.handle_timeout(now) {
            self.fail(DtlsError::from_engine(error));
            return;
        }
        self.drain();
    }

    /// Takes every output of the engine up to its next timeout.
    fn drain(&mut self) {
        while self.is_alive() {
            self.ensure_scratch();
            match self.poll_engine() {
                Step::Wait(at) => {
                    self.timeout = Some(at);
                    break;
                }
                Step::Transmit(datagram) => self.queue_transmit(datagram),
                Step::Grow(needed) if needed > self.scratch.len() => {
                    self.scratch.resize(needed, 0);
                }
                // Not seen from dimpl; without this guard it would spin.
                Step::Grow(_) => break,
                Step::PeerCertificate(der) => {
                    self.peer_certificate = Some(der);
                    self.check_peer_certificate();
                }
                Step::Keys(material, profile) => self.exported = Some((material, profile)),
                Step::Connected => self.engine_connected = true,
                Step::CloseNotify => self.peer_closed(),
                Step::Ignore => {}
            }
        }
        self.complete_handshake();
    }

    fn poll_engine(&mut self) -> Step {
        match self.engine.poll_output(&mut self.scratch) {
            dimpl::Output::Timeout(at) => Step::Wait(at),
            dimpl::Output::Packet(datagram) => Step::Transmit(datagram.to_vec()),
            dimpl::Output::BufferTooSmall { needed } => Step::Grow(needed),
            dimpl::Output::PeerCert(der) => Step::PeerCertificate(der.to_vec()),
            dimpl::Output::KeyingMaterial(material, profile) => Step::Keys(material, profile),
            dimpl::Output::Connected => Step::Connected,
            dimpl::Output::CloseNotify => Step::CloseNotify,
            _ => Step::Ignore,
        }
    }

    /// dimpl copies the peer's certificate into the output buffer and panics if it does not fit
    /// (instead of answering `BufferTooSmall`). The certificate arrived in the datagrams fed so
    /// far, so a buffer as large as all handshake input always holds it.
    fn ensure_scratch(&mut self) {
        if self.state != State::Handshaking {
            return;
        }
        let needed = self.handshake_bytes.max(Self::MIN_SCRATCH);
        if self.scratch.len() < needed {
            self.scratch.resize(needed, 0);
        }
    }

    fn queue_transmit(&mut self, datagram: Vec<u8>) {
        if self.transmits.len() >= Self::MAX_QUEUED_TRANSMITS {
            self.transmits.pop_front();
        }
        self.transmits.push_back(datagram);
    }

    /// Fails as soon as the presented certificate is known not to match, before the engine sends
    /// anything more.
    fn check_peer_certificate(&mut self) {
        let (Some(fingerprint), Some(der)) = (&self.remote_fingerprint, &self.peer_certificate)
        else {
            return;
        };
        if !fingerprint.matches(der) {
            self.fail(DtlsError::FingerprintMismatch);
        }
    }

    /// Reports `Connected` once the engine finished, the certificate matched and keys exist.
    fn complete_handshake(&mut self) {
        if self.state != State::Handshaking || !self.engine_connected {
            return;
        }
        let Some(der) = &self.peer_certificate else {
            self.fail(DtlsError::MissingPeerCertificate);
            return;
        };
        let Some(fingerprint) = &self.remote_fingerprint else {
            return; // held back until set_remote_fingerprint
        };
        if !fingerprint.matches(der) {
            self.fail(DtlsError::FingerprintMismatch);
            return;
        }
        match self.exported_keys() {
            Ok(keys) => self.connected(keys),
            Err(error) => self.fail(error),
        }
    }

    fn exported_keys(&mut self) -> Result<SrtpKeys, DtlsError> {
        let (material, profile) = self.exported.take().ok_or(DtlsError::NoSrtpProfile)?;
        let profile = srtp_profile(profile).ok_or(DtlsError::UnsupportedSrtpProfile)?;
        SrtpKeys::from_exported(profile, self.role, &material)
            .ok_or(DtlsError::UnsupportedSrtpProfile)
    }

    fn connected(&mut self, keys: SrtpKeys) {
        self.state = State::Connected;
        self.timeout = None;
        // No more certificates can come (no renegotiation); give back the handshake-sized buffer.
        self.scratch = vec![0; Self::MIN_SCRATCH];
        self.events.push_back(DtlsEvent::Connected {
            srtp_profile: keys.profile(),
            keys,
        });
    }

    fn peer_closed(&mut self) {
        if self.state == State::Handshaking {
            self.fail(DtlsError::PeerClosed);
            return;
        }
        self.state = State::Closed;
        self.timeout = None;
        self.events.push_back(DtlsEvent::Closed);
    }

    /// Ends the association: nothing queued goes out any more (the handshake must not go on
    /// with an unverified peer), no keys are reported.
    fn fail(&mut self, error: DtlsError) {
        self.state = State::Failed;
        self.timeout = None;
        self.exported = None;
        self.transmits.clear();
        self.events.push_back(DtlsEvent::Failed(error));
    }
}

impl core::fmt::Debug for DtlsTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DtlsTransport")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("timeout", &self.timeout)
            .field("remote_fingerprint", &self.remote_fingerprint)
            .finish_non_exhaustive()
    }
}

/// The `tandem-rtp-core` profile of a profile negotiated by dimpl.
fn srtp_profile(profile: dimpl::SrtpProfile) -> Option<SrtpProfile> {
    match profile {
        dimpl::SrtpProfile::AES128_CM_SHA1_80 => Some(SrtpProfile::Aes128CmHmacSha1_80),
        dimpl::SrtpProfile::AEAD_AES_128_GCM => Some(SrtpProfile::AeadAes128Gcm),
        dimpl::SrtpProfile::AEAD_AES_256_GCM => Some(SrtpProfile::AeadAes256Gcm),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtls::DtlsCertificate;

    fn pump(a: &mut DtlsTransport, b: &mut DtlsTransport, now: Instant) {
        for _ in 0..20 {
            while let Some(datagram) = a.poll_transmit() {
                b.handle_packet(now, &datagram);
            }
            while let Some(datagram) = b.poll_transmit() {
                a.handle_packet(now, &datagram);
            }
        }
    }

    #[test]
    fn transports_can_move_to_worker_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<DtlsTransport>();
        assert_send::<DtlsConfig>();
    }

    #[test]
    fn a_peer_certificate_larger_than_a_datagram_is_taken_in() {
        // dimpl panics if the peer's certificate does not fit the output buffer; the buffer
        // must grow with the handshake input.
        let big = DtlsConfig::new(DtlsCertificate::generate_large(400)).unwrap();
        assert!(big.certificate().der().len() > 4 * DtlsTransport::MIN_SCRATCH);
        let small = DtlsConfig::new(DtlsCertificate::generate().unwrap()).unwrap();
        let now = Instant::now();
        let fingerprint = |c: &DtlsConfig| Some(c.certificate().fingerprint().clone());
        for (client, server) in [(&big, &small), (&small, &big)] {
            let mut a = DtlsTransport::new(client, DtlsRole::Client, fingerprint(server), now);
            let mut b = DtlsTransport::new(server, DtlsRole::Server, fingerprint(client), now);
            pump(&mut a, &mut b, now);
            assert!(a.is_connected() && b.is_connected(), "{a:?} {b:?}");
        }
    }

    #[test]
    fn handshake_input_beyond_the_limit_fails_the_handshake() {
        let ours = DtlsConfig::new(DtlsCertificate::generate().unwrap()).unwrap();
        let now = Instant::now();
        let mut server = DtlsTransport::new(&ours, DtlsRole::Server, None, now);
        let junk = vec![22; 60_000];
        for _ in 0..5 {
            server.handle_packet(now, &junk);
        }
        assert!(matches!(
            server.poll_event(),
            Some(DtlsEvent::Failed(DtlsError::HandshakeTooLarge { .. }))
        ));
        assert_eq!(server.poll_timeout(), None);
    }
}
