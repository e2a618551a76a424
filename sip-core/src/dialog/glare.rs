//! Glare: both ends of a dialog sending a re-INVITE at once (RFC 3261 §14.1, §14.2).
//!
//! The UAS that sees a re-INVITE while its own is pending answers 491 (Request Pending); the UAC that gets
//! that 491 waits before trying again. The wait ranges differ by who generated the Call-ID, so that the two
//! ends do not collide again.

use crate::random;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Granularity of the §14.1 retry delay.
const STEP: Duration = Duration::from_millis(10);

/// The range a UAC draws its re-INVITE retry delay from after a 491 (RFC 3261 §14.1): 2.1 s to 4 s when it
/// generated the dialog's Call-ID, 0 to 2 s otherwise.
pub fn glare_backoff(call_id_owner: bool) -> RangeInclusive<Duration> {
    if call_id_owner {
        Duration::from_millis(2100)..=Duration::from_secs(4)
    } else {
        Duration::ZERO..=Duration::from_secs(2)
    }
}

/// A delay drawn uniformly from `range` in steps of 10 ms, as §14.1 asks.
pub fn random_delay(range: &RangeInclusive<Duration>) -> Duration {
    let start = *range.start();
    let span = range.end().saturating_sub(start);
    let steps = u32::try_from(span.as_millis() / STEP.as_millis()).unwrap_or(u32::MAX);
    start + STEP * random::below_or_equal(steps)
}

/// The `Retry-After` seconds sent with the 500 that refuses an INVITE overlapping another (RFC 3261 §14.2): a
/// random value from 0 to 10.
pub(super) fn overlapping_invite_retry_after() -> u32 {
    random::below_or_equal(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_id_owner_waits_longer() {
        let owner = glare_backoff(true);
        let other = glare_backoff(false);
        assert_eq!(*owner.start(), Duration::from_millis(2100));
        assert_eq!(*owner.end(), Duration::from_secs(4));
        assert_eq!(*other.start(), Duration::ZERO);
        assert_eq!(*other.end(), Duration::from_secs(2));
    }

    #[test]
    fn random_delays_fall_in_range_on_10ms_steps() {
        for owner in [true, false] {
            let range = glare_backoff(owner);
            for _ in 0..200 {
                let d = random_delay(&range);
                assert!(range.contains(&d), "{d:?}");
                assert_eq!(d.as_millis() % 10, 0);
            }
        }
        let point = Duration::from_secs(1)..=Duration::from_secs(1);
        assert_eq!(random_delay(&point), Duration::from_secs(1));
    }

    #[test]
    fn overlapping_invite_retry_after_is_at_most_ten_seconds() {
        for _ in 0..100 {
            assert!(overlapping_invite_retry_after() <= 10);
        }
    }
}
