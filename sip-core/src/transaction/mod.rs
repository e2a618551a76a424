//! SIP transactions (RFC 3261 §17, with RFC 6026 and RFC 4320), sans-IO.
//!
//! A [`TransactionLayer`] owns every client and server transaction of an element. It never touches a socket
//! or a clock: the caller feeds it what arrived ([`TransactionLayer::handle_incoming`]), what the transaction
//! user (TU) wants to send ([`TransactionLayer::send_request`], [`TransactionLayer::respond`],
//! [`TransactionLayer::cancel`]), transport failures ([`TransactionLayer::handle_transport_error`]) and the
//! passing of time ([`TransactionLayer::handle_timeout`]), always with `now`. It answers through three polls:
//!
//! - [`TransactionLayer::poll_transmit`]: messages to put on the wire, each with its [`Target`];
//! - [`TransactionLayer::poll_event`]: [`TransactionEvent`]s for the TU (new requests, responses, timeouts);
//! - [`TransactionLayer::poll_timeout`]: when to call [`TransactionLayer::handle_timeout`] next.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use tandem_sip_core::transaction::{Target, TransactionEvent, TransactionLayer, TransportKind};
//! use tandem_sip_core::parse_message;
//!
//! let mut layer = TransactionLayer::new(Default::default());
//! let now = Instant::now();
//! let peer = Target::new(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap());
//! let wire = Bytes::from_static(b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1\r\nFrom: <sip:a@example.com>;tag=1\r\n\
//!     To: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
//! layer.handle_incoming(now, parse_message(wire).unwrap(), peer).unwrap();
//! let Some(TransactionEvent::NewRequest { id, request, .. }) = layer.poll_event() else { panic!() };
//! let ok = tandem_sip_core::Response::from_request(&request, tandem_sip_core::StatusCode::OK, Some("x")).build();
//! layer.respond(now, id, ok).unwrap();
//! assert_eq!(layer.poll_transmit().unwrap().target, peer);
//! // Timer J keeps the transaction 64·T1 to absorb retransmitted requests, then it is removed.
//! layer.handle_timeout(now + Duration::from_secs(32));
//! assert!(layer.is_empty());
//! ```
//!
//! Choices this module makes where the RFCs leave room:
//!
//! - Responses of a server transaction go back to the [`Target`] the request came from (symmetric
//!   response routing, as with RFC 3581 `rport`); the Via-based rules of RFC 3261 §18.2.2 are the driver's
//!   business if it wants them.
//! - An INVITE server transaction sends `100 Trying` itself [`TimerConfig::trying_delay`] (200 ms) after
//!   the request unless the TU has responded by then (§17.2.1).
//! - A non-INVITE server transaction never sends `100 Trying` on its own. RFC 4320 §4.1 is enforced on what
//!   the TU sends: provisional responses other than 100 are refused, and on an unreliable transport a
//!   `100` from the TU is held back until the client's Timer E would have reached T2 (3.5 s with the
//!   default timers), then sent unless a final response went first. A `408` to a non-INVITE request is
//!   refused (RFC 4320 §4.2).
//! - Responses matching no client transaction are dropped (RFC 6026 §8.9 replaces "pass to the core").
//! - A non-INVITE server transaction the TU never answers ends 64·T1 after the request, when the client's
//!   Timer F has fired ([`TransactionEvent::Timeout`] with [`Timer::F`]): RFC 4320 forbids the 408 that
//!   would otherwise end it.
//! - An INVITE client transaction in Proceeding has no timer of its own (RFC 3261 has none); once the TU
//!   has cancelled it, it gives up 64·T1 after the CANCEL went out without a final response (§9.1), with
//!   [`Timer::Cancel`].

mod cancel;
mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;
mod table;
mod timers;

#[cfg(test)]
mod test_support;

pub use cancel::build_cancel;
pub use table::TransactionLayer;
pub use timers::{Timer, TimerConfig};

use crate::error::ParseError;
use crate::message::{Request, Response};
use crate::method::StatusCode;
use bytes::Bytes;
use std::collections::VecDeque;
use std::fmt;

/// Identifies one transaction in a [`TransactionLayer`]; never reused by that layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransactionId(u64);

impl TransactionId {
    /// The number behind the id (for logs and metrics).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

// Where a message goes is described by the transport layer's types, which have no I/O of their own: the
// transaction layer reads only `Target::transport` (for its reliability) and hands targets back unchanged.
pub use crate::transport::{FlowId, Target, TransportKind};

/// A message to put on the wire, from [`TransactionLayer::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transaction sending it (give it to [`TransactionLayer::handle_transport_error`] if sending fails).
    pub transaction: TransactionId,
    /// Where to send it.
    pub target: Target,
    /// The serialized message; retransmissions share the first transmission's buffer.
    pub payload: Bytes,
}

/// The state of a transaction (RFC 3261 §17 figures 5–8, RFC 6026 figures 5 and 7).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionState {
    /// A CANCEL held back until the INVITE it cancels receives a provisional response (RFC 3261 §9.1).
    Waiting,
    /// Client INVITE: the request was sent, no response yet.
    Calling,
    /// Non-INVITE (client or server): the request was sent or received, no response yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// A non-2xx final response was received or sent (for non-INVITE, any final response).
    Completed,
    /// Server INVITE: the ACK for a non-2xx final response arrived.
    Confirmed,
    /// INVITE: a 2xx was received or sent (RFC 6026).
    Accepted,
    /// The transaction is over (it is removed from the layer right after reaching this state).
    Terminated,
}

/// Something the transaction user must know, from [`TransactionLayer::poll_event`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A request that is not a retransmission created server transaction `id`; answer it with
    /// [`TransactionLayer::respond`]. For a CANCEL, [`TransactionLayer::invite_for_cancel`] finds the INVITE
    /// it refers to.
    NewRequest {
        /// The new server transaction.
        id: TransactionId,
        /// The request.
        request: Request,
        /// Where it came from (responses go back there).
        source: Target,
    },
    /// A response for client transaction `id`: provisional and final responses, and in the Accepted state
    /// every further 2xx (retransmissions, or other branches of a forked INVITE), each of which the TU
    /// acknowledges itself (RFC 3261 §13.2.2.4).
    Response {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Response,
    },
    /// An ACK that no transaction absorbed: the ACK for a 2xx (it belongs to the dialog, RFC 3261 §13.3.1.4),
    /// possibly matching an INVITE server transaction in the Accepted state (`id`), or a stray ACK.
    Ack {
        /// The INVITE server transaction it matched, in the Accepted state, if any.
        id: Option<TransactionId>,
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: Target,
    },
    /// A timer ended transaction `id` without an answer: [`Timer::B`] (INVITE not answered),
    /// [`Timer::F`] (non-INVITE not answered; on a server transaction: the TU did not answer within 64·T1,
    /// when the client has given up, see RFC 4320 §4.2), [`Timer::H`] (the ACK for a non-2xx final
    /// response never arrived) or [`Timer::Cancel`] (no final response after a CANCEL).
    /// [`TransactionEvent::Terminated`] follows.
    Timeout {
        /// The transaction.
        id: TransactionId,
        /// The timer that fired.
        timer: Timer,
    },
    /// The driver reported that transaction `id` could not send (RFC 3261 §17.1.4, §17.2.4);
    /// [`TransactionEvent::Terminated`] follows.
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// Transaction `id` is over and was removed from the layer; its id is no longer valid.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// What the transaction layer refuses, and why.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The message lacks a header field transactions need (Via, CSeq, Call-ID).
    #[error("missing {0} header field")]
    MissingHeader(&'static str),
    /// A header field transactions need does not parse.
    #[error("invalid {header} header field: {error}")]
    InvalidHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        error: ParseError,
    },
    /// A request to send has no RFC 3261 branch (`z9hG4bK…`) in its top Via.
    #[error("the top Via of a request to send needs a branch starting with z9hG4bK")]
    MissingBranch,
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method differs from the request method")]
    CSeqMethodMismatch,
    /// ACK is sent by the TU outside any client transaction (RFC 3261 §17.1.1.3, §13.2.2.4).
    #[error("ACK does not start a client transaction")]
    AckNotTransaction,
    /// A client transaction with the same branch and method already exists (RFC 3261 §8.1.1.7).
    #[error("a client transaction with this branch and method already exists")]
    DuplicateTransaction,
    /// No transaction has this id (it never existed or it has terminated).
    #[error("no transaction {0}")]
    UnknownTransaction(TransactionId),
    /// The operation needs another kind of transaction (e.g. responding on a client transaction,
    /// cancelling a non-INVITE).
    #[error("transaction {0} is not of the kind this operation needs")]
    WrongKind(TransactionId),
    /// The transaction's state does not allow the operation (e.g. a second final response, or a CANCEL
    /// after a final response, RFC 3261 §9.1).
    #[error("not allowed in state {0:?}")]
    InvalidState(TransactionState),
    /// RFC 4320 forbids this response to a non-INVITE request: a provisional other than 100 (§4.1) or a
    /// 408 (§4.2).
    #[error("RFC 4320 forbids a {0} response to a non-INVITE request")]
    ForbiddenResponse(u16),
}

impl TransactionError {
    fn forbidden(status: StatusCode) -> TransactionError {
        TransactionError::ForbiddenResponse(status.as_u16())
    }
}

/// The queues the state machines write into and the layer's polls drain.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
}

impl Outbox {
    fn send(&mut self, transaction: TransactionId, target: Target, payload: Bytes) {
        self.transmits.push_back(Transmit {
            transaction,
            target,
            payload,
        });
    }

    fn event(&mut self, event: TransactionEvent) {
        self.events.push_back(event);
    }
}
