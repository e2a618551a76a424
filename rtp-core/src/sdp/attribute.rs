//! `a=` lines: the typed attributes Tandem understands and a verbatim form for every other one.

use std::fmt;

use bytestring::ByteString;

use super::candidate::Candidate;
use super::error::{FieldError, SdpError};
use super::scanner::{Scanner, is_token_char};
use super::session::{Connection, MAX_ITEMS, too_many_items};
use crate::sdes::Crypto;

/// One `a=` line.
///
/// Attributes are typed when their name is one of those below (matched exactly, lower case as registered);
/// anything else is kept verbatim as [`Attribute::Other`], so unknown attributes survive a parse/serialize
/// round trip in their original order.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// `a=rtpmap:` (RFC 8866 §6.6).
    Rtpmap(Rtpmap),
    /// `a=fmtp:` (RFC 8866 §6.15).
    Fmtp(Fmtp),
    /// `a=ptime:` packet duration in milliseconds (RFC 8866 §6.4).
    Ptime(f64),
    /// `a=maxptime:` longest packet duration in milliseconds (RFC 8866 §6.5).
    MaxPtime(f64),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive` (RFC 8866 §6.7).
    Direction(Direction),
    /// `a=rtcp:` RTCP port and optional address (RFC 3605).
    Rtcp(Rtcp),
    /// `a=rtcp-mux` (RFC 5761).
    RtcpMux,
    /// `a=rtcp-rsize` (RFC 5506).
    RtcpRsize,
    /// `a=ice-ufrag:` (RFC 8839).
    IceUfrag(ByteString),
    /// `a=ice-pwd:` (RFC 8839).
    IcePwd(ByteString),
    /// `a=ice-lite` (RFC 8839).
    IceLite,
    /// `a=ice-options:` option tags (RFC 8839).
    IceOptions(Vec<ByteString>),
    /// `a=candidate:` (RFC 8839).
    Candidate(Candidate),
    /// `a=end-of-candidates` (RFC 8840).
    EndOfCandidates,
    /// `a=fingerprint:` certificate fingerprint (RFC 8122).
    Fingerprint(Fingerprint),
    /// `a=setup:` DTLS/TCP role (RFC 4145).
    Setup(Setup),
    /// `a=mid:` media identification tag (RFC 5888).
    Mid(ByteString),
    /// `a=group:` grouping of media sections, e.g. `BUNDLE` (RFC 5888, RFC 9143).
    Group(Group),
    /// `a=ssrc:` source-specific attribute (RFC 5576).
    Ssrc(Ssrc),
    /// `a=ssrc-group:` (RFC 5576).
    SsrcGroup(SsrcGroup),
    /// `a=msid:` media stream identification (RFC 8830).
    Msid(Msid),
    /// `a=msid-semantic:` (from the msid drafts, still sent by browsers).
    MsidSemantic(MsidSemantic),
    /// `a=extmap:` RTP header extension mapping (RFC 8285).
    Extmap(Extmap),
    /// `a=rtcp-fb:` RTCP feedback capability (RFC 4585).
    RtcpFb(RtcpFb),
    /// `a=crypto:` SDES SRTP keying (RFC 4568).
    Crypto(Crypto),
    /// Any other attribute, verbatim.
    Other {
        /// The attribute name.
        name: ByteString,
        /// The value after `:`, if there is one.
        value: Option<ByteString>,
    },
}

impl Attribute {
    /// Parses the text of an `a=` line after `a=` (e.g. `"rtpmap:0 PCMU/8000"` or `"rtcp-mux"`).
    ///
    /// Errors report line 1 and offsets inside `text`.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        parse_attribute(&ByteString::from(text)).map_err(FieldError::standalone)
    }

    /// A property attribute (no value) or an attribute with a value, kept verbatim.
    pub fn other(name: impl Into<ByteString>, value: Option<ByteString>) -> Self {
        Attribute::Other {
            name: name.into(),
            value,
        }
    }

    /// The attribute name as written after `a=`.
    pub fn name(&self) -> &str {
        match self {
            Attribute::Rtpmap(_) => "rtpmap",
            Attribute::Fmtp(_) => "fmtp",
            Attribute::Ptime(_) => "ptime",
            Attribute::MaxPtime(_) => "maxptime",
            Attribute::Direction(d) => d.as_str(),
            Attribute::Rtcp(_) => "rtcp",
            Attribute::RtcpMux => "rtcp-mux",
            Attribute::RtcpRsize => "rtcp-rsize",
            Attribute::IceUfrag(_) => "ice-ufrag",
            Attribute::IcePwd(_) => "ice-pwd",
            Attribute::IceLite => "ice-lite",
            Attribute::IceOptions(_) => "ice-options",
            Attribute::Candidate(_) => "candidate",
            Attribute::EndOfCandidates => "end-of-candidates",
            Attribute::Fingerprint(_) => "fingerprint",
            Attribute::Setup(_) => "setup",
            Attribute::Mid(_) => "mid",
            Attribute::Group(_) => "group",
            Attribute::Ssrc(_) => "ssrc",
            Attribute::SsrcGroup(_) => "ssrc-group",
            Attribute::Msid(_) => "msid",
            Attribute::MsidSemantic(_) => "msid-semantic",
            Attribute::Extmap(_) => "extmap",
            Attribute::RtcpFb(_) => "rtcp-fb",
            Attribute::Crypto(_) => "crypto",
            Attribute::Other { name, .. } => name,
        }
    }

    /// Whether this attribute belongs to ICE (RFC 8839/8840): what a relay strips when it terminates ICE.
    pub fn is_ice(&self) -> bool {
        matches!(
            self,
            Attribute::IceUfrag(_)
                | Attribute::IcePwd(_)
                | Attribute::IceLite
                | Attribute::IceOptions(_)
                | Attribute::Candidate(_)
                | Attribute::EndOfCandidates
        ) || matches!(self, Attribute::Other { name, .. } if &**name == "remote-candidates" || &**name == "ice-mismatch")
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Attribute::Direction(_)
            | Attribute::RtcpMux
            | Attribute::RtcpRsize
            | Attribute::IceLite
            | Attribute::EndOfCandidates
            | Attribute::Other { value: None, .. } => Ok(()),
            Attribute::Rtpmap(v) => write!(f, ":{v}"),
            Attribute::Fmtp(v) => write!(f, ":{v}"),
            Attribute::Ptime(v) | Attribute::MaxPtime(v) => write!(f, ":{v}"),
            Attribute::Rtcp(v) => write!(f, ":{v}"),
            Attribute::IceUfrag(v) | Attribute::IcePwd(v) | Attribute::Mid(v) => write!(f, ":{v}"),
            Attribute::IceOptions(tags) => {
                f.write_str(":")?;
                write_separated(f, tags, " ")
            }
            Attribute::Candidate(v) => write!(f, ":{v}"),
            Attribute::Fingerprint(v) => write!(f, ":{v}"),
            Attribute::Setup(v) => write!(f, ":{}", v.as_str()),
            Attribute::Group(v) => write!(f, ":{v}"),
            Attribute::Ssrc(v) => write!(f, ":{v}"),
            Attribute::SsrcGroup(v) => write!(f, ":{v}"),
            Attribute::Msid(v) => write!(f, ":{v}"),
            Attribute::MsidSemantic(v) => write!(f, ":{v}"),
            Attribute::Extmap(v) => write!(f, ":{v}"),
            Attribute::RtcpFb(v) => write!(f, ":{v}"),
            Attribute::Crypto(v) => write!(f, ":{v}"),
            Attribute::Other { value: Some(v), .. } => write!(f, ":{v}"),
        }
    }
}

pub(crate) fn write_separated<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    sep: &str,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Parses `attribute-name [":" attribute-value]`; errors are offsets inside `text`.
pub(crate) fn parse_attribute(text: &ByteString) -> Result<Attribute, FieldError> {
    let mut s = Scanner::new(text);
    let name = s.token("attribute name")?;
    if s.is_empty() {
        return flag_attribute(name);
    }
    s.expect(b':', "':' or end of line after the attribute name")?;
    let value_at = s.pos();
    let value = s.rest("attribute value")?;
    typed_attribute(name, value).map_err(|mut e| {
        e.at = e.at.saturating_add(value_at);
        e
    })
}

fn flag_attribute(name: ByteString) -> Result<Attribute, FieldError> {
    let attr = match &*name {
        "sendrecv" => Attribute::Direction(Direction::SendRecv),
        "sendonly" => Attribute::Direction(Direction::SendOnly),
        "recvonly" => Attribute::Direction(Direction::RecvOnly),
        "inactive" => Attribute::Direction(Direction::Inactive),
        "rtcp-mux" => Attribute::RtcpMux,
        "rtcp-rsize" => Attribute::RtcpRsize,
        "ice-lite" => Attribute::IceLite,
        "end-of-candidates" => Attribute::EndOfCandidates,
        n if VALUED.contains(&n) => return Err(FieldError::syntax(name.len(), "':' and a value")),
        _ => Attribute::Other { name, value: None },
    };
    Ok(attr)
}

/// Typed attributes that must carry a value.
const VALUED: &[&str] = &[
    "rtpmap",
    "fmtp",
    "ptime",
    "maxptime",
    "rtcp",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "candidate",
    "fingerprint",
    "setup",
    "mid",
    "group",
    "ssrc",
    "ssrc-group",
    "msid",
    "msid-semantic",
    "extmap",
    "rtcp-fb",
    "crypto",
];

/// Typed attributes that never carry a value.
const FLAGS: &[&str] = &[
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
    "rtcp-mux",
    "rtcp-rsize",
    "ice-lite",
    "end-of-candidates",
];

fn typed_attribute(name: ByteString, value: ByteString) -> Result<Attribute, FieldError> {
    let attr = match &*name {
        "rtpmap" => Attribute::Rtpmap(Rtpmap::parse(&value)?),
        "fmtp" => Attribute::Fmtp(Fmtp::parse(&value)?),
        "ptime" => Attribute::Ptime(parse_milliseconds(&value)?),
        "maxptime" => Attribute::MaxPtime(parse_milliseconds(&value)?),
        "rtcp" => Attribute::Rtcp(Rtcp::parse(&value)?),
        "ice-ufrag" => Attribute::IceUfrag(parse_ice_credential(
            &value,
            4,
            "ice-ufrag of 4-256 ice-chars",
        )?),
        "ice-pwd" => Attribute::IcePwd(parse_ice_credential(
            &value,
            22,
            "ice-pwd of 22-256 ice-chars",
        )?),
        "ice-options" => Attribute::IceOptions(parse_ice_options(&value)?),
        "candidate" => Attribute::Candidate(Candidate::parse_value(&value)?),
        "fingerprint" => Attribute::Fingerprint(Fingerprint::parse(&value)?),
        "setup" => Attribute::Setup(Setup::parse(&value)?),
        "mid" => Attribute::Mid(parse_token_value(&value, "identification tag (token)")?),
        "group" => Attribute::Group(Group::parse(&value)?),
        "ssrc" => Attribute::Ssrc(Ssrc::parse(&value)?),
        "ssrc-group" => Attribute::SsrcGroup(SsrcGroup::parse(&value)?),
        "msid" => Attribute::Msid(Msid::parse(&value)?),
        "msid-semantic" => Attribute::MsidSemantic(MsidSemantic::parse(&value)?),
        "extmap" => Attribute::Extmap(Extmap::parse(&value)?),
        "rtcp-fb" => Attribute::RtcpFb(RtcpFb::parse(&value)?),
        "crypto" => Attribute::Crypto(Crypto::parse_value(&value)?),
        n if FLAGS.contains(&n) => {
            return Err(FieldError::syntax(0, "no value for a property attribute"));
        }
        _ => Attribute::Other {
            name,
            value: Some(value),
        },
    };
    Ok(attr)
}

fn parse_token_value(value: &ByteString, expected: &'static str) -> Result<ByteString, FieldError> {
    let mut s = Scanner::new(value);
    let t = s.token(expected)?;
    s.finish(expected)?;
    Ok(t)
}

fn parse_ice_credential(
    value: &ByteString,
    min: usize,
    expected: &'static str,
) -> Result<ByteString, FieldError> {
    let mut s = Scanner::new(value);
    let v = s.ice_chars(expected)?;
    s.finish(expected)?;
    if v.len() < min || v.len() > 256 {
        return Err(FieldError::out_of_range(0, expected));
    }
    Ok(v)
}

fn parse_ice_options(value: &ByteString) -> Result<Vec<ByteString>, FieldError> {
    let mut s = Scanner::new(value);
    let mut tags = vec![s.ice_chars("ice option tag")?];
    while !s.is_empty() {
        if tags.len() >= MAX_ITEMS {
            return Err(too_many_items(s.pos()));
        }
        s.space()?;
        tags.push(s.ice_chars("ice option tag")?);
    }
    Ok(tags)
}

/// `non-zero-int-or-real` of RFC 8866 (`20`, `0.5`), as milliseconds.
fn parse_milliseconds(value: &ByteString) -> Result<f64, FieldError> {
    const EXPECTED: &str = "non-zero integer or decimal (e.g. 20 or 2.5)";
    let (int, frac) = match value.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (&**value, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = int.len() > 1 && int.starts_with('0');
    let valid = match frac {
        // integer = POS-DIGIT *DIGIT
        None => all_digits(int) && !int.starts_with('0'),
        // non-zero-real = zero-based-integer "." *DIGIT POS-DIGIT
        Some(frac) => all_digits(int) && !leading_zero && all_digits(frac) && !frac.ends_with('0'),
    };
    if !valid || value.len() > 32 {
        return Err(FieldError::syntax(0, EXPECTED));
    }
    value
        .parse::<f64>()
        .map_err(|_| FieldError::syntax(0, EXPECTED))
}

/// The media direction attributes (RFC 8866 §6.7, RFC 3264 §5.1), from the point of view of the side that
/// wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`: send and receive (the default).
    SendRecv,
    /// `a=sendonly`: send only.
    SendOnly,
    /// `a=recvonly`: receive only.
    RecvOnly,
    /// `a=inactive`: neither.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction allowing sending when `send` and receiving when `recv`.
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the writer sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the writer receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other side: `sendonly` ↔ `recvonly`.
    pub fn reversed(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// The direction an answerer writes (RFC 3264 §6.1) for a stream offered as `self`, when it is locally
    /// willing to do `local`: it sends only if the offerer receives and it may send, and likewise for receiving.
    pub fn answer(self, local: Direction) -> Direction {
        Direction::from_flags(
            self.receives() && local.sends(),
            self.sends() && local.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rtpmap {
    /// The RTP payload type (0-127).
    pub payload_type: u8,
    /// The encoding name as written (`opus`, `PCMU`, `telephone-event`); compare case-insensitively.
    pub encoding_name: ByteString,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The encoding parameters: the number of audio channels, when given.
    pub channels: Option<u16>,
}

impl Rtpmap {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let payload_type = s.payload_type()?;
        s.space()?;
        let encoding_name = s.token_without_slash("encoding name")?;
        s.expect(b'/', "'/' and clock rate")?;
        let clock_rate = s.u32("clock rate")?;
        let channels = if s.eat(b'/') {
            Some(s.u16("encoding parameters (channels)")?)
        } else {
            None
        };
        s.finish("end of line")?;
        Ok(Rtpmap {
            payload_type,
            encoding_name,
            clock_rate,
            channels,
        })
    }
}

impl fmt::Display for Rtpmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding_name, self.clock_rate
        )?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

impl Scanner<'_> {
    /// A token that stops at `/` (the token grammar does not contain `/`, so this is `token`).
    fn token_without_slash(&mut self, expected: &'static str) -> Result<ByteString, FieldError> {
        self.take(|b| is_token_char(b) && b != b'/', expected)
    }
}

/// `a=fmtp:<format> <format specific parameters>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fmtp {
    /// The format (an RTP payload type number for RTP media).
    pub format: ByteString,
    /// The parameters, verbatim (`minptime=10;useinbandfec=1`).
    pub parameters: ByteString,
}

impl Fmtp {
    /// The format as an RTP payload type, when it is one.
    pub fn payload_type(&self) -> Option<u8> {
        self.format.parse::<u8>().ok().filter(|pt| *pt <= 127)
    }

    /// The `;`-separated `name=value` pairs of the parameters (value `None` for a bare name such as the
    /// `0-15` of telephone-event), with surrounding spaces trimmed.
    pub fn params(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.parameters
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (p, None),
            })
    }

    /// The value of parameter `name` (names compared case-insensitively).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v)
    }

    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let format = s.token("format")?;
        s.space()?;
        let parameters = s.rest("format specific parameters")?;
        Ok(Fmtp { format, parameters })
    }
}

impl fmt::Display for Fmtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.format, self.parameters)
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when it differs from the media section's connection address.
    pub connection: Option<Connection>,
}

impl Rtcp {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let port = s.u16("port")?;
        let connection = if s.is_empty() {
            None
        } else {
            s.space()?;
            Some(Connection::parse_from(&mut s)?)
        };
        s.finish("end of line")?;
        Ok(Rtcp { port, connection })
    }
}

impl fmt::Display for Rtcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(c) = &self.connection {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

/// `a=fingerprint:<hash function> <fingerprint>` (RFC 8122): the hash of the DTLS certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The hash function as written (`sha-256`, `sha-1`, …).
    pub hash_function: ByteString,
    /// The fingerprint bytes (written as colon-separated upper-case hex).
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// Longest fingerprint accepted: SHA-512.
    const MAX_LEN: usize = 64;

    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let hash_function = s.token("hash function")?;
        s.space()?;
        let mut bytes = Vec::with_capacity(32);
        loop {
            if bytes.len() >= Self::MAX_LEN {
                return Err(FieldError::out_of_range(
                    s.pos(),
                    "fingerprint of at most 64 bytes",
                ));
            }
            let hi = hex_digit(s.peek()).ok_or_else(|| s.error("two hex digits"))?;
            s.eat(s.peek().unwrap_or(0));
            let lo = hex_digit(s.peek()).ok_or_else(|| s.error("two hex digits"))?;
            s.eat(s.peek().unwrap_or(0));
            bytes.push(hi << 4 | lo);
            if s.is_empty() {
                break;
            }
            s.expect(b':', "':' between fingerprint bytes")?;
        }
        Ok(Fingerprint {
            hash_function,
            value: bytes,
        })
    }
}

/// RFC 8122 says upper case; lower case is accepted because some stacks send it (it is re-written upper case).
fn hex_digit(b: Option<u8>) -> Option<u8> {
    match b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.hash_function)?;
        for (i, b) in self.value.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// `a=setup:` (RFC 4145): which side opens the connection (starts the DTLS handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: this side connects.
    Active,
    /// `passive`: this side accepts.
    Passive,
    /// `actpass`: either (offers only).
    ActPass,
    /// `holdconn`: no connection for now.
    HoldConn,
}

impl Setup {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }

    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        match &**value {
            "active" => Ok(Setup::Active),
            "passive" => Ok(Setup::Passive),
            "actpass" => Ok(Setup::ActPass),
            "holdconn" => Ok(Setup::HoldConn),
            _ => Err(FieldError::syntax(
                0,
                "active, passive, actpass or holdconn",
            )),
        }
    }
}

/// `a=group:<semantics> *(SP <identification-tag>)` (RFC 5888).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group {
    /// The semantics: `BUNDLE`, `LS`, `FID`, …
    pub semantics: ByteString,
    /// The `a=mid` values of the grouped media sections.
    pub mids: Vec<ByteString>,
}

impl Group {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let semantics = s.token("group semantics")?;
        let mut mids = Vec::new();
        while !s.is_empty() {
            if mids.len() >= MAX_ITEMS {
                return Err(too_many_items(s.pos()));
            }
            s.space()?;
            mids.push(s.token("identification tag")?);
        }
        Ok(Group { semantics, mids })
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.semantics)?;
        for m in &self.mids {
            write!(f, " {m}")?;
        }
        Ok(())
    }
}

/// `a=ssrc:<ssrc-id> <attribute>[:<value>]` (RFC 5576).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ssrc {
    /// The synchronization source.
    pub id: u32,
    /// The source attribute's name (`cname`, `msid`, …).
    pub attribute: ByteString,
    /// The source attribute's value.
    pub value: Option<ByteString>,
}

impl Ssrc {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let id = s.u32("SSRC (0-4294967295)")?;
        s.space()?;
        let attribute = s.token("source attribute name")?;
        let value = if s.eat(b':') {
            Some(s.rest("source attribute value")?)
        } else {
            None
        };
        s.finish("':' or end of line")?;
        Ok(Ssrc {
            id,
            attribute,
            value,
        })
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.attribute)?;
        if let Some(v) = &self.value {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}

/// `a=ssrc-group:<semantics> *(SP <ssrc-id>)` (RFC 5576), e.g. `FID` pairing a stream with its RTX.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SsrcGroup {
    /// The semantics: `FID`, `FEC`, `SIM`, …
    pub semantics: ByteString,
    /// The grouped sources.
    pub ssrcs: Vec<u32>,
}

impl SsrcGroup {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let semantics = s.token("group semantics")?;
        let mut ssrcs = Vec::new();
        while !s.is_empty() {
            if ssrcs.len() >= MAX_ITEMS {
                return Err(too_many_items(s.pos()));
            }
            s.space()?;
            ssrcs.push(s.u32("SSRC (0-4294967295)")?);
        }
        Ok(SsrcGroup { semantics, ssrcs })
    }
}

impl fmt::Display for SsrcGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.semantics)?;
        for id in &self.ssrcs {
            write!(f, " {id}")?;
        }
        Ok(())
    }
}

/// `a=msid:<id> [<appdata>]` (RFC 8830): the media stream and track a section belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Msid {
    /// The stream id (`-` for none), 1-64 token characters.
    pub id: ByteString,
    /// The application data, in practice the track id.
    pub appdata: Option<ByteString>,
}

impl Msid {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let id = s.token("msid id (1-64 token chars)")?;
        if id.len() > 64 {
            return Err(FieldError::out_of_range(0, "msid id (1-64 token chars)"));
        }
        let appdata = if s.is_empty() {
            None
        } else {
            s.space()?;
            let a = s.token("msid appdata (1-64 token chars)")?;
            if a.len() > 64 {
                return Err(FieldError::out_of_range(
                    s.pos().saturating_sub(a.len()),
                    "msid appdata (1-64 token chars)",
                ));
            }
            Some(a)
        };
        s.finish("end of line")?;
        Ok(Msid { id, appdata })
    }
}

impl fmt::Display for Msid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(a) = &self.appdata {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// `a=msid-semantic:<semantic> *(SP <identifier>)`, e.g. `WMS *` (draft-ietf-mmusic-msid, as browsers send it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MsidSemantic {
    /// The semantic, normally `WMS`.
    pub semantic: ByteString,
    /// The stream ids (or `*`).
    pub identifiers: Vec<ByteString>,
    /// Whether a space follows the colon (`a=msid-semantic: WMS`, as libwebrtc writes it); kept so the line
    /// round-trips byte for byte.
    pub leading_space: bool,
}

impl MsidSemantic {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let leading_space = s.eat(b' ');
        let semantic = s.token("msid semantic")?;
        let mut identifiers = Vec::new();
        while !s.is_empty() {
            if identifiers.len() >= MAX_ITEMS {
                return Err(too_many_items(s.pos()));
            }
            s.space()?;
            identifiers.push(s.token("msid identifier")?);
        }
        Ok(MsidSemantic {
            semantic,
            identifiers,
            leading_space,
        })
    }
}

impl fmt::Display for MsidSemantic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.leading_space {
            f.write_str(" ")?;
        }
        f.write_str(&self.semantic)?;
        for id in &self.identifiers {
            write!(f, " {id}")?;
        }
        Ok(())
    }
}

/// `a=extmap:<id>[/<direction>] <URI> [<extension attributes>]` (RFC 8285).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extmap {
    /// The local identifier used in the RTP header extension.
    pub id: u16,
    /// The direction, when restricted.
    pub direction: Option<Direction>,
    /// The extension's URI.
    pub uri: ByteString,
    /// Extension-specific attributes, verbatim.
    pub attributes: Option<ByteString>,
}

impl Extmap {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let id = s.u16("extension id")?;
        let direction = if s.eat(b'/') {
            let at = s.pos();
            let d = s.token("direction")?;
            Some(match &*d {
                "sendrecv" => Direction::SendRecv,
                "sendonly" => Direction::SendOnly,
                "recvonly" => Direction::RecvOnly,
                "inactive" => Direction::Inactive,
                _ => {
                    return Err(FieldError::syntax(
                        at,
                        "sendrecv, sendonly, recvonly or inactive",
                    ));
                }
            })
        } else {
            None
        };
        s.space()?;
        let uri = s.non_ws("extension URI")?;
        let attributes = if s.is_empty() {
            None
        } else {
            s.space()?;
            Some(s.rest("extension attributes")?)
        };
        Ok(Extmap {
            id,
            direction,
            uri,
            attributes,
        })
    }
}

impl fmt::Display for Extmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(d) = self.direction {
            write!(f, "/{d}")?;
        }
        write!(f, " {}", self.uri)?;
        if let Some(a) = &self.attributes {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// `a=rtcp-fb:<payload type or *> <feedback> [<parameter>]` (RFC 4585 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtcpFb {
    /// The payload type it applies to; `None` for `*` (all).
    pub payload_type: Option<u8>,
    /// The feedback type: `nack`, `ack`, `ccm`, `trr-int`, `goog-remb`, `transport-cc`, …
    pub feedback: ByteString,
    /// The rest (`pli`, `fir`, a `trr-int` value, …), verbatim.
    pub parameter: Option<ByteString>,
}

impl RtcpFb {
    fn parse(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let payload_type = if s.eat(b'*') {
            None
        } else {
            Some(s.payload_type()?)
        };
        s.space()?;
        let feedback = s.token("feedback type")?;
        let parameter = if s.is_empty() {
            None
        } else {
            s.space()?;
            Some(s.rest("feedback parameter")?)
        };
        Ok(RtcpFb {
            payload_type,
            feedback,
            parameter,
        })
    }
}

impl fmt::Display for RtcpFb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.payload_type {
            Some(pt) => write!(f, "{pt}")?,
            None => f.write_str("*")?,
        }
        write!(f, " {}", self.feedback)?;
        if let Some(p) = &self.parameter {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Attribute {
        Attribute::parse(s).unwrap()
    }

    #[test]
    fn parses_rtpmap_with_and_without_channels() {
        let Attribute::Rtpmap(r) = parse("rtpmap:111 opus/48000/2") else {
            panic!()
        };
        assert_eq!(
            (r.payload_type, &*r.encoding_name, r.clock_rate, r.channels),
            (111, "opus", 48000, Some(2))
        );
        let Attribute::Rtpmap(r) = parse("rtpmap:0 PCMU/8000") else {
            panic!()
        };
        assert_eq!(r.channels, None);
    }

    #[test]
    fn rejects_rtpmap_payload_type_over_127() {
        let err = Attribute::parse("rtpmap:128 foo/8000").unwrap_err();
        assert_eq!(err.kind, super::super::SdpErrorKind::OutOfRange);
        assert_eq!(err.offset, 7);
    }

    #[test]
    fn splits_fmtp_parameters() {
        let Attribute::Fmtp(f) = parse("fmtp:111 minptime=10;useinbandfec=1") else {
            panic!()
        };
        assert_eq!(f.param("useinbandfec"), Some("1"));
        assert_eq!(f.payload_type(), Some(111));
        let Attribute::Fmtp(f) = parse("fmtp:101 0-15") else {
            panic!()
        };
        assert_eq!(f.params().collect::<Vec<_>>(), vec![("0-15", None)]);
    }

    #[test]
    fn parses_fractional_ptime_and_rejects_zero() {
        assert_eq!(parse("ptime:20"), Attribute::Ptime(20.0));
        assert_eq!(parse("ptime:2.5"), Attribute::Ptime(2.5));
        assert!(Attribute::parse("ptime:0").is_err());
        assert!(Attribute::parse("ptime:20.0").is_err());
        assert!(Attribute::parse("ptime:020").is_err());
    }

    #[test]
    fn rejects_value_on_property_attribute_and_missing_value_on_valued_one() {
        assert!(Attribute::parse("rtcp-mux:yes").is_err());
        assert!(Attribute::parse("rtpmap").is_err());
        assert!(Attribute::parse("foo:").is_err());
    }

    #[test]
    fn keeps_unknown_attributes_verbatim() {
        let a = parse("x-custom:some value;with=stuff");
        assert_eq!(a.to_string(), "x-custom:some value;with=stuff");
        assert_eq!(
            parse("extmap-allow-mixed").to_string(),
            "extmap-allow-mixed"
        );
    }

    #[test]
    fn parses_rtcp_with_address() {
        let Attribute::Rtcp(r) = parse("rtcp:53020 IN IP6 2001:2345:6789:ABCD:EF01:2345:6789:ABCD")
        else {
            panic!()
        };
        assert_eq!(r.port, 53020);
        assert_eq!(
            r.connection.unwrap().address,
            "2001:2345:6789:ABCD:EF01:2345:6789:ABCD"
        );
        assert_eq!(
            parse("rtcp:9"),
            Attribute::Rtcp(Rtcp {
                port: 9,
                connection: None
            })
        );
    }

    #[test]
    fn validates_ice_credentials() {
        assert!(Attribute::parse("ice-ufrag:abc").is_err());
        assert!(Attribute::parse("ice-ufrag:ab-c").is_err());
        assert_eq!(parse("ice-ufrag:i7CC"), Attribute::IceUfrag("i7CC".into()));
        assert!(Attribute::parse("ice-pwd:tooshort").is_err());
    }

    #[test]
    fn parses_fingerprint_and_writes_upper_case() {
        let a = parse("fingerprint:sha-256 ab:CD:01");
        let Attribute::Fingerprint(fp) = &a else {
            panic!()
        };
        assert_eq!(fp.value, vec![0xab, 0xcd, 0x01]);
        assert_eq!(a.to_string(), "fingerprint:sha-256 AB:CD:01");
        assert!(Attribute::parse("fingerprint:sha-256 AB:C").is_err());
        assert!(Attribute::parse("fingerprint:sha-256 AB:").is_err());
    }

    #[test]
    fn parses_extmap_direction_and_attributes() {
        let Attribute::Extmap(e) =
            parse("extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level vad=on")
        else {
            panic!()
        };
        assert_eq!(e.id, 2);
        assert_eq!(e.direction, Some(Direction::RecvOnly));
        assert_eq!(e.attributes.as_deref(), Some("vad=on"));
        assert!(Attribute::parse("extmap:2/sideways urn:x").is_err());
    }

    #[test]
    fn parses_rtcp_fb_wildcard() {
        let Attribute::RtcpFb(fb) = parse("rtcp-fb:* trr-int 100") else {
            panic!()
        };
        assert_eq!(fb.payload_type, None);
        assert_eq!(fb.parameter.as_deref(), Some("100"));
    }

    #[test]
    fn keeps_msid_semantic_leading_space() {
        let a = parse("msid-semantic: WMS abc");
        assert_eq!(a.to_string(), "msid-semantic: WMS abc");
        assert_eq!(
            parse("msid-semantic:WMS *").to_string(),
            "msid-semantic:WMS *"
        );
    }

    #[test]
    fn negotiates_answer_direction() {
        use Direction::*;
        assert_eq!(SendOnly.answer(SendRecv), RecvOnly);
        assert_eq!(RecvOnly.answer(SendRecv), SendOnly);
        assert_eq!(Inactive.answer(SendRecv), Inactive);
        assert_eq!(SendRecv.answer(RecvOnly), RecvOnly);
        assert_eq!(SendOnly.answer(SendOnly), Inactive);
    }
}
