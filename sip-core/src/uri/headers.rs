//! The header component of a SIP URI (`?name=value&name=value`, RFC 3261 §19.1.1).

use crate::error::ParseError;
use crate::grammar::{self, HNV};
use crate::uri::escape::{eq_unescaped, escape_into, unescape};
use bytes::Bytes;
use std::borrow::Cow;
use std::fmt;

/// The headers of a SIP URI, kept as the validated raw bytes (including the leading `?`).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct UriHeaders {
    raw: Bytes,
}

/// One `name=value` pair of a [`UriHeaders`], as received (escaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriHeader<'a> {
    /// The header name, escaped.
    pub name: &'a [u8],
    /// The header value, escaped (may be empty).
    pub value: &'a [u8],
}

impl<'a> UriHeader<'a> {
    /// The name with `%HH` escapes resolved.
    pub fn decoded_name(&self) -> Cow<'a, [u8]> {
        unescape(self.name)
    }

    /// The value with `%HH` escapes resolved.
    pub fn decoded_value(&self) -> Cow<'a, [u8]> {
        unescape(self.value)
    }
}

/// Iterator over [`UriHeaders`].
#[derive(Debug, Clone)]
pub struct UriHeaderIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for UriHeaderIter<'a> {
    type Item = UriHeader<'a>;

    fn next(&mut self) -> Option<UriHeader<'a>> {
        let (&sep, body) = self.rest.split_first()?;
        if sep != b'?' && sep != b'&' {
            return None;
        }
        let end = memchr::memchr(b'&', body).unwrap_or(body.len());
        let (pair, rest) = body.split_at(end);
        self.rest = rest;
        let eq = memchr::memchr(b'=', pair).unwrap_or(pair.len());
        let (name, value) = pair.split_at(eq);
        Some(UriHeader {
            name,
            value: value.get(1..).unwrap_or_default(),
        })
    }
}

impl UriHeaders {
    /// Iterate over the headers in order.
    pub fn iter(&self) -> UriHeaderIter<'_> {
        UriHeaderIter { rest: &self.raw }
    }

    /// The raw value of the first header called `name` (case-insensitive, escapes resolved in the name).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|h| eq_unescaped(h.name, name.as_bytes(), true))
            .map(|h| h.value)
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The raw bytes, starting with `?` (empty when there are no headers).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Append `name=value`, escaping what must be escaped.
    pub fn push(&mut self, name: &str, value: &str) {
        let mut out = Vec::with_capacity(self.raw.len() + name.len() + value.len() + 2);
        out.extend_from_slice(&self.raw);
        out.push(if self.raw.is_empty() { b'?' } else { b'&' });
        escape_into(&mut out, name.as_bytes(), HNV);
        out.push(b'=');
        escape_into(&mut out, value.as_bytes(), HNV);
        self.raw = Bytes::from(out);
    }

    /// Parse `"?" header *( "&" header )` at `start` (which must hold `?`); returns the headers and the end.
    pub(crate) fn parse(input: &Bytes, start: usize) -> Result<(UriHeaders, usize), ParseError> {
        let b = &input[..];
        let mut i = start;
        let mut count = 0;
        while matches!(b.get(i), Some(b'?' | b'&')) && (i == start || b.get(i) == Some(&b'&')) {
            count += 1;
            if count > crate::params::MAX_PARAMS {
                return Err(ParseError::syntax(i, "at most 128 URI headers"));
            }
            let ne = grammar::scan_escaped(b, i + 1, HNV, "hname")?;
            if ne == i + 1 {
                return Err(ParseError::syntax(ne, "hname"));
            }
            if b.get(ne) != Some(&b'=') {
                return Err(ParseError::syntax(ne, "\"=\""));
            }
            i = grammar::scan_escaped(b, ne + 1, HNV, "hvalue")?;
        }
        Ok((
            UriHeaders {
                raw: input.slice(start..i),
            },
            i,
        ))
    }
}

impl fmt::Debug for UriHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UriHeaders({:?})", String::from_utf8_lossy(&self.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escaped_header_values() {
        let b = Bytes::from_static(b"?Route=%3Csip:sip.example.com%3E&x=");
        let (h, end) = UriHeaders::parse(&b, 0).unwrap();
        assert_eq!(end, b.len());
        assert_eq!(h.get("route"), Some(&b"%3Csip:sip.example.com%3E"[..]));
        let first = h.iter().next().unwrap();
        assert_eq!(first.decoded_value().as_ref(), b"<sip:sip.example.com>");
        assert_eq!(h.get("X"), Some(&b""[..]));
    }

    #[test]
    fn rejects_headers_without_name_or_equals() {
        let e = UriHeaders::parse(&Bytes::from_static(b"?=a"), 0).unwrap_err();
        assert_eq!(e.offset, 1);
        let e = UriHeaders::parse(&Bytes::from_static(b"?a&b=c"), 0).unwrap_err();
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn built_headers_are_escaped() {
        let mut h = UriHeaders::default();
        h.push("Subject", "next meeting");
        h.push("Route", "<sip:a@b>");
        assert_eq!(
            h.as_bytes(),
            b"?Subject=next%20meeting&Route=%3Csip:a%40b%3E"
        );
    }
}
