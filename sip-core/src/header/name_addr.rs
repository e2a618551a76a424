//! `name-addr` / `addr-spec` header values (RFC 3261 §20.10, §20.20, §20.39, …): From, To, Route, Record-Route,
//! Path, Refer-To and Referred-By share [`NameAddr`]; Contact adds the `*` wildcard.

use crate::error::ParseError;
use crate::grammar::{self, TOKEN};
use crate::header::{HeaderName, TypedHeader};
use crate::params::{Params, unquote, write_quoted};
use crate::uri::Uri;
use bytes::Bytes;
use std::borrow::Cow;

/// A URI with an optional display name and header parameters: `"Alice" <sip:a@example.com>;tag=1` or the
/// bare `addr-spec` form `sip:a@example.com;tag=1` (where the parameters belong to the header, never to the URI).
///
/// Equality is structural (same display name, URI and parameters as written, line folding ignored); for URI
/// equivalence use [`Uri::equivalent`].
#[derive(Debug, Clone)]
pub struct NameAddr {
    display_name: Option<Bytes>,
    uri: Uri,
    bracketed: bool,
    params: Params,
}

impl NameAddr {
    /// A name-addr for `uri` without display name or parameters (written with `<>`).
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display_name: None,
            uri,
            bracketed: true,
            params: Params::new_header(),
        }
    }

    /// The display name as received: a quoted string (with its quotes) or a run of tokens.
    pub fn display_name_raw(&self) -> Option<&Bytes> {
        self.display_name.as_ref()
    }

    /// The display name without quotes and quoted-pairs.
    pub fn display_name(&self) -> Option<Cow<'_, [u8]>> {
        self.display_name.as_deref().map(unquote)
    }

    /// The URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The URI, for modification.
    pub fn uri_mut(&mut self) -> &mut Uri {
        &mut self.uri
    }

    /// Whether the value was written in `name-addr` form (with `<>`).
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }

    /// The header parameters (after the URI).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The header parameters, for modification.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&[u8]> {
        self.params.value("tag")
    }

    /// Set the display name (written as a quoted string); `None` removes it.
    pub fn set_display_name(&mut self, name: Option<&str>) {
        self.display_name = name.map(|n| {
            let mut out = Vec::with_capacity(n.len() + 2);
            write_quoted(&mut out, n.as_bytes());
            Bytes::from(out)
        });
    }

    /// Builder form of [`NameAddr::set_display_name`].
    pub fn with_display_name(mut self, name: &str) -> NameAddr {
        self.set_display_name(Some(name));
        self
    }

    /// Builder: add (or replace) a header parameter.
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> NameAddr {
        self.params.set(name, value);
        self
    }

    /// Builder: set the `tag` parameter.
    pub fn with_tag(self, tag: &str) -> NameAddr {
        self.with_param("tag", Some(tag))
    }

    /// Parse `( name-addr / addr-spec ) *( SEMI generic-param )`; offsets count from the start of `value`.
    ///
    /// In `addr-spec` form the URI ends at the first `;` or white space, and a URI containing `?` or `,` is
    /// rejected: RFC 3261 §20 requires such URIs to be enclosed in `<>` (RFC 4475 §3.1.2.13).
    pub fn parse(value: &Bytes) -> Result<NameAddr, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let (display_name, lt) = match b.get(start) {
            Some(b'"') => {
                let end = grammar::quoted_string(b, start)?;
                let lt = grammar::skip_lws(b, end);
                if b.get(lt) != Some(&b'<') {
                    return Err(ParseError::syntax(lt, "\"<\" after display name"));
                }
                (Some(value.slice(start..end)), Some(lt))
            }
            Some(b'<') => (None, Some(start)),
            _ => match token_display_name(b, start)? {
                Some((end, lt)) => (Some(value.slice(start..end)), Some(lt)),
                None => (None, None),
            },
        };
        let (uri, bracketed, after) = match lt {
            Some(lt) => {
                let gt = memchr::memchr(b'>', b.get(lt..).unwrap_or_default())
                    .map(|g| lt + g)
                    .ok_or(ParseError::syntax(b.len(), "\">\""))?;
                (parse_uri_at(value, lt + 1, gt)?, true, gt + 1)
            }
            None => {
                let end = addr_spec_end(b, start)?;
                (parse_uri_at(value, start, end)?, false, end)
            }
        };
        let (params, end) = Params::parse_header(value, after)?;
        grammar::end(b, end, "\";\" or end of value")?;
        Ok(NameAddr {
            display_name,
            uri,
            bracketed,
            params,
        })
    }

    /// The header parameters of a `( name-addr / addr-spec ) *( SEMI generic-param )` value, found as
    /// [`NameAddr::parse`] finds them but without parsing the URI: `None` when the value is not shaped like
    /// one (a well-formed value gives the parameters `parse` would). For what only needs a tag.
    pub(crate) fn header_params(value: &Bytes) -> Option<Params> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let lt = match b.get(start) {
            Some(b'"') => {
                let end = grammar::quoted_string(b, start).ok()?;
                let lt = grammar::skip_lws(b, end);
                if b.get(lt) != Some(&b'<') {
                    return None;
                }
                Some(lt)
            }
            Some(b'<') => Some(start),
            _ => token_display_name(b, start).ok()?.map(|(_, lt)| lt),
        };
        let after = match lt {
            Some(lt) => lt + memchr::memchr(b'>', b.get(lt..)?)? + 1,
            None => addr_spec_end(b, start).ok()?,
        };
        let (params, end) = Params::parse_header(value, after).ok()?;
        grammar::end(b, end, "\";\" or end of value").ok()?;
        Some(params)
    }

    /// Append the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(d) = &self.display_name {
            grammar::write_unfolded(out, d);
            out.push(b' ');
        }
        let bracket = self.bracketed || self.display_name.is_some();
        if bracket {
            out.push(b'<');
        }
        self.uri.write_to(out);
        if bracket {
            out.push(b'>');
        }
        self.params.write_to(out);
    }
}

impl PartialEq for NameAddr {
    fn eq(&self, other: &NameAddr) -> bool {
        let names = match (&self.display_name, &other.display_name) {
            (None, None) => true,
            (Some(a), Some(b)) => grammar::eq_unfolded(a, b),
            _ => false,
        };
        names
            && self.uri == other.uri
            && self.params == other.params
            && (self.bracketed || self.display_name.is_some())
                == (other.bracketed || other.display_name.is_some())
    }
}

impl Eq for NameAddr {}

impl std::hash::Hash for NameAddr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if let Some(d) = &self.display_name {
            grammar::unfolded(d).for_each(|c| state.write_u8(c));
        }
        self.uri.hash(state);
        self.params.hash(state);
    }
}

/// A display name made of tokens separated by white space, followed by `<`: returns the end of the last token
/// and the index of `<`. `None` if the value does not have that shape (then it is an addr-spec).
fn token_display_name(b: &[u8], start: usize) -> Result<Option<(usize, usize)>, ParseError> {
    let mut i = start;
    loop {
        let end = grammar::scan(b, i, TOKEN);
        if end == i {
            return Ok(None);
        }
        let next = grammar::skip_lws(b, end);
        match b.get(next) {
            Some(b'<') => return Ok(Some((end, next))),
            // `Bell, Alexander <sip:…>`: a display name with a comma must be quoted (RFC 4475 §3.1.2.15).
            Some(b',') if next > start => {
                return Err(ParseError::syntax(next, "display name token"));
            }
            Some(&c) if next > end && grammar::is(c, TOKEN) => i = next,
            _ => return Ok(None),
        }
    }
}

/// The end of an addr-spec URI: the first `;`, white space or end of value. `?` and `,` are not allowed there.
fn addr_spec_end(b: &[u8], start: usize) -> Result<usize, ParseError> {
    let mut i = start;
    while let Some(&c) = b.get(i) {
        match c {
            b';' | b' ' | b'\t' | b'\r' | b'\n' => break,
            b'?' | b',' => {
                return Err(ParseError::syntax(
                    i,
                    "URI with \"?\" or \",\" enclosed in <>",
                ));
            }
            _ => i += 1,
        }
    }
    Ok(i)
}

fn parse_uri_at(value: &Bytes, start: usize, end: usize) -> Result<Uri, ParseError> {
    Uri::parse(&value.slice(start..end)).map_err(|e| e.shifted(start))
}

macro_rules! name_addr_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, $list:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub NameAddr);

        impl std::ops::Deref for $ty {
            type Target = NameAddr;
            fn deref(&self) -> &NameAddr {
                &self.0
            }
        }

        impl std::ops::DerefMut for $ty {
            fn deref_mut(&mut self) -> &mut NameAddr {
                &mut self.0
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = $list;

            fn parse(value: &Bytes) -> Result<Self, ParseError> {
                NameAddr::parse(value).map($ty)
            }

            fn write_to(&self, out: &mut Vec<u8>) {
                self.0.write_to(out)
            }
        }
    };
}

name_addr_header!(
    /// The `From` header field (RFC 3261 §20.20); the `tag` parameter identifies the dialog's local side.
    FromHeader, From, false
);
name_addr_header!(
    /// The `To` header field (RFC 3261 §20.39).
    ToHeader, To, false
);
name_addr_header!(
    /// One `Route` entry (RFC 3261 §20.34).
    Route, Route, true
);
name_addr_header!(
    /// One `Record-Route` entry (RFC 3261 §20.30).
    RecordRoute, RecordRoute, true
);
name_addr_header!(
    /// One `Path` entry (RFC 3327).
    Path, Path, true
);
name_addr_header!(
    /// The `Refer-To` header field (RFC 3515).
    ReferTo, ReferTo, false
);
name_addr_header!(
    /// The `Referred-By` header field (RFC 3892).
    ReferredBy, ReferredBy, false
);

/// A `q` value (RFC 3261 `qvalue`) in thousandths: 0..=1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QValue(u16);

impl QValue {
    /// The value in thousandths (1000 = 1.0).
    pub fn thousandths(self) -> u16 {
        self.0
    }

    /// A q value from thousandths; `None` above 1000.
    pub fn from_thousandths(v: u16) -> Option<QValue> {
        (v <= 1000).then_some(QValue(v))
    }

    /// Parse `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
    pub fn parse(text: &[u8]) -> Option<QValue> {
        let (int, frac) = match text.split_first()? {
            (b'0', rest) => (0u16, rest),
            (b'1', rest) => (1000u16, rest),
            _ => return None,
        };
        let frac = match frac.split_first() {
            None => return Some(QValue(int)),
            Some((b'.', f)) if f.len() <= 3 && f.iter().all(u8::is_ascii_digit) => f,
            _ => return None,
        };
        let mut v = 0u16;
        for i in 0..3 {
            v = v * 10 + frac.get(i).map_or(0, |c| u16::from(c - b'0'));
        }
        if int == 1000 && v != 0 {
            return None;
        }
        Some(QValue(int + v))
    }
}

/// One `Contact` entry (RFC 3261 §20.10): an address, or `*` (only valid alone, in a REGISTER removing all
/// bindings).
///
/// `q` and `expires` are checked when parsing: an invalid `q` is a syntax error and an `expires` above
/// 2^32-1 is [`crate::ParseErrorKind::OutOfRange`] (see the delta-seconds rule on [`crate::header::Expires`]).
// Boxing the address would cost an allocation per Contact for the sake of the rare wildcard.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Contact {
    /// `*`
    Wildcard,
    /// A contact address.
    Address(NameAddr),
}

impl Contact {
    /// The address, unless this is the wildcard.
    pub fn address(&self) -> Option<&NameAddr> {
        match self {
            Contact::Wildcard => None,
            Contact::Address(a) => Some(a),
        }
    }

    /// The `q` parameter.
    pub fn q(&self) -> Option<QValue> {
        QValue::parse(self.address()?.params().value("q")?)
    }

    /// The `expires` parameter in seconds.
    pub fn expires(&self) -> Option<u32> {
        let v = self.address()?.params().value("expires")?;
        grammar::delta_seconds(v, 0).ok().map(|(v, _)| v)
    }

    /// The `+sip.instance` parameter (RFC 5626), quotes removed (e.g. `<urn:uuid:…>`).
    pub fn sip_instance(&self) -> Option<Cow<'_, [u8]>> {
        self.address()?
            .params()
            .get("+sip.instance")?
            .decoded_value()
    }

    /// The `reg-id` parameter (RFC 5626).
    pub fn reg_id(&self) -> Option<u32> {
        let raw = self.address()?.params().value("reg-id")?;
        let (v, end) = grammar::digits(raw, 0, "reg-id").ok()?;
        if end != raw.len() {
            return None;
        }
        u32::try_from(v).ok()
    }
}

impl TypedHeader for Contact {
    const NAME: HeaderName = HeaderName::Contact;
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Contact, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        if b.get(start) == Some(&b'*') {
            grammar::end(b, start + 1, "end of value after \"*\"")?;
            return Ok(Contact::Wildcard);
        }
        let addr = NameAddr::parse(value)?;
        check_contact_params(value, &addr)?;
        Ok(Contact::Address(addr))
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Contact::Wildcard => out.push(b'*'),
            Contact::Address(a) => a.write_to(out),
        }
    }
}

fn check_contact_params(value: &Bytes, addr: &NameAddr) -> Result<(), ParseError> {
    let offset = |v: &[u8]| grammar::offset_in(value, v);
    if let Some(q) = addr.params().value("q")
        && QValue::parse(q).is_none()
    {
        return Err(ParseError::syntax(offset(q), "qvalue"));
    }
    if let Some(e) = addr.params().value("expires") {
        let (_, end) = grammar::delta_seconds(e, 0).map_err(|err| err.shifted(offset(e)))?;
        if end != e.len() {
            return Err(ParseError::syntax(offset(e) + end, "delta-seconds"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::header::test_support::{err_at, parse, round_trip, written};
    use crate::uri::{Host, SipUri};
    use proptest::prelude::*;

    fn sip_uri(na: &NameAddr) -> &SipUri {
        na.uri().as_sip().unwrap()
    }

    #[test]
    fn header_params_are_those_parse_finds() {
        for text in [
            "<sip:alice@atlanta.example.com>;tag=1928301774",
            "Alice <sip:alice@atlanta.example.com>;tag=88sja8x",
            "\"Bob \\\"B\\\" <x>\" <sip:bob@biloxi.example.com;transport=tcp>;tag=a6c85cf;x=y",
            "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            "sip:t20000_0_1@127.0.0.1;tag=4242SIPpTag001",
            "<sip:bob@biloxi.example.com>",
            "<sip:bob@biloxi.example.com;tag=in-the-uri>",
            "<sip:bob@biloxi.example.com>;tag",
        ] {
            let value = Bytes::from(text);
            let parsed = NameAddr::parse(&value).unwrap();
            let found = NameAddr::header_params(&value).unwrap();
            assert_eq!(found.as_bytes(), parsed.params().as_bytes(), "{text}");
            assert_eq!(found.value("tag"), parsed.tag(), "{text}");
        }
        for text in [
            "\"unterminated <sip:a@b>",
            "<sip:a@b",
            "Bob sip:a@b",
            "<sip:a@b> junk",
        ] {
            assert!(
                NameAddr::header_params(&Bytes::from(text)).is_none(),
                "{text}"
            );
        }
    }

    #[test]
    fn addr_spec_parameters_belong_to_the_header() {
        // RFC 4475 wsinv To, cparam01.
        let to: ToHeader = round_trip("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(to.tag(), Some(&b"1918181833n"[..]));
        assert!(!to.is_bracketed());
        assert!(sip_uri(&to).params().is_empty());
        let c: Contact = round_trip("sip:+19725552222@gw1.example.net;unknownparam");
        let a = c.address().unwrap();
        assert!(a.params().contains("unknownparam"));
        assert!(sip_uri(a).params().is_empty());
    }

    #[test]
    fn bracketed_uri_keeps_its_own_parameters() {
        // RFC 4475 cparam02.
        let c: Contact = round_trip("<sip:+19725552222@gw1.example.net;unknownparam>");
        let a = c.address().unwrap();
        assert!(a.params().is_empty());
        assert!(sip_uri(a).params().contains("unknownparam"));
    }

    #[test]
    fn quoted_display_names_keep_escaped_quotes() {
        // RFC 4475 wsinv From (folded parameters).
        let f: FromHeader = round_trip(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        );
        assert_eq!(f.display_name().unwrap().as_ref(), b"J Rosenberg \\\"");
        assert_eq!(f.tag(), Some(&b"98asjd8"[..]));
        // RFC 4475 intmeth To: quoted-pairs of control characters.
        let t: ToHeader = round_trip(
            "\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>",
        );
        assert_eq!(
            t.display_name().unwrap().as_ref(),
            b"BEL:\x07 NUL:\x00 DEL:\x7f"
        );
        assert_eq!(
            sip_uri(&t).user().unwrap().as_ref(),
            b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        );
    }

    #[test]
    fn token_display_names_may_touch_the_bracket() {
        // RFC 4475 lwsdisp.
        let f: FromHeader = round_trip("caller<sip:caller@example.com>;tag=323");
        assert_eq!(f.display_name().unwrap().as_ref(), b"caller");
        // RFC 4475 intmeth From: several unusual tokens.
        let f: FromHeader = round_trip(
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{0440}\u{0430}\u{0431}\";tag=_token~1'+`*%!-.",
        );
        assert_eq!(
            f.display_name().unwrap().as_ref(),
            b"token1~` token2'+_ token3*%!.-"
        );
        assert_eq!(f.tag(), Some(&b"_token~1'+`*%!-."[..]));
        assert!(f.params().contains("fromParam''~+*_!.-%"));
    }

    #[test]
    fn rejects_unbalanced_quotes_and_unquoted_commas() {
        // RFC 4475 quotbal, baddn, badaspec.
        let text = "\"Mr. J. User <sip:j.user@example.com>";
        assert_eq!(err_at::<ToHeader>(text), text.len());
        assert_eq!(
            err_at::<FromHeader>("Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),
            4
        );
        assert_eq!(
            err_at::<ToHeader>("\"Watson, Thomas\" < sip:t.watson@example.org >"),
            18
        );
        assert_eq!(err_at::<ToHeader>("<sip:a@example.org"), 18);
        assert_eq!(err_at::<ToHeader>("\"A\" sip:a@example.org"), 4);
    }

    #[test]
    fn addr_spec_with_uri_headers_must_be_bracketed() {
        // RFC 4475 regbadct is rejected, regescrt is fine.
        assert_eq!(
            err_at::<Contact>("sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
            20
        );
        let c: Contact = round_trip("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
        let h = sip_uri(c.address().unwrap()).headers();
        assert_eq!(h.get("Route"), Some(&b"%3Csip:sip.example.com%3E"[..]));
    }

    #[test]
    fn rejects_empty_contact_parameters() {
        // RFC 4475 badinv01.
        assert_eq!(err_at::<Contact>("\"Joe\" <sip:joe@example.org>;;;;"), 28);
    }

    #[test]
    fn non_sip_schemes_are_kept() {
        // RFC 4475 unksm2.
        let t: ToHeader = round_trip("isbn:2983792873");
        assert!(matches!(t.uri(), Uri::Other { .. }));
        let f: FromHeader = round_trip("<http://www.example.com>;tag=3234233");
        assert_eq!(f.uri().scheme(), b"http");
        let c: Contact = round_trip("<name:John_Smith>");
        assert_eq!(c.address().unwrap().uri().scheme(), b"name");
    }

    #[test]
    fn contact_exposes_q_expires_instance_and_reg_id() {
        // RFC 4475 wsinv Contact with folded parameters.
        let c: Contact = round_trip(
            "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33",
        );
        assert_eq!(c.q(), QValue::from_thousandths(330));
        assert_eq!(
            c.address().unwrap().display_name().unwrap().as_ref(),
            b"Quoted string \"\""
        );
        let c: Contact = round_trip(
            "<sip:alice@192.0.2.1;ob>;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1",
        );
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(
            c.sip_instance().unwrap().as_ref(),
            b"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"
        );
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(c.q(), None);
    }

    #[test]
    fn contact_wildcard_stands_alone() {
        assert_eq!(round_trip::<Contact>(" * "), Contact::Wildcard);
        assert_eq!(err_at::<Contact>("* ;q=1"), 2);
    }

    #[test]
    fn contact_rejects_bad_q_and_huge_expires() {
        assert_eq!(err_at::<Contact>("<sip:a@b>;q=1.5"), 12);
        assert_eq!(err_at::<Contact>("<sip:a@b>;q=0.1234"), 12);
        // RFC 4475 scalar02.
        let e =
            parse::<Contact>("<sip:user@host129.example.com>;expires=280297596632815").unwrap_err();
        assert_eq!((e.offset, e.kind), (39, ParseErrorKind::OutOfRange));
        assert_eq!(err_at::<Contact>("<sip:a@b>;expires=12x"), 20);
    }

    #[test]
    fn escaped_contact_uri_is_kept_escaped() {
        // RFC 4475 esc01 / escnull.
        let c: Contact =
            round_trip("<sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>");
        let u = sip_uri(c.address().unwrap());
        assert_eq!(u.user_unescaped().unwrap().as_ref(), b"caller");
        assert!(u.is_loose_route());
        let a: Contact = parse("<sip:%00@host5.example.com>").unwrap();
        let b: Contact = parse("<sip:%00%00@host5.example.com>").unwrap();
        assert!(
            !a.address()
                .unwrap()
                .uri()
                .equivalent(b.address().unwrap().uri())
        );
    }

    #[test]
    fn qvalues_follow_the_grammar() {
        assert_eq!(QValue::parse(b"1"), QValue::from_thousandths(1000));
        assert_eq!(QValue::parse(b"1.000"), QValue::from_thousandths(1000));
        assert_eq!(QValue::parse(b"0.5"), QValue::from_thousandths(500));
        assert_eq!(QValue::parse(b"0."), QValue::from_thousandths(0));
        assert_eq!(QValue::parse(b"1.001"), None);
        assert_eq!(QValue::parse(b"2"), None);
        assert_eq!(QValue::parse(b".5"), None);
    }

    #[test]
    fn built_name_addr_quotes_the_display_name() {
        let uri = Uri::Sip(
            SipUri::new(Host::Domain(Bytes::from_static(b"example.com"))).with_user("bob"),
        );
        let na = NameAddr::new(uri)
            .with_display_name("Bob \"B\"")
            .with_tag("a1");
        let to = ToHeader(na);
        assert_eq!(
            written(&to),
            "\"Bob \\\"B\\\"\" <sip:bob@example.com>;tag=a1"
        );
        assert_eq!(parse::<ToHeader>(&written(&to)).unwrap(), to);
    }

    #[test]
    fn route_entries_parse_loose_routing() {
        let r: Route =
            round_trip("<sip:services.example.com;lr;unknownwith=value;unknown-no-value>");
        assert!(sip_uri(&r).is_loose_route());
        let rr: RecordRoute = round_trip("<sip:p1.example.com;lr>");
        assert!(sip_uri(&rr).is_loose_route());
        let p: Path = round_trip("<sip:P3.EXAMPLEHOME.COM;lr>");
        assert_eq!(
            p.uri().as_sip().map(|u| u.host().to_string()),
            Some("P3.EXAMPLEHOME.COM".into())
        );
        let r: ReferTo = round_trip(
            "<sip:bob@biloxi.example.com?Replaces=12345%40192.168.118.3%3Bfrom-tag%3D1>",
        );
        assert!(!sip_uri(&r).headers().is_empty());
        let _: ReferredBy = round_trip("<sip:referrer@referrer.example>");
    }

    proptest! {
        #[test]
        fn name_addrs_round_trip(
            display in proptest::option::of("[ -~]{0,16}"),
            user in "[a-zA-Z0-9._!~*'()&=+$,-]{1,10}",
            host in "[a-z]{1,8}\\.[a-z]{2,4}",
            tag in proptest::option::of("[a-zA-Z0-9.!%*_+`'~-]{1,12}"),
        ) {
            let uri = Uri::Sip(SipUri::new(Host::Domain(Bytes::from(host))).with_user(&user));
            let mut na = NameAddr::new(uri);
            if let Some(d) = &display {
                na.set_display_name(Some(d));
            }
            if let Some(t) = &tag {
                na = na.with_tag(t);
            }
            let from = FromHeader(na);
            let parsed: FromHeader = parse(&written(&from)).unwrap();
            prop_assert_eq!(&parsed, &from);
            prop_assert_eq!(parsed.display_name().map(|d| d.into_owned()), display.map(String::into_bytes));
            prop_assert_eq!(parsed.tag(), tag.as_deref().map(str::as_bytes));
        }

        #[test]
        fn arbitrary_values_never_panic(input in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Contact::parse(&Bytes::from(input.clone()));
            let mut prefixed = b"\"a\" <sip:".to_vec();
            prefixed.extend_from_slice(&input);
            let _ = FromHeader::parse(&Bytes::from(prefixed));
        }
    }
}
