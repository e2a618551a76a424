//! The outcome of a selection: the ordered destinations to try, and failover through them.

use crate::algorithm::Algorithm;
use crate::destination::{Destination, DestinationId, SendSocket};
use std::sync::Arc;
use tandem_sip_core::{StatusCode, TransportKind, Uri};

/// A destination picked for a request: its id and a shared copy of its list entry, still valid after the
/// dispatcher reloads.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub(crate) id: DestinationId,
    pub(crate) set_id: u32,
    pub(crate) destination: Arc<Destination>,
}

impl Candidate {
    /// The destination's id (for [`crate::Dispatcher::call_started`] and state queries).
    pub fn id(&self) -> DestinationId {
        self.id
    }

    /// The set it was picked from.
    pub fn set_id(&self) -> u32 {
        self.set_id
    }

    /// Where to send the request (the next hop: Kamailio sets it as the destination URI, `$du`).
    pub fn uri(&self) -> &Uri {
        &self.destination.uri
    }

    /// The transport the URI asks for.
    pub fn transport(&self) -> TransportKind {
        self.destination.transport()
    }

    /// The local socket to send from, if the destination names one.
    pub fn socket(&self) -> Option<&SendSocket> {
        self.destination.attrs.socket()
    }

    /// The whole list entry (flags, priority, attributes as loaded).
    pub fn destination(&self) -> &Destination {
        &self.destination
    }
}

/// The destinations to try for one request, in order: the algorithm's pick first, then the failover order.
///
/// A selection owns what it needs, so it stays usable while the dispatcher reloads or changes states; the
/// dispatcher re-checks each destination's current state when failing over
/// ([`crate::Dispatcher::on_failure`]).
#[derive(Debug, Clone)]
pub struct Selection {
    set_id: u32,
    algorithm: Algorithm,
    candidates: Vec<Candidate>,
    current: usize,
}

impl Selection {
    pub(crate) fn new(set_id: u32, algorithm: Algorithm, candidates: Vec<Candidate>) -> Selection {
        Selection {
            set_id,
            algorithm,
            candidates,
            current: 0,
        }
    }

    /// The set the destinations come from.
    pub fn set_id(&self) -> u32 {
        self.set_id
    }

    /// The algorithm that ordered them.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The destination to use now: the first pick, or the one failed over to; `None` once exhausted.
    pub fn current(&self) -> Option<&Candidate> {
        self.candidates.get(self.current)
    }

    /// Every destination, in the order they are tried (for parallel forking with [`Algorithm::Parallel`]).
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The destinations not tried yet, after the current one.
    pub fn remaining(&self) -> &[Candidate] {
        self.candidates
            .get(self.current.saturating_add(1)..)
            .unwrap_or_default()
    }

    /// How many destinations have been tried, counting the current one.
    pub fn attempts(&self) -> usize {
        (self.current + 1).min(self.candidates.len())
    }

    /// Move to the next candidate.
    pub(crate) fn advance(&mut self) -> Option<&Candidate> {
        self.current = (self.current + 1).min(self.candidates.len());
        self.candidates.get(self.current)
    }
}

/// Why a request to a destination failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// No final response in time (Timer B or F, RFC 3261 §17.1).
    Timeout,
    /// The transport could not deliver the request (connection refused, ICMP error, …).
    TransportError,
    /// A final non-2xx response.
    Status(StatusCode),
}

/// What to do after a failure ([`crate::Dispatcher::on_failure`]).
#[derive(Debug, Clone)]
pub enum Failover {
    /// Retry the request at this destination (now also [`Selection::current`]).
    Next(Candidate),
    /// Every candidate has been tried: answer upstream with the last response (or 408/503 on timeout).
    Exhausted,
    /// The response is not one that fails over (e.g. `486 Busy Here`): relay it upstream.
    Final,
}
