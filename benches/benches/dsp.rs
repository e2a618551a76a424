//! DSP hot paths of tandem-rtp-core: in-band DTMF detection and tone generation per 20 ms frame, and the
//! RFC 4733 receiver per packet.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tandem_benches::print_allocations;
use tandem_rtp_core::tone::Cadence;
use tandem_rtp_core::{DtmfDetector, DtmfDigit, EventGenerator, EventReceiver, Tone};

#[global_allocator]
static ALLOCATOR: tandem_benches::CountingAllocator = tandem_benches::CountingAllocator;

const FRAME: usize = 160;

/// One second of `tone` as 20 ms frames.
fn frames(mut tone: Tone) -> Vec<[i16; FRAME]> {
    (0..50)
        .map(|_| {
            let mut frame = [0i16; FRAME];
            tone.fill(&mut frame);
            frame
        })
        .collect()
}

/// Deterministic white-ish noise frames.
fn noise_frames() -> Vec<[i16; FRAME]> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..50)
        .map(|_| {
            std::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 52) as i16 - 2048
            })
        })
        .collect()
}

fn bench_detector(c: &mut Criterion) {
    let mut group = c.benchmark_group("dtmf_detect/frame_160");
    let inputs = [
        ("silence", vec![[0i16; FRAME]; 50]),
        ("noise", noise_frames()),
        (
            "digit",
            frames(Tone::dual(
                DtmfDigit::Five.frequencies(),
                (-10.0, -10.0),
                Cadence::continuous(),
            )),
        ),
    ];
    for (name, input) in inputs {
        let mut detector = DtmfDetector::new();
        let mut index = 0;
        let mut step = || {
            index = (index + 1) % input.len();
            detector.handle_samples(black_box(&input[index]));
            while let Some(event) = detector.poll_event() {
                black_box(event);
            }
        };
        group.bench_function(name, |b| b.iter(&mut step));
        print_allocations(&format!("dtmf_detect {name} frame"), &mut step);
    }
    group.finish();
}

fn bench_tone(c: &mut Criterion) {
    let mut tone = Tone::dual(
        DtmfDigit::Nine.frequencies(),
        (-10.0, -10.0),
        Cadence::continuous(),
    );
    let mut frame = [0i16; FRAME];
    let mut step = || black_box(tone.fill(black_box(&mut frame)));
    c.bench_function("tone/dtmf_frame_160", |b| b.iter(&mut step));
    print_allocations("tone dtmf frame", || {
        step();
    });
}

fn bench_receiver(c: &mut Criterion) {
    let packets: Vec<_> = EventGenerator::dtmf(DtmfDigit::Three, 1600, 160, 10).collect();
    let step = || {
        let mut receiver = EventReceiver::new();
        for (seq, packet) in packets.iter().enumerate() {
            let _ = receiver.handle_packet(
                1000 + packet.timestamp_offset,
                packet.marker,
                seq as u16,
                black_box(&packet.payload),
            );
        }
        while let Some(event) = receiver.poll_event() {
            black_box(event);
        }
    };
    c.bench_function("telephone_event/receiver_digit_13_packets", |b| {
        b.iter(step)
    });
    print_allocations("telephone_event receiver digit (13 packets)", step);
}

criterion_group!(benches, bench_detector, bench_tone, bench_receiver);
criterion_main!(benches);
