//! The `Via` header field (RFC 3261 §20.42, RFC 3581 `rport`).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use crate::params::Params;
use crate::uri::{Host, parse_host};
use bytes::Bytes;
use std::io::Write;
use std::net::IpAddr;

/// The transport of a Via entry (case-insensitive on the wire).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `UDP`
    Udp,
    /// `TCP`
    Tcp,
    /// `TLS`
    Tls,
    /// `SCTP`
    Sctp,
    /// `TLS-SCTP`
    TlsSctp,
    /// `WS` (RFC 7118)
    Ws,
    /// `WSS` (RFC 7118)
    Wss,
    /// Any other transport token, kept as received.
    Other(Bytes),
}

impl Transport {
    /// Recognise a transport token (case-insensitive).
    pub fn from_token(token: &Bytes) -> Transport {
        Transport::known(token).unwrap_or_else(|| Transport::Other(token.clone()))
    }

    /// The well-known transport spelled `token` (any case), without touching `Bytes` reference counts.
    fn known(token: &[u8]) -> Option<Transport> {
        let is = |t: &[u8]| token.eq_ignore_ascii_case(t);
        Some(match token.len() {
            2 if is(b"WS") => Transport::Ws,
            3 if is(b"UDP") => Transport::Udp,
            3 if is(b"TCP") => Transport::Tcp,
            3 if is(b"TLS") => Transport::Tls,
            3 if is(b"WSS") => Transport::Wss,
            4 if is(b"SCTP") => Transport::Sctp,
            8 if is(b"TLS-SCTP") => Transport::TlsSctp,
            _ => return None,
        })
    }

    /// The canonical upper-case token.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Transport::Udp => b"UDP",
            Transport::Tcp => b"TCP",
            Transport::Tls => b"TLS",
            Transport::Sctp => b"SCTP",
            Transport::TlsSctp => b"TLS-SCTP",
            Transport::Ws => b"WS",
            Transport::Wss => b"WSS",
            Transport::Other(t) => t,
        }
    }

    /// Whether the transport is reliable (everything except UDP).
    pub fn is_reliable(&self) -> bool {
        *self != Transport::Udp
    }
}

/// The `rport` parameter (RFC 3581): asked for (no value, in a request) or filled in (in a response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rport {
    /// `;rport` without a value.
    Requested,
    /// `;rport=PORT`.
    Port(u16),
}

/// One Via entry: `SIP/2.0/UDP host:port;branch=…;received=…;rport`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    protocol_name: Bytes,
    protocol_version: Bytes,
    transport: Transport,
    host: Host,
    port: Option<u16>,
    params: Params,
}

/// The RFC 3261 branch magic cookie.
pub const BRANCH_MAGIC_COOKIE: &[u8] = b"z9hG4bK";

impl Via {
    /// A `SIP/2.0/<transport> host[:port]` entry without parameters.
    pub fn new(transport: Transport, host: Host, port: Option<u16>) -> Via {
        Via {
            protocol_name: Bytes::from_static(b"SIP"),
            protocol_version: Bytes::from_static(b"2.0"),
            transport,
            host,
            port,
            params: Params::new_header(),
        }
    }

    /// The protocol name (`SIP`).
    pub fn protocol_name(&self) -> &Bytes {
        &self.protocol_name
    }

    /// The protocol version (`2.0`).
    pub fn protocol_version(&self) -> &Bytes {
        &self.protocol_version
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The sent-by host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The sent-by port, if given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// All parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// All parameters, for modification.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&[u8]> {
        self.params.value("branch")
    }

    /// The `branch` parameter sharing the header's storage (for transaction keys).
    pub fn branch_bytes(&self) -> Option<Bytes> {
        self.params.value_bytes("branch")
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.starts_with(BRANCH_MAGIC_COOKIE))
    }

    /// The `received` parameter's raw value.
    pub fn received(&self) -> Option<&[u8]> {
        self.params.value("received")
    }

    /// The `received` parameter as an IP address (IPv6 with or without brackets).
    pub fn received_ip(&self) -> Option<IpAddr> {
        let raw = self.received()?;
        let raw = raw
            .strip_prefix(b"[")
            .and_then(|r| r.strip_suffix(b"]"))
            .unwrap_or(raw);
        std::str::from_utf8(raw).ok()?.parse().ok()
    }

    /// The `rport` parameter; `None` when absent or when its value is not a port number.
    pub fn rport(&self) -> Option<Rport> {
        let p = self.params.get("rport")?;
        match p.value() {
            None => Some(Rport::Requested),
            Some(v) => std::str::from_utf8(v).ok()?.parse().ok().map(Rport::Port),
        }
    }

    /// The `maddr` parameter's raw value.
    pub fn maddr(&self) -> Option<&[u8]> {
        self.params.value("maddr")
    }

    /// The `ttl` parameter (0..=255); `None` when absent or invalid.
    pub fn ttl(&self) -> Option<u8> {
        std::str::from_utf8(self.params.value("ttl")?)
            .ok()?
            .parse()
            .ok()
    }

    /// Builder: add (or replace) a parameter.
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Via {
        self.params.set(name, value);
        self
    }

    /// Builder: set the `branch` parameter.
    pub fn with_branch(self, branch: &str) -> Via {
        self.with_param("branch", Some(branch))
    }

    /// Parse `sent-protocol LWS sent-by *( SEMI via-params )`; offsets count from the start of `value`.
    pub fn parse(value: &Bytes) -> Result<Via, ParseError> {
        let b = &value[..];
        let ns = grammar::skip_lws(b, 0);
        let ne = grammar::token(b, ns, "protocol-name")?;
        let vs = grammar::separator(b, ne, b'/', "\"/\"")?;
        let ve = grammar::token(b, vs, "protocol-version")?;
        let ts = grammar::separator(b, ve, b'/', "\"/\"")?;
        let te = grammar::token(b, ts, "transport")?;
        let hs = grammar::skip_lws(b, te);
        if hs == te {
            return Err(ParseError::syntax(te, "white space before sent-by"));
        }
        let (host, he) = parse_host(value, hs)?;
        // COLON = SWS ":" SWS between host and port.
        let colon = grammar::skip_lws(b, he);
        let (port, pe) = if b.get(colon) == Some(&b':') {
            let ps = grammar::skip_lws(b, colon + 1);
            let (v, e) = grammar::digits(b, ps, "port")?;
            let p = u16::try_from(v).map_err(|_| grammar::out_of_range(ps, "port 0..=65535"))?;
            (Some(p), e)
        } else {
            (None, he)
        };
        let (params, end) = Params::parse_header(value, pe)?;
        grammar::end(b, end, "\";\" or end of Via")?;
        let transport = b
            .get(ts..te)
            .and_then(Transport::known)
            .unwrap_or_else(|| Transport::Other(value.slice(ts..te)));
        Ok(Via {
            protocol_name: shared_or_static(value, ns, ne, b"SIP"),
            protocol_version: shared_or_static(value, vs, ve, b"2.0"),
            transport,
            host,
            port,
            params,
        })
    }

    /// Append the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.protocol_name);
        out.push(b'/');
        out.extend_from_slice(&self.protocol_version);
        out.push(b'/');
        out.extend_from_slice(self.transport.as_bytes());
        out.push(b' ');
        self.host.write_to(out);
        if let Some(p) = self.port {
            // Writing into a Vec cannot fail.
            let _ = write!(out, ":{p}");
        }
        self.params.write_to(out);
    }
}

/// `value[s..e]`, or the static `usual` when the bytes are exactly that: the common `SIP` / `2.0` then cost no
/// reference-count traffic on the message buffer.
fn shared_or_static(value: &Bytes, s: usize, e: usize, usual: &'static [u8]) -> Bytes {
    if value.get(s..e) == Some(usual) {
        Bytes::from_static(usual)
    } else {
        value.slice(s..e)
    }
}

impl TypedHeader for Via {
    const NAME: HeaderName = HeaderName::Via;
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Via, ParseError> {
        Via::parse(value)
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        Via::write_to(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::header::test_support::{err_at, parse, round_trip, written};
    use proptest::prelude::*;

    #[test]
    fn parses_folded_via_with_lws_around_slashes() {
        // RFC 4475 wsinv.
        let v: Via = round_trip("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
        assert_eq!(v.protocol_name().as_ref(), b"SIP");
        assert_eq!(v.protocol_version().as_ref(), b"2.0");
        assert_eq!(v.transport(), &Transport::Udp);
        assert_eq!(v.host(), &Host::Ipv4([192, 0, 2, 2].into()));
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        let v: Via = round_trip(
            "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ",
        );
        assert_eq!(v.branch(), Some(&b"z9hG4bK9ikj8"[..]));
        assert!(v.has_rfc3261_branch());
        let v: Via =
            round_trip("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239");
        assert_eq!(v.branch(), Some(&b"z9hG4bK30239"[..]));
        assert_eq!(
            written(&v),
            "SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239"
        );
    }

    #[test]
    fn recognises_transports_and_keeps_unknown_ones() {
        // RFC 4475 transports.
        for (t, want) in [
            ("UDP", Transport::Udp),
            ("SCTP", Transport::Sctp),
            ("TLS", Transport::Tls),
            ("tcp", Transport::Tcp),
            ("WSS", Transport::Wss),
        ] {
            let v: Via = parse(&format!("SIP/2.0/{t} t1.example.com;branch=z9hG4bKkdjuw")).unwrap();
            assert_eq!(v.transport(), &want);
        }
        let v: Via = round_trip("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en");
        assert_eq!(
            v.transport(),
            &Transport::Other(Bytes::from_static(b"UNKNOWN"))
        );
    }

    #[test]
    fn exposes_received_rport_maddr_and_ttl() {
        let v: Via = round_trip(
            "SIP/2.0/UDP [2001:db8::1] : 5070;received=2001:db8::9;rport=40000;maddr=224.2.0.1;ttl=16;branch=z9hG4bK1",
        );
        assert_eq!(v.host(), &Host::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(v.port(), Some(5070));
        assert_eq!(v.received_ip(), Some("2001:db8::9".parse().unwrap()));
        assert_eq!(v.rport(), Some(Rport::Port(40000)));
        assert_eq!(v.maddr(), Some(&b"224.2.0.1"[..]));
        assert_eq!(v.ttl(), Some(16));
        let v: Via = parse("SIP/2.0/UDP host;rport;branch=z9hG4bK2").unwrap();
        assert_eq!(v.rport(), Some(Rport::Requested));
        assert_eq!(v.received(), None);
    }

    #[test]
    fn bare_magic_cookie_branch_is_parsed_for_the_validator_to_judge() {
        // RFC 4475 badbranch: the syntax is fine, the transaction layer decides.
        let v: Via = parse("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").unwrap();
        assert!(v.has_rfc3261_branch());
        assert_eq!(v.branch(), Some(BRANCH_MAGIC_COOKIE));
    }

    #[test]
    fn rejects_malformed_vias_with_offsets() {
        assert_eq!(err_at::<Via>("SIP/2.0/UDP"), 11);
        assert_eq!(err_at::<Via>("SIP/2.0 UDP host"), 8);
        assert_eq!(err_at::<Via>("SIP/2.0/UDPhost"), 15);
        assert_eq!(err_at::<Via>("/2.0/UDP host"), 0);
        // RFC 4475 badinv01: empty parameters.
        assert_eq!(err_at::<Via>("SIP/2.0/UDP 192.0.2.15;;"), 23);
        assert_eq!(err_at::<Via>("SIP/2.0/UDP host;branch="), 24);
        assert_eq!(err_at::<Via>("SIP/2.0/UDP host x"), 17);
        let e = parse::<Via>("SIP/2.0/UDP host:99999").unwrap_err();
        assert_eq!((e.offset, e.kind), (17, ParseErrorKind::OutOfRange));
    }

    #[test]
    fn built_via_writes_canonical_form() {
        let v = Via::new(
            Transport::Tls,
            Host::Domain(Bytes::from_static(b"pc33.example.com")),
            Some(5061),
        )
        .with_branch("z9hG4bK776asdhds")
        .with_param("rport", None);
        assert_eq!(
            written(&v),
            "SIP/2.0/TLS pc33.example.com:5061;branch=z9hG4bK776asdhds;rport"
        );
    }

    proptest! {
        #[test]
        fn vias_round_trip(
            transport in "(UDP|TCP|TLS|SCTP|WS|WSS|[A-Z]{2,6})",
            host in "([a-z][a-z0-9-]{0,6}[a-z0-9]\\.[a-z]{2,4}|[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3})",
            port in proptest::option::of(any::<u16>()),
            branch in "[a-zA-Z0-9.!%*_+`'~-]{1,20}",
            extra in "(;[a-z]{1,5}(=[a-z0-9]{1,5})?){0,3}",
        ) {
            let text = format!(
                "SIP/2.0/{transport} {host}{};branch={branch}{extra}",
                port.map(|p| format!(":{p}")).unwrap_or_default()
            );
            let parsed = parse::<Via>(&text);
            if host.split('.').all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255)) || !host.starts_with(|c: char| c.is_ascii_digit()) {
                let v = parsed.unwrap();
                prop_assert_eq!(v.branch(), Some(branch.as_bytes()));
                prop_assert_eq!(v.port(), port);
                let again: Via = parse(&written(&v)).unwrap();
                prop_assert_eq!(again, v);
            } else {
                prop_assert!(parsed.is_err());
            }
        }
    }
}
