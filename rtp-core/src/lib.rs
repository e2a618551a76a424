//! RTP, RTCP, SRTP, SDP, RFC 4733 telephone-events and G.711 for the Tandem VoIP toolkit: the media hot path,
//! with no I/O.
#![warn(missing_docs, unreachable_pub)]

pub mod srtp;

pub use srtp::{SrtpContext, SrtpError, SrtpPolicy, SrtpProfile};
