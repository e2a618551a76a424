//! The first line of a message: a Request-Line or a Status-Line (RFC 3261 §7.1, §7.2).

use super::header_section::is_token;
use crate::error::{ParseError, ParseErrorKind};
use crate::message::Version;
use crate::method::{Method, StatusCode};
use crate::uri::Uri;
use bytes::Bytes;
use nom::Parser;
use nom::bytes::complete::{tag_no_case, take_while1};
use nom::character::complete::{char, digit1};

/// What the start line says.
#[derive(Debug)]
pub(super) enum StartLine {
    /// `Method SP Request-URI SP SIP-Version`
    Request {
        method: Method,
        uri: Uri,
        version: Version,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`
    Response {
        version: Version,
        status: StatusCode,
        reason: Bytes,
    },
}

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Offset in the message of the input a nom parser failed on.
fn failed_at(line: &[u8], line_start: usize, error: &nom::Err<NomError<'_>>) -> usize {
    match error {
        nom::Err::Error(e) | nom::Err::Failure(e) => {
            line_start + line.len().saturating_sub(e.input.len())
        }
        nom::Err::Incomplete(_) => line_start + line.len(),
    }
}

/// The part of the message a start-line parser works on, to turn positions into message offsets.
struct Line<'a> {
    text: &'a [u8],
    start: usize,
}

impl<'a> Line<'a> {
    /// Offset in the message of `rest`, a suffix of the line.
    fn offset_of(&self, rest: &[u8]) -> usize {
        self.start + (self.text.len() - rest.len())
    }

    /// Map a nom failure to a syntax error at the failing position.
    fn syntax(&self, expected: &'static str) -> impl Fn(nom::Err<NomError<'a>>) -> ParseError + '_ {
        move |e| ParseError::syntax(failed_at(self.text, self.start, &e), expected)
    }
}

/// Parse the start line `buf[start..end]` (without its line ending).
pub(super) fn parse(buf: &Bytes, start: usize, end: usize) -> Result<StartLine, ParseError> {
    let line = Line {
        text: buf.get(start..end).unwrap_or_default(),
        start,
    };
    let is_status_line = line
        .text
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"));
    if is_status_line {
        status_line(buf, &line)
    } else {
        request_line(buf, &line)
    }
}

fn request_line(buf: &Bytes, line: &Line<'_>) -> Result<StartLine, ParseError> {
    let (rest, method) = take_while1(is_token)
        .parse(line.text)
        .map_err(line.syntax("Method"))?;
    let (rest, _) = char(' ')
        .parse(rest)
        .map_err(line.syntax("a single SP after the Method"))?;
    // The Request-URI runs to the next SP; whitespace or control characters inside it are errors
    // (RFC 4475 §3.1.2.11 and §3.3.9 show why a lenient reading here is dangerous).
    let uri_offset = line.offset_of(rest);
    let (rest, uri_text) = take_while1(|c: u8| c > b' ' && c != 0x7f)
        .parse(rest)
        .map_err(line.syntax("Request-URI"))?;
    let (rest, _) = char(' ')
        .parse(rest)
        .map_err(line.syntax("a single SP after the Request-URI"))?;
    let (rest, version) = sip_version(line, rest)?;
    if !rest.is_empty() {
        return Err(ParseError::syntax(
            line.offset_of(rest),
            "end of the Request-Line",
        ));
    }
    let method_start = line.start;
    let method = Method::from_bytes(buf.slice(method_start..method_start + method.len()));
    let uri = Uri::parse(&buf.slice(uri_offset..uri_offset + uri_text.len()))
        .map_err(|e| e.shifted(uri_offset))?;
    Ok(StartLine::Request {
        method,
        uri,
        version,
    })
}

fn status_line(buf: &Bytes, line: &Line<'_>) -> Result<StartLine, ParseError> {
    let (rest, version) = sip_version(line, line.text)?;
    let Some((b' ', rest)) = rest.split_first() else {
        return Err(ParseError::syntax(
            line.offset_of(rest),
            "a single SP after the SIP-Version",
        ));
    };
    let code_offset = line.offset_of(rest);
    let (code, rest) = match rest {
        [a, b, c, rest @ ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            (three_digits(&[*a, *b, *c]), rest)
        }
        _ => {
            return Err(ParseError::syntax(code_offset, "a three-digit Status-Code"));
        }
    };
    let reason = match rest.split_first() {
        None => &[][..],
        Some((b' ', reason)) => reason,
        Some(_) => {
            return Err(ParseError::syntax(
                line.offset_of(rest),
                "SP after the Status-Code",
            ));
        }
    };
    let status = StatusCode::new(code).ok_or(ParseError {
        offset: code_offset,
        kind: ParseErrorKind::OutOfRange,
        expected: "a Status-Code from 100 to 699",
    })?;
    if let Some(bad) = reason
        .iter()
        .position(|&c| (c < b' ' && c != b'\t') || c == 0x7f)
    {
        return Err(ParseError::syntax(
            line.offset_of(reason) + bad,
            "Reason-Phrase text",
        ));
    }
    let reason_offset = line.offset_of(reason);
    Ok(StartLine::Response {
        version,
        status,
        reason: buf.slice(reason_offset..reason_offset + reason.len()),
    })
}

fn three_digits(code: &[u8]) -> u16 {
    code.iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d.wrapping_sub(b'0')))
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT` ("SIP" case-insensitive).
fn sip_version<'a>(line: &Line<'a>, input: &'a [u8]) -> Result<(&'a [u8], Version), ParseError> {
    // Nearly every message says exactly `SIP/2.0`; the general grammar below handles everything else.
    if let Some(rest) = input.strip_prefix(b"SIP/2.0")
        && !rest.first().is_some_and(u8::is_ascii_digit)
    {
        return Ok((rest, Version::SIP_2_0));
    }
    let (rest, (_, major, _, minor)) = (tag_no_case("SIP/"), digit1, char('.'), digit1)
        .parse(input)
        .map_err(line.syntax("SIP-Version"))?;
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u16, |n, &d| {
            n.checked_mul(10)?.checked_add(u16::from(d - b'0'))
        })
    };
    match (number(major), number(minor)) {
        (Some(major), Some(minor)) => Ok((rest, Version::new(major, minor))),
        _ => Err(ParseError {
            offset: line.offset_of(input),
            kind: ParseErrorKind::OutOfRange,
            expected: "SIP-Version numbers below 65536",
        }),
    }
}
