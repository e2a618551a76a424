//! The line-level parser: splits a description into `<type>=<value>` lines (CRLF or LF), enforces the order of
//! RFC 8866 §9 and the [`SdpLimits`], and hands each value to its field parser.

use std::str::FromStr;

use bytes::Bytes;
use bytestring::ByteString;

use super::attribute::parse_attribute;
use super::error::{FieldError, SdpError, SdpErrorKind};
use super::session::{Bandwidth, Connection, Origin, RepeatTime, TimeDescription};
use super::{Attribute, MediaDescription, SessionDescription};

/// Hard limits applied while parsing, so hostile input cannot make the parser use unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdpLimits {
    /// Largest accepted description, in bytes.
    pub max_size: usize,
    /// Most `m=` sections.
    pub max_media: usize,
    /// Most `a=` lines, session and media levels together.
    pub max_attributes: usize,
}

impl Default for SdpLimits {
    /// 128 KiB, 64 media sections, 4096 attributes: several times what a browser offer with simulcast needs.
    fn default() -> Self {
        SdpLimits {
            max_size: 128 * 1024,
            max_media: 64,
            max_attributes: 4096,
        }
    }
}

impl SessionDescription {
    /// Parses a description with the default [`SdpLimits`]. Fields are zero-copy slices of `input`.
    ///
    /// Lines may end in CRLF or LF (RFC 8866 §5 asks parsers to accept both); the last line's terminator may be
    /// missing and trailing empty lines are ignored. Everything else follows the RFC 8866 grammar strictly:
    /// line order, mandatory `v=0`, `o=`, `s=` and `t=`, no unknown type letters.
    pub fn parse(input: &Bytes) -> Result<Self, SdpError> {
        Self::parse_with_limits(input, &SdpLimits::default())
    }

    /// Parses a description with explicit limits.
    pub fn parse_with_limits(input: &Bytes, limits: &SdpLimits) -> Result<Self, SdpError> {
        if input.len() > limits.max_size {
            return Err(SdpError {
                line: 1,
                offset: limits.max_size,
                kind: SdpErrorKind::TooLarge {
                    limit: limits.max_size,
                },
                expected: "a smaller description",
            });
        }
        let text = ByteString::try_from(input.clone()).map_err(|e| {
            let offset = e.valid_up_to();
            let line = 1 + input
                .get(..offset)
                .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
            SdpError {
                line,
                offset,
                kind: SdpErrorKind::InvalidUtf8,
                expected: "UTF-8 text",
            }
        })?;
        Parser::new(&text, limits).session()
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;

    /// Parses a description (copying `s` once into a shared buffer).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionDescription::parse(&Bytes::copy_from_slice(s.as_bytes()))
    }
}

/// One `<type>=<value>` line.
struct Line {
    number: usize,
    /// Offset of the value's first byte in the description.
    value_at: usize,
    kind: u8,
    value: ByteString,
}

impl Line {
    /// Offset of the line's first byte (the type letter).
    fn start(&self) -> usize {
        self.value_at.saturating_sub(2)
    }

    /// Places a field parser's error on this line.
    fn locate(&self, e: FieldError) -> SdpError {
        e.locate(self.number, self.value_at)
    }
}

struct Parser<'a> {
    text: &'a ByteString,
    limits: &'a SdpLimits,
    pos: usize,
    line_number: usize,
    peeked: Option<Line>,
    attributes: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a ByteString, limits: &'a SdpLimits) -> Self {
        Parser {
            text,
            limits,
            pos: 0,
            line_number: 0,
            peeked: None,
            attributes: 0,
        }
    }

    fn error(
        &self,
        line: usize,
        offset: usize,
        kind: SdpErrorKind,
        expected: &'static str,
    ) -> SdpError {
        SdpError {
            line,
            offset,
            kind,
            expected,
        }
    }

    /// Reads the next line into `peeked` (if not already there); `None` at the end of the description.
    fn fill(&mut self) -> Result<(), SdpError> {
        if self.peeked.is_some() {
            return Ok(());
        }
        let text: &'a str = self.text;
        let rest = text.get(self.pos..).unwrap_or("");
        if rest.bytes().all(|b| b == b'\r' || b == b'\n') && !self.ends_in_stray_cr(rest) {
            return Ok(());
        }
        let start = self.pos;
        self.line_number += 1;
        // One vectorized scan finds the line end and any CR or NUL that may not appear inside a line.
        let bytes = rest.as_bytes();
        let end = memchr::memchr3(b'\n', b'\r', 0, bytes).unwrap_or(bytes.len());
        let next = match bytes.get(end) {
            None => self.text.len(),
            Some(b'\n') => start + end + 1,
            Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => start + end + 2,
            Some(_) => {
                return Err(self.error(
                    self.line_number,
                    start + end,
                    SdpErrorKind::Syntax,
                    "no CR or NUL inside a line",
                ));
            }
        };
        let content = rest.get(..end).unwrap_or("");
        self.pos = next;
        self.peeked = Some(self.split_line(start, content)?);
        Ok(())
    }

    /// A lone CR in the trailing line endings is still an error (CR is only valid right before LF).
    fn ends_in_stray_cr(&self, rest: &str) -> bool {
        let bytes = rest.as_bytes();
        bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
    }

    fn split_line(&self, start: usize, content: &str) -> Result<Line, SdpError> {
        let number = self.line_number;
        let bytes = content.as_bytes();
        let kind = match bytes.first() {
            Some(k) if k.is_ascii_lowercase() => *k,
            _ => {
                return Err(self.error(
                    number,
                    start,
                    SdpErrorKind::Syntax,
                    "a line `<type>=<value>`",
                ));
            }
        };
        if bytes.get(1) != Some(&b'=') {
            return Err(self.error(
                number,
                start + 1,
                SdpErrorKind::Syntax,
                "'=' after the type letter",
            ));
        }
        let value_str = content.get(2..).unwrap_or("");
        Ok(Line {
            number,
            value_at: start + 2,
            kind,
            value: self.text.slice_ref(value_str),
        })
    }

    fn peek_kind(&mut self) -> Result<Option<u8>, SdpError> {
        self.fill()?;
        Ok(self.peeked.as_ref().map(|l| l.kind))
    }

    /// The next line if it has type `kind`.
    fn next_if(&mut self, kind: u8) -> Result<Option<Line>, SdpError> {
        if self.peek_kind()? == Some(kind) {
            Ok(self.peeked.take())
        } else {
            Ok(None)
        }
    }

    /// The next line, which must have type `kind`.
    fn expect(&mut self, kind: u8) -> Result<Line, SdpError> {
        if let Some(line) = self.next_if(kind)? {
            return Ok(line);
        }
        let expected = char::from(kind);
        match &self.peeked {
            Some(l) => Err(self.error(
                l.number,
                l.start(),
                SdpErrorKind::MissingLine { expected },
                "the mandatory line here",
            )),
            None => Err(self.error(
                self.line_number + 1,
                self.text.len(),
                SdpErrorKind::MissingLine { expected },
                "the mandatory line here",
            )),
        }
    }

    /// A non-empty text value (`byte-string`).
    fn text_value(&self, line: &Line, expected: &'static str) -> Result<ByteString, SdpError> {
        if line.value.is_empty() {
            return Err(line.locate(FieldError::syntax(0, expected)));
        }
        Ok(line.value.clone())
    }

    fn session(mut self) -> Result<SessionDescription, SdpError> {
        let v = self.expect(b'v')?;
        if &*v.value != "0" {
            return Err(v.locate(FieldError::syntax(0, "version 0")));
        }
        let o = self.expect(b'o')?;
        let origin = Origin::parse(&o.value).map_err(|e| o.locate(e))?;
        let s = self.expect(b's')?;
        let session_name = self.text_value(&s, "session name (use \"-\" for none)")?;
        let mut sdp = SessionDescription::new(origin, session_name);
        sdp.times.clear();
        sdp.information = self.optional_text(b'i', "session information")?;
        sdp.uri = self.optional_text(b'u', "URI")?;
        while let Some(e) = self.next_if(b'e')? {
            sdp.emails.push(self.text_value(&e, "email address")?);
        }
        while let Some(p) = self.next_if(b'p')? {
            sdp.phones.push(self.text_value(&p, "phone number")?);
        }
        if let Some(c) = self.next_if(b'c')? {
            sdp.connection = Some(Connection::parse(&c.value).map_err(|e| c.locate(e))?);
        }
        sdp.bandwidths = self.bandwidths()?;
        self.times(&mut sdp)?;
        sdp.key = self.key()?;
        sdp.attributes = self.attributes()?;
        while let Some(m) = self.next_if(b'm')? {
            if sdp.media.len() >= self.limits.max_media {
                return Err(self.error(
                    m.number,
                    m.start(),
                    SdpErrorKind::TooManyMedia {
                        limit: self.limits.max_media,
                    },
                    "fewer media sections",
                ));
            }
            sdp.media.push(self.media(m)?);
        }
        self.end()?;
        Ok(sdp)
    }

    /// Fails if a line is left: it is out of order or of an unknown type.
    fn end(&mut self) -> Result<(), SdpError> {
        match self.peeked.take() {
            None => Ok(()),
            Some(l) => Err(self.error(
                l.number,
                l.start(),
                SdpErrorKind::UnexpectedLine {
                    found: char::from(l.kind),
                },
                "a line of a known type in RFC 8866 order",
            )),
        }
    }

    fn optional_text(
        &mut self,
        kind: u8,
        expected: &'static str,
    ) -> Result<Option<ByteString>, SdpError> {
        match self.next_if(kind)? {
            Some(l) => Ok(Some(self.text_value(&l, expected)?)),
            None => Ok(None),
        }
    }

    fn bandwidths(&mut self) -> Result<Vec<Bandwidth>, SdpError> {
        let mut out = Vec::new();
        while let Some(b) = self.next_if(b'b')? {
            out.push(Bandwidth::parse(&b.value).map_err(|e| b.locate(e))?);
        }
        Ok(out)
    }

    /// `1*(t= *r= [z=])`. RFC 8866 only allows `z=` after an `r=`; RFC 4566 allowed it after the `t=` lines
    /// alone, so a `z=` is attached to the time description before it either way.
    fn times(&mut self, sdp: &mut SessionDescription) -> Result<(), SdpError> {
        let first = self.expect(b't')?;
        let mut next = Some(first);
        while let Some(t) = next {
            let mut time = TimeDescription::parse(&t.value).map_err(|e| t.locate(e))?;
            while let Some(r) = self.next_if(b'r')? {
                time.repeats
                    .push(RepeatTime::parse(&r.value).map_err(|e| r.locate(e))?);
            }
            if let Some(z) = self.next_if(b'z')? {
                time.zone_adjustments =
                    TimeDescription::parse_zone(&z.value).map_err(|e| z.locate(e))?;
            }
            sdp.times.push(time);
            next = self.next_if(b't')?;
        }
        Ok(())
    }

    fn key(&mut self) -> Result<Option<ByteString>, SdpError> {
        let Some(k) = self.next_if(b'k')? else {
            return Ok(None);
        };
        let v = &*k.value;
        let valid = v == "prompt"
            || ["clear:", "base64:", "uri:"]
                .iter()
                .any(|p| v.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
        if !valid {
            return Err(k.locate(FieldError::syntax(0, "prompt, clear:, base64: or uri: key")));
        }
        Ok(Some(k.value))
    }

    fn attributes(&mut self) -> Result<Vec<Attribute>, SdpError> {
        let mut out = Vec::new();
        while let Some(a) = self.next_if(b'a')? {
            if self.attributes >= self.limits.max_attributes {
                return Err(self.error(
                    a.number,
                    a.start(),
                    SdpErrorKind::TooManyAttributes {
                        limit: self.limits.max_attributes,
                    },
                    "fewer attributes",
                ));
            }
            self.attributes += 1;
            out.push(parse_attribute(&a.value).map_err(|e| a.locate(e))?);
        }
        Ok(out)
    }

    fn media(&mut self, m: Line) -> Result<MediaDescription, SdpError> {
        let mut media = MediaDescription::parse_media_line(&m.value).map_err(|e| m.locate(e))?;
        media.information = self.optional_text(b'i', "media title")?;
        while let Some(c) = self.next_if(b'c')? {
            media
                .connections
                .push(Connection::parse(&c.value).map_err(|e| c.locate(e))?);
        }
        media.bandwidths = self.bandwidths()?;
        media.key = self.key()?;
        media.attributes = self.attributes()?;
        Ok(media)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";

    fn parse(s: &str) -> Result<SessionDescription, SdpError> {
        s.parse()
    }

    #[test]
    fn parses_minimal_description_and_writes_it_back_identically() {
        let sdp = parse(MINIMAL).unwrap();
        assert_eq!(sdp.origin.session_version, 2);
        assert_eq!(sdp.to_string(), MINIMAL);
    }

    #[test]
    fn accepts_lf_only_missing_final_newline_and_trailing_empty_lines() {
        let lf = MINIMAL.replace("\r\n", "\n");
        assert_eq!(parse(&lf).unwrap(), parse(MINIMAL).unwrap());
        assert!(parse(lf.trim_end()).is_ok());
        assert!(parse(&format!("{MINIMAL}\r\n\r\n")).is_ok());
    }

    #[test]
    fn rejects_empty_line_in_the_middle() {
        let err = parse("v=0\r\n\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n").unwrap_err();
        assert_eq!((err.line, err.offset), (2, 5));
    }

    #[test]
    fn rejects_lone_carriage_return() {
        let err = parse("v=0\r\no=- 1 2 IN IP4 192.0.2.1\rs=-\r\nt=0 0\r\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.offset, 29);
        assert!(parse(&format!("{MINIMAL}\r")).is_err());
    }

    #[test]
    fn rejects_wrong_version() {
        let err = parse(&MINIMAL.replace("v=0", "v=1")).unwrap_err();
        assert_eq!((err.line, err.offset, err.expected), (1, 2, "version 0"));
    }

    #[test]
    fn rejects_missing_time_line_with_its_position() {
        let err = parse("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\na=sendrecv\r\n").unwrap_err();
        assert_eq!(err.kind, SdpErrorKind::MissingLine { expected: 't' });
        assert_eq!(err.line, 4);
    }

    #[test]
    fn rejects_lines_out_of_order() {
        let err = parse(&format!("{MINIMAL}a=sendrecv\r\nc=IN IP4 192.0.2.1\r\n")).unwrap_err();
        assert_eq!(err.kind, SdpErrorKind::UnexpectedLine { found: 'c' });
        assert_eq!(err.line, 6);
    }

    #[test]
    fn rejects_unknown_type_letter() {
        let err = parse(&format!("{MINIMAL}x=foo\r\n")).unwrap_err();
        assert_eq!(err.kind, SdpErrorKind::UnexpectedLine { found: 'x' });
    }

    #[test]
    fn reports_attribute_errors_at_their_absolute_offset() {
        let input = format!("{MINIMAL}m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/x\r\n");
        let err = parse(&input).unwrap_err();
        let at = input.find("/x").unwrap() + 1;
        assert_eq!((err.line, err.offset, err.expected), (6, at, "clock rate"));
    }

    #[test]
    fn rejects_invalid_utf8_with_offset() {
        let mut bytes = MINIMAL.as_bytes().to_vec();
        bytes[14] = 0xff;
        let err = SessionDescription::parse(&Bytes::from(bytes)).unwrap_err();
        assert_eq!(
            (err.kind, err.offset, err.line),
            (SdpErrorKind::InvalidUtf8, 14, 2)
        );
    }

    #[test]
    fn enforces_limits() {
        let limits = SdpLimits {
            max_size: 60,
            ..SdpLimits::default()
        };
        let long = format!("{MINIMAL}a=x-pad:{}\r\n", "p".repeat(40));
        let err = SessionDescription::parse_with_limits(&Bytes::from(long), &limits).unwrap_err();
        assert_eq!(err.kind, SdpErrorKind::TooLarge { limit: 60 });

        let limits = SdpLimits {
            max_media: 1,
            ..SdpLimits::default()
        };
        let two = format!("{MINIMAL}m=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\n");
        let err = SessionDescription::parse_with_limits(&Bytes::from(two), &limits).unwrap_err();
        assert_eq!(
            (err.kind, err.line),
            (SdpErrorKind::TooManyMedia { limit: 1 }, 6)
        );

        let limits = SdpLimits {
            max_attributes: 2,
            ..SdpLimits::default()
        };
        let three = format!("{MINIMAL}a=a\r\nm=audio 1 RTP/AVP 0\r\na=b\r\na=c\r\n");
        let err = SessionDescription::parse_with_limits(&Bytes::from(three), &limits).unwrap_err();
        assert_eq!(
            (err.kind, err.line),
            (SdpErrorKind::TooManyAttributes { limit: 2 }, 8)
        );
    }

    #[test]
    fn parses_times_repeats_and_zone_adjustments() {
        let input = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=Seminar\r\nt=3034423619 3042462419\r\n\
                     r=7d 1h 0 25h\r\nz=2882844526 -1h 2898848070 0\r\nt=0 0\r\n";
        let sdp = parse(input).unwrap();
        assert_eq!(sdp.times.len(), 2);
        let r = &sdp.times[0].repeats[0];
        assert_eq!(
            (r.interval.seconds(), r.duration.seconds(), r.offsets.len()),
            (604_800, 3600, 2)
        );
        let z = &sdp.times[0].zone_adjustments;
        assert!(z[0].negative && !z[1].negative);
        assert_eq!(sdp.to_string(), input);
    }

    #[test]
    fn parses_multicast_connection_suffixes() {
        let input = format!(
            "{MINIMAL}m=audio 49170/2 RTP/AVP 0\r\nc=IN IP4 233.252.0.1/127/3\r\nc=IN IP6 ff15::101/3\r\n"
        );
        let sdp = parse(&input).unwrap();
        let m = &sdp.media[0];
        assert_eq!(m.port_count, Some(2));
        assert_eq!(
            (m.connections[0].ttl, m.connections[0].address_count),
            (Some(127), Some(3))
        );
        assert_eq!(
            (m.connections[1].ttl, m.connections[1].address_count),
            (None, Some(3))
        );
        assert_eq!(sdp.to_string(), input);
    }

    #[test]
    fn rejects_media_line_without_format() {
        let err = parse(&format!("{MINIMAL}m=audio 49170 RTP/AVP\r\n")).unwrap_err();
        assert_eq!(err.expected, "SP and at least one media format");
        assert!(parse(&format!("{MINIMAL}m=audio 70000 RTP/AVP 0\r\n")).is_err());
        assert!(parse(&format!("{MINIMAL}m=audio 1 RTP//AVP 0\r\n")).is_err());
    }

    #[test]
    fn rejects_empty_session_name_and_bad_key() {
        assert!(parse(&MINIMAL.replace("s=-", "s=")).is_err());
        assert!(parse(&format!("{MINIMAL}k=magic\r\n")).is_err());
        assert!(parse(&format!("{MINIMAL}k=prompt\r\n")).is_ok());
    }
}
