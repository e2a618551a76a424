//! WebRTC <-> RTP media relay (the rtpengine role) for the Tandem VoIP toolkit.
//!
//! **Status: skeleton.** This crate is planned but not implemented yet; it exports nothing. Its scope:
//! STUN (RFC 8489) and an ICE-lite agent with consent freshness (RFC 7675), DTLS-SRTP (RFC 5764), RFC 7983 demultiplexing, call sessions with legs of any RTP profile bridged both ways, symmetric RTP latching, a port pool, and an NG protocol control server compatible with Kamailio's rtpengine module.
#![warn(missing_docs, unreachable_pub)]

pub mod error;
pub mod ng;

pub use error::Error;
