//! Property tests: no input makes the STUN parser or the ICE-lite agent panic, and every message the writer
//! produces parses back to the attributes that were written.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tandem_media_bridge::ice::{Credentials, IceAgent, IceConfig};
use tandem_media_bridge::stun::{
    Attribute, Class, ErrorCode, IntegrityKey, MAGIC_COOKIE, Message, MessageWriter, Method,
    TransactionId,
};

/// One attribute the writer can write, with what the parser must read back.
#[derive(Debug, Clone)]
enum Written {
    Username(String),
    Software(String),
    Priority(u32),
    UseCandidate,
    Controlling(u64),
    Controlled(u64),
    XorMapped(SocketAddr),
    Mapped(SocketAddr),
    Error(u16, String),
    Unknown(Vec<u16>),
    Raw(u16, Vec<u8>),
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::from(ip), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::from(ip), port)),
    ]
}

/// Raw attribute types the crate does not interpret (comprehension-optional unknowns and REALM-like ones).
fn raw_kind() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(0x0014u16),
        Just(0x0031),
        Just(0xC057),
        0x8030u16..0xFFFF
    ]
}

fn written() -> impl Strategy<Value = Written> {
    prop_oneof![
        "[a-zA-Z0-9+/:]{0,40}".prop_map(Written::Username),
        "\\PC{0,30}".prop_map(Written::Software),
        any::<u32>().prop_map(Written::Priority),
        Just(Written::UseCandidate),
        any::<u64>().prop_map(Written::Controlling),
        any::<u64>().prop_map(Written::Controlled),
        socket_addr().prop_map(Written::XorMapped),
        socket_addr().prop_map(Written::Mapped),
        (300u16..700, "[ -~]{0,40}").prop_map(|(c, r)| Written::Error(c, r)),
        prop::collection::vec(any::<u16>(), 0..6).prop_map(Written::Unknown),
        (raw_kind(), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(k, v)| Written::Raw(k, v)),
    ]
}

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Request),
        Just(Class::Indication),
        Just(Class::SuccessResponse),
        Just(Class::ErrorResponse),
    ]
}

fn write(w: &mut MessageWriter<'_>, attribute: &Written) {
    let result = match attribute {
        Written::Username(u) => w.username(u),
        Written::Software(s) => w.software(s),
        Written::Priority(p) => w.priority(*p),
        Written::UseCandidate => w.use_candidate(),
        Written::Controlling(t) => w.ice_controlling(*t),
        Written::Controlled(t) => w.ice_controlled(*t),
        Written::XorMapped(a) => w.xor_mapped_address(*a),
        Written::Mapped(a) => w.mapped_address(*a),
        Written::Error(code, reason) => w.error_code(ErrorCode {
            code: *code,
            reason,
        }),
        Written::Unknown(kinds) => w.unknown_attributes(kinds),
        Written::Raw(kind, value) => w.raw_attribute(*kind, value),
    };
    result.expect("generated attributes fit the buffer");
}

fn matches(read: &Attribute<'_>, written: &Written) -> bool {
    match (read, written) {
        (Attribute::Username(a), Written::Username(b)) => a == b,
        (Attribute::Software(a), Written::Software(b)) => a == b,
        (Attribute::Priority(a), Written::Priority(b)) => a == b,
        (Attribute::UseCandidate, Written::UseCandidate) => true,
        (Attribute::IceControlling(a), Written::Controlling(b)) => a == b,
        (Attribute::IceControlled(a), Written::Controlled(b)) => a == b,
        (Attribute::XorMappedAddress(a), Written::XorMapped(b)) => a == b,
        (Attribute::MappedAddress(a), Written::Mapped(b)) => a == b,
        (Attribute::ErrorCode(a), Written::Error(code, reason)) => {
            a.code == *code && a.reason == reason
        }
        (Attribute::UnknownAttributes(a), Written::Unknown(b)) => a.iter().eq(b.iter().copied()),
        (Attribute::Other { kind, value }, Written::Raw(k, v)) => kind == k && value == v,
        _ => false,
    }
}

fn lite_agent() -> IceAgent {
    let mut agent = IceAgent::with_credentials(
        Credentials::new("LiTe", "litePassword0123456789ab").unwrap(),
        IceConfig::default(),
    );
    agent.set_remote_credentials(Credentials::new("Brws", "browserPassword0123456789").unwrap());
    agent
}

/// A valid nominating check for [`lite_agent`].
fn valid_check(id: [u8; 12]) -> Vec<u8> {
    let mut buf = [0u8; 128];
    let mut w =
        MessageWriter::new(&mut buf, Class::Request, Method::BINDING, TransactionId(id)).unwrap();
    w.username("LiTe:Brws").unwrap();
    w.priority(1).unwrap();
    w.ice_controlling(7).unwrap();
    w.use_candidate().unwrap();
    w.message_integrity(&IntegrityKey::short_term("litePassword0123456789ab"))
        .unwrap();
    w.fingerprint().unwrap();
    let len = w.finish();
    buf[..len].to_vec()
}

/// Exercises every read path of a message that parsed.
fn read_everything(message: &Message<'_>) {
    let _ = message.attributes().count();
    let _ = message.username();
    let _ = message.xor_mapped_address();
    let _ = message.mapped_address();
    let _ = message.priority();
    let _ = message.use_candidate();
    let _ = message.error_code();
    let _ = message.unknown_attributes().map(|u| u.iter().count());
    let _ = message.software();
    let _ = message.verify_integrity(&IntegrityKey::short_term("pwd"));
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(message) = Message::parse(&bytes) {
            read_everything(&message);
        }
    }

    #[test]
    fn parser_never_panics_on_arbitrary_attributes_behind_a_valid_header(
        words in prop::collection::vec(any::<[u8; 4]>(), 0..48),
        message_type in 0u16..0x4000,
    ) {
        let body: Vec<u8> = words.concat();
        let mut bytes = message_type.to_be_bytes().to_vec();
        bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        bytes.extend_from_slice(&[5; 12]);
        bytes.extend_from_slice(&body);
        if let Ok(message) = Message::parse(&bytes) {
            read_everything(&message);
        }
    }

    #[test]
    fn written_messages_parse_back_equal(
        class in class(),
        method in 0u16..0x1000,
        id in any::<[u8; 12]>(),
        attributes in prop::collection::vec(written(), 0..10),
        sign in any::<bool>(),
        fingerprint in any::<bool>(),
    ) {
        let method = Method::new(method).unwrap();
        let key = IntegrityKey::short_term("aPasswordOfTwentyTwoCh");
        let mut buf = [0u8; 2048];
        let mut w = MessageWriter::new(&mut buf, class, method, TransactionId(id)).unwrap();
        for attribute in &attributes {
            write(&mut w, attribute);
        }
        if sign {
            w.message_integrity(&key).unwrap();
        }
        if fingerprint {
            w.fingerprint().unwrap();
        }
        let len = w.finish();

        let message = Message::parse(&buf[..len]).expect("written message parses");
        prop_assert_eq!(message.class(), class);
        prop_assert_eq!(message.method(), method);
        prop_assert_eq!(message.transaction_id(), TransactionId(id));
        prop_assert_eq!(message.has_fingerprint(), fingerprint);
        prop_assert_eq!(message.verify_integrity(&key).is_ok(), sign);
        let read: Vec<Attribute<'_>> = message
            .attributes()
            .filter(|a| !matches!(a, Attribute::MessageIntegrity(_) | Attribute::Fingerprint(_)))
            .collect();
        prop_assert_eq!(read.len(), attributes.len());
        for (r, w) in read.iter().zip(&attributes) {
            prop_assert!(matches(r, w), "read {:?}, wrote {:?}", r, w);
        }
    }

    #[test]
    fn agent_never_panics_on_arbitrary_datagrams(
        datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..160), 1..8),
        port in any::<u16>(),
    ) {
        let mut agent = lite_agent();
        let t0 = Instant::now();
        let source = SocketAddr::new([198, 51, 100, 1].into(), port);
        for (i, datagram) in datagrams.iter().enumerate() {
            let now = t0 + Duration::from_secs(i as u64);
            let _ = agent.handle_binding_request(now, source, datagram);
            agent.handle_timeout(now);
            while agent.poll_event().is_some() {}
        }
    }

    #[test]
    fn agent_never_selects_a_pair_from_a_corrupted_check(
        id in any::<[u8; 12]>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let mut check = valid_check(id);
        let mut flipped = std::collections::HashSet::new();
        for (index, mask) in &flips {
            // Distinct positions, so two flips never cancel out.
            let i = index.index(check.len());
            if flipped.insert(i) {
                check[i] ^= mask;
            }
        }
        let mut agent = lite_agent();
        let source: SocketAddr = "198.51.100.1:5000".parse().unwrap();
        let response = agent.handle_binding_request(Instant::now(), source, &check);
        // Any change to a signed, fingerprinted check breaks FINGERPRINT or MESSAGE-INTEGRITY, so the
        // pair is never selected.
        prop_assert_eq!(agent.selected(), None);
        if let Some(response) = response {
            let message = Message::parse(response.as_bytes()).expect("answers parse");
            prop_assert_eq!(message.class(), Class::ErrorResponse);
        }
    }
}
