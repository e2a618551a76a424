//! The sans-IO dispatcher: destination sets with their runtime state, selection, failover, call load,
//! health probing and live reload.

use crate::algorithm::{Algorithm, SelectInput, hash_input};
use crate::call_load::{CallTable, Started};
use crate::destination::{Destination, DestinationId, DestinationState};
use crate::distribution::{Rng, WeightTable};
use crate::error::Error;
use crate::health::{Health, LatencyStats, Thresholds};
use crate::list::DispatcherList;
use crate::probe::{Pending, ProbeConfig, ProbeId, ProbeMode, ProbeOutcome, ProbeRequest, Prober};
use crate::reply_codes::ReplyCodes;
use crate::selection::{Candidate, Failover, FailureReason, Selection};
use crate::snapshot::{DestinationSnapshot, SetSnapshot, Snapshot};
use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_sip_core::Uri;

/// Most state-change events kept until [`Dispatcher::poll_event`] drains them; older ones are dropped.
const MAX_EVENTS: usize = 4096;

/// How a [`Dispatcher`] behaves. `Default` gives Kamailio-like behaviour with probing of every destination.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Responses that fail a request over to the next destination (timeouts and transport errors always
    /// do). Default: `408` and every 5xx.
    pub failover_codes: ReplyCodes,
    /// Whether failures that fail over also count against the destination like failed probes (Kamailio's
    /// `ds_mark_dst("tp")` in a failure route): enough in a row take it down. Default: `true`.
    pub mark_on_failure: bool,
    /// The state of destinations whose flags say active when they are first loaded (at start or by a
    /// reload): `Active` (default) or `Probing` to wait for [`ProbeConfig::up_threshold`] good probes before
    /// sending them traffic. Ignored (`Active`) when probing is off.
    pub new_destination_state: DestinationState,
    /// Most calls tracked for the call-load algorithm. Default: 1 000 000.
    pub max_tracked_calls: usize,
    /// Time after which a tracked call whose end was never reported stops counting (Kamailio's
    /// `ds_hash_expire`). Default: 2 hours.
    pub call_expiry: Duration,
    /// Seed of the random source behind the random and weight algorithms; `None` picks one per process.
    pub seed: Option<u64>,
    /// Health probing.
    pub probe: ProbeConfig,
}

impl Default for DispatcherConfig {
    fn default() -> DispatcherConfig {
        DispatcherConfig {
            failover_codes: ReplyCodes::failover_default(),
            mark_on_failure: true,
            new_destination_state: DestinationState::Active,
            max_tracked_calls: 1_000_000,
            call_expiry: Duration::from_secs(2 * 3600),
            seed: None,
            probe: ProbeConfig::default(),
        }
    }
}

/// Something the application may want to log, count or show.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatcherEvent {
    /// A destination changed state.
    StateChanged {
        /// The destination.
        destination: DestinationId,
        /// Its set.
        set_id: u32,
        /// Its URI.
        uri: Uri,
        /// The state before.
        from: DestinationState,
        /// The state now.
        to: DestinationState,
        /// What changed it.
        cause: StateCause,
    },
}

/// What changed a destination's state.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateCause {
    /// Probe results crossed a threshold.
    Probe,
    /// Requests failed (or succeeded) through it.
    Traffic,
    /// [`Dispatcher::set_state`].
    Admin,
    /// A reload gave it new flags.
    Reload,
}

/// What a [`Dispatcher::reload`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Destinations that are new.
    pub added: usize,
    /// Destinations that are gone.
    pub removed: usize,
    /// Destinations that remain, with their state, statistics and calls.
    pub kept: usize,
}

/// A destination and everything known about it at run time.
#[derive(Debug)]
struct Slot {
    id: DestinationId,
    destination: Arc<Destination>,
    state: DestinationState,
    probing: bool,
    health: Health,
    latency: LatencyStats,
    load: u32,
    probes_sent: u64,
    probes_failed: u64,
    traffic_failures: u64,
    last_probe: Option<ProbeOutcome>,
}

impl Slot {
    fn usable(&self, check_load: bool) -> bool {
        self.state.takes_traffic() && (!check_load || self.has_room())
    }

    fn has_room(&self) -> bool {
        match self.destination.attrs.maxload() {
            Some(max) if max > 0 => self.load < max,
            _ => true,
        }
    }
}

/// A set's destinations (in priority order) and its selection cursors.
#[derive(Debug)]
struct SetState {
    id: u32,
    slots: Vec<Slot>,
    round_robin: usize,
    weights: WeightTable,
    rweights: WeightTable,
    rweights_stale: bool,
}

impl SetState {
    fn new(id: u32, slots: Vec<Slot>, rng: &mut Rng) -> SetState {
        let weights: Vec<(u16, u32)> = slots
            .iter()
            .enumerate()
            .map(|(i, s)| (index_u16(i), s.destination.attrs.weight().unwrap_or(0)))
            .collect();
        SetState {
            id,
            weights: WeightTable::build(&weights, rng),
            slots,
            round_robin: 0,
            rweights: WeightTable::default(),
            rweights_stale: true,
        }
    }

    /// The usable destinations in the order `algorithm` gives them.
    fn select(&mut self, algorithm: Algorithm, hash: Option<u64>, rng: &mut Rng) -> Vec<Candidate> {
        let n = self.slots.len();
        if n == 0 {
            return Vec::new();
        }
        let start = match algorithm {
            Algorithm::Latency => return self.by_latency(),
            a if a.is_hash() => match hash {
                Some(h) => usize::try_from(h % n as u64).unwrap_or(0),
                None => self.next_round_robin(),
            },
            Algorithm::RoundRobin => self.next_round_robin(),
            Algorithm::Random => self.random_usable(rng),
            Algorithm::Weight => self.weights.next().unwrap_or(0),
            Algorithm::RelativeWeight => self.next_relative_weight(rng),
            Algorithm::CallLoad => self.least_loaded(),
            _ => 0,
        };
        self.ordered_from(start, algorithm == Algorithm::CallLoad)
    }

    /// Usable destinations starting at `start` and wrapping around.
    fn ordered_from(&self, start: usize, check_load: bool) -> Vec<Candidate> {
        let n = self.slots.len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let Some(slot) = self.slots.get((start + i) % n) else {
                continue;
            };
            if slot.usable(check_load) {
                out.push(self.candidate(slot));
            }
        }
        out
    }

    fn candidate(&self, slot: &Slot) -> Candidate {
        Candidate {
            id: slot.id,
            set_id: self.id,
            destination: Arc::clone(&slot.destination),
        }
    }

    /// The next usable destination after the previous round-robin pick.
    fn next_round_robin(&mut self) -> usize {
        let n = self.slots.len();
        for i in 0..n {
            let index = (self.round_robin + i) % n;
            if self.slots.get(index).is_some_and(|s| s.usable(false)) {
                self.round_robin = index + 1;
                return index;
            }
        }
        0
    }

    fn random_usable(&self, rng: &mut Rng) -> usize {
        let usable = self.slots.iter().filter(|s| s.usable(false)).count();
        let pick = rng.below(usable);
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.usable(false))
            .nth(pick)
            .map_or(0, |(i, _)| i)
    }

    fn next_relative_weight(&mut self, rng: &mut Rng) -> usize {
        if self.rweights_stale {
            let weights: Vec<(u16, u32)> = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.usable(false))
                .filter_map(|(i, s)| {
                    let w = s.destination.attrs.rweight().filter(|w| *w > 0)?;
                    Some((index_u16(i), w))
                })
                .collect();
            self.rweights = WeightTable::build(&weights, rng);
            self.rweights_stale = false;
        }
        self.rweights.next().unwrap_or(0)
    }

    /// The usable destination with room and the fewest calls; the first in set order on ties.
    fn least_loaded(&self) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.usable(true))
            .min_by_key(|(_, s)| s.load)
            .map_or(0, |(i, _)| i)
    }

    fn by_latency(&self) -> Vec<Candidate> {
        let mut usable: Vec<&Slot> = self.slots.iter().filter(|s| s.usable(false)).collect();
        usable.sort_by_key(|s| {
            let ewma = s.latency.ewma();
            (ewma.is_none(), ewma)
        });
        usable.into_iter().map(|s| self.candidate(s)).collect()
    }
}

fn index_u16(i: usize) -> u16 {
    // Sets hold at most MAX_SET_DESTINATIONS (4096) destinations.
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Where a destination lives: set position, slot position.
type Location = (usize, usize);

/// Load balancing over destination sets with Kamailio dispatcher semantics, sans-IO.
///
/// - Routing: [`Dispatcher::select`] orders a set's usable destinations for a request;
///   [`Dispatcher::on_failure`] moves to the next on a timeout, transport error, 408 or 5xx;
///   [`Dispatcher::call_started`] / [`Dispatcher::call_ended`] keep the call load.
/// - Health: drain [`Dispatcher::poll_probe`], send each probe, report with
///   [`Dispatcher::handle_probe_reply`]; call [`Dispatcher::handle_timeout`] at [`Dispatcher::poll_timeout`];
///   drain [`Dispatcher::poll_event`] for state changes.
/// - Operations: [`Dispatcher::reload`], [`Dispatcher::set_state`], [`Dispatcher::snapshot`].
///
/// Nothing here reads a clock or touches a socket: every time-dependent call takes `now`.
///
/// ```
/// use std::time::Instant;
/// use tandem_dispatcher::{Algorithm, Dispatcher, DispatcherConfig, DispatcherList};
///
/// let list = DispatcherList::parse("1 sip:127.0.0.1:5080\n1 sip:127.0.0.1:5081\n").unwrap();
/// let mut dispatcher = Dispatcher::new(list, DispatcherConfig::default(), Instant::now());
/// let first = dispatcher.select(1, Algorithm::RoundRobin, "call-1").unwrap();
/// let second = dispatcher.select(1, Algorithm::RoundRobin, "call-2").unwrap();
/// assert_ne!(first.current().unwrap().uri(), second.current().unwrap().uri());
/// ```
#[derive(Debug)]
pub struct Dispatcher {
    config: DispatcherConfig,
    sets: Vec<SetState>,
    index: HashMap<DestinationId, Location>,
    next_id: u64,
    rng: Rng,
    calls: CallTable,
    prober: Prober,
    events: VecDeque<DispatcherEvent>,
}

impl Dispatcher {
    /// A dispatcher over `list`; every probed destination is due its first probe at `now`.
    pub fn new(list: DispatcherList, config: DispatcherConfig, now: Instant) -> Dispatcher {
        let mut dispatcher = Dispatcher {
            rng: Rng::new(config.seed),
            config,
            sets: Vec::new(),
            index: HashMap::new(),
            next_id: 0,
            calls: CallTable::default(),
            prober: Prober::default(),
            events: VecDeque::new(),
        };
        dispatcher.install(list, HashMap::new(), now);
        dispatcher
    }

    /// The configuration.
    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// Replace the sets without dropping calls. A destination that remains (same set id, same URI text)
    /// keeps its id, state, health counters, latency statistics and active-call count; if the new list
    /// gives it other flags, the state those flags give replaces its current one. New destinations start
    /// as [`DispatcherConfig::new_destination_state`] (unless their flags say otherwise) and are probed from
    /// `now`. Removed destinations lose their probes; calls on them are forgotten as they end. Selections
    /// made before stay valid.
    pub fn reload(&mut self, list: DispatcherList, now: Instant) -> ReloadSummary {
        let mut old = HashMap::new();
        for set in std::mem::take(&mut self.sets) {
            for slot in set.slots {
                old.insert((set.id, slot.destination.uri.to_string()), slot);
            }
        }
        self.install(list, old, now)
    }

    fn install(
        &mut self,
        list: DispatcherList,
        mut old: HashMap<(u32, String), Slot>,
        now: Instant,
    ) -> ReloadSummary {
        let mut summary = ReloadSummary::default();
        let mut sets = Vec::new();
        for set in list.into_sets() {
            let mut slots = Vec::with_capacity(set.destinations.len());
            for destination in set.destinations {
                let key = (set.id, destination.uri.to_string());
                let slot = match old.remove(&key) {
                    Some(previous) => {
                        summary.kept += 1;
                        self.carry_over(previous, destination, set.id)
                    }
                    None => {
                        summary.added += 1;
                        self.new_slot(destination, now)
                    }
                };
                slots.push(slot);
            }
            slots.sort_by_key(|s| Reverse(s.destination.priority));
            sets.push(SetState::new(set.id, slots, &mut self.rng));
        }
        sets.sort_by_key(|s| s.id);
        for (_, gone) in old {
            summary.removed += 1;
            self.prober.remove(gone.id);
        }
        self.sets = sets;
        self.rebuild_index();
        summary
    }

    fn new_slot(&mut self, destination: Destination, now: Instant) -> Slot {
        self.next_id += 1;
        let id = DestinationId(self.next_id);
        let mut state = destination.state;
        let probing_on = self.config.probe.mode != ProbeMode::Off;
        if state == DestinationState::Active && probing_on {
            state = self.config.new_destination_state;
        }
        self.prober.schedule(id, now);
        Slot {
            id,
            probing: destination.is_probing() || state == DestinationState::Probing,
            destination: Arc::new(destination),
            state,
            health: Health::default(),
            latency: LatencyStats::default(),
            load: 0,
            probes_sent: 0,
            probes_failed: 0,
            traffic_failures: 0,
            last_probe: None,
        }
    }

    fn carry_over(&mut self, mut slot: Slot, destination: Destination, set_id: u32) -> Slot {
        if slot.destination.flags != destination.flags {
            let to = destination.state;
            if to != slot.state {
                self.push_event(DispatcherEvent::StateChanged {
                    destination: slot.id,
                    set_id,
                    uri: destination.uri.clone(),
                    from: slot.state,
                    to,
                    cause: StateCause::Reload,
                });
            }
            slot.state = to;
            slot.health = Health::default();
            slot.probing = destination.is_probing();
        }
        slot.destination = Arc::new(destination);
        slot
    }

    fn rebuild_index(&mut self) {
        self.index.clear();
        for (s, set) in self.sets.iter().enumerate() {
            for (d, slot) in set.slots.iter().enumerate() {
                self.index.insert(slot.id, (s, d));
            }
        }
    }

    fn slot(&self, id: DestinationId) -> Option<&Slot> {
        let (s, d) = *self.index.get(&id)?;
        self.sets.get(s)?.slots.get(d)
    }

    fn slot_mut(&mut self, id: DestinationId) -> Option<&mut Slot> {
        let (s, d) = *self.index.get(&id)?;
        self.sets.get_mut(s)?.slots.get_mut(d)
    }

    fn set_position(&self, set_id: u32) -> Result<usize, Error> {
        self.sets
            .binary_search_by_key(&set_id, |s| s.id)
            .map_err(|_| Error::UnknownSet(set_id))
    }

    // ----- routing -----

    /// Order set `set_id`'s usable destinations for a request with `algorithm`.
    ///
    /// `input` is the request (hashing algorithms read their header from it) or a key to hash
    /// ([`SelectInput`]); hashing algorithms whose key is absent fall back to round-robin. Fails with
    /// [`Error::UnknownSet`], or [`Error::NoDestination`] when no destination can take the request.
    pub fn select<'a>(
        &mut self,
        set_id: u32,
        algorithm: Algorithm,
        input: impl Into<SelectInput<'a>>,
    ) -> Result<Selection, Error> {
        let hash = hash_input(algorithm, input.into());
        let position = self.set_position(set_id)?;
        let Dispatcher { sets, rng, .. } = self;
        let set = sets.get_mut(position).ok_or(Error::UnknownSet(set_id))?;
        let candidates = set.select(algorithm, hash, rng);
        if candidates.is_empty() {
            return Err(Error::NoDestination(set_id));
        }
        Ok(Selection::new(set_id, algorithm, candidates))
    }

    /// The request to [`Selection::current`] failed: say whether and where to retry.
    ///
    /// Timeouts, transport errors and [`DispatcherConfig::failover_codes`] move the selection to the next
    /// candidate that can still take traffic (its state is checked now, not at selection time); other
    /// responses give [`Failover::Final`]. With [`DispatcherConfig::mark_on_failure`] the failure also counts
    /// against the destination, which goes Trying and then Inactive at the down threshold.
    pub fn on_failure(&mut self, selection: &mut Selection, reason: FailureReason) -> Failover {
        let fails_over = match reason {
            FailureReason::Status(code) => self.config.failover_codes.contains(code),
            FailureReason::Timeout | FailureReason::TransportError => true,
        };
        if !fails_over {
            return Failover::Final;
        }
        if let Some(current) = selection.current().map(Candidate::id) {
            if let Some(slot) = self.slot_mut(current) {
                slot.traffic_failures += 1;
            }
            if self.config.mark_on_failure {
                self.record_result(current, false, StateCause::Traffic);
            }
        }
        let check_load = selection.algorithm() == Algorithm::CallLoad;
        while let Some(next) = selection.advance() {
            if self.still_usable(next.id(), check_load) {
                return Failover::Next(next.clone());
            }
        }
        Failover::Exhausted
    }

    /// The request to [`Selection::current`] succeeded (a final 2xx, or any response that does not fail
    /// over): clears the destination's failure count, bringing a Trying destination back to Active.
    pub fn on_success(&mut self, selection: &Selection) {
        let Some(id) = selection.current().map(Candidate::id) else {
            return;
        };
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        if let Some(to) = slot.health.record_traffic_success(slot.state) {
            self.change_state(id, to, StateCause::Traffic);
        }
    }

    /// Whether a destination picked earlier can still take a request (removed ones can: the selection
    /// was made while they were listed).
    fn still_usable(&self, id: DestinationId, check_load: bool) -> bool {
        self.slot(id).is_none_or(|s| s.usable(check_load))
    }

    // ----- call load -----

    /// Count call `call_id` (its Call-ID) on `destination`, for [`Algorithm::CallLoad`] and `maxload`. Call
    /// it when the call is sent there; calling it again after a failover moves the call. Fails with
    /// [`Error::UnknownDestination`] or [`Error::TooManyCalls`].
    pub fn call_started(
        &mut self,
        call_id: &[u8],
        destination: DestinationId,
        now: Instant,
    ) -> Result<(), Error> {
        if self.slot(destination).is_none() {
            return Err(Error::UnknownDestination(destination));
        }
        let max = self.config.max_tracked_calls;
        let started = self
            .calls
            .start(call_id, destination, now, max, self.config.call_expiry)
            .ok_or(Error::TooManyCalls { max })?;
        match started {
            Started::Unchanged => {}
            Started::New => self.add_load(destination, 1),
            Started::Moved(from) => {
                self.add_load(from, -1);
                self.add_load(destination, 1);
            }
        }
        Ok(())
    }

    /// Call `call_id` ended (BYE, CANCEL, or a failure response to its INVITE): stop counting it. Returns
    /// the destination it was on, if it was tracked.
    pub fn call_ended(&mut self, call_id: &[u8]) -> Option<DestinationId> {
        let destination = self.calls.end(call_id)?;
        self.add_load(destination, -1);
        Some(destination)
    }

    /// The destination call `call_id` is counted on.
    pub fn call_destination(&self, call_id: &[u8]) -> Option<DestinationId> {
        self.calls.destination_of(call_id)
    }

    /// Calls counted on `destination`.
    pub fn active_calls(&self, destination: DestinationId) -> Option<u32> {
        self.slot(destination).map(|s| s.load)
    }

    fn add_load(&mut self, destination: DestinationId, delta: i32) {
        if let Some(slot) = self.slot_mut(destination) {
            slot.load = slot.load.saturating_add_signed(delta);
        }
    }

    // ----- health -----

    /// The next probe to send, if one is due at `now` (after failing the probes whose time ran out). Call
    /// it until it returns `None`.
    pub fn poll_probe(&mut self, now: Instant) -> Option<ProbeRequest> {
        if self.config.probe.mode == ProbeMode::Off {
            return None;
        }
        self.expire_probes(now);
        let interval = self.probe_interval();
        while let Some(id) = self.prober.pop_due(now) {
            let Some(slot) = self.slot(id) else {
                continue;
            };
            if !self.eligible(slot) {
                self.prober.schedule(id, now + interval);
                continue;
            }
            return self.start_probe(id, now);
        }
        None
    }

    fn start_probe(&mut self, id: DestinationId, now: Instant) -> Option<ProbeRequest> {
        let (probe, deadline) = self.prober.start(id, now, self.config.probe.timeout);
        let (s, _) = *self.index.get(&id)?;
        let set_id = self.sets.get(s)?.id;
        let slot = self.slot_mut(id)?;
        slot.probes_sent += 1;
        let destination = Arc::clone(&slot.destination);
        Some(ProbeRequest {
            id: probe,
            destination: id,
            set_id,
            uri: destination.uri.clone(),
            transport: destination.transport(),
            socket: destination.attrs.socket().cloned(),
            request: crate::probe::build_probe_request(&self.config.probe, &destination),
            deadline,
        })
    }

    fn eligible(&self, slot: &Slot) -> bool {
        match self.config.probe.mode {
            ProbeMode::Off => false,
            ProbeMode::All => slot.state != DestinationState::Disabled,
            ProbeMode::Flagged => slot.state != DestinationState::Disabled && slot.probing,
            ProbeMode::Inactive => matches!(
                slot.state,
                DestinationState::Inactive | DestinationState::Probing
            ),
        }
    }

    fn probe_interval(&self) -> Duration {
        self.config.probe.interval.max(Duration::from_millis(1))
    }

    /// Probe `probe` ended with `outcome` at `now`: updates the destination's latency statistics (for any
    /// response) and health (a success for [`ProbeConfig::reply_codes`], a failure otherwise), and schedules
    /// its next probe. Returns `false` for an unknown probe (already timed out, or its destination removed).
    pub fn handle_probe_reply(
        &mut self,
        probe: ProbeId,
        outcome: ProbeOutcome,
        now: Instant,
    ) -> bool {
        let Some(pending) = self.prober.take(probe) else {
            return false;
        };
        self.finish_probe(pending, outcome, now);
        true
    }

    fn finish_probe(&mut self, pending: Pending, outcome: ProbeOutcome, now: Instant) {
        let next = (pending.sent_at + self.probe_interval()).max(now);
        let alpha = self.config.probe.latency_alpha;
        let accepted = self.config.probe.reply_codes;
        let Some(slot) = self.slot_mut(pending.destination) else {
            return;
        };
        let ok = match outcome {
            ProbeOutcome::Response(code) => {
                slot.latency
                    .record(now.saturating_duration_since(pending.sent_at), alpha);
                accepted.contains(code)
            }
            ProbeOutcome::Timeout | ProbeOutcome::TransportError => false,
        };
        slot.last_probe = Some(outcome);
        if !ok {
            slot.probes_failed += 1;
        }
        self.prober.schedule(pending.destination, next);
        self.record_result(pending.destination, ok, StateCause::Probe);
    }

    fn expire_probes(&mut self, now: Instant) {
        while let Some(probe) = self.prober.expired(now) {
            if let Some(pending) = self.prober.take(probe) {
                self.finish_probe(pending, ProbeOutcome::Timeout, now);
            }
        }
    }

    /// Let time pass: fail probes past their deadline and stop counting calls older than
    /// [`DispatcherConfig::call_expiry`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_probes(now);
        let expiry = self.config.call_expiry;
        let Dispatcher {
            calls, sets, index, ..
        } = self;
        calls.sweep(now, expiry, |id| {
            let slot = index
                .get(&id)
                .and_then(|(s, d)| sets.get_mut(*s)?.slots.get_mut(*d));
            if let Some(slot) = slot {
                slot.load = slot.load.saturating_sub(1);
            }
        });
    }

    /// When [`Dispatcher::handle_timeout`] or [`Dispatcher::poll_probe`] next has work: a probe due, a probe
    /// deadline or a call-expiry sweep.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probing = self.config.probe.mode != ProbeMode::Off;
        let probes = self.prober.next_deadline(probing);
        match (probes, self.calls.next_sweep()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next state change, oldest first.
    pub fn poll_event(&mut self) -> Option<DispatcherEvent> {
        self.events.pop_front()
    }

    fn push_event(&mut self, event: DispatcherEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn record_result(&mut self, id: DestinationId, ok: bool, cause: StateCause) {
        let thresholds = Thresholds {
            down: self.config.probe.down_threshold,
            up: self.config.probe.up_threshold,
        };
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        let Some(to) = slot.health.record(slot.state, ok, thresholds) else {
            return;
        };
        if to == DestinationState::Inactive && cause == StateCause::Traffic {
            // Like Kamailio's ds_mark_dst("ip"): a destination taken down by traffic is probed back up.
            slot.probing = true;
        }
        self.change_state(id, to, cause);
    }

    fn change_state(&mut self, id: DestinationId, to: DestinationState, cause: StateCause) {
        let Some(&(s, d)) = self.index.get(&id) else {
            return;
        };
        let Some(set) = self.sets.get_mut(s) else {
            return;
        };
        let set_id = set.id;
        let Some(slot) = set.slots.get_mut(d) else {
            return;
        };
        let from = slot.state;
        if from == to {
            return;
        }
        slot.state = to;
        let uri = slot.destination.uri.clone();
        set.rweights_stale = true;
        self.push_event(DispatcherEvent::StateChanged {
            destination: id,
            set_id,
            uri,
            from,
            to,
            cause,
        });
    }

    // ----- administration and views -----

    /// Set a destination's state by hand (Kamailio's `dispatcher.set_state`), clearing its health counters.
    /// A Probing destination is also flagged for probing.
    pub fn set_state(&mut self, id: DestinationId, state: DestinationState) -> Result<(), Error> {
        let slot = self.slot_mut(id).ok_or(Error::UnknownDestination(id))?;
        slot.health = Health::default();
        if state == DestinationState::Probing {
            slot.probing = true;
        }
        self.change_state(id, state, StateCause::Admin);
        Ok(())
    }

    /// The destination of set `set_id` with this URI (compared per RFC 3261 §19.1.4).
    pub fn find(&self, set_id: u32, uri: &Uri) -> Option<DestinationId> {
        let set = self.sets.get(self.set_position(set_id).ok()?)?;
        set.slots
            .iter()
            .find(|s| s.destination.uri.equivalent(uri))
            .map(|s| s.id)
    }

    /// A destination's current state.
    pub fn state(&self, id: DestinationId) -> Option<DestinationState> {
        self.slot(id).map(|s| s.state)
    }

    /// A destination's list entry, as last loaded.
    pub fn destination(&self, id: DestinationId) -> Option<&Destination> {
        self.slot(id).map(|s| &*s.destination)
    }

    /// A destination's probe round-trip statistics.
    pub fn latency(&self, id: DestinationId) -> Option<&LatencyStats> {
        self.slot(id).map(|s| &s.latency)
    }

    /// The set ids, increasing.
    pub fn set_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.sets.iter().map(|s| s.id)
    }

    /// The destination ids of set `set_id`, in selection order (priority, then list order).
    pub fn destinations(&self, set_id: u32) -> impl Iterator<Item = DestinationId> + '_ {
        let set = self
            .set_position(set_id)
            .ok()
            .and_then(|p| self.sets.get(p));
        set.into_iter()
            .flat_map(|s| s.slots.iter().map(|slot| slot.id))
    }

    /// Every set and destination with its state, load and statistics.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sets: self.sets.iter().map(set_snapshot).collect(),
            tracked_calls: self.calls.len(),
            probes_in_flight: self.prober.in_flight(),
        }
    }
}

fn set_snapshot(set: &SetState) -> SetSnapshot {
    SetSnapshot {
        id: set.id,
        destinations: set.slots.iter().map(destination_snapshot).collect(),
    }
}

fn destination_snapshot(slot: &Slot) -> DestinationSnapshot {
    let d = &slot.destination;
    DestinationSnapshot {
        id: slot.id.as_u64(),
        uri: d.uri.to_string(),
        state: slot.state,
        probing: slot.probing,
        flags: d.flags,
        priority: d.priority,
        attrs: d.attrs.raw().to_owned(),
        duid: d.attrs.duid().map(str::to_owned),
        weight: d.attrs.weight(),
        rweight: d.attrs.rweight(),
        maxload: d.attrs.maxload(),
        active_calls: slot.load,
        consecutive_failures: slot.health.failures,
        consecutive_successes: slot.health.successes,
        probes_sent: slot.probes_sent,
        probes_failed: slot.probes_failed,
        traffic_failures: slot.traffic_failures,
        last_probe_status: match slot.last_probe {
            Some(ProbeOutcome::Response(code)) => Some(code.as_u16()),
            _ => None,
        },
        latency: slot.latency.summary(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatcher_and_what_it_hands_out_can_cross_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Dispatcher>();
        assert_send_sync::<Selection>();
        assert_send_sync::<ProbeRequest>();
        assert_send_sync::<Snapshot>();
    }

    #[test]
    fn event_queue_is_bounded() {
        let list = DispatcherList::parse("1 sip:a.example").unwrap();
        let config = DispatcherConfig {
            probe: ProbeConfig {
                mode: ProbeMode::Off,
                ..ProbeConfig::default()
            },
            ..DispatcherConfig::default()
        };
        let mut d = Dispatcher::new(list, config, Instant::now());
        let id = d.destinations(1).next().unwrap();
        for i in 0..MAX_EVENTS + 10 {
            let state = if i % 2 == 0 {
                DestinationState::Inactive
            } else {
                DestinationState::Active
            };
            d.set_state(id, state).unwrap();
        }
        assert_eq!(std::iter::from_fn(|| d.poll_event()).count(), MAX_EVENTS);
    }
}
