//! Per-source reception statistics (RFC 3550 A.1, A.3, A.8): sequence validation with probation, extended
//! highest sequence number, loss, interarrival jitter, and the report block they produce.

use std::time::Instant;

use super::seq::extend_seq;
use crate::rtcp::{MAX_CUMULATIVE_LOST, MIN_CUMULATIVE_LOST, NtpTime, ReportBlock};

/// Largest forward jump still taken as the same sequence (RFC 3550 A.1 `MAX_DROPOUT`).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward step still taken as reordering (RFC 3550 A.1 `MAX_MISORDER`).
pub const MAX_MISORDER: u16 = 100;
/// Sequential packets needed before a new source is valid (RFC 3550 A.1 `MIN_SEQUENTIAL`).
pub const MIN_SEQUENTIAL: u8 = 2;

/// What [`ReceptionStats::on_packet`] concluded about a packet's sequence number.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SequenceCheck {
    /// The packet counts: in order, after a gap, late or duplicate. `extended_seq` is its 32-bit number.
    Valid {
        /// The packet's extended sequence number.
        extended_seq: u32,
    },
    /// The source is still on probation (not enough sequential packets yet); the packet is not counted.
    Probation,
    /// A jump too large to be loss or reordering; the packet is not counted. If the next packet follows it,
    /// the source is taken to have restarted.
    Jump,
    /// The packet confirmed a jump: the source restarted its numbering and the statistics started over from
    /// this packet, which counts.
    Restarted {
        /// The packet's extended sequence number in the new numbering.
        extended_seq: u32,
    },
}

/// Reception statistics for one synchronization source, fed each packet's sequence number, RTP timestamp and
/// arrival time.
///
/// ```
/// use std::time::Instant;
/// use tandem_rtp_core::rtp::{ReceptionStats, SequenceCheck};
///
/// let mut stats = ReceptionStats::new(0x1234);
/// // Sequence 10, 11, 13 (12 lost); 160 samples per packet at 8 kHz, arriving on time.
/// for (seq, ts) in [(10u16, 0u32), (11, 160), (13, 480)] {
///     stats.on_packet(seq, ts, ts + 1_000);
/// }
/// let block = stats.report_block(Instant::now()).unwrap();
/// assert_eq!(block.extended_highest_seq, 13);
/// assert_eq!(block.cumulative_lost, 1);
/// ```
#[derive(Debug, Clone)]
pub struct ReceptionStats {
    ssrc: u32,
    started: bool,
    min_sequential: u8,
    probation: u8,
    max_seq: u16,
    /// Sequence number wraps, shifted left 16 (RFC 3550's `cycles`).
    cycles: u32,
    base_seq: u32,
    /// The sequence number that would confirm a restart after a jump.
    bad_seq: Option<u16>,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous counted packet, in RTP units.
    transit: Option<u32>,
    /// Interarrival jitter scaled by 16 (the integer form of RFC 3550 A.8).
    jitter_x16: u64,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl ReceptionStats {
    /// Statistics for `ssrc` with the RFC's probation of [`MIN_SEQUENTIAL`] packets.
    pub fn new(ssrc: u32) -> Self {
        Self::with_probation(ssrc, MIN_SEQUENTIAL)
    }

    /// Statistics for `ssrc` needing `min_sequential` sequential packets before the source is valid. 0 or 1
    /// make the first packet valid (for a source already authenticated, e.g. by SRTP).
    pub fn with_probation(ssrc: u32, min_sequential: u8) -> Self {
        ReceptionStats {
            ssrc,
            started: false,
            min_sequential,
            probation: min_sequential,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_x16: 0,
            last_sr: None,
        }
    }

    /// Accounts for one received packet. `arrival` is the arrival time converted to the stream's RTP clock
    /// (any origin; only differences matter).
    pub fn on_packet(&mut self, seq: u16, rtp_timestamp: u32, arrival: u32) -> SequenceCheck {
        let check = self.update_seq(seq);
        match check {
            SequenceCheck::Valid { .. } => self.update_jitter(rtp_timestamp, arrival),
            SequenceCheck::Restarted { .. } => {
                self.transit = None;
                self.update_jitter(rtp_timestamp, arrival);
            }
            SequenceCheck::Probation | SequenceCheck::Jump => {}
        }
        check
    }

    /// Notes a sender report from this source, received at `now`, for the LSR/DLSR of the next report block.
    pub fn on_sender_report(&mut self, ntp_time: NtpTime, now: Instant) {
        self.last_sr = Some((ntp_time.middle_32(), now));
    }

    /// The next report block for this source, or `None` before the source is valid. Starts a new interval for
    /// the fraction lost, so call it once per report sent.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        if !self.is_valid() {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (
                lsr,
                crate::rtcp::to_1_65536_secs(now.saturating_duration_since(at)),
            ),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost(),
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }

    /// The source this is about.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Whether the source passed probation and has counted packets.
    pub fn is_valid(&self) -> bool {
        self.started && self.probation == 0
    }

    /// The highest sequence number received, extended with the wrap count.
    pub fn extended_highest_seq(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected since the source became valid (highest − first + 1).
    pub fn expected(&self) -> u32 {
        if !self.is_valid() {
            return 0;
        }
        self.extended_highest_seq()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Packets counted since the source became valid, duplicates included.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Expected minus received, clamped to the report block's signed 24 bits (negative with duplicates).
    pub fn cumulative_lost(&self) -> i32 {
        let lost = i64::from(self.expected()) - i64::from(self.received);
        lost.clamp(
            i64::from(MIN_CUMULATIVE_LOST),
            i64::from(MAX_CUMULATIVE_LOST),
        ) as i32
    }

    /// Interarrival jitter in RTP timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_x16 >> 4).unwrap_or(u32::MAX)
    }

    /// RFC 3550 A.1 `init_seq`.
    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = None;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 `update_seq`, with the first packet's setup folded in.
    fn update_seq(&mut self, seq: u16) -> SequenceCheck {
        if !self.started {
            self.started = true;
            self.init_seq(seq);
            if self.probation <= 1 {
                self.probation = 0;
                self.received = 1;
                return self.valid(seq);
            }
            // The first packet counts as the first of the sequential run.
            self.probation -= 1;
            return SequenceCheck::Probation;
        }
        if self.probation > 0 {
            return self.on_probation(seq);
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if udelta <= u16::MAX - MAX_MISORDER + 1 {
            return self.on_jump(seq);
        }
        // Otherwise a duplicate or reordered packet: counted, highest unchanged.
        self.received = self.received.wrapping_add(1);
        self.valid(seq)
    }

    fn on_probation(&mut self, seq: u16) -> SequenceCheck {
        if seq == self.max_seq.wrapping_add(1) {
            self.probation -= 1;
            self.max_seq = seq;
            if self.probation == 0 {
                self.init_seq(seq);
                self.received = 1;
                return self.valid(seq);
            }
        } else {
            self.probation = self.min_sequential - 1;
            self.max_seq = seq;
        }
        SequenceCheck::Probation
    }

    fn on_jump(&mut self, seq: u16) -> SequenceCheck {
        if self.bad_seq == Some(seq) {
            // Two sequential packets after a jump: the sender restarted without telling us.
            self.init_seq(seq);
            self.received = 1;
            return SequenceCheck::Restarted {
                extended_seq: u32::from(seq),
            };
        }
        self.bad_seq = Some(seq.wrapping_add(1));
        SequenceCheck::Jump
    }

    fn valid(&self, seq: u16) -> SequenceCheck {
        SequenceCheck::Valid {
            extended_seq: extend_seq(self.extended_highest_seq(), seq),
        }
    }

    /// RFC 3550 A.8: J += (|D| − J) / 16, kept scaled by 16 in integers.
    fn update_jitter(&mut self, rtp_timestamp: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.transit {
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            self.jitter_x16 = (self.jitter_x16 + d).saturating_sub((self.jitter_x16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }
}
