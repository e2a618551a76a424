//! RTP header extensions (RFC 3550 §5.3.1) and the RFC 8285 one-byte and two-byte element forms.

use super::error::{RtpError, RtpErrorKind};

/// The "defined by profile" value announcing the one-byte element form (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xbede;
/// The "defined by profile" value of the two-byte element form, with the 4 appbits zero (RFC 8285 §4.3).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// One-byte form ID after which the rest of the extension is ignored (RFC 8285 §4.2).
const ONE_BYTE_STOP_ID: u8 = 15;

/// Which RFC 8285 form a header extension's elements use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtensionForm {
    /// IDs 1–14, 1 to 16 data bytes per element.
    OneByte,
    /// IDs 1–255, 0 to 255 data bytes per element.
    TwoByte,
}

impl ExtensionForm {
    /// The form a profile value announces, or `None` for extensions that are not RFC 8285 element lists.
    pub fn from_profile(profile: u16) -> Option<Self> {
        match profile {
            ONE_BYTE_PROFILE => Some(ExtensionForm::OneByte),
            p if p & 0xfff0 == TWO_BYTE_PROFILE => Some(ExtensionForm::TwoByte),
            _ => None,
        }
    }

    /// The smallest form able to carry every element, or `None` when some element fits neither form.
    pub fn fitting(elements: &[ExtensionElement<'_>]) -> Option<Self> {
        if elements.iter().all(|e| e.fits(ExtensionForm::OneByte)) {
            Some(ExtensionForm::OneByte)
        } else if elements.iter().all(|e| e.fits(ExtensionForm::TwoByte)) {
            Some(ExtensionForm::TwoByte)
        } else {
            None
        }
    }

    fn profile(self) -> u16 {
        match self {
            ExtensionForm::OneByte => ONE_BYTE_PROFILE,
            ExtensionForm::TwoByte => TWO_BYTE_PROFILE,
        }
    }
}

/// One header extension element: a local identifier (negotiated with `a=extmap`) and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtensionElement<'a> {
    /// The local identifier (1–14 in the one-byte form, 1–255 in the two-byte form).
    pub id: u8,
    /// The element data.
    pub data: &'a [u8],
}

impl<'a> ExtensionElement<'a> {
    /// An element with identifier `id` carrying `data`.
    pub const fn new(id: u8, data: &'a [u8]) -> Self {
        ExtensionElement { id, data }
    }

    /// Whether this element can be written in `form`.
    pub fn fits(&self, form: ExtensionForm) -> bool {
        match form {
            ExtensionForm::OneByte => {
                (1..ONE_BYTE_STOP_ID).contains(&self.id) && (1..=16).contains(&self.data.len())
            }
            ExtensionForm::TwoByte => self.id != 0 && self.data.len() <= 255,
        }
    }

    fn encoded_len(&self, form: ExtensionForm) -> usize {
        match form {
            ExtensionForm::OneByte => 1 + self.data.len(),
            ExtensionForm::TwoByte => 2 + self.data.len(),
        }
    }
}

/// A header extension as found in a packet: the 16-bit profile value and the extension data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    profile: u16,
    data: &'a [u8],
    /// Offset of `data` in the packet, for error offsets.
    data_offset: usize,
}

impl<'a> HeaderExtension<'a> {
    /// Parses the extension header at the start of `buf` (found at `offset` in the packet); returns the
    /// extension and its total length in bytes.
    pub(crate) fn parse(buf: &'a [u8], offset: usize) -> Result<(Self, usize), RtpError> {
        let (head, rest) = buf.split_first_chunk::<4>().ok_or(RtpError::truncated(
            offset,
            "4-byte header extension header",
        ))?;
        let profile = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]])) * 4;
        let data = rest.get(..len).ok_or(RtpError::truncated(
            offset + 4,
            "header extension data of the announced length",
        ))?;
        let ext = HeaderExtension {
            profile,
            data,
            data_offset: offset + 4,
        };
        Ok((ext, 4 + len))
    }

    /// The 16-bit "defined by profile" value (`0xBEDE` for the one-byte form, `0x100X` for the two-byte form).
    pub fn profile(&self) -> u16 {
        self.profile
    }

    /// The RFC 8285 form, or `None` when the profile value announces something else.
    pub fn form(&self) -> Option<ExtensionForm> {
        ExtensionForm::from_profile(self.profile)
    }

    /// The raw extension data (a multiple of 4 bytes), without the 4-byte extension header.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Iterates the RFC 8285 elements, skipping padding. Yields nothing for a non-RFC 8285 profile; yields one
    /// error and stops when an element runs past the extension.
    pub fn elements(&self) -> ExtensionElements<'a> {
        ExtensionElements {
            form: self.form(),
            data: self.data,
            pos: 0,
            base: self.data_offset,
        }
    }

    /// The data of the first element with identifier `id`, if it comes before any malformed element.
    pub fn get(&self, id: u8) -> Option<&'a [u8]> {
        self.elements()
            .map_while(Result::ok)
            .find(|e| e.id == id)
            .map(|e| e.data)
    }
}

/// Iterator over the elements of an RFC 8285 header extension (see [`HeaderExtension::elements`]).
#[derive(Debug, Clone)]
pub struct ExtensionElements<'a> {
    /// `None` once iteration is over (or for non-RFC 8285 extensions).
    form: Option<ExtensionForm>,
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> ExtensionElements<'a> {
    fn fail(
        &mut self,
        at: usize,
        expected: &'static str,
    ) -> Option<Result<ExtensionElement<'a>, RtpError>> {
        self.form = None;
        Some(Err(RtpError::new(
            self.base + at,
            RtpErrorKind::Extension,
            expected,
        )))
    }

    fn element(
        &mut self,
        id: u8,
        data_start: usize,
        len: usize,
    ) -> Option<Result<ExtensionElement<'a>, RtpError>> {
        match self.data.get(data_start..data_start + len) {
            Some(data) => {
                self.pos = data_start + len;
                Some(Ok(ExtensionElement { id, data }))
            }
            None => self.fail(data_start, "element data inside the extension"),
        }
    }
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = Result<ExtensionElement<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let form = self.form?;
        // Padding octets (value 0) may sit between and after elements in both forms.
        let skip = self
            .data
            .get(self.pos..)?
            .iter()
            .take_while(|&&b| b == 0)
            .count();
        self.pos += skip;
        let Some(&first) = self.data.get(self.pos) else {
            self.form = None;
            return None;
        };
        match form {
            ExtensionForm::OneByte => {
                let id = first >> 4;
                if id == ONE_BYTE_STOP_ID {
                    self.form = None;
                    return None;
                }
                let len = usize::from(first & 0x0f) + 1;
                self.element(id, self.pos + 1, len)
            }
            ExtensionForm::TwoByte => {
                let Some(&len) = self.data.get(self.pos + 1) else {
                    return self.fail(self.pos + 1, "two-byte element length octet");
                };
                self.element(first, self.pos + 2, usize::from(len))
            }
        }
    }
}

/// Bytes that writing `elements` in `form` takes, 4-byte extension header and padding included.
pub(crate) fn elements_len(form: ExtensionForm, elements: &[ExtensionElement<'_>]) -> usize {
    let body: usize = elements.iter().map(|e| e.encoded_len(form)).sum();
    4 + body.next_multiple_of(4)
}

/// Checks that every element fits `form` and that the data length fits the 16-bit word count.
pub(crate) fn check_elements(
    form: ExtensionForm,
    elements: &[ExtensionElement<'_>],
    offset: usize,
) -> Result<(), RtpError> {
    if elements.iter().any(|e| !e.fits(form)) {
        return Err(RtpError::invalid(
            offset,
            match form {
                ExtensionForm::OneByte => "one-byte elements with ID 1-14 and 1-16 data bytes",
                ExtensionForm::TwoByte => {
                    "two-byte elements with ID 1-255 and at most 255 data bytes"
                }
            },
        ));
    }
    if (elements_len(form, elements) - 4) / 4 > usize::from(u16::MAX) {
        return Err(RtpError::invalid(offset, "at most 65535 extension words"));
    }
    Ok(())
}

/// Writes the extension header and `elements` into `out` (exactly [`elements_len`] bytes, already checked).
pub(crate) fn write_elements(
    out: &mut [u8],
    form: ExtensionForm,
    elements: &[ExtensionElement<'_>],
) {
    let words = (out.len().saturating_sub(4) / 4) as u16;
    let Some((head, body)) = out.split_first_chunk_mut::<4>() else {
        return;
    };
    head[..2].copy_from_slice(&form.profile().to_be_bytes());
    head[2..].copy_from_slice(&words.to_be_bytes());
    let mut pos = 0;
    for e in elements {
        // Lengths were checked by `check_elements`: 1-16 (stored minus one) or 0-255.
        pos = match form {
            ExtensionForm::OneByte => put(
                body,
                pos,
                &[(e.id << 4) | ((e.data.len() as u8).wrapping_sub(1) & 0x0f)],
            ),
            ExtensionForm::TwoByte => put(body, pos, &[e.id, e.data.len() as u8]),
        };
        pos = put(body, pos, e.data);
    }
    if let Some(tail) = body.get_mut(pos..) {
        tail.fill(0);
    }
}

/// Copies `src` into `dst` at `pos` and returns the position after it; a write past the end is dropped (callers
/// size `dst` beforehand).
pub(crate) fn put(dst: &mut [u8], pos: usize, src: &[u8]) -> usize {
    if let Some(d) = dst.get_mut(pos..pos + src.len()) {
        d.copy_from_slice(src);
    }
    pos + src.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(profile: u16, data: &[u8]) -> HeaderExtension<'_> {
        HeaderExtension {
            profile,
            data,
            data_offset: 16,
        }
    }

    #[test]
    fn iterates_one_byte_elements_skipping_padding() {
        // ID 1 len 1, a padding octet, ID 3 len 3, then padding to the word boundary.
        let data = [0x10, 0xaa, 0x00, 0x32, 1, 2, 3, 0];
        let e = ext(ONE_BYTE_PROFILE, &data);
        let got: Vec<_> = e.elements().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                ExtensionElement::new(1, &[0xaa]),
                ExtensionElement::new(3, &[1, 2, 3])
            ]
        );
        assert_eq!(e.get(3), Some(&[1u8, 2, 3][..]));
        assert_eq!(e.get(2), None);
    }

    #[test]
    fn stops_one_byte_iteration_at_id_15() {
        let data = [0x10, 0xaa, 0xf3, 0x20, 0xbb, 0, 0, 0];
        let e = ext(ONE_BYTE_PROFILE, &data);
        let got: Vec<_> = e.elements().collect::<Result<_, _>>().unwrap();
        assert_eq!(got, vec![ExtensionElement::new(1, &[0xaa])]);
    }

    #[test]
    fn iterates_two_byte_elements_including_empty_ones() {
        let data = [0x05, 0x00, 0x00, 0x20, 0x02, 9, 8, 0];
        let e = ext(0x1003, &data);
        assert_eq!(e.form(), Some(ExtensionForm::TwoByte));
        let got: Vec<_> = e.elements().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                ExtensionElement::new(5, &[]),
                ExtensionElement::new(0x20, &[9, 8])
            ]
        );
    }

    #[test]
    fn reports_element_running_past_extension_with_its_offset() {
        let data = [0x10, 0xaa, 0x23, 0x01];
        let e = ext(ONE_BYTE_PROFILE, &data);
        let mut it = e.elements();
        assert!(it.next().unwrap().is_ok());
        let err = it.next().unwrap().unwrap_err();
        assert_eq!(err.kind, RtpErrorKind::Extension);
        assert_eq!(err.offset, 16 + 3);
        assert!(it.next().is_none());
    }

    #[test]
    fn reports_missing_two_byte_length_octet() {
        let data = [0, 0, 0, 0x07];
        let err = ext(TWO_BYTE_PROFILE, &data)
            .elements()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.offset, 16 + 4);
    }

    #[test]
    fn yields_nothing_for_non_rfc8285_profile() {
        let data = [0x10, 0xaa, 0, 0];
        let e = ext(0x1234, &data);
        assert_eq!(e.form(), None);
        assert_eq!(e.elements().count(), 0);
    }

    #[test]
    fn picks_smallest_fitting_form() {
        let small = [ExtensionElement::new(1, &[0; 16])];
        let big_id = [ExtensionElement::new(15, &[0])];
        let empty = [ExtensionElement::new(1, &[])];
        let zero_id = [ExtensionElement::new(0, &[1])];
        assert_eq!(ExtensionForm::fitting(&small), Some(ExtensionForm::OneByte));
        assert_eq!(
            ExtensionForm::fitting(&big_id),
            Some(ExtensionForm::TwoByte)
        );
        assert_eq!(ExtensionForm::fitting(&empty), Some(ExtensionForm::TwoByte));
        assert_eq!(ExtensionForm::fitting(&zero_id), None);
    }

    #[test]
    fn writes_one_byte_elements_padded_to_a_word() {
        let elements = [
            ExtensionElement::new(1, &[0xaa]),
            ExtensionElement::new(3, &[1, 2, 3]),
        ];
        let len = elements_len(ExtensionForm::OneByte, &elements);
        assert_eq!(len, 12);
        let mut out = [0xffu8; 12];
        write_elements(&mut out, ExtensionForm::OneByte, &elements);
        assert_eq!(out, [0xbe, 0xde, 0, 2, 0x10, 0xaa, 0x32, 1, 2, 3, 0, 0]);
    }

    #[test]
    fn writes_two_byte_elements() {
        let elements = [
            ExtensionElement::new(200, &[]),
            ExtensionElement::new(2, &[7]),
        ];
        let mut out = [0xffu8; 12];
        write_elements(&mut out, ExtensionForm::TwoByte, &elements);
        assert_eq!(out, [0x10, 0x00, 0, 2, 200, 0, 2, 1, 7, 0, 0, 0]);
    }
}
