//! What can go wrong in the transport layer.

use super::target::{FlowId, TransportKind};
use crate::error::ParseError;
use crate::header::Transport;
use crate::uri::Host;
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Everything the transport layer reports: routing a response, sending, connecting, configuring.
///
/// The variants carry what a caller needs to tell its transaction layer or its operator; I/O failures carry
/// the [`io::ErrorKind`] so that the type stays comparable.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    /// The response has no Via header field, so it has nowhere to go.
    #[error("the response has no Via header field")]
    NoVia,
    /// The top Via does not parse.
    #[error("top Via: {0}")]
    Via(ParseError),
    /// The top Via names a transport this layer does not speak (SCTP, or an unknown token).
    #[error("Via transport {} is not supported", String::from_utf8_lossy(.0.as_bytes()))]
    UnsupportedTransport(Transport),
    /// The response goes to a host name: RFC 3263 §5 resolution is the caller's business.
    #[error("the Via sent-by host needs DNS resolution (RFC 3263 §5)")]
    NeedsResolution {
        /// The sent-by host.
        host: Host,
        /// The sent-by port, or the transport's default.
        port: u16,
        /// The transport named by the Via.
        transport: TransportKind,
    },
    /// No socket of this kind (and address family) is open to send from.
    #[error("no {0} socket to send from")]
    NoSocket(TransportKind),
    /// A WebSocket message needs an open connection: this layer does not open WebSocket connections.
    #[error("no {transport} connection to {addr}, and {transport} connections are only accepted")]
    NoConnection {
        /// The transport.
        transport: TransportKind,
        /// The remote address.
        addr: SocketAddr,
    },
    /// The flow named by the target has closed and cannot be replaced (WebSocket).
    #[error("{0} is closed")]
    FlowClosed(FlowId),
    /// The connection limits refused a new connection.
    #[error("new connection refused: {0}")]
    Refused(Refusal),
    /// Opening a connection (TCP connect, or the TLS handshake on it) failed or timed out.
    #[error("connecting to {addr}: {kind}")]
    Connect {
        /// The remote address.
        addr: SocketAddr,
        /// Why.
        kind: io::ErrorKind,
    },
    /// Writing failed or timed out; a connection is closed after this.
    #[error("sending to {addr}: {kind}")]
    Send {
        /// The remote address.
        addr: SocketAddr,
        /// Why.
        kind: io::ErrorKind,
    },
    /// The message is larger than the transport carries (a UDP datagram, or the configured limit).
    #[error("message of {len} bytes is larger than {limit} bytes")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The largest allowed.
        limit: usize,
    },
    /// The kind of transport needs a cargo feature (`tls`, `ws`) this build lacks, or its configuration
    /// (a TLS server or client configuration) was not given.
    #[error("{0} is not available: enable its cargo feature and give its TLS configuration")]
    NotAvailable(TransportKind),
    /// Binding a listening socket failed.
    #[error("binding {addr}: {kind}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        kind: io::ErrorKind,
    },
    /// PEM input did not hold what was expected.
    #[error("PEM: no valid {0} found")]
    Pem(&'static str),
    /// rustls refused a configuration (a certificate, a key).
    #[cfg(feature = "tls")]
    #[error("TLS configuration: {0}")]
    Tls(rustls::Error),
    /// Generating a development certificate failed.
    #[cfg(feature = "tls")]
    #[error("generating a certificate: {0}")]
    Certificate(rcgen::Error),
    /// The transport layer was shut down.
    #[error("the transport layer is shut down")]
    Shutdown,
}

/// Why the connection limits refused a connection.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The total number of connections is at its maximum.
    TooManyConnections,
    /// The remote IP address has as many accepted connections as allowed.
    TooManyFromAddress,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::TooManyConnections => "too many connections",
            Refusal::TooManyFromAddress => "too many connections from one address",
        })
    }
}
