//! SDP (RFC 8866): a zero-copy session description model, a strict parser, a serializer that round-trips, and
//! the offer/answer helpers of RFC 3264.
//!
//! Every text field is a [`ByteString`](bytestring::ByteString) slice of the parsed input, so parsing copies no
//! text and the parsed description owns its data (no lifetimes) and can be edited and written back.
//!
//! ```
//! use tandem_rtp_core::sdp::{Attribute, Direction, SessionDescription};
//!
//! let offer: SessionDescription = "v=0\r\n\
//!     o=- 20518 0 IN IP4 203.0.113.1\r\n\
//!     s=-\r\n\
//!     c=IN IP4 203.0.113.1\r\n\
//!     t=0 0\r\n\
//!     m=audio 54400 RTP/AVP 0 101\r\n\
//!     a=rtpmap:101 telephone-event/8000\r\n\
//!     a=fmtp:101 0-15\r\n\
//!     a=sendrecv\r\n"
//!     .parse()?;
//! let audio = &offer.media[0];
//! assert_eq!(audio.port, 54400);
//! assert_eq!(audio.codecs()[0].encoding_name, "PCMU");
//! assert_eq!(offer.direction_of(audio), Direction::SendRecv);
//!
//! // A relay anchors the media on itself before forwarding the offer.
//! let mut forwarded = offer.clone();
//! forwarded.set_connection_address("198.51.100.7".parse().unwrap());
//! forwarded.media[0].set_port(30000);
//! forwarded.media[0].attributes.push(Attribute::parse("ptime:20")?);
//! forwarded.bump_version();
//! assert!(forwarded.to_string().contains("m=audio 30000 RTP/AVP 0 101\r\n"));
//! # Ok::<(), tandem_rtp_core::sdp::SdpError>(())
//! ```

mod attribute;
mod candidate;
mod codec;
pub(crate) mod error;
mod media;
mod offer_answer;
mod parse;
pub(crate) mod scanner;
mod session;

pub use attribute::{
    Attribute, Direction, Extmap, Fingerprint, Fmtp, Group, Msid, MsidSemantic, Rtcp, RtcpFb,
    Rtpmap, Setup, Ssrc, SsrcGroup,
};
pub use candidate::{Candidate, CandidateType};
pub use codec::Codec;
pub use error::{SdpError, SdpErrorKind};
pub use media::MediaDescription;
pub use offer_answer::{AnswerOptions, LocalMedia, create_answer};
pub use parse::SdpLimits;
pub use session::{
    Bandwidth, Connection, Origin, RepeatTime, SessionDescription, TimeDescription, TimeUnit,
    TypedTime, ZoneAdjustment,
};
