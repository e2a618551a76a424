//! CANCEL (RFC 3261 §9.1) and the hop-by-hop ACK for a non-2xx response (§17.1.1.3): both copy the same
//! fields from the INVITE they refer to.

use super::TransactionError;
use super::key::required;
use crate::header::{CSeq, HeaderName};
use crate::message::{HeaderField, Request};
use crate::method::Method;
use bytes::Bytes;

/// Build the CANCEL for a client INVITE (RFC 3261 §9.1): the same Request-URI, Call-ID, From, To and CSeq
/// number, the method CANCEL, one Via equal to the INVITE's top Via (so its branch matches the INVITE's
/// server transaction), the INVITE's Route header fields and Max-Forwards, and no body.
///
/// [`super::TransactionLayer::cancel`] builds and sends it for you, respecting §9.1's timing rules.
pub fn build_cancel(invite: &Request) -> Result<Request, TransactionError> {
    let to = invite
        .headers()
        .get(&HeaderName::To)
        .cloned()
        .ok_or(TransactionError::MissingHeader("To"))?;
    request_like_invite(invite, Method::Cancel, to)
}

/// A request for `method` to the INVITE's next hop: Request-URI, top Via, Max-Forwards, Route, From,
/// Call-ID and CSeq number of the INVITE, with `to` as its To field and an empty body.
pub(crate) fn request_like_invite(
    invite: &Request,
    method: Method,
    to: HeaderField,
) -> Result<Request, TransactionError> {
    let headers = invite.headers();
    let top_via = headers
        .elements(HeaderName::Via)
        .next()
        .ok_or(TransactionError::MissingHeader("Via"))?;
    let cseq = required(headers.cseq(), "CSeq")?;
    let from = headers
        .get(&HeaderName::From)
        .ok_or(TransactionError::MissingHeader("From"))?;
    let call_id = headers
        .get(&HeaderName::CallId)
        .ok_or(TransactionError::MissingHeader("Call-ID"))?;
    let max_forwards = headers
        .get(&HeaderName::MaxForwards)
        .map_or_else(|| Bytes::from_static(b"70"), |f| f.value().clone());
    let mut builder = Request::builder(method.clone(), invite.uri().clone())
        .header(HeaderName::Via, top_via.value)
        .header(HeaderName::MaxForwards, max_forwards);
    for route in headers.get_all(&HeaderName::Route) {
        builder = builder.field(route.clone());
    }
    Ok(builder
        .field(from.clone())
        .field(to)
        .field(call_id.clone())
        .typed(&CSeq {
            seq: cseq.seq,
            method,
        })
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::HeaderName;
    use crate::parse_message;

    fn invite() -> Request {
        let text = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
            Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8, SIP/2.0/UDP p.example.com;branch=z9hG4bKold\r\n\
            Max-Forwards: 69\r\nRoute: <sip:p1.example.com;lr>\r\nRoute: <sip:p2.example.com;lr>\r\n\
            To: Bob <sip:bob@biloxi.example.com>\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
            Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@pc33.atlanta.example.com>\r\n\
            Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";
        match parse_message(Bytes::from_static(text.as_bytes())) {
            Ok(crate::Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn values(request: &Request, name: HeaderName) -> Vec<String> {
        request
            .headers()
            .get_all(&name)
            .map(|f| String::from_utf8_lossy(f.value()).into_owned())
            .collect()
    }

    #[test]
    fn cancel_copies_the_invite_fields_section_9_1_lists() {
        let invite = invite();
        let cancel = build_cancel(&invite).unwrap();
        assert_eq!(cancel.method(), &Method::Cancel);
        assert_eq!(cancel.uri(), invite.uri());
        assert_eq!(
            values(&cancel, HeaderName::Via),
            ["SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8"]
        );
        assert_eq!(values(&cancel, HeaderName::CSeq), ["314159 CANCEL"]);
        for name in [
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::Route,
            HeaderName::MaxForwards,
        ] {
            assert_eq!(values(&cancel, name.clone()), values(&invite, name));
        }
        assert!(cancel.body().is_empty());
        assert_eq!(values(&cancel, HeaderName::ContentLength), ["0"]);
        assert!(!cancel.headers().contains(&HeaderName::Contact));
    }

    #[test]
    fn cancel_of_an_invite_without_cseq_is_refused() {
        let mut invite = invite();
        invite.headers_mut().remove_all(&HeaderName::CSeq);
        assert_eq!(
            build_cancel(&invite),
            Err(TransactionError::MissingHeader("CSeq"))
        );
    }
}
