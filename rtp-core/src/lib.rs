//! RTP, RTCP, SRTP, SDP, RFC 4733 telephone-events and G.711 for the Tandem VoIP toolkit: the media hot path,
//! with no I/O.
#![warn(missing_docs, unreachable_pub)]

pub mod g711;

pub use g711::G711;
