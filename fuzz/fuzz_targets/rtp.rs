//! RTP parsing: no input panics; the header-only view agrees with the full parse; a packet that parses is
//! rebuilt from its fields and parses back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_rtp_core::rtp::{ExtensionElement, RtpHeaderBuilder, RtpPacket, header_len};

fuzz_target!(|data: &[u8]| {
    let len = header_len(data);
    // The header-only view (SRTP's) agrees with `header_len` and takes the whole rest as payload.
    let header = RtpPacket::parse_header(data);
    assert_eq!(len, header.map(|h| h.header_len()));
    if let Ok(header) = header {
        assert_eq!(header.len(), data.len());
    }
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    assert_eq!(len, Ok(packet.header_len()));
    assert_eq!(packet.len(), data.len());
    let header = header.expect("a packet that parses has a header that parses");
    assert_eq!(
        (header.sequence_number(), header.ssrc(), header.extension()),
        (packet.sequence_number(), packet.ssrc(), packet.extension())
    );

    let csrcs: Vec<u32> = packet.csrcs().collect();
    let mut builder = RtpHeaderBuilder::new(
        packet.payload_type(),
        packet.sequence_number(),
        packet.timestamp(),
        packet.ssrc(),
    )
    .marker(packet.marker())
    .csrcs(&csrcs)
    .padding(packet.padding_len() as u8);
    if let Some(ext) = packet.extension() {
        let _ = ext.get(1);
        // The raw form always round-trips, whatever the profile.
        builder = builder.raw_extension(ext.profile(), ext.data());
        check_elements_round_trip(&packet);
    }

    let mut out = vec![0u8; data.len()];
    let written = builder
        .write_packet(&mut out, packet.payload())
        .expect("rebuild fits");
    let again = RtpPacket::parse(&out[..written]).expect("rebuilt packet parses");
    assert_eq!(again.sequence_number(), packet.sequence_number());
    assert_eq!(again.timestamp(), packet.timestamp());
    assert_eq!(again.ssrc(), packet.ssrc());
    assert_eq!(again.payload(), packet.payload());
    assert!(again.csrcs().eq(packet.csrcs()));
    assert_eq!(
        again.extension().map(|e| e.data()),
        packet.extension().map(|e| e.data())
    );
    // Padding octets other than the count are not kept, so only the header and payload compare equal.
    assert_eq!(&out[..again.header_len()], &data[..packet.header_len()]);
});

/// Well-formed RFC 8285 elements, rewritten by the builder, parse back to the same elements.
fn check_elements_round_trip(packet: &RtpPacket<'_>) {
    let Some(ext) = packet.extension() else {
        return;
    };
    let Some(form) = ext.form() else {
        return;
    };
    let Ok(elements) = ext
        .elements()
        .collect::<Result<Vec<ExtensionElement<'_>>, _>>()
    else {
        return;
    };
    let mut out = vec![0u8; packet.header_len() + 16];
    let len = RtpHeaderBuilder::new(0, 0, 0, 0)
        .extension(form, &elements)
        .write_header(&mut out)
        .expect("parsed elements fit their form and the original length");
    let again = RtpPacket::parse(&out[..len]).expect("rebuilt header parses");
    let reparsed: Vec<ExtensionElement<'_>> = again
        .extension()
        .expect("extension kept")
        .elements()
        .collect::<Result<_, _>>()
        .expect("rebuilt elements parse");
    assert_eq!(reparsed, elements);
}
