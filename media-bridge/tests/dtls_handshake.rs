//! DTLS-SRTP between two in-memory transports: handshake, key export into working SRTP contexts,
//! fingerprint checks, close.

mod dtls_pair;

use std::time::Duration;

use dtls_pair::{Pair, config, fingerprint};
use tandem_media_bridge::dtls::{CertificateFingerprint, DtlsError, DtlsRole, HashFunction};
use tandem_rtp_core::srtp::{SrtpContext, SrtpProfile};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn handshake_connects_both_sides_with_mirrored_keys_and_no_retransmission() {
    let mut pair = Pair::new();
    pair.drive(LIMIT);
    let (client, server) = pair.keys();
    assert_eq!(client.profile(), server.profile());
    assert_eq!(client.role(), DtlsRole::Client);
    assert_eq!(server.role(), DtlsRole::Server);
    assert_eq!(client.local_master_key(), server.remote_master_key());
    assert_eq!(client.local_master_salt(), server.remote_master_salt());
    assert_eq!(client.remote_master_key(), server.local_master_key());
    assert_eq!(client.remote_master_salt(), server.local_master_salt());
    assert_ne!(client.local_master_key(), client.remote_master_key());
    assert_eq!(
        client.local_master_key().len(),
        client.profile().master_key_len()
    );
    // No datagram was lost, so no timer had to fire.
    assert_eq!(pair.elapsed(), Duration::ZERO);
    assert!(pair.client.is_connected() && pair.server.is_connected());
    assert_eq!(pair.client.poll_timeout(), None);
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn server_picks_aead_aes_256_gcm_when_both_sides_offer_everything() {
    // dimpl offers all its profiles and, as server, prefers the strongest (RFC 5764 §4.1.1
    // leaves the choice to the server among those the client offered).
    let mut pair = Pair::new();
    pair.drive(LIMIT);
    assert_eq!(pair.keys().0.profile(), SrtpProfile::AeadAes256Gcm);
}

fn rtp_packet(seq: u16, ssrc: u32, payload: u8) -> Vec<u8> {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend(std::iter::repeat_n(payload, 160));
    packet
}

/// Protects with `sender`, unprotects with `receiver`, checks the round trip.
fn round_trip(sender: &mut SrtpContext, receiver: &mut SrtpContext, plain: &[u8]) {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 64, 0);
    let len = sender.protect_rtp(&mut buf, plain.len()).expect("protect");
    assert_ne!(&buf[12..plain.len()], &plain[12..], "payload not encrypted");
    let plain_len = receiver.unprotect_rtp(&mut buf[..len]).expect("unprotect");
    assert_eq!(&buf[..plain_len], plain);
}

#[test]
fn srtp_protected_with_one_sides_outbound_keys_unprotects_with_the_others_inbound_keys() {
    let mut pair = Pair::new();
    pair.drive(LIMIT);
    let (client, server) = pair.keys();
    let mut client_out = client.outbound_context(&client.policy()).unwrap();
    let mut client_in = client.inbound_context(&client.policy()).unwrap();
    let mut server_out = server.outbound_context(&server.policy()).unwrap();
    let mut server_in = server.inbound_context(&server.policy()).unwrap();
    for seq in 1..=3 {
        round_trip(
            &mut client_out,
            &mut server_in,
            &rtp_packet(seq, 0x1111, 0xAA),
        );
        round_trip(
            &mut server_out,
            &mut client_in,
            &rtp_packet(seq, 0x2222, 0x55),
        );
    }
    // Both directions use different keys: the client's own inbound context refuses its packets.
    let mut buf = rtp_packet(9, 0x1111, 0xAA);
    let len = buf.len();
    buf.resize(len + 64, 0);
    let len = client_out.protect_rtp(&mut buf, len).unwrap();
    assert!(client_in.unprotect_rtp(&mut buf[..len]).is_err());
}

#[test]
fn srtcp_protected_by_one_side_unprotects_on_the_other() {
    let mut pair = Pair::new();
    pair.drive(LIMIT);
    let (client, server) = pair.keys();
    let mut client_out = client.outbound_context(&client.policy()).unwrap();
    let mut server_in = server.inbound_context(&server.policy()).unwrap();
    // RTCP receiver report with no report blocks.
    let plain = [0x80, 201, 0, 1, 0, 0, 0x11, 0x11];
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 64, 0);
    let len = client_out.protect_rtcp(&mut buf, plain.len()).unwrap();
    let plain_len = server_in.unprotect_rtcp(&mut buf[..len]).unwrap();
    assert_eq!(&buf[..plain_len], &plain);
}

#[test]
fn server_fails_the_handshake_when_the_client_certificate_does_not_match_its_fingerprint() {
    let (client, server, stranger) = (config(), config(), config());
    let mut pair = Pair::with(
        &client,
        fingerprint(&server),
        &server,
        fingerprint(&stranger),
    );
    pair.drive(LIMIT);
    assert_eq!(
        pair.server_outcome.failure,
        Some(DtlsError::FingerprintMismatch)
    );
    assert!(pair.server_outcome.keys.is_none());
    // The server never finished, so the client gives up after its retransmissions.
    assert!(pair.client_outcome.keys.is_none());
    assert_eq!(pair.client_outcome.failure, Some(DtlsError::Timeout));
}

#[test]
fn client_fails_the_handshake_when_the_server_certificate_does_not_match_its_fingerprint() {
    let (client, server, stranger) = (config(), config(), config());
    let mut pair = Pair::with(
        &client,
        fingerprint(&stranger),
        &server,
        fingerprint(&client),
    );
    pair.drive(LIMIT);
    assert_eq!(
        pair.client_outcome.failure,
        Some(DtlsError::FingerprintMismatch)
    );
    assert!(pair.client_outcome.keys.is_none());
    assert!(pair.server_outcome.keys.is_none());
    // The client stopped before sending its certificate: the server heard nothing more.
    assert_eq!(pair.server_outcome.failure, Some(DtlsError::Timeout));
}

#[test]
fn a_sha1_or_sha512_fingerprint_from_sdp_is_checked_as_well_as_sha256() {
    for hash in [HashFunction::Sha1, HashFunction::Sha512] {
        let (client, server) = (config(), config());
        let of = |c: &tandem_media_bridge::DtlsConfig| {
            Some(CertificateFingerprint::of_certificate(
                hash,
                c.certificate().der(),
            ))
        };
        let mut pair = Pair::with(&client, of(&server), &server, of(&client));
        pair.drive(LIMIT);
        pair.keys();
    }
}

#[test]
fn keys_are_held_back_until_a_late_fingerprint_arrives_and_matches() {
    let (client, server) = (config(), config());
    let mut pair = Pair::with(&client, fingerprint(&server), &server, None);
    while pair.step() {}
    // The handshake itself is over, but the server does not know yet whom it talked to.
    assert!(pair.client_outcome.keys.is_some());
    assert!(pair.server_outcome.keys.is_none());
    assert!(pair.server_outcome.failure.is_none());
    assert!(!pair.server.is_connected());
    pair.server
        .set_remote_fingerprint(fingerprint(&client).unwrap());
    pair.collect_events();
    let (client_keys, server_keys) = pair.keys();
    assert_eq!(
        client_keys.local_master_key(),
        server_keys.remote_master_key()
    );
}

#[test]
fn a_late_fingerprint_that_does_not_match_fails_the_handshake() {
    let (client, server, stranger) = (config(), config(), config());
    let mut pair = Pair::with(&client, fingerprint(&server), &server, None);
    while pair.step() {}
    pair.server
        .set_remote_fingerprint(fingerprint(&stranger).unwrap());
    pair.collect_events();
    assert_eq!(
        pair.server_outcome.failure,
        Some(DtlsError::FingerprintMismatch)
    );
    assert!(pair.server_outcome.keys.is_none());
}

#[test]
fn close_notify_reports_closed_to_the_peer_and_silences_both() {
    let mut pair = Pair::new();
    pair.drive(LIMIT);
    pair.keys();
    pair.client.close(pair.now);
    assert!(!pair.client.is_connected());
    pair.drive(LIMIT);
    assert!(pair.server_outcome.closed);
    assert!(
        !pair.client_outcome.closed,
        "the closing side gets no event"
    );
    // A closed transport ignores input and has no timer.
    pair.server.handle_packet(pair.now, &[22, 0xfe, 0xfd, 0, 0]);
    assert_eq!(pair.server.poll_transmit(), None);
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn a_failed_transport_ignores_further_input() {
    let (client, server, stranger) = (config(), config(), config());
    let mut pair = Pair::with(
        &client,
        fingerprint(&stranger),
        &server,
        fingerprint(&client),
    );
    pair.drive(LIMIT);
    assert!(pair.client_outcome.failure.is_some());
    pair.client
        .handle_timeout(pair.now + Duration::from_secs(600));
    pair.client.handle_packet(pair.now, &[22; 40]);
    assert_eq!(pair.client.poll_transmit(), None);
    assert!(pair.client.poll_event().is_none());
    assert_eq!(pair.client.poll_timeout(), None);
}
