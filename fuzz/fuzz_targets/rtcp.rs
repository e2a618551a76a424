//! RTCP compound parsing: no input panics, and a compound that parses can be walked to the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_rtp_core::rtcp::{ReducedSize, RtcpCompound, RtcpPacket, RtcpWriter};

fuzz_target!(|data: &[u8]| {
    let strict = RtcpCompound::parse_with(data, ReducedSize::Reject);
    let Ok(compound) = RtcpCompound::parse(data) else {
        assert!(strict.is_err());
        return;
    };
    let mut count = 0;
    let mut out = vec![0u8; data.len() + 64];
    let mut writer = RtcpWriter::new(&mut out);
    for packet in compound.packets() {
        count += 1;
        match packet {
            RtcpPacket::SenderReport(sr) => {
                let blocks: Vec<_> = sr.report_blocks().collect();
                let _ = writer.sender_report(sr.ssrc(), &sr.sender_info(), &blocks);
            }
            RtcpPacket::ReceiverReport(rr) => {
                let blocks: Vec<_> = rr.report_blocks().collect();
                let _ = writer.receiver_report(rr.ssrc(), &blocks);
            }
            RtcpPacket::SourceDescription(sdes) => {
                for chunk in sdes.chunks() {
                    let _ = chunk.cname();
                    let _ = chunk.items().count();
                }
            }
            RtcpPacket::Goodbye(bye) => {
                let sources: Vec<u32> = bye.sources().collect();
                let _ = writer.goodbye(&sources, bye.reason());
            }
            RtcpPacket::App(app) => {
                let _ = (app.name(), app.data().len());
            }
            RtcpPacket::Nack(nack) => {
                let _ = nack.lost_sequences().count();
                let _ = writer.nack(nack.sender_ssrc(), nack.media_ssrc(), nack.pairs());
            }
            RtcpPacket::Fir(fir) => {
                let _ = fir.entries().count();
            }
            RtcpPacket::Pli(pli) => {
                let _ = writer.pli(pli.sender_ssrc, pli.media_ssrc);
            }
            RtcpPacket::Feedback(fb) => {
                let _ = fb.fci().len();
            }
            RtcpPacket::Unknown(u) => {
                let _ = u.body().len();
            }
            _ => {}
        }
    }
    assert_eq!(count, compound.packet_count());
    if let Ok(strict) = strict {
        assert_eq!(strict.packet_count(), count);
    }
});
