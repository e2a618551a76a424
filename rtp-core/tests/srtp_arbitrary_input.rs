//! Property tests: arbitrary or mangled input never panics and never authenticates; any
//! well-formed RTP/RTCP packet survives protect → unprotect unchanged.

use proptest::prelude::*;
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};

fn profile() -> impl Strategy<Value = SrtpProfile> {
    prop::sample::select(SrtpProfile::ALL.to_vec())
}

fn context(profile: SrtpProfile) -> SrtpContext {
    let key = vec![0x42; profile.master_key_len()];
    let salt = vec![0x24; profile.master_salt_len()];
    SrtpContext::new(&SrtpPolicy::new(profile), &key, &salt).unwrap()
}

/// A well-formed RTP packet: any CSRC count, optional extension, any payload.
fn rtp_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<[u8; 12]>(),
        0usize..=15,
        prop::option::of(prop::collection::vec(any::<u8>(), 0..=8).prop_map(|words| words.len())),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(mut fixed, csrcs, extension_words, payload)| {
            fixed[0] = 0x80
                | (fixed[0] & 0x20)
                | csrcs as u8
                | if extension_words.is_some() { 0x10 } else { 0 };
            let mut packet = fixed.to_vec();
            packet.extend((0..csrcs * 4).map(|i| i as u8));
            if let Some(words) = extension_words {
                packet.extend_from_slice(&[0xbe, 0xde, 0, words as u8]);
                packet.extend(std::iter::repeat_n(0x5a, words * 4));
            }
            packet.extend(payload);
            packet
        })
}

proptest! {
    #[test]
    fn unprotecting_arbitrary_bytes_never_panics_nor_authenticates(
        profile in profile(),
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut ctx = context(profile);
        let mut rtp = bytes.clone();
        prop_assert!(ctx.unprotect_rtp(&mut rtp).is_err());
        let mut rtcp = bytes;
        prop_assert!(ctx.unprotect_rtcp(&mut rtcp).is_err());
    }

    #[test]
    fn mangled_srtp_packets_are_refused_without_panicking(
        profile in profile(),
        packet in rtp_packet(),
        flip_at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let mut sender = context(profile);
        let mut buf = packet.clone();
        buf.resize(packet.len() + profile.rtp_overhead(), 0);
        let len = sender.protect_rtp(&mut buf, packet.len()).unwrap();
        let mut flipped = buf[..len].to_vec();
        flipped[flip_at.index(len)] ^= flip;
        prop_assert!(context(profile).unprotect_rtp(&mut flipped).is_err());
        let mut truncated = buf[..cut.index(len)].to_vec();
        prop_assert!(context(profile).unprotect_rtp(&mut truncated).is_err());
    }

    #[test]
    fn any_rtp_packet_round_trips(profile in profile(), packet in rtp_packet()) {
        let (mut sender, mut receiver) = (context(profile), context(profile));
        let mut buf = packet.clone();
        buf.resize(packet.len() + profile.rtp_overhead(), 0);
        let len = sender.protect_rtp(&mut buf, packet.len()).unwrap();
        prop_assert_eq!(len, packet.len() + profile.rtp_overhead());
        let plain_len = receiver.unprotect_rtp(&mut buf[..len]).unwrap();
        prop_assert_eq!(&buf[..plain_len], &packet[..]);
    }

    #[test]
    fn any_rtcp_packet_round_trips_encrypted_or_not(
        profile in profile(),
        encrypt in any::<bool>(),
        header in any::<[u8; 8]>(),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let policy = SrtpPolicy::new(profile).with_rtcp_encryption(encrypt);
        let key = vec![7; profile.master_key_len()];
        let salt = vec![9; profile.master_salt_len()];
        let mut sender = SrtpContext::new(&policy, &key, &salt).unwrap();
        let mut receiver = SrtpContext::new(&policy, &key, &salt).unwrap();
        let mut packet = header.to_vec();
        packet[0] = 0x80 | (packet[0] & 0x3f);
        packet.extend(body);
        let mut buf = packet.clone();
        buf.resize(packet.len() + profile.rtcp_overhead(), 0);
        let len = sender.protect_rtcp(&mut buf, packet.len()).unwrap();
        let plain_len = receiver.unprotect_rtcp(&mut buf[..len]).unwrap();
        prop_assert_eq!(&buf[..plain_len], &packet[..]);
    }
}
