//! Dialogs at the UAC (RFC 3261 §12.1.2, §12.2.1, §13.2.2.4, §14.1): creation from 1xx/2xx, forking, route set
//! reversal, requests within the dialog with loose and strict routing, remote target refresh, ACK for 2xx and
//! retransmitted 2xx, 491 backoff, termination.

use bytes::Bytes;
use std::time::Duration;
use tandem_sip_core::dialog::{ResponseAction, cancel_request, random_delay};
use tandem_sip_core::{
    Dialog, DialogError, DialogState, HeaderName, Message, Method, Request, Response, StatusCode,
    Transport, Uri, Via, parse_message,
};

const CALL_ID: &str = "3848276298220188511@atlanta.example.com";
const ALICE_TAG: &str = "9fxced76sl";

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

fn response(text: &str) -> Response {
    match parse(text) {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

/// Alice's INVITE to Bob (RFC 3665 §3.2 style).
fn invite() -> Request {
    request(&format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
To: Bob <sip:bob@biloxi.example.com>
Call-ID: {CALL_ID}
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=udp>
Content-Length: 0

"
    ))
}

/// A response to an INVITE (or another request) as Alice receives it, through two loose routers.
fn reply(status: u16, method: &str, cseq: u32, to_tag: Option<&str>, extra: &str) -> Response {
    let tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    response(&format!(
        "SIP/2.0 {status} Whatever
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101
From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
To: Bob <sip:bob@biloxi.example.com>{tag}
Call-ID: {CALL_ID}
CSeq: {cseq} {method}
{extra}Content-Length: 0

"
    ))
}

const ROUTED: &str =
    "Record-Route: <sip:ss2.biloxi.example.com;lr>, <sip:ss1.atlanta.example.com;lr>
Contact: <sip:bob@client.biloxi.example.com;transport=udp>
";

fn via() -> Via {
    Via::new(
        Transport::Udp,
        tandem_sip_core::Host::Domain(Bytes::from_static(b"client.atlanta.example.com")),
        Some(5060),
    )
}

fn confirmed_dialog() -> Dialog {
    Dialog::new_uac(
        &invite(),
        &reply(200, "INVITE", 1, Some("8321234356"), ROUTED),
    )
    .unwrap()
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

/// The request as the peer would receive it.
fn on_the_wire(request: &Request) -> Request {
    match parse_message(request.to_bytes()).expect("built request parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

#[test]
fn uac_dialog_from_180_with_tag_is_early_then_confirmed_by_200() {
    let ringing = reply(180, "INVITE", 1, Some("8321234356"), ROUTED);
    let mut dialog = Dialog::new_uac(&invite(), &ringing).unwrap();
    assert_eq!(dialog.state(), DialogState::Early);
    assert_eq!(dialog.id().call_id.as_bytes().as_ref(), CALL_ID.as_bytes());
    assert_eq!(dialog.id().local_tag.as_ref(), ALICE_TAG.as_bytes());
    assert_eq!(dialog.id().remote_tag.as_ref(), b"8321234356");
    assert_eq!(dialog.local_seq(), Some(1));
    assert_eq!(dialog.remote_seq(), None);
    assert!(dialog.is_call_id_owner());
    assert!(!dialog.is_secure());
    assert_eq!(
        text(dialog.remote_target()),
        "sip:bob@client.biloxi.example.com;transport=udp"
    );

    let ok = reply(200, "INVITE", 1, Some("8321234356"), ROUTED);
    assert_eq!(
        dialog.handle_response(&ok),
        Ok(ResponseAction::SendAck { cseq: 1 })
    );
    assert_eq!(dialog.state(), DialogState::Confirmed);
}

#[test]
fn responses_that_cannot_create_a_dialog_are_refused() {
    let no_tag = reply(180, "INVITE", 1, None, ROUTED);
    assert_eq!(
        Dialog::new_uac(&invite(), &no_tag).unwrap_err(),
        DialogError::MissingTag(HeaderName::To)
    );
    let trying = reply(100, "INVITE", 1, Some("x"), "");
    assert!(matches!(
        Dialog::new_uac(&invite(), &trying),
        Err(DialogError::NotDialogCreating(s)) if s == StatusCode::TRYING
    ));
    let busy = reply(486, "INVITE", 1, Some("x"), "");
    assert!(matches!(
        Dialog::new_uac(&invite(), &busy),
        Err(DialogError::NotDialogCreating(_))
    ));
    let other_cseq = reply(200, "INVITE", 2, Some("x"), ROUTED);
    assert_eq!(
        Dialog::new_uac(&invite(), &other_cseq).unwrap_err(),
        DialogError::ResponseMismatch
    );
    let no_contact = reply(200, "INVITE", 1, Some("x"), "");
    assert_eq!(
        Dialog::new_uac(&invite(), &no_contact).unwrap_err(),
        DialogError::MissingContact
    );
}

#[test]
fn rfc2543_2xx_without_to_tag_makes_an_empty_remote_tag() {
    let dialog = Dialog::new_uac(&invite(), &reply(200, "INVITE", 1, None, ROUTED)).unwrap();
    assert!(dialog.id().remote_tag.is_empty());
    assert_eq!(dialog.state(), DialogState::Confirmed);
}

#[test]
fn forked_180s_create_distinct_early_dialogs() {
    let fork_a = reply(
        180,
        "INVITE",
        1,
        Some("tagA"),
        "Contact: <sip:bob@desk.biloxi.example.com>\n",
    );
    let fork_b = reply(
        180,
        "INVITE",
        1,
        Some("tagB"),
        "Contact: <sip:bob@mobile.biloxi.example.com>\n",
    );
    let mut a = Dialog::new_uac(&invite(), &fork_a).unwrap();
    let b = Dialog::new_uac(&invite(), &fork_b).unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id().call_id, b.id().call_id);
    assert_eq!(a.id().local_tag, b.id().local_tag);
    assert_eq!(text(a.remote_target()), "sip:bob@desk.biloxi.example.com");
    assert_eq!(text(b.remote_target()), "sip:bob@mobile.biloxi.example.com");

    // The mobile answers: its 2xx is not for the desk phone's dialog, and confirms its own.
    let answer_b = reply(
        200,
        "INVITE",
        1,
        Some("tagB"),
        "Contact: <sip:bob@mobile.biloxi.example.com>\n",
    );
    assert_eq!(
        a.handle_response(&answer_b),
        Err(DialogError::NotThisDialog)
    );
    let mut b = b;
    assert_eq!(
        b.handle_response(&answer_b),
        Ok(ResponseAction::SendAck { cseq: 1 })
    );
    assert_eq!(b.state(), DialogState::Confirmed);
    assert_eq!(a.state(), DialogState::Early);
    // A 2xx from a fork never seen provisionally creates its dialog directly.
    let fork_c = reply(
        200,
        "INVITE",
        1,
        Some("tagC"),
        "Contact: <sip:bob@tablet.biloxi.example.com>\n",
    );
    let c = Dialog::new_uac(&invite(), &fork_c).unwrap();
    assert_eq!(c.state(), DialogState::Confirmed);
    assert_ne!(c.id(), b.id());
}

#[test]
fn uac_route_set_is_the_record_route_reversed() {
    let dialog = confirmed_dialog();
    let routes: Vec<String> = dialog
        .route_set()
        .routes()
        .iter()
        .map(|r| text(r.uri()))
        .collect();
    assert_eq!(
        routes,
        [
            "sip:ss1.atlanta.example.com;lr",
            "sip:ss2.biloxi.example.com;lr"
        ]
    );
    assert_eq!(text(dialog.next_hop()), "sip:ss1.atlanta.example.com;lr");
}

#[test]
fn early_dialog_route_set_is_recomputed_from_the_2xx() {
    let ringing = reply(
        180,
        "INVITE",
        1,
        Some("t"),
        "Record-Route: <sip:old.example.com;lr>\nContact: <sip:bob@a.example.com>\n",
    );
    let mut dialog = Dialog::new_uac(&invite(), &ringing).unwrap();
    dialog
        .handle_response(&reply(200, "INVITE", 1, Some("t"), ROUTED))
        .unwrap();
    assert_eq!(dialog.route_set().routes().len(), 2);
    assert_eq!(text(dialog.next_hop()), "sip:ss1.atlanta.example.com;lr");
}

#[test]
fn bye_with_loose_route_targets_the_remote_target_and_lists_the_routes() {
    let mut dialog = confirmed_dialog();
    let bye = on_the_wire(&dialog.request(Method::Bye, via()).unwrap().build());
    assert_eq!(*bye.method(), Method::Bye);
    assert_eq!(
        text(bye.uri()),
        "sip:bob@client.biloxi.example.com;transport=udp"
    );
    assert_eq!(
        header(&bye, HeaderName::Route),
        [
            "<sip:ss1.atlanta.example.com;lr>",
            "<sip:ss2.biloxi.example.com;lr>"
        ]
    );
    assert_eq!(
        header(&bye, HeaderName::From),
        [format!(
            "Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}"
        )]
    );
    assert_eq!(
        header(&bye, HeaderName::To),
        ["Bob <sip:bob@biloxi.example.com>;tag=8321234356"]
    );
    assert_eq!(header(&bye, HeaderName::CallId), [CALL_ID]);
    assert_eq!(header(&bye, HeaderName::CSeq), ["2 BYE"]);
    assert_eq!(header(&bye, HeaderName::MaxForwards), ["70"]);
    assert!(header(&bye, HeaderName::Contact).is_empty());
    let top = bye.headers().via().unwrap().unwrap();
    assert!(top.has_rfc3261_branch());
    assert_eq!(dialog.local_seq(), Some(2));
}

#[test]
fn bye_with_strict_route_puts_the_first_route_in_the_request_uri() {
    let strict = "Record-Route: <sip:ss2.biloxi.example.com;lr>, <sip:ss1.atlanta.example.com>
Contact: <sip:bob@client.biloxi.example.com>
";
    let mut dialog =
        Dialog::new_uac(&invite(), &reply(200, "INVITE", 1, Some("t"), strict)).unwrap();
    assert!(dialog.route_set().is_strict());
    let bye = on_the_wire(&dialog.request(Method::Bye, via()).unwrap().build());
    assert_eq!(text(bye.uri()), "sip:ss1.atlanta.example.com");
    assert_eq!(
        header(&bye, HeaderName::Route),
        [
            "<sip:ss2.biloxi.example.com;lr>",
            "<sip:bob@client.biloxi.example.com>"
        ]
    );
    assert_eq!(text(dialog.next_hop()), "sip:ss1.atlanta.example.com");
}

#[test]
fn dialog_without_route_set_sends_straight_to_the_remote_target() {
    let mut dialog = Dialog::new_uac(
        &invite(),
        &reply(
            200,
            "INVITE",
            1,
            Some("t"),
            "Contact: <sip:bob@192.0.2.4>\n",
        ),
    )
    .unwrap();
    let bye = dialog.request(Method::Bye, via()).unwrap().build();
    assert_eq!(text(bye.uri()), "sip:bob@192.0.2.4");
    assert!(header(&bye, HeaderName::Route).is_empty());
    assert_eq!(text(dialog.next_hop()), "sip:bob@192.0.2.4");
}

#[test]
fn reinvite_2xx_refreshes_the_remote_target() {
    let mut dialog = confirmed_dialog();
    let reinvite = dialog.request(Method::Invite, via()).unwrap().build();
    assert_eq!(header(&reinvite, HeaderName::CSeq), ["2 INVITE"]);
    assert_eq!(
        header(&reinvite, HeaderName::Contact),
        ["<sip:alice@client.atlanta.example.com;transport=udp>"]
    );
    let moved = reply(
        200,
        "INVITE",
        2,
        Some("8321234356"),
        "Contact: <sip:bob@198.51.100.7:5062>\n",
    );
    assert_eq!(
        dialog.handle_response(&moved),
        Ok(ResponseAction::SendAck { cseq: 2 })
    );
    assert_eq!(text(dialog.remote_target()), "sip:bob@198.51.100.7:5062");
    let ack = dialog.ack(&moved, via()).unwrap().build();
    assert_eq!(text(ack.uri()), "sip:bob@198.51.100.7:5062");
    assert_eq!(header(&ack, HeaderName::CSeq), ["2 ACK"]);
}

#[test]
fn update_2xx_refreshes_the_remote_target_but_info_2xx_does_not() {
    let mut dialog = confirmed_dialog();
    let _ = dialog.request(Method::Info, via()).unwrap();
    let info_ok = reply(
        200,
        "INFO",
        2,
        Some("8321234356"),
        "Contact: <sip:bob@info.example.com>\n",
    );
    assert_eq!(
        dialog.handle_response(&info_ok),
        Ok(ResponseAction::Continue)
    );
    assert_eq!(
        text(dialog.remote_target()),
        "sip:bob@client.biloxi.example.com;transport=udp"
    );
    let update = dialog.request(Method::Update, via()).unwrap().build();
    assert_eq!(header(&update, HeaderName::CSeq), ["3 UPDATE"]);
    assert_eq!(header(&update, HeaderName::Contact).len(), 1);
    let update_ok = reply(
        200,
        "UPDATE",
        3,
        Some("8321234356"),
        "Contact: <sip:bob@update.example.com>\n",
    );
    dialog.handle_response(&update_ok).unwrap();
    assert_eq!(text(dialog.remote_target()), "sip:bob@update.example.com");
}

#[test]
fn early_dialog_remote_target_follows_provisional_contacts() {
    let first = reply(180, "INVITE", 1, Some("t"), "");
    let mut dialog = Dialog::new_uac(&invite(), &first).unwrap();
    // No Contact yet: requests go to the Request-URI of the INVITE.
    assert_eq!(text(dialog.remote_target()), "sip:bob@biloxi.example.com");
    let second = reply(
        183,
        "INVITE",
        1,
        Some("t"),
        "Contact: <sip:bob@gw.example.com>\n",
    );
    dialog.handle_response(&second).unwrap();
    assert_eq!(text(dialog.remote_target()), "sip:bob@gw.example.com");
}

#[test]
fn every_request_method_carries_the_dialog_headers_and_a_fresh_cseq() {
    let mut dialog = confirmed_dialog();
    let cases = [
        (Method::Info, false),
        (Method::Prack, false),
        (Method::Notify, true),
        (Method::Refer, true),
        (Method::Update, true),
        (Method::Message, false),
    ];
    for (n, (method, contact)) in cases.into_iter().enumerate() {
        let built = on_the_wire(&dialog.request(method.clone(), via()).unwrap().build());
        assert_eq!(
            header(&built, HeaderName::CSeq),
            [format!("{} {}", n + 2, method)]
        );
        assert_eq!(header(&built, HeaderName::CallId), [CALL_ID]);
        assert_eq!(header(&built, HeaderName::Route).len(), 2);
        assert_eq!(
            !header(&built, HeaderName::Contact).is_empty(),
            contact,
            "{method}"
        );
    }
}

#[test]
fn ack_and_cancel_do_not_take_a_new_cseq() {
    let mut dialog = confirmed_dialog();
    assert_eq!(
        dialog.request(Method::Ack, via()).unwrap_err(),
        DialogError::UnsupportedMethod(Method::Ack)
    );
    assert_eq!(
        dialog.request(Method::Cancel, via()).unwrap_err(),
        DialogError::UnsupportedMethod(Method::Cancel)
    );
    let reinvite = dialog.request(Method::Invite, via()).unwrap().build();
    let cancel = cancel_request(&reinvite).unwrap();
    assert_eq!(*cancel.method(), Method::Cancel);
    assert_eq!(cancel.uri(), reinvite.uri());
    assert_eq!(header(&cancel, HeaderName::CSeq), ["2 CANCEL"]);
    assert_eq!(
        header(&cancel, HeaderName::Via),
        header(&reinvite, HeaderName::Via)
    );
    assert_eq!(
        header(&cancel, HeaderName::Route),
        header(&reinvite, HeaderName::Route)
    );
    assert_eq!(
        header(&cancel, HeaderName::To),
        header(&reinvite, HeaderName::To)
    );
    let ok = reply(200, "INVITE", 2, Some("8321234356"), "");
    dialog.handle_response(&ok).unwrap();
    let _ = dialog.ack(&ok, via()).unwrap();
    assert_eq!(dialog.local_seq(), Some(2));
}

#[test]
fn ack_for_2xx_reuses_the_invite_cseq_and_a_retransmitted_2xx_gets_the_same_ack() {
    let ok = reply(200, "INVITE", 1, Some("8321234356"), ROUTED);
    let mut dialog = Dialog::new_uac(&invite(), &ok).unwrap();
    let ack = on_the_wire(&dialog.ack(&ok, via()).unwrap().build());
    assert_eq!(*ack.method(), Method::Ack);
    assert_eq!(header(&ack, HeaderName::CSeq), ["1 ACK"]);
    assert_eq!(
        text(ack.uri()),
        "sip:bob@client.biloxi.example.com;transport=udp"
    );
    assert_eq!(header(&ack, HeaderName::Route).len(), 2);
    assert_eq!(
        header(&ack, HeaderName::To),
        ["Bob <sip:bob@biloxi.example.com>;tag=8321234356"]
    );
    dialog.ack_sent(&ack);

    assert_eq!(
        dialog.handle_response(&ok),
        Ok(ResponseAction::ResendAck(Box::new(ack.clone())))
    );
    // A later re-INVITE's 2xx is new and needs its own ACK.
    let _ = dialog.request(Method::Invite, via()).unwrap();
    let ok2 = reply(200, "INVITE", 2, Some("8321234356"), "");
    assert_eq!(
        dialog.handle_response(&ok2),
        Ok(ResponseAction::SendAck { cseq: 2 })
    );
}

#[test]
fn ack_needs_a_2xx_to_an_invite_of_this_dialog() {
    let dialog = confirmed_dialog();
    let ringing = reply(180, "INVITE", 1, Some("8321234356"), "");
    assert_eq!(
        dialog.ack(&ringing, via()).unwrap_err(),
        DialogError::NotA2xxToInvite
    );
    let bye_ok = reply(200, "BYE", 2, Some("8321234356"), "");
    assert_eq!(
        dialog.ack(&bye_ok, via()).unwrap_err(),
        DialogError::NotA2xxToInvite
    );
    let other_fork = reply(200, "INVITE", 1, Some("elsewhere"), ROUTED);
    assert_eq!(
        dialog.ack(&other_fork, via()).unwrap_err(),
        DialogError::NotThisDialog
    );
}

#[test]
fn caller_supplied_branch_is_kept() {
    let mut dialog = confirmed_dialog();
    let bye = dialog
        .request(Method::Bye, via().with_branch("z9hG4bKmine"))
        .unwrap()
        .build();
    let top = bye.headers().via().unwrap().unwrap();
    assert_eq!(top.branch(), Some(&b"z9hG4bKmine"[..]));
}

#[test]
fn glare_491_to_reinvite_returns_the_owner_backoff_range() {
    let mut dialog = confirmed_dialog();
    let _ = dialog.request(Method::Invite, via()).unwrap();
    assert_eq!(
        dialog.request(Method::Invite, via()).unwrap_err(),
        DialogError::InvitePending
    );
    let pending = reply(491, "INVITE", 2, Some("8321234356"), "");
    let Ok(ResponseAction::RetryAfter(range)) = dialog.handle_response(&pending) else {
        panic!("491 should ask for a retry");
    };
    assert_eq!(range, Duration::from_millis(2100)..=Duration::from_secs(4));
    assert!(range.contains(&random_delay(&range)));
    assert_eq!(dialog.state(), DialogState::Confirmed);
    // The INVITE transaction is over: the retry may go.
    let retry = dialog.request(Method::Invite, via()).unwrap().build();
    assert_eq!(header(&retry, HeaderName::CSeq), ["3 INVITE"]);
}

#[test]
fn final_error_to_the_initial_invite_terminates_the_early_dialog() {
    let ringing = reply(180, "INVITE", 1, Some("t"), ROUTED);
    let mut dialog = Dialog::new_uac(&invite(), &ringing).unwrap();
    let busy = reply(486, "INVITE", 1, Some("t"), "");
    assert_eq!(
        dialog.handle_response(&busy),
        Ok(ResponseAction::Terminated)
    );
    assert_eq!(dialog.state(), DialogState::Terminated);
    assert_eq!(
        dialog.request(Method::Bye, via()).unwrap_err(),
        DialogError::Terminated
    );
}

#[test]
fn failed_reinvite_keeps_the_dialog_but_481_and_408_end_it() {
    let mut dialog = confirmed_dialog();
    let _ = dialog.request(Method::Invite, via()).unwrap();
    let refused = reply(488, "INVITE", 2, Some("8321234356"), "");
    assert_eq!(
        dialog.handle_response(&refused),
        Ok(ResponseAction::Continue)
    );
    assert_eq!(dialog.state(), DialogState::Confirmed);
    for code in [481, 408] {
        let mut dialog = confirmed_dialog();
        let _ = dialog.request(Method::Info, via()).unwrap();
        let gone = reply(code, "INFO", 2, Some("8321234356"), "");
        assert_eq!(
            dialog.handle_response(&gone),
            Ok(ResponseAction::Terminated)
        );
        assert_eq!(dialog.state(), DialogState::Terminated);
    }
}

#[test]
fn any_final_response_to_bye_terminates_the_dialog() {
    for code in [200, 500] {
        let mut dialog = confirmed_dialog();
        let _ = dialog.request(Method::Bye, via()).unwrap();
        assert_eq!(dialog.state(), DialogState::Confirmed);
        let answer = reply(code, "BYE", 2, Some("8321234356"), "");
        assert_eq!(
            dialog.handle_response(&answer),
            Ok(ResponseAction::Terminated)
        );
        assert_eq!(dialog.state(), DialogState::Terminated);
    }
}

#[test]
fn sips_request_uri_makes_a_secure_dialog() {
    let text = String::from_utf8_lossy(&invite().to_bytes())
        .replacen("INVITE sip:", "INVITE sips:", 1)
        .replace("\r\n", "\n");
    let secure = request(&text);
    let dialog = Dialog::new_uac(&secure, &reply(200, "INVITE", 1, Some("t"), ROUTED)).unwrap();
    assert!(dialog.is_secure());
}
