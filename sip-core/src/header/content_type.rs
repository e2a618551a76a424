//! Media types: `Content-Type` (RFC 3261 §20.15) and `Accept` (§20.1).

use crate::error::ParseError;
use crate::grammar;
use crate::header::name_addr::QValue;
use crate::header::{HeaderName, TypedHeader};
use crate::params::Params;
use bytes::Bytes;

/// `type/subtype;param=value`, compared case-insensitively. In an `Accept` media-range, type and/or subtype
/// may be `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaType {
    mtype: Bytes,
    subtype: Bytes,
    params: Params,
}

impl MediaType {
    /// A media type without parameters; `mtype` and `subtype` must be tokens.
    pub fn new(mtype: &'static str, subtype: &'static str) -> MediaType {
        MediaType {
            mtype: Bytes::from_static(mtype.as_bytes()),
            subtype: Bytes::from_static(subtype.as_bytes()),
            params: Params::new_header(),
        }
    }

    /// The top-level type (`application`).
    pub fn mtype(&self) -> &Bytes {
        &self.mtype
    }

    /// The subtype (`sdp`).
    pub fn subtype(&self) -> &Bytes {
        &self.subtype
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The parameters, for modification.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// Whether this is `mtype/subtype` (case-insensitive, parameters ignored).
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype.as_bytes())
            && self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }

    /// Whether this media range (possibly with `*`) accepts `mtype/subtype`.
    pub fn matches(&self, mtype: &str, subtype: &str) -> bool {
        let t = &self.mtype[..] == b"*" || self.mtype.eq_ignore_ascii_case(mtype.as_bytes());
        let s = &self.subtype[..] == b"*" || self.subtype.eq_ignore_ascii_case(subtype.as_bytes());
        t && s
    }

    /// Parse `m-type SLASH m-subtype *( SEMI m-parameter )`.
    pub fn parse(value: &Bytes) -> Result<MediaType, ParseError> {
        let b = &value[..];
        let ts = grammar::skip_lws(b, 0);
        let te = grammar::token(b, ts, "media type")?;
        let ss = grammar::separator(b, te, b'/', "\"/\"")?;
        let se = grammar::token(b, ss, "media subtype")?;
        let (params, end) = Params::parse_header(value, se)?;
        grammar::end(b, end, "\";\" or end of media type")?;
        Ok(MediaType {
            mtype: value.slice(ts..te),
            subtype: value.slice(ss..se),
            params,
        })
    }

    /// Append the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.mtype);
        out.push(b'/');
        out.extend_from_slice(&self.subtype);
        self.params.write_to(out);
    }
}

/// The `Content-Type` header field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType(pub MediaType);

impl TypedHeader for ContentType {
    const NAME: HeaderName = HeaderName::ContentType;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<ContentType, ParseError> {
        MediaType::parse(value).map(ContentType)
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        self.0.write_to(out)
    }
}

/// One media range of `Accept` (an empty `Accept` header, meaning "no body", has no elements).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Accept(pub MediaType);

impl Accept {
    /// The `q` accept-param, if present and valid.
    pub fn q(&self) -> Option<QValue> {
        QValue::parse(self.0.params().value("q")?)
    }
}

impl TypedHeader for Accept {
    const NAME: HeaderName = HeaderName::Accept;
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Accept, ParseError> {
        MediaType::parse(value).map(Accept)
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        self.0.write_to(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::test_support::{err_at, round_trip, written};

    #[test]
    fn parses_type_subtype_and_parameters() {
        let c: ContentType = round_trip("application/sdp");
        assert!(c.0.is("Application", "SDP"));
        let c: ContentType = round_trip("multipart/mixed;boundary=\"unique boundary 1\"");
        let b = c.0.params().get("boundary").unwrap();
        assert_eq!(b.decoded_value().unwrap().as_ref(), b"unique boundary 1");
        let c: ContentType = round_trip("text / plain ; charset = utf-8");
        assert_eq!(written(&c), "text/plain;charset=utf-8");
    }

    #[test]
    fn accept_ranges_match_with_wildcards() {
        // RFC 4475 sdp01: text/nobodyKnowsThis does not accept application/sdp.
        let a: Accept = round_trip("text/nobodyKnowsThis");
        assert!(!a.0.matches("application", "sdp"));
        let a: Accept = round_trip("application/*;q=0.5");
        assert!(a.0.matches("application", "sdp"));
        assert_eq!(a.q().map(|q| q.thousandths()), Some(500));
        assert!(round_trip::<Accept>("*/*").0.matches("message", "sipfrag"));
    }

    #[test]
    fn rejects_incomplete_media_types() {
        assert_eq!(err_at::<ContentType>("application"), 11);
        assert_eq!(err_at::<ContentType>("application/"), 12);
        assert_eq!(err_at::<ContentType>("application/sdp;"), 16);
        assert_eq!(err_at::<ContentType>("application/sdp x"), 16);
    }
}
