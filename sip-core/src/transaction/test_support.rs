//! A virtual-time harness around one [`TransactionLayer`] for the state machine tests: time is a fixed base
//! `Instant` plus offsets, and every transmit is logged with its offset.

use super::cancel::request_like_invite;
use super::{Target, TransactionEvent, TransactionId, TransactionLayer, Transmit, TransportKind};
use crate::header::HeaderName;
use crate::message::{Message, Request, Response};
use crate::method::{Method, StatusCode};
use crate::parse_message;
use bytes::Bytes;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

const PEER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 7), 5060));
pub(crate) const UDP: Target = Target::new(TransportKind::Udp, PEER);
pub(crate) const TCP: Target = Target::new(TransportKind::Tcp, PEER);

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) struct Harness {
    pub(crate) layer: TransactionLayer,
    base: Instant,
    pub(crate) now: Instant,
    /// Every transmit so far, with its time in ms since `base`.
    log: Vec<(u64, Transmit)>,
    drained: usize,
    last_received_response: Option<Response>,
}

impl Harness {
    pub(crate) fn new() -> Harness {
        let base = Instant::now();
        Harness {
            layer: TransactionLayer::default(),
            base,
            now: base,
            log: Vec::new(),
            drained: 0,
            last_received_response: None,
        }
    }

    fn collect(&mut self) {
        let at = (self.now - self.base).as_millis() as u64;
        while let Some(t) = self.layer.poll_transmit() {
            self.log.push((at, t));
        }
    }

    /// Move the clock to `base + to`, firing every deadline on the way at its exact time.
    pub(crate) fn advance(&mut self, to: Duration) {
        let end = self.base + to;
        while let Some(at) = self.layer.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.layer.handle_timeout(self.now);
            self.collect();
        }
        self.now = self.now.max(end);
        self.layer.handle_timeout(self.now);
        self.collect();
    }

    /// The offsets (ms) of everything sent while advancing to `to`.
    pub(crate) fn retransmission_times_until(&mut self, to: Duration) -> Vec<u64> {
        let start = self.log.len();
        self.advance(to);
        self.log[start..].iter().map(|(at, _)| *at).collect()
    }

    pub(crate) fn send(&mut self, request: Request, target: Target) -> TransactionId {
        let id = self.layer.send_request(self.now, request, target).unwrap();
        self.collect();
        id
    }

    pub(crate) fn cancel(&mut self, invite: TransactionId) -> TransactionId {
        let id = self.layer.cancel(self.now, invite).unwrap();
        self.collect();
        id
    }

    pub(crate) fn receive(&mut self, message: impl Into<Message>, source: Target) {
        self.layer
            .handle_incoming(self.now, message.into(), source)
            .unwrap();
        self.collect();
    }

    /// Receive a request that must create a server transaction; returns its id and the request.
    pub(crate) fn receive_new_request(
        &mut self,
        request: Request,
        source: Target,
    ) -> (TransactionId, Request) {
        self.receive(request, source);
        match self.events().as_slice() {
            [TransactionEvent::NewRequest { id, request, .. }] => (*id, request.clone()),
            other => panic!("expected one new request, got {other:?}"),
        }
    }

    /// Receive a response to `request` (as a UAS tagging To with `uas` would send it).
    pub(crate) fn receive_response(&mut self, request: &Request, status: StatusCode) {
        let response = Response::from_request(request, status, Some("uas")).build();
        self.last_received_response = Some(response.clone());
        self.receive(response, UDP);
    }

    /// Answer server transaction `id` (for `request`), which must accept it.
    pub(crate) fn respond(&mut self, id: TransactionId, request: &Request, status: StatusCode) {
        let response = Response::from_request(request, status, Some("uas")).build();
        self.layer.respond(self.now, id, response).unwrap();
        self.collect();
    }

    pub(crate) fn sent_count(&self) -> usize {
        self.log.len()
    }

    /// Transmits since the last drain.
    pub(crate) fn drain_transmits(&mut self) -> Vec<Transmit> {
        let new = self.log[self.drained..]
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        self.drained = self.log.len();
        new
    }

    pub(crate) fn events(&mut self) -> Vec<TransactionEvent> {
        std::iter::from_fn(|| self.layer.poll_event()).collect()
    }

    fn last_sent(&self) -> Message {
        let (_, t) = self.log.last().expect("nothing was sent");
        parse_message(t.payload.clone()).expect("sent message parses")
    }

    pub(crate) fn last_sent_request(&self) -> Request {
        match self.last_sent() {
            Message::Request(r) => r,
            Message::Response(r) => panic!("last sent is a response: {r:?}"),
        }
    }

    pub(crate) fn last_sent_response(&self) -> Response {
        match self.last_sent() {
            Message::Response(r) => r,
            Message::Request(r) => panic!("last sent is a request: {r:?}"),
        }
    }

    pub(crate) fn last_received_response(&self) -> Response {
        self.last_received_response.clone().expect("no response")
    }
}

pub(crate) fn request(text: &str) -> Request {
    match parse_message(Bytes::from(text.replace('\n', "\r\n"))) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn outgoing(method: &str, branch: &str, extra: &str) -> Request {
    request(&format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\n\
         Via: SIP/2.0/UDP client.example.com:5060;branch={branch}\n\
         Max-Forwards: 70\n{extra}\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n\
         To: Bob <sip:bob@biloxi.example.com>\n\
         Call-ID: a84b4c76e66710@client.example.com\n\
         CSeq: 1 {method}\n\
         Content-Length: 0\n\n"
    ))
}

/// An OPTIONS to send.
pub(crate) fn options() -> Request {
    outgoing("OPTIONS", "z9hG4bKopt1", "")
}

/// An INVITE to send.
pub(crate) fn invite(branch: &str) -> Request {
    outgoing("INVITE", branch, "")
}

/// An INVITE to send through two proxies.
pub(crate) fn invite_with_route(branch: &str) -> Request {
    outgoing(
        "INVITE",
        branch,
        "Route: <sip:p1.example.com;lr>\nRoute: <sip:p2.example.com;lr>\n",
    )
}

/// An INVITE as a server receives it (two Vias: a proxy's on top).
pub(crate) fn incoming_invite(branch: &str) -> Request {
    incoming("INVITE", branch)
}

/// An OPTIONS as a server receives it.
pub(crate) fn incoming_options(branch: &str) -> Request {
    incoming("OPTIONS", branch)
}

pub(crate) fn incoming(method: &str, branch: &str) -> Request {
    request(&format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\n\
         Via: SIP/2.0/UDP proxy.example.com;branch={branch}\n\
         Via: SIP/2.0/UDP client.example.com:5060;branch=z9hG4bKclient;received=192.0.2.9\n\
         Max-Forwards: 69\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n\
         To: Bob <sip:bob@biloxi.example.com>\n\
         Call-ID: a84b4c76e66710@client.example.com\n\
         CSeq: 1 {method}\n\
         Content-Length: 0\n\n"
    ))
}

/// The ACK a client transaction sends for the non-2xx `response` to `invite` (RFC 3261 §17.1.1.3).
pub(crate) fn ack_for(invite: &Request, response: &Response) -> Request {
    let to = response.headers().get(&HeaderName::To).unwrap().clone();
    request_like_invite(invite, Method::Ack, to).unwrap()
}

pub(crate) fn field_values(request: &Request, name: &HeaderName) -> Vec<String> {
    request
        .headers()
        .get_all(name)
        .map(|f| String::from_utf8_lossy(f.value()).into_owned())
        .collect()
}

impl Harness {
    /// Let every timer run out: the layer must then hold no transaction and no deadline.
    pub(crate) fn assert_drains_empty(&mut self) {
        let later = self.now - self.base + Duration::from_secs(300);
        self.advance(later);
        assert!(
            self.layer.is_empty(),
            "transactions left: {}",
            self.layer.len()
        );
        assert_eq!(self.layer.poll_timeout(), None);
    }

    /// The request that transaction `id` sent first.
    pub(crate) fn log_request_for(&self, id: TransactionId) -> Request {
        let (_, t) = self
            .log
            .iter()
            .find(|(_, t)| t.transaction == id)
            .expect("transaction sent nothing");
        match parse_message(t.payload.clone()) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    /// The (parsed) messages sent since the last drain.
    pub(crate) fn drain_messages(&mut self) -> Vec<Message> {
        self.drain_transmits()
            .into_iter()
            .map(|t| parse_message(t.payload).expect("sent message parses"))
            .collect()
    }
}

/// A response to `request` built by a UAS tagging To with `uas`.
pub(crate) fn response_to(request: &Request, status: StatusCode) -> Response {
    Response::from_request(request, status, Some("uas")).build()
}
