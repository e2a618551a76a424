//! Two DTLS transports wired back to back in memory, in virtual time, with chosen datagrams lost.

#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::time::{Duration, Instant};

use tandem_media_bridge::dtls::{
    CertificateFingerprint, DtlsCertificate, DtlsConfig, DtlsError, DtlsEvent, DtlsRole,
    DtlsTransport, SrtpKeys,
};

/// Which end of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// What became of one end.
#[derive(Debug, Default)]
pub struct Outcome {
    pub keys: Option<SrtpKeys>,
    pub failure: Option<DtlsError>,
    pub closed: bool,
    pub sent: usize,
}

/// The network between the two: may change a datagram sent by `side`, returns true to lose it.
pub type Impairment = Box<dyn FnMut(Side, &mut Vec<u8>) -> bool>;

pub struct Pair {
    pub client: DtlsTransport,
    pub server: DtlsTransport,
    pub start: Instant,
    pub now: Instant,
    pub client_outcome: Outcome,
    pub server_outcome: Outcome,
    pub impairment: Impairment,
}

pub fn config() -> DtlsConfig {
    DtlsConfig::new(DtlsCertificate::generate().expect("certificate")).expect("config")
}

pub fn fingerprint(config: &DtlsConfig) -> Option<CertificateFingerprint> {
    Some(config.certificate().fingerprint().clone())
}

impl Pair {
    /// Two fresh configurations, each side told the other's true fingerprint.
    pub fn new() -> Self {
        let (client, server) = (config(), config());
        let (client_fp, server_fp) = (fingerprint(&client), fingerprint(&server));
        Self::with(&client, server_fp, &server, client_fp)
    }

    /// A pair from configurations and the fingerprint each side expects of the other.
    pub fn with(
        client: &DtlsConfig,
        server_fingerprint: Option<CertificateFingerprint>,
        server: &DtlsConfig,
        client_fingerprint: Option<CertificateFingerprint>,
    ) -> Self {
        let start = Instant::now();
        Pair {
            client: DtlsTransport::new(client, DtlsRole::Client, server_fingerprint, start),
            server: DtlsTransport::new(server, DtlsRole::Server, client_fingerprint, start),
            start,
            now: start,
            client_outcome: Outcome::default(),
            server_outcome: Outcome::default(),
            impairment: Box::new(|_, _| false),
        }
    }

    /// Loses the datagrams `loss` picks.
    pub fn losing(mut self, mut loss: impl FnMut(Side, &[u8]) -> bool + 'static) -> Self {
        self.impairment = Box::new(move |side, datagram| loss(side, datagram));
        self
    }

    /// Lets `damage` change datagrams in flight.
    pub fn damaging(mut self, mut damage: impl FnMut(Side, &mut Vec<u8>) + 'static) -> Self {
        self.impairment = Box::new(move |side, datagram| {
            damage(side, datagram);
            false
        });
        self
    }

    /// Delivers every queued datagram once in each direction; true if any moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(mut datagram) = self.client.poll_transmit() {
            moved = true;
            self.client_outcome.sent += 1;
            if !(self.impairment)(Side::Client, &mut datagram) {
                self.server.handle_packet(self.now, &datagram);
            }
        }
        while let Some(mut datagram) = self.server.poll_transmit() {
            moved = true;
            self.server_outcome.sent += 1;
            if !(self.impairment)(Side::Server, &mut datagram) {
                self.client.handle_packet(self.now, &datagram);
            }
        }
        self.collect_events();
        moved
    }

    /// Runs until nothing is in flight and no timer is pending (or `limit` of virtual time
    /// passed), jumping time to each next timeout.
    pub fn drive(&mut self, limit: Duration) {
        loop {
            while self.step() {}
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(at) = next else { return };
            if at.duration_since(self.start) > limit {
                return;
            }
            self.now = self.now.max(at);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
        }
    }

    pub fn collect_events(&mut self) {
        collect(&mut self.client, &mut self.client_outcome);
        collect(&mut self.server, &mut self.server_outcome);
    }

    pub fn elapsed(&self) -> Duration {
        self.now.duration_since(self.start)
    }

    /// The keys of both sides; panics with what happened if either did not connect.
    pub fn keys(&self) -> (&SrtpKeys, &SrtpKeys) {
        match (&self.client_outcome.keys, &self.server_outcome.keys) {
            (Some(client), Some(server)) => (client, server),
            _ => panic!(
                "not both connected: client {:?}, server {:?}",
                self.client_outcome, self.server_outcome
            ),
        }
    }
}

fn collect(transport: &mut DtlsTransport, outcome: &mut Outcome) {
    while let Some(event) = transport.poll_event() {
        match event {
            DtlsEvent::Connected { srtp_profile, keys } => {
                assert_eq!(srtp_profile, keys.profile());
                assert!(outcome.keys.is_none(), "connected twice");
                outcome.keys = Some(keys);
            }
            DtlsEvent::Failed(error) => {
                assert!(outcome.failure.is_none(), "failed twice");
                outcome.failure = Some(error);
            }
            DtlsEvent::Closed => outcome.closed = true,
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// The content types of the DTLS records in a datagram, and for plaintext handshake records the
/// handshake message type (`(22, Some(1))` is a ClientHello); stops at a malformed record.
pub fn records(datagram: &[u8]) -> Vec<(u8, Option<u8>)> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 13 {
        let content_type = rest[0];
        let epoch = u16::from_be_bytes([rest[3], rest[4]]);
        let len = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        let Some(body) = rest.get(13..13 + len) else {
            break;
        };
        let handshake_type = (content_type == 22 && epoch == 0)
            .then(|| body.first().copied())
            .flatten();
        out.push((content_type, handshake_type));
        rest = &rest[13 + len..];
    }
    out
}

/// Whether the datagram carries a plaintext handshake message of type `msg_type`.
pub fn carries_handshake(datagram: &[u8], msg_type: u8) -> bool {
    records(datagram)
        .iter()
        .any(|&(ct, hs)| ct == 22 && hs == Some(msg_type))
}

/// Whether the datagram carries a ChangeCipherSpec, i.e. belongs to a final flight.
pub fn carries_change_cipher_spec(datagram: &[u8]) -> bool {
    records(datagram).iter().any(|&(ct, _)| ct == 20)
}

pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const HELLO_VERIFY_REQUEST: u8 = 3;
pub const CERTIFICATE: u8 = 11;
pub const CLIENT_KEY_EXCHANGE: u8 = 16;
