//! Reception report blocks (RFC 3550 §6.4.1), shared by SR and RR, and the NTP timestamps they refer to.

use std::time::Duration;

/// Length of one report block on the wire.
pub(crate) const REPORT_BLOCK_LEN: usize = 24;

/// Largest cumulative loss a report block can carry (signed 24 bits).
pub const MAX_CUMULATIVE_LOST: i32 = 0x7f_ffff;
/// Smallest cumulative loss a report block can carry (signed 24 bits; negative after duplicates).
pub const MIN_CUMULATIVE_LOST: i32 = -0x80_0000;

/// A 64-bit NTP timestamp: seconds since 1900 in the high 32 bits, fraction in the low 32 bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
    pub const UNIX_EPOCH_OFFSET_SECS: u64 = 2_208_988_800;

    /// The NTP time of `since_unix_epoch` (e.g. `SystemTime::now().duration_since(UNIX_EPOCH)`, taken by the
    /// caller). Wraps in 2036 like the wire format.
    pub fn from_unix(since_unix_epoch: Duration) -> Self {
        let secs = since_unix_epoch
            .as_secs()
            .wrapping_add(Self::UNIX_EPOCH_OFFSET_SECS);
        let frac = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits (16.16 fixed point seconds), as carried in LSR and used for round-trip time.
    pub fn middle_32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// Converts a duration to units of 1/65536 s (the DLSR unit), saturating at `u32::MAX`.
pub(crate) fn to_1_65536_secs(d: Duration) -> u32 {
    let units = d.as_nanos().saturating_mul(65_536) / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// One reception report block: what a receiver says about one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since reception began (signed 24 bits; written clamped to
    /// [`MIN_CUMULATIVE_LOST`]..=[`MAX_CUMULATIVE_LOST`]).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub extended_highest_seq: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR from this source (0 when none).
    pub last_sr: u32,
    /// Delay since that SR was received, in 1/65536 s (0 when none).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    pub(crate) fn read(b: &[u8; REPORT_BLOCK_LEN]) -> Self {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        // Sign-extend the 24-bit cumulative loss by shifting it into the top of an i32 and back.
        let cumulative_lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
        ReportBlock {
            ssrc: word(0),
            fraction_lost: b[4],
            cumulative_lost,
            extended_highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        }
    }

    pub(crate) fn encode(&self) -> [u8; REPORT_BLOCK_LEN] {
        let lost = self
            .cumulative_lost
            .clamp(MIN_CUMULATIVE_LOST, MAX_CUMULATIVE_LOST)
            .to_be_bytes();
        let mut out = [0u8; REPORT_BLOCK_LEN];
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4] = self.fraction_lost;
        out[5..8].copy_from_slice(&lost[1..4]);
        out[8..12].copy_from_slice(&self.extended_highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
        out
    }

    /// Round-trip time to the reporter (RFC 3550 §6.4.1: arrival − LSR − DLSR), given when this block arrived.
    /// `None` when the reporter has not received an SR yet or the result is negative (clock mismatch).
    pub fn round_trip_time(&self, arrival: NtpTime) -> Option<Duration> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = arrival
            .middle_32()
            .wrapping_sub(self.last_sr)
            .wrapping_sub(self.delay_since_last_sr);
        if rtt >= 0x8000_0000 {
            return None;
        }
        Some(Duration::from_nanos(
            u64::from(rtt) * 1_000_000_000 / 65_536,
        ))
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    blocks: std::slice::Iter<'a, [u8; REPORT_BLOCK_LEN]>,
}

impl<'a> ReportBlocks<'a> {
    /// Blocks from `bytes`, a whole number of 24-byte blocks (a trailing partial block is ignored).
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        ReportBlocks {
            blocks: bytes.as_chunks::<REPORT_BLOCK_LEN>().0.iter(),
        }
    }
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        self.blocks.next().map(ReportBlock::read)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.blocks.size_hint()
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_extends_negative_cumulative_loss() {
        let mut b = [0u8; 24];
        b[5..8].copy_from_slice(&[0xff, 0xff, 0xfe]);
        assert_eq!(ReportBlock::read(&b).cumulative_lost, -2);
        b[5..8].copy_from_slice(&[0x80, 0, 0]);
        assert_eq!(ReportBlock::read(&b).cumulative_lost, MIN_CUMULATIVE_LOST);
    }

    #[test]
    fn clamps_cumulative_loss_to_24_bits_when_encoding() {
        let block = ReportBlock {
            cumulative_lost: 0x0100_0000,
            ..ReportBlock::default()
        };
        assert_eq!(&block.encode()[5..8], &[0x7f, 0xff, 0xff]);
        let block = ReportBlock {
            cumulative_lost: -0x0100_0000,
            ..ReportBlock::default()
        };
        assert_eq!(&block.encode()[5..8], &[0x80, 0, 0]);
    }

    #[test]
    fn converts_unix_time_to_ntp() {
        // 1 s and 0.5 s after the Unix epoch.
        let t = NtpTime::from_unix(Duration::from_millis(1500));
        assert_eq!(t.0 >> 32, NtpTime::UNIX_EPOCH_OFFSET_SECS + 1);
        assert_eq!(t.0 & 0xffff_ffff, 0x8000_0000);
        assert_eq!(
            t.middle_32(),
            (((NtpTime::UNIX_EPOCH_OFFSET_SECS + 1) as u32) << 16) | 0x8000
        );
    }

    #[test]
    fn computes_round_trip_time_from_rfc3550_example() {
        // RFC 3550 §6.4.1 figure: A = 0xb710:8000 (46864.5 s), LSR = 0xb705:2000 (46853.125 s),
        // DLSR = 0x0005:4000 (5.25 s), so the round trip is 6.125 s.
        let block = ReportBlock {
            last_sr: 0xb705_2000,
            delay_since_last_sr: 0x0005_4000,
            ..ReportBlock::default()
        };
        let arrival = NtpTime(0xb710_8000u64 << 16);
        assert_eq!(
            block.round_trip_time(arrival),
            Some(Duration::from_millis(6125))
        );
    }

    #[test]
    fn has_no_round_trip_time_without_sender_report() {
        assert_eq!(
            ReportBlock::default().round_trip_time(NtpTime(1 << 40)),
            None
        );
    }

    #[test]
    fn dlsr_units_are_1_65536_seconds() {
        assert_eq!(to_1_65536_secs(Duration::from_millis(5250)), 0x0005_4000);
        assert_eq!(to_1_65536_secs(Duration::from_secs(1 << 20)), u32::MAX);
    }
}
