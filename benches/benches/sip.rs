//! SIP message parsing, serializing and the reads a proxy does on every message, for tandem-sip-core and the
//! Rust SIP stacks it is compared with: `rsip` 0.4 and rvoip's `rvoip-sip-core` 0.4.
//!
//! Groups, for each message in `benches/data/sip/`:
//! - `parse/<msg>`: bytes to a message value;
//! - `serialize/<msg>`: a parsed message back to a fresh wire buffer;
//! - `proxy_read/<msg>`: parse, then read the top Via's branch, the From and To tags, CSeq (number and
//!   method) and Call-ID through each library's own API, as a stateless proxy does for every message.
//!
//! Throughput is one element per iteration, so criterion reports messages per second.
//!
//! tandem-sip-core is handed a reference-counted `Bytes` (as a transport's `BytesMut::freeze` gives), so the
//! reference-count updates of its zero-copy slices are measured; the peers take `&[u8]`.
//!
//! Before the timed runs, the bench checks that every library reads the same field values from every message,
//! and prints a table of heap allocations per message (parse and proxy_read) from a counting global allocator.

use std::fmt;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};

/// The bench messages: name and wire bytes (CRLF line endings).
const MESSAGES: [(&str, &[u8]); 4] = [
    ("invite", include_bytes!("../data/sip/invite.sip")),
    ("register", include_bytes!("../data/sip/register.sip")),
    ("ok", include_bytes!("../data/sip/ok.sip")),
    ("trying", include_bytes!("../data/sip/trying.sip")),
];

#[global_allocator]
static GLOBAL: tandem_benches::CountingAllocator = tandem_benches::CountingAllocator;

/// The header fields a proxy reads on every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Branch,
    FromTag,
    ToTag,
    CallId,
}

/// Receives the values a `proxy_read` function reads, so the same reading code serves the timed runs (which only
/// `black_box` them) and the cross-library check (which keeps them).
trait FieldSink {
    fn text(&mut self, field: Field, value: &[u8]);
    fn cseq(&mut self, seq: u32, method: &dyn fmt::Display);
}

/// Discards the values through `black_box`, so the reads cannot be optimised away.
struct Discard;

impl FieldSink for Discard {
    fn text(&mut self, field: Field, value: &[u8]) {
        black_box((field, value));
    }

    fn cseq(&mut self, seq: u32, method: &dyn fmt::Display) {
        black_box((seq, method));
    }
}

/// Keeps the values, to check that all libraries read the same ones.
#[derive(Debug, Default, PartialEq, Eq)]
struct Collected {
    texts: Vec<(Field, String)>,
    cseq: Option<(u32, String)>,
}

impl FieldSink for Collected {
    fn text(&mut self, field: Field, value: &[u8]) {
        self.texts
            .push((field, String::from_utf8_lossy(value).into_owned()));
    }

    fn cseq(&mut self, seq: u32, method: &dyn fmt::Display) {
        self.cseq = Some((seq, method.to_string()));
    }
}

/// tandem-sip-core: parse, serialize, proxy reads.
mod tandem {
    use super::{Field, FieldSink};
    use bytes::Bytes;
    use tandem_sip_core::{Message, parse_message};

    pub(crate) fn parse(wire: Bytes) -> Message {
        parse_message(wire).expect("bench message parses")
    }

    pub(crate) fn serialize(message: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        message.write_to(&mut out);
        out
    }

    pub(crate) fn proxy_read(wire: Bytes, sink: &mut impl FieldSink) -> Option<()> {
        let message = parse_message(wire).ok()?;
        let headers = message.headers();
        let via = headers.via()?.ok()?;
        sink.text(Field::Branch, via.branch()?);
        let from = headers.from()?.ok()?;
        sink.text(Field::FromTag, from.tag()?);
        let to = headers.to()?.ok()?;
        if let Some(tag) = to.tag() {
            sink.text(Field::ToTag, tag);
        }
        let cseq = headers.cseq()?.ok()?;
        sink.cseq(cseq.seq, &cseq.method.as_str());
        let call_id = headers.call_id()?.ok()?;
        sink.text(Field::CallId, call_id.as_bytes());
        Some(())
    }
}

/// rsip 0.4: headers are kept as strings and parsed into typed values on request (`typed()`).
mod rsip_peer {
    use super::{Field, FieldSink};
    use rsip::SipMessage;
    use rsip::prelude::{HeadersExt, ToTypedHeader, UntypedHeader};

    pub(crate) fn parse(wire: &[u8]) -> SipMessage {
        SipMessage::try_from(wire).expect("bench message parses with rsip")
    }

    pub(crate) fn serialize(message: &SipMessage) -> String {
        message.to_string()
    }

    pub(crate) fn proxy_read(wire: &[u8], sink: &mut impl FieldSink) -> Option<()> {
        let message = SipMessage::try_from(wire).ok()?;
        let via = message.via_header().ok()?.typed().ok()?;
        sink.text(Field::Branch, via.branch()?.value().as_bytes());
        let from = message.from_header().ok()?.typed().ok()?;
        sink.text(Field::FromTag, from.tag()?.value().as_bytes());
        let to = message.to_header().ok()?.typed().ok()?;
        if let Some(tag) = to.tag() {
            sink.text(Field::ToTag, tag.value().as_bytes());
        }
        let cseq = message.cseq_header().ok()?.typed().ok()?;
        sink.cseq(cseq.seq, &cseq.method);
        let call_id = message.call_id_header().ok()?;
        sink.text(Field::CallId, call_id.value().as_bytes());
        Some(())
    }
}

/// rvoip-sip-core 0.4: every header is parsed into a typed value while parsing the message.
mod rvoip_peer {
    use super::{Field, FieldSink};
    use rvoip_sip_core::{HeaderName, Message, TypedHeader, parse_message};

    pub(crate) fn parse(wire: &[u8]) -> Message {
        parse_message(wire).expect("bench message parses with rvoip-sip-core")
    }

    pub(crate) fn serialize(message: &Message) -> Vec<u8> {
        message.to_bytes()
    }

    pub(crate) fn proxy_read(wire: &[u8], sink: &mut impl FieldSink) -> Option<()> {
        let message = parse_message(wire).ok()?;
        let Some(TypedHeader::Via(via)) = message.header(&HeaderName::Via) else {
            return None;
        };
        sink.text(Field::Branch, via.headers().first()?.branch()?.as_bytes());
        sink.text(Field::FromTag, message.from()?.tag()?.as_bytes());
        if let Some(tag) = message.to()?.tag() {
            sink.text(Field::ToTag, tag.as_bytes());
        }
        let Some(TypedHeader::CSeq(cseq)) = message.header(&HeaderName::CSeq) else {
            return None;
        };
        sink.cseq(cseq.sequence(), cseq.method());
        sink.text(Field::CallId, message.call_id()?.as_str().as_bytes());
        Some(())
    }
}

/// A reference-counted buffer holding `wire`, as a transport hands it over.
fn shared(wire: &[u8]) -> Bytes {
    BytesMut::from(wire).freeze()
}

/// Panics unless every library parses every message and reads the same proxy fields from it.
fn check_libraries_agree() {
    for (name, wire) in MESSAGES {
        let mut ours = Collected::default();
        tandem::proxy_read(shared(wire), &mut ours)
            .unwrap_or_else(|| panic!("{name}: tandem proxy_read failed"));
        let mut theirs = Collected::default();
        rsip_peer::proxy_read(wire, &mut theirs)
            .unwrap_or_else(|| panic!("{name}: rsip proxy_read failed"));
        assert_eq!(
            ours, theirs,
            "{name}: tandem and rsip read different fields"
        );
        let mut theirs = Collected::default();
        rvoip_peer::proxy_read(wire, &mut theirs)
            .unwrap_or_else(|| panic!("{name}: rvoip proxy_read failed"));
        assert_eq!(
            ours, theirs,
            "{name}: tandem and rvoip read different fields"
        );
        let again = tandem::parse(Bytes::from(tandem::serialize(&tandem::parse(shared(wire)))));
        assert_eq!(
            again,
            tandem::parse(shared(wire)),
            "{name}: tandem round trip"
        );
    }
}

/// Print heap allocations per message for parse and proxy_read, for each library.
fn print_allocation_table() {
    const RUNS: usize = 200;
    eprintln!("\nheap allocations per message (counting global allocator, {RUNS} runs each)");
    eprintln!(
        "{:<10} {:>12} {:>12} {:>12} {:>14} {:>14} {:>14}",
        "message",
        "parse:tandem",
        "parse:rsip",
        "parse:rvoip",
        "proxy:tandem",
        "proxy:rsip",
        "proxy:rvoip"
    );
    for (name, wire) in MESSAGES {
        let buf = shared(wire);
        let counts = [
            tandem_benches::allocations_per_call(RUNS, || {
                drop(black_box(tandem::parse(buf.clone())))
            }),
            tandem_benches::allocations_per_call(RUNS, || drop(black_box(rsip_peer::parse(wire)))),
            tandem_benches::allocations_per_call(RUNS, || drop(black_box(rvoip_peer::parse(wire)))),
            tandem_benches::allocations_per_call(RUNS, || {
                black_box(tandem::proxy_read(buf.clone(), &mut Discard));
            }),
            tandem_benches::allocations_per_call(RUNS, || {
                black_box(rsip_peer::proxy_read(wire, &mut Discard));
            }),
            tandem_benches::allocations_per_call(RUNS, || {
                black_box(rvoip_peer::proxy_read(wire, &mut Discard));
            }),
        ];
        eprintln!(
            "{:<10} {:>12.1} {:>12.1} {:>12.1} {:>14.1} {:>14.1} {:>14.1}",
            name, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]
        );
    }
    eprintln!();
}

fn parse(c: &mut Criterion) {
    for (name, wire) in MESSAGES {
        let buf = shared(wire);
        let mut group = c.benchmark_group(format!("parse/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("tandem", |b| {
            b.iter(|| tandem::parse(black_box(&buf).clone()))
        });
        group.bench_function("rsip", |b| b.iter(|| rsip_peer::parse(black_box(wire))));
        group.bench_function("rvoip", |b| b.iter(|| rvoip_peer::parse(black_box(wire))));
        group.finish();
    }
}

fn serialize(c: &mut Criterion) {
    for (name, wire) in MESSAGES {
        let ours = tandem::parse(shared(wire));
        let rsip_message = rsip_peer::parse(wire);
        let rvoip_message = rvoip_peer::parse(wire);
        let mut group = c.benchmark_group(format!("serialize/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("tandem", |b| b.iter(|| tandem::serialize(black_box(&ours))));
        group.bench_function("rsip", |b| {
            b.iter(|| rsip_peer::serialize(black_box(&rsip_message)))
        });
        group.bench_function("rvoip", |b| {
            b.iter(|| rvoip_peer::serialize(black_box(&rvoip_message)))
        });
        group.finish();
    }
}

fn proxy_read(c: &mut Criterion) {
    for (name, wire) in MESSAGES {
        let buf = shared(wire);
        let mut group = c.benchmark_group(format!("proxy_read/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("tandem", |b| {
            b.iter(|| tandem::proxy_read(black_box(&buf).clone(), &mut Discard))
        });
        group.bench_function("rsip", |b| {
            b.iter(|| rsip_peer::proxy_read(black_box(wire), &mut Discard))
        });
        group.bench_function("rvoip", |b| {
            b.iter(|| rvoip_peer::proxy_read(black_box(wire), &mut Discard))
        });
        group.finish();
    }
}

// `criterion_main!` written out, to check the libraries and print the allocation table before the timed runs.
fn main() {
    check_libraries_agree();
    print_allocation_table();
    let mut criterion = Criterion::default().configure_from_args();
    parse(&mut criterion);
    serialize(&mut criterion);
    proxy_read(&mut criterion);
    criterion.final_summary();
}
