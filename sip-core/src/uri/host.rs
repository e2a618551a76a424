//! The host part of SIP URIs and Via sent-by (RFC 3261 §25.1 `host`, `hostport`).

use crate::error::{ParseError, ParseErrorKind};
use crate::grammar::{self, HOST};
use bytes::Bytes;
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host: a domain name, an IPv4 address or a bracketed IPv6 reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name as received (compare case-insensitively, see [`Host::equivalent`]).
    Domain(Bytes),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
}

impl Host {
    /// A host from text: an IPv4 address, a bracketed or bare IPv6 address, or a domain name.
    pub fn parse(text: &[u8]) -> Result<Host, ParseError> {
        if !text.starts_with(b"[")
            && let Some(ip) = std::str::from_utf8(text)
                .ok()
                .and_then(|s| s.parse::<Ipv6Addr>().ok())
        {
            return Ok(Host::Ipv6(ip));
        }
        let input = Bytes::copy_from_slice(text);
        let (host, end) = parse_host(&input, 0)?;
        if end != text.len() {
            return Err(ParseError::syntax(end, "end of host"));
        }
        Ok(host)
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Domain(_) => None,
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// RFC 3261 §19.1.4 host comparison: names case-insensitively, addresses by value, never a name with an
    /// address.
    pub fn equivalent(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }

    /// Append the host's wire form (IPv6 in brackets) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Host::Domain(d) => out.extend_from_slice(d),
            // Writing into a Vec cannot fail.
            Host::Ipv4(a) => {
                let mut text = [0u8; IPV4_TEXT_MAX];
                out.extend_from_slice(ipv4_text(*a, &mut text));
            }
            Host::Ipv6(a) => {
                let _ = write!(out, "[{a}]");
            }
        }
    }
}

/// The longest dotted-quad IPv4 address: `255.255.255.255`.
const IPV4_TEXT_MAX: usize = 15;

/// `a` in dotted-quad form, written into `buf`. The standard library's `Display` goes through the formatting
/// machinery for each octet (about a thousand instructions per address), and a proxy writes addresses into
/// every URI and Via it serializes or compares.
fn ipv4_text(a: Ipv4Addr, buf: &mut [u8; IPV4_TEXT_MAX]) -> &[u8] {
    let mut len = 0;
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            buf[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            buf[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        buf[len] = b'0' + octet % 10;
        len += 1;
    }
    &buf[..len]
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Host {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(&String::from_utf8_lossy(d)),
            Host::Ipv4(a) => {
                let mut text = [0u8; IPV4_TEXT_MAX];
                // Digits and dots only: always UTF-8.
                f.write_str(std::str::from_utf8(ipv4_text(*a, &mut text)).unwrap_or_default())
            }
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Parse a host at `start`; returns it and the index after it. Stops at the first byte that cannot be part of a
/// host. A name made only of digits and dots must be a valid IPv4 address.
pub(crate) fn parse_host(input: &Bytes, start: usize) -> Result<(Host, usize), ParseError> {
    let b = &input[..];
    if b.get(start) == Some(&b'[') {
        return parse_ipv6_reference(b, start);
    }
    let end = grammar::scan(b, start, HOST);
    let text = b.get(start..end).unwrap_or_default();
    if text.is_empty() {
        return Err(ParseError::syntax(start, "host"));
    }
    if text.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        let ip = parse_ipv4(text).ok_or(ParseError::syntax(start, "IPv4 address"))?;
        return Ok((Host::Ipv4(ip), end));
    }
    check_labels(text).map_err(|e| e.shifted(start))?;
    Ok((Host::Domain(input.slice(start..end)), end))
}

fn parse_ipv6_reference(b: &[u8], start: usize) -> Result<(Host, usize), ParseError> {
    let close = memchr::memchr(b']', b.get(start..).unwrap_or_default())
        .map(|c| start + c)
        .ok_or(ParseError::syntax(start, "IPv6 reference"))?;
    let text = b.get(start + 1..close).unwrap_or_default();
    let ip = std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok())
        .ok_or(ParseError::syntax(start + 1, "IPv6 address"))?;
    Ok((Host::Ipv6(ip), close + 1))
}

/// Dotted-quad IPv4 with 1-3 digits per octet (leading zeros allowed, RFC 3261 `IPv4address`).
fn parse_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in text.split(|c| *c == b'.') {
        if part.is_empty() || part.len() > 3 || n == 4 {
            return None;
        }
        let v = part
            .iter()
            .fold(0u16, |acc, c| acc * 10 + u16::from(c - b'0'));
        *octets.get_mut(n)? = u8::try_from(v).ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(octets))
}

/// Labels must be non-empty (a single trailing dot is allowed) and must not start or end with `-`.
fn check_labels(text: &[u8]) -> Result<(), ParseError> {
    let body = text.strip_suffix(b".").unwrap_or(text);
    let mut at = 0;
    for label in body.split(|c| *c == b'.') {
        let bad_edge = label.first() == Some(&b'-') || label.last() == Some(&b'-');
        if label.is_empty() || bad_edge {
            return Err(ParseError::syntax(at, "domain label"));
        }
        at += label.len() + 1;
    }
    Ok(())
}

/// Parse `[ ":" port ]` at `i`: returns the port (if any) and the index after it. Ports above 65535 are
/// [`ParseErrorKind::OutOfRange`].
pub(crate) fn parse_port(b: &[u8], i: usize) -> Result<(Option<u16>, usize), ParseError> {
    if b.get(i) != Some(&b':') {
        return Ok((None, i));
    }
    let (v, end) = grammar::digits(b, i + 1, "port")?;
    let port = u16::try_from(v).map_err(|_| ParseError {
        offset: i + 1,
        kind: ParseErrorKind::OutOfRange,
        expected: "port 0..=65535",
    })?;
    Ok((Some(port), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &'static str) -> Result<(Host, usize), ParseError> {
        parse_host(&Bytes::from_static(s.as_bytes()), 0)
    }

    #[test]
    fn recognises_names_ipv4_and_ipv6_references() {
        assert_eq!(host("Example.COM:5060").unwrap().1, 11);
        assert_eq!(
            host("010.0.0.1").unwrap().0,
            Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            host("[2001:db8::1];x").unwrap(),
            (Host::Ipv6("2001:db8::1".parse().unwrap()), 13)
        );
        assert!(
            Host::parse(b"EXAMPLE.com")
                .unwrap()
                .equivalent(&Host::parse(b"example.COM").unwrap())
        );
        assert_eq!(Host::parse(b"::1").unwrap().to_string(), "[::1]");
    }

    #[test]
    fn ipv4_addresses_are_written_as_the_standard_library_writes_them() {
        for octets in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [9, 10, 99, 100],
            [255, 255, 255, 255],
            [1, 20, 200, 249],
        ] {
            let ip = Ipv4Addr::from(octets);
            let host = Host::Ipv4(ip);
            let mut written = Vec::new();
            host.write_to(&mut written);
            assert_eq!(written, ip.to_string().as_bytes());
            assert_eq!(host.to_string(), ip.to_string());
        }
        for n in (0..=u32::MAX).step_by(65_537) {
            let ip = Ipv4Addr::from(n);
            assert_eq!(Host::Ipv4(ip).to_string(), ip.to_string());
        }
    }

    #[test]
    fn rejects_bad_hosts_with_offsets() {
        assert_eq!(host("256.1.1.1").unwrap_err().offset, 0);
        assert_eq!(host("1.2.3").unwrap_err().expected, "IPv4 address");
        assert_eq!(host("a..b").unwrap_err().offset, 2);
        assert_eq!(host("[::g]").unwrap_err().offset, 1);
        assert_eq!(host("[::1").unwrap_err().offset, 0);
        assert_eq!(host(":5060").unwrap_err().offset, 0);
        assert_eq!(host("-a.com").unwrap_err().offset, 0);
    }

    #[test]
    fn ports_above_65535_are_out_of_range() {
        assert_eq!(parse_port(b":65535", 0), Ok((Some(65535), 6)));
        assert_eq!(parse_port(b":065535", 0), Ok((Some(65535), 7)));
        let e = parse_port(b":65536", 0).unwrap_err();
        assert_eq!((e.offset, e.kind), (1, ParseErrorKind::OutOfRange));
        assert_eq!(parse_port(b":", 0).unwrap_err().offset, 1);
        assert_eq!(parse_port(b";", 0), Ok((None, 0)));
    }
}
