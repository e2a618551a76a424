//! When a worker sleeps out its batch window: only while its packet rate fills a window with enough
//! packets to be worth the wait. Sans-IO: fed with the time and the packets each wake-up received.

use std::time::{Duration, Instant};

/// How long the packet rate is counted before the pacing decision is taken again.
const RATE_INTERVAL: Duration = Duration::from_millis(20);

/// Packets a window must be expected to hold for the worker to wait it out. Below this a window saves
/// little CPU (a wake-up is shared by one or two packets) and only adds its length to every packet's
/// delay; above it the wake-up cost is shared by many (docs/bench-media.md).
pub(crate) const MIN_PACKETS_PER_WINDOW: u64 = 8;

/// The batch window's on/off switch for one worker.
#[derive(Debug)]
pub(crate) struct Pacer {
    window: Duration,
    /// Start of the interval being counted.
    since: Instant,
    /// Packets received since `since`.
    packets: u64,
    /// Whether windows are waited out, as decided at the end of the last interval.
    pacing: bool,
}

impl Pacer {
    /// A pacer for `window` (zero: never waits), not pacing until a busy interval has been seen.
    pub(crate) fn new(window: Duration, now: Instant) -> Pacer {
        Pacer {
            window,
            since: now,
            packets: 0,
            pacing: false,
        }
    }

    /// Notes a wake-up at `now` that received `received` packets; returns until when the worker should
    /// wait before reading again (`None`: read again at once, or block until the next packet).
    pub(crate) fn on_wake(&mut self, now: Instant, received: usize) -> Option<Instant> {
        self.packets = self.packets.saturating_add(received as u64);
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= RATE_INTERVAL {
            // Packets expected per window at the interval's rate: packets × window / elapsed.
            let expected = u128::from(self.packets) * self.window.as_nanos();
            self.pacing = expected >= u128::from(MIN_PACKETS_PER_WINDOW) * elapsed.as_nanos();
            self.since = now;
            self.packets = 0;
        }
        (received > 0 && self.pacing && !self.window.is_zero()).then(|| now + self.window)
    }

    /// Whether windows are being waited out.
    #[cfg(test)]
    fn pacing(&self) -> bool {
        self.pacing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_micros(500);

    /// Feeds `pps` packets per second, one per wake-up, for `duration`; returns how many wake-ups were
    /// told to wait.
    fn feed(pacer: &mut Pacer, start: Instant, pps: u64, duration: Duration) -> (Instant, usize) {
        let gap = Duration::from_nanos(1_000_000_000 / pps);
        let mut now = start;
        let mut waited = 0;
        while now < start + duration {
            if pacer.on_wake(now, 1).is_some() {
                waited += 1;
            }
            now += gap;
        }
        (now, waited)
    }

    #[test]
    fn a_light_load_is_relayed_at_once() {
        let start = Instant::now();
        let mut pacer = Pacer::new(WINDOW, start);
        // 5000 packets/s: 2.5 per 500 µs window.
        let (_, waited) = feed(&mut pacer, start, 5_000, Duration::from_millis(200));
        assert_eq!(waited, 0);
        assert!(!pacer.pacing());
    }

    #[test]
    fn a_heavy_load_is_paced_after_one_interval_and_released_when_it_drops() {
        let start = Instant::now();
        let mut pacer = Pacer::new(WINDOW, start);
        // 50000 packets/s: 25 per window.
        let (now, waited) = feed(&mut pacer, start, 50_000, Duration::from_millis(100));
        assert!(pacer.pacing());
        // Only the first interval's wake-ups (20 ms at 50/ms) went unpaced.
        assert!(waited >= 5_000 - 1_100, "{waited}");
        let (_, waited) = feed(&mut pacer, now, 2_000, Duration::from_millis(100));
        assert!(!pacer.pacing());
        assert!(waited <= 50, "{waited}");
    }

    #[test]
    fn the_threshold_is_packets_per_window() {
        let start = Instant::now();
        // Exactly MIN_PACKETS_PER_WINDOW per window paces; a little less does not.
        let at = 1_000_000 * MIN_PACKETS_PER_WINDOW / 500;
        let mut pacer = Pacer::new(WINDOW, start);
        feed(&mut pacer, start, at + at / 10, Duration::from_millis(60));
        assert!(pacer.pacing());
        let mut pacer = Pacer::new(WINDOW, start);
        feed(&mut pacer, start, at - at / 10, Duration::from_millis(60));
        assert!(!pacer.pacing());
    }

    #[test]
    fn a_zero_window_never_waits_and_an_empty_wake_up_never_waits() {
        let start = Instant::now();
        let mut pacer = Pacer::new(Duration::ZERO, start);
        let (_, waited) = feed(&mut pacer, start, 100_000, Duration::from_millis(60));
        assert_eq!(waited, 0);
        let mut pacer = Pacer::new(WINDOW, start);
        let (now, _) = feed(&mut pacer, start, 100_000, Duration::from_millis(60));
        assert!(pacer.on_wake(now, 0).is_none());
    }
}
