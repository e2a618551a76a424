//! Datagram parsing: realistic messages, framing by Content-Length, leniency, limits and error offsets.

use bytes::Bytes;
use tandem_sip_core::{
    HeaderName, Limits, Message, Method, ParseError, ParseErrorKind, Request, Response, StatusCode,
    TypedHeader, Uri, Version, parse_message, parse_message_head, parse_message_with,
};

const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

fn invite() -> String {
    format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\
\r\n{SDP}",
        SDP.len()
    )
}

fn parse(text: &str) -> Result<Message, ParseError> {
    parse_message(Bytes::copy_from_slice(text.as_bytes()))
}

fn request(text: &str) -> Request {
    match parse(text) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn response(text: &str) -> Response {
    match parse(text) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn error(text: &str) -> ParseError {
    match parse(text) {
        Err(e) => e,
        Ok(m) => panic!("expected an error, parsed {m:?}"),
    }
}

fn value<'a>(r: &'a Request, name: &HeaderName) -> &'a [u8] {
    r.headers().get(name).map_or(&b""[..], |f| &f.value()[..])
}

#[test]
fn parses_invite_with_sdp_body() {
    let r = request(&invite());
    assert_eq!(r.method(), &Method::Invite);
    assert_eq!(
        r.uri(),
        &Uri::parse(&Bytes::from_static(b"sip:bob@biloxi.example.com")).unwrap()
    );
    assert_eq!(r.version(), Version::SIP_2_0);
    assert_eq!(r.headers().len(), 9);
    assert_eq!(
        value(&r, &HeaderName::CallId),
        b"3848276298220188511@atlanta.example.com"
    );
    assert_eq!(value(&r, &HeaderName::CSeq), b"1 INVITE");
    assert_eq!(&r.body()[..], SDP.as_bytes());
}

#[test]
fn header_values_are_slices_of_the_received_buffer() {
    let wire = Bytes::from(invite());
    let Ok(Message::Request(r)) = parse_message(wire.clone()) else {
        panic!("not a request")
    };
    let field = r.headers().get(&HeaderName::From).unwrap();
    let range = wire.as_ptr() as usize..wire.as_ptr() as usize + wire.len();
    assert!(range.contains(&(field.value().as_ptr() as usize)));
    assert_eq!(
        &wire[field.offset()..field.offset() + field.value().len()],
        &field.value()[..]
    );
}

#[test]
fn parses_register_with_compact_forms_and_several_contacts() {
    let r = request(
        "REGISTER sips:ss2.biloxi.example.com SIP/2.0\r\n\
v: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92\r\n\
Max-Forwards: 70\r\n\
f: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH\r\n\
t: Bob <sips:bob@biloxi.example.com>\r\n\
i: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\n\
CSeq: 2 REGISTER\r\n\
m: <sips:bob@client.biloxi.example.com>;expires=3600, \"Bob, mobile\" <sips:bob@mobile.example.com>\r\n\
Contact: <sip:bob@192.0.2.4>;q=0.1\r\n\
l: 0\r\n\r\n",
    );
    assert_eq!(r.method(), &Method::Register);
    let via = r.headers().get(&HeaderName::Via).unwrap();
    assert_eq!(via.raw_name(), b"v");
    let contacts: Vec<Bytes> = r
        .headers()
        .elements(HeaderName::Contact)
        .map(|e| e.value)
        .collect();
    assert_eq!(
        contacts,
        vec![
            Bytes::from_static(b"<sips:bob@client.biloxi.example.com>;expires=3600"),
            Bytes::from_static(b"\"Bob, mobile\" <sips:bob@mobile.example.com>"),
            Bytes::from_static(b"<sip:bob@192.0.2.4>;q=0.1"),
        ]
    );
    assert!(r.body().is_empty());
}

#[test]
fn parses_200_ok_with_record_route() {
    let r = response(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n\
Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1\r\n\
Record-Route: <sip:server10.biloxi.example.com;lr>,\r\n <sip:bigbox3.site3.atlanta.example.com;lr>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&r.reason()[..], b"OK");
    assert_eq!(r.headers().get_all(&HeaderName::Via).count(), 2);
    let routes: Vec<Bytes> = r
        .headers()
        .elements(HeaderName::RecordRoute)
        .map(|e| e.value)
        .collect();
    assert_eq!(
        routes,
        vec![
            Bytes::from_static(b"<sip:server10.biloxi.example.com;lr>"),
            Bytes::from_static(b"<sip:bigbox3.site3.atlanta.example.com;lr>"),
        ]
    );
}

#[test]
fn parses_100_trying_without_body_or_content_length() {
    let r = response(
        "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nCall-ID: x\r\n\r\n",
    );
    assert_eq!(r.status(), StatusCode::TRYING);
    assert_eq!(&r.reason()[..], b"Trying");
    assert!(r.body().is_empty());
}

#[test]
fn reason_phrase_may_be_empty_with_or_without_its_space() {
    assert!(response("SIP/2.0 200 \r\n\r\n").reason().is_empty());
    assert!(response("SIP/2.0 200\r\n\r\n").reason().is_empty());
    assert_eq!(
        &response("SIP/2.0 486 Busy  Here \r\n\r\n").reason()[..],
        b"Busy  Here "
    );
}

#[test]
fn keeps_unknown_headers_with_their_spelling_and_folded_values_raw() {
    let r = request(
        "OPTIONS sip:a@b SIP/2.0\r\nX-Custom-Thing : one,\r\n two\r\nsubject:\r\n\tfolded\r\n  more \r\n\r\n",
    );
    let custom = r.headers().iter().next().unwrap();
    assert_eq!(
        custom.name(),
        &HeaderName::Other(Bytes::from_static(b"X-Custom-Thing"))
    );
    assert_eq!(custom.raw_name(), b"X-Custom-Thing");
    assert_eq!(&custom.value()[..], b"one,\r\n two");
    let subject = r.headers().get(&HeaderName::Subject).unwrap();
    assert_eq!(subject.raw_name(), b"subject");
    assert_eq!(&subject.value()[..], b"folded\r\n  more");
}

#[test]
fn accepts_bare_lf_line_endings() {
    let r = request("OPTIONS sip:a@b SIP/2.0\nCall-ID: x\nContent-Length: 4\n\nbody");
    assert_eq!(value(&r, &HeaderName::CallId), b"x");
    assert_eq!(&r.body()[..], b"body");
}

#[test]
fn skips_crlfs_before_the_start_line() {
    let r = request("\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n");
    assert_eq!(r.headers().get(&HeaderName::CallId).unwrap().offset(), 38);
}

#[test]
fn keeps_other_sip_versions_for_a_505_reply() {
    let r = request("OPTIONS sip:a@b SIP/7.0\r\n\r\n");
    assert_eq!(r.version(), Version::new(7, 0));
    assert!(!r.version().is_sip_2_0());
}

#[test]
fn truncates_body_to_content_length_on_datagrams() {
    let r = request("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabcdef");
    assert_eq!(&r.body()[..], b"abc");
}

#[test]
fn body_is_rest_of_datagram_without_content_length() {
    let r = request("MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\nabc\r\ndef");
    assert_eq!(&r.body()[..], b"abc\r\ndef");
}

#[test]
fn rejects_content_length_larger_than_the_datagram_body() {
    let text = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 9\r\n\r\nabc";
    let e = error(text);
    assert_eq!(e.kind, ParseErrorKind::ContentLengthMismatch);
    assert_eq!(e.offset, text.len());
}

#[test]
fn rejects_content_length_that_is_not_a_number() {
    let e = error("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: -3\r\n\r\n");
    assert_eq!(e, ParseError::syntax(41, "Content-Length digits"));
}

#[test]
fn rejects_request_line_without_version() {
    let e = error("INVITE sip:a@b\r\n\r\n");
    assert_eq!(
        e,
        ParseError::syntax(14, "a single SP after the Request-URI")
    );
}

#[test]
fn rejects_whitespace_inside_the_request_line() {
    let e = error("INVITE sip:a@b c SIP/2.0\r\n\r\n");
    assert_eq!(e, ParseError::syntax(15, "SIP-Version"));
    let e = error("INVITE  sip:a@b SIP/2.0\r\n\r\n");
    assert_eq!(e, ParseError::syntax(7, "Request-URI"));
    let e = error("INVITE sip:a@b SIP/2.0 \r\n\r\n");
    assert_eq!(e, ParseError::syntax(22, "end of the Request-Line"));
    let e = error("INVITE\tsip:a@b SIP/2.0\r\n\r\n");
    assert_eq!(e, ParseError::syntax(6, "a single SP after the Method"));
}

#[test]
fn rejects_malformed_request_uri_at_its_offset() {
    let e = error("INVITE sip: SIP/2.0\r\n\r\n");
    assert!(e.offset >= 7 && e.offset <= 11, "{e:?}");
}

#[test]
fn rejects_status_codes_outside_100_to_699() {
    let e = error("SIP/2.0 700 Odd\r\n\r\n");
    assert_eq!(e.kind, ParseErrorKind::OutOfRange);
    assert_eq!(e.offset, 8);
    let e = error("SIP/2.0 099 Odd\r\n\r\n");
    assert_eq!((e.kind, e.offset), (ParseErrorKind::OutOfRange, 8));
}

#[test]
fn rejects_status_codes_that_are_not_three_digits() {
    assert_eq!(
        error("SIP/2.0 2000 OK\r\n\r\n"),
        ParseError::syntax(11, "SP after the Status-Code")
    );
    assert_eq!(
        error("SIP/2.0 20 OK\r\n\r\n"),
        ParseError::syntax(8, "a three-digit Status-Code")
    );
}

#[test]
fn rejects_malformed_sip_version() {
    assert_eq!(
        error("OPTIONS sip:a@b SIP/2\r\n\r\n"),
        ParseError::syntax(21, "SIP-Version")
    );
    assert_eq!(
        error("OPTIONS sip:a@b HTTP/1.1\r\n\r\n"),
        ParseError::syntax(16, "SIP-Version")
    );
}

#[test]
fn rejects_header_line_without_colon() {
    let e = error("OPTIONS sip:a@b SIP/2.0\r\nCall-ID x\r\n\r\n");
    assert_eq!(e, ParseError::syntax(33, "':' after the header field name"));
}

#[test]
fn rejects_header_line_without_name() {
    let e = error("OPTIONS sip:a@b SIP/2.0\r\n: x\r\n\r\n");
    assert_eq!(e, ParseError::syntax(25, "header field name"));
    let e = error("OPTIONS sip:a@b SIP/2.0\r\n folded: x\r\n\r\n");
    assert_eq!(e, ParseError::syntax(25, "header field name"));
}

#[test]
fn rejects_cr_without_lf() {
    let e = error("OPTIONS sip:a@b SIP/2.0\r\nSubject: a\rb\r\n\r\n");
    assert_eq!(e, ParseError::syntax(36, "LF after CR"));
}

#[test]
fn accepts_datagram_ending_after_a_header_line_without_the_empty_line() {
    let r = request("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n");
    assert_eq!(value(&r, &HeaderName::CallId), b"x");
    assert!(r.body().is_empty());
}

#[test]
fn rejects_datagram_ending_inside_a_line() {
    let text = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x";
    let e = error(text);
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Incomplete, text.len()));
    assert_eq!(error("").kind, ParseErrorKind::Incomplete);
    assert_eq!(error("\r\n\r\n").kind, ParseErrorKind::Incomplete);
}

fn with_limits(text: &str, limits: Limits) -> ParseError {
    match parse_message_with(Bytes::copy_from_slice(text.as_bytes()), &limits) {
        Err(e) => e,
        Ok(m) => panic!("expected an error, parsed {m:?}"),
    }
}

#[test]
fn enforces_max_message_size() {
    let limits = Limits {
        max_message_size: 40,
        ..Limits::default()
    };
    let e = with_limits(&invite(), limits);
    assert_eq!(e.kind, ParseErrorKind::MessageTooLarge { limit: 40 });
    assert_eq!(e.offset, 40);
}

#[test]
fn enforces_max_headers() {
    let limits = Limits {
        max_headers: 3,
        ..Limits::default()
    };
    let text = "OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\n\t2\r\nC: 3\r\nD: 4\r\n\r\n";
    let e = with_limits(text, limits);
    assert_eq!(e.kind, ParseErrorKind::TooManyHeaders { limit: 3 });
    assert_eq!(e.offset, text.find("D:").unwrap());
    let ok = "OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\n\t2\r\nC: 3\r\n\r\n";
    assert!(parse_message_with(Bytes::from(ok), &limits).is_ok());
}

#[test]
fn enforces_max_line_length() {
    let limits = Limits {
        max_line_length: 24,
        ..Limits::default()
    };
    let text = "OPTIONS sip:a@b SIP/2.0\r\nSubject: twenty-five chars\r\n\r\n";
    let e = with_limits(text, limits);
    assert_eq!(e.kind, ParseErrorKind::LineTooLong { limit: 24 });
    assert_eq!(e.offset, 25 + 24);
    let long_start_line = with_limits(
        "OPTIONS sip:alice@atlanta.example.com SIP/2.0\r\n\r\n",
        limits,
    );
    assert_eq!(
        (long_start_line.kind, long_start_line.offset),
        (ParseErrorKind::LineTooLong { limit: 24 }, 24)
    );
}

#[test]
fn enforces_max_vias_across_fields() {
    let limits = Limits {
        max_vias: 2,
        ..Limits::default()
    };
    let text =
        "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a\r\nv: SIP/2.0/UDP b, SIP/2.0/UDP c\r\n\r\n";
    let e = with_limits(text, limits);
    assert_eq!(e.kind, ParseErrorKind::TooManyVias { limit: 2 });
    assert_eq!(e.offset, text.find("SIP/2.0/UDP b").unwrap());
}

/// A minimal typed header for these tests: a decimal number (non-list).
#[derive(Debug, PartialEq)]
struct Expires(u32);

impl TypedHeader for Expires {
    const NAME: HeaderName = HeaderName::Expires;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<Expires, ParseError> {
        match value.iter().position(|c| !c.is_ascii_digit()) {
            Some(bad) => Err(ParseError::syntax(bad, "delta-seconds")),
            None => std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Expires)
                .ok_or(ParseError::syntax(0, "delta-seconds")),
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.to_string().as_bytes());
    }
}

/// A minimal list header for these tests: Allow, one method token per element.
#[derive(Debug, PartialEq)]
struct Allow(Bytes);

impl TypedHeader for Allow {
    const NAME: HeaderName = HeaderName::Allow;
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Allow, ParseError> {
        match value.iter().position(|c| !c.is_ascii_uppercase()) {
            Some(bad) => Err(ParseError::syntax(bad, "Method")),
            None => Ok(Allow(value.clone())),
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

#[test]
fn typed_header_errors_point_into_the_message() {
    let text = "OPTIONS sip:a@b SIP/2.0\r\nExpires: 12x\r\n\r\n";
    let r = request(text);
    let e = r.headers().typed::<Expires>().unwrap().unwrap_err();
    assert_eq!(
        e,
        ParseError::syntax(text.find("12x").unwrap() + 2, "delta-seconds")
    );
}

#[test]
fn typed_returns_none_for_an_absent_header_and_the_first_value_otherwise() {
    let r = request("OPTIONS sip:a@b SIP/2.0\r\nExpires: 12\r\nExpires: 13\r\n\r\n");
    assert_eq!(r.headers().typed::<Expires>(), Some(Ok(Expires(12))));
    assert_eq!(r.headers().typed::<Allow>(), None);
    let all: Vec<_> = r.headers().typed_all::<Expires>().collect();
    assert_eq!(all, vec![Ok(Expires(12)), Ok(Expires(13))]);
}

#[test]
fn typed_list_iterates_every_element_of_every_field() {
    let text = "OPTIONS sip:a@b SIP/2.0\r\nAllow: INVITE, ACK\r\nCall-ID: x\r\nAllow: BYE,\r\n bad\r\n\r\n";
    let r = request(text);
    let all: Vec<_> = r.headers().typed_all::<Allow>().collect();
    assert_eq!(
        all,
        vec![
            Ok(Allow(Bytes::from_static(b"INVITE"))),
            Ok(Allow(Bytes::from_static(b"ACK"))),
            Ok(Allow(Bytes::from_static(b"BYE"))),
            Err(ParseError::syntax(text.find("bad").unwrap(), "Method")),
        ]
    );
}

#[test]
fn convenience_accessors_parse_the_proxy_relevant_headers() {
    let text = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n\
v: SIP/2.0/TCP bigbox3.site3.atlanta.example.com:5070;branch=z9hG4bK77ef4c2312983.1\r\n\
Record-Route: <sip:server10.biloxi.example.com;lr>, <sip:bigbox3.site3.atlanta.example.com;lr>\r\n\
Max-Forwards: 68\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.4>, *\r\n\
Content-Length: 0\r\n\r\n";
    let r = response(text);
    let h = r.headers();
    let top = h.via().unwrap().unwrap();
    assert_eq!(top.branch(), Some(&b"z9hG4bK4b43c2ff8.1"[..]));
    let ports: Vec<Option<u16>> = h.vias().map(|v| v.unwrap().port()).collect();
    assert_eq!(ports, vec![None, Some(5070)]);
    assert_eq!(h.from().unwrap().unwrap().tag(), Some(&b"1928301774"[..]));
    assert_eq!(h.to().unwrap().unwrap().tag(), Some(&b"a6c85cf"[..]));
    assert_eq!(
        &h.call_id().unwrap().unwrap().as_bytes()[..],
        b"a84b4c76e66710"
    );
    let cseq = h.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, Method::Invite));
    assert_eq!(h.max_forwards().unwrap().unwrap().0, 68);
    assert_eq!(h.content_length().unwrap().unwrap().0, 0);
    assert_eq!(h.record_routes().count(), 2);
    assert_eq!(h.routes().count(), 0);
    let contacts: Vec<bool> = h
        .contacts()
        .map(|c| c.unwrap().address().is_some())
        .collect();
    assert_eq!(contacts, vec![true, false]);
}

#[test]
fn convenience_accessor_errors_point_into_the_message() {
    let text = "OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 256\r\nCSeq: x OPTIONS\r\n\r\n";
    let r = request(text);
    let e = r.headers().max_forwards().unwrap().unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::OutOfRange);
    assert_eq!(e.offset, text.find("256").unwrap());
    let e = r.headers().cseq().unwrap().unwrap_err();
    assert_eq!(e.offset, text.find("x OPTIONS").unwrap());
    assert!(r.headers().via().is_none());
}

#[test]
fn head_only_parse_recovers_headers_when_body_framing_fails() {
    for length in ["9999", "-999"] {
        let text = format!(
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nContent-Length: {length}\r\n\r\nv=0\r\n"
        );
        let wire = Bytes::from(text);
        assert!(parse_message(wire.clone()).is_err());
        let head = parse_message_head(wire, &Limits::default()).unwrap();
        assert!(head.body().is_empty());
        assert_eq!(head.headers().len(), 3);
        assert!(head.headers().cseq().unwrap().is_ok());
    }
}
