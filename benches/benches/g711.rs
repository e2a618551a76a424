//! G.711 µ-law and A-law encode/decode of one 20 ms frame (160 samples at 8 kHz).
//!
//! Encoding is a table lookup: an earlier version of this bench (group `g711_encode_strategy`) measured
//! computing the segment with `leading_zeros` at about 2.5 times the cost of a 16 KiB / 4 KiB table.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tandem_benches::print_allocations;
use tandem_rtp_core::g711::{self, G711};

#[global_allocator]
static ALLOCATOR: tandem_benches::CountingAllocator = tandem_benches::CountingAllocator;

/// A speech-like frame: a 440 Hz tone with a slow envelope, covering small and large segments.
fn frame() -> [i16; g711::SAMPLES_PER_20MS] {
    let mut pcm = [0i16; g711::SAMPLES_PER_20MS];
    let len = pcm.len() as f64;
    for (i, sample) in pcm.iter_mut().enumerate() {
        let t = i as f64 / f64::from(g711::SAMPLE_RATE);
        let envelope = 0.05 + 0.9 * (std::f64::consts::PI * i as f64 / len).sin();
        *sample = (20_000.0 * envelope * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
    }
    pcm
}

fn encode_decode(c: &mut Criterion) {
    let pcm = frame();
    let mut group = c.benchmark_group("g711_20ms");
    group.throughput(Throughput::Elements(g711::SAMPLES_PER_20MS as u64));
    for law in [G711::Pcmu, G711::Pcma] {
        let name = law.encoding_name();
        let mut codes = [0u8; g711::SAMPLES_PER_20MS];
        let mut encode = || law.encode(black_box(&pcm), black_box(&mut codes));
        group.bench_function(format!("{name}_encode"), |b| b.iter(&mut encode));
        print_allocations(&format!("g711 {name} encode 20 ms"), || {
            encode();
        });
        law.encode(&pcm, &mut codes);
        let mut decoded = [0i16; g711::SAMPLES_PER_20MS];
        let mut decode = || law.decode(black_box(&codes), black_box(&mut decoded));
        group.bench_function(format!("{name}_decode"), |b| b.iter(&mut decode));
        print_allocations(&format!("g711 {name} decode 20 ms"), || {
            decode();
        });
    }
    group.finish();
}

criterion_group!(benches, encode_decode);
criterion_main!(benches);
