//! What the endpoint refuses or could not do.

use crate::dialog::DialogError;
use crate::message::Response;
use crate::transaction::TransactionError;

/// Why an endpoint operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EndpointError {
    /// The transaction layer refused the operation.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    /// The dialog refused the operation (terminated, INVITE pending, CSeq exhausted, …).
    #[error(transparent)]
    Dialog(#[from] DialogError),
    /// No dialog has this reference (it ended).
    #[error("no such dialog")]
    UnknownDialog,
    /// No request in progress has this id (it ended).
    #[error("no such request")]
    UnknownRequest,
    /// The request cannot be sent: no Via can be built or the request lacks what sending needs.
    #[error("cannot send the request: {0}")]
    BadRequest(&'static str),
    /// The request ended without a final response: Timer B or F fired.
    #[error("no final response before the transaction timed out")]
    Timeout,
    /// The transport could not deliver the request.
    #[error("the transport could not deliver the request")]
    TransportFailed,
    /// An INVITE got a final response other than 2xx.
    #[error("the call was refused with {}", .0.status())]
    Refused(Box<Response>),
    /// The ACK for the 2xx never arrived (RFC 3261 §13.3.1.4); the session was ended with a BYE.
    #[error("no ACK for the 2xx")]
    AckTimeout,
    /// The peer cancelled the INVITE before it was answered.
    #[error("the INVITE was cancelled")]
    Cancelled,
    /// The URI names no host this endpoint can reach.
    #[error("cannot resolve {0}")]
    Unresolvable(String),
    /// A transport could not be set up or used.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// The endpoint has shut down.
    #[error("the endpoint has shut down")]
    Closed,
}
