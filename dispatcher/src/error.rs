//! The crate's error type and the typed errors of the destination list parser.

use crate::destination::DestinationId;
use std::fmt;
use tandem_sip_core::ParseError;

/// Everything that can go wrong in this crate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A destination list (a `dispatcher.list` file or database rows) was rejected.
    #[error(transparent)]
    List(#[from] ListError),
    /// A reply-code list (`class=2;code=404`) was rejected.
    #[error(transparent)]
    ReplyCodes(#[from] ReplyCodesError),
    /// No destination set has this id.
    #[error("no destination set {0}")]
    UnknownSet(u32),
    /// Every destination of the set is inactive, disabled or at its `maxload`: nothing can take the request.
    #[error("no usable destination in set {0}")]
    NoDestination(u32),
    /// The destination id is not known (never was, or was removed by a reload).
    #[error("unknown destination {0}")]
    UnknownDestination(DestinationId),
    /// The call-load table already tracks its maximum number of calls
    /// ([`crate::DispatcherConfig::max_tracked_calls`]).
    #[error("call-load table full ({max} calls)")]
    TooManyCalls {
        /// The limit that was reached.
        max: usize,
    },
}

/// The column of a destination line (or database row) an error is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The first column: the set id.
    SetId,
    /// The second column: the destination SIP URI.
    Destination,
    /// The third column: the flags.
    Flags,
    /// The fourth column: the priority.
    Priority,
    /// The fifth column: the `name=value;…` attributes.
    Attributes,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::SetId => "set id",
            Field::Destination => "destination",
            Field::Flags => "flags",
            Field::Priority => "priority",
            Field::Attributes => "attributes",
        })
    }
}

/// A destination list that could not be loaded, with where and why.
///
/// For a file, `line` is the 1-based line number and `column` the 1-based byte column in that line. For
/// database rows, `line` is the 1-based row index and `column` the 1-based byte position within the
/// [`ListError::field`] value. Both are 0 when the error is about the list as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    /// The 1-based line (or row) number.
    pub line: usize,
    /// The 1-based byte column in the line (or in the field, for rows).
    pub column: usize,
    /// The column of the line the error is in, if it is about one.
    pub field: Option<Field>,
    /// What is wrong.
    pub kind: ListErrorKind,
}

impl ListError {
    pub(crate) fn new(
        line: usize,
        column: usize,
        field: Option<Field>,
        kind: ListErrorKind,
    ) -> Self {
        ListError {
            line,
            column,
            field,
            kind,
        }
    }
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)?;
        if let Some(field) = self.field {
            write!(f, " ({field})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for ListError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ListErrorKind::Uri(e) => Some(e),
            _ => None,
        }
    }
}

/// The kind of a [`ListError`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListErrorKind {
    /// The whole list is larger than the limit.
    TooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// A line is longer than the limit.
    LineTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The list (or one set) has more destinations than the limit.
    TooManyDestinations {
        /// The limit.
        max: usize,
    },
    /// A required column is missing.
    Missing,
    /// A value does not have the expected form.
    Invalid {
        /// What was expected, e.g. `"a set id (0..=4294967295)"`.
        expected: &'static str,
    },
    /// The destination is not a valid URI.
    Uri(ParseError),
    /// The destination is a URI but not a `sip:` or `sips:` one.
    NotSip,
    /// There is text after the last column.
    UnexpectedField,
    /// The same destination URI appears twice in one set.
    Duplicate {
        /// The set it appears in twice.
        set_id: u32,
    },
}

impl fmt::Display for ListErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListErrorKind::TooLarge { max } => write!(f, "list larger than {max} bytes"),
            ListErrorKind::LineTooLong { max } => write!(f, "line longer than {max} bytes"),
            ListErrorKind::TooManyDestinations { max } => {
                write!(f, "more than {max} destinations")
            }
            ListErrorKind::Missing => f.write_str("missing value"),
            ListErrorKind::Invalid { expected } => write!(f, "expected {expected}"),
            ListErrorKind::Uri(e) => write!(f, "invalid URI: {e}"),
            ListErrorKind::NotSip => f.write_str("destination must be a sip: or sips: URI"),
            ListErrorKind::UnexpectedField => f.write_str("unexpected text after the attributes"),
            ListErrorKind::Duplicate { set_id } => {
                write!(f, "destination listed twice in set {set_id}")
            }
        }
    }
}

/// A reply-code list (`class=2;code=404;code=501`) that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reply codes, byte {offset}: expected {expected}")]
pub struct ReplyCodesError {
    /// Byte offset of the failure in the input.
    pub offset: usize,
    /// What was expected there.
    pub expected: &'static str,
}
