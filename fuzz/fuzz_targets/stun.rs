//! STUN parsing and the ICE-lite agent: no input panics; a message that parses is rewritten attribute by
//! attribute and parses back to the same attributes; the agent's answers always parse.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use tandem_media_bridge::ice::{Credentials, IceAgent, IceConfig};
use tandem_media_bridge::stun::{Attribute, IntegrityKey, Message, MessageWriter};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::parse(data) else {
        check_agent(data);
        return;
    };
    let _ = message.verify_integrity(&IntegrityKey::short_term("litePassword0123456789ab"));
    check_rewrite(&message);
    check_agent(data);
});

/// Rewrites every attribute before MESSAGE-INTEGRITY with the writer and compares the re-parse.
fn check_rewrite(message: &Message<'_>) {
    let originals: Vec<Attribute<'_>> = message
        .attributes()
        .take_while(|a| {
            !matches!(
                a,
                Attribute::MessageIntegrity(_)
                    | Attribute::MessageIntegritySha256(_)
                    | Attribute::Fingerprint(_)
            )
        })
        .collect();
    let mut buf = vec![0u8; message.as_bytes().len() + 64];
    let mut writer = MessageWriter::new(
        &mut buf,
        message.class(),
        message.method(),
        message.transaction_id(),
    )
    .expect("header fits");
    for attribute in &originals {
        let written = match *attribute {
            Attribute::MappedAddress(a) => writer.mapped_address(a),
            Attribute::XorMappedAddress(a) => writer.xor_mapped_address(a),
            Attribute::Username(u) => writer.username(u),
            Attribute::Priority(p) => writer.priority(p),
            Attribute::UseCandidate => writer.use_candidate(),
            Attribute::IceControlling(t) => writer.ice_controlling(t),
            Attribute::IceControlled(t) => writer.ice_controlled(t),
            Attribute::ErrorCode(e) => writer.error_code(e),
            Attribute::UnknownAttributes(u) => {
                writer.unknown_attributes(&u.iter().collect::<Vec<_>>())
            }
            Attribute::Software(s) => writer.software(s),
            Attribute::Other { kind, value } => writer.raw_attribute(kind, value),
            _ => continue,
        };
        written.expect("a parsed attribute can be written back");
    }
    let len = writer.finish();
    let again = Message::parse(&buf[..len]).expect("rewritten message parses");
    assert_eq!(again.class(), message.class());
    assert_eq!(again.method(), message.method());
    assert!(again.attributes().eq(originals.iter().copied()));
}

/// Feeds the datagram to an ICE-lite agent; whatever it answers must be a well-formed STUN message.
fn check_agent(data: &[u8]) {
    let Ok(local) = Credentials::new("LiTe", "litePassword0123456789ab") else {
        return;
    };
    let mut agent = IceAgent::with_credentials(local, IceConfig::default());
    let source = SocketAddr::from(([198, 51, 100, 1], 5000));
    if let Some(response) = agent.handle_binding_request(Instant::now(), source, data) {
        Message::parse(response.as_bytes()).expect("the agent's answers parse");
    }
}
