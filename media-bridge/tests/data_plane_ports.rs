//! Port pairs something else holds (another process, another relay) are skipped when calls are set up,
//! as rtpengine skips ports it cannot bind: the relay binds a pair as it hands it out, so a call is never
//! answered with a port it cannot receive on.

mod data_plane_support;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU16, Ordering};

use data_plane_support::*;
use tandem_media_bridge::{DataPlaneConfig, MediaRelay, RelayConfig};

/// Eight pairs (16 ports) below the ephemeral range, so that sockets bound to port 0 never take them, found
/// free by binding all of them (each call in this process its own slot); returns the first port and the sockets of the RTP port of the first pair
/// and the RTCP port of the third, which stay bound ("held by someone else").
fn range_with_two_ports_held() -> (u16, Vec<UdpSocket>) {
    const SLOTS: u16 = 600;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() % u32::from(SLOTS)) as u16;
    for _ in 0..SLOTS {
        let slot = (seed + NEXT.fetch_add(1, Ordering::SeqCst)) % SLOTS;
        let first = 20_000 + slot * 16;
        let Ok(mut bound) = (first..first + 16)
            .map(|p| UdpSocket::bind((LOCALHOST, p)))
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        let third_rtcp = bound.swap_remove(5);
        let first_rtp = bound.swap_remove(0);
        return (first, vec![first_rtp, third_rtcp]);
    }
    panic!("no free range of 16 UDP ports");
}

#[test]
fn pairs_held_elsewhere_are_skipped_and_media_flows_through_the_ones_given_out() {
    let (first, held) = range_with_two_ports_held();
    assert_eq!(
        held.iter().map(port).collect::<Vec<_>>(),
        [first, first + 5]
    );
    let config = RelayConfig::new(LOCALHOST.parse().unwrap()).with_ports(first..=first + 15);
    let data_plane = DataPlaneConfig::new()
        .with_workers(2)
        .with_bind(LOCALHOST.parse().unwrap());
    let relay = MediaRelay::start(config, data_plane).unwrap();

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

/// The leg's first snapshot (after the offer) has an RTCP port; once the answer settles rtcp-mux the worker
/// parks that socket rather than closing it, so nothing else can take the port before a re-offer needs it.
#[test]
fn a_muxed_leg_keeps_its_rtcp_port_for_a_reoffer_that_turns_mux_off() {
    let (first, held) = range_with_two_ports_held();
    drop(held);
    let config = RelayConfig::new(LOCALHOST.parse().unwrap()).with_ports(first..=first + 15);
    let data_plane = DataPlaneConfig::new()
        .with_workers(1)
        .with_bind(LOCALHOST.parse().unwrap());
    let relay = MediaRelay::start(config, data_plane).unwrap();
    let (caller, caller_rtcp) = endpoint_pair();
    let (callee, callee_rtcp) = endpoint_pair();
    let (_, to_caller, answer) = negotiate(
        &relay,
        "remux",
        sdp(port(&caller), "RTP/AVP", "0", "a=rtcp-mux\r\n"),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0", ""),
    );
    assert!(answer.media[0].has_attribute("rtcp-mux"));
    let squatter = UdpSocket::bind((LOCALHOST, to_caller + 1));
    assert!(
        squatter.is_err(),
        "the muxed leg's RTCP port stays the relay's"
    );

    let (to_callee, again, answer) = negotiate(
        &relay,
        "remux",
        sdp(port(&caller), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0", ""),
    );
    assert_eq!(again, to_caller, "the re-offer keeps the ports");
    assert!(!answer.media[0].has_attribute("rtcp-mux"));
    let report = rtcp_rr(0x77);
    caller_rtcp
        .send_to(&report, relay_at(to_caller + 1))
        .unwrap();
    let (got, from) = recv(&callee_rtcp);
    assert_eq!((got, from), (report, relay_at(to_callee + 1)));
    let back = rtcp_rr(0x78);
    callee_rtcp.send_to(&back, relay_at(to_callee + 1)).unwrap();
    let (got, from) = recv(&caller_rtcp);
    assert_eq!((got, from), (back, relay_at(to_caller + 1)));
}
