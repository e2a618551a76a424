//! Relay engine features on the running packet path, on 127.0.0.1: RFC 4733 DTMF injection (in-process
//! and NG `play DTMF`, plain and DTLS-SRTP legs), per-leg statistics from RTP and RTCP (in-process and NG
//! `query`), decrypted pcap recording (in-process option, NG `start/stop recording`), and the media timeout
//! that expires silent calls.

mod data_plane_support;
mod webrtc_peer;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use data_plane_support::*;
use tandem_media_bridge::ng::bencode::{Limits, Value};
use tandem_media_bridge::ng::{self, Reply, Request};
use tandem_media_bridge::session::{
    AnswerRequest, DtmfRequest, MediaOptions, OfferRequest, SessionError,
};
use tandem_media_bridge::{DataPlaneConfig, MediaRelay, RelayConfig, StreamId};
use tandem_rtp_core::sdes::{Crypto, CryptoSuite};
use tandem_rtp_core::sdp::Attribute;
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};
use tandem_rtp_core::telephone_event::{DtmfDigit, EventReceiver, ReceiverEvent};

const TE_CALLER: &str = "a=rtpmap:126 telephone-event/8000\r\n";
const TE_CALLEE: &str = "a=rtpmap:101 telephone-event/8000\r\n";

fn digits(text: &str) -> Vec<DtmfDigit> {
    text.chars()
        .map(|c| DtmfDigit::from_char(c).unwrap())
        .collect()
}

fn relay_with(
    first: u16,
    config: impl FnOnce(RelayConfig) -> RelayConfig,
    dp: DataPlaneConfig,
) -> MediaRelay {
    let config =
        config(RelayConfig::new(LOCALHOST.parse().unwrap()).with_ports(first..=first + 99));
    let dp = dp
        .with_workers(2)
        .with_bind(LOCALHOST.parse().unwrap())
        .with_stats_interval(Duration::from_millis(50));
    MediaRelay::start(config, dp).unwrap()
}

/// Runs an NG request body (a bencoded dictionary) against the relay's NG adapter.
fn ng(relay: &MediaRelay, body: &[u8]) -> Reply {
    let request = Request::decode(&Bytes::copy_from_slice(body), &Limits::default()).unwrap();
    let control = relay.control();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(ng::execute(&control, request.command))
}

/// What one RTP packet of a received stream says.
struct Received {
    marker: bool,
    pt: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn parse_rtp(p: &[u8]) -> Received {
    Received {
        marker: p[1] & 0x80 != 0,
        pt: p[1] & 0x7f,
        seq: u16::from_be_bytes([p[2], p[3]]),
        timestamp: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        payload: p[12..].to_vec(),
    }
}

/// Reads RFC 4733 packets (`next` yields plain RTP) until `count` digits ended; returns the digits, every
/// packet, and checks the RFC 4733 sequence of each event.
fn receive_digits(count: usize, mut next: impl FnMut() -> Vec<u8>) -> (String, Vec<Received>) {
    let mut receiver = EventReceiver::new();
    let mut seen = String::new();
    let mut packets = Vec::new();
    for _ in 0..200 {
        let p = parse_rtp(&next());
        receiver
            .handle_packet(p.timestamp, p.marker, p.seq, &p.payload)
            .expect("a decodable telephone-event payload");
        while let Some(event) = receiver.poll_event() {
            if let ReceiverEvent::DigitEnded { .. } = event {
                seen.push(event.digit().unwrap().as_char());
            }
        }
        packets.push(p);
        if seen.len() == count {
            break;
        }
    }
    // Events end with three end packets; let the last two in (the receiver reports at the first).
    for _ in 0..2 {
        packets.push(parse_rtp(&next()));
    }
    (seen, packets)
}

/// RFC 4733 §2.5.1: per event, the marker on the first packet only, one timestamp, growing durations,
/// exactly three end packets with the final duration.
fn check_event_sequence(event: &[&Received], duration: u16) {
    assert!(event[0].marker, "the first packet has the marker bit");
    assert!(event[1..].iter().all(|p| !p.marker));
    assert!(event.iter().all(|p| p.timestamp == event[0].timestamp));
    let ends: Vec<_> = event.iter().filter(|p| p.payload[1] & 0x80 != 0).collect();
    assert_eq!(ends.len(), 3, "three end packets");
    assert!(
        ends.iter()
            .all(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]) == duration)
    );
    let durations: Vec<u16> = event
        .iter()
        .map(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]))
        .collect();
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "{durations:?}");
}

#[test]
fn injected_dtmf_continues_the_relayed_stream_on_a_plain_leg() {
    let relay = relay_with(41700, |c| c, DataPlaneConfig::new());
    let caller = endpoint();
    let callee = endpoint();
    let (_, to_caller, _) = negotiate(
        &relay,
        "dtmf-plain",
        sdp(port(&caller), "RTP/AVP", "0 126", TE_CALLER),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0 101", TE_CALLEE),
    );
    for seq in 1..=3 {
        caller
            .send_to(
                &rtp(0, seq == 1, seq, 0xca11, &[0x55; 160]),
                relay_at(to_caller),
            )
            .unwrap();
        recv(&callee);
    }

    let request = DtmfRequest::new("dtmf-plain", digits("5#"))
        .from_tag("caller")
        .with_duration(Duration::from_millis(60))
        .with_volume(12)
        .with_pause(Duration::from_millis(40));
    let targets = relay.play_dtmf(&request).unwrap();
    assert_eq!(targets.len(), 1);
    let (seen, packets) = receive_digits(2, || recv(&callee).0);
    assert_eq!(seen, "5#");
    for p in &packets {
        assert_eq!(p.pt, 101, "the callee's telephone-event payload type");
        assert_eq!(p.ssrc, 0xca11, "the relayed stream's SSRC");
        assert_eq!(p.payload[1] & 0x3f, 12, "volume");
    }
    let seqs: Vec<u16> = packets.iter().map(|p| p.seq).collect();
    assert_eq!(seqs[0], 4, "continues after the relayed packets");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let five: Vec<&Received> = packets.iter().filter(|p| p.payload[0] == 5).collect();
    let pound: Vec<&Received> = packets.iter().filter(|p| p.payload[0] == 11).collect();
    check_event_sequence(&five, 480);
    check_event_sequence(&pound, 480);
    assert!(pound[0].timestamp > five[0].timestamp);
    assert!(
        five[0].timestamp >= 3 * 160,
        "after the relayed audio's timestamps"
    );

    // The next relayed packet is renumbered after the injected ones.
    caller
        .send_to(&rtp(0, false, 4, 0xca11, &[0x55; 160]), relay_at(to_caller))
        .unwrap();
    let next = parse_rtp(&recv(&callee).0);
    assert_eq!(next.seq, seqs.last().unwrap() + 1);
    assert_eq!(next.pt, 0);

    relay.sync().unwrap();
    let id = callee_stream(&relay, "dtmf-plain");
    assert_eq!(
        relay.stream_stats(id).unwrap().dtmf_packets,
        packets.len() as u64
    );

    // Errors: an unknown call or tag.
    assert!(matches!(
        relay.play_dtmf(&DtmfRequest::new("nope", digits("1"))),
        Err(SessionError::CallNotFound { .. })
    ));
    assert!(matches!(
        relay.play_dtmf(&DtmfRequest::new("dtmf-plain", digits("1")).from_tag("who")),
        Err(SessionError::LegNotFound { .. })
    ));
}

fn callee_stream(relay: &MediaRelay, call: &str) -> StreamId {
    relay.relay().lock().unwrap().query(call).unwrap().legs[1].media[0].id
}

fn caller_stream(relay: &MediaRelay, call: &str) -> StreamId {
    relay.relay().lock().unwrap().query(call).unwrap().legs[0].media[0].id
}

#[test]
fn ng_play_dtmf_reaches_the_caller_and_needs_telephone_event() {
    let relay = relay_with(41800, |c| c, DataPlaneConfig::new());
    let caller = endpoint();
    let callee = endpoint();
    negotiate(
        &relay,
        "dtmf-ng",
        sdp(port(&caller), "RTP/AVP", "0 126", TE_CALLER),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0 101", TE_CALLEE),
    );
    // The callee "presses" 7: the caller hears it in its own numbering (126), with a fresh SSRC since
    // nothing was relayed to it yet.
    let reply = ng(
        &relay,
        b"d7:command9:play DTMF7:call-id7:dtmf-ng8:from-tag6:callee4:code1:78:durationi100ee",
    );
    assert_eq!(reply, Reply::Done(None));
    let (seen, packets) = receive_digits(1, || recv(&caller).0);
    assert_eq!(seen, "7");
    assert!(packets.iter().all(|p| p.pt == 126));
    let seven: Vec<&Received> = packets.iter().collect();
    check_event_sequence(&seven, 800);

    // A call without telephone-event on the target side is refused.
    let a = endpoint();
    let b = endpoint();
    negotiate(
        &relay,
        "no-te",
        sdp(port(&a), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&b), "RTP/AVP", "0", ""),
    );
    let reply = ng(&relay, b"d7:command9:play DTMF7:call-id5:no-te4:code1:1e");
    assert!(
        matches!(&reply, Reply::Error(e) if e.contains("telephone-event")),
        "{reply:?}"
    );
    let reply = ng(&relay, b"d7:command9:play DTMF7:call-id7:unknown4:code1:1e");
    assert!(matches!(reply, Reply::Error(_)));
}

#[test]
fn injected_dtmf_is_srtp_protected_on_a_dtls_leg() {
    let relay =
        webrtc_peer::start_webrtc_relay(41900, Duration::from_secs(30), DataPlaneConfig::new());
    let mut browser = webrtc_peer::Browser::new();
    let phone = endpoint();
    let now = Instant::now();
    let mut control = relay.relay().lock().unwrap();
    control
        .offer(
            OfferRequest::new("dtmf-srtp", "browser", browser.offer(1))
                .with_options(plain_options()),
            now,
        )
        .unwrap();
    let answer = control
        .answer(
            AnswerRequest::new(
                "dtmf-srtp",
                "browser",
                "phone",
                sdp(port(&phone), "RTP/AVP", "0 101", TE_CALLEE),
            ),
            now,
        )
        .unwrap();
    drop(control);
    relay.sync().unwrap();
    let side = webrtc_peer::RelaySide::from_sdp(&answer);
    browser.check(&side, true);
    let (_protect, mut unprotect) = browser.handshake(&side);
    webrtc_peer::wait_dtls_connected(&relay, caller_stream(&relay, "dtmf-srtp"));

    relay
        .play_dtmf(
            &DtmfRequest::new("dtmf-srtp", digits("9"))
                .from_tag("phone")
                .with_duration(Duration::from_millis(40)),
        )
        .unwrap();
    let (seen, packets) = receive_digits(1, || {
        let mut p = browser.recv_media();
        let len = unprotect
            .unprotect_rtp(&mut p)
            .expect("SRTP from the relay");
        p.truncate(len);
        p
    });
    assert_eq!(seen, "9");
    assert!(packets.iter().all(|p| p.pt == 101));
}

#[test]
fn statistics_count_loss_jitter_and_rtt_and_ng_query_reports_them() {
    let relay = relay_with(42000, |c| c, DataPlaneConfig::new());
    let caller = endpoint();
    let (callee, callee_rtcp) = endpoint_pair();
    let (to_callee, to_caller, answer) = negotiate(
        &relay,
        "stats",
        sdp(port(&caller), "RTP/AVP", "0", "a=rtcp-mux\r\n"),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0", ""),
    );
    assert!(
        answer.to_string().contains("a=rtcp-mux"),
        "the caller keeps rtcp-mux"
    );
    // Sequence 3 never arrives: one lost.
    for seq in [1u16, 2, 4, 5] {
        caller
            .send_to(&rtp(0, false, seq, 0x5eed, &[0; 160]), relay_at(to_caller))
            .unwrap();
        recv(&callee);
    }
    // The caller's sender report goes to the callee; the callee's receiver report refers to it.
    let ntp: u64 = 0xdead_beef_0000_0000 | 0x1234_5678_0000;
    let mut sr = vec![0x80, 200, 0, 6];
    sr.extend_from_slice(&0x5eedu32.to_be_bytes());
    sr.extend_from_slice(&ntp.to_be_bytes());
    sr.extend_from_slice(&[0; 12]);
    caller.send_to(&sr, relay_at(to_caller)).unwrap();
    assert_eq!(recv(&callee_rtcp).0, sr);
    let lsr = ((ntp >> 16) & 0xffff_ffff) as u32;
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&0xcafeu32.to_be_bytes());
    rr.extend_from_slice(&0x5eedu32.to_be_bytes());
    rr.extend_from_slice(&[26, 0, 0, 1]); // 10 % lost, 1 packet
    rr.extend_from_slice(&5u32.to_be_bytes());
    rr.extend_from_slice(&8u32.to_be_bytes()); // jitter: 8 units = 1 ms at 8 kHz
    rr.extend_from_slice(&lsr.to_be_bytes());
    rr.extend_from_slice(&0u32.to_be_bytes());
    callee_rtcp.send_to(&rr, relay_at(to_callee + 1)).unwrap();
    assert_eq!(recv(&caller).0, rr, "muxed towards the caller");
    relay.sync().unwrap();

    let caller_id = caller_stream(&relay, "stats");
    let callee_id = callee_stream(&relay, "stats");
    let from_caller = relay.stream_stats(caller_id).unwrap();
    assert_eq!(from_caller.traffic.rtp.packets, 4);
    assert_eq!(from_caller.traffic.rtp.bytes, 4 * 172);
    assert_eq!(from_caller.traffic.lost, 1);
    assert!(from_caller.traffic.jitter.is_some());
    assert_eq!(from_caller.traffic.rtcp.packets, 1);
    let from_callee = relay.stream_stats(callee_id).unwrap();
    assert!(from_callee.traffic.rtt.is_some(), "{from_callee:?}");
    assert_eq!(from_callee.reported_fraction_lost, Some(26));
    assert_eq!(from_callee.reported_lost, Some(1));
    assert_eq!(from_callee.reported_jitter, Some(Duration::from_millis(1)));
    // The control plane holds the same figures.
    let call = relay.relay().lock().unwrap().query("stats").unwrap();
    assert_eq!(call.legs[0].media[0].traffic.lost, 1);
    assert!(call.legs[1].media[0].traffic.rtt.is_some());

    // NG query: rtpengine-style per-stream keys.
    let Reply::Query(stats) = ng(&relay, b"d7:command5:query7:call-id5:statse") else {
        panic!("query failed")
    };
    let dict = Reply::Query(stats).to_dict();
    let tags = dict.get(b"tags").unwrap();
    let rtp_stream = |tag: &[u8]| -> Value {
        let Value::Dict(tags) = tags else { panic!() };
        let Some(Value::Dict(t)) = tags.get(tag) else {
            panic!("no tag")
        };
        let Some(Value::List(medias)) = t.get(b"medias") else {
            panic!()
        };
        let Value::Dict(m) = &medias[0] else { panic!() };
        let Some(Value::List(streams)) = m.get(b"streams") else {
            panic!()
        };
        streams[0].clone()
    };
    let Value::Dict(caller_rtp) = rtp_stream(b"caller") else {
        panic!()
    };
    assert_eq!(
        caller_rtp.get(b"packets lost").and_then(Value::as_integer),
        Some(1)
    );
    assert!(caller_rtp.get(b"jitter").is_some());
    let Value::Dict(callee_rtp) = rtp_stream(b"callee") else {
        panic!()
    };
    assert!(callee_rtp.get(b"round-trip time").is_some());
}

/// A fresh directory under the system's temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tandem-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One pcap record: source, destination and UDP payload, read back from the synthetic IPv4/UDP headers.
#[derive(Debug, PartialEq)]
struct PcapRecord {
    source: SocketAddr,
    destination: SocketAddr,
    payload: Vec<u8>,
}

fn read_pcap(path: &Path) -> Vec<PcapRecord> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[0..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "classic pcap magic"
    );
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        101,
        "LINKTYPE_RAW"
    );
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &bytes[at + 16..at + 16 + incl];
        assert_eq!(frame[0], 0x45, "IPv4 without options");
        assert_eq!(frame[9], 17, "UDP");
        let ip =
            |o: usize| std::net::Ipv4Addr::new(frame[o], frame[o + 1], frame[o + 2], frame[o + 3]);
        let port = |o: usize| u16::from_be_bytes([frame[o], frame[o + 1]]);
        assert_eq!(usize::from(port(24)), incl - 20, "UDP length");
        records.push(PcapRecord {
            source: SocketAddr::new(ip(12).into(), port(20)),
            destination: SocketAddr::new(ip(16).into(), port(22)),
            payload: frame[28..].to_vec(),
        });
        at += 16 + incl;
    }
    records
}

fn context_of(line: &Crypto) -> SrtpContext {
    let profile = SrtpProfile::from_sdes_name(line.suite.name()).unwrap();
    let (key, salt) = line.key_params[0].split(&line.suite).unwrap();
    SrtpContext::new(&SrtpPolicy::new(profile), key, salt).unwrap()
}

#[test]
fn a_recorded_call_is_written_decrypted_to_a_pcap_file() {
    let dir = scratch_dir("recording");
    let relay = relay_with(
        42100,
        |c| c,
        DataPlaneConfig::new().with_recording_dir(&dir),
    );
    let phone = endpoint();
    let plain = endpoint();
    // The phone speaks SDES-SRTP; recording is asked for in the offer (the in-process option).
    let ours = Crypto::generate(1, CryptoSuite::from_name("AES_CM_128_HMAC_SHA1_80")).unwrap();
    let mut options: MediaOptions = plain_options();
    options.record_call = true;
    let (to_plain, to_phone, answer) = negotiate(
        &relay,
        "rec/1@example",
        sdp(
            port(&phone),
            "RTP/SAVP",
            "0 101",
            &format!("{TE_CALLEE}a=crypto:{ours}\r\n"),
        ),
        options,
        sdp(port(&plain), "RTP/AVP", "0 101", TE_CALLEE),
    );
    let relays_key = answer.media[0]
        .attributes
        .iter()
        .find_map(|a| match a {
            Attribute::Crypto(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    let mut protect = context_of(&ours);
    let mut unprotect = context_of(&relays_key);

    let mut sent_by_phone = Vec::new();
    for seq in 1..=3u16 {
        let packet = rtp(0, false, seq, 0x1, &[seq as u8; 160]);
        let mut buf = [0u8; 256];
        buf[..packet.len()].copy_from_slice(&packet);
        let len = protect.protect_rtp(&mut buf, packet.len()).unwrap();
        phone.send_to(&buf[..len], relay_at(to_phone)).unwrap();
        assert_eq!(recv(&plain).0, packet);
        sent_by_phone.push(packet);
    }
    let mut sent_by_plain = Vec::new();
    for seq in 1..=2u16 {
        let packet = rtp(0, false, seq, 0x2, b"plain side");
        plain.send_to(&packet, relay_at(to_plain)).unwrap();
        let mut got = recv(&phone).0;
        let len = unprotect.unprotect_rtp(&mut got).unwrap();
        assert_eq!(&got[..len], &packet[..]);
        sent_by_plain.push(packet);
    }
    // An injected digit is recorded in the clear too, from the relay's port to the phone.
    relay
        .play_dtmf(
            &DtmfRequest::new("rec/1@example", digits("3"))
                .from_tag("callee")
                .with_duration(Duration::from_millis(40)),
        )
        .unwrap();
    let (seen, injected) = receive_digits(1, || {
        let mut got = recv(&phone).0;
        let len = unprotect.unprotect_rtp(&mut got).unwrap();
        got.truncate(len);
        got
    });
    assert_eq!(seen, "3");
    relay.sync().unwrap();

    let path = relay.recording_path("rec/1@example").unwrap();
    assert_eq!(path, dir.join("rec_1@example.pcap"));
    let from = |s: &UdpSocket| s.local_addr().unwrap();
    let records = read_pcap(&path);
    assert_eq!(records.len(), 5 + injected.len(), "{records:?}");
    let events: Vec<&PcapRecord> = records
        .iter()
        .filter(|r| r.source == relay_at(to_phone))
        .collect();
    assert_eq!(events.len(), injected.len());
    assert!(events.iter().all(|r| r.destination == from(&phone)));
    assert!(
        events
            .iter()
            .zip(&injected)
            .all(|(r, p)| r.payload[12..] == p.payload[..] && r.payload[1] & 0x7f == 101)
    );
    let phone_records: Vec<&PcapRecord> = records
        .iter()
        .filter(|r| r.source == from(&phone))
        .collect();
    let plain_records: Vec<&PcapRecord> = records
        .iter()
        .filter(|r| r.source == from(&plain))
        .collect();
    assert_eq!(
        phone_records
            .iter()
            .map(|r| r.payload.clone())
            .collect::<Vec<_>>(),
        sent_by_phone,
        "the phone's SRTP is recorded decrypted"
    );
    assert!(
        phone_records
            .iter()
            .all(|r| r.destination == relay_at(to_phone))
    );
    assert_eq!(
        plain_records
            .iter()
            .map(|r| r.payload.clone())
            .collect::<Vec<_>>(),
        sent_by_plain
    );

    // NG `stop recording`: later packets are relayed but not recorded.
    let reply = ng(
        &relay,
        b"d7:command14:stop recording7:call-id13:rec/1@examplee",
    );
    assert_eq!(reply, Reply::Done(None));
    relay.sync().unwrap();
    plain
        .send_to(&rtp(0, false, 3, 0x2, b"unrecorded"), relay_at(to_plain))
        .unwrap();
    recv(&phone);
    // NG `start recording` on a call that did not ask for it in its offer.
    let a = endpoint();
    let b = endpoint();
    let (_, to_a, _) = negotiate(
        &relay,
        "later",
        sdp(port(&a), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&b), "RTP/AVP", "0", ""),
    );
    let reply = ng(&relay, b"d7:command15:start recording7:call-id5:latere");
    assert_eq!(reply, Reply::Done(None));
    relay.sync().unwrap();
    a.send_to(&rtp(0, false, 1, 3, b"now recorded"), relay_at(to_a))
        .unwrap();
    recv(&b);
    relay.sync().unwrap();
    assert_eq!(
        read_pcap(&path).len(),
        5 + injected.len(),
        "nothing after stop recording"
    );
    let later = read_pcap(&relay.recording_path("later").unwrap());
    assert_eq!(later.len(), 1);
    assert_eq!(&later[0].payload[12..], b"now recorded");
    let id = caller_stream(&relay, "later");
    assert_eq!(relay.stream_stats(id).unwrap().recording_drops, 0);
    drop(relay);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_control_thread_expires_a_silent_call_while_an_active_one_lives() {
    let relay = relay_with(
        42200,
        |mut c| {
            c.media_timeout = Duration::from_secs(3);
            c
        },
        DataPlaneConfig::new(),
    );
    let (a, b, c, d) = (endpoint(), endpoint(), endpoint(), endpoint());
    let (_, to_a, _) = negotiate(
        &relay,
        "active",
        sdp(port(&a), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&b), "RTP/AVP", "0", ""),
    );
    let (_, to_c, _) = negotiate(
        &relay,
        "silent",
        sdp(port(&c), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&d), "RTP/AVP", "0", ""),
    );
    c.send_to(&rtp(0, false, 1, 1, b"once"), relay_at(to_c))
        .unwrap();
    recv(&d);
    let silent_stream = caller_stream(&relay, "silent");
    relay.sync().unwrap();
    assert!(relay.stream_stats(silent_stream).is_some());

    // Only one leg of the active call talks: that keeps the whole call.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seq = 1;
    while relay.relay().lock().unwrap().query("silent").is_ok() {
        assert!(Instant::now() < deadline, "the silent call never expired");
        a.send_to(&rtp(0, false, seq, 2, b"alive"), relay_at(to_a))
            .unwrap();
        recv(&b);
        seq += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        relay.relay().lock().unwrap().query("active").is_ok(),
        "media kept the active call"
    );
    relay.sync().unwrap();
    assert!(
        relay.stream_stats(silent_stream).is_none(),
        "the data plane dropped its streams"
    );
    // The silent call's ports no longer relay.
    c.send_to(&rtp(0, false, 2, 1, b"too late"), relay_at(to_c))
        .unwrap();
    d.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(
        d.recv_from(&mut [0u8; 64]).is_err(),
        "nothing relayed after expiry"
    );
}
