//! The SDP attributes our ICE-lite side advertises (RFC 8839), as plain values the SDP layer copies in.

use std::fmt;

use super::candidate::Candidate;
use super::credentials::Credentials;

/// One SDP attribute: `a=name` or `a=name:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpAttribute {
    /// The attribute name, e.g. `ice-ufrag`.
    pub name: &'static str,
    /// The value after the colon, if the attribute has one.
    pub value: Option<String>,
}

impl SdpAttribute {
    fn flag(name: &'static str) -> Self {
        SdpAttribute { name, value: None }
    }

    fn value(name: &'static str, value: impl Into<String>) -> Self {
        SdpAttribute {
            name,
            value: Some(value.into()),
        }
    }
}

impl fmt::Display for SdpAttribute {
    /// The whole line without its CRLF, e.g. `a=ice-ufrag:F7gI`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "a={}:{}", self.name, value),
            None => write!(f, "a={}", self.name),
        }
    }
}

/// Our side's ICE attributes for one media section, split by SDP level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceSdp {
    /// Session-level attributes: `a=ice-lite`.
    pub session: Vec<SdpAttribute>,
    /// Media-level attributes: `a=ice-ufrag`, `a=ice-pwd`, one `a=candidate` per host candidate, then
    /// `a=end-of-candidates` (a lite agent gathers nothing later).
    pub media: Vec<SdpAttribute>,
}

impl IceSdp {
    pub(crate) fn new(local: &Credentials, candidates: &[Candidate]) -> IceSdp {
        let mut media = Vec::with_capacity(candidates.len() + 3);
        media.push(SdpAttribute::value("ice-ufrag", local.ufrag()));
        media.push(SdpAttribute::value("ice-pwd", local.pwd()));
        media.extend(
            candidates
                .iter()
                .map(|c| SdpAttribute::value("candidate", c.to_string())),
        );
        media.push(SdpAttribute::flag("end-of-candidates"));
        IceSdp {
            session: vec![SdpAttribute::flag("ice-lite")],
            media,
        }
    }

    /// Every line, session level first, each without its CRLF.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.session
            .iter()
            .chain(&self.media)
            .map(|a| a.to_string())
    }
}
