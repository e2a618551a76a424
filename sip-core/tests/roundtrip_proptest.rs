//! Properties: parse → write → parse gives an equal message, and no input makes the parser or framer panic.

use bytes::Bytes;
use proptest::prelude::*;
use tandem_sip_core::{HeaderName, Limits, Message, StreamFramer, parse_message};

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS"
        ])
        .prop_map(String::from),
        "[A-Z][A-Za-z0-9.!%*_+`'~-]{0,10}",
    ]
}

fn request_uri() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "sip:bob@biloxi.example.com",
            "sips:alice@atlanta.example.com:5061;transport=tcp",
            "sip:192.0.2.4:5060;lr",
            "sip:[2001:db8::1]",
            "tel:+1-201-555-0123",
            "sip:%61lice@atlanta.example.com;maddr=239.255.255.1;ttl=15",
        ])
        .prop_map(String::from),
        (
            "[a-z0-9_.!~*'()-]{1,12}",
            "[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z]{2,5}){0,2}"
        )
            .prop_map(|(user, host)| format!("sip:{user}@{host}")),
    ]
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Via",
            "v",
            "VIA",
            "From",
            "f",
            "To",
            "t",
            "Call-ID",
            "i",
            "call-id",
            "CSeq",
            "Contact",
            "m",
            "Max-Forwards",
            "Route",
            "Record-Route",
            "Subject",
            "Allow",
            "X-Custom",
        ])
        .prop_map(String::from),
        "[A-Za-z][A-Za-z0-9!%*_+`'~.-]{0,15}",
    ]
    // Content-Length frames the body; the generator decides it separately.
    .prop_filter("not Content-Length", |n| {
        HeaderName::lookup(n.as_bytes()) != Some(HeaderName::ContentLength)
    })
}

/// A header value: printable text (with commas, quotes, angle brackets, UTF-8) and obsolete line folds.
fn header_value() -> impl Strategy<Value = String> {
    let segment = "[ -~\t]{0,30}|[a-zé€ ,;<>\"\\\\]{0,12}";
    (
        prop::collection::vec(segment, 1..4),
        prop::sample::select(vec!["\r\n ", "\r\n\t", "\r\n   "]),
    )
        .prop_map(|(segments, fold)| segments.join(fold))
}

#[derive(Debug, Clone)]
struct Generated {
    wire: Vec<u8>,
    body: Vec<u8>,
    fields: usize,
}

fn message() -> impl Strategy<Value = Generated> {
    let start_line = prop_oneof![
        (method(), request_uri()).prop_map(|(m, u)| format!("{m} {u} SIP/2.0")),
        (100u16..700, "[A-Za-z ]{0,20}").prop_map(|(c, r)| format!("SIP/2.0 {c} {r}")),
    ];
    (
        start_line,
        prop::collection::vec((header_name(), " {0,2}", header_value()), 0..16),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
        prop::sample::select(vec!["\r\n", "\n"]),
    )
        .prop_map(|(start, headers, body, with_length, eol)| {
            let mut wire = Vec::new();
            wire.extend_from_slice(start.as_bytes());
            wire.extend_from_slice(eol.as_bytes());
            for (name, space, value) in &headers {
                wire.extend_from_slice(format!("{name}{space}: {value}{eol}").as_bytes());
            }
            if with_length {
                wire.extend_from_slice(format!("Content-Length: {}{eol}", body.len()).as_bytes());
            }
            wire.extend_from_slice(eol.as_bytes());
            wire.extend_from_slice(&body);
            Generated {
                wire,
                body,
                fields: headers.len() + usize::from(with_length),
            }
        })
}

fn reparse(message: &Message) -> Message {
    parse_message(message.to_bytes()).expect("written message parses")
}

proptest! {
    #[test]
    fn parse_write_parse_yields_an_equal_message(generated in message()) {
        let parsed = parse_message(Bytes::from(generated.wire.clone()));
        let parsed = parsed.expect("generated message parses");
        prop_assert_eq!(&parsed.body()[..], &generated.body[..]);
        prop_assert_eq!(parsed.headers().len(), generated.fields);
        prop_assert_eq!(reparse(&parsed), parsed);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_message(Bytes::from(input));
    }

    #[test]
    fn mutated_messages_never_panic_and_round_trip_when_accepted(
        generated in message(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut wire = generated.wire;
        for (at, byte, op) in edits {
            let i = at.index(wire.len() + 1);
            match op {
                0 if i < wire.len() => wire[i] = byte,
                1 => wire.insert(i, byte),
                _ if i < wire.len() => { wire.remove(i); }
                _ => {}
            }
        }
        if let Ok(parsed) = parse_message(Bytes::from(wire)) {
            prop_assert_eq!(reparse(&parsed), parsed);
        }
    }

    #[test]
    fn framer_never_panics_on_arbitrary_chunks(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..128), 0..8),
    ) {
        let limits = Limits { max_message_size: 256, ..Limits::default() };
        let mut framer = StreamFramer::new(limits);
        for chunk in chunks {
            if framer.push(&chunk).is_err() {
                break;
            }
            while let Ok(Some(_)) = framer.poll() {}
            prop_assert!(framer.buffered() <= 256 + 128);
        }
    }

    #[test]
    fn framer_agrees_with_datagram_parser_on_generated_messages(
        generated in message(),
        split in any::<prop::sample::Index>(),
    ) {
        // Streams need Content-Length; add it when the generator left it out.
        let datagram = parse_message(Bytes::from(generated.wire)).expect("generated message parses");
        let mut message = datagram.clone();
        if !message.headers().contains(&HeaderName::ContentLength) {
            match &mut message {
                Message::Request(r) => { let b = r.body().clone(); r.set_body(b) }
                Message::Response(r) => { let b = r.body().clone(); r.set_body(b) }
            }
        }
        let wire = message.to_bytes();
        let (a, b) = wire.split_at(split.index(wire.len() + 1));
        let mut framer = StreamFramer::new(Limits::default());
        let mut got = Vec::new();
        for chunk in [a, b] {
            framer.push(chunk).expect("within limits");
            while let Some(frame) = framer.poll().expect("frames") {
                got.push(frame);
            }
        }
        prop_assert_eq!(got, vec![tandem_sip_core::Frame::Message(message)]);
    }
}
