//! The tokio driver: listeners, the connection table, sending.

use super::connection_table::{ConnectionLimits, ConnectionTable, Expiry};
use super::datagram::{Datagram, read_datagram};
use super::error::TransportError;
use super::event::{CloseReason, FlowClosed, Incoming, IncomingError, TransportEvent};
use super::received::stamp_received;
use super::stats::{Counters, TransportStats};
use super::target::{FlowId, Target, TransportKind};
use super::{stream, udp};
use crate::message::Message;
use crate::parse::Limits;
use bytes::Bytes;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;

/// Anything a connection's bytes flow over: a TCP stream, or a TLS stream over one.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T> Io for T where T: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

/// A connection's byte stream, whatever its kind.
pub(crate) type BoxedIo = Box<dyn Io>;

/// The read side of a TCP or TLS connection.
pub(crate) type ReadHalfStream = ReadHalf<BoxedIo>;

/// tokio's clock (virtual in tests that pause time) as a std `Instant`.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Configures and starts a [`TransportLayer`].
///
/// ```no_run
/// # async fn run() -> Result<(), tandem_sip_core::transport::TransportError> {
/// use tandem_sip_core::transport::{TransportEvent, TransportKind, TransportLayer};
///
/// let (transports, mut events) = TransportLayer::builder()
///     .listen(TransportKind::Udp, "0.0.0.0:5060".parse().unwrap())
///     .listen(TransportKind::Tcp, "0.0.0.0:5060".parse().unwrap())
///     .start()
///     .await?;
/// while let Some(event) = events.recv().await {
///     if let TransportEvent::Message(incoming) = event {
///         // Hand `incoming.message` to the transaction layer; reply to `incoming.target()`.
///         # let _ = (&transports, incoming);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TransportLayerBuilder {
    listen: Vec<(TransportKind, SocketAddr)>,
    limits: Limits,
    connection_limits: ConnectionLimits,
    event_capacity: usize,
    #[cfg(feature = "tls")]
    tls_server: Option<Arc<rustls::ServerConfig>>,
    #[cfg(feature = "tls")]
    tls_client: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for TransportLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportLayerBuilder")
            .field("listen", &self.listen)
            .field("limits", &self.limits)
            .field("connection_limits", &self.connection_limits)
            .field("event_capacity", &self.event_capacity)
            .finish_non_exhaustive()
    }
}

impl TransportLayerBuilder {
    /// Listen on `addr` (port 0 picks a free port; see [`TransportLayer::local_addr`]). TLS and WSS need
    /// [`TransportLayerBuilder::tls_server`].
    pub fn listen(mut self, kind: TransportKind, addr: SocketAddr) -> TransportLayerBuilder {
        self.listen.push((kind, addr));
        self
    }

    /// Parser limits for every message read; [`Limits::max_message_size`] also bounds UDP datagrams and
    /// WebSocket messages.
    pub fn limits(mut self, limits: Limits) -> TransportLayerBuilder {
        self.limits = limits;
        self
    }

    /// Connection limits and timeouts.
    pub fn connection_limits(mut self, limits: ConnectionLimits) -> TransportLayerBuilder {
        self.connection_limits = limits;
        self
    }

    /// How many events may wait in the channel before the transports stop reading (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> TransportLayerBuilder {
        self.event_capacity = capacity.max(1);
        self
    }

    /// The certificate and key TLS and WSS listeners present (see [`super::tls`] to build one).
    #[cfg(feature = "tls")]
    pub fn tls_server(mut self, config: Arc<rustls::ServerConfig>) -> TransportLayerBuilder {
        self.tls_server = Some(config);
        self
    }

    /// The trust anchors for TLS connections this layer opens.
    #[cfg(feature = "tls")]
    pub fn tls_client(mut self, config: Arc<rustls::ClientConfig>) -> TransportLayerBuilder {
        self.tls_client = Some(config);
        self
    }

    /// Bind every listener and start receiving. Events arrive on the returned receiver; when it is dropped
    /// the transports stop reading.
    pub async fn start(
        self,
    ) -> Result<(TransportLayer, mpsc::Receiver<TransportEvent>), TransportError> {
        let (layer, mut receivers) = self.start_sharded(1).await?;
        match receivers.pop() {
            Some(receiver) => Ok((layer, receiver)),
            None => Err(TransportError::Shutdown),
        }
    }

    /// Like [`TransportLayerBuilder::start`], with `shards` event receivers (at least one) for independent
    /// consumers such as one transaction layer per core. Every message goes to the receiver of its
    /// Call-ID's shard ([`super::shard_for_message`]), so all messages of a transaction and of a dialog
    /// reach the same consumer; a malformed request without a Call-ID goes by its source address. A
    /// [`TransportEvent::FlowClosed`] goes to every receiver. Each receiver holds up to
    /// [`TransportLayerBuilder::event_capacity`] events; when the one a message is for is full, reading
    /// waits, and when it is dropped the transport that read the message stops reading.
    pub async fn start_sharded(
        self,
        shards: usize,
    ) -> Result<(TransportLayer, Vec<mpsc::Receiver<TransportEvent>>), TransportError> {
        for &(kind, _) in &self.listen {
            self.check_available(kind)?;
        }
        let mut table = ConnectionTable::new(self.connection_limits);
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut listeners = Vec::new();
        for &(kind, addr) in &self.listen {
            let bind_error = |e: io::Error| TransportError::Bind {
                addr,
                kind: e.kind(),
            };
            if kind == TransportKind::Udp {
                let socket = UdpSocket::bind(addr).await.map_err(bind_error)?;
                udp::enlarge_receive_buffer(&socket);
                let local = socket.local_addr().map_err(bind_error)?;
                listeners.push((kind, local));
                udp.push(udp::UdpEndpoint {
                    flow: table.allocate_flow(),
                    socket: Arc::new(socket),
                    local,
                });
            } else {
                let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
                let local = listener.local_addr().map_err(bind_error)?;
                listeners.push((kind, local));
                tcp.push((kind, listener));
            }
        }
        let (events, receivers): (Vec<_>, Vec<_>) = (0..shards.max(1))
            .map(|_| mpsc::channel(self.event_capacity))
            .unzip();
        let shared = Arc::new(Shared {
            limits: self.limits,
            connection_limits: self.connection_limits,
            table: Mutex::new(table),
            udp,
            listeners,
            events,
            stats: Counters::default(),
            tasks: Mutex::new(Vec::new()),
            shut_down: AtomicBool::new(false),
            #[cfg(feature = "tls")]
            tls: super::tls::TlsContext::new(self.tls_server, self.tls_client),
        });
        let mut tasks = Vec::new();
        for index in 0..shared.udp.len() {
            tasks.push(tokio::spawn(udp::receive(shared.clone(), index)).abort_handle());
        }
        for (kind, listener) in tcp {
            tasks.push(tokio::spawn(stream::accept(shared.clone(), listener, kind)).abort_handle());
        }
        *lock(&shared.tasks) = tasks;
        let layer = TransportLayer {
            owner: Arc::new(Owner(shared.clone())),
            shared,
        };
        Ok((layer, receivers))
    }

    fn check_available(&self, kind: TransportKind) -> Result<(), TransportError> {
        let available = match kind {
            TransportKind::Udp | TransportKind::Tcp => true,
            #[cfg(feature = "tls")]
            TransportKind::Tls => self.tls_server.is_some(),
            #[cfg(feature = "ws")]
            TransportKind::Ws => true,
            #[cfg(all(feature = "ws", feature = "tls"))]
            TransportKind::Wss => self.tls_server.is_some(),
            #[allow(unreachable_patterns)]
            _ => false,
        };
        match available {
            true => Ok(()),
            false => Err(TransportError::NotAvailable(kind)),
        }
    }
}

/// The transports of a SIP element: UDP sockets, TCP/TLS/WebSocket listeners and connections, sharing one
/// connection table. Cheap to clone; every clone drives the same transports, which shut down when the
/// last clone is dropped (or at [`TransportLayer::shutdown`]).
///
/// Incoming messages arrive as [`TransportEvent`]s on the receiver [`TransportLayerBuilder::start`] returns:
/// requests with their top Via stamped per RFC 3581, each with the [`Target`] to answer on. Outgoing
/// messages go through [`TransportLayer::send`], which reports failures (a refused or failed connect, a
/// write on a connection that died) to the caller, for its transaction layer.
#[derive(Clone)]
pub struct TransportLayer {
    shared: Arc<Shared>,
    owner: Arc<Owner>,
}

impl fmt::Debug for TransportLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportLayer")
            .field("listeners", &self.shared.listeners)
            .finish_non_exhaustive()
    }
}

impl TransportLayer {
    /// A builder with no listeners, default [`Limits`] and [`ConnectionLimits`].
    pub fn builder() -> TransportLayerBuilder {
        TransportLayerBuilder {
            listen: Vec::new(),
            limits: Limits::DEFAULT,
            connection_limits: ConnectionLimits::DEFAULT,
            event_capacity: 1024,
            #[cfg(feature = "tls")]
            tls_server: None,
            #[cfg(feature = "tls")]
            tls_client: None,
        }
    }

    /// Send one serialized message; returns the flow it went over.
    ///
    /// - UDP: from the socket `target.flow` names, else from the first socket of the address family.
    /// - TCP, TLS: over `target.flow` if it is still open; else over the newest open connection to
    ///   `target.addr`; else over a new connection (for TLS the certificate must name the IP address: use
    ///   [`TransportLayer::connect`] to verify a host name).
    /// - WS, WSS: over `target.flow`, or an open connection to `target.addr`; WebSocket connections are
    ///   only accepted, never opened, so without one this fails with [`TransportError::FlowClosed`] or
    ///   [`TransportError::NoConnection`].
    ///
    /// The call returns once the bytes are written to the socket. A failed write closes the connection and
    /// returns [`TransportError::Send`]: tell the transaction that sent it (RFC 3261 §17.1.4, §17.2.4).
    /// Connecting waits up to the connect and handshake timeouts; spawn the call to avoid waiting. Two
    /// sends racing to an address with no connection may open one connection each; later sends use the
    /// newest.
    pub async fn send(&self, target: Target, payload: Bytes) -> Result<FlowId, TransportError> {
        if self.shared.is_shut_down() {
            return Err(TransportError::Shutdown);
        }
        match target.transport {
            TransportKind::Udp => udp::send(&self.shared, target, &payload).await,
            _ => stream::send(&self.shared, target, &payload).await,
        }
    }

    /// Open a new TCP or TLS connection to `addr` and return its flow. For TLS, `server_name` is the name
    /// the server's certificate must carry (the host of the SIP URI, RFC 5922); without it the certificate
    /// must name the IP address.
    pub async fn connect(
        &self,
        transport: TransportKind,
        addr: SocketAddr,
        server_name: Option<&str>,
    ) -> Result<FlowId, TransportError> {
        if self.shared.is_shut_down() {
            return Err(TransportError::Shutdown);
        }
        stream::open(&self.shared, transport, addr, server_name)
            .await
            .map(|(flow, _)| flow)
    }

    /// Keep connection `flow` open while it is idle, for as long as the lease lives (an RFC 5626 flow that a
    /// registration refers to). The message timeout still applies. `None` if there is no such connection.
    pub fn lease(&self, flow: FlowId) -> Option<FlowLease> {
        self.shared.table().lease(flow).then(|| FlowLease {
            shared: self.shared.clone(),
            flow,
        })
    }

    /// Close connection `flow` (a [`TransportEvent::FlowClosed`] with [`CloseReason::Local`] follows).
    pub async fn close(&self, flow: FlowId) {
        self.shared.close(flow, CloseReason::Local).await;
    }

    /// The first local address listening for `kind` (the bound port when port 0 was asked for).
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.shared
            .listeners
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|&(_, addr)| addr)
    }

    /// Every listener, with its bound address.
    pub fn listeners(&self) -> &[(TransportKind, SocketAddr)] {
        &self.shared.listeners
    }

    /// The counters.
    pub fn stats(&self) -> TransportStats {
        let open = self.shared.table().len();
        self.shared.stats.snapshot(open)
    }

    /// Stop listening and close every connection. Sends fail with [`TransportError::Shutdown`] afterwards.
    pub fn shutdown(&self) {
        self.owner.0.shut_down();
    }
}

/// Shuts the transports down when the last [`TransportLayer`] clone goes (tasks hold only [`Shared`]).
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.shut_down();
    }
}

/// Keeps a connection open while idle; see [`TransportLayer::lease`]. Dropping it gives the lease up.
pub struct FlowLease {
    shared: Arc<Shared>,
    flow: FlowId,
}

impl FlowLease {
    /// The leased flow.
    pub fn flow(&self) -> FlowId {
        self.flow
    }
}

impl fmt::Debug for FlowLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FlowLease").field(&self.flow).finish()
    }
}

impl Drop for FlowLease {
    fn drop(&mut self) {
        self.shared.table().release(self.flow);
    }
}

/// State shared by the layer's handles and tasks.
pub(crate) struct Shared {
    pub(crate) limits: Limits,
    pub(crate) connection_limits: ConnectionLimits,
    table: Mutex<ConnectionTable<Arc<Connection>>>,
    pub(crate) udp: Vec<udp::UdpEndpoint>,
    listeners: Vec<(TransportKind, SocketAddr)>,
    /// One sender per shard ([`TransportLayerBuilder::start_sharded`]); never empty.
    events: Vec<mpsc::Sender<TransportEvent>>,
    pub(crate) stats: Counters,
    tasks: Mutex<Vec<AbortHandle>>,
    shut_down: AtomicBool,
    #[cfg(feature = "tls")]
    pub(crate) tls: super::tls::TlsContext,
}

/// Lock a mutex, ignoring poisoning: the data behind these locks stays consistent between statements.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn table(&self) -> MutexGuard<'_, ConnectionTable<Arc<Connection>>> {
        lock(&self.table)
    }

    fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    fn shut_down(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        let mut table = self.table();
        for flow in table.flows() {
            if let Some(Some(conn)) = table.remove(flow) {
                conn.closing.notify_one();
                self.stats.connections_closed.bump();
            }
        }
    }

    /// When `flow` must next be checked, on tokio's clock; `None` when it is gone.
    pub(crate) fn next_deadline(&self, flow: FlowId) -> Option<tokio::time::Instant> {
        self.table()
            .deadline(flow, now())
            .map(tokio::time::Instant::from_std)
    }

    /// Why `flow` must close now, if it must.
    pub(crate) fn expiry(&self, flow: FlowId) -> Option<CloseReason> {
        let expiry = self.table().expiry(flow, now())?;
        Some(match expiry {
            // Established connections have no handshake deadline left; a late one counts as a slow message.
            Expiry::Handshake | Expiry::Message => CloseReason::MessageTimeout,
            Expiry::Idle => CloseReason::Idle,
        })
    }

    /// Register a connection whose handshake is done; `None` if its flow was closed meanwhile.
    pub(crate) fn establish(
        &self,
        flow: FlowId,
        kind: TransportKind,
        peer: SocketAddr,
        local: SocketAddr,
        session: Session,
    ) -> Option<(Arc<Connection>, ReadSide)> {
        let (writer, reader) = session.split();
        let conn = Arc::new(Connection {
            kind,
            peer,
            local,
            writer: tokio::sync::Mutex::new(writer),
            closing: Notify::new(),
        });
        if !self.table().established(flow, now(), conn.clone()) {
            return None;
        }
        self.stats.connections_opened.bump();
        Some((conn, reader))
    }

    /// A connection that never got established goes (failed or timed-out handshake).
    pub(crate) fn abandon(&self, flow: FlowId) {
        self.table().remove(flow);
        self.stats.handshakes_failed.bump();
    }

    /// Close `flow` and tell the user, once; closing a flow that is gone does nothing.
    pub(crate) async fn close(&self, flow: FlowId, reason: CloseReason) {
        let Some(Some(conn)) = self.table().remove(flow) else {
            return;
        };
        conn.closing.notify_one();
        self.stats.connections_closed.bump();
        let closed = FlowClosed {
            flow,
            transport: conn.kind,
            peer: conn.peer,
            reason,
        };
        // A receiver that is gone no longer cares.
        for events in &self.events {
            let _ = events
                .send(TransportEvent::FlowClosed(closed.clone()))
                .await;
        }
    }

    /// The sender of shard `shard` (the first one if out of range: there is always one).
    fn events_for(&self, shard: usize) -> &mpsc::Sender<TransportEvent> {
        let index = if shard < self.events.len() { shard } else { 0 };
        &self.events[index]
    }

    /// Hand a message to the user, stamping requests; `false` when the receiver is gone.
    pub(crate) async fn deliver(&self, mut message: Message, from: Arrival) -> bool {
        if let Message::Request(request) = &mut message {
            // A Via that does not parse is left for validation to reject.
            let _ = stamp_received(request, from.source);
        }
        self.stats.messages_in.bump();
        let events = self.events_for(super::shard_for_message(
            &message,
            from.source,
            self.events.len(),
        ));
        let incoming = Incoming {
            message,
            source: from.source,
            local: from.local,
            transport: from.transport,
            flow: from.flow,
            received_at: now(),
        };
        events.send(TransportEvent::Message(incoming)).await.is_ok()
    }

    /// Read one datagram (UDP, or a WebSocket message) and hand on what it holds; `false` when the
    /// receiver is gone.
    pub(crate) async fn deliver_datagram(&self, bytes: Bytes, from: Arrival) -> bool {
        match read_datagram(&bytes, &self.limits) {
            Datagram::Message(message) => self.deliver(message, from).await,
            Datagram::KeepAlive => {
                self.stats.keepalives.bump();
                true
            }
            Datagram::Malformed {
                request: None,
                error: _,
            } => {
                self.stats.malformed.bump();
                true
            }
            Datagram::Malformed {
                request: Some(mut request),
                error,
            } => {
                self.stats.malformed.bump();
                let _ = stamp_received(&mut request, from.source);
                let malformed = IncomingError {
                    bytes,
                    request,
                    error,
                    source: from.source,
                    local: from.local,
                    transport: from.transport,
                    flow: from.flow,
                    received_at: now(),
                };
                let shard = super::shard_for_headers(
                    malformed.request.headers(),
                    from.source,
                    self.events.len(),
                );
                self.events_for(shard)
                    .send(TransportEvent::Malformed(malformed))
                    .await
                    .is_ok()
            }
        }
    }
}

/// Where a message arrived from and on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub(crate) source: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) transport: TransportKind,
    pub(crate) flow: FlowId,
}

/// An established connection: its write side, and the signal that tells its reader to stop.
pub(crate) struct Connection {
    pub(crate) kind: TransportKind,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    writer: tokio::sync::Mutex<Writer>,
    /// Notified when the connection is closed from outside its reader.
    pub(crate) closing: Notify,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("kind", &self.kind)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// This connection's arrival details for messages read on flow `flow`.
    pub(crate) fn arrival(&self, flow: FlowId) -> Arrival {
        Arrival {
            source: self.peer,
            local: self.local,
            transport: self.kind,
            flow,
        }
    }

    /// Write one message, waiting at most `timeout` for the connection (other writers included).
    pub(crate) async fn write(
        &self,
        payload: &Bytes,
        timeout: Duration,
    ) -> Result<(), io::ErrorKind> {
        let write = async {
            let mut writer = self.writer.lock().await;
            writer.write(payload).await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.kind()),
            Err(_) => Err(io::ErrorKind::TimedOut),
        }
    }

    /// Close the write side politely (TCP FIN, TLS close_notify, WebSocket Close), unless a writer is busy.
    pub(crate) async fn shut_writer(&self, timeout: Duration) {
        let Ok(mut writer) = self.writer.try_lock() else {
            return;
        };
        let _ = tokio::time::timeout(timeout, writer.shutdown()).await;
    }
}

/// The write side of a connection.
pub(crate) enum Writer {
    /// TCP or TLS.
    Stream(WriteHalf<BoxedIo>),
    /// WebSocket, over TCP or TLS.
    #[cfg(feature = "ws")]
    Ws(super::ws::WsSink),
}

impl Writer {
    async fn write(&mut self, payload: &Bytes) -> io::Result<()> {
        match self {
            Writer::Stream(stream) => {
                stream.write_all(payload).await?;
                stream.flush().await
            }
            #[cfg(feature = "ws")]
            Writer::Ws(sink) => super::ws::send(sink, payload).await,
        }
    }

    async fn shutdown(&mut self) {
        match self {
            Writer::Stream(stream) => {
                let _ = stream.shutdown().await;
            }
            #[cfg(feature = "ws")]
            Writer::Ws(sink) => super::ws::close(sink).await,
        }
    }
}

/// A connection whose handshake is done, before it is split into reader and writer.
pub(crate) enum Session {
    /// TCP or TLS.
    Stream(BoxedIo),
    /// WebSocket, with the mark its reader watches for started messages.
    #[cfg(feature = "ws")]
    Ws(Box<super::ws::WsStream>, Arc<super::ws::ReadMark>),
}

impl Session {
    fn split(self) -> (Writer, ReadSide) {
        match self {
            Session::Stream(io) => {
                let (reader, writer) = tokio::io::split(io);
                (Writer::Stream(writer), ReadSide::Stream(reader))
            }
            #[cfg(feature = "ws")]
            Session::Ws(stream, mark) => {
                use futures_util::StreamExt;
                let (sink, stream) = (*stream).split();
                (Writer::Ws(sink), ReadSide::Ws(stream, mark))
            }
        }
    }
}

/// The read side of a connection.
pub(crate) enum ReadSide {
    /// TCP or TLS.
    Stream(ReadHalfStream),
    /// WebSocket.
    #[cfg(feature = "ws")]
    Ws(super::ws::WsSource, Arc<super::ws::ReadMark>),
}

/// Read `flow` until it closes, then close it.
pub(crate) async fn read_until_closed(
    shared: Arc<Shared>,
    flow: FlowId,
    conn: Arc<Connection>,
    reader: ReadSide,
) {
    let reason = match reader {
        ReadSide::Stream(reader) => stream::read(&shared, flow, &conn, reader).await,
        #[cfg(feature = "ws")]
        ReadSide::Ws(source, mark) => super::ws::read(&shared, flow, &conn, source, &mark).await,
    };
    shared.close(flow, reason).await;
    conn.shut_writer(shared.connection_limits.write_timeout)
        .await;
}
