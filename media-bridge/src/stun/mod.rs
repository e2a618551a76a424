//! STUN (RFC 8489) message codec: the subset ICE connectivity checks and consent freshness need.
//!
//! - [`Message::parse`] reads one message zero-copy from a datagram, validating lengths, padding, attribute
//!   order, known attribute values and FINGERPRINT, with a hard limit of [`MAX_ATTRIBUTES`]. Unknown
//!   comprehension-optional attributes are skipped; unknown comprehension-required ones are reported by
//!   [`Message::unknown_comprehension_required`] so a server can answer 420.
//! - [`Message::verify_integrity`] checks MESSAGE-INTEGRITY (HMAC-SHA1, short-term credentials) with an
//!   [`IntegrityKey`]. MESSAGE-INTEGRITY-SHA256 is parsed and exposed, not verified.
//! - [`MessageWriter`] writes a message into a caller's buffer without allocating and appends
//!   MESSAGE-INTEGRITY and FINGERPRINT last.
//!
//! Long-term credentials (REALM, NONCE, USERHASH) are not supported: ICE does not use them.

mod attribute;
mod error;
mod header;
mod integrity;
mod message;
mod writer;

pub use attribute::{Attribute, ErrorCode, UnknownAttributes};
pub use error::{StunError, StunErrorKind};
pub use header::{Class, HEADER_LEN, MAGIC_COOKIE, Method, TransactionId};
pub use integrity::IntegrityKey;
pub use message::{Attributes, MAX_ATTRIBUTES, MAX_UNKNOWN_REPORTED, Message};
pub use writer::MessageWriter;
