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
    /// Whether ICE consent expired (RFC 7675): the endpoint stopped answering for the consent timeout, and
    /// the relay sends it nothing more until an ICE restart.
    pub consent_expired: bool,
    /// RFC 4733 packets injected towards this stream's endpoint (DTMF injection).
    pub dtmf_packets: u64,
    /// Packets of the call's recording dropped because the recorder's queue was full.
    pub recording_drops: u64,
    /// The fraction of our packets the endpoint last reported lost (RTCP report block, in 1/256).
    pub reported_fraction_lost: Option<u8>,
    /// The cumulative loss the endpoint last reported (RTCP report block).
    pub reported_lost: Option<u32>,
    /// The interarrival jitter the endpoint last reported (RTCP report block).
    pub reported_jitter: Option<Duration>,
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

    /// Takes back a packet counted [`sent`](Self::sent) whose send then failed.
    pub(crate) fn unsent(&mut self, rtcp: bool) {
        let c = if rtcp {
            &mut self.stats.sent_rtcp
        } else {
            &mut self.stats.sent_rtp
        };
        *c = c.saturating_sub(1);
        self.dirty = true;
    }

    pub(crate) fn set_latched(&mut self, latched: Option<std::net::SocketAddr>) {
        self.stats.traffic.latched = latched;
        self.dirty = true;
    }

    pub(crate) fn set_consent_expired(&mut self, expired: bool) {
        self.stats.consent_expired = expired;
        self.dirty = true;
    }

    pub(crate) fn injected_dtmf(&mut self) {
        self.stats.dtmf_packets = self.stats.dtmf_packets.saturating_add(1);
        self.dirty = true;
    }

    pub(crate) fn recording_dropped(&mut self) {
        self.stats.recording_drops = self.stats.recording_drops.saturating_add(1);
        self.dirty = true;
    }

    /// A report block the endpoint sent about what we send it; `rtt` when its LSR matched a sender report
    /// we forwarded. `clock_rate` converts the jitter.
    pub(crate) fn reported(&mut self, block: ReportBlock, clock_rate: u32, rtt: Option<Duration>) {
        self.stats.reported_fraction_lost = Some(block.fraction_lost);
        self.stats.reported_lost = Some(block.cumulative_lost);
        let micros =
            u64::from(block.jitter).saturating_mul(1_000_000) / u64::from(clock_rate.max(1));
        self.stats.reported_jitter = Some(Duration::from_micros(micros));
        if rtt.is_some() {
            self.stats.traffic.rtt = rtt;
        }
        self.dirty = true;
    }

    /// The clock rate of the endpoint's RTP, once seen (8000 before).
    pub(crate) fn clock_rate(&self) -> u32 {
        if self.clock_rate == 0 {
            8000
        } else {
            self.clock_rate
        }
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

/// One RTCP report block (RFC 3550 §6.4.1), the fields the statistics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReportBlock {
    pub(crate) fraction_lost: u8,
    pub(crate) cumulative_lost: u32,
    pub(crate) jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last sender report received (0: none yet).
    pub(crate) lsr: u32,
    /// Delay since that sender report, in 1/65536 s.
    pub(crate) dlsr: u32,
}

/// What a plain (decrypted) RTCP compound packet says that the statistics use, read without allocation.
#[derive(Debug, Default)]
pub(crate) struct RtcpSummary {
    /// Middle 32 bits of the NTP timestamp of a sender report in the packet.
    pub(crate) sender_report: Option<u32>,
    /// The first report block.
    pub(crate) block: Option<ReportBlock>,
}

impl RtcpSummary {
    /// Walks the compound packet; stops at the first malformed header (what came before still counts).
    pub(crate) fn read(mut packet: &[u8]) -> Self {
        let mut out = RtcpSummary::default();
        while let Some(header) = packet.get(..4) {
            if header[0] >> 6 != 2 {
                break;
            }
            let count = usize::from(header[0] & 0x1f);
            let len = (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1) * 4;
            let Some(body) = packet.get(..len) else { break };
            let blocks_at = match header[1] {
                200 => {
                    if let Some(ntp) = body.get(10..14) {
                        out.sender_report =
                            Some(u32::from_be_bytes([ntp[0], ntp[1], ntp[2], ntp[3]]));
                    }
                    28
                }
                201 => 8,
                _ => {
                    packet = packet.get(len..).unwrap_or(&[]);
                    continue;
                }
            };
            if count > 0
                && out.block.is_none()
                && let Some(b) = body.get(blocks_at..blocks_at + 24)
            {
                let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                out.block = Some(ReportBlock {
                    fraction_lost: b[4],
                    cumulative_lost: word(4) & 0x00ff_ffff,
                    jitter: word(12),
                    lsr: word(16),
                    dlsr: word(20),
                });
            }
            packet = packet.get(len..).unwrap_or(&[]);
        }
        out
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

    #[test]
    fn reads_sender_and_receiver_reports_of_a_compound_packet() {
        // SR with one report block, then an SDES chunk that is skipped.
        let mut sr = vec![0x81, 200, 0, 12];
        sr.extend_from_slice(&1u32.to_be_bytes()); // SSRC
        sr.extend_from_slice(&[0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0]); // NTP
        sr.extend_from_slice(&[0; 12]); // RTP timestamp, counts
        sr.extend_from_slice(&2u32.to_be_bytes()); // block: SSRC
        sr.extend_from_slice(&[64, 0, 0, 5]); // fraction, cumulative lost
        sr.extend_from_slice(&100u32.to_be_bytes());
        sr.extend_from_slice(&80u32.to_be_bytes()); // jitter
        sr.extend_from_slice(&0x1234_5678u32.to_be_bytes()); // LSR
        sr.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // DLSR: 1 s
        sr.extend_from_slice(&[0x81, 202, 0, 1, 0, 0, 0, 1]);
        let s = RtcpSummary::read(&sr);
        assert_eq!(s.sender_report, Some(0xaabb_ccdd));
        let b = s.block.unwrap();
        assert_eq!((b.fraction_lost, b.cumulative_lost, b.jitter), (64, 5, 80));
        assert_eq!((b.lsr, b.dlsr), (0x1234_5678, 0x0001_0000));
        // A truncated packet yields what it can, and never panics.
        for cut in 0..sr.len() {
            let _ = RtcpSummary::read(&sr[..cut]);
        }
        assert!(
            RtcpSummary::read(&[0x80, 201, 0, 1, 0, 0, 0, 9])
                .block
                .is_none()
        );
    }
}
