//! SDP rewriting between plain RTP endpoints and the options that steer it: address-only rewriting, the
//! rtcp-mux modes, codec strip and mask, payload type remapping, holds and re-offers.

mod relay_support;

use relay_support::*;
use tandem_media_bridge::session::{
    AnswerRequest, IceMode, MediaOptions, OfferRequest, Relay, RtcpMuxMode, SessionError,
    TransportProtocol,
};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdp::{Attribute, Direction};

const CALL: &str = "plain-call";
const A: &str = "alice-tag";
const B: &str = "bob-tag";

const ALICE_OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=call\r\n\
c=IN IP4 192.0.2.10\r\n\
b=AS:80\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=X-vendor:kept\r\n\
a=sendrecv\r\n";

fn bob_answer(formats: &str, extra: &str) -> SessionDescription {
    parse(&format!(
        "v=0\r\no=bob 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP {formats}\r\n{extra}a=sendrecv\r\n"
    ))
}

fn offer(relay: &mut Relay, sdp: &str, options: MediaOptions) -> SessionDescription {
    let request = OfferRequest::new(CALL, A, parse(sdp)).with_options(options);
    reparse(&relay.offer(request, now()).unwrap())
}

fn answer(relay: &mut Relay, sdp: SessionDescription, options: MediaOptions) -> SessionDescription {
    let request = AnswerRequest::new(CALL, A, B, sdp).with_options(options);
    reparse(&relay.answer(request, now()).unwrap())
}

fn rtcp_mux(mode: RtcpMuxMode) -> MediaOptions {
    let mut o = MediaOptions::default();
    o.rtcp_mux = mode;
    o
}

/// The offer with rtcp-mux added to its media section.
fn muxing_offer() -> String {
    ALICE_OFFER.replace("a=sendrecv\r\n", "a=rtcp-mux\r\na=sendrecv\r\n")
}

#[test]
fn rtp_avp_to_rtp_avp_rewrites_only_addresses_and_ports() {
    let mut relay = relay();
    let out = offer(&mut relay, ALICE_OFFER, MediaOptions::default());
    let original = parse(ALICE_OFFER);
    let ports = relay.query(CALL).unwrap().legs[1].media[0]
        .local_ports
        .unwrap();

    assert_eq!(
        out.origin, original.origin,
        "o= stays without replace-origin"
    );
    assert_eq!(out.session_name, original.session_name);
    assert_eq!(out.bandwidths, original.bandwidths);
    assert_eq!(
        out.connection.as_ref().unwrap().address.to_string(),
        RELAY_IP
    );
    let (m, o) = (&out.media[0], &original.media[0]);
    assert_eq!(m.port, ports.rtp());
    assert_eq!(m.protocol, o.protocol);
    assert_eq!(m.formats, o.formats);
    assert_eq!(connection(&out, 0), RELAY_IP);
    // Every attribute survives in order; the only addition is the relay's RTCP port.
    let mut expected = o.attributes.clone();
    expected.push(Attribute::parse(&format!("rtcp:{}", ports.rtcp())).unwrap());
    assert_eq!(m.attributes, expected);

    let back = answer(
        &mut relay,
        bob_answer("0 101", "a=rtpmap:101 telephone-event/8000\r\n"),
        MediaOptions::default(),
    );
    let alice_ports = relay.query(CALL).unwrap().legs[0].media[0]
        .local_ports
        .unwrap();
    assert_eq!(back.media[0].port, alice_ports.rtp());
    assert_eq!(&*back.media[0].protocol, "RTP/AVP");
    assert_eq!(back.origin.username.to_string(), "bob");
    assert_eq!(
        values(&back.media[0].attributes, "rtcp"),
        [alice_ports.rtcp().to_string()]
    );
}

#[test]
fn rtcp_mux_offer_adds_mux_with_a_fallback_port_and_follows_the_answer() {
    for (answered_mux, expected) in [(true, true), (false, false)] {
        let mut relay = relay();
        let out = offer(&mut relay, ALICE_OFFER, rtcp_mux(RtcpMuxMode::Offer));
        let m = &out.media[0];
        assert!(has(m, "rtcp-mux"));
        assert_eq!(values(&m.attributes, "rtcp"), [(m.port + 1).to_string()]);
        let extra = if answered_mux { "a=rtcp-mux\r\n" } else { "" };
        let back = answer(&mut relay, bob_answer("0", extra), MediaOptions::default());
        assert!(!has(&back.media[0], "rtcp-mux"), "alice never offered it");
        assert_eq!(leg_media(&relay, CALL, Some(B), 0).rtcp_mux, expected);
        assert!(!leg_media(&relay, CALL, Some(A), 0).rtcp_mux);
    }
}

#[test]
fn rtcp_mux_demux_accepts_mux_from_the_offerer_without_offering_it_on() {
    let mut relay = relay();
    let out = offer(&mut relay, &muxing_offer(), rtcp_mux(RtcpMuxMode::Demux));
    assert!(!has(&out.media[0], "rtcp-mux"));
    assert_eq!(values(&out.media[0].attributes, "rtcp").len(), 1);
    let back = answer(&mut relay, bob_answer("0", ""), MediaOptions::default());
    assert!(has(&back.media[0], "rtcp-mux"));
    assert!(!has(&back.media[0], "rtcp"));
    assert!(leg_media(&relay, CALL, Some(A), 0).rtcp_mux);
    assert!(!leg_media(&relay, CALL, Some(B), 0).rtcp_mux);
}

#[test]
fn rtcp_mux_accept_passes_mux_on_only_when_offered() {
    let mut relay = relay();
    let out = offer(&mut relay, &muxing_offer(), rtcp_mux(RtcpMuxMode::Accept));
    assert!(has(&out.media[0], "rtcp-mux"));
    assert!(has(&out.media[0], "rtcp"), "the fallback port stays");

    let mut relay = self::relay();
    let out = offer(&mut relay, ALICE_OFFER, rtcp_mux(RtcpMuxMode::Accept));
    assert!(!has(&out.media[0], "rtcp-mux"));
}

#[test]
fn rtcp_mux_require_offers_no_rtcp_port_and_muxes_at_once() {
    let mut relay = relay();
    let out = offer(&mut relay, ALICE_OFFER, rtcp_mux(RtcpMuxMode::Require));
    assert!(has(&out.media[0], "rtcp-mux"));
    assert!(!has(&out.media[0], "rtcp"));
    let bob_side = relay.query(CALL).unwrap().legs[1].media[0].id;
    assert!(relay.media(bob_side).unwrap().rtcp_mux);
}

#[test]
fn rtcp_mux_reject_refuses_the_offerers_mux() {
    let mut relay = relay();
    let out = offer(&mut relay, &muxing_offer(), rtcp_mux(RtcpMuxMode::Reject));
    assert!(!has(&out.media[0], "rtcp-mux"));
    let back = answer(
        &mut relay,
        bob_answer("0", ""),
        rtcp_mux(RtcpMuxMode::Reject),
    );
    assert!(!has(&back.media[0], "rtcp-mux"));
    assert!(has(&back.media[0], "rtcp"));
    assert!(!leg_media(&relay, CALL, Some(A), 0).rtcp_mux);
}

#[test]
fn codec_strip_removes_codecs_from_the_sdp_and_from_the_offerers_leg() {
    let mut relay = relay();
    let mut options = MediaOptions::default();
    options.codec_strip = vec!["PCMA".into(), "g722/8000".into()];
    let out = offer(&mut relay, ALICE_OFFER, options);
    let m = &out.media[0];
    assert_eq!(formats(m), ["0", "101"]);
    assert_eq!(
        values(&m.attributes, "rtpmap"),
        ["0 PCMU/8000", "101 telephone-event/8000"]
    );
    let alice = leg_media(&relay, CALL, Some(A), 0);
    let names: Vec<_> = alice
        .codecs
        .iter()
        .map(|c| c.encoding_name.to_string())
        .collect();
    assert_eq!(names, ["PCMU", "telephone-event"]);
}

#[test]
fn codec_mask_hides_codecs_from_the_answerer_but_keeps_them_on_the_offerers_leg() {
    let mut relay = relay();
    let mut options = MediaOptions::default();
    options.codec_mask = vec!["PCMA".into()];
    let out = offer(&mut relay, ALICE_OFFER, options);
    assert_eq!(formats(&out.media[0]), ["0", "9", "101"]);
    let alice = leg_media(&relay, CALL, Some(A), 0);
    assert!(alice.codecs.iter().any(|c| &*c.encoding_name == "PCMA"));
}

#[test]
fn stripping_every_codec_is_refused_without_taking_ports() {
    let mut relay = relay();
    let mut options = MediaOptions::default();
    options.codec_strip = vec!["all".into()];
    let err = relay
        .offer(
            OfferRequest::new(CALL, A, parse(ALICE_OFFER)).with_options(options),
            now(),
        )
        .unwrap_err();
    assert_eq!(err, SessionError::NoCodecsLeft { index: 0 });
    assert_eq!(relay.port_pool().in_use(), 0);
    assert_eq!(relay.call_count(), 0);
}

#[test]
fn stripping_opus_from_a_browser_offer_drops_its_feedback_and_format_lines() {
    let mut relay = relay();
    let mut options = MediaOptions::default();
    options.codec_strip = vec!["opus".into()];
    let request =
        OfferRequest::new(CALL, A, sample("chromium-offer-audio.sdp")).with_options(options);
    let out = reparse(&relay.offer(request, now()).unwrap());
    let m = &out.media[0];
    assert_eq!(formats(m), ["63", "9", "0", "8", "13", "110", "126"]);
    assert!(values(&m.attributes, "rtcp-fb").is_empty());
    assert!(
        !values(&m.attributes, "fmtp")
            .iter()
            .any(|f| f.starts_with("111 "))
    );
    // Browser to browser: the WebRTC attributes stay.
    assert!(has(m, "ssrc") && has(m, "ice-ufrag") && has(m, "fingerprint"));
}

#[test]
fn payload_types_numbered_differently_are_remapped_in_sdp_and_packets() {
    let mut relay = relay();
    offer(&mut relay, ALICE_OFFER, MediaOptions::default());
    // Bob numbers G722 as 9 like Alice but telephone-event as 96.
    let back = answer(
        &mut relay,
        bob_answer(
            "9 96",
            "a=rtpmap:9 G722/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n",
        ),
        MediaOptions::default(),
    );
    let m = &back.media[0];
    assert_eq!(formats(m), ["9", "101"]);
    assert_eq!(values(&m.attributes, "fmtp"), ["101 0-15"]);
    let alice = leg_media(&relay, CALL, Some(A), 0);
    let bob = leg_media(&relay, CALL, Some(B), 0);
    assert_eq!(alice.payload_map.translate(101), Some(96));
    assert_eq!(alice.payload_map.translate(9), Some(9));
    assert_eq!(
        alice.payload_map.translate(0),
        None,
        "PCMU was not answered"
    );
    assert_eq!(bob.payload_map.translate(101), Some(101));
    assert_eq!(bob.payload_map.translate(96), Some(101));
    assert!(!alice.payload_map.is_identity());
}

#[test]
fn feedback_lines_follow_a_remapped_codec() {
    let mut relay = relay();
    let request = OfferRequest::new(CALL, A, sample("chromium-offer-audio.sdp"));
    relay.offer(request, now()).unwrap();
    // A WebRTC answerer that numbers Opus 109.
    let mut answer_sdp = sample("chromium-answer-audio-video.sdp");
    answer_sdp.media.truncate(1);
    answer_sdp.attributes.retain(|a| a.name() != "group");
    let text = answer_sdp
        .to_string()
        .replace(" 111 63 ", " 109 63 ")
        .replace("rtpmap:111 ", "rtpmap:109 ")
        .replace("rtcp-fb:111 ", "rtcp-fb:109 ")
        .replace("fmtp:111 ", "fmtp:109 ");
    let back = reparse(
        &relay
            .answer(AnswerRequest::new(CALL, A, B, parse(&text)), now())
            .unwrap(),
    );
    let m = &back.media[0];
    assert_eq!(formats(m)[0], "111");
    assert_eq!(values(&m.attributes, "rtcp-fb"), ["111 transport-cc"]);
    assert!(values(&m.attributes, "fmtp").contains(&"111 minptime=10;useinbandfec=1".to_owned()));
}

#[test]
fn reoffer_putting_the_call_on_hold_keeps_direction_and_ports() {
    let mut relay = relay();
    offer(&mut relay, ALICE_OFFER, MediaOptions::default());
    answer(&mut relay, bob_answer("0", ""), MediaOptions::default());
    let first = relay.query(CALL).unwrap();
    let in_use = relay.port_pool().in_use();
    drain(&mut relay);

    let hold = ALICE_OFFER
        .replace("2890844526 2890844526", "2890844526 2890844527")
        .replace("a=sendrecv", "a=sendonly");
    let out = offer(&mut relay, &hold, MediaOptions::default());
    assert_eq!(out.media[0].direction(), Some(Direction::SendOnly));
    assert_eq!(out.origin.session_version, 2890844527);
    assert_eq!(
        out.media[0].port,
        first.legs[1].media[0].local_ports.unwrap().rtp()
    );
    assert_eq!(
        relay.port_pool().in_use(),
        in_use,
        "no new ports for a re-offer"
    );
    let back = answer(
        &mut relay,
        parse(
            &bob_answer("0", "")
                .to_string()
                .replace("sendrecv", "recvonly"),
        ),
        MediaOptions::default(),
    );
    assert_eq!(back.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(
        back.media[0].port,
        first.legs[0].media[0].local_ports.unwrap().rtp()
    );
    assert_eq!(
        leg_media(&relay, CALL, Some(A), 0).direction,
        Direction::SendOnly
    );
}

#[test]
fn the_callee_can_reoffer_in_the_other_direction() {
    let mut relay = relay();
    offer(&mut relay, ALICE_OFFER, MediaOptions::default());
    answer(&mut relay, bob_answer("0", ""), MediaOptions::default());
    let alice_ports = relay.query(CALL).unwrap().legs[0].media[0]
        .local_ports
        .unwrap();

    let reinvite = bob_answer("0 8", "a=rtpmap:8 PCMA/8000\r\n");
    let out = relay
        .offer(OfferRequest::new(CALL, B, reinvite).with_to_tag(A), now())
        .unwrap();
    let out = reparse(&out);
    assert_eq!(
        out.media[0].port,
        alice_ports.rtp(),
        "sent to Alice, on Alice's ports"
    );
    let back = relay
        .answer(AnswerRequest::new(CALL, B, A, parse(ALICE_OFFER)), now())
        .unwrap();
    assert_eq!(formats(&reparse(&back).media[0]), ["0", "8"]);
}

#[test]
fn legacy_hold_address_is_forwarded_as_hold() {
    let mut relay = relay();
    let out = offer(
        &mut relay,
        &sample("sip-legacy-hold-offer.sdp").to_string(),
        MediaOptions::default(),
    );
    assert_eq!(connection(&out, 0), "0.0.0.0");
    assert_eq!(
        out.connection.as_ref().unwrap().address.to_string(),
        "0.0.0.0"
    );
    let caller = relay.query(CALL).unwrap().legs[0].media[0].clone();
    assert_eq!(caller.advertised_rtp, None);
}

#[test]
fn transport_protocol_option_turns_plain_rtp_into_avpf_with_feedback_kept() {
    let mut relay = relay();
    let mut options = MediaOptions::default();
    options.transport_protocol = Some(TransportProtocol::RtpAvpf);
    options.ice = IceMode::Remove;
    let request =
        OfferRequest::new(CALL, A, sample("chromium-offer-audio.sdp")).with_options(options);
    let out = relay.offer(request, now());
    // The browser keys by DTLS; an RTP/AVPF target is plain: the relay decrypts.
    let out = reparse(&out.unwrap());
    assert_eq!(&*out.media[0].protocol, "RTP/AVPF");
    assert_eq!(
        values(&out.media[0].attributes, "rtcp-fb"),
        ["111 transport-cc"]
    );
    assert!(
        !has(&out.media[0], "ssrc"),
        "plain SIP equipment gets no WebRTC bookkeeping"
    );
}
