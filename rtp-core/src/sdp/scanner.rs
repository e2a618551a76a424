//! A cursor over one field value that hands out zero-copy [`ByteString`] slices and typed [`FieldError`]s.

use bytestring::ByteString;

use super::error::FieldError;

/// `token-char` of RFC 8866 §9 (also RFC 3261's token), as a table: it is the hottest test of the parser.
const TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
            );
        b += 1;
    }
    table
};

#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    TOKEN_CHARS[usize::from(b)]
}

/// `VCHAR / %x80-FF`: the bytes of a `non-ws-string`.
pub(crate) fn is_non_ws(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// `ice-char` of RFC 8839: `ALPHA / DIGIT / "+" / "/"`.
pub(crate) fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

pub(crate) struct Scanner<'a> {
    text: &'a ByteString,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a ByteString) -> Self {
        Scanner { text, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.text.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// The unread rest of the value.
    pub(crate) fn rest_str(&self) -> &'a str {
        let text: &'a str = self.text;
        text.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn error(&self, expected: &'static str) -> FieldError {
        FieldError::syntax(self.pos, expected)
    }

    /// Fails unless the whole value was consumed.
    pub(crate) fn finish(&self, expected: &'static str) -> Result<(), FieldError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// A zero-copy slice of the value (`start..end` must be inside what the scanner walked over).
    fn slice(&self, start: usize, end: usize) -> ByteString {
        let text: &'a str = self.text;
        match text.get(start..end) {
            Some(sub) => self.text.slice_ref(sub),
            None => ByteString::new(),
        }
    }

    /// Consumes the longest run of bytes matching `pred`; the run must not be empty.
    fn take_while(
        &mut self,
        pred: impl Fn(u8) -> bool,
        expected: &'static str,
    ) -> Result<(usize, usize), FieldError> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut end = start;
        while let Some(&b) = bytes.get(end) {
            if !pred(b) {
                break;
            }
            end += 1;
        }
        if end == start {
            return Err(FieldError::syntax(start, expected));
        }
        self.pos = end;
        Ok((start, end))
    }

    /// `1*token-char`.
    pub(crate) fn token(&mut self, expected: &'static str) -> Result<ByteString, FieldError> {
        let (s, e) = self.take_while(is_token_char, expected)?;
        Ok(self.slice(s, e))
    }

    /// `non-ws-string`: everything up to the next space.
    pub(crate) fn non_ws(&mut self, expected: &'static str) -> Result<ByteString, FieldError> {
        let (s, e) = self.take_while(is_non_ws, expected)?;
        Ok(self.slice(s, e))
    }

    /// `1*ice-char`.
    pub(crate) fn ice_chars(&mut self, expected: &'static str) -> Result<ByteString, FieldError> {
        let (s, e) = self.take_while(is_ice_char, expected)?;
        Ok(self.slice(s, e))
    }

    /// Bytes matching `pred`, as a zero-copy slice.
    pub(crate) fn take(
        &mut self,
        pred: impl Fn(u8) -> bool,
        expected: &'static str,
    ) -> Result<ByteString, FieldError> {
        let (s, e) = self.take_while(pred, expected)?;
        Ok(self.slice(s, e))
    }

    /// The rest of the value (must not be empty), as a zero-copy slice.
    pub(crate) fn rest(&mut self, expected: &'static str) -> Result<ByteString, FieldError> {
        if self.is_empty() {
            return Err(self.error(expected));
        }
        let start = self.pos;
        self.pos = self.text.len();
        Ok(self.slice(start, self.pos))
    }

    /// Exactly the byte `b`.
    pub(crate) fn expect(&mut self, b: u8, expected: &'static str) -> Result<(), FieldError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `word` if the value continues with it.
    pub(crate) fn eat_str(&mut self, word: &str) -> bool {
        if self.rest_str().starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Exactly one SP.
    pub(crate) fn space(&mut self) -> Result<(), FieldError> {
        self.expect(b' ', "SP")
    }

    /// `1*DIGIT` as a `u64`, failing with `OutOfRange` on overflow.
    pub(crate) fn u64(&mut self, expected: &'static str) -> Result<u64, FieldError> {
        let (s, e) = self.take_while(|b| b.is_ascii_digit(), expected)?;
        let bytes = self.text.as_bytes();
        let mut value: u64 = 0;
        for &b in bytes.get(s..e).unwrap_or(&[]) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or(FieldError::out_of_range(s, expected))?;
        }
        Ok(value)
    }

    /// `1*DIGIT` no larger than `max`.
    pub(crate) fn number_up_to(
        &mut self,
        max: u64,
        expected: &'static str,
    ) -> Result<u64, FieldError> {
        let start = self.pos;
        let value = self.u64(expected)?;
        if value > max {
            return Err(FieldError::out_of_range(start, expected));
        }
        Ok(value)
    }

    pub(crate) fn u32(&mut self, expected: &'static str) -> Result<u32, FieldError> {
        let v = self.number_up_to(u64::from(u32::MAX), expected)?;
        u32::try_from(v).map_err(|_| FieldError::out_of_range(self.pos, expected))
    }

    pub(crate) fn u16(&mut self, expected: &'static str) -> Result<u16, FieldError> {
        let v = self.number_up_to(u64::from(u16::MAX), expected)?;
        u16::try_from(v).map_err(|_| FieldError::out_of_range(self.pos, expected))
    }

    pub(crate) fn u8(&mut self, expected: &'static str) -> Result<u8, FieldError> {
        let v = self.number_up_to(u64::from(u8::MAX), expected)?;
        u8::try_from(v).map_err(|_| FieldError::out_of_range(self.pos, expected))
    }

    /// An RTP payload type: `0..=127`.
    pub(crate) fn payload_type(&mut self) -> Result<u8, FieldError> {
        let v = self.number_up_to(127, "RTP payload type (0-127)")?;
        u8::try_from(v).map_err(|_| FieldError::out_of_range(self.pos, "RTP payload type (0-127)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_the_input_buffer() {
        let text = ByteString::from("abc def");
        let mut s = Scanner::new(&text);
        let tok = s.token("token").unwrap();
        assert_eq!(tok, "abc");
        assert_eq!(tok.as_bytes().as_ptr(), text.as_bytes().as_ptr());
    }

    #[test]
    fn rejects_number_overflow_as_out_of_range() {
        let text = ByteString::from("99999999999999999999999");
        let err = Scanner::new(&text).u64("number").unwrap_err();
        assert_eq!(err.kind, super::super::SdpErrorKind::OutOfRange);
        let text = ByteString::from("65536");
        assert!(Scanner::new(&text).u16("port").is_err());
        let text = ByteString::from("128");
        assert!(Scanner::new(&text).payload_type().is_err());
    }

    #[test]
    fn reports_offset_of_missing_token() {
        let text = ByteString::from("ab  ");
        let mut s = Scanner::new(&text);
        s.token("token").unwrap();
        s.space().unwrap();
        let err = s.token("token").unwrap_err();
        assert_eq!(err.at, 3);
    }
}
