//! RFC 4733 telephone-events: the payload format, a receiver that turns packets into one start and one end
//! per event, and a generator producing the packet sequence a sender transmits for one event.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Everything here is sans-IO: the caller hands over the RTP timestamp, marker bit, sequence number and payload
//! of each telephone-event packet and drains [`ReceiverEvent`]s; the generator tells the caller what to send
//! and when, in timestamp units relative to the start of the event.

use std::collections::VecDeque;
use std::fmt;

/// Bytes in one event block (RFC 4733 §2.3).
pub const EVENT_BLOCK_LEN: usize = 4;

/// Most event blocks accepted in one payload; a larger payload is rejected rather than processed.
pub const MAX_EVENTS_PER_PAYLOAD: usize = 32;

/// Most RFC 2198 blocks (redundant plus primary) accepted in one redundant payload.
pub const MAX_REDUNDANT_BLOCKS: usize = 16;

/// Largest value of the duration field: a longer event is sent as several segments (RFC 4733 §2.5.1.3).
pub const MAX_SEGMENT_DURATION: u16 = u16::MAX;

/// Event code of a hook flash (RFC 4733 §3.2).
pub const FLASH_EVENT: u8 = 16;

/// How far (in timestamp units) a long event's next segment may start from the nominal
/// `previous segment timestamp + 0xFFFF` and still be taken as its continuation. Senders round the segment
/// boundary to their packetisation interval; 200 ms at 8 kHz covers every interval in use.
const SEGMENT_SLACK: u32 = 1600;

/// How many sequence numbers back a packet with the current event's timestamp counts as reordered rather than
/// as a new sequence-number cycle.
const REORDER_WINDOW: i16 = 1000;

/// How far (in timestamp units) before the current event a packet still counts as a late packet of an older
/// event. Anything further back is a timestamp discontinuity (a middlebox rewrote the timeline) and starts a
/// new event: 2^20 units is over two minutes at 8 kHz, far beyond any jitter.
const LATE_WINDOW: i32 = 1 << 20;

/// Times a sender transmits the final packet of an event or of a segment (RFC 4733 §2.5.1.4).
const FINAL_PACKET_COPIES: u8 = 3;

/// Why a telephone-event payload could not be decoded. Every variant names the byte offset at which decoding
/// stopped and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TelephoneEventError {
    /// The payload holds no bytes at all.
    #[error("empty telephone-event payload at byte 0: expected a 4-byte event block")]
    Empty,
    /// The payload length is not a multiple of four.
    #[error("truncated event block at byte {offset}: expected 4 bytes, {remaining} left")]
    TruncatedBlock {
        /// Offset of the incomplete block.
        offset: usize,
        /// Bytes left at that offset.
        remaining: usize,
    },
    /// The payload holds more than [`MAX_EVENTS_PER_PAYLOAD`] blocks.
    #[error("too many event blocks at byte {offset}: at most {limit} accepted")]
    TooManyBlocks {
        /// Offset of the first block over the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// An RFC 2198 block header ends before its declared size.
    #[error("truncated RFC 2198 block header at byte {offset}: expected {expected} bytes")]
    TruncatedRedundancyHeader {
        /// Offset of the header.
        offset: usize,
        /// Header size expected there (4 for a redundant block, 1 for the primary).
        expected: usize,
    },
    /// An RFC 2198 block declares more bytes than the payload holds.
    #[error("RFC 2198 block at byte {offset} declares {length} bytes but {remaining} remain")]
    RedundantBlockOverrun {
        /// Offset of the block data.
        offset: usize,
        /// Length declared in its header.
        length: usize,
        /// Bytes actually left.
        remaining: usize,
    },
    /// The payload holds more than [`MAX_REDUNDANT_BLOCKS`] RFC 2198 blocks.
    #[error("too many RFC 2198 blocks at byte {offset}: at most {limit} accepted")]
    TooManyRedundantBlocks {
        /// Offset of the first header over the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// The output buffer given to [`encode_events`] is too small.
    #[error("output buffer too small at byte {offset}: {needed} bytes needed")]
    BufferTooSmall {
        /// Size of the buffer, where writing would have overrun it.
        offset: usize,
        /// Bytes the events need.
        needed: usize,
    },
}

impl TelephoneEventError {
    /// Byte offset in the payload (or output buffer) at which the error was found.
    pub fn offset(&self) -> usize {
        match *self {
            Self::Empty => 0,
            Self::TruncatedBlock { offset, .. }
            | Self::TooManyBlocks { offset, .. }
            | Self::TruncatedRedundancyHeader { offset, .. }
            | Self::RedundantBlockOverrun { offset, .. }
            | Self::TooManyRedundantBlocks { offset, .. }
            | Self::BufferTooSmall { offset, .. } => offset,
        }
    }
}

/// A key of the telephone keypad: the sixteen DTMF events of RFC 4733 §3.2 and their ITU-T Q.23 tone pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DtmfDigit {
    /// `0`
    Zero,
    /// `1`
    One,
    /// `2`
    Two,
    /// `3`
    Three,
    /// `4`
    Four,
    /// `5`
    Five,
    /// `6`
    Six,
    /// `7`
    Seven,
    /// `8`
    Eight,
    /// `9`
    Nine,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

/// Low-group (row) frequencies of the keypad, Hz (ITU-T Q.23).
pub(crate) const ROW_FREQUENCIES: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies of the keypad, Hz (ITU-T Q.23).
pub(crate) const COLUMN_FREQUENCIES: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The keypad as rows (low group) by columns (high group).
const KEYPAD: [[DtmfDigit; 4]; 4] = [
    [
        DtmfDigit::One,
        DtmfDigit::Two,
        DtmfDigit::Three,
        DtmfDigit::A,
    ],
    [
        DtmfDigit::Four,
        DtmfDigit::Five,
        DtmfDigit::Six,
        DtmfDigit::B,
    ],
    [
        DtmfDigit::Seven,
        DtmfDigit::Eight,
        DtmfDigit::Nine,
        DtmfDigit::C,
    ],
    [
        DtmfDigit::Star,
        DtmfDigit::Zero,
        DtmfDigit::Pound,
        DtmfDigit::D,
    ],
];

impl DtmfDigit {
    /// All sixteen digits in event-code order.
    pub const ALL: [DtmfDigit; 16] = [
        DtmfDigit::Zero,
        DtmfDigit::One,
        DtmfDigit::Two,
        DtmfDigit::Three,
        DtmfDigit::Four,
        DtmfDigit::Five,
        DtmfDigit::Six,
        DtmfDigit::Seven,
        DtmfDigit::Eight,
        DtmfDigit::Nine,
        DtmfDigit::Star,
        DtmfDigit::Pound,
        DtmfDigit::A,
        DtmfDigit::B,
        DtmfDigit::C,
        DtmfDigit::D,
    ];

    /// The digit of RFC 4733 event code `code` (0–15), or `None` for any other event.
    pub fn from_event_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The RFC 4733 event code: 0–9 for the digits, 10 for `*`, 11 for `#`, 12–15 for `A`–`D`.
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The digit written as `c` (`0`–`9`, `*`, `#`, `A`–`D` in either case).
    pub fn from_char(c: char) -> Option<Self> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c as u8 - b'A' + 12,
            'a'..='d' => c as u8 - b'a' + 12,
            _ => return None,
        };
        Self::from_event_code(code)
    }

    /// The character printed on the key.
    pub fn as_char(self) -> char {
        char::from(b"0123456789*#ABCD"[usize::from(self.event_code()) & 15])
    }

    /// The (low-group, high-group) tone frequencies in Hz (ITU-T Q.23).
    pub fn frequencies(self) -> (f32, f32) {
        let (row, column) = self.keypad_position();
        (ROW_FREQUENCIES[row], COLUMN_FREQUENCIES[column])
    }

    /// Row and column of the key on the keypad.
    pub(crate) fn keypad_position(self) -> (usize, usize) {
        match self {
            DtmfDigit::One => (0, 0),
            DtmfDigit::Two => (0, 1),
            DtmfDigit::Three => (0, 2),
            DtmfDigit::A => (0, 3),
            DtmfDigit::Four => (1, 0),
            DtmfDigit::Five => (1, 1),
            DtmfDigit::Six => (1, 2),
            DtmfDigit::B => (1, 3),
            DtmfDigit::Seven => (2, 0),
            DtmfDigit::Eight => (2, 1),
            DtmfDigit::Nine => (2, 2),
            DtmfDigit::C => (2, 3),
            DtmfDigit::Star => (3, 0),
            DtmfDigit::Zero => (3, 1),
            DtmfDigit::Pound => (3, 2),
            DtmfDigit::D => (3, 3),
        }
    }

    /// The key at `row`, `column` of the keypad.
    pub(crate) fn at_keypad_position(row: usize, column: usize) -> Option<Self> {
        KEYPAD.get(row)?.get(column).copied()
    }
}

impl fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// One 4-byte event block of an RFC 4733 payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code (0–15 are DTMF digits, see [`DtmfDigit`]; 16 is flash).
    pub event: u8,
    /// E bit: this block reports the end of the event.
    pub end: bool,
    /// R bit: reserved, sent as zero and ignored on receipt; kept so a relay can forward a block unchanged.
    pub reserved: bool,
    /// Power level in dBm0 with the sign dropped (0 loudest … 63 quietest); 6 bits on the wire, larger values
    /// are sent as 63.
    pub volume: u8,
    /// Duration so far, in RTP timestamp units, counted from the block's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// The block for `digit` with the given fields.
    pub fn dtmf(digit: DtmfDigit, end: bool, volume: u8, duration: u16) -> Self {
        TelephoneEvent {
            event: digit.event_code(),
            end,
            reserved: false,
            volume,
            duration,
        }
    }

    /// Reads one block from the 4 bytes of `block`.
    pub fn from_bytes(block: [u8; EVENT_BLOCK_LEN]) -> Self {
        let [event, flags, high, low] = block;
        TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            reserved: flags & 0x40 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([high, low]),
        }
    }

    /// The 4 bytes of this block.
    pub fn to_bytes(&self) -> [u8; EVENT_BLOCK_LEN] {
        let mut flags = self.volume.min(0x3F);
        if self.end {
            flags |= 0x80;
        }
        if self.reserved {
            flags |= 0x40;
        }
        let [high, low] = self.duration.to_be_bytes();
        [self.event, flags, high, low]
    }

    /// The DTMF digit this block carries, if its event is one.
    pub fn digit(&self) -> Option<DtmfDigit> {
        DtmfDigit::from_event_code(self.event)
    }
}

/// Checks `payload` and returns its event blocks in order (several blocks are packed events, RFC 4733
/// §2.5.1.5: each starts where the previous one's duration ends).
pub fn decode_events(payload: &[u8]) -> Result<EventBlocks<'_>, TelephoneEventError> {
    if payload.is_empty() {
        return Err(TelephoneEventError::Empty);
    }
    let remaining = payload.len() % EVENT_BLOCK_LEN;
    if remaining != 0 {
        return Err(TelephoneEventError::TruncatedBlock {
            offset: payload.len() - remaining,
            remaining,
        });
    }
    if payload.len() / EVENT_BLOCK_LEN > MAX_EVENTS_PER_PAYLOAD {
        return Err(TelephoneEventError::TooManyBlocks {
            offset: MAX_EVENTS_PER_PAYLOAD * EVENT_BLOCK_LEN,
            limit: MAX_EVENTS_PER_PAYLOAD,
        });
    }
    Ok(EventBlocks {
        chunks: payload.chunks_exact(EVENT_BLOCK_LEN),
    })
}

/// Writes `events` one after the other into `out` and returns the number of bytes written.
pub fn encode_events(
    events: &[TelephoneEvent],
    out: &mut [u8],
) -> Result<usize, TelephoneEventError> {
    let needed = events.len() * EVENT_BLOCK_LEN;
    let Some(target) = out.get_mut(..needed) else {
        return Err(TelephoneEventError::BufferTooSmall {
            offset: out.len(),
            needed,
        });
    };
    for (chunk, event) in target.chunks_exact_mut(EVENT_BLOCK_LEN).zip(events) {
        chunk.copy_from_slice(&event.to_bytes());
    }
    Ok(needed)
}

/// The event blocks of a checked payload, from [`decode_events`].
#[derive(Debug, Clone)]
pub struct EventBlocks<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for EventBlocks<'_> {
    type Item = TelephoneEvent;

    fn next(&mut self) -> Option<TelephoneEvent> {
        let chunk = self.chunks.next()?;
        let block: [u8; EVENT_BLOCK_LEN] = chunk.try_into().ok()?;
        Some(TelephoneEvent::from_bytes(block))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for EventBlocks<'_> {}

/// One block of an RFC 2198 redundant payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedundantBlock<'a> {
    /// Payload type of the block's data.
    pub payload_type: u8,
    /// How far the block's timestamp lies before the packet's (0 for the primary block).
    pub timestamp_offset: u16,
    /// The block's data.
    pub data: &'a [u8],
}

/// Checks an RFC 2198 redundant payload and returns its blocks, oldest first, primary last.
pub fn decode_redundancy(payload: &[u8]) -> Result<RedundantBlocks<'_>, TelephoneEventError> {
    let mut header_len = 0;
    let mut data_len = 0;
    let mut count = 0;
    loop {
        if count == MAX_REDUNDANT_BLOCKS {
            return Err(TelephoneEventError::TooManyRedundantBlocks {
                offset: header_len,
                limit: MAX_REDUNDANT_BLOCKS,
            });
        }
        count += 1;
        let Some(&first) = payload.get(header_len) else {
            return Err(TelephoneEventError::TruncatedRedundancyHeader {
                offset: header_len,
                expected: 1,
            });
        };
        if first & 0x80 == 0 {
            header_len += 1;
            break;
        }
        let Some(header) = payload.get(header_len..header_len + 4) else {
            return Err(TelephoneEventError::TruncatedRedundancyHeader {
                offset: header_len,
                expected: 4,
            });
        };
        data_len += redundant_header(header).2;
        header_len += 4;
    }
    let remaining = payload.len() - header_len;
    if data_len > remaining {
        return Err(TelephoneEventError::RedundantBlockOverrun {
            offset: header_len,
            length: data_len,
            remaining,
        });
    }
    Ok(RedundantBlocks {
        payload,
        header_at: 0,
        data_at: header_len,
        done: false,
    })
}

/// Payload type, timestamp offset and block length of a 4-byte RFC 2198 header.
fn redundant_header(header: &[u8]) -> (u8, u16, usize) {
    let byte = |i: usize| header.get(i).copied().unwrap_or(0);
    let payload_type = byte(0) & 0x7F;
    let timestamp_offset = (u16::from(byte(1)) << 6) | u16::from(byte(2) >> 2);
    let length = (usize::from(byte(2) & 0x03) << 8) | usize::from(byte(3));
    (payload_type, timestamp_offset, length)
}

/// The blocks of a checked RFC 2198 payload, from [`decode_redundancy`].
#[derive(Debug, Clone)]
pub struct RedundantBlocks<'a> {
    payload: &'a [u8],
    header_at: usize,
    data_at: usize,
    done: bool,
}

impl<'a> Iterator for RedundantBlocks<'a> {
    type Item = RedundantBlock<'a>;

    fn next(&mut self) -> Option<RedundantBlock<'a>> {
        if self.done {
            return None;
        }
        let first = *self.payload.get(self.header_at)?;
        if first & 0x80 == 0 {
            self.done = true;
            return Some(RedundantBlock {
                payload_type: first & 0x7F,
                timestamp_offset: 0,
                data: self.payload.get(self.data_at..)?,
            });
        }
        let header = self.payload.get(self.header_at..self.header_at + 4)?;
        let (payload_type, timestamp_offset, length) = redundant_header(header);
        let data = self.payload.get(self.data_at..self.data_at + length)?;
        self.header_at += 4;
        self.data_at += length;
        Some(RedundantBlock {
            payload_type,
            timestamp_offset,
            data,
        })
    }
}

/// Why the receiver reported an event as ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// A packet with the E bit arrived.
    EndPacket,
    /// A packet of a newer event arrived before any end packet of this one (they were lost).
    NewEvent,
    /// The caller reported a timeout through [`EventReceiver::handle_timeout`].
    Timeout,
}

/// What the receiver reports, once per event each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiverEvent {
    /// An event began (or its first packet seen was a later one: lost start packets still start it).
    DigitStarted {
        /// Event code (see [`DtmfDigit::from_event_code`]).
        event: u8,
        /// RTP timestamp of the event's start.
        timestamp: u32,
        /// Volume of the first packet seen.
        volume: u8,
    },
    /// An event ended.
    DigitEnded {
        /// Event code.
        event: u8,
        /// RTP timestamp of the event's start.
        timestamp: u32,
        /// Total duration in timestamp units, across all segments of a long event.
        duration: u32,
        /// What ended it.
        reason: EndReason,
    },
}

impl ReceiverEvent {
    /// The DTMF digit this event concerns, if its event code is one.
    pub fn digit(&self) -> Option<DtmfDigit> {
        match *self {
            ReceiverEvent::DigitStarted { event, .. } | ReceiverEvent::DigitEnded { event, .. } => {
                DtmfDigit::from_event_code(event)
            }
        }
    }
}

/// The event the receiver is tracking.
#[derive(Debug, Clone, Copy)]
struct TrackedEvent {
    event: u8,
    start_timestamp: u32,
    segment_timestamp: u32,
    /// Length of the segments before the current one.
    earlier_segments: u32,
    segment_duration: u16,
    last_seq: u16,
    ended: bool,
}

impl TrackedEvent {
    fn total_duration(&self) -> u32 {
        self.earlier_segments
            .saturating_add(u32::from(self.segment_duration))
    }
}

/// The receiving side of RFC 4733 for one RTP stream (one SSRC): feed it every telephone-event packet, then
/// drain [`ReceiverEvent`]s with [`poll_event`](Self::poll_event).
///
/// Rules applied (RFC 4733 §2.5.2):
/// - an event is identified by its RTP timestamp: a newer timestamp is a new event, and ends the previous one
///   if its end packets were lost;
/// - the three copies of an end packet, duplicates and reordered packets produce nothing new;
/// - packets of an older event than the current one are ignored, as are packets with the current timestamp
///   arriving (by sequence number) after a newer one;
/// - the first packet seen of an event starts it, whatever it is, so lost start packets still yield a digit;
/// - a long event continues in a new segment whose timestamp is the previous segment's plus 0xFFFF
///   (§2.5.1.3); it is reported as one event whose duration spans all segments.
#[derive(Debug, Clone)]
pub struct EventReceiver {
    current: Option<TrackedEvent>,
    events: VecDeque<ReceiverEvent>,
}

impl Default for EventReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl EventReceiver {
    /// A receiver that has seen nothing yet.
    pub fn new() -> Self {
        EventReceiver {
            current: None,
            events: VecDeque::with_capacity(8),
        }
    }

    /// Handles one telephone-event packet. A malformed payload is rejected whole and changes nothing.
    pub fn handle_packet(
        &mut self,
        timestamp: u32,
        marker: bool,
        seq: u16,
        payload: &[u8],
    ) -> Result<(), TelephoneEventError> {
        let blocks = decode_events(payload)?;
        let mut block_timestamp = timestamp;
        for (index, block) in blocks.enumerate() {
            self.handle_block(block_timestamp, marker && index == 0, seq, block);
            block_timestamp = block_timestamp.wrapping_add(u32::from(block.duration));
        }
        Ok(())
    }

    /// Handles one RFC 2198 redundant packet: every block of payload type `event_payload_type` is handled as a
    /// telephone-event payload with its own timestamp, oldest first, so lost packets are recovered.
    pub fn handle_redundant_packet(
        &mut self,
        timestamp: u32,
        marker: bool,
        seq: u16,
        payload: &[u8],
        event_payload_type: u8,
    ) -> Result<(), TelephoneEventError> {
        let blocks = decode_redundancy(payload)?;
        // Check every event block first so a bad one leaves the receiver untouched.
        for block in blocks
            .clone()
            .filter(|b| b.payload_type == event_payload_type)
        {
            decode_events(block.data)?;
        }
        for block in blocks.filter(|b| b.payload_type == event_payload_type) {
            let block_timestamp = timestamp.wrapping_sub(u32::from(block.timestamp_offset));
            let primary = block.timestamp_offset == 0;
            self.handle_packet(block_timestamp, marker && primary, seq, block.data)?;
        }
        Ok(())
    }

    /// Tells the receiver no telephone-event packet arrived for the caller's timeout: an event still open (its
    /// end packets lost) is reported ended with the duration last seen. Later packets of it are ignored.
    pub fn handle_timeout(&mut self) {
        if let Some(current) = self.current.as_mut()
            && !current.ended
        {
            current.ended = true;
            let ended = ended_event(current, EndReason::Timeout);
            self.events.push_back(ended);
        }
    }

    /// The next start or end to report, oldest first.
    pub fn poll_event(&mut self) -> Option<ReceiverEvent> {
        self.events.pop_front()
    }

    /// Forgets the current event, for a new SSRC. Queued reports are kept.
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Whether an event is in progress (started and not yet ended).
    pub fn is_event_active(&self) -> bool {
        self.current.is_some_and(|c| !c.ended)
    }

    fn handle_block(&mut self, timestamp: u32, marker: bool, seq: u16, block: TelephoneEvent) {
        let Some(current) = self.current else {
            self.start(timestamp, seq, block);
            return;
        };
        // Serial-number arithmetic: RTP timestamps wrap.
        let delta = timestamp.wrapping_sub(current.segment_timestamp) as i32;
        if (-LATE_WINDOW..0).contains(&delta) {
            return;
        }
        if delta == 0 {
            self.handle_same_timestamp(current, timestamp, seq, block);
            return;
        }
        if delta > 0 && is_continuation(&current, delta.unsigned_abs(), marker, block) {
            self.continue_in_new_segment(current, timestamp, seq, block);
            return;
        }
        self.replace(current, timestamp, seq, block);
    }

    fn handle_same_timestamp(
        &mut self,
        current: TrackedEvent,
        timestamp: u32,
        seq: u16,
        block: TelephoneEvent,
    ) {
        let seq_delta = seq.wrapping_sub(current.last_seq) as i16;
        if (-REORDER_WINDOW..0).contains(&seq_delta) {
            return;
        }
        if block.event != current.event {
            // A sender reusing a timestamp for a new event breaks §2.5.1.2; taking it as new loses nothing.
            self.replace(current, timestamp, seq, block);
            return;
        }
        if current.ended {
            return;
        }
        let mut updated = current;
        updated.last_seq = seq;
        updated.segment_duration = updated.segment_duration.max(block.duration);
        if block.end {
            updated.ended = true;
            self.events
                .push_back(ended_event(&updated, EndReason::EndPacket));
        }
        self.current = Some(updated);
    }

    fn continue_in_new_segment(
        &mut self,
        current: TrackedEvent,
        timestamp: u32,
        seq: u16,
        block: TelephoneEvent,
    ) {
        let segment_length = timestamp.wrapping_sub(current.segment_timestamp);
        let mut updated = current;
        updated.earlier_segments = updated.earlier_segments.saturating_add(segment_length);
        updated.segment_timestamp = timestamp;
        updated.segment_duration = block.duration;
        updated.last_seq = seq;
        if block.end {
            updated.ended = true;
            self.events
                .push_back(ended_event(&updated, EndReason::EndPacket));
        }
        self.current = Some(updated);
    }

    fn replace(&mut self, current: TrackedEvent, timestamp: u32, seq: u16, block: TelephoneEvent) {
        if !current.ended {
            self.events
                .push_back(ended_event(&current, EndReason::NewEvent));
        }
        self.start(timestamp, seq, block);
    }

    fn start(&mut self, timestamp: u32, seq: u16, block: TelephoneEvent) {
        let tracked = TrackedEvent {
            event: block.event,
            start_timestamp: timestamp,
            segment_timestamp: timestamp,
            earlier_segments: 0,
            segment_duration: block.duration,
            last_seq: seq,
            ended: block.end,
        };
        self.events.push_back(ReceiverEvent::DigitStarted {
            event: block.event,
            timestamp,
            volume: block.volume,
        });
        if block.end {
            self.events
                .push_back(ended_event(&tracked, EndReason::EndPacket));
        }
        self.current = Some(tracked);
    }
}

/// Whether a packet `delta` timestamp units after the current segment continues the same long event.
fn is_continuation(
    current: &TrackedEvent,
    delta: u32,
    marker: bool,
    block: TelephoneEvent,
) -> bool {
    let nominal = u32::from(MAX_SEGMENT_DURATION);
    let near_boundary = delta.abs_diff(nominal) <= SEGMENT_SLACK;
    // The marker bit opens a new event; a continuation segment never carries it.
    !current.ended && !marker && block.event == current.event && near_boundary
}

fn ended_event(tracked: &TrackedEvent, reason: EndReason) -> ReceiverEvent {
    ReceiverEvent::DigitEnded {
        event: tracked.event,
        timestamp: tracked.start_timestamp,
        duration: tracked.total_duration(),
        reason,
    }
}

/// One packet the sender transmits, from [`EventGenerator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventPacket {
    /// RTP marker bit: set on the first packet of the event only.
    pub marker: bool,
    /// Add to the event's start timestamp to get this packet's RTP timestamp (non-zero for the later segments
    /// of a long event).
    pub timestamp_offset: u32,
    /// When to send the packet, in timestamp units after the event's start.
    pub send_offset: u64,
    /// The RTP payload.
    pub payload: [u8; EVENT_BLOCK_LEN],
}

impl EventPacket {
    /// The payload as a typed block.
    pub fn event(&self) -> TelephoneEvent {
        TelephoneEvent::from_bytes(self.payload)
    }
}

/// Produces the packets RFC 4733 §2.5.1 asks a sender to transmit for one event, in sending order: the
/// first with the marker bit, one update per packetisation interval with a growing duration and the same
/// timestamp, then the end packet three times with the same duration. Events longer than 0xFFFF units are
/// split into segments, each with a new timestamp, and each segment's final packet is also sent three times.
#[derive(Debug, Clone)]
pub struct EventGenerator {
    event: u8,
    volume: u8,
    total: u64,
    interval: u64,
    /// Send time of the next update.
    next_tick: u64,
    segment_start: u64,
    /// Copies of the previous segment's final packet still to send.
    segment_copies_left: u8,
    end_copies_sent: u8,
    marker_pending: bool,
    queued: Option<EventPacket>,
}

impl EventGenerator {
    /// Packets for `event` (see [`DtmfDigit::event_code`]) lasting `duration` timestamp units, sent every
    /// `interval` units (160 for 20 ms at 8 kHz; 0 is taken as 1), at `volume` (0–63, -dBm0).
    pub fn new(event: u8, duration: u32, interval: u32, volume: u8) -> Self {
        let interval = u64::from(interval.max(1));
        EventGenerator {
            event,
            volume: volume.min(0x3F),
            total: u64::from(duration),
            interval,
            next_tick: interval,
            segment_start: 0,
            segment_copies_left: 0,
            end_copies_sent: 0,
            marker_pending: true,
            queued: None,
        }
    }

    /// Packets for a DTMF digit.
    pub fn dtmf(digit: DtmfDigit, duration: u32, interval: u32, volume: u8) -> Self {
        Self::new(digit.event_code(), duration, interval, volume)
    }

    fn packet(
        &mut self,
        segment_start: u64,
        duration: u64,
        end: bool,
        send_offset: u64,
    ) -> EventPacket {
        let block = TelephoneEvent {
            event: self.event,
            end,
            reserved: false,
            volume: self.volume,
            duration: u16::try_from(duration).unwrap_or(MAX_SEGMENT_DURATION),
        };
        let marker = std::mem::take(&mut self.marker_pending);
        EventPacket {
            marker,
            // Offsets beyond 32 bits wrap exactly as RTP timestamps do.
            timestamp_offset: segment_start as u32,
            send_offset,
            payload: block.to_bytes(),
        }
    }

    /// The next packet in order, before any pending copy of a segment's final packet is interleaved.
    fn next_main(&mut self) -> Option<EventPacket> {
        if self.end_copies_sent >= FINAL_PACKET_COPIES {
            return None;
        }
        let ending = self.end_copies_sent > 0 || self.next_tick >= self.total;
        let now = if ending { self.total } else { self.next_tick };
        let max = u64::from(MAX_SEGMENT_DURATION);
        let full = now - self.segment_start >= max && self.total - self.segment_start > max;
        if ending && !full {
            let send = self.total + u64::from(self.end_copies_sent) * self.interval;
            self.end_copies_sent += 1;
            let duration = self.total - self.segment_start;
            return Some(self.packet(self.segment_start, duration, true, send));
        }
        if full {
            // The segment is full: report its maximum without the E bit and open the next one there.
            let final_packet =
                self.packet(self.segment_start, max, false, self.segment_start + max);
            self.segment_start += max;
            self.segment_copies_left = FINAL_PACKET_COPIES - 1;
            return Some(final_packet);
        }
        let tick = self.next_tick;
        self.next_tick += self.interval;
        Some(self.packet(self.segment_start, tick - self.segment_start, false, tick))
    }
}

impl Iterator for EventGenerator {
    type Item = EventPacket;

    fn next(&mut self) -> Option<EventPacket> {
        if let Some(queued) = self.queued.take() {
            return Some(queued);
        }
        let copies_before = self.segment_copies_left;
        let main = self.next_main()?;
        if copies_before == 0 {
            return Some(main);
        }
        // A copy of the previous segment's final packet goes out first, at the same time.
        self.segment_copies_left -= 1;
        let previous_start = self.segment_start - u64::from(MAX_SEGMENT_DURATION);
        let copy = TelephoneEvent {
            event: self.event,
            end: false,
            reserved: false,
            volume: self.volume,
            duration: MAX_SEGMENT_DURATION,
        };
        self.queued = Some(main);
        Some(EventPacket {
            marker: false,
            timestamp_offset: previous_start as u32,
            send_offset: main.send_offset,
            payload: copy.to_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(event: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent {
            event,
            end,
            reserved: false,
            volume: 10,
            duration,
        }
        .to_bytes()
    }

    fn drain(receiver: &mut EventReceiver) -> Vec<ReceiverEvent> {
        std::iter::from_fn(|| receiver.poll_event()).collect()
    }

    fn started(event: u8, timestamp: u32) -> ReceiverEvent {
        ReceiverEvent::DigitStarted {
            event,
            timestamp,
            volume: 10,
        }
    }

    fn ended(event: u8, timestamp: u32, duration: u32, reason: EndReason) -> ReceiverEvent {
        ReceiverEvent::DigitEnded {
            event,
            timestamp,
            duration,
            reason,
        }
    }

    /// Feeds every packet of `generator` starting at `timestamp`, sequence `seq`, and returns the next seq.
    fn feed_all(
        receiver: &mut EventReceiver,
        generator: EventGenerator,
        timestamp: u32,
        seq: u16,
    ) -> u16 {
        let mut seq = seq;
        for packet in generator {
            let ts = timestamp.wrapping_add(packet.timestamp_offset);
            receiver
                .handle_packet(ts, packet.marker, seq, &packet.payload)
                .expect("generated payload decodes");
            seq = seq.wrapping_add(1);
        }
        seq
    }

    #[test]
    fn decodes_the_fields_of_a_block() {
        let event = decode_events(&[0x05, 0x8A, 0x03, 0x20])
            .expect("valid")
            .next()
            .expect("one block");
        assert_eq!(
            event,
            TelephoneEvent {
                event: 5,
                end: true,
                reserved: false,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(event.digit(), Some(DtmfDigit::Five));
    }

    #[test]
    fn keeps_the_reserved_bit_for_relaying() {
        let bytes = [0x0B, 0x40 | 0x3F, 0xFF, 0xFF];
        let event = TelephoneEvent::from_bytes(bytes);
        assert!(event.reserved);
        assert!(!event.end);
        assert_eq!(event.to_bytes(), bytes);
    }

    #[test]
    fn clamps_volume_to_six_bits_on_encode() {
        let event = TelephoneEvent::dtmf(DtmfDigit::One, false, 200, 0);
        assert_eq!(event.to_bytes()[1], 0x3F);
    }

    #[test]
    fn rejects_empty_payload() {
        assert_eq!(decode_events(&[]).err(), Some(TelephoneEventError::Empty));
    }

    #[test]
    fn rejects_truncated_block_with_its_offset() {
        let err = decode_events(&[1, 2, 3, 4, 5, 6]).expect_err("truncated");
        assert_eq!(
            err,
            TelephoneEventError::TruncatedBlock {
                offset: 4,
                remaining: 2
            }
        );
        assert_eq!(err.offset(), 4);
    }

    #[test]
    fn rejects_more_blocks_than_the_limit() {
        let payload = vec![0u8; (MAX_EVENTS_PER_PAYLOAD + 1) * EVENT_BLOCK_LEN];
        assert!(matches!(
            decode_events(&payload),
            Err(TelephoneEventError::TooManyBlocks { offset: 128, .. })
        ));
    }

    #[test]
    fn decodes_packed_events_in_order() {
        let mut payload = Vec::new();
        payload.extend_from_slice(&block(1, true, 800));
        payload.extend_from_slice(&block(2, true, 640));
        let codes: Vec<u8> = decode_events(&payload)
            .expect("valid")
            .map(|e| e.event)
            .collect();
        assert_eq!(codes, vec![1, 2]);
    }

    #[test]
    fn encodes_several_events_into_a_buffer() {
        let events = [
            TelephoneEvent::dtmf(DtmfDigit::Star, true, 7, 400),
            TelephoneEvent::dtmf(DtmfDigit::Pound, false, 7, 160),
        ];
        let mut out = [0u8; 8];
        assert_eq!(encode_events(&events, &mut out), Ok(8));
        let decoded: Vec<_> = decode_events(&out).expect("valid").collect();
        assert_eq!(decoded, events);
        assert!(matches!(
            encode_events(&events, &mut [0u8; 7]),
            Err(TelephoneEventError::BufferTooSmall {
                offset: 7,
                needed: 8
            })
        ));
    }

    #[test]
    fn maps_digits_codes_and_characters_both_ways() {
        for digit in DtmfDigit::ALL {
            assert_eq!(DtmfDigit::from_event_code(digit.event_code()), Some(digit));
            assert_eq!(DtmfDigit::from_char(digit.as_char()), Some(digit));
            let (row, column) = digit.keypad_position();
            assert_eq!(DtmfDigit::at_keypad_position(row, column), Some(digit));
        }
        assert_eq!(DtmfDigit::from_char('b'), Some(DtmfDigit::B));
        assert_eq!(DtmfDigit::from_event_code(FLASH_EVENT), None);
        assert_eq!(DtmfDigit::from_char('E'), None);
        assert_eq!(DtmfDigit::Pound.frequencies(), (941.0, 1477.0));
        assert_eq!(DtmfDigit::Seven.to_string(), "7");
    }

    #[test]
    fn decodes_redundant_blocks_oldest_first() {
        // One redundant block (PT 101, offset 320, 4 bytes), then the primary (PT 101).
        let mut payload = vec![
            0x80 | 101,
            (320u16 >> 6) as u8,
            ((320u16 & 0x3F) << 2) as u8,
            4,
        ];
        payload.push(101);
        payload.extend_from_slice(&block(3, true, 480));
        payload.extend_from_slice(&block(4, false, 160));
        let blocks: Vec<_> = decode_redundancy(&payload).expect("valid").collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].timestamp_offset, 320);
        assert_eq!(blocks[0].data, &block(3, true, 480));
        assert_eq!(blocks[1].timestamp_offset, 0);
        assert_eq!(blocks[1].data, &block(4, false, 160));
    }

    #[test]
    fn rejects_redundant_block_longer_than_payload() {
        let payload = [0x80 | 101, 0, 0, 9, 101, 1, 2, 3];
        assert_eq!(
            decode_redundancy(&payload).err(),
            Some(TelephoneEventError::RedundantBlockOverrun {
                offset: 5,
                length: 9,
                remaining: 3
            })
        );
        assert!(matches!(
            decode_redundancy(&[0x80 | 101, 0]),
            Err(TelephoneEventError::TruncatedRedundancyHeader {
                offset: 0,
                expected: 4
            })
        ));
    }

    #[test]
    fn reports_one_start_and_one_end_for_a_digit_with_three_end_packets() {
        let mut receiver = EventReceiver::new();
        feed_all(&mut receiver, EventGenerator::new(1, 800, 160, 10), 1000, 7);
        assert_eq!(
            drain(&mut receiver),
            vec![started(1, 1000), ended(1, 1000, 800, EndReason::EndPacket)]
        );
        assert!(!receiver.is_event_active());
    }

    #[test]
    fn starts_the_digit_when_the_start_packets_are_lost() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(5000, false, 20, &block(9, false, 480))
            .expect("valid");
        receiver
            .handle_packet(5000, false, 21, &block(9, true, 640))
            .expect("valid");
        assert_eq!(
            drain(&mut receiver),
            vec![started(9, 5000), ended(9, 5000, 640, EndReason::EndPacket)]
        );
    }

    #[test]
    fn yields_the_digit_when_only_an_end_packet_arrives() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(5000, false, 20, &block(0, true, 800))
            .expect("valid");
        receiver
            .handle_packet(5000, false, 21, &block(0, true, 800))
            .expect("valid");
        assert_eq!(
            drain(&mut receiver),
            vec![started(0, 5000), ended(0, 5000, 800, EndReason::EndPacket)]
        );
    }

    #[test]
    fn ends_the_previous_event_when_a_new_timestamp_arrives_without_end_packets() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(1000, true, 1, &block(4, false, 160))
            .expect("valid");
        receiver
            .handle_packet(1000, false, 2, &block(4, false, 320))
            .expect("valid");
        receiver
            .handle_packet(3000, true, 9, &block(4, false, 160))
            .expect("valid");
        assert_eq!(
            drain(&mut receiver),
            vec![
                started(4, 1000),
                ended(4, 1000, 320, EndReason::NewEvent),
                started(4, 3000)
            ]
        );
    }

    #[test]
    fn reports_the_same_digit_twice_when_pressed_twice() {
        let mut receiver = EventReceiver::new();
        let seq = feed_all(&mut receiver, EventGenerator::new(5, 640, 160, 10), 0, 0);
        feed_all(
            &mut receiver,
            EventGenerator::new(5, 640, 160, 10),
            1600,
            seq.wrapping_add(5),
        );
        let reports = drain(&mut receiver);
        assert_eq!(reports.len(), 4);
        assert_eq!(reports[2], started(5, 1600));
    }

    #[test]
    fn ignores_late_packets_of_a_finished_event() {
        let mut receiver = EventReceiver::new();
        feed_all(&mut receiver, EventGenerator::new(2, 480, 160, 10), 0, 100);
        feed_all(
            &mut receiver,
            EventGenerator::new(3, 480, 160, 10),
            2000,
            200,
        );
        drain(&mut receiver);
        // A delayed update and a delayed end of the first event arrive now.
        receiver
            .handle_packet(0, false, 101, &block(2, false, 320))
            .expect("valid");
        receiver
            .handle_packet(0, false, 104, &block(2, true, 480))
            .expect("valid");
        assert_eq!(drain(&mut receiver), vec![]);
    }

    #[test]
    fn ignores_reordered_update_arriving_after_the_end() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(0, true, 1, &block(6, false, 160))
            .expect("valid");
        receiver
            .handle_packet(0, false, 3, &block(6, true, 480))
            .expect("valid");
        receiver
            .handle_packet(0, false, 2, &block(6, false, 320))
            .expect("valid");
        assert_eq!(
            drain(&mut receiver),
            vec![started(6, 0), ended(6, 0, 480, EndReason::EndPacket)]
        );
    }

    #[test]
    fn ignores_a_stale_packet_reusing_the_timestamp_of_the_next_event() {
        // A sender that reuses one timestamp for two events: the late copy of the first must not restart it.
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(0, true, 1, &block(1, true, 400))
            .expect("valid");
        receiver
            .handle_packet(0, true, 5, &block(2, false, 160))
            .expect("valid");
        receiver
            .handle_packet(0, false, 2, &block(1, true, 400))
            .expect("valid");
        let reports = drain(&mut receiver);
        assert_eq!(
            reports,
            vec![
                started(1, 0),
                ended(1, 0, 400, EndReason::EndPacket),
                started(2, 0)
            ]
        );
    }

    #[test]
    fn reports_a_long_event_once_across_segments() {
        let total = 3 * u32::from(MAX_SEGMENT_DURATION) + 1000;
        let generator = EventGenerator::new(11, total, 160, 10);
        let mut receiver = EventReceiver::new();
        feed_all(&mut receiver, generator, u32::MAX - 50_000, 0);
        assert_eq!(
            drain(&mut receiver),
            vec![
                started(11, u32::MAX - 50_000),
                ended(11, u32::MAX - 50_000, total, EndReason::EndPacket)
            ]
        );
    }

    #[test]
    fn takes_a_marked_packet_after_a_full_segment_as_a_new_event() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(0, true, 1, &block(1, false, 0xFFFF))
            .expect("valid");
        receiver
            .handle_packet(0xFFFF, true, 2, &block(1, false, 160))
            .expect("valid");
        let reports = drain(&mut receiver);
        assert_eq!(reports.len(), 3);
        assert_eq!(reports[2], started(1, 0xFFFF));
    }

    #[test]
    fn starts_a_new_event_after_a_backward_timestamp_jump() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(10_000_000, true, 1, &block(1, true, 400))
            .expect("valid");
        receiver
            .handle_packet(5_000, true, 2, &block(2, true, 400))
            .expect("valid");
        let reports = drain(&mut receiver);
        assert_eq!(reports.len(), 4);
        assert_eq!(reports[2], started(2, 5_000));
    }

    #[test]
    fn timeout_ends_an_event_whose_end_packets_were_lost_once() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(0, true, 1, &block(8, false, 320))
            .expect("valid");
        receiver.handle_timeout();
        receiver.handle_timeout();
        // The end packets finally arrive: already reported.
        receiver
            .handle_packet(0, false, 2, &block(8, true, 480))
            .expect("valid");
        assert_eq!(
            drain(&mut receiver),
            vec![started(8, 0), ended(8, 0, 320, EndReason::Timeout)]
        );
    }

    #[test]
    fn packed_events_each_start_where_the_previous_ended() {
        let mut payload = Vec::new();
        payload.extend_from_slice(&block(1, true, 800));
        payload.extend_from_slice(&block(2, true, 640));
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(100, true, 1, &payload)
            .expect("valid");
        assert_eq!(
            drain(&mut receiver),
            vec![
                started(1, 100),
                ended(1, 100, 800, EndReason::EndPacket),
                started(2, 900),
                ended(2, 900, 640, EndReason::EndPacket)
            ]
        );
    }

    #[test]
    fn recovers_a_lost_end_from_a_redundant_block() {
        let mut receiver = EventReceiver::new();
        receiver
            .handle_packet(1000, true, 1, &block(3, false, 160))
            .expect("valid");
        // The end of digit 3 was lost; the next packet carries it redundantly before the start of digit 4.
        let mut payload = vec![
            0x80 | 101,
            (1600u16 >> 6) as u8,
            ((1600u16 & 0x3F) << 2) as u8,
            4,
        ];
        payload.push(101);
        payload.extend_from_slice(&block(3, true, 800));
        payload.extend_from_slice(&block(4, false, 160));
        receiver
            .handle_redundant_packet(2600, true, 9, &payload, 101)
            .expect("valid");
        assert_eq!(
            drain(&mut receiver),
            vec![
                started(3, 1000),
                ended(3, 1000, 800, EndReason::EndPacket),
                started(4, 2600)
            ]
        );
    }

    #[test]
    fn malformed_payload_changes_nothing() {
        let mut receiver = EventReceiver::new();
        assert!(receiver.handle_packet(0, true, 1, &[1, 2, 3]).is_err());
        assert!(receiver.poll_event().is_none());
        assert!(!receiver.is_event_active());
    }

    #[test]
    fn generator_sends_marker_updates_and_three_identical_ends() {
        let packets: Vec<_> = EventGenerator::dtmf(DtmfDigit::Seven, 800, 160, 10).collect();
        let durations: Vec<u16> = packets.iter().map(|p| p.event().duration).collect();
        assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = packets.iter().map(|p| p.event().end).collect();
        assert_eq!(ends, vec![false, false, false, false, true, true, true]);
        let markers: Vec<bool> = packets.iter().map(|p| p.marker).collect();
        assert_eq!(
            markers,
            vec![true, false, false, false, false, false, false]
        );
        assert!(packets.iter().all(|p| p.timestamp_offset == 0));
        let sends: Vec<u64> = packets.iter().map(|p| p.send_offset).collect();
        assert_eq!(sends, vec![160, 320, 480, 640, 800, 960, 1120]);
        assert!(
            packets
                .iter()
                .all(|p| p.event().event == 7 && p.event().volume == 10)
        );
    }

    #[test]
    fn generator_marks_the_end_packet_of_an_event_shorter_than_one_interval() {
        let packets: Vec<_> = EventGenerator::new(1, 100, 160, 10).collect();
        assert_eq!(packets.len(), 3);
        assert!(packets[0].marker);
        assert!(
            packets
                .iter()
                .all(|p| p.event().end && p.event().duration == 100)
        );
    }

    #[test]
    fn generator_splits_a_long_event_into_segments_with_new_timestamps() {
        let total = u32::from(MAX_SEGMENT_DURATION) + 800;
        let packets: Vec<_> = EventGenerator::new(1, total, 160, 10).collect();
        let segment_finals: Vec<_> = packets
            .iter()
            .filter(|p| p.timestamp_offset == 0 && p.event().duration == MAX_SEGMENT_DURATION)
            .collect();
        assert_eq!(segment_finals.len(), 3);
        assert!(segment_finals.iter().all(|p| !p.event().end));
        let second: Vec<_> = packets
            .iter()
            .filter(|p| p.timestamp_offset == 0xFFFF)
            .collect();
        assert!(second.iter().all(|p| !p.marker));
        let ends: Vec<_> = second.iter().filter(|p| p.event().end).collect();
        assert_eq!(ends.len(), 3);
        assert!(ends.iter().all(|p| p.event().duration == 800));
        assert!(
            packets
                .windows(2)
                .all(|w| w[0].send_offset <= w[1].send_offset)
        );
        assert_eq!(packets.iter().filter(|p| p.marker).count(), 1);
    }

    #[test]
    fn generator_ends_on_the_segment_boundary_without_an_empty_segment() {
        let total = u32::from(MAX_SEGMENT_DURATION);
        let packets: Vec<_> = EventGenerator::new(1, total, 160, 10).collect();
        assert!(packets.iter().all(|p| p.timestamp_offset == 0));
        let last = packets.last().expect("packets").event();
        assert!(last.end);
        assert_eq!(last.duration, MAX_SEGMENT_DURATION);
    }

    proptest! {
        #[test]
        fn event_blocks_round_trip(event: u8, end: bool, reserved: bool, volume in 0u8..=63, duration: u16) {
            let block = TelephoneEvent { event, end, reserved, volume, duration };
            let bytes = block.to_bytes();
            let decoded: Vec<_> = decode_events(&bytes).expect("valid").collect();
            prop_assert_eq!(decoded, vec![block]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), ts: u32, seq: u16, marker: bool) {
            let mut receiver = EventReceiver::new();
            let _ = receiver.handle_packet(ts, marker, seq, &bytes);
            let _ = receiver.handle_redundant_packet(ts, marker, seq, &bytes, 101);
            if let Ok(blocks) = decode_redundancy(&bytes) {
                prop_assert!(blocks.count() <= MAX_REDUNDANT_BLOCKS);
            }
            receiver.handle_timeout();
            while receiver.poll_event().is_some() {}
        }

        #[test]
        fn generated_digit_is_reported_exactly_once(duration in 0u32..200_000, interval in 1u32..400, ts: u32, seq: u16) {
            let mut receiver = EventReceiver::new();
            feed_all(&mut receiver, EventGenerator::new(3, duration, interval, 10), ts, seq);
            prop_assert_eq!(
                drain(&mut receiver),
                vec![started(3, ts), ended(3, ts, duration, EndReason::EndPacket)]
            );
        }
    }
}
