//! Properties of the jitter buffer under random arrival schedules: it never panics and never plays out of
//! order, whatever the network does.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use tandem_rtp_core::jitter_buffer::{
    JitterBuffer, JitterBufferConfig, MediaFrame, Playout, PushOutcome,
};

/// One sent packet of a synthetic 20 ms stream and what the network does to it.
#[derive(Debug, Clone)]
struct Sent {
    /// Network delay in ms.
    delay: u64,
    dropped: bool,
    duplicated: bool,
    /// Frames of silence (DTX) before this packet; a pause sets the marker bit.
    pause: u32,
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        0u64..300,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
        prop::option::weighted(0.05, 1u32..100),
    )
        .prop_map(|(delay, dropped, duplicated, pause)| Sent {
            delay,
            dropped,
            duplicated,
            pause: pause.unwrap_or(0),
        })
}

/// A packet on the wire: arrival time in ms, its index in the stream, and the frame.
fn schedule(
    start_sequence: u16,
    start_timestamp: u32,
    packets: &[Sent],
) -> Vec<(u64, usize, MediaFrame)> {
    let mut arrivals = Vec::new();
    let mut frames_elapsed = 0u32;
    for (index, packet) in packets.iter().enumerate() {
        frames_elapsed += packet.pause;
        let sent_at = 20 * u64::from(frames_elapsed);
        let frame = MediaFrame {
            sequence: start_sequence.wrapping_add(index as u16),
            timestamp: start_timestamp.wrapping_add(160 * frames_elapsed),
            marker: packet.pause > 0,
            payload: Bytes::copy_from_slice(&(index as u32).to_be_bytes()),
        };
        frames_elapsed += 1;
        if packet.dropped {
            continue;
        }
        arrivals.push((sent_at + packet.delay, index, frame.clone()));
        if packet.duplicated {
            arrivals.push((sent_at + packet.delay + 7, index, frame));
        }
    }
    arrivals.sort_by_key(|arrival| arrival.0);
    arrivals
}

/// Played and lost sequence numbers, one list per stream segment; and each played frame's sequence
/// number, stream index and timestamp.
type Outputs = (Vec<Vec<u16>>, Vec<(u16, usize, u32)>);

/// Feeds `arrivals` and pops every `tick` ms; returns the played and lost sequence numbers in order, split
/// into segments at each resynchronization, plus the played frames' stream indexes.
fn drive(buffer: &mut JitterBuffer, arrivals: &[(u64, usize, MediaFrame)], tick: u64) -> Outputs {
    let start = Instant::now();
    let end = arrivals.last().map_or(0, |arrival| arrival.0) + 2000;
    let mut segments = vec![Vec::new()];
    let mut played = Vec::new();
    let mut next_arrival = 0;
    let mut now = 0;
    while now <= end {
        while let Some((at, _, frame)) = arrivals
            .get(next_arrival)
            .filter(|arrival| arrival.0 <= now)
        {
            if buffer.push(start + Duration::from_millis(*at), frame.clone())
                == PushOutcome::Resynchronized
            {
                segments.push(Vec::new());
            }
            next_arrival += 1;
        }
        let _ = buffer.poll_timeout();
        match buffer.pop(start + Duration::from_millis(now)) {
            Playout::Frame(frame) => {
                // Only the synthetic streams carry their index; arbitrary payloads map to usize::MAX.
                let index = frame
                    .payload
                    .get(..4)
                    .and_then(|bytes| bytes.try_into().ok())
                    .map_or(usize::MAX, |bytes| u32::from_be_bytes(bytes) as usize);
                played.push((frame.sequence, index, frame.timestamp));
                segments.last_mut().unwrap().push(frame.sequence);
            }
            Playout::Lost { sequence, .. } => segments.last_mut().unwrap().push(sequence),
            Playout::Empty => {}
        }
        now += tick;
    }
    (segments, played)
}

fn assert_in_order(segments: &[Vec<u16>]) -> Result<(), TestCaseError> {
    for segment in segments {
        for pair in segment.windows(2) {
            let step = pair[1].wrapping_sub(pair[0]) as i16;
            prop_assert!(step > 0, "{} then {} in {:?}", pair[0], pair[1], segment);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn plays_each_sent_frame_at_most_once_and_in_order(
        start_sequence in any::<u16>(),
        start_timestamp in any::<u32>(),
        packets in prop::collection::vec(sent(), 1..300),
        tick in prop::sample::select(vec![10u64, 20, 30]),
    ) {
        let arrivals = schedule(start_sequence, start_timestamp, &packets);
        let mut buffer = JitterBuffer::new(JitterBufferConfig::new(8000));
        let (segments, played) = drive(&mut buffer, &arrivals, tick);
        prop_assert_eq!(segments.len(), 1, "a single stream never resynchronizes");
        prop_assert!(arrivals.is_empty() || !played.is_empty(), "the first packet always plays");
        assert_in_order(&segments)?;
        let mut seen = std::collections::HashSet::new();
        for (sequence, index, timestamp) in played {
            prop_assert!(!packets[index].dropped);
            prop_assert!(seen.insert(index), "index {} played twice", index);
            prop_assert_eq!(sequence, start_sequence.wrapping_add(index as u16));
            let (_, _, sent) = arrivals.iter().find(|arrival| arrival.1 == index).unwrap();
            prop_assert_eq!(timestamp, sent.timestamp);
        }
        let stats = buffer.stats();
        prop_assert!(stats.playout_delay <= buffer.config().max_delay);
    }

    #[test]
    fn never_panics_and_stays_in_order_on_arbitrary_packets(
        packets in prop::collection::vec(
            (0u64..5000, any::<u16>(), any::<u32>(), any::<bool>(), 0usize..64),
            0..200,
        ),
        capacity in 0usize..40,
        clock_rate in prop::sample::select(vec![0u32, 1, 8000, 48000, u32::MAX]),
    ) {
        let mut config = JitterBufferConfig::new(clock_rate);
        config.capacity = capacity;
        let mut buffer = JitterBuffer::new(config);
        let arrivals: Vec<_> = packets
            .into_iter()
            .enumerate()
            .map(|(index, (at, sequence, timestamp, marker, len))| {
                let payload = Bytes::from(vec![0u8; len]);
                (at, index, MediaFrame { sequence, timestamp, marker, payload })
            })
            .collect();
        let mut sorted = arrivals.clone();
        sorted.sort_by_key(|arrival| arrival.0);
        let (segments, _) = drive(&mut buffer, &sorted, 20);
        assert_in_order(&segments)?;
    }

    #[test]
    fn close_sequence_numbers_in_any_order_never_break_order(
        offsets in prop::collection::vec((0u16..200, 0u64..3000), 0..300),
        start_sequence in any::<u16>(),
    ) {
        // Sequence numbers near each other, timestamps consistent with them, arriving in random order.
        let arrivals: Vec<_> = offsets
            .into_iter()
            .enumerate()
            .map(|(index, (offset, at))| {
                let frame = MediaFrame {
                    sequence: start_sequence.wrapping_add(offset),
                    timestamp: 160 * u32::from(offset),
                    marker: false,
                    payload: Bytes::copy_from_slice(&(index as u32).to_be_bytes()),
                };
                (at, index, frame)
            })
            .collect();
        let mut sorted = arrivals.clone();
        sorted.sort_by_key(|arrival| arrival.0);
        let mut buffer = JitterBuffer::new(JitterBufferConfig::new(8000));
        let (segments, _) = drive(&mut buffer, &sorted, 20);
        assert_in_order(&segments)?;
    }
}
