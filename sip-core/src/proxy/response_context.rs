//! Choosing the best final response of a forked request (RFC 3261 §16.7 steps 6 and 7), sans-IO.
//!
//! 2xx responses are forwarded at once and are not collected here. Among the other final responses: any 6xx
//! wins over the rest; otherwise the lowest class wins (3xx before 4xx before 5xx); within a class the first
//! received is kept, except that a 401 or 407 is preferred so that the challenges can be aggregated. The
//! challenges (WWW-Authenticate, Proxy-Authenticate) of every 401 and 407 received are added to the chosen
//! response, and a chosen 503 is turned into a 500 (§16.7 step 6) so that the caller does not blame us.

use crate::header::HeaderName;
use crate::message::{HeaderField, Response};
use crate::method::StatusCode;

/// Most challenge header fields aggregated into one response.
const MAX_CHALLENGES: usize = 32;

/// The final responses collected from the branches of one forwarded request.
#[derive(Debug, Default)]
pub struct ResponseContext {
    best: Option<Response>,
    challenges: Vec<HeaderField>,
}

fn rank(status: StatusCode) -> (u8, u8) {
    let class = status.class();
    let class_rank = if class == 6 { 0 } else { class };
    let auth = matches!(status.as_u16(), 401 | 407);
    (class_rank, u8::from(!auth))
}

impl ResponseContext {
    /// An empty context.
    pub fn new() -> ResponseContext {
        ResponseContext::default()
    }

    /// Collect a non-2xx final response of one branch.
    pub fn collect(&mut self, response: Response) {
        let status = response.status();
        if matches!(status.as_u16(), 401 | 407) {
            for name in [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate] {
                for field in response.headers().get_all(&name) {
                    if self.challenges.len() < MAX_CHALLENGES {
                        self.challenges.push(field.clone());
                    }
                }
            }
        }
        let better = self
            .best
            .as_ref()
            .is_none_or(|best| rank(status) < rank(best.status()));
        if better {
            self.best = Some(response);
        }
    }

    /// Whether a 6xx was received: the proxy then cancels the other branches (§16.7 step 5).
    pub fn has_global_failure(&self) -> bool {
        self.best.as_ref().is_some_and(|r| r.status().class() == 6)
    }

    /// The response to forward once every branch has ended, or `None` if no branch answered (the caller
    /// then answers 408 itself).
    pub fn into_best(self) -> Option<Response> {
        let mut best = self.best?;
        if best.status() == StatusCode::SERVICE_UNAVAILABLE {
            let (version, _, _, headers, body) = best.into_parts();
            let reason = bytes::Bytes::from_static(b"Server Internal Error");
            best = Response::from_parts(
                version,
                StatusCode::SERVER_INTERNAL_ERROR,
                reason,
                headers,
                body,
            );
        }
        if matches!(best.status().as_u16(), 401 | 407) {
            let headers = best.headers_mut();
            headers.remove_all(&HeaderName::WwwAuthenticate);
            headers.remove_all(&HeaderName::ProxyAuthenticate);
            for field in self.challenges {
                headers.push(field);
            }
        }
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Request, parse_message};
    use bytes::Bytes;

    fn invite() -> Request {
        let wire = "INVITE sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKabc\r\n\
             From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        match parse_message(Bytes::from_static(wire.as_bytes())) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn response(code: u16) -> Response {
        let status = StatusCode::new(code).unwrap();
        let mut builder = Response::from_request(&invite(), status, Some("t"));
        if code == 401 {
            builder = builder.header(
                HeaderName::WwwAuthenticate,
                format!("Digest realm=\"r{code}\""),
            );
        }
        if code == 407 {
            builder = builder.header(HeaderName::ProxyAuthenticate, "Digest realm=\"p\"");
        }
        builder.build()
    }

    fn best_of(codes: &[u16]) -> Response {
        let mut context = ResponseContext::new();
        for &code in codes {
            context.collect(response(code));
        }
        context.into_best().unwrap()
    }

    #[test]
    fn a_6xx_beats_every_other_class() {
        assert_eq!(best_of(&[302, 486, 603, 404]).status().as_u16(), 603);
    }

    #[test]
    fn the_lowest_class_wins_without_a_6xx() {
        assert_eq!(best_of(&[503, 486, 404]).status().as_u16(), 486);
        assert_eq!(best_of(&[486, 302]).status().as_u16(), 302);
    }

    #[test]
    fn a_503_is_forwarded_as_500() {
        assert_eq!(best_of(&[503]).status().as_u16(), 500);
    }

    #[test]
    fn challenges_of_every_branch_are_aggregated() {
        let best = best_of(&[404, 401, 407]);
        assert!(matches!(best.status().as_u16(), 401 | 407));
        assert_eq!(
            best.headers().get_all(&HeaderName::WwwAuthenticate).count(),
            1
        );
        assert_eq!(
            best.headers()
                .get_all(&HeaderName::ProxyAuthenticate)
                .count(),
            1
        );
    }

    #[test]
    fn no_response_gives_none() {
        assert!(ResponseContext::new().into_best().is_none());
    }
}
