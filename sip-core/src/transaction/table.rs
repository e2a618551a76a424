//! The transaction table: owns every transaction, routes messages to them (RFC 3261 §17.1.3, §17.2.3),
//! keeps their deadlines in one ordered set and removes them when they terminate.

use super::cancel::build_cancel;
use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::key::{ClientKey, ServerKey, to_tag};
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::{
    Outbox, Target, TimerConfig, TransactionError, TransactionEvent, TransactionId,
    TransactionState, Transmit,
};
use crate::message::{Message, Request, Response};
use crate::method::Method;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

/// Every client and server transaction of one SIP element, driven by its caller (see the
/// [module documentation](super) for the contract).
///
/// Transactions are removed as soon as they terminate, after a [`TransactionEvent::Terminated`]; a
/// layer whose timers have all fired holds nothing.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TimerConfig,
    next_id: u64,
    entries: HashMap<TransactionId, Entry>,
    client_keys: HashMap<ClientKey, TransactionId>,
    server_keys: HashMap<ServerKey, TransactionId>,
    /// Each transaction's next deadline, earliest first.
    deadlines: BTreeSet<(Instant, TransactionId)>,
    /// Scratch list of the transactions due in [`TransactionLayer::handle_timeout`].
    due: Vec<TransactionId>,
    out: Outbox,
    /// Responses dropped because they matched no client transaction (RFC 6026 §8.9).
    stray_responses: u64,
}

#[derive(Debug)]
struct Entry {
    machine: Machine,
    keys: Keys,
    /// The deadline this entry has in `deadlines`.
    deadline: Option<Instant>,
    /// For a client INVITE: the CANCEL waiting for its first provisional response.
    held_cancel: Option<TransactionId>,
}

/// One transaction's state machine. The INVITE machines keep a whole request and are boxed, so that an
/// entry of the table is sized for the non-INVITE ones (a registration burst keeps 10,000 of those for
/// Timer J): ~350 bytes per slot instead of ~800.
#[derive(Debug)]
enum Machine {
    ClientInvite(Box<ClientInvite>),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(Box<ServerInvite>),
    ServerNonInvite(ServerNonInvite),
    /// A CANCEL that may not be sent yet (RFC 3261 §9.1: not before a provisional response).
    HeldCancel {
        request: Box<Request>,
        target: Target,
    },
}

#[derive(Debug)]
enum Keys {
    Client(ClientKey),
    Server {
        request: ServerKey,
        /// RFC 2543 only: the key the ACK will carry (with the To tag of the final response).
        ack: Option<Box<ServerKey>>,
    },
}

impl Machine {
    fn state(&self) -> TransactionState {
        match self {
            Machine::ClientInvite(tx) => tx.state(),
            Machine::ClientNonInvite(tx) => tx.state(),
            Machine::ServerInvite(tx) => tx.state(),
            Machine::ServerNonInvite(tx) => tx.state(),
            Machine::HeldCancel { .. } => TransactionState::Waiting,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        match self {
            Machine::ClientInvite(tx) => tx.next_deadline(),
            Machine::ClientNonInvite(tx) => tx.next_deadline(),
            Machine::ServerInvite(tx) => tx.next_deadline(),
            Machine::ServerNonInvite(tx) => tx.next_deadline(),
            Machine::HeldCancel { .. } => None,
        }
    }

    fn on_timeout(&mut self, now: Instant, config: &TimerConfig, out: &mut Outbox) {
        match self {
            Machine::ClientInvite(tx) => tx.on_timeout(now, out),
            Machine::ClientNonInvite(tx) => tx.on_timeout(now, config, out),
            Machine::ServerInvite(tx) => tx.on_timeout(now, config, out),
            Machine::ServerNonInvite(tx) => tx.on_timeout(now, out),
            Machine::HeldCancel { .. } => {}
        }
    }

    fn on_transport_error(&mut self, out: &mut Outbox) {
        match self {
            Machine::ClientInvite(tx) => tx.on_transport_error(out),
            Machine::ClientNonInvite(tx) => tx.on_transport_error(out),
            Machine::ServerInvite(tx) => tx.on_transport_error(out),
            Machine::ServerNonInvite(tx) => tx.on_transport_error(out),
            // Nothing was sent yet, so nothing can have failed.
            Machine::HeldCancel { .. } => {}
        }
    }
}

impl Default for TransactionLayer {
    fn default() -> TransactionLayer {
        TransactionLayer::new(TimerConfig::DEFAULT)
    }
}

impl TransactionLayer {
    /// An empty layer using `config`'s timer values.
    pub fn new(config: TimerConfig) -> TransactionLayer {
        TransactionLayer {
            config: config.sanitized(),
            next_id: 0,
            entries: HashMap::new(),
            client_keys: HashMap::new(),
            server_keys: HashMap::new(),
            deadlines: BTreeSet::new(),
            due: Vec::new(),
            out: Outbox::default(),
            stray_responses: 0,
        }
    }

    /// How many received responses matched no client transaction and were dropped (RFC 6026 §8.9), since
    /// the layer was created. Elements count these as stray or forged traffic.
    pub fn stray_responses(&self) -> u64 {
        self.stray_responses
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state of transaction `id`; `None` once it has terminated (or if it never existed).
    pub fn state(&self, id: TransactionId) -> Option<TransactionState> {
        self.entries.get(&id).map(|e| e.machine.state())
    }

    /// Start a client transaction sending `request` to `target` (RFC 3261 §17.1).
    ///
    /// The request must carry a top Via with an RFC 3261 branch (`z9hG4bK…`, unique per transaction, RFC
    /// 3261 §8.1.1.7) and a CSeq naming its method. ACK is refused: the ACK for a non-2xx response is built
    /// by the INVITE transaction and the ACK for a 2xx is sent by the TU outside any transaction.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        target: Target,
    ) -> Result<TransactionId, TransactionError> {
        let key = ClientKey::for_request(&request)?;
        if self.client_keys.contains_key(&key) {
            return Err(TransactionError::DuplicateTransaction);
        }
        let id = self.allocate_id();
        let wire = request.to_bytes();
        let machine = if *request.method() == Method::Invite {
            Machine::ClientInvite(Box::new(ClientInvite::start(
                id,
                request,
                wire,
                target,
                now,
                &self.config,
                &mut self.out,
            )))
        } else {
            Machine::ClientNonInvite(ClientNonInvite::start(
                id,
                wire,
                target,
                now,
                &self.config,
                &mut self.out,
            ))
        };
        self.client_keys.insert(key.clone(), id);
        self.insert(id, machine, Keys::Client(key));
        Ok(id)
    }

    /// Cancel client INVITE transaction `invite` (RFC 3261 §9.1): build its CANCEL ([`build_cancel`]) and
    /// send it in a new client transaction, whose id is returned and whose response comes as a
    /// [`TransactionEvent::Response`].
    ///
    /// Before any provisional response the CANCEL is held back ([`TransactionState::Waiting`]) and sent when
    /// one arrives; if a final response arrives instead, it is never sent and simply terminates. After a
    /// final response it is refused with [`TransactionError::InvalidState`]. Once the CANCEL is sent, the
    /// INVITE transaction gives up 64·T1 later if no final response arrives ([`super::Timer::Cancel`]).
    pub fn cancel(
        &mut self,
        now: Instant,
        invite: TransactionId,
    ) -> Result<TransactionId, TransactionError> {
        let entry = self
            .entries
            .get(&invite)
            .ok_or(TransactionError::UnknownTransaction(invite))?;
        let Machine::ClientInvite(tx) = &entry.machine else {
            return Err(TransactionError::WrongKind(invite));
        };
        let state = tx.state();
        if !matches!(
            state,
            TransactionState::Calling | TransactionState::Proceeding
        ) {
            return Err(TransactionError::InvalidState(state));
        }
        let request = build_cancel(tx.invite())?;
        let target = tx.target();
        let key = ClientKey::for_request(&request)?;
        if self.client_keys.contains_key(&key) {
            return Err(TransactionError::DuplicateTransaction);
        }
        let id = self.allocate_id();
        self.client_keys.insert(key.clone(), id);
        self.insert(
            id,
            Machine::HeldCancel {
                request: Box::new(request),
                target,
            },
            Keys::Client(key),
        );
        if let Some(entry) = self.entries.get_mut(&invite) {
            entry.held_cancel = Some(id);
        }
        // Sends it right away if the INVITE is already in Proceeding.
        self.settle(invite, now);
        Ok(id)
    }

    /// Give server transaction `id` the TU's `response` to send (to where the request came from).
    ///
    /// Refused on a client transaction, after a final response (except further 2xx on an INVITE in the
    /// Accepted state, which the TU retransmits itself, RFC 3261 §13.3.1.4), and for what RFC 4320 forbids
    /// on non-INVITE requests.
    pub fn respond(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Response,
    ) -> Result<(), TransactionError> {
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or(TransactionError::UnknownTransaction(id))?;
        match &mut entry.machine {
            Machine::ServerInvite(tx) => {
                tx.respond(&response, now, &self.config, &mut self.out)?;
                if !response.status().is_provisional() {
                    Self::expect_legacy_ack(&mut self.server_keys, entry, id, &response);
                }
            }
            Machine::ServerNonInvite(tx) => {
                tx.respond(&response, now, &self.config, &mut self.out)?;
            }
            _ => return Err(TransactionError::WrongKind(id)),
        }
        self.settle(id, now);
        Ok(())
    }

    /// For an RFC 2543 INVITE: register the key its ACK will have, which carries the final response's To tag.
    fn expect_legacy_ack(
        server_keys: &mut HashMap<ServerKey, TransactionId>,
        entry: &mut Entry,
        id: TransactionId,
        response: &Response,
    ) {
        let Keys::Server { request, ack } = &mut entry.keys else {
            return;
        };
        if ack.is_some() {
            return;
        }
        if let Some(key) = request.with_to_tag(to_tag(response)) {
            server_keys.entry(key.clone()).or_insert(id);
            *ack = Some(Box::new(key));
        }
    }

    /// The INVITE server transaction that the CANCEL of server transaction `cancel` refers to (RFC 3261
    /// §9.2), if it still exists. The TU then answers the INVITE (487 if it has not sent a final response
    /// yet) and the CANCEL (200); with no INVITE found, it answers the CANCEL with 481.
    pub fn invite_for_cancel(&self, cancel: TransactionId) -> Option<TransactionId> {
        let entry = self.entries.get(&cancel)?;
        let Keys::Server { request, .. } = &entry.keys else {
            return None;
        };
        if *request.method() != Method::Cancel {
            return None;
        }
        let invite = *self.server_keys.get(&request.with_method(Method::Invite))?;
        match self.entries.get(&invite)?.machine {
            Machine::ServerInvite(_) => Some(invite),
            _ => None,
        }
    }

    /// Feed a message received from `source`: a response goes to its client transaction (and is dropped if
    /// it has none, RFC 6026 §8.9); a request goes to its server transaction as a retransmission or creates
    /// one ([`TransactionEvent::NewRequest`]); an ACK completes its INVITE server transaction or is handed to
    /// the TU ([`TransactionEvent::Ack`]).
    ///
    /// Fails, changing nothing, when the message lacks what matching needs (a parsable top Via and CSeq;
    /// for requests without an RFC 3261 branch also Call-ID, From and To).
    pub fn handle_incoming(
        &mut self,
        now: Instant,
        message: Message,
        source: Target,
    ) -> Result<(), TransactionError> {
        match message {
            Message::Request(request) => self.incoming_request(now, request, source),
            Message::Response(response) => self.incoming_response(now, response),
        }
    }

    fn incoming_request(
        &mut self,
        now: Instant,
        request: Request,
        source: Target,
    ) -> Result<(), TransactionError> {
        let key = ServerKey::for_request(&request)?;
        let existing = self.server_keys.get(&key).copied();
        if *request.method() == Method::Ack {
            self.incoming_ack(now, existing, request, source);
            return Ok(());
        }
        if let Some(id) = existing {
            match self.entries.get(&id).map(|e| &e.machine) {
                Some(Machine::ServerInvite(tx)) => tx.on_retransmission(&mut self.out),
                Some(Machine::ServerNonInvite(tx)) => tx.on_retransmission(&mut self.out),
                _ => {}
            }
            return Ok(());
        }
        let id = self.allocate_id();
        let machine = if *request.method() == Method::Invite {
            Machine::ServerInvite(Box::new(ServerInvite::new(
                id,
                request.clone(),
                source,
                now,
                &self.config,
            )))
        } else {
            Machine::ServerNonInvite(ServerNonInvite::new(id, source, now, &self.config))
        };
        // The key outlives the request (a non-INVITE transaction keeps only its key and response for Timer
        // J): its own copy of the few bytes, not slices pinning the whole datagram.
        let key = key.detached();
        self.server_keys.insert(key.clone(), id);
        self.insert(
            id,
            machine,
            Keys::Server {
                request: key,
                ack: None,
            },
        );
        self.out.event(TransactionEvent::NewRequest {
            id,
            request,
            source,
        });
        Ok(())
    }

    fn incoming_ack(
        &mut self,
        now: Instant,
        existing: Option<TransactionId>,
        ack: Request,
        source: Target,
    ) {
        let invite = existing.and_then(|id| match self.entries.get_mut(&id) {
            Some(Entry {
                machine: Machine::ServerInvite(tx),
                ..
            }) => Some((id, tx)),
            _ => None,
        });
        let Some((id, tx)) = invite else {
            self.out.event(TransactionEvent::Ack {
                id: None,
                request: ack,
                source,
            });
            return;
        };
        tx.on_ack(ack, source, now, &self.config, &mut self.out);
        self.settle(id, now);
    }

    fn incoming_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), TransactionError> {
        let Some(key) = ClientKey::for_response(&response)? else {
            self.stray_responses += 1;
            return Ok(());
        };
        let Some(&id) = self.client_keys.get(&key) else {
            self.stray_responses += 1;
            return Ok(());
        };
        match self.entries.get_mut(&id).map(|e| &mut e.machine) {
            Some(Machine::ClientInvite(tx)) => {
                tx.on_response(response, now, &self.config, &mut self.out)
            }
            Some(Machine::ClientNonInvite(tx)) => {
                tx.on_response(response, now, &self.config, &mut self.out)
            }
            _ => return Ok(()),
        }
        self.settle(id, now);
        Ok(())
    }

    /// The driver could not send a message of transaction `id` (connection refused, ICMP unreachable, …):
    /// the transaction reports [`TransactionEvent::TransportError`] and terminates. Unknown ids are ignored
    /// (the transaction may have ended meanwhile).
    pub fn handle_transport_error(&mut self, now: Instant, id: TransactionId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        entry.machine.on_transport_error(&mut self.out);
        self.settle(id, now);
    }

    /// Fire every timer due at `now`: retransmissions, timeouts, the end of waiting states.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        due.extend(
            self.deadlines
                .iter()
                .take_while(|(at, _)| *at <= now)
                .map(|(_, id)| *id),
        );
        // Each due transaction fires once per call, so a long pause in the driver does not burst.
        for &id in &due {
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.machine.on_timeout(now, &self.config, &mut self.out);
                self.settle(id, now);
            }
        }
        let expired = !due.is_empty();
        // The scratch list keeps the room of a usual tick, not of the largest expiry burst.
        due.clear();
        due.shrink_to(QUEUE_KEEP);
        self.due = due;
        if expired {
            shrink_when_sparse(&mut self.entries);
            shrink_when_sparse(&mut self.client_keys);
            shrink_when_sparse(&mut self.server_keys);
        }
    }

    /// When [`TransactionLayer::handle_timeout`] should next be called; `None` while no timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The next message to send, in the order the transactions produced them.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.out.transmits.pop_front();
        if transmit.is_none() {
            release_drained(&mut self.out.transmits);
        }
        transmit
    }

    /// The next event for the TU, in order.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        let event = self.out.events.pop_front();
        if event.is_none() {
            release_drained(&mut self.out.events);
        }
        event
    }

    fn allocate_id(&mut self) -> TransactionId {
        self.next_id += 1;
        TransactionId(self.next_id)
    }

    fn insert(&mut self, id: TransactionId, machine: Machine, keys: Keys) {
        let deadline = machine.next_deadline();
        if let Some(at) = deadline {
            self.deadlines.insert((at, id));
        }
        self.entries.insert(
            id,
            Entry {
                machine,
                keys,
                deadline,
                held_cancel: None,
            },
        );
    }

    /// After transaction `id` changed: move its deadline, release or drop its held CANCEL, and remove it if
    /// it terminated.
    fn settle(&mut self, id: TransactionId, now: Instant) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let held = held_cancel_fate(entry, now, &self.config);
        let next = entry.machine.next_deadline();
        if next != entry.deadline {
            if let Some(old) = entry.deadline {
                self.deadlines.remove(&(old, id));
            }
            if let Some(at) = next {
                self.deadlines.insert((at, id));
            }
            entry.deadline = next;
        }
        let terminated = entry.machine.state() == TransactionState::Terminated;
        match held {
            Some(HeldCancelFate::Send(cancel)) => self.send_held_cancel(cancel, now),
            Some(HeldCancelFate::Drop(cancel)) => self.remove(cancel),
            None => {}
        }
        if terminated {
            self.remove(id);
        }
    }

    fn send_held_cancel(&mut self, cancel: TransactionId, now: Instant) {
        let Some(entry) = self.entries.get_mut(&cancel) else {
            return;
        };
        let Machine::HeldCancel { request, target } = &entry.machine else {
            return;
        };
        let (wire, target) = (request.to_bytes(), *target);
        entry.machine = Machine::ClientNonInvite(ClientNonInvite::start(
            cancel,
            wire,
            target,
            now,
            &self.config,
            &mut self.out,
        ));
        self.settle(cancel, now);
    }

    fn remove(&mut self, id: TransactionId) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        if let Some(at) = entry.deadline {
            self.deadlines.remove(&(at, id));
        }
        match entry.keys {
            Keys::Client(key) => remove_key(&mut self.client_keys, &key, id),
            Keys::Server { request, ack } => {
                remove_key(&mut self.server_keys, &request, id);
                if let Some(ack) = ack {
                    remove_key(&mut self.server_keys, &ack, id);
                }
            }
        }
        if let Some(cancel) = entry.held_cancel {
            self.remove(cancel);
        }
        self.out.event(TransactionEvent::Terminated { id });
    }
}

enum HeldCancelFate {
    Send(TransactionId),
    Drop(TransactionId),
}

/// What becomes of a client INVITE's held CANCEL: sent once the INVITE is in Proceeding (which then starts
/// its §9.1 give-up timer), dropped once it has a final response or ended.
fn held_cancel_fate(
    entry: &mut Entry,
    now: Instant,
    config: &TimerConfig,
) -> Option<HeldCancelFate> {
    let Machine::ClientInvite(tx) = &mut entry.machine else {
        return None;
    };
    let cancel = entry.held_cancel?;
    match tx.state() {
        TransactionState::Calling => None,
        TransactionState::Proceeding => {
            entry.held_cancel = None;
            tx.cancel_sent(now, config);
            Some(HeldCancelFate::Send(cancel))
        }
        _ => {
            entry.held_cancel = None;
            Some(HeldCancelFate::Drop(cancel))
        }
    }
}

fn remove_key<K: std::hash::Hash + Eq>(
    keys: &mut HashMap<K, TransactionId>,
    key: &K,
    id: TransactionId,
) {
    if keys.get(key) == Some(&id) {
        keys.remove(key);
    }
}

/// Tables at most this large are never shrunk.
const SHRINK_ABOVE: usize = 1024;

/// Give a burst's memory back: a hash map keeps its largest capacity, so after a registration storm of
/// 10,000 REGISTERs the transaction tables would hold room for 10,000 transactions (~1 KiB each) for
/// ever. Shrinking to twice the live count only when under a quarter is used keeps the rehash amortised.
fn shrink_when_sparse<K: Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > SHRINK_ABOVE && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// Drained queues keep room for at most this many messages or events.
const QUEUE_KEEP: usize = 256;

/// Free a drained queue that a burst grew beyond [`QUEUE_KEEP`] entries: the end of a registration storm
/// reports thousands of Timer J expiries at once, and the queue would keep their room (~350 bytes per
/// event) for ever.
fn release_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > QUEUE_KEEP {
        queue.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Timer, TransactionError, TransactionEvent, TransactionState};
    use crate::header::HeaderName;
    use crate::message::Message;
    use crate::method::{Method, StatusCode};

    fn method_of(message: &Message) -> Option<&Method> {
        message.as_request().map(|r| r.method())
    }

    #[test]
    fn tables_give_memory_back_once_a_burst_of_transactions_ends() {
        let mut h = Harness::new();
        for i in 0..4000 {
            h.send(invite(&format!("z9hG4bKburst{i}")), UDP);
        }
        assert!(h.layer.entries.capacity() >= 4000);
        // No answer: every INVITE times out (Timer B, 64*T1) and its transaction ends.
        h.advance(ms(40_000));
        assert!(h.layer.entries.is_empty());
        for capacity in [
            h.layer.entries.capacity(),
            h.layer.client_keys.capacity(),
            h.layer.server_keys.capacity(),
        ] {
            assert!(capacity <= super::SHRINK_ABOVE, "capacity {capacity} kept");
        }
    }

    #[test]
    fn cancel_before_any_response_waits_for_a_provisional_response() {
        let mut h = Harness::new();
        let invite_id = h.send(invite("z9hG4bKc1"), UDP);
        let invite = h.last_sent_request();
        let cancel_id = h.cancel(invite_id);
        assert_eq!(h.layer.state(cancel_id), Some(TransactionState::Waiting));
        h.advance(ms(400));
        assert_eq!(
            h.sent_count(),
            1,
            "no CANCEL before a provisional response (§9.1)"
        );
        h.receive_response(&invite, StatusCode::RINGING);
        let cancel = h.last_sent_request();
        assert_eq!(cancel.method(), &Method::Cancel);
        assert_eq!(
            field_values(&cancel, &HeaderName::Via),
            field_values(&invite, &HeaderName::Via)
        );
        assert_eq!(h.layer.state(cancel_id), Some(TransactionState::Trying));
        // The UAS answers the CANCEL with 200 and the INVITE with 487; the 487 is ACKed.
        h.receive_response(&cancel, StatusCode::OK);
        h.receive_response(&invite, StatusCode::REQUEST_TERMINATED);
        assert_eq!(h.last_sent_request().method(), &Method::Ack);
        let responses: Vec<_> = h
            .events()
            .into_iter()
            .filter_map(|e| match e {
                TransactionEvent::Response { id, response } => Some((id, response.status())),
                _ => None,
            })
            .collect();
        assert_eq!(
            responses,
            [
                (invite_id, StatusCode::RINGING),
                (cancel_id, StatusCode::OK),
                (invite_id, StatusCode::REQUEST_TERMINATED)
            ]
        );
        h.assert_drains_empty();
    }

    #[test]
    fn held_cancel_is_dropped_when_a_final_response_arrives_first() {
        let mut h = Harness::new();
        let invite_id = h.send(invite("z9hG4bKc1"), UDP);
        let invite = h.last_sent_request();
        let cancel_id = h.cancel(invite_id);
        h.receive_response(&invite, StatusCode::BUSY_HERE);
        let events = h.events();
        assert!(matches!(
            &events[..],
            [TransactionEvent::Response { id, .. }, TransactionEvent::Terminated { id: c }]
                if *id == invite_id && *c == cancel_id
        ));
        let sent: Vec<_> = h.drain_messages();
        assert_eq!(
            sent.iter().filter_map(method_of).collect::<Vec<_>>(),
            [&Method::Invite, &Method::Ack]
        );
        h.assert_drains_empty();
    }

    #[test]
    fn cancel_after_a_final_response_is_refused() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKc1"), UDP);
        let invite = h.last_sent_request();
        h.receive_response(&invite, StatusCode::OK);
        assert_eq!(
            h.layer.cancel(h.now, id),
            Err(TransactionError::InvalidState(TransactionState::Accepted))
        );
        h.assert_drains_empty();
    }

    #[test]
    fn cancel_is_only_for_client_invites_and_only_once() {
        let mut h = Harness::new();
        let options_id = h.send(options(), UDP);
        assert_eq!(
            h.layer.cancel(h.now, options_id),
            Err(TransactionError::WrongKind(options_id))
        );
        let invite_id = h.send(invite("z9hG4bKc1"), UDP);
        h.cancel(invite_id);
        assert_eq!(
            h.layer.cancel(h.now, invite_id),
            Err(TransactionError::DuplicateTransaction)
        );
        h.assert_drains_empty();
    }

    #[test]
    fn cancelled_invite_without_final_response_gives_up_64_t1_after_the_cancel() {
        let mut h = Harness::new();
        let invite_id = h.send(invite("z9hG4bKc1"), UDP);
        let invite = h.last_sent_request();
        h.receive_response(&invite, StatusCode::RINGING);
        h.advance(ms(10_000));
        let cancel_id = h.cancel(invite_id);
        let cancel = h.last_sent_request();
        h.receive_response(&cancel, StatusCode::OK);
        h.events();
        h.advance(ms(41_999));
        assert_eq!(h.layer.state(invite_id), Some(TransactionState::Proceeding));
        h.advance(ms(42_000));
        let events = h.events();
        assert!(events.contains(&TransactionEvent::Timeout {
            id: invite_id,
            timer: Timer::Cancel
        }));
        assert!(events.contains(&TransactionEvent::Terminated { id: invite_id }));
        assert_eq!(
            h.layer.state(cancel_id),
            None,
            "the CANCEL ended with Timer K"
        );
        h.assert_drains_empty();
    }

    #[test]
    fn response_to_the_cancel_does_not_reach_the_invite_transaction() {
        let mut h = Harness::new();
        let invite_id = h.send(invite("z9hG4bKc1"), UDP);
        let invite = h.last_sent_request();
        h.receive_response(&invite, StatusCode::RINGING);
        h.events();
        // A 200 (CANCEL) with the INVITE's branch but no CANCEL transaction: stray, dropped.
        let mut cancel = invite.clone();
        cancel
            .headers_mut()
            .replace(crate::HeaderField::new(HeaderName::CSeq, "1 CANCEL"));
        h.receive_response(&cancel, StatusCode::OK);
        assert!(h.events().is_empty());
        assert_eq!(h.layer.state(invite_id), Some(TransactionState::Proceeding));
    }

    #[test]
    fn server_finds_the_invite_a_cancel_refers_to_and_tu_answers_487_and_200() {
        let mut h = Harness::new();
        let (invite_id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs9"), UDP);
        h.respond(invite_id, &invite, StatusCode::RINGING);
        let (cancel_id, cancel) = h.receive_new_request(incoming("CANCEL", "z9hG4bKs9"), UDP);
        assert_ne!(cancel_id, invite_id, "CANCEL is its own transaction");
        assert_eq!(h.layer.invite_for_cancel(cancel_id), Some(invite_id));
        assert_eq!(h.layer.invite_for_cancel(invite_id), None);
        h.respond(invite_id, &invite, StatusCode::REQUEST_TERMINATED);
        h.respond(cancel_id, &cancel, StatusCode::OK);
        let response = h
            .drain_messages()
            .into_iter()
            .filter_map(|m| m.as_response().cloned())
            .find(|r| r.status() == StatusCode::REQUEST_TERMINATED)
            .unwrap();
        h.receive(ack_for(&invite, &response), UDP);
        assert_eq!(h.layer.state(invite_id), Some(TransactionState::Confirmed));
        assert!(h.events().is_empty(), "the ACK for the 487 is absorbed");
        h.assert_drains_empty();
    }

    #[test]
    fn cancel_arriving_after_the_final_response_still_finds_the_invite() {
        let mut h = Harness::new();
        let (invite_id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs9"), UDP);
        h.respond(invite_id, &invite, StatusCode::OK);
        let (cancel_id, cancel) = h.receive_new_request(incoming("CANCEL", "z9hG4bKs9"), UDP);
        assert_eq!(h.layer.invite_for_cancel(cancel_id), Some(invite_id));
        // The TU sees the INVITE is already answered: the CANCEL has no effect but gets its 200.
        assert_eq!(h.layer.state(invite_id), Some(TransactionState::Accepted));
        h.respond(cancel_id, &cancel, StatusCode::OK);
        h.assert_drains_empty();
    }

    #[test]
    fn cancel_without_its_invite_finds_nothing() {
        let mut h = Harness::new();
        let (cancel_id, _) = h.receive_new_request(incoming("CANCEL", "z9hG4bKlost"), UDP);
        assert_eq!(h.layer.invite_for_cancel(cancel_id), None);
        h.assert_drains_empty();
    }

    fn rfc2543_invite(via: &str, cseq: u32, to_tag: &str) -> crate::message::Request {
        request(&format!(
            "INVITE sip:bob@biloxi.example.com SIP/2.0\nVia: {via}\n\
             From: <sip:alice@atlanta.example.com>;tag=88sja8x\nTo: <sip:bob@biloxi.example.com>{to_tag}\n\
             Call-ID: 987asjd97y7atg\nCSeq: {cseq} INVITE\nContent-Length: 0\n\n"
        ))
    }

    #[test]
    fn rfc2543_requests_are_matched_by_the_fallback_key() {
        let mut h = Harness::new();
        let via = "SIP/2.0/UDP old.example.com:5060";
        let (id, invite) = h.receive_new_request(rfc2543_invite(via, 1, ""), UDP);
        h.respond(id, &invite, StatusCode::RINGING);
        // A retransmission matches and gets the 180 again; another CSeq is a new transaction.
        h.receive(rfc2543_invite(via, 1, ""), UDP);
        assert!(h.events().is_empty());
        assert_eq!(h.drain_transmits().len(), 2);
        h.receive(rfc2543_invite(via, 2, ""), UDP);
        assert!(
            matches!(&h.events()[..], [TransactionEvent::NewRequest { id: other, .. }] if *other != id)
        );
        // The ACK carries the final response's To tag and completes the transaction.
        h.respond(id, &invite, StatusCode::NOT_FOUND);
        let ack = ack_for(&invite, &h.last_sent_response());
        assert!(!ack.headers().via().unwrap().unwrap().has_rfc3261_branch());
        h.receive(ack, UDP);
        assert_eq!(h.layer.state(id), Some(TransactionState::Confirmed));
        assert!(h.events().is_empty());
    }

    #[test]
    fn rfc2543_cancel_finds_its_invite() {
        let mut h = Harness::new();
        let via = "SIP/2.0/UDP old.example.com:5060;branch=1";
        let (invite_id, invite) = h.receive_new_request(rfc2543_invite(via, 1, ""), UDP);
        let cancel = crate::transaction::build_cancel(&invite).unwrap();
        let (cancel_id, _) = h.receive_new_request(cancel, UDP);
        assert_eq!(h.layer.invite_for_cancel(cancel_id), Some(invite_id));
    }

    #[test]
    fn same_branch_from_another_sent_by_is_another_transaction() {
        let mut h = Harness::new();
        let (a, _) = h.receive_new_request(incoming_invite("z9hG4bKsame"), UDP);
        let mut other = incoming_invite("z9hG4bKsame");
        other.headers_mut().replace(crate::HeaderField::new(
            HeaderName::Via,
            "SIP/2.0/UDP elsewhere.example.com;branch=z9hG4bKsame",
        ));
        let (b, _) = h.receive_new_request(other, UDP);
        assert_ne!(a, b);
    }

    #[test]
    fn stray_responses_are_ignored() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKmine"), UDP);
        h.receive_response(&invite("z9hG4bKnotmine"), StatusCode::OK);
        let mut no_branch = invite("z9hG4bKmine");
        no_branch.headers_mut().replace(crate::HeaderField::new(
            HeaderName::Via,
            "SIP/2.0/UDP client.example.com:5060",
        ));
        h.receive_response(&no_branch, StatusCode::OK);
        assert!(h.events().is_empty());
        assert_eq!(h.layer.stray_responses(), 2);
        assert_eq!(h.layer.state(id), Some(TransactionState::Calling));
        h.assert_drains_empty();
    }

    #[test]
    fn ack_matching_no_transaction_goes_to_the_tu() {
        let mut h = Harness::new();
        let ack = incoming("ACK", "z9hG4bK2xxack");
        h.receive(ack.clone(), UDP);
        assert_eq!(
            h.events(),
            [TransactionEvent::Ack {
                id: None,
                request: ack,
                source: UDP
            }]
        );
        assert!(h.layer.is_empty());
    }

    #[test]
    fn refuses_requests_it_cannot_match_and_acks_as_transactions() {
        let mut h = Harness::new();
        h.send(invite("z9hG4bKdup"), UDP);
        assert_eq!(
            h.layer.send_request(h.now, invite("z9hG4bKdup"), UDP),
            Err(TransactionError::DuplicateTransaction)
        );
        let ack = outgoing_ack();
        assert_eq!(
            h.layer.send_request(h.now, ack, UDP),
            Err(TransactionError::AckNotTransaction)
        );
        let mut no_via = incoming_options("z9hG4bKx");
        no_via.headers_mut().remove_all(&HeaderName::Via);
        assert_eq!(
            h.layer.handle_incoming(h.now, no_via.into(), UDP),
            Err(TransactionError::MissingHeader("Via"))
        );
        assert!(h.events().is_empty());
    }

    fn outgoing_ack() -> crate::message::Request {
        let invite = invite("z9hG4bKack");
        ack_for(&invite, &response_to(&invite, StatusCode::OK))
    }

    #[test]
    fn respond_needs_a_live_server_transaction() {
        let mut h = Harness::new();
        let client = h.send(options(), UDP);
        let request = h.last_sent_request();
        assert_eq!(
            h.layer
                .respond(h.now, client, response_to(&request, StatusCode::OK)),
            Err(TransactionError::WrongKind(client))
        );
        let (server, request) = h.receive_new_request(incoming_options("z9hG4bKs"), TCP);
        h.respond(server, &request, StatusCode::OK);
        assert_eq!(
            h.layer
                .respond(h.now, server, response_to(&request, StatusCode::OK)),
            Err(TransactionError::UnknownTransaction(server))
        );
    }

    #[test]
    fn late_provisional_after_the_final_response_is_not_delivered() {
        let mut h = Harness::new();
        let id = h.send(options(), UDP);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::OK);
        h.receive_response(&request, StatusCode::TRYING);
        let events = h.events();
        assert_eq!(events.len(), 1);
        assert!(
            matches!(&events[0], TransactionEvent::Response { id: r, response } if *r == id && response.status() == StatusCode::OK)
        );
        h.assert_drains_empty();
    }

    #[test]
    fn transactions_of_every_kind_are_all_removed_once_their_timers_fire() {
        let mut h = Harness::new();
        let a = h.send(invite("z9hG4bKa"), UDP);
        let b = h.send(options(), UDP);
        let c = h.send(invite("z9hG4bKc"), TCP);
        let (d, d_req) = h.receive_new_request(incoming_invite("z9hG4bKd"), UDP);
        let (e, e_req) = h.receive_new_request(incoming_invite("z9hG4bKe"), UDP);
        let (f, f_req) = h.receive_new_request(incoming_options("z9hG4bKf"), UDP);
        let c_req = h.log_request_for(c);
        h.receive_response(&c_req, StatusCode::OK);
        h.respond(d, &d_req, StatusCode::NOT_FOUND);
        h.respond(e, &e_req, StatusCode::OK);
        h.respond(f, &f_req, StatusCode::OK);
        assert_eq!(h.layer.len(), 6);
        h.assert_drains_empty();
        let terminated: Vec<_> = h
            .events()
            .into_iter()
            .filter_map(|e| match e {
                TransactionEvent::Terminated { id } => Some(id),
                _ => None,
            })
            .collect();
        for id in [a, b, c, d, e, f] {
            assert_eq!(terminated.iter().filter(|t| **t == id).count(), 1, "{id}");
        }
    }
}
