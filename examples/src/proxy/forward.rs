//! The request-forwarding rules of RFC 3261 §16 that a proxy applies to every request it relays, as plain
//! functions over a [`Request`]: Max-Forwards (§16.6 step 3), loose routing (§16.4, §16.6 step 6),
//! Record-Route with a double entry when the transport changes (§16.6 step 4, RFC 5658), its own Via with a
//! loop-detecting branch (§16.6 step 8, §16.3 step 4), and removal of its Via from responses (§16.7 step 3).

use bytes::Bytes;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use tandem_sip_core::transaction::TransportKind;
use tandem_sip_core::{
    HeaderField, HeaderName, Host, MaxForwards, Request, Response, Route, StatusCode, Uri, Via,
};

/// Max-Forwards given to requests that arrive without one (RFC 3261 §16.6 step 3).
pub const DEFAULT_MAX_FORWARDS: u8 = 70;

/// Prefix of the branch of every Via this proxy adds, so that its own Vias can be recognised.
const BRANCH_PREFIX: &str = "z9hG4bKtdm";

/// The addresses and domains this proxy answers for: what "a URI pointing to us" means.
#[derive(Debug, Clone, Default)]
pub struct LocalIdentity {
    /// The address advertised for each transport (in Via and Record-Route).
    pub addresses: Vec<(TransportKind, SocketAddr)>,
    /// The domains served (lower case).
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

    /// Whether `host` names one of the served domains.
    pub fn is_local_domain(&self, host: &Host) -> bool {
        match host {
            Host::Domain(name) => self
                .domains
                .iter()
                .any(|d| d.as_bytes().eq_ignore_ascii_case(name)),
            _ => host
                .ip()
                .is_some_and(|ip| self.addresses.iter().any(|(_, a)| a.ip() == ip)),
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
            addr.ip() == ip && addr.port() == port.unwrap_or_else(|| default_port(*kind))
        })
    }

    /// Whether a Via sent-by (`host`, `port`) is one of our addresses.
    fn is_local_sent_by(&self, host: &Host, port: Option<u16>) -> bool {
        host.ip().is_some_and(|ip| self.has_address(ip, port))
    }
}

/// The default port of a transport (RFC 3261 §19.1.2, RFC 7118).
pub fn default_port(kind: TransportKind) -> u16 {
    match kind {
        TransportKind::Tls => 5061,
        TransportKind::Ws => 80,
        TransportKind::Wss => 443,
        _ => 5060,
    }
}

/// Apply §16.6 step 3: decrement Max-Forwards, or insert it. `Err(483)` when it is already 0; `Err(400)` when
/// it does not parse.
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

/// Remove the first element of the list header `name` (which may share a field with others) and return it.
pub fn remove_top_element(
    headers: &mut tandem_sip_core::Headers,
    name: &HeaderName,
) -> Option<Bytes> {
    let field = headers.get(name)?;
    let mut elements = field.elements().map(|e| e.value);
    let first = elements.next()?;
    let rest: Vec<Bytes> = elements.collect();
    if rest.is_empty() {
        headers.remove_first(name);
        return Some(first);
    }
    let joined = rest
        .iter()
        .map(|b| String::from_utf8_lossy(b))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(field) = headers.get_mut(name) {
        field.set_value(joined);
    }
    Some(first)
}

/// §16.4 and loose routing: remove the Route entries at the top that point to this proxy (one, or two after
/// a double Record-Route). Returns how many were removed.
pub fn strip_local_routes(request: &mut Request, identity: &LocalIdentity) -> usize {
    let mut removed = 0;
    while let Some(Ok(top)) = request.headers().typed::<Route>() {
        if !identity.is_local_uri(top.uri()) {
            break;
        }
        remove_top_element(request.headers_mut(), &HeaderName::Route);
        removed += 1;
    }
    removed
}

/// The URI of the topmost Route, if any (where a loose-routed request goes next).
pub fn next_route(request: &Request) -> Option<Uri> {
    match request.headers().typed::<Route>() {
        Some(Ok(route)) => Some(route.uri().clone()),
        _ => None,
    }
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
        _ => "",
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
    request.uri().to_string().hash(&mut hasher);
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
    if let Some(Ok(from)) = headers.from() {
        from.tag().hash(&mut hasher);
    }
    if let Some(Ok(to)) = headers.to() {
        to.tag().hash(&mut hasher);
    }
    if let Some(Ok(cseq)) = headers.cseq() {
        cseq.seq.hash(&mut hasher);
    }
    hasher.finish()
}

/// A branch for this proxy's Via: the loop hash of the received request and a per-branch counter.
pub fn branch_for(hash: u64, counter: u64) -> String {
    format!("{BRANCH_PREFIX}{hash:016x}.{counter:x}")
}

/// §16.3 step 4: a request that carries one of our Vias whose branch holds the loop hash the request has now
/// came back unchanged: a loop (482). A Via of ours with another hash is a spiral, which is fine.
pub fn is_loop(request: &Request, identity: &LocalIdentity) -> bool {
    let wanted = format!("{BRANCH_PREFIX}{:016x}.", loop_hash(request));
    request.headers().vias().flatten().any(|via| {
        identity.is_local_sent_by(via.host(), via.port())
            && via
                .branch()
                .is_some_and(|b| b.starts_with(wanted.as_bytes()))
    })
}

/// §16.6 step 8: put this proxy's Via on top, sent-by the address of `outbound`, with `branch`.
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
    use tandem_sip_core::{Message, RecordRoute, parse_message};

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
    fn strips_both_entries_of_a_double_record_route_and_keeps_foreign_ones() {
        let mut r = request(
            "Route: <sip:192.0.2.1:8080;transport=ws;lr;r2=on>, <sip:192.0.2.1;lr;r2=on>\r\n\
             Route: <sip:198.51.100.7;lr>\r\n",
        );
        assert_eq!(strip_local_routes(&mut r, &identity()), 2);
        assert_eq!(next_route(&r).unwrap().to_string(), "sip:198.51.100.7;lr");
    }

    #[test]
    fn a_user_in_our_domain_is_not_a_route_to_us() {
        let id = identity();
        let bob: Uri = Uri::parse(&Bytes::from_static(b"sip:bob@example.com")).unwrap();
        let us: Uri = Uri::parse(&Bytes::from_static(b"sip:example.com;lr")).unwrap();
        assert!(!id.is_local_uri(&bob));
        assert!(id.is_local_uri(&us));
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

    #[test]
    fn removes_the_top_element_of_a_combined_field() {
        let mut r = request("Route: <sip:a;lr>, <sip:b;lr>\r\n");
        let first = remove_top_element(r.headers_mut(), &HeaderName::Route).unwrap();
        assert_eq!(&first[..], b"<sip:a;lr>");
        assert_eq!(next_route(&r).unwrap().to_string(), "sip:b;lr");
    }
}
