//! Consent freshness (RFC 7675) as seen by a lite agent: every authenticated check (or authenticated media)
//! refreshes consent; a silence longer than the timeout withdraws it.

use std::time::{Duration, Instant};

/// The liveness clock of one ICE session.
#[derive(Debug, Clone)]
pub(crate) struct Consent {
    timeout: Duration,
    /// When consent was last refreshed; `None` until the first valid check arms the timer.
    last_refresh: Option<Instant>,
    expired: bool,
}

impl Consent {
    pub(crate) fn new(timeout: Duration) -> Self {
        Consent {
            timeout,
            last_refresh: None,
            expired: false,
        }
    }

    /// Records liveness at `now` (arming the timer on the first call). Ignored once consent has expired.
    pub(crate) fn refresh(&mut self, now: Instant) {
        if self.expired {
            return;
        }
        // Inputs may arrive slightly out of order; never move the clock backwards.
        self.last_refresh = Some(self.last_refresh.map_or(now, |last| last.max(now)));
    }

    /// When consent expires unless refreshed; `None` when unarmed, expired, or beyond `Instant`'s range.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.expired {
            return None;
        }
        self.last_refresh?.checked_add(self.timeout)
    }

    /// Expires consent if its deadline has passed; returns whether this call expired it.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.deadline() {
            Some(deadline) if now >= deadline => {
                self.expired = true;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn is_expired(&self) -> bool {
        self.expired
    }

    /// After an ICE restart of an expired session: unexpired and unarmed until the next valid check.
    pub(crate) fn revive(&mut self) {
        if self.expired {
            self.expired = false;
            self.last_refresh = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unarmed_consent_never_expires() {
        let mut consent = Consent::new(Duration::from_secs(30));
        let start = Instant::now();
        assert_eq!(consent.deadline(), None);
        assert!(!consent.handle_timeout(start + Duration::from_secs(3600)));
    }

    #[test]
    fn expires_once_after_the_timeout_since_the_last_refresh() {
        let start = Instant::now();
        let mut consent = Consent::new(Duration::from_secs(30));
        consent.refresh(start);
        consent.refresh(start + Duration::from_secs(20));
        assert!(!consent.handle_timeout(start + Duration::from_secs(49)));
        assert!(consent.handle_timeout(start + Duration::from_secs(50)));
        assert!(consent.is_expired());
        assert!(!consent.handle_timeout(start + Duration::from_secs(60)));
        consent.refresh(start + Duration::from_secs(61));
        assert!(consent.is_expired());
    }

    #[test]
    fn late_refresh_does_not_move_the_clock_back() {
        let start = Instant::now();
        let mut consent = Consent::new(Duration::from_secs(30));
        consent.refresh(start + Duration::from_secs(10));
        consent.refresh(start);
        assert_eq!(consent.deadline(), Some(start + Duration::from_secs(40)));
    }

    #[test]
    fn huge_timeout_does_not_overflow() {
        let mut consent = Consent::new(Duration::MAX);
        consent.refresh(Instant::now());
        assert_eq!(consent.deadline(), None);
    }
}
