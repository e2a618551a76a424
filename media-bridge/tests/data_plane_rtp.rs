//! The packet path with plain RTP/AVP endpoints on 127.0.0.1: forwarding both ways, payload type
//! renumbering, symmetric RTP latching and strict source checks, rtcp-mux bridging, silence expiry.

mod data_plane_support;

use std::time::{Duration, Instant};

use data_plane_support::*;
use tandem_media_bridge::DropReason;
use tandem_media_bridge::session::RtcpMuxMode;

const TE_CALLER: &str = "a=rtpmap:126 telephone-event/8000\r\n";
const TE_CALLEE: &str = "a=rtpmap:101 telephone-event/8000\r\n";

#[test]
fn relays_rtp_both_ways_and_renumbers_telephone_events() {
    let relay = start_relay(41000);
    let caller = endpoint();
    let callee = endpoint();
    let (to_callee, to_caller, _) = negotiate(
        &relay,
        "rtp-both-ways",
        sdp(port(&caller), "RTP/AVP", "0 126", TE_CALLER),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0 101", TE_CALLEE),
    );

    let voice = rtp(0, true, 1, 0x1111, &[0x55; 160]);
    caller.send_to(&voice, relay_at(to_caller)).unwrap();
    let (got, from) = recv(&callee);
    assert_eq!(got, voice, "PCMU passes unchanged, marker bit included");
    assert_eq!(
        from,
        relay_at(to_callee),
        "sent from the callee-facing port"
    );

    let event = rtp(126, true, 2, 0x1111, &[5, 0x8a, 0, 160]);
    caller.send_to(&event, relay_at(to_caller)).unwrap();
    let (got, _) = recv(&callee);
    assert_eq!(got[1], 0x80 | 101, "RFC 4733 event renumbered, marker kept");
    assert_eq!(got[2..], event[2..]);

    let back = rtp(101, false, 9, 0x2222, &[7, 0x0a, 0, 80]);
    callee.send_to(&back, relay_at(to_callee)).unwrap();
    let (got, from) = recv(&caller);
    assert_eq!(got[1], 126, "the caller gets its own numbering");
    assert_eq!(got[2..], back[2..]);
    assert_eq!(from, relay_at(to_caller));
}

#[test]
fn latches_to_the_real_source_then_drops_a_third_party() {
    let relay = start_relay(41100);
    let advertised = endpoint();
    let behind_nat = endpoint();
    let intruder = endpoint();
    let callee = endpoint();
    let (to_callee, to_caller, _) = negotiate(
        &relay,
        "latching",
        sdp(port(&advertised), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0", ""),
    );

    // Before the caller sent anything, media for it goes where its SDP said.
    callee
        .send_to(&rtp(0, false, 1, 2, b"early"), relay_at(to_callee))
        .unwrap();
    assert_eq!(&recv(&advertised).0[12..], b"early");

    behind_nat
        .send_to(&rtp(0, false, 1, 1, b"first"), relay_at(to_caller))
        .unwrap();
    assert_eq!(&recv(&callee).0[12..], b"first");
    callee
        .send_to(&rtp(0, false, 2, 2, b"latched"), relay_at(to_callee))
        .unwrap();
    assert_eq!(
        &recv(&behind_nat).0[12..],
        b"latched",
        "symmetric RTP: sent back to the real source"
    );

    intruder
        .send_to(&rtp(0, false, 2, 1, b"hijack"), relay_at(to_caller))
        .unwrap();
    behind_nat
        .send_to(&rtp(0, false, 3, 1, b"second"), relay_at(to_caller))
        .unwrap();
    assert_eq!(
        &recv(&callee).0[12..],
        b"second",
        "the intruder's packet, sent first, never arrived"
    );

    relay.sync().unwrap();
    let stats = relay.relay().lock().unwrap().query("latching").unwrap();
    let caller_stream = &stats.legs[0].media[0];
    assert_eq!(
        caller_stream.traffic.latched,
        Some(behind_nat.local_addr().unwrap())
    );
    assert_eq!(caller_stream.traffic.rtp.packets, 2);
    let dp = relay.stream_stats(caller_stream.id).unwrap();
    assert_eq!(dp.dropped(DropReason::WrongSource), 1);
}

#[test]
fn rtcp_crosses_between_a_muxed_leg_and_a_separate_rtcp_port() {
    let relay = start_relay(41200);
    let caller = endpoint();
    let (callee_rtp, callee_rtcp) = endpoint_pair();
    let mut options = plain_options();
    options.rtcp_mux = RtcpMuxMode::Demux;
    let (to_callee, to_caller, answer) = negotiate(
        &relay,
        "rtcp-mux",
        sdp(port(&caller), "RTP/AVP", "0", "a=rtcp-mux\r\n"),
        options,
        sdp(port(&callee_rtp), "RTP/AVP", "0", ""),
    );
    assert!(
        answer.media[0].has_attribute("rtcp-mux"),
        "the caller keeps rtcp-mux"
    );

    let report = rtcp_rr(0xabcd);
    caller.send_to(&report, relay_at(to_caller)).unwrap();
    let (got, from) = recv(&callee_rtcp);
    assert_eq!(got, report);
    assert_eq!(
        from,
        relay_at(to_callee + 1),
        "leaves from the relay's RTCP port"
    );

    let back = rtcp_rr(0x1234);
    callee_rtcp.send_to(&back, relay_at(to_callee + 1)).unwrap();
    let (got, from) = recv(&caller);
    assert_eq!(got, back);
    assert_eq!(
        from,
        relay_at(to_caller),
        "muxed onto the caller's RTP port"
    );

    // RTP still flows on the RTP ports.
    callee_rtp
        .send_to(&rtp(0, false, 1, 3, b"voice"), relay_at(to_callee))
        .unwrap();
    assert_eq!(&recv(&caller).0[12..], b"voice");
}

#[test]
fn a_call_expires_once_its_media_has_been_silent_for_the_timeout() {
    let relay = start_relay(41300);
    let caller = endpoint();
    let callee = endpoint();
    let (_, to_caller, _) = negotiate(
        &relay,
        "silence",
        sdp(port(&caller), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0", ""),
    );
    let before = Instant::now();
    caller
        .send_to(&rtp(0, false, 1, 1, b"x"), relay_at(to_caller))
        .unwrap();
    recv(&callee);
    relay.sync().unwrap();

    let mut control = relay.relay().lock().unwrap();
    let last = control.query("silence").unwrap().last_packet().unwrap();
    assert!(last >= before, "the worker reported the packet's arrival");
    let timeout = control.config().media_timeout;
    assert!(
        control
            .sweep(last + timeout - Duration::from_millis(1))
            .is_empty(),
        "media kept the call alive"
    );
    let expired = control.sweep(last + timeout);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].totals().0.packets, 1);
}
