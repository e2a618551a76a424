//! Lost handshake flights are repaired by the retransmission timers, in virtual time.

mod dtls_pair;

use std::time::Duration;

use dtls_pair::{
    CERTIFICATE, CLIENT_HELLO, CLIENT_KEY_EXCHANGE, HELLO_VERIFY_REQUEST, Pair, SERVER_HELLO, Side,
    carries_change_cipher_spec, carries_handshake, records,
};
use tandem_media_bridge::dtls::DtlsError;
use tandem_media_bridge::{DtlsCertificate, DtlsConfig};

const LIMIT: Duration = Duration::from_secs(120);
/// dimpl's default first retransmission timeout is 1 s with ±25 % jitter.
const MIN_FIRST_RTO: Duration = Duration::from_millis(750);

/// Loses the first `count` datagrams sent by `side` that `matches` accepts.
fn lose_first(
    side: Side,
    count: usize,
    matches: impl Fn(&[u8]) -> bool + 'static,
) -> impl FnMut(Side, &[u8]) -> bool {
    let mut lost = 0;
    move |from, datagram| {
        if from == side && lost < count && matches(datagram) {
            lost += 1;
            return true;
        }
        false
    }
}

fn assert_recovers(pair: &mut Pair) {
    pair.drive(LIMIT);
    let (client, server) = pair.keys();
    assert_eq!(client.local_master_key(), server.remote_master_key());
    assert!(
        pair.elapsed() >= MIN_FIRST_RTO,
        "recovered without a timer firing ({:?})",
        pair.elapsed()
    );
}

#[test]
fn lost_client_hello_is_retransmitted() {
    let mut pair = Pair::new().losing(lose_first(Side::Client, 1, |d| {
        carries_handshake(d, CLIENT_HELLO)
    }));
    assert_recovers(&mut pair);
}

#[test]
fn lost_hello_verify_request_is_recovered_by_the_client_timer() {
    let mut pair = Pair::new().losing(lose_first(Side::Server, 1, |d| {
        carries_handshake(d, HELLO_VERIFY_REQUEST)
    }));
    assert_recovers(&mut pair);
}

#[test]
fn lost_server_certificate_flight_is_retransmitted() {
    let mut pair = Pair::new().losing(lose_first(Side::Server, 1, |d| {
        carries_handshake(d, SERVER_HELLO) || carries_handshake(d, CERTIFICATE)
    }));
    assert_recovers(&mut pair);
}

#[test]
fn lost_client_key_exchange_flight_is_retransmitted() {
    let mut pair = Pair::new().losing(lose_first(Side::Client, 1, |d| {
        carries_handshake(d, CLIENT_KEY_EXCHANGE) || carries_change_cipher_spec(d)
    }));
    assert_recovers(&mut pair);
}

#[test]
fn lost_final_server_flight_is_resent_when_the_client_retransmits() {
    // The server is done after sending ChangeCipherSpec + Finished and has no timer any more; it
    // must answer the client's retransmitted flight with its final flight again (RFC 6347
    // §4.2.4).
    let mut pair = Pair::new().losing(lose_first(Side::Server, 2, carries_change_cipher_spec));
    pair.drive(LIMIT);
    pair.keys();
    assert!(pair.elapsed() >= MIN_FIRST_RTO);
}

#[test]
fn every_flight_lost_twice_still_connects() {
    // A retransmission has new record sequence numbers, so flights are told apart by the kinds
    // of records they carry; each kind is lost on its first two transmissions.
    let mut seen = Vec::new();
    let mut pair = Pair::new().losing(move |side, datagram| {
        let kind = (side, records(datagram));
        let times = seen.iter().filter(|k| **k == kind).count();
        seen.push(kind);
        times < 2
    });
    pair.drive(LIMIT);
    pair.keys();
    // Two lost transmissions of the first flight alone take 1 s + 2 s (less 25 % jitter).
    assert!(pair.elapsed() >= MIN_FIRST_RTO * 3);
}

#[test]
fn handshake_times_out_when_the_server_never_answers() {
    let mut pair = Pair::new().losing(|side, _| side == Side::Server);
    pair.drive(LIMIT);
    assert_eq!(pair.client_outcome.failure, Some(DtlsError::Timeout));
    assert!(pair.client_outcome.keys.is_none());
    assert_eq!(pair.client.poll_timeout(), None);
    // The ClientHello went out once and then once per retransmission.
    let retries = 1 + tandem_media_bridge::dtls::DtlsConfigBuilder::DEFAULT_RETRANSMISSIONS;
    assert!(pair.client_outcome.sent >= retries);
}

#[test]
fn a_shorter_retransmission_timeout_from_the_config_is_used() {
    let short = Duration::from_millis(100);
    let make = || {
        DtlsConfig::builder(DtlsCertificate::generate().unwrap())
            .initial_retransmission_timeout(short)
            .build()
            .unwrap()
    };
    let (client, server) = (make(), make());
    let mut pair = Pair::with(
        &client,
        Some(server.certificate().fingerprint().clone()),
        &server,
        Some(client.certificate().fingerprint().clone()),
    )
    .losing(lose_first(Side::Client, 1, |d| {
        carries_handshake(d, CLIENT_HELLO)
    }));
    pair.drive(LIMIT);
    pair.keys();
    // One retransmission after 100 ms ± 25 %, far below the 1 s default.
    assert!(pair.elapsed() >= short * 3 / 4);
    assert!(pair.elapsed() < MIN_FIRST_RTO);
}
