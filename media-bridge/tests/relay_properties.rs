//! Properties of the control plane under mangled SDP and random options: no panic, every rewritten SDP
//! parses again, a failed request leaves the port pool as it was, and deleting a call gives back every port.

mod relay_support;

use proptest::prelude::*;
use relay_support::*;
use tandem_media_bridge::session::{
    AnswerRequest, DeleteRequest, DtlsMode, IceMode, MediaOptions, OfferRequest, Relay,
    RtcpMuxMode, TransportProtocol,
};
use tandem_rtp_core::SessionDescription;

const SAMPLES: [&str; 9] = [
    "chromium-offer-audio.sdp",
    "chromium-offer-audio-video.sdp",
    "chromium-answer-audio-video.sdp",
    "chromium-offer-datachannel-audio.sdp",
    "firefox-offer-audio.sdp",
    "sip-ice-lite-offer.sdp",
    "sip-sdes-srtp-offer.sdp",
    "sip-legacy-hold-offer.sdp",
    "rfc8866-example.sdp",
];

/// Lines that make SDP interesting for the relay, spliced in at random places.
const SPLICES: [&str; 14] = [
    "a=rtcp-mux",
    "a=setup:holdconn",
    "a=setup:active",
    "a=fingerprint:sha-1 00:11",
    "a=ice-ufrag:x",
    "a=ice-pwd:short",
    "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=group:BUNDLE 0 1 2",
    "a=mid:0",
    "c=IN IP4 0.0.0.0",
    "c=IN IP6 ::1",
    "m=audio 0 RTP/AVP 0",
    "m=video 5000 UDP/TLS/RTP/SAVPF 96",
];

#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Splice(usize, usize),
    Protocol(usize, TransportProtocol),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), 0..SPLICES.len()).prop_map(|(at, s)| Mutation::Splice(at, s)),
        (any::<usize>(), protocol()).prop_map(|(at, p)| Mutation::Protocol(at, p)),
    ]
}

fn protocol() -> impl Strategy<Value = TransportProtocol> {
    prop_oneof![
        Just(TransportProtocol::RtpAvp),
        Just(TransportProtocol::RtpAvpf),
        Just(TransportProtocol::RtpSavp),
        Just(TransportProtocol::RtpSavpf),
        Just(TransportProtocol::UdpTlsRtpSavp),
        Just(TransportProtocol::UdpTlsRtpSavpf),
    ]
}

/// A sample with mutations applied; `None` when the result is no longer SDP.
fn mangled(sample_index: usize, mutations: &[Mutation]) -> Option<SessionDescription> {
    let text = sample(SAMPLES[sample_index % SAMPLES.len()]).to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for m in mutations {
        let n = lines.len().max(1);
        match m {
            Mutation::Drop(at) if lines.len() > 1 => {
                lines.remove(at % n);
            }
            Mutation::Duplicate(at) if !lines.is_empty() => {
                let line = lines[at % n].clone();
                lines.insert(at % n, line);
            }
            Mutation::Splice(at, s) => lines.insert(at % (n + 1), SPLICES[*s].to_owned()),
            Mutation::Protocol(at, p) => {
                let at = at % n;
                if let Some(rest) = lines[at].strip_prefix("m=") {
                    let parts: Vec<&str> = rest.split(' ').collect();
                    if parts.len() >= 3 {
                        let mut parts = parts.clone();
                        parts[2] = p.as_str();
                        lines[at] = format!("m={}", parts.join(" "));
                    }
                }
            }
            _ => {}
        }
    }
    (lines.join("\r\n") + "\r\n").parse().ok()
}

fn options() -> impl Strategy<Value = MediaOptions> {
    (
        proptest::option::of(protocol()),
        prop_oneof![
            Just(IceMode::Default),
            Just(IceMode::Force),
            Just(IceMode::Remove)
        ],
        prop_oneof![
            Just(DtlsMode::Default),
            Just(DtlsMode::Passive),
            Just(DtlsMode::Active),
            Just(DtlsMode::Off)
        ],
        prop_oneof![
            Just(RtcpMuxMode::Default),
            Just(RtcpMuxMode::Offer),
            Just(RtcpMuxMode::Require),
            Just(RtcpMuxMode::Demux),
            Just(RtcpMuxMode::Accept),
            Just(RtcpMuxMode::Reject)
        ],
        proptest::sample::subsequence(vec!["PCMA", "opus", "all", "telephone-event", "x/y"], 0..3),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(|(tp, ice, dtls, mux, strip, (sdes_off, origin, session))| {
            let mut o = MediaOptions::default();
            o.transport_protocol = tp;
            o.ice = ice;
            o.dtls = dtls;
            o.rtcp_mux = mux;
            o.codec_strip = strip.into_iter().map(str::to_owned).collect();
            o.sdes.off = sdes_off;
            o.replace_origin = origin;
            o.replace_session_connection = session;
            o
        })
}

/// Runs one request; checks the output parses again and a failure took no ports.
fn checked(
    relay: &mut Relay,
    run: impl FnOnce(
        &mut Relay,
    ) -> Result<SessionDescription, tandem_media_bridge::session::SessionError>,
) -> Result<(), TestCaseError> {
    let before = relay.port_pool().in_use();
    match run(relay) {
        Ok(sdp) => {
            let text = sdp.to_string();
            prop_assert!(
                text.parse::<SessionDescription>().is_ok(),
                "output does not parse:\n{}",
                text
            );
        }
        Err(_) => prop_assert_eq!(relay.port_pool().in_use(), before),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn mangled_offers_and_answers_never_panic_and_never_leak_ports(
        offer_sample in 0..SAMPLES.len(),
        offer_mutations in proptest::collection::vec(mutation(), 0..6),
        answer_sample in 0..SAMPLES.len(),
        answer_mutations in proptest::collection::vec(mutation(), 0..6),
        offer_options in options(),
        answer_options in options(),
        reoffer_from_callee in any::<bool>(),
    ) {
        let mut relay = relay();
        let Some(offer) = mangled(offer_sample, &offer_mutations) else { return Ok(()) };
        let answer = mangled(answer_sample, &answer_mutations);
        checked(&mut relay, |r| r.offer(OfferRequest::new("c", "a", offer.clone()).with_options(offer_options.clone()), now()))?;
        if let Some(answer) = answer.clone() {
            checked(&mut relay, |r| r.answer(AnswerRequest::new("c", "a", "b", answer).with_options(answer_options.clone()), now()))?;
        }
        if reoffer_from_callee {
            if let Some(answer) = answer {
                checked(&mut relay, |r| r.offer(OfferRequest::new("c", "b", answer).with_options(answer_options), now()))?;
            }
        } else {
            checked(&mut relay, |r| r.offer(OfferRequest::new("c", "a", offer).with_options(offer_options), now()))?;
        }
        while relay.poll_update().is_some() {}
        if relay.call_count() == 1 {
            relay.delete(&DeleteRequest::new("c")).unwrap();
        }
        prop_assert_eq!(relay.port_pool().in_use(), 0);
    }
}
