//! The `Reason` header field (RFC 3326).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use crate::params::Params;
use bytes::Bytes;
use std::borrow::Cow;

/// One reason value: `SIP;cause=200;text="Call completed elsewhere"` or `Q.850;cause=16`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason {
    protocol: Bytes,
    params: Params,
}

impl Reason {
    /// The protocol (`SIP`, `Q.850`, or another token).
    pub fn protocol(&self) -> &Bytes {
        &self.protocol
    }

    /// The `cause` parameter (`None` if absent or not a number up to 65535).
    pub fn cause(&self) -> Option<u16> {
        std::str::from_utf8(self.params.value("cause")?)
            .ok()?
            .parse()
            .ok()
    }

    /// The `text` parameter without quotes.
    pub fn text(&self) -> Option<Cow<'_, [u8]>> {
        self.params.get("text")?.decoded_value()
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl TypedHeader for Reason {
    const NAME: HeaderName = HeaderName::Reason;
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Reason, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let end = grammar::token(b, start, "reason protocol")?;
        let (params, pe) = Params::parse_header(value, end)?;
        grammar::end(b, pe, "\";\" or end of reason")?;
        if let Some(cause) = params.value("cause") {
            let at = grammar::offset_in(b, cause);
            let (_, ce) = grammar::digits(cause, 0, "cause").map_err(|e| e.shifted(at))?;
            if ce != cause.len() {
                return Err(ParseError::syntax(at + ce, "cause digits"));
            }
        }
        Ok(Reason {
            protocol: value.slice(start..end),
            params,
        })
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.protocol);
        self.params.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::test_support::{err_at, round_trip, written};

    #[test]
    fn exposes_protocol_cause_and_text() {
        let r: Reason = round_trip("SIP ;cause=200 ;text=\"Call completed elsewhere\"");
        assert_eq!(r.protocol().as_ref(), b"SIP");
        assert_eq!(r.cause(), Some(200));
        assert_eq!(r.text().unwrap().as_ref(), b"Call completed elsewhere");
        assert_eq!(
            written(&r),
            "SIP;cause=200;text=\"Call completed elsewhere\""
        );
        let r: Reason = round_trip("Q.850;cause=16;text=\"Terminated\"");
        assert_eq!(r.cause(), Some(16));
    }

    #[test]
    fn rejects_non_numeric_causes() {
        assert_eq!(err_at::<Reason>("SIP;cause=abc"), 10);
        assert_eq!(err_at::<Reason>("SIP;cause=20x"), 12);
        assert_eq!(err_at::<Reason>(";cause=1"), 0);
    }
}
