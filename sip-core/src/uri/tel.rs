//! `tel:` URIs (RFC 3966).

use crate::error::ParseError;
use crate::grammar::{self, PARAM, PHONE};
use crate::params::{MAX_PARAMS, Params};
use crate::uri::escape::eq_unescaped;
use bytes::Bytes;

/// A `tel:` URI: a global (`+`…) or local number with visual separators as received, and its parameters
/// (`;ext=`, `;isub=`, `;phone-context=`, others).
///
/// RFC 3966 requires `phone-context` on local numbers; it is not enforced here because many deployments omit
/// it, see [`TelUri::phone_context`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TelUri {
    number: Bytes,
    params: Params,
}

impl TelUri {
    /// The number as received, including the leading `+` of a global number and any visual separators.
    pub fn number(&self) -> &Bytes {
        &self.number
    }

    /// Whether the number is global (starts with `+`).
    pub fn is_global(&self) -> bool {
        self.number.first() == Some(&b'+')
    }

    /// The number's digits without visual separators (`-`, `.`, `(`, `)`) and without the `+`.
    pub fn digits(&self) -> impl Iterator<Item = u8> + '_ {
        self.number
            .iter()
            .copied()
            .filter(|c| !matches!(c, b'+' | b'-' | b'.' | b'(' | b')'))
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The parameters, for modification.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// The `phone-context` parameter's raw value.
    pub fn phone_context(&self) -> Option<&[u8]> {
        self.params.value("phone-context")
    }

    /// Append the URI's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"tel:");
        out.extend_from_slice(&self.number);
        self.params.write_to(out);
    }

    /// RFC 3966 §4 comparison: same kind (global or local), same digits ignoring visual separators (hex digits
    /// case-insensitively), and the same set of parameters (names and values case-insensitive, escapes
    /// resolved, order ignored).
    pub fn equivalent(&self, other: &TelUri) -> bool {
        self.is_global() == other.is_global()
            && self
                .digits()
                .map(|c| c.to_ascii_lowercase())
                .eq(other.digits().map(|c| c.to_ascii_lowercase()))
            && params_subset(&self.params, &other.params)
            && params_subset(&other.params, &self.params)
    }
}

fn params_subset(a: &Params, b: &Params) -> bool {
    a.iter().all(|p| {
        b.iter().any(|q| {
            eq_unescaped(p.name(), q.name(), true)
                && match (p.value(), q.value()) {
                    (None, None) => true,
                    (Some(x), Some(y)) => eq_unescaped(x, y, true),
                    _ => false,
                }
        })
    })
}

/// Parse the part of a TEL URI after `tel:` (which ends at `start`).
pub(crate) fn parse_tel(input: &Bytes, start: usize) -> Result<TelUri, ParseError> {
    let b = &input[..];
    let global = b.get(start) == Some(&b'+');
    let digits_start = if global { start + 1 } else { start };
    let end = if global {
        let mut e = digits_start;
        while b.get(e).is_some_and(|c| is_global_char(*c)) {
            e += 1;
        }
        e
    } else {
        grammar::scan(b, digits_start, PHONE)
    };
    let number = b.get(digits_start..end).unwrap_or_default();
    let has_digit = if global {
        number.iter().any(u8::is_ascii_digit)
    } else {
        number
            .iter()
            .any(|c| c.is_ascii_hexdigit() || matches!(c, b'*' | b'#'))
    };
    if !has_digit {
        return Err(ParseError::syntax(digits_start, "phone number"));
    }
    let (params, i) = parse_tel_params(input, end)?;
    if i != b.len() {
        return Err(ParseError::syntax(i, "end of TEL URI"));
    }
    Ok(TelUri {
        number: input.slice(start..end),
        params,
    })
}

fn is_global_char(c: u8) -> bool {
    c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'(' | b')')
}

/// `*( ";" pname [ "=" pvalue ] )` with `pname = 1*( alphanum / "-" )` and escaped `paramchar` values.
fn parse_tel_params(input: &Bytes, start: usize) -> Result<(Params, usize), ParseError> {
    let b = &input[..];
    let mut i = start;
    let mut count = 0;
    while b.get(i) == Some(&b';') {
        count += 1;
        if count > MAX_PARAMS {
            return Err(ParseError::syntax(i, "at most 128 parameters"));
        }
        let mut ne = i + 1;
        while b
            .get(ne)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
        {
            ne += 1;
        }
        if ne == i + 1 {
            return Err(ParseError::syntax(ne, "parameter name"));
        }
        i = ne;
        if b.get(i) == Some(&b'=') {
            let ve = grammar::scan_escaped(b, i + 1, PARAM, "parameter value")?;
            if ve == i + 1 {
                return Err(ParseError::syntax(ve, "parameter value"));
            }
            i = ve;
        }
    }
    Ok((Params::from_uri_raw(input.slice(start..i)), i))
}
