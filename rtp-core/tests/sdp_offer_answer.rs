//! RFC 3264 offer/answer behaviour and the edits a relay applies to descriptions.

mod sdp_data;

use std::net::IpAddr;

use sdp_data::sample;
use tandem_rtp_core::sdp::{
    AnswerOptions, Attribute, Codec, Connection, Direction, LocalMedia, Origin, SessionDescription,
    create_answer,
};

const RELAY: &str = "198.51.100.7";

fn relay_ip() -> IpAddr {
    RELAY.parse().unwrap()
}

fn options(media: Vec<LocalMedia>) -> AnswerOptions {
    AnswerOptions {
        origin: Origin::new(4242, 1, relay_ip()),
        session_name: "tandem".into(),
        connection: Connection::from_ip(relay_ip()),
        media,
    }
}

fn g711_audio(port: u16) -> LocalMedia {
    LocalMedia::audio(
        port,
        vec![Codec::pcma(), Codec::pcmu(), Codec::telephone_event()],
    )
}

fn plain_offer(direction: &str) -> SessionDescription {
    format!(
        "v=0\r\no=alice 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n{direction}"
    )
    .parse()
    .unwrap()
}

fn answer_direction(answer: &SessionDescription) -> Option<Direction> {
    answer.media[0].direction()
}

#[test]
fn answer_keeps_offerer_payload_types_and_order_for_common_codecs() {
    let offer: SessionDescription = sample!("chromium-offer-audio.sdp").parse().unwrap();
    let local = LocalMedia::audio(
        30000,
        vec![
            Codec::pcmu(),
            Codec::new(96, "OPUS", 48000).with_channels(2),
            Codec::new(101, "telephone-event", 8000),
        ],
    );
    let answer = create_answer(&offer, &options(vec![local]));
    let audio = &answer.media[0];
    assert_eq!(audio.port, 30000);
    assert_eq!(audio.protocol, "UDP/TLS/RTP/SAVPF");
    // Offer order is 111 63 9 0 8 13 110 126: opus, PCMU and telephone-event/8000 (126) are common.
    assert_eq!(audio.formats, ["111", "0", "126"]);
    assert_eq!(audio.rtpmap(126).unwrap().encoding_name, "telephone-event");
    assert_eq!(audio.fmtp("111").unwrap().param("useinbandfec"), Some("1"));
    assert_eq!(answer.connection.as_ref().unwrap().address, RELAY);
}

#[test]
fn answer_writes_local_fmtp_instead_of_the_offered_one() {
    let offer = plain_offer("");
    let local = LocalMedia::audio(30000, vec![Codec::pcmu(), Codec::telephone_event()]);
    let answer = create_answer(&offer, &options(vec![local]));
    assert_eq!(answer.media[0].fmtp("101").unwrap().parameters, "0-15");
}

#[test]
fn answer_to_sendonly_offer_is_recvonly() {
    let answer = create_answer(
        &plain_offer("a=sendonly\r\n"),
        &options(vec![g711_audio(30000)]),
    );
    assert_eq!(answer_direction(&answer), Some(Direction::RecvOnly));
}

#[test]
fn answer_to_recvonly_offer_is_sendonly() {
    let answer = create_answer(
        &plain_offer("a=recvonly\r\n"),
        &options(vec![g711_audio(30000)]),
    );
    assert_eq!(answer_direction(&answer), Some(Direction::SendOnly));
}

#[test]
fn answer_to_inactive_offer_is_inactive() {
    let answer = create_answer(
        &plain_offer("a=inactive\r\n"),
        &options(vec![g711_audio(30000)]),
    );
    assert_eq!(answer_direction(&answer), Some(Direction::Inactive));
}

#[test]
fn answer_direction_is_limited_by_local_willingness() {
    let mut local = g711_audio(30000);
    local.direction = Direction::RecvOnly;
    let answer = create_answer(&plain_offer("a=sendrecv\r\n"), &options(vec![local]));
    assert_eq!(answer_direction(&answer), Some(Direction::RecvOnly));
}

#[test]
fn session_level_direction_applies_to_sections_without_their_own() {
    let offer: SessionDescription = plain_offer("")
        .to_string()
        .replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n")
        .parse()
        .unwrap();
    assert_eq!(offer.direction_of(&offer.media[0]), Direction::SendOnly);
    let answer = create_answer(&offer, &options(vec![g711_audio(30000)]));
    assert_eq!(answer_direction(&answer), Some(Direction::RecvOnly));
}

#[test]
fn legacy_zero_address_hold_is_answered_recvonly() {
    let offer: SessionDescription = sample!("sip-legacy-hold-offer.sdp").parse().unwrap();
    let answer = create_answer(&offer, &options(vec![g711_audio(30000)]));
    assert_eq!(answer_direction(&answer), Some(Direction::RecvOnly));
}

#[test]
fn stream_without_common_codec_is_rejected_with_port_zero_keeping_the_m_line() {
    let offer = plain_offer("");
    let local = LocalMedia::audio(30000, vec![Codec::new(9, "G722", 8000)]);
    let answer = create_answer(&offer, &options(vec![local]));
    let audio = &answer.media[0];
    assert!(audio.is_rejected());
    assert_eq!(
        (audio.media.as_ref(), audio.protocol.as_ref()),
        ("audio", "RTP/AVP")
    );
    assert_eq!(audio.formats, offer.media[0].formats);
    assert!(answer.to_string().contains("m=audio 0 RTP/AVP 0 8 101\r\n"));
}

#[test]
fn stream_with_only_telephone_event_in_common_is_rejected() {
    let local = LocalMedia::audio(
        30000,
        vec![Codec::new(9, "G722", 8000), Codec::telephone_event()],
    );
    let answer = create_answer(&plain_offer(""), &options(vec![local]));
    assert!(answer.media[0].is_rejected());
}

#[test]
fn stream_offered_with_port_zero_stays_rejected() {
    let offer: SessionDescription = plain_offer("")
        .to_string()
        .replace("m=audio 4000", "m=audio 0")
        .parse()
        .unwrap();
    let answer = create_answer(&offer, &options(vec![g711_audio(30000)]));
    assert!(answer.media[0].is_rejected());
}

#[test]
fn each_local_media_answers_one_offered_stream_and_extra_streams_are_rejected() {
    let offer: SessionDescription = sample!("rfc8866-example.sdp").parse().unwrap();
    let answer = create_answer(&offer, &options(vec![g711_audio(30000)]));
    assert_eq!(answer.media.len(), 3);
    assert_eq!(answer.media[0].port, 30000);
    assert!(answer.media[1].is_rejected());
    assert!(answer.media[2].is_rejected());
    assert_eq!(answer.media[2].media, "video");
}

#[test]
fn protocol_restriction_rejects_other_profiles() {
    let offer: SessionDescription = sample!("sip-sdes-srtp-offer.sdp").parse().unwrap();
    let mut local = g711_audio(30000);
    local.protocol = Some("RTP/AVP".into());
    assert!(create_answer(&offer, &options(vec![local.clone()])).media[0].is_rejected());
    local.protocol = Some("RTP/SAVP".into());
    assert!(!create_answer(&offer, &options(vec![local])).media[0].is_rejected());
}

#[test]
fn rtx_is_kept_only_with_the_payload_type_it_repairs() {
    let offer: SessionDescription = sample!("chromium-offer-audio-video.sdp").parse().unwrap();
    let video = LocalMedia {
        media: "video".into(),
        codecs: vec![Codec::new(0, "VP8", 90000), Codec::new(0, "rtx", 90000)],
        ..LocalMedia::audio(30002, Vec::new())
    };
    let answer = create_answer(&offer, &options(vec![g711_audio(30000), video]));
    // VP8 is 96 and its rtx 97 (apt=96); the other rtx formats repair codecs not accepted.
    assert_eq!(answer.media[1].formats, ["96", "97"]);
}

#[test]
fn answer_echoes_mid_and_accepts_offered_rtcp_mux() {
    let offer: SessionDescription = sample!("chromium-offer-audio.sdp").parse().unwrap();
    let mut local = LocalMedia::audio(30000, vec![Codec::opus()]);
    local.attributes.push(Attribute::parse("ice-lite").unwrap());
    let answer = create_answer(&offer, &options(vec![local.clone()]));
    let audio = &answer.media[0];
    assert_eq!(audio.mid(), Some("0"));
    assert!(audio.attributes.contains(&Attribute::RtcpMux));
    assert_eq!(audio.attributes.last(), Some(&Attribute::IceLite));

    local.rtcp_mux = false;
    let answer = create_answer(&offer, &options(vec![local]));
    assert!(!answer.media[0].attributes.contains(&Attribute::RtcpMux));
}

#[test]
fn non_rtp_section_is_accepted_with_offered_formats() {
    let offer: SessionDescription = sample!("chromium-offer-datachannel-audio.sdp")
        .parse()
        .unwrap();
    let app = LocalMedia {
        media: "application".into(),
        ..LocalMedia::audio(30004, Vec::new())
    };
    let answer = create_answer(&offer, &options(vec![app]));
    assert!(answer.media[0].is_rejected());
    assert_eq!(answer.media[1].port, 30004);
    assert_eq!(answer.media[1].formats, ["webrtc-datachannel"]);
}

#[test]
fn answer_parses_back_to_itself() {
    let offer: SessionDescription = sample!("firefox-offer-audio-video.sdp").parse().unwrap();
    let answer = create_answer(
        &offer,
        &options(vec![LocalMedia::audio(
            30000,
            vec![Codec::opus(), Codec::pcmu()],
        )]),
    );
    let reparsed: SessionDescription = answer.to_string().parse().unwrap();
    assert_eq!(reparsed, answer);
    assert_eq!(answer.media[0].formats, ["109", "0"]);
}

#[test]
fn hold_turns_sendrecv_into_sendonly_and_resume_restores_it() {
    let mut sdp = plain_offer("a=sendrecv\r\n");
    sdp.hold();
    assert_eq!(sdp.media[0].direction(), Some(Direction::SendOnly));
    assert!(sdp.is_on_hold(&sdp.media[0]));
    assert_eq!(sdp.media[0].attributes_named("sendonly").count(), 1);
    assert_eq!(
        sdp.media[0]
            .attributes
            .iter()
            .filter(|a| matches!(a, Attribute::Direction(_)))
            .count(),
        1
    );
    sdp.resume();
    assert_eq!(sdp.media[0].direction(), Some(Direction::SendRecv));
    assert!(!sdp.is_on_hold(&sdp.media[0]));
}

#[test]
fn hold_of_recvonly_stream_is_inactive_and_resume_gives_recvonly() {
    let mut sdp = plain_offer("a=recvonly\r\n");
    sdp.hold();
    assert_eq!(sdp.media[0].direction(), Some(Direction::Inactive));
    sdp.resume();
    assert_eq!(sdp.media[0].direction(), Some(Direction::RecvOnly));
}

#[test]
fn hold_adds_a_direction_where_none_was_written() {
    let mut sdp = plain_offer("");
    sdp.hold();
    assert_eq!(
        sdp.media[0].attributes.last(),
        Some(&Attribute::Direction(Direction::SendOnly))
    );
}

#[test]
fn hold_leaves_rejected_streams_alone() {
    let mut sdp: SessionDescription = plain_offer("")
        .to_string()
        .replace("m=audio 4000", "m=audio 0")
        .parse()
        .unwrap();
    sdp.hold();
    assert_eq!(sdp.media[0].direction(), None);
}

#[test]
fn relay_rewrites_addresses_ports_and_rtcp_and_bumps_the_version() {
    let mut sdp: SessionDescription = sample!("chromium-offer-audio-video.sdp").parse().unwrap();
    let relay = relay_ip();
    sdp.set_connection_address(relay);
    for (i, m) in sdp.media.iter_mut().enumerate() {
        let port = 30000 + 2 * i as u16;
        m.set_port(port);
        m.set_rtcp(port + 1, None);
    }
    sdp.retain_attributes(|a| !a.is_ice());
    sdp.bump_version();

    let text = sdp.to_string();
    assert!(text.contains("m=audio 30000 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 198.51.100.7\r\na=rtcp:30001\r\n"));
    assert!(text.contains("m=video 30002 "));
    assert!(!text.contains("a=candidate") && !text.contains("a=ice-"));
    assert!(text.contains("a=fingerprint:sha-256 78:EB:37"));
    let reparsed: SessionDescription = text.parse().unwrap();
    assert_eq!(reparsed.origin.session_version, 3);
    assert_eq!(reparsed.connection.unwrap().address, RELAY);
}

#[test]
fn removing_and_adding_attributes_keeps_the_others_in_order() {
    let mut sdp: SessionDescription = sample!("sip-ice-lite-offer.sdp").parse().unwrap();
    let audio = &mut sdp.media[0];
    assert_eq!(audio.remove_attributes("candidate"), 2);
    assert_eq!(audio.remove_attributes("candidate"), 0);
    audio.attributes.push(Attribute::parse("rtcp-mux").unwrap());
    let names: Vec<_> = audio.attributes.iter().map(Attribute::name).collect();
    assert_eq!(
        names,
        [
            "rtpmap",
            "rtpmap",
            "rtpmap",
            "rtpmap",
            "fmtp",
            "ptime",
            "maxptime",
            "rtcp",
            "ice-ufrag",
            "ice-pwd",
            "end-of-candidates",
            "sendrecv",
            "rtcp-mux"
        ]
    );
}

#[test]
fn media_by_mid_finds_bundled_sections() {
    let sdp: SessionDescription = sample!("firefox-offer-audio-video.sdp").parse().unwrap();
    assert_eq!(
        sdp.media_by_mid("1").map(|m| m.media.as_ref()),
        Some("video")
    );
    assert!(sdp.media_by_mid("7").is_none());
}
