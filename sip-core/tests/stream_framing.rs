//! Stream framing (TCP/TLS): Content-Length framing, keep-alives, partial input and limits.

use bytes::Bytes;
use tandem_sip_core::{
    Frame, Limits, Message, ParseError, ParseErrorKind, StreamFramer, parse_message,
};

const FIRST: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 15\r\n\
\r\n\
v=0\r\ns=-\r\nt=0 0";

const SECOND: &[u8] = b"SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
Call-ID: x\r\n\
l: 0\r\n\
\r\n";

fn datagram(bytes: &[u8]) -> Message {
    parse_message(Bytes::copy_from_slice(bytes)).expect("test message parses")
}

/// Push `chunks` one after another, polling after each, and collect every frame.
fn frames(framer: &mut StreamFramer, chunks: &[&[u8]]) -> Result<Vec<Frame>, ParseError> {
    let mut out = Vec::new();
    for chunk in chunks {
        framer.push(chunk)?;
        while let Some(frame) = framer.poll()? {
            out.push(frame);
        }
    }
    Ok(out)
}

#[test]
fn frames_two_messages_split_at_every_byte_boundary() {
    let stream = [FIRST, SECOND].concat();
    let expected = vec![
        Frame::Message(datagram(FIRST)),
        Frame::Message(datagram(SECOND)),
    ];
    for split in 0..=stream.len() {
        let (a, b) = stream.split_at(split);
        let mut framer = StreamFramer::new(Limits::default());
        assert_eq!(
            frames(&mut framer, &[a, b]),
            Ok(expected.clone()),
            "split at {split}"
        );
        assert_eq!(framer.buffered(), 0);
    }
}

#[test]
fn frames_messages_fed_one_byte_at_a_time() {
    let stream = [FIRST, b"\r\n\r\n", SECOND].concat();
    let chunks: Vec<&[u8]> = stream.chunks(1).collect();
    let mut framer = StreamFramer::new(Limits::default());
    let got = frames(&mut framer, &chunks).unwrap();
    // The ping's CRLFs arrive separately: a pong, then the ping.
    assert_eq!(
        got,
        vec![
            Frame::Message(datagram(FIRST)),
            Frame::KeepAlivePong,
            Frame::KeepAlivePing,
            Frame::Message(datagram(SECOND)),
        ]
    );
}

#[test]
fn frames_several_messages_from_one_read() {
    let stream = [SECOND, FIRST, SECOND].concat();
    let mut framer = StreamFramer::new(Limits::default());
    let got = frames(&mut framer, &[&stream]).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], Frame::Message(datagram(FIRST)));
}

#[test]
fn reports_double_crlf_as_ping_and_single_crlf_as_pong() {
    let mut framer = StreamFramer::new(Limits::default());
    let stream = [b"\r\n\r\n", SECOND, b"\r\n", SECOND].concat();
    assert_eq!(
        frames(&mut framer, &[&stream]),
        Ok(vec![
            Frame::KeepAlivePing,
            Frame::Message(datagram(SECOND)),
            Frame::KeepAlivePong,
            Frame::Message(datagram(SECOND)),
        ])
    );
}

#[test]
fn lone_crlf_at_end_of_input_is_a_pong_right_away() {
    let mut framer = StreamFramer::new(Limits::default());
    assert_eq!(
        frames(&mut framer, &[b"\r\n"]),
        Ok(vec![Frame::KeepAlivePong])
    );
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn waits_for_more_input_inside_a_possible_keep_alive() {
    let mut framer = StreamFramer::new(Limits::default());
    assert_eq!(frames(&mut framer, &[b"\r"]), Ok(vec![]));
    assert_eq!(
        frames(&mut framer, &[b"\n\r", b"\n"]),
        Ok(vec![Frame::KeepAlivePing])
    );
}

#[test]
fn missing_content_length_is_a_fatal_error() {
    let mut framer = StreamFramer::new(Limits::default());
    let message = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";
    let e = frames(&mut framer, &[message]).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MissingContentLength);
    assert_eq!(e.offset, message.len());
    assert_eq!(framer.poll(), Err(e.clone()));
    assert_eq!(framer.push(SECOND), Err(e));
}

#[test]
fn conflicting_content_lengths_are_a_fatal_error() {
    let mut framer = StreamFramer::new(Limits::default());
    let e = frames(
        &mut framer,
        &[b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 5\r\n\r\nhello"],
    )
    .unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::ContentLengthMismatch);
}

#[test]
fn rejects_announced_body_over_the_limit_before_it_arrives() {
    let limits = Limits {
        max_message_size: 1000,
        ..Limits::default()
    };
    let mut framer = StreamFramer::new(limits);
    let e = frames(
        &mut framer,
        &[b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 990\r\n\r\n"],
    )
    .unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MessageTooLarge { limit: 1000 });
}

#[test]
fn rejects_header_section_growing_past_the_limit() {
    let limits = Limits {
        max_message_size: 200,
        ..Limits::default()
    };
    let mut framer = StreamFramer::new(limits);
    let mut chunks: Vec<&[u8]> = vec![b"OPTIONS sip:a@b SIP/2.0\r\n"];
    chunks.extend(std::iter::repeat_n(&b"X-Filler: 0123456789\r\n"[..], 20));
    let e = frames(&mut framer, &chunks).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MessageTooLarge { limit: 200 });
    assert!(framer.buffered() <= 200);
}

#[test]
fn rejects_a_line_growing_past_the_limit_without_waiting_for_its_end() {
    let limits = Limits {
        max_line_length: 64,
        ..Limits::default()
    };
    let mut framer = StreamFramer::new(limits);
    let e = frames(
        &mut framer,
        &[b"OPTIONS sip:a@b SIP/2.0\r\nSubject: ", &[b'a'; 100]],
    )
    .unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::LineTooLong { limit: 64 });
    assert_eq!(e.offset, 25 + 64);
}

#[test]
fn refuses_to_buffer_when_the_caller_does_not_poll() {
    let limits = Limits {
        max_message_size: 100,
        ..Limits::default()
    };
    let mut framer = StreamFramer::new(limits);
    framer.push(&[b'a'; 101]).unwrap();
    let e = framer.push(b"more").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MessageTooLarge { limit: 100 });
}

#[test]
fn garbage_between_messages_is_a_fatal_syntax_error() {
    let mut framer = StreamFramer::new(Limits::default());
    let e = frames(&mut framer, &[SECOND, b"\x00\x01garbage\r\n\r\n"]).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Syntax);
    assert_eq!(e.offset, 0);
}
