//! SIP transports (RFC 3261 §18): UDP, TCP, TLS, and WebSocket (RFC 7118), with connection reuse, flows
//! (RFC 5626) and CRLF keep-alives.
//!
//! The protocol decisions are sans-IO functions, available without any feature:
//! - [`stamp_received`]: the `received` and `rport` a server transport adds to a request's top Via
//!   (RFC 3261 §18.2.1, RFC 3581 §4);
//! - [`response_target`]: where a response goes (RFC 3261 §18.2.2, RFC 3581 §4);
//! - [`transport_for_request`]: a request too large for UDP goes over TCP (RFC 3261 §18.1.1), with
//!   [`set_top_via_transport`].
//!
//! With the `tokio` feature, `TransportLayer` drives UDP sockets and TCP connections; `tls` adds TLS
//! (rustls with the ring provider, module `tls`) and `ws` adds WebSocket, WSS with both.
#![cfg_attr(
    feature = "tokio",
    doc = r#"
[`TransportLayer`] hands received messages on as [`TransportEvent`]s, each with the [`FlowId`] of the
connection or socket it came over, and sends messages to a [`Target`]: over its flow when it has one
(responses, and requests to clients reachable only through their own connection), else over an open
connection to the address or a new one.

Choices made here:
- Datagrams (UDP, WebSocket messages) that are not well-formed messages are counted; those that still
  start with a request's start line and header fields are handed on as [`TransportEvent::Malformed`] so the
  endpoint can answer 400 (or 513 when over the size limit). Malformed responses and garbage are dropped.
  On TCP and TLS a framing error closes the connection: a stream cannot be resynchronised.
- Received requests get their top Via stamped ([`stamp_received`]) before they are handed on.
- A datagram of CR and LF only is a keep-alive; on streams a double CRLF is answered with a single CRLF
  (RFC 5626 §3.5.1).
- Connections are limited in number (total, and accepted per remote IP); a connection is closed after an
  idle timeout unless leased ([`TransportLayer::lease`]), when a started message does not complete within
  the message timeout, and when its TLS or WebSocket handshake takes too long ([`ConnectionLimits`]).
- WebSocket connections are accepted only when the client offers the `sip` subprotocol (RFC 7118 §4);
  they are never opened by this layer.
"#
)]

mod error;
mod mtu;
mod received;
mod response_route;
mod steer;
mod target;

#[cfg(feature = "tokio")]
mod connection_table;
#[cfg(feature = "tokio")]
mod datagram;
#[cfg(feature = "tokio")]
mod event;
#[cfg(feature = "tokio")]
mod layer;
#[cfg(feature = "tokio")]
mod stats;
#[cfg(feature = "tokio")]
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokio")]
mod udp;
#[cfg(feature = "ws")]
mod ws;

pub use error::{Refusal, TransportError};
pub use mtu::{
    PATH_MTU_MARGIN, UNKNOWN_PATH_MTU_LIMIT, set_top_via_transport, transport_for_request,
};
pub use received::{Stamp, stamp_received};
pub use response_route::response_target;
pub use steer::{
    call_id_for_shard, shard_for_call_id, shard_for_headers, shard_for_message, shard_for_source,
};
pub use target::{FlowId, Target, TransportKind};

#[cfg(feature = "tokio")]
pub use connection_table::ConnectionLimits;
#[cfg(feature = "tokio")]
pub use event::{CloseReason, FlowClosed, Incoming, IncomingError, TransportEvent};
#[cfg(feature = "tokio")]
pub use layer::{FlowLease, TransportLayer, TransportLayerBuilder};
#[cfg(feature = "tokio")]
pub use stats::TransportStats;
