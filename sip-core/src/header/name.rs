//! Header field names: the well-known ones as an enum (with their compact forms), anything else kept verbatim.

use bytes::Bytes;
use std::fmt;

/// The length of a header name and its first letter in lower case (0 for an empty name).
const fn length_and_first_letter(name: &str) -> (usize, u8) {
    match name.as_bytes().first() {
        Some(c) => (name.len(), c.to_ascii_lowercase()),
        None => (0, 0),
    }
}

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident => $canonical:literal, $compact:expr; )*) => {
        /// A header field name.
        ///
        /// Well-known names are recognised case-insensitively, in long or compact form (RFC 3261 §7.3.3), and
        /// map to one variant; anything else is [`HeaderName::Other`] with the name exactly as received.
        #[non_exhaustive]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// Any other header name, kept verbatim as it appeared on the wire.
            Other(Bytes),
        }

        impl HeaderName {
            /// Canonical long form, e.g. `"Call-ID"`; for [`HeaderName::Other`], the name as received (or `""`
            /// if it is not valid UTF-8).
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canonical, )*
                    HeaderName::Other(b) => std::str::from_utf8(b).unwrap_or(""),
                }
            }

            /// The compact form (RFC 3261 §7.3.3 and extensions), if the header has one.
            pub fn compact(&self) -> Option<u8> {
                match self {
                    $( HeaderName::$variant => $compact, )*
                    HeaderName::Other(_) => None,
                }
            }

            /// Recognise a well-known name (long or compact form, any case); `None` for anything else.
            pub fn lookup(name: &[u8]) -> Option<HeaderName> {
                let (&first, _) = name.split_first()?;
                let first = first.to_ascii_lowercase();
                if name.len() == 1 {
                    $( if $compact == Some(first) { return Some(HeaderName::$variant); } )*
                    return None;
                }
                // Length and first letter are compile-time constants per name, so only the names that share
                // both with `name` (rarely more than one) are compared in full.
                $(
                    if (name.len(), first) == const { length_and_first_letter($canonical) }
                        && name.eq_ignore_ascii_case($canonical.as_bytes())
                    {
                        return Some(HeaderName::$variant);
                    }
                )*
                None
            }
        }

        /// Every well-known name.
        #[cfg(test)]
        const ALL_KNOWN: &[HeaderName] = &[$(HeaderName::$variant),*];
    };
}

header_names! {
    /// `Accept`
    Accept => "Accept", None;
    /// `Accept-Contact` (`a`, RFC 3841)
    AcceptContact => "Accept-Contact", Some(b'a');
    /// `Accept-Encoding`
    AcceptEncoding => "Accept-Encoding", None;
    /// `Accept-Language`
    AcceptLanguage => "Accept-Language", None;
    /// `Alert-Info`
    AlertInfo => "Alert-Info", None;
    /// `Allow`
    Allow => "Allow", None;
    /// `Allow-Events` (`u`, RFC 6665)
    AllowEvents => "Allow-Events", Some(b'u');
    /// `Authentication-Info`
    AuthenticationInfo => "Authentication-Info", None;
    /// `Authorization`
    Authorization => "Authorization", None;
    /// `Call-ID` (`i`)
    CallId => "Call-ID", Some(b'i');
    /// `Call-Info`
    CallInfo => "Call-Info", None;
    /// `Contact` (`m`)
    Contact => "Contact", Some(b'm');
    /// `Content-Disposition`
    ContentDisposition => "Content-Disposition", None;
    /// `Content-Encoding` (`e`)
    ContentEncoding => "Content-Encoding", Some(b'e');
    /// `Content-Language`
    ContentLanguage => "Content-Language", None;
    /// `Content-Length` (`l`)
    ContentLength => "Content-Length", Some(b'l');
    /// `Content-Type` (`c`)
    ContentType => "Content-Type", Some(b'c');
    /// `CSeq`
    CSeq => "CSeq", None;
    /// `Date`
    Date => "Date", None;
    /// `Error-Info`
    ErrorInfo => "Error-Info", None;
    /// `Event` (`o`, RFC 6665)
    Event => "Event", Some(b'o');
    /// `Expires`
    Expires => "Expires", None;
    /// `From` (`f`)
    From => "From", Some(b'f');
    /// `In-Reply-To`
    InReplyTo => "In-Reply-To", None;
    /// `Max-Forwards`
    MaxForwards => "Max-Forwards", None;
    /// `MIME-Version`
    MimeVersion => "MIME-Version", None;
    /// `Min-Expires`
    MinExpires => "Min-Expires", None;
    /// `Organization`
    Organization => "Organization", None;
    /// `Path` (RFC 3327)
    Path => "Path", None;
    /// `Priority`
    Priority => "Priority", None;
    /// `Proxy-Authenticate`
    ProxyAuthenticate => "Proxy-Authenticate", None;
    /// `Proxy-Authorization`
    ProxyAuthorization => "Proxy-Authorization", None;
    /// `Proxy-Require`
    ProxyRequire => "Proxy-Require", None;
    /// `RAck` (RFC 3262)
    RAck => "RAck", None;
    /// `Reason` (RFC 3326)
    Reason => "Reason", None;
    /// `Record-Route`
    RecordRoute => "Record-Route", None;
    /// `Refer-To` (`r`, RFC 3515)
    ReferTo => "Refer-To", Some(b'r');
    /// `Referred-By` (`b`, RFC 3892)
    ReferredBy => "Referred-By", Some(b'b');
    /// `Reject-Contact` (`j`, RFC 3841)
    RejectContact => "Reject-Contact", Some(b'j');
    /// `Reply-To`
    ReplyTo => "Reply-To", None;
    /// `Request-Disposition` (`d`, RFC 3841)
    RequestDisposition => "Request-Disposition", Some(b'd');
    /// `Require`
    Require => "Require", None;
    /// `Retry-After`
    RetryAfter => "Retry-After", None;
    /// `Route`
    Route => "Route", None;
    /// `RSeq` (RFC 3262)
    RSeq => "RSeq", None;
    /// `Server`
    Server => "Server", None;
    /// `Session-Expires` (`x`, RFC 4028)
    SessionExpires => "Session-Expires", Some(b'x');
    /// `Subject` (`s`)
    Subject => "Subject", Some(b's');
    /// `Subscription-State` (RFC 6665)
    SubscriptionState => "Subscription-State", None;
    /// `Supported` (`k`)
    Supported => "Supported", Some(b'k');
    /// `Timestamp`
    Timestamp => "Timestamp", None;
    /// `To` (`t`)
    To => "To", Some(b't');
    /// `Unsupported`
    Unsupported => "Unsupported", None;
    /// `User-Agent`
    UserAgent => "User-Agent", None;
    /// `Via` (`v`)
    Via => "Via", Some(b'v');
    /// `Warning`
    Warning => "Warning", None;
    /// `WWW-Authenticate`
    WwwAuthenticate => "WWW-Authenticate", None;
}

impl HeaderName {
    /// Parse a name from the wire: a well-known name becomes its variant, anything else [`HeaderName::Other`]
    /// holding the given bytes (no copy).
    pub fn from_bytes(name: Bytes) -> HeaderName {
        HeaderName::lookup(&name).unwrap_or(HeaderName::Other(name))
    }

    /// Case-insensitive comparison that treats a long and compact form of the same header as equal.
    pub fn matches(&self, other: &HeaderName) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_long_forms_map_to_one_variant() {
        assert_eq!(HeaderName::lookup(b"v"), Some(HeaderName::Via));
        assert_eq!(HeaderName::lookup(b"VIA"), Some(HeaderName::Via));
        assert_eq!(HeaderName::lookup(b"i"), Some(HeaderName::CallId));
        assert_eq!(HeaderName::lookup(b"call-id"), Some(HeaderName::CallId));
        assert_eq!(HeaderName::lookup(b"X-Foo"), None);
        assert_eq!(HeaderName::Via.compact(), Some(b'v'));
    }

    #[test]
    fn every_known_name_is_found_in_any_case_and_near_misses_are_not() {
        for known in ALL_KNOWN {
            let name = known.as_str();
            assert_eq!(HeaderName::lookup(name.as_bytes()).as_ref(), Some(known));
            let upper = name.to_ascii_uppercase();
            assert_eq!(HeaderName::lookup(upper.as_bytes()).as_ref(), Some(known));
            let mut near = name.to_ascii_lowercase().into_bytes();
            if let Some(last) = near.last_mut() {
                *last = b'#';
            }
            assert_eq!(HeaderName::lookup(&near), None, "{name}");
            if let Some(c) = known.compact() {
                assert_eq!(
                    HeaderName::lookup(&[c.to_ascii_uppercase()]).as_ref(),
                    Some(known)
                );
            }
        }
        assert_eq!(HeaderName::lookup(b""), None);
    }

    #[test]
    fn unknown_names_compare_case_insensitively() {
        let a = HeaderName::from_bytes(Bytes::from_static(b"X-Foo"));
        let b = HeaderName::from_bytes(Bytes::from_static(b"x-foo"));
        assert!(a.matches(&b));
        assert_eq!(a.as_str(), "X-Foo");
    }
}
