//! Which requests a proxy challenges for its own users (RFC 3261 §22.3, §16.5 "authorization").

use super::LocalIdentity;
use crate::message::Request;
use crate::method::Method;

/// Whether a proxy that authenticates its users should demand credentials (407, Proxy-Authorization) for
/// `request`: an initial request (no To tag) other than REGISTER (the registrar challenges it with 401),
/// ACK and CANCEL (which cannot be challenged), whose From is in one of our domains. Requests from other
/// domains to our users (a carrier's inbound call) and in-dialog requests are let through.
pub fn requires_proxy_authentication(request: &Request, identity: &LocalIdentity) -> bool {
    if matches!(
        request.method(),
        Method::Register | Method::Ack | Method::Cancel
    ) {
        return false;
    }
    let headers = request.headers();
    if matches!(headers.to(), Some(Ok(to)) if to.tag().is_some()) {
        return false;
    }
    match headers.from() {
        Some(Ok(from)) => from
            .uri()
            .as_sip()
            .is_some_and(|sip| identity.is_local_domain(sip.host())),
        // An unreadable From cannot prove it is foreign: challenge it.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportKind;
    use crate::{Message, parse_message};
    use bytes::Bytes;

    fn identity() -> LocalIdentity {
        LocalIdentity {
            addresses: vec![(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap())],
            domains: vec!["example.com".into()],
        }
    }

    fn request(method: &str, from: &str, to_tag: &str) -> Request {
        let wire = format!(
            "{method} sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKabc\r\n\
             From: <sip:alice@{from}>;tag=1\r\nTo: <sip:bob@example.com>{to_tag}\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_message(Bytes::from(wire)) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn initial_requests_from_our_users_are_challenged() {
        for method in ["INVITE", "MESSAGE", "SUBSCRIBE", "OPTIONS"] {
            assert!(requires_proxy_authentication(
                &request(method, "example.com", ""),
                &identity()
            ));
        }
    }

    #[test]
    fn register_ack_cancel_and_in_dialog_requests_are_not() {
        for method in ["REGISTER", "ACK", "CANCEL"] {
            assert!(!requires_proxy_authentication(
                &request(method, "example.com", ""),
                &identity()
            ));
        }
        assert!(!requires_proxy_authentication(
            &request("BYE", "example.com", ";tag=2"),
            &identity()
        ));
    }

    #[test]
    fn calls_from_other_domains_to_our_users_are_not() {
        assert!(!requires_proxy_authentication(
            &request("INVITE", "carrier.example.net", ""),
            &identity()
        ));
    }
}
