//! Parsing SIP messages from the wire: one datagram at a time ([`parse_message`]) or from a byte stream
//! ([`StreamFramer`]).
//!
//! The parser finds lines with `memchr`, reads the start line with nom and header names with a table lookup per
//! byte, and keeps every header value as a [`bytes::Bytes`] slice of the input: a parse allocates one `Vec` for
//! the header list and nothing per header. A datagram's lines are found once: their positions are recorded while
//! the line structure and limits are checked, then the fields are parsed from them.
//!
//! Leniency, decided once for the datagram and stream paths alike:
//! - A line may end in a bare LF as well as CRLF (RFC 3261 §7 asks for CRLF; some implementations send LF,
//!   and reading LF as a line end cannot make two parsers disagree about where a line ends). A CR that is
//!   not followed by LF is rejected, since other parsers may treat it as a line end.
//! - CRLFs before the start line are skipped (RFC 3261 §7.5).
//! - A datagram that ends right after a header line, without the empty line, is taken to have no body (the
//!   datagram's end marks the message's end; on streams the empty line is required).
//! - The colon may be preceded by spaces or tabs (`HCOLON`), and values may use obsolete line folding;
//!   values are kept raw, with the folding, and typed parsers read it as whitespace.
//! - A status line may omit the space before an empty reason phrase.
//! - Any well-formed `SIP/x.y` version is accepted so that a UAS can answer 505; see [`crate::Version`].
//!
//! Header values are not checked beyond the line structure: typed views check them when asked for.

mod header_section;
mod start_line;
mod stream;

pub use stream::{Frame, StreamFramer};

use crate::error::{ParseError, ParseErrorKind};
use crate::header::HeaderName;
use crate::message::{HeaderField, Headers, Message};
use bytes::Bytes;
use header_section::{FieldSpans, HeadLine, LineKind, parse_head};
use memchr::memchr2;

/// Hard limits on what the parser accepts, each reported with its own [`ParseErrorKind`].
///
/// The defaults suit a proxy on the public Internet; raise them for trusted peers that send large bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (start line, headers and body) in bytes; [`ParseErrorKind::MessageTooLarge`].
    pub max_message_size: usize,
    /// Most header fields (lines, counting a folded field once); [`ParseErrorKind::TooManyHeaders`].
    pub max_headers: usize,
    /// Longest physical line (start line or header line, without its line ending);
    /// [`ParseErrorKind::LineTooLong`].
    pub max_line_length: usize,
    /// Most Via entries, across all Via fields; [`ParseErrorKind::TooManyVias`].
    pub max_vias: usize,
}

impl Limits {
    /// 64 KiB messages, 256 header fields, 8 KiB lines, 64 Via entries.
    pub const DEFAULT: Limits = Limits {
        max_message_size: 64 * 1024,
        max_headers: 256,
        max_line_length: 8 * 1024,
        max_vias: 64,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// Parse one SIP message received as a datagram (UDP, or one WebSocket message) with the default [`Limits`].
///
/// Framing follows RFC 3261 §18.3: with a Content-Length, the body is that many bytes and anything after it
/// is discarded, while a Content-Length larger than what arrived is an error
/// ([`ParseErrorKind::ContentLengthMismatch`]); without one, the body is the rest of the datagram. When
/// several Content-Length fields are present the first one frames the body.
///
/// ```
/// use tandem_sip_core::{parse_message, Message, Method};
/// use bytes::Bytes;
///
/// let wire = Bytes::from_static(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n");
/// let Ok(Message::Request(request)) = parse_message(wire) else { panic!("not a request") };
/// assert_eq!(request.method(), &Method::Options);
/// ```
pub fn parse_message(datagram: Bytes) -> Result<Message, ParseError> {
    parse_message_with(datagram, &Limits::DEFAULT)
}

/// [`parse_message`] with the given limits.
pub fn parse_message_with(datagram: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    let (mut message, body_start) = datagram_head(&datagram, limits)?;
    let available = datagram.len() - body_start;
    let body = match body_length(message.headers())?.first {
        None => datagram.slice(body_start..),
        Some(len) if len <= available => datagram.slice(body_start..body_start + len),
        Some(_) => {
            return Err(ParseError {
                offset: datagram.len(),
                kind: ParseErrorKind::ContentLengthMismatch,
                expected: "as many body bytes as Content-Length",
            });
        }
    };
    message.set_wire_body(body);
    Ok(message)
}

/// Parse only the start line and header fields of a datagram, leaving the body empty and Content-Length
/// unread.
///
/// This is for answering a request whose body framing failed: RFC 3261 §18.3 asks a UAS to reply 400 to a
/// request whose Content-Length is larger than the datagram's body (RFC 4475's `clerr` message), and RFC 4475
/// expects the same for a negative Content-Length (`ncl`). [`parse_message`] rejects both; this recovers the
/// Via, From, To, Call-ID and CSeq the reply needs.
pub fn parse_message_head(datagram: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    datagram_head(&datagram, limits).map(|(message, _)| message)
}

/// The message without its body, and where the body starts.
// Inlined into its two callers so that the message is built in place rather than copied out.
#[inline]
fn datagram_head(datagram: &Bytes, limits: &Limits) -> Result<(Message, usize), ParseError> {
    if datagram.len() > limits.max_message_size {
        return Err(too_large(limits));
    }
    let start = skip_crlfs(datagram);
    let mut spans = FieldSpans::new();
    let mut scanner = HeadScanner::new(start);
    let body_start = match scanner.scan_lines(datagram, limits, |line| spans.line(line))? {
        Some(body_start) => body_start,
        // The end of a datagram is unambiguous, so one that stops right after a complete header line has
        // simply left out the empty line (as some RFC 4475 test messages do) and has no body.
        None if scanner.at_line_start(datagram.len()) => datagram.len(),
        None => {
            return Err(ParseError {
                offset: datagram.len(),
                kind: ParseErrorKind::Incomplete,
                expected: "end of the header line",
            });
        }
    };
    let message = if spans.complete() {
        spans.parse(datagram, limits)?
    } else {
        parse_head(datagram, start, body_start, scanner.fields, limits)?
    };
    Ok((message, body_start))
}

/// Offset of the first byte after any CRLF (or bare LF) line endings at the start of `buf`.
fn skip_crlfs(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match (buf.get(i), buf.get(i + 1)) {
            (Some(b'\r'), Some(b'\n')) => i += 2,
            (Some(b'\n'), _) => i += 1,
            _ => return i,
        }
    }
}

fn too_large(limits: &Limits) -> ParseError {
    ParseError {
        offset: limits.max_message_size,
        kind: ParseErrorKind::MessageTooLarge {
            limit: limits.max_message_size,
        },
        expected: "a smaller message",
    }
}

/// Finds the empty line that ends the header section, resuming where it stopped when more input arrives,
/// and enforces the line-length, header-count and message-size limits on the way.
#[derive(Debug, Clone)]
pub(crate) struct HeadScanner {
    /// Next byte to examine.
    pos: usize,
    /// Start of the current physical line.
    line_start: usize,
    /// Logical lines seen so far (the start line and each header field, folded lines counted once).
    pub(crate) fields: usize,
}

impl HeadScanner {
    /// A scanner for a message whose start line begins at `start`.
    pub(crate) fn new(start: usize) -> HeadScanner {
        HeadScanner {
            pos: start,
            line_start: start,
            fields: 0,
        }
    }

    /// The offset of the first body byte once the header section is complete, `None` while it is not.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        self.scan_lines(buf, limits, |_| {})
    }

    /// [`HeadScanner::scan`], handing every complete non-empty line to `on_line` as it is found.
    pub(crate) fn scan_lines(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        mut on_line: impl FnMut(HeadLine),
    ) -> Result<Option<usize>, ParseError> {
        let line_ends = LineEnds::new();
        loop {
            let rest = buf.get(self.pos..).unwrap_or_default();
            let Some(found) = line_ends.find(rest) else {
                self.pos = buf.len();
                return self.partial(buf.len(), limits);
            };
            let mut lf = self.pos + found;
            if buf.get(lf) == Some(&b'\r') {
                // A CR must end the line: other parsers may take a lone CR for a line end, and disagreeing
                // about where a header field ends is how requests get smuggled past a proxy.
                match buf.get(lf + 1) {
                    Some(b'\n') => lf += 1,
                    Some(_) => return Err(ParseError::syntax(lf + 1, "LF after CR")),
                    None => {
                        self.pos = lf;
                        return self.partial(buf.len(), limits);
                    }
                }
            }
            if let Some(body_start) = self.end_line(buf, lf, limits, &mut on_line)? {
                return Ok(Some(body_start));
            }
        }
    }

    /// Account for the line ending with the LF at `lf`; the body start if it was the empty line.
    fn end_line(
        &mut self,
        buf: &[u8],
        lf: usize,
        limits: &Limits,
        on_line: &mut impl FnMut(HeadLine),
    ) -> Result<Option<usize>, ParseError> {
        let has_cr = lf > self.line_start && buf.get(lf - 1) == Some(&b'\r');
        let content_end = if has_cr { lf - 1 } else { lf };
        let line_len = content_end - self.line_start;
        if line_len > limits.max_line_length {
            return Err(line_too_long(self.line_start, limits));
        }
        if lf + 1 > limits.max_message_size {
            return Err(too_large(limits));
        }
        if line_len == 0 {
            if self.fields == 0 {
                return Err(ParseError::syntax(self.line_start, "start line"));
            }
            return Ok(Some(lf + 1));
        }
        let kind = match (self.fields, buf.get(self.line_start)) {
            (0, _) => LineKind::Start,
            (_, Some(b' ' | b'\t')) => LineKind::Continuation,
            _ => LineKind::Field,
        };
        if kind != LineKind::Continuation {
            self.fields += 1;
            if self.fields > limits.max_headers.saturating_add(1) {
                return Err(ParseError {
                    offset: self.line_start,
                    kind: ParseErrorKind::TooManyHeaders {
                        limit: limits.max_headers,
                    },
                    expected: "the empty line ending the header fields",
                });
            }
        }
        on_line(HeadLine {
            kind,
            start: self.line_start,
            end: content_end,
        });
        self.line_start = lf + 1;
        self.pos = lf + 1;
        Ok(None)
    }

    /// Whether the input scanned so far, `len` bytes, ends with a complete start line or header line.
    pub(crate) fn at_line_start(&self, len: usize) -> bool {
        self.fields > 0 && self.line_start == len
    }

    /// Check the limits against the incomplete tail of the input.
    fn partial(&self, len: usize, limits: &Limits) -> Result<Option<usize>, ParseError> {
        if len - self.line_start > limits.max_line_length {
            return Err(line_too_long(self.line_start, limits));
        }
        if len > limits.max_message_size {
            return Err(too_large(limits));
        }
        Ok(None)
    }
}

/// Looks for the next CR or LF. Built once per scan: a header line is short, and `memchr2`'s choice of
/// implementation on every call costs about as much as the search itself.
struct LineEnds {
    #[cfg(target_arch = "x86_64")]
    sse2: Option<memchr::arch::x86_64::sse2::memchr::Two>,
}

impl LineEnds {
    fn new() -> LineEnds {
        LineEnds {
            #[cfg(target_arch = "x86_64")]
            sse2: memchr::arch::x86_64::sse2::memchr::Two::new(b'\r', b'\n'),
        }
    }

    /// Offset of the first CR or LF in `haystack`.
    #[inline]
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(sse2) = &self.sse2 {
            return sse2.find(haystack);
        }
        memchr2(b'\r', b'\n', haystack)
    }
}

fn line_too_long(line_start: usize, limits: &Limits) -> ParseError {
    ParseError {
        offset: line_start.saturating_add(limits.max_line_length),
        kind: ParseErrorKind::LineTooLong {
            limit: limits.max_line_length,
        },
        expected: "a shorter line",
    }
}

/// What the Content-Length fields of a message say about its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyLength {
    /// The value of the first Content-Length field.
    pub(crate) first: Option<usize>,
    /// Whether another Content-Length field disagrees with the first.
    pub(crate) conflicting: bool,
}

/// Read every Content-Length field; any malformed one is an error.
pub(crate) fn body_length(headers: &Headers) -> Result<BodyLength, ParseError> {
    let mut length = BodyLength {
        first: None,
        conflicting: false,
    };
    for field in headers.get_all(&HeaderName::ContentLength) {
        let len = content_length_value(field)?;
        match length.first {
            None => length.first = Some(len),
            Some(first) => length.conflicting |= first != len,
        }
    }
    Ok(length)
}

/// The body length a Content-Length field announces.
fn content_length_value(field: &HeaderField) -> Result<usize, ParseError> {
    let value = field.value();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        let bad = value.iter().position(|c| !c.is_ascii_digit()).unwrap_or(0);
        return Err(ParseError::syntax(
            field.offset() + bad,
            "Content-Length digits",
        ));
    }
    value
        .iter()
        .try_fold(0usize, |n, &d| {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        })
        .ok_or(ParseError {
            offset: field.offset(),
            kind: ParseErrorKind::OutOfRange,
            expected: "a Content-Length that fits in memory",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(input: &[u8]) -> Result<Option<usize>, ParseError> {
        HeadScanner::new(0).scan(input, &Limits::DEFAULT)
    }

    #[test]
    fn head_ends_at_the_first_empty_line_with_crlf_or_lf() {
        assert_eq!(scan(b"A\r\nB: c\r\n\r\nbody"), Ok(Some(11)));
        assert_eq!(scan(b"A\nB: c\n\nbody"), Ok(Some(8)));
        assert_eq!(scan(b"A\r\nB: c\r\n"), Ok(None));
    }

    #[test]
    fn scanning_resumes_across_a_split_crlf() {
        let input = b"A\r\nB: c\r\n\r\n";
        let mut scanner = HeadScanner::new(0);
        assert_eq!(scanner.scan(&input[..10], &Limits::DEFAULT), Ok(None));
        assert_eq!(scanner.scan(input, &Limits::DEFAULT), Ok(Some(11)));
        assert_eq!(scanner.fields, 2);
    }

    #[test]
    fn rejects_cr_not_followed_by_lf() {
        assert_eq!(
            scan(b"A\r\nB: c\rd\r\n\r\n"),
            Err(ParseError::syntax(8, "LF after CR"))
        );
    }

    #[test]
    fn folded_lines_count_as_one_header_field() {
        let mut scanner = HeadScanner::new(0);
        assert_eq!(
            scanner.scan(b"A\r\nB: c\r\n d\r\n\te\r\n\r\n", &Limits::DEFAULT),
            Ok(Some(19))
        );
        assert_eq!(scanner.fields, 2);
    }
}
