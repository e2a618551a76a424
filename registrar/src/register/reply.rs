//! The registrar's answers: why a REGISTER is refused, and the 200 (OK) listing the bindings.

use crate::binding::{Binding, BindingChange};
use bytes::Bytes;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use tandem_sip_core::header::{Date, MinExpires, Path};
use tandem_sip_core::{
    Contact, HeaderField, HeaderName, Request, Response, StatusCode, TypedHeader,
};

/// Why the registrar refused a REGISTER; each maps to one response.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterRejection {
    /// `400`: the request is malformed or asks for something invalid (a wildcard with other contacts or a
    /// non-zero expiration, two RFC 5626 flows in one request, a missing To, Call-ID or CSeq, …). The text is
    /// the reason phrase sent.
    BadRequest(&'static str),
    /// `405`: not a REGISTER.
    MethodNotAllowed,
    /// `416`: the Request-URI is not a SIP or SIPS URI.
    UnsupportedUriScheme,
    /// `404`: the Request-URI or the address-of-record is not in a domain this registrar serves, or the To URI
    /// cannot be an address-of-record (RFC 3261 §10.3 steps 1 and 5).
    NotFound,
    /// `420`: Require names extensions this registrar does not implement (listed back in Unsupported).
    BadExtension(Vec<Bytes>),
    /// `423`: a non-zero expiration below the minimum; the response carries Min-Expires (§10.3 step 6).
    IntervalTooBrief {
        /// The Min-Expires sent.
        min_expires: u32,
    },
    /// `403`: the AOR would exceed the configured number of bindings.
    ///
    /// 403 rather than 503: the limit is policy, and a 503 invites the phone to retry the same request.
    TooManyContacts,
    /// `500`: a binding was last touched by the same Call-ID with a CSeq at least as high; the request is
    /// out of order and RFC 3261 §10.3 steps 6–7 abort the whole update.
    OutOfOrder,
    /// `439` (RFC 5626 §6): outbound was asked for through a first hop that did not add a Path with `ob`.
    FirstHopLacksOutbound,
}

impl RegisterRejection {
    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        let code = match self {
            RegisterRejection::BadRequest(_) => 400,
            RegisterRejection::MethodNotAllowed => 405,
            RegisterRejection::UnsupportedUriScheme => 416,
            RegisterRejection::NotFound => 404,
            RegisterRejection::BadExtension(_) => 420,
            RegisterRejection::IntervalTooBrief { .. } => 423,
            RegisterRejection::TooManyContacts => 403,
            RegisterRejection::OutOfOrder => 500,
            RegisterRejection::FirstHopLacksOutbound => 439,
        };
        StatusCode::new(code).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR)
    }

    fn reason(&self) -> &'static str {
        match self {
            RegisterRejection::BadRequest(reason) => reason,
            RegisterRejection::MethodNotAllowed => "Method Not Allowed",
            RegisterRejection::UnsupportedUriScheme => "Unsupported URI Scheme",
            RegisterRejection::NotFound => "Not Found",
            RegisterRejection::BadExtension(_) => "Bad Extension",
            RegisterRejection::IntervalTooBrief { .. } => "Interval Too Brief",
            RegisterRejection::TooManyContacts => "Too Many Registered Contacts",
            RegisterRejection::OutOfOrder => "Out Of Order Registration",
            RegisterRejection::FirstHopLacksOutbound => "First Hop Lacks Outbound Support",
        }
    }

    /// The response to `request`.
    pub(crate) fn response(&self, request: &Request) -> Response {
        let mut builder =
            Response::from_request(request, self.status(), Some(to_tag(request).as_str()))
                .reason(self.reason());
        match self {
            RegisterRejection::MethodNotAllowed => {
                builder = builder.header(HeaderName::Allow, "REGISTER");
            }
            RegisterRejection::BadExtension(tags) => {
                builder = builder.header(HeaderName::Unsupported, join(tags));
            }
            RegisterRejection::IntervalTooBrief { min_expires } => {
                builder = builder.typed(&MinExpires(*min_expires));
            }
            _ => {}
        }
        builder.build()
    }
}

impl fmt::Display for RegisterRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.reason())
    }
}

pub(crate) type Reject = RegisterRejection;

fn join(tags: &[Bytes]) -> Bytes {
    let mut out = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(tag);
    }
    Bytes::from(out)
}

/// The To tag of every response to `request`.
///
/// A REGISTER creates no dialog, so the tag only has to be stable for retransmissions of the request; hashing
/// the Call-ID, CSeq and From tag (FNV-1a) gives that without a random source in the sans-IO core.
pub(crate) fn to_tag(request: &Request) -> ToTag {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let headers = request.headers();
    for name in [HeaderName::CallId, HeaderName::CSeq, HeaderName::From] {
        let value = headers
            .get(&name)
            .map(|f| &f.value()[..])
            .unwrap_or_default();
        for &b in value.iter().chain(b"\n") {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut tag = ToTag([0; 16]);
    for (i, slot) in tag.0.iter_mut().enumerate() {
        let nibble = (hash >> (60 - 4 * i)) & 0xf;
        *slot = b"0123456789abcdef"[usize::try_from(nibble).unwrap_or(0)];
    }
    tag
}

/// A To tag: 16 lower-case hex digits (what `format!("{hash:016x}")` writes), kept without allocating.
pub(crate) struct ToTag([u8; 16]);

impl ToTag {
    /// The tag's text.
    pub(crate) fn as_str(&self) -> &str {
        // Hex digits only: always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// What a successful REGISTER decided and reports back.
pub(crate) struct Accepted {
    /// The changes to store.
    pub(crate) changes: Vec<BindingChange>,
    /// The AOR's bindings after the request, in q order.
    pub(crate) bindings: Vec<Binding>,
    /// The Path to echo (RFC 3327 §5.3: only when the UA supports path).
    pub(crate) path: Vec<Path>,
    /// Whether an RFC 5626 flow was registered (adds `Require: outbound`).
    pub(crate) outbound: bool,
}

/// The 200 (OK) of RFC 3261 §10.3 step 8: every current binding with its remaining time, and a Date.
pub(crate) fn ok_response(request: &Request, now: SystemTime, accepted: &Accepted) -> Response {
    let mut builder =
        Response::from_request(request, StatusCode::OK, Some(to_tag(request).as_str()));
    // The Contacts, Path, Require, Supported, Date and Content-Length: no further allocation for the field
    // list than the one `from_request` made when there is a single Contact.
    let added = accepted.bindings.len()
        + usize::from(!accepted.path.is_empty())
        + usize::from(accepted.outbound)
        + 3;
    builder.headers_mut().reserve(added);
    for binding in &accepted.bindings {
        let mut contact = binding.contact.clone();
        let mut digits = [0; 10];
        contact.params_mut().set(
            "expires",
            Some(decimal(binding.remaining(now), &mut digits)),
        );
        // What `HeaderField::from_typed` writes, into a buffer sized once.
        let mut value = Vec::with_capacity(128);
        Contact::Address(contact).write_to(&mut value);
        builder = builder.field(HeaderField::new(HeaderName::Contact, value));
    }
    if !accepted.path.is_empty() {
        builder = builder.field(path_field(&accepted.path));
    }
    if accepted.outbound {
        builder = builder.header(HeaderName::Require, "outbound");
    }
    builder = builder.header(HeaderName::Supported, "path, outbound");
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if let Some(date) = Date::from_unix_time(seconds) {
        // Its wire form is its text: no need to write it out again.
        builder = builder.header(HeaderName::Date, date.as_bytes().clone());
    }
    builder.build()
}

/// `n` in decimal, written into `digits`.
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &str {
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + u8::try_from(n % 10).unwrap_or(0);
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    // ASCII digits only: always UTF-8.
    std::str::from_utf8(digits.get(start..).unwrap_or_default()).unwrap_or_default()
}

fn path_field(path: &[Path]) -> HeaderField {
    let mut value = Vec::new();
    for (i, entry) in path.iter().enumerate() {
        if i > 0 {
            value.extend_from_slice(b", ");
        }
        entry.0.write_to(&mut value);
    }
    HeaderField::new(HeaderName::Path, value)
}
