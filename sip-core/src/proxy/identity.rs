//! What "this proxy" means on the wire: the addresses it advertises and the domains it serves.

use crate::transport::TransportKind;
use crate::uri::{Host, Uri};
use std::net::{IpAddr, SocketAddr};

/// The addresses and domains this proxy answers for: what "a URI pointing to us" means (RFC 3261 §16.4).
#[derive(Debug, Clone, Default)]
pub struct LocalIdentity {
    /// The address advertised for each transport (in Via and Record-Route).
    pub addresses: Vec<(TransportKind, SocketAddr)>,
    /// The domains served (compared case-insensitively).
    pub domains: Vec<String>,
}

impl LocalIdentity {
    /// The advertised address for `kind`, or the first address if that transport is not served.
    pub fn address(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .find(|(k, _)| *k == kind)
            .or_else(|| self.addresses.first())
            .map(|&(_, addr)| addr)
    }

    /// Whether `host` names one of the served domains (or one of our IP addresses).
    pub fn is_local_domain(&self, host: &Host) -> bool {
        match host {
            Host::Domain(name) => self
                .domains
                .iter()
                .any(|d| d.as_bytes().eq_ignore_ascii_case(name)),
            _ => host.ip().is_some_and(|ip| {
                self.addresses.iter().any(|(_, a)| a.ip() == ip)
                    || self.domains.iter().any(|d| d.parse::<IpAddr>() == Ok(ip))
            }),
        }
    }

    /// Whether `uri` addresses this proxy itself (a Route or Record-Route entry of ours): one of our
    /// addresses (IP and port, the port defaulting to the transport's), or a served domain without a user.
    pub fn is_local_uri(&self, uri: &Uri) -> bool {
        let Some(sip) = uri.as_sip() else {
            return false;
        };
        match sip.host().ip() {
            Some(ip) => self.has_address(ip, sip.port()),
            None => sip.user().is_none() && self.is_local_domain(sip.host()),
        }
    }

    fn has_address(&self, ip: IpAddr, port: Option<u16>) -> bool {
        self.addresses.iter().any(|(kind, addr)| {
            addr.ip() == ip && addr.port() == port.unwrap_or_else(|| kind.default_port())
        })
    }

    /// Whether a Via sent-by (`host`, `port`) is one of our addresses.
    pub(crate) fn is_local_sent_by(&self, host: &Host, port: Option<u16>) -> bool {
        host.ip().is_some_and(|ip| self.has_address(ip, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn identity() -> LocalIdentity {
        LocalIdentity {
            addresses: vec![(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap())],
            domains: vec!["example.com".into()],
        }
    }

    fn uri(text: &'static str) -> Uri {
        Uri::parse(&Bytes::from_static(text.as_bytes())).unwrap()
    }

    #[test]
    fn a_user_in_our_domain_is_not_a_route_to_us() {
        let id = identity();
        assert!(!id.is_local_uri(&uri("sip:bob@example.com")));
        assert!(id.is_local_uri(&uri("sip:EXAMPLE.com;lr")));
        assert!(id.is_local_uri(&uri("sip:192.0.2.1;lr")));
        assert!(!id.is_local_uri(&uri("sip:192.0.2.1:5070;lr")));
    }

    #[test]
    fn the_address_of_an_unserved_transport_falls_back_to_the_first() {
        let id = identity();
        assert_eq!(
            id.address(TransportKind::Ws),
            Some("192.0.2.1:5060".parse().unwrap())
        );
    }
}
