//! RTP codecs as an SDP media section describes them (`a=rtpmap`, `a=fmtp`, RFC 3551 static payload types).

use std::fmt;

use bytestring::ByteString;

use super::Rtpmap;

/// An RTP codec: payload type, encoding name, clock rate, channels and format parameters.
///
/// Used both for what a media section offers ([`crate::sdp::MediaDescription::codecs`]) and for what a
/// local endpoint supports ([`crate::sdp::LocalMedia`]), where the payload type is only a preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codec {
    /// The RTP payload type.
    pub payload_type: u8,
    /// The encoding name (`PCMU`, `opus`, `telephone-event`).
    pub encoding_name: ByteString,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels; `None` when not written (one channel for audio).
    pub channels: Option<u16>,
    /// The `a=fmtp` parameters, verbatim.
    pub fmtp: Option<ByteString>,
}

impl Codec {
    /// A codec with no channel count and no format parameters.
    pub fn new(payload_type: u8, encoding_name: impl Into<ByteString>, clock_rate: u32) -> Self {
        Codec {
            payload_type,
            encoding_name: encoding_name.into(),
            clock_rate,
            channels: None,
            fmtp: None,
        }
    }

    /// The same codec with `channels` audio channels.
    pub fn with_channels(mut self, channels: u16) -> Self {
        self.channels = Some(channels);
        self
    }

    /// The same codec with format parameters.
    pub fn with_fmtp(mut self, fmtp: impl Into<ByteString>) -> Self {
        self.fmtp = Some(fmtp.into());
        self
    }

    /// PCMU (G.711 µ-law), static payload type 0.
    pub fn pcmu() -> Self {
        Codec::new(0, "PCMU", 8000)
    }

    /// PCMA (G.711 A-law), static payload type 8.
    pub fn pcma() -> Self {
        Codec::new(8, "PCMA", 8000)
    }

    /// RFC 4733 telephone-event at 8 kHz with events 0-15, on the usual dynamic payload type 101.
    pub fn telephone_event() -> Self {
        Codec::new(101, "telephone-event", 8000).with_fmtp("0-15")
    }

    /// Opus (RFC 7587): always `opus/48000/2`, on the usual dynamic payload type 111.
    pub fn opus() -> Self {
        Codec::new(111, "opus", 48000).with_channels(2)
    }

    pub(crate) fn from_rtpmap(r: &Rtpmap) -> Self {
        Codec {
            payload_type: r.payload_type,
            encoding_name: r.encoding_name.clone(),
            clock_rate: r.clock_rate,
            channels: r.channels,
            fmtp: None,
        }
    }

    /// The codec of an RFC 3551 static payload type, for sections that list it without `a=rtpmap`.
    pub fn from_static_payload_type(pt: u8) -> Option<Self> {
        let (name, rate, channels) = STATIC_PAYLOAD_TYPES
            .iter()
            .find(|(p, ..)| *p == pt)
            .map(|(_, n, r, c)| (*n, *r, *c))?;
        Some(Codec {
            payload_type: pt,
            encoding_name: ByteString::from_static(name),
            clock_rate: rate,
            channels,
            fmtp: None,
        })
    }

    /// Whether two codecs are the same encoding (RFC 3264 §6.1): same encoding name (case-insensitive), clock
    /// rate and channel count (absent means one). Payload types and format parameters are not compared.
    pub fn same_encoding(&self, other: &Codec) -> bool {
        self.encoding_name
            .eq_ignore_ascii_case(&other.encoding_name)
            && self.clock_rate == other.clock_rate
            && self.channels.unwrap_or(1) == other.channels.unwrap_or(1)
    }

    /// The `a=rtpmap` line for this codec.
    pub fn rtpmap(&self) -> Rtpmap {
        Rtpmap {
            payload_type: self.payload_type,
            encoding_name: self.encoding_name.clone(),
            clock_rate: self.clock_rate,
            channels: self.channels,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.encoding_name, self.clock_rate)?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// RFC 3551 §6 static payload types: (payload type, encoding name, clock rate, channels).
const STATIC_PAYLOAD_TYPES: &[(u8, &str, u32, Option<u16>)] = &[
    (0, "PCMU", 8000, None),
    (3, "GSM", 8000, None),
    (4, "G723", 8000, None),
    (5, "DVI4", 8000, None),
    (6, "DVI4", 16000, None),
    (7, "LPC", 8000, None),
    (8, "PCMA", 8000, None),
    (9, "G722", 8000, None),
    (10, "L16", 44100, Some(2)),
    (11, "L16", 44100, None),
    (12, "QCELP", 8000, None),
    (13, "CN", 8000, None),
    (14, "MPA", 90000, None),
    (15, "G728", 8000, None),
    (16, "DVI4", 11025, None),
    (17, "DVI4", 22050, None),
    (18, "G729", 8000, None),
    (25, "CelB", 90000, None),
    (26, "JPEG", 90000, None),
    (28, "nv", 90000, None),
    (31, "H261", 90000, None),
    (32, "MPV", 90000, None),
    (33, "MP2T", 90000, None),
    (34, "H263", 90000, None),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_static_payload_types() {
        assert_eq!(Codec::from_static_payload_type(0), Some(Codec::pcmu()));
        assert_eq!(
            Codec::from_static_payload_type(18).map(|c| c.encoding_name),
            Some("G729".into())
        );
        assert_eq!(Codec::from_static_payload_type(96), None);
    }

    #[test]
    fn matches_encoding_case_insensitively_and_defaults_to_one_channel() {
        let a = Codec::new(9, "G722", 8000);
        let b = Codec::new(9, "g722", 8000).with_channels(1);
        assert!(a.same_encoding(&b));
        assert!(!Codec::opus().same_encoding(&Codec::new(111, "opus", 48000)));
        assert!(
            !Codec::new(101, "telephone-event", 48000).same_encoding(&Codec::telephone_event())
        );
    }
}
