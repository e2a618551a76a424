//! RTCP (RFC 3550 §6): compound packet validation and iteration, SR, RR, SDES, BYE, APP, feedback messages
//! (RFC 4585 generic NACK, PLI; RFC 5104 FIR), reduced-size RTCP (RFC 5506), and a writer that builds
//! compounds — reports included, from [`ReceptionStats`](crate::rtp::ReceptionStats) — into caller buffers.
//!
//! Parsing never allocates: every packet type is a view over the received bytes, validated once by
//! [`RtcpCompound::parse`] so that iterating afterwards cannot fail.

mod app;
mod bye;
mod compound;
mod error;
mod feedback;
mod header;
mod receiver_report;
mod report_block;
mod sdes;
mod sender_report;
mod writer;

pub use app::App;
pub use bye::Goodbye;
pub use compound::{
    MAX_PACKETS_PER_COMPOUND, ReducedSize, RtcpCompound, RtcpPacket, RtcpPackets, UnknownPacket,
    is_rtcp,
};
pub use error::{RtcpError, RtcpErrorKind};
pub use feedback::{
    FMT_FIR, FMT_NACK, FMT_PLI, Feedback, FeedbackKind, Fir, FirEntry, Nack, NackPair, PackedNacks,
    Pli,
};
pub(crate) use header::{HEADER_AND_SSRC_LEN, first_ssrc};
pub use receiver_report::ReceiverReport;
pub(crate) use report_block::to_1_65536_secs;
pub use report_block::{
    MAX_CUMULATIVE_LOST, MIN_CUMULATIVE_LOST, NtpTime, ReportBlock, ReportBlocks,
};
pub use sdes::{SdesChunk, SdesChunks, SdesItem, SdesItemType, SdesItems, SourceDescription};
pub use sender_report::{SenderInfo, SenderReport};
pub use writer::RtcpWriter;

/// RTCP packet type values (the second octet of every RTCP header).
pub mod packet_type {
    pub use super::header::{
        APP, GOODBYE, PAYLOAD_FEEDBACK, RECEIVER_REPORT, SENDER_REPORT, SOURCE_DESCRIPTION,
        TRANSPORT_FEEDBACK,
    };
}
