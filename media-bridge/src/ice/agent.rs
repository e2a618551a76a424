//! The ICE-lite agent: answers connectivity checks, learns the nominated pair, keeps consent.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::candidate::Candidate;
use super::consent::Consent;
use super::credentials::Credentials;
use super::sdp::IceSdp;
use super::{Event, IceError};
use crate::stun::{
    Attribute, Class, ErrorCode, IntegrityKey, Message, MessageWriter, Method, StunError,
    TransactionId,
};

/// The most host candidates one agent advertises.
pub const MAX_HOST_CANDIDATES: usize = 8;

/// Events queued beyond this are dropped oldest first (they only come from authenticated checks, but a
/// bound keeps an owner that never polls from growing memory).
const MAX_QUEUED_EVENTS: usize = 64;

/// Validated source addresses remembered (a browser checks from each of its host candidates).
const MAX_VALIDATED: usize = 16;

/// Room for the largest response the agent writes (a 420 with four unknown types, signed: 100 bytes).
const RESPONSE_CAPACITY: usize = 128;

/// At most this many unknown attribute types are echoed in a 420 response.
const MAX_UNKNOWN_ECHOED: usize = 4;

/// Settings of an [`IceAgent`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceConfig {
    /// How long without a valid check (or authenticated media) before consent expires. RFC 7675 §5.1
    /// recommends 30 s.
    pub consent_timeout: Duration,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            consent_timeout: Duration::from_secs(30),
        }
    }
}

/// A STUN response to send back to the source of the request, held inline (no allocation).
#[derive(Clone, Copy)]
pub struct BindingResponse {
    bytes: [u8; RESPONSE_CAPACITY],
    len: usize,
}

impl BindingResponse {
    /// The datagram to send.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl AsRef<[u8]> for BindingResponse {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for BindingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindingResponse")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// One set of credentials: ours (and the key they make) and the peer's, if known.
#[derive(Debug, Clone)]
struct Generation {
    local: Credentials,
    key: IntegrityKey,
    remote: Option<Credentials>,
}

impl Generation {
    fn new(local: Credentials, remote: Option<Credentials>) -> Self {
        let key = IntegrityKey::short_term(local.pwd());
        Generation { local, key, remote }
    }

    /// Whether `username` is `our-ufrag:their-ufrag` for this generation. The peer's half is accepted
    /// as anything while its credentials are still unknown (its check may overtake our answer's SDP).
    fn accepts(&self, username: &str) -> bool {
        let Some((ours, theirs)) = username.split_once(':') else {
            return false;
        };
        ours == self.local.ufrag() && self.remote.as_ref().is_none_or(|r| r.ufrag() == theirs)
    }
}

/// What the agent needs from a Binding request, gathered in one pass over its attributes.
#[derive(Debug, Default)]
struct CheckAttributes<'a> {
    username: Option<&'a str>,
    use_candidate: bool,
    controlled: bool,
}

impl<'a> CheckAttributes<'a> {
    fn read(message: &Message<'a>) -> Self {
        let mut check = CheckAttributes::default();
        for attribute in message.attributes() {
            match attribute {
                Attribute::Username(name) if check.username.is_none() => {
                    check.username = Some(name)
                }
                Attribute::UseCandidate => check.use_candidate = true,
                Attribute::IceControlled(_) => check.controlled = true,
                _ => {}
            }
        }
        check
    }
}

/// The outcome of authenticating a request: which generation's key signs the answer.
enum Authenticated {
    Current,
    Previous,
}

/// An ICE-lite agent for one component (RTP and RTCP muxed), always in the controlled role.
///
/// See the [module documentation](super) for the protocol and the driving loop.
#[derive(Debug)]
pub struct IceAgent {
    current: Generation,
    /// The credentials before the last restart, still honoured until a check with the new ones arrives,
    /// so a peer that has not applied the new SDP yet keeps its session.
    previous: Option<Generation>,
    candidates: Vec<Candidate>,
    selected: Option<SocketAddr>,
    /// Sources that passed an authenticated check (most recent last, at most [`MAX_VALIDATED`]).
    validated: Vec<SocketAddr>,
    consent: Consent,
    events: VecDeque<Event>,
}

impl IceAgent {
    /// An agent with fresh random local credentials.
    pub fn new(config: IceConfig) -> Result<IceAgent, IceError> {
        Ok(Self::with_credentials(Credentials::random()?, config))
    }

    /// An agent with the given local credentials (deterministic setups and tests).
    pub fn with_credentials(local: Credentials, config: IceConfig) -> IceAgent {
        IceAgent {
            current: Generation::new(local, None),
            previous: None,
            candidates: Vec::new(),
            selected: None,
            validated: Vec::new(),
            consent: Consent::new(config.consent_timeout),
            events: VecDeque::new(),
        }
    }

    /// Our credentials, for `a=ice-ufrag` / `a=ice-pwd`.
    pub fn local_credentials(&self) -> &Credentials {
        &self.current.local
    }

    /// The peer's credentials, once known.
    pub fn remote_credentials(&self) -> Option<&Credentials> {
        self.current.remote.as_ref()
    }

    /// Sets the peer's credentials from its SDP. Until then checks are accepted with any peer ufrag.
    pub fn set_remote_credentials(&mut self, remote: Credentials) {
        self.current.remote = Some(remote);
    }

    /// Advertises a host candidate on this address (the relay's public address and port for the leg).
    /// The first address gets the highest local preference; each distinct IP its own foundation.
    pub fn add_host_candidate(&mut self, address: SocketAddr) -> Result<&Candidate, IceError> {
        if address.ip().is_unspecified() || address.port() == 0 {
            return Err(IceError::InvalidCandidate {
                address,
                expected: "a concrete IP address and a non-zero port",
            });
        }
        if self.candidates.iter().any(|c| c.address() == address) {
            return Err(IceError::InvalidCandidate {
                address,
                expected: "an address not already advertised",
            });
        }
        if self.candidates.len() >= MAX_HOST_CANDIDATES {
            return Err(IceError::TooManyCandidates);
        }
        let foundation = self.foundation_for(address);
        // At most 8 candidates, so the preference stays within 65528..=65535.
        let local_preference = u16::MAX - self.candidates.len() as u16;
        self.candidates
            .push(Candidate::host(address, foundation, local_preference));
        self.candidates.last().ok_or(IceError::TooManyCandidates)
    }

    /// RFC 8445 §5.1.1.3: host candidates share a foundation exactly when they share a base IP address.
    fn foundation_for(&self, address: SocketAddr) -> u32 {
        if let Some(same_ip) = self
            .candidates
            .iter()
            .find(|c| c.address().ip() == address.ip())
        {
            return same_ip.foundation();
        }
        self.candidates
            .iter()
            .map(Candidate::foundation)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// The advertised host candidates.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Our SDP attributes: `a=ice-lite` at session level; ufrag, pwd, candidates and end-of-candidates
    /// at media level.
    pub fn sdp(&self) -> IceSdp {
        IceSdp::new(&self.current.local, &self.candidates)
    }

    /// Whether `source` passed an authenticated connectivity check: the peer may send media from it.
    pub fn is_validated(&self, source: SocketAddr) -> bool {
        self.validated.contains(&source)
    }

    /// Authenticated media (SRTP that passed its tag) arrived from `source`. When that is a validated
    /// address other than the selected one, the peer moved its media to another pair — Chromium switches to
    /// a better pair before nominating it, or without nominating it again — so media to the peer follows it
    /// (and [`Event::Selected`] is queued). Returns whether the selection changed.
    pub fn follow_media(&mut self, source: SocketAddr) -> bool {
        if self.selected == Some(source) || !self.is_validated(source) {
            return false;
        }
        self.selected = Some(source);
        self.push_event(Event::Selected(source));
        true
    }

    /// The remote address of the pair the peer last nominated (or moved its media to, see
    /// [`IceAgent::follow_media`]).
    pub fn selected(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// Whether consent has expired (the leg is dead until an ICE restart).
    pub fn is_consent_expired(&self) -> bool {
        self.consent.is_expired()
    }

    /// ICE restart on a re-offer with new peer credentials: makes new random local credentials (returned,
    /// for the answer). The selected pair is kept until the peer nominates again.
    pub fn restart(&mut self, remote: Credentials) -> Result<&Credentials, IceError> {
        let local = Credentials::random()?;
        Ok(self.restart_with(local, remote))
    }

    /// [`restart`](Self::restart) with chosen local credentials (deterministic setups and tests).
    ///
    /// The old credentials keep being honoured until the first check with the new ones arrives. A restart
    /// also revives an expired session: consent is re-armed by the next valid check.
    pub fn restart_with(&mut self, local: Credentials, remote: Credentials) -> &Credentials {
        let next = Generation::new(local, Some(remote));
        self.previous = Some(std::mem::replace(&mut self.current, next));
        self.consent.revive();
        &self.current.local
    }

    /// Records authenticated media from the peer (e.g. SRTP that passed its auth tag) as liveness.
    pub fn refresh_consent(&mut self, now: Instant) {
        self.consent.refresh(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.consent.deadline()
    }

    /// Advances timers to `now`; queues [`Event::ConsentExpired`] when consent runs out.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.consent.handle_timeout(now) {
            self.push_event(Event::ConsentExpired);
        }
    }

    /// The next queued event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Handles a datagram classified as STUN that arrived from `source`, returning the response to send
    /// back to `source`.
    ///
    /// Answers a valid Binding request with a success response carrying XOR-MAPPED-ADDRESS (= `source`),
    /// MESSAGE-INTEGRITY and FINGERPRINT, refreshes consent, and selects `source` when the request carries
    /// USE-CANDIDATE. Answers 400 (no USERNAME or MESSAGE-INTEGRITY), 401 (wrong credentials; nothing else
    /// changes), 420 (unknown comprehension-required attributes) and 487 (the peer claims the controlled
    /// role too: a lite agent never controls). Returns `None`, changing nothing, for anything else:
    /// unparsable bytes, a missing or wrong FINGERPRINT, indications, responses, or any request once
    /// consent has expired.
    pub fn handle_binding_request(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: &[u8],
    ) -> Option<BindingResponse> {
        let message = Message::parse(bytes).ok()?;
        if message.class() != Class::Request || message.method() != Method::BINDING {
            return None;
        }
        // RFC 8445 §7.2.2: checks carry FINGERPRINT; without it this may be some other protocol's packet.
        if !message.has_fingerprint() || self.consent.is_expired() {
            return None;
        }
        let id = message.transaction_id();
        let check = CheckAttributes::read(&message);
        let Some(username) = check.username.filter(|_| message.has_integrity()) else {
            return error_response(id, ErrorCode::BAD_REQUEST, &[], None);
        };
        let Some(which) = self.authenticate(&message, username) else {
            return error_response(id, ErrorCode::UNAUTHORIZED, &[], None);
        };
        let key = match which {
            Authenticated::Current => self.current.key.clone(),
            Authenticated::Previous => self.previous.as_ref()?.key.clone(),
        };
        let unknown = message.unknown_comprehension_required();
        if !unknown.is_empty() {
            return error_response(id, ErrorCode::UNKNOWN_ATTRIBUTE, unknown, Some(&key));
        }
        if check.controlled {
            // RFC 8445 §7.3.1.1: a lite agent cannot take the controlling role, so it always keeps its
            // role and tells the peer to switch.
            return error_response(id, ErrorCode::ROLE_CONFLICT, &[], Some(&key));
        }
        self.accept_check(now, source, check.use_candidate, which);
        success_response(id, source, &key)
    }

    /// Which credentials the request's USERNAME and MESSAGE-INTEGRITY match, if any.
    fn authenticate(&self, message: &Message<'_>, username: &str) -> Option<Authenticated> {
        let verifies =
            |g: &Generation| g.accepts(username) && message.verify_integrity(&g.key).is_ok();
        if verifies(&self.current) {
            return Some(Authenticated::Current);
        }
        self.previous
            .as_ref()
            .filter(|g| verifies(g))
            .map(|_| Authenticated::Previous)
    }

    /// State changes of a valid check: liveness, retiring old credentials, nomination.
    fn accept_check(
        &mut self,
        now: Instant,
        source: SocketAddr,
        nominated: bool,
        which: Authenticated,
    ) {
        if matches!(which, Authenticated::Current) {
            // The peer uses the new credentials: the old ones are no longer needed.
            self.previous = None;
        }
        self.consent.refresh(now);
        if !self.validated.contains(&source) {
            if self.validated.len() >= MAX_VALIDATED {
                self.validated.remove(0);
            }
            self.validated.push(source);
        }
        if nominated && self.selected != Some(source) {
            self.selected = Some(source);
            self.push_event(Event::Selected(source));
        }
    }
}

fn success_response(
    id: TransactionId,
    source: SocketAddr,
    key: &IntegrityKey,
) -> Option<BindingResponse> {
    respond(id, Class::SuccessResponse, |w| {
        w.xor_mapped_address(source)?;
        w.message_integrity(key)?;
        Ok(())
    })
}

/// An error response; signed only when the request authenticated (RFC 8489 §9.1.3: 400 and 401 are not).
fn error_response(
    id: TransactionId,
    error: ErrorCode<'_>,
    unknown: &[u16],
    key: Option<&IntegrityKey>,
) -> Option<BindingResponse> {
    respond(id, Class::ErrorResponse, |w| {
        w.error_code(error)?;
        if !unknown.is_empty() {
            w.unknown_attributes(unknown.get(..MAX_UNKNOWN_ECHOED).unwrap_or(unknown))?;
        }
        if let Some(key) = key {
            w.message_integrity(key)?;
        }
        Ok(())
    })
}

/// Writes a Binding response with `body`, then FINGERPRINT. `None` only if it cannot fit, which the
/// capacity rules out.
fn respond(
    id: TransactionId,
    class: Class,
    body: impl FnOnce(&mut MessageWriter<'_>) -> Result<(), StunError>,
) -> Option<BindingResponse> {
    let mut bytes = [0u8; RESPONSE_CAPACITY];
    let mut writer = MessageWriter::new(&mut bytes, class, Method::BINDING, id).ok()?;
    body(&mut writer).ok()?;
    writer.fingerprint().ok()?;
    let len = writer.finish();
    Some(BindingResponse { bytes, len })
}
