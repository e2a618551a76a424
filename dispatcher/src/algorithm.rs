//! Selection algorithms (Kamailio's `ds_select_dst` numbers) and the keys the hashing ones read.

use std::fmt;
use std::str::FromStr;
use tandem_sip_core::header::{Authorization, ProxyAuthorization};
use tandem_sip_core::{Host, Request, Uri};

/// How [`crate::Dispatcher::select`] picks the first destination of a set. Numbers are Kamailio's.
///
/// After the first pick the other usable destinations follow in set order (wrapping around), so a failover
/// tries every usable destination once. Sets are ordered by priority (highest first), then list order.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 0: hash over the Call-ID (every request of a call goes to the same destination).
    HashCallId,
    /// 1: hash over the From URI (user, host and port).
    HashFromUri,
    /// 2: hash over the To URI (user, host and port).
    HashToUri,
    /// 3: hash over the Request-URI (user, host and port).
    HashRequestUri,
    /// 3 with Kamailio's "user only" hashing flag: hash over the Request-URI user (a `tel:` number).
    HashRequestUriUser,
    /// 4: round-robin over the usable destinations.
    RoundRobin,
    /// 5: hash over the username of Proxy-Authorization (else Authorization); round-robin without one.
    HashAuthUsername,
    /// 6: a uniformly random usable destination.
    Random,
    /// 7: hash over a key the caller computes (Kamailio's `hash_pvar`); give it as [`SelectInput::Key`].
    HashKey,
    /// 8: by priority: the highest-priority usable destination first (serial failover in priority order).
    Priority,
    /// 9: by the `weight` attribute: each destination's share of requests is its weight over the sum of
    /// weights. A pick that is not usable moves to the next usable destination in set order, as Kamailio does.
    Weight,
    /// 10: call load: the usable destination with the fewest active calls (see
    /// [`crate::Dispatcher::call_started`]), never one at its `maxload`.
    CallLoad,
    /// 11: by the `rweight` attribute over the usable destinations only: shares are recomputed when a
    /// destination goes down or comes back (1/2/1 gives 25/50/25 %, and 33/67 % once the third is down).
    RelativeWeight,
    /// 12: every usable destination, in set order (for parallel forking).
    Parallel,
    /// 13: the usable destination with the lowest probe round-trip time (EWMA), unmeasured ones last.
    Latency,
}

impl Algorithm {
    /// Every algorithm, in number order.
    pub const ALL: [Algorithm; 15] = [
        Algorithm::HashCallId,
        Algorithm::HashFromUri,
        Algorithm::HashToUri,
        Algorithm::HashRequestUri,
        Algorithm::HashRequestUriUser,
        Algorithm::RoundRobin,
        Algorithm::HashAuthUsername,
        Algorithm::Random,
        Algorithm::HashKey,
        Algorithm::Priority,
        Algorithm::Weight,
        Algorithm::CallLoad,
        Algorithm::RelativeWeight,
        Algorithm::Parallel,
        Algorithm::Latency,
    ];

    /// The algorithm Kamailio numbers `n` (3 is the whole Request-URI); `None` for unknown numbers.
    pub fn from_number(n: u32) -> Option<Algorithm> {
        Some(match n {
            0 => Algorithm::HashCallId,
            1 => Algorithm::HashFromUri,
            2 => Algorithm::HashToUri,
            3 => Algorithm::HashRequestUri,
            4 => Algorithm::RoundRobin,
            5 => Algorithm::HashAuthUsername,
            6 => Algorithm::Random,
            7 => Algorithm::HashKey,
            8 => Algorithm::Priority,
            9 => Algorithm::Weight,
            10 => Algorithm::CallLoad,
            11 => Algorithm::RelativeWeight,
            12 => Algorithm::Parallel,
            13 => Algorithm::Latency,
            _ => return None,
        })
    }

    /// Kamailio's number for this algorithm.
    pub const fn number(self) -> u32 {
        match self {
            Algorithm::HashCallId => 0,
            Algorithm::HashFromUri => 1,
            Algorithm::HashToUri => 2,
            Algorithm::HashRequestUri | Algorithm::HashRequestUriUser => 3,
            Algorithm::RoundRobin => 4,
            Algorithm::HashAuthUsername => 5,
            Algorithm::Random => 6,
            Algorithm::HashKey => 7,
            Algorithm::Priority => 8,
            Algorithm::Weight => 9,
            Algorithm::CallLoad => 10,
            Algorithm::RelativeWeight => 11,
            Algorithm::Parallel => 12,
            Algorithm::Latency => 13,
        }
    }

    /// The kebab-case name (`"hash-call-id"`, `"round-robin"`, …), accepted by [`str::parse`].
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::HashCallId => "hash-call-id",
            Algorithm::HashFromUri => "hash-from-uri",
            Algorithm::HashToUri => "hash-to-uri",
            Algorithm::HashRequestUri => "hash-request-uri",
            Algorithm::HashRequestUriUser => "hash-request-uri-user",
            Algorithm::RoundRobin => "round-robin",
            Algorithm::HashAuthUsername => "hash-auth-username",
            Algorithm::Random => "random",
            Algorithm::HashKey => "hash-key",
            Algorithm::Priority => "priority",
            Algorithm::Weight => "weight",
            Algorithm::CallLoad => "call-load",
            Algorithm::RelativeWeight => "relative-weight",
            Algorithm::Parallel => "parallel",
            Algorithm::Latency => "latency",
        }
    }

    /// Whether the algorithm hashes a key from the request.
    pub const fn is_hash(self) -> bool {
        matches!(
            self,
            Algorithm::HashCallId
                | Algorithm::HashFromUri
                | Algorithm::HashToUri
                | Algorithm::HashRequestUri
                | Algorithm::HashRequestUriUser
                | Algorithm::HashAuthUsername
                | Algorithm::HashKey
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name or number that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dispatcher algorithm {0:?}")]
pub struct UnknownAlgorithm(pub String);

/// Parses a Kamailio number (`"4"`) or a name (`"round-robin"`, case-insensitive).
impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Algorithm, UnknownAlgorithm> {
        let s = s.trim();
        let by_number = s.parse().ok().and_then(Algorithm::from_number);
        by_number
            .or_else(|| {
                Algorithm::ALL
                    .into_iter()
                    .find(|a| a.name().eq_ignore_ascii_case(s))
            })
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

/// What a selection looks at: the request being routed, or a key the caller computed.
#[derive(Debug, Clone, Copy)]
pub enum SelectInput<'a> {
    /// The request: hashing algorithms read their header (Call-ID, From, To, Request-URI, credentials).
    Request(&'a Request),
    /// A key to hash, whatever the hashing algorithm (the request's part was extracted by the caller).
    Key(&'a [u8]),
    /// Nothing: hashing algorithms fall back to round-robin.
    None,
}

impl<'a> From<&'a Request> for SelectInput<'a> {
    fn from(request: &'a Request) -> SelectInput<'a> {
        SelectInput::Request(request)
    }
}

impl<'a> From<&'a [u8]> for SelectInput<'a> {
    fn from(key: &'a [u8]) -> SelectInput<'a> {
        SelectInput::Key(key)
    }
}

impl<'a> From<&'a str> for SelectInput<'a> {
    fn from(key: &'a str) -> SelectInput<'a> {
        SelectInput::Key(key.as_bytes())
    }
}

/// The hash a hashing algorithm gives `input`, or `None` when the key is absent (or the algorithm does not
/// hash). The hash is stable across processes and versions of the program, so several proxies sharing a
/// list send a call to the same destination.
pub(crate) fn hash_input(algorithm: Algorithm, input: SelectInput<'_>) -> Option<u64> {
    if !algorithm.is_hash() {
        return None;
    }
    let mut h = KeyHasher::new();
    match input {
        SelectInput::Key(key) => h.write(key),
        SelectInput::None => return None,
        SelectInput::Request(request) => hash_request(algorithm, request, &mut h)?,
    }
    Some(h.finish())
}

fn hash_request(algorithm: Algorithm, request: &Request, h: &mut KeyHasher) -> Option<()> {
    let headers = request.headers();
    match algorithm {
        Algorithm::HashCallId => h.write(headers.call_id()?.ok()?.as_bytes()),
        Algorithm::HashFromUri => hash_uri(headers.from()?.ok()?.uri(), h),
        Algorithm::HashToUri => hash_uri(headers.to()?.ok()?.uri(), h),
        Algorithm::HashRequestUri => hash_uri(request.uri(), h),
        Algorithm::HashRequestUriUser => hash_user(request.uri(), h)?,
        Algorithm::HashAuthUsername => {
            let proxy = headers.typed::<ProxyAuthorization>().and_then(Result::ok);
            let credentials = match proxy {
                Some(p) => p.0,
                None => headers.typed::<Authorization>()?.ok()?.0,
            };
            h.write(&credentials.username()?);
        }
        _ => return None,
    }
    Some(())
}

/// Hash a URI's identity: user, host (case-folded) and port for SIP; the number for TEL; else the text.
fn hash_uri(uri: &Uri, h: &mut KeyHasher) {
    match uri {
        Uri::Sip(sip) => {
            if let Some(user) = sip.user() {
                h.write(user);
                h.write(b"@");
            }
            match sip.host() {
                Host::Domain(name) => h.write_lower(name),
                Host::Ipv4(a) => h.write(&a.octets()),
                Host::Ipv6(a) => h.write(&a.octets()),
            }
            if let Some(port) = sip.port() {
                h.write(&port.to_be_bytes());
            }
        }
        Uri::Tel(tel) => h.write(tel.number()),
        Uri::Other { raw, .. } => h.write(raw),
    }
}

fn hash_user(uri: &Uri, h: &mut KeyHasher) -> Option<()> {
    match uri {
        Uri::Sip(sip) => h.write(sip.user()?),
        Uri::Tel(tel) => h.write(tel.number()),
        Uri::Other { .. } => return None,
    }
    Some(())
}

/// FNV-1a over the key bytes, finished with a 64-bit mixer so that keys differing only in their last bytes
/// still spread over all buckets.
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    pub(crate) fn new() -> KeyHasher {
        KeyHasher(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.byte(*b);
        }
    }

    fn write_lower(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.byte(b.to_ascii_lowercase());
        }
    }

    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    pub(crate) fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tandem_sip_core::{HeaderName, Method};

    fn request(ruri: &'static str, from: &'static str) -> Request {
        let uri = Uri::parse(&Bytes::from_static(ruri.as_bytes())).unwrap();
        Request::builder(Method::Invite, uri)
            .header(HeaderName::From, from)
            .header(HeaderName::CallId, "abc@host")
            .build()
    }

    #[test]
    fn numbers_and_names_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(a.name().parse::<Algorithm>().unwrap(), a);
            if a != Algorithm::HashRequestUriUser {
                assert_eq!(Algorithm::from_number(a.number()), Some(a));
            }
        }
        assert_eq!("10".parse::<Algorithm>().unwrap(), Algorithm::CallLoad);
        assert!("14".parse::<Algorithm>().is_err());
        assert!("fastest".parse::<Algorithm>().is_err());
    }

    #[test]
    fn from_uri_hash_ignores_display_name_tag_and_host_case() {
        let a = request("sip:x@h", "\"Alice\" <sip:alice@Example.COM>;tag=1");
        let b = request("sip:y@h", "<sip:alice@example.com>;tag=2");
        let ha = hash_input(Algorithm::HashFromUri, (&a).into());
        assert!(ha.is_some());
        assert_eq!(ha, hash_input(Algorithm::HashFromUri, (&b).into()));
    }

    #[test]
    fn request_uri_user_hash_ignores_host() {
        let a = request("sip:9999@proxy-a.example", "<sip:a@b>");
        let b = request("sip:9999@proxy-b.example", "<sip:a@b>");
        let ua = hash_input(Algorithm::HashRequestUriUser, (&a).into());
        assert_eq!(ua, hash_input(Algorithm::HashRequestUriUser, (&b).into()));
        let ra = hash_input(Algorithm::HashRequestUri, (&a).into());
        assert_ne!(ra, hash_input(Algorithm::HashRequestUri, (&b).into()));
    }

    #[test]
    fn missing_key_gives_no_hash() {
        let r = request("sip:h.example", "<sip:a@b>");
        assert_eq!(hash_input(Algorithm::HashRequestUriUser, (&r).into()), None);
        assert_eq!(hash_input(Algorithm::HashAuthUsername, (&r).into()), None);
        assert_eq!(hash_input(Algorithm::HashKey, (&r).into()), None);
        assert_eq!(hash_input(Algorithm::RoundRobin, "k".into()), None);
    }

    #[test]
    fn auth_username_prefers_proxy_authorization() {
        let uri = Uri::parse(&Bytes::from_static(b"sip:h.example")).unwrap();
        let both = Request::builder(Method::Invite, uri.clone())
            .header(
                HeaderName::Authorization,
                "Digest username=\"bob\", realm=\"r\"",
            )
            .header(
                HeaderName::ProxyAuthorization,
                "Digest username=\"alice\", realm=\"r\"",
            )
            .build();
        let key = hash_input(Algorithm::HashAuthUsername, (&both).into());
        assert_eq!(key, hash_input(Algorithm::HashKey, "alice".into()));
    }

    #[test]
    fn key_hash_is_fnv1a_before_mixing() {
        // Published FNV-1a 64-bit test vectors: the hash must not depend on the process or the build, or
        // proxies sharing a list would send one call to different destinations.
        for (input, expected) in [
            (&b""[..], 0xcbf2_9ce4_8422_2325_u64),
            (b"a", 0xaf63_dc4c_8601_ec8c),
            (b"foobar", 0x8594_4171_f739_67e8),
        ] {
            let mut h = KeyHasher::new();
            h.write(input);
            assert_eq!(h.0, expected);
        }
    }

    #[test]
    fn mixer_separates_keys_differing_in_last_byte() {
        let hash = |k: &[u8]| {
            let mut h = KeyHasher::new();
            h.write(k);
            h.finish()
        };
        let buckets: std::collections::HashSet<u64> =
            (b'0'..=b'9').map(|c| hash(&[b'k', c]) % 4).collect();
        assert!(buckets.len() > 1);
    }
}
