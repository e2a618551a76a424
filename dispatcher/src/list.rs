//! Destination sets and the `dispatcher.list` file format: parser, serializer and database rows.
//!
//! A line is `setid destination [flags [priority [attrs]]]`, columns separated by spaces or tabs:
//!
//! ```text
//! # IVR application servers
//! 1 sip:127.0.0.1:5080 0 10 duid=ivr-a;weight=50
//! 1 sip:127.0.0.1:5081 0 10 duid=ivr-b;weight=50
//! 2 sip:media.example.com;transport=tcp 8
//! ```
//!
//! Lines that are empty or start with `#` are skipped, and so is a trailing `#` comment after the last
//! column. Flags and priority are decimal integers (see [`Destination::FLAG_INACTIVE`] and friends);
//! attributes are `name=value` pairs separated by `;` (see [`Attributes`]).

use crate::destination::{AttrError, Attributes, Destination};
use crate::error::{Field, ListError, ListErrorKind};
use bytes::Bytes;
use std::collections::HashSet;
use std::fmt::{self, Write};
use tandem_sip_core::Uri;

/// Largest list accepted, in bytes.
pub const MAX_LIST_LEN: usize = 8 * 1024 * 1024;
/// Longest line accepted, in bytes.
pub const MAX_LINE_LEN: usize = 4096;
/// Most destinations in one set.
pub const MAX_SET_DESTINATIONS: usize = 4096;
/// Most destinations in one list.
pub const MAX_DESTINATIONS: usize = 65_536;

/// A destination set (Kamailio's "group"): an id and its destinations in list order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationSet {
    /// The set id, the first column of the list.
    pub id: u32,
    /// The destinations, in the order the list gives them.
    pub destinations: Vec<Destination>,
}

/// One row of a database table holding destinations, with the columns of Kamailio's `dispatcher` table.
///
/// The stack queries the table and hands the rows to [`DispatcherList::from_rows`]; this crate does not
/// talk to databases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationRow {
    /// The set id.
    pub setid: i64,
    /// The destination SIP URI.
    pub destination: String,
    /// The flags.
    pub flags: i64,
    /// The priority.
    pub priority: i64,
    /// The `name=value;…` attributes (may be empty).
    pub attrs: String,
}

/// Destination sets loaded from a `dispatcher.list`-style file or from database rows, checked (URIs valid,
/// no destination twice in a set, within the size limits) and ready for [`crate::Dispatcher::new`].
///
/// ```
/// use tandem_dispatcher::DispatcherList;
///
/// let list = DispatcherList::parse("1 sip:127.0.0.1:5080 0 5 weight=80\n1 sip:127.0.0.1:5081\n").unwrap();
/// let set = list.set(1).unwrap();
/// assert_eq!(set.destinations[0].attrs.weight(), Some(80));
/// assert_eq!(list.to_string(), "1 sip:127.0.0.1:5080 0 5 weight=80\n1 sip:127.0.0.1:5081 0 0\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatcherList {
    sets: Vec<DestinationSet>,
}

impl DispatcherList {
    /// An empty list.
    pub fn new() -> DispatcherList {
        DispatcherList::default()
    }

    /// Parse a `dispatcher.list` file. Sets appear in the order their first line does; destinations keep
    /// their line order.
    pub fn parse(text: &str) -> Result<DispatcherList, ListError> {
        if text.len() > MAX_LIST_LEN {
            return Err(ListError::new(
                0,
                0,
                None,
                ListErrorKind::TooLarge { max: MAX_LIST_LEN },
            ));
        }
        let mut builder = ListBuilder::default();
        for (index, line) in text.split('\n').enumerate() {
            let number = index + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if let Some((set_id, destination)) = parse_line(line, number)? {
                builder.push(set_id, destination, number)?;
            }
        }
        Ok(builder.finish())
    }

    /// Build the list from database rows, checking each as a file line would be. Errors name the 1-based row.
    pub fn from_rows<I>(rows: I) -> Result<DispatcherList, ListError>
    where
        I: IntoIterator<Item = DestinationRow>,
    {
        let mut builder = ListBuilder::default();
        for (index, row) in rows.into_iter().enumerate() {
            let number = index + 1;
            let (set_id, destination) = parse_row(&row, number)?;
            builder.push(set_id, destination, number)?;
        }
        Ok(builder.finish())
    }

    /// Build the list from sets made in code, with the same checks as [`DispatcherList::parse`] (errors name
    /// the 1-based position of the destination in the sets taken in order).
    pub fn from_sets(sets: Vec<DestinationSet>) -> Result<DispatcherList, ListError> {
        let mut builder = ListBuilder::default();
        let mut number = 0;
        for set in sets {
            builder.ensure_set(set.id);
            for destination in set.destinations {
                number += 1;
                if destination.uri.as_sip().is_none() {
                    let kind = ListErrorKind::NotSip;
                    return Err(ListError::new(number, 1, Some(Field::Destination), kind));
                }
                builder.push(set.id, destination, number)?;
            }
        }
        Ok(builder.finish())
    }

    /// The sets, in list order.
    pub fn sets(&self) -> &[DestinationSet] {
        &self.sets
    }

    /// The set with this id.
    pub fn set(&self, id: u32) -> Option<&DestinationSet> {
        self.sets.iter().find(|s| s.id == id)
    }

    /// The sets, taken out.
    pub fn into_sets(self) -> Vec<DestinationSet> {
        self.sets
    }

    /// The number of destinations over all sets.
    pub fn len(&self) -> usize {
        self.sets.iter().map(|s| s.destinations.len()).sum()
    }

    /// Whether there are no destinations.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append the list in file form (one line per destination; flags reflect each destination's state;
    /// comments are not kept) to `out`.
    pub fn write_to(&self, out: &mut String) {
        for set in &self.sets {
            for d in &set.destinations {
                // Writing to a String cannot fail.
                let _ = write!(
                    out,
                    "{} {} {} {}",
                    set.id,
                    d.uri,
                    d.flags_for_state(),
                    d.priority
                );
                if !d.attrs.is_empty() {
                    out.push(' ');
                    out.push_str(d.attrs.raw());
                }
                out.push('\n');
            }
        }
    }
}

impl std::str::FromStr for DispatcherList {
    type Err = ListError;

    fn from_str(s: &str) -> Result<DispatcherList, ListError> {
        DispatcherList::parse(s)
    }
}

impl fmt::Display for DispatcherList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_to(&mut out);
        f.write_str(&out)
    }
}

/// Collects destinations into sets, enforcing the limits and uniqueness within a set.
#[derive(Default)]
struct ListBuilder {
    sets: Vec<DestinationSet>,
    seen: HashSet<(u32, String)>,
    total: usize,
}

impl ListBuilder {
    fn ensure_set(&mut self, set_id: u32) -> usize {
        if let Some(i) = self.sets.iter().position(|s| s.id == set_id) {
            return i;
        }
        self.sets.push(DestinationSet {
            id: set_id,
            destinations: Vec::new(),
        });
        self.sets.len() - 1
    }

    fn push(
        &mut self,
        set_id: u32,
        destination: Destination,
        line: usize,
    ) -> Result<(), ListError> {
        let too_many =
            |max| ListError::new(line, 1, None, ListErrorKind::TooManyDestinations { max });
        if self.total >= MAX_DESTINATIONS {
            return Err(too_many(MAX_DESTINATIONS));
        }
        let index = self.ensure_set(set_id);
        let Some(set) = self.sets.get_mut(index) else {
            return Err(too_many(MAX_DESTINATIONS));
        };
        if set.destinations.len() >= MAX_SET_DESTINATIONS {
            return Err(too_many(MAX_SET_DESTINATIONS));
        }
        if !self.seen.insert((set_id, destination.uri.to_string())) {
            let kind = ListErrorKind::Duplicate { set_id };
            return Err(ListError::new(line, 1, Some(Field::Destination), kind));
        }
        set.destinations.push(destination);
        self.total += 1;
        Ok(())
    }

    fn finish(self) -> DispatcherList {
        DispatcherList { sets: self.sets }
    }
}

/// A column of a line and its byte offset in the line.
struct Token<'a> {
    text: &'a str,
    offset: usize,
}

/// The whitespace-separated columns of a line, up to a `#` that starts a column.
fn tokens(line: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = line;
    let mut offset = 0;
    std::iter::from_fn(move || {
        let start = rest.find(|c: char| c != ' ' && c != '\t')?;
        let after = rest.get(start..)?;
        if after.starts_with('#') {
            return None;
        }
        let len = after.find([' ', '\t']).unwrap_or(after.len());
        let token = Token {
            text: after.get(..len)?,
            offset: offset + start,
        };
        rest = after.get(len..)?;
        offset += start + len;
        Some(token)
    })
}

/// Parse one line; `None` for blank and comment lines.
fn parse_line(line: &str, number: usize) -> Result<Option<(u32, Destination)>, ListError> {
    if line.len() > MAX_LINE_LEN {
        let kind = ListErrorKind::LineTooLong { max: MAX_LINE_LEN };
        return Err(ListError::new(number, MAX_LINE_LEN + 1, None, kind));
    }
    let err = |offset: usize, field, kind| ListError::new(number, offset + 1, Some(field), kind);
    if let Some(bad) = line.find(|c: char| c.is_control() && c != '\t') {
        let expected = "no control characters";
        return Err(ListError::new(
            number,
            bad + 1,
            None,
            ListErrorKind::Invalid { expected },
        ));
    }
    let mut columns = tokens(line);
    let Some(set) = columns.next() else {
        return Ok(None);
    };
    let set_id =
        parse_set_id(set.text).ok_or_else(|| err(set.offset, Field::SetId, invalid_set_id()))?;
    let Some(uri) = columns.next() else {
        return Err(err(line.len(), Field::Destination, ListErrorKind::Missing));
    };
    let uri =
        parse_uri(uri.text).map_err(|(at, kind)| err(uri.offset + at, Field::Destination, kind))?;
    let mut destination = Destination::new(uri);
    if let Some(flags) = columns.next() {
        let value = parse_flags(flags.text)
            .ok_or_else(|| err(flags.offset, Field::Flags, invalid_flags()))?;
        destination = destination.with_flags(value);
    }
    if let Some(priority) = columns.next() {
        destination.priority = parse_priority(priority.text)
            .ok_or_else(|| err(priority.offset, Field::Priority, invalid_priority()))?;
    }
    if let Some(attrs) = columns.next() {
        destination.attrs = Attributes::parse_at(attrs.text).map_err(|e: AttrError| {
            err(
                attrs.offset + e.offset,
                Field::Attributes,
                invalid(e.expected),
            )
        })?;
    }
    if let Some(extra) = columns.next() {
        return Err(ListError::new(
            number,
            extra.offset + 1,
            None,
            ListErrorKind::UnexpectedField,
        ));
    }
    Ok(Some((set_id, destination)))
}

/// Check one database row as a file line.
fn parse_row(row: &DestinationRow, number: usize) -> Result<(u32, Destination), ListError> {
    let err = |offset: usize, field, kind| ListError::new(number, offset + 1, Some(field), kind);
    let set_id = u32::try_from(row.setid).map_err(|_| err(0, Field::SetId, invalid_set_id()))?;
    let text = row.destination.trim();
    if text.is_empty() {
        return Err(err(0, Field::Destination, ListErrorKind::Missing));
    }
    let uri = parse_uri(text).map_err(|(at, kind)| err(at, Field::Destination, kind))?;
    let flags = u32::try_from(row.flags).map_err(|_| err(0, Field::Flags, invalid_flags()))?;
    let priority =
        i32::try_from(row.priority).map_err(|_| err(0, Field::Priority, invalid_priority()))?;
    let attrs = Attributes::parse_at(row.attrs.trim())
        .map_err(|e| err(e.offset, Field::Attributes, invalid(e.expected)))?;
    let destination = Destination::new(uri)
        .with_flags(flags)
        .with_priority(priority)
        .with_attrs(attrs);
    Ok((set_id, destination))
}

fn invalid(expected: &'static str) -> ListErrorKind {
    ListErrorKind::Invalid { expected }
}

fn invalid_set_id() -> ListErrorKind {
    invalid("a set id (0..=4294967295)")
}

fn invalid_flags() -> ListErrorKind {
    invalid("flags (0..=4294967295)")
}

fn invalid_priority() -> ListErrorKind {
    invalid("a priority (a 32-bit signed integer)")
}

fn is_decimal(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_set_id(text: &str) -> Option<u32> {
    is_decimal(text).then(|| text.parse().ok()).flatten()
}

fn parse_flags(text: &str) -> Option<u32> {
    is_decimal(text).then(|| text.parse().ok()).flatten()
}

fn parse_priority(text: &str) -> Option<i32> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    is_decimal(digits).then(|| text.parse().ok()).flatten()
}

/// A destination URI: any valid URI of the `sip` or `sips` scheme.
fn parse_uri(text: &str) -> Result<Uri, (usize, ListErrorKind)> {
    let uri = Uri::parse(&Bytes::copy_from_slice(text.as_bytes()))
        .map_err(|e| (e.offset, ListErrorKind::Uri(e)))?;
    if uri.as_sip().is_none() {
        return Err((0, ListErrorKind::NotSip));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::DestinationState;

    #[test]
    fn skips_comments_blank_lines_and_trailing_comments() {
        let list =
            DispatcherList::parse("# head\n\n  \t\n1 sip:a.example 0 0 # gateway a\r\n").unwrap();
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn defaults_missing_optional_columns() {
        let list = DispatcherList::parse("7 sip:a.example").unwrap();
        let d = &list.set(7).unwrap().destinations[0];
        assert_eq!((d.flags, d.priority), (0, 0));
        assert!(d.attrs.is_empty());
        assert_eq!(d.state, DestinationState::Active);
    }

    #[test]
    fn reads_negative_priority_and_state_flags() {
        let list = DispatcherList::parse("1 sip:a.example 9 -3").unwrap();
        let d = &list.set(1).unwrap().destinations[0];
        assert_eq!(d.priority, -3);
        assert_eq!(d.state, DestinationState::Inactive);
        assert!(d.is_probing());
    }

    #[test]
    fn rejects_bad_set_id_with_line_and_column() {
        let e = DispatcherList::parse("1 sip:a.example\n  x1 sip:b.example\n").unwrap_err();
        assert_eq!((e.line, e.column, e.field), (2, 3, Some(Field::SetId)));
    }

    #[test]
    fn rejects_line_without_destination() {
        let e = DispatcherList::parse("1\n").unwrap_err();
        assert_eq!(e.kind, ListErrorKind::Missing);
        assert_eq!(e.field, Some(Field::Destination));
    }

    #[test]
    fn rejects_overlong_line() {
        let line = format!("1 sip:a.example 0 0 x={}", "y".repeat(MAX_LINE_LEN));
        let e = DispatcherList::parse(&line).unwrap_err();
        assert!(matches!(e.kind, ListErrorKind::LineTooLong { .. }));
    }

    #[test]
    fn rejects_rows_with_out_of_range_numbers() {
        let row = DestinationRow {
            setid: -1,
            destination: "sip:a.example".into(),
            ..DestinationRow::default()
        };
        let e = DispatcherList::from_rows([row]).unwrap_err();
        assert_eq!((e.line, e.field), (1, Some(Field::SetId)));
        let row = DestinationRow {
            setid: 1,
            destination: "sip:a.example".into(),
            priority: i64::from(i32::MAX) + 1,
            ..DestinationRow::default()
        };
        let e = DispatcherList::from_rows([row]).unwrap_err();
        assert_eq!(e.field, Some(Field::Priority));
    }

    #[test]
    fn rows_load_like_lines() {
        let rows = vec![DestinationRow {
            setid: 3,
            destination: "sip:192.0.2.1:5080".into(),
            flags: 8,
            priority: 2,
            attrs: "duid=x;weight=40".into(),
        }];
        let from_rows = DispatcherList::from_rows(rows).unwrap();
        let from_file = DispatcherList::parse("3 sip:192.0.2.1:5080 8 2 duid=x;weight=40").unwrap();
        assert_eq!(from_rows, from_file);
    }

    #[test]
    fn sets_made_in_code_must_be_sip() {
        let uri = Uri::parse(&Bytes::from_static(b"tel:+15551234")).unwrap();
        let set = DestinationSet {
            id: 1,
            destinations: vec![Destination::new(uri)],
        };
        let e = DispatcherList::from_sets(vec![set]).unwrap_err();
        assert_eq!(e.kind, ListErrorKind::NotSip);
    }
}
