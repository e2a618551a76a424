//! The `CSeq` header field (RFC 3261 §20.16).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use crate::method::Method;
use bytes::Bytes;
use std::io::Write;

/// Largest CSeq number: RFC 3261 §8.1.1.5 requires it to be less than 2^31.
pub const MAX_CSEQ: u32 = (1 << 31) - 1;

/// `CSeq: <number> <method>`; the number is 0..=2^31-1 (larger values are
/// [`crate::ParseErrorKind::OutOfRange`]), leading zeros allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number.
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl TypedHeader for CSeq {
    const NAME: HeaderName = HeaderName::CSeq;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<CSeq, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let (n, ne) = grammar::digits(b, start, "CSeq number")?;
        let seq = u32::try_from(n)
            .ok()
            .filter(|n| *n <= MAX_CSEQ)
            .ok_or(grammar::out_of_range(start, "CSeq number 0..=2147483647"))?;
        let ms = grammar::skip_lws(b, ne);
        if ms == ne {
            return Err(ParseError::syntax(ne, "white space after CSeq number"));
        }
        let me = grammar::token(b, ms, "method")?;
        grammar::end(b, me, "end of CSeq")?;
        Ok(CSeq {
            seq,
            method: Method::from_bytes(value.slice(ms..me)),
        })
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{} ", self.seq);
        out.extend_from_slice(self.method.as_bytes());
    }
}
