//! The NG control protocol: how Kamailio's `rtpengine` module (and OpenSIPS', and other rtpengine clients)
//! drive a media relay.
//!
//! Each UDP datagram is `<cookie> <bencoded dictionary>`; the reply echoes the cookie. A request's
//! `command` is `ping`, `offer`, `answer`, `delete`, `query` or `list`; an offer or answer carries the SDP
//! to rewrite and options such as `ICE=remove`, `DTLS=off`, `transport-protocol`, `rtcp-mux`, `replace`,
//! `SDES`, `codec` and `flags`.
//!
//! * [`bencode`]: the codec, strict and bounded, zero-copy over [`bytes::Bytes`].
//! * [`Frame`] and [`Request::decode`]: framing and typed requests ([`Command`], [`MediaOptions`]); what is
//!   not understood is kept in [`Request::ignored`] for the caller to log, never an error.
//! * [`Reply`]: typed replies and their dictionaries, `query` statistics included.
//! * [`NgEndpoint`]: the sans-IO endpoint: framing, decoding, error results for bad requests, the
//!   retransmission cache (a retransmitted cookie is answered from the cache, not executed twice).
//! * [`MediaControl`]: what the media engine implements; [`execute`] runs a command against it.
//! * `NgServer` (feature `tokio`): the UDP server, by default on port 22222
//!   ([`DEFAULT_PORT`]).
//!
//! ```
//! use bytes::Bytes;
//! use std::time::Instant;
//! use tandem_media_bridge::ng::{Action, EndpointConfig, NgEndpoint};
//!
//! let mut endpoint = NgEndpoint::new(EndpointConfig::default());
//! let peer = "127.0.0.1:40000".parse().unwrap();
//! let ping = Bytes::from_static(b"5323_1 d7:command4:pinge");
//! match endpoint.handle_datagram(Instant::now(), peer, ping) {
//!     Action::Reply(reply) => assert_eq!(&reply[..], b"5323_1 d6:result4:ponge"),
//!     other => panic!("{other:?}"),
//! }
//! ```

pub mod bencode;
mod control;
mod cookie_cache;
mod endpoint;
mod media_options;
mod protocol;
mod reply;
#[cfg(feature = "tokio")]
mod server;
mod word;

pub use control::{MediaControl, execute};
pub use endpoint::{Action, EndpointConfig, NgEndpoint, NgStats, Pending};
pub use media_options::{
    AddressFamily, CodecOptions, Dtls, Flag, Ice, Ignored, MediaOptions, Replace, RtcpMux, Sdes,
    TransportOverride, TransportProtocol,
};
pub use protocol::{
    CallRef, Command, DEFAULT_PORT, Delete, Frame, List, MAX_COOKIE_LEN, NgError, PlayDtmf, Query,
    Request, SdpRequest, encode_frame,
};
pub use reply::{
    CallStats, Counters, DeleteReply, MAX_REASON_LEN, MediaFlag, MediaStats, Reply, SdpReply,
    StreamKind, StreamStats, TagStats, Totals,
};
#[cfg(feature = "tokio")]
pub use server::{NgServer, NgServerConfig, StatsWatch};
