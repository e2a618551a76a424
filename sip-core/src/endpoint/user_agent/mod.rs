//! The user agent core above the transaction layer, sans-IO; see [`UserAgent`].

mod client;
mod server;

use super::addressing;
use super::ok_retransmission::OkRetransmission;
use crate::auth::DigestClient;
use crate::dialog::{Dialog, DialogId, generate_branch, generate_call_id, generate_tag};
use crate::header::{
    CSeq, CallId, FromHeader, HeaderName, MaxForwards, MediaType, NameAddr, ToHeader,
};
use crate::message::{HeaderField, Request, RequestBuilder, Response};
use crate::method::{Method, StatusCode};
use crate::transaction::{
    Target, TimerConfig, TransactionId, TransactionLayer, Transmit, TransportKind,
};
use crate::uri::{SipUri, Uri};
use crate::validate::ValidationPolicy;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// Max-Forwards of the requests a user agent originates (RFC 3261 §8.1.1.6).
const MAX_FORWARDS: u8 = 70;

/// How many times a request is re-sent with fresh credentials before the challenge is handed to the TU.
const MAX_AUTH_ATTEMPTS: u8 = 3;

/// What a [`UserAgent`] needs to know about its element.
#[derive(Debug, Clone)]
pub struct UserAgentConfig {
    /// Transaction timers.
    pub timers: TimerConfig,
    /// What incoming requests are checked against; the default UAS policy allows INVITE, ACK, CANCEL, BYE,
    /// OPTIONS, INFO, UPDATE, REFER and NOTIFY and accepts SDP, DTMF relay and sipfrag bodies.
    pub policy: ValidationPolicy,
    /// Answer requests other than OPTIONS that arrive with `Max-Forwards: 0` with 483 (Too Many Hops).
    ///
    /// RFC 3261 lets a UAS process them, but an application server that relays calls (a B2BUA) is where a
    /// loop ends; on by default.
    pub reject_zero_max_forwards: bool,
    /// The local address of each transport, for Via sent-by and Contact (set by the driver once bound).
    pub local_addresses: Vec<(TransportKind, SocketAddr)>,
    /// The user part of this element's Contact and of the default From (`sip:USER@local-address`).
    pub user: String,
    /// The value of the `User-Agent` and `Server` header fields, if any.
    pub product: Option<String>,
}

impl Default for UserAgentConfig {
    fn default() -> UserAgentConfig {
        let crate::validate::Role::Uas {
            supported,
            mut allowed,
            mut accepted,
        } = crate::validate::Role::uas()
        else {
            return UserAgentConfig::with_policy(ValidationPolicy::uas());
        };
        allowed.extend([Method::Info, Method::Update, Method::Refer, Method::Notify]);
        // Bodies of INFO (RFC 6086 DTMF relay) and of NOTIFY after a REFER (RFC 3515).
        accepted.extend([
            MediaType::new("application", "dtmf-relay"),
            MediaType::new("application", "dtmf"),
            MediaType::new("message", "sipfrag"),
        ]);
        let role = crate::validate::Role::Uas {
            supported,
            allowed,
            accepted,
        };
        UserAgentConfig::with_policy(ValidationPolicy::new(role))
    }
}

impl UserAgentConfig {
    fn with_policy(policy: ValidationPolicy) -> UserAgentConfig {
        UserAgentConfig {
            timers: TimerConfig::DEFAULT,
            policy,
            reject_zero_max_forwards: true,
            local_addresses: Vec::new(),
            user: "tandem".to_owned(),
            product: None,
        }
    }

    /// The local address of transport `kind`: the one configured, else the first address of any transport,
    /// else `127.0.0.1:5060`.
    pub fn local_address(&self, kind: TransportKind) -> SocketAddr {
        self.local_addresses
            .iter()
            .find(|(k, _)| *k == kind)
            .or_else(|| self.local_addresses.first())
            .map_or(SocketAddr::from(([127, 0, 0, 1], 5060)), |&(_, a)| a)
    }
}

/// Names a request sent through [`UserAgent::send_request`]; it stays the same when the request is re-sent
/// with credentials in a new transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(u64);

/// Names a dialog of a [`UserAgent`]; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DialogRef(u64);

/// A request for the application, with what answering it needs.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    /// The server transaction: answer with [`UserAgent::respond`].
    pub transaction: TransactionId,
    /// The request (top Via stamped with `received`/`rport` by the transport).
    pub request: Request,
    /// Where it came from; responses go back there, over the same flow.
    pub source: Target,
    /// The To tag to put in responses (the dialog's local tag for requests within a dialog).
    pub to_tag: String,
    /// The dialog the request belongs to, for requests within one.
    pub dialog: Option<DialogRef>,
}

impl IncomingRequest {
    /// A response to the request with `status` and this UA's To tag; add a body or header fields and build it.
    pub fn response(&self, status: StatusCode) -> crate::message::ResponseBuilder {
        Response::from_request(&self.request, status, Some(&self.to_tag))
    }
}

/// How a request sent by the application ended.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A final response arrived (and was passed on).
    Answered,
    /// Timer B or F fired without a final response.
    Timeout,
    /// The transport could not deliver it.
    TransportError,
}

/// Why a dialog ended.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogEnd {
    /// The peer sent BYE (answered 200).
    RemoteBye,
    /// This UA sent BYE.
    LocalBye,
    /// The ACK for this UA's 2xx never came (RFC 3261 §13.3.1.4); a BYE was sent.
    AckTimeout,
    /// An early dialog whose INVITE got no 2xx on it (refused, cancelled, or answered on another fork).
    NotAnswered,
    /// The peer answered a request within the dialog with 481 or 408, or it timed out (§12.2.1.2).
    Lost,
    /// The application let the dialog go ([`UserAgent::release`]); a confirmed one was hung up with BYE.
    Released,
}

/// Something the application must know, from [`UserAgent::poll_event`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum UaEvent {
    /// A request to answer with [`UserAgent::respond`] (outside a dialog, or within one of this UA's).
    Request(Box<IncomingRequest>),
    /// The peer cancelled INVITE server transaction `transaction`: 487 was sent on it (and 200 to the
    /// CANCEL).
    Cancelled {
        /// The INVITE server transaction.
        transaction: TransactionId,
    },
    /// Server transaction `transaction` is over; answering it is no longer possible.
    ServerEnded {
        /// The server transaction.
        transaction: TransactionId,
    },
    /// A response to request `request`: provisional and final ones, and for an INVITE a 2xx per dialog
    /// (already acknowledged). `dialog` is the dialog the response created or belongs to.
    Response {
        /// The request.
        request: RequestId,
        /// The response.
        response: Box<Response>,
        /// Its dialog, for responses to INVITEs with a To tag and responses within a dialog.
        dialog: Option<DialogRef>,
    },
    /// Request `request` is over: no further response will be passed on.
    RequestEnded {
        /// The request.
        request: RequestId,
        /// How it ended.
        outcome: RequestOutcome,
    },
    /// The ACK for this UA's 2xx arrived in `dialog` (it may carry the answer to an offer in the 2xx).
    Ack {
        /// The dialog.
        dialog: DialogRef,
        /// The ACK.
        request: Box<Request>,
    },
    /// `dialog` ended; its reference is no longer valid.
    DialogEnded {
        /// The dialog.
        dialog: DialogRef,
        /// Why.
        reason: DialogEnd,
    },
}

/// A message to put on the wire, from [`UserAgent::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The transaction sending it, to report a failure to ([`UserAgent::handle_transport_error`]); `None`
    /// for messages sent outside transactions (ACK for 2xx, stateless replies).
    pub transaction: Option<TransactionId>,
    /// Where it goes.
    pub target: Target,
    /// The serialized message.
    pub payload: Bytes,
}

impl From<Transmit> for Outbound {
    fn from(t: Transmit) -> Outbound {
        Outbound {
            transaction: Some(t.transaction),
            target: t.target,
            payload: t.payload,
        }
    }
}

/// A request the TU sent, followed across credential retries.
#[derive(Debug)]
struct ClientEntry {
    /// The transaction currently carrying it.
    transaction: TransactionId,
    /// The request as last sent, kept for INVITEs (ACK, forks) and for re-sending with credentials.
    sent: Option<Request>,
    target: Target,
    credentials: Option<DigestClient>,
    auth_attempts: u8,
    /// The dialog of a request sent within one.
    dialog: Option<DialogRef>,
    /// For a dialog-creating INVITE: the dialogs its responses created.
    forks: Vec<DialogRef>,
    /// For a dialog-creating INVITE: the dialog its first 2xx confirmed.
    answered: Option<DialogRef>,
    /// A final response was passed on (and [`UaEvent::RequestEnded`] with it).
    finished: bool,
    /// Sent by the UA itself (a BYE hanging up): no events.
    internal: bool,
    failure: Option<RequestOutcome>,
    /// For a request moved from UDP to TCP for its size (RFC 3261 §18.1.1): the request as it would have
    /// gone over UDP and the UDP target, to fall back to if the TCP connection cannot be opened.
    udp_fallback: Option<Box<(Request, Target)>>,
}

/// A server transaction the TU was told about.
#[derive(Debug)]
struct ServerEntry {
    method: Method,
    to_tag: String,
    source: Target,
    /// The INVITE, kept to create its dialog and answer a CANCEL.
    invite: Option<Request>,
    dialog: Option<DialogRef>,
    final_sent: bool,
}

/// A dialog and what the UA does for it.
#[derive(Debug)]
struct DialogEntry {
    dialog: Dialog,
    /// Where requests go when the remote target names no IP address (the flow it was created over).
    fallback: Target,
    /// Credentials that authorized the dialog-creating INVITE, reused within the dialog.
    credentials: Option<DigestClient>,
    /// Credential header fields of the dialog-creating INVITE, copied into ACKs.
    invite_credentials: Vec<HeaderField>,
    /// This UA's 2xx awaiting its ACK.
    ok: Option<OkRetransmission>,
    /// Hang up once the ACK arrives (RFC 3261 §15: no BYE before the ACK or its timeout).
    bye_after_ack: bool,
}

/// The user agent core (RFC 3261 §8, §12–§15) above the transaction layer, sans-IO.
///
/// A [`UserAgent`] owns a [`TransactionLayer`] and the dialogs of one SIP element and applies the rules a
/// transaction user (TU) must, so that the application only decides *what* to answer:
///
/// - incoming requests are screened ([`validate_request`](crate::validate::validate_request) with the configured [`ValidationPolicy`], and
///   `Max-Forwards: 0` → 483) and refused through their server transaction; malformed requests that can be
///   answered get 400 or 513 ([`UserAgent::handle_malformed`]);
/// - CANCEL is answered (200, and 487 to the INVITE) or refused (481), and the application is told;
/// - requests within a dialog are checked by the [`Dialog`] (CSeq order, glare), BYE is answered 200 and
///   ends the dialog, requests naming an unknown dialog get 481;
/// - a 2xx or a 1xx with a To tag to an INVITE creates a dialog ([`UserAgent::respond`] returns it), a 2xx is
///   retransmitted until its ACK arrives (§13.3.1.4) and the session ended with BYE if it never does;
/// - on the client side, 2xx responses to INVITEs create or confirm dialogs and are acknowledged, their
///   retransmissions acknowledged again, second 2xx from other forks acknowledged and hung up (§13.2.2.4);
///   401/407 challenges are answered when the request was sent with credentials ([`DigestClient`]).
///
/// It never touches a socket or a clock: feed it messages ([`UserAgent::handle_incoming`]), the
/// application's decisions and `now`; drain [`UserAgent::poll_transmit`] and [`UserAgent::poll_event`]; call
/// [`UserAgent::handle_timeout`] at [`UserAgent::poll_timeout`]. The tokio `Endpoint` (feature `tokio`)
/// does exactly that.
#[derive(Debug)]
pub struct UserAgent {
    layer: TransactionLayer,
    config: UserAgentConfig,
    next_id: u64,
    clients: HashMap<RequestId, ClientEntry>,
    client_by_transaction: HashMap<TransactionId, RequestId>,
    cancels: HashSet<TransactionId>,
    servers: HashMap<TransactionId, ServerEntry>,
    /// Boxed: a dialog is large and the map keeps spare capacity.
    dialogs: HashMap<DialogRef, Box<DialogEntry>>,
    dialog_by_id: HashMap<DialogId, DialogRef>,
    /// Deadlines of the 2xx retransmissions, earliest first.
    ok_deadlines: BTreeSet<(Instant, DialogRef)>,
    /// The rejection for the request being fed to the transaction layer, answered on its server transaction.
    pending_rejection: Option<crate::validate::Rejection>,
    transmits: VecDeque<Outbound>,
    events: VecDeque<UaEvent>,
}

impl UserAgent {
    /// A user agent with `config`.
    pub fn new(config: UserAgentConfig) -> UserAgent {
        UserAgent {
            layer: TransactionLayer::new(config.timers),
            config,
            next_id: 0,
            clients: HashMap::new(),
            client_by_transaction: HashMap::new(),
            cancels: HashSet::new(),
            servers: HashMap::new(),
            dialogs: HashMap::new(),
            dialog_by_id: HashMap::new(),
            ok_deadlines: BTreeSet::new(),
            pending_rejection: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UserAgentConfig {
        &self.config
    }

    /// Set the local address of transport `kind` (once bound), used in Via and Contact.
    pub fn set_local_address(&mut self, kind: TransportKind, addr: SocketAddr) {
        self.config.local_addresses.retain(|(k, _)| *k != kind);
        self.config.local_addresses.push((kind, addr));
    }

    /// Number of live transactions, dialogs and requests in progress, for metrics and leak checks.
    pub fn load(&self) -> UaLoad {
        UaLoad {
            transactions: self.layer.len(),
            dialogs: self.dialogs.len(),
            requests: self.clients.len(),
            server_transactions: self.servers.len(),
        }
    }

    /// The dialog `dialog` refers to, while it lasts.
    pub fn dialog(&self, dialog: DialogRef) -> Option<&Dialog> {
        self.dialogs.get(&dialog).map(|e| &e.dialog)
    }

    /// A request outside any dialog to `uri`, ready to send: From this UA with a fresh tag, To `uri`, a
    /// fresh Call-ID, `CSeq: 1`, `Max-Forwards: 70`, a Contact for `transport` on INVITE, REGISTER, SUBSCRIBE
    /// and REFER, and the product token. [`UserAgent::send_request`] adds the Via.
    pub fn request(&self, method: Method, uri: Uri, transport: TransportKind) -> RequestBuilder {
        let local = self.config.local_address(transport);
        let from_uri = SipUri::new(addressing::host_of(local.ip()))
            .with_port(local.port())
            .with_user(&self.config.user);
        let from = NameAddr::new(Uri::Sip(from_uri)).with_tag(&generate_tag());
        let to = NameAddr::new(uri.clone());
        let call_id = CallId::new(Bytes::from(generate_call_id(None)));
        let mut builder = Request::builder(method.clone(), uri)
            .typed(&MaxForwards(MAX_FORWARDS))
            .typed(&FromHeader(from))
            .typed(&ToHeader(to));
        if let Ok(call_id) = call_id {
            builder = builder.typed(&call_id);
        }
        let with_contact = matches!(
            method,
            Method::Invite | Method::Register | Method::Subscribe | Method::Refer
        );
        builder = builder.typed(&CSeq { seq: 1, method });
        if with_contact {
            let contact = addressing::contact(transport, local, Some(&self.config.user));
            builder = builder.field(name_addr_field(HeaderName::Contact, &contact));
        }
        if let Some(product) = &self.config.product {
            builder = builder.header(HeaderName::UserAgent, product.clone());
        }
        builder
    }

    /// Feed a message received from `source` (requests with their top Via already stamped, RFC 3581).
    pub fn handle_incoming(
        &mut self,
        now: Instant,
        message: crate::message::Message,
        source: Target,
    ) {
        match message {
            crate::message::Message::Request(request) => {
                self.incoming_request(now, request, source)
            }
            crate::message::Message::Response(response) => {
                self.incoming_response(now, response, source)
            }
        }
        self.pump(now);
    }

    /// The driver could not send a message of `transaction`.
    pub fn handle_transport_error(&mut self, now: Instant, transaction: TransactionId) {
        self.layer.handle_transport_error(now, transaction);
        self.pump(now);
    }

    /// Fire what is due at `now`: transaction timers and 2xx retransmissions.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.pump(now);
        while let Some(&(at, dialog)) = self.ok_deadlines.first() {
            if at > now {
                break;
            }
            self.ok_deadlines.remove(&(at, dialog));
            self.fire_ok(now, dialog);
            self.pump(now);
        }
    }

    /// When [`UserAgent::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ok = self.ok_deadlines.first().map(|&(at, _)| at);
        match (self.layer.poll_timeout(), ok) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Outbound> {
        if let Some(t) = self.transmits.pop_front() {
            return Some(t);
        }
        self.layer.poll_transmit().map(Outbound::from)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    fn allocate(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The Via for a request over `kind`, with a fresh branch.
    fn via(&self, kind: TransportKind) -> crate::header::Via {
        addressing::via(kind, self.config.local_address(kind)).with_branch(&generate_branch())
    }

    /// The Contact of this UA over `kind`.
    fn contact(&self, kind: TransportKind) -> NameAddr {
        addressing::contact(
            kind,
            self.config.local_address(kind),
            Some(&self.config.user),
        )
    }

    /// Turn the transaction layer's events into the UA's.
    fn pump(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            use crate::transaction::TransactionEvent as E;
            match event {
                E::NewRequest {
                    id,
                    request,
                    source,
                } => self.on_new_request(now, id, request, source),
                E::Ack {
                    request, source, ..
                } => self.on_ack(now, request, source),
                E::Response { id, response } => self.on_response(now, id, response),
                E::Timeout { id, .. } => self.on_failure(id, RequestOutcome::Timeout),
                E::TransportError { id } => self.on_transport_error(now, id),
                E::Terminated { id } => self.on_terminated(id),
            }
        }
    }

    /// Register a new dialog created over `fallback`.
    fn add_dialog(
        &mut self,
        dialog: Dialog,
        fallback: Target,
        credentials: Option<DigestClient>,
        invite_credentials: Vec<HeaderField>,
    ) -> DialogRef {
        let reference = DialogRef(self.allocate());
        self.dialog_by_id.insert(dialog.id().clone(), reference);
        self.dialogs.insert(
            reference,
            Box::new(DialogEntry {
                dialog,
                fallback,
                credentials,
                invite_credentials,
                ok: None,
                bye_after_ack: false,
            }),
        );
        reference
    }

    /// Remove `dialog` and tell the application.
    fn end_dialog(&mut self, dialog: DialogRef, reason: DialogEnd) {
        let Some(entry) = self.dialogs.remove(&dialog) else {
            return;
        };
        self.dialog_by_id.remove(entry.dialog.id());
        if let Some(ok) = &entry.ok {
            self.ok_deadlines.remove(&(ok.deadline(), dialog));
        }
        self.events
            .push_back(UaEvent::DialogEnded { dialog, reason });
    }

    /// Send a BYE in `dialog` on the UA's own account (hanging up), then end it with `reason`.
    fn hang_up(&mut self, now: Instant, dialog: DialogRef, reason: DialogEnd) {
        let _ = self.send_in_dialog(now, dialog, Method::Bye, Vec::new(), Bytes::new(), true);
        self.end_dialog(dialog, reason);
    }

    /// Stop the 2xx retransmission of `dialog`, if any.
    fn stop_ok(&mut self, dialog: DialogRef) {
        let Some(entry) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        if let Some(ok) = entry.ok.take() {
            self.ok_deadlines.remove(&(ok.deadline(), dialog));
        }
    }

    /// Retransmit the 2xx of `dialog`, or give up on its ACK.
    fn fire_ok(&mut self, now: Instant, dialog: DialogRef) {
        let Some(entry) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        let Some(ok) = entry.ok.as_mut() else {
            return;
        };
        match ok.fire(now) {
            super::ok_retransmission::OkStep::Retransmit => {
                let (transaction, response) = (ok.transaction, ok.response.clone());
                self.ok_deadlines.insert((ok.deadline(), dialog));
                // The server transaction may have just ended (Timer L also runs 64·T1): nothing to resend.
                let _ = self.layer.respond(now, transaction, response);
            }
            super::ok_retransmission::OkStep::GiveUp => {
                entry.ok = None;
                self.hang_up(now, dialog, DialogEnd::AckTimeout);
            }
        }
    }

    /// The application no longer wants `dialog`: a confirmed dialog is hung up with BYE (once the ACK for
    /// this UA's 2xx has arrived, RFC 3261 §15), an early one is forgotten (its INVITE is the application's
    /// to cancel or answer).
    pub fn release(&mut self, now: Instant, dialog: DialogRef) {
        let Some(entry) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        match entry.dialog.state() {
            crate::dialog::DialogState::Confirmed if entry.ok.is_some() => {
                entry.bye_after_ack = true;
            }
            crate::dialog::DialogState::Confirmed => {
                self.hang_up(now, dialog, DialogEnd::Released);
            }
            _ => self.end_dialog(dialog, DialogEnd::Released),
        }
        self.pump(now);
    }
}

/// Live state counts of a [`UserAgent`], from [`UserAgent::load`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UaLoad {
    /// Live transactions.
    pub transactions: usize,
    /// Live dialogs.
    pub dialogs: usize,
    /// Requests sent by the application still followed.
    pub requests: usize,
    /// Server transactions the application was told about and that have not ended.
    pub server_transactions: usize,
}

/// `request` in a buffer of its own. Received messages are slices of the transport's receive blocks; a
/// dialog lasts minutes or hours, and values sliced from its dialog-creating messages would keep a whole
/// block of other messages alive with them.
fn compact_request(request: &Request) -> Request {
    match crate::parse::parse_message(request.to_bytes()) {
        Ok(crate::message::Message::Request(copy)) => copy,
        _ => request.clone(),
    }
}

/// `response` in a buffer of its own; see [`compact_request`].
fn compact_response(response: &Response) -> Response {
    match crate::parse::parse_message(response.to_bytes()) {
        Ok(crate::message::Message::Response(copy)) => copy,
        _ => response.clone(),
    }
}

/// A header field holding a name-addr (Contact, From, To …) written out.
fn name_addr_field(name: HeaderName, value: &NameAddr) -> HeaderField {
    let mut out = Vec::new();
    value.write_to(&mut out);
    HeaderField::new(name, out)
}
