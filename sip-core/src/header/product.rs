//! `User-Agent` and `Server` (RFC 3261 §20.41, §20.35): products and comments, validated and kept raw.

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use bytes::Bytes;

/// Check `server-val *( LWS server-val )` with `server-val = product / comment` and
/// `product = token [ SLASH product-version ]`; returns the trimmed value.
fn parse_products(value: &Bytes) -> Result<Bytes, ParseError> {
    let b = &value[..];
    let start = grammar::skip_lws(b, 0);
    let mut i = start;
    loop {
        let end = if b.get(i) == Some(&b'(') {
            grammar::comment(b, i)?
        } else {
            let pe = grammar::token(b, i, "product or comment")?;
            let slash = grammar::skip_lws(b, pe);
            if b.get(slash) == Some(&b'/') {
                let vs = grammar::skip_lws(b, slash + 1);
                grammar::token(b, vs, "product-version")?
            } else {
                pe
            }
        };
        let next = grammar::skip_lws(b, end);
        if next == b.len() {
            return Ok(value.slice(start..end));
        }
        // Comments may directly follow a product without white space in practice ("foo/1.0(bar)").
        if next == end && b.get(next) != Some(&b'(') {
            return Err(ParseError::syntax(next, "white space between products"));
        }
        i = next;
    }
}

macro_rules! product_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        ///
        /// Equality ignores line folding.
        #[derive(Debug, Clone, Eq)]
        pub struct $ty(pub Bytes);

        impl PartialEq for $ty {
            fn eq(&self, other: &$ty) -> bool {
                grammar::eq_unfolded(&self.0, &other.0)
            }
        }

        impl std::hash::Hash for $ty {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                grammar::unfolded(&self.0).for_each(|c| state.write_u8(c));
            }
        }

        impl $ty {
            /// The value as received (products and comments).
            pub fn as_bytes(&self) -> &Bytes {
                &self.0
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = false;

            fn parse(value: &Bytes) -> Result<Self, ParseError> {
                parse_products(value).map($ty)
            }

            fn write_to(&self, out: &mut Vec<u8>) {
                grammar::write_unfolded(out, &self.0);
            }
        }
    };
}

product_header!(
    /// The `User-Agent` header field.
    UserAgent, UserAgent
);
product_header!(
    /// The `Server` header field.
    Server, Server
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::test_support::{err_at, round_trip};

    #[test]
    fn accepts_products_and_nested_comments() {
        let u: UserAgent = round_trip("Softphone Beta1.5");
        assert_eq!(u.as_bytes().as_ref(), b"Softphone Beta1.5");
        let s: Server = round_trip(" HomeServer/2.0 (Linux; x86_64 (custom \\) build)) extra/1 ");
        assert_eq!(
            s.as_bytes().as_ref(),
            b"HomeServer/2.0 (Linux; x86_64 (custom \\) build)) extra/1"
        );
        round_trip::<UserAgent>("foo / 1.0(bar)");
    }

    #[test]
    fn rejects_broken_products() {
        assert_eq!(err_at::<UserAgent>("foo/"), 4);
        assert_eq!(err_at::<UserAgent>("foo (bar"), 8);
        assert_eq!(err_at::<Server>("a,b"), 1);
        assert_eq!(err_at::<Server>(""), 0);
    }
}
