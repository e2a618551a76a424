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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::header::test_support::{err_at, parse, round_trip, written};
    use proptest::prelude::*;

    #[test]
    fn accepts_leading_zeros_and_folded_lws() {
        // RFC 4475 wsinv.
        let c: CSeq = round_trip("0009\r\n  INVITE");
        assert_eq!((c.seq, &c.method), (9, &Method::Invite));
        assert_eq!(written(&c), "9 INVITE");
    }

    #[test]
    fn keeps_extension_methods() {
        // RFC 4475 intmeth.
        let c: CSeq = round_trip("139122385 !interesting-Method0123456789_*+`.%indeed'~");
        assert_eq!(
            c.method.as_bytes(),
            b"!interesting-Method0123456789_*+`.%indeed'~"
        );
    }

    #[test]
    fn numbers_of_2_pow_31_or_more_are_out_of_range() {
        // RFC 4475 scalar02 / scalarlg.
        for text in [
            "36893488147419103232 REGISTER",
            "4294967296 INVITE",
            "2147483648 INVITE",
        ] {
            let e = parse::<CSeq>(text).unwrap_err();
            assert_eq!(
                (e.offset, e.kind),
                (0, ParseErrorKind::OutOfRange),
                "{text}"
            );
        }
        assert_eq!(parse::<CSeq>("2147483647 ACK").map(|c| c.seq), Ok(MAX_CSEQ));
    }

    #[test]
    fn rejects_malformed_cseq_with_offsets() {
        assert_eq!(err_at::<CSeq>("8INVITE"), 1);
        assert_eq!(err_at::<CSeq>("INVITE"), 0);
        assert_eq!(err_at::<CSeq>("8 "), 2);
        assert_eq!(err_at::<CSeq>("8 INVITE x"), 9);
        assert_eq!(err_at::<CSeq>("-1 INVITE"), 0);
    }

    proptest! {
        #[test]
        fn cseqs_round_trip(seq in 0..=MAX_CSEQ, method in "[A-Za-z!%*_+`'~.-]{1,12}") {
            let c: CSeq = parse(&format!("{seq} {method}")).unwrap();
            prop_assert_eq!(c.seq, seq);
            prop_assert_eq!(parse::<CSeq>(&written(&c)).unwrap(), c);
        }
    }
}
