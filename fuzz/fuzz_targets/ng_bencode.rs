//! NG control input: no datagram panics the bencode decoder, the request decoder or the endpoint; a value
//! that decodes re-encodes to the same bytes (the decoder is strict, so only canonical input is accepted);
//! a request that decodes produces a reply datagram with its cookie.
#![no_main]

use std::time::Instant;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tandem_media_bridge::ng::bencode::{self, Limits};
use tandem_media_bridge::ng::{Action, EndpointConfig, Frame, NgEndpoint, Reply, Request};

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);

    // The bare codec: decode, and a decoded value encodes back to exactly the input.
    if let Ok(value) = bencode::decode(&input) {
        assert_eq!(value.to_bytes(), input);
        assert_eq!(value.encoded_len(), input.len());
        let _ = value.to_string();
    }

    // The same bytes as a whole datagram through framing, decoding and the retransmission cache.
    let mut endpoint = NgEndpoint::new(EndpointConfig::default());
    let peer = "127.0.0.1:40000".parse().unwrap();
    let now = Instant::now();
    match endpoint.handle_datagram(now, peer, input.clone()) {
        Action::Execute(pending) => {
            for ignored in &pending.request.ignored {
                let _ = ignored.to_string();
            }
            let reply = endpoint.complete(pending.peer, pending.cookie.clone(), &Reply::error("x"));
            assert!(reply.starts_with(&pending.cookie));
            // A retransmission is answered with the same bytes.
            match endpoint.handle_datagram(now, peer, input.clone()) {
                Action::Reply(again) => assert_eq!(again, reply),
                other => panic!("retransmission not answered from the cache: {other:?}"),
            }
        }
        Action::Reply(reply) | Action::Reject { reply, .. } => {
            let frame = Frame::parse(&input).expect("answered datagrams have a cookie");
            assert!(reply.starts_with(&frame.cookie));
        }
        Action::Drop(_) => {}
    }

    // Request decoding on the raw bytes as a dictionary body, with tight limits.
    let tight = Limits {
        max_input: 4096,
        max_depth: 4,
        max_elements: 64,
    };
    let _ = Request::decode(&input, &tight);
});
