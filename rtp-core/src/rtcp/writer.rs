//! Building compound RTCP packets into a caller's buffer, without allocating.

use std::time::Instant;

use super::error::RtcpError;
use super::feedback::{FMT_FIR, FMT_NACK, FMT_PLI, FeedbackKind, FirEntry, NackPair};
use super::header::{
    APP, GOODBYE, HEADER_LEN, PAYLOAD_FEEDBACK, RECEIVER_REPORT, SENDER_REPORT, SOURCE_DESCRIPTION,
    TRANSPORT_FEEDBACK,
};
use super::report_block::{REPORT_BLOCK_LEN, ReportBlock};
use super::sdes::{SdesItem, SdesItemType};
use super::sender_report::SenderInfo;
use crate::rtp::ReceptionStats;

/// Most report blocks, sources, chunks or a subtype the 5-bit count field holds.
const MAX_COUNT: usize = 31;

/// Appends RTCP packets, one call per packet, into a caller-supplied buffer.
///
/// A call that fails (buffer too small, value out of range) leaves the buffer as it was before the call, so a
/// caller may stop at the first failure and send what was written. The writer does not enforce compound rules
/// (SR/RR first, CNAME present); [`RtcpCompound::parse`](super::RtcpCompound::parse) checks them on the
/// receiving side.
#[derive(Debug)]
pub struct RtcpWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    last_start: Option<usize>,
    /// Set once the last packet is padded: nothing may follow it.
    padded: bool,
}

impl<'b> RtcpWriter<'b> {
    /// A writer appending at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        RtcpWriter {
            buf,
            len: 0,
            last_start: None,
            padded: false,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Bytes still free in the buffer.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Appends `bytes` or fails without writing.
    fn put(&mut self, bytes: &[u8]) -> Result<(), RtcpError> {
        let end = self.len + bytes.len();
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(RtcpError::buffer_too_small(self.len, end))?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Runs `body` as one packet of type `packet_type`: reserves the header, lets `body` append, then fills in
    /// the header with the count `body` returns. Rolls back on any failure.
    fn packet(
        &mut self,
        packet_type: u8,
        body: impl FnOnce(&mut Self) -> Result<u8, RtcpError>,
    ) -> Result<(), RtcpError> {
        let start = self.len;
        if self.padded {
            return Err(RtcpError::invalid(
                start,
                "no packet after the padded last packet",
            ));
        }
        let result = self
            .put(&[0; HEADER_LEN])
            .and_then(|()| body(self))
            .and_then(|count| self.finish_header(start, packet_type, count, false));
        match result {
            Ok(()) => {
                self.last_start = Some(start);
                Ok(())
            }
            Err(e) => {
                self.len = start;
                Err(e)
            }
        }
    }

    fn finish_header(
        &mut self,
        start: usize,
        packet_type: u8,
        count: u8,
        padding: bool,
    ) -> Result<(), RtcpError> {
        let len = self.len - start;
        // Every body is written in whole 32-bit words, so `len` is a multiple of 4.
        let words = u16::try_from(len / 4 - 1)
            .map_err(|_| RtcpError::invalid(start + 2, "packet of at most 65536 words"))?;
        let first = 0x80 | (u8::from(padding) << 5) | (count & 0x1f);
        let [hi, lo] = words.to_be_bytes();
        if let Some(header) = self.buf.get_mut(start..start + HEADER_LEN) {
            header.copy_from_slice(&[first, packet_type, hi, lo]);
        }
        Ok(())
    }

    fn count(n: usize, offset: usize, expected: &'static str) -> Result<u8, RtcpError> {
        if n > MAX_COUNT {
            return Err(RtcpError::invalid(offset, expected));
        }
        Ok(n as u8)
    }

    /// Appends a sender report with up to 31 report blocks.
    pub fn sender_report(
        &mut self,
        ssrc: u32,
        info: &SenderInfo,
        blocks: &[ReportBlock],
    ) -> Result<(), RtcpError> {
        let count = Self::count(blocks.len(), self.len, "at most 31 report blocks")?;
        self.packet(SENDER_REPORT, |w| {
            w.put(&ssrc.to_be_bytes())?;
            w.put(&info.encode())?;
            blocks.iter().try_for_each(|b| w.put(&b.encode()))?;
            Ok(count)
        })
    }

    /// Appends a receiver report with up to 31 report blocks.
    pub fn receiver_report(&mut self, ssrc: u32, blocks: &[ReportBlock]) -> Result<(), RtcpError> {
        let count = Self::count(blocks.len(), self.len, "at most 31 report blocks")?;
        self.packet(RECEIVER_REPORT, |w| {
            w.put(&ssrc.to_be_bytes())?;
            blocks.iter().try_for_each(|b| w.put(&b.encode()))?;
            Ok(count)
        })
    }

    /// Appends an SDES packet with up to 31 chunks, each a source and its items (values at most 255 bytes).
    pub fn source_description(
        &mut self,
        chunks: &[(u32, &[SdesItem<'_>])],
    ) -> Result<(), RtcpError> {
        let count = Self::count(chunks.len(), self.len, "at most 31 SDES chunks")?;
        let offset = self.len;
        let bad_item = |i: &SdesItem<'_>| i.value.len() > 255 || i.kind == SdesItemType::Other(0);
        if chunks
            .iter()
            .flat_map(|(_, items)| items.iter())
            .any(bad_item)
        {
            return Err(RtcpError::invalid(
                offset,
                "SDES items of a non-zero type and at most 255 bytes",
            ));
        }
        self.packet(SOURCE_DESCRIPTION, |w| {
            for (ssrc, items) in chunks {
                w.put(&ssrc.to_be_bytes())?;
                let mut chunk_len = 4;
                for item in *items {
                    w.put(&[item.kind.as_u8(), item.value.len() as u8])?;
                    w.put(item.value)?;
                    chunk_len += 2 + item.value.len();
                }
                // A null octet ends the items, then null octets up to the next 32-bit boundary.
                let padded = (chunk_len + 1).next_multiple_of(4);
                w.put(&[0; 4][..padded - chunk_len])?;
            }
            Ok(count)
        })
    }

    /// Appends an SDES packet with one chunk holding only a CNAME, the minimum every compound carries.
    pub fn cname(&mut self, ssrc: u32, cname: &[u8]) -> Result<(), RtcpError> {
        let items = [SdesItem::new(SdesItemType::Cname, cname)];
        self.source_description(&[(ssrc, &items)])
    }

    /// Appends a BYE for up to 31 sources with an optional reason (at most 255 bytes).
    pub fn goodbye(&mut self, sources: &[u32], reason: Option<&[u8]>) -> Result<(), RtcpError> {
        let count = Self::count(sources.len(), self.len, "at most 31 BYE sources")?;
        if reason.is_some_and(|r| r.len() > 255) {
            return Err(RtcpError::invalid(
                self.len,
                "BYE reason of at most 255 bytes",
            ));
        }
        self.packet(GOODBYE, |w| {
            sources.iter().try_for_each(|s| w.put(&s.to_be_bytes()))?;
            if let Some(reason) = reason {
                w.put(&[reason.len() as u8])?;
                w.put(reason)?;
                let used = 1 + reason.len();
                w.put(&[0; 3][..used.next_multiple_of(4) - used])?;
            }
            Ok(count)
        })
    }

    /// Appends an APP packet; `subtype` is 0–31 and `data` a whole number of 32-bit words.
    pub fn app(
        &mut self,
        subtype: u8,
        ssrc: u32,
        name: [u8; 4],
        data: &[u8],
    ) -> Result<(), RtcpError> {
        let count = Self::count(usize::from(subtype), self.len, "APP subtype 0-31")?;
        if !data.len().is_multiple_of(4) {
            return Err(RtcpError::invalid(
                self.len,
                "APP data of whole 32-bit words",
            ));
        }
        self.packet(APP, |w| {
            w.put(&ssrc.to_be_bytes())?;
            w.put(&name)?;
            w.put(data)?;
            Ok(count)
        })
    }

    /// Appends a generic NACK carrying `pairs` (build them from lost sequence numbers with
    /// [`NackPair::pack`]); at least one pair.
    pub fn nack(
        &mut self,
        sender_ssrc: u32,
        media_ssrc: u32,
        pairs: impl IntoIterator<Item = NackPair>,
    ) -> Result<(), RtcpError> {
        let offset = self.len;
        self.packet(TRANSPORT_FEEDBACK, |w| {
            w.put(&sender_ssrc.to_be_bytes())?;
            w.put(&media_ssrc.to_be_bytes())?;
            let mut any = false;
            for pair in pairs {
                w.put(&pair.packet_id.to_be_bytes())?;
                w.put(&pair.lost_bitmask.to_be_bytes())?;
                any = true;
            }
            if !any {
                return Err(RtcpError::invalid(offset, "at least one NACK entry"));
            }
            Ok(FMT_NACK)
        })
    }

    /// Appends a picture loss indication.
    pub fn pli(&mut self, sender_ssrc: u32, media_ssrc: u32) -> Result<(), RtcpError> {
        self.packet(PAYLOAD_FEEDBACK, |w| {
            w.put(&sender_ssrc.to_be_bytes())?;
            w.put(&media_ssrc.to_be_bytes())?;
            Ok(FMT_PLI)
        })
    }

    /// Appends a full intra request with at least one entry (media source field 0, per RFC 5104).
    pub fn fir(&mut self, sender_ssrc: u32, entries: &[FirEntry]) -> Result<(), RtcpError> {
        if entries.is_empty() {
            return Err(RtcpError::invalid(self.len, "at least one FIR entry"));
        }
        self.packet(PAYLOAD_FEEDBACK, |w| {
            w.put(&sender_ssrc.to_be_bytes())?;
            w.put(&0u32.to_be_bytes())?;
            for e in entries {
                w.put(&e.ssrc.to_be_bytes())?;
                w.put(&[e.seq_nr, 0, 0, 0])?;
            }
            Ok(FMT_FIR)
        })
    }

    /// Appends a feedback message of any format with raw FCI (a whole number of 32-bit words).
    pub fn feedback(
        &mut self,
        kind: FeedbackKind,
        fmt: u8,
        sender_ssrc: u32,
        media_ssrc: u32,
        fci: &[u8],
    ) -> Result<(), RtcpError> {
        let fmt = Self::count(usize::from(fmt), self.len, "feedback FMT 0-31")?;
        if !fci.len().is_multiple_of(4) {
            return Err(RtcpError::invalid(self.len, "FCI of whole 32-bit words"));
        }
        self.packet(kind.packet_type(), |w| {
            w.put(&sender_ssrc.to_be_bytes())?;
            w.put(&media_ssrc.to_be_bytes())?;
            w.put(fci)?;
            Ok(fmt)
        })
    }

    /// Pads the last packet written with `padding` octets (a non-zero multiple of 4, count octet included) and
    /// sets its padding bit, as when a cipher needs a block multiple. Call it once, after the last packet.
    pub fn pad_last_packet(&mut self, padding: u8) -> Result<(), RtcpError> {
        let Some(start) = self.last_start else {
            return Err(RtcpError::invalid(0, "a packet before the padding"));
        };
        if padding == 0 || !padding.is_multiple_of(4) {
            return Err(RtcpError::invalid(
                self.len,
                "padding of a non-zero multiple of 4",
            ));
        }
        let header = self
            .buf
            .get(start..start + HEADER_LEN)
            .and_then(|h| h.first_chunk::<HEADER_LEN>())
            .copied()
            .unwrap_or_default();
        let before = self.len;
        self.put(&[0; 255][..usize::from(padding) - 1])?;
        self.put(&[padding])?;
        match self.finish_header(start, header[1], header[0] & 0x1f, true) {
            Ok(()) => {
                self.padded = true;
                Ok(())
            }
            Err(e) => {
                self.len = before;
                Err(e)
            }
        }
    }

    /// Appends the reports of a participant: an SR when `sender` is given, else an RR, with one report block per
    /// source that has received valid packets, continued in further RRs past 31 blocks (RFC 3550 §6.4).
    ///
    /// Sources are taken in order while the buffer has room; a source whose block does not fit is left
    /// untouched (its loss interval keeps running to the next report). Returns the number of blocks written.
    pub fn reports<'s>(
        &mut self,
        ssrc: u32,
        sender: Option<&SenderInfo>,
        sources: impl IntoIterator<Item = &'s mut ReceptionStats>,
        now: Instant,
    ) -> Result<usize, RtcpError> {
        let mut sources = sources.into_iter().peekable();
        let mut total = 0;
        let mut first = true;
        loop {
            let packet_type = match (first, sender) {
                (true, Some(_)) => SENDER_REPORT,
                _ => RECEIVER_REPORT,
            };
            let mut in_packet = 0;
            let (start, previous_last) = (self.len, self.last_start);
            self.packet(packet_type, |w| {
                w.put(&ssrc.to_be_bytes())?;
                if let (SENDER_REPORT, Some(info)) = (packet_type, sender) {
                    w.put(&info.encode())?;
                }
                while in_packet < MAX_COUNT && w.remaining() >= REPORT_BLOCK_LEN {
                    let Some(source) = sources.next() else { break };
                    if let Some(block) = source.report_block(now) {
                        w.put(&block.encode())?;
                        in_packet += 1;
                    }
                }
                Ok(in_packet as u8)
            })?;
            if !first && in_packet == 0 {
                // The remaining sources had nothing to report: drop the empty continuation RR.
                self.len = start;
                self.last_start = previous_last;
                return Ok(total);
            }
            total += in_packet;
            first = false;
            // Another RR only when a full packet left sources over and there is room for at least one block.
            let room = self.remaining() >= HEADER_LEN + 4 + REPORT_BLOCK_LEN;
            if in_packet < MAX_COUNT || !room || sources.peek().is_none() {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::compound::{RtcpCompound, RtcpPacket};
    use super::super::error::RtcpErrorKind;
    use super::super::report_block::NtpTime;
    use super::*;

    #[test]
    fn writes_sender_report_bytes() {
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        let info = SenderInfo {
            ntp_time: NtpTime(0x0102_0304_0506_0708),
            rtp_timestamp: 0x0a0b_0c0d,
            packet_count: 3,
            octet_count: 480,
        };
        let block = ReportBlock {
            ssrc: 0x99,
            fraction_lost: 0x40,
            cumulative_lost: -1,
            extended_highest_seq: 0x0001_0005,
            jitter: 17,
            last_sr: 0xaabb_ccdd,
            delay_since_last_sr: 0x0001_8000,
        };
        w.sender_report(0x1234_5678, &info, &[block]).unwrap();
        let expected: Vec<u8> = [
            &[0x81, 200, 0, 12][..],
            &[0x12, 0x34, 0x56, 0x78],
            &[
                1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0, 0, 3, 0, 0, 1, 0xe0,
            ],
            &[
                0, 0, 0, 0x99, 0x40, 0xff, 0xff, 0xff, 0, 1, 0, 5, 0, 0, 0, 17,
            ],
            &[0xaa, 0xbb, 0xcc, 0xdd, 0, 1, 0x80, 0],
        ]
        .concat();
        assert_eq!(w.written(), &expected[..]);
    }

    #[test]
    fn writes_goodbye_reason_padded_to_a_word() {
        let mut buf = [0xffu8; 32];
        let mut w = RtcpWriter::new(&mut buf);
        w.goodbye(&[7], Some(b"bye")).unwrap();
        assert_eq!(
            w.written(),
            &[0x81, 203, 0, 2, 0, 0, 0, 7, 3, b'b', b'y', b'e']
        );
        let mut w = RtcpWriter::new(&mut buf);
        w.goodbye(&[], Some(b"ciao")).unwrap();
        assert_eq!(
            w.written(),
            &[0x80, 203, 0, 2, 4, b'c', b'i', b'a', b'o', 0, 0, 0]
        );
    }

    #[test]
    fn writes_sdes_items_with_null_terminator_and_padding() {
        let mut buf = [0xffu8; 32];
        let mut w = RtcpWriter::new(&mut buf);
        w.cname(1, b"ab").unwrap();
        assert_eq!(
            w.written(),
            &[0x81, 202, 0, 3, 0, 0, 0, 1, 1, 2, b'a', b'b', 0, 0, 0, 0]
        );
    }

    #[test]
    fn leaves_buffer_unchanged_when_a_packet_does_not_fit() {
        let mut buf = [0u8; 16];
        let mut w = RtcpWriter::new(&mut buf);
        w.receiver_report(1, &[]).unwrap();
        let err = w.pli(1, 2).unwrap_err();
        assert_eq!(err.kind, RtcpErrorKind::BufferTooSmall { needed: 8 + 12 });
        assert_eq!(w.len(), 8);
        w.goodbye(&[1], None).unwrap();
        assert!(RtcpCompound::parse(w.written()).is_ok());
    }

    #[test]
    fn rejects_32_report_blocks() {
        let mut buf = [0u8; 2048];
        let blocks = [ReportBlock::default(); 32];
        let err = RtcpWriter::new(&mut buf)
            .receiver_report(1, &blocks)
            .unwrap_err();
        assert_eq!(err.kind, RtcpErrorKind::InvalidField);
    }

    #[test]
    fn rejects_nack_without_entries() {
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        assert!(w.nack(1, 2, NackPair::pack([])).is_err());
        assert!(w.is_empty());
    }

    #[test]
    fn pads_last_packet_and_refuses_more_packets() {
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        w.receiver_report(1, &[]).unwrap();
        w.pli(1, 2).unwrap();
        w.pad_last_packet(8).unwrap();
        assert_eq!(&w.written()[8..12], &[0xa1, 206, 0, 4]);
        assert_eq!(w.len(), 8 + 12 + 8);
        assert!(w.pli(1, 2).is_err());
        let compound = RtcpCompound::parse(w.written()).unwrap();
        assert!(matches!(
            compound.packets().nth(1),
            Some(RtcpPacket::Pli(_))
        ));
    }

    #[test]
    fn rejects_padding_that_breaks_word_alignment() {
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        w.receiver_report(1, &[]).unwrap();
        assert!(w.pad_last_packet(3).is_err());
        assert_eq!(w.len(), 8);
    }

    fn valid_sources(n: u32) -> Vec<ReceptionStats> {
        (0..n)
            .map(|ssrc| {
                let mut s = ReceptionStats::with_probation(ssrc, 0);
                s.on_packet(10, 0, 0);
                s
            })
            .collect()
    }

    #[test]
    fn reports_continue_in_receiver_reports_past_31_sources() {
        let mut sources = valid_sources(40);
        let mut buf = [0u8; 1500];
        let mut w = RtcpWriter::new(&mut buf);
        let info = SenderInfo::default();
        let written = w
            .reports(0xabc, Some(&info), &mut sources, Instant::now())
            .unwrap();
        assert_eq!(written, 40);
        let compound = RtcpCompound::parse(w.written()).unwrap();
        let packets: Vec<_> = compound.packets().collect();
        let [RtcpPacket::SenderReport(sr), RtcpPacket::ReceiverReport(rr)] = packets[..] else {
            panic!("expected SR then RR, got {packets:?}");
        };
        assert_eq!(sr.report_blocks().len(), 31);
        assert_eq!(rr.report_blocks().len(), 9);
        assert_eq!(rr.ssrc(), 0xabc);
        let ssrcs: Vec<u32> = sr
            .report_blocks()
            .chain(rr.report_blocks())
            .map(|b| b.ssrc)
            .collect();
        assert_eq!(ssrcs, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn reports_skip_sources_on_probation() {
        let mut sources = valid_sources(2);
        sources.insert(1, ReceptionStats::new(99));
        let mut buf = [0u8; 256];
        let mut w = RtcpWriter::new(&mut buf);
        assert_eq!(w.reports(1, None, &mut sources, Instant::now()).unwrap(), 2);
        let compound = RtcpCompound::parse(w.written()).unwrap();
        assert_eq!(compound.packet_count(), 1);
    }

    #[test]
    fn reports_stop_when_the_buffer_is_full_and_keep_unreported_intervals() {
        let mut sources = valid_sources(3);
        // Room for the RR header, SSRC and two blocks.
        let mut buf = [0u8; 8 + 2 * 24 + 10];
        let mut w = RtcpWriter::new(&mut buf);
        assert_eq!(w.reports(1, None, &mut sources, Instant::now()).unwrap(), 2);
        // The third source's interval was not consumed: a later report still counts its packet.
        sources[2].on_packet(12, 320, 320);
        let block = sources[2].report_block(Instant::now()).unwrap();
        // Sequence 10 and 12 received, 11 lost: 1 of 3 expected.
        let (expected, received) = (3u32, 2u32);
        assert_eq!(
            u32::from(block.fraction_lost),
            (expected - received) * 256 / expected
        );
    }

    #[test]
    fn report_block_dlsr_comes_from_the_writer_clock() {
        let mut sources = valid_sources(1);
        let t0 = Instant::now();
        sources[0].on_sender_report(NtpTime(1 << 32), t0);
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        w.reports(1, None, &mut sources, t0 + Duration::from_secs(2))
            .unwrap();
        let compound = RtcpCompound::parse(w.written()).unwrap();
        let Some(RtcpPacket::ReceiverReport(rr)) = compound.packets().next() else {
            panic!("expected an RR");
        };
        let block = rr.report_blocks().next().unwrap();
        assert_eq!(
            (block.last_sr, block.delay_since_last_sr),
            (1 << 16, 2 * 65_536)
        );
    }
}
