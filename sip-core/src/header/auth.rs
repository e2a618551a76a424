//! Authentication header fields (RFC 3261 §20.7, §20.27, §20.28, §20.44, RFC 7616 / RFC 8760 digest):
//! `Authorization` / `Proxy-Authorization` carry [`Credentials`], `WWW-Authenticate` / `Proxy-Authenticate`
//! carry a [`Challenge`]. Both are a scheme followed by comma-separated `name=value` parameters (or a
//! token68 blob for schemes such as `Bearer`), kept raw and looked up lazily.

use crate::error::ParseError;
use crate::grammar::{self, TOKEN};
use crate::header::{HeaderName, TypedHeader};
use crate::params::{MAX_PARAMS, hash_unfolded, same_param, unquote, write_quoted};
use bytes::Bytes;
use std::borrow::Cow;

/// One `name=value` authentication parameter, borrowed from [`AuthParams`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// The name as received.
    pub name: &'a [u8],
    /// The value as received (a token, or a quoted string with its quotes).
    pub value: &'a [u8],
}

impl<'a> AuthParam<'a> {
    /// The value without quotes and quoted-pairs.
    pub fn decoded_value(&self) -> Cow<'a, [u8]> {
        unquote(self.value)
    }
}

/// The parameters of credentials or a challenge: `name=value, name="quoted"`, kept raw.
///
/// Equality compares the parameters one by one (byte for byte, in order), ignoring white space around the
/// separators.
#[derive(Debug, Clone, Default)]
pub struct AuthParams {
    raw: Bytes,
    token68: bool,
}

/// Iterator over [`AuthParams`].
#[derive(Debug, Clone)]
pub struct AuthParamIter<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for AuthParamIter<'a> {
    type Item = AuthParam<'a>;

    fn next(&mut self) -> Option<AuthParam<'a>> {
        let b = self.raw;
        let mut i = grammar::skip_lws(b, self.pos);
        if b.get(i) == Some(&b',') {
            i = grammar::skip_lws(b, i + 1);
        }
        let ne = grammar::scan(b, i, TOKEN);
        if ne == i {
            return None;
        }
        let vs = grammar::separator(b, ne, b'=', "=").ok()?;
        let ve = auth_value_end(b, vs).ok()?;
        self.pos = ve;
        Some(AuthParam {
            name: b.get(i..ne)?,
            value: b.get(vs..ve)?,
        })
    }
}

fn auth_value_end(b: &[u8], i: usize) -> Result<usize, ParseError> {
    if b.get(i) == Some(&b'"') {
        grammar::quoted_string(b, i)
    } else {
        grammar::token(b, i, "token or quoted-string")
    }
}

impl AuthParams {
    /// Iterate over the parameters (nothing for a token68 value).
    pub fn iter(&self) -> AuthParamIter<'_> {
        let raw: &[u8] = if self.token68 { b"" } else { &self.raw };
        AuthParamIter { raw, pos: 0 }
    }

    /// The first parameter called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<AuthParam<'_>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The value of `name` without quotes.
    pub fn value(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.get(name).map(|p| p.decoded_value())
    }

    /// The token68 blob (`Bearer abc.def==`), if the value has that form instead of parameters.
    pub fn token68(&self) -> Option<&Bytes> {
        self.token68.then_some(&self.raw)
    }

    /// The raw text after the scheme.
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// Append `name="value"` (quoted-pairs added as needed).
    pub fn push_quoted(&mut self, name: &str, value: &[u8]) {
        let mut out = self.start_push(name);
        write_quoted(&mut out, value);
        self.raw = Bytes::from(out);
    }

    /// Append `name=value` with an unquoted token value (`algorithm=MD5`, `nc=00000001`, `qop=auth`).
    pub fn push_token(&mut self, name: &str, value: &str) {
        let mut out = self.start_push(name);
        out.extend_from_slice(value.as_bytes());
        self.raw = Bytes::from(out);
    }

    fn start_push(&mut self, name: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() + name.len() + 32);
        if !self.token68 {
            out.extend_from_slice(&self.raw);
        }
        self.token68 = false;
        if !out.is_empty() {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        if self.token68 || memchr::memchr2(b'\r', b'\n', &self.raw).is_none() {
            out.extend_from_slice(&self.raw);
            return;
        }
        for (n, p) in self.iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(p.name);
            out.push(b'=');
            grammar::write_unfolded(out, p.value);
        }
    }
}

impl PartialEq for AuthParams {
    fn eq(&self, other: &AuthParams) -> bool {
        if self.token68 != other.token68 {
            return false;
        }
        if self.token68 || self.raw == other.raw {
            return self.raw == other.raw;
        }
        let mut a = self.iter();
        let mut b = other.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if same_param(x.name, Some(x.value), y.name, Some(y.value)) => {}
                _ => return false,
            }
        }
    }
}

impl Eq for AuthParams {}

impl std::hash::Hash for AuthParams {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.token68.hash(state);
        if self.token68 {
            self.raw.hash(state);
            return;
        }
        for p in self.iter() {
            p.name.hash(state);
            hash_unfolded(Some(p.value), state);
        }
    }
}

/// Parse `auth-scheme [ LWS ( auth-param *( COMMA auth-param ) / token68 ) ]`.
fn parse_scheme_and_params(value: &Bytes) -> Result<(Bytes, AuthParams), ParseError> {
    let b = &value[..];
    let ss = grammar::skip_lws(b, 0);
    let se = grammar::token(b, ss, "auth-scheme")?;
    let ps = grammar::skip_lws(b, se);
    if ps == b.len() {
        return Ok((value.slice(ss..se), AuthParams::default()));
    }
    if ps == se {
        return Err(ParseError::syntax(se, "white space after auth-scheme"));
    }
    let scheme = value.slice(ss..se);
    match param_list_end(b, ps) {
        Ok(end) => Ok((
            scheme,
            AuthParams {
                raw: value.slice(ps..end),
                token68: false,
            },
        )),
        Err(e) => match token68_end(b, ps) {
            Some(end) => Ok((
                scheme,
                AuthParams {
                    raw: value.slice(ps..end),
                    token68: true,
                },
            )),
            None => Err(e),
        },
    }
}

/// Validate `auth-param *( COMMA auth-param )` from `start`; returns the end (trailing white space excluded).
fn param_list_end(b: &[u8], start: usize) -> Result<usize, ParseError> {
    let mut i = start;
    let mut count = 0;
    loop {
        count += 1;
        if count > MAX_PARAMS {
            return Err(ParseError::syntax(i, "at most 128 auth-params"));
        }
        let ne = grammar::token(b, i, "auth-param name")?;
        let vs = grammar::separator(b, ne, b'=', "\"=\"")?;
        let ve = auth_value_end(b, vs)?;
        let next = grammar::skip_lws(b, ve);
        match b.get(next) {
            None => return Ok(ve),
            Some(b',') => i = grammar::skip_lws(b, next + 1),
            Some(_) => return Err(ParseError::syntax(next, "\",\" or end of auth-params")),
        }
    }
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` filling the rest of the value.
fn token68_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while b.get(i).is_some_and(|c| {
        c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
    }) {
        i += 1;
    }
    if i == start {
        return None;
    }
    while b.get(i) == Some(&b'=') {
        i += 1;
    }
    (grammar::skip_lws(b, i) == b.len()).then_some(i)
}

macro_rules! auth_value {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty {
            scheme: Bytes,
            params: AuthParams,
        }

        impl $ty {
            /// An empty value for `scheme` (e.g. `"Digest"`); add parameters with [`AuthParams::push_quoted`] /
            /// [`AuthParams::push_token`] through `params_mut`.
            pub fn new(scheme: &'static str) -> $ty {
                $ty {
                    scheme: Bytes::from_static(scheme.as_bytes()),
                    params: AuthParams::default(),
                }
            }

            /// The scheme as received (`Digest`).
            pub fn scheme(&self) -> &Bytes {
                &self.scheme
            }

            /// Whether the scheme is `Digest` (case-insensitive).
            pub fn is_digest(&self) -> bool {
                self.scheme.eq_ignore_ascii_case(b"Digest")
            }

            /// The parameters.
            pub fn params(&self) -> &AuthParams {
                &self.params
            }

            /// The parameters, for modification.
            pub fn params_mut(&mut self) -> &mut AuthParams {
                &mut self.params
            }

            /// The `realm` parameter, unquoted.
            pub fn realm(&self) -> Option<Cow<'_, [u8]>> {
                self.params.value("realm")
            }

            /// The `nonce` parameter, unquoted.
            pub fn nonce(&self) -> Option<Cow<'_, [u8]>> {
                self.params.value("nonce")
            }

            /// The `opaque` parameter, unquoted.
            pub fn opaque(&self) -> Option<Cow<'_, [u8]>> {
                self.params.value("opaque")
            }

            /// The `algorithm` parameter (`MD5`, `SHA-256`, `MD5-sess`, …), unquoted.
            pub fn algorithm(&self) -> Option<Cow<'_, [u8]>> {
                self.params.value("algorithm")
            }

            fn parse_value(value: &Bytes) -> Result<$ty, ParseError> {
                let (scheme, params) = parse_scheme_and_params(value)?;
                Ok($ty { scheme, params })
            }

            fn write_value(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.scheme);
                if !self.params.raw.is_empty() {
                    out.push(b' ');
                    self.params.write_to(out);
                }
            }
        }
    };
}

auth_value!(
    /// Credentials (`Digest username="alice", realm="…", nonce="…", uri="…", response="…"`).
    Credentials
);
auth_value!(
    /// A challenge (`Digest realm="…", nonce="…", qop="auth", algorithm=SHA-256`).
    Challenge
);

impl Credentials {
    /// The `username` parameter, unquoted.
    pub fn username(&self) -> Option<Cow<'_, [u8]>> {
        self.params.value("username")
    }

    /// The `uri` (digest-uri) parameter, unquoted.
    pub fn uri(&self) -> Option<Cow<'_, [u8]>> {
        self.params.value("uri")
    }

    /// The `response` parameter, unquoted.
    pub fn response(&self) -> Option<Cow<'_, [u8]>> {
        self.params.value("response")
    }

    /// The `cnonce` parameter, unquoted.
    pub fn cnonce(&self) -> Option<Cow<'_, [u8]>> {
        self.params.value("cnonce")
    }

    /// The `qop` parameter (`auth` / `auth-int`), unquoted.
    pub fn qop(&self) -> Option<Cow<'_, [u8]>> {
        self.params.value("qop")
    }

    /// The `nc` (nonce count, 8 hex digits) parameter; `None` if absent or not hex.
    pub fn nc(&self) -> Option<u32> {
        let raw = self.params.value("nc")?;
        if raw.is_empty() || raw.len() > 8 {
            return None;
        }
        raw.iter().try_fold(0u32, |acc, c| {
            Some(acc << 4 | u32::from(grammar::hex_val(*c)?))
        })
    }
}

impl Challenge {
    /// The `stale` parameter (`true` case-insensitively; absent is `false`).
    pub fn stale(&self) -> bool {
        self.params
            .value("stale")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"true"))
    }

    /// The `domain` parameter (space-separated URIs), unquoted.
    pub fn domain(&self) -> Option<Cow<'_, [u8]>> {
        self.params.value("domain")
    }

    /// The `qop` options offered (`qop="auth,auth-int"`), each trimmed.
    pub fn qop_options(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let raw = self.params.get("qop").map_or(&b""[..], |p| {
            p.value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(p.value)
        });
        raw.split(|c| *c == b',')
            .map(|s| s.trim_ascii())
            .filter(|s| !s.is_empty())
    }
}

macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident($inner:ident), $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub $inner);

        impl std::ops::Deref for $ty {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = false;

            fn parse(value: &Bytes) -> Result<Self, ParseError> {
                $inner::parse_value(value).map($ty)
            }

            fn write_to(&self, out: &mut Vec<u8>) {
                self.0.write_value(out)
            }
        }
    };
}

auth_header!(
    /// The `Authorization` header field.
    Authorization(Credentials), Authorization
);
auth_header!(
    /// The `Proxy-Authorization` header field.
    ProxyAuthorization(Credentials), ProxyAuthorization
);
auth_header!(
    /// The `WWW-Authenticate` header field.
    WwwAuthenticate(Challenge), WwwAuthenticate
);
auth_header!(
    /// The `Proxy-Authenticate` header field.
    ProxyAuthenticate(Challenge), ProxyAuthenticate
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::test_support::{err_at, parse, round_trip, written};

    #[test]
    fn parses_digest_credentials() {
        let a: Authorization = round_trip(
            "Digest username=\"alice\", realm=\"atlanta.com\",\r\n nonce=\"84a4cc6f3082121f32b42a2187831a9e\", uri=\"sip:bob@biloxi.com\", response=\"7587245234b3434cc3412213e5f113a5432\", algorithm=MD5, cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001",
        );
        assert!(a.is_digest());
        assert_eq!(a.username().unwrap().as_ref(), b"alice");
        assert_eq!(a.realm().unwrap().as_ref(), b"atlanta.com");
        assert_eq!(
            a.nonce().unwrap().as_ref(),
            b"84a4cc6f3082121f32b42a2187831a9e"
        );
        assert_eq!(a.uri().unwrap().as_ref(), b"sip:bob@biloxi.com");
        assert_eq!(
            a.response().unwrap().as_ref(),
            b"7587245234b3434cc3412213e5f113a5432"
        );
        assert_eq!(a.algorithm().unwrap().as_ref(), b"MD5");
        assert_eq!(a.cnonce().unwrap().as_ref(), b"0a4f113b");
        assert_eq!(
            a.opaque().unwrap().as_ref(),
            b"5ccc069c403ebaf9f0171e9517f40e41"
        );
        assert_eq!(a.qop().unwrap().as_ref(), b"auth");
        assert_eq!(a.nc(), Some(1));
        assert!(!written(&a).contains('\r'));
    }

    #[test]
    fn parses_digest_challenges() {
        let c: WwwAuthenticate = round_trip(
            "Digest realm=\"atlanta.com\", domain=\"sip:boxesbybob.com\", qop=\"auth, auth-int\", nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=TRUE, algorithm=SHA-256",
        );
        assert_eq!(c.realm().unwrap().as_ref(), b"atlanta.com");
        assert_eq!(c.domain().unwrap().as_ref(), b"sip:boxesbybob.com");
        assert_eq!(
            c.qop_options().collect::<Vec<_>>(),
            vec![&b"auth"[..], &b"auth-int"[..]]
        );
        assert_eq!(c.opaque().unwrap().as_ref(), b"");
        assert!(c.stale());
        assert_eq!(c.algorithm().unwrap().as_ref(), b"SHA-256");
        let p: ProxyAuthenticate = round_trip("Digest realm=\"x\", nonce=\"y\"");
        assert!(!p.stale());
    }

    #[test]
    fn keeps_unknown_schemes_and_token68() {
        // RFC 4475 regaut01.
        let a: Authorization = round_trip("NoOneKnowsThisScheme opaque-data=here");
        assert!(!a.is_digest());
        assert_eq!(a.params().value("opaque-data").unwrap().as_ref(), b"here");
        let a: ProxyAuthorization = round_trip("Bearer eyJhbGciOi.abc-def/x+y==");
        assert_eq!(
            a.params().token68().unwrap().as_ref(),
            b"eyJhbGciOi.abc-def/x+y=="
        );
        assert_eq!(a.params().iter().count(), 0);
    }

    #[test]
    fn rejects_malformed_auth_params() {
        assert_eq!(err_at::<Authorization>("Digest username=\"alice"), 22);
        assert_eq!(
            err_at::<Authorization>("Digest realm=\"a\" nonce=\"b\""),
            17
        );
        assert_eq!(
            err_at::<Authorization>("Digest realm=\"a\",, nonce=\"b\""),
            17
        );
        assert_eq!(err_at::<WwwAuthenticate>("Digest\"x\""), 6);
        assert_eq!(err_at::<WwwAuthenticate>(""), 0);
    }

    #[test]
    fn builds_credentials_that_parse_back() {
        let mut c = Credentials::new("Digest");
        c.params_mut()
            .push_quoted("username", b"bob \"the\" builder");
        c.params_mut().push_quoted("realm", b"biloxi.com");
        c.params_mut().push_token("nc", "0000000a");
        let h = Authorization(c);
        let text = written(&h);
        assert_eq!(
            text,
            "Digest username=\"bob \\\"the\\\" builder\", realm=\"biloxi.com\", nc=0000000a"
        );
        let back: Authorization = parse(&text).unwrap();
        assert_eq!(back.username().unwrap().as_ref(), b"bob \"the\" builder");
        assert_eq!(back.nc(), Some(10));
        assert_eq!(back, h);
    }
}
