//! RFC 3261 §18.1.1: requests too large for a UDP datagram on the path go over a congestion-controlled
//! transport.

use super::received::replace_top_via;
use super::target::TransportKind;
use crate::error::ParseError;
use crate::header::{Transport, Via};
use crate::message::Request;
use bytes::Bytes;

/// The size §18.1.1 assumes when the path MTU is unknown: requests over 1300 bytes leave UDP.
pub const UNKNOWN_PATH_MTU_LIMIT: usize = 1300;

/// How close to the path MTU a request may come on UDP (§18.1.1: "within 200 bytes").
pub const PATH_MTU_MARGIN: usize = 200;

/// The transport to send a request of `len` bytes over, given the one the caller chose and the path MTU if
/// known: UDP becomes TCP when the request is within [`PATH_MTU_MARGIN`] bytes of the path MTU, or larger than
/// [`UNKNOWN_PATH_MTU_LIMIT`] when the MTU is unknown (RFC 3261 §18.1.1). Other transports are kept.
///
/// The rule is for requests only; responses go where §18.2.2 says, whatever their size. A caller that
/// switches must also change the top Via ([`set_top_via_transport`]) and should fall back to UDP if the
/// TCP connection cannot be opened (§18.1.1 allows that for a request that had to change).
pub fn transport_for_request(
    chosen: TransportKind,
    len: usize,
    path_mtu: Option<usize>,
) -> TransportKind {
    let too_large = match path_mtu {
        Some(mtu) => len.saturating_add(PATH_MTU_MARGIN) >= mtu,
        None => len > UNKNOWN_PATH_MTU_LIMIT,
    };
    match chosen {
        TransportKind::Udp if too_large => TransportKind::Tcp,
        other => other,
    }
}

/// Rewrite the transport of the request's top Via (after [`transport_for_request`] changed it). The rest of
/// the Via, and every other Via, is kept. A request without Via is left alone.
pub fn set_top_via_transport(request: &mut Request, kind: TransportKind) -> Result<(), ParseError> {
    let Some(via) = request.headers().via().transpose()? else {
        return Ok(());
    };
    // The parameters are copied as received, so a round trip through typed values cannot alter them.
    let mut text = Vec::with_capacity(64 + via.params().as_bytes().len());
    text.extend_from_slice(via.protocol_name());
    text.push(b'/');
    text.extend_from_slice(via.protocol_version());
    text.push(b'/');
    text.extend_from_slice(Transport::from(kind).as_bytes());
    text.push(b' ');
    via.host().write_to(&mut text);
    if let Some(port) = via.port() {
        text.extend_from_slice(format!(":{port}").as_bytes());
    }
    text.extend_from_slice(via.params().as_bytes());
    let changed = Via::parse(&Bytes::from(text))?;
    replace_top_via(request.headers_mut(), &changed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::parse::parse_message;

    #[test]
    fn small_udp_requests_stay_on_udp() {
        assert_eq!(
            transport_for_request(TransportKind::Udp, 1300, None),
            TransportKind::Udp
        );
        assert_eq!(
            transport_for_request(TransportKind::Udp, 1299, Some(1500)),
            TransportKind::Udp
        );
    }

    #[test]
    fn large_udp_requests_move_to_tcp() {
        assert_eq!(
            transport_for_request(TransportKind::Udp, 1301, None),
            TransportKind::Tcp
        );
        // Within 200 bytes of the MTU.
        assert_eq!(
            transport_for_request(TransportKind::Udp, 1300, Some(1500)),
            TransportKind::Tcp
        );
        assert_eq!(
            transport_for_request(TransportKind::Udp, 400, Some(576)),
            TransportKind::Tcp
        );
    }

    #[test]
    fn other_transports_are_kept_whatever_the_size() {
        for kind in [TransportKind::Tls, TransportKind::Ws, TransportKind::Tcp] {
            assert_eq!(transport_for_request(kind, 60_000, None), kind);
        }
    }

    #[test]
    fn rewrites_only_the_top_via_transport() {
        let wire = "INVITE sip:bob@example.com SIP/2.0\r\n\
            Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK1;rport, SIP/2.0/UDP p.example.com;branch=z9hG4bK2\r\n\
            Content-Length: 0\r\n\r\n";
        let Ok(Message::Request(mut r)) = parse_message(Bytes::from_static(wire.as_bytes())) else {
            panic!("not a request")
        };
        set_top_via_transport(&mut r, TransportKind::Tcp).unwrap();
        let vias: Vec<_> = r.headers().vias().map(Result::unwrap).collect();
        assert_eq!(
            vias[0].to_string(),
            "SIP/2.0/TCP pc33.example.com:5060;branch=z9hG4bK1;rport"
        );
        assert_eq!(vias[1].transport(), &Transport::Udp);
    }
}
