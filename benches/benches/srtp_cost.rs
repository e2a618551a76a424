//! Per-packet cost of Tandem's SRTP, for A/B decisions on a loaded machine (not a criterion bench).
//!
//! Wall-clock criterion runs swing with the load of a shared machine. This file gives two steadier
//! measures of one operation on a 172-byte RTP packet:
//!
//! - the minimum over many short batches of the time per packet (`srtp_cost_min_time`): a batch
//!   that ran undisturbed gives the uncontended cost, and interleaving Tandem's and
//!   `webrtc-srtp`'s batches gives their ratio under the same conditions;
//! - a fixed number of packets to run under `valgrind --tool=callgrind` (`srtp_cost_run`): run it with
//!   `N` and `2N` packets and divide the difference of the instruction counts by `N`. Valgrind
//!   hides SHA-NI (and VAES), so instruction counts do not describe the SHA-1 of the real CPU.
//!
//! ```text
//! cargo bench -p tandem-benches --bench srtp_cost --no-run
//! SRTP_OP=protect SRTP_PROFILE=AEAD_AES_128_GCM <binary> --exact srtp_cost_min_time --nocapture
//! SRTP_PACKETS=20000 valgrind --tool=callgrind <binary> --exact srtp_cost_run
//! ```
//! `SRTP_OP` is `protect`, `unprotect`, `relay` or `rtcp_protect` (default: all); `SRTP_PROFILE` an SDES
//! name (default: all).

use std::hint::black_box;
use std::time::Instant;

use tandem_rtp_core::srtp::provider::default_provider;
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};
use webrtc_srtp::context::Context as TheirContext;
use webrtc_srtp::protection_profile::ProtectionProfile as TheirProfile;

const PAYLOAD: usize = 160;
const RTP_LEN: usize = 12 + PAYLOAD;
const SSRC: u32 = 0x0bad_cafe;
const OPS: [&str; 7] = [
    "protect",
    "unprotect",
    "relay",
    "rtcp_protect",
    "hmac_sha1",
    "aes_cm",
    "aes_cm_and_hmac",
];

fn rtp(seq: u16) -> Vec<u8> {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&SSRC.to_be_bytes());
    packet.extend((0..PAYLOAD).map(|i| i as u8));
    packet
}

fn rtcp() -> Vec<u8> {
    let mut packet = vec![0x81, 200, 0x00, 0x0c];
    packet.extend_from_slice(&SSRC.to_be_bytes());
    packet.extend((0..44).map(|i| i as u8));
    packet
}

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

fn theirs(profile: SrtpProfile, variant: u8) -> TheirContext {
    let (key, salt) = keys(profile, variant);
    let profile = match profile {
        SrtpProfile::Aes128CmHmacSha1_80 => TheirProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32 => TheirProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm => TheirProfile::AeadAes128Gcm,
        _ => TheirProfile::AeadAes256Gcm,
    };
    TheirContext::new(&key, &salt, profile, None, None).unwrap()
}

/// A closure doing one `op` per call on `profile` with Tandem (`tandem`) or `webrtc-srtp`.
/// `webrtc-srtp` runs without replay protection (Tandem always checks its window), which favours
/// it slightly.
fn operation(profile: SrtpProfile, op: &str, tandem: bool) -> Box<dyn FnMut()> {
    let overhead = profile.rtp_overhead();
    match (op, tandem) {
        ("protect", true) => {
            let mut tx = ours(profile, 0);
            let mut buf = rtp(0);
            buf.resize(RTP_LEN + overhead, 0);
            let mut seq = 0u16;
            Box::new(move || {
                seq = seq.wrapping_add(1);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                black_box(tx.protect_rtp(black_box(&mut buf), RTP_LEN).unwrap());
            })
        }
        ("protect", false) => {
            let mut tx = theirs(profile, 0);
            let mut plain = rtp(0);
            let mut seq = 0u16;
            Box::new(move || {
                seq = seq.wrapping_add(1);
                plain[2..4].copy_from_slice(&seq.to_be_bytes());
                black_box(tx.encrypt_rtp(black_box(&plain)).unwrap());
            })
        }
        // Receive side: the sender protects the next 256 packets inside one call in 256; the
        // batches containing that call are slower and the minimum skips them.
        ("unprotect", true) | ("relay", true) => {
            let relay = op == "relay";
            let mut tx = ours(profile, 1);
            let mut rx = ours(profile, 1);
            let mut out = ours(profile, 2);
            let mut packets: Vec<Vec<u8>> = Vec::new();
            let mut seq = 0u16;
            let mut next = 0usize;
            Box::new(move || {
                if next == packets.len() {
                    packets.clear();
                    for _ in 0..256 {
                        seq = seq.wrapping_add(1);
                        let mut buf = rtp(seq);
                        buf.resize(RTP_LEN + overhead, 0);
                        let len = tx.protect_rtp(&mut buf, RTP_LEN).unwrap();
                        buf.truncate(len);
                        packets.push(buf);
                    }
                    next = 0;
                }
                let packet = &mut packets[next];
                next += 1;
                let plain = rx.unprotect_rtp(black_box(packet)).unwrap();
                if relay {
                    black_box(out.protect_rtp(packet, plain).unwrap());
                }
            })
        }
        ("unprotect", false) | ("relay", false) => {
            let relay = op == "relay";
            let mut tx = theirs(profile, 1);
            let mut rx = theirs(profile, 1);
            let mut out = theirs(profile, 2);
            let mut packets: Vec<Vec<u8>> = Vec::new();
            let mut seq = 0u16;
            let mut next = 0usize;
            Box::new(move || {
                if next == packets.len() {
                    packets.clear();
                    for _ in 0..256 {
                        seq = seq.wrapping_add(1);
                        packets.push(tx.encrypt_rtp(&rtp(seq)).unwrap().to_vec());
                    }
                    next = 0;
                }
                let packet = &packets[next];
                next += 1;
                let plain = rx.decrypt_rtp(black_box(packet)).unwrap();
                if relay {
                    black_box(out.encrypt_rtp(&plain).unwrap());
                }
            })
        }
        ("rtcp_protect", true) => {
            let mut tx = ours(profile, 0);
            let report = rtcp();
            let mut buf = report.clone();
            buf.resize(report.len() + profile.rtcp_overhead(), 0);
            Box::new(move || {
                buf[..report.len()].copy_from_slice(&report);
                black_box(tx.protect_rtcp(black_box(&mut buf), report.len()).unwrap());
            })
        }
        ("rtcp_protect", false) => {
            let mut tx = theirs(profile, 0);
            let report = rtcp();
            Box::new(move || {
                black_box(tx.encrypt_rtcp(black_box(&report)).unwrap());
            })
        }
        // The two primitives of the AES-CM profiles alone, over a packet (plus ROC) and a
        // payload; there is no `webrtc-srtp` counterpart, so that side does nothing.
        ("hmac_sha1", true) => {
            let mac = default_provider().hmac_sha1(&[7; 20]).unwrap();
            let packet = rtp(1);
            Box::new(move || {
                black_box(mac.sign(black_box(&packet), &[0, 0, 0, 1]));
            })
        }
        ("aes_cm", true) => {
            let cipher = default_provider().aes_cm(&[7; 16]).unwrap();
            let mut payload = vec![0u8; PAYLOAD];
            Box::new(move || {
                cipher.apply_keystream(&[9; 16], black_box(&mut payload));
            })
        }
        // Both primitives back to back on independent data: whether the CPU overlaps them (on
        // CPUs where AES and SHA-1 share an execution unit, the sum of the two).
        ("aes_cm_and_hmac", true) => {
            let mac = default_provider().hmac_sha1(&[7; 20]).unwrap();
            let cipher = default_provider().aes_cm(&[7; 16]).unwrap();
            let mut payload = vec![0u8; PAYLOAD];
            let packet = rtp(1);
            Box::new(move || {
                cipher.apply_keystream(&[9; 16], black_box(&mut payload));
                black_box(mac.sign(black_box(&packet), &[0, 0, 0, 1]));
            })
        }
        ("hmac_sha1" | "aes_cm" | "aes_cm_and_hmac", false) => Box::new(|| {}),
        _ => panic!("unknown SRTP_OP {op}"),
    }
}

fn selected() -> Vec<(SrtpProfile, &'static str)> {
    let op = std::env::var("SRTP_OP").ok();
    let profile = std::env::var("SRTP_PROFILE").ok();
    SrtpProfile::ALL
        .into_iter()
        .filter(|p| profile.as_deref().is_none_or(|name| p.sdes_name() == name))
        .flat_map(|p| OPS.into_iter().map(move |o| (p, o)))
        .filter(|(_, o)| op.as_deref().is_none_or(|name| *o == name))
        .collect()
}

/// Minimum time per packet over batches of 32 packets, Tandem and webrtc-srtp interleaved.
#[test]
fn srtp_cost_min_time() {
    const PER_BATCH: u32 = 32;
    let batches: u32 = std::env::var("SRTP_BATCHES")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(20_000);
    println!(
        "{:<28} {:>13} {:>10} {:>10} {:>6}",
        "profile", "op", "tandem", "webrtc", "ratio"
    );
    for (profile, op) in selected() {
        let mut sides = [operation(profile, op, true), operation(profile, op, false)];
        let mut best = [f64::MAX; 2];
        for _ in 0..batches {
            for (side, best) in sides.iter_mut().zip(best.iter_mut()) {
                let start = Instant::now();
                for _ in 0..PER_BATCH {
                    side();
                }
                let per_packet = start.elapsed().as_nanos() as f64 / f64::from(PER_BATCH);
                *best = best.min(per_packet);
            }
        }
        // For unprotect, the refill (untimed in criterion) lands in one batch in eight, which
        // the minimum skips.
        println!(
            "{:<28} {:>13} {:>8.1}ns {:>8.1}ns {:>5.2}x",
            profile.sdes_name(),
            op,
            best[0],
            best[1],
            best[1] / best[0]
        );
    }
}

/// `SRTP_PACKETS` Tandem operations, for instruction counting under valgrind.
#[test]
fn srtp_cost_run() {
    let packets: u32 = std::env::var("SRTP_PACKETS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(1000);
    for (profile, op) in selected() {
        let mut side = operation(profile, op, true);
        for _ in 0..packets {
            side();
        }
    }
}
