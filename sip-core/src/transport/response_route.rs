//! Where a response goes: RFC 3261 §18.2.2 with RFC 3581 §4 (`rport`).

use super::error::TransportError;
use super::target::{Target, TransportKind};
use crate::header::{Rport, Via};
use crate::message::Response;
use crate::uri::Host;
use std::net::{IpAddr, SocketAddr};

/// The target of a response, from its top Via and from where its request came (`received_on`, the
/// request's `Incoming::target()`, if the response answers a request this layer received).
///
/// RFC 3261 §18.2.2, with RFC 3581 §4:
/// - Reliable transports (TCP, TLS, WS, WSS): back over the request's connection (`received_on`'s flow);
///   if that connection has closed by the time of sending, the transport layer opens a new one to the
///   returned address, `received` (or the sent-by host) and `rport` (or the sent-by port, or the default).
///   WebSocket connections cannot be reopened.
/// - `maddr` holding an IP address: to that address, at the sent-by port or the default.
/// - Otherwise (UDP): to `received` (or the sent-by IP) at `rport` (or the sent-by port, or 5060), from the
///   local socket the request arrived on, so that the response passes the client's NAT binding.
///
/// A sent-by host name without `received` must be resolved by RFC 3263 §5 first:
/// [`TransportError::NeedsResolution`] says which name and port.
pub fn response_target(
    response: &Response,
    received_on: Option<Target>,
) -> Result<Target, TransportError> {
    let via = response
        .headers()
        .via()
        .ok_or(TransportError::NoVia)?
        .map_err(TransportError::Via)?;
    let transport = TransportKind::from_via(via.transport())
        .ok_or_else(|| TransportError::UnsupportedTransport(via.transport().clone()))?;
    // The request's own flow, when it came over the transport the Via names.
    let flow = received_on
        .filter(|r| r.transport == transport)
        .and_then(|r| r.flow);
    let addr = match maddr(&via) {
        Some(ip) if !transport.is_reliable() => {
            SocketAddr::new(ip, via.port().unwrap_or(transport.default_port()))
        }
        _ => via_address(&via, transport)?,
    };
    Ok(Target {
        transport,
        addr,
        flow,
    })
}

/// The address `received`/`rport` or sent-by names.
fn via_address(via: &Via, transport: TransportKind) -> Result<SocketAddr, TransportError> {
    let port = match via.rport() {
        Some(Rport::Port(port)) => port,
        _ => via.port().unwrap_or(transport.default_port()),
    };
    if let Some(ip) = via.received_ip() {
        return Ok(SocketAddr::new(ip, port));
    }
    match via.host() {
        Host::Domain(_) => Err(TransportError::NeedsResolution {
            host: via.host().clone(),
            port,
            transport,
        }),
        host => host
            .ip()
            .map(|ip| SocketAddr::new(ip, port))
            .ok_or(TransportError::NoVia),
    }
}

/// The `maddr` parameter when it is an IP address (a name would need resolving; it is then ignored).
fn maddr(via: &Via) -> Option<IpAddr> {
    std::str::from_utf8(via.maddr()?).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::parse::parse_message;
    use crate::transport::FlowId;
    use bytes::Bytes;

    fn response(via: &str) -> Response {
        let wire = format!(
            "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: <sip:a@example.com>;tag=1\r\n\
             To: <sip:bob@example.com>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_message(Bytes::from(wire)) {
            Ok(Message::Response(r)) => r,
            other => panic!("not a response: {other:?}"),
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn udp_response_goes_to_received_and_rport_from_the_request_socket() {
        let r = response(
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;received=198.51.100.7;rport=40000",
        );
        let came_from = Target::new(TransportKind::Udp, addr("198.51.100.7:40000"))
            .with_flow(FlowId::from_u64(1));
        let t = response_target(&r, Some(came_from)).unwrap();
        assert_eq!(t, came_from);
    }

    #[test]
    fn udp_response_without_rport_goes_to_received_at_sent_by_port() {
        let r = response("SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK1;received=198.51.100.7");
        let t = response_target(&r, None).unwrap();
        assert_eq!(
            t,
            Target::new(TransportKind::Udp, addr("198.51.100.7:5070"))
        );
    }

    #[test]
    fn udp_response_to_sent_by_ip_uses_default_port() {
        let r = response("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
        let t = response_target(&r, None).unwrap();
        assert_eq!(t.addr, addr("192.0.2.1:5060"));
    }

    #[test]
    fn sent_by_name_without_received_needs_resolution() {
        let r = response("SIP/2.0/TLS pc33.example.com;branch=z9hG4bK1");
        match response_target(&r, None) {
            Err(TransportError::NeedsResolution {
                port, transport, ..
            }) => assert_eq!((port, transport), (5061, TransportKind::Tls)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reliable_response_keeps_the_request_connection() {
        let r = response(
            "SIP/2.0/TCP client.example.com;branch=z9hG4bK1;received=198.51.100.7;rport=50123",
        );
        let came_from = Target::new(TransportKind::Tcp, addr("198.51.100.7:50123"))
            .with_flow(FlowId::from_u64(9));
        assert_eq!(response_target(&r, Some(came_from)), Ok(came_from));
        // A flow of another transport is not used.
        let other = Target::new(TransportKind::Udp, addr("198.51.100.7:50123"))
            .with_flow(FlowId::from_u64(2));
        let t = response_target(&r, Some(other)).unwrap();
        assert_eq!(t.flow, None);
        assert_eq!(t.transport, TransportKind::Tcp);
    }

    #[test]
    fn websocket_response_goes_back_on_its_flow() {
        let r = response(
            "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK1;received=198.51.100.7;rport=55000",
        );
        let came_from = Target::new(TransportKind::Wss, addr("198.51.100.7:55000"))
            .with_flow(FlowId::from_u64(4));
        assert_eq!(response_target(&r, Some(came_from)), Ok(came_from));
    }

    #[test]
    fn udp_maddr_overrides_received() {
        let r = response(
            "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1;maddr=224.2.0.1;ttl=16;received=198.51.100.7",
        );
        assert_eq!(
            response_target(&r, None).unwrap().addr,
            addr("224.2.0.1:5062")
        );
    }

    #[test]
    fn unroutable_vias_are_errors() {
        let r = response("SIP/2.0/SCTP 192.0.2.1;branch=z9hG4bK1");
        assert!(matches!(
            response_target(&r, None),
            Err(TransportError::UnsupportedTransport(_))
        ));
        let r = response("SIP/2.0/UDP ;branch=z9hG4bK1");
        assert!(matches!(
            response_target(&r, None),
            Err(TransportError::Via(_))
        ));
    }
}
