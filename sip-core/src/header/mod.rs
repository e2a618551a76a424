//! Header fields: names, and typed views of their values parsed on demand.
//!
//! A [`crate::Message`] keeps every header field as received (name and raw value, in order). Typed views are
//! parsed only when asked for, through [`TypedHeader`].

mod auth;
mod call_id;
mod content_type;
mod cseq;
mod date;
mod event;
mod name;
mod name_addr;
mod numeric;
mod product;
mod reason;
mod retry_after;
mod token_list;
mod via;
mod warning;

pub use auth::{
    AuthParam, AuthParamIter, AuthParams, Authorization, Challenge, Credentials, ProxyAuthenticate,
    ProxyAuthorization, WwwAuthenticate,
};
pub use call_id::CallId;
pub use content_type::{Accept, ContentType, MediaType};
pub use cseq::{CSeq, MAX_CSEQ};
pub use date::Date;
pub use event::{Event, SubState, SubscriptionState};
pub use name::HeaderName;
pub use name_addr::{
    Contact, FromHeader, NameAddr, Path, QValue, RecordRoute, ReferTo, ReferredBy, Route, ToHeader,
};
pub use numeric::{ContentLength, Expires, MaxForwards, MinExpires};
pub use product::{Server, UserAgent};
pub use reason::Reason;
pub use retry_after::RetryAfter;
pub use token_list::{Allow, ProxyRequire, Require, Supported, Unsupported};
pub use via::{BRANCH_MAGIC_COOKIE, Rport, Transport, Via};
pub use warning::Warning;

use crate::error::ParseError;
use bytes::Bytes;

/// A typed view of a header field value.
///
/// For list headers (`LIST == true`, RFC 3261 §7.3.1: Via, Contact, Route, Record-Route, Allow, Supported, …)
/// `parse` takes **one** element of the comma-separated list; the message layer splits the list. For other
/// headers `parse` takes the whole value. The value handed in has had leading and trailing whitespace removed
/// but may still contain linear white space, including obsolete line folding (CRLF followed by SP/HTAB), which
/// parsers must treat as whitespace.
pub trait TypedHeader: Sized {
    /// The header field this type describes.
    const NAME: HeaderName;
    /// Whether the header value is a comma-separated list of elements.
    const LIST: bool;

    /// Parse one value (or one list element); offsets in the error count from the start of `value`.
    fn parse(value: &Bytes) -> Result<Self, ParseError>;

    /// Append the value's wire form (without the header name and colon) to `out`.
    fn write_to(&self, out: &mut Vec<u8>);
}

/// `Display` through `write_to` for typed values (header values are ASCII or UTF-8 as received; anything else is
/// shown lossily).
macro_rules! display_from_write_to {
    ($($ty:ty),* $(,)?) => {
        $(
            impl std::fmt::Display for $ty {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    // Room for the usual value at once, rather than growing through 8, 16, 32 and 64 bytes.
                    let mut out = Vec::with_capacity(64);
                    self.write_to(&mut out);
                    f.write_str(&String::from_utf8_lossy(&out))
                }
            }
        )*
    };
}

display_from_write_to!(Via, NameAddr, MediaType);

/// Helpers shared by the typed header tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::TypedHeader;
    use crate::error::ParseError;
    use bytes::Bytes;
    use std::fmt::Debug;

    /// Parse `text` as `T`.
    pub(crate) fn parse<T: TypedHeader>(text: &str) -> Result<T, ParseError> {
        T::parse(&Bytes::copy_from_slice(text.as_bytes()))
    }

    /// The wire form of `h`.
    pub(crate) fn written<T: TypedHeader>(h: &T) -> String {
        let mut out = Vec::new();
        h.write_to(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Parse `text`, write it, parse the result again and check both parses are equal; returns the value.
    pub(crate) fn round_trip<T: TypedHeader + PartialEq + Debug>(text: &str) -> T {
        let first: T = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let again: T =
            parse(&written(&first)).unwrap_or_else(|e| panic!("{:?}: {e}", written(&first)));
        assert_eq!(first, again, "round trip of {text:?}");
        first
    }

    /// Whether parsing the wire form of `h` gives `h` back, and the wire form is on one line.
    pub(crate) fn writes_on_one_line<T: TypedHeader + PartialEq + Debug>(h: &T) -> bool {
        let text = written(h);
        !text.contains(['\r', '\n']) && parse::<T>(&text).as_ref() == Ok(h)
    }

    /// The offset of the error parsing `text` as `T`.
    pub(crate) fn err_at<T: TypedHeader + Debug>(text: &str) -> usize {
        parse::<T>(text).unwrap_err().offset
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{parse, writes_on_one_line};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folded_values_are_written_unfolded() {
        let f: FromHeader = parse("\"A\r\n B\" <sip:a@example.com>;x=\"p\r\n q\";tag=1").unwrap();
        assert!(writes_on_one_line(&f));
        let f: FromHeader = parse("tok1\r\n tok2 <sip:a@example.com>").unwrap();
        assert!(writes_on_one_line(&f));
        let u: UserAgent = parse("Foo/1\r\n (bar\r\n baz)").unwrap();
        assert!(writes_on_one_line(&u));
        let a: Authorization = parse("Digest realm=\"r\",\r\n nonce=\"n\r\n n\"").unwrap();
        assert!(writes_on_one_line(&a));
        let r: RetryAfter = parse("5 (a\r\n b)").unwrap();
        assert!(writes_on_one_line(&r));
        let v: Via = parse("SIP/2.0/UDP\r\n host\r\n ;branch=\"x\r\n y\"").unwrap();
        assert!(writes_on_one_line(&v));
    }

    fn all_parsers(value: &Bytes) {
        let _ = Via::parse(value);
        let _ = <FromHeader as TypedHeader>::parse(value);
        let _ = <Contact as TypedHeader>::parse(value);
        let _ = <CSeq as TypedHeader>::parse(value);
        let _ = <CallId as TypedHeader>::parse(value);
        let _ = <MaxForwards as TypedHeader>::parse(value);
        let _ = <ContentType as TypedHeader>::parse(value);
        let _ = <Authorization as TypedHeader>::parse(value);
        let _ = <WwwAuthenticate as TypedHeader>::parse(value);
        let _ = <Supported as TypedHeader>::parse(value);
        let _ = <Allow as TypedHeader>::parse(value);
        let _ = <UserAgent as TypedHeader>::parse(value);
        let _ = <Event as TypedHeader>::parse(value);
        let _ = <SubscriptionState as TypedHeader>::parse(value);
        let _ = <Reason as TypedHeader>::parse(value);
        let _ = <RetryAfter as TypedHeader>::parse(value);
        let _ = <Date as TypedHeader>::parse(value);
        let _ = <Expires as TypedHeader>::parse(value);
        let _ = <Warning as TypedHeader>::parse(value);
    }

    proptest! {
        #[test]
        fn no_parser_panics_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..96)) {
            all_parsers(&Bytes::from(input));
        }

        #[test]
        fn no_parser_panics_on_sip_like_text(input in "[ -~\r\n\t]{0,96}") {
            all_parsers(&Bytes::from(input));
        }

        #[test]
        fn errors_point_inside_the_value(input in "[a-zA-Z0-9 ;=:/<>@\"\\,.()%\r\n-]{0,64}") {
            let value = Bytes::from(input);
            for e in [
                Via::parse(&value).err(),
                NameAddr::parse(&value).err(),
                <Authorization as TypedHeader>::parse(&value).err(),
                <CSeq as TypedHeader>::parse(&value).err(),
            ].into_iter().flatten() {
                prop_assert!(e.offset <= value.len());
            }
        }
    }
}
