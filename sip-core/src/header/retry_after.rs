//! The `Retry-After` header field (RFC 3261 §20.33).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use crate::params::Params;
use bytes::Bytes;
use std::io::Write;

/// `Retry-After: 120 (I'm in a meeting);duration=3600`.
///
/// The delay and `duration` follow the delta-seconds rule of [`crate::header::Expires`]: above 2^32-1 is
/// [`crate::ParseErrorKind::OutOfRange`]. Equality ignores line folding in the comment.
#[derive(Debug, Clone, Eq)]
pub struct RetryAfter {
    seconds: u32,
    comment: Option<Bytes>,
    params: Params,
}

impl RetryAfter {
    /// A Retry-After of `seconds` without comment or parameters.
    pub fn new(seconds: u32) -> RetryAfter {
        RetryAfter {
            seconds,
            comment: None,
            params: Params::new_header(),
        }
    }

    /// The delay in seconds.
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// The comment as received, with its parentheses.
    pub fn comment(&self) -> Option<&Bytes> {
        self.comment.as_ref()
    }

    /// The `duration` parameter in seconds.
    pub fn duration(&self) -> Option<u32> {
        let raw = self.params.value("duration")?;
        grammar::delta_seconds(raw, 0).ok().map(|(v, _)| v)
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl PartialEq for RetryAfter {
    fn eq(&self, other: &RetryAfter) -> bool {
        let comments = match (&self.comment, &other.comment) {
            (None, None) => true,
            (Some(a), Some(b)) => grammar::eq_unfolded(a, b),
            _ => false,
        };
        self.seconds == other.seconds && comments && self.params == other.params
    }
}

impl std::hash::Hash for RetryAfter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.seconds.hash(state);
        if let Some(c) = &self.comment {
            grammar::unfolded(c).for_each(|c| state.write_u8(c));
        }
        self.params.hash(state);
    }
}

impl TypedHeader for RetryAfter {
    const NAME: HeaderName = HeaderName::RetryAfter;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<RetryAfter, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let (seconds, mut i) = grammar::delta_seconds(b, start)?;
        let mut comment = None;
        let cs = grammar::skip_lws(b, i);
        if b.get(cs) == Some(&b'(') {
            let ce = grammar::comment(b, cs)?;
            comment = Some(value.slice(cs..ce));
            i = ce;
        }
        let (params, pe) = Params::parse_header(value, i)?;
        grammar::end(b, pe, "\";\" or end of Retry-After")?;
        if let Some(d) = params.value("duration") {
            let at = grammar::offset_in(b, d);
            let (_, de) = grammar::delta_seconds(d, 0).map_err(|e| e.shifted(at))?;
            if de != d.len() {
                return Err(ParseError::syntax(at + de, "delta-seconds"));
            }
        }
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", self.seconds);
        if let Some(c) = &self.comment {
            out.push(b' ');
            grammar::write_unfolded(out, c);
        }
        self.params.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::header::test_support::{err_at, parse, round_trip, written};

    #[test]
    fn parses_delay_comment_and_duration() {
        let r: RetryAfter = round_trip("18000;duration=3600");
        assert_eq!((r.seconds(), r.duration()), (18000, Some(3600)));
        let r: RetryAfter = round_trip("120 (I'm in a meeting)");
        assert_eq!(r.comment().unwrap().as_ref(), b"(I'm in a meeting)");
        assert_eq!(written(&RetryAfter::new(5)), "5");
    }

    #[test]
    fn huge_delays_are_out_of_range() {
        // RFC 4475 scalarlg.
        let e = parse::<RetryAfter>("949302838503028349304023988").unwrap_err();
        assert_eq!((e.offset, e.kind), (0, ParseErrorKind::OutOfRange));
        let e = parse::<RetryAfter>("1;duration=99999999999").unwrap_err();
        assert_eq!((e.offset, e.kind), (11, ParseErrorKind::OutOfRange));
    }

    #[test]
    fn rejects_malformed_values() {
        assert_eq!(err_at::<RetryAfter>("soon"), 0);
        assert_eq!(err_at::<RetryAfter>("5 (unclosed"), 11);
        assert_eq!(err_at::<RetryAfter>("5;duration=x"), 11);
    }
}
