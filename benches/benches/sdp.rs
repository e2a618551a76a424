//! SDP: parsing and writing a real Chromium audio+video offer (6 KB, 2 media sections, ~190 lines), and
//! building an answer to it. Heap allocations per operation are printed after each group.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tandem_benches::print_allocations;
use tandem_rtp_core::sdp::{
    AnswerOptions, Codec, Connection, LocalMedia, Origin, SessionDescription, create_answer,
};

#[global_allocator]
static ALLOCATOR: tandem_benches::CountingAllocator = tandem_benches::CountingAllocator;

const CHROMIUM_OFFER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rtp-core/tests/data/sdp/chromium-offer-audio-video.sdp"
));
const SIP_OFFER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rtp-core/tests/data/sdp/sip-ice-lite-offer.sdp"
));

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("sdp_parse");
    for (name, text) in [("chromium_offer", CHROMIUM_OFFER), ("sip_offer", SIP_OFFER)] {
        let input = Bytes::from_static(text.as_bytes());
        group.throughput(Throughput::Bytes(input.len() as u64));
        let step = || SessionDescription::parse(black_box(&input));
        group.bench_function(name, |b| b.iter(step));
        print_allocations(&format!("sdp parse {name}"), || drop(black_box(step())));
    }
    group.finish();
}

fn write(c: &mut Criterion) {
    let sdp = SessionDescription::parse(&Bytes::from_static(CHROMIUM_OFFER.as_bytes()))
        .expect("sample parses");
    let mut group = c.benchmark_group("sdp_write");
    group.throughput(Throughput::Bytes(CHROMIUM_OFFER.len() as u64));
    let step = || black_box(&sdp).to_string();
    group.bench_function("chromium_offer", |b| b.iter(step));
    print_allocations("sdp write chromium_offer", || drop(black_box(step())));
    group.finish();
}

fn answer(c: &mut Criterion) {
    let offer = SessionDescription::parse(&Bytes::from_static(CHROMIUM_OFFER.as_bytes()))
        .expect("sample parses");
    let ip = "198.51.100.7".parse().expect("literal address");
    let options = AnswerOptions {
        origin: Origin::new(1, 1, ip),
        session_name: "-".into(),
        connection: Connection::from_ip(ip),
        media: vec![LocalMedia::audio(
            30000,
            vec![Codec::opus(), Codec::pcmu(), Codec::telephone_event()],
        )],
    };
    let step = || create_answer(black_box(&offer), &options);
    c.bench_function("sdp_answer/chromium_offer", |b| b.iter(step));
    print_allocations("sdp answer chromium_offer", || drop(black_box(step())));
}

criterion_group!(benches, parse, write, answer);
criterion_main!(benches);
