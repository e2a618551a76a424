//! In-band DTMF detection over 8 kHz linear PCM with the Goertzel algorithm.
//!
//! The detector looks at a window of [`WINDOW_SAMPLES`] (12.75 ms) every [`HOP_SAMPLES`] (2.125 ms). A
//! window is a *hit* for a digit when:
//! - the strongest row tone and the strongest column tone both reach the minimum level;
//! - their levels differ by no more than the allowed twist (low group stronger: *normal*; high group
//!   stronger: *reverse*);
//! - each stands clear of the other tones of its group;
//! - together they hold most of the window's energy (signal against noise, speech and music);
//! - neither has a strong second harmonic (voice and instruments have harmonics, a keypad does not).
//!
//! A digit starts after a run of consecutive hits spanning about 34 ms of tone, and only if the phase drift
//! of both tones over that run puts their frequencies within the tolerance; it ends after about 25 ms without
//! a hit. With the windows overlapping, this gives the ITU-T Q.24 timing: tones of 40 ms or more with pauses
//! of 40 ms or more are detected, tones of 23 ms or less are rejected, and dropouts of up to ~20 ms inside a
//! digit do not split it.
//!
//! ```
//! use std::time::Duration;
//! use tandem_rtp_core::{DtmfDetector, DtmfDigit, DtmfEvent, Tone};
//!
//! let mut tone = Tone::dtmf(DtmfDigit::Seven, Duration::from_millis(60), -10.0);
//! let mut pcm = [0i16; 1600];
//! tone.fill(&mut pcm);
//!
//! let mut detector = DtmfDetector::new();
//! for frame in pcm.chunks(160) {
//!     detector.handle_samples(frame);
//! }
//! let mut digits = Vec::new();
//! while let Some(event) = detector.poll_event() {
//!     if let DtmfEvent::DigitStarted { digit, .. } = event {
//!         digits.push(digit);
//!     }
//! }
//! assert_eq!(digits, [DtmfDigit::Seven]);
//! ```

use std::collections::VecDeque;
use std::f32::consts::TAU;

use crate::telephone_event::{COLUMN_FREQUENCIES, DtmfDigit, ROW_FREQUENCIES};
use crate::tone::dbm0_to_amplitude;

/// Samples in one analysis window (12.75 ms at 8 kHz): the usual DTMF Goertzel length, resolving the
/// 73 Hz spacing of the row tones.
pub const WINDOW_SAMPLES: usize = 102;

/// Samples between the starts of two consecutive windows (a sixth of a window).
pub const HOP_SAMPLES: usize = 17;

const SAMPLE_RATE: f32 = 8000.0;

/// Consecutive hits that start a digit: the windows then span 102 + 10·17 = 272 samples (34 ms), which a
/// 40 ms tone always fills and a 23 ms tone never does.
const MIN_HITS: u32 = 11;

/// Q.24's acceptance band around each nominal frequency: 1.5% plus 2 Hz.
const ACCEPTED_DEVIATION: f32 = 0.015;
const ACCEPTED_DEVIATION_HZ: f32 = 2.0;

/// Extra twist a single window may show: the stronger tone leaks into the weaker one's bin and makes its
/// power in one window swing by a dB or two; the swing averages out over a run.
const WINDOW_TWIST_ALLOWANCE_DB: f32 = 3.0;

/// Measurement error allowed on the twist averaged over a run.
const RUN_TWIST_ALLOWANCE_DB: f32 = 1.0;

/// Blocks of `HOP_SAMPLES` in a window: each block's Goertzel outputs are computed once and reused by the six
/// windows that contain it.
const BLOCKS: usize = WINDOW_SAMPLES / HOP_SAMPLES;

/// Hops of phase drift kept per run: those between the last `MIN_HITS` hits.
const DRIFT_HISTORY: usize = MIN_HITS as usize - 1;

/// Consecutive windows without the digit that end it: a 40 ms pause always produces more, a 20 ms dropout
/// fewer.
const MAX_MISSES: u32 = 12;

/// Tunable thresholds of the [`DtmfDetector`]. The defaults follow ITU-T Q.24 and common practice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfDetectorConfig {
    /// Minimum level of each of the two tones, dBm0 (default -32).
    pub min_tone_level_dbm0: f32,
    /// Most the low-group tone may exceed the high-group tone by, dB (normal twist; default 8). Checked on
    /// the levels averaged over the windows that start a digit, with 1 dB allowed for measurement error.
    pub normal_twist_db: f32,
    /// Most the high-group tone may exceed the low-group tone by, dB (reverse twist; default 4), checked
    /// like the normal twist.
    pub reverse_twist_db: f32,
    /// Least each tone must exceed every other tone of its group by, dB (default 6).
    pub min_group_margin_db: f32,
    /// Least share of the window's energy the two tones must hold together, 0–1 (default 0.75; 4.8 dB
    /// of signal over everything else).
    pub min_tone_energy_share: f32,
    /// Least each tone must exceed its own second harmonic by, dB (default 10).
    pub min_harmonic_margin_db: f32,
    /// Largest deviation of either tone from its nominal frequency, as a fraction (default 0.021: Q.24 asks
    /// to accept 1.5% + 2 Hz and reject 3.5%; the margin above 1.5% + 2 Hz covers the measurement error,
    /// and staying low keeps dual-tone glides at musical intervals, which pass close to keypad pairs, out).
    pub max_frequency_deviation: f32,
}

impl Default for DtmfDetectorConfig {
    fn default() -> Self {
        DtmfDetectorConfig {
            min_tone_level_dbm0: -32.0,
            normal_twist_db: 8.0,
            reverse_twist_db: 4.0,
            min_group_margin_db: 6.0,
            min_tone_energy_share: 0.75,
            min_harmonic_margin_db: 10.0,
            max_frequency_deviation: 0.021,
        }
    }
}

/// A digit's start or end, with the sample offset (counted from the first sample fed) where the detector
/// places it. Offsets are accurate to about half a window; the report itself comes later than the offset,
/// by the time the detector needs to be sure (about 34 ms for a start, 25 ms for an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtmfEvent {
    /// A digit began.
    DigitStarted {
        /// The digit.
        digit: DtmfDigit,
        /// Sample offset of its start.
        sample_offset: u64,
    },
    /// A digit ended.
    DigitEnded {
        /// The digit.
        digit: DtmfDigit,
        /// Sample offset of its end.
        sample_offset: u64,
    },
}

/// One Goertzel resonator's constants.
#[derive(Debug, Clone, Copy)]
struct Bin {
    frequency: f32,
    coefficient: f32,
    cos: f32,
    sin: f32,
    /// Phase a tone exactly at this frequency advances by between two windows.
    hop_rotation: f32,
}

impl Bin {
    fn new(frequency: f32) -> Self {
        let omega = TAU * frequency / SAMPLE_RATE;
        Bin {
            frequency,
            coefficient: 2.0 * omega.cos(),
            cos: omega.cos(),
            sin: omega.sin(),
            hop_rotation: omega * HOP_SAMPLES as f32,
        }
    }
}

/// A complex Goertzel output.
#[derive(Debug, Clone, Copy, Default)]
struct Phasor {
    re: f32,
    im: f32,
}

impl Phasor {
    /// Estimated power of a sine at the bin frequency, in squared sample units (A²/2 for amplitude A).
    fn power(self) -> f32 {
        2.0 * (self.re * self.re + self.im * self.im) / (WINDOW_SAMPLES * WINDOW_SAMPLES) as f32
    }

    /// Angle of `self` relative to `earlier`.
    fn angle_since(self, earlier: Phasor) -> f32 {
        let re = self.re * earlier.re + self.im * earlier.im;
        let im = self.im * earlier.re - self.re * earlier.im;
        im.atan2(re)
    }
}

/// Wraps an angle into (-π, π].
fn wrap_angle(angle: f32) -> f32 {
    angle - TAU * (angle / TAU).round()
}

/// A window that passed every level test.
#[derive(Debug, Clone, Copy)]
struct Hit {
    digit: DtmfDigit,
    row: usize,
    column: usize,
    row_power: f32,
    column_power: f32,
}

/// A run of consecutive hits for one digit.
#[derive(Debug, Clone, Copy)]
struct Run {
    digit: DtmfDigit,
    row: usize,
    column: usize,
    hits: u32,
    first_window_start: u64,
    /// Phase (radians) the row and column tones gained beyond their nominal frequencies in each of the last
    /// hops of the run, a ring written at `next_drift`.
    drifts: [[f32; 2]; DRIFT_HISTORY],
    next_drift: usize,
    /// Sums over the run of each tone's power.
    row_power: f32,
    column_power: f32,
    /// Whether the run has already been accepted (or was the digit already sounding).
    accepted: bool,
}

/// The digit currently reported as sounding.
#[derive(Debug, Clone, Copy)]
struct Active {
    digit: DtmfDigit,
    last_hit_end: u64,
    misses: u32,
}

/// Thresholds as linear ratios.
#[derive(Debug, Clone, Copy)]
struct Limits {
    min_power: f32,
    normal_twist: f32,
    reverse_twist: f32,
    window_twist_allowance: f32,
    group_margin: f32,
    energy_share: f32,
    harmonic_margin: f32,
    frequency_deviation: f32,
}

impl Limits {
    fn new(config: &DtmfDetectorConfig) -> Self {
        let ratio = |db: f32| 10f32.powf(db / 10.0);
        let amplitude = dbm0_to_amplitude(config.min_tone_level_dbm0);
        Limits {
            min_power: amplitude * amplitude / 2.0,
            normal_twist: ratio(config.normal_twist_db + RUN_TWIST_ALLOWANCE_DB),
            reverse_twist: ratio(config.reverse_twist_db + RUN_TWIST_ALLOWANCE_DB),
            window_twist_allowance: ratio(WINDOW_TWIST_ALLOWANCE_DB - RUN_TWIST_ALLOWANCE_DB),
            group_margin: ratio(config.min_group_margin_db),
            energy_share: config.min_tone_energy_share,
            harmonic_margin: ratio(config.min_harmonic_margin_db),
            frequency_deviation: config.max_frequency_deviation,
        }
    }
}

/// Streaming in-band DTMF detector for one 8 kHz channel: feed samples in chunks of any size with
/// [`handle_samples`](Self::handle_samples), then drain [`DtmfEvent`]s with [`poll_event`](Self::poll_event).
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    limits: Limits,
    /// Row bins then column bins.
    bins: [Bin; 8],
    /// Second harmonics of the same frequencies.
    harmonics: [Bin; 8],
    /// The same frequencies moved down and up to the edge of the Q.24 acceptance band.
    detuned: [[Bin; 2]; 8],
    /// `e^(-iωjH)` for each bin and each block `j` of a window (0 the oldest).
    block_rotations: [[Phasor; BLOCKS]; 8],
    /// The last window's samples, stored twice so the window is always one contiguous slice; only the
    /// extra bins of a window that looks like a digit are computed from them.
    history: [f32; 2 * WINDOW_SAMPLES],
    write_at: usize,
    samples_seen: u64,
    /// Goertzel state of the block being filled.
    s1: [f32; 8],
    s2: [f32; 8],
    block_energy: f32,
    in_block: usize,
    /// Goertzel outputs and energies of the last `BLOCKS` blocks, a ring written at `next_block`.
    blocks: [[Phasor; 8]; BLOCKS],
    block_energies: [f32; BLOCKS],
    next_block: usize,
    blocks_seen: usize,
    previous: [Phasor; 8],
    run: Option<Run>,
    active: Option<Active>,
    events: VecDeque<DtmfEvent>,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DtmfDetector {
    /// A detector with the default thresholds.
    pub fn new() -> Self {
        Self::with_config(DtmfDetectorConfig::default())
    }

    /// A detector with the given thresholds.
    pub fn with_config(config: DtmfDetectorConfig) -> Self {
        let frequency = |index: usize| -> f32 {
            let rows = ROW_FREQUENCIES.iter();
            rows.chain(COLUMN_FREQUENCIES.iter())
                .nth(index)
                .copied()
                .unwrap_or(0.0)
        };
        let bins: [Bin; 8] = std::array::from_fn(|i| Bin::new(frequency(i)));
        DtmfDetector {
            limits: Limits::new(&config),
            block_rotations: std::array::from_fn(|i| {
                let omega = TAU * bins[i].frequency / SAMPLE_RATE;
                std::array::from_fn(|j| {
                    let angle = -omega * (j * HOP_SAMPLES) as f32;
                    Phasor {
                        re: angle.cos(),
                        im: angle.sin(),
                    }
                })
            }),
            bins,
            harmonics: std::array::from_fn(|i| Bin::new(2.0 * frequency(i))),
            detuned: std::array::from_fn(|i| {
                let f = frequency(i);
                let shift = f * ACCEPTED_DEVIATION + ACCEPTED_DEVIATION_HZ;
                [Bin::new(f - shift), Bin::new(f + shift)]
            }),
            history: [0.0; 2 * WINDOW_SAMPLES],
            write_at: 0,
            samples_seen: 0,
            s1: [0.0; 8],
            s2: [0.0; 8],
            block_energy: 0.0,
            in_block: 0,
            blocks: [[Phasor::default(); 8]; BLOCKS],
            block_energies: [0.0; BLOCKS],
            next_block: 0,
            blocks_seen: 0,
            previous: [Phasor::default(); 8],
            run: None,
            active: None,
            events: VecDeque::with_capacity(4),
        }
    }

    /// Feeds the next samples of the channel.
    pub fn handle_samples(&mut self, samples: &[i16]) {
        for &sample in samples {
            let value = f32::from(sample);
            if let Some(slot) = self.history.get_mut(self.write_at) {
                *slot = value;
            }
            if let Some(slot) = self.history.get_mut(self.write_at + WINDOW_SAMPLES) {
                *slot = value;
            }
            self.write_at = (self.write_at + 1) % WINDOW_SAMPLES;
            self.samples_seen += 1;
            self.block_energy += value * value;
            for ((s1, s2), bin) in self.s1.iter_mut().zip(self.s2.iter_mut()).zip(&self.bins) {
                let s0 = value + bin.coefficient * *s1 - *s2;
                *s2 = *s1;
                *s1 = s0;
            }
            self.in_block += 1;
            if self.in_block == HOP_SAMPLES {
                self.close_block();
            }
        }
    }

    /// Stores the finished block's Goertzel outputs and, once a window's worth of blocks is in, analyses it.
    fn close_block(&mut self) {
        let outputs: [Phasor; 8] = std::array::from_fn(|i| Phasor {
            re: self.s1[i] - self.bins[i].cos * self.s2[i],
            im: self.bins[i].sin * self.s2[i],
        });
        if let Some(slot) = self.blocks.get_mut(self.next_block) {
            *slot = outputs;
        }
        if let Some(slot) = self.block_energies.get_mut(self.next_block) {
            *slot = self.block_energy;
        }
        self.next_block = (self.next_block + 1) % BLOCKS;
        self.s1 = [0.0; 8];
        self.s2 = [0.0; 8];
        self.block_energy = 0.0;
        self.in_block = 0;
        self.blocks_seen = (self.blocks_seen + 1).min(BLOCKS);
        if self.blocks_seen == BLOCKS {
            self.handle_window();
        }
    }

    /// Ends a digit still sounding, e.g. at the end of a recording.
    pub fn flush(&mut self) {
        if let Some(active) = self.active.take() {
            self.events.push_back(DtmfEvent::DigitEnded {
                digit: active.digit,
                sample_offset: active.last_hit_end,
            });
        }
        self.run = None;
    }

    /// The next start or end, oldest first.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    /// The digit currently sounding, if any.
    pub fn active_digit(&self) -> Option<DtmfDigit> {
        self.active.map(|a| a.digit)
    }

    /// Samples fed so far.
    pub fn samples_seen(&self) -> u64 {
        self.samples_seen
    }

    fn handle_window(&mut self) {
        let window_end = self.samples_seen;
        let window_start = window_end - WINDOW_SAMPLES as u64;
        let (phasors, energy) = self.window_outputs();
        let window = self
            .history
            .get(self.write_at..self.write_at + WINDOW_SAMPLES)
            .unwrap_or(&[]);
        let hit = self.classify(window, &phasors, energy);
        self.update_run(hit, &phasors, window_start);
        self.previous = phasors;
        self.update_active(hit.map(|h| h.digit), window_end);
        self.maybe_start(window_end);
    }

    /// The eight Goertzel outputs of the window (its blocks' outputs, each rotated to the window's start; the
    /// result differs from a Goertzel over the whole window only by a constant phase per bin) and its energy.
    fn window_outputs(&self) -> ([Phasor; 8], f32) {
        let mut outputs = [Phasor::default(); 8];
        for j in 0..BLOCKS {
            let Some(block) = self.blocks.get((self.next_block + j) % BLOCKS) else {
                continue;
            };
            for ((output, value), rotations) in
                outputs.iter_mut().zip(block).zip(&self.block_rotations)
            {
                if let Some(rotation) = rotations.get(j) {
                    output.re += rotation.re * value.re - rotation.im * value.im;
                    output.im += rotation.re * value.im + rotation.im * value.re;
                }
            }
        }
        (outputs, self.block_energies.iter().sum())
    }

    /// The digit `window` holds, with its row and column, if it passes every level test.
    fn classify(&self, window: &[f32], phasors: &[Phasor; 8], energy: f32) -> Option<Hit> {
        let powers: [f32; 8] = std::array::from_fn(|i| phasors[i].power());
        let (row_powers, column_powers) = powers.split_at(4);
        let row = strongest(row_powers)?;
        let column = strongest(column_powers)?;
        let limits = &self.limits;
        if *row_powers.get(row)? < limits.min_power
            || *column_powers.get(column)? < limits.min_power
        {
            return None;
        }
        if !stands_clear(row_powers, row, limits.group_margin)
            || !stands_clear(column_powers, column, limits.group_margin)
        {
            return None;
        }
        let [row_low, row_high] = self.detuned.get(row)?;
        let [column_low, column_high] = self.detuned.get(4 + column)?;
        let row_harmonic = self.harmonics.get(row)?;
        let column_harmonic = self.harmonics.get(4 + column)?;
        // One pass over the window for the six extra bins.
        let [
            row_low,
            row_high,
            column_low,
            column_high,
            row_harmonic_power,
            column_harmonic_power,
        ] = goertzel_powers(
            window,
            [
                row_low,
                row_high,
                column_low,
                column_high,
                row_harmonic,
                column_harmonic,
            ],
        );
        // A tone at the edge of the accepted band loses up to 1.7 dB in the nominal bin of a 102-sample
        // window; the bins detuned to the band's edges catch it.
        let row_power = row_powers.get(row)?.max(row_low).max(row_high);
        let column_power = column_powers.get(column)?.max(column_low).max(column_high);
        let allowance = limits.window_twist_allowance;
        if row_power > column_power * limits.normal_twist * allowance
            || column_power > row_power * limits.reverse_twist * allowance
        {
            return None;
        }
        let total_power = energy / WINDOW_SAMPLES as f32;
        if row_power + column_power < limits.energy_share * total_power {
            return None;
        }
        let harmonics = [row_harmonic_power, column_harmonic_power];
        if !self.harmonics_are_weak(row, column, [row_power, column_power], harmonics) {
            return None;
        }
        Some(Hit {
            digit: DtmfDigit::at_keypad_position(row, column)?,
            row,
            column,
            row_power,
            column_power,
        })
    }

    /// Whether both tones exceed their second harmonics by the margin. A row tone's harmonic falls within two
    /// bins of some column tones (2 × 697 Hz = 1394 Hz, 58 Hz from 1336 Hz); that column tone leaks into the
    /// harmonic's bin, so the row harmonic is only checked when the column tone is further away.
    fn harmonics_are_weak(
        &self,
        row: usize,
        column: usize,
        powers: [f32; 2],
        harmonics: [f32; 2],
    ) -> bool {
        let resolution = 2.0 * SAMPLE_RATE / WINDOW_SAMPLES as f32;
        let (Some(row_harmonic), Some(column_bin)) =
            (self.harmonics.get(row), self.bins.get(4 + column))
        else {
            return false;
        };
        let margin = self.limits.harmonic_margin;
        let row_checked = (row_harmonic.frequency - column_bin.frequency).abs() > resolution;
        if row_checked && harmonics[0] * margin > powers[0] {
            return false;
        }
        harmonics[1] * margin <= powers[1]
    }

    fn update_run(&mut self, hit: Option<Hit>, phasors: &[Phasor; 8], window_start: u64) {
        let Some(hit) = hit else {
            self.run = None;
            return;
        };
        let row_drift = self.drift(phasors, hit.row);
        let column_drift = self.drift(phasors, 4 + hit.column);
        match self.run.as_mut() {
            Some(run) if run.digit == hit.digit => {
                run.hits += 1;
                if let Some(slot) = run.drifts.get_mut(run.next_drift) {
                    *slot = [row_drift, column_drift];
                }
                run.next_drift = (run.next_drift + 1) % DRIFT_HISTORY;
                run.row_power += hit.row_power;
                run.column_power += hit.column_power;
            }
            _ => {
                self.run = Some(Run {
                    digit: hit.digit,
                    row: hit.row,
                    column: hit.column,
                    hits: 1,
                    first_window_start: window_start,
                    drifts: [[0.0; 2]; DRIFT_HISTORY],
                    next_drift: 0,
                    row_power: hit.row_power,
                    column_power: hit.column_power,
                    accepted: false,
                });
            }
        }
    }

    /// Phase bin `index` gained since the previous window beyond what its nominal frequency explains.
    fn drift(&self, phasors: &[Phasor; 8], index: usize) -> f32 {
        let (Some(now), Some(before), Some(bin)) = (
            phasors.get(index),
            self.previous.get(index),
            self.bins.get(index),
        ) else {
            return 0.0;
        };
        wrap_angle(now.angle_since(*before) - bin.hop_rotation)
    }

    fn update_active(&mut self, digit: Option<DtmfDigit>, window_end: u64) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        if digit == Some(active.digit) {
            active.last_hit_end = window_end;
            active.misses = 0;
            return;
        }
        active.misses += 1;
        if active.misses >= MAX_MISSES {
            self.flush_active();
        }
    }

    fn flush_active(&mut self) {
        if let Some(active) = self.active.take() {
            self.events.push_back(DtmfEvent::DigitEnded {
                digit: active.digit,
                sample_offset: active.last_hit_end,
            });
        }
    }

    fn maybe_start(&mut self, window_end: u64) {
        let Some(run) = self.run else {
            return;
        };
        if run.accepted || run.hits < MIN_HITS {
            return;
        }
        if self.active.is_some_and(|a| a.digit == run.digit) {
            self.mark_run_accepted();
            return;
        }
        if !self.frequencies_in_tolerance(&run) || !self.twist_in_limits(&run) {
            return;
        }
        self.mark_run_accepted();
        self.flush_active();
        self.active = Some(Active {
            digit: run.digit,
            last_hit_end: window_end,
            misses: 0,
        });
        self.events.push_back(DtmfEvent::DigitStarted {
            digit: run.digit,
            sample_offset: run.first_window_start,
        });
    }

    fn mark_run_accepted(&mut self) {
        if let Some(run) = self.run.as_mut() {
            run.accepted = true;
        }
    }

    /// Whether the tone levels averaged over the run are within the twist limits.
    fn twist_in_limits(&self, run: &Run) -> bool {
        run.row_power <= run.column_power * self.limits.normal_twist
            && run.column_power <= run.row_power * self.limits.reverse_twist
    }

    /// Whether the phase drift over the last hops of the run puts both tones within the frequency tolerance,
    /// in each half of those hops: a stable tone passes, a sweep only passing through the band on average
    /// does not.
    fn frequencies_in_tolerance(&self, run: &Run) -> bool {
        let half = DRIFT_HISTORY / 2;
        let to_hz = SAMPLE_RATE / (TAU * HOP_SAMPLES as f32 * half as f32);
        let chronological =
            (0..DRIFT_HISTORY).filter_map(|i| run.drifts.get((run.next_drift + i) % DRIFT_HISTORY));
        let mut sums = [[0f32; 2]; 2];
        for (i, drift) in chronological.enumerate() {
            let sum = if i < half { &mut sums[0] } else { &mut sums[1] };
            sum[0] += drift[0];
            sum[1] += drift[1];
        }
        let within = |drift: f32, index: usize| {
            self.bins.get(index).is_some_and(|bin| {
                (drift * to_hz).abs() <= bin.frequency * self.limits.frequency_deviation
            })
        };
        sums.iter()
            .all(|sum| within(sum[0], run.row) && within(sum[1], 4 + run.column))
    }
}

/// Index of the largest power.
fn strongest(powers: &[f32]) -> Option<usize> {
    powers
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(index, _)| index)
}

/// Whether `powers[best]` exceeds every other power by `margin`.
fn stands_clear(powers: &[f32], best: usize, margin: f32) -> bool {
    let Some(&peak) = powers.get(best) else {
        return false;
    };
    powers
        .iter()
        .enumerate()
        .all(|(index, &power)| index == best || power * margin <= peak)
}

/// Powers of `window` at each of `bins` (same scale as [`Phasor::power`]), in one pass so the resonators'
/// dependency chains overlap.
fn goertzel_powers<const K: usize>(window: &[f32], bins: [&Bin; K]) -> [f32; K] {
    let mut s1 = [0f32; K];
    let mut s2 = [0f32; K];
    for &x in window {
        for ((s1, s2), bin) in s1.iter_mut().zip(s2.iter_mut()).zip(bins) {
            let s0 = x + bin.coefficient * *s1 - *s2;
            *s2 = *s1;
            *s1 = s0;
        }
    }
    std::array::from_fn(|i| {
        Phasor {
            re: s1[i] - bins[i].cos * s2[i],
            im: bins[i].sin * s2[i],
        }
        .power()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(frequency: f32, amplitude: f32, samples: usize) -> Vec<f32> {
        (0..samples)
            .map(|n| amplitude * (TAU * frequency * n as f32 / SAMPLE_RATE).sin())
            .collect()
    }

    #[test]
    fn goertzel_power_of_a_sine_at_the_bin_is_half_its_squared_amplitude() {
        let window = sine(697.0, 1000.0, WINDOW_SAMPLES);
        let power = goertzel_powers(&window, [&Bin::new(697.0)])[0];
        assert!((power / 500_000.0 - 1.0).abs() < 0.02, "power {power}");
    }

    #[test]
    fn goertzel_leaks_little_between_adjacent_rows() {
        let window = sine(770.0, 1000.0, WINDOW_SAMPLES);
        let leak = goertzel_powers(&window, [&Bin::new(697.0)])[0];
        let own = goertzel_powers(&window, [&Bin::new(770.0)])[0];
        assert!(leak * 10f32.powf(1.5) < own, "leak {leak} own {own}");
    }

    #[test]
    fn phase_drift_over_a_run_measures_the_frequency_offset() {
        let bin = Bin::new(1000.0);
        let hops = 10;
        let signal = sine(1012.0, 1000.0, WINDOW_SAMPLES + hops * HOP_SAMPLES);
        let phasor = |start: usize| {
            let (mut s1, mut s2) = (0f32, 0f32);
            for &x in &signal[start..start + WINDOW_SAMPLES] {
                let s0 = x + bin.coefficient * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            Phasor {
                re: s1 - bin.cos * s2,
                im: bin.sin * s2,
            }
        };
        let mut detector = DtmfDetector::new();
        detector.bins[0] = bin;
        let mut total_drift = 0.0;
        for hop in 1..=hops {
            detector.previous[0] = phasor((hop - 1) * HOP_SAMPLES);
            let mut phasors = [Phasor::default(); 8];
            phasors[0] = phasor(hop * HOP_SAMPLES);
            total_drift += detector.drift(&phasors, 0);
        }
        let offset_hz = total_drift * SAMPLE_RATE / (TAU * (hops * HOP_SAMPLES) as f32);
        assert!((offset_hz - 12.0).abs() < 0.5, "offset {offset_hz}");
    }

    #[test]
    fn wraps_angles_into_half_turns() {
        assert!((wrap_angle(TAU + 0.5) - 0.5).abs() < 1e-5);
        assert!((wrap_angle(-TAU - 0.5) + 0.5).abs() < 1e-5);
    }

    #[test]
    fn silence_produces_nothing() {
        let mut detector = DtmfDetector::new();
        detector.handle_samples(&[0; 8000]);
        detector.flush();
        assert_eq!(detector.poll_event(), None);
        assert_eq!(detector.samples_seen(), 8000);
    }

    #[test]
    fn full_scale_square_wave_produces_nothing() {
        let square: Vec<i16> = (0..8000)
            .map(|n| if (n / 6) % 2 == 0 { 32767 } else { -32768 })
            .collect();
        let mut detector = DtmfDetector::new();
        detector.handle_samples(&square);
        detector.flush();
        assert_eq!(detector.poll_event(), None);
    }
}
