//! The error returned by the SDP and `a=crypto` parsers.

use std::fmt;

/// A parse failure in a session description or in one attribute value: where it happened, what kind of failure
/// it is and what the parser expected there.
///
/// `line` is 1-based. `offset` counts bytes from the start of the parser's input: the whole description for
/// [`crate::sdp::SessionDescription::parse`], the value alone for standalone parsers such as
/// [`crate::sdp::Attribute::parse`] or [`crate::sdes::Crypto::parse`] (which report line 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at line {line}, byte {offset}: expected {expected}")]
pub struct SdpError {
    /// 1-based line number of the failure.
    pub line: usize,
    /// Byte offset of the failure in the parser's input.
    pub offset: usize,
    /// What kind of failure this is.
    pub kind: SdpErrorKind,
    /// A short description of what was expected at `offset` (e.g. `"port number"`).
    pub expected: &'static str,
}

/// The kind of an [`SdpError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpErrorKind {
    /// The bytes do not follow the grammar.
    Syntax,
    /// The description is not valid UTF-8 (SDP text defaults to UTF-8; other charsets are not supported).
    InvalidUtf8,
    /// A line of this type is not allowed here: unknown type letter, wrong order, or repeated once-only line.
    UnexpectedLine {
        /// The type letter of the offending line.
        found: char,
    },
    /// The description ended before a mandatory line.
    MissingLine {
        /// The type letter of the missing line.
        expected: char,
    },
    /// A number does not fit its field (e.g. a port over 65535 or a payload type over 127).
    OutOfRange,
    /// The description is larger than the configured limit (bytes).
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The description has more media sections than the configured limit.
    TooManyMedia {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The description has more attribute lines than the configured limit (session and media levels together).
    TooManyAttributes {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A list inside one value (formats, candidate extensions, key parameters, …) is longer than the
    /// configured limit.
    TooManyItems {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl fmt::Display for SdpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpErrorKind::Syntax => f.write_str("syntax error"),
            SdpErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            SdpErrorKind::UnexpectedLine { found } => write!(f, "unexpected `{found}=` line"),
            SdpErrorKind::MissingLine { expected } => write!(f, "missing `{expected}=` line"),
            SdpErrorKind::OutOfRange => f.write_str("value out of range"),
            SdpErrorKind::TooLarge { limit } => write!(f, "description larger than {limit} bytes"),
            SdpErrorKind::TooManyMedia { limit } => write!(f, "more than {limit} media sections"),
            SdpErrorKind::TooManyAttributes { limit } => write!(f, "more than {limit} attributes"),
            SdpErrorKind::TooManyItems { limit } => {
                write!(f, "more than {limit} items in one value")
            }
        }
    }
}

/// A failure inside one field value, before the line parser knows the line number and the value's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// Byte offset inside the value.
    pub(crate) at: usize,
    pub(crate) kind: SdpErrorKind,
    pub(crate) expected: &'static str,
}

impl FieldError {
    pub(crate) fn syntax(at: usize, expected: &'static str) -> Self {
        FieldError {
            at,
            kind: SdpErrorKind::Syntax,
            expected,
        }
    }

    pub(crate) fn out_of_range(at: usize, expected: &'static str) -> Self {
        FieldError {
            at,
            kind: SdpErrorKind::OutOfRange,
            expected,
        }
    }

    /// Places the error in the whole description: `base` is the offset of the value's first byte.
    pub(crate) fn locate(self, line: usize, base: usize) -> SdpError {
        SdpError {
            line,
            offset: base.saturating_add(self.at),
            kind: self.kind,
            expected: self.expected,
        }
    }

    /// The error of a standalone value parser (one line, offsets inside the value).
    pub(crate) fn standalone(self) -> SdpError {
        self.locate(1, 0)
    }
}
