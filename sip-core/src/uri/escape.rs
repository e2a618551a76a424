//! `%HH` escaping of URI components (RFC 3261 §19.1.2, §25.1).
//!
//! Unescaping is done exactly once: `%2541` decodes to `%41`, never to `A` (RFC 4475 §3.1.1.3).

use crate::grammar::{hex_val, is};
use std::borrow::Cow;

/// Iterator over the decoded bytes of an escaped component. A `%` that is not followed by two hex digits is
/// yielded literally (validated components never contain one).
#[derive(Clone)]
pub(crate) struct Unescaped<'a> {
    raw: &'a [u8],
}

impl<'a> Unescaped<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Unescaped { raw }
    }
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    #[inline]
    fn next(&mut self) -> Option<u8> {
        match self.raw {
            [b'%', h, l, rest @ ..] => match (hex_val(*h), hex_val(*l)) {
                (Some(h), Some(l)) => {
                    self.raw = rest;
                    Some(h << 4 | l)
                }
                _ => {
                    self.raw = &self.raw[1..];
                    Some(b'%')
                }
            },
            [c, rest @ ..] => {
                self.raw = rest;
                Some(*c)
            }
            [] => None,
        }
    }
}

/// Decode `%HH` escapes once; borrows when there is nothing to decode.
pub(crate) fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'%', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(Unescaped::new(raw).collect())
}

/// Compare two escaped components after decoding, optionally ignoring ASCII case; allocates nothing.
pub(crate) fn eq_unescaped(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    if a == b {
        return true;
    }
    if ignore_case && memchr::memchr(b'%', a).is_none() && memchr::memchr(b'%', b).is_none() {
        return a.eq_ignore_ascii_case(b);
    }
    let (x, y) = (Unescaped::new(a), Unescaped::new(b));
    if ignore_case {
        x.map(|c| c.to_ascii_lowercase())
            .eq(y.map(|c| c.to_ascii_lowercase()))
    } else {
        x.eq(y)
    }
}

/// Append `input` to `out`, escaping every byte outside `class` as `%HH` (upper-case hex).
pub(crate) fn escape_into(out: &mut Vec<u8>, input: &[u8], class: u16) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in input {
        if is(c, class) {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::USER;

    #[test]
    fn unescaping_is_not_recursive() {
        assert_eq!(&*unescape(b"value%25%34%31"), b"value%41");
        assert_eq!(&*unescape(b"null-%00-null"), b"null-\0-null");
    }

    #[test]
    fn escaped_and_plain_characters_compare_equal() {
        assert!(eq_unescaped(b"%75se%72", b"user", false));
        assert!(!eq_unescaped(b"%55ser", b"user", false));
        assert!(eq_unescaped(b"%55ser", b"user", true));
        assert!(!eq_unescaped(b"%00", b"%00%00", false));
    }

    #[test]
    fn escape_round_trips_through_unescape() {
        let mut out = Vec::new();
        escape_into(&mut out, b"a b@c", USER);
        assert_eq!(out, b"a%20b%40c");
        assert_eq!(&*unescape(&out), b"a b@c");
    }
}
