//! A dialog's route set (RFC 3261 §12.1.1, §12.1.2) and how it shapes an in-dialog request's Request-URI and
//! Route header field (§12.2.1.1).

use super::DialogError;
use crate::header::{NameAddr, RecordRoute, Route, TypedHeader};
use crate::message::{HeaderField, Headers};
use crate::uri::{Uri, UriHeaders};

/// Most entries a route set may hold; a longer Record-Route is refused rather than stored.
pub const MAX_ROUTE_SET: usize = 32;

/// The ordered list of proxies an in-dialog request visits, first hop first.
///
/// The UAC builds it from the Record-Route of the dialog-creating response, reversed; the UAS takes the
/// Record-Route of the request as it is (RFC 3261 §12.1.1, §12.1.2). It stays fixed for the dialog's lifetime,
/// except that the UAC recomputes it when an early dialog is confirmed by a 2xx (§13.2.2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSet {
    routes: Vec<NameAddr>,
}

/// Where an in-dialog request goes: its Request-URI and Route entries, per RFC 3261 §12.2.1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    /// The Request-URI.
    pub uri: Uri,
    /// The Route entries, first hop first.
    pub routes: Vec<NameAddr>,
}

impl RouteSet {
    /// A route set from entries in first-hop-first order.
    pub fn new(routes: Vec<NameAddr>) -> Result<RouteSet, DialogError> {
        if routes.len() > MAX_ROUTE_SET {
            return Err(DialogError::TooManyRoutes(routes.len()));
        }
        Ok(RouteSet { routes })
    }

    /// The route set of a UAS: the Record-Route entries of the request, in order.
    pub fn from_request_record_route(headers: &Headers) -> Result<RouteSet, DialogError> {
        RouteSet::new(record_routes(headers)?)
    }

    /// The route set of a UAC: the Record-Route entries of the response, in reverse order.
    pub fn from_response_record_route(headers: &Headers) -> Result<RouteSet, DialogError> {
        let mut routes = record_routes(headers)?;
        routes.reverse();
        RouteSet::new(routes)
    }

    /// The entries, first hop first.
    pub fn routes(&self) -> &[NameAddr] {
        &self.routes
    }

    /// `true` when requests go straight to the remote target.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Whether the first hop is a strict router (RFC 2543): its URI lacks the `lr` parameter. A non-SIP URI
    /// cannot say `lr` and counts as strict.
    pub fn is_strict(&self) -> bool {
        self.routes
            .first()
            .is_some_and(|r| !r.uri().as_sip().is_some_and(|u| u.is_loose_route()))
    }

    /// The Request-URI and Route entries of a request sent to `remote_target` (RFC 3261 §12.2.1.1):
    ///
    /// * no route set: the remote target, no Route;
    /// * a loose-routing first hop: the remote target, the route set as Route;
    /// * a strict-routing first hop: its URI (without the parameters and headers a Request-URI may not carry)
    ///   as Request-URI, and as Route the rest of the route set followed by the remote target.
    pub fn target(&self, remote_target: &Uri) -> RequestTarget {
        let Some(first) = self.routes.first().filter(|_| self.is_strict()) else {
            return RequestTarget {
                uri: remote_target.clone(),
                routes: self.routes.clone(),
            };
        };
        let mut routes: Vec<NameAddr> = self.routes.iter().skip(1).cloned().collect();
        routes.push(NameAddr::new(remote_target.clone()));
        RequestTarget {
            uri: request_uri_form(first.uri()),
            routes,
        }
    }

    /// The URI the request is sent to: the first route when there is one (for a strict router it is also the
    /// Request-URI), the remote target otherwise. The transport resolves it per RFC 3263.
    pub fn next_hop<'a>(&'a self, remote_target: &'a Uri) -> &'a Uri {
        self.routes.first().map_or(remote_target, NameAddr::uri)
    }
}

impl RequestTarget {
    /// The Route header fields, one per entry, first hop first.
    pub fn route_fields(&self) -> impl Iterator<Item = HeaderField> + '_ {
        self.routes
            .iter()
            .map(|r| HeaderField::from_typed(&Route(r.clone())))
    }
}

fn record_routes(headers: &Headers) -> Result<Vec<NameAddr>, DialogError> {
    let mut routes = Vec::new();
    for entry in headers.record_routes() {
        let RecordRoute(addr) = entry.map_err(|error| DialogError::InvalidHeader {
            name: RecordRoute::NAME,
            error,
        })?;
        if routes.len() == MAX_ROUTE_SET {
            return Err(DialogError::TooManyRoutes(routes.len() + 1));
        }
        routes.push(addr);
    }
    Ok(routes)
}

/// `uri` stripped of what RFC 3261 §19.1.1 (table 1) forbids in a Request-URI: the `method` parameter and
/// URI headers.
fn request_uri_form(uri: &Uri) -> Uri {
    let Uri::Sip(sip) = uri else {
        return uri.clone();
    };
    let mut sip = sip.clone();
    sip.params_mut().remove("method");
    *sip.headers_mut() = UriHeaders::default();
    Uri::Sip(sip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn addr(text: &str) -> NameAddr {
        NameAddr::parse(&Bytes::copy_from_slice(text.as_bytes())).unwrap()
    }

    fn uri(text: &str) -> Uri {
        Uri::parse(&Bytes::copy_from_slice(text.as_bytes())).unwrap()
    }

    fn written(uri: &Uri) -> String {
        uri.to_string()
    }

    #[test]
    fn empty_route_set_targets_the_remote_target() {
        let set = RouteSet::default();
        let t = set.target(&uri("sip:bob@192.0.2.4"));
        assert_eq!(written(&t.uri), "sip:bob@192.0.2.4");
        assert!(t.routes.is_empty());
        assert_eq!(
            written(set.next_hop(&uri("sip:bob@192.0.2.4"))),
            "sip:bob@192.0.2.4"
        );
    }

    #[test]
    fn loose_first_hop_keeps_the_remote_target_as_request_uri() {
        let set = RouteSet::new(vec![
            addr("<sip:p1.example.com;lr>"),
            addr("<sip:p2.example.com;lr>"),
        ])
        .unwrap();
        assert!(!set.is_strict());
        let t = set.target(&uri("sip:bob@192.0.2.4"));
        assert_eq!(written(&t.uri), "sip:bob@192.0.2.4");
        assert_eq!(t.routes, set.routes());
        assert_eq!(
            written(set.next_hop(&uri("sip:bob@192.0.2.4"))),
            "sip:p1.example.com;lr"
        );
    }

    #[test]
    fn strict_first_hop_becomes_the_request_uri_and_the_target_goes_last() {
        let set = RouteSet::new(vec![
            addr("<sip:p1.example.com;method=INVITE?Subject=x>"),
            addr("<sip:p2.example.com;lr>"),
        ])
        .unwrap();
        assert!(set.is_strict());
        let t = set.target(&uri("sip:bob@192.0.2.4"));
        assert_eq!(written(&t.uri), "sip:p1.example.com");
        assert_eq!(t.routes.len(), 2);
        assert_eq!(t.routes[0], addr("<sip:p2.example.com;lr>"));
        assert_eq!(written(t.routes[1].uri()), "sip:bob@192.0.2.4");
    }

    #[test]
    fn refuses_oversized_route_sets() {
        let many = vec![addr("<sip:p.example.com;lr>"); MAX_ROUTE_SET + 1];
        assert_eq!(
            RouteSet::new(many),
            Err(DialogError::TooManyRoutes(MAX_ROUTE_SET + 1))
        );
    }
}
