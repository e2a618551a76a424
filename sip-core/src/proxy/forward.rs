//! The per-copy rules of RFC 3261 §16.6 (Max-Forwards, Record-Route, the proxy's Via with a loop-detecting
//! branch), the loop check of §16.3 step 4 and the removal of the proxy's Via from responses (§16.7 step 3).

use super::LocalIdentity;
use super::route::remove_top_element;
use crate::header::{HeaderName, MaxForwards, NameAddr, Via};
use crate::message::{HeaderField, Request, Response};
use crate::method::StatusCode;
use crate::transport::TransportKind;
use crate::uri::Host;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// Max-Forwards given to requests that arrive without one (RFC 3261 §16.6 step 3).
pub const DEFAULT_MAX_FORWARDS: u8 = 70;

/// Prefix of the branch of every Via this proxy adds, so that its own Vias can be recognised.
const BRANCH_PREFIX: &str = "z9hG4bKtdm";

/// §16.6 step 3: decrement Max-Forwards, or insert it. `Err(483)` when it is already 0; `Err(400)` when it
/// does not parse.
pub fn decrement_max_forwards(request: &mut Request) -> Result<(), StatusCode> {
    let value = match request.headers().max_forwards() {
        None => DEFAULT_MAX_FORWARDS,
        Some(Ok(MaxForwards(0))) => return Err(StatusCode::TOO_MANY_HOPS),
        Some(Ok(MaxForwards(n))) => n - 1,
        Some(Err(_)) => return Err(StatusCode::BAD_REQUEST),
    };
    request
        .headers_mut()
        .replace(HeaderField::from_typed(&MaxForwards(value)));
    Ok(())
}

fn record_route_value(kind: TransportKind, addr: SocketAddr, double: bool) -> String {
    let host = match addr.ip() {
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    let transport = match kind {
        TransportKind::Udp => "",
        TransportKind::Tcp => ";transport=tcp",
        TransportKind::Tls => ";transport=tls",
        TransportKind::Ws | TransportKind::Wss => ";transport=ws",
    };
    let scheme = if kind == TransportKind::Tls {
        "sips"
    } else {
        "sip"
    };
    let r2 = if double { ";r2=on" } else { "" };
    format!("<{scheme}:{host}:{}{transport};lr{r2}>", addr.port())
}

/// §16.6 step 4 with RFC 5658: add this proxy's Record-Route. When the request leaves on another transport
/// (or address) than it came in on, two entries are added: the outbound side on top, so that the callee
/// reaches us over its transport, and the inbound side below it, for the caller.
pub fn add_record_route(
    request: &mut Request,
    identity: &LocalIdentity,
    inbound: TransportKind,
    outbound: TransportKind,
) {
    let (Some(in_addr), Some(out_addr)) = (identity.address(inbound), identity.address(outbound))
    else {
        return;
    };
    let double = inbound != outbound || in_addr != out_addr;
    let headers = request.headers_mut();
    headers.push_front(HeaderField::new(
        HeaderName::RecordRoute,
        record_route_value(inbound, in_addr, double),
    ));
    if double {
        headers.push_front(HeaderField::new(
            HeaderName::RecordRoute,
            record_route_value(outbound, out_addr, true),
        ));
    }
}

/// The hash over what stays the same when a request loops back unchanged (§16.6 step 8): Request-URI, From
/// and To tags, Call-ID, CSeq number, Proxy-Require and Proxy-Authorization.
pub fn loop_hash(request: &Request) -> u64 {
    let mut hasher = DefaultHasher::new();
    // The URI's text as `to_string` gives it (the same hash), in one buffer.
    let mut uri = Vec::with_capacity(64);
    request.uri().write_to(&mut uri);
    String::from_utf8_lossy(&uri).hash(&mut hasher);
    let headers = request.headers();
    for name in [
        HeaderName::CallId,
        HeaderName::ProxyRequire,
        HeaderName::ProxyAuthorization,
    ] {
        if let Some(field) = headers.get(&name) {
            field.value().hash(&mut hasher);
        }
    }
    // Only the tags: the parameters are found without parsing the URIs.
    for name in [HeaderName::From, HeaderName::To] {
        if let Some(params) = headers
            .get(&name)
            .and_then(|f| NameAddr::header_params(f.value()))
        {
            params.value("tag").hash(&mut hasher);
        }
    }
    if let Some(Ok(cseq)) = headers.cseq() {
        cseq.seq.hash(&mut hasher);
    }
    hasher.finish()
}

/// A branch for this proxy's Via: the magic cookie, the loop hash of the received request and a per-branch
/// counter (§16.6 step 8).
pub fn branch_for(hash: u64, counter: u64) -> String {
    format!("{BRANCH_PREFIX}{hash:016x}.{counter:x}")
}

/// §16.3 step 4: a request that carries one of our Vias whose branch holds the loop hash the request has now
/// came back unchanged: a loop (482). A Via of ours with another hash is a spiral, which is fine.
pub fn is_loop(request: &Request, identity: &LocalIdentity) -> bool {
    looped(request, identity, || loop_hash(request))
}

/// [`is_loop`] given the request's loop hash, computed only if a Via of ours with one of our branches is
/// there: most requests carry none, and the hash parses and hashes several header fields.
pub(crate) fn looped(
    request: &Request,
    identity: &LocalIdentity,
    hash: impl FnOnce() -> u64,
) -> bool {
    // Only a Via field holding our branch prefix can be ours: most requests need no Via parsed here.
    let ours = memchr::memmem::Finder::new(BRANCH_PREFIX);
    if !request
        .headers()
        .get_all(&HeaderName::Via)
        .any(|f| ours.find(f.value()).is_some())
    {
        return false;
    }
    let mut hash = Some(hash);
    let mut wanted: Option<String> = None;
    request.headers().vias().flatten().any(|via| {
        let Some(branch) = via.branch() else {
            return false;
        };
        if !branch.starts_with(BRANCH_PREFIX.as_bytes())
            || !identity.is_local_sent_by(via.host(), via.port())
        {
            return false;
        }
        let wanted = wanted.get_or_insert_with(|| {
            let hash = hash.take().map_or(0, |hash| hash());
            format!("{BRANCH_PREFIX}{hash:016x}.")
        });
        branch.starts_with(wanted.as_bytes())
    })
}

/// §16.6 step 8: put this proxy's Via on top, sent-by the address of `outbound`, with `branch` and `rport`.
/// `false` when no address is known for any transport.
pub fn push_via(
    request: &mut Request,
    identity: &LocalIdentity,
    outbound: TransportKind,
    branch: &str,
) -> bool {
    let Some(addr) = identity.address(outbound) else {
        return false;
    };
    let host = Host::from(addr.ip());
    let via = Via::new(outbound.into(), host, Some(addr.port()))
        .with_branch(branch)
        .with_param("rport", None);
    request
        .headers_mut()
        .push_front(HeaderField::from_typed(&via));
    true
}

/// §16.7 step 3: remove our Via from a response. Returns `false` (drop the response) when the top Via is not
/// ours.
pub fn pop_own_via(response: &mut Response) -> bool {
    let ours = match response.headers().via() {
        Some(Ok(via)) => via
            .branch()
            .is_some_and(|b| b.starts_with(BRANCH_PREFIX.as_bytes())),
        _ => false,
    };
    if ours {
        remove_top_element(response.headers_mut(), &HeaderName::Via);
    }
    ours
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::RecordRoute;
    use crate::uri::Uri;
    use crate::{Message, parse_message};
    use bytes::Bytes;

    fn identity() -> LocalIdentity {
        LocalIdentity {
            addresses: vec![
                (TransportKind::Udp, "192.0.2.1:5060".parse().unwrap()),
                (TransportKind::Ws, "192.0.2.1:8080".parse().unwrap()),
            ],
            domains: vec!["example.com".into()],
        }
    }

    fn request(extra: &str) -> Request {
        let wire = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKabc\r\n\
             {extra}From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_message(Bytes::from(wire)) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn decrements_max_forwards_and_refuses_zero() {
        let mut r = request("Max-Forwards: 5\r\n");
        decrement_max_forwards(&mut r).unwrap();
        assert_eq!(r.headers().max_forwards().unwrap().unwrap(), MaxForwards(4));
        let mut r = request("Max-Forwards: 0\r\n");
        assert_eq!(
            decrement_max_forwards(&mut r),
            Err(StatusCode::TOO_MANY_HOPS)
        );
        let mut r = request("");
        decrement_max_forwards(&mut r).unwrap();
        assert_eq!(
            r.headers().max_forwards().unwrap().unwrap(),
            MaxForwards(70)
        );
    }

    #[test]
    fn double_record_route_when_the_transport_changes() {
        let mut r = request("");
        add_record_route(&mut r, &identity(), TransportKind::Ws, TransportKind::Udp);
        let entries: Vec<String> = r
            .headers()
            .typed_all::<RecordRoute>()
            .map(|rr| rr.unwrap().uri().to_string())
            .collect();
        assert_eq!(
            entries,
            [
                "sip:192.0.2.1:5060;lr;r2=on",
                "sip:192.0.2.1:8080;transport=ws;lr;r2=on"
            ]
        );
    }

    #[test]
    fn single_record_route_on_the_same_transport() {
        let mut r = request("");
        add_record_route(&mut r, &identity(), TransportKind::Udp, TransportKind::Udp);
        assert_eq!(r.headers().typed_all::<RecordRoute>().count(), 1);
    }

    #[test]
    fn detects_a_loop_but_not_a_spiral() {
        let id = identity();
        let mut r = request("");
        let branch = branch_for(loop_hash(&r), 1);
        assert!(push_via(&mut r, &id, TransportKind::Udp, &branch));
        assert!(is_loop(&r, &id));
        // The same request with another Request-URI (retargeted) is a spiral.
        r.set_uri(Uri::parse(&Bytes::from_static(b"sip:carol@example.com")).unwrap());
        assert!(!is_loop(&r, &id));
    }

    #[test]
    fn pops_only_its_own_via_from_responses() {
        let id = identity();
        let mut r = request("");
        push_via(&mut r, &id, TransportKind::Udp, &branch_for(7, 1));
        let mut ok = Response::from_request(&r, StatusCode::OK, Some("t")).build();
        assert!(pop_own_via(&mut ok));
        let top = ok.headers().via().unwrap().unwrap();
        assert_eq!(top.branch(), Some(&b"z9hG4bKabc"[..]));
        assert!(!pop_own_via(&mut ok));
    }
}
