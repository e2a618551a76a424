//! The response context in microseconds: forking, best response, CANCEL races, failover.

use super::*;
use crate::header::{HeaderName, RecordRoute};
use crate::transport::TransportKind;
use crate::{Message, parse_message};
use bytes::Bytes;

const CTX: u32 = 1;

fn identity() -> LocalIdentity {
    LocalIdentity {
        addresses: vec![
            (TransportKind::Udp, "192.0.2.1:5060".parse().unwrap()),
            (TransportKind::Ws, "192.0.2.1:8080".parse().unwrap()),
        ],
        domains: vec!["example.com".into()],
    }
}

fn proxy() -> StatefulProxy<u32> {
    StatefulProxy::new(identity(), ProxyOptions::default())
}

fn parse(wire: String) -> Request {
    match parse_message(Bytes::from(wire)) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn request(method: &str, extra: &str) -> Request {
    parse(format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKabc\r\n\
         Max-Forwards: 70\r\n{extra}From: <sip:alice@example.com>;tag=1\r\n\
         To: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn invite() -> Request {
    request("INVITE", "")
}

fn udp_source() -> Target {
    Target::new(TransportKind::Udp, "192.0.2.9:5060".parse().unwrap())
}

fn uri(text: &str) -> Uri {
    Uri::parse(&Bytes::copy_from_slice(text.as_bytes())).unwrap()
}

fn contact(n: u8) -> ForwardTarget {
    ForwardTarget::to_uri(uri(&format!("sip:bob@192.0.2.{n}")))
}

fn drain(proxy: &mut StatefulProxy<u32>) -> Vec<Action<u32>> {
    std::iter::from_fn(|| proxy.poll_action()).collect()
}

/// The forwarded copies (branch, request) among `actions`.
fn forwards(actions: &[Action<u32>]) -> Vec<(BranchId, Request)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Forward {
                branch, request, ..
            } => Some((*branch, request.clone())),
            _ => None,
        })
        .collect()
}

fn responses(actions: &[Action<u32>]) -> Vec<u16> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Respond { response, .. } => Some(response.status().as_u16()),
            _ => None,
        })
        .collect()
}

fn cancelled(actions: &[Action<u32>]) -> Vec<BranchId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Cancel { branch, .. } => Some(*branch),
            _ => None,
        })
        .collect()
}

fn answer(request: &Request, code: u16) -> Response {
    let status = StatusCode::new(code).unwrap();
    let mut builder = Response::from_request(request, status, Some("uas"));
    if code == 401 {
        builder = builder.header(HeaderName::WwwAuthenticate, "Digest realm=\"a\"");
    }
    if code == 407 {
        builder = builder.header(HeaderName::ProxyAuthenticate, "Digest realm=\"b\"");
    }
    builder.build()
}

/// An INVITE forked to `n` contacts: the proxy and the copies sent.
fn forked(n: u8) -> (StatefulProxy<u32>, Vec<(BranchId, Request)>, Instant) {
    let mut proxy = proxy();
    let now = Instant::now();
    assert_eq!(
        proxy.handle_request(now, CTX, invite(), udp_source()),
        Routing::NeedsTargets
    );
    let targets = (0..n).map(|i| contact(20 + i)).collect();
    proxy.forward(now, CTX, targets, Search::Parallel);
    let copies = forwards(&drain(&mut proxy));
    assert_eq!(copies.len(), usize::from(n));
    (proxy, copies, now)
}

#[test]
fn parallel_forking_sends_one_rewritten_copy_per_target() {
    let (_, copies, _) = forked(3);
    for (i, (_, copy)) in copies.iter().enumerate() {
        assert_eq!(
            copy.uri().to_string(),
            format!("sip:bob@192.0.2.{}", 20 + i)
        );
        assert_eq!(copy.headers().max_forwards().unwrap().unwrap().0, 69);
        let via = copy.headers().via().unwrap().unwrap();
        assert!(via.branch().unwrap().starts_with(b"z9hG4bKtdm"));
        assert_eq!(copy.headers().vias().count(), 2);
        assert_eq!(copy.headers().typed_all::<RecordRoute>().count(), 1);
    }
    let branches: std::collections::HashSet<_> = copies
        .iter()
        .map(|(_, c)| {
            c.headers()
                .via()
                .unwrap()
                .unwrap()
                .branch()
                .unwrap()
                .to_vec()
        })
        .collect();
    assert_eq!(branches.len(), 3, "every copy has its own branch");
}

#[test]
fn the_best_of_mixed_failures_is_sent_once_every_branch_has_ended() {
    let (mut proxy, copies, now) = forked(3);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 503));
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 486));
    assert!(
        responses(&drain(&mut proxy)).is_empty(),
        "a branch is still pending"
    );
    proxy.handle_response(now, copies[2].0, answer(&copies[2].1, 404));
    assert_eq!(responses(&drain(&mut proxy)), [486]);
}

#[test]
fn a_2xx_after_a_4xx_is_forwarded_and_cancels_the_pending_branches() {
    let (mut proxy, copies, now) = forked(3);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 486));
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 200));
    let actions = drain(&mut proxy);
    assert_eq!(responses(&actions), [200]);
    assert_eq!(cancelled(&actions), [copies[2].0]);
    // The cancelled branch's 487 is absorbed.
    proxy.handle_response(now, copies[2].0, answer(&copies[2].1, 487));
    assert!(drain(&mut proxy).is_empty());
}

#[test]
fn a_second_2xx_of_a_forked_invite_is_forwarded_too() {
    let (mut proxy, copies, now) = forked(2);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 200));
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 200));
    assert_eq!(responses(&drain(&mut proxy)), [200, 200]);
}

#[test]
fn a_6xx_cancels_the_other_branches_and_is_forwarded_at_once() {
    let (mut proxy, copies, now) = forked(3);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 486));
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 603));
    let actions = drain(&mut proxy);
    assert_eq!(responses(&actions), [603]);
    assert_eq!(cancelled(&actions), [copies[2].0]);
    proxy.handle_response(now, copies[2].0, answer(&copies[2].1, 200));
    assert_eq!(
        responses(&drain(&mut proxy)),
        [200],
        "a 2xx racing the CANCEL is still forwarded (§16.7 step 5)"
    );
}

#[test]
fn a_503_alone_is_forwarded_as_500() {
    let (mut proxy, copies, now) = forked(1);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 503));
    assert_eq!(responses(&drain(&mut proxy)), [500]);
}

#[test]
fn challenges_of_every_branch_are_aggregated_into_one_response() {
    let (mut proxy, copies, now) = forked(3);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 401));
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 404));
    proxy.handle_response(now, copies[2].0, answer(&copies[2].1, 407));
    let actions = drain(&mut proxy);
    let Some(Action::Respond { response, .. }) = actions.first() else {
        panic!("no response: {actions:?}");
    };
    assert!(matches!(response.status().as_u16(), 401 | 407));
    let headers = response.headers();
    assert_eq!(headers.get_all(&HeaderName::WwwAuthenticate).count(), 1);
    assert_eq!(headers.get_all(&HeaderName::ProxyAuthenticate).count(), 1);
}

#[test]
fn provisional_responses_are_forwarded_without_our_via_but_100_is_absorbed() {
    let (mut proxy, copies, now) = forked(2);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 100));
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 180));
    let actions = drain(&mut proxy);
    assert_eq!(responses(&actions), [180]);
    let Some(Action::Respond { response, .. }) = actions.first() else {
        panic!("no response");
    };
    assert_eq!(response.headers().vias().count(), 1, "our Via was removed");
}

#[test]
fn a_response_whose_top_via_is_not_ours_is_dropped() {
    let (mut proxy, copies, now) = forked(1);
    proxy.handle_response(now, copies[0].0, answer(&invite(), 486));
    assert!(drain(&mut proxy).is_empty());
}

#[test]
fn a_timed_out_branch_counts_as_a_408_and_loses_to_a_real_answer() {
    let (mut proxy, copies, now) = forked(2);
    proxy.handle_branch_failure(now, copies[0].0, BranchFailure::Timeout);
    assert!(drain(&mut proxy).is_empty());
    proxy.handle_branch_failure(now, copies[1].0, BranchFailure::Timeout);
    assert_eq!(responses(&drain(&mut proxy)), [408]);

    let (mut proxy, copies, now) = forked(2);
    proxy.handle_branch_failure(now, copies[0].0, BranchFailure::TransportError);
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 486));
    assert_eq!(responses(&drain(&mut proxy)), [486]);
}

#[test]
fn a_cancel_before_the_targets_are_known_answers_487_and_later_targets_are_ignored() {
    let mut proxy = proxy();
    let now = Instant::now();
    proxy.handle_request(now, CTX, invite(), udp_source());
    assert!(proxy.handle_cancel(now, CTX));
    assert_eq!(responses(&drain(&mut proxy)), [487]);
    proxy.forward(now, CTX, vec![contact(20)], Search::Parallel);
    assert!(drain(&mut proxy).is_empty());
}

#[test]
fn a_cancel_cancels_every_pending_branch_and_their_487_is_forwarded() {
    let (mut proxy, copies, now) = forked(2);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 180));
    drain(&mut proxy);
    assert!(proxy.handle_cancel(now, CTX));
    let actions = drain(&mut proxy);
    assert_eq!(cancelled(&actions), [copies[0].0, copies[1].0]);
    assert!(responses(&actions).is_empty());
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 487));
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 487));
    // The 487 beats the other branch's 500.
    assert_eq!(responses(&drain(&mut proxy)), [487]);
}

#[test]
fn a_2xx_racing_a_cancel_is_forwarded() {
    let (mut proxy, copies, now) = forked(2);
    proxy.handle_cancel(now, CTX);
    drain(&mut proxy);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 200));
    proxy.handle_response(now, copies[1].0, answer(&copies[1].1, 487));
    assert_eq!(responses(&drain(&mut proxy)), [200]);
}

#[test]
fn a_cancel_for_an_unknown_context_is_reported() {
    let mut proxy = proxy();
    assert!(!proxy.handle_cancel(Instant::now(), 9));
}

fn serial(no_answer: Option<Duration>) -> (StatefulProxy<u32>, BranchId, Request, Instant) {
    let mut proxy = proxy();
    let now = Instant::now();
    proxy.handle_request(now, CTX, request("INVITE", ""), udp_source());
    let destination = Target::new(TransportKind::Udp, "192.0.2.30:5080".parse().unwrap());
    proxy.forward(
        now,
        CTX,
        vec![ForwardTarget::to_destination(destination)],
        Search::Serial { no_answer },
    );
    let copies = forwards(&drain(&mut proxy));
    let (branch, copy) = copies.into_iter().next().unwrap();
    assert_eq!(
        copy.uri().to_string(),
        "sip:bob@example.com",
        "the R-URI is kept"
    );
    (proxy, branch, copy, now)
}

fn failovers(actions: &[Action<u32>]) -> Vec<FailoverReason> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Failover { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

#[test]
fn serial_search_fails_over_on_503_then_timeout_then_succeeds() {
    let (mut proxy, first, copy, now) = serial(None);
    proxy.handle_response(now, first, answer(&copy, 503));
    let actions = drain(&mut proxy);
    assert_eq!(
        failovers(&actions),
        [FailoverReason::Status(StatusCode::SERVICE_UNAVAILABLE)]
    );
    assert!(responses(&actions).is_empty());
    let second = Target::new(TransportKind::Udp, "192.0.2.31:5080".parse().unwrap());
    proxy.forward(
        now,
        CTX,
        vec![ForwardTarget::to_destination(second)],
        Search::Serial { no_answer: None },
    );
    let copies = forwards(&drain(&mut proxy));
    assert_eq!(copies.len(), 1);
    proxy.handle_branch_failure(now, copies[0].0, BranchFailure::Timeout);
    assert_eq!(failovers(&drain(&mut proxy)), [FailoverReason::Timeout]);
    let third = Target::new(TransportKind::Udp, "192.0.2.32:5080".parse().unwrap());
    proxy.forward(
        now,
        CTX,
        vec![ForwardTarget::to_destination(third)],
        Search::Serial { no_answer: None },
    );
    let copies = forwards(&drain(&mut proxy));
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 200));
    assert_eq!(responses(&drain(&mut proxy)), [200]);
}

#[test]
fn serial_search_does_not_fail_over_on_busy() {
    let (mut proxy, branch, copy, now) = serial(None);
    proxy.handle_response(now, branch, answer(&copy, 486));
    let actions = drain(&mut proxy);
    assert!(failovers(&actions).is_empty());
    assert_eq!(responses(&actions), [486]);
}

#[test]
fn exhausted_failover_answers_with_the_best_response_collected() {
    let (mut proxy, branch, copy, now) = serial(None);
    proxy.handle_response(now, branch, answer(&copy, 503));
    drain(&mut proxy);
    proxy.failover_exhausted(CTX);
    assert_eq!(responses(&drain(&mut proxy)), [500]);
}

#[test]
fn the_no_answer_timer_cancels_a_silent_branch_and_fails_over() {
    let limit = Duration::from_millis(2000);
    let (mut proxy, branch, copy, now) = serial(Some(limit));
    assert_eq!(proxy.poll_timeout(), Some(now + limit));
    proxy.handle_timeout(now + limit / 2);
    assert!(drain(&mut proxy).is_empty());
    proxy.handle_timeout(now + limit);
    let actions = drain(&mut proxy);
    assert_eq!(cancelled(&actions), [branch]);
    assert_eq!(failovers(&actions), [FailoverReason::Timeout]);
    assert_eq!(proxy.poll_timeout(), None);
    // The 487 of the cancelled branch arrives late: absorbed.
    proxy.handle_response(now + limit, branch, answer(&copy, 487));
    assert!(drain(&mut proxy).is_empty());
}

#[test]
fn a_branch_that_answered_is_not_timed_out_by_the_no_answer_timer() {
    let limit = Duration::from_millis(2000);
    let (mut proxy, branch, copy, now) = serial(Some(limit));
    proxy.handle_response(now, branch, answer(&copy, 100));
    proxy.handle_timeout(now + limit * 2);
    assert!(drain(&mut proxy).is_empty());
    // Only the branch's Timer C is left.
    assert_eq!(
        proxy.poll_timeout(),
        Some(now + ProxyOptions::DEFAULT_TIMER_C)
    );
}

#[test]
fn a_cancel_during_a_serial_search_stops_the_failover() {
    let (mut proxy, branch, copy, now) = serial(None);
    proxy.handle_cancel(now, CTX);
    assert_eq!(cancelled(&drain(&mut proxy)), [branch]);
    proxy.handle_response(now, branch, answer(&copy, 503));
    let actions = drain(&mut proxy);
    assert!(failovers(&actions).is_empty());
    assert_eq!(responses(&actions), [500]);
}

#[test]
fn max_forwards_zero_is_refused_with_483() {
    let mut proxy = proxy();
    let wire = String::from_utf8(invite().to_bytes().to_vec()).unwrap();
    let request = parse(wire.replace("Max-Forwards: 70", "Max-Forwards: 0"));
    assert_eq!(
        proxy.handle_request(Instant::now(), CTX, request, udp_source()),
        Routing::Rejected
    );
    assert_eq!(responses(&drain(&mut proxy)), [483]);
}

#[test]
fn an_unsupported_proxy_require_is_refused_with_420_and_unsupported() {
    let mut proxy = proxy();
    let request = request("INVITE", "Proxy-Require: foo\r\n");
    proxy.handle_request(Instant::now(), CTX, request, udp_source());
    let actions = drain(&mut proxy);
    let Some(Action::Respond { response, .. }) = actions.first() else {
        panic!("no response");
    };
    assert_eq!(response.status().as_u16(), 420);
    assert!(response.headers().get(&HeaderName::Unsupported).is_some());
}

#[test]
fn a_request_coming_back_unchanged_is_a_loop_482() {
    let (_, copies, now) = forked(1);
    // Our own copy arrives back at us (a contact that points to the proxy).
    let mut copy = copies[0].1.clone();
    copy.set_uri(uri("sip:bob@example.com"));
    let mut proxy = proxy();
    assert_eq!(
        proxy.handle_request(now, 2, copy, udp_source()),
        Routing::Rejected
    );
    assert_eq!(responses(&drain(&mut proxy)), [482]);
}

#[test]
fn a_validated_request_is_not_checked_again_but_loops_are_still_detected() {
    // The driver vouches for this one (it would be 420 otherwise): it goes on to routing.
    let mut vouched = proxy();
    let request = request("INVITE", "Proxy-Require: foo\r\n");
    assert_eq!(
        vouched.handle_validated_request(Instant::now(), CTX, request, udp_source()),
        Routing::NeedsTargets
    );
    assert_eq!(responses(&drain(&mut vouched)), [0u16; 0]);
    let (_, copies, now) = forked(1);
    let mut copy = copies[0].1.clone();
    copy.set_uri(uri("sip:bob@example.com"));
    let mut proxy = proxy();
    assert_eq!(
        proxy.handle_validated_request(now, 2, copy, udp_source()),
        Routing::Rejected
    );
    assert_eq!(responses(&drain(&mut proxy)), [482]);
}

#[test]
fn an_in_dialog_request_follows_its_route_without_record_route() {
    let mut proxy = proxy();
    let bye = parse(
        "BYE sip:bob@192.0.2.20 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKbye\r\n\
         Route: <sip:192.0.2.1;lr>, <sip:198.51.100.7:5070;lr>\r\n\
         From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
         Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
            .into(),
    );
    let now = Instant::now();
    assert_eq!(
        proxy.handle_request(now, CTX, bye, udp_source()),
        Routing::Forwarded
    );
    let actions = drain(&mut proxy);
    let Some(Action::Forward {
        request, target, ..
    }) = actions.first()
    else {
        panic!("not forwarded: {actions:?}");
    };
    assert_eq!(target.addr, "198.51.100.7:5070".parse().unwrap());
    assert_eq!(request.headers().get_all(&HeaderName::Route).count(), 1);
    assert_eq!(request.headers().typed_all::<RecordRoute>().count(), 0);
}

#[test]
fn an_invite_from_a_websocket_to_udp_is_double_record_routed() {
    let mut proxy = proxy();
    let now = Instant::now();
    let source = Target::new(TransportKind::Ws, "192.0.2.9:40000".parse().unwrap());
    proxy.handle_request(now, CTX, invite(), source);
    proxy.forward(now, CTX, vec![contact(20)], Search::Parallel);
    let copies = forwards(&drain(&mut proxy));
    let entries: Vec<String> = copies[0]
        .1
        .headers()
        .typed_all::<RecordRoute>()
        .map(|rr| rr.unwrap().uri().to_string())
        .collect();
    assert_eq!(
        entries,
        [
            "sip:192.0.2.1:5060;lr;r2=on",
            "sip:192.0.2.1:8080;transport=ws;lr;r2=on"
        ]
    );
}

#[test]
fn a_target_without_an_ip_address_is_answered_404() {
    let mut proxy = proxy();
    let now = Instant::now();
    proxy.handle_request(now, CTX, invite(), udp_source());
    proxy.forward(
        now,
        CTX,
        vec![ForwardTarget::to_uri(uri("sip:bob@far.example.net"))],
        Search::Parallel,
    );
    assert_eq!(responses(&drain(&mut proxy)), [404]);
}

#[test]
fn an_ack_of_a_2xx_is_forwarded_statelessly_along_its_route() {
    let mut proxy = proxy();
    let ack = parse(
        "ACK sip:bob@192.0.2.20 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKack\r\n\
         Route: <sip:192.0.2.1;lr>\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
         Call-ID: c1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
            .into(),
    );
    let (request, target) = proxy.forward_ack(ack).unwrap();
    assert_eq!(target.addr, "192.0.2.20:5060".parse().unwrap());
    assert!(request.headers().get(&HeaderName::Route).is_none());
    assert_eq!(request.headers().vias().count(), 2);
}

#[test]
fn terminating_a_context_forgets_its_branches() {
    let (mut proxy, copies, now) = forked(2);
    proxy.terminate(CTX);
    assert!(proxy.is_empty());
    assert_eq!(proxy.context_of(copies[0].0), None);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 200));
    assert!(drain(&mut proxy).is_empty());
}

fn open_relay_proxy() -> StatefulProxy<u32> {
    let options = ProxyOptions {
        relay: RelayPolicy::Open,
        ..ProxyOptions::default()
    };
    StatefulProxy::new(identity(), options)
}

fn forwarded_to(actions: &[Action<u32>]) -> Vec<(String, std::net::SocketAddr)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Forward {
                request, target, ..
            } => Some((request.uri().to_string(), target.addr)),
            _ => None,
        })
        .collect()
}

fn in_dialog(method: &str, uri: &str, route: &str) -> Request {
    parse(format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKdlg\r\n\
         {route}Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
         Call-ID: c1\r\nCSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n"
    ))
}

#[test]
fn an_in_dialog_request_to_a_foreign_target_without_our_route_is_forbidden() {
    let mut proxy = proxy();
    let bye = in_dialog("BYE", "sip:victim@198.51.100.7", "");
    assert_eq!(
        proxy.handle_request(Instant::now(), CTX, bye, udp_source()),
        Routing::Rejected
    );
    let actions = drain(&mut proxy);
    assert_eq!(responses(&actions), [403]);
    assert!(forwarded_to(&actions).is_empty());
}

#[test]
fn an_in_dialog_request_with_a_foreign_route_only_is_forbidden() {
    let mut proxy = proxy();
    let bye = in_dialog(
        "BYE",
        "sip:bob@example.com",
        "Route: <sip:198.51.100.7;lr>\r\n",
    );
    proxy.handle_request(Instant::now(), CTX, bye, udp_source());
    assert_eq!(responses(&drain(&mut proxy)), [403]);
}

#[test]
fn an_in_dialog_request_for_our_domain_without_our_route_is_forwarded() {
    let mut proxy = proxy();
    let bye = in_dialog("BYE", "sip:bob@192.0.2.1:5070", "");
    assert_eq!(
        proxy.handle_request(Instant::now(), CTX, bye, udp_source()),
        Routing::Forwarded
    );
    assert_eq!(
        forwarded_to(&drain(&mut proxy)),
        [(
            "sip:bob@192.0.2.1:5070".to_string(),
            "192.0.2.1:5070".parse().unwrap()
        )]
    );
}

#[test]
fn an_in_dialog_request_through_our_route_may_go_anywhere() {
    let mut proxy = proxy();
    let bye = in_dialog(
        "BYE",
        "sip:victim@198.51.100.7",
        "Route: <sip:192.0.2.1;lr>\r\n",
    );
    proxy.handle_request(Instant::now(), CTX, bye, udp_source());
    assert_eq!(
        forwarded_to(&drain(&mut proxy)),
        [(
            "sip:victim@198.51.100.7".to_string(),
            "198.51.100.7:5060".parse().unwrap()
        )]
    );
}

#[test]
fn an_initial_request_with_a_preloaded_foreign_route_is_routed_by_its_request_uri() {
    let mut proxy = proxy();
    let invite = request("INVITE", "Route: <sip:198.51.100.7;lr>\r\n");
    assert_eq!(
        proxy.handle_request(Instant::now(), CTX, invite, udp_source()),
        Routing::NeedsTargets
    );
    let kept = proxy.request(&CTX).unwrap();
    assert!(kept.headers().get(&HeaderName::Route).is_none());
    assert!(drain(&mut proxy).is_empty());
}

#[test]
fn an_open_relay_policy_follows_foreign_routes() {
    let mut proxy = open_relay_proxy();
    let bye = in_dialog("BYE", "sip:victim@198.51.100.7", "");
    assert_eq!(
        proxy.handle_request(Instant::now(), CTX, bye, udp_source()),
        Routing::Forwarded
    );
    assert_eq!(forwarded_to(&drain(&mut proxy)).len(), 1);
    let invite = request("INVITE", "Route: <sip:198.51.100.7;lr>\r\n");
    assert_eq!(
        proxy.handle_request(Instant::now(), 2, invite, udp_source()),
        Routing::Forwarded
    );
}

#[test]
fn an_ack_to_a_foreign_target_without_our_route_is_dropped() {
    let mut proxy = proxy();
    let ack = in_dialog("ACK", "sip:victim@198.51.100.7", "");
    assert_eq!(proxy.forward_ack(ack).err(), Some(AckDrop::Foreign));
    let ack = in_dialog("ACK", "sip:bob@192.0.2.1:5070", "");
    assert_eq!(
        proxy.forward_ack(ack).map(|(_, t)| t.addr).ok(),
        Some("192.0.2.1:5070".parse().unwrap())
    );
    let ack = in_dialog("ACK", "sip:victim@198.51.100.7", "");
    assert!(open_relay_proxy().forward_ack(ack).is_ok());
}

fn timer_c_proxy(timer_c: Duration) -> StatefulProxy<u32> {
    let options = ProxyOptions {
        timer_c,
        ..ProxyOptions::default()
    };
    StatefulProxy::new(identity(), options)
}

/// An INVITE forked to two contacts under a Timer C of `limit`.
fn forked_with_timer_c(limit: Duration) -> (StatefulProxy<u32>, Vec<(BranchId, Request)>, Instant) {
    let mut proxy = timer_c_proxy(limit);
    let now = Instant::now();
    proxy.handle_request(now, CTX, invite(), udp_source());
    proxy.forward(now, CTX, vec![contact(20), contact(21)], Search::Parallel);
    let copies = forwards(&drain(&mut proxy));
    assert_eq!(copies.len(), 2);
    (proxy, copies, now)
}

#[test]
fn timer_c_defaults_to_more_than_three_minutes() {
    assert!(ProxyOptions::default().timer_c > Duration::from_secs(180));
}

#[test]
fn timer_c_is_started_on_forwarding_an_invite_only() {
    let limit = Duration::from_secs(200);
    let (proxy, _, now) = forked_with_timer_c(limit);
    assert_eq!(proxy.poll_timeout(), Some(now + limit));
    let mut proxy = timer_c_proxy(limit);
    proxy.handle_request(now, CTX, request("MESSAGE", ""), udp_source());
    proxy.forward(now, CTX, vec![contact(20)], Search::Parallel);
    assert_eq!(forwards(&drain(&mut proxy)).len(), 1);
    assert_eq!(proxy.poll_timeout(), None, "no Timer C for a MESSAGE");
}

#[test]
fn timer_c_without_any_provisional_response_counts_as_a_408() {
    let limit = Duration::from_secs(200);
    let (mut proxy, copies, now) = forked_with_timer_c(limit);
    let (first, second) = (copies[0].0, copies[1].0);
    proxy.handle_response(now, second, answer(&copies[1].1, 486));
    drain(&mut proxy);
    proxy.handle_timeout(now + limit - Duration::from_millis(1));
    assert!(drain(&mut proxy).is_empty(), "Timer C fired early");
    proxy.handle_timeout(now + limit);
    let actions = drain(&mut proxy);
    assert_eq!(
        cancelled(&actions),
        [first],
        "the silent branch is given up"
    );
    // A 408 from the silent branch loses to the 486: that is what the caller gets.
    assert_eq!(responses(&actions), [486]);
    assert_eq!(proxy.poll_timeout(), None);
    let stats = proxy.stats();
    assert_eq!(
        (stats.timer_c_timed_out, stats.timer_c_cancelled),
        (1, 0),
        "one silent branch given up, none cancelled after a provisional response"
    );
}

#[test]
fn timer_c_alone_answers_408() {
    let limit = Duration::from_secs(200);
    let (mut proxy, _, now) = forked_with_timer_c(limit);
    proxy.handle_timeout(now + limit);
    let actions = drain(&mut proxy);
    assert_eq!(cancelled(&actions).len(), 2);
    assert_eq!(responses(&actions), [408]);
    assert_eq!(proxy.stats().timer_c_timed_out, 2);
}

#[test]
fn timer_c_after_a_provisional_response_cancels_the_branch_and_forwards_its_487() {
    let limit = Duration::from_secs(200);
    let (mut proxy, copies, now) = forked_with_timer_c(limit);
    let (first, second) = (copies[0].0, copies[1].0);
    proxy.handle_response(now, first, answer(&copies[0].1, 100));
    proxy.handle_response(now, second, answer(&copies[1].1, 500));
    drain(&mut proxy);
    proxy.handle_timeout(now + limit);
    let actions = drain(&mut proxy);
    assert_eq!(cancelled(&actions), [first]);
    assert!(
        responses(&actions).is_empty(),
        "not a 408: the 487 is awaited"
    );
    proxy.handle_response(now + limit, first, answer(&copies[0].1, 487));
    // The 487 beats the other branch's 500.
    assert_eq!(responses(&drain(&mut proxy)), [487]);
    let stats = proxy.stats();
    assert_eq!((stats.timer_c_cancelled, stats.timer_c_timed_out), (1, 0));
}

#[test]
fn a_provisional_response_other_than_100_resets_timer_c() {
    let limit = Duration::from_secs(200);
    let (mut proxy, copies, now) = forked_with_timer_c(limit);
    let (first, second) = (copies[0].0, copies[1].0);
    let later = now + Duration::from_secs(60);
    proxy.handle_response(later, first, answer(&copies[0].1, 100));
    proxy.handle_response(later, second, answer(&copies[1].1, 180));
    assert_eq!(responses(&drain(&mut proxy)), [180]);
    assert_eq!(
        proxy.poll_timeout(),
        Some(now + limit),
        "100 does not reset it"
    );
    proxy.handle_timeout(now + limit);
    assert_eq!(cancelled(&drain(&mut proxy)), [first]);
    assert_eq!(proxy.poll_timeout(), Some(later + limit));
    proxy.handle_timeout(later + limit - Duration::from_millis(1));
    assert!(drain(&mut proxy).is_empty(), "the ringing branch was reset");
    proxy.handle_timeout(later + limit);
    assert_eq!(cancelled(&drain(&mut proxy)), [second]);
    assert_eq!(proxy.poll_timeout(), None);
    assert_eq!(proxy.stats().timer_c_cancelled, 2, "each firing counts");
}

#[test]
fn timer_c_stops_when_its_branch_ends_or_its_context_terminates() {
    let limit = Duration::from_secs(200);
    let (mut proxy, copies, now) = forked_with_timer_c(limit);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 486));
    proxy.handle_branch_failure(now, copies[1].0, BranchFailure::Timeout);
    assert_eq!(proxy.poll_timeout(), None);
    let (mut proxy, copies, now) = forked_with_timer_c(limit);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 200));
    assert_eq!(cancelled(&drain(&mut proxy)), [copies[1].0]);
    assert_eq!(
        proxy.poll_timeout(),
        Some(now + limit),
        "the cancelled branch still runs it"
    );
    proxy.terminate(CTX);
    assert_eq!(proxy.poll_timeout(), None);
    proxy.handle_timeout(now + limit);
    assert!(drain(&mut proxy).is_empty());
    assert_eq!(
        proxy.stats(),
        ProxyStats::default(),
        "a stopped timer never counts"
    );
}

/// `response` with only its top Via (ours): what a next hop that dropped the rest sends back.
fn only_top_via(response: &Response) -> Response {
    let mut response = response.clone();
    let top = response.headers().get(&HeaderName::Via).cloned().unwrap();
    response.headers_mut().remove_all(&HeaderName::Via);
    response.headers_mut().push_front(top);
    response
}

#[test]
fn a_response_without_the_callers_via_is_never_forwarded_and_a_final_one_counts_as_502() {
    let (mut proxy, copies, now) = forked(1);
    let (branch, copy) = &copies[0];
    assert_eq!(copy.headers().get_all(&HeaderName::Via).count(), 2);
    proxy.handle_response(now, *branch, only_top_via(&answer(copy, 180)));
    assert!(drain(&mut proxy).is_empty());
    assert_eq!(proxy.stats().no_via_dropped, 1);
    assert_eq!(proxy.stats().no_via_bad_gateway, 0);
    proxy.handle_response(now, *branch, only_top_via(&answer(copy, 200)));
    assert_eq!(proxy.stats().no_via_bad_gateway, 1);
    let actions = drain(&mut proxy);
    let forwarded: Vec<&Response> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Respond { response, .. } => Some(response),
            _ => None,
        })
        .collect();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].status().as_u16(), 502);
    let via = forwarded[0].headers().via().and_then(Result::ok).unwrap();
    assert_eq!(via.branch(), Some(&b"z9hG4bKabc"[..]), "the caller's Via");
}

#[test]
fn timers_too_long_to_represent_never_fire_and_never_panic() {
    let (mut proxy, copies, now) = forked_with_timer_c(Duration::MAX);
    assert_eq!(proxy.poll_timeout(), None);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 180));
    assert_eq!(proxy.poll_timeout(), None);
    let mut proxy = timer_c_proxy(Duration::MAX);
    proxy.handle_request(now, CTX, invite(), udp_source());
    let destination = Target::new(TransportKind::Udp, "192.0.2.30:5080".parse().unwrap());
    proxy.forward(
        now,
        CTX,
        vec![ForwardTarget::to_destination(destination)],
        Search::Serial {
            no_answer: Some(Duration::MAX),
        },
    );
    assert_eq!(forwards(&drain(&mut proxy)).len(), 1);
    assert_eq!(proxy.poll_timeout(), None);
}

#[test]
fn a_non_invite_context_is_released_once_answered_with_no_branch_pending() {
    // Answered by the caller (a registrar's 200): nothing is left to hold until Timer J.
    let mut proxy = proxy();
    let now = Instant::now();
    let register = request("REGISTER", "");
    assert_eq!(
        proxy.handle_request(now, CTX, register.clone(), udp_source()),
        Routing::NeedsTargets
    );
    proxy.respond(CTX, answer(&register, 200));
    assert_eq!(responses(&drain(&mut proxy)), vec![200]);
    assert!(proxy.is_empty());

    // Forked: the first 2xx goes out, the context waits for the other branch, then goes.
    let message = request("MESSAGE", "");
    assert_eq!(
        proxy.handle_request(now, 2, message, udp_source()),
        Routing::NeedsTargets
    );
    proxy.forward(now, 2, vec![contact(20), contact(21)], Search::Parallel);
    let copies = forwards(&drain(&mut proxy));
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 200));
    assert_eq!(responses(&drain(&mut proxy)), vec![200]);
    assert_eq!(proxy.len(), 1);
    proxy.handle_branch_failure(now, copies[1].0, BranchFailure::Timeout);
    assert!(drain(&mut proxy).is_empty());
    assert!(proxy.is_empty());

    // An INVITE keeps its context after its final response (later 2xx are forwarded too) until its
    // server transaction ends.
    let (mut proxy, copies, now) = forked(1);
    proxy.handle_response(now, copies[0].0, answer(&copies[0].1, 200));
    assert_eq!(responses(&drain(&mut proxy)), vec![200]);
    assert_eq!(proxy.len(), 1);
    proxy.terminate(CTX);
    assert!(proxy.is_empty());
}
