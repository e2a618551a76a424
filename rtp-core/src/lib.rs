//! RTP, RTCP, SRTP, SDP, RFC 4733 telephone-events and G.711 for the Tandem VoIP toolkit: the media hot path,
//! with no I/O.
#![warn(missing_docs, unreachable_pub)]

pub mod sdes;
pub mod sdp;

pub use sdes::{Crypto, CryptoSuite, SdesError};
pub use sdp::{MediaDescription, SdpError, SessionDescription};
