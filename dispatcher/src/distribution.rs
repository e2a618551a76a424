//! The random source and the weight tables behind the random, weight and relative-weight algorithms.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// SplitMix64: small, fast and good enough to spread requests; seeded by the caller for reproducible tests
/// or from the standard library's per-process random keys otherwise. Not for secrets.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: Option<u64>) -> Rng {
        Rng(seed.unwrap_or_else(|| RandomState::new().hash_one(0x5eed_u64)))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0); the multiply-shift bias is below 2^-32 for any `n` that fits a set.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        usize::try_from(wide >> 64).unwrap_or(0)
    }
}

/// Smallest number of slots in a weight table: shares are exact to 1 %.
const MIN_SLOTS: usize = 100;

/// A cyclic table of destination indices in which each destination appears in proportion to its weight,
/// shuffled once when built so that picks interleave. Walking it gives exactly the weighted shares over each
/// turn of the table (Kamailio's weight distribution).
#[derive(Debug, Clone, Default)]
pub(crate) struct WeightTable {
    slots: Vec<u16>,
    cursor: usize,
}

impl WeightTable {
    /// Build from `(index, weight)` pairs. Weights are relative (80/20 and 4/1 give the same shares); when
    /// every weight is 0 all entries share equally. Slots are given by largest remainder, so the shares add up.
    pub(crate) fn build(weights: &[(u16, u32)], rng: &mut Rng) -> WeightTable {
        if weights.is_empty() {
            return WeightTable::default();
        }
        let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
        let weight_of = |w: u32| if total == 0 { 1 } else { u64::from(w) };
        let total = if total == 0 {
            weights.len() as u64
        } else {
            total
        };
        let size = MIN_SLOTS.max(weights.len()) as u64;
        let mut counts: Vec<(u16, u64, u64)> = weights
            .iter()
            .map(|(i, w)| {
                let share = weight_of(*w) * size;
                (*i, share / total, share % total)
            })
            .collect();
        let given: u64 = counts.iter().map(|(_, n, _)| n).sum();
        let mut by_remainder: Vec<usize> = (0..counts.len()).collect();
        by_remainder.sort_by(|a, b| {
            let ra = counts.get(*a).map_or(0, |c| c.2);
            let rb = counts.get(*b).map_or(0, |c| c.2);
            rb.cmp(&ra).then(a.cmp(b))
        });
        for k in by_remainder.into_iter().take((size - given) as usize) {
            if let Some(c) = counts.get_mut(k) {
                c.1 += 1;
            }
        }
        let mut slots: Vec<u16> = counts
            .iter()
            .flat_map(|(i, n, _)| std::iter::repeat_n(*i, *n as usize))
            .collect();
        shuffle(&mut slots, rng);
        WeightTable { slots, cursor: 0 }
    }

    /// The next destination index in the table, or `None` for an empty table.
    pub(crate) fn next(&mut self) -> Option<usize> {
        let slot = *self.slots.get(self.cursor % self.slots.len().max(1))?;
        self.cursor = (self.cursor + 1) % self.slots.len();
        Some(usize::from(slot))
    }
}

/// Fisher–Yates.
fn shuffle(slots: &mut [u16], rng: &mut Rng) {
    for i in (1..slots.len()).rev() {
        let j = rng.below(i + 1);
        slots.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(weights: &[(u16, u32)]) -> Vec<usize> {
        let mut rng = Rng::new(Some(7));
        let mut table = WeightTable::build(weights, &mut rng);
        let mut counts = vec![0; weights.len()];
        for _ in 0..table.slots.len() {
            let i = table.next().unwrap();
            counts[i] += 1;
        }
        counts
    }

    #[test]
    fn one_turn_of_the_table_gives_exact_percentages() {
        assert_eq!(shares(&[(0, 80), (1, 20)]), vec![80, 20]);
        assert_eq!(shares(&[(0, 1), (1, 2), (2, 1)]), vec![25, 50, 25]);
    }

    #[test]
    fn remainders_are_spread_so_shares_add_up() {
        let s = shares(&[(0, 1), (1, 1), (2, 1)]);
        assert_eq!(s.iter().sum::<usize>(), 100);
        assert!(s.iter().all(|n| (33..=34).contains(n)));
    }

    #[test]
    fn zero_weights_share_equally() {
        assert_eq!(shares(&[(0, 0), (1, 0)]), vec![50, 50]);
    }

    #[test]
    fn zero_weight_among_others_gets_nothing() {
        assert_eq!(shares(&[(0, 0), (1, 10)]), vec![0, 100]);
    }

    #[test]
    fn large_sets_get_a_slot_each() {
        let weights: Vec<(u16, u32)> = (0..250).map(|i| (i, 1)).collect();
        assert!(shares(&weights).iter().all(|n| *n == 1));
    }

    #[test]
    fn empty_table_picks_nothing() {
        let mut rng = Rng::new(Some(1));
        assert_eq!(WeightTable::build(&[], &mut rng).next(), None);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(Some(3));
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = rng.below(5);
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (Rng::new(Some(9)), Rng::new(Some(9)));
        assert!((0..10).all(|_| a.next_u64() == b.next_u64()));
    }
}
