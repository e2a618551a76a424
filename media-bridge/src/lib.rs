//! WebRTC <-> RTP media relay (the rtpengine role) for the Tandem VoIP toolkit.
//!
//! **Status: protocol cores.** What exists, all sans-IO (no sockets, no clocks: the caller passes `now`):
//! - [`stun`]: the RFC 8489 message codec (zero-copy parser, allocation-free writer, MESSAGE-INTEGRITY,
//!   FINGERPRINT, the ICE attributes).
//! - [`ice`]: an ICE-lite agent (RFC 8445 §2.5) for one rtcp-muxed component, with consent freshness
//!   (RFC 7675) and ICE restart, plus the SDP attribute lines for our side.
//! - [`demux`]: RFC 7983 classification of packets sharing one port.
//! - [`dtls`]: DTLS-SRTP (RFC 5764) over `dimpl`, with fingerprint checks and SRTP key export into rtp-core.
//! - [`ng`]: the rtpengine NG control protocol (bencode over UDP) as Kamailio's `rtpengine` module speaks it.
//! - [`session`]: the relay's control plane: calls with caller and callee legs, a port pool, SDP rewritten
//!   between RTP/AVP, RTP/AVPF, RTP/SAVP (SDES) and UDP/TLS/RTP/SAVPF (DTLS, ICE-lite) with rtcp-mux and
//!   payload type mapping, immutable per-stream snapshots for the packet path, and the NG adapter
//!   ([`session::RelayControl`]).
//!
//! - [`worker`]: the packet path: worker threads with batched socket I/O, symmetric RTP latching and
//!   strict source checks, SRTP/SDES/DTLS translation, payload type renumbering, rtcp-mux bridging,
//!   per-stream statistics (loss, jitter, RTT from RTCP), ICE consent expiry, RFC 4733 DTMF injection and
//!   decrypted pcap recording, tied to the control plane by [`MediaRelay`].
//!
//! Still to come: the `tandem media` daemon.
#![warn(missing_docs, unreachable_pub)]

pub mod demux;
pub mod dtls;
pub mod ice;
pub mod ng;
pub mod session;
pub mod stun;
pub mod worker;

mod error;

/// Compiles and runs the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub use demux::{PacketKind, classify};
pub use dtls::{
    CertificateFingerprint, DtlsCertificate, DtlsConfig, DtlsError, DtlsEvent, DtlsRole,
    DtlsTransport, SrtpKeys,
};
pub use error::Error;
pub use ice::{Candidate, Credentials, Event, IceAgent, IceConfig, IceError, IceSdp};
pub use session::{
    LegMedia, MediaUpdate, Relay, RelayConfig, RelayControl, SessionError, StreamId,
};
pub use stun::{IntegrityKey, Message, MessageWriter, StunError};
pub use worker::{
    DataPlaneConfig, DropReason, MediaIo, MediaRelay, StreamStats, WorkerError, WorkersByIo,
};
