//! STUN attributes (RFC 8489 §14, RFC 8445 §16.1): type numbers, typed zero-copy views and value checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::{StunError, StunErrorKind};
use super::header::{MAGIC_COOKIE, TransactionId};

/// MAPPED-ADDRESS (RFC 8489 §14.1).
pub(crate) const MAPPED_ADDRESS: u16 = 0x0001;
/// USERNAME (RFC 8489 §14.3).
pub(crate) const USERNAME: u16 = 0x0006;
/// MESSAGE-INTEGRITY (RFC 8489 §14.5).
pub(crate) const MESSAGE_INTEGRITY: u16 = 0x0008;
/// ERROR-CODE (RFC 8489 §14.8).
pub(crate) const ERROR_CODE: u16 = 0x0009;
/// UNKNOWN-ATTRIBUTES (RFC 8489 §14.9).
pub(crate) const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
/// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
pub(crate) const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
/// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
pub(crate) const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// PRIORITY (RFC 8445 §16.1).
pub(crate) const PRIORITY: u16 = 0x0024;
/// USE-CANDIDATE (RFC 8445 §16.1).
pub(crate) const USE_CANDIDATE: u16 = 0x0025;
/// SOFTWARE (RFC 8489 §14.14).
pub(crate) const SOFTWARE: u16 = 0x8022;
/// FINGERPRINT (RFC 8489 §14.7).
pub(crate) const FINGERPRINT: u16 = 0x8028;
/// ICE-CONTROLLED (RFC 8445 §16.1).
pub(crate) const ICE_CONTROLLED: u16 = 0x8029;
/// ICE-CONTROLLING (RFC 8445 §16.1).
pub(crate) const ICE_CONTROLLING: u16 = 0x802A;

/// Length of a MESSAGE-INTEGRITY value (an HMAC-SHA1).
pub(crate) const INTEGRITY_LEN: usize = 20;
/// The value XORed into the CRC-32 to form FINGERPRINT ("STUN" in ASCII).
pub(crate) const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// USERNAME must be fewer than 509 bytes (RFC 8489 §14.3).
pub(crate) const MAX_USERNAME_LEN: usize = 508;
/// SOFTWARE and the ERROR-CODE reason phrase must be fewer than 128 characters, at most 763 bytes.
pub(crate) const MAX_TEXT_LEN: usize = 763;

/// Whether an unknown attribute of this type makes the message unusable (types 0x0000–0x7FFF).
pub(crate) const fn is_comprehension_required(kind: u16) -> bool {
    kind < 0x8000
}

/// Whether this crate understands attributes of this type.
pub(crate) const fn is_known(kind: u16) -> bool {
    matches!(
        kind,
        MAPPED_ADDRESS
            | USERNAME
            | MESSAGE_INTEGRITY
            | ERROR_CODE
            | UNKNOWN_ATTRIBUTES
            | MESSAGE_INTEGRITY_SHA256
            | XOR_MAPPED_ADDRESS
            | PRIORITY
            | USE_CANDIDATE
            | SOFTWARE
            | FINGERPRINT
            | ICE_CONTROLLED
            | ICE_CONTROLLING
    )
}

/// Bytes of padding that follow a value of `len` bytes to reach a 4-byte boundary.
pub(crate) const fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// One attribute of a parsed message, borrowing from the message bytes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute<'a> {
    /// MAPPED-ADDRESS: the reflexive transport address, in the clear (RFC 3489 servers).
    MappedAddress(SocketAddr),
    /// XOR-MAPPED-ADDRESS: the reflexive transport address, decoded.
    XorMappedAddress(SocketAddr),
    /// USERNAME: for ICE, `receiver-ufrag:sender-ufrag`.
    Username(&'a str),
    /// MESSAGE-INTEGRITY: the HMAC-SHA1 as carried; check it with
    /// [`Message::verify_integrity`](super::Message::verify_integrity).
    MessageIntegrity(&'a [u8; INTEGRITY_LEN]),
    /// MESSAGE-INTEGRITY-SHA256: accepted and exposed, not verified by this crate.
    MessageIntegritySha256(&'a [u8]),
    /// FINGERPRINT: the CRC-32 value as carried (already checked when the message parsed).
    Fingerprint(u32),
    /// PRIORITY: the priority a peer-reflexive candidate learnt from this check would get.
    Priority(u32),
    /// USE-CANDIDATE: the controlling agent nominates the pair this check is sent on.
    UseCandidate,
    /// ICE-CONTROLLING with the sender's tie-breaker.
    IceControlling(u64),
    /// ICE-CONTROLLED with the sender's tie-breaker.
    IceControlled(u64),
    /// ERROR-CODE: the failure reported by an error response.
    ErrorCode(ErrorCode<'a>),
    /// UNKNOWN-ATTRIBUTES: the comprehension-required types a request carried that the server did not know.
    UnknownAttributes(UnknownAttributes<'a>),
    /// SOFTWARE: a description of the sender's software.
    Software(&'a str),
    /// Any other attribute, kept raw.
    Other {
        /// The attribute type.
        kind: u16,
        /// The value, without padding.
        value: &'a [u8],
    },
}

/// The value of an ERROR-CODE attribute: a code from 300 to 699 and a reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// The numeric code (class × 100 + number), e.g. 487.
    pub code: u16,
    /// The reason phrase, e.g. `"Role Conflict"`.
    pub reason: &'a str,
}

impl ErrorCode<'static> {
    /// 400 Bad Request: the request was malformed (e.g. no USERNAME or MESSAGE-INTEGRITY).
    pub const BAD_REQUEST: ErrorCode<'static> = ErrorCode {
        code: 400,
        reason: "Bad Request",
    };
    /// 401 Unauthorized: the credentials were wrong or missing.
    pub const UNAUTHORIZED: ErrorCode<'static> = ErrorCode {
        code: 401,
        reason: "Unauthorized",
    };
    /// 420 Unknown Attribute: the request had comprehension-required attributes the server did not know.
    pub const UNKNOWN_ATTRIBUTE: ErrorCode<'static> = ErrorCode {
        code: 420,
        reason: "Unknown Attribute",
    };
    /// 487 Role Conflict: both ICE agents claimed the same role (RFC 8445 §7.3.1.1).
    pub const ROLE_CONFLICT: ErrorCode<'static> = ErrorCode {
        code: 487,
        reason: "Role Conflict",
    };
}

/// The attribute types listed in an UNKNOWN-ATTRIBUTES attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownAttributes<'a>(&'a [u8]);

impl<'a> UnknownAttributes<'a> {
    /// The listed attribute types, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        self.0
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
    }

    /// How many types are listed.
    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Decodes and validates the value of one attribute. `offset` is where the value starts in the message.
pub(crate) fn decode<'a>(
    kind: u16,
    value: &'a [u8],
    offset: usize,
    transaction_id: &TransactionId,
) -> Result<Attribute<'a>, StunError> {
    let attribute = match kind {
        MAPPED_ADDRESS => Attribute::MappedAddress(decode_address(value, offset, None)?),
        XOR_MAPPED_ADDRESS => {
            Attribute::XorMappedAddress(decode_address(value, offset, Some(transaction_id))?)
        }
        USERNAME => Attribute::Username(decode_text(value, offset, MAX_USERNAME_LEN)?),
        MESSAGE_INTEGRITY => Attribute::MessageIntegrity(
            value
                .try_into()
                .map_err(|_| length_error(offset, "20-byte MESSAGE-INTEGRITY value"))?,
        ),
        MESSAGE_INTEGRITY_SHA256 => {
            if !(16..=32).contains(&value.len()) || !value.len().is_multiple_of(4) {
                return Err(length_error(
                    offset,
                    "16 to 32 bytes (a multiple of 4) of MESSAGE-INTEGRITY-SHA256",
                ));
            }
            Attribute::MessageIntegritySha256(value)
        }
        FINGERPRINT => Attribute::Fingerprint(u32::from_be_bytes(fixed(
            value,
            offset,
            "4-byte FINGERPRINT value",
        )?)),
        PRIORITY => Attribute::Priority(u32::from_be_bytes(fixed(
            value,
            offset,
            "4-byte PRIORITY value",
        )?)),
        USE_CANDIDATE => {
            if !value.is_empty() {
                return Err(length_error(offset, "empty USE-CANDIDATE value"));
            }
            Attribute::UseCandidate
        }
        ICE_CONTROLLING => Attribute::IceControlling(u64::from_be_bytes(fixed(
            value,
            offset,
            "8-byte ICE-CONTROLLING tie-breaker",
        )?)),
        ICE_CONTROLLED => Attribute::IceControlled(u64::from_be_bytes(fixed(
            value,
            offset,
            "8-byte ICE-CONTROLLED tie-breaker",
        )?)),
        ERROR_CODE => Attribute::ErrorCode(decode_error_code(value, offset)?),
        UNKNOWN_ATTRIBUTES => {
            if !value.len().is_multiple_of(2) {
                return Err(length_error(
                    offset,
                    "UNKNOWN-ATTRIBUTES value of whole 16-bit types",
                ));
            }
            Attribute::UnknownAttributes(UnknownAttributes(value))
        }
        SOFTWARE => Attribute::Software(decode_text(value, offset, MAX_TEXT_LEN)?),
        _ => Attribute::Other { kind, value },
    };
    Ok(attribute)
}

fn length_error(offset: usize, expected: &'static str) -> StunError {
    StunError::new(offset, StunErrorKind::AttributeLength, expected)
}

fn fixed<const N: usize>(
    value: &[u8],
    offset: usize,
    expected: &'static str,
) -> Result<[u8; N], StunError> {
    value.try_into().map_err(|_| length_error(offset, expected))
}

fn decode_text(value: &[u8], offset: usize, max: usize) -> Result<&str, StunError> {
    if value.len() > max {
        return Err(length_error(offset, "text within the RFC 8489 size limit"));
    }
    std::str::from_utf8(value).map_err(|e| StunError::invalid(offset + e.valid_up_to(), "UTF-8"))
}

fn decode_error_code(value: &[u8], offset: usize) -> Result<ErrorCode<'_>, StunError> {
    let Some((head, reason)) = value.split_first_chunk::<4>() else {
        return Err(length_error(offset, "4-byte ERROR-CODE header"));
    };
    let class = u16::from(head[2] & 0x07);
    let number = u16::from(head[3]);
    if !(3..=6).contains(&class) {
        return Err(StunError::invalid(offset + 2, "error class from 3 to 6"));
    }
    if number > 99 {
        return Err(StunError::invalid(offset + 3, "error number from 0 to 99"));
    }
    Ok(ErrorCode {
        code: class * 100 + number,
        reason: decode_text(reason, offset + 4, MAX_TEXT_LEN)?,
    })
}

const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

/// Decodes (XOR-)MAPPED-ADDRESS; `xor` carries the transaction ID when the value is XORed.
fn decode_address(
    value: &[u8],
    offset: usize,
    xor: Option<&TransactionId>,
) -> Result<SocketAddr, StunError> {
    let Some((head, address)) = value.split_first_chunk::<4>() else {
        return Err(length_error(offset, "address family and port"));
    };
    let mut port = u16::from_be_bytes([head[2], head[3]]);
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match head[1] {
        FAMILY_IPV4 => {
            let mut octets: [u8; 4] = fixed(address, offset + 4, "4-byte IPv4 address")?;
            if xor.is_some() {
                xor_bytes(&mut octets, &MAGIC_COOKIE.to_be_bytes());
            }
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        FAMILY_IPV6 => {
            let mut octets: [u8; 16] = fixed(address, offset + 4, "16-byte IPv6 address")?;
            if let Some(id) = xor {
                xor_bytes(&mut octets, &ipv6_mask(id));
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => {
            return Err(StunError::invalid(
                offset + 1,
                "address family 0x01 (IPv4) or 0x02 (IPv6)",
            ));
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// The 16 bytes an IPv6 XOR-MAPPED-ADDRESS is XORed with: the magic cookie then the transaction ID.
fn ipv6_mask(id: &TransactionId) -> [u8; 16] {
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    mask[4..].copy_from_slice(id.as_bytes());
    mask
}

fn xor_bytes(target: &mut [u8], mask: &[u8]) {
    for (byte, m) in target.iter_mut().zip(mask) {
        *byte ^= m;
    }
}

/// Length of an encoded (XOR-)MAPPED-ADDRESS value for `addr`.
pub(crate) const fn address_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 8,
        SocketAddr::V6(_) => 20,
    }
}

/// Encodes (XOR-)MAPPED-ADDRESS into `out`, which is exactly [`address_len`] bytes long.
pub(crate) fn encode_address(out: &mut [u8], addr: &SocketAddr, xor: Option<&TransactionId>) {
    let mut port = addr.port();
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let (family, tail) = match out.split_first_chunk_mut::<4>() {
        Some(split) => split,
        None => return,
    };
    family[0] = 0;
    family[2..4].copy_from_slice(&port.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            family[1] = FAMILY_IPV4;
            let mut octets = ip.octets();
            if xor.is_some() {
                xor_bytes(&mut octets, &MAGIC_COOKIE.to_be_bytes());
            }
            copy_into(tail, &octets);
        }
        IpAddr::V6(ip) => {
            family[1] = FAMILY_IPV6;
            let mut octets = ip.octets();
            if let Some(id) = xor {
                xor_bytes(&mut octets, &ipv6_mask(id));
            }
            copy_into(tail, &octets);
        }
    }
}

fn copy_into(out: &mut [u8], bytes: &[u8]) {
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: TransactionId = TransactionId([
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ]);

    #[test]
    fn xor_mapped_address_round_trips_for_both_families() {
        for addr in [
            "192.0.2.1:32853".parse::<SocketAddr>().unwrap(),
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap(),
        ] {
            let mut out = vec![0u8; address_len(&addr)];
            encode_address(&mut out, &addr, Some(&ID));
            assert_eq!(
                decode(XOR_MAPPED_ADDRESS, &out, 0, &ID),
                Ok(Attribute::XorMappedAddress(addr))
            );
            encode_address(&mut out, &addr, None);
            assert_eq!(
                decode(MAPPED_ADDRESS, &out, 0, &ID),
                Ok(Attribute::MappedAddress(addr))
            );
        }
    }

    #[test]
    fn rejects_unknown_address_family() {
        let err = decode(XOR_MAPPED_ADDRESS, &[0, 3, 0, 0, 1, 2, 3, 4], 24, &ID).unwrap_err();
        assert_eq!((err.offset, err.kind), (25, StunErrorKind::InvalidValue));
    }

    #[test]
    fn rejects_ipv4_address_with_ipv6_length() {
        let err = decode(
            MAPPED_ADDRESS,
            &[0, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
            24,
            &ID,
        )
        .unwrap_err();
        assert_eq!((err.offset, err.kind), (28, StunErrorKind::AttributeLength));
    }

    #[test]
    fn error_code_splits_class_and_number() {
        let value = [0, 0, 4, 87, b'R', b'o', b'l', b'e'];
        assert_eq!(
            decode(ERROR_CODE, &value, 0, &ID),
            Ok(Attribute::ErrorCode(ErrorCode {
                code: 487,
                reason: "Role"
            }))
        );
    }

    #[test]
    fn rejects_error_code_outside_300_to_699() {
        let err = decode(ERROR_CODE, &[0, 0, 7, 0], 0, &ID).unwrap_err();
        assert_eq!(err.expected, "error class from 3 to 6");
        let err = decode(ERROR_CODE, &[0, 0, 4, 100], 0, &ID).unwrap_err();
        assert_eq!(err.expected, "error number from 0 to 99");
    }

    #[test]
    fn rejects_username_that_is_not_utf8() {
        let err = decode(USERNAME, &[b'a', 0xff], 40, &ID).unwrap_err();
        assert_eq!((err.offset, err.kind), (41, StunErrorKind::InvalidValue));
    }

    #[test]
    fn rejects_use_candidate_with_a_value() {
        let err = decode(USE_CANDIDATE, &[0; 4], 0, &ID).unwrap_err();
        assert_eq!(err.kind, StunErrorKind::AttributeLength);
    }

    #[test]
    fn unknown_types_above_0x8000_are_comprehension_optional() {
        assert!(is_comprehension_required(0x7fff));
        assert!(!is_comprehension_required(0x8000));
        assert!(!is_known(0xC057));
    }
}
