//! Session-level fields of a session description (RFC 8866 §5): `o=`, `c=`, `b=`, `t=`, `r=`, `z=`.

use std::fmt;
use std::net::IpAddr;

use bytestring::ByteString;

use super::error::FieldError;
use super::scanner::{Scanner, is_non_ws};
use super::{Attribute, MediaDescription};

/// Longest list accepted inside one value (formats of an `m=` line, tags of `a=group`, candidate extensions, …).
pub(crate) const MAX_ITEMS: usize = 512;

pub(crate) fn too_many_items(at: usize) -> FieldError {
    FieldError {
        at,
        kind: super::SdpErrorKind::TooManyItems { limit: MAX_ITEMS },
        expected: "a shorter list",
    }
}

/// A whole session description: session-level fields, then the media descriptions in order.
///
/// Parse with [`SessionDescription::parse`] (zero-copy over [`bytes::Bytes`]) or [`str::parse`]; serialize with
/// [`fmt::Display`] (`to_string()`) or [`SessionDescription::to_bytes`], which always writes CRLF line ends. The
/// version line is always `v=0`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDescription {
    /// `o=`: who created the description and its version.
    pub origin: Origin,
    /// `s=`: the session name (`-` when it has none).
    pub session_name: ByteString,
    /// `i=`: session information.
    pub information: Option<ByteString>,
    /// `u=`: a URI with more information.
    pub uri: Option<ByteString>,
    /// `e=` lines, verbatim.
    pub emails: Vec<ByteString>,
    /// `p=` lines, verbatim.
    pub phones: Vec<ByteString>,
    /// The session-level `c=` line, the default for media sections without their own.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` and `z=` lines; a parsed description has at least one.
    pub times: Vec<TimeDescription>,
    /// `k=` (obsolete in RFC 8866), verbatim.
    pub key: Option<ByteString>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// Media descriptions (`m=` sections), in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// A description with the given origin and session name, `t=0 0` and nothing else.
    pub fn new(origin: Origin, session_name: impl Into<ByteString>) -> Self {
        SessionDescription {
            origin,
            session_name: session_name.into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            times: vec![TimeDescription::unbounded()],
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// The serialized description as bytes (CRLF line ends).
    pub fn to_bytes(&self) -> bytes::Bytes {
        bytes::Bytes::from(self.to_string())
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        write!(f, "o={}\r\ns={}\r\n", self.origin, self.session_name)?;
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        if let Some(u) = &self.uri {
            write!(f, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(f, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(f, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        if self.times.is_empty() {
            // A description without `t=` is invalid; write the usual unbounded time instead of producing one.
            write!(f, "{}", TimeDescription::unbounded())?;
        }
        for t in &self.times {
            write!(f, "{t}")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={k}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The user name, `-` when there is none.
    pub username: ByteString,
    /// The session id: decimal digits, kept as text because the grammar does not bound its length.
    pub session_id: ByteString,
    /// The session version, incremented whenever the description changes.
    pub session_version: u64,
    /// Network type, normally `IN`.
    pub net_type: ByteString,
    /// Address type, normally `IP4` or `IP6`.
    pub addr_type: ByteString,
    /// The creator's address (IP address or host name).
    pub address: ByteString,
}

impl Origin {
    /// An origin `- <session_id> <version> IN IP4|IP6 <address>`.
    pub fn new(session_id: u64, session_version: u64, address: IpAddr) -> Self {
        Origin {
            username: ByteString::from_static("-"),
            session_id: ByteString::from(session_id.to_string()),
            session_version,
            net_type: ByteString::from_static("IN"),
            addr_type: ByteString::from_static(addr_type_of(address)),
            address: ByteString::from(address.to_string()),
        }
    }

    pub(crate) fn parse(text: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(text);
        let username = s.non_ws("user name")?;
        s.space()?;
        let session_id = s.take(|b| b.is_ascii_digit(), "session id (digits)")?;
        s.space()?;
        let session_version = s.u64("session version")?;
        s.space()?;
        let net_type = s.token("network type")?;
        s.space()?;
        let addr_type = s.token("address type")?;
        s.space()?;
        let address = s.non_ws("unicast address")?;
        s.finish("end of line")?;
        Ok(Origin {
            username,
            session_id,
            session_version,
            net_type,
            addr_type,
            address,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

pub(crate) fn addr_type_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// `c=<nettype> <addrtype> <connection-address>`, also the address part of `a=rtcp` (RFC 3605).
///
/// Multicast suffixes are split off: `/ttl[/count]` for `IP4`, `/count` for `IP6`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// Network type, normally `IN`.
    pub net_type: ByteString,
    /// Address type, normally `IP4` or `IP6`.
    pub addr_type: ByteString,
    /// The address (IP address or host name) without multicast suffixes.
    pub address: ByteString,
    /// IPv4 multicast time-to-live.
    pub ttl: Option<u8>,
    /// Number of consecutive multicast addresses.
    pub address_count: Option<u32>,
}

impl Connection {
    /// `IN IP4|IP6 <ip>`.
    pub fn from_ip(ip: IpAddr) -> Self {
        Connection {
            net_type: ByteString::from_static("IN"),
            addr_type: ByteString::from_static(addr_type_of(ip)),
            address: ByteString::from(ip.to_string()),
            ttl: None,
            address_count: None,
        }
    }

    /// The address as an IP address, if it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// Whether the address is `0.0.0.0` (or `::`), which RFC 2543 used to put a stream on hold and ICE uses
    /// when no candidate is known yet.
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }

    pub(crate) fn parse(text: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(text);
        let c = Self::parse_from(&mut s)?;
        s.finish("end of line")?;
        Ok(c)
    }

    pub(crate) fn parse_from(s: &mut Scanner<'_>) -> Result<Self, FieldError> {
        let net_type = s.token("network type")?;
        s.space()?;
        let addr_type = s.token("address type")?;
        s.space()?;
        let (ttl_allowed, count_allowed) = match &*addr_type {
            "IP4" => (true, true),
            "IP6" => (false, true),
            _ => (false, false),
        };
        if !count_allowed {
            // Other address families: the whole non-ws-string is the address (extn-addr).
            let address = s.non_ws("connection address")?;
            return Ok(Connection {
                net_type,
                addr_type,
                address,
                ttl: None,
                address_count: None,
            });
        }
        let address = s.take(|b| is_non_ws(b) && b != b'/', "connection address")?;
        let mut ttl = None;
        let mut address_count = None;
        if ttl_allowed && s.eat(b'/') {
            ttl = Some(s.u8("multicast TTL (0-255)")?);
        }
        if s.eat(b'/') {
            address_count = Some(s.u32("number of addresses")?);
        }
        Ok(Connection {
            net_type,
            addr_type,
            address,
            ttl,
            address_count,
        })
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)?;
        if let Some(ttl) = self.ttl {
            write!(f, "/{ttl}")?;
        }
        if let Some(n) = self.address_count {
            write!(f, "/{n}")?;
        }
        Ok(())
    }
}

/// `b=<bwtype>:<bandwidth>` (e.g. `AS:64`, `TIAS:64000`, `RS:0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bandwidth {
    /// The modifier: `CT`, `AS`, `TIAS`, `RS`, `RR`, …
    pub bwtype: ByteString,
    /// The value, in the modifier's unit (kilobits per second for `CT`/`AS`).
    pub value: u64,
}

impl Bandwidth {
    pub(crate) fn parse(text: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(text);
        let bwtype = s.token("bandwidth type")?;
        s.expect(b':', "':'")?;
        let value = s.u64("bandwidth")?;
        s.finish("end of line")?;
        Ok(Bandwidth { bwtype, value })
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bwtype, self.value)
    }
}

/// A `t=` line with the `r=` lines that repeat it and the `z=` line that adjusts them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimeDescription {
    /// Start time in seconds since 1900 (NTP epoch), 0 for unbounded.
    pub start: u64,
    /// Stop time in seconds since 1900, 0 for unbounded.
    pub stop: u64,
    /// `r=` lines.
    pub repeats: Vec<RepeatTime>,
    /// The `z=` line's adjustments (empty when there is none).
    pub zone_adjustments: Vec<ZoneAdjustment>,
}

impl TimeDescription {
    /// `t=0 0`: a session with no time bounds, as every offer/answer description uses.
    pub fn unbounded() -> Self {
        TimeDescription {
            start: 0,
            stop: 0,
            repeats: Vec::new(),
            zone_adjustments: Vec::new(),
        }
    }

    pub(crate) fn parse(text: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(text);
        let start = s.u64("start time")?;
        s.space()?;
        let stop = s.u64("stop time")?;
        s.finish("end of line")?;
        Ok(TimeDescription {
            start,
            stop,
            repeats: Vec::new(),
            zone_adjustments: Vec::new(),
        })
    }

    pub(crate) fn parse_zone(text: &ByteString) -> Result<Vec<ZoneAdjustment>, FieldError> {
        let mut s = Scanner::new(text);
        let mut out = Vec::new();
        loop {
            if out.len() >= MAX_ITEMS {
                return Err(too_many_items(s.pos()));
            }
            let time = s.u64("adjustment time")?;
            s.space()?;
            let negative = s.eat(b'-');
            let offset = TypedTime::parse_from(&mut s)?;
            out.push(ZoneAdjustment {
                time,
                offset,
                negative,
            });
            if s.is_empty() {
                return Ok(out);
            }
            s.space()?;
        }
    }
}

impl fmt::Display for TimeDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={} {}\r\n", self.start, self.stop)?;
        for r in &self.repeats {
            write!(f, "r={r}\r\n")?;
        }
        if !self.zone_adjustments.is_empty() {
            f.write_str("z=")?;
            for (i, z) in self.zone_adjustments.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{z}")?;
            }
            f.write_str("\r\n")?;
        }
        Ok(())
    }
}

/// `r=<repeat interval> <active duration> <offsets from start-time>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepeatTime {
    /// How often the session repeats (never zero).
    pub interval: TypedTime,
    /// How long each repetition lasts.
    pub duration: TypedTime,
    /// Offsets of each repetition from the start time (at least one).
    pub offsets: Vec<TypedTime>,
}

impl RepeatTime {
    pub(crate) fn parse(text: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(text);
        let at = s.pos();
        let interval = TypedTime::parse_from(&mut s)?;
        if interval.value == 0 {
            return Err(FieldError::out_of_range(at, "non-zero repeat interval"));
        }
        s.space()?;
        let duration = TypedTime::parse_from(&mut s)?;
        let mut offsets = Vec::new();
        while !s.is_empty() {
            if offsets.len() >= MAX_ITEMS {
                return Err(too_many_items(s.pos()));
            }
            s.space()?;
            offsets.push(TypedTime::parse_from(&mut s)?);
        }
        if offsets.is_empty() {
            return Err(s.error("SP and an offset"));
        }
        Ok(RepeatTime {
            interval,
            duration,
            offsets,
        })
    }
}

impl fmt::Display for RepeatTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.interval, self.duration)?;
        for o in &self.offsets {
            write!(f, " {o}")?;
        }
        Ok(())
    }
}

/// One `z=` entry: from `time` on, shift repeat times by `offset` (backwards when `negative`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZoneAdjustment {
    /// When the adjustment takes effect, in seconds since 1900.
    pub time: u64,
    /// The size of the shift.
    pub offset: TypedTime,
    /// Whether the shift is backwards (`-` before the offset).
    pub negative: bool,
}

impl fmt::Display for ZoneAdjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(f, "{} {sign}{}", self.time, self.offset)
    }
}

/// A duration as written in `r=` and `z=`: a number with an optional unit (`7d`, `1h`, `3600`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypedTime {
    /// The number as written.
    pub value: u64,
    /// The unit letter, if any (seconds otherwise).
    pub unit: Option<TimeUnit>,
}

impl TypedTime {
    /// The duration in seconds (saturating).
    pub fn seconds(&self) -> u64 {
        let scale = match self.unit {
            None | Some(TimeUnit::Seconds) => 1,
            Some(TimeUnit::Minutes) => 60,
            Some(TimeUnit::Hours) => 3600,
            Some(TimeUnit::Days) => 86_400,
        };
        self.value.saturating_mul(scale)
    }

    fn parse_from(s: &mut Scanner<'_>) -> Result<Self, FieldError> {
        let value = s.u64("time value")?;
        let unit = match s.peek() {
            Some(b'd') => Some(TimeUnit::Days),
            Some(b'h') => Some(TimeUnit::Hours),
            Some(b'm') => Some(TimeUnit::Minutes),
            Some(b's') => Some(TimeUnit::Seconds),
            _ => None,
        };
        if unit.is_some() {
            s.eat(s.peek().unwrap_or(0));
        }
        Ok(TypedTime { value, unit })
    }
}

impl fmt::Display for TypedTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)?;
        match self.unit {
            None => Ok(()),
            Some(TimeUnit::Days) => f.write_str("d"),
            Some(TimeUnit::Hours) => f.write_str("h"),
            Some(TimeUnit::Minutes) => f.write_str("m"),
            Some(TimeUnit::Seconds) => f.write_str("s"),
        }
    }
}

/// The unit letter of a [`TypedTime`] (case-sensitive in SDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `d`
    Days,
    /// `h`
    Hours,
    /// `m`
    Minutes,
    /// `s`
    Seconds,
}
