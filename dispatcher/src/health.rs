//! Destination health: the up/down threshold state machine and round-trip latency statistics.

use crate::destination::DestinationState;
use std::time::Duration;

/// Consecutive results of one destination's probes (and, if configured, of its requests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Health {
    pub(crate) failures: u32,
    pub(crate) successes: u32,
}

/// How many results in a row change a destination's state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// Failures in a row that take a destination down (Kamailio's `ds_probing_threshold`).
    pub(crate) down: u32,
    /// Successes in a row that bring a down destination back (Kamailio's `ds_inactive_threshold`).
    pub(crate) up: u32,
}

impl Health {
    /// Count one result; the new state if it changes.
    ///
    /// A failure moves Active to Trying, and Active, Trying or Probing to Inactive at the down threshold. A
    /// success moves Trying back to Active at once, and Inactive or Probing to Active at the up threshold.
    /// Disabled destinations never change here.
    pub(crate) fn record(
        &mut self,
        state: DestinationState,
        ok: bool,
        thresholds: Thresholds,
    ) -> Option<DestinationState> {
        use DestinationState::*;
        if state == Disabled {
            return None;
        }
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            return match state {
                Trying => Some(Active),
                Inactive | Probing if self.successes >= thresholds.up.max(1) => Some(Active),
                _ => None,
            };
        }
        self.successes = 0;
        self.failures = self.failures.saturating_add(1);
        let down = self.failures >= thresholds.down.max(1);
        match state {
            Active | Trying | Probing if down => Some(Inactive),
            Active => Some(Trying),
            _ => None,
        }
    }

    /// A request through the destination succeeded: clears its failures (Trying goes back to Active) without
    /// counting towards the up threshold, which only probes of a down destination reach.
    pub(crate) fn record_traffic_success(
        &mut self,
        state: DestinationState,
    ) -> Option<DestinationState> {
        self.failures = 0;
        (state == DestinationState::Trying).then_some(DestinationState::Active)
    }
}

/// Round-trip times of a destination's probe replies: count, mean, exponentially weighted moving average,
/// minimum, maximum and standard deviation (Welford's online algorithm, so no samples are stored).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencyStats {
    count: u64,
    mean_us: f64,
    m2: f64,
    ewma_us: f64,
    min_us: f64,
    max_us: f64,
    last_us: f64,
}

impl LatencyStats {
    /// Add a sample; `alpha` (0..=1) is the weight of the new sample in the moving average.
    pub fn record(&mut self, rtt: Duration, alpha: f64) {
        let us = rtt.as_secs_f64() * 1e6;
        self.count += 1;
        let delta = us - self.mean_us;
        self.mean_us += delta / self.count as f64;
        self.m2 += delta * (us - self.mean_us);
        self.last_us = us;
        if self.count == 1 {
            self.ewma_us = us;
            self.min_us = us;
            self.max_us = us;
            return;
        }
        let alpha = alpha.clamp(0.0, 1.0);
        self.ewma_us = alpha * us + (1.0 - alpha) * self.ewma_us;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean round-trip time.
    pub fn mean(&self) -> Option<Duration> {
        self.measured(self.mean_us)
    }

    /// Exponentially weighted moving average of the round-trip time.
    pub fn ewma(&self) -> Option<Duration> {
        self.measured(self.ewma_us)
    }

    /// Shortest round-trip time.
    pub fn min(&self) -> Option<Duration> {
        self.measured(self.min_us)
    }

    /// Longest round-trip time.
    pub fn max(&self) -> Option<Duration> {
        self.measured(self.max_us)
    }

    /// Latest round-trip time.
    pub fn last(&self) -> Option<Duration> {
        self.measured(self.last_us)
    }

    /// Population standard deviation of the round-trip time.
    pub fn std_dev(&self) -> Option<Duration> {
        let variance = self.m2 / self.count.max(1) as f64;
        self.measured(variance.max(0.0).sqrt())
    }

    fn measured(&self, us: f64) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_secs_f64(us.max(0.0) / 1e6))
    }

    /// The statistics in milliseconds, for display and serialization.
    pub fn summary(&self) -> LatencySummary {
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
        LatencySummary {
            count: self.count,
            mean_ms: ms(self.mean()),
            ewma_ms: ms(self.ewma()),
            min_ms: ms(self.min()),
            max_ms: ms(self.max()),
            std_dev_ms: ms(self.std_dev()),
            last_ms: ms(self.last()),
        }
    }
}

/// [`LatencyStats`] in milliseconds; every figure is `None` until the first sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: Option<f64>,
    /// Exponentially weighted moving average.
    pub ewma_ms: Option<f64>,
    /// Minimum.
    pub min_ms: Option<f64>,
    /// Maximum.
    pub max_ms: Option<f64>,
    /// Population standard deviation.
    pub std_dev_ms: Option<f64>,
    /// Latest sample.
    pub last_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use DestinationState::*;

    const TH: Thresholds = Thresholds { down: 3, up: 2 };

    fn run(state: DestinationState, results: &[bool]) -> Vec<DestinationState> {
        let mut health = Health::default();
        let mut state = state;
        let mut out = Vec::new();
        for ok in results {
            if let Some(next) = health.record(state, *ok, TH) {
                state = next;
            }
            out.push(state);
        }
        out
    }

    #[test]
    fn active_goes_trying_then_inactive_at_down_threshold() {
        assert_eq!(
            run(Active, &[false, false, false]),
            [Trying, Trying, Inactive]
        );
    }

    #[test]
    fn a_success_between_failures_restarts_the_count() {
        assert_eq!(
            run(Active, &[false, false, true, false, false]),
            [Trying, Trying, Active, Trying, Trying]
        );
    }

    #[test]
    fn inactive_needs_up_threshold_successes_in_a_row() {
        assert_eq!(
            run(Inactive, &[true, false, true, true]),
            [Inactive, Inactive, Inactive, Active]
        );
    }

    #[test]
    fn probing_becomes_active_or_inactive_by_threshold() {
        assert_eq!(run(Probing, &[true, true]), [Probing, Active]);
        assert_eq!(
            run(Probing, &[false, false, false]),
            [Probing, Probing, Inactive]
        );
    }

    #[test]
    fn disabled_never_changes() {
        assert_eq!(
            run(Disabled, &[true, true, false, false, false]),
            [Disabled; 5]
        );
    }

    #[test]
    fn zero_thresholds_act_as_one() {
        let mut h = Health::default();
        let th = Thresholds { down: 0, up: 0 };
        assert_eq!(h.record(Active, false, th), Some(Inactive));
        assert_eq!(h.record(Inactive, true, th), Some(Active));
    }

    #[test]
    fn traffic_success_clears_trying_but_not_inactive() {
        let mut h = Health {
            failures: 2,
            successes: 0,
        };
        assert_eq!(h.record_traffic_success(Trying), Some(Active));
        assert_eq!(h.failures, 0);
        assert_eq!(h.record_traffic_success(Inactive), None);
    }

    #[test]
    fn latency_statistics_match_the_samples() {
        let mut s = LatencyStats::default();
        assert_eq!(s.mean(), None);
        for ms in [10, 20, 30, 40] {
            s.record(Duration::from_millis(ms), 0.5);
        }
        let sum = s.summary();
        assert_eq!(sum.count, 4);
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-6;
        assert!(close(sum.mean_ms, 25.0));
        assert!(close(sum.min_ms, 10.0));
        assert!(close(sum.max_ms, 40.0));
        assert!(close(sum.last_ms, 40.0));
        // Population std-dev of 10, 20, 30, 40 is sqrt(125).
        assert!(close(sum.std_dev_ms, 125f64.sqrt()));
        // EWMA with alpha 0.5: 10 → 15 → 22.5 → 31.25.
        assert!(close(sum.ewma_ms, 31.25));
    }
}
