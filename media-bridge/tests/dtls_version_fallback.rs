//! Peers that can speak DTLS 1.3 (as current browsers can) still complete a DTLS 1.2 handshake
//! with our transport and export the same SRTP keys. The peer is a bare `dimpl` engine in
//! version auto-sense mode, outside our wrapper.

use std::sync::Arc;
use std::time::Instant;

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use tandem_media_bridge::dtls::{
    CertificateFingerprint, DtlsCertificate, DtlsConfig, DtlsEvent, DtlsRole, DtlsTransport,
    HashFunction, SrtpKeys,
};
use tandem_rtp_core::srtp::SrtpProfile;

/// A bare dimpl endpoint and what it reported.
struct AutoPeer {
    engine: dimpl::Dtls,
    certificate_der: Vec<u8>,
    peer_certificate: Option<Vec<u8>>,
    material: Option<(Vec<u8>, dimpl::SrtpProfile)>,
    outbox: Vec<Vec<u8>>,
}

impl AutoPeer {
    fn new(active: bool, now: Instant) -> Self {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = CertificateParams::default()
            .self_signed(&key)
            .expect("certificate");
        let certificate_der = cert.der().to_vec();
        let config = Arc::new(dimpl::Config::default());
        let identity = dimpl::DtlsCertificate {
            certificate: certificate_der.clone(),
            private_key: key.serialize_der(),
        };
        let mut engine = dimpl::Dtls::new_auto(config, identity, now);
        engine.set_active(active);
        let mut peer = AutoPeer {
            engine,
            certificate_der,
            peer_certificate: None,
            material: None,
            outbox: Vec::new(),
        };
        peer.engine.handle_timeout(now).expect("start");
        peer.poll();
        peer
    }

    fn fingerprint(&self) -> CertificateFingerprint {
        CertificateFingerprint::of_certificate(HashFunction::Sha256, &self.certificate_der)
    }

    fn poll(&mut self) {
        let mut buf = vec![0; 65_536];
        loop {
            match self.engine.poll_output(&mut buf) {
                dimpl::Output::Timeout(_) => return,
                dimpl::Output::Packet(p) => self.outbox.push(p.to_vec()),
                dimpl::Output::PeerCert(der) => self.peer_certificate = Some(der.to_vec()),
                dimpl::Output::KeyingMaterial(m, profile) => {
                    self.material = Some((m.to_vec(), profile));
                }
                _ => {}
            }
        }
    }

    fn receive(&mut self, datagram: &[u8]) {
        self.engine.handle_packet(datagram).expect("dimpl peer");
        self.poll();
    }
}

fn run(ours: &mut DtlsTransport, peer: &mut AutoPeer, now: Instant) -> SrtpKeys {
    for _ in 0..20 {
        for datagram in std::mem::take(&mut peer.outbox) {
            ours.handle_packet(now, &datagram);
        }
        while let Some(datagram) = ours.poll_transmit() {
            peer.receive(&datagram);
        }
    }
    match ours.poll_event() {
        Some(DtlsEvent::Connected { keys, .. }) => keys,
        other => panic!("not connected: {other:?}"),
    }
}

/// The peer's exported material equals ours, laid out client | server | client salt | server salt.
fn assert_same_material(keys: &SrtpKeys, peer: &AutoPeer) {
    let (material, profile) = peer.material.as_ref().expect("peer exported keys");
    assert_eq!(profile.keying_material_len(), material.len());
    let (client_key, server_key, client_salt, server_salt) = match keys.role() {
        DtlsRole::Client => (
            keys.local_master_key(),
            keys.remote_master_key(),
            keys.local_master_salt(),
            keys.remote_master_salt(),
        ),
        DtlsRole::Server => (
            keys.remote_master_key(),
            keys.local_master_key(),
            keys.remote_master_salt(),
            keys.local_master_salt(),
        ),
    };
    assert_eq!(
        material,
        &[client_key, server_key, client_salt, server_salt].concat()
    );
    assert_eq!(keys.profile(), SrtpProfile::AeadAes256Gcm);
}

#[test]
fn a_dtls13_capable_client_completes_dtls12_with_our_server() {
    let now = Instant::now();
    let config = DtlsConfig::new(DtlsCertificate::generate().unwrap()).unwrap();
    let mut peer = AutoPeer::new(true, now);
    let mut server = DtlsTransport::new(&config, DtlsRole::Server, Some(peer.fingerprint()), now);
    let keys = run(&mut server, &mut peer, now);
    assert_eq!(
        peer.engine.protocol_version(),
        Some(dimpl::ProtocolVersion::DTLS1_2)
    );
    assert_eq!(
        peer.peer_certificate.as_deref(),
        Some(config.certificate().der())
    );
    assert_same_material(&keys, &peer);
}

#[test]
fn a_dtls13_capable_server_completes_dtls12_with_our_client() {
    let now = Instant::now();
    let config = DtlsConfig::new(DtlsCertificate::generate().unwrap()).unwrap();
    let mut peer = AutoPeer::new(false, now);
    let mut client = DtlsTransport::new(&config, DtlsRole::Client, Some(peer.fingerprint()), now);
    let keys = run(&mut client, &mut peer, now);
    assert_eq!(
        peer.engine.protocol_version(),
        Some(dimpl::ProtocolVersion::DTLS1_2)
    );
    assert_same_material(&keys, &peer);
}
