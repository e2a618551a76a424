//! Framing SIP messages on a byte stream (TCP, TLS): Content-Length framing (RFC 3261 §18.3) and CRLF
//! keep-alives (RFC 5626 §3.5.1), sans-IO.

use super::{HeadScanner, Limits, body_length, parse_head, too_large};
use crate::error::{ParseError, ParseErrorKind};
use crate::message::Message;
use bytes::BytesMut;

/// What a [`StreamFramer`] found next on the stream.
// The message is moved once, from the framer to the caller; boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete message.
    Message(Message),
    /// A keep-alive ping (a double CRLF between messages, RFC 5626 §3.5.1); the transport answers with a
    /// pong, a single CRLF.
    KeepAlivePing,
    /// A keep-alive pong (a single CRLF between messages), the answer to our ping.
    ///
    /// A ping whose two CRLFs arrive in separate reads is reported as a pong followed by a ping, so that a
    /// waiting client learns of a real pong without delay; a server ignores pongs and answers the ping.
    KeepAlivePong,
}

/// Where the framer is in the stream.
#[derive(Debug)]
enum State {
    /// Between messages. `after_crlf` is set when the last thing reported was a lone CRLF at the end of the
    /// input, which a following CRLF turns into a ping.
    Idle { after_crlf: bool },
    /// Reading the start line and header fields.
    Head(HeadScanner),
    /// Header section parsed; waiting for `len` body bytes.
    Body { message: Box<Message>, len: usize },
}

/// Cuts SIP messages out of a byte stream: [`StreamFramer::push`] what the connection reads, then call
/// [`StreamFramer::poll`] until it returns `Ok(None)`.
///
/// Every message on a stream must carry a Content-Length ([`ParseErrorKind::MissingContentLength`]
/// otherwise). Limits are enforced while buffering: a header section that grows past the limits, or a
/// Content-Length announcing a message over [`Limits::max_message_size`], fails at once, before the bytes
/// arrive, so the framer holds at most one message plus one read. A framing error is fatal: the stream
/// cannot be resynchronised, the framer keeps returning the error and the transport must close the
/// connection. Error offsets count from the start of the message being framed.
///
/// ```
/// use tandem_sip_core::{Frame, Limits, StreamFramer};
///
/// let mut framer = StreamFramer::new(Limits::default());
/// framer.push(b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n").unwrap();
/// assert_eq!(framer.poll(), Ok(Some(Frame::KeepAlivePing)));
/// assert_eq!(framer.poll(), Ok(None)); // the empty line has not arrived yet
/// framer.push(b"\r\n").unwrap();
/// assert!(matches!(framer.poll(), Ok(Some(Frame::Message(_)))));
/// ```
#[derive(Debug)]
pub struct StreamFramer {
    buffer: BytesMut,
    limits: Limits,
    state: State,
    failed: Option<ParseError>,
}

impl StreamFramer {
    /// A framer for a new connection.
    pub fn new(limits: Limits) -> StreamFramer {
        StreamFramer {
            buffer: BytesMut::new(),
            limits,
            state: State::Idle { after_crlf: false },
            failed: None,
        }
    }

    /// Append bytes read from the connection.
    ///
    /// Fails, fatally, if the framer has failed before or if more than [`Limits::max_message_size`] bytes
    /// are still buffered from earlier pushes, which happens only when the caller does not drain
    /// [`StreamFramer::poll`] after each push.
    pub fn push(&mut self, data: &[u8]) -> Result<(), ParseError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.buffer.len() > self.limits.max_message_size {
            return Err(self.fail(too_large(&self.limits)));
        }
        self.buffer.extend_from_slice(data);
        Ok(())
    }

    /// The next complete frame, `Ok(None)` if more input is needed, or the fatal error that ended the stream.
    pub fn poll(&mut self) -> Result<Option<Frame>, ParseError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.step() {
            Ok(frame) => Ok(frame),
            Err(error) => Err(self.fail(error)),
        }
    }

    /// Bytes received and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn fail(&mut self, error: ParseError) -> ParseError {
        self.failed = Some(error.clone());
        self.buffer = BytesMut::new();
        error
    }

    fn step(&mut self) -> Result<Option<Frame>, ParseError> {
        loop {
            match &mut self.state {
                State::Idle { after_crlf } => {
                    let after_crlf = *after_crlf;
                    match self.keep_alive(after_crlf) {
                        Some(KeepAlive::Ping) => return Ok(Some(Frame::KeepAlivePing)),
                        Some(KeepAlive::Pong) => return Ok(Some(Frame::KeepAlivePong)),
                        Some(KeepAlive::NeedMore) => return Ok(None),
                        None => self.state = State::Head(HeadScanner::new(0)),
                    }
                }
                State::Head(scanner) => {
                    let Some(body_start) = scanner.scan(&self.buffer, &self.limits)? else {
                        return Ok(None);
                    };
                    let fields = scanner.fields;
                    self.state = self.read_head(body_start, fields)?;
                }
                State::Body { len, .. } => {
                    if self.buffer.len() < *len {
                        return Ok(None);
                    }
                    let body = self.buffer.split_to(*len).freeze();
                    let State::Body { mut message, .. } =
                        std::mem::replace(&mut self.state, State::Idle { after_crlf: false })
                    else {
                        return Ok(None);
                    };
                    message.set_wire_body(body);
                    return Ok(Some(Frame::Message(*message)));
                }
            }
        }
    }

    /// Handle CRLFs between messages; `None` when a message starts at the front of the buffer.
    fn keep_alive(&mut self, after_crlf: bool) -> Option<KeepAlive> {
        let buf = &self.buffer[..];
        let (consumed, frame, now_after_crlf) = match buf {
            [] => return Some(KeepAlive::NeedMore),
            [b'\r', b'\n', b'\r', b'\n', ..] => (4, KeepAlive::Ping, false),
            [b'\r', b'\n', ..] if after_crlf => (2, KeepAlive::Ping, false),
            [b'\r', b'\n'] => (2, KeepAlive::Pong, true),
            [b'\r', b'\n', b'\r'] | [b'\r'] => return Some(KeepAlive::NeedMore),
            [b'\r', b'\n', ..] => (2, KeepAlive::Pong, false),
            _ => return None,
        };
        let _ = self.buffer.split_to(consumed);
        self.state = State::Idle {
            after_crlf: now_after_crlf,
        };
        Some(frame)
    }

    /// Parse the complete header section `buffer[..body_start]` and decide how long the body is.
    fn read_head(&mut self, body_start: usize, fields: usize) -> Result<State, ParseError> {
        let head_bytes = self.buffer.split_to(body_start).freeze();
        let message = parse_head(&head_bytes, 0, body_start, fields, &self.limits)?;
        let length = body_length(message.headers())?;
        let Some(len) = length.first else {
            return Err(ParseError {
                offset: body_start,
                kind: ParseErrorKind::MissingContentLength,
                expected: "a Content-Length header field",
            });
        };
        if length.conflicting {
            return Err(ParseError {
                offset: body_start,
                kind: ParseErrorKind::ContentLengthMismatch,
                expected: "Content-Length fields that agree",
            });
        }
        if body_start.saturating_add(len) > self.limits.max_message_size {
            return Err(too_large(&self.limits));
        }
        Ok(State::Body {
            message: Box::new(message),
            len,
        })
    }
}

/// The outcome of looking for keep-alives at the front of the buffer.
enum KeepAlive {
    /// A ping (double CRLF) was consumed.
    Ping,
    /// A pong (single CRLF) was consumed.
    Pong,
    /// The buffer ends inside what may be a keep-alive.
    NeedMore,
}
