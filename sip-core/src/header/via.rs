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
        let known: [(&[u8], Transport); 7] = [
            (b"UDP", Transport::Udp),
            (b"TCP", Transport::Tcp),
            (b"TLS", Transport::Tls),
            (b"SCTP", Transport::Sctp),
            (b"TLS-SCTP", Transport::TlsSctp),
            (b"WS", Transport::Ws),
            (b"WSS", Transport::Wss),
        ];
        known
            .into_iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(token))
            .map_or_else(|| Transport::Other(token.clone()), |(_, t)| t)
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
        Ok(Via {
            protocol_name: value.slice(ns..ne),
            protocol_version: value.slice(vs..ve),
            transport: Transport::from_token(&value.slice(ts..te)),
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
