//! Feedback messages (RFC 4585 §6): generic NACK, PLI, and FIR (RFC 5104 §4.3.1); other formats as raw FCI.

use super::error::RtcpError;
use super::header::{Frame, PAYLOAD_FEEDBACK, TRANSPORT_FEEDBACK, be_u32};

/// FMT of a generic NACK in a transport-layer feedback message.
pub const FMT_NACK: u8 = 1;
/// FMT of a picture loss indication in a payload-specific feedback message.
pub const FMT_PLI: u8 = 1;
/// FMT of a full intra request in a payload-specific feedback message.
pub const FMT_FIR: u8 = 4;

/// Sender and media SSRC, the start of every feedback message.
fn ssrcs_and_fci<'a>(frame: &Frame<'a>) -> Result<(u32, u32, &'a [u8]), RtcpError> {
    let (head, fci) = frame
        .body
        .split_first_chunk::<8>()
        .ok_or(RtcpError::malformed(
            frame.offset + 2,
            "length for sender and media SSRC",
        ))?;
    Ok((be_u32(head, 0), be_u32(head, 4), fci))
}

/// Sender and media SSRC, then a non-empty FCI of whole `entry_len`-byte entries (NACK, FIR).
fn ssrcs_and_entries<'a>(
    frame: &Frame<'a>,
    entry_len: usize,
    expected: &'static str,
) -> Result<(u32, u32, &'a [u8]), RtcpError> {
    let (sender_ssrc, media_ssrc, fci) = ssrcs_and_fci(frame)?;
    if fci.is_empty() || !fci.len().is_multiple_of(entry_len) {
        return Err(RtcpError::malformed(frame.body_offset(8), expected));
    }
    Ok((sender_ssrc, media_ssrc, fci))
}

/// One generic NACK entry: a lost packet and a bitmask of the 16 packets after it that are lost too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NackPair {
    /// Sequence number of a lost packet (PID).
    pub packet_id: u16,
    /// Bit i set means packet `packet_id + i + 1` is lost too (BLP).
    pub lost_bitmask: u16,
}

impl NackPair {
    /// Every sequence number this entry reports lost, in order.
    pub fn lost(self) -> impl Iterator<Item = u16> {
        let following = (0..16u16)
            .filter(move |i| self.lost_bitmask & (1 << i) != 0)
            .map(move |i| self.packet_id.wrapping_add(i + 1));
        std::iter::once(self.packet_id).chain(following)
    }

    /// Packs lost sequence numbers (ascending in serial order, wrap allowed) into as few entries as that order
    /// allows. Duplicates of the last seen number are skipped; a number outside the current entry's 16-packet
    /// window starts a new entry.
    pub fn pack<I: IntoIterator<Item = u16>>(lost: I) -> PackedNacks<I::IntoIter> {
        PackedNacks {
            lost: lost.into_iter(),
            current: None,
        }
    }
}

/// Iterator returned by [`NackPair::pack`].
#[derive(Debug, Clone)]
pub struct PackedNacks<I> {
    lost: I,
    current: Option<NackPair>,
}

impl<I: Iterator<Item = u16>> Iterator for PackedNacks<I> {
    type Item = NackPair;

    fn next(&mut self) -> Option<NackPair> {
        for seq in self.lost.by_ref() {
            let Some(pair) = self.current.as_mut() else {
                self.current = Some(NackPair {
                    packet_id: seq,
                    lost_bitmask: 0,
                });
                continue;
            };
            match seq.wrapping_sub(pair.packet_id) {
                0 => {}
                d @ 1..=16 => pair.lost_bitmask |= 1 << (d - 1),
                _ => {
                    let done = *pair;
                    self.current = Some(NackPair {
                        packet_id: seq,
                        lost_bitmask: 0,
                    });
                    return Some(done);
                }
            }
        }
        self.current.take()
    }
}

/// A parsed generic NACK (RTPFB, FMT 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    sender_ssrc: u32,
    media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Nack<'a> {
    pub(crate) fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        let (sender_ssrc, media_ssrc, fci) =
            ssrcs_and_entries(frame, 4, "one or more 4-byte NACK entries")?;
        Ok(Nack {
            sender_ssrc,
            media_ssrc,
            fci,
        })
    }

    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        self.sender_ssrc
    }

    /// SSRC of the media source the NACK is about.
    pub fn media_ssrc(&self) -> u32 {
        self.media_ssrc
    }

    /// The PID/BLP entries.
    pub fn pairs(&self) -> impl ExactSizeIterator<Item = NackPair> + 'a {
        self.fci.as_chunks::<4>().0.iter().map(|c| NackPair {
            packet_id: u16::from_be_bytes([c[0], c[1]]),
            lost_bitmask: u16::from_be_bytes([c[2], c[3]]),
        })
    }

    /// Every sequence number reported lost, entry by entry.
    pub fn lost_sequences(&self) -> impl Iterator<Item = u16> + 'a {
        self.pairs().flat_map(NackPair::lost)
    }
}

/// A parsed picture loss indication (PSFB, FMT 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pli {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source whose picture was lost.
    pub media_ssrc: u32,
}

impl Pli {
    pub(crate) fn parse(frame: &Frame<'_>) -> Result<Self, RtcpError> {
        let (sender_ssrc, media_ssrc, fci) = ssrcs_and_fci(frame)?;
        if !fci.is_empty() {
            return Err(RtcpError::malformed(
                frame.body_offset(8),
                "end of a PLI (length 2)",
            ));
        }
        Ok(Pli {
            sender_ssrc,
            media_ssrc,
        })
    }
}

/// One FIR entry: the media sender asked for a decoder refresh and the request's sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FirEntry {
    /// SSRC of the media sender asked to send a decoder refresh point.
    pub ssrc: u32,
    /// Command sequence number, incremented per new request.
    pub seq_nr: u8,
}

/// A parsed full intra request (PSFB, FMT 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    sender_ssrc: u32,
    media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Fir<'a> {
    pub(crate) fn parse(frame: &Frame<'a>) -> Result<Self, RtcpError> {
        let (sender_ssrc, media_ssrc, fci) =
            ssrcs_and_entries(frame, 8, "one or more 8-byte FIR entries")?;
        Ok(Fir {
            sender_ssrc,
            media_ssrc,
            fci,
        })
    }

    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        self.sender_ssrc
    }

    /// The media source field (0 per RFC 5104; the entries name the media senders).
    pub fn media_ssrc(&self) -> u32 {
        self.media_ssrc
    }

    /// The FIR entries.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = FirEntry> + 'a {
        self.fci.as_chunks::<8>().0.iter().map(|c| FirEntry {
            ssrc: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            seq_nr: c[4],
        })
    }
}

/// Which family a feedback message belongs to, by packet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedbackKind {
    /// RTPFB (205): transport-layer feedback.
    Transport,
    /// PSFB (206): payload-specific feedback.
    PayloadSpecific,
}

impl FeedbackKind {
    pub(crate) fn packet_type(self) -> u8 {
        match self {
            FeedbackKind::Transport => TRANSPORT_FEEDBACK,
            FeedbackKind::PayloadSpecific => PAYLOAD_FEEDBACK,
        }
    }
}

/// A feedback message of a format this crate does not interpret (transport-wide CC, REMB, SLI, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feedback<'a> {
    kind: FeedbackKind,
    fmt: u8,
    sender_ssrc: u32,
    media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Feedback<'a> {
    pub(crate) fn parse(frame: &Frame<'a>, kind: FeedbackKind) -> Result<Self, RtcpError> {
        let (sender_ssrc, media_ssrc, fci) = ssrcs_and_fci(frame)?;
        Ok(Feedback {
            kind,
            fmt: frame.count,
            sender_ssrc,
            media_ssrc,
            fci,
        })
    }

    /// Transport-layer or payload-specific.
    pub fn kind(&self) -> FeedbackKind {
        self.kind
    }

    /// The 5-bit feedback message type.
    pub fn fmt(&self) -> u8 {
        self.fmt
    }

    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        self.sender_ssrc
    }

    /// SSRC of the media source.
    pub fn media_ssrc(&self) -> u32 {
        self.media_ssrc
    }

    /// The feedback control information, uninterpreted.
    pub fn fci(&self) -> &'a [u8] {
        self.fci
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_pid_and_bitmask_to_lost_sequences() {
        let pair = NackPair {
            packet_id: 65534,
            lost_bitmask: 0b1000_0000_0000_0101,
        };
        assert_eq!(pair.lost().collect::<Vec<_>>(), vec![65534, 65535, 1, 14]);
    }

    #[test]
    fn packs_lost_sequences_across_wrap() {
        let lost = [65530u16, 65531, 65535, 0, 10, 11, 11, 200];
        let pairs: Vec<_> = NackPair::pack(lost).collect();
        assert_eq!(
            pairs,
            vec![
                NackPair {
                    packet_id: 65530,
                    lost_bitmask: (1 << 0) | (1 << 4) | (1 << 5) | (1 << 15),
                },
                NackPair {
                    packet_id: 11,
                    lost_bitmask: 0,
                },
                NackPair {
                    packet_id: 200,
                    lost_bitmask: 0,
                },
            ]
        );
        let expanded: Vec<u16> = pairs.into_iter().flat_map(NackPair::lost).collect();
        assert_eq!(expanded, vec![65530, 65531, 65535, 0, 10, 11, 200]);
    }

    #[test]
    fn packs_nothing_from_no_losses() {
        assert_eq!(NackPair::pack([]).count(), 0);
    }
}
