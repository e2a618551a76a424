//! Replay protection (RFC 3711 §3.3.2): a sliding window of recently accepted packet indices.

use super::SrtpError;

/// A replay window over packet indices (48-bit SRTP or 31-bit SRTCP indices).
///
/// The window remembers which of the `size` indices up to the highest accepted one were seen.
/// It is a ring of bits: bit `index % capacity` stands for `index` (capacity is `size` rounded
/// up to a power of two, so that is a mask, not a division), and moving the top forward clears
/// the bits of the indices it skips, so an accepted packet costs a few word operations and never
/// a shift of the whole bitmap nor an allocation. The bitmap is allocated once, here.
///
/// Use [`ReplayWindow::check`] before authenticating a packet and [`ReplayWindow::accept`] only
/// after, so that forged packets cannot move the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    bits: Box<[u64]>,
    size: u64,
    highest: Option<u64>,
}

impl ReplayWindow {
    /// The RFC 3711 §3.3.2 minimum is 64; 128 tolerates more reordering at no cost.
    pub const DEFAULT_SIZE: usize = 128;
    /// Largest window accepted (as libsrtp).
    pub const MAX_SIZE: usize = 32_768;

    /// A window remembering the last `size` indices, `1..=32768`.
    pub fn new(size: usize) -> Result<Self, SrtpError> {
        if !(1..=Self::MAX_SIZE).contains(&size) {
            return Err(SrtpError::ReplayWindowSize { size });
        }
        Ok(ReplayWindow {
            bits: vec![0; size.div_ceil(64).next_power_of_two()].into_boxed_slice(),
            size: size as u64,
            highest: None,
        })
    }

    /// How many indices up to the highest one the window remembers.
    pub fn size(&self) -> usize {
        self.size as usize
    }

    /// The highest index accepted so far, if any.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Whether `index` may be accepted: new, or inside the window and not yet seen.
    pub fn check(&self, index: u64) -> Result<(), SrtpError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if index > highest {
            return Ok(());
        }
        if highest - index >= self.size {
            return Err(SrtpError::TooOld { index });
        }
        if self.is_set(index) {
            return Err(SrtpError::Replayed { index });
        }
        Ok(())
    }

    /// Records `index` as received; call only after the packet authenticated and
    /// [`ReplayWindow::check`] passed.
    pub fn accept(&mut self, index: u64) {
        match self.highest {
            None => {
                self.bits.fill(0);
                self.highest = Some(index);
            }
            // In order: the only bit to clear is the new index's own, which `set` sets anyway.
            Some(highest) if index == highest.wrapping_add(1) => {
                self.highest = Some(index);
            }
            Some(highest) if index > highest => {
                self.clear_after(highest, index);
                self.highest = Some(index);
            }
            Some(_) => {}
        }
        self.set(index);
    }

    /// Forgets every index, as for a new stream.
    pub fn reset(&mut self) {
        self.bits.fill(0);
        self.highest = None;
    }

    fn capacity(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn position(&self, index: u64) -> (usize, u64) {
        let bit = index & (self.capacity() - 1);
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn is_set(&self, index: u64) -> bool {
        let (word, mask) = self.position(index);
        self.bits.get(word).is_some_and(|bits| bits & mask != 0)
    }

    fn set(&mut self, index: u64) {
        let (word, mask) = self.position(index);
        if let Some(bits) = self.bits.get_mut(word) {
            *bits |= mask;
        }
    }

    /// Clears the bits of indices `old_highest + 1 ..= new_highest`, which the ring reuses.
    fn clear_after(&mut self, old_highest: u64, new_highest: u64) {
        let capacity = self.capacity();
        let ring_mask = capacity - 1;
        if new_highest - old_highest >= capacity {
            self.bits.fill(0);
            return;
        }
        let mut index = old_highest + 1;
        while index <= new_highest {
            let bit = index & ring_mask;
            let in_word = (64 - bit % 64).min(new_highest - index + 1);
            let mask = if in_word == 64 {
                u64::MAX
            } else {
                ((1u64 << in_word) - 1) << (bit % 64)
            };
            if let Some(bits) = self.bits.get_mut((bit / 64) as usize) {
                *bits &= !mask;
            }
            index += in_word;
        }
    }
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            bits: vec![0; Self::DEFAULT_SIZE / 64].into_boxed_slice(),
            size: Self::DEFAULT_SIZE as u64,
            highest: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(window: &mut ReplayWindow, index: u64) -> Result<(), SrtpError> {
        window.check(index)?;
        window.accept(index);
        Ok(())
    }

    #[test]
    fn accepts_in_order_and_rejects_a_replayed_index() {
        let mut window = ReplayWindow::default();
        for index in 1000..1300 {
            receive(&mut window, index).unwrap();
        }
        assert_eq!(
            receive(&mut window, 1299),
            Err(SrtpError::Replayed { index: 1299 })
        );
        assert_eq!(
            receive(&mut window, 1200),
            Err(SrtpError::Replayed { index: 1200 })
        );
    }

    #[test]
    fn accepts_reordered_packets_inside_the_window_once() {
        let mut window = ReplayWindow::default();
        receive(&mut window, 500).unwrap();
        receive(&mut window, 450).unwrap();
        receive(&mut window, 373).unwrap(); // 500 - 127: the oldest index still in the window
        assert_eq!(
            receive(&mut window, 450),
            Err(SrtpError::Replayed { index: 450 })
        );
        assert_eq!(
            receive(&mut window, 373),
            Err(SrtpError::Replayed { index: 373 })
        );
        receive(&mut window, 499).unwrap();
    }

    #[test]
    fn rejects_indices_older_than_the_window() {
        let mut window = ReplayWindow::new(64).unwrap();
        receive(&mut window, 1000).unwrap();
        assert_eq!(
            receive(&mut window, 936),
            Err(SrtpError::TooOld { index: 936 })
        );
        receive(&mut window, 937).unwrap();
    }

    #[test]
    fn a_jump_forward_forgets_the_bits_it_skips() {
        let mut window = ReplayWindow::new(128).unwrap();
        for index in 0..128 {
            receive(&mut window, index).unwrap();
        }
        // Index 128 + 64 reuses the ring positions of 0..=64; those indices are now too old, and
        // the fresh ones in between must not look replayed.
        receive(&mut window, 192).unwrap();
        for index in 129..192 {
            receive(&mut window, index).unwrap();
        }
        assert_eq!(
            receive(&mut window, 64),
            Err(SrtpError::TooOld { index: 64 })
        );
        assert_eq!(
            receive(&mut window, 127),
            Err(SrtpError::Replayed { index: 127 })
        );
    }

    #[test]
    fn a_jump_past_the_whole_ring_clears_it() {
        let mut window = ReplayWindow::new(100).unwrap();
        for index in 0..100 {
            receive(&mut window, index).unwrap();
        }
        receive(&mut window, 1_000_000).unwrap();
        for index in 999_901..1_000_000 {
            receive(&mut window, index).unwrap();
        }
        assert_eq!(
            receive(&mut window, 999_900),
            Err(SrtpError::TooOld { index: 999_900 })
        );
    }

    #[test]
    fn checking_does_not_move_the_window() {
        let mut window = ReplayWindow::default();
        receive(&mut window, 10).unwrap();
        window.check(5000).unwrap();
        assert_eq!(window.highest(), Some(10));
        receive(&mut window, 9).unwrap();
    }

    #[test]
    fn refuses_sizes_outside_the_supported_range() {
        assert_eq!(
            ReplayWindow::new(0),
            Err(SrtpError::ReplayWindowSize { size: 0 })
        );
        assert!(ReplayWindow::new(32_769).is_err());
        assert_eq!(ReplayWindow::new(32_768).unwrap().size(), 32_768);
    }

    #[test]
    fn a_window_not_a_multiple_of_64_still_spans_exactly_its_size() {
        let mut window = ReplayWindow::new(70).unwrap();
        receive(&mut window, 200).unwrap();
        receive(&mut window, 131).unwrap();
        assert_eq!(
            receive(&mut window, 130),
            Err(SrtpError::TooOld { index: 130 })
        );
    }
}
