//! Parameter lists (`;name=value;flag`) of URIs and header fields, kept as validated raw bytes and read lazily.
//!
//! A [`Params`] holds the bytes exactly as received, from the first `;` to the end of the last parameter. Lookup
//! and iteration scan those bytes without allocating; names compare case-insensitively. Two flavours exist:
//!
//! * URI parameters (RFC 3261 `uri-parameters`, RFC 3966 `par`): no white space, no quoting, `%HH` escapes that
//!   compare equal to the characters they encode;
//! * header parameters (`generic-param`): names are tokens, values are tokens, hosts or quoted strings, and
//!   linear white space (including folded lines) may surround `;` and `=`.

use crate::error::ParseError;
use crate::grammar::{self, GEN_VALUE, PARAM, TOKEN};
use crate::uri::escape::{eq_unescaped, escape_into, unescape};
use bytes::Bytes;
use std::borrow::Cow;
use std::fmt;

/// Most parameters accepted in one list; more is treated as an attack, not as SIP.
pub(crate) const MAX_PARAMS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Style {
    Uri,
    Header,
}

/// A parameter list, see the [module documentation](self).
///
/// Equality compares the parameters one by one (names and values byte for byte, in order), ignoring the white
/// space a header parameter list may have been received with; it is not URI equivalence (see
/// [`crate::Uri::equivalent`]).
#[derive(Clone)]
pub struct Params {
    raw: Bytes,
    style: Style,
}

/// One parameter borrowed from a [`Params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    name: &'a [u8],
    value: Option<&'a [u8]>,
    style: Style,
    span: (usize, usize),
}

impl<'a> Param<'a> {
    /// The name as received (escaped for URI parameters).
    pub fn name(&self) -> &'a [u8] {
        self.name
    }

    /// The value as received (escaped for URI parameters, with quotes for a quoted header value); `None` for a
    /// parameter without `=`.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }

    /// The value decoded: `%HH` escapes resolved (URI parameters) or quotes and quoted-pairs removed (header
    /// parameters). Borrows when nothing needs decoding.
    pub fn decoded_value(&self) -> Option<Cow<'a, [u8]>> {
        let v = self.value?;
        Some(match self.style {
            Style::Uri => unescape(v),
            Style::Header => unquote(v),
        })
    }

    /// Whether the parameter is called `name` (case-insensitive; escapes resolved for URI parameters).
    pub fn is(&self, name: &str) -> bool {
        names_match(self.style, self.name, name.as_bytes())
    }
}

fn names_match(style: Style, raw: &[u8], name: &[u8]) -> bool {
    match style {
        Style::Uri => eq_unescaped(raw, name, true),
        Style::Header => raw.eq_ignore_ascii_case(name),
    }
}

/// Remove the quotes and quoted-pairs of a quoted string; anything else is returned as is.
pub(crate) fn unquote(v: &[u8]) -> Cow<'_, [u8]> {
    let inner = match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => return Cow::Borrowed(v),
    };
    if memchr::memchr(b'\\', inner).is_none() {
        return Cow::Borrowed(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.iter();
    while let Some(&c) = it.next() {
        if c == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Iterator over the parameters of a [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    raw: &'a [u8],
    pos: usize,
    style: Style,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let b = self.raw;
        let start = grammar::skip_lws(b, self.pos);
        if b.get(start) != Some(&b';') {
            return None;
        }
        let (name_start, name_end, value, end) = match self.style {
            Style::Uri => next_uri_param(b, start + 1),
            Style::Header => next_header_param(b, start + 1),
        };
        self.pos = end;
        Some(Param {
            name: b.get(name_start..name_end).unwrap_or_default(),
            value: value.and_then(|(s, e)| b.get(s..e)),
            style: self.style,
            span: (start, end),
        })
    }
}

type Spans = (usize, usize, Option<(usize, usize)>, usize);

fn next_uri_param(b: &[u8], i: usize) -> Spans {
    let name_end =
        i + memchr::memchr2(b';', b'=', b.get(i..).unwrap_or_default()).unwrap_or(b.len() - i);
    if b.get(name_end) != Some(&b'=') {
        return (i, name_end, None, name_end);
    }
    let vs = name_end + 1;
    let ve = vs + memchr::memchr(b';', b.get(vs..).unwrap_or_default()).unwrap_or(b.len() - vs);
    (i, name_end, Some((vs, ve)), ve)
}

fn next_header_param(b: &[u8], i: usize) -> Spans {
    let ns = grammar::skip_lws(b, i);
    let ne = grammar::scan(b, ns, TOKEN);
    let eq = grammar::skip_lws(b, ne);
    if b.get(eq) != Some(&b'=') {
        return (ns, ne, None, ne);
    }
    let vs = grammar::skip_lws(b, eq + 1);
    let ve = gen_value_end(b, vs).unwrap_or(vs);
    (ns, ne, Some((vs, ve)), ve)
}

/// The end of a `gen-value` (token, host incl. IPv6 reference, or quoted-string) starting at `i`.
fn gen_value_end(b: &[u8], i: usize) -> Result<usize, ParseError> {
    if b.get(i) == Some(&b'"') {
        return grammar::quoted_string(b, i);
    }
    let e = grammar::scan(b, i, GEN_VALUE);
    if e == i {
        return Err(ParseError::syntax(i, "parameter value"));
    }
    Ok(e)
}

impl Params {
    /// An empty URI parameter list (for building URIs).
    pub fn new_uri() -> Params {
        Params {
            raw: Bytes::new(),
            style: Style::Uri,
        }
    }

    /// An empty header parameter list (for building header values).
    pub fn new_header() -> Params {
        Params {
            raw: Bytes::new(),
            style: Style::Header,
        }
    }

    /// Iterate over the parameters in order.
    pub fn iter(&self) -> ParamIter<'_> {
        ParamIter {
            raw: &self.raw,
            pos: 0,
            style: self.style,
        }
    }

    /// The first parameter called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<Param<'_>> {
        self.iter().find(|p| p.is(name))
    }

    /// Whether a parameter called `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The raw value of the first parameter called `name`; `None` if it is absent or has no value.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.get(name)?.value()
    }

    /// The raw value of the first parameter called `name` as a slice sharing this list's storage.
    pub fn value_bytes(&self, name: &str) -> Option<Bytes> {
        let v = self.value(name)?;
        Some(self.raw.slice_ref(v))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The list's bytes as received, starting with `;` (empty for an empty list).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Append `;name` or `;name=value`. Characters not allowed unescaped are `%HH`-escaped in URI parameters and
    /// in header parameter names; a header value that is not a token is written as a quoted string.
    pub fn push(&mut self, name: &str, value: Option<&str>) {
        let mut out =
            Vec::with_capacity(self.raw.len() + name.len() + value.map_or(0, str::len) + 2);
        out.extend_from_slice(&self.raw);
        out.push(b';');
        let class = match self.style {
            Style::Uri => PARAM,
            Style::Header => TOKEN,
        };
        escape_into(&mut out, name.as_bytes(), class);
        if let Some(v) = value {
            out.push(b'=');
            match self.style {
                Style::Uri => escape_into(&mut out, v.as_bytes(), PARAM),
                Style::Header => write_gen_value(&mut out, v.as_bytes()),
            }
        }
        self.raw = Bytes::from(out);
    }

    /// Remove every parameter called `name`; returns whether one was present.
    pub fn remove(&mut self, name: &str) -> bool {
        let spans: Vec<(usize, usize)> =
            self.iter().filter(|p| p.is(name)).map(|p| p.span).collect();
        if spans.is_empty() {
            return false;
        }
        let mut out = Vec::with_capacity(self.raw.len());
        let mut at = 0;
        for (s, e) in spans {
            out.extend_from_slice(self.raw.get(at..s).unwrap_or_default());
            at = e;
        }
        out.extend_from_slice(self.raw.get(at..).unwrap_or_default());
        self.raw = Bytes::from(out);
        true
    }

    /// Replace every parameter called `name` by one `;name[=value]` at the end.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        self.remove(name);
        self.push(name, value);
    }

    /// Append the list's wire form to `out`. Header parameters that were received with white space around
    /// their separators are written without it.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let has_ws = self.style == Style::Header
            && (memchr::memchr3(b' ', b'\t', b'\r', &self.raw).is_some()
                || memchr::memchr(b'\n', &self.raw).is_some());
        if !has_ws {
            out.extend_from_slice(&self.raw);
            return;
        }
        for p in self.iter() {
            out.push(b';');
            out.extend_from_slice(p.name);
            if let Some(v) = p.value {
                out.push(b'=');
                grammar::write_unfolded(out, v);
            }
        }
    }

    /// URI parameters from bytes a caller has already validated.
    pub(crate) fn from_uri_raw(raw: Bytes) -> Params {
        Params {
            raw,
            style: Style::Uri,
        }
    }

    /// Parse URI parameters starting at `start` (which must hold `;`), stopping at the first byte that cannot
    /// continue the list (`?`, `>`, end, …). Validates `pname [ "=" pvalue ]` with escapes.
    pub(crate) fn parse_uri(input: &Bytes, start: usize) -> Result<(Params, usize), ParseError> {
        let b = &input[..];
        let mut i = start;
        let mut count = 0;
        while b.get(i) == Some(&b';') {
            count += 1;
            if count > MAX_PARAMS {
                return Err(ParseError::syntax(i, "at most 128 parameters"));
            }
            let ne = grammar::scan_escaped(b, i + 1, PARAM, "uri-parameter name")?;
            if ne == i + 1 {
                return Err(ParseError::syntax(ne, "uri-parameter name"));
            }
            i = ne;
            if b.get(i) == Some(&b'=') {
                let ve = grammar::scan_escaped(b, i + 1, PARAM, "uri-parameter value")?;
                if ve == i + 1 {
                    return Err(ParseError::syntax(ve, "uri-parameter value"));
                }
                i = ve;
            }
        }
        let params = Params {
            raw: input.slice(start..i),
            style: Style::Uri,
        };
        Ok((params, i))
    }

    /// Parse header parameters (`*( SEMI generic-param )`) from `start`, where white space may precede the
    /// first `;`. Returns the list and the index after the last parameter (trailing white space not included).
    pub(crate) fn parse_header(input: &Bytes, start: usize) -> Result<(Params, usize), ParseError> {
        let b = &input[..];
        let mut i = start;
        let mut first = None;
        let mut count = 0;
        loop {
            let semi = grammar::skip_lws(b, i);
            if b.get(semi) != Some(&b';') {
                break;
            }
            count += 1;
            if count > MAX_PARAMS {
                return Err(ParseError::syntax(semi, "at most 128 parameters"));
            }
            first.get_or_insert(semi);
            let ns = grammar::skip_lws(b, semi + 1);
            let ne = grammar::token(b, ns, "parameter name")?;
            i = ne;
            let eq = grammar::skip_lws(b, ne);
            if b.get(eq) == Some(&b'=') {
                let vs = grammar::skip_lws(b, eq + 1);
                i = gen_value_end(b, vs)?;
            }
        }
        let raw = match first {
            Some(f) => input.slice(f..i),
            None => Bytes::new(),
        };
        let end = if first.is_some() { i } else { start };
        Ok((
            Params {
                raw,
                style: Style::Header,
            },
            end,
        ))
    }
}

fn write_gen_value(out: &mut Vec<u8>, v: &[u8]) {
    let plain = !v.is_empty() && v.iter().all(|&c| grammar::is(c, GEN_VALUE));
    if plain {
        out.extend_from_slice(v);
        return;
    }
    write_quoted(out, v);
}

/// Append `v` as a quoted string, escaping `"` and `\` as quoted-pairs and dropping CR/LF.
pub(crate) fn write_quoted(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'"');
    for &c in v {
        match c {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            b'\r' | b'\n' => {}
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        if self.style != other.style {
            return false;
        }
        if self.raw == other.raw {
            return true;
        }
        let mut a = self.iter();
        let mut b = other.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if same_param(x.name, x.value, y.name, y.value) => {}
                _ => return false,
            }
        }
    }
}

impl Eq for Params {}

/// Names byte for byte, values ignoring line folding.
pub(crate) fn same_param(an: &[u8], av: Option<&[u8]>, bn: &[u8], bv: Option<&[u8]>) -> bool {
    an == bn
        && match (av, bv) {
            (None, None) => true,
            (Some(x), Some(y)) => grammar::eq_unfolded(x, y),
            _ => false,
        }
}

/// Hash a parameter value (absent, or its bytes as written unfolded).
pub(crate) fn hash_unfolded<H: std::hash::Hasher>(v: Option<&[u8]>, state: &mut H) {
    match v {
        None => state.write_u8(0),
        Some(v) => {
            state.write_u8(1);
            grammar::unfolded(v).for_each(|c| state.write_u8(c));
            state.write_u8(0xff);
        }
    }
}

impl std::hash::Hash for Params {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.style.hash(state);
        for p in self.iter() {
            p.name.hash(state);
            hash_unfolded(p.value, state);
        }
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;

    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Params({:?})", String::from_utf8_lossy(&self.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &'static str) -> Result<(Params, usize), ParseError> {
        Params::parse_header(&Bytes::from_static(s.as_bytes()), 0)
    }

    #[test]
    fn header_params_tolerate_lws_and_folding_around_separators() {
        let (p, end) = header(" ;   tag    = 1918181833n ;\r\n  x ; q = 0.33  ").unwrap();
        assert_eq!(end, 43);
        assert_eq!(p.value("TAG"), Some(&b"1918181833n"[..]));
        assert!(p.contains("x"));
        assert_eq!(p.value("x"), None);
        assert_eq!(p.value("q"), Some(&b"0.33"[..]));
        assert_eq!(p.len(), 3);
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(out, b";tag=1918181833n;x;q=0.33");
    }

    #[test]
    fn header_params_reject_empty_names_with_offset() {
        let e = header(";;").unwrap_err();
        assert_eq!(e.offset, 1);
        let e = header(";a=").unwrap_err();
        assert_eq!(e.offset, 3);
    }

    #[test]
    fn quoted_header_values_are_unquoted_on_demand() {
        let (p, _) = header(r#";x="a \"b\" ;c";y=[::1]"#).unwrap();
        let x = p.get("x").unwrap();
        assert_eq!(x.decoded_value().unwrap().as_ref(), br#"a "b" ;c"#);
        assert_eq!(p.value("y"), Some(&b"[::1]"[..]));
    }

    #[test]
    fn uri_param_names_and_values_compare_unescaped() {
        let b = Bytes::from_static(b";%6C%72;n%61me=v%61lue%25%34%31?x");
        let (p, end) = Params::parse_uri(&b, 0).unwrap();
        assert_eq!(end, 31);
        assert!(p.contains("lr"));
        let n = p.get("name").unwrap();
        assert_eq!(n.decoded_value().unwrap().as_ref(), b"value%41");
    }

    #[test]
    fn building_params_escapes_and_quotes() {
        let mut p = Params::new_uri();
        p.push("lr", None);
        p.push("x", Some("a b"));
        assert_eq!(p.as_bytes(), b";lr;x=a%20b");
        p.set("LR", Some("1"));
        assert_eq!(p.as_bytes(), b";x=a%20b;LR=1");
        let mut h = Params::new_header();
        h.push("reason", Some("said \"no\""));
        h.push("tag", Some("abc"));
        assert_eq!(h.as_bytes(), br#";reason="said \"no\"";tag=abc"#);
        assert!(h.remove("reason"));
        assert_eq!(h.as_bytes(), b";tag=abc");
    }
}
