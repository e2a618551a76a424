//! Test signals for the DTMF detector: keyed digit sequences, noise, and speech- and music-like sounds.
#![allow(dead_code, unreachable_pub)]

use std::f32::consts::TAU;
use std::time::Duration;

use tandem_rtp_core::tone::{Cadence, dbm0_to_amplitude};
use tandem_rtp_core::{DtmfDetector, DtmfDetectorConfig, DtmfDigit, DtmfEvent, Tone};

pub const RATE: f32 = 8000.0;

/// What a detector reported: (digit, start offset, end offset).
pub type Detection = (DtmfDigit, u64, u64);

/// Runs `samples` through a detector in chunks of `chunk` and pairs starts with ends.
pub fn detect_with(config: DtmfDetectorConfig, samples: &[i16], chunk: usize) -> Vec<Detection> {
    let mut detector = DtmfDetector::with_config(config);
    let mut events = Vec::new();
    for piece in samples.chunks(chunk.max(1)) {
        detector.handle_samples(piece);
        events.extend(std::iter::from_fn(|| detector.poll_event()));
    }
    detector.flush();
    events.extend(std::iter::from_fn(|| detector.poll_event()));
    pair(&events)
}

pub fn detect(samples: &[i16]) -> Vec<Detection> {
    detect_with(DtmfDetectorConfig::default(), samples, 160)
}

pub fn digits(detections: &[Detection]) -> String {
    detections.iter().map(|d| d.0.as_char()).collect()
}

fn pair(events: &[DtmfEvent]) -> Vec<Detection> {
    let mut out = Vec::new();
    let mut open: Option<(DtmfDigit, u64)> = None;
    for event in events {
        match *event {
            DtmfEvent::DigitStarted {
                digit,
                sample_offset,
            } => {
                assert!(open.is_none(), "start while {open:?} open: {events:?}");
                open = Some((digit, sample_offset));
            }
            DtmfEvent::DigitEnded {
                digit,
                sample_offset,
            } => {
                let (started, start) = open.take().expect("end without start");
                assert_eq!(started, digit, "end of another digit: {events:?}");
                out.push((digit, start, sample_offset));
            }
        }
    }
    assert!(open.is_none(), "unterminated digit");
    out
}

pub fn samples_of(duration_ms: u32) -> usize {
    duration_ms as usize * 8
}

/// Renders a tone until it finishes (or `limit` samples).
pub fn render(mut tone: Tone, limit: usize) -> Vec<i16> {
    let mut out = vec![0i16; limit];
    let written = tone.fill(&mut out);
    out.truncate(written);
    out
}

/// A keyed sequence: `lead` silent samples, then each digit `on_ms` followed by `off_ms` silence.
pub fn keyed(sequence: &str, on_ms: u32, off_ms: u32, level_dbm0: f32, lead: usize) -> Vec<i16> {
    let mut out = vec![0i16; lead];
    for c in sequence.chars() {
        let digit = DtmfDigit::from_char(c).expect("keypad character");
        out.extend(render(
            Tone::dtmf(digit, Duration::from_millis(on_ms.into()), level_dbm0),
            samples_of(on_ms),
        ));
        out.extend(std::iter::repeat_n(0, samples_of(off_ms)));
    }
    out
}

/// One digit with separate low/high levels and frequency scale factors, padded with silence.
pub fn shaped_digit(
    digit: DtmfDigit,
    on_ms: u32,
    levels: (f32, f32),
    scale: (f32, f32),
    lead: usize,
) -> Vec<i16> {
    let (low, high) = digit.frequencies();
    let tone = Tone::dual(
        (low * scale.0, high * scale.1),
        levels,
        Cadence::once(Duration::from_millis(on_ms.into())),
    );
    let mut out = vec![0i16; lead];
    out.extend(render(tone, samples_of(on_ms)));
    out.extend(std::iter::repeat_n(0, samples_of(200)));
    out
}

/// Deterministic pseudo-random numbers (xorshift64*).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed.max(1))
    }

    pub fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        bits as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// Roughly Gaussian with unit variance.
    pub fn gaussian(&mut self) -> f32 {
        let sum: f32 = (0..6).map(|_| self.uniform()).sum();
        sum / 2.0_f32.sqrt()
    }
}

/// White noise with the RMS of a sine at `level_dbm0`.
pub fn white_noise(samples: usize, level_dbm0: f32, seed: u64) -> Vec<f32> {
    let rms = dbm0_to_amplitude(level_dbm0) / 2f32.sqrt();
    let mut noise = Noise::new(seed);
    (0..samples).map(|_| noise.gaussian() * rms).collect()
}

pub fn to_pcm(signal: &[f32]) -> Vec<i16> {
    signal
        .iter()
        .map(|&x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

pub fn mix(pcm: &[i16], extra: &[f32]) -> Vec<i16> {
    let sum: Vec<f32> = pcm
        .iter()
        .zip(extra)
        .map(|(&a, &b)| f32::from(a) + b)
        .collect();
    to_pcm(&sum)
}

/// Scales `signal` so its RMS equals that of a sine at `level_dbm0`.
pub fn normalise(signal: &mut [f32], level_dbm0: f32) {
    let power: f32 = signal.iter().map(|x| x * x).sum::<f32>() / signal.len().max(1) as f32;
    let target = dbm0_to_amplitude(level_dbm0) / 2f32.sqrt();
    let gain = target / power.sqrt().max(1e-9);
    signal.iter_mut().for_each(|x| *x *= gain);
}

/// Two-pole resonator (formant filter).
struct Resonator {
    a1: f32,
    a2: f32,
    gain: f32,
    y1: f32,
    y2: f32,
}

impl Resonator {
    fn new(frequency: f32, bandwidth: f32) -> Self {
        let r = (-std::f32::consts::PI * bandwidth / RATE).exp();
        let theta = TAU * frequency / RATE;
        Resonator {
            a1: 2.0 * r * theta.cos(),
            a2: -r * r,
            gain: 1.0 - r,
            y1: 0.0,
            y2: 0.0,
        }
    }

    fn process(&mut self, x: f32) -> f32 {
        let y = self.gain * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Formants (Hz) of a few vowels, after Peterson & Barney's averages.
pub const VOWELS: [(&str, [f32; 3]); 6] = [
    ("a", [730.0, 1090.0, 2440.0]),
    ("i", [270.0, 2290.0, 3010.0]),
    ("u", [300.0, 870.0, 2240.0]),
    ("e", [530.0, 1840.0, 2480.0]),
    ("o", [570.0, 840.0, 2410.0]),
    ("ae", [660.0, 1720.0, 2410.0]),
];

/// A vowel from a glottal pulse train at a pitch gliding from `f0_start` to `f0_end`, through three formant
/// resonators.
pub fn glottal_vowel(
    formants: [f32; 3],
    f0_start: f32,
    f0_end: f32,
    samples: usize,
    seed: u64,
) -> Vec<f32> {
    let mut resonators: Vec<Resonator> = formants
        .iter()
        .zip([80.0, 100.0, 150.0])
        .map(|(&f, b)| Resonator::new(f, b))
        .collect();
    let mut noise = Noise::new(seed);
    let mut phase = 0f32;
    (0..samples)
        .map(|n| {
            let f0 = f0_start + (f0_end - f0_start) * n as f32 / samples as f32;
            let jitter = 1.0 + 0.01 * noise.uniform();
            phase += f0 * jitter / RATE;
            // Rosenberg-like pulse: a smooth opening, a sharp closure.
            let cycle = phase.fract();
            let pulse = if cycle < 0.4 {
                0.5 * (1.0 - (std::f32::consts::PI * cycle / 0.4).cos())
            } else if cycle < 0.56 {
                (std::f32::consts::FRAC_PI_2 * (cycle - 0.4) / 0.16).cos()
            } else {
                0.0
            };
            let excitation = pulse + 0.02 * noise.gaussian();
            resonators.iter_mut().map(|r| r.process(excitation)).sum()
        })
        .collect()
}

/// A vowel as a harmonic series of `f0` whose amplitudes follow the formant envelope.
pub fn harmonic_vowel(formants: [f32; 3], f0: f32, samples: usize) -> Vec<f32> {
    let envelope = |f: f32| -> f32 {
        formants
            .iter()
            .zip([80.0f32, 100.0, 150.0])
            .map(|(&formant, bandwidth)| 1.0 / (1.0 + ((f - formant) / bandwidth).powi(2)))
            .sum::<f32>()
            / (1.0 + f / 1000.0)
    };
    let harmonics: Vec<(f32, f32)> = (1..)
        .map(|k| k as f32 * f0)
        .take_while(|&f| f < 3800.0)
        .map(|f| (f, envelope(f)))
        .collect();
    (0..samples)
        .map(|n| {
            let t = n as f32 / RATE;
            harmonics
                .iter()
                .map(|&(f, a)| a * (TAU * f * t).sin())
                .sum()
        })
        .collect()
}

/// Notes (Hz) sounded together, each with harmonics falling off as 1/k, decaying like a plucked string.
pub fn chord(notes: &[f32], harmonics: usize, samples: usize) -> Vec<f32> {
    (0..samples)
        .map(|n| {
            let t = n as f32 / RATE;
            let decay = (-1.5 * t).exp();
            notes
                .iter()
                .flat_map(|&f| (1..=harmonics).map(move |k| (f * k as f32, 1.0 / k as f32)))
                .filter(|&(f, _)| f < 3900.0)
                .map(|(f, a)| a * decay * (TAU * f * t).sin())
                .sum()
        })
        .collect()
}

/// A sine sweeping exponentially from `from` to `to` Hz (plus, when `second` is set, a second sine at that
/// ratio above it).
pub fn sweep(from: f32, to: f32, second: Option<f32>, samples: usize) -> Vec<f32> {
    let mut phase1 = 0f32;
    let mut phase2 = 0f32;
    (0..samples)
        .map(|n| {
            let progress = n as f32 / samples as f32;
            let f = from * (to / from).powf(progress);
            phase1 = (phase1 + f / RATE).fract();
            let mut value = (TAU * phase1).sin();
            if let Some(ratio) = second {
                phase2 = (phase2 + f * ratio / RATE).fract();
                value += (TAU * phase2).sin();
            }
            value
        })
        .collect()
}

/// Equal-tempered note frequency, `semitones` from A4 (440 Hz).
pub fn note(semitones: i32) -> f32 {
    440.0 * 2f32.powf(semitones as f32 / 12.0)
}

/// Decodes G.711 µ-law bytes to linear PCM.
pub fn decode_ulaw(bytes: &[u8]) -> Vec<i16> {
    bytes
        .iter()
        .map(|&byte| {
            let code = !byte;
            let exponent = (code >> 4) & 0x07;
            let mantissa = i32::from(code & 0x0F);
            let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
            let value = if code & 0x80 != 0 {
                -magnitude
            } else {
                magnitude
            };
            value as i16
        })
        .collect()
}

/// Speech synthesised by espeak-ng (see tests/data/README.md), as 8 kHz linear PCM.
pub fn speech() -> Vec<i16> {
    decode_ulaw(include_bytes!("../data/espeak_speech_8k.ulaw"))
}

pub fn gain(pcm: &[i16], db: f32) -> Vec<i16> {
    let factor = 10f32.powf(db / 20.0);
    to_pcm(
        &pcm.iter()
            .map(|&s| f32::from(s) * factor)
            .collect::<Vec<_>>(),
    )
}
