//! The sans-IO user agent core in virtual time: two `UserAgent`s wired back to back in memory (optionally
//! over a lossy link), and single user agents fed crafted messages. No sockets, no sleeping.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tandem_sip_core::endpoint::{
    DialogEnd, DialogRef, Outbound, RequestId, UaEvent, UserAgent, UserAgentConfig,
};
use tandem_sip_core::{
    HeaderName, Message, Method, Request, Response, StatusCode, Target, TransportKind, Uri,
    parse_message,
};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, last], 5060))
}

fn ua(local: SocketAddr) -> UserAgent {
    let mut config = UserAgentConfig::default();
    config.local_addresses = vec![(TransportKind::Udp, local)];
    UserAgent::new(config)
}

fn udp(peer: SocketAddr) -> Target {
    Target::new(TransportKind::Udp, peer)
}

fn parse(payload: &Bytes) -> Message {
    parse_message(payload.clone()).expect("the user agent sends well-formed messages")
}

fn uri(text: &str) -> Uri {
    Uri::parse(&Bytes::copy_from_slice(text.as_bytes())).unwrap()
}

/// Which side of a [`Pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Caller,
    Callee,
}

/// How the callee answers INVITEs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    /// 180, then 200 with SDP.
    Accept,
    /// 180 only; the caller is expected to cancel.
    Ring,
}

/// Two user agents back to back; the callee plays a simple application that answers every request.
struct Pair {
    caller: UserAgent,
    callee: UserAgent,
    now: Instant,
    /// Drop the n-th message (counting from 1) when this returns true.
    lose: Box<dyn FnMut(u64) -> bool>,
    sent: u64,
    answer: Answer,
    caller_events: Vec<UaEvent>,
    callee_events: Vec<UaEvent>,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            caller: ua(addr(1)),
            callee: ua(addr(2)),
            now: Instant::now(),
            lose: Box::new(|_| false),
            sent: 0,
            answer: Answer::Accept,
            caller_events: Vec::new(),
            callee_events: Vec::new(),
        }
    }

    fn lossy(mut self, lose: impl FnMut(u64) -> bool + 'static) -> Pair {
        self.lose = Box::new(lose);
        self
    }

    /// Move messages and run the callee's application until nothing is left to do at `now`.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.caller.poll_transmit() {
                moved = true;
                self.carry(out, Side::Caller);
            }
            while let Some(out) = self.callee.poll_transmit() {
                moved = true;
                self.carry(out, Side::Callee);
            }
            while let Some(event) = self.callee.poll_event() {
                moved = true;
                self.callee_app(&event);
                self.callee_events.push(event);
            }
            while let Some(event) = self.caller.poll_event() {
                moved = true;
                self.caller_events.push(event);
            }
            if !moved {
                return;
            }
        }
    }

    fn carry(&mut self, out: Outbound, from: Side) {
        self.sent += 1;
        if (self.lose)(self.sent) {
            return;
        }
        let message = parse(&out.payload);
        match from {
            Side::Caller => {
                assert_eq!(out.target.addr, addr(2));
                self.callee.handle_incoming(self.now, message, udp(addr(1)));
            }
            Side::Callee => {
                assert_eq!(out.target.addr, addr(1));
                self.caller.handle_incoming(self.now, message, udp(addr(2)));
            }
        }
    }

    fn callee_app(&mut self, event: &UaEvent) {
        let UaEvent::Request(incoming) = event else {
            return;
        };
        let now = self.now;
        let id = incoming.transaction;
        if *incoming.request.method() == Method::Invite && incoming.dialog.is_none() {
            let ringing = incoming.response(StatusCode::RINGING).build();
            self.callee.respond(now, id, ringing).unwrap();
            if self.answer == Answer::Accept {
                let ok = incoming
                    .response(StatusCode::OK)
                    .header(HeaderName::ContentType, "application/sdp")
                    .body(SDP)
                    .build();
                self.callee.respond(now, id, ok).unwrap();
            }
            return;
        }
        let ok = incoming.response(StatusCode::OK).build();
        self.callee.respond(now, id, ok).unwrap();
    }

    /// Settle, then jump to the next deadline of either side and fire it; false when none is left.
    fn advance(&mut self) -> bool {
        self.settle();
        let next = [self.caller.poll_timeout(), self.callee.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else {
            return false;
        };
        self.now = self.now.max(next);
        self.caller.handle_timeout(self.now);
        self.callee.handle_timeout(self.now);
        self.settle();
        true
    }

    /// Advance time until `done` holds (at most 10 virtual minutes).
    fn run_until(&mut self, mut done: impl FnMut(&Pair) -> bool) {
        let limit = self.now + Duration::from_secs(600);
        self.settle();
        while !done(self) {
            assert!(
                self.advance(),
                "nothing left to do and the condition does not hold"
            );
            assert!(self.now < limit, "the condition took too long");
        }
    }

    /// Advance time until no timer is left on either side.
    fn run_out(&mut self) {
        while self.advance() {}
    }

    fn invite(&mut self) -> RequestId {
        let request = self
            .caller
            .request(
                Method::Invite,
                uri("sip:callee@192.0.2.2"),
                TransportKind::Udp,
            )
            .header(HeaderName::ContentType, "application/sdp")
            .body(SDP)
            .build();
        let now = self.now;
        let id = self
            .caller
            .send_request(now, request, udp(addr(2)), None)
            .unwrap();
        self.settle();
        id
    }

    /// The dialog of the caller's final 2xx to `request`, once it came.
    fn answered(&self, request: RequestId) -> Option<DialogRef> {
        self.caller_events.iter().find_map(|e| match e {
            UaEvent::Response {
                request: r,
                response,
                dialog,
            } if *r == request && response.status().is_success() => *dialog,
            _ => None,
        })
    }

    fn ended(events: &[UaEvent], dialog: Option<DialogRef>) -> Option<DialogEnd> {
        events.iter().find_map(|e| match e {
            UaEvent::DialogEnded { dialog: d, reason } if dialog.is_none_or(|x| x == *d) => {
                Some(*reason)
            }
            _ => None,
        })
    }

    fn assert_empty(&self) {
        for (name, ua) in [("caller", &self.caller), ("callee", &self.callee)] {
            assert_eq!(ua.load(), Default::default(), "{name} still holds state");
        }
    }
}

#[test]
fn call_set_up_and_hung_up_leaves_both_sides_empty() {
    let mut pair = Pair::new();
    let invite = pair.invite();
    pair.run_until(|p| p.answered(invite).is_some());
    let dialog = pair.answered(invite).unwrap();
    let now = pair.now;
    pair.caller
        .request_in_dialog(now, dialog, Method::Bye, Vec::new(), Bytes::new())
        .unwrap();
    pair.run_until(|p| Pair::ended(&p.callee_events, None).is_some());
    assert_eq!(
        Pair::ended(&pair.callee_events, None),
        Some(DialogEnd::RemoteBye)
    );
    assert_eq!(
        Pair::ended(&pair.caller_events, Some(dialog)),
        Some(DialogEnd::LocalBye)
    );
    pair.run_out();
    pair.assert_empty();
}

#[test]
fn calls_succeed_over_a_link_losing_every_third_message() {
    let mut pair = Pair::new().lossy(|n| n % 3 == 0);
    for _ in 0..5 {
        let invite = pair.invite();
        pair.run_until(|p| p.answered(invite).is_some());
        let dialog = pair.answered(invite).unwrap();
        // The callee got its ACK (a lost ACK is recovered by the 2xx retransmission).
        pair.run_until(|p| {
            p.callee_events
                .iter()
                .any(|e| matches!(e, UaEvent::Ack { .. }))
        });
        let now = pair.now;
        let bye = pair
            .caller
            .request_in_dialog(now, dialog, Method::Bye, Vec::new(), Bytes::new())
            .unwrap();
        pair.run_until(|p| {
            p.caller_events.iter().any(|e| {
                matches!(e, UaEvent::Response { request, response, .. }
                    if *request == bye && response.status() == StatusCode::OK)
            })
        });
        pair.callee_events.clear();
        pair.caller_events.clear();
    }
    pair.run_out();
    pair.assert_empty();
}

#[test]
fn cancelled_call_gets_487_and_leaves_both_sides_empty() {
    let mut pair = Pair::new();
    pair.answer = Answer::Ring;
    let invite = pair.invite();
    pair.run_until(|p| {
        p.caller_events.iter().any(|e| {
            matches!(e, UaEvent::Response { response, .. } if response.status() == StatusCode::RINGING)
        })
    });
    let now = pair.now;
    pair.caller.cancel(now, invite).unwrap();
    pair.run_until(|p| {
        p.caller_events.iter().any(|e| {
            matches!(e, UaEvent::Response { response, .. }
                if response.status() == StatusCode::REQUEST_TERMINATED)
        })
    });
    assert!(
        pair.callee_events
            .iter()
            .any(|e| matches!(e, UaEvent::Cancelled { .. }))
    );
    pair.run_out();
    pair.assert_empty();
}

/// A UAS user agent fed an INVITE from 192.0.2.1, answered 200; returns the 200's transmissions.
fn uas_with_answered_invite() -> (UserAgent, Instant, Request) {
    let mut uas = ua(addr(2));
    let now = Instant::now();
    let text = "INVITE sip:uas@192.0.2.2 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv1\r\n\
        Max-Forwards: 70\r\nFrom: <sip:uac@192.0.2.1>;tag=uac1\r\nTo: <sip:uas@192.0.2.2>\r\n\
        Call-ID: call-1@192.0.2.1\r\nCSeq: 1 INVITE\r\nContact: <sip:uac@192.0.2.1:5060>\r\n\
        Content-Length: 0\r\n\r\n";
    uas.handle_incoming(now, parse(&Bytes::from(text)), udp(addr(1)));
    let Some(UaEvent::Request(incoming)) = uas.poll_event() else {
        panic!("the INVITE reaches the application");
    };
    let ok = incoming.response(StatusCode::OK).build();
    let dialog = uas.respond(now, incoming.transaction, ok).unwrap();
    assert!(dialog.is_some(), "a 2xx to an INVITE creates a dialog");
    let Some(first) = uas.poll_transmit() else {
        panic!("the 200 goes out");
    };
    let Message::Response(ok) = parse(&first.payload) else {
        panic!("a response");
    };
    let to = ok.headers().get(&HeaderName::To).unwrap().value().clone();
    let ack = format!(
        "ACK sip:uas@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKack1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:uac@192.0.2.1>;tag=uac1\r\nTo: {}\r\n\
         Call-ID: call-1@192.0.2.1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        String::from_utf8_lossy(&to)
    );
    let Message::Request(ack) = parse(&Bytes::from(ack)) else {
        panic!("a request");
    };
    (uas, now, ack)
}

#[test]
fn uas_retransmits_2xx_doubling_up_to_t2_until_the_ack() {
    let (mut uas, start, ack) = uas_with_answered_invite();
    let mut at = Vec::new();
    while let Some(deadline) = uas.poll_timeout() {
        if deadline >= start + Duration::from_secs(12) {
            break;
        }
        uas.handle_timeout(deadline);
        while let Some(out) = uas.poll_transmit() {
            assert!(
                matches!(parse(&out.payload), Message::Response(r) if r.status() == StatusCode::OK)
            );
            at.push(deadline.duration_since(start).as_millis());
        }
    }
    assert_eq!(at, vec![500, 1500, 3500, 7500, 11500]);
    let now = start + Duration::from_secs(12);
    uas.handle_incoming(now, Message::Request(ack), udp(addr(1)));
    assert!(
        std::iter::from_fn(|| uas.poll_event()).any(|e| matches!(e, UaEvent::Ack { .. })),
        "the application hears of the ACK"
    );
    while let Some(deadline) = uas.poll_timeout() {
        uas.handle_timeout(deadline);
        assert_eq!(uas.poll_transmit(), None, "no 2xx after the ACK");
    }
    assert_eq!(uas.load().transactions, 0);
    assert_eq!(
        uas.load().dialogs,
        1,
        "the confirmed dialog stays until BYE"
    );
}

#[test]
fn uas_without_ack_gives_up_after_64_t1_and_sends_bye() {
    let (mut uas, start, _ack) = uas_with_answered_invite();
    let mut bye_at = None;
    while let Some(deadline) = uas.poll_timeout() {
        uas.handle_timeout(deadline);
        while let Some(out) = uas.poll_transmit() {
            if let Message::Request(r) = parse(&out.payload) {
                assert_eq!(*r.method(), Method::Bye);
                assert_eq!(out.target.addr, addr(1), "BYE goes to the remote target");
                bye_at.get_or_insert(deadline.duration_since(start));
            }
        }
        if bye_at.is_some() {
            break;
        }
    }
    assert_eq!(bye_at, Some(Duration::from_secs(32)));
    let ended: Vec<_> = std::iter::from_fn(|| uas.poll_event()).collect();
    assert!(
        ended.iter().any(|e| matches!(
            e,
            UaEvent::DialogEnded {
                reason: DialogEnd::AckTimeout,
                ..
            }
        )),
        "{ended:?}"
    );
}

/// A UAC user agent that sent an INVITE to 192.0.2.2; returns it with the INVITE as sent.
fn uac_with_invite() -> (UserAgent, Instant, RequestId, Request) {
    let mut uac = ua(addr(1));
    let now = Instant::now();
    let request = uac
        .request(Method::Invite, uri("sip:uas@192.0.2.2"), TransportKind::Udp)
        .build();
    let id = uac.send_request(now, request, udp(addr(2)), None).unwrap();
    let out = uac.poll_transmit().unwrap();
    let Message::Request(invite) = parse(&out.payload) else {
        panic!("a request");
    };
    (uac, now, id, invite)
}

/// A 200 to `invite` with To tag `tag` and a Contact.
fn ok_from(invite: &Request, tag: &str) -> Message {
    let ok = Response::from_request(invite, StatusCode::OK, Some(tag))
        .header(HeaderName::Contact, "<sip:uas@192.0.2.2:5060>")
        .build();
    parse(&ok.to_bytes())
}

#[test]
fn uac_acks_a_2xx_and_acks_its_retransmissions_again() {
    let (mut uac, now, id, invite) = uac_with_invite();
    uac.handle_incoming(now, ok_from(&invite, "fork1"), udp(addr(2)));
    let first = uac.poll_transmit().expect("an ACK");
    let Message::Request(ack) = parse(&first.payload) else {
        panic!("a request");
    };
    assert_eq!(*ack.method(), Method::Ack);
    assert_eq!(ack.headers().cseq().unwrap().unwrap().seq, 1);
    uac.handle_incoming(now, ok_from(&invite, "fork1"), udp(addr(2)));
    let again = uac.poll_transmit().expect("the ACK again");
    assert_eq!(
        again.payload, first.payload,
        "the same ACK for the retransmitted 2xx"
    );
    let answers = std::iter::from_fn(|| uac.poll_event())
        .filter(|e| matches!(e, UaEvent::Response { request, .. } if *request == id))
        .count();
    assert_eq!(answers, 1, "the retransmission is not passed on");
}

#[test]
fn uac_hangs_up_a_second_fork_that_answers() {
    let (mut uac, now, _id, invite) = uac_with_invite();
    uac.handle_incoming(now, ok_from(&invite, "fork1"), udp(addr(2)));
    uac.handle_incoming(now, ok_from(&invite, "fork2"), udp(addr(2)));
    let methods: Vec<Method> = std::iter::from_fn(|| uac.poll_transmit())
        .filter_map(|out| match parse(&out.payload) {
            Message::Request(r) => Some(r.method().clone()),
            Message::Response(_) => None,
        })
        .collect();
    assert_eq!(methods, vec![Method::Ack, Method::Ack, Method::Bye]);
    let ended = std::iter::from_fn(|| uac.poll_event())
        .filter(|e| {
            matches!(
                e,
                UaEvent::DialogEnded {
                    reason: DialogEnd::NotAnswered,
                    ..
                }
            )
        })
        .count();
    assert_eq!(ended, 1);
}

#[test]
fn uac_answers_a_401_with_credentials_in_a_new_transaction() {
    let mut uac = ua(addr(1));
    let now = Instant::now();
    let request = uac
        .request(
            Method::Register,
            uri("sip:registrar@192.0.2.2"),
            TransportKind::Udp,
        )
        .build();
    let client = tandem_sip_core::DigestClient::new("alice", "secret");
    let id = uac
        .send_request(now, request, udp(addr(2)), Some(client))
        .unwrap();
    let Message::Request(first) = parse(&uac.poll_transmit().unwrap().payload) else {
        panic!("a request");
    };
    let server = tandem_sip_core::DigestServer::new("example.com", b"0123456789abcdef");
    let challenge = server.reject(
        &first,
        &tandem_sip_core::AuthError::MissingCredentials,
        tandem_sip_core::ChallengeKind::Www,
        std::time::SystemTime::now(),
        Some("reg"),
    );
    uac.handle_incoming(now, parse(&challenge.to_bytes()), udp(addr(2)));
    let Message::Request(retry) = parse(&uac.poll_transmit().unwrap().payload) else {
        panic!("a request");
    };
    assert!(retry.headers().contains(&HeaderName::Authorization));
    assert_eq!(retry.headers().cseq().unwrap().unwrap().seq, 2);
    let branch = |r: &Request| {
        r.headers()
            .via()
            .unwrap()
            .unwrap()
            .branch()
            .map(<[u8]>::to_vec)
    };
    assert_ne!(branch(&retry), branch(&first));
    assert!(
        std::iter::from_fn(|| uac.poll_event())
            .all(|e| !matches!(e, UaEvent::Response { request, .. } if request == id)),
        "the challenge is not passed on"
    );
}
