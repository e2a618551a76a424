//! What the transport layer hands its user: received messages, malformed requests worth an answer, closed
//! flows.

use super::target::{FlowId, Target, TransportKind};
use crate::error::ParseError;
use crate::message::{Message, Request};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// Something that happened on the transports, read from the receiver [`super::TransportLayerBuilder::start`]
/// returns.
// Events are moved once, from the transport to the endpoint; boxing the message would cost an allocation per
// message.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum TransportEvent {
    /// A well-formed message. Requests have had their top Via stamped ([`super::stamp_received`]).
    Message(Incoming),
    /// A datagram (UDP or WebSocket) that is not a well-formed message but starts with a request's start
    /// line and header fields: answer it 400, or 513 when the error is
    /// [`crate::ParseErrorKind::MessageTooLarge`]. Malformed responses and garbage are dropped and counted
    /// in [`super::TransportStats::malformed`]; on TCP and TLS a framing error closes the connection.
    Malformed(IncomingError),
    /// A connection closed (by either side, or by a limit). Registrars use this to drop the bindings of an
    /// RFC 5626 flow.
    FlowClosed(FlowClosed),
}

/// A message received, with where it came from.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message.
    pub message: Message,
    /// The remote address it came from.
    pub source: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The transport it came over.
    pub transport: TransportKind,
    /// The connection (or local UDP socket) it came over: reply with [`Incoming::target`].
    pub flow: FlowId,
    /// When the transport read it (on tokio's clock).
    pub received_at: Instant,
}

impl Incoming {
    /// Where it came from, on its own flow: the target for responses and for later requests to a client
    /// that can only be reached over this connection (NAT, WebSocket).
    pub fn target(&self) -> Target {
        Target::new(self.transport, self.source).with_flow(self.flow)
    }
}

/// A malformed request worth answering; see [`TransportEvent::Malformed`].
#[derive(Debug, Clone)]
pub struct IncomingError {
    /// The datagram as received.
    pub bytes: Bytes,
    /// Its start line and header fields (body left empty), top Via stamped.
    pub request: Request,
    /// Why it is malformed.
    pub error: ParseError,
    /// The remote address it came from.
    pub source: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The transport it came over.
    pub transport: TransportKind,
    /// The connection (or local UDP socket) it came over.
    pub flow: FlowId,
    /// When the transport read it (on tokio's clock).
    pub received_at: Instant,
}

impl IncomingError {
    /// Where the answer goes; see [`Incoming::target`].
    pub fn target(&self) -> Target {
        Target::new(self.transport, self.source).with_flow(self.flow)
    }
}

/// A connection that closed; see [`TransportEvent::FlowClosed`].
#[derive(Debug, Clone, PartialEq)]
pub struct FlowClosed {
    /// The flow.
    pub flow: FlowId,
    /// Its transport.
    pub transport: TransportKind,
    /// The remote address.
    pub peer: SocketAddr,
    /// Why it closed.
    pub reason: CloseReason,
}

/// Why a connection closed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum CloseReason {
    /// The peer closed it.
    PeerClosed,
    /// No traffic for [`super::ConnectionLimits::idle_timeout`].
    Idle,
    /// A message was started and not finished within [`super::ConnectionLimits::message_timeout`].
    MessageTimeout,
    /// The stream could not be framed (no Content-Length, over the size limit, bad syntax); a stream cannot
    /// be resynchronised after that.
    Malformed(ParseError),
    /// Reading failed (including WebSocket protocol violations, as [`io::ErrorKind::InvalidData`]).
    ReadFailed(io::ErrorKind),
    /// Writing failed or timed out.
    SendFailed(io::ErrorKind),
    /// [`super::TransportLayer::close`] closed it.
    Local,
    /// The transport layer shut down.
    Shutdown,
}
