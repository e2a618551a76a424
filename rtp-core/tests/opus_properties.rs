//! The Opus decoder on arbitrary bytes: an error or audio, never a panic (RTP payloads are untrusted).
#![cfg(feature = "opus")]

use proptest::prelude::*;
use tandem_rtp_core::opus::{OpusChannels, OpusDecoder, SAMPLES_PER_20MS};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn decoding_arbitrary_packets_never_panics(
        packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..8),
        stereo in any::<bool>(),
        lose_every in 2usize..5,
    ) {
        let channels = if stereo { OpusChannels::Stereo } else { OpusChannels::Mono };
        let mut decoder = OpusDecoder::new(channels).unwrap();
        let mut pcm = vec![0i16; 6 * SAMPLES_PER_20MS * channels.count()];
        for (index, packet) in packets.iter().enumerate() {
            if let Ok(samples) = decoder.decode(packet, &mut pcm) {
                prop_assert!(samples <= pcm.len() / channels.count());
            }
            if index % lose_every == 0 {
                let _ = decoder.recover(packet, &mut pcm[..SAMPLES_PER_20MS * channels.count()]);
                let _ = decoder.conceal(&mut pcm[..SAMPLES_PER_20MS * channels.count()]);
            }
        }
    }
}
