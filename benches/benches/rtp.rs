//! RTP and RTCP hot-path costs: parsing headers and compounds, writing packets, per-packet statistics.
//! Heap allocations per operation are printed after each group.

use std::hint::black_box;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use tandem_benches::print_allocations;
use tandem_rtp_core::rtcp::{
    NackPair, NtpTime, ReportBlock, RtcpCompound, RtcpPacket, RtcpWriter, SenderInfo,
};
use tandem_rtp_core::rtp::{
    ExtensionElement, ExtensionForm, ReceptionStats, RtpHeaderBuilder, RtpPacket, header_len,
};

#[global_allocator]
static ALLOCATOR: tandem_benches::CountingAllocator = tandem_benches::CountingAllocator;

/// A 20 ms PCMU packet: plain 12-byte header, 160 bytes of payload.
fn pcmu_packet() -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let len = RtpHeaderBuilder::new(0, 4242, 160 * 4242, 0x1234_5678)
        .write_packet(&mut buf, &[0xd5; 160])
        .unwrap();
    buf.truncate(len);
    buf
}

/// A WebRTC-style Opus packet: 2 CSRCs and one-byte extensions (audio level, abs-send-time, mid).
fn opus_packet_with_extensions() -> Vec<u8> {
    let elements = [
        ExtensionElement::new(1, &[0x85]),
        ExtensionElement::new(2, &[0x12, 0x34, 0x56]),
        ExtensionElement::new(4, b"0"),
    ];
    let mut buf = vec![0u8; 256];
    let len = RtpHeaderBuilder::new(111, 9000, 960 * 9000, 0xabcd_ef01)
        .marker(true)
        .csrcs(&[1, 2])
        .extension(ExtensionForm::OneByte, &elements)
        .write_packet(&mut buf, &[0x78; 80])
        .unwrap();
    buf.truncate(len);
    buf
}

/// A typical compound: SR with one report block, SDES CNAME.
fn sender_report_compound() -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut w = RtcpWriter::new(&mut buf);
    let info = SenderInfo {
        ntp_time: NtpTime(0xeeb2_edca_3d70_a3d7),
        rtp_timestamp: 123_456,
        packet_count: 1000,
        octet_count: 160_000,
    };
    let block = ReportBlock {
        ssrc: 0x55,
        fraction_lost: 3,
        cumulative_lost: 12,
        extended_highest_seq: 70_000,
        jitter: 40,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 65_536,
    };
    w.sender_report(0x1234_5678, &info, &[block]).unwrap();
    w.cname(0x1234_5678, b"tandem@192.0.2.1").unwrap();
    let len = w.len();
    buf.truncate(len);
    buf
}

/// Times `step` as `name` in `group` and prints its allocations per call.
fn bench<O>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut step: impl FnMut() -> O) {
    group.bench_function(name, |b| b.iter(&mut step));
    print_allocations(name, || {
        black_box(step());
    });
}

fn rtp(c: &mut Criterion) {
    let mut group = c.benchmark_group("rtp");
    group.throughput(Throughput::Elements(1));
    let pcmu = pcmu_packet();
    let opus = opus_packet_with_extensions();
    bench(&mut group, "parse_pcmu", || {
        RtpPacket::parse(black_box(&pcmu)).unwrap().payload().len()
    });
    bench(&mut group, "parse_with_extensions", || {
        let p = RtpPacket::parse(black_box(&opus)).unwrap();
        p.extension().and_then(|e| e.get(1)).map(|d| d[0])
    });
    bench(&mut group, "header_len", || {
        header_len(black_box(&opus)).unwrap()
    });
    let mut out = [0u8; 256];
    bench(&mut group, "write_pcmu", || {
        RtpHeaderBuilder::new(0, black_box(4242), 160 * 4242, 0x1234_5678)
            .write_packet(&mut out, black_box(&[0xd5; 160]))
            .unwrap()
    });
    let mut stats = ReceptionStats::with_probation(1, 0);
    let mut seq = 0u16;
    bench(&mut group, "reception_stats_per_packet", || {
        seq = seq.wrapping_add(1);
        let ts = u32::from(seq) * 160;
        stats.on_packet(black_box(seq), ts, ts + 7)
    });
    group.finish();
}

fn rtcp(c: &mut Criterion) {
    let mut group = c.benchmark_group("rtcp");
    group.throughput(Throughput::Elements(1));
    let compound = sender_report_compound();
    bench(&mut group, "parse_sr_sdes_compound", || {
        let parsed = RtcpCompound::parse(black_box(&compound)).unwrap();
        parsed
            .packets()
            .map(|p| match p {
                RtcpPacket::SenderReport(sr) => sr.report_blocks().count(),
                RtcpPacket::SourceDescription(s) => s.chunks().filter_map(|c| c.cname()).count(),
                _ => 0,
            })
            .sum::<usize>()
    });
    let mut out = [0u8; 512];
    bench(&mut group, "write_nack", || {
        let mut w = RtcpWriter::new(&mut out);
        w.nack(1, 2, NackPair::pack(black_box([100u16, 101, 103, 140])))
            .unwrap();
        w.len()
    });
    let mut sources: Vec<ReceptionStats> = (0..4)
        .map(|ssrc| {
            let mut s = ReceptionStats::with_probation(ssrc, 0);
            s.on_packet(1, 0, 0);
            s
        })
        .collect();
    let now = Instant::now();
    bench(&mut group, "write_reports_from_stats", || {
        let mut w = RtcpWriter::new(&mut out);
        w.reports(9, Some(&SenderInfo::default()), &mut sources, now)
            .unwrap();
        w.cname(9, b"tandem@192.0.2.1").unwrap();
        w.len()
    });
    group.finish();
}

criterion_group!(benches, rtp, rtcp);
criterion_main!(benches);
