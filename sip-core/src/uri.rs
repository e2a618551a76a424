//! SIP, SIPS and TEL URIs (RFC 3261 §19, RFC 3966) and other absolute URIs kept verbatim.

use crate::error::ParseError;
use bytes::Bytes;

/// A URI as found in a Request-URI or a name-addr. (Placeholder: being implemented.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// Any URI, kept verbatim.
    Other(Bytes),
}

impl Uri {
    /// Parse a URI.
    pub fn parse(input: &Bytes) -> Result<Uri, ParseError> {
        Ok(Uri::Other(input.clone()))
    }

    /// Append the URI's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Uri::Other(b) => out.extend_from_slice(b),
        }
    }
}
