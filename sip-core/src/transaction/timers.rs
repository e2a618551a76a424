//! Timer values (RFC 3261 §17 and table 4, RFC 6026) and the names of the timers.

use std::time::{Duration, Instant};

/// The base timer values a [`super::TransactionLayer`] derives every transaction timer from.
///
/// Values below 1 ms are raised to 1 ms (a zero T1 would retransmit in a loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (default 500 ms): first retransmission interval (Timers A, E, G), and 64·T1 is the
    /// transaction timeout (Timers B, F, H, J, L, M).
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE final responses (default 4 s).
    pub t2: Duration,
    /// How long the network may hold a message (default 5 s): Timers I and K on unreliable transports.
    pub t4: Duration,
    /// Timer D, how long an INVITE client transaction absorbs retransmitted final responses on an
    /// unreliable transport (default 32 s, RFC 3261's minimum).
    pub timer_d: Duration,
    /// How long an INVITE server transaction waits for the TU's first response before sending
    /// `100 Trying` itself (default 200 ms, RFC 3261 §17.2.1).
    pub trying_delay: Duration,
}

impl TimerConfig {
    /// RFC 3261's values: T1 500 ms, T2 4 s, T4 5 s, Timer D 32 s, 100 Trying after 200 ms.
    pub const DEFAULT: TimerConfig = TimerConfig {
        t1: Duration::from_millis(500),
        t2: Duration::from_secs(4),
        t4: Duration::from_secs(5),
        timer_d: Duration::from_secs(32),
        trying_delay: Duration::from_millis(200),
    };

    /// The same values with T1, T2 and T4 raised to at least 1 ms.
    pub(crate) fn sanitized(self) -> TimerConfig {
        let floor = Duration::from_millis(1);
        TimerConfig {
            t1: self.t1.max(floor),
            t2: self.t2.max(floor),
            t4: self.t4.max(floor),
            ..self
        }
    }

    /// 64·T1: Timers B, F, H, J, L and M.
    pub(crate) fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// How long after a non-INVITE request the client's Timer E has grown to T2 (T1 + 2·T1 + 4·T1 … while
    /// below T2): the earliest a `100` may be sent over an unreliable transport (RFC 4320 §4.1).
    pub(crate) fn e_reaches_t2(&self) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut interval = self.t1;
        while interval < self.t2 {
            elapsed = elapsed.saturating_add(interval);
            interval = interval.saturating_mul(2);
        }
        elapsed
    }
}

impl Default for TimerConfig {
    fn default() -> TimerConfig {
        TimerConfig::DEFAULT
    }
}

/// The transaction timers (RFC 3261 table 4, RFC 6026 L and M), named in [`super::TransactionEvent::Timeout`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmission (client, unreliable transports), T1 doubling.
    A,
    /// INVITE transaction timeout (client, Calling), 64·T1.
    B,
    /// Wait for response retransmissions (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmission (client, unreliable), T1 doubling up to T2.
    E,
    /// Non-INVITE transaction timeout (client), 64·T1.
    F,
    /// INVITE final response retransmission (server, unreliable), T1 doubling up to T2.
    G,
    /// Wait for the ACK (server INVITE, Completed), 64·T1.
    H,
    /// Wait for ACK retransmissions (server INVITE, Confirmed), T4.
    I,
    /// Wait for request retransmissions (server non-INVITE, Completed), 64·T1.
    J,
    /// Wait for response retransmissions (client non-INVITE, Completed), T4.
    K,
    /// Wait for INVITE retransmissions after a 2xx (server INVITE, Accepted, RFC 6026), 64·T1.
    L,
    /// Wait for 2xx retransmissions (client INVITE, Accepted, RFC 6026), 64·T1.
    M,
    /// Send `100 Trying` if the TU has not responded (server INVITE, [`TimerConfig::trying_delay`]), or
    /// release a `100` the TU gave to a non-INVITE request (RFC 4320 §4.1).
    Trying,
    /// Give up on a cancelled INVITE that got no final response, 64·T1 after the CANCEL (RFC 3261 §9.1).
    Cancel,
}

/// The earliest of some optional deadlines.
pub(crate) fn earliest<const N: usize>(deadlines: [Option<Instant>; N]) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// Whether an optional deadline has been reached at `now`.
pub(crate) fn due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|at| at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_e_reaches_t2_after_three_and_a_half_seconds_with_default_timers() {
        assert_eq!(
            TimerConfig::DEFAULT.e_reaches_t2(),
            Duration::from_millis(3500)
        );
    }

    #[test]
    fn timer_e_starts_at_t2_when_t1_is_not_below_it() {
        let config = TimerConfig {
            t1: Duration::from_secs(4),
            ..TimerConfig::DEFAULT
        };
        assert_eq!(config.e_reaches_t2(), Duration::ZERO);
    }

    #[test]
    fn sanitizing_raises_zero_base_timers_to_one_millisecond() {
        let config = TimerConfig {
            t1: Duration::ZERO,
            t2: Duration::ZERO,
            t4: Duration::ZERO,
            ..TimerConfig::DEFAULT
        }
        .sanitized();
        assert_eq!(config.t1, Duration::from_millis(1));
        assert_eq!(config.t2, Duration::from_millis(1));
        assert_eq!(config.t4, Duration::from_millis(1));
        assert_eq!(config.timeout(), Duration::from_millis(64));
    }
}
