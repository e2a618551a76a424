//! Header fields: names, and typed views of their values parsed on demand.
//!
//! A [`crate::Message`] keeps every header field as received (name and raw value, in order). Typed views are
//! parsed only when asked for, through [`TypedHeader`].

mod name;

pub use name::HeaderName;

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
