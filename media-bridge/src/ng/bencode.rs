//! Bencode, the encoding of NG protocol dictionaries: byte strings (`4:ping`), integers (`i42e`), lists
//! (`l…e`) and dictionaries with byte-string keys (`d…e`).
//!
//! The decoder is strict (no leading zeros, no `i-0e`, nothing after the top value) and bounded by
//! [`Limits`]: input size, nesting depth and element count. Every failure is a [`BencodeError`] with the
//! byte offset and what was expected there. Byte strings in the decoded tree are [`Bytes`] slices of the
//! input, so decoding copies no string data.
//!
//! Two leniencies follow rtpengine, which the NG protocol is defined by: dictionary keys need not be sorted,
//! and a key may repeat ([`Dict`] keeps every entry in wire order; [`Dict::get`] returns the first). The
//! encoder writes dictionaries in their stored order, so a reply's keys come out in the order they were
//! inserted.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// One bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A byte string (`4:spam`). Not necessarily UTF-8.
    Bytes(Bytes),
    /// A signed 64-bit integer (`i-3e`).
    Integer(i64),
    /// A list of values (`l4:spami42ee`).
    List(Vec<Value>),
    /// A dictionary with byte-string keys, in wire (or insertion) order.
    Dict(Dict),
}

/// The type of a [`Value`], for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// [`Value::Bytes`].
    Bytes,
    /// [`Value::Integer`].
    Integer,
    /// [`Value::List`].
    List,
    /// [`Value::Dict`].
    Dict,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::Bytes => "string",
            ValueKind::Integer => "integer",
            ValueKind::List => "list",
            ValueKind::Dict => "dictionary",
        })
    }
}

impl Value {
    /// The type of this value.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Bytes(_) => ValueKind::Bytes,
            Value::Integer(_) => ValueKind::Integer,
            Value::List(_) => ValueKind::List,
            Value::Dict(_) => ValueKind::Dict,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The integer, if this is one.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The number of bytes [`Value::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Value::Bytes(b) => string_len(b),
            Value::Integer(i) => 2 + decimal_len_i64(*i),
            Value::List(items) => 2 + items.iter().map(Value::encoded_len).sum::<usize>(),
            Value::Dict(d) => d.encoded_len(),
        }
    }

    /// Append the bencoding of this value to `out`.
    pub fn encode(&self, out: &mut impl BufMut) {
        match self {
            Value::Bytes(b) => put_string(out, b),
            Value::Integer(i) => {
                out.put_u8(b'i');
                put_i64(out, *i);
                out.put_u8(b'e');
            }
            Value::List(items) => {
                out.put_u8(b'l');
                for item in items {
                    item.encode(out);
                }
                out.put_u8(b'e');
            }
            Value::Dict(d) => d.encode(out),
        }
    }

    /// The bencoding of this value as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Bytes(b)
    }
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Value::Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Value {
    fn from(s: &'static [u8]) -> Self {
        Value::Bytes(Bytes::from_static(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Bytes(Bytes::from(s))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Integer(i64::from(i))
    }
}

impl From<u16> for Value {
    fn from(i: u16) -> Self {
        Value::Integer(i64::from(i))
    }
}

impl From<u64> for Value {
    /// Counters above `i64::MAX` saturate: bencode integers are signed 64-bit on rtpengine's side too.
    fn from(i: u64) -> Self {
        Value::Integer(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Self {
        Value::List(l)
    }
}

impl From<Dict> for Value {
    fn from(d: Dict) -> Self {
        Value::Dict(d)
    }
}

/// Renders the value in a JSON-like notation (the way rtpengine dumps NG messages in its logs), byte
/// strings as lossy UTF-8 with `"` and control characters escaped.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bytes(b) => write_quoted(f, b),
            Value::Integer(i) => write!(f, "{i}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Dict(d) => write!(f, "{d}"),
        }
    }
}

/// Write `b` as a double-quoted string, escaping what would make a log line ambiguous.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for c in String::from_utf8_lossy(b).chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\r' => f.write_str("\\r")?,
            '\n' => f.write_str("\\n")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// A bencode dictionary that keeps its entries in order (wire order when decoded, insertion order when
/// built), so replies come out with their keys in a predictable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dict {
    entries: Vec<(Bytes, Value)>,
}

impl Dict {
    /// An empty dictionary.
    pub fn new() -> Self {
        Dict::default()
    }

    /// The value of the first entry with this key.
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Set `key` to `value`: replaces the first entry with this key in place, or appends a new entry.
    /// Returns the value it replaced.
    pub fn insert(&mut self, key: impl Into<Bytes>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Builder form of [`Dict::insert`].
    #[must_use]
    pub fn with(mut self, key: impl Into<Bytes>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Append an entry without looking for an existing one (the decoder keeps repeated keys this way).
    pub fn push(&mut self, key: impl Into<Bytes>, value: impl Into<Value>) {
        self.entries.push((key.into(), value.into()));
    }

    /// The entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Bytes, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The number of entries (repeated keys counted each time).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn encoded_len(&self) -> usize {
        2 + self
            .entries
            .iter()
            .map(|(k, v)| string_len(k) + v.encoded_len())
            .sum::<usize>()
    }

    fn encode(&self, out: &mut impl BufMut) {
        out.put_u8(b'd');
        for (k, v) in &self.entries {
            put_string(out, k);
            v.encode(out);
        }
        out.put_u8(b'e');
    }
}

impl fmt::Display for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (n, (k, v)) in self.entries.iter().enumerate() {
            if n > 0 {
                f.write_str(", ")?;
            }
            write_quoted(f, k)?;
            write!(f, ": {v}")?;
        }
        f.write_str("}")
    }
}

impl FromIterator<(Bytes, Value)> for Dict {
    fn from_iter<T: IntoIterator<Item = (Bytes, Value)>>(iter: T) -> Self {
        Dict {
            entries: iter.into_iter().collect(),
        }
    }
}

fn string_len(b: &[u8]) -> usize {
    decimal_len_u64(b.len() as u64) + 1 + b.len()
}

fn put_string(out: &mut impl BufMut, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.put_u8(b':');
    out.put_slice(b);
}

fn decimal_len_u64(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn decimal_len_i64(i: i64) -> usize {
    usize::from(i < 0) + decimal_len_u64(i.unsigned_abs())
}

fn put_u64(out: &mut impl BufMut, n: u64) {
    // Digits are produced backwards into a stack buffer: 20 digits hold u64::MAX.
    let mut digits = [0u8; 20];
    let mut pos = digits.len();
    let mut rest = n;
    loop {
        pos -= 1;
        digits[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.put_slice(&digits[pos..]);
}

fn put_i64(out: &mut impl BufMut, i: i64) {
    if i < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, i.unsigned_abs());
}

/// Hard bounds on what [`decode_with`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input in bytes (default 65 536: a UDP datagram cannot carry more).
    pub max_input: usize,
    /// Deepest nesting of lists and dictionaries; the top-level dictionary is depth 1 (default 32; values
    /// above [`Limits::DEPTH_CEILING`] act as the ceiling, because the decoder recurses once per level).
    pub max_depth: usize,
    /// Most values in one input, dictionary keys included (default 8 192).
    pub max_elements: usize,
}

impl Limits {
    /// The deepest nesting the decoder ever follows, whatever `max_depth` says.
    pub const DEPTH_CEILING: usize = 256;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input: 65_536,
            max_depth: 32,
            max_elements: 8_192,
        }
    }
}

/// A decoding failure: where, what went wrong and what the decoder expected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BencodeError {
    /// Byte offset of the failure from the start of the bencoded input.
    pub offset: usize,
    /// What went wrong.
    pub kind: BencodeErrorKind,
    /// What the decoder expected at `offset`.
    pub expected: Expected,
}

impl BencodeError {
    /// The same error with its offset moved by `base`, for input that was a slice of a larger buffer.
    pub fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }
}

impl fmt::Display for BencodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: expected {}",
            self.kind, self.offset, self.expected
        )
    }
}

impl std::error::Error for BencodeError {}

/// The kind of a [`BencodeError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BencodeErrorKind {
    /// The input ended early.
    UnexpectedEnd,
    /// A byte that does not fit the grammar here.
    UnexpectedByte(u8),
    /// A number with a leading zero (`i03e`, `03:abc`) or a negative zero (`i-0e`).
    NonCanonicalNumber,
    /// An integer (or string length) that does not fit in 64 bits.
    IntegerOverflow,
    /// A string length that runs past the end of the input.
    LengthPastEnd {
        /// The declared length.
        length: u64,
    },
    /// Lists and dictionaries nested deeper than the limit.
    TooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// More values than the limit.
    TooManyElements {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The input is larger than the limit.
    InputTooLarge {
        /// The input's length.
        length: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// Bytes after the end of the top-level value.
    TrailingData,
}

impl fmt::Display for BencodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BencodeErrorKind::UnexpectedEnd => f.write_str("unexpected end of input"),
            BencodeErrorKind::UnexpectedByte(b) if b.is_ascii_graphic() => {
                write!(f, "unexpected byte '{}'", char::from(*b))
            }
            BencodeErrorKind::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            BencodeErrorKind::NonCanonicalNumber => f.write_str("non-canonical number"),
            BencodeErrorKind::IntegerOverflow => f.write_str("integer overflow"),
            BencodeErrorKind::LengthPastEnd { length } => {
                write!(f, "string length {length} runs past the end of the input")
            }
            BencodeErrorKind::TooDeep { limit } => write!(f, "nesting deeper than {limit}"),
            BencodeErrorKind::TooManyElements { limit } => write!(f, "more than {limit} values"),
            BencodeErrorKind::InputTooLarge { length, limit } => {
                write!(f, "input of {length} bytes exceeds the limit of {limit}")
            }
            BencodeErrorKind::TrailingData => f.write_str("trailing data"),
        }
    }
}

/// What the decoder expected where it failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The start of a value: a digit, `i`, `l` or `d`.
    Value,
    /// A value or the `e` closing a list.
    ValueOrEnd,
    /// A byte-string key or the `e` closing a dictionary.
    KeyOrEnd,
    /// A decimal digit.
    Digit,
    /// A digit or the `:` ending a string length.
    DigitOrColon,
    /// A digit or the `e` ending an integer.
    DigitOrEnd,
    /// The end of the input.
    EndOfInput,
    /// Input within the configured limits.
    WithinLimits,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Value => "a value",
            Expected::ValueOrEnd => "a value or 'e'",
            Expected::KeyOrEnd => "a string key or 'e'",
            Expected::Digit => "a digit",
            Expected::DigitOrColon => "a digit or ':'",
            Expected::DigitOrEnd => "a digit or 'e'",
            Expected::EndOfInput => "end of input",
            Expected::WithinLimits => "input within limits",
        })
    }
}

/// Decode one value that must span all of `input`, with the default [`Limits`].
pub fn decode(input: &Bytes) -> Result<Value, BencodeError> {
    decode_with(input, &Limits::default())
}

/// Decode one value that must span all of `input`. Byte strings in the result are slices of `input`.
pub fn decode_with(input: &Bytes, limits: &Limits) -> Result<Value, BencodeError> {
    if input.len() > limits.max_input {
        return Err(BencodeError {
            offset: 0,
            kind: BencodeErrorKind::InputTooLarge {
                length: input.len(),
                limit: limits.max_input,
            },
            expected: Expected::WithinLimits,
        });
    }
    let mut decoder = Decoder {
        input,
        pos: 0,
        elements: 0,
        max_elements: limits.max_elements,
        max_depth: limits.max_depth.min(Limits::DEPTH_CEILING),
    };
    let value = decoder.value(0, Expected::Value)?;
    if decoder.pos != input.len() {
        return Err(decoder.error(BencodeErrorKind::TrailingData, Expected::EndOfInput));
    }
    Ok(value)
}

struct Decoder<'a> {
    input: &'a Bytes,
    pos: usize,
    elements: usize,
    max_elements: usize,
    max_depth: usize,
}

impl Decoder<'_> {
    fn error(&self, kind: BencodeErrorKind, expected: Expected) -> BencodeError {
        BencodeError {
            offset: self.pos,
            kind,
            expected,
        }
    }

    fn peek(&self, expected: Expected) -> Result<u8, BencodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error(BencodeErrorKind::UnexpectedEnd, expected))
    }

    fn count_element(&mut self) -> Result<(), BencodeError> {
        self.elements += 1;
        if self.elements > self.max_elements {
            return Err(self.error(
                BencodeErrorKind::TooManyElements {
                    limit: self.max_elements,
                },
                Expected::WithinLimits,
            ));
        }
        Ok(())
    }

    /// `depth` is the number of containers enclosing this value.
    fn value(&mut self, depth: usize, expected: Expected) -> Result<Value, BencodeError> {
        let first = self.peek(expected)?;
        self.count_element()?;
        match first {
            b'0'..=b'9' => self.string().map(Value::Bytes),
            b'i' => self.integer().map(Value::Integer),
            b'l' => self.list(depth + 1),
            b'd' => self.dict(depth + 1),
            other => Err(self.error(BencodeErrorKind::UnexpectedByte(other), expected)),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), BencodeError> {
        if depth > self.max_depth {
            return Err(self.error(
                BencodeErrorKind::TooDeep {
                    limit: self.max_depth,
                },
                Expected::WithinLimits,
            ));
        }
        Ok(())
    }

    fn list(&mut self, depth: usize) -> Result<Value, BencodeError> {
        self.enter(depth)?;
        self.pos += 1; // 'l'
        let mut items = Vec::new();
        loop {
            if self.peek(Expected::ValueOrEnd)? == b'e' {
                self.pos += 1;
                return Ok(Value::List(items));
            }
            items.push(self.value(depth, Expected::ValueOrEnd)?);
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, BencodeError> {
        self.enter(depth)?;
        self.pos += 1; // 'd'
        let mut dict = Dict::new();
        loop {
            match self.peek(Expected::KeyOrEnd)? {
                b'e' => {
                    self.pos += 1;
                    return Ok(Value::Dict(dict));
                }
                b'0'..=b'9' => {
                    self.count_element()?;
                    let key = self.string()?;
                    let value = self.value(depth, Expected::Value)?;
                    dict.push(key, value);
                }
                other => {
                    return Err(
                        self.error(BencodeErrorKind::UnexpectedByte(other), Expected::KeyOrEnd)
                    );
                }
            }
        }
    }

    /// A run of digits ending at `terminator`, as a magnitude. The first byte is known to be present.
    fn digits(&mut self, terminator: u8, expected: Expected) -> Result<u64, BencodeError> {
        let start = self.pos;
        let mut n: u64 = 0;
        loop {
            let b = self.peek(expected)?;
            if b == terminator && self.pos > start {
                self.pos += 1;
                return Ok(n);
            }
            if !b.is_ascii_digit() {
                let expected = if self.pos == start {
                    Expected::Digit
                } else {
                    expected
                };
                return Err(self.error(BencodeErrorKind::UnexpectedByte(b), expected));
            }
            if self.pos > start && self.input.get(start) == Some(&b'0') {
                return Err(BencodeError {
                    offset: start,
                    kind: BencodeErrorKind::NonCanonicalNumber,
                    expected,
                });
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| self.error(BencodeErrorKind::IntegerOverflow, expected))?;
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<Bytes, BencodeError> {
        let length_at = self.pos;
        let length = self.digits(b':', Expected::DigitOrColon)?;
        let start = self.pos;
        let remaining = self.input.len() - start;
        match usize::try_from(length) {
            Ok(len) if len <= remaining => {
                self.pos = start + len;
                Ok(self.input.slice(start..start + len))
            }
            _ => Err(BencodeError {
                offset: length_at,
                kind: BencodeErrorKind::LengthPastEnd { length },
                expected: Expected::WithinLimits,
            }),
        }
    }

    fn integer(&mut self) -> Result<i64, BencodeError> {
        self.pos += 1; // 'i'
        let negative = self.peek(Expected::DigitOrEnd)? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_at = self.pos;
        let magnitude = self.digits(b'e', Expected::DigitOrEnd)?;
        if negative && magnitude == 0 {
            return Err(BencodeError {
                offset: digits_at,
                kind: BencodeErrorKind::NonCanonicalNumber,
                expected: Expected::Digit,
            });
        }
        let overflow = BencodeError {
            offset: digits_at,
            kind: BencodeErrorKind::IntegerOverflow,
            expected: Expected::DigitOrEnd,
        };
        if negative {
            // i64::MIN's magnitude is one more than i64::MAX, so negate through i128.
            i64::try_from(-i128::from(magnitude)).map_err(|_| overflow)
        } else {
            i64::try_from(magnitude).map_err(|_| overflow)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(s: &'static [u8]) -> Result<Value, BencodeError> {
        decode(&Bytes::from_static(s))
    }

    fn err(s: &'static [u8]) -> BencodeError {
        match dec(s) {
            Err(e) => e,
            Ok(v) => panic!(
                "expected an error for {:?}, got {v}",
                String::from_utf8_lossy(s)
            ),
        }
    }

    #[test]
    fn decodes_the_ng_ping_dictionary() {
        let v = dec(b"d7:command4:pinge").unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d.get(b"command").and_then(Value::as_str), Some("ping"));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn decoded_strings_share_the_input_buffer() {
        let input = Bytes::from_static(b"l5:hello5:worlde");
        let v = decode(&input).unwrap();
        let first = v.as_list().unwrap()[0].as_bytes().unwrap();
        let range = input.as_ptr_range();
        assert!(range.contains(&first.as_ptr()));
    }

    #[test]
    fn decodes_integers_at_both_ends_of_i64() {
        assert_eq!(
            dec(b"i9223372036854775807e").unwrap(),
            Value::Integer(i64::MAX)
        );
        assert_eq!(
            dec(b"i-9223372036854775808e").unwrap(),
            Value::Integer(i64::MIN)
        );
        assert_eq!(dec(b"i0e").unwrap(), Value::Integer(0));
    }

    #[test]
    fn rejects_integer_one_past_i64_max() {
        let e = err(b"i9223372036854775808e");
        assert_eq!(e.kind, BencodeErrorKind::IntegerOverflow);
        assert_eq!(e.offset, 1);
    }

    #[test]
    fn rejects_integer_longer_than_u64() {
        let e = err(b"i123456789012345678901234567890e");
        assert_eq!(e.kind, BencodeErrorKind::IntegerOverflow);
    }

    #[test]
    fn rejects_negative_zero_and_leading_zeros() {
        assert_eq!(err(b"i-0e").kind, BencodeErrorKind::NonCanonicalNumber);
        assert_eq!(err(b"i03e").kind, BencodeErrorKind::NonCanonicalNumber);
        assert_eq!(err(b"03:abc").kind, BencodeErrorKind::NonCanonicalNumber);
        assert_eq!(dec(b"0:").unwrap(), Value::Bytes(Bytes::new()));
    }

    #[test]
    fn rejects_empty_integer_and_lone_minus() {
        let e = err(b"ie");
        assert_eq!((e.offset, e.expected), (1, Expected::Digit));
        let e = err(b"i-e");
        assert_eq!((e.offset, e.expected), (2, Expected::Digit));
    }

    #[test]
    fn rejects_string_length_past_end_with_its_offset() {
        let e = err(b"d7:command40:pinge");
        assert_eq!(e.kind, BencodeErrorKind::LengthPastEnd { length: 40 });
        assert_eq!(e.offset, 10);
    }

    #[test]
    fn rejects_huge_string_length_without_allocating() {
        let e = err(b"99999999999999999999999:x");
        assert_eq!(e.kind, BencodeErrorKind::IntegerOverflow);
        let e = err(b"18446744073709551615:x");
        assert_eq!(e.kind, BencodeErrorKind::LengthPastEnd { length: u64::MAX });
    }

    #[test]
    fn reports_truncation_at_the_end_offset() {
        for input in [&b"d7:command4:ping"[..], b"d7:comm", b"l", b"i42", b"4:ab"] {
            let e = decode(&Bytes::copy_from_slice(input)).unwrap_err();
            if e.kind == BencodeErrorKind::UnexpectedEnd {
                assert_eq!(e.offset, input.len());
            } else {
                assert!(
                    matches!(e.kind, BencodeErrorKind::LengthPastEnd { .. }),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn rejects_non_string_dictionary_key() {
        let e = err(b"di1e4:spame");
        assert_eq!(e.kind, BencodeErrorKind::UnexpectedByte(b'i'));
        assert_eq!((e.offset, e.expected), (1, Expected::KeyOrEnd));
    }

    #[test]
    fn rejects_trailing_data_after_the_value() {
        let e = err(b"d7:command4:pinge\n");
        assert_eq!(e.kind, BencodeErrorKind::TrailingData);
        assert_eq!(e.offset, 17);
    }

    #[test]
    fn rejects_nesting_deeper_than_the_limit() {
        let deep = Bytes::from([&[b'l'; 100][..], &[b'e'; 100][..]].concat());
        let e = decode(&deep).unwrap_err();
        assert_eq!(e.kind, BencodeErrorKind::TooDeep { limit: 32 });
        assert_eq!(e.offset, 32);
    }

    #[test]
    fn caps_the_depth_limit_at_the_ceiling() {
        let deep = Bytes::from(vec![b'l'; 100_000]);
        let limits = Limits {
            max_depth: usize::MAX,
            max_elements: usize::MAX,
            max_input: usize::MAX,
        };
        let e = decode_with(&deep, &limits).unwrap_err();
        assert_eq!(
            e.kind,
            BencodeErrorKind::TooDeep {
                limit: Limits::DEPTH_CEILING
            }
        );
    }

    #[test]
    fn rejects_more_elements_than_the_limit() {
        let mut input = b"l".to_vec();
        for _ in 0..20 {
            input.extend_from_slice(b"i1e");
        }
        input.push(b'e');
        let limits = Limits {
            max_elements: 10,
            ..Limits::default()
        };
        let e = decode_with(&Bytes::from(input), &limits).unwrap_err();
        assert_eq!(e.kind, BencodeErrorKind::TooManyElements { limit: 10 });
    }

    #[test]
    fn rejects_input_larger_than_the_limit() {
        let limits = Limits {
            max_input: 4,
            ..Limits::default()
        };
        let e = decode_with(&Bytes::from_static(b"5:hello"), &limits).unwrap_err();
        assert_eq!(
            e.kind,
            BencodeErrorKind::InputTooLarge {
                length: 7,
                limit: 4
            }
        );
    }

    #[test]
    fn keeps_unsorted_and_repeated_keys_in_wire_order() {
        let v = dec(b"d1:b1:x1:a1:y1:b1:ze").unwrap();
        let d = v.as_dict().unwrap();
        let keys: Vec<&[u8]> = d.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, [&b"b"[..], b"a", b"b"]);
        assert_eq!(d.get(b"b").and_then(Value::as_str), Some("x"));
    }

    #[test]
    fn encodes_a_reply_in_insertion_order() {
        let reply = Dict::new()
            .with("result", "ok")
            .with("sdp", "v=0\r\n")
            .with("n", -12i64);
        let bytes = Value::from(reply.clone()).to_bytes();
        assert_eq!(&bytes[..], b"d6:result2:ok3:sdp5:v=0\r\n1:ni-12ee");
        assert_eq!(Value::from(reply).encoded_len(), bytes.len());
    }

    #[test]
    fn insert_replaces_in_place() {
        let mut d = Dict::new().with("a", 1i64).with("b", 2i64);
        assert_eq!(d.insert("a", 3i64), Some(Value::Integer(1)));
        assert_eq!(
            Value::from(d).to_bytes(),
            Bytes::from_static(b"d1:ai3e1:bi2ee")
        );
    }

    #[test]
    fn displays_like_an_rtpengine_dump() {
        let v = dec(b"d7:command5:offer5:flagsl13:trust-addressee").unwrap();
        assert_eq!(
            v.to_string(),
            r#"{"command": "offer", "flags": ["trust-address"]}"#
        );
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Integer),
            proptest::collection::vec(any::<u8>(), 0..24)
                .prop_map(|v| Value::Bytes(Bytes::from(v))),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                proptest::collection::vec(
                    (proptest::collection::vec(any::<u8>(), 0..12), inner),
                    0..8
                )
                .prop_map(|entries| {
                    Value::Dict(
                        entries
                            .into_iter()
                            .map(|(k, v)| (Bytes::from(k), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn encode_then_decode_gives_the_same_value(v in value_strategy()) {
            let bytes = v.to_bytes();
            prop_assert_eq!(bytes.len(), v.encoded_len());
            let back = decode(&bytes).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(back.to_bytes(), bytes);
        }

        #[test]
        fn arbitrary_bytes_decode_or_fail_with_an_offset_inside_the_input(
            input in proptest::collection::vec(any::<u8>(), 0..256)
        ) {
            let input = Bytes::from(input);
            match decode(&input) {
                Ok(v) => prop_assert_eq!(v.to_bytes(), input),
                Err(e) => prop_assert!(e.offset <= input.len()),
            }
        }

        #[test]
        fn every_truncation_of_a_valid_encoding_fails(v in value_strategy(), cut in any::<prop::sample::Index>()) {
            let bytes = v.to_bytes();
            let cut = cut.index(bytes.len());
            let truncated = bytes.slice(..cut);
            prop_assert!(decode(&truncated).is_err());
        }
    }
}
