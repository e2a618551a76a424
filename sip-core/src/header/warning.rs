//! The `Warning` header field (RFC 3261 §20.43).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use crate::params::{unquote, write_quoted};
use bytes::Bytes;
use std::borrow::Cow;
use std::io::Write;

/// One warning value: `399 proxy.example.com "Incompatible bandwidth units"`.
///
/// The code is exactly three digits (`warn-code = 3DIGIT`); a longer run of digits is
/// [`crate::ParseErrorKind::OutOfRange`] (RFC 4475 §3.1.2.5, `scalarlg`), a shorter one a syntax error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Warning {
    code: u16,
    agent: Bytes,
    text: Bytes,
}

impl Warning {
    /// A warning from its code (100..=999), agent (a host, host:port or pseudonym token) and text; `None`
    /// when the code is not three digits or the agent is empty or holds white space, `"` or control characters.
    pub fn new(code: u16, agent: &str, text: &str) -> Option<Warning> {
        let agent_ok = !agent.is_empty() && agent.bytes().all(is_agent_byte);
        if !(100..=999).contains(&code) || !agent_ok {
            return None;
        }
        let mut quoted = Vec::with_capacity(text.len() + 2);
        write_quoted(&mut quoted, text.as_bytes());
        Some(Warning {
            code,
            agent: Bytes::copy_from_slice(agent.as_bytes()),
            text: Bytes::from(quoted),
        })
    }

    /// The three-digit warn-code (e.g. 399, "Miscellaneous warning").
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The warn-agent: the host (and port) or pseudonym of the element that added the warning.
    pub fn agent(&self) -> &Bytes {
        &self.agent
    }

    /// The warn-text without its quotes and quoted-pairs.
    pub fn text(&self) -> Cow<'_, [u8]> {
        unquote(&self.text)
    }
}

/// Bytes of a warn-agent (`hostport` or `pseudonym`): anything visible but `"`, `,` and `;`.
fn is_agent_byte(c: u8) -> bool {
    c.is_ascii_graphic() && !matches!(c, b'"' | b',' | b';')
}

impl TypedHeader for Warning {
    const NAME: HeaderName = HeaderName::Warning;
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Warning, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let (code, code_end) = grammar::digits(b, start, "three-digit warn-code")?;
        match code_end - start {
            3 => {}
            n if n > 3 => return Err(grammar::out_of_range(start, "three-digit warn-code")),
            _ => return Err(ParseError::syntax(code_end, "three-digit warn-code")),
        }
        let agent_start = grammar::skip_lws(b, code_end);
        if agent_start == code_end {
            return Err(ParseError::syntax(code_end, "white space after warn-code"));
        }
        let agent_end = b
            .get(agent_start..)
            .unwrap_or_default()
            .iter()
            .position(|&c| !is_agent_byte(c))
            .map_or(b.len(), |p| agent_start + p);
        if agent_end == agent_start {
            return Err(ParseError::syntax(agent_start, "warn-agent"));
        }
        let text_start = grammar::skip_lws(b, agent_end);
        if text_start == agent_end {
            return Err(ParseError::syntax(
                agent_end,
                "white space after warn-agent",
            ));
        }
        let text_end = grammar::quoted_string(b, text_start)?;
        grammar::end(b, text_end, "end of warning value")?;
        Ok(Warning {
            // Three digits always fit.
            code: u16::try_from(code).unwrap_or(u16::MAX),
            agent: value.slice(agent_start..agent_end),
            text: value.slice(text_start..text_end),
        })
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{} ", self.code);
        out.extend_from_slice(&self.agent);
        out.push(b' ');
        grammar::write_unfolded(out, &self.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::header::test_support::{err_at, parse, round_trip, written};

    #[test]
    fn parses_code_agent_and_quoted_text() {
        let w: Warning = round_trip("399 proxy.example.com:5060 \"Incompatible \\\"units\\\"\"");
        assert_eq!(w.code(), 399);
        assert_eq!(w.agent().as_ref(), b"proxy.example.com:5060");
        assert_eq!(w.text().as_ref(), b"Incompatible \"units\"");
        let w: Warning =
            round_trip(" 301   isi.edu\r\n \"Incompatible network address type 'E.164'\" ");
        assert_eq!(
            written(&w),
            "301 isi.edu \"Incompatible network address type 'E.164'\""
        );
    }

    #[test]
    fn codes_longer_than_three_digits_are_out_of_range() {
        // RFC 4475 scalarlg.
        let e = parse::<Warning>("1812 overture \"In Progress\"").unwrap_err();
        assert_eq!((e.offset, e.kind), (0, ParseErrorKind::OutOfRange));
        assert_eq!(err_at::<Warning>("39 agent \"x\""), 2);
    }

    #[test]
    fn rejects_missing_agent_or_unquoted_text() {
        assert_eq!(err_at::<Warning>("399"), 3);
        assert_eq!(err_at::<Warning>("399 agent"), 9);
        assert_eq!(err_at::<Warning>("399 agent text"), 10);
        assert_eq!(err_at::<Warning>("399 agent \"text\" x"), 17);
    }

    #[test]
    fn built_warnings_quote_their_text() {
        let w = Warning::new(399, "tandem", "No \"sdp\" accepted").unwrap();
        assert_eq!(written(&w), "399 tandem \"No \\\"sdp\\\" accepted\"");
        assert_eq!(parse::<Warning>(&written(&w)), Ok(w));
        assert!(Warning::new(1000, "a", "x").is_none());
        assert!(Warning::new(399, "a b", "x").is_none());
    }
}
