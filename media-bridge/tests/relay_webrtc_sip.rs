//! A browser (real Chromium and Firefox SDP from rtp-core's samples) talking to plain RTP/AVP SIP equipment
//! through the relay, both call directions. Every rewritten SDP is parsed again before it is inspected.

mod relay_support;

use relay_support::*;
use tandem_media_bridge::dtls::{CertificateFingerprint, DtlsRole};
use tandem_media_bridge::session::{
    AnswerRequest, DtlsMode, IceMode, MediaOptions, OfferRequest, Relay, RtcpMuxMode, SrtpSetup,
    TransportProtocol,
};
use tandem_rtp_core::sdp::{Attribute, Direction, Setup};

const CALL: &str = "a84b4c76e66710@pc33.example.com";
const BROWSER_TAG: &str = "browser-tag";
const PHONE_TAG: &str = "phone-tag";

/// What Kamailio sends with a WebRTC caller's INVITE towards a SIP phone.
fn towards_sip() -> MediaOptions {
    let mut o = MediaOptions::default();
    o.transport_protocol = Some(TransportProtocol::RtpAvp);
    o.ice = IceMode::Remove;
    o.rtcp_mux = RtcpMuxMode::Demux;
    o.replace_origin = true;
    o.replace_session_connection = true;
    o
}

/// What Kamailio sends with a SIP caller's INVITE towards a browser.
fn towards_webrtc() -> MediaOptions {
    let mut o = MediaOptions::default();
    o.transport_protocol = Some(TransportProtocol::UdpTlsRtpSavpf);
    o.ice = IceMode::Force;
    o.rtcp_mux = RtcpMuxMode::Require;
    o.replace_origin = true;
    o.replace_session_connection = true;
    o
}

const PHONE_ANSWER: &str = "v=0\r\n\
o=phone 1 1 IN IP4 198.51.100.20\r\n\
s=-\r\n\
c=IN IP4 198.51.100.20\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

const PHONE_OFFER: &str = "v=0\r\n\
o=phone 7 7 IN IP4 198.51.100.20\r\n\
s=-\r\n\
c=IN IP4 198.51.100.20\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n";

fn browser_offer(relay: &mut Relay) -> tandem_rtp_core::SessionDescription {
    let offer = OfferRequest::new(CALL, BROWSER_TAG, sample("chromium-offer-audio.sdp"))
        .with_options(towards_sip());
    reparse(&relay.offer(offer, now()).unwrap())
}

fn phone_answer(relay: &mut Relay, options: MediaOptions) -> tandem_rtp_core::SessionDescription {
    let answer =
        AnswerRequest::new(CALL, BROWSER_TAG, PHONE_TAG, parse(PHONE_ANSWER)).with_options(options);
    reparse(&relay.answer(answer, now()).unwrap())
}

#[test]
fn chromium_offer_becomes_plain_rtp_avp_for_the_sip_side() {
    let mut relay = relay();
    let out = browser_offer(&mut relay);
    let callee_ports = relay.query(CALL).unwrap().legs[1].media[0]
        .local_ports
        .unwrap();

    assert_eq!(out.media.len(), 1);
    let m = &out.media[0];
    assert_eq!(&*m.protocol, "RTP/AVP");
    assert_eq!(m.port, callee_ports.rtp());
    assert_eq!(connection(&out, 0), RELAY_IP);
    assert_eq!(
        out.connection.as_ref().map(|c| c.address.to_string()),
        Some(RELAY_IP.into())
    );
    assert_eq!(&*out.origin.address, RELAY_IP);
    assert_eq!(&*out.origin.session_id, "5217050856881480555");
    // Codecs pass unchanged, telephone-event included.
    assert_eq!(formats(m), ["111", "63", "9", "0", "8", "13", "110", "126"]);
    assert_eq!(
        values(&m.attributes, "rtpmap").last().map(String::as_str),
        Some("126 telephone-event/8000")
    );
    // The browser's transport is gone; RTCP gets its own port (rtcp-mux-demux).
    for name in [
        "ice-ufrag",
        "ice-pwd",
        "ice-options",
        "candidate",
        "fingerprint",
        "setup",
        "rtcp-mux",
        "crypto",
    ] {
        assert!(!has(m, name), "a={name} left in the SIP offer");
    }
    assert_eq!(
        values(&m.attributes, "rtcp"),
        [callee_ports.rtcp().to_string()]
    );
    // WebRTC bookkeeping and feedback have no meaning for RTP/AVP equipment.
    for name in ["rtcp-fb", "rtcp-rsize", "ssrc", "msid", "extmap"] {
        assert!(!has(m, name), "a={name} left in the SIP offer");
    }
    for name in ["group", "msid-semantic", "extmap-allow-mixed", "ice-lite"] {
        assert!(
            values(&out.attributes, name).is_empty(),
            "session a={name} left"
        );
    }
    assert_eq!(m.mid(), Some("0"));
    assert_eq!(m.direction(), Some(Direction::SendRecv));
}

#[test]
fn sip_answer_becomes_a_webrtc_answer_with_ice_lite_fingerprint_and_rtcp_mux() {
    let mut relay = relay();
    browser_offer(&mut relay);
    let back = phone_answer(&mut relay, MediaOptions::default());
    let browser = leg_media(&relay, CALL, Some(BROWSER_TAG), 0);

    let m = &back.media[0];
    assert_eq!(&*m.protocol, "UDP/TLS/RTP/SAVPF");
    assert_eq!(m.port, browser.ports.rtp());
    assert_eq!(connection(&back, 0), RELAY_IP);
    assert!(back.attributes.contains(&Attribute::IceLite));
    assert_eq!(values(&back.attributes, "group"), ["BUNDLE 0"]);
    // ICE-lite: our credentials and one host candidate on the relay's address and port.
    let ice = browser.ice.as_ref().expect("browser leg uses ICE");
    assert_eq!(values(&m.attributes, "ice-ufrag"), [ice.local.ufrag()]);
    assert_eq!(values(&m.attributes, "ice-pwd"), [ice.local.pwd()]);
    assert_eq!(ice.remote.as_ref().map(|c| c.ufrag()), Some("HsDU"));
    let candidates: Vec<_> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Candidate(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(candidates.len(), 1);
    assert_eq!(&*candidates[0].address, RELAY_IP);
    assert_eq!(candidates[0].port, browser.ports.rtp());
    assert!(has(m, "end-of-candidates"));
    // DTLS: our fingerprint; the browser offered actpass, the relay answers passive by default.
    assert_eq!(
        m.attributes.iter().find_map(|a| match a {
            Attribute::Fingerprint(f) => Some(f.clone()),
            _ => None,
        }),
        Some(our_fingerprint().to_sdp())
    );
    assert!(m.attributes.contains(&Attribute::Setup(Setup::Passive)));
    assert!(has(m, "rtcp-mux"));
    assert!(!has(m, "rtcp"), "exclusive rtcp-mux needs no RTCP port");
    assert!(!has(m, "crypto"));
    assert_eq!(m.mid(), Some("0"));
    // The phone's telephone-event 101 goes back under the browser's own number 126 (RFC 3264 §6.1).
    assert_eq!(formats(m), ["0", "126"]);
    assert_eq!(
        values(&m.attributes, "rtpmap"),
        ["0 PCMU/8000", "126 telephone-event/8000"]
    );
    assert_eq!(values(&m.attributes, "fmtp"), ["126 0-15"]);
}

#[test]
fn legs_describe_what_the_packet_path_must_do_after_the_answer() {
    let mut relay = relay();
    browser_offer(&mut relay);
    phone_answer(&mut relay, MediaOptions::default());
    let browser = leg_media(&relay, CALL, Some(BROWSER_TAG), 0);
    let phone = leg_media(&relay, CALL, Some(PHONE_TAG), 0);

    assert_eq!(browser.peer, phone.id);
    assert_eq!(phone.peer, browser.id);
    assert_eq!(browser.protocol, TransportProtocol::UdpTlsRtpSavpf);
    assert!(browser.rtcp_mux);
    assert_eq!(browser.local_ports(), (browser.ports.rtp(), None));
    assert_eq!(browser.remote_rtp, Some("192.0.2.2:39487".parse().unwrap()));
    let chromium = CertificateFingerprint::from_sdp(
        &tandem_rtp_core::sdp::Attribute::parse(
            "fingerprint:sha-256 D5:29:28:87:05:8C:9A:56:37:3B:BE:8E:BE:93:AC:50:8D:BD:A9:97:5B:38:34:60:F5:C3:30:B6:58:8C:0F:34",
        )
        .map(|a| match a {
            Attribute::Fingerprint(f) => f,
            _ => unreachable!(),
        })
        .unwrap(),
    )
    .unwrap();
    match &browser.srtp {
        SrtpSetup::Dtls(d) => {
            assert_eq!(d.role, Some(DtlsRole::Server));
            assert_eq!(d.remote_fingerprint.as_ref(), Some(&chromium));
        }
        other => panic!("browser leg keyed {other:?}"),
    }
    // Packets from the browser: telephone-event 126 leaves as the phone's 101; PCMU stays 0; Opus was not
    // negotiated.
    assert_eq!(browser.payload_map.translate(126), Some(101));
    assert_eq!(browser.payload_map.translate(0), Some(0));
    assert_eq!(browser.payload_map.translate(111), None);
    assert_eq!(browser.telephone_event(), Some(126));

    assert_eq!(phone.protocol, TransportProtocol::RtpAvp);
    assert_eq!(phone.srtp, SrtpSetup::Plain);
    assert!(phone.ice.is_none());
    assert!(!phone.rtcp_mux);
    assert_eq!(
        phone.local_ports(),
        (phone.ports.rtp(), Some(phone.ports.rtcp()))
    );
    assert_eq!(
        phone.remote_rtp,
        Some("198.51.100.20:40000".parse().unwrap())
    );
    assert_eq!(
        phone.remote_rtcp,
        Some("198.51.100.20:40001".parse().unwrap())
    );
    // The phone sends with the offer's numbers (126); one that sends its own 101 is translated too.
    assert_eq!(phone.payload_map.translate(126), Some(126));
    assert_eq!(phone.payload_map.translate(101), Some(126));
    assert_eq!(phone.telephone_event(), Some(101));
}

#[test]
fn dtls_active_option_makes_the_relay_the_dtls_client_towards_the_browser() {
    let mut relay = relay();
    browser_offer(&mut relay);
    let mut options = MediaOptions::default();
    options.dtls = DtlsMode::Active;
    let back = phone_answer(&mut relay, options);
    assert!(
        back.media[0]
            .attributes
            .contains(&Attribute::Setup(Setup::Active))
    );
    let browser = leg_media(&relay, CALL, Some(BROWSER_TAG), 0);
    assert!(matches!(&browser.srtp, SrtpSetup::Dtls(d) if d.role == Some(DtlsRole::Client)));
}

#[test]
fn sip_offer_becomes_a_webrtc_offer_and_the_browser_answer_settles_the_dtls_role() {
    let mut relay = relay();
    let offer =
        OfferRequest::new(CALL, PHONE_TAG, parse(PHONE_OFFER)).with_options(towards_webrtc());
    let out = reparse(&relay.offer(offer, now()).unwrap());

    let m = &out.media[0];
    assert_eq!(&*m.protocol, "UDP/TLS/RTP/SAVPF");
    assert!(out.attributes.contains(&Attribute::IceLite));
    assert_eq!(values(&m.attributes, "ice-ufrag").len(), 1);
    assert_eq!(values(&m.attributes, "candidate").len(), 1);
    assert!(m.attributes.contains(&Attribute::Setup(Setup::ActPass)));
    assert!(has(m, "fingerprint"));
    assert!(has(m, "rtcp-mux"));
    assert!(!has(m, "rtcp"), "rtcp-mux-require offers no RTCP port");
    assert_eq!(m.mid(), Some("0"), "a mid is generated for the browser");
    assert_eq!(
        values(&out.attributes, "group"),
        ["BUNDLE 0"],
        "browsers with bundlePolicy max-bundle need a BUNDLE group"
    );
    assert_eq!(formats(m), ["0", "8", "101"]);
    let browser_before = relay.query(CALL).unwrap().legs[1].media[0].id;
    let browser_before = relay.media(browser_before).unwrap();
    assert!(browser_before.rtcp_mux);
    assert!(matches!(&browser_before.srtp, SrtpSetup::Dtls(d) if d.role.is_none()));

    // Chromium's answer (its audio section; it numbers telephone-event/8000 as 126).
    let mut answer = sample("chromium-answer-audio-video.sdp");
    answer.media.truncate(1);
    answer.attributes.retain(|a| a.name() != "group");
    let back = relay
        .answer(
            AnswerRequest::new(CALL, PHONE_TAG, BROWSER_TAG, answer),
            now(),
        )
        .unwrap();
    let back = reparse(&back);

    let m = &back.media[0];
    assert_eq!(&*m.protocol, "RTP/AVP");
    assert_eq!(formats(m), ["0", "8", "101"]);
    assert!(values(&m.attributes, "rtpmap").contains(&"101 telephone-event/8000".to_owned()));
    for name in [
        "ice-ufrag",
        "candidate",
        "fingerprint",
        "setup",
        "rtcp-mux",
        "ssrc",
        "msid",
        "extmap",
        "rtcp-fb",
    ] {
        assert!(!has(m, name), "a={name} in the answer to the phone");
    }
    let phone = leg_media(&relay, CALL, Some(PHONE_TAG), 0);
    assert_eq!(
        values(&m.attributes, "rtcp"),
        [phone.ports.rtcp().to_string()]
    );
    assert!(values(&back.attributes, "ice-lite").is_empty());

    let browser = leg_media(&relay, CALL, Some(BROWSER_TAG), 0);
    // Chromium answered a=setup:active, so the relay is the DTLS server.
    assert!(matches!(&browser.srtp, SrtpSetup::Dtls(d) if d.role == Some(DtlsRole::Server)));
    assert_eq!(
        browser
            .ice
            .as_ref()
            .and_then(|i| i.remote.as_ref())
            .map(|c| c.ufrag()),
        Some("fU19")
    );
    assert_eq!(browser.payload_map.translate(126), Some(101));
    assert_eq!(phone.payload_map.translate(101), Some(126));
}

#[test]
fn bundled_video_is_rejected_and_audio_relayed() {
    let mut relay = relay();
    let offer = OfferRequest::new(CALL, BROWSER_TAG, sample("chromium-offer-audio-video.sdp"))
        .with_options(towards_sip());
    let out = reparse(&relay.offer(offer, now()).unwrap());
    assert_eq!(out.media.len(), 2);
    assert_ne!(out.media[0].port, 0);
    assert_eq!(
        out.media[1].port, 0,
        "video shares the audio transport: not relayed"
    );
    assert_eq!(
        relay.port_pool().in_use(),
        2,
        "ports for the audio section only"
    );

    let answer = format!("{PHONE_ANSWER}m=video 0 RTP/AVP 96\r\n");
    let back = relay
        .answer(
            AnswerRequest::new(CALL, BROWSER_TAG, PHONE_TAG, parse(&answer)),
            now(),
        )
        .unwrap();
    let back = reparse(&back);
    assert_eq!(back.media[1].port, 0);
    assert_eq!(back.media[1].mid(), Some("1"));
    assert_eq!(values(&back.attributes, "group"), ["BUNDLE 0"]);
}

#[test]
fn firefox_offer_without_host_address_expects_media_from_ice() {
    let mut relay = relay();
    let offer = OfferRequest::new(CALL, BROWSER_TAG, sample("firefox-offer-audio.sdp"))
        .with_options(towards_sip());
    let out = reparse(&relay.offer(offer, now()).unwrap());
    // Firefox writes c=0.0.0.0 with port 9 until ICE finds a path: that is not an RFC 2543 hold.
    assert_eq!(connection(&out, 0), RELAY_IP);
    let firefox = relay.query(CALL).unwrap().legs[0].media[0].clone();
    assert_eq!(firefox.advertised_rtp, None);
    assert!(firefox.ice);
}
