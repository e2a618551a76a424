//! Dialog identifiers (RFC 3261 §12) and the fresh values a UA puts in new requests: tags (§19.3), Call-IDs
//! (§8.1.1.4) and Via branches (§8.1.1.7).

use super::DialogError;
use crate::header::{BRANCH_MAGIC_COOKIE, CallId, HeaderName};
use crate::message::{Headers, Request, Response};
use crate::random;
use bytes::Bytes;
use std::fmt;

/// A dialog identifier: Call-ID, local tag and remote tag (RFC 3261 §12).
///
/// The same dialog has mirrored identifiers at its two ends: the UAC's local tag is the From tag and its
/// remote tag the To tag; the UAS sees them the other way round. Forked responses to one INVITE carry
/// distinct To tags and so make distinct identifiers, one per early dialog.
///
/// A remote tag may be empty: a peer following RFC 2543 sends no tag, and RFC 3261 §12.1.2 then makes it null.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID, compared byte for byte.
    pub call_id: CallId,
    /// The tag this UA chose (From tag for a UAC, To tag for a UAS).
    pub local_tag: Bytes,
    /// The tag the peer chose (empty when the peer sent none).
    pub remote_tag: Bytes,
}

impl DialogId {
    /// The identifier of the dialog a received response belongs to, at the UAC: Call-ID, From tag as local tag,
    /// To tag (possibly empty) as remote tag.
    pub fn from_received_response(response: &Response) -> Result<DialogId, DialogError> {
        let headers = response.headers();
        Ok(DialogId {
            call_id: call_id(headers)?,
            local_tag: from_tag(headers)?,
            remote_tag: to_tag(headers)?.unwrap_or_default(),
        })
    }

    /// The identifier of the dialog a received request belongs to, at the UAS: Call-ID, To tag as local tag,
    /// From tag as remote tag. `Ok(None)` when the To has no tag: the request is not within a dialog
    /// (RFC 3261 §12.2.2 … §8.2).
    pub fn from_received_request(request: &Request) -> Result<Option<DialogId>, DialogError> {
        let headers = request.headers();
        let Some(local_tag) = to_tag(headers)? else {
            return Ok(None);
        };
        Ok(Some(DialogId {
            call_id: call_id(headers)?,
            local_tag,
            remote_tag: from_tag_or_empty(headers)?,
        }))
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};local-tag={};remote-tag={}",
            String::from_utf8_lossy(self.call_id.as_bytes()),
            String::from_utf8_lossy(&self.local_tag),
            String::from_utf8_lossy(&self.remote_tag)
        )
    }
}

/// A new tag for a From or To header: 64 random bits in hex, above the 32 bits RFC 3261 §19.3 asks for.
pub fn generate_tag() -> String {
    random::hex(&random::bytes::<8>())
}

/// A new Call-ID: 128 random bits in hex, followed by `@host` when `host` is given (RFC 3261 §8.1.1.4).
pub fn generate_call_id(host: Option<&str>) -> String {
    let mut id = random::hex(&random::bytes::<16>());
    if let Some(h) = host {
        id.push('@');
        id.push_str(h);
    }
    id
}

/// A new Via branch: the `z9hG4bK` magic cookie followed by 80 random bits in hex, unique per transaction
/// (RFC 3261 §8.1.1.7).
pub fn generate_branch() -> String {
    let suffix = random::hex(&random::bytes::<10>());
    let mut branch = String::with_capacity(BRANCH_MAGIC_COOKIE.len() + suffix.len());
    branch.push_str("z9hG4bK");
    branch.push_str(&suffix);
    branch
}

pub(super) fn call_id(headers: &Headers) -> Result<CallId, DialogError> {
    headers
        .call_id()
        .ok_or(DialogError::MissingHeader(HeaderName::CallId))?
        .map_err(|error| DialogError::InvalidHeader {
            name: HeaderName::CallId,
            error,
        })
}

/// The From tag, which RFC 3261 requests always carry; the dialog this UA created must have one.
fn from_tag(headers: &Headers) -> Result<Bytes, DialogError> {
    let tag = from_tag_or_empty(headers)?;
    if tag.is_empty() {
        return Err(DialogError::MissingTag(HeaderName::From));
    }
    Ok(tag)
}

/// The From tag, empty when absent (an RFC 2543 peer).
pub(super) fn from_tag_or_empty(headers: &Headers) -> Result<Bytes, DialogError> {
    let from = headers
        .from()
        .ok_or(DialogError::MissingHeader(HeaderName::From))?
        .map_err(|error| DialogError::InvalidHeader {
            name: HeaderName::From,
            error,
        })?;
    Ok(from.params().value_bytes("tag").unwrap_or_default())
}

/// The To tag, `None` when absent.
pub(super) fn to_tag(headers: &Headers) -> Result<Option<Bytes>, DialogError> {
    let to = headers
        .to()
        .ok_or(DialogError::MissingHeader(HeaderName::To))?
        .map_err(|error| DialogError::InvalidHeader {
            name: HeaderName::To,
            error,
        })?;
    Ok(to.params().value_bytes("tag"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Via;

    #[test]
    fn generated_values_are_fresh_and_well_formed() {
        let (a, b) = (generate_tag(), generate_tag());
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        let branch = generate_branch();
        assert!(branch.starts_with("z9hG4bK"));
        assert_ne!(branch, generate_branch());
        let via = Via::parse(&Bytes::from(format!("SIP/2.0/UDP host;branch={branch}"))).unwrap();
        assert!(via.has_rfc3261_branch());
        let id = generate_call_id(Some("host.example.com"));
        assert!(id.ends_with("@host.example.com"));
        assert!(CallId::new(Bytes::from(id)).is_ok());
        assert!(CallId::new(Bytes::from(generate_call_id(None))).is_ok());
    }
}
