//! Property tests: RTP headers written by the builder parse back to the same fields, and no input makes the
//! parser panic.

use proptest::prelude::*;
use tandem_rtp_core::rtp::{
    ExtensionElement, ExtensionForm, RtpHeaderBuilder, RtpPacket, header_len,
};

#[derive(Debug, Clone)]
enum ExtensionSpec {
    None,
    Elements(ExtensionForm, Vec<(u8, Vec<u8>)>),
    Raw(u16, Vec<u8>),
}

#[derive(Debug, Clone)]
struct HeaderSpec {
    marker: bool,
    payload_type: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    extension: ExtensionSpec,
    padding: u8,
    payload: Vec<u8>,
}

fn extension_spec() -> impl Strategy<Value = ExtensionSpec> {
    let one_byte =
        prop::collection::vec((1u8..=14, prop::collection::vec(any::<u8>(), 1..=16)), 0..6)
            .prop_map(|e| ExtensionSpec::Elements(ExtensionForm::OneByte, e));
    let two_byte = prop::collection::vec(
        (1u8..=255, prop::collection::vec(any::<u8>(), 0..=40)),
        0..6,
    )
    .prop_map(|e| ExtensionSpec::Elements(ExtensionForm::TwoByte, e));
    let raw = (any::<u16>(), prop::collection::vec(any::<[u8; 4]>(), 0..8))
        .prop_map(|(p, words)| ExtensionSpec::Raw(p, words.concat()));
    prop_oneof![Just(ExtensionSpec::None), one_byte, two_byte, raw]
}

fn header_spec() -> impl Strategy<Value = HeaderSpec> {
    (
        any::<bool>(),
        0u8..=127,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(any::<u32>(), 0..=15),
        extension_spec(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(
            |(marker, payload_type, seq, timestamp, ssrc, csrcs, extension, padding, payload)| {
                HeaderSpec {
                    marker,
                    payload_type,
                    seq,
                    timestamp,
                    ssrc,
                    csrcs,
                    extension,
                    padding,
                    payload,
                }
            },
        )
}

proptest! {
    #[test]
    fn built_packets_parse_back_to_the_same_fields(spec in header_spec()) {
        let elements: Vec<ExtensionElement<'_>> = match &spec.extension {
            ExtensionSpec::Elements(_, e) => e.iter().map(|(id, d)| ExtensionElement::new(*id, d)).collect(),
            _ => Vec::new(),
        };
        let mut builder = RtpHeaderBuilder::new(spec.payload_type, spec.seq, spec.timestamp, spec.ssrc)
            .marker(spec.marker)
            .csrcs(&spec.csrcs)
            .padding(spec.padding);
        builder = match &spec.extension {
            ExtensionSpec::None => builder,
            ExtensionSpec::Elements(form, _) => builder.extension(*form, &elements),
            ExtensionSpec::Raw(profile, data) => builder.raw_extension(*profile, data),
        };
        let mut buf = vec![0u8; 2048];
        let len = builder.write_packet(&mut buf, &spec.payload).unwrap();
        let packet = RtpPacket::parse(&buf[..len]).unwrap();

        prop_assert_eq!(packet.len(), len);
        prop_assert_eq!(header_len(&buf[..len]).unwrap(), packet.header_len());
        prop_assert_eq!(builder.header_len().unwrap(), packet.header_len());
        prop_assert_eq!(packet.marker(), spec.marker);
        prop_assert_eq!(packet.payload_type(), spec.payload_type);
        prop_assert_eq!(packet.sequence_number(), spec.seq);
        prop_assert_eq!(packet.timestamp(), spec.timestamp);
        prop_assert_eq!(packet.ssrc(), spec.ssrc);
        prop_assert_eq!(packet.csrcs().collect::<Vec<_>>(), spec.csrcs.clone());
        prop_assert_eq!(packet.padding_len(), usize::from(spec.padding));
        prop_assert_eq!(packet.payload(), &spec.payload[..]);
        prop_assert_eq!(&buf[packet.payload_range()], &spec.payload[..]);
        match &spec.extension {
            ExtensionSpec::None => prop_assert!(packet.extension().is_none()),
            ExtensionSpec::Elements(form, _) => {
                let ext = packet.extension().unwrap();
                prop_assert_eq!(ext.form(), Some(*form));
                let parsed: Vec<_> = ext.elements().collect::<Result<_, _>>().unwrap();
                prop_assert_eq!(parsed, elements.clone());
            }
            ExtensionSpec::Raw(profile, data) => {
                let ext = packet.extension().unwrap();
                prop_assert_eq!(ext.profile(), *profile);
                prop_assert_eq!(ext.data(), &data[..]);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        spec in header_spec(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let elements: Vec<ExtensionElement<'_>> = match &spec.extension {
            ExtensionSpec::Elements(_, e) => e.iter().map(|(id, d)| ExtensionElement::new(*id, d)).collect(),
            _ => Vec::new(),
        };
        let form = match spec.extension {
            ExtensionSpec::Elements(form, _) => form,
            _ => ExtensionForm::OneByte,
        };
        let mut buf = vec![0u8; 2048];
        let len = RtpHeaderBuilder::new(spec.payload_type, spec.seq, spec.timestamp, spec.ssrc)
            .csrcs(&spec.csrcs)
            .extension(form, &elements)
            .padding(spec.padding)
            .write_packet(&mut buf, &spec.payload)
            .unwrap();
        buf.truncate(len);
        for (at, value) in flips {
            let i = at.index(buf.len());
            buf[i] ^= value;
        }
        let cut = cut.index(buf.len() + 1);
        exercise(&buf[..cut]);
        exercise(&buf);
    }
}

/// Touches everything a parsed packet exposes.
fn exercise(bytes: &[u8]) {
    let _ = header_len(bytes);
    let Ok(packet) = RtpPacket::parse(bytes) else {
        return;
    };
    assert!(packet.len() <= bytes.len());
    let _ = packet.csrcs().count();
    let _ = packet.payload().len();
    if let Some(ext) = packet.extension() {
        for element in ext.elements() {
            let _ = element.map(|e| e.data.len());
        }
        let _ = ext.get(1);
    }
}
