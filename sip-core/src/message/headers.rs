//! The header section of a message: fields in the order received, each with its raw value, and typed views
//! parsed on demand.

use crate::error::ParseError;
use crate::header::{
    CSeq, CallId, Contact, ContentLength, FromHeader, HeaderName, MaxForwards, RecordRoute, Route,
    ToHeader, TypedHeader, Via,
};
use bytes::Bytes;
use memchr::{memchr, memchr2, memchr3};
use std::marker::PhantomData;

/// One header field: its recognised name, the name as spelled on the wire and the raw value.
///
/// The value is a slice of the received message with leading and trailing whitespace removed; it may still
/// contain obsolete line folding (CRLF followed by SP/HTAB), which typed parsers treat as whitespace.
///
/// Two fields are equal when their names are the same header as SIP compares them (case-insensitive, compact
/// form equal to long form) and their values are byte-for-byte equal; the spelling of the name and the
/// offset are not compared.
#[derive(Debug, Clone)]
pub struct HeaderField {
    name: HeaderName,
    /// The name as received when it differs from `name` (a compact form, another case); `None` otherwise, and
    /// for fields built in code, which are written with the canonical name. Keeping none in the common case
    /// saves a reference count update, and dropping one, per field.
    raw_name: Option<Bytes>,
    value: Bytes,
    /// Offset of `value` in the message it was parsed from (0 for fields built in code).
    offset: usize,
}

impl HeaderField {
    /// A field built in code; it is written with the canonical (long) form of `name`.
    ///
    /// The value is written exactly as given: it must not contain CR or LF other than in obsolete line
    /// folding, or the written message gains extra header lines; check values from untrusted sources first.
    pub fn new(name: HeaderName, value: impl Into<Bytes>) -> HeaderField {
        HeaderField {
            name,
            raw_name: None,
            value: value.into(),
            offset: 0,
        }
    }

    /// A field holding the wire form of a typed header value.
    pub fn from_typed<H: TypedHeader>(header: &H) -> HeaderField {
        let mut value = Vec::new();
        header.write_to(&mut value);
        HeaderField::new(H::NAME, value)
    }

    /// A field as the parser found it.
    pub(crate) fn parsed(
        name: HeaderName,
        raw_name: Option<Bytes>,
        value: Bytes,
        offset: usize,
    ) -> HeaderField {
        HeaderField {
            name,
            raw_name,
            value,
            offset,
        }
    }

    /// The recognised header name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The name as it is written: as received for parsed fields, the canonical long form for built ones.
    pub fn raw_name(&self) -> &[u8] {
        if let Some(raw_name) = &self.raw_name {
            return raw_name;
        }
        match &self.name {
            HeaderName::Other(name) => name,
            name => name.as_str().as_bytes(),
        }
    }

    /// The raw value, without leading and trailing whitespace.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// Byte offset of the value in the message it was parsed from (0 for fields built in code).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The elements of the value read as a comma-separated list (RFC 3261 §7.3.1): split at commas outside
    /// quoted strings and `<...>`, each element trimmed, empty elements skipped.
    pub fn elements(&self) -> ListElements<'_> {
        ListElements::new(&self.value, self.offset)
    }

    /// Parse the whole value as `H` (use [`HeaderField::elements`] for one element of a list header); error
    /// offsets count from the start of the message.
    pub fn parse<H: TypedHeader>(&self) -> Result<H, ParseError> {
        H::parse(&self.value).map_err(|e| e.shifted(self.offset))
    }

    /// Replace the value (the field keeps its name and spelling).
    pub fn set_value(&mut self, value: impl Into<Bytes>) {
        self.value = value.into();
        self.offset = 0;
    }

    /// Append the field's wire form (`Name: value` CRLF) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.raw_name());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&self.value);
        out.extend_from_slice(b"\r\n");
    }

    /// Length of the wire form written by [`HeaderField::write_to`].
    pub(crate) fn wire_len(&self) -> usize {
        self.raw_name().len() + 2 + self.value.len() + 2
    }
}

impl PartialEq for HeaderField {
    fn eq(&self, other: &HeaderField) -> bool {
        self.name.matches(&other.name) && self.value == other.value
    }
}

impl Eq for HeaderField {}

/// One element of a list header value, with its offset in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListElement {
    /// The element, trimmed of surrounding whitespace.
    pub value: Bytes,
    /// Byte offset of `value` in the message (relative to the field value for fields built in code).
    pub offset: usize,
}

impl ListElement {
    /// Parse the element as `H`; error offsets count from the start of the message.
    pub fn parse<H: TypedHeader>(&self) -> Result<H, ParseError> {
        H::parse(&self.value).map_err(|e| e.shifted(self.offset))
    }
}

/// Iterator over the elements of one comma-separated header value; see [`HeaderField::elements`].
#[derive(Debug, Clone)]
pub struct ListElements<'a> {
    value: &'a Bytes,
    pos: usize,
    base: usize,
}

impl<'a> ListElements<'a> {
    fn new(value: &'a Bytes, base: usize) -> ListElements<'a> {
        ListElements {
            value,
            pos: 0,
            base,
        }
    }
}

impl Iterator for ListElements<'_> {
    type Item = ListElement;

    fn next(&mut self) -> Option<ListElement> {
        while self.pos < self.value.len() {
            let rest = self.value.get(self.pos..)?;
            let len = element_len(rest);
            let (start, end) = trim_range(rest.get(..len)?);
            let element_start = self.pos + start;
            let element_end = self.pos + end;
            // Step over the element and its separating comma.
            self.pos += len + 1;
            if element_start < element_end {
                return Some(ListElement {
                    value: self.value.slice(element_start..element_end),
                    offset: self.base + element_start,
                });
            }
        }
        None
    }
}

/// Number of non-empty elements in a comma-separated list value (what [`ListElements`] would yield).
pub(crate) fn count_elements(value: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = value;
    loop {
        let len = element_len(rest);
        let element = rest.get(..len).unwrap_or_default();
        if element.iter().any(|&c| !is_lws(c)) {
            count += 1;
        }
        match rest.get(len + 1..) {
            Some(next) => rest = next,
            None => return count,
        }
    }
}

/// Length of the first list element of `input`: up to the first comma outside quoted strings and `<...>`.
fn element_len(input: &[u8]) -> usize {
    // Jump between the few bytes that matter; Via and Contact values are long runs of ordinary text.
    let mut i = 0;
    while let Some(found) = input
        .get(i..)
        .and_then(|rest| memchr3(b',', b'"', b'<', rest))
    {
        let at = i + found;
        i = match input.get(at) {
            Some(b',') => return at,
            Some(b'"') => quoted_string_end(input, at + 1),
            _ => input
                .get(at + 1..)
                .and_then(|rest| memchr(b'>', rest))
                .map_or(input.len(), |close| at + 1 + close + 1),
        };
    }
    input.len()
}

/// The offset just past the `"` closing a quoted string whose content starts at `from` (or the end of `input`
/// if it is not closed); a backslash escapes the byte after it.
fn quoted_string_end(input: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(found) = input.get(i..).and_then(|rest| memchr2(b'"', b'\\', rest)) {
        let at = i + found;
        if input.get(at) == Some(&b'"') {
            return at + 1;
        }
        i = at + 2;
    }
    input.len()
}

/// Linear white space, including the CR and LF of a folded line.
pub(crate) fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The range of `input` without leading and trailing linear white space.
pub(crate) fn trim_range(input: &[u8]) -> (usize, usize) {
    let start = input
        .iter()
        .position(|&c| !is_lws(c))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|&c| !is_lws(c))
        .map_or(start, |p| p + 1);
    (start, end)
}

/// Whether a name-addr / addr-spec header value (From, To) carries the header parameter `name`
/// (case-insensitive), looking only at parameters outside quoted strings and `<...>`.
pub(crate) fn has_header_param(value: &[u8], name: &[u8]) -> bool {
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, &c) in value.iter().enumerate() {
        if in_quotes {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_quotes = false,
                _ => {}
            }
        } else if in_angle {
            in_angle = c != b'>';
        } else {
            match c {
                b'"' => in_quotes = true,
                b'<' => in_angle = true,
                b';' if param_name_is(value.get(i + 1..).unwrap_or_default(), name) => {
                    return true;
                }
                _ => {}
            }
        }
    }
    false
}

fn param_name_is(after_semicolon: &[u8], name: &[u8]) -> bool {
    let end = after_semicolon
        .iter()
        .position(|&c| matches!(c, b'=' | b';' | b'>' | b','))
        .unwrap_or(after_semicolon.len());
    let (s, e) = trim_range(after_semicolon.get(..end).unwrap_or_default());
    after_semicolon
        .get(s..e)
        .is_some_and(|p| p.eq_ignore_ascii_case(name))
}

/// The header fields of a message, in the order received.
///
/// Parsed messages hold one `Vec` sized to the number of fields; looking a field up is a linear scan, which
/// beats hashing for the few dozen fields a SIP message has. Typed views are parsed on demand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<HeaderField>,
}

impl Headers {
    /// No header fields.
    pub fn new() -> Headers {
        Headers { fields: Vec::new() }
    }

    /// No header fields, with room for `capacity` of them.
    pub fn with_capacity(capacity: usize) -> Headers {
        Headers {
            fields: Vec::with_capacity(capacity),
        }
    }

    /// Make room for at least `additional` more header fields.
    pub fn reserve(&mut self, additional: usize) {
        self.fields.reserve(additional);
    }

    /// Number of header fields (lines; a list header may carry several elements per field).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// `true` if there are no header fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// All fields in order.
    pub fn iter(&self) -> std::slice::Iter<'_, HeaderField> {
        self.fields.iter()
    }

    /// The first field called `name` (compact and long forms match).
    pub fn get(&self, name: &HeaderName) -> Option<&HeaderField> {
        self.fields.iter().find(|f| f.name.matches(name))
    }

    /// The first field called `name`, mutably.
    pub fn get_mut(&mut self, name: &HeaderName) -> Option<&mut HeaderField> {
        self.fields.iter_mut().find(|f| f.name.matches(name))
    }

    /// Every field called `name`, in order.
    pub fn get_all<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = &'a HeaderField> + 'a {
        self.fields.iter().filter(move |f| f.name.matches(name))
    }

    /// `true` if a field called `name` is present.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.get(name).is_some()
    }

    /// Append a field after all others.
    pub fn push(&mut self, field: HeaderField) {
        self.fields.push(field);
    }

    /// Insert a field before all others (e.g. a proxy's own Via, RFC 3261 §16.6 step 8).
    pub fn push_front(&mut self, field: HeaderField) {
        self.fields.insert(0, field);
    }

    /// Insert a field at `index` (0 = first); an index past the end appends.
    pub fn insert(&mut self, index: usize, field: HeaderField) {
        let index = index.min(self.fields.len());
        self.fields.insert(index, field);
    }

    /// Remove and return the first field called `name` (e.g. the top Via of a response, §16.7 step 3).
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<HeaderField> {
        let index = self.fields.iter().position(|f| f.name.matches(name))?;
        Some(self.fields.remove(index))
    }

    /// Remove every field called `name`; returns how many were removed.
    pub fn remove_all(&mut self, name: &HeaderName) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| !f.name.matches(name));
        before - self.fields.len()
    }

    /// Replace the fields called `field.name()` by `field`: it takes the place of the first of them and the
    /// others are removed; the order of all other fields is kept. Without such a field, `field` is appended.
    pub fn replace(&mut self, field: HeaderField) {
        match self.fields.iter().position(|f| f.name.matches(&field.name)) {
            Some(index) => {
                let mut seen = 0usize;
                let name = field.name.clone();
                self.fields.retain(|f| {
                    if !f.name.matches(&name) {
                        return true;
                    }
                    seen += 1;
                    seen == 1
                });
                if let Some(slot) = self.fields.get_mut(index) {
                    *slot = field;
                }
            }
            None => self.fields.push(field),
        }
    }

    /// The first value of header `H`: the first element of the first field for a list header, the first
    /// field's whole value otherwise. `None` when the header is absent.
    pub fn typed<H: TypedHeader>(&self) -> Option<Result<H, ParseError>> {
        self.typed_all::<H>().next()
    }

    /// Every value of header `H`, in order: for a list header every element of every field carrying it, for
    /// other headers every field's whole value.
    pub fn typed_all<H: TypedHeader>(&self) -> TypedValues<'_, H> {
        TypedValues {
            elements: self.elements(H::NAME),
            list: H::LIST,
            marker: PhantomData,
        }
    }

    /// Every element of the comma-separated list carried by the fields called `name`, across all of them.
    pub fn elements(&self, name: HeaderName) -> Elements<'_> {
        Elements {
            fields: self.fields.iter(),
            name,
            current: None,
        }
    }

    /// The topmost Via entry (the first element of the first Via field).
    pub fn via(&self) -> Option<Result<Via, ParseError>> {
        self.typed()
    }

    /// Every Via entry, top first, across all Via fields.
    pub fn vias(&self) -> TypedValues<'_, Via> {
        self.typed_all()
    }

    /// The From field.
    pub fn from(&self) -> Option<Result<FromHeader, ParseError>> {
        self.typed()
    }

    /// The To field.
    pub fn to(&self) -> Option<Result<ToHeader, ParseError>> {
        self.typed()
    }

    /// The Call-ID field.
    pub fn call_id(&self) -> Option<Result<CallId, ParseError>> {
        self.typed()
    }

    /// The CSeq field.
    pub fn cseq(&self) -> Option<Result<CSeq, ParseError>> {
        self.typed()
    }

    /// The Max-Forwards field.
    pub fn max_forwards(&self) -> Option<Result<MaxForwards, ParseError>> {
        self.typed()
    }

    /// The (first) Content-Length field.
    pub fn content_length(&self) -> Option<Result<ContentLength, ParseError>> {
        self.typed()
    }

    /// Every Contact entry, across all Contact fields (a `*` wildcard is one entry).
    pub fn contacts(&self) -> TypedValues<'_, Contact> {
        self.typed_all()
    }

    /// Every Route entry, first (next hop) first, across all Route fields.
    pub fn routes(&self) -> TypedValues<'_, Route> {
        self.typed_all()
    }

    /// Every Record-Route entry, in order, across all Record-Route fields.
    pub fn record_routes(&self) -> TypedValues<'_, RecordRoute> {
        self.typed_all()
    }

    /// Append the wire form of every field (`Name: value` CRLF each) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for field in &self.fields {
            field.write_to(out);
        }
    }

    /// Length of the wire form written by [`Headers::write_to`].
    pub(crate) fn wire_len(&self) -> usize {
        self.fields.iter().map(HeaderField::wire_len).sum()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a HeaderField;
    type IntoIter = std::slice::Iter<'a, HeaderField>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

/// Iterator over the list elements of every field with a given name; see [`Headers::elements`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    fields: std::slice::Iter<'a, HeaderField>,
    name: HeaderName,
    current: Option<ListElements<'a>>,
}

impl<'a> Elements<'a> {
    /// The next field carrying the name, whole (used for headers that are not lists).
    fn next_field(&mut self) -> Option<&'a HeaderField> {
        let name = &self.name;
        self.fields.by_ref().find(|f| f.name.matches(name))
    }
}

impl Iterator for Elements<'_> {
    type Item = ListElement;

    fn next(&mut self) -> Option<ListElement> {
        loop {
            if let Some(element) = self.current.as_mut().and_then(Iterator::next) {
                return Some(element);
            }
            let field = self.next_field()?;
            self.current = Some(field.elements());
        }
    }
}

/// Iterator over the typed values of one header; see [`Headers::typed_all`].
#[derive(Debug, Clone)]
pub struct TypedValues<'a, H> {
    elements: Elements<'a>,
    list: bool,
    marker: PhantomData<fn() -> H>,
}

impl<H: TypedHeader> Iterator for TypedValues<'_, H> {
    type Item = Result<H, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.list {
            return self.elements.next().map(|e| e.parse::<H>());
        }
        self.elements.next_field().map(HeaderField::parse::<H>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: HeaderName, value: &'static str) -> HeaderField {
        HeaderField::new(name, Bytes::from_static(value.as_bytes()))
    }

    fn values(f: &HeaderField) -> Vec<Bytes> {
        f.elements().map(|e| e.value).collect()
    }

    #[test]
    fn list_splits_at_commas_outside_quotes_and_angle_brackets() {
        let f = field(
            HeaderName::Contact,
            r#""Doe, J" <sip:a@b;x=1,2>;q=0.5 , <sip:c@d> ,, "q\"," <sip:e@f>"#,
        );
        assert_eq!(
            values(&f),
            vec![
                Bytes::from_static(br#""Doe, J" <sip:a@b;x=1,2>;q=0.5"#),
                Bytes::from_static(b"<sip:c@d>"),
                Bytes::from_static(br#""q\"," <sip:e@f>"#),
            ]
        );
    }

    #[test]
    fn element_count_agrees_with_the_iterator() {
        for value in [
            "",
            "a",
            "a,b",
            " , a ,, b, ",
            "\"x,y\" <a,b>, c",
            "<a",
            "\"a\\\",b\", c",
        ] {
            let f = field(HeaderName::Via, value);
            assert_eq!(
                count_elements(value.as_bytes()),
                f.elements().count(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn list_element_offsets_point_into_the_value() {
        let f = HeaderField::parsed(HeaderName::Via, None, Bytes::from_static(b"a,\r\n b"), 100);
        let offsets: Vec<usize> = f.elements().map(|e| e.offset).collect();
        assert_eq!(offsets, vec![100, 105]);
    }

    #[test]
    fn replace_keeps_order_of_other_fields_and_drops_duplicates() {
        let mut h = Headers::new();
        h.push(field(HeaderName::Via, "1"));
        h.push(field(HeaderName::Expires, "10"));
        h.push(field(HeaderName::CallId, "c"));
        h.push(field(HeaderName::Expires, "20"));
        h.replace(field(HeaderName::Expires, "30"));
        let got: Vec<&[u8]> = h.iter().map(|f| &f.value()[..]).collect();
        assert_eq!(got, vec![&b"1"[..], b"30", b"c"]);
    }

    #[test]
    fn remove_first_and_remove_all_match_compact_names() {
        let mut h = Headers::new();
        h.push(HeaderField::parsed(
            HeaderName::Via,
            Some(Bytes::from_static(b"v")),
            Bytes::from_static(b"a"),
            0,
        ));
        h.push(field(HeaderName::Via, "b"));
        h.push(field(HeaderName::To, "t"));
        assert_eq!(
            h.remove_first(&HeaderName::Via).map(|f| f.value().clone()),
            Some(Bytes::from_static(b"a"))
        );
        assert_eq!(h.remove_all(&HeaderName::Via), 1);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn to_tag_detection_ignores_parameters_inside_the_uri() {
        assert!(!has_header_param(b"<sip:b@x;tag=1>", b"tag"));
        assert!(has_header_param(b"<sip:b@x> ; TAG = 1", b"tag"));
        assert!(has_header_param(b"sip:b@x;tag=1", b"tag"));
        assert!(!has_header_param(b"\"a;tag=x\" <sip:b@x>;tagx=1", b"tag"));
    }
}
