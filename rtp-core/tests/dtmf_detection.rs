//! In-band DTMF detection against generated digits (tone module) and against signals that must not be taken
//! for digits: noise, speech-like and music-like sounds, and real synthesised speech.

mod dtmf_signals;

use std::time::Duration;

use dtmf_signals::*;
use tandem_rtp_core::dtmf_detect::WINDOW_SAMPLES;
use tandem_rtp_core::{DtmfDetectorConfig, DtmfDigit, Tone};

const ALL_KEYS: &str = "1234567890*#ABCD";

/// Checks that `samples`, keyed from `sequence` with `on_ms`/`off_ms` after `lead` samples, yields exactly
/// the sequence with starts and ends within a window of the truth.
fn assert_keyed_detected(samples: &[i16], sequence: &str, on_ms: u32, off_ms: u32, lead: usize) {
    let detections = detect(samples);
    assert_eq!(digits(&detections), sequence, "on {on_ms} ms, lead {lead}");
    let period = samples_of(on_ms + off_ms) as u64;
    let tolerance = WINDOW_SAMPLES as u64;
    for (index, &(_, start, end)) in detections.iter().enumerate() {
        let true_start = lead as u64 + index as u64 * period;
        let true_end = true_start + samples_of(on_ms) as u64;
        assert!(
            start.abs_diff(true_start) <= tolerance,
            "start {start} vs {true_start}"
        );
        assert!(
            end.abs_diff(true_end) <= tolerance,
            "end {end} vs {true_end}"
        );
    }
}

#[test]
fn detects_every_key_at_40_50_and_100_ms_with_40_ms_pauses() {
    for on_ms in [40, 50, 100] {
        for lead in [0, 5, 11, 16, 80, 333] {
            let samples = keyed(ALL_KEYS, on_ms, 40, -10.0, lead);
            assert_keyed_detected(&samples, ALL_KEYS, on_ms, 40, lead);
        }
    }
}

#[test]
fn detects_keys_across_the_level_range() {
    for level in [-3.0, -10.0, -20.0, -28.0] {
        let samples = keyed(ALL_KEYS, 50, 50, level, 123);
        assert_keyed_detected(&samples, ALL_KEYS, 50, 50, 123);
    }
}

#[test]
fn ignores_keys_below_the_minimum_level() {
    let samples = keyed(ALL_KEYS, 100, 50, -40.0, 0);
    assert_eq!(digits(&detect(&samples)), "");
}

#[test]
fn detects_the_same_key_repeated_with_40_ms_pauses() {
    let samples = keyed("5555", 40, 40, -10.0, 7);
    assert_keyed_detected(&samples, "5555", 40, 40, 7);
}

#[test]
fn rejects_tones_of_20_ms_and_less() {
    for on_ms in [10, 15, 20, 23] {
        for lead in (0..17).step_by(2) {
            let samples = keyed(ALL_KEYS, on_ms, 60, -10.0, lead);
            assert_eq!(
                digits(&detect(&samples)),
                "",
                "{on_ms} ms tone at lead {lead}"
            );
        }
    }
}

#[test]
fn bridges_a_10_ms_dropout_inside_a_digit() {
    let mut samples = keyed("9", 60, 0, -10.0, 50);
    samples.extend(std::iter::repeat_n(0, samples_of(10)));
    samples.extend(keyed("9", 60, 100, -10.0, 0));
    let detections = detect(&samples);
    assert_eq!(digits(&detections), "9");
}

#[test]
fn reports_a_change_of_key_without_pause() {
    let samples = keyed("12", 80, 0, -10.0, 40);
    assert_eq!(digits(&detect(&samples)), "12");
}

#[test]
fn accepts_normal_twist_up_to_8_db_and_reverse_twist_up_to_4_db() {
    for digit in DtmfDigit::ALL {
        for (low, high) in [(-6.0, -14.0), (-10.0, -14.0), (-14.0, -10.0), (-12.0, -8.0)] {
            let samples = shaped_digit(digit, 50, (low, high), (1.0, 1.0), 100);
            assert_eq!(detect(&samples).len(), 1, "{digit} at {low}/{high} dBm0");
        }
    }
}

#[test]
fn rejects_twist_well_beyond_the_limits() {
    for digit in DtmfDigit::ALL {
        for (low, high) in [(-6.0, -17.0), (-17.0, -10.0)] {
            let samples = shaped_digit(digit, 100, (low, high), (1.0, 1.0), 100);
            assert!(detect(&samples).is_empty(), "{digit} at {low}/{high} dBm0");
        }
    }
}

/// A digit whose tones are shifted by `relative` and then by `extra_hz` (both signed).
fn shifted_digit(digit: DtmfDigit, relative: f32, extra_hz: f32) -> Vec<i16> {
    let (low, high) = digit.frequencies();
    let scale = |f: f32| (f * (1.0 + relative) + extra_hz) / f;
    shaped_digit(digit, 50, (-10.0, -10.0), (scale(low), scale(high)), 100)
}

#[test]
fn accepts_frequencies_off_by_1_5_percent_plus_2_hz() {
    for digit in DtmfDigit::ALL {
        for (relative, extra) in [(0.015, 2.0), (-0.015, -2.0), (0.015, -2.0), (-0.015, 2.0)] {
            let samples = shifted_digit(digit, relative, extra);
            assert_eq!(
                detect(&samples).len(),
                1,
                "{digit} shifted {relative} {extra} Hz"
            );
            let noisy = mix(&samples, &white_noise(samples.len(), -22.0, 5));
            assert_eq!(
                detect(&noisy).len(),
                1,
                "{digit} shifted {relative} {extra} Hz in noise"
            );
        }
    }
}

#[test]
fn rejects_frequencies_off_by_3_5_percent() {
    for digit in DtmfDigit::ALL {
        for relative in [0.035, -0.035, 0.05] {
            let samples = shifted_digit(digit, relative, 0.0);
            assert!(detect(&samples).is_empty(), "{digit} shifted {relative}");
        }
    }
}

#[test]
fn detects_keys_in_white_noise_at_10_db_snr() {
    // Each tone at -10 dBm0 makes the digit -7 dBm0; the noise sits 10 dB below that.
    for (seed, on_ms) in [(1, 40), (2, 50), (3, 100)] {
        let keys = keyed(ALL_KEYS, on_ms, 50, -10.0, 200);
        let noisy = mix(&keys, &white_noise(keys.len(), -17.0, seed));
        assert_eq!(digits(&detect(&noisy)), ALL_KEYS, "{on_ms} ms");
    }
}

#[test]
fn detects_twisted_keys_in_white_noise_at_15_db_snr() {
    for digit in DtmfDigit::ALL {
        for (low, high) in [(-6.0, -13.0), (-13.0, -10.0)] {
            let clean = shaped_digit(digit, 50, (low, high), (1.0, 1.0), 300);
            let noisy = mix(
                &clean,
                &white_noise(clean.len(), -20.0, u64::from(digit.event_code())),
            );
            assert_eq!(detect(&noisy).len(), 1, "{digit} at {low}/{high} dBm0");
        }
    }
}

#[test]
fn detects_keys_over_speech_20_db_quieter() {
    let background = gain(&speech(), -12.0);
    let keys = keyed(ALL_KEYS, 60, 60, -10.0, 4000);
    let noisy: Vec<f32> = background.iter().map(|&s| f32::from(s)).collect();
    let mixed = mix(&keys, &noisy);
    assert_eq!(digits(&detect(&mixed)), ALL_KEYS);
}

#[test]
fn output_does_not_depend_on_chunk_size() {
    let samples = mix(
        &keyed("147*2580369#ABCD", 45, 45, -12.0, 1234),
        &white_noise(20_000, -30.0, 9),
    );
    let reference = detect_with(DtmfDetectorConfig::default(), &samples, samples.len());
    assert_eq!(digits(&reference), "147*2580369#ABCD");
    for chunk in [1, 7, 80, 160, 161, 1000] {
        assert_eq!(
            detect_with(DtmfDetectorConfig::default(), &samples, chunk),
            reference,
            "chunk {chunk}"
        );
    }
}

#[test]
fn white_noise_produces_no_digits() {
    for (seed, level) in [(11, -40.0), (12, -25.0), (13, -10.0), (14, -3.0)] {
        let noise = to_pcm(&white_noise(8000 * 10, level, seed));
        assert_eq!(digits(&detect(&noise)), "", "noise at {level} dBm0");
    }
}

#[test]
fn synthetic_vowels_produce_no_digits() {
    for (name, formants) in VOWELS {
        let mut f0 = 80.0;
        while f0 < 350.0 {
            let mut harmonic = harmonic_vowel(formants, f0, 2400);
            normalise(&mut harmonic, -10.0);
            assert_eq!(
                digits(&detect(&to_pcm(&harmonic))),
                "",
                "harmonic /{name}/ at {f0} Hz"
            );
            f0 += 4.0;
        }
        for f0 in [85.0, 110.0, 140.0, 174.0, 210.0, 232.0, 260.0, 300.0] {
            let mut glottal = glottal_vowel(formants, f0, f0 * 1.15, 4000, f0 as u64);
            normalise(&mut glottal, -10.0);
            assert_eq!(
                digits(&detect(&to_pcm(&glottal))),
                "",
                "glottal /{name}/ from {f0} Hz"
            );
        }
    }
}

#[test]
fn chords_of_harmonic_notes_produce_no_digits() {
    for root in -12..24 {
        for intervals in [[0, 4, 7], [0, 3, 7], [0, 7, 12], [0, 5, 9]] {
            let notes: Vec<f32> = intervals.iter().map(|i| note(root + i)).collect();
            for harmonics in [1, 3, 6] {
                let mut sound = chord(&notes, harmonics, 2400);
                normalise(&mut sound, -10.0);
                assert_eq!(
                    digits(&detect(&to_pcm(&sound))),
                    "",
                    "chord {intervals:?} on {root}, {harmonics} harmonics"
                );
            }
        }
    }
}

#[test]
fn sweeps_produce_no_digits() {
    let cases = [
        (300.0, 3400.0, None),
        (3400.0, 300.0, None),
        (400.0, 2000.0, Some(1.5)),
        (300.0, 1500.0, Some(1.2)),
        (500.0, 1200.0, Some(2.0)),
    ];
    for (from, to, second) in cases {
        for seconds in [1, 3, 6] {
            let mut sound = sweep(from, to, second, 8000 * seconds);
            normalise(&mut sound, -10.0);
            assert_eq!(
                digits(&detect(&to_pcm(&sound))),
                "",
                "sweep {from}-{to} {second:?}"
            );
        }
    }
}

#[test]
fn synthesised_speech_produces_no_digits() {
    let speech = speech();
    assert!(speech.len() > 8000 * 20);
    for db in [-20.0, -10.0, 0.0, 6.0] {
        assert_eq!(digits(&detect(&gain(&speech, db))), "", "speech at {db} dB");
    }
}

#[test]
fn ringback_and_beeps_produce_no_digits() {
    use tandem_rtp_core::Region;
    for region in [Region::NorthAmerica, Region::Europe, Region::UnitedKingdom] {
        assert_eq!(
            digits(&detect(&render(Tone::ringback(region), 8000 * 7))),
            ""
        );
    }
    let beep = render(Tone::beep(1000.0, Duration::from_millis(500), -6.0), 8000);
    assert_eq!(digits(&detect(&beep)), "");
}
