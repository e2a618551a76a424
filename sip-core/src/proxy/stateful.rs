//! The transaction-stateful proxy core (RFC 3261 §16): one response context per server transaction, fed
//! with events (request, response on a branch, branch failure, CANCEL, time) and returning [`Action`]s.
//!
//! The core owns no transaction: the caller runs the server and client transactions (for instance with
//! [`crate::transaction::TransactionLayer`]), identifies each server transaction with its own key `K`, sends
//! what [`Action::Forward`] asks on a new client transaction, and reports what comes back on it.

use super::LocalIdentity;
use super::forward::{
    add_record_route, branch_for, decrement_max_forwards, loop_hash, looped, pop_own_via, push_via,
};
use super::response_context::ResponseContext;
use super::route::{RoutePreprocessing, next_hop, next_route, preprocess_routes};
use crate::endpoint::target_for_uri;
use crate::header::{HeaderName, NameAddr, Route};
use crate::message::{HeaderField, Request, Response};
use crate::method::{Method, StatusCode};
use crate::transport::Target;
use crate::uri::Uri;
use crate::validate::{ValidationPolicy, validate_request};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// One client branch of a forwarded request (unique for the lifetime of a [`StatefulProxy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BranchId(u64);

impl BranchId {
    /// The branch's number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for BranchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "branch#{}", self.0)
    }
}

/// How a branch ended without a response (RFC 3261 §16.7 step 1 and §16.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchFailure {
    /// The client transaction timed out (Timer B or F): handled as a 408 from that branch.
    Timeout,
    /// The request could not be sent: handled as a 503 from that branch.
    TransportError,
}

/// Why a serial search asks for the next target ([`Action::Failover`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverReason {
    /// No response in time: the transaction timed out or the no-answer timer of [`Search::Serial`] fired.
    Timeout,
    /// The request could not be sent.
    TransportError,
    /// The branch answered with this status: 408 or any 5xx (503 included).
    Status(StatusCode),
}

/// How the targets of one request are tried (RFC 3261 §16.6, last paragraph).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Search {
    /// Every target at once; the best response wins (§16.7). Registered contacts are forked this way.
    #[default]
    Parallel,
    /// One target at a time: when a branch fails with a timeout, a transport error, a 408 or a 5xx, the core
    /// asks for the next target with [`Action::Failover`] (a dispatcher's failover).
    Serial {
        /// Give up on a branch that has not sent any response (not even 100) after this long (Kamailio's
        /// `fr_timer`); `None` waits for the transaction timeout.
        no_answer: Option<Duration>,
    },
}

/// Where one copy of a request goes (RFC 3261 §16.5, §16.6 steps 2, 6 and 7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardTarget {
    /// The copy's Request-URI (a registered contact); `None` keeps the received one.
    pub request_uri: Option<Uri>,
    /// Route entries to put on top of the copy, in order (a binding's Path, RFC 3327).
    pub route: Vec<Uri>,
    /// Where to send the copy (a flow a client registered on, a dispatcher destination); `None` resolves
    /// the next hop (top Route, else Request-URI), which must then hold an IP address.
    pub destination: Option<Target>,
}

impl ForwardTarget {
    /// A target that rewrites the Request-URI to `uri` and sends to it.
    pub fn to_uri(uri: Uri) -> ForwardTarget {
        ForwardTarget {
            request_uri: Some(uri),
            ..ForwardTarget::default()
        }
    }

    /// A target that keeps the Request-URI and sends to `destination`.
    pub fn to_destination(destination: Target) -> ForwardTarget {
        ForwardTarget {
            destination: Some(destination),
            ..ForwardTarget::default()
        }
    }
}

/// What the core asks its driver to do, drained with [`StatefulProxy::poll_action`].
#[derive(Debug, Clone)]
// Actions live briefly in a queue; boxing the forwarded request would cost an allocation per branch.
#[allow(clippy::large_enum_variant)]
pub enum Action<K> {
    /// Send `response` on the server transaction `context` (forwarded or generated here).
    Respond {
        /// The server transaction.
        context: K,
        /// The response.
        response: Response,
    },
    /// Send `request` to `target` on a new client transaction and report its outcome as `branch`
    /// ([`StatefulProxy::handle_response`], [`StatefulProxy::handle_branch_failure`]).
    Forward {
        /// The server transaction it belongs to.
        context: K,
        /// The branch to report its outcome as.
        branch: BranchId,
        /// The request, ready to send.
        request: Request,
        /// Where to send it.
        target: Target,
    },
    /// Cancel the client transaction of `branch` (RFC 3261 §9.1, §16.10).
    Cancel {
        /// The server transaction it belongs to.
        context: K,
        /// The branch.
        branch: BranchId,
    },
    /// A serial search needs its next target: call [`StatefulProxy::forward`] with it, or
    /// [`StatefulProxy::failover_exhausted`] when there is none.
    Failover {
        /// The server transaction.
        context: K,
        /// Why the last branch failed.
        reason: FailoverReason,
    },
}

/// What [`StatefulProxy::handle_request`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// The request is refused (§16.3: 400, 420, 482, 483; 403 for an in-dialog request that does not route
    /// through us, under [`RelayPolicy::OwnDomains`]); the response is queued.
    Rejected,
    /// The request is in a dialog or carries a Route set: it is forwarded along it (§16.4, §16.6 step 7).
    Forwarded,
    /// An initial request for the Request-URI: determine its targets (§16.5: location service, dispatcher)
    /// and call [`StatefulProxy::forward`], or answer it with [`StatefulProxy::respond`] /
    /// [`StatefulProxy::reject`].
    NeedsTargets,
    /// ACK and CANCEL are not handled here: use [`StatefulProxy::forward_ack`] and
    /// [`StatefulProxy::handle_cancel`].
    NotApplicable,
}

/// The proxy's policy.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The §16.3 checks (the option tags supported in `Proxy-Require`, …); the role must be a proxy.
    pub validation: ValidationPolicy,
    /// Methods whose initial requests are record-routed (§16.6 step 4).
    pub record_route: Vec<Method>,
    /// What happens to requests that do not route through this proxy.
    pub relay: RelayPolicy,
    /// Timer C (§16.6 step 11, §16.8): how long an INVITE branch may go without a provisional response
    /// (other than 100) before it is given up — cancelled if it sent any provisional response, else
    /// treated as a 408. RFC 3261 wants more than 3 minutes.
    pub timer_c: Duration,
}

impl ProxyOptions {
    /// Timer C's default: 185 s (RFC 3261 §16.6 step 11 wants more than 3 minutes).
    pub const DEFAULT_TIMER_C: Duration = Duration::from_secs(185);
}

impl Default for ProxyOptions {
    fn default() -> ProxyOptions {
        ProxyOptions {
            validation: ValidationPolicy::proxy(),
            record_route: vec![Method::Invite, Method::Subscribe, Method::Refer],
            relay: RelayPolicy::OwnDomains,
            timer_c: ProxyOptions::DEFAULT_TIMER_C,
        }
    }
}

/// Which requests that do not route through this proxy (no Route entry of ours at the top, no Request-URI
/// of ours undone from a strict router) it relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayPolicy {
    /// Not an open relay (as Kamailio's default configuration): an initial request's preloaded Route is
    /// ignored, so it is routed by its Request-URI (and the caller refuses foreign domains); an in-dialog
    /// request (a To tag is easily forged) is answered 403 and an ACK dropped unless its next hop is in
    /// one of our domains or at one of our addresses.
    #[default]
    OwnDomains,
    /// Relay along any Route set and to any in-dialog target (plain RFC 3261 §16.4 behaviour).
    Open,
}

/// Why [`StatefulProxy::forward_ack`] dropped an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDrop {
    /// Max-Forwards was exhausted.
    TooManyHops,
    /// It does not route through us and its next hop is not ours ([`RelayPolicy::OwnDomains`]).
    Foreign,
    /// Its next hop is not an address it can be sent to.
    Unroutable,
}

/// What a [`StatefulProxy`] gave up on or repaired since it was made, for a driver to export (counters
/// only grow; read them with [`StatefulProxy::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Timer C fired on a branch that had sent a provisional response: it was cancelled (§16.8) and its
    /// 487 awaited.
    pub timer_c_cancelled: u64,
    /// Timer C fired on a branch that had sent no response: it was cancelled and counted as a 408.
    pub timer_c_timed_out: u64,
    /// Provisional responses dropped because no Via was left under ours (§16.7 step 3).
    pub no_via_dropped: u64,
    /// Final responses with no Via left under ours, replaced with a 502 for their branch (§16.7 step 3).
    pub no_via_bad_gateway: u64,
}

#[derive(Debug)]
struct BranchState {
    id: BranchId,
    responded: bool,
    done: bool,
    /// When Timer C fires (INVITE branches still pending only); its key in the proxy's Timer C set.
    timer_c: Option<Instant>,
}

/// The response context of one server transaction (§16.7).
#[derive(Debug)]
struct Context {
    request: Request,
    source: Target,
    hash: u64,
    record_route: bool,
    search: Search,
    targets_given: bool,
    branches: Vec<BranchState>,
    responses: ResponseContext,
    cancelled: bool,
    final_sent: bool,
    failover_pending: bool,
}

impl Context {
    fn pending(&self) -> impl Iterator<Item = BranchId> + '_ {
        self.branches.iter().filter(|b| !b.done).map(|b| b.id)
    }
}

/// A transaction-stateful proxy core (RFC 3261 §16), sans-IO.
///
/// Feed it with [`handle_request`](Self::handle_request), [`forward`](Self::forward),
/// [`handle_response`](Self::handle_response), [`handle_branch_failure`](Self::handle_branch_failure),
/// [`handle_cancel`](Self::handle_cancel) and [`handle_timeout`](Self::handle_timeout), then drain
/// [`poll_action`](Self::poll_action). `K` is the caller's key for a server transaction.
#[derive(Debug)]
pub struct StatefulProxy<K> {
    identity: LocalIdentity,
    options: ProxyOptions,
    contexts: HashMap<K, Context>,
    branches: HashMap<BranchId, K>,
    actions: VecDeque<Action<K>>,
    /// No-answer deadlines of serial branches, earliest first; entries of branches that answered or ended
    /// are skipped when they come up.
    deadlines: BinaryHeap<Reverse<(Instant, BranchId)>>,
    /// Timer C of every pending INVITE branch, earliest first; an entry is removed as soon as its branch
    /// ends, is reset or its context terminates, so none outlives its branch.
    timer_c: BTreeSet<(Instant, BranchId)>,
    counter: u64,
    stats: ProxyStats,
}

impl<K: Copy + Eq + Hash> StatefulProxy<K> {
    /// A proxy for `identity` with `options`.
    pub fn new(identity: LocalIdentity, options: ProxyOptions) -> StatefulProxy<K> {
        StatefulProxy {
            identity,
            options,
            contexts: HashMap::new(),
            branches: HashMap::new(),
            actions: VecDeque::new(),
            deadlines: BinaryHeap::new(),
            timer_c: BTreeSet::new(),
            counter: 0,
            stats: ProxyStats::default(),
        }
    }

    /// Who this proxy is.
    pub fn identity(&self) -> &LocalIdentity {
        &self.identity
    }

    /// The policy it was made with.
    pub fn options(&self) -> &ProxyOptions {
        &self.options
    }

    /// What it gave up on or repaired so far (Timer C firings, responses without the caller's Via).
    pub fn stats(&self) -> ProxyStats {
        self.stats
    }

    /// The number of open response contexts.
    pub fn len(&self) -> usize {
        self.contexts.len()
    }

    /// Whether no response context is open.
    pub fn is_empty(&self) -> bool {
        self.contexts.is_empty()
    }

    /// The request of `context` after route preprocessing (what its copies are made from).
    pub fn request(&self, context: &K) -> Option<&Request> {
        self.contexts.get(context).map(|c| &c.request)
    }

    /// The request of `context`, to adjust before [`forward`](Self::forward) copies it (to remove the
    /// credentials this proxy consumed, for instance).
    pub fn request_mut(&mut self, context: &K) -> Option<&mut Request> {
        self.contexts.get_mut(context).map(|c| &mut c.request)
    }

    /// The server transaction a branch belongs to.
    pub fn context_of(&self, branch: BranchId) -> Option<K> {
        self.branches.get(&branch).copied()
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action<K>> {
        self.actions.pop_front()
    }

    fn next_counter(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A response generated by this proxy, with a To tag of its own.
    fn local_response(&mut self, request: &Request, status: StatusCode) -> Response {
        let tag = format!("tdm{:x}", self.next_counter());
        Response::from_request(request, status, Some(&tag)).build()
    }

    /// §16.3 and §16.4 for a new server transaction `context` that received `request` from `source`:
    /// validate it (400, 420 with Unsupported, 483), detect loops (482), remove our own Route entries and
    /// undo a strict router's rewrite; apply the [`RelayPolicy`] to a request that does not route through
    /// us; then forward an in-dialog or pre-routed request along its route.
    pub fn handle_request(
        &mut self,
        now: Instant,
        context: K,
        request: Request,
        source: Target,
    ) -> Routing {
        self.handle(now, context, request, source, false)
    }

    /// [`StatefulProxy::handle_request`] for a request the driver has already checked with
    /// [`validate_request`] and this proxy's [`ProxyOptions::validation`] policy, and passed (a driver that
    /// checks requests before they create a transaction, so that bad ones hold no state): the check is not
    /// repeated. Everything else (loops, Route preprocessing, the relay policy) is as `handle_request`.
    pub fn handle_validated_request(
        &mut self,
        now: Instant,
        context: K,
        request: Request,
        source: Target,
    ) -> Routing {
        self.handle(now, context, request, source, true)
    }

    fn handle(
        &mut self,
        now: Instant,
        context: K,
        request: Request,
        source: Target,
        validated: bool,
    ) -> Routing {
        if matches!(request.method(), Method::Ack | Method::Cancel) {
            return Routing::NotApplicable;
        }
        let hash = loop_hash(&request);
        let checked = match validated {
            true => Ok(()),
            false => validate_request(&request, &self.options.validation),
        };
        let mut refusal = checked.err().map(|rejection| {
            let tag = format!("tdm{:x}", self.next_counter());
            rejection.response(&request, Some(&tag))
        });
        if refusal.is_none() && looped(&request, &self.identity, || hash) {
            refusal = Some(self.local_response(&request, StatusCode::LOOP_DETECTED));
        }
        let mut request = request;
        // Only the To tag is needed: found without parsing the URI (what it decides matters only for a
        // request that passed validation, whose To parses).
        let in_dialog = request
            .headers()
            .get(&HeaderName::To)
            .and_then(|to| NameAddr::header_params(to.value()))
            .is_some_and(|params| params.value("tag").is_some());
        if refusal.is_none() {
            let through_us = routes_through_us(preprocess_routes(&mut request, &self.identity));
            if !through_us && self.options.relay == RelayPolicy::OwnDomains {
                if !in_dialog {
                    request.headers_mut().remove_all(&HeaderName::Route);
                } else if !self
                    .is_local_target(&next_route(&request).unwrap_or_else(|| request.uri().clone()))
                {
                    refusal = Some(self.local_response(&request, StatusCode::FORBIDDEN));
                }
            }
        }
        let record_route = !in_dialog && self.options.record_route.contains(request.method());
        let routed = in_dialog || next_route(&request).is_some();
        self.contexts.insert(
            context,
            Context {
                request,
                source,
                hash,
                record_route,
                search: Search::Parallel,
                targets_given: false,
                branches: Vec::new(),
                responses: ResponseContext::new(),
                cancelled: false,
                final_sent: false,
                failover_pending: false,
            },
        );
        if let Some(response) = refusal {
            self.send_final(context, response);
            return Routing::Rejected;
        }
        if routed {
            self.forward(
                now,
                context,
                vec![ForwardTarget::default()],
                Search::Parallel,
            );
            return Routing::Forwarded;
        }
        Routing::NeedsTargets
    }

    /// §16.5 and §16.6: forward a copy of the request of `context` to each of `targets`, searched as
    /// `search`. Called once with every target of a parallel search, or once per target of a serial one
    /// (first, then after each [`Action::Failover`]). Ignored once the context has answered or was
    /// cancelled.
    pub fn forward(
        &mut self,
        now: Instant,
        context: K,
        targets: Vec<ForwardTarget>,
        search: Search,
    ) {
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return;
        };
        if ctx.final_sent || ctx.cancelled {
            return;
        }
        ctx.search = search;
        ctx.targets_given = true;
        ctx.failover_pending = false;
        let mut unreachable = 0;
        for target in targets {
            if !self.start_branch(now, context, target) {
                unreachable += 1;
            }
        }
        if unreachable > 0 {
            let request = match self.contexts.get(&context) {
                Some(ctx) => ctx.request.clone(),
                None => return,
            };
            // A target without an IP address cannot be reached without DNS: counted as "not found".
            let response = self.local_response(&request, StatusCode::NOT_FOUND);
            if let Some(ctx) = self.contexts.get_mut(&context) {
                ctx.responses.collect(response);
            }
        }
        self.finish_if_done(context);
    }

    fn start_branch(&mut self, now: Instant, context: K, target: ForwardTarget) -> bool {
        let counter = self.next_counter();
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return false;
        };
        let mut request = ctx.request.clone();
        if let Some(uri) = target.request_uri {
            request.set_uri(uri);
        }
        for uri in target.route.iter().rev() {
            request
                .headers_mut()
                .push_front(HeaderField::from_typed(&Route(NameAddr::new(uri.clone()))));
        }
        if decrement_max_forwards(&mut request).is_err() {
            return false;
        }
        let hop = next_hop(&mut request);
        let Some(destination) = target.destination.or_else(|| target_for_uri(&hop, None)) else {
            return false;
        };
        if ctx.record_route {
            add_record_route(
                &mut request,
                &self.identity,
                ctx.source.transport,
                destination.transport,
            );
        }
        let branch = branch_for(ctx.hash, counter);
        if !push_via(&mut request, &self.identity, destination.transport, &branch) {
            return false;
        }
        let id = BranchId(counter);
        // A limit too far to be represented is no limit.
        if let Search::Serial {
            no_answer: Some(limit),
        } = ctx.search
            && let Some(at) = now.checked_add(limit)
        {
            self.deadlines.push(Reverse((at, id)));
        }
        // §16.6 step 11: Timer C runs on every INVITE branch.
        let timer_c = match *ctx.request.method() == Method::Invite {
            true => now.checked_add(self.options.timer_c),
            false => None,
        };
        if let Some(at) = timer_c {
            self.timer_c.insert((at, id));
        }
        ctx.branches.push(BranchState {
            id,
            responded: false,
            done: false,
            timer_c,
        });
        self.branches.insert(id, context);
        self.actions.push_back(Action::Forward {
            context,
            branch: id,
            request,
            target: destination,
        });
        true
    }

    /// Answer `context` with `response`, generated by the caller (a registrar's reply, a digest challenge).
    /// Ignored once the context has answered.
    pub fn respond(&mut self, context: K, response: Response) {
        if self.contexts.get(&context).is_some_and(|c| !c.final_sent) {
            self.send_final(context, response);
        }
    }

    /// Answer `context` with a response of `status` generated here (404, 480, 403, …).
    pub fn reject(&mut self, context: K, status: StatusCode) {
        let Some(ctx) = self.contexts.get(&context) else {
            return;
        };
        if ctx.final_sent {
            return;
        }
        let request = ctx.request.clone();
        let response = self.local_response(&request, status);
        self.send_final(context, response);
    }

    /// No target is left after an [`Action::Failover`]: answer with the best response collected.
    pub fn failover_exhausted(&mut self, context: K) {
        if let Some(ctx) = self.contexts.get_mut(&context) {
            ctx.failover_pending = false;
        }
        self.finish_if_done(context);
    }

    fn send_final(&mut self, context: K, response: Response) {
        if let Some(ctx) = self.contexts.get_mut(&context) {
            ctx.final_sent = true;
        }
        self.actions
            .push_back(Action::Respond { context, response });
        self.release_if_finished(context);
    }

    /// Forget a non-INVITE context as soon as nothing can use it any more: its final response is out and
    /// no branch is pending (a late final response on a pending branch is only absorbed, §16.7 step 5).
    /// Its server transaction lives on for Timer J (64·T1 over UDP) to absorb retransmissions with the
    /// response it keeps; holding the request and its response context as long would cost a registration
    /// burst ~1.5 KiB per REGISTER for 32 s. INVITE contexts stay until [`terminate`](Self::terminate):
    /// further 2xx responses are still forwarded after the first.
    fn release_if_finished(&mut self, context: K) {
        let finished = self.contexts.get(&context).is_some_and(|ctx| {
            ctx.final_sent
                && *ctx.request.method() != Method::Invite
                && ctx.pending().next().is_none()
        });
        if finished {
            self.terminate(context);
        }
    }

    /// §16.7: a response received on `branch`. Responses whose top Via is not ours are dropped, and so
    /// are provisional responses with no Via under ours, while such a final response counts as a 502; 100
    /// is absorbed; other provisional responses are forwarded until a final one was sent; every 2xx is
    /// forwarded and cancels the other branches of an INVITE; other final responses are collected, and
    /// the best is forwarded once every branch has ended (at once after a 6xx, which cancels the rest).
    pub fn handle_response(&mut self, now: Instant, branch: BranchId, mut response: Response) {
        let Some(&context) = self.branches.get(&branch) else {
            return;
        };
        if !pop_own_via(&mut response) {
            return;
        }
        if response.headers().via().is_none() {
            // §16.7 step 3: with no Via left it cannot be forwarded; the next hop dropped the Via set it
            // was sent (§8.2.6.2). A provisional one is ignored, a final one ends the branch as a 502.
            if response.status().is_provisional() {
                self.stats.no_via_dropped += 1;
                return;
            }
            let Some(request) = self.contexts.get(&context).map(|c| c.request.clone()) else {
                return;
            };
            self.stats.no_via_bad_gateway += 1;
            response = self.local_response(&request, StatusCode::BAD_GATEWAY);
        }
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return;
        };
        let Some(state) = ctx.branches.iter_mut().find(|b| b.id == branch) else {
            return;
        };
        state.responded = true;
        let status = response.status();
        if status == StatusCode::TRYING {
            return;
        }
        if status.is_provisional() {
            // §16.7 step 2: a provisional response other than 100 resets Timer C.
            if let Some(at) = state.timer_c.take() {
                self.timer_c.remove(&(at, branch));
                state.timer_c = now.checked_add(self.options.timer_c);
                if let Some(at) = state.timer_c {
                    self.timer_c.insert((at, branch));
                }
            }
            if !state.done && !ctx.final_sent {
                self.actions
                    .push_back(Action::Respond { context, response });
            }
            return;
        }
        if let Some(at) = state.timer_c.take() {
            self.timer_c.remove(&(at, branch));
        }
        if status.is_success() {
            state.done = true;
            let invite = *ctx.request.method() == Method::Invite;
            if ctx.final_sent && !invite {
                self.release_if_finished(context);
                return;
            }
            ctx.final_sent = true;
            let others: Vec<BranchId> = ctx.pending().collect();
            self.actions
                .push_back(Action::Respond { context, response });
            if invite {
                for other in others {
                    self.actions.push_back(Action::Cancel {
                        context,
                        branch: other,
                    });
                }
            }
            return;
        }
        if state.done {
            return;
        }
        state.done = true;
        if ctx.final_sent {
            self.release_if_finished(context);
            return;
        }
        self.branch_ended(context, response, failover_reason_for(status));
    }

    /// A branch ended without a response: a timeout (treated as a 408 from it) or a transport error
    /// (treated as a 503).
    pub fn handle_branch_failure(
        &mut self,
        now: Instant,
        branch: BranchId,
        failure: BranchFailure,
    ) {
        let _ = now;
        let Some(&context) = self.branches.get(&branch) else {
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return;
        };
        match ctx.branches.iter_mut().find(|b| b.id == branch) {
            Some(state) if !state.done => {
                state.done = true;
                if let Some(at) = state.timer_c.take() {
                    self.timer_c.remove(&(at, branch));
                }
            }
            _ => return,
        }
        if ctx.final_sent {
            self.release_if_finished(context);
            return;
        }
        let request = ctx.request.clone();
        let (status, reason) = match failure {
            BranchFailure::Timeout => (StatusCode::REQUEST_TIMEOUT, FailoverReason::Timeout),
            BranchFailure::TransportError => (
                StatusCode::SERVICE_UNAVAILABLE,
                FailoverReason::TransportError,
            ),
        };
        let response = self.local_response(&request, status);
        self.branch_ended(context, response, Some(reason));
    }

    fn branch_ended(&mut self, context: K, response: Response, reason: Option<FailoverReason>) {
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return;
        };
        let global = response.status().class() == 6;
        ctx.responses.collect(response);
        let serial = matches!(ctx.search, Search::Serial { .. });
        if let (true, false, Some(reason)) = (serial, ctx.cancelled, reason) {
            ctx.failover_pending = true;
            self.actions.push_back(Action::Failover { context, reason });
            return;
        }
        if global {
            let pending: Vec<BranchId> = ctx.pending().collect();
            for branch in pending {
                self.actions.push_back(Action::Cancel { context, branch });
            }
        }
        self.finish_if_done(context);
    }

    /// Forward the best collected response once nothing more can come (§16.7 steps 4–7).
    fn finish_if_done(&mut self, context: K) {
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return;
        };
        let waiting = !ctx.targets_given
            || ctx.failover_pending
            || (ctx.pending().next().is_some() && !ctx.responses.has_global_failure());
        if ctx.final_sent || waiting {
            return;
        }
        let responses = std::mem::take(&mut ctx.responses);
        let request = ctx.request.clone();
        let response = match responses.into_best() {
            Some(best) => best,
            None => self.local_response(&request, StatusCode::REQUEST_TIMEOUT),
        };
        self.send_final(context, response);
    }

    /// §16.10: the INVITE of `context` was cancelled (the caller answers the CANCEL itself with 200). Every
    /// pending branch is cancelled and their 487s make the final answer; with no branch pending (targets
    /// still being looked up) the INVITE is answered 487 at once. `false` when `context` is unknown.
    pub fn handle_cancel(&mut self, now: Instant, context: K) -> bool {
        let _ = now;
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return false;
        };
        if ctx.final_sent || ctx.cancelled {
            return true;
        }
        ctx.cancelled = true;
        let pending: Vec<BranchId> = ctx.pending().collect();
        if pending.is_empty() {
            let request = ctx.request.clone();
            let response = self.local_response(&request, StatusCode::REQUEST_TERMINATED);
            self.send_final(context, response);
            return true;
        }
        for branch in pending {
            self.actions.push_back(Action::Cancel { context, branch });
        }
        true
    }

    /// §16.11: forward an ACK (of a 2xx, which has no transaction) statelessly along its route: returns the
    /// request to send and where, or why it is dropped.
    pub fn forward_ack(&mut self, mut request: Request) -> Result<(Request, Target), AckDrop> {
        decrement_max_forwards(&mut request).map_err(|_| AckDrop::TooManyHops)?;
        let through_us = routes_through_us(preprocess_routes(&mut request, &self.identity));
        if !through_us
            && self.options.relay == RelayPolicy::OwnDomains
            && !self.is_local_target(&next_route(&request).unwrap_or_else(|| request.uri().clone()))
        {
            return Err(AckDrop::Foreign);
        }
        let hop = next_hop(&mut request);
        let target = target_for_uri(&hop, None).ok_or(AckDrop::Unroutable)?;
        let branch = branch_for(loop_hash(&request), self.next_counter());
        match push_via(&mut request, &self.identity, target.transport, &branch) {
            true => Ok((request, target)),
            false => Err(AckDrop::Unroutable),
        }
    }

    /// Whether `uri` is in one of our domains or at one of our addresses (whoever the user).
    fn is_local_target(&self, uri: &Uri) -> bool {
        uri.as_sip()
            .is_some_and(|sip| self.identity.is_local_domain(sip.host()))
    }

    /// The server transaction `context` ended: forget its response context and branches.
    pub fn terminate(&mut self, context: K) {
        if let Some(ctx) = self.contexts.remove(&context) {
            for branch in ctx.branches {
                self.branches.remove(&branch.id);
                if let Some(at) = branch.timer_c {
                    self.timer_c.remove(&(at, branch.id));
                }
            }
            shrink_when_sparse(&mut self.contexts);
            shrink_when_sparse(&mut self.branches);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work: the earliest Timer C of a pending INVITE
    /// branch, or the earliest no-answer deadline of a serial search (possibly of a branch that has answered
    /// since, which then costs one idle call).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let no_answer = self.deadlines.peek().map(|Reverse((at, _))| *at);
        let timer_c = self.timer_c.first().map(|(at, _)| *at);
        no_answer.into_iter().chain(timer_c).min()
    }

    /// Run the timers due at `now`: give up on serial branches without any response past their no-answer
    /// time (cancel them and fail over), and on INVITE branches whose Timer C fired (§16.8).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, branch))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let silent = self
                .branches
                .get(&branch)
                .and_then(|key| self.contexts.get(key))
                .filter(|ctx| !ctx.final_sent)
                .and_then(|ctx| ctx.branches.iter().find(|b| b.id == branch))
                .is_some_and(|b| !b.done && !b.responded);
            let Some(&context) = self.branches.get(&branch) else {
                continue;
            };
            if silent {
                self.actions.push_back(Action::Cancel { context, branch });
                self.handle_branch_failure(now, branch, BranchFailure::Timeout);
            }
        }
        while let Some(&(at, branch)) = self.timer_c.first() {
            if at > now {
                break;
            }
            self.timer_c.pop_first();
            self.timer_c_fired(now, branch);
        }
    }

    /// §16.8: Timer C of `branch` fired. A branch that sent a provisional response is cancelled (§9.1) and
    /// its 487 (or its transaction's timeout) ends it; one that sent nothing is handled as if it had
    /// answered 408, and cancelled too, so that the transaction layer sends the CANCEL should a provisional
    /// response still come.
    fn timer_c_fired(&mut self, now: Instant, branch: BranchId) {
        let Some(&context) = self.branches.get(&branch) else {
            return;
        };
        let Some(state) = self
            .contexts
            .get_mut(&context)
            .and_then(|ctx| ctx.branches.iter_mut().find(|b| b.id == branch))
        else {
            return;
        };
        state.timer_c = None;
        if state.done {
            return;
        }
        let responded = state.responded;
        self.actions.push_back(Action::Cancel { context, branch });
        if responded {
            self.stats.timer_c_cancelled += 1;
        } else {
            self.stats.timer_c_timed_out += 1;
            self.handle_branch_failure(now, branch, BranchFailure::Timeout);
        }
    }
}

/// Maps at most this large are never shrunk.
const SHRINK_ABOVE: usize = 1024;

/// Give a burst's memory back: a hash map keeps its largest capacity, so after 10,000 REGISTERs in a few
/// seconds the context table would keep room for 16,384 contexts (~8 MiB) for ever. Shrinking to twice
/// the live count only when under a quarter is used keeps the rehashing amortised.
fn shrink_when_sparse<K: Eq + Hash, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > SHRINK_ABOVE && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// Whether route preprocessing found the request addressed through this proxy.
fn routes_through_us(done: RoutePreprocessing) -> bool {
    done.own_routes_removed > 0 || done.strict_router_fixed
}

/// The failover reasons of a final non-2xx status: 408 and every 5xx.
fn failover_reason_for(status: StatusCode) -> Option<FailoverReason> {
    (status == StatusCode::REQUEST_TIMEOUT || status.class() == 5)
        .then_some(FailoverReason::Status(status))
}

#[cfg(test)]
mod tests;
