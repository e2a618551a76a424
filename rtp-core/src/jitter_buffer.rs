//! An adaptive jitter buffer for one RTP media stream, sans-IO.
//!
//! The caller [`push`](JitterBuffer::push)es each received packet with its arrival time, and on every tick of
//! its playout clock (once per packet interval, e.g. every 20 ms) calls [`pop`](JitterBuffer::pop), which
//! returns at most one [`Playout`]: the next [`MediaFrame`] once its playout time has come, a
//! [`Playout::Lost`] placeholder for packet loss concealment, or [`Playout::Empty`] when there is nothing to
//! play yet (before the first packet, during a DTX/comfort-noise pause, or on an underrun). Time comes only
//! from the caller; [`poll_timeout`](JitterBuffer::poll_timeout) says when the next item is due.
//!
//! How it decides, in RTP terms (RFC 3550 §6.4.1, RFC 3551 §4.1):
//! - **Schedule.** A packet with RTP timestamp `ts` plays at `ts` (in seconds, through the clock rate) plus a
//!   playout offset. The offset is the smallest recent transit time (arrival minus timestamp) plus the target
//!   delay, so the fastest packets wait the target delay and slower ones less.
//! - **Adaptive target.** The target delay is a percentile (95th by default) of the recent transit times
//!   above the smallest one, bounded by [`JitterBufferConfig::min_delay`] and
//!   [`JitterBufferConfig::max_delay`]: with it, that share of packets arrives in time.
//! - **When the delay changes.** It shrinks only at the start of a talkspurt — a packet with the marker bit,
//!   or one whose timestamp jumps past the expected one by more than a frame without a sequence gap — so
//!   speech is never cut in the middle. It grows at once when it must: when a packet arrives too late to
//!   play (the schedule moves later to the new target, and `pop` answers `Empty` for the difference), and
//!   after an underrun — the next packet due with nothing at all buffered — where the buffer waits and, when
//!   audio comes back, moves the schedule later by the time waited (never beyond `max_delay`).
//! - **Loss.** A sequence number that is missing when it is due while a later one is buffered is reported as
//!   [`Playout::Lost`], with its timestamp estimated from the packet interval seen so far.
//! - **DTX.** A timestamp jump without a sequence gap is a pause, not a loss: the buffer answers `Empty`
//!   until the next packet's playout time.
//! - **Drops.** Duplicates; packets older than what has already been played or reported lost; packets whose
//!   delay would exceed `max_delay` ("late"). The buffer holds at most [`JitterBufferConfig::capacity`]
//!   packets, indexed by sequence number; a packet too far ahead of or behind the playout point starts a
//!   new stream if the next packet continues it (the RFC 3550 appendix A.1 probation rule), and is dropped
//!   otherwise.
//! - **Wrap-around.** Sequence numbers and timestamps are extended past their 16- and 32-bit wrap.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use tandem_rtp_core::jitter_buffer::{JitterBuffer, JitterBufferConfig, MediaFrame, Playout, PushOutcome};
//!
//! let mut buffer = JitterBuffer::new(JitterBufferConfig::new(8000));
//! let start = Instant::now();
//! let frame = MediaFrame { sequence: 1, timestamp: 160, marker: true, payload: Bytes::from_static(&[0xFF; 160]) };
//! assert_eq!(buffer.push(start, frame), PushOutcome::Buffered);
//! assert_eq!(buffer.pop(start), Playout::Empty); // held for the initial delay
//! assert!(matches!(buffer.pop(start + Duration::from_millis(60)), Playout::Frame(f) if f.sequence == 1));
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;

/// How many recent transit times the adaptive target is computed from (≈ 2.5 s of 20 ms packets).
const TRANSIT_WINDOW: usize = 128;

/// Below this many transit samples the measured spread means little, so the initial delay is used.
const TRANSIT_WARM_UP: usize = 16;

/// Packet intervals above this (in time) are DTX pauses, not frame durations (Opus frames are ≤ 120 ms).
const MAX_FRAME_DURATION: Duration = Duration::from_millis(120);

/// How far behind the playout point a packet still counts as late rather than out of range (RFC 3550
/// appendix A.1 uses the same bound for misordering); at least the capacity.
const MAX_MISORDER: i64 = 100;

/// Times and timeline positions are kept within ±2^56 µs (over 2000 years), so sums of a few never overflow.
const TIME_LIMIT: i64 = 1 << 56;

/// Settings of a [`JitterBuffer`]. Values out of range are clamped by [`JitterBuffer::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JitterBufferConfig {
    /// RTP clock rate of the stream in Hz (8000 for G.711, 48000 for Opus).
    pub clock_rate: u32,
    /// Packet duration assumed until the stream shows its own (the SDP `ptime`).
    pub frame_duration: Duration,
    /// Smallest playout delay the buffer adapts down to.
    pub min_delay: Duration,
    /// Delay used until enough packets have been seen to measure jitter.
    pub initial_delay: Duration,
    /// Largest playout delay; packets that would need more are dropped as late.
    pub max_delay: Duration,
    /// Share of packets, in percent (50–100), that the adaptive delay lets arrive in time.
    pub percentile: u8,
    /// Most packets held at once (4–4096); also how far ahead of the playout point a packet may be.
    pub capacity: usize,
}

impl JitterBufferConfig {
    /// Defaults for a voice stream with the given RTP clock rate: 20 ms packets, delay between 20 and
    /// 400 ms starting at 60 ms, 95th percentile, room for 128 packets.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            frame_duration: Duration::from_millis(20),
            min_delay: Duration::from_millis(20),
            initial_delay: Duration::from_millis(60),
            max_delay: Duration::from_millis(400),
            percentile: 95,
            capacity: 128,
        }
    }

    /// The same settings with every value brought into its documented range.
    fn clamped(mut self) -> Self {
        self.clock_rate = self.clock_rate.clamp(1, 1_000_000);
        self.frame_duration = self
            .frame_duration
            .clamp(Duration::from_micros(125), MAX_FRAME_DURATION);
        self.max_delay = self.max_delay.min(Duration::from_secs(10));
        self.min_delay = self.min_delay.min(self.max_delay);
        self.initial_delay = self.initial_delay.clamp(self.min_delay, self.max_delay);
        self.percentile = self.percentile.clamp(50, 100);
        self.capacity = self.capacity.clamp(4, 4096);
        self
    }
}

/// One RTP packet's media as the buffer stores and plays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFrame {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp, in units of the clock rate.
    pub timestamp: u32,
    /// RTP marker bit: for audio, the first packet of a talkspurt (RFC 3551 §4.1).
    pub marker: bool,
    /// The RTP payload, shared with the received datagram.
    pub payload: Bytes,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout.
    Buffered,
    /// Dropped: the same sequence number is buffered or was already played.
    Duplicate,
    /// Dropped: its turn has passed (played past or reported lost), or it would exceed the maximum delay.
    Late,
    /// Dropped: too far from the playout point to belong to the stream; if the next packet continues it,
    /// that one starts a new stream.
    OutOfRange,
    /// Stored as the first packet of a new stream: it continued an out-of-range packet, so the sender
    /// restarted or jumped. Everything buffered before was discarded.
    Resynchronized,
}

/// The next item to play, from [`JitterBuffer::pop`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// A received packet, now due.
    Frame(MediaFrame),
    /// A packet that never arrived in time; conceal `samples` samples (e.g. with the codec's PLC).
    Lost {
        /// The missing sequence number.
        sequence: u16,
        /// Its estimated RTP timestamp.
        timestamp: u32,
        /// Its estimated duration, in samples of the clock rate.
        samples: u32,
    },
    /// Nothing to play now: not started, a DTX pause, an underrun, or the delay growing. A caller that just
    /// played speech typically conceals a few of these (PLC) and then fades to comfort noise.
    Empty,
}

/// Counters and the current delays, from [`JitterBuffer::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JitterBufferStats {
    /// Packets stored (including those later dropped as late).
    pub buffered: u64,
    /// Frames returned by `pop`.
    pub played: u64,
    /// Sequence numbers reported lost, or skipped because they would have exceeded the maximum delay.
    pub lost: u64,
    /// Packets dropped because their turn had passed.
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicates: u64,
    /// Packets dropped as out of range.
    pub out_of_range: u64,
    /// New streams started after an out-of-range jump.
    pub resyncs: u64,
    /// The delay the next talkspurt will start with.
    pub target_delay: Duration,
    /// The delay in force now: playout time minus the fastest transit.
    pub playout_delay: Duration,
}

/// A stored packet with its sequence number and timestamp extended past wrap-around.
#[derive(Debug, Clone)]
struct Slot {
    sequence: i64,
    timestamp: i64,
    frame: MediaFrame,
}

/// The adaptive jitter buffer; see the [module documentation](self).
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterBufferConfig,
    /// Packets by extended sequence number modulo the capacity; all within `[next, next + capacity)`.
    slots: Vec<Option<Slot>>,
    /// Instant the caller's clock is measured from (the first packet's arrival), in microseconds.
    epoch: Option<Instant>,
    stream: Option<Stream>,
    transits: TransitWindow,
    /// The sequence number after the last out-of-range packet: receiving it starts a new stream.
    probation: Option<u16>,
    stats: JitterBufferStats,
}

/// Playout state of the current stream (reset on resynchronization).
#[derive(Debug, Clone, Copy)]
struct Stream {
    /// Extended sequence number of the next item to play.
    next: i64,
    /// Highest extended sequence number stored.
    highest: i64,
    /// Extended timestamp the next item is expected at, if a frame has been played.
    expected_timestamp: i64,
    /// Extended timestamp of the stream's first packet: the origin of the microsecond timeline.
    timestamp_origin: i64,
    /// Last accepted extended timestamp, the reference for extending the next one.
    timestamp_reference: i64,
    /// Samples per packet, learned from consecutive frames.
    samples_per_frame: i64,
    /// Interval between the last two consecutive frames: the packet interval once seen twice in a row.
    candidate_interval: i64,
    /// Microseconds added to a timestamp's time to get its playout time.
    offset: i64,
    /// Sequence number whose talkspurt the offset was last set for.
    anchored: Option<i64>,
    /// Playout end of the last item returned, in microseconds: a new talkspurt may not start before it.
    /// `None` until the first item is returned.
    played_until: Option<i64>,
    /// Whether the last item returned was a frame that immediately preceded `next`.
    last_was_frame: bool,
    /// Set while a due item is missing with nothing buffered after it.
    underrun: bool,
    /// Bit i set: sequence `next - 1 - i` was played (for telling duplicates from late packets).
    played_history: u64,
}

impl JitterBuffer {
    /// A buffer with the given settings, clamped into range. It allocates its slots once, here.
    pub fn new(config: JitterBufferConfig) -> Self {
        let config = config.clamped();
        Self {
            slots: vec![None; config.capacity],
            config,
            epoch: None,
            stream: None,
            transits: TransitWindow::new(),
            probation: None,
            stats: JitterBufferStats::default(),
        }
    }

    /// The settings in force (after clamping).
    pub fn config(&self) -> &JitterBufferConfig {
        &self.config
    }

    /// Counters, the target delay and the delay in force.
    pub fn stats(&self) -> JitterBufferStats {
        let mut stats = self.stats.clone();
        stats.target_delay = self.target_delay();
        stats.playout_delay = self
            .stream
            .as_ref()
            .zip(self.transits.min())
            .map_or(Duration::ZERO, |(stream, min)| micros(stream.offset - min));
        stats
    }

    /// The delay the next talkspurt will start with: the configured percentile of recent transit times above
    /// the smallest one, within the configured bounds.
    pub fn target_delay(&self) -> Duration {
        let measured = self.transits.spread(self.config.percentile);
        match measured {
            Some(spread) => micros(spread).clamp(self.config.min_delay, self.config.max_delay),
            None => self.config.initial_delay,
        }
    }

    /// Offers a received packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, frame: MediaFrame) -> PushOutcome {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = micros_since(epoch, now);
        let Some(stream) = self.stream.as_mut() else {
            self.start_stream(arrival, frame);
            return PushOutcome::Buffered;
        };
        let capacity = self.slots.len() as i64;
        let sequence = extend_sequence(stream.next, frame.sequence);
        let behind = stream.next - sequence;
        if behind > 0 && stream.played_until.is_none() && stream.highest - sequence < capacity {
            // Nothing played yet: a packet reordered before the first one simply moves the start back.
            stream.next = sequence;
        } else if behind > 0 && behind <= MAX_MISORDER.max(capacity) {
            // Too late to play, but its transit is exactly the jitter the delay must adapt to.
            self.record_transit(arrival, frame.timestamp);
            return self.drop_old(behind);
        } else if behind > 0 || sequence - stream.next >= capacity {
            return self.out_of_range(arrival, frame);
        }
        self.probation = None;
        self.store(arrival, sequence, frame)
    }

    /// Returns what to play at `now`: at most one item, in sequence order.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let Some(epoch) = self.epoch else {
            return Playout::Empty;
        };
        let now = micros_since(epoch, now);
        // Each turn either returns or skips one sequence number, so this ends within the capacity.
        for _ in 0..=self.slots.len() {
            match self.pop_next(now) {
                Step::Return(playout) => return playout,
                Step::Skipped => continue,
            }
        }
        Playout::Empty
    }

    /// When the next item becomes due, if the buffer knows: the next frame's playout time, or a missing
    /// packet's when a later one is buffered. `None` when empty or waiting on an underrun. The time can move
    /// later when `pop` starts a talkspurt on the new target delay; calling `pop` then is harmless.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let epoch = self.epoch?;
        let stream = self.stream.as_ref()?;
        let due = match self.slot(stream.next) {
            Some(slot) => self.due(stream, slot.timestamp),
            None if stream.highest > stream.next => self.due(stream, stream.expected_timestamp),
            None => return None,
        };
        Some(epoch + micros(due))
    }

    /// Sets up a stream whose first packet is `frame`.
    fn start_stream(&mut self, arrival: i64, frame: MediaFrame) {
        let sequence = i64::from(frame.sequence);
        let timestamp = i64::from(frame.timestamp);
        let samples_per_frame =
            duration_to_samples(self.config.frame_duration, self.config.clock_rate);
        self.slots.iter_mut().for_each(|slot| *slot = None);
        self.transits = TransitWindow::new();
        self.probation = None;
        let mut stream = Stream {
            next: sequence,
            highest: sequence,
            expected_timestamp: timestamp,
            timestamp_origin: timestamp,
            timestamp_reference: timestamp,
            samples_per_frame,
            candidate_interval: 0,
            offset: 0,
            anchored: None,
            played_until: None,
            last_was_frame: false,
            underrun: false,
            played_history: 0,
        };
        let transit = arrival - self.timestamp_micros(&stream, timestamp);
        stream.offset = transit + duration_micros(self.config.initial_delay);
        self.transits.push(transit);
        self.stream = Some(stream);
        self.put(sequence, timestamp, frame);
    }

    /// Stores a packet that falls within the window, unless it is a duplicate or hopelessly late.
    fn store(&mut self, arrival: i64, sequence: i64, frame: MediaFrame) -> PushOutcome {
        if self.slot(sequence).is_some() {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        let Some((timestamp, transit)) = self.record_transit(arrival, frame.timestamp) else {
            return PushOutcome::OutOfRange;
        };
        if self.exceeds_max_delay(transit) {
            self.stats.late += 1;
            self.grow_delay();
            return PushOutcome::Late;
        }
        if let Some(stream) = self.stream.as_mut() {
            stream.highest = stream.highest.max(sequence);
        }
        self.put(sequence, timestamp, frame);
        PushOutcome::Buffered
    }

    /// Extends a packet's timestamp and adds its transit time to the window; returns both.
    fn record_transit(&mut self, arrival: i64, timestamp: u32) -> Option<(i64, i64)> {
        let stream = self.stream.as_mut()?;
        let timestamp = extend_timestamp(stream.timestamp_reference, timestamp);
        stream.timestamp_reference = timestamp;
        let stream = *stream;
        let transit = arrival - self.timestamp_micros(&stream, timestamp);
        self.transits.push(transit);
        Some((timestamp, transit))
    }

    /// Late packets mean the delay is too short: move the schedule later, at once, to the target (whose
    /// percentile now includes them). Audio already missed is lost anyway; waiting for the next talkspurt
    /// would lose more. The delay only shrinks at talkspurt starts.
    fn grow_delay(&mut self) {
        let target = duration_micros(self.target_delay());
        let Some(min_transit) = self.transits.min() else {
            return;
        };
        if let Some(stream) = self.stream.as_mut() {
            stream.offset = stream.offset.max(min_transit + target);
        }
    }

    fn put(&mut self, sequence: i64, timestamp: i64, frame: MediaFrame) {
        let index = self.index(sequence);
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(Slot {
                sequence,
                timestamp,
                frame,
            });
            self.stats.buffered += 1;
        }
    }

    /// A packet `behind` sequence numbers before the next one to play.
    fn drop_old(&mut self, behind: i64) -> PushOutcome {
        // The history covers the last 64 sequence numbers; older ones cannot be told apart.
        let played = self.stream.as_ref().is_some_and(|stream| {
            (1..=64).contains(&behind) && stream.played_history >> (behind - 1) & 1 == 1
        });
        self.probation = None;
        if played {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        self.stats.late += 1;
        self.grow_delay();
        PushOutcome::Late
    }

    /// A packet far from the playout point: a new stream if it continues the previous such packet.
    fn out_of_range(&mut self, arrival: i64, frame: MediaFrame) -> PushOutcome {
        if self.probation == Some(frame.sequence) {
            self.stats.resyncs += 1;
            self.start_stream(arrival, frame);
            return PushOutcome::Resynchronized;
        }
        self.probation = Some(frame.sequence.wrapping_add(1));
        self.stats.out_of_range += 1;
        PushOutcome::OutOfRange
    }

    /// Decides about the next sequence number at `now` (microseconds).
    fn pop_next(&mut self, now: i64) -> Step {
        let Some(mut stream) = self.stream else {
            return Step::Return(Playout::Empty);
        };
        self.bound_delay(&mut stream);
        let head = self
            .slot(stream.next)
            .map(|slot| (slot.timestamp, slot.frame.marker));
        let step = match head {
            Some((timestamp, marker)) => self.pop_frame(&mut stream, now, timestamp, marker),
            None => self.pop_missing(&mut stream, now),
        };
        self.stream = Some(stream);
        step
    }

    fn pop_frame(&mut self, stream: &mut Stream, now: i64, timestamp: i64, marker: bool) -> Step {
        let talkspurt = self.starts_talkspurt(stream, timestamp, marker);
        if talkspurt && stream.anchored != Some(stream.next) {
            self.anchor_talkspurt(stream, timestamp);
            stream.anchored = Some(stream.next);
        }
        let due = self.due(stream, timestamp);
        if due > now {
            return Step::Return(Playout::Empty);
        }
        let index = self.index(stream.next);
        let Some(slot) = self.slots.get_mut(index).and_then(Option::take) else {
            return Step::Return(Playout::Empty);
        };
        self.recover_from_underrun(stream, now, due);
        if self.exceeds_max_delay(now - self.timestamp_micros(stream, timestamp)) {
            self.stats.late += 1;
            self.advance(stream, false);
            return Step::Skipped;
        }
        if !talkspurt {
            self.learn_frame_interval(stream, timestamp);
        }
        stream.expected_timestamp = timestamp.saturating_add(stream.samples_per_frame);
        stream.played_until = Some(self.due(stream, stream.expected_timestamp));
        self.advance(stream, true);
        self.stats.played += 1;
        Step::Return(Playout::Frame(slot.frame))
    }

    fn pop_missing(&mut self, stream: &mut Stream, now: i64) -> Step {
        let due = self.due(stream, stream.expected_timestamp);
        if due > now {
            return Step::Return(Playout::Empty);
        }
        if stream.highest <= stream.next {
            // Nothing after it: a late burst or the end of a talkspurt; wait and see.
            stream.underrun = true;
            return Step::Return(Playout::Empty);
        }
        self.recover_from_underrun(stream, now, due);
        let timestamp = stream.expected_timestamp;
        let sequence = stream.next;
        stream.expected_timestamp += stream.samples_per_frame;
        stream.played_until = Some(self.due(stream, stream.expected_timestamp));
        self.advance(stream, false);
        self.stats.lost += 1;
        if self.exceeds_max_delay(now - self.timestamp_micros(stream, timestamp)) {
            return Step::Skipped;
        }
        Step::Return(Playout::Lost {
            sequence: sequence as u16,
            timestamp: timestamp as u32,
            samples: stream.samples_per_frame.clamp(0, i64::from(u32::MAX)) as u32,
        })
    }

    /// A talkspurt starts with the marker bit, or with a timestamp jump longer than any frame that is not
    /// a sequence gap (a sender that does not set the marker after DTX). The stream's first frame was
    /// scheduled when it arrived.
    fn starts_talkspurt(&self, stream: &Stream, timestamp: i64, marker: bool) -> bool {
        if stream.played_until.is_none() {
            return false;
        }
        let longest_frame = duration_to_samples(MAX_FRAME_DURATION, self.config.clock_rate);
        marker || (stream.last_was_frame && timestamp - stream.expected_timestamp > longest_frame)
    }

    /// Moves the schedule so the talkspurt starting at `timestamp` plays with the current target delay, but
    /// never before the end of what was already played.
    fn anchor_talkspurt(&mut self, stream: &mut Stream, timestamp: i64) {
        let Some(min_transit) = self.transits.min() else {
            return;
        };
        let mut offset = min_transit + duration_micros(self.target_delay());
        if let Some(played_until) = stream.played_until {
            offset = offset.max(played_until - self.timestamp_micros(stream, timestamp));
        }
        stream.offset = offset;
        // The new schedule already accounts for whatever the buffer waited for.
        stream.underrun = false;
    }

    /// Keeps the delay in force within the maximum when the fastest transit drops (e.g. a shorter route):
    /// otherwise every frame would count as late until the next talkspurt.
    fn bound_delay(&self, stream: &mut Stream) {
        if let Some(min_transit) = self.transits.min() {
            stream.offset = stream
                .offset
                .min(min_transit + duration_micros(self.config.max_delay));
        }
    }

    /// After an underrun, moves the schedule back by the time waited, within the maximum delay.
    fn recover_from_underrun(&mut self, stream: &mut Stream, now: i64, due: i64) {
        if !std::mem::take(&mut stream.underrun) {
            return;
        }
        let Some(min_transit) = self.transits.min() else {
            return;
        };
        let ceiling = min_transit + duration_micros(self.config.max_delay);
        stream.offset = (stream.offset + (now - due))
            .min(ceiling)
            .max(stream.offset);
    }

    /// Learns the packet interval from consecutive frames inside a talkspurt, once the same interval is
    /// seen twice in a row (so a short unmarked pause is not taken for a frame).
    fn learn_frame_interval(&self, stream: &mut Stream, timestamp: i64) {
        if !stream.last_was_frame {
            return;
        }
        let previous = stream.expected_timestamp - stream.samples_per_frame;
        let interval = timestamp - previous;
        let longest = duration_to_samples(MAX_FRAME_DURATION, self.config.clock_rate);
        if interval <= 0 || interval > longest {
            return;
        }
        if interval == stream.candidate_interval {
            stream.samples_per_frame = interval;
        }
        stream.candidate_interval = interval;
    }

    fn advance(&self, stream: &mut Stream, played: bool) {
        stream.next += 1;
        stream.highest = stream.highest.max(stream.next - 1);
        stream.played_history = stream.played_history << 1 | u64::from(played);
        stream.last_was_frame = played;
    }

    /// Whether a packet that spent `transit` microseconds would wait more than the maximum delay.
    fn exceeds_max_delay(&self, transit: i64) -> bool {
        self.transits
            .min()
            .is_some_and(|min| transit - min > duration_micros(self.config.max_delay))
    }

    fn slot(&self, sequence: i64) -> Option<&Slot> {
        self.slots
            .get(self.index(sequence))?
            .as_ref()
            .filter(|slot| slot.sequence == sequence)
    }

    fn index(&self, sequence: i64) -> usize {
        sequence.rem_euclid(self.slots.len() as i64) as usize
    }

    /// Playout time of `timestamp` in microseconds since the epoch.
    fn due(&self, stream: &Stream, timestamp: i64) -> i64 {
        self.timestamp_micros(stream, timestamp) + stream.offset
    }

    /// Position of `timestamp` on the stream's timeline, in microseconds.
    fn timestamp_micros(&self, stream: &Stream, timestamp: i64) -> i64 {
        let samples = i128::from(timestamp) - i128::from(stream.timestamp_origin);
        let micros = samples * 1_000_000 / i128::from(self.config.clock_rate);
        micros.clamp(-i128::from(TIME_LIMIT), i128::from(TIME_LIMIT)) as i64
    }
}

/// What one decision in `pop` came to.
enum Step {
    Return(Playout),
    Skipped,
}

/// The most recent transit times (arrival minus RTP time, microseconds) in a ring.
#[derive(Debug, Clone)]
struct TransitWindow {
    values: [i64; TRANSIT_WINDOW],
    len: usize,
    next: usize,
    min: Option<i64>,
}

impl TransitWindow {
    fn new() -> Self {
        Self {
            values: [0; TRANSIT_WINDOW],
            len: 0,
            next: 0,
            min: None,
        }
    }

    fn push(&mut self, transit: i64) {
        if let Some(value) = self.values.get_mut(self.next) {
            *value = transit;
        }
        self.next = (self.next + 1) % TRANSIT_WINDOW;
        self.len = (self.len + 1).min(TRANSIT_WINDOW);
        self.min = self.filled().iter().copied().min();
    }

    fn filled(&self) -> &[i64] {
        self.values.get(..self.len).unwrap_or(&[])
    }

    fn min(&self) -> Option<i64> {
        self.min
    }

    /// The `percentile`th transit above the smallest, once there are enough samples to mean something.
    fn spread(&self, percentile: u8) -> Option<i64> {
        if self.len < TRANSIT_WARM_UP {
            return None;
        }
        let mut sorted = self.values;
        let filled = sorted.get_mut(..self.len)?;
        let rank = (self.len - 1) * usize::from(percentile) / 100;
        let (_, value, _) = filled.select_nth_unstable(rank);
        Some(*value - self.min?)
    }
}

/// Extends a 16-bit sequence number to the one nearest `reference`.
fn extend_sequence(reference: i64, sequence: u16) -> i64 {
    let delta = sequence.wrapping_sub(reference as u16) as i16;
    reference.saturating_add(i64::from(delta))
}

/// Extends a 32-bit RTP timestamp to the one nearest `reference`.
fn extend_timestamp(reference: i64, timestamp: u32) -> i64 {
    let delta = timestamp.wrapping_sub(reference as u32) as i32;
    reference.saturating_add(i64::from(delta))
}

fn micros_since(epoch: Instant, now: Instant) -> i64 {
    duration_micros(now.saturating_duration_since(epoch)).min(TIME_LIMIT)
}

fn duration_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(value.max(0) as u64)
}

fn duration_to_samples(duration: Duration, clock_rate: u32) -> i64 {
    let samples = duration.as_micros() * u128::from(clock_rate) / 1_000_000;
    i64::try_from(samples).unwrap_or(i64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms of G.711 at 8 kHz.
    const FRAME: u32 = 160;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    /// What `pop` returned, reduced to what the tests compare.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Out {
        Played(u16),
        Lost(u16),
        Empty,
    }

    struct Harness {
        buffer: JitterBuffer,
        start: Instant,
    }

    impl Harness {
        fn new() -> Self {
            Self::with(JitterBufferConfig::new(8000))
        }

        fn with(config: JitterBufferConfig) -> Self {
            Self {
                buffer: JitterBuffer::new(config),
                start: Instant::now(),
            }
        }

        fn push(&mut self, at_ms: u64, sequence: u16, timestamp: u32, marker: bool) -> PushOutcome {
            let frame = MediaFrame {
                sequence,
                timestamp,
                marker,
                payload: Bytes::copy_from_slice(&sequence.to_be_bytes()),
            };
            self.buffer.push(self.start + ms(at_ms), frame)
        }

        fn pop(&mut self, at_ms: u64) -> Out {
            match self.buffer.pop(self.start + ms(at_ms)) {
                Playout::Frame(frame) => {
                    assert_eq!(frame.payload[..], frame.sequence.to_be_bytes());
                    Out::Played(frame.sequence)
                }
                Playout::Lost { sequence, .. } => Out::Lost(sequence),
                Playout::Empty => Out::Empty,
            }
        }

        /// Plays `arrivals` (ms, sequence, timestamp, marker), popping every `tick` ms from `first_tick`
        /// through `until`; a push at the same instant as a pop goes first. Returns the non-empty pops.
        fn run(
            &mut self,
            arrivals: &[(u64, u16, u32, bool)],
            first_tick: u64,
            tick: u64,
            until: u64,
        ) -> Vec<(u64, Out)> {
            let mut pending = arrivals.to_vec();
            pending.sort_by_key(|arrival| arrival.0);
            let mut pending = pending.into_iter().peekable();
            let mut played = Vec::new();
            let mut now = first_tick;
            while now <= until {
                while let Some(&(at, sequence, timestamp, marker)) = pending.peek() {
                    if at > now {
                        break;
                    }
                    self.push(at, sequence, timestamp, marker);
                    pending.next();
                }
                match self.pop(now) {
                    Out::Empty => {}
                    out => played.push((now, out)),
                }
                now += tick;
            }
            played
        }
    }

    /// Packets `sequences` sent every 20 ms from time 0 and arriving without delay.
    fn steady(sequences: impl IntoIterator<Item = u16>) -> Vec<(u64, u16, u32, bool)> {
        sequences
            .into_iter()
            .map(|sequence| {
                (
                    20 * u64::from(sequence),
                    sequence,
                    FRAME * u32::from(sequence),
                    false,
                )
            })
            .collect()
    }

    #[test]
    fn holds_first_packet_for_the_initial_delay() {
        let mut harness = Harness::new();
        assert_eq!(harness.push(0, 1, 0, true), PushOutcome::Buffered);
        assert_eq!(harness.buffer.poll_timeout(), Some(harness.start + ms(60)));
        assert_eq!(harness.pop(0), Out::Empty);
        assert_eq!(harness.pop(59), Out::Empty);
        assert_eq!(harness.pop(60), Out::Played(1));
        assert_eq!(harness.pop(80), Out::Empty);
    }

    #[test]
    fn pop_before_any_packet_is_empty() {
        let mut harness = Harness::new();
        assert_eq!(harness.pop(100), Out::Empty);
        assert_eq!(harness.buffer.poll_timeout(), None);
    }

    #[test]
    fn plays_a_steady_stream_one_frame_per_tick() {
        let mut harness = Harness::new();
        let played = harness.run(&steady(0..10), 0, 20, 300);
        let expected: Vec<_> = (0..10)
            .map(|i| (60 + 20 * u64::from(i), Out::Played(i)))
            .collect();
        assert_eq!(played, expected);
    }

    #[test]
    fn reorders_packets_that_arrive_out_of_order_within_the_delay() {
        let mut harness = Harness::new();
        let arrivals = [
            (0, 0, 0, false),
            (20, 2, 2 * FRAME, false),
            (30, 1, FRAME, false),
            (60, 3, 3 * FRAME, false),
        ];
        let played = harness.run(&arrivals, 0, 20, 200);
        let order: Vec<_> = played.iter().map(|&(_, out)| out).collect();
        assert_eq!(order, [0, 1, 2, 3].map(Out::Played));
    }

    #[test]
    fn packet_reordered_before_the_first_one_moves_the_start_back() {
        let mut harness = Harness::new();
        assert_eq!(harness.push(0, 5, 5 * FRAME, false), PushOutcome::Buffered);
        assert_eq!(harness.push(5, 4, 4 * FRAME, false), PushOutcome::Buffered);
        assert_eq!(harness.pop(40), Out::Played(4));
        assert_eq!(harness.pop(60), Out::Played(5));
    }

    #[test]
    fn drops_duplicates_whether_buffered_or_already_played() {
        let mut harness = Harness::new();
        assert_eq!(harness.push(0, 1, 0, false), PushOutcome::Buffered);
        assert_eq!(harness.push(1, 1, 0, false), PushOutcome::Duplicate);
        assert_eq!(harness.pop(60), Out::Played(1));
        assert_eq!(harness.push(61, 1, 0, false), PushOutcome::Duplicate);
        assert_eq!(harness.buffer.stats().duplicates, 2);
        assert_eq!(harness.pop(80), Out::Empty);
    }

    #[test]
    fn reports_a_missing_packet_as_lost_when_a_later_one_is_buffered() {
        let mut harness = Harness::new();
        let arrivals: Vec<_> = steady(0..6).into_iter().filter(|a| a.1 != 2).collect();
        let played = harness.run(&arrivals, 0, 20, 200);
        let order: Vec<_> = played.iter().map(|&(_, out)| out).collect();
        assert_eq!(
            order,
            [
                Out::Played(0),
                Out::Played(1),
                Out::Lost(2),
                Out::Played(3),
                Out::Played(4),
                Out::Played(5)
            ]
        );
        assert_eq!(harness.buffer.stats().lost, 1);
    }

    #[test]
    fn lost_placeholder_carries_estimated_timestamp_and_duration() {
        let mut harness = Harness::new();
        harness.push(0, 0, 1000, false);
        harness.push(20, 1, 1000 + FRAME, false);
        harness.push(60, 3, 1000 + 3 * FRAME, false);
        assert_eq!(harness.pop(60), Out::Played(0));
        assert_eq!(harness.pop(80), Out::Played(1));
        let lost = harness.buffer.pop(harness.start + ms(100));
        assert_eq!(
            lost,
            Playout::Lost {
                sequence: 2,
                timestamp: 1000 + 2 * FRAME,
                samples: FRAME
            }
        );
    }

    #[test]
    fn waits_instead_of_reporting_loss_when_nothing_later_has_arrived() {
        let mut harness = Harness::new();
        harness.run(&steady(0..3), 0, 20, 100);
        // Sequence 3 is due at 120 ms but nothing after it is known yet: it may be a pause or a delay.
        assert_eq!(harness.pop(120), Out::Empty);
        assert_eq!(harness.pop(140), Out::Empty);
        assert_eq!(harness.buffer.stats().lost, 0);
    }

    #[test]
    fn timestamp_jump_without_sequence_gap_is_a_pause_not_a_loss() {
        let mut harness = Harness::new();
        let mut arrivals = steady(0..5);
        // After sequence 4 the sender stops for a second (DTX) and resumes with sequence 5.
        arrivals.push((1080, 5, 4 * FRAME + 8000, true));
        arrivals.push((1100, 6, 5 * FRAME + 8000, false));
        let played = harness.run(&arrivals, 0, 20, 1300);
        let order: Vec<_> = played.iter().map(|&(_, out)| out).collect();
        assert_eq!(order, (0..7).map(Out::Played).collect::<Vec<_>>());
        assert_eq!(harness.buffer.stats().lost, 0);
        // The talkspurt restarts with the (initial) 60 ms delay after its first packet's arrival.
        assert_eq!(played[5], (1140, Out::Played(5)));
    }

    #[test]
    fn drops_a_packet_whose_turn_has_passed_as_late() {
        let mut harness = Harness::new();
        let arrivals: Vec<_> = steady(0..5).into_iter().filter(|a| a.1 != 2).collect();
        harness.run(&arrivals, 0, 20, 100);
        assert_eq!(harness.push(110, 2, 2 * FRAME, false), PushOutcome::Late);
        assert_eq!(harness.buffer.stats().late, 1);
        assert_eq!(harness.pop(120), Out::Played(3));
    }

    #[test]
    fn drops_a_packet_that_would_exceed_the_maximum_delay() {
        let mut harness = Harness::new();
        harness.push(0, 0, 0, false);
        assert_eq!(harness.push(20 + 450, 1, FRAME, false), PushOutcome::Late);
        assert_eq!(
            harness.push(40 + 300, 2, 2 * FRAME, false),
            PushOutcome::Buffered
        );
    }

    #[test]
    fn plays_across_sequence_and_timestamp_wrap_around() {
        let mut harness = Harness::new();
        let first_timestamp = u32::MAX - FRAME + 1;
        let arrivals: Vec<_> = (0..6u16)
            .map(|i| {
                let sequence = 65534u16.wrapping_add(i);
                let timestamp = first_timestamp.wrapping_add(FRAME * u32::from(i));
                (20 * u64::from(i), sequence, timestamp, false)
            })
            .collect();
        let played = harness.run(&arrivals, 0, 20, 300);
        let expected: Vec<_> = [65534, 65535, 0, 1, 2, 3]
            .into_iter()
            .enumerate()
            .map(|(i, sequence)| (60 + 20 * i as u64, Out::Played(sequence)))
            .collect();
        assert_eq!(played, expected);
    }

    #[test]
    fn target_delay_follows_the_measured_jitter_percentile() {
        let mut harness = Harness::new();
        // Every other packet is 80 ms late: the 95th percentile of transit above the fastest is 80 ms.
        for i in 0..100u16 {
            let delay = if i % 2 == 1 { 80 } else { 0 };
            harness.push(20 * u64::from(i) + delay, i, FRAME * u32::from(i), false);
        }
        assert_eq!(harness.buffer.target_delay(), ms(80));
    }

    #[test]
    fn target_delay_stays_at_the_minimum_without_jitter() {
        let mut harness = Harness::new();
        for i in 0..100u16 {
            harness.push(20 * u64::from(i), i, FRAME * u32::from(i), false);
        }
        assert_eq!(harness.buffer.target_delay(), ms(20));
    }

    #[test]
    fn target_delay_is_capped_at_the_maximum() {
        let mut config = JitterBufferConfig::new(8000);
        config.max_delay = ms(100);
        let mut harness = Harness::with(config);
        for i in 0..100u16 {
            let delay = if i % 2 == 1 { 90 } else { 0 };
            harness.push(20 * u64::from(i) + delay, i, FRAME * u32::from(i), false);
        }
        let mut config = JitterBufferConfig::new(8000);
        config.max_delay = ms(60);
        let mut capped = Harness::with(config);
        for i in 0..100u16 {
            let delay = if i % 2 == 1 { 90 } else { 0 };
            capped.push(20 * u64::from(i) + delay, i, FRAME * u32::from(i), false);
        }
        assert_eq!(harness.buffer.target_delay(), ms(90));
        assert_eq!(capped.buffer.target_delay(), ms(60));
    }

    #[test]
    fn shrinks_the_delay_only_at_a_talkspurt_start() {
        let mut harness = Harness::new();
        // 1 s with every other packet 80 ms late, then 3 s without jitter, a 1 s pause, and a talkspurt.
        let mut arrivals: Vec<_> = (0..200u16)
            .map(|i| {
                let delay = if i < 50 && i % 2 == 1 { 80 } else { 0 };
                (20 * u64::from(i) + delay, i, FRAME * u32::from(i), false)
            })
            .collect();
        arrivals.push((5000, 200, 40_000, true));
        let before_pause = harness.run(&arrivals[..200], 0, 10, 4200);
        assert_eq!(harness.buffer.target_delay(), ms(20));
        assert_eq!(harness.buffer.stats().playout_delay, ms(80));
        assert_eq!(before_pause.last(), Some(&(3980 + 80, Out::Played(199))));
        let after_pause = harness.run(&arrivals[200..], 4210, 10, 5100);
        assert_eq!(after_pause, [(5020, Out::Played(200))]);
        assert_eq!(harness.buffer.stats().playout_delay, ms(20));
    }

    #[test]
    fn grows_the_delay_mid_talkspurt_when_packets_arrive_late() {
        let mut harness = Harness::new();
        // A continuous stream (no pauses) in which every other packet is 80 ms late.
        let arrivals: Vec<_> = (0..100u16)
            .map(|i| {
                let delay = if i % 2 == 1 { 80 } else { 0 };
                (20 * u64::from(i) + delay, i, FRAME * u32::from(i), false)
            })
            .collect();
        let played = harness.run(&arrivals, 0, 20, 2500);
        let tail: Vec<_> = played.iter().rev().take(50).map(|&(_, out)| out).collect();
        assert!(
            tail.iter().all(|out| matches!(out, Out::Played(_))),
            "{tail:?}"
        );
        assert_eq!(harness.buffer.stats().playout_delay, ms(80));
    }

    #[test]
    fn stretches_the_schedule_after_an_underrun_instead_of_dropping() {
        let mut harness = Harness::new();
        // A 150 ms network stall: packets 5..=12 arrive together at 250 ms.
        let arrivals: Vec<_> = (0..20u16)
            .map(|i| {
                let sent = 20 * u64::from(i);
                let arrival = if (5..=12).contains(&i) { 250 } else { sent };
                (arrival, i, FRAME * u32::from(i), false)
            })
            .collect();
        let played = harness.run(&arrivals, 0, 20, 800);
        let order: Vec<_> = played.iter().map(|&(_, out)| out).collect();
        assert_eq!(order, (0..20).map(Out::Played).collect::<Vec<_>>());
        assert_eq!(played[5], (260, Out::Played(5)));
        assert_eq!(played[6], (280, Out::Played(6)));
        let stats = harness.buffer.stats();
        assert_eq!((stats.lost, stats.late), (0, 0));
        assert_eq!(stats.playout_delay, ms(160));
    }

    #[test]
    fn learns_the_packet_interval_from_the_stream() {
        // 30 ms packets although the configuration assumes 20 ms; sequence 6 never arrives.
        let mut harness = Harness::new();
        for i in (0..10u16).filter(|&i| i != 6) {
            harness.push(30 * u64::from(i), i, 240 * u32::from(i), false);
        }
        let mut lost = None;
        for tick in 0..40 {
            if let Playout::Lost {
                timestamp, samples, ..
            } = harness.buffer.pop(harness.start + ms(10 * tick))
            {
                lost = Some((timestamp, samples));
            }
        }
        assert_eq!(lost, Some((6 * 240, 240)));
    }

    #[test]
    fn packet_far_ahead_is_dropped_unless_the_next_one_continues_it() {
        let mut harness = Harness::new();
        harness.run(&steady(0..4), 0, 20, 100);
        assert_eq!(
            harness.push(110, 1000, 90_000, false),
            PushOutcome::OutOfRange
        );
        assert_eq!(
            harness.push(115, 2000, 91_000, false),
            PushOutcome::OutOfRange
        );
        assert_eq!(
            harness.push(130, 2001, 91_160, true),
            PushOutcome::Resynchronized
        );
        assert_eq!(
            harness.push(150, 2002, 91_320, false),
            PushOutcome::Buffered
        );
        assert_eq!(harness.pop(189), Out::Empty);
        assert_eq!(harness.pop(190), Out::Played(2001));
        assert_eq!(harness.pop(210), Out::Played(2002));
        let stats = harness.buffer.stats();
        assert_eq!((stats.out_of_range, stats.resyncs), (2, 1));
    }

    #[test]
    fn holds_no_more_than_its_capacity() {
        let mut config = JitterBufferConfig::new(8000);
        config.capacity = 8;
        let mut harness = Harness::with(config);
        for i in 0..8u16 {
            assert_eq!(
                harness.push(0, i, FRAME * u32::from(i), false),
                PushOutcome::Buffered
            );
        }
        assert_eq!(
            harness.push(0, 8, 8 * FRAME, false),
            PushOutcome::OutOfRange
        );
        assert_eq!(harness.buffer.stats().buffered, 8);
    }

    #[test]
    fn configuration_out_of_range_is_clamped() {
        let mut config = JitterBufferConfig::new(0);
        config.capacity = 0;
        config.min_delay = ms(900);
        config.max_delay = ms(300);
        config.percentile = 0;
        let buffer = JitterBuffer::new(config);
        let config = buffer.config();
        assert_eq!(config.clock_rate, 1);
        assert_eq!(config.capacity, 4);
        assert_eq!(config.min_delay, ms(300));
        assert_eq!(config.percentile, 50);
    }
}
