//! RFC 5769 test vectors (sections 2.1–2.3, short-term credentials): the parser reads them, verifies
//! MESSAGE-INTEGRITY and FINGERPRINT, and the writer reproduces them byte for byte.

use std::net::SocketAddr;

use tandem_media_bridge::stun::{
    Attribute, Class, IntegrityKey, Message, MessageWriter, Method, StunErrorKind, TransactionId,
};

/// The password of the three short-term vectors.
const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

const TRANSACTION_ID: TransactionId = TransactionId([
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
]);

/// RFC 5769 §2.1 Sample Request (padding bytes are spaces, 0x20).
const SAMPLE_REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, // Request type and message length
    0x21, 0x12, 0xa4, 0x42, // Magic cookie
    0xb7, 0xe7, 0xa7, 0x01, // }
    0xbc, 0x34, 0xd6, 0x86, // }  Transaction ID
    0xfa, 0x87, 0xdf, 0xae, // }
    0x80, 0x22, 0x00, 0x10, // SOFTWARE attribute header
    0x53, 0x54, 0x55, 0x4e, // }
    0x20, 0x74, 0x65, 0x73, // }  User-agent...
    0x74, 0x20, 0x63, 0x6c, // }  ...name
    0x69, 0x65, 0x6e, 0x74, // }
    0x00, 0x24, 0x00, 0x04, // PRIORITY attribute header
    0x6e, 0x00, 0x01, 0xff, // ICE priority value
    0x80, 0x29, 0x00, 0x08, // ICE-CONTROLLED attribute header
    0x93, 0x2f, 0xf9, 0xb1, // }  Pseudo-random tie breaker...
    0x51, 0x26, 0x3b, 0x36, // }   ...for ICE control
    0x00, 0x06, 0x00, 0x09, // USERNAME attribute header
    0x65, 0x76, 0x74, 0x6a, // }
    0x3a, 0x68, 0x36, 0x76, // }  Username (9 bytes) and padding (3 bytes)
    0x59, 0x20, 0x20, 0x20, // }
    0x00, 0x08, 0x00, 0x14, // MESSAGE-INTEGRITY attribute header
    0x9a, 0xea, 0xa7, 0x0c, // }
    0xbf, 0xd8, 0xcb, 0x56, // }
    0x78, 0x1e, 0xf2, 0xb5, // }  HMAC-SHA1 fingerprint
    0xb2, 0xd3, 0xf2, 0x49, // }
    0xc1, 0xb5, 0x71, 0xa2, // }
    0x80, 0x28, 0x00, 0x04, // FINGERPRINT attribute header
    0xe5, 0x7a, 0x3b, 0xcf, // CRC32 fingerprint
];

/// RFC 5769 §2.2 Sample IPv4 Response.
const SAMPLE_IPV4_RESPONSE: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, // Response type and message length
    0x21, 0x12, 0xa4, 0x42, // Magic cookie
    0xb7, 0xe7, 0xa7, 0x01, // }
    0xbc, 0x34, 0xd6, 0x86, // }  Transaction ID
    0xfa, 0x87, 0xdf, 0xae, // }
    0x80, 0x22, 0x00, 0x0b, // SOFTWARE attribute header
    0x74, 0x65, 0x73, 0x74, // }
    0x20, 0x76, 0x65, 0x63, // }  UTF-8 server name
    0x74, 0x6f, 0x72, 0x20, // }
    0x00, 0x20, 0x00, 0x08, // XOR-MAPPED-ADDRESS attribute header
    0x00, 0x01, 0xa1, 0x47, // Address family (IPv4) and xor'd mapped port number
    0xe1, 0x12, 0xa6, 0x43, // Xor'd mapped IPv4 address
    0x00, 0x08, 0x00, 0x14, // MESSAGE-INTEGRITY attribute header
    0x2b, 0x91, 0xf5, 0x99, // }
    0xfd, 0x9e, 0x90, 0xc3, // }
    0x8c, 0x74, 0x89, 0xf9, // }  HMAC-SHA1 fingerprint
    0x2a, 0xf9, 0xba, 0x53, // }
    0xf0, 0x6b, 0xe7, 0xd7, // }
    0x80, 0x28, 0x00, 0x04, // FINGERPRINT attribute header
    0xc0, 0x7d, 0x4c, 0x96, // CRC32 fingerprint
];

/// RFC 5769 §2.3 Sample IPv6 Response.
const SAMPLE_IPV6_RESPONSE: [u8; 92] = [
    0x01, 0x01, 0x00, 0x48, // Response type and message length
    0x21, 0x12, 0xa4, 0x42, // Magic cookie
    0xb7, 0xe7, 0xa7, 0x01, // }
    0xbc, 0x34, 0xd6, 0x86, // }  Transaction ID
    0xfa, 0x87, 0xdf, 0xae, // }
    0x80, 0x22, 0x00, 0x0b, // SOFTWARE attribute header
    0x74, 0x65, 0x73, 0x74, // }
    0x20, 0x76, 0x65, 0x63, // }  UTF-8 server name
    0x74, 0x6f, 0x72, 0x20, // }
    0x00, 0x20, 0x00, 0x14, // XOR-MAPPED-ADDRESS attribute header
    0x00, 0x02, 0xa1, 0x47, // Address family (IPv6) and xor'd mapped port number
    0x01, 0x13, 0xa9, 0xfa, // }
    0xa5, 0xd3, 0xf1, 0x79, // }  Xor'd mapped IPv6 address
    0xbc, 0x25, 0xf4, 0xb5, // }
    0xbe, 0xd2, 0xb9, 0xd9, // }
    0x00, 0x08, 0x00, 0x14, // MESSAGE-INTEGRITY attribute header
    0xa3, 0x82, 0x95, 0x4e, // }
    0x4b, 0xe6, 0x7b, 0xf1, // }
    0x17, 0x84, 0xc9, 0x7c, // }  HMAC-SHA1 fingerprint
    0x82, 0x92, 0xc2, 0x75, // }
    0xbf, 0xe3, 0xed, 0x41, // }
    0x80, 0x28, 0x00, 0x04, // FINGERPRINT attribute header
    0xc8, 0xfb, 0x0b, 0x4c, // CRC32 fingerprint
];

fn key() -> IntegrityKey {
    IntegrityKey::short_term(PASSWORD)
}

#[test]
fn rfc5769_sample_request_parses_and_verifies() {
    let message = Message::parse(&SAMPLE_REQUEST).expect("vector parses (FINGERPRINT checked)");
    assert_eq!(message.class(), Class::Request);
    assert_eq!(message.method(), Method::BINDING);
    assert_eq!(message.transaction_id(), TRANSACTION_ID);
    assert!(message.has_fingerprint());
    message.verify_integrity(&key()).expect("MESSAGE-INTEGRITY");
    let attributes: Vec<Attribute<'_>> = message.attributes().collect();
    assert_eq!(attributes.len(), 6);
    assert_eq!(attributes[0], Attribute::Software("STUN test client"));
    assert_eq!(attributes[1], Attribute::Priority(0x6e00_01ff));
    assert_eq!(
        attributes[2],
        Attribute::IceControlled(0x932f_f9b1_5126_3b36)
    );
    assert_eq!(attributes[3], Attribute::Username("evtj:h6vY"));
    assert!(matches!(attributes[4], Attribute::MessageIntegrity(_)));
    assert_eq!(attributes[5], Attribute::Fingerprint(0xe57a_3bcf));
    assert!(message.unknown_comprehension_required().is_empty());
}

#[test]
fn rfc5769_sample_request_fails_integrity_with_another_password() {
    let message = Message::parse(&SAMPLE_REQUEST).unwrap();
    let err = message
        .verify_integrity(&IntegrityKey::short_term("VOkJxbRl1RmTxUk/WvJxBT"))
        .unwrap_err();
    assert_eq!(err.kind, StunErrorKind::Integrity);
    assert_eq!(err.offset, 80); // the MESSAGE-INTEGRITY value
}

#[test]
fn rfc5769_sample_request_with_a_flipped_bit_fails_its_fingerprint() {
    let mut corrupted = SAMPLE_REQUEST;
    corrupted[30] ^= 0x01; // inside SOFTWARE
    let err = Message::parse(&corrupted).unwrap_err();
    assert_eq!(err.kind, StunErrorKind::Fingerprint);
    assert_eq!(err.offset, 104);
}

#[test]
fn rfc5769_responses_decode_their_xor_mapped_addresses() {
    let cases: [(&[u8], &str); 2] = [
        (&SAMPLE_IPV4_RESPONSE, "192.0.2.1:32853"),
        (
            &SAMPLE_IPV6_RESPONSE,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ),
    ];
    for (bytes, mapped) in cases {
        let message = Message::parse(bytes).expect("vector parses");
        assert_eq!(message.class(), Class::SuccessResponse);
        assert_eq!(message.software(), Some("test vector"));
        assert_eq!(message.xor_mapped_address(), Some(mapped.parse().unwrap()));
        message.verify_integrity(&key()).expect("MESSAGE-INTEGRITY");
    }
}

#[test]
fn writer_reproduces_rfc5769_sample_request() {
    let mut buf = [0u8; 256];
    let mut w =
        MessageWriter::new(&mut buf, Class::Request, Method::BINDING, TRANSACTION_ID).unwrap();
    w.padding_byte(b' ');
    w.software("STUN test client").unwrap();
    w.priority(0x6e00_01ff).unwrap();
    w.ice_controlled(0x932f_f9b1_5126_3b36).unwrap();
    w.username("evtj:h6vY").unwrap();
    w.message_integrity(&key()).unwrap();
    w.fingerprint().unwrap();
    let len = w.finish();
    assert_eq!(&buf[..len], &SAMPLE_REQUEST[..]);
}

#[test]
fn writer_reproduces_rfc5769_ipv4_and_ipv6_responses() {
    let cases: [(&[u8], &str); 2] = [
        (&SAMPLE_IPV4_RESPONSE, "192.0.2.1:32853"),
        (
            &SAMPLE_IPV6_RESPONSE,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ),
    ];
    for (expected, mapped) in cases {
        let mapped: SocketAddr = mapped.parse().unwrap();
        let mut buf = [0u8; 256];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::SuccessResponse,
            Method::BINDING,
            TRANSACTION_ID,
        )
        .unwrap();
        w.padding_byte(b' ');
        w.software("test vector").unwrap();
        w.xor_mapped_address(mapped).unwrap();
        w.message_integrity(&key()).unwrap();
        w.fingerprint().unwrap();
        let len = w.finish();
        assert_eq!(&buf[..len], expected, "response mapping {mapped}");
    }
}
