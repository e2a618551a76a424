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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;

    /// Feeds `seqs` with 160-tick timestamps arriving exactly on time; returns the checks.
    fn feed(stats: &mut ReceptionStats, seqs: &[u16]) -> Vec<SequenceCheck> {
        seqs.iter()
            .map(|&s| {
                let ts = u32::from(s).wrapping_mul(160);
                stats.on_packet(s, ts, ts)
            })
            .collect()
    }

    /// Expected loss figures computed straight from the definitions: distinct extended sequence numbers
    /// between first and highest, against the number of packets counted.
    fn expected_loss(extended: &[u32]) -> (u32, i64) {
        let first = *extended.first().unwrap();
        let highest = *extended.iter().max().unwrap();
        let expected = highest - first + 1;
        (expected, i64::from(expected) - extended.len() as i64)
    }

    #[test]
    fn first_packet_is_on_probation_and_second_validates_the_source() {
        let mut stats = ReceptionStats::new(1);
        let checks = feed(&mut stats, &[500, 501, 502]);
        assert_eq!(checks[0], SequenceCheck::Probation);
        assert_eq!(checks[1], SequenceCheck::Valid { extended_seq: 501 });
        assert_eq!(checks[2], SequenceCheck::Valid { extended_seq: 502 });
        // RFC 3550 A.1 restarts the counts at the packet that ends probation.
        assert_eq!(stats.expected(), 2);
        assert_eq!(stats.received(), 2);
    }

    #[test]
    fn non_sequential_packet_restarts_probation() {
        let mut stats = ReceptionStats::new(1);
        let checks = feed(&mut stats, &[10, 12, 13]);
        assert_eq!(
            checks,
            vec![
                SequenceCheck::Probation,
                SequenceCheck::Probation,
                SequenceCheck::Valid { extended_seq: 13 }
            ]
        );
        assert!(stats.report_block(Instant::now()).is_some());
    }

    #[test]
    fn probation_completes_across_wrap() {
        let mut stats = ReceptionStats::new(1);
        let checks = feed(&mut stats, &[65535, 0]);
        assert_eq!(checks[1], SequenceCheck::Valid { extended_seq: 0 });
    }

    #[test]
    fn has_no_report_block_while_on_probation() {
        let mut stats = ReceptionStats::new(1);
        feed(&mut stats, &[7]);
        assert!(!stats.is_valid());
        assert_eq!(stats.report_block(Instant::now()), None);
    }

    #[test]
    fn without_probation_first_packet_counts() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        assert_eq!(
            feed(&mut stats, &[0]),
            vec![SequenceCheck::Valid { extended_seq: 0 }]
        );
        assert_eq!((stats.expected(), stats.received()), (1, 1));
    }

    #[test]
    fn counts_losses_and_fraction_per_interval() {
        let mut stats = ReceptionStats::with_probation(7, 0);
        let lost: BTreeSet<u16> = [105, 110, 111].into();
        let first: Vec<u16> = (100..=120).filter(|s| !lost.contains(s)).collect();
        feed(&mut stats, &first);
        let extended: Vec<u32> = first.iter().map(|&s| u32::from(s)).collect();
        let (expected, cumulative) = expected_loss(&extended);
        let block = stats.report_block(Instant::now()).unwrap();
        assert_eq!(block.ssrc, 7);
        assert_eq!(block.extended_highest_seq, 120);
        assert_eq!(i64::from(block.cumulative_lost), cumulative);
        assert_eq!(
            u32::from(block.fraction_lost),
            (cumulative as u32 * 256) / expected
        );

        // Second interval: 121..=130 with 125 lost; the fraction only covers this interval.
        let second: Vec<u16> = (121..=130).filter(|&s| s != 125).collect();
        feed(&mut stats, &second);
        let block = stats.report_block(Instant::now()).unwrap();
        assert_eq!(u32::from(block.fraction_lost), 256 / 10);
        assert_eq!(i64::from(block.cumulative_lost), cumulative + 1);

        // No packet since: nothing expected, nothing lost in the interval.
        let block = stats.report_block(Instant::now()).unwrap();
        assert_eq!(block.fraction_lost, 0);
    }

    #[test]
    fn extends_highest_sequence_across_wrap_with_loss() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        let seqs: Vec<u16> = (65530..=65535).chain(0..=5).filter(|&s| s != 1).collect();
        let checks = feed(&mut stats, &seqs);
        assert_eq!(
            checks.last(),
            Some(&SequenceCheck::Valid {
                extended_seq: 65536 + 5
            })
        );
        assert_eq!(stats.extended_highest_seq(), 65536 + 5);
        assert_eq!(stats.expected(), 12);
        assert_eq!(stats.cumulative_lost(), 1);
    }

    #[test]
    fn reordered_packets_are_not_lost() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        let checks = feed(&mut stats, &[1, 2, 4, 3, 5]);
        assert_eq!(checks[3], SequenceCheck::Valid { extended_seq: 3 });
        let block = stats.report_block(Instant::now()).unwrap();
        assert_eq!((block.cumulative_lost, block.fraction_lost), (0, 0));
        assert_eq!(block.extended_highest_seq, 5);
    }

    #[test]
    fn late_packet_across_wrap_gets_previous_cycle() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        let checks = feed(&mut stats, &[65534, 0, 65535, 1]);
        assert_eq!(
            checks[2],
            SequenceCheck::Valid {
                extended_seq: 65535
            }
        );
        assert_eq!(stats.extended_highest_seq(), 65537);
        assert_eq!(stats.cumulative_lost(), 0);
    }

    #[test]
    fn duplicates_make_loss_negative() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        feed(&mut stats, &[1, 2, 2, 3, 3]);
        assert_eq!(stats.cumulative_lost(), -2);
        assert_eq!(stats.report_block(Instant::now()).unwrap().fraction_lost, 0);
    }

    #[test]
    fn single_jump_is_held_and_stats_continue() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        let checks = feed(&mut stats, &[100, 101, 10_000, 102]);
        assert_eq!(checks[2], SequenceCheck::Jump);
        assert_eq!(checks[3], SequenceCheck::Valid { extended_seq: 102 });
        assert_eq!((stats.expected(), stats.received()), (3, 3));
    }

    #[test]
    fn two_sequential_packets_after_jump_restart_the_source() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        let checks = feed(&mut stats, &[100, 101, 10_000, 10_001, 10_002]);
        assert_eq!(checks[2], SequenceCheck::Jump);
        assert_eq!(
            checks[3],
            SequenceCheck::Restarted {
                extended_seq: 10_001
            }
        );
        assert_eq!(
            checks[4],
            SequenceCheck::Valid {
                extended_seq: 10_002
            }
        );
        assert_eq!((stats.expected(), stats.received()), (2, 2));
    }

    #[test]
    fn packet_too_far_behind_is_a_jump() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        // RFC 3550 A.1: a step back of MAX_MISORDER or more (udelta <= 2^16 - MAX_MISORDER) is a jump.
        let checks = feed(&mut stats, &[1000, 1000 - MAX_MISORDER]);
        assert_eq!(checks[1], SequenceCheck::Jump);
        let mut stats = ReceptionStats::with_probation(1, 0);
        let late = 1000 - MAX_MISORDER + 1;
        let checks = feed(&mut stats, &[1000, late]);
        assert_eq!(
            checks[1],
            SequenceCheck::Valid {
                extended_seq: u32::from(late)
            }
        );
    }

    #[test]
    fn forward_gap_at_max_dropout_is_a_jump() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        let checks = feed(&mut stats, &[0, MAX_DROPOUT - 1, 2 * MAX_DROPOUT - 1]);
        assert_eq!(
            checks[1],
            SequenceCheck::Valid {
                extended_seq: u32::from(MAX_DROPOUT - 1)
            }
        );
        assert_eq!(checks[2], SequenceCheck::Jump);
    }

    #[test]
    fn constant_transit_gives_zero_jitter() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        for i in 0..50u32 {
            stats.on_packet(i as u16, i * 160, i * 160 + 12_345);
        }
        assert_eq!(stats.jitter(), 0);
    }

    #[test]
    fn jitter_follows_the_rfc_estimator() {
        // Arrival delays from a small deterministic generator; the reference uses the floating-point form of
        // RFC 3550 §6.4.1, J += (|D| - J) / 16.
        let mut stats = ReceptionStats::with_probation(1, 0);
        let mut state = 0x2545_f491u32;
        let mut reference = 0.0f64;
        let mut previous_transit: Option<i64> = None;
        for i in 0..500u32 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let delay = state % 400;
            let ts = 1_000_000 + i * 160;
            let arrival = ts.wrapping_add(50_000 + delay);
            stats.on_packet(i as u16, ts, arrival);
            let transit = i64::from(arrival) - i64::from(ts);
            if let Some(p) = previous_transit {
                reference += ((transit - p).abs() as f64 - reference) / 16.0;
            }
            previous_transit = Some(transit);
        }
        let got = f64::from(stats.jitter());
        assert!(
            (got - reference).abs() <= 1.0,
            "jitter {got}, reference {reference}"
        );
        assert!(reference > 50.0, "the generator should produce jitter");
    }

    #[test]
    fn jitter_of_alternating_delay_converges_geometrically() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        let n = 30u32;
        for i in 0..n {
            let ts = i * 160;
            stats.on_packet(i as u16, ts, ts + if i % 2 == 0 { 0 } else { 80 });
        }
        // Every |D| is 80, so after n - 1 differences J = 80 (1 - (15/16)^(n-1)).
        let expected = 80.0 * (1.0 - (15.0f64 / 16.0).powi(n as i32 - 1));
        assert!((f64::from(stats.jitter()) - expected).abs() <= 1.0);
    }

    #[test]
    fn jitter_ignores_timestamp_and_arrival_wrap() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        for i in 0..20u32 {
            let ts = (u32::MAX - 1000).wrapping_add(i * 160);
            stats.on_packet(i as u16, ts, ts.wrapping_add(5));
        }
        assert_eq!(stats.jitter(), 0);
    }

    #[test]
    fn report_block_carries_lsr_and_dlsr() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        feed(&mut stats, &[1]);
        let t0 = Instant::now();
        let ntp = NtpTime(0x1234_5678_9abc_def0);
        stats.on_sender_report(ntp, t0);
        let block = stats
            .report_block(t0 + Duration::from_millis(1500))
            .unwrap();
        assert_eq!(block.last_sr, 0x5678_9abc);
        assert_eq!(block.delay_since_last_sr, 3 * 65_536 / 2);
    }

    #[test]
    fn report_block_without_sender_report_has_zero_lsr() {
        let mut stats = ReceptionStats::with_probation(1, 0);
        feed(&mut stats, &[1]);
        let block = stats.report_block(Instant::now()).unwrap();
        assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
    }
}
