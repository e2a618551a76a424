//! RTP packets (RFC 3550 §5): a zero-copy packet view, RFC 8285 header extensions, a header builder writing
//! into caller buffers, sequence arithmetic across wrap-around, and per-source reception statistics.
//!
//! Parsing never allocates: [`RtpPacket`] borrows the datagram. With a `bytes::Bytes` datagram, keep the
//! payload without copying via `bytes.slice(packet.payload_range())`.

mod builder;
mod error;
mod extension;
mod packet;
mod reception;
mod seq;

pub use builder::RtpHeaderBuilder;
pub use error::{RtpError, RtpErrorKind};
pub use extension::{
    ExtensionElement, ExtensionElements, ExtensionForm, HeaderExtension, ONE_BYTE_PROFILE,
    TWO_BYTE_PROFILE,
};
pub use packet::{FIXED_HEADER_LEN, RTP_VERSION, RtpPacket, header_len};
pub use reception::{MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, ReceptionStats, SequenceCheck};
pub use seq::{
    SeqExtender, extend_seq, seq_delta, seq_is_newer, timestamp_delta, timestamp_is_newer,
};
