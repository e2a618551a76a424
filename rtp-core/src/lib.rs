//! RTP, RTCP, SRTP, SDP, RFC 4733 telephone-events and G.711 for the Tandem VoIP toolkit: the media hot path,
//! with no I/O.
#![warn(missing_docs, unreachable_pub)]

pub mod dtmf_detect;
pub mod telephone_event;
pub mod tone;

pub use dtmf_detect::{DtmfDetector, DtmfDetectorConfig, DtmfEvent};
pub use telephone_event::{
    DtmfDigit, EndReason, EventGenerator, EventPacket, EventReceiver, ReceiverEvent,
    TelephoneEvent, TelephoneEventError,
};
pub use tone::{Cadence, Region, Tone};
