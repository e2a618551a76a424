//! SRTP/SRTCP per-packet cost, Tandem next to `webrtc-srtp`, on a 172-byte RTP packet
//! (12-byte header + 160 bytes: 20 ms of G.711).
//!
//! Groups: `srtp_protect`, `srtp_unprotect`, `srtp_relay` (unprotect with key A, protect with
//! key B, as a media relay does) and `srtcp_protect`, each per profile. Allocations per packet
//! are counted with `tandem_benches::CountingAllocator` and printed after each group.
//!
//! Smoke run: `cargo bench -p tandem-benches --bench srtp -- --warm-up-time 0.5 --measurement-time 1`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use tandem_benches::{RUNS, print_allocations};
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};
use webrtc_srtp::context::Context as TheirContext;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile as TheirProfile;

#[global_allocator]
static ALLOCATOR: tandem_benches::CountingAllocator = tandem_benches::CountingAllocator;

const PAYLOAD: usize = 160;
const RTP_LEN: usize = 12 + PAYLOAD;
const SSRC: u32 = 0x0bad_cafe;
/// Packets prepared (untimed) per batch for the receive-side benches.
const BATCH: usize = 64;

fn rtp(seq: u16) -> Vec<u8> {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&SSRC.to_be_bytes());
    packet.extend((0..PAYLOAD).map(|i| i as u8));
    packet
}

/// An RTCP sender report with one report block (52 bytes), the usual periodic SRTCP packet.
fn rtcp_sender_report() -> Vec<u8> {
    let mut packet = vec![0x81, 200, 0x00, 0x0c];
    packet.extend_from_slice(&SSRC.to_be_bytes());
    packet.extend((0..44).map(|i| i as u8));
    packet
}

fn their_profile(profile: SrtpProfile) -> TheirProfile {
    match profile {
        SrtpProfile::Aes128CmHmacSha1_80 => TheirProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32 => TheirProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm => TheirProfile::AeadAes128Gcm,
        _ => TheirProfile::AeadAes256Gcm,
    }
}

/// Master key and salt; `variant` gives the relay's second leg other keys.
fn keys(profile: SrtpProfile, variant: u8) -> (Vec<u8>, Vec<u8>) {
    let key = (0..profile.master_key_len())
        .map(|i| i as u8 ^ variant)
        .collect();
    let salt = (0..profile.master_salt_len())
        .map(|i| (i as u8).wrapping_mul(3) ^ variant)
        .collect();
    (key, salt)
}

fn ours(profile: SrtpProfile, variant: u8) -> SrtpContext {
    let (key, salt) = keys(profile, variant);
    SrtpContext::new(&SrtpPolicy::new(profile), &key, &salt).unwrap()
}

/// Their context; replay protection on for receivers, to match ours.
fn theirs(profile: SrtpProfile, variant: u8, receiver: bool) -> TheirContext {
    let (key, salt) = keys(profile, variant);
    let replay = receiver.then(|| srtp_replay_protection(128));
    TheirContext::new(&key, &salt, their_profile(profile), replay, None).unwrap()
}

fn set_seq(packet: &mut [u8], seq: u16) {
    packet[2..4].copy_from_slice(&seq.to_be_bytes());
}

fn protect(c: &mut Criterion) {
    for profile in SrtpProfile::ALL {
        let name = profile.sdes_name();
        let mut group = c.benchmark_group(format!("srtp_protect/{name}"));
        group.throughput(Throughput::Bytes(RTP_LEN as u64));

        let mut tx = ours(profile, 0);
        let mut buf = rtp(0);
        buf.resize(RTP_LEN + profile.rtp_overhead(), 0);
        let mut seq = 0u16;
        let mut step = move || {
            seq = seq.wrapping_add(1);
            set_seq(&mut buf, seq);
            black_box(tx.protect_rtp(black_box(&mut buf), RTP_LEN).unwrap());
        };
        group.bench_function("tandem", |b| b.iter(&mut step));
        print_allocations(&format!("protect {name} tandem"), &mut step);

        let mut tx = theirs(profile, 0, false);
        let mut plain = rtp(0);
        let mut seq = 0u16;
        let mut step = move || {
            seq = seq.wrapping_add(1);
            set_seq(&mut plain, seq);
            black_box(tx.encrypt_rtp(black_box(&plain)).unwrap());
        };
        group.bench_function("webrtc-srtp", |b| b.iter(&mut step));
        print_allocations(&format!("protect {name} webrtc-srtp"), &mut step);
        group.finish();
    }
}

/// Times `receive` over batches of packets that `send` prepared untimed.
fn batched(
    iters: u64,
    mut send: impl FnMut(u16) -> Vec<u8>,
    mut receive: impl FnMut(&mut Vec<u8>),
    seq: &mut u16,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let count = left.min(BATCH as u64) as usize;
        let mut packets: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                *seq = seq.wrapping_add(1);
                send(*seq)
            })
            .collect();
        let start = Instant::now();
        for packet in &mut packets {
            receive(packet);
        }
        total += start.elapsed();
        left -= count as u64;
    }
    total
}

fn our_sender(profile: SrtpProfile, variant: u8) -> impl FnMut(u16) -> Vec<u8> {
    let mut tx = ours(profile, variant);
    move |seq| {
        let mut buf = rtp(seq);
        buf.resize(RTP_LEN + profile.rtp_overhead(), 0);
        let len = tx.protect_rtp(&mut buf, RTP_LEN).unwrap();
        buf.truncate(len);
        buf
    }
}

fn their_sender(profile: SrtpProfile, variant: u8) -> impl FnMut(u16) -> Vec<u8> {
    let mut tx = theirs(profile, variant, false);
    move |seq| tx.encrypt_rtp(&rtp(seq)).unwrap().to_vec()
}

/// Times `receive` as `implementation` in `group` on packets that `send` prepares untimed, then
/// prints its allocations per packet under `what`.
fn bench_receiving(
    group: &mut BenchmarkGroup<'_, WallTime>,
    implementation: &str,
    what: &str,
    mut send: impl FnMut(u16) -> Vec<u8>,
    mut receive: impl FnMut(&mut Vec<u8>),
) {
    let mut seq = 0u16;
    group.bench_function(implementation, |b| {
        b.iter_custom(|iters| batched(iters, &mut send, &mut receive, &mut seq))
    });
    let mut prepared = (0..=RUNS)
        .map(|_| {
            seq = seq.wrapping_add(1);
            send(seq)
        })
        .collect::<Vec<_>>()
        .into_iter();
    print_allocations(&format!("{what} {implementation}"), || {
        if let Some(mut packet) = prepared.next() {
            receive(&mut packet);
        }
    });
}

fn unprotect(c: &mut Criterion) {
    for profile in SrtpProfile::ALL {
        let name = profile.sdes_name();
        let mut group = c.benchmark_group(format!("srtp_unprotect/{name}"));
        group.throughput(Throughput::Bytes(RTP_LEN as u64));
        let what = format!("unprotect {name}");

        let mut rx = ours(profile, 0);
        bench_receiving(
            &mut group,
            "tandem",
            &what,
            our_sender(profile, 0),
            |packet| {
                black_box(rx.unprotect_rtp(black_box(packet)).unwrap());
            },
        );

        let mut rx = theirs(profile, 0, true);
        bench_receiving(
            &mut group,
            "webrtc-srtp",
            &what,
            their_sender(profile, 0),
            |packet| {
                black_box(rx.decrypt_rtp(black_box(packet)).unwrap());
            },
        );
        group.finish();
    }
}

fn relay(c: &mut Criterion) {
    for profile in SrtpProfile::ALL {
        let name = profile.sdes_name();
        let mut group = c.benchmark_group(format!("srtp_relay/{name}"));
        group.throughput(Throughput::Bytes(RTP_LEN as u64));
        let what = format!("relay {name}");

        let (mut leg_a, mut leg_b) = (ours(profile, 1), ours(profile, 2));
        bench_receiving(
            &mut group,
            "tandem",
            &what,
            our_sender(profile, 1),
            |packet| {
                let plain = leg_a.unprotect_rtp(packet).unwrap();
                black_box(leg_b.protect_rtp(packet, plain).unwrap());
            },
        );

        let (mut leg_a, mut leg_b) = (theirs(profile, 1, true), theirs(profile, 2, false));
        bench_receiving(
            &mut group,
            "webrtc-srtp",
            &what,
            their_sender(profile, 1),
            |packet| {
                let plain = leg_a.decrypt_rtp(packet).unwrap();
                black_box(leg_b.encrypt_rtp(&plain).unwrap());
            },
        );
        group.finish();
    }
}

fn srtcp_protect(c: &mut Criterion) {
    for profile in SrtpProfile::ALL {
        let name = profile.sdes_name();
        let mut group = c.benchmark_group(format!("srtcp_protect/{name}"));
        let report = rtcp_sender_report();
        group.throughput(Throughput::Bytes(report.len() as u64));

        let mut tx = ours(profile, 0);
        let mut buf = report.clone();
        buf.resize(report.len() + profile.rtcp_overhead(), 0);
        let len = report.len();
        let mut step = move || {
            // Encryption happens in place: restore the clear report each time.
            buf[..len].copy_from_slice(&report);
            black_box(tx.protect_rtcp(black_box(&mut buf), len).unwrap());
        };
        group.bench_function("tandem", |b| b.iter(&mut step));
        print_allocations(&format!("srtcp protect {name} tandem"), &mut step);

        let mut tx = theirs(profile, 0, false);
        let report = rtcp_sender_report();
        let mut step = move || {
            black_box(tx.encrypt_rtcp(black_box(&report)).unwrap());
        };
        group.bench_function("webrtc-srtp", |b| b.iter(&mut step));
        print_allocations(&format!("srtcp protect {name} webrtc-srtp"), &mut step);
        group.finish();
    }
}

criterion_group!(benches, protect, unprotect, relay, srtcp_protect);
criterion_main!(benches);
