//! Health probing: which destinations are probed and when, the OPTIONS requests, and probes in flight.
//!
//! The [`crate::Dispatcher`] owns this schedule because probes read and change the same destination states
//! that selection reads; the probing verbs are [`crate::Dispatcher::poll_probe`],
//! [`crate::Dispatcher::handle_probe_reply`], [`crate::Dispatcher::handle_timeout`] and
//! [`crate::Dispatcher::poll_timeout`].

use crate::destination::{Destination, DestinationId, SendSocket};
use crate::reply_codes::ReplyCodes;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};
use tandem_sip_core::dialog::{generate_branch, generate_call_id, generate_tag};
use tandem_sip_core::header::Transport;
use tandem_sip_core::{
    CSeq, FromHeader, HeaderName, Host, MaxForwards, Method, NameAddr, Request, StatusCode,
    ToHeader, TransportKind, Uri, Via,
};

/// Which destinations are probed (Kamailio's `ds_probing_mode`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeMode {
    /// No probing: states change only through traffic failures and the administrator.
    Off,
    /// Every destination that is not disabled (Kamailio mode 1): a dead destination is found before a call
    /// has to fail on it.
    All,
    /// Only destinations with the probing flag (Kamailio modes 0 and 3): flag 8 in the list, or set by the
    /// dispatcher when traffic failures take a destination down or it starts as
    /// [`crate::DestinationState::Probing`].
    Flagged,
    /// Only destinations taking no traffic (Inactive or Probing), to bring them back (Kamailio mode 2).
    Inactive,
}

/// How probing works. Defaults: every destination probed with OPTIONS every 10 s, 5 s to answer, 3
/// failures in a row take it down, 2 successes in a row bring it back, replies 2xx/404/405/501 count as up.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Which destinations are probed.
    pub mode: ProbeMode,
    /// Time from one probe of a destination to the next (at least 1 ms).
    pub interval: Duration,
    /// Time a probe may take before it counts as failed.
    pub timeout: Duration,
    /// Failures in a row that mark a destination Inactive (Kamailio's `ds_probing_threshold`; 0 acts as 1).
    pub down_threshold: u32,
    /// Successes in a row that mark an Inactive or Probing destination Active (Kamailio's
    /// `ds_inactive_threshold`; 0 acts as 1).
    pub up_threshold: u32,
    /// Replies that count as success (Kamailio's `ds_ping_reply_codes`).
    pub reply_codes: ReplyCodes,
    /// The probe method (Kamailio's `ds_ping_method`).
    pub method: Method,
    /// The From URI of probes (Kamailio's `ds_ping_from`); a destination's `ping_from` attribute wins.
    pub from: Uri,
    /// The host of the Via sent-by: the address (or name) replies come back to.
    pub via_host: Host,
    /// The port of the Via sent-by.
    pub via_port: Option<u16>,
    /// Weight of a new round-trip sample in the moving average (0..=1).
    pub latency_alpha: f64,
}

impl Default for ProbeConfig {
    fn default() -> ProbeConfig {
        ProbeConfig {
            mode: ProbeMode::All,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            down_threshold: 3,
            up_threshold: 2,
            reply_codes: ReplyCodes::probe_default(),
            method: Method::Options,
            from: default_from(),
            via_host: Host::Domain(Bytes::from_static(b"localhost")),
            via_port: None,
            latency_alpha: 0.1,
        }
    }
}

fn default_from() -> Uri {
    let host = Host::Domain(Bytes::from_static(b"localhost"));
    Uri::Sip(tandem_sip_core::SipUri::new(host).with_user("dispatcher"))
}

/// Identifies one probe in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(u64);

impl ProbeId {
    /// The id as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ProbeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "probe#{}", self.0)
    }
}

/// A probe to send: hand [`ProbeRequest::request`] to the transaction layer towards [`ProbeRequest::uri`]
/// (resolved per RFC 3263), and report how it ended with [`crate::Dispatcher::handle_probe_reply`].
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// The probe, to report its outcome.
    pub id: ProbeId,
    /// The destination probed.
    pub destination: DestinationId,
    /// The destination's set.
    pub set_id: u32,
    /// Where to send it (the destination URI).
    pub uri: Uri,
    /// The transport the URI asks for.
    pub transport: TransportKind,
    /// The local socket to send from, if the destination names one.
    pub socket: Option<SendSocket>,
    /// The OPTIONS request: Max-Forwards 1, a fresh Via branch, From tag and Call-ID.
    pub request: Request,
    /// When the probe counts as failed if no reply came; [`crate::Dispatcher::handle_timeout`] does it.
    pub deadline: Instant,
}

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// A final response with this status.
    Response(StatusCode),
    /// No final response in time.
    Timeout,
    /// The request could not be sent.
    TransportError,
}

/// The OPTIONS (or configured method) request probing `destination`.
pub(crate) fn build_probe_request(config: &ProbeConfig, destination: &Destination) -> Request {
    let uri = destination.uri.clone();
    let via = Via::new(
        Transport::from(destination.transport()),
        config.via_host.clone(),
        config.via_port,
    )
    .with_param("rport", None)
    .with_branch(&generate_branch());
    let from_uri = destination
        .attrs
        .ping_from()
        .unwrap_or(&config.from)
        .clone();
    let from = FromHeader(NameAddr::new(from_uri).with_tag(&generate_tag()));
    let to = ToHeader(NameAddr::new(uri.clone()));
    let cseq = CSeq {
        seq: 1,
        method: config.method.clone(),
    };
    Request::builder(config.method.clone(), uri)
        .typed(&via)
        .typed(&MaxForwards(1))
        .typed(&from)
        .typed(&to)
        .header(HeaderName::CallId, generate_call_id(None))
        .typed(&cseq)
        .build()
}

/// A probe in flight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) destination: DestinationId,
    pub(crate) sent_at: Instant,
    pub(crate) deadline: Instant,
}

/// When each idle destination is due a probe, and the probes in flight with their deadlines.
///
/// A destination is either scheduled or in flight, never both: sending removes it from the schedule, and
/// its outcome puts it back one interval after the probe was sent.
#[derive(Debug, Default)]
pub(crate) struct Prober {
    schedule: BTreeSet<(Instant, DestinationId)>,
    due: HashMap<DestinationId, Instant>,
    pending: HashMap<ProbeId, Pending>,
    deadlines: BTreeSet<(Instant, ProbeId)>,
    next_probe: u64,
}

impl Prober {
    /// Schedule `id` (again) at `at`, replacing any earlier schedule.
    pub(crate) fn schedule(&mut self, id: DestinationId, at: Instant) {
        if let Some(old) = self.due.insert(id, at) {
            self.schedule.remove(&(old, id));
        }
        self.schedule.insert((at, id));
    }

    /// Forget `id` (removed by a reload): its schedule and probes in flight.
    pub(crate) fn remove(&mut self, id: DestinationId) {
        if let Some(at) = self.due.remove(&id) {
            self.schedule.remove(&(at, id));
        }
        let gone: Vec<ProbeId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.destination == id)
            .map(|(probe, _)| *probe)
            .collect();
        for probe in gone {
            self.take(probe);
        }
    }

    /// The first destination due at or before `now`, taken off the schedule.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<DestinationId> {
        let first = *self.schedule.first()?;
        if first.0 > now {
            return None;
        }
        self.schedule.remove(&first);
        self.due.remove(&first.1);
        Some(first.1)
    }

    /// Record a probe sent now to `destination`.
    pub(crate) fn start(
        &mut self,
        destination: DestinationId,
        now: Instant,
        timeout: Duration,
    ) -> (ProbeId, Instant) {
        self.next_probe += 1;
        let id = ProbeId(self.next_probe);
        let deadline = now + timeout;
        self.pending.insert(
            id,
            Pending {
                destination,
                sent_at: now,
                deadline,
            },
        );
        self.deadlines.insert((deadline, id));
        (id, deadline)
    }

    /// Take a probe in flight off the books.
    pub(crate) fn take(&mut self, probe: ProbeId) -> Option<Pending> {
        let pending = self.pending.remove(&probe)?;
        self.deadlines.remove(&(pending.deadline, probe));
        Some(pending)
    }

    /// The first probe whose deadline is at or before `now`.
    pub(crate) fn expired(&self, now: Instant) -> Option<ProbeId> {
        let (deadline, probe) = *self.deadlines.first()?;
        (deadline <= now).then_some(probe)
    }

    /// The next time something is due: a scheduled probe (if probing is on) or a probe deadline.
    pub(crate) fn next_deadline(&self, probing: bool) -> Option<Instant> {
        let scheduled = probing
            .then(|| self.schedule.first().map(|(at, _)| *at))
            .flatten();
        let deadline = self.deadlines.first().map(|(at, _)| *at);
        match (scheduled, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Number of probes in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(text: &'static str) -> Destination {
        Destination::new(Uri::parse(&Bytes::from_static(text.as_bytes())).unwrap())
    }

    #[test]
    fn probe_is_an_options_with_max_forwards_one_and_fresh_ids() {
        let config = ProbeConfig::default();
        let d = destination("sip:127.0.0.1:5080;transport=tcp");
        let a = build_probe_request(&config, &d);
        let b = build_probe_request(&config, &d);
        assert_eq!(*a.method(), Method::Options);
        assert_eq!(a.uri(), &d.uri);
        assert_eq!(a.headers().max_forwards().unwrap().unwrap(), MaxForwards(1));
        let via = a.headers().via().unwrap().unwrap();
        assert!(via.has_rfc3261_branch());
        assert_eq!(via.transport(), &Transport::Tcp);
        let cseq = a.headers().cseq().unwrap().unwrap();
        assert_eq!(cseq.method, Method::Options);
        assert_ne!(
            a.headers().call_id().unwrap().unwrap(),
            b.headers().call_id().unwrap().unwrap()
        );
        assert_ne!(via.branch(), b.headers().via().unwrap().unwrap().branch());
        let from = a.headers().from().unwrap().unwrap();
        assert!(from.tag().is_some());
        assert_eq!(from.uri().to_string(), "sip:dispatcher@localhost");
        // The wire form parses back.
        assert!(tandem_sip_core::parse_message(a.to_bytes()).is_ok());
    }

    #[test]
    fn ping_from_attribute_overrides_configured_from() {
        let mut d = destination("sip:127.0.0.1:5080");
        d.attrs = crate::Attributes::parse("ping_from=sip:health@proxy.example").unwrap();
        let r = build_probe_request(&ProbeConfig::default(), &d);
        let from = r.headers().from().unwrap().unwrap();
        assert_eq!(from.uri().to_string(), "sip:health@proxy.example");
    }

    #[test]
    fn schedule_pops_in_time_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut p = Prober::default();
        p.schedule(DestinationId(2), t0 + Duration::from_secs(2));
        p.schedule(DestinationId(1), t0 + Duration::from_secs(1));
        assert_eq!(p.pop_due(t0), None);
        assert_eq!(
            p.pop_due(t0 + Duration::from_secs(5)),
            Some(DestinationId(1))
        );
        assert_eq!(
            p.pop_due(t0 + Duration::from_secs(5)),
            Some(DestinationId(2))
        );
        assert_eq!(p.pop_due(t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn rescheduling_replaces_the_earlier_time() {
        let t0 = Instant::now();
        let mut p = Prober::default();
        p.schedule(DestinationId(1), t0);
        p.schedule(DestinationId(1), t0 + Duration::from_secs(9));
        assert_eq!(p.pop_due(t0 + Duration::from_secs(1)), None);
        assert_eq!(p.next_deadline(true), Some(t0 + Duration::from_secs(9)));
    }

    #[test]
    fn removing_a_destination_drops_its_probes() {
        let t0 = Instant::now();
        let mut p = Prober::default();
        let (probe, _) = p.start(DestinationId(1), t0, Duration::from_secs(1));
        p.remove(DestinationId(1));
        assert!(p.take(probe).is_none());
        assert_eq!(p.next_deadline(true), None);
    }
}
