//! REGISTER processing (RFC 3261 §10.3, RFC 3327, RFC 5626 §6), sans-IO.
//!
//! [`Registrar::handle_register`] takes `now`, the request, the flow it came on and the AOR's stored bindings,
//! and returns the response with the changes to store. It reads no clock, touches no socket and no store: the
//! async [`crate::RegistrarService`] loads and stores around it, and tests drive it in virtual time.

mod reply;
mod request;
#[cfg(test)]
mod tests;

pub use reply::RegisterRejection;

use crate::aor::Aor;
use crate::binding::{Binding, BindingChange, BindingKey, Flow, order_by_q, whole_millis};
use reply::{Accepted, Reject, ok_response};
use request::{ContactEntry, Contacts};
use std::time::{Duration, SystemTime};
use tandem_sip_core::header::Path;
use tandem_sip_core::{CallId, Host, Method, Request, Response, StatusCode};

/// What a [`Registrar`] accepts. Build it from [`RegistrarConfig::default`] and change the fields you need.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Expiration given to a contact when neither its `expires` parameter nor an Expires header names one
    /// (default 3600 s, RFC 3261 §10.2.1.1's suggestion).
    pub default_expires: u32,
    /// Shortest non-zero expiration accepted; shorter ones are answered 423 with this as Min-Expires (default
    /// 60 s).
    pub min_expires: u32,
    /// Longest expiration granted; longer requests are shortened to it (default 86400 s).
    pub max_expires: u32,
    /// Most bindings one AOR may hold; a REGISTER that would add beyond it is answered 403 (default 16; `None`
    /// for no limit).
    pub max_contacts: Option<usize>,
    /// Domains this registrar serves (compared case-insensitively with the Request-URI and AOR hosts); empty
    /// means every domain.
    pub domains: Vec<String>,
}

impl Default for RegistrarConfig {
    fn default() -> RegistrarConfig {
        RegistrarConfig {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86_400,
            max_contacts: Some(16),
            domains: Vec::new(),
        }
    }
}

/// The result of one REGISTER: the response to send and the changes to apply to the AOR's bindings.
///
/// Apply `changes` with [`crate::LocationStore::apply`] before sending `response`: the 200 (OK) reports
/// them as done (RFC 3261 §10.3: bindings are committed if and only if every update succeeds). When applying
/// fails, send [`Registrar::server_error`] instead.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    /// The response to send.
    pub response: Response,
    /// The address-of-record, once the request got far enough to name one.
    pub aor: Option<Aor>,
    /// Changes to apply to the AOR's stored bindings, atomically; empty for a rejection or a query. Bindings
    /// found expired are removed here too.
    pub changes: Vec<BindingChange>,
    /// The AOR's bindings once `changes` are applied, in q order (what the 200 lists); empty on rejection.
    pub bindings: Vec<Binding>,
    /// Why the request was refused, if it was.
    pub rejection: Option<RegisterRejection>,
}

/// The REGISTER rules of RFC 3261 §10.3 with Path (RFC 3327) and outbound (RFC 5626), as a plain value.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use bytes::Bytes;
/// use tandem_registrar::{Flow, FlowToken, Registrar, RegistrarConfig};
/// use tandem_sip_core::{parse_message, Message, Transport};
///
/// let registrar = Registrar::new(RegistrarConfig::default());
/// let wire = "REGISTER sip:example.com SIP/2.0\r\n\
///     Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1\r\n\
///     Max-Forwards: 70\r\n\
///     To: <sip:alice@example.com>\r\n\
///     From: <sip:alice@example.com>;tag=1\r\n\
///     Call-ID: reg-1@192.0.2.10\r\n\
///     CSeq: 1 REGISTER\r\n\
///     Contact: <sip:alice@192.0.2.10:5060>;expires=600\r\n\
///     Content-Length: 0\r\n\r\n";
/// let Ok(Message::Request(request)) = parse_message(Bytes::from(wire)) else { unreachable!() };
/// let flow = Flow::new(FlowToken::new("udp-1"), Transport::Udp, "192.0.2.10:5060".parse().unwrap());
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
///
/// let outcome = registrar.handle_register(now, &request, &flow, &[]);
/// assert_eq!(outcome.response.status().as_u16(), 200);
/// assert_eq!(outcome.bindings[0].remaining(now), 600);
/// ```
#[derive(Debug, Clone)]
pub struct Registrar {
    config: RegistrarConfig,
}

/// What one REGISTER is about, once its headers are read.
struct RegisterContext<'a> {
    now: SystemTime,
    request: &'a Request,
    flow: &'a Flow,
    call_id: CallId,
    cseq: u32,
    header_expires: Option<u32>,
    path: Vec<Path>,
    outbound_supported: bool,
}

impl Registrar {
    /// A registrar with `config`, made consistent: `max_expires` is raised to `min_expires` if below it, and
    /// `default_expires` is moved into `min_expires..=max_expires`; domains are lower-cased.
    pub fn new(mut config: RegistrarConfig) -> Registrar {
        config.max_expires = config.max_expires.max(config.min_expires);
        config.default_expires = config
            .default_expires
            .clamp(config.min_expires, config.max_expires);
        for domain in &mut config.domains {
            domain.make_ascii_lowercase();
        }
        Registrar { config }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The canonical address-of-record of a REGISTER (from its To URI), after the checks that come before
    /// it in RFC 3261 §10.3 (steps 1, 2 and 5); a store is read with it before calling
    /// [`Registrar::handle_register`]. On refusal, the response to send.
    pub fn address_of_record(&self, request: &Request) -> Result<Aor, Box<RegisterOutcome>> {
        self.check_and_find_aor(request)
            .map_err(|reject| Box::new(rejected(request, None, reject)))
    }

    /// Process a REGISTER received at `now` on `flow`, given the AOR's stored bindings (expired ones are
    /// ignored and removed). Never fails: a refusal is a response too.
    pub fn handle_register(
        &self,
        now: SystemTime,
        request: &Request,
        flow: &Flow,
        current: &[Binding],
    ) -> RegisterOutcome {
        match self.check_and_find_aor(request) {
            Ok(aor) => self.handle_register_of(now, request, flow, current, aor),
            Err(reject) => rejected(request, None, reject),
        }
    }

    /// [`Registrar::handle_register`] for a request whose AOR [`Registrar::address_of_record`] has just
    /// found (and so passed the checks that come before it): they are not repeated.
    pub(crate) fn handle_register_of(
        &self,
        now: SystemTime,
        request: &Request,
        flow: &Flow,
        current: &[Binding],
        aor: Aor,
    ) -> RegisterOutcome {
        match self.update(now, request, flow, current) {
            Ok(accepted) => RegisterOutcome {
                response: ok_response(request, now, &accepted),
                aor: Some(aor),
                changes: accepted.changes,
                bindings: accepted.bindings,
                rejection: None,
            },
            Err(reject) => rejected(request, Some(aor), reject),
        }
    }

    /// The 500 (Server Internal Error) to send when the changes of an outcome could not be stored.
    pub fn server_error(&self, request: &Request) -> Response {
        Response::from_request(
            request,
            StatusCode::SERVER_INTERNAL_ERROR,
            Some(reply::to_tag(request).as_str()),
        )
        .build()
    }

    fn check_and_find_aor(&self, request: &Request) -> Result<Aor, Reject> {
        if *request.method() != Method::Register {
            return Err(Reject::MethodNotAllowed);
        }
        let Some(target) = request.uri().as_sip() else {
            return Err(Reject::UnsupportedUriScheme);
        };
        if !self.serves(target.host()) {
            return Err(Reject::NotFound);
        }
        request::check_require(request)?;
        let to = match request.headers().to() {
            Some(Ok(to)) => to,
            _ => return Err(Reject::BadRequest("Missing Or Malformed To")),
        };
        let aor = Aor::from_uri(to.uri()).map_err(|_| Reject::NotFound)?;
        if !self.serves_domain(aor.host()) {
            return Err(Reject::NotFound);
        }
        Ok(aor)
    }

    fn serves(&self, host: &Host) -> bool {
        let domains = &self.config.domains;
        match host {
            _ if domains.is_empty() => true,
            // What comparing `host.to_string()` gives, without building it.
            Host::Domain(name) => domains
                .iter()
                .any(|d| d.as_bytes().eq_ignore_ascii_case(name)),
            // Dotted-quad text has one form, so reading a configured name as an address is the same test.
            Host::Ipv4(address) => domains.iter().any(|d| d.parse() == Ok(*address)),
            Host::Ipv6(_) => self.serves_domain(&host.to_string()),
        }
    }

    fn serves_domain(&self, host: &str) -> bool {
        self.config.domains.is_empty()
            || self
                .config
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(host))
    }

    /// Steps 6–7 of §10.3 over a working copy of the bindings; the changes are the difference at the end.
    fn update(
        &self,
        now: SystemTime,
        request: &Request,
        flow: &Flow,
        current: &[Binding],
    ) -> Result<Accepted, Reject> {
        let ctx = context(now, request, flow)?;
        let contacts = request::contacts(request)?;
        let mut working: Vec<Binding> = current
            .iter()
            .filter(|b| !b.is_expired(now))
            .cloned()
            .collect();
        let live = working.len();
        let mut outbound = false;
        match contacts {
            Contacts::Query => {}
            Contacts::Wildcard => remove_all(&ctx, &mut working)?,
            Contacts::List(entries) => {
                check_outbound(&ctx, &entries)?;
                for entry in entries {
                    outbound |= self.apply_contact(&ctx, entry, &mut working)?;
                }
            }
        }
        if let Some(max) = self.config.max_contacts
            && working.len() > max
            && working.len() > live
        {
            return Err(Reject::TooManyContacts);
        }
        order_by_q(&mut working);
        let path = if request::supports(request, "path") {
            ctx.path
        } else {
            Vec::new()
        };
        Ok(Accepted {
            changes: difference(current, &working),
            bindings: working,
            path,
            outbound,
        })
    }

    /// Add, refresh or remove the binding one contact names; returns whether it registered an outbound flow.
    fn apply_contact(
        &self,
        ctx: &RegisterContext<'_>,
        entry: ContactEntry,
        working: &mut Vec<Binding>,
    ) -> Result<bool, Reject> {
        let requested = entry
            .expires
            .or(ctx.header_expires)
            .unwrap_or(self.config.default_expires);
        if requested != 0 && requested < self.config.min_expires {
            return Err(Reject::IntervalTooBrief {
                min_expires: self.config.min_expires,
            });
        }
        let expires = requested.min(self.config.max_expires);
        let outbound = is_outbound(ctx, &entry);
        let found = working
            .iter()
            .position(|b| same_binding(b, &entry, outbound));
        if let Some(existing) = found.and_then(|i| working.get(i))
            && existing.call_id == ctx.call_id
            && ctx.cseq <= existing.cseq
        {
            return Err(Reject::OutOfOrder);
        }
        if expires == 0 {
            if let Some(i) = found {
                working.remove(i);
            }
            return Ok(false);
        }
        let key = match found.and_then(|i| working.get(i)) {
            Some(existing) => existing.key.clone(),
            None => new_key(&entry, outbound),
        };
        let binding = new_binding(ctx, key, entry, expires, outbound);
        match found.and_then(|i| working.get_mut(i)) {
            Some(slot) => *slot = binding,
            None => working.push(binding),
        }
        Ok(outbound)
    }
}

/// RFC 5626 §6: one flow per REGISTER, and only through a first hop that supports outbound.
fn check_outbound(ctx: &RegisterContext<'_>, entries: &[ContactEntry]) -> Result<(), Reject> {
    // De-registering several flows at once is fine; registering is one flow per request.
    let flows = entries
        .iter()
        .filter(|e| is_outbound(ctx, e) && e.expires.or(ctx.header_expires) != Some(0))
        .count();
    if flows == 0 {
        return Ok(());
    }
    if flows > 1 {
        return Err(Reject::BadRequest("More Than One Outbound Flow"));
    }
    // The first hop's Path entry is the last one, since each proxy adds its own on top; the topmost entry
    // is accepted too, as some deployments read RFC 5626 §6's "first Path header field value" that way.
    let has_ob = |p: &Path| p.uri().as_sip().is_some_and(|u| u.params().contains("ob"));
    let first_hop_ok = request::via_count(ctx.request) <= 1
        || ctx.path.last().is_some_and(has_ob)
        || ctx.path.first().is_some_and(has_ob);
    if first_hop_ok {
        Ok(())
    } else {
        Err(Reject::FirstHopLacksOutbound)
    }
}

fn rejected(request: &Request, aor: Option<Aor>, reject: Reject) -> RegisterOutcome {
    RegisterOutcome {
        response: reject.response(request),
        aor,
        changes: Vec::new(),
        bindings: Vec::new(),
        rejection: Some(reject),
    }
}

fn context<'a>(
    now: SystemTime,
    request: &'a Request,
    flow: &'a Flow,
) -> Result<RegisterContext<'a>, Reject> {
    let headers = request.headers();
    let Some(Ok(call_id)) = headers.call_id() else {
        return Err(Reject::BadRequest("Missing Or Malformed Call-ID"));
    };
    let cseq = match headers.cseq() {
        Some(Ok(cseq)) if cseq.method == Method::Register => cseq.seq,
        _ => return Err(Reject::BadRequest("Missing Or Malformed CSeq")),
    };
    Ok(RegisterContext {
        now,
        request,
        flow,
        call_id,
        cseq,
        header_expires: request::expires_header(request),
        path: request::path(request)?,
        outbound_supported: request::supports(request, "outbound"),
    })
}

/// RFC 5626 applies to a contact with both `+sip.instance` and `reg-id` from a UA that supports outbound;
/// otherwise `reg-id` is ignored and the contact is an RFC 3261 binding.
fn is_outbound(ctx: &RegisterContext<'_>, entry: &ContactEntry) -> bool {
    ctx.outbound_supported && entry.instance.is_some() && entry.reg_id.is_some()
}

/// Whether `binding` is the one `entry` names: the same flow for outbound, an equivalent URI otherwise.
fn same_binding(binding: &Binding, entry: &ContactEntry, outbound: bool) -> bool {
    if outbound {
        return binding.reg_id.is_some()
            && binding.reg_id == entry.reg_id
            && binding.instance == entry.instance;
    }
    !binding.is_outbound() && binding.uri().equivalent(entry.contact.uri())
}

/// The name of a new binding: its flow for outbound, its contact URI otherwise.
fn new_key(entry: &ContactEntry, outbound: bool) -> BindingKey {
    match (&entry.instance, entry.reg_id) {
        (Some(instance), Some(reg_id)) if outbound => BindingKey::for_flow(instance, reg_id),
        _ => BindingKey::for_contact(entry.contact.uri()),
    }
}

fn new_binding(
    ctx: &RegisterContext<'_>,
    key: BindingKey,
    entry: ContactEntry,
    expires: u32,
    outbound: bool,
) -> Binding {
    let expires_at = whole_millis(ctx.now) + Duration::from_secs(u64::from(expires));
    let mut binding = Binding::new(
        key,
        entry.contact,
        expires_at,
        ctx.call_id.clone(),
        ctx.cseq,
    );
    binding.q = entry.q;
    binding.instance = entry.instance;
    binding.reg_id = if outbound { entry.reg_id } else { None };
    binding.path = ctx.path.clone();
    binding.flow = Some(ctx.flow.clone());
    binding.user_agent = request::user_agent(ctx.request);
    binding
}

/// `Contact: *` (RFC 3261 §10.3 step 6): only with `Expires: 0`, and every binding must be older than the
/// request by Call-ID/CSeq.
fn remove_all(ctx: &RegisterContext<'_>, working: &mut Vec<Binding>) -> Result<(), Reject> {
    if ctx.header_expires != Some(0) {
        return Err(Reject::BadRequest("Wildcard Contact Needs Expires 0"));
    }
    let out_of_order = working
        .iter()
        .any(|b| b.call_id == ctx.call_id && ctx.cseq <= b.cseq);
    if out_of_order {
        return Err(Reject::OutOfOrder);
    }
    working.clear();
    Ok(())
}

/// The changes that turn `before` into `after`: upserts for new or changed bindings, removals for the rest.
fn difference(before: &[Binding], after: &[Binding]) -> Vec<BindingChange> {
    let mut changes = Vec::new();
    for binding in after {
        if !before.iter().any(|b| b == binding) {
            changes.push(BindingChange::Upsert(binding.clone()));
        }
    }
    for binding in before {
        if !after.iter().any(|b| b.key == binding.key) {
            changes.push(BindingChange::Remove(binding.key.clone()));
        }
    }
    changes
}
