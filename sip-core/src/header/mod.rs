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

    /// The offset of the error parsing `text` as `T`.
    pub(crate) fn err_at<T: TypedHeader + Debug>(text: &str) -> usize {
        parse::<T>(text).unwrap_err().offset
    }
}
