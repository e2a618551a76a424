//! Assembling a message from the lines of its header section (RFC 3261 §7.3): the start line, then one header
//! field per logical line, each field's value kept as a slice of the received buffer.
//!
//! [`super::HeadScanner`] finds the lines and enforces the limits on their length and number. For a datagram it
//! hands every line to a [`FieldSpans`] as it goes, so the line ends are looked for once; a message framed on a
//! stream (or a datagram with very many fields) is parsed by [`parse_head`], which finds the lines again.

use super::Limits;
use super::start_line::{self, StartLine};
use crate::error::{ParseError, ParseErrorKind};
use crate::header::HeaderName;
use crate::message::{
    HeaderField, Headers, Message, Request, Response, count_elements, is_lws, trim_range,
};
use bytes::Bytes;

/// What a non-empty line of a header section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// The Request-Line or Status-Line.
    Start,
    /// The first line of a header field.
    Field,
    /// A folded line (starting with SP or HTAB) continuing the previous one.
    Continuation,
}

/// A non-empty line: its kind and its content `buf[start..end]` (without the line ending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadLine {
    pub(crate) kind: LineKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Most header fields whose positions [`FieldSpans`] keeps; messages with more take the general path.
const INLINE_FIELDS: usize = 40;

/// The positions of the start line and header fields of a datagram, recorded while the lines are scanned so that
/// the fields are then parsed without looking for the line ends again, into a list allocated once at its final
/// size.
#[derive(Debug)]
pub(crate) struct FieldSpans {
    start_line: (usize, usize),
    /// `begin..end` of each field, folded lines included.
    spans: [(usize, usize); INLINE_FIELDS],
    /// Fields seen, including any that did not fit in `spans`.
    fields: usize,
}

impl FieldSpans {
    /// No lines yet.
    pub(crate) fn new() -> FieldSpans {
        FieldSpans {
            start_line: (0, 0),
            spans: [(0, 0); INLINE_FIELDS],
            fields: 0,
        }
    }

    /// Take the next line of the header section.
    pub(crate) fn line(&mut self, line: HeadLine) {
        match line.kind {
            LineKind::Start => self.start_line = (line.start, line.end),
            // A folded line right after the start line continues nothing: it starts a field (without a name,
            // so that parsing it fails where the name should be, as on the general path).
            LineKind::Continuation if self.fields > 0 => {
                if let Some(span) = self.spans.get_mut(self.fields - 1) {
                    span.1 = line.end;
                }
            }
            LineKind::Field | LineKind::Continuation => {
                if let Some(span) = self.spans.get_mut(self.fields) {
                    *span = (line.start, line.end);
                }
                self.fields += 1;
            }
        }
    }

    /// Whether every field's position was kept.
    pub(crate) fn complete(&self) -> bool {
        self.fields <= INLINE_FIELDS
    }

    /// Parse the start line and the recorded fields of `buf` (requires [`FieldSpans::complete`]).
    #[inline]
    pub(crate) fn parse(&self, buf: &Bytes, limits: &Limits) -> Result<Message, ParseError> {
        let start_line = start_line::parse(buf, self.start_line.0, self.start_line.1)?;
        let mut headers = Headers::with_capacity(self.fields);
        let mut vias = 0usize;
        for &(begin, end) in self.spans.iter().take(self.fields) {
            let field = parse_field(buf, begin, end)?;
            if matches!(field.name(), HeaderName::Via) {
                count_vias(&field, &mut vias, limits)?;
            }
            headers.push(field);
        }
        Ok(message(start_line, headers))
    }
}

/// Parse the start line and header fields of `buf[start..body_start]`, which [`super::HeadScanner`] has found to
/// be a complete header section of `fields` logical lines (start line included), finding the lines again.
pub(crate) fn parse_head(
    buf: &Bytes,
    start: usize,
    body_start: usize,
    fields: usize,
    limits: &Limits,
) -> Result<Message, ParseError> {
    let (line_end, mut pos) = line_bounds(buf, start, body_start);
    let start_line = start_line::parse(buf, start, line_end)?;
    let mut headers = Headers::with_capacity(fields.saturating_sub(1));
    let mut vias = 0usize;
    loop {
        let (field_end, next) = logical_line(buf, pos, body_start);
        if field_end == pos {
            break;
        }
        let field = parse_field(buf, pos, field_end)?;
        if matches!(field.name(), HeaderName::Via) {
            count_vias(&field, &mut vias, limits)?;
        }
        headers.push(field);
        pos = next;
    }
    Ok(message(start_line, headers))
}

fn message(start_line: StartLine, headers: Headers) -> Message {
    match start_line {
        StartLine::Request {
            method,
            uri,
            version,
        } => Message::Request(Request::from_parts(
            method,
            uri,
            version,
            headers,
            Bytes::new(),
        )),
        StartLine::Response {
            version,
            status,
            reason,
        } => Message::Response(Response::from_parts(
            version,
            status,
            reason,
            headers,
            Bytes::new(),
        )),
    }
}

/// Add the entries of a Via field to `vias` and enforce [`Limits::max_vias`]. The callers check the name, so
/// that other fields pay for a comparison of the name's discriminant rather than a call.
fn count_vias(field: &HeaderField, vias: &mut usize, limits: &Limits) -> Result<(), ParseError> {
    // Most Via fields hold one entry; only a comma can separate more, and looking for one is cheaper than
    // splitting the list.
    *vias += if has_comma(field.value()) {
        count_elements(field.value())
    } else {
        usize::from(!field.value().is_empty())
    };
    if *vias > limits.max_vias {
        return Err(ParseError {
            offset: field.offset(),
            kind: ParseErrorKind::TooManyVias {
                limit: limits.max_vias,
            },
            expected: "fewer Via entries",
        });
    }
    Ok(())
}

/// Whether `value` holds a comma. On x86_64 memchr's SSE2 searcher (baseline there) is used directly, sparing
/// `memchr`'s choice of implementation on every call, which costs as much as searching a short value.
fn has_comma(value: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let Some(sse2) = memchr::arch::x86_64::sse2::memchr::One::new(b',') {
        return sse2.find(value).is_some();
    }
    memchr::memchr(b',', value).is_some()
}

/// End of the content of the physical line starting at `pos` (before CR LF or LF) and the start of the next
/// line, within `buf[..limit]`.
fn line_bounds(buf: &[u8], pos: usize, limit: usize) -> (usize, usize) {
    let line = buf.get(pos..limit).unwrap_or_default();
    match memchr::memchr(b'\n', line) {
        Some(i) => {
            let lf = pos + i;
            let end = if i > 0 && buf.get(lf - 1) == Some(&b'\r') {
                lf - 1
            } else {
                lf
            };
            (end, lf + 1)
        }
        None => (limit, limit),
    }
}

/// Like [`line_bounds`], but a header field continues over folded lines (starting with SP or HTAB).
fn logical_line(buf: &[u8], pos: usize, limit: usize) -> (usize, usize) {
    let (mut end, mut next) = line_bounds(buf, pos, limit);
    while end > pos && next < limit && matches!(buf.get(next), Some(b' ' | b'\t')) {
        (end, next) = line_bounds(buf, next, limit);
    }
    (end, next)
}

/// Parse one header field, `buf[begin..end]` (without the final line ending; folded lines included).
#[inline(always)]
fn parse_field(buf: &Bytes, begin: usize, end: usize) -> Result<HeaderField, ParseError> {
    let line = buf.get(begin..end).unwrap_or_default();
    // Most fields start with a common name in its canonical spelling directly followed by the colon; that is
    // recognised without reading the name byte by byte, and the name needs no spelling kept.
    if let Some((known, name_len)) = common_name_with_colon(line) {
        let rest = line.get(name_len + 1..).unwrap_or_default();
        let value_start = begin + name_len + 1;
        let (s, e) = value_range(rest);
        let value = buf.slice(value_start + s..value_start + e);
        return Ok(HeaderField::parsed(known, None, value, value_start + s));
    }
    parse_any_field(buf, begin, end)
}

/// [`parse_field`] for any spelling of any name, with optional white space before the colon.
fn parse_any_field(buf: &Bytes, begin: usize, end: usize) -> Result<HeaderField, ParseError> {
    let line = buf.get(begin..end).unwrap_or_default();
    let name_len = line
        .iter()
        .position(|&c| !is_token(c))
        .unwrap_or(line.len());
    if name_len == 0 {
        return Err(ParseError::syntax(begin, "header field name"));
    }
    let (name, rest) = line.split_at(name_len);
    // HCOLON = *( SP / HTAB ) ":" SWS; the white space after the colon is trimmed with the value's.
    let spaces = rest
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(rest.len());
    let Some((b':', rest)) = rest.get(spaces..).and_then(<[u8]>::split_first) else {
        return Err(ParseError::syntax(
            begin + name_len + spaces,
            "':' after the header field name",
        ));
    };
    let value_start = end - rest.len();
    let (s, e) = value_range(rest);
    let value = buf.slice(value_start + s..value_start + e);
    // Keep the spelling only where writing the canonical name would change it (compact form, other case);
    // that spares a reference count update per field in the common case.
    if let Some(known) = common_name(name) {
        return Ok(HeaderField::parsed(known, None, value, value_start + s));
    }
    let name_end = begin + name_len;
    let (name, raw_name) = match HeaderName::lookup(name) {
        Some(known) if known.as_str().as_bytes() == name => (known, None),
        Some(known) => (known, Some(buf.slice(begin..name_end))),
        None => (HeaderName::Other(buf.slice(begin..name_end)), None),
    };
    Ok(HeaderField::parsed(name, raw_name, value, value_start + s))
}

/// The value of a field within `rest`, what follows the colon: without leading and trailing white space.
#[inline]
fn value_range(rest: &[u8]) -> (usize, usize) {
    match rest {
        // The usual `Name: value`, with nothing to trim at the end.
        [b' ', first, .., last] if !is_lws(*first) && !is_lws(*last) => (1, rest.len()),
        [b' ', only] if !is_lws(*only) => (1, 2),
        _ => trim_range(rest),
    }
}

/// The common name that `line` starts with, in its canonical spelling and directly followed by `:`, and the
/// name's length. The first bytes pick the one or few candidates, so a field is recognised with a couple of
/// comparisons instead of a byte-by-byte read of its name; the colon proves that the name ends there.
#[inline(always)]
fn common_name_with_colon(line: &[u8]) -> Option<(HeaderName, usize)> {
    macro_rules! common_names {
        ($( ($first:pat, $second:pat) => $spelling:literal => $name:expr, )*) => {
            match (line.first()?, line.get(1)?) {
                $(
                    ($first, $second) if followed_by_colon(line, $spelling) => {
                        Some(($name, $spelling.len()))
                    }
                )*
                _ => None,
            }
        };
    }
    common_names! {
        (b'V', _) => b"Via" => HeaderName::Via,
        (b'F', _) => b"From" => HeaderName::From,
        (b'T', _) => b"To" => HeaderName::To,
        (b'C', b'a') => b"Call-ID" => HeaderName::CallId,
        (b'C', b'S') => b"CSeq" => HeaderName::CSeq,
        (b'C', b'o') => b"Contact" => HeaderName::Contact,
        (b'C', b'o') => b"Content-Length" => HeaderName::ContentLength,
        (b'C', b'o') => b"Content-Type" => HeaderName::ContentType,
        (b'M', _) => b"Max-Forwards" => HeaderName::MaxForwards,
        (b'R', b'o') => b"Route" => HeaderName::Route,
        (b'R', b'e') => b"Record-Route" => HeaderName::RecordRoute,
        (b'A', b'l') => b"Allow" => HeaderName::Allow,
        (b'A', b'u') => b"Authorization" => HeaderName::Authorization,
        (b'S', _) => b"Supported" => HeaderName::Supported,
        (b'U', _) => b"User-Agent" => HeaderName::UserAgent,
        (b'E', _) => b"Expires" => HeaderName::Expires,
        (b'P', _) => b"Proxy-Authorization" => HeaderName::ProxyAuthorization,
        (b'W', _) => b"WWW-Authenticate" => HeaderName::WwwAuthenticate,
    }
}

/// Whether `line` starts with `name` and a colon. The length is a constant, so the comparison compiles to a
/// few word loads rather than a call to `memcmp`.
#[inline]
fn followed_by_colon<const N: usize>(line: &[u8], name: &[u8; N]) -> bool {
    line.get(N) == Some(&b':') && line.first_chunk::<N>() == Some(name)
}

/// The header names most messages carry, in their canonical spelling: an exact match compiles to a switch on
/// the length and one comparison.
fn common_name(name: &[u8]) -> Option<HeaderName> {
    Some(match name {
        b"Via" => HeaderName::Via,
        b"From" => HeaderName::From,
        b"To" => HeaderName::To,
        b"Call-ID" => HeaderName::CallId,
        b"CSeq" => HeaderName::CSeq,
        b"Contact" => HeaderName::Contact,
        b"Max-Forwards" => HeaderName::MaxForwards,
        b"Content-Length" => HeaderName::ContentLength,
        b"Content-Type" => HeaderName::ContentType,
        b"Route" => HeaderName::Route,
        b"Record-Route" => HeaderName::RecordRoute,
        b"Allow" => HeaderName::Allow,
        b"Supported" => HeaderName::Supported,
        b"User-Agent" => HeaderName::UserAgent,
        b"Expires" => HeaderName::Expires,
        b"Authorization" => HeaderName::Authorization,
        b"Proxy-Authorization" => HeaderName::ProxyAuthorization,
        b"WWW-Authenticate" => HeaderName::WwwAuthenticate,
        _ => return None,
    })
}

/// `token` characters (RFC 3261 §25.1).
pub(crate) fn is_token(c: u8) -> bool {
    TOKEN[usize::from(c)]
}

/// [`is_token`] as a table: header names are read byte by byte on every field.
static TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        c += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The names [`common_name`] and [`common_name_with_colon`] recognise.
    const COMMON_NAMES: [&str; 18] = [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
        "Route",
        "Record-Route",
        "Allow",
        "Supported",
        "User-Agent",
        "Expires",
        "Authorization",
        "Proxy-Authorization",
        "WWW-Authenticate",
    ];

    #[test]
    fn common_names_agree_with_the_general_lookup() {
        for name in COMMON_NAMES {
            let fast = common_name(name.as_bytes());
            assert_eq!(fast, HeaderName::lookup(name.as_bytes()), "{name}");
            assert_eq!(fast.as_ref().map(HeaderName::as_str), Some(name));
        }
        assert_eq!(common_name(b"via"), None);
    }

    #[test]
    fn names_followed_by_a_colon_agree_with_the_general_lookup() {
        for name in COMMON_NAMES {
            let expected = HeaderName::lookup(name.as_bytes()).map(|known| (known, name.len()));
            let line = format!("{name}: x");
            assert_eq!(common_name_with_colon(line.as_bytes()), expected, "{name}");
            assert!(expected.is_some(), "{name}");
        }
        for line in [
            "Via :x",
            "via: x",
            "Vias: x",
            "Via",
            "V",
            "From x",
            "Content-Lengthy: 0",
            "Co: x",
        ] {
            assert_eq!(common_name_with_colon(line.as_bytes()), None, "{line}");
        }
    }

    fn field(line: &'static str) -> Result<HeaderField, ParseError> {
        let buf = Bytes::from_static(line.as_bytes());
        parse_field(&buf, 0, buf.len())
    }

    #[test]
    fn colon_may_follow_spaces_and_tabs_after_the_name() {
        let f = field("Subject \t:  hello ").unwrap();
        assert_eq!(
            (f.name(), &f.value()[..]),
            (&HeaderName::Subject, &b"hello"[..])
        );
        assert_eq!(f.offset(), 12);
    }

    #[test]
    fn missing_colon_is_reported_where_it_was_expected() {
        assert_eq!(field("Subject  hello").unwrap_err().offset, 9);
        assert_eq!(field(": x").unwrap_err().offset, 0);
        assert_eq!(field("Subject").unwrap_err().offset, 7);
    }

    #[test]
    fn spelling_is_kept_only_when_it_differs_from_the_canonical_name() {
        let f = field("v: SIP/2.0/UDP h").unwrap();
        assert_eq!((f.name(), f.raw_name()), (&HeaderName::Via, &b"v"[..]));
        let f = field("call-id: x").unwrap();
        assert_eq!(
            (f.name(), f.raw_name()),
            (&HeaderName::CallId, &b"call-id"[..])
        );
        let f = field("X-Custom: y").unwrap();
        assert_eq!(f.raw_name(), b"X-Custom");
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use crate::parse::HeadScanner;
    use proptest::prelude::*;

    /// Both ways of reading a header section: from the spans recorded while scanning, and by finding the lines
    /// again. `None` when the scanner rejects the lines (neither path runs then).
    fn both_paths(
        text: &str,
    ) -> Option<(Result<Message, ParseError>, Result<Message, ParseError>)> {
        let buf = Bytes::copy_from_slice(text.as_bytes());
        let limits = Limits::default();
        let mut spans = FieldSpans::new();
        let mut scanner = HeadScanner::new(0);
        let body_start = scanner
            .scan_lines(&buf, &limits, |line| spans.line(line))
            .ok()??;
        assert!(spans.complete());
        let fast = spans.parse(&buf, &limits);
        let general = parse_head(&buf, 0, body_start, scanner.fields, &limits);
        Some((fast, general))
    }

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("Via: SIP/2.0/UDP h;branch=z9hG4bK1".to_owned()),
            Just("v: SIP/2.0/TCP a, SIP/2.0/UDP b".to_owned()),
            Just("Call-ID:x".to_owned()),
            Just("X-Odd \t: value ".to_owned()),
            Just(" folded continuation".to_owned()),
            Just("\tmore".to_owned()),
            Just("NoColon".to_owned()),
            Just(": no name".to_owned()),
            Just("to: <sip:b@x>".to_owned()),
            "[ -~]{0,12}",
        ]
    }

    proptest! {
        #[test]
        fn recorded_spans_read_the_same_fields_as_finding_the_lines_again(
            start in prop_oneof![Just("OPTIONS sip:a@b SIP/2.0"), Just("SIP/2.0 200 OK"), Just("BAD")],
            lines in proptest::collection::vec(line(), 0..12),
            lf_only in any::<bool>(),
        ) {
            let eol = if lf_only { "\n" } else { "\r\n" };
            let mut text = format!("{start}{eol}");
            for l in &lines {
                text.push_str(l);
                text.push_str(eol);
            }
            text.push_str(eol);
            if let Some((fast, general)) = both_paths(&text) {
                // Debug shows what equality leaves out: offsets and the names as spelled.
                prop_assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{:?}", text);
            }
        }
    }
}
