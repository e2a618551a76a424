//! Route information preprocessing (RFC 3261 §16.4) and the next hop of a request (§16.6 steps 6 and 7).

use super::LocalIdentity;
use crate::header::{HeaderName, Route};
use crate::message::{HeaderField, Headers, Request};
use crate::uri::Uri;
use bytes::Bytes;

/// The elements of every `Route` field, in order (several fields and comma-joined values alike).
fn route_elements(headers: &Headers) -> Vec<Bytes> {
    headers
        .get_all(&HeaderName::Route)
        .flat_map(|field| field.elements().map(|e| e.value).collect::<Vec<_>>())
        .collect()
}

/// Replace every `Route` field by one field per element of `elements`, in order, at the top.
fn set_route_elements(headers: &mut Headers, elements: &[Bytes]) {
    headers.remove_all(&HeaderName::Route);
    for element in elements.iter().rev() {
        headers.push_front(HeaderField::new(
            HeaderName::Route,
            String::from_utf8_lossy(element).into_owned(),
        ));
    }
}

fn element_uri(element: &Bytes) -> Option<Uri> {
    crate::header::NameAddr::parse(element)
        .ok()
        .map(|n| n.uri().clone())
}

/// Remove the first element of the list header `name` (which may share a field with others) and return it.
pub fn remove_top_element(headers: &mut Headers, name: &HeaderName) -> Option<Bytes> {
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

/// What [`preprocess_routes`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoutePreprocessing {
    /// The Request-URI was one of our Record-Route values (the previous hop is a strict router) and was
    /// replaced with the last Route entry.
    pub strict_router_fixed: bool,
    /// How many of our own entries were removed from the top of the Route set (one, or two after a double
    /// Record-Route).
    pub own_routes_removed: usize,
}

/// §16.4: when the Request-URI is one of ours (placed in a Record-Route and sent back by a strict router),
/// restore the real Request-URI from the last Route entry; then remove the Route entries at the top that
/// point to this proxy.
pub fn preprocess_routes(request: &mut Request, identity: &LocalIdentity) -> RoutePreprocessing {
    let mut done = RoutePreprocessing::default();
    if identity.is_local_uri(request.uri()) {
        let mut elements = route_elements(request.headers());
        if let Some(uri) = elements.last().and_then(element_uri) {
            elements.pop();
            set_route_elements(request.headers_mut(), &elements);
            request.set_uri(uri);
            done.strict_router_fixed = true;
        }
    }
    while let Some(Ok(top)) = request.headers().typed::<Route>() {
        if !identity.is_local_uri(top.uri()) {
            break;
        }
        remove_top_element(request.headers_mut(), &HeaderName::Route);
        done.own_routes_removed += 1;
    }
    done
}

/// The URI of the topmost Route, if any (where a loose-routed request goes next).
pub fn next_route(request: &Request) -> Option<Uri> {
    match request.headers().typed::<Route>() {
        Some(Ok(route)) => Some(route.uri().clone()),
        _ => None,
    }
}

/// §16.6 steps 6 and 7: the URI the request is sent to: its top Route, else its Request-URI. When the top
/// Route is a strict router (no `lr`), the request is rewritten for it first: that Route becomes the
/// Request-URI and the old Request-URI goes to the end of the Route set.
pub fn next_hop(request: &mut Request) -> Uri {
    let Some(route) = next_route(request) else {
        return request.uri().clone();
    };
    let loose = route.as_sip().is_none_or(|sip| sip.is_loose_route());
    if loose {
        return route;
    }
    let mut elements = route_elements(request.headers());
    if !elements.is_empty() {
        elements.remove(0);
    }
    let mut old = Vec::new();
    old.push(b'<');
    request.uri().write_to(&mut old);
    old.push(b'>');
    elements.push(Bytes::from(old));
    set_route_elements(request.headers_mut(), &elements);
    request.set_uri(route.clone());
    route
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::HeaderName;
    use crate::transport::TransportKind;
    use crate::{Message, parse_message};

    fn identity() -> LocalIdentity {
        LocalIdentity {
            addresses: vec![
                (TransportKind::Udp, "192.0.2.1:5060".parse().unwrap()),
                (TransportKind::Ws, "192.0.2.1:8080".parse().unwrap()),
            ],
            domains: vec!["example.com".into()],
        }
    }

    fn request(uri: &str, extra: &str) -> Request {
        let wire = format!(
            "BYE {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKabc\r\n\
             {extra}From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
             Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_message(Bytes::from(wire)) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn routes(r: &Request) -> Vec<String> {
        r.headers()
            .typed_all::<Route>()
            .map(|x| x.unwrap().uri().to_string())
            .collect()
    }

    #[test]
    fn strips_both_entries_of_a_double_record_route_and_keeps_foreign_ones() {
        let mut r = request(
            "sip:bob@192.0.2.7",
            "Route: <sip:192.0.2.1:8080;transport=ws;lr;r2=on>, <sip:192.0.2.1;lr;r2=on>\r\n\
             Route: <sip:198.51.100.7;lr>\r\n",
        );
        let done = preprocess_routes(&mut r, &identity());
        assert_eq!(done.own_routes_removed, 2);
        assert!(!done.strict_router_fixed);
        assert_eq!(next_route(&r).unwrap().to_string(), "sip:198.51.100.7;lr");
    }

    #[test]
    fn a_request_uri_of_ours_from_a_strict_router_is_restored_from_the_last_route() {
        let mut r = request(
            "sip:192.0.2.1;lr",
            "Route: <sip:198.51.100.7;lr>, <sip:bob@192.0.2.50>\r\n",
        );
        let done = preprocess_routes(&mut r, &identity());
        assert!(done.strict_router_fixed);
        assert_eq!(r.uri().to_string(), "sip:bob@192.0.2.50");
        assert_eq!(routes(&r), ["sip:198.51.100.7;lr"]);
    }

    #[test]
    fn a_strict_next_hop_becomes_the_request_uri() {
        let mut r = request(
            "sip:bob@192.0.2.50",
            "Route: <sip:198.51.100.7>, <sip:198.51.100.8;lr>\r\n",
        );
        let hop = next_hop(&mut r);
        assert_eq!(hop.to_string(), "sip:198.51.100.7");
        assert_eq!(r.uri().to_string(), "sip:198.51.100.7");
        assert_eq!(routes(&r), ["sip:198.51.100.8;lr", "sip:bob@192.0.2.50"]);
    }

    #[test]
    fn a_loose_next_hop_leaves_the_request_alone() {
        let mut r = request("sip:bob@192.0.2.50", "Route: <sip:198.51.100.7;lr>\r\n");
        assert_eq!(next_hop(&mut r).to_string(), "sip:198.51.100.7;lr");
        assert_eq!(r.uri().to_string(), "sip:bob@192.0.2.50");
        let mut r = request("sip:bob@192.0.2.50", "");
        assert_eq!(next_hop(&mut r).to_string(), "sip:bob@192.0.2.50");
    }

    #[test]
    fn removes_the_top_element_of_a_combined_field() {
        let mut r = request("sip:bob@192.0.2.50", "Route: <sip:a;lr>, <sip:b;lr>\r\n");
        let first = remove_top_element(r.headers_mut(), &HeaderName::Route).unwrap();
        assert_eq!(&first[..], b"<sip:a;lr>");
        assert_eq!(next_route(&r).unwrap().to_string(), "sip:b;lr");
    }
}
