//! Property: whatever the order of requests, responses, TU actions, transport errors and time, the
//! transaction layer never panics, never reports a transaction terminated twice, and once every
//! transaction that waits on its TU has been answered or cancelled, its timers empty it completely.

use bytes::Bytes;
use proptest::prelude::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tandem_sip_core::transaction::{
    Target, TransactionEvent, TransactionId, TransactionLayer, TransactionState, TransportKind,
};
use tandem_sip_core::{Message, Request, Response, StatusCode, parse_message};

#[derive(Debug, Clone)]
enum Op {
    /// The TU sends a request (INVITE or not) with one of a few branches.
    Send { invite: bool, branch: u8, tcp: bool },
    /// The TU cancels the n-th client transaction it started.
    Cancel(usize),
    /// A request arrives (method index, branch, RFC 2543 style or not).
    Request {
        method: u8,
        branch: u8,
        legacy: bool,
        tcp: bool,
    },
    /// A response arrives for one of our branches.
    Response {
        status: u16,
        branch: u8,
        invite: bool,
    },
    /// The TU answers the n-th server transaction it was given.
    Respond { which: usize, status: u16 },
    /// The driver reports a transport error for the n-th transaction it knows.
    TransportError(usize),
    /// Time passes.
    Wait(u64),
}

const METHODS: [&str; 4] = ["INVITE", "OPTIONS", "ACK", "CANCEL"];
const STATUSES: [u16; 8] = [100, 180, 200, 202, 302, 408, 486, 503];

fn op() -> impl Strategy<Value = Op> {
    let status = prop::sample::select(STATUSES.to_vec());
    prop_oneof![
        (any::<bool>(), 0u8..4, any::<bool>()).prop_map(|(invite, branch, tcp)| Op::Send {
            invite,
            branch,
            tcp
        }),
        (0usize..8).prop_map(Op::Cancel),
        (0u8..4, 0u8..4, any::<bool>(), any::<bool>()).prop_map(|(method, branch, legacy, tcp)| {
            Op::Request {
                method,
                branch,
                legacy,
                tcp,
            }
        }),
        (status.clone(), 0u8..4, any::<bool>()).prop_map(|(status, branch, invite)| {
            Op::Response {
                status,
                branch,
                invite,
            }
        }),
        ((0usize..8), status).prop_map(|(which, status)| Op::Respond { which, status }),
        (0usize..16).prop_map(Op::TransportError),
        (0u64..40_000).prop_map(Op::Wait),
    ]
}

fn parse_request(text: String) -> Request {
    match parse_message(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn via(branch: u8, legacy: bool, prefix: &str) -> String {
    if legacy {
        format!("SIP/2.0/UDP old{branch}.example.com")
    } else {
        format!("SIP/2.0/UDP h.example.com;branch=z9hG4bK{prefix}{branch}")
    }
}

fn request(method: &str, via: &str, cseq_method: &str) -> Request {
    parse_request(format!(
        "{method} sip:b@example.com SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@example.com>;tag=f\r\n\
         To: <sip:b@example.com>\r\nCall-ID: prop\r\nCSeq: 1 {cseq_method}\r\nContent-Length: 0\r\n\r\n"
    ))
}

struct World {
    layer: TransactionLayer,
    base: Instant,
    now: Instant,
    clients: Vec<TransactionId>,
    servers: Vec<(TransactionId, Request)>,
    terminated: HashSet<TransactionId>,
}

impl World {
    fn target(tcp: bool) -> Target {
        let kind = if tcp {
            TransportKind::Tcp
        } else {
            TransportKind::Udp
        };
        Target::new(kind, "192.0.2.3:5060".parse().unwrap())
    }

    fn drain(&mut self) {
        while self.layer.poll_transmit().is_some() {}
        while let Some(event) = self.layer.poll_event() {
            match event {
                TransactionEvent::NewRequest { id, request, .. } => {
                    self.servers.push((id, request))
                }
                TransactionEvent::Terminated { id } => {
                    assert!(self.terminated.insert(id), "{id} terminated twice");
                    assert_eq!(self.layer.state(id), None, "{id} still listed");
                }
                _ => {}
            }
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Send {
                invite,
                branch,
                tcp,
            } => {
                let method = if invite { "INVITE" } else { "OPTIONS" };
                let r = request(method, &via(branch, false, "c"), method);
                if let Ok(id) = self.layer.send_request(self.now, r, World::target(tcp)) {
                    self.clients.push(id);
                }
            }
            Op::Cancel(n) => {
                if let Some(&id) = self.clients.get(n)
                    && let Ok(cancel) = self.layer.cancel(self.now, id)
                {
                    self.clients.push(cancel);
                }
            }
            Op::Request {
                method,
                branch,
                legacy,
                tcp,
            } => {
                let m = METHODS[usize::from(method) % METHODS.len()];
                let r = request(m, &via(branch, legacy, "s"), m);
                self.layer
                    .handle_incoming(self.now, r.into(), World::target(tcp))
                    .unwrap();
            }
            Op::Response {
                status,
                branch,
                invite,
            } => {
                let method = if invite { "INVITE" } else { "OPTIONS" };
                let r = request(method, &via(branch, false, "c"), method);
                let status = StatusCode::new(status).unwrap();
                let response = Response::from_request(&r, status, Some("t")).build();
                self.layer
                    .handle_incoming(self.now, response.into(), World::target(false))
                    .unwrap();
            }
            Op::Respond { which, status } => {
                if let Some((id, r)) = self.servers.get(which) {
                    let status = StatusCode::new(status).unwrap();
                    let response = Response::from_request(r, status, Some("t")).build();
                    // Refusals (wrong state, RFC 4320) are part of the game.
                    let _ = self.layer.respond(self.now, *id, response);
                }
            }
            Op::TransportError(n) => {
                let ids: Vec<_> = self
                    .clients
                    .iter()
                    .copied()
                    .chain(self.servers.iter().map(|(id, _)| *id))
                    .collect();
                if let Some(&id) = ids.get(n) {
                    self.layer.handle_transport_error(self.now, id);
                }
            }
            Op::Wait(ms) => self.run_until(self.now + Duration::from_millis(ms)),
        }
        self.drain();
    }

    fn run_until(&mut self, end: Instant) {
        while let Some(at) = self.layer.poll_timeout().filter(|at| *at <= end) {
            assert!(at >= self.base, "deadline before the start");
            self.now = self.now.max(at);
            self.layer.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(end);
    }

    /// Answer every server transaction still waiting on the TU, cancel every client INVITE still
    /// proceeding, then let the timers run.
    fn finish(&mut self) {
        let waiting: Vec<_> = self
            .servers
            .iter()
            .filter(|(id, _)| self.layer.state(*id).is_some())
            .cloned()
            .collect();
        for (id, r) in waiting {
            let response = Response::from_request(&r, StatusCode::SERVICE_UNAVAILABLE, Some("t"));
            let _ = self.layer.respond(self.now, id, response.build());
        }
        for id in self.clients.clone() {
            if self.layer.state(id) == Some(TransactionState::Proceeding) {
                let _ = self.layer.cancel(self.now, id);
            }
        }
        self.drain();
        self.run_until(self.now + Duration::from_secs(600));
    }
}

proptest! {
    #[test]
    fn any_sequence_of_inputs_leaves_an_empty_layer_once_timers_fire(ops in prop::collection::vec(op(), 0..40)) {
        let base = Instant::now();
        let mut world = World {
            layer: TransactionLayer::default(),
            base,
            now: base,
            clients: Vec::new(),
            servers: Vec::new(),
            terminated: HashSet::new(),
        };
        for op in ops {
            world.apply(op);
        }
        world.finish();
        prop_assert!(world.layer.is_empty(), "left: {}", world.layer.len());
        prop_assert_eq!(world.layer.poll_timeout(), None);
    }
}
