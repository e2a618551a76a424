//! SIP, SIPS and TEL URIs (RFC 3261 §19, RFC 3966) and other absolute URIs kept verbatim.
//!
//! [`Uri::parse`] takes exactly the URI's bytes (no surrounding `<>` or white space) and never allocates: every
//! component is a slice of the input. Escapes are validated but kept; accessors with `unescaped` in their name
//! decode them, once (`%2541` is `%41`, not `A`).

pub(crate) mod escape;
mod headers;
mod host;
mod sip;
mod tel;

pub use headers::{UriHeader, UriHeaderIter, UriHeaders};
pub use host::Host;
pub use sip::SipUri;
pub use tel::TelUri;

pub(crate) use host::parse_host;

use crate::error::ParseError;
use crate::grammar::{self, SCHEME, URIC};
use bytes::Bytes;
use std::fmt;

/// A URI as found in a Request-URI or a name-addr.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Uri {
    /// A `sip:` or `sips:` URI.
    Sip(SipUri),
    /// A `tel:` URI.
    Tel(TelUri),
    /// Any other `absoluteURI` (RFC 2396), kept verbatim; a UAS answers such a Request-URI with 416.
    Other {
        /// The scheme as received (e.g. `http`).
        scheme: Bytes,
        /// The whole URI as received, scheme included.
        raw: Bytes,
    },
}

impl Uri {
    /// Parse a URI; error offsets count from the start of `input`.
    pub fn parse(input: &Bytes) -> Result<Uri, ParseError> {
        let b = &input[..];
        let scheme_end = scheme_end(b)?;
        let scheme = b.get(..scheme_end).unwrap_or_default();
        let rest = scheme_end + 1;
        if scheme.eq_ignore_ascii_case(b"sip") {
            return sip::parse_sip(input, rest, false).map(Uri::Sip);
        }
        if scheme.eq_ignore_ascii_case(b"sips") {
            return sip::parse_sip(input, rest, true).map(Uri::Sip);
        }
        if scheme.eq_ignore_ascii_case(b"tel") {
            return tel::parse_tel(input, rest).map(Uri::Tel);
        }
        check_opaque(b, rest)?;
        Ok(Uri::Other {
            scheme: input.slice(..scheme_end),
            raw: input.clone(),
        })
    }

    /// The SIP or SIPS URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(s) => Some(s),
            _ => None,
        }
    }

    /// The TEL URI, if this is one.
    pub fn as_tel(&self) -> Option<&TelUri> {
        match self {
            Uri::Tel(t) => Some(t),
            _ => None,
        }
    }

    /// The scheme in lower case for the known schemes, as received otherwise.
    pub fn scheme(&self) -> &[u8] {
        match self {
            Uri::Sip(s) if s.is_secure() => b"sips",
            Uri::Sip(_) => b"sip",
            Uri::Tel(_) => b"tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// Append the URI's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Uri::Sip(s) => s.write_to(out),
            Uri::Tel(t) => t.write_to(out),
            Uri::Other { raw, .. } => out.extend_from_slice(raw),
        }
    }

    /// URI equivalence: RFC 3261 §19.1.4 for SIP/SIPS ([`SipUri::equivalent`]), RFC 3966 §4 for TEL
    /// ([`TelUri::equivalent`]); other URIs are equal when their schemes match case-insensitively and the rest
    /// matches after resolving escapes. URIs of different schemes are never equivalent.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (
                Uri::Other {
                    scheme: sa,
                    raw: ra,
                },
                Uri::Other {
                    scheme: sb,
                    raw: rb,
                },
            ) => {
                sa.eq_ignore_ascii_case(sb)
                    && escape::eq_unescaped(
                        ra.get(sa.len()..).unwrap_or_default(),
                        rb.get(sb.len()..).unwrap_or_default(),
                        false,
                    )
            }
            _ => false,
        }
    }
}

impl From<SipUri> for Uri {
    fn from(s: SipUri) -> Uri {
        Uri::Sip(s)
    }
}

impl From<TelUri> for Uri {
    fn from(t: TelUri) -> Uri {
        Uri::Tel(t)
    }
}

/// Room for the usual URI at once when displaying one, rather than growing through 8, 16, 32 and 64 bytes.
const DISPLAY_CAPACITY: usize = 64;

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(DISPLAY_CAPACITY);
        self.write_to(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(DISPLAY_CAPACITY);
        self.write_to(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(DISPLAY_CAPACITY);
        self.write_to(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` followed by `:`; returns the index of the `:`.
fn scheme_end(b: &[u8]) -> Result<usize, ParseError> {
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(ParseError::syntax(0, "URI scheme"));
    }
    let end = grammar::scan(b, 1, SCHEME);
    if b.get(end) != Some(&b':') {
        return Err(ParseError::syntax(end, "\":\" after URI scheme"));
    }
    Ok(end)
}

/// The rest of an absoluteURI: at least one `uric` (RFC 2396), escapes validated.
fn check_opaque(b: &[u8], start: usize) -> Result<(), ParseError> {
    let end = grammar::scan_escaped(b, start, URIC, "URI character")?;
    if end == start || end != b.len() {
        return Err(ParseError::syntax(end, "URI character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Uri, ParseError> {
        Uri::parse(&Bytes::copy_from_slice(s.as_bytes()))
    }

    fn sip(s: &str) -> SipUri {
        match parse(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err_at(s: &str) -> usize {
        parse(s).unwrap_err().offset
    }

    fn written(u: &Uri) -> String {
        let mut out = Vec::new();
        u.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_all_sip_uri_components() {
        let u = sip(
            "sips:alice:secret@Atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent",
        );
        assert!(u.is_secure());
        assert_eq!(u.user().map(|b| &b[..]), Some(&b"alice"[..]));
        assert_eq!(u.password().map(|b| &b[..]), Some(&b"secret"[..]));
        assert_eq!(u.host(), &Host::Domain(Bytes::from_static(b"Atlanta.com")));
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert!(u.is_loose_route());
        assert_eq!(u.headers().get("Subject"), Some(&b"project%20x"[..]));
    }

    #[test]
    fn user_part_may_hold_semicolons_and_escaped_at() {
        // RFC 4475 semiuri: the user part is `user;par=u@example.net`.
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(
            u.user_unescaped().unwrap().as_ref(),
            b"user;par=u@example.net"
        );
        assert!(u.params().is_empty());
    }

    #[test]
    fn unusual_user_and_password_characters_are_accepted() {
        // RFC 4475 intmeth Request-URI.
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user().unwrap().as_ref(),
            b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        );
        assert_eq!(
            u.password().unwrap().as_ref(),
            b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
        );
    }

    #[test]
    fn escaped_null_is_kept_whole() {
        // RFC 4475 escnull.
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(u.user_unescaped().unwrap().as_ref(), b"null-\0-null");
        assert!(!sip("sip:%00@h").equivalent(&sip("sip:%00%00@h")));
    }

    #[test]
    fn escaped_characters_equal_plain_ones_but_unescaping_is_not_recursive() {
        // RFC 4475 esc01.
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert!(u.is_loose_route());
        let p = u.params().get("name").unwrap();
        assert_eq!(p.decoded_value().unwrap().as_ref(), b"value%41");
        assert!(u.equivalent(&sip("sip:caller@host5.example.net;lr;name=value%2541")));
        assert!(!u.equivalent(&sip("sip:caller@host5.example.net;lr;name=valueA")));
        assert!(sip("sip:%75se%72@example.com").equivalent(&sip("sip:user@example.com")));
    }

    #[test]
    fn rfc3261_equivalent_examples_match() {
        let pairs = [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;newparam=5",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        ];
        for (a, b) in pairs {
            assert!(
                parse(a).unwrap().equivalent(&parse(b).unwrap()),
                "{a} vs {b}"
            );
            assert!(
                parse(b).unwrap().equivalent(&parse(a).unwrap()),
                "{b} vs {a}"
            );
        }
    }

    #[test]
    fn rfc3261_non_equivalent_examples_differ() {
        let pairs = [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            ("sip:a@h", "sips:a@h"),
            ("sip:a@h;maddr=x", "sip:a@h"),
            ("sip:a@h;ttl=1", "sip:a@h;ttl=2"),
            ("sip:a@h;lr", "sip:a@h;lr=on"),
        ];
        for (a, b) in pairs {
            assert!(
                !parse(a).unwrap().equivalent(&parse(b).unwrap()),
                "{a} vs {b}"
            );
            assert!(
                !parse(b).unwrap().equivalent(&parse(a).unwrap()),
                "{b} vs {a}"
            );
        }
    }

    #[test]
    fn telephone_subscriber_user_with_password_and_user_param() {
        let u = sip("sip:+1-212-555-1212:1234@gateway.com;user=phone");
        assert_eq!(u.user().unwrap().as_ref(), b"+1-212-555-1212");
        assert_eq!(u.password().unwrap().as_ref(), b"1234");
        assert_eq!(u.params().value("user"), Some(&b"phone"[..]));
        assert!(!u.equivalent(&sip("sip:+1-212-555-1212:1234@gateway.com")));
        assert_eq!(sip("sip:alice:@h").password().map(|p| p.len()), Some(0));
    }

    #[test]
    fn parses_ipv4_and_ipv6_hosts() {
        assert_eq!(
            sip("sip:192.0.2.1:5060").host(),
            &Host::Ipv4([192, 0, 2, 1].into())
        );
        let u = sip("sip:alice@[2001:db8::10]:5070;transport=udp");
        assert_eq!(u.host(), &Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.to_string(), "sip:alice@[2001:db8::10]:5070;transport=udp");
    }

    #[test]
    fn rejects_malformed_sip_uris_with_offsets() {
        assert_eq!(err_at(""), 0);
        assert_eq!(err_at("sip"), 3);
        assert_eq!(err_at("sip:"), 4);
        assert_eq!(err_at("sip:@host"), 4);
        assert_eq!(err_at("sip:user@"), 9);
        assert_eq!(err_at("sip:user@example.com; lr"), 21);
        assert_eq!(err_at("sip:user@host;"), 14);
        assert_eq!(err_at("sip:user@host;a="), 16);
        assert_eq!(err_at("sip:us%zzer@host"), 6);
        assert_eq!(err_at("sip:user@host>"), 13);
        assert_eq!(err_at("sip:u<x@host"), 5);
        assert_eq!(err_at("sip:u:p<@host"), 7);
        assert_eq!(err_at("sip:host?x"), 10);
        assert_eq!(err_at("<sip:user@host>"), 0);
        assert_eq!(err_at("sip:alice@atlanta.com:"), 22);
        assert_eq!(err_at("sip:alice@[::1"), 10);
        assert_eq!(err_at("sip:alice@300.1.1.1"), 10);
        let e = parse("sip:host:70000").unwrap_err();
        assert_eq!((e.offset, e.kind), (9, ParseErrorKind::OutOfRange));
    }

    #[test]
    fn keeps_escaped_headers_of_the_uri() {
        // RFC 4475 regescrt / escruri.
        let u = sip("sip:user@example.com?Route=%3Csip:sip.example.com%3E");
        let h = u.headers().iter().next().unwrap();
        assert_eq!(h.decoded_name().as_ref(), b"Route");
        assert_eq!(h.decoded_value().as_ref(), b"<sip:sip.example.com>");
    }

    #[test]
    fn parses_tel_uris() {
        let u = parse("tel:+1-201-555-0123;ext=1234").unwrap();
        let t = u.as_tel().unwrap();
        assert!(t.is_global());
        assert_eq!(t.digits().collect::<Vec<_>>(), b"12015550123");
        assert_eq!(t.params().value("ext"), Some(&b"1234"[..]));
        let local = parse("tel:7042;phone-context=example.com").unwrap();
        assert_eq!(
            local.as_tel().unwrap().phone_context(),
            Some(&b"example.com"[..])
        );
        assert!(u.equivalent(&parse("tel:+1.201.555.0123;EXT=1234").unwrap()));
        assert!(!u.equivalent(&parse("tel:1-201-555-0123;ext=1234").unwrap()));
        assert_eq!(err_at("tel:+"), 5);
        assert_eq!(err_at("tel:+12a"), 7);
        assert_eq!(err_at("tel:123;"), 8);
    }

    #[test]
    fn keeps_other_schemes_verbatim() {
        for s in [
            "http://www.example.com",
            "isbn:2983792873",
            "name:John_Smith",
            "soap.beep://192.0.2.103:3002",
        ] {
            match parse(s).unwrap() {
                Uri::Other { ref raw, .. } => assert_eq!(raw.as_ref(), s.as_bytes()),
                other => panic!("{other:?}"),
            }
        }
        let u = parse("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
        assert_eq!(u.scheme(), b"nobodyKnowsThisScheme");
        assert_eq!(err_at("1http:x"), 0);
        assert_eq!(err_at("http:"), 5);
        assert_eq!(err_at("http:a b"), 6);
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let u = sip("SIP:alice@example.com");
        assert!(!u.is_secure());
        assert_eq!(u.to_string(), "sip:alice@example.com");
        assert!(sip("SiPs:h").is_secure());
    }

    #[test]
    fn builders_escape_what_needs_escaping() {
        let u = SipUri::new(Host::Domain(Bytes::from_static(b"example.com")))
            .with_user("I have spaces")
            .with_port(5080)
            .with_param("transport", Some("tcp"));
        assert_eq!(
            u.to_string(),
            "sip:I%20have%20spaces@example.com:5080;transport=tcp"
        );
        assert_eq!(sip(&u.to_string()), u);
    }

    fn user_strategy() -> impl Strategy<Value = String> {
        proptest::string::string_regex("([a-zA-Z0-9._!~*'()&=+$,;?/-]|%[0-9A-F]{2}){1,12}").unwrap()
    }

    fn param_strategy() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "(;([a-z0-9-]|%4[1-9]){1,6}(=[a-zA-Z0-9:/\\[\\]&+$_.-]{1,6})?){0,4}",
        )
        .unwrap()
    }

    proptest! {
        #[test]
        fn sip_uris_round_trip(
            secure in any::<bool>(),
            user in proptest::option::of(user_strategy()),
            host in "[a-z][a-z0-9-]{0,8}[a-z0-9](\\.[a-z]{2,5}){0,3}",
            port in proptest::option::of(any::<u16>()),
            params in param_strategy(),
            headers in "(\\?[a-z]{1,4}=[a-z0-9%:]{0,6}(&[a-z]{1,4}=[a-z0-9]{0,6}){0,2})?",
        ) {
            let headers = headers.replace('%', "%25");
            let text = format!(
                "{}:{}{}{}{}{}",
                if secure { "sips" } else { "sip" },
                user.map(|u| format!("{u}@")).unwrap_or_default(),
                host,
                port.map(|p| format!(":{p}")).unwrap_or_default(),
                params,
                headers,
            );
            let uri = parse(&text).unwrap();
            prop_assert_eq!(written(&uri), text.clone());
            let again = parse(&written(&uri)).unwrap();
            prop_assert_eq!(&again, &uri);
            prop_assert!(again.equivalent(&uri));
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut text = b"sip:".to_vec();
            text.extend_from_slice(&input);
            let _ = Uri::parse(&Bytes::from(text));
            let _ = Uri::parse(&Bytes::from(input));
        }

        #[test]
        fn parse_errors_point_inside_the_input(input in "[a-z:@;=?&%\\[\\]0-9.]{0,24}") {
            let text = format!("sip:{input}");
            if let Err(e) = parse(&text) {
                prop_assert!(e.offset <= text.len());
            }
        }
    }
}
