//! Sequence number and timestamp arithmetic across wrap-around (serial number arithmetic, RFC 1982), and
//! extension of 16-bit sequence numbers to 32 bits (the cycle count of RFC 3550 §6.4.1 / A.1).

/// Whether sequence number `a` comes after `b`, allowing for wrap-around: `a` is newer when it is 1 to 32767
/// steps ahead of `b`. Exactly half the space apart, neither is newer.
pub fn seq_is_newer(a: u16, b: u16) -> bool {
    let diff = a.wrapping_sub(b);
    diff != 0 && diff < 0x8000
}

/// Signed distance from `b` to `a` (`a - b`) across wrap-around, in -32768..=32767.
pub fn seq_delta(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

/// Whether RTP timestamp `a` comes after `b`, allowing for wrap-around (1 to 2^31 - 1 ticks ahead).
pub fn timestamp_is_newer(a: u32, b: u32) -> bool {
    let diff = a.wrapping_sub(b);
    diff != 0 && diff < 0x8000_0000
}

/// Signed distance from timestamp `b` to `a` (`a - b`) across wrap-around.
pub fn timestamp_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The 32-bit extended sequence number (cycles in the high 16 bits) whose low 16 bits are `seq` and which is
/// closest to `reference`.
///
/// A packet just before a wrap that arrives after it (`reference` 0x1_0002, `seq` 0xfffe) maps to the previous
/// cycle (0xfffe); one just after a wrap maps to the next cycle. Values before the first cycle are not
/// representable, so a `seq` "behind" a reference in cycle 0 stays in cycle 0.
pub fn extend_seq(reference: u32, seq: u16) -> u32 {
    let delta = seq_delta(seq, reference as u16);
    let candidate = i64::from(reference) + i64::from(delta);
    if candidate < 0 {
        u32::from(seq)
    } else {
        // The u32 itself wraps after 2^32 packets; keep wrapping rather than saturating.
        candidate as u32
    }
}

/// Turns a stream of 16-bit sequence numbers into 32-bit extended ones, tracking the highest seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqExtender {
    highest: Option<u32>,
}

impl SeqExtender {
    /// An extender that has seen no packet yet.
    pub const fn new() -> Self {
        SeqExtender { highest: None }
    }

    /// The extended value of `seq` (see [`extend_seq`]); it becomes the new highest when it is newer.
    pub fn extend(&mut self, seq: u16) -> u32 {
        let Some(highest) = self.highest else {
            self.highest = Some(u32::from(seq));
            return u32::from(seq);
        };
        let extended = extend_seq(highest, seq);
        // Same serial comparison as for timestamps, on the 32-bit extended space.
        if timestamp_is_newer(extended, highest) {
            self.highest = Some(extended);
        }
        extended
    }

    /// The highest extended sequence number seen so far.
    pub fn highest(&self) -> Option<u32> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_sequence_number_across_wrap() {
        assert!(seq_is_newer(1, 0));
        assert!(seq_is_newer(0, 65535));
        assert!(seq_is_newer(5, 65530));
        assert!(!seq_is_newer(65530, 5));
        assert!(!seq_is_newer(7, 7));
        assert!(seq_is_newer(0x7fff, 0));
        assert!(!seq_is_newer(0x8000, 0));
        assert!(!seq_is_newer(0, 0x8000));
    }

    #[test]
    fn signed_sequence_delta_across_wrap() {
        assert_eq!(seq_delta(2, 65534), 4);
        assert_eq!(seq_delta(65534, 2), -4);
        assert_eq!(seq_delta(100, 100), 0);
    }

    #[test]
    fn newer_timestamp_across_wrap() {
        assert!(timestamp_is_newer(160, u32::MAX - 159));
        assert!(!timestamp_is_newer(u32::MAX - 159, 160));
        assert_eq!(timestamp_delta(160, u32::MAX - 159), 320);
        assert_eq!(timestamp_delta(0, 0x8000_0000), i32::MIN);
    }

    #[test]
    fn extends_forward_across_wrap() {
        assert_eq!(extend_seq(0xfffe, 1), 0x1_0001);
        assert_eq!(extend_seq(0x3_fff0, 0x0010), 0x4_0010);
    }

    #[test]
    fn extends_late_packet_into_previous_cycle() {
        assert_eq!(extend_seq(0x1_0002, 0xfffe), 0xfffe);
    }

    #[test]
    fn keeps_cycle_zero_for_packet_behind_first_reference() {
        assert_eq!(extend_seq(3, 0xfff0), 0xfff0);
    }

    #[test]
    fn extender_tracks_highest_through_reordering_and_wrap() {
        let mut x = SeqExtender::new();
        let got: Vec<u32> = [65533u16, 65535, 65534, 0, 2, 1, 65535]
            .into_iter()
            .map(|s| x.extend(s))
            .collect();
        assert_eq!(got, vec![65533, 65535, 65534, 65536, 65538, 65537, 65535]);
        assert_eq!(x.highest(), Some(65538));
    }
}
