//! Waking shard 0 when another shard moves the shared dispatcher's next deadline earlier.
//!
//! Shard 0 alone drives the dispatcher's timers and probes ([`super::server`]): it sleeps until the earliest
//! of its own deadlines and the dispatcher's `poll_timeout`. Other shards call the dispatcher too (select,
//! failover, call load), and a call can schedule something before the time shard 0 is asleep until (today:
//! the first call tracked for call load schedules the call-load sweep). Shard 0 arms [`DispatcherWake`]
//! with the time it will wake at; a shard that leaves the dispatcher with an earlier deadline wakes it at
//! once. Both happen with the dispatcher locked, so a change is either seen by shard 0 when it computes
//! its wake-up or seen against the wake-up it armed: none is missed. A call that moves nothing costs a
//! `poll_timeout` and an atomic load.

use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tandem_dispatcher::Dispatcher;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// Shard 0's armed wake-up, and the way other shards wake it earlier.
#[derive(Debug)]
pub(crate) struct DispatcherWake {
    /// Origin of `armed`.
    epoch: Instant,
    /// When shard 0 will wake, in nanoseconds since `epoch`. Read and written with the dispatcher locked
    /// (the mutex orders them; the atomic only makes the field shareable).
    armed: AtomicU64,
    notify: Notify,
}

impl DispatcherWake {
    /// Nothing armed yet: shard 0 looks at the dispatcher before its first sleep anyway.
    pub(crate) fn new() -> Self {
        DispatcherWake {
            epoch: Instant::now(),
            armed: AtomicU64::new(0),
            notify: Notify::new(),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Shard 0, with the dispatcher locked: it sleeps until `at` unless woken.
    pub(crate) fn arm(&self, at: Instant) {
        self.armed.store(self.nanos(at), Ordering::Relaxed);
    }

    /// Another shard, with the dispatcher still locked after calling it: wakes shard 0 if the dispatcher's
    /// next deadline `next` comes before the wake-up shard 0 armed (once per such move). Returns whether it
    /// woke it.
    pub(crate) fn moved(&self, next: Option<Instant>) -> bool {
        let Some(next) = next else {
            return false;
        };
        let at = self.nanos(next);
        if at >= self.armed.load(Ordering::Relaxed) {
            return false;
        }
        // Shard 0 now wakes at `at`: later calls with the same deadline need not wake it again.
        self.armed.store(at, Ordering::Relaxed);
        self.notify.notify_one();
        true
    }

    /// Resolves once another shard woke shard 0 (at once if it did since the last wait: the wake-up is
    /// kept as a permit).
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }
}

/// The shared dispatcher, locked by a shard for one call. On a shard other than 0 the lock carries the
/// [`DispatcherWake`], and letting go of it wakes shard 0 when the call moved the next deadline earlier.
pub(crate) struct LockedDispatcher<'a> {
    dispatcher: MutexGuard<'a, Dispatcher>,
    wake: Option<&'a DispatcherWake>,
}

impl<'a> LockedDispatcher<'a> {
    /// `dispatcher`, locked by shard 0 (`wake` none) or by another shard.
    pub(crate) fn new(
        dispatcher: MutexGuard<'a, Dispatcher>,
        wake: Option<&'a DispatcherWake>,
    ) -> Self {
        LockedDispatcher { dispatcher, wake }
    }
}

impl Deref for LockedDispatcher<'_> {
    type Target = Dispatcher;

    fn deref(&self) -> &Dispatcher {
        &self.dispatcher
    }
}

impl DerefMut for LockedDispatcher<'_> {
    fn deref_mut(&mut self) -> &mut Dispatcher {
        &mut self.dispatcher
    }
}

impl Drop for LockedDispatcher<'_> {
    fn drop(&mut self) {
        if let Some(wake) = self.wake {
            wake.moved(self.dispatcher.poll_timeout());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::time::Duration;

    #[test]
    fn an_earlier_deadline_wakes_shard_0_once() {
        let wake = DispatcherWake::new();
        let t0 = Instant::now();
        wake.arm(t0 + Duration::from_secs(1));
        assert!(wake.moved(Some(t0 + Duration::from_millis(100))));
        assert!(
            !wake.moved(Some(t0 + Duration::from_millis(100))),
            "the same deadline again: shard 0 is already woken"
        );
        assert!(
            wake.notified().now_or_never().is_some(),
            "the wake-up is kept"
        );
        assert!(
            wake.notified().now_or_never().is_none(),
            "and delivered once"
        );
        assert!(wake.moved(Some(t0 + Duration::from_millis(50))));
        assert!(wake.notified().now_or_never().is_some());
    }

    #[test]
    fn a_later_or_no_deadline_lets_shard_0_sleep() {
        let wake = DispatcherWake::new();
        let t0 = Instant::now();
        wake.arm(t0 + Duration::from_millis(100));
        assert!(!wake.moved(Some(t0 + Duration::from_secs(1))));
        assert!(!wake.moved(Some(t0 + Duration::from_millis(100))));
        assert!(!wake.moved(None));
        assert!(wake.notified().now_or_never().is_none());
    }

    #[test]
    fn before_shard_0_armed_nothing_wakes_it() {
        // Shard 0 has not slept yet: it reads the dispatcher's deadline before it does.
        let wake = DispatcherWake::new();
        assert!(!wake.moved(Some(Instant::now())));
    }
}
