//! Requests as Kamailio's `rtpengine` module (5.6, the Debian bookworm package) puts them on the wire,
//! decoded through framing, bencode and option parsing. The dictionaries follow the module's key order:
//! `supports`, `sdp`, the script's `key=value` words, `flags`, `replace`, `codec`, `transport-protocol`,
//! `rtcp-mux`, `SDES`, `received-from`, `call-id`, `via-branch`, `from-tag`, `to-tag`, `command`.

use std::time::Instant;

use bytes::Bytes;
use tandem_media_bridge::ng::{
    Action, Command, Dtls, EndpointConfig, Flag, Ice, Ignored, NgEndpoint, Pending, Replace,
    RtcpMux, Sdes, TransportOverride, TransportProtocol,
};

const KAMAILIO_OFFER_WEBRTC_TO_SIP: &[u8] = b"5323_1 d8:supportsl10:load limite3:sdp1035:v=0\r\n\
    o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
    s=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\n\
    a=msid-semantic: WMS 3f6e1d2c\r\nm=audio 51372 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
    c=IN IP4 198.51.100.23\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
    a=candidate:1467250027 1 udp 2122260223 192.168.1.20 51372 typ host generation 0 network-id 1\r\n\
    a=candidate:435653019 1 udp 1686052607 198.51.100.23 51372 typ srflx raddr 192.168.1.20 rport 51372 generati\
    on 0 network-id 1\r\na=ice-ufrag:F7gI\r\n\
    a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\na=ice-options:trickle\r\n\
    a=fingerprint:sha-256 D1:2C:BE:AD:C4:F6:64:5C:25:16:11:9C:AF:E7:0F:73:79:36:4E:9C:1E:15:54:39:0C:06:8B:ED:96\
    :86:00:39\r\na=setup:actpass\r\na=mid:0\r\n\
    a=sendrecv\r\na=msid:3f6e1d2c 8c1a0f4e\r\n\
    a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
    a=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
    a=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\n\
    a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\n\
    a=rtpmap:126 telephone-event/8000\r\na=ssrc:1001 cname:Vx3mQ8r2\r\n\
    3:ICE6:remove4:DTLS3:off18:transport-protocol7:RTP/AVP11:record-call3:yes5:label6:webrtc5:flagsl13:trust-add\
    resse7:replacel6:origin18:session-connectione5:codecd5:stripl4:G722ee8:rtcp-muxl5:demuxe4:SDESl3:offe13:rece\
    ived-froml3:IP411:203.0.113.9e7:call-id31:a84b4c76e66710@pc33.example.com10:via-branch16:z9hG4bK776asdhds8:f\
    rom-tag10:19283017747:command5:offere";
const KAMAILIO_ANSWER_SIP_TO_WEBRTC: &[u8] = b"5323_2 d8:supportsl10:load limite3:sdp244:v=0\r\n\
    o=root 1938347507 1938347507 IN IP4 192.0.2.50\r\n\
    s=Asterisk\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
    m=audio 10480 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n\
    3:ICE5:force4:DTLS7:passive7:replacel6:origin18:session-connectione18:transport-protocol17:UDP/TLS/RTP/SAVPF\
    8:rtcp-muxl7:requiree4:SDESl3:offe13:received-froml3:IP410:192.0.2.50e7:call-id31:a84b4c76e66710@pc33.exampl\
    e.com8:from-tag10:19283017746:to-tag10:as6c3f7a1e7:command6:answere";
const KAMAILIO_DELETE: &[u8] = b"5323_3 d8:supportsl10:load limite7:call-id31:a84b4c76e66710@pc33.example.com8:from-tag10:19283017746:to-tag1\
    0:as6c3f7a1e7:command6:deletee";
const KAMAILIO_QUERY: &[u8] = b"5323_4 d8:supportsl10:load limite7:call-id31:a84b4c76e66710@pc33.example.com8:from-tag10:19283017746:to-tag1\
    0:as6c3f7a1e7:command5:querye";
const RTPENGINE_DOCS_STYLE_OFFER: &[u8] = b"8812_77 d7:command5:offer7:call-id15:cfBXzDSZqhYNcXM8:from-tag10:mS9rSAn0Cr3:sdp244:v=0\r\n\
    o=root 1938347507 1938347507 IN IP4 192.0.2.50\r\n\
    s=Asterisk\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
    m=audio 10480 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n\
    10:via-branch13:5KiTRPZHH1nL65:flagsl13:trust address8:SDES-off15:codec-mask-PCMA20:codec-transcode-opus13:s\
    trict-source12:loop-protect10:frobnicatee7:replacel6:origin18:session connectione14:address family3:IP613:re\
    ceived-froml3:IP411:10.65.31.43e3:ICE5:force18:transport protocol9:RTP/SAVPF13:media address18:2001:db8::6f2\
    4:65b4:DTLS7:passive8:rtcp-muxl5:offer6:accepte9:directionl4:priv3:pube8:ICE-lite7:forwarde";

fn execute(datagram: &'static [u8]) -> Pending {
    let mut endpoint = NgEndpoint::new(EndpointConfig::default());
    let peer = "127.0.0.1:40000".parse().unwrap();
    match endpoint.handle_datagram(Instant::now(), peer, Bytes::from_static(datagram)) {
        Action::Execute(pending) => *pending,
        other => panic!("expected a request to execute, got {other:?}"),
    }
}

#[test]
fn decodes_a_webrtc_to_sip_offer() {
    // rtpengine_offer("ICE=remove DTLS=off transport-protocol=RTP/AVP rtcp-mux-demux replace-origin
    //   replace-session-connection trust-address SDES-off codec-strip-G722 record-call=yes label=webrtc
    //   via-branch=1")
    let pending = execute(KAMAILIO_OFFER_WEBRTC_TO_SIP);
    assert_eq!(&pending.cookie[..], b"5323_1");
    assert!(
        pending.request.ignored.is_empty(),
        "{:?}",
        pending.request.ignored
    );
    let Command::Offer(offer) = pending.request.command else {
        panic!("not an offer")
    };
    assert_eq!(&offer.call_id[..], b"a84b4c76e66710@pc33.example.com");
    assert_eq!(&offer.from_tag[..], b"1928301774");
    assert_eq!(offer.to_tag, None);
    assert_eq!(offer.via_branch.as_deref(), Some(&b"z9hG4bK776asdhds"[..]));
    assert!(offer.sdp.starts_with(b"v=0\r\n"));
    assert!(offer.sdp.ends_with(b"a=ssrc:1001 cname:Vx3mQ8r2\r\n"));
    let o = offer.options;
    assert_eq!(o.ice, Some(Ice::Remove));
    assert_eq!(o.dtls, Some(Dtls::Off));
    assert_eq!(o.sdes, [Sdes::Off]);
    assert_eq!(
        o.transport_protocol,
        Some(TransportOverride::Protocol(TransportProtocol::RtpAvp))
    );
    assert_eq!(o.rtcp_mux, [RtcpMux::Demux]);
    assert!(o.has_replace(Replace::Origin) && o.has_replace(Replace::SessionConnection));
    assert_eq!(o.flags, [Flag::TrustAddress]);
    assert_eq!(o.codec.strip, [Bytes::from_static(b"G722")]);
    assert_eq!(o.record_call, Some(true));
    assert_eq!(o.label.as_deref(), Some(&b"webrtc"[..]));
    assert_eq!(o.received_from, Some("203.0.113.9".parse().unwrap()));
    assert!(o.supports_load_limit);
}

#[test]
fn decodes_a_sip_to_webrtc_answer() {
    // rtpengine_answer("ICE=force DTLS=passive UDP/TLS/RTP/SAVPF rtcp-mux-require replace-origin
    //   replace-session-connection SDES-off")
    let pending = execute(KAMAILIO_ANSWER_SIP_TO_WEBRTC);
    assert!(
        pending.request.ignored.is_empty(),
        "{:?}",
        pending.request.ignored
    );
    let Command::Answer(answer) = pending.request.command else {
        panic!("not an answer")
    };
    assert_eq!(answer.to_tag.as_deref(), Some(&b"as6c3f7a1e"[..]));
    assert!(answer.sdp.starts_with(b"v=0\r\no=root"));
    let o = answer.options;
    assert_eq!(o.ice, Some(Ice::Force));
    assert_eq!(o.dtls, Some(Dtls::Passive));
    assert_eq!(
        o.transport_protocol,
        Some(TransportOverride::Protocol(
            TransportProtocol::UdpTlsRtpSavpf
        ))
    );
    assert_eq!(o.rtcp_mux, [RtcpMux::Require]);
    assert_eq!(o.replace, [Replace::Origin, Replace::SessionConnection]);
}

#[test]
fn decodes_delete_and_query() {
    let delete = execute(KAMAILIO_DELETE);
    assert!(delete.request.ignored.is_empty());
    let Command::Delete(d) = delete.request.command else {
        panic!("not a delete")
    };
    assert_eq!(d.to_tag.as_deref(), Some(&b"as6c3f7a1e"[..]));
    assert!(!d.fatal);
    let query = execute(KAMAILIO_QUERY);
    let Command::Query(q) = query.request.command else {
        panic!("not a query")
    };
    assert_eq!(&q.call_id[..], b"a84b4c76e66710@pc33.example.com");
}

#[test]
fn decodes_rtpengine_documentation_spellings_and_reports_the_rest() {
    let pending = execute(RTPENGINE_DOCS_STYLE_OFFER);
    let Command::Offer(offer) = pending.request.command else {
        panic!("not an offer")
    };
    let o = offer.options;
    assert_eq!(
        o.transport_protocol,
        Some(TransportOverride::Protocol(TransportProtocol::RtpSavpf))
    );
    assert_eq!(
        o.flags,
        [Flag::TrustAddress, Flag::StrictSource, Flag::LoopProtect]
    );
    assert_eq!(o.sdes, [Sdes::Off]);
    assert_eq!(o.codec.mask, [Bytes::from_static(b"PCMA")]);
    assert_eq!(o.codec.transcode, [Bytes::from_static(b"opus")]);
    assert_eq!(o.replace, [Replace::Origin, Replace::SessionConnection]);
    assert_eq!(o.media_address, Some("2001:db8::6f24:65b".parse().unwrap()));
    assert_eq!(o.rtcp_mux, [RtcpMux::Offer, RtcpMux::Accept]);
    assert_eq!(
        o.direction,
        [Bytes::from_static(b"priv"), Bytes::from_static(b"pub")]
    );
    let ignored: Vec<String> = pending
        .request
        .ignored
        .iter()
        .map(Ignored::to_string)
        .collect();
    assert_eq!(
        ignored,
        [
            r#"unknown flag "frobnicate""#,
            r#"unknown key "ICE-lite" = "forward""#
        ]
    );
}

#[test]
fn every_truncation_of_a_kamailio_offer_is_answered_with_an_error() {
    let mut endpoint = NgEndpoint::new(EndpointConfig::default());
    let peer = "127.0.0.1:40000".parse().unwrap();
    let full = Bytes::from_static(KAMAILIO_OFFER_WEBRTC_TO_SIP);
    let body_start = b"5323_1 ".len();
    for cut in body_start..full.len() {
        match endpoint.handle_datagram(Instant::now(), peer, full.slice(..cut)) {
            Action::Reject { reply, .. } => assert!(reply.starts_with(b"5323_1 d6:result5:error")),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}
