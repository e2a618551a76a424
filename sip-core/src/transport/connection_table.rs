//! The connection table: which connections are open, to whom, since when, and when each must be closed.
//! Plain bookkeeping fed `now` by the driver; it never touches a socket or a clock.

use super::error::Refusal;
use super::target::{FlowId, TransportKind};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Limits and timeouts for TCP, TLS and WebSocket connections.
///
/// The timeouts bound how long a peer can hold a connection's resources without doing its part: a silent
/// connection ends after `idle_timeout` (unless a [`super::FlowLease`] keeps it), a started message must
/// be complete within `message_timeout` (slowloris protection), a TLS or WebSocket handshake within
/// `handshake_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections open at once, accepted and opened, including those still in their handshake.
    pub max_connections: usize,
    /// Most accepted connections from one remote IP address.
    pub max_connections_per_ip: usize,
    /// How long a connection may stay without traffic before it is closed.
    pub idle_timeout: Duration,
    /// How long a message may take to arrive once its first byte has (the read deadline).
    pub message_timeout: Duration,
    /// How long the TLS handshake and the WebSocket upgrade of a connection may take together.
    pub handshake_timeout: Duration,
    /// How long opening a TCP connection may take.
    pub connect_timeout: Duration,
    /// How long writing one message may take before the connection is considered dead.
    pub write_timeout: Duration,
}

impl ConnectionLimits {
    /// 4096 connections, 64 per IP, 600 s idle, 20 s per message, 10 s handshakes, connects and writes.
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        max_connections: 4096,
        max_connections_per_ip: 64,
        idle_timeout: Duration::from_secs(600),
        message_timeout: Duration::from_secs(20),
        handshake_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
    };
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits::DEFAULT
    }
}

/// Timeouts longer than this are treated as this, so that adding them to an `Instant` cannot overflow.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Who opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A peer connected to one of our listeners; the per-IP limit applies.
    Accepted,
    /// We connected to the peer.
    Opened,
}

/// Why the table wants a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The handshake did not finish in time.
    Handshake,
    /// No traffic for the idle timeout.
    Idle,
    /// A message was started and not finished in time.
    Message,
}

#[derive(Debug)]
struct Entry<H> {
    kind: TransportKind,
    peer: SocketAddr,
    origin: Origin,
    /// The driver's handle, once the connection is established.
    handle: Option<H>,
    /// Set while the handshake runs.
    handshake_deadline: Option<Instant>,
    last_activity: Instant,
    message_started: Option<Instant>,
    leases: usize,
}

/// Every connection of a transport layer, keyed by flow, with the reverse index by peer used to reuse
/// connections. `H` is the driver's handle for an established connection.
#[derive(Debug)]
pub(crate) struct ConnectionTable<H> {
    limits: ConnectionLimits,
    next_flow: u64,
    entries: HashMap<FlowId, Entry<H>>,
    /// The newest established connection to each (transport, peer).
    by_peer: HashMap<(TransportKind, SocketAddr), FlowId>,
    /// Accepted connections per remote IP.
    per_ip: HashMap<IpAddr, usize>,
}

impl<H: Clone> ConnectionTable<H> {
    /// An empty table.
    pub(crate) fn new(limits: ConnectionLimits) -> ConnectionTable<H> {
        let clamp = |d: Duration| d.min(LONGEST_TIMEOUT);
        let limits = ConnectionLimits {
            idle_timeout: clamp(limits.idle_timeout),
            message_timeout: clamp(limits.message_timeout),
            handshake_timeout: clamp(limits.handshake_timeout),
            ..limits
        };
        ConnectionTable {
            limits,
            next_flow: 1,
            entries: HashMap::new(),
            by_peer: HashMap::new(),
            per_ip: HashMap::new(),
        }
    }

    /// A fresh flow id that names no connection (for the driver's UDP sockets).
    pub(crate) fn allocate_flow(&mut self) -> FlowId {
        let flow = FlowId::from_u64(self.next_flow);
        self.next_flow += 1;
        flow
    }

    /// Number of connections, established or in their handshake.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Make room for a new connection, or refuse it. The connection starts in its handshake (with the
    /// handshake deadline) until [`ConnectionTable::established`].
    pub(crate) fn admit(
        &mut self,
        now: Instant,
        kind: TransportKind,
        peer: SocketAddr,
        origin: Origin,
    ) -> Result<FlowId, Refusal> {
        if self.entries.len() >= self.limits.max_connections {
            return Err(Refusal::TooManyConnections);
        }
        let ip = peer.ip().to_canonical();
        if origin == Origin::Accepted {
            let count = self.per_ip.entry(ip).or_insert(0);
            if *count >= self.limits.max_connections_per_ip {
                return Err(Refusal::TooManyFromAddress);
            }
            *count += 1;
        }
        let flow = self.allocate_flow();
        self.entries.insert(
            flow,
            Entry {
                kind,
                peer,
                origin,
                handle: None,
                handshake_deadline: Some(now + self.limits.handshake_timeout),
                last_activity: now,
                message_started: None,
                leases: 0,
            },
        );
        Ok(flow)
    }

    /// The handshake of `flow` is over: it carries messages from now on and can be found by peer. `false`
    /// if the flow was removed meanwhile.
    pub(crate) fn established(&mut self, flow: FlowId, now: Instant, handle: H) -> bool {
        let Some(entry) = self.entries.get_mut(&flow) else {
            return false;
        };
        entry.handle = Some(handle);
        entry.handshake_deadline = None;
        entry.last_activity = now;
        self.by_peer.insert((entry.kind, entry.peer), flow);
        true
    }

    /// Forget `flow`; returns its handle if it had been established. `None` also when it was not there.
    pub(crate) fn remove(&mut self, flow: FlowId) -> Option<Option<H>> {
        let entry = self.entries.remove(&flow)?;
        let key = (entry.kind, entry.peer);
        if self.by_peer.get(&key) == Some(&flow) {
            self.by_peer.remove(&key);
        }
        if entry.origin == Origin::Accepted {
            let ip = entry.peer.ip().to_canonical();
            if let Some(count) = self.per_ip.get_mut(&ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.per_ip.remove(&ip);
                }
            }
        }
        Some(entry.handle)
    }

    /// Every flow in the table.
    pub(crate) fn flows(&self) -> Vec<FlowId> {
        self.entries.keys().copied().collect()
    }

    /// The handle of established flow `flow`, if it is of transport `kind`.
    pub(crate) fn handle(&self, flow: FlowId, kind: TransportKind) -> Option<H> {
        let entry = self.entries.get(&flow)?;
        if entry.kind != kind {
            return None;
        }
        entry.handle.clone()
    }

    /// The newest established connection of transport `kind` to `peer`.
    pub(crate) fn find(&self, kind: TransportKind, peer: SocketAddr) -> Option<(FlowId, H)> {
        let flow = *self.by_peer.get(&(kind, peer))?;
        let handle = self.entries.get(&flow)?.handle.clone()?;
        Some((flow, handle))
    }

    /// Bytes arrived on `flow`; `message_pending` tells whether a message is now partly received.
    pub(crate) fn on_read(&mut self, flow: FlowId, now: Instant, message_pending: bool) {
        let Some(entry) = self.entries.get_mut(&flow) else {
            return;
        };
        entry.last_activity = now;
        entry.message_started = match (message_pending, entry.message_started) {
            (false, _) => None,
            (true, started) => Some(started.unwrap_or(now)),
        };
    }

    /// A message was written on `flow`.
    pub(crate) fn on_write(&mut self, flow: FlowId, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&flow) {
            entry.last_activity = now;
        }
    }

    /// Keep `flow` open while idle (one more holder); `false` if there is no such flow.
    pub(crate) fn lease(&mut self, flow: FlowId) -> bool {
        match self.entries.get_mut(&flow) {
            Some(entry) => {
                entry.leases += 1;
                true
            }
            None => false,
        }
    }

    /// One holder of `flow` let go.
    pub(crate) fn release(&mut self, flow: FlowId) {
        if let Some(entry) = self.entries.get_mut(&flow) {
            entry.leases = entry.leases.saturating_sub(1);
        }
    }

    /// When `flow` must next be checked with [`ConnectionTable::expiry`]; `None` when the flow is gone.
    ///
    /// A leased idle connection has no idle deadline, but is checked again an idle timeout from `now`, so
    /// that a lease given up meanwhile is noticed.
    pub(crate) fn deadline(&self, flow: FlowId, now: Instant) -> Option<Instant> {
        let entry = self.entries.get(&flow)?;
        if let Some(deadline) = entry.handshake_deadline {
            return Some(deadline);
        }
        let idle = match entry.leases {
            0 => entry.last_activity + self.limits.idle_timeout,
            _ => now + self.limits.idle_timeout,
        };
        let message = entry
            .message_started
            .map(|started| started + self.limits.message_timeout);
        Some(message.map_or(idle, |m| m.min(idle)))
    }

    /// Whether `flow` is due to be closed at `now`, and why.
    pub(crate) fn expiry(&self, flow: FlowId, now: Instant) -> Option<Expiry> {
        let entry = self.entries.get(&flow)?;
        if let Some(deadline) = entry.handshake_deadline {
            return (now >= deadline).then_some(Expiry::Handshake);
        }
        if let Some(started) = entry.message_started
            && now >= started + self.limits.message_timeout
        {
            return Some(Expiry::Message);
        }
        let idle = entry.leases == 0 && now >= entry.last_activity + self.limits.idle_timeout;
        idle.then_some(Expiry::Idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 3,
            max_connections_per_ip: 2,
            idle_timeout: 60 * S,
            message_timeout: 5 * S,
            handshake_timeout: 2 * S,
            ..ConnectionLimits::DEFAULT
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn table_with_one(now: Instant) -> (ConnectionTable<u32>, FlowId) {
        let mut t = ConnectionTable::new(limits());
        let flow = t
            .admit(
                now,
                TransportKind::Tcp,
                addr("192.0.2.1:4000"),
                Origin::Accepted,
            )
            .unwrap();
        assert!(t.established(flow, now, 7));
        (t, flow)
    }

    #[test]
    fn refuses_past_the_per_ip_limit_but_not_other_addresses() {
        let now = Instant::now();
        let mut t = ConnectionTable::<u32>::new(limits());
        let a = addr("192.0.2.1:4000");
        t.admit(now, TransportKind::Tcp, a, Origin::Accepted)
            .unwrap();
        t.admit(
            now,
            TransportKind::Tls,
            addr("192.0.2.1:4001"),
            Origin::Accepted,
        )
        .unwrap();
        assert_eq!(
            t.admit(
                now,
                TransportKind::Tcp,
                addr("192.0.2.1:4002"),
                Origin::Accepted
            ),
            Err(Refusal::TooManyFromAddress)
        );
        // Connections we open are not counted against the peer's address.
        t.admit(
            now,
            TransportKind::Tcp,
            addr("192.0.2.1:5060"),
            Origin::Opened,
        )
        .unwrap();
        assert_eq!(
            t.admit(
                now,
                TransportKind::Tcp,
                addr("192.0.2.9:4000"),
                Origin::Accepted
            ),
            Err(Refusal::TooManyConnections)
        );
    }

    #[test]
    fn removing_a_connection_frees_its_slots() {
        let now = Instant::now();
        let mut t = ConnectionTable::<u32>::new(limits());
        let a = t
            .admit(
                now,
                TransportKind::Tcp,
                addr("192.0.2.1:1"),
                Origin::Accepted,
            )
            .unwrap();
        t.admit(
            now,
            TransportKind::Tcp,
            addr("192.0.2.1:2"),
            Origin::Accepted,
        )
        .unwrap();
        assert_eq!(t.remove(a), Some(None));
        assert_eq!(t.remove(a), None);
        t.admit(
            now,
            TransportKind::Tcp,
            addr("192.0.2.1:3"),
            Origin::Accepted,
        )
        .unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn finds_established_connections_by_peer_only() {
        let now = Instant::now();
        let mut t = ConnectionTable::new(limits());
        let peer = addr("192.0.2.1:5060");
        let flow = t
            .admit(now, TransportKind::Tcp, peer, Origin::Opened)
            .unwrap();
        assert_eq!(t.find(TransportKind::Tcp, peer), None);
        assert!(t.established(flow, now, "conn"));
        assert_eq!(t.find(TransportKind::Tcp, peer), Some((flow, "conn")));
        assert_eq!(t.find(TransportKind::Tls, peer), None);
        assert_eq!(t.handle(flow, TransportKind::Tcp), Some("conn"));
        assert_eq!(t.handle(flow, TransportKind::Ws), None);
        t.remove(flow);
        assert_eq!(t.find(TransportKind::Tcp, peer), None);
        assert!(!t.established(flow, now, "late"));
    }

    #[test]
    fn flow_ids_are_never_reused() {
        let now = Instant::now();
        let mut t = ConnectionTable::<u32>::new(limits());
        let a = t
            .admit(now, TransportKind::Tcp, addr("192.0.2.1:1"), Origin::Opened)
            .unwrap();
        t.remove(a);
        let b = t
            .admit(now, TransportKind::Tcp, addr("192.0.2.1:1"), Origin::Opened)
            .unwrap();
        assert_ne!(a, b);
        assert_ne!(t.allocate_flow(), b);
    }

    #[test]
    fn handshake_must_finish_before_its_deadline() {
        let now = Instant::now();
        let mut t = ConnectionTable::<u32>::new(limits());
        let flow = t
            .admit(
                now,
                TransportKind::Tls,
                addr("192.0.2.1:1"),
                Origin::Accepted,
            )
            .unwrap();
        assert_eq!(t.deadline(flow, now), Some(now + 2 * S));
        assert_eq!(t.expiry(flow, now + S), None);
        assert_eq!(t.expiry(flow, now + 2 * S), Some(Expiry::Handshake));
    }

    #[test]
    fn idle_connection_expires_after_idle_timeout_from_last_activity() {
        let now = Instant::now();
        let (mut t, flow) = table_with_one(now);
        assert_eq!(t.deadline(flow, now), Some(now + 60 * S));
        t.on_write(flow, now + 30 * S);
        assert_eq!(t.expiry(flow, now + 60 * S), None);
        assert_eq!(t.expiry(flow, now + 90 * S), Some(Expiry::Idle));
    }

    #[test]
    fn started_message_must_complete_within_message_timeout_despite_trickling_bytes() {
        let now = Instant::now();
        let (mut t, flow) = table_with_one(now);
        t.on_read(flow, now, true);
        // More bytes of the same message do not move the deadline.
        t.on_read(flow, now + 4 * S, true);
        assert_eq!(t.deadline(flow, now + 4 * S), Some(now + 5 * S));
        assert_eq!(t.expiry(flow, now + 5 * S), Some(Expiry::Message));
        // A completed message clears it.
        t.on_read(flow, now + 4 * S, false);
        assert_eq!(t.expiry(flow, now + 5 * S), None);
    }

    #[test]
    fn leased_connection_survives_idleness_until_released() {
        let now = Instant::now();
        let (mut t, flow) = table_with_one(now);
        assert!(t.lease(flow));
        let later = now + 3600 * S;
        assert_eq!(t.expiry(flow, later), None);
        assert_eq!(t.deadline(flow, later), Some(later + 60 * S));
        // A lease does not excuse a stalled message.
        t.on_read(flow, later, true);
        assert_eq!(t.expiry(flow, later + 5 * S), Some(Expiry::Message));
        t.on_read(flow, later, false);
        t.release(flow);
        assert_eq!(t.expiry(flow, later + 60 * S), Some(Expiry::Idle));
        assert!(!t.lease(FlowId::from_u64(999)));
    }

    #[test]
    fn huge_timeouts_do_not_overflow() {
        let now = Instant::now();
        let mut t = ConnectionTable::<u32>::new(ConnectionLimits {
            idle_timeout: Duration::MAX,
            message_timeout: Duration::MAX,
            handshake_timeout: Duration::MAX,
            ..limits()
        });
        let flow = t
            .admit(now, TransportKind::Tcp, addr("192.0.2.1:1"), Origin::Opened)
            .unwrap();
        assert!(t.deadline(flow, now).is_some());
        t.established(flow, now, 1);
        t.on_read(flow, now, true);
        assert_eq!(t.expiry(flow, now + 3600 * S), None);
    }
}
