//! Zero-copy parsing of one STUN message (RFC 8489 §5, §14).

use std::net::SocketAddr;

use super::attribute::{
    self, Attribute, ErrorCode, FINGERPRINT, INTEGRITY_LEN, MESSAGE_INTEGRITY,
    MESSAGE_INTEGRITY_SHA256, UnknownAttributes,
};
use super::error::{StunError, StunErrorKind};
use super::header::{Class, HEADER_LEN, Method, TransactionId, read_header};
use super::integrity::{self, IntegrityKey};

/// The most attributes a message may carry before it is refused (a binding request from a browser has
/// about eight).
pub const MAX_ATTRIBUTES: usize = 32;

/// The most unknown comprehension-required attribute types a parsed message remembers for a 420 response.
pub const MAX_UNKNOWN_REPORTED: usize = 8;

/// Length of an attribute header (type and length).
const ATTRIBUTE_HEADER_LEN: usize = 4;

/// A parsed STUN message borrowing the datagram it came from.
///
/// Parsing checks the header, every attribute's length, padding and known value, the attribute order
/// rules and, when present, FINGERPRINT. MESSAGE-INTEGRITY needs a key, so it is checked on request with
/// [`Message::verify_integrity`]. Attributes that follow MESSAGE-INTEGRITY (other than
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT) are ignored, as RFC 8489 §14.5 requires.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    bytes: &'a [u8],
    class: Class,
    method: Method,
    transaction_id: TransactionId,
    integrity_at: Option<usize>,
    fingerprint_at: Option<usize>,
    unknown_required: [u16; MAX_UNKNOWN_REPORTED],
    unknown_count: usize,
}

impl<'a> Message<'a> {
    /// Parses `bytes`, which must hold exactly one STUN message (one UDP datagram).
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>, StunError> {
        let header = read_header(bytes)?;
        let mut message = Message {
            bytes,
            class: header.class,
            method: header.method,
            transaction_id: header.transaction_id,
            integrity_at: None,
            fingerprint_at: None,
            unknown_required: [0; MAX_UNKNOWN_REPORTED],
            unknown_count: 0,
        };
        message.scan_attributes()?;
        Ok(message)
    }

    /// Walks every attribute once, validating it and recording where MESSAGE-INTEGRITY and FINGERPRINT are.
    fn scan_attributes(&mut self) -> Result<(), StunError> {
        let mut walk = RawAttributes::new(self.bytes);
        let mut count = 0;
        let mut after_sha256 = false;
        while let Some(raw) = walk.next_raw()? {
            count += 1;
            if count > MAX_ATTRIBUTES {
                return Err(StunError::new(
                    raw.offset,
                    StunErrorKind::TooManyAttributes,
                    "at most 32 attributes",
                ));
            }
            if self.fingerprint_at.is_some() {
                return Err(StunError::new(
                    raw.offset,
                    StunErrorKind::AttributeOrder,
                    "FINGERPRINT as the last attribute",
                ));
            }
            if self.ignores_after_integrity(raw.kind, after_sha256) {
                continue;
            }
            attribute::decode(
                raw.kind,
                raw.value,
                raw.offset + ATTRIBUTE_HEADER_LEN,
                &self.transaction_id,
            )?;
            match raw.kind {
                MESSAGE_INTEGRITY => self.integrity_at = Some(raw.offset),
                MESSAGE_INTEGRITY_SHA256 => after_sha256 = true,
                FINGERPRINT => self.check_fingerprint(raw.offset, raw.value)?,
                kind => self.note_unknown(kind),
            }
        }
        Ok(())
    }

    /// RFC 8489 §14.5/§14.6: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count;
    /// after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT does.
    fn ignores_after_integrity(&self, kind: u16, after_sha256: bool) -> bool {
        if after_sha256 {
            return kind != FINGERPRINT;
        }
        self.integrity_at.is_some() && kind != FINGERPRINT && kind != MESSAGE_INTEGRITY_SHA256
    }

    fn check_fingerprint(&mut self, offset: usize, value: &[u8]) -> Result<(), StunError> {
        let carried = value
            .first_chunk::<4>()
            .map(|v| u32::from_be_bytes(*v))
            .ok_or(StunError::truncated(offset, "4-byte FINGERPRINT value"))?;
        let covered = self
            .bytes
            .get(..offset)
            .ok_or(StunError::truncated(offset, "message before FINGERPRINT"))?;
        if integrity::fingerprint(covered) != carried {
            return Err(StunError::new(
                offset + ATTRIBUTE_HEADER_LEN,
                StunErrorKind::Fingerprint,
                "CRC-32 of the message XOR 0x5354554E",
            ));
        }
        self.fingerprint_at = Some(offset);
        Ok(())
    }

    fn note_unknown(&mut self, kind: u16) {
        if attribute::is_known(kind) || !attribute::is_comprehension_required(kind) {
            return;
        }
        if let Some(slot) = self.unknown_required.get_mut(self.unknown_count) {
            *slot = kind;
            self.unknown_count += 1;
        }
    }

    /// The message class.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The message method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The transaction ID.
    pub fn transaction_id(&self) -> TransactionId {
        self.transaction_id
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The attributes in order, skipping those RFC 8489 says to ignore (after MESSAGE-INTEGRITY).
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            raw: RawAttributes::new(self.bytes),
            transaction_id: self.transaction_id,
            integrity_seen: false,
            sha256_seen: false,
        }
    }

    /// Unknown comprehension-required attribute types (0x0000–0x7FFF), at most
    /// [`MAX_UNKNOWN_REPORTED`]. A server answers a request that has any with 420 (Unknown Attribute).
    pub fn unknown_comprehension_required(&self) -> &[u16] {
        self.unknown_required
            .get(..self.unknown_count)
            .unwrap_or_default()
    }

    /// Whether the message carries a (valid, since it parsed) FINGERPRINT.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint_at.is_some()
    }

    /// Whether the message carries MESSAGE-INTEGRITY.
    pub fn has_integrity(&self) -> bool {
        self.integrity_at.is_some()
    }

    /// Checks MESSAGE-INTEGRITY with `key`: the HMAC-SHA1 over the message up to the attribute, with the
    /// header length counting up to the end of MESSAGE-INTEGRITY (RFC 8489 §14.5).
    pub fn verify_integrity(&self, key: &IntegrityKey) -> Result<(), StunError> {
        let Some(at) = self.integrity_at else {
            return Err(StunError::new(
                self.bytes.len(),
                StunErrorKind::Missing,
                "a MESSAGE-INTEGRITY attribute",
            ));
        };
        let value_at = at + ATTRIBUTE_HEADER_LEN;
        let covered_len = value_at + INTEGRITY_LEN - HEADER_LEN;
        let header = integrity::adjusted_header(self.bytes, covered_len)
            .ok_or(StunError::truncated(0, "20-byte STUN header"))?;
        let body = self.bytes.get(HEADER_LEN..at);
        let tag = self.bytes.get(value_at..value_at + INTEGRITY_LEN);
        let (Some(body), Some(tag)) = (body, tag) else {
            return Err(StunError::truncated(at, "MESSAGE-INTEGRITY value"));
        };
        if key.verify(&header, body, tag) {
            Ok(())
        } else {
            Err(StunError::new(
                value_at,
                StunErrorKind::Integrity,
                "HMAC-SHA1 of the message under the short-term key",
            ))
        }
    }

    /// The first USERNAME.
    pub fn username(&self) -> Option<&'a str> {
        self.attributes().find_map(|a| match a {
            Attribute::Username(name) => Some(name),
            _ => None,
        })
    }

    /// The first XOR-MAPPED-ADDRESS.
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        self.attributes().find_map(|a| match a {
            Attribute::XorMappedAddress(addr) => Some(addr),
            _ => None,
        })
    }

    /// The first MAPPED-ADDRESS.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.attributes().find_map(|a| match a {
            Attribute::MappedAddress(addr) => Some(addr),
            _ => None,
        })
    }

    /// The first PRIORITY.
    pub fn priority(&self) -> Option<u32> {
        self.attributes().find_map(|a| match a {
            Attribute::Priority(p) => Some(p),
            _ => None,
        })
    }

    /// Whether USE-CANDIDATE is present.
    pub fn use_candidate(&self) -> bool {
        self.attributes().any(|a| a == Attribute::UseCandidate)
    }

    /// The first ERROR-CODE.
    pub fn error_code(&self) -> Option<ErrorCode<'a>> {
        self.attributes().find_map(|a| match a {
            Attribute::ErrorCode(code) => Some(code),
            _ => None,
        })
    }

    /// The first UNKNOWN-ATTRIBUTES.
    pub fn unknown_attributes(&self) -> Option<UnknownAttributes<'a>> {
        self.attributes().find_map(|a| match a {
            Attribute::UnknownAttributes(list) => Some(list),
            _ => None,
        })
    }

    /// The first SOFTWARE.
    pub fn software(&self) -> Option<&'a str> {
        self.attributes().find_map(|a| match a {
            Attribute::Software(name) => Some(name),
            _ => None,
        })
    }
}

/// One attribute as framed on the wire, before its value is decoded.
struct RawAttribute<'a> {
    offset: usize,
    kind: u16,
    value: &'a [u8],
}

/// Walks the attribute framing (type, length, value, padding) of a message whose header was checked.
#[derive(Debug, Clone)]
struct RawAttributes<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> RawAttributes<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        RawAttributes {
            bytes,
            offset: HEADER_LEN,
        }
    }

    fn next_raw(&mut self) -> Result<Option<RawAttribute<'a>>, StunError> {
        let offset = self.offset;
        let Some(rest) = self.bytes.get(offset..) else {
            return Ok(None);
        };
        if rest.is_empty() {
            return Ok(None);
        }
        let Some((head, after)) = rest.split_first_chunk::<ATTRIBUTE_HEADER_LEN>() else {
            return Err(StunError::truncated(offset, "4-byte attribute header"));
        };
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let padded = len + attribute::padding(len);
        let (Some(value), true) = (after.get(..len), padded <= after.len()) else {
            return Err(StunError::new(
                offset + 2,
                StunErrorKind::AttributeLength,
                "attribute value and padding within the message",
            ));
        };
        self.offset = offset + ATTRIBUTE_HEADER_LEN + padded;
        Ok(Some(RawAttribute {
            offset,
            kind,
            value,
        }))
    }
}

/// Iterator over the attributes of a parsed [`Message`], made by [`Message::attributes`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    raw: RawAttributes<'a>,
    transaction_id: TransactionId,
    integrity_seen: bool,
    sha256_seen: bool,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        loop {
            // The message was validated when it parsed, so framing errors cannot occur here; stop if they do.
            let raw = self.raw.next_raw().ok()??;
            let ignored = match raw.kind {
                FINGERPRINT => false,
                MESSAGE_INTEGRITY_SHA256 => self.sha256_seen,
                _ => self.integrity_seen || self.sha256_seen,
            };
            if ignored {
                continue;
            }
            match raw.kind {
                MESSAGE_INTEGRITY => self.integrity_seen = true,
                MESSAGE_INTEGRITY_SHA256 => self.sha256_seen = true,
                _ => {}
            }
            let offset = raw.offset + ATTRIBUTE_HEADER_LEN;
            return attribute::decode(raw.kind, raw.value, offset, &self.transaction_id).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::{MessageWriter, StunErrorKind};

    const ID: TransactionId = TransactionId([3; 12]);

    /// A Binding request with these raw attribute bytes after the header (length field set to match).
    fn raw_request(attributes: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x00, 0x01];
        bytes.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&super::super::MAGIC_COOKIE.to_be_bytes());
        bytes.extend_from_slice(&ID.0);
        bytes.extend_from_slice(attributes);
        bytes
    }

    #[test]
    fn skips_unknown_comprehension_optional_attributes() {
        // 0xC057 is a browser's network-info attribute: optional, so parsing goes on.
        let bytes = raw_request(&[0xC0, 0x57, 0, 4, 0, 1, 0, 10, 0x00, 0x24, 0, 4, 0, 0, 0, 9]);
        let message = Message::parse(&bytes).unwrap();
        assert!(message.unknown_comprehension_required().is_empty());
        assert_eq!(message.priority(), Some(9));
        assert_eq!(
            message.attributes().next(),
            Some(Attribute::Other {
                kind: 0xC057,
                value: &[0, 1, 0, 10]
            })
        );
    }

    #[test]
    fn reports_unknown_comprehension_required_attributes() {
        let bytes = raw_request(&[0x00, 0x31, 0, 1, 7, 0, 0, 0, 0x7F, 0xFF, 0, 0]);
        let message = Message::parse(&bytes).unwrap();
        assert_eq!(message.unknown_comprehension_required(), &[0x0031, 0x7FFF]);
    }

    #[test]
    fn rejects_attribute_after_fingerprint() {
        // A correct FINGERPRINT (computed with the final length) followed by USE-CANDIDATE.
        let mut bytes = raw_request(&[0x80, 0x28, 0, 4, 0, 0, 0, 0, 0x00, 0x25, 0, 0]);
        let crc = integrity::fingerprint(&bytes[..HEADER_LEN]);
        bytes[24..28].copy_from_slice(&crc.to_be_bytes());
        let err = Message::parse(&bytes).unwrap_err();
        assert_eq!((err.offset, err.kind), (28, StunErrorKind::AttributeOrder));
    }

    #[test]
    fn ignores_attributes_after_message_integrity() {
        let mut buf = [0u8; 128];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, ID).unwrap();
        w.username("first:one").unwrap();
        w.message_integrity(&IntegrityKey::short_term("pwd"))
            .unwrap();
        let len = w.finish();
        let mut bytes = buf[..len].to_vec();
        bytes.extend_from_slice(&[0x00, 0x25, 0, 0, 0x00, 0x24, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF]);
        bytes[3] += 12;
        let message = Message::parse(&bytes).unwrap();
        assert!(!message.use_candidate());
        assert_eq!(message.priority(), None);
        assert_eq!(message.attributes().count(), 2);
        message
            .verify_integrity(&IntegrityKey::short_term("pwd"))
            .unwrap();
    }

    #[test]
    fn rejects_attribute_running_past_the_message() {
        let bytes = raw_request(&[
            0x00, 0x06, 0, 9, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h',
        ]);
        let err = Message::parse(&bytes).unwrap_err();
        assert_eq!((err.offset, err.kind), (22, StunErrorKind::AttributeLength));
    }

    #[test]
    fn rejects_more_than_max_attributes() {
        let attributes: Vec<u8> = [0x00u8, 0x25, 0, 0].repeat(MAX_ATTRIBUTES + 1);
        let err = Message::parse(&raw_request(&attributes)).unwrap_err();
        assert_eq!(err.kind, StunErrorKind::TooManyAttributes);
        assert_eq!(err.offset, HEADER_LEN + 4 * MAX_ATTRIBUTES);
        let attributes: Vec<u8> = [0x00u8, 0x25, 0, 0].repeat(MAX_ATTRIBUTES);
        assert!(Message::parse(&raw_request(&attributes)).is_ok());
    }

    #[test]
    fn verify_without_integrity_reports_it_missing() {
        let message_bytes = raw_request(&[]);
        let message = Message::parse(&message_bytes).unwrap();
        let err = message
            .verify_integrity(&IntegrityKey::short_term("pwd"))
            .unwrap_err();
        assert_eq!(err.kind, StunErrorKind::Missing);
    }

    #[test]
    fn first_of_duplicate_attributes_wins() {
        let bytes = raw_request(&[0x00, 0x24, 0, 4, 0, 0, 0, 1, 0x00, 0x24, 0, 4, 0, 0, 0, 2]);
        assert_eq!(Message::parse(&bytes).unwrap().priority(), Some(1));
    }

    #[test]
    fn accepts_message_integrity_sha256_without_verifying_it() {
        let mut attributes = vec![0x00, 0x1C, 0, 32];
        attributes.extend_from_slice(&[0xAB; 32]);
        let bytes = raw_request(&attributes);
        let message = Message::parse(&bytes).unwrap();
        assert_eq!(
            message.attributes().next(),
            Some(Attribute::MessageIntegritySha256(&[0xAB; 32]))
        );
        assert!(!message.has_integrity());
        let bad = raw_request(&[0x00, 0x1C, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Message::parse(&bad).unwrap_err().kind,
            StunErrorKind::AttributeLength
        );
    }

    #[test]
    fn rejects_datagram_shorter_than_the_header() {
        let err = Message::parse(&[0, 1, 0, 0]).unwrap_err();
        assert_eq!((err.offset, err.kind), (4, StunErrorKind::Truncated));
    }

    #[test]
    fn padding_content_is_ignored() {
        let zero = raw_request(&[0x00, 0x06, 0, 5, b'a', b'b', b'c', b'd', b':', 0, 0, 0]);
        let junk = raw_request(&[0x00, 0x06, 0, 5, b'a', b'b', b'c', b'd', b':', 9, 9, 9]);
        assert_eq!(Message::parse(&zero).unwrap().username(), Some("abcd:"));
        assert_eq!(Message::parse(&junk).unwrap().username(), Some("abcd:"));
    }
}
