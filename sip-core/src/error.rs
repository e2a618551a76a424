//! The crate's error types.

use std::fmt;

/// Everything that can go wrong in this crate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not a well-formed SIP message, URI or header value.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A request failed [`crate::validate_request`]; the rejection says which reply to send.
    #[error(transparent)]
    Rejected(#[from] crate::validate::Rejection),
    /// A response failed [`crate::validate_response`] and must be dropped.
    #[error(transparent)]
    Discarded(#[from] crate::validate::Discard),
    /// The transaction layer refused an operation (see [`crate::transaction::TransactionError`]).
    #[error(transparent)]
    Transaction(#[from] crate::transaction::TransactionError),
    /// A dialog operation failed (see [`crate::dialog::DialogError`]).
    #[error(transparent)]
    Dialog(#[from] crate::dialog::DialogError),
    /// Digest authentication failed (see [`crate::auth::AuthError`]).
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

/// A parse failure: where it happened, what kind of failure it is and what the parser expected there.
///
/// `offset` counts bytes from the start of the input handed to the parser that failed (the whole message for the
/// message parser, the header value for a typed header parser, the URI text for [`crate::Uri::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the failure in the parser's input.
    pub offset: usize,
    /// What kind of failure this is.
    pub kind: ParseErrorKind,
    /// A short human-readable description of what was expected at `offset` (e.g. `"SIP-Version"`).
    pub expected: &'static str,
}

impl ParseError {
    /// A syntax error at `offset` where `expected` was expected.
    pub fn syntax(offset: usize, expected: &'static str) -> Self {
        ParseError {
            offset,
            kind: ParseErrorKind::Syntax,
            expected,
        }
    }

    /// The same error with its offset moved by `base` (used when a sub-parser ran on a slice of a larger input).
    pub fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: expected {}",
            self.kind, self.offset, self.expected
        )
    }
}

impl std::error::Error for ParseError {}

/// The kind of a [`ParseError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The bytes do not follow the grammar.
    Syntax,
    /// The input ended before the message (or element) was complete.
    Incomplete,
    /// The message is larger than the configured limit (`limit` bytes).
    MessageTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A single line is longer than the configured limit.
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The message has more header fields than the configured limit.
    TooManyHeaders {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The message has more Via entries than the configured limit.
    TooManyVias {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The Content-Length header disagrees with the body that was received (or with another Content-Length).
    ContentLengthMismatch,
    /// A message on a stream transport has no Content-Length, so its end cannot be found (RFC 3261 §18.3).
    MissingContentLength,
    /// A numeric value is out of range (e.g. a CSeq number over 2^31-1 or a status code outside 100..=699).
    OutOfRange,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::Syntax => f.write_str("syntax error"),
            ParseErrorKind::Incomplete => f.write_str("incomplete input"),
            ParseErrorKind::MessageTooLarge { limit } => {
                write!(f, "message larger than {limit} bytes")
            }
            ParseErrorKind::LineTooLong { limit } => write!(f, "line longer than {limit} bytes"),
            ParseErrorKind::TooManyHeaders { limit } => {
                write!(f, "more than {limit} header fields")
            }
            ParseErrorKind::TooManyVias { limit } => write!(f, "more than {limit} Via entries"),
            ParseErrorKind::ContentLengthMismatch => {
                f.write_str("Content-Length does not match the body")
            }
            ParseErrorKind::MissingContentLength => {
                f.write_str("Content-Length missing on a stream transport")
            }
            ParseErrorKind::OutOfRange => f.write_str("value out of range"),
        }
    }
}
