//! Header fields whose value is one number: Max-Forwards, Content-Length, Expires, Min-Expires.
//!
//! All accept leading zeros (`0068`). Values beyond the field's range are
//! [`crate::ParseErrorKind::OutOfRange`], never wrapped or clamped: Max-Forwards above 255, Content-Length
//! above 2^32-1, and Expires / Min-Expires above 2^32-1 (RFC 4475 §3.1.2.4 lets an element reject those or
//! treat them as malformed; a registrar that prefers RFC 3261's "treat malformed as 3600" can do so on the
//! error).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use bytes::Bytes;
use std::io::Write;

fn parse_number(value: &Bytes, max: u64, expected: &'static str) -> Result<u64, ParseError> {
    let b = &value[..];
    let start = grammar::skip_lws(b, 0);
    let (v, end) = grammar::digits(b, start, expected)?;
    if v > max {
        return Err(grammar::out_of_range(start, expected));
    }
    grammar::end(b, end, "end of number")?;
    Ok(v)
}

macro_rules! numeric_header {
    ($(#[$doc:meta])* $ty:ident($int:ty), $name:ident, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(pub $int);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = false;

            fn parse(value: &Bytes) -> Result<Self, ParseError> {
                let v = parse_number(value, u64::from(<$int>::MAX), $expected)?;
                // `parse_number` bounded the value by the type's maximum.
                Ok($ty(<$int>::try_from(v).unwrap_or(<$int>::MAX)))
            }

            fn write_to(&self, out: &mut Vec<u8>) {
                // Writing into a Vec cannot fail.
                let _ = write!(out, "{}", self.0);
            }
        }
    };
}

numeric_header!(
    /// `Max-Forwards` (RFC 3261 §20.22): 0..=255 hops.
    MaxForwards(u8), MaxForwards, "Max-Forwards 0..=255"
);
numeric_header!(
    /// `Content-Length` (RFC 3261 §20.14): body size in bytes, 0..=2^32-1.
    ContentLength(u32), ContentLength, "Content-Length 0..=4294967295"
);
numeric_header!(
    /// `Expires` (RFC 3261 §20.19): delta-seconds 0..=2^32-1.
    Expires(u32), Expires, "delta-seconds 0..=4294967295"
);
numeric_header!(
    /// `Min-Expires` (RFC 3261 §20.23): delta-seconds 0..=2^32-1.
    MinExpires(u32), MinExpires, "delta-seconds 0..=4294967295"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::header::test_support::{err_at, parse, round_trip, written};

    #[test]
    fn leading_zeros_are_accepted() {
        // RFC 4475 wsinv.
        assert_eq!(round_trip::<MaxForwards>("0068"), MaxForwards(68));
        assert_eq!(written(&MaxForwards(68)), "68");
        assert_eq!(round_trip::<ContentLength>(" 150 "), ContentLength(150));
        assert_eq!(round_trip::<Expires>("0"), Expires(0));
        assert_eq!(round_trip::<MinExpires>("3600"), MinExpires(3600));
    }

    #[test]
    fn values_beyond_the_range_are_out_of_range() {
        // RFC 4475 scalar02.
        let e = parse::<MaxForwards>("300").unwrap_err();
        assert_eq!((e.offset, e.kind), (0, ParseErrorKind::OutOfRange));
        assert_eq!(parse::<MaxForwards>("255"), Ok(MaxForwards(255)));
        let e = parse::<Expires>("10000000000000000000000").unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::OutOfRange);
        assert_eq!(parse::<Expires>("4294967295"), Ok(Expires(u32::MAX)));
        let e = parse::<ContentLength>("4294967296").unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::OutOfRange);
    }

    #[test]
    fn rejects_signs_and_trailing_garbage() {
        // RFC 4475 ncl.
        assert_eq!(err_at::<ContentLength>("-999"), 0);
        assert_eq!(err_at::<Expires>("60 s"), 3);
        assert_eq!(err_at::<MaxForwards>(""), 0);
        assert_eq!(err_at::<MinExpires>("1.5"), 1);
    }
}
