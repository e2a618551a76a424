//! RFC 4733 payload and RFC 2198 redundancy decoding, and the receiver state machine fed arbitrary packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_rtp_core::telephone_event::{
    EventReceiver, ReceiverEvent, decode_events, decode_redundancy,
};

/// Checks the receiver's promise: starts and ends alternate, an end names the event that started.
fn check_reports(receiver: &mut EventReceiver, open: &mut Option<(u8, u32)>) {
    while let Some(report) = receiver.poll_event() {
        match report {
            ReceiverEvent::DigitStarted {
                event, timestamp, ..
            } => {
                assert!(open.is_none(), "start while another event is open");
                *open = Some((event, timestamp));
            }
            ReceiverEvent::DigitEnded {
                event, timestamp, ..
            } => {
                assert_eq!(
                    open.take(),
                    Some((event, timestamp)),
                    "end without matching start"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(blocks) = decode_events(data) {
        for block in blocks {
            assert_eq!(
                tandem_rtp_core::TelephoneEvent::from_bytes(block.to_bytes()),
                block
            );
        }
    }
    if let Ok(blocks) = decode_redundancy(data) {
        for block in blocks {
            let _ = decode_events(block.data);
        }
    }

    // Records: timestamp (4), seq (2), flags (1), length (1), payload (length).
    let mut receiver = EventReceiver::new();
    let mut open = None;
    let mut rest = data;
    while let [t0, t1, t2, t3, s0, s1, flags, length, tail @ ..] = rest {
        let length = usize::from(*length).min(tail.len());
        let (payload, next) = tail.split_at(length);
        let timestamp = u32::from_be_bytes([*t0, *t1, *t2, *t3]);
        let seq = u16::from_be_bytes([*s0, *s1]);
        let marker = flags & 1 != 0;
        let result = if flags & 2 != 0 {
            receiver.handle_redundant_packet(timestamp, marker, seq, payload, flags >> 2)
        } else {
            receiver.handle_packet(timestamp, marker, seq, payload)
        };
        let _ = result;
        if flags & 0x80 != 0 {
            receiver.handle_timeout();
        }
        check_reports(&mut receiver, &mut open);
        rest = next;
    }
});
