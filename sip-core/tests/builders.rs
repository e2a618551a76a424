//! Building requests and responses, responses to requests (RFC 3261 §8.2.6), header editing and writing.

use bytes::Bytes;
use tandem_sip_core::{
    HeaderField, HeaderName, Message, Method, Request, Response, StatusCode, Uri, parse_message,
};

fn uri(text: &'static str) -> Uri {
    Uri::parse(&Bytes::from_static(text.as_bytes())).expect("test URI parses")
}

fn parse_request(text: &str) -> Request {
    match parse_message(Bytes::copy_from_slice(text.as_bytes())) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn reparse(message: impl Into<Message>) -> Message {
    let message = message.into();
    parse_message(message.to_bytes()).expect("written message parses")
}

fn names(request: &Request) -> Vec<String> {
    request
        .headers()
        .iter()
        .map(|f| String::from_utf8_lossy(f.raw_name()).into_owned())
        .collect()
}

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
v: SIP/2.0/UDP proxy.atlanta.example.com;branch=z9hG4bK2, SIP/2.0/UDP edge.example.com;branch=z9hG4bK3\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Timestamp: 54\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

#[test]
fn request_builder_writes_request_line_headers_and_content_length() {
    let request = Request::builder(Method::Message, uri("sip:bob@example.com"))
        .header(HeaderName::Via, "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
        .header(HeaderName::CallId, "c1")
        .header(HeaderName::ContentLength, "999")
        .header(HeaderName::ContentType, "text/plain")
        .body("hello")
        .build();
    assert_eq!(
        &request.to_bytes()[..],
        b"MESSAGE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
Call-ID: c1\r\n\
Content-Length: 5\r\n\
Content-Type: text/plain\r\n\
\r\n\
hello"
    );
}

#[test]
fn built_request_survives_write_and_parse() {
    let request = Request::builder(Method::Invite, uri("sips:bob@example.com;transport=tcp"))
        .header(HeaderName::Via, "SIP/2.0/TLS a.example.com;branch=z9hG4bK1")
        .header(HeaderName::Other(Bytes::from_static(b"X-Thing")), "1")
        .body(Bytes::from_static(b"v=0\r\n"))
        .build();
    assert_eq!(reparse(request.clone()), Message::Request(request));
}

#[test]
fn response_builder_uses_the_canonical_reason_unless_told_otherwise() {
    let response = Response::builder(StatusCode::BUSY_HERE).build();
    assert_eq!(
        &response.to_bytes()[..],
        b"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n"
    );
    let response = Response::builder(StatusCode::OK).reason("Fine").build();
    assert_eq!(&response.reason()[..], b"Fine");
}

#[test]
fn response_to_request_copies_via_from_to_call_id_cseq_in_order() {
    let request = parse_request(INVITE);
    let response = Response::from_request(&request, StatusCode::RINGING, Some("a6c85cf")).build();
    let text = String::from_utf8(response.to_bytes().to_vec()).unwrap();
    assert_eq!(
        text,
        "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
v: SIP/2.0/UDP proxy.atlanta.example.com;branch=z9hG4bK2, SIP/2.0/UDP edge.example.com;branch=z9hG4bK3\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n"
    );
}

#[test]
fn response_keeps_an_existing_to_tag() {
    let request = parse_request(&INVITE.replace(
        "To: Bob <sip:bob@biloxi.example.com>",
        "To: Bob <sip:bob@biloxi.example.com>;tag=existing",
    ));
    let response = Response::from_request(&request, StatusCode::OK, Some("new")).build();
    let to = response.headers().get(&HeaderName::To).unwrap();
    assert_eq!(
        &to.value()[..],
        b"Bob <sip:bob@biloxi.example.com>;tag=existing"
    );
}

#[test]
fn trying_copies_timestamp_and_adds_no_to_tag() {
    let request = parse_request(INVITE);
    let response = Response::from_request(&request, StatusCode::TRYING, Some("ignored")).build();
    let headers = response.headers();
    assert_eq!(
        &headers.get(&HeaderName::To).unwrap().value()[..],
        b"Bob <sip:bob@biloxi.example.com>"
    );
    assert_eq!(
        &headers.get(&HeaderName::Timestamp).unwrap().value()[..],
        b"54"
    );
    assert!(!headers.contains(&HeaderName::Contact));
    let ringing = Response::from_request(&request, StatusCode::RINGING, None).build();
    assert!(!ringing.headers().contains(&HeaderName::Timestamp));
}

#[test]
fn header_insertion_at_front_back_and_index() {
    let mut request = parse_request(INVITE);
    let headers = request.headers_mut();
    headers.push_front(HeaderField::new(
        HeaderName::Via,
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew",
    ));
    headers.push(HeaderField::new(HeaderName::UserAgent, "tandem"));
    headers.insert(
        2,
        HeaderField::new(HeaderName::RecordRoute, "<sip:p.example.com;lr>"),
    );
    headers.insert(1000, HeaderField::new(HeaderName::Server, "end"));
    let n = names(&request);
    assert_eq!(&n[..4], ["Via", "Via", "Record-Route", "v"]);
    assert_eq!(&n[n.len() - 2..], ["User-Agent", "Server"]);
    let vias: Vec<Bytes> = request
        .headers()
        .elements(HeaderName::Via)
        .map(|e| e.value)
        .collect();
    assert_eq!(vias.len(), 4);
    assert_eq!(
        &vias[0][..],
        b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew"
    );
}

#[test]
fn header_removal_of_first_and_all_of_a_name() {
    let mut request = parse_request(INVITE);
    let top = request
        .headers_mut()
        .remove_first(&HeaderName::Via)
        .unwrap();
    assert_eq!(
        &top.value()[..],
        b"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8"
    );
    assert_eq!(
        request.headers().get(&HeaderName::Via).unwrap().raw_name(),
        b"v"
    );
    assert_eq!(request.headers_mut().remove_all(&HeaderName::Via), 1);
    assert_eq!(request.headers_mut().remove_all(&HeaderName::Via), 0);
    assert_eq!(names(&request)[0], "Max-Forwards");
}

#[test]
fn header_replacement_preserves_the_order_of_the_rest() {
    let mut request = parse_request(INVITE);
    let before = names(&request);
    request
        .headers_mut()
        .replace(HeaderField::new(HeaderName::MaxForwards, "69"));
    let after = names(&request);
    assert_eq!(before, after);
    assert_eq!(
        &request
            .headers()
            .get(&HeaderName::MaxForwards)
            .unwrap()
            .value()[..],
        b"69"
    );
}

#[test]
fn set_body_updates_content_length_in_place() {
    let mut request = parse_request(INVITE);
    let position = names(&request).iter().position(|n| n == "Content-Length");
    request.set_body("a longer body");
    assert_eq!(
        &request
            .headers()
            .get(&HeaderName::ContentLength)
            .unwrap()
            .value()[..],
        b"13"
    );
    assert_eq!(
        names(&request).iter().position(|n| n == "Content-Length"),
        position
    );
    assert_eq!(reparse(request.clone()), Message::Request(request));
}

#[test]
fn parsed_message_writes_back_byte_for_byte_when_already_canonical() {
    let request = parse_request(INVITE);
    assert_eq!(&request.to_bytes()[..], INVITE.as_bytes());
}

#[test]
fn edited_message_survives_write_and_parse() {
    let mut request = parse_request(INVITE);
    request.set_uri(uri("sip:bob@192.0.2.4:5060"));
    request.headers_mut().remove_first(&HeaderName::Via);
    request.headers_mut().push_front(HeaderField::new(
        HeaderName::Via,
        "SIP/2.0/TCP p;branch=z9hG4bKx",
    ));
    assert_eq!(reparse(request.clone()), Message::Request(request));
}
