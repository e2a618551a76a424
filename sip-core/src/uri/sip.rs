//! SIP and SIPS URIs (RFC 3261 §19.1).

use crate::error::ParseError;
use crate::grammar::{self, PASSWORD, USER};
use crate::params::Params;
use crate::uri::escape::{eq_unescaped, escape_into, unescape};
use crate::uri::headers::UriHeaders;
use crate::uri::host::{Host, parse_host, parse_port};
use bytes::Bytes;
use std::borrow::Cow;
use std::io::Write;

/// A `sip:` or `sips:` URI. Components are slices of the parsed input; user and password are kept escaped as
/// received, with `*_unescaped` accessors for the decoded form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri {
    secure: bool,
    user: Option<Bytes>,
    password: Option<Bytes>,
    host: Host,
    port: Option<u16>,
    params: Params,
    headers: UriHeaders,
}

/// The uri-parameters that make two URIs differ when only one of them carries it (RFC 3261 §19.1.4).
const SIGNIFICANT_PARAMS: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

impl SipUri {
    /// A `sip:` URI for `host` with nothing else set.
    pub fn new(host: Host) -> SipUri {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new_uri(),
            headers: UriHeaders::default(),
        }
    }

    /// Whether this is a `sips:` URI.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The user part as received (escaped).
    pub fn user(&self) -> Option<&Bytes> {
        self.user.as_ref()
    }

    /// The user part with `%HH` escapes resolved (once).
    pub fn user_unescaped(&self) -> Option<Cow<'_, [u8]>> {
        self.user.as_deref().map(unescape)
    }

    /// The password as received (escaped).
    pub fn password(&self) -> Option<&Bytes> {
        self.password.as_ref()
    }

    /// The password with `%HH` escapes resolved (once).
    pub fn password_unescaped(&self) -> Option<Cow<'_, [u8]>> {
        self.password.as_deref().map(unescape)
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The explicit port, if any (no default is filled in: RFC 3261 §19.1.4 treats a missing port differently
    /// from 5060).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The uri-parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The uri-parameters, for modification.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// The headers component (`?a=b&c=d`).
    pub fn headers(&self) -> &UriHeaders {
        &self.headers
    }

    /// The headers component, for modification.
    pub fn headers_mut(&mut self) -> &mut UriHeaders {
        &mut self.headers
    }

    /// The `transport` parameter's raw value.
    pub fn transport(&self) -> Option<&[u8]> {
        self.params.value("transport")
    }

    /// The `maddr` parameter's raw value.
    pub fn maddr(&self) -> Option<&[u8]> {
        self.params.value("maddr")
    }

    /// Whether the `lr` (loose routing) parameter is present.
    pub fn is_loose_route(&self) -> bool {
        self.params.contains("lr")
    }

    /// Make this a `sips:` (`true`) or `sip:` URI.
    pub fn set_secure(&mut self, secure: bool) {
        self.secure = secure;
    }

    /// Set the user part from its unescaped form (escaping what must be escaped); `None` removes it.
    pub fn set_user(&mut self, user: Option<&[u8]>) {
        self.user = user.map(|u| escaped(u, USER));
    }

    /// Set the password from its unescaped form; `None` removes it.
    pub fn set_password(&mut self, password: Option<&[u8]>) {
        self.password = password.map(|p| escaped(p, PASSWORD));
    }

    /// Set the host.
    pub fn set_host(&mut self, host: Host) {
        self.host = host;
    }

    /// Set or remove the explicit port.
    pub fn set_port(&mut self, port: Option<u16>) {
        self.port = port;
    }

    /// Builder form of [`SipUri::set_user`].
    pub fn with_user(mut self, user: &str) -> SipUri {
        self.set_user(Some(user.as_bytes()));
        self
    }

    /// Builder form of [`SipUri::set_port`].
    pub fn with_port(mut self, port: u16) -> SipUri {
        self.port = Some(port);
        self
    }

    /// Builder form of [`Params::push`] on the uri-parameters.
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> SipUri {
        self.params.push(name, value);
        self
    }

    /// Append the URI's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.secure { b"sips:" } else { b"sip:" });
        if let Some(u) = &self.user {
            out.extend_from_slice(u);
            if let Some(p) = &self.password {
                out.push(b':');
                out.extend_from_slice(p);
            }
            out.push(b'@');
        }
        self.host.write_to(out);
        if let Some(p) = self.port {
            // Writing into a Vec cannot fail.
            let _ = write!(out, ":{p}");
        }
        self.params.write_to(out);
        out.extend_from_slice(self.headers.as_bytes());
    }

    /// RFC 3261 §19.1.4 comparison: scheme, user and password (case-sensitive), host (case-insensitive; a name
    /// never equals an address), port (absent differs from 5060), uri-parameters (those in both must match;
    /// `user`, `ttl`, `method`, `maddr` and `transport` must be in both or neither; others in only one are
    /// ignored) and headers (all must be in both); escapes compare equal to the characters they encode.
    pub fn equivalent(&self, other: &SipUri) -> bool {
        self.secure == other.secure
            && opt_eq(&self.user, &other.user)
            && opt_eq(&self.password, &other.password)
            && self.host.equivalent(&other.host)
            && self.port == other.port
            && params_equivalent(&self.params, &other.params)
            && headers_included(&self.headers, &other.headers)
            && headers_included(&other.headers, &self.headers)
    }
}

fn escaped(raw: &[u8], class: u16) -> Bytes {
    let mut out = Vec::with_capacity(raw.len());
    escape_into(&mut out, raw, class);
    Bytes::from(out)
}

fn opt_eq(a: &Option<Bytes>, b: &Option<Bytes>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => eq_unescaped(a, b, false),
        _ => false,
    }
}

/// Only the first occurrence of a parameter name counts; later duplicates are ignored.
fn params_equivalent(a: &Params, b: &Params) -> bool {
    for (n, p) in a.iter().enumerate() {
        if a.iter()
            .take(n)
            .any(|e| eq_unescaped(e.name(), p.name(), true))
        {
            continue;
        }
        let Some(q) = b.iter().find(|q| eq_unescaped(p.name(), q.name(), true)) else {
            if SIGNIFICANT_PARAMS.iter().any(|n| p.is(n)) {
                return false;
            }
            continue;
        };
        let same = match (p.value(), q.value()) {
            (None, None) => true,
            (Some(x), Some(y)) => eq_unescaped(x, y, true),
            _ => false,
        };
        if !same {
            return false;
        }
    }
    // Significant parameters present only in `b`.
    !SIGNIFICANT_PARAMS
        .iter()
        .any(|n| b.contains(n) && !a.contains(n))
}

fn headers_included(a: &UriHeaders, b: &UriHeaders) -> bool {
    a.iter().all(|h| {
        b.iter()
            .any(|k| eq_unescaped(h.name, k.name, true) && eq_unescaped(h.value, k.value, true))
    })
}

/// Parse the part of a SIP URI after `sip:` / `sips:` (which ends at `start`) up to the end of `input`.
pub(crate) fn parse_sip(input: &Bytes, start: usize, secure: bool) -> Result<SipUri, ParseError> {
    let b = &input[..];
    let mut i = start;
    let (user, password) = match memchr::memchr(b'@', b.get(start..).unwrap_or_default()) {
        Some(rel) => {
            let at = start + rel;
            let (user, password) = parse_userinfo(input, start, at)?;
            i = at + 1;
            (Some(user), password)
        }
        None => (None, None),
    };
    let (host, e) = parse_host(input, i)?;
    let (port, e) = parse_port(b, e)?;
    i = e;
    let params = if b.get(i) == Some(&b';') {
        let (p, e) = Params::parse_uri(input, i)?;
        i = e;
        p
    } else {
        Params::new_uri()
    };
    let headers = if b.get(i) == Some(&b'?') {
        let (h, e) = UriHeaders::parse(input, i)?;
        i = e;
        h
    } else {
        UriHeaders::default()
    };
    if i != b.len() {
        return Err(ParseError::syntax(i, "end of SIP URI"));
    }
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

/// `user [ ":" password ]` between `start` and the `@` at `at`.
fn parse_userinfo(
    input: &Bytes,
    start: usize,
    at: usize,
) -> Result<(Bytes, Option<Bytes>), ParseError> {
    let b = &input[..];
    let user_end = grammar::scan_escaped(b, start, USER, "user")?;
    if user_end == start {
        return Err(ParseError::syntax(start, "user"));
    }
    let user = input.slice(start..user_end);
    if user_end == at {
        return Ok((user, None));
    }
    if b.get(user_end) != Some(&b':') {
        return Err(ParseError::syntax(user_end, "user"));
    }
    let pw_end = grammar::scan_escaped(b, user_end + 1, PASSWORD, "password")?;
    if pw_end != at {
        return Err(ParseError::syntax(pw_end, "password"));
    }
    Ok((user, Some(input.slice(user_end + 1..at))))
}
