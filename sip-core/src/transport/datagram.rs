//! What one datagram (a UDP datagram or a WebSocket message) holds: a message, a keep-alive, or something
//! malformed that may still deserve an answer.

use crate::error::ParseError;
use crate::message::{Message, Request};
use crate::parse::{Limits, parse_message_head, parse_message_with};
use bytes::Bytes;

/// The outcome of reading one datagram.
// Built and consumed at once on the receive path; boxing the message would cost an allocation per datagram.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Datagram {
    /// A well-formed message.
    Message(Message),
    /// Only CR and LF bytes (or nothing): a keep-alive some clients send over UDP (RFC 5626 §4.4.1 style).
    KeepAlive,
    /// Not a well-formed message. `request` is its start line and header fields when those parse as a
    /// request (body left empty), so that the caller can answer 400, or 513 for a message over the size
    /// limit (RFC 3261 §21.4.1, §21.5.14); `None` for malformed responses and garbage, which are dropped.
    Malformed {
        request: Option<Request>,
        error: ParseError,
    },
}

/// Read one datagram under `limits`.
pub(crate) fn read_datagram(bytes: &Bytes, limits: &Limits) -> Datagram {
    if bytes.iter().all(|&b| matches!(b, b'\r' | b'\n')) {
        return Datagram::KeepAlive;
    }
    match parse_message_with(bytes.clone(), limits) {
        Ok(message) => Datagram::Message(message),
        Err(error) => Datagram::Malformed {
            request: request_head(bytes, limits),
            error,
        },
    }
}

/// The head of a malformed datagram, if it is a request's.
fn request_head(bytes: &Bytes, limits: &Limits) -> Option<Request> {
    // The size limit is lifted so that an oversized request can still be answered with 513; the receive
    // buffer bounds what was read, and the line, header and Via limits still bound the work.
    let relaxed = Limits {
        max_message_size: usize::MAX,
        ..*limits
    };
    // A datagram over the limit may have been cut short by the receive buffer (which holds one byte more
    // than the limit), possibly in the middle of a header line: read the head up to its last whole line.
    let head = match bytes.len() > limits.max_message_size {
        true => match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => bytes.slice(..=end),
            None => bytes.clone(),
        },
        false => bytes.clone(),
    };
    match parse_message_head(head, &relaxed) {
        Ok(Message::Request(request)) => Some(request),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    const OPTIONS: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
        From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n";

    fn read(text: &str, limits: &Limits) -> Datagram {
        read_datagram(&Bytes::copy_from_slice(text.as_bytes()), limits)
    }

    #[test]
    fn reads_a_well_formed_datagram() {
        let d = read(
            &format!("{OPTIONS}Content-Length: 0\r\n\r\n"),
            &Limits::DEFAULT,
        );
        assert!(matches!(d, Datagram::Message(Message::Request(_))));
    }

    #[test]
    fn crlf_only_datagrams_are_keep_alives() {
        assert!(matches!(
            read("\r\n\r\n", &Limits::DEFAULT),
            Datagram::KeepAlive
        ));
        assert!(matches!(read("", &Limits::DEFAULT), Datagram::KeepAlive));
    }

    #[test]
    fn request_with_bad_framing_keeps_its_head_for_a_400() {
        let d = read(
            &format!("{OPTIONS}Content-Length: 50\r\n\r\nshort"),
            &Limits::DEFAULT,
        );
        let Datagram::Malformed {
            request: Some(request),
            error,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(error.kind, ParseErrorKind::ContentLengthMismatch);
        assert!(request.headers().call_id().is_some());
    }

    #[test]
    fn oversized_request_keeps_its_head_for_a_513() {
        let limits = Limits {
            max_message_size: 300,
            ..Limits::DEFAULT
        };
        let body = "x".repeat(400);
        let d = read(
            &format!("{OPTIONS}Content-Length: 400\r\n\r\n{body}"),
            &limits,
        );
        let Datagram::Malformed {
            request: Some(_),
            error,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(error.kind, ParseErrorKind::MessageTooLarge { limit: 300 });
    }

    #[test]
    fn oversized_request_cut_inside_a_header_line_keeps_its_head_for_a_513() {
        let limits = Limits {
            max_message_size: 300,
            ..Limits::DEFAULT
        };
        let padding: String = (0..10)
            .map(|i| format!("X-Pad-{i}: {}\r\n", "p".repeat(40)))
            .collect();
        let wire = format!("{OPTIONS}{padding}Content-Length: 0\r\n\r\n");
        // What a receive buffer of the limit plus one keeps: the datagram ends inside `X-Pad-…`.
        let cut = wire.get(..301).expect("longer than the limit");
        assert!(!cut.ends_with('\n'));
        let Datagram::Malformed {
            request: Some(request),
            error,
        } = read(cut, &limits)
        else {
            panic!("no head for a 513")
        };
        assert_eq!(error.kind, ParseErrorKind::MessageTooLarge { limit: 300 });
        assert!(request.headers().cseq().is_some());
    }

    #[test]
    fn malformed_responses_and_garbage_have_no_head() {
        let d = read(
            "SIP/2.0 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            &Limits::DEFAULT,
        );
        assert!(matches!(d, Datagram::Malformed { request: None, .. }));
        let d = read("\x16\x03\x01 not sip at all", &Limits::DEFAULT);
        assert!(matches!(d, Datagram::Malformed { request: None, .. }));
    }
}
