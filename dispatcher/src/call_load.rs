//! Call tracking for the call-load algorithm: which destination each active call (by Call-ID) went to.

use crate::destination::DestinationId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Longest Call-ID tracked, in bytes; longer ones are tracked by their first bytes (they are rare and
/// unique well before this length).
pub(crate) const MAX_CALL_ID_LEN: usize = 256;

/// How often expired calls are swept (Kamailio's `ds_hash_check_interval`), at most.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Call {
    destination: DestinationId,
    started: Instant,
}

/// Active calls by Call-ID.
#[derive(Debug, Default)]
pub(crate) struct CallTable {
    calls: HashMap<Box<[u8]>, Call>,
    next_sweep: Option<Instant>,
}

/// What [`CallTable::start`] changed, for the per-destination load counters.
pub(crate) enum Started {
    /// A new call on the destination.
    New,
    /// The call moved (failover) from this destination.
    Moved(DestinationId),
    /// Already tracked on the same destination.
    Unchanged,
}

fn key(call_id: &[u8]) -> &[u8] {
    call_id.get(..MAX_CALL_ID_LEN).unwrap_or(call_id)
}

impl CallTable {
    /// Track `call_id` on `destination`; `None` when the table is full.
    pub(crate) fn start(
        &mut self,
        call_id: &[u8],
        destination: DestinationId,
        now: Instant,
        max: usize,
        expiry: Duration,
    ) -> Option<Started> {
        let call = Call {
            destination,
            started: now,
        };
        if let Some(existing) = self.calls.get_mut(key(call_id)) {
            let old = existing.destination;
            *existing = call;
            return Some(if old == destination {
                Started::Unchanged
            } else {
                Started::Moved(old)
            });
        }
        if self.calls.len() >= max {
            return None;
        }
        self.calls.insert(key(call_id).into(), call);
        self.next_sweep
            .get_or_insert(now + expiry.min(SWEEP_INTERVAL));
        Some(Started::New)
    }

    /// Stop tracking `call_id`; the destination it was on.
    pub(crate) fn end(&mut self, call_id: &[u8]) -> Option<DestinationId> {
        let call = self.calls.remove(key(call_id))?;
        if self.calls.is_empty() {
            self.next_sweep = None;
        }
        Some(call.destination)
    }

    /// The destination `call_id` is on.
    pub(crate) fn destination_of(&self, call_id: &[u8]) -> Option<DestinationId> {
        self.calls.get(key(call_id)).map(|c| c.destination)
    }

    /// Drop calls older than `expiry` if a sweep is due; calls `expired` with each one's destination.
    pub(crate) fn sweep(
        &mut self,
        now: Instant,
        expiry: Duration,
        mut expired: impl FnMut(DestinationId),
    ) {
        match self.next_sweep {
            Some(at) if at <= now => {}
            _ => return,
        }
        self.calls.retain(|_, call| {
            let alive = now.saturating_duration_since(call.started) < expiry;
            if !alive {
                expired(call.destination);
            }
            alive
        });
        self.next_sweep = (!self.calls.is_empty()).then(|| now + expiry.min(SWEEP_INTERVAL));
    }

    pub(crate) fn next_sweep(&self) -> Option<Instant> {
        self.next_sweep
    }

    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn restarting_a_call_elsewhere_reports_the_move() {
        let t0 = Instant::now();
        let mut t = CallTable::default();
        assert!(matches!(
            t.start(b"c1", DestinationId(1), t0, 10, HOUR),
            Some(Started::New)
        ));
        assert!(matches!(
            t.start(b"c1", DestinationId(1), t0, 10, HOUR),
            Some(Started::Unchanged)
        ));
        assert!(matches!(
            t.start(b"c1", DestinationId(2), t0, 10, HOUR),
            Some(Started::Moved(DestinationId(1)))
        ));
        assert_eq!(t.end(b"c1"), Some(DestinationId(2)));
        assert_eq!(t.end(b"c1"), None);
    }

    #[test]
    fn refuses_calls_beyond_the_limit() {
        let t0 = Instant::now();
        let mut t = CallTable::default();
        assert!(t.start(b"a", DestinationId(1), t0, 1, HOUR).is_some());
        assert!(t.start(b"b", DestinationId(1), t0, 1, HOUR).is_none());
    }

    #[test]
    fn sweep_expires_old_calls_only() {
        let t0 = Instant::now();
        let mut t = CallTable::default();
        t.start(b"old", DestinationId(1), t0, 10, Duration::from_secs(60));
        t.start(
            b"new",
            DestinationId(2),
            t0 + Duration::from_secs(50),
            10,
            Duration::from_secs(60),
        );
        let mut gone = Vec::new();
        t.sweep(t0 + Duration::from_secs(61), Duration::from_secs(60), |d| {
            gone.push(d)
        });
        assert_eq!(gone, [DestinationId(1)]);
        assert_eq!(t.len(), 1);
        assert!(t.next_sweep().is_some());
    }

    #[test]
    fn long_call_ids_are_tracked_by_their_prefix() {
        let t0 = Instant::now();
        let mut t = CallTable::default();
        let long = vec![b'x'; MAX_CALL_ID_LEN * 2];
        t.start(&long, DestinationId(1), t0, 10, HOUR);
        assert_eq!(t.destination_of(&long), Some(DestinationId(1)));
    }
}
