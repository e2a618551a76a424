//! The parser allocates per message, never per header field: one `Vec` for the header list (plus what the
//! Request-URI needs), however many fields the message has.

use bytes::Bytes;
use tandem_sip_core::{Limits, StreamFramer, parse_message};
use tandem_test_alloc::{CountingAllocator, allocations_during, counts_allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn message(extra_headers: usize) -> Vec<u8> {
    let mut text = String::from(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n",
    );
    for i in 0..extra_headers {
        text.push_str(&format!("X-Extra-{i}: value {i},\r\n folded\r\n"));
    }
    text.push_str("Content-Length: 4\r\n\r\nv=0\n");
    text.into_bytes()
}

#[test]
fn parsing_allocates_the_same_for_few_and_many_header_fields() {
    assert!(counts_allocations());
    let small = message(0);
    let large = message(60);
    let parse = |wire: &Vec<u8>| {
        let wire = wire.clone();
        allocations_during(move || {
            // Counts turning the Vec into shared storage too, as a transport's receive path would.
            let parsed = parse_message(Bytes::from(wire));
            assert!(parsed.is_ok());
            drop(parsed);
        })
    };
    // Warm up anything lazily initialised, then compare.
    parse(&small);
    let few = parse(&small);
    let many = parse(&large);
    assert_eq!(few, many);
    // The header list and the promotion of the buffer to shared storage; the URI may add its own.
    assert!(few <= 4, "{few} allocations");

    let framed = allocations_during(|| {
        let mut framer = StreamFramer::new(Limits::default());
        framer.push(&large).unwrap();
        assert!(matches!(framer.poll(), Ok(Some(_))));
    });
    assert!(
        framed <= many + 3,
        "{framed} allocations framing vs {many} parsing"
    );
}
