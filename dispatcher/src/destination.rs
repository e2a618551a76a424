//! Destinations: a SIP URI with Kamailio-style flags, priority and attributes, and its health state.

use crate::error::{Field, ListError, ListErrorKind};
use bytes::Bytes;
use std::fmt;
use std::net::Ipv6Addr;
use tandem_sip_core::{Host, SipUri, Transport, TransportKind, Uri};

/// Longest `attrs` column accepted, in bytes.
pub const MAX_ATTRIBUTES_LEN: usize = 1024;

/// Identifies one destination of a [`crate::Dispatcher`]; kept across reloads for destinations that remain
/// (same set, same URI) and never reused for another destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestinationId(pub(crate) u64);

impl DestinationId {
    /// The id as a number (for logs, metrics and APIs).
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DestinationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The health state of a destination (Kamailio's `A`, `T`, `I`, `D`, plus `Probing` for a destination not yet
/// confirmed up).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum DestinationState {
    /// Up: takes traffic.
    Active,
    /// Takes traffic, but its last probes or requests failed (fewer times in a row than the down threshold).
    Trying,
    /// Not confirmed up yet (a new destination when [`crate::DispatcherConfig::new_destination_state`] says
    /// so): takes no traffic until enough probes succeed.
    Probing,
    /// Down: takes no traffic; probed until enough probes in a row succeed.
    Inactive,
    /// Disabled by the administrator: takes no traffic and is not probed.
    Disabled,
}

impl DestinationState {
    /// Whether new requests may be sent to a destination in this state.
    pub const fn takes_traffic(self) -> bool {
        matches!(self, DestinationState::Active | DestinationState::Trying)
    }

    /// The lower-case name (`"active"`, `"trying"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            DestinationState::Active => "active",
            DestinationState::Trying => "trying",
            DestinationState::Probing => "probing",
            DestinationState::Inactive => "inactive",
            DestinationState::Disabled => "disabled",
        }
    }

    /// The state a list line's flags give (disabled wins over inactive, inactive over trying).
    pub const fn from_flags(flags: u32) -> DestinationState {
        if flags & Destination::FLAG_DISABLED != 0 {
            DestinationState::Disabled
        } else if flags & Destination::FLAG_INACTIVE != 0 {
            DestinationState::Inactive
        } else if flags & Destination::FLAG_TRYING != 0 {
            DestinationState::Trying
        } else {
            DestinationState::Active
        }
    }

    /// The state bits of a list line for this state; `Probing` is written as inactive (it takes no traffic).
    const fn flag_bits(self) -> u32 {
        match self {
            DestinationState::Active => 0,
            DestinationState::Trying => Destination::FLAG_TRYING,
            DestinationState::Probing | DestinationState::Inactive => Destination::FLAG_INACTIVE,
            DestinationState::Disabled => Destination::FLAG_DISABLED,
        }
    }
}

impl fmt::Display for DestinationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One destination of a set: a line of a `dispatcher.list` file
/// (`setid destination flags priority attrs`) without its set id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Where requests go (and probes are sent): a `sip:` or `sips:` URI.
    pub uri: Uri,
    /// The flags column as given; the state bits ([`Destination::FLAG_INACTIVE`], …) are also reflected in
    /// [`Destination::state`] and the probing bit in [`Destination::is_probing`].
    pub flags: u32,
    /// Ordering within the set: higher values come first (Kamailio's priority column).
    pub priority: i32,
    /// The `name=value;…` attributes.
    pub attrs: Attributes,
    /// The state the list gives the destination (from its flags) or, in a [`crate::Snapshot`], its current
    /// one.
    pub state: DestinationState,
}

impl Destination {
    /// Flag bit: the destination starts inactive.
    pub const FLAG_INACTIVE: u32 = 1;
    /// Flag bit: the destination starts in the trying state.
    pub const FLAG_TRYING: u32 = 2;
    /// Flag bit: the destination is disabled by the administrator.
    pub const FLAG_DISABLED: u32 = 4;
    /// Flag bit: the destination is probed (with [`crate::ProbeMode::Flagged`]).
    pub const FLAG_PROBING: u32 = 8;

    /// An active destination with no flags, priority 0 and no attributes.
    pub fn new(uri: Uri) -> Destination {
        Destination {
            uri,
            flags: 0,
            priority: 0,
            attrs: Attributes::default(),
            state: DestinationState::Active,
        }
    }

    /// The same destination with these flags (and the state they give).
    pub fn with_flags(mut self, flags: u32) -> Destination {
        self.flags = flags;
        self.state = DestinationState::from_flags(flags);
        self
    }

    /// The same destination with this priority.
    pub fn with_priority(mut self, priority: i32) -> Destination {
        self.priority = priority;
        self
    }

    /// The same destination with these attributes.
    pub fn with_attrs(mut self, attrs: Attributes) -> Destination {
        self.attrs = attrs;
        self
    }

    /// Whether the probing flag is set.
    pub fn is_probing(&self) -> bool {
        self.flags & Destination::FLAG_PROBING != 0
    }

    /// The URI as a SIP URI (always one for destinations loaded from a list).
    pub fn sip_uri(&self) -> Option<&SipUri> {
        self.uri.as_sip()
    }

    /// The transport requests to this destination use: the URI's `transport` parameter, else TLS for `sips:`,
    /// else UDP (RFC 3263 §4.1 without DNS).
    pub fn transport(&self) -> TransportKind {
        let Some(sip) = self.uri.as_sip() else {
            return TransportKind::Udp;
        };
        match sip.transport().and_then(transport_from_token) {
            Some(t) => t,
            None if sip.is_secure() => TransportKind::Tls,
            None => TransportKind::Udp,
        }
    }

    /// The flags to write for this destination: the given flags if they give [`Destination::state`], else
    /// the given flags with their state bits replaced by the state's.
    pub fn flags_for_state(&self) -> u32 {
        if DestinationState::from_flags(self.flags) == self.state {
            return self.flags;
        }
        let state_bits =
            Destination::FLAG_INACTIVE | Destination::FLAG_TRYING | Destination::FLAG_DISABLED;
        (self.flags & !state_bits) | self.state.flag_bits()
    }
}

fn transport_from_token(token: &[u8]) -> Option<TransportKind> {
    let kinds = [
        ("udp", TransportKind::Udp),
        ("tcp", TransportKind::Tcp),
        ("tls", TransportKind::Tls),
        ("ws", TransportKind::Ws),
        ("wss", TransportKind::Wss),
    ];
    kinds
        .into_iter()
        .find(|(name, _)| token.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, kind)| kind)
}

/// The local socket to send from (`socket=udp:192.0.2.10:5060`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SendSocket {
    /// The transport.
    pub transport: TransportKind,
    /// The local address or name.
    pub host: Host,
    /// The local port, if given.
    pub port: Option<u16>,
}

impl SendSocket {
    /// Parse `proto:host[:port]` (IPv6 hosts in brackets when a port follows).
    pub fn parse(text: &str) -> Option<SendSocket> {
        let (proto, rest) = text.split_once(':')?;
        let transport = transport_from_token(proto.as_bytes())?;
        let (host, port) = split_host_port(rest)?;
        let host = Host::parse(host.as_bytes()).ok()?;
        Some(SendSocket {
            transport,
            host,
            port,
        })
    }
}

fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    if text.parse::<Ipv6Addr>().is_ok() {
        return Some((text, None));
    }
    if let Some(inner) = text.strip_prefix('[') {
        let (_, after) = inner.split_once(']')?;
        let host_len = text.len() - after.len();
        let host = text.get(..host_len)?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((text, None)),
    }
}

impl fmt::Display for SendSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = Transport::from(self.transport);
        let proto = String::from_utf8_lossy(proto.as_bytes()).to_ascii_lowercase();
        write!(f, "{proto}:{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// The attributes column (`duid=abc;weight=50;socket=udp:192.0.2.10:5060;my=xyz`): the raw text, kept as
/// given, and the values Kamailio's dispatcher gives a meaning to, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    raw: String,
    weight: Option<u32>,
    rweight: Option<u32>,
    duid: Option<String>,
    maxload: Option<u32>,
    socket: Option<SendSocket>,
    ping_from: Option<Uri>,
}

/// Where an attribute value went wrong: byte offset in the attributes text and what was expected.
pub(crate) struct AttrError {
    pub(crate) offset: usize,
    pub(crate) expected: &'static str,
}

impl Attributes {
    /// Parse an attributes column. Names are matched case-insensitively; unknown names are kept in
    /// [`Attributes::raw`] only. Errors carry the 1-based byte column within `raw` (and line 0).
    pub fn parse(raw: &str) -> Result<Attributes, ListError> {
        Attributes::parse_at(raw).map_err(|e| {
            ListError::new(
                0,
                e.offset + 1,
                Some(Field::Attributes),
                ListErrorKind::Invalid {
                    expected: e.expected,
                },
            )
        })
    }

    pub(crate) fn parse_at(raw: &str) -> Result<Attributes, AttrError> {
        if raw.len() > MAX_ATTRIBUTES_LEN {
            return Err(AttrError {
                offset: MAX_ATTRIBUTES_LEN,
                expected: "at most 1024 bytes of attributes",
            });
        }
        let mut attrs = Attributes {
            raw: raw.to_owned(),
            ..Attributes::default()
        };
        let mut offset = 0;
        for part in raw.split(';') {
            attrs.apply(part, offset)?;
            offset += part.len() + 1;
        }
        Ok(attrs)
    }

    /// Record one `name=value` element that starts at byte `offset`.
    fn apply(&mut self, part: &str, offset: usize) -> Result<(), AttrError> {
        if part.is_empty() {
            return Ok(());
        }
        if let Some(bad) = part.find(|c: char| c.is_ascii_control() || c.is_whitespace()) {
            return Err(AttrError {
                offset: offset + bad,
                expected: "no spaces or control characters in attributes",
            });
        }
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let at = AttrError {
            offset: offset + name.len() + 1,
            expected: "",
        };
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "weight" => self.weight = Some(percent(value, at)?),
            "rweight" => self.rweight = Some(percent(value, at)?),
            "maxload" => {
                self.maxload = Some(value.parse().map_err(|_| AttrError {
                    expected: "maxload=<number of calls>",
                    ..at
                })?);
            }
            "duid" if value.is_empty() => {
                return Err(AttrError {
                    expected: "duid=<unique id>",
                    ..at
                });
            }
            "duid" => self.duid = Some(value.to_owned()),
            "socket" => {
                self.socket = Some(SendSocket::parse(value).ok_or(AttrError {
                    expected: "socket=<udp|tcp|tls|ws|wss>:<host>[:<port>]",
                    ..at
                })?);
            }
            "ping_from" => {
                let uri = Uri::parse(&Bytes::copy_from_slice(value.as_bytes()));
                match uri {
                    Ok(uri) if uri.as_sip().is_some() => self.ping_from = Some(uri),
                    _ => {
                        return Err(AttrError {
                            expected: "ping_from=<sip URI>",
                            ..at
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The attributes as given.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The share of traffic for the weight algorithm (9), 0..=100.
    pub fn weight(&self) -> Option<u32> {
        self.weight
    }

    /// The share of traffic for the relative-weight algorithm (11), 0..=100; 0 leaves the destination out.
    pub fn rweight(&self) -> Option<u32> {
        self.rweight
    }

    /// A unique id of the destination (Kamailio uses it to count call load).
    pub fn duid(&self) -> Option<&str> {
        self.duid.as_deref()
    }

    /// The most active calls the call-load algorithm (10) sends here; 0 or absent means no limit.
    pub fn maxload(&self) -> Option<u32> {
        self.maxload
    }

    /// The local socket to send requests and probes from.
    pub fn socket(&self) -> Option<&SendSocket> {
        self.socket.as_ref()
    }

    /// The From URI of this destination's probes (overrides [`crate::ProbeConfig::from`]).
    pub fn ping_from(&self) -> Option<&Uri> {
        self.ping_from.as_ref()
    }

    /// The value of attribute `name` (case-insensitive), known or not; the last one wins if repeated.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .last()
    }

    /// Every `(name, value)` pair in order (a name without `=` has an empty value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.raw
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
    }
}

impl std::str::FromStr for Attributes {
    type Err = ListError;

    fn from_str(s: &str) -> Result<Attributes, ListError> {
        Attributes::parse(s)
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A weight value: an integer in `0..=100`.
fn percent(value: &str, at: AttrError) -> Result<u32, AttrError> {
    match value.parse::<u32>() {
        Ok(v) if v <= 100 => Ok(v),
        _ => Err(AttrError {
            expected: "a weight from 0 to 100",
            ..at
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_attributes_and_keeps_unknown_ones() {
        let a = Attributes::parse(
            "duid=gw1;weight=80;rweight=3;maxload=20;socket=udp:192.0.2.10:5060;my=xyz",
        )
        .unwrap();
        assert_eq!(a.duid(), Some("gw1"));
        assert_eq!(a.weight(), Some(80));
        assert_eq!(a.rweight(), Some(3));
        assert_eq!(a.maxload(), Some(20));
        let socket = a.socket().unwrap();
        assert_eq!(socket.transport, TransportKind::Udp);
        assert_eq!(socket.port, Some(5060));
        assert_eq!(socket.to_string(), "udp:192.0.2.10:5060");
        assert_eq!(a.get("MY"), Some("xyz"));
        assert_eq!(a.to_string(), a.raw());
    }

    #[test]
    fn rejects_weight_above_one_hundred_at_its_column() {
        let e = Attributes::parse("duid=a;weight=101").unwrap_err();
        assert_eq!(e.column, 15);
        assert_eq!(e.field, Some(Field::Attributes));
    }

    #[test]
    fn rejects_spaces_inside_attributes() {
        let e = Attributes::parse("a=b c").unwrap_err();
        assert_eq!(e.column, 4);
    }

    #[test]
    fn rejects_unknown_socket_protocol() {
        assert!(Attributes::parse("socket=sctp:192.0.2.1:5060").is_err());
        assert!(Attributes::parse("socket=udp:192.0.2.1:99999").is_err());
    }

    #[test]
    fn parses_ipv6_sockets_with_and_without_port() {
        let s = SendSocket::parse("tcp:[2001:db8::1]:5070").unwrap();
        assert_eq!(s.port, Some(5070));
        assert_eq!(s.transport, TransportKind::Tcp);
        let s = SendSocket::parse("tls:2001:db8::1").unwrap();
        assert_eq!(s.port, None);
        assert!(matches!(s.host, Host::Ipv6(_)));
    }

    #[test]
    fn state_follows_flag_precedence() {
        assert_eq!(DestinationState::from_flags(0), DestinationState::Active);
        assert_eq!(
            DestinationState::from_flags(2 | 8),
            DestinationState::Trying
        );
        assert_eq!(
            DestinationState::from_flags(1 | 2),
            DestinationState::Inactive
        );
        assert_eq!(DestinationState::from_flags(5), DestinationState::Disabled);
    }

    #[test]
    fn flags_for_state_keep_probing_bit() {
        let uri = Uri::parse(&Bytes::from_static(b"sip:192.0.2.1")).unwrap();
        let mut d = Destination::new(uri).with_flags(Destination::FLAG_PROBING);
        d.state = DestinationState::Inactive;
        assert_eq!(d.flags_for_state(), 9);
    }

    #[test]
    fn transport_comes_from_uri() {
        let parse = |s: &'static str| {
            Destination::new(Uri::parse(&Bytes::from_static(s.as_bytes())).unwrap())
        };
        assert_eq!(
            parse("sip:a.example;transport=TCP").transport(),
            TransportKind::Tcp
        );
        assert_eq!(parse("sips:a.example").transport(), TransportKind::Tls);
        assert_eq!(parse("sip:a.example").transport(), TransportKind::Udp);
    }
}
