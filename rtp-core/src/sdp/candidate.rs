//! `a=candidate` (RFC 8839 §5.1): one ICE candidate.

use std::fmt;

use bytestring::ByteString;

use super::error::{FieldError, SdpError};
use super::scanner::{Scanner, is_non_ws};
use super::session::{MAX_ITEMS, too_many_items};

/// An ICE candidate: `foundation component transport priority address port typ type [raddr a] [rport p]
/// *(name value)`.
///
/// Extensions after `rport` (`generation`, `tcptype`, `ufrag`, `network-id`, …) are kept in order as name/value
/// pairs so the line round-trips; accessors read the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// Foundation: 1-32 ice-chars.
    pub foundation: ByteString,
    /// Component id: 1 for RTP, 2 for RTCP.
    pub component: u16,
    /// Transport as written (`UDP`, `udp`, `tcp`).
    pub transport: ByteString,
    /// Priority.
    pub priority: u32,
    /// Connection address: IP address or host name (including mDNS `.local` names).
    pub address: ByteString,
    /// Port.
    pub port: u16,
    /// Candidate type.
    pub kind: CandidateType,
    /// `raddr`: related address.
    pub related_address: Option<ByteString>,
    /// `rport`: related port.
    pub related_port: Option<u16>,
    /// Extension attributes in order, as (name, value).
    pub extensions: Vec<(ByteString, ByteString)>,
}

impl Candidate {
    /// Parses a candidate value, with or without the leading `candidate:` (trickled candidates carry it).
    ///
    /// Errors report line 1 and offsets inside `text`.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let value = text.strip_prefix("a=").unwrap_or(text);
        let skipped = text.len() - value.len();
        let (value, skipped) = match value.strip_prefix("candidate:") {
            Some(v) => (v, skipped + "candidate:".len()),
            None => (value, skipped),
        };
        Self::parse_value(&ByteString::from(value)).map_err(|mut e| {
            e.at = e.at.saturating_add(skipped);
            e.standalone()
        })
    }

    /// Whether the transport is UDP (compared case-insensitively).
    pub fn is_udp(&self) -> bool {
        self.transport.eq_ignore_ascii_case("udp")
    }

    /// The value of extension `name`, if present.
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| &**v)
    }

    /// `generation` extension (libwebrtc).
    pub fn generation(&self) -> Option<u32> {
        self.extension("generation")?.parse().ok()
    }

    /// `tcptype` extension (RFC 6544): `active`, `passive` or `so`.
    pub fn tcp_type(&self) -> Option<&str> {
        self.extension("tcptype")
    }

    /// `ufrag` extension (libwebrtc, trickle ICE).
    pub fn ufrag(&self) -> Option<&str> {
        self.extension("ufrag")
    }

    pub(crate) fn parse_value(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let foundation = s.ice_chars("foundation (1-32 ice-chars)")?;
        if foundation.len() > 32 {
            return Err(FieldError::out_of_range(0, "foundation (1-32 ice-chars)"));
        }
        s.space()?;
        let component = s.number_up_to(999, "component id (1-3 digits)")? as u16;
        s.space()?;
        let transport = s.token("transport")?;
        s.space()?;
        let priority = s.u32("priority")?;
        s.space()?;
        let address = s.non_ws("connection address")?;
        s.space()?;
        let port = s.u16("port")?;
        s.space()?;
        if !s.eat_str("typ ") {
            return Err(s.error("\"typ\" SP candidate type"));
        }
        let kind = CandidateType::from_token(s.token("candidate type")?);
        let mut c = Candidate {
            foundation,
            component,
            transport,
            priority,
            address,
            port,
            kind,
            related_address: None,
            related_port: None,
            extensions: Vec::new(),
        };
        c.parse_tail(&mut s)?;
        Ok(c)
    }

    /// `[SP rel-addr] [SP rel-port] *(SP cand-extension)`.
    fn parse_tail(&mut self, s: &mut Scanner<'_>) -> Result<(), FieldError> {
        if s.eat_str(" raddr ") {
            self.related_address = Some(s.non_ws("related address")?);
        }
        if s.eat_str(" rport ") {
            self.related_port = Some(s.u16("related port")?);
        }
        while !s.is_empty() {
            if self.extensions.len() >= MAX_ITEMS {
                return Err(too_many_items(s.pos()));
            }
            s.space()?;
            let name = s.token("extension name")?;
            s.space()?;
            let value = s.take(|b| is_non_ws(b) && b < 0x80, "extension value (VCHAR)")?;
            self.extensions.push((name, value));
        }
        Ok(())
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(a) = &self.related_address {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.related_port {
            write!(f, " rport {p}")?;
        }
        for (n, v) in &self.extensions {
            write!(f, " {n} {v}")?;
        }
        Ok(())
    }
}

/// The candidate type after `typ`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateType {
    /// `host`
    Host,
    /// `srflx`: server reflexive.
    ServerReflexive,
    /// `prflx`: peer reflexive.
    PeerReflexive,
    /// `relay`
    Relay,
    /// Any other token, verbatim.
    Other(ByteString),
}

impl CandidateType {
    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            CandidateType::Host => "host",
            CandidateType::ServerReflexive => "srflx",
            CandidateType::PeerReflexive => "prflx",
            CandidateType::Relay => "relay",
            CandidateType::Other(t) => t,
        }
    }

    fn from_token(t: ByteString) -> Self {
        match &*t {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::ServerReflexive,
            "prflx" => CandidateType::PeerReflexive,
            "relay" => CandidateType::Relay,
            _ => CandidateType::Other(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_reflexive_candidate_with_related_address_and_extensions() {
        let c = Candidate::parse(
            "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 10.0.0.2 rport 61665 \
             generation 0 ufrag EsAw network-cost 999",
        )
        .unwrap();
        assert_eq!(c.kind, CandidateType::ServerReflexive);
        assert_eq!(c.related_address.as_deref(), Some("10.0.0.2"));
        assert_eq!(c.related_port, Some(61665));
        assert_eq!(c.generation(), Some(0));
        assert_eq!(c.ufrag(), Some("EsAw"));
        assert_eq!(c.extension("network-cost"), Some("999"));
        assert!(c.is_udp());
    }

    #[test]
    fn round_trips_tcp_candidate() {
        let text = "1 1 TCP 2105458943 a6fa94f9-31aa.local 9 typ host tcptype active";
        let c = Candidate::parse(text).unwrap();
        assert_eq!(c.tcp_type(), Some("active"));
        assert_eq!(c.to_string(), text);
    }

    #[test]
    fn rejects_candidate_without_typ() {
        let err = Candidate::parse("1 1 udp 1 10.0.0.1 5000 host").unwrap_err();
        assert_eq!(err.offset, "1 1 udp 1 10.0.0.1 5000 ".len());
        assert_eq!(err.expected, "\"typ\" SP candidate type");
    }

    #[test]
    fn rejects_extension_without_value() {
        assert!(Candidate::parse("1 1 udp 1 10.0.0.1 5000 typ host generation").is_err());
    }

    #[test]
    fn reports_offsets_after_the_candidate_prefix() {
        let err = Candidate::parse("candidate:1 1 udp x").unwrap_err();
        assert_eq!(err.offset, "candidate:1 1 udp ".len());
    }
}
