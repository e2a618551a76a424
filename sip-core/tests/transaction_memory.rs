//! Heap bytes a registration burst leaves in the transaction layer and the stateful proxy core, counted by
//! a global allocator. 10,000 SIPp-style REGISTERs go through `TransactionLayer` and `StatefulProxy` the
//! way `tandem proxy` drives them (new server transaction, response context, the registrar's 200), then:
//!
//! * while their server transactions absorb retransmissions (Completed, Timer J = 64·T1 over UDP), each may
//!   keep only its key and the bytes of its response. The bound fails if the response context (request,
//!   header index) lives on until Timer J again, if the key again pins the received datagram, or if a table
//!   slot is again sized for the INVITE machines (together 4,566 bytes per REGISTER before, 1,227 now);
//! * once Timer J has fired, the layer and the core give the burst's memory back (tables and queues
//!   shrunk): the 16,384-slot context table alone was 8 MiB.
//!
//! Time is simulated (`Instant` arithmetic), nothing waits. This binary holds a single test so that no
//! other test allocates while it counts.

use bytes::Bytes;
use std::time::{Duration, Instant};
use tandem_sip_core::proxy::{Action, LocalIdentity, ProxyOptions, Routing, StatefulProxy};
use tandem_sip_core::{
    HeaderName, Message, Request, Response, StatusCode, Target, TimerConfig, TransactionEvent,
    TransactionId, TransactionLayer, TransportKind, parse_message,
};
use tandem_test_alloc::{LiveBytes, live};

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

const USERS: usize = 10_000;

/// Heap bytes per REGISTER while its transaction is Completed: the table slots (entry, key) at the tables'
/// load, the key's own copy of branch and sent-by, the deadline, the 200's bytes (~300 for this one): 1,227
/// now. The layout before kept 4,566.
const MAX_BYTES_PER_COMPLETED: isize = 1_400;

/// Heap bytes the whole burst may leave behind once every transaction has ended.
const MAX_BYTES_AFTER: isize = 64 * 1024;

/// A REGISTER as SIPp's `register.xml` sends it (see `../shared/peers/kamailio/register.xml`).
fn register(i: usize) -> Request {
    let text = format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-4242-{i}-0\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:mem_{i}@127.0.0.1>;tag=4242SIPpTag00{i}\r\n\
         To: <sip:mem_{i}@127.0.0.1>\r\n\
         Call-ID: {i}-4242@127.0.0.1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:mem_{i}@127.0.0.1:5080>\r\n\
         Expires: 3600\r\n\
         User-Agent: SIPp-register-bench\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_message(Bytes::from(text)) {
        Ok(Message::Request(request)) => request,
        other => panic!("not a request: {other:?}"),
    }
}

/// The registrar's answer: a 200 with the binding's Contact and expiry, as `tandem proxy` sends it.
fn ok(request: &Request, i: usize) -> Response {
    let contact = format!("<sip:mem_{i}@127.0.0.1:5080>;expires=3600");
    Response::from_request(request, StatusCode::OK, Some(&format!("tdm{i:x}")))
        .header(HeaderName::Contact, contact)
        .build()
}

/// Carry out the core's actions: only answers are expected here.
fn answer(layer: &mut TransactionLayer, core: &mut StatefulProxy<TransactionId>, now: Instant) {
    while let Some(action) = core.poll_action() {
        match action {
            Action::Respond { context, response } => {
                layer.respond(now, context, response).expect("respond");
            }
            other => panic!("unexpected action {other:?}"),
        }
    }
}

#[test]
fn a_registration_burst_keeps_only_keys_and_responses_then_nothing() {
    let source = Target::new(TransportKind::Udp, "127.0.0.1:5070".parse().unwrap());
    let identity = LocalIdentity {
        addresses: vec![(TransportKind::Udp, "127.0.0.1:5060".parse().unwrap())],
        domains: vec!["127.0.0.1".into()],
    };
    let config = TimerConfig::DEFAULT;
    let start = Instant::now();
    let mut layer = TransactionLayer::new(config);
    let mut core: StatefulProxy<TransactionId> =
        StatefulProxy::new(identity, ProxyOptions::default());
    let before = live();

    for i in 0..USERS {
        let now = start + Duration::from_micros(100 * i as u64);
        layer
            .handle_incoming(now, Message::Request(register(i)), source)
            .expect("a new transaction");
        while let Some(event) = layer.poll_event() {
            let TransactionEvent::NewRequest {
                id,
                request,
                source,
            } = event
            else {
                panic!("unexpected event {event:?}");
            };
            let routing = core.handle_request(now, id, request, source);
            assert_eq!(routing, Routing::NeedsTargets);
            let response = ok(core.request(&id).expect("an open context"), i);
            core.respond(id, response);
            answer(&mut layer, &mut core, now);
        }
        while layer.poll_transmit().is_some() {}
    }
    assert_eq!(
        layer.len(),
        USERS,
        "every transaction absorbs retransmissions"
    );
    let per_completed = (live() - before) / USERS as isize;
    println!("heap bytes per completed REGISTER transaction: {per_completed}");
    assert!(
        per_completed <= MAX_BYTES_PER_COMPLETED,
        "{per_completed} heap bytes per completed REGISTER transaction (bound {MAX_BYTES_PER_COMPLETED})"
    );

    // Timer J (64·T1) of the last one has fired.
    let later = start + Duration::from_secs(60);
    layer.handle_timeout(later);
    let mut ended = 0;
    while let Some(event) = layer.poll_event() {
        if let TransactionEvent::Terminated { id } = event {
            core.terminate(id);
            ended += 1;
        }
    }
    while layer.poll_transmit().is_some() {}
    assert_eq!(ended, USERS);
    assert!(layer.is_empty() && core.is_empty());
    let after = live() - before;
    println!("heap bytes left after the burst: {after}");
    assert!(
        after <= MAX_BYTES_AFTER,
        "{after} heap bytes left after the burst (bound {MAX_BYTES_AFTER})"
    );
}
