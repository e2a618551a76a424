//! Sets of SIP status codes, written as Kamailio's `ds_ping_reply_codes` (`class=2;code=404;code=501`).

use crate::error::ReplyCodesError;
use std::fmt;
use tandem_sip_core::StatusCode;

/// The status codes 100..=699 as a bit set: which probe replies count as "up", or which responses make a
/// request fail over to the next destination.
///
/// ```
/// use tandem_dispatcher::ReplyCodes;
/// use tandem_sip_core::StatusCode;
///
/// let codes: ReplyCodes = "class=2;code=404;code=501".parse().unwrap();
/// assert!(codes.contains(StatusCode::OK));
/// assert!(codes.contains(StatusCode::NOT_IMPLEMENTED));
/// assert!(!codes.contains(StatusCode::SERVICE_UNAVAILABLE));
/// assert_eq!(codes.to_string(), "class=2;code=404;code=501");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReplyCodes {
    /// Bit `code - 100` is set for each code in the set.
    bits: [u64; 10],
}

const FIRST: u16 = 100;
const LAST: u16 = 699;

impl ReplyCodes {
    /// No code at all.
    pub const fn empty() -> ReplyCodes {
        ReplyCodes { bits: [0; 10] }
    }

    /// What probes accept by default: any 2xx, `404`, `405` and `501` (a server that answers at all, even
    /// without a user or OPTIONS support, is up; `503` and other failures are not).
    pub fn probe_default() -> ReplyCodes {
        ReplyCodes::empty()
            .with_class(2)
            .with_code(404)
            .with_code(405)
            .with_code(501)
    }

    /// What fails a request over to the next destination by default: `408` and every 5xx (including `503`).
    pub fn failover_default() -> ReplyCodes {
        ReplyCodes::empty().with_code(408).with_class(5)
    }

    /// The set with `code` added (codes outside 100..=699 are ignored).
    pub const fn with_code(mut self, code: u16) -> ReplyCodes {
        if code >= FIRST && code <= LAST {
            let bit = (code - FIRST) as usize;
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
        self
    }

    /// The set with every code of class `class` (1..=6, e.g. 5 for 500..=599) added.
    pub const fn with_class(mut self, class: u8) -> ReplyCodes {
        let mut code = class as u16 * 100;
        while code < class as u16 * 100 + 100 {
            self = self.with_code(code);
            code += 1;
        }
        self
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: StatusCode) -> bool {
        self.contains_u16(code.as_u16())
    }

    fn contains_u16(&self, code: u16) -> bool {
        if !(FIRST..=LAST).contains(&code) {
            return false;
        }
        let bit = usize::from(code - FIRST);
        self.bits
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    /// Whether every code of `class` is in the set.
    fn has_class(&self, class: u16) -> bool {
        (class * 100..class * 100 + 100).all(|c| self.contains_u16(c))
    }

    /// Whether no code is in the set.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// Parse `class=N` and `code=NNN` items separated by `;` (spaces around items allowed).
    pub fn parse(text: &str) -> Result<ReplyCodes, ReplyCodesError> {
        let mut codes = ReplyCodes::empty();
        let mut offset = 0;
        for item in text.split(';') {
            codes = codes.add_item(item, offset)?;
            offset += item.len() + 1;
        }
        Ok(codes)
    }

    fn add_item(self, item: &str, offset: usize) -> Result<ReplyCodes, ReplyCodesError> {
        let trimmed = item.trim();
        if trimmed.is_empty() {
            return Ok(self);
        }
        let at = offset + (item.len() - item.trim_start().len());
        let err = |expected| ReplyCodesError {
            offset: at,
            expected,
        };
        let (name, value) = trimmed
            .split_once('=')
            .ok_or(err("class=<1..6> or code=<100..699>"))?;
        let number: u16 = value.trim().parse().map_err(|_| err("a decimal number"))?;
        match name.trim().to_ascii_lowercase().as_str() {
            "class" if (1..=6).contains(&number) => Ok(self.with_class(number as u8)),
            "code" if (FIRST..=LAST).contains(&number) => Ok(self.with_code(number)),
            "class" => Err(err("a class from 1 to 6")),
            "code" => Err(err("a code from 100 to 699")),
            _ => Err(err("class=<1..6> or code=<100..699>")),
        }
    }
}

impl std::str::FromStr for ReplyCodes {
    type Err = ReplyCodesError;

    fn from_str(s: &str) -> Result<ReplyCodes, ReplyCodesError> {
        ReplyCodes::parse(s)
    }
}

/// Written back in the parse syntax: whole classes as `class=N`, other codes one by one.
impl fmt::Display for ReplyCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { ";" };
            first = false;
            f.write_str(s)
        };
        for class in 1..=6u16 {
            if self.has_class(class) {
                sep(f)?;
                write!(f, "class={class}")?;
                continue;
            }
            for code in (class * 100..class * 100 + 100).filter(|c| self.contains_u16(*c)) {
                sep(f)?;
                write!(f, "code={code}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ReplyCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyCodes({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: u16) -> StatusCode {
        StatusCode::new(n).unwrap()
    }

    #[test]
    fn class_covers_its_hundred_codes_only() {
        let c = ReplyCodes::parse("class=5").unwrap();
        assert!(c.contains(code(500)) && c.contains(code(599)));
        assert!(!c.contains(code(499)) && !c.contains(code(600)));
    }

    #[test]
    fn tolerates_spaces_and_empty_items() {
        let c = ReplyCodes::parse(" code=200 ; ;class=6;").unwrap();
        assert!(c.contains(code(200)) && c.contains(code(603)));
    }

    #[test]
    fn rejects_out_of_range_and_unknown_items_with_offset() {
        let e = ReplyCodes::parse("code=200;code=700").unwrap_err();
        assert_eq!(e.offset, 9);
        assert!(ReplyCodes::parse("class=7").is_err());
        assert!(ReplyCodes::parse("status=200").is_err());
        assert!(ReplyCodes::parse("code").is_err());
        assert!(ReplyCodes::parse("code=2x0").is_err());
    }

    #[test]
    fn empty_text_is_the_empty_set() {
        assert!(ReplyCodes::parse("").unwrap().is_empty());
    }

    #[test]
    fn defaults_match_documented_codes() {
        let probe = ReplyCodes::probe_default();
        assert_eq!(probe.to_string(), "class=2;code=404;code=405;code=501");
        let failover = ReplyCodes::failover_default();
        assert!(failover.contains(code(408)) && failover.contains(code(503)));
        assert!(!failover.contains(code(486)));
    }

    #[test]
    fn display_round_trips() {
        let c = ReplyCodes::parse("code=183;class=3;code=600").unwrap();
        assert_eq!(ReplyCodes::parse(&c.to_string()).unwrap(), c);
    }
}
