//! Port pairs something else holds (another process, another relay) are skipped when calls are set up,
//! as rtpengine skips ports it cannot bind: the relay binds a pair as it hands it out, so a call is never
//! answered with a port it cannot receive on.

mod data_plane_support;

use std::collections::BTreeSet;
use std::net::UdpSocket;

use data_plane_support::*;
use tandem_media_bridge::{DataPlaneConfig, MediaRelay, RelayConfig};

/// Eight pairs of this process's own, below the ephemeral range (so sockets bound to port 0 never take
/// them): only the sockets this test binds hold any of them.
fn own_range() -> u16 {
    20_000 + (std::process::id() % 600) as u16 * 16
}

#[test]
fn pairs_held_elsewhere_are_skipped_and_media_flows_through_the_ones_given_out() {
    let first = own_range();
    let config = RelayConfig::new(LOCALHOST.parse().unwrap()).with_ports(first..=first + 15);
    let data_plane = DataPlaneConfig::new()
        .with_workers(2)
        .with_bind(LOCALHOST.parse().unwrap());
    let relay = MediaRelay::start(config, data_plane).unwrap();
    // Someone else holds the RTP port of the first pair and the RTCP port of the third.
    let _held: Vec<UdpSocket> = [first, first + 5]
        .into_iter()
        .map(|p| UdpSocket::bind((LOCALHOST, p)).expect("a port of this test's own range"))
        .collect();

    let mut given_out = BTreeSet::new();
    for call in 0..3u32 {
        let (caller, caller_rtcp) = endpoint_pair();
        let (callee, callee_rtcp) = endpoint_pair();
        let id = format!("skip-{call}");
        let (to_callee, to_caller, _) = negotiate(
            &relay,
            &id,
            sdp(port(&caller), "RTP/AVP", "0", ""),
            plain_options(),
            sdp(port(&callee), "RTP/AVP", "0", ""),
        );
        given_out.extend([to_callee, to_caller]);

        let voice = rtp(0, false, 1, call, &[0x55; 160]);
        caller.send_to(&voice, relay_at(to_caller)).unwrap();
        let (got, from) = recv(&callee);
        assert_eq!((got, from), (voice, relay_at(to_callee)), "{id}: RTP out");
        let back = rtp(0, false, 7, call + 100, b"back");
        callee.send_to(&back, relay_at(to_callee)).unwrap();
        let (got, from) = recv(&caller);
        assert_eq!((got, from), (back, relay_at(to_caller)), "{id}: RTP back");
        // The RTCP ports of the pairs given out are ours too.
        let report = rtcp_rr(call);
        caller_rtcp
            .send_to(&report, relay_at(to_caller + 1))
            .unwrap();
        let (got, from) = recv(&callee_rtcp);
        assert_eq!((got, from), (report, relay_at(to_callee + 1)), "{id}: RTCP");
    }

    let expected: BTreeSet<u16> = [1, 3, 4, 5, 6, 7].map(|i| first + i * 2).into();
    assert_eq!(given_out, expected, "the pairs held elsewhere are not used");
    assert_eq!(relay.relay().lock().unwrap().port_pool().skipped(), 2);
}
