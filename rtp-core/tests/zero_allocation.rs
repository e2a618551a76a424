//! Parsing RTP and RTCP, walking every element, and writing packets into caller buffers allocate nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tandem_rtp_core::rtcp::{NackPair, RtcpCompound, RtcpPacket, RtcpWriter, SenderInfo};
use tandem_rtp_core::rtp::{ExtensionElement, ExtensionForm, RtpHeaderBuilder, RtpPacket};

/// Counts allocations made by the current thread (other test-harness threads do not disturb the count).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

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
    assert!(allocations_during(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(8)))) > 0);

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
