//! Packets captured on loopback from an independent implementation: FFmpeg 5.1's RTP muxer (libavformat),
//! sending a 440 Hz tone as PCMU (`-c:a pcm_mulaw -payload_type 0 -ssrc 305419896`, `pkt_size=172`) and as
//! Opus (`-c:a libopus -payload_type 111 -ssrc 1164413355`), received with a UDP socket and kept byte for byte.

use std::time::Instant;

use tandem_rtp_core::rtcp::{RtcpCompound, RtcpPacket};
use tandem_rtp_core::rtp::{ReceptionStats, RtpPacket, SequenceCheck};

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// The first PCMU packet: 12-byte header and 160 µ-law samples.
const PCMU_FIRST: &str = "800000af7b510c1412345678ffc8bab3afafb2b9c6ef4a3b332f2f32394467ccbcb4b0afb2b8c2df4d3c35302f313740\
     5bd0bdb5b0afb1b6bfd7533e36302f30363e53d7bfb6b1afb0b5bdd05b4037312f30353c4ddfc2b8b2afb0b4bccc6744\
     39322f2f333b4aefc6b9b2afafb3bac8ff483a332f2f3239466fcabbb3afafb2b9c4e74c3c34302f3138425fcebcb5b0\
     afb1b7c0db503d35302f31363f57d3beb6b0afb0b6bed3573f36312f";

/// The 12-byte headers of all 55 PCMU packets, in arrival order.
const PCMU_HEADERS: [&str; 55] = [
    "800000af7b510c1412345678",
    "800000b07b510cb412345678",
    "800000b17b510d5412345678",
    "800000b27b510df412345678",
    "800000b37b510e9412345678",
    "800000b47b510f3412345678",
    "800000b57b510fd412345678",
    "800000b67b51101412345678",
    "800000b77b5110b412345678",
    "800000b87b51115412345678",
    "800000b97b5111f412345678",
    "800000ba7b51129412345678",
    "800000bb7b51133412345678",
    "800000bc7b5113d412345678",
    "800000bd7b51141412345678",
    "800000be7b5114b412345678",
    "800000bf7b51155412345678",
    "800000c07b5115f412345678",
    "800000c17b51169412345678",
    "800000c27b51173412345678",
    "800000c37b5117d412345678",
    "800000c47b51181412345678",
    "800000c57b5118b412345678",
    "800000c67b51195412345678",
    "800000c77b5119f412345678",
    "800000c87b511a9412345678",
    "800000c97b511b3412345678",
    "800000ca7b511bd412345678",
    "800000cb7b511c1412345678",
    "800000cc7b511cb412345678",
    "800000cd7b511d5412345678",
    "800000ce7b511df412345678",
    "800000cf7b511e9412345678",
    "800000d07b511f3412345678",
    "800000d17b511fd412345678",
    "800000d27b51201412345678",
    "800000d37b5120b412345678",
    "800000d47b51215412345678",
    "800000d57b5121f412345678",
    "800000d67b51229412345678",
    "800000d77b51233412345678",
    "800000d87b5123d412345678",
    "800000d97b51241412345678",
    "800000da7b5124b412345678",
    "800000db7b51255412345678",
    "800000dc7b5125f412345678",
    "800000dd7b51269412345678",
    "800000de7b51273412345678",
    "800000df7b5127d412345678",
    "800000e07b51281412345678",
    "800000e17b5128b412345678",
    "800000e27b51295412345678",
    "800000e37b5129f412345678",
    "800000e47b512a9412345678",
    "800000e57b512b3412345678",
];

/// The RTCP packet FFmpeg sent on the RTCP port for the PCMU stream: a lone SR, sent before the first RTP
/// packet (zero packet and octet counts).
const PCMU_SENDER_REPORT: &str = "80c8000612345678eeb2edca3d70a3d77b510c140000000000000000";

/// The first Opus packet (FFmpeg sets the marker bit on every Opus packet).
const OPUS_FIRST: &str = "80ef0ebdc9f7aff4456789ab7881a7b76c9e99ac0000045bb88eb3dc72f53e56677c429328783c61ae61313a53c4eec2\
     5d9a136b320ce60409a8fee44ecbaa5a53583f9913e928f1b0e995dde57f023f31395dbcbf2e5cafad5ff138b2c84894\
     80d8862c04";

/// The SR sent for the Opus stream.
const OPUS_SENDER_REPORT: &str = "80c80006456789abeeb2edd5efdf3b64c9f7b0240000000000000000";

const PCMU_SSRC: u32 = 305_419_896;
const OPUS_SSRC: u32 = 1_164_413_355;

#[test]
fn parses_ffmpeg_pcmu_packet() {
    let bytes = hex(PCMU_FIRST);
    let packet = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(packet.payload_type(), 0);
    assert_eq!(packet.ssrc(), PCMU_SSRC);
    assert!(!packet.marker() && !packet.has_padding() && packet.extension().is_none());
    assert_eq!(packet.csrc_count(), 0);
    // pkt_size=172 leaves 160 bytes of payload after the 12-byte header.
    assert_eq!(packet.payload().len(), 172 - 12);
}

#[test]
fn ffmpeg_pcmu_stream_is_complete_and_in_order() {
    let headers: Vec<Vec<u8>> = PCMU_HEADERS.iter().map(|h| hex(h)).collect();
    let packets: Vec<RtpPacket<'_>> = headers
        .iter()
        .map(|h| RtpPacket::parse(h).unwrap())
        .collect();
    let mut stats = ReceptionStats::new(PCMU_SSRC);
    let mut checks = Vec::new();
    for p in &packets {
        assert_eq!(p.ssrc(), PCMU_SSRC);
        checks.push(stats.on_packet(p.sequence_number(), p.timestamp(), p.timestamp()));
    }
    assert_eq!(checks[0], SequenceCheck::Probation);
    assert!(
        checks[1..]
            .iter()
            .all(|c| matches!(c, SequenceCheck::Valid { .. }))
    );
    for pair in packets.windows(2) {
        assert!(tandem_rtp_core::rtp::timestamp_is_newer(
            pair[1].timestamp(),
            pair[0].timestamp()
        ));
    }
    let block = stats.report_block(Instant::now()).unwrap();
    let last = packets.last().unwrap().sequence_number();
    assert_eq!(block.extended_highest_seq, u32::from(last));
    // The probation packet is not counted (RFC 3550 A.1), so every other packet is expected and received.
    assert_eq!(stats.expected() as usize, packets.len() - 1);
    assert_eq!((block.cumulative_lost, block.fraction_lost), (0, 0));
    // Arrival stamped with the RTP timestamp itself: no transit variation, no jitter.
    assert_eq!(block.jitter, 0);
}

fn lone_sender_report(hex_text: &str, ssrc: u32) -> (u32, u64, u32, u32) {
    let bytes = hex(hex_text);
    let compound = RtcpCompound::parse(&bytes).unwrap();
    assert!(!compound.is_reduced_size());
    let packets: Vec<_> = compound.packets().collect();
    let [RtcpPacket::SenderReport(sr)] = packets[..] else {
        panic!("expected one SR, got {packets:?}");
    };
    assert_eq!(sr.ssrc(), ssrc);
    assert_eq!(sr.report_blocks().len(), 0);
    let info = sr.sender_info();
    (
        info.rtp_timestamp,
        info.ntp_time.0,
        info.packet_count,
        info.octet_count,
    )
}

#[test]
fn parses_ffmpeg_sender_report_for_pcmu() {
    let (rtp_timestamp, ntp, packets, octets) = lone_sender_report(PCMU_SENDER_REPORT, PCMU_SSRC);
    // Sent before any RTP packet: nothing counted yet, and the RTP timestamp is the first packet's.
    assert_eq!((packets, octets), (0, 0));
    let first = hex(PCMU_FIRST);
    assert_eq!(rtp_timestamp, RtpPacket::parse(&first).unwrap().timestamp());
    // The NTP time is a wall-clock time after 2020-01-01.
    let after_2020 = (1_577_836_800 + tandem_rtp_core::rtcp::NtpTime::UNIX_EPOCH_OFFSET_SECS) << 32;
    assert!(ntp > after_2020);
}

#[test]
fn parses_ffmpeg_opus_packet_and_sender_report() {
    let bytes = hex(OPUS_FIRST);
    let packet = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(packet.payload_type(), 111);
    assert_eq!(packet.ssrc(), OPUS_SSRC);
    assert!(packet.marker());
    assert_eq!(packet.payload().len(), bytes.len() - 12);
    let (rtp_timestamp, _, _, _) = lone_sender_report(OPUS_SENDER_REPORT, OPUS_SSRC);
    // The SR's RTP time falls within one 20 ms Opus frame (960 ticks at 48 kHz) of the first packet.
    let delta = tandem_rtp_core::rtp::timestamp_delta(rtp_timestamp, packet.timestamp());
    assert!(delta.unsigned_abs() <= 960, "delta {delta}");
}
