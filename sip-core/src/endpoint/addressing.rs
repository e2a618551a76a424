//! Where this user agent says it is (Via sent-by, Contact) and where a URI sends a request.
//!
//! Resolution here is RFC 3263 reduced to what needs no DNS: a SIP URI whose host is an IP address names its
//! transport (the `transport` parameter, or TLS for `sips:`) and port (or the transport's default). A host
//! name falls back to a target the caller already knows, such as the flow a dialog was created over.

use crate::header::{NameAddr, Via};
use crate::transaction::{Target, TransportKind};
use crate::uri::{Host, SipUri, Uri};
use std::net::{IpAddr, SocketAddr};

/// The host of a socket address, as written in a Via or URI.
pub(crate) fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) => Host::Ipv4(v4),
        IpAddr::V6(v6) => Host::Ipv6(v6),
    }
}

/// A Via for a request sent over `kind` from `local`, asking for `rport` (RFC 3581); the branch is added later.
pub(crate) fn via(kind: TransportKind, local: SocketAddr) -> Via {
    Via::new(kind.into(), host_of(local.ip()), Some(local.port())).with_param("rport", None)
}

/// The `transport` URI parameter naming `kind` (none for UDP, the default).
fn transport_param(kind: TransportKind) -> Option<&'static str> {
    match kind {
        TransportKind::Udp => None,
        TransportKind::Tcp => Some("tcp"),
        TransportKind::Tls => Some("tls"),
        TransportKind::Ws => Some("ws"),
        TransportKind::Wss => Some("wss"),
    }
}

/// The Contact this user agent gives for requests and responses over `kind`: `<sip:[user@]local;transport=…>`.
pub(crate) fn contact(kind: TransportKind, local: SocketAddr, user: Option<&str>) -> NameAddr {
    let mut uri = SipUri::new(host_of(local.ip())).with_port(local.port());
    if let Some(user) = user {
        uri = uri.with_user(user);
    }
    if let Some(param) = transport_param(kind) {
        uri = uri.with_param("transport", Some(param));
    }
    NameAddr::new(Uri::Sip(uri))
}

/// The port a URI without one stands for over `kind` (RFC 3261 §19.1.2, RFC 7118 §5).
pub(crate) fn default_port(kind: TransportKind) -> u16 {
    match kind {
        TransportKind::Udp | TransportKind::Tcp => 5060,
        TransportKind::Tls => 5061,
        TransportKind::Ws => 80,
        TransportKind::Wss => 443,
    }
}

/// The transport a URI's `transport` parameter names.
fn kind_from_param(param: &[u8]) -> Option<TransportKind> {
    [
        (&b"udp"[..], TransportKind::Udp),
        (b"tcp", TransportKind::Tcp),
        (b"tls", TransportKind::Tls),
        (b"ws", TransportKind::Ws),
        (b"wss", TransportKind::Wss),
    ]
    .into_iter()
    .find(|(name, _)| param.eq_ignore_ascii_case(name))
    .map(|(_, kind)| kind)
}

/// The transport a SIP URI names: its `transport` parameter, else TLS for `sips:`, else `default`.
pub(crate) fn uri_transport(sip: &SipUri, default: TransportKind) -> TransportKind {
    match sip.transport().and_then(kind_from_param) {
        Some(kind) => kind,
        None if sip.is_secure() => TransportKind::Tls,
        None => default,
    }
}

/// Where a request to `uri` goes.
///
/// A SIP URI with an IP address host gives the target directly: its `transport` parameter (TLS for `sips:`,
/// else the transport of `fallback`, else UDP) and its port (else the transport's default). When that is
/// `fallback`'s address and transport, `fallback`'s flow is kept, so requests within a dialog reuse the
/// connection it was created over. Any other URI (a host name, `tel:`) gives `fallback`.
pub fn target_for_uri(uri: &Uri, fallback: Option<Target>) -> Option<Target> {
    let Some(sip) = uri.as_sip() else {
        return fallback;
    };
    let Some(ip) = sip.host().ip() else {
        return fallback;
    };
    let kind = uri_transport(sip, fallback.map_or(TransportKind::Udp, |f| f.transport));
    let addr = SocketAddr::new(ip, sip.port().unwrap_or_else(|| default_port(kind)));
    let target = Target::new(kind, addr);
    match fallback {
        Some(f) if f.addr == addr && f.transport == kind => Some(f),
        _ => Some(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::FlowId;
    use bytes::Bytes;

    fn uri(text: &'static str) -> Uri {
        Uri::parse(&Bytes::from_static(text.as_bytes())).unwrap()
    }

    #[test]
    fn ip_uri_gives_its_transport_and_default_port() {
        let t = target_for_uri(&uri("sip:bob@192.0.2.1;transport=TCP"), None).unwrap();
        assert_eq!(t.transport, TransportKind::Tcp);
        assert_eq!(t.addr, "192.0.2.1:5060".parse().unwrap());
        let t = target_for_uri(&uri("sips:bob@192.0.2.1"), None).unwrap();
        assert_eq!((t.transport, t.addr.port()), (TransportKind::Tls, 5061));
    }

    #[test]
    fn same_address_keeps_the_fallback_flow() {
        let flow = Target::new(TransportKind::Tcp, "192.0.2.1:5070".parse().unwrap())
            .with_flow(FlowId::from_u64(7));
        let t = target_for_uri(&uri("sip:bob@192.0.2.1:5070"), Some(flow)).unwrap();
        assert_eq!(t, flow);
        let other = target_for_uri(&uri("sip:bob@192.0.2.1:5080"), Some(flow)).unwrap();
        assert_eq!(other.flow, None);
        assert_eq!(other.transport, TransportKind::Tcp);
    }

    #[test]
    fn host_names_fall_back() {
        let flow = Target::new(TransportKind::Ws, "192.0.2.1:40000".parse().unwrap())
            .with_flow(FlowId::from_u64(3));
        let t = target_for_uri(&uri("sip:x@df7jal23ls0d.invalid;transport=ws"), Some(flow));
        assert_eq!(t, Some(flow));
        assert_eq!(target_for_uri(&uri("tel:+15551234"), None), None);
    }

    #[test]
    fn contact_names_the_transport_except_udp() {
        let local: SocketAddr = "192.0.2.9:5062".parse().unwrap();
        let mut out = Vec::new();
        contact(TransportKind::Tls, local, Some("uas")).write_to(&mut out);
        assert_eq!(out, b"<sip:uas@192.0.2.9:5062;transport=tls>");
        out.clear();
        contact(TransportKind::Udp, local, None).write_to(&mut out);
        assert_eq!(out, b"<sip:192.0.2.9:5062>");
    }
}
