//! Replies remembered by cookie, so that a retransmitted request is answered again instead of executed
//! again (Kamailio resends the same datagram, cookie included, when a reply is late; executing an offer
//! twice would allocate a second set of ports).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// A request is identified by who sent it and its cookie.
pub(crate) type CookieKey = (SocketAddr, Bytes);

/// What the cache knows about a cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Never seen (or expired): execute the request.
    Unknown,
    /// Seen and still executing: drop the retransmission; the reply will follow.
    InFlight,
    /// Answered: send this reply again.
    Answered(Bytes),
}

#[derive(Debug)]
struct Entry {
    /// Tells this entry apart from an older one with the same key in `order`.
    generation: u64,
    reply: Option<Bytes>,
}

/// Entries expire `ttl` after their request arrived; the oldest go first when a cap is reached.
#[derive(Debug)]
pub(crate) struct CookieCache {
    entries: HashMap<CookieKey, Entry>,
    /// Arrival order, which is also expiry order since every entry lives `ttl`.
    order: VecDeque<(Instant, u64, CookieKey)>,
    next_generation: u64,
    reply_bytes: usize,
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
}

impl CookieCache {
    pub(crate) fn new(ttl: Duration, max_entries: usize, max_bytes: usize) -> Self {
        CookieCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
            reply_bytes: 0,
            ttl,
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    pub(crate) fn lookup(&self, key: &CookieKey) -> Lookup {
        match self.entries.get(key) {
            None => Lookup::Unknown,
            Some(Entry { reply: None, .. }) => Lookup::InFlight,
            Some(Entry {
                reply: Some(reply), ..
            }) => Lookup::Answered(reply.clone()),
        }
    }

    /// Remember that `key`'s request is executing.
    pub(crate) fn begin(&mut self, now: Instant, key: CookieKey) {
        while self.entries.len() >= self.max_entries && self.evict_oldest() {}
        let generation = self.next_generation;
        self.next_generation += 1;
        if let Some(old) = self.entries.insert(
            key.clone(),
            Entry {
                generation,
                reply: None,
            },
        ) {
            self.forget_reply(&old);
        }
        self.order.push_back((now, generation, key));
    }

    /// Remember `reply` for `key`. A key that is no longer in flight (evicted, expired) is not re-added:
    /// the reply is sent once and forgotten.
    pub(crate) fn finish(&mut self, key: &CookieKey, reply: Bytes) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        self.reply_bytes += reply.len();
        if let Some(old) = entry.reply.replace(reply) {
            self.reply_bytes -= old.len();
        }
        while self.reply_bytes > self.max_bytes && self.evict_oldest() {}
    }

    /// Drop entries older than the TTL.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(&(arrived, ..)) = self.order.front() {
            if now.saturating_duration_since(arrived) < self.ttl {
                break;
            }
            self.evict_oldest();
        }
    }

    /// When the oldest entry expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.order.front().map(|&(arrived, ..)| arrived + self.ttl)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Remove the oldest entry; false if there was none.
    fn evict_oldest(&mut self) -> bool {
        let Some((_, generation, key)) = self.order.pop_front() else {
            return false;
        };
        // A key re-inserted after this record was queued has a newer generation; leave it.
        if self
            .entries
            .get(&key)
            .is_some_and(|e| e.generation == generation)
            && let Some(entry) = self.entries.remove(&key)
        {
            self.forget_reply(&entry);
        }
        true
    }

    fn forget_reply(&mut self, entry: &Entry) {
        if let Some(reply) = &entry.reply {
            self.reply_bytes -= reply.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(cookie: &'static str) -> CookieKey {
        (
            "127.0.0.1:5060".parse().unwrap(),
            Bytes::from_static(cookie.as_bytes()),
        )
    }

    #[test]
    fn remembers_a_request_from_in_flight_to_answered() {
        let now = Instant::now();
        let mut cache = CookieCache::new(Duration::from_secs(30), 16, 1 << 20);
        assert_eq!(cache.lookup(&key("1")), Lookup::Unknown);
        cache.begin(now, key("1"));
        assert_eq!(cache.lookup(&key("1")), Lookup::InFlight);
        cache.finish(&key("1"), Bytes::from_static(b"1 d6:result2:oke"));
        assert_eq!(
            cache.lookup(&key("1")),
            Lookup::Answered(Bytes::from_static(b"1 d6:result2:oke"))
        );
    }

    #[test]
    fn the_same_cookie_from_another_peer_is_another_request() {
        let mut cache = CookieCache::new(Duration::from_secs(30), 16, 1 << 20);
        cache.begin(Instant::now(), key("1"));
        let other = ("127.0.0.2:5060".parse().unwrap(), Bytes::from_static(b"1"));
        assert_eq!(cache.lookup(&other), Lookup::Unknown);
    }

    #[test]
    fn forgets_entries_after_the_ttl() {
        let start = Instant::now();
        let mut cache = CookieCache::new(Duration::from_secs(30), 16, 1 << 20);
        cache.begin(start, key("1"));
        cache.finish(&key("1"), Bytes::from_static(b"x"));
        cache.begin(start + Duration::from_secs(10), key("2"));
        assert_eq!(cache.next_expiry(), Some(start + Duration::from_secs(30)));
        cache.expire(start + Duration::from_secs(29));
        assert_eq!(cache.len(), 2);
        cache.expire(start + Duration::from_secs(30));
        assert_eq!(cache.lookup(&key("1")), Lookup::Unknown);
        assert_eq!(cache.lookup(&key("2")), Lookup::InFlight);
        assert_eq!(cache.reply_bytes, 0);
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let now = Instant::now();
        let mut cache = CookieCache::new(Duration::from_secs(30), 2, 1 << 20);
        for c in ["1", "2", "3"] {
            cache.begin(now, key(c));
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.lookup(&key("1")), Lookup::Unknown);
        assert_eq!(cache.lookup(&key("3")), Lookup::InFlight);
    }

    #[test]
    fn evicts_the_oldest_when_replies_exceed_the_byte_cap() {
        let now = Instant::now();
        let mut cache = CookieCache::new(Duration::from_secs(30), 16, 10);
        cache.begin(now, key("1"));
        cache.finish(&key("1"), Bytes::from(vec![0; 8]));
        cache.begin(now, key("2"));
        cache.finish(&key("2"), Bytes::from(vec![0; 8]));
        assert_eq!(cache.lookup(&key("1")), Lookup::Unknown);
        assert!(matches!(cache.lookup(&key("2")), Lookup::Answered(_)));
        assert_eq!(cache.reply_bytes, 8);
    }

    #[test]
    fn a_stale_order_record_does_not_remove_a_newer_entry() {
        let start = Instant::now();
        let mut cache = CookieCache::new(Duration::from_secs(30), 16, 1 << 20);
        cache.begin(start, key("1"));
        cache.begin(start + Duration::from_secs(20), key("1"));
        cache.expire(start + Duration::from_secs(31));
        assert_eq!(cache.lookup(&key("1")), Lookup::InFlight);
    }

    #[test]
    fn a_reply_for_an_evicted_request_is_not_cached() {
        let now = Instant::now();
        let mut cache = CookieCache::new(Duration::from_secs(30), 1, 1 << 20);
        cache.begin(now, key("1"));
        cache.begin(now, key("2"));
        cache.finish(&key("1"), Bytes::from_static(b"late"));
        assert_eq!(cache.lookup(&key("1")), Lookup::Unknown);
        assert_eq!(cache.reply_bytes, 0);
    }
}
