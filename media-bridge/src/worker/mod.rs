//! The packet path: worker threads that own the media sockets and move RTP, RTCP, STUN and DTLS between the
//! two legs of each call, driven by the control plane's [`MediaUpdate`](crate::session::MediaUpdate)s.
//!
//! [`MediaRelay::start`] builds the [`Relay`](crate::session::Relay) (behind a mutex, for the control plane
//! only), a control thread and the workers. Port pairs are bound when the control plane hands them out (a
//! pair that cannot be bound, because another process or relay holds a port, is skipped), and the worker
//! serving a stream takes those sockets. Both legs of a call are sharded to one worker (by Call-ID), so a
//! packet is received, transformed and sent on one thread without locks. Per datagram, on the stream it
//! arrived on:
//!
//! 1. [`classify`](crate::demux::classify) (RFC 7983): STUN goes to the stream's ICE-lite agent (answered
//!    from the same socket; the nominated pair is where media goes), DTLS to its DTLS-SRTP association
//!    (whose keys become the SRTP contexts), RTP and RTCP are relayed.
//! 2. Source check: an ICE stream accepts media only from validated pairs (and sends to the one its peer's
//!    authenticated media last came from, else the nominated one); any other stream learns the
//!    endpoint's real address from its first (authenticated) packet — symmetric RTP, which gets through NAT
//!    — and afterwards drops packets from elsewhere.
//! 3. SRTP/SRTCP unprotect in place (SDES or DTLS keys), RTP payload type renumbered in place through the
//!    stream's [`PayloadMap`](crate::session::PayloadMap) (RFC 4733 events included), SRTP protect in place
//!    for the peer (the buffer has room for the tag).
//! 4. Sent from the peer stream's socket to its latched (else advertised) address; RTCP leaves from the
//!    peer's RTCP port when it is not muxed, whichever port it arrived on.
//!
//! Besides forwarding, per stream:
//! - **ICE consent** (RFC 7675): when it expires the stream is marked ([`StreamStats::consent_expired`])
//!   and nothing more is sent to the endpoint until an ICE restart (a re-offer with new credentials).
//! - **DTMF injection** ([`Relay::play_dtmf`](crate::session::Relay::play_dtmf), NG `play DTMF`): the
//!   worker paces RFC 4733 packets (marker on the first, growing duration, three end packets, one
//!   timestamp per event) on its timer tick in the endpoint's `telephone-event` payload type, with the SSRC
//!   and sequence numbers of the RTP relayed to it (later relayed packets are renumbered after them, and
//!   held back while an event plays), SRTP-protected when the endpoint speaks SRTP.
//! - **RTCP statistics**: sender reports forwarded to an endpoint are remembered, so the LSR/DLSR of its
//!   report blocks give the round-trip time; its reported loss and jitter are kept too.
//! - **Recording** (a call's `record` flag, NG `record-call` / `start recording`, with
//!   [`DataPlaneConfig::recording_dir`]): copies of the plain RTP and RTCP received (and DTMF injected) go
//!   through a bounded queue to a writer thread that appends them to `<Call-ID>.pcap` (classic libpcap,
//!   `LINKTYPE_RAW`, synthetic IP/UDP headers); a full queue drops copies and counts them. Calls that are
//!   not recorded cost no allocation.
//!
//! Workers report per-stream statistics ([`StreamStats`]: counters, drops by [`DropReason`], loss and
//! jitter, RTT, last activity) every [`DataPlaneConfig::stats_interval`]; the control thread records them with
//! [`Relay::record_traffic`](crate::session::Relay::record_traffic), which is what lets
//! [`Relay::sweep`](crate::session::Relay::sweep) expire silent calls (the control thread sweeps every
//! second).
//!
//! On Linux each worker runs one io_uring ([`MediaIo::IoUring`], chosen by [`MediaIo::Auto`] when the
//! kernel offers it): a multishot `recvmsg` per socket into a ring of buffers provided once per worker, a
//! `send` per relayed datagram straight from its buffer, and one `io_uring_enter` per wake-up that submits
//! the sends, waits and receives. The fallback ([`MediaIo::Epoll`]) reads with `recvmmsg(2)` in batches of
//! 32 into buffers allocated once per worker, sends what a batch produced with `sendmmsg(2)`, and waits with
//! `epoll(7)` (each socket registered once, with its stream's id as the token); other platforms use
//! `recv_from`/`send_to` and a short sleep. A worker whose ring cannot be created (io_uring disabled or
//! filtered out) falls back to epoll; each worker logs the back end it picked, and
//! [`MediaRelay::workers_by_io`] counts them.
//!
//! What a relayed packet costs is mostly the wake-up that brings the worker to it, not the parsing or the
//! SRTP: an idle worker relays the first packet at once, but under load, after a wake-up that received
//! packets, it waits out [`DataPlaneConfig::batch_window`] and then relays everything that arrived
//! meanwhile, from every ready socket, in one pass. It waits only while its packet rate over the last 20 ms
//! would fill a window with at least 8 packets; at lower rates the window would add its length to each
//! packet's delay for little saving (see `docs/bench-media.md`).

mod dtmf;
mod forwarder;
mod media_relay;
mod pacer;
mod port_claim;
mod recorder;
mod relayed_stream;
mod socket_batch;
mod stream_stats;
#[cfg(target_os = "linux")]
mod uring;

pub use media_relay::{DataPlaneConfig, MediaIo, MediaRelay, WorkersByIo};
pub use stream_stats::{DropReason, StreamStats};

/// Why the packet path could not start or answer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// An operating-system call failed while starting.
    #[error("{operation}: {message}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The kind of the I/O error.
        kind: std::io::ErrorKind,
        /// The error's text.
        message: String,
    },
    /// The control thread has stopped.
    #[error("the media relay has stopped")]
    Stopped,
}

impl WorkerError {
    pub(crate) fn io(operation: &'static str, error: &std::io::Error) -> Self {
        WorkerError::Io {
            operation,
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}
