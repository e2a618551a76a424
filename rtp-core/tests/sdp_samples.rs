//! Real browser descriptions (see tests/data/sdp/README.md) and hand-written SIP ones, parsed field by field
//! and written back.

mod sdp_data;

use bytes::Bytes;
use sdp_data::sample;
use tandem_rtp_core::sdes::{CryptoSuite, KeyLifetime, Mki};
use tandem_rtp_core::sdp::{
    Attribute, CandidateType, Direction, SdpError, SessionDescription, Setup,
};
use tandem_rtp_core::srtp::SrtpProfile;

const SAMPLES: &[(&str, &str)] = &[
    (
        "chromium-offer-audio-video.sdp",
        sample!("chromium-offer-audio-video.sdp"),
    ),
    (
        "chromium-answer-audio-video.sdp",
        sample!("chromium-answer-audio-video.sdp"),
    ),
    (
        "chromium-offer-audio.sdp",
        sample!("chromium-offer-audio.sdp"),
    ),
    (
        "chromium-offer-datachannel-audio.sdp",
        sample!("chromium-offer-datachannel-audio.sdp"),
    ),
    (
        "firefox-offer-audio-video.sdp",
        sample!("firefox-offer-audio-video.sdp"),
    ),
    (
        "firefox-answer-audio-video.sdp",
        sample!("firefox-answer-audio-video.sdp"),
    ),
    (
        "firefox-offer-audio.sdp",
        sample!("firefox-offer-audio.sdp"),
    ),
    (
        "firefox-offer-datachannel-audio.sdp",
        sample!("firefox-offer-datachannel-audio.sdp"),
    ),
    ("sip-ice-lite-offer.sdp", sample!("sip-ice-lite-offer.sdp")),
    (
        "sip-sdes-srtp-offer.sdp",
        sample!("sip-sdes-srtp-offer.sdp"),
    ),
    (
        "sip-legacy-hold-offer.sdp",
        sample!("sip-legacy-hold-offer.sdp"),
    ),
    ("rfc8866-example.sdp", sample!("rfc8866-example.sdp")),
];

fn parse(text: &str) -> SessionDescription {
    match SessionDescription::parse(&Bytes::copy_from_slice(text.as_bytes())) {
        Ok(sdp) => sdp,
        Err(e) => panic!("{e}"),
    }
}

fn attr<'a>(attrs: &'a [Attribute], name: &str) -> Vec<&'a Attribute> {
    attrs.iter().filter(|a| a.name() == name).collect()
}

#[test]
fn every_sample_round_trips_byte_for_byte_modulo_line_ends() {
    for (name, text) in SAMPLES {
        let sdp = parse(text);
        let written = sdp.to_string();
        let expected = if text.contains("\r\n") {
            text.to_string()
        } else {
            text.replace('\n', "\r\n")
        };
        assert_eq!(written, expected, "{name}");
        assert_eq!(parse(&written), sdp, "{name}");
    }
}

#[test]
fn unknown_attributes_keep_their_place() {
    let sdp = parse(sample!("chromium-offer-audio-video.sdp"));
    let names: Vec<&str> = sdp.media[0]
        .attributes
        .iter()
        .map(Attribute::name)
        .collect();
    let mux = names.iter().position(|n| *n == "rtcp-mux").unwrap();
    assert_eq!(&names[mux..mux + 3], ["rtcp-mux", "rtcp-rsize", "rtcp-xr"]);
    assert!(
        matches!(&sdp.attributes[1], Attribute::Other { name, value: None } if name == "extmap-allow-mixed")
    );
}

#[test]
fn chromium_audio_video_offer_fields() {
    let sdp = parse(sample!("chromium-offer-audio-video.sdp"));
    assert_eq!(sdp.origin.username, "-");
    assert_eq!(sdp.origin.session_id, "2246997745511284481");
    assert_eq!(sdp.origin.session_version, 2);
    assert_eq!(sdp.origin.address, "127.0.0.1");
    assert_eq!(sdp.session_name, "-");
    assert_eq!((sdp.times[0].start, sdp.times[0].stop), (0, 0));
    let bundle = sdp.group("BUNDLE").unwrap();
    assert_eq!(bundle.mids, ["0", "1"]);
    let Attribute::MsidSemantic(ms) = attr(&sdp.attributes, "msid-semantic")[0] else {
        panic!()
    };
    assert_eq!((ms.semantic.as_ref(), ms.leading_space), ("WMS", true));

    let audio = &sdp.media[0];
    assert_eq!(
        (audio.media.as_ref(), audio.port, audio.protocol.as_ref()),
        ("audio", 60787, "UDP/TLS/RTP/SAVPF")
    );
    assert_eq!(
        audio.formats,
        ["111", "63", "9", "0", "8", "13", "110", "126"]
    );
    assert_eq!(audio.connections[0].address, "192.0.2.2");
    assert_eq!(audio.mid(), Some("0"));
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    let Attribute::Rtcp(rtcp) = attr(&audio.attributes, "rtcp")[0] else {
        panic!()
    };
    assert_eq!(rtcp.port, 9);
    assert!(rtcp.connection.as_ref().unwrap().is_unspecified());

    let candidates: Vec<_> = audio
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Candidate(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(candidates.len(), 4);
    assert_eq!(candidates[0].foundation, "1877150553");
    assert_eq!(
        (candidates[0].component, candidates[0].priority),
        (1, 2122194687)
    );
    assert_eq!(
        (candidates[0].address.as_ref(), candidates[0].port),
        ("192.0.2.2", 60787)
    );
    assert_eq!(candidates[0].kind, CandidateType::Host);
    assert_eq!(candidates[0].generation(), Some(0));
    assert_eq!(candidates[0].extension("network-id"), Some("1"));
    assert_eq!(candidates[1].address, "fd00::2");
    assert_eq!(candidates[2].tcp_type(), Some("active"));
    assert!(!candidates[2].is_udp());

    assert!(
        audio
            .attributes
            .contains(&Attribute::IceUfrag("i7CC".into()))
    );
    assert!(
        audio
            .attributes
            .contains(&Attribute::IcePwd("ZzeQUry7PRraXSBGZiwOyq5I".into()))
    );
    assert!(
        audio
            .attributes
            .contains(&Attribute::IceOptions(vec!["trickle".into()]))
    );
    assert!(audio.attributes.contains(&Attribute::Setup(Setup::ActPass)));
    assert!(audio.attributes.contains(&Attribute::RtcpMux));
    assert!(audio.attributes.contains(&Attribute::RtcpRsize));
    let Attribute::Fingerprint(fp) = attr(&audio.attributes, "fingerprint")[0] else {
        panic!()
    };
    assert_eq!(fp.hash_function, "sha-256");
    assert_eq!(fp.value.len(), 32);
    assert_eq!(&fp.value[..3], [0x78, 0xEB, 0x37]);

    let Attribute::Extmap(ext) = attr(&audio.attributes, "extmap")[0] else {
        panic!()
    };
    assert_eq!(
        (ext.id, ext.uri.as_ref(), ext.direction),
        (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level", None)
    );
    let opus = audio.rtpmap(111).unwrap();
    assert_eq!(
        (opus.encoding_name.as_ref(), opus.clock_rate, opus.channels),
        ("opus", 48000, Some(2))
    );
    assert_eq!(audio.fmtp("111").unwrap().param("minptime"), Some("10"));
    let Attribute::RtcpFb(fb) = attr(&audio.attributes, "rtcp-fb")[0] else {
        panic!()
    };
    assert_eq!(
        (fb.payload_type, fb.feedback.as_ref(), fb.parameter.clone()),
        (Some(111), "transport-cc", None)
    );
    let Attribute::Msid(msid) = attr(&audio.attributes, "msid")[0] else {
        panic!()
    };
    assert_eq!(msid.id, "ec89bc9c-e9c8-491e-b858-ab3883a663cc");
    assert_eq!(
        msid.appdata.as_deref(),
        Some("0bbab616-99fd-4814-bac5-cca5c17daeea")
    );
    let Attribute::Ssrc(ssrc) = attr(&audio.attributes, "ssrc")[0] else {
        panic!()
    };
    assert_eq!(
        (ssrc.id, ssrc.attribute.as_ref(), ssrc.value.as_deref()),
        (4179188781, "cname", Some("8R/aP5Jf6/+J5ZMf"))
    );

    let codecs = audio.codecs();
    assert_eq!(codecs.len(), 8);
    assert_eq!(codecs[3].encoding_name, "PCMU");
    assert_eq!(codecs[1].fmtp.as_deref(), Some("111/111"));

    let video = &sdp.media[1];
    assert_eq!(video.media, "video");
    assert_eq!(video.formats.len(), 23);
    let Attribute::SsrcGroup(fid) = attr(&video.attributes, "ssrc-group")[0] else {
        panic!()
    };
    assert_eq!(
        (fid.semantics.as_ref(), fid.ssrcs.as_slice()),
        ("FID", &[399656275, 629485880][..])
    );
    let nacks = video
        .attributes
        .iter()
        .filter(|a| matches!(a, Attribute::RtcpFb(fb) if fb.payload_type == Some(96) && fb.feedback == "nack"))
        .count();
    assert_eq!(nacks, 2);
    assert_eq!(
        video.fmtp("102").unwrap().param("profile-level-id"),
        Some("42001f")
    );
    assert_eq!(video.fmtp("97").unwrap().param("apt"), Some("96"));
}

#[test]
fn chromium_answer_fields() {
    let sdp = parse(sample!("chromium-answer-audio-video.sdp"));
    let audio = &sdp.media[0];
    assert!(audio.attributes.contains(&Attribute::Setup(Setup::Active)));
    assert_eq!(audio.port, 58869);
    // The bundled video section has no transport of its own.
    assert_eq!(sdp.media[1].port, 9);
    assert_eq!(sdp.group("BUNDLE").unwrap().mids, ["0", "1"]);
}

#[test]
fn chromium_datachannel_offer_fields() {
    let sdp = parse(sample!("chromium-offer-datachannel-audio.sdp"));
    let app = &sdp.media[1];
    assert_eq!(
        (app.media.as_ref(), app.protocol.as_ref()),
        ("application", "UDP/DTLS/SCTP")
    );
    assert_eq!(app.formats, ["webrtc-datachannel"]);
    assert!(!app.is_rtp());
    assert!(app.codecs().is_empty());
    let Attribute::Other { value, .. } = attr(&app.attributes, "sctp-port")[0] else {
        panic!()
    };
    assert_eq!(value.as_deref(), Some("5000"));
    assert_eq!(app.mid(), Some("1"));
}

#[test]
fn firefox_offer_fields() {
    let sdp = parse(sample!("firefox-offer-audio-video.sdp"));
    assert_eq!(sdp.origin.username, "mozilla...THIS_IS_SDPARTA-99.0");
    assert_eq!(sdp.origin.session_version, 0);
    assert_eq!(sdp.session_direction(), Some(Direction::SendRecv));
    assert!(
        sdp.attributes
            .iter()
            .any(|a| matches!(a, Attribute::Fingerprint(f) if f.value.len() == 32))
    );
    let Attribute::MsidSemantic(ms) = attr(&sdp.attributes, "msid-semantic")[0] else {
        panic!()
    };
    assert_eq!(
        (ms.identifiers.as_slice(), ms.leading_space),
        (&["*".into()][..], false)
    );

    let audio = &sdp.media[0];
    assert_eq!(audio.port, 9);
    assert!(audio.attributes.contains(&Attribute::EndOfCandidates));
    let Attribute::Candidate(c) = attr(&audio.attributes, "candidate")[0] else {
        panic!()
    };
    assert!(c.address.ends_with(".local"));
    assert_eq!(c.transport, "UDP");
    let rtcp_candidates = audio
        .attributes
        .iter()
        .filter(|a| matches!(a, Attribute::Candidate(c) if c.component == 2))
        .count();
    assert_eq!(rtcp_candidates, 4);
    let Attribute::Extmap(ext) = attr(&audio.attributes, "extmap")[1] else {
        panic!()
    };
    assert_eq!((ext.id, ext.direction), (2, Some(Direction::RecvOnly)));
    let Attribute::Rtcp(rtcp) = attr(&audio.attributes, "rtcp")[0] else {
        panic!()
    };
    assert_eq!(rtcp.port, 56784);
    assert!(
        rtcp.connection
            .as_ref()
            .unwrap()
            .address
            .ends_with(".local")
    );
    let Attribute::Msid(msid) = attr(&audio.attributes, "msid")[0] else {
        panic!()
    };
    assert!(msid.id.starts_with('{'));
    assert_eq!(audio.rtpmap(9).unwrap().channels, Some(1));
    assert_eq!(
        audio.fmtp("101").unwrap().params().next(),
        Some(("0-15", None))
    );
    // The zero address is ICE's placeholder, not a hold.
    assert!(!sdp.is_legacy_hold(audio));
    assert!(!sdp.is_on_hold(audio));
}

#[test]
fn firefox_answer_and_datachannel_fields() {
    let answer = parse(sample!("firefox-answer-audio-video.sdp"));
    assert!(
        answer
            .media
            .iter()
            .all(|m| m.attributes.contains(&Attribute::Setup(Setup::Active)))
    );
    let dc = parse(sample!("firefox-offer-datachannel-audio.sdp"));
    assert!(
        dc.media
            .iter()
            .any(|m| m.protocol == "UDP/DTLS/SCTP" && m.formats == ["webrtc-datachannel"])
    );
}

#[test]
fn sip_ice_lite_offer_fields() {
    let sdp = parse(sample!("sip-ice-lite-offer.sdp"));
    assert_eq!(sdp.attributes, [Attribute::IceLite]);
    assert_eq!(
        sdp.connection.as_ref().unwrap().ip(),
        Some("198.51.100.10".parse().unwrap())
    );
    let audio = &sdp.media[0];
    assert_eq!(audio.protocol, "RTP/AVP");
    assert!(audio.attributes.contains(&Attribute::Ptime(20.0)));
    assert!(audio.attributes.contains(&Attribute::MaxPtime(150.0)));
    let names: Vec<_> = audio.codecs().iter().map(|c| c.to_string()).collect();
    assert_eq!(
        names,
        [
            "PCMU/8000",
            "PCMA/8000",
            "G722/8000",
            "telephone-event/8000"
        ]
    );
    assert_eq!(sdp.direction_of(audio), Direction::SendRecv);
}

#[test]
fn sip_sdes_offer_fields() {
    let sdp = parse(sample!("sip-sdes-srtp-offer.sdp"));
    assert_eq!(sdp.connection.as_ref().unwrap().addr_type, "IP6");
    assert_eq!(
        (sdp.bandwidths[0].bwtype.as_ref(), sdp.bandwidths[0].value),
        ("AS", 84)
    );
    let audio = &sdp.media[0];
    assert_eq!(audio.bandwidths[0].bwtype, "TIAS");
    let cryptos: Vec<_> = audio
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Crypto(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(cryptos.len(), 3);
    assert_eq!(
        (cryptos[0].tag, &cryptos[0].suite),
        (1, &CryptoSuite::Srtp(SrtpProfile::Aes128CmHmacSha1_80))
    );
    assert_eq!(
        cryptos[0].key_params[0].lifetime,
        Some(KeyLifetime::PowerOfTwo(20))
    );
    assert_eq!(
        cryptos[0].key_params[0].mki,
        Some(Mki {
            value: 1,
            length: 4
        })
    );
    assert_eq!(
        cryptos[1].suite,
        CryptoSuite::Srtp(SrtpProfile::Aes128CmHmacSha1_32)
    );
    assert_eq!(
        cryptos[2].suite,
        CryptoSuite::Srtp(SrtpProfile::AeadAes256Gcm)
    );
    let (key, salt) = cryptos[2].key_params[0].split(&cryptos[2].suite).unwrap();
    assert_eq!((key.len(), salt.len()), (32, 12));
    assert!(sdp.is_on_hold(audio));
}

#[test]
fn sip_legacy_hold_offer_fields() {
    let sdp = parse(sample!("sip-legacy-hold-offer.sdp"));
    let audio = &sdp.media[0];
    assert_eq!(sdp.direction_of(audio), Direction::SendRecv);
    assert!(sdp.is_legacy_hold(audio));
    assert!(sdp.is_on_hold(audio));
    assert_eq!(sdp.effective_direction(audio), Direction::SendOnly);
}

#[test]
fn rfc8866_example_fields() {
    let sdp = parse(sample!("rfc8866-example.sdp"));
    assert_eq!(sdp.origin.username, "jdoe");
    assert_eq!(sdp.session_name, "Call to John Smith");
    assert_eq!(sdp.information.as_deref(), Some("SDP Offer #1"));
    assert_eq!(
        sdp.uri.as_deref(),
        Some("http://www.jdoe.example.com/home.html")
    );
    assert_eq!(sdp.emails, ["Jane Doe <jane@jdoe.example.com>"]);
    assert_eq!(sdp.phones, ["+1 617 555-6011"]);
    assert_eq!(sdp.media.len(), 3);
    assert!(sdp.media[0].attributes.is_empty());
    let video = &sdp.media[2];
    assert_eq!(sdp.connection_of(video).unwrap().address, "2001:db8::2");
    assert_eq!(
        sdp.connection_of(&sdp.media[0]).unwrap().address,
        "198.51.100.1"
    );
    assert_eq!(video.codecs()[0].encoding_name, "h263-1998");
}

#[test]
fn truncating_a_sample_anywhere_never_panics() {
    for (_, text) in SAMPLES {
        for cut in (0..text.len()).step_by(7) {
            let Some(prefix) = text.get(..cut) else {
                continue;
            };
            let _: Result<SessionDescription, SdpError> = prefix.parse();
        }
    }
}
