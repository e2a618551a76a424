//! Transaction matching keys: responses to client transactions (RFC 3261 §17.1.3) and requests to server
//! transactions (§17.2.3, with the RFC 2543 fallback for requests without a `z9hG4bK` branch).

use super::TransactionError;
use crate::error::ParseError;
use crate::header::{HeaderName, Via};
use crate::message::{Headers, Request, Response};
use crate::method::Method;
use crate::uri::Host;
use bytes::Bytes;
use std::hash::{Hash, Hasher};

/// What a response must share with the request of its client transaction: the top Via branch and the
/// CSeq method (so that an INVITE and its CANCEL, which share a branch, stay apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    branch: Branch,
    method: Method,
}

/// A Via `branch` value. RFC 3261 §7.3.1 makes parameter values case-insensitive unless a header says
/// otherwise, and Via does not, so branches are compared (and hashed) without case.
#[derive(Debug, Clone)]
pub(crate) struct Branch(Bytes);

impl PartialEq for Branch {
    fn eq(&self, other: &Branch) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for Branch {}

impl Hash for Branch {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_caseless(&self.0, state);
    }
}

/// Hash `bytes` as their ASCII lower-case form, a stack buffer at a time (no allocation).
fn hash_caseless<H: Hasher>(bytes: &[u8], state: &mut H) {
    state.write_usize(bytes.len());
    let mut buf = [0u8; 32];
    for chunk in bytes.chunks(buf.len()) {
        let lower = &mut buf[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        state.write(lower);
    }
}

impl ClientKey {
    /// The key of a request about to be sent: it must carry an RFC 3261 branch and a CSeq naming its method.
    pub(crate) fn for_request(request: &Request) -> Result<ClientKey, TransactionError> {
        if *request.method() == Method::Ack {
            return Err(TransactionError::AckNotTransaction);
        }
        let via = required(request.headers().via(), "Via")?;
        if !via.has_rfc3261_branch() {
            return Err(TransactionError::MissingBranch);
        }
        let cseq = required(request.headers().cseq(), "CSeq")?;
        if cseq.method != *request.method() {
            return Err(TransactionError::CSeqMethodMismatch);
        }
        let branch = via.branch_bytes().ok_or(TransactionError::MissingBranch)?;
        Ok(ClientKey {
            branch: Branch(branch),
            method: cseq.method,
        })
    }

    /// The key a received response matches; `None` when its top Via has no branch (it matches nothing).
    pub(crate) fn for_response(response: &Response) -> Result<Option<ClientKey>, TransactionError> {
        let via = required(response.headers().via(), "Via")?;
        let cseq = required(response.headers().cseq(), "CSeq")?;
        Ok(via.branch_bytes().map(|branch| ClientKey {
            branch: Branch(branch),
            method: cseq.method,
        }))
    }
}

/// What a request must share with the request that created a server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// RFC 3261 §17.2.3: branch, sent-by and method (ACK counted as INVITE).
    Rfc3261 {
        branch: Branch,
        sent_by: SentBy,
        method: Method,
    },
    /// RFC 2543 fallback (§17.2.3): Request-URI, tags, Call-ID, CSeq and top Via.
    Rfc2543(Box<LegacyKey>),
}

/// The RFC 2543 matching fields. The Request-URI and top Via are compared as written, which is what a
/// retransmission of the same request carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LegacyKey {
    request_uri: Bytes,
    to_tag: Option<Bytes>,
    from_tag: Option<Bytes>,
    call_id: Bytes,
    cseq: u32,
    top_via: Bytes,
    method: Method,
}

impl ServerKey {
    /// The key of a received request. An ACK gets its INVITE's key: with RFC 3261 branches the ACK for a
    /// non-2xx response repeats the INVITE's branch; with RFC 2543 it carries the To tag of the response,
    /// which [`ServerKey::with_to_tag`] registers.
    pub(crate) fn for_request(request: &Request) -> Result<ServerKey, TransactionError> {
        let headers = request.headers();
        let via = required(headers.via(), "Via")?;
        let method = match request.method() {
            Method::Ack => Method::Invite,
            other => other.clone(),
        };
        if via.has_rfc3261_branch() {
            let branch = via.branch_bytes().ok_or(TransactionError::MissingBranch)?;
            return Ok(ServerKey::Rfc3261 {
                branch: Branch(branch),
                sent_by: SentBy::of(&via),
                method,
            });
        }
        legacy_key(request, headers, method).map(|k| ServerKey::Rfc2543(Box::new(k)))
    }

    /// The same key holding its own copies of the bytes it compares, instead of slices of the received
    /// message: a slice keeps the whole datagram it came from allocated for as long as the key lives.
    pub(crate) fn detached(&self) -> ServerKey {
        match self {
            ServerKey::Rfc3261 {
                branch,
                sent_by,
                method,
            } => ServerKey::Rfc3261 {
                branch: Branch(Bytes::copy_from_slice(&branch.0)),
                sent_by: sent_by.detached(),
                method: detached_method(method),
            },
            ServerKey::Rfc2543(k) => ServerKey::Rfc2543(Box::new(LegacyKey {
                request_uri: k.request_uri.clone(),
                to_tag: k.to_tag.as_deref().map(Bytes::copy_from_slice),
                from_tag: k.from_tag.as_deref().map(Bytes::copy_from_slice),
                call_id: Bytes::copy_from_slice(&k.call_id),
                cseq: k.cseq,
                top_via: Bytes::copy_from_slice(&k.top_via),
                method: detached_method(&k.method),
            })),
        }
    }

    /// The method the key matches (INVITE for an ACK).
    pub(crate) fn method(&self) -> &Method {
        match self {
            ServerKey::Rfc3261 { method, .. } => method,
            ServerKey::Rfc2543(k) => &k.method,
        }
    }

    /// The same request with another method: the INVITE a CANCEL refers to (RFC 3261 §9.2).
    pub(crate) fn with_method(&self, method: Method) -> ServerKey {
        match self {
            ServerKey::Rfc3261 {
                branch, sent_by, ..
            } => ServerKey::Rfc3261 {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method,
            },
            ServerKey::Rfc2543(k) => ServerKey::Rfc2543(Box::new(LegacyKey {
                method,
                ..(**k).clone()
            })),
        }
    }

    /// For an RFC 2543 INVITE answered with a final response whose To tag is `tag`: the key its ACK will
    /// have (RFC 3261 §17.2.3), if different from this one. RFC 3261 keys need none.
    pub(crate) fn with_to_tag(&self, tag: Option<Bytes>) -> Option<ServerKey> {
        let ServerKey::Rfc2543(k) = self else {
            return None;
        };
        if k.to_tag == tag {
            return None;
        }
        Some(ServerKey::Rfc2543(Box::new(LegacyKey {
            to_tag: tag,
            ..(**k).clone()
        })))
    }
}

fn legacy_key(
    request: &Request,
    headers: &Headers,
    method: Method,
) -> Result<LegacyKey, TransactionError> {
    let call_id = required(headers.call_id(), "Call-ID")?;
    let cseq = required(headers.cseq(), "CSeq")?;
    let from = required(headers.from(), "From")?;
    let to = required(headers.to(), "To")?;
    let top_via = headers
        .elements(HeaderName::Via)
        .next()
        .map(|e| e.value)
        .ok_or(TransactionError::MissingHeader("Via"))?;
    let mut uri = Vec::with_capacity(64);
    request.uri().write_to(&mut uri);
    Ok(LegacyKey {
        request_uri: Bytes::from(uri),
        to_tag: to.params().value_bytes("tag"),
        from_tag: from.params().value_bytes("tag"),
        call_id: call_id.as_bytes().clone(),
        cseq: cseq.seq,
        top_via,
        method,
    })
}

/// An extension method's own copy of its name (see [`ServerKey::detached`]).
fn detached_method(method: &Method) -> Method {
    match method {
        Method::Extension(name) => Method::Extension(Bytes::copy_from_slice(name)),
        other => other.clone(),
    }
}

/// The To tag of a response, sharing its storage.
pub(crate) fn to_tag(response: &Response) -> Option<Bytes> {
    let to = response.headers().to()?.ok()?;
    to.params().value_bytes("tag")
}

/// A Via sent-by (host and port), with host names compared case-insensitively (RFC 3261 §19.1.4).
#[derive(Debug, Clone)]
pub(crate) struct SentBy {
    host: Host,
    port: Option<u16>,
}

impl SentBy {
    fn of(via: &Via) -> SentBy {
        SentBy {
            host: via.host().clone(),
            port: via.port(),
        }
    }

    /// See [`ServerKey::detached`].
    fn detached(&self) -> SentBy {
        let host = match &self.host {
            Host::Domain(name) => Host::Domain(Bytes::copy_from_slice(name)),
            other => other.clone(),
        };
        SentBy {
            host,
            port: self.port,
        }
    }
}

impl PartialEq for SentBy {
    fn eq(&self, other: &SentBy) -> bool {
        self.port == other.port && self.host.equivalent(&other.host)
    }
}

impl Eq for SentBy {}

impl Hash for SentBy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.port.hash(state);
        match &self.host {
            // Hash what `Host::equivalent` compares: names without case, addresses by value.
            Host::Domain(name) => {
                state.write_u8(0);
                hash_caseless(name, state);
            }
            other => {
                state.write_u8(1);
                other.ip().hash(state);
            }
        }
    }
}

/// A typed header that transactions cannot do without.
pub(crate) fn required<H>(
    value: Option<Result<H, ParseError>>,
    header: &'static str,
) -> Result<H, TransactionError> {
    match value {
        None => Err(TransactionError::MissingHeader(header)),
        Some(Err(error)) => Err(TransactionError::InvalidHeader { header, error }),
        Some(Ok(h)) => Ok(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_message;
    use std::collections::hash_map::DefaultHasher;

    fn request(text: &str) -> Request {
        match parse_message(Bytes::from(text.replace('\n', "\r\n"))) {
            Ok(crate::Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn invite(via: &str, method: &str, to: &str) -> Request {
        request(&format!(
            "{method} sip:bob@example.com SIP/2.0\nVia: {via}\nFrom: <sip:a@example.com>;tag=f1\n\
             To: {to}\nCall-ID: c1\nCSeq: 1 {method}\nContent-Length: 0\n\n"
        ))
    }

    fn hash_of(key: &ServerKey) -> u64 {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }

    #[test]
    fn sent_by_host_names_match_without_case() {
        let a = invite(
            "SIP/2.0/UDP PC33.Example.com:5060;branch=z9hG4bK1",
            "INVITE",
            "<sip:bob@example.com>",
        );
        let b = invite(
            "SIP/2.0/UDP pc33.example.COM:5060;branch=z9hG4bK1",
            "INVITE",
            "<sip:bob@example.com>",
        );
        let (ka, kb) = (
            ServerKey::for_request(&a).unwrap(),
            ServerKey::for_request(&b).unwrap(),
        );
        assert_eq!(ka, kb);
        assert_eq!(hash_of(&ka), hash_of(&kb));
    }

    #[test]
    fn branches_match_without_case() {
        let a = invite("SIP/2.0/UDP h;branch=z9hG4bKabc", "INVITE", "<sip:b@e>");
        let b = invite("SIP/2.0/UDP h;branch=z9hG4bKABC", "INVITE", "<sip:b@e>");
        let (ka, kb) = (
            ServerKey::for_request(&a).unwrap(),
            ServerKey::for_request(&b).unwrap(),
        );
        assert_eq!(ka, kb);
        assert_eq!(hash_of(&ka), hash_of(&kb));
        let (ca, cb) = (
            ClientKey::for_request(&a).unwrap(),
            ClientKey::for_request(&b).unwrap(),
        );
        assert_eq!(ca, cb);
    }

    #[test]
    fn long_host_names_hash_alike_across_case() {
        let host = "a-very-long-host-name-that-spans-more-than-one-chunk.example.com";
        let a = invite(
            &format!("SIP/2.0/UDP {host};branch=z9hG4bK1"),
            "INVITE",
            "<sip:b@e>",
        );
        let upper = host.to_ascii_uppercase();
        let b = invite(
            &format!("SIP/2.0/UDP {upper};branch=z9hG4bK1"),
            "INVITE",
            "<sip:b@e>",
        );
        let (ka, kb) = (
            ServerKey::for_request(&a).unwrap(),
            ServerKey::for_request(&b).unwrap(),
        );
        assert_eq!(ka, kb);
        assert_eq!(hash_of(&ka), hash_of(&kb));
    }

    #[test]
    fn sent_by_port_host_and_branch_distinguish_transactions() {
        let base = ServerKey::for_request(&invite(
            "SIP/2.0/UDP h.example.com;branch=z9hG4bKab",
            "INVITE",
            "<sip:bob@example.com>",
        ))
        .unwrap();
        for via in [
            "SIP/2.0/UDP h.example.com:5070;branch=z9hG4bKab",
            "SIP/2.0/UDP h.example.com;branch=z9hG4bKac",
            "SIP/2.0/UDP other.example.com;branch=z9hG4bKab",
        ] {
            let other =
                ServerKey::for_request(&invite(via, "INVITE", "<sip:bob@example.com>")).unwrap();
            assert_ne!(base, other, "{via}");
        }
    }

    #[test]
    fn ack_shares_the_invite_key_and_cancel_does_not() {
        let via = "SIP/2.0/UDP h.example.com;branch=z9hG4bKab";
        let inv = ServerKey::for_request(&invite(via, "INVITE", "<sip:b@e>")).unwrap();
        let ack = ServerKey::for_request(&invite(via, "ACK", "<sip:b@e>;tag=t")).unwrap();
        let cancel = ServerKey::for_request(&invite(via, "CANCEL", "<sip:b@e>")).unwrap();
        assert_eq!(inv, ack);
        assert_ne!(inv, cancel);
        assert_eq!(cancel.with_method(Method::Invite), inv);
    }

    #[test]
    fn rfc2543_ack_matches_through_the_response_to_tag() {
        let via = "SIP/2.0/UDP old.example.com";
        let inv = ServerKey::for_request(&invite(via, "INVITE", "<sip:b@e>")).unwrap();
        let ack = ServerKey::for_request(&invite(via, "ACK", "<sip:b@e>;tag=t9")).unwrap();
        assert_ne!(inv, ack);
        assert_eq!(inv.with_to_tag(Some(Bytes::from_static(b"t9"))), Some(ack));
        assert_eq!(
            ServerKey::for_request(&invite(via, "INVITE", "<sip:b@e>;tag=t9"))
                .unwrap()
                .with_to_tag(Some(Bytes::from_static(b"t9"))),
            None
        );
    }

    #[test]
    fn rfc2543_key_differs_by_call_id_cseq_and_via() {
        let base = invite("SIP/2.0/UDP old.example.com", "INVITE", "<sip:b@e>");
        let k = ServerKey::for_request(&base).unwrap();
        let other_via = invite("SIP/2.0/UDP old.example.com:5062", "INVITE", "<sip:b@e>");
        assert_ne!(k, ServerKey::for_request(&other_via).unwrap());
        let text = "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP old.example.com\n\
             From: <sip:a@example.com>;tag=f1\nTo: <sip:b@e>\nCall-ID: c2\nCSeq: 1 INVITE\n\
             Content-Length: 0\n\n";
        assert_ne!(k, ServerKey::for_request(&request(text)).unwrap());
        let text = text.replace("c2", "c1").replace("CSeq: 1", "CSeq: 2");
        assert_ne!(k, ServerKey::for_request(&request(&text)).unwrap());
    }

    #[test]
    fn request_to_send_needs_a_magic_cookie_branch_and_matching_cseq() {
        let no_cookie = invite("SIP/2.0/UDP h;branch=abc", "INVITE", "<sip:b@e>");
        assert_eq!(
            ClientKey::for_request(&no_cookie),
            Err(TransactionError::MissingBranch)
        );
        let text = "OPTIONS sip:b@e SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCSeq: 1 INFO\n\n";
        assert_eq!(
            ClientKey::for_request(&request(text)),
            Err(TransactionError::CSeqMethodMismatch)
        );
        let text = "OPTIONS sip:b@e SIP/2.0\nCSeq: 1 OPTIONS\n\n";
        assert_eq!(
            ClientKey::for_request(&request(text)),
            Err(TransactionError::MissingHeader("Via"))
        );
    }

    #[test]
    fn reports_an_unparsable_via() {
        let text = "OPTIONS sip:b@e SIP/2.0\nVia: nonsense\nCSeq: 1 OPTIONS\n\n";
        assert!(matches!(
            ServerKey::for_request(&request(text)),
            Err(TransactionError::InvalidHeader { header: "Via", .. })
        ));
    }
}
