//! Demultiplexing the protocols that share one WebRTC port (RFC 7983 §7, RFC 5761 §4).
//!
//! The first byte tells STUN, DTLS, TURN channel data and RTP/RTCP apart; for RTP/RTCP the second byte
//! (the RTP payload type with marker bit, or the RTCP packet type) tells RTCP from RTP when rtcp-mux is on.

/// What a datagram received on a muxed port carries.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// STUN (first byte 0–3).
    Stun,
    /// DTLS (first byte 20–63).
    Dtls,
    /// TURN ChannelData (first byte 64–79).
    TurnChannel,
    /// RTP (first byte 128–191, second byte not an RTCP packet type).
    Rtp,
    /// RTCP (first byte 128–191, second byte 192–223).
    Rtcp,
    /// Anything else (empty, ZRTP at 16–19, or an unassigned range): drop it.
    Unknown,
}

/// Classifies a datagram by its first bytes. Never reads past the slice.
pub fn classify(packet: &[u8]) -> PacketKind {
    match packet {
        [0..=3, ..] => PacketKind::Stun,
        [20..=63, ..] => PacketKind::Dtls,
        [64..=79, ..] => PacketKind::TurnChannel,
        // RFC 5761 §4: RTCP packet types 192–223 never collide with a dynamic RTP payload type plus marker.
        [128..=191, 192..=223, ..] => PacketKind::Rtcp,
        [128..=191, _, ..] => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_first_byte_by_the_rfc_7983_ranges() {
        for first in 0..=u8::MAX {
            let expected = match first {
                0..=3 => PacketKind::Stun,
                20..=63 => PacketKind::Dtls,
                64..=79 => PacketKind::TurnChannel,
                128..=191 => PacketKind::Rtp,
                _ => PacketKind::Unknown,
            };
            assert_eq!(classify(&[first, 96, 0, 0]), expected, "first byte {first}");
        }
    }

    #[test]
    fn tells_rtcp_from_rtp_by_the_second_byte() {
        assert_eq!(classify(&[0x80, 200]), PacketKind::Rtcp); // sender report
        assert_eq!(classify(&[0x81, 201]), PacketKind::Rtcp); // receiver report
        assert_eq!(classify(&[0x80, 192]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 223]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 0]), PacketKind::Rtp); // PCMU
        assert_eq!(classify(&[0x80, 0x80 | 111]), PacketKind::Rtp); // Opus with marker: 239
        assert_eq!(classify(&[0x80, 191]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 224]), PacketKind::Rtp);
    }

    #[test]
    fn empty_and_one_byte_rtp_range_packets_are_unknown() {
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
        assert_eq!(classify(&[0x00]), PacketKind::Stun);
    }
}
