//! What the server transport writes into the top Via of a request it receives: `received` (RFC 3261 §18.2.1)
//! and `rport` (RFC 3581 §4).

use crate::error::ParseError;
use crate::header::{HeaderName, Rport, Via};
use crate::message::{HeaderField, Headers, Request};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};

/// What [`stamp_received`] changed in the top Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Nothing: the request came from the address its Via names and did not ask for `rport`.
    Unchanged,
    /// `received` was added (or corrected).
    Received,
    /// `received` was added and the empty `rport` filled with the source port.
    ReceivedAndRport,
}

/// Stamp the top Via of a request received from `source`, as a server transport must.
///
/// - `received=<source IP>` is added when the Via's sent-by host is not the source IP (a name, or another
///   address), RFC 3261 §18.2.1; a `received` the sender put there itself is replaced.
/// - When the Via has an empty `rport` (RFC 3581 §3), it is filled with the source port and `received` is
///   added even if the sent-by host is the source IP (RFC 3581 §4).
///
/// IPv4-mapped IPv6 sources (from a dual-stack socket) are written as IPv4. The top Via entry is rewritten
/// in place; other Via entries, even in the same header field, are kept byte for byte. Fails only when the
/// top Via does not parse (a request without Via is left alone: validation rejects it).
pub fn stamp_received(request: &mut Request, source: SocketAddr) -> Result<Stamp, ParseError> {
    let Some(via) = request.headers().via().transpose()? else {
        return Ok(Stamp::Unchanged);
    };
    let ip = source.ip().to_canonical();
    let fill_rport = via.rport() == Some(Rport::Requested);
    let host_is_source = via.host().ip() == Some(ip) && via.received_ip().is_none_or(|r| r == ip);
    if !fill_rport && host_is_source {
        return Ok(Stamp::Unchanged);
    }
    let mut via = via;
    via.params_mut().set("received", Some(&received_text(ip)));
    let stamp = if fill_rport {
        via.params_mut()
            .set("rport", Some(&source.port().to_string()));
        Stamp::ReceivedAndRport
    } else {
        Stamp::Received
    };
    replace_top_via(request.headers_mut(), &via);
    Ok(stamp)
}

/// An address as a Via `received` value: IPv6 without brackets (RFC 3261 §20.42, RFC 5118 §4.5).
fn received_text(ip: IpAddr) -> String {
    ip.to_string()
}

/// Replace the first element of the first Via field by `via`, keeping the field's other elements.
pub(super) fn replace_top_via(headers: &mut Headers, via: &Via) {
    let Some(field) = headers.get_mut(&HeaderName::Via) else {
        return;
    };
    let mut value = Vec::new();
    via.write_to(&mut value);
    if let Some(rest) = after_first_element(field) {
        value.extend_from_slice(b", ");
        value.extend_from_slice(&rest);
    }
    field.set_value(value);
}

/// The elements after the first one in a list field, as written (`None` when there is only one).
fn after_first_element(field: &HeaderField) -> Option<Bytes> {
    let mut elements = field.elements();
    elements.next()?;
    let second = elements.next()?;
    // Element offsets count from the field's own offset, so the difference is the position in the value.
    let start = second.offset.checked_sub(field.offset())?;
    (start <= field.value().len()).then(|| field.value().slice(start..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::parse::parse_message;
    use crate::uri::Host;

    fn request(vias: &str) -> Request {
        let wire = format!(
            "OPTIONS sip:bob@example.com SIP/2.0\r\n{vias}From: <sip:a@example.com>;tag=1\r\n\
             To: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_message(Bytes::from(wire)) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn top_via(r: &Request) -> Via {
        r.headers().via().unwrap().unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn request_from_its_sent_by_address_is_left_alone() {
        let mut r = request("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n");
        let before = r.clone();
        assert_eq!(
            stamp_received(&mut r, addr("192.0.2.1:5060")),
            Ok(Stamp::Unchanged)
        );
        assert_eq!(r, before);
    }

    #[test]
    fn adds_received_when_source_differs_from_sent_by() {
        let mut r = request("Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK1\r\n");
        assert_eq!(
            stamp_received(&mut r, addr("198.51.100.7:5060")),
            Ok(Stamp::Received)
        );
        let via = top_via(&r);
        assert_eq!(via.received_ip(), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(via.rport(), None);
        assert_eq!(via.branch(), Some(&b"z9hG4bK1"[..]));
    }

    #[test]
    fn fills_empty_rport_and_adds_received_even_from_sent_by_address() {
        // RFC 3581 §4: received is added even when it equals sent-by.
        let mut r = request("Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1\r\n");
        assert_eq!(
            stamp_received(&mut r, addr("192.0.2.1:40123")),
            Ok(Stamp::ReceivedAndRport)
        );
        let via = top_via(&r);
        assert_eq!(via.rport(), Some(Rport::Port(40123)));
        assert_eq!(via.received_ip(), Some("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn replaces_a_received_the_sender_wrote_itself() {
        let mut r = request("Via: SIP/2.0/UDP 192.0.2.1;received=203.0.113.9;branch=z9hG4bK1\r\n");
        assert_eq!(
            stamp_received(&mut r, addr("192.0.2.1:5060")),
            Ok(Stamp::Received)
        );
        let via = top_via(&r);
        assert_eq!(via.received_ip(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(via.params().iter().filter(|p| p.is("received")).count(), 1);
    }

    #[test]
    fn keeps_lower_vias_of_the_same_field_byte_for_byte() {
        let mut r = request(
            "Via: SIP/2.0/TCP client.example.com;rport;branch=z9hG4bK1 ,  SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\nVia: SIP/2.0/UDP last.example.com;branch=z9hG4bKl\r\n",
        );
        stamp_received(&mut r, addr("198.51.100.7:1024")).unwrap();
        let vias: Vec<Via> = r.headers().vias().map(Result::unwrap).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].rport(), Some(Rport::Port(1024)));
        assert_eq!(
            vias[1].host(),
            &Host::Domain(Bytes::from_static(b"proxy.example.com"))
        );
        let first = r.headers().get(&HeaderName::Via).unwrap().value().clone();
        assert!(first.ends_with(b", SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp"));
    }

    #[test]
    fn writes_ipv6_and_mapped_ipv4_sources_plainly() {
        let mut r = request("Via: SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1\r\n");
        stamp_received(&mut r, addr("[2001:db8::9]:5060")).unwrap();
        assert_eq!(
            top_via(&r).received(),
            Some(&b"2001:db8::9"[..]),
            "no brackets in received"
        );
        let mut r = request("Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n");
        assert_eq!(
            stamp_received(&mut r, addr("[::ffff:192.0.2.1]:5060")),
            Ok(Stamp::Unchanged)
        );
    }

    #[test]
    fn unparsable_top_via_is_an_error_and_missing_via_is_not() {
        let mut r = request("Via: SIP/2.0/UDP;branch=z9hG4bK1\r\n");
        assert!(stamp_received(&mut r, addr("192.0.2.1:5060")).is_err());
        let mut r = request("");
        assert_eq!(
            stamp_received(&mut r, addr("192.0.2.1:5060")),
            Ok(Stamp::Unchanged)
        );
    }
}
