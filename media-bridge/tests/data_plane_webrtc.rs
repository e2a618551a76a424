//! The WebRTC data plane without a browser: a UDP/TLS/RTP/SAVPF leg (ICE-lite, DTLS-SRTP, rtcp-mux) and a
//! plain RTP/AVP leg with its own RTCP port, on 127.0.0.1. The test plays the browser (see `webrtc_peer`):
//! connectivity checks, a DTLS client handshake that verifies the relay's fingerprint from its SDP, SRTP
//! keyed from the handshake; then media and RTCP both ways, consent expiry when the checks stop, and an
//! ICE restart with new credentials on a re-offer that brings the leg back.

mod data_plane_support;
mod webrtc_peer;

use std::time::{Duration, Instant};

use data_plane_support::{endpoint_pair, plain_options, port, relay_at, rtp, sdp};
use tandem_media_bridge::session::{AnswerRequest, OfferRequest};
use tandem_media_bridge::{DataPlaneConfig, DropReason, MediaRelay, StreamId, StreamStats};
use tandem_rtp_core::SessionDescription;
use webrtc_peer::*;

const CALL: &str = "webrtc-data-plane";

/// Offer from the browser, answer from the plain phone; returns the answer the browser gets and the
/// relay's port facing the phone.
fn negotiate(
    relay: &MediaRelay,
    browser: &Browser,
    phone_rtp: u16,
    version: u32,
) -> (SessionDescription, u16) {
    let now = Instant::now();
    let mut control = relay.relay().lock().unwrap();
    let forwarded = control
        .offer(
            OfferRequest::new(CALL, "browser", browser.offer(version))
                .with_options(plain_options()),
            now,
        )
        .unwrap();
    let text = forwarded.to_string();
    assert!(text.contains("RTP/AVP 0 101"), "plain offer:\n{text}");
    assert!(!text.contains("a=ice-") && !text.contains("a=fingerprint"));
    let answer = control
        .answer(
            AnswerRequest::new(
                CALL,
                "browser",
                "phone",
                sdp(
                    phone_rtp,
                    "RTP/AVP",
                    "0 101",
                    "a=rtpmap:101 telephone-event/8000\r\n",
                ),
            ),
            now,
        )
        .unwrap();
    drop(control);
    relay.sync().unwrap();
    (answer, forwarded.media[0].port)
}

fn streams(relay: &MediaRelay) -> (StreamId, StreamId) {
    let stats = relay.relay().lock().unwrap().query(CALL).unwrap();
    (stats.legs[0].media[0].id, stats.legs[1].media[0].id)
}

fn stats(relay: &MediaRelay, id: StreamId) -> StreamStats {
    relay.sync().unwrap();
    relay.stream_stats(id).unwrap_or_default()
}

/// An RTCP sender report from `ssrc` with NTP timestamp `ntp` and no report blocks.
fn sender_report(ssrc: u32, ntp: u64) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&ntp.to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    p
}

/// A receiver report from `ssrc` with one block about `source`: LSR and DLSR (1/65536 s).
fn receiver_report(ssrc: u32, source: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&source.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]); // fraction lost, cumulative lost
    p.extend_from_slice(&42u32.to_be_bytes()); // extended highest sequence number
    p.extend_from_slice(&16u32.to_be_bytes()); // jitter (RTP units)
    p.extend_from_slice(&lsr.to_be_bytes());
    p.extend_from_slice(&dlsr.to_be_bytes());
    p
}

#[test]
fn browser_leg_with_ice_lite_and_dtls_srtp_bridges_to_plain_rtp_and_expires_and_restarts() {
    let relay = start_webrtc_relay(41500, Duration::from_secs(2), DataPlaneConfig::new());
    let mut browser = Browser::new();
    let (phone, phone_rtcp) = endpoint_pair();
    let (answer, to_phone) = negotiate(&relay, &browser, port(&phone), 1);
    let relay_side = RelaySide::from_sdp(&answer);
    let (browser_stream, phone_stream) = streams(&relay);

    // Before ICE selects a pair (and before the handshake gives keys), the phone's media has nowhere to go:
    // the destination is resolved before SRTP protection, so the drop is counted as NoDestination.
    phone
        .send_to(&rtp(0, false, 1, 0x9999, &[1; 160]), relay_at(to_phone))
        .unwrap();

    // ICE: a nominating check makes the browser's address the selected pair.
    browser.check(&relay_side, false);
    browser.check(&relay_side, true);
    // DTLS: the browser is the client (the relay answered setup:passive) and checks the relay's
    // certificate against the fingerprint in the answer.
    let (mut protect_ctx, mut unprotect_ctx) = browser.handshake(&relay_side);
    wait_dtls_connected(&relay, browser_stream);
    let s = stats(&relay, browser_stream);
    assert_eq!(s.traffic.latched, Some(browser.address()));
    assert_eq!(
        stats(&relay, phone_stream).dropped(DropReason::NoDestination),
        1
    );

    // SRTP from the browser arrives at the phone as clear RTP.
    let voice = rtp(0, true, 100, 0xb0b, &[0x7f; 160]);
    let sent = protect(&mut protect_ctx, &voice);
    assert_ne!(&sent[12..172], &voice[12..], "the browser sends ciphertext");
    browser.socket.send_to(&sent, relay_side.address).unwrap();
    let (got, from) = data_plane_support::recv(&phone);
    assert_eq!(got, voice);
    assert_eq!(from, relay_at(to_phone));

    // Clear RTP from the phone reaches the browser as SRTP it can decrypt.
    let back = rtp(0, false, 7, 0x9999, &[0x11; 160]);
    phone.send_to(&back, relay_at(to_phone)).unwrap();
    let mut got = browser.recv_media();
    assert!(got.len() > back.len(), "SRTP adds an authentication tag");
    assert_ne!(&got[12..back.len()], &back[12..], "ciphertext");
    let len = unprotect_ctx.unprotect_rtp(&mut got).unwrap();
    assert_eq!(&got[..len], &back[..]);

    // RTCP: the phone's sender report leaves its own RTCP port and reaches the browser muxed, as SRTCP.
    let ntp = 0x0000_1111_2222_3333_u64;
    let sr = sender_report(0x9999, ntp);
    phone_rtcp.send_to(&sr, relay_at(to_phone + 1)).unwrap();
    let mut got = browser.recv_media();
    assert_eq!(got[1], 200, "an SRTCP sender report (header in the clear)");
    let len = unprotect_ctx.unprotect_rtcp(&mut got).unwrap();
    assert_eq!(&got[..len], &sr[..]);
    // The browser's receiver report (SRTCP on the RTP port) arrives at the phone's RTCP port in the clear.
    let lsr = ((ntp >> 16) & 0xffff_ffff) as u32;
    let rr = receiver_report(0xb0b, 0x9999, lsr, 0);
    browser
        .socket
        .send_to(&protect_rtcp(&mut protect_ctx, &rr), relay_side.address)
        .unwrap();
    let (got, from) = data_plane_support::recv(&phone_rtcp);
    assert_eq!(got, rr);
    assert_eq!(from, relay_at(to_phone + 1), "RTCP leaves the RTCP port");
    let s = stats(&relay, browser_stream);
    assert!(s.traffic.rtt.is_some(), "RTT from LSR/DLSR: {s:?}");
    assert_eq!(s.reported_lost, Some(0));
    assert_eq!(s.traffic.rtp.packets, 1);
    assert_eq!(s.traffic.rtcp.packets, 1);
    assert_eq!(s.sent_rtp, 1);
    assert_eq!(s.sent_rtcp, 1);
    assert!(!s.consent_expired);

    // Consent: no more checks and no media from the browser; after the (2 s) consent timeout the leg
    // is dead and the relay stops sending to it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stats(&relay, browser_stream).consent_expired {
        assert!(Instant::now() < deadline, "consent never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = stats(&relay, phone_stream).dropped(DropReason::NoDestination);
    phone
        .send_to(&rtp(0, false, 8, 0x9999, &[0x22; 160]), relay_at(to_phone))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats(&relay, phone_stream).dropped(DropReason::NoDestination) == before {
        assert!(
            Instant::now() < deadline,
            "media to a dead leg was not dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Checks with the old credentials go unanswered now.
    assert_eq!(browser.check_unanswered(&relay_side), None);

    // ICE restart: the browser re-offers with new credentials; the relay answers with new ones too.
    browser.restart_ice("ReSt", "restarted+password+0123456789");
    let (answer, again_to_phone) = negotiate(&relay, &browser, port(&phone), 2);
    assert_eq!(again_to_phone, to_phone, "ports stay");
    let restarted = RelaySide::from_sdp(&answer);
    assert_ne!(restarted.ufrag, relay_side.ufrag, "new relay credentials");
    assert_eq!(restarted.address, relay_side.address);
    browser.check(&restarted, true);
    assert!(!stats(&relay, browser_stream).consent_expired, "revived");

    // Media flows again with the keys of the same DTLS association.
    let back = rtp(0, false, 9, 0x9999, b"after the restart");
    phone.send_to(&back, relay_at(to_phone)).unwrap();
    let mut got = browser.recv_media();
    let len = unprotect_ctx.unprotect_rtp(&mut got).unwrap();
    assert_eq!(&got[..len], &back[..]);
    let voice = rtp(0, false, 101, 0xb0b, b"browser again");
    browser
        .socket
        .send_to(&protect(&mut protect_ctx, &voice), restarted.address)
        .unwrap();
    assert_eq!(data_plane_support::recv(&phone).0, voice);
}

#[test]
fn a_check_with_the_wrong_password_is_refused_and_selects_nothing() {
    let relay = start_webrtc_relay(41600, Duration::from_secs(30), DataPlaneConfig::new());
    let mut browser = Browser::new();
    let (phone, _phone_rtcp) = endpoint_pair();
    let (answer, to_phone) = negotiate(&relay, &browser, port(&phone), 1);
    let mut forged = RelaySide::from_sdp(&answer);
    forged.key = tandem_media_bridge::IntegrityKey::short_term("not-the-relay-password-0123");
    let (browser_stream, phone_stream) = streams(&relay);
    let (_, request) = browser.binding_request(&forged, true);
    browser.socket.send_to(&request, forged.address).unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = browser.socket.recv_from(&mut buf).unwrap();
    let message = tandem_media_bridge::Message::parse(&buf[..n]).unwrap();
    assert_eq!(
        message.error_code().map(|e| e.code),
        Some(401),
        "unauthenticated"
    );
    assert_eq!(stats(&relay, browser_stream).traffic.latched, None);
    phone
        .send_to(&rtp(0, false, 1, 1, b"nowhere"), relay_at(to_phone))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats(&relay, phone_stream).dropped(DropReason::NoDestination) == 0 {
        assert!(Instant::now() < deadline, "no drop counted");
        std::thread::sleep(Duration::from_millis(20));
    }
}
