//! Driving the dispatcher's probes with sip-core's transaction layer.
//!
//! The [`Dispatcher`](crate::Dispatcher) only says which probe to send and when; the application sends it
//! in a client transaction and reports how it ended. [`ProbeTransactions`] keeps the link between the two:
//!
//! 1. Drain [`Dispatcher::poll_probe`](crate::Dispatcher::poll_probe); send each
//!    [`ProbeRequest::request`](crate::ProbeRequest) with `TransactionLayer::send_request` to the
//!    destination's address (resolve [`ProbeRequest::uri`](crate::ProbeRequest) per RFC 3263) and record
//!    the pair with [`ProbeTransactions::sent`].
//! 2. Give every `TransactionEvent` to [`ProbeTransactions::outcome`]; when it returns a probe and its
//!    outcome, pass them to [`Dispatcher::handle_probe_reply`](crate::Dispatcher::handle_probe_reply).
//! 3. Sleep until the earlier of [`Dispatcher::poll_timeout`](crate::Dispatcher::poll_timeout) and the
//!    transaction layer's `poll_timeout`, then call both `handle_timeout`s and start again.
//!
//! In an async application that is one task holding the dispatcher behind a mutex (selection takes the
//! same lock), roughly:
//!
//! ```ignore
//! loop {
//!     let now = Instant::now();
//!     let mut d = dispatcher.lock();
//!     d.handle_timeout(now);
//!     while let Some(probe) = d.poll_probe(now) {
//!         let target = resolve(&probe.uri, probe.transport).await?;
//!         let tx = endpoint.send_request(now, probe.request, target)?;
//!         probes.sent(tx, probe.id);
//!     }
//!     let wake = d.poll_timeout();
//!     drop(d);
//!     tokio::select! {
//!         event = endpoint.next_event() => if let Some((id, outcome)) = probes.outcome(&event) {
//!             dispatcher.lock().handle_probe_reply(id, outcome, Instant::now());
//!         },
//!         _ = sleep_until(wake) => {}
//!     }
//! }
//! ```
//!
//! The same loop, fully in memory (the destination answers 200, so it stays active):
//!
//! ```
//! use std::time::Instant;
//! use tandem_dispatcher::driver::ProbeTransactions;
//! use tandem_dispatcher::{Dispatcher, DispatcherConfig, DispatcherList, DestinationState};
//! use tandem_sip_core::transaction::{Target, TransactionLayer, TransportKind};
//! use tandem_sip_core::{parse_message, Response, StatusCode};
//!
//! let now = Instant::now();
//! let list = DispatcherList::parse("1 sip:192.0.2.1:5080").unwrap();
//! let mut dispatcher = Dispatcher::new(list, DispatcherConfig::default(), now);
//! let mut layer = TransactionLayer::new(Default::default());
//! let mut probes = ProbeTransactions::default();
//! let target = Target::new(TransportKind::Udp, "192.0.2.1:5080".parse().unwrap());
//!
//! while let Some(probe) = dispatcher.poll_probe(now) {
//!     let tx = layer.send_request(now, probe.request, target).unwrap();
//!     probes.sent(tx, probe.id);
//! }
//! // The OPTIONS goes out; the destination answers 200 OK.
//! let sent = layer.poll_transmit().unwrap();
//! let request = parse_message(sent.payload).unwrap();
//! let ok = Response::from_request(request.as_request().unwrap(), StatusCode::OK, Some("t")).build();
//! layer.handle_incoming(now, ok.into(), target).unwrap();
//!
//! while let Some(event) = layer.poll_event() {
//!     if let Some((probe, outcome)) = probes.outcome(&event) {
//!         assert!(dispatcher.handle_probe_reply(probe, outcome, now));
//!     }
//! }
//! let id = dispatcher.destinations(1).next().unwrap();
//! assert_eq!(dispatcher.state(id), Some(DestinationState::Active));
//! assert_eq!(dispatcher.latency(id).unwrap().count(), 1);
//! ```

use crate::probe::{ProbeId, ProbeOutcome};
use std::collections::HashMap;
use tandem_sip_core::transaction::{TransactionEvent, TransactionId};

/// Which client transaction carries which probe, and how transaction events end probes.
#[derive(Debug, Default)]
pub struct ProbeTransactions {
    probes: HashMap<TransactionId, ProbeId>,
}

impl ProbeTransactions {
    /// Probe `probe` was sent in client transaction `transaction`.
    pub fn sent(&mut self, transaction: TransactionId, probe: ProbeId) {
        self.probes.insert(transaction, probe);
    }

    /// The probe a transaction event ends, with its outcome: a final response, a timeout or a transport
    /// error. Provisional responses and events of other transactions give `None`; a terminated transaction
    /// is forgotten.
    pub fn outcome(&mut self, event: &TransactionEvent) -> Option<(ProbeId, ProbeOutcome)> {
        let (id, outcome) = match event {
            TransactionEvent::Response { id, response } if response.status().is_final() => {
                (id, ProbeOutcome::Response(response.status()))
            }
            TransactionEvent::Timeout { id, .. } => (id, ProbeOutcome::Timeout),
            TransactionEvent::TransportError { id } => (id, ProbeOutcome::TransportError),
            TransactionEvent::Terminated { id } => {
                self.probes.remove(id);
                return None;
            }
            _ => return None,
        };
        Some((self.probes.remove(id)?, outcome))
    }

    /// Probes whose transaction has not ended yet.
    pub fn len(&self) -> usize {
        self.probes.len()
    }

    /// Whether no probe is waiting for its transaction.
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }
}
