//! The path one REGISTER takes through `tandem proxy` with the memory store, without sockets: parse the
//! datagram, stamp the top Via, validate (the proxy core's policy), the transaction layer, the §16 proxy core,
//! the registrar service, then the response back through the core and the transaction layer to the bytes to
//! send. It mirrors `examples/src/proxy/server.rs` (`on_transport` → `on_request` → `initial_request` →
//! `register`), so that its instruction and allocation counts are those of the proxy minus the I/O.
//!
//! Used by `tests/register_allocations.rs` (allocations per REGISTER) and `examples/register_cost.rs`
//! (a load-independent workload for `valgrind --tool=callgrind`).

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};
use tandem_registrar::{
    Flow, FlowToken, MemoryStore, Registrar, RegistrarConfig, RegistrarService,
};
use tandem_sip_core::proxy::{Action, LocalIdentity, ProxyOptions, Routing, StatefulProxy};
use tandem_sip_core::{
    Limits, Message, Method, Target, TimerConfig, TransactionEvent, TransactionId,
    TransactionLayer, TransportKind, parse_message_with, stamp_received, validate_request,
};

/// Where the proxy listens (`scripts/bench-proxy.toml`).
pub const PROXY: &str = "127.0.0.1:5060";
/// Where the SIPp UAC sends from.
pub const UAC: &str = "127.0.0.1:5061";

/// T1 of the transaction layer: 64·T1 (Timer J) is 320 ms, so that a run of a few thousand REGISTERs
/// reaches the steady state of the proxy under load, where every REGISTER also ends an older transaction.
pub const T1: Duration = Duration::from_millis(5);
/// Virtual time between two REGISTERs: 20,000 REGISTERs/s.
pub const GAP: Duration = Duration::from_micros(50);

/// A REGISTER as SIPp's `register.xml` (`../shared/peers/kamailio/register.xml`) sends it to the proxy in
/// the `reg` phase of `scripts/bench-proxy.sh`: one distinct AOR per request.
pub fn sipp_register(i: usize) -> Bytes {
    Bytes::from(format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-{i}-0\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:t20000_0_{i}@127.0.0.1>;tag=4242SIPpTag00{i}\r\n\
         To: <sip:t20000_0_{i}@127.0.0.1>\r\n\
         Call-ID: {i}-4242@127.0.0.1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:t20000_0_{i}@127.0.0.1:5061>\r\n\
         Expires: 3600\r\n\
         User-Agent: SIPp-register-bench\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// Run a future that never waits (the memory store's), as the proxy's loop does.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the memory store waited"),
    }
}

/// The proxy's REGISTER path, state and all.
pub struct RegisterPath {
    limits: Limits,
    layer: TransactionLayer,
    core: StatefulProxy<TransactionId>,
    service: RegistrarService<MemoryStore>,
    source: Target,
}

impl Default for RegisterPath {
    fn default() -> RegisterPath {
        RegisterPath::new()
    }
}

impl RegisterPath {
    /// The path as `scripts/bench-proxy.toml` configures the proxy (domains localhost and 127.0.0.1, UDP).
    pub fn new() -> RegisterPath {
        let proxy: SocketAddr = PROXY.parse().unwrap_or_else(|e| panic!("{e}"));
        let uac: SocketAddr = UAC.parse().unwrap_or_else(|e| panic!("{e}"));
        let domains = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let identity = LocalIdentity {
            addresses: vec![(TransportKind::Udp, proxy), (TransportKind::Tcp, proxy)],
            domains: domains.clone(),
        };
        let mut config = RegistrarConfig::default();
        config.max_expires = 3600;
        config.domains = domains;
        RegisterPath {
            limits: Limits::default(),
            layer: TransactionLayer::new(TimerConfig {
                t1: T1,
                ..TimerConfig::DEFAULT
            }),
            core: StatefulProxy::new(identity, ProxyOptions::default()),
            service: RegistrarService::new(Registrar::new(config), MemoryStore::new()),
            source: Target::new(TransportKind::Udp, uac),
        }
    }

    /// Handle one received datagram at `now` / `wall`; returns the bytes sent back (the response).
    pub fn handle(&mut self, now: Instant, wall: SystemTime, datagram: Bytes) -> Vec<Bytes> {
        // The transport: parse, stamp the top Via (RFC 3581).
        let Ok(Message::Request(mut request)) = parse_message_with(datagram, &self.limits) else {
            panic!("the REGISTER did not parse");
        };
        let _ = stamp_received(&mut request, self.source.addr);
        // `Proxy::on_transport`: validate before a transaction exists.
        if let Err(rejection) = validate_request(&request, &self.core.options().validation) {
            panic!("the REGISTER was rejected: {rejection}");
        }
        if let Err(e) = self
            .layer
            .handle_incoming(now, Message::Request(request), self.source)
        {
            panic!("the REGISTER made no transaction: {e}");
        }
        let mut sent = self.drain(now, wall);
        // The loop's timers after each pass.
        self.layer.handle_timeout(now);
        self.core.handle_timeout(now);
        sent.extend(self.drain(now, wall));
        sent
    }

    /// Open server transactions.
    pub fn transactions(&self) -> usize {
        self.layer.len()
    }

    /// `Proxy::drain`: transaction events, core actions, transmissions, until nothing moves.
    fn drain(&mut self, now: Instant, wall: SystemTime) -> Vec<Bytes> {
        let mut sent = Vec::new();
        loop {
            let mut progressed = false;
            while let Some(event) = self.layer.poll_event() {
                progressed = true;
                match event {
                    TransactionEvent::NewRequest {
                        id,
                        request,
                        source,
                    } => {
                        let routing = self.core.handle_validated_request(now, id, request, source);
                        if routing == Routing::NeedsTargets {
                            self.initial_request(wall, id, source);
                        }
                    }
                    TransactionEvent::Terminated { id } => self.core.terminate(id),
                    _ => {}
                }
            }
            while let Some(action) = self.core.poll_action() {
                progressed = true;
                if let Action::Respond { context, response } = action
                    && let Err(e) = self.layer.respond(now, context, response)
                {
                    panic!("response not sent: {e}");
                }
            }
            while let Some(transmit) = self.layer.poll_transmit() {
                progressed = true;
                sent.push(transmit.payload);
            }
            if !progressed {
                return sent;
            }
        }
    }

    /// `Proxy::initial_request` and the free `register` of `server.rs` for a REGISTER (no authentication,
    /// as in `scripts/bench-proxy.toml`).
    fn initial_request(&mut self, wall: SystemTime, id: TransactionId, source: Target) {
        let Some(request) = self.core.request(&id).cloned() else {
            return;
        };
        let local = request
            .uri()
            .as_sip()
            .is_some_and(|sip| self.core.identity().is_local_domain(sip.host()));
        assert!(*request.method() == Method::Register && local);
        let token = match source.flow {
            None => FlowToken::new(Bytes::from_static(b"0")),
            Some(flow) => FlowToken::new(flow.as_u64().to_string()),
        };
        let flow = Flow::new(token, source.transport.into(), source.addr);
        let response = match ready(self.service.handle(wall, &request, &flow)) {
            Ok(outcome) => outcome.response,
            Err(_) => self.service.registrar().server_error(&request),
        };
        self.core.respond(id, response);
    }
}
