//! Counters of a transport layer.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a transport layer's counters, from [`super::TransportLayer::stats`]. Counts are since start.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Well-formed messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Datagrams and streams that did not hold a well-formed message (surfaced or dropped).
    pub malformed: u64,
    /// Keep-alives received (CRLF pings on streams, CRLF-only datagrams).
    pub keepalives: u64,
    /// Connections established (accepted or opened, handshake done).
    pub connections_opened: u64,
    /// Established connections closed.
    pub connections_closed: u64,
    /// Connections refused by [`super::ConnectionLimits`].
    pub connections_refused: u64,
    /// Connections whose TLS handshake or WebSocket upgrade failed or timed out.
    pub handshakes_failed: u64,
    /// Connections in the table now (established or in their handshake).
    pub connections_open: u64,
}

/// The live counters behind [`TransportStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) messages_in: Counter,
    pub(crate) messages_out: Counter,
    pub(crate) malformed: Counter,
    pub(crate) keepalives: Counter,
    pub(crate) connections_opened: Counter,
    pub(crate) connections_closed: Counter,
    pub(crate) connections_refused: Counter,
    pub(crate) handshakes_failed: Counter,
}

impl Counters {
    /// A snapshot, with the current number of connections.
    pub(crate) fn snapshot(&self, connections_open: usize) -> TransportStats {
        TransportStats {
            messages_in: self.messages_in.get(),
            messages_out: self.messages_out.get(),
            malformed: self.malformed.get(),
            keepalives: self.keepalives.get(),
            connections_opened: self.connections_opened.get(),
            connections_closed: self.connections_closed.get(),
            connections_refused: self.connections_refused.get(),
            handshakes_failed: self.handshakes_failed.get(),
            connections_open: connections_open as u64,
        }
    }
}

/// One monotonic counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Add one.
    pub(crate) fn bump(&self) {
        // Counters order nothing; they are read for reporting only.
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
