//! What the packet path counts per stream, beyond the control plane's [`Traffic`]: drops by reason.

use std::time::{Duration, Instant};

use tandem_rtp_core::ReceptionStats;

use crate::session::{Counters, Traffic};

/// Why the packet path dropped a datagram.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// It came from another address than the one the stream is latched to (or the ICE-selected one).
    WrongSource,
    /// SRTP or SRTCP authentication, replay check or decryption failed.
    SrtpUnprotect,
    /// SRTP keys are not available yet (SDES answer or DTLS handshake pending), in either direction.
    NoKeys,
    /// The stream has no peer yet, or the peer has no address to send to.
    NoDestination,
    /// Not STUN, DTLS, RTP or RTCP, or too short to be what it claims.
    Malformed,
    /// A STUN request the ICE agent did not answer, or STUN/DTLS on a stream without ICE/DTLS.
    Unexpected,
    /// Sending failed (the socket's buffer was full, or the kernel refused).
    SendFailed,
}

impl DropReason {
    /// Every reason, in the order of [`StreamStats::drops`].
    pub const ALL: [DropReason; 7] = [
        DropReason::WrongSource,
        DropReason::SrtpUnprotect,
        DropReason::NoKeys,
        DropReason::NoDestination,
        DropReason::Malformed,
        DropReason::Unexpected,
        DropReason::SendFailed,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// The packet path's statistics of one stream, as last reported by its worker.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamStats {
    /// The counters handed to [`Relay::record_traffic`](crate::session::Relay::record_traffic).
    pub traffic: Traffic,
    /// Datagrams dropped, by [`DropReason`] (indexed like [`DropReason::ALL`]).
    pub drops: [u64; DropReason::ALL.len()],
    /// RTP packets sent out of this stream's socket towards its endpoint.
    pub sent_rtp: u64,
    /// RTCP packets sent out of this stream's socket(s) towards its endpoint.
    pub sent_rtcp: u64,
    /// Whether the DTLS handshake completed (DTLS streams only).
    pub dtls_connected: bool,
}

impl StreamStats {
    /// Datagrams dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.get(reason.index()).copied().unwrap_or(0)
    }
}

/// The running counters a worker keeps for one stream; turned into a [`StreamStats`] once per report.
#[derive(Debug, Default)]
pub(crate) struct StreamCounters {
    pub(crate) stats: StreamStats,
    /// Receiver statistics of the endpoint's current RTP source.
    reception: Option<ReceptionStats>,
    /// Clock rate used to express arrival times in RTP units.
    clock_rate: u32,
    /// Whether anything changed since the last report.
    dirty: bool,
}

impl StreamCounters {
    pub(crate) fn drop(&mut self, reason: DropReason) {
        if let Some(d) = self.stats.drops.get_mut(reason.index()) {
            *d = d.saturating_add(1);
        }
        if matches!(
            reason,
            DropReason::WrongSource | DropReason::SrtpUnprotect | DropReason::NoKeys
        ) {
            self.stats.traffic.rtp.errors = self.stats.traffic.rtp.errors.saturating_add(1);
        }
        self.dirty = true;
    }

    /// Any datagram from the endpoint (STUN and DTLS included) keeps the call alive.
    pub(crate) fn touch(&mut self, now: Instant) {
        self.stats.traffic.last_packet = Some(now);
        self.dirty = true;
    }

    pub(crate) fn received_rtcp(&mut self, bytes: usize) {
        add(&mut self.stats.traffic.rtcp, bytes);
        self.dirty = true;
    }

    /// Counts an RTP packet from the endpoint and feeds loss/jitter. `epoch` is the worker's time origin.
    pub(crate) fn received_rtp(
        &mut self,
        bytes: usize,
        header: RtpFields,
        clock_rate: u32,
        now: Instant,
        epoch: Instant,
    ) {
        add(&mut self.stats.traffic.rtp, bytes);
        self.dirty = true;
        let fresh_source = self
            .reception
            .as_ref()
            .is_none_or(|r| r.ssrc() != header.ssrc);
        if fresh_source || clock_rate != self.clock_rate {
            self.reception = Some(ReceptionStats::new(header.ssrc));
            self.clock_rate = clock_rate.max(1);
        }
        let elapsed = now.saturating_duration_since(epoch);
        // Wrapping is fine: only differences of arrival times matter.
        let arrival = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000) as u32;
        if let Some(r) = &mut self.reception {
            r.on_packet(header.sequence, header.timestamp, arrival);
        }
    }

    pub(crate) fn sent(&mut self, rtcp: bool) {
        let c = if rtcp {
            &mut self.stats.sent_rtcp
        } else {
            &mut self.stats.sent_rtp
        };
        *c = c.saturating_add(1);
        self.dirty = true;
    }

    pub(crate) fn set_latched(&mut self, latched: Option<std::net::SocketAddr>) {
        self.stats.traffic.latched = latched;
        self.dirty = true;
    }

    pub(crate) fn set_dtls_connected(&mut self) {
        self.stats.dtls_connected = true;
        self.dirty = true;
    }

    /// The statistics to report, if anything changed since the last call.
    pub(crate) fn take_report(&mut self) -> Option<StreamStats> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        if let Some(r) = &self.reception {
            self.stats.traffic.lost = u64::try_from(r.cumulative_lost()).unwrap_or(0);
            let rate = u64::from(self.clock_rate.max(1));
            let micros = u64::from(r.jitter()).saturating_mul(1_000_000) / rate;
            self.stats.traffic.jitter = Some(Duration::from_micros(micros));
        }
        Some(self.stats)
    }
}

fn add(c: &mut Counters, bytes: usize) {
    c.packets = c.packets.saturating_add(1);
    c.bytes = c.bytes.saturating_add(bytes as u64);
}

/// The RTP header fields the statistics need, read without allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RtpFields {
    pub(crate) payload_type: u8,
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
    pub(crate) ssrc: u32,
}

impl RtpFields {
    /// The fixed header of an RTP packet; `None` if shorter than 12 bytes or not version 2.
    pub(crate) fn read(packet: &[u8]) -> Option<Self> {
        let header: &[u8; 12] = packet.get(..12)?.try_into().ok()?;
        if header[0] >> 6 != 2 {
            return None;
        }
        Some(RtpFields {
            payload_type: header[1] & 0x7f,
            sequence: u16::from_be_bytes([header[2], header[3]]),
            timestamp: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            ssrc: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rtp_fields_and_refuses_short_or_wrong_version_headers() {
        let mut p = [0u8; 12];
        p[0] = 0x80;
        p[1] = 0x80 | 101;
        p[2..4].copy_from_slice(&7u16.to_be_bytes());
        p[8..12].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        let f = RtpFields::read(&p).unwrap();
        assert_eq!((f.payload_type, f.sequence, f.ssrc), (101, 7, 0xdead_beef));
        assert!(RtpFields::read(&p[..11]).is_none());
        p[0] = 0x40;
        assert!(RtpFields::read(&p).is_none());
    }

    #[test]
    fn counts_loss_from_sequence_gaps() {
        let epoch = Instant::now();
        let mut c = StreamCounters::default();
        for seq in [1u16, 2, 3, 5, 6] {
            let f = RtpFields {
                payload_type: 0,
                sequence: seq,
                timestamp: u32::from(seq) * 160,
                ssrc: 9,
            };
            c.received_rtp(172, f, 8000, epoch, epoch);
        }
        let report = c.take_report().unwrap();
        assert_eq!(report.traffic.rtp.packets, 5);
        assert_eq!(report.traffic.lost, 1);
        assert!(c.take_report().is_none());
    }
}
