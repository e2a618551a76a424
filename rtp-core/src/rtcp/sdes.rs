//! Source descriptions (RFC 3550 §6.5): chunks of items (CNAME, NAME, …) per SSRC or CSRC.

use super::error::RtcpError;
use super::header::{Frame, be_u32};

/// The type of an SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdesItemType {
    /// Canonical end-point identifier (1), the one item every compound must carry.
    Cname,
    /// User name (2).
    Name,
    /// Electronic mail address (3).
    Email,
    /// Phone number (4).
    Phone,
    /// Geographic user location (5).
    Location,
    /// Application or tool name (6).
    Tool,
    /// Notice or status (7).
    Note,
    /// Private extension (8): the value holds a prefix length, prefix and value.
    Private,
    /// Another type (9–255); 0 ends an item list and is never an item.
    Other(u8),
}

impl SdesItemType {
    /// The type for wire value `value` (not 0, which ends an item list).
    pub fn from_u8(value: u8) -> Self {
        match value {
            1 => SdesItemType::Cname,
            2 => SdesItemType::Name,
            3 => SdesItemType::Email,
            4 => SdesItemType::Phone,
            5 => SdesItemType::Location,
            6 => SdesItemType::Tool,
            7 => SdesItemType::Note,
            8 => SdesItemType::Private,
            other => SdesItemType::Other(other),
        }
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            SdesItemType::Cname => 1,
            SdesItemType::Name => 2,
            SdesItemType::Email => 3,
            SdesItemType::Phone => 4,
            SdesItemType::Location => 5,
            SdesItemType::Tool => 6,
            SdesItemType::Note => 7,
            SdesItemType::Private => 8,
            SdesItemType::Other(v) => v,
        }
    }
}

/// One SDES item: its type and value (at most 255 bytes, UTF-8 by the RFC but not checked here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SdesItem<'a> {
    /// The item type.
    pub kind: SdesItemType,
    /// The item value.
    pub value: &'a [u8],
}

impl<'a> SdesItem<'a> {
    /// An item of type `kind` holding `value`.
    pub const fn new(kind: SdesItemType, value: &'a [u8]) -> Self {
        SdesItem { kind, value }
    }
}

/// A parsed source description packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> SourceDescription<'a> {
    /// Checks that the body holds exactly `count` well-formed chunks.
    pub(crate) fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        let mut pos = 0;
        for _ in 0..frame.count {
            let (_, next) = read_chunk(frame.body, pos)
                .map_err(|(at, expected)| RtcpError::malformed(frame.body_offset(at), expected))?;
            pos = next;
        }
        if pos != frame.body.len() {
            return Err(RtcpError::malformed(
                frame.body_offset(pos),
                "end of packet after SC chunks",
            ));
        }
        Ok(SourceDescription {
            count: frame.count,
            body: frame.body,
        })
    }

    /// The chunks, one per described source.
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            body: self.body,
            pos: 0,
            remaining: self.count,
        }
    }
}

/// Reads the chunk starting at `pos` (a multiple of 4) of `body`; returns it and the offset of the next chunk,
/// or the offset of the fault and what was expected there.
fn read_chunk(body: &[u8], pos: usize) -> Result<(SdesChunk<'_>, usize), (usize, &'static str)> {
    let ssrc = body
        .get(pos..pos + 4)
        .map(|_| be_u32(body, pos))
        .ok_or((pos, "4-byte SSRC/CSRC of an SDES chunk"))?;
    let items_start = pos + 4;
    let mut at = items_start;
    loop {
        let kind = *body
            .get(at)
            .ok_or((at, "SDES item type or null terminator"))?;
        if kind == 0 {
            break;
        }
        let len = *body.get(at + 1).ok_or((at + 1, "SDES item length"))?;
        at += 2 + usize::from(len);
        if at > body.len() {
            return Err((at - usize::from(len), "SDES item value inside the packet"));
        }
    }
    let items = body.get(items_start..at).unwrap_or_default();
    // The null octet ends the list; more null octets pad to the next 32-bit boundary.
    let end = (at + 1).next_multiple_of(4);
    let terminator = body
        .get(at..end)
        .ok_or((at, "null octets up to a 32-bit boundary"))?;
    if let Some(bad) = terminator.iter().position(|&b| b != 0) {
        return Err((at + bad, "null padding octet after SDES items"));
    }
    Ok((SdesChunk { ssrc, items }, end))
}

/// Iterator over the chunks of an SDES packet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    body: &'a [u8],
    pos: usize,
    remaining: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        // The packet was validated when parsed, so this only fails for a hand-made view; stop then.
        let (chunk, next) = read_chunk(self.body, self.pos).ok()?;
        self.pos = next;
        Some(chunk)
    }
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The SSRC or CSRC described.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The items, in packet order.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    /// The value of the first CNAME item, if any.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|i| i.kind == SdesItemType::Cname)
            .map(|i| i.value)
    }
}

/// Iterator over the items of an SDES chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let (value, rest) = rest.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some(SdesItem {
            kind: SdesItemType::from_u8(kind),
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::read_frame;
    use super::*;

    fn parse(packet: &[u8]) -> Result<SourceDescription<'_>, RtcpError> {
        SourceDescription::parse(&read_frame(packet, 0)?)
    }

    #[test]
    fn reads_cname_and_tool_items() {
        // SC=1, length 3 words: SSRC, CNAME "ab", TOOL "x", null terminator.
        let packet = [0x81, 202, 0, 3, 0, 0, 0, 9, 1, 2, b'a', b'b', 6, 1, b'x', 0];
        let sdes = parse(&packet).unwrap();
        let chunk = sdes.chunks().next().unwrap();
        assert_eq!(chunk.ssrc(), 9);
        assert_eq!(chunk.cname(), Some(&b"ab"[..]));
        let items: Vec<_> = chunk.items().collect();
        assert_eq!(
            items,
            vec![
                SdesItem::new(SdesItemType::Cname, b"ab"),
                SdesItem::new(SdesItemType::Tool, b"x")
            ]
        );
    }

    #[test]
    fn reads_chunk_without_items() {
        let packet = [
            0x82, 202, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0,
        ];
        let sdes = parse(&packet).unwrap();
        let chunks: Vec<_> = sdes.chunks().collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].items().count(), 0);
        assert_eq!(chunks[1].items().next().unwrap().value, b"");
    }

    #[test]
    fn rejects_item_running_past_packet() {
        let packet = [0x81, 202, 0, 2, 0, 0, 0, 9, 1, 9, b'a', b'b'];
        let err = parse(&packet).unwrap_err();
        assert_eq!(err.offset, 4 + 6);
    }

    #[test]
    fn rejects_missing_null_terminator() {
        let packet = [0x81, 202, 0, 2, 0, 0, 0, 9, 1, 2, b'a', b'b'];
        let err = parse(&packet).unwrap_err();
        assert_eq!(err.offset, 12);
        assert_eq!(err.expected, "SDES item type or null terminator");
    }

    #[test]
    fn rejects_non_null_padding_after_terminator() {
        let packet = [0x81, 202, 0, 2, 0, 0, 0, 9, 1, 0, 0, 7];
        let err = parse(&packet).unwrap_err();
        assert_eq!(err.offset, 11);
    }

    #[test]
    fn rejects_fewer_chunks_than_source_count() {
        let packet = [0x82, 202, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0];
        assert_eq!(parse(&packet).unwrap_err().offset, 12);
    }

    #[test]
    fn rejects_bytes_after_last_chunk() {
        let packet = [0x81, 202, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse(&packet).unwrap_err().offset, 12);
    }
}
