//! The NG control endpoint without I/O: datagrams in, datagrams (or requests to execute) out.
//!
//! The driver feeds every received datagram to [`NgEndpoint::handle_datagram`] with the current time and
//! the sender's address, and acts on the [`Action`]: send a reply, or execute the request against the
//! media engine and pass the engine's [`Reply`] to [`NgEndpoint::complete`], which returns the datagram to
//! send and remembers it for retransmissions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::bencode::{Limits, Value};
use super::cookie_cache::{CookieCache, Lookup};
use super::protocol::{Command, Frame, NgError, Request, encode_frame};
use super::reply::Reply;

/// Limits and timings of an [`NgEndpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Bounds on the bencoded dictionary.
    pub limits: Limits,
    /// Largest datagram accepted, cookie included (default 65 507, the largest UDP payload over IPv4).
    pub max_datagram: usize,
    /// Largest reply sent; a larger one is replaced by an error result (default 65 507).
    pub max_reply: usize,
    /// How long a reply is kept for retransmissions (default 30 s; Kamailio gives up well before).
    pub cache_ttl: Duration,
    /// Most requests remembered at once (default 65 536).
    pub cache_max_entries: usize,
    /// Most reply bytes remembered at once (default 64 MiB).
    pub cache_max_bytes: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            limits: Limits::default(),
            max_datagram: 65_507,
            max_reply: 65_507,
            cache_ttl: Duration::from_secs(30),
            cache_max_entries: 65_536,
            cache_max_bytes: 64 << 20,
        }
    }
}

/// Counters of an [`NgEndpoint`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NgStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Requests decoded (retransmissions answered from the cache not included).
    pub requests: u64,
    /// Retransmissions answered from the cache.
    pub retransmissions: u64,
    /// Retransmissions dropped because the original was still executing.
    pub retransmissions_in_flight: u64,
    /// Datagrams that were not a valid request (answered with an error result when they had a cookie).
    pub bad_datagrams: u64,
    /// Bad datagrams without a usable cookie, dropped without a reply.
    pub unanswerable: u64,
    /// Replies too large to send, replaced by an error result.
    pub oversized_replies: u64,
    /// Keys, flags and values reported as ignored.
    pub ignored_entries: u64,
}

/// What the driver does with a datagram.
#[derive(Debug)]
pub enum Action {
    /// Send this datagram back to the sender (a pong, or a cached reply to a retransmission).
    Reply(Bytes),
    /// Send this error result back to the sender; `error` says what was wrong, for a log line.
    Reject {
        /// The datagram to send.
        reply: Bytes,
        /// What was wrong with the request.
        error: NgError,
    },
    /// Execute the request against the media engine, then call [`NgEndpoint::complete`]. (Boxed: a
    /// request with its options is much larger than the other variants.)
    Execute(Box<Pending>),
    /// Send nothing. `Some(error)`: the datagram could not be framed, so there is no cookie to answer with.
    /// `None`: a retransmission of a request still executing; its reply is on the way.
    Drop(Option<NgError>),
}

/// A request waiting for the media engine.
#[derive(Debug)]
pub struct Pending {
    /// Who sent it; the reply goes there.
    pub peer: SocketAddr,
    /// Its cookie, to hand back to [`NgEndpoint::complete`].
    pub cookie: Bytes,
    /// The request.
    pub request: Request,
}

/// The sans-IO NG control endpoint: framing, decoding, the retransmission cache and counters.
#[derive(Debug)]
pub struct NgEndpoint {
    config: EndpointConfig,
    cache: CookieCache,
    stats: NgStats,
}

impl NgEndpoint {
    /// An endpoint with this configuration.
    pub fn new(config: EndpointConfig) -> Self {
        NgEndpoint {
            cache: CookieCache::new(
                config.cache_ttl,
                config.cache_max_entries,
                config.cache_max_bytes,
            ),
            config,
            stats: NgStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// The counters so far.
    pub fn stats(&self) -> NgStats {
        self.stats
    }

    /// Handle one received datagram.
    pub fn handle_datagram(&mut self, now: Instant, peer: SocketAddr, datagram: Bytes) -> Action {
        self.stats.datagrams += 1;
        self.cache.expire(now);
        let frame = match Frame::parse(&datagram) {
            Ok(frame) => frame,
            Err(error) => {
                self.stats.bad_datagrams += 1;
                self.stats.unanswerable += 1;
                return Action::Drop(Some(error));
            }
        };
        if datagram.len() > self.config.max_datagram {
            let error = NgError::TooLarge {
                length: datagram.len(),
                limit: self.config.max_datagram,
            };
            return self.reject(&frame.cookie, error);
        }
        // The cookie is copied out so that the cache does not keep the whole datagram alive.
        let key = (peer, Bytes::copy_from_slice(&frame.cookie));
        match self.cache.lookup(&key) {
            Lookup::Answered(reply) => {
                self.stats.retransmissions += 1;
                return Action::Reply(reply);
            }
            Lookup::InFlight => {
                self.stats.retransmissions_in_flight += 1;
                return Action::Drop(None);
            }
            Lookup::Unknown => {}
        }
        let request = match Request::decode(&frame.body, &self.config.limits) {
            Ok(request) => request,
            Err(error) => return self.reject(&frame.cookie, error),
        };
        self.stats.requests += 1;
        self.stats.ignored_entries += request.ignored.len() as u64;
        if request.command == Command::Ping {
            return Action::Reply(encode_frame(
                &frame.cookie,
                &Value::from(Reply::Pong.to_dict()),
            ));
        }
        let (peer, cookie) = key;
        self.cache.begin(now, (peer, cookie.clone()));
        Action::Execute(Box::new(Pending {
            peer,
            cookie,
            request,
        }))
    }

    /// The media engine's reply to a [`Pending`] request: returns the datagram to send, and remembers it
    /// for retransmissions of the same cookie.
    pub fn complete(&mut self, peer: SocketAddr, cookie: Bytes, reply: &Reply) -> Bytes {
        let mut datagram = encode_frame(&cookie, &Value::from(reply.to_dict()));
        if datagram.len() > self.config.max_reply {
            self.stats.oversized_replies += 1;
            let error = Reply::error(format_args!(
                "reply of {} bytes exceeds the limit of {}",
                datagram.len(),
                self.config.max_reply
            ));
            datagram = encode_frame(&cookie, &Value::from(error.to_dict()));
        }
        self.cache.finish(&(peer, cookie), datagram.clone());
        datagram
    }

    /// Drop remembered replies older than the TTL. [`NgEndpoint::handle_datagram`] does this too; call it
    /// at [`NgEndpoint::poll_timeout`] to release memory when no requests arrive.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.cache.expire(now);
    }

    /// When the oldest remembered reply expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.cache.next_expiry()
    }

    fn reject(&mut self, cookie: &[u8], error: NgError) -> Action {
        self.stats.bad_datagrams += 1;
        let reply = encode_frame(cookie, &Value::from(Reply::error(&error).to_dict()));
        Action::Reject { reply, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ng::bencode;
    use crate::ng::reply::SdpReply;

    const PEER: &str = "127.0.0.1:5060";

    fn peer() -> SocketAddr {
        PEER.parse().unwrap()
    }

    fn offer(cookie: &str) -> Bytes {
        Bytes::from(format!(
            "{cookie} d7:command5:offer7:call-id1:c8:from-tag1:f3:sdp3:v=0e"
        ))
    }

    /// The result dictionary of a reply datagram, checking its cookie.
    fn reply_dict(datagram: &Bytes, cookie: &str) -> bencode::Dict {
        let frame = Frame::parse(datagram).unwrap();
        assert_eq!(&frame.cookie[..], cookie.as_bytes());
        bencode::decode(&frame.body)
            .unwrap()
            .as_dict()
            .unwrap()
            .clone()
    }

    #[test]
    fn answers_ping_without_executing() {
        let mut ep = NgEndpoint::new(EndpointConfig::default());
        let action = ep.handle_datagram(
            Instant::now(),
            peer(),
            Bytes::from_static(b"5323_1 d7:command4:pinge"),
        );
        let Action::Reply(reply) = action else {
            panic!("{action:?}")
        };
        assert_eq!(&reply[..], b"5323_1 d6:result4:ponge");
    }

    #[test]
    fn executes_an_offer_once_and_answers_its_retransmission_from_the_cache() {
        let now = Instant::now();
        let mut ep = NgEndpoint::new(EndpointConfig::default());
        let Action::Execute(p) = ep.handle_datagram(now, peer(), offer("7_1")) else {
            panic!()
        };
        assert_eq!(p.request.command.name(), "offer");
        // Retransmitted while the engine works: dropped.
        assert!(matches!(
            ep.handle_datagram(now, peer(), offer("7_1")),
            Action::Drop(None)
        ));
        let sent = ep.complete(
            p.peer,
            p.cookie,
            &Reply::Sdp(SdpReply::new("v=0 rewritten")),
        );
        // Retransmitted after the reply: the same bytes again, not a second execution.
        let Action::Reply(again) = ep.handle_datagram(now, peer(), offer("7_1")) else {
            panic!()
        };
        assert_eq!(again, sent);
        let stats = ep.stats();
        assert_eq!(
            (
                stats.requests,
                stats.retransmissions,
                stats.retransmissions_in_flight
            ),
            (1, 1, 1)
        );
    }

    #[test]
    fn executes_again_once_the_cached_reply_expired() {
        let start = Instant::now();
        let mut ep = NgEndpoint::new(EndpointConfig::default());
        let Action::Execute(p) = ep.handle_datagram(start, peer(), offer("7_1")) else {
            panic!()
        };
        ep.complete(p.peer, p.cookie, &Reply::Sdp(SdpReply::new("x")));
        assert_eq!(ep.poll_timeout(), Some(start + Duration::from_secs(30)));
        let later = start + Duration::from_secs(31);
        assert!(matches!(
            ep.handle_datagram(later, peer(), offer("7_1")),
            Action::Execute(_)
        ));
    }

    #[test]
    fn answers_malformed_bencode_with_an_error_result() {
        let mut ep = NgEndpoint::new(EndpointConfig::default());
        let action = ep.handle_datagram(
            Instant::now(),
            peer(),
            Bytes::from_static(b"9_9 d7:commande"),
        );
        let Action::Reject { reply, error } = action else {
            panic!()
        };
        assert!(matches!(error, NgError::Bencode(_)));
        let d = reply_dict(&reply, "9_9");
        assert_eq!(d.get(b"result").and_then(Value::as_str), Some("error"));
        let reason = d.get(b"error-reason").and_then(Value::as_str).unwrap();
        assert!(reason.starts_with("malformed bencode"), "{reason}");
        assert_eq!(ep.stats().bad_datagrams, 1);
    }

    #[test]
    fn drops_a_datagram_without_cookie_and_counts_it() {
        let mut ep = NgEndpoint::new(EndpointConfig::default());
        let action = ep.handle_datagram(Instant::now(), peer(), Bytes::from_static(b"garbage"));
        assert!(matches!(action, Action::Drop(Some(NgError::MissingCookie))));
        assert_eq!((ep.stats().bad_datagrams, ep.stats().unanswerable), (1, 1));
    }

    #[test]
    fn rejects_a_datagram_over_the_size_limit() {
        let mut ep = NgEndpoint::new(EndpointConfig {
            max_datagram: 20,
            ..EndpointConfig::default()
        });
        let action = ep.handle_datagram(Instant::now(), peer(), offer("1"));
        assert!(matches!(
            action,
            Action::Reject {
                error: NgError::TooLarge { .. },
                ..
            }
        ));
    }

    #[test]
    fn replaces_an_oversized_reply_with_an_error() {
        let mut ep = NgEndpoint::new(EndpointConfig {
            max_reply: 100,
            ..EndpointConfig::default()
        });
        let Action::Execute(p) = ep.handle_datagram(Instant::now(), peer(), offer("1")) else {
            panic!()
        };
        let sent = ep.complete(
            p.peer,
            p.cookie,
            &Reply::Sdp(SdpReply::new(vec![b'a'; 500])),
        );
        let d = reply_dict(&sent, "1");
        assert_eq!(d.get(b"result").and_then(Value::as_str), Some("error"));
        assert_eq!(ep.stats().oversized_replies, 1);
    }

    #[test]
    fn counts_ignored_entries() {
        let mut ep = NgEndpoint::new(EndpointConfig::default());
        let d = Bytes::from_static(b"1 d7:command4:ping3:fooi1e3:bari2ee");
        assert!(matches!(
            ep.handle_datagram(Instant::now(), peer(), d),
            Action::Reply(_)
        ));
        assert_eq!(ep.stats().ignored_entries, 2);
    }
}
