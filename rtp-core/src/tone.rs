//! Tone generation for 8 kHz linear PCM: DTMF digits, ringback per region, beeps and silence.
//!
//! A [`Tone`] is a streaming generator: [`Tone::fill`] writes the next samples into the caller's buffer, so a
//! media loop produces one 20 ms frame at a time without allocating. The oscillators run continuously from
//! the first sample, so the output has no phase jump between buffers, however the caller splits them.
//!
//! ```
//! use std::time::Duration;
//! use tandem_rtp_core::{DtmfDigit, Tone};
//!
//! let mut tone = Tone::dtmf(DtmfDigit::Five, Duration::from_millis(100), -10.0);
//! let mut frame = [0i16; 160];
//! while tone.fill(&mut frame) > 0 {
//!     // send `frame`
//! }
//! assert!(tone.is_finished());
//! ```

use std::time::Duration;

use crate::telephone_event::DtmfDigit;

/// Sample rate of everything this module produces, Hz.
pub const SAMPLE_RATE: u32 = 8000;

/// Most on/off steps in a [`Cadence`].
pub const MAX_CADENCE_STEPS: usize = 8;

/// Level of a full-scale sine in G.711 µ-law, dBm0 (ITU-T G.711): 0 dBm0 sits that far below 16-bit full scale.
const FULL_SCALE_SINE_DBM0: f32 = 3.17;

/// Amplitude in 16-bit linear PCM of a sine at `level_dbm0`.
pub fn dbm0_to_amplitude(level_dbm0: f32) -> f32 {
    32767.0 * 10f32.powf((level_dbm0 - FULL_SCALE_SINE_DBM0) / 20.0)
}

/// Number of 8 kHz samples in `duration`, rounded to the nearest.
pub fn duration_to_samples(duration: Duration) -> u64 {
    let nanos = duration.as_nanos().saturating_mul(u128::from(SAMPLE_RATE));
    u64::try_from((nanos + 500_000_000) / 1_000_000_000).unwrap_or(u64::MAX)
}

/// Samples between two exact re-seedings of an oscillator's rotating phasor.
const RESEED_INTERVAL: u64 = 64;

/// A sine oscillator whose phase at sample `n` is `step · n` modulo 2^32 (so its period error never
/// accumulates). Between re-seedings from that exact phase, every `RESEED_INTERVAL` samples of absolute
/// position, it rotates a phasor by one step per sample: a few multiplications instead of a `sin` call, and
/// the output depends only on the position, not on how the caller splits its buffers.
#[derive(Debug, Clone, Copy)]
struct Oscillator {
    step: u32,
    amplitude: f32,
    step_cos: f32,
    step_sin: f32,
    re: f32,
    im: f32,
}

impl Oscillator {
    fn new(frequency_hz: f32, amplitude: f32) -> Self {
        let cycles_per_sample = (frequency_hz / SAMPLE_RATE as f32).clamp(0.0, 0.5);
        let step = (f64::from(cycles_per_sample) * 4_294_967_296.0) as u32;
        let angle = phase_to_radians(step);
        Oscillator {
            step,
            amplitude,
            step_cos: angle.cos() as f32,
            step_sin: angle.sin() as f32,
            re: 1.0,
            im: 0.0,
        }
    }

    fn silent() -> Self {
        Self::new(0.0, 0.0)
    }

    /// Puts the phasor at the exact phase of sample `position`.
    fn seed(&mut self, position: u64) {
        let phase = u64::from(self.step).wrapping_mul(position) as u32;
        let angle = phase_to_radians(phase);
        self.re = angle.cos() as f32;
        self.im = angle.sin() as f32;
    }

    /// Puts the phasor at sample `position` the way a run started at the last re-seeding point would have.
    fn seed_within_interval(&mut self, position: u64) {
        let offset = position % RESEED_INTERVAL;
        self.seed(position - offset);
        for _ in 0..offset {
            self.advance();
        }
    }

    fn advance(&mut self) {
        let (re, im) = (self.re, self.im);
        self.re = re * self.step_cos - im * self.step_sin;
        self.im = re * self.step_sin + im * self.step_cos;
    }

    fn sample(&self) -> f32 {
        self.amplitude * self.im
    }
}

fn phase_to_radians(phase: u32) -> f64 {
    f64::from(phase) * (std::f64::consts::TAU / 4_294_967_296.0)
}

/// When a tone sounds: continuously, once for a duration, or as a repeating on/off pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    kind: CadenceKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CadenceKind {
    Continuous,
    Once(u64),
    Repeating {
        steps: [u64; MAX_CADENCE_STEPS],
        len: usize,
        cycle: u64,
    },
}

impl Cadence {
    /// Sounds forever.
    pub fn continuous() -> Self {
        Cadence {
            kind: CadenceKind::Continuous,
        }
    }

    /// Sounds for `duration`, then the tone is finished.
    pub fn once(duration: Duration) -> Self {
        Cadence {
            kind: CadenceKind::Once(duration_to_samples(duration)),
        }
    }

    /// Alternates on and off forever, starting with the first step on (e.g. `[2 s, 4 s]` for US ringback).
    /// `None` when there are no steps, more than [`MAX_CADENCE_STEPS`], or they add up to less than a sample.
    pub fn repeating(steps: &[Duration]) -> Option<Self> {
        if steps.len() > MAX_CADENCE_STEPS {
            return None;
        }
        let mut samples = [0u64; MAX_CADENCE_STEPS];
        for (slot, step) in samples.iter_mut().zip(steps) {
            *slot = duration_to_samples(*step);
        }
        let cycle = samples.iter().fold(0u64, |sum, s| sum.saturating_add(*s));
        if cycle == 0 {
            return None;
        }
        Some(Cadence {
            kind: CadenceKind::Repeating {
                steps: samples,
                len: steps.len(),
                cycle,
            },
        })
    }

    /// Whether the tone sounds at `position` and for how many more samples that holds; `None` once finished.
    fn segment_at(&self, position: u64) -> Option<(bool, u64)> {
        match self.kind {
            CadenceKind::Continuous => Some((true, u64::MAX)),
            CadenceKind::Once(length) => (position < length).then(|| (true, length - position)),
            CadenceKind::Repeating { steps, len, cycle } => {
                let mut offset = position % cycle;
                for (index, step) in steps.iter().take(len).enumerate() {
                    if offset < *step {
                        return Some((index % 2 == 0, step - offset));
                    }
                    offset -= step;
                }
                None
            }
        }
    }

    /// Total samples the cadence lasts, `None` when it repeats forever.
    fn length(&self) -> Option<u64> {
        match self.kind {
            CadenceKind::Once(length) => Some(length),
            CadenceKind::Continuous | CadenceKind::Repeating { .. } => None,
        }
    }
}

/// Regional ringback (audible ringing) tone plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// North America (Bellcore precise tone plan): 440 + 480 Hz at -19 dBm0 each, 2 s on, 4 s off.
    NorthAmerica,
    /// Most of Europe (CEPT / ETSI ES 201 970): 425 Hz at -13 dBm0, 1 s on, 4 s off.
    Europe,
    /// United Kingdom: 400 + 450 Hz at -19 dBm0 each, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off.
    UnitedKingdom,
}

/// A streaming tone of one or two frequencies under a [`Cadence`].
#[derive(Debug, Clone)]
pub struct Tone {
    oscillators: [Oscillator; 2],
    cadence: Cadence,
    position: u64,
}

impl Tone {
    /// Two frequencies, each at its own level (dBm0), under `cadence`.
    pub fn dual(frequencies_hz: (f32, f32), levels_dbm0: (f32, f32), cadence: Cadence) -> Self {
        Tone {
            oscillators: [
                Oscillator::new(frequencies_hz.0, dbm0_to_amplitude(levels_dbm0.0)),
                Oscillator::new(frequencies_hz.1, dbm0_to_amplitude(levels_dbm0.1)),
            ],
            cadence,
            position: 0,
        }
    }

    /// One frequency at `level_dbm0` under `cadence`.
    pub fn single(frequency_hz: f32, level_dbm0: f32, cadence: Cadence) -> Self {
        Tone {
            oscillators: [
                Oscillator::new(frequency_hz, dbm0_to_amplitude(level_dbm0)),
                Oscillator::silent(),
            ],
            cadence,
            position: 0,
        }
    }

    /// The DTMF tone pair of `digit` for `duration`, both tones at `level_dbm0` (typically -10 to -6).
    pub fn dtmf(digit: DtmfDigit, duration: Duration, level_dbm0: f32) -> Self {
        Self::dtmf_with_levels(digit, duration, level_dbm0, level_dbm0)
    }

    /// The DTMF tone pair of `digit` with separate low-group and high-group levels (to produce twist).
    pub fn dtmf_with_levels(
        digit: DtmfDigit,
        duration: Duration,
        low_level_dbm0: f32,
        high_level_dbm0: f32,
    ) -> Self {
        Self::dual(
            digit.frequencies(),
            (low_level_dbm0, high_level_dbm0),
            Cadence::once(duration),
        )
    }

    /// The ringback tone of `region`, repeating forever.
    pub fn ringback(region: Region) -> Self {
        let seconds = Duration::from_secs_f32;
        match region {
            Region::NorthAmerica => Self::dual(
                (440.0, 480.0),
                (-19.0, -19.0),
                Self::pattern(&[seconds(2.0), seconds(4.0)]),
            ),
            Region::Europe => {
                Self::single(425.0, -13.0, Self::pattern(&[seconds(1.0), seconds(4.0)]))
            }
            Region::UnitedKingdom => Self::dual(
                (400.0, 450.0),
                (-19.0, -19.0),
                Self::pattern(&[seconds(0.4), seconds(0.2), seconds(0.4), seconds(2.0)]),
            ),
        }
    }

    /// A beep of `frequency_hz` (1000 Hz is usual for a recording prompt) for `duration` at `level_dbm0`.
    pub fn beep(frequency_hz: f32, duration: Duration, level_dbm0: f32) -> Self {
        Self::single(frequency_hz, level_dbm0, Cadence::once(duration))
    }

    /// Silence for `duration`.
    pub fn silence(duration: Duration) -> Self {
        Tone {
            oscillators: [Oscillator::silent(), Oscillator::silent()],
            cadence: Cadence::once(duration),
            position: 0,
        }
    }

    fn pattern(steps: &[Duration]) -> Cadence {
        // The built-in patterns are short and non-zero; continuous is only a fallback that cannot happen.
        Cadence::repeating(steps).unwrap_or_else(Cadence::continuous)
    }

    /// Writes the next samples into `out` and returns how many were written: all of `out` unless the tone
    /// finished part-way, in which case the rest of `out` is left untouched. Two tones at high levels saturate
    /// at the 16-bit limits instead of wrapping.
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let mut written = 0;
        while written < out.len() {
            let Some((sounding, remaining)) = self.cadence.segment_at(self.position) else {
                break;
            };
            let wanted =
                (out.len() - written).min(usize::try_from(remaining).unwrap_or(usize::MAX));
            let Some(run) = out.get_mut(written..written + wanted) else {
                break;
            };
            self.fill_run(run, sounding, self.position);
            written += wanted;
            self.position += wanted as u64;
        }
        written
    }

    fn fill_run(&mut self, run: &mut [i16], sounding: bool, start: u64) {
        if !sounding {
            // The phase is a function of the position, so it stays continuous across silence for free.
            run.fill(0);
            return;
        }
        let [first, second] = &mut self.oscillators;
        first.seed_within_interval(start);
        second.seed_within_interval(start);
        for (position, sample) in (start..).zip(run.iter_mut()) {
            if position.is_multiple_of(RESEED_INTERVAL) {
                first.seed(position);
                second.seed(position);
            }
            let value = first.sample() + second.sample();
            *sample = value.round().clamp(-32768.0, 32767.0) as i16;
            first.advance();
            second.advance();
        }
    }

    /// Whether a finite tone has produced all its samples.
    pub fn is_finished(&self) -> bool {
        self.cadence.segment_at(self.position).is_none()
    }

    /// Samples still to come, `None` for a tone that repeats forever.
    pub fn remaining_samples(&self) -> Option<u64> {
        self.cadence
            .length()
            .map(|length| length.saturating_sub(self.position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn render(tone: &mut Tone, samples: usize) -> Vec<i16> {
        let mut out = vec![0i16; samples];
        let written = tone.fill(&mut out);
        out.truncate(written);
        out
    }

    /// Power of `samples` at `frequency` relative to the total power, by correlation.
    fn share_at(samples: &[i16], frequency: f32) -> f32 {
        let (mut re, mut im, mut total) = (0f64, 0f64, 0f64);
        for (n, &s) in samples.iter().enumerate() {
            let x = f64::from(s);
            let angle = f64::from(TAU) * f64::from(frequency) * n as f64 / f64::from(SAMPLE_RATE);
            re += x * angle.cos();
            im += x * angle.sin();
            total += x * x;
        }
        let n = samples.len() as f64;
        (2.0 * (re * re + im * im) / (n * total)) as f32
    }

    fn rms(samples: &[i16]) -> f32 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / samples.len() as f64).sqrt() as f32
    }

    #[test]
    fn dtmf_tone_lasts_exactly_its_duration() {
        let mut tone = Tone::dtmf(DtmfDigit::One, Duration::from_millis(40), -10.0);
        assert_eq!(tone.remaining_samples(), Some(320));
        let samples = render(&mut tone, 1000);
        assert_eq!(samples.len(), 320);
        assert!(tone.is_finished());
        assert_eq!(tone.fill(&mut [0i16; 10]), 0);
    }

    #[test]
    fn dtmf_tone_holds_its_two_frequencies() {
        let mut tone = Tone::dtmf(DtmfDigit::Nine, Duration::from_millis(100), -10.0);
        let samples = render(&mut tone, 800);
        let (low, high) = DtmfDigit::Nine.frequencies();
        let share = share_at(&samples, low) + share_at(&samples, high);
        assert!(share > 0.98, "share {share}");
        assert!(share_at(&samples, 1000.0) < 0.01);
    }

    #[test]
    fn level_in_dbm0_sets_the_amplitude() {
        let mut tone = Tone::beep(1000.0, Duration::from_secs(1), 0.0);
        let samples = render(&mut tone, 8000);
        let expected = dbm0_to_amplitude(0.0) / std::f32::consts::SQRT_2;
        assert!((rms(&samples) / expected - 1.0).abs() < 0.01);
        let mut quieter = Tone::beep(1000.0, Duration::from_secs(1), -20.0);
        let ratio = rms(&render(&mut quieter, 8000)) / rms(&samples);
        assert!((ratio - 0.1).abs() < 0.001, "ratio {ratio}");
    }

    #[test]
    fn output_is_the_same_however_the_buffers_are_split() {
        let mut whole = Tone::ringback(Region::NorthAmerica);
        let reference = render(&mut whole, 20_000);
        let mut split = Tone::ringback(Region::NorthAmerica);
        let mut pieces = Vec::new();
        for size in [1usize, 7, 160, 333, 19_499].iter().cycle().take(5) {
            pieces.extend(render(&mut split, *size));
        }
        assert_eq!(pieces, reference);
    }

    #[test]
    fn phase_is_continuous_across_frames() {
        let mut tone = Tone::beep(440.0, Duration::from_secs(1), -3.0);
        let mut previous: Option<i16> = None;
        let mut largest_step = 0i32;
        let mut frame = [0i16; 160];
        while tone.fill(&mut frame) > 0 {
            for &sample in &frame {
                if let Some(p) = previous {
                    largest_step = largest_step.max((i32::from(sample) - i32::from(p)).abs());
                }
                previous = Some(sample);
            }
        }
        // A sine of amplitude A changes by at most A·2π·f/fs per sample.
        let bound = dbm0_to_amplitude(-3.0) * TAU * 440.0 / 8000.0 + 2.0;
        assert!(
            (largest_step as f32) <= bound,
            "step {largest_step} > {bound}"
        );
    }

    #[test]
    fn samples_match_an_exact_sine_within_one_step() {
        let level = -3.0;
        let frequency = 1234.5;
        let mut tone = Tone::beep(frequency, Duration::from_secs(10), level);
        let samples = render(&mut tone, 80_000);
        let oscillator = Oscillator::new(frequency, dbm0_to_amplitude(level));
        for (n, &sample) in samples.iter().enumerate() {
            let phase = u64::from(oscillator.step).wrapping_mul(n as u64) as u32;
            let exact = f64::from(dbm0_to_amplitude(level)) * phase_to_radians(phase).sin();
            assert!(
                (f64::from(sample) - exact).abs() <= 1.0,
                "sample {n}: {sample} vs {exact}"
            );
        }
    }

    #[test]
    fn us_ringback_is_two_seconds_on_four_off() {
        let mut tone = Tone::ringback(Region::NorthAmerica);
        let samples = render(&mut tone, 8000 * 12);
        let second = |s: usize| &samples[s * 8000..(s + 1) * 8000];
        for on in [0, 1, 6, 7] {
            assert!(rms(second(on)) > 1000.0, "second {on} should sound");
        }
        for off in [2, 3, 4, 5, 8, 9, 10, 11] {
            assert_eq!(rms(second(off)), 0.0, "second {off} should be silent");
        }
        assert!(share_at(second(0), 440.0) + share_at(second(0), 480.0) > 0.98);
        assert_eq!(tone.remaining_samples(), None);
    }

    #[test]
    fn european_ringback_is_425_hz_one_second_on_four_off() {
        let mut tone = Tone::ringback(Region::Europe);
        let samples = render(&mut tone, 8000 * 10);
        assert!(share_at(&samples[..8000], 425.0) > 0.99);
        assert_eq!(rms(&samples[8000..40_000]), 0.0);
        assert!(rms(&samples[40_000..48_000]) > 1000.0);
        assert_eq!(rms(&samples[48_000..80_000]), 0.0);
    }

    #[test]
    fn uk_ringback_has_a_double_ring() {
        let mut tone = Tone::ringback(Region::UnitedKingdom);
        let samples = render(&mut tone, 8 * 3000);
        let ms = |from: usize, to: usize| &samples[from * 8..to * 8];
        assert!(rms(ms(0, 400)) > 1000.0);
        assert_eq!(rms(ms(400, 600)), 0.0);
        assert!(rms(ms(600, 1000)) > 1000.0);
        assert_eq!(rms(ms(1000, 3000)), 0.0);
    }

    #[test]
    fn silence_is_zero_for_its_duration() {
        let mut tone = Tone::silence(Duration::from_millis(25));
        let mut out = [7i16; 300];
        assert_eq!(tone.fill(&mut out), 200);
        assert!(out[..200].iter().all(|&s| s == 0));
        assert!(out[200..].iter().all(|&s| s == 7));
    }

    #[test]
    fn loud_dual_tones_saturate_instead_of_wrapping() {
        let mut tone = Tone::dual((100.0, 100.0), (3.0, 3.0), Cadence::continuous());
        let samples = render(&mut tone, 800);
        assert!(samples.contains(&32767));
        assert!(samples.contains(&-32768));
        assert!(
            samples
                .windows(2)
                .all(|w| (i32::from(w[0]) - i32::from(w[1])).abs() < 6_000)
        );
    }

    #[test]
    fn cadence_rejects_empty_or_oversized_patterns() {
        assert!(Cadence::repeating(&[]).is_none());
        assert!(Cadence::repeating(&[Duration::ZERO, Duration::ZERO]).is_none());
        assert!(Cadence::repeating(&[Duration::from_millis(10); MAX_CADENCE_STEPS + 1]).is_none());
        assert!(Cadence::repeating(&[Duration::from_millis(10); MAX_CADENCE_STEPS]).is_some());
    }

    #[test]
    fn converts_durations_to_samples() {
        assert_eq!(duration_to_samples(Duration::from_millis(20)), 160);
        assert_eq!(duration_to_samples(Duration::from_micros(62)), 0);
        assert_eq!(duration_to_samples(Duration::from_micros(63)), 1);
    }
}
