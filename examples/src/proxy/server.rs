//! The async driver of `tandem proxy`: sip-core's `TransportLayer` and `TransactionLayer` (used directly, not
//! through the `Endpoint`, whose user-agent core builds its own Via/From/To and answers requests itself,
//! which a proxy must not do), the registrar service, the dispatcher and the flood guard.
//!
//! The work is split over `[proxy] shards` loops (one per core by default). The transport layer steers
//! every received message to a shard by a hash of its Call-ID
//! ([`tandem_sip_core::transport::shard_for_message`]), so a request, its retransmissions, the responses to
//! it, its CANCEL and ACK and the in-dialog requests of its call all reach the same shard. Each shard owns a
//! transaction layer, a proxy core and the maps between them, which therefore never need a lock; the
//! shards share the registrar (its store is thread-safe), the dispatcher and the flood guard (behind
//! mutexes, held for one call and never across an await), the metrics (atomics) and the transports
//! (sending is `&self`). Shard 0 also runs the dispatcher's timers and OPTIONS probes, whose Call-IDs are
//! chosen to steer their answers back to it, the admin commands and the gauges; another shard whose
//! dispatcher call moves the dispatcher's next deadline before shard 0's next wake-up wakes it
//! (`DispatcherWake`).
//!
//! A shard's loop owns its state; the only work done elsewhere is what awaits a store (REGISTER with an
//! SQL or Redis store, location lookups), whose results come back on the shard's channel, and sends over
//! connection-oriented transports. With the memory store a REGISTER is answered on the loop: its future is
//! ready at once.

use super::admin::{self, Admin, AdminCommand, ListSource};
use super::config::ProxyConfig;
use super::dispatcher_wake::{DispatcherWake, LockedDispatcher};
use super::flood::{Admission, FloodGuard};
use super::metrics::{self, Metrics};
use super::store::{ProxyStore, StoreSpec};
use super::trim::{BurstTrim, release_free_memory};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};
use tandem_dispatcher::driver::ProbeTransactions;
use tandem_dispatcher::{
    Algorithm, Candidate, Dispatcher, DispatcherConfig, DispatcherList, Failover, FailureReason,
    ProbeConfig, ProbeMode, Selection,
};
use tandem_registrar::{
    Aor, Binding, Credential, CredentialStore, DigestAlgorithm, Flow, FlowToken, LocationStore,
    Registrar, RegistrarConfig, RegistrarService,
};
use tandem_sip_core::auth::Algorithm as DigestAlg;
use tandem_sip_core::dialog::generate_call_id;
use tandem_sip_core::endpoint::target_for_uri;
use tandem_sip_core::header::ProxyAuthorization;
use tandem_sip_core::proxy::{
    AckDrop, Action, BranchFailure, BranchId, FailoverReason, ForwardTarget, LocalIdentity,
    Routing, Search, StatefulProxy, requires_proxy_authentication,
};
use tandem_sip_core::transaction::{Target, TransactionEvent, TransactionId, TransportKind};
use tandem_sip_core::transport::{self as wire, TransportEvent, TransportLayer};
use tandem_sip_core::{
    AuthError, ChallengeKind, DigestServer, HeaderField, HeaderName, Host, Message, Method,
    Rejection, Request, Response, StatusCode, TransactionLayer, ValidationPolicy, validate_request,
    validate_response,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A listener could not be bound, or TLS could not be set up.
    #[error("transport: {0}")]
    Transport(#[from] tandem_sip_core::TransportError),
    /// The dispatcher list is invalid.
    #[error("dispatcher list: {0}")]
    DispatcherList(String),
    /// Some other setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The metrics listener could not be bound.
    #[error("metrics listener: {0}")]
    Metrics(std::io::Error),
    /// The location or credential store failed.
    #[error("registrar store: {0}")]
    Store(#[from] tandem_registrar::Error),
}

/// A proxy running on the current tokio runtime; dropping it stops it.
#[derive(Debug)]
pub struct RunningProxy {
    listeners: Vec<(TransportKind, SocketAddr)>,
    metrics_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    shards: usize,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningProxy {
    /// The bound address of the `kind` listener.
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|&(_, a)| a)
    }

    /// The bound address of the metrics endpoint.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The live metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// How many shards (proxy loops) it runs.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// Wait until the proxy stops (it runs until dropped, so this waits forever in practice).
    pub async fn wait(mut self) {
        if let Some(task) = self.tasks.first_mut() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What a background task reports back to the loop.
enum Completion {
    /// The response to a REGISTER.
    Register {
        server: TransactionId,
        response: Response,
        source: IpAddr,
        auth: AuthResult,
    },
    /// The outcome of checking the Proxy-Authorization of an initial request from one of our users.
    Authorized {
        server: TransactionId,
        source: Target,
        /// `None` when the credentials are good, else the response refusing them.
        refusal: Option<Response>,
        auth: AuthResult,
    },
    /// The bindings of the AOR a request is addressed to.
    Location {
        server: TransactionId,
        bindings: Vec<Binding>,
        known_user: bool,
    },
    /// A send over a stream transport failed.
    SendFailed(TransactionId),
    /// The number of bindings in the store.
    Registrations(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthResult {
    NotChecked,
    Passed,
    Failed,
}

/// Start the proxy described by `config` on the current tokio runtime.
pub async fn start(config: ProxyConfig) -> Result<RunningProxy, ProxyError> {
    let store_spec = StoreSpec::from_section(&config.registrar)?;
    let shards = config.proxy.shard_count();
    let (transports, receivers) = bind_transports(&config, shards).await?;
    let listeners: Vec<(TransportKind, SocketAddr)> = transports
        .listeners()
        .iter()
        .map(|&(kind, addr)| (kind, addr))
        .collect();
    let identity = identity(&config, &listeners);
    let realm = config.realm();
    let store = Arc::new(ProxyStore::open(&store_spec).await?);
    tracing::info!(backend = store.backend(), "registrar store open");
    for user in &config.users {
        let credential = match (&user.password, &user.ha1) {
            (Some(password), _) => Credential::from_password(&user.username, &realm, password),
            (None, Some(ha1)) => {
                let ha1 = tandem_registrar::Ha1::new(DigestAlgorithm::Md5, ha1)?;
                Credential::from_ha1(&user.username, &realm, vec![ha1])
            }
            (None, None) => {
                return Err(ProxyError::Config(format!(
                    "user {} has neither password nor ha1",
                    user.username
                )));
            }
        };
        store.put_credential(&credential).await?;
    }
    let registrar_config = {
        let mut c = RegistrarConfig::default();
        c.default_expires = config.registrar.default_expires;
        c.min_expires = config.registrar.min_expires;
        c.max_expires = config.registrar.max_expires;
        c.domains = config.proxy.domains.clone();
        c
    };
    let service = Arc::new(RegistrarService::new(
        Registrar::new(registrar_config),
        store.clone(),
    ));
    let digest = config.proxy.auth.then(|| {
        let secret = match &config.proxy.nonce_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => random_secret(),
        };
        // MD5 first: SIPp and many deployed phones only answer the first challenge and know only MD5.
        DigestServer::new(&realm, &secret).with_algorithms(&[DigestAlg::Md5, DigestAlg::Sha256])
    });
    let list_source = ListSource::from_config(&config.dispatcher).map_err(ProxyError::Config)?;
    let list = list_source
        .load()
        .await
        .map_err(ProxyError::DispatcherList)?;
    let dispatcher = Arc::new(Mutex::new(build_dispatcher(&config, &identity, list)));
    let dispatcher_wake = Arc::new(DispatcherWake::new());
    let (admin, admin_rx) = Admin::new(list_source);
    let algorithm: Algorithm = config
        .dispatcher
        .algorithm
        .parse()
        .map_err(|e| ProxyError::Config(format!("dispatcher algorithm: {e}")))?;
    let metrics = Arc::new(Metrics::default());
    let mut tasks = Vec::new();
    let mut metrics_addr = None;
    if let Some(addr) = config.proxy.metrics {
        let listener = metrics::bind(addr).await.map_err(ProxyError::Metrics)?;
        metrics_addr = listener.local_addr().ok();
        let served = metrics::serve(listener, metrics.clone(), Some(admin.clone()));
        tasks.push(tokio::spawn(served));
    }
    let sweep_every = Duration::from_secs(config.registrar.sweep_secs.max(1));
    tasks.push(tokio::spawn(sweep_bindings(store.clone(), sweep_every)));
    let flood = Arc::new(Mutex::new(FloodGuard::new(config.flood.clone())));
    let shards = receivers.len();
    let mut admin_rx = Some(admin_rx);
    let mut loops = Vec::with_capacity(shards);
    for (shard, events) in receivers.into_iter().enumerate() {
        let (done_tx, done_rx) = mpsc::channel(4096);
        let proxy = Proxy {
            transports: transports.clone(),
            layer: TransactionLayer::new(config.timers.timer_config()),
            core: StatefulProxy::new(identity.clone(), config.proxy_options()),
            config: config.clone(),
            realm: realm.clone(),
            service: service.clone(),
            store: store.clone(),
            digest: digest.clone(),
            dispatcher: dispatcher.clone(),
            dispatcher_wake: dispatcher_wake.clone(),
            algorithm,
            probes: ProbeTransactions::default(),
            flood: flood.clone(),
            trim: BurstTrim::default(),
            metrics: metrics.clone(),
            client_of: HashMap::new(),
            branch_of: HashMap::new(),
            dispatches: HashMap::new(),
            done_tx,
            // Disjoint tag counters: shards never hand out the same To tag.
            counter: (shard as u64) << 48,
            shard,
            shards,
            counted_transactions: 0,
        };
        // Only shard 0 applies admin commands; the others get a channel that is closed at once.
        let commands = match shard {
            0 => admin_rx.take(),
            _ => None,
        }
        .unwrap_or_else(|| mpsc::channel(1).1);
        loops.push(tokio::spawn(proxy.run(events, done_rx, commands)));
    }
    drop(transports);
    tracing::info!(?listeners, ?metrics_addr, shards, "tandem proxy started");
    tasks.push(tokio::spawn(admin.reload_on_sighup()));
    // The first task is what `RunningProxy::wait` waits for: shard 0.
    loops.append(&mut tasks);
    let tasks = loops;
    Ok(RunningProxy {
        listeners,
        metrics_addr,
        metrics,
        shards,
        tasks,
    })
}

/// Remove expired bindings every `period`, for as long as the proxy runs. With a shared store every proxy
/// sweeps; the stores make concurrent sweeps harmless.
async fn sweep_bindings(store: Arc<ProxyStore>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.sweep(SystemTime::now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "expired bindings swept"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired bindings failed"),
        }
    }
}

fn random_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 32];
    if getrandom::fill(&mut secret).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        secret = nanos.to_le_bytes().to_vec();
    }
    secret
}

async fn bind_transports(
    config: &ProxyConfig,
    shards: usize,
) -> Result<(TransportLayer, Vec<mpsc::Receiver<TransportEvent>>), ProxyError> {
    let p = &config.proxy;
    let mut builder = TransportLayer::builder()
        .limits(config.limits.parse_limits())
        .connection_limits(config.limits.connection_limits());
    for (kind, addr) in [
        (TransportKind::Udp, p.udp),
        (TransportKind::Tcp, p.tcp),
        (TransportKind::Tls, p.tls),
        (TransportKind::Ws, p.ws),
        (TransportKind::Wss, p.wss),
    ] {
        if let Some(addr) = addr {
            builder = builder.listen(kind, addr);
        }
    }
    if p.tls.is_some() || p.wss.is_some() {
        let server = match (&p.tls_cert, &p.tls_key) {
            (Some(cert), Some(key)) => {
                let read = |path: &std::path::Path| {
                    std::fs::read(path).map_err(|e| {
                        ProxyError::Config(format!("cannot read {}: {e}", path.display()))
                    })
                };
                tandem_sip_core::transport::tls::server_config(&read(cert)?, &read(key)?)?
            }
            _ => {
                tracing::warn!("no tls_cert/tls_key: using a self-signed development certificate");
                let names: Vec<&str> = p.domains.iter().map(String::as_str).collect();
                tandem_sip_core::transport::tls::DevCertificate::generate(&names)?
                    .server_config()?
            }
        };
        builder = builder.tls_server(server);
    }
    Ok(builder.start_sharded(shards).await?)
}

/// Lock a mutex shared by the shards, ignoring poisoning: every holder leaves the dispatcher and the flood
/// guard consistent between calls.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn identity(config: &ProxyConfig, listeners: &[(TransportKind, SocketAddr)]) -> LocalIdentity {
    let addresses = listeners
        .iter()
        .map(|&(kind, addr)| {
            let ip = match (addr.ip().is_unspecified(), config.proxy.advertise) {
                (false, _) => addr.ip(),
                (true, Some(ip)) => ip,
                (true, None) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            };
            (kind, SocketAddr::new(ip, addr.port()))
        })
        .collect();
    LocalIdentity {
        addresses,
        domains: config
            .proxy
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
    }
}

fn build_dispatcher(
    config: &ProxyConfig,
    identity: &LocalIdentity,
    list: DispatcherList,
) -> Dispatcher {
    let d = &config.dispatcher;
    let (via_host, via_port) = match identity.address(TransportKind::Udp) {
        Some(addr) => (Host::from(addr.ip()), Some(addr.port())),
        None => (Host::from(IpAddr::V4(Ipv4Addr::LOCALHOST)), None),
    };
    let probe = ProbeConfig {
        mode: if d.probing {
            ProbeMode::All
        } else {
            ProbeMode::Off
        },
        interval: Duration::from_millis(d.probe_interval_ms.max(10)),
        timeout: Duration::from_millis(d.probe_timeout_ms.max(10)),
        down_threshold: d.down_threshold.max(1),
        via_host,
        via_port,
        ..ProbeConfig::default()
    };
    let dispatcher_config = DispatcherConfig {
        probe,
        ..DispatcherConfig::default()
    };
    Dispatcher::new(list, dispatcher_config, Instant::now())
}

/// One shard's loop and its state.
struct Proxy {
    transports: TransportLayer,
    layer: TransactionLayer,
    core: StatefulProxy<TransactionId>,
    config: ProxyConfig,
    realm: String,
    service: Arc<RegistrarService<Arc<ProxyStore>>>,
    store: Arc<ProxyStore>,
    digest: Option<DigestServer>,
    /// Shared by the shards; shard 0 drives its timers and probes. Lock it with [`Proxy::dispatcher`].
    dispatcher: Arc<Mutex<Dispatcher>>,
    /// Shard 0's next wake-up, which other shards bring forward when they move the dispatcher's deadline.
    dispatcher_wake: Arc<DispatcherWake>,
    algorithm: Algorithm,
    /// The probes this shard sent (only shard 0 sends any).
    probes: ProbeTransactions,
    /// Shared by the shards, so that a source's requests count over all of them.
    flood: Arc<Mutex<FloodGuard>>,
    /// When to hand the heap of a drained transaction burst back to the OS.
    trim: BurstTrim,
    metrics: Arc<Metrics>,
    /// The client transaction of each branch, and back.
    client_of: HashMap<BranchId, TransactionId>,
    branch_of: HashMap<TransactionId, BranchId>,
    /// The dispatcher selection of each dispatched server transaction (serial failover).
    dispatches: HashMap<TransactionId, Selection>,
    done_tx: mpsc::Sender<Completion>,
    counter: u64,
    /// This shard's number, out of `shards`.
    shard: usize,
    shards: usize,
    /// This shard's share of the `transactions` gauge, as last added to it.
    counted_transactions: u64,
}

/// How often housekeeping runs (flood sweep, no-answer failover, gauges).
const HOUSEKEEPING: Duration = Duration::from_millis(200);

/// The most transport events handled in one pass of the loop, after the one it woke up for.
const BATCH: usize = 64;

impl Proxy {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<TransportEvent>,
        mut done: mpsc::Receiver<Completion>,
        mut admin: mpsc::Receiver<AdminCommand>,
    ) {
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING;
        let mut next_gauges = Instant::now();
        // One timer for the whole loop, moved when the next deadline changes: a fresh `sleep_until` per
        // wake-up would register and deregister a timer entry every time.
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(next_housekeeping));
        tokio::pin!(sleep);
        let dispatcher_wake = Arc::clone(&self.dispatcher_wake);
        loop {
            let wake = [
                self.layer.poll_timeout(),
                self.core.poll_timeout(),
                Some(next_housekeeping),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_housekeeping);
            let wake = match self.drives_dispatcher() {
                true => {
                    // Armed with the dispatcher locked: a change another shard makes is either in this
                    // `poll_timeout` or compared with this wake-up (see `DispatcherWake`).
                    let dispatcher = lock(&self.dispatcher);
                    let wake = dispatcher.poll_timeout().map_or(wake, |d| d.min(wake));
                    dispatcher_wake.arm(wake);
                    wake
                }
                false => wake,
            };
            let wake = tokio::time::Instant::from_std(wake);
            if sleep.deadline() != wake {
                sleep.as_mut().reset(wake);
            }
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_transport(event),
                    None => break,
                },
                Some(completion) = done.recv() => self.on_completion(completion),
                Some(command) = admin.recv() => command.apply(&mut lock(&self.dispatcher), Instant::now()),
                () = &mut sleep => {}
                () = dispatcher_wake.notified(), if self.drives_dispatcher() => {}
            }
            // Whatever else is already waiting is handled in the same pass: under load one wake-up (and
            // one round of timers and sends) serves a batch of messages, not one.
            for _ in 0..BATCH {
                match events.try_recv() {
                    Ok(event) => self.on_transport(event),
                    Err(_) => break,
                }
            }
            while let Ok(completion) = done.try_recv() {
                self.on_completion(completion);
            }
            let now = Instant::now();
            self.layer.handle_timeout(now);
            if self.drives_dispatcher() {
                lock(&self.dispatcher).handle_timeout(now);
            }
            self.core.handle_timeout(now);
            if now >= next_housekeeping {
                next_housekeeping = now + HOUSEKEEPING;
                self.housekeeping(now, now >= next_gauges);
                if now >= next_gauges {
                    next_gauges = now + Duration::from_secs(1);
                }
            }
            if self.drives_dispatcher() {
                self.send_probes(now);
            }
            self.drain(now).await;
            self.count_transactions();
        }
    }

    /// Whether this shard runs the dispatcher's timers and probes, the admin commands and the gauges.
    fn drives_dispatcher(&self) -> bool {
        self.shard == 0
    }

    /// The shared dispatcher, locked for one call (on a shard other than 0, unlocking it wakes shard 0 if
    /// the call brought the dispatcher's next deadline forward).
    fn dispatcher(&self) -> LockedDispatcher<'_> {
        let wake = (!self.drives_dispatcher()).then_some(&*self.dispatcher_wake);
        LockedDispatcher::new(lock(&self.dispatcher), wake)
    }

    /// Bring this shard's share of the `transactions` gauge up to date (the gauge is the sum of the shards').
    fn count_transactions(&mut self) {
        let live = self.layer.len() as u64;
        let counted = self.counted_transactions;
        if live > counted {
            self.metrics
                .transactions
                .fetch_add(live - counted, Ordering::Relaxed);
        } else if live < counted {
            self.metrics
                .transactions
                .fetch_sub(counted - live, Ordering::Relaxed);
        }
        self.counted_transactions = live;
    }

    fn reply_to(&mut self, server: TransactionId, request: &Request, status: StatusCode) {
        let tag = format!("tdm{:x}", self.next_counter());
        let response = Response::from_request(request, status, Some(&tag)).build();
        self.respond(server, response);
    }

    fn respond(&mut self, server: TransactionId, response: Response) {
        let code = response.status().as_u16();
        match self.layer.respond(Instant::now(), server, response) {
            Ok(()) => self.metrics.response(code),
            Err(e) => tracing::debug!(%server, code, error = %e, "response not sent"),
        }
    }

    fn next_counter(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn on_transport(&mut self, event: TransportEvent) {
        let now = Instant::now();
        match event {
            TransportEvent::Message(incoming) => {
                let target = incoming.target();
                let transport = transport_label(incoming.transport);
                match incoming.message {
                    Message::Request(request) => {
                        if !self.admit(incoming.source.ip(), now) {
                            return;
                        }
                        // RFC 3261 §16.3: check the request before it creates a transaction; a bad one is
                        // answered statelessly, so that hostile traffic holds no state.
                        // The core's own policy, so that the core need not check again.
                        if let Err(rejection) =
                            validate_request(&request, &self.core.options().validation)
                        {
                            tracing::debug!(%rejection, source = %incoming.source, "request rejected");
                            self.metrics.malformed(transport);
                            self.reject(&request, &rejection, target);
                            return;
                        }
                        self.incoming(now, Message::Request(request), target, transport);
                    }
                    Message::Response(response) => {
                        // §16.7: a response that fails the checks is dropped, never relayed.
                        if let Err(discard) =
                            validate_response(&response, &ValidationPolicy::proxy())
                        {
                            tracing::debug!(%discard, source = %incoming.source, "response dropped");
                            self.metrics.malformed(transport);
                            self.metrics.drop_for("invalid_response");
                            return;
                        }
                        let stray = self.layer.stray_responses();
                        self.incoming(now, Message::Response(response), target, transport);
                        if self.layer.stray_responses() > stray {
                            self.metrics.drop_for("unmatched_response");
                        }
                    }
                }
            }
            TransportEvent::Malformed(bad) => {
                self.metrics.malformed(transport_label(bad.transport));
                if !self.admit(bad.source.ip(), now) {
                    return;
                }
                // Without these a response cannot be built or matched (see Rejection::from_parse_error).
                let h = bad.request.headers();
                if h.via().is_none()
                    || h.from().is_none()
                    || h.to().is_none()
                    || h.call_id().is_none()
                    || h.cseq().is_none()
                {
                    self.metrics.drop_for("unanswerable");
                    return;
                }
                let rejection = Rejection::from_parse_error(&bad.error);
                self.reject(&bad.request, &rejection, bad.target());
            }
            _ => {}
        }
    }

    fn incoming(
        &mut self,
        now: Instant,
        message: Message,
        target: Target,
        transport: &'static str,
    ) {
        if let Err(e) = self.layer.handle_incoming(now, message, target) {
            tracing::debug!(error = %e, source = %target.addr, "message refused");
            self.metrics.malformed(transport);
            self.metrics.drop_for("untransactable");
        }
    }

    /// Answer a request that failed the checks, statelessly; a bad ACK is dropped (RFC 3261 §17.2.1).
    fn reject(&mut self, request: &Request, rejection: &Rejection, target: Target) {
        if *request.method() == Method::Ack {
            self.metrics.drop_for("invalid_ack");
            return;
        }
        let response = rejection.response(request, Some("tdmbad"));
        self.metrics.response(response.status().as_u16());
        self.spawn_send(None, target, response.to_bytes());
    }

    /// The flood guard's verdict, counted.
    fn admit(&mut self, source: IpAddr, now: Instant) -> bool {
        let admission = lock(&self.flood).admit(source, now);
        match admission {
            Admission::Allow => true,
            Admission::Drop => {
                self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
            Admission::Banned => {
                tracing::warn!(%source, "request rate exceeded: source banned");
                self.metrics.bans.fetch_add(1, Ordering::Relaxed);
                self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    async fn drain(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.layer.poll_event() {
                progressed = true;
                self.on_transaction_event(now, event);
            }
            while let Some(action) = self.core.poll_action() {
                progressed = true;
                self.on_action(now, action);
            }
            while let Some(transmit) = self.layer.poll_transmit() {
                progressed = true;
                if transmit.target.transport == TransportKind::Udp {
                    if let Err(e) = self
                        .transports
                        .send(transmit.target, transmit.payload)
                        .await
                    {
                        tracing::debug!(error = %e, "udp send failed");
                        self.layer.handle_transport_error(now, transmit.transaction);
                    }
                } else {
                    self.spawn_send(
                        Some(transmit.transaction),
                        transmit.target,
                        transmit.payload,
                    );
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn spawn_send(&self, transaction: Option<TransactionId>, target: Target, payload: Bytes) {
        let transports = self.transports.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            if let Err(e) = transports.send(target, payload).await {
                tracing::debug!(error = %e, ?target, "send failed");
                if let Some(id) = transaction {
                    let _ = done.send(Completion::SendFailed(id)).await;
                }
            }
        });
    }

    fn send_probes(&mut self, now: Instant) {
        loop {
            let Some(mut probe) = lock(&self.dispatcher).poll_probe(now) else {
                break;
            };
            let Some(target) = target_for_uri(&probe.uri, None) else {
                continue;
            };
            // The answer must come back to this shard, the one holding the probe's transaction.
            if self.shards > 1
                && let Some(call_id) =
                    wire::call_id_for_shard(self.shard, self.shards, || generate_call_id(None))
            {
                probe
                    .request
                    .headers_mut()
                    .replace(HeaderField::new(HeaderName::CallId, call_id));
            }
            if let Ok(id) = self.layer.send_request(now, probe.request, target) {
                self.probes.sent(id, probe.id);
            }
        }
    }

    fn housekeeping(&mut self, now: Instant, gauges: bool) {
        if !gauges {
            return;
        }
        if self.trim.observe(self.layer.len()) {
            release_free_memory();
        }
        self.metrics.set_core(self.shard, self.core.stats());
        if !self.drives_dispatcher() {
            return;
        }
        let banned = {
            let mut flood = lock(&self.flood);
            flood.sweep(now);
            flood.banned_count(now)
        };
        let m = &self.metrics;
        m.banned_sources.store(banned as u64, Ordering::Relaxed);
        let stats = self.transports.stats();
        m.transport_malformed
            .store(stats.malformed, Ordering::Relaxed);
        m.connections
            .store(stats.connections_open, Ordering::Relaxed);
        let mut states = Vec::new();
        {
            let dispatcher = lock(&self.dispatcher);
            for set in dispatcher.set_ids().collect::<Vec<_>>() {
                for id in dispatcher.destinations(set) {
                    if let (Some(d), Some(state)) =
                        (dispatcher.destination(id), dispatcher.state(id))
                    {
                        states.push((set, d.uri.to_string(), format!("{state:?}")));
                    }
                }
            }
        }
        m.set_destinations(states);
        let store = self.store.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            if let Ok(n) = store.binding_count(SystemTime::now()).await {
                let _ = done.send(Completion::Registrations(n)).await;
            }
        });
    }

    fn on_completion(&mut self, completion: Completion) {
        let now = Instant::now();
        match completion {
            Completion::Register {
                server,
                response,
                source,
                auth,
            } => {
                self.account_auth(source, auth, now);
                self.core.respond(server, response);
            }
            Completion::Authorized {
                server,
                source,
                refusal,
                auth,
            } => {
                self.account_auth(source.addr.ip(), auth, now);
                match refusal {
                    Some(response) => self.core.respond(server, response),
                    None => {
                        if let Some(request) = self.core.request_mut(&server) {
                            consume_credentials(request, &self.realm);
                        }
                        self.initial_request(now, server, source, true);
                    }
                }
            }
            Completion::Location {
                server,
                bindings,
                known_user,
            } => self.on_location(now, server, bindings, known_user),
            Completion::SendFailed(id) => self.layer.handle_transport_error(now, id),
            Completion::Registrations(n) => {
                self.metrics
                    .registrations
                    .store(n as u64, Ordering::Relaxed);
            }
        }
    }

    /// Count an authentication outcome; repeated failures from one source ban it.
    fn account_auth(&mut self, source: IpAddr, auth: AuthResult, now: Instant) {
        match auth {
            AuthResult::Failed => {
                self.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
                let banned = lock(&self.flood).auth_failed(source, now);
                if banned {
                    tracing::warn!(%source, "repeated failed authentication: source banned");
                    self.metrics.bans.fetch_add(1, Ordering::Relaxed);
                }
            }
            AuthResult::Passed => lock(&self.flood).auth_succeeded(source),
            AuthResult::NotChecked => {}
        }
    }

    /// Carry out what the proxy core asks.
    fn on_action(&mut self, now: Instant, action: Action<TransactionId>) {
        match action {
            Action::Respond { context, response } => {
                if response.status().is_success()
                    && let Some(selection) = self.dispatches.get(&context)
                {
                    let mut dispatcher = self.dispatcher();
                    dispatcher.on_success(selection);
                    admin::call_answered(&mut dispatcher, selection, &response, now);
                }
                self.respond(context, response);
            }
            Action::Forward {
                branch,
                request,
                target,
                ..
            } => match self.layer.send_request(now, request, target) {
                Ok(id) => {
                    self.client_of.insert(branch, id);
                    self.branch_of.insert(id, branch);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "branch not started");
                    self.core
                        .handle_branch_failure(now, branch, BranchFailure::TransportError);
                }
            },
            Action::Cancel { branch, .. } => {
                if let Some(&id) = self.client_of.get(&branch) {
                    let _ = self.layer.cancel(now, id);
                }
            }
            Action::Failover { context, reason } => self.fail_over(now, context, reason),
        }
    }

    /// A dispatched request failed on its destination: try the next one the dispatcher offers.
    fn fail_over(&mut self, now: Instant, server: TransactionId, reason: FailoverReason) {
        let reason = match reason {
            FailoverReason::Timeout => FailureReason::Timeout,
            FailoverReason::TransportError => FailureReason::TransportError,
            FailoverReason::Status(status) => FailureReason::Status(status),
        };
        let Some(mut selection) = self.dispatches.remove(&server) else {
            self.core.failover_exhausted(server);
            return;
        };
        let mut failover = self.dispatcher().on_failure(&mut selection, reason);
        loop {
            let Failover::Next(candidate) = failover else {
                self.dispatches.insert(server, selection);
                self.core.failover_exhausted(server);
                return;
            };
            tracing::info!(next = %candidate.uri(), "dispatcher failover");
            if let Some(target) = candidate_target(&candidate) {
                self.dispatches.insert(server, selection);
                let search = self.serial_search();
                self.core.forward(now, server, vec![target], search);
                return;
            }
            failover = self
                .dispatcher()
                .on_failure(&mut selection, FailureReason::TransportError);
        }
    }

    fn serial_search(&self) -> Search {
        Search::Serial {
            no_answer: Some(Duration::from_millis(
                self.config.dispatcher.no_answer_ms.max(1),
            )),
        }
    }

    fn on_transaction_event(&mut self, now: Instant, event: TransactionEvent) {
        if let Some((probe, outcome)) = self.probes.outcome(&event) {
            self.dispatcher().handle_probe_reply(probe, outcome, now);
            return;
        }
        match event {
            TransactionEvent::NewRequest {
                id,
                request,
                source,
            } => self.on_request(now, id, request, source),
            TransactionEvent::Response { id, response } => {
                if let Some(&branch) = self.branch_of.get(&id) {
                    self.core.handle_response(now, branch, response);
                }
            }
            TransactionEvent::Ack { request, .. } => self.forward_ack(request),
            TransactionEvent::Timeout { id, .. } => {
                if let Some(&branch) = self.branch_of.get(&id) {
                    self.core
                        .handle_branch_failure(now, branch, BranchFailure::Timeout);
                }
            }
            TransactionEvent::TransportError { id } => {
                if let Some(&branch) = self.branch_of.get(&id) {
                    self.core
                        .handle_branch_failure(now, branch, BranchFailure::TransportError);
                }
            }
            TransactionEvent::Terminated { id } => {
                if let Some(branch) = self.branch_of.remove(&id) {
                    self.client_of.remove(&branch);
                }
                self.core.terminate(id);
                self.dispatches.remove(&id);
            }
            _ => {}
        }
    }

    fn on_request(&mut self, now: Instant, id: TransactionId, request: Request, source: Target) {
        self.metrics.request(request.method().as_str());
        if *request.method() == Method::Bye {
            admin::call_ended(&mut self.dispatcher(), &request);
        }
        if *request.method() == Method::Cancel {
            self.on_cancel(now, id, &request);
            return;
        }
        // `on_transport` checked it (before it made a transaction) with the core's policy.
        if self.core.handle_validated_request(now, id, request, source) == Routing::NeedsTargets {
            self.initial_request(now, id, source, false);
        }
    }

    /// §16.5: find the targets of an initial request (registrar, dispatcher set, location service), after
    /// authenticating it when it comes from one of our users (unless `authorized` already).
    fn initial_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        source: Target,
        authorized: bool,
    ) {
        let Some(request) = self.core.request(&id).cloned() else {
            return;
        };
        let identity = self.core.identity();
        let (user, local) = match request.uri().as_sip() {
            Some(sip) => (sip.user().cloned(), identity.is_local_domain(sip.host())),
            None => (None, false),
        };
        if *request.method() == Method::Register {
            match local {
                true => self.register(id, request, source),
                false => self.core.reject(id, StatusCode::FORBIDDEN),
            }
            return;
        }
        if !local {
            self.core.reject(id, StatusCode::FORBIDDEN);
            return;
        }
        let Some(user) = user else {
            let status = match *request.method() == Method::Options {
                true => StatusCode::OK,
                false => StatusCode::new(484).unwrap_or(StatusCode::NOT_FOUND),
            };
            self.core.reject(id, status);
            return;
        };
        if !authorized && self.challenges(&request) {
            self.authorize(id, request, source);
            return;
        }
        let set = self
            .config
            .routes
            .iter()
            .find(|r| user.starts_with(r.prefix.as_bytes()))
            .map(|r| r.set);
        match set {
            Some(set) => self.dispatch(now, id, &request, set),
            None => self.lookup(id, &request, &user),
        }
    }

    /// Whether `request` must carry good Proxy-Authorization credentials (`[proxy] auth` and
    /// `auth_invite`, an initial request from one of our domains).
    fn challenges(&self, request: &Request) -> bool {
        self.digest.is_some()
            && self.config.proxy.auth_invite
            && requires_proxy_authentication(request, self.core.identity())
    }

    /// Check the Proxy-Authorization of `request` against the registrar's credentials, off the loop.
    fn authorize(&mut self, id: TransactionId, request: Request, source: Target) {
        let Some(digest) = self.digest.clone() else {
            return;
        };
        let store = self.store.clone();
        let realm = self.realm.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let (refusal, auth) = authorize(&digest, &store, &realm, &request).await;
            let _ = done
                .send(Completion::Authorized {
                    server: id,
                    source,
                    refusal,
                    auth,
                })
                .await;
        });
    }

    fn register(&mut self, id: TransactionId, request: Request, source: Target) {
        let service = self.service.clone();
        let store = self.store.clone();
        let digest = self.digest.clone();
        let realm = self.realm.clone();
        let mut work = Box::pin(async move {
            let (response, auth) =
                register(&service, &store, digest.as_ref(), &realm, &request, source).await;
            Completion::Register {
                server: id,
                response,
                source: source.addr.ip(),
                auth,
            }
        });
        // The memory store never waits: answer on the loop, without a task and a channel round trip
        // (with one loop thread there is no other core for that task to use). A store that waits (SQL,
        // Redis) finishes in a task of its own.
        let mut ready = std::task::Context::from_waker(std::task::Waker::noop());
        if self.store.never_waits()
            && let Poll::Ready(completion) = work.as_mut().poll(&mut ready)
        {
            self.on_completion(completion);
            return;
        }
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let _ = done.send(work.await).await;
        });
    }

    fn lookup(&mut self, id: TransactionId, request: &Request, user: &Bytes) {
        let store = self.store.clone();
        let done = self.done_tx.clone();
        let realm = self.realm.clone();
        let aor_text = format!(
            "sip:{}@{}",
            String::from_utf8_lossy(user),
            request
                .uri()
                .as_sip()
                .map(|s| s.host().to_string())
                .unwrap_or_default()
        );
        let username = String::from_utf8_lossy(user).into_owned();
        tokio::spawn(async move {
            let now = SystemTime::now();
            let bindings = match Aor::parse(&aor_text) {
                Ok(aor) => store.bindings(&aor, now).await.unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            let known_user = bindings.is_empty()
                && matches!(
                    store.ha1(&username, &realm, DigestAlgorithm::Md5).await,
                    Ok(Some(_))
                );
            let _ = done
                .send(Completion::Location {
                    server: id,
                    bindings,
                    known_user,
                })
                .await;
        });
    }

    fn on_location(
        &mut self,
        now: Instant,
        server: TransactionId,
        bindings: Vec<Binding>,
        known_user: bool,
    ) {
        if bindings.is_empty() {
            let status = match known_user {
                true => StatusCode::TEMPORARILY_UNAVAILABLE,
                false => StatusCode::NOT_FOUND,
            };
            self.core.reject(server, status);
            return;
        }
        // Parallel forking to every contact (RFC 3261 §16.6, q-values ignored for a parallel search).
        let targets = bindings.iter().map(binding_target).collect();
        self.core.forward(now, server, targets, Search::Parallel);
    }

    /// Send a request for dispatcher set `set` to the destination the algorithm picks; the core asks for
    /// the next one on failure ([`Action::Failover`]).
    fn dispatch(&mut self, now: Instant, id: TransactionId, request: &Request, set: u32) {
        let selected = self.dispatcher().select(set, self.algorithm, request);
        let mut selection = match selected {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(set, error = %e, "no destination available");
                self.core.reject(id, StatusCode::SERVICE_UNAVAILABLE);
                return;
            }
        };
        loop {
            let Some(candidate) = selection.current().cloned() else {
                break;
            };
            if let Some(target) = candidate_target(&candidate) {
                self.dispatches.insert(id, selection);
                let search = self.serial_search();
                self.core.forward(now, id, vec![target], search);
                return;
            }
            let failover = self
                .dispatcher()
                .on_failure(&mut selection, FailureReason::TransportError);
            match failover {
                Failover::Next(_) => continue,
                _ => break,
            }
        }
        self.core.reject(id, StatusCode::SERVICE_UNAVAILABLE);
    }

    /// §16.10: answer the CANCEL and let the core cancel the branches of its INVITE.
    fn on_cancel(&mut self, now: Instant, id: TransactionId, request: &Request) {
        let Some(invite) = self.layer.invite_for_cancel(id) else {
            self.reply_to(id, request, StatusCode::CALL_DOES_NOT_EXIST);
            return;
        };
        self.reply_to(id, request, StatusCode::OK);
        self.core.handle_cancel(now, invite);
    }

    /// Forward the ACK of a 2xx statelessly along its Route set (RFC 3261 §16.11).
    fn forward_ack(&mut self, request: Request) {
        self.metrics.request("ACK");
        match self.core.forward_ack(request) {
            Ok((request, target)) => self.spawn_send(None, target, request.to_bytes()),
            // No open relay for an ACK that does not route through us (`[proxy] relay = "own-domains"`).
            Err(AckDrop::Foreign) => self.metrics.drop_for("foreign_ack"),
            Err(AckDrop::TooManyHops | AckDrop::Unroutable) => {}
        }
    }
}

/// The `transport` label of a metric.
fn transport_label(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::Ws => "ws",
        TransportKind::Wss => "wss",
        _ => "other",
    }
}

/// Where a dispatcher candidate is sent: its address over its transport, keeping the Request-URI.
fn candidate_target(candidate: &Candidate) -> Option<ForwardTarget> {
    let target = target_for_uri(candidate.uri(), None)?;
    Some(ForwardTarget::to_destination(Target::new(
        candidate.transport(),
        target.addr,
    )))
}

/// Where a request for `binding` goes: its contact as Request-URI, through its Path, over the flow it
/// registered on when the contact cannot be reached directly (a connection-oriented flow, or a contact that
/// is not an IP address).
fn binding_target(binding: &Binding) -> ForwardTarget {
    let mut target = ForwardTarget::to_uri(binding.uri().clone());
    if !binding.path.is_empty() {
        target.route = binding.path.iter().map(|p| p.uri().clone()).collect();
        return target;
    }
    let Some(flow) = &binding.flow else {
        return target;
    };
    let kind = wire::TransportKind::from_via(&flow.transport).unwrap_or(TransportKind::Udp);
    let uri = binding.uri();
    let direct =
        kind == TransportKind::Udp && uri.as_sip().is_some_and(|s| s.host().ip().is_some());
    if direct {
        return target;
    }
    let token = std::str::from_utf8(flow.token.as_bytes())
        .ok()
        .and_then(|t| t.parse::<u64>().ok())
        .map(wire::FlowId::from_u64);
    let mut destination = Target::new(kind, flow.remote);
    if let Some(token) = token {
        destination = destination.with_flow(token);
    }
    target.destination = Some(destination);
    target
}

/// Authenticate and handle one REGISTER.
async fn register(
    service: &RegistrarService<Arc<ProxyStore>>,
    store: &ProxyStore,
    digest: Option<&DigestServer>,
    realm: &str,
    request: &Request,
    source: Target,
) -> (Response, AuthResult) {
    let now = SystemTime::now();
    let mut auth = AuthResult::NotChecked;
    if let Some(digest) = digest {
        let user = match authenticate(digest, store, realm, request, ChallengeKind::Www, now).await
        {
            Ok(user) => user,
            Err(error) => {
                let failed = matches!(error, AuthError::BadCredentials { .. });
                let response =
                    digest.reject(request, &error, ChallengeKind::Www, now, Some("tdmauth"));
                let result = if failed {
                    AuthResult::Failed
                } else {
                    AuthResult::NotChecked
                };
                return (response, result);
            }
        };
        let to_user = match request.headers().to() {
            Some(Ok(to)) => to.uri().as_sip().and_then(|s| s.user().cloned()),
            _ => None,
        };
        if to_user.as_deref() != Some(user.as_bytes()) {
            let response =
                Response::from_request(request, StatusCode::FORBIDDEN, Some("tdmauth")).build();
            return (response, AuthResult::Failed);
        }
        auth = AuthResult::Passed;
    }
    let token = flow_token(source);
    let flow = Flow::new(token, source.transport.into(), source.addr);
    let response = match service.handle(now, request, &flow).await {
        Ok(outcome) => outcome.response,
        Err(e) => {
            tracing::warn!(error = %e, "registrar store failed");
            service.registrar().server_error(request)
        }
    };
    (response, auth)
}

/// The registrar's name for the flow a request came on: the transport's flow id in decimal, `0` for none (UDP),
/// which needs no allocation.
fn flow_token(source: Target) -> FlowToken {
    match source.flow {
        None => FlowToken::new(Bytes::from_static(b"0")),
        Some(flow) => FlowToken::new(flow.as_u64().to_string()),
    }
}

async fn authenticate(
    digest: &DigestServer,
    store: &ProxyStore,
    realm: &str,
    request: &Request,
    kind: ChallengeKind,
    now: SystemTime,
) -> Result<String, AuthError> {
    let attempt = digest.check(request, kind, now)?;
    let algorithm = DigestAlgorithm::from_token(attempt.algorithm().as_str().as_bytes());
    let ha1 = match algorithm {
        Some(algorithm) => store
            .ha1(attempt.username(), realm, algorithm)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    attempt.verify(ha1.as_ref().map(|h| h.as_str()))
}

/// Remove the Proxy-Authorization credentials for `realm` once checked: they are ours, and the next hops
/// have no use for them (credentials for other realms stay, RFC 3261 §22.3).
fn consume_credentials(request: &mut Request, realm: &str) {
    let name = HeaderName::ProxyAuthorization;
    let fields: Vec<HeaderField> = request.headers().get_all(&name).cloned().collect();
    if fields.is_empty() {
        return;
    }
    let ours = |field: &HeaderField| {
        field
            .parse::<ProxyAuthorization>()
            .ok()
            .and_then(|c| c.params().value("realm").map(|r| r.into_owned()))
            .is_some_and(|r| r == realm.as_bytes())
    };
    let headers = request.headers_mut();
    headers.remove_all(&name);
    for field in fields.into_iter().filter(|f| !ours(f)) {
        headers.push(field);
    }
}

/// Check the Proxy-Authorization of an initial request from one of our users: `None` when the credentials
/// are good and belong to the From user, else the 407 (or 400, 403) refusing it.
async fn authorize(
    digest: &DigestServer,
    store: &ProxyStore,
    realm: &str,
    request: &Request,
) -> (Option<Response>, AuthResult) {
    let now = SystemTime::now();
    let tag = "tdmauth";
    let user = match authenticate(digest, store, realm, request, ChallengeKind::Proxy, now).await {
        Ok(user) => user,
        Err(error) => {
            let result = match error {
                AuthError::BadCredentials { .. } => AuthResult::Failed,
                _ => AuthResult::NotChecked,
            };
            let response = digest.reject(request, &error, ChallengeKind::Proxy, now, Some(tag));
            return (Some(response), result);
        }
    };
    let from_user = match request.headers().from() {
        Some(Ok(from)) => from.uri().as_sip().and_then(|s| s.user().cloned()),
        _ => None,
    };
    if from_user.as_deref() != Some(user.as_bytes()) {
        let response = Response::from_request(request, StatusCode::FORBIDDEN, Some(tag)).build();
        return (Some(response), AuthResult::Failed);
    }
    (None, AuthResult::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_sip_core::{Message, parse_message};

    #[test]
    fn consumed_credentials_are_only_those_of_our_realm() {
        let wire = "INVITE sip:bob@localhost SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\n\
             Proxy-Authorization: Digest username=\"alice\", realm=\"localhost\", nonce=\"n\", uri=\"sip:bob@localhost\", response=\"r\"\r\n\
             Proxy-Authorization: Digest username=\"alice\", realm=\"carrier\", nonce=\"n\", uri=\"sip:bob@localhost\", response=\"r\"\r\n\
             From: <sip:alice@localhost>;tag=1\r\nTo: <sip:bob@localhost>\r\n\
             Call-ID: c1\r\nCSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Request(mut request)) = parse_message(Bytes::from_static(wire.as_bytes()))
        else {
            panic!("not a request");
        };
        consume_credentials(&mut request, "localhost");
        let left: Vec<_> = request
            .headers()
            .get_all(&HeaderName::ProxyAuthorization)
            .collect();
        assert_eq!(left.len(), 1);
        assert!(
            std::str::from_utf8(left[0].value())
                .unwrap()
                .contains("realm=\"carrier\"")
        );
    }
}
