//! The `Date` header field (RFC 3261 §20.17): `rfc1123-date`, always GMT.

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use bytes::Bytes;

const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Date: Sat, 13 Nov 2010 23:29:00 GMT`, parsed into fields; the text is kept for writing back.
///
/// Only `GMT` is accepted as the zone (RFC 3261 §20.17; RFC 4475 §3.1.2.12 allows rejecting others). The
/// weekday is checked for syntax but not against the date.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Date {
    raw: Bytes,
    /// Day of the week, 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Day of the month, 1..=31 (checked against the month and leap years).
    pub day: u8,
    /// Month, 1..=12.
    pub month: u8,
    /// Year (four digits).
    pub year: u16,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=60 (60 for a leap second).
    pub second: u8,
}

impl Date {
    /// The date as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// The date for `unix_time` seconds since 1970-01-01T00:00:00Z (years 1970..=9999; `None` outside).
    pub fn from_unix_time(unix_time: i64) -> Option<Date> {
        let days = unix_time.div_euclid(86_400);
        let secs = unix_time.rem_euclid(86_400);
        // Civil date from days (proleptic Gregorian), the inverse of `unix_time`.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (1970..=9999).contains(y))?;
        // 1970-01-01 was a Thursday (index 3).
        let weekday = u8::try_from((days + 3).rem_euclid(7)).ok()?;
        let mut date = Date {
            raw: Bytes::new(),
            weekday,
            day: u8::try_from(day).ok()?,
            month: u8::try_from(month).ok()?,
            year,
            hour: u8::try_from(secs / 3600).ok()?,
            minute: u8::try_from(secs % 3600 / 60).ok()?,
            second: u8::try_from(secs % 60).ok()?,
        };
        date.raw = Bytes::from(date.format());
        Some(date)
    }

    /// The RFC 1123 form, `Thu, 21 Feb 2002 13:02:03 GMT`, written digit by digit: a registrar dates every
    /// 200 it sends, and `format!` took several thousand instructions for it.
    fn format(&self) -> Vec<u8> {
        fn name(names: &[&'static [u8; 3]], i: u8) -> &'static [u8] {
            names.get(usize::from(i)).map_or(b"???", |n| &n[..])
        }
        fn two_digits(out: &mut Vec<u8>, n: u8) {
            out.push(b'0' + n / 10 % 10);
            out.push(b'0' + n % 10);
        }
        let mut out = Vec::with_capacity(29);
        out.extend_from_slice(name(&WEEKDAYS, self.weekday));
        out.extend_from_slice(b", ");
        two_digits(&mut out, self.day);
        out.push(b' ');
        out.extend_from_slice(name(&MONTHS, self.month.saturating_sub(1)));
        out.push(b' ');
        // Years are 1970..=9999 (see `from_unix_time`): four digits.
        for divisor in [1000, 100, 10, 1] {
            out.push(b'0' + u8::try_from(self.year / divisor % 10).unwrap_or(0));
        }
        out.push(b' ');
        two_digits(&mut out, self.hour);
        out.push(b':');
        two_digits(&mut out, self.minute);
        out.push(b':');
        two_digits(&mut out, self.second);
        out.extend_from_slice(b" GMT");
        out
    }

    /// Seconds since 1970-01-01T00:00:00Z (a leap second counts as the next second).
    pub fn unix_time(&self) -> i64 {
        // Days from civil date (proleptic Gregorian), shifted so the year starts in March.
        let (y, m) = (i64::from(self.year), i64::from(self.month));
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(month: u8, year: u16) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A fixed-width decimal field of exactly `n` digits at `i`, at most `max`.
fn fixed(
    b: &[u8],
    i: usize,
    n: usize,
    max: u16,
    expected: &'static str,
) -> Result<(u16, usize), ParseError> {
    let field = b.get(i..i + n).ok_or(ParseError::syntax(i, expected))?;
    if !field.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::syntax(i, expected));
    }
    let v = field
        .iter()
        .fold(0u16, |acc, c| acc * 10 + u16::from(c - b'0'));
    if v > max {
        return Err(grammar::out_of_range(i, expected));
    }
    Ok((v, i + n))
}

/// A three-letter name from `names` at `i` (case-sensitive, as RFC 3261 spells them).
fn name_at(
    b: &[u8],
    i: usize,
    names: &[&[u8; 3]],
    expected: &'static str,
) -> Result<(u8, usize), ParseError> {
    let field = b.get(i..i + 3).ok_or(ParseError::syntax(i, expected))?;
    let idx = names
        .iter()
        .position(|n| &n[..] == field)
        .ok_or(ParseError::syntax(i, expected))?;
    Ok((u8::try_from(idx).unwrap_or(0), i + 3))
}

fn literal(b: &[u8], i: usize, lit: &[u8], expected: &'static str) -> Result<usize, ParseError> {
    if b.get(i..i + lit.len()) != Some(lit) {
        return Err(ParseError::syntax(i, expected));
    }
    Ok(i + lit.len())
}

impl TypedHeader for Date {
    const NAME: HeaderName = HeaderName::Date;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<Date, ParseError> {
        let b = &value[..];
        let start = grammar::skip_lws(b, 0);
        let (weekday, i) = name_at(b, start, &WEEKDAYS, "weekday")?;
        let i = literal(b, i, b", ", "\", \"")?;
        let (day, i) = fixed(b, i, 2, 31, "2-digit day")?;
        let i = literal(b, i, b" ", "SP")?;
        let (month0, i) = name_at(b, i, &MONTHS, "month")?;
        let i = literal(b, i, b" ", "SP")?;
        let (year, i) = fixed(b, i, 4, 9999, "4-digit year")?;
        let i = literal(b, i, b" ", "SP")?;
        let (hour, i) = fixed(b, i, 2, 23, "hour")?;
        let i = literal(b, i, b":", "\":\"")?;
        let (minute, i) = fixed(b, i, 2, 59, "minute")?;
        let i = literal(b, i, b":", "\":\"")?;
        let (second, i) = fixed(b, i, 2, 60, "second")?;
        let i = literal(b, i, b" GMT", "\" GMT\"")?;
        grammar::end(b, i, "end of Date")?;
        let month = month0 + 1;
        let day = u8::try_from(day).unwrap_or(0);
        if day == 0 || day > days_in_month(month, year) {
            return Err(grammar::out_of_range(start + 5, "day of month"));
        }
        Ok(Date {
            raw: value.slice(start..i),
            weekday,
            day,
            month,
            year,
            hour: u8::try_from(hour).unwrap_or(0),
            minute: u8::try_from(minute).unwrap_or(0),
            second: u8::try_from(second).unwrap_or(0),
        })
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::header::test_support::{err_at, parse, round_trip};

    #[test]
    fn parses_rfc1123_dates_into_fields() {
        let d: Date = round_trip("Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!((d.weekday, d.day, d.month, d.year), (5, 13, 11, 2010));
        assert_eq!((d.hour, d.minute, d.second), (23, 29, 0));
        assert_eq!(d.unix_time(), 1_289_690_940);
        let d: Date = round_trip("Thu, 29 Feb 2024 00:00:00 GMT");
        assert_eq!(d.unix_time(), 1_709_164_800);
    }

    #[test]
    fn formats_dates_from_unix_time() {
        let d = Date::from_unix_time(1_289_690_940).unwrap();
        assert_eq!(d.as_bytes().as_ref(), b"Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(parse::<Date>("Sat, 13 Nov 2010 23:29:00 GMT"), Ok(d));
        let leap = Date::from_unix_time(1_709_164_800).unwrap();
        assert_eq!(leap.as_bytes().as_ref(), b"Thu, 29 Feb 2024 00:00:00 GMT");
        assert_eq!(Date::from_unix_time(0).unwrap().weekday, 3);
        assert_eq!(Date::from_unix_time(-1), None);
        let last = Date::from_unix_time(253_402_300_799).unwrap();
        assert_eq!(last.as_bytes().as_ref(), b"Fri, 31 Dec 9999 23:59:59 GMT");
        // Every written date parses back to the same instant.
        for t in (0..253_402_300_799_i64).step_by(7_654_321) {
            let d = Date::from_unix_time(t).unwrap();
            let text = std::str::from_utf8(d.as_bytes()).unwrap();
            assert_eq!(parse::<Date>(text).map(|p| p.unix_time()), Ok(t), "{text}");
        }
    }

    #[test]
    fn rejects_other_zones_and_impossible_dates() {
        // RFC 4475 baddate.
        assert_eq!(err_at::<Date>("Fri, 01 Jan 2010 16:00:00 EST"), 25);
        assert_eq!(err_at::<Date>("Fri 01 Jan 2010 16:00:00 GMT"), 3);
        assert_eq!(err_at::<Date>("Fri, 1 Jan 2010 16:00:00 GMT"), 5);
        assert_eq!(err_at::<Date>("Fri, 01 jan 2010 16:00:00 GMT"), 8);
        let e = parse::<Date>("Tue, 29 Feb 2011 00:00:00 GMT").unwrap_err();
        assert_eq!((e.offset, e.kind), (5, ParseErrorKind::OutOfRange));
        let e = parse::<Date>("Tue, 01 Feb 2011 24:00:00 GMT").unwrap_err();
        assert_eq!((e.offset, e.kind), (17, ParseErrorKind::OutOfRange));
        assert_eq!(err_at::<Date>("Tue, 01 Feb 2011 23:00:00 GMT x"), 30);
    }
}
