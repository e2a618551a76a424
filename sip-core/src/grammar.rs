//! Character classes and small scanners for the basic rules of RFC 3261 §25.1, shared by the URI and header
//! parsers. Every class is one bit in a 256-entry table, so a membership test is a load and a mask.

use crate::error::{ParseError, ParseErrorKind};

/// `alphanum`
pub(crate) const ALNUM: u16 = 1 << 0;
/// `mark` = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
pub(crate) const MARK: u16 = 1 << 1;
/// `unreserved` / `user-unreserved` (the `user` part of a SIP URI, without escapes)
pub(crate) const USER: u16 = 1 << 2;
/// `password` characters (without escapes)
pub(crate) const PASSWORD: u16 = 1 << 3;
/// `paramchar` of a SIP URI or TEL URI parameter (without escapes)
pub(crate) const PARAM: u16 = 1 << 4;
/// `hname` / `hvalue` characters of SIP URI headers (without escapes)
pub(crate) const HNV: u16 = 1 << 5;
/// `token`
pub(crate) const TOKEN: u16 = 1 << 6;
/// characters of a host name or IPv4 address (alphanum, "-", ".", and "_" tolerated)
pub(crate) const HOST: u16 = 1 << 7;
/// `uric` of RFC 2396 (reserved / unreserved; escapes handled separately)
pub(crate) const URIC: u16 = 1 << 8;
/// `phonedigit-hex` of RFC 3966 (HEXDIG / "*" / "#" / visual separators)
pub(crate) const PHONE: u16 = 1 << 9;
/// `word` (Call-ID)
pub(crate) const WORD: u16 = 1 << 10;
/// `HEXDIG`
pub(crate) const HEX: u16 = 1 << 11;
/// scheme characters after the first: ALPHA / DIGIT / "+" / "-" / "."
pub(crate) const SCHEME: u16 = 1 << 12;
/// `qdtext` (inside a quoted string, excluding `"` and `\`), counting any byte >= 0x80 as UTF-8
pub(crate) const QDTEXT: u16 = 1 << 13;
/// `gen-value` characters outside quoted strings: `token` / `host` (including IPv6 references)
pub(crate) const GEN_VALUE: u16 = 1 << 14;
/// `qdtext` plus SP and HTAB: what a quoted string holds between quoted-pairs and folded line breaks
const QDTEXT_WSP: u16 = 1 << 15;

const fn build() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let mut v = 0u16;
        let alpha = b.is_ascii_alphabetic();
        let digit = b.is_ascii_digit();
        if alpha || digit {
            v |= ALNUM | USER | PASSWORD | PARAM | HNV | TOKEN | HOST | URIC | WORD | SCHEME;
        }
        if b.is_ascii_hexdigit() {
            v |= HEX | PHONE;
        }
        if matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        ) {
            v |= MARK | USER | PASSWORD | PARAM | HNV | URIC | WORD;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM;
        }
        if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV;
        }
        if matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        ) {
            v |= TOKEN | WORD;
        }
        if matches!(b, b'-' | b'.' | b'_') {
            v |= HOST;
        }
        if matches!(
            b,
            b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
        ) {
            v |= URIC;
        }
        if matches!(b, b'*' | b'#' | b'-' | b'.' | b'(' | b')') {
            v |= PHONE;
        }
        if matches!(
            b,
            b'<' | b'>' | b':' | b'\\' | b'"' | b'/' | b'[' | b']' | b'?' | b'{' | b'}'
        ) {
            v |= WORD;
        }
        if matches!(b, b'+' | b'-' | b'.') {
            v |= SCHEME;
        }
        // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII; LWS is handled by the scanner.
        if b == b'!' || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80 {
            v |= QDTEXT | QDTEXT_WSP;
        }
        if b == b' ' || b == b'\t' {
            v |= QDTEXT_WSP;
        }
        if v & TOKEN != 0 || matches!(b, b'[' | b']' | b':') {
            v |= GEN_VALUE;
        }
        t[c] = v;
        c += 1;
    }
    t
}

/// The class table, indexed by byte.
pub(crate) static CLASS: [u16; 256] = build();

/// Whether `b` belongs to `class`.
#[inline(always)]
pub(crate) fn is(b: u8, class: u16) -> bool {
    CLASS[b as usize] & class != 0
}

/// The value of a hex digit.
#[inline]
pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Scan bytes of `class` or `%HH` escapes from `start`; returns the index of the first byte that is neither.
/// A `%` not followed by two hex digits is an error at the `%`.
#[inline]
pub(crate) fn scan_escaped(
    b: &[u8],
    start: usize,
    class: u16,
    expected: &'static str,
) -> Result<usize, ParseError> {
    let mut i = start;
    while let Some(&c) = b.get(i) {
        if is(c, class) {
            i += 1;
        } else if c == b'%' {
            let ok = matches!(
                (b.get(i + 1), b.get(i + 2)),
                (Some(&h), Some(&l)) if is(h, HEX) && is(l, HEX)
            );
            if !ok {
                return Err(ParseError::syntax(i, expected));
            }
            i += 3;
        } else {
            break;
        }
    }
    Ok(i)
}

/// Scan bytes of `class` from `start`; returns the index of the first byte outside it.
#[inline]
pub(crate) fn scan(b: &[u8], start: usize, class: u16) -> usize {
    let mut i = start;
    while let Some(&c) = b.get(i) {
        if !is(c, class) {
            break;
        }
        i += 1;
    }
    i
}

/// Skip linear white space (SP, HTAB, and obsolete line folding CRLF followed by SP/HTAB) from `i`.
#[inline]
pub(crate) fn skip_lws(b: &[u8], mut i: usize) -> usize {
    loop {
        match b.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(b'\r')
                if b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ' | b'\t')) =>
            {
                i += 3
            }
            Some(b'\n') if matches!(b.get(i + 1), Some(b' ' | b'\t')) => i += 2,
            _ => return i,
        }
    }
}

/// `SWS c SWS` at `i` (e.g. `SLASH`, `COLON`, `EQUAL`): returns the index after the trailing white space.
#[inline]
pub(crate) fn separator(
    b: &[u8],
    i: usize,
    c: u8,
    expected: &'static str,
) -> Result<usize, ParseError> {
    let j = skip_lws(b, i);
    if b.get(j) != Some(&c) {
        return Err(ParseError::syntax(j, expected));
    }
    Ok(skip_lws(b, j + 1))
}

/// Only white space may follow `i`.
#[inline]
pub(crate) fn end(b: &[u8], i: usize, expected: &'static str) -> Result<(), ParseError> {
    let j = skip_lws(b, i);
    if j != b.len() {
        return Err(ParseError::syntax(j, expected));
    }
    Ok(())
}

/// Parse a delta-seconds value (`1*DIGIT`, leading zeros allowed) at `start`.
///
/// Overflow rule: RFC 3261 bounds Expires-style values to 0..=2^32-1, and RFC 4475 §3.1.2.4 lets an element
/// either reject larger values or treat them as malformed; the parser reports them as
/// [`ParseErrorKind::OutOfRange`] so the caller decides (a registrar may apply RFC 3261's "malformed values
/// SHOULD be treated as 3600", a UAS may answer 400). The value is never silently wrapped or clamped.
#[inline]
pub(crate) fn delta_seconds(b: &[u8], start: usize) -> Result<(u32, usize), ParseError> {
    let (v, e) = digits(b, start, "delta-seconds")?;
    let v = u32::try_from(v).map_err(|_| out_of_range(start, "delta-seconds 0..=4294967295"))?;
    Ok((v, e))
}

/// Append `raw` with CR and LF removed: obsolete line folding (CRLF followed by SP/HTAB) becomes the SP/HTAB
/// alone, so a value received folded is written on one line.
pub(crate) fn write_unfolded(out: &mut Vec<u8>, raw: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', raw).is_none() {
        out.extend_from_slice(raw);
        return;
    }
    out.extend(unfolded(raw));
}

/// The bytes of `raw` without CR and LF (what [`write_unfolded`] writes).
pub(crate) fn unfolded(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    raw.iter().copied().filter(|c| *c != b'\r' && *c != b'\n')
}

/// Equality of two values as written unfolded.
pub(crate) fn eq_unfolded(a: &[u8], b: &[u8]) -> bool {
    a == b || unfolded(a).eq(unfolded(b))
}

/// Where `inner` (a sub-slice of `outer`) starts in `outer`; 0 if it is not a sub-slice. Used to report offsets
/// for values found through lazily-scanned parameter lists.
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    if i >= o && i + inner.len() <= o + outer.len() {
        i - o
    } else {
        0
    }
}

/// An [`ParseErrorKind::OutOfRange`] error.
pub(crate) fn out_of_range(offset: usize, expected: &'static str) -> ParseError {
    ParseError {
        offset,
        kind: ParseErrorKind::OutOfRange,
        expected,
    }
}

/// Scan a `token` from `start`; error if it is empty.
#[inline]
pub(crate) fn token(b: &[u8], start: usize, expected: &'static str) -> Result<usize, ParseError> {
    let end = scan(b, start, TOKEN);
    if end == start {
        return Err(ParseError::syntax(start, expected));
    }
    Ok(end)
}

/// Scan a quoted-string whose opening `"` is at `start`; returns the index after the closing `"`.
/// Quoted-pairs (`\` followed by any byte 0x00-0x09, 0x0B-0x0C, 0x0E-0x7F) are allowed inside.
pub(crate) fn quoted_string(b: &[u8], start: usize) -> Result<usize, ParseError> {
    if b.get(start) != Some(&b'"') {
        return Err(ParseError::syntax(start, "quoted-string"));
    }
    let mut i = start + 1;
    loop {
        // Display names and parameter values are mostly plain text: skip it in bulk.
        i = scan(b, i, QDTEXT_WSP);
        match b.get(i) {
            None => return Err(ParseError::syntax(i, "closing quote")),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => i += 2,
                _ => return Err(ParseError::syntax(i + 1, "quoted-pair")),
            },
            Some(_) => {
                let j = skip_lws(b, i);
                if j == i {
                    return Err(ParseError::syntax(i, "qdtext"));
                }
                i = j;
            }
        }
    }
}

/// Deepest nesting of comments accepted (`(a (b (c)))`).
const MAX_COMMENT_DEPTH: usize = 16;

/// Scan a `comment` (RFC 3261: `"(" *( ctext / quoted-pair / comment ) ")"`) whose `(` is at `start`;
/// returns the index after the closing `)`.
pub(crate) fn comment(b: &[u8], start: usize) -> Result<usize, ParseError> {
    if b.get(start) != Some(&b'(') {
        return Err(ParseError::syntax(start, "comment"));
    }
    let mut depth = 0usize;
    let mut i = start;
    loop {
        match b.get(i) {
            None => return Err(ParseError::syntax(i, "\")\" closing the comment")),
            Some(b'(') => {
                depth += 1;
                if depth > MAX_COMMENT_DEPTH {
                    return Err(ParseError::syntax(i, "comment nested at most 16 deep"));
                }
                i += 1;
            }
            Some(b')') => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            Some(b'\\') => match b.get(i + 1) {
                Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => i += 2,
                _ => return Err(ParseError::syntax(i + 1, "quoted-pair")),
            },
            // ctext = %x21-27 / %x2A-5B / %x5D-7E / UTF8-NONASCII / LWS
            Some(&c) if (0x21..=0x7e).contains(&c) || c >= 0x80 => i += 1,
            Some(_) => {
                let j = skip_lws(b, i);
                if j == i {
                    return Err(ParseError::syntax(i, "ctext"));
                }
                i = j;
            }
        }
    }
}

/// Parse a run of decimal digits at `start` as a u64, saturating at `u64::MAX`; returns the value and the end.
/// Error if there is no digit.
#[inline]
pub(crate) fn digits(
    b: &[u8],
    start: usize,
    expected: &'static str,
) -> Result<(u64, usize), ParseError> {
    let mut i = start;
    let mut v: u64 = 0;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add(u64::from(c - b'0'));
        i += 1;
    }
    if i == start {
        return Err(ParseError::syntax(start, expected));
    }
    Ok((v, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lws_includes_folded_lines_but_not_bare_crlf() {
        assert_eq!(skip_lws(b" \t\r\n  x", 0), 6);
        assert_eq!(skip_lws(b"\r\nx", 0), 0);
        assert_eq!(skip_lws(b" \r\nx", 0), 1);
    }

    #[test]
    fn quoted_string_accepts_quoted_pairs_and_rejects_unterminated() {
        assert_eq!(quoted_string(br#""a \" b" x"#, 0), Ok(8));
        assert_eq!(quoted_string(br#""a\\""#, 0), Ok(5));
        assert_eq!(quoted_string(br#""abc"#, 0).map_err(|e| e.offset), Err(4));
        assert_eq!(quoted_string(b"\"a\rb\"", 0).map_err(|e| e.offset), Err(2));
    }

    #[test]
    fn escapes_need_two_hex_digits() {
        assert_eq!(scan_escaped(b"a%41b", 0, USER, "user"), Ok(5));
        assert_eq!(
            scan_escaped(b"a%4", 0, USER, "user").map_err(|e| e.offset),
            Err(1)
        );
        assert_eq!(
            scan_escaped(b"a%ZZ", 0, USER, "user").map_err(|e| e.offset),
            Err(1)
        );
    }

    #[test]
    fn comments_nest_and_must_close() {
        assert_eq!(comment(b"(a (b) \\) c) x", 0), Ok(12));
        assert_eq!(comment(b"(a (b)", 0).map_err(|e| e.offset), Err(6));
    }

    #[test]
    fn delta_seconds_above_u32_are_out_of_range() {
        assert_eq!(delta_seconds(b"4294967295", 0), Ok((u32::MAX, 10)));
        let e = delta_seconds(b"4294967296", 0).unwrap_err();
        assert_eq!((e.offset, e.kind), (0, ParseErrorKind::OutOfRange));
    }

    #[test]
    fn digits_saturate_instead_of_overflowing() {
        assert_eq!(
            digits(b"99999999999999999999999", 0, "n").map(|d| d.0),
            Ok(u64::MAX)
        );
        assert_eq!(digits(b"x", 0, "n").map_err(|e| e.offset), Err(0));
    }
}
