//! The relay's UDP ports: RTP/RTCP pairs (even RTP port, RTCP on the next odd one) handed out and taken back
//! in O(1).

use std::collections::VecDeque;
use std::fmt;
use std::ops::RangeInclusive;

use super::SessionError;

/// An RTP port and the RTCP port beside it (RFC 3550 §11: RTP on an even port, RTCP on the next).
///
/// A leg that muxes RTCP (RFC 5761) only listens on [`PortPair::rtp`]; the odd port stays reserved for it
/// anyway, so a later re-offer can turn rtcp-mux off without moving the leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortPair {
    rtp: u16,
}

impl PortPair {
    /// The (even) RTP port.
    pub const fn rtp(self) -> u16 {
        self.rtp
    }

    /// The RTCP port: the RTP port + 1.
    pub const fn rtcp(self) -> u16 {
        self.rtp + 1
    }
}

impl fmt::Display for PortPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.rtp, self.rtcp())
    }
}

/// What claims a pair's ports from the operating system when the pool hands the pair out, so that a pair
/// another process (or another relay) holds is skipped, as rtpengine skips ports it cannot bind.
///
/// The session core stays sans-IO: the driver supplies this (the data plane binds both UDP sockets and
/// keeps them for the worker that serves the stream), the pool only asks.
pub trait PortClaim: Send + fmt::Debug {
    /// Tries to take both ports of `pair` (RTP and RTCP); `false` makes the pool skip the pair.
    fn claim(&mut self, pair: PortPair) -> bool;
    /// `pair`, claimed earlier, went back to the pool: let its ports go.
    fn release(&mut self, pair: PortPair);
}

/// A pool of [`PortPair`]s inside a port range (30000–40000 by default, as rtpengine).
///
/// Allocation takes the pair freed longest ago (a FIFO), so a port just released is not handed to the next
/// call while stray packets of the old one may still arrive. Allocation and release are O(1); the pool uses
/// one `u16` and one bit per pair.
///
/// ```
/// use tandem_media_bridge::session::PortPool;
/// let mut pool = PortPool::new(30000..=30003)?;
/// let a = pool.allocate()?;
/// let b = pool.allocate()?;
/// assert_eq!((a.rtp(), a.rtcp(), b.rtp()), (30000, 30001, 30002));
/// assert!(pool.allocate().is_err()); // exhausted
/// assert!(pool.free(a));
/// assert_eq!(pool.allocate()?, a);
/// # Ok::<(), tandem_media_bridge::session::SessionError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PortPool {
    first: u16,
    pairs: usize,
    free: VecDeque<u16>,
    /// One bit per pair, set while allocated: catches double frees and foreign pairs.
    allocated: Vec<u64>,
    /// Pairs [`PortPool::allocate_claimed`] skipped because they could not be claimed.
    skipped: u64,
}

impl PortPool {
    /// The default range, as rtpengine and the reference stack use.
    pub const DEFAULT_RANGE: RangeInclusive<u16> = 30000..=40000;

    /// A pool of every even/odd pair inside `range` (the first even port at or above its start, up to an odd
    /// port at or below its end). Port 0 is never used. Fails if the range holds no pair.
    pub fn new(range: RangeInclusive<u16>) -> Result<Self, SessionError> {
        let (start, end) = (*range.start(), *range.end());
        let low = start.max(2);
        let first = if low % 2 == 0 {
            Some(low)
        } else {
            low.checked_add(1)
        };
        let pairs = match first {
            Some(first) if end > first => usize::from(end - first + 1) / 2,
            _ => 0,
        };
        let Some(first) = first.filter(|_| pairs > 0) else {
            return Err(SessionError::InvalidPortRange { start, end });
        };
        let free = (0..pairs)
            .filter_map(|i| u16::try_from(i * 2).ok())
            .map(|offset| first + offset)
            .collect();
        Ok(PortPool {
            first,
            pairs,
            free,
            allocated: vec![0; pairs.div_ceil(64)],
            skipped: 0,
        })
    }

    /// Takes a free pair, or fails with [`SessionError::PortsExhausted`].
    pub fn allocate(&mut self) -> Result<PortPair, SessionError> {
        let rtp = self
            .free
            .pop_front()
            .ok_or(SessionError::PortsExhausted { pairs: self.pairs })?;
        let pair = PortPair { rtp };
        self.set_allocated(pair, true);
        Ok(pair)
    }

    /// Takes the first free pair that `claim` accepts (see [`PortClaim`]). A refused pair stays free but
    /// goes to the back of the queue (whoever holds it may let it go later) and is counted in
    /// [`PortPool::skipped`]. Every free pair is tried at most once; when none can be claimed, fails with
    /// [`SessionError::PortsExhausted`].
    pub fn allocate_claimed(
        &mut self,
        claim: &mut dyn FnMut(PortPair) -> bool,
    ) -> Result<PortPair, SessionError> {
        for _ in 0..self.free.len() {
            let Some(rtp) = self.free.pop_front() else {
                break;
            };
            let pair = PortPair { rtp };
            if claim(pair) {
                self.set_allocated(pair, true);
                return Ok(pair);
            }
            self.skipped += 1;
            self.free.push_back(rtp);
        }
        Err(SessionError::PortsExhausted { pairs: self.pairs })
    }

    /// How many times [`PortPool::allocate_claimed`] skipped a pair it could not claim, in total.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Gives a pair back. Returns `false`, changing nothing, if the pair is not one this pool handed out and
    /// still holds.
    pub fn free(&mut self, pair: PortPair) -> bool {
        if !self.is_allocated(pair) {
            return false;
        }
        self.set_allocated(pair, false);
        self.free.push_back(pair.rtp);
        true
    }

    /// Whether this pool handed out `pair` and has not had it back.
    pub fn is_allocated(&self, pair: PortPair) -> bool {
        self.bit(pair)
            .and_then(|(word, mask)| self.allocated.get(word).map(|w| w & mask != 0))
            .unwrap_or(false)
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.pairs
    }

    /// How many pairs are free.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// How many pairs are allocated.
    pub fn in_use(&self) -> usize {
        self.pairs - self.free.len()
    }

    fn bit(&self, pair: PortPair) -> Option<(usize, u64)> {
        let offset = pair.rtp.checked_sub(self.first)?;
        if offset % 2 != 0 {
            return None;
        }
        let index = usize::from(offset / 2);
        (index < self.pairs).then_some((index / 64, 1u64 << (index % 64)))
    }

    fn set_allocated(&mut self, pair: PortPair, on: bool) {
        let Some((word, mask)) = self.bit(pair) else {
            return;
        };
        if let Some(w) = self.allocated.get_mut(word) {
            if on {
                *w |= mask;
            } else {
                *w &= !mask;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_range_holds_five_thousand_pairs() {
        let pool = PortPool::new(PortPool::DEFAULT_RANGE).unwrap();
        assert_eq!(pool.capacity(), 5000);
        assert_eq!(pool.available(), 5000);
    }

    #[test]
    fn odd_bounds_round_inwards_to_whole_pairs() {
        let mut pool = PortPool::new(30001..=30006).unwrap();
        assert_eq!(pool.capacity(), 2);
        assert_eq!(pool.allocate().unwrap().rtp(), 30002);
        assert_eq!(pool.allocate().unwrap().rtp(), 30004);
        assert!(pool.allocate().is_err());
    }

    #[test]
    fn refuses_ranges_without_a_pair() {
        assert!(PortPool::new(30000..=30000).is_err());
        assert!(PortPool::new(30001..=30002).is_err());
        let (start, end) = (40000, 30000);
        assert!(PortPool::new(start..=end).is_err());
        assert_eq!(PortPool::new(0..=3).unwrap().allocate().unwrap().rtp(), 2);
        assert!(PortPool::new(65534..=65535).is_ok());
    }

    #[test]
    fn refuses_double_and_foreign_frees() {
        let mut pool = PortPool::new(30000..=30009).unwrap();
        let pair = pool.allocate().unwrap();
        assert!(pool.free(pair));
        assert!(!pool.free(pair));
        assert!(!pool.free(PortPair { rtp: 30002 }));
        assert!(!pool.free(PortPair { rtp: 29998 }));
        assert!(!pool.free(PortPair { rtp: 30001 }));
        assert_eq!(pool.available(), 5);
    }

    #[test]
    fn pairs_that_cannot_be_claimed_are_skipped_and_tried_again_later() {
        let mut pool = PortPool::new(30000..=30007).unwrap();
        let mut held = vec![30002u16, 30004];
        let mut tried = Vec::new();
        let mut claim = |held: &[u16], pair: PortPair| {
            tried.push(pair.rtp());
            !held.contains(&pair.rtp())
        };
        let a = pool.allocate_claimed(&mut |p| claim(&held, p)).unwrap();
        let b = pool.allocate_claimed(&mut |p| claim(&held, p)).unwrap();
        assert_eq!((a.rtp(), b.rtp()), (30000, 30006));
        assert_eq!(pool.skipped(), 2);
        assert!(!pool.is_allocated(PortPair { rtp: 30002 }));
        // Nothing claimable left: each free pair is tried once, then the pool gives up.
        assert!(pool.allocate_claimed(&mut |p| claim(&held, p)).is_err());
        assert_eq!(pool.skipped(), 4);
        assert_eq!(pool.available(), 2);
        // The holder let one go: the skipped pair is handed out.
        held.retain(|&p| p != 30004);
        let c = pool.allocate_claimed(&mut |p| claim(&held, p)).unwrap();
        assert_eq!(c.rtp(), 30004);
        assert_eq!(pool.in_use(), 3);
        assert_eq!(
            tried,
            [30000, 30002, 30004, 30006, 30002, 30004, 30002, 30004]
        );
    }

    #[test]
    fn reuses_the_pair_freed_longest_ago() {
        let mut pool = PortPool::new(30000..=30005).unwrap();
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        let c = pool.allocate().unwrap();
        pool.free(b);
        pool.free(a);
        assert_eq!(pool.allocate().unwrap(), b);
        assert_eq!(pool.allocate().unwrap(), a);
        assert_eq!(pool.in_use(), 3);
        assert!(pool.is_allocated(c));
    }
}
