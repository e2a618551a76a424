//! Anti-flood in the spirit of Kamailio's `pike` module, sans-IO: a per-source request-rate limit over a
//! sliding window with a temporary ban, and a ban after repeated failed authentications.
//!
//! The proxy asks [`FloodGuard::admit`] for every message before looking at it; a banned source costs one
//! hash lookup. The rate is counted with two fixed buckets weighted into a sliding window (the previous
//! bucket counts for the part of it that still overlaps the window), which needs no per-request memory.

use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Limits of a [`FloodGuard`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodConfig {
    /// Whether the guard is on at all.
    pub enabled: bool,
    /// Length of the sliding window, in milliseconds.
    pub window_ms: u64,
    /// Most requests one source may send within the window; one more bans it.
    pub max_requests: u32,
    /// How long a ban lasts, in seconds.
    pub ban_secs: u64,
    /// Failed authentications (within one ban period) that ban a source.
    pub max_auth_failures: u32,
    /// Most sources tracked; beyond it the least recently seen unbanned sources are forgotten.
    pub max_sources: usize,
}

impl Default for FloodConfig {
    fn default() -> FloodConfig {
        FloodConfig {
            enabled: true,
            window_ms: 2000,
            max_requests: 400,
            ban_secs: 60,
            max_auth_failures: 10,
            max_sources: 100_000,
        }
    }
}

/// What to do with a message from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Process it.
    Allow,
    /// Drop it: the source is banned.
    Drop,
    /// Drop it: this message pushed the source over the limit and banned it just now.
    Banned,
}

#[derive(Debug, Clone, Copy)]
struct SourceState {
    bucket_start: Instant,
    current: u32,
    previous: u32,
    auth_failures: u32,
    banned_until: Option<Instant>,
    last_seen: Instant,
}

impl SourceState {
    fn new(now: Instant) -> SourceState {
        SourceState {
            bucket_start: now,
            current: 0,
            previous: 0,
            auth_failures: 0,
            banned_until: None,
            last_seen: now,
        }
    }

    fn is_banned(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|until| now < until)
    }

    /// Move the buckets forward to `now` and return the sliding-window count including one more request.
    fn count(&mut self, now: Instant, window: Duration) -> u64 {
        let elapsed = now.saturating_duration_since(self.bucket_start);
        if elapsed >= window * 2 {
            self.previous = 0;
            self.current = 0;
            self.bucket_start = now;
        } else if elapsed >= window {
            self.previous = self.current;
            self.current = 0;
            self.bucket_start += window;
        }
        self.current = self.current.saturating_add(1);
        let into = now.saturating_duration_since(self.bucket_start).as_nanos();
        let window_ns = window.as_nanos().max(1);
        let overlap = window_ns.saturating_sub(into);
        let weighted = u128::from(self.previous) * overlap / window_ns;
        u64::from(self.current) + u64::try_from(weighted).unwrap_or(u64::MAX)
    }
}

/// Per-source request accounting and bans.
#[derive(Debug)]
pub struct FloodGuard {
    config: FloodConfig,
    sources: HashMap<IpAddr, SourceState>,
}

impl FloodGuard {
    /// A guard with `config`.
    pub fn new(config: FloodConfig) -> FloodGuard {
        FloodGuard {
            config,
            sources: HashMap::new(),
        }
    }

    fn window(&self) -> Duration {
        Duration::from_millis(self.config.window_ms.max(1))
    }

    fn ban_time(&self) -> Duration {
        Duration::from_secs(self.config.ban_secs)
    }

    /// Account one message from `source` at `now` and say whether to process it.
    pub fn admit(&mut self, source: IpAddr, now: Instant) -> Admission {
        if !self.config.enabled {
            return Admission::Allow;
        }
        if let Some(state) = self.sources.get(&source)
            && state.is_banned(now)
        {
            return Admission::Drop;
        }
        self.make_room(now);
        let window = self.window();
        let ban = self.ban_time();
        let limit = u64::from(self.config.max_requests);
        let state = self
            .sources
            .entry(source)
            .or_insert_with(|| SourceState::new(now));
        state.last_seen = now;
        if state.count(now, window) > limit {
            state.banned_until = Some(now + ban);
            state.current = 0;
            state.previous = 0;
            return Admission::Banned;
        }
        Admission::Allow
    }

    /// Record a failed authentication from `source`; returns `true` when it banned the source.
    pub fn auth_failed(&mut self, source: IpAddr, now: Instant) -> bool {
        if !self.config.enabled {
            return false;
        }
        self.make_room(now);
        let limit = self.config.max_auth_failures;
        let ban = self.ban_time();
        let state = self
            .sources
            .entry(source)
            .or_insert_with(|| SourceState::new(now));
        state.auth_failures = state.auth_failures.saturating_add(1);
        if state.auth_failures >= limit {
            state.auth_failures = 0;
            state.banned_until = Some(now + ban);
            return true;
        }
        false
    }

    /// Record a successful authentication from `source`: its failure count starts again.
    pub fn auth_succeeded(&mut self, source: IpAddr) {
        if let Some(state) = self.sources.get_mut(&source) {
            state.auth_failures = 0;
        }
    }

    /// Whether `source` is banned at `now`.
    pub fn is_banned(&self, source: IpAddr, now: Instant) -> bool {
        self.sources.get(&source).is_some_and(|s| s.is_banned(now))
    }

    /// How many sources are banned at `now`.
    pub fn banned_count(&self, now: Instant) -> usize {
        self.sources.values().filter(|s| s.is_banned(now)).count()
    }

    /// Forget sources idle for two windows with no ban and no failed authentication.
    pub fn sweep(&mut self, now: Instant) {
        let idle = self.window() * 2;
        self.sources.retain(|_, s| {
            s.is_banned(now)
                || s.auth_failures > 0
                || now.saturating_duration_since(s.last_seen) < idle
        });
    }

    /// Keep the table within [`FloodConfig::max_sources`]: sweep, then drop the oldest unbanned source.
    fn make_room(&mut self, now: Instant) {
        if self.sources.len() < self.config.max_sources.max(1) {
            return;
        }
        self.sweep(now);
        if self.sources.len() < self.config.max_sources.max(1) {
            return;
        }
        let oldest = self
            .sources
            .iter()
            .filter(|(_, s)| !s.is_banned(now))
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(ip, _)| *ip);
        if let Some(ip) = oldest {
            self.sources.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_requests: u32) -> FloodConfig {
        FloodConfig {
            window_ms: 1000,
            max_requests,
            ban_secs: 10,
            max_auth_failures: 3,
            ..FloodConfig::default()
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn bans_a_source_that_exceeds_the_rate_and_keeps_others_working() {
        let mut guard = FloodGuard::new(config(5));
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(guard.admit(ip(1), now), Admission::Allow);
        }
        assert_eq!(guard.admit(ip(1), now), Admission::Banned);
        assert_eq!(guard.admit(ip(1), now), Admission::Drop);
        assert_eq!(guard.admit(ip(2), now), Admission::Allow);
        assert_eq!(guard.banned_count(now), 1);
    }

    #[test]
    fn lifts_the_ban_after_the_ban_time() {
        let mut guard = FloodGuard::new(config(1));
        let now = Instant::now();
        guard.admit(ip(1), now);
        assert_eq!(guard.admit(ip(1), now), Admission::Banned);
        let later = now + Duration::from_secs(11);
        assert!(!guard.is_banned(ip(1), later));
        assert_eq!(guard.admit(ip(1), later), Admission::Allow);
    }

    #[test]
    fn a_steady_rate_below_the_limit_is_never_banned() {
        let mut guard = FloodGuard::new(config(10));
        let start = Instant::now();
        // 5 requests per second for a minute: half the limit.
        for i in 0..300u64 {
            let now = start + Duration::from_millis(i * 200);
            assert_eq!(guard.admit(ip(1), now), Admission::Allow, "request {i}");
        }
    }

    #[test]
    fn the_previous_bucket_still_counts_in_the_sliding_window() {
        let mut guard = FloodGuard::new(config(10));
        let start = Instant::now();
        // 10 requests late in the first bucket, then 10 right after the bucket boundary: 20 within ~1 s.
        for _ in 0..10 {
            guard.admit(ip(1), start + Duration::from_millis(900));
        }
        let verdicts: Vec<_> = (0..10)
            .map(|_| guard.admit(ip(1), start + Duration::from_millis(1100)))
            .collect();
        assert!(verdicts.contains(&Admission::Banned));
    }

    #[test]
    fn bans_after_repeated_failed_authentications() {
        let mut guard = FloodGuard::new(config(100));
        let now = Instant::now();
        assert!(!guard.auth_failed(ip(1), now));
        assert!(!guard.auth_failed(ip(1), now));
        assert!(guard.auth_failed(ip(1), now));
        assert_eq!(guard.admit(ip(1), now), Admission::Drop);
    }

    #[test]
    fn a_successful_authentication_resets_the_failure_count() {
        let mut guard = FloodGuard::new(config(100));
        let now = Instant::now();
        guard.auth_failed(ip(1), now);
        guard.auth_failed(ip(1), now);
        guard.auth_succeeded(ip(1));
        assert!(!guard.auth_failed(ip(1), now));
        assert!(!guard.is_banned(ip(1), now));
    }

    #[test]
    fn the_source_table_stays_within_its_bound() {
        let mut guard = FloodGuard::new(FloodConfig {
            max_sources: 16,
            ..config(100)
        });
        let now = Instant::now();
        for i in 0..=255u8 {
            guard.admit(ip(i), now);
        }
        assert!(guard.sources.len() <= 16);
    }

    #[test]
    fn a_disabled_guard_admits_everything() {
        let mut guard = FloodGuard::new(FloodConfig {
            enabled: false,
            ..config(1)
        });
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(guard.admit(ip(1), now), Admission::Allow);
        }
    }
}
