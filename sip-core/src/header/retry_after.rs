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
/// [`crate::ParseErrorKind::OutOfRange`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
            let at = (d.as_ptr() as usize).saturating_sub(b.as_ptr() as usize);
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
            out.extend_from_slice(c);
        }
        self.params.write_to(out);
    }
}
