//! Dialogs at the UAS and requests received within a dialog (RFC 3261 §12.1.1, §12.2.2, §14, §15.1.2):
//! route set order, CSeq ordering (500), glare (491), overlapping INVITEs, target refresh, 481, and both ends
//! of a dialog talking to each other.

use bytes::Bytes;
use std::time::Duration;
use tandem_sip_core::dialog::{RequestAction, ResponseAction, Role, unknown_dialog_response};
use tandem_sip_core::header::RetryAfter;
use tandem_sip_core::{
    Dialog, DialogError, DialogState, HeaderName, Host, Message, Method, Request, Response,
    StatusCode, Transport, Uri, Via, parse_message,
};

const CALL_ID: &str = "3848276298220188511@atlanta.example.com";
const ALICE_TAG: &str = "9fxced76sl";
const BOB_TAG: &str = "8321234356";

fn parse(text: &str) -> Message {
    let wire = text.replace('\n', "\r\n");
    parse_message(Bytes::from(wire)).expect("test message parses")
}

fn request(text: &str) -> Request {
    match parse(text) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn wire<M: Into<Message>>(message: M) -> Message {
    parse_message(message.into().to_bytes()).expect("built message parses")
}

fn wire_request(request: Request) -> Request {
    match wire(request) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn wire_response(response: Response) -> Response {
    match wire(response) {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

/// The INVITE as Bob receives it, after two record-routing proxies.
fn invite_at_bob(from_tag: &str) -> Request {
    request(&format!(
        "INVITE sip:bob@client.biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP ss2.biloxi.example.com;branch=z9hG4bK721e4.1
Via: SIP/2.0/UDP ss1.atlanta.example.com;branch=z9hG4bK2d4790.1
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 68
Record-Route: <sip:ss2.biloxi.example.com;lr>, <sip:ss1.atlanta.example.com;lr>
From: Alice <sip:alice@atlanta.example.com>{from_tag}
To: Bob <sip:bob@biloxi.example.com>
Call-ID: {CALL_ID}
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=udp>
Content-Length: 0

"
    ))
}

/// Bob's answer to `invite`, copying Record-Route as a UAS must (RFC 3261 §12.1.1).
fn answer(invite: &Request, status: StatusCode) -> Response {
    let mut builder = Response::from_request(invite, status, Some(BOB_TAG));
    for rr in invite.headers().get_all(&HeaderName::RecordRoute) {
        builder = builder.field(rr.clone());
    }
    builder
        .header(
            HeaderName::Contact,
            "<sip:bob@client.biloxi.example.com;transport=udp>",
        )
        .build()
}

fn alice_tag() -> String {
    format!(";tag={ALICE_TAG}")
}

fn via(host: &'static str) -> Via {
    Via::new(
        Transport::Udp,
        Host::Domain(Bytes::from_static(host.as_bytes())),
        None,
    )
}

/// Both ends of one confirmed dialog: Alice (UAC) and Bob (UAS).
fn call() -> (Dialog, Dialog) {
    let invite = invite_at_bob(&alice_tag());
    let ok = answer(&invite, StatusCode::OK);
    let bob = Dialog::new_uas(&invite, &ok).unwrap();
    // Alice's own INVITE differs only in the hop-by-hop headers, which the dialog does not read.
    let alice = Dialog::new_uac(&invite, &wire_response(ok)).unwrap();
    (alice, bob)
}

fn text(uri: &Uri) -> String {
    uri.to_string()
}

fn header(request: &Request, name: HeaderName) -> Vec<String> {
    request
        .headers()
        .get_all(&name)
        .map(|f| String::from_utf8_lossy(f.value()).into_owned())
        .collect()
}

/// A request Alice sends in the dialog, with CSeq `seq`, as Bob receives it.
fn from_alice(method: &str, seq: u32, extra: &str) -> Request {
    request(&format!(
        "{method} sip:bob@client.biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK{method}{seq}
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
To: Bob <sip:bob@biloxi.example.com>;tag={BOB_TAG}
Call-ID: {CALL_ID}
CSeq: {seq} {method}
{extra}Content-Length: 0

"
    ))
}

#[test]
fn uas_dialog_keeps_the_record_route_order_and_the_request_contact() {
    let invite = invite_at_bob(&alice_tag());
    let ringing = answer(&invite, StatusCode::RINGING);
    let dialog = Dialog::new_uas(&invite, &ringing).unwrap();
    assert_eq!(dialog.role(), Role::Uas);
    assert_eq!(dialog.state(), DialogState::Early);
    assert_eq!(dialog.id().local_tag.as_ref(), BOB_TAG.as_bytes());
    assert_eq!(dialog.id().remote_tag.as_ref(), ALICE_TAG.as_bytes());
    assert_eq!(dialog.remote_seq(), Some(1));
    assert_eq!(dialog.local_seq(), None);
    assert!(!dialog.is_call_id_owner());
    let routes: Vec<String> = dialog
        .route_set()
        .routes()
        .iter()
        .map(|r| text(r.uri()))
        .collect();
    assert_eq!(
        routes,
        [
            "sip:ss2.biloxi.example.com;lr",
            "sip:ss1.atlanta.example.com;lr"
        ]
    );
    assert_eq!(
        text(dialog.remote_target()),
        "sip:alice@client.atlanta.example.com;transport=udp"
    );
}

#[test]
fn uas_dialog_needs_a_to_tag_and_a_contact() {
    let invite = invite_at_bob(&alice_tag());
    let untagged = Response::from_request(&invite, StatusCode::RINGING, None).build();
    assert_eq!(
        Dialog::new_uas(&invite, &untagged).unwrap_err(),
        DialogError::MissingTag(HeaderName::To)
    );
    let mut no_contact = invite.clone();
    no_contact.headers_mut().remove_all(&HeaderName::Contact);
    let ringing = answer(&no_contact, StatusCode::RINGING);
    assert_eq!(
        Dialog::new_uas(&no_contact, &ringing).unwrap_err(),
        DialogError::MissingContact
    );
}

#[test]
fn sending_2xx_confirms_and_sending_an_error_terminates_the_early_uas_dialog() {
    let invite = invite_at_bob(&alice_tag());
    let mut dialog = Dialog::new_uas(&invite, &answer(&invite, StatusCode::RINGING)).unwrap();
    dialog
        .handle_sent_response(&answer(&invite, StatusCode::OK))
        .unwrap();
    assert_eq!(dialog.state(), DialogState::Confirmed);

    let mut dialog = Dialog::new_uas(&invite, &answer(&invite, StatusCode::RINGING)).unwrap();
    dialog
        .handle_sent_response(&answer(&invite, StatusCode::BUSY_HERE))
        .unwrap();
    assert_eq!(dialog.state(), DialogState::Terminated);
}

#[test]
fn uas_first_request_starts_the_local_cseq_and_mirrors_from_and_to() {
    let (_, mut bob) = call();
    let bye = wire_request(
        bob.request(Method::Bye, via("client.biloxi.example.com"))
            .unwrap()
            .build(),
    );
    assert_eq!(header(&bye, HeaderName::CSeq), ["1 BYE"]);
    assert_eq!(
        header(&bye, HeaderName::From),
        [format!("Bob <sip:bob@biloxi.example.com>;tag={BOB_TAG}")]
    );
    assert_eq!(
        header(&bye, HeaderName::To),
        [format!(
            "Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}"
        )]
    );
    assert_eq!(
        text(bye.uri()),
        "sip:alice@client.atlanta.example.com;transport=udp"
    );
    assert_eq!(
        header(&bye, HeaderName::Route),
        [
            "<sip:ss2.biloxi.example.com;lr>",
            "<sip:ss1.atlanta.example.com;lr>"
        ]
    );
    assert_eq!(bob.local_seq(), Some(1));
}

#[test]
fn first_remote_cseq_is_recorded_and_a_lower_one_gets_500() {
    let (mut alice, mut bob) = call();
    assert_eq!(alice.remote_seq(), None);
    // Bob's first request: Alice records its CSeq, whatever the number.
    let info = wire_request(
        bob.request(Method::Info, via("client.biloxi.example.com"))
            .unwrap()
            .build(),
    );
    assert_eq!(alice.handle_request(&info), Ok(RequestAction::Accept));
    assert_eq!(alice.remote_seq(), Some(1));

    // At Bob: CSeq 5, then 3 (out of order), then 5 again with another method (allowed).
    assert_eq!(
        bob.handle_request(&from_alice("INFO", 5, "")),
        Ok(RequestAction::Accept)
    );
    assert_eq!(bob.remote_seq(), Some(5));
    let late = from_alice("INFO", 3, "");
    let Ok(RequestAction::Reject(rejection)) = bob.handle_request(&late) else {
        panic!("an out of order request is rejected");
    };
    assert_eq!(rejection.status, StatusCode::SERVER_INTERNAL_ERROR);
    assert_eq!(bob.remote_seq(), Some(5));
    let response = rejection.response(&late, None);
    assert_eq!(response.status(), StatusCode::SERVER_INTERNAL_ERROR);
    assert_eq!(
        response
            .headers()
            .get(&HeaderName::CSeq)
            .unwrap()
            .value()
            .as_ref(),
        b"3 INFO"
    );
    assert_eq!(
        bob.handle_request(&from_alice("OPTIONS", 5, "")),
        Ok(RequestAction::Accept)
    );
}

#[test]
fn reinvite_glare_gets_491_at_both_ends_with_backoff_by_call_id_owner() {
    let (mut alice, mut bob) = call();
    let alice_reinvite = wire_request(
        alice
            .request(Method::Invite, via("client.atlanta.example.com"))
            .unwrap()
            .build(),
    );
    let bob_reinvite = wire_request(
        bob.request(Method::Invite, via("client.biloxi.example.com"))
            .unwrap()
            .build(),
    );
    let Ok(RequestAction::Reject(at_bob)) = bob.handle_request(&alice_reinvite) else {
        panic!("glare at Bob");
    };
    let Ok(RequestAction::Reject(at_alice)) = alice.handle_request(&bob_reinvite) else {
        panic!("glare at Alice");
    };
    assert_eq!(at_bob.status, StatusCode::REQUEST_PENDING);
    assert_eq!(at_alice.status, StatusCode::REQUEST_PENDING);

    let to_alice = wire_response(at_bob.response(&alice_reinvite, None));
    let to_bob = wire_response(at_alice.response(&bob_reinvite, None));
    assert_eq!(
        alice.handle_response(&to_alice),
        Ok(ResponseAction::RetryAfter(
            Duration::from_millis(2100)..=Duration::from_secs(4)
        ))
    );
    assert_eq!(
        bob.handle_response(&to_bob),
        Ok(ResponseAction::RetryAfter(
            Duration::ZERO..=Duration::from_secs(2)
        ))
    );
    // Bob retries first (shorter range) and now gets through.
    let retry = wire_request(
        bob.request(Method::Invite, via("client.biloxi.example.com"))
            .unwrap()
            .build(),
    );
    assert_eq!(alice.handle_request(&retry), Ok(RequestAction::Accept));
}

#[test]
fn second_invite_before_the_first_is_answered_gets_500_with_retry_after() {
    let (_, mut bob) = call();
    let first = from_alice("INVITE", 2, "");
    assert_eq!(bob.handle_request(&first), Ok(RequestAction::Accept));
    let second = from_alice("INVITE", 3, "");
    let Ok(RequestAction::Reject(rejection)) = bob.handle_request(&second) else {
        panic!("an overlapping INVITE is rejected");
    };
    assert_eq!(rejection.status, StatusCode::SERVER_INTERNAL_ERROR);
    let response = wire_response(rejection.response(&second, None));
    let retry_after = response
        .headers()
        .typed::<RetryAfter>()
        .expect("Retry-After is set")
        .unwrap();
    assert!(retry_after.seconds() <= 10);

    // Once the first INVITE is answered, a new one is accepted.
    let ok = Response::from_request(&first, StatusCode::OK, None).build();
    bob.handle_sent_response(&ok).unwrap();
    assert_eq!(
        bob.handle_request(&from_alice("INVITE", 4, "")),
        Ok(RequestAction::Accept)
    );
}

#[test]
fn incoming_reinvite_and_update_refresh_the_remote_target_but_info_does_not() {
    let (_, mut bob) = call();
    let info = from_alice("INFO", 2, "Contact: <sip:alice@info.example.com>\n");
    bob.handle_request(&info).unwrap();
    assert_eq!(
        text(bob.remote_target()),
        "sip:alice@client.atlanta.example.com;transport=udp"
    );
    let reinvite = from_alice("INVITE", 3, "Contact: <sip:alice@198.51.100.9>\n");
    bob.handle_request(&reinvite).unwrap();
    assert_eq!(text(bob.remote_target()), "sip:alice@198.51.100.9");
    bob.handle_sent_response(&Response::from_request(&reinvite, StatusCode::OK, None).build())
        .unwrap();
    let update = from_alice("UPDATE", 4, "Contact: <sip:alice@203.0.113.5:5070>\n");
    bob.handle_request(&update).unwrap();
    assert_eq!(text(bob.remote_target()), "sip:alice@203.0.113.5:5070");
}

#[test]
fn request_for_an_unknown_dialog_gets_481_but_an_ack_gets_nothing() {
    let (_, mut bob) = call();
    let stray = request(&format!(
        "BYE sip:bob@client.biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bKstray
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
To: Bob <sip:bob@biloxi.example.com>;tag=forgotten
Call-ID: {CALL_ID}
CSeq: 9 BYE
Content-Length: 0

"
    ));
    assert_eq!(bob.handle_request(&stray), Err(DialogError::NotThisDialog));
    let response = unknown_dialog_response(&stray).expect("a 481 is due");
    assert_eq!(response.status(), StatusCode::CALL_DOES_NOT_EXIST);
    assert_eq!(
        response
            .headers()
            .get(&HeaderName::To)
            .unwrap()
            .value()
            .as_ref(),
        b"Bob <sip:bob@biloxi.example.com>;tag=forgotten"
    );
    let ack = from_alice("ACK", 1, "");
    assert!(unknown_dialog_response(&ack).is_none());
    let out_of_dialog = invite_at_bob(&alice_tag());
    assert!(unknown_dialog_response(&out_of_dialog).is_none());
}

#[test]
fn bye_round_trip_terminates_both_ends() {
    let (mut alice, mut bob) = call();
    let bye = wire_request(
        alice
            .request(Method::Bye, via("client.atlanta.example.com"))
            .unwrap()
            .build(),
    );
    assert_eq!(bob.handle_request(&bye), Ok(RequestAction::Accept));
    let ok = wire_response(Response::from_request(&bye, StatusCode::OK, None).build());
    bob.handle_sent_response(&ok).unwrap();
    assert_eq!(bob.state(), DialogState::Terminated);
    assert_eq!(alice.handle_response(&ok), Ok(ResponseAction::Terminated));
    assert_eq!(alice.state(), DialogState::Terminated);
    // A straggler in the terminated dialog is told it no longer exists.
    let Ok(RequestAction::Reject(rejection)) = bob.handle_request(&from_alice("INFO", 9, ""))
    else {
        panic!("a request in a terminated dialog is rejected");
    };
    assert_eq!(rejection.status, StatusCode::CALL_DOES_NOT_EXIST);
}

#[test]
fn ack_from_the_peer_is_accepted_without_touching_the_remote_cseq() {
    let (_, mut bob) = call();
    assert_eq!(
        bob.handle_request(&from_alice("ACK", 1, "")),
        Ok(RequestAction::Accept)
    );
    assert_eq!(bob.remote_seq(), Some(1));
}

#[test]
fn rfc2543_peer_without_from_tag_still_matches_its_dialog() {
    let invite = invite_at_bob("");
    let mut bob = Dialog::new_uas(&invite, &answer(&invite, StatusCode::OK)).unwrap();
    assert!(bob.id().remote_tag.is_empty());
    let bye = request(&format!(
        "BYE sip:bob@client.biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bKold
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>
To: Bob <sip:bob@biloxi.example.com>;tag={BOB_TAG}
Call-ID: {CALL_ID}
CSeq: 2 BYE
Content-Length: 0

"
    ));
    assert_eq!(bob.handle_request(&bye), Ok(RequestAction::Accept));
}
