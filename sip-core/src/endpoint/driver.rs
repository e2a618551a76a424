//! The tokio driver: one task owning the transports' event stream and a [`UserAgent`], selecting over
//! incoming messages, application commands and the user agent's next deadline.

use super::handles::{
    ClientTransactionHandle, ClientUpdate, DialogAttach, DialogEvent, ServerTransaction,
};
use super::outgoing::OutgoingRequest;
use super::user_agent::{DialogRef, RequestId, UaEvent, UserAgent, UserAgentConfig};
use super::{EndpointError, Outbound};
use crate::auth::DigestClient;
use crate::message::{HeaderField, Request, Response};
use crate::method::Method;
use crate::transaction::{Target, TimerConfig, TransactionId, TransportKind};
use crate::transport::{
    TransportEvent, TransportKind as Kind, TransportLayer, TransportLayerBuilder,
};
use crate::uri::Uri;
use crate::validate::ValidationPolicy;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc, oneshot};

/// How long a connection's send queue task waits for more messages before it ends.
const SEND_QUEUE_IDLE: Duration = Duration::from_secs(30);

/// tokio's clock (virtual in tests that pause time) as a std `Instant`.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// What the application asks of the driver task.
pub(super) enum Command {
    Send {
        request: Box<Request>,
        target: Target,
        credentials: Option<DigestClient>,
        updates: mpsc::UnboundedSender<ClientUpdate>,
        reply: oneshot::Sender<Result<RequestId, EndpointError>>,
    },
    Cancel(RequestId),
    Respond {
        transaction: TransactionId,
        response: Box<Response>,
        reply: Option<oneshot::Sender<Result<Option<DialogAttach>, EndpointError>>>,
    },
    InDialog {
        dialog: DialogRef,
        method: Method,
        headers: Vec<HeaderField>,
        body: Bytes,
        updates: mpsc::UnboundedSender<ClientUpdate>,
        reply: oneshot::Sender<Result<RequestId, EndpointError>>,
    },
    Release(DialogRef),
    Template {
        method: Method,
        uri: Box<Uri>,
        transport: TransportKind,
        reply: oneshot::Sender<crate::message::RequestBuilder>,
    },
}

/// Configures and starts an [`Endpoint`].
#[derive(Debug)]
#[must_use]
pub struct EndpointBuilder {
    config: UserAgentConfig,
    transports: TransportLayerBuilder,
    advertised: Option<std::net::IpAddr>,
}

impl EndpointBuilder {
    fn bind(mut self, kind: Kind, addr: SocketAddr) -> EndpointBuilder {
        self.transports = self.transports.listen(kind, addr);
        self
    }

    /// Listen for SIP over UDP on `addr` (port 0 picks a free port; see [`Endpoint::local_addr`]).
    pub fn bind_udp(self, addr: SocketAddr) -> EndpointBuilder {
        self.bind(Kind::Udp, addr)
    }

    /// Listen for SIP over TCP on `addr`.
    pub fn bind_tcp(self, addr: SocketAddr) -> EndpointBuilder {
        self.bind(Kind::Tcp, addr)
    }

    /// Listen for SIP over TLS on `addr` (needs [`EndpointBuilder::tls_server`]).
    #[cfg(feature = "tls")]
    pub fn bind_tls(self, addr: SocketAddr) -> EndpointBuilder {
        self.bind(Kind::Tls, addr)
    }

    /// Listen for SIP over WebSocket (RFC 7118) on `addr`.
    #[cfg(feature = "ws")]
    pub fn bind_ws(self, addr: SocketAddr) -> EndpointBuilder {
        self.bind(Kind::Ws, addr)
    }

    /// Listen for SIP over secure WebSocket on `addr` (needs [`EndpointBuilder::tls_server`]).
    #[cfg(all(feature = "ws", feature = "tls"))]
    pub fn bind_wss(self, addr: SocketAddr) -> EndpointBuilder {
        self.bind(Kind::Wss, addr)
    }

    /// The certificate TLS and WSS listeners present (see [`crate::transport::tls`]).
    #[cfg(feature = "tls")]
    pub fn tls_server(mut self, config: Arc<rustls::ServerConfig>) -> EndpointBuilder {
        self.transports = self.transports.tls_server(config);
        self
    }

    /// The trust anchors for TLS connections the endpoint opens.
    #[cfg(feature = "tls")]
    pub fn tls_client(mut self, config: Arc<rustls::ClientConfig>) -> EndpointBuilder {
        self.transports = self.transports.tls_client(config);
        self
    }

    /// Configure the transports further (parser and connection limits, …).
    pub fn transports(
        mut self,
        configure: impl FnOnce(TransportLayerBuilder) -> TransportLayerBuilder,
    ) -> EndpointBuilder {
        self.transports = configure(self.transports);
        self
    }

    /// Transaction timers (T1, T2, T4 …).
    pub fn timers(mut self, timers: TimerConfig) -> EndpointBuilder {
        self.config.timers = timers;
        self
    }

    /// The validation policy for incoming requests (methods allowed, option tags, body types).
    pub fn policy(mut self, policy: ValidationPolicy) -> EndpointBuilder {
        self.config.policy = policy;
        self
    }

    /// Allow `method` on top of the policy's methods (REGISTER, MESSAGE, SUBSCRIBE …).
    pub fn allow(mut self, method: Method) -> EndpointBuilder {
        if let crate::validate::Role::Uas { allowed, .. } = &mut self.config.policy.role
            && !allowed.contains(&method)
        {
            allowed.push(method);
        }
        self
    }

    /// The user part of the Contact and default From (`tandem` by default).
    pub fn user(mut self, user: &str) -> EndpointBuilder {
        self.config.user = user.to_owned();
        self
    }

    /// The `User-Agent` of requests the endpoint builds.
    pub fn product(mut self, product: &str) -> EndpointBuilder {
        self.config.product = Some(product.to_owned());
        self
    }

    /// The IP address put in Via and Contact instead of the listeners' own (needed when they are bound to
    /// `0.0.0.0` or `::`, or sit behind a static NAT); ports stay the bound ones.
    pub fn advertise(mut self, ip: std::net::IpAddr) -> EndpointBuilder {
        self.advertised = Some(ip);
        self
    }

    /// Whether requests other than OPTIONS with `Max-Forwards: 0` get 483 (on by default).
    pub fn reject_zero_max_forwards(mut self, reject: bool) -> EndpointBuilder {
        self.config.reject_zero_max_forwards = reject;
        self
    }

    /// Bind the transports and start the endpoint's task on the current tokio runtime.
    pub async fn build(self) -> Result<Endpoint, EndpointError> {
        let (transports, events) = self.transports.start().await?;
        let mut ua = UserAgent::new(self.config);
        let mut listeners = Vec::new();
        for &(kind, addr) in transports.listeners() {
            let advertised = SocketAddr::new(self.advertised.unwrap_or(addr.ip()), addr.port());
            ua.set_local_address(kind, advertised);
            listeners.push((kind, addr));
        }
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            ua,
            transports: transports.clone(),
            commands: commands.downgrade(),
            incoming: incoming_tx,
            clients: HashMap::new(),
            dialogs: HashMap::new(),
            cancellations: HashMap::new(),
            queues: HashMap::new(),
            failures: mpsc::unbounded_channel(),
        };
        tokio::spawn(driver.run(events, command_rx));
        Ok(Endpoint {
            shared: Arc::new(Shared {
                commands,
                incoming: Mutex::new(incoming_rx),
                listeners,
                transports,
            }),
        })
    }
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    incoming: Mutex<mpsc::UnboundedReceiver<ServerTransaction>>,
    listeners: Vec<(TransportKind, SocketAddr)>,
    transports: TransportLayer,
}

/// A running SIP endpoint: transports, transactions and dialogs driven by one tokio task, and the API an
/// application (the transaction user) works with. Cheap to clone.
///
/// A UAS answering OPTIONS (and anything else) with 200 and calls with an SDP answer:
///
/// ```no_run
/// use tandem_sip_core::endpoint::Endpoint;
/// use tandem_sip_core::{Method, StatusCode};
/// # const ANSWER: &str = "v=0\r\n";
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let endpoint = Endpoint::builder().bind_udp("127.0.0.1:5060".parse()?).build().await?;
///     while let Some(mut request) = endpoint.incoming().await {
///         if *request.request().method() != Method::Invite {
///             request.reply(StatusCode::OK).await?;
///             continue;
///         }
///         let mut call = endpoint.create_uas(request, ANSWER).await?;
///         tokio::spawn(async move { call.ended().await }); // the endpoint answers the BYE
///     }
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Endpoint {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("listeners", &self.shared.listeners)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A builder with the default user agent configuration and no listeners.
    pub fn builder() -> EndpointBuilder {
        EndpointBuilder {
            config: UserAgentConfig::default(),
            transports: TransportLayer::builder(),
            advertised: None,
        }
    }

    /// The bound address of the first listener of `kind`.
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.shared
            .listeners
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|&(_, a)| a)
    }

    /// The transports, for their statistics or to close a flow.
    pub fn transports(&self) -> &TransportLayer {
        &self.shared.transports
    }

    pub(super) fn command(&self, command: Command) -> Result<(), EndpointError> {
        self.shared
            .commands
            .send(command)
            .map_err(|_| EndpointError::Closed)
    }

    pub(super) fn commands(&self) -> mpsc::UnboundedSender<Command> {
        self.shared.commands.clone()
    }

    /// The next request from outside any dialog of this endpoint's (and requests within dialogs whose
    /// handle is gone); `None` once the endpoint has shut down.
    pub async fn incoming(&self) -> Option<ServerTransaction> {
        self.shared.incoming.lock().await.recv().await
    }

    /// A request of `method` to `uri` outside any dialog, to complete and send; see [`OutgoingRequest`].
    pub fn request(&self, method: Method, uri: Uri) -> OutgoingRequest {
        OutgoingRequest::new(self.clone(), method, uri)
    }

    /// A request template from the user agent: From (fresh tag), To, Call-ID, CSeq, Max-Forwards, Contact.
    pub(super) async fn template(
        &self,
        method: Method,
        uri: Uri,
        transport: TransportKind,
    ) -> Result<crate::message::RequestBuilder, EndpointError> {
        let (reply, rx) = oneshot::channel();
        self.command(Command::Template {
            method,
            uri: Box::new(uri),
            transport,
            reply,
        })?;
        rx.await.map_err(|_| EndpointError::Closed)
    }

    /// Send `request` as it is (a Via is added if it has none) to `target` in a new client transaction.
    /// With `credentials`, 401/407 challenges are answered.
    pub async fn send_request(
        &self,
        request: Request,
        target: Target,
        credentials: Option<DigestClient>,
    ) -> Result<ClientTransactionHandle, EndpointError> {
        let (updates, update_rx) = mpsc::unbounded_channel();
        let (reply, rx) = oneshot::channel();
        self.command(Command::Send {
            request: Box::new(request),
            target,
            credentials,
            updates,
            reply,
        })?;
        let id = rx.await.map_err(|_| EndpointError::Closed)??;
        Ok(ClientTransactionHandle::new(id, update_rx, self.commands()))
    }
}

/// The driver task's state: the user agent and the routes from its events to the application's handles.
struct Driver {
    ua: UserAgent,
    transports: TransportLayer,
    /// For handles the driver creates; weak so that the task ends once the application is gone.
    commands: mpsc::WeakUnboundedSender<Command>,
    incoming: mpsc::UnboundedSender<ServerTransaction>,
    clients: HashMap<RequestId, mpsc::UnboundedSender<ClientUpdate>>,
    dialogs: HashMap<DialogRef, mpsc::UnboundedSender<DialogEvent>>,
    cancellations: HashMap<TransactionId, oneshot::Sender<()>>,
    /// Send queues of connection-oriented destinations, so that a slow connect delays only its own
    /// messages and messages on one connection keep their order.
    queues: HashMap<Target, mpsc::UnboundedSender<Outbound>>,
    /// Transactions whose message could not be sent, reported by the send queues.
    failures: (
        mpsc::UnboundedSender<TransactionId>,
        mpsc::UnboundedReceiver<TransactionId>,
    ),
}

impl Driver {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<TransportEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let deadline = self.ua.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                event = events.recv() => match event {
                    Some(event) => self.transport_event(event),
                    None => break,
                },
                Some(failed) = self.failures.1.recv() => {
                    self.ua.handle_transport_error(now(), failed);
                }
                () = sleep_until(deadline) => self.ua.handle_timeout(now()),
            }
            self.flush().await;
        }
        self.transports.shutdown();
    }

    fn transport_event(&mut self, event: TransportEvent) {
        match event {
            TransportEvent::Message(incoming) => {
                let source = incoming.target();
                self.ua.handle_incoming(now(), incoming.message, source);
            }
            TransportEvent::Malformed(bad) => {
                let source = bad.target();
                self.ua
                    .handle_malformed(now(), &bad.request, &bad.error, source);
            }
            _ => {}
        }
    }

    fn command(&mut self, command: Command) {
        let now = now();
        match command {
            Command::Send {
                request,
                target,
                credentials,
                updates,
                reply,
            } => {
                let result = self.ua.send_request(now, *request, target, credentials);
                if let Ok(id) = result {
                    self.clients.insert(id, updates);
                }
                let _ = reply.send(result);
            }
            Command::Cancel(request) => {
                let _ = self.ua.cancel(now, request);
            }
            Command::Respond {
                transaction,
                response,
                reply,
            } => {
                let result = self
                    .ua
                    .respond(now, transaction, *response)
                    .map(|dialog| dialog.and_then(|d| self.attach(d)));
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Command::InDialog {
                dialog,
                method,
                headers,
                body,
                updates,
                reply,
            } => {
                let result = self
                    .ua
                    .request_in_dialog(now, dialog, method, headers, body);
                if let Ok(id) = result {
                    self.clients.insert(id, updates);
                }
                let _ = reply.send(result);
            }
            Command::Release(dialog) => {
                self.dialogs.remove(&dialog);
                self.ua.release(now, dialog);
            }
            Command::Template {
                method,
                uri,
                transport,
                reply,
            } => {
                let _ = reply.send(self.ua.request(method, *uri, transport));
            }
        }
    }

    /// A channel for `dialog` the first time the application hears of it.
    fn attach(&mut self, dialog: DialogRef) -> Option<DialogAttach> {
        if self.dialogs.contains_key(&dialog) {
            return None;
        }
        let id = self.ua.dialog(dialog)?.id().clone();
        let commands = self.commands.upgrade()?;
        let (events, rx) = mpsc::unbounded_channel();
        self.dialogs.insert(dialog, events);
        Some(DialogAttach {
            dialog,
            id,
            events: rx,
            commands,
        })
    }

    /// Send what the user agent wants sent and hand its events to the application.
    async fn flush(&mut self) {
        while let Some(out) = self.ua.poll_transmit() {
            self.transmit(out).await;
        }
        while let Some(event) = self.ua.poll_event() {
            self.deliver(event);
        }
    }

    async fn transmit(&mut self, out: Outbound) {
        if out.target.transport == TransportKind::Udp {
            let sent = self.transports.send(out.target, out.payload).await;
            if let (Err(_), Some(transaction)) = (sent, out.transaction) {
                self.ua.handle_transport_error(now(), transaction);
            }
            return;
        }
        let target = out.target;
        let out = match self.queues.get(&target) {
            Some(queue) => match queue.send(out) {
                Ok(()) => return,
                Err(mpsc::error::SendError(out)) => out,
            },
            None => out,
        };
        self.queues.retain(|_, q| !q.is_closed());
        let (queue, rx) = mpsc::unbounded_channel();
        let _ = queue.send(out);
        self.queues.insert(target, queue);
        tokio::spawn(send_queue(
            self.transports.clone(),
            rx,
            self.failures.0.clone(),
        ));
    }

    fn deliver(&mut self, event: UaEvent) {
        match event {
            UaEvent::Request(request) => {
                let cancelled = match request.request.method() {
                    Method::Invite => {
                        let (tx, rx) = oneshot::channel();
                        self.cancellations.insert(request.transaction, tx);
                        Some(rx)
                    }
                    _ => None,
                };
                let Some(commands) = self.commands.upgrade() else {
                    return;
                };
                let dialog = request.dialog;
                let transaction = ServerTransaction::new(request, commands, cancelled);
                let undelivered = match dialog.and_then(|d| self.dialogs.get(&d)) {
                    Some(route) => route
                        .send(DialogEvent::Request(transaction))
                        .err()
                        .and_then(|e| match e.0 {
                            DialogEvent::Request(t) => Some(t),
                            _ => None,
                        }),
                    None => Some(transaction),
                };
                if let Some(transaction) = undelivered {
                    let _ = self.incoming.send(transaction);
                }
            }
            UaEvent::Cancelled { transaction } => {
                if let Some(tx) = self.cancellations.remove(&transaction) {
                    let _ = tx.send(());
                }
            }
            UaEvent::ServerEnded { transaction } => {
                self.cancellations.remove(&transaction);
            }
            UaEvent::Response {
                request,
                response,
                dialog,
            } => {
                let attach = dialog.and_then(|d| self.attach(d));
                let Some(route) = self.clients.get(&request) else {
                    return;
                };
                let update = ClientUpdate::Response {
                    response,
                    dialog,
                    attach,
                };
                if let Err(mpsc::error::SendError(ClientUpdate::Response {
                    attach: Some(attach),
                    ..
                })) = route.send(update)
                {
                    // Nobody is listening: let the dialog go.
                    self.dialogs.remove(&attach.dialog);
                    self.ua.release(now(), attach.dialog);
                }
            }
            UaEvent::RequestEnded { request, outcome } => {
                if let Some(route) = self.clients.remove(&request) {
                    let _ = route.send(ClientUpdate::Ended(outcome));
                }
            }
            UaEvent::Ack { dialog, request } => {
                if let Some(route) = self.dialogs.get(&dialog) {
                    let _ = route.send(DialogEvent::Ack(request));
                }
            }
            UaEvent::DialogEnded { dialog, reason } => {
                if let Some(route) = self.dialogs.remove(&dialog) {
                    let _ = route.send(DialogEvent::Ended(reason));
                }
            }
        }
    }
}

/// Send the messages of one connection-oriented destination in order; report failed transactions.
async fn send_queue(
    transports: TransportLayer,
    mut queue: mpsc::UnboundedReceiver<Outbound>,
    failures: mpsc::UnboundedSender<TransactionId>,
) {
    while let Ok(Some(out)) = tokio::time::timeout(SEND_QUEUE_IDLE, queue.recv()).await {
        let sent = transports.send(out.target, out.payload).await;
        if let (Err(_), Some(transaction)) = (sent, out.transaction) {
            let _ = failures.send(transaction);
        }
    }
}

/// Sleep until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
