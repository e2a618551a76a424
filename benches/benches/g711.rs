//! G.711 µ-law and A-law encode/decode of one 20 ms frame (160 samples at 8 kHz).
//!
//! The `g711_encode_strategy` group keeps the evidence for how `tandem_rtp_core::g711` encodes: the
//! computed encoder against a lookup table indexed by the bits each law keeps (16 KiB for µ-law, 4 KiB for
//! A-law), built here from the same functions.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tandem_rtp_core::g711::{self, G711};

/// A speech-like frame: a 440 Hz tone with a slow envelope, covering small and large segments.
fn frame() -> [i16; g711::SAMPLES_PER_20MS] {
    let mut pcm = [0i16; g711::SAMPLES_PER_20MS];
    let len = pcm.len() as f64;
    for (i, sample) in pcm.iter_mut().enumerate() {
        let t = i as f64 / f64::from(g711::CLOCK_RATE);
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
        group.bench_function(format!("{name}_encode"), |b| {
            b.iter(|| law.encode(black_box(&pcm), black_box(&mut codes)))
        });
        law.encode(&pcm, &mut codes);
        let mut decoded = [0i16; g711::SAMPLES_PER_20MS];
        group.bench_function(format!("{name}_decode"), |b| {
            b.iter(|| law.decode(black_box(&codes), black_box(&mut decoded)))
        });
    }
    group.finish();
}

/// µ-law depends only on `sample >> 2` and A-law only on `sample >> 4`, so these tables are exhaustive.
fn encode_tables() -> (Vec<u8>, Vec<u8>) {
    let ulaw = (0..1 << 14)
        .map(|i: i32| g711::ulaw_encode(((i << 18) >> 16) as i16))
        .collect();
    let alaw = (0..1 << 12)
        .map(|i: i32| g711::alaw_encode(((i << 20) >> 16) as i16))
        .collect();
    (ulaw, alaw)
}

fn encode_strategy(c: &mut Criterion) {
    let pcm = frame();
    let (ulaw_table, alaw_table) = encode_tables();
    for &sample in &pcm {
        assert_eq!(
            ulaw_table[(sample as u16 >> 2) as usize],
            g711::ulaw_encode(sample)
        );
        assert_eq!(
            alaw_table[(sample as u16 >> 4) as usize],
            g711::alaw_encode(sample)
        );
    }
    let mut codes = [0u8; g711::SAMPLES_PER_20MS];
    let mut group = c.benchmark_group("g711_encode_strategy");
    group.throughput(Throughput::Elements(g711::SAMPLES_PER_20MS as u64));
    group.bench_function("PCMU_computed", |b| {
        b.iter(|| g711::ulaw_encode_slice(black_box(&pcm), black_box(&mut codes)))
    });
    group.bench_function("PCMU_table_16KiB", |b| {
        b.iter(|| {
            for (code, &sample) in codes.iter_mut().zip(black_box(&pcm)) {
                *code = ulaw_table[(sample as u16 >> 2) as usize];
            }
        })
    });
    group.bench_function("PCMA_computed", |b| {
        b.iter(|| g711::alaw_encode_slice(black_box(&pcm), black_box(&mut codes)))
    });
    group.bench_function("PCMA_table_4KiB", |b| {
        b.iter(|| {
            for (code, &sample) in codes.iter_mut().zip(black_box(&pcm)) {
                *code = alaw_table[(sample as u16 >> 4) as usize];
            }
        })
    });
    group.finish();
}

criterion_group!(benches, encode_decode, encode_strategy);
criterion_main!(benches);
