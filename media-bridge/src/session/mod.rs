//! The relay's control plane: call sessions, their legs and streams, SDP rewriting between profiles, and the
//! snapshots the packet path works from. Sans-IO: no sockets, no clocks; the caller passes `now`.
//!
//! # Model
//!
//! A **call** is keyed by SIP Call-ID and has two **legs**, like rtpengine's monologues: the caller's
//! (tagged by the first offer's from-tag) and the callee's (tagged by the answer's to-tag). For every media
//! section each leg has a **stream**: the relay's RTP/RTCP port pair facing that endpoint (from the
//! [`PortPool`]) and what was negotiated with it — the [`TransportProtocol`] (RTP/AVP, RTP/AVPF, RTP/SAVP with
//! SDES, UDP/TLS/RTP/SAVPF with DTLS), ICE-lite credentials, DTLS role and fingerprint or SDES keys, rtcp-mux,
//! codecs in its own payload numbering. Media received on one leg's stream leaves from the other leg's stream
//! of the same section.
//!
//! An **offer** ([`Relay::offer`]) creates or updates the offerer's streams from its SDP and prepares the
//! other leg's for the target profile chosen by [`MediaOptions`]; the SDP it returns goes to the answerer. The
//! **answer** ([`Relay::answer`]) completes the answerer's streams, settles rtcp-mux, DTLS roles, SDES keys and
//! codecs (with a [`PayloadMap`] where the sides number a codec differently), and returns the SDP for the
//! offerer. Either side may re-offer (hold, ICE restart, re-key) with the same verbs.
//!
//! # Packet path
//!
//! After each request, [`Relay::poll_update`] yields [`MediaUpdate`]s: an immutable `Arc<`[`LegMedia`]`>` per
//! stream that changed (ports, expected remote addresses, profile, ICE credentials, SRTP keys or "awaiting
//! DTLS", payload map, rtcp-mux), and removals. A driver sends them to the worker threads over channels; the
//! workers never take a lock on the packet path. Workers report what they see with
//! [`Relay::record_traffic`]; [`Relay::sweep`] expires calls silent for [`RelayConfig::media_timeout`].
//!
//!
//! Ports are the one resource shared with the operating system: a driver gives the relay a [`PortClaim`]
//! ([`Relay::set_port_claim`]) that binds a pair as the pool hands it out, so a pair something else holds is
//! skipped ([`PortPool::skipped`]) instead of being answered with, and its sockets go to the worker.
//!
//! ```
//! use std::time::Instant;
//! use tandem_media_bridge::session::{
//!     AnswerRequest, IceMode, MediaOptions, MediaUpdate, OfferRequest, Relay, RelayConfig,
//!     TransportProtocol,
//! };
//!
//! let mut relay = Relay::new(RelayConfig::new("203.0.113.7".parse().unwrap()))?;
//! let now = Instant::now();
//! let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
//!              m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
//! let mut options = MediaOptions::default();
//! options.transport_protocol = Some(TransportProtocol::RtpAvp);
//! options.ice = IceMode::Remove;
//! let forwarded = relay.offer(
//!     OfferRequest::new("call-1", "caller-tag", offer.parse()?).with_options(options),
//!     now,
//! )?;
//! assert_eq!(forwarded.media[0].port, 30002); // the callee's leg: the second pair of the pool
//! assert!(forwarded.to_string().contains("c=IN IP4 203.0.113.7"));
//!
//! let answer = "v=0\r\no=- 2 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
//!               m=audio 5000 RTP/AVP 0\r\n";
//! let back = relay.answer(AnswerRequest::new("call-1", "caller-tag", "callee-tag", answer.parse()?), now)?;
//! assert_eq!(back.media[0].port, 30000);
//! while let Some(update) = relay.poll_update() {
//!     if let MediaUpdate::Upsert(media) = update {
//!         println!("{}: ports {} -> expect {:?}", media.id, media.ports, media.remote_rtp);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod call;
mod config;
mod error;
mod leg;
mod ng_control;
mod options;
mod payload_map;
mod peer;
mod port_pool;
mod profile;
mod relay;
mod rewrite;
mod stats;

pub use config::{Interface, RelayConfig};
pub use error::SessionError;
pub use leg::{
    DtlsParams, DtmfInjection, IceParams, LegMedia, MediaUpdate, SdesKeys, SrtpSetup, StreamId,
};
pub use ng_control::{RelayControl, from_ng_options};
pub use options::{
    AnswerRequest, DeleteRequest, DtlsMode, DtmfRequest, EndpointAddress, IceMode, MediaOptions,
    OfferRequest, RtcpMuxMode, SdesOptions,
};
pub use payload_map::PayloadMap;
pub use port_pool::{PortClaim, PortPair, PortPool};
pub use profile::{Keying, TransportProtocol};
pub use relay::Relay;
pub use stats::{CallStats, Counters, LegStats, MediaStats, Traffic};
