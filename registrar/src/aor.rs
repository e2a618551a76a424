//! The address-of-record (RFC 3261 §10.3 step 5): the key of the location service, in canonical form.

use crate::error::Error;
use bytes::Bytes;
use std::fmt;
use tandem_sip_core::{Host, Uri};

/// An address-of-record in canonical form: `sip:user@host` (or `sip:host` without a user part).
///
/// RFC 3261 §10.3 step 5 asks for the To URI "converted to the canonical form": every URI parameter and
/// header removed and escapes resolved. This crate goes a little further so that spellings of one AOR
/// compare equal as plain strings, which every store relies on:
/// - `sips:` becomes `sip:` (RFC 5630 §3.1.1: the two name the same resource);
/// - the host is lower-cased and the port dropped (requests reach the AOR through its domain, whatever port
///   the phone happened to write);
/// - the user part is unescaped, then escaped again in one canonical way (only characters outside `unreserved`
///   and `user-unreserved` as `%HH`, upper-case hex), so `sip:%61lice@x` and `sip:alice@x` are one AOR and an
///   escaped `@` in the user part never shifts the host.
///
/// The user part stays case-sensitive, as RFC 3261 §19.1.4 compares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor(String);

impl Aor {
    /// The canonical AOR of a SIP or SIPS URI; any other scheme is [`Error::InvalidAor`].
    pub fn from_uri(uri: &Uri) -> Result<Aor, Error> {
        let Some(sip) = uri.as_sip() else {
            return Err(Error::InvalidAor {
                reason: "the URI scheme is not sip or sips",
            });
        };
        let mut out = String::with_capacity(64);
        out.push_str("sip:");
        if let Some(user) = sip.user_unescaped() {
            if user.is_empty() {
                return Err(Error::InvalidAor {
                    reason: "the user part is empty",
                });
            }
            escape_user(&user, &mut out);
            out.push('@');
        }
        push_host(sip.host(), &mut out);
        Ok(Aor(out))
    }

    /// Parse a URI and canonicalise it (see [`Aor::from_uri`]); `"sip:Alice@Example.com:5060"` gives
    /// `sip:Alice@example.com`.
    pub fn parse(text: &str) -> Result<Aor, Error> {
        let uri = Uri::parse(&Bytes::copy_from_slice(text.as_bytes())).map_err(|_| {
            Error::InvalidAor {
                reason: "not a well-formed URI",
            }
        })?;
        Aor::from_uri(&uri)
    }

    /// An AOR from text that is already canonical (an AOR's own text, as a store kept it).
    #[cfg(feature = "memory")]
    pub(crate) fn from_canonical(text: &str) -> Aor {
        Aor(text.to_owned())
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host part, lower-cased (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        let rest = self.0.get(4..).unwrap_or_default();
        rest.rsplit_once('@').map_or(rest, |(_, host)| host)
    }

    /// The user part as canonically escaped, if there is one.
    pub fn user(&self) -> Option<&str> {
        let rest = self.0.get(4..)?;
        rest.rsplit_once('@').map(|(user, _)| user)
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Aor {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Aor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Aor, Error> {
        Aor::parse(s)
    }
}

/// `unreserved` and `user-unreserved` of RFC 3261 §25.1: the characters a user part may hold unescaped.
fn is_user_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b';'
                | b'?'
                | b'/'
        )
}

fn escape_user(user: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in user {
        if is_user_char(c) {
            out.push(char::from(c));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0x0f)]));
        }
    }
}

fn push_host(host: &Host, out: &mut String) {
    match host {
        Host::Domain(name) => out.extend(name.iter().map(|c| char::from(c.to_ascii_lowercase()))),
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aor(text: &str) -> String {
        Aor::parse(text)
            .map(|a| a.0)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn drops_parameters_port_and_headers_and_lowercases_the_host() {
        assert_eq!(
            aor("sip:Alice@Atlanta.EXAMPLE.com:5060;transport=tcp?subject=x"),
            "sip:Alice@atlanta.example.com"
        );
    }

    #[test]
    fn sips_names_the_same_aor_as_sip() {
        assert_eq!(aor("sips:bob@example.com"), aor("sip:bob@example.com"));
    }

    #[test]
    fn escaped_and_plain_user_parts_are_one_aor() {
        assert_eq!(aor("sip:%61lice@example.com"), "sip:alice@example.com");
        assert_eq!(aor("sip:a%20b@example.com"), "sip:a%20b@example.com");
        assert_eq!(aor("sip:a%2fb@example.com"), "sip:a/b@example.com");
    }

    #[test]
    fn escaped_at_in_the_user_part_does_not_move_the_host() {
        let a = Aor::parse("sip:a%40b@example.com").unwrap();
        assert_eq!(a.as_str(), "sip:a%40b@example.com");
        assert_eq!(a.host(), "example.com");
        assert_eq!(a.user(), Some("a%40b"));
    }

    #[test]
    fn user_part_stays_case_sensitive() {
        assert_ne!(aor("sip:Alice@example.com"), aor("sip:alice@example.com"));
    }

    #[test]
    fn host_only_and_ip_aors_are_accepted() {
        let a = Aor::parse("sip:Example.com").unwrap();
        assert_eq!(
            (a.as_str(), a.host(), a.user()),
            ("sip:example.com", "example.com", None)
        );
        assert_eq!(aor("sip:u@[2001:DB8::1]:5060"), "sip:u@[2001:db8::1]");
        assert_eq!(aor("sip:u@192.0.2.1"), "sip:u@192.0.2.1");
    }

    #[test]
    fn rejects_non_sip_schemes_and_garbage() {
        assert!(matches!(
            Aor::parse("tel:+15551234567"),
            Err(Error::InvalidAor { .. })
        ));
        assert!(matches!(
            Aor::parse("not a uri"),
            Err(Error::InvalidAor { .. })
        ));
    }
}
