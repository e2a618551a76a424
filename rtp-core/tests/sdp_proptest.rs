//! Property tests: generated descriptions and `a=crypto` lines survive serialize → parse unchanged, and no input
//! makes a parser panic.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use tandem_rtp_core::sdes::{Crypto, CryptoSuite, KeyLifetime, KeyParam, Mki};
use tandem_rtp_core::sdp::{
    Attribute, Bandwidth, Candidate, CandidateType, Connection, Direction, Extmap, Fingerprint,
    Fmtp, Group, MediaDescription, Msid, Origin, Rtcp, RtcpFb, Rtpmap, SessionDescription, Setup,
    Ssrc, SsrcGroup, TimeDescription,
};
use tandem_rtp_core::srtp::SrtpProfile;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9_.!~*+-]{0,11}"
}

fn ice_chars(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9+/]{{{min},{max}}}")).unwrap()
}

/// A `byte-string` that does not start or end with a space (so it is not confused with separators).
fn text() -> impl Strategy<Value = String> {
    "[!-~\u{a0}-\u{2fff}]([ -~\u{a0}-\u{2fff}]{0,20}[!-~])?"
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive)
    ]
}

fn connection() -> impl Strategy<Value = Connection> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| Connection::from_ip(std::net::Ipv4Addr::from(b).into())),
        any::<[u16; 8]>().prop_map(|b| Connection::from_ip(std::net::Ipv6Addr::from(b).into())),
        (
            "[a-z0-9.-]{1,20}",
            any::<u8>(),
            proptest::option::of(1u32..1000)
        )
            .prop_map(|(a, ttl, n)| Connection {
                net_type: "IN".into(),
                addr_type: "IP4".into(),
                address: a.into(),
                ttl: Some(ttl),
                address_count: n,
            }),
    ]
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        ice_chars(1, 32),
        1u16..=999,
        prop_oneof![Just("udp"), Just("UDP"), Just("tcp")],
        any::<u32>(),
        "[a-z0-9.:-]{1,30}",
        any::<u16>(),
        prop_oneof![
            Just(CandidateType::Host),
            Just(CandidateType::ServerReflexive),
            Just(CandidateType::PeerReflexive),
            Just(CandidateType::Relay)
        ],
        proptest::option::of(("[0-9.]{1,15}", any::<u16>())),
        vec((token(), "[!-~]{1,10}"), 0..4),
    )
        .prop_map(
            |(foundation, component, transport, priority, address, port, kind, related, ext)| {
                Candidate {
                    foundation: foundation.into(),
                    component,
                    transport: transport.into(),
                    priority,
                    address: address.into(),
                    port,
                    kind,
                    related_address: related.as_ref().map(|(a, _)| a.as_str().into()),
                    related_port: related.map(|(_, p)| p),
                    extensions: ext
                        .into_iter()
                        .filter(|(n, _)| n != "raddr" && n != "rport")
                        .map(|(n, v)| (n.into(), v.into()))
                        .collect(),
                }
            },
        )
}

fn suite() -> impl Strategy<Value = CryptoSuite> {
    proptest::sample::select(SrtpProfile::ALL.map(CryptoSuite::from).to_vec())
}

fn key_param(len: usize) -> impl Strategy<Value = KeyParam> {
    (
        vec(any::<u8>(), len),
        proptest::option::of(prop_oneof![
            (0u8..=64).prop_map(KeyLifetime::PowerOfTwo),
            any::<u64>().prop_map(KeyLifetime::Packets)
        ]),
        proptest::option::of((1u8..=4).prop_flat_map(|length| {
            (0u64..(1u64 << (8 * u32::from(length)))).prop_map(move |value| Mki { value, length })
        })),
    )
        .prop_map(|(key_salt, lifetime, mki)| KeyParam {
            key_salt,
            lifetime,
            mki,
        })
}

fn crypto() -> impl Strategy<Value = Crypto> {
    suite().prop_flat_map(|suite| {
        let len = suite.key_salt_len().unwrap_or(30);
        (
            0u32..1_000_000_000,
            Just(suite),
            vec(key_param(len), 1..3),
            vec("[A-Z_]{1,10}(=[0-9]{1,3})?", 0..3),
        )
            .prop_map(|(tag, suite, key_params, params)| Crypto {
                tag,
                suite,
                key_params,
                session_params: params.into_iter().map(Into::into).collect(),
            })
    })
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (
            0u8..=127,
            token(),
            1u32..,
            proptest::option::of(any::<u16>())
        )
            .prop_map(|(pt, name, rate, ch)| {
                Attribute::Rtpmap(Rtpmap {
                    payload_type: pt,
                    encoding_name: name.replace('/', "").into(),
                    clock_rate: rate,
                    channels: ch,
                })
            }),
        (token(), text()).prop_map(|(f, p)| Attribute::Fmtp(Fmtp {
            format: f.into(),
            parameters: p.into()
        })),
        (1u32..1000).prop_map(|p| Attribute::Ptime(f64::from(p))),
        (1u32..1000, 1u32..9)
            .prop_map(|(i, f)| Attribute::MaxPtime(f64::from(i) + f64::from(f) / 10.0)),
        direction().prop_map(Attribute::Direction),
        (any::<u16>(), proptest::option::of(connection()))
            .prop_map(|(port, connection)| Attribute::Rtcp(Rtcp { port, connection })),
        Just(Attribute::RtcpMux),
        Just(Attribute::RtcpRsize),
        Just(Attribute::IceLite),
        Just(Attribute::EndOfCandidates),
        ice_chars(4, 40).prop_map(|u| Attribute::IceUfrag(u.into())),
        ice_chars(22, 60).prop_map(|p| Attribute::IcePwd(p.into())),
        vec(ice_chars(1, 12), 1..4)
            .prop_map(|t| Attribute::IceOptions(t.into_iter().map(Into::into).collect())),
        candidate().prop_map(Attribute::Candidate),
        (token(), vec(any::<u8>(), 1..=64)).prop_map(|(h, v)| Attribute::Fingerprint(
            Fingerprint {
                hash_function: h.into(),
                value: v
            }
        )),
        prop_oneof![
            Just(Setup::Active),
            Just(Setup::Passive),
            Just(Setup::ActPass),
            Just(Setup::HoldConn)
        ]
        .prop_map(Attribute::Setup),
        token().prop_map(|m| Attribute::Mid(m.into())),
        (token(), vec(token(), 0..4)).prop_map(|(s, m)| Attribute::Group(Group {
            semantics: s.into(),
            mids: m.into_iter().map(Into::into).collect()
        })),
        (any::<u32>(), token(), proptest::option::of(text())).prop_map(|(id, a, v)| {
            Attribute::Ssrc(Ssrc {
                id,
                attribute: a.into(),
                value: v.map(Into::into),
            })
        }),
        (token(), vec(any::<u32>(), 0..4)).prop_map(|(s, ids)| Attribute::SsrcGroup(SsrcGroup {
            semantics: s.into(),
            ssrcs: ids
        })),
        (token(), proptest::option::of(token())).prop_map(|(id, a)| Attribute::Msid(Msid {
            id: id.into(),
            appdata: a.map(Into::into)
        })),
        (
            any::<u16>(),
            proptest::option::of(direction()),
            "[a-z]{1,8}:[!-~]{1,20}",
            proptest::option::of(text())
        )
            .prop_map(|(id, d, uri, a)| Attribute::Extmap(Extmap {
                id,
                direction: d,
                uri: uri.into(),
                attributes: a.map(Into::into)
            })),
        (
            proptest::option::of(0u8..=127),
            token(),
            proptest::option::of(text())
        )
            .prop_map(|(pt, fb, p)| {
                Attribute::RtcpFb(RtcpFb {
                    payload_type: pt,
                    feedback: fb.into(),
                    parameter: p.map(Into::into),
                })
            }),
        crypto().prop_map(Attribute::Crypto),
        ("x-[a-z0-9-]{1,10}", proptest::option::of(text()))
            .prop_map(|(n, v)| Attribute::other(n, v.map(Into::into))),
    ]
}

fn media() -> impl Strategy<Value = MediaDescription> {
    (
        prop_oneof![Just("audio"), Just("video"), Just("application")],
        any::<u16>(),
        proptest::option::of(1u32..8),
        prop_oneof![
            Just("RTP/AVP"),
            Just("RTP/SAVP"),
            Just("UDP/TLS/RTP/SAVPF"),
            Just("UDP/DTLS/SCTP")
        ],
        vec(token(), 1..6),
        proptest::option::of(text()),
        vec(connection(), 0..2),
        vec((token(), any::<u64>()), 0..2),
        vec(attribute(), 0..12),
    )
        .prop_map(
            |(kind, port, count, proto, formats, info, conns, bws, attrs)| {
                let mut m = MediaDescription::new(
                    kind,
                    port,
                    proto,
                    formats.into_iter().map(Into::into).collect(),
                );
                m.port_count = count;
                m.information = info.map(Into::into);
                m.connections = conns;
                m.bandwidths = bws
                    .into_iter()
                    .map(|(t, v)| Bandwidth {
                        bwtype: t.into(),
                        value: v,
                    })
                    .collect();
                m.attributes = attrs;
                m
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        ("[!-~]{1,10}", "[0-9]{1,25}", any::<u64>(), connection()),
        text(),
        proptest::option::of(text()),
        proptest::option::of(connection()),
        vec((any::<u64>(), any::<u64>()), 1..3),
        vec(attribute(), 0..8),
        vec(media(), 0..4),
    )
        .prop_map(
            |((user, id, version, c), name, info, conn, times, attrs, media)| {
                let origin = Origin {
                    username: user.into(),
                    session_id: id.into(),
                    session_version: version,
                    net_type: c.net_type,
                    addr_type: c.addr_type,
                    address: c.address,
                };
                let mut sdp = SessionDescription::new(origin, name);
                sdp.information = info.map(Into::into);
                sdp.connection = conn;
                sdp.times = times
                    .into_iter()
                    .map(|(start, stop)| TimeDescription {
                        start,
                        stop,
                        ..TimeDescription::unbounded()
                    })
                    .collect();
                sdp.attributes = attrs;
                sdp.media = media;
                sdp
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_description_survives_serialize_and_parse(sdp in session()) {
        let text = sdp.to_string();
        let parsed: SessionDescription = text.parse().map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed, &sdp);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn generated_crypto_line_survives_serialize_and_parse(c in crypto()) {
        let text = c.to_string();
        prop_assert_eq!(Crypto::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?, c);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_description_parser(bytes in vec(any::<u8>(), 0..1024)) {
        let _ = SessionDescription::parse(&Bytes::from(bytes));
    }

    #[test]
    fn arbitrary_lines_never_panic_the_description_parser(lines in vec("[vosicbtrzkamue]=[ -~]{0,40}", 0..20)) {
        let text = format!("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n{}", lines.join("\r\n"));
        let _ = text.parse::<SessionDescription>();
    }

    #[test]
    fn arbitrary_text_never_panics_the_value_parsers(s in "\\PC{0,80}") {
        let _ = Attribute::parse(&s);
        let _ = Candidate::parse(&s);
        let _ = Crypto::parse(&s);
        for name in ["rtpmap", "fmtp", "candidate", "crypto", "fingerprint", "extmap", "rtcp", "ssrc", "msid"] {
            let _ = Attribute::parse(&format!("{name}:{s}"));
        }
    }
}
