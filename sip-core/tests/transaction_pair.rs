//! Two transaction layers in memory, a client and a server, exchanging their transmits over a link that
//! can drop chosen packets; time is virtual (a base `Instant` plus offsets). Each test proves that the
//! transaction machinery recovers, that each side's TU sees each message once, and that both layers end
//! empty once their timers have run.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tandem_sip_core::transaction::{
    Target, TransactionEvent, TransactionId, TransactionLayer, TransactionState, TransportKind,
};
use tandem_sip_core::{Message, Method, Request, Response, StatusCode, parse_message};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

type Matcher = Box<dyn Fn(&str) -> bool>;

/// Drops the next `remaining` packets going `dir` whose description matches.
struct DropRule {
    dir: Dir,
    matches: Matcher,
    remaining: usize,
}

struct Side {
    layer: TransactionLayer,
    events: Vec<TransactionEvent>,
    /// This side's address as the other side sees it.
    me: Target,
}

struct Pair {
    client: Side,
    server: Side,
    base: Instant,
    now: Instant,
    rules: Vec<DropRule>,
    /// Every packet put on the link: (ms, direction, description, delivered).
    trace: Vec<(u64, Dir, String, bool)>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `INVITE`, or `486 INVITE` for a response (status and CSeq method).
fn describe(message: &Message) -> String {
    match message {
        Message::Request(r) => r.method().as_str().to_owned(),
        Message::Response(r) => {
            let method = r.headers().cseq().and_then(Result::ok).map(|c| c.method);
            let method = method.as_ref().map_or("?", Method::as_str);
            format!("{} {method}", r.status().as_u16())
        }
    }
}

impl Pair {
    fn new(transport: TransportKind) -> Pair {
        let base = Instant::now();
        let client: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let server: SocketAddr = "192.0.2.2:5060".parse().unwrap();
        Pair {
            client: Side {
                layer: TransactionLayer::default(),
                events: Vec::new(),
                me: Target::new(transport, client),
            },
            server: Side {
                layer: TransactionLayer::default(),
                events: Vec::new(),
                me: Target::new(transport, server),
            },
            base,
            now: base,
            rules: Vec::new(),
            trace: Vec::new(),
        }
    }

    fn drop_next(&mut self, dir: Dir, what: &'static str) {
        self.drop_matching(dir, 1, Box::new(move |d| d == what));
    }

    fn drop_matching(&mut self, dir: Dir, count: usize, matches: Matcher) {
        self.rules.push(DropRule {
            dir,
            matches,
            remaining: count,
        });
    }

    fn elapsed(&self) -> u64 {
        (self.now - self.base).as_millis() as u64
    }

    /// Whether the link loses this packet (consuming one use of the first matching rule).
    fn lose(&mut self, dir: Dir, description: &str) -> bool {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.dir == dir && r.remaining > 0 && (r.matches)(description));
        match rule {
            Some(rule) => {
                rule.remaining -= 1;
                true
            }
            None => false,
        }
    }

    /// Move every pending transmit across the link once; `true` if anything was sent.
    fn step(&mut self) -> bool {
        let mut moved = false;
        for dir in [Dir::ToServer, Dir::ToClient] {
            let (from, to) = match dir {
                Dir::ToServer => (&mut self.client, &mut self.server),
                Dir::ToClient => (&mut self.server, &mut self.client),
            };
            let mut packets = Vec::new();
            while let Some(t) = from.layer.poll_transmit() {
                assert_eq!(t.target.addr, to.me.addr, "sent to the peer's address");
                packets.push(t.payload);
            }
            let source = from.me;
            for payload in packets {
                moved = true;
                self.deliver(dir, payload, source);
            }
        }
        moved
    }

    fn deliver(&mut self, dir: Dir, payload: Bytes, source: Target) {
        let message = parse_message(payload).expect("transmits parse");
        let description = describe(&message);
        let lost = self.lose(dir, &description);
        self.trace.push((self.elapsed(), dir, description, !lost));
        if lost {
            return;
        }
        let to = match dir {
            Dir::ToServer => &mut self.server,
            Dir::ToClient => &mut self.client,
        };
        to.layer.handle_incoming(self.now, message, source).unwrap();
    }

    fn collect_events(&mut self) {
        for side in [&mut self.client, &mut self.server] {
            while let Some(e) = side.layer.poll_event() {
                side.events.push(e);
            }
        }
    }

    /// Exchange packets until the link is quiet.
    fn drive(&mut self) {
        while self.step() {}
        self.collect_events();
    }

    /// Run both sides, firing their timers at their exact deadlines, until `base + to`.
    fn run_until(&mut self, to: Duration) {
        let end = self.base + to;
        self.drive();
        loop {
            let next = [
                self.client.layer.poll_timeout(),
                self.server.layer.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(at) = next.filter(|at| *at <= end) else {
                break;
            };
            self.now = self.now.max(at);
            self.client.layer.handle_timeout(self.now);
            self.server.layer.handle_timeout(self.now);
            self.drive();
        }
        self.now = self.now.max(end);
    }

    fn client_sends(&mut self, request: Request) -> TransactionId {
        let target = self.server.me;
        let id = self
            .client
            .layer
            .send_request(self.now, request, target)
            .unwrap();
        self.drive();
        id
    }

    fn server_responds(&mut self, id: TransactionId, request: &Request, status: StatusCode) {
        let response = Response::from_request(request, status, Some("uas-tag")).build();
        self.server.layer.respond(self.now, id, response).unwrap();
        self.drive();
    }

    /// The one new request the server TU has seen since the last call.
    fn server_request(&mut self) -> (TransactionId, Request) {
        let requests: Vec<_> = self
            .server
            .events
            .drain(..)
            .filter_map(|e| match e {
                TransactionEvent::NewRequest { id, request, .. } => Some((id, request)),
                _ => None,
            })
            .collect();
        assert_eq!(requests.len(), 1, "exactly one new request");
        requests.into_iter().next().unwrap()
    }

    /// The statuses of responses the client TU got for transaction `id`.
    fn client_statuses(&self, id: TransactionId) -> Vec<u16> {
        self.client
            .events
            .iter()
            .filter_map(|e| match e {
                TransactionEvent::Response { id: r, response } if *r == id => {
                    Some(response.status().as_u16())
                }
                _ => None,
            })
            .collect()
    }

    fn count(&self, dir: Dir, what: &str) -> (usize, usize) {
        let sent = self
            .trace
            .iter()
            .filter(|(_, d, w, _)| *d == dir && w == what);
        let total = sent.clone().count();
        let delivered = sent.filter(|(_, _, _, ok)| *ok).count();
        (total, delivered)
    }

    fn timeouts(&self) -> usize {
        [&self.client, &self.server]
            .iter()
            .flat_map(|s| s.events.iter())
            .filter(|e| matches!(e, TransactionEvent::Timeout { .. }))
            .count()
    }

    fn assert_both_empty_after_timers(&mut self) {
        let later = self.now - self.base + Duration::from_secs(300);
        self.run_until(later);
        assert!(self.client.layer.is_empty(), "client transactions left");
        assert!(self.server.layer.is_empty(), "server transactions left");
        assert_eq!(self.client.layer.poll_timeout(), None);
        assert_eq!(self.server.layer.poll_timeout(), None);
    }
}

fn request(method: &str, branch: &str) -> Request {
    let text = format!(
        "{method} sip:bob@192.0.2.2 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@192.0.2.1>;tag=a1\r\n\
         To: <sip:bob@192.0.2.2>\r\n\
         Call-ID: pair-test-1\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_message(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn rejected_invite_recovers_from_losing_the_invite_the_final_response_and_the_ack() {
    let mut pair = Pair::new(TransportKind::Udp);
    pair.drop_next(Dir::ToServer, "INVITE");
    pair.drop_next(Dir::ToClient, "486 INVITE");
    pair.drop_next(Dir::ToServer, "ACK");
    let id = pair.client_sends(request("INVITE", "z9hG4bKpair1"));
    pair.run_until(ms(500));
    let (server_id, invite) = pair.server_request();
    pair.server_responds(server_id, &invite, StatusCode::BUSY_HERE);
    pair.run_until(ms(5_000));
    assert_eq!(pair.client_statuses(id), [486], "the TU sees the 486 once");
    assert_eq!(
        pair.server.layer.state(server_id),
        Some(TransactionState::Confirmed)
    );
    assert_eq!(pair.count(Dir::ToServer, "INVITE"), (2, 1));
    assert_eq!(pair.count(Dir::ToClient, "486 INVITE"), (3, 2));
    assert_eq!(pair.count(Dir::ToServer, "ACK"), (2, 1));
    assert_eq!(pair.timeouts(), 0);
    pair.assert_both_empty_after_timers();
}

#[test]
fn non_invite_recovers_from_losing_the_request_and_the_response() {
    let mut pair = Pair::new(TransportKind::Udp);
    pair.drop_next(Dir::ToServer, "OPTIONS");
    pair.drop_next(Dir::ToClient, "200 OPTIONS");
    let id = pair.client_sends(request("OPTIONS", "z9hG4bKpair2"));
    pair.run_until(ms(500));
    let (server_id, options) = pair.server_request();
    pair.server_responds(server_id, &options, StatusCode::OK);
    pair.run_until(ms(2_000));
    assert_eq!(pair.client_statuses(id), [200]);
    // Sent at 0 (lost), 500 and 1500; the third copy is answered from the server's Completed state.
    assert_eq!(pair.count(Dir::ToServer, "OPTIONS"), (3, 2));
    assert_eq!(pair.count(Dir::ToClient, "200 OPTIONS"), (2, 1));
    assert!(
        pair.server.events.is_empty(),
        "the retransmission never reached the TU"
    );
    pair.assert_both_empty_after_timers();
}

#[test]
fn lost_2xx_is_recovered_by_the_server_tu_and_acked_outside_the_transaction() {
    let mut pair = Pair::new(TransportKind::Udp);
    pair.drop_next(Dir::ToClient, "200 INVITE");
    let id = pair.client_sends(request("INVITE", "z9hG4bKpair3"));
    let (server_id, invite) = pair.server_request();
    pair.server_responds(server_id, &invite, StatusCode::RINGING);
    pair.server_responds(server_id, &invite, StatusCode::OK);
    assert_eq!(pair.client_statuses(id), [180]);
    // The UAS core retransmits its 2xx itself (RFC 3261 §13.3.1.4), through the Accepted transaction.
    pair.run_until(ms(500));
    pair.server_responds(server_id, &invite, StatusCode::OK);
    assert_eq!(pair.client_statuses(id), [180, 200]);
    assert_eq!(
        pair.client.layer.state(id),
        Some(TransactionState::Accepted)
    );
    // The UAC core ACKs the 2xx in a new transaction of its own (new branch), outside the layer.
    let ack = request("ACK", "z9hG4bKpair3ack");
    let source = pair.client.me;
    pair.server
        .layer
        .handle_incoming(pair.now, Message::Request(ack), source)
        .unwrap();
    pair.drive();
    assert!(matches!(
        &pair.server.events[..],
        [TransactionEvent::Ack { id: None, request, .. }] if request.method() == &Method::Ack
    ));
    assert_eq!(
        pair.count(Dir::ToServer, "INVITE"),
        (1, 1),
        "no INVITE retransmission after the 180"
    );
    assert_eq!(pair.timeouts(), 0);
    pair.assert_both_empty_after_timers();
}

#[test]
fn cancel_of_a_ringing_invite_recovers_from_a_lost_cancel() {
    let mut pair = Pair::new(TransportKind::Udp);
    pair.drop_next(Dir::ToServer, "CANCEL");
    let id = pair.client_sends(request("INVITE", "z9hG4bKpair4"));
    let (invite_id, invite) = pair.server_request();
    // The server's TU is slow: the transaction sends 100 Trying by itself after 200 ms.
    pair.run_until(ms(1_000));
    pair.server_responds(invite_id, &invite, StatusCode::RINGING);
    pair.run_until(ms(2_000));
    let cancel_id = pair.client.layer.cancel(pair.now, id).unwrap();
    pair.run_until(ms(2_500));
    let (server_cancel_id, cancel) = pair.server_request();
    assert_eq!(cancel.method(), &Method::Cancel);
    assert_eq!(
        pair.server.layer.invite_for_cancel(server_cancel_id),
        Some(invite_id)
    );
    pair.server_responds(invite_id, &invite, StatusCode::REQUEST_TERMINATED);
    pair.server_responds(server_cancel_id, &cancel, StatusCode::OK);
    pair.run_until(ms(3_000));
    assert_eq!(pair.client_statuses(id), [100, 180, 487]);
    assert_eq!(pair.client_statuses(cancel_id), [200]);
    assert_eq!(pair.count(Dir::ToServer, "CANCEL"), (2, 1));
    assert_eq!(pair.count(Dir::ToServer, "ACK"), (1, 1));
    assert_eq!(
        pair.server.layer.state(invite_id),
        Some(TransactionState::Confirmed)
    );
    assert_eq!(pair.timeouts(), 0);
    pair.assert_both_empty_after_timers();
}

#[test]
fn cancel_crossing_a_2xx_leaves_the_invite_answered() {
    let mut pair = Pair::new(TransportKind::Udp);
    let id = pair.client_sends(request("INVITE", "z9hG4bKpair5"));
    let (invite_id, invite) = pair.server_request();
    pair.server_responds(invite_id, &invite, StatusCode::RINGING);
    // Both act at the same instant: the 200 and the CANCEL cross on the link.
    let response = Response::from_request(&invite, StatusCode::OK, Some("uas-tag")).build();
    pair.server
        .layer
        .respond(pair.now, invite_id, response)
        .unwrap();
    let cancel_id = pair.client.layer.cancel(pair.now, id).unwrap();
    pair.drive();
    let (server_cancel_id, cancel) = pair.server_request();
    assert_eq!(
        pair.server.layer.invite_for_cancel(server_cancel_id),
        Some(invite_id)
    );
    // Already answered: the CANCEL has no effect on the INVITE but gets its 200 (RFC 3261 §9.2).
    assert_eq!(
        pair.server.layer.state(invite_id),
        Some(TransactionState::Accepted)
    );
    pair.server_responds(server_cancel_id, &cancel, StatusCode::OK);
    assert_eq!(pair.client_statuses(id), [180, 200]);
    assert_eq!(pair.client_statuses(cancel_id), [200]);
    pair.assert_both_empty_after_timers();
}

#[test]
fn reliable_transport_sends_every_message_once_and_ends_at_once() {
    let mut pair = Pair::new(TransportKind::Tcp);
    let id = pair.client_sends(request("INVITE", "z9hG4bKpair6"));
    let (invite_id, invite) = pair.server_request();
    pair.server_responds(invite_id, &invite, StatusCode::NOT_FOUND);
    assert_eq!(pair.client_statuses(id), [404]);
    assert!(pair.client.layer.is_empty(), "Timer D is zero on TCP");
    assert!(pair.server.layer.is_empty(), "Timer I is zero on TCP");
    pair.run_until(ms(60_000));
    for what in ["INVITE", "404 INVITE", "ACK"] {
        let dir = if what.starts_with('4') {
            Dir::ToClient
        } else {
            Dir::ToServer
        };
        assert_eq!(pair.count(dir, what), (1, 1), "{what}");
    }
    assert_eq!(pair.trace.len(), 3);
}

#[test]
fn a_dead_link_ends_the_client_invite_with_timer_b() {
    let mut pair = Pair::new(TransportKind::Udp);
    pair.drop_matching(Dir::ToServer, usize::MAX, Box::new(|_| true));
    let id = pair.client_sends(request("INVITE", "z9hG4bKpair7"));
    pair.run_until(ms(40_000));
    assert_eq!(pair.count(Dir::ToServer, "INVITE"), (7, 0));
    assert!(pair.client.events.contains(&TransactionEvent::Timeout {
        id,
        timer: tandem_sip_core::transaction::Timer::B
    }));
    assert!(pair.server.events.is_empty());
    assert!(pair.server.layer.is_empty());
    pair.assert_both_empty_after_timers();
}

#[test]
fn each_transmit_of_a_retransmitted_request_carries_the_same_bytes() {
    let mut pair = Pair::new(TransportKind::Udp);
    pair.drop_matching(Dir::ToServer, usize::MAX, Box::new(|_| true));
    pair.client
        .layer
        .send_request(pair.now, request("INVITE", "z9hG4bKpair8"), pair.server.me)
        .unwrap();
    let first = pair.client.layer.poll_transmit().unwrap().payload;
    pair.client.layer.handle_timeout(pair.base + ms(500));
    let second = pair.client.layer.poll_transmit().unwrap().payload;
    assert_eq!(first, second);
    assert_eq!(first.as_ptr(), second.as_ptr(), "not serialized again");
    assert!(first.starts_with(b"INVITE sip:bob@192.0.2.2 SIP/2.0\r\n"));
}
