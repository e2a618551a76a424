//! What a UAS or a proxy checks in a parsed request before processing it, and the reply it sends when a check
//! fails (RFC 3261 §8.2 for a UAS, §16.3 for a proxy); and what a user agent or proxy checks in a received
//! response before handing it to a transaction (RFC 3261 §8.1.3, §16.7), where a failure means "drop it".
//!
//! [`validate_request`] runs the checks in the order the RFC gives them, so that the first failure is the reply:
//!
//! | check | reply |
//! |---|---|
//! | SIP-Version is not 2.0 | 505 |
//! | Via, From, To, Call-ID or CSeq missing (Max-Forwards too if [`ValidationPolicy::require_max_forwards`]) | 400 `Bad Request - Missing …` |
//! | a single-valued header (From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type, Expires) repeated with different values | 400 `Bad Request - Multiple values in …` |
//! | Via, From, To, Call-ID, CSeq or Content-Length malformed or out of range | 400 `Bad Request - Malformed …` / `… out of range` |
//! | Content-Length disagrees with the body | 400 |
//! | Max-Forwards malformed or out of range | 400 |
//! | top Via branch is the bare magic cookie `z9hG4bK` | 400 |
//! | UAS: method not recognised / recognised but not allowed | 501 / 405, with `Allow` |
//! | Request-URI scheme not sip, sips or tel | 416 |
//! | Request-URI carries headers (`?…`) | 400 |
//! | CSeq method differs from the request method | 400 |
//! | proxy: Max-Forwards is 0 | 483 |
//! | UAS: `Require` / proxy: `Proxy-Require` names an option tag not supported | 420, with `Unsupported` |
//! | UAS: Contact, Expires, Content-Type, Require, Accept malformed | 400 |
//! | UAS: body without Content-Type | 400 |
//! | UAS: body of a type not accepted | 415, with `Accept` |
//! | UAS: INVITE whose `Accept` excludes every body type the UAS can answer with | 406 |
//! | UAS registrar: REGISTER whose To is not a SIP or SIPS URI | 400 |
//!
//! A proxy checks only what it needs to forward (RFC 3261 §16.3 step 1): it leaves Contact, Require, bodies and
//! the like to the UAS. To-tag, Merged-request and loop checks belong to the transaction and dialog layers.
//!
//! A request that the parser rejected has no [`Request`] to validate; [`Rejection::from_parse_error`] gives its
//! reply code and reason.

use crate::error::{ParseError, ParseErrorKind};
use crate::header::{
    Accept, BRANCH_MAGIC_COOKIE, CSeq, CallId, Contact, ContentLength, ContentType, Expires,
    FromHeader, HeaderName, MaxForwards, MediaType, ProxyRequire, Require, RetryAfter, ToHeader,
    TypedHeader, Via, Warning,
};
use crate::message::{HeaderField, Headers, Request, Response};
use crate::method::{Method, StatusCode};
use crate::uri::{Host, Uri};
use bytes::Bytes;
use std::borrow::Cow;
use std::fmt;

/// The role of the element validating a message, and what it supports.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A user agent server (an endpoint, a registrar, an application server) that processes requests itself.
    ///
    /// For [`validate_response`] this stands for the user agent that sent the request and receives the
    /// response (its client side).
    Uas {
        /// Option tags this UAS supports; a `Require` naming any other is answered with 420.
        supported: Vec<Cow<'static, str>>,
        /// Methods this UAS accepts. A method outside this list is answered with 405 when this crate
        /// recognises it ([`Method`] other than [`Method::Extension`]) and with 501 otherwise. A UAS that
        /// allows REGISTER acts as a registrar.
        allowed: Vec<Method>,
        /// Body types this UAS understands (and can answer with); other bodies are answered with 415.
        accepted: Vec<MediaType>,
    },
    /// A proxy that forwards requests.
    Proxy {
        /// Option tags this proxy supports; a `Proxy-Require` naming any other is answered with 420.
        supported: Vec<Cow<'static, str>>,
        /// Methods the proxy answers itself when Max-Forwards is 0 instead of replying 483 (RFC 3261 §16.3
        /// step 3 lets it act as the final recipient of an OPTIONS); empty by default.
        answers_at_zero_max_forwards: Vec<Method>,
    },
}

impl Role {
    /// A UAS allowing INVITE, ACK, CANCEL, BYE and OPTIONS, accepting `application/sdp` bodies and supporting
    /// no extensions.
    pub fn uas() -> Role {
        Role::Uas {
            supported: Vec::new(),
            allowed: vec![
                Method::Invite,
                Method::Ack,
                Method::Cancel,
                Method::Bye,
                Method::Options,
            ],
            accepted: vec![MediaType::new("application", "sdp")],
        }
    }

    /// A proxy supporting no extensions and answering 483 to every request with Max-Forwards 0.
    pub fn proxy() -> Role {
        Role::Proxy {
            supported: Vec::new(),
            answers_at_zero_max_forwards: Vec::new(),
        }
    }
}

/// What [`validate_request`] and [`validate_response`] check, beyond what RFC 3261 makes mandatory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// The role of the validating element.
    pub role: Role,
    /// Reject requests without Max-Forwards (400). Off by default: RFC 3261 §16.3 step 3 passes a request
    /// without one, and RFC 2543 elements do not send it (RFC 4475 §3.4.1).
    pub require_max_forwards: bool,
    /// The `warn-agent` (host name or pseudonym token) to put in a `Warning: 399` of a 406 reply; without one,
    /// the 406 carries no Warning.
    pub warn_agent: Option<Cow<'static, str>>,
}

impl ValidationPolicy {
    /// A policy for `role` with the defaults for everything else.
    pub fn new(role: Role) -> ValidationPolicy {
        ValidationPolicy {
            role,
            require_max_forwards: false,
            warn_agent: None,
        }
    }

    /// A policy for the default UAS ([`Role::uas`]).
    pub fn uas() -> ValidationPolicy {
        ValidationPolicy::new(Role::uas())
    }

    /// A policy for the default proxy ([`Role::proxy`]).
    pub fn proxy() -> ValidationPolicy {
        ValidationPolicy::new(Role::proxy())
    }
}

/// Why a request is rejected and the reply to send: status code, a specific reason phrase and the header
/// fields the reply must carry (`Unsupported` for 420, `Allow` for 405/501, `Accept` for 415, …).
///
/// A rejected ACK must not be answered (RFC 3261 §17.2.1): drop it instead.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The reply's status code.
    pub status: StatusCode,
    /// The reply's reason phrase, e.g. `Bad Request - Missing Call-ID`.
    pub reason: Cow<'static, str>,
    /// Header fields to add to the reply.
    pub headers: Vec<HeaderField>,
    /// The header field at fault, if one is.
    pub header: Option<HeaderName>,
    /// The parse error behind the rejection, if any (offsets count from the start of the message).
    pub cause: Option<Box<ParseError>>,
}

impl Rejection {
    fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection {
            status,
            reason: reason.into(),
            headers: Vec::new(),
            header: None,
            cause: None,
        }
    }

    /// The rejection of the status code's canonical reason phrase.
    fn canonical(status: StatusCode) -> Rejection {
        Rejection::new(status, status.canonical_reason())
    }

    fn with_header(mut self, name: HeaderName, value: impl Into<Bytes>) -> Rejection {
        self.headers.push(HeaderField::new(name, value));
        self
    }

    /// The reply to a request the parser rejected with `error`: 513 for [`ParseErrorKind::MessageTooLarge`],
    /// 400 with a reason phrase naming the problem for everything else.
    ///
    /// Replying needs the Via, From, To, Call-ID and CSeq of the request; when the parser failed before
    /// reaching them (or they are missing), the request cannot be answered and must be dropped. On a stream
    /// transport, close the connection after replying to a framing error ([`ParseErrorKind::ContentLengthMismatch`],
    /// [`ParseErrorKind::MissingContentLength`]): where the next message starts is unknown.
    pub fn from_parse_error(error: &ParseError) -> Rejection {
        let (status, what) = match error.kind {
            ParseErrorKind::MessageTooLarge { .. } => {
                let mut r = Rejection::canonical(StatusCode::MESSAGE_TOO_LARGE);
                r.cause = Some(Box::new(error.clone()));
                return r;
            }
            ParseErrorKind::Syntax => (StatusCode::BAD_REQUEST, "Malformed message"),
            ParseErrorKind::Incomplete => (StatusCode::BAD_REQUEST, "Incomplete message"),
            ParseErrorKind::LineTooLong { .. } => (StatusCode::BAD_REQUEST, "Line too long"),
            ParseErrorKind::TooManyHeaders { .. } => {
                (StatusCode::BAD_REQUEST, "Too many header fields")
            }
            ParseErrorKind::TooManyVias { .. } => (StatusCode::BAD_REQUEST, "Too many Via entries"),
            ParseErrorKind::ContentLengthMismatch => (
                StatusCode::BAD_REQUEST,
                "Content-Length does not match the body",
            ),
            ParseErrorKind::MissingContentLength => {
                (StatusCode::BAD_REQUEST, "Missing Content-Length")
            }
            ParseErrorKind::OutOfRange => (StatusCode::BAD_REQUEST, "Value out of range"),
        };
        let mut reason = format!("Bad Request - {what}");
        if matches!(
            error.kind,
            ParseErrorKind::Syntax | ParseErrorKind::OutOfRange
        ) {
            reason.push_str(", expected ");
            reason.push_str(error.expected);
        }
        let mut r = Rejection::new(status, reason_phrase(&reason));
        r.cause = Some(Box::new(error.clone()));
        r
    }

    /// The reply to `request`: a response built with [`Response::from_request`] (Via, From, To, Call-ID and
    /// CSeq copied, `to_tag` added to a To without a tag) with this status, reason phrase and header fields.
    pub fn response(&self, request: &Request, to_tag: Option<&str>) -> Response {
        let reason = match &self.reason {
            Cow::Borrowed(s) => Bytes::from_static(s.as_bytes()),
            Cow::Owned(s) => Bytes::copy_from_slice(s.as_bytes()),
        };
        let mut builder = Response::from_request(request, self.status, to_tag).reason(reason);
        for field in &self.headers {
            builder = builder.field(field.clone());
        }
        builder.build()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request rejected: {} {}", self.status, self.reason)
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|e| e as _)
    }
}

/// Why a received response must be dropped without further processing (responses are never answered).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discard {
    /// What is wrong, e.g. `Malformed CSeq`.
    pub reason: Cow<'static, str>,
    /// The header field at fault, if one is.
    pub header: Option<HeaderName>,
    /// The parse error behind it, if any (offsets count from the start of the message).
    pub cause: Option<Box<ParseError>>,
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "response discarded: {}", self.reason)
    }
}

impl std::error::Error for Discard {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|e| e as _)
    }
}

/// A defect found by a check shared by requests and responses; becomes a 400 [`Rejection`] or a [`Discard`].
#[derive(Debug)]
struct Fault {
    /// Without the `Bad Request - ` prefix.
    what: Cow<'static, str>,
    header: Option<HeaderName>,
    cause: Option<Box<ParseError>>,
}

impl Fault {
    fn new(what: impl Into<Cow<'static, str>>, header: Option<HeaderName>) -> Fault {
        Fault {
            what: what.into(),
            header,
            cause: None,
        }
    }

    fn parse(name: &HeaderName, error: ParseError) -> Fault {
        let what = match error.kind {
            ParseErrorKind::OutOfRange => format!("{} out of range", name.as_str()),
            _ => format!("Malformed {}", name.as_str()),
        };
        Fault {
            what: what.into(),
            header: Some(name.clone()),
            cause: Some(Box::new(error)),
        }
    }

    fn into_rejection(self) -> Rejection {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            reason: format!("Bad Request - {}", self.what).into(),
            headers: Vec::new(),
            header: self.header,
            cause: self.cause,
        }
    }

    fn into_discard(self) -> Discard {
        Discard {
            reason: self.what,
            header: self.header,
            cause: self.cause,
        }
    }
}

/// Header fields every request and response carries (RFC 3261 §8.1.1).
const REQUIRED: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

/// Header fields that are not lists and so appear at most once (RFC 3261 §7.3.1).
const SINGLE_VALUED: [HeaderName; 8] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
    HeaderName::ContentType,
    HeaderName::Expires,
];

/// Check a parsed request as a UAS (RFC 3261 §8.2) or proxy (§16.3) does before processing it; on failure,
/// the [`Rejection`] says which reply to send (see the [module documentation](self) for the checks).
///
/// ```
/// use tandem_sip_core::{parse_message, validate_request, Message, ValidationPolicy};
/// use bytes::Bytes;
///
/// let wire = Bytes::from_static(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
/// let Ok(Message::Request(request)) = parse_message(wire) else { panic!("not a request") };
/// let rejection = validate_request(&request, &ValidationPolicy::uas()).unwrap_err();
/// assert_eq!(rejection.status.as_u16(), 400);
/// let reply = rejection.response(&request, Some("uas-tag"));
/// assert_eq!(&reply.reason()[..], b"Bad Request - CSeq method does not match the request method");
/// ```
pub fn validate_request(request: &Request, policy: &ValidationPolicy) -> Result<(), Rejection> {
    if !request.version().is_sip_2_0() {
        return Err(Rejection::canonical(StatusCode::VERSION_NOT_SUPPORTED));
    }
    let headers = request.headers();
    let Structure { cseq, bare_branch } =
        check_structure(headers, request.body(), policy.require_max_forwards)
            .map_err(Fault::into_rejection)?;
    let max_forwards = match headers.max_forwards() {
        Some(parsed) => Some(parsed.map_err(|e| parse_fault(HeaderName::MaxForwards, e))?),
        None => None,
    };
    // A top Via branch that is only the magic cookie cannot identify a transaction (RFC 4475 §3.2.1):
    // rejecting it statelessly is better than matching it against every other such request.
    if bare_branch {
        let what = "Via branch has nothing after the magic cookie";
        return Err(Fault::new(what, Some(HeaderName::Via)).into_rejection());
    }
    match &policy.role {
        Role::Uas {
            supported,
            allowed,
            accepted,
        } => {
            check_method(request.method(), allowed)?;
            check_request_uri(request.uri())?;
            check_cseq_method(request, &cseq)?;
            check_uas_headers(request, supported, accepted, policy)?;
            check_registrar(request, allowed)
        }
        Role::Proxy {
            supported,
            answers_at_zero_max_forwards,
        } => {
            check_request_uri(request.uri())?;
            check_cseq_method(request, &cseq)?;
            let exempt = answers_at_zero_max_forwards.contains(request.method());
            if max_forwards == Some(MaxForwards(0)) && !exempt {
                return Err(Rejection::canonical(StatusCode::TOO_MANY_HOPS));
            }
            check_option_tags::<ProxyRequire>(headers, supported, ProxyRequire::tag)
        }
    }
}

/// Check a received response before handing it to a client transaction (RFC 3261 §8.1.3) or forwarding it
/// (§16.7); on failure it must be dropped.
///
/// Both roles check the version, the presence, uniqueness and syntax of Via, From, To, Call-ID, CSeq and
/// Content-Length, the body length, and the syntax of Retry-After and Warning. A user agent ([`Role::Uas`])
/// also drops a response with more than one Via (§8.1.3.3); a proxy drops one that would be sent on to a
/// broadcast address (RFC 4475 §3.3.10).
pub fn validate_response(response: &Response, policy: &ValidationPolicy) -> Result<(), Discard> {
    if !response.version().is_sip_2_0() {
        return Err(Fault::new(format!("Unsupported {}", response.version()), None).into_discard());
    }
    let headers = response.headers();
    check_structure(headers, response.body(), false).map_err(Fault::into_discard)?;
    parse_all::<RetryAfter>(headers).map_err(Fault::into_discard)?;
    parse_all::<Warning>(headers).map_err(Fault::into_discard)?;
    match &policy.role {
        Role::Uas { .. } if headers.vias().nth(1).is_some() => {
            Err(Fault::new("More than one Via", Some(HeaderName::Via)).into_discard())
        }
        Role::Proxy { .. } if headers.vias().flatten().any(|v| is_broadcast(&v)) => {
            Err(Fault::new("Via to a broadcast address", Some(HeaderName::Via)).into_discard())
        }
        _ => Ok(()),
    }
}

fn is_broadcast(via: &Via) -> bool {
    let host_broadcast = matches!(via.host(), Host::Ipv4(ip) if ip.is_broadcast());
    let maddr_broadcast = via.maddr() == Some(b"255.255.255.255".as_slice());
    host_broadcast || maddr_broadcast
}

/// What [`check_structure`] read on the way.
struct Structure {
    cseq: CSeq,
    /// Whether the top Via's branch is only the magic cookie.
    bare_branch: bool,
}

/// The checks shared by requests and responses: required header fields present, single-valued ones not
/// repeated with different values, the core ones well formed, Content-Length agreeing with the body. Returns
/// the CSeq and what the request checks need of the top Via.
fn check_structure(
    headers: &Headers,
    body: &Bytes,
    require_max_forwards: bool,
) -> Result<Structure, Fault> {
    let max_forwards = [HeaderName::MaxForwards];
    let extra: &[HeaderName] = if require_max_forwards {
        &max_forwards
    } else {
        &[]
    };
    let missing: Vec<&HeaderName> = REQUIRED
        .iter()
        .chain(extra)
        .filter(|name| headers.elements((*name).clone()).next().is_none())
        .collect();
    if let Some(first) = missing.first() {
        let what = format!("Missing {}", names(&missing));
        return Err(Fault::new(what, Some((*first).clone())));
    }
    let repeated: Vec<&HeaderName> = SINGLE_VALUED
        .iter()
        .filter(|name| has_conflicting_values(headers, name))
        .collect();
    if let Some(first) = repeated.first() {
        let what = format!("Multiple values in {}", names(&repeated));
        return Err(Fault::new(what, Some((*first).clone())));
    }
    let bare_branch = check_vias(headers)?;
    parse_one::<FromHeader>(headers)?;
    parse_one::<ToHeader>(headers)?;
    parse_one::<CallId>(headers)?;
    let cseq = parse_one::<CSeq>(headers)?;
    let content_length = parse_one::<ContentLength>(headers)?;
    if let Some(ContentLength(len)) = content_length
        && usize::try_from(len).ok() != Some(body.len())
    {
        let what = "Content-Length does not match the body";
        return Err(Fault::new(what, Some(HeaderName::ContentLength)));
    }
    // REQUIRED holds CSeq and it parsed, so this is always Some.
    let cseq = cseq.ok_or_else(|| Fault::new("Missing CSeq", Some(HeaderName::CSeq)))?;
    Ok(Structure { cseq, bare_branch })
}

/// `A, B, C`
fn names(list: &[&HeaderName]) -> String {
    let names: Vec<&str> = list.iter().map(|n| n.as_str()).collect();
    names.join(", ")
}

/// Whether fields called `name` carry more than one distinct value.
fn has_conflicting_values(headers: &Headers, name: &HeaderName) -> bool {
    let mut fields = headers.get_all(name);
    let Some(first) = fields.next() else {
        return false;
    };
    fields.any(|f| f.value() != first.value())
}

/// Parse the (single) value of header `H`, if present.
fn parse_one<H: TypedHeader>(headers: &Headers) -> Result<Option<H>, Fault> {
    match headers.typed::<H>() {
        None => Ok(None),
        Some(Ok(h)) => Ok(Some(h)),
        Some(Err(e)) => Err(Fault::parse(&H::NAME, e)),
    }
}

/// Parse every value of header `H`.
fn parse_all<H: TypedHeader>(headers: &Headers) -> Result<(), Fault> {
    match headers.typed_all::<H>().find_map(Result::err) {
        Some(e) => Err(Fault::parse(&H::NAME, e)),
        None => Ok(()),
    }
}

fn parse_fault(name: HeaderName, error: ParseError) -> Rejection {
    Fault::parse(&name, error).into_rejection()
}

/// Parse every Via value; returns whether the top Via's branch is only the magic cookie, which cannot identify
/// a transaction (RFC 4475 §3.2.1; see `validate_request`). Each Via is parsed once for both.
fn check_vias(headers: &Headers) -> Result<bool, Fault> {
    let mut bare = false;
    for (n, via) in headers.typed_all::<Via>().enumerate() {
        let via = via.map_err(|e| Fault::parse(&HeaderName::Via, e))?;
        if n == 0 {
            bare = via.branch() == Some(BRANCH_MAGIC_COOKIE);
        }
    }
    Ok(bare)
}

/// 501 for a method the UAS does not recognise, 405 for one it recognises but does not allow (RFC 3261
/// §8.2.1); both list the allowed methods.
fn check_method(method: &Method, allowed: &[Method]) -> Result<(), Rejection> {
    if allowed.contains(method) {
        return Ok(());
    }
    let status = match method {
        Method::Extension(_) => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::METHOD_NOT_ALLOWED,
    };
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    Err(Rejection::canonical(status).with_header(HeaderName::Allow, list.join(", ")))
}

/// 416 for a scheme other than sip, sips and tel (RFC 3261 §8.2.2.1, §16.3 step 2); 400 for URI headers,
/// which RFC 3261 §19.1.1 does not allow in a Request-URI (RFC 4475 §3.1.2.11).
fn check_request_uri(uri: &Uri) -> Result<(), Rejection> {
    match uri {
        Uri::Other { .. } => Err(Rejection::canonical(StatusCode::UNSUPPORTED_URI_SCHEME)),
        Uri::Sip(sip) if !sip.headers().is_empty() => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "Bad Request - Request-URI with headers",
        )),
        _ => Ok(()),
    }
}

/// The CSeq method must be the request's (RFC 4475 §3.1.2.17).
fn check_cseq_method(request: &Request, cseq: &CSeq) -> Result<(), Rejection> {
    if &cseq.method == request.method() {
        return Ok(());
    }
    let mut r = Rejection::new(
        StatusCode::BAD_REQUEST,
        "Bad Request - CSeq method does not match the request method",
    );
    r.header = Some(HeaderName::CSeq);
    Err(r)
}

/// 420 listing every option tag of header `H` (Require or Proxy-Require) that is not in `supported`.
fn check_option_tags<H: TypedHeader>(
    headers: &Headers,
    supported: &[Cow<'static, str>],
    tag: fn(&H) -> &Bytes,
) -> Result<(), Rejection> {
    let mut unsupported: Vec<Bytes> = Vec::new();
    for value in headers.typed_all::<H>() {
        let value = value.map_err(|e| parse_fault(H::NAME, e))?;
        let t = tag(&value);
        let known = supported.iter().any(|s| s.as_bytes() == t.as_ref());
        if !known && !unsupported.contains(t) {
            unsupported.push(t.clone());
        }
    }
    if unsupported.is_empty() {
        return Ok(());
    }
    let list = unsupported.join(&b", "[..]);
    let mut r =
        Rejection::canonical(StatusCode::BAD_EXTENSION).with_header(HeaderName::Unsupported, list);
    r.header = Some(H::NAME);
    Err(r)
}

/// The header checks of a UAS (RFC 3261 §8.2.2, §8.2.3): Require, the headers it will read, the body type.
fn check_uas_headers(
    request: &Request,
    supported: &[Cow<'static, str>],
    accepted: &[MediaType],
    policy: &ValidationPolicy,
) -> Result<(), Rejection> {
    let headers = request.headers();
    // An ACK or CANCEL must not be refused for its Require (RFC 3261 §8.2.2.3).
    if !matches!(request.method(), Method::Ack | Method::Cancel) {
        check_option_tags::<Require>(headers, supported, Require::tag)?;
    }
    parse_all::<Contact>(headers).map_err(Fault::into_rejection)?;
    parse_one::<Expires>(headers).map_err(Fault::into_rejection)?;
    let content_type = parse_one::<ContentType>(headers).map_err(Fault::into_rejection)?;
    check_body_type(request, content_type.as_ref(), accepted)?;
    check_accept(request, accepted, policy)
}

/// A body needs a Content-Type (RFC 3261 §20.15) of a type the UAS understands, else 415 with Accept
/// (§8.2.3). ACK is exempt: it cannot be answered.
fn check_body_type(
    request: &Request,
    content_type: Option<&ContentType>,
    accepted: &[MediaType],
) -> Result<(), Rejection> {
    if request.body().is_empty() || *request.method() == Method::Ack {
        return Ok(());
    }
    let Some(ContentType(media)) = content_type else {
        let mut r = Rejection::new(
            StatusCode::BAD_REQUEST,
            "Bad Request - Missing Content-Type",
        );
        r.header = Some(HeaderName::ContentType);
        return Err(r);
    };
    if accepted.iter().any(|a| same_type(a, media)) {
        return Ok(());
    }
    let mut r = Rejection::canonical(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .with_header(HeaderName::Accept, media_list(accepted));
    r.header = Some(HeaderName::ContentType);
    Err(r)
}

fn same_type(a: &MediaType, b: &MediaType) -> bool {
    a.mtype().eq_ignore_ascii_case(b.mtype()) && a.subtype().eq_ignore_ascii_case(b.subtype())
}

fn media_list(types: &[MediaType]) -> Bytes {
    let mut out = Vec::new();
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(t.mtype());
        out.push(b'/');
        out.extend_from_slice(t.subtype());
    }
    Bytes::from(out)
}

/// A 2xx to INVITE carries a session description, so an INVITE whose Accept admits none of the body types
/// the UAS can answer with gets 406 (RFC 4475 §3.3.15).
fn check_accept(
    request: &Request,
    accepted: &[MediaType],
    policy: &ValidationPolicy,
) -> Result<(), Rejection> {
    let headers = request.headers();
    if *request.method() != Method::Invite || !headers.contains(&HeaderName::Accept) {
        return Ok(());
    }
    let mut acceptable = false;
    for range in headers.typed_all::<Accept>() {
        let Accept(range) = range.map_err(|e| parse_fault(HeaderName::Accept, e))?;
        let q_zero = Accept(range.clone())
            .q()
            .is_some_and(|q| q.thousandths() == 0);
        acceptable |= !q_zero && accepted.iter().any(|t| range_matches(&range, t));
    }
    if acceptable {
        return Ok(());
    }
    let mut r = Rejection::canonical(StatusCode::new(406).unwrap_or(StatusCode::BAD_REQUEST));
    r.header = Some(HeaderName::Accept);
    if let Some(agent) = &policy.warn_agent
        && let Some(w) = Warning::new(399, agent, "No acceptable body type in Accept")
    {
        r.headers.push(HeaderField::from_typed(&w));
    }
    Err(r)
}

fn range_matches(range: &MediaType, t: &MediaType) -> bool {
    let any = |b: &Bytes| b.as_ref() == b"*";
    let mtype = any(range.mtype()) || range.mtype().eq_ignore_ascii_case(t.mtype());
    let subtype = any(range.subtype()) || range.subtype().eq_ignore_ascii_case(t.subtype());
    mtype && subtype
}

/// A registrar needs a SIP or SIPS address-of-record in To (RFC 3261 §10.3 step 5; RFC 4475 §3.3.4).
fn check_registrar(request: &Request, allowed: &[Method]) -> Result<(), Rejection> {
    if *request.method() != Method::Register || !allowed.contains(&Method::Register) {
        return Ok(());
    }
    let is_sip = request
        .headers()
        .to()
        .and_then(Result::ok)
        .is_some_and(|to| matches!(to.uri(), Uri::Sip(_)));
    if is_sip {
        return Ok(());
    }
    let mut r = Rejection::new(
        StatusCode::BAD_REQUEST,
        "Bad Request - Address-of-record must be a SIP or SIPS URI",
    );
    r.header = Some(HeaderName::To);
    Err(r)
}

/// `text` made fit for a Reason-Phrase (RFC 3261 §25.1: no `"`, `<`, `>`, control characters, …): quotes
/// and angle brackets become `'`, `(` and `)`, anything else not allowed is left out.
fn reason_phrase(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '"' => Some('\''),
            '<' => Some('('),
            '>' => Some(')'),
            c if c.is_ascii_alphanumeric() || " -_.!~*'();/?:@&=+$,".contains(c) => Some(c),
            c if !c.is_ascii() && !c.is_control() => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::parse::{Limits, parse_message, parse_message_with};

    const OPTIONS: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
        From: <sip:alice@example.com>;tag=1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: c1@a.example.com\r\n\
        CSeq: 1 OPTIONS\r\n\
        Max-Forwards: 70\r\n";

    /// `OPTIONS` with `extra` header lines appended, the method replaced by `method` and then `body`.
    fn request(method: &str, extra: &str, body: &str) -> Request {
        let head = OPTIONS.replace("OPTIONS", method);
        let text = format!("{head}{extra}Content-Length: {}\r\n\r\n{body}", body.len());
        match parse_message(Bytes::from(text)) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn rejected(r: &Request, policy: &ValidationPolicy) -> Rejection {
        validate_request(r, policy).expect_err("request should be rejected")
    }

    fn header<'a>(rejection: &'a Rejection, name: &HeaderName) -> &'a [u8] {
        rejection
            .headers
            .iter()
            .find(|f| f.name() == name)
            .map_or(&[], |f| f.value().as_ref())
    }

    #[test]
    fn well_formed_request_passes_as_uas_and_proxy() {
        let r = request("OPTIONS", "", "");
        assert_eq!(validate_request(&r, &ValidationPolicy::uas()), Ok(()));
        assert_eq!(validate_request(&r, &ValidationPolicy::proxy()), Ok(()));
    }

    #[test]
    fn missing_max_forwards_passes_unless_the_policy_requires_it() {
        let text = OPTIONS.replace("Max-Forwards: 70\r\n", "") + "\r\n";
        let Ok(Message::Request(r)) = parse_message(Bytes::from(text)) else {
            panic!("not a request")
        };
        assert_eq!(validate_request(&r, &ValidationPolicy::proxy()), Ok(()));
        let mut strict = ValidationPolicy::proxy();
        strict.require_max_forwards = true;
        let e = rejected(&r, &strict);
        assert_eq!(e.reason, "Bad Request - Missing Max-Forwards");
        assert_eq!(e.header, Some(HeaderName::MaxForwards));
    }

    #[test]
    fn identical_repeated_single_valued_fields_are_tolerated() {
        let r = request("OPTIONS", "Call-ID: c1@a.example.com\r\n", "");
        assert_eq!(validate_request(&r, &ValidationPolicy::uas()), Ok(()));
        let r = request("OPTIONS", "Call-ID: other\r\n", "");
        let e = rejected(&r, &ValidationPolicy::uas());
        assert_eq!(e.reason, "Bad Request - Multiple values in Call-ID");
    }

    #[test]
    fn method_not_allowed_is_405_unknown_method_501_and_allowed_extension_passes() {
        let uas = ValidationPolicy::uas();
        let e = rejected(&request("SUBSCRIBE", "", ""), &uas);
        assert_eq!(e.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            header(&e, &HeaderName::Allow),
            b"INVITE, ACK, CANCEL, BYE, OPTIONS"
        );
        let e = rejected(&request("FOO", "", ""), &uas);
        assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
        let mut with_foo = Role::uas();
        if let Role::Uas { allowed, .. } = &mut with_foo {
            allowed.push(Method::Extension(Bytes::from_static(b"FOO")));
        }
        let policy = ValidationPolicy::new(with_foo);
        assert_eq!(validate_request(&request("FOO", "", ""), &policy), Ok(()));
    }

    #[test]
    fn require_is_ignored_in_ack_and_cancel_but_not_in_other_requests() {
        let uas = ValidationPolicy::uas();
        let e = rejected(
            &request("OPTIONS", "Require: 100rel, timer, 100rel\r\n", ""),
            &uas,
        );
        assert_eq!(e.status, StatusCode::BAD_EXTENSION);
        assert_eq!(header(&e, &HeaderName::Unsupported), b"100rel, timer");
        for method in ["ACK", "CANCEL"] {
            let r = request(method, "Require: 100rel\r\n", "");
            assert_eq!(validate_request(&r, &uas), Ok(()), "{method}");
        }
        let supported = ValidationPolicy::new(Role::Uas {
            supported: vec!["100rel".into(), "timer".into()],
            allowed: vec![Method::Options],
            accepted: Vec::new(),
        });
        let r = request("OPTIONS", "Require: 100rel, timer\r\n", "");
        assert_eq!(validate_request(&r, &supported), Ok(()));
    }

    #[test]
    fn proxy_ignores_require_and_checks_proxy_require() {
        let proxy = ValidationPolicy::proxy();
        let r = request("OPTIONS", "Require: 100rel\r\n", "");
        assert_eq!(validate_request(&r, &proxy), Ok(()));
        let r = request("OPTIONS", "Proxy-Require: sec-agree\r\n", "");
        let e = rejected(&r, &proxy);
        assert_eq!(
            (e.status, &e.header),
            (StatusCode::BAD_EXTENSION, &Some(HeaderName::ProxyRequire))
        );
        assert_eq!(header(&e, &HeaderName::Unsupported), b"sec-agree");
    }

    #[test]
    fn body_needs_a_content_type_the_uas_accepts() {
        let uas = ValidationPolicy::uas();
        let e = rejected(&request("INVITE", "", "v=0\r\n"), &uas);
        assert_eq!(e.reason, "Bad Request - Missing Content-Type");
        let r = request("INVITE", "Content-Type: Application/SDP\r\n", "v=0\r\n");
        assert_eq!(validate_request(&r, &uas), Ok(()));
        let r = request("INVITE", "Content-Type: text/plain\r\n", "hi");
        let e = rejected(&r, &uas);
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(header(&e, &HeaderName::Accept), b"application/sdp");
        let r = request("ACK", "Content-Type: text/plain\r\n", "hi");
        assert_eq!(validate_request(&r, &uas), Ok(()));
    }

    #[test]
    fn invite_accept_must_admit_a_type_the_uas_answers_with() {
        let mut policy = ValidationPolicy::uas();
        let r = request("INVITE", "Accept: application/*, text/html\r\n", "");
        assert_eq!(validate_request(&r, &policy), Ok(()));
        let r = request("INVITE", "Accept: application/sdp;q=0, text/html\r\n", "");
        let e = rejected(&r, &policy);
        assert_eq!(e.status.as_u16(), 406);
        assert!(e.headers.is_empty());
        policy.warn_agent = Some("proxy.example.com".into());
        let e = rejected(&r, &policy);
        assert_eq!(
            header(&e, &HeaderName::Warning),
            b"399 proxy.example.com \"No acceptable body type in Accept\""
        );
        let r = request("OPTIONS", "Accept: text/html\r\n", "");
        assert_eq!(validate_request(&r, &policy), Ok(()));
    }

    #[test]
    fn content_length_must_match_the_body_of_a_built_request() {
        let r = request("OPTIONS", "", "");
        let (method, uri, version, mut headers, _) = r.into_parts();
        headers.replace(HeaderField::new(HeaderName::ContentLength, "5"));
        let r = Request::from_parts(method, uri, version, headers, Bytes::from_static(b"abc"));
        let e = rejected(&r, &ValidationPolicy::proxy());
        assert_eq!(
            e.reason,
            "Bad Request - Content-Length does not match the body"
        );
        assert_eq!(e.header, Some(HeaderName::ContentLength));
    }

    #[test]
    fn malformed_header_rejection_carries_the_error_offset_in_the_message() {
        let r = request("OPTIONS", "Expires: soon\r\n", "");
        let e = rejected(&r, &ValidationPolicy::uas());
        assert_eq!(e.reason, "Bad Request - Malformed Expires");
        let text = r.to_bytes();
        let at = e.cause.map(|c| c.offset).unwrap_or_default();
        assert_eq!(text.get(at..at + 4), Some(&b"soon"[..]));
        // A proxy does not read Expires.
        assert_eq!(validate_request(&r, &ValidationPolicy::proxy()), Ok(()));
    }

    #[test]
    fn proxy_may_answer_options_itself_at_zero_max_forwards() {
        let text = OPTIONS.replace("Max-Forwards: 70", "Max-Forwards: 0") + "\r\n";
        let Ok(Message::Request(r)) = parse_message(Bytes::from(text)) else {
            panic!("not a request")
        };
        let e = rejected(&r, &ValidationPolicy::proxy());
        assert_eq!(e.status, StatusCode::TOO_MANY_HOPS);
        let policy = ValidationPolicy::new(Role::Proxy {
            supported: Vec::new(),
            answers_at_zero_max_forwards: vec![Method::Options],
        });
        assert_eq!(validate_request(&r, &policy), Ok(()));
    }

    #[test]
    fn rejection_response_copies_the_request_and_adds_its_headers() {
        let r = request("FOO", "", "");
        let e = rejected(&r, &ValidationPolicy::uas());
        let reply = e.response(&r, Some("t1"));
        assert_eq!(reply.status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(&reply.reason()[..], b"Not Implemented");
        let h = reply.headers();
        assert_eq!(
            h.to()
                .and_then(Result::ok)
                .and_then(|t| t.tag().map(<[u8]>::to_vec)),
            Some(b"t1".to_vec())
        );
        assert!(h.contains(&HeaderName::Allow));
        assert_eq!(h.cseq().and_then(Result::ok).map(|c| c.seq), Some(1));
    }

    #[test]
    fn parse_errors_map_to_400_with_a_legal_reason_phrase_and_size_to_513() {
        let big = format!("{OPTIONS}Content-Length: 0\r\n\r\n");
        let limits = Limits {
            max_message_size: 64,
            ..Limits::DEFAULT
        };
        let e = parse_message_with(Bytes::from(big), &limits).unwrap_err();
        let r = Rejection::from_parse_error(&e);
        assert_eq!(
            (r.status, r.reason.as_ref()),
            (StatusCode::MESSAGE_TOO_LARGE, "Message Too Large")
        );
        let e = ParseError::syntax(3, "\"<\" after display name");
        let r = Rejection::from_parse_error(&e);
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            r.reason,
            "Bad Request - Malformed message, expected '(' after display name"
        );
        assert_eq!(r.cause.as_deref(), Some(&e));
    }

    #[test]
    fn reason_phrases_keep_only_legal_characters() {
        assert_eq!(reason_phrase("a\"b<c>d\r\n%#{}é\u{7}"), "a'b(c)dé");
    }

    #[test]
    fn response_validation_checks_version_vias_and_scalars() {
        let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n";
        let parse = |text: String| match parse_message(Bytes::from(text)) {
            Ok(Message::Response(r)) => r,
            other => panic!("not a response: {other:?}"),
        };
        let uas = ValidationPolicy::uas();
        assert_eq!(validate_response(&parse(format!("{ok}\r\n")), &uas), Ok(()));
        let d = validate_response(
            &parse(format!("{ok}Retry-After: 99999999999\r\n\r\n")),
            &uas,
        )
        .unwrap_err();
        assert_eq!(
            (d.reason.as_ref(), d.header),
            ("Retry-After out of range", Some(HeaderName::RetryAfter))
        );
        let d = validate_response(
            &parse(format!("{ok}\r\n").replace("SIP/2.0 200", "SIP/3.0 200")),
            &uas,
        )
        .unwrap_err();
        assert_eq!(d.reason, "Unsupported SIP/3.0");
        let two = format!("{ok}Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\r\n");
        assert!(validate_response(&parse(two.clone()), &uas).is_err());
        assert_eq!(
            validate_response(&parse(two), &ValidationPolicy::proxy()),
            Ok(())
        );
    }
}
