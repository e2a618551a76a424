//! SDES-SRTP (RFC 4568) legs against DTLS-SRTP and plain legs: which `a=crypto` lines the relay accepts and
//! writes, and that the keys handed to the packet path are the ones in the SDP.

mod relay_support;

use relay_support::*;
use tandem_media_bridge::session::{
    AnswerRequest, IceMode, Interface, MediaOptions, OfferRequest, Relay, RtcpMuxMode,
    SessionError, SrtpSetup, TransportProtocol,
};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdes::{Crypto, CryptoSuite};
use tandem_rtp_core::sdp::{Attribute, Direction};
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};

const CALL: &str = "sdes-call";
const PHONE: &str = "phone-tag";
const BROWSER: &str = "browser-tag";

fn towards_webrtc() -> MediaOptions {
    let mut o = MediaOptions::default();
    o.transport_protocol = Some(TransportProtocol::UdpTlsRtpSavpf);
    o.ice = IceMode::Force;
    o.rtcp_mux = RtcpMuxMode::Require;
    o
}

fn towards_sdes_phone() -> MediaOptions {
    let mut o = MediaOptions::default();
    o.transport_protocol = Some(TransportProtocol::RtpSavp);
    o.ice = IceMode::Remove;
    o.rtcp_mux = RtcpMuxMode::Demux;
    o
}

/// Chromium's answer, audio section only, as if it answered the relay's offer.
fn browser_answer() -> SessionDescription {
    let mut answer = sample("chromium-answer-audio-video.sdp");
    answer.media.truncate(1);
    answer.attributes.retain(|a| a.name() != "group");
    answer
}

fn cryptos(sdp: &SessionDescription, index: usize) -> Vec<Crypto> {
    sdp.media[index]
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Crypto(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// An SRTP context keyed by an `a=crypto` line.
fn context_of(line: &Crypto) -> SrtpContext {
    let profile = SrtpProfile::from_sdes_name(line.suite.name()).unwrap();
    let (key, salt) = line.key_params[0].split(&line.suite).unwrap();
    SrtpContext::new(&SrtpPolicy::new(profile), key, salt).unwrap()
}

/// Protects one RTP packet with `sender` and checks `receiver` takes it back to the same bytes.
fn round_trip(sender: &mut SrtpContext, receiver: &mut SrtpContext) {
    let mut buf = [0u8; 256];
    buf[..12].copy_from_slice(&[0x80, 0, 0, 7, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe]);
    buf[12..172].fill(0x55);
    let protected = sender.protect_rtp(&mut buf, 172).unwrap();
    let clear = receiver.unprotect_rtp(&mut buf[..protected]).unwrap();
    assert_eq!(clear, 172);
    assert!(buf[12..172].iter().all(|b| *b == 0x55));
}

/// A relay with an IPv6 interface for the SIP side beside the default IPv4 one.
fn dual_stack_relay() -> Relay {
    Relay::new(config().with_interface(Interface::new("v6", "2001:db8::7".parse().unwrap())))
        .unwrap()
}

#[test]
fn sdes_offer_becomes_a_dtls_offer_and_the_answer_keys_the_first_usable_crypto_line() {
    let mut relay = dual_stack_relay();
    let mut options = towards_webrtc();
    options.interfaces = Some(("v6".into(), "default".into()));
    let offer = sample("sip-sdes-srtp-offer.sdp");
    let out = relay
        .offer(
            OfferRequest::new(CALL, PHONE, offer.clone()).with_options(options),
            now(),
        )
        .unwrap();
    let out = reparse(&out);
    let m = &out.media[0];
    assert_eq!(&*m.protocol, "UDP/TLS/RTP/SAVPF");
    assert_eq!(
        connection(&out, 0),
        RELAY_IP,
        "the browser side is on the IPv4 interface"
    );
    assert!(cryptos(&out, 0).is_empty());
    assert!(has(m, "fingerprint"));
    assert_eq!(
        m.direction(),
        Some(Direction::SendOnly),
        "direction passes through"
    );
    assert_eq!(values(&m.attributes, "ptime"), ["20"]);

    let mut answer = browser_answer();
    answer.media[0].set_direction(Direction::RecvOnly);
    let back = relay
        .answer(AnswerRequest::new(CALL, PHONE, BROWSER, answer), now())
        .unwrap();
    let back = reparse(&back);
    let m = &back.media[0];
    assert_eq!(&*m.protocol, "RTP/SAVP");
    assert_eq!(connection(&back, 0), "2001:db8::7");
    assert_eq!(m.direction(), Some(Direction::RecvOnly));
    for name in ["fingerprint", "setup", "ice-ufrag", "candidate", "rtcp-mux"] {
        assert!(!has(m, name), "a={name} in the SDES answer");
    }
    // Lines 1 and 2 carry MKIs, which the SRTP layer does not implement: the answer takes line 3.
    let ours = cryptos(&back, 0);
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].tag, 3);
    assert_eq!(ours[0].suite, CryptoSuite::Srtp(SrtpProfile::AeadAes256Gcm));
    assert_eq!(ours[0].key_params[0].key_salt.len(), 44);

    let phone = leg_media(&relay, CALL, Some(PHONE), 0);
    assert_eq!(
        phone.advertised,
        "2001:db8::7".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(
        phone.remote_rtp,
        Some("[2001:db8::10]:16384".parse().unwrap())
    );
    let SrtpSetup::Sdes(keys) = &phone.srtp else {
        panic!("phone leg keyed {:?}", phone.srtp);
    };
    assert_eq!(keys.profile(), SrtpProfile::AeadAes256Gcm);
    // What the phone sends under its line 3 key, the relay's inbound context opens...
    let theirs = cryptos(&offer, 0).into_iter().find(|c| c.tag == 3).unwrap();
    round_trip(
        &mut context_of(&theirs),
        &mut keys.inbound_context(&keys.policy()).unwrap(),
    );
    // ...and what the relay sends, the phone opens with the key from the answer.
    round_trip(
        &mut keys.outbound_context(&keys.policy()).unwrap(),
        &mut context_of(&ours[0]),
    );
}

#[test]
fn webrtc_offer_to_an_sdes_phone_offers_each_suite_and_keys_the_answered_tag() {
    let mut relay = relay();
    let offer = OfferRequest::new(CALL, BROWSER, sample("chromium-offer-audio.sdp"))
        .with_options(towards_sdes_phone());
    let out = reparse(&relay.offer(offer, now()).unwrap());
    let m = &out.media[0];
    assert_eq!(&*m.protocol, "RTP/SAVP");
    assert!(!has(m, "fingerprint"));
    let offered = cryptos(&out, 0);
    let suites: Vec<_> = offered
        .iter()
        .map(|c| (c.tag, c.suite.name().to_owned()))
        .collect();
    assert_eq!(
        suites,
        [
            (1, "AES_CM_128_HMAC_SHA1_80".to_owned()),
            (2, "AES_CM_128_HMAC_SHA1_32".to_owned()),
            (3, "AEAD_AES_128_GCM".to_owned()),
            (4, "AEAD_AES_256_GCM".to_owned()),
        ]
    );

    // Until the phone answers, no key is agreed: its stream refuses media.
    assert_eq!(
        leg_media(&relay, CALL, None, 0).srtp,
        SrtpSetup::AwaitingSdes
    );

    let phone_key =
        Crypto::generate(2, CryptoSuite::Srtp(SrtpProfile::Aes128CmHmacSha1_32)).unwrap();
    let answer = format!(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.30\r\ns=-\r\nc=IN IP4 198.51.100.30\r\nt=0 0\r\n\
         m=audio 41000 RTP/SAVP 0\r\na=crypto:{phone_key}\r\n"
    );
    let back = relay
        .answer(
            AnswerRequest::new(CALL, BROWSER, PHONE, parse(&answer)),
            now(),
        )
        .unwrap();
    let back = reparse(&back);
    assert_eq!(&*back.media[0].protocol, "UDP/TLS/RTP/SAVPF");
    assert!(cryptos(&back, 0).is_empty());

    let phone = leg_media(&relay, CALL, Some(PHONE), 0);
    let SrtpSetup::Sdes(keys) = &phone.srtp else {
        panic!("phone leg keyed {:?}", phone.srtp);
    };
    assert_eq!(keys.profile(), SrtpProfile::Aes128CmHmacSha1_32);
    round_trip(
        &mut context_of(&phone_key),
        &mut keys.inbound_context(&keys.policy()).unwrap(),
    );
    round_trip(
        &mut keys.outbound_context(&keys.policy()).unwrap(),
        &mut context_of(&offered[1]),
    );
}

#[test]
fn sdes_only_option_limits_the_offered_suites() {
    let mut relay = relay();
    let mut options = towards_sdes_phone();
    options.sdes.only = vec![SrtpProfile::Aes128CmHmacSha1_80];
    let offer =
        OfferRequest::new(CALL, BROWSER, sample("chromium-offer-audio.sdp")).with_options(options);
    let out = reparse(&relay.offer(offer, now()).unwrap());
    let offered = cryptos(&out, 0);
    assert_eq!(offered.len(), 1);
    assert_eq!(
        offered[0].suite,
        CryptoSuite::Srtp(SrtpProfile::Aes128CmHmacSha1_80)
    );
}

#[test]
fn an_answer_choosing_no_offered_tag_is_refused_and_the_offer_still_waits() {
    let mut relay = relay();
    let offer = OfferRequest::new(CALL, BROWSER, sample("chromium-offer-audio.sdp"))
        .with_options(towards_sdes_phone());
    relay.offer(offer, now()).unwrap();
    let stranger =
        Crypto::generate(9, CryptoSuite::Srtp(SrtpProfile::Aes128CmHmacSha1_80)).unwrap();
    let answer = |line: &Crypto| {
        parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 198.51.100.30\r\ns=-\r\nc=IN IP4 198.51.100.30\r\nt=0 0\r\n\
             m=audio 41000 RTP/SAVP 0\r\na=crypto:{line}\r\n"
        ))
    };
    let err = relay
        .answer(
            AnswerRequest::new(CALL, BROWSER, PHONE, answer(&stranger)),
            now(),
        )
        .unwrap_err();
    assert_eq!(err, SessionError::NoUsableCrypto { index: 0 });
    assert_eq!(
        relay.query(CALL).unwrap().legs[1].tag,
        None,
        "nothing changed"
    );

    let good = Crypto::generate(1, CryptoSuite::Srtp(SrtpProfile::Aes128CmHmacSha1_80)).unwrap();
    relay
        .answer(
            AnswerRequest::new(CALL, BROWSER, PHONE, answer(&good)),
            now(),
        )
        .unwrap();
    assert_eq!(
        relay.query(CALL).unwrap().legs[1].tag.as_deref(),
        Some(PHONE)
    );
}

#[test]
fn sdes_offer_with_only_mki_keys_is_refused_without_taking_ports() {
    let mut relay = relay();
    let offer = "v=0\r\no=- 1 1 IN IP4 198.51.100.30\r\ns=-\r\nc=IN IP4 198.51.100.30\r\nt=0 0\r\n\
        m=audio 41000 RTP/SAVP 0\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n";
    let err = relay
        .offer(
            OfferRequest::new(CALL, PHONE, parse(offer)).with_options(towards_webrtc()),
            now(),
        )
        .unwrap_err();
    assert_eq!(err, SessionError::NoUsableCrypto { index: 0 });
    assert_eq!(relay.port_pool().in_use(), 0);
    assert_eq!(relay.call_count(), 0);
    assert!(relay.poll_update().is_none());
}

#[test]
fn sdes_off_towards_an_savp_target_is_a_contradiction() {
    let mut relay = relay();
    let mut options = towards_sdes_phone();
    options.sdes.off = true;
    let err = relay
        .offer(
            OfferRequest::new(CALL, BROWSER, sample("chromium-offer-audio.sdp"))
                .with_options(options),
            now(),
        )
        .unwrap_err();
    assert!(
        matches!(err, SessionError::InvalidOptions { .. }),
        "{err:?}"
    );
    assert_eq!(relay.port_pool().in_use(), 0);
}

#[test]
fn dtls_towards_the_browser_needs_a_configured_fingerprint() {
    let mut relay = Relay::new(tandem_media_bridge::session::RelayConfig::new(relay_ip())).unwrap();
    let offer = sample("sip-sdes-srtp-offer.sdp");
    let err = relay
        .offer(
            OfferRequest::new(CALL, PHONE, offer).with_options(towards_webrtc()),
            now(),
        )
        .unwrap_err();
    assert_eq!(err, SessionError::DtlsUnavailable);
    assert_eq!(relay.port_pool().in_use(), 0);
}
