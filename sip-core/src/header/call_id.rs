//! The `Call-ID` header field (RFC 3261 §20.8).

use crate::error::ParseError;
use crate::grammar::{self, WORD};
use crate::header::{HeaderName, TypedHeader};
use bytes::Bytes;

/// A Call-ID: `word [ "@" word ]`, compared byte for byte (case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(Bytes);

impl CallId {
    /// A Call-ID from bytes, checked against `word [ "@" word ]`.
    pub fn new(id: Bytes) -> Result<CallId, ParseError> {
        <CallId as TypedHeader>::parse(&id)
    }

    /// The Call-ID's bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl TypedHeader for CallId {
    const NAME: HeaderName = HeaderName::CallId;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<CallId, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let first = grammar::scan(b, start, WORD);
        if first == start {
            return Err(ParseError::syntax(start, "Call-ID word"));
        }
        let mut end = first;
        if b.get(first) == Some(&b'@') {
            end = grammar::scan(b, first + 1, WORD);
            if end == first + 1 {
                return Err(ParseError::syntax(end, "Call-ID word after \"@\""));
            }
        }
        grammar::end(b, end, "end of Call-ID")?;
        Ok(CallId(value.slice(start..end)))
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::test_support::{err_at, round_trip};

    #[test]
    fn accepts_unusual_word_characters() {
        // RFC 4475 intmeth.
        let c: CallId = round_trip("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
        assert_eq!(
            c.as_bytes().as_ref(),
            b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
        );
        let c: CallId = round_trip(" f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com ");
        assert_eq!(
            c.as_bytes().as_ref(),
            b"f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com"
        );
    }

    #[test]
    fn rejects_empty_words_and_white_space() {
        assert_eq!(err_at::<CallId>(""), 0);
        assert_eq!(err_at::<CallId>("@host"), 0);
        assert_eq!(err_at::<CallId>("abc@"), 4);
        assert_eq!(err_at::<CallId>("abc def"), 4);
        assert_eq!(err_at::<CallId>("a@b@c"), 3);
    }
}
