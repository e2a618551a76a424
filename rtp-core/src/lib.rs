#![doc = include_str!("../README.md")]
#![warn(missing_docs, unreachable_pub)]
// The one exception, AES-NI counter mode, is allowed where its module is declared.
#![deny(unsafe_code)]

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
