//! SIP (RFC 3261) messages for the Tandem VoIP toolkit: a zero-copy message model over [`bytes::Bytes`], a
//! nom-based parser for datagrams and streams, typed header views parsed on demand, a serializer and builders,
//! and the validation a UAS or proxy applies before choosing its reply.
#![warn(missing_docs, unreachable_pub)]

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod error;
mod grammar;
pub mod header;
pub mod message;
pub mod method;
pub mod params;
pub mod parse;
pub mod proxy;
mod random;
pub mod transaction;
pub mod transport;
pub mod uri;
pub mod validate;

pub use auth::{AuthError, ChallengeKind, DigestClient, DigestServer};
pub use dialog::{Dialog, DialogError, DialogId, DialogState};
pub use error::{Error, ParseError, ParseErrorKind};
pub use header::{
    CSeq, CallId, Contact, ContentLength, ContentType, FromHeader, HeaderName, MaxForwards,
    NameAddr, RecordRoute, Route, ToHeader, Transport, TypedHeader, Via,
};
pub use message::{
    HeaderField, Headers, Message, Request, RequestBuilder, Response, ResponseBuilder, Version,
};
pub use method::{Method, StatusCode};
pub use params::{Param, Params};
pub use parse::{
    Frame, Limits, StreamFramer, parse_message, parse_message_head, parse_message_with,
};
pub use transaction::{
    Target, TimerConfig, TransactionError, TransactionEvent, TransactionId, TransactionLayer,
    TransactionState, Transmit, TransportKind,
};
#[cfg(feature = "tokio")]
pub use transport::{Incoming, TransportEvent, TransportLayer};
pub use transport::{TransportError, response_target, stamp_received};
pub use uri::{Host, SipUri, TelUri, Uri};
pub use validate::{
    Discard, Rejection, Role, ValidationPolicy, validate_request, validate_response,
};

/// Compiles and runs the README's examples as doc-tests (they use the endpoint, so all features are needed).
#[cfg(all(doctest, feature = "tokio", feature = "tls", feature = "ws"))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
