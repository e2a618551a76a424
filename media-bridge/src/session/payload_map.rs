//! Payload type numbers across the relay: which codecs the two sides negotiated, how each side numbers them,
//! and the table the packet path uses to renumber RTP on the way through.

use tandem_rtp_core::sdp::Codec;

/// Renumbers the RTP payload type of packets received on one leg for the leg they are forwarded to.
///
/// The two sides of a call may number the same codec differently (RFC 3264 §6.1 only says *should* keep the
/// offer's numbers, and many SIP endpoints answer telephone-event as 101 whatever was offered). The relay
/// writes each side's own numbers into the SDP it sends that side and translates on the way through.
/// Lookup is one array index: no allocation, no hashing.
#[derive(Clone, PartialEq, Eq)]
pub struct PayloadMap {
    /// Target payload type per incoming one; meaningful where `known` has the bit set.
    target: [u8; 128],
    /// Bit `pt` set: `pt` belongs to a negotiated codec.
    known: u128,
}

impl PayloadMap {
    /// A map that knows no payload type.
    pub const fn empty() -> Self {
        PayloadMap {
            target: [0; 128],
            known: 0,
        }
    }

    /// The payload type to send on for a packet that arrived with `pt`, or `None` when `pt` is no negotiated
    /// codec (the packet path decides: rtpengine forwards such packets unchanged).
    pub fn translate(&self, pt: u8) -> Option<u8> {
        let bit = 1u128.checked_shl(u32::from(pt))?;
        if self.known & bit == 0 {
            return None;
        }
        self.target.get(usize::from(pt)).copied()
    }

    /// Whether `pt` belongs to a negotiated codec.
    pub fn is_negotiated(&self, pt: u8) -> bool {
        self.translate(pt).is_some()
    }

    /// Whether every negotiated payload type keeps its number.
    pub fn is_identity(&self) -> bool {
        self.entries().all(|(from, to)| from == to)
    }

    /// The (incoming, outgoing) pairs, by incoming payload type.
    pub fn entries(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        (0u8..128).filter_map(|pt| self.translate(pt).map(|to| (pt, to)))
    }

    /// Adds `from → to` unless `from` is already mapped (the first, stricter entry wins).
    pub(crate) fn insert_if_absent(&mut self, from: u8, to: u8) {
        let Some(bit) = 1u128.checked_shl(u32::from(from)) else {
            return;
        };
        if self.known & bit != 0 || to > 127 {
            return;
        }
        if let Some(slot) = self.target.get_mut(usize::from(from)) {
            *slot = to;
            self.known |= bit;
        }
    }
}

impl Default for PayloadMap {
    fn default() -> Self {
        PayloadMap::empty()
    }
}

impl std::fmt::Debug for PayloadMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.entries()).finish()
    }
}

/// A codec negotiated on one media section, with each side's number for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NegotiatedCodec {
    /// The codec as the offerer described it.
    pub(crate) codec: Codec,
    /// The offerer's payload type (what it receives, and what the relay writes in the answer to it).
    pub(crate) offerer_pt: u8,
    /// The answerer's payload type (what it receives).
    pub(crate) answerer_pt: u8,
}

/// Matches the answerer's codecs against the offerer's by encoding name, clock rate and channels, in the
/// answer's order. Codecs the answer names that the offer did not are dropped: nobody could relay them.
pub(crate) fn negotiate(offered: &[Codec], answered: &[Codec]) -> Vec<NegotiatedCodec> {
    let mut out: Vec<NegotiatedCodec> = Vec::with_capacity(answered.len());
    for a in answered {
        let matching = offered
            .iter()
            .find(|o| o.same_encoding(a) && !out.iter().any(|n| n.offerer_pt == o.payload_type));
        if let Some(o) = matching {
            if out.iter().any(|n| n.answerer_pt == a.payload_type) {
                continue;
            }
            out.push(NegotiatedCodec {
                codec: o.clone(),
                offerer_pt: o.payload_type,
                answerer_pt: a.payload_type,
            });
        }
    }
    out
}

/// The two ingress maps of a negotiated section: (offerer's leg, answerer's leg).
///
/// The offerer sends with the numbers of the answer the relay wrote for it, which are its own; they go to the
/// answerer renumbered. The answerer sends with the numbers of the offer the relay forwarded, which are the
/// offerer's, so they pass unchanged; an answerer that sends with its own numbers instead (a common SIP
/// endpoint bug) is translated too, unless its number means another codec on the offerer's side.
pub(crate) fn ingress_maps(negotiated: &[NegotiatedCodec]) -> (PayloadMap, PayloadMap) {
    let mut from_offerer = PayloadMap::empty();
    let mut from_answerer = PayloadMap::empty();
    for n in negotiated {
        from_offerer.insert_if_absent(n.offerer_pt, n.answerer_pt);
        from_answerer.insert_if_absent(n.offerer_pt, n.offerer_pt);
    }
    for n in negotiated {
        from_answerer.insert_if_absent(n.answerer_pt, n.offerer_pt);
    }
    (from_offerer, from_answerer)
}

/// A codec named in a strip or mask list: `PCMA`, `opus/48000`, `opus/48000/2`, or `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecPattern {
    name: String,
    clock_rate: Option<u32>,
    channels: Option<u16>,
}

impl CodecPattern {
    /// Parses a pattern; `None` for an empty name or unparsable numbers.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let name = parts.next().filter(|n| !n.is_empty())?.to_owned();
        let clock_rate = parts.next().map(str::parse).transpose().ok()?;
        let channels = parts.next().map(str::parse).transpose().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(CodecPattern {
            name,
            clock_rate,
            channels,
        })
    }

    /// Whether `codec` matches (`all` matches everything).
    pub(crate) fn matches(&self, codec: &Codec) -> bool {
        if self.name.eq_ignore_ascii_case("all") {
            return true;
        }
        self.name.eq_ignore_ascii_case(&codec.encoding_name)
            && self.clock_rate.is_none_or(|r| r == codec.clock_rate)
            && self
                .channels
                .is_none_or(|c| c == codec.channels.unwrap_or(1))
    }
}

/// Whether any pattern of `list` matches `codec`.
pub(crate) fn listed(list: &[CodecPattern], codec: &Codec) -> bool {
    list.iter().any(|p| p.matches(codec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn te(pt: u8) -> Codec {
        Codec::new(pt, "telephone-event", 8000)
    }

    #[test]
    fn renumbers_a_codec_both_sides_numbered_differently() {
        let offered = vec![Codec::opus(), Codec::pcmu(), te(126)];
        let answered = vec![Codec::pcmu(), te(101)];
        let negotiated = negotiate(&offered, &answered);
        assert_eq!(negotiated.len(), 2);
        let (from_offerer, from_answerer) = ingress_maps(&negotiated);
        assert_eq!(from_offerer.translate(126), Some(101));
        assert_eq!(from_offerer.translate(0), Some(0));
        assert_eq!(from_offerer.translate(111), None);
        assert_eq!(from_answerer.translate(126), Some(126));
        assert_eq!(from_answerer.translate(101), Some(126));
        assert!(!from_offerer.is_identity());
    }

    #[test]
    fn a_tolerant_entry_never_overrides_a_codec_of_the_offerer() {
        // The answerer numbers PCMA as 0, which is PCMU on the offerer's side.
        let offered = vec![Codec::pcmu(), Codec::pcma()];
        let answered = vec![Codec::new(0, "PCMA", 8000), Codec::new(8, "PCMU", 8000)];
        let (_, from_answerer) = ingress_maps(&negotiate(&offered, &answered));
        assert_eq!(from_answerer.translate(0), Some(0));
        assert_eq!(from_answerer.translate(8), Some(8));
    }

    #[test]
    fn drops_answered_codecs_that_were_never_offered() {
        let negotiated = negotiate(&[Codec::pcmu()], &[Codec::pcma(), Codec::pcmu()]);
        assert_eq!(negotiated.len(), 1);
        assert_eq!(negotiated[0].codec, Codec::pcmu());
    }

    #[test]
    fn translate_refuses_payload_types_over_127() {
        let mut map = PayloadMap::empty();
        map.insert_if_absent(200, 0);
        assert_eq!(map.translate(200), None);
        assert_eq!(map.entries().count(), 0);
    }

    #[test]
    fn patterns_match_by_name_clock_and_channels() {
        let opus = CodecPattern::parse("OPUS/48000/2").unwrap();
        assert!(opus.matches(&Codec::opus()));
        assert!(
            !CodecPattern::parse("opus/48000/1")
                .unwrap()
                .matches(&Codec::opus())
        );
        assert!(CodecPattern::parse("all").unwrap().matches(&Codec::pcma()));
        assert!(CodecPattern::parse("PCMA").unwrap().matches(&Codec::pcma()));
        assert!(CodecPattern::parse("").is_none());
        assert!(CodecPattern::parse("opus/x").is_none());
    }
}
