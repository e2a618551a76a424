//! Where a message goes to or came from: the transport protocol, the remote address and the flow.

use crate::header::Transport;
use std::fmt;
use std::net::SocketAddr;

/// The transport protocols of SIP that this crate's transports speak.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP: one message per datagram, unreliable.
    Udp,
    /// TCP: messages framed by Content-Length (RFC 3261 §18.3).
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2), framed like TCP.
    Tls,
    /// WebSocket (RFC 7118): one message per WebSocket message.
    Ws,
    /// WebSocket over TLS (RFC 7118).
    Wss,
}

impl TransportKind {
    /// Every kind, in a fixed order.
    pub const ALL: [TransportKind; 5] = [
        TransportKind::Udp,
        TransportKind::Tcp,
        TransportKind::Tls,
        TransportKind::Ws,
        TransportKind::Wss,
    ];

    /// Whether the transport delivers reliably (all but UDP); RFC 3261 §17 then turns off retransmissions.
    pub fn is_reliable(self) -> bool {
        self != TransportKind::Udp
    }

    /// Whether the transport runs over connections (all but UDP).
    pub fn is_connection_oriented(self) -> bool {
        self != TransportKind::Udp
    }

    /// Whether the transport is encrypted (TLS and WSS).
    pub fn is_secure(self) -> bool {
        matches!(self, TransportKind::Tls | TransportKind::Wss)
    }

    /// The port a Via sent-by without a port stands for (RFC 3261 §18.2.2, RFC 7118 §5.2 uses the URI's).
    pub fn default_port(self) -> u16 {
        match self {
            TransportKind::Udp | TransportKind::Tcp => 5060,
            TransportKind::Tls => 5061,
            TransportKind::Ws => 80,
            TransportKind::Wss => 443,
        }
    }

    /// The kind named by a Via transport token; `None` for SCTP and unknown tokens.
    pub fn from_via(transport: &Transport) -> Option<TransportKind> {
        match transport {
            Transport::Udp => Some(TransportKind::Udp),
            Transport::Tcp => Some(TransportKind::Tcp),
            Transport::Tls => Some(TransportKind::Tls),
            Transport::Ws => Some(TransportKind::Ws),
            Transport::Wss => Some(TransportKind::Wss),
            _ => None,
        }
    }
}

impl From<TransportKind> for Transport {
    fn from(kind: TransportKind) -> Transport {
        match kind {
            TransportKind::Udp => Transport::Udp,
            TransportKind::Tcp => Transport::Tcp,
            TransportKind::Tls => Transport::Tls,
            TransportKind::Ws => Transport::Ws,
            TransportKind::Wss => Transport::Wss,
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = Transport::from(*self);
        f.write_str(std::str::from_utf8(token.as_bytes()).unwrap_or("?"))
    }
}

/// Names one flow (RFC 5626 §3): a TCP, TLS or WebSocket connection, or, for UDP, the local socket a datagram
/// arrived on (the remote address is in the [`Target`]).
///
/// Ids are never reused by one transport layer, so a stale id cannot reach another peer's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId(u64);

impl FlowId {
    /// An id from its number (as stored in a flow token, for example).
    pub const fn from_u64(id: u64) -> FlowId {
        FlowId(id)
    }

    /// The number behind the id.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow{}", self.0)
    }
}

/// Where to send a message: the transport, the remote address and, optionally, the flow to send it on.
///
/// With a flow, the message goes over that connection (or, for UDP, from that local socket): responses go
/// back the way their request came, which is what reaches clients behind NAT and WebSocket clients at all.
/// Without one, or when the flow's connection has closed, a TCP or TLS message goes over an open connection
/// to `addr` or a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport protocol.
    pub transport: TransportKind,
    /// The remote socket address.
    pub addr: SocketAddr,
    /// The connection (or local UDP socket) to use, if one is known.
    pub flow: Option<FlowId>,
}

impl Target {
    /// A target without a flow.
    pub const fn new(transport: TransportKind, addr: SocketAddr) -> Target {
        Target {
            transport,
            addr,
            flow: None,
        }
    }

    /// The same target on flow `flow`.
    pub const fn with_flow(self, flow: FlowId) -> Target {
        Target {
            flow: Some(flow),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_via_tokens_and_back() {
        for kind in TransportKind::ALL {
            let token = Transport::from(kind);
            assert_eq!(TransportKind::from_via(&token), Some(kind));
            assert_eq!(kind.to_string().as_bytes(), token.as_bytes());
        }
        assert_eq!(TransportKind::from_via(&Transport::Sctp), None);
    }

    #[test]
    fn only_udp_is_unreliable() {
        let reliable: Vec<_> = TransportKind::ALL
            .into_iter()
            .filter(|k| k.is_reliable())
            .collect();
        assert_eq!(reliable.len(), 4);
        assert!(!TransportKind::Udp.is_reliable());
        assert_eq!(TransportKind::Tls.default_port(), 5061);
    }
}
