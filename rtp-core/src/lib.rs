//! RTP, RTCP, SRTP, SDP, RFC 4733 telephone-events, G.711 and DTMF for the Tandem VoIP toolkit: the media hot
//! path, with no I/O.
//!
//! | module | what |
//! |---|---|
//! | [`rtp`] | RTP header views and builder (RFC 3550, RFC 8285 extensions), sequence arithmetic, reception statistics |
//! | [`rtcp`] | compound RTCP: SR, RR, SDES, BYE, APP, NACK, PLI, FIR; reduced-size; report generation |
//! | [`srtp`] | SRTP/SRTCP (RFC 3711, RFC 7714): AES-CM/HMAC-SHA1 and AES-GCM, in place, no allocation |
//! | [`sdp`], [`sdes`] | session descriptions (RFC 8866) with offer/answer (RFC 3264); `a=crypto` (RFC 4568) |
//! | [`telephone_event`] | RFC 4733 DTMF events: codec, receiver state machine, generator |
//! | [`g711`], [`dtmf_detect`], [`tone`] | G.711 µ-law/A-law, in-band DTMF detection (Goertzel), tone generation |
//! | [`jitter_buffer`] | an adaptive, sans-IO jitter buffer |
//! | `opus` | Opus encode/decode (feature `opus`) |
#![warn(missing_docs, unreachable_pub)]

mod error;

pub mod dtmf_detect;
pub mod g711;
pub mod jitter_buffer;
#[cfg(feature = "opus")]
pub mod opus;
pub mod rtcp;
pub mod rtp;
pub mod sdes;
pub mod sdp;
pub mod srtp;
pub mod telephone_event;
pub mod tone;

pub use dtmf_detect::{DtmfDetector, DtmfDetectorConfig, DtmfEvent};
pub use error::Error;
pub use g711::G711;
pub use jitter_buffer::{JitterBuffer, JitterBufferConfig, MediaFrame, Playout, PushOutcome};
#[cfg(feature = "opus")]
pub use opus::{OpusApplication, OpusChannels, OpusDecoder, OpusEncoder, OpusError};
pub use rtcp::{RtcpCompound, RtcpError, RtcpPacket, RtcpWriter};
pub use rtp::{ReceptionStats, RtpError, RtpHeaderBuilder, RtpPacket};
pub use sdes::{Crypto, CryptoSuite, SdesError};
pub use sdp::{MediaDescription, SdpError, SessionDescription};
pub use srtp::{SrtpContext, SrtpError, SrtpPolicy, SrtpProfile};
pub use telephone_event::{
    DtmfDigit, EndReason, EventGenerator, EventPacket, EventReceiver, ReceiverEvent,
    TelephoneEvent, TelephoneEventError,
};
pub use tone::{Cadence, Region, Tone};
