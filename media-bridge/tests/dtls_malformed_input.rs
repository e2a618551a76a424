//! Garbage and damaged datagrams never panic a DTLS transport, and never make both ends connect
//! with different keys.

mod dtls_pair;

use std::time::{Duration, Instant};

use dtls_pair::{Pair, config, fingerprint};
use proptest::prelude::*;
use tandem_media_bridge::dtls::{DtlsConfig, DtlsEvent, DtlsRole, DtlsTransport};

const LIMIT: Duration = Duration::from_secs(120);

fn configs() -> &'static (DtlsConfig, DtlsConfig) {
    static CONFIGS: std::sync::OnceLock<(DtlsConfig, DtlsConfig)> = std::sync::OnceLock::new();
    CONFIGS.get_or_init(|| (config(), config()))
}

fn pair() -> Pair {
    let (client, server) = configs();
    Pair::with(client, fingerprint(server), server, fingerprint(client))
}

/// Datagrams that look like DTLS records often enough to reach the parser's depths.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    let record_like = (
        20u8..=25,
        prop::collection::vec(any::<u8>(), 0..300),
        any::<u16>(),
    )
        .prop_map(|(content_type, body, epoch)| {
            let mut d = vec![content_type, 0xfe, 0xfd];
            d.extend_from_slice(&(epoch % 3).to_be_bytes());
            d.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
            d.extend_from_slice(&(body.len() as u16).to_be_bytes());
            d.extend_from_slice(&body);
            d
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..1500), record_like]
}

fn drain(transport: &mut DtlsTransport) -> bool {
    while transport.poll_transmit().is_some() {}
    let mut connected = false;
    while let Some(event) = transport.poll_event() {
        connected |= matches!(event, DtlsEvent::Connected { .. });
    }
    connected
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics_or_connects_a_fresh_transport(
        datagrams in prop::collection::vec(datagram(), 1..8),
        role in prop_oneof![Just(DtlsRole::Client), Just(DtlsRole::Server)],
    ) {
        let (ours, theirs) = configs();
        let start = Instant::now();
        let mut transport = DtlsTransport::new(ours, role, fingerprint(theirs), start);
        for (i, datagram) in datagrams.iter().enumerate() {
            let now = start + Duration::from_millis(100 * i as u64);
            transport.handle_packet(now, datagram);
            transport.handle_timeout(now);
            prop_assert!(!drain(&mut transport));
        }
    }

    #[test]
    fn garbage_after_the_handshake_never_panics(
        datagrams in prop::collection::vec(datagram(), 1..8),
    ) {
        let mut pair = pair();
        pair.drive(LIMIT);
        pair.keys();
        for datagram in &datagrams {
            pair.client.handle_packet(pair.now, datagram);
            pair.server.handle_packet(pair.now, datagram);
        }
        pair.drive(LIMIT);
    }
}

proptest! {
    // Each case runs a full handshake: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_damaged_handshake_datagram_never_yields_mismatched_keys(
        target in 0usize..12,
        offset in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        truncate in any::<bool>(),
    ) {
        let mut seen = 0;
        let mut pair = pair().damaging(move |_, datagram| {
            seen += 1;
            if seen - 1 != target || datagram.is_empty() {
                return;
            }
            let at = offset.index(datagram.len());
            if truncate {
                datagram.truncate(at);
            } else {
                datagram[at] ^= flip;
            }
        });
        pair.drive(LIMIT);
        match (&pair.client_outcome.keys, &pair.server_outcome.keys) {
            (Some(client), Some(server)) => {
                prop_assert_eq!(client.local_master_key(), server.remote_master_key());
                prop_assert_eq!(client.remote_master_salt(), server.local_master_salt());
            }
            // Whoever did not connect must have said why, not hang.
            (client, server) => prop_assert!(
                (client.is_some() || pair.client_outcome.failure.is_some())
                    && (server.is_some() || pair.server_outcome.failure.is_some()),
                "client {:?}, server {:?}", pair.client_outcome, pair.server_outcome
            ),
        }
    }
}
