//! G.711 against the ITU-T G.191 reference: every code and every 16-bit input of both laws, with the data
//! that `tools/gen_g711_reference.py` generated (and checked against Python's `audioop`).

use proptest::prelude::*;
use tandem_rtp_core::g711::{self, G711};

static ULAW_DECODE: &[u8; 512] = include_bytes!("data/g711/ulaw_decode.bin");
static ALAW_DECODE: &[u8; 512] = include_bytes!("data/g711/alaw_decode.bin");
static ULAW_ENCODE: &[u8; 65536] = include_bytes!("data/g711/ulaw_encode.bin");
static ALAW_ENCODE: &[u8; 65536] = include_bytes!("data/g711/alaw_encode.bin");

fn reference_value(table: &[u8; 512], code: u8) -> i16 {
    let at = usize::from(code) * 2;
    i16::from_le_bytes([table[at], table[at + 1]])
}

/// Every i16, in the order the reference files store them (byte i is the code for i - 32768).
fn every_sample() -> impl Iterator<Item = (usize, i16)> {
    (i16::MIN..=i16::MAX).enumerate()
}

#[test]
fn ulaw_decode_matches_g191_for_every_code() {
    for code in 0..=255u8 {
        assert_eq!(
            g711::ulaw_decode(code),
            reference_value(ULAW_DECODE, code),
            "code {code:#04x}"
        );
    }
}

#[test]
fn alaw_decode_matches_g191_for_every_code() {
    for code in 0..=255u8 {
        assert_eq!(
            g711::alaw_decode(code),
            reference_value(ALAW_DECODE, code),
            "code {code:#04x}"
        );
    }
}

#[test]
fn ulaw_encode_matches_g191_for_every_sample() {
    for (index, sample) in every_sample() {
        assert_eq!(
            g711::ulaw_encode(sample),
            ULAW_ENCODE[index],
            "sample {sample}"
        );
    }
}

#[test]
fn alaw_encode_matches_g191_for_every_sample() {
    for (index, sample) in every_sample() {
        assert_eq!(
            g711::alaw_encode(sample),
            ALAW_ENCODE[index],
            "sample {sample}"
        );
    }
}

#[test]
fn frame_encoding_matches_per_sample_reference() {
    // A 20 ms frame sweeping the whole range, through the slice API of both laws.
    let pcm: Vec<i16> = (0..g711::SAMPLES_PER_20MS)
        .map(|i| (i as i32 * 409 - 32768) as i16)
        .collect();
    for (law, reference) in [(G711::Pcmu, ULAW_ENCODE), (G711::Pcma, ALAW_ENCODE)] {
        let mut codes = [0u8; g711::SAMPLES_PER_20MS];
        assert_eq!(law.encode(&pcm, &mut codes), g711::SAMPLES_PER_20MS);
        for (&sample, &code) in pcm.iter().zip(&codes) {
            let index = (i32::from(sample) + 32768) as usize;
            assert_eq!(code, reference[index], "{law:?} sample {sample}");
        }
        let mut decoded = [0i16; g711::SAMPLES_PER_20MS];
        assert_eq!(law.decode(&codes, &mut decoded), g711::SAMPLES_PER_20MS);
        for (&code, &sample) in codes.iter().zip(&decoded) {
            assert_eq!(sample, law.decode_sample(code));
        }
    }
}

#[test]
fn every_code_survives_decode_then_encode() {
    for code in 0..=255u8 {
        assert_eq!(
            g711::alaw_encode(g711::alaw_decode(code)),
            code,
            "A-law {code:#04x}"
        );
        // µ-law has two zeros; the negative one (0x7F) re-encodes as the positive one (0xFF).
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            g711::ulaw_encode(g711::ulaw_decode(code)),
            expected,
            "µ-law {code:#04x}"
        );
    }
}

#[test]
fn reconstruction_never_decreases_as_input_grows() {
    for law in [G711::Pcmu, G711::Pcma] {
        let mut previous = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let reconstructed = law.decode_sample(law.encode_sample(sample));
            assert!(reconstructed >= previous, "{law:?} at {sample}");
            previous = reconstructed;
        }
    }
}

proptest! {
    #[test]
    fn ulaw_round_trip_stays_within_half_a_quantization_step(sample in any::<i16>()) {
        // A segment's step is at most 1/16 of its biased magnitude (|x| + 132 in 16-bit units): half a step
        // plus the 2 low bits µ-law drops.
        let error = (i32::from(g711::ulaw_decode(g711::ulaw_encode(sample))) - i32::from(sample)).abs();
        let bound = (i32::from(sample).abs() + 132) / 32 + 4;
        prop_assert!(error <= bound, "sample {} error {} bound {}", sample, error, bound);
    }

    #[test]
    fn alaw_round_trip_stays_within_half_a_quantization_step(sample in any::<i16>()) {
        // A-law's step is 16 below 512 and at most 1/16 of the magnitude above; it drops 3 low bits.
        let error = (i32::from(g711::alaw_decode(g711::alaw_encode(sample))) - i32::from(sample)).abs();
        let bound = i32::from(sample).abs() / 32 + 16;
        prop_assert!(error <= bound, "sample {} error {} bound {}", sample, error, bound);
    }
}
