//! The 20-byte STUN header (RFC 8489 §5): message type (class and method), length, magic cookie and
//! transaction ID.

use super::error::{StunError, StunErrorKind};

/// Length of the fixed STUN header.
pub const HEADER_LEN: usize = 20;

/// The magic cookie every RFC 5389/8489 message carries at bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// The class of a STUN message: the two class bits of the message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A request, answered by a success or error response.
    Request,
    /// An indication: no response is expected.
    Indication,
    /// A success response.
    SuccessResponse,
    /// An error response (carries ERROR-CODE).
    ErrorResponse,
}

impl Class {
    const fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::SuccessResponse => 0b10,
            Class::ErrorResponse => 0b11,
        }
    }

    const fn from_bits(bits: u16) -> Class {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        }
    }
}

/// A STUN method: a 12-bit number (only Binding is used by ICE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(u16);

impl Method {
    /// The Binding method (0x001), the one ICE connectivity checks use.
    pub const BINDING: Method = Method(0x001);

    /// A method from its number; `None` when it does not fit the 12 bits of the message type.
    pub const fn new(number: u16) -> Option<Method> {
        if number > 0x0FFF {
            None
        } else {
            Some(Method(number))
        }
    }

    /// The method's number.
    pub const fn number(self) -> u16 {
        self.0
    }
}

/// The 96-bit transaction ID that pairs a response with its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransactionId(pub [u8; 12]);

impl TransactionId {
    /// The ID's bytes, in wire order.
    pub const fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

/// Packs a class and a method into the 14-bit message type (M11..M7 C1 M6..M4 C0 M3..M0).
pub(crate) const fn encode_type(class: Class, method: Method) -> u16 {
    let m = method.0;
    let c = class.bits();
    (m & 0x000F) | ((c & 0b01) << 4) | ((m & 0x0070) << 1) | ((c & 0b10) << 7) | ((m & 0x0F80) << 2)
}

/// Splits a message type into its class and method.
pub(crate) const fn decode_type(message_type: u16) -> (Class, Method) {
    let class = ((message_type >> 4) & 0b01) | ((message_type >> 7) & 0b10);
    let method =
        (message_type & 0x000F) | ((message_type >> 1) & 0x0070) | ((message_type >> 2) & 0x0F80);
    (Class::from_bits(class), Method(method))
}

/// The header fields of a message, checked against the datagram that carries them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) class: Class,
    pub(crate) method: Method,
    pub(crate) transaction_id: TransactionId,
}

/// Reads and validates the header of `bytes`, which must hold exactly one message.
pub(crate) fn read_header(bytes: &[u8]) -> Result<Header, StunError> {
    let Some(fixed) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(StunError::truncated(bytes.len(), "20-byte STUN header"));
    };
    let message_type = u16::from_be_bytes([fixed[0], fixed[1]]);
    if message_type & 0xC000 != 0 {
        return Err(StunError::new(
            0,
            StunErrorKind::NotStun,
            "first two bits zero",
        ));
    }
    let cookie = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    if cookie != MAGIC_COOKIE {
        return Err(StunError::new(
            4,
            StunErrorKind::NotStun,
            "magic cookie 0x2112A442",
        ));
    }
    let body_len = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
    if !body_len.is_multiple_of(4) {
        return Err(StunError::new(
            2,
            StunErrorKind::Length,
            "message length a multiple of 4",
        ));
    }
    if HEADER_LEN + body_len != bytes.len() {
        return Err(StunError::new(
            2,
            StunErrorKind::Length,
            "message length equal to the datagram length minus 20",
        ));
    }
    let mut id = [0u8; 12];
    id.copy_from_slice(&fixed[8..HEADER_LEN]);
    let (class, method) = decode_type(message_type);
    Ok(Header {
        class,
        method,
        transaction_id: TransactionId(id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_request_and_success_types_match_rfc_8489() {
        assert_eq!(encode_type(Class::Request, Method::BINDING), 0x0001);
        assert_eq!(encode_type(Class::Indication, Method::BINDING), 0x0011);
        assert_eq!(encode_type(Class::SuccessResponse, Method::BINDING), 0x0101);
        assert_eq!(encode_type(Class::ErrorResponse, Method::BINDING), 0x0111);
    }

    #[test]
    fn every_class_and_method_round_trips_through_the_message_type() {
        let classes = [
            Class::Request,
            Class::Indication,
            Class::SuccessResponse,
            Class::ErrorResponse,
        ];
        for number in 0..=0x0FFF {
            let method = Method::new(number).expect("12-bit method");
            for class in classes {
                let encoded = encode_type(class, method);
                assert_eq!(encoded & 0xC000, 0);
                assert_eq!(decode_type(encoded), (class, method));
            }
        }
    }

    #[test]
    fn rejects_method_wider_than_twelve_bits() {
        assert_eq!(Method::new(0x1000), None);
    }

    #[test]
    fn rejects_header_without_magic_cookie() {
        let mut bytes = [0u8; 20];
        bytes[1] = 1;
        let err = read_header(&bytes).unwrap_err();
        assert_eq!((err.offset, err.kind), (4, StunErrorKind::NotStun));
    }

    #[test]
    fn rejects_length_that_disagrees_with_the_datagram() {
        let mut bytes = [0u8; 24];
        bytes[1] = 1;
        bytes[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        bytes[3] = 8;
        let err = read_header(&bytes).unwrap_err();
        assert_eq!((err.offset, err.kind), (2, StunErrorKind::Length));
        bytes[3] = 2;
        let err = read_header(&bytes).unwrap_err();
        assert_eq!(err.expected, "message length a multiple of 4");
    }
}
