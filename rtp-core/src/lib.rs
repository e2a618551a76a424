//! RTP, RTCP, SRTP, SDP, RFC 4733 telephone-events and G.711 for the Tandem VoIP toolkit: the media hot path,
//! with no I/O.
#![warn(missing_docs, unreachable_pub)]

mod error;
pub use error::Error;

pub mod g711;
pub mod jitter_buffer;
#[cfg(feature = "opus")]
pub mod opus;

pub use g711::G711;
pub use jitter_buffer::{Frame, JitterBuffer, JitterBufferConfig, Playout, PushOutcome};
#[cfg(feature = "opus")]
pub use opus::{OpusApplication, OpusChannels, OpusDecoder, OpusEncoder, OpusError};
pub mod rtcp;
pub mod rtp;

pub use rtcp::{RtcpCompound, RtcpError, RtcpPacket, RtcpWriter};
pub use rtp::{ReceptionStats, RtpError, RtpHeaderBuilder, RtpPacket};
pub mod dtmf_detect;
pub mod telephone_event;
pub mod tone;

pub use dtmf_detect::{DtmfDetector, DtmfDetectorConfig, DtmfEvent};
pub use telephone_event::{
    DtmfDigit, EndReason, EventGenerator, EventPacket, EventReceiver, ReceiverEvent,
    TelephoneEvent, TelephoneEventError,
};
pub use tone::{Cadence, Region, Tone};

pub mod sdes;
pub mod sdp;

pub use sdes::{Crypto, CryptoSuite, SdesError};
pub use sdp::{MediaDescription, SdpError, SessionDescription};
