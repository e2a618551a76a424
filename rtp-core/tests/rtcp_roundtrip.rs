//! Property tests: every RTCP packet type written by `RtcpWriter` parses back to what was written, alone and
//! inside compounds; no input makes the compound parser panic.

use proptest::prelude::*;
use tandem_rtp_core::rtcp::{
    FMT_FIR, FMT_NACK, FMT_PLI, FeedbackKind, FirEntry, MAX_CUMULATIVE_LOST, MIN_CUMULATIVE_LOST,
    NackPair, NtpTime, ReportBlock, RtcpCompound, RtcpPacket, RtcpWriter, SdesItem, SdesItemType,
    SenderInfo,
};

/// An SDES chunk, owned: the source and its items.
type Chunk = (u32, Vec<(SdesItemType, Vec<u8>)>);

/// What to write, owned, so proptest can generate it.
#[derive(Debug, Clone)]
enum Spec {
    SenderReport(u32, SenderInfo, Vec<ReportBlock>),
    ReceiverReport(u32, Vec<ReportBlock>),
    SourceDescription(Vec<Chunk>),
    Goodbye(Vec<u32>, Option<Vec<u8>>),
    App(u8, u32, [u8; 4], Vec<u8>),
    Nack(u32, u32, Vec<NackPair>),
    Pli(u32, u32),
    Fir(u32, Vec<FirEntry>),
    Feedback(FeedbackKind, u8, u32, u32, Vec<u8>),
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        MIN_CUMULATIVE_LOST..=MAX_CUMULATIVE_LOST,
        any::<[u32; 4]>(),
    )
        .prop_map(
            |(ssrc, fraction_lost, cumulative_lost, [ext, jitter, lsr, dlsr])| ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost,
                extended_highest_seq: ext,
                jitter,
                last_sr: lsr,
                delay_since_last_sr: dlsr,
            },
        )
}

fn blocks() -> impl Strategy<Value = Vec<ReportBlock>> {
    prop::collection::vec(report_block(), 0..=31)
}

fn words(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<[u8; 4]>(), 0..max).prop_map(|w| w.concat())
}

fn sender_report() -> impl Strategy<Value = Spec> {
    (any::<u32>(), any::<[u32; 3]>(), any::<u64>(), blocks()).prop_map(
        |(ssrc, [ts, p, o], ntp, b)| {
            let info = SenderInfo {
                ntp_time: NtpTime(ntp),
                rtp_timestamp: ts,
                packet_count: p,
                octet_count: o,
            };
            Spec::SenderReport(ssrc, info, b)
        },
    )
}

fn receiver_report() -> impl Strategy<Value = Spec> {
    (any::<u32>(), blocks()).prop_map(|(ssrc, b)| Spec::ReceiverReport(ssrc, b))
}

fn source_description() -> impl Strategy<Value = Spec> {
    let item = (1u8..=255, prop::collection::vec(any::<u8>(), 0..=255))
        .prop_map(|(t, v)| (SdesItemType::from_u8(t), v));
    let chunk = (any::<u32>(), prop::collection::vec(item, 0..4));
    prop::collection::vec(chunk, 0..=6).prop_map(Spec::SourceDescription)
}

fn goodbye() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec(any::<u32>(), 0..=31),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..=255)),
    )
        .prop_map(|(s, r)| Spec::Goodbye(s, r))
}

fn app() -> impl Strategy<Value = Spec> {
    (0u8..=31, any::<u32>(), any::<[u8; 4]>(), words(20))
        .prop_map(|(st, s, n, d)| Spec::App(st, s, n, d))
}

fn nack() -> impl Strategy<Value = Spec> {
    let pair = any::<(u16, u16)>().prop_map(|(packet_id, lost_bitmask)| NackPair {
        packet_id,
        lost_bitmask,
    });
    (
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(pair, 1..20),
    )
        .prop_map(|(a, b, p)| Spec::Nack(a, b, p))
}

fn pli() -> impl Strategy<Value = Spec> {
    any::<(u32, u32)>().prop_map(|(a, b)| Spec::Pli(a, b))
}

fn fir() -> impl Strategy<Value = Spec> {
    let entry = any::<(u32, u8)>().prop_map(|(ssrc, seq_nr)| FirEntry { ssrc, seq_nr });
    (any::<u32>(), prop::collection::vec(entry, 1..8)).prop_map(|(s, e)| Spec::Fir(s, e))
}

fn other_feedback() -> impl Strategy<Value = Spec> {
    let kind = prop_oneof![
        Just(FeedbackKind::Transport),
        Just(FeedbackKind::PayloadSpecific)
    ];
    (kind, 0u8..=31, any::<u32>(), any::<u32>(), words(16))
        .prop_filter(
            "formats with their own type",
            |(kind, fmt, ..)| match kind {
                FeedbackKind::Transport => *fmt != FMT_NACK,
                FeedbackKind::PayloadSpecific => *fmt != FMT_PLI && *fmt != FMT_FIR,
            },
        )
        .prop_map(|(k, f, a, b, fci)| Spec::Feedback(k, f, a, b, fci))
}

fn any_spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        sender_report(),
        receiver_report(),
        source_description(),
        goodbye(),
        app(),
        nack(),
        pli(),
        fir(),
        other_feedback(),
    ]
}

fn write(w: &mut RtcpWriter<'_>, spec: &Spec) {
    match spec {
        Spec::SenderReport(ssrc, info, b) => w.sender_report(*ssrc, info, b),
        Spec::ReceiverReport(ssrc, b) => w.receiver_report(*ssrc, b),
        Spec::SourceDescription(chunks) => {
            let items: Vec<Vec<SdesItem<'_>>> = chunks
                .iter()
                .map(|(_, items)| items.iter().map(|(k, v)| SdesItem::new(*k, v)).collect())
                .collect();
            let chunks: Vec<(u32, &[SdesItem<'_>])> = chunks
                .iter()
                .zip(&items)
                .map(|((ssrc, _), i)| (*ssrc, &i[..]))
                .collect();
            w.source_description(&chunks)
        }
        Spec::Goodbye(sources, reason) => w.goodbye(sources, reason.as_deref()),
        Spec::App(subtype, ssrc, name, data) => w.app(*subtype, *ssrc, *name, data),
        Spec::Nack(sender, media, pairs) => w.nack(*sender, *media, pairs.iter().copied()),
        Spec::Pli(sender, media) => w.pli(*sender, *media),
        Spec::Fir(sender, entries) => w.fir(*sender, entries),
        Spec::Feedback(kind, fmt, sender, media, fci) => {
            w.feedback(*kind, *fmt, *sender, *media, fci)
        }
    }
    .unwrap();
}

/// Asserts that `packet` carries exactly what `spec` wrote.
fn check(spec: &Spec, packet: RtcpPacket<'_>) -> Result<(), TestCaseError> {
    match (spec, packet) {
        (Spec::SenderReport(ssrc, info, b), RtcpPacket::SenderReport(sr)) => {
            prop_assert_eq!(sr.ssrc(), *ssrc);
            prop_assert_eq!(sr.sender_info(), *info);
            prop_assert_eq!(&sr.report_blocks().collect::<Vec<_>>(), b);
            prop_assert!(sr.profile_extension().is_empty());
        }
        (Spec::ReceiverReport(ssrc, b), RtcpPacket::ReceiverReport(rr)) => {
            prop_assert_eq!(rr.ssrc(), *ssrc);
            prop_assert_eq!(&rr.report_blocks().collect::<Vec<_>>(), b);
        }
        (Spec::SourceDescription(chunks), RtcpPacket::SourceDescription(sdes)) => {
            let parsed: Vec<Chunk> = sdes
                .chunks()
                .map(|c| {
                    (
                        c.ssrc(),
                        c.items().map(|i| (i.kind, i.value.to_vec())).collect(),
                    )
                })
                .collect();
            prop_assert_eq!(&parsed, chunks);
        }
        (Spec::Goodbye(sources, reason), RtcpPacket::Goodbye(bye)) => {
            prop_assert_eq!(&bye.sources().collect::<Vec<_>>(), sources);
            prop_assert_eq!(bye.reason(), reason.as_deref());
        }
        (Spec::App(subtype, ssrc, name, data), RtcpPacket::App(app)) => {
            prop_assert_eq!(app.subtype(), *subtype);
            prop_assert_eq!(app.ssrc(), *ssrc);
            prop_assert_eq!(app.name(), *name);
            prop_assert_eq!(app.data(), &data[..]);
        }
        (Spec::Nack(sender, media, pairs), RtcpPacket::Nack(nack)) => {
            prop_assert_eq!(nack.sender_ssrc(), *sender);
            prop_assert_eq!(nack.media_ssrc(), *media);
            prop_assert_eq!(&nack.pairs().collect::<Vec<_>>(), pairs);
        }
        (Spec::Pli(sender, media), RtcpPacket::Pli(pli)) => {
            prop_assert_eq!((pli.sender_ssrc, pli.media_ssrc), (*sender, *media));
        }
        (Spec::Fir(sender, entries), RtcpPacket::Fir(fir)) => {
            prop_assert_eq!(fir.sender_ssrc(), *sender);
            prop_assert_eq!(fir.media_ssrc(), 0);
            prop_assert_eq!(&fir.entries().collect::<Vec<_>>(), entries);
        }
        (Spec::Feedback(kind, fmt, sender, media, fci), RtcpPacket::Feedback(fb)) => {
            prop_assert_eq!(fb.kind(), *kind);
            prop_assert_eq!(fb.fmt(), *fmt);
            prop_assert_eq!((fb.sender_ssrc(), fb.media_ssrc()), (*sender, *media));
            prop_assert_eq!(fb.fci(), &fci[..]);
        }
        (spec, packet) => prop_assert!(false, "wrote {:?}, parsed {:?}", spec, packet),
    }
    Ok(())
}

/// Writes an RR (so the compound is valid whatever follows), then `spec`, then parses and compares.
fn round_trip(spec: &Spec) -> Result<(), TestCaseError> {
    let mut buf = vec![0u8; 8192];
    let mut w = RtcpWriter::new(&mut buf);
    w.receiver_report(1, &[]).unwrap();
    write(&mut w, spec);
    let compound =
        RtcpCompound::parse(w.written()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut packets = compound.packets();
    prop_assert!(matches!(
        packets.next(),
        Some(RtcpPacket::ReceiverReport(_))
    ));
    check(spec, packets.next().unwrap())?;
    prop_assert!(packets.next().is_none());
    Ok(())
}

proptest! {
    #[test]
    fn sender_reports_round_trip(spec in sender_report()) { round_trip(&spec)?; }

    #[test]
    fn receiver_reports_round_trip(spec in receiver_report()) { round_trip(&spec)?; }

    #[test]
    fn source_descriptions_round_trip(spec in source_description()) { round_trip(&spec)?; }

    #[test]
    fn goodbyes_round_trip(spec in goodbye()) { round_trip(&spec)?; }

    #[test]
    fn app_packets_round_trip(spec in app()) { round_trip(&spec)?; }

    #[test]
    fn generic_nacks_round_trip(spec in nack()) { round_trip(&spec)?; }

    #[test]
    fn plis_round_trip(spec in pli()) { round_trip(&spec)?; }

    #[test]
    fn firs_round_trip(spec in fir()) { round_trip(&spec)?; }

    #[test]
    fn other_feedback_round_trips(spec in other_feedback()) { round_trip(&spec)?; }

    #[test]
    fn compounds_of_mixed_packets_round_trip(
        first in prop_oneof![sender_report(), receiver_report()],
        rest in prop::collection::vec(any_spec(), 0..6),
        padding in prop::option::of(1u8..=63),
    ) {
        let mut buf = vec![0u8; 65536];
        let mut w = RtcpWriter::new(&mut buf);
        write(&mut w, &first);
        for spec in &rest {
            write(&mut w, spec);
        }
        if let Some(words) = padding {
            w.pad_last_packet(words * 4).unwrap();
        }
        let compound = RtcpCompound::parse(w.written()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(compound.packet_count(), 1 + rest.len());
        prop_assert!(!compound.is_reduced_size());
        for (spec, packet) in std::iter::once(&first).chain(&rest).zip(compound.packets()) {
            check(spec, packet)?;
        }
    }

    #[test]
    fn reduced_size_feedback_round_trips_alone(spec in prop_oneof![nack(), pli(), fir(), other_feedback()]) {
        let mut buf = vec![0u8; 4096];
        let mut w = RtcpWriter::new(&mut buf);
        write(&mut w, &spec);
        let compound = RtcpCompound::parse(w.written()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(compound.is_reduced_size());
        check(&spec, compound.packets().next().unwrap())?;
    }

    #[test]
    fn lost_sequences_survive_packing_and_the_wire(
        start in any::<u16>(),
        gaps in prop::collection::vec(1u16..40, 1..60),
    ) {
        // Ascending (in serial order) lost sequence numbers, wrapping past 65535 when `start` is high.
        let lost: Vec<u16> = gaps
            .iter()
            .scan(start, |seq, gap| {
                *seq = seq.wrapping_add(*gap);
                Some(*seq)
            })
            .collect();
        let mut buf = vec![0u8; 4096];
        let mut w = RtcpWriter::new(&mut buf);
        w.nack(1, 2, NackPair::pack(lost.iter().copied())).unwrap();
        let compound = RtcpCompound::parse(w.written()).unwrap();
        let Some(RtcpPacket::Nack(nack)) = compound.packets().next() else {
            return Err(TestCaseError::fail("expected a NACK"));
        };
        prop_assert_eq!(nack.lost_sequences().collect::<Vec<_>>(), lost);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_valid_compounds_never_panic(
        first in prop_oneof![sender_report(), receiver_report()],
        rest in prop::collection::vec(any_spec(), 0..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = vec![0u8; 65536];
        let mut w = RtcpWriter::new(&mut buf);
        write(&mut w, &first);
        for spec in &rest {
            write(&mut w, spec);
        }
        let mut bytes = w.written().to_vec();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value;
        }
        exercise(&bytes);
        exercise(&bytes[..cut.index(bytes.len() + 1)]);
    }
}

/// Parses and walks everything a compound exposes.
fn exercise(bytes: &[u8]) {
    let Ok(compound) = RtcpCompound::parse(bytes) else {
        return;
    };
    let mut count = 0;
    for packet in compound.packets() {
        count += 1;
        match packet {
            RtcpPacket::SenderReport(sr) => {
                let _ = sr.report_blocks().count();
            }
            RtcpPacket::ReceiverReport(rr) => {
                let _ = rr.report_blocks().count();
            }
            RtcpPacket::SourceDescription(sdes) => {
                for chunk in sdes.chunks() {
                    let _ = chunk.items().count();
                    let _ = chunk.cname();
                }
            }
            RtcpPacket::Goodbye(bye) => {
                let _ = (bye.sources().count(), bye.reason());
            }
            RtcpPacket::Nack(nack) => {
                let _ = nack.lost_sequences().count();
            }
            RtcpPacket::Fir(fir) => {
                let _ = fir.entries().count();
            }
            _ => {}
        }
    }
    assert_eq!(count, compound.packet_count());
}
