//! Steering received messages to one of several independent consumers ("shards") so that every message of
//! a call reaches the same one.
//!
//! A stateful SIP element can run several loops, each with its own transaction layer and dialog state, as
//! long as every message a transaction or dialog needs lands on the loop that holds it. All those messages
//! share the Call-ID: the request and its retransmissions, the responses to it, its CANCEL and the ACK, and
//! every in-dialog request (RFC 3261 §8.1.1.4, §9.1, §12). So the shard of a message is a hash of its
//! Call-ID; a message without one (only malformed ones) goes by its source address.
//!
//! The hash is FNV-1a, fixed and unseeded, so that a sender can choose a Call-ID that steers the answers to
//! its own request back to itself ([`call_id_for_shard`]). A peer that chooses its Call-IDs can load one
//! shard more than the others; it cannot make a message reach a shard that does not hold its state.

use crate::header::HeaderName;
use crate::message::{Headers, Message};
use std::net::{IpAddr, SocketAddr};

/// The shard, out of `shards`, of a message with Call-ID `call_id` (leading and trailing whitespace is
/// ignored). Always 0 when `shards` is 0 or 1.
pub fn shard_for_call_id(call_id: &[u8], shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    shard_of_key(call_id.trim_ascii(), shards)
}

/// The shard, out of `shards`, of a message without a Call-ID that came from `source`.
pub fn shard_for_source(source: SocketAddr, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    let mut key = [0u8; 18];
    let ip: [u8; 16] = match source.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    key[..16].copy_from_slice(&ip);
    key[16..].copy_from_slice(&source.port().to_be_bytes());
    shard_of_key(&key, shards)
}

/// The shard, out of `shards`, of `message` received from `source`: by its Call-ID, else by `source`.
pub fn shard_for_message(message: &Message, source: SocketAddr, shards: usize) -> usize {
    shard_for_headers(message.headers(), source, shards)
}

/// The shard, out of `shards`, of a message with header fields `headers` (a malformed request's, say)
/// received from `source`: by its Call-ID, else by `source`.
pub fn shard_for_headers(headers: &Headers, source: SocketAddr, shards: usize) -> usize {
    match headers.get(&HeaderName::CallId) {
        Some(field) => shard_for_call_id(field.value(), shards),
        None => shard_for_source(source, shards),
    }
}

/// A Call-ID made by `generate` (called again until it fits) that steers to `shard` out of `shards`. With
/// a random `generate` this takes `shards` calls on average. `None` if `shard >= shards` or 1,000 tries did
/// not find one (a `generate` that does not vary).
pub fn call_id_for_shard(
    shard: usize,
    shards: usize,
    mut generate: impl FnMut() -> String,
) -> Option<String> {
    if shard >= shards.max(1) {
        return None;
    }
    (0..1000)
        .map(|_| generate())
        .find(|id| shard_for_call_id(id.as_bytes(), shards) == shard)
}

/// The shard, out of `shards` (at least 2), of `key`.
fn shard_of_key(key: &[u8], shards: usize) -> usize {
    let hash = fnv1a(key);
    // Fold the high bits in: FNV-1a's low bits alone spread short keys less evenly.
    let folded = hash ^ (hash >> 32);
    (folded % shards as u64) as usize
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_message;
    use bytes::Bytes;

    #[test]
    fn one_call_id_always_lands_on_one_shard() {
        for shards in 1..8 {
            for n in 0..200 {
                let id = format!("{n:x}-call@198.51.100.7");
                let shard = shard_for_call_id(id.as_bytes(), shards);
                assert!(shard < shards.max(1));
                assert_eq!(shard, shard_for_call_id(id.as_bytes(), shards));
                // Whitespace around the value (as on the wire) does not move it.
                assert_eq!(
                    shard,
                    shard_for_call_id(format!(" {id} ").as_bytes(), shards)
                );
            }
        }
        assert_eq!(shard_for_call_id(b"anything", 0), 0);
        assert_eq!(shard_for_call_id(b"anything", 1), 0);
    }

    #[test]
    fn call_ids_spread_roughly_evenly() {
        // SIPp's Call-IDs: a counter, the generator's pid and its address.
        for shards in [2usize, 3, 4] {
            let mut counts = vec![0usize; shards];
            let total = 20_000;
            for n in 0..total {
                let id = format!("{n}-4321@127.0.0.1");
                counts[shard_for_call_id(id.as_bytes(), shards)] += 1;
            }
            let fair = total / shards;
            for &count in &counts {
                // Within 10 % of an even share.
                assert!(
                    count.abs_diff(fair) < fair / 10,
                    "{shards} shards: {counts:?}"
                );
            }
        }
    }

    #[test]
    fn a_message_goes_by_its_call_id_whatever_its_kind() {
        let request = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\ni: abc@192.0.2.1\r\n\
            CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let response = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\nCall-ID:   abc@192.0.2.1\r\n\
            CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let request = parse_message(Bytes::from_static(request.as_bytes())).unwrap();
        let response = parse_message(Bytes::from_static(response.as_bytes())).unwrap();
        let a: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let b: SocketAddr = "192.0.2.99:5080".parse().unwrap();
        for shards in 2..6 {
            let expected = shard_for_call_id(b"abc@192.0.2.1", shards);
            assert_eq!(shard_for_message(&request, a, shards), expected);
            assert_eq!(shard_for_message(&response, b, shards), expected);
        }
    }

    #[test]
    fn sources_spread_and_stay_put() {
        let mut counts = [0usize; 2];
        for port in 0..2000u16 {
            let source = SocketAddr::from(([10, 0, (port >> 8) as u8, port as u8], 5060));
            let shard = shard_for_source(source, 2);
            assert_eq!(shard, shard_for_source(source, 2));
            counts[shard] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn a_call_id_can_be_chosen_for_a_shard() {
        let mut n = 0u32;
        for shard in 0..4 {
            let id = call_id_for_shard(shard, 4, || {
                n += 1;
                format!("probe-{n}")
            })
            .unwrap();
            assert_eq!(shard_for_call_id(id.as_bytes(), 4), shard);
        }
        assert_eq!(call_id_for_shard(4, 4, || "x".into()), None);
        assert_eq!(call_id_for_shard(0, 1, || "x".into()).as_deref(), Some("x"));
        // A generator that never varies cannot reach the other shard.
        let stuck = if shard_for_call_id(b"x", 2) == 0 {
            1
        } else {
            0
        };
        assert_eq!(call_id_for_shard(stuck, 2, || "x".into()), None);
    }
}
