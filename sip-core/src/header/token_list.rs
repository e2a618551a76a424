//! List headers whose elements are single tokens: option tags (Supported, Require, Proxy-Require,
//! Unsupported; RFC 3261 §19.2) and methods (Allow).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use crate::method::Method;
use bytes::Bytes;

/// Parse one token element, surrounded by optional white space.
fn single_token(value: &Bytes, expected: &'static str) -> Result<Bytes, ParseError> {
    let b = &value[..];
    let start = grammar::skip_lws(b, 0);
    let end = grammar::token(b, start, expected)?;
    grammar::end(b, end, "end of list element")?;
    Ok(value.slice(start..end))
}

macro_rules! option_tag_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub Bytes);

        impl $ty {
            /// The option tag as received.
            pub fn tag(&self) -> &Bytes {
                &self.0
            }

            /// Whether this is option tag `tag` (option tags compare case-sensitively, RFC 3261 §19.2).
            pub fn is(&self, tag: &str) -> bool {
                self.0 == tag.as_bytes()
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = true;

            fn parse(value: &Bytes) -> Result<Self, ParseError> {
                single_token(value, "option-tag").map($ty)
            }

            fn write_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0);
            }
        }
    };
}

option_tag_header!(
    /// One option tag of `Supported` (RFC 3261 §20.37).
    Supported, Supported
);
option_tag_header!(
    /// One option tag of `Require` (RFC 3261 §20.32).
    Require, Require
);
option_tag_header!(
    /// One option tag of `Proxy-Require` (RFC 3261 §20.29).
    ProxyRequire, ProxyRequire
);
option_tag_header!(
    /// One option tag of `Unsupported` (RFC 3261 §20.40).
    Unsupported, Unsupported
);

/// One method of `Allow` (RFC 3261 §20.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Allow(pub Method);

impl TypedHeader for Allow {
    const NAME: HeaderName = HeaderName::Allow;
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Allow, ParseError> {
        single_token(value, "method").map(|m| Allow(Method::from_bytes(m)))
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::test_support::{err_at, round_trip};

    #[test]
    fn parses_single_option_tags_and_methods() {
        assert!(round_trip::<Supported>(" 100rel ").is("100rel"));
        assert!(!round_trip::<Require>("Timer").is("timer"));
        // RFC 4475 bext01.
        assert!(round_trip::<ProxyRequire>("noProxiesSupportThis").is("noProxiesSupportThis"));
        assert!(round_trip::<Unsupported>("nothingSupportsThis").is("nothingSupportsThis"));
        assert_eq!(round_trip::<Allow>("INVITE"), Allow(Method::Invite));
        assert_eq!(round_trip::<Allow>("FOO").0.as_bytes(), b"FOO");
    }

    #[test]
    fn rejects_anything_but_one_token() {
        assert_eq!(err_at::<Supported>(""), 0);
        assert_eq!(err_at::<Supported>("a b"), 2);
        assert_eq!(err_at::<Allow>("INVITE,"), 6);
        assert_eq!(err_at::<Require>("\"x\""), 0);
    }
}
