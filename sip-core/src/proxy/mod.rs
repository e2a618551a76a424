//! A transaction-stateful SIP proxy core (RFC 3261 §16), sans-IO.
//!
//! - [`StatefulProxy`]: one response context per server transaction. It validates requests (§16.3: 400,
//!   420, 482, 483), preprocesses their route information (§16.4: our own Route entries removed, a strict
//!   router's rewrite undone; no open relay for requests that do not route through us, [`RelayPolicy`]), forwards copies to one or many targets (§16.6: Request-URI, Max-Forwards,
//!   Record-Route — doubled when the transport changes, RFC 5658 —, a Via whose branch detects loops),
//!   and chooses the response to send back (§16.7: parallel forking, best response, CANCEL of the other
//!   branches on 2xx or 6xx, 401/407 challenge aggregation, 503 turned into 500, serial failover), and
//!   runs Timer C on INVITE branches (§16.6 step 11, §16.8: [`ProxyOptions::timer_c`]).
//! - The rules it is made of, usable alone: [`route`] (§16.4, next hop), [`forward`] (§16.6 per copy,
//!   loop detection, Via removal from responses), [`ResponseContext`] (§16.7 best response).
//!
//! The core never touches a socket or a clock: it is fed events with the time and drained of
//! [`Action`]s. Transactions, location lookups, dispatching and authentication stay with the caller.
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use tandem_sip_core::proxy::{Action, ForwardTarget, LocalIdentity, ProxyOptions, Routing, Search, StatefulProxy};
//! use tandem_sip_core::{parse_message, Message, Target, TransportKind, Uri};
//!
//! let identity = LocalIdentity {
//!     addresses: vec![(TransportKind::Udp, "192.0.2.1:5060".parse()?)],
//!     domains: vec!["example.com".into()],
//! };
//! let mut proxy: StatefulProxy<u32> = StatefulProxy::new(identity, ProxyOptions::default());
//! let wire = Bytes::from_static(b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
//! let Ok(Message::Request(invite)) = parse_message(wire) else { panic!("not a request") };
//! let source = Target::new(TransportKind::Udp, "192.0.2.9:5060".parse()?);
//! let now = Instant::now();
//! assert_eq!(proxy.handle_request(now, 1, invite, source), Routing::NeedsTargets);
//! // The location service found two contacts: fork to both.
//! let contacts = ["sip:bob@192.0.2.20", "sip:bob@192.0.2.21"];
//! let targets = contacts.iter().map(|c| Ok(ForwardTarget::to_uri(Uri::parse(&Bytes::from_static(c.as_bytes()))?)));
//! proxy.forward(now, 1, targets.collect::<Result<_, tandem_sip_core::ParseError>>()?, Search::Parallel);
//! let mut forwarded = 0;
//! while let Some(action) = proxy.poll_action() {
//!     if let Action::Forward { request, target, .. } = action {
//!         assert_eq!(request.headers().max_forwards().and_then(Result::ok).map(|m| m.0), Some(69));
//!         assert_eq!(target.addr.port(), 5060);
//!         forwarded += 1;
//!     }
//! }
//! assert_eq!(forwarded, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod authorization;
pub mod forward;
mod identity;
mod response_context;
pub mod route;
mod stateful;

pub use authorization::requires_proxy_authentication;
pub use identity::LocalIdentity;
pub use response_context::ResponseContext;
pub use stateful::{
    AckDrop, Action, BranchFailure, BranchId, FailoverReason, ForwardTarget, ProxyOptions,
    ProxyStats, RelayPolicy, Routing, Search, StatefulProxy,
};
