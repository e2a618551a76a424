//! The per-packet and per-frame paths allocate nothing: parsing RTP and RTCP and walking every element,
//! writing packets into caller buffers, SRTP/SRTCP protect and unprotect once a stream is known, the RFC 4733
//! receiver and generator, G.711, DTMF detection, tone generation and the jitter buffer in steady state.

use std::time::{Duration, Instant};

use bytes::Bytes;

use tandem_rtp_core::rtcp::{NackPair, RtcpCompound, RtcpPacket, RtcpWriter, SenderInfo};
use tandem_rtp_core::rtp::{ExtensionElement, ExtensionForm, RtpHeaderBuilder, RtpPacket};
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};
use tandem_rtp_core::{
    DtmfDetector, DtmfDigit, EventGenerator, EventReceiver, G711, JitterBuffer, JitterBufferConfig,
    MediaFrame, Playout, Tone,
};
use tandem_test_alloc::{CountingAllocator, allocations_during, counts_allocations};

/// Counts allocations made by the current thread (other test-harness threads do not disturb the count).
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn parsing_and_writing_packets_does_not_allocate() {
    let mut rtp = [0u8; 256];
    let mut rtcp = [0u8; 512];
    let csrcs = [1, 2, 3];
    let elements = [
        ExtensionElement::new(1, &[0x85]),
        ExtensionElement::new(3, &[1, 2, 3]),
    ];

    // The counter sees allocations made on this thread.
    assert!(counts_allocations());

    let mut rtcp_len = 0;
    let writes = allocations_during(|| {
        RtpHeaderBuilder::new(111, 1, 2, 3)
            .csrcs(&csrcs)
            .extension(ExtensionForm::OneByte, &elements)
            .write_packet(&mut rtp, &[0xaa; 160])
            .unwrap();
        let mut w = RtcpWriter::new(&mut rtcp);
        w.sender_report(3, &SenderInfo::default(), &[]).unwrap();
        w.cname(3, b"host@example.org").unwrap();
        w.nack(3, 4, NackPair::pack([10u16, 12, 40])).unwrap();
        w.pli(3, 4).unwrap();
        w.goodbye(&[3], Some(b"done")).unwrap();
        rtcp_len = w.len();
    });
    assert_eq!(writes, 0);

    let mut sum = 0usize;
    let parses = allocations_during(|| {
        let packet = RtpPacket::parse(&rtp).unwrap();
        sum += packet.csrcs().map(|c| c as usize).sum::<usize>();
        for e in packet.extension().unwrap().elements() {
            sum += e.unwrap().data.len();
        }
        let compound = RtcpCompound::parse(&rtcp[..rtcp_len]).unwrap();
        for p in compound.packets() {
            match p {
                RtcpPacket::SourceDescription(sdes) => {
                    for chunk in sdes.chunks() {
                        sum += chunk.items().map(|i| i.value.len()).sum::<usize>();
                    }
                }
                RtcpPacket::Nack(nack) => sum += nack.lost_sequences().count(),
                RtcpPacket::Goodbye(bye) => sum += bye.reason().map_or(0, <[u8]>::len),
                _ => sum += 1,
            }
        }
    });
    assert_eq!(parses, 0);
    assert!(sum > 0);
}

/// Writes a 172-byte RTP packet (12-byte header, 160 bytes of G.711) with sequence number `seq`.
fn write_rtp(buf: &mut [u8], seq: u16) -> usize {
    RtpHeaderBuilder::new(0, seq, u32::from(seq) * 160, 0x5eed)
        .write_packet(buf, &[0xd5; 160])
        .unwrap()
}

#[test]
fn srtp_and_srtcp_do_not_allocate_once_the_stream_is_known() {
    for profile in SrtpProfile::ALL {
        let policy = SrtpPolicy::new(profile);
        let key = vec![3; profile.master_key_len()];
        let salt = vec![4; profile.master_salt_len()];
        let mut sender = SrtpContext::new(&policy, &key, &salt).unwrap();
        let mut receiver = SrtpContext::new(&policy, &key, &salt).unwrap();
        let mut relayed = SrtpContext::new(&policy, &salt.repeat(3)[..key.len()], &salt).unwrap();
        let mut buf = [0u8; 256];
        let mut report = [0u8; 128];
        let mut exchange = |seq: u16| {
            let len = write_rtp(&mut buf, seq);
            let len = sender.protect_rtp(&mut buf, len).unwrap();
            let plain = receiver.unprotect_rtp(&mut buf[..len]).unwrap();
            relayed.protect_rtp(&mut buf, plain).unwrap();
            let mut w = RtcpWriter::new(&mut report);
            w.sender_report(0x5eed, &SenderInfo::default(), &[])
                .unwrap();
            let len = w.len();
            let len = sender.protect_rtcp(&mut report, len).unwrap();
            receiver.unprotect_rtcp(&mut report[..len]).unwrap();
        };
        // The first packet of an SSRC gives it a stream slot with its replay windows.
        exchange(65_000);
        let allocations =
            allocations_during(|| (65_001..=65_535).chain(0..100).for_each(&mut exchange));
        assert_eq!(allocations, 0, "{profile:?}");
    }
}

#[test]
fn telephone_events_are_generated_and_received_without_allocating() {
    let mut receiver = EventReceiver::new();
    let mut digits = 0;
    let mut send_digit = |start: u32, first_seq: u16| {
        for (i, packet) in EventGenerator::dtmf(DtmfDigit::Five, 800, 160, 10).enumerate() {
            let seq = first_seq.wrapping_add(i as u16);
            let timestamp = start.wrapping_add(packet.timestamp_offset);
            receiver
                .handle_packet(timestamp, packet.marker, seq, &packet.payload)
                .unwrap();
        }
        while receiver.poll_event().is_some() {
            digits += 1;
        }
    };
    send_digit(1_000, 1);
    let allocations = allocations_during(|| send_digit(9_000, 100));
    assert_eq!(allocations, 0);
    assert_eq!(digits, 4, "a start and an end per digit");
}

#[test]
fn audio_frames_are_coded_analysed_and_generated_without_allocating() {
    let mut detector = DtmfDetector::new();
    let mut tone = Tone::dtmf(DtmfDigit::Nine, Duration::from_millis(200), -10.0);
    let mut pcm = [0i16; 160];
    let mut codes = [0u8; 160];
    let mut detected = Vec::with_capacity(8);
    let mut run_frame = |tone: &mut Tone| {
        pcm.fill(0); // silence once the tone has finished
        tone.fill(&mut pcm);
        G711::Pcmu.encode(&pcm, &mut codes);
        G711::Pcmu.decode(&codes, &mut pcm);
        detector.handle_samples(&pcm);
        while let Some(event) = detector.poll_event() {
            detected.push(event);
        }
    };
    run_frame(&mut tone);
    let allocations = allocations_during(|| {
        for _ in 0..20 {
            run_frame(&mut tone);
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(
        detected.len(),
        2,
        "start and end of the digit: {detected:?}"
    );
}

#[test]
fn jitter_buffer_pushes_and_pops_without_allocating() {
    let mut buffer = JitterBuffer::new(JitterBufferConfig::new(8000));
    let start = Instant::now();
    let payload = Bytes::from_static(&[0xd5; 160]);
    let mut played = 0;
    let mut tick = |n: u16| {
        let now = start + Duration::from_millis(20 * u64::from(n));
        let frame = MediaFrame {
            sequence: n,
            timestamp: u32::from(n) * 160,
            marker: n == 0,
            payload: payload.clone(),
        };
        buffer.push(now, frame);
        if let Playout::Frame(_) = buffer.pop(now) {
            played += 1;
        }
    };
    (0..10).for_each(&mut tick);
    let allocations = allocations_during(|| (10..500).for_each(&mut tick));
    assert_eq!(allocations, 0);
    assert!(played > 400, "{played} frames played");
}
