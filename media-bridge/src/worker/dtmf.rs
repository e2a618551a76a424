//! RFC 4733 DTMF injection on a stream, sans-IO: which packets are due at `now`, and the RTP header fields
//! that keep the SSRC and sequence numbers of the stream relayed to that endpoint continuous.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tandem_rtp_core::telephone_event::{DtmfDigit, EventGenerator, EventPacket};

use crate::session::DtmfInjection;

/// Packetisation interval of the injected events.
const PACKET_INTERVAL: Duration = Duration::from_millis(20);

/// The outgoing RTP of a stream (towards its endpoint), as relayed: what injected packets must continue.
#[derive(Debug, Default)]
pub(crate) struct OutgoingRtp {
    /// SSRC, last sequence number and timestamp sent, and when.
    last: Option<(u32, u16, u32, Instant)>,
    /// Added to the sequence number of every relayed packet: grows by one per injected packet, shrinks by
    /// one per relayed packet held back while an event plays.
    seq_offset: u16,
}

impl OutgoingRtp {
    /// Rewrites a plain relayed RTP packet's sequence number in place (when packets were injected before
    /// it) and remembers its fields. No allocation.
    pub(crate) fn relayed(&mut self, packet: &mut [u8], now: Instant) {
        let Some(header) = packet.get_mut(..12) else {
            return;
        };
        let ssrc = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        if self.last.is_some_and(|(s, ..)| s != ssrc) {
            // A new source starts its own numbering.
            self.seq_offset = 0;
        }
        let seq = u16::from_be_bytes([header[2], header[3]]).wrapping_add(self.seq_offset);
        if self.seq_offset != 0 {
            header[2..4].copy_from_slice(&seq.to_be_bytes());
        }
        let timestamp = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        self.last = Some((ssrc, seq, timestamp, now));
    }

    /// A relayed packet held back because an event is playing: the numbering closes the gap.
    pub(crate) fn held_back(&mut self) {
        self.seq_offset = self.seq_offset.wrapping_sub(1);
    }

    /// The SSRC, sequence number and timestamp (`clock_rate` units) for an event starting at `now`.
    fn start_event(&mut self, now: Instant, clock_rate: u32) -> (u32, u32) {
        let (ssrc, seq, timestamp, at) = match self.last {
            Some(last) => last,
            None => {
                let mut random = [0u8; 10];
                // Without randomness the fields are still valid, only guessable.
                let _ = getrandom::fill(&mut random);
                let [a, b, c, d, e, f, g, h, i, j] = random;
                let fields = (
                    u32::from_be_bytes([a, b, c, d]),
                    u16::from_be_bytes([e, f]),
                    u32::from_be_bytes([g, h, i, j]),
                    now,
                );
                self.last = Some(fields);
                fields
            }
        };
        let elapsed = now.saturating_duration_since(at);
        let units = (elapsed.as_micros() * u128::from(clock_rate) / 1_000_000) as u32;
        self.last = Some((ssrc, seq, timestamp, at));
        (ssrc, timestamp.wrapping_add(units))
    }

    /// The next sequence number for an injected packet.
    fn next_seq(&mut self) -> u16 {
        let Some((ssrc, seq, timestamp, at)) = self.last else {
            return 0;
        };
        let next = seq.wrapping_add(1);
        self.last = Some((ssrc, next, timestamp, at));
        self.seq_offset = self.seq_offset.wrapping_add(1);
        next
    }
}

/// An RFC 4733 packet ready to go: the 12-byte RTP header and the 4-byte event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InjectedPacket {
    pub(crate) bytes: [u8; 16],
}

struct Playing {
    generator: EventGenerator,
    started: Instant,
    ssrc: u32,
    timestamp: u32,
    next: Option<EventPacket>,
}

/// The digits queued for a stream and the one playing.
pub(crate) struct DtmfPlayer {
    payload_type: u8,
    clock_rate: u32,
    duration: u32,
    volume: u8,
    pause: Duration,
    queue: VecDeque<DtmfDigit>,
    playing: Option<Playing>,
    /// The next digit may not start before this.
    next_start: Option<Instant>,
}

impl DtmfPlayer {
    pub(crate) fn new(request: &DtmfInjection) -> Self {
        let clock_rate = request.clock_rate.max(1);
        let units = request.duration.as_micros() * u128::from(clock_rate) / 1_000_000;
        DtmfPlayer {
            payload_type: request.payload_type & 0x7f,
            clock_rate,
            duration: u32::try_from(units).unwrap_or(u32::MAX).max(1),
            volume: request.volume.min(63),
            pause: request.pause,
            queue: request.digits.iter().copied().collect(),
            playing: None,
            next_start: None,
        }
    }

    /// More digits from a later request, after the queued ones (with its settings).
    pub(crate) fn append(&mut self, request: &DtmfInjection) {
        let next = DtmfPlayer::new(request);
        self.payload_type = next.payload_type;
        self.clock_rate = next.clock_rate;
        self.duration = next.duration;
        self.volume = next.volume;
        self.pause = next.pause;
        self.queue.extend(next.queue);
    }

    /// Whether an event is on the wire (relayed audio is held back meanwhile).
    pub(crate) fn is_playing(&self) -> bool {
        self.playing.is_some()
    }

    /// Whether nothing is left to play.
    pub(crate) fn is_done(&self) -> bool {
        self.playing.is_none() && self.queue.is_empty()
    }

    /// The next packet due at `now`, if any; call until `None`.
    pub(crate) fn poll(&mut self, now: Instant, out: &mut OutgoingRtp) -> Option<InjectedPacket> {
        if self.playing.is_none() {
            if self.next_start.is_some_and(|t| now < t) {
                return None;
            }
            let digit = self.queue.pop_front()?;
            let interval = (PACKET_INTERVAL.as_micros() * u128::from(self.clock_rate) / 1_000_000)
                .max(1) as u32;
            let mut generator = EventGenerator::dtmf(digit, self.duration, interval, self.volume);
            let next = generator.next();
            let (ssrc, timestamp) = out.start_event(now, self.clock_rate);
            self.playing = Some(Playing {
                generator,
                started: now,
                ssrc,
                timestamp,
                next,
            });
        }
        let first_offset = u64::from(self.first_offset());
        let playing = self.playing.as_mut()?;
        let Some(packet) = playing.next else {
            self.playing = None;
            self.next_start = Some(now + self.pause);
            return None;
        };
        // The first packet goes out at once; later ones at their offset from the event's start.
        let offset = packet.send_offset.saturating_sub(first_offset);
        let due = playing.started
            + Duration::from_micros(offset.saturating_mul(1_000_000) / u64::from(self.clock_rate));
        if now < due {
            return None;
        }
        playing.next = playing.generator.next();
        let seq = out.next_seq();
        let mut bytes = [0u8; 16];
        bytes[0] = 0x80;
        bytes[1] = self.payload_type | if packet.marker { 0x80 } else { 0 };
        bytes[2..4].copy_from_slice(&seq.to_be_bytes());
        let timestamp = playing.timestamp.wrapping_add(packet.timestamp_offset);
        bytes[4..8].copy_from_slice(&timestamp.to_be_bytes());
        bytes[8..12].copy_from_slice(&playing.ssrc.to_be_bytes());
        bytes[12..16].copy_from_slice(&packet.payload);
        Some(InjectedPacket { bytes })
    }

    /// The generator's first send offset (one interval): subtracted so the first packet leaves at once.
    fn first_offset(&self) -> u32 {
        (PACKET_INTERVAL.as_micros() * u128::from(self.clock_rate) / 1_000_000).max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::StreamId;
    use tandem_rtp_core::telephone_event::{EventReceiver, ReceiverEvent};

    fn injection(digits: &str) -> DtmfInjection {
        DtmfInjection {
            stream: StreamId(1),
            payload_type: 101,
            clock_rate: 8000,
            digits: digits.chars().filter_map(DtmfDigit::from_char).collect(),
            duration: Duration::from_millis(100),
            volume: 10,
            pause: Duration::from_millis(60),
        }
    }

    /// Runs the player in 20 ms steps of virtual time and returns every packet sent.
    fn play(player: &mut DtmfPlayer, out: &mut OutgoingRtp, start: Instant) -> Vec<[u8; 16]> {
        let mut sent = Vec::new();
        for step in 0..200 {
            let now = start + Duration::from_millis(20 * step);
            while let Some(p) = player.poll(now, out) {
                sent.push(p.bytes);
            }
            if player.is_done() {
                break;
            }
        }
        sent
    }

    #[test]
    fn continues_the_relayed_stream_and_sends_rfc4733_sequences() {
        let start = Instant::now();
        let mut out = OutgoingRtp::default();
        // Relayed audio: SSRC 0xabc, seq 1000, timestamp 160 000.
        let mut audio = [0u8; 172];
        audio[0] = 0x80;
        audio[2..4].copy_from_slice(&1000u16.to_be_bytes());
        audio[4..8].copy_from_slice(&160_000u32.to_be_bytes());
        audio[8..12].copy_from_slice(&0xabcu32.to_be_bytes());
        out.relayed(&mut audio, start);

        let mut player = DtmfPlayer::new(&injection("1#"));
        let sent = play(&mut player, &mut out, start + Duration::from_millis(40));
        let seqs: Vec<u16> = sent
            .iter()
            .map(|p| u16::from_be_bytes([p[2], p[3]]))
            .collect();
        assert_eq!(seqs.first(), Some(&1001), "continues the relayed numbering");
        assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
        assert!(
            sent.iter()
                .all(|p| u32::from_be_bytes([p[8], p[9], p[10], p[11]]) == 0xabc)
        );

        let mut receiver = EventReceiver::new();
        let mut digits = Vec::new();
        for p in &sent {
            assert_eq!(p[1] & 0x7f, 101);
            let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
            receiver
                .handle_packet(
                    ts,
                    p[1] & 0x80 != 0,
                    u16::from_be_bytes([p[2], p[3]]),
                    &p[12..],
                )
                .unwrap();
            while let Some(e) = receiver.poll_event() {
                if let ReceiverEvent::DigitEnded { .. } = e {
                    digits.push(e.digit().unwrap().as_char());
                }
            }
        }
        assert_eq!(digits, vec!['1', '#']);
        // Per digit: marker on the first packet only, the last three are end packets of equal duration.
        let first_digit: Vec<&[u8; 16]> = sent.iter().filter(|p| p[12] == 1).collect();
        assert_eq!(first_digit[0][1] & 0x80, 0x80);
        assert!(first_digit[1..].iter().all(|p| p[1] & 0x80 == 0));
        let ends: Vec<_> = first_digit.iter().filter(|p| p[13] & 0x80 != 0).collect();
        assert_eq!(ends.len(), 3);
        assert!(
            ends.iter()
                .all(|p| u16::from_be_bytes([p[14], p[15]]) == 800)
        );
        let ts = |p: &[u8; 16]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert!(first_digit.iter().all(|p| ts(p) == ts(first_digit[0])));
        assert_eq!(
            ts(first_digit[0]),
            160_000 + 320,
            "40 ms after the last audio"
        );
        assert_eq!(first_digit[0][13] & 0x3f, 10, "volume");

        // The next relayed packet continues after the injected ones.
        audio[2..4].copy_from_slice(&1001u16.to_be_bytes());
        out.relayed(&mut audio, start + Duration::from_secs(2));
        let last = seqs.last().copied().unwrap();
        assert_eq!(
            u16::from_be_bytes([audio[2], audio[3]]),
            last.wrapping_add(1)
        );
    }

    #[test]
    fn held_back_audio_leaves_no_gap() {
        let start = Instant::now();
        let mut out = OutgoingRtp::default();
        let mut audio = [0u8; 12];
        audio[0] = 0x80;
        audio[2..4].copy_from_slice(&5u16.to_be_bytes());
        out.relayed(&mut audio, start);
        let _ = out.next_seq(); // one injected: 6
        out.held_back(); // audio 6 held back
        audio[2..4].copy_from_slice(&7u16.to_be_bytes());
        out.relayed(&mut audio, start);
        assert_eq!(u16::from_be_bytes([audio[2], audio[3]]), 7);
    }
}
