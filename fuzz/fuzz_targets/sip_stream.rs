//! SIP stream framing: no input panics, however the bytes are split into reads, and the messages framed do not
//! depend on where the reads were split.
//!
//! The first byte says how many split points follow (up to 16), each one byte giving the length of a read; the
//! rest of the input is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_sip_core::{Frame, Limits, Message, StreamFramer};

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let splits = usize::from(count % 17).min(rest.len());
    let (lengths, stream) = rest.split_at(splits);
    let chunked = frame(stream, lengths);
    let whole = frame(stream, &[]);
    // Keep-alives are reported per read (a double CRLF split across reads is a pong then a ping), so only the
    // messages are compared, and whether the stream failed.
    assert_eq!(chunked.messages, whole.messages, "splits {lengths:?}");
    assert_eq!(chunked.failed, whole.failed, "splits {lengths:?}");
});

#[derive(Debug)]
struct Framed {
    messages: Vec<Message>,
    failed: bool,
}

/// Feed `stream` in reads of the given lengths (then the rest in one read), polling after each until the framer
/// needs more input or fails.
fn frame(stream: &[u8], lengths: &[u8]) -> Framed {
    let mut framer = StreamFramer::new(Limits::default());
    let mut framed = Framed {
        messages: Vec::new(),
        failed: false,
    };
    let mut rest = stream;
    let reads = lengths.iter().map(|&l| usize::from(l)).chain([usize::MAX]);
    for len in reads {
        let (read, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        if framer.push(read).is_err() {
            framed.failed = true;
            return framed;
        }
        loop {
            match framer.poll() {
                Ok(Some(Frame::Message(message))) => framed.messages.push(message),
                Ok(Some(Frame::KeepAlivePing | Frame::KeepAlivePong)) => {}
                Ok(None) => break,
                Err(_) => {
                    // A framing error is fatal and sticks.
                    assert!(framer.poll().is_err());
                    framed.failed = true;
                    return framed;
                }
            }
        }
        if rest.is_empty() {
            break;
        }
    }
    framed
}
