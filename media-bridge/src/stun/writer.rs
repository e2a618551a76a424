//! Writing STUN messages into a caller's buffer, without allocating.

use std::net::SocketAddr;

use super::attribute::{
    self, ERROR_CODE, ErrorCode, FINGERPRINT, ICE_CONTROLLED, ICE_CONTROLLING, INTEGRITY_LEN,
    MAPPED_ADDRESS, MAX_TEXT_LEN, MAX_USERNAME_LEN, MESSAGE_INTEGRITY, PRIORITY, SOFTWARE,
    UNKNOWN_ATTRIBUTES, USE_CANDIDATE, USERNAME, XOR_MAPPED_ADDRESS,
};
use super::error::{StunError, StunErrorKind};
use super::header::{Class, HEADER_LEN, MAGIC_COOKIE, Method, TransactionId, encode_type};
use super::integrity::{self, IntegrityKey};
use super::message::MAX_ATTRIBUTES;

/// Where a writer is in the attribute order RFC 8489 imposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Ordinary attributes may still be added.
    Open,
    /// MESSAGE-INTEGRITY was written: only FINGERPRINT may follow.
    Signed,
    /// FINGERPRINT was written: the message is complete.
    Fingerprinted,
}

/// Writes one STUN message into a caller-provided buffer.
///
/// The header length is kept current after every attribute, so the buffer always holds a valid message.
/// [`message_integrity`](Self::message_integrity) and [`fingerprint`](Self::fingerprint) come last, in
/// that order; the writer refuses attributes after them.
///
/// ```
/// use tandem_media_bridge::stun::{Class, IntegrityKey, Message, MessageWriter, Method, TransactionId};
///
/// let key = IntegrityKey::short_term("remote-password-0123456789");
/// let mut buf = [0u8; 128];
/// let mut writer = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, TransactionId([1; 12]))?;
/// writer.username("remote:local")?;
/// writer.priority(1_853_824_767)?;
/// writer.use_candidate()?;
/// writer.message_integrity(&key)?;
/// writer.fingerprint()?;
/// let len = writer.finish();
///
/// let message = Message::parse(&buf[..len])?;
/// assert_eq!(message.username(), Some("remote:local"));
/// message.verify_integrity(&key)?;
/// # Ok::<(), tandem_media_bridge::stun::StunError>(())
/// ```
#[derive(Debug)]
pub struct MessageWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    attributes: usize,
    stage: Stage,
    padding_byte: u8,
    transaction_id: TransactionId,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message of this class and method in `buf`, writing its header.
    pub fn new(
        buf: &'b mut [u8],
        class: Class,
        method: Method,
        transaction_id: TransactionId,
    ) -> Result<MessageWriter<'b>, StunError> {
        let Some(header) = buf.first_chunk_mut::<HEADER_LEN>() else {
            return Err(StunError::buffer_too_small(0, HEADER_LEN));
        };
        header[0..2].copy_from_slice(&encode_type(class, method).to_be_bytes());
        header[2..4].copy_from_slice(&[0, 0]);
        header[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        header[8..20].copy_from_slice(transaction_id.as_bytes());
        Ok(MessageWriter {
            buf,
            len: HEADER_LEN,
            attributes: 0,
            stage: Stage::Open,
            padding_byte: 0,
            transaction_id,
        })
    }

    /// Sets the byte used to pad attribute values to 4 bytes (zero by default). Receivers ignore padding
    /// (RFC 8489 §14); this exists to reproduce published test vectors, which pad with spaces.
    pub fn padding_byte(&mut self, byte: u8) -> &mut Self {
        self.padding_byte = byte;
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing but the header was written.
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Ends the message and returns its length in the buffer.
    pub fn finish(self) -> usize {
        self.len
    }

    /// Adds MAPPED-ADDRESS.
    pub fn mapped_address(&mut self, addr: SocketAddr) -> Result<&mut Self, StunError> {
        self.address(MAPPED_ADDRESS, addr, false)
    }

    /// Adds XOR-MAPPED-ADDRESS (the address a success response reports to the requester).
    pub fn xor_mapped_address(&mut self, addr: SocketAddr) -> Result<&mut Self, StunError> {
        self.address(XOR_MAPPED_ADDRESS, addr, true)
    }

    fn address(&mut self, kind: u16, addr: SocketAddr, xor: bool) -> Result<&mut Self, StunError> {
        let id = self.transaction_id;
        let xor = xor.then_some(&id);
        self.append(kind, attribute::address_len(&addr), |out| {
            attribute::encode_address(out, &addr, xor)
        })
    }

    /// Adds USERNAME (for an ICE check: `receiver-ufrag:sender-ufrag`); at most 508 bytes.
    pub fn username(&mut self, username: &str) -> Result<&mut Self, StunError> {
        self.text(USERNAME, username, MAX_USERNAME_LEN)
    }

    /// Adds SOFTWARE; at most 763 bytes.
    pub fn software(&mut self, software: &str) -> Result<&mut Self, StunError> {
        self.text(SOFTWARE, software, MAX_TEXT_LEN)
    }

    fn text(&mut self, kind: u16, text: &str, max: usize) -> Result<&mut Self, StunError> {
        if text.len() > max {
            return Err(StunError::invalid(
                self.len,
                "text within the RFC 8489 size limit",
            ));
        }
        self.raw_attribute(kind, text.as_bytes())
    }

    /// Adds PRIORITY.
    pub fn priority(&mut self, priority: u32) -> Result<&mut Self, StunError> {
        self.raw_attribute(PRIORITY, &priority.to_be_bytes())
    }

    /// Adds USE-CANDIDATE.
    pub fn use_candidate(&mut self) -> Result<&mut Self, StunError> {
        self.raw_attribute(USE_CANDIDATE, &[])
    }

    /// Adds ICE-CONTROLLING with this tie-breaker.
    pub fn ice_controlling(&mut self, tie_breaker: u64) -> Result<&mut Self, StunError> {
        self.raw_attribute(ICE_CONTROLLING, &tie_breaker.to_be_bytes())
    }

    /// Adds ICE-CONTROLLED with this tie-breaker.
    pub fn ice_controlled(&mut self, tie_breaker: u64) -> Result<&mut Self, StunError> {
        self.raw_attribute(ICE_CONTROLLED, &tie_breaker.to_be_bytes())
    }

    /// Adds ERROR-CODE; the code must be from 300 to 699 and the reason at most 763 bytes.
    pub fn error_code(&mut self, error: ErrorCode<'_>) -> Result<&mut Self, StunError> {
        if !(300..=699).contains(&error.code) {
            return Err(StunError::invalid(self.len, "error code from 300 to 699"));
        }
        if error.reason.len() > MAX_TEXT_LEN {
            return Err(StunError::invalid(
                self.len,
                "reason phrase of at most 763 bytes",
            ));
        }
        let class = (error.code / 100) as u8;
        let number = (error.code % 100) as u8;
        let reason = error.reason.as_bytes();
        self.append(ERROR_CODE, 4 + reason.len(), |out| {
            if let Some((head, tail)) = out.split_first_chunk_mut::<4>() {
                *head = [0, 0, class, number];
                tail.copy_from_slice(reason);
            }
        })
    }

    /// Adds UNKNOWN-ATTRIBUTES listing these attribute types (for a 420 response).
    pub fn unknown_attributes(&mut self, kinds: &[u16]) -> Result<&mut Self, StunError> {
        self.append(UNKNOWN_ATTRIBUTES, kinds.len() * 2, |out| {
            for (pair, kind) in out.chunks_exact_mut(2).zip(kinds) {
                pair.copy_from_slice(&kind.to_be_bytes());
            }
        })
    }

    /// Adds an attribute with a raw value (any type, including ones this crate does not know).
    ///
    /// MESSAGE-INTEGRITY and FINGERPRINT are refused here: use [`message_integrity`](Self::message_integrity)
    /// and [`fingerprint`](Self::fingerprint), which compute them.
    pub fn raw_attribute(&mut self, kind: u16, value: &[u8]) -> Result<&mut Self, StunError> {
        if matches!(kind, MESSAGE_INTEGRITY | FINGERPRINT) {
            return Err(StunError::invalid(
                self.len,
                "MESSAGE-INTEGRITY and FINGERPRINT through their own methods",
            ));
        }
        self.append(kind, value.len(), |out| out.copy_from_slice(value))
    }

    /// Adds MESSAGE-INTEGRITY: the HMAC-SHA1 under `key` of everything written so far, with the header
    /// length counting the attribute itself. Only FINGERPRINT may follow.
    pub fn message_integrity(&mut self, key: &IntegrityKey) -> Result<&mut Self, StunError> {
        let start = self.len;
        self.append(MESSAGE_INTEGRITY, INTEGRITY_LEN, |_| {})?;
        let tag = {
            let (Some(header), Some(body)) = (
                self.buf.first_chunk::<HEADER_LEN>(),
                self.buf.get(HEADER_LEN..start),
            ) else {
                return Err(StunError::buffer_too_small(0, start));
            };
            key.sign(header, body)
        };
        self.fill_value(start, &tag);
        self.stage = Stage::Signed;
        Ok(self)
    }

    /// Adds FINGERPRINT: the CRC-32 of everything written so far (header length counting the attribute)
    /// XOR 0x5354554E. Nothing may follow.
    pub fn fingerprint(&mut self) -> Result<&mut Self, StunError> {
        if self.stage == Stage::Fingerprinted {
            return Err(self.order_error());
        }
        let start = self.len;
        self.append_unchecked(FINGERPRINT, 4, |_| {})?;
        let crc = integrity::fingerprint(self.buf.get(..start).unwrap_or_default());
        self.fill_value(start, &crc.to_be_bytes());
        self.stage = Stage::Fingerprinted;
        Ok(self)
    }

    fn fill_value(&mut self, attribute_at: usize, value: &[u8]) {
        let at = attribute_at + 4;
        if let Some(out) = self.buf.get_mut(at..at + value.len()) {
            out.copy_from_slice(value);
        }
    }

    fn order_error(&self) -> StunError {
        StunError::new(
            self.len,
            StunErrorKind::AttributeOrder,
            "only FINGERPRINT after MESSAGE-INTEGRITY, nothing after FINGERPRINT",
        )
    }

    /// Appends an ordinary attribute: refused once the message is signed or fingerprinted.
    fn append(
        &mut self,
        kind: u16,
        value_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<&mut Self, StunError> {
        if self.stage != Stage::Open {
            return Err(self.order_error());
        }
        self.append_unchecked(kind, value_len, fill)
    }

    /// Writes the attribute header, the value (through `fill`) and the padding, then updates the header
    /// length. Nothing is changed when it does not fit.
    fn append_unchecked(
        &mut self,
        kind: u16,
        value_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<&mut Self, StunError> {
        if self.attributes >= MAX_ATTRIBUTES {
            return Err(StunError::new(
                self.len,
                StunErrorKind::TooManyAttributes,
                "at most 32 attributes",
            ));
        }
        let Ok(wire_len) = u16::try_from(value_len) else {
            return Err(StunError::invalid(
                self.len,
                "attribute value under 65536 bytes",
            ));
        };
        let padding = attribute::padding(value_len);
        let end = self.len + 4 + value_len + padding;
        let Ok(body_len) = u16::try_from(end - HEADER_LEN) else {
            return Err(StunError::invalid(self.len, "message under 65536 bytes"));
        };
        let Some(out) = self.buf.get_mut(self.len..end) else {
            return Err(StunError::buffer_too_small(self.len, end));
        };
        let (head, rest) = out.split_at_mut(4);
        head[0..2].copy_from_slice(&kind.to_be_bytes());
        head[2..4].copy_from_slice(&wire_len.to_be_bytes());
        let (value, pad) = rest.split_at_mut(value_len);
        fill(value);
        pad.fill(self.padding_byte);
        if let Some(length_field) = self.buf.get_mut(2..4) {
            length_field.copy_from_slice(&body_len.to_be_bytes());
        }
        self.len = end;
        self.attributes += 1;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::Message;

    const ID: TransactionId = TransactionId([9; 12]);

    #[test]
    fn refuses_attributes_after_message_integrity() {
        let mut buf = [0u8; 128];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, ID).unwrap();
        w.message_integrity(&IntegrityKey::short_term("pwd"))
            .unwrap();
        let err = w.priority(1).unwrap_err();
        assert_eq!(err.kind, StunErrorKind::AttributeOrder);
        w.fingerprint().unwrap();
        assert_eq!(
            w.fingerprint().unwrap_err().kind,
            StunErrorKind::AttributeOrder
        );
    }

    #[test]
    fn reports_buffer_too_small_and_leaves_the_message_valid() {
        let mut buf = [0u8; 28];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, ID).unwrap();
        w.priority(7).unwrap();
        let err = w.username("someone").unwrap_err();
        assert_eq!(err.kind, StunErrorKind::BufferTooSmall { needed: 40 });
        let len = w.finish();
        let message = Message::parse(&buf[..len]).unwrap();
        assert_eq!(message.priority(), Some(7));
        assert_eq!(message.username(), None);
    }

    #[test]
    fn refuses_a_header_that_does_not_fit() {
        let mut buf = [0u8; 19];
        let err = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, ID).unwrap_err();
        assert_eq!(err.kind, StunErrorKind::BufferTooSmall { needed: 20 });
    }

    #[test]
    fn refuses_error_codes_outside_300_to_699() {
        let mut buf = [0u8; 64];
        let mut w =
            MessageWriter::new(&mut buf, Class::ErrorResponse, Method::BINDING, ID).unwrap();
        let err = w
            .error_code(ErrorCode {
                code: 200,
                reason: "OK",
            })
            .unwrap_err();
        assert_eq!(err.kind, StunErrorKind::InvalidValue);
    }

    #[test]
    fn refuses_integrity_and_fingerprint_as_raw_attributes() {
        let mut buf = [0u8; 64];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, ID).unwrap();
        assert!(w.raw_attribute(0x8028, &[0; 4]).is_err());
        assert!(w.raw_attribute(0x0008, &[0; 20]).is_err());
        assert!(w.is_empty());
    }

    #[test]
    fn refuses_more_attributes_than_a_parser_accepts() {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, ID).unwrap();
        for _ in 0..MAX_ATTRIBUTES {
            w.use_candidate().unwrap();
        }
        let err = w.use_candidate().unwrap_err();
        assert_eq!(err.kind, StunErrorKind::TooManyAttributes);
    }
}
